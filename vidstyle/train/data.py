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

from vidstyle.errors import BadValueError, VidstyleError
from vidstyle.frames import images_to_tensor
from vidstyle.io.images import IMAGE_EXTENSIONS, check_still, open_image
from vidstyle.train.config import CROP_MODES, check_content_folder

log = logging.getLogger("vidstyle")

#: Number of photos held out of training for evaluation (a quarter of a folder of fewer than 80).
HELD_OUT = 20
#: A painting upscaled more than this to --style-size is said to be small: its strokes come out blurred.
STYLE_UPSCALE_WARNING = 2.0
#: Crops are taken from the image resized so its shorter side is ``size * s``, s in [1, MAX_ZOOM]:
#: each shows 80-100% of the photo's shorter side.
MAX_ZOOM = 1.25
#: Decoded, resized images kept in memory (a few hundred kB each).
CACHE_LIMIT = 4000


def load_image(path: str | Path, short_side: int | None = None) -> np.ndarray:
    """Read a photo as uint8 (H, W, 3) RGB (:func:`read_photo`), optionally resized so its shorter
    side is ``short_side``."""
    return resized_short_side(read_photo(path), short_side)


def read_photo(path: str | Path) -> np.ndarray:
    """A content photo as uint8 (H, W, 3) RGB. Where it is transparent (a cut-out saved as RGBA),
    the colour stored under the transparency, which nobody sees and an editor sets at will (often
    black), is replaced by the visible picture continued (:func:`vidstyle.frames.fill_transparent`),
    as ``vidstyle stylize`` shows such an image to the network: the network is not taught to paint
    an outline that is not in the picture."""
    from vidstyle.frames import fill_transparent

    im, alpha = open_image(path, with_alpha=True)
    image = np.asarray(im, dtype=np.uint8)
    return image if alpha is None else fill_transparent(np.ascontiguousarray(image), alpha)


def resized_short_side(image: np.ndarray, short_side: int | None) -> np.ndarray:
    """uint8 (H, W, 3) ``image`` with its shorter side ``short_side`` (None: as it is)."""
    if short_side is None:
        return image.copy()
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    im = Image.fromarray(image).resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8).copy()


def can_read(path: Path) -> bool:
    """Whether the image at ``path`` decodes."""
    try:
        open_image(path)
    except VidstyleError:
        return False
    return True


def find_images(folder: str | Path, exclude: Sequence[str | Path] = ()) -> list[Path]:
    """All image files under ``folder``, recursively, sorted by relative path (deterministic).

    Linked folders are followed (each real folder once, so a link loop ends), and a file under
    two names (a link) is listed once, under the first; hidden files and folders (a leading dot:
    macOS's ``._photo.jpg`` companions, ``.thumbnails``) are left out, and so are the folders in
    ``exclude`` (a training run's own checkpoint and preview folder, when it lies inside the
    content folder) and other runs' such folders (``*.train`` holding checkpoints or previews),
    whose preview grids are no photos."""
    folder = check_content_folder(folder)
    skip = {os.path.realpath(p) for p in exclude}
    seen: set[str] = set()
    files = []

    def unlisted(exc: OSError) -> None:  # (os.walk passes over a folder it cannot list without a word)
        if os.path.realpath(exc.filename) == os.path.realpath(folder):  # not "no images found under" it
            raise VidstyleError(f"cannot read content folder {folder} ({exc.strerror or exc})")
        log.warning("cannot read %s (%s): its photos are left out", exc.filename, exc.strerror or exc)

    for root, dirs, names in os.walk(folder, onerror=unlisted, followlinks=True):
        real = os.path.realpath(root)
        if real in seen or real in skip:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not _training_folder(Path(root) / d)]
        files += [Path(root) / n for n in names if not n.startswith(".")
                  and Path(n).suffix.lower() in IMAGE_EXTENSIONS and (Path(root) / n).is_file()]
    files.sort(key=lambda p: p.relative_to(folder).as_posix())
    # one photo under two names (a linked file) once: else one name could be held out for scoring
    # while the network trained on the other
    listed: dict[str, Path] = {}
    for path in files:
        listed.setdefault(os.path.realpath(path), path)
    files = list(listed.values())
    if not files:
        raise VidstyleError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {folder}")
    return files


def _training_folder(folder: Path) -> bool:
    """Whether ``folder`` is a training run's checkpoint and preview folder (``vidstyle train``'s
    ``OUT.train``)."""
    return folder.name.endswith(".train") and (any(folder.glob("checkpoint_*.pt")) or any(folder.glob("preview_*.png")))


def split_held_out(files: Sequence[Path], count: int = HELD_OUT,
                   readable=None) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): every k-th file of the sorted list is held out, a quarter
    of them (at least 1) and at most ``count``, so a larger folder never trains on fewer photos; a
    single image is used for both.

    ``readable(path)``: a held-out photo that does not decode gives its place to the next one that
    does (a damaged photo cannot be scored, and would leave the evaluation without photos); the
    choice depends on the files alone, so a resumed run holds out the same photos.
    """
    files = list(files)
    if len(files) == 1:
        # said, as for one readable photo among broken ones below: the summary's "held-out losses"
        # were of the photo the network trained on, without a word (not of a file that is no photo:
        # the evaluation's error says that)
        if readable is None or readable(files[0]):
            log.warning("the content folder holds one photo: it is used for training as well, so the held-out losses "
                        "are not measured on unseen photos")
        return files, files
    n = min(count, max(1, len(files) // 4))
    step = len(files) // n
    held: list[Path] = []
    for i in range(n):
        candidates = [files[(i * step + j) % len(files)] for j in range(len(files))]
        choice = next((f for f in candidates if f not in held and (readable is None or readable(f))), None)
        if choice is not None:
            held.append(choice)
    held = held or [files[0]]  # none can be read: the evaluation says so (held_out_tensor)
    held_set = set(held)
    train = [f for f in files if f not in held_set]
    # (the first readable file ends the search: one decode in a sound folder)
    if readable is not None and not any(readable(f) for f in train) and any(readable(f) for f in held):
        # every readable photo was held out (one good photo among broken files): train on them
        # too, as on a single image, rather than on nothing
        log.warning("only the held-out photo%s of %d content files can be read: %s used for training as well, so "
                    "the held-out losses are not measured on unseen photos", "s" if len(held) > 1 else "",
                    len(files), "they are" if len(held) > 1 else "it is")
        return files, held
    return train, held


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random generator of training step ``step`` (independent of what ran before)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


class ContentImages:
    """Random square crops of the content photos, resized so the shorter side is ``size`` to
    ``size*MAX_ZOOM``; with ``crops="whole-side"``, crops of the whole shorter side (see :data:`CROP_MODES`)."""

    def __init__(self, files: Sequence[Path], size: int, crops: str = "zoom"):
        if not files:
            raise VidstyleError("no content images to train on")
        if crops not in CROP_MODES:
            raise BadValueError(f"crops must be one of {', '.join(CROP_MODES)}, got {crops!r}")
        self.files = list(files)
        self.size = size
        self.crops = crops
        self._cache: dict[int, np.ndarray] = {}
        self.unreadable: set[int] = set()
        self.said_small = False  # a photo smaller than the crops was warned of

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
                full = read_photo(self.files[i])
            except VidstyleError as exc:
                self.unreadable.add(i)
                log.warning("%s; training goes on without it", exc)
                continue
            if min(full.shape[:2]) < self.size and not self.said_small:  # said once: a folder of them is one fact
                self.said_small = True
                log.warning("the photo %s is only %dx%d, smaller than the %d-pixel crops: it is upscaled, so its "
                            "crops are blurred (others this small are not listed)", self.files[i].name,
                            full.shape[1], full.shape[0], self.size)
            img = resized_short_side(full, round(self.size * MAX_ZOOM))
            if len(self._cache) < CACHE_LIMIT:
                self._cache[i] = img
            return img
        n = len(self.files)
        raise VidstyleError("the only content image cannot be read" if n == 1
                            else f"none of the {n} content images can be read")

    def crop(self, index: int, g: torch.Generator) -> np.ndarray:
        """A random (size, size, 3) crop of image ``index`` at a random zoom, randomly flipped."""
        img = self._image(index)  # its shorter side is size * MAX_ZOOM
        h, w = img.shape[:2]
        short = round(self.size * (1.0 + (MAX_ZOOM - 1.0) * torch.rand((), generator=g).item()))
        short = min(short, h, w)
        if short != min(h, w):
            scale = short / min(h, w)
            img = np.asarray(Image.fromarray(img).resize((max(short, round(w * scale)), max(short, round(h * scale))),
                                                         Image.Resampling.BILINEAR))
            h, w = img.shape[:2]
        # zoom: a size x size window of the photo at shorter side `short`, so 1/zoom of its shorter
        # side. whole-side: a short x short window, the whole shorter side again whatever the zoom
        # (only its resampling differs), kept draw for draw so that older runs' recorded commands
        # and checkpoints go on as they trained
        side = short if self.crops == "whole-side" else self.size
        top = int(torch.randint(0, h - side + 1, (), generator=g))
        left = int(torch.randint(0, w - side + 1, (), generator=g))
        crop = img[top:top + side, left:left + side]
        if side != self.size:
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


def load_style_image(path: str | Path, size: int, device: torch.device | None = None, *,
                     scored: bool = False) -> torch.Tensor:
    """A style image (1, 3, H, W) in [0, 1] with its shorter side resized to ``size`` (aspect kept).
    ``scored``: the painting is the reference a style is scored against (`vidstyle eval`), not one
    to paint from, as a small one's warning says.

    A painting with transparency (a cut-out saved as RGBA) is its visible part: cropped to it, the
    rest filled from it (:func:`vidstyle.frames.fill_transparent`), so whatever colour an editor
    stored under the transparent pixels is not learned as part of the style."""
    from vidstyle.frames import fill_transparent

    # an animated WebP/PNG would be learned from its first frame alone (stylize refuses one too)
    check_still(path, advice="a painting is one picture; save the frame you want as a still image")
    im, alpha = open_image(path, with_alpha=True)
    image = np.asarray(im, dtype=np.uint8)
    name = Path(path).name
    if alpha is not None:
        if alpha.max() == 0:
            raise VidstyleError(f"the painting {name} is fully transparent: nothing of it can be seen")
        rows, cols = np.flatnonzero(alpha.max(axis=1)), np.flatnonzero(alpha.max(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        image = fill_transparent(np.ascontiguousarray(image[box]), np.ascontiguousarray(alpha[box]))
        log.warning("the painting %s has transparent parts: its style is taken from the visible picture (the "
                    "transparent parts filled from it)", name)
    upscale = size / min(image.shape[:2])
    if upscale > STYLE_UPSCALE_WARNING:
        # (eval's scores paint nothing: "its strokes come out blurred" misled there)
        why = ("the style is scored against a blurred copy of it; a larger image of it is a truer reference"
               if scored else "its strokes come out blurred; a larger image of it paints better")
        log.warning("the painting %s is only %dx%d pixels: upscaled %.1fx to a shorter side of %d, so %s", name,
                    image.shape[1], image.shape[0], upscale, size, why)
    return images_to_tensor(resized_short_side(image, size), device=device)
