"""Frames spread over a video's segment, as pictures to look at or measure: preview's contact
sheet, int8 calibration, the black-bar search. Each opens its own :class:`VideoDecoder`."""
from __future__ import annotations

import itertools
import logging
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vidstyle.config import check_frame_count
from vidstyle.errors import VidstyleError, counted
from vidstyle.io.decode import DecodedFrame, VideoDecoder, seconds_fraction

log = logging.getLogger("vidstyle")


def _sample_count(count) -> int:
    """``count`` of the sample functions as an int, if it is a whole number of frames (a string or
    2.5 was a bare TypeError from a comparison or from range())."""
    return int(check_frame_count("count", count, optional=False))


def keyframe_samples(path: str | Path, count: int, start: float | None = None,
                     duration: float | None = None, fps=None, hdr: str = "sdr",
                     downscale: int | None = None, fill_transparency: bool = False) -> list[np.ndarray]:
    """Up to ``count`` display-oriented RGB frames spread over the segment, fast: its first frame
    and the keyframes in it before evenly spread times (:meth:`VideoDecoder.keyframes`). Fewer
    when the segment holds fewer keyframes; for frames at exact times use :func:`sample_frames`."""
    count = _sample_count(count)
    with VideoDecoder(path, start, duration, announce=False, fps=fps, hdr=hdr, downscale=downscale) as decoder:
        return decoder.keyframes(count, fill_transparency)


def spread_samples(path: str | Path, count: int, start: float | None = None,
                   duration: float | None = None, fps=None, hdr: str = "sdr",
                   downscale: int | None = None, fill_transparency: bool = False) -> list[np.ndarray]:
    """``count`` frames spread over the segment as cheaply as they can be had: its keyframes
    (:func:`keyframe_samples`, one decoded frame each), or, when it holds fewer than half
    ``count`` of them (a short clip, one long GOP), frames at exact times (:func:`sample_frames`,
    which decodes from the keyframe before each, or reads on to it where none lies between).
    ``fps``: an image sequence's frame rate, ``hdr`` what to make of HDR, ``downscale`` the
    longest side (see :class:`VideoDecoder`), ``fill_transparency`` as :func:`sample_frames`'s."""
    return spread_samples_and_chroma(path, count, start, duration, fps, hdr, downscale, fill_transparency)[0]


def spread_samples_and_chroma(path: str | Path, count: int, start: float | None = None,
                              duration: float | None = None, fps=None, hdr: str = "sdr",
                              downscale: int | None = None,
                              fill_transparency: bool = False) -> tuple[list[np.ndarray], tuple[int, int] | None]:
    """:func:`spread_samples`, and the chroma subsampling of those frames as they are given
    (:attr:`SourceInfo.shown_chroma`), for :func:`~vidstyle.letterbox.find_picture_area`: taken from
    the decoder that finds the keyframes, where a decoder of its own opened the file once more (a
    first frame decoded: 0.1 to 0.25 s of a 1080p clip's bar search)."""
    count = _sample_count(count)
    with VideoDecoder(path, start, duration, announce=False, fps=fps, hdr=hdr, downscale=downscale) as decoder:
        frames, chroma = decoder.keyframes(count, fill_transparency), decoder.info.shown_chroma
    if 2 * len(frames) < count:
        frames = sample_frames(path, count, start, duration, fps, hdr, fill_transparency, downscale=downscale)
    return frames, chroma


def sample_frames(path: str | Path, count: int, start: float | None = None, duration: float | None = None,
                  fps=None, hdr: str = "sdr", fill_transparency: bool = False,
                  downscale: int | None = None, say_turn: bool = False, say_unspread: bool = False) -> list[np.ndarray]:
    """Up to ``count`` display-oriented RGB frames (H, W, 3) spread evenly in time over the
    segment ``[start, start + duration)`` (or the whole file), in order, none twice (fewer only
    when the segment has no more): e.g. to calibrate int8 activation ranges on the video about to
    be stylized rather than on its first seconds only. Without a known length, the segment's
    first ``count`` frames. ``fill_transparency``: a video with an alpha channel
    gives its frames with the picture continued under the transparency
    (:func:`~vidstyle.frames.fill_transparent`), as the pipeline's network sees them. ``say_turn``:
    warn of a display matrix that is not a quarter turn (for frames shown as they are, not a look
    ahead of a run that says it when it stylizes). ``say_unspread``: warn when the segment's first
    frames are all there is to give, when the segment ends before ``duration`` or gives fewer than
    ``count`` frames (frames shown to be chosen from: a sheet of 12 columns where 100 were asked
    for said nothing)."""
    from vidstyle.frames import fill_transparent, resize_frame  # here: decoding alone does not need torch

    def picture(item: DecodedFrame) -> np.ndarray:
        return item.image if item.alpha is None else fill_transparent(item.image, item.alpha)

    count = asked = _sample_count(count)

    def sample(at: Fraction) -> tuple[Fraction, np.ndarray] | None:
        """The first frame at or after ``at``: its time (as ``base``) and picture; None past the last frame there is."""
        # each sample opens the file again and seeks (but where _ReadOn reads on to it): decoding the
        # whole video would cost far more
        try:
            with VideoDecoder(path, at, announce=False, fps=fps, hdr=hdr, downscale=downscale) as decoder:
                # at the first frame's size: each decoder takes its size from its own first frame,
                # and a stream can change size mid-way (scaled as the pipeline's decoder does)
                image = resize_frame(picture(next(decoder.read(alpha=fill_transparency))),
                                     (first.shape[1], first.shape[0]))
                return decoder.first_time, image
        except VidstyleError:
            return None

    with VideoDecoder(path, start, duration, announce=False, fps=fps, hdr=hdr, downscale=downscale) as decoder:
        stated = decoder.length_stated
        if say_turn:
            decoder.say_if_turn_rounded()
        if say_unspread and (note := decoder.ended_before_duration("the segment", expected=True)):
            log.warning("%s", note)
        info = decoder.info
        if info.frames:  # samples about a frame apart at the closest; more are looked for between them
            count = min(count, info.frames)
        # an estimated count (a segment's, one from the length at the average rate) is no bound: up
        # to the count asked for, the frames between those found are looked for too
        exact = decoder.frames_exact
        wanted = count if exact else asked
        if not (info.frames or duration):
            images = [picture(item) for item, _ in zip(decoder.read(alpha=fill_transparency), range(count))]
            if say_unspread and len(images) == count > 1:  # (fewer: the whole stream, nothing left out)
                # a raw stream (.h264, .hevc) holds no length to spread them over: the sheet showed
                # frames 0, 1, 2 of a long video as if they were its beginning, middle and end
                log.warning("%s does not say how long it is: these are its first %d frames%s, not %d spread over "
                            "it", Path(path).name, count, " from the start given" if start else "", count)
            return _said_if_fewer(images, asked, path, start, duration) if say_unspread else images
        items = decoder.read(alpha=fill_transparency)
        first = picture(next(items))
        # spread from the segment's first frame, not from a --start between frames before it: the
        # second sample, a frame later than --start, took the first frame again, and the last was left out
        base = decoder.first_time
        # over the time the frames take, not their count at the average rate: frames unevenly spaced
        # (an AVI's dropped ones, a variable frame rate) end elsewhere, and the samples left the
        # last 10 of 24 out, taking others twice. Spread up to where the last frame ends as written
        # (whole frames), and a frame from where the segment's frames end on is not the segment's
        # (frames in a burst: see VideoDecoder.written_end and frames_end)
        ends, kept_end = decoder.written_end, decoder.frames_end
        length = ends - base if ends is not None and ends > base else \
            Fraction(info.frames) / info.frame_rate if info.frames else seconds_fraction(duration)
        until = kept_end if kept_end is not None and kept_end > base else base + length
        half_frame = 1 / (2 * info.frame_rate)
        # A segment its count says holds no more frames than asked for (the count exact, or an
        # estimate): every frame of it is what the samples find, but each was opened for and the
        # gaps between them looked into (76 opens for the 30 frames of a burst .mp4). It is read
        # once from its start instead, up to one frame more than asked for, which says the count
        # was low (frames in bursts): those are then sampled as below, and not read again.
        # (Not where the count is unknown: a raw stream given a --duration holds any number.)
        more = False
        if info.frames and info.frames <= asked:
            clock = decoder.clock_offset
            head = [(base, first)] + [(item.time + clock, picture(item)) for item in itertools.islice(items, asked)]
            if len(head) <= asked:
                last = head[-1][0]
                # where a sample spread over the length would have found nothing (see below); not
                # where the segment ended them: a gap after its frames (frames to 1 s, the next at
                # 3 s, --duration 2) was said to be a file "truncated or damaged"
                if say_unspread and not decoder.passed_end and base + length * (count - 1) / count - half_frame > last:
                    _say_frames_end(path, last + 1 / info.frame_rate, base, length, stated, duration)
                images = [image for _, image in head]
                return _said_if_fewer(images, asked, path, start, duration) if say_unspread else images
            more, head = True, None  # (its frames let go: the samples below hold their own)

        # Read on from this decoder where that decodes no more than a decoder opened for the sample
        # would (the same keyframe before both): each sample of a clip that is one GOP decoded it
        # from its start again, 3.5 times its frames for 8 samples (see _ReadOn)
        ahead = None if more else _ReadOn(decoder, items, picture, base)

        def sample_ahead(at: Fraction) -> tuple[Fraction, np.ndarray] | None:
            """:func:`sample`, read on from the segment's decoder where that is the cheaper way."""
            found = ahead.sample(at) if ahead is not None else None
            return found if found is not None else sample(at)

        # the frames taken, by time: a sample that finds a frame taken already (frames further apart
        # than the samples) is not taken twice; the sheet showed 14 different frames in 24 columns
        taken, i, respread = {base: first}, 1, False
        while i < count:
            # starting half a frame early takes the frame nearest to the sample's time
            found = sample_ahead(base + length * i / count - half_frame)
            if found is None:  # the length was an overestimate: past the last frame
                if respread:
                    break
                # a file cut short still gives the length its header promised: the samples past the cut
                # found nothing, and a sheet of 2 columns said the file "has 2 frames" where it had 40.
                # Where the frames end is bisected by seeking (a few opens), and the samples spread over them.
                good, past = base + length * (i - 1) / count, base + length * i / count
                # A sample finds no frame from half a frame after the last one begins (it seeks half a
                # frame early); bisected to half a frame, that place is known to a quarter frame either
                # way, and the frames end half a frame after it. Bisected to a whole frame, the count
                # rounded from it (29.97 frames/s, millisecond times) came out one short: a column missing.
                while past - good > half_frame:
                    middle = (good + past) / 2
                    good, past = (middle, past) if sample(middle - half_frame) is not None else (good, middle)
                ends = (good + past) / 2 + half_frame
                if say_unspread:
                    _say_frames_end(path, ends, base, length, stated, duration)
                length, taken, i, respread = ends - base, {base: first}, 1, True
                count = min(count, max(1, round(length * info.frame_rate)))
                wanted, exact = asked, False  # (a count from the header promised frames that are not there)
                continue
            if found[0] < until:  # (not one past the segment's end)
                taken.setdefault(*found)
            i += 1
    # gaps of up to 1.5 frames at the average rate hold none where the count is an estimate (each
    # looked into for nothing cost a segment of evenly spaced frames 3 times its opens); where the
    # file counts its frames, those missing are somewhere: frames in bursts (a screen recording)
    # lie closer together than the average rate says
    _fill_gaps(taken, wanted, until, sample, 0 if exact else 3 * half_frame)
    images = [taken[t] for t in sorted(taken)]
    if not exact and len(images) < asked:
        # gaps left unsearched may hold frames (bursts closer than 1.5 frames: a screen recording in
        # .mkv, any segment), and a sheet of 20 of 30 said "all are shown": the segment is read from
        # its start; up to the count asked for, what it holds is every frame (read already: more)
        every = []
        if not more:
            with VideoDecoder(path, start, duration, announce=False, fps=fps, hdr=hdr, downscale=downscale) as decoder:
                clock = decoder.clock_offset
                # a frame taken already is held once, as taken: held again, a 4K segment of 64
                # frames held 125 at once (4.6 GB), its 60 taken and 65 read
                every = [taken[t] if (t := item.time + clock) in taken else picture(item)
                         for item in itertools.islice(decoder.read(alpha=fill_transparency), asked + 1)]
        if every and len(every) <= asked:
            images = every
        else:  # more than asked: every gap is looked into, as where the file counts its frames
            _fill_gaps(taken, asked, until, sample, 0)
            images = [taken[t] for t in sorted(taken)]
    return _said_if_fewer(images, asked, path, start, duration) if say_unspread else images


class _ReadOn:
    """:func:`sample_frames`'s samples read on from the decoder of its segment (``items``, its
    read, whose first frame at ``first_time`` was taken), where that decodes no more frames than a
    decoder opened at the sample's time would (:meth:`VideoDecoder.reads_on_to`): the same frame,
    time and picture, without an open and the decoding again from the keyframe before it. None
    (the sample is opened for) for a time before the frame read last, where reading on would cost
    more, past the segment's frames (a sample's own decoder reads on past its end), and from a
    frame of another size on (scaled by the decoder, not as a sample's own first frame is)."""

    def __init__(self, decoder: VideoDecoder, items: Iterator, picture: Callable, first_time: Fraction):
        self._decoder, self._items, self._picture = decoder, items, picture
        self._clock = decoder.clock_offset
        self._held: tuple[Fraction, DecodedFrame | None] = (first_time, None)  # the frame read last
        self._before: Fraction | None = None  # the time of the frame before it (None: not read here)
        self._done = False

    def sample(self, at: Fraction) -> tuple[Fraction, np.ndarray] | None:
        """The first frame at or after ``at`` (as ``sample_frames``'s ``sample``), or None."""
        if self._done or (at > self._held[0] and not self._decoder.reads_on_to(at, self._held[0])):
            return None
        while at > self._held[0]:
            try:
                item = next(self._items, None)
            except VidstyleError:  # (the sample's own decoder says what it says of it)
                item = None
            if item is None or self._decoder.resized_frames:
                self._done = True
                return None
            self._before, self._held = self._held[0], (item.time + self._clock, item)
        # the frame held is the first at or after ``at`` where the one read before it is earlier
        if self._before is None or self._before >= at:
            return None
        return self._held[0], self._picture(self._held[1])


def _say_frames_end(path, ends: Fraction, base: Fraction, length: Fraction, stated: bool, duration) -> None:
    """Warn that the frames of :func:`sample_frames`'s segment (from ``base``) end at ``ends``,
    before the ``length`` they were to be spread over: its header says more (``stated``), else
    the ``duration`` asked for runs past the end of a stream that says no length."""
    if stated:
        log.warning("the frames of %s end at %.2f s, though its header says they reach %.2f s (truncated or "
                    "damaged file?): those shown are spread over the frames there are", Path(path).name,
                    ends, base + length)
    else:  # a stream that does not say its length ends before the --duration asked for
        log.warning("%s ends before the %.4g s asked for (--duration): the segment lasts %.2f s",
                    Path(path).name, float(duration), ends - base)


#: seconds after a frame's time at which a sample finds the frame after it (a frame lasts longer)
_JUST_AFTER = Fraction(1, 10000)


def _fill_gaps(taken: dict, count: int, end: Fraction, sample: Callable, widest_step: Fraction) -> None:
    """Frames added to ``taken`` (picture by time) up to ``count`` from between those taken (the
    widest gap in time first, up to ``end``), each at most once: samples evenly spread in time
    find fewer different frames where frames are further apart than the samples. ``sample(at)``:
    the first frame at or after ``at``, as (time, picture), or None. Gaps up to ``widest_step``
    are taken to hold none (see :func:`sample_frames`). Fewer only where every wider gap holds
    no frame."""
    closed: set = set()  # gaps (by their start) found to hold no frame
    while len(taken) < count:
        times = sorted(taken)
        gaps = [(b - a, a, b) for a, b in zip(times, times[1:] + [end])
                if a not in closed and b - a > widest_step]
        if not gaps:
            return
        _, a, b = max(gaps)
        for at in dict.fromkeys(((a + b) / 2, a + _JUST_AFTER)):  # its middle, else the frame after its start
            found = sample(at)
            if found is not None and a < found[0] < b and found[0] not in taken:
                taken[found[0]] = found[1]
                break
        else:
            closed.add(a)


def _said_if_fewer(images: list[np.ndarray], asked: int, path, start, duration) -> list[np.ndarray]:
    """``images``, with a warning when they are fewer than the ``asked`` frames (all the segment has)."""
    if images and len(images) < asked:
        where = f"the segment of {Path(path).name}" if start or duration else Path(path).name
        log.warning("%s has %s: all are shown, not the %d asked for (--frames)", where,
                    counted(len(images), "frame"), asked)
    return images
