"""User-facing errors.

Anything the user can fix (a missing file, a bad option, a corrupt model) is raised as
:class:`VidstyleError`; the command line prints its message as one line on stderr and exits
non-zero, without a traceback unless ``--debug`` is given.

:func:`termination_as_exit` makes ``kill`` and a closed terminal unwind like Ctrl-C, so that the
temporary files of a run are removed on those exits too.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
import threading
import warnings

from vidstyle.signals import TERMINATIONS, vidstyles_handler


#: Held while vidstyle swaps the process's warning filters (``warnings.catch_warnings`` saves the
#: list when its block begins and puts it back when it ends): two such blocks interleaved on two
#: threads (an ONNX export, which ignores every warning for its time, and an image being read) put
#: back each other's lists, and the export's "ignore everything" stayed in force for the process.
WARNING_FILTERS_LOCK = threading.Lock()


class VidstyleError(Exception):
    """An error caused by input the user controls; its message is shown as is."""


class BadValueError(VidstyleError, ValueError):
    """A value the library cannot take from its caller: a frame that is not a uint8 (H, W, 3)
    image, a batch size below 1. Both a :class:`VidstyleError` (anything the user can fix) and a
    ``ValueError`` (what Python code expects of a bad argument), so either ``except`` catches it."""


class BadTypeError(VidstyleError, TypeError):
    """An argument of the wrong kind (an array where a tensor goes, a dict for a config): a
    :class:`VidstyleError` and a ``TypeError``, as :class:`BadValueError` is for values."""


class MissingFileError(VidstyleError, FileNotFoundError):
    """A file or folder the caller named that is not there: an input, a style's model file, a
    mask, an output's folder. A :class:`VidstyleError` and a ``FileNotFoundError`` (what ``open``
    raises, and what Python code catches for a missing file), as :class:`BadValueError` is for
    values; its message is the one line alone (no errno)."""


class OutputExistsError(VidstyleError, FileExistsError):
    """An output that is already there, given without ``overwrite=True`` (or one that appeared
    while the run wrote its own): a :class:`VidstyleError` and a ``FileExistsError``, what
    ``open(path, "x")`` raises, as :class:`MissingFileError` is for a file that is not there."""


def counted(n: int, noun: str) -> str:
    """``"1 frame"``, ``"3 frames"``: a count and its noun as a message says it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def closest_name(text: str, names) -> str | None:
    """The name among ``names`` that ``text`` most likely meant (a typo, another case, - for _), or
    None: a bundled style's for ``--style``, an option's for a mistyped option."""
    def key(name: str) -> str:
        return name.lower().replace("-", "_").replace(" ", "_")

    by_key = {key(n): n for n in names}
    if key(text) in by_key:
        return by_key[key(text)]
    close = difflib.get_close_matches(key(text), list(by_key), n=1, cutoff=0.75)
    return by_key[close[0]] if close else None


#: Characters a terminal acts on instead of showing: the C0 and C1 controls (ESC begins colours,
#: cursor moves, a screen clear, OSC 8 links that show one address and open another; CR and BS
#: write over what came before; a newline makes one line two) and Unicode's bidirectional
#: overrides and isolates, which show "gpj.exe" reversed as "exe.jpg"; and the line separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """``text`` as a message line may show it: each character a terminal would act on, rather than
    show (:data:`_UNPRINTABLE`), as its Python escape (``\\x1b``, ``\\n``, ``\\u202e``). The
    names and words that messages echo come from files (a model's header, a video's file name
    in a downloaded folder), and one could clear the screen, colour or hide what follows, or
    turn a line into two that look like vidstyle's own."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def without_locals(exc: BaseException) -> BaseException:
    """``exc``, the local variables of the finished calls in its traceback (and in those of the
    errors it was raised from or during) cleared; the traceback still prints, file, line and
    function. For an error handed out as a value, which a program may well keep: its frames kept
    the run's decoders, frames and FFmpeg threads alive with it (4 threads an input here)."""
    import traceback

    pending, seen = [exc], set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)  # (a call still running, the caller's, is left as it is)
        pending += [error.__cause__, error.__context__]
    return exc


def first_line(exc: BaseException, limit: int | None = None, default: str | None = None) -> str:
    """The first line of ``exc``'s message, cut to ``limit`` characters: a library's multi-line
    error (a compiler log, a traceback) said within one line of ours. A message-less exception
    gives ``default``, else its type's name."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__ if default is None else default
    return text.splitlines()[0][:limit]


def load_plain_values(path):
    """``torch.load(path, weights_only=True)`` on the CPU: tensors and plain values, never a file's
    pickled code. Without torch's warning of a pickle protocol other than its own (any file
    pickle.dumps wrote), two lines of its text and source before vidstyle's own line: the file
    is read or refused all the same (:func:`torch_load_reason`), and the caller says which."""
    import torch

    with WARNING_FILTERS_LOCK, warnings.catch_warnings():  # (not while another thread swaps them)
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def torch_load_reason(exc: BaseException, path=None) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words with the error's type:
    torch's own text is a bare number for some files ("101") and several lines for others, and
    advises ``weights_only=False``, i.e. running the file's pickled code: never, for a file that
    is not what it claims to be. ``path``: the file, for one that torch.save did not write at all
    (a PNG was said to hold "objects other than tensors"); and for one cut short."""
    try:
        with open(path, "rb") as f:
            start = f.read(4)
    except (OSError, TypeError):  # no path, or unreadable: torch's own reason
        start = None
    if start is not None and not (start[:2] == b"PK" or start[:1] == b"\x80"):  # a zip, or (before torch 1.6) a pickle
        return "it is not a file that torch.save wrote"
    if start is not None and _zip_without_its_end(path, start):
        return f"it is cut short: {os.path.getsize(path)} bytes, without the end torch.save writes last; an " \
               "interrupted write or copy"
    reason = first_line(exc, 120, default="unreadable")
    if "weights_only" in str(exc):
        reason = "it holds objects other than tensors and plain values"
    return f"{type(exc).__name__}: {reason}"


def _zip_without_its_end(path, start: bytes) -> bool:
    """Whether ``path``, whose first bytes are ``start``, begins as a zip archive (torch.save's
    format) but lacks the index a zip ends with: a file cut short. torch's own words for it were
    "OSError: [Errno 22] Invalid argument" (under 64 KiB left: its reader seeks before the file's
    start looking for the index) or "failed finding central directory. This is an internal miniz
    error"."""
    import zipfile

    if not b"PK\x03\x04".startswith(start[:4]):
        return False
    try:
        return not zipfile.is_zipfile(path)
    except OSError:  # unreadable now: torch's own reason
        return False


def terminated_line(signum: int) -> str:
    """What the command line says when a kill or a closed terminal ended it."""
    return f"vidstyle: terminated ({signal.Signals(signum).name})"


@contextlib.contextmanager
def on_kill(handler):
    """Call ``handler(signum, frame)`` for SIGTERM and SIGHUP while the block runs; yields the
    signals it handles. Only in the main thread, and only signals that still have their default
    handler (a caller's own handler is left alone); each gets its default back at the end."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    signals = [sig for sig in TERMINATIONS if signal.getsignal(sig) is signal.SIG_DFL]
    for sig in signals:
        signal.signal(sig, vidstyles_handler(handler))
    try:
        yield signals
    finally:
        for sig in signals:
            signal.signal(sig, signal.SIG_DFL)


@contextlib.contextmanager
def termination_as_exit():
    """Turn SIGTERM and SIGHUP (``kill``, a closed terminal or ssh session) into SystemExit(128 +
    signal) while the block runs, so that ``finally`` blocks and context managers remove temporary
    outputs as after Ctrl-C (see :func:`on_kill` for which signals).

    After the first such signal the others are ignored until the block ends: a second ``kill``
    landing in the clean-up would leave the worker threads running while the interpreter exits
    (an abort in the C++ runtime) and the temporary files in place.

    An error that leaves the block after such a signal leaves it as that SystemExit: a library
    can turn the exit into an error of its own (PyAV makes one raised inside FFmpeg's opening of
    a file an InterruptedError, which reads as "not a readable video"), and a killed command is
    said and ended as killed, not as failed.
    """
    handled: list[int] = []
    arrived: list[int] = []

    def handler(signum, frame):
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)
        arrived.append(signum)
        raise SystemExit(128 + signum)

    with on_kill(handler) as signals:
        handled.extend(signals)
        try:
            yield
        except Exception as exc:
            if arrived:
                raise SystemExit(128 + arrived[0]) from exc
            raise
