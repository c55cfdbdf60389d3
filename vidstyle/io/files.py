"""Input checks and atomic output files.

Outputs are written to a temporary file in the target folder and renamed over the target only
when everything succeeded, so a failure (or Ctrl-C) never leaves a half-written video behind
and never destroys an existing file. The input is only ever opened for reading.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from vidstyle.errors import BadTypeError, BadValueError, MissingFileError, OutputExistsError, VidstyleError, counted
from vidstyle.signals import stop_signals_held
from vidstyle.io.images import (ANIMATION_EXTENSIONS, IMAGE_EXTENSIONS, IMAGE_OUTPUT_FORMATS, is_one_frame_animation,
                                is_video_named_as_image)

log = logging.getLogger("vidstyle")

# Extensions we know how to write (FFmpeg muxer names): what --output may end with.
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
                  # animations, to share a short clip: no sound (a still image input still writes a
                  # still .webp, see vidstyle.io.images.IMAGE_OUTPUT_FORMATS)
                  ".gif": "gif", ".webp": "webp"}
#: Extensions of the video files commonly met as inputs (training's clips are found by them; a
#: folder of them given as a frame folder is told how to give them)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".3gp")


#: Longest file name (bytes) on common file systems (ext4, XFS, Btrfs, NTFS, APFS).
NAME_MAX = 255
#: Longest path (bytes) Linux takes in one call, its terminating NUL included.
PATH_MAX = 4096
#: Longest path (characters) Windows takes, its terminating NUL included, unless long paths are
#: enabled (MAX_PATH).
WINDOWS_MAX_PATH = 260
_LONG_PATHS_KEY = r"SYSTEM\CurrentControlSet\Control\FileSystem"


def windows_long_paths_enabled() -> bool:
    """Whether Windows takes paths longer than :data:`WINDOWS_MAX_PATH` (the registry's
    ``LongPathsEnabled``; Python itself declares it can use them). False where it cannot tell
    (no ``winreg``, the value missing or unreadable): a path refused here would have failed later."""
    try:
        import winreg  # Windows only: imported where used
    except ImportError:
        return False
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _LONG_PATHS_KEY) as key:
            return winreg.QueryValueEx(key, "LongPathsEnabled")[0] == 1
    except OSError:
        return False


def check_path_length(path: str | Path, what: str = "", first_written_as: str | Path | None = None) -> None:
    """Refuse a path the operating system would refuse with ENAMETOOLONG, before any work: a name
    between separators longer than :data:`NAME_MAX` bytes, or the whole longer than
    :data:`PATH_MAX`, or on Windows a full path of :data:`WINDOWS_MAX_PATH` characters or more
    where long paths are not enabled (:func:`windows_long_paths_enabled`). Its "[Errno 36] File
    name too long" came out of the first ``exists()`` of whichever check asked first, naming no
    limit. ``what`` ("output") starts the message. ``first_written_as``: the longest path the file
    is first written under (its temporary name, :func:`longest_temp_path`, about 27 characters
    longer; a frame inside a sequence's hidden folder), which the whole path's limits count: a
    path that fitted by less failed only when the work was done."""
    encoded = os.fsencode(path)
    prefix = f"{what}: " if what else ""
    for sep in filter(None, (os.altsep, os.sep)):
        encoded = encoded.replace(os.fsencode(sep), b"/")
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            name = os.fsdecode(part)
            shown = name if len(name) <= 40 else f"{name[:24]}...{name[-12:]}"  # the message stays one readable line
            raise VidstyleError(f"{prefix}the name {shown} is too long ({len(part)} bytes; file systems take "
                                f"at most {NAME_MAX})")
    # the path, then the longest one the run makes for it (its temporary name, within NAME_MAX
    # already), said as that
    made = [(os.fspath(path), "")]
    if first_written_as is not None:
        made.append((os.fspath(first_written_as), "the temporary name it is first written under"))
    for full_path, aside in made:
        size = len(os.fsencode(full_path))
        if size >= PATH_MAX:
            raise VidstyleError(f"{prefix}the path is too long ({size} bytes{' with ' + aside if aside else ''}; "
                                f"at most {PATH_MAX - 1})")
        # Windows counts the whole path, the current folder a relative one is in included; there it
        # failed later, in whichever call met it first, with a raw "No such file or directory"
        if sys.platform == "win32" and not full_path.startswith("\\\\?\\"):
            full = len(os.path.abspath(full_path))
            if full >= WINDOWS_MAX_PATH and not windows_long_paths_enabled():
                raise VidstyleError(f"{prefix}the path is too long for Windows ({full} characters with its folder"
                                    f"{' and ' + aside if aside else ''}; at most {WINDOWS_MAX_PATH - 1} where long paths are not enabled): "
                                    "shorten it, or enable long paths (LongPathsEnabled = 1 in the registry's HKLM\\"
                                    + _LONG_PATHS_KEY + ", or the policy 'Enable Win32 long paths')")


def ffmpeg_path(path: str | Path) -> str:
    """``path`` as FFmpeg must be given it: with the ``file:`` protocol when it holds a colon,
    which FFmpeg would otherwise read as a protocol name (``clip:1.mp4``, ``take 2: final.mov``)."""
    text = str(path)
    return "file:" + text if ":" in text else text


def special_file_kind(path: str | Path) -> str | None:
    """What ``path`` is when it is there but neither a file nor a folder ("a pipe", "a device",
    "a socket"), else None. Such a path is refused where a file is read: opening a pipe no one
    writes to waits for ever (and a decoder or image reader seeks, which a pipe cannot)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, unreadable folder, a NUL in the name: said elsewhere
        return None
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def not_a_file_error(path: str | Path, what: str) -> VidstyleError:
    """The error for a ``what`` ("image", "painting") at ``path`` that is not a file: missing, a
    folder, or :func:`special_file_kind`'s kind; ``-``, standard input, said as such."""
    if is_standard_stream_name(path):
        return _standard_input_error()
    kind = "a folder" if Path(path).is_dir() else special_file_kind(path)
    if kind:
        return VidstyleError(f"{what} is {kind}, not a file: {path}")
    return MissingFileError(f"{what} not found: {path}")


def empty_file_problem(path: str | Path) -> str | None:
    """Why a file that FFmpeg or Pillow cannot read cannot be, where it is empty: they say it as a
    damaged file ("Invalid data found when processing input", "cannot identify image file"). Else None."""
    with contextlib.suppress(OSError):
        if Path(path).stat().st_size == 0:
            return "it is empty (0 bytes): a copy or download that never started, or a file not yet written"
    return None


def check_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path when it is a file; else :func:`not_a_file_error`'s one line, naming it
    as ``what``."""
    if not Path(path).is_file():
        raise not_a_file_error(path, what)  # (as given: the text "-" is standard input, Path("./-") too)
    return Path(path)


def check_source_video(path: str | Path) -> Path:
    """``path`` as a Path when it is a file to replay as a camera (`vidstyle live --source`);
    else one line saying what it is instead."""
    check_not_standard_input(path)
    path = Path(path)
    if path.is_dir():
        raise VidstyleError(f"source {path} is a folder, not a video file")
    return check_file(path, "source video")


def check_input(path: str | Path, folders: bool = False, what: str = "input") -> Path:
    """Return ``path`` as a Path if it is a readable file (or, with ``folders``, a folder: an image
    sequence, see :mod:`vidstyle.io.sequence`); otherwise raise a one-line VidstyleError (a
    BadTypeError for a value that is not a path at all: bytes, a number, None) naming it as
    ``what`` (eval's "stylized video" is no input)."""
    if not isinstance(path, (str, os.PathLike)):
        raise BadTypeError(f"an {what} is a path (str or pathlib.Path), got {path!r}")
    if os.fspath(path) == "":  # Path("") is ".": the working folder, read as an image sequence
        raise BadValueError(f"the {what} path is empty")
    if "://" in str(path):
        raise VidstyleError(f"{path} is a URL; vidstyle reads local files (download it first)")
    check_path_length(path, what)
    check_not_standard_input(path)
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{what} file not found: {path}")
    if path.is_dir() and not folders:
        raise VidstyleError(f"{what} is a folder, not a video file: {path}")
    kind = special_file_kind(path)
    if kind:  # (a pipe would be waited on for ever, and signals with it)
        raise VidstyleError(f"{what} {path} is {kind}, not a file: vidstyle reads files, which it seeks in "
                            "(save the stream to a file first)")
    if not os.access(path, os.R_OK):
        raise VidstyleError(f"{what} file is not readable: {path}")
    return path


def check_not_standard_input(path: str | Path) -> None:
    """Refuse ``-``, the usual "standard input" of command-line tools (``cat clip.mp4 | vidstyle
    stylize - ...``), as ``-o -`` is refused: said as "input file not found: -", a script's pipe
    read as a typo. A file named ``-`` is ``./-`` (see :func:`is_standard_stream_name`)."""
    if is_standard_stream_name(path):
        raise _standard_input_error()


def is_standard_stream_name(path) -> bool:
    """Whether ``path`` is the text ``-``, standard input or output as command lines name them.
    Only the text: a :class:`~pathlib.Path` names a file, and ``Path("./-")``, the file the
    errors tell of, is ``Path("-")`` (refused as standard input deep in the pipeline, a file named
    ``-`` could not be stylized at all)."""
    return isinstance(path, str) and path == "-"


def _standard_output_error(named: str) -> VidstyleError:
    """The error for an output ``named`` as standard output (``-o -``, ``--stats-json -``)."""
    return VidstyleError(f"cannot write to standard output ({named}): outputs are written to a file and renamed "
                         "into place when complete; give a file name (./- names a file called -)")


def _standard_input_error() -> VidstyleError:
    return VidstyleError("cannot read standard input (-): vidstyle reads files, which it seeks in (save the "
                         "stream to a file first; ./- names a file called -)")


def check_named_inputs(*named: tuple[str, str | Path], folders: bool = False) -> list[Path]:
    """:func:`check_input` of each ``(what, path)`` in turn, a missing one said as "WHAT not found:
    PATH": which of eval's two videos is missing, by what it is."""
    checked = []
    for what, path in named:
        check_not_standard_input(path)
        if not Path(path).exists():
            raise MissingFileError(f"{what} not found: {path}")
        checked.append(check_input(path, folders=folders, what=what))
    return checked


def file_identity(path: str | Path) -> str:
    """``path`` resolved, with its size and modification time: the key of what is cached or
    calibrated from a file, so that one written again under the same name (a render done over)
    counts as another file."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of the file at ``path`` (hex), or "unreadable": what a file holds, whatever its
    name or time stamp (a painting saved again over itself is another input)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:  # said by whatever reads it for real (training skips an unreadable photo)
        return "unreadable"
    return digest.hexdigest()


def same_file(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` name the same file (also through symlinks or hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_output_file(output: str | Path, inputs: Iterable[str | Path | None] = (), overwrite: bool = False,
                      create_folder: bool = False) -> Path:
    """Validate any output path (video, model, image, JSON) before any work starts.

    Refuses: ``-`` (standard output, as tools read it: it was written to a file named "-"), one
    of ``inputs`` itself (by path, symlink or hard link), a folder, an existing file without
    ``overwrite``, an unwritable target folder, and a missing one unless ``create_folder`` (the
    caller creates it when it writes).
    """
    if is_standard_stream_name(output):
        raise _standard_output_error("-")
    if str(output).endswith(("/", os.sep)):  # Path() would drop the slash and write a file of that name
        raise VidstyleError(f"output {output} names a folder; give a file name")
    check_path_length(output, "output", first_written_as=longest_temp_path(output) if Path(output).name else None)
    output = Path(output)
    for path in inputs:
        if path is not None and same_file(Path(path), output):
            raise VidstyleError(f"output {output} is the input file {path}; choose another output path")
    if output.is_dir():
        raise VidstyleError(f"output {output} is a folder; give a file name")
    check_not_special_output(output)
    if (output.exists() or output.is_symlink()) and not overwrite:  # a dangling link is there too
        raise OutputExistsError(f"output {output} already exists; pass --overwrite (overwrite=True in Python) "
                            "to replace it")
    folder = output.parent if str(output.parent) else Path(".")
    while create_folder and not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing ancestor is where the folders will be made
    if folder.exists() and not folder.is_dir():
        raise VidstyleError(f"output folder {folder} is a file, not a folder")
    if not folder.is_dir():
        raise MissingFileError(f"output folder does not exist: {folder}")
    check_writable_folder(folder, "output folder")
    say_stale_partial_files(output)
    return output


def check_not_special_output(output: str | Path) -> None:
    """Refuse an output that is (or links to) a pipe, a device or a socket
    (:func:`special_file_kind`): outputs are renamed over their name when complete, which replaced
    a named pipe another program read from (it then waited for ever) with a regular file, and as
    root would replace /dev/stdout itself, the link, not write through it."""
    kind = special_file_kind(output)
    if kind:
        # (not "MP4 writes its index at the end", as -o - is told: also said of images and .onnx files)
        raise VidstyleError(f"output {output} is {kind}, not a file: outputs are written to a file and renamed into "
                            "place when complete; give a file name")


def check_onnx_output(path: str | Path, overwrite: bool) -> Path:
    """:func:`check_output_file` for an ONNX file, whose name must end in .onnx."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise VidstyleError(f"the ONNX output must end in .onnx, got {path.name}")
    return check_output_file(path, overwrite=overwrite)  # in an existing folder, as stylize's outputs


def check_writable_folder(folder: str | Path, what: str = "folder") -> Path:
    """``folder`` as a Path if files can be written in it, or in the nearest existing folder above
    it (where it will be made); else one clear VidstyleError naming it as ``what``. A file is
    written and removed to tell, as permissions do not show everything (an immutable folder, a
    read-only mount, root)."""
    check_path_length(folder, what)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VidstyleError(f"{what} {folder} is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise VidstyleError(f"{what} {folder} cannot be made: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise VidstyleError(f"{what} {folder} is not writable: no file can be created in it ({exc.strerror or exc})") from None
    return folder


def folders_missing(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist yet, innermost first: what
    :func:`create_output_folder` will make, for :func:`remove_empty_folders` to take back."""
    return [f for f in (folder, *folder.parents) if not f.exists()]


def remove_empty_folders(made: list[Path]) -> None:
    """Remove the folders a run made (:func:`folders_missing`, innermost first) while nothing is
    in them: a failed run leaves no empty folders behind, and never removes a file."""
    for f in made:
        if not f.is_dir() or any(f.iterdir()):
            break
        with contextlib.suppress(OSError):  # never hide the error that got us here
            f.rmdir()


def create_output_folder(folder: Path) -> Path:
    """Make ``folder`` (and those above it) if missing; a failure is one VidstyleError naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file by that name, or above it: said as that
        blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise VidstyleError(f"cannot create the output folder {folder}: {blocking} is a file, not a folder") from None
    except OSError as exc:
        raise VidstyleError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from None
    return folder


def cache_folder(kind: str) -> Path:
    """Where vidstyle keeps what it can make again (``kind``: "flow" for training's optical flow,
    "onnx" for exported networks): ``$VIDSTYLE_CACHE/KIND``, else ``$XDG_CACHE_HOME/vidstyle/KIND``,
    else ``~/.cache/vidstyle/KIND``. A relative ``$XDG_CACHE_HOME`` is ignored, as the XDG base
    directory spec says: it put a cache folder under whichever folder each run started in.
    Raises RuntimeError, as ``Path.home()`` does where it finds none, when the home folder does
    not exist (``HOME=/nonexistent``, a service's): the cache made that folder itself, a home; or
    is no folder (``HOME=/dev/null``)."""
    if os.environ.get("VIDSTYLE_CACHE"):
        return Path(os.environ["VIDSTYLE_CACHE"]) / kind
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "vidstyle" / kind
    home = Path.home()
    if not home.is_dir():
        raise RuntimeError(f"the home folder {home} " + ("does not exist" if not home.exists() else
                                                         "is a file, not a folder" if home.is_file() else
                                                         "is not a folder"))
    return home / ".cache" / "vidstyle" / kind


class FolderReplaced(Exception):
    """Raised by :func:`folder_lock` when the folder it locked was removed (or replaced) meanwhile."""


@contextlib.contextmanager
def folder_lock(folder: Path, busy: str, made: Iterable[Path] = ()) -> Iterator[Callable[[], bool]]:
    """Hold an exclusive lock on existing ``folder`` for the block, or raise VidstyleError(``busy``)
    at once when another process holds it: two runs that would write into one folder (a training
    run's checkpoints) and delete each other's files there. An advisory ``flock`` on the folder
    itself, so no lock file is left behind (a killed process's lock goes with it). Windows has no
    ``flock`` and opens no folder: there ``msvcrt.locking`` holds the first byte of a lock file in
    it, :data:`LOCK_FILE_NAME` (the system drops the lock with the process; the file is removed at
    the end where no other run has it open). Where there are no such locks (some network file
    systems) the block runs unlocked. Raises :class:`FolderReplaced`, with nothing held, when the
    run that held the lock removed the folder (empty, its own) before this one held the lock on
    it: the caller makes it again.

    ``made``: the folders the caller made for it (:func:`folders_missing`), removed as the block
    ends while empty (a run that failed before its first checkpoint leaves none behind); by the
    lock's holder alone, never by a run it refused, as those folders, empty until the first
    checkpoint, are the holder's (made at the same moment: two runs started together), which would
    make them again at its next checkpoint, unlocked. With ``flock`` before the lock goes; with a
    lock file once it is gone, as a folder that holds it is not empty (then another run that would
    lock the folder finds it removed, or holds it by a file in it that keeps it).

    Yields a function that says whether ``folder`` still names the folder locked
    (:func:`_still_there`): one renamed or removed meanwhile is no longer this run's to write in."""
    made = list(made)
    try:
        import fcntl
    except ImportError:
        with _windows_folder_lock(folder, busy, made):
            yield lambda: _still_there(folder, None)  # (Windows refuses to rename a folder a file is open in)
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:  # removed before it could be opened (the same race, a moment earlier)
        raise FolderReplaced(folder) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VidstyleError(busy) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                raise
        locked = os.fstat(fd)
        try:
            now = os.stat(folder)
        except FileNotFoundError:
            raise FolderReplaced(folder) from None
        if not os.path.samestat(now, locked):
            raise FolderReplaced(folder)
        key = _folder_key(locked)
        _HELD_ALONE[key] = _HELD_ALONE.get(key, 0) + 1
        try:
            yield lambda: _still_there(folder, fd)
        finally:
            _HELD_ALONE[key] -= 1
            if not _HELD_ALONE[key]:
                del _HELD_ALONE[key]
            remove_empty_folders(made)
    finally:
        os.close(fd)  # which releases the lock


#: (device, inode) -> how many :func:`folder_lock` blocks of this process hold that folder's lock
#: exclusively now (:func:`_writing_in` needs no mark of its own there)
_HELD_ALONE: dict[tuple[int, int], int] = {}


def _folder_key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def folder_in_use(folder: Path) -> Iterator[None]:
    """Make ``folder`` (and those above it) if missing, for a run to write its outputs into, and
    remove those it made again as the block ends while they are empty (a failed run leaves no empty
    folders behind), unless another run is writing into ``folder`` too. Two runs into one new folder
    at once (``xargs -P``, ``make -j``): one whose input failed removed the empty folder it had
    made while the other, started meanwhile, was about to write its output there, which then
    failed ("output folder does not exist"). Each run holds a shared ``flock`` on the folder (as
    :func:`folder_lock` holds an exclusive one) and removes it only where it can take the lock
    for itself alone; a folder another run removed before this one held it is made again, then
    this run's to remove. Where there is no ``flock`` (Windows), or the file system has no locks,
    the folders made are removed while empty, as before."""
    made = folders_missing(folder)
    create_output_folder(folder)
    try:
        import fcntl
    except ImportError:
        fcntl = None
    fd = None
    try:
        while fcntl is not None:
            try:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                fcntl.flock(fd, fcntl.LOCK_SH)  # waits out another run's removal under way
            except FileNotFoundError:  # removed by another run's end meanwhile
                pass
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                    raise
                break  # no locks here: as before
            else:
                if _still_there(folder, fd):
                    break
            if fd is not None:
                os.close(fd)
                fd = None
            made = [*made, *(f for f in folders_missing(folder) if f not in made)]
            create_output_folder(folder)
        yield
    finally:
        try:
            if fd is not None and made:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # another run writes into it: its folder now
                    made = []
                except OSError:
                    pass
            remove_empty_folders(made)
        finally:
            if fd is not None:
                os.close(fd)  # which releases the lock


#: The file :func:`folder_lock` locks where folders cannot be (Windows).
LOCK_FILE_NAME = ".vidstyle.lock"


@contextlib.contextmanager
def _windows_folder_lock(folder: Path, busy: str, made: list[Path]) -> Iterator[None]:
    """:func:`folder_lock` with ``msvcrt.locking`` on :data:`LOCK_FILE_NAME` in ``folder``; unlocked
    where there is no ``msvcrt`` either."""
    try:
        import msvcrt  # Windows only: imported where used
    except ImportError:
        try:
            yield
        finally:
            remove_empty_folders(made)
        return
    lock_file = Path(folder) / LOCK_FILE_NAME
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    except FileNotFoundError:  # the folder was removed before it could be opened in it
        raise FolderReplaced(folder) from None
    locked = False
    try:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # the byte at the start: held by one process at a time
            locked = True
        except OSError as exc:
            # another process holds it: EACCES (EDEADLOCK where the CRT tried again); others
            # (a file system without locks) run unlocked, as flock's do
            if exc.errno in (errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)):
                raise VidstyleError(busy) from None
        yield
    finally:
        if locked:  # released now: Windows releases a closed file's locks only some time later
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)
        if locked:  # never the holder's, by a run it refused; Windows removes no file another run has open
            with contextlib.suppress(OSError):
                lock_file.unlink()
            remove_empty_folders(made)


#: The frame-number field of an output pattern: ``%d`` or ``%04d`` (as FFmpeg and renderers write it).
NUMBER_FIELD = re.compile(r"(?<!%)%(0\d+)?d")  # not after another %: a name with "%%04d" is refused


def frame_field(path: str | Path) -> str | None:
    """The first frame-number field in a video's name ``path`` (``%d``, ``%04d``), or None: a
    ``%d`` not followed by a letter, as in ``out_%d.mp4`` (in ``50%done.mp4`` it is part of a
    word), and a ``%04d`` anywhere, which no word spells (``shot_%04dv2.mp4`` was written as typed);
    an image's name with either is a pattern all the same, as FFmpeg reads image names."""
    m = re.search(NUMBER_FIELD.pattern + r"(?(1)|(?![^\W\d_]))", Path(path).name)
    return m.group() if m else None


def check_output(output: str | Path, input: str | Path | None = None, overwrite: bool = False,
                 formats: Iterable[str] = OUTPUT_FORMATS) -> Path:
    """Validate an output path before any work starts: :func:`check_output_file` (never the
    input, a missing folder is an error) plus an extension of ``formats`` (default: the video
    containers we can mux)."""
    if is_standard_stream_name(output):  # the usual "standard output" of command-line tools
        raise _standard_output_error("-o -")
    check_not_special_output(output)  # before its name's extension: /dev/null is said as a device
    suffix = Path(output).suffix.lower()
    if suffix not in formats:
        # an image name for a video: say where images come from
        stem = Path(output).stem
        # frame_####.png (Nuke's and After Effects' spelling) means frame_%04d.png
        numbered = re.sub(r"#+", lambda m: f"%0{len(m.group())}d", stem, count=1) if "#" in stem else f"{stem}_%04d"
        hint = (f"; images are written from a still image input, or as numbered frames "
                f"({numbered}{Path(output).suffix})") if suffix in IMAGE_OUTPUT_FORMATS else ""
        elsewhere = (f"write it to a video, an animation (.gif, .webp) or numbered frames "
                     f"({numbered}{Path(output).suffix})")
        if hint and input is not None and Path(input).suffix.lower() in ANIMATION_EXTENSIONS \
                and Path(input).is_file() and not is_one_frame_animation(input):  # (one of one frame is a still)
            hint = f"; {Path(input).name} is an animation of several frames: {elsewhere}"
        elif hint and input is not None and Path(input).suffix.lower() in IMAGE_EXTENSIONS \
                and is_video_named_as_image(Path(input)):  # (its own name said "a still image input")
            hint = f"; {Path(input).name} is a video under an image's name: {elsewhere}"
        raise VidstyleError(f"cannot write {Path(output).suffix or 'extension-less'} files ({output}); "
                            f"use one of {', '.join(sorted(formats))}{hint}")
    field = frame_field(output)
    if field and suffix not in IMAGE_OUTPUT_FORMATS:
        # FFmpeg's users read %d as numbered frames; a video with it was written under the name as
        # typed, one file out_%d.mp4, without a word
        raise VidstyleError(f"{Path(output).name}: {field} numbers the frames of an image sequence "
                            f"({Path(output).with_suffix('.png').name}); a video is one file: name it without "
                            f"{field}")
    return check_output_file(output, inputs=[input], overwrite=overwrite)  # as given: a trailing / counts


def check_recording_name(path: str | Path) -> str | Path:
    """``path`` if it can name a live recording (``vidstyle live --record``: one video or
    animation file), else one clear VidstyleError. :func:`check_output` answers for ``vidstyle
    stylize``, which writes numbered images: it sent ``--record x.png`` to ``x_%04d.png``, refused
    in turn as ``x_%04d_%04d.png``, and let ``--record x_%04d.webp`` through, whose encoder wrote
    one hidden image per frame and then failed with a FileNotFoundError, the recording lost."""
    name, suffix = Path(path).name, Path(path).suffix.lower()
    if suffix in IMAGE_OUTPUT_FORMATS and suffix not in OUTPUT_FORMATS:
        raise VidstyleError(f"cannot record to {Path(path).suffix} files ({path}): a recording is a video or an "
                            f"animation, one of {', '.join(sorted(OUTPUT_FORMATS))}; the s key saves stills "
                            "(PNG snapshots in --output-dir)")
    field = frame_field(path)
    if field:  # live writes no image sequences: check_output's numbered-frames hint would lead astray
        raise VidstyleError(f"{name}: a recording is one file, not numbered frames: name it without {field}")
    return path


def temp_path_beside(path: str | Path) -> Path:
    """A hidden name in ``path``'s folder that no file has, keeping ``path``'s extension (muxers,
    Pillow and NumPy choose formats by it): ``.STEM.vidstyle-RANDOM.partial.EXT``, with the stem
    shortened to keep the name within :data:`NAME_MAX` bytes. A fixed name such as ``OUT.part``
    could be an existing file, even one of the inputs, and would be overwritten."""
    path = Path(path)
    while True:
        temp = _temp_name(path, secrets.token_hex(_TEMP_TOKEN_LENGTH // 2))
        if not (temp.exists() or temp.is_symlink()):
            return temp


#: Hex digits of the random part of :func:`temp_path_beside`'s names.
_TEMP_TOKEN_LENGTH = 8


def longest_temp_path(path: str | Path) -> Path:
    """A name as long as any :func:`temp_path_beside` gives ``path`` (for length checks)."""
    return _temp_name(Path(path), _TEMP_TOKEN_LENGTH * "0")


def _temp_name(path: Path, token: str) -> Path:
    """:func:`temp_path_beside`'s name for ``path`` with the random part ``token``: its length is
    the same whatever the token, as :func:`check_path_length` counts it."""
    tail = f".vidstyle-{token}.partial{path.suffix}"
    room = NAME_MAX - 1 - len(tail.encode())
    # the file system's bytes (a name need not be valid UTF-8), cut to fit, and where the name
    # is UTF-8 not inside a character
    name = os.fsencode(path.stem)
    cut = name[:max(room, 0)]
    try:
        name.decode("utf-8")
        stem = cut.decode("utf-8", errors="ignore")
    except UnicodeDecodeError:
        stem = os.fsdecode(cut)
    return path.with_name(f".{stem}{tail}")


#: What ``link()`` fails with where a file system has no hard links (Linux's FAT: EPERM).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EXDEV, errno.EMLINK})
#: ... and on Windows (``winerror``; Python calls both EINVAL): ERROR_INVALID_FUNCTION (exFAT and FAT32,
#: as SD cards and USB disks are formatted), ERROR_NOT_SUPPORTED (network shares without them).
_NO_HARD_LINKS_WINDOWS = frozenset({1, 50})


def move_into_place(source: Path, target: Path, overwrite: bool, left: list[Path] | None = None) -> None:
    """Rename finished ``source`` onto ``target``. With ``overwrite`` whatever is there is
    replaced; without, FileExistsError if ``target`` exists (a dangling link included), decided in
    one step where the file system allows it. A check then ``os.replace`` leaves a moment between
    the two in which another program's file (another vidstyle run writing the same output) can
    appear and be replaced unasked. So a hard link is made under the new name, which fails if the
    name is taken, and then the old name removed; file systems without hard links get the check
    and the rename. ``left``: a temporary name that could not be removed after the link is added
    to it (the caller says so, once), instead of a warning for each file."""
    if overwrite:
        os.replace(source, target)
        return
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if isinstance(exc, FileExistsError) or (exc.errno not in _NO_HARD_LINKS and
                                                 getattr(exc, "winerror", None) not in _NO_HARD_LINKS_WINDOWS):
            raise
        if target.exists() or target.is_symlink():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.replace(source, target)
        return
    try:
        source.unlink()
    except OSError as exc:  # the output is complete and in place: said, not an error that ends the run
        if left is not None:
            left.append(source)
            return
        log.warning("%s is written, but its temporary name %s could not be removed (%s); it is the same file "
                    "under a second name, and can be deleted", target, source, exc.strerror or exc)


@contextlib.contextmanager
def write_then_rename(path: str | Path, make_folder: bool = False, durable: bool = False,
                      overwrite: bool = True) -> Iterator[Path]:
    """Yield a new temporary path beside ``path`` (:func:`temp_path_beside`); when the block
    succeeds it is renamed onto ``path``, otherwise (an error or Ctrl-C) it is removed.
    ``overwrite=False``: a file that appeared under ``path`` since the caller checked it is kept,
    and the error says so (:func:`move_into_place`).
    ``make_folder``: create ``path``'s folder (and those above it) first. ``durable``: the file's
    data reach the disk before the rename, and the rename after it (:func:`_sync`), so that a
    power cut or a crash of the machine leaves the old file or the new one, never an empty file
    under the name (file systems may commit a rename before the data it names): for files that
    hours of work went into, training's checkpoints and weights."""
    path = Path(path)
    if make_folder:
        create_output_folder(path.parent)  # a file in the way is said as that
    temp = temp_path_beside(path)
    if not temp.parent.is_dir():  # the caller checked it before its work (an export, a live session): gone since
        raise folder_gone_error(path, temp.parent)
    with _folder_held(temp.parent) as folder:  # as atomic_output's: a folder renamed meanwhile keeps no temporary file
        try:
            yield temp
            if not _still_there(temp.parent, folder):
                raise folder_gone_error(path, temp.parent)
            if durable:
                _sync(temp)
            _place(temp, path, overwrite)
            if durable:
                _sync(path.parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):  # never hide the error that got us here
                _remove_temp(temp, folder)
            if isinstance(exc, OSError) and not isinstance(exc, VidstyleError) and folder is not None \
                    and not _still_there(temp.parent, folder):  # (No such file or directory, writing into it)
                raise folder_gone_error(path, temp.parent) from None
            _raise_write_error(exc, path)
            raise


def _place(temp: Path, path: Path, overwrite: bool) -> None:
    """Rename finished ``temp`` onto ``path``; without ``overwrite`` a file that appeared there
    while we were working stays. So does a file that cannot be replaced (Windows refuses while
    another program holds it open: a player showing the last render). Either way the finished
    output is kept beside it under the next free numbered name (:func:`numbered_name`), which the
    error names: it was deleted, hours of work lost."""
    try:
        move_into_place(temp, path, overwrite)
    except FileExistsError:
        appeared = f"output {path} appeared while processing"
        try:
            kept = place_beside(temp, path)
        except OSError as exc:  # (the folder refuses a new name too: nothing left to do but say it)
            raise OutputExistsError(f"{appeared}; the finished output could not be kept beside it "
                                    f"({exc.strerror or exc}) and is discarded; pass --overwrite "
                                    "(overwrite=True in Python) to replace it") from None
        raise OutputExistsError(f"{appeared} (another program's file?), left as it is; the finished "
                                f"output is kept as {kept}") from None
    except PermissionError as exc:
        if not (overwrite and path.exists()):
            raise
        kept = place_beside(temp, path, refused=exc)
        raise VidstyleError(f"cannot replace {path} ({exc.strerror or exc}: is it open in another program?); "
                            f"the finished output is kept as {kept}") from None


def place_beside(source: Path, path: Path, refused: OSError | None = None) -> Path:
    """Move finished ``source`` to the first free numbered name beside ``path`` (PATH-2, PATH-3...:
    :func:`numbered_name`), never over a file, and return that name: for what cannot be made
    again when ``path`` is taken or cannot be replaced. The folder's other errors pass, but for
    ``refused``, the error that replacing ``path`` gave: where the folder refuses the numbered
    name too, that one is raised, so the failed write names the file asked for, not PATH-2. Up to
    PATH-:data:`MAX_NUMBERED`: where every name is taken as it is tried (another program making
    each), FileExistsError, not a search for ever."""
    for n in range(2, MAX_NUMBERED + 1):
        kept = numbered_name(path, n)
        try:
            move_into_place(source, kept, overwrite=False)
        except FileExistsError:
            continue
        except OSError:
            if refused is None:
                raise
            raise refused from None
        return kept
    raise refused or FileExistsError(errno.EEXIST, f"{numbered_name(path, 2).name} to "
                                     f"{numbered_name(path, MAX_NUMBERED).name} are all taken")


#: the last numbered name :func:`place_beside` tries
MAX_NUMBERED = 1000


def folder_beside(folder: Path, path: Path) -> Path:
    """Rename ``folder`` (finished work: a run's frames, a benchmark's reports) to the first free
    numbered name beside ``path`` (:func:`numbered_name`: ``f`` -> ``f-2``, ``f-3``...), never onto
    a name taken, and return that name: :func:`place_beside` for a folder, which cannot be linked.
    The folder's other errors pass; FileExistsError where every name up to :data:`MAX_NUMBERED`
    is taken."""
    for n in range(2, MAX_NUMBERED + 1):
        kept = numbered_name(path, n)
        if kept.exists() or kept.is_symlink():
            continue
        try:  # (an empty folder made under the name meanwhile is taken on POSIX: nothing lost)
            os.rename(folder, kept)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # a name taken meanwhile
                continue
            raise
        return kept
    raise FileExistsError(errno.EEXIST, f"{numbered_name(path, 2).name} to "
                                        f"{numbered_name(path, MAX_NUMBERED).name} are all taken")


def numbered_name(path: Path, n: int) -> Path:
    """The ``n``-th file of ``path``'s name: ``rec.mp4`` -> ``rec-2.mp4``, ``rec-3.mp4``..."""
    return path.with_name(f"{path.stem}-{n}{path.suffix}")


def _sync(path: Path) -> None:
    """fsync the file or folder ``path`` (a folder: its entries, a rename among them); a file
    system that cannot sync a folder (some network ones) is left to do what it does. Windows opens
    no folder this way (EACCES; NTFS journals the rename itself) and flushes a file only through a
    descriptor open for writing (FlushFileBuffers: EBADF otherwise), so a file is opened to write
    there: it is our own, just written."""
    windows = sys.platform == "win32"
    if windows and path.is_dir():
        return
    fd = os.open(path, os.O_RDWR if windows else os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _raise_write_error(exc: BaseException, path: Path) -> None:
    """A failed write (a full disk, a file size limit, a vanished folder) as one error naming the
    file the user asked for, not the hidden temporary one; other errors pass."""
    if isinstance(exc, OSError) and not isinstance(exc, VidstyleError):
        raise VidstyleError(f"writing {path} failed: {exc.strerror or exc}") from None


@contextlib.contextmanager
def atomic_output(output: str | Path, input: str | Path | None = None, overwrite: bool = False,
                  formats: Iterable[str] = OUTPUT_FORMATS, placed: list[Path] | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``output``; rename it to ``output`` if the block succeeds.

    The temporary file keeps the output's extension (muxers are chosen by it) and is hidden
    (leading dot). On any exception, KeyboardInterrupt included, it is removed and the target
    is left as it was. The rename is held whole against Ctrl-C and kills (a hard link, then the
    temporary name removed: see :func:`move_into_place`), which come after it; ``placed``: the
    output's path is appended once it is in place, so a caller stopped after that knows the
    output is finished.
    """
    output = check_output(output, input, overwrite, formats)
    temp = temp_path_beside(output)
    with _folder_held(temp.parent) as folder:
        try:
            yield temp
            if not _still_there(temp.parent, folder):
                raise folder_gone_error(output, temp.parent)
            if not temp.exists():
                raise VidstyleError(f"nothing was written to {output}")
            with stop_signals_held():
                _place(temp, output, overwrite)
                if placed is not None:
                    placed.append(output)
        except BaseException as exc:
            try:
                _remove_temp(temp, folder)
            except OSError:  # never hide the error that got us here; but say what is left (a folder turned read-only)
                left = f"; its temporary file {temp} could not be removed"
                if isinstance(exc, VidstyleError):  # of its kind still (an OutputExistsError is a FileExistsError)
                    raise type(exc)(f"{exc}{left}") from None
                if isinstance(exc, OSError):
                    raise VidstyleError(f"writing {output} failed: {exc.strerror or exc}{left}") from None
            if isinstance(exc, Exception) and folder is not None and not _still_there(temp.parent, folder):
                # the cause, whatever the writer made of it: an MP4's index is moved to its front
                # (faststart) by FFmpeg reopening the file by its name, which then failed with
                # "finishing OUT.mp4 failed: No such file or directory"
                raise folder_gone_error(output, temp.parent) from None
            _raise_write_error(exc, output)
            raise


@contextlib.contextmanager
def stop_marked_once_placed(output: str | Path) -> Iterator[list[Path]]:
    """A ``placed`` list for :func:`atomic_output` (or a
    :class:`~vidstyle.io.sequence.SequenceWriter`); a Ctrl-C or kill that ends the block once the
    output is in place is given ``finished_output`` = ``output``, so that the command line says
    the output is complete, not a stop's "interrupted" alone, the wording of a run that leaves
    nothing (see vidstyle.cli._stopped_line)."""
    placed: list[Path] = []
    try:
        yield placed
    except (KeyboardInterrupt, SystemExit) as exc:
        if placed:
            exc.finished_output = output
        raise


@contextlib.contextmanager
def _folder_held(folder: Path) -> Iterator[int | None]:
    """A descriptor of ``folder`` for the block, through which a temporary file made in it is
    still found when the folder is renamed meanwhile (its path then leads nowhere, and the
    half-written file was left in the folder under its new name). None where the system has no
    such calls (Windows, which refuses to rename a folder a file is open in anyway) or the folder
    cannot be opened: the path is used then."""
    fd = _open_folder(folder)
    _writing_in(fd)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)  # (which lets go of _writing_in's lock)


def _open_folder(folder: Path) -> int | None:
    """A descriptor of ``folder`` (:func:`_folder_held`'s), or None where it cannot be had."""
    if not {os.unlink, os.rmdir, os.rename} <= os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
        return None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def _writing_in(folder_fd: int | None) -> None:
    """Mark the folder open as ``folder_fd`` as one a vidstyle run writes a temporary file in, for
    as long as the descriptor is open: a shared ``flock`` on it, which the system drops with the
    process however it ends (kill -9 too). :func:`stale_partial_files` takes the folder's lock
    exclusively, for a moment, to know that no run is writing there: tried again for as long
    (:data:`_MARK_TRIES`), never waited for unbounded, as another run may hold the folder's
    exclusive lock for hours (training holds its checkpoint folder's). None is needed where this
    process holds it so (:func:`folder_lock`): no other run can take it meanwhile; and the lock is
    per descriptor, so its own refused the shared one, each of training's writes there waiting out
    every try (about 100 ms). Where it cannot be had (another run's, or a file system without
    locks) the write goes on unmarked; no other run can take the lock exclusively then either, so
    no file there is called stale."""
    if folder_fd is None:
        return
    try:
        import fcntl
    except ImportError:
        return
    try:
        if _folder_key(os.fstat(folder_fd)) in _HELD_ALONE:
            return
    except OSError:
        return
    for _ in range(_MARK_TRIES):
        try:
            fcntl.flock(folder_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            return


#: :func:`_writing_in`'s tries, 5 ms apart
_MARK_TRIES = 20


def stale_partial_files(output: str | Path) -> list[Path]:
    """The hidden temporary files of ``output`` (:func:`temp_path_beside`'s names for it) that a
    run stopped before it could remove them left in its folder (kill -9, a power cut: every other
    stop removes its own), provably: only while no vidstyle run is writing in that folder, as the
    folder's lock says (:func:`_writing_in`), else none. Only said, never removed here: a run of an
    older vidstyle, which took no lock, may be writing one. None where folders cannot be locked
    (Windows, file systems without locks)."""
    output = Path(output)
    folder = output.parent if str(output.parent) else Path(".")
    try:
        import fcntl
    except ImportError:
        return []
    fd = _open_folder(folder)
    if fd is None:
        return []
    try:
        # (the name's stem is shortened alike for every token: one of the same length shows where it goes)
        sample = _temp_name(output, _TEMP_TOKEN_LENGTH * "0").name
        head, tail = sample.split(f".vidstyle-{_TEMP_TOKEN_LENGTH * '0'}.partial", 1)
        pattern = re.compile(re.escape(head) + rf"\.vidstyle-[0-9a-f]{{{_TEMP_TOKEN_LENGTH}}}\.partial"
                             + re.escape(tail))
        found = {name: then for name, then in _partial_files_in(fd).items() if pattern.fullmatch(name)}
        if not found:
            return []
        # Listed first, then the lock: a writer marks the folder before its file is made, and until it
        # ends, so a file listed whose writer lives is held now; one made since is not listed
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:  # a run writing there (BlockingIOError), or no locks on this file system
            return []
        left = []
        for name, then in sorted(found.items()):  # the same files still (a writer that ended took its own)
            with contextlib.suppress(OSError):
                if os.path.samestat(os.stat(name, dir_fd=fd, follow_symlinks=False), then):
                    left.append(folder / name)
        return left
    except OSError:
        return []
    finally:
        os.close(fd)


#: any name :func:`temp_path_beside` gives
_PARTIAL_NAME = re.compile(rf"\..*\.vidstyle-[0-9a-f]{{{_TEMP_TOKEN_LENGTH}}}\.partial.*", re.DOTALL)
#: (device, inode) of a folder -> its modification time when it was listed, and the partial files
#: found in it then (:func:`_partial_files_in`)
_PARTIALS_LISTED: dict[tuple[int, int], tuple[int, dict[str, os.stat_result]]] = {}


def _partial_files_in(folder_fd: int) -> dict[str, os.stat_result]:
    """The files with :func:`temp_path_beside`'s names in the folder open as ``folder_fd``, each
    with its ``lstat``: listed again only once the folder changed (its modification time, which
    every file made, removed or renamed in it sets), as a batch checks each of its outputs in one
    folder, which it listed once an output (a minute for 1000 inputs into a folder of 20000 files).
    An older listing is as good for :func:`stale_partial_files`, which takes the lock after it and
    then keeps only the files still there."""
    now = os.fstat(folder_fd)  # (before the listing: a change during it is a change since)
    key = _folder_key(now)
    listed = _PARTIALS_LISTED.get(key)
    if listed is not None and listed[0] == now.st_mtime_ns:
        return listed[1]
    with os.scandir(folder_fd) as entries:
        found = {e.name: e.stat(follow_symlinks=False) for e in entries
                 if _PARTIAL_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)}
    _PARTIALS_LISTED[key] = (now.st_mtime_ns, found)
    return found


#: outputs whose stale partial files were said in this process (each once: a run checks its output
#: before its work and again as it writes)
_STALE_SAID: set[str] = set()


def say_stale_partial_files(output: str | Path) -> None:
    """Warn, once a process for each output, of :func:`stale_partial_files` beside ``output``,
    naming them: hidden, they would take the disk's room unseen for ever (a killed 4K run's, gigabytes)."""
    key = os.path.abspath(output)
    if key in _STALE_SAID:
        return
    _STALE_SAID.add(key)
    left = stale_partial_files(output)
    if not left:
        return
    size = sum(_size_or_zero(p) for p in left)
    log.warning("%s beside %s %s left by an earlier run that was stopped before it finished (killed, or a power "
                "cut): %s (%s%s); no vidstyle run is writing in that folder now, so %s can be deleted",
                counted(len(left), "hidden partial file"), output, "was" if len(left) == 1 else "were",
                ", ".join(p.name for p in left), _size_text(size), "" if len(left) == 1 else " in all",
                "it" if len(left) == 1 else "they")


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 10 ** 9), ("MB", 10 ** 6), ("kB", 10 ** 3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def folder_gone_error(output: str | Path, folder: Path) -> VidstyleError:
    """The error of a write whose ``folder`` was removed or renamed while the run worked
    (:func:`_still_there` says it is not)."""
    return VidstyleError(f"writing {output} failed: its folder {folder} was removed or renamed meanwhile")


def _still_there(folder: Path, held: int | None) -> bool:
    """Whether ``folder`` still names the folder :func:`_folder_held` holds (not removed, renamed or
    replaced by another of that name)."""
    try:
        now = os.stat(folder)
    except OSError:
        return False
    if held is None:
        return stat.S_ISDIR(now.st_mode)
    then = os.fstat(held)
    return os.path.samestat(now, then)


def _remove_temp(temp: Path, held: int | None) -> None:
    """Remove ``temp``, a temporary file or folder (a numbered-frames output's, with the frames
    in it), where it is, in the folder :func:`_folder_held` holds (renamed meanwhile or not);
    nothing when it is not there. Raises OSError when it cannot be removed."""
    if held is None:
        if temp.is_dir() and not temp.is_symlink():
            shutil.rmtree(temp)
        else:
            temp.unlink(missing_ok=True)
        return
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.stat(temp.name, dir_fd=held, follow_symlinks=False).st_mode):
            _remove_tree_at(temp.name, held)
        else:
            os.unlink(temp.name, dir_fd=held)


def _remove_tree_at(name: str, parent: int) -> None:
    """Remove the folder ``name`` of the folder open as ``parent``, and all in it, through
    descriptors: ``shutil.rmtree`` takes a ``dir_fd`` only from Python 3.11 on. Links are removed,
    never followed."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0), dir_fd=parent)
    try:
        with os.scandir(fd) as entries:
            for entry in list(entries):
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree_at(entry.name, fd)
                else:
                    os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


class HeldOutputFolder:
    """Descriptors of an output ``folder`` and of the folders above it that the run made for it
    (``made``: :func:`folders_missing`, innermost first), held while an output made of several
    files is written into a temporary folder there (:class:`vidstyle.io.sequence.SequenceWriter`),
    as :func:`_folder_held` holds a file's: when a folder is renamed meanwhile (``out`` moved
    aside mid-run), the temporary folder and the empty folders the run made are still found, and
    removed, instead of being left in the folder under its new name. A folder the run made that
    was itself renamed is kept (it is someone's now), as is one that is not empty. Where the
    system has no such calls (Windows) the paths are used. :meth:`close` lets go."""

    def __init__(self, folder: Path, made: list[Path] = ()):
        self.folder, self.made = Path(folder), list(made)
        self._fds: dict[Path, int | None] = {}
        # the folder itself, and the one above each folder made (where it is removed from)
        for f in (self.folder, *(m.parent for m in self.made)):
            if f not in self._fds:
                self._fds[f] = _open_folder(f)
        _writing_in(self._fds[self.folder])  # a temporary file or folder is written there (stale_partial_files)

    def still_there(self) -> bool:
        """Whether ``folder`` still names the folder held (:func:`_still_there`)."""
        return _still_there(self.folder, self._fds.get(self.folder))

    def remove_temp(self, temp: Path) -> None:
        """:func:`_remove_temp` of ``temp``, a temporary file or folder in ``folder``."""
        _remove_temp(temp, self._fds.get(self.folder))

    def where_now(self) -> Path | None:
        """Where ``folder`` is now, renamed or moved meanwhile: for what cannot be made again (a
        live recording), finished there under its own name rather than lost. None where the
        system cannot say (only Linux's /proc and macOS's F_GETPATH can), or the folder was removed."""
        fd = self._fds.get(self.folder)
        if fd is None:
            return None
        import fcntl  # (not on Windows, which holds no folder: fd is None there)

        try:
            if hasattr(fcntl, "F_GETPATH"):  # macOS
                now = Path(os.fsdecode(fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\0")))
            else:
                now = Path(os.readlink(f"/proc/self/fd/{fd}"))
            # the same folder under that name (a removed one reads "PATH (deleted)")
            return now if os.path.samestat(os.stat(now), os.fstat(fd)) else None
        except (OSError, ValueError):
            return None

    def names_in(self, name: str) -> list[str]:
        """The names in the folder ``name`` of ``folder``, where it is now."""
        fd = self._fds.get(self.folder)
        if fd is None:
            return os.listdir(self.folder / name)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0), dir_fd=fd)
        try:
            return os.listdir(inner)
        finally:
            os.close(inner)

    def replace(self, source: str, target: str) -> None:
        """``os.replace`` of ``source`` onto ``target``, both relative to ``folder`` (a frame in a
        hidden folder there, and its place), in the folder where it is now."""
        fd = self._fds.get(self.folder)
        if fd is None:
            os.replace(self.folder / source, self.folder / target)
        else:
            os.replace(source, target, src_dir_fd=fd, dst_dir_fd=fd)

    def remove_made(self) -> None:
        """Remove the folders the run made while empty, innermost first (:func:`remove_empty_folders`),
        where they are now; errors pass silently (never hiding the error that got us here)."""
        if not self._fds or any(fd is None for fd in self._fds.values()):  # (closed: by the paths too)
            remove_empty_folders(self.made)
            return
        for f in self.made:  # (each is the output folder, or the one above a folder made)
            parent, own = self._fds[f.parent], self._fds[f]
            try:
                there = os.stat(f.name, dir_fd=parent, follow_symlinks=False)
                held = os.fstat(own)
                if not os.path.samestat(there, held) or os.listdir(own):
                    return  # renamed, replaced, or holding something: kept, and the folders above it
                os.rmdir(f.name, dir_fd=parent)
            except OSError:
                return

    def close(self) -> None:
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            if fd is not None:
                os.close(fd)
