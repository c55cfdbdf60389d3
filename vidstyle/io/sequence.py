"""Image sequences: a folder of numbered frames (``shot_0001.png``, ``shot_0002.png``, ...), as
renderers and compositing tools write them, read as one video.

FFmpeg's image2 demuxer reads them (a glob over the folder, in name order, gaps allowed), so
the folder goes through :class:`vidstyle.io.decode.VideoDecoder` like any file: seeking,
``--start``/``--duration``, damaged-frame skipping and sampling all apply. A sequence has no
clock of its own: it plays at the frame rate it is given (``--fps``, default
:data:`DEFAULT_SEQUENCE_FPS`).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidstyle.errors import BadValueError, OutputExistsError, VidstyleError
from vidstyle.io.files import (NUMBER_FIELD, VIDEO_SUFFIXES, HeldOutputFolder, check_path_length,
                               check_writable_folder, create_output_folder, folder_beside, folder_gone_error,
                               folders_missing, longest_temp_path, move_into_place, temp_path_beside)
from vidstyle.io.images import ALPHA_FORMATS, IMAGE_OUTPUT_FORMATS, check_image_size, rgb_profile, write_image

#: Frame formats FFmpeg's image decoders read here (the suffix picks the files of the sequence).
SEQUENCE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Frame rate of a sequence when none is given: film's, and Blender's default.
DEFAULT_SEQUENCE_FPS = Fraction(24)
#: NTSC rates, which users write as decimals (29.97) and files state rounded, but are exact fractions.
_NTSC = {Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001), Fraction(120000, 1001)}
_EXIF_ORIENTATION = 0x0112
#: EXIF orientation -> (rotation counter-clockwise, mirrored after it), checked against PIL's
#: ImageOps.exif_transpose for all eight in the tests
_ORIENTATIONS = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True), 5: (270, True), 6: (270, False),
                 7: (90, True), 8: (90, False)}
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\{}])")


MIN_SEQUENCE_FPS = Fraction(1, 86400)


def sequence_fps(value) -> Fraction:
    """A frame rate from a number or text (``24``, ``29.97``, ``"30000/1001"``) as a Fraction;
    29.97, 23.976, 59.94, 119.88 and any other whole rate times 1000/1001 written rounded (47.952)
    are taken as the NTSC rates they stand for (:func:`ntsc_rate`)."""
    try:
        rate = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise BadValueError(f"fps must be a number of frames per second such as 24 or 30000/1001, got {value!r}") \
            from None
    # at least a frame a day: FFmpeg keeps a rate as a fraction of 32-bit integers, and a rate past
    # that (1e-300) failed only when the folder was opened, as "not a readable video file"
    if MIN_SEQUENCE_FPS * (1 - Fraction(1, 10 ** 9)) <= rate < MIN_SEQUENCE_FPS:
        rate = MIN_SEQUENCE_FPS  # 1 / 86400 as a float, a hair below it
    if not MIN_SEQUENCE_FPS <= rate <= 1000:
        raise BadValueError(f"fps must be at least 1/86400 (a frame a day) and at most 1000, got {value}")
    return ntsc_rate(rate, Fraction(1, 200))


def ntsc_rate(rate: Fraction, within: Fraction) -> Fraction:
    """The NTSC rate (29.97 as 30000/1001, ...) less than ``within`` frames/s from ``rate``, else ``rate``.
    Any other whole rate slowed by 1000/1001 (47.952 as 48000/1001, 14.985, 239.76) counts too where
    ``rate`` is also within a ten-thousandth of it and is no whole or half rate."""
    near = [n for n in _NTSC if abs(rate - n) < within]
    if near:
        return near[0]
    # A container rounds a rate by less than a ten-thousandth (Matroska's 47.952 as 7001/146, FLV's
    # as 959/20). A genuine whole or half rate stays: 960 or 499.5 frames/s is as near 961000/1001
    # or 500000/1001 as that, and not NTSC
    ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
    near_ntsc = ntsc and abs(rate - ntsc) < min(within, rate / 10000)
    return ntsc if near_ntsc and (2 * rate).denominator > 1 else rate


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
        # absolute: a relative name with a colon (take:2) would read as a protocol ("take:")
        return _GLOB_SPECIAL.sub(r"\\\1", str(self.folder.resolve())) + "/*" + self.suffix

    def number(self, position: int) -> int | None:
        """The frame number in the name of the ``position``-th file (the last group of digits:
        ``shot2_0107.png`` -> 107), or None when it has none."""
        digits = re.findall(r"\d+", Path(self.names[position]).stem)
        return int(digits[-1]) if digits else None

    def orientation(self) -> tuple[int, bool]:
        """(rotation in degrees counter-clockwise, mirrored), as :func:`vidstyle.io.display.display_transform`
        gives them, from the first frame's EXIF orientation tag, read as a still image's is (so a
        camera's JPEG comes out the same as a frame and as a still); all frames are taken to share it."""
        try:
            with Image.open(self.folder / self.names[0]) as image:
                tag = image.getexif().get(_EXIF_ORIENTATION, 1)
        except (OSError, ValueError, SyntaxError):  # unreadable here: the decoder says what is wrong
            return 0, False
        return _ORIENTATIONS.get(tag, (0, False))

    def rgb_profile(self) -> bytes | None:
        """The first frame's RGB colour profile (:func:`vidstyle.io.images.rgb_profile`), taken to
        be every frame's, as :meth:`orientation` is."""
        return rgb_profile(self.folder / self.names[0])

    def open(self, fps: Fraction) -> av.container.InputContainer:
        rate = f"{fps.numerator}/{fps.denominator}"
        try:
            return av.open(self.pattern(), "r", format="image2", options={"pattern_type": "glob", "framerate": rate})
        except av.error.NotImplementedError:  # ENOSYS: FFmpeg built without glob(3), as on Windows
            pass
        if self.number(0) is None:  # one frame named without a number (find_sequence takes it): as it is
            return av.open(str((self.folder / self.names[0]).resolve()), "r", format="image2",
                           options={"pattern_type": "none", "framerate": rate})
        # what reads there: FFmpeg's own numbered pattern, from the first frame's number on, which
        # stops at the first number missing: a folder without gaps reads whole
        numbered, start = self.numbered_pattern()
        if self._numbered_names(start) == list(self.names):
            return av.open(str(self.folder.resolve()).replace("%", "%%") + os.sep + numbered, "r", format="image2",
                           options={"pattern_type": "sequence", "start_number": str(start), "framerate": rate})
        raise VidstyleError(f"{self.folder}: this FFmpeg build reads no folder of frames with gaps in their numbers "
                            "or names of more than one pattern (it has no glob patterns; Windows builds lack them): "
                            "join the frames into a video first, e.g. ffmpeg -framerate "
                            f'{fps} -start_number {start} -i "{self.folder / numbered}" -c:v ffv1 frames.mkv, '
                            "and stylize that")

    def numbered_pattern(self) -> tuple[str, int]:
        """(the first frame's name with its number as FFmpeg's field: ``frame_%04d.png`` (``%%``
        for a ``%`` of its own), that number): the frames as FFmpeg's numbered pattern reads them."""
        first = self.names[0]
        digits = re.findall(r"\d+", Path(first).stem)[-1]  # (more than one frame: each has a number, find_sequence)
        at = first.rfind(digits, 0, len(Path(first).stem))
        field = f"%0{len(digits)}d" if digits.startswith("0") and len(digits) > 1 else "%d"
        return first[:at].replace("%", "%%") + field + first[at + len(digits):].replace("%", "%%"), int(digits)

    def _numbered_names(self, start: int) -> list[str]:
        """The names :meth:`numbered_pattern` reads, from ``start`` on, as many as there are frames."""
        pattern = self.numbered_pattern()[0]
        return [pattern % (start + i) for i in range(self.count)]


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _name_pattern(name: str) -> str:
    """``name`` with its frame number (the last group of digits) as ``#``: ``a_0001.png`` -> ``a_#.png``."""
    stem, suffix = Path(name).stem, Path(name).suffix
    return re.sub(r"\d+(?=\D*$)", "#", stem, count=1) + suffix


def say_if_fps_unused(fps, path: Path) -> None:
    """Warn that ``fps`` (``--fps``) was given for ``path``, which is not a folder of frames:
    files play at their own rate."""
    if fps is not None and not Path(path).is_dir():
        logging.getLogger("vidstyle").warning("--fps applies to image sequences (a folder of frames); %s plays at "
                                              "its own rate", Path(path).name)


def find_sequence(folder: str | Path) -> ImageSequence:
    """The image sequence in ``folder`` (:func:`_find_sequence`), listed once while the folder is
    unchanged: a run opens the input a dozen times (bar and calibration samples)."""
    folder = Path(folder)
    try:  # a file added, removed or renamed changes the folder's time (and, on coarse clocks, its count)
        changed = (folder.stat().st_mtime_ns, len(os.listdir(folder)))
    except OSError:
        changed = None
    return _cached_sequence(str(folder), changed)


@functools.lru_cache(maxsize=16)
def _cached_sequence(folder: str, changed: tuple | None) -> ImageSequence:
    return _find_sequence(Path(folder))


def _find_sequence(folder: Path) -> ImageSequence:
    """The image sequence in ``folder``; a VidstyleError saying what is wrong when there is none:
    no images, several kinds or several names (two takes, a cover image), a frame number twice,
    an entry that is no frame (a folder, a broken link, an empty placeholder file), or numbers
    that sort differently as text (FFmpeg reads the files in name order, so ``f10`` would come
    before ``f2``). Hidden files are left out, as FFmpeg's glob leaves them out."""
    folder = Path(folder)
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    kinds = Counter(p.suffix.lower() for p in entries if p.suffix.lower() in SEQUENCE_SUFFIXES)
    if not kinds:
        videos = sorted(p.name for p in entries if p.suffix.lower() in VIDEO_SUFFIXES)
        if videos:  # clips/ for clips/*: the way to stylize each is to name them
            raise VidstyleError(f"{folder} holds videos ({', '.join(videos[:3])}{', ...' if len(videos) > 3 else ''}), "
                                f"not numbered frames: to stylize each of them, give them as {folder / '*'}")
        raise VidstyleError(f"{folder} is a folder with no image sequence in it (frames must be "
                            f"{', '.join(SEQUENCE_SUFFIXES)} files)")
    if len(kinds) > 1:
        listed = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        raise VidstyleError(f"{folder} holds images of several kinds ({listed}): keep one sequence per folder")
    (suffix,) = kinds
    frames = sorted((p for p in entries if p.suffix.lower() == suffix), key=lambda p: p.name)
    names = [p.name for p in frames]
    if len({p.suffix for p in frames}) > 1:  # FFmpeg's glob is case-sensitive: one spelling
        raise VidstyleError(f"{folder} mixes {' and '.join(sorted({p.suffix for p in frames}))} names: "
                            "rename them to one spelling")
    # what FFmpeg's glob will hand its decoder must be a frame
    odd = next((p for p in frames if not p.is_file()), None)
    if odd is not None:
        what = "a folder" if odd.is_dir() else "a broken link" if odd.is_symlink() else "not a file"
        raise VidstyleError(f"{odd.name} in {folder} is {what}, not a frame: move it out of the sequence's folder")
    empty = [p.name for p in frames if p.stat().st_size == 0]
    if empty:
        raise VidstyleError(f"{len(empty)} frame(s) of {folder} are empty files ({empty[0]}"
                            f"{', ...' if len(empty) > 1 else ''}): placeholders, or a render still running? "
                            "Remove them or let the render finish")
    patterns = Counter(_name_pattern(n) for n in names)
    if len(patterns) > 1:
        listed = ", ".join(f"{k} ({n})" for k, n in patterns.most_common(4))
        raise VidstyleError(f"{folder} holds frames of several names: {listed}{', ...' if len(patterns) > 4 else ''}; "
                            "keep one sequence per folder (the frame number is the last number in a name)")
    by_number = sorted(names, key=_natural_key)
    if by_number != names:
        i = next(i for i, (a, b) in enumerate(zip(names, by_number)) if a != b)
        raise VidstyleError(f"the frames of {folder} sort differently as text than by number ({names[i]} comes "
                            f"before {by_number[i]}): pad the numbers with zeros (frame_0001{suffix})")
    sequence = ImageSequence(folder, frames[0].suffix, tuple(names))
    numbers = Counter(sequence.number(i) for i in range(sequence.count))
    twice = next((n for n, c in numbers.items() if c > 1 and n is not None), None)
    if twice is not None:
        same = [n for i, n in enumerate(names) if sequence.number(i) == twice]
        raise VidstyleError(f"frame number {twice} appears twice in {folder} ({same[0]}, {same[1]}): "
                            "keep one sequence per folder")
    return sequence


# --- writing ---------------------------------------------------------------------------------

def is_sequence_output(path: str | Path) -> bool:
    """Whether ``path`` names an image sequence to write: one ``%d``/``%04d`` field in an image
    file name (``out/frame_%04d.png``)."""
    name = Path(path).name
    return len(NUMBER_FIELD.findall(name)) == 1 and Path(name).suffix.lower() in IMAGE_OUTPUT_FORMATS


def check_frame_pattern(path: str | Path) -> None:
    """A clear error for an image output name that tries a frame-number field and misses
    (``f_%5d.png``, two fields, ``%%``): only ``%d`` and ``%0Nd`` are taken."""
    name = Path(path).name
    if "%" in name and Path(name).suffix.lower() in IMAGE_OUTPUT_FORMATS and not is_sequence_output(path):
        raise VidstyleError(f"{name}: numbered frames take one frame-number field, %d or %0Nd "
                            "(e.g. frame_%04d.png for frame_0001.png, ...)")


def frame_name(pattern: str | Path, number: int) -> str:
    """The file name of frame ``number`` of ``pattern``'s name (``frame_%04d.png``, 7 -> ``frame_0007.png``);
    other ``%`` signs in the name are kept as they are."""
    name = Path(pattern).name
    return NUMBER_FIELD.sub(lambda m: format(number, m.group(1) or "d"), name, count=1)


def _temp_folder_name(pattern: Path) -> Path:
    """What the hidden folder the frames of ``pattern`` are first written in is named after: the
    stem, cut as a temporary file's is, so that a long name that fits as frames fits there."""
    return pattern.parent / pattern.stem.replace("%", "")


def _matching_frames(pattern: Path) -> list[Path]:
    """Files in ``pattern``'s folder that the pattern could have written."""
    parts = NUMBER_FIELD.split(pattern.name, maxsplit=1)  # [head, the field's width group, tail]
    head, tail = parts[0], parts[-1]
    regex = re.compile(re.escape(head) + r"\d+" + re.escape(tail) + r"\Z")
    if not pattern.parent.is_dir():
        return []
    return sorted(p for p in pattern.parent.iterdir() if regex.match(p.name))


def written_already(output: str | Path) -> bool:
    """Whether an output is there under ``output``'s name: the file (a dangling link too), or
    for numbered frames (``out/frame_%04d.png``) any frame of that pattern. What ``vidstyle stylize
    --skip-existing`` takes as done: outputs are renamed into place only once complete, so one
    there is whole, unless another program wrote it."""
    output = Path(output)
    if is_sequence_output(output):
        return bool(_matching_frames(output))
    return output.exists() or output.is_symlink()


def check_sequence_output(pattern: str | Path, input: str | Path | None = None, overwrite: bool = False) -> Path:
    """Validate an image-sequence output before any work: a writable folder (made if missing),
    not the folder of an input sequence, and no frames of that pattern there already unless
    ``overwrite``."""
    pattern = Path(pattern)
    folder = pattern.parent
    # a frame's whole path, and that of the frames first written in a hidden folder (SequenceWriter)
    check_path_length(folder / frame_name(pattern, 1), "output",
                      first_written_as=longest_temp_path(_temp_folder_name(pattern)) / frame_name(pattern, 1))
    if folder.exists() and not folder.is_dir():
        raise VidstyleError(f"output folder {folder} is a file, not a folder")
    check_writable_folder(folder, "output folder")
    if input is not None and Path(input).is_dir() and folder.exists() and folder.samefile(input):
        raise VidstyleError(f"the output frames would go into the input sequence's folder {folder}; write them "
                            "to another folder")
    existing = _matching_frames(pattern)
    if existing and not overwrite:
        raise OutputExistsError(f"{folder} already holds frames of {pattern.name} ({existing[0].name}, "
                            f"{len(existing)} in all); pass --overwrite (overwrite=True in Python) to replace them")
    return pattern


class SequenceWriter:
    """Writes stylized frames as numbered images (``out/frame_%04d.png``), in the place of
    :class:`~vidstyle.io.encode.VideoEncoder` (same calls). Frames go to a hidden folder inside
    the target folder and are moved into place by :meth:`finish`, so a failed or interrupted
    run leaves no frames (and removes a folder it made); with ``overwrite``, the earlier frames
    they replace are moved aside first, so that they all stay if one cannot be replaced
    (:meth:`_put_aside`). An image sequence holds neither sound
    nor timing: each frame's number is ``number_of(pts)`` (an input sequence's own numbers),
    else its position from 1. A ``source`` with transparency keeps it in images that can hold
    it (:data:`~vidstyle.io.images.ALPHA_FORMATS`: PNG, TIFF, WebP). ``icc_profile``: the colour
    space the frames are coded in (an input sequence's, :meth:`ImageSequence.rgb_profile`),
    embedded in each frame as :func:`~vidstyle.io.images.write_image` does for a still.
    ``placed``: as :func:`~vidstyle.io.files.atomic_output`'s, the pattern is appended once
    :meth:`finish` has put every frame in place, so a caller stopped after that knows they are."""

    pix_fmt = "rgb24"
    damaged_audio_packets = 0
    refused_subtitles = 0
    attached = 0  # images hold no attached files
    dropped_subtitles: tuple = ()  # not dropped one by one: none is written (the caller says so once)

    def __init__(self, pattern: str | Path, source, number_of=None, overwrite: bool = False, audio: bool = True,
                 subtitles: bool = True, icc_profile: bytes | None = None, placed: list[Path] | None = None):
        self.pattern, self.overwrite, self._number_of = Path(pattern), overwrite, number_of
        self._placed = placed
        self.icc_profile = icc_profile
        check_image_size(self.pattern, source.width, source.height)  # before the folder is made
        folder = self.pattern.parent
        made = folders_missing(folder)
        create_output_folder(folder)
        # held, so that a folder renamed mid-run is cleaned where it went (HeldOutputFolder)
        self._held: HeldOutputFolder | None = HeldOutputFolder(folder, made)
        self._temp = temp_path_beside(_temp_folder_name(self.pattern))
        try:
            self._temp.mkdir()
        except OSError as exc:
            self.abort()
            raise VidstyleError(f"cannot write frames into {folder}: {exc.strerror or exc}") from None
        self._names: list[str] = []
        self._written: set[str] = set()
        self.frames = 0
        self.audio_modes: dict = {}  # no sound in images
        self.subtitle_modes: dict = {}  # nor subtitles
        self.subtitles = subtitles  # wanted: the caller warns that there are none
        self.alpha = bool(getattr(source, "alpha", False)) and \
            IMAGE_OUTPUT_FORMATS.get(self.pattern.suffix.lower()) in ALPHA_FORMATS
        if audio and getattr(source, "audio_streams", ()):
            logging.getLogger("vidstyle").warning("an image sequence holds no sound: the audio of %s is not written",
                                                  Path(source.path).name)

    def write(self, image, pts: int, duration: int = 0, alpha=None) -> None:
        if self.alpha and alpha is not None:
            image = np.dstack([image, alpha])
        number = self._number_of(pts) if self._number_of is not None else None
        name = frame_name(self.pattern, number if number is not None else self.frames + 1)
        if name in self._written:  # two frames of one number would overwrite each other
            raise VidstyleError(f"two frames would both be written as {name}")
        try:
            write_image(self._temp / name, image, icc_profile=self.icc_profile)
        except OSError as exc:  # a full disk: named as the user's frame, not the hidden folder's
            if not self._held.still_there():  # (No such file or directory)
                raise folder_gone_error(self.pattern.parent / name, self.pattern.parent) from None
            if not self._temp.is_dir():  # (rm -rf of the folder caught midway, a cleaner of hidden files)
                raise VidstyleError(f"writing {self.pattern.parent / name} failed: the hidden folder {self._temp} "
                                    "the frames are first written in was removed meanwhile") from None
            raise VidstyleError(f"writing {self.pattern.parent / name} failed: {exc.strerror or exc}") from None
        self._names.append(name)
        self._written.add(name)
        self.frames += 1

    def write_audio(self, item) -> None:
        pass

    def finish(self) -> None:
        folder = self.pattern.parent
        if not self._held.still_there():  # the frames would go into whatever is under its name now
            self.abort()
            raise folder_gone_error(self.pattern, folder)
        if not self.overwrite:
            there = [n for n in self._names if (folder / n).exists()]
            if there:
                raise self._appeared(there[0])
        aside = self._put_aside()
        moved: list[str] = []
        left: list[Path] = []  # temporary names that stayed beside their frames' (said once, below)
        name = ""
        try:
            for name in self._names:
                # (without overwrite a frame that appears after the check above stays too)
                move_into_place(self._temp / name, folder / name, self.overwrite, left)
                moved.append(name)
        except BaseException as exc:  # none of this run's frames stay: the ones moved go again
            for placed in moved:  # (from where the folder is now: renamed meanwhile, they stayed there)
                with contextlib.suppress(OSError):
                    self._held.remove_temp(folder / placed)
            stuck = self._put_back(aside)
            gone = not self._held.still_there()
            self.abort()
            if isinstance(exc, FileExistsError):
                raise self._appeared(name) from None
            if isinstance(exc, OSError):
                if gone:
                    raise VidstyleError(f"{folder_gone_error(self.pattern, folder)}{stuck}") from None
                raise VidstyleError(f"moving the frames into {folder} failed: {exc.strerror or exc}{stuck}") from None
            raise
        if self._placed is not None:
            self._placed.append(self.pattern)
        self.abort(moved=True)
        if left and self._temp.exists():  # the frames are in place: a warning, not an error
            logging.getLogger("vidstyle").warning(
                "the frames are written, but the temporary folder %s could not be removed (%d of them are in it "
                "under a second name); it can be deleted", self._temp, len(left))
        if aside is not None:  # the earlier frames this run replaced
            shutil.rmtree(aside, ignore_errors=True)
            if aside.exists():
                logging.getLogger("vidstyle").warning(
                    "the frames are written, but the hidden folder %s of the earlier frames they replaced could not "
                    "be removed; it can be deleted", aside)
        older = [p.name for p in _matching_frames(self.pattern) if p.name not in self._written]
        if older:  # --overwrite replaced the frames of these numbers only
            logging.getLogger("vidstyle").warning(
                "%d frame(s) of %s from an earlier run remain in %s (%s%s), beside this run's %d",
                len(older), self.pattern.name, folder, older[0], ", ..." if len(older) > 1 else "", len(self._names))

    def _put_aside(self) -> Path | None:
        """With overwrite: move the earlier frames of this run's numbers into a hidden folder
        (returned; None when there are none), so that they all stay when one of them cannot be
        replaced. Windows refuses while another program holds a frame open (a viewer): frame by
        frame, the frames moved into place before it were deleted again, the old frames they had
        replaced with them. Then the old frames go back, and this run's are kept in a folder beside
        them (:meth:`_keep`), which the error names."""
        folder = self.pattern.parent
        # a folder in a frame's place is no frame to replace: moving it in fails, and all goes back
        there = [n for n in self._names if (folder / n).is_symlink() or (folder / n).is_file()] \
            if self.overwrite else []
        if not there:
            return None
        aside = temp_path_beside(_temp_folder_name(self.pattern))
        done: list[str] = []
        name = there[0]
        try:
            aside.mkdir()
            for name in there:
                os.replace(folder / name, aside / name)
                done.append(name)
        except BaseException as exc:
            stuck = self._put_back(aside, done)
            kept = self._keep() if isinstance(exc, PermissionError) else None
            gone = not self._held.still_there()
            self.abort()
            if kept is not None:
                raise VidstyleError(f"cannot replace {folder / name} ({exc.strerror or exc}: is it open in another "
                                    f"program?); the earlier frames are left as they were, and this run's "
                                    f"{len(self._names)} frames are kept in {kept}{stuck}") from None
            if isinstance(exc, OSError):
                if gone:
                    raise VidstyleError(f"{folder_gone_error(self.pattern, folder)}{stuck}") from None
                raise VidstyleError(f"moving the frames into {folder} failed: {exc.strerror or exc}{stuck}") from None
            raise
        return aside

    def _put_back(self, aside: Path | None, names: list[str] | None = None) -> str:
        """Move the earlier frames ``names`` (all of them) from ``aside`` back to their places and
        remove it; what could not go back stays there, said in the text returned for the error."""
        if aside is None:
            return ""
        # in the folder held: one renamed meanwhile gets its frames back where it went
        try:
            names = self._held.names_in(aside.name) if names is None else names
        except OSError:
            names = []
        stuck = 0
        for name in names:
            try:
                self._held.replace(f"{aside.name}/{name}", name)
            except OSError:
                stuck += 1
        if stuck:
            return f"; {stuck} of the earlier frames could not be put back and are in {aside}"
        with contextlib.suppress(OSError):
            self._held.remove_temp(aside)
        return ""

    def _keep(self) -> Path | None:
        """Rename the folder of this run's finished frames to the next free visible name beside
        them (``f_%04d.png`` -> ``f-2``, ``f-3``, ...: :func:`~vidstyle.io.files.numbered_name`);
        None when the folder refuses it too."""
        base = re.sub(r"[\s._-]+$", "", NUMBER_FIELD.sub("", self.pattern.stem)).lstrip(".") or "frames"
        try:
            return folder_beside(self._temp, self.pattern.parent / base)
        except OSError:
            return None

    def _appeared(self, name: str) -> OutputExistsError:
        # (a FileExistsError too, as a video output that appeared meanwhile is: vidstyle.io.files._place)
        return OutputExistsError(f"frames of {self.pattern.name} appeared in {self.pattern.parent} while processing "
                                 f"({name}); pass --overwrite (overwrite=True in Python) to replace them")

    def abort(self, moved: bool = False) -> None:
        """Remove the hidden folder, and (unless the frames were ``moved`` into place) the folders
        made for the frames while empty, where they are now; once (later calls do nothing)."""
        held, self._held = self._held, None
        if held is None:
            return
        try:
            with contextlib.suppress(OSError):  # never hide the error that got us here
                held.remove_temp(self._temp)
            if not moved:
                held.remove_made()
        finally:
            held.close()
