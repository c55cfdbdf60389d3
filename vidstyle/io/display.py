"""What players show: a decoded frame's stored pixels as display-oriented RGB.

:class:`DisplayConversion`, settled from a file's first frame, takes each frame through its
colour matrix (8-bit YUV exactly, 10- and 12-bit at 16 bits and dithered to 8 once, HDR
tone-mapped), the turn and mirror of its display matrix, and a downscale when asked. Decoding
(:mod:`vidstyle.io.decode`), live's file source and image sequences share it; encoding takes the
inverse matrix from here (:func:`rgb_to_yuv_matrix`), so a frame written back has the levels it
was read with.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.sidedata.sidedata import Type as _SideDataType
from av.video.reformatter import Interpolation

from vidstyle.config import check_hdr_mode
from vidstyle.errors import BadValueError
from vidstyle.io.hdr import HDR_TRANSFERS, ToneMapper

log = logging.getLogger("vidstyle")

_DISPLAYMATRIX = _SideDataType.DISPLAYMATRIX


def _rotate(image: np.ndarray, rotation: int, mirrored: bool = False) -> np.ndarray:
    """Rotate (H, W, C) pixels by ``rotation`` degrees counter-clockwise (multiples of 90), then
    mirror them left to right if ``mirrored`` (see :func:`display_transform`)."""
    k = round(rotation / 90) % 4
    if k:
        image = np.rot90(image, k)
    if mirrored:
        image = image[:, ::-1]
    return np.ascontiguousarray(image) if k or mirrored else image


#: Codecs of still pictures (image sequences, PNG or Motion JPEG in a container): FFmpeg 8 gives
#: their frames side data that PyAV 18 cannot open safely (see :func:`display_transform`).
IMAGE_CODECS = {"png", "apng", "mjpeg", "jpegls", "tiff", "webp", "bmp", "jpeg2000", "qoi", "ppm", "pgm", "gif"}


def display_transform(frame: av.VideoFrame, image_codec: bool = False) -> tuple[int, bool]:
    """(rotation in degrees counter-clockwise, mirrored) that turn ``frame`` the way its display
    matrix says.

    FFmpeg's rotation getter reads a mirrored matrix as a rotation (a left-right mirror comes out
    as -180 degrees, i.e. upside down). A matrix with a negative determinant is a mirror: FFmpeg's
    ``av_display_matrix_flip`` negates its first column (a mirror of the displayed x axis after the
    rotation), so undoing that gives the rotation, applied before the mirror.
    """
    rotation = int(frame.rotation or 0)  # read in C; 0 without a display matrix
    if rotation == 0 and image_codec:
        # A frame of a still-picture codec (``image_codec``) with no turn: its side data is not
        # opened. Opening it wraps every entry in Python, and PyAV 18 fails on entries FFmpeg 8
        # gives image frames: EXIF (TIFF, camera JPEGs: "31 is not a valid Type") and, for PNG
        # frames with an ICC profile, a crash (SIGSEGV) when the wrappers are collected. The
        # price: a vertical flip (180 degrees and a mirror, which reads as no turn) in the display
        # matrix of an MJPEG or PNG video file is not applied; other codecs' frames are read in
        # full. (Image sequences take their turn from EXIF instead, see DisplayConversion.of.)
        return 0, False
    try:
        matrix = frame.side_data.get(_DISPLAYMATRIX)
    except ValueError:  # an entry PyAV cannot name: keep the turn, which it read without them
        return rotation, False
    if matrix is None:
        return rotation, False
    a, b, _, c, d = np.frombuffer(bytes(matrix), dtype="<i4")[:5].astype(float)
    if a * d - b * c == 0:
        # a matrix of zeros (an edited or broken file) maps the picture to nothing: no turn to
        # take from it. FFmpeg's rotation of it is NaN, which came through C as -2147483648
        # degrees and turned the picture by 270
        return 0, False
    if a * d - b * c > 0:
        return rotation, False
    return round(-math.degrees(math.atan2(b, -a))), True


# AVCOL_SPC_* (a frame's colour matrix tag) -> the swscale constant (SWS_CS_*) converting with it
SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}

# SWS_CS_* -> (Kr, Kb), the luma weights of red and blue that define each matrix
_LUMA_WEIGHTS = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 7: (0.212, 0.087), 9: (0.2627, 0.0593)}
# swscale's flags for 8-bit RGB at the right levels (see exact_rgb) when it scales too; not for
# 16-bit RGB (the HDR path), whose channels they mixed up (PyAV 18, FFmpeg 8)
EXACT_SCALING = Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
# 8-bit YUV formats with subsampled chroma, which exact_rgb converts itself
_SUBSAMPLED_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuva420p", "yuva422p"}


@functools.lru_cache(maxsize=None)
def _yuv_to_rgb(sws_matrix: int, full_range: bool) -> np.ndarray:
    """The 3x4 affine matrix taking 8-bit (Y, Cb, Cr) to (R, G, B) with matrix ``sws_matrix``
    (SWS_CS_*), limited range (Y 16-235, chroma 16-240) unless ``full_range``."""
    kr, kb = _LUMA_WEIGHTS[sws_matrix]
    kg = 1 - kr - kb
    luma, offset, chroma = (1.0, 0.0, 1.0) if full_range else (255 / 219, 16.0, 255 / 224)
    m = np.array([[luma, 0.0, 2 * (1 - kr) * chroma],
                  [luma, -2 * (1 - kb) * kb / kg * chroma, -2 * (1 - kr) * kr / kg * chroma],
                  [luma, 2 * (1 - kb) * chroma, 0.0]])
    return np.hstack([m, -(m @ np.array([offset, 128.0, 128.0]))[:, None]])


@functools.lru_cache(maxsize=None)
def rgb_to_yuv_matrix(sws_matrix: int, full_range: bool = False) -> np.ndarray:
    """The float32 3x4 affine matrix taking (R, G, B) in 0-255 to 8-bit (Y, Cb, Cr) with matrix
    ``sws_matrix``: the inverse of :func:`_yuv_to_rgb`'s, so encoding undoes decoding."""
    if sws_matrix not in _LUMA_WEIGHTS or isinstance(sws_matrix, bool):
        raise BadValueError(f"unknown YUV matrix {sws_matrix!r} (SWS_CS_*: {', '.join(map(str, sorted(_LUMA_WEIGHTS)))})")
    m = _yuv_to_rgb(sws_matrix, full_range)
    inverse = np.linalg.inv(m[:, :3])
    return np.hstack([inverse, -(inverse @ m[:, 3])[:, None]]).astype(np.float32)


def _full_size_chroma(chroma_planes, height: int, width: int) -> list[np.ndarray]:
    """Subsampled chroma planes at the frame's full ``height`` x ``width``, each sample repeated
    over its 2 or 4 pixels (as swscale's default does): pixel x takes sample x // 2, an exact
    doubling, then the odd size's extra column/row cut off. For :func:`exact_rgb` and
    :func:`exact_rgb48`."""
    import cv2

    out = []
    for chroma in chroma_planes:
        rows, cols = chroma.shape
        doubled = cv2.resize(chroma, (cols * (2 if cols < width else 1), rows * (2 if rows < height else 1)),
                             interpolation=cv2.INTER_NEAREST)
        out.append(doubled[:height, :width])
    return out


def exact_rgb(frame: av.VideoFrame, sws_matrix: int, alpha: bool = False) -> np.ndarray | None:
    """``frame`` as uint8 (H, W, 3) RGB (RGBA with ``alpha``) converted with ``sws_matrix``, for
    8-bit 4:2:0 and 4:2:2 frames (:data:`_SUBSAMPLED_YUV`); None for others. An odd width or
    height has a last chroma sample of its own for its last column or row (VP9, AV1 and FFV1
    store odd sizes; H.264's 4:2:0 does not).

    swscale's conversion of such frames to RGB is biased: colours came out 1-2 levels dark (a
    flat (201, 60, 30) as (200, 58, 29); bikes.mp4 1.2, 1.7 and 1.2 levels dark in R, G and B),
    so the network, the stabilizer and a mask's kept parts saw a darker video than players
    show. Its exact mode (ACCURATE_RND | FULL_CHR_H_INT) interpolates the chroma instead, which
    bleeds colour into the edge row of a black bar. Here each pixel takes its chroma sample as
    swscale's default does, and the matrix is applied at once (OpenCV's fixed-point transform:
    within 0.66 of a level of the float result, unbiased). On the development clips swscale was
    0.6-1.6 levels dark per channel on average, this is within 0.08; it costs 0.2-0.3 ms a
    640x360 frame and 1.9-2.7 ms a 1080p one on 2 EPYC cores, against swscale's 0.1 and 0.5-0.7
    (benchmarks/decode_levels.py, RESULTS.md). 4:4:4, which swscale converts exactly, stays
    there."""
    if frame.format.name not in _SUBSAMPLED_YUV:
        return None
    import cv2  # here: decoding alone does not need OpenCV

    width, height = frame.width, frame.height
    planes = [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width] for p in frame.planes]

    full_range = frame.format.name.startswith("yuvj") or int(frame.color_range) == 2  # AVCOL_RANGE_JPEG
    rgb = cv2.transform(cv2.merge([planes[0], *_full_size_chroma(planes[1:3], height, width)]),
                        _yuv_to_rgb(sws_matrix, full_range))
    if not alpha:
        return rgb
    opacity = planes[3] if len(planes) > 3 else np.full((height, width), 255, np.uint8)
    return np.dstack([rgb, opacity])


#: 10- and 12-bit YUV formats (HDR video, 4:4:4 masters), which exact_rgb48 converts itself
_DEEP_YUV = {"yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv422p12le", "yuv444p12le"}


def exact_rgb48(frame: av.VideoFrame, sws_matrix: int, white: int = 65535) -> np.ndarray | None:
    """``frame`` as uint16 (H, W, 3) RGB, for 10- and 12-bit 4:2:0, 4:2:2 and 4:4:4 frames
    (:data:`_DEEP_YUV`: the HDR path); None for others. swscale's conversion of subsampled ones
    to rgb48 carries the bias :func:`exact_rgb` avoids in 8 bits: about 2 codes of 10 bits dark
    (1.2 at PQ's 26 cd/m2 grey, 2.1 at 1000), which after PQ's steep curve put tone-mapped SDR
    greys and skin 1-2 levels of 255 dark. Here each pixel takes its chroma sample (as
    :func:`exact_rgb` does; 4:4:4 has one a pixel) and the matrix is applied in float32.
    ``white``: the value of RGB white (255 * 64 gives 8-bit levels with 6 bits of fraction, for
    :func:`dithered_rgb`, which 4:4:4 needs as much: swscale takes it to 8 bits undithered)."""
    if frame.format.name not in _DEEP_YUV:
        return None
    import cv2

    width, height = frame.width, frame.height
    planes = [np.frombuffer(p, np.uint16).reshape(p.height, p.line_size // 2)[:, :p.width] for p in frame.planes]

    full_range = int(frame.color_range) == 2  # AVCOL_RANGE_JPEG
    bits = component_bits(frame.format.name)
    # the 8-bit matrix on codes scaled to 8-bit units: limited range is 8-bit's times 2 ** (bits - 8)
    # (BT.2100), full range 0 to 2 ** bits - 1 with chroma centred at 2 ** (bits - 1)
    unit = 255 / ((1 << bits) - 1) if full_range else 1 / (1 << (bits - 8))
    matrix = _yuv_to_rgb(sws_matrix, full_range)
    offset = matrix[:, 3] + (matrix[:, 1:3].sum(axis=1) * (128 - (1 << (bits - 1)) * unit) if full_range else 0)
    affine = np.hstack([matrix[:, :3] * unit, offset[:, None]]) * (white / 255)  # 0-255 -> 0-white
    # OpenCV's transform of uint16 rounds and saturates the float result: one pass
    return cv2.transform(cv2.merge([planes[0], *_full_size_chroma(planes[1:3], height, width)]), affine)


#: an 8x8 ordered (Bayer) dither's thresholds, 0-63: the same at every frame, so a still picture
#: does not shimmer, and each 8x8 tile averages to the level between whole ones it stands for
_BAYER = np.array([[0, 32, 8, 40, 2, 34, 10, 42], [48, 16, 56, 24, 50, 18, 58, 26],
                   [12, 44, 4, 36, 14, 46, 6, 38], [60, 28, 52, 20, 62, 30, 54, 22],
                   [3, 35, 11, 43, 1, 33, 9, 41], [51, 19, 59, 27, 49, 17, 57, 25],
                   [15, 47, 7, 39, 13, 45, 5, 37], [63, 31, 55, 23, 61, 29, 53, 21]], np.uint16)


@functools.lru_cache(maxsize=1)
def _dither_thresholds(height: int, width: int) -> np.ndarray:
    """:data:`_BAYER` tiled over (height, width, 3): OpenCV adds arrays of one shape 5x faster
    than NumPy broadcasts (12 MB at 1080p, kept for the frames that follow)."""
    tile = np.repeat(_BAYER[..., None], 3, axis=2)
    return np.ascontiguousarray(np.tile(tile, (-(-height // 8), -(-width // 8), 1))[:height, :width])


def dithered_rgb(frame: av.VideoFrame, sws_matrix: int) -> np.ndarray | None:
    """``frame`` as uint8 (H, W, 3) RGB, converted at 16 bits (:func:`exact_rgb48`, 10- and 12-bit
    4:2:0, 4:2:2 and 4:4:4) and ordered-dithered to 8 once; None for other formats. Through 8-bit
    YUV first (dithered by swscale) and then to RGB, whose levels are 255/219 of YUV's, one RGB
    level in 7 of a smooth gradient never appeared (a combed histogram) and a column's average
    was up to 0.74 of a level off; 4:4:4, which swscale took to RGB at once, undithered, was
    rounded to whole levels (0.5 off, in bands); here a gradient keeps its average level column
    by column.
    (12-13 ms a 1080p frame, the 8-bit twin 6-12, on a 2-core AMD EPYC busy with other work.)"""
    import cv2

    fixed = exact_rgb48(frame, sws_matrix, white=255 * 64)  # 6 bits below the 8-bit level
    if fixed is None:
        return None
    cv2.add(fixed, _dither_thresholds(*fixed.shape[:2]), dst=fixed)  # (saturating)
    # floor(fixed / 64), saturated at 255 (super-whites): OpenCV rounds, and 1/128 keeps it off halves
    return cv2.convertScaleAbs(fixed, alpha=1 / 64, beta=-0.5 + 1 / 128)


def yuv_matrix(colorspace: int, width: int, height: int) -> int:
    """The YUV<->RGB matrix (AVCOL_SPC_*) of a video: its tag when it names one we convert with,
    else the one players assume for its size: BT.709 for HD (1280 wide or over 576 lines), BT.601
    (SMPTE 170M) below. Decoding and encoding both use it, so colours come out as a player shows
    the input, and the output is tagged with it."""
    if colorspace in SWS_MATRIX:
        return colorspace
    return 1 if width >= 1280 or height > 576 else 6




@dataclass(frozen=True)
class DisplayConversion:
    """How a video's frames become what players show: the YUV matrix to convert with
    (:func:`yuv_matrix`), then the turn and mirror of the display matrix
    (:func:`display_transform`). Settled once, from a file's first frame, by every reader of
    files (the pipeline's decoder, live's file source)."""

    rotation: int  # degrees counter-clockwise
    mirrored: bool
    matrix: int  # AVCOL_SPC_*
    stored_size: tuple[int, int]  # (width, height) before the turn
    tone_map: ToneMapper | None = None  # HDR frames to SDR (vidstyle.io.hdr), else None
    scaled_size: tuple[int, int] | None = None  # (width, height) before the turn, when downscaled

    @classmethod
    def of(cls, frame: av.VideoFrame, codec: str = "", turn: tuple[int, bool] | None = None,
           hdr: str = "sdr", downscale: int | None = None, pixel_aspect=None) -> "DisplayConversion":
        """From a file's first ``frame``, decoded by ``codec`` (FFmpeg's decoder name); ``turn``:
        (rotation, mirrored) known otherwise (an image sequence's EXIF orientation), in which case
        the frame's side data is not read. ``hdr``: "sdr" tone-maps an HDR video (PQ, HLG) to
        SDR, "keep" gives its coded values as they are. ``downscale``: frames with a longer side
        than this many pixels are scaled down to it (even sizes, the aspect kept; ``pixel_aspect``:
        the stream's, for non-square pixels), never up."""
        check_hdr_mode(hdr)
        rotation, mirrored = turn if turn is not None else display_transform(frame, image_codec=codec in IMAGE_CODECS)
        trc, colorspace = int(frame.color_trc), int(frame.colorspace)
        if trc in HDR_TRANSFERS and colorspace not in SWS_MATRIX:
            colorspace = 9  # HDR untagged for its matrix: BT.2020's, which HDR video uses, not one by size
        tone_map = ToneMapper(trc, int(frame.color_primaries)) if hdr == "sdr" and trc in HDR_TRANSFERS else None
        turned = _quarter_turn(rotation)
        return cls(rotation, mirrored, yuv_matrix(colorspace, frame.width, frame.height), (frame.width, frame.height),
                   tone_map, downscaled_size(frame.width, frame.height, downscale, pixel_aspect, turned))

    @property
    def turned(self) -> bool:
        """A quarter turn: width and height (and the pixel aspect) swap."""
        return _quarter_turn(self.rotation)

    def say_if_rounded(self, name: str) -> None:
        """Warn when the display matrix of the file ``name`` turns by other than quarter turns: the
        frames are turned by the nearest one (45 degrees: none)."""
        if self.rotation % 90:
            log.warning("%s's display matrix turns the picture by %d degrees, which is not a quarter turn: it is "
                        "turned by %d instead, the nearest", name, self.rotation, round(self.rotation / 90) % 4 * 90)

    def shown_chroma(self, pix_fmt: str) -> tuple[int, int] | None:
        """:func:`chroma_subsampling` of frames stored in ``pix_fmt`` as they are shown: (across,
        down), swapped by a quarter turn; None where they are downscaled (a scaled line mixes
        the stored ones, no longer two of them to one colour sample) or have no chroma (RGB)."""
        subsampling = chroma_subsampling(pix_fmt)
        if subsampling is None or self.scaled_size is not None:
            return None
        return subsampling[::-1] if self.turned else subsampling

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as shown (and downscaled)."""
        w, h = self.scaled_size or self.stored_size
        return (h, w) if self.turned else (w, h)

    def image(self, frame: av.VideoFrame) -> np.ndarray:
        """``frame`` as uint8 (H, W, 3) RGB, as shown. A frame of another stored size than the
        first (a broadcast stream or a concatenation that changes resolution mid-stream) is
        scaled to the first's, as FFmpeg does, so every frame has the size the output was opened
        with (see :meth:`resized`)."""
        return self._converted(frame, alpha=False)

    def image_and_alpha(self, frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`image` and ``frame``'s alpha channel, uint8 (H, W) turned alike, from one
        conversion (opaque, 255, for a frame without one)."""
        rgba = self._converted(frame, alpha=True)
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])

    def _converted(self, frame: av.VideoFrame, alpha: bool) -> np.ndarray:
        """uint8 RGB, or RGBA with ``alpha``, at the first frame's size (or its downscaled size),
        tone-mapped, turned."""
        w, h = self.scaled_size or self.stored_size
        # with transparency, scaled down here after conversion, premultiplied (frames.resize_rgba):
        # swscale averages each channel alone, and the colour under transparent pixels would fringe
        premultiplied = alpha and self.scaled_size is not None
        if premultiplied:
            w, h = self.stored_size
        # area averaging to downscale (no aliasing), bicubic for a stream that changed size
        scale = {} if (frame.width, frame.height) == (w, h) else \
            {"width": w, "height": h, "interpolation": "AREA" if (w, h) == self.scaled_size else "BICUBIC"}
        if self.tone_map is None and _deep_rgb(frame.format):
            # swscale takes 16-bit RGB and grey (a render's PNG or TIFF frames) to 8 bits about half
            # a level bright on average, up to 1.4 levels (51400, exactly 200, became 201; the alpha
            # 32896, exactly 128, 129): taken at 16 bits and rounded to the nearest level instead
            import cv2

            deep = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le", **scale)
            pixels = cv2.convertScaleAbs(deep, alpha=255 / 65535)  # (v / 257 is never halfway between levels)
        elif self.tone_map is None:
            # 10- and 12-bit YUV converted at 16 bits and dithered to 8 once (see dithered_rgb)
            pixels = None if scale or alpha else dithered_rgb(frame, SWS_MATRIX[self.matrix])
            if pixels is None:
                eight_bit = eight_bit_twin(frame.format.name)
                if eight_bit is not None:  # see eight_bit_twin: 10-bit 4:2:0 straight to RGB is 1-2 levels dark
                    frame = frame.reformat(format=eight_bit)
                pixels = None if scale else exact_rgb(frame, SWS_MATRIX[self.matrix], alpha)
            if pixels is None:
                if scale:  # scaling interpolates the chroma anyway: swscale's exact mode, 1-3 ms more a 1080p frame
                    scale["interpolation"] = Interpolation[scale["interpolation"]] | EXACT_SCALING
                pixels = frame.to_ndarray(format="rgba" if alpha else "rgb24", src_colorspace=SWS_MATRIX[self.matrix],
                                          **scale)
        else:  # at 16 bits: HDR's steps are finer than 8-bit SDR's
            deep = None if scale or alpha else exact_rgb48(frame, SWS_MATRIX[self.matrix])
            if deep is None:
                deep = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le",
                                        src_colorspace=SWS_MATRIX[self.matrix], **scale)
            pixels = self.tone_map(deep[..., :3])
            if alpha:
                pixels = np.dstack([pixels, (deep[..., 3] >> 8).astype(np.uint8)])
        if premultiplied:
            from vidstyle.frames import resize_rgba  # here: decoding alone does not need torch

            pixels = resize_rgba(pixels, self.scaled_size)
        return _rotate(pixels, self.rotation, self.mirrored)

    def resized(self, frame: av.VideoFrame) -> bool:
        """Whether :meth:`image` scales ``frame``: it is not of the first frame's stored size."""
        return (frame.width, frame.height) != self.stored_size

    def say_resized(self, name: str, frame: av.VideoFrame, seconds: float) -> None:
        """Warn that ``name`` changes size at ``frame`` (said once per file by the caller)."""
        log.warning("%s changes size mid-stream, from %dx%d to %dx%d at %.2f s: scaling such frames to %dx%d",
                    name, *self.stored_size, frame.width, frame.height, seconds,
                    *(self.scaled_size or self.stored_size))


def _quarter_turn(rotation: float) -> bool:
    """Whether a turn of ``rotation`` degrees (a multiple of 90) swaps width and height."""
    return bool(round(rotation / 90) % 2)


def downscaled_size(width: int, height: int, longest: int | None,
                    pixel_aspect: Fraction | float | None = None, turned: bool = False) -> tuple[int, int] | None:
    """(width, height) of stored pixels scaled so the longer side as shown (the width times
    ``pixel_aspect``, for non-square pixels, which are kept) is at most ``longest`` pixels, each
    side even (4:2:0 encoders need it; rounded down on the longer side so it stays within) and the
    aspect kept; None when no scaling is needed. ``turned``: the frames are written after a
    quarter turn, which swaps the sides and makes the pixel aspect its inverse: the longer side is
    that of the turned frame as shown (players stretch a width, so a 4/3 pixel turned upright, 3/4,
    shows the turned frame a quarter smaller than the unturned one)."""
    if turned:
        size = downscaled_size(height, width, longest, 1 / Fraction(pixel_aspect) if pixel_aspect else None)
        return None if size is None else (size[1], size[0])
    aspect = float(pixel_aspect) if pixel_aspect else 1.0
    shown = max(width * aspect, height)
    if longest is None or shown <= longest:
        return None
    factor = (longest - longest % 2) / shown
    if width * aspect >= height:
        w = max(2, 2 * math.floor(width * factor / 2 + 1e-9))
        return w, max(2, 2 * round(height * w / width / 2))
    h = max(2, longest - longest % 2)
    return max(2, 2 * round(width * h / height / 2)), h


@functools.lru_cache(maxsize=None)
def eight_bit_twin(pix_fmt: str) -> str | None:
    """The 8-bit planar YUV format with ``pix_fmt``'s chroma subsampling and alpha, for a YUV
    format of more than 8 bits with subsampled chroma (yuv420p10le: yuv420p); else None.

    swscale's direct path from such a format to rgb24 is biased: limited-range white (Y 940 of
    10 bits) comes out at 253 and mid-greys 1-2 levels dark. Through the 8-bit twin the levels
    are those of an 8-bit input (within a level), at less cost (4.0 against 5.6 ms a 1080p frame
    on a 2-core EPYC). 4:4:4 and full-range frames convert exactly either way; the twin keeps the
    range and matrix tags. (10- and 12-bit frames decoded at their own size without alpha go
    through :func:`dithered_rgb` instead: this is for scaled and YUVA ones, and 9-, 14- and 16-bit
    ones.)"""
    subsampling = chroma_subsampling(pix_fmt)
    if component_bits(pix_fmt) <= 8 or subsampling is None:
        return None
    twin = {(2, 2): "420", (2, 1): "422"}.get(subsampling)
    if twin is None:
        return None
    return f"yuva{twin}p" if has_alpha(pix_fmt) else f"yuv{twin}p"


#: chroma subsamplings (horizontal, vertical: see :func:`chroma_subsampling`) by the names people know
CHROMA_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (1, 2): "4:4:0", (2, 2): "4:2:0", (4, 1): "4:1:1", (4, 4): "4:1:0"}


@functools.lru_cache(maxsize=None)
def chroma_subsampling(pix_fmt: str) -> tuple[int, int] | None:
    """How many pixels across and down share one chroma sample in FFmpeg pixel format
    ``pix_fmt``: (2, 2) for 4:2:0 (yuv420p, nv12), (2, 1) for 4:2:2, (1, 1) for 4:4:4 (see
    :data:`CHROMA_NAMES`); None for a format with no chroma of its own (RGB, grey, a palette)."""
    fmt = av.VideoFormat(pix_fmt)
    if fmt.is_rgb or len(fmt.components) < 3:
        return None
    return 64 // fmt.chroma_width(64), 64 // fmt.chroma_height(64)


def _deep_rgb(fmt: av.VideoFormat) -> bool:
    """Whether ``fmt`` is RGB or grey (not YUV) of more than 8 bits: rgb48be, rgba64be, gray16le..."""
    return (fmt.is_rgb or len(fmt.components) < 3) and component_bits(fmt.name) > 8


def component_bits(pix_fmt: str) -> int:
    """Bits per colour component of FFmpeg pixel format ``pix_fmt`` (8 for yuv420p, 10 for yuv420p10le)."""
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def has_alpha(pix_fmt: str) -> bool:
    """Whether FFmpeg pixel format ``pix_fmt`` has an alpha channel (yuva444p10le, rgba, ...)."""
    return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
