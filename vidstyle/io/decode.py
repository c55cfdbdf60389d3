"""Decoding: demux and decode a video file into display-oriented RGB frames with timestamps.

:class:`VideoDecoder` opens the input, seeks to ``start`` and decodes the first frame of the
segment up front (so bad or empty input fails before any output exists and the frame size is
known), then :meth:`VideoDecoder.read` streams the rest: video frames as :class:`DecodedFrame`
and, interleaved as the file stores them, the audio of the segment as :class:`AudioItem`
(packets to copy, or decoded frames to re-encode) and its subtitles as :class:`SubtitleItem`.
"""
from __future__ import annotations

import bisect
import collections
import contextlib
import logging
import math
import os
import stat
import threading
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Literal

import av
import av.filter
import numpy as np

from vidstyle.config import check_downscale, check_hdr_mode, check_segment
from vidstyle.errors import BadValueError, VidstyleError
from vidstyle.io.ffmpeg_errors import error_text
from vidstyle.io.files import check_input, ffmpeg_path, file_identity
from vidstyle.io.gif import clears_to_transparency, restores_what_was_before
from vidstyle.io.display import DisplayConversion, chroma_subsampling, component_bits, has_alpha
from vidstyle.io.hdr import HDR_TRANSFERS
from vidstyle.io.images import oversized_frames_error
from vidstyle.io.packets import CLOCK_RESTART, PacketDecoder, alpha_decoder, continuous_packets
from vidstyle.io.probe import (RAW_VIDEO_FORMATS, audio_tracks, clock_stuck, mp4_index_problem, no_video_stream_error,
                               picture_streams, refuse_still_image, say_clock_stuck, stated_length, stream_frame_rate,
                               unreadable_video_error)
from vidstyle.io.sequence import DEFAULT_SEQUENCE_FPS, MIN_SEQUENCE_FPS, find_sequence, sequence_fps
from vidstyle.io.timecode import find_timecode, is_timecode_track, shifted

log = logging.getLogger("vidstyle")

AudioMode = Literal["copy", "decode"]
#: a subtitle track's packets are copied, or decoded for re-encoding as another text format
SubtitleMode = Literal["copy", "convert"]


@dataclass
class DecodedFrame:
    """One decoded video frame.

    ``image`` is uint8 (H, W, 3) RGB, already rotated as the rotation tag says (display
    orientation); ``alpha`` its transparency, uint8 (H, W) turned alike, when the reader asked for
    it and the video has an alpha channel (see :meth:`VideoDecoder.read`), else None. ``pts`` is
    in ``time_base`` and already shifted so a segment starts near 0; ``index`` counts the frames
    of the segment from 0; ``duration`` (in ``time_base``, 0 when unknown) is kept so the last
    frame of the output lasts as long as in the input. ``scaled_from``: the frame's own stored
    (width, height) where the stream changed size and ``image`` was scaled to the first frame's
    (:attr:`VideoDecoder.stored_size`), else None.
    """

    image: np.ndarray
    pts: int
    time_base: Fraction
    index: int
    duration: int = 0
    alpha: np.ndarray | None = None
    scaled_from: tuple[int, int] | None = None

    @property
    def time(self) -> Fraction:
        return self.pts * self.time_base


@dataclass
class AudioItem:
    """Audio for the encoder: a packet to copy or a decoded frame to re-encode, with shifted pts.

    ``track`` is the position of the audio stream among the input's audio streams.
    """

    track: int
    packet: av.Packet | None = None
    frame: av.AudioFrame | None = None
    #: a copied packet before the segment's start (timed below 0), written only where an edit list
    #: hides it, or an Opus track's pre-skip (see VideoDecoder._audio_items, SourceInfo.opus_pre_skip)
    lead_in: bool = False


def cut_audio_frame(frame: av.AudioFrame, first: int, last: int) -> av.AudioFrame:
    """Samples ``first`` to ``last`` (not included) of ``frame``, in its format, layout and rate
    (its timestamp left to the caller). Cut by FFmpeg's atrim rather than through NumPy: PyAV 18
    mishandles planar frames of 8 or more channels (7.1 AAC) there, its to_ndarray crashing."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(sample_rate=frame.sample_rate, format=frame.format.name, layout=frame.layout.name,
                               time_base=frame.time_base or Fraction(1, frame.sample_rate))
    trim = graph.add("atrim", start_sample=str(first), end_sample=str(last))
    sink = graph.add("abuffersink")
    source.link_to(trim)
    trim.link_to(sink)
    graph.configure()
    graph.push(frame)
    graph.push(None)
    return graph.pull()  # one frame in, one out


@dataclass
class SubtitleItem:
    """A subtitle event for the encoder: ``packet`` timed for the output (shifted like the video,
    cut to the segment) and, for a track to convert, ``subtitle``, its decoded text
    (an ``av.subtitles.subtitle.SubtitleSet``).

    ``track`` is the position of the subtitle stream among the input's subtitle streams.
    """

    track: int
    packet: av.Packet
    subtitle: object = None


@dataclass(frozen=True)
class SourceInfo:
    """What the encoder and the progress bar need to know about the input video stream."""

    path: Path
    width: int  # display width (after rotation)
    height: int  # display height (after rotation)
    rotation: int  # degrees counter-clockwise applied to the pixels
    time_base: Fraction
    frame_rate: Fraction  # average frame rate (a guess when the container does not say)
    frames: int | None  # expected number of frames of the segment, when it can be known
    codec: str
    sample_aspect_ratio: Fraction | None
    audio_streams: tuple  # the input's av.AudioStream objects (templates for stream copy)
    # colour (FFmpeg's AVCOL_* numbers; 2 = unspecified), kept by the encoder: the YUV matrix the
    # frames were converted with (yuv_matrix: the input's tag or the one assumed for its size), and
    # the input's primaries and transfer tags; BT.709 (1) all three for HDR frames tone-mapped to SDR
    colorspace: int = 2
    color_primaries: int = 2
    color_trc: int = 2
    mirrored: bool = False  # mirrored left to right after the rotation (a display matrix with a flip)
    subtitle_streams: tuple = ()  # the input's av.SubtitleStream objects (templates for the output's)
    # tags (title, language, creation_time, ...) of the container and of the video stream, and the
    # video stream's disposition flags, carried over by the encoder (vidstyle.io.encode.carried_tags)
    metadata: dict = field(default_factory=dict)
    video_metadata: dict = field(default_factory=dict)
    video_disposition: int = 0
    # chapters (PyAV's dicts) on the output's timeline: those of a segment (or of a file that
    # starts late) shifted as the video is, cut to it; the ones wholly outside it are counted in
    # dropped_chapters
    chapters: tuple = ()
    dropped_chapters: int = 0
    # the input's attached files (av AttachmentStream: name, mimetype, data): the fonts of styled
    # subtitles, cover images; carried over into Matroska
    attachments: tuple = ()
    data_streams: int = 0  # data streams (camera metadata) other than timecode tracks, not carried over
    timecode: str = ""  # the SMPTE timecode of the first frame read (the input's, moved on by a segment)
    other_video_streams: int = 0  # video streams after the first (another angle, a preview), not carried over
    cover_images: int = 0  # attached pictures (cover art, a thumbnail) beside the video, not carried over
    interlaced: bool = False  # the first frame is interlaced: fields are stylized as one picture
    bits: int = 8  # bits per component of the decoded frames (vidstyle works in 8)
    chroma: tuple[int, int] | None = None  # the decoded frames' chroma subsampling (chroma_subsampling), None for RGB
    # ... as the frames are shown (DisplayConversion.shown_chroma: turned; None when downscaled), for finding bars
    shown_chroma: tuple[int, int] | None = None
    alpha: bool = False  # the decoded frames have an alpha channel (transparency)
    hdr: str = ""  # the input's HDR transfer ("PQ", "HLG"), or "" for SDR
    tone_mapped: bool = False  # HDR frames are delivered tone-mapped to SDR BT.709 (vidstyle.io.hdr)
    downscaled_from: tuple[int, int] | None = None  # (width, height) as shown before downscaling, if it was
    # per Opus track of a segment: the samples (48 kHz) of its copied lead-in packets before the
    # first frame, which a Matroska output's pre-skip drops (Opus has no edit list but that)
    opus_pre_skip: dict = field(default_factory=dict)


def seconds_fraction(seconds: float) -> Fraction:
    """``seconds`` (any real number) as the nearest fraction with a denominator up to a million
    (microseconds)."""
    # Fraction() takes no NumPy float32: style_sheet(start=np.float32(1.5)) ended in a bare TypeError
    exact = seconds if isinstance(seconds, (int, float, Fraction)) else float(seconds)
    return Fraction(exact).limit_denominator(1_000_000)


def _seconds_text(seconds: Fraction) -> str:
    """``seconds`` (a --start or --duration: microseconds at the finest, see :func:`seconds_fraction`) as
    the decimal it is, whatever its size (``:g`` gave "36001" for 36000.98)."""
    return f"{float(seconds):.6f}".rstrip("0").rstrip(".")


def _seconds_apart(before: Fraction | None, start: Fraction, after: Fraction, end: Fraction) -> tuple[str, str]:
    """The times of the frames ``before`` (None: none) and ``after`` a segment [``start``,
    ``end``) that holds none, as text: to the millisecond, or finer where that would round one
    onto or into the segment (a frame 0.2 ms before a --start of 1 is not "at 1.000 s")."""
    for places in range(3, 7):
        shown = [None if t is None else f"{float(t):.{places}f}" for t in (before, after)]
        if (before is None or Fraction(shown[0]) < start) and Fraction(shown[1]) >= end:
            break
    return shown[0], shown[1]


#: (file, size, modification time) -> whether its clock starts over (VideoDecoder._clock_starts_over)
_CLOCK_RESTARTS: dict[str, bool] = {}


#: (file, size, modification time) -> where the first frame shown lies when its video's first
#: packets give none (VideoDecoder._first_shown)
_FIRST_SHOWN: dict[str, tuple[Fraction | None, int]] = {}

#: files the two caches above remember, the latest scanned: what a run's several decoders of one
#: input share. Unbounded, a program that stylized file after file grew them by an entry a file
CACHED_FILES = 256


def _remember(cache: dict, key: str, value) -> None:
    """``cache[key] = value``, the oldest entries forgotten beyond :data:`CACHED_FILES`."""
    # their names copied in one call, which no other thread's write breaks into, not iterated: a
    # decoder opened on another thread that remembered its file between iter() and next() failed
    # this one with "dictionary changed size during iteration"
    for old in list(cache)[:max(0, len(cache) - CACHED_FILES + 1)]:
        cache.pop(old, None)  # (another thread may have taken it meanwhile)
    cache[key] = value


def _stat_or_none(path: Path) -> os.stat_result | None:
    """``os.stat(path)``, or None where it is not there (any more)."""
    try:
        return os.stat(path)
    except OSError:
        return None


#: bytes read from the middle of an input file to tell it written over from grown (_middle_bytes)
_MIDDLE_BYTES = 4096


def _middle_bytes(path: Path, opened: os.stat_result | None) -> bytes | None:
    """4 KiB from the middle of the regular file ``path`` as ``opened`` (its stat) found it, to tell
    a file written over by a larger one from one that grew: a recording still being written only
    appends, and a finished Matroska one rewrites its head, not its middle."""
    if opened is None or not stat.S_ISREG(opened.st_mode) or opened.st_size < 2 * _MIDDLE_BYTES:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(opened.st_size // 2)
            return f.read(_MIDDLE_BYTES)
    except OSError:
        return None


class VideoDecoder:
    """Decode ``path`` (optionally the segment ``[start, start + duration)`` seconds). A folder is
    read as an image sequence (:mod:`vidstyle.io.sequence`) at ``fps`` frames a second (default
    :data:`~vidstyle.io.sequence.DEFAULT_SEQUENCE_FPS`; ignored for files, which have their own).
    An HDR video (PQ, HLG) is tone-mapped to SDR BT.709 with ``hdr="sdr"`` (:mod:`vidstyle.io.hdr`),
    or given as coded with ``hdr="keep"``; ``info`` says which. With ``downscale``, frames with a
    longer side than that are scaled down to it as they are converted (``info`` has the new size).

    Use as a context manager; the file is opened read-only and closed on exit.
    """

    def __init__(self, path: str | Path, start: float | None = None, duration: float | None = None,
                 announce: bool = True, fps=None, hdr: str = "sdr", downscale: int | None = None):
        self.path = check_input(path, folders=True)
        self._closed = self._spent = False  # see _spend
        # held by the thread that reads, while it reads (not between frames): close() from another
        # thread frees nothing under it (see close)
        self._reader = threading.Lock()
        self._let_go = False  # the file and its decoders were let go of (see close)
        self._hdr = check_hdr_mode(hdr)  # see DisplayConversion.of
        self._downscale = downscale
        # a folder is an image sequence, played at ``fps`` (vidstyle.io.sequence)
        self.sequence = find_sequence(self.path) if self.path.is_dir() else None
        self._sequence_fps = sequence_fps(fps if fps is not None else DEFAULT_SEQUENCE_FPS)
        # warn of what reading meets (a size change); a look ahead at sample frames passes False,
        # so a run says it once, when it stylizes
        self.announce = announce
        # as the run functions check them: start="1" was a TypeError from math.isfinite, and a
        # downscale the run functions refuse (0, 3) was taken
        check_segment(start, duration)
        check_downscale(downscale)
        # the file as it was opened, to tell one written over while it is read (changed_while_read)
        self._opened_as = None if self.sequence is not None else _stat_or_none(self.path)
        # an image sequence's frames as each was read, by position (changed_while_read): each file
        # is opened only as its turn comes, so no one stat at the start says what was read
        self._frames_read_as: dict[int, os.stat_result] = {}
        self._opened_middle = _middle_bytes(self.path, self._opened_as)
        try:
            self._container = self._open()
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise unreadable_video_error(self.path, exc) from None
        try:
            self._setup(start, duration)
        except BaseException:
            self._container.close()
            raise

    #: damaged files of an image sequence named in the warning
    NAMED_DAMAGED = 10

    @property
    def clock_offset(self) -> Fraction:
        """Seconds to add to a frame's :attr:`DecodedFrame.time` for its time on the input's clock
        as ``start`` counts it, from the video stream's first timestamp: what a player shows."""
        return self._shift * self._tb - self._stream_start

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the first frame as stored (before any turn or downscale), to which
        frames of another stored size are scaled (:attr:`DecodedFrame.scaled_from`)."""
        return self._display.stored_size

    @property
    def first_time(self) -> Fraction:
        """Seconds of the segment's first frame on the input's clock (as ``start`` counts it): the
        first frame at or after ``start``, later than it where it falls between frames."""
        return self._origin - self._stream_start

    @property
    def segment_end(self) -> Fraction | None:
        """Seconds where the segment ``duration`` asks for ends on the input's clock (as ``start``
        counts it; whole frames: see the first frame's), None without a duration."""
        return None if self._end is None else self._end - self._stream_start

    @property
    def stated_end(self) -> Fraction | None:
        """Seconds where the container says the input's video ends, on the input's clock (as
        ``start`` counts it), whatever segment is read: the picture's own end, not a sound track's
        that outlasts it, where the container states it apart (see :func:`stated_length`). None
        where it states none (a raw stream), and for a format whose clock may start over (MPEG-TS,
        MPEG-PS, Ogg...): pieces joined into one file run on past FFmpeg's length, their first's."""
        return None if self._stated_end is None else self._stated_end - self._stream_start

    @property
    def frames_end(self) -> Fraction | None:
        """Seconds where the segment's frames end on the input's clock (as ``start`` counts it), by
        what the file says its video lasts and ``duration``; None where neither says: a frame there
        or later is not the segment's (see :meth:`_kept_end`). Frames unevenly spaced (dropped ones,
        a variable frame rate) do not end where their count at the average rate does."""
        ends = self._kept_end()
        return None if ends is None else ends - self._stream_start

    @property
    def written_end(self) -> Fraction | None:
        """Seconds where the segment's last frame ends as stylize writes it, on the input's clock (as
        ``start`` counts it): the end ``duration`` asks for moved to whole frames of the average
        rate (a frame it ends inside is kept whole), or where the file says its video ends; None
        where neither says. Samples are spread up to here, over the frames as the output shows
        them, and bounded by :attr:`frames_end`: spread up to --duration 1.01 of a 24 frames/s
        clip, they left its last frame (at 1 s) out where --duration 1.04, which keeps the same
        frames, took it."""
        return None if self._expected_end is None else self._expected_end - self._stream_start

    @property
    def passed_end(self) -> bool:
        """Whether a frame at or after the segment's end (:attr:`frames_end`) was decoded: the
        frames read end there because the segment does, not the file (a gap after them)."""
        return self._passed_end

    def _kept_end(self) -> Fraction | None:
        """Where the segment's frames end on the stream's clock (:attr:`frames_end`): a frame
        there or later is not the segment's. At the end ``duration`` asks for, not at whole frames
        of the average rate (the end the last frame's length runs to): frames unevenly spaced (a
        burst, 30 frames at 1 s, 5 frames/s around it) are not there, and the frame at 1.4 s was
        sampled and shown for --start 1 --duration 0.4 (it ended at 1.46 s), though left out of the segment."""
        ends = [t for t in (self._expected_end, self._frames_end) if t is not None]
        return min(ends) if ends else None

    def damaged(self) -> str:
        """What :attr:`damaged_packets` counts, as a warning's subject: "3 damaged video packet(s)
        of NAME", or for an image sequence "2 damaged frame(s) of FOLDER (f_0005.png, f_0008.png)",
        the files of the segment whose frame never came; "" when there were none."""
        if self.sequence is None:
            return f"{self.damaged_packets} damaged video packet(s) of {self.path.name}" if self.damaged_packets else ""

        def inside(pts) -> bool:  # image2 stamps each file with its position in name order
            if pts is None or not 0 <= pts < self.sequence.count:
                return False
            t = pts * self._tb
            return (self._start is None or t >= self._start) and (self._frames_end is None or t < self._frames_end)

        # a reader that stopped before the end (a mask outlasting the video) left its last files
        # inside the decoder's frame threads: not lost, only not waited for
        last = max((p for p in self._got if p is not None), default=-1)
        lost = sorted(pts for pts in self._sent - self._got if inside(pts) and (self._flushed or pts < last))
        if not lost:
            return ""
        names = [self.sequence.names[pts] for pts in lost[:self.NAMED_DAMAGED]]
        more = f" and {len(lost) - len(names)} more" if len(lost) > len(names) else ""
        return f"{len(lost)} damaged frame(s) of {self.path.name} ({', '.join(names)}{more})"

    def changed_while_read(self) -> str | None:
        """Why what was read is no one version of the file, else None: the file opened got shorter
        while it was read, or changed where it had been written, written over in place (a copy
        onto it) or cut. The frames read were
        then two files' or fewer than it had, and the run ended as on a damaged file, a warning
        and exit status 0. A file that grew (a recording still being written) was read as far as
        it went; one removed, or another renamed into its place, was read whole (the one opened
        stays as it was). An image sequence's frames are each opened as their turn comes: one
        written over, or another renamed into its place, after it was read (a render done again
        while it is stylized) leaves the frames read two renders' (:meth:`_frames_changed`)."""
        if self.sequence is not None:
            return self._frames_changed()
        then, now = self._opened_as, _stat_or_none(self.path)
        if then is None or now is None or not os.path.samestat(now, then):
            return None
        # larger: grown (as far as it went), or a larger file copied over it, which changed what
        # was already there (its middle, compared once the times say it was written to)
        if now.st_size >= then.st_size and (now.st_mtime_ns == then.st_mtime_ns or self._opened_middle is None
                                            or _middle_bytes(self.path, then) == self._opened_middle):
            return None
        return (f"{self.path.name} was written over or cut while it was read ({then.st_size} bytes, now "
                f"{now.st_size}): run again once it is complete")

    #: frames written over that :meth:`_frames_changed` names
    NAMED_CHANGED = 3

    def _frames_changed(self) -> str | None:
        """:meth:`changed_while_read` of an image sequence: a stat per frame read, compared with the
        one taken as it was read (never the files read again). One removed since was read whole,
        as a video removed is."""
        changed = []
        for position, then in sorted(self._frames_read_as.items()):
            now = _stat_or_none(self.sequence.folder / self.sequence.names[position])
            if then is not None and now is not None and (not os.path.samestat(now, then) or now.st_size != then.st_size
                                                         or now.st_mtime_ns != then.st_mtime_ns):
                changed.append(self.sequence.names[position])
        if not changed:
            return None
        named = ", ".join(changed[:self.NAMED_CHANGED])
        more = f" and {len(changed) - self.NAMED_CHANGED} more" if len(changed) > self.NAMED_CHANGED else ""
        return f"frames of {self.path} were written over while they were read ({named}{more}): run again once " \
               "they are complete"

    def sequence_number(self, pts: int) -> int | None:
        """For an image-sequence input, the number in the file name of the frame at ``pts`` (as
        :class:`DecodedFrame` gives it, shifted to the segment), else None."""
        if self.sequence is None:
            return None
        position = pts + self._shift  # image2 stamps each file with its position in name order
        return self.sequence.number(position) if 0 <= position < self.sequence.count else None

    def _open(self) -> av.container.InputContainer:
        if self.sequence is not None:
            return self.sequence.open(self._sequence_fps)
        return av.open(ffmpeg_path(self.path), "r")

    def _video_start(self, container: av.container.InputContainer, video: av.VideoStream,
                     segment: bool = False) -> Fraction:
        """Seconds of the video's first frame, which ``start`` counts from: FFmpeg's start of the
        stream, but in AVI the first packet's time. AVI stores no presentation times, and FFmpeg
        starts its stream at the first frame's decode time, before the time the frame is decoded
        with (H.264's reorder delay: x264's first frame at 1/fps, the sound from 0), so a segment
        began a frame early (--start 0.51 kept the frame 0.5 s after the first). A stream that
        starts after a keyframe (:attr:`PacketDecoder.lead`) starts at its first frame shown, as a
        player shows it: FFmpeg's start is its first packet's, which gives no frame, and --start
        0.1 --duration 0.8 of one cut 0.29 s after a keyframe kept 15 frames, not 20. Looked for
        here for a ``segment`` only (it is sought from it); a whole file's read finds it as it goes."""
        start = (video.start_time or 0) * self._tb
        if self.sequence is not None:
            return start
        if container.format.name == "avi":
            start = self._avi_start(video.index, start)
        elif video.start_time is None and container.format.name not in RAW_VIDEO_FORMATS:
            # FFmpeg states none for some short files (a 6-frame Matroska one, video alone, whose
            # clock starts at 10 s; 12 frames have one): taken as 0, it was counted as 246 frames,
            # and --start and --duration counted from 0. Its first packets' earliest time instead
            start = self._earliest_packet_time(video.index, start)
        # AVI's too: from its first packet, --start 0.1 --duration 0.8 of one cut 0.29 s after a
        # keyframe kept 15 frames where the same cut in .ts or .mkv kept 20
        shown, self._unshown = self._first_shown(video.index) if segment else (None, 0)
        return start if shown is None else max(start, shown)

    def _avi_start(self, index: int, start: Fraction) -> Fraction:
        """Seconds of the first packet with a time of AVI stream ``index`` (no earlier than
        ``start``, FFmpeg's): see :meth:`_video_start`."""
        try:
            with self._open() as again:  # (the main read stays at the beginning)
                for packet in again.demux(again.streams[index]):
                    if packet.pts is not None:  # the first frame decoded, B-frames or not (see _timed)
                        return max(start, packet.pts * packet.time_base)
        except (av.error.FFmpegError, OSError):
            pass
        return start

    #: packets of a stream whose start FFmpeg does not state that :meth:`_earliest_packet_time`
    #: reads: FFmpeg's start is the earliest of its first packets' times (B-frames come reordered)
    START_PACKETS = 16

    def _earliest_packet_time(self, index: int, start: Fraction) -> Fraction:
        """Seconds of the earliest time among the first :data:`START_PACKETS` packets of stream
        ``index`` (``start`` where none has one), from a fresh open of the file (the main read
        stays at the beginning): see :meth:`_video_start`."""
        times = []
        try:
            with self._open() as again:
                for n, packet in enumerate(again.demux(again.streams[index])):
                    if n == self.START_PACKETS:
                        break
                    if packet.pts is not None:
                        times.append(packet.pts * packet.time_base)
        except (av.error.FFmpegError, OSError):
            pass
        return min(times, default=start)

    def _first_shown(self, index: int) -> tuple[Fraction | None, int]:
        """(seconds of the first frame shown, the packets before it that give none) of stream
        ``index`` when its first packets give none (see :attr:`PacketDecoder.lead`), else (None,
        0): from a fresh open of the file (the main read stays at the beginning), decoded only
        where its first packet is no keyframe. Once per file and process."""
        key = file_identity(self.path)
        found = _FIRST_SHOWN.get(key)
        if found is None:
            found = (None, 0)
            try:
                with self._open() as again:
                    stream = again.streams[index]
                    decoder, first = PacketDecoder(), True
                    for packet in again.demux(stream):
                        if first and packet.size and packet.is_keyframe:
                            break  # starts on a keyframe: nothing lost before it
                        first = first and not packet.size
                        decoder.decode(packet)
                        if decoder.first_pts is not None:
                            if decoder.lead:
                                found = (decoder.first_pts * stream.time_base, decoder.lead)
                            break
            except (av.error.FFmpegError, OSError):
                pass  # damaged: the stream's own start, as before
            _remember(_FIRST_SHOWN, key, found)
        return found

    def _setup(self, start, duration) -> None:
        container = self._container
        if self.sequence is None:
            refuse_still_image(container, self.path)
        videos = picture_streams(container)
        if not videos:
            raise no_video_stream_error(self.path, container)
        self._video = video = videos[0]
        self._other_videos = videos[1:]
        # the size the header declares, before a frame of it is decoded (what FFmpeg allocates);
        # the first frame's is checked again below, for a header that said less
        oversized = oversized_frames_error(self.path, video.codec_context.width, video.codec_context.height)
        if oversized:
            raise oversized
        # FFmpeg's frame and slice threading: decoding keeps up with the network.
        video.codec_context.thread_type = "AUTO"
        self._context = alpha_decoder(video)
        self._audio = audio_tracks(container)
        if self.announce:
            for k, stream in enumerate(container.streams.audio):
                if stream not in self._audio:
                    log.warning("dropping audio track %d of %s: its codec is unknown to this FFmpeg, so it can be "
                                "neither copied nor re-encoded", k, self.path.name)
        self._subtitles = tuple(container.streams.subtitles)
        self._looked_back = False  # the subtitle lines begun before the start came from _subtitles_before_start
        self._audio_looked_back: set[int] = set()  # tracks whose sound before the start came from _audio_before_start
        self._on_screen_at_start: set[int] = set()  # ids of those packets without a length still shown then
        self.unreadable_subtitles = 0  # subtitle events to convert that would not decode (not UTF-8 text)
        self._tb = video.time_base or Fraction(1, 90000)
        self._clock_stuck = self.sequence is None and clock_stuck(self.path, container, video.index)
        self._rate = stream_frame_rate(container, video, self._clock_stuck)
        if self._clock_stuck and self.announce:
            say_clock_stuck(self.path.name, self._rate)
        if self._rate < MIN_SEQUENCE_FPS:
            # as slow as numbered frames may be asked to play: a Y4M header's F1:2147483647 was
            # taken, and its frames stylized, until the output failed ("Invalid argument")
            raise VidstyleError(f"{self.path.name} declares {self._rate} frames/s (a frame every "
                                f"{float(1 / self._rate):.0f} s): a video is read at a frame a day (1/86400) or faster")
        self._unshown = 0  # the video packets before the first frame shown that give none (see _video_start)
        stream_start = self._stream_start = self._video_start(container, video, segment=bool(start or duration))
        self._reached: Fraction | None = None  # where the last frame read ends (see shortfall)
        self._passed_end = False  # a frame at or after the segment's end was decoded (see shortfall)
        # the frames either side of a segment that holds none (stream time, s; see _no_frame_reason)
        self._frame_before_start: Fraction | None = None  # the latest frame decoded that starts before it
        self._frame_after_end: Fraction | None = None  # the first frame that starts at or after its end
        self.damaged_packets = 0  # video packets skipped because they would not decode
        self.damaged_audio_packets = 0  # audio packets of re-encoded tracks skipped alike (copied ones: the encoder's)
        self.clock_restarts = 0  # where the input's clock went back (see _continuous)
        self.resized_frames = 0  # frames scaled to the first frame's size (the stream changed size)
        self.retimed_frames = 0  # frames whose time was not after the one before (see _timed)
        # seconds as the decimals the user wrote (3.1, not the binary float just above it, which
        # would drop a frame that lies exactly at 3.1 s)
        start = seconds_fraction(start) if start else None
        duration = seconds_fraction(duration) if duration else None
        self._start = stream_start + Fraction(start) if start else None
        # past the end by a margin: some containers' durations are estimates (then the decoder
        # finds out, more slowly)
        past_end = bool(start) and bool(container.duration) and \
            Fraction(start) >= Fraction(container.duration, av.time_base) * Fraction(11, 10) + 1
        # a file whose clock starts over (joined MPEG-TS segments) has no one place for a time:
        # it is read from its beginning on the clock _continuous makes, and FFmpeg's duration is
        # that of its first piece. Not for a look ahead at sample frames (announce=False): any
        # frame near the time will do there, and each sample would decode from the beginning;
        # but a start past that duration has none near it on the file's own clock (refused as past
        # the end, a look ahead failed the run whose own decoder had found the segment)
        self._clock_restarts_ahead = bool(start) and (self.announce or past_end) and self._clock_starts_over()
        container, video = self._container, self._video  # the scan opened the file again
        if self._clock_restarts_ahead and self.announce:
            log.warning("the clock of %s starts over in the file (segments joined into one?): it is decoded from "
                        "its beginning to find --start on one timeline", self.path.name)
        if past_end and not self._clock_restarts_ahead:
            raise VidstyleError(f"the segment starts at {_seconds_text(Fraction(start))} s, past the end of {self.path.name} "
                                f"({container.duration / av.time_base:.2f} s long)")
        self._end = (self._start if self._start is not None else stream_start) + Fraction(duration) if duration else None
        self._duration = Fraction(duration) if duration else None  # as asked: _end moves to whole frames
        self._frames_end = self._end  # (see where the first frame is known: whole frames)
        # Until then the end is not settled: it moves to whole frames of the first, so sound
        # demuxed while the decoder fills up (a very short segment's, up to its last frame's end)
        # is kept until the end is known, not dropped against the end asked for.
        self._end_settled = False

        # The generator over raw demuxed items; decode up to the first frame of the segment now.
        # It holds this decoder weakly (so do the generators it makes: see _demux_decode): held,
        # the two held each other, and a decoder opened for its info and dropped unclosed kept
        # its FFmpeg frame threads until the garbage collector ran (see __del__)
        self._raw = VideoDecoder._demux_decode(weakref.proxy(self))
        self._pending: list = []
        self._hidden_audio: dict[int, av.Packet] = {}  # per copied track: see _audio_items
        self._lead_in: dict[int, collections.deque] = {}  # per copied track: see _audio_items
        self._audio_next: dict[int, Fraction] = {}  # per track: where its last frame or packet ended (seconds)
        first = None
        with self._decode_errors():
            for kind, item in self._raw:
                if kind == "video":
                    first = item
                    break
                self._pending.append((kind, item))
        if first is None:
            if self.damaged_packets:
                raise VidstyleError(f"{self.path} is corrupt: none of its video could be decoded")
            problem = mp4_index_problem(self.path)  # an index cut off may still list the streams
            if problem:
                raise VidstyleError(f"{self.path} cannot be read: {problem}")
            where = "in the requested segment" if (start or duration) else "in the file"
            raise VidstyleError(f"{self.path} has no video frames {where}{self._no_frame_reason()}")
        self._first = first
        oversized = oversized_frames_error(self.path, first.width, first.height)
        if oversized:
            raise oversized
        # read from the file's beginning: a stream that starts after a keyframe is said once, and
        # (a whole file's: a segment's was found before it was sought) starts at its first frame shown
        packets = self._packets if self._seeked_to is None and self._start is None else None
        if packets is not None and packets.lead and self.sequence is None:
            stream_start = self._stream_start = max(self._stream_start, packets.first_pts * self._tb)
            self._unshown = packets.lead
            if self.announce:
                packets.say_lead(self.path.name, self._tb)
        # finding the first frame may have opened the file again (_reopen): use the new objects
        container, video = self._container, self._video
        # A segment is shifted so it starts at 0. The whole file keeps its timestamps, less the
        # file's start time when that is positive (as FFmpeg does), so an MPEG-TS capture starting
        # at hours does not become an mp4 with hours of nothing before its first frame; and a
        # first frame before 0 (an MPEG-TS clock that wrapped round just after it) is moved to 0,
        # since MP4's edit list would hide everything before 0 (audio before the first frame is
        # then dropped, as for a segment, so nothing is left below 0: Matroska would have moved
        # the whole file later). AAC's negative priming start moves nothing.
        file_start = Fraction(container.start_time, av.time_base) if container.start_time else Fraction(0)
        if container.start_time is None and self.sequence is None:
            # FFmpeg states no start for the file where it states none for its streams (see
            # _video_start): the video's, as for a file of the same clock whose start it states
            file_start = stream_start
        if self._start is not None:
            self._shift = first.pts
            # a start between two frames: the segment is timed from its first frame, so its end
            # moves with it (else its last frame was cut short and the file's frame rate read high)
            late = first.pts * self._tb - self._start
            if self._end is not None and 0 < late < 1 / self._rate:
                self._end += late
        elif file_start > 0:
            self._shift = math.floor(file_start / self._tb)
        else:
            self._shift = min(0, first.pts)
        self._frames_end = self._end  # the frames kept: those that begin before the end asked for
        if self._end is not None:
            # whole frames: a --duration that ends inside a frame keeps that frame whole (and the
            # sound with it), as editors cut; cut short, the last frame made the file's frame rate
            # read 26 for a 25 frames/s input. Which frames are kept still follows the end asked
            # for (a variable-rate clip's frames are not where whole frames of its average rate are)
            whole = math.ceil((self._end - first.pts * self._tb) * self._rate - Fraction(1, 1000))
            self._end = first.pts * self._tb + Fraction(whole) / self._rate
        self._end_settled = True
        self._origin = first.pts * self._tb  # audio before the first kept frame is dropped...
        self._trims_audio = self._start is not None or self._shift < 0  # ...in a segment, or a file moved up
        self._display = display = DisplayConversion.of(
            first, video.codec_context.name, turn=self.sequence.orientation() if self.sequence is not None else None,
            hdr=self._hdr, downscale=self._downscale, pixel_aspect=video.sample_aspect_ratio)
        if self.announce:
            self.say_if_turn_rounded()
        chapters, dropped_chapters = self._chapters_kept(container.chapters())
        w, h = display.size
        sar = video.sample_aspect_ratio
        if sar and display.turned:
            sar = 1 / sar
        self.info = SourceInfo(path=self.path, width=w, height=h, rotation=display.rotation, time_base=self._tb,
                               frame_rate=self._rate, frames=self._expected_frames(stream_start, duration),
                               codec=video.codec_context.name, sample_aspect_ratio=sar or None,
                               audio_streams=self._audio, **self._colour(first, display),
                               mirrored=display.mirrored, subtitle_streams=self._subtitles,
                               metadata=dict(container.metadata), video_metadata=dict(video.metadata),
                               video_disposition=int(video.disposition),
                               chapters=chapters, dropped_chapters=dropped_chapters,
                               attachments=tuple(container.streams.attachments),
                               # MP4/MOV's chapter titles come as a data stream FFmpeg discards: not one
                               data_streams=sum(not is_timecode_track(s) and s.discard != av.stream.Discard.all
                                                for s in container.streams.data),
                               timecode=self._timecode(container, video, first),
                               other_video_streams=len(self._other_videos),
                               cover_images=len(container.streams.video) - 1 - len(self._other_videos),
                               interlaced=bool(first.interlaced_frame),
                               bits=component_bits(first.format.name),
                               chroma=chroma_subsampling(first.format.name),
                               shown_chroma=display.shown_chroma(first.format.name),
                               alpha=self._has_alpha(first) or self._gif_turns_transparent(first),
                               hdr=HDR_TRANSFERS.get(int(first.color_trc), ""),
                               tone_mapped=display.tone_map is not None,
                               downscaled_from=None if display.scaled_size is None else
                               DisplayConversion(display.rotation, False, 0, display.stored_size).size,
                               opus_pre_skip=self._opus_pre_skip())

    def _no_frame_reason(self) -> str:
        """For a segment that found no frame, why, said as the error's tail: one that falls between
        two frames (a frame past its end was decoded) says where they start and the --duration that
        takes the later one; else where the frames read end, and a file cut short (its header says
        its frames reach further) says so, and one inside the last frame says where that starts;
        "" when no frame was read at all."""
        if self._start is None or self._decoded_until is None:
            return ""
        if self._frame_after_end is not None:
            # the frames read end past the segment because it does: the frame after its end (an
            # intact file's) was said to end the file, "truncated or damaged"
            return self._between_frames()
        ends = self._decoded_until - self._stream_start
        length = stated_length(self._container, self._video, self._stream_start)
        if length is not None and ends < length - 1 / self._rate:
            return (f": its frames end at {float(ends):.2f} s, though its header says they reach {float(length):.2f} s "
                    "(truncated or damaged file?)")
        if self._frame_before_start is not None and self._start < self._decoded_until:
            # a --start inside the last frame: a frame is taken where it starts, so "its frames end
            # at 1.00 s" beside --start 0.99 read as if 0.99 were in them
            last = Fraction(math.floor((self._frame_before_start - self._stream_start) * 1000), 1000)
            return (f": its last frame starts at {_seconds_text(last)} s, before the segment does "
                    f"(--start {_seconds_text(last)} or earlier takes it)")
        return f": its frames end at {float(ends):.2f} s"

    def _between_frames(self) -> str:
        """:meth:`_no_frame_reason` of a segment that falls between two frames (or before the
        first): where they start, on the input's clock as --start counts it, and the shortest
        --duration in milliseconds from the same --start that takes the later one."""
        start, end, after = (t - self._stream_start for t in (self._start, self._end, self._frame_after_end))
        before = None if self._frame_before_start is None else self._frame_before_start - self._stream_start
        shown = _seconds_apart(before, start, after, end)
        near = f"the nearest start at {shown[0]} and {shown[1]} s" if before is not None else \
            f"the first starts at {shown[1]} s"
        # a frame is kept where it starts before the end: a --duration of after - start is not enough
        longer = Fraction(math.floor((after - start) * 1000) + 1, 1000)
        return (f": no frame starts between {_seconds_text(start)} and {_seconds_text(end)} s: {near} "
                f"(--duration {_seconds_text(longer)} or more takes the one at {shown[1]} s)")

    def _opus_lead_from(self, packet: av.Packet) -> bool:
        """Whether a copied Opus track's lead-in starts at ``packet`` or after it: it begins
        :data:`OPUS_PREROLL` or more before the segment's first frame."""
        return packet.pts * packet.time_base <= self._origin - self.OPUS_PREROLL

    def _opus_pre_skip(self) -> dict[int, int]:
        """Per Opus track, for a segment: the samples from the first of its copied lead-in packets
        (those from :data:`OPUS_PREROLL` before the start: :meth:`_audio_items`) to the first
        frame. Copied into Matroska with the input's own pre-skip (the encoder's 312 samples), the
        decoder dropped that much of the packet after the start, and the sound began late by what
        was left of it, plus the millisecond rounding of both (48 samples, 312 lost). Wanted
        before the output's header is written, which says it: so found here, from another opening."""
        tracks = [i for i, stream in enumerate(self._audio) if stream.codec_context.name == "opus"]
        if not self._trims_audio or not tracks or self._start is None:
            return {}
        # up to a packet at the first frame's time too, which is no lead-in
        read = self._packets_before([self._audio[t] for t in tracks], self._origin - self.AUDIO_PREROLL,
                                    self._origin + Fraction(1, 10 ** 6))
        if read is None:
            return {}
        found, whole = read
        skips = {}
        for i in whole:
            packets = [packet for k, packet in found if k == i]
            if packets and packets[-1].pts * packets[-1].time_base == self._origin:
                packets.pop()  # one at the first frame is no lead-in
            # as _audio_items keeps them: from the last that begins OPUS_PREROLL before the start
            lead = next((packet for k, packet in enumerate(packets)
                         if k + 1 == len(packets) or not self._opus_lead_from(packets[k + 1])), None)
            if lead is None:
                continue  # the sound starts with the segment
            track, rate = tracks[i], self._audio[tracks[i]].codec_context.sample_rate
            samples = self._packet_samples(track, lead)
            if not samples or not rate:
                continue
            t = self._exact_audio_time(track, lead.pts * lead.time_base, samples, lead.time_base, rate)
            self._audio_next.pop(track, None)  # (the read's own first packet is timed afresh)
            skip = round((self._origin - t) * 48000)
            if 0 < skip < 1 << 16:
                skips[track] = skip
        return skips

    def _has_alpha(self, first: av.VideoFrame) -> bool:
        """Whether the frames carry an alpha channel. FFmpeg decodes every GIF with one, an image
        sequence's CMYK JPEGs with an opaque alpha plane, and renderers write RGBA PNGs that are
        opaque throughout: for GIFs and sequences the alpha counts only when the frame has a
        transparent pixel. A video codec's alpha channel (ProRes 4444, VP9) always counts."""
        if not self._alpha_by_content:
            return has_alpha(first.format.name)
        return self._may_be_transparent(first) and int(first.to_ndarray(format="rgba")[..., 3].min()) < 255

    def _gif_turns_transparent(self, first: av.VideoFrame) -> bool:
        """Whether a GIF whose ``first`` frame is opaque has a transparent pixel in a later frame of
        the segment: a sticker that clears to transparency once shown (restore to background).
        Taken from the first frame alone, its transparency was written opaque. Read from a second
        opening of the file, and decoded only where a frame clears to transparency once shown:
        else every frame is drawn over the one before (the pixels it leaves out show it), or over
        what was there before it, opaque from the first on (an opaque GIF whose frames clear to
        the background's colour, as many tools write them, was decoded whole a second time).
        Frames before ``first`` (a --start) that clear count only where one from it on is restored
        to what was before it, which they may have cleared: else the canvas is opaque from ``first``
        on, and a sticker's transparent opening was decoded again for a segment after it."""
        if self._video.codec_context.name != "gif":
            return False
        try:
            with self._open() as container:  # demuxed only: each frame's header says it
                clears_before = clears = restores = False
                for packet in container.demux(container.streams[self._video.index]):
                    if packet.pts is not None and self._frames_end is not None and \
                            packet.pts * self._tb >= self._frames_end:
                        break
                    if packet.pts is not None and packet.pts < first.pts:
                        clears_before = clears_before or clears_to_transparency(packet)
                    else:
                        clears = clears or clears_to_transparency(packet)
                        restores = restores or restores_what_was_before(packet)
                if not (clears or (clears_before and restores)):
                    return False
            with self._open() as container:
                for frame in container.decode(container.streams[self._video.index]):
                    if frame.pts is None or frame.pts <= first.pts:
                        continue
                    if self._frames_end is not None and frame.pts * self._tb >= self._frames_end:
                        break
                    if self._has_alpha(frame):
                        return True
        except (av.error.FFmpegError, OSError, ValueError):
            pass  # a damaged file: the frames read so far are what there is
        return False

    @property
    def _alpha_by_content(self) -> bool:
        return self._video.codec_context.name == "gif" or self.sequence is not None

    @staticmethod
    def _may_be_transparent(frame: av.VideoFrame) -> bool:
        """An alpha plane, or a palette (a palette PNG's tRNS is in it: FFmpeg's pal8)."""
        return frame.format.name == "pal8" or has_alpha(frame.format.name)

    def _chapters_kept(self, chapters: list[dict]) -> tuple[tuple, int]:
        """(the chapters on the output's timeline, how many lie wholly outside it): shifted as the
        video is (a segment starts at 0), a chapter across the segment's start or end cut there."""
        if self._start is None and self._end is None and self._shift == 0:
            return tuple(chapters), 0
        origin = self._shift * self._tb  # the input's time at the output's 0
        kept = []
        for chapter in chapters:
            tb = chapter["time_base"]
            begin, end = chapter["start"] * tb, chapter["end"] * tb
            if self._end is not None:
                end = min(end, self._end)
            marker = chapter["end"] <= chapter["start"]  # a point in time (Matroska's, or no end given)
            if marker and not (origin <= begin and (self._end is None or begin < self._end)):
                continue
            if not marker and end <= max(begin, origin):
                continue
            start = math.floor((max(begin, origin) - origin) / tb)
            kept.append({**chapter, "start": start, "end": start if marker else math.ceil((end - origin) / tb)})
        return tuple(kept), len(chapters) - len(kept)

    def _timecode(self, container, video, first: av.VideoFrame) -> str:
        """The input's timecode moved on by the frames before ``first`` (a segment's first frame)."""
        timecode = find_timecode(container, video)
        if not timecode:
            return ""
        skipped = round((first.pts * self._tb - self._stream_start) * self._rate)
        try:
            return shifted(timecode, skipped, self._rate)
        except ValueError:  # a tag that does not count at this frame rate
            return ""

    @staticmethod
    def _colour(first: av.VideoFrame, display: DisplayConversion) -> dict:
        """SourceInfo's colour tags: of the frames as delivered (BT.709 once tone-mapped)."""
        if display.tone_map is not None:
            return {"colorspace": 1, "color_primaries": 1, "color_trc": 1}
        return {"colorspace": display.matrix, "color_primaries": int(first.color_primaries),
                "color_trc": int(first.color_trc)}

    def _expected_frames(self, stream_start: Fraction, duration: float | None) -> int | None:
        """Frame count for the progress bar: exact from the container, else estimated from time.

        Also notes where the segment should end in time (``_expected_end``), which
        :meth:`shortfall` uses when the count is only an estimate.
        """
        total = stated = self._stated_frames()
        # a segment's count is estimated from time even when the file's is exact
        # (not the file's length where sound outlasts the picture: one still frame over ten minutes of music)
        length = stated_length(self._container, self._video, stream_start) or None
        if self._unshown:  # a stream cut after a keyframe: what comes before its first frame shown is not counted
            total = max(1, total - self._unshown) if total else total
            begins = (self._video.start_time or 0) * self._tb  # where the container's length counts from
            length = stated_length(self._container, self._video, begins)
            length = begins + length - stream_start if length and begins + length > stream_start else None
        stated_end = stream_start + length if length is not None else None
        ends = [t for t in (stated_end, self._end) if t is not None]
        self._expected_end = min(ends) if ends else None
        # (see stated_end: a clock that may start over runs on past it)
        self._stated_end = None if self._container.format.flags & av.format.Flags.ts_discont.value else stated_end
        if total is None and length is not None:
            total = max(1, round(length * self._rate))
        # the file says how long it is (a raw .h264 stream does not: a count then comes from
        # --duration alone, which says nothing of the file)
        self.length_stated = total is not None
        # the count is the container's (the whole file's), not one from time: a bound on the frames there are
        self.frames_exact = stated is not None and self._start is None and duration is None
        if self._start is None and duration is None:
            return total
        # the frames before the segment's first one: a --start between frames (0.1 s at 24 frames/s)
        # leaves out the frame it falls inside too, which counting up to --start counted (46 of 45)
        begin = self._origin - stream_start if self._start is not None else 0
        wanted = math.ceil(Fraction(duration) * self._rate) if duration else None
        left = max(0, total - self._frames_before(begin)) if total is not None else None
        if wanted is None:
            return left
        return wanted if left is None else min(wanted, left)

    def _stated_frames(self) -> int | None:
        """The frame count the container states, None where it states none. AVI's counts its
        chunks, and its muxer fills a gap in the decode times with empty ones, which FFmpeg reads
        past: the 6 before a stream cut after a keyframe (42 counted where 36 decode, with the 7
        packets before its first frame shown left out), the one before x264's first frame (49 of
        48). Its index lists only the chunks with a frame: counted there when it reaches the end."""
        total = self._video.frames or None
        index = self._avi_index()
        return total if index is None else min(total, len(index))

    def _avi_index(self) -> av.index.IndexEntries | None:
        """The index of an AVI's video stream where it reaches the last chunk the header counts
        (cut short, it holds only the chunks found before the cut), else None: see
        :meth:`_stated_frames`."""
        video = self._video
        if not video.frames or self._container.format.name != "avi":
            return None
        index = video.index_entries
        return index if len(index) and index[len(index) - 1].timestamp >= video.frames - 1 else None

    def _frames_before(self, begin: Fraction) -> int:
        """The frames of the stream in its first ``begin`` seconds (from its first frame shown):
        ``begin`` at the frame rate, but in an AVI counted by its index, the index's own. A frame
        dropped by a capture leaves an empty chunk, as a gap in the times does, which the index
        leaves out: at the rate, --start 1.0 of 24 frames over 41 chunks counted 24 frames before
        it and none left, where 11 decode (and a preview said the file held no length)."""
        index = self._avi_index()
        if index is None or self._unshown >= len(index):
            return round(begin * self._rate)
        # from the first frame shown's chunk (those before it are not counted: see _unshown); the
        # index is in decode order, its times rising
        first = self._unshown
        until = index[first].timestamp + round(begin / self._tb)
        return bisect.bisect_left(index, until, first, len(index), key=lambda entry: entry.timestamp) - first

    # --- demux + decode ----------------------------------------------------------------------

    # How far before ``start`` to seek again when a seek landed after it; None: from the beginning.
    # MPEG-TS seeks to any packet near the time, not to a keyframe, and the decoder then drops
    # everything up to the next keyframe: the segment would silently lose its first frames.
    SEEK_MARGINS = (0, 2, 8, 32, None)
    def _demux_decode(self) -> Iterator[tuple[str, object]]:
        """Yield ("video", av.VideoFrame) inside the segment and ("audio" | "subtitle", av.Packet)
        in file order.

        Video frames before ``start`` are decoded (needed after a keyframe seek) but dropped;
        once video passes the end, demuxing goes on only until every audio stream has too.

        ``self`` is a weak proxy of the decoder (see _setup): the generators made here are made
        of the class's functions, as ``self.method()`` would bind the decoder itself.
        """
        self._seeked_to = None  # where the read kept was sought from (None: the file's beginning)
        self._decoded_until: Fraction | None = None  # where the latest frame decoded ends (s, stream time)
        if self._start is None or self._start <= 0 or self._clock_restarts_ahead:
            yield from VideoDecoder._demux_from_here(self, check_landing=False)
            return
        for i, margin in enumerate(self.SEEK_MARGINS):
            if margin is None:  # the last resort: decode from the beginning of a freshly opened file
                self._reopen()
                self._seeked_to = None
                yield from VideoDecoder._demux_from_here(self, check_landing=False)
                return
            if not self._seek(self._start - margin):
                if i == 0:  # unseekable input: decode from the beginning and skip
                    # opened again: FFmpeg's seek in a stream with no times (a raw .h264 or .hevc)
                    # fails only after reading it to its end, looking for one, and left nothing to decode
                    self._reopen()
                    yield from VideoDecoder._demux_from_here(self, check_landing=False)
                    return
                continue  # this retry could not seek: try further back
            self._seeked_to = self._start - margin
            landed = yield from VideoDecoder._demux_from_here(self, check_landing=True)
            if landed:
                return

    def _clock_starts_over(self) -> bool:
        """Whether the video's decode times step back by more than :data:`CLOCK_RESTART`
        anywhere in a file of a format that allows it (see :meth:`_continuous`): its packets read,
        not decoded, then the file opened again at its beginning. Once per file and process."""
        if not self._container.format.flags & av.format.Flags.ts_discont.value:
            return False
        key = file_identity(self.path)
        restarts = _CLOCK_RESTARTS.get(key)
        if restarts is None:
            restarts, latest = False, None
            try:
                for packet in self._container.demux(self._video):
                    time = packet.dts if packet.dts is not None else packet.pts
                    if time is None:
                        continue
                    time *= packet.time_base
                    if latest is not None and time < latest - CLOCK_RESTART:
                        restarts = True
                        break
                    latest = time if latest is None else max(latest, time)
            except av.error.FFmpegError:  # damaged: read on as it is
                pass
            finally:
                self._reopen()
            _remember(_CLOCK_RESTARTS, key, restarts)
        return restarts

    def _seek(self, target: Fraction) -> bool:
        """Seek to the keyframe at or before ``target`` seconds (stream time); False if the input
        refuses. The target is not clamped to the stream's start at first: MPEG-TS lands on its
        first keyframe only when asked for a time before it; FLV, AVI and raw streams refuse such a
        time, and get the stream's start instead."""
        for t in dict.fromkeys((target, max(target, self._stream_start))):
            try:
                self._container.seek(int(t / self._tb), stream=self._video, backward=True)
                if self._context is not None:  # the seek flushed the stream's own decoder only
                    self._context.flush_buffers()
                return True
            except av.error.FFmpegError:
                continue
        return False

    def _reopen(self) -> None:
        """Open the file again at its beginning (streams, decoders and all), for when seeking back
        cannot be trusted. Only before the first frame is returned: the streams change identity."""
        index = self._video.index  # among all streams; read before the container frees it
        self._container.close()
        self._container = self._open()
        self._video = self._container.streams[index]
        self._video.codec_context.thread_type = "AUTO"
        self._context = alpha_decoder(self._video)
        self._audio = audio_tracks(self._container)
        self._subtitles = tuple(self._container.streams.subtitles)

    def _demux_from_here(self, check_landing: bool):
        """The demux/decode loop of :meth:`_demux_decode` from the current position. With
        ``check_landing``, returns False without yielding anything if the first decoded frame lies
        after ``start`` (frames of the segment were lost to the seek), else True at the end."""
        container, video = self._container, self._video
        streams = (video,) + self._audio + self._subtitles
        state = {"video_done": False}  # shared with _decoded: past the segment, video is not decoded
        audio_done = [False] * len(self._audio)
        held: list | None = [] if check_landing else None  # audio held until the landing is checked
        self.damaged_packets = 0  # counted for the attempt that is kept (a seek may be retried)
        self.damaged_audio_packets = 0  # counted alike
        self.clock_restarts = 0  # (see _continuous), counted alike
        self.retimed_frames = 0  # (see _timed), counted alike
        # an image sequence's packets sent to the decoder and frames it returned, by pts: with
        # frame threads a damaged file's error surfaces a few packets later, so the files whose
        # frame never came are the damaged ones
        self._sent: set[int | None] = set()
        self._got: set[int | None] = set()
        self._flushed = False  # the decoder was drained at the end (not closed early, as a mask's is)
        # (the class's functions: self is a weak proxy, see _demux_decode)
        packets = VideoDecoder._continuous(self, container.demux(streams))
        for kind, item in VideoDecoder._timed(self, VideoDecoder._decoded(self, packets, state)):
            if kind in ("audio", "subtitle"):
                past_end = self._past_end(item) and self._end_settled
                if past_end and kind == "audio":  # subtitles are sparse: never waited for
                    audio_done[self._audio.index(item.stream)] = True
                    if state["video_done"] and all(audio_done):
                        break
                if past_end:
                    continue
                if held is not None:
                    held.append((kind, item))
                else:
                    yield kind, item
                continue
            if state["video_done"]:
                continue
            frame = item
            t = frame.pts * self._tb
            # where the frames read end, before the start too (a start past the cut of a file cut
            # short finds none: see _no_frame_reason)
            end = t + (frame.duration * self._tb if frame.duration else 1 / self._rate)
            self._decoded_until = end if self._decoded_until is None else max(self._decoded_until, end)
            if held is not None:
                if t > self._start:
                    return False  # landed after the start: seek again, earlier
                yield from held
                held = None
            if self._start is not None and t < self._start:
                self._frame_before_start = t if self._frame_before_start is None else max(self._frame_before_start, t)
                continue
            if self._frames_end is not None and t >= self._frames_end:
                state["video_done"] = True
                self._passed_end = True
                self._frame_after_end = t
                if all(audio_done):
                    break
                continue
            yield "video", frame
        if held is not None:  # no frame decoded at all: the seek may have skipped the last keyframe
            return False
        return True

    def _continuous(self, packets):
        """``packets`` with the input's clock made to run on where it restarts
        (:func:`continuous_packets`), counting the restarts."""
        def restarted():
            self.clock_restarts += 1

        return continuous_packets(packets, self._container, self._video.index, restarted)

    def _decoded(self, packets, state: dict):
        """("audio" | "subtitle", packet) and ("video", decoded frame) in file order; damaged video
        packets are skipped, as players do, rather than losing the whole video (:class:`PacketDecoder`)."""
        decoder = self._packets = PacketDecoder()
        for packet in packets:
            if packet.stream.type in ("audio", "subtitle"):
                if packet.size:
                    yield packet.stream.type, packet
                continue
            if state["video_done"]:
                continue
            frames = decoder.decode(packet, self._context)
            failed = decoder.damaged > self.damaged_packets
            self.damaged_packets = decoder.damaged
            if self.sequence is not None:  # which files were damaged (see damaged)
                self._sent.add(packet.pts)
                if packet.size and packet.pts is not None and 0 <= packet.pts < self.sequence.count:
                    # the file was read whole into this packet: what it was then
                    self._frames_read_as.setdefault(packet.pts, _stat_or_none(
                        self.sequence.folder / self.sequence.names[packet.pts]))
                self._got.update(frame.pts for frame in frames)
                self._flushed = self._flushed or not packet.size
                if failed and not packet.size:
                    frames = self._files_left_at_the_flush()
            for frame in frames:
                yield "video", frame

    def _files_left_at_the_flush(self) -> list[av.VideoFrame]:
        """The frames of an image sequence's last files, when a damaged one among them failed the
        decoder's flush: with frame threads its error surfaces there, and the frames of the good
        files still inside the decoder are lost with it. Each is decoded again from its file on
        its own (the damaged one fails again and stays lost), timed as the sequence times it. Only
        files after the last frame the decoder gave: an earlier one that failed stays lost (decoded
        alone, a JPEG named .png would open, and come out after frames that follow it)."""
        frames = []
        last = max((p for p in self._got if p is not None), default=-1)
        for position in sorted(p for p in self._sent - self._got if p is not None and last < p < self.sequence.count):
            try:
                with av.open(str(self.sequence.folder / self.sequence.names[position])) as single:
                    frame = next(single.decode(video=0), None)
            except (av.error.FFmpegError, OSError):
                continue
            if frame is not None:
                frame.pts, frame.time_base = position, self._video.time_base
                self._got.add(position)
                frames.append(frame)
        return frames

    #: frames :meth:`_timed` holds at the start of a stream, where out-of-order pts are found: a
    #: B-frame group (x264 codes up to 3 B-frames by default) shows its first backward step
    #: within this many frames, and every frame before it must be timed alike
    TIMING_LOOKAHEAD = 8

    def _timed(self, items):
        """``items`` with each video frame's pts made strictly increasing, a few frames late.

        Frames whose pts go backwards in display order (H.264 with B-frames in AVI, which stores
        no presentation times: the decoder hands each frame a reordered packet's pts) are timed
        by their decode timestamps, which the decoder hands out in order, shifted to keep the
        first frame's pts. The first :data:`TIMING_LOOKAHEAD` frames are held until that is known
        (later, one frame), so the frames before the first backward step are timed the same way.
        Frames without pts (raw streams), or then without dts (the decoder's flush), get times
        from the frame rate; any other step backwards is moved just after the previous frame."""
        waiting: collections.deque = collections.deque()
        seen = 0
        first = None  # the first frame's (pts, dts)
        dts_offset = None  # set once pts are found out of order: pts = dts + dts_offset
        last_pts = None
        rated = None  # (pts, n): the frames timed by the frame rate are the n-th after a frame at pts

        def release(frame):
            nonlocal last_pts, rated
            if dts_offset is not None:  # the decoder's flush hands out no dts: then the frame rate's
                frame.pts = None if frame.dts is None else frame.dts + dts_offset
            if frame.pts is None or (self._clock_stuck and last_pts is not None and frame.pts <= last_pts):
                # no time, or the one time of a clock that does not run: the frame rate's, counted
                # from the last frame that had a time, not stepped from the one before: a step
                # rounded to the clock's ticks (42 for 24 frames/s on Matroska's 1 ms) added up
                # (24 frames lasted 1.008 s, the picture falling behind the sound)
                origin, n = rated or ((0, -1) if last_pts is None else (last_pts, 0))
                rated = (origin, n + 1)
                frame.pts = origin + round((n + 1) / (self._rate * self._tb))
                if last_pts is not None:
                    frame.pts = max(frame.pts, last_pts + 1)
            else:
                rated = None
                if last_pts is not None and frame.pts <= last_pts:
                    frame.pts = last_pts + 1
                    self.retimed_frames += 1
            last_pts = frame.pts
            return frame

        for kind, item in items:
            if kind != "video":
                yield kind, item
                continue
            seen += 1
            if first is None:
                first = (item.pts, item.dts)
            if waiting and dts_offset is None and None not in (item.pts, item.dts, waiting[-1].pts,
                                                              waiting[-1].dts, *first) \
                    and item.pts <= waiting[-1].pts and item.dts > waiting[-1].dts:
                dts_offset = first[0] - first[1]
            waiting.append(item)
            keep = 1 if dts_offset is not None or seen > self.TIMING_LOOKAHEAD else self.TIMING_LOOKAHEAD
            while len(waiting) > keep:
                yield "video", release(waiting.popleft())
        while waiting:
            yield "video", release(waiting.popleft())

    @contextlib.contextmanager
    def _decode_errors(self):
        try:
            yield
        except av.error.FFmpegError as exc:
            if self.sequence is not None and isinstance(exc, FileNotFoundError):  # no damage: files gone
                raise VidstyleError(f"frames of {self.path} were removed or renamed while they were read (or the "
                                    "folder was): run again once they are in place") from None
            raise VidstyleError(f"{self.path} is corrupt or truncated: decoding failed ({error_text(exc)})") from None

    def read(self, audio: dict[int, AudioMode] | None = None, alpha: bool = False,
             subtitles: dict[int, SubtitleMode] | None = None) -> Iterator[DecodedFrame | AudioItem | SubtitleItem]:
        """Stream the segment: :class:`DecodedFrame` and, for audio tracks listed in ``audio``
        (track -> "copy" | "decode"), :class:`AudioItem`, and for subtitle tracks listed in
        ``subtitles`` (track -> "copy" | "convert"), :class:`SubtitleItem`, in the order the file
        stores them. ``alpha``: give each frame its transparency too, when the video has an alpha
        channel (``info.alpha``). Once per decoder, while it is open (a BadValueError otherwise,
        at the call)."""
        self._spend("read()")
        return self._reading(audio, alpha, subtitles)

    def _spend(self, what: str) -> None:
        """Refuse ``what`` (a read) of a closed or already read decoder, else mark it read: read
        after close() it gave the first frame and stopped, read twice it failed with an
        AttributeError, and keyframes() after a read with a RuntimeError."""
        if self._closed:
            raise BadValueError(f"{what}: the VideoDecoder of {self.path.name} is closed; open a new one to read "
                                "it again")
        if self._spent:
            raise BadValueError(f"{what}: a VideoDecoder reads its segment once, and {self.path.name}'s was read; "
                                "open a new one to read it again")
        self._spent = True

    def _reading(self, audio, alpha: bool, subtitles) -> Iterator[DecodedFrame | AudioItem | SubtitleItem]:
        # the lock is held while this thread reads, and let go of while it hands out an item, so
        # that close() from another thread in the middle of a read leaves the file to this one
        # (see close): whichever sees the close last, after letting go of the lock here or after
        # taking it there, lets go of the file
        self._reader.acquire()
        held = True
        try:
            # close() lets go of the stream and its decoders (see close): a read taken before it
            # and begun after it is refused as a read() after it is, and one under way when it
            # came has ended; going on, each failed on the stream let go of with an
            # AttributeError. Asked with the lock held: a close from another thread just before
            # it was taken had let go of the file unseen
            if self._closed:
                raise BadValueError(f"read(): the VideoDecoder of {self.path.name} was closed before its frames "
                                    "were read; read them inside the with block, or open a new one")
            with self._decode_errors():
                for item in self._read(audio, alpha and self.info.alpha, subtitles or {}):
                    self._reader.release()
                    held = False
                    if self._closed:
                        return
                    yield item
                    self._reader.acquire()
                    held = True
                    if self._closed:
                        return
        finally:
            if not held:
                self._reader.acquire()
            try:
                # a read left off (a loop broken out of) cannot go on (see _spend): its demuxing
                # generator, which holds this decoder, is let go of, so that a decoder then dropped
                # goes at once (see __del__), not when the collector finds the cycle
                self._raw.close()
                if self._closed:  # by another thread, while this one read
                    self._let_go_of_the_file()
            finally:
                self._reader.release()

    def _read(self, audio: dict[int, AudioMode] | None, alpha: bool,
              subtitles: dict[int, SubtitleMode]) -> Iterator[DecodedFrame | AudioItem | SubtitleItem]:
        audio = audio or {}
        index = 0

        formats_seen: set[str] = set()
        later_alpha_said = False

        def video_item(frame: av.VideoFrame, next_pts: int | None) -> DecodedFrame:
            """``frame`` as a DecodedFrame; ``next_pts``: the next frame's (None: it is the last)."""
            nonlocal index, later_alpha_said
            resized = self._display.resized(frame)
            if resized and not self.resized_frames and self.announce:
                self._display.say_resized(self.path.name, frame,
                                          float(frame.pts * self._tb) if frame.pts is not None else 0.0)
            self.resized_frames += resized
            # a sequence's later RGBA frames; where an alpha plane counts by its content, every frame
            # until one is transparent
            if not self.info.alpha and not later_alpha_said and (frame.format.name not in formats_seen or (
                    self._alpha_by_content and self._may_be_transparent(frame))):
                formats_seen.add(frame.format.name)
                if self._has_alpha(frame) and self.announce:
                    later_alpha_said = True
                    log.warning("%s has transparency from %.2f s on, which its first frame has not: vidstyle takes "
                                "a video's alpha channel from its first frame, so it is written opaque",
                                self.path.name, float(frame.pts * self._tb) if frame.pts is not None else 0.0)
            image, transparency = self._display.image_and_alpha(frame) if alpha else (self._display.image(frame), None)
            duration = frame.duration or 0
            if next_pts is not None and next_pts > frame.pts:
                # A frame lasts until the next one. FFmpeg gives a frame its packet's duration, and
                # MP4 stores durations in decode order: with B-frames and a gap in the timing (a
                # phone's dropped frames), the frame before the gap reorders to a neighbour's
                # duration and the one after it gets the gap's, which would run past the end.
                duration = next_pts - frame.pts
            elif next_pts is None and duration and end_pts is not None and frame.pts < end_pts < frame.pts + duration:
                duration = end_pts - frame.pts  # the last frame, for the same reason: not past the end
            self._reached = (frame.pts + duration) * self._tb  # end of the last frame read
            item = DecodedFrame(image=image, pts=frame.pts - self._shift, time_base=self._tb, index=index,
                                duration=duration, alpha=transparency,
                                scaled_from=(frame.width, frame.height) if resized else None)
            index += 1
            return item

        if subtitles and self._start is not None:
            # lines already on screen at the start, which began before the keyframe read from
            for track, packet in self._subtitles_before_start(set(subtitles)):
                item = self._subtitle_item(packet, subtitles, track)
                if item is not None:
                    yield item
        if audio and self._seeked_to is not None:
            # the sound across the start and before it, which the seek may have skipped
            for track, packet in self._audio_before_start(set(audio)):
                yield from self._audio_items(packet, audio, track)
        for kind, packet in self._pending:
            if not self._past_end(packet):  # (read before the end was settled)
                yield from self._side_items(kind, packet, audio, subtitles)
        self._pending = []
        # where the last frame must end: the segment's end, or an MP4 track's (the whole track,
        # a held last frame included; Matroska keeps each frame's own duration)
        end_pts = None
        if self._end is not None:
            end_pts = math.ceil(self._end / self._tb)
        elif self._video.duration and "mp4" in self._container.format.name:
            end_pts = (self._video.start_time or 0) + self._video.duration
        held, self._first = self._first, None  # each frame waits for the next: see video_item
        for kind, item in self._raw:
            if kind == "video":
                yield video_item(held, item.pts)
                held = item
            else:
                yield from self._side_items(kind, item, audio, subtitles)
        yield video_item(held, None)
        # Flush the audio decoders of re-encoded tracks.
        for track, mode in audio.items():
            if mode == "decode":
                try:
                    frames = self._audio[track].codec_context.decode(None)
                except av.error.FFmpegError:
                    frames = []
                for frame in frames:
                    kept = self._keep_audio_frame(track, frame)
                    if kept is not None:
                        yield AudioItem(track=track, frame=kept)

    def shortfall(self, frames: int) -> str | None:
        """A warning when reading ``frames`` frames ended well short of the segment (a truncated or
        damaged file), else None.

        Fewer than 95% of the expected frames is short only if the last frame read also ends
        before 95% of the duration, when the duration is known: an estimated count (duration x
        average frame rate) overcounts variable-frame-rate files (screen and phone recordings),
        and even a container's exact count includes frames an mp4 edit list hides.
        """
        expected = self.info.frames
        # a frame past the segment's end was decoded: the segment was all there, however few
        # frames a variable frame rate put in it (its count is estimated from the average rate)
        if not expected or frames >= 0.95 * expected - 1 or self._passed_end:
            return None
        reached = self._reached
        # the time reached decides when known, even against an exact count: an mp4 whose edit list
        # trims its first frames counts them without showing them (damaged packets inside the file
        # are reported on their own: damaged_packets)
        if reached is not None and self._expected_end is not None:
            begin = self._start if self._start is not None else self._stream_start
            if reached - begin >= Fraction(95, 100) * (self._expected_end - begin):
                return None
        return (f"only {frames} of the about {expected} frames of {self.path.name} could be decoded "
                "(truncated or damaged file?)")

    def ended_before_duration(self, lasts: str = "the output", expected: bool = False) -> str | None:
        """A note when the video ended before the segment's end that a duration asked for (a
        `--duration 25` from a 10 s clip), else None: ``lasts`` (the output) is that much shorter,
        which no other line says (a file cut short says so in :meth:`shortfall` instead).
        ``expected``: judged by where the file says its video ends, before reading to it (a
        preview, which seeks to a few frames, never reads to the end)."""
        reached = self._expected_end if expected else self._reached
        if self._end is None or (self._passed_end and not expected) or reached is None:
            return None
        if reached >= self._end - 1 / self._rate:  # the last frame reaches into the end asked for
            return None
        begin = self._start if self._start is not None else self._stream_start
        return (f"{self.path.name} ends before the {float(self._duration):.4g} s asked for (--duration): "
                f"{lasts} lasts {float(reached - begin):.2f} s")

    def _past_end(self, packet: av.Packet) -> bool:
        """Whether an audio or subtitle ``packet`` begins at or after the segment's end."""
        return self._end is not None and packet.pts is not None and packet.pts * packet.time_base >= self._end

    def _side_items(self, kind: str, packet: av.Packet, audio: dict[int, AudioMode],
                    subtitles: dict[int, SubtitleMode]) -> Iterator[AudioItem | SubtitleItem]:
        if kind == "subtitle":
            item = self._subtitle_item(packet, subtitles)
            if item is not None:
                yield item
        else:
            yield from self._audio_items(packet, audio)

    #: seconds before a segment's start searched for subtitle lines still on screen at the start
    #: (only the subtitle packets are kept; the reading costs about 0.03 s a 100 MB of file)
    SUBTITLE_LOOKBACK = 300

    #: seconds of sound before a segment's first frame that its re-encoded tracks are decoded
    #: from, for the decoder to settle by the first sample kept (Opus asks 80 ms; AAC and Vorbis
    #: need the packet before, MP3's bit reservoir reaches a few frames back)
    AUDIO_PREROLL = Fraction(1, 4)

    #: seconds of a copied Opus track's sound before a segment's first frame that go first, for
    #: the output's pre-skip to drop (SourceInfo.opus_pre_skip) or an edit list to hide: Opus's
    #: decoder settles in 80 ms (RFC 7845); begun 20 to 40 ms before, the first 20 ms heard were
    #: a third off the input's
    OPUS_PREROLL = Fraction(80, 1000)

    #: seconds past the time a look back reads up to that the picture's packets may run ahead of
    #: the tracks read: a muxer stores the streams side by side by their times, but not always
    #: closely (a 2-minute .mkv muxed picture first stores all its sound after all its picture);
    #: a track further behind keeps what the main read finds. Packets are only demuxed here
    LOOKBACK_INTERLEAVE = 60

    def _packets_before(self, streams: list, since: Fraction,
                        until: Fraction) -> tuple[list[tuple[int, av.Packet]], set[int]] | None:
        """(position in ``streams``, packet) of those streams' packets that begin before ``until``
        seconds, read from a second opening of the file from the keyframe at or before ``since``
        (from its beginning when ``since`` is not after the stream's start), demuxing those tracks
        alone (and the picture's, as a clock), and the positions of the streams read up to a packet
        at or after ``until`` (the others ended, are sparse, or were still behind the picture when
        it was :data:`LOOKBACK_INTERLEAVE` past ``until``); None for a file that cannot seek."""
        found = []
        passed: set[int] = set()
        try:
            with self._open() as container:
                ours = [container.streams[stream.index] for stream in streams]
                video = container.streams[self._video.index]
                if since > self._stream_start:  # a fresh opening is at the beginning already
                    container.seek(int(since / self._tb), stream=video, backward=True)
                for packet in container.demux(ours + [video]):
                    time = packet.pts if packet.pts is not None else packet.dts
                    if time is None or not packet.size:
                        continue
                    time *= packet.time_base
                    if packet.stream is video:
                        if time >= until + self.LOOKBACK_INTERLEAVE:
                            break  # a track with nothing after ``until`` (sparse, or ended) is not read to the end
                        continue
                    i = ours.index(packet.stream)
                    if time >= until:  # each track is stored in time order: the rest is the main read's
                        passed.add(i)
                        if len(passed) == len(ours):
                            break
                    elif packet.pts is not None and i not in passed:
                        found.append((i, packet))
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        return found, passed

    def _subtitles_before_start(self, tracks: set[int]) -> list[tuple[int, av.Packet]]:
        """(track, packet) of the subtitle ``tracks`` that begin before the segment's start, from
        :data:`SUBTITLE_LOOKBACK` seconds before it: the main read begins at the keyframe before
        the start, which may come after a line still shown at the start began
        (:meth:`_packets_before`); the main read leaves such packets out (:meth:`_subtitle_item`)."""
        order = sorted(tracks)
        read = self._packets_before([self._subtitles[t] for t in order], self._start - self.SUBTITLE_LOOKBACK,
                                    self._start)
        if read is None:
            return []  # a file that cannot seek: the lines the main read finds are what there is
        found = read[0]  # (a line stored over a minute after its time is not waited for)
        self._looked_back = True
        # a picture subtitle (PGS, DVB) has no length: shown until its track's next packet. The last
        # packets (one display set) before the start of each track are on screen there: flagged
        # to be placed at the start
        latest: dict[int, int] = {}
        for i, packet in found:
            if not packet.duration:
                latest[i] = packet.pts
        self._on_screen_at_start = {id(packet) for i, packet in found
                                    if not packet.duration and packet.pts == latest.get(i)}
        return [(order[i], packet) for i, packet in found]

    def _audio_before_start(self, tracks: set[int]) -> list[tuple[int, av.Packet]]:
        """(track, packet) of the audio ``tracks`` that begin before the segment's first frame,
        from :data:`AUDIO_PREROLL` before it on (the packet across it always). The seek that
        found the first frame may skip them: Matroska's demuxer drops every packet before the
        keyframe it lands on, so from a keyframe at the start the sound began with the first
        packet after it (13 ms late for PCM, more for AAC, missing its overlap); and a decoder
        given only the packet across the start did not settle by it (MP3's first frame decoded
        silent). Read from a second opening of the file, from the keyframe at or before both
        the pre-roll and where the main read was sought from (so everything that read has before
        the first frame is here too, which it then leaves out: :meth:`_audio_items`)."""
        order = sorted(tracks)
        since = self._origin - self.AUDIO_PREROLL
        read = self._packets_before([self._audio[t] for t in order], min(since, self._seeked_to), self._origin)
        if read is None:
            return []  # a file that cannot seek: the sound the main read finds is what there is
        found, whole = read  # a track not read up to the first frame keeps what the main read finds
        self._audio_looked_back = {order[i] for i in whole}
        # each track from its last packet that begins at or before the pre-roll
        first = {i: k for k, (i, packet) in enumerate(found) if packet.pts * packet.time_base <= since}
        return [(order[i], packet) for k, (i, packet) in enumerate(found) if i in whole and k >= first.get(i, 0)]

    def _subtitle_item(self, packet: av.Packet, subtitles: dict[int, SubtitleMode],
                       track: int | None = None) -> SubtitleItem | None:
        """``packet`` timed for the output, as the video is (shifted to the segment's start), and
        cut to the segment: an event shown across the start is kept from the start on, one shown
        across the end stops there. None for an event wholly outside it, a track not asked for,
        or a damaged packet of a track to convert. ``track``: given for a packet of
        :meth:`_subtitles_before_start` (another opening of the file), which alone supplies the
        events that begin before a segment's start."""
        if track is None:
            track = self._subtitles.index(packet.stream)
            if self._looked_back and packet.pts is not None and packet.pts * packet.time_base < self._start:
                return None
        mode = subtitles.get(track)
        if mode is None or packet.pts is None:
            return None
        tb = packet.time_base
        shift = round(self._shift * self._tb / tb)
        begin, length = packet.pts - shift, packet.duration or 0
        if begin < 0:  # before the first frame kept: what is left of it, if its length is known
            if not length and id(packet) in self._on_screen_at_start:
                begin = 0  # a picture still shown (see _subtitles_before_start)
            elif begin + length <= 0:
                return None
            else:
                begin, length = 0, length + begin
        if self._end is not None and length:
            length = min(length, math.ceil(self._end / tb) - shift - begin)
        subtitle = None
        if mode == "convert":
            try:
                subtitle = self._subtitles[track].codec_context.decode2(packet)
            except av.error.FFmpegError:  # damaged, or text in another encoding than UTF-8
                self.unreadable_subtitles += 1
                return None
            # a damaged event, or an empty one (MP4's gaps between lines, which the output's own
            # format marks by each line's duration)
            if subtitle is None or not len(subtitle.rects):
                return None
        packet.pts = packet.dts = begin
        packet.duration = length
        return SubtitleItem(track=track, packet=packet, subtitle=subtitle)

    def _audio_items(self, packet: av.Packet, audio: dict[int, AudioMode],
                     track: int | None = None) -> Iterator[AudioItem]:
        """``packet`` copied, or decoded and cut, for the output. ``track``: given for a packet
        of :meth:`_audio_before_start` (another opening of the file), which alone supplies the
        sound that begins before the segment's first frame."""
        context = None  # the packet's own stream's decoder
        if track is None:
            track = self._audio.index(packet.stream)
            if track in self._audio_looked_back and packet.pts is not None and \
                    packet.pts * packet.time_base < self._origin:
                return
        else:
            context = self._audio[track].codec_context
        mode = audio.get(track)
        if mode is None:
            return
        if mode == "copy":
            opus = self._audio[track].codec_context.name == "opus"
            if self._trims_audio and (packet.pts is None or packet.pts * packet.time_base < self._origin):
                if packet.pts is not None:
                    lead = self._lead_in.setdefault(track, collections.deque(maxlen=None if opus else 2))
                    lead.append(packet)
                    while opus and len(lead) > 1 and self._opus_lead_from(lead[1]):
                        lead.popleft()  # (Opus's: from the last that begins OPUS_PREROLL before the start)
                return
            # Packets cannot be cut: the first one at or after the start begins up to a packet
            # after the picture (AAC's 21 ms), and decodes faded in without the one before it (its
            # overlap). So the packet across the start and the one before it go first, timed below
            # 0, for MP4/MOV's edit list to start the sound on the start's sample; Matroska has no
            # such list (it would move the whole file later), and the encoder leaves them out there.
            lead = self._lead_in.pop(track, None) if self._trims_audio else None
            if lead and len(lead) == 2 and not opus and packet.pts * packet.time_base == self._origin:
                lead.popleft()  # none across the start: the one before it is the decoder's lead-in
            for item in lead or ():
                yield self._copied(track, item, lead_in=True)
            if packet.is_discard:
                # Sound an MP4/MOV edit list hides (a trim that kept the media: an editor's
                # pass-through export): decoders drop it, but copied it would be heard where the
                # container cannot hide it again (Matroska moves the whole file later instead,
                # the picture starting that much late). Only the last such packet before the
                # first one shown goes on, as the decoder's priming (AAC's 1024 samples do).
                self._hidden_audio[track] = packet
                return
            for item in (self._hidden_audio.pop(track, None), packet):
                if item is not None:
                    yield self._copied(track, item)
            return
        try:
            frames = packet.decode() if context is None else context.decode(packet)
        except av.error.FFmpegError:  # skipped rather than lose the whole video, and said at the end
            before_start = self._trims_audio and packet.pts is not None and packet.pts * packet.time_base < self._origin
            self.damaged_audio_packets += not before_start  # (sound before --start is not written anyway)
            return
        for frame in frames:
            kept = self._keep_audio_frame(track, frame)
            if kept is not None:
                yield AudioItem(track=track, frame=kept)

    def _copied(self, track: int, packet: av.Packet, lead_in: bool = False) -> AudioItem:
        """``packet`` to copy, timed for the output: in ticks of its sample rate where its time
        base is coarser (see :meth:`_exact_audio_time`). FLV and Matroska time packets to the
        millisecond, AAC's 1024 samples (21.33 ms) 21 or 22 ms apart: copied so into an MP4, whose
        sample table keeps each packet's own length, the track said 1008 and 1056 samples a
        packet, and a segment's sound began up to 24 samples (at 48 kHz) off the picture."""
        rate = self._audio[track].codec_context.sample_rate
        tb = packet.time_base
        if packet.pts is not None and rate and tb > Fraction(1, rate):
            samples = self._packet_samples(track, packet)
            if samples:
                t = self._exact_audio_time(track, packet.pts * tb, samples, tb, rate)
                packet.pts = packet.dts = round((t - self._shift * self._tb) * rate)
                packet.duration = samples
                packet.time_base = Fraction(1, rate)
                self._cut_copied_end(track, packet, t, rate)
                return AudioItem(track=track, packet=packet, lead_in=lead_in)
        if packet.pts is not None and rate:
            self._cut_copied_end(track, packet, packet.pts * tb, rate)
        if self._shift:
            shift = round(self._shift * self._tb / packet.time_base)
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        return AudioItem(track=track, packet=packet, lead_in=lead_in)

    def _cut_copied_end(self, track: int, packet: av.Packet, t: Fraction, rate: int) -> None:
        """Shorten copied ``packet``'s duration (it begins at ``t`` s of the input) to the sound
        heard of it: up to the segment's end or the track's (:meth:`_audio_end`), and less the
        samples the input says to leave off its end (its skip-samples side data: Matroska's
        DiscardPadding, an encoder's padding after the last sample). Only MP4/MOV read it, whose
        edit list ends the track there, as FFmpeg ends its own encoders' tracks; the packet across
        the end went in whole, and the sound ran on past the picture's end (15 ms of an AAC
        segment's), or past the input's (MP3 from .mkv by its 815 samples of padding, 17 ms).
        Matroska keeps no duration for such a packet, and the padding as it was."""
        if not packet.duration:
            return
        samples = packet.duration * packet.time_base * rate
        heard = samples
        padding = packet.get_sidedata("skip_samples")  # (le32 samples to skip at the start, le32 at the end)
        if padding.data_size >= 8:
            heard -= int.from_bytes(bytes(padding)[4:8], "little")
        end = self._audio_end(track)
        if end is not None:
            heard = min(heard, round((end - t) * rate))
        if 0 < heard < samples:
            packet.duration = max(1, round(heard / rate / packet.time_base))

    def _audio_end(self, track: int) -> Fraction | None:
        """Where audio track ``track``'s sound ends on the input's timeline (s), None where it
        runs to its last sample: the segment's end, or before it an MP4/MOV track's own, where its
        edit list ends it inside its last packet (MP3's padding after the last sample: FFmpeg's
        parser times that packet whole, 815 samples, 17 ms, past the end)."""
        stream = self._audio[track]
        if stream.duration and stream.time_base and "mp4" in self._container.format.name:
            end = ((stream.start_time or 0) + stream.duration) * stream.time_base
            return end if self._end is None else min(end, self._end)
        return self._end

    def _packet_samples(self, track: int, packet: av.Packet) -> int:
        """How many samples ``packet`` of audio track ``track`` holds, or 0 where that is not
        known: PCM's by its bytes as stored; a codec's fixed frame (AAC's 1024, MP3's 1152) unless the
        packet says it is shorter (a last packet); else its duration where that is a whole
        number of samples (Opus's 20 ms: 960; a duration rounded to the millisecond that is
        not, at 44.1 kHz, says nothing exact)."""
        context = self._audio[track].codec_context
        rate = context.sample_rate
        if context.name.startswith("pcm_") and rate and context.layout.nb_channels:
            # the bytes a sample takes as stored, from PCM's bit rate: 24-bit PCM is stored in 3 and
            # decoded to 4 (s32), so the decoded format's counted 768 samples in a packet of 1024
            stored = Fraction(context.bit_rate or 0, 8 * rate)
            if stored and stored.denominator == 1:
                return packet.size // int(stored)
            if context.format:
                return packet.size // (context.format.bytes * context.layout.nb_channels)
        length = (packet.duration or 0) * packet.time_base
        if context.frame_size and (not length or abs(length - Fraction(context.frame_size, rate)) <= packet.time_base):
            return context.frame_size
        samples = length * rate
        return int(samples) if samples.denominator == 1 else 0

    def _keep_audio_frame(self, track: int, frame: av.AudioFrame) -> av.AudioFrame | None:
        """``frame`` timed for the output in ticks of its sample rate, cut to the sample at the
        segment's start and end (None: wholly outside it). Whole frames would start the sound up
        to a frame (AAC's 21 ms, Opus's 20) after the picture, and end it as far past; decoded
        samples can be cut exactly. Its time is as players play it (:meth:`_exact_audio_time`)."""
        if frame.pts is None:
            return frame
        rate = frame.sample_rate
        t = self._exact_audio_time(track, frame.pts * frame.time_base, frame.samples, frame.time_base, rate,
                                   decoded=True)
        first = max(0, round((self._origin - t) * rate)) if self._trims_audio else 0
        end = self._audio_end(track)
        last = frame.samples if end is None else min(frame.samples, round((end - t) * rate))
        if first >= last:
            return None
        if first or last < frame.samples:
            frame = cut_audio_frame(frame, first, last)
        frame.pts = round((t - self._shift * self._tb) * rate) + first
        frame.time_base = Fraction(1, rate)
        return frame

    def _exact_audio_time(self, track: int, t: Fraction, samples: int, time_base: Fraction, rate: int,
                          decoded: bool = False) -> Fraction:
        """The time (seconds) of ``samples`` of audio track ``track`` (a decoded frame, or a packet
        to copy) that its container gives as ``t`` in ``time_base``, as players play it. One
        within a tick of where the one before ended follows it exactly: Matroska's timestamps
        are rounded to the millisecond, and taken as they are they put the cut up to 24 samples
        (at 48 kHz) off. The first one read (from a keyframe, or :data:`AUDIO_PREROLL` before the
        start: not the track's beginning), or one after a gap, is likewise taken to end a whole
        number of the codec's frames after the track's first packet, where it is within a tick of
        that: the end, for a decoder's first frame lacks the encoder's priming it drops (MP3's
        1105 samples: 47 of 1152 left; Opus's 312), and taken for a whole frame of its own size
        after the track's first sample, it put the cut up to 48 samples off."""
        follows = self._audio_next.get(track)
        if follows is not None and abs(t - follows) <= time_base:
            t = follows
        elif time_base > Fraction(1, rate) and samples and self._audio[track].start_time is not None:
            stream = self._audio[track]
            delay = stream.codec_context.delay or 0  # the encoder's priming, which decoding drops
            size = stream.codec_context.frame_size or samples + (delay if decoded and follows is None else 0)
            packets = stream.start_time * stream.time_base - Fraction(delay, rate)  # the first packet's time
            end = t + Fraction(samples, rate)
            whole = packets + Fraction(round((end - packets) * rate / size) * size - samples, rate)
            if abs(t - whole) <= time_base:
                t = whole
        self._audio_next[track] = t + Fraction(samples, rate)
        return t

    def say_if_turn_rounded(self) -> None:
        """Warn when the display matrix turns by other than quarter turns (see
        :meth:`DisplayConversion.say_if_rounded`): said on opening when ``announce``, else by whoever
        shows the frames (``vidstyle preview``)."""
        self._display.say_if_rounded(self.path.name)

    def reads_on_to(self, at: Fraction, read: Fraction) -> bool:
        """Whether reading on from the frame read last, at ``read``, to the first frame at or after
        ``at`` (both seconds on the input's clock, as ``start`` counts them) decodes no more than a
        decoder opened at ``at`` would: the stream's index puts the keyframe a seek to ``at`` lands
        on at or before ``read``, so that decoder would decode the frames up to ``read`` again.
        Only in MP4 and MOV, whose index lists every packet from the start: Matroska's is read at
        the first seek, MPEG-TS's built as packets are read (an index that misses the keyframes
        after ``read`` would have a long read taken for a short one), and raw streams keep none;
        a fragmented MP4's only where it reaches ``at``. False in an image sequence, whose every
        frame is a keyframe (the images between would be decoded for nothing)."""
        if self.sequence is not None or at < read or "mp4" not in self._container.format.name:
            return False
        video = self._video
        entries = video.index_entries
        target = math.floor((self._stream_start + at) / self._tb)
        whole = 0 < (video.frames or 0) <= len(entries)
        if not len(entries) or not (whole or entries[len(entries) - 1].timestamp >= target):
            return False
        k = entries.search_timestamp(target, backward=True)
        return k >= 0 and entries[k].timestamp * self._tb - self._stream_start <= read

    def keyframes(self, count: int, fill_transparency: bool = False) -> list[np.ndarray]:
        """The segment's first frame and the keyframes at or before ``count - 1`` more times spread
        evenly over it, display-oriented RGB, without repeats: one frame decoded per time (a seek
        to an exact time decodes from the keyframe before it, a whole GOP of up to ~10 s, each).
        ``fill_transparency``: as :func:`~vidstyle.io.samples.sample_frames`'s. Spends this decoder: :meth:`read`
        cannot be used after it."""
        self._spend("keyframes()")
        with self._reader:  # as a read (see close)
            if self._closed:  # by another thread since _spend (see _reading)
                raise BadValueError(f"keyframes(): the VideoDecoder of {self.path.name} was closed before its "
                                    "frames were read; open a new one")
            try:
                return self._keyframes(count, fill_transparency)
            finally:
                if self._closed:  # by another thread meanwhile
                    self._let_go_of_the_file()

    def _keyframes(self, count: int, fill_transparency: bool) -> list[np.ndarray]:
        def picture(frame: av.VideoFrame) -> np.ndarray:
            if not (fill_transparency and self.info.alpha):
                return self._display.image(frame)
            from vidstyle.frames import fill_transparent  # here: decoding alone does not need torch

            return fill_transparent(*self._display.image_and_alpha(frame))

        images = [picture(self._first)]
        if count < 2 or not self.info.frames:
            return images
        begin = self._start if self._start is not None else self._stream_start
        # over the time the frames take (see sample_frames): their count at the average rate left
        # the keyframes of an AVI's last 0.7 s out where its capture had dropped frames. Up to where
        # the last frame ends as written (written_end); those past the end asked for are left out below
        ends = self._expected_end
        length = ends - begin if ends is not None and ends > begin else Fraction(self.info.frames) / self._rate
        self._raw.close()
        video, seen = self._video, {self._first.pts}
        context = self._context or video.codec_context
        context.skip_frame = "NONKEY"
        try:
            for i in range(1, count):
                self._container.seek(math.floor((begin + length * i / count) / self._tb), stream=video, backward=True)
                context.flush_buffers()
                packet = next((p for p in self._container.demux(video) if p.size), None)  # the keyframe
                if packet is None:
                    break
                # drained at once: a frame-threaded decoder would otherwise hold the frame back until
                # it had been given more packets (the seek flushes it again)
                frame = next(iter([*context.decode(packet), *context.decode(None)]), None)
                if frame is None or frame.pts is None or frame.pts in seen:
                    continue
                t = frame.pts * self._tb
                # the keyframe before a time in the segment can lie before it; one past the end
                # asked for is not the segment's (see _kept_end)
                if (self._start is not None and t < self._start) or \
                        (self._frames_end is not None and t >= self._frames_end):
                    continue
                seen.add(frame.pts)
                images.append(picture(frame))
        except (av.error.FFmpegError, ValueError, OSError):
            pass  # a file that cannot seek: the frames so far are what there is
        return images

    def close(self) -> None:
        """Let go of the file and its decoders (and their FFmpeg threads). From another thread
        while a read runs there, the reading thread lets go of them when it next has control,
        and its read ends there: freed at once, they were freed under the demuxer and decoder it
        was inside (the pipeline closes its decoder so after giving up on a stuck decode stage)."""
        if self._closed:  # (its decoders already let go of, or left to the reading thread)
            return
        self._closed = True
        if not self._reader.acquire(blocking=False):
            return  # a read runs on another thread: it lets go of the file (see _reading)
        try:
            self._let_go_of_the_file()
        finally:
            self._reader.release()

    def _let_go_of_the_file(self) -> None:
        """What :meth:`close` does, once, by the thread that holds ``_reader``."""
        if self._let_go:
            return
        self._let_go = True
        self._raw.close()
        self._container.close()
        # the frame threads are parked here, where PyAV lets go of the GIL: PyAV frees a decoder
        # holding it and waits there for a thread still decoding, and one that logs meanwhile
        # (PyAV's log callback, on while an encoder's header is written) waits for the GIL: a
        # kill that freed a decoder mid-read hung there ("terminated (SIGTERM)", then nothing)
        for context in (self._context, self._video.codec_context):
            if context is not None:
                with contextlib.suppress(av.error.FFmpegError, ValueError):
                    context.flush_buffers()
        # the closed container does not free a stream's decoder while the stream is referenced:
        # let go of them (and of a first frame never read), so that a closed decoder kept alive,
        # by the traceback of an error that stylize_files hands out, say, keeps no FFmpeg frame
        # threads (3 an input here: a batch that kept its errors piled them up) nor frames
        self._video = self._context = self._first = None

    def __del__(self) -> None:
        # dropped unclosed (a program that forgot close(), or broke out of a read): its FFmpeg
        # frame threads go now (see close), not when the collector runs
        if "_raw" in vars(self):  # (fully opened; an __init__ that failed closed what it opened)
            self.close()

    def __enter__(self) -> "VideoDecoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
