"""Still images: reading (any format Pillow knows, camera orientation applied) and writing.

``vidstyle stylize photo.jpg -o out.png`` previews a style on one picture; training reads its
content photos and paintings through :func:`open_image` too.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vidstyle.errors import WARNING_FILTERS_LOCK, VidstyleError

#: Extensions read as still images (training content, paintings, ``stylize`` input).
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
#: Extensions ``stylize`` writes a still image to -> Pillow format name.
IMAGE_OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                        ".tif": "TIFF", ".tiff": "TIFF"}


def is_image_path(path: str | Path) -> bool:
    """A still image, by its name or, under another, by its content: an image extension, and not
    a folder (a folder of numbered frames can be named ``shot.png/``, as one can be named
    ``shot.mov/``), nor a video under an image's name (:func:`is_video_named_as_image`); or an
    image under a video's name (:func:`is_image_named_as_video`)."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return not path.is_dir() and not is_video_named_as_image(path)
    return is_image_named_as_video(path)


def is_video_named_as_image(path: Path) -> bool:
    """Whether ``path``, under an image's name, is a video by its content (a clip saved or
    downloaded as .jpg), which FFmpeg reads as the video it is: taken as a still by its name, it
    was refused as "a still image: write it to an image", or "cannot identify image file" when
    written to one. A file Pillow reads is an image, whatever else it holds (a motion photo is a
    JPEG with its clip after it)."""
    if not path.is_file():
        return False  # missing, a pipe (opening it would wait for a writer): reading it says which
    try:
        with _large_images_allowed(), Image.open(path):
            return False
    except UnidentifiedImageError:
        pass
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False  # an image, damaged or too large: reading it says what is wrong
    from vidstyle.io.probe import holds_video

    return holds_video(path)


def is_image_named_as_video(path: Path) -> bool:
    """Whether ``path``, under another name than an image's (a photo saved as .mp4, a JPEG as
    .mkv, a .ppm or .tga), is a picture Pillow reads by its content, which FFmpeg does not read as
    a video (:func:`vidstyle.io.probe.holds_video`: a GIF or APNG is one): a PNG saved as .mp4 was
    refused as "an image, not a video" by stylize_video and as "a video" by stylize_image, each
    sending the user to the other. A clip saved as .jpg is read as the video it is, likewise."""
    if not path.is_file() or path.suffix.lower() in IMAGE_EXTENSIONS:
        return False  # (a pipe is not opened: it would wait for a writer)
    try:
        with _large_images_allowed(), Image.open(path):
            pass
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False  # not one of those images (a video, text): reading it as a video says what it is
    from vidstyle.io.probe import holds_video

    return not holds_video(path)


def image_suffix(path: str | Path) -> str:
    """The extension of a still image's own format (:data:`IMAGE_OUTPUT_FORMATS`) by its content,
    its own name's if that is one (.jpeg stays .jpeg), else ``.png``: where one named otherwise
    (:func:`is_image_named_as_video`) is written as the image it is."""
    if Path(path).suffix.lower() in IMAGE_OUTPUT_FORMATS:
        return Path(path).suffix
    try:
        with _large_images_allowed(), Image.open(path) as im:
            found = "JPEG" if im.format == "MPO" else im.format
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        found = None
    return next((ext for ext, fmt in IMAGE_OUTPUT_FORMATS.items() if fmt == found), ".png")


#: Animation files FFmpeg reads as videos, which may hold one frame: a sticker, a logo, a picture
#: saved as a GIF. With one frame they are stills too (:func:`is_one_frame_animation`).
ANIMATION_EXTENSIONS = {".gif", ".apng"}


def is_one_frame_animation(path: str | Path) -> bool:
    """Whether ``path`` is a GIF or APNG of one frame, from its headers (Pillow reads no picture to
    tell): under its own name (:data:`ANIMATION_EXTENSIONS`), or under a video's (a sticker saved as
    .mp4), which FFmpeg reads as the animation it is (:func:`vidstyle.io.probe.holds_video`). A
    still picture written to an image (.png, .jpg) is stylized as one, where a one-frame video
    cannot be written to an image name."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS or not path.is_file():
        return False  # an image's name is a still already; (a pipe is not opened: it would wait for a writer)
    named = path.suffix.lower() in ANIMATION_EXTENSIONS
    try:
        with _large_images_allowed(), Image.open(path, formats=None if named else ("GIF", "PNG")) as im:
            if getattr(im, "is_animated", False):
                return False
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False  # unreadable: reading it as a video says what is wrong
    from vidstyle.io.probe import holds_video

    return named or holds_video(path)  # (a plain PNG under a video's name is an image: is_image_path)


def open_image(path: str | Path, with_alpha: bool = False):
    """The 8-bit RGB image at ``path``, turned upright by its EXIF orientation (phone photos are
    stored sideways with a tag); one clear VidstyleError when it is missing, unreadable or larger
    than Pillow's decompression-bomb limit. ``with_alpha``: (image, :func:`alpha_of` it), from
    the one read of the file."""
    from vidstyle.io.files import check_file  # (files imports this module)

    path = check_file(path, "image")
    try:
        with _large_images_allowed(), Image.open(path) as im:
            upright = ImageOps.exif_transpose(im)
            return (_to_rgb(upright), alpha_of(upright)) if with_alpha else _to_rgb(upright)
    except Image.DecompressionBombError as exc:
        raise VidstyleError(f"cannot read image {path}: too large ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        from vidstyle.io.files import VIDEO_SUFFIXES, empty_file_problem

        if isinstance(exc, UnidentifiedImageError) and (problem := empty_file_problem(path)):
            raise VidstyleError(f"cannot read image {path}: {problem}") from exc
        if isinstance(exc, UnidentifiedImageError) and path.suffix.lower() in VIDEO_SUFFIXES:
            # a clip given as a painting or a photo: said as such, not "cannot identify image file"
            raise VidstyleError(f"cannot read image {path}: it is a video file, not an image") from exc
        raise VidstyleError(f"cannot read image {path}: {exc}") from exc


def oversized_frames_error(path: str | Path, width: int, height: int) -> VidstyleError | None:
    """The error for a video (or animation, or numbered frames) of ``width`` x ``height`` frames
    past the limit a still image has (Pillow's decompression-bomb limit: twice its
    MAX_IMAGE_PIXELS, 179 megapixels unless a program changed it), else None. FFmpeg itself
    decodes up to 268 megapixels a frame: an 89-byte GIF declaring a 16000x16000 screen held
    4.6 GB before its first frame was encoded."""
    limit = None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS
    if limit is None or width * height <= limit:
        return None
    return VidstyleError(f"{path} has {width}x{height} frames ({width * height / 1e6:.0f} megapixels), more than the "
                         f"{limit / 1e6:.0f} megapixels vidstyle reads: a decompression bomb, or a damaged header")


@contextlib.contextmanager
def _large_images_allowed():
    """Pillow's DecompressionBombWarning silenced: past its limit / 2 (89 Mpx) it warns, in its own
    words and source line; a real panorama is allowed, and a bomb (past the limit) still raises
    DecompressionBombError. Every open of a still image's file goes through this, the checks
    around reading it (:func:`check_still`, :func:`rgb_profile`) too."""
    with WARNING_FILTERS_LOCK, warnings.catch_warnings():  # (not while another thread swaps them)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _to_rgb(im: Image.Image) -> Image.Image:
    """``im`` as 8-bit RGB. Pillow's own convert("RGB") clips the single-channel modes wider than
    8 bits (16-bit grey PNGs open as "I;16" or "I", float TIFFs as "F") instead of scaling them,
    so a 16-bit grey photo would come out pure white: those are scaled here. A CMYK image with
    its ICC profile (a print-ready JPEG) is converted through it to sRGB: Pillow's own formula
    ignores the inks' profile (blues came out as magenta, 90 levels off in B)."""
    if im.mode == "CMYK" and _profile_space(im) == b"CMYK":
        converted = _to_srgb(im, im.info["icc_profile"])  # None: Pillow's formula below
        if converted is not None:
            return converted
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return im.convert("RGB")
    values = np.asarray(im, dtype=np.float64)
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    if im.mode == "F" and top <= 1.0:
        scale = 255.0  # floats in [0, 1]
    elif top <= 255.0 and im.mode == "F":
        scale = 1.0  # floats in 8-bit units
    else:
        scale = 255.0 / (65535.0 if top <= 65535.0 else top)  # 16-bit, or wider integers
    grey = np.clip(np.nan_to_num(values * scale), 0, 255).round().astype(np.uint8)
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")


def _profile_space(im: Image.Image) -> bytes | None:
    """The colour space of ``im``'s embedded ICC profile (b"RGB ", b"CMYK", b"GRAY"...), or None."""
    profile = im.info.get("icc_profile")
    return bytes(profile[16:20]) if isinstance(profile, bytes) and len(profile) >= 128 else None


def _to_srgb(im: Image.Image, profile: bytes) -> Image.Image | None:
    """``im`` converted from the ICC ``profile`` to 8-bit sRGB; None without LittleCMS or with a
    profile it cannot use."""
    import io

    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without LittleCMS
        return None
    try:
        return ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError):
        return None


def rgb_profile(path: str | Path) -> bytes | None:
    """The ICC profile of the RGB image at ``path`` (Adobe RGB, Display P3 as iPhone photos have),
    for writing its stylized picture with the same profile: the pixels are kept as coded, and
    without it they would be shown as sRGB, colours shifted (an Adobe RGB (30, 180, 60) green
    by 36 CIELAB units, a skin tone by 6). None without one, or for a CMYK or grey image (read as sRGB / plain RGB)."""
    try:
        with _large_images_allowed(), Image.open(path) as im:
            if im.mode not in ("CMYK", "L", "LA", "I", "F") and not im.mode.startswith("I;16") \
                    and _profile_space(im) == b"RGB ":
                return im.info["icc_profile"]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # reading it says what is wrong
        pass
    return None


def read_image(path: str | Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB."""
    return np.asarray(open_image(path), dtype=np.uint8).copy()


#: Pillow formats :func:`write_image` can store an alpha channel in.
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


def read_image_and_alpha(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image`'s uint8 (H, W, 3) RGB and the image's transparency (:func:`alpha_of`),
    from one read of the file."""
    image, alpha = open_image(path, with_alpha=True)
    return np.asarray(image, dtype=np.uint8).copy(), alpha


def check_still(path: str | Path, advice: str | None = None) -> None:
    """Refuse an animated image (an animated WebP or PNG) or a multi-page TIFF given as a still:
    only its first frame would be stylized (or learned from, for a painting: ``advice`` then says
    what to do instead). FFmpeg cannot decode animated WebP, so it is not read as a video either.
    Pillow counts the frames from the file's headers, decoding none."""
    if not Path(path).is_file():
        return  # missing, a folder, a pipe (opening it would wait for a writer): reading it says which
    try:
        with _large_images_allowed(), Image.open(path) as im:
            frames, pages = getattr(im, "n_frames", 1), im.format == "TIFF"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return  # unreadable, or too large: reading it says what is wrong
    if frames > 1 and pages:  # (a scan's pages, not an animation's frames)
        raise VidstyleError(f"{Path(path).name} is a multi-page TIFF ({frames} pages), not one still image: "
                            f"{advice or 'save the page to stylize as an image of its own'}")
    if frames > 1:
        advice = advice or "vidstyle reads animations from video files and GIFs; convert it to one of those first"
        raise VidstyleError(f"{Path(path).name} is an animation ({frames} frames), not a still image: {advice}")


def shown_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of the still at ``path`` as :func:`open_image` gives it (turned upright by
    its EXIF orientation), from its header: no pixel is decoded. None where it cannot be read
    (reading it says why)."""
    try:
        with _large_images_allowed(), Image.open(path) as im:
            w, h = im.size
            quarter_turn = im.getexif().get(0x0112) in (5, 6, 7, 8)  # (transposed, or turned 90 or 270 degrees)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return (h, w) if quarter_turn else (w, h)


def stored_bits(path: str | Path) -> int:
    """Bits per colour component of the still at ``path`` as stored: 16 for a 16-bit PNG or TIFF
    (Pillow opens 16-bit RGB and RGBA as 8-bit modes, so its raw mode is what tells), 32 for float
    or 32-bit TIFFs, else 8. Read from the header alone; 8 for a file Pillow cannot open (reading
    it says what is wrong)."""
    try:
        with _large_images_allowed(), Image.open(path) as im:
            if im.mode.startswith("I;16"):
                return 16
            if im.mode in ("I", "F"):
                return 16 if im.format == "PNG" else 32
            args = im.tile[0].args if im.tile and im.format in ("PNG", "TIFF") else ""
            raw = args[0] if isinstance(args, tuple) and args else args
            return 16 if isinstance(raw, str) and ";16" in raw else 8
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 8


def alpha_of(im: Image.Image) -> np.ndarray | None:
    """``im``'s transparency as uint8 (H, W); None when it has none, or every pixel is opaque.
    (Its RGB stays :func:`open_image`'s: the network paints the colours stored under the
    transparency, which PNG keeps unmultiplied.)"""
    if not (im.mode in ("RGBA", "LA", "PA", "La", "RGBa")
            or (im.mode in ("P", "L", "RGB") and "transparency" in im.info)):
        return None
    alpha = np.asarray(im.convert("RGBA"), dtype=np.uint8)[..., 3].copy()
    return None if alpha.min() == 255 else alpha


def keeps_transparency(alpha: np.ndarray | None, output: str | Path, source: str | Path) -> bool:
    """Whether an image written to ``output`` keeps the transparency (``alpha``) of ``source``:
    True where the format holds it; False, with a warning naming both, where it is dropped."""
    if alpha is None:
        return False
    if IMAGE_OUTPUT_FORMATS.get(Path(output).suffix.lower()) in ALPHA_FORMATS:
        return True
    import logging

    logging.getLogger("vidstyle").warning(
        "%s is partly transparent, and %s images cannot be: its transparency is dropped (write .png, .webp or .tif "
        "to keep it)", Path(source).name, Path(output).suffix.lower())
    return False


#: the largest side each image format holds (Pillow's format names; FFmpeg's animated WebP too)
MAX_SIDE = {"WEBP": 16383, "JPEG": 65500}


def check_image_size(output: str | Path, width: int, height: int, format: str | None = None) -> None:
    """Refuse, before any work, pictures of ``width`` x ``height`` that ``output``'s format
    (``format``: Pillow's name, else the extension's) cannot hold: Pillow and libwebp refuse them
    only once the network has run, in words that name no way out ("encoding error 5",
    "avcodec_send_frame() returned 22")."""
    limit = MAX_SIDE.get(format or IMAGE_OUTPUT_FORMATS.get(Path(output).suffix.lower()))
    if limit is not None and max(width, height) > limit:
        raise VidstyleError(f"{Path(output).name} would be {width}x{height}, larger than {Path(output).suffix} "
                            f"images can be ({limit} pixels a side): write .png, or --downscale {limit}")


#: Pillow formats :func:`write_image` can embed an ICC profile in.
PROFILE_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}


def write_image(path: str | Path, image: np.ndarray, format: str | None = None,
                icc_profile: bytes | None = None, fast: bool = False) -> None:
    """Write uint8 (H, W, 3) RGB or (H, W, 4) RGBA ``image`` (RGBA only to :data:`ALPHA_FORMATS`);
    ``format`` (Pillow's name) defaults to the extension's. ``icc_profile``: the RGB colour space
    ``image`` is coded in (:func:`rgb_profile`), embedded where the format holds one; BMP, which
    cannot, gets the pixels converted to sRGB instead. ``fast``: a PNG compressed at zlib's
    fastest level, for a caller that waits on it (live's snapshots, taken mid-session): Pillow's
    default level took 0.38 s of CPU for a 1280x720 photo against 0.08 s, for a file 12% smaller
    (2 cores of an AMD EPYC)."""
    fmt = format or IMAGE_OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise VidstyleError(f"cannot write {Path(path).suffix or 'extension-less'} images ({path}); "
                            f"use one of {', '.join(sorted(IMAGE_OUTPUT_FORMATS))}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if fast and fmt == "PNG":
        options["compress_level"] = 1
    picture = Image.fromarray(image)
    if icc_profile and fmt in PROFILE_FORMATS:
        options["icc_profile"] = icc_profile
    elif icc_profile and picture.mode == "RGB":  # (else, without LittleCMS: the pixels as they are)
        picture = _to_srgb(picture, icc_profile) or picture
    picture.save(path, format=fmt, **options)
