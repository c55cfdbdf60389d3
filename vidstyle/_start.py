"""The command line's entry point, for the console script `vidstyle` and `python -m vidstyle`:
``from vidstyle._start import main``. Importing :mod:`vidstyle.cli` takes 0.05-0.1 s (json,
argparse, the option vocabularies) before its start-up handles Ctrl-C; a Ctrl-C there was a
KeyboardInterrupt's traceback. Getting ``main`` here first has Ctrl-C end the process at once with
its one line (:func:`vidstyle.signals.interrupted_at_once`), which the start-up then takes over.
Only getting ``main`` does (a module ``__getattr__``), not a plain import of this module; and
``main`` is :func:`vidstyle.cli.main` itself, whose caller must be the program's top level (see
``_called_by_the_program``: a wrapper function here would keep the process from ending at once)."""
from __future__ import annotations


def __getattr__(name: str):
    if name != "main":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import signal
    import threading

    from vidstyle.signals import end_at_once_on_ctrl_c

    # as cli's start-up: not off the main thread, nor over a handler of the program's own or an
    # ignored Ctrl-C (a background job)
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        end_at_once_on_ctrl_c()
    from vidstyle.cli import main

    return main
