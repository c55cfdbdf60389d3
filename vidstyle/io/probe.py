"""What a file says of its video before a frame is decoded, and why it is not a video vidstyle reads.

FFmpeg's container and stream fields as vidstyle takes them: which streams are moving pictures
(:func:`picture_streams`) and which audio tracks can be kept (:func:`audio_tracks`), how long the
video lasts (:func:`stated_length`), at what rate it plays (:func:`stream_frame_rate`) and whether
its clock runs at all (:func:`clock_stuck`), whether it is moving pictures at all
(:func:`holds_video`, :func:`still_format`); and the errors for a file that is a still image
(:func:`refuse_still_image`), one FFmpeg cannot open (:func:`unreadable_video_error`, which tells
an MP4 cut off before its index) or one without a video stream (:func:`no_video_stream_error`).
:class:`vidstyle.io.decode.VideoDecoder` and live's file source (:mod:`vidstyle.io.capture`)
share them, so the two read and refuse a file alike.
"""
from __future__ import annotations

import logging
import shlex
from fractions import Fraction
from pathlib import Path

import av

from vidstyle.errors import VidstyleError
from vidstyle.io.ffmpeg_errors import error_text
from vidstyle.io.files import empty_file_problem, ffmpeg_path, file_identity
from vidstyle.io.sequence import ntsc_rate

log = logging.getLogger("vidstyle")

#: FFmpeg's demuxers of bare video elementary streams (no container, so no timestamps)
RAW_VIDEO_FORMATS = {"h264", "hevc", "mpegvideo", "m4v", "cavsvideo", "vc1", "obu"}


def _tag_seconds(text: str | None) -> Fraction | None:
    """Seconds of a duration tag "HH:MM:SS.fraction" (Matroska's DURATION), None if absent or malformed."""
    try:
        hours, minutes, seconds = (text or "").split(":")
        value = int(hours) * 3600 + int(minutes) * 60 + Fraction(seconds)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def stated_length(container: av.container.InputContainer, video, start: Fraction | None = None) -> Fraction | None:
    """Seconds the container says its stream ``video`` lasts: from ``start`` (the stream's first
    frame, s; default FFmpeg's start of it) to where Matroska's track tag says it ends (FFmpeg's and
    mkvmerge's muxers write one; the tag is where the track ends, not how long it is, in a file
    whose clock starts late: 12 s for 2 s from 10 s), else the stream's own length (MP4, MOV), else
    the file's, which takes in a sound track that outlasts the picture; None where it says none.
    The tag first: FFmpeg gives a Matroska track no length of its own, or the file's (one still
    frame over 20 s of music: 20 s)."""
    tag = _tag_seconds(video.metadata.get("DURATION"))
    if tag is not None:
        if start is None:
            start = (video.start_time or 0) * video.time_base if video.time_base else 0
        return tag - start if 0 < start < tag else tag
    if container.format.name == "mpeg" and 0 < (container.size or 0) <= DEMUXED_LENGTH_BYTES:
        demuxed = _demuxed_length(container, video.index, start)
        if demuxed is not None:
            return demuxed
    if video.duration and video.time_base:
        length = video.duration * video.time_base
    elif container.duration is not None:
        length = Fraction(container.duration, av.time_base)
    else:
        return None
    if container.format.name == "nut":
        # FFmpeg's length of a NUT file is its last timestamp's, where the last frame starts: a
        # frame fewer than it holds was counted, at any length (5 of 6, 47 of 48). At the rate it
        # plays at: MPEG-4 Part 2, FFmpeg's codec for .nut, gives its stream no average rate
        length += 1 / stream_frame_rate(container, video)
    return length


#: MPEG-PS files up to this size have their video's length measured by demuxing it rather than
#: taken from FFmpeg, which reads it from the PES packets' timestamps: a small file whose frames
#: share packets has few (a 6-frame file one, said to last 0.04 s: 1 frame; 48 frames in 32 KB,
#: 45). A larger file's frames past its last timestamp are few, and a small part of it. (A 2.6 MB
#: file demuxes in 29 ms on the 2-core Zen 4: about 11 ms at this size, once a file.)
DEMUXED_LENGTH_BYTES = 1 << 20


#: (file identity, stream index) -> the (first, end) seconds of the stream's packets that
#: :func:`_demuxed_length` demuxed, or None: read once a file (a preview's samples open it many times)
_DEMUXED_SPANS: dict[str, tuple[Fraction, Fraction] | None] = {}


def _demuxed_length(container: av.container.InputContainer, index: int, start: Fraction | None) -> Fraction | None:
    """Seconds from ``start`` (default: the stream's first packet) to the end of stream ``index``'s
    last packet (:func:`_demuxed_span`, remembered for the file); None where it cannot be read or
    gives no times."""
    from vidstyle.io.decode import _remember  # (the decoder's per-file caches, bounded alike)

    try:
        key = f"{file_identity(container.name)}|{index}"
    except OSError:
        key = None
    if key is not None and key in _DEMUXED_SPANS:
        span = _DEMUXED_SPANS[key]
    else:
        span = _demuxed_span(container.name, index)
        if key is not None:
            _remember(_DEMUXED_SPANS, key, span)
    if span is None:
        return None
    first, end = span
    start = first if start is None else start
    return end - start if end > start else None


def _demuxed_span(path: str, index: int) -> tuple[Fraction, Fraction] | None:
    """The first time and the end of stream ``index``'s packets in the file ``path``, from a fresh
    open (the caller's reading stays where it is), FFmpeg's parser giving each frame its time."""
    first = end = None
    try:
        with av.open(path, "r") as again:
            for packet in again.demux(again.streams[index]):
                if packet.size and packet.pts is not None:
                    at = packet.pts * packet.time_base
                    first = at if first is None else min(first, at)
                    end = max(end or at, at + (packet.duration or 0) * packet.time_base)
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    return None if end is None else (first, end)


def picture_streams(container: av.container.InputContainer) -> list:
    """The container's video streams that are moving pictures: cover art in audio files is a
    video stream flagged as an attached picture. vidstyle reads the first."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def still_format(container: av.container.InputContainer) -> bool:
    """Whether FFmpeg opened ``container`` with one of its still-image demuxers (image2, and the
    ``*_pipe`` ones it finds by content: png_pipe, jpeg_pipe, exr_pipe, ...): a picture, which it
    reads as a one-frame "video"."""
    return container.format.name == "image2" or container.format.name.endswith("_pipe")


def holds_video(path: Path) -> bool:
    """Whether FFmpeg reads the file ``path`` as moving pictures, whatever its name: a picture
    stream, not from a still-image demuxer (:func:`still_format`). A GIF or APNG is a video here,
    of one frame or more. The one test of what a file is by its content that the still-or-video
    choices (:func:`vidstyle.io.images.is_image_path`, ``stylize_image``) make."""
    try:
        with av.open(ffmpeg_path(path)) as container:
            return not still_format(container) and bool(picture_streams(container))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return False


def audio_tracks(container: av.container.InputContainer) -> tuple:
    """The container's audio streams that FFmpeg knows the codec of, the tracks vidstyle copies
    or re-encodes: one it does not (an .mkv's unknown CodecID, which PyAV gives no codec context)
    can be neither, and ended the run with "AttributeError: 'NoneType' object has no attribute"."""
    return tuple(s for s in container.streams.audio if s.codec_context is not None)


#: Video packets :func:`clock_stuck` reads: frames of a working file each have a time of their own
STUCK_CLOCK_PACKETS = 16


def clock_stuck(path: str | Path, container: av.container.InputContainer, index: int) -> bool:
    """Whether stream ``index`` of ``container``, the file ``path``, has a clock that does not run:
    its first packets (3 or more, up to :data:`STUCK_CLOCK_PACKETS`) all at one time, as a program
    that wrote every frame at 0 leaves them. Its average frame rate is then its frame count over a
    length of nothing (1275 for 51 frames in a 0.04 s MP4), and its frames all one moment. Read
    from the file opened again, so the caller's reading stays where it is; only for a stream (or,
    where it gives none, a file) that says it lasts a second or less, as such a stream does (its
    length is one frame's), since
    opening it again and reading its first packets takes time (34 ms for a 0.4 s 1024x436 H.264
    clip, 2 shared EPYC cores)."""
    # the stream's own length, not the file's, where the container gives one: a sound track of its
    # own clock makes the file's longer (a stuck .mkv with sound was taken for a working one)
    length = stated_length(container, container.streams[index])
    if length is not None and length > 1:
        return False
    times = []
    try:
        with av.open(ffmpeg_path(path), "r") as again:
            for packet in again.demux(again.streams[index]):
                if packet.size:  # (not the empty packet that ends the stream)
                    times.append(packet.pts)
                if len(times) == STUCK_CLOCK_PACKETS:
                    break
    except (av.error.FFmpegError, OSError, IndexError):
        return False
    # (no times at all is a raw stream, timed by its frame rate already)
    return len(times) >= 3 and times[0] is not None and times.count(times[0]) == len(times)


def say_clock_stuck(name: str, rate: Fraction) -> None:
    """The warning for a file whose clock does not run (:func:`clock_stuck`)."""
    log.warning("every frame of %s has the same time (its clock does not run): its frames are played one after "
                "another at %s frames/s", name, f"{float(rate):.6g}")


def stream_frame_rate(container: av.container.InputContainer, video, stuck: bool = False) -> Fraction:
    """The frame rate of ``video`` (a stream of ``container``) as vidstyle plays it: the average,
    else FFmpeg's guess, else the stream's base rate, else 25; an NTSC rate its container declares
    rounded, exact. ``stuck``: its clock does not run (:func:`clock_stuck`), so the average, made
    of its times, is not its rate; the bitstream's rate, else FFmpeg's guess, is."""
    rate = video.average_rate or video.guessed_rate or video.base_rate
    if stuck:
        rate = video.codec_context.framerate or video.guessed_rate
    if container.format.name in RAW_VIDEO_FORMATS:
        # a bare elementary stream has no timestamps: FFmpeg's demuxer assumes 25 frames/s,
        # while the bitstream itself (H.264/HEVC timing info) usually says what the camera shot
        rate = video.codec_context.framerate or video.guessed_rate or rate
    if not rate:
        return Fraction(25)
    # Matroska keeps the frame interval in whole nanoseconds (59.94 comes back as 19001/317), FLV
    # its rate as a fraction of numbers up to 1000 (59.9375, 23.9756): taken so, the rate declared
    # in the output was that, and the frame grid (io.encode.FrameGrid) missed or drifted off the frames
    return ntsc_rate(Fraction(rate), Fraction(rate) / 10000)


def refuse_still_image(container: av.container.InputContainer, path: Path) -> None:
    """Still images open as one-frame "videos" (png_pipe, image2, ...): not what we stylize as a
    video. A still image is one by its content (:func:`vidstyle.io.images.is_image_path`), so what
    takes stills has sent it there before it gets here, under any name."""
    if still_format(container):
        from vidstyle.io.images import check_still, open_image

        check_still(path)  # an animated WebP, which FFmpeg cannot decode, says so
        try:
            open_image(path)
        except VidstyleError as unreadable:
            # a damaged file, or text named .jpg, says what it is, not "an image"; an image that
            # only FFmpeg reads (EXR, DPX) is still one
            try:
                next(container.decode(video=0))
            except (av.error.FFmpegError, StopIteration):
                raise unreadable from None
        raise VidstyleError(f"{path} is an image, not a video (use a video file)")


def mp4_index_problem(path: Path) -> str | None:
    """Why an MP4/MOV file has no usable index (``moov`` box), or None: MP4 writes its index last,
    so a recording cut off (power, a full card, a crash) has none, and a file cut short in a copy
    or download loses its end, index and all; FFmpeg says only "Invalid data found when
    processing input", or opens it with no streams."""
    import struct

    boxes, cut = set(), None
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            offset = 0
            while offset + 8 <= size and len(boxes) < 64:
                f.seek(offset)
                length, kind = struct.unpack(">I4s", f.read(8))
                if length == 1:  # a 64-bit size follows
                    length = struct.unpack(">Q", f.read(8))[0]
                elif length == 0:  # to the end of the file
                    length = size - offset
                if length < 8:
                    break
                boxes.add(kind)
                if offset + length > size:
                    cut = kind
                offset += length
    except (OSError, struct.error):
        return None
    if b"ftyp" not in boxes:
        return None
    if cut == b"moov":
        return ("its index (moov box) is cut off: the file is incomplete, as a copy or download that "
                "stopped early leaves it; copy it again from its source")
    if b"mdat" in boxes and b"moov" not in boxes:
        return ("it has no index (no moov box): an MP4/MOV recording that was cut off before it finished; "
                "a repair tool such as untrunc can rebuild it with a complete file from the same camera")
    return None


def unreadable_video_error(path: Path, exc: Exception) -> VidstyleError:
    """The error for a file FFmpeg cannot open, saying why where it can be known."""
    problem = mp4_index_problem(path) or empty_file_problem(path)
    if problem:
        return VidstyleError(f"{path} cannot be read: {problem}")
    return VidstyleError(f"{path} is not a readable video file ({error_text(exc)})")


def no_video_stream_error(path: Path, container: av.container.InputContainer | None = None) -> VidstyleError:
    """The error for a file FFmpeg opens without a video stream (of ``container``, where given):
    an MP4 whose index was cut off opens with no streams at all; a song with its album cover has
    one, an attached picture, which players show and ffprobe lists as a video stream, so "no
    video stream" alone read as wrong."""
    problem = mp4_index_problem(path)
    if problem:
        return VidstyleError(f"{path} cannot be read: {problem}")
    if container is not None and container.streams.video:
        # (said the same to every command: stylize, --mask, live's --source, bench, train; so the
        # way to the picture, not what to do with it, and the file as it was given in the command:
        # its bare name failed where it was in another folder, music/song.m4a)
        name = shlex.quote(str(path))
        return VidstyleError(f"{path} has no video stream, only a cover image (an attached picture, as music "
                             f"files carry), a still, which `ffmpeg -i {name} -map 0:v -frames:v 1 cover.png` "
                             f"saves as an image")
    return VidstyleError(f"{path} has no video stream")

