"""Image sequences: a folder of numbered frames (``shot_0001.png``, ``shot_0002.png``, ...), as
renderers and compositing tools write them, read as one video.

FFmpeg's image2 demuxer reads them (a glob over the folder, in name order, gaps allowed), so
the folder goes through :class:`vidstyle.io.decode.VideoDecoder` like any file: seeking,
``--start``/``--duration``, damaged-frame skipping and sampling all apply. A sequence has no
clock of its own: it plays at the frame rate it is given (``--fps``, default
:data:`DEFAULT_SEQUENCE_FPS`).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidstyle.errors import VidstyleError

#: Frame formats FFmpeg's image decoders read here (the suffix picks the files of the sequence).
SEQUENCE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Frame rate of a sequence when none is given: film's, and Blender's default.
DEFAULT_SEQUENCE_FPS = Fraction(24)
#: NTSC rates, which users write as decimals (29.97) but are exact fractions.
_NTSC = {Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)}
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\{}])")


def sequence_fps(value) -> Fraction:
    """A frame rate from a number or text (``24``, ``29.97``, ``"30000/1001"``) as a Fraction;
    29.97, 23.976 and 59.94 are taken as the NTSC rates they stand for."""
    try:
        rate = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise VidstyleError(f"fps must be a number of frames per second such as 24 or 30000/1001, got {value!r}") \
            from None
    if not 0 < rate <= 1000:
        raise VidstyleError(f"fps must be above 0 and at most 1000, got {value}")
    near = [n for n in _NTSC if abs(rate - n) < Fraction(1, 200)]
    return near[0] if near else rate


@dataclass(frozen=True)
class ImageSequence:
    """The frames of ``folder`` with the suffix ``suffix``, in name order."""

    folder: Path
    suffix: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)

    def pattern(self) -> str:
        """The glob FFmpeg's image2 demuxer expands (glob(3): special characters escaped)."""
        return _GLOB_SPECIAL.sub(r"\\\1", str(self.folder)) + "/*" + self.suffix

    def open(self, fps: Fraction) -> av.container.InputContainer:
        return av.open(self.pattern(), "r", format="image2",
                       options={"pattern_type": "glob", "framerate": f"{fps.numerator}/{fps.denominator}"})


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_sequence(folder: str | Path) -> ImageSequence:
    """The image sequence in ``folder``; a VidstyleError saying what is wrong when there is none
    (no images, several kinds, or numbers that sort differently as text: FFmpeg reads the files
    in name order, so ``f10`` would come before ``f2``)."""
    folder = Path(folder)
    files = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    kinds = Counter(Path(n).suffix.lower() for n in files if Path(n).suffix.lower() in SEQUENCE_SUFFIXES)
    if not kinds:
        raise VidstyleError(f"input is a folder with no image sequence in it: {folder} (frames must be "
                            f"{', '.join(SEQUENCE_SUFFIXES)} files)")
    if len(kinds) > 1:
        listed = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        raise VidstyleError(f"{folder} holds images of several kinds ({listed}): keep one sequence per folder")
    (suffix,) = kinds
    names = sorted(n for n in files if Path(n).suffix.lower() == suffix)
    if len({Path(n).suffix for n in names}) > 1:  # FFmpeg's glob is case-sensitive: one spelling
        raise VidstyleError(f"{folder} mixes {' and '.join(sorted({Path(n).suffix for n in names}))} names: "
                            "rename them to one spelling")
    by_number = sorted(names, key=_natural_key)
    if by_number != names:
        i = next(i for i, (a, b) in enumerate(zip(names, by_number)) if a != b)
        raise VidstyleError(f"the frames of {folder} sort differently as text than by number ({names[i]} comes "
                            f"before {by_number[i]}): pad the numbers with zeros (frame_0001{suffix})")
    return ImageSequence(folder, Path(names[0]).suffix, tuple(names))
