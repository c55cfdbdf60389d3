"""Memory: the CPU allocator's settings, on their own: without torch, so the command line can set
them before anything is allocated at no import cost (``vidstyle --version`` does not load torch);
and what a run needs of memory at its peak (:func:`run_need`, measured per pixel) against what this
machine has (:func:`memory_now`), for the check made before a run's first frame
(:func:`vidstyle.pipeline.check_memory`)."""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the OS.

    Eager PyTorch on the CPU allocates and frees every intermediate tensor (megabytes each) on
    every call, and so does NumPy/OpenCV frame code. glibc serves such blocks with ``mmap`` and
    returns them with ``munmap`` (or trims the heap), so each new block costs page faults and
    zeroed pages again (the light network in eager bf16, batch 4, 640x360: 16-17 ms per frame with
    this, 18-30 without; benchmarks/RESULTS.md). Raising the mmap and trim thresholds keeps the
    memory in the heap; the price is that peak memory is not returned to the OS until the process
    ends.

    Process-wide, done once; a no-op (False) off glibc or with ``VIDSTYLE_KEEP_FREED_MEMORY=0``.
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        if os.environ.get("VIDSTYLE_KEEP_FREED_MEMORY", "1") != "0" and sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None)
                mallopt = libc.mallopt  # glibc only (musl has none)
                _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)
                                        and mallopt(_M_TRIM_THRESHOLD, 1 << 30))
            except (OSError, AttributeError):
                pass
    return _allocator_tuned


# --- what a run needs, against what this machine has -----------------------------------------

GIB = 2 ** 30
#: What a run needs of memory on the CPU at its peak (RSS): an idle process with torch, PyAV and
#: vidstyle loaded; bytes per pixel of the network, per frame of a batch at the size the network runs
#: at (its activations and the frames' tensors); of the rest of the pipeline (decoder, x264 and its
#: look-ahead, the frames each stage works on); and of the flow stabilizer. The frames waiting in the
#: pipeline's queues come on top (vidstyle.pipeline.queued_bytes). Measured on CPU C (2-core AMD EPYC
#: Zen 4 with AVX512-BF16, 2 flow workers), 7 December 2026, with benchmarks/stylize_memory.py at
#: 640x360 to 3840x2160 (benchmarks/results/stylize_memory_cpu_c/): each the largest per pixel seen
#: from 1280x720 up, so that the estimate errs high (a light style at 4K: 4.6 GB estimated, 4.2 GB
#: measured; 1080p: 1.9 and 1.9). bf16 is eager PyTorch's; fp32 ONNX Runtime's, what the CPU runs fp32
#: with (int8 and eager fp32 are counted as it). The standard network's activations are at full
#: resolution, the light ones' mostly at a quarter or less.
RUN_BASE_BYTES = 718 * 10 ** 6
NETWORK_BYTES_PER_PIXEL = {("light", "bf16"): 130, ("light", "fp32"): 149,
                           ("standard", "bf16"): 620, ("standard", "fp32"): 987}
PIPELINE_BYTES_PER_PIXEL = 189
STABILIZER_BYTES_PER_PIXEL = 124

#: /proc/meminfo's line for the memory the kernel can hand out now without swapping (free, plus
#: caches it can drop)
_MEMINFO = "/proc/meminfo"
_CGROUP_MEMORY_CURRENT = "/sys/fs/cgroup/memory.current"


def network_kind(arch: str) -> str:
    """The row of :data:`NETWORK_BYTES_PER_PIXEL` for a network of ``arch``
    (:func:`vidstyle.models.weights.arch_name`): the light family runs mostly at reduced
    resolution; the standard one, and any other (custom), is counted as the standard one."""
    return "light" if arch.startswith("light") and arch != "light-full" else "standard"


def run_need(frame_pixels: int, network_pixels: int, arch: str | None, precision: str, batch: int,
             stabilizer: bool, queued: int = 0, network_on_host: bool = True, pipeline: bool = True) -> int:
    """Bytes a run's process needs at its peak (RSS): ``frame_pixels`` each decoded frame's,
    ``network_pixels`` the frames' at the size the network runs at, ``arch`` its architecture (None:
    no network of vidstyle's, nothing counted for it), ``precision`` "bf16" or another,
    ``stabilizer``: the flow stabilizer on, ``queued``: the bytes of frames the pipeline's queues
    may hold. ``network_on_host`` False: the network runs on a GPU, its activations in the GPU's
    memory (the host holds its frames in the queues and stages as on the CPU). ``pipeline`` False:
    frames run through the network one by one, no decoder and encoder working beside it
    (``vidstyle preview``'s)."""
    need = RUN_BASE_BYTES + (PIPELINE_BYTES_PER_PIXEL * frame_pixels if pipeline else 0) + queued
    if stabilizer:
        need += STABILIZER_BYTES_PER_PIXEL * frame_pixels
    if arch is not None and network_on_host:
        per_pixel = NETWORK_BYTES_PER_PIXEL[network_kind(arch), "bf16" if precision == "bf16" else "fp32"]
        need += per_pixel * batch * network_pixels
    return int(need)


def _meminfo_available() -> int | None:
    try:
        with open(_MEMINFO) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):  # no such file, "max", or a malformed line
        return None


def own_resident_bytes() -> int:
    """This process's resident memory now (what of a run's need it already holds: torch loaded)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def memory_now() -> tuple[int | None, str, int | None]:
    """(the bytes a process here may use at most, how a message says it, the bytes free now): the
    total is :func:`vidstyle.device.usable_memory`'s (physical memory or a container's limit); free
    is /proc/meminfo's MemAvailable, or less where a container's limit minus its usage is less
    (None where the system says neither)."""
    from vidstyle.device import cgroup_memory_limit, physical_memory, usable_memory

    limit = cgroup_memory_limit()
    total, where = usable_memory(physical_memory(), limit)
    free = _meminfo_available()
    used = _read_int(_CGROUP_MEMORY_CURRENT) if limit else None
    if limit and used is not None:
        free = limit - used if free is None else min(free, limit - used)
    return total, where, free
