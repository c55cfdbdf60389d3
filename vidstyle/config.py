"""Frozen configuration dataclasses shared by the library, the CLI and saved next to weights."""
from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the settings are made and checked without torch (the command line's --help)
    import torch

#: ``--precision`` values of every command (inference commands add "int8"); resolved by vidstyle.device.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
#: ``--backend`` values: network runtimes of vidstyle.stylizer.Stylizer.
BACKENDS = ("auto", "torch", "compile", "onnx")
#: The largest ``scale`` (``--scale``): the network at 8x the frame is already far past where its
#: strokes stop looking like a painting's.
MAX_SCALE = 8
#: The flow stabilizer's strength for a style whose zoo entry names none, for users' own files and
#: for a FlowStabilizer made without one (here, not in vidstyle.models.zoo, so vidstyle.flow needs
#: no import of the model zoo).
DEFAULT_TEMPORAL_STRENGTH = 0.5
#: ``--temporal`` values: no stabilizer, or the flow stabilizer (vidstyle.flow.stabilizer).
TEMPORAL_MODES = ("off", "flow")
#: Seconds a style change of a style timeline (``--style-at``, vidstyle.timeline) dissolves over by
#: default: long enough to read as a transition, short enough that the two styles are not mixed for
#: long (a mix of two paintings looks like neither).
DEFAULT_CROSSFADE = 1.0
#: ``--bars`` values: keep the input's black bars, or stylize the whole frame.
BARS_MODES = ("keep", "stylize")
#: sdr: tone-map HDR video to SDR (vidstyle.io.hdr); keep: its coded values as they are
HDR_MODES = ("sdr", "keep")
#: Longest ``vidstyle eval --long-term`` gap: the frames in between are held in memory.
MAX_LONG_TERM = 10_000
#: Version of ``vidstyle eval``'s JSON layout: raised when a field changes meaning or goes away.
#: 2: scene-cut pairs left out of the errors (cut_pairs says how many); 3: an input's black bars
#: left out of the errors and of valid_fraction (bars says which). Here, not in vidstyle.eval, so
#: that eval's --help names it without importing torch.
EVAL_SCHEMA = 3
#: Version of ``vidstyle stylize --stats-json``'s layout: raised when a field changes meaning or goes
#: away (here beside EVAL_SCHEMA, for stylize's --help without torch).
STYLIZE_STATS_SCHEMA = 1
#: Version of ``vidstyle live --stats-json``'s layout (:class:`vidstyle.live.LiveSummary`'s fields after
#: ``schema``), raised as the others are.
LIVE_STATS_SCHEMA = 1
#: ``vidstyle eval --painting`` scores style on every this-many-th frame (``--style-every``)
STYLE_EVERY = 4
#: The ONNX opset ``vidstyle export`` writes by default, the oldest it writes (nearest-neighbour
#: upsampling exports as Resize from opset 11) and the newest: torch's TorchScript exporter's
#: (ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET, 20 in every torch vidstyle takes; tests/test_export.py
#: checks it against the torch installed). Here, not read from torch, so that --opset is refused as
#: it is parsed, not seconds later once torch and the network are loaded.
DEFAULT_OPSET = 17
MIN_OPSET = 11
MAX_OPSET = 20
#: The video encoders vidstyle writes with (``--codec``; vidstyle.io.encode says which containers
#: take each). Here, not in vidstyle.io.encode, so that stylize's --help lists them without
#: importing PyAV: the help once named seven and the error for a wrong one nine.
VIDEO_CODECS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "h264_nvenc", "hevc_nvenc", "prores_ks", "gif",
                "libwebp")
#: The encoder for an output's suffix when none is asked for (vidstyle.io.codecs.default_codec):
#: VP9 for WebM (which holds only VP8, VP9 and AV1), GIF's and WebP's own for animations, and
#: ``DEFAULT_CODECS[None]`` for every other container.
DEFAULT_CODECS = {".webm": "libvpx-vp9", ".gif": "gif", ".webp": "libwebp", None: "libx264"}


def is_number(value, integral: bool = False) -> bool:
    """Whether ``value`` is a real (with ``integral``, a whole) number, NumPy's included; a bool is
    not one here: ``scale=True`` is a mistake, not 1."""
    return isinstance(value, numbers.Integral if integral else numbers.Real) and not isinstance(value, bool)


def refuse(name: str, value, what: str, wrong_kind: bool):
    """Raise the error for ``name``'s ``value``: a :class:`~vidstyle.errors.BadTypeError` (also a
    TypeError) for a value of the wrong kind, a :class:`~vidstyle.errors.BadValueError` (also a
    ValueError) for one of the right kind out of range, so Python code's ``except`` catches each
    as it expects; both are VidstyleErrors, one line on the command line."""
    from vidstyle.errors import BadTypeError, BadValueError

    raise (BadTypeError if wrong_kind else BadValueError)(f"{name} must be {what}, got {value!r}")


def check_number(name: str, value, what: str, in_range=lambda v: True, *, integral: bool = False,
                 optional: bool = True, finite: bool = True):
    """``value`` if it is a (with ``integral``, whole) number that ``in_range`` accepts, finite
    unless not ``finite`` (never NaN), or None when ``optional``; else :func:`refuse` says
    ``name`` "must be ``what``"."""
    if value is None and optional:
        return value
    if not is_number(value, integral=integral):
        refuse(name, value, what, wrong_kind=True)
    # A whole number is finite however long: math.isfinite would convert it to a float, which
    # overflows past about 309 digits (--crf 999...9 ended in an OverflowError)
    whole = isinstance(value, numbers.Integral)
    if not integral and not fits_a_float(value):
        # a number that is not a count is used as a float (float(value)): start=10 ** 400 ended in
        # an OverflowError from deep inside (not shown: repr() fails past 4300 digits), and so did
        # a Fraction as large (math.isfinite converts it)
        from vidstyle.errors import BadValueError

        raise BadValueError(f"{name} must be {what}, got a {'whole ' if whole else ''}number too large for a float")
    if not ((whole or (math.isfinite(value) if finite else not math.isnan(value))) and in_range(value)):
        refuse(name, value, what, wrong_kind=False)
    return value


def check_frame_count(name: str, value, optional: bool = True):
    """``value`` if it is a whole number of frames, at least 1 (or None when ``optional``): the one
    check of every count of frames an API takes (``max_frames``, ``every``, a sample ``count``, a
    preview's ``frames``), as ``--max-frames`` is checked."""
    return check_number(name, value, "a whole number of frames, at least 1", lambda v: v >= 1, integral=True,
                        optional=optional)


def fits_a_float(value: numbers.Real) -> bool:
    """Whether the number ``value`` converts to a float: a whole number of more than about 309
    digits overflows (an OverflowError, where a number out of range is a ValueError)."""
    try:
        float(value)
    except OverflowError:
        return False
    return True


def check_flag(name: str, value) -> bool:
    """``value`` as a plain bool if it is True or False, NumPy's included (``mask.any()``, taken
    as keyword options take it); "no" or 0 would otherwise pass for a choice."""
    # by its type's name: NumPy's bool is np.bool_ (numpy.bool from NumPy 2), and this module
    # imports no numpy
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool")
    if not (isinstance(value, bool) or numpy_bool):
        refuse(name, value, "True or False", wrong_kind=True)
    return bool(value)


def check_callback(name: str, function: Callable, call: str, *arguments: object) -> None:
    """Refuse a callback that cannot be called with ``arguments`` (as its caller will pass them,
    described by ``call``: ``progress(done, total), two arguments``) with a BadTypeError naming
    its signature: it failed at its first call, after the work up to it and often in another
    thread, with a bare TypeError."""
    import inspect

    from vidstyle.errors import BadTypeError

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some built-ins say none: tried at the first call as before
        return
    try:
        signature.bind(*arguments)
    except TypeError:
        shown = getattr(function, "__name__", type(function).__name__)
        raise BadTypeError(f"{name} is called as {call}; {shown}{signature} cannot take them") from None


def check_choice(what: str, value, choices: tuple) -> str:
    """``value`` if it is one of ``choices``, else "unknown ``what`` 'x' (use a or b)": a
    BadValueError, or a BadTypeError for a value that is not a string at all."""
    from vidstyle.errors import BadTypeError, BadValueError

    if not isinstance(value, str) or value not in choices:
        error = BadValueError if isinstance(value, str) else BadTypeError
        raise error(f"unknown {what} {value!r} (use {', '.join(choices[:-1])} or {choices[-1]})")
    return value


def check_temporal(mode: str = "flow", strength=None, name: str = "temporal_strength") -> None:
    """The one check of a stabilizer mode (:data:`TEMPORAL_MODES`) and strength (None: the
    style's own, else a number in [0, 1]), for StylizeConfig, Stylizer.stylize_iter and
    FlowStabilizer."""
    check_choice("temporal mode", mode, TEMPORAL_MODES)
    check_number(name, strength, "a number between 0 and 1", lambda v: 0.0 <= v <= 1.0)


def check_flow_backend(backend: str = "dis", weights=None) -> None:
    """The one check of the stabilizer's flow backend (``dis``, ``raft`` or one registered with
    :func:`vidstyle.flow.estimate.register_flow_backend`) and its weights file: RAFT needs the one
    the user supplies (nothing is downloaded), DIS takes none."""
    from vidstyle.errors import BadValueError

    if backend not in ("dis", "raft"):  # a registered one: import the registry only then (torch)
        from vidstyle.flow.estimate import FLOW_BACKENDS

        check_choice("flow backend", backend, tuple(FLOW_BACKENDS))
    if weights is not None and not (isinstance(weights, (str, os.PathLike)) and str(weights).strip()):
        refuse("flow_weights", weights, "a file path", wrong_kind=not isinstance(weights, (str, os.PathLike)))
    if backend == "raft" and weights is None:
        raise BadValueError("the raft flow backend needs its weights file (--flow-weights FILE: a torchvision "
                            "raft_large or raft_small state dict; vidstyle downloads nothing)")
    if backend == "dis" and weights is not None:
        raise BadValueError("--flow-weights is for a flow backend with weights (raft); DIS needs none")


def check_look(style_strength=1.0, keep_colors=False) -> None:
    """The one check of the two controls of how a stylized frame looks (see
    :func:`vidstyle.stylizer.blend_style`): ``style_strength`` a number in [0, 1], ``keep_colors``
    a bool."""
    check_number("style_strength", style_strength, "a number between 0 and 1", lambda v: 0.0 <= v <= 1.0,
                 optional=False)
    check_flag("keep_colors", keep_colors)


#: The most frames a network call takes (``--batch``): a batch's frames are held together, 400 MB
#: of 1080p frames at 64 before the network's activations, and larger batches ran no faster anywhere
#: measured (benchmarks/RESULTS.md: batch 8 at best on an H200, 1-4 on CPUs). A typo (--batch
#: 100000) held the whole video in memory, 2.4 GB for 4 s of 360p.
MAX_BATCH = 64
#: The most items each of the pipeline's queues holds between two stages (StylizeConfig.queue_size;
#: default 8): for the same reason, a typo must not let decoding run a whole video ahead. Large frames
#: are held fewer at a time (vidstyle.pipeline.queue_depth: at most about 64 MB of frames a queue,
#: never fewer than a batch): 8 at 1080p, 2 at 4K.
MAX_QUEUE_SIZE = 64
#: The fewest pixels of a picture's side vidstyle scales to (--downscale, --max-side, preview's --width).
MIN_SIDE = 16


#: The largest capture width or height accepted (8K UHD is 7680x4320): a typo such as 64000x480
#: would otherwise fail only when the first frame's buffers are allocated.
MAX_CAPTURE_SIDE = 8192


def parse_size(text: str, at_least: int = 1, at_most: int = MAX_CAPTURE_SIDE, what: str = "size") -> tuple[int, int]:
    """``640x480`` -> (640, 480) = (width, height), each side ``at_least`` to ``at_most`` pixels
    (the one reading of WIDTHxHEIGHT: capture sizes, and the benchmark's resolutions). Here, not
    beside the capture that uses it: argparse reads `vidstyle live --size` before the command
    runs, and importing vidstyle.io.capture then loaded PyAV before OpenCV, which live refuses
    (OpenCV's window hangs: see vidstyle.live), so every `live --size` with a window failed."""
    from vidstyle.errors import VidstyleError

    w, sep, h = text.strip().lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < max(1, at_least):
        raise VidstyleError(f"bad {what} {text!r}: expected WIDTHxHEIGHT, two whole numbers of pixels "
                            f"{f'of at least {at_least}' if at_least > 1 else 'above 0'}, such as 640x480")
    if max(size) > at_most:
        raise VidstyleError(f"bad {what} {text!r}: at most {at_most} pixels a side")
    return size


def check_downscale(value) -> int | None:
    """``value`` if it is None or a whole number of pixels, at least :data:`MIN_SIDE` (the output's
    longer side, StylizeConfig.downscale)."""
    return check_number("downscale", value, f"a whole number of pixels, at least {MIN_SIDE}",
                        lambda v: v >= MIN_SIDE, integral=True)


def check_segment(start, duration) -> None:
    """Refuse a segment of an input (``start`` and ``duration`` in seconds, either None) that is no
    number or out of range: the one check of every API that takes a segment (StylizeConfig,
    ``style_sheet``, ``VideoDecoder``, ``Matte``)."""
    check_number("start", start, "a number of seconds >= 0", lambda v: v >= 0)
    check_number("duration", duration, "a number of seconds > 0", lambda v: v > 0)


def check_max_side(value) -> int | None:
    """``value`` if it is None or a whole number of pixels, at least :data:`MIN_SIDE` (the longer
    side the network runs at): below it the painting's strokes cannot show, and a typo (5 for 500)
    went unnoticed as a blur of colours."""
    return check_number("max_side", value, f"a whole number of pixels, at least {MIN_SIDE}",
                        lambda v: v >= MIN_SIDE, integral=True)


def check_bars_mode(mode) -> str:
    """``mode`` if it is one of :data:`BARS_MODES`."""
    return check_choice("bars mode", mode, BARS_MODES)


def check_hdr_mode(mode) -> str:
    """``mode`` if it is one of :data:`HDR_MODES`."""
    return check_choice("hdr mode", mode, HDR_MODES)


#: The device names vidstyle takes (``vidstyle.device.resolve_device`` reads them): ``auto`` has no index.
DEVICE_NAME = r"auto|(cpu|mps|cuda)(:\d{1,4})?"


def is_torch_device(value) -> bool:
    """Whether ``value`` is a torch.device, told without importing torch."""
    return type(value).__name__ == "device" and type(value).__module__.startswith("torch")


def check_device_name(device) -> None:
    """A device as StylizeConfig takes it: a torch.device, or a name of the form
    ``vidstyle.device.resolve_device`` resolves (auto, cpu, cuda, cuda:N, mps). Whether that
    device exists is its question, asked when a network is placed (it needs torch)."""
    if is_torch_device(device):
        return
    if not isinstance(device, str):
        refuse("device", device, "a name such as 'cpu' or 'cuda:0' or a torch.device", wrong_kind=True)
    if not re.fullmatch(DEVICE_NAME, device.strip().lower()):
        refuse("device", device, "auto, cpu, cuda, cuda:N or mps", wrong_kind=False)


@dataclass(frozen=True)
class EncodeConfig:
    """How the stylized stream is encoded (see ``vidstyle stylize --help``)."""

    codec: str | None = None  # None: the output container's usual codec (vidstyle.io.codecs.default_codec)
    crf: int | None = 18
    preset: str | None = "medium"
    # None: the codec's usual (vidstyle.io.codecs.requested_pix_fmt): yuv420p; ProRes yuv422p10le;
    # its alpha format (yuva444p10le, yuva420p) for an input with transparency, where it can go
    pix_fmt: str | None = None
    audio: bool = True
    subtitles: bool = True  # the input's subtitle tracks (and the fonts attached for them)
    # encode as fast as a live feed needs, for some size: VP9's real-time mode, WebP's lightest
    # compression (about 4x faster each; vidstyle live's recordings)
    realtime: bool = False

    def __post_init__(self):
        # the kinds here; the codec's own ranges and names when the encoder opens
        # (vidstyle.io.encode), which says what that codec takes
        for name in ("codec", "preset", "pix_fmt"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                refuse(name, value, "a name (a string) or None", wrong_kind=True)
        check_number("crf", self.crf, "a whole number (its range is the codec's)", integral=True)
        for name in ("audio", "subtitles", "realtime"):  # stored as plain bools, as keyword options are
            object.__setattr__(self, name, check_flag(name, getattr(self, name)))


@dataclass(frozen=True)
class StylizeConfig:
    """How frames are stylized: network placement, resolution, segment and temporal smoothing."""

    device: str | torch.device = "auto"  # a name (check_device_name) or a torch.device
    precision: str = "auto"
    # None: 4, but on the CPU 1 for the standard network, whose full-resolution activations
    # outgrow the caches in a batch, and under ONNX Runtime, and fewer for large frames
    # (vidstyle.pipeline.default_batch)
    batch: int | None = None
    channels_last: bool = True
    backend: str = "auto"
    max_side: int | None = None
    scale: float | None = None
    start: float | None = None
    duration: float | None = None
    # frame rate of an image-sequence input (a folder of frames, vidstyle.io.sequence); None: 24.
    # Files have their own.
    sequence_fps: float | str | None = None  # or text: "30000/1001" (vidstyle.io.sequence.sequence_fps)
    # on by default: it always lowered the warping error in benchmarks/RESULTS.md, and the only halo
    # seen in the side-by-side clip was already in the network's per-frame output
    temporal: str = "flow"
    # None: the style's own (vidstyle.models.zoo.temporal_strength_for: DEFAULT_TEMPORAL_STRENGTH
    # unless its zoo entry names the strength measured best for it)
    temporal_strength: float | None = None
    # the stabilizer's optical flow: DIS (OpenCV, no weights), or torchvision RAFT from the weights
    # file the user supplies (flow_weights), or a backend registered with register_flow_backend
    flow_backend: str = "dis"
    flow_weights: str | os.PathLike | None = None
    # keep: find letterbox/pillarbox bars (vidstyle.letterbox), stylize only the picture between
    # them and keep the input's bars; stylize: paint the whole frame, bars included
    bars: str = "keep"
    # how much of the style each frame gets: 1 the network's output, 0 the input frame
    # (vidstyle.stylizer.blend_style)
    style_strength: float = 1.0
    # the input's colours under the network's brightness and strokes (its luma, the input's chroma)
    keep_colors: bool = False
    # sdr: tone-map HDR video (PQ, HLG) to the SDR pictures the styles were trained on, written as
    # SDR BT.709; keep: paint its coded values and tag the output as the input (vidstyle.io.hdr)
    hdr: str = "sdr"
    # the output's longer side at most this many pixels (a 4K clip written as 1080p with 1920):
    # frames are scaled down as they are decoded, so every stage works at that size; None: as the input
    downscale: int | None = None
    # a matte: an image, a video or a folder of frames whose white (or opaque, with an alpha
    # channel) parts are stylized and black parts keep the input, mixed after the stabilizer
    # (vidstyle.mask); invert_mask swaps the two
    mask: str | os.PathLike | None = None
    invert_mask: bool = False
    # the most frames each queue between two stages holds; fewer for large frames (MAX_QUEUE_SIZE)
    queue_size: int = 8

    def __post_init__(self):
        # every field checked when made (and by dataclasses.replace), not when a run first uses it
        check_device_name(self.device)
        check_choice("precision", self.precision, PRECISIONS + ("int8",))
        check_number("batch", self.batch, f"a whole number from 1 to {MAX_BATCH}", lambda v: 1 <= v <= MAX_BATCH,
                     integral=True)
        check_number("queue_size", self.queue_size, f"a whole number from 1 to {MAX_QUEUE_SIZE}",
                     lambda v: 1 <= v <= MAX_QUEUE_SIZE, integral=True)
        check_max_side(self.max_side)
        # flags stored as plain bools (NumPy's taken too), as keyword options are
        object.__setattr__(self, "channels_last", check_flag("channels_last", self.channels_last))
        check_choice("backend", self.backend, BACKENDS)
        check_number("scale", self.scale, f"a number > 0 and at most {MAX_SCALE}", lambda v: 0 < v <= MAX_SCALE)
        check_segment(self.start, self.duration)
        check_temporal(self.temporal, self.temporal_strength)
        check_flow_backend(self.flow_backend, self.flow_weights)
        check_look(self.style_strength, self.keep_colors)
        object.__setattr__(self, "keep_colors", bool(self.keep_colors))
        if self.sequence_fps is not None:
            from vidstyle.io.sequence import sequence_fps

            sequence_fps(self.sequence_fps)  # a VidstyleError for 0, a negative or a non-number
        check_hdr_mode(self.hdr)
        check_bars_mode(self.bars)
        check_downscale(self.downscale)
        if self.mask is not None and not (isinstance(self.mask, (str, os.PathLike)) and str(self.mask).strip()):
            refuse("mask", self.mask, "a file or folder path", wrong_kind=not isinstance(self.mask, (str, os.PathLike)))
        object.__setattr__(self, "invert_mask", check_flag("invert_mask", self.invert_mask))

    def to_dict(self) -> dict:
        """Every field by name (:func:`dataclasses.asdict`): the settings to record beside a result."""
        return asdict(self)


#: ``vidstyle bench``'s named resolutions -> (height, width); here, beside its settings, so that
#: its --help lists them without importing torch
RESOLUTIONS = {"240p": (240, 426), "360p": (360, 640), "480p": (480, 854), "720p": (720, 1280),
               "1080p": (1080, 1920), "1440p": (1440, 2560), "2160p": (2160, 3840)}


@dataclass(frozen=True)
class BenchSettings:
    """What to measure (see ``vidstyle bench --help``); sequences are crossed into a grid.

    Frozen, as the run's other configs are: a variant is made with :func:`dataclasses.replace`.
    Sequences given as lists are stored as tuples, and one name given as a string (``models="light"``,
    which a ``Sequence[str]`` hint lets through) as a tuple of that name, not of its characters."""

    models: Sequence[str] = ("standard", "light")
    resolutions: Sequence[str] = ("360p", "720p", "1080p")
    devices: Sequence[str] = ("auto",)
    precisions: Sequence[str] | None = None  # None: DEFAULT_PRECISIONS of each device
    batches: Sequence[int] = (1,)
    channels_last: Sequence[bool] = (True,)
    backends: Sequence[str] = ("torch", "onnx")
    cuda_graphs: bool = False
    warmup: int = 3
    repeats: int = 7
    target_repeat_s: float = 0.25
    max_seconds: float = 20.0
    peers: bool = True
    clip: str | None = None
    clip_frames: int = 96
    pipeline_models: Sequence[str] = ("light",)
    pipeline_backend: str | None = None  # None: the fastest measured for the model (see choose_backend)
    pipeline_backend_reason: str | None = None  # why pipeline_backend (None: the user's --pipeline-backend)
    pipeline_batch: int | None = None  # None: what `vidstyle stylize` uses (vidstyle.pipeline.default_batch)
    # precisions of vidstyle's file-to-file runs: None is the one `--precision auto` picks; others
    # (e.g. int8, compiled and calibrated on frames of the clip) add rows named "vidstyle int8"
    pipeline_precisions: Sequence[str | None] = (None,)
    temporal: bool = True  # also run the pipeline with the flow stabilizer
    warping_frames: int = 30
    notes: Sequence[str] = ()

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
            elif isinstance(value, str) and "Sequence" in str(f.type):  # (clip, a string field, stays one)
                object.__setattr__(self, f.name, (value,))
