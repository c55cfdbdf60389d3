"""Robust timing statistics and peak-memory probes for the benchmark (no psutil)."""
from __future__ import annotations

import os
import resource
import sys
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Median and spread of repeated measurements (same unit as the samples)."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_dict(self) -> dict:
        return {**asdict(self), "iqr": self.iqr}


def summarize(samples: Sequence[float]) -> Summary:
    """Median, quartiles (linear interpolation, numpy's default), min and max of ``samples``."""
    arr = np.asarray(list(samples), dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError("summarize needs at least one finite sample")
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Summary(median=float(med), q1=float(q1), q3=float(q3), min=float(arr.min()), max=float(arr.max()),
                   n=int(arr.size))


def throughput(seconds_per_frame: Sequence[float]) -> dict:
    """Per-repeat seconds/frame -> {"ms_per_frame": summary, "fps": summary}.

    fps is summarised from the per-repeat fps values (so its median is 1000 / median ms; its
    quartiles swap sides).
    """
    secs = [float(s) for s in seconds_per_frame]
    if any(s <= 0 for s in secs):
        raise ValueError("frame times must be positive")
    return {"ms_per_frame": summarize([s * 1e3 for s in secs]).to_dict(),
            "fps": summarize([1.0 / s for s in secs]).to_dict()}


# --- peak host memory ---------------------------------------------------------------------------

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``VmHWM``) so the next reading covers one case.

    Returns False where it cannot be reset (other systems): :func:`peak_rss_mb` then reports the
    peak of the whole process so far.
    """
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (since the last :func:`reset_peak_rss`)."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, kB on Linux


def load_average() -> list[float] | None:
    """1/5/15-minute load average (tells readers whether other work shared the cores)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None
