"""Starting the command line in a child process as a terminal's foreground job would."""
from __future__ import annotations

import signal


def foreground_signals() -> None:
    """``preexec_fn`` for a child that tests send stop signals to: a shell's background job
    inherits Ctrl-C ignored (Python then never installs its KeyboardInterrupt handler) and one
    started with nohup SIGHUP ignored, and the command rightly keeps ignoring them. A terminal's
    foreground job has the default dispositions: give the child those, whatever ran the tests."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
