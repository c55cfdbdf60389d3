"""SMPTE timecodes ("01:00:10:05", drop-frame "01:00:10;05"): the time a camera or an edit gave
a clip's first frame, which editors conform by. vidstyle writes the timecode of the output's
first frame: the input's, moved on by the frames a segment (``--start``) skips.

Drop-frame timecode (the 29.97 and 59.94 frames/s rates) skips the frame numbers 0 and 1 (0-3 at
59.94) at the start of every minute except each tenth, so that the count keeps to the clock.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
_DAY_SECONDS = 24 * 3600


def timecode_base(rate: Fraction) -> int:
    """The whole number of frames a timecode second counts at ``rate`` (30 for 29.97)."""
    return max(1, math.floor(rate + Fraction(1, 2)))  # 12.5 counts 13, as FFmpeg does (round() gives 12)


def _dropped(base: int) -> int:
    return 2 * round(base / 30)  # 2 frame numbers a minute at 30, 4 at 60


def to_frames(timecode: str, rate: Fraction) -> tuple[int, bool]:
    """(frame count since 00:00:00:00, drop-frame) of ``timecode`` at ``rate``; ValueError when it
    is not one."""
    match = _TIMECODE.match(timecode.strip())
    if not match:
        raise ValueError(f"not a timecode: {timecode!r}")
    h, m, s, sep, f = match.groups()
    h, m, s, f = int(h), int(m), int(s), int(f)
    base = timecode_base(rate)
    drop = sep != ":" and base % 30 == 0  # any other separator means drop-frame, as FFmpeg reads it
    if m > 59 or s > 59 or f >= base:
        raise ValueError(f"not a timecode at {float(rate):g} frames/s: {timecode!r}")
    frames = ((h * 60 + m) * 60 + s) * base + f
    if drop:
        minutes = 60 * h + m
        frames -= _dropped(base) * (minutes - minutes // 10)
    return frames, drop


def from_frames(frames: int, rate: Fraction, drop: bool) -> str:
    """The timecode of frame number ``frames`` (wrapping at 24 hours)."""
    base = timecode_base(rate)
    if drop and base % 30 == 0:
        d = _dropped(base)
        per_ten = base * 600 - 9 * d  # frames in ten minutes (17982 at 29.97)
        per_minute = base * 60 - d  # in each minute but the tenth's first
        frames %= 24 * 6 * per_ten
        tens, rest = divmod(frames, per_ten)
        frames += 9 * d * tens + (d * ((rest - d) // per_minute) if rest > d else 0)
    else:
        drop = False
        frames %= _DAY_SECONDS * base
    f = frames % base
    s = frames // base
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{';' if drop else ':'}{f:02d}"


def shifted(timecode: str, frames: int, rate: Fraction) -> str:
    """``timecode`` moved on by ``frames`` frames at ``rate``; ValueError when it is not one."""
    count, drop = to_frames(timecode, rate)
    return from_frames(count + frames, rate, drop)


def find_timecode(container, video) -> str:
    """The timecode of the input's first frame, wherever the container keeps it (MOV/MP4: the video
    track's tag and its timecode track; MXF: the file's; Matroska: a TIMECODE tag), or ""."""
    for tags in (video.metadata, *(s.metadata for s in container.streams.data), container.metadata):
        for key, value in tags.items():
            if key.lower() == "timecode" and _TIMECODE.match(str(value).strip()):
                return str(value).strip()
    return ""


def is_timecode_track(stream) -> bool:
    """A data stream that holds only a timecode (MOV/MP4's tmcd track), which the output's own
    timecode replaces."""
    return any(key.lower() == "timecode" for key in stream.metadata)
