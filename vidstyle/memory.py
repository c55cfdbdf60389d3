"""The CPU allocator's settings, on their own: without torch, so the command line can set them
before anything is allocated at no import cost (``vidstyle --version`` does not load torch)."""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the OS.

    Eager PyTorch on the CPU allocates and frees every intermediate tensor (megabytes each) on
    every call, and so does NumPy/OpenCV frame code. glibc serves such blocks with ``mmap`` and
    returns them with ``munmap`` (or trims the heap), so each new block costs page faults and
    zeroed pages again (the light network in eager bf16, batch 4, 640x360: 16-17 ms per frame with
    this, 18-30 without; benchmarks/RESULTS.md). Raising the mmap and trim thresholds keeps the
    memory in the heap; the price is that peak memory is not returned to the OS until the process
    ends.

    Process-wide, done once; a no-op (False) off glibc or with ``VIDSTYLE_KEEP_FREED_MEMORY=0``.
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        if os.environ.get("VIDSTYLE_KEEP_FREED_MEMORY", "1") != "0" and sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None)
                mallopt = libc.mallopt  # glibc only (musl has none)
                _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)
                                        and mallopt(_M_TRIM_THRESHOLD, 1 << 30))
            except (OSError, AttributeError):
                pass
    return _allocator_tuned
