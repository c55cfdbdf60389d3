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

from vidstyle.errors import VidstyleError

log = logging.getLogger("vidstyle")

#: How far the matte's aspect ratio may be from the frames' before it is refused rather than
#: stretched: rounding to even sizes (a 1080p matte for 1920x1088 frames) moves it about 1%.
ASPECT_TOLERANCE = 0.02


def matte_weights(rgb: np.ndarray, alpha: np.ndarray | None, invert: bool = False) -> np.ndarray:
    """uint8 (H, W) weights of the style, 255 where it is all style: ``alpha`` when the matte
    has one, else the brightness of ``rgb`` (uint8 (H, W, 3)), inverted with ``invert``."""
    import cv2

    weights = alpha if alpha is not None else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return 255 - weights if invert else weights


def composite(stylized: np.ndarray, original: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): ``stylized`` where ``weights`` (uint8 (H, W)) is 255, ``original`` where it
    is 0, mixed linearly between."""
    import cv2

    if stylized.shape != original.shape or weights.shape != stylized.shape[:2]:
        raise ValueError(f"stylized {stylized.shape}, original {original.shape} and weights {weights.shape} differ")
    w = weights.astype(np.float32) * np.float32(1 / 255)
    return cv2.blendLinear(stylized, original, w, 1.0 - w)


def _fitted(weights: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    """``weights`` (H', W') at the frames' ``size`` = (H, W); a VidstyleError when the shapes
    differ too much to be one picture's."""
    import cv2

    h, w = size
    mh, mw = weights.shape
    if (mh, mw) == (h, w):
        return weights
    if abs((mw / mh) / (w / h) - 1) > ASPECT_TOLERANCE:
        raise VidstyleError(f"the mask {name} is {mw}x{mh} and the video {w}x{h}: their shapes differ, so the mask "
                            "would be stretched; give a mask of the video's shape")
    return cv2.resize(weights, (w, h), interpolation=cv2.INTER_AREA if mw > w else cv2.INTER_LINEAR)


class Matte:
    """The matte at ``path`` (an image, a video, or a folder of numbered frames at ``fps``),
    giving the style's weights for each moment (:meth:`weights_at`), sized to the frames.

    Opened (and its first frame read) when made, so a missing or unreadable matte fails before
    any work; :meth:`close` it (or use it as a context manager)."""

    def __init__(self, path: str | Path, invert: bool = False, fps=None):
        from vidstyle.io.files import check_input
        from vidstyle.io.images import is_image_path, read_image_and_alpha

        self.path = check_input(path, folders=True)
        self.invert = invert
        self.held_from: float | None = None  # where a moving matte ended and its last frame held
        self._decoder = None
        self._sized: dict[tuple[int, int], np.ndarray] = {}  # the still matte at each frame size
        if is_image_path(self.path):
            rgb, alpha = read_image_and_alpha(self.path)
            self._current = matte_weights(rgb, alpha, invert)
            return
        from vidstyle.io.decode import VideoDecoder

        try:
            self._decoder = VideoDecoder(self.path, announce=False, fps=fps).__enter__()
        except VidstyleError as exc:
            raise VidstyleError(f"cannot read the mask: {exc}") from None
        self._offset = self._decoder.clock_offset
        self._frames = (f for f in self._decoder.read(alpha=True))
        first = next(self._frames)
        self._current = matte_weights(first.image, first.alpha, invert)
        self._next = next(self._frames, None)

    @property
    def moving(self) -> bool:
        return self._decoder is not None

    def check_fits(self, size: tuple[int, int]) -> None:
        """A VidstyleError now, before any frame, when the matte's shape is not that of frames of
        ``size`` = (H, W)."""
        _fitted(self._current, size, self.path.name)

    def weights_at(self, t: float, size: tuple[int, int]) -> np.ndarray:
        """uint8 (H, W) weights of the style at ``t`` seconds on the input's clock, for frames of
        ``size`` = (H, W). Call with times in order: a moving matte is read forwards."""
        if not self.moving:
            if size not in self._sized:
                self._sized[size] = _fitted(self._current, size, self.path.name)
            return self._sized[size]
        while self._next is not None and float(self._next.time + self._offset) <= t + 1e-6:
            frame = self._next
            self._current = matte_weights(frame.image, frame.alpha, self.invert)
            self._next = next(self._frames, None)
            if self._next is None:
                self.held_from = float(frame.time + self._offset) + float(frame.duration * frame.time_base or 0)
        return _fitted(self._current, size, self.path.name)

    def apply(self, stylized: np.ndarray, original: np.ndarray, t: float) -> np.ndarray:
        """``stylized`` mixed with ``original`` (uint8 (H, W, 3) each) by the matte at ``t``."""
        return composite(stylized, original, self.weights_at(t, stylized.shape[:2]))

    def ended_before(self, t: float) -> bool:
        """Whether a moving matte ran out before ``t`` (its last frame held for the frames after)."""
        return self.held_from is not None and t > self.held_from + 1e-6

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.__exit__(None, None, None)
            self._decoder = None

    def __enter__(self) -> "Matte":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
