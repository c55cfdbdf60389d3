"""GIF's container, as vidstyle reads and writes it: the palette kept from frame to frame
(:class:`GifPalette`) and each frame's graphic control extension (disposal, transparent entry),
read by the decoder and rewritten in the encoder's packets."""
from __future__ import annotations

import av
import numpy as np


def gif_control_extension(data) -> int | None:
    """Where the graphic control extension of the GIF frame in packet ``data`` (a buffer: FFmpeg's
    GIF demuxer's or encoder's, the file's header and global palette before it in the first)
    begins, None where it has none: 4 bytes after it, flags (disposal in bits 2-4, 1 where a
    palette entry is transparent), delay and that entry."""
    at = 0
    if bytes(data[:3]) == b"GIF":  # the header, and its global palette
        at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while at + 8 < len(data) and data[at] == 0x21:  # extensions, up to the frame's own
        if data[at + 1] == 0xF9 and data[at + 2] == 4:
            return at
        at += 2
        while at < len(data) and data[at]:  # its sub-blocks
            at += data[at] + 1
        at += 1
    return None


def _disposal(packet: av.Packet) -> tuple[int, bool]:
    """The GIF frame in ``packet``'s disposal method (0 none given, 1 left, 2 cleared to the
    background, 3 restored to what was before it) and whether it names a transparent entry,
    from its graphic control block; (0, False) where it has none."""
    data = memoryview(packet)
    at = gif_control_extension(data)
    return (0, False) if at is None else ((data[at + 3] >> 2) & 7, bool(data[at + 3] & 1))


def clears_to_transparency(packet: av.Packet) -> bool:
    """Whether the GIF frame in ``packet`` leaves transparency where it was once shown: cleared
    to the background (disposal 2) with a transparent entry named, which FFmpeg then clears to
    (else to the background's colour, opaque). Restored to what was before it (3), it leaves
    what was there, opaque on a canvas opaque so far."""
    return _disposal(packet) == (2, True)


def restores_what_was_before(packet: av.Packet) -> bool:
    """Whether the GIF frame in ``packet`` is restored to what was before it once shown (disposal 3)."""
    return _disposal(packet)[0] == 3


class GifPalette:
    """GIF holds 256 colours a frame. A palette is kept from frame to frame (each frame's own would
    make colours shimmer): an octree over the first :attr:`PALETTE_FRAMES` frames (held until
    then), and every frame dithered to it (Floyd-Steinberg), so gradients keep their steps fine.
    A pixel whose colour moved by less than :attr:`STILL_LEVELS` since its palette index was chosen
    keeps that index: error diffusion is not stable from frame to frame (a change anywhere re-arranges
    the dots of every pixel after it), so a still background twinkled around anything that moved,
    and FFmpeg's encoder, which writes only what changed, wrote it all again.
    A frame the palette no longer fits gets a palette of its own, kept in turn for the frames
    after it (GIF's local colour tables): a scene cut or a fade from black (its mean error without
    dithering above :attr:`REFIT_ERROR` and twice the palette's own), or a small object in new
    colours coming in (more than :attr:`FAR_SHARE` of its pixels, and 4 times the palette's own
    share, :attr:`FAR_ERROR` or more from every colour of the palette).

    ``transparent``: the input has transparency, which GIF holds as one palette entry, all or
    nothing: the last (:attr:`TRANSPARENT`), with FFmpeg's GIF encoder told so by its alpha of 0
    in every palette; a pixel less than half opaque takes it, and the other 255 colours are made
    from the opaque pixels only (what lies under the transparency is never seen).

    :meth:`add` and :meth:`flush` give (pal8 frame, pts, duration) ready to encode."""

    PALETTE_FRAMES = 8
    REFIT_ERROR = 6.0  # mean absolute error per channel, 0-255, before dithering
    FAR_ERROR = 40  # a pixel's largest channel error for "a colour the palette lacks"
    FAR_SHARE = 0.001  # (an orange figure walking into a blue and green stylized scene: 0.3%)
    #: a pixel's largest channel change (0-255, exclusive) since its index was chosen, under which
    #: it keeps it: H.264's noise and a network's flicker on a still background are a few levels
    STILL_LEVELS = 4
    TRANSPARENT = 255

    def __init__(self, transparent: bool = False):
        self.transparent = transparent
        self.soft_edges = False  # a frame had alpha between 0 and 255, which GIF rounds (the caller says so)
        # (image, opaque mask or None, pts, duration)
        self._held: list[tuple[np.ndarray, np.ndarray | None, int, int]] = []
        self._palette = None  # a Pillow "P" image holding it
        self._argb: np.ndarray | None = None  # (256, 4) uint8, as PyAV takes a pal8 frame's palette
        self._first: np.ndarray | None = None  # the first palette's _argb (the file's global palette)
        self._fit = (0.0, 0.0)  # the palette's (mean error, share far) on the frames it was made from
        # the last frame's palette indices (the transparency not yet applied) and, for each pixel,
        # the colour its index was chosen for; None after a new palette (the indices mean nothing)
        self._shown: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, image: np.ndarray, pts: int, duration: int,
            alpha: np.ndarray | None = None) -> list[tuple[av.VideoFrame, int, int]]:
        """``alpha``: the frame's uint8 (H, W) transparency (with ``transparent``; None: opaque)."""
        opaque = None
        if self.transparent and alpha is not None:
            opaque = alpha >= 128
            self.soft_edges = self.soft_edges or bool(((alpha > 0) & (alpha < 255)).any())
        self._held.append((image, opaque, pts, duration))
        if self._palette is None and len(self._held) < self.PALETTE_FRAMES:
            return []
        return self.flush(keep_last=True)

    def flush(self, keep_last: bool = False) -> list[tuple[av.VideoFrame, int, int]]:
        """The frames held, ready to encode; ``keep_last``: all but the latest, which
        :meth:`last_lasts_until` may still lengthen (the last frame's own duration is what the
        GIF muxer gives it; the others last until the next)."""
        if not self._held:
            return []
        if self._palette is None:
            self._make_palette([(image, opaque) for image, opaque, _, _ in self._held])
        kept = self._held[-1:] if keep_last else []
        out = []
        for image, opaque, pts, duration in self._held[:len(self._held) - len(kept)]:
            mean, far = self._error(image, opaque)
            if mean > max(self.REFIT_ERROR, 2 * self._fit[0]) or far > max(self.FAR_SHARE, 4 * self._fit[1]):
                self._make_palette([(image, opaque)])
            out.append((self._frame(image, opaque), pts, duration))
        self._held = kept
        return out

    def last_lasts_until(self, end: int) -> None:
        """The latest frame held lasts until ``end`` (pts): the frames after it were left out
        (closer than GIF can time), and the clip's end must not move earlier with them."""
        if self._held and self._held[-1][3]:  # (a duration of 0: unknown, left to the muxer)
            image, opaque, pts, duration = self._held[-1]
            self._held[-1] = (image, opaque, pts, max(duration, end - pts))

    @staticmethod
    def _thumbnail(image: np.ndarray, pixels: float) -> np.ndarray:
        step = max(1, round((image.shape[0] * image.shape[1] / pixels) ** 0.5))
        return image[::step, ::step]

    def _seen(self, image: np.ndarray, opaque: np.ndarray | None, pixels: float) -> np.ndarray:
        """A thumbnail of ``image`` of about ``pixels``: its opaque pixels only, as a (N, 1, 3)
        column, empty for a wholly transparent frame (nothing of it is seen)."""
        small = self._thumbnail(image, pixels)
        if opaque is None:
            return np.ascontiguousarray(small)
        return np.ascontiguousarray(small[self._thumbnail(opaque, pixels)].reshape(-1, 1, 3))

    def _error(self, image: np.ndarray, opaque: np.ndarray | None = None) -> tuple[float, float]:
        """(mean absolute error, share of pixels :attr:`FAR_ERROR` or more off) of ``image`` (a
        25 000-pixel thumbnail, its opaque pixels) in the palette, undithered."""
        from PIL import Image

        small = self._seen(image, opaque, 2.5e4)
        if not small.size:
            # wholly transparent: any palette draws it. (Judged by one pixel of what lies under
            # the transparency, it had a palette made around that pixel, and the frame after it
            # one of its own again: palettes written for nothing, and the file larger)
            return 0.0, 0.0
        mapped = Image.fromarray(small).quantize(palette=self._palette, dither=Image.Dither.NONE).convert("RGB")
        error = np.abs(np.asarray(mapped, np.int16) - small)
        return float(error.mean()), float((error.max(axis=-1) >= self.FAR_ERROR).mean())

    def _make_palette(self, images: list[tuple[np.ndarray, np.ndarray | None]]) -> None:
        from PIL import Image

        seen = [self._seen(image, opaque, 1e5) for image, opaque in images]  # ~0.1 MP a frame
        seen = [s for s in seen if s.size] or [np.zeros((1, 1, 3), np.uint8)]  # (all transparent: any)
        mosaic = np.concatenate(seen if all(s.shape[1] == seen[0].shape[1] for s in seen)
                                else [s.reshape(-1, 1, 3) for s in seen], axis=0)
        # octree: as close as median cut here (mean error 4.0 against 4.0 on stylized 640x360
        # frames), in 4 ms instead of 150, which a live recording would feel
        colours = 255 if self.transparent else 256
        self._palette = Image.fromarray(mosaic).quantize(colours, method=Image.Quantize.FASTOCTREE)
        rgb = np.zeros((256, 3), np.uint8)
        made = np.asarray(self._palette.getpalette()[:3 * colours], np.uint8).reshape(-1, 3)
        rgb[:len(made)] = made
        argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
        if self.transparent:
            argb[self.TRANSPARENT] = 0  # FFmpeg takes the entry of least alpha (below 128) as GIF's transparent one
        if self._first is None:
            self._first = argb
        elif np.array_equal(argb, self._first):
            # FFmpeg's GIF encoder takes a frame in its first palette as a change from the frame
            # before it, index by index (the pixels whose index is the same are left transparent,
            # showing that frame), even when that frame had a palette of its own: after a flash, the
            # flash showed through. One alpha byte (not written: GIF palettes are RGB) makes a
            # palette made again the same as the first a palette of its own
            argb[0 if self.transparent else -1, 0] = 254
        self._argb = argb
        self._shown = None
        errors = [self._error(image, opaque) for image, opaque in images]
        self._fit = (max(e[0] for e in errors), max(e[1] for e in errors))

    def _frame(self, image: np.ndarray, opaque: np.ndarray | None = None) -> av.VideoFrame:
        from PIL import Image

        indices = np.asarray(Image.fromarray(image).quantize(palette=self._palette, dither=Image.Dither.FLOYDSTEINBERG))
        indices, chosen_for = self._kept_where_still(image, indices)
        self._shown = (indices, chosen_for)
        if opaque is not None:
            indices = np.where(opaque, indices, np.uint8(self.TRANSPARENT))
        return av.VideoFrame.from_ndarray((np.ascontiguousarray(indices), self._argb), format="pal8")

    def _kept_where_still(self, image: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``indices`` (``image`` dithered afresh) with the last frame's index kept for each pixel
        less than :attr:`STILL_LEVELS` (every channel) from the colour that index was chosen for (not
        from the last frame's: a slow fade would keep it for ever), and the colour each index is now
        chosen for."""
        import cv2

        image = np.ascontiguousarray(image)
        if self._shown is None or self._shown[0].shape != indices.shape:
            return indices, image.copy()
        shown, chosen_for = self._shown
        # OpenCV's: 0.4 ms a 640x360 frame, against 9.7 for NumPy's max over the channels and where
        still = cv2.inRange(cv2.absdiff(image, chosen_for), (0, 0, 0), (self.STILL_LEVELS - 1,) * 3)
        kept, now_chosen_for = indices.copy(), image.copy()
        cv2.copyTo(shown, still, kept)
        cv2.copyTo(chosen_for, still, now_chosen_for)
        return kept, now_chosen_for


def cleared_after_shown(packet: av.Packet) -> None:
    """Make the GIF frame in ``packet`` (from FFmpeg's GIF encoder, of :class:`GifPalette`'s
    transparent frames) one that is cleared to transparency once shown, so the next frame is
    drawn on a transparent canvas. FFmpeg clears only after a frame with transparent pixels and
    leaves an opaque one in place: the transparent pixels of a frame after it showed it through.
    Clearing is "restore to background" (disposal 2), which readers that follow the letter of the
    format (FFmpeg, Pillow) fill with the background colour unless the frame names a transparent
    one: an opaque frame in the file's palette (FFmpeg names none for it) names the palette's
    transparent entry, which none of its pixels use. Both are in the frame's graphic control
    extension, after the file's header in the first packet (found as FFmpeg's GIF muxer finds it)."""
    data = memoryview(packet)
    at = gif_control_extension(data)
    if at is None:
        return
    flags = (data[at + 3] & ~0x1C) | (2 << 2)
    image = at + 8  # the image descriptor after it: its flags say whether it has a palette of its own
    if not flags & 1 and image + 9 < len(data) and data[image] == 0x2C and not data[image + 9] & 0x80:
        flags |= 1
        data[at + 6] = GifPalette.TRANSPARENT
    data[at + 3] = flags
