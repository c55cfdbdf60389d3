"""The progress bar every command draws on a terminal (stylize's frames, train's steps, optimize's
evaluations): one home for how it is sized."""
from __future__ import annotations

import os
import sys


def terminal_bar(**tqdm_args):
    """A tqdm bar on stderr (``tqdm_args`` as tqdm takes them), as wide as the terminal and
    following it when resized. A terminal that says it is 0 by 0 (a pty nobody sized, as `script`
    and some CI runners open) gets 80 columns and 24 rows: tqdm drew nothing at 0 columns, and
    hides a bar on a terminal's last row, which at 0 rows is every bar."""
    from tqdm import tqdm

    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        size = None
    sizing = {"dynamic_ncols": True} if size is not None and size.columns > 0 else {"ncols": 80}
    if size is not None and size.lines <= 0:
        sizing["nrows"] = 24
    return tqdm(file=sys.stderr, **tqdm_args, **sizing)
