"""The Stylizer: load a style once, then stylize frames, batches or iterators of frames.

Used by the file pipeline, the live webcam mode and the benchmark, so every path shares the same
device handling, precision, padding and resizing.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
import math
import threading
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidstyle.config import (BACKENDS, MAX_SCALE, check_choice, check_flag, check_flow_backend, check_look,
                             check_max_side, check_number, check_temporal, is_number, refuse)
from vidstyle.device import autocast, is_out_of_memory, precision_name, resolve_device, resolve_precision
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError, first_line
from vidstyle.frames import (check_batch_tensor, check_image, clamp_levels_, crop_to, float_to_uint8,
                             float_to_yuv420, host_batch, host_view, images_to_tensor, luminance, pad_to_multiple,
                             tensor_to_images, uint8_to_float, working_size)
from vidstyle.io.display import rgb_to_yuv_matrix
from vidstyle.models.transformer import TransformerNet, fold_for_inference
from vidstyle.models.weights import ModelInfo, load_model
from vidstyle.models.zoo import StyleChoice, StyleSpec, mix_vector, parse_mix, resolve_style

if TYPE_CHECKING:  # (imported by submit_batch only when it is given a stabilizer)
    from vidstyle.flow.stabilizer import FlowStabilizer, FlowState

log = logging.getLogger("vidstyle")


#: Longest side the network runs at (8K UHD is 7680): larger frames take gigabytes each.
MAX_NETWORK_SIDE = 8192

#: With ``backend="auto"`` on a CPU that runs eagerly (bf16, or fp32 without ONNX Runtime
#: installed), runs announced (:meth:`Stylizer.expect_frames`) to be at least this long use
#: ``torch.compile``: compiling takes 15-23 s the first time on 2 cores (2-3 s once inductor's cache
#: holds the architecture) and then saves, per 640x360 frame, about 19 ms (light) to 94 ms
#: (standard network) against eager bf16 (benchmarks/RESULTS.md). So a cold compile pays for itself
#: within the run for the standard network and, for the light one, about when the cache already
#: holds it. fp32 runs under ONNX Runtime stay there (see :meth:`Stylizer.expect_frames`).
AUTO_COMPILE_MIN_FRAMES = 600
#: Luma standard deviation (grey levels, 0-255) under which a frame counts as low-contrast: its
#: output fades towards one colour (see Stylizer._stylize_tensor). The shared clips' frames: 29-71.
LOW_CONTRAST = 8.0


#: Serializes Stylizer.set_look calls (a read-modify-write of two controls).
_LOOK_LOCK = threading.Lock()

#: Pixels :func:`_luma_std` reads per frame; smaller frames are read whole.
LUMA_SAMPLES = 16384


@functools.lru_cache(maxsize=8)
def _luma_positions(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, columns) of a fixed pseudo-random set of :data:`LUMA_SAMPLES` pixels of a frame of
    that size: a regular grid (every 4th pixel each way) read stripes and checkerboards of period
    1, 2 or 4 as one colour, and fixed positions give the same frame the same measure (and output)."""
    flat = torch.randint(height * width, (LUMA_SAMPLES,), generator=torch.Generator().manual_seed(0))
    return (flat // width).to(device), (flat % width).to(device)


@functools.lru_cache(maxsize=8)
def _luma_offsets(height: int, width: int) -> np.ndarray:
    """:func:`_luma_positions` as offsets into a frame's plane of ``height * width`` pixels."""
    rows, cols = _luma_positions(height, width, torch.device("cpu"))
    return (rows * width + cols).numpy()


def _luma_samples(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, LUMA_SAMPLES) contiguous: the pixels of :func:`_luma_positions` of (B, 3, H, W) ``x``,
    whatever its memory layout. A float32 frame on the CPU, NCHW (ONNX Runtime's) or channels_last
    (the frames as :func:`~vidstyle.frames.images_to_tensor` makes them), is read with
    ``np.take`` along its pixels: 0.27 against 0.53 ms a 640x360 frame for torch's indexing by
    rows and columns (benchmarks/RESULTS.md, fifty-seventh session); the same values, in the
    same order and layout, so the same sums."""
    b, c, h, w = x.shape
    if x.device.type == "cpu" and x.dtype == torch.float32:
        if x.is_contiguous():
            return torch.from_numpy(np.take(x.detach().numpy().reshape(b, c, h * w), _luma_offsets(h, w), axis=2))
        if x.is_contiguous(memory_format=torch.channels_last):
            pixels = x.detach().permute(0, 2, 3, 1).numpy().reshape(b, h * w, c)
            # transposed by numpy: torch's copy opened an OpenMP region (see vidstyle.frames)
            samples = np.take(pixels, _luma_offsets(h, w), axis=1)
            return torch.from_numpy(np.ascontiguousarray(samples.transpose(0, 2, 1)))
    rows, cols = _luma_positions(h, w, x.device)
    return x[:, :, rows, cols]


def _luma_std(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B,) standard deviation of the Rec. 601 luma in grey levels,
    over every pixel of a small frame, else over :data:`LUMA_SAMPLES` of them (about 0.3 ms a
    frame of any size on the CPU)."""
    if x.device.type == "cpu" and x.shape[0] > 1:
        # frame by frame, the same sums: one frame's samples are under torch's grain size (32768
        # values), a batch's are not, and each op on them opened an OpenMP region (see vidstyle.frames)
        return torch.cat([_luma_std(x[i:i + 1]) for i in range(x.shape[0])])
    h, w = x.shape[-2:]
    if h * w > LUMA_SAMPLES:
        x = _luma_samples(x)
    luma = luminance(x.float().reshape(x.shape[0], 3, -1, 1))  # (B, 1, N, 1)
    return (luma.flatten(1) * 255.0).std(dim=1, correction=0)


def blend_style(content: torch.Tensor, styled: torch.Tensor, strength: float = 1.0,
                keep_colors: bool = False) -> torch.Tensor:
    """How much of the style a frame shows, and whose colours: the two controls users set on top
    of a network (``--style-strength``, ``--keep-colors``).

    Args:
        content: (B, 3, H, W) input frames in [0, 1].
        styled: (B, 3, H, W) the network's output for them, in [0, 1].
        strength: 1 gives ``styled``, 0 ``content``, linearly between.
        keep_colors: the output's brightness with the input's colours: its Rec. 601 luma, the
            input's chroma (luminance-only transfer, Gatys et al. 2016, "Preserving Color in Neural
            Artistic Style Transfer"). In YCbCr each of R, G and B is Y plus a function of Cb and
            Cr alone, so swapping Y adds the same luma difference to all three channels; clipped to
            [0, 1], which changes the hue only where that overshoots.
    Returns:
        (B, 3, H, W) in [0, 1]; ``styled`` itself (not a copy) at strength 1 without keep_colors.
    """
    if content.ndim != 4 or content.shape[1] != 3 or content.shape != styled.shape:
        raise BadValueError(f"content and styled must be (B, 3, H, W) of one shape, got "
                            f"{tuple(content.shape)} and {tuple(styled.shape)}")
    if not keep_colors and strength >= 1.0:
        return styled
    dtype = torch.promote_types(content.dtype, styled.dtype)  # bf16 output, fp32 frame: work in fp32
    content, styled = content.to(dtype), styled.to(dtype)
    if keep_colors:
        # luma is linear: Y(styled) - Y(content) in one pass over the difference
        frames, painted = host_view(content), host_view(styled)
        if frames is None or painted is None:
            styled = (content + luminance(styled - content)).clamp_(0.0, 1.0)
        else:  # the same values, without torch's OpenMP regions on the CPU (see host_view)
            kept = frames + luminance(painted - frames)
            styled = torch.from_numpy(np.clip(kept, 0.0, 1.0, out=kept))
    if strength >= 1.0:
        return styled
    return torch.lerp(content, styled, float(strength))


#: compiled graphs that the networks' ``forward`` may hold (see :func:`_allow_a_graph_per_shape`)
GRAPHS_PER_FUNCTION = 64


def _allow_a_graph_per_shape() -> None:
    """Let dynamo keep a graph for each frame size and batch a process compiles the networks for.

    Shapes are static (see :meth:`Stylizer._build_forward`), and every network is a
    ``TransformerNet``, whose one ``forward`` dynamo caches graphs under. Past its default of 8
    graphs (files of many sizes in one run; a ``vidstyle bench --compile`` grid of more than 8
    compiled cases, 12 by default on a CPU with bf16) dynamo ran each new shape eagerly, with
    only a warning of its own: such a bench would have timed eager rows as compiled ones. Set in
    each thread that runs a compiled network (torch 2.14 keeps a value a program sets per thread)."""
    import torch._dynamo.config as dynamo_config

    name = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"  # torch < 2.6
    setattr(dynamo_config, name, max(getattr(dynamo_config, name), GRAPHS_PER_FUNCTION))


def _fresh_strides(shape: torch.Size, layout: torch.memory_format) -> tuple[int, ...]:
    """The strides of a new (B, C, H, W) tensor in ``layout`` (contiguous or channels_last)."""
    b, c, h, w = shape
    if layout == torch.channels_last:
        return (h * w * c, 1, w * c, c)
    return (c * h * w, h * w, w, 1)


def _int8_device(precision: str | None, device: str | torch.device) -> str | torch.device:
    """int8 runs on the CPU: there ``auto`` means the CPU even where a GPU is present."""
    if precision is not None and not isinstance(precision, str):
        raise BadTypeError(f"precision must be a name such as 'auto', 'bf16' or 'int8', got {precision!r}")
    return "cpu" if precision == "int8" and str(device) == "auto" else device


#: inductor's errors (``torch._inductor.exc``) for a C++ compiler that is missing or does not work
#: (``CXX`` naming a missing binary, or ``/bin/false``, raises the first) or that fails on the code
_COMPILER_ERRORS = ("InvalidCxxCompiler", "CppCompileError")


def _is_compiler_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (the error inside inductor's ``BackendCompilerFailed``) is the C++
    compiler's: by class name, inductor's module layout being private."""
    return any(cls.__name__ in _COMPILER_ERRORS for cls in type(exc).__mro__)


def onnx_available() -> bool:
    """Whether the ONNX backend can run here (onnx to export, onnxruntime to run), without importing either."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def _using_network(method):
    """A :class:`Stylizer` method that uses its network, run under :meth:`Stylizer._in_use`."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._in_use():
            return method(self, *args, **kwargs)
    return call


class Stylizer:
    """A loaded style network ready for inference.

    Args:
        style: a style spec (bundled name, ``.safetensors`` path, ``mix:a=0.7,b=0.3``), a
            :class:`~vidstyle.models.zoo.Styles` entry or a resolved :class:`StyleChoice`.
        device: ``auto|cpu|cuda|cuda:N|mps``.
        precision: ``auto|fp32|fp16|bf16|int8``; ``auto`` is fp16 autocast on CUDA, bf16 on a CPU
            with native bf16 (AMX or AVX512-BF16: the weights are cast to bf16, the norms keep fp32
            statistics) and fp32 elsewhere. ``int8`` (CPU, needs torchao) quantizes the
            convolutions statically (:mod:`vidstyle.models.quantize`) with activation ranges
            calibrated on :meth:`calibrate`'s frames, or on the first batch when none were given,
            and runs compiled.
        channels_last: use the channels-last memory format (faster convolutions on CPU and GPU).
        max_side / scale: run the network at reduced resolution and resize the output back.
        backend: ``auto`` (ONNX Runtime on the CPU in fp32 when installed, eager PyTorch in bf16
            and on GPUs, ``torch.compile`` for long eager CPU runs, see :meth:`expect_frames`),
            ``torch`` (eager PyTorch), ``compile`` (``torch.compile``; compiles once per input
            size) or ``onnx`` (ONNX Runtime, CPU and fp32 only). Measured in benchmarks/RESULTS.md.
        style_strength / keep_colors: how much of the style the frames show and whose colours
            they keep (:func:`blend_style`); changed later with :meth:`set_look`.
    """

    #: the style it was loaded from (:meth:`from_model`: the one given, else None)
    choice: StyleChoice | None

    def __init__(self, style: StyleSpec | StyleChoice, *, device: str | torch.device = "auto",
                 precision: str = "auto", channels_last: bool = True, max_side: int | None = None,
                 scale: float | None = None, backend: str = "auto", style_strength: float = 1.0,
                 keep_colors: bool = False):
        self.set_look(style_strength, keep_colors)  # checked before the model loads
        choice = style if isinstance(style, StyleChoice) else resolve_style(style)
        self.device = resolve_device(_int8_device(precision, device))
        model, info = load_model(choice.path, self.device)
        model.set_style(choice.mix)
        self._setup(model, info, precision, channels_last, max_side, scale, backend)
        self.choice = choice

    @classmethod
    def from_model(cls, model: TransformerNet, info: ModelInfo | None = None, *, device: str | torch.device = "auto",
                   precision: str = "auto", channels_last: bool = True, max_side: int | None = None,
                   scale: float | None = None, backend: str = "auto", style_strength: float = 1.0,
                   keep_colors: bool = False, choice: StyleChoice | None = None) -> "Stylizer":
        """Wrap an in-memory network (tests, benchmarks, training previews). ``choice``: the style it
        was loaded from, if any, so that it runs as that style does (its own stabilizer strength)."""
        self = cls.__new__(cls)
        self.set_look(style_strength, keep_colors)
        self.device = resolve_device(_int8_device(precision, device))
        model = copy.deepcopy(model)  # folded and maybe cast below; the caller's network stays as it is
        info = info or ModelInfo(path="<memory>", arch="transformer", arch_args=model.arch_args,
                                 styles=[{"name": f"style{i}"} for i in range(model.num_styles)])
        # in fp32, as load_model gives a file's network: _setup folds it and casts it to the precision
        # asked for. A network given in bf16 (a Stylizer's own, on a CPU with native bf16) met fp32
        # frames at the first convolution, and was folded in bf16 arithmetic
        model = model.to(self.device, torch.float32).eval()
        self._setup(model, info, precision, channels_last, max_side, scale, backend)
        self.choice = choice
        return self

    def _setup(self, model, info, precision, channels_last, max_side, scale, backend="torch") -> None:
        channels_last = check_flag("channels_last", channels_last)  # "no" or 0 would otherwise pass for a choice
        check_choice("backend", backend, BACKENDS)
        if precision is not None and not isinstance(precision, str):
            raise BadTypeError(f"precision must be a name such as 'auto', 'fp32' or 'bf16', got {precision!r}")
        # upsample-then-convolve layers run as sub-pixel convolutions at the low resolution: the
        # same function without the full-resolution upsampled and padded copies (~20% of the light
        # network's time on the CPU; see SubpixelUpsampleConv)
        self.model, self.info = fold_for_inference(model), info
        self._closed = False
        # the threads in calls that use the network (_using_network), each with how many, for close()
        self._users: dict[int, int] = {}
        self._uses = threading.Condition()
        self.int8 = precision == "int8"
        self._calibration: list[np.ndarray] = []  # uint8 frames: small, prepared when quantizing
        self.calibration_source: str | None = None
        self._int8_shape: torch.Size | None = None
        if self.int8:
            if self.device.type != "cpu":
                raise VidstyleError("--precision int8 runs on the CPU only (use fp16 on GPUs)")
            if backend not in ("auto", "compile"):
                raise VidstyleError("--precision int8 runs compiled: use --backend compile (or auto)")
            from vidstyle.models.quantize import require_torchao
            require_torchao()
            backend = "compile"
        if backend == "onnx" and (precision or "auto") == "auto":
            precision = "fp32"  # the onnx backend is fp32: asking for it picks that precision
        # not warned of bf16's speed on this CPU when the onnx backend refuses bf16 just below:
        # one line for one mistake
        self.dtype = None if self.int8 else resolve_precision(precision, self.device, inference=True,
                                                              warn=backend != "onnx")
        # the fp32 network that gives frames of (almost) one colour their colour: see _stylize_tensor
        self._flat_reference = copy.deepcopy(self.model).float().cpu().eval()
        self._flat_colours: dict[tuple[float, ...], torch.Tensor] = {}
        self.auto_backend = backend == "auto" and not self.int8
        self._compile_failed = False  # an automatic compile that failed is not tried again
        if backend == "auto":
            # ONNX Runtime is the fastest fp32 CPU path for these networks (benchmarks/RESULTS.md);
            # everywhere else (GPU, bf16 CPU) eager PyTorch with channels_last.
            cpu_fp32 = self.device.type == "cpu" and self.dtype is None
            backend = "onnx" if cpu_fp32 and onnx_available() else "torch"
        # bf16 on the CPU runs a bf16 copy of the weights rather than autocast: autocast re-casts
        # every weight on every call and keeps the norms in fp32, which costs more than the
        # convolutions themselves there (the norms keep fp32 statistics, see InstanceNorm2d)
        self.cast_weights = self.device.type == "cpu" and self.dtype is torch.bfloat16
        if self.cast_weights:
            self.model = self.model.to(torch.bfloat16)
        if backend == "onnx" and (self.device.type != "cpu" or self.dtype is not None):
            raise VidstyleError("the onnx backend runs on the CPU in fp32 only (use --device cpu --precision fp32)")
        self._short_backend = backend  # what auto runs short clips with (see expect_frames)
        self._channels_last_asked = channels_last
        self._use_backend(backend)
        check_max_side(max_side)
        check_number("scale", scale, f"a number > 0 and at most {MAX_SCALE}", lambda v: 0 < v <= MAX_SCALE)
        self.max_side = None if max_side is None else int(max_side)
        self.scale = None if scale is None else float(scale)
        self._build_lock = threading.RLock()
        self._compiled = None  # the torch.compile wrapper, once made: kept for a switch back to it
        self._compiled_batches: dict[tuple[int, ...], set[int]] = {}  # frame shape -> batches with a graph kept
        self._build_forward()

    def _use_backend(self, backend: str) -> None:
        """Set :attr:`backend` and the memory format that goes with it (the caller then builds the
        forward): ONNX Runtime takes contiguous NCHW arrays; the others channels_last, if asked."""
        self.backend = backend
        self.channels_last = self._channels_last_asked and backend != "onnx"
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _build_forward(self) -> None:
        """The callable that runs the network: the module itself, compiled, or an ORT session."""
        self._compiled_ok = False
        if self.backend == "compile" and not torch.cuda.is_available():
            # inductor's C++ build imports torch.utils.cpp_extension, which warns "No CUDA runtime
            # is found" on every CPU-only machine that has a CUDA toolkit directory: noise here
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        if self.backend == "onnx":
            from vidstyle.export import OnnxRunner
            self._forward = OnnxRunner(self.model)  # exported with the current style mix baked in
        elif self.int8:
            self._forward = None  # quantized at the first batch, whose shape it is specialised to
        elif self.backend == "compile":
            # static shapes: a video has one frame size, and a second shape would otherwise switch
            # the graph to dynamic shapes (a second, slower compile); short batches are padded.
            # Made once: back from the short-run backend (expect_frames), the graphs compiled so far are reused.
            if self._compiled is None:
                _allow_a_graph_per_shape()
                self._compiled, self._compiled_batches = torch.compile(self.model, dynamic=False), {}
            self._forward = self._compiled
        else:
            self._forward = self.model

    def close(self) -> None:
        """Let go of what this stylizer holds now rather than when it is collected: its networks
        (on a GPU, their memory goes back to PyTorch's cache), an ONNX Runtime session and its
        threads, a compiled or int8 graph, CUDA streams and calibration frames. Any later use
        raises :class:`~vidstyle.errors.BadValueError`; closing again does nothing. A call under way
        in another thread (a batch being stylized) finishes first, and its next one is refused.
        ``with Stylizer(...) as s:`` closes it at the block's end."""
        me = threading.get_ident()
        with self._uses:
            self._closed = True  # later calls are refused from here
            # calls under way in other threads end first: the network was freed under them (an
            # AttributeError from inside it mid-run); this thread's own, if any, cannot be waited for
            self._uses.wait_for(lambda: all(user == me for user in self._users))
        with self._build_lock:  # (held by a compiled or int8 call)
            # a compiled graph and an ORT session hold references to the network: all dropped
            self._forward = self._compiled = self.model = self._flat_reference = None
            self._streams = None
            self._calibration, self._flat_colours, self._compiled_batches = [], {}, {}

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the ``with`` block ended)."""
        return self._closed

    def __enter__(self) -> Stylizer:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _in_use(self) -> Iterator[None]:
        """A call that uses the network (:func:`_using_network`): refused once closed
        (:meth:`_check_open`), and waited for by :meth:`close` in another thread."""
        me = threading.get_ident()
        with self._uses:
            self._check_open()
            self._users[me] = self._users.get(me, 0) + 1
        try:
            yield
        finally:
            with self._uses:
                self._users[me] -= 1
                if not self._users[me]:
                    del self._users[me]
                self._uses.notify_all()

    def _check_open(self) -> None:
        """Refuse a call on a closed stylizer at the call (its network is gone: an AttributeError
        from deep inside otherwise)."""
        if self._closed:
            raise BadValueError("this Stylizer is closed (close() or the end of its with block): make a new "
                                "one to stylize again")

    def _quantize(self, x: torch.Tensor) -> None:
        """Build the int8 network for batches shaped like ``x``, calibrated on the frames given to
        :meth:`calibrate` that have ``x``'s working size (else on ``x`` itself)."""
        from vidstyle.models.quantize import compile_int8, quantize_int8

        frames = [self._prepare(images_to_tensor(image[None], self.device))[0] for image in self._calibration]
        frames = [f for f in frames if f.shape[1:] == x.shape[1:]]
        if self._calibration and not frames:
            log.warning("the int8 calibration frames have another size than the frames to stylize: "
                        "calibrating on the first batch instead")
        batches = [x]
        if frames:  # group into batches of x's size; the last one is topped up with its last frame
            b = x.shape[0]
            frames += [frames[-1]] * (-len(frames) % b)
            batches = [torch.cat(frames[i:i + b]) for i in range(0, len(frames), b)]
        # torch.export traces outside inference mode, on ordinary (not inference-mode) tensors
        with torch.inference_mode(False), torch.no_grad():
            batches = [b.clone() for b in batches]
            self._forward = compile_int8(quantize_int8(self.model, batches))
        self._int8_shape = x.shape

    @property
    def precision(self) -> str:
        """The precision the network runs at: ``fp32``, ``fp16``, ``bf16`` or ``int8``."""
        return "int8" if self.int8 else precision_name(self.dtype)

    @_using_network
    def calibrate(self, images: Sequence[np.ndarray] | np.ndarray, source: str | None = None) -> None:
        """Frames (uint8 (H, W, 3) RGB) whose activation ranges set the int8 network's; best spread
        over the video to stylize (:func:`vidstyle.io.samples.sample_frames`; ``source`` names it,
        see :func:`vidstyle.pipeline.calibrate_for`). Replaces earlier calibration frames; without
        any, the first batch stylized calibrates. No-op unless int8."""
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise BadValueError(f"calibrate takes a sequence of (H, W, 3) frames, got one array of shape {images.shape}")
        if not isinstance(images, (np.ndarray, Iterable)) or isinstance(images, (str, bytes)):
            raise BadTypeError(f"calibrate takes a sequence of uint8 (H, W, 3) frames, got {type(images).__name__}")
        if source is not None and not isinstance(source, str):
            # kept as calibration_source, which calibrate_for compares with a video's identity (a
            # string): 3 or a Path was kept in silence and matched no video
            refuse("source", source, "a string naming the frames' video, or None", wrong_kind=True)
        frames = [np.array(check_image(image), copy=True) for image in images]
        if not frames:
            raise BadValueError("calibrate needs at least one frame")
        if not self.int8:
            return
        self._calibration = frames
        self.calibration_source = source
        self._forward = None

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self.int8:
            build = self._forward is None or x.shape != self._int8_shape  # quantized for one input shape
            if not build:
                return self._forward(x)
            try:  # export, quantization and (at this first call) compilation
                self._quantize(x)
                return self._forward(x)
            except VidstyleError:
                raise
            except Exception as exc:  # noqa: BLE001 - any export or compiler failure, said in one line
                from vidstyle.device import cpu_has_onednn_bf16

                first = first_line(exc, 200)
                # bf16 only where this CPU runs it fast (else 6-11x slower than fp32: not advice)
                other = "bf16 or fp32" if self.device.type != "cpu" or cpu_has_onednn_bf16() else "fp32"
                raise VidstyleError(f"building the int8 network failed ({first}); it needs torch.export "
                                    f"support and a working C++ compiler (use --precision {other} "
                                    "otherwise)") from exc
        if self.backend == "compile":
            # in the thread that runs it: torch keeps the limit a program sets per thread, and the
            # pipeline's network thread is not the one that built the network
            _allow_a_graph_per_shape()
        if self.backend != "compile" or self._compiled_ok:
            return self._forward(x)
        # the first call compiles; an automatic choice must not turn a missing C++ compiler or an
        # inductor failure into a failed run: fall back once to what short runs use, and say so
        try:
            y = self._forward(x)
        except VidstyleError:
            raise
        except Exception as exc:  # noqa: BLE001 - any compiler failure; the short-run backend is always available
            # inductor's own line is "backend='inductor' raised:"; what failed is its inner error
            inner = getattr(exc, "inner_exception", None) or exc.__cause__ or exc
            if is_out_of_memory(inner):  # no compile failure: said as such by _stylize_float
                raise inner from None
            why = f"{type(inner).__name__}: {first_line(inner, 200)}"
            if not self.auto_backend:  # asked for: one line saying what to use instead
                # the compiler advice only where the compiler is what failed: a lowering or
                # tracing error on a machine with g++ was said to need one
                need = (" it needs a working C++ compiler (g++ or clang): install one, or"
                        if _is_compiler_failure(inner) else "")
                raise VidstyleError(f"torch.compile failed ({why});{need} use --backend torch or onnx") from exc
            # only runs that auto ran eagerly compile automatically, so the fallback is eager; the
            # vidstyle logger, as every warning: the command line writes it above a progress bar
            log.warning("torch.compile failed (%s); running the network eagerly", why)
            self._compile_failed = True
            self._use_backend(self._short_backend)
            self._build_forward()
            return self._forward(x)
        self._compiled_ok = True
        return y

    @_using_network
    def expect_frames(self, frames: int | None) -> None:
        """Announce how many frames will be stylized (None: unknown).

        With ``backend="auto"`` on a CPU that runs eagerly (bf16, or fp32 without ONNX Runtime), a
        run of at least :data:`AUTO_COMPILE_MIN_FRAMES` frames switches to ``torch.compile``, whose
        one-time compilation is then repaid many times over, and a shorter one back to eager
        PyTorch: a Stylizer reused for short clips after a long one does not compile again for each
        new frame size. Nothing changes otherwise (unknown length, another backend or precision, a
        GPU), nor under ONNX Runtime: with the one-hot layout convolutions of its exported graphs it
        ran the light network end to end as fast as the compiled one (20.2 against 19.6 frames/s)
        and the standard network within 2% (1.79 against 1.82), with 170-240 MiB less memory and no
        compile (23 s with a cold cache, which the standard network's 9 ms a frame would repay only
        after about 2500 frames; benchmarks/RESULTS.md, thirty-fifth session).
        """
        # a wrong kind ("600", 1.5) is a TypeError, as every other setting's: it was a ValueError
        check_number("frames", frames, "a whole number of frames, at least 0, or None", lambda v: v >= 0,
                     integral=True)
        if not self._may_switch_backend or frames is None:
            return
        wanted = "compile" if frames >= AUTO_COMPILE_MIN_FRAMES else self._short_backend
        with self._build_lock:  # not while a compiled call (which holds it) is running
            if self.backend != wanted:
                self._use_backend(wanted)
                self._build_forward()

    @property
    def _may_switch_backend(self) -> bool:
        """Whether :meth:`expect_frames` may switch this stylizer between eager and compiled runs."""
        return (self.auto_backend and self.device.type == "cpu" and self._short_backend != "onnx"
                and not self._compile_failed)

    def set_look(self, style_strength: float | None = None, keep_colors: bool | None = None) -> None:
        """Change how much of the style the frames show (``style_strength`` in [0, 1]) and whether
        they keep the input's colours (see :func:`blend_style`); None leaves a control as it is.
        Takes effect from the next call; safe while another thread stylizes (``vidstyle live``)."""
        with _LOOK_LOCK:  # two callers changing one control each: neither change is lost
            old_strength, old_keep = getattr(self, "_look", (1.0, False))
            strength = old_strength if style_strength is None else style_strength
            keep = old_keep if keep_colors is None else keep_colors
            keep = bool(keep) if isinstance(keep, np.bool_) else keep
            check_look(strength, keep)
            self._look = (float(strength), keep)  # one tuple: a stylizing thread reads both at once

    @property
    def style_strength(self) -> float:
        """How much of the style the frames show (see :meth:`set_look`)."""
        return self._look[0]

    @property
    def keep_colors(self) -> bool:
        """Whether the frames keep the input's colours (see :meth:`set_look`)."""
        return self._look[1]

    @property
    def style_names(self) -> list[str]:
        """The names of the network's styles, in the order :meth:`set_mix` takes a vector of weights."""
        return self.info.style_names

    @_using_network
    def set_mix(self, mix: dict[str, float] | str | Sequence[float]) -> None:
        """Blend the styles of a multi-style network: {"a": 0.7, "b": 0.3}, "a=0.7,b=0.3",
        "mix:a=0.7,b=0.3" or a vector of one weight per style (:attr:`style_names`' order). Every
        form is normalised alike: the weights sum to 1."""
        if isinstance(mix, str):
            text = mix.strip()
            mix = parse_mix(text[4:] if text.startswith("mix:") else text)
        if not isinstance(mix, (dict, np.ndarray)) and not (isinstance(mix, Iterable) and not isinstance(mix, bytes)):
            # None or a number was said to be a mix "of shape ()"
            raise BadTypeError(f"a style mix is a dict of weights by style name, a string such as 'a=0.7,b=0.3' "
                               f"or one weight per style, got {type(mix).__name__}")
        if not isinstance(mix, dict):
            try:
                weights = np.asarray(mix)
            except (ValueError, TypeError):  # ragged nesting
                weights = np.asarray(mix, dtype=object)
            if weights.ndim != 1:  # the network takes a mix per frame too, which frames would then have to match
                raise BadValueError(f"a style mix is one weight per style, got shape {weights.shape}")
            names = self.style_names
            if weights.dtype.kind not in "iuf" or len(weights) != len(names):
                raise BadValueError(f"a style mix vector holds one number per style, {len(names)} "
                                    f"entr{'y' if len(names) == 1 else 'ies'} ({', '.join(names)}), got {mix!r}; "
                                    "or name them: {'a': 0.7, 'b': 0.3} or 'a=0.7,b=0.3'")
            mix = dict(zip(names, weights.tolist()))
        mix = mix_vector(self.info, mix)
        before = self.model.painted_mix
        try:
            self.model.set_style(list(mix))
        except ValueError as exc:
            raise BadValueError(str(exc)) from None
        if self.choice is not None:  # what the stylizer now paints (labels, summaries)
            self.choice = dataclasses.replace(self.choice, mix=mix)
        if self.model.painted_mix == before:
            # the same mix (a one-style network's always is): nothing to rebuild. `vidstyle live`
            # sets each style's mix as it switches to it, and a new ONNX Runtime session froze the
            # picture for most of a second at each switch back to a loaded style
            return
        self._flat_reference.set_style(list(mix))
        self._flat_colours.clear()
        if self.backend == "onnx" or self.int8:  # an exported graph holds the old mix as a constant
            self._build_forward()

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """(B, 3, H, W) in [0, 1] -> the network's input (working size, padded, dtype, memory
        format) and the working size to crop its output back to."""
        h, w = x.shape[-2:]
        wh, ww = working_size(h, w, self.max_side, self.scale)
        if max(wh, ww) > MAX_NETWORK_SIDE:  # one such frame would take gigabytes, then the OOM killer
            raise VidstyleError(f"the network would run at {ww}x{wh} for these {w}x{h} frames: at most "
                                f"{MAX_NETWORK_SIDE} pixels a side (lower --scale, or use --max-side)")
        if (wh, ww) != (h, w):
            x = F.interpolate(x, size=(wh, ww), mode="bilinear", align_corners=False, antialias=wh < h)
        x, size = pad_to_multiple(x, self.model.size_multiple, self.model.min_input_size)
        if self.cast_weights:
            x = x.to(torch.bfloat16)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, size

    @torch.inference_mode()
    def stylize_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 1] on :attr:`device` -> stylized (B, 3, H, W) float32 in [0, 1]
        (fp16, bf16 and fp64 inputs are read as float32, whatever precision the network runs at).

        Safe to call from several threads: eager and ONNX Runtime networks run concurrently; a
        compiled or int8 one is built at its first call and keeps per-shape state, so its calls
        take turns, as do an eager one's that :meth:`expect_frames` may switch to compiled. The
        result is made under ``torch.inference_mode``: ``.clone()`` it outside
        that mode to change it in place or use it in an autograd graph."""
        check_batch_tensor(x)
        here, there = x.device, self.device
        # ("cuda" is the current GPU, whose tensors say cuda:N) said here: a CPU tensor given to a
        # CUDA network failed inside it with PyTorch's "Expected all tensors to be on the same device"
        if here.type != there.type or None not in (here.index, there.index) and here.index != there.index:
            raise BadValueError(f"the frames are on {here} and the network on {there}: move them there first "
                                "(x.to(stylizer.device))")
        return self._stylize_float(x.float())

    @_using_network
    def _stylize_float(self, x: torch.Tensor, contrast: list[float] | None = None) -> torch.Tensor:
        """:meth:`stylize_tensor` for a checked float32 ``x``; ``contrast``: :meth:`_contrast_of`
        ``x`` when already known."""
        strength, keep_colors = self._look
        try:
            # a compiled or int8 network takes turns; so does an eager one that expect_frames may
            # switch to compiled meanwhile (read unlocked, the call could start eager and run the
            # compiled network outside the lock, beside another thread's compiled call)
            if self.backend == "compile" or self.int8 or self._may_switch_backend:
                with self._build_lock:
                    y = self._stylize_tensor(x, contrast)
            else:
                y = self._stylize_tensor(x, contrast)
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            # said as what to change, not as the allocator's message (a batch at --scale 8 asks for
            # gigabytes per frame)
            wh, ww = working_size(*x.shape[-2:], self.max_side, self.scale)
            raise VidstyleError(f"out of memory running the network on {x.shape[0]} frame(s) at {ww}x{wh} "
                                f"({first_line(exc, 120)}); lower --batch, --scale or --max-side (batch=, scale=, "
                                "max_side= in Python)") from None
        return blend_style(x, y, strength, keep_colors)

    @staticmethod
    def _contrast_of(x: torch.Tensor) -> list[float]:
        """Each frame's contrast as a weight in [0, 1] (1: ordinary footage; see
        :meth:`_stylize_tensor`): one read from the device per batch."""
        weights = (_luma_std(x) / LOW_CONTRAST).clamp(max=1.0).tolist()
        broken = [i for i, w in enumerate(weights) if math.isnan(w)]  # NaN or inf in a frame: NaN here
        if broken:  # else no branch below fills the frame: it came back as uninitialised memory
            raise BadValueError(f"frame {broken[0]} of the batch holds NaN or infinite values; frames are "
                                "numbers in [0, 1]")
        return weights

    def _stylize_tensor(self, x: torch.Tensor, contrast: list[float] | None = None) -> torch.Tensor:
        """The network's output, except for frames of little contrast (fades, near-black frames,
        flat cards), which fade towards the output of their mean colour.

        Instance norms rescale every frame to full contrast, so a network paints a frame at 3% of
        its brightness as vividly as a normal one, and a fade to black stays painted until its
        last frame, then drops to black in one step. A frame of one colour gives every layer a
        constant map, which the norms turn into their bias: its output is one colour, the
        "flat colour" of that input colour (computed in fp32: in bf16, fp16 or int8 the folded
        sub-pixel layers' four phases round differently, and the norms would blow that up into a
        fixed 2x2 texture). Below :data:`LOW_CONTRAST` the output is blended from the flat colour
        of the frame's mean (no contrast) to the network's output (at the threshold), so fades
        fade. Ordinary footage is far above it (the shared clips: luma std 29-71).
        """
        weights = self._contrast_of(x) if contrast is None else contrast
        if min(weights) >= 1.0:
            return self._network_output(x)
        # on the CPU the frames are read and written as numpy arrays: the same values without
        # torch's OpenMP regions (see host_view); their mean colours stay torch's (a reduction)
        kind = host_view if host_view(x) is not None else (lambda t: t)
        y = torch.empty_like(x)
        out = kind(y)
        painted = [i for i, w in enumerate(weights) if w > 0]  # a flat frame needs no network
        if painted:
            chosen = x if len(painted) == len(x) else torch.as_tensor(kind(x)[painted])
            out[painted] = kind(self._network_output(chosen))
        for i, w in enumerate(weights):
            if w < 1.0:
                flat = kind(self._flat_colour(x[i].mean(dim=(1, 2))).view(3, 1, 1).to(y.dtype))
                out[i] = flat + w * (out[i] - flat) if w > 0 else flat
        return y

    def _flat_colour(self, rgb: torch.Tensor) -> torch.Tensor:
        """(3,) input colour in [0, 1] -> (3,) output colour of the fp32 network, on :attr:`device`."""
        key = tuple(rgb.tolist())
        colour = self._flat_colours.get(key)  # one lookup: another thread may clear the cache meanwhile
        if colour is None:
            if len(self._flat_colours) > 4096:
                self._flat_colours.clear()
            side = self._flat_reference.min_input_size  # a constant map's output does not depend on its size
            x = rgb.float().cpu().view(1, 3, 1, 1).expand(1, 3, side, side).contiguous()
            colour = self._flat_reference(x)[0, :, 0, 0].clamp(0.0, 1.0).to(self.device)
            self._flat_colours[key] = colour
        return colour

    def _network_output(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x, size = self._prepare(x)
        batch = x.shape[0]
        if self.backend == "compile" or self.int8:
            x = self._as_compiled(x)
        with autocast(self.device, None if self.cast_weights else self.dtype):
            y = self._run(x)[:batch]
        y = crop_to(y.float(), size)
        if y.shape[-2:] != (h, w):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return clamp_levels_(y)

    def _as_compiled(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (the prepared input) as the compiled or int8 graph for its shape takes it.

        A compiled graph has static shapes and guards on its input's strides and dispatch keys;
        any difference compiles the network again (20-30 s on two cores), without a word. So:
        a batch with no graph of its own (the last one of a video) is padded with copies of its
        last frame up to the smallest batch compiled above it for its frame size, and compiled
        only when larger than all of them (not another size's batch: a 1080p video at batch 1
        after a 360p one at batch 4 would run 4 frames for each; not the largest: dynamo keeps
        every graph, and one frame after a batch of 4 would run as 4 beside its own graph); and
        the input gets the strides of a fresh tensor in the network's memory format, made in
        inference mode (a padded batch, one frame's ``image[None]`` with its batch stride of 0,
        or a tensor made outside inference mode by ``stylize_batch`` or a caller after the
        pipeline's would each compile again)."""
        batch = x.shape[0]
        if self.backend == "compile":
            kept = self._compiled_batches.setdefault(tuple(x.shape[1:]), set())
            padded = min((b for b in kept if b >= batch), default=batch)
            if padded > batch:
                x = torch.cat([x, x[-1:].expand(padded - batch, *x.shape[1:])])
            if self.int8:  # quantized for one input shape: a larger batch's network replaces the last
                kept.clear()
            kept.add(padded)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        if not x.is_inference() or x.stride() != _fresh_strides(x.shape, layout):
            x = x.clone(memory_format=layout)
        return x

    def stylize_batch(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """uint8 (B, H, W, 3) RGB images (same size) -> stylized uint8 (B, H, W, 3)."""
        x = images_to_tensor(images, self.device, pin_memory=self.device.type == "cuda")
        return tensor_to_images(self.stylize_tensor(x))

    @property
    def hands_yuv420(self) -> bool:
        """Whether :meth:`submit_batch` should be asked for yuv420p (``yuv420=``): on CUDA, where
        the conversion costs the GPU next to nothing and spares the encoder's thread; elsewhere
        swscale in the encoder converts faster than PyTorch would."""
        return self._on_device_path

    @property
    def stabilizes_on_device(self) -> bool:
        """Whether :meth:`submit_batch` should be given the flow stabilizer (``stabilizer=``): on
        CUDA, where its warp and blend run on the GPU instead of taking the CPU 35-130 ms a 1080p
        frame (benchmarks/RESULTS.md), and the frames need not come back to the host before it.
        Not for a subclass with its own ``submit_batch``, which may not take a stabilizer."""
        return self._on_device_path and type(self).submit_batch is Stylizer.submit_batch

    @property
    def _on_device_path(self) -> bool:
        """Whether :meth:`submit_batch` runs its own device path (CUDA, and this class's own
        ``stylize_batch`` and ``stylize_tensor``)."""
        return self.device.type == "cuda" and self._own_paths()

    def _own_paths(self) -> bool:
        """Whether ``stylize_batch`` and ``stylize_tensor`` are this class's own: a subclass that
        overrides either (a watermark, a filter) gets it called, not bypassed by the CUDA path."""
        return type(self).stylize_batch is Stylizer.stylize_batch and type(self).stylize_tensor is Stylizer.stylize_tensor

    @torch.inference_mode()
    def submit_batch(self, images: Sequence[np.ndarray] | np.ndarray, yuv420: int | None = None,
                     stabilizer: FlowStabilizer | None = None,
                     states: Sequence[FlowState | None] | None = None) -> "PendingImages":
        """Start stylizing ``images`` as :meth:`stylize_batch` does; ``.result()`` of what it returns
        waits for and gives the stylized uint8 (B, H, W, 3) array, or with ``yuv420`` (a matrix,
        SWS_CS_*; even sizes) the frames in limited-range yuv420p, (B, H * 3 / 2, W), as
        :meth:`vidstyle.io.VideoEncoder.write` takes them (:func:`~vidstyle.frames.float_to_yuv420`).

        With ``stabilizer`` (a :class:`~vidstyle.flow.stabilizer.FlowStabilizer`) and ``states``
        (its ``estimate`` for each image, None for a first frame or a cut), each stylized frame is
        then blended with the previous output, in order, as ``stabilizer.apply`` does; on the
        device path with :meth:`~vidstyle.flow.stabilizer.FlowStabilizer.apply_tensor`, where the
        frames are.

        On CUDA the call returns once the work is queued: the frames (and the flow) go up on one
        side stream, the network (and the stabilizer) run on the current stream and the results
        come back on another, all through page-locked memory, so a caller that submits the next
        batch before taking this one's result has that batch's upload and this one's download
        overlap the network (the pipeline does). Elsewhere, and for a subclass that overrides
        :meth:`stylize_batch` or :meth:`stylize_tensor`, the work is done through
        :meth:`stylize_batch` before the call returns. The images may be reused as soon as it
        has returned."""
        self._check_open()  # before a stabilizer moves on
        if yuv420 is not None and not is_number(yuv420, integral=True):
            raise BadTypeError(f"yuv420 is a YUV matrix number (SWS_CS_*, e.g. 1 for BT.709) or None, got {yuv420!r}")
        matrix = None if yuv420 is None else rgb_to_yuv_matrix(int(yuv420))
        if states is not None and stabilizer is None:
            raise BadValueError("states are a stabilizer's estimates: give stabilizer= with them")
        if stabilizer is not None or matrix is not None:  # all checked before the network runs
            if isinstance(images, np.ndarray) and images.ndim == 3:
                images = images[None]  # one image, as host_batch takes it
            elif not isinstance(images, np.ndarray) and hasattr(images, "__iter__"):
                images = list(images)  # (a generator: counted here, stacked below)
            if not hasattr(images, "__len__"):
                raise BadTypeError(f"expected uint8 (H, W, 3) images (a sequence or a (B, H, W, 3) array), "
                                   f"got {type(images).__name__}")
        if matrix is not None:
            # (H, W, 3) images only: a (3, H, W) one was said to be of odd size, 90x3 for (3, 90, 160);
            # what is no image at all is said as such by stylize_batch's checks
            odd = next((s for s in map(np.shape, images) if len(s) == 3 and s[2] == 3 and (s[0] % 2 or s[1] % 2)),
                       None)
            if odd is not None:
                raise BadValueError(f"yuv420 needs even frame sizes, got a {odd[1]}x{odd[0]} image")
        if stabilizer is not None:  # ... and before the stabilizer moves on
            from vidstyle.flow.stabilizer import FlowStabilizer, FlowState

            if not isinstance(stabilizer, FlowStabilizer):
                raise BadTypeError(f"stabilizer must be a FlowStabilizer, got {type(stabilizer).__name__}")
            if states is not None and not hasattr(states, "__len__") and hasattr(states, "__iter__"):
                states = list(states)
            if states is None or not hasattr(states, "__len__") or len(states) != len(images):
                raise BadValueError(f"with a stabilizer, give states: one FlowState (or None) per image "
                                    f"({len(images)} here)")
            wrong = next((s for s in states if s is not None and not isinstance(s, FlowState)), None)
            if wrong is not None:
                raise BadTypeError(f"states are FlowStabilizer.estimate's FlowStates (or None), got "
                                   f"{type(wrong).__name__}")
        if not self._on_device_path or (stabilizer is not None and not stabilizer.applies_to_tensors):
            styled = self.stylize_batch(images)
            if stabilizer is not None:
                styled = np.stack([stabilizer.apply(image, state) for image, state in zip(styled, states)])
            if matrix is None:
                return PendingImages(styled)
            return PendingImages(float_to_yuv420(images_to_tensor(styled), matrix).numpy())
        return self._submit_on_device(images, matrix, stabilizer, states)

    def _submit_on_device(self, images, matrix: np.ndarray | None, stabilizer, states) -> "PendingImages":
        """:meth:`submit_batch`'s device path: on CUDA with its streams and page-locked copies; on
        another device (the tests) the same steps, done in turn."""
        cuda = self.device.type == "cuda"
        upload, download = self._copy_streams() if cuda else (None, None)
        on_upload = torch.cuda.stream(upload) if cuda else contextlib.nullcontext()
        host = host_batch(images, pin_memory=cuda)
        with on_upload:
            x = uint8_to_float(host.to(self.device, non_blocking=cuda))
            # read here, the contrast waits for this upload only, not for the network's previous batch
            contrast = self._contrast_of(x)
            guides = None if stabilizer is None else [
                None if state is None else stabilizer.guide_tensors(state, self.device, pin_memory=cuda)
                for state in states]
        if cuda:
            compute = torch.cuda.current_stream(self.device)
            compute.wait_stream(upload)
            # made on the upload stream: their memory is not reused before the compute stream is done
            for tensor in (x, *(t for pair in guides or () if pair is not None for t in pair)):
                tensor.record_stream(compute)
        styled = self._stylize_float(x, contrast)
        if stabilizer is not None:  # in frame order: each frame is blended with the one before
            levels = styled.clamp(0.0, 1.0).mul_(255.0).round_()  # as float_to_uint8 rounds
            levels = torch.cat([stabilizer.apply_tensor(levels[k:k + 1], state, guide)
                                for k, (state, guide) in enumerate(zip(states, guides))])
            styled = levels.div_(255.0)
        y = float_to_uint8(styled) if matrix is None else float_to_yuv420(styled, matrix)
        if not cuda:
            return PendingImages(y.cpu().numpy())
        out = torch.empty(y.shape, dtype=torch.uint8, pin_memory=True)
        download.wait_stream(compute)
        with torch.cuda.stream(download):
            out.copy_(y, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record(download)
        y.record_stream(download)
        return PendingImages(out.numpy(), copied)

    def _copy_streams(self) -> tuple[torch.cuda.Stream, torch.cuda.Stream]:
        """The (upload, download) CUDA streams of :meth:`submit_batch`, made at the first call."""
        streams = getattr(self, "_streams", None)
        if streams is None:
            streams = self._streams = (torch.cuda.Stream(self.device), torch.cuda.Stream(self.device))
        return streams

    def stylize(self, image: np.ndarray) -> np.ndarray:
        """One uint8 (H, W, 3) RGB image -> stylized uint8 (H, W, 3)."""
        return self.stylize_batch(check_image(image)[None])[0]

    def stylize_iter(self, images: Iterable[np.ndarray], batch_size: int = 1, *, temporal: str = "off",
                     temporal_strength: float | None = None) -> Iterator[np.ndarray]:
        """Stylize a stream of uint8 (H, W, 3) RGB images lazily, ``batch_size`` at a time, yielding
        one stylized image per input, in order.

        Args:
            images: any iterable; each image is copied when it is taken, so a producer may refill
                one buffer (``cv2.VideoCapture.read(image=buf)``). Sizes may change along the
                stream: a batch ends early where the size changes.
            batch_size: images per network call (more is faster on a GPU; see ``default_batch``).
            temporal: ``"flow"`` runs the flow stabilizer over the stream, as ``vidstyle stylize
                --temporal flow`` does (each output blended with the previous one, warped by the
                input frames' optical flow; restarted at scene cuts and size changes); ``"off"``
                (default) stylizes each image alone. Here the flow runs in turn with the network;
                :func:`vidstyle.pipeline.stylize_video` overlaps them.
            temporal_strength: the stabilizer's strength in [0, 1]; None: the style's own.

        Raises (at the call, not at the first image):
            BadTypeError: ``images`` is not iterable (None, a number).
            BadValueError: a batch size below 1, one array that is not a (B, H, W, 3) stack (a
                single image); later, an image that is not uint8 (H, W, 3).
            VidstyleError: an unknown ``temporal`` mode or a strength outside [0, 1].
        """
        if isinstance(images, np.ndarray) and images.ndim != 4:  # one frame would be read row by row
            raise BadValueError(f"stylize_iter takes an iterable of uint8 (H, W, 3) images (a list, or a "
                                f"(B, H, W, 3) array), got one array of shape {images.shape} (stylize() takes "
                                "one image)")
        try:
            images = iter(images)
        except TypeError:
            raise BadTypeError(f"stylize_iter takes an iterable of uint8 (H, W, 3) images, got {images!r}") from None
        self._check_open()  # at the call, as every check here
        # a wrong kind ("2") is a TypeError, as every other setting's: it was a ValueError
        check_number("batch_size", batch_size, "a whole number, at least 1", lambda v: v >= 1, integral=True,
                     optional=False)
        check_temporal(temporal, temporal_strength)
        stabilizer = flow_stabilizer(self, temporal_strength) if temporal == "flow" else None
        return self._stylize_stream(images, int(batch_size), stabilizer)

    def _stylize_stream(self, images: Iterable[np.ndarray], batch_size: int, stabilizer) -> Iterator[np.ndarray]:
        buf: list[np.ndarray] = []
        prev_input = None

        def flush():
            nonlocal prev_input
            if stabilizer is None:
                yield from self.stylize_batch(buf)
                return
            states = []
            for img in buf:
                states.append(None if prev_input is None else stabilizer.estimate(prev_input, img))
                prev_input = img
            # blended where the frames are: on CUDA, on the GPU (see submit_batch)
            yield from self.submit_batch(buf, stabilizer=stabilizer, states=states).result()

        for img in images:
            if buf and np.shape(img) != buf[0].shape:
                yield from flush()
                buf = []
            # copied: the producer may reuse its buffer before the batch is full (and the
            # stabilizer compares each image with the one before)
            buf.append(check_image(img).copy())
            if len(buf) == batch_size:
                yield from flush()
                buf = []
        if buf:
            yield from flush()


class PendingImages:
    """Stylized images of :meth:`Stylizer.submit_batch`, maybe still on their way from the device."""

    def __init__(self, images: np.ndarray, copied: "torch.cuda.Event | None" = None):
        self._images, self._copied = images, copied
        #: whether the work runs on while the caller goes on (CUDA): worth taking the result late
        self.overlapped = copied is not None

    def result(self) -> np.ndarray:
        """The stylized frames (uint8 (B, H, W, 3), or (B, H * 3 / 2, W) yuv420p where asked for),
        once the device has finished them."""
        if self._copied is not None:
            self._copied.synchronize()
            self._copied = None
        return self._images


def flow_stabilizer(stylizer, strength: float | None = None, flow_backend: str = "dis", flow_weights=None):
    """A :class:`~vidstyle.flow.stabilizer.FlowStabilizer` for ``stylizer``'s output, at ``strength``
    or else the style's own (its zoo entry's, :data:`~vidstyle.config.DEFAULT_TEMPORAL_STRENGTH`
    for users' files and objects that are not a :class:`Stylizer`), its flow from ``flow_backend``
    (with ``flow_weights``, the file RAFT needs: :func:`vidstyle.config.check_flow_backend`); None
    at strength 0, where the blend would return every frame unchanged and the flow would be wasted."""
    from vidstyle.flow.stabilizer import FlowStabilizer

    if strength is None:
        strength = own_temporal_strength(stylizer)
    check_temporal("flow", strength, "temporal strength")
    check_flow_backend(flow_backend, flow_weights)
    if strength == 0:
        return None
    if flow_backend == "dis" and flow_weights is None:  # the default, as FlowStabilizer's own
        return FlowStabilizer(strength)
    options = {} if flow_weights is None else {"weights": flow_weights}
    if flow_backend == "raft" and getattr(stylizer, "device", None) is not None:
        options["device"] = str(stylizer.device)  # the network's device (--device), not RAFT's own "auto"
    return FlowStabilizer(strength, flow=flow_backend, flow_options=options)


def own_temporal_strength(stylizer) -> float:
    """The flow stabilizer's strength ``stylizer``'s style asks for: its zoo entry's
    (:func:`vidstyle.models.zoo.temporal_strength_for`), :data:`~vidstyle.config.DEFAULT_TEMPORAL_STRENGTH`
    for users' files and objects that are not a :class:`Stylizer`."""
    from vidstyle.models.zoo import temporal_strength_for

    return temporal_strength_for(getattr(getattr(stylizer, "choice", None), "path", None))
