"""Child processes for tests: the command line as a terminal's foreground job starts it, and code
run under a file-size limit (a full disk without filling one); a terminal nobody sized; and the
threads of this process, FFmpeg's among them."""
from __future__ import annotations

import contextlib
import io
import os
import pty
import signal
import subprocess
import sys


def foreground_signals() -> None:
    """``preexec_fn`` for a child that tests send stop signals to: a shell's background job
    inherits Ctrl-C ignored (Python then never installs its KeyboardInterrupt handler) and one
    started with nohup SIGHUP ignored, and the command rightly keeps ignoring them. A terminal's
    foreground job has the default dispositions: give the child those, whatever ran the tests."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def said_under_file_size_limit(code: str, *args: str, limit: int = 20000) -> subprocess.CompletedProcess:
    """Run ``code`` (Python; its arguments ``args`` in sys.argv[1:]) in a child whose files may
    grow to ``limit`` bytes, as a disk that fills up; what it prints of the VidstyleError it
    raises is in ``stdout``. SIGXFSZ is ignored, so a write past the limit fails with "File too
    large" (EFBIG) instead of killing the child."""
    prelude = ("import resource, signal, sys\n"
               "from vidstyle.errors import VidstyleError\n"
               "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
               "try:\n")
    body = "".join(f"    {line}\n" for line in code.strip().splitlines())
    program = prelude + body + "except VidstyleError as exc:\n    print(exc)\n"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def unsized_terminal():
    """A stand-in for stderr on a pty nobody sized (`script`, some CI runners): a terminal whose
    size is 0 columns by 0 rows. What is written to it is kept (``getvalue()``)."""
    main, side = pty.openpty()  # a new pty: 0 rows, 0 columns

    class Terminal(io.StringIO):
        def isatty(self):
            return True

        def fileno(self):
            return side

    try:
        yield Terminal()
    finally:
        os.close(main)
        os.close(side)


def os_threads() -> set[str]:
    """The ids of this process's threads as the system lists them (/proc/self/task, Linux): FFmpeg's
    and libx264's frame threads among them, which threading.enumerate does not see. ``len()`` counts
    them where threads may end and others start meanwhile."""
    return set(os.listdir("/proc/self/task"))
