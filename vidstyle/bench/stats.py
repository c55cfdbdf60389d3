"""Robust timing statistics and peak-memory probes for the benchmark (no psutil)."""
from __future__ import annotations

import os
import sys
import time
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
    """Per-repeat seconds/frame -> {"ms_per_frame": summary, "fps": summary, "ms_per_frame_samples":
    the repeats themselves} (kept in bench.json, so a reader can check the summaries).

    fps's statistics are 1000 / the ms ones (its quartiles and extremes swap sides): the two
    columns of a row always agree. Summarised from per-repeat fps values instead, an even number
    of repeats gave a median fps that is not 1000 / the median ms (the mean of two middle
    values does not commute with the reciprocal).
    """
    secs = [float(s) for s in seconds_per_frame]
    if any(s <= 0 for s in secs):
        raise ValueError("frame times must be positive")
    ms = summarize([s * 1e3 for s in secs])
    fps = Summary(median=1e3 / ms.median, q1=1e3 / ms.q3, q3=1e3 / ms.q1, min=1e3 / ms.max, max=1e3 / ms.min, n=ms.n)
    return {"ms_per_frame": ms.to_dict(), "fps": fps.to_dict(),
            "ms_per_frame_samples": [round(s * 1e3, 4) for s in secs]}


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


def rss_scope(reset: bool) -> str:
    """What a :func:`peak_rss_mb` reading after ``reset_peak_rss() -> reset`` covers: ``case`` (the
    process's peak while the case ran, memory it already held included), else ``process so far``."""
    return "case" if reset else "process so far"


def _windows_peak_working_set() -> int | None:
    """This process's peak working set in bytes (``PeakWorkingSetSize`` of GetProcessMemoryInfo,
    Windows's peak resident memory: it has no /proc and no ``resource``), or None where not told."""
    import ctypes

    class ProcessMemoryCounters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS
        _fields_ = [("cb", ctypes.c_uint32), ("PageFaultCount", ctypes.c_uint32),
                    *((name, ctypes.c_size_t) for name in (
                        "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                        "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage"))]

    counters = ProcessMemoryCounters()
    counters.cb = ctypes.sizeof(counters)
    this_process = ctypes.c_void_p(-1)  # GetCurrentProcess()'s pseudo-handle, as a pointer-wide argument
    windll = getattr(ctypes, "windll", None)
    # kernel32's K32 name since Windows 7; psapi's own before (and still there)
    for library, name in (("kernel32", "K32GetProcessMemoryInfo"), ("psapi", "GetProcessMemoryInfo")):
        try:
            call = getattr(getattr(windll, library), name)
        except (AttributeError, OSError):  # no windll (not Windows), no such library or function
            continue
        if call(this_process, ctypes.byref(counters), counters.cb):
            return int(counters.PeakWorkingSetSize)
    return None


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MiB (since the last :func:`reset_peak_rss`), or
    None where the system does not say. On Windows the peak working set (never reset: the
    whole process's so far)."""
    if sys.platform == "win32":
        peak = _windows_peak_working_set()
        return None if peak is None else peak / (1024.0 * 1024.0)
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    try:
        import resource  # Unix only: imported where used, so importing the benchmark works elsewhere
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, kB on Linux


def _system_busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (user+nice+system+irq+softirq+steal), Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds used by this process and its waited-for children (without ``resource``, as on
    Windows: this process's alone: the benchmark starts no child processes)."""
    try:
        import resource
    except ImportError:
        return time.process_time()

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class OtherCpuMeter:
    """How busy *other* processes kept the cores while a benchmark ran.

    The load average cannot tell: it counts the benchmark's own threads. This meter takes the
    system-wide busy CPU time (``/proc/stat``) minus this process's own CPU time over the interval,
    as a share of the available core-seconds. ``share()`` is None where ``/proc/stat`` is missing.
    """

    def __init__(self, cores: int | None = None):
        self.cores = cores or os.cpu_count() or 1
        self._start = (time.perf_counter(), _system_busy_seconds(), _own_cpu_seconds())

    def share(self) -> float | None:
        """Others' CPU time / (wall time x cores) since construction, in [0, 1]."""
        t0, busy0, own0 = self._start
        busy1 = _system_busy_seconds()
        if busy0 is None or busy1 is None:
            return None
        wall = time.perf_counter() - t0
        if wall <= 0:
            return 0.0
        others = (busy1 - busy0) - (_own_cpu_seconds() - own0)
        return round(min(1.0, max(0.0, others / (wall * self.cores))), 3)


def load_average() -> list[float] | None:
    """1/5/15-minute load average (tells readers whether other work shared the cores)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None
