"""Device and precision choice: the one place every command resolves ``--device``/``--precision``."""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re

import numpy as np
import torch

from vidstyle.config import DEVICE_NAME, PRECISIONS
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError

log = logging.getLogger("vidstyle")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a usable :class:`torch.device`.

    ``auto`` prefers CUDA, then Apple MPS, then the CPU. Asking for a device that is not
    present is a user error, not a silent fallback.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)  # checked like its name: a torch.device can name a missing GPU too
    if spec is not None and not isinstance(spec, str):
        raise BadTypeError(f"device must be a name such as 'cpu' or 'cuda:0' or a torch.device, got {spec!r}")
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    # the names StylizeConfig takes, no others (torch's own "meta" or "xla" are nowhere to stylize)
    if not re.fullmatch(DEVICE_NAME, spec):
        raise BadValueError(f"unknown device {spec!r} (use auto, cpu, cuda, cuda:N or mps)")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise VidstyleError(f"device {spec!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise VidstyleError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise VidstyleError("device 'mps' requested but Apple MPS is not available on this machine")
        if device.index:  # torch takes the name, though MPS is only ever one device (torch.mps.device_count)
            raise VidstyleError(f"device {spec!r} requested but Apple MPS is one device: use mps (or mps:0)")
    return device


#: torch's probes of the CPU's hardware bf16
_BF16_PROBES = {"amx": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}


#: cgroup v2's CPU quota of this process's group ("max 100000", or "200000 100000": 2 cores' time)
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def cgroup_cpu_limit(path: str = CGROUP_CPU_MAX) -> int | None:
    """The cores' worth of CPU time a container's quota allows (``docker --cpus 2``: 2, rounded
    up), or None without a quota (or without cgroup v2)."""
    try:
        with open(path) as f:
            quota, period = f.read().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no such file, "max" (no quota), or a malformed line
        return None


#: cgroup v2's memory limit of this process's group ("max", or bytes: ``docker --memory 4g``)
CGROUP_MEMORY_MAX = "/sys/fs/cgroup/memory.max"


def cgroup_memory_limit(path: str = CGROUP_MEMORY_MAX) -> int | None:
    """The bytes a container's memory limit allows (past them the kernel kills the process as
    it does on a machine out of memory), or None without a limit (or without cgroup v2)."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):  # no such file, "max" (no limit), or a malformed line
        return None


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def usable_memory(physical: int | None, limit: int | None) -> tuple[int | None, str]:
    """The bytes a process here may use at most, of the machine's ``physical`` memory and a
    container's ``limit`` (:func:`cgroup_memory_limit`; ``docker --memory 4g`` on a 64 GB host
    kills at 4 GB as surely), and how a message says it ("this machine has" / "this container
    may use")."""
    if limit and (not physical or limit < physical):
        return limit, "this container may use"
    return physical, "this machine has"


def usable_cores() -> int:
    """CPU cores this process may use: its affinity mask (as ``taskset`` or a container's cpuset
    sets it) where the system has one, else the machine's count, and no more than a container's
    CPU quota allows (``docker --cpus``, which leaves every core in the mask)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return min(cores, limit) if limit else cores


def cpu_bf16_features() -> dict[str, bool | None]:
    """Which hardware bf16 this CPU has: ``amx`` (tiles) and ``avx512_bf16``; None where this
    torch build cannot tell."""
    cpu = getattr(torch, "cpu", None)
    features = {}
    for name, probe in _BF16_PROBES.items():
        fn = getattr(cpu, probe, None)
        try:
            features[name] = None if fn is None else bool(fn())
        except RuntimeError:  # an older build without the probe's kernel support
            features[name] = None
    return features


def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware (AMX tiles or AVX512-BF16).

    There oneDNN's bf16 convolutions run about 4x faster than fp32 ones (the standard network at
    640x360: 93 ms of convolutions in bf16 against 387 ms in fp32 on a 2-core Xeon with AMX,
    benchmarks/RESULTS.md); elsewhere bf16 is emulated and gains less.
    """
    return any(cpu_bf16_features().values())


def cpu_has_onednn_bf16() -> bool:
    """True when oneDNN has bf16 convolutions for this CPU: native bf16, or AVX-512 to emulate it
    with. Without either (an AVX2-only CPU such as AMD Zen 3), PyTorch falls back to its reference
    convolutions in bf16: 6-11x slower than fp32 there (benchmarks/RESULTS.md, CPU D)."""
    probe = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return True if probe is None else bool(probe())  # a build that cannot tell: no warning
    except RuntimeError:
        return True


def cpu_has_vnni() -> bool:
    """True when this CPU has VNNI's int8 dot products (torch's probe; True where this torch
    build cannot tell, the behaviour before the probe was read): without them an int8 convolution's
    pairs of uint8 x int8 products are summed in int16 and can saturate."""
    probe = getattr(getattr(torch, "cpu", None), "_is_vnni_supported", None)
    try:
        return True if probe is None else bool(probe())
    except RuntimeError:
        return True


@functools.lru_cache(maxsize=1)
def _warn_slow_cpu_bf16() -> None:
    """Said once a process: every command resolves its precision here, some more than once."""
    log.warning("this CPU has no bf16 support that PyTorch's fast convolutions use (neither native "
                "bf16 nor AVX-512): bf16 runs several times slower than fp32 on it (6-11x on an AMD Zen 3); "
                "use --precision fp32 or auto")


def mps_autocasts_bf16() -> bool:
    """Whether torch's autocast runs bf16 on Apple MPS here: from torch 2.6 on, on macOS 14 or
    newer. Elsewhere it warns and runs the whole network in fp32, while every summary would say bf16."""
    on_macos = getattr(getattr(torch.backends, "mps", None), "is_macos_or_newer", None)  # torch 2.5 may lack it
    release = tuple(int(n) for n in re.findall(r"\d+", torch.__version__)[:2])
    return on_macos is not None and release >= (2, 6) and bool(on_macos(14, 0))


def resolve_precision(precision: str, device: torch.device, *, inference: bool = False,
                      warn: bool = True) -> torch.dtype | None:
    """Compute dtype for ``precision`` on ``device``; ``None`` means plain fp32.

    ``auto`` is fp16 on CUDA (tensor cores, the network is norm-heavy and tolerates it). On the
    CPU it is bf16 for ``inference`` when the CPU has native bf16 (:func:`cpu_has_native_bf16`;
    frames differ from fp32 by about 0.5/255 on average) and fp32 otherwise; training keeps fp32
    so that the commands recorded in the bundled weights reproduce. bf16 is allowed everywhere
    autocast supports it (on MPS where :func:`mps_autocasts_bf16`, refused elsewhere there); on a
    CPU where it is slow (:func:`cpu_has_onednn_bf16`) the first such call warns, unless ``warn``
    is False (a precision read back from a record, not run).
    """
    if precision is not None and not isinstance(precision, str):
        raise BadTypeError(f"precision must be a name such as 'auto', 'fp32' or 'bf16', got {precision!r}")
    precision = precision or "auto"  # as every other choice: exact ("FP32" passed here, where configs refused it)
    if precision not in PRECISIONS:
        also = ", or int8 on the CPU" if inference else ""  # int8 is the Stylizer's own (quantized) path
        raise BadValueError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)}{also})")
    if precision == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and inference and cpu_has_native_bf16():
            return torch.bfloat16
        return None
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type == "cpu":
            raise VidstyleError("fp16 is only supported on CUDA/MPS; use --precision bf16 or fp32 on the CPU")
        return torch.float16
    if device.type == "mps" and not mps_autocasts_bf16():
        raise VidstyleError(f"bf16 on Apple MPS needs macOS 14 or newer and torch 2.6 or newer (this is torch "
                            f"{torch.__version__}): it would run in fp32 here; use --precision fp16 or fp32")
    if warn and device.type == "cpu" and not cpu_has_onednn_bf16():
        _warn_slow_cpu_bf16()
    return torch.bfloat16


def precision_name(dtype: torch.dtype | None) -> str:
    """The ``--precision`` name of a :func:`resolve_precision` result (``None`` is fp32)."""
    return {None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


def auto_precision_name(device: torch.device) -> str:
    """What ``--precision auto`` runs inference in on ``device`` ("bf16", "fp32", ...)."""
    return precision_name(resolve_precision("auto", device, inference=True))


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for ``dtype`` on ``device``, or a no-op for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure: CUDA's ``OutOfMemoryError``, or the CPU
    allocator's ``RuntimeError`` ("DefaultCPUAllocator: can't allocate memory")."""
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "allocate" in str(exc))


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (needed before reading a wall clock)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@functools.lru_cache(maxsize=64)
def _constant(values: tuple, shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    with torch.inference_mode(False):  # a normal tensor, usable where autograd records (training)
        return torch.tensor(values, dtype=dtype, device=device).reshape(shape)


def device_constant(values, device: torch.device | str, dtype: torch.dtype = torch.float32,
                    shape: tuple | None = None) -> torch.Tensor:
    """``values`` (numbers, nested lists or a NumPy array; not a tensor) as a tensor on ``device``,
    made once per device, dtype and shape and reused (the caller must not change it in place).
    Making a small tensor from host values on a GPU copies from pageable memory and waits for the
    GPU to finish everything queued before; a conversion run on the GPU (the YUV one) that built
    its constants per call would make the host wait for the network each time. Its memory belongs
    to the stream current when it was made: use it on that stream (vidstyle's GPU work runs on
    one). The key is made with NumPy, not torch, so that a default device set with
    ``torch.set_default_device`` does not come into it."""
    array = np.asarray(values, dtype=np.float64)
    return _constant(tuple(array.ravel().tolist()), tuple(array.shape if shape is None else shape), dtype,
                     torch.device(device))
