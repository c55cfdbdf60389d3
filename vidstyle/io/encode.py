"""Encoding: write RGB frames with their original timestamps, plus the input's audio, with PyAV.

:class:`VideoEncoder` opens the output container, configures the video encoder (codec, crf,
preset, pixel format), adds one output stream per input audio stream (a packet-for-packet copy
when the container accepts the codec, else a re-encode: AAC for mp4/mov, Opus for webm/mkv) and
per subtitle stream (copied, or text subtitles converted to the container's text format),
attaches the input's attached files (fonts) where the container holds them, and writes the
header, all before the first frame, so configuration errors surface at once. Which codec, pixel
format and options a stream gets, and the checks made of them before any work, are in
:mod:`vidstyle.io.codecs`.

Timestamps: the output video stream uses the input's time base and every frame keeps its input
pts (shifted for a segment), so variable frame rate, frame count and average rate are kept.

Odd sizes: H.264/H.265 cannot store 4:2:0 (or 4:2:2) chroma for an odd width/height, so for those
codecs an odd-sized video is encoded in the 4:4:4 variant of the pixel format (yuv420p ->
yuv444p), which keeps the exact size without padding or cropping; likewise ProRes 422 of an odd
width (FFmpeg's encoder drops its last chroma column), written as ProRes 4444. VP9 and AV1 hold
odd sizes in 4:2:0 directly.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import logging
import math
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import av.subtitles.subtitle
import av.video.reformatter
import numpy as np

from vidstyle.config import EncodeConfig
from vidstyle.errors import VidstyleError
from vidstyle.io.codecs import (ANIMATION_CODECS, HARDWARE_CODECS, HEVC_ENCODERS, INTERMEDIATE_CODECS, SAR_IN_BITSTREAM,
                                SILENT_FORMATS, check_alpha_fits, check_codec, configure_encoder, container_for,
                                default_codec, hardware_encoder_hint, output_pix_fmt, requested_pix_fmt)
from vidstyle.io.decode import AudioItem, AudioMode, SourceInfo, SubtitleItem, SubtitleMode, cut_audio_frame
from vidstyle.io.display import SWS_MATRIX, has_alpha, yuv_matrix
from vidstyle.io.ffmpeg_errors import explained, explained_error_text
from vidstyle.io.files import OUTPUT_FORMATS, ffmpeg_path
from vidstyle.io.gif import GifPalette, cleared_after_shown
from vidstyle.io.images import check_image_size

log = logging.getLogger("vidstyle")

#: audio codecs that lose nothing: re-encoded for MP4/MOV, they become ALAC, which loses nothing either
_LOSSLESS_AUDIO = ("pcm_", "flac", "alac", "wavpack", "tta", "ape", "mlp", "truehd")


def _transcode_codec(suffix: str, source: str) -> str:
    """Audio encoder used when the input's audio codec (``source``) does not fit the output
    container: ALAC for a lossless track in MP4/MOV (PCM or FLAC into .mov), else AAC there, and
    Opus in Matroska/WebM."""
    if OUTPUT_FORMATS.get(suffix.lower()) in ("mp4", "mov"):
        return "alac" if source.startswith(_LOSSLESS_AUDIO) else "aac"
    return "libopus"


#: subtitle decoders of text (FFmpeg's names): their events can be re-encoded as another text format
_TEXT_SUBTITLES = {"srt", "subrip", "ass", "ssa", "mov_text", "webvtt", "text"}
#: ...whose styling (fonts, positions, effects) a conversion loses; SubRip and MP4's mov_text keep
#: what both hold (bold, italic, underline, colour)
_STYLED_SUBTITLES = {"ass", "ssa", "webvtt"}
#: the text subtitle format each container holds (FFmpeg encoder names): MP4/MOV's timed text,
#: WebM's WebVTT; SubRip for Matroska, which holds every text format but MP4's
_TEXT_SUBTITLE_FOR = {"mp4": "mov_text", "ipod": "mov_text", "mov": "mov_text", "webm": "webvtt", "matroska": "subrip"}


_OVERRIDE_BLOCK = re.compile(rb"(\{[^}]*\})")
_DRAWING_LEVEL = re.compile(rb"\\p(\d+)")  # \p1 starts a vector drawing, \p0 ends it (not \pos, \pbo)


def dialogue_row(ass: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(style, text, visible text) of an ASS dialogue line as FFmpeg's decoders give it
    ("ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text"), with its vector drawings
    (``{\\p1}m 0 0 l 100 0 ...``) taken out: a text format would show their commands as words.
    None when nothing readable is left (a drawing, a line of tags)."""
    fields = ass.split(b",", 8)
    style, text = (fields[2], fields[8]) if len(fields) == 9 else (b"Default", ass)
    kept, visible, level = [], [], 0
    for part in _OVERRIDE_BLOCK.split(text):
        if part.startswith(b"{") and part.endswith(b"}"):
            levels = _DRAWING_LEVEL.findall(part)
            level = int(levels[-1]) if levels else level
            kept.append(part)
        elif level == 0:
            kept.append(part)
            visible.append(part)
    shown = re.sub(rb"\\[Nnh]", b" ", b"".join(visible)).strip()
    return (style, b"".join(kept), shown) if shown else None


def dialogue_line(rows: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """One ASS dialogue line showing ``rows`` (from :func:`dialogue_row`) top to bottom, each in
    its own style (``{\\rStyle}`` starts each row after the first), a row repeating one above left
    out (a sign drawn as stacked layers of the same words)."""
    shown: list[tuple[bytes, bytes, bytes]] = []
    for row in rows:
        if all(row[2] != other[2] for other in shown):
            shown.append(row)
    first, *rest = shown
    return (b"0,0," + first[0] + b",,0,0,0,," + first[1]
            + b"".join(b"\\N{\\r" + style + b"}" + text for style, text, _ in rest))


def replace_not_blend_webp_frames(path: str | Path) -> int:
    """Mark every frame of the animated WebP at ``path`` to replace the canvas, not to be blended
    onto it; returns how many frames were marked.

    FFmpeg's WebP muxer writes each frame (ANMF chunk) over the whole canvas with WebP's default
    "alpha-blend onto the previous canvas, no disposal": fine for opaque frames, but a transparent
    pixel then shows what earlier frames left there (a moving object leaves a trail, 50% alpha
    builds up to opaque). Setting each frame's "do not blend" bit (and no disposal) makes every
    frame show its own alpha, as stylized, whatever came before. Chunk layout: RIFF/WebP container
    specification (ANMF payload: X, Y, width, height, duration as 24-bit numbers, then a flags byte
    whose bit 1 is "do not blend" and bit 0 "dispose to background")."""
    marked = 0
    with open(path, "r+b") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
            raise VidstyleError(f"{path} is not a WebP file")
        end = 8 + int.from_bytes(head[4:8], "little")
        at = 12
        while at + 8 <= end:
            f.seek(at)
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"ANMF" and size >= 16:
                f.seek(at + 8 + 15)
                flags = f.read(1)[0]
                f.seek(at + 8 + 15)
                f.write(bytes([(flags | 0b10) & ~0b01]))
                marked += 1
            at += 8 + size + (size & 1)  # chunks are padded to an even length
    return marked


class TimedTextMerger:
    """MP4's timed text (mov_text) shows one sample at a time, each until the next begins: two
    lines shown together (a sign and the dialogue, two speakers: common in ASS) would cut each
    other short. Events in, in start order; samples out, each holding every line shown during it
    (:func:`dialogue_line`). A new event's rows go above the rows already shown, so that those
    (bottom-anchored dialogue) stay where they are.

    Times are integer ticks of the track's time base; an event of unknown length (0) lasts until
    the next one begins.
    """

    def __init__(self):
        self.time_base: Fraction | None = None  # of the ticks (set by the caller)
        self._active: list[tuple[int | None, tuple]] = []  # (end, row) of the lines on screen, top first
        self._cursor: int | None = None  # the time up to which samples were given out

    def add(self, start: int, length: int, rows: list[tuple]) -> list[tuple[int, int, bytes]]:
        """Take an event starting at ``start`` with ``rows`` (:func:`dialogue_row`); return the
        samples (start, length, ASS dialogue line) complete before it."""
        samples = self._until(start)
        self._active = [(end, row) for end, row in self._active if end is not None]  # unknown ends end here
        self._active[:0] = [(start + length if length > 0 else None, row) for row in rows]
        self._cursor = start
        return samples

    def finish(self) -> list[tuple[int, int, bytes]]:
        """The samples still open (the lines of unknown length end where they begin: dropped)."""
        self._active = [(end, row) for end, row in self._active if end is not None]
        return self._until(None)

    def _until(self, limit: int | None) -> list[tuple[int, int, bytes]]:
        samples = []
        while self._active and self._cursor is not None and (limit is None or self._cursor < limit):
            ends = [end for end, _ in self._active if end is not None]
            boundary = min(ends + ([limit] if limit is not None else [])) if ends else limit
            if boundary is None:
                break
            if boundary > self._cursor:
                samples.append((self._cursor, boundary - self._cursor, dialogue_line([row for _, row in self._active])))
            self._cursor = max(self._cursor, boundary)
            self._active = [(end, row) for end, row in self._active if end is None or end > self._cursor]
        return samples


# Audio codecs FFmpeg's mp4 muxer accepts in add_stream_from_template but then refuses, or writes
# a trailer it fails on (PCM in mp4 needs a channel layout box FFmpeg writes only for some layouts).
_NO_COPY_INTO = {"mp4": ("pcm_",)}


#: The time scale of MP4/MOV outputs' movie header and edit lists (ticks a second; see VideoEncoder._open).
MOVIE_TIMESCALE = 90000

#: Audio is written once the video written reaches its time, give or take this lead (seconds)...
AUDIO_LEAD_SECONDS = 1.0
#: ...and held back at most this much (bytes): past it, written anyway (memory stays bounded).
AUDIO_HOLD_BYTES = 32 * 2**20


def silent_audio_frame(like: av.AudioFrame, samples: int, pts: int) -> av.AudioFrame:
    """``samples`` of silence in ``like``'s format, layout, rate and time base, at ``pts``."""
    frame = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=samples)
    zero = 0x80 if like.format.name.startswith("u8") else 0  # unsigned 8-bit's silence is its middle
    # (PyAV 18 lists a plane too many for 8 channels or more, planar: only the real ones are filled)
    for plane in frame.planes[:len(like.layout.channels) if like.format.is_planar else 1]:
        plane.update(bytes([zero]) * plane.buffer_size)
    frame.sample_rate, frame.pts, frame.time_base = like.sample_rate, pts, like.time_base
    return frame


def _named_layout(layout: av.AudioLayout) -> str:
    """``layout``'s name, or for a layout that only counts its channels ("2 channels", as PCM in
    Matroska often has), the standard layout of that many channels, which encoders accept."""
    if layout.name.endswith(" channels"):
        return _STANDARD_LAYOUTS.get(len(layout.channels), layout.name)
    return layout.name


_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 6: "5.1", 8: "7.1"}
#: The layouts libopus takes for each channel count (Vorbis channel order). Others with the same
#: count, such as AC-3's 5.1(side), are rejected when the encoder opens: their channels are mapped
#: onto these (side surrounds to back surrounds) by the encoder's resampler. (ALAC also takes only
#: some layouts, but mapping a MOV's quad onto its 4.0 mixed the back pair into one centre channel,
#: under a "lossless" warning: such a track goes to AAC instead, which takes every layout of up to
#: 8 channels as it is.)
_OPUS_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def encoder_layout(name: str, rate: int, layout: av.AudioLayout) -> tuple[str | None, str]:
    """(the layout the audio encoder ``name`` opens with at ``rate`` for audio of ``layout``, "");
    or (None, the encoder's reason) when it takes neither that layout nor, for libopus,
    :data:`_OPUS_LAYOUTS`' one of as many channels. Asked by opening the encoder: PyAV opens a
    stream's only when the file's header is written (the run then failed, blaming the video
    codec), too late to leave the track out."""
    candidates = [_named_layout(layout)]
    other = _OPUS_LAYOUTS.get(len(layout.channels)) if name == "libopus" else None
    if other and other not in candidates:
        candidates.append(other)
    reason = ""
    for candidate in candidates:
        try:
            ctx = av.CodecContext.create(name, "w")
            ctx.sample_rate, ctx.layout = rate, candidate
            ctx.format = av.Codec(name, "w").audio_formats[0].name
            ctx.open()
            return candidate, ""
        except (ValueError, av.error.FFmpegError) as exc:
            reason = f"no {len(layout.channels)}-channel layout it takes" if isinstance(exc, av.error.ArgumentError) \
                else explained_error_text(exc)
    return None, reason


#: Tags that describe how a stream was encoded or how long it was, not what it is: the muxer
#: writes its own (Matroska's per-track DURATION and statistics, MP4's brands), and a copied
#: "rotate" would turn the frames again, as they are already turned upright; a timecode would be
#: wrong after --start.
_ENCODING_TAGS = {"encoder", "duration", "bps", "number_of_frames", "number_of_bytes", "major_brand",
                  "minor_version", "compatible_brands", "rotate", "timecode", "vendor_id", "alpha_mode"}


#: ISO 639-2 languages with two codes (bibliographic and terminological, e.g. fre and fra), and
#: Swedish's swe: the one FFmpeg's QuickTime language table holds for each. A .mov track takes a
#: language only from that table (one spelling each, mixed: fra but ger), and FFmpeg drops any
#: other without a word; MP4 and Matroska keep either code. Probed with FFmpeg 8 (PyAV 18) for
#: every pair (tests/test_io_wild.py writes each).
MOV_LANGUAGE_SPELLING = {"sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi", "cze": "ces",
                         "nld": "dut", "fre": "fra", "kat": "geo", "deu": "ger", "ell": "gre", "isl": "ice",
                         "mkd": "mac", "msa": "may", "fas": "per", "rum": "ron", "slo": "slk", "bod": "tib",
                         "cym": "wel", "swe": "sve"}


#: The muxers that write a timecode (the input's, on the first frame): MP4/MOV as a timecode
#: track, Matroska/WebM as a tag. .m4v's "ipod" flavour of MP4 writes no timecode track, and GIF
#: and WebP have no place for one.
_TIMECODE_MUXERS = {"mp4", "mov", "matroska", "webm"}


#: The flags of a track (FFmpeg's dispositions) other than "plays by default" that each muxer
#: records, read back after writing each (FFmpeg 8): MP4 as DASH roles (kind boxes), which the
#: QuickTime muxer does not write, so .mov records none, nor .m4v's "ipod" flavour of MP4; WebM's
#: subset of Matroska leaves out all but "forced" (commentary, hearing impaired, ...).
TRACK_FLAGS_KEPT = {"mp4": {"dub", "comment", "forced", "hearing_impaired", "visual_impaired", "captions",
                            "descriptions"},
                    "matroska": {"dub", "original", "comment", "forced", "hearing_impaired", "visual_impaired"},
                    "webm": {"forced"}, "mov": set(), "ipod": set()}
_TRACK_FLAG_NAMES = {"comment": "commentary", "hearing_impaired": "for the hearing impaired",
                     "visual_impaired": "for the visually impaired", "descriptions": "audio description",
                     "captions": "captions", "dub": "dub", "original": "original language", "forced": "forced"}


#: flags of a track that is not the one to play by default: the film's own sound is
_NOT_THE_MAIN_TRACK = ("comment", "descriptions", "visual_impaired", "hearing_impaired")


def _default_track(streams: list[av.stream.Stream]) -> None:
    """Flag the first of ``streams`` (one kind's tracks) to play by default when none is, as
    FFmpeg's command line does: an input without the flag (MPEG-TS, AVI, MP4 tracks all marked
    off) gave .mkv/.webm tracks that a player may leave unplayed, since FFmpeg's library writes the
    flags it is given. The first not flagged commentary or for the impaired, where there is one:
    a commentary track before the film's own sound was flagged and played instead of it."""
    if not streams or any(s.disposition & av.stream.Disposition.default for s in streams):
        return
    aside = sum(int(av.stream.Disposition[flag]) for flag in _NOT_THE_MAIN_TRACK)
    main = next((s for s in streams if not s.disposition & aside), streams[0])
    main.disposition = main.disposition | av.stream.Disposition.default


def mov_language(code: str) -> str:
    """``code`` as a .mov track can hold it (:data:`MOV_LANGUAGE_SPELLING`), else as it is."""
    return MOV_LANGUAGE_SPELLING.get(code.strip().lower(), code)


def mov_tags(tags: dict) -> dict:
    """``tags`` as a .mov can hold them. FFmpeg's QuickTime muxer writes a fixed set of them, and
    fills QuickTime's Description (``©des``) from the comment, having no place for a description
    of its own: a description with no comment beside it is written as the comment (shown as the
    Description by QuickTime, read back as the comment by FFmpeg), where it was dropped."""
    keys = {key.lower(): key for key in tags}
    if "description" in keys and "comment" not in keys:
        tags = dict(tags)
        tags["comment"] = tags.pop(keys["description"])
    return tags


def carried_tags(metadata: dict) -> dict:
    """The tags of an input container or stream worth keeping on the output's counterpart (title,
    language, handler name, creation time, ...): all but :data:`_ENCODING_TAGS` and Matroska's
    statistics tags (``BPS-eng``, ``_STATISTICS_WRITING_APP``, ...).

    FFmpeg reads an MP4/MOV track's title (its ``name`` box) as ``name`` but writes ``title``
    there: renamed, the title is kept in MP4 (where ``name`` was dropped) and is the track's name
    in Matroska (not a stray NAME tag)."""
    tags = {k: v for k, v in metadata.items()
            if k.lower().split("-")[0] not in _ENCODING_TAGS and not k.startswith("_STATISTICS")}
    if "name" in tags and "title" not in tags:
        tags["title"] = tags.pop("name")
    return tags


def codec_name(stream: av.stream.Stream) -> str:
    """The name of ``stream``'s codec as users know it (mp3, dts), not its decoder's (mp3float,
    dca), for messages."""
    return stream.codec_context.codec.canonical_name


@contextlib.contextmanager
def opus_template(template: av.AudioStream, pre_skip: int):
    """``template``, an Opus stream, as one whose pre-skip is ``pre_skip`` samples, for
    add_stream_from_template: in its OpusHead (the extradata, which players read) and as FFmpeg's
    initial padding (Matroska's CodecDelay, by which the muxer lets the first packets lie before
    0), which PyAV cannot set and FFmpeg's Ogg demuxer takes from the OpusHead: so read back from
    a header written to Ogg in memory."""
    head = bytearray(template.codec_context.extradata or b"")
    if head[:8] != b"OpusHead" or len(head) < 19:
        raise ValueError("an Opus stream without its OpusHead")
    head[10:12] = pre_skip.to_bytes(2, "little")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as ogg:
        stream = ogg.add_stream_from_template(template)
        stream.codec_context.extradata = bytes(head)
        ogg.start_encoding()
        # the demuxer finds no stream in a header alone (end of file): one packet, 20 ms of silence
        packet = av.Packet(b"\xf8\xff\xfe")
        packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, Fraction(1, 48000)
        ogg.mux(packet)
    buffer.seek(0)
    with av.open(buffer, "r", format="ogg") as ogg:
        yield ogg.streams.audio[0]


def copy_refusal(template: av.stream.Stream, fmt: str) -> str | None:
    """None if the ``fmt`` muxer (FFmpeg's name) takes ``template``'s packets as they are; else
    why not (a codec the container never holds, or the muxer's own checks refusing it).

    Asked of a throwaway container in memory holding that stream alone: the real muxer's checks
    run only when the header is written, where a failure must not be mistaken for one of the video
    encoder's (or the other way round)."""
    # (subtitle messages name the decoder, ssa or srt, as their own warnings do)
    name = codec_name(template) if template.type == "audio" else template.codec_context.name
    if name.startswith(_NO_COPY_INTO.get(fmt, ())):
        return f"{fmt} does not hold {name} as it is"
    with explained():
        try:
            probe = av.open(io.BytesIO(), "w", format=fmt)
        except (av.error.FFmpegError, ValueError) as exc:
            return explained_error_text(exc)
        try:
            try:
                probe.add_stream_from_template(template)
            except ValueError:  # FFmpeg's table of what the container holds says no
                return f"{fmt} does not hold {name}"
            try:
                probe.start_encoding()
            except (av.error.FFmpegError, ValueError) as exc:  # the muxer's own checks (EINVAL is a ValueError too)
                return explained_error_text(exc)
        finally:
            try:
                probe.close()
            except (av.error.FFmpegError, ValueError):
                pass
    return None


@dataclasses.dataclass(frozen=True)
class OutputColorspace:
    """How the encoder turns RGB into YUV, and the tags it writes (FFmpeg's AVCOL_* numbers)."""

    matrix: int  # AVCOL_SPC_*: 1 BT.709, 5 BT.470BG, 6 SMPTE 170M (the two BT.601), 9 BT.2020
    primaries: int | None = None  # AVCOL_PRI_*, tagged only when the input had them
    trc: int | None = None  # AVCOL_TRC_*, likewise


_UNSPECIFIED = 2


def _output_colorspace(source: SourceInfo) -> OutputColorspace:
    """The matrix the decoder converted the input with (:func:`vidstyle.io.display.yuv_matrix`), so
    the output, which is always tagged, looks as the input did; primaries and transfer as tagged."""
    matrix = yuv_matrix(source.colorspace, source.width, source.height)
    known = lambda value: value if value not in (None, 0, _UNSPECIFIED) else None  # noqa: E731
    return OutputColorspace(matrix, known(source.color_primaries), known(source.color_trc))


#: Pixel formats that swscale converts RGB into correctly at any width (measured with FFmpeg 8,
#: PyAV 18). Into the others (the 10-bit YUV formats, ProRes' and --pix-fmt yuv420p10le's; nv12),
#: its conversion at a width that is not a multiple of 32 reads memory it never wrote, and about
#: one frame in 3 came out with a few stray pixels near the left edge (up to 182 of 1023 codes off,
#: an alpha of 511 in place of 1023), differently on every run: see :func:`convert_rgb`.
_SWS_ANY_WIDTH = {"yuv420p", "yuv422p", "yuv444p", "yuva420p", "yuva444p"}
_SWS_ALIGN = 32


def convert_rgb(image: np.ndarray, layout: str, pix_fmt: str, matrix: int, color_range: int) -> av.VideoFrame:
    """``image`` (uint8 (H, W, 3) RGB or (H, W, 4) RGBA, ``layout`` rgb24 or rgba) as a ``pix_fmt``
    frame, converted by swscale with ``matrix`` (SWS_CS_*) at ``color_range``. A width swscale
    mishandles in that format (:data:`_SWS_ANY_WIDTH`) is converted padded on the right to a
    multiple of 32 (the last column repeated), and the frame's own width copied out of it."""
    height, width = image.shape[:2]
    wide = -(-width // _SWS_ALIGN) * _SWS_ALIGN
    if pix_fmt in _SWS_ANY_WIDTH or wide == width:
        return av.VideoFrame.from_ndarray(image, format=layout).reformat(
            format=pix_fmt, dst_colorspace=matrix, dst_color_range=color_range)
    padded = np.pad(image, ((0, 0), (0, wide - width), (0, 0)), mode="edge")
    converted = av.VideoFrame.from_ndarray(padded, format=layout).reformat(
        format=pix_fmt, dst_colorspace=matrix, dst_color_range=color_range)
    frame = av.VideoFrame(width, height, pix_fmt)
    for source, target in zip(converted.planes, frame.planes):
        rows = np.frombuffer(source, np.uint8).reshape(-1, source.line_size)
        out = np.frombuffer(target, np.uint8).reshape(-1, target.line_size)
        out[:] = rows[:out.shape[0], :target.line_size]  # (a wider frame's rows are at least as long)
    frame.colorspace, frame.color_range = converted.colorspace, converted.color_range
    return frame


class FrameGrid:
    """Puts the frames of a constant-rate video stored in rounded ticks back on their exact times.

    Matroska, WebM and FLV count milliseconds, which cannot hold 1001/30000 s: a 29.97 frames/s
    video comes in at 0, 33, 67, 100, 133 ms; MPEG-TS counts 1/90000 s, which cannot hold
    1001/60000 s (1501.5 ticks) nor 1001/24000 s (3753.75): a 59.94 frames/s broadcast comes in
    1501 and 1502 ticks apart. Written so into MP4, which keeps each frame's own duration, such
    uneven steps make a variable frame rate, which editors convert or refuse (FFmpeg's own encode
    puts such frames back on 1/29.97 s). Times are counted in :attr:`time_base`, which holds both
    a tick and the frame interval exactly. A frame less than a tick (the rounding's reach) from
    its place on the grid, counted from the first frame, goes there; any other (a variable-rate
    video, a gap) keeps its own time.
    """

    def __init__(self, time_base: Fraction, rate: Fraction):
        self.interval = 1 / rate
        self.source_base = time_base
        self.time_base = Fraction(1, math.lcm(self.interval.denominator, time_base.denominator))
        self._first: Fraction | None = None  # seconds: where the grid starts
        self._last: int | None = None  # the latest pts given out (time_base): times stay increasing

    @staticmethod
    def of(time_base: Fraction, rate: Fraction | None) -> FrameGrid | None:
        """The grid for frames timed in ``time_base`` at ``rate`` frames/s, or None where the times
        need none (frames a whole number of ticks apart) or where a tick is coarser than a
        millisecond (QuickTime's 1/600: a phone's variable-rate frames would be moved by as much)."""
        if time_base > Fraction(1, 1000) or not rate or rate <= 0 or (1 / (rate * time_base)).denominator == 1:
            return None
        grid = FrameGrid(time_base, rate)
        return grid if grid.time_base >= Fraction(1, 1 << 24) else None  # not for a rate of odd precision

    def _placed(self, pts: int) -> int:
        t = pts * self.source_base
        if self._first is None:
            self._first = t
        on_grid = self._first + round((t - self._first) / self.interval) * self.interval
        return int((on_grid if abs(on_grid - t) < self.source_base else t) / self.time_base)

    def place(self, pts: int, duration: int) -> tuple[int, int]:
        """(pts, duration) in :attr:`time_base` for a frame at ``pts`` lasting ``duration``
        (ticks of the input's time base; 0: unknown)."""
        placed = self._placed(pts)
        if self._last is not None and placed <= self._last:  # two frames within a tick of one place
            placed = int(pts * self.source_base / self.time_base)
        self._last = placed
        if not duration:
            return placed, 0
        # A duration within a tick of a whole number of frame intervals lasts that many: the start
        # and the duration are each rounded (Matroska's last frame of a 24 frames/s clip at 1958 ms,
        # lasting 41), and their sum ended a whole tick short of the grid, the video with it
        length = duration * self.source_base
        steps = round(length / self.interval)
        if steps and abs(length - steps * self.interval) <= self.source_base:
            return placed, int(steps * self.interval / self.time_base)
        end = self._placed(pts + duration)
        return placed, (end - placed if end > placed else int(duration * self.source_base / self.time_base))


def _removed(path: Path) -> bool:
    """Remove ``path``; whether it is gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


class VideoEncoder:
    """Write frames of ``source``'s size and timing to ``path``, with its audio (unless disabled).

    ``path`` is usually the temporary file of :func:`vidstyle.io.files.atomic_output`; its
    extension picks the container.
    """

    def __init__(self, path: str | Path, source: SourceInfo, config: EncodeConfig | None = None,
                 name: str | Path | None = None):
        config = config or EncodeConfig()
        self.path = Path(path)
        self.muxer = OUTPUT_FORMATS.get(self.path.suffix.lower())  # FFmpeg's name: "mp4", "matroska", ...
        if config.codec is None:
            config = dataclasses.replace(config, codec=default_codec(self.path.suffix))
        self.config = config
        self.subtitles = config.subtitles  # the input's subtitle tracks are wanted (see _add_subtitle)
        self.name = str(name or path)  # what error messages call the output (not the temp file)
        codec = check_codec(config.codec)
        if config.codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner to stderr unless told not to
        # the input's transparency is kept where the output can hold it
        pix_fmt = requested_pix_fmt(config.codec, config.pix_fmt, self.path.suffix, alpha=source.alpha)
        check_alpha_fits(config.codec, pix_fmt, self.name)
        if config.codec in INTERMEDIATE_CODECS and (config.crf, config.preset) != (EncodeConfig.crf,
                                                                                   EncodeConfig.preset):
            log.warning("--crf and --preset do not apply to %s: its quality is set by its profile "
                        "(422 HQ, or 4444 for a 4:4:4 --pix-fmt)", config.codec)
        if config.codec in ANIMATION_CODECS and (config.crf not in (None, EncodeConfig.crf)
                                                  or config.preset not in (None, EncodeConfig.preset)):
            log.warning("--crf and --preset do not apply to %s", self.path.suffix)
        if config.codec == "libwebp":  # libwebp's limit, said before the first frame (else "returned 22")
            check_image_size(self.name, source.width, source.height, "WEBP")
        self.pix_fmt = output_pix_fmt(codec, pix_fmt, source.width, source.height, config.preset)
        #: the output has an alpha channel: :meth:`write` takes each frame's (opaque without one); a
        #: GIF's is one palette entry, all or nothing (see GifPalette)
        self.alpha = has_alpha(self.pix_fmt) or (config.codec == "gif" and bool(source.alpha))
        self._gif = GifPalette(transparent=self.alpha) if config.codec == "gif" else None
        # The shortest step between frames an animation can time: GIF counts hundredths of a second,
        # and browsers show a frame of less than 2 of them for 10 (a 60 frames/s GIF would play at a
        # sixth of its speed); WebP counts milliseconds. Frames closer than that to the last one
        # written are left out (the one before is shown on until the next), so slow motion at 120
        # or 240 frames/s, or a live recording's uneven clock, still writes.
        self._min_step = {"gif": Fraction(2, 100), "libwebp": Fraction(1, 1000)}.get(config.codec)
        self._last_time: Fraction | None = None
        self.thinned = 0  # frames left out for that
        # (not for one frame: a one-frame GIF reads as 100 frames/s, and nothing is left out)
        self.said_thinning = bool(self._gif is not None and source.frame_rate and source.frame_rate > 50
                                  and source.frames != 1)
        if self.said_thinning:
            log.warning("%s at %.4g frames/s: GIF shows at most 50 frames a second in browsers, so frames closer "
                        "than 1/50 s to the last one kept are left out (.webp keeps them all)",
                        Path(self.name).name, float(source.frame_rate))
        self.width, self.height = source.width, source.height
        self.frame_rate = source.frame_rate or Fraction(25)
        # the time base of the frames written (that of the input, or a finer one: see FrameGrid).
        # Not into Matroska or WebM, which keep milliseconds themselves: a time put on the grid was
        # rounded back, some to the millisecond beside their own (a live recording's frame taken at
        # 66 ms written at 67, on the one taken then)
        on_grid = config.codec not in ANIMATION_CODECS and \
            self.muxer not in ("matroska", "webm")
        self._grid = FrameGrid.of(source.time_base, source.frame_rate) if on_grid else None
        self.time_base = self._grid.time_base if self._grid is not None else source.time_base
        self.colorspace = _output_colorspace(source)
        # swscale writes grey formats at full range whatever it is asked for: tagged so, players
        # show them as written (tagged limited, grey 64 came back as 55 and 200 as 214)
        self._color_range = av.video.reformatter.ColorRange.JPEG if self.pix_fmt.startswith("gray") \
            else av.video.reformatter.ColorRange.MPEG
        self._pre_skipped: set[int] = set()  # copied Opus tracks whose lead-in is written (see _add_audio)
        self._faststart = False  # the muxer moves the index first when closing (see _open)
        self._open(source)
        self.frames = 0
        self.damaged_audio_packets = 0  # copied audio packets the muxer refused as invalid (skipped)
        self.audio_written: dict[int, int] = {}  # per audio track: packets copied or frames encoded
        # per copied track into Matroska: where its first sample heard lies (s), None once written
        # (see _time_first_heard)
        self._heard_from: dict[int, Fraction | None] = {}
        self._audio_end: dict[int, Fraction] = {}  # per re-encoded track: where the last frame encoded ends (s)
        # per re-encoded track: the setup of its first frame, and (setup, converter) after a change
        # (see _as_first)
        self._audio_setup: dict[int, tuple[str, av.AudioLayout, int]] = {}
        self._audio_converter: dict[int, tuple[tuple[str, av.AudioLayout, int], av.AudioResampler]] = {}
        self.refused_subtitles = 0  # subtitle events the muxer refused (out of order, overlapping): skipped
        self._durations: dict[int, int] = {}  # pts -> duration of frames inside the encoder
        self._video_end = 0  # the latest pts + duration written: where the video ends
        # audio and subtitles held until the video muxed reaches their time (write_audio):
        # (seconds, bytes, item)
        self._held_audio: collections.deque = collections.deque()
        self._held_bytes = 0
        self._video_written: float | None = None  # seconds: the end of the latest video packet muxed
        self._first_packet: tuple[int, int] | None = None  # (pts, dts) of the first video packet
        self._dts_shift = 0  # added to every video packet's dts (see _repair_dts)
        self._pts_fed: tuple[int, int] | None = None  # the least and greatest pts given to the encoder

    def _open(self, source: SourceInfo) -> None:
        config = self.config
        try:
            options = {}
            if config.codec == "libwebp":  # it loops, as a GIF does (FFmpeg's WebP muxer plays it once by default)
                options["loop"] = "0"
            if self.muxer in ("mp4", "mov"):
                # The edit lists that start a track late (the picture after the sound) count in the
                # movie's time scale, FFmpeg's 1000 by default: the picture came up to half a
                # millisecond off the sound (16-34 samples at 48 kHz). 90000 places it within a
                # quarter of a sample at 44.1 and 48 kHz.
                options["movie_timescale"] = str(MOVIE_TIMESCALE)
                # The index (moov) goes before the media, as `ffmpeg -movflags +faststart` puts it:
                # FFmpeg writes it last, so a browser or a web upload had to fetch the file's end
                # (or all of it, from a server that does not serve ranges) before the first frame.
                # The muxer moves it at the end, reopening the file by its name: not for live's
                # recordings, which are finished where their folder went when it is renamed
                # mid-session (the reopening failed there, and the recording was lost)
                if not config.realtime:
                    options["movflags"] = "+faststart"
                    self._faststart = True
            self._container = av.open(ffmpeg_path(self.path), "w", options=options or None)
        except (av.error.FFmpegError, ValueError) as exc:
            raise VidstyleError(f"cannot create {self.name}: {explained_error_text(exc)}") from None
        silent = self.muxer in SILENT_FORMATS
        try:
            tags = carried_tags(source.metadata)
            self._container.metadata.update(mov_tags(tags) if self.muxer == "mov"
                                            else tags)
            if source.chapters and not silent:
                self._container.set_chapters(list(source.chapters))
            self._video = self._add_video(source)
            self.audio_modes: dict[int, AudioMode] = {}
            self._audio_out: dict[int, av.AudioStream] = {}
            lost = [what for what, dropped in (("audio", config.audio and source.audio_streams),
                                               ("subtitles", config.subtitles and source.subtitle_streams),
                                               ("chapters", source.chapters)) if dropped]
            if silent and lost:
                log.warning("a %s animation holds no sound, subtitles or chapters: the %s of %s %s not written",
                            self.path.suffix, ", ".join(lost), Path(source.path).name,
                            "is" if lost == ["audio"] else "are")
            if config.audio and not silent:
                for track, stream in enumerate(source.audio_streams):
                    self._add_audio(track, stream, source.opus_pre_skip.get(track))
                _default_track(list(self._audio_out.values()))
            self.subtitle_modes: dict[int, SubtitleMode] = {}
            self._subtitle_out: dict[int, av.stream.Stream] = {}
            self._mergers: dict[int, TimedTextMerger] = {}  # converted tracks into MP4's timed text
            self._cues_at: dict[int, list] = {}  # converted tracks: [(pts, duration), texts written with it]
            #: what could not be kept, with why: [(track, codec, reason)] (the caller warns)
            self.dropped_subtitles: list[tuple[int, str, str]] = []
            self.attached = 0  # attached files carried over
            if config.subtitles and not silent:
                for track, stream in enumerate(source.subtitle_streams):
                    self._add_subtitle(track, stream)
                self._attach(source.attachments)
            try:
                with explained():  # the muxer's own reason ("vp9 only supported in MP4") for the error
                    self._container.start_encoding()
            except (av.error.FFmpegError, ValueError) as exc:
                reason = explained_error_text(exc)
                if config.codec in HARDWARE_CODECS:
                    hint = hardware_encoder_hint(reason)
                elif "supported in" in reason:  # the muxer refuses the codec ("vp9 only supported in MP4")
                    hint = f"; .mkv takes every codec here, or pick another --codec for {self.path.suffix}"
                else:
                    hint = ""
                raise VidstyleError(f"could not start writing {self.name} with {config.codec}: "
                                    f"{reason}{hint}") from None
        except BaseException:
            self.abort()
            raise

    def _add_video(self, source: SourceInfo) -> av.VideoStream:
        config, container = self.config, self._container
        try:
            stream = container.add_stream(config.codec, rate=source.frame_rate)
        except ValueError:
            raise VidstyleError(f"codec {config.codec} does not fit the {self.path.suffix} container; "
                                f"write {config.codec} to .mkv, or pick a codec for {self.path.suffix} "
                                f"({default_codec(self.path.suffix)} is its default)") from None
        stream.width, stream.height, stream.pix_fmt = source.width, source.height, self.pix_fmt
        # The input's time base (or one finer, see FrameGrid): every frame keeps its exact input
        # timestamp (VFR included).
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        if source.sample_aspect_ratio:
            stream.codec_context.sample_aspect_ratio = source.sample_aspect_ratio
            if source.sample_aspect_ratio != 1 and config.codec in ANIMATION_CODECS:
                # GIF and animated WebP have no pixel aspect ratio at all
                log.warning("the input's pixels are not square (aspect %s), which a %s animation cannot record: "
                            "viewers will show it stretched", source.sample_aspect_ratio, self.path.suffix)
            elif source.sample_aspect_ratio != 1 and config.codec not in SAR_IN_BITSTREAM and \
                    self.muxer in ("matroska", "webm"):
                # Matroska reads the display size from the stream's own aspect ratio, which PyAV
                # cannot set; H.264/H.265 carry it in the bitstream, VP9 and AV1 do not
                log.warning("the input's pixels are not square (aspect %s); %s in %s cannot record that, so "
                            "players will show it stretched: use %s or --codec libx264 to keep it",
                            source.sample_aspect_ratio, config.codec, self.path.suffix, container_for(config.codec))
        # tag what write() converts with, so players decode the colours back as they were
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_range = self.colorspace.matrix, self._color_range
        if config.codec in HEVC_ENCODERS and self.muxer in ("mp4", "mov"):
            # FFmpeg's default sample entry, hev1, is one Apple's players (QuickTime, Safari, iOS)
            # refuse; hvc1 (parameter sets in the header) plays everywhere (ffmpeg -tag:v hvc1)
            ctx.codec_tag = "hvc1"
        if self.colorspace.primaries:
            ctx.color_primaries = self.colorspace.primaries
        if self.colorspace.trc:
            ctx.color_trc = self.colorspace.trc
        if config.codec == "prores_ks":
            # vendor apl0: the identifier Apple's own encoder writes, which some editors look for
            stream.options = {"profile": "4444" if "444" in self.pix_fmt else "hq", "vendor": "apl0"}
        else:
            configure_encoder(stream, config.codec, config.crf, config.preset, config.realtime)
        if self._gif is not None and self._gif.transparent:
            # every frame drawn whole (see cleared_after_shown): no crop to the part that changed
            # since the frame before, nor its unchanged pixels left transparent to show that frame
            stream.options = {**stream.options, "gifflags": "0"}
        stream.metadata.update(carried_tags(source.video_metadata))
        if source.timecode:  # MOV/MP4 write it as a timecode track, Matroska as a tag
            stream.metadata["timecode"] = source.timecode
            if container.format.name not in _TIMECODE_MUXERS:  # what is not kept is said (README)
                log.warning("a %s output holds no timecode: the timecode %s of %s is not written "
                            "(.mp4, .mov and .mkv keep it)", self.path.suffix, source.timecode,
                            Path(source.path).name)
        # forced, ...; not attached_pic: this stream is the video, not a cover image. Always "plays
        # by default", the one video track: an input without the flag (MPEG-TS, AVI have none) gave
        # .mkv/.webm a video track marked not to play, as FFmpeg's library writes what it is given
        stream.disposition = (source.video_disposition & ~int(av.stream.Disposition.attached_pic)) \
            | int(av.stream.Disposition.default)
        return stream

    def _add_audio(self, track: int, template: av.AudioStream, pre_skip: int | None = None) -> None:
        # asked of the muxer the file has (.m4v's "ipod" holds fewer codecs than "mp4")
        refusal = copy_refusal(template, self._container.format.name)
        if refusal is None and pre_skip and self.muxer in ("matroska", "webm"):
            # a segment's copied Opus: its lead-in packets go first, the pre-skip drops them
            # (see SourceInfo.opus_pre_skip)
            with opus_template(template, pre_skip) as opus:
                self._audio_out[track] = self._keep_identity(track, self._container.add_stream_from_template(opus),
                                                             template)
            self._pre_skipped.add(track)
            self.audio_modes[track] = "copy"
            return
        if refusal is None:
            self._audio_out[track] = self._keep_identity(track, self._container.add_stream_from_template(template),
                                                         template)
            self.audio_modes[track] = "copy"
            return
        # the container does not take the packets as they are: re-encode them
        ctx = template.codec_context
        name = _transcode_codec(self.path.suffix, ctx.name)

        def rate_for(codec: str) -> int:
            rates = av.Codec(codec, "w").audio_rates
            return ctx.sample_rate if not rates or ctx.sample_rate in rates else 48000

        rate = rate_for(name)
        layout, reason = encoder_layout(name, rate, ctx.layout)
        why = ""
        if layout is None and name == "alac":  # AAC keeps each channel as it is, lossy
            why = f" (ALAC takes no {ctx.layout.name} layout)"
            name, rate = "aac", rate_for("aac")
            layout, reason = encoder_layout(name, rate, ctx.layout)
        # said every time: a lossless track (PCM, FLAC) becoming a lossy one is worth knowing
        log.warning("audio track %d (%s) cannot be copied into %s (%s); re-encoding it to %s%s",
                    track, codec_name(template), self.path.suffix, refusal, name,
                    " (lossless)" if name == "alac" else why)
        try:
            if layout is None:
                raise ValueError(reason)
            out = self._container.add_stream(name, rate=rate, layout=layout)
            if name == "alac" and ctx.format is not None and ctx.format.bytes <= 2:
                # ALAC's first format is 32-bit samples, stored as 24 bits: a 16-bit track (PCM,
                # most FLAC) came out declared 24-bit and over twice the size, for nothing
                out.codec_context.format = "s16p"
        except (ValueError, av.error.FFmpegError) as exc:
            log.warning("dropping audio track %d (%s, %s): cannot re-encode it to %s (%s)%s",
                        track, codec_name(template), ctx.layout.name, name, explained_error_text(exc),
                        "; .mkv keeps it as it is" if self.path.suffix.lower() != ".mkv" else "")
            return
        self.audio_modes[track] = "decode"
        self._audio_out[track] = self._keep_identity(track, out, template)

    def _add_subtitle(self, track: int, template: av.stream.Stream) -> None:
        """Copy the track's packets when the container takes them; else convert a text track to
        the container's text format (:data:`_TEXT_SUBTITLE_FOR`); else record it as dropped."""
        fmt = self._container.format.name
        if template.codec_context is None:  # a codec this FFmpeg cannot read (ARIB captions, teletext)
            self.dropped_subtitles.append((track, "unknown codec", "this FFmpeg has no decoder for it, so it can "
                                                                   "be neither copied nor converted"))
            return
        name = template.codec_context.name
        refusal = copy_refusal(template, fmt)
        if refusal is None:
            self._subtitle_out[track] = self._keep_identity(track, self._container.add_stream_from_template(template),
                                                            template)
            self.subtitle_modes[track] = "copy"
            return
        target = _TEXT_SUBTITLE_FOR.get(fmt)
        if name not in _TEXT_SUBTITLES or target is None:
            self.dropped_subtitles.append((track, name, f"{refusal}, and its events are pictures, not text, "
                                                        "which vidstyle cannot convert; .mkv holds it"))
            return
        decoder = template.codec_context
        try:
            if not decoder.is_open:
                decoder.open()  # which makes the ASS header the encoder starts from
            out = self._container.add_stream(target)
            out.codec_context.subtitle_header = decoder.subtitle_header
            # milliseconds: the text formats' own precision (and Matroska's)
            out.time_base = out.codec_context.time_base = Fraction(1, 1000)
        except (ValueError, av.error.FFmpegError) as exc:
            self.dropped_subtitles.append((track, name, f"{refusal}, and converting it failed: {explained_error_text(exc)}"))
            return
        lost = " (its fonts, positions and effects are lost; .mkv keeps them)" if name in _STYLED_SUBTITLES else ""
        (log.warning if lost else log.info)("subtitle track %d (%s) cannot be copied into %s (%s); converting it "
                                            "to %s%s", track, name, self.path.suffix, refusal, target, lost)
        self._subtitle_out[track] = self._keep_identity(track, out, template)
        self.subtitle_modes[track] = "convert"
        if target == "mov_text":
            self._mergers[track] = TimedTextMerger()

    def _attach(self, attachments) -> None:
        """Carry the input's attached files (a styled subtitle track's fonts) into Matroska, the
        one output container that holds them, when a subtitle track is kept to use them."""
        if not attachments or not self._subtitle_out or \
                self.muxer != "matroska":
            return
        for attachment in attachments:
            try:
                self._container.add_attachment(attachment.name or f"attachment{self.attached}",
                                               attachment.mimetype or "application/octet-stream",
                                               bytes(attachment.data))
            except (ValueError, TypeError, av.error.FFmpegError) as exc:
                log.warning("attached file %s not carried over: %s", attachment.name, explained_error_text(exc))
                continue
            self.attached += 1

    def _keep_identity(self, track: int, stream: av.stream.Stream, template: av.stream.Stream) -> av.stream.Stream:
        """``stream`` with ``template``'s language, title and flags (which track plays by default,
        commentary, ...); a flag the container cannot record is said (:data:`TRACK_FLAGS_KEPT`)."""
        tags = carried_tags(template.metadata)
        if self.muxer == "mov" and "language" in tags:
            tags["language"] = mov_language(tags["language"])
        stream.metadata.update(tags)
        stream.disposition = template.disposition
        muxer = self._container.format.name  # (.m4v's is "ipod", not OUTPUT_FORMATS' "mp4")
        for flag, name in _TRACK_FLAG_NAMES.items():
            if template.disposition & av.stream.Disposition[flag] and flag not in TRACK_FLAGS_KEPT.get(muxer, {flag}):
                keepers = [suffix for suffix, other in ((".mp4", "mp4"), (".mkv", "matroska"), (".webm", "webm"))
                           if flag in TRACK_FLAGS_KEPT[other]]
                log.warning("%s track %d is flagged %s, which %s cannot record (%s can)", template.type, track, name,
                            self.path.suffix, " and ".join(keepers))
        return stream

    @property
    def yuv420_matrix(self) -> int | None:
        """The matrix (SWS_CS_*) with which :meth:`write` also takes frames already converted to
        limited-range yuv420p (:func:`vidstyle.frames.float_to_yuv420`), or None where this output
        takes RGB only (another pixel format, transparency, GIF or WebP, odd sizes). The pipeline
        converts on the GPU: swscale's conversion took 9.5-14.6 ms of the encode stage's thread a
        1080p frame on a 16-core Xeon, more than x264 itself at its fast presets (RESULTS.md)."""
        if (self.pix_fmt != "yuv420p" or self.alpha or self._gif is not None or self.config.codec == "libwebp"
                or self.width % 2 or self.height % 2 or self._color_range != av.video.reformatter.ColorRange.MPEG):
            return None
        return SWS_MATRIX[self.colorspace.matrix]

    def write(self, image: np.ndarray, pts: int, duration: int = 0, alpha: np.ndarray | None = None) -> None:
        """Encode one uint8 (H, W, 3) RGB frame at ``pts`` lasting ``duration`` (input time base; 0: unknown);
        ``alpha``: its uint8 (H, W) transparency, kept when the output has an alpha channel (:attr:`alpha`).
        Where :attr:`yuv420_matrix` is not None, ``image`` may instead be the frame in yuv420p, a uint8
        (H * 3 / 2, W) array converted with that matrix."""
        if self._grid is not None:
            pts, duration = self._grid.place(pts, duration)
        yuv = image.ndim == 2
        if yuv and self.yuv420_matrix is None:
            raise VidstyleError(f"{self.name} takes RGB frames only (a frame came in yuv420p)")
        if image.shape[:2] != ((self.height * 3 // 2, self.width) if yuv else (self.height, self.width)):
            height = image.shape[0] * 2 // 3 if yuv else image.shape[0]
            raise VidstyleError(f"frame size changed mid-stream: {image.shape[1]}x{height} "
                                f"instead of {self.width}x{self.height}")
        if self._min_step is not None:
            t = pts * self.time_base
            if self._last_time is not None and t < self._last_time + self._min_step:
                self.thinned += 1
                if self._gif is not None and duration:  # the frame kept before it lasts its time too
                    self._gif.last_lasts_until(pts + duration)
                return
            self._last_time = t
        if self._gif is not None:  # held until the palette is made (GifPalette)
            soft = self._gif.soft_edges
            for held in self._gif.add(image, pts, duration, alpha):
                self._encode(*held)
            if self._gif.soft_edges and not soft:  # once
                log.warning("GIF's transparency is all or nothing: the input's semi-transparent pixels (soft edges, "
                            "shadows) are written into %s transparent below half opacity and opaque from it (.webp "
                            "keeps them as they are)", Path(self.name).name)
            return
        if yuv:
            frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
            # tagged with the stream's matrix (AVCOL_SPC_*, as the codec context is), not with
            # swscale's number for it (BT.601 is 5 there, 6 or 5 here)
            frame.colorspace, frame.color_range = self.colorspace.matrix, self._color_range
            self._encode(frame, pts, duration)
            return
        layout = "rgb24"
        if self.alpha:
            image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8) if alpha is None else alpha])
            layout = "rgba"
        if self.config.codec == "libwebp":  # RGB as it is: libwebp makes its own YUV
            frame = av.VideoFrame.from_ndarray(image, format=layout).reformat(format=self.pix_fmt)
        else:  # converted here rather than inside the encoder, to say with which matrix (see _output_colorspace)
            frame = convert_rgb(image, layout, self.pix_fmt, SWS_MATRIX[self.colorspace.matrix], self._color_range)
        self._encode(frame, pts, duration)

    def _encode(self, frame: av.VideoFrame, pts: int, duration: int) -> None:
        frame.pts = pts
        low, high = self._pts_fed or (pts, pts)
        self._pts_fed = (min(low, pts), max(high, pts))
        # ProRes writes each frame's own primaries and transfer into its frame header (not the
        # stream's), and FFmpeg's decoder reports those over the .mov's colr box: untagged, an
        # --hdr keep master read back (ffmpeg, mpv) as SDR
        if self.colorspace.primaries:
            frame.color_primaries = self.colorspace.primaries
        if self.colorspace.trc:
            frame.color_trc = self.colorspace.trc
        # The encoder's time base (the input's, or FrameGrid's); not the stream's, which the muxer may
        # have changed when writing the header (Matroska/WebM use milliseconds).
        frame.time_base = self.time_base
        if duration:
            # Encoders return packets with no duration, or one guessed from the average rate, and
            # the muxer would end a held last frame (an end card) one average interval after it
            # starts. Remember each frame's and put it on its packet.
            frame.duration = duration
            self._durations[pts] = duration
            self._video_end = max(self._video_end, pts + duration)
        self._mux_video(self._video.encode(frame))
        self.frames += 1

    def _remember_first_packet(self, packets) -> None:
        if self._first_packet is None and packets and packets[0].pts is not None and packets[0].dts is not None:
            self._repair_dts(packets)
            self._first_packet = (packets[0].pts, packets[0].dts)

    def _repair_dts(self, packets) -> None:
        """Called with the first packets out of the encoder. libx265 sometimes hands a clip
        shorter than its B-frame delay (one or two frames, all out at the flush) decode
        timestamps offset by an uninitialised base, 1e11 to 1e18 ticks before or after their pts,
        and the MP4 muxer then refuses them (a negative duration, or dts after pts). The steps
        between them are right: move them all (and every later packet) to at most their pts.

        A real reordering delay spans frames given to the encoder, so it is at most twice their
        times' span (x264: dts is an earlier frame's pts less the delay's first frames): measured
        against that, not frame intervals at the declared rate, as frames can come much further
        apart than that rate says (a live recording at a frame a second, a VFR WebM that declares
        1000 frames/s), and a delay taken for garbage moved dts past pts, which the muxer refused
        ("Invalid argument")."""
        interval = max(1, round(1 / (self.frame_rate * self.time_base)))
        low, high = self._pts_fed or (0, 0)
        lags = [p.pts - p.dts for p in packets if p.pts is not None and p.dts is not None]
        if lags and max(abs(lag) for lag in lags) > 64 * interval + 2 * (high - low):
            self._dts_shift = min(lags)

    def _mux_video(self, packets) -> None:
        self._remember_first_packet(packets)
        for packet in packets:
            if self._gif is not None and self._gif.transparent:
                cleared_after_shown(packet)
            if self._dts_shift and packet.dts is not None:
                packet.dts += self._dts_shift
            duration = self._durations.pop(packet.pts, 0) if packet.pts is not None else 0
            if duration:
                packet.duration = duration
            if packet.pts is not None:
                # the audio up to this packet's time goes first: the muxer's interleaving buffer
                # holds 10 s, and a flush returns many seconds of video at once
                end = float((packet.pts + (packet.duration or 0)) * self.time_base)
                self._video_written = end if self._video_written is None else max(self._video_written, end)
                self._release_audio()
            self._mux(packet)

    def write_audio(self, item: AudioItem | SubtitleItem) -> None:
        """Mux a copied audio packet or encode a decoded audio frame, once the video written
        reaches its time; likewise a subtitle event (:class:`SubtitleItem`).

        The video encoder holds frames back (x264's look-ahead: about 40), so audio muxed as it
        arrives runs ahead of the video in the file: seconds for ordinary video, a minute for a
        slideshow at one frame a second, all of it for a still frame over music, which makes a
        file that plays poorly while it downloads. Held here instead, up to
        :data:`AUDIO_HOLD_BYTES` (then written anyway, so memory stays bounded).
        """
        if (self._subtitle_out if isinstance(item, SubtitleItem) else self._audio_out).get(item.track) is None:
            return
        if item.packet is not None:
            when, size = item.packet.pts, item.packet.size
            when = None if when is None or item.packet.time_base is None else float(when * item.packet.time_base)
        else:
            frame = item.frame
            when = None if frame.pts is None or frame.time_base is None else float(frame.pts * frame.time_base)
            size = sum(plane.buffer_size for plane in frame.planes)
        self._held_audio.append((when, size, item))
        self._held_bytes += size
        self._release_audio()

    def _release_audio(self, everything: bool = False) -> None:
        """Write the held audio that the video written so far has reached (all of it with
        ``everything``, or while more than :data:`AUDIO_HOLD_BYTES` are held)."""
        while self._held_audio:
            when, size, item = self._held_audio[0]
            due = (everything or when is None or self._held_bytes > AUDIO_HOLD_BYTES
                   or (self._video_written is not None and when <= self._video_written + AUDIO_LEAD_SECONDS))
            if not due:
                return
            self._held_audio.popleft()
            self._held_bytes -= size
            self._write_audio_now(item)

    def _write_audio_now(self, item: AudioItem | SubtitleItem) -> None:
        if isinstance(item, SubtitleItem):
            self._write_subtitle_now(item)
            return
        out = self._audio_out[item.track]
        if item.packet is not None:
            if item.lead_in and self.muxer not in ("mp4", "mov") and \
                    item.track not in self._pre_skipped:
                return  # Matroska would move the whole file later to fit it in: left out
            if item.packet.is_corrupt:
                # the demuxer's flag: the cut-off last packet of a truncated file, say, which the
                # muxer takes, but no player can decode. Skipped and counted as the muxer's refusals
                self.damaged_audio_packets += 1
                return
            item.packet.stream = out
            if self.muxer in ("matroska", "webm"):
                self._time_first_heard(item.track, item.packet, out)
            try:
                self._container.mux(item.packet)
                self.audio_written[item.track] = self.audio_written.get(item.track, 0) + 1
            except (av.error.InvalidDataError, av.error.PatchWelcomeError):
                # A damaged packet in the input (a broken ADTS header in a broadcast capture, say)
                # that the muxer's bitstream filter rejects: skip it, as the decoder skips damaged
                # video packets, rather than lose the whole output. Counted; the caller warns.
                # ("Patch welcome" is the same filter's answer when the demuxer resynced on a false
                # sync word in the damaged bytes: a header with fields it does not take.)
                self.damaged_audio_packets += 1
            except av.error.FFmpegError as exc:
                raise VidstyleError(f"writing {self.name} failed: {explained_error_text(exc)}") from None
        elif item.frame is not None:
            self._encode_audio(item.track, item.frame)
            self.audio_written[item.track] = self.audio_written.get(item.track, 0) + 1

    def _time_first_heard(self, track: int, packet: av.Packet, stream: av.AudioStream) -> None:
        """Time the packet of a copied track in Matroska/WebM in which its codec delay (Opus's
        pre-skip, an encoder's priming), counted from its first packet, ends: the first sample
        heard. Players drop the delay's samples and time what is left of that packet by its
        time plus what they dropped of it, both rounded to the millisecond: a packet at 294.5 ms
        whose pre-skip (6.5 ms) ends in it was heard at 295 + 7 = 302 ms, not 301, and all the
        sound after it a millisecond (48 samples) late (a copied Opus track that starts after the
        picture). Timed as their sum rounded once, it is heard on the nearest millisecond.
        (Where the delay ends on a packet's first sample, that packet is timed as it is.)"""
        if packet.pts is None or packet.time_base is None or self._heard_from.get(track, 0) is None:
            return
        rate, clock, tb = stream.codec_context.sample_rate, stream.time_base, packet.time_base
        t = packet.pts * tb
        heard = self._heard_from.setdefault(track, t + Fraction(stream.codec_context.delay or 0, rate))
        if packet.duration and t + packet.duration * tb <= heard:
            return  # dropped whole (the lead-in a segment's pre-skip drops)
        self._heard_from[track] = None
        if t > heard or not clock or tb == clock:
            return

        def ticks(seconds: Fraction) -> int:  # rounded half away from 0, as FFmpeg rescales
            return int(math.copysign(math.floor(abs(seconds / clock) + Fraction(1, 2)), seconds))

        pts = ticks(heard) - ticks(heard - t)
        packet.duration = ticks(packet.duration * tb) if packet.duration else 0
        packet.time_base, packet.pts, packet.dts = clock, pts, pts

    def _encode_audio(self, track: int, frame: av.AudioFrame | None) -> None:
        """Encode ``frame`` (None: what a conversion still holds, at the end) into re-encoded track
        ``track``, after silence for any gap before it."""
        out = self._audio_out[track]
        for converted in self._as_first(track, frame):
            for placed in self._in_place(track, converted):
                self._mux(out.encode(placed))

    def _as_first(self, track: int, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        """``frame`` in the sample format, layout and rate of the track's first frame (None: the
        rest of a conversion, flushed). PyAV's encoder converts frames to the encoder's with one
        resampler, set up by the first frame, and refuses any other ("Frame does not match
        AudioResampler setup"): a broadcast recording whose MP2 sound goes from 48 to 44.1 kHz at
        an ad break lost the whole output. Frames after such a change are converted here, timed in
        the first frame's ticks, which the silence for gaps counts in; a converter is flushed
        before the next change (or the end), or the samples its filter still held were lost."""
        setup = None if frame is None else (frame.format.name, frame.layout, frame.sample_rate)
        first = self._audio_setup.setdefault(track, setup) if setup is not None else None
        frames = []
        held = self._audio_converter.get(track)
        if held is not None and held[0] != setup:
            frames += held[1].resample(None)
            del self._audio_converter[track]
        if setup is None:
            return frames
        if setup == first:
            return frames + [frame]
        if track not in self._audio_converter:
            self._audio_converter[track] = (setup, av.AudioResampler(format=first[0], layout=first[1], rate=first[2]))
        return frames + self._audio_converter[track][1].resample(frame)

    def _in_place(self, track: int, frame: av.AudioFrame) -> list[av.AudioFrame]:
        """``frame`` of a re-encoded track as the encoder must take it for its sound to be heard at
        its time. The encoder takes samples in frames of its own size (Opus's 960, AAC's 1024) one
        after another, each timed by its first sample, so sound is heard where it is only when each
        frame begins where the one before ended:

        - a gap before ``frame`` (a damaged packet skipped, a capture's dropout) is filled with
          silence: the encoder's frame across it took the sound after it in, up to a frame of it
          (20 ms for Opus) heard that much early. Sound that starts after the output's 0 (later
          than the picture) gets silence from 0 too: begun where it starts, the track's first time
          was rounded to .mkv/.webm's whole milliseconds, and all its sound with it (1 ms late
          measured for Opus into .webm);
        - the start of a frame that overlaps the one before is cut: FFmpeg's MP2 decoder gives
          the first packet after a change of sample rate at the old one, running past the next
          frame's time, and all the sound after it was heard that much late (2.1 ms measured)."""
        if frame.pts is None or frame.time_base is None:
            return [frame]
        # in seconds, exactly: a frame's ticks may be coarser than a sample (a Matroska track's
        # milliseconds, through the Python API), where a frame within one of where the one before
        # ended follows it, its time rounded; counted in such ticks, each rounding was taken for a
        # gap or an overlap (the sound 10 ms late after a second, in bursts of 1 ms of silence)
        rate, time_base = frame.sample_rate, frame.time_base
        t = frame.pts * time_base
        before = self._audio_end.get(track)
        if before is not None and abs(t - before) < time_base:
            t = before
        follows = before or Fraction(0)
        gap = round((t - follows) * rate)
        if gap < 0 and before is not None:  # (a first frame before the output's 0 stays whole: an edit list hides that)
            if -gap >= frame.samples:
                return []  # wholly within what was heard already
            frame = cut_audio_frame(frame, -gap, frame.samples)
            frame.pts, frame.time_base, t = round(follows / time_base), time_base, follows
        self._audio_end[track] = t + Fraction(frame.samples, rate)
        out = []
        while gap > 0:
            samples = min(gap, rate)  # a second at a time
            out.append(silent_audio_frame(frame, samples, round(follows / time_base)))
            follows += Fraction(samples, rate)
            gap -= samples
        return out + [frame]

    def _write_subtitle_now(self, item: SubtitleItem) -> None:
        packet = item.packet
        merger = self._mergers.get(item.track)
        if item.subtitle is not None:
            rects = [rect.ass for rect in item.subtitle.rects if getattr(rect, "ass", None)]
            rows = [row for row in map(dialogue_row, rects) if row is not None]
        if merger is not None:  # lines shown together become one sample (see TimedTextMerger)
            merger.time_base = packet.time_base
            for start, length, line in merger.add(packet.pts, packet.duration or 0, rows):
                self._write_text(item.track, av.subtitles.subtitle.SubtitleSet.create(line, 0, length, start),
                                 start, length, packet.time_base)
        elif item.subtitle is not None:
            # one cue per line to read: a sign drawn as layers of the same words is one
            same_time = self._cues_at.setdefault(item.track, [None, set()])
            if same_time[0] != (packet.pts, packet.duration):
                same_time[:] = [(packet.pts, packet.duration), set()]
            rows = [row for row in rows if row[2] not in same_time[1]]
            same_time[1].update(row[2] for row in rows)
            if not rows:
                return  # nothing new to read: a drawing, a line of tags, a repeated layer
            subtitle = item.subtitle
            if [row[1] for row in rows] != [ass.split(b",", 8)[-1] for ass in rects]:  # drawings taken out
                subtitle = av.subtitles.subtitle.SubtitleSet.create(dialogue_line(rows), 0, packet.duration or 0,
                                                                    packet.pts)
            self._write_text(item.track, subtitle, packet.pts, packet.duration, packet.time_base)
        elif not self._empty_timed_text(item.track, packet):
            self._mux_subtitle(item.track, packet)

    def _empty_timed_text(self, track: int, packet: av.Packet) -> bool:
        """Whether ``packet``, copied, is an empty MP4 timed text sample: the gap between two
        lines, which the MP4/MOV muxer fills itself. Copied as well, each met the muxer's own
        filling, which wrote one more empty sample of no length before every sample."""
        return packet.size == 2 and bytes(packet) == b"\x00\x00" and \
            self._subtitle_out[track].codec_context.name == "mov_text"

    def _write_text(self, track: int, subtitle, pts: int, duration: int, time_base: Fraction) -> None:
        """Encode ``subtitle`` (a SubtitleSet) in track ``track``'s output format, shown from
        ``pts`` for ``duration`` (``time_base`` ticks)."""
        try:
            packet = self._subtitle_out[track].codec_context.encode_subtitle(subtitle)
        except (av.error.FFmpegError, ValueError):
            self.refused_subtitles += 1
            return
        packet.pts = packet.dts = pts
        packet.duration, packet.time_base = duration, time_base
        self._mux_subtitle(track, packet)

    def _mux_subtitle(self, track: int, packet: av.Packet) -> None:
        packet.stream = self._subtitle_out[track]
        try:
            self._container.mux(packet)
        except (av.error.FFmpegError, ValueError):
            # an event the muxer will not place (MP4 holds one subtitle at a time: a second line
            # starting at the same instant): skipped, counted, and the caller warns
            self.refused_subtitles += 1

    def _mux(self, packets) -> None:
        try:
            self._container.mux(packets)
        except av.error.FFmpegError as exc:
            raise VidstyleError(f"writing {self.name} failed: {explained_error_text(exc)}") from None

    def finish(self) -> None:
        """Flush every encoder (frames still in the encoders' look-ahead) and close the file."""
        try:
            if self._gif is not None:
                for held in self._gif.flush():
                    self._encode(*held)
            packets = self._video.encode(None)
            if packets and self.muxer in ("mp4", "mov"):
                # MP4 keeps one duration per sample, in decode order, each up to the next
                # sample's dts; only the last packet's own duration says where the track ends. With
                # B-frames that packet is not the frame shown last, so a held last frame (an end
                # card) would be cut to one average interval. Give the last packet what makes the
                # decode timeline as long as the presentation (Matroska keeps each frame's own).
                self._remember_first_packet(packets)  # a short video comes out of the encoder here
                last = packets[-1]
                if last.dts is not None and self._first_packet is not None and self._video_end:
                    first_pts, first_dts = self._first_packet
                    self._durations.pop(last.pts, None)
                    if last.pts is not None and last.pts - last.dts > first_pts - first_dts:
                        # The muxer also ends the presentation (the edit list, the file's duration)
                        # at the latest pts + duration. A last packet further behind its pts than
                        # the first (variable frame rate, a GIF's long delays: its B-frame spans a
                        # long frame) would carry that on past the end (a GIF's 2.01 s became 2.88).
                        # Decoded later instead: its dts only orders it, and stays after the one
                        # before it, as it only moves on
                        last.dts = last.pts - (first_pts - first_dts)
                    last.duration = (self._video_end - first_pts) - (last.dts - first_dts)
            self._mux_video(packets)
            self._release_audio(everything=True)
            for track, merger in self._mergers.items():
                for start, length, line in merger.finish():
                    self._write_text(track, av.subtitles.subtitle.SubtitleSet.create(line, 0, length, start),
                                     start, length, merger.time_base)
            for track, mode in self.audio_modes.items():
                if mode == "decode":
                    self._encode_audio(track, None)
                    self._mux(self._audio_out[track].encode(None))
            container, self._container = self._container, None
            container.close()  # writes the trailer (the mp4 index): its errors matter
            if self.alpha and self.config.codec == "libwebp":
                replace_not_blend_webp_frames(self.path)
        except av.error.FFmpegError as exc:
            raise VidstyleError(f"finishing {self.name} failed: {explained_error_text(exc)}") from None
        finally:
            # a finish that failed part-way (a full disk as the look-ahead is written) leaves what
            # was written to the caller: a Matroska or WebM part plays without its index, and live
            # keeps it (discarded here, the recording was lost); a faststart file is still removed
            # first, its pass over all of it skipped (see _stop)
            self._stop(discard=self._faststart)

    def abort(self) -> None:
        """Stop writing without flushing (after an error, Ctrl-C) and discard the file: the file
        still being written is removed, whatever its container. After :meth:`finish` it does
        nothing (a finish that failed part-way leaves what it wrote to the caller: see there)."""
        self._stop(discard=True)

    def _stop(self, discard: bool) -> None:
        """Close the container without flushing, the file removed when ``discard``."""
        if hasattr(self, "_held_audio"):
            self._held_audio.clear()
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            # Removed before closing, which writes the trailer: with faststart (.mp4/.m4v/.mov)
            # the muxer then reopens the file by its name to read and write all of it again,
            # index first, and a Ctrl-C at the end of a long render waited for that pass over a
            # file about to be deleted; removed first, the reopening fails at once and the pass
            # is skipped. Removed after closing where an open file cannot be removed.
            removed = discard and _removed(self.path)
            try:
                container.close()
            except (av.error.FFmpegError, OSError, ValueError):
                pass
            if discard and not removed:
                _removed(self.path)
        # the closed container does not free the video stream's encoder while the stream is
        # referenced: let go of it, so that an encoder kept alive (by the traceback of an error a
        # program keeps, say) keeps none of the encoder's threads (4 a run here, libx264's)
        self._video = None
