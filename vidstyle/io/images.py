"""Still images: reading (any format Pillow knows, camera orientation applied) and writing.

``vidstyle stylize photo.jpg -o out.png`` previews a style on one picture; training reads its
content photos and paintings through :func:`open_image` too.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vidstyle.errors import VidstyleError

#: Extensions read as still images (training content, paintings, ``stylize`` input).
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
#: Extensions ``stylize`` writes a still image to -> Pillow format name.
IMAGE_OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                        ".tif": "TIFF", ".tiff": "TIFF"}


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def open_image(path: str | Path) -> Image.Image:
    """The RGB image at ``path``, turned upright by its EXIF orientation (phone photos are stored
    sideways with a tag); one clear VidstyleError when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise VidstyleError(f"image {'is a folder' if path.is_dir() else 'not found'}: {path}")
    try:
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise VidstyleError(f"cannot read image {path}: {exc}") from exc


def read_image(path: str | Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB."""
    return np.asarray(open_image(path), dtype=np.uint8).copy()


def write_image(path: str | Path, image: np.ndarray, format: str | None = None) -> None:
    """Write uint8 (H, W, 3) RGB ``image``; ``format`` (Pillow's name) defaults to the extension's."""
    fmt = format or IMAGE_OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise VidstyleError(f"cannot write {Path(path).suffix or 'extension-less'} images ({path}); "
                            f"use one of {', '.join(sorted(IMAGE_OUTPUT_FORMATS))}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(image).save(path, format=fmt, **options)
