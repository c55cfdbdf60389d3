"""SMPTE timecode: the arithmetic (drop-frame included, against the standard's known points), and
the input's timecode carried to the output's first frame, moved on by a segment's start."""
from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import pytest

from videos import Identity
from vidstyle import stylize_video
from vidstyle.io.timecode import from_frames, shifted, to_frames

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize("frames, rate, drop, timecode", [
    (0, Fraction(24), False, "00:00:00:00"),
    (24 * 3600 + 5, Fraction(24), False, "01:00:00:05"),
    (25 * 61, Fraction(25), False, "00:01:01:00"),
    # drop-frame: 00:01:00;00 and ;01 do not exist; the tenth minute keeps them
    (1799, NTSC, True, "00:00:59;29"),
    (1800, NTSC, True, "00:01:00;02"),
    (17982, NTSC, True, "00:10:00;00"),
    (107892, NTSC, True, "01:00:00;00"),  # an hour of 29.97 is 107892 frames
    (3599, Fraction(60000, 1001), True, "00:00:59;59"),
    (3600, Fraction(60000, 1001), True, "00:01:00;04"),
    (24 * 3600 * 24 + 1, Fraction(24), False, "00:00:00:01"),  # wraps at 24 hours
])
def test_known_timecodes(frames, rate, drop, timecode):
    assert from_frames(frames, rate, drop) == timecode
    assert to_frames(timecode, rate) == (frames % (24 * 3600 * 24) if not drop else frames, drop)


def test_drop_frame_counts_round_trip_and_skip_only_the_dropped_numbers():
    seen = set()
    for n in range(0, 2 * 107892, 3):
        timecode = from_frames(n, NTSC, True)
        assert to_frames(timecode, NTSC) == (n, True)
        seen.add(timecode)
    assert not any(t.endswith((":00;00", ":00;01")) and t[3:5] not in ("00", "10", "20", "30", "40", "50")
                   for t in seen)
    assert shifted("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert shifted("00:09:59;29", 1, NTSC) == "00:10:00;00"


def test_drop_frame_timecodes_wrap_at_24_hours_and_drop_frame_needs_a_rate_of_30_or_60():
    # a segment of a clip shot just before midnight: the day's last drop-frame label is followed
    # by 00:00:00;00, as a non-drop one is, not by an hour 24 no editor reads
    day = 24 * 107892  # a day of 29.97 frames/s labels
    assert from_frames(day - 1, NTSC, True) == "23:59:59;29"
    assert from_frames(day, NTSC, True) == "00:00:00;00"
    assert from_frames(day + 1800, NTSC, True) == "00:01:00;02"
    assert shifted("23:59:59;29", 1, NTSC) == "00:00:00;00"
    assert shifted("23:59:59;59", 1, Fraction(60000, 1001)) == "00:00:00;00"
    # no frame numbers are dropped at 25 frames/s, whatever the caller asks
    assert from_frames(25 * 60, Fraction(25), True) == "00:01:00:00"


def test_as_ffmpeg_reads_them():
    """Any separator but ':' means drop-frame; 12.5 frames/s counts 13 a second."""
    from vidstyle.io.timecode import timecode_base

    assert to_frames("01:00:00.00", NTSC) == (107892, True)
    assert timecode_base(Fraction(25, 2)) == 13 and to_frames("00:00:01:12", Fraction(25, 2)) == (25, False)


def test_what_is_not_a_timecode():
    for text in ("", "1:2:3", "01:00:00:24x", "01:60:00:00", "01:00:00:30"):  # frame 30 at 30 frames/s
        with pytest.raises(ValueError):
            to_frames(text, Fraction(30))


def with_timecode(path, timecode: str, rate: Fraction, frames: int = 72):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = timecode  # FFmpeg writes MOV's timecode track from it
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 3) % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def timecodes(path) -> list[tuple[str, str | None]]:
    with av.open(str(path)) as container:
        return [(s.type, {k.lower(): v for k, v in s.metadata.items()}.get("timecode")) for s in container.streams]


def test_the_timecode_goes_to_the_output_moved_on_by_a_segment(tmp_path, caplog):
    src = with_timecode(tmp_path / "shot.mov", "01:00:10:05", Fraction(24))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_video(src, tmp_path / "whole.mov", style=Identity(), temporal="off", progress=False)
    assert "data stream" not in caplog.text  # the timecode track is the timecode, carried
    assert timecodes(tmp_path / "whole.mov") == [("video", "01:00:10:05"), ("data", "01:00:10:05")]
    stylize_video(src, tmp_path / "part.mp4", style=Identity(), temporal="off", start=1.5, progress=False)
    assert timecodes(tmp_path / "part.mp4") == [("video", "01:00:11:17"), ("data", "01:00:11:17")]
    stylize_video(src, tmp_path / "part.mkv", style=Identity(), temporal="off", start=1.5, progress=False)
    assert timecodes(tmp_path / "part.mkv") == [("video", "01:00:11:17")]  # a tag in Matroska


@pytest.mark.parametrize("suffix", [".m4v", ".gif", ".webp"])
def test_an_output_that_cannot_hold_the_timecode_says_so(tmp_path, caplog, suffix):
    """.m4v (FFmpeg's "ipod" MP4 writes no timecode track), GIF and WebP lost the timecode
    without a word, where README says what is not kept is said."""
    src = with_timecode(tmp_path / "shot.mov", "01:00:10:05", Fraction(24), frames=6)
    out = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_video(src, out, style=Identity(), temporal="off", progress=False)
    assert timecodes(out) == [("video", None)]
    assert f"a {suffix} output holds no timecode: the timecode 01:00:10:05 of shot.mov is not written" in caplog.text
    for kept in (".mp4", ".mov", ".mkv"):  # those that keep it say nothing
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            stylize_video(src, tmp_path / f"out{kept}", style=Identity(), temporal="off", progress=False)
        assert "timecode" not in caplog.text, kept


def test_drop_frame_timecode_at_ntsc_rate(tmp_path):
    src = with_timecode(tmp_path / "ntsc.mov", "00:59:59;28", NTSC, frames=90)
    # 2 s at 29.97 is 60 frames (59.94, rounded). Minute 60 is a tenth minute, which drops no
    # numbers: 00:59:59;28 + 60 = 01:00:01;28. Minute 1 drops ;00 and ;01, so there the label moves
    # 62 numbers: 00:00:59;28 + 60 = 00:01:02;00.
    stylize_video(src, tmp_path / "part.mov", style=Identity(), temporal="off", start=2, progress=False)
    assert timecodes(tmp_path / "part.mov")[0] == ("video", "01:00:01;28")
    assert shifted("00:00:59;28", 60, NTSC) == "00:01:02;00"
