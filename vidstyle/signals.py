"""Holding the signals that stop a command (Ctrl-C, SIGTERM, SIGHUP) over a few steps that must
happen whole: a file's finalization, a frame's write, a results folder's renames."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

#: The signals that stop a command: Ctrl-C, and a service manager's or a closed terminal's.
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
#: Those of :data:`STOP_SIGNALS` that terminate (a kill, a closed terminal): Ctrl-C is the user's stop.
TERMINATIONS = tuple(s for s in STOP_SIGNALS if s != signal.SIGINT)


#: whether :func:`interrupted_at_once`, where it is installed, still covers the command line's
#: start-up (see :func:`leave_ctrl_c_to_the_program`)
_at_once = True


def interrupted_at_once(signum, frame):
    """Ctrl-C while the command line starts: its one line and exit status 130, nothing written yet
    (installed by :mod:`vidstyle._start` and the start-up of :mod:`vidstyle.cli`, with
    :func:`end_at_once_on_ctrl_c`). Once left to the program, Python's handler is put back and
    this Ctrl-C is its KeyboardInterrupt."""
    if not _at_once:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # (a handler runs on the main thread)
        signal.default_int_handler(signum, frame)
    os.write(2, b"vidstyle: interrupted\n")
    os._exit(130)


def end_at_once_on_ctrl_c() -> None:
    """Install :func:`interrupted_at_once` (on the main thread: the caller checks)."""
    global _at_once
    _at_once = True
    signal.signal(signal.SIGINT, interrupted_at_once)


def leave_ctrl_c_to_the_program() -> None:
    """Ctrl-C is the program's again where :func:`interrupted_at_once` is installed: a program
    that called the command line's ``main`` goes on after it. On the main thread Python's handler
    is put back; elsewhere, where Python changes no handler, the one installed hands the next
    Ctrl-C to the program: left as it was, it ended the program at once, long after main returned."""
    global _at_once
    if signal.getsignal(signal.SIGINT) is not interrupted_at_once:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    else:
        _at_once = False


def vidstyles_handler(handler):
    """Mark ``handler`` as one of vidstyle's own, which an inner block may replace for its time
    (see :func:`ours_to_handle`)."""
    handler.vidstyles = True
    return handler


def ours_to_handle(sig: int) -> bool:
    """Whether vidstyle may put its own handler on ``sig`` now: while it has its default action,
    or vidstyle's handler of an outer block. A handler of the program using the library is left
    alone, and so is an ignored signal (SIGHUP under nohup, Ctrl-C in a background job)."""
    current = signal.getsignal(sig)
    return current is signal.SIG_DFL or getattr(current, "vidstyles", False)


@contextlib.contextmanager
def stop_signals_held(deliver: bool = True, noted: list[int] | None = None) -> Iterator[None]:
    """Hold :data:`STOP_SIGNALS` inside the block (main thread only; elsewhere Python delivers
    none anyway).

    ``deliver`` True: what came is delivered once the block ends, a termination before Ctrl-C,
    and nothing whose own handler ignores it (SIGHUP under nohup, Ctrl-C in a background job), so
    one of those arriving first cannot hide the other. ``deliver`` False: the block is the end of
    the command already; Ctrl-C is dropped and terminations are appended to ``noted`` (so the exit
    status can still say the command was terminated)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        terminations = [sig for sig in arrived if sig != signal.SIGINT]
        if not deliver:
            if noted is not None:
                noted.extend(terminations)
        else:
            wanted = [sig for sig in terminations + [s for s in arrived if s == signal.SIGINT]
                      if previous[sig] is not signal.SIG_IGN]
            if wanted:
                signal.raise_signal(wanted[0])  # its own handler now: an exception, or the default action
