"""Letterbox and pillarbox bars: find the picture inside black bars, so that only it is stylized.

A film framed at 2.39:1 inside a 16:9 video comes with black bars above and below (letterbox), an
upright phone video inside a landscape frame with bars left and right (pillarbox). A style network
paints bars like any dark area: starry_night turns them dark navy with strokes reaching about 10
pixels into them, and because its instance norms take their statistics over the whole frame, the
bars change how the picture itself is painted. So by default vidstyle finds the bars once per
video, stylizes only the picture between them, and puts the input's own bar pixels back around it:
black bars stay black.

Bars are found the way FFmpeg's ``cropdetect`` or HandBrake's automatic crop find them: on frames
spread over the video (a film's first frames are often black), a row or column belongs to a bar
when it is black (all but a few of its pixels dark) in every one of those frames (its last line may
carry the picture's colour where the frames' chroma pairs lines: 4:2:0 video shares one colour
between two lines). A dark
background that merely looks like a bar in every frame (a studio portrait, a static night shot)
is told apart by the bar's edge: a real bar ends where the picture begins, so the picture's first
row or column is mostly lit in at least one of the frames, and brighter than the bar by a step
steeper than the picture's own gradient (a smooth ramp from black passes the dark level somewhere
too, with no edge there); where it is not, that side is not cut.
Bars only some of those frames show (shots framed differently, joined) are no bars: whole frames
are stylized, with a warning naming them. Subtitles burned into a bar break it: a bar with subtitles in any of those frames is stylized
with the picture, as it would be without this step (subtitles in other frames stay as they are).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from vidstyle.errors import BadTypeError, BadValueError
from vidstyle.frames import check_image

log = logging.getLogger("vidstyle")
#: Pixels of a luma (0-255, full range) up to this are dark. Decoded black bars are 0-3 here;
#: FFmpeg's cropdetect uses 24 on the limited 16-235 scale, i.e. about 9.
DARK_LEVEL = 12

#: Bars thinner than this many pixels are left alone: a dark edge row or two is no bar.
MIN_BAR = 2

#: A bar's row (column) may have this share of brighter pixels: noise, a logo's corner.
BAR_NOISE = 0.02

#: Frames spread over a video on which bars are looked for: keyframes where it has enough, each
#: one decoded frame, else frames at exact times (vidstyle.io.samples.spread_samples).
SAMPLE_FRAMES = 8

#: Fewer pixels than this across the picture between the bars is none to stylize (find_picture_area's
#: min_picture).
MIN_PICTURE = 16


@dataclass(frozen=True)
class PictureArea:
    """The picture inside frames of ``size`` = (H, W): rows ``top:bottom``, columns ``left:right``;
    everything outside is bar."""

    top: int
    bottom: int
    left: int
    right: int
    size: tuple[int, int]

    def __post_init__(self):
        h, w = self.size
        if not (0 <= self.top < self.bottom <= h and 0 <= self.left < self.right <= w):
            raise BadValueError(f"picture rows {self.top}:{self.bottom}, columns {self.left}:{self.right} "
                             f"do not fit a {w}x{h} frame")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the picture."""
        return self.bottom - self.top, self.right - self.left

    def bars_text(self) -> str:
        """The bars' thickness in pixels, e.g. ``top 46, bottom 46``."""
        h, w = self.size
        bars = {"top": self.top, "bottom": h - self.bottom, "left": self.left, "right": w - self.right}
        return ", ".join(f"{side} {px}" for side, px in bars.items() if px)

    def describe(self) -> str:
        """E.g. ``640x268 picture inside 640x360 (bars: top 46, bottom 46)``."""
        h, w = self.size
        return f"{self.shape[1]}x{self.shape[0]} picture inside {w}x{h} (bars: {self.bars_text()})"

    def fits(self, image: np.ndarray) -> bool:
        return image.shape[:2] == self.size

    def scaled(self, size: tuple[int, int]) -> PictureArea | None:
        """This area in the frames scaled to ``size`` = (H, W): each bar the lines that lie wholly
        in it (a line that takes some picture is picture, stylized); None when no bar is left."""
        (h, w), (new_h, new_w) = self.size, size
        top, bottom = self.top * new_h // h, (h - self.bottom) * new_h // h
        left, right = self.left * new_w // w, (w - self.right) * new_w // w
        if not (top or bottom or left or right):
            return None
        return PictureArea(top, new_h - bottom, left, new_w - right, (new_h, new_w))

    def _check_frame(self, frame: np.ndarray, name: str) -> np.ndarray:
        """``frame`` if it is a uint8 (H, W, 3) frame of :attr:`size`: in another size the area's
        rows and columns are another region, which slicing would take without a word."""
        check_image(frame)
        if not self.fits(frame):
            h, w = self.size
            raise BadValueError(f"{name} must be {w}x{h} (the size of the frames the area was found in), "
                             f"got {frame.shape[1]}x{frame.shape[0]}")
        return frame

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The picture of a uint8 (H, W, 3) frame of :attr:`size` (a view)."""
        return self._check_frame(image, "image")[self.top:self.bottom, self.left:self.right]

    def paste(self, frame: np.ndarray, picture: np.ndarray) -> np.ndarray:
        """A copy of ``frame`` (uint8 (H, W, 3) of :attr:`size`) with ``picture`` (the stylized
        :meth:`crop`, uint8 too: a float one would be cast to black) put in place."""
        self._check_frame(frame, "frame")
        check_image(picture)
        if picture.shape[:2] != self.shape:
            raise BadValueError(f"picture must be {self.shape[1]}x{self.shape[0]} (the area's), "
                             f"got {picture.shape[1]}x{picture.shape[0]}")
        out = frame.copy()
        out[self.top:self.bottom, self.left:self.right] = picture
        return out

    def restore_bars(self, image: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """``image`` with ``frame``'s bars put back, in place (both uint8 (H, W, 3) of :attr:`size`;
        the picture is left as it is): only the bars are copied, not the whole frame as
        :meth:`paste` does (1080p with 140-row bars: 0.08 against 1.6 ms, 2-core Zen 3)."""
        self._check_frame(image, "image")
        self._check_frame(frame, "frame")
        image[:self.top] = frame[:self.top]
        image[self.bottom:] = frame[self.bottom:]
        image[self.top:self.bottom, :self.left] = frame[self.top:self.bottom, :self.left]
        image[self.top:self.bottom, self.right:] = frame[self.top:self.bottom, self.right:]
        return image

    def extend_edges(self, image: np.ndarray) -> np.ndarray:
        """``image`` (uint8 (H, W, 3) of :attr:`size`) with its bars filled by the picture's edge
        rows and columns repeated, in place: what the stabilizer blends and keeps as its history.
        With black bars there, its warp's bilinear samples drew black into the picture's edge rows
        frame after frame (17-23 grey levels darker at strength 0.8); :meth:`restore_bars` puts the
        bars back after the blend."""
        self._check_frame(image, "image")
        image[:self.top] = image[self.top]
        image[self.bottom:] = image[self.bottom - 1]
        image[:, :self.left] = image[:, self.left:self.left + 1]
        image[:, self.right:] = image[:, self.right - 1:self.right]
        return image

    def holds(self, image: np.ndarray) -> bool:
        """True while ``image`` is a frame of this size whose bars are still bars."""
        return self.fits(image) and not self.bars_show_picture(image)

    def bars_show_picture(self, image: np.ndarray, level: int = DARK_LEVEL) -> bool:
        """True when more than half of the pixels of some bar of ``image`` are brighter than
        ``level``: the picture has reached where the bars were (the frames that found them were not
        representative), and cropping would leave part of it unstylized."""
        # per frame: only the bars are converted, not the picture
        bars = [image[:self.top], image[self.bottom:], image[self.top:self.bottom, :self.left],
                image[self.top:self.bottom, self.right:]]
        return any(bar.size and np.count_nonzero(_luma(bar) > level) * 2 > bar.size // 3 for bar in bars)


def _luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(check_image(image), cv2.COLOR_RGB2GRAY)


def _bar_lengths(dark: np.ndarray) -> tuple[int, int]:
    """How many leading and trailing entries of the boolean vector ``dark`` are True."""
    if dark.all():
        return len(dark), 0
    return int(np.argmin(dark)), int(np.argmin(dark[::-1]))


def _black_lines(gray: np.ndarray, axis: int, level: int) -> np.ndarray:
    """Which rows (``axis`` 1) or columns (``axis`` 0) of ``gray`` are black: their
    1 - :data:`BAR_NOISE` quantile (``np.quantile``'s, interpolated) at most ``level``. Decided by
    counting each line's pixels over ``level``, where that count puts the quantile's place in the
    line's sorted pixels among the dark ones or among the lit ones: ``np.quantile`` sorted every
    line of the frame (1.2 s for 8 4K frames, where counting takes 25 ms). Only the lines whose
    place falls between their last dark pixel and their first lit one, where the interpolation
    decides, are measured by ``np.quantile`` itself."""
    n = gray.shape[axis]
    # (OpenCV's sum of its 0/255 mask: 3 ms a 4K frame, against 11 for np.count_nonzero; the mask
    # by threshold, not cv2.compare, which takes a 1x1 frame for a scalar and gave a (4, 1) mask)
    mask = cv2.threshold(gray, level, 255, cv2.THRESH_BINARY)[1]
    lit = cv2.reduce(mask, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() // 255
    last_dark = n - 1 - lit  # the index of each line's last dark pixel, sorted
    at = (1 - BAR_NOISE) * (n - 1)  # the quantile's place: it interpolates the pixels either side
    black = last_dark >= at + 1  # (both pixels dark; neither where last_dark < at - 1)
    unsure = np.flatnonzero((last_dark > at - 1.5) & (last_dark < at + 1.5))  # (a margin for rounding)
    if unsure.size:
        lines = gray[unsure] if axis == 1 else gray[:, unsure]
        black[unsure] = np.quantile(lines, 1 - BAR_NOISE, axis=axis) <= level
    return black


def _black_runs(frames: list[np.ndarray], grays: list[np.ndarray], axis: int, level: int,
                paired: bool) -> tuple[int, int]:
    """How many rows (``axis`` 1) or columns (``axis`` 0) at each end are black in every frame:
    all but :data:`BAR_NOISE` of their pixels at most ``level``. A bar is black all along, so
    the whole frame is looked at. Where the frames' chroma pairs the lines (``paired``: two
    lines share one colour along this axis), each run's last line may be black but for the
    colour of the picture's first line, beside it (:func:`_black_but_for_the_pictures_colour`)."""
    black = np.logical_and.reduce([_black_lines(g, axis, level) for g in grays])
    first, last = _bar_lengths(black)
    if not paired:
        # each line has a colour of its own (RGB, 4:4:4, 4:2:2's rows) or how they share it is
        # unknown (a still): a black line is black, and a dark picture line of the next one's hue
        # (a red edge column of (140, 0, 0) beside (200, 0, 0)) was taken into the bar, unstylized
        return first, last
    n = len(black)
    # only a line that shares its colour with the picture's first (4:2:0 pairs lines 0-1, 2-3, ...),
    # after a run that is a bar already: else a dark picture line was taken into the bar (a still's
    # dark edge column after one black one made a bar of 2 kept unstylized; a dark scene's first
    # column after an even bar of 20 made one of 22, whose edge then failed, and no bar was kept)
    if first >= MIN_BAR and first % 2 == 0 and first < n - 1 \
            and _black_but_for_the_pictures_colour(frames, axis, first, first + 1, level):
        first += 1
    end = n - 1 - last
    if last >= MIN_BAR and end % 2 == 1 and end > first + 1 \
            and _black_but_for_the_pictures_colour(frames, axis, end, end - 1, level):
        last += 1
    return first, last


#: RGB's weights in luma (BT.601, as the frames' luma is taken: cv2's RGB2GRAY).
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def _black_but_for_the_pictures_colour(frames: list[np.ndarray], axis: int, line: int, picture: int,
                                       level: int) -> bool:
    """Whether row (``axis`` 1) or column (``axis`` 0) ``line`` is, in every frame, black but for
    the colour of line ``picture`` beside it: all but :data:`BAR_NOISE` of its pixels that
    colour on a luma of at most ``level``. Video stores one colour for each 2x2 pixels (4:2:0,
    nearly all video), so a bar of an odd number of lines has the picture's colour on its last
    line: stored black, which the colour turns into a lit RGB pixel where it cannot be shown on
    black (a green edge made (0, 25, 0): its luma 15, over the dark level). That line was cut
    as picture, and stylized: one black line painted along the bar (bars of 61 found as 60 in a
    pillarboxed 320x180 clip). The colour is the picture line's pixels less their luma; the
    line's own luma, what is left of it (its least channel, where none is clipped at 0), must
    give the line back with that colour, so a lit line of another colour is no bar. One line at
    most: the colour is shared by two lines, and the picture's first holds it as its own; and only
    the line paired with the picture's (:func:`_black_runs`)."""
    for frame in frames:
        own = (frame[line] if axis == 1 else frame[:, line]).astype(np.float32)
        beside = (frame[picture] if axis == 1 else frame[:, picture]).astype(np.float32)
        colour = beside - (beside @ _LUMA_WEIGHTS)[:, None]
        luma = np.clip((own - colour).min(axis=1), 0, None)
        again = np.clip(luma[:, None] + colour, 0, 255)
        black = (own @ _LUMA_WEIGHTS <= level) | (luma <= level) & (np.abs(again - own).max(axis=1) <= level)
        if np.count_nonzero(~black) > BAR_NOISE * len(black):
            return False
    return True


def _line_median(gray: np.ndarray, axis: int, index: int, span: slice) -> float:
    """Median luma of row (``axis`` 1) or column (``axis`` 0) ``index`` within ``span`` of the other axis."""
    return float(np.median(gray[index, span] if axis == 1 else gray[span, index]))


#: How many lines an edge between a bar and the picture may take: a picture scaled up 4-6 times
#: (SD into 4K), a soft telecine or a film scan's dim frame lines spread it over several.
MAX_EDGE = 8


def _ends_at_an_edge(grays: list[np.ndarray], axis: int, level: int, first: int, step: int, span: slice,
                     depth: int) -> bool:
    """Whether the bar whose first picture line is ``first`` (the bar lies at ``first - step``,
    the picture ``depth`` lines deep from there) ends at an edge in some frame: one of the
    picture's first two lines mostly lit (median above ``level``; the outermost line of a film
    scan is often dim), and within :data:`MAX_EDGE` lines a rise from the bar's last line of at
    least ``level`` that is steeper than the picture goes on rising after it (over as many lines
    again). A smooth ramp from black (a gradient backdrop, a sky into night) passes ``level`` at
    some line too, but keeps rising as fast as it rose: no bar ends there."""
    lines = [first + k * step for k in range(min(2 * MAX_EDGE + 1, depth))]
    reach = min(MAX_EDGE, (len(lines) - 1) // 2)  # a rise over j lines is compared with the next j
    for g in grays:
        if not any(_line_median(g, axis, i, span) > level for i in lines[:2]):
            continue
        if reach < 2:  # a picture too thin to tell an edge from a gradient (min_picture keeps this rare)
            return True
        bar_line = _line_median(g, axis, first - step, span)
        medians = [_line_median(g, axis, i, span) for i in lines[:2 * reach + 1]]
        for j in range(2, reach + 1):
            rise = medians[j] - bar_line
            if rise >= level and rise > 2 * abs(medians[2 * j] - medians[j]):
                return True
    return False


def video_picture_area(path, size: tuple[int, int], start: float | None = None, duration: float | None = None,
                       fps=None, hdr: str = "sdr", fill_transparency: bool = False) -> PictureArea | None:
    """:func:`find_picture_area` of a video's frames shown at ``size`` = (H, W) (downscaled, or
    at the size they are stored), on :data:`SAMPLE_FRAMES` frames spread over the segment
    (vidstyle.io.samples.spread_samples, with its ``fps``, ``hdr`` and ``fill_transparency``).

    The bars are found at the stored size, with the stored chroma, and scaled to ``size``: a
    downscaled line mixes stored ones, and in 4:2:0 video the picture's colour spreads into the
    bar's last lines, on no pair of lines any more (two scaled lines tinted, (0, 0, 8) and
    (0, 0, 20)), where a bar line black in its luma reads as lit as a dark picture line of that
    hue: a 59-column bar of a 320x180 clip at --downscale 288 was found 52 columns, not 53."""
    from vidstyle.io.samples import spread_samples_and_chroma

    frames, chroma = spread_samples_and_chroma(path, SAMPLE_FRAMES, start, duration, fps, hdr,
                                               fill_transparency=fill_transparency)
    area = find_picture_area(frames, chroma=chroma)
    if area is None:
        _say_if_bars_in_some(frames, chroma, path)
    if area is None or area.size == tuple(size):
        return area
    area = area.scaled(size)
    return area if area is not None and min(area.shape) >= MIN_PICTURE else None


def _say_if_bars_in_some(frames: list[np.ndarray], chroma: tuple[int, int] | None, path) -> None:
    """Warn when no bars were found in ``frames`` of video ``path`` although two or more of them
    show the same bars on their own: shots framed differently joined into one (full frame, then
    letterboxed), whose bars are then stylized with the picture (starry_night paints them dark,
    with strokes), which nothing said. Only frames with a black edge line are looked at alone (a
    4K frame's search takes a while, and a frame with no black edge has no bars)."""
    def dark_edge(frame: np.ndarray) -> bool:
        # the luma of the edge lines only (the whole frame's took 6 ms a 4K frame)
        edges = (frame[:1], frame[-1:], np.ascontiguousarray(frame[:, :1]), np.ascontiguousarray(frame[:, -1:]))
        return any(np.quantile(_luma(line), 1 - BAR_NOISE) <= DARK_LEVEL for line in edges)

    alone = Counter(find_picture_area([f], chroma=chroma) for f in frames if dark_edge(f))
    alone.pop(None, None)
    if alone:
        area, count = alone.most_common(1)[0]
        if count >= 2:
            log.warning("black bars (%s) in %d of the %d frames sampled from %s, but not in the others (shots "
                        "framed differently?): whole frames are stylized, those bars with them; stylize each part "
                        "with --start/--duration to keep its bars black", area.bars_text(), count, len(frames),
                        Path(str(path)).name)


def find_picture_area(frames: Iterable[np.ndarray], level: int = DARK_LEVEL,
                      min_picture: int = MIN_PICTURE, *, chroma: tuple[int, int] | None = None) -> PictureArea | None:
    """The picture inside the black bars that all ``frames`` (an iterable of uint8 (H, W, 3) RGB
    frames, one size, best spread over the video) share; None when there are no bars, or no
    picture to find (every frame black, or less than ``min_picture`` pixels left between the bars).

    A row (column) is bar when all but :data:`BAR_NOISE` of its pixels have a luma of at most
    ``level`` in every frame; bars are the runs of such rows (columns) from each edge, at least
    :data:`MIN_BAR` thick, that end at an edge in some frame, looked for within the picture's
    columns (rows), so that a picture boxed on all four sides is found however narrow it is: one of
    the picture's first two rows (columns) mostly brighter than ``level``, and within
    :data:`MAX_EDGE` lines a rise from the bar of at least ``level``, steeper than the picture's
    gradient after it (a smooth ramp from black is no bar; a soft edge is one).

    ``chroma``: how many pixels (across, down) of the frames as given share one colour sample
    (:func:`vidstyle.io.display.chroma_subsampling`, turned as the frames are: 4:2:0 video's
    (2, 2)); along an axis where two lines share one, a bar's last line that is black but for the
    picture's colour is bar too. None (RGB, a still, not known): every line has its own colour."""
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        raise BadValueError(f"find_picture_area takes a sequence of frames, got one {frames.shape} array "
                         "(pass [frame] for a single image)")
    if not isinstance(frames, Iterable):
        raise BadTypeError(f"find_picture_area takes an iterable of uint8 (H, W, 3) frames, "
                        f"got {type(frames).__name__}")
    from vidstyle.config import check_number

    check_number("level", level, "a whole number of grey levels from 0 to 254", lambda v: 0 <= v < 255,
                 integral=True, optional=False)
    check_number("min_picture", min_picture, "a whole number of pixels, at least 1", lambda v: v >= 1,
                 integral=True, optional=False)
    if chroma is not None and not (isinstance(chroma, tuple) and len(chroma) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in chroma)):
        raise BadValueError(f"chroma must be None or (across, down) pixels sharing one colour sample "
                            f"such as (2, 2), got {chroma!r}")
    frames = [check_image(f) for f in frames]  # a generator is read once
    if not frames:
        raise BadValueError("find_picture_area needs at least one frame")
    h, w = frames[0].shape[:2]
    if any(f.shape[:2] != (h, w) for f in frames):
        raise BadValueError("the frames to find bars in must have one size")
    grays = [_luma(f) for f in frames]
    across, down = chroma or (1, 1)
    top, bottom = _black_runs(frames, grays, 1, level, down == 2)
    left, right = _black_runs(frames, grays, 0, level, across == 2)
    if top == h or left == w:
        return None  # nothing but dark lines: no picture to find
    rows, cols = slice(top, h - bottom), slice(left, w - right)

    def edge(bar: int, axis: int, first: int, step: int, span: slice, depth: int) -> int:
        """``bar`` if it is thick enough and ends at an edge, looked for within the picture's span
        (so wide bars on the other axis do not hide it) and ``depth`` (up to the opposite bar), else 0."""
        return bar if bar >= MIN_BAR and _ends_at_an_edge(grays, axis, level, first, step, span, depth) else 0

    tall, wide = h - top - bottom, w - left - right
    top, bottom = edge(top, 1, top, 1, cols, tall), edge(bottom, 1, h - 1 - bottom, -1, cols, tall)
    left, right = edge(left, 0, left, 1, rows, wide), edge(right, 0, w - 1 - right, -1, rows, wide)
    if not (top or bottom or left or right):
        return None
    area = PictureArea(top, h - bottom, left, w - right, (h, w))
    if min(area.shape) < min_picture:
        return None
    return area
