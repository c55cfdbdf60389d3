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


def interrupted_at_once(signum, frame):
    """Ctrl-C while the command line starts: its one line and exit status 130, nothing written yet
    (installed by :mod:`vidstyle._start` and the start-up of :mod:`vidstyle.cli`)."""
    os.write(2, b"vidstyle: interrupted\n")
    os._exit(130)


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
