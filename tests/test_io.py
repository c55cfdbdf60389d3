"""Decoding, encoding and output-file safety, on real encoded videos made by the tests."""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from videos import (Identity, audio_packets, frame_times, make_video, pattern_frame, probe, psnr, read_frames,
                    write_frames)
from vidstyle.config import EncodeConfig
from vidstyle.errors import VidstyleError
from vidstyle.io import AudioItem, DecodedFrame, VideoDecoder, VideoEncoder, atomic_output, check_output
from vidstyle.io.decode import SourceInfo
from vidstyle.io.display import SWS_MATRIX
from vidstyle.io.codecs import output_pix_fmt
from vidstyle.io.capture import FileSource
from vidstyle.io.files import NAME_MAX, PATH_MAX, check_output_file, temp_path_beside, write_then_rename
import vidstyle.io.files as files


def decode_all(path, **kw) -> tuple[VideoDecoder, list[DecodedFrame], list[AudioItem]]:
    with VideoDecoder(path, **kw) as dec:
        items = list(dec.read({i: "copy" for i in range(len(dec.info.audio_streams))}))
    return dec, [i for i in items if isinstance(i, DecodedFrame)], [i for i in items if isinstance(i, AudioItem)]


def reencode(src: Path, dst: Path, config: EncodeConfig | None = None, **decoder_kw) -> VideoEncoder:
    """Decode ``src`` and encode its frames unchanged to ``dst`` (the pipeline without the network)."""
    with VideoDecoder(src, **decoder_kw) as dec:
        enc = VideoEncoder(dst, dec.info, config or EncodeConfig(crf=10, preset="ultrafast"))
        for item in dec.read(enc.audio_modes):
            if isinstance(item, DecodedFrame):
                enc.write(item.image, item.pts, item.duration)
            else:
                enc.write_audio(item)
        enc.finish()
    return enc


# --- the test-video helper itself ---------------------------------------------------------------

def test_make_video_is_a_real_video_with_known_content(tmp_path):
    path = make_video(tmp_path / "a.mp4", frames=10, size=(96, 64), audio=True)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.codec) == (96, 64, 10, "h264")
    assert info.audio and info.audio[0].codec == "aac"
    assert abs(info.audio[0].duration - info.duration) < 1 / 24
    frames = read_frames(path)
    assert psnr(frames[5], pattern_frame(5, (96, 64))) > 35
    assert psnr(frames[5], frames[6]) < 40  # the content moves


def test_write_frames_encodes_the_same_frames_to_the_same_bytes_every_time(tmp_path):
    """x264 at its default preset read memory it had not written (its macroblock tree, at some
    frame sizes): the same frames encoded again in one process came out different, by up to 40
    levels at crf 18, so a test's input depended on what the tests before it had left in memory."""
    from videos import write_frames

    rng = np.random.default_rng(0)
    images = [np.clip(pattern_frame(i, (64, 48)).astype(int) + rng.integers(-20, 20, (48, 64, 3)), 0, 255)
              .astype(np.uint8) for i in range(24)]
    encoded = set()
    for k in range(4):
        path = write_frames(tmp_path / f"{k}.mp4", images, options={"crf": "18"})
        with av.open(str(path)) as container:
            encoded.add(b"".join(bytes(packet) for packet in container.demux(video=0)))
    assert len(encoded) == 1

# --- decoding -----------------------------------------------------------------------------------

def test_decode_gives_rgb_frames_with_timestamps(tmp_path):
    path = make_video(tmp_path / "a.mp4", frames=8, size=(80, 48), fps=25)
    dec, frames, _ = decode_all(path)
    assert len(frames) == 8
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 80, 3) for f in frames)
    assert [f.time for f in frames] == [Fraction(i, 25) for i in range(8)]
    assert [f.index for f in frames] == list(range(8))
    assert psnr(frames[3].image, pattern_frame(3, (80, 48))) > 35
    assert dec.info.frames == 8 and dec.info.frame_rate == 25


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_decode_honours_rotation(tmp_path, rotation, caplog):
    path = make_video(tmp_path / "r.mp4", frames=3, size=(96, 64), rotation=rotation)
    with caplog.at_level("WARNING", logger="vidstyle"):
        dec, frames, _ = decode_all(path)
    assert "quarter turn" not in caplog.text  # (a quarter turn is not said to be rounded)
    expected = np.rot90(pattern_frame(1, (96, 64)), k=rotation // 90)
    assert frames[1].image.shape == expected.shape
    assert psnr(frames[1].image, expected) > 35
    assert (dec.info.width, dec.info.height) == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("rotation, turn", [(45, 0), (-100, 270)])
def test_a_turn_that_is_not_a_quarter_turn_is_said_and_rounded(tmp_path, rotation, turn, caplog):
    # a display matrix of 45 degrees was turned by none in silence (the README says the turn is
    # applied, so the output plays as the input)
    path = make_video(tmp_path / "r.mp4", frames=3, size=(96, 64), rotation=rotation)
    with caplog.at_level("WARNING", logger="vidstyle"):
        dec, frames, _ = decode_all(path)
    assert psnr(frames[1].image, np.rot90(pattern_frame(1, (96, 64)), k=turn // 90)) > 35
    said = [r.getMessage() for r in caplog.records if "quarter turn" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("r.mp4's display matrix turns the picture by ")
    assert said[0].endswith(f"degrees, which is not a quarter turn: it is turned by {turn} instead, the nearest")
    caplog.clear()  # live's file source says it too
    from vidstyle.io.capture import FileSource

    with caplog.at_level("WARNING", logger="vidstyle"):
        FileSource(path, realtime=False).close()
    assert [r.getMessage() for r in caplog.records if "quarter turn" in r.getMessage()] == said
    caplog.clear()  # and preview's sheet, once, though it opens the file for each sample
    from vidstyle.preview import input_frames

    with caplog.at_level("WARNING", logger="vidstyle"):
        assert len(input_frames(path, 3)) == 3
    assert [r.getMessage() for r in caplog.records if "quarter turn" in r.getMessage()] == said


def test_decode_10bit(tmp_path):
    path = make_video(tmp_path / "ten.mkv", frames=4, codec="libx265", pix_fmt="yuv420p10le")
    assert probe(path).pix_fmt == "yuv420p10le"
    _, frames, _ = decode_all(path)
    assert len(frames) == 4 and frames[0].image.dtype == np.uint8
    assert psnr(frames[2].image, pattern_frame(2, (96, 64))) > 30


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p"])
def test_deep_limited_range_greys_decode_at_their_levels(tmp_path, pix_fmt):
    """swscale's direct 10-bit 4:2:0 to rgb24 conversion made white (Y 940) 253 and mid-greys 1-2
    levels dark, in every stylized frame and in --mask areas that keep the input (review, 28th
    session); 8-bit and 4:4:4 were right. A lossless grey ramp comes back within a level."""
    deep = "10" in pix_fmt
    w, h, steps = 256, 32, 16
    luma8 = 16 + np.arange(steps) * 219 / 15  # limited range, black to white
    path = tmp_path / "ramp.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.options = {"qp": "0", "preset": "ultrafast"}
        frame = av.VideoFrame(w, h, pix_fmt)
        dtype = np.uint16 if deep else np.uint8
        luma = np.repeat(np.round(luma8 * (4 if deep else 1)), w // steps).astype(dtype)
        frame.planes[0].update(np.repeat(luma[None], h, 0).tobytes())
        for plane in frame.planes[1:]:
            plane.update(np.full(plane.buffer_size // np.dtype(dtype).itemsize, 512 if deep else 128, dtype).tobytes())
        for i in range(2):
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    _, frames, _ = decode_all(path)
    got = frames[1].image[h // 2, w // steps // 2::w // steps].astype(float)
    expected = (luma8 - 16) * 255 / 219
    assert got.shape == (steps, 3)
    error = got - expected[:, None]  # 8-bit limited range steps are 255/219 RGB levels: +-0.58 rounding
    assert np.abs(error).max() <= 1.5 and abs(error.mean()) < 1.0, got[:, 1]  # was -2 / -1.7 at 10 bits


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv422p10le", "yuv444p10le"])
def test_a_deep_gradient_comes_to_8_bits_once_dithered_with_no_level_skipped(tmp_path, pix_fmt):
    """A smooth 10-bit ramp (a graded sky) comes to 8-bit RGB converted at 16 bits and dithered
    once: through 8-bit YUV first (dithered there) and then to RGB, whose steps are 255/219 of
    YUV's, about one RGB level in 7 never appeared (a combed histogram, banding twice as coarse
    there) and the average of a column was up to 0.74 of a level off. 4:4:4 came to 8 bits in
    swscale, undithered: each column rounded to a whole level (0.50 off), the ramp in bands."""
    w, h = 256, 32
    codes = np.round(np.linspace(200, 800, w)).astype(np.uint16)  # 0.29 of an RGB level a column
    path = tmp_path / "ramp.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.options = {"qp": "0", "preset": "ultrafast"}  # lossless
        frame = av.VideoFrame(w, h, pix_fmt)
        frame.planes[0].update(np.repeat(codes[None], h, 0).tobytes())
        for plane in frame.planes[1:]:
            plane.update(np.full(plane.buffer_size // 2, 512, np.uint16).tobytes())
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    _, frames, _ = decode_all(path)
    green = frames[0].image[..., 1].astype(float)
    exact = (codes / 4 - 16) * 255 / 219
    assert set(np.unique(green)) == set(range(int(green.min()), int(green.max()) + 1))
    assert np.abs(green.mean(axis=0) - exact).max() < 0.35


@pytest.mark.parametrize("pix_fmt", ["yuv420p12le", "yuv422p12le", "yuv444p12le", "yuv444p10le"])
def test_deep_frames_of_any_size_are_dithered_and_white_stays_white(pix_fmt):
    """12-bit frames come to 8 bits dithered as 10-bit ones do (the same ramp: no level skipped,
    each column's average in place), a frame whose sides are no multiple of the dither's 8x8 tile
    is converted whole, and limited-range white, a whole level at 16 bits, stays 255 at every
    pixel (the flooring's offset keeps it off the halfway point OpenCV would round to even)."""
    from vidstyle.io.display import DisplayConversion

    bits = 12 if "12" in pix_fmt else 10
    scale = 1 << (bits - 8)
    w, h, ramp_rows = 250, 30, 24  # three whole tiles of ramp, then white
    codes = np.round(np.linspace(50, 200, w) * scale).astype(np.uint16)
    luma = np.vstack([np.repeat(codes[None], ramp_rows, 0), np.full((h - ramp_rows, w), 235 * scale, np.uint16)])
    frame = av.VideoFrame(w, h, pix_fmt)
    frame.planes[0].update(np.pad(luma, ((0, 0), (0, frame.planes[0].line_size // 2 - w))).tobytes())
    for plane in frame.planes[1:]:
        plane.update(np.full(plane.buffer_size // 2, 128 * scale, np.uint16).tobytes())
    frame.color_range = 1  # limited
    image = DisplayConversion.of(frame).image(frame)
    assert image.shape == (h, w, 3)
    green = image[:ramp_rows, :, 1].astype(float)
    exact = (codes / scale - 16) * 255 / 219
    assert set(np.unique(green)) == set(range(int(green.min()), int(green.max()) + 1))
    assert np.abs(green.mean(axis=0) - exact).max() < 0.35
    assert (image[ramp_rows:] == 255).all(), np.argwhere(image[ramp_rows:] != 255)[:4].tolist()


def test_an_audio_packet_the_demuxer_flags_corrupt_is_skipped_and_counted(tmp_path):
    """A packet flagged corrupt (a truncated file's cut-off last one) is one the muxer takes but
    no player decodes: it is left out of the copy, whatever its bytes, and counted."""
    src, out = make_video(tmp_path / "a.mp4", frames=12, audio=True), tmp_path / "o.mp4"
    flagged, seen = 3, 0
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(out, dec.info, EncodeConfig(crf=10, preset="ultrafast"))
        for item in dec.read(enc.audio_modes):
            if isinstance(item, DecodedFrame):
                enc.write(item.image, item.pts, item.duration)
                continue
            if item.packet is not None and item.packet.size:
                item.packet.is_corrupt = seen == flagged  # whole and decodable, but flagged
                seen += 1
            enc.write_audio(item)
        enc.finish()
    original = audio_packets(src)
    assert enc.damaged_audio_packets == 1 and audio_packets(out) == original[:flagged] + original[flagged + 1:]


def test_decode_segment_shifts_times_and_cuts_audio(tmp_path):
    path = make_video(tmp_path / "s.mp4", frames=48, fps=24, audio=True)
    _, frames, audio = decode_all(path, start=0.5, duration=0.5)
    assert len(frames) == 12
    assert frames[0].time == 0 and frames[-1].time == Fraction(11, 24)
    assert psnr(frames[0].image, pattern_frame(12, (96, 64))) > 35  # frame 12 is at 0.5 s
    times = [a.packet.pts * a.packet.time_base for a in audio if not a.lead_in]
    assert min(times) >= 0 and max(times) < 0.5
    assert 0.5 - 0.05 < max(times) + 1024 / 44100  # covers the segment to within one packet
    # before them, the packet across the start and the one before it, timed below 0 (for an edit list)
    lead = [a.packet.pts * a.packet.time_base for a in audio if a.lead_in]
    assert len(lead) == 2 and lead[0] < lead[1] < 0 < lead[1] + Fraction(1024, 44100)


def test_a_duration_is_said_to_run_past_the_input_only_by_more_than_its_last_frame(tmp_path):
    """A 1 s clip at 24 frames/s asked for 1.02 s ends inside the frame after its last, which it
    would have had: nothing is missing, and nothing is said. Asked for 1.06 s, past that frame, the
    output is shorter than asked for and says so, with the duration as asked (it read "the 1.083 s
    asked for": the end moved to whole frames)."""
    src = make_video(tmp_path / "in.mp4", frames=24, size=(64, 48))
    for duration, said in ((0.99, None), (1.02, None),
                           (1.06, "in.mp4 ends before the 1.06 s asked for (--duration): the output lasts 1.00 s")):
        with VideoDecoder(src, duration=duration) as decoder:
            assert len(list(decoder.read())) == 24
            assert decoder.ended_before_duration() == said, duration

def test_a_segment_starting_between_two_frames_lasts_its_duration_from_its_first_frame(tmp_path):
    """--start 0.51 on 24 fps: the first frame kept is at 0.5417 s and is the output's 0; the end
    moves with it, so the last frame is shown for a whole frame and the file reads 24 fps."""
    path = make_video(tmp_path / "s.mp4", frames=48, fps=24, audio=True)
    out = tmp_path / "out.mp4"
    from vidstyle.pipeline import stylize_video

    stylize_video(path, out, style=Identity(), temporal="off", start=0.51, duration=0.5, progress=False)
    times = frame_times(out)
    assert len(times) == 12 and times[0] == 0 and times[-1] == Fraction(11, 24)
    info = probe(out)
    assert info.duration == pytest.approx(0.5, abs=1e-3) and info.average_rate == 24
    # a duration that ends inside a frame keeps that frame whole: 0.52 s is 12.48 frames, so 13
    # (cut at 0.52 s, the last one lasted 0.48 of a frame and the file read 25 frames/s)
    stylize_video(path, out, style=Identity(), temporal="off", duration=0.52, progress=False, overwrite=True)
    times, info = frame_times(out), probe(out)
    assert len(times) == 13 and times[-1] == Fraction(12, 24)
    assert info.duration == pytest.approx(13 / 24, abs=1e-3) and info.average_rate == 24
    assert info.audio[0].duration == pytest.approx(13 / 24, abs=0.03)  # the sound is cut with the picture
    # both at once: from the first frame after 0.51 s, 0.52 s is again 13 frames (measured from
    # 0.51 s instead, the segment would end at 1.03 s, before the 13th frame's 1.0417 s)
    stylize_video(path, out, style=Identity(), temporal="off", start=0.51, duration=0.52, progress=False,
                  overwrite=True)
    times = frame_times(out)
    assert len(times) == 13 and times[-1] == Fraction(12, 24)
    # which frames are kept follows the end asked for, not whole frames of the average rate: a
    # variable-rate clip's 14th frame begins after 0.52 s and stays out
    vfr = make_video(tmp_path / "vfr.mp4", frames=48, fps=24, vfr=True)
    stylize_video(vfr, out, style=Identity(), temporal="off", duration=0.52, progress=False, overwrite=True)
    kept = frame_times(out)
    assert len(kept) == len([t for t in frame_times(vfr) if t < Fraction(52, 100)]) == 13


def test_decode_segment_past_the_end_is_an_error(tmp_path):
    path = make_video(tmp_path / "s.mp4", frames=6)
    with pytest.raises(VidstyleError, match=r"starts at 10 s, past the end of s.mp4 \(0.25 s long\)"):
        VideoDecoder(path, start=10)
    # said in full, not rounded as :g rounds (36002 s for 36001.98)
    with pytest.raises(VidstyleError, match=r"starts at 36001.98 s, past the end"):
        VideoDecoder(path, start=36001.98)
    # inside the file's duration but after its last video frame (audio outlasts the video)
    with pytest.raises(VidstyleError, match="no video frames in the requested segment"):
        VideoDecoder(make_video(tmp_path / "a.mp4", frames=6, audio=True, audio_seconds=2.0), start=1.0)


@pytest.mark.parametrize("kind", ["missing", "text", "png", "audio_only", "truncated", "zero_frames", "folder"])
def test_bad_input_is_one_clear_error(tmp_path, kind):
    path = tmp_path / "in.mp4"
    if kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "png":
        path = tmp_path / "in.png"
        av.VideoFrame.from_ndarray(pattern_frame(0, (32, 32)), format="rgb24").to_image().save(path)
    elif kind == "audio_only":
        path = tmp_path / "in.m4a"
        with av.open(str(path), "w", format="mp4") as c:
            s = c.add_stream("aac", rate=44100, layout="mono")
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, 0
            c.mux(s.encode(frame))
            c.mux(s.encode(None))
    elif kind == "truncated":
        full = make_video(tmp_path / "full.mp4", frames=10).read_bytes()
        path.write_bytes(full[: len(full) // 2])  # the mp4 index is at the end: now gone
    elif kind == "zero_frames":
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=24)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            c.start_encoding()
    elif kind == "folder":
        path = tmp_path
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(VidstyleError) as err:
        VideoDecoder(path)
    message = str(err.value)
    assert "\n" not in message and str(path.name) in message
    if before is not None:
        assert path.read_bytes() == before  # inputs are never modified


# --- encoding -----------------------------------------------------------------------------------

def test_encode_keeps_vfr_timestamps_count_and_rate(tmp_path):
    src = make_video(tmp_path / "v.mp4", frames=15, vfr=True, audio=True)
    out = tmp_path / "o.mp4"
    enc = reencode(src, out)
    assert enc.audio_modes == {0: "copy"}
    a, b = probe(src), probe(out)
    assert b.frames == a.frames == 15
    assert frame_times(out) == frame_times(src)  # hence the same average rate
    assert abs(b.duration - a.duration) < 1e-6
    assert audio_packets(out) == audio_packets(src)  # packet-for-packet copy
    assert psnr(read_frames(out)[7], read_frames(src)[7]) > 35


@pytest.mark.parametrize("suffix, fps", [(".mp4", Fraction(30000, 1001)), (".mov", Fraction(30000, 1001)),
                                         (".mp4", Fraction(60000, 1001)), (".mp4", Fraction(120000, 1001)),
                                         (".mp4", Fraction(48000, 1001)), (".mov", Fraction(240000, 1001))])
def test_a_ntsc_rate_stored_in_milliseconds_is_written_at_a_constant_rate(tmp_path, suffix, fps):
    # Matroska's 0, 33, 67, 100 ms for 29.97 frames/s: kept as they were, MP4 recorded 33 and 34
    # ms steps, a variable frame rate editors convert or refuse. 59.94 reads from Matroska as
    # 19001/317 frames/s (FFmpeg's fraction of its frame's nanoseconds), 119.88 as 29011/242,
    # which missed the grid; 47.952 (48000/1001) as 7001/146 and 239.76 as 29011/121, NTSC rates
    # outside the four that were known by name, kept their millisecond steps
    src = make_video(tmp_path / "ntsc.mkv", frames=20, fps=fps, audio=True)
    assert len(set(np.diff(frame_times(src)))) == 2  # the input's steps really are uneven
    out = tmp_path / f"o{suffix}"
    enc = reencode(src, out)
    assert enc.audio_modes == {0: "copy"}
    times = frame_times(out)
    assert times == [times[0] + i / fps for i in range(20)]
    assert all(abs(a - b) < Fraction(1, 1000) for a, b in zip(times, frame_times(src)))
    assert abs(probe(out).duration - probe(src).duration) < 0.002
    assert audio_packets(out) == audio_packets(src)


@pytest.mark.parametrize("fps", [Fraction(60000, 1001), Fraction(24000, 1001)])
def test_a_ntsc_rate_stored_in_90khz_ticks_is_written_at_a_constant_rate(tmp_path, fps):
    # MPEG-TS counts 1/90000 s, which holds 1001/60000 s (1501.5 ticks) and 1001/24000 s (3753.75)
    # only rounded: kept as they were, a 59.94 frames/s broadcast's 1501 and 1502 tick steps made
    # an MP4 of variable rate, and a segment's average rate 59.9396
    src = make_video(tmp_path / "ntsc.ts", frames=30, fps=fps, gop=1)
    assert len(set(np.diff(frame_times(src)))) == 2  # the input's steps really are uneven
    for name, segment in (("whole.mp4", {}), ("part.mov", {"start": 0.2, "duration": 0.25})):
        out = tmp_path / name
        reencode(src, out, **segment)
        times = frame_times(out)
        assert len(times) == (30 if not segment else len([t for t in frame_times(src) if
                                                            0.2 <= t - frame_times(src)[0] < 0.45]))
        assert times == [times[0] + i / fps for i in range(len(times))]
        with av.open(str(out)) as container:
            assert container.streams.video[0].average_rate == fps


@pytest.mark.parametrize("name, fps", [("ntsc.mkv", Fraction(60000, 1001)), ("ntsc.flv", Fraction(60000, 1001)),
                                       ("ntsc.flv", Fraction(24000, 1001)), ("ntsc.flv", Fraction(48000, 1001))])
def test_a_ntsc_rate_its_container_declares_rounded_is_read_exact(tmp_path, name, fps):
    # Matroska keeps the frame interval in whole nanoseconds (59.94 read back as 19001/317, too
    # fine a fraction for the frame grid: the output's steps were 16 and 17 ms), FLV its rate as
    # a fraction of numbers up to 1000 (59.9375, 23.9756: a grid of the wrong step, drifting off
    # the frames a microsecond a frame, and that rate declared in the output; 47.952 as 959/20)
    src = make_video(tmp_path / name, frames=30, fps=fps, gop=1)
    with VideoDecoder(src) as dec:
        assert dec.info.frame_rate == fps
    out = tmp_path / "o.mp4"
    reencode(src, out)
    times = frame_times(out)
    assert times == [i / fps for i in range(30)]
    with av.open(str(out)) as container:
        assert container.streams.video[0].guessed_rate == fps


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(24000, 1001)])
def test_the_last_frame_of_a_millisecond_timed_video_lasts_its_whole_interval(tmp_path, fps):
    # its start and its duration each rounded (1958 ms and 41 at 24 frames/s), the last frame
    # ended a millisecond short of its place on the grid: the MP4 lasted 1.999 s, not 2, and
    # averaged 24.01 frames/s (48000/1999), the rate editors read
    src = make_video(tmp_path / "film.mkv", frames=48, fps=fps)
    out = tmp_path / "o.mp4"
    reencode(src, out)
    assert probe(out).duration == pytest.approx(float(48 / fps), abs=1e-9)
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == fps


def test_a_segment_of_a_millisecond_timed_video_is_constant_rate_from_its_first_frame(tmp_path):
    src = make_video(tmp_path / "ntsc.mkv", frames=40, fps=Fraction(30000, 1001), gop=1)
    out = tmp_path / "o.mp4"
    reencode(src, out, start=0.55, duration=0.5)
    times = frame_times(out)
    assert len(times) == 15
    assert times == [times[0] + i * Fraction(1001, 30000) for i in range(len(times))]


def test_a_variable_rate_video_in_milliseconds_keeps_its_times(tmp_path):
    src = make_video(tmp_path / "vfr.mkv", frames=15, fps=Fraction(30000, 1001), vfr=True)
    out = tmp_path / "o.mp4"
    reencode(src, out)
    before, after = frame_times(src), frame_times(out)
    assert len(after) == len(before) == 15
    assert all(abs(a - b) < Fraction(1, 1000) for a, b in zip(after, before))
    assert after == sorted(set(after))


def test_the_frame_grid_moves_frames_by_less_than_a_tick_and_keeps_them_in_order():
    from vidstyle.io.encode import FrameGrid

    assert FrameGrid.of(Fraction(1, 1000), Fraction(25)) is None  # 40 ms: whole ticks
    assert FrameGrid.of(Fraction(1, 90000), Fraction(30000, 1001)) is None  # 3003 ticks: whole already
    assert FrameGrid.of(Fraction(1, 90000), Fraction(60000, 1001)).time_base == Fraction(1, 180000)
    grid = FrameGrid.of(Fraction(1, 1000), Fraction(30000, 1001))
    assert grid.time_base == Fraction(1, 30000)
    assert grid.place(1000, 33) == (30000, 1001)  # the grid starts at the first frame
    assert grid.place(1033, 34) == (31001, 1001)
    assert grid.place(1034, 0) == (31020, 0)  # within a millisecond of the place just taken: its own time
    assert grid.place(1050, 17) == (31500, 502)  # off the grid: its own time, its end on it
    assert grid.place(1100, 5) == (33003, 147)  # on it again; an end off it keeps its own time


@pytest.mark.parametrize("codec,suffix,pix_fmt", [("libx264", ".mp4", "yuv444p"), ("libx265", ".mkv", "yuv444p"),
                                                  ("libvpx-vp9", ".webm", "yuv420p"), ("libsvtav1", ".mp4", "yuv420p")])
def test_encode_odd_size_exactly(tmp_path, codec, suffix, pix_fmt):
    src = make_video(tmp_path / "odd.mkv", frames=3, size=(641, 359), codec="libvpx-vp9")
    out = tmp_path / f"o{suffix}"
    enc = reencode(src, out, EncodeConfig(codec=codec, crf=10, preset="ultrafast"))
    info = probe(out)
    assert (info.width, info.height, info.frames) == (641, 359, 3)
    assert enc.pix_fmt == info.pix_fmt == pix_fmt  # H.264/H.265 switch to 4:4:4 to keep odd sizes
    assert psnr(read_frames(out)[1], pattern_frame(1, (641, 359))) > 30
    assert max(abs(a - b) for a, b in zip(frame_times(out), frame_times(src))) <= Fraction(1, 1000)


def test_prores_of_an_odd_width_is_4444_and_keeps_its_last_column(tmp_path, caplog):
    # prores_ks codes width // 2 chroma columns of 4:2:2: the 161st column decoded with chroma 0,
    # a green stripe down the right edge (206 levels off)
    src = make_video(tmp_path / "odd.mkv", frames=3, size=(161, 48))
    out = tmp_path / "o.mov"
    enc = reencode(src, out, EncodeConfig(codec="prores_ks"))
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.profile == "4444"
    assert enc.pix_fmt == "yuv444p10le" and "161x48 is odd" in caplog.text
    for written, read in zip(read_frames(src), read_frames(out)):
        assert np.abs(written[:, -3:].astype(int) - read[:, -3:]).max() <= 8


def test_encode_10bit_output(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=3)
    out = tmp_path / "o.mkv"
    reencode(src, out, EncodeConfig(codec="libx265", pix_fmt="yuv420p10le", crf=10, preset="ultrafast"))
    assert probe(out).pix_fmt == "yuv420p10le" and probe(out).codec == "hevc"


@pytest.mark.parametrize("pix_fmt,width", [("yuv422p10le", 854), ("yuv444p10le", 161), ("yuva444p10le", 162)])
def test_10bit_frames_of_widths_off_32_are_converted_exactly(tmp_path, pix_fmt, width):
    # swscale's RGB -> 10-bit YUV at a width that is not a multiple of 32 read memory it never
    # wrote: most frames got stray pixels near the left edge (up to 182 of 1023 codes off, an
    # alpha of 511), different on every run; ProRes (422 HQ or 4444) of a 1080-wide portrait video
    # or an 854-wide one showed them as flecks. Each frame the encoder gets must be the picture's.
    src = make_video(tmp_path / "in.mkv", frames=1, size=(width, 16))
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(tmp_path / "o.mov", dec.info, EncodeConfig(codec="prores_ks", pix_fmt=pix_fmt))
    got = []
    enc._encode = lambda frame, pts, duration: got.append(frame)
    image = pattern_frame(5, (width, 16), "noise")
    wide = np.pad(image, ((0, 0), (0, -(-width // 32) * 32 - width), (0, 0)), mode="edge")  # converted right
    layout = "rgba" if pix_fmt.startswith("yuva") else "rgb24"
    if layout == "rgba":
        image, wide = (np.dstack([x, np.full(x.shape[:2], 255, np.uint8)]) for x in (image, wide))
    for i in range(40):
        enc.write(image[..., :3], i, alpha=image[..., 3] if layout == "rgba" else None)
    enc.abort()
    reference = av.VideoFrame.from_ndarray(np.ascontiguousarray(wide), format=layout).reformat(
        format=pix_fmt, dst_colorspace=SWS_MATRIX[enc.colorspace.matrix], dst_color_range=enc._color_range)

    def planes(frame):  # each plane's samples inside the picture, as 10-bit codes
        return [np.frombuffer(p, np.uint16).reshape(-1, p.line_size // 2)[:16, :width if p.width == frame.width
                                                                           else -(-width // 2)].astype(int)
                for p in frame.planes]
    off = [max(int(np.abs(a - b).max()) for a, b in zip(planes(f), planes(reference))) for f in got]
    assert max(off) == 0, f"codes off in each frame: {off}"


def test_encode_rotated_input_is_written_display_oriented(tmp_path):
    src = make_video(tmp_path / "r.mp4", frames=3, size=(96, 64), rotation=90)
    out = tmp_path / "o.mp4"
    reencode(src, out)
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (64, 96, 0)
    assert psnr(read_frames(out)[0], np.rot90(pattern_frame(0, (96, 64)))) > 35


def test_audio_is_transcoded_when_the_container_refuses_it(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=12, audio=True)  # AAC: webm takes only Opus/Vorbis
    out = tmp_path / "o.webm"
    enc = reencode(src, out, EncodeConfig(codec="libvpx-vp9", crf=30, preset="ultrafast"))
    assert enc.audio_modes == {0: "decode"}
    info = probe(out)
    assert info.codec == "vp9" and info.audio[0].codec == "opus"
    assert abs(info.audio[0].duration - probe(src).audio[0].duration) < 1 / 24


def test_audio_dropped_when_disabled(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=4, audio=True)
    out = tmp_path / "o.mp4"
    reencode(src, out, EncodeConfig(audio=False, preset="ultrafast"))
    assert probe(out).audio == []


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_audio_that_outlasts_the_video_is_written_to_its_end(tmp_path, suffix):
    """Music running on after the last frame (a title card over a song): the encoder holds audio
    back until the video reaches it (see VideoEncoder.write_audio), so whatever is still held
    when the video ends must be written at the finish, not lost with the held queue."""
    src = make_video(tmp_path / f"a{suffix}", frames=6, fps=12, audio=True, audio_seconds=4.0)
    out = tmp_path / f"o{suffix}"
    enc = reencode(src, out)
    assert enc.audio_modes == {0: "copy"}
    info = probe(out)
    assert info.duration == pytest.approx(0.5, abs=0.01)
    # the audio ends 3.5 s after the video, far past the lead the encoder holds it by
    assert info.audio[0].duration == pytest.approx(probe(src).audio[0].duration, abs=0.03)
    assert info.audio[0].duration > 3.9


def test_audio_held_for_a_video_that_does_not_advance_stays_bounded(tmp_path, monkeypatch):
    """A still image over a long song: the video written never reaches the audio's time, so the
    encoder would hold the whole track in memory; past AUDIO_HOLD_BYTES it must write it anyway."""
    import vidstyle.io.encode as encode_module

    limit = 64 * 1024
    monkeypatch.setattr(encode_module, "AUDIO_HOLD_BYTES", limit)
    src = make_video(tmp_path / "a.mkv", frames=2, fps=1, size=(64, 48), audio=True, audio_seconds=20.0)
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(tmp_path / "o.mkv", dec.info, EncodeConfig(crf=30, preset="medium"))
        items = list(dec.read(enc.audio_modes))
        frames = [i for i in items if isinstance(i, DecodedFrame)]
        enc.write(frames[0].image, frames[0].pts, frames[0].duration)  # x264's look-ahead keeps it
        largest, peak = 0, 0
        for item in items:
            if isinstance(item, AudioItem):
                enc.write_audio(item)
                largest = max(largest, item.packet.size)
                peak = max(peak, enc._held_bytes)
        enc.write(frames[1].image, frames[1].pts, frames[1].duration)
        enc.finish()
    assert peak <= limit + largest
    assert probe(tmp_path / "o.mkv").audio[0].duration > 19.9  # and nothing was lost for it


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_a_held_last_frame_keeps_its_duration_with_b_frames(tmp_path, suffix):
    """An end card held for 2 s: x264's default preset reorders frames (B-frames), so in MP4 the
    last packet written is not the frame shown last, and the file must still end 2 s after it."""
    info = SourceInfo(path=tmp_path / "in.mp4", width=64, height=48, rotation=0, time_base=Fraction(1, 12800),
                      frame_rate=Fraction(25), frames=20, codec="h264", sample_aspect_ratio=None, audio_streams=())
    out = tmp_path / f"o{suffix}"
    enc = VideoEncoder(out, info, EncodeConfig(preset="medium"))
    for i in range(20):  # a smooth pan, which x264 codes with B-frames
        enc.write(pattern_frame(i, (64, 48)), pts=512 * i, duration=25600 if i == 19 else 512)
    enc.finish()
    with av.open(str(out)) as c:
        order = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
        assert order != sorted(order)  # reordered: the case that lost the held frame's duration
    with av.open(str(out)) as c:
        assert [float(f.time) for f in c.decode(c.streams.video[0])] == pytest.approx([i * 0.04 for i in range(20)])
        assert c.duration / 1e6 == pytest.approx(19 * 0.04 + 2.0, abs=0.002)


def _movie_seconds(path) -> float:
    """The length an MP4/MOV's movie header (mvhd) gives: what QuickTime and browsers show, and
    where they end the picture. (FFmpeg's demuxer reports the shorter of it and the decode
    timeline's, so it does not see a movie that runs on.)"""
    data = Path(path).read_bytes()
    at = 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"moov":
            at += 8
            continue
        if kind == b"mvhd":
            version = data[at + 8]
            scale, length = (struct.unpack(">IQ", data[at + 28:at + 40]) if version == 1 else
                             struct.unpack(">II", data[at + 20:at + 28]))
            return length / scale
        at += size
    raise AssertionError("no mvhd box")


def _top_level_boxes(path) -> list[str]:
    """The kinds of an MP4/MOV file's top-level boxes, in file order."""
    return _top_level_boxes_of(Path(path).read_bytes())


def _top_level_boxes_of(data: bytes) -> list[str]:
    """:func:`_top_level_boxes` of an MP4/MOV file's bytes."""
    at, kinds = 0, []
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8:at + 16])[0]
        kinds.append(kind.decode("latin-1"))
        at += size if size else len(data)
    return kinds


@pytest.mark.parametrize("suffix, codec", [(".mp4", "libx264"), (".m4v", "libx264"), (".mov", "prores_ks")])
def test_an_mp4_or_mov_has_its_index_before_its_media(tmp_path, suffix, codec):
    # faststart: a browser plays the first frame before the whole file is there (FFmpeg's own
    # order, index last, made it fetch the end of the file first)
    src = make_video(tmp_path / "a.mp4", frames=12, audio=True)
    out = tmp_path / f"o{suffix}"
    reencode(src, out, EncodeConfig(codec=codec, crf=10, preset="ultrafast"))
    kinds = _top_level_boxes(out)
    assert "moov" in kinds and kinds.index("moov") < kinds.index("mdat"), kinds
    info = probe(out)
    assert info.frames == 12 and info.audio[0].packets == probe(src).audio[0].packets


def test_an_aborted_mp4_is_not_moved_again_to_put_its_index_first(tmp_path):
    """abort() (Ctrl-C, a failed run: the file is discarded) closes the container, which writes the
    trailer; with faststart FFmpeg then reopened the file by its name and read and wrote all of it
    again to move the index to its front, just before it was deleted: a Ctrl-C at the end of a long
    render waited for that pass over the whole file (review, 57th session)."""
    src = make_video(tmp_path / "a.mp4", frames=12, audio=True)
    out = tmp_path / "o.mp4"
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(out, dec.info, EncodeConfig(crf=10, preset="ultrafast"))
        for item in dec.read(enc.audio_modes):
            if isinstance(item, DecodedFrame):
                enc.write(item.image, item.pts, item.duration)
        enc._container.mux(enc._video.encode(None))  # the frames in the file, as mid-run
        with open(out, "rb") as still_open:  # what the file holds after abort, whatever its name
            enc.abort()
            kinds = _top_level_boxes_of(still_open.read())
    assert "mdat" in kinds and not ("moov" in kinds and kinds.index("moov") < kinds.index("mdat")), kinds
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif", ".webp"])
def test_abort_removes_the_file_whatever_its_container(tmp_path, suffix):
    """abort() discards what it was writing: it removed an .mp4/.mov (faststart's reason, above),
    but closed an .mkv, .webm, .avi or animation into a file that looked finished, left for the
    caller to remove (a direct caller of the encoder saw both). After finish() it removes nothing."""
    src = make_video(tmp_path / "a.mkv", frames=6)
    with VideoDecoder(src) as dec:
        frames = [item for item in dec.read() if isinstance(item, DecodedFrame)]
        aborted, finished = (VideoEncoder(tmp_path / f"{name}{suffix}", dec.info, EncodeConfig())
                             for name in ("aborted", "finished"))
    for enc in (aborted, finished):
        for frame in frames:
            enc.write(frame.image, frame.pts, frame.duration)
    aborted.abort()
    finished.finish()
    finished.abort()  # (as finish's own clean-up does: nothing left to discard)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.mkv", f"finished{suffix}"])


def test_abort_removes_a_file_that_cannot_be_removed_while_open_once_it_is_closed(tmp_path, monkeypatch):
    """Windows refuses to remove a file another handle holds open, the muxer's own while it writes:
    abort then removes it once the container is closed (mutation testing, 59th session: leaving
    out that second try, or taking a refused removal for done, passed every test)."""
    src = make_video(tmp_path / "a.mkv", frames=6)
    out = tmp_path / "o.mkv"
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(out, dec.info, EncodeConfig())
        for item in dec.read():
            if isinstance(item, DecodedFrame):
                enc.write(item.image, item.pts, item.duration)
    real_unlink, refused = os.unlink, []

    def windows_unlink(path, *args, **kwargs):
        if Path(path) == out and enc._container is None and not refused:  # (the first try: before closing)
            refused.append(path)
            raise PermissionError(13, "The process cannot access the file because it is being used by another "
                                      "process", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", windows_unlink)
    enc.abort()
    assert refused and not out.exists()


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_finish_that_fails_part_way_removes_a_faststart_file_and_leaves_a_matroska_part(tmp_path, suffix):
    """A finish failing part-way (the disk filling as the look-ahead is written): an .mp4, whose
    index faststart would then move to its front by reading and writing all of it again, is
    removed before the container closes, that pass skipped; a Matroska part plays without its
    index and is left to the caller (live keeps it). Mutation testing, 59th session: leaving the
    .mp4 in place, moved again, passed every test."""
    src = make_video(tmp_path / "a.mkv", frames=12, size=(64, 48), pattern="noise")
    out = tmp_path / f"o{suffix}"
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(out, dec.info, EncodeConfig(crf=10, preset="ultrafast"))
        for item in dec.read():
            if isinstance(item, DecodedFrame):
                enc.write(item.image, item.pts, item.duration)

    def full_disk(packets):
        raise VidstyleError(f"writing {out.name} failed: No space left on device")

    enc._mux_video = full_disk  # (inside finish: the look-ahead's last frames)
    with pytest.raises(VidstyleError, match="No space left on device"):
        enc.finish()
    assert out.exists() == (suffix == ".mkv")


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_a_long_frame_inside_the_last_b_frame_span_does_not_run_the_movie_on(tmp_path, suffix):
    """A GIF's delays (centiseconds) with x264's B-frames: the last packet written, the frame at
    1.49 s, lies 1 s behind its decode time (its span holds the 1 s frame), the first only 0.13 s.
    Given what made the decode timeline as long as the presentation, its pts + duration ran 0.87 s
    past the end, and the muxer ends the movie (edit list, mvhd) there: 2.88 s for 2.01."""
    times, last = [0, 10, 13, 38, 42, 49, 149, 151], 50
    info = SourceInfo(path=tmp_path / "in.gif", width=96, height=64, rotation=0, time_base=Fraction(1, 100),
                      frame_rate=Fraction(25, 4), frames=len(times), codec="gif", sample_aspect_ratio=None,
                      audio_streams=())
    out = tmp_path / f"o{suffix}"
    enc = VideoEncoder(out, info, EncodeConfig(preset="medium"))
    for i, t in enumerate(times):
        enc.write(pattern_frame(i, (96, 64)), pts=t, duration=(times + [times[-1] + last])[i + 1] - t)
    enc.finish()
    with av.open(str(out)) as c:
        order = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
        assert order != sorted(order)  # reordered
    with av.open(str(out)) as c:
        assert [float(f.time) for f in c.decode(c.streams.video[0])] == pytest.approx([t / 100 for t in times])
        assert c.duration / 1e6 == pytest.approx(2.01, abs=0.002)  # the decode timeline reaches the end
    assert _movie_seconds(out) == pytest.approx(2.01, abs=0.002)


def test_frames_last_until_the_next_one_when_mp4_reorders_a_gap(tmp_path):
    """A phone's dropped frames with B-frames: MP4 stores durations in decode order, so FFmpeg
    gives the frame after a 0.5 s gap the gap's duration (and the one before it a neighbour's);
    taken as they were, the output ran 0.27 s past the input's end."""
    times = [i * 33 for i in range(40)] + [40 * 33 + 500 + i * 33 for i in range(8)]  # ms
    src = write_frames(tmp_path / "vfr.mp4", [pattern_frame(i, (96, 64)) for i in range(48)], fps=30,
                       times=[Fraction(t, 1000) for t in times], time_base=Fraction(1, 1000))  # x264's default: B-frames
    with VideoDecoder(src) as dec:
        frames = [f for f in dec.read() if isinstance(f, DecodedFrame)]
    ends = [float((f.pts + f.duration) * f.time_base) for f in frames]
    starts = [float(f.pts * f.time_base) for f in frames]
    assert ends[:-1] == pytest.approx(starts[1:], abs=1e-4)  # each frame lasts until the next
    out = tmp_path / "o.mp4"
    reencode(src, out)
    with av.open(str(src)) as a, av.open(str(out)) as b:
        wanted = float(a.streams.video[0].duration * a.streams.video[0].time_base)
        assert float(b.streams.video[0].duration * b.streams.video[0].time_base) == pytest.approx(wanted, abs=0.034)
    # a segment that ends just after the frame that carried the gap's duration ends where it was cut
    part = tmp_path / "part.mp4"
    reencode(src, part, duration=1.84)
    with av.open(str(part)) as c:
        assert float(c.streams.video[0].duration * c.streams.video[0].time_base) == pytest.approx(1.84, abs=0.034)


def test_hevc_clips_shorter_than_its_b_frame_delay_are_written(tmp_path):
    """libx265 sometimes gives a one- or two-frame clip's packets decode timestamps 1e11 to 1e18
    ticks before or after their pts (an uninitialised base, mostly after the first encoder of a
    process), and the MP4 muxer refused them ("Not yet implemented in FFmpeg, patches welcome" or
    "Invalid argument"). Four in a row: the garbage comes with either sign."""
    src = make_video(tmp_path / "a.mp4", frames=2)
    for i in range(4):
        out = tmp_path / f"o{i}.mov"
        reencode(src, out, EncodeConfig(codec="libx265", preset="medium"))
        assert frame_times(out) == [Fraction(0), Fraction(1, 24)]


def test_an_mp4_cut_off_before_its_index_is_said_to_be_one(tmp_path):
    """MP4 writes its index (moov) last: a recording cut off has none, and FFmpeg says only
    "Invalid data found when processing input"."""
    full = make_video(tmp_path / "full.mp4", frames=24)
    half = tmp_path / "half.mp4"
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(VidstyleError, match=r"half.mp4 cannot be read: it has no index \(no moov box\): an MP4/MOV "
                                            r"recording that was cut off before it finished"):
        VideoDecoder(half)
    # a copy cut short inside the index, which MP4 writes last: FFmpeg opens it with no streams,
    # or with streams but no frames
    for cut in (-100, -800):
        short = tmp_path / "short.mp4"
        short.write_bytes(full.read_bytes()[:cut])
        with pytest.raises(VidstyleError, match=r"short.mp4 cannot be read: its index \(moov box\) is cut off: "
                                                r"the file is incomplete"):
            VideoDecoder(short)
    with pytest.raises(VidstyleError, match=r"short.mp4 cannot be read: its index \(moov box\) is cut off"):
        FileSource(short)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VidstyleError, match="junk.mp4 is not a readable video file"):
        VideoDecoder(junk)
    # FFmpeg's "Invalid data found when processing input" for an empty file too, as if damaged
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VidstyleError, match=r"empty.mp4 cannot be read: it is empty \(0 bytes\)"):
        VideoDecoder(empty)


def test_standard_output_is_refused_with_its_own_reason():
    with pytest.raises(VidstyleError, match=r"cannot write to standard output \(-o -\)"):
        check_output("-")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_an_output_that_is_a_pipe_or_a_device_is_refused_not_replaced(tmp_path):
    """A named pipe another program reads (or a link to /dev/null), given as the output with
    --overwrite, was replaced by the finished file, renamed over it: the reader waited for ever and
    the pipe was gone (review, 57th session). Refused, as -o - is, and left as it was."""
    pipe = tmp_path / "feed.mp4"
    os.mkfifo(pipe)
    null = tmp_path / "discard.mp4"
    null.symlink_to(os.devnull)
    for output, kind in ((pipe, "a pipe"), (null, "a device")):
        for check in (check_output, check_output_file):
            with pytest.raises(VidstyleError, match=rf"output .*{output.name} is {kind}, not a file: outputs are "
                                                    r"written to a file and renamed into place when complete; "
                                                    r"give a file name$"):
                check(output, overwrite=True)
    with pytest.raises(VidstyleError, match=r"output /dev/null is a device, not a file"):
        check_output(os.devnull, overwrite=True)  # said as that, not as a name without an extension
    assert pipe.is_fifo() and null.is_symlink()


def test_grey_output_plays_back_at_the_levels_written(tmp_path):
    """swscale writes grey formats at full range: tagged limited, players stretched a ramp (grey
    64 came back as 55, 200 as 214)."""
    info = SourceInfo(path=tmp_path / "in.mp4", width=64, height=16, rotation=0, time_base=Fraction(1, 25),
                      frame_rate=Fraction(25), frames=2, codec="h264", sample_aspect_ratio=None, audio_streams=())
    ramp = np.repeat(np.repeat((np.arange(64) * 4).astype(np.uint8)[None, :, None], 16, 0), 3, 2)
    out = tmp_path / "grey.mp4"
    enc = VideoEncoder(out, info, EncodeConfig(pix_fmt="gray", crf=0, preset="ultrafast", audio=False))
    for i in range(2):
        enc.write(ramp, pts=i, duration=1)
    enc.finish()
    back = read_frames(out)[0]
    assert np.abs(back.astype(int) - ramp).max() <= 2


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_hevc_in_mp4_is_tagged_for_apple_players(tmp_path, suffix):
    src = make_video(tmp_path / "a.mp4", frames=10)
    out = tmp_path / f"o{suffix}"
    reencode(src, out, EncodeConfig(codec="libx265", preset="ultrafast"))
    with av.open(str(out)) as c:  # hev1, FFmpeg's default, is refused by QuickTime, Safari and iOS
        assert c.streams.video[0].codec_context.codec_tag == "hvc1"


@pytest.mark.parametrize("codec,suffix,message", [
    ("nope264", ".mp4", "unknown codec 'nope264'; available: libx264"),
    ("libx264", ".webm", r"does not fit the .webm container; write libx264 to .mkv, or pick a codec for .webm "
                         r"\(libvpx-vp9 is its default\)"),
])
def test_encoder_configuration_errors(tmp_path, codec, suffix, message):
    src = make_video(tmp_path / "a.mp4", frames=2)
    with VideoDecoder(src) as dec, pytest.raises(VidstyleError, match=message):
        VideoEncoder(tmp_path / f"o{suffix}", dec.info, EncodeConfig(codec=codec))


@pytest.mark.parametrize("codec, name", [("libvpx-vp9", "vp9"), ("libsvtav1", "av1")])
def test_a_codec_the_muxer_refuses_says_why_and_what_to_do(tmp_path, codec, name):
    """FFmpeg's mov muxer lists VP9 and AV1 as codecs it knows, then refuses them when writing the
    header: the error gives its own reason and the way out, not just "Invalid argument"."""
    src = make_video(tmp_path / "a.mp4", frames=2)
    with VideoDecoder(src) as dec, pytest.raises(
            VidstyleError, match=rf"with {codec}: .*{name} only supported in MP4.*; \.mkv takes every codec here"):
        VideoEncoder(tmp_path / "o.mov", dec.info, EncodeConfig(codec=codec))


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="an NVIDIA driver is present")
@pytest.mark.skipif("h264_nvenc" not in av.codecs_available, reason="this PyAV build has no NVENC encoder")
def test_hardware_codec_without_gpu_is_a_clear_error(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=2)
    with VideoDecoder(src) as dec, pytest.raises(VidstyleError, match="could not start writing .* with h264_nvenc"):
        VideoEncoder(tmp_path / "o.mp4", dec.info, EncodeConfig(codec="h264_nvenc"))
    assert not (tmp_path / "o.mp4").exists() or (tmp_path / "o.mp4").stat().st_size == 0


def test_hardware_encoder_hint_names_a_gpu_without_nvenc():
    from vidstyle.io.codecs import hardware_encoder_hint

    # FFmpeg's words on an H200 (measured, twenty-ninth session) and on a machine with no driver
    h200 = "Generic error in an external library: OpenEncodeSessionEx failed: unsupported device (2): (no details)"
    assert "has no NVENC video encoder" in hardware_encoder_hint(h200)
    no_driver = "Operation not permitted"
    assert "driver present" in hardware_encoder_hint(no_driver)
    assert all("--codec libx264" in hardware_encoder_hint(r) for r in (h200, no_driver))


def _x264_threading(data: bytes) -> str:
    """x264's own record of its threading, from the options string it writes into the stream."""
    return re.search(rb"sliced_threads=(\d)", data).group().decode()


@pytest.mark.parametrize("realtime, expected", [(False, "sliced_threads=0"), (True, "sliced_threads=1")])
def test_x264_threads_by_frame_for_files_and_by_slice_when_realtime(tmp_path, realtime, expected):
    # PyAV opens encoders with slice threading, which x264 takes as sliced_threads=1 (its
    # low-latency mode); a file gets x264's frame threads, a real-time output keeps slices
    out = tmp_path / "o.mp4"
    # (x264 takes one thread, so no slices, below about 320x240)
    reencode(make_video(tmp_path / "a.mp4", frames=3, size=(320, 240)), out, EncodeConfig(realtime=realtime))
    assert _x264_threading(out.read_bytes()) == expected


def test_an_nvenc_encoder_that_cannot_open_fails_before_the_network_loads(tmp_path, monkeypatch):
    from vidstyle import pipeline

    try:
        ctx = av.CodecContext.create("h264_nvenc", "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 256, 256, "yuv420p", Fraction(1, 25)
        ctx.open()
        pytest.skip("this machine's NVENC opens")
    except (av.error.FFmpegError, ValueError):
        pass  # no GPU, driver or NVENC unit (or no NVENC in this FFmpeg)
    src = make_video(tmp_path / "a.mp4", frames=2)
    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a, **k: pytest.fail("the network was loaded"))
    with pytest.raises(VidstyleError, match="cannot encode with h264_nvenc: .*--codec libx264"):
        pipeline.stylize_video(src, tmp_path / "o.mp4", style="light_mondrian", codec="h264_nvenc", progress=False)
    assert list(tmp_path.iterdir()) == [src]


def test_unsupported_pix_fmt_is_an_error(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=2)
    with VideoDecoder(src) as dec, pytest.raises(VidstyleError, match="cannot encode pixel format 'rgb48le'"):
        VideoEncoder(tmp_path / "o.mp4", dec.info, EncodeConfig(pix_fmt="rgb48le"))


# --- output files -------------------------------------------------------------------------------

def test_output_refuses_the_input_by_path_symlink_and_hard_link(tmp_path):
    src = make_video(tmp_path / "a.mp4", frames=2)
    (tmp_path / "link.mp4").symlink_to(src)
    os.link(src, tmp_path / "hard.mp4")
    for out in (src, tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "sub" / ".." / "a.mp4"):
        with pytest.raises(VidstyleError, match="is the input file"):
            check_output(out, src, overwrite=True)


def test_output_needs_overwrite_and_a_known_extension_and_folder(tmp_path):
    existing = tmp_path / "o.mp4"
    existing.write_bytes(b"old")
    with pytest.raises(VidstyleError, match="already exists; pass --overwrite"):
        check_output(existing)
    assert check_output(existing, overwrite=True) == existing
    with pytest.raises(VidstyleError, match="cannot write .avi files"):
        check_output(tmp_path / "o.avi")
    with pytest.raises(VidstyleError, match="output folder does not exist"):
        check_output(tmp_path / "missing" / "o.mp4")


def test_any_output_file_refuses_its_inputs_and_folders(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"png")
    with pytest.raises(VidstyleError, match="is the input file"):
        check_output_file(tmp_path / "." / "photo.png", inputs=[None, photo], overwrite=True)
    (tmp_path / "model.safetensors").mkdir()
    with pytest.raises(VidstyleError, match="is a folder"):
        check_output_file(tmp_path / "model.safetensors", overwrite=True)
    with pytest.raises(VidstyleError, match="already exists; pass --overwrite"):
        check_output_file(photo)
    # a folder the caller will create is fine when asked for, an error otherwise
    assert check_output_file(tmp_path / "new" / "deeper" / "m.safetensors", create_folder=True).name == "m.safetensors"
    with pytest.raises(VidstyleError, match="output folder does not exist"):
        check_output_file(tmp_path / "new" / "stats.json")


def test_paths_too_long_for_the_file_system_are_refused_before_any_work(tmp_path):
    """The Python API's checks say the limit, not ENAMETOOLONG from the first stat."""
    from vidstyle.io.files import check_input, check_writable_folder

    name = "b" * (NAME_MAX + 1) + ".mp4"
    with pytest.raises(VidstyleError, match=rf"^output: the name b+\.\.\.b+\.mp4 is too long \({NAME_MAX + 5} bytes"):
        check_output_file(tmp_path / name)
    with pytest.raises(VidstyleError, match="^input: the name .* is too long"):
        check_input(tmp_path / name)
    with pytest.raises(VidstyleError, match="^checkpoint folder: the name .* is too long"):
        check_writable_folder(tmp_path / name, "checkpoint folder")
    with pytest.raises(VidstyleError, match=r"^output: the path is too long \(\d+ bytes; at most 4095\)"):
        check_output_file(tmp_path.joinpath(*["ab"] * 1500, "x.mp4"))
    assert check_output_file(tmp_path / ("a" * (NAME_MAX - 4) + ".mp4")).name.startswith("a")  # the longest allowed


def test_a_path_of_exactly_path_max_bytes_is_refused_as_the_system_refuses_it(tmp_path):
    """PATH_MAX counts the closing NUL: the system refuses a path of PATH_MAX bytes, and takes one a
    byte shorter; vidstyle's check draws the line at the same byte."""
    import errno

    from vidstyle.io.files import check_input

    def path_of(size: int) -> Path:
        folder = tmp_path.joinpath(*["ab"] * ((size - len(str(tmp_path))) // 3 - 2))
        return folder / ("x" * (size - len(str(folder)) - 1))

    at_limit, below = path_of(PATH_MAX), path_of(PATH_MAX - 1)
    assert (len(os.fsencode(at_limit)), len(os.fsencode(below))) == (PATH_MAX, PATH_MAX - 1)
    with pytest.raises(OSError) as refused:
        os.stat(at_limit)
    assert refused.value.errno == errno.ENAMETOOLONG
    with pytest.raises(FileNotFoundError):  # taken: only missing
        os.stat(below)
    with pytest.raises(VidstyleError, match=rf"^input: the path is too long \({PATH_MAX} bytes; at most {PATH_MAX - 1}\)"):
        check_input(at_limit)
    with pytest.raises(VidstyleError, match="^input file not found"):  # past the length check
        check_input(below)


def test_a_path_too_long_for_windows_is_refused_up_front_where_long_paths_are_off(tmp_path, monkeypatch):
    """Windows takes at most 259 characters (MAX_PATH) unless long paths are enabled: a longer
    output failed later with a raw error. Where it cannot tell (no winreg, as here) long paths
    count as off; the full path counts, the current folder of a relative one included, and one
    written extended-length (\\\\?\\C:\\...) is taken as it is."""
    from vidstyle.io import files

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "winreg", None)  # `import winreg` raises ImportError
    assert files.windows_long_paths_enabled() is False
    folder = tmp_path / ("d" * (files.WINDOWS_MAX_PATH - len(str(tmp_path)) - 12))
    long_output = folder / "out_12.mp4"  # 260 characters in all
    assert len(str(long_output)) == files.WINDOWS_MAX_PATH
    with pytest.raises(VidstyleError) as raised:
        check_output_file(long_output, create_folder=True)
    message = str(raised.value)
    assert message.startswith("output: the path is too long for Windows (260 characters") and "\n" not in message
    assert "at most 259" in message and "LongPathsEnabled" in message and "shorten" in message
    monkeypatch.chdir(folder.parent)
    with pytest.raises(VidstyleError, match="too long for Windows"):  # relative, long with its folder
        files.check_path_length(Path(folder.name) / "out_12.mp4", "output")
    files.check_path_length(folder / "out_1.mp4", "output")  # 259: taken
    # an extended-length path (\\?\ before it) is Windows' way past the limit: taken, however long
    files.check_path_length("\\\\?\\" + str(long_output), "output")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: True)
    assert check_output_file(long_output, create_folder=True) == long_output  # enabled: no limit here
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: False)
    files.check_path_length(long_output, "output")  # Linux's own limits only


def test_an_output_whose_temporary_name_is_too_long_for_windows_is_refused_up_front(tmp_path, monkeypatch):
    """An output is written under a temporary name beside it first, 27 characters longer
    (.NAME.vidstyle-RANDOM.partial.EXT): an output path of 233 to 259 characters passed the
    check and failed when the work was done. The check counts the temporary name."""
    from vidstyle.io import files

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: False)
    output = tmp_path / ("d" * (files.WINDOWS_MAX_PATH - len(str(tmp_path)) - 30)) / "out.mp4"
    written = len(str(files.temp_path_beside(output)))
    assert len(str(output)) < files.WINDOWS_MAX_PATH <= written
    with pytest.raises(VidstyleError) as raised:
        check_output_file(output, create_folder=True)
    assert str(raised.value).startswith(f"output: the path is too long for Windows ({written} characters with its "
                                        "folder and the temporary name it is first written under; at most 259")
    shorter = output.parent.name[:len(output.parent.name) - (written - files.WINDOWS_MAX_PATH + 1)]
    fits = tmp_path / shorter / "out.mp4"
    assert len(str(files.temp_path_beside(fits))) == files.WINDOWS_MAX_PATH - 1
    assert check_output_file(fits, create_folder=True) == fits  # the longest taken
    monkeypatch.setattr(sys, "platform", "linux")  # PATH_MAX likewise
    deep = tmp_path.joinpath(*["ab"] * ((PATH_MAX - len(str(tmp_path))) // 3 - 4))
    output = deep / ("x" * (PATH_MAX - 11 - len(str(deep))) + ".mp4")  # 4090 bytes
    with pytest.raises(VidstyleError, match=r"^output: the path is too long \(4117 bytes with the temporary name"):
        check_output_file(output, create_folder=True)


def test_output_folder_not_writable(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if not (hasattr(os, "geteuid") and os.geteuid() == 0):  # root writes into it anyway
            with pytest.raises(VidstyleError, match="not writable"):
                check_output(folder / "o.mp4")
        # a refusal that permissions do not show (a read-only mount, an immutable folder, root):
        # the check writes a file to tell, so every user sees it
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Read-only file system")
        monkeypatch.setattr(files.tempfile, "TemporaryFile", refuse)
        with pytest.raises(VidstyleError, match=r"output folder .*ro is not writable: no file can be created in it "
                                                r"\(Read-only file system\)"):
            check_output(folder / "o.mp4")
    finally:
        folder.chmod(0o700)


def test_atomic_output_renames_on_success_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "o.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(RuntimeError):
        with atomic_output(target, overwrite=True) as temp:
            assert temp.parent == tmp_path and temp.suffix == ".mp4" and temp != target
            temp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]
    with atomic_output(target, overwrite=True) as temp:
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]


def test_atomic_output_says_what_it_could_not_clean_up(tmp_path, monkeypatch):
    """A folder that turned read-only (or vanished) before the rename: the error names the
    temporary file left there, a complete render, and a vanished folder is said as one."""
    import os
    import shutil
    from pathlib import Path

    target = tmp_path / "ro" / "o.mp4"
    target.parent.mkdir()

    def refused(*args, **kw):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(VidstyleError, match=r"writing .*o.mp4 failed: Permission denied; its temporary file "
                                            r".*\.o\.vidstyle-.*\.partial\.mp4 could not be removed") as failed:
        with atomic_output(target) as temp:
            temp.write_bytes(b"a whole video")
            monkeypatch.setattr(os, "replace", refused)
            monkeypatch.setattr(os, "link", refused)
            monkeypatch.setattr(Path, "unlink", refused)
            monkeypatch.setattr(os, "unlink", refused)
    monkeypatch.undo()
    assert str(temp) in str(failed.value) and temp.read_bytes() == b"a whole video"
    # an error of a kind (here another program's file under the name meanwhile, a FileExistsError
    # too) keeps its kind with the line added: it was a plain VidstyleError (review, 56th session)
    from vidstyle.errors import OutputExistsError

    taken = tmp_path / "taken" / "o.mp4"
    taken.parent.mkdir()
    with pytest.raises(OutputExistsError, match=r"o.mp4 appeared while processing .* its temporary file "
                                                r".* could not be removed"):
        with atomic_output(taken) as temp:
            temp.write_bytes(b"a whole video")
            taken.write_bytes(b"theirs")
            monkeypatch.setattr(Path, "unlink", refused)
            monkeypatch.setattr(os, "unlink", refused)
    monkeypatch.undo()
    assert taken.read_bytes() == b"theirs" and temp.read_bytes() == b"a whole video"
    gone = tmp_path / "gone" / "o.mp4"
    gone.parent.mkdir()
    with pytest.raises(VidstyleError, match=r"writing .*o.mp4 failed: its folder .*gone was removed or renamed "
                                            r"meanwhile"):
        with atomic_output(gone) as temp:
            temp.write_bytes(b"half")
            shutil.rmtree(gone.parent)


def test_atomic_output_removes_its_temporary_file_from_a_folder_renamed_meanwhile(tmp_path):
    # the output's folder renamed (or moved aside) mid-run: the run failed as for a removed folder,
    # but left the whole half-written video, hidden, in the folder under its new name (review, 54th
    # session: 1.9 MB). The same with another folder made under the old name meanwhile.
    for replaced in (False, True):
        target = tmp_path / "renders" / "o.mp4"
        target.parent.mkdir()
        moved = tmp_path / f"moved{int(replaced)}"
        with pytest.raises(VidstyleError, match=r"writing .*o.mp4 failed: its folder .*renders was removed or "
                                                r"renamed meanwhile"):
            with atomic_output(target) as temp:
                temp.write_bytes(b"half a video")
                target.parent.rename(moved)
                if replaced:
                    target.parent.mkdir()
        assert list(moved.iterdir()) == [], list(moved.iterdir())
        assert not replaced or list(target.parent.iterdir()) == []
        if replaced:
            target.parent.rmdir()


def test_a_writer_failing_in_a_folder_renamed_meanwhile_is_said_as_that_and_ctrl_c_stays_ctrl_c(tmp_path):
    """The folder renamed while a writer works: whatever the writer then fails with (FFmpeg
    reopening the file by its name: No such file or directory, an OSError) is said as the folder
    gone, while a Ctrl-C stays an interruption, not an error message (mutation testing, 57th
    session: either could change with every test passing)."""
    import errno

    for interrupt in (False, True):
        target = tmp_path / "renders" / "o.mp4"
        target.parent.mkdir()
        moved = tmp_path / f"moved{int(interrupt)}"
        with pytest.raises(KeyboardInterrupt if interrupt else VidstyleError) as raised:
            with atomic_output(target) as temp:
                temp.write_bytes(b"half a video")
                target.parent.rename(moved)
                if interrupt:
                    raise KeyboardInterrupt
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(temp))
        assert interrupt or str(raised.value) == (f"writing {target} failed: its folder {target.parent} was removed "
                                                  "or renamed meanwhile")
        assert list(moved.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts the process's open files in /proc")
def test_writing_outputs_leaves_no_folder_held_open(tmp_path):
    # each output holds its folder open while it is written (see files._folder_held): a folder
    # of thousands of inputs (stylize_files) would otherwise run out of open files, written or failed
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    for i in range(5):
        with atomic_output(tmp_path / f"o{i}.mp4") as temp:
            temp.write_bytes(b"a video")
        with write_then_rename(tmp_path / f"r{i}.json") as temp:
            temp.write_text("{}")
        with pytest.raises(VidstyleError, match="nothing was written"):
            with atomic_output(tmp_path / f"none{i}.mp4"):
                pass
    assert open_files() == before


def test_write_then_rename_removes_its_temporary_file_from_a_folder_renamed_meanwhile(tmp_path):
    # as atomic_output's: a checkpoint or an ONNX file whose folder was renamed while it was
    # written failed with "No such file or directory" and left its hidden temporary file, whole,
    # in the folder under its new name
    target = tmp_path / "ck" / "checkpoint_0000005.pt"
    target.parent.mkdir()
    with pytest.raises(VidstyleError, match=r"writing .*checkpoint_0000005.pt failed: its folder .*ck was removed or "
                                            r"renamed meanwhile"):
        with write_then_rename(target, make_folder=True, durable=True) as temp:
            temp.write_bytes(b"a checkpoint")
            target.parent.rename(tmp_path / "moved")
    assert list((tmp_path / "moved").iterdir()) == [] and not target.parent.exists()
    # renamed before the file was written (an ONNX export, which writes at the end): said the same
    onnx = tmp_path / "models" / "m.onnx"
    onnx.parent.mkdir()
    with pytest.raises(VidstyleError, match=r"writing .*m.onnx failed: its folder .*models was removed or renamed "
                                            r"meanwhile"):
        with write_then_rename(onnx, overwrite=False) as temp:
            onnx.parent.rename(tmp_path / "moved_models")
            temp.write_bytes(b"a network")
    assert list((tmp_path / "moved_models").iterdir()) == []
    (tmp_path / "moved_models").rename(onnx.parent)  # ... and before it was begun (the export's seconds)
    onnx.parent.rename(tmp_path / "moved_again")
    with pytest.raises(VidstyleError, match=r"writing .*m.onnx failed: its folder .*models was removed or renamed "
                                            r"meanwhile"):
        with write_then_rename(onnx, overwrite=False) as temp:
            temp.write_bytes(b"a network")


def test_a_finished_output_that_cannot_replace_the_old_one_is_kept_beside_it(tmp_path, held_open):
    """Windows refuses to replace a file another program holds open (a player showing the last
    render): with overwrite, the finished output was deleted with "Permission denied", hours of
    work lost. It is kept under the next free numbered name, and the error says where."""
    target = tmp_path / "o.mp4"
    target.write_bytes(b"the old render, open in a player")
    (tmp_path / "o-2.mp4").write_bytes(b"another file")
    held_open(target)
    with pytest.raises(VidstyleError, match=r"cannot replace .*o\.mp4 \(Permission denied: is it open in another "
                                            r"program\?\); the finished output is kept as .*o-3\.mp4"):
        with atomic_output(target, overwrite=True) as temp:
            temp.write_bytes(b"the new render")
    assert target.read_bytes() == b"the old render, open in a player"
    assert (tmp_path / "o-3.mp4").read_bytes() == b"the new render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o-2.mp4", "o-3.mp4", "o.mp4"]
    # with no file there to replace, a refused write is the write failing: nothing is said to be
    # open in another program, and no numbered file is made
    fresh = tmp_path / "new" / "f.mp4"
    fresh.parent.mkdir()
    held_open(fresh)
    with pytest.raises(VidstyleError, match=r"^writing .*f\.mp4 failed: Permission denied$"):
        with atomic_output(fresh, overwrite=True) as temp:
            temp.write_bytes(b"the new render")
    assert list(fresh.parent.iterdir()) == []


def test_an_output_that_appears_at_the_last_moment_is_not_replaced_without_overwrite(tmp_path, monkeypatch):
    """Another program (or another run writing the same output) creates the file between the last
    check and the rename: without overwrite it stays as that program wrote it, whichever way the
    file is put in place; where the file system has no hard links, the check and the rename."""
    import errno

    target = tmp_path / "o.mp4"
    real_link, real_replace = os.link, os.replace

    def other_program_first(real):
        def placing(src, dst, *args, **kw):
            if Path(dst) == target:
                target.write_bytes(b"theirs")
            return real(src, dst, *args, **kw)
        return placing

    monkeypatch.setattr(os, "link", other_program_first(real_link))
    monkeypatch.setattr(os, "replace", other_program_first(real_replace))
    # a FileExistsError, as an output there before the run is (vidstyle.OutputExistsError)
    with pytest.raises(FileExistsError, match=r"output .*o\.mp4 appeared while processing .* kept as .*o-2\.mp4$") \
            as caught:
        with atomic_output(target) as temp:
            temp.write_bytes(b"ours")
    assert isinstance(caught.value, VidstyleError)
    assert target.read_bytes() == b"theirs" and (tmp_path / "o-2.mp4").read_bytes() == b"ours"  # (kept beside it)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o-2.mp4", "o.mp4"]
    target.unlink()
    (tmp_path / "o-2.mp4").unlink()

    def no_hard_links(src, dst, *args, **kw):  # Linux's FAT
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    monkeypatch.setattr(os, "replace", real_replace)
    with atomic_output(target) as temp:
        temp.write_bytes(b"ours")
    assert target.read_bytes() == b"ours" and sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]
    with pytest.raises(VidstyleError, match="appeared while processing"):
        with atomic_output(tmp_path / "p.mp4") as temp:
            temp.write_bytes(b"ours")
            (tmp_path / "p.mp4").write_bytes(b"theirs")
    assert (tmp_path / "p.mp4").read_bytes() == b"theirs" and (tmp_path / "p-2.mp4").read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "p-2.mp4", "p.mp4"]

    def windows_exfat(src, dst, *args, **kw):  # an exFAT or FAT32 drive on Windows (SD cards, USB disks)
        exc = OSError(errno.EINVAL, "Incorrect function")  # ERROR_INVALID_FUNCTION, as Python maps it
        exc.winerror = 1
        raise exc

    monkeypatch.setattr(os, "link", windows_exfat)  # the render was lost: "writing ... failed: Incorrect function"
    with atomic_output(tmp_path / "q.mp4") as temp:
        temp.write_bytes(b"ours")
    assert (tmp_path / "q.mp4").read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "p-2.mp4", "p.mp4", "q.mp4"]


def test_a_finished_output_whose_name_was_taken_meanwhile_is_kept_beside_it(tmp_path):
    """Another program's file under the output's name at the end of a long run stays, and the
    finished output is kept under the next free numbered name, which the error names: it was
    deleted, the error saying only "pass --overwrite to replace it" (the render lost)."""
    from vidstyle.errors import OutputExistsError

    target = tmp_path / "o.mp4"
    (tmp_path / "o-2.mp4").write_bytes(b"older")  # (a numbered name taken is skipped)
    with pytest.raises(OutputExistsError, match=r"^output .*o\.mp4 appeared while processing \(another program's "
                                                r"file\?\), left as it is; the finished output is kept as .*o-3\.mp4$"):
        with atomic_output(target) as temp:
            temp.write_bytes(b"ours")
            target.write_bytes(b"theirs")
    assert [(p.name, p.read_bytes()) for p in sorted(tmp_path.iterdir())] == \
        [("o-2.mp4", b"older"), ("o-3.mp4", b"ours"), ("o.mp4", b"theirs")]
    weights = tmp_path / "m.safetensors"  # and a write_then_rename told not to replace (training's weights)
    with pytest.raises(OutputExistsError, match=r"the finished output is kept as .*m-2\.safetensors$"):
        with write_then_rename(weights, overwrite=False) as temp:
            temp.write_bytes(b"ours")
            weights.write_bytes(b"theirs")
    assert (tmp_path / "m-2.safetensors").read_bytes() == b"ours" and weights.read_bytes() == b"theirs"


def test_an_output_whose_numbered_names_are_taken_up_to_a_dozen_is_kept_after_them(tmp_path):
    """A name used run after run (the same recording's or render's) has its numbered names taken
    in turn: the finished output goes after all of them, not discarded after the first few
    (mutation testing, 59th session: place_beside's last name 3 for 1000 passed every test)."""
    from vidstyle.errors import OutputExistsError

    target = tmp_path / "rec.mp4"
    for n in range(2, 13):
        files.numbered_name(target, n).write_bytes(b"older")
    with pytest.raises(OutputExistsError, match=r"the finished output is kept as .*rec-13\.mp4$"):
        with atomic_output(target) as temp:
            temp.write_bytes(b"ours")
            target.write_bytes(b"theirs")
    assert (tmp_path / "rec-13.mp4").read_bytes() == b"ours" and target.read_bytes() == b"theirs"


def test_a_temporary_name_that_cannot_be_removed_after_the_link_is_a_warning(tmp_path, monkeypatch, caplog):
    """The finished file was linked under its name, then removing the temporary name failed (an I/O
    error): the output is complete and in place, so the run does not end in an error for it."""
    import logging

    real_unlink = Path.unlink

    def temporary_name_stays(self, *args, **kw):
        if self.name.startswith("."):
            raise OSError(5, "Input/output error")
        return real_unlink(self, *args, **kw)

    target = tmp_path / "o.mp4"
    monkeypatch.setattr(Path, "unlink", temporary_name_stays)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        with atomic_output(target) as temp:
            temp.write_bytes(b"a whole video")
    assert target.read_bytes() == b"a whole video" and temp.read_bytes() == b"a whole video"
    assert f"{target} is written, but its temporary name {temp} could not be removed (Input/output error)" \
        in caplog.text


def test_a_frame_sequence_whose_temporary_names_stay_says_so_once_not_per_frame(tmp_path, monkeypatch, caplog):
    """Removing each frame's temporary name failed after its link was made: the frames are in
    place, and the hidden folder that held them goes with the rest, so it is not said again for
    every frame of a sequence (thousands of lines), and nothing says a removed file can be deleted."""
    import logging

    from vidstyle.pipeline import stylize_video

    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48))
    real_unlink = Path.unlink

    def temporary_names_stay(self, *args, **kw):
        if self.parent.name.startswith("."):
            raise OSError(5, "Input/output error")
        return real_unlink(self, *args, **kw)

    monkeypatch.setattr(Path, "unlink", temporary_names_stay)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_video(src, tmp_path / "out" / "f_%03d.png", Identity(), temporal="off", progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f_{i:03d}.png" for i in range(1, 13)]
    assert "could not be removed" not in caplog.text
    # where the hidden folder stays too (the same I/O error), one line says so
    import vidstyle.io.files as files

    monkeypatch.setattr(files, "_remove_temp", lambda *args, **kw: None)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_video(src, tmp_path / "again" / "f_%03d.png", Identity(), temporal="off", progress=False)
    assert caplog.text.count("could not be removed") == 1 and "(12 of them are in it" in caplog.text


def test_write_then_rename_keeps_a_file_that_appeared_only_when_told(tmp_path):
    target = tmp_path / "m.onnx"
    with pytest.raises(VidstyleError, match=r"output .*m\.onnx appeared while processing"):
        with write_then_rename(target, overwrite=False) as temp:
            temp.write_text("ours")
            target.write_text("theirs")
    assert target.read_text() == "theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["m-2.onnx", "m.onnx"]
    (tmp_path / "m-2.onnx").unlink()  # (ours, kept beside it)
    with write_then_rename(target) as temp:  # the default: replace (a checkpoint, a report)
        temp.write_text("ours")
    assert target.read_text() == "ours" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_a_durable_write_works_as_windows_opens_and_syncs(tmp_path, monkeypatch):
    """Training's checkpoints and weights are synced to the disk (write_then_rename durable=True).
    Windows opens no folder with os.open (EACCES) and flushes a file only through a descriptor open
    for writing (FlushFileBuffers; EBADF otherwise): the first checkpoint failed there with
    "Permission denied". Faked here as Windows does it."""
    import errno
    import sys

    real_open, real_fsync = os.open, os.fsync
    writable = set()

    def windows_open(path, flags, *args, **kwargs):
        if os.path.isdir(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        fd = real_open(path, flags, *args, **kwargs)
        if flags & (os.O_WRONLY | os.O_RDWR):
            writable.add(fd)
        return fd

    def windows_fsync(fd):
        if fd not in writable:
            raise OSError(errno.EBADF, "Bad file descriptor")
        real_fsync(fd)

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(files.os, "open", windows_open)
    monkeypatch.setattr(files.os, "fsync", windows_fsync)
    target = tmp_path / "run" / "checkpoint.pt"
    with write_then_rename(target, make_folder=True, durable=True) as temp:
        temp.write_bytes(b"weights")
    assert target.read_bytes() == b"weights" and sorted(p.name for p in target.parent.iterdir()) == ["checkpoint.pt"]
    assert writable  # the file was synced, through a descriptor Windows flushes


def test_temporary_names_never_reuse_an_existing_file(tmp_path, monkeypatch):
    # fixed names such as OUT.part were existing files too, inputs included, and got overwritten
    import secrets

    taken = tmp_path / ".m.vidstyle-00000000.partial.onnx"
    taken.write_text("someone's file")
    tokens = iter(["00000000", "00000001"])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(tokens))
    temp = temp_path_beside(tmp_path / "m.onnx")
    assert temp.name == ".m.vidstyle-00000001.partial.onnx"
    monkeypatch.undo()
    (tmp_path / "m.onnx.part").write_text("notes")
    with write_then_rename(tmp_path / "m.onnx") as temp:
        temp.write_text("model")
    assert (tmp_path / "m.onnx").read_text() == "model"
    assert (tmp_path / "m.onnx.part").read_text() == "notes" and taken.read_text() == "someone's file"
    with pytest.raises(KeyboardInterrupt):
        with write_then_rename(tmp_path / "m.onnx") as temp:
            temp.write_text("half")
            raise KeyboardInterrupt
    assert (tmp_path / "m.onnx").read_text() == "model"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([taken.name, "m.onnx", "m.onnx.part"])


def test_a_full_disk_is_one_error_naming_the_file(tmp_path, monkeypatch):
    import errno

    from PIL import Image

    with pytest.raises(VidstyleError, match=r"writing .*report\.json failed: No space left on device"):
        with write_then_rename(tmp_path / "report.json") as temp:
            temp.write_text("{")
            raise OSError(errno.ENOSPC, "No space left on device")
    # an image written by stylize_image, through atomic_output
    from vidstyle import stylize_image

    photo = tmp_path / "p.png"
    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(photo)

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(VidstyleError, match=r"writing .*out\.png failed: No space left on device"):
        stylize_image(photo, tmp_path / "out.png", style="light_mondrian", device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_a_long_output_name_gets_a_temporary_name_the_file_system_takes(tmp_path):
    target = tmp_path / ("a" * (NAME_MAX - 4) + ".mp4")  # the longest name allowed
    temp = temp_path_beside(target)
    assert len(temp.name.encode()) <= NAME_MAX and temp.suffix == ".mp4" and temp.name.startswith(".a")
    with atomic_output(target) as temp:
        temp.write_bytes(b"video")
    assert target.read_bytes() == b"video"
    accented = temp_path_beside(tmp_path / ("é" * 200 + ".png"))  # two bytes a character: not cut mid-character
    assert len(accented.name.encode()) <= NAME_MAX and accented.name.encode().decode() == accented.name


def test_a_dangling_symlink_at_the_output_needs_overwrite(tmp_path):
    link = tmp_path / "out.mp4"
    link.symlink_to(tmp_path / "nowhere" / "gone.mp4")
    with pytest.raises(VidstyleError, match="already exists"):
        check_output(link)
    assert check_output(link, overwrite=True) == link


def test_urls_trailing_slashes_and_file_parents_are_named_as_such(tmp_path):
    from vidstyle.io.files import check_input

    with pytest.raises(VidstyleError, match="is a URL"):
        check_input("https://example.com/clip.mp4")
    with pytest.raises(VidstyleError, match="names a folder"):
        check_output(f"{tmp_path}/new.mp4/")
    assert not (tmp_path / "new.mp4").exists()
    (tmp_path / "in.mp4").write_bytes(b"x")
    with pytest.raises(VidstyleError, match="is a file, not a folder"):
        check_output(tmp_path / "in.mp4" / "out.mp4")


# --- ProRes, and which container takes which codec ---------------------------------------------

def test_prores_is_422_hq_in_mov_with_exact_timing_and_audio(tmp_path, caplog):
    src = make_video(tmp_path / "a.mp4", frames=10, vfr=True, audio=True)
    out = tmp_path / "o.mov"
    reencode(src, out, EncodeConfig(codec="prores_ks"))  # the default pix_fmt (yuv420p) is not ProRes'
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.codec_context.profile, v.format.name) == ("prores", "HQ", "yuv422p10le")
    info = probe(out)
    assert info.frames == 10 and info.audio[0].codec == "aac"
    assert frame_times(out) == frame_times(src) and audio_packets(out) == audio_packets(src)
    assert psnr(read_frames(out), read_frames(src)) > 40  # an editing master: close to the input
    assert "do not apply" not in caplog.text
    four = tmp_path / "o4.mkv"
    reencode(src, four, EncodeConfig(codec="prores_ks", pix_fmt="yuv444p10le", crf=10))
    with av.open(str(four)) as c:
        assert c.streams.video[0].codec_context.profile == "4444"
    assert "--crf and --preset do not apply to prores_ks" in caplog.text


def test_the_codec_table_matches_what_ffmpeg_writes(tmp_path):
    """codec_fits' table against FFmpeg's muxers: every software codec into every output suffix."""
    from vidstyle.io.codecs import codec_fits

    for suffix in (".mp4", ".m4v", ".mov", ".mkv", ".webm"):
        for codec in ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "prores_ks"):
            pix_fmt = "yuv422p10le" if codec == "prores_ks" else "yuv420p"
            try:  # 3 frames: x265 with a single frame fails in MP4/MOV ("patches welcome")
                write_frames(tmp_path / f"t{suffix}", [np.full((48, 64, 3), 60 * i, np.uint8) for i in range(3)],
                             codec=codec, pix_fmt=pix_fmt)
                written = True
            except (ValueError, av.error.FFmpegError):
                written = False
            assert codec_fits(codec, suffix) == written, (codec, suffix)


def test_stylize_refuses_a_codec_the_container_cannot_hold_before_any_work(tmp_path, style, monkeypatch):
    from vidstyle import pipeline
    from vidstyle.pipeline import stylize_files, stylize_video

    src = make_video(tmp_path / "a.mp4", frames=2)
    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a: pytest.fail("the network was loaded"))
    for codec, out, message in (("prores_ks", "o.mp4", r"o.mp4: .mp4 files cannot hold prores_ks; write it to "
                                                        r"\.mov or \.mkv"),
                                ("libvpx-vp9", "o.mov", r"\.mov files cannot hold libvpx-vp9; write it to \.mp4 or "
                                                        r"\.mkv or \.webm, or pick a codec for \.mov \(libx264")):
        with pytest.raises(VidstyleError, match=message):
            stylize_video(src, tmp_path / out, str(style), codec=codec, progress=False)
        assert not (tmp_path / out).exists()
    # and the encoder's other settings, whatever the input (a folder of outputs too)
    for options, message in ((dict(codec="prores_ks", pix_fmt="yuv420p10le"), "prores_ks cannot encode pixel format "
                              "'yuv420p10le'; it supports: yuv422p10le, yuv444p10le, yuva444p10le"),
                             (dict(pix_fmt="yuv9p"), "libx264 cannot encode pixel format 'yuv9p'"),
                             (dict(crf=70), "--crf 70 is out of range for libx264: use 0 to 51"),
                             (dict(codec="libvpx-vp9", crf=64), "--crf 64 is out of range for libvpx-vp9: use 0 to 63"),
                             (dict(preset="fastish"), "unknown --preset 'fastish' for libx264: use one of ultrafast, "
                              "superfast, veryfast, faster, fast, medium, slow, slower, veryslow or its own placebo"),
                             (dict(codec="libvpx-vp9", preset="p4"), "for libvpx-vp9: use one of ultrafast, superfast, "
                              "veryfast, faster, fast, medium, slow, slower, veryslow or its own -8 to 8")):
        out = tmp_path / ("o.mov" if options.get("codec") == "prores_ks" else "o.mp4")
        with pytest.raises(VidstyleError, match=re.escape(message)):
            stylize_video(src, out, str(style), progress=False, **options)
        assert not out.exists()
        with pytest.raises(VidstyleError, match=re.escape(message)):
            stylize_files([src], tmp_path / "many", str(style), progress=False, **options)
        assert not (tmp_path / "many").exists()


def test_vp9_presets_faster_than_fast_use_its_real_time_mode():
    """libvpx's good mode stops at cpu-used 5, which faster, veryfast, superfast and ultrafast all
    gave there, and which encoded slower than fast's 4: they now run its real-time mode, 4.5-10x
    faster than medium (benchmarks/RESULTS.md, "VP9's presets"). A cpu-used number given as is stays as is."""
    from vidstyle.io.codecs import _encoder_options

    def vp9(preset):
        opts = _encoder_options("libvpx-vp9", 18, preset)
        return opts["cpu-used"], opts.get("deadline", "good")

    assert [vp9(p) for p in ("veryslow", "slow", "medium", "fast")] == [
        ("0", "good"), ("2", "good"), ("3", "good"), ("4", "good")]
    assert [vp9(p) for p in ("faster", "veryfast", "superfast", "ultrafast")] == [
        ("5", "realtime"), ("6", "realtime"), ("7", "realtime"), ("8", "realtime")]
    assert vp9("6") == ("6", "good")


def test_the_default_encoding_is_x264_crf_18_preset_medium(tmp_path):
    """The README's promise (crf 18, preset medium: high quality) read back from the file: x264
    writes the settings it ran with into the stream. A changed default would lower every
    stylized video's quality without any other test noticing."""
    from vidstyle import stylize_video

    src = make_video(tmp_path / "in.mp4", frames=4, size=(64, 48))
    stylize_video(src, tmp_path / "out.mp4", style=Identity(), temporal="off", progress=False)
    settings = re.search(rb"x264 - core .*? - (.*?)\x00", (tmp_path / "out.mp4").read_bytes())
    assert settings, "no x264 settings in the output"
    options = dict(item.split(b"=", 1) for item in settings.group(1).split() if b"=" in item)
    assert options[b"crf"] == b"18.0" and options[b"rc"] == b"crf"
    # preset medium's signature among x264's presets: subme 7, 3 reference frames, hex motion search
    assert (options[b"subme"], options[b"ref"], options[b"me"]) == (b"7", b"3", b"hex")


@pytest.mark.parametrize("codec, pix_fmt", [("libx264", "yuv420p"), ("libx264", "yuv420p10le"),
                                           ("libx265", "yuv420p"), ("libx265", "yuv420p10le"), ("libvpx-vp9", "yuv420p")])
def test_crf_0_is_lossless(codec, pix_fmt):
    """--crf 0 as x264 users know it: the decoded planes are the ones encoded, bit for bit (x264's
    crf 0 lost up to 9 levels at 10 bits, x265's up to 7 at any depth)."""
    import io

    from vidstyle.io.codecs import configure_encoder

    rng, buffer, sent = np.random.default_rng(0), io.BytesIO(), []
    with av.open(buffer, "w", format="matroska") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        configure_encoder(stream, codec, 0, None)
        for i in range(4):  # noise: the hardest picture to keep
            rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            sent.append(frame.to_ndarray())
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer) as container:
        got = [frame.to_ndarray() for frame in container.decode(video=0)]
    assert len(got) == len(sent) and all(np.array_equal(a, b) for a, b in zip(sent, got))


def test_crf_0_is_refused_for_nvenc_which_reads_it_as_automatic_quality():
    from vidstyle.io.codecs import _encoder_options

    with pytest.raises(VidstyleError, match="not available for h264_nvenc"):
        _encoder_options("h264_nvenc", 0, None)
    assert _encoder_options("hevc_nvenc", 1, None)["cq"] == "1"


def test_an_output_folder_that_is_a_file_is_said_as_that(tmp_path):
    """`live --output-dir afile`: "File exists" left the reader to guess which file was meant."""
    from vidstyle.io.files import create_output_folder

    blocking = tmp_path / "afile"
    blocking.write_text("notes")
    for folder in (blocking, blocking / "snapshots"):
        with pytest.raises(VidstyleError) as err:
            create_output_folder(folder)
        assert str(err.value) == f"cannot create the output folder {folder}: {blocking} is a file, not a folder"
    assert create_output_folder(tmp_path / "a" / "b").is_dir()
    with pytest.raises(VidstyleError, match=f"{blocking} is a file, not a folder"):  # as every writer says it
        with write_then_rename(blocking / "stats" / "run.json", make_folder=True) as temp:
            temp.write_text("{}")


@pytest.mark.parametrize("size, matrix", [
    ((720, 576), 6), ((720, 480), 6), ((1024, 576), 6),  # PAL and NTSC SD (DVDs, DV) are BT.601
    ((720, 578), 1), ((1280, 720), 1), ((1280, 536), 1),  # over 576 lines or 1280 wide (a 2.39:1 crop): HD
    ((1920, 1080), 1)])
def test_an_untagged_video_is_converted_with_the_matrix_players_assume_for_its_size(size, matrix):
    """Players take an untagged video of 576 lines (PAL) or fewer below 1280 wide as BT.601: one
    converted as BT.709 would have its greens and reds shifted; a tag, when there is one, decides."""
    from vidstyle.io.display import yuv_matrix

    assert yuv_matrix(2, *size) == matrix  # AVCOL_SPC_UNSPECIFIED
    assert yuv_matrix(1, *size) == 1 and yuv_matrix(5, *size) == 5 and yuv_matrix(9, *size) == 9


def _blocks_video(path, levels, block: int, codec: str, pix_fmt: str, full_range: bool):
    """A one-frame lossless video of flat ``block``-pixel squares, whose (Y, Cb, Cr) are ``levels``
    (3, rows, columns), in 4:2:0 ``pix_fmt``, tagged full range where ``full_range``."""
    bits = 16 if pix_fmt.endswith("10le") else 8
    y, u, v = (np.kron(plane, np.ones((size, size), np.int64)) for plane, size in zip(levels, (block, block // 2, block // 2)))
    w = y.shape[1]
    planes = np.concatenate([y, u.reshape(-1, w), v.reshape(-1, w)]).astype(np.uint16 if bits == 16 else np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = w, y.shape[0], pix_fmt
        if codec == "libx264":
            stream.options = {"qp": "0", "preset": "ultrafast"}  # lossless: the file holds these levels
        if full_range:
            stream.codec_context.color_range = 2  # AVCOL_RANGE_JPEG
        frame = av.VideoFrame.from_ndarray(planes, format=pix_fmt)  # (laid out as PyAV lays 4:2:0 out)
        frame.pts = 0
        if full_range:
            frame.color_range = 2
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_the_8_bit_twin_keeps_the_chroma_subsampling_and_the_alpha():
    """Deep 4:2:0 and 4:2:2 frames (scaled, or with alpha) go through the 8-bit format of the same
    subsampling: 4:2:2 through 4:2:0 would halve its vertical chroma. Others convert as they are."""
    from vidstyle.io.display import eight_bit_twin

    assert eight_bit_twin("yuv420p10le") == "yuv420p" and eight_bit_twin("yuv422p12le") == "yuv422p"
    assert eight_bit_twin("yuva422p10le") == "yuva422p" and eight_bit_twin("yuva420p10le") == "yuva420p"
    assert eight_bit_twin("yuv444p10le") is None and eight_bit_twin("yuv420p") is None
    assert eight_bit_twin("gray10le") is None


@pytest.mark.parametrize("downscale, codec, full_range", [(None, "libx264", False), (48, "libx264", False),
                                                          (None, "libx264", True), (None, "ffv1", True)])
def test_4_2_0_frames_decode_at_their_levels(tmp_path, downscale, codec, full_range):
    """swscale's default YUV -> RGB path made 4:2:0 frames 1-2 levels too dark (a flat colour coded
    as (201, 60, 30) came out as (200, 58, 29)): the frames given to the network, and a mask's
    kept parts, were darker than a player shows the input. Frames scaled down as they are
    decoded (--downscale) too; and full-range ones, which H.264's decoder gives as yuvj420p and
    FFV1's (as VP9's, AV1's) as yuv420p tagged full range, at full range's levels."""
    w, h, block = 96, 64, 16
    rng = np.random.default_rng(3)
    levels = rng.integers(40, 216, (3, h // block, w // block))  # Y, U, V of each 16x16 block
    path = _blocks_video(tmp_path / ("blocks.mkv" if codec == "ffv1" else "blocks.mp4"), levels, block, codec,
                         "yuv420p", full_range)
    with VideoDecoder(path, downscale=downscale) as dec:  # 96x64, untagged: BT.601
        image = next(f for f in dec.read() if isinstance(f, DecodedFrame)).image.astype(float)
    step = block * image.shape[1] // w  # a block's size as decoded
    luma, chroma = ((levels[0], 1.0) if full_range else ((levels[0] - 16) * 255 / 219, 255 / 224))
    cb, cr = (levels[1] - 128) * chroma, (levels[2] - 128) * chroma
    expected = np.clip(np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], -1), 0, 255)
    centres = image[step // 2::step, step // 2::step]  # away from the blocks' edges
    assert np.abs(centres - expected).max() <= 0.6


def test_full_range_10_bit_frames_decode_at_their_levels(tmp_path):
    """10-bit full range (0-1023, chroma centred at 512), converted at 16 bits and dithered to 8:
    each block's 8x8 average (every dither threshold once) is its level, where the 10-bit codes
    are read as 8-bit ones scaled by 255/1023, not 1/4, and chroma is centred at 512."""
    w, h, block = 96, 64, 16
    rng = np.random.default_rng(5)
    levels = rng.integers(160, 864, (3, h // block, w // block))  # Y, U, V of each block, 10 bits
    path = _blocks_video(tmp_path / "blocks.mkv", levels, block, "ffv1", "yuv420p10le", full_range=True)
    with VideoDecoder(path) as dec:  # untagged matrix at 96x64: BT.601
        image = next(f for f in dec.read() if isinstance(f, DecodedFrame)).image.astype(float)
    luma, cb, cr = (levels[0] * 255 / 1023, (levels[1] - 512) * 255 / 1023, (levels[2] - 512) * 255 / 1023)
    expected = np.clip(np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], -1), 0, 255)
    means = np.array([[image[r * block + 4:r * block + 12, c * block + 4:c * block + 12].mean(axis=(0, 1))
                       for c in range(w // block)] for r in range(h // block)])
    assert np.abs(means - expected).max() <= 0.15


def test_a_re_encoded_audio_track_is_named_by_its_codec_not_its_decoder(tmp_path, caplog):
    """FFmpeg decodes MP3 with "mp3float": the warning said "audio track 0 (mp3float) cannot be
    copied into .webm (webm does not hold mp3float)", a name users do not know."""
    src = make_video(tmp_path / "a.mkv", frames=4, audio="mp3")
    reencode(src, tmp_path / "o.webm", EncodeConfig(crf=30, preset="ultrafast"))
    assert "audio track 0 (mp3) cannot be copied into .webm (webm does not hold mp3); re-encoding it to libopus" \
        in caplog.text
    assert "mp3float" not in caplog.text


@pytest.mark.parametrize("size", [(16, 480), (16, 96), (128, 16), (24, 65), (96, 24)])
def test_sizes_svt_av1_hangs_on_are_refused_before_any_work(size):
    """libsvtav1 never returned a packet for 16x480 (a narrow strip): the run hung, and SIGTERM
    could not end it. Such sizes are refused with the way out; the sizes around them still encode."""
    codec = av.Codec("libsvtav1", "w")
    with pytest.raises(VidstyleError, match=rf"libsvtav1 cannot encode {size[0]}x{size[1]}: .*use --codec libvpx-vp9"):
        output_pix_fmt(codec, "yuv420p", *size)
    # 25 to 31 pixels across encode (SVT pads them to 32): 28x480 and 480x25 were refused as hanging
    for fine in [(16, 64), (64, 16), (24, 64), (25, 65), (25, 480), (28, 480), (480, 25), (31, 100), (32, 480),
                 (480, 32)]:
        assert output_pix_fmt(codec, "yuv420p", *fine) == "yuv420p"


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 3), (3, 16), (16, 3), (1, 64), (63, 1)])
def test_sizes_svt_av1_refuses_are_refused_before_any_work_in_one_line(size):
    """A 2x2 clip to AV1 ended, once its first frame was stylized, in SVT-AV1's own line "Svt[error]:
    Forced Max Height must be at least 4" and "could not start writing ... bad parameter
    (0x80001005)": a side under 4 pixels is refused first, with the way out (4x4 and up encode)."""
    codec = av.Codec("libsvtav1", "w")
    with pytest.raises(VidstyleError, match=rf"^libsvtav1 cannot encode {size[0]}x{size[1]}: .*use --codec libvpx-vp9"):
        output_pix_fmt(codec, "yuv420p", *size)
    for fine in [(4, 4), (4, 8), (8, 4), (4, 24), (24, 4), (5, 5)]:
        assert output_pix_fmt(codec, "yuv420p", *fine) == "yuv420p"


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (8, 8), (15, 40), (40, 15), (15, 15), (1000, 14)])
def test_sizes_x265_refuses_are_refused_before_any_work_in_one_line(size):
    """--codec libx265 of an 8x8 clip ended, once its first frame was stylized, in "could not start
    writing ... Image size is too small (8x8)": a side under 16 pixels is refused first, with the
    way out; --preset placebo refuses under 32 (24x24, 30x1000), which the other presets write."""
    codec = av.Codec("libx265", "w")
    with pytest.raises(VidstyleError, match=rf"^libx265 cannot encode {size[0]}x{size[1]}: .*use --codec libx264"):
        output_pix_fmt(codec, "yuv420p", *size)
    for fine in [(16, 16), (16, 1000), (1000, 16), (17, 17)]:
        assert output_pix_fmt(codec, "yuv420p", *fine) in ("yuv420p", "yuv444p")
    for small in [(24, 24), (30, 1000), (1000, 31)]:
        assert output_pix_fmt(codec, "yuv420p", *small, preset="medium") in ("yuv420p", "yuv444p")
        with pytest.raises(VidstyleError, match=rf"^libx265 cannot encode {small[0]}x{small[1]} at --preset placebo"):
            output_pix_fmt(codec, "yuv420p", *small, preset="placebo")
    assert output_pix_fmt(codec, "yuv420p", 32, 32, preset="placebo") == "yuv420p"


def test_a_very_short_segment_keeps_the_sound_of_its_whole_frames(tmp_path):
    """A segment ending inside a frame keeps that frame whole and its sound. The audio demuxed
    while the decoder filled up, before the first frame (and so the whole-frame end) was known,
    was dropped against the end asked for: --start 0.5 --duration 0.01 gave a frame and no audio."""
    src = make_video(tmp_path / "a.mp4", frames=24, audio=True)
    dec, frames, audio = decode_all(src, start=0.5, duration=0.01)
    assert len(frames) == 1
    with av.open(str(src)) as container:
        stream = container.streams.audio[0]
        starts = [p.pts * stream.time_base for p in container.demux(stream) if p.pts is not None]
    # the input's packets that begin inside the frame kept, [0.5, 0.5 + 1/24)
    expected = [t for t in starts if Fraction(1, 2) <= t < Fraction(1, 2) + Fraction(1, 24)]
    kept = [a.packet.pts * a.packet.time_base + Fraction(1, 2) for a in audio if not a.lead_in]
    assert expected and kept == expected


@pytest.mark.parametrize("size", [(97, 65), (96, 65), (97, 64)])
def test_odd_sized_4_2_0_frames_decode_at_their_levels_with_their_own_chroma(tmp_path, size):
    """An odd width or height (VP9, AV1 and FFV1 store them) went through swscale, which was 1-2
    levels dark and blended the chroma of neighbouring samples (up to 190 levels off at the edges
    of coloured blocks): every pixel x, y takes chroma sample (x // 2, y // 2), the last odd
    column and row their own."""
    w, h = size
    cw, ch, block = (w + 1) // 2, (h + 1) // 2, 16
    levels = np.random.default_rng(4).integers(40, 216, (3, -(-h // block), -(-w // block)))
    y = np.kron(levels[0], np.ones((block, block), np.int64))[:h, :w].astype(np.uint8)
    u, v = (np.kron(p, np.ones((block // 2, block // 2), np.int64))[:ch, :cw].astype(np.uint8) for p in levels[1:])
    path = tmp_path / "odd.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"lossless": "1"}  # the file holds these levels
        frame = av.VideoFrame(w, h, "yuv420p")
        for plane, values in zip(frame.planes, (y, u, v)):
            np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width] = values
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with VideoDecoder(path) as dec:  # untagged, small: BT.601, limited range
        image = next(f for f in dec.read() if isinstance(f, DecodedFrame)).image.astype(float)
    cb, cr = ((np.repeat(np.repeat(p, 2, 0), 2, 1)[:h, :w] - 128.0) * 255 / 224 for p in (u, v))
    luma = (y - 16.0) * 255 / 219
    expected = np.clip(np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], -1), 0, 255)
    assert image.shape == (h, w, 3)
    assert np.abs(image - expected).max() <= 0.6


# --- frames handed to the encoder in yuv420p (converted where the network runs) --------------------

def _swscale_yuv420(rgb: np.ndarray, matrix: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return frame.reformat(format="yuv420p", dst_colorspace=matrix,
                          dst_color_range=av.video.reformatter.ColorRange.MPEG).to_ndarray()


@pytest.mark.parametrize("matrix", [1, 5, 9])  # BT.709, BT.601, BT.2020 (SWS_CS_*)
def test_float_to_yuv420_is_swscales_conversion_without_its_bias(matrix):
    """The GPU's conversion against what the encoder's swscale makes of the same 8-bit RGB: luma
    within a level; chroma unbiased against the exact conversion of each 2x2 mean (swscale's is
    up to 0.08 of a level low in BT.601), and decoded back it is nearer the RGB it came from."""
    import torch

    from vidstyle.frames import float_to_yuv420, images_to_tensor
    from vidstyle.io.display import rgb_to_yuv_matrix

    rgb = np.stack([pattern_frame(i, (160, 96), "moving") for i in range(2)])
    noisy = rgb.copy()
    noisy[:, 40:60, 50:90] = np.random.default_rng(0).integers(0, 256, (2, 20, 40, 3), dtype=np.uint8)
    rgb = np.concatenate([rgb, noisy])
    got = float_to_yuv420(images_to_tensor(rgb), rgb_to_yuv_matrix(matrix)).numpy().astype(int)
    assert got.shape == (4, 144, 160)
    h, w = 96, 160
    luma, chroma = slice(0, h * w), slice(h * w, None)
    m = rgb_to_yuv_matrix(matrix).astype(np.float64)
    from vidstyle.io.display import exact_rgb

    def round_trip_error(yuv: np.ndarray, image: np.ndarray) -> float:  # back to RGB as vidstyle decodes
        back = exact_rgb(av.VideoFrame.from_ndarray(yuv.astype(np.uint8), format="yuv420p"), matrix)
        return float(np.sqrt(((back.astype(float) - image) ** 2).mean()))

    for image, yuv in zip(rgb, got):
        want = _swscale_yuv420(image, matrix).astype(int)
        assert np.abs(yuv.ravel()[luma] - want.ravel()[luma]).max() <= 1
        # the chroma differs from swscale's at sharp colour edges (the two filter it differently):
        # decoded again, these frames come closer to the RGB they were made from than swscale's
        assert round_trip_error(yuv, image) <= round_trip_error(want, image)
        exact = image.astype(np.float64).reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3)) @ m[1:, :3].T + m[1:, 3]
        exact_planes = np.concatenate([exact[..., 0].ravel(), exact[..., 1].ravel()])
        assert abs((yuv.ravel()[chroma] - exact_planes).mean()) < 0.05
    with pytest.raises(VidstyleError, match="even H and W"):
        float_to_yuv420(torch.rand(1, 3, 95, 160), rgb_to_yuv_matrix(1))


def test_the_encoder_takes_yuv420_frames_where_it_says_so(tmp_path):
    from vidstyle.frames import float_to_yuv420, images_to_tensor
    from vidstyle.io.display import rgb_to_yuv_matrix

    src = make_video(tmp_path / "in.mp4", frames=6, size=(128, 72))
    with VideoDecoder(src) as dec:
        frames = [f for f in dec.read()]
        rgb_out = VideoEncoder(tmp_path / "rgb.mp4", dec.info, EncodeConfig(crf=0, preset="ultrafast"))
        yuv_out = VideoEncoder(tmp_path / "yuv.mp4", dec.info, EncodeConfig(crf=0, preset="ultrafast"))
    matrix = yuv_out.yuv420_matrix
    assert matrix == 5  # BT.601 (SWS_CS_ITU601): an untagged video this small (yuv_matrix)
    for f in frames:
        rgb_out.write(f.image, f.pts, f.duration)
        yuv = float_to_yuv420(images_to_tensor(f.image), rgb_to_yuv_matrix(matrix))[0].numpy()
        yuv_out.write(yuv, f.pts, f.duration)
    rgb_out.finish()
    yuv_out.finish()
    assert probe(tmp_path / "yuv.mp4").frames == 6
    assert frame_times(tmp_path / "yuv.mp4") == frame_times(tmp_path / "rgb.mp4")
    assert psnr(read_frames(tmp_path / "yuv.mp4"), read_frames(tmp_path / "rgb.mp4")) > 45
    with av.open(str(tmp_path / "yuv.mp4")) as c:  # tagged as the RGB path tags it
        with av.open(str(tmp_path / "rgb.mp4")) as d:
            a, b = c.streams.video[0].codec_context, d.streams.video[0].codec_context
            assert (a.colorspace, a.color_range) == (b.colorspace, b.color_range)
    # and each frame given to the encoder carries the stream's own matrix (AVCOL_SPC_*: SMPTE 170M
    # here), not swscale's number for it (5)
    given = []
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(tmp_path / "tags.mp4", dec.info, EncodeConfig(crf=0, preset="ultrafast"))
    enc._encode = lambda frame, pts, duration: given.append((frame.colorspace, int(frame.color_range)))
    enc.write(float_to_yuv420(images_to_tensor(frames[0].image), rgb_to_yuv_matrix(matrix))[0].numpy(), 0, 1)
    enc.abort()
    assert given == [(6, 1)]  # AVCOL_SPC_SMPTE170M, MPEG (limited) range
    with VideoDecoder(src) as dec:
        enc = VideoEncoder(tmp_path / "wrong.mp4", dec.info, EncodeConfig(crf=0, preset="ultrafast"))
        with pytest.raises(VidstyleError, match="frame size changed mid-stream: 128x70 instead of 128x72"):
            enc.write(np.zeros((105, 128), np.uint8), 0, 1)
        enc.abort()
        rgba = VideoEncoder(tmp_path / "alpha.mov", dec.info, EncodeConfig(codec="prores_ks", pix_fmt="yuva444p10le"))
        assert rgba.yuv420_matrix is None
        with pytest.raises(VidstyleError, match="takes RGB frames only"):
            rgba.write(np.zeros((108, 128), np.uint8), 0, 1)
        rgba.abort()


def test_an_odd_sized_yuv420_output_takes_rgb_frames_only(tmp_path):
    """VP9 stores an odd size in 4:2:0 itself, but the network side's yuv420p frames
    (float_to_yuv420) are made for even sizes only: such an output must ask for RGB."""
    info = SourceInfo(path=tmp_path / "in.webm", width=95, height=63, rotation=0, time_base=Fraction(1, 1000),
                      frame_rate=Fraction(24), frames=2, codec="vp9", sample_aspect_ratio=None, audio_streams=())
    for size in ((95, 63), (96, 63), (95, 64)):
        info = dataclasses.replace(info, width=size[0], height=size[1])
        enc = VideoEncoder(tmp_path / "o.webm", info, EncodeConfig(crf=30, preset="ultrafast"))
        assert enc.pix_fmt == "yuv420p"  # (the case: a 4:2:0 output of an odd size)
        assert enc.yuv420_matrix is None
        with pytest.raises(VidstyleError, match="takes RGB frames only"):
            enc.write(np.zeros((size[1] * 3 // 2, size[0]), np.uint8), 0, 1)
        enc.abort()
    even = VideoEncoder(tmp_path / "e.webm", dataclasses.replace(info, width=96, height=64), EncodeConfig())
    assert even.yuv420_matrix is not None  # (and an even one takes them)
    even.abort()


def _returns_soon(call, seconds: float = 20.0):
    """``call()``'s exception, or None when it returned; fails (rather than hangs) when it blocks."""
    import threading

    outcome = {}

    def run():
        try:
            call()
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)  # a blocked open stays behind, not the run
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (waiting for a writer to the pipe?)"
    return outcome["error"]


def test_a_pipe_is_refused_wherever_a_file_is_read_not_waited_on(tmp_path):
    """A named pipe as the input hung for ever in av.open, and a SIGTERM then was lost inside
    FFmpeg's open (review, 44th session); a mask or painting named so hung in the image reader."""
    from vidstyle.eval import check_painting
    from vidstyle.io.files import check_input, special_file_kind
    from vidstyle.io.images import open_image
    from vidstyle.mask import Matte
    from vidstyle.models.weights import read_info
    from vidstyle.train.data import load_style_image
    from vidstyle.flow.estimate import RAFTFlow

    pipes = {name: tmp_path / name for name in ("in.mp4", "mask.png", "mask.mp4", "style.safetensors", "art.jpg")}
    for path in pipes.values():
        os.mkfifo(path)
    assert special_file_kind(pipes["in.mp4"]) == "a pipe" and special_file_kind(tmp_path) is None
    assert special_file_kind(tmp_path / "missing") is None and special_file_kind("/dev/null") == "a device"
    for call, said in ((lambda: check_input(pipes["in.mp4"]), r"input .*in\.mp4 is a pipe, not a file: vidstyle "
                                                              r"reads files, which it seeks in"),
                       (lambda: VideoDecoder(pipes["in.mp4"]), "is a pipe, not a file"),
                       (lambda: Matte(pipes["mask.png"]), r"cannot read the mask: image is a pipe, not a file: .*mask\.png"),
                       (lambda: Matte(pipes["mask.mp4"]), r"cannot read the mask: input .*mask\.mp4 is a pipe, not a file"),
                       (lambda: read_info(pipes["style.safetensors"]), r"model file is a pipe, not a file: .*style\.safetensors"),
                       (lambda: open_image(pipes["art.jpg"]), r"image is a pipe, not a file: "),
                       (lambda: check_painting(pipes["art.jpg"]), r"painting is a pipe, not a file: "),
                       (lambda: open_image(tmp_path), r"image is a folder, not a file: "),
                       (lambda: check_painting(tmp_path / "gone.jpg"), r"painting not found: "),
                       # a painting to train on or optimise towards: check_still opened it first, and hung
                       (lambda: load_style_image(pipes["art.jpg"], 32), r"image is a pipe, not a file: "),
                       (lambda: RAFTFlow(pipes["style.safetensors"]), r"RAFT weights file is a pipe, not a file")):
        error = _returns_soon(call)
        assert isinstance(error, VidstyleError) and re.search(said, str(error)), (said, error)
    # a .gif or .apng named as the input is asked whether it is one frame (a still) before it is read
    from vidstyle.io.images import is_one_frame_animation

    sticker = tmp_path / "sticker.gif"
    os.mkfifo(sticker)
    assert _returns_soon(lambda: is_one_frame_animation(sticker)) is None and not is_one_frame_animation(sticker)


def test_a_still_under_a_videos_name_is_the_still_it_is(tmp_path, cli):
    """A PNG saved as .mp4 (or a JPEG as .mkv) was sent in a circle: stylize_video said "give it an
    image's name", stylize_image "a video: stylize_video() stylizes it" (FFmpeg opened it, with its
    still-image demuxer, and only images.py set those apart). Read by content, as a clip saved as .jpg
    is: a still everywhere, as under its image's name; a reader that wants a video says it is an image."""
    from PIL import Image

    from vidstyle import stylize_files, stylize_image, stylize_video
    from vidstyle.errors import BadValueError
    from vidstyle.io.images import is_image_path, read_image

    photos = {tmp_path / "photo.mp4": "PNG", tmp_path / "shot.mkv": "JPEG", tmp_path / "scan.ppm": "PPM"}
    for photo, kind in photos.items():
        Image.new("RGB", (40, 24), (200, 30, 30)).save(photo, format=kind)
    before = {p: p.read_bytes() for p in photos}
    photo, shot, scan = photos
    assert is_image_path(photo) and is_image_path(shot) and is_image_path(scan)  # (a .ppm was "an image, not a video")
    result = cli("stylize", photo, "-o", tmp_path / "out.png", "--style", "light_mondrian")
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "out.png").shape == (24, 40, 3)
    result = cli("stylize", photo, "-o", tmp_path / "out.mp4", "--style", "light_mondrian")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "photo.mp4 is a still image: write it to an image (" in result.stderr, result.stderr
    stylize_image(shot, tmp_path / "shot.png", style=Identity(), progress=False)
    assert read_image(tmp_path / "shot.png").shape == (24, 40, 3)
    with pytest.raises(BadValueError, match=r"^shot\.mkv is a still image, not a video: stylize_image\(\) stylizes it$"):
        stylize_video(shot, tmp_path / "shot.mp4", style=Identity(), progress=False)
    done = dict(stylize_files([photo, shot, scan], tmp_path / "folder", style=Identity(), progress=False))
    assert not any(isinstance(r, Exception) for r in done.values()), done
    # under its content's name, or .png for a format vidstyle does not write
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["photo.png", "scan.png", "shot.jpg"]
    result = cli("preview", shot, "-o", tmp_path / "sheet.png", "--style", "light_mondrian")
    assert result.returncode == 0, result.stderr
    result = cli("eval", photo, photo)
    assert result.returncode == 1 and f"{photo} is an image, not a video (use a video file)" in result.stderr
    with pytest.raises(VidstyleError) as plain:
        VideoDecoder(photo)
    assert str(plain.value) == f"{photo} is an image, not a video (use a video file)"
    assert {p: p.read_bytes() for p in photos} == before
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "shot.mp4").exists()


def test_a_sound_file_is_no_video_to_the_still_or_video_choice(tmp_path):
    """FFmpeg opens a sound file, but it holds no picture stream: not a video (stylize_image would
    send it to stylize_video, which finds no video stream in it), under its own name or an image's."""
    import av

    from vidstyle import stylize_image
    from vidstyle.io.probe import holds_video

    song = tmp_path / "song.m4a"
    with av.open(str(song), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    named_as_image = tmp_path / "song.jpg"
    shutil.copyfile(song, named_as_image)
    for path in (song, named_as_image):
        assert not holds_video(path)
        with pytest.raises(VidstyleError) as said:
            stylize_image(path, tmp_path / "out.png", style=Identity(), progress=False)
        assert "is a video" not in str(said.value) and "cannot identify image file" in str(said.value), said.value


def test_a_one_frame_gif_under_a_videos_name_is_a_gif(tmp_path, cli):
    """A GIF saved as .mp4 is read as the GIF it is: one of one frame written to an image's name is
    a still, as under its own name (it was "cannot write .png files" there, and stylize_image
    said it was a video); of several frames it is a video to stylize_video."""
    from PIL import Image

    from vidstyle import stylize_image
    from vidstyle.errors import BadValueError
    from vidstyle.io.images import read_image

    sticker, clip = tmp_path / "sticker.mp4", tmp_path / "clip.mp4"
    Image.new("RGB", (40, 24), (200, 30, 30)).save(sticker, format="GIF")
    frames = [Image.new("RGB", (40, 24), (60 * i, 30, 30)) for i in range(3)]
    frames[0].save(clip, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    result = cli("stylize", sticker, "-o", tmp_path / "sticker.png", "--style", "light_mondrian")
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "sticker.png").shape == (24, 40, 3)
    stylize_image(sticker, tmp_path / "api.png", style=Identity(), progress=False)
    result = cli("stylize", sticker, "-o", tmp_path / "one.mp4", "--style", "light_mondrian")  # as sticker.gif
    assert result.returncode == 0 and probe(tmp_path / "one.mp4").frames == 1, result.stderr
    with pytest.raises(BadValueError, match=r"^clip\.mp4 is a video, not a still image: stylize_video\(\) stylizes it$"):
        stylize_image(clip, tmp_path / "clip.png", style=Identity(), progress=False)
    result = cli("stylize", clip, "-o", tmp_path / "clip.mp4.mp4", "--style", "light_mondrian")
    assert result.returncode == 0 and probe(tmp_path / "clip.mp4.mp4").frames == 3, result.stderr


def test_a_clip_under_an_images_name_is_stylized_as_the_video_it_is(tmp_path, cli):
    """A clip saved as .jpg was taken for a still by its name: refused as "a still image: write it
    to an image", and written to one, "cannot identify image file". FFmpeg reads it by its
    content, as ffmpeg and players do; a photo, and a photo's name on a folder, stay stills."""
    from vidstyle import stylize_image
    from vidstyle.io.images import is_image_path

    clip = tmp_path / "clip.jpg"
    clip.write_bytes(make_video(tmp_path / "made.mp4", frames=6, size=(64, 48), rotation=90).read_bytes())
    result = cli("stylize", clip, "-o", tmp_path / "out.mp4", "--style", "light_mondrian")
    assert result.returncode == 0, result.stderr
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height, info.frames) == (48, 64, 6)  # turned upright, as any input
    with pytest.raises(VidstyleError, match=r"^clip\.jpg is a video, not a still image: stylize_video\(\) stylizes it$"):
        stylize_image(clip, tmp_path / "out.png", style=Identity(), progress=False)
    photo = tmp_path / "photo.jpg"
    av.VideoFrame.from_ndarray(pattern_frame(0, (32, 32)), format="rgb24").to_image().save(photo)
    (tmp_path / "shot.png").mkdir()
    assert is_image_path(photo) and not is_image_path(clip) and not is_image_path(tmp_path / "shot.png")


def test_a_clip_under_an_images_name_written_to_an_image_is_told_it_is_a_video(tmp_path, cli):
    """Written to an image's name, a clip saved as .jpg was told "images are written from a still
    image input", which its own .jpg name seemed to be: the error says what it is."""
    clip = tmp_path / "clip.jpg"
    clip.write_bytes(make_video(tmp_path / "made.mp4", frames=6, size=(64, 48)).read_bytes())
    result = cli("stylize", clip, "-o", tmp_path / "out.png", "--style", "light_mondrian")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "clip.jpg is a video under an image's name: write it to a video, an animation (.gif, .webp) or " \
           "numbered frames (out_%04d.png)" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.jpg", "made.mp4"]
    result = cli("stylize", tmp_path / "made.mp4", "-o", tmp_path / "out.png", "--style", "light_mondrian")
    assert "images are written from a still image input" in result.stderr, result.stderr  # a video's name: as before


def test_a_decoder_dropped_mid_read_with_ffmpeg_logging_on_is_freed(tmp_path):
    """PyAV frees a decoder holding the GIL and waits there for its frame threads; a thread still
    decoding that logs (PyAV's log callback, which vidstyle turns on while an encoder's header is
    written, or a program's own av.logging.set_level) waits for the GIL: the two waited for each
    other for good (a killed stylize once hung after "terminated (SIGTERM)"). close() parks the
    threads first. Logging everything makes every frame thread call back, so the wait is met at
    once here (the first decoder dropped hung without the park)."""
    import subprocess

    src = make_video(tmp_path / "in.mp4", frames=60, size=(160, 90), pattern="noise")
    code = ("import gc, sys\n"
            "import av.logging\n"
            "from vidstyle.io import VideoDecoder\n"
            "av.logging.set_level(av.logging.TRACE)\n"
            "for _ in range(3):\n"
            "    decoder = VideoDecoder(sys.argv[1])\n"
            "    frames = decoder.read()\n"
            "    next(frames)\n"
            "    decoder.close()\n"
            "    del decoder, frames\n"
            "    gc.collect()\n"
            "print('freed')\n")
    # (the timeout only ends a hung child; a freed decoder takes well under a second)
    proc = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert (proc.returncode, proc.stdout) == (0, "freed\n"), proc.stderr[-2000:]


def test_frames_further_apart_than_the_declared_rate_are_written(tmp_path):
    """A VFR WebM can declare 1000 frames/s (one per tick) for frames 20-70 ms apart: x264's
    B-frame delay then spans hundreds of "frames" at the declared rate, was taken for libx265's
    garbage decode timestamps (_repair_dts) and moved dts past pts: "writing o.mp4 failed:
    Invalid argument"."""
    info = SourceInfo(path=tmp_path / "in.webm", width=64, height=48, rotation=0, time_base=Fraction(1, 1000),
                      frame_rate=Fraction(1000), frames=90, codec="vp8", sample_aspect_ratio=None, audio_streams=())
    out = tmp_path / "o.mp4"
    enc = VideoEncoder(out, info, EncodeConfig(crf=20, preset="medium", audio=False))
    times = [40 * i + (i % 3) * 13 for i in range(90)]  # more than the look-ahead holds back
    for i, t in enumerate(times):
        enc.write(pattern_frame(i, (64, 48)), pts=t, duration=40)
    enc.finish()
    assert frame_times(out) == [Fraction(t, 1000) for t in times]


@pytest.mark.parametrize("start", [None, 0.5])
def test_an_audio_track_of_a_codec_ffmpeg_does_not_know_is_dropped_with_a_warning(tmp_path, caplog, start):
    """An .mkv track whose CodecID FFmpeg does not know has no codec context in PyAV: it can be
    neither copied nor re-encoded, and ended the run with "AttributeError: 'NoneType' object has
    no attribute" (review, 53rd session). It is dropped, said once, and the picture stylized."""
    from videos import make_sound_video
    from vidstyle.pipeline import stylize_video

    made = make_sound_video(tmp_path / "made.mkv", "libopus")
    src = tmp_path / "in.mkv"
    src.write_bytes(made.read_bytes().replace(b"A_OPUS", b"A_OPUX"))  # a codec of FFmpeg's none
    with av.open(str(src)) as container:
        assert container.streams.audio[0].codec_context is None
    out = tmp_path / "out.mkv"
    with caplog.at_level("WARNING", logger="vidstyle"):
        stylize_video(src, out, style=Identity(), temporal="off", progress=False, start=start)
    said = [r.getMessage() for r in caplog.records if "audio track" in r.getMessage()]
    assert said == ["dropping audio track 0 of in.mkv: its codec is unknown to this FFmpeg, so it can be neither "
                    "copied nor re-encoded"]
    info = probe(out)
    assert info.frames == 48 - (12 if start else 0) and info.audio == []


def test_write_frames_stamps_float_times_at_their_nearest_tick(tmp_path):
    """tests/videos.py::write_frames floored a float time to the tick at or before it, and the
    float 0.3 is a hair under 3/10 (as 1/3 s computed in floats is under 30000/90000): that frame
    was stamped a tick early, sharing 0.2 s with the one before it. Exact times still floor."""
    images = [pattern_frame(i, (32, 32)) for i in range(4)]
    out = write_frames(tmp_path / "float.mkv", images, fps=10, times=[0.0, 0.1, 0.2, 0.3])
    assert frame_times(out) == [Fraction(i, 10) for i in range(4)]
    out = write_frames(tmp_path / "thirds.mp4", images, fps=3, times=[i / 3 for i in range(4)],
                       time_base=Fraction(1, 90000))
    assert frame_times(out) == [Fraction(i, 3) for i in range(4)]
    out = write_frames(tmp_path / "exact.mkv", images, fps=10,
                       times=[Fraction(i, 10) + Fraction(1, 20) for i in range(4)])
    assert frame_times(out) == [Fraction(i, 10) for i in range(4)]  # (the tick at or before each)


posix_folder_locks = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "O_DIRECTORY"),
                                        reason="writers hold their folder with flock (POSIX)")


@posix_folder_locks
def test_partial_files_a_killed_run_left_are_named_by_the_next_run_to_that_output_and_kept(tmp_path, cli):
    """A kill -9 leaves the output's hidden temporary file (.out.vidstyle-RANDOM.partial.mp4) for
    ever, unseen (ls hides it); the next run to that output said nothing of it."""
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    out = tmp_path / "out.mp4"
    left = temp_path_beside(out)
    left.write_bytes(b"half a video")  # as a killed run leaves it
    other = temp_path_beside(tmp_path / "other.mp4")
    other.write_bytes(b"another output's")  # not this output's to speak of
    proc = cli("stylize", src, "-o", out, "--style", "light_starry_night", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if left.name in line]
    assert len(said) == 1 and "left by an earlier run that was stopped" in said[0] and "can be deleted" in said[0], \
        proc.stderr
    assert other.name not in proc.stderr
    assert left.read_bytes() == b"half a video" and other.exists()  # named, never removed
    assert len(read_frames(out)) == 3


@posix_folder_locks
def test_a_partial_file_that_a_running_writer_holds_is_never_called_stale(tmp_path):
    out = tmp_path / "out.json"
    with write_then_rename(out) as temp:  # another run writing the same output now
        temp.write_text("being written")
        assert files.stale_partial_files(out) == []
    left = temp_path_beside(out)
    left.write_text("{")
    assert files.stale_partial_files(out) == [left]
    with write_then_rename(tmp_path / "other.json") as temp:  # a writer in the folder: nothing there is provably left
        temp.write_text("{}")
        assert files.stale_partial_files(out) == []
    held = files.HeldOutputFolder(tmp_path)  # a live recording's, a frames output's
    try:
        assert files.stale_partial_files(out) == []
    finally:
        held.close()
    assert files.stale_partial_files(out) == [left]


@posix_folder_locks
def test_a_write_into_a_folder_this_run_holds_alone_does_not_wait_to_mark_it(tmp_path, monkeypatch):
    """Training holds its checkpoint folder's lock exclusively (folder_lock) and writes its
    checkpoints, previews and weights there: each write tried the folder's shared lock 20 times,
    5 ms apart, which its own exclusive one refused, waiting about 100 ms every time for nothing.
    Its exclusive lock already tells any other run's stale_partial_files that a run writes there."""
    import time

    sleeps = []
    monkeypatch.setattr(time, "sleep", lambda seconds: sleeps.append(seconds))
    out = tmp_path / "checkpoint.pt"
    with files.folder_lock(tmp_path, "busy"):
        with write_then_rename(out) as temp:
            temp.write_bytes(b"weights")
            assert files.stale_partial_files(out) == []  # held: never called stale
    assert out.read_bytes() == b"weights" and sleeps == []
    left = temp_path_beside(out)  # free again: the same folder is marked as every other is
    left.write_text("left")
    with write_then_rename(tmp_path / "other.pt") as temp:
        temp.write_bytes(b"")
        assert files.stale_partial_files(out) == []
    assert files.stale_partial_files(out) == [left] and sleeps == []


@posix_folder_locks
def test_a_batchs_outputs_into_one_folder_list_it_once_for_partial_files(tmp_path, monkeypatch):
    """Each output's check listed its whole folder for partial files: a batch rerun into a folder
    of thousands of outputs (--overwrite, --skip-existing) listed it once an input (66 ms an
    output with 20000 files there, on 2 busy cores: a minute for 1000 inputs before the first)."""
    left = temp_path_beside(tmp_path / "a.png")
    left.write_bytes(b"half an image")
    listed = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": listed.append(path) or real(path))
    assert [files.stale_partial_files(tmp_path / name) for name in ("a.png", "b.png", "c.png")] == [[left], [], []]
    assert len(listed) == 1
    later = temp_path_beside(tmp_path / "b.png")  # the folder changed since: listed again
    later.write_bytes(b"")
    assert files.stale_partial_files(tmp_path / "b.png") == [later] and len(listed) == 2
    left.unlink()  # gone since it was listed
    assert files.stale_partial_files(tmp_path / "a.png") == []
