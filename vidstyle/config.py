"""Frozen configuration dataclasses shared by the library, the CLI and saved next to weights."""
from __future__ import annotations

import numbers
import os
from dataclasses import asdict, dataclass

#: ``--precision`` values of every command (inference commands add "int8"); resolved by vidstyle.device.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
#: ``--backend`` values: network runtimes of vidstyle.stylizer.Stylizer.
BACKENDS = ("auto", "torch", "compile", "onnx")
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


def is_number(value, integral: bool = False) -> bool:
    """Whether ``value`` is a real (with ``integral``, a whole) number, NumPy's included; a bool is
    not one here: ``scale=True`` is a mistake, not 1."""
    return isinstance(value, numbers.Integral if integral else numbers.Real) and not isinstance(value, bool)


def check_temporal(mode: str = "flow", strength=None, name: str = "temporal_strength") -> None:
    """The one check of a stabilizer mode (:data:`TEMPORAL_MODES`) and strength (None: the
    style's own, else a number in [0, 1]), for StylizeConfig, Stylizer.stylize_iter and
    FlowStabilizer; a VidstyleError naming the value otherwise."""
    from vidstyle.errors import VidstyleError

    if mode not in TEMPORAL_MODES:
        raise VidstyleError(f"unknown temporal mode {mode!r} (use {' or '.join(TEMPORAL_MODES)})")
    if strength is not None and not (is_number(strength) and 0.0 <= strength <= 1.0):
        raise VidstyleError(f"{name} must be a number between 0 and 1, got {strength!r}")


def check_look(style_strength=1.0, keep_colors=False) -> None:
    """The one check of the two controls of how a stylized frame looks (see
    :func:`vidstyle.stylizer.blend_style`): ``style_strength`` a number in [0, 1], ``keep_colors``
    a bool; a VidstyleError naming the value otherwise."""
    from vidstyle.errors import VidstyleError

    if not (is_number(style_strength) and 0.0 <= style_strength <= 1.0):
        raise VidstyleError(f"style_strength must be a number between 0 and 1, got {style_strength!r}")
    if not isinstance(keep_colors, bool):  # "no" or 0 would otherwise pass for a choice
        raise VidstyleError(f"keep_colors must be True or False, got {keep_colors!r}")


def check_downscale(value) -> int | None:
    """``value`` if it is None or a whole number of pixels, at least 16 (the output's longer side,
    StylizeConfig.downscale), else a VidstyleError naming it."""
    from vidstyle.errors import VidstyleError

    if value is not None and not (is_number(value, integral=True) and value >= 16):
        raise VidstyleError(f"downscale must be a whole number of pixels, at least 16, got {value!r}")
    return value


def check_bars_mode(mode) -> str:
    """``mode`` if it is one of :data:`BARS_MODES`, else a VidstyleError naming it."""
    from vidstyle.errors import VidstyleError

    if mode not in BARS_MODES:
        raise VidstyleError(f"unknown bars mode {mode!r} (use {' or '.join(BARS_MODES)})")
    return mode


def check_hdr_mode(mode) -> str:
    """``mode`` if it is one of :data:`HDR_MODES`, else a VidstyleError naming it."""
    from vidstyle.errors import VidstyleError

    if mode not in HDR_MODES:
        raise VidstyleError(f"unknown hdr mode {mode!r} (use {' or '.join(HDR_MODES)})")
    return mode


@dataclass(frozen=True)
class EncodeConfig:
    """How the stylized stream is encoded (see ``vidstyle stylize --help``)."""

    codec: str | None = None  # None: the output container's usual codec (vidstyle.io.encode.default_codec)
    crf: int | None = 18
    preset: str | None = "medium"
    # None: the codec's usual (vidstyle.io.encode.requested_pix_fmt): yuv420p; ProRes yuv422p10le;
    # its alpha format (yuva444p10le, yuva420p) for an input with transparency, where it can go
    pix_fmt: str | None = None
    audio: bool = True
    subtitles: bool = True  # the input's subtitle tracks (and the fonts attached for them)
    # encode as fast as a live feed needs, for some size: VP9's real-time mode, WebP's lightest
    # compression (about 4x faster each; vidstyle live's recordings)
    realtime: bool = False


@dataclass(frozen=True)
class StylizeConfig:
    """How frames are stylized: network placement, resolution, segment and temporal smoothing."""

    device: str = "auto"
    precision: str = "auto"
    # None: 4, but on the CPU 1 for the standard network, whose full-resolution activations
    # outgrow the caches in a batch, and fewer for large frames (vidstyle.pipeline.default_batch)
    batch: int | None = None
    channels_last: bool = True
    backend: str = "auto"
    max_side: int | None = None
    scale: float | None = None
    start: float | None = None
    duration: float | None = None
    # frame rate of an image-sequence input (a folder of frames, vidstyle.io.sequence); None: 24.
    # Files have their own.
    sequence_fps: float | None = None
    # on by default: it always lowered the warping error in benchmarks/RESULTS.md, and the only halo
    # seen in the side-by-side clip was already in the network's per-frame output
    temporal: str = "flow"
    # None: the style's own (vidstyle.models.zoo.temporal_strength_for: DEFAULT_TEMPORAL_STRENGTH
    # unless its zoo entry names the strength measured best for it)
    temporal_strength: float | None = None
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
    queue_size: int = 8

    def __post_init__(self):
        # checked when made (and by dataclasses.replace), not when a run first uses the value
        from vidstyle.errors import VidstyleError

        for name in ("batch", "queue_size"):
            value = getattr(self, name)
            if value is not None and not (is_number(value, integral=True) and value >= 1):
                raise VidstyleError(f"{name} must be a whole number of at least 1, got {value!r}")
        check_temporal(self.temporal, self.temporal_strength)
        check_look(self.style_strength, self.keep_colors)
        if self.sequence_fps is not None:
            from vidstyle.io.sequence import sequence_fps

            sequence_fps(self.sequence_fps)  # a VidstyleError for 0, a negative or a non-number
        check_hdr_mode(self.hdr)
        check_bars_mode(self.bars)
        check_downscale(self.downscale)
        if self.mask is not None and not (isinstance(self.mask, (str, os.PathLike)) and str(self.mask).strip()):
            raise VidstyleError(f"mask must be a file or folder path, got {self.mask!r}")
        if not isinstance(self.invert_mask, bool):
            raise VidstyleError(f"invert_mask must be True or False, got {self.invert_mask!r}")

    def to_dict(self) -> dict:
        return asdict(self)
