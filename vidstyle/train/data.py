"""Training data: content photographs (random crops and flips) and style images.

Every random choice of a training step is drawn from a generator seeded by ``(seed, step)``, so a
run resumed from a checkpoint draws exactly the batches an uninterrupted run would have drawn.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from vidstyle.errors import VidstyleError
from vidstyle.frames import images_to_tensor
from vidstyle.io.images import IMAGE_EXTENSIONS, open_image

log = logging.getLogger("vidstyle")

#: Number of photos held out of training for evaluation (fewer when the folder is small).
HELD_OUT = 20
#: Crops are taken from the image resized so its shorter side is ``size * s``, s in [1, MAX_ZOOM].
MAX_ZOOM = 1.25
#: Decoded, resized images kept in memory (a few hundred kB each).
CACHE_LIMIT = 4000


def load_image(path: str | Path, short_side: int | None = None) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) RGB, optionally resized so its shorter side is ``short_side``."""
    im = open_image(path)
    if short_side is not None:
        scale = short_side / min(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8).copy()


def find_images(folder: str | Path, exclude: Sequence[str | Path] = ()) -> list[Path]:
    """All image files under ``folder``, recursively, sorted by relative path (deterministic).

    Linked folders are followed (each real folder once, so a link loop ends); hidden files and
    folders (a leading dot: macOS's ``._photo.jpg`` companions, ``.thumbnails``) are left out, and
    so are the folders in ``exclude`` (a training run's own checkpoint and preview folder, when
    it lies inside the content folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder of photos" if folder.exists() else "not found"
        raise VidstyleError(f"content folder {what}: {folder}")
    skip = {os.path.realpath(p) for p in exclude}
    seen: set[str] = set()
    files = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen or real in skip:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(root) / n for n in names if not n.startswith(".")
                  and Path(n).suffix.lower() in IMAGE_EXTENSIONS and (Path(root) / n).is_file()]
    files.sort(key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise VidstyleError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {folder}")
    return files


def split_held_out(files: Sequence[Path], count: int = HELD_OUT) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): every k-th file of the sorted list is held out.

    With fewer than 2*count files, a quarter of them (at least 1) is held out; a single image is used
    for both.
    """
    files = list(files)
    if len(files) == 1:
        return files, files
    n = count if len(files) >= 2 * count else max(1, len(files) // 4)
    step = len(files) // n
    held = [files[i * step] for i in range(n)]
    held_set = set(held)
    return [f for f in files if f not in held_set], held


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random generator of training step ``step`` (independent of what ran before)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


class ContentImages:
    """Random square crops of the content photos, resized so the shorter side is ``size`` to ``size*MAX_ZOOM``."""

    def __init__(self, files: Sequence[Path], size: int):
        if not files:
            raise VidstyleError("no content images to train on")
        self.files = list(files)
        self.size = size
        self._cache: dict[int, np.ndarray] = {}
        self.unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def _image(self, index: int) -> np.ndarray:
        """Image ``index``; if it cannot be read, the next readable one, with a warning.

        Photos are read when a batch first draws them, possibly hours into a run: one truncated
        file must not end it. The substitute depends only on the index, so a resumed run still
        draws what an uninterrupted one would have."""
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            if i in self.unreadable:
                continue
            img = self._cache.get(i)
            if img is not None:
                return img
            try:
                img = load_image(self.files[i], short_side=round(self.size * MAX_ZOOM))
            except VidstyleError as exc:
                self.unreadable.add(i)
                log.warning("%s; training goes on without it", exc)
                continue
            if len(self._cache) < CACHE_LIMIT:
                self._cache[i] = img
            return img
        n = len(self.files)
        raise VidstyleError("the only content image cannot be read" if n == 1
                            else f"none of the {n} content images can be read")

    def crop(self, index: int, g: torch.Generator) -> np.ndarray:
        """A random (size, size, 3) crop of image ``index`` at a random zoom, randomly flipped."""
        img = self._image(index)
        h, w = img.shape[:2]
        short = round(self.size * (1.0 + (MAX_ZOOM - 1.0) * torch.rand((), generator=g).item()))
        short = min(short, h, w)
        if short != min(h, w):
            scale = short / min(h, w)
            img = np.asarray(Image.fromarray(img).resize((max(short, round(w * scale)), max(short, round(h * scale))),
                                                         Image.Resampling.BILINEAR))
            h, w = img.shape[:2]
        top = int(torch.randint(0, h - short + 1, (), generator=g))
        left = int(torch.randint(0, w - short + 1, (), generator=g))
        crop = img[top:top + short, left:left + short]
        if short != self.size:
            crop = np.asarray(Image.fromarray(crop).resize((self.size, self.size), Image.Resampling.BILINEAR))
        if torch.rand((), generator=g).item() < 0.5:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop)

    def batch(self, batch_size: int, g: torch.Generator, device: torch.device | None = None) -> torch.Tensor:
        """(batch_size, 3, size, size) in [0, 1]."""
        indices = torch.randint(0, len(self.files), (batch_size,), generator=g).tolist()
        return images_to_tensor([self.crop(i, g) for i in indices], device=device)


def held_out_tensor(files: Sequence[Path], size: int, device: torch.device | None = None) -> torch.Tensor:
    """The held-out photos as one (N, 3, size, size) batch: shorter side resized to ``size``, centre crop."""
    crops, failures = [], []
    for f in files:
        try:
            img = load_image(f, short_side=size)
        except VidstyleError as exc:  # as in training: one damaged photo must not end the run
            failures.append(exc)
            continue
        h, w = img.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        crops.append(img[top:top + size, left:left + size])
    if not crops:
        folders = sorted({str(Path(f).parent) for f in files})
        what = ("the photo set aside for the held-out evaluation could not" if len(files) == 1
                else f"none of the {len(files)} photos set aside for the held-out evaluation could")
        raise VidstyleError(f"{what} be read ({failures[0] if failures else 'none given'}): does "
                            f"{', '.join(folders)} hold photos?")
    for exc in failures:  # said only now: with nothing readable, the run does not go on at all
        log.warning("%s; the held-out evaluation goes on without it", exc)
    return images_to_tensor(crops, device=device)


def load_style_image(path: str | Path, size: int, device: torch.device | None = None) -> torch.Tensor:
    """A style image (1, 3, H, W) in [0, 1] with its shorter side resized to ``size`` (aspect kept)."""
    return images_to_tensor(load_image(path, short_side=size), device=device)
