"""Which video encoder an output gets and how it is set up, checked before anything is stylized.

The codec for an output's name (:func:`default_codec`) and whether its container takes it
(:func:`codec_fits`, :func:`container_for`); the pixel format (:func:`requested_pix_fmt`, then
:func:`output_pix_fmt` for the frame size: 4:4:4 where a codec cannot store odd sizes in 4:2:0);
``--crf`` and ``--preset`` as each encoder names them (:func:`configure_encoder`); and the checks
:func:`check_encoding` runs on the options before a frame is decoded, with the hints for 10-bit
and 4:4:4 inputs (:func:`ten_bit_hint`, :func:`chroma_hint`). :class:`vidstyle.io.encode.VideoEncoder`
opens its stream with them; ``vidstyle stylize``, ``live``'s recordings and ``bench`` check with them.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

from vidstyle.config import DEFAULT_CODECS, VIDEO_CODECS, EncodeConfig
from vidstyle.errors import BadValueError, VidstyleError
from vidstyle.io.display import CHROMA_NAMES, component_bits, has_alpha
from vidstyle.io.ffmpeg_errors import explained, explained_error_text

log = logging.getLogger("vidstyle")

#: Intra-frame codecs for editing rather than delivery: quality set by a profile, not crf/preset.
INTERMEDIATE_CODECS = {"prores_ks"}
#: Animations (GIF, animated WebP), in their own containers, which hold no sound or subtitles;
#: no crf or preset either (GIF is lossless after its 256 colours; WebP at quality WEBP_QUALITY)
ANIMATION_CODECS = {"gif", "libwebp"}
SILENT_FORMATS = {"gif", "webp"}
#: libwebp's quality (0-100) for animated WebP: strokes stay crisp at a fraction of GIF's size
WEBP_QUALITY = 85
#: ProRes 422 HQ, the usual editing master; 4:4:4 input formats get ProRes 4444.
_PRORES_DEFAULT_PIX_FMT = "yuv422p10le"
#: The default pixel format of a codec that can keep an input's transparency, when the input has
#: one (ProRes 4444; VP9's alpha layer, which only Matroska/WebM hold): codec -> (suffixes, pix_fmt).
_ALPHA_PIX_FMTS = {"prores_ks": ((".mov", ".mkv"), "yuva444p10le"), "libvpx-vp9": ((".webm", ".mkv"), "yuva420p")}
#: The codecs each output container takes (FFmpeg 8's muxers, checked by writing each pair;
#: .m4v is FFmpeg's "ipod" flavour of MP4, which takes H.264 only). Matroska takes them all.
_CONTAINER_CODECS = {
    ".mp4": {"libx264", "libx265", "libvpx-vp9", "libsvtav1", "h264_nvenc", "hevc_nvenc"},
    ".m4v": {"libx264", "h264_nvenc"},
    ".mov": {"libx264", "libx265", "h264_nvenc", "hevc_nvenc", "prores_ks"},
    ".webm": {"libvpx-vp9", "libsvtav1"},
    ".mkv": set(VIDEO_CODECS) - ANIMATION_CODECS,
    ".gif": {"gif"},
    ".webp": {"libwebp"},
}
# Codecs that reject odd dimensions with subsampled chroma (and can store 4:4:4 instead); and
# prores_ks, which takes an odd width in 4:2:2 but codes width // 2 chroma columns, so the last
# one decodes as chroma 0: the right edge of a 161x91 ProRes 422 HQ was a bright green stripe
# three pixels wide (206 levels off). Odd widths of ProRes are written as ProRes 4444.
_EVEN_SIZE_CODECS = {"libx264", "libx265", "h264_nvenc", "hevc_nvenc", "prores_ks"}
# Frames this build's libsvtav1 never returns packets for, so the run hangs (SIGTERM included): a
# side under 25 pixels and the other over 64 (16x96, 24x65, 24x480, 96x24 and 128x16 hung; 16x64,
# 24x64, 25x65, 25x480, 28x480, 480x25 and 26x2000 are written: SVT pads a side to 8s, and hangs
# when the short one pads to under 32).
_SVT_AV1_SHORT_SIDE, _SVT_AV1_LONG_SIDE = 25, 64
# and frames with a side under 4 pixels it refuses to open on (2x2, 3x16, 1x64: "Forced Max Height
# must be at least 4" printed by SVT itself, then "bad parameter"); 4x4, 4x24 and 5x5 are written
_SVT_AV1_MIN_SIDE = 4
# libx265 refuses to open on a frame under 16 pixels on a side (1x1, 8x8, 15x40, 1000x14: "Image size
# is too small", once the first frame was stylized), at every preset and depth; --preset placebo under
# 32 (its transform depth needs a 32-pixel CTU: 24x24, 30x1000). 16x16, 16x1000 and placebo's 32x32 are written
_X265_MIN_SIDE, _X265_PLACEBO_MIN_SIDE = 16, 32
HARDWARE_CODECS = {"h264_nvenc", "hevc_nvenc"}
SAR_IN_BITSTREAM = {"libx264", "libx265", "h264_nvenc", "hevc_nvenc"}  # the VUI holds the pixel aspect
HEVC_ENCODERS = {"libx265", "hevc_nvenc"}
_X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# x264-style preset names translated for encoders with their own scales.
_VP9_CPU_USED = dict(zip(_X264_PRESETS, ("8", "7", "6", "5", "4", "3", "2", "1", "0")))
#: The presets faster than fast run VP9 in libvpx's real-time mode. Its "good" mode stops at
#: cpu-used 5, which all four gave there, more slowly than 4 (fast): on 640x360 stylized frames at
#: crf 18, medium 71 ms a frame, fast 54, good-mode 5 81-82; in real-time mode faster 16, veryfast 10,
#: superfast 8.9, ultrafast 7.3, for files 1.03-1.06x medium's at 0.1 dB less PSNR (2-core Zen 3;
#: benchmarks/RESULTS.md, "VP9's presets").
_VP9_REALTIME_PRESETS = ("ultrafast", "superfast", "veryfast", "faster")
_SVTAV1_PRESET = dict(zip(_X264_PRESETS, ("12", "11", "10", "9", "8", "7", "5", "3", "1")))
_NVENC_PRESET = dict(zip(_X264_PRESETS, ("p1", "p2", "p3", "p3", "p4", "p5", "p6", "p7", "p7")))


def available_video_codecs() -> list[str]:
    """The supported video encoders present in this FFmpeg build (hardware ones may still fail to open)."""
    return [name for name in VIDEO_CODECS if name in av.codecs_available]


def check_codec(name: str) -> av.Codec:
    if name not in VIDEO_CODECS:
        raise BadValueError(f"unknown codec {name!r}; available: {', '.join(available_video_codecs())}")
    try:
        return av.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        raise BadValueError(f"codec {name!r} is not in this FFmpeg build; available: "
                            f"{', '.join(available_video_codecs())}") from None


def _pix_fmts(codec: av.Codec) -> list[str]:
    """The pixel formats ``codec`` encodes (empty: it does not say, so any is tried)."""
    return [f.name for f in (codec.video_formats or [])]


def _check_pix_fmt(codec: av.Codec, pix_fmt: str) -> av.VideoFormat:
    formats = _pix_fmts(codec)
    if formats and pix_fmt not in formats:
        raise VidstyleError(f"codec {codec.name} cannot encode pixel format {pix_fmt!r}; "
                            f"it supports: {', '.join(formats)}")
    try:
        return av.VideoFormat(pix_fmt)
    except (ValueError, av.error.FFmpegError):
        raise VidstyleError(f"unknown pixel format {pix_fmt!r}") from None


def output_pix_fmt(codec: av.Codec, pix_fmt: str, width: int, height: int, preset: str | None = None) -> str:
    """The pixel format actually used: ``pix_fmt``, or its 4:4:4 variant for odd sizes (see module doc).
    A size the codec cannot encode at all (libsvtav1's narrow strips and sides under 4 pixels,
    libx265's sides under 16, or 32 at ``preset`` placebo) is refused here, before any work."""
    fmt = _check_pix_fmt(codec, pix_fmt)
    if codec.name == "libx265" and min(width, height) < _X265_MIN_SIDE:
        raise VidstyleError(f"libx265 cannot encode {width}x{height}: x265 takes no frame under {_X265_MIN_SIDE} "
                            "pixels on a side; use --codec libx264")
    if codec.name == "libx265" and preset == "placebo" and min(width, height) < _X265_PLACEBO_MIN_SIDE:
        raise VidstyleError(f"libx265 cannot encode {width}x{height} at --preset placebo: it takes no frame under "
                            f"{_X265_PLACEBO_MIN_SIDE} pixels on a side; use --preset veryslow (or --codec libx264)")
    if codec.name == "libsvtav1" and min(width, height) < _SVT_AV1_MIN_SIDE:
        raise VidstyleError(f"libsvtav1 cannot encode {width}x{height}: SVT-AV1 takes no frame under "
                            f"{_SVT_AV1_MIN_SIDE} pixels on a side; use --codec libvpx-vp9 (or libx264, outside .webm)")
    if codec.name == "libsvtav1" and min(width, height) < _SVT_AV1_SHORT_SIDE and \
            max(width, height) > _SVT_AV1_LONG_SIDE:
        raise VidstyleError(f"libsvtav1 cannot encode {width}x{height}: SVT-AV1 hangs on frames under "
                            f"{_SVT_AV1_SHORT_SIDE} pixels on one side and over {_SVT_AV1_LONG_SIDE} on the other; "
                            "use --codec libvpx-vp9 (or libx264, outside .webm)")
    odd_w, odd_h = width % 2, height % 2
    subsampled_w = fmt.chroma_width(width * 2) < width * 2
    subsampled_h = fmt.chroma_height(height * 2) < height * 2
    if codec.name in _EVEN_SIZE_CODECS and ((odd_w and subsampled_w) or (odd_h and subsampled_h)):
        full = "yuv444p10le" if "10" in pix_fmt or pix_fmt == "p010le" else "yuv444p"
        formats = _pix_fmts(codec)
        if formats and full not in formats:
            raise VidstyleError(f"{codec.name} cannot encode the odd size {width}x{height} in {pix_fmt}; "
                                "use --codec libvpx-vp9 or libsvtav1")
        log.warning("%dx%d is odd: %s cannot store it in %s, encoding %s to keep the exact size",
                    width, height, codec.name, pix_fmt, full)
        return full
    return pix_fmt


# Each encoder's own preset names (accepted as well as the x264 names above) and its crf range.
_NATIVE_PRESETS = {"libx264": ("placebo",), "libx265": ("placebo",), "libvpx-vp9": tuple(map(str, range(-8, 9))),
                   "libsvtav1": tuple(map(str, range(-1, 14))), "h264_nvenc": tuple(f"p{i}" for i in range(1, 8)),
                   "hevc_nvenc": tuple(f"p{i}" for i in range(1, 8))}
_CRF_RANGE = {"libvpx-vp9": (0, 63), "libsvtav1": (1, 63)}  # others (x264, x265, NVENC cq): 0-51


def _encoder_options(codec: str, crf: int | None, preset: str | None, realtime: bool = False) -> dict[str, str]:
    """FFmpeg private options for ``codec`` from vidstyle's codec-neutral crf/preset (checked here,
    so a bad value is one clear error instead of the encoder's log line and a failed open).
    Nothing for ProRes, whose quality its profile sets (:class:`VideoEncoder` says so)."""
    if codec in INTERMEDIATE_CODECS or codec in ANIMATION_CODECS:
        if codec != "libwebp":
            return {}
        # compression_level 1: a quarter of the default's time a frame, for a somewhat larger file
        return {"quality": str(WEBP_QUALITY), **({"compression_level": "1"} if realtime else {})}
    low, high = _CRF_RANGE.get(codec, (0, 51))
    if crf is not None and not low <= crf <= high:
        raise BadValueError(f"--crf {crf} is out of range for {codec}: use {low} to {high}")
    native = _NATIVE_PRESETS.get(codec, ())
    if preset and preset not in _X264_PRESETS + native:
        own = (f" or its own {native[0]} to {native[-1]}" if len(native) > 2
               else f" or its own {', '.join(native)}" if native else "")
        raise BadValueError(f"unknown --preset {preset!r} for {codec}: use one of {', '.join(_X264_PRESETS)}{own}")
    if crf == 0 and codec in HARDWARE_CODECS:  # NVENC reads cq 0 as "choose for me", not lossless
        raise BadValueError(f"--crf 0 (lossless) is not available for {codec}: use --codec libx264 --crf 0, "
                            "or --crf 1 for nearly lossless")
    opts: dict[str, str] = {}
    # crf 0 means lossless, as x264 users know it: x264's crf 0 is lossless only at 8 bits (qp 0
    # at any depth), x265 needs its own switch, VP9 is lossless at crf 0 with b 0 (said outright)
    if codec in ("libx264", "libx265"):
        if crf is not None:
            opts["qp" if (crf, codec) == (0, "libx264") else "crf"] = str(crf)
        if preset:
            opts["preset"] = preset
        if codec == "libx265":
            opts["x265-params"] = "log-level=error" + (":lossless=1" if crf == 0 else "")
    elif codec == "libvpx-vp9":
        if crf is not None:
            opts.update(crf=str(crf), b="0")  # b=0: constant quality mode
            if crf == 0:
                opts["lossless"] = "1"
        opts["row-mt"] = "1"
        if preset:
            opts["cpu-used"] = _VP9_CPU_USED.get(preset, preset)
        if realtime or preset in _VP9_REALTIME_PRESETS:  # libvpx's real-time mode (see above)
            opts["deadline"] = "realtime"
    elif codec == "libsvtav1":
        if crf is not None:
            opts["crf"] = str(crf)
        if preset:
            opts["preset"] = _SVTAV1_PRESET.get(preset, preset)
    elif codec in HARDWARE_CODECS:
        if crf is not None:
            opts.update(rc="vbr", cq=str(crf), b="0")
        if preset:
            opts["preset"] = _NVENC_PRESET.get(preset, preset)
    return opts


def configure_encoder(stream: av.VideoStream, codec: str, crf: int | None, preset: str | None,
                      realtime: bool = False) -> None:
    """Set ``stream``'s encoder options (:func:`_encoder_options`) and its threading, before it opens.

    x264 threading: PyAV opens every encoder with slice threading, which FFmpeg's libx264 wrapper
    turns into x264's ``sliced_threads=1``, a low-latency mode that splits each frame between the
    threads and returns it whole. For a file, frame threading (x264's own default, and the FFmpeg
    command line's) works on several frames at once; on two cores it encoded as fast as slices, with
    0.2-0.4% fewer bits at the same crf and PSNR (benchmarks/encoder_presets.py --threading frame
    slice; many cores not measured). Real-time outputs keep slices, so
    that a frame given to the encoder comes out without waiting for the next ones."""
    stream.options = _encoder_options(codec, crf, preset, realtime)
    if codec == "libx264" and not realtime:
        stream.codec_context.thread_type = "FRAME"


def hardware_encoder_hint(reason: str) -> str:
    """What to tell a user whose NVENC encoder (h264_nvenc, hevc_nvenc) would not open, from
    FFmpeg's ``reason``: no GPU or driver at all, or a GPU without the NVENC unit."""
    if "unsupported device" in reason:
        # what an H200 says: the data-centre compute GPUs (A100, H100, H200) have no NVENC unit
        return (" (this GPU has no NVENC video encoder, as the A100, H100 and H200 have none: "
                "--codec libx264 encodes on the CPU)")
    return " (is an NVIDIA GPU with its driver present? --codec libx264 encodes on the CPU)"


def codec_fits(codec: str, suffix: str) -> bool:
    """Whether the container of a ``suffix`` output (.mp4, .mov, ...) takes ``codec``."""
    return codec in _CONTAINER_CODECS.get(suffix.lower(), VIDEO_CODECS)


def container_for(codec: str) -> str:
    """The suffix an output encoded with ``codec`` gets when the input's own does not take it:
    .mov for ProRes, .mp4 otherwise (it takes every other codec here)."""
    return ".mov" if codec == "prores_ks" else ".mp4"


def check_codec_fits(codec: str | None, output: str | Path) -> None:
    """Refuse, before any work, a ``codec`` that is unknown or that the ``output``'s container
    cannot hold (None: the container's default codec, which always fits)."""
    suffix = Path(output).suffix.lower()
    if codec is None:
        return
    check_codec(codec)  # an unknown name or one missing from this FFmpeg build says so first
    if codec_fits(codec, suffix):
        return
    takers = [s for s in (".mp4", ".mov", ".mkv", ".webm", ".gif", ".webp") if codec_fits(codec, s)]
    raise VidstyleError(f"{Path(output).name}: {suffix} files cannot hold {codec}; write it to "
                        f"{' or '.join(takers)}, or pick a codec for {suffix} ({default_codec(suffix)} is its default)")


def requested_pix_fmt(codec: str, pix_fmt: str | None, suffix: str, alpha: bool = False) -> str:
    """The pixel format asked of ``codec`` for a ``suffix`` output: ``pix_fmt`` when one was given,
    else the codec's usual (yuv420p; yuv422p10le for ProRes, which has no 4:2:0), or with
    ``alpha`` (the input has transparency) its alpha format where the container keeps it
    (:data:`_ALPHA_PIX_FMTS`). Odd sizes may still change it (:func:`output_pix_fmt`)."""
    if pix_fmt is not None:
        return pix_fmt
    if codec == "gif":
        return "pal8"  # 256 colours a frame, chosen by vidstyle (see GifPalette)
    if codec == "libwebp":
        return "bgra"  # libwebp turns RGB into its YUV itself, and keeps a transparency
    suffixes, alpha_pix_fmt = _ALPHA_PIX_FMTS.get(codec, ((), ""))
    if alpha and suffix.lower() in suffixes:
        return alpha_pix_fmt
    return _PRORES_DEFAULT_PIX_FMT if codec in INTERMEDIATE_CODECS else "yuv420p"


def check_alpha_fits(codec: str, pix_fmt: str, output: str | Path) -> None:
    """An alpha pixel format only where the container keeps the codec's alpha (MP4 drops VP9's)."""
    suffixes, _ = _ALPHA_PIX_FMTS.get(codec, ((), ""))
    if suffixes and has_alpha(pix_fmt) and Path(output).suffix.lower() not in suffixes:
        raise VidstyleError(f"{Path(output).name}: {codec}'s alpha channel ({pix_fmt}) is kept in "
                            f"{' or '.join(suffixes)} only; write one of those, or give a --pix-fmt without alpha")


def check_encoding(config: EncodeConfig, output: str | Path) -> None:
    """Refuse, before any work, what :class:`VideoEncoder` would refuse of ``config`` for a video
    at ``output`` whatever the input: a codec that is unknown or that the container cannot hold
    (:func:`check_codec_fits`), a pixel format the codec cannot encode (or whose alpha the
    container would drop), a crf or preset out of its range. (Odd sizes are settled with the
    input, see :func:`output_pix_fmt`.)"""
    check_codec_fits(config.codec, output)
    name = config.codec or default_codec(Path(output).suffix)
    pix_fmt = requested_pix_fmt(name, config.pix_fmt, Path(output).suffix)
    _check_pix_fmt(check_codec(name), pix_fmt)
    check_alpha_fits(name, pix_fmt, output)
    _encoder_options(name, config.crf, config.preset)
    if name in HARDWARE_CODECS:
        _check_hardware_encoder(name)


def _check_hardware_encoder(name: str) -> None:
    """Open the NVENC encoder ``name`` once on a small frame size: without a GPU, a driver or an
    NVENC unit it fails there, before the network loads (else each input failed only as its
    output was opened, after the network was loaded and the input opened)."""
    try:
        ctx = av.CodecContext.create(name, "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = Fraction(1, 25)
        with explained():
            ctx.open()
    except (av.error.FFmpegError, ValueError) as exc:
        reason = explained_error_text(exc)
        raise VidstyleError(f"cannot encode with {name}: {reason}{hardware_encoder_hint(reason)}") from None


def ten_bit_hint(codec: str | None, output: str | Path, alpha: bool = False) -> str:
    """How to write 10 bits to ``output`` (for a warning): ``--pix-fmt yuv420p10le`` when its codec
    takes it, else a codec of its container that does (this FFmpeg's VP9 has no 10-bit format);
    with ``alpha`` (the output keeps an alpha channel), ProRes 4444, which keeps both."""
    suffix = Path(output).suffix
    name = codec or default_codec(suffix)
    ten = "yuv420p10le"
    if ten in _pix_fmts(check_codec(name)):
        return f"--pix-fmt {ten} writes 10 bits, without the input's finer steps"
    if alpha:
        return (f"{name} here has no 10-bit format; ProRes 4444 (--codec prores_ks to .mov) keeps 10 bits "
                "and the alpha")
    for other in ("libx265", "libsvtav1", "libx264"):
        if other in av.codecs_available and codec_fits(other, suffix) and \
                ten in _pix_fmts(av.Codec(other, "w")):
            return f"{name} here has no 10-bit format; --codec {other} --pix-fmt {ten} writes 10 bits"
    return f"{name} here has no 10-bit format"


def chroma_hint(codec: str | None, output: str | Path, pix_fmt: str, chroma: tuple[int, int], bits: int = 8) -> str:
    """How to keep ``chroma`` (an input's finer chroma subsampling, see
    vidstyle.io.display.chroma_subsampling) in ``output``, written in ``pix_fmt`` (for a warning):
    the --pix-fmt with that subsampling, in 10 bits where ``pix_fmt`` or the input (``bits``) has
    more than 8 (so that one option keeps both), when its codec takes it."""
    name = codec or default_codec(Path(output).suffix)
    label = CHROMA_NAMES.get(chroma, f"{chroma[0]}x{chroma[1]}")
    digits = label.replace(":", "")
    deep = max(component_bits(pix_fmt), bits) > 8
    formats = [f"yuv{digits}p", f"yuv{digits}p10le"]
    wanted = next((f for f in (formats[::-1] if deep else formats) if f in _pix_fmts(check_codec(name))), None)
    if wanted is None:
        return f"{name} here has no {label} format"
    # 4:2:0 is what phones, browsers and TVs decode in H.264, H.265, VP9 and AV1; ProRes is for editors
    return f"--pix-fmt {wanted} keeps it" + ("" if name in INTERMEDIATE_CODECS else ", in a file fewer players play")


def default_codec(suffix: str) -> str:
    """The video encoder used when none is asked for (:data:`vidstyle.config.DEFAULT_CODECS`)."""
    return DEFAULT_CODECS.get(suffix.lower(), DEFAULT_CODECS[None])
