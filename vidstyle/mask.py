"""Where the style goes: a matte (``--mask``) that mixes each stylized frame with the input frame.

A matte is an image (the same everywhere in time) or a video, a folder of numbered frames
included (a matte per frame, as an editor or a rotoscoping tool renders it). White paints in the
style, black keeps the input, grey mixes the two; a matte with transparency (an RGBA PNG, ProRes
4444, a WebM with alpha) is read by its alpha instead, opaque meaning styled. ``invert`` swaps
them. A moving matte is matched to the input by time on both clocks (each from its first frame,
as ``--start`` counts), so a matte rendered for the whole clip fits any ``--start``; past its
end its last frame holds.

The mix is made after the flow stabilizer, so the input's own pixels come out as they went in.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vidstyle.errors import BadTypeError, BadValueError, MissingFileError, VidstyleError

log = logging.getLogger("vidstyle")

#: How far the matte's aspect ratio may be from the frames' before it is refused rather than
#: stretched (beyond the pixel of rounding that ``same_shape`` allows the smaller of the two):
#: a 1080p matte for 1920x1088 frames is about 1% off.
ASPECT_TOLERANCE = 0.02


def matte_weights(rgb: np.ndarray, alpha: np.ndarray | None, invert: bool = False) -> np.ndarray:
    """uint8 (H, W) weights of the style, 255 where it is all style: ``alpha`` when the matte
    is read by its alpha, else the brightness of ``rgb`` (uint8 (H, W, 3)), inverted with ``invert``."""
    import cv2

    weights = alpha if alpha is not None else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return 255 - weights if invert else weights


def composite(stylized: np.ndarray, original: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): ``stylized`` where ``weights`` (uint8 (H, W)) is 255, ``original`` where it
    is 0, mixed linearly between."""
    import cv2

    from vidstyle.frames import check_image

    check_image(stylized)
    check_image(original)
    if not isinstance(weights, np.ndarray):
        raise BadTypeError(f"weights must be a uint8 (H, W) numpy array, got {type(weights).__name__}")
    if stylized.shape != original.shape or weights.shape != stylized.shape[:2]:
        raise BadValueError(f"stylized {stylized.shape}, original {original.shape} and weights {weights.shape} differ")
    if weights.dtype != np.uint8:  # float weights in [0, 1] were read as levels of 255: the original, barely mixed
        raise BadValueError(f"weights must be uint8 levels, 0 to 255, got {weights.dtype}"
                            + (" (scale weights in [0, 1] by 255 and convert to uint8)"
                               if weights.dtype.kind in "fb" else ""))
    w = weights.astype(np.float32) * np.float32(1 / 255)
    return cv2.blendLinear(stylized, original, w, 1.0 - w)


def _fitted(weights: np.ndarray, size: tuple[int, int], name: str, pixel_aspect=None) -> np.ndarray:
    """``weights`` (H', W') at the frames' ``size`` = (H, W); a VidstyleError when the shapes
    differ too much to be one picture's. With ``pixel_aspect`` (non-square pixels), a matte of the
    shape players show the frames in fits too."""
    h, w = size
    mh, mw = weights.shape
    if (mh, mw) == (h, w):
        return weights
    from vidstyle.frames import resize_frame, same_shape

    shapes = [(w, h)] + ([(w * float(pixel_aspect), h)] if pixel_aspect and pixel_aspect != 1 else [])
    if not any(same_shape((mw, mh), shape, ASPECT_TOLERANCE) for shape in shapes):
        shown = f" (shown as {round(w * float(pixel_aspect))}x{h})" if len(shapes) > 1 else ""
        raise VidstyleError(f"the mask {name} is {mw}x{mh} and the input {w}x{h}{shown}: their shapes differ, so "
                            "the mask would be stretched; give a mask of the input's shape")
    return resize_frame(weights, (w, h))


#: Seconds a moving matte's frame may come after the input frame's time and still be the one on
#: screen then: Matroska and WebM store times in whole milliseconds, so a frame at 1/24 s is at
#: 0.042 s there and 0.041667 s in an MP4 (either clock may be the rounded one).
CLOCK_TOLERANCE = 0.0011


class Matte:
    """The matte at ``path`` (an image, a video, or a folder of numbered frames at ``fps``),
    giving the style's weights for each moment (:meth:`weights_at`), sized to the frames.

    ``start``: the input's segment start (seconds on its clock), where a moving matte is sought
    to instead of decoding everything before it. Opened (and its first frame read) when made, so
    a missing or unreadable matte fails before any work; :meth:`close` it (or use it as a
    context manager).

    A moving matte with an alpha channel is read by it, unless its first frame is opaque all
    over (renders and editors often write RGBA or ProRes 4444 with the matte in the picture):
    then by brightness, as a still image with an opaque alpha is."""

    def __init__(self, path: str | Path, invert: bool = False, fps=None, start: float | None = None,
                 downscale: int | None = None):
        from vidstyle.config import check_flag, check_segment
        from vidstyle.io.files import check_not_standard_input
        from vidstyle.io.images import check_still, is_image_path, read_image_and_alpha

        # checked as StylizeConfig's invert_mask and start are: "no" inverted the matte, and a
        # start of "1" was a TypeError from the seek's arithmetic
        invert = check_flag("invert", invert)
        check_segment(start, None)
        check_not_standard_input(path)
        self.path = Path(path)
        if not self.path.exists():
            raise MissingFileError(f"mask not found: {self.path}")
        self.invert = invert
        self.held_from: float | None = None  # where a moving matte ended and its last frame held
        self.by_alpha = False  # read by its alpha channel (a moving matte; a still's alpha_of decides)
        self._pixel_aspect = None  # the frames' (check_fits), for a matte of the shape they are shown in
        self._decoder = None
        self._closed = False
        self._scaled_said = False  # a moving matte's change of size (_check_scaled)
        self._sized: dict[tuple[int, int], np.ndarray] = {}  # the still matte at each frame size
        self._blend: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # ... as (w, 1 - w) floats
        if is_image_path(self.path):
            try:  # an animated PNG/WebP would be only its first frame
                check_still(self.path, advice="a mask is one image, or a video file, GIF or folder of frames "
                                              "for one that moves")
            except VidstyleError as exc:  # (said as the input's would be, it never said it was the mask)
                raise VidstyleError(f"the mask {exc}") from None
            try:
                rgb, alpha = read_image_and_alpha(self.path)
            except VidstyleError as exc:
                raise VidstyleError(f"cannot read the mask: {exc}") from None
            self._current = matte_weights(rgb, alpha, invert)
            return
        from vidstyle.io.decode import VideoDecoder

        def opened(at):
            return VideoDecoder(self.path, at, announce=False, fps=fps, downscale=downscale).__enter__()

        try:
            self._decoder = opened(None)
        except VidstyleError as exc:
            raise VidstyleError(f"cannot read the mask: {exc}") from None
        self._frames = self._counting(self._decoder.read(alpha=True))
        first = next(self._frames)
        # the file's first frame decides, whatever the segment: one matte, one reading
        self.by_alpha = first.alpha is not None and int(first.alpha.min()) < 255
        if start:
            # A decoder sought to ``start`` begins at the first frame at or after it, but the
            # matte's frame on screen at ``start`` is the last one that begins at or before it (a
            # matte of a lower rate than the input's, or one held for seconds): seek earlier, by a
            # frame and then twice as far each time, until that frame is in (weights_at reads on
            # from there); back at the file's start, the decoder opened there reads it all. A frame
            # earlier from the first: a start between two frames (most, at 24000/1001 frames/s) of
            # a matte of the input's rate then seeks once, not twice (a GOP decoded each time)
            step, read = 1 / float(self._decoder.info.frame_rate or 24), self._read
            at = max(0.0, start - step)
            while at > 0:
                try:
                    sought = opened(at)
                except VidstyleError:  # the matte ends before the segment starts: read on to its last frame, held
                    break
                frames = self._counting(sought.read(alpha=True))
                head = next(frames, None)
                if head is not None and float(head.time + sought.clock_offset) <= start + CLOCK_TOLERANCE:
                    self._decoder.__exit__(None, None, None)
                    self._decoder, self._frames, first = sought, frames, head
                    break
                frames.close()
                sought.__exit__(None, None, None)
                self._read = read  # (counted by the decoder kept)
                step *= 2
                at = max(0.0, start - step)
        self._offset = self._decoder.clock_offset
        self._current = self._weights(first)
        self._next = next(self._frames, None)
        if self._next is None:
            self._held(first)

    def _counting(self, frames):
        """``frames`` (a decoder's), counted in ``_read``: how far its reading got (:meth:`cut_short`)."""
        self._read = 0
        for frame in frames:
            self._read += 1
            yield frame

    def cut_short(self) -> str:
        """When a moving matte ended well before its file says it runs (truncated or damaged at
        its end, which no damaged packet tells), the decoder's words for it; else ""."""
        if self._decoder is None or self._next is not None:
            return ""
        return self._decoder.shortfall(self._read) or ""

    def _weights(self, frame) -> np.ndarray:
        if frame.scaled_from is not None:
            self._check_scaled(frame)
        return matte_weights(frame.image, frame.alpha if self.by_alpha else None, self.invert)

    def _check_scaled(self, frame) -> None:
        """A moving matte whose frames change size part-way (mattes of two resolutions joined),
        which the decoder scales to its first frame's size: refused where the shape changes too
        (stretched, the matte would no longer lie over the picture it was drawn for), else said
        once, as the input's own change of size is. Was stretched without a word."""
        from vidstyle.frames import same_shape

        first, size = self._decoder.stored_size, frame.scaled_from
        at = float(frame.time + self._decoder.clock_offset)
        if not same_shape(size, first, ASPECT_TOLERANCE):
            raise VidstyleError(f"the mask {self.path.name} changes shape at {at:.2f} s, from {first[0]}x{first[1]} "
                                f"to {size[0]}x{size[1]}: its frames from there would be stretched; give a mask of "
                                "one shape")
        if not self._scaled_said:
            self._scaled_said = True
            log.warning("the mask %s changes size mid-stream, from %dx%d to %dx%d at %.2f s: its frames of another "
                        "size are scaled to %dx%d", self.path.name, *first, *size, at, *first)

    def _held(self, last) -> None:
        self.held_from = float(last.time + self._offset) + float(last.duration * last.time_base or 0)

    @property
    def moving(self) -> bool:
        return self._decoder is not None

    def check_fits(self, size: tuple[int, int], pixel_aspect=None) -> None:
        """A VidstyleError now, before any frame, when the matte's shape is not that of frames of
        ``size`` = (H, W) (whose pixels are ``pixel_aspect`` wide, when not square)."""
        _fitted(self._current, size, self.path.name, pixel_aspect)
        self._pixel_aspect = pixel_aspect

    def damaged(self) -> str:
        """A moving matte's damaged packets, as the input's are said ("" when none)."""
        return self._decoder.damaged() if self._decoder is not None else ""

    def weights_at(self, t: float, size: tuple[int, int]) -> np.ndarray:
        """uint8 (H, W) weights of the style at ``t`` seconds on the input's clock, for frames of
        ``size`` = (H, W). Call with times in order: a moving matte is read forwards."""
        aspect = self._pixel_aspect
        if not self.moving:
            if size not in self._sized:
                self._sized[size] = _fitted(self._current, size, self.path.name, aspect)
            return self._sized[size]
        if self._closed:  # its reading stopped: the frame then would be held, and the file said to be cut short
            raise BadValueError(f"the mask {self.path.name} is closed: open a new Matte to read it again")
        while self._next is not None and float(self._next.time + self._offset) <= t + CLOCK_TOLERANCE:
            frame = self._next
            self._current = self._weights(frame)
            self._next = next(self._frames, None)
            if self._next is None:
                self._held(frame)
        return _fitted(self._current, size, self.path.name, aspect)

    def apply(self, stylized: np.ndarray, original: np.ndarray, t: float) -> np.ndarray:
        """``stylized`` mixed with ``original`` (uint8 (H, W, 3) each) by the matte at ``t``."""
        import cv2

        size = stylized.shape[:2]
        weights = self.weights_at(t, size)
        if self.moving:
            return composite(stylized, original, weights)
        if size not in self._blend:  # a still matte's float weights, made once
            w = weights.astype(np.float32) * np.float32(1 / 255)
            self._blend[size] = (w, 1.0 - w)
        w, rest = self._blend[size]
        if original.shape != stylized.shape:
            raise BadValueError(f"stylized {stylized.shape} and original {original.shape} differ")
        return cv2.blendLinear(stylized, original, w, rest)

    def ended_before(self, t: float) -> bool:
        """Whether a moving matte ran out before ``t`` (its last frame held for the frames after)."""
        return self.held_from is not None and t > self.held_from + 1e-6

    def close(self) -> None:
        """Close a moving matte's file (what :meth:`damaged` says stays); its weights are then no
        longer read (a BadValueError, as Python's closed files raise ValueError). A still matte
        holds no file and goes on giving its weights."""
        if self._decoder is not None and not self._closed:
            self._closed = True
            self._decoder.__exit__(None, None, None)

    def __enter__(self) -> "Matte":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
