"""Files from the wild: audio a container refuses to copy, MPEG-TS seeking, damaged packets,
mirrored display matrices, colour tags, pixel aspect, late start times, awkward names. Each case is
a real encoded file written by the test; the stylizer is the identity, so what is checked is the
I/O path alone."""
from __future__ import annotations

import logging
import math
import re
import shlex
from fractions import Fraction

import av
import numpy as np
import pytest

from vidstyle import stylize_video
from vidstyle.errors import VidstyleError
from vidstyle.io.decode import DecodedFrame, VideoDecoder
from vidstyle.io.samples import sample_frames
from videos import (X264_REPEATABLE, Identity, cut_after_keyframe, decoded_sound, frame_times,
                    make_avi_with_dropped_frames, make_sound_video, make_video, pattern_frame, probe, psnr, read_frames,
                    sound_position, sound_signal, write_frames)


def stylize(src, out, **options):
    return stylize_video(src, out, style=Identity(), temporal="off", progress=False, **options)


def decoded_segment(path, start, duration) -> list[DecodedFrame]:
    with VideoDecoder(path, start, duration) as decoder:
        return [item for item in decoder.read() if isinstance(item, DecodedFrame)]


# --- audio ------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, rate, layout, suffix, written", [
    ("flac", 44100, "stereo", ".mov", "alac"),  # the mov muxer takes FLAC only in .mp4: refused at the header
    ("libmp3lame", 11025, "mono", ".mp4", "aac"),  # MP3 below 16 kHz is "not standard" in mp4
    ("pcm_s24le", 48000, "stereo", ".mp4", "alac"),  # PCM in mp4 fails only in the trailer: never copied
    ("libopus", 48000, "stereo", ".m4v", "aac"),  # .m4v is FFmpeg's "ipod" muxer, which mp4's table overrated
    ("flac", 44100, "stereo", ".m4v", "alac"),
])
def test_audio_the_container_refuses_is_reencoded_not_fatal(tmp_path, caplog, codec, rate, layout, suffix, written):
    """Re-encoded to AAC, or, when it loses nothing, to ALAC, which loses nothing either."""
    src = make_video(tmp_path / "in.mkv", frames=24, size=(64, 48), audio=codec, audio_rate=rate,
                     audio_layout=layout)
    out = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, out)
    assert result.audio == {0: "decode"}
    assert "no sound in the part written" not in caplog.text  # a re-encoded track's frames are its sound
    info = probe(out)
    assert info.frames == 24 and [a.codec for a in info.audio] == [written]
    if written == "alac":  # every sample as it was, at its own width: 16-bit FLAC not padded to 24 bits
        samples = [_audio_samples(p) for p in (src, out)]
        assert samples[0].shape == samples[1].shape and np.array_equal(samples[0], samples[1])
        with av.open(str(out)) as c:
            assert c.streams.audio[0].codec_context.format.name == ("s16p" if codec == "flac" else "s32p")
    assert abs(info.audio[0].duration - 1.0) < 0.05
    if codec != "pcm_s24le":  # refused when the header was written: the warning gives FFmpeg's reason
        assert "re-encoding it" in caplog.text and ("flac" in caplog.text or "11025" in caplog.text
                                                    or "opus" in caplog.text)


@pytest.mark.parametrize("source, layout, suffix, written", [
    # ALAC takes no quad (its 4.0 would mix the back pair into one centre channel): the run failed,
    # blaming libx264. AAC keeps the four channels as they are.
    ("in.mov", "quad", ".mp4", ("aac", 4)),
    ("in.mov", "5.1(side)", ".m4v", ("aac", 6)),
    ("in.mkv", "8 channels", ".mp4", ("aac", 8)),  # counted channels, named 7.1 (which ALAC refuses)
    ("in.mkv", "5.1", ".mp4", ("alac", 6)),  # one ALAC takes: lossless
    ("in.mkv", "4.0", ".webm", ("opus", 4)),  # libopus's own 4 channels
])
def test_reencoded_audio_gets_a_layout_its_encoder_takes(tmp_path, caplog, source, layout, suffix, written):
    src = make_video(tmp_path / source, frames=12, size=(64, 48), audio="pcm_s16le", audio_layout=layout)
    out = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, out)
    assert result.audio == {0: "decode"} and "re-encoding it" in caplog.text
    if written[0] == "aac":
        assert f"re-encoding it to aac (ALAC takes no {layout} layout)" in caplog.text
    assert probe(out).frames == 12
    with av.open(str(out)) as c:
        # every channel kept as a channel (the layout's name as the container reads it back varies)
        assert (c.streams.audio[0].codec_context.name, len(c.streams.audio[0].layout.channels)) == written


def test_audio_no_encoder_for_the_container_takes_is_dropped_with_a_warning_not_fatal(tmp_path, caplog):
    src = make_video(tmp_path / "in.mkv", frames=12, size=(64, 48), audio="pcm_s16le", audio_layout="10 channels")
    out = tmp_path / "out.webm"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, out)
    assert result.audio == {} and probe(out).frames == 12 and not probe(out).audio
    assert "dropping audio track 0 (pcm_s16le, 10 channels): cannot re-encode it to libopus" in caplog.text
    assert ".mkv keeps it as it is" in caplog.text


@pytest.mark.parametrize("suffix, said", [(".mp4", "left out of out.mp4"), (".mkv", "written empty into out.mkv")])
def test_an_audio_track_with_no_sound_in_the_segment_is_said(tmp_path, caplog, suffix, said):
    """A second track that ends (0.4 s) before --start: MP4 leaves the empty track out, Matroska
    keeps it empty; either way the output's tracks are not the input's, and the user is told."""
    full = make_video(tmp_path / "full.mkv", frames=48, size=(64, 48), audio=True)
    src = tmp_path / "in.mkv"
    with av.open(str(full)) as i, av.open(str(src), "w") as o:
        video = o.add_stream_from_template(i.streams.video[0])
        tracks = [o.add_stream_from_template(i.streams.audio[0]) for _ in range(2)]
        for packet in i.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video":
                packet.stream = video
                o.mux(packet)
                continue
            short = packet.pts * packet.time_base < 0.4
            if short:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.duration, copy.time_base = packet.pts, packet.dts, packet.duration, \
                    packet.time_base
            packet.stream = tracks[0]
            o.mux(packet)
            if short:
                copy.stream = tracks[1]
                o.mux(copy)
    out = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, out, start=1.0)
    assert f"audio track 1 of in.mkv has no sound in the part written: {said}" in caplog.text
    assert "audio track 0" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, out, overwrite=True)  # the whole file: both have sound
    assert "no sound" not in caplog.text


def _audio_samples(path) -> np.ndarray:
    """The first audio track's samples as int64 (channels, samples)."""
    with av.open(str(path)) as c:
        parts = []
        for frame in c.decode(c.streams.audio[0]):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            parts.append(arr.astype(np.int64))
    return np.concatenate(parts, axis=1)


def test_audio_the_container_accepts_is_still_copied(tmp_path):
    src = make_video(tmp_path / "in.mkv", frames=24, size=(64, 48), audio="flac")
    assert stylize(src, tmp_path / "out.mkv").audio == {0: "copy"}


# --- seeking ------------------------------------------------------------------------------------

@pytest.mark.parametrize("gop, start", [(30, 0.5), (30, 1.7), (30, 3.1), (None, 0.5)])
def test_a_segment_of_mpeg_ts_keeps_every_frame(tmp_path, gop, start):
    """MPEG-TS seeks to any packet near the time, not to a keyframe: the decoder must seek again
    earlier instead of dropping the frames up to the next keyframe (gop None: one keyframe)."""
    src = make_video(tmp_path / "in.ts", frames=120, fps=30, size=(64, 48), gop=gop)
    every = read_frames(src)
    frames = decoded_segment(src, start, 0.5)
    assert len(frames) == 15 and frames[0].pts == 0
    first = round(start * 30)
    assert psnr(frames[0].image, every[first]) > 35 and psnr(frames[-1].image, every[first + 14]) > 35


def test_a_start_past_the_end_fails_at_once_and_non_finite_times_are_refused(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48))
    with pytest.raises(VidstyleError, match="past the end"):
        VideoDecoder(src, start=3.0)
    for start, duration in ((math.nan, None), (math.inf, None), (None, math.inf), (None, math.nan)):
        with pytest.raises(VidstyleError, match="number of seconds"):
            VideoDecoder(src, start, duration)


# --- damage -------------------------------------------------------------------------------------

def test_a_damaged_video_packet_is_skipped_with_a_warning(tmp_path, caplog):
    src = make_video(tmp_path / "in.mp4", frames=48, size=(64, 48), gop=12)
    with av.open(str(src)) as container:
        packets = [(p.pos, p.is_keyframe) for p in container.demux(video=0) if p.size]
    pos = [pos for pos, key in packets[20:] if not key][0]
    data = bytearray(src.read_bytes())
    data[pos:pos + 4] = b"\xff\xff\xff\xff"  # an impossible NAL unit length: the packet cannot decode
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(bad, tmp_path / "out.mp4")
    assert 40 <= result.frames < 48
    assert "skipped 1 damaged video packet(s) of bad.mp4" in caplog.text
    assert src.read_bytes() != bad.read_bytes()  # the input was really damaged, and is left as it was


def _sound_lead(path, frame_time) -> Fraction:
    """Seconds from ``frame_time`` (a frame's time in ``path``) to where ``path``'s sound plays
    sample 48000 of make_sound_video's signal: the same in an output as in its input when sound
    and picture kept their places to each other."""
    begins, sound, rate = decoded_sound(path)
    return begins + Fraction(sound_position(sound, sound_signal(2 * 48000), 48000), rate) - frame_time


def test_a_stream_cut_after_a_keyframe_says_the_frames_it_cannot_show_once_and_keeps_its_sound_in_place(
        tmp_path, caplog):
    """A .ts whose first 7 video packets come before its first keyframe (5 packets cut from the
    front of a 12-frame GOP) lost their 0.29 s of picture without a word, where a damaged packet
    in the middle is said: it is said once, and the sound stays in its place beside the picture."""
    cut = cut_after_keyframe(make_sound_video(tmp_path / "in.ts", "aac", gop=12), tmp_path / "cut.ts")
    shown = frame_times(cut)
    assert len(shown) == 36
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(cut, tmp_path / "out.mp4")
    said = "skipped 7 video packet(s) at the start of cut.ts that would not decode (the 0.29 s before its first " \
           "whole frame: cut from a longer stream?)"
    assert caplog.text.count(said) == 1 and caplog.text.count("cut.ts") == 1, caplog.text
    assert result.frames == 36
    assert abs(_sound_lead(tmp_path / "out.mp4", frame_times(tmp_path / "out.mp4")[0])
               - _sound_lead(cut, shown[0])) <= Fraction(2, 48000)
    # one that starts on its keyframe has nothing to say
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(tmp_path / "in.ts", tmp_path / "whole.mp4")
    assert "at the start of" not in caplog.text


def test_a_cut_mp4s_frame_count_leaves_out_the_packets_before_its_first_frame_shown(tmp_path):
    """An MP4 states its packets' count (31 here), which counts the 7 before the first keyframe
    that give no frame: the count the progress bar and summary go by is the 24 frames shown."""
    cut = cut_after_keyframe(make_video(tmp_path / "in.mp4", frames=36, size=(64, 48), gop=12), tmp_path / "cut.mp4")
    with VideoDecoder(cut, announce=False) as decoder:
        assert decoder.info.frames == sum(1 for _ in decoder.read()) == 24


@pytest.mark.parametrize("cut", [False, True])
def test_an_avis_frame_count_leaves_out_its_empty_chunks(tmp_path, cut):
    """AVI states its chunks' count, and FFmpeg's AVI muxer fills a gap in the decode times with
    empty ones, which give no frame: one before x264's first frame (49 counted, 48 shown) and,
    in a stream cut after a keyframe, 6 for the packets cut (42 counted, 36 shown, its 7 packets
    before the first frame shown already left out). The progress bar and summary go by frames shown."""
    src = make_sound_video(tmp_path / "in.avi", "mp3", gop=12)
    if cut:
        src = cut_after_keyframe(src, tmp_path / "cut.avi")
    with av.open(str(src)) as container:  # the case: the header counts more
        assert container.streams.video[0].frames == 49
    with VideoDecoder(src, announce=False) as decoder:
        assert decoder.info.frames == sum(isinstance(item, DecodedFrame) for item in decoder.read()) == (
            36 if cut else 48)


@pytest.mark.parametrize("k", [1, 4, 10, 13])
def test_a_start_just_inside_a_frame_of_millisecond_times_counts_the_frames_kept(tmp_path, k):
    """29.97 frames/s in Matroska: frame k's time in milliseconds is k frames give or take 1.5 %
    of one, so the frames before a --start just inside frame k were counted k-1 or k+1 when that
    count was rounded down or up; the progress bar then said one frame too many or too few
    (mutation testing, 57th session: floor and ceil there passed every test)."""
    src = make_video(tmp_path / "clip.mkv", frames=60, size=(32, 32), fps=Fraction(30000, 1001), gop=5)
    with VideoDecoder(src, float(k * Fraction(1001, 30000)) + 0.004, announce=False) as decoder:
        assert decoder.info.frames == sum(isinstance(item, DecodedFrame) for item in decoder.read()) == 60 - k - 1


@pytest.mark.parametrize("start", [0.25, 0.5, 1.0])
def test_a_segment_of_an_avi_cut_after_a_keyframe_counts_the_frames_it_has(tmp_path, start):
    """An AVI cut after a keyframe: the frames before --start are counted in its index from the
    chunk of its first frame shown, in that chunk's time (mutation testing, 59th session: counting
    from the index's first chunk, in its time or from time 0, passed every test)."""
    src = cut_after_keyframe(make_sound_video(tmp_path / "in.avi", "mp3", gop=12), tmp_path / "cut.avi")
    with VideoDecoder(src, start, announce=False) as decoder:
        decoded = sum(isinstance(item, DecodedFrame) for item in decoder.read())
        assert decoder.info.frames == decoded == 36 - round(start * 24)


@pytest.mark.parametrize("start", [None, 0.5, 1.0])
def test_a_segment_of_an_avi_with_dropped_frames_counts_the_frames_it_has(tmp_path, start):
    """An AVI whose capture dropped frames holds an empty chunk for each (FFmpeg's muxer writes them
    for gaps in the times too), which its index leaves out. Counted from the index, a --start then
    took the frames before it at the frame rate, empty chunks included: --start 1.0 of 24 frames
    over 41 chunks counted 0 frames where 11 decode (a preview then said the file "does not say
    how long it is"), --start 0.5 counted 9 of 17 (review, 58th session)."""
    src = make_avi_with_dropped_frames(tmp_path / "dropped.avi")  # 24 frames, 17 dropped
    with av.open(str(src)) as container:  # the case: the header counts the empty chunks too
        assert container.streams.video[0].frames == 41
    with VideoDecoder(src, start, announce=False) as decoder:
        decoded = sum(isinstance(item, DecodedFrame) for item in decoder.read())
        assert decoder.info.frames == decoded == {None: 24, 0.5: 17, 1.0: 11}[start]


def test_a_truncated_avi_is_still_counted_by_its_header_and_said_cut_short(tmp_path):
    """An AVI cut short has no index at its end: FFmpeg lists the chunks it finds before the cut,
    which is no frame count. Counted from there, the progress bar said 18 of 18 and the file was
    never said truncated (mutation testing, 57th session: the index was trusted only where it
    reaches the header's last frame, and no test pinned it)."""
    data = make_video(tmp_path / "whole.avi", frames=48, size=(64, 48)).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) * 6 // 10])
    with VideoDecoder(cut, announce=False) as decoder:
        decoded = sum(isinstance(item, DecodedFrame) for item in decoder.read())
        assert decoder.info.frames == 48 and 10 < decoded < 40
        assert decoder.shortfall(decoded) == (f"only {decoded} of the about 48 frames of cut.avi could be decoded "
                                              "(truncated or damaged file?)")


@pytest.mark.parametrize("suffix, sound", [(".ts", "aac"), (".avi", "mp3")])
def test_a_segment_of_a_stream_cut_after_a_keyframe_counts_from_its_first_frame_shown(tmp_path, caplog, suffix, sound):
    """--start 0.1 --duration 0.8 of a .ts that starts 0.29 s before its first keyframe counted
    from its first packet, which gives no frame: 15 frames came out, the segment's first 0.19 s
    falling before the first frame. Times count from the first frame shown, as a player shows
    it (and as the README says --start counts): 0.8 s of frames, the sound beside them. An AVI
    (whose start is its first packet's time, not FFmpeg's) still counted from its first packet."""
    cut = cut_after_keyframe(make_sound_video(tmp_path / f"in{suffix}", sound, gop=12), tmp_path / f"cut{suffix}")
    shown = frame_times(cut)
    first = min(t for t in shown if t >= shown[0] + Fraction(1, 10))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(cut, tmp_path / "out.mp4", start=0.1, duration=0.8)
    kept = frame_times(tmp_path / "out.mp4")
    assert len(kept) == 20  # 19.2 frames of 24 a second, the last kept whole
    assert psnr(read_frames(tmp_path / "out.mp4")[0], read_frames(cut)[shown.index(first)]) > 35
    assert abs(_sound_lead(tmp_path / "out.mp4", kept[0]) - _sound_lead(cut, first)) <= Fraction(2, 48000)
    assert "could be decoded" not in caplog.text and "asked for" not in caplog.text
    # --duration alone counts from the first frame shown too
    stylize(cut, tmp_path / "d.mp4", duration=0.5, overwrite=True)
    assert len(frame_times(tmp_path / "d.mp4")) == 12


def test_a_damaged_audio_packet_of_a_reencoded_track_is_counted_and_said(tmp_path, caplog):
    """Re-encoded (AAC into .webm), three garbled AAC packets were dropped without a word: a gap in
    the sound that only damaged video was said of (review, 44th session)."""
    src = make_video(tmp_path / "in.mp4", frames=48, size=(64, 48), audio=True)
    with av.open(str(src)) as container:
        packets = [(p.pos, p.size) for p in container.demux(audio=0) if p.size]
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    for pos, size in packets[10:13]:
        data[pos:pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(bad, tmp_path / "out.webm")
    assert result.frames == 48 and result.audio == {0: "decode"}
    assert "skipped 3 damaged audio packet(s) of bad.mp4 that would not decode: the sound has a gap there" \
        in caplog.text


@pytest.mark.parametrize("damage", ["sync word", "header"])
def test_a_damaged_copied_audio_packet_is_skipped_with_a_warning(tmp_path, caplog, damage):
    """A broadcast capture with one broken AAC frame: the mp4 muxer's ADTS-to-ASC filter refuses
    it. The packet is skipped, the rest of the audio copied, the video complete. Two kinds of damage:
    a zeroed sync word (the filter says "invalid data"), and a header with a CRC and two raw data
    blocks (the filter says "patch welcome"; the run stopped on it before)."""
    src = make_video(tmp_path / "in.ts", frames=48, size=(64, 48), audio=True)
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as container:
        pid = container.streams.audio[0].id
    # TS packets (188 bytes) of the audio PID that start a PES packet; damage one ADTS header there
    starts = [i for i in range(0, len(data), 188)
              if ((data[i + 1] & 0x1F) << 8 | data[i + 2]) == pid and data[i + 1] & 0x40]
    at = data.index(b"\xff\xf1", starts[len(starts) // 2], starts[len(starts) // 2] + 188)
    if damage == "sync word":
        data[at:at + 2] = b"\x00\x00"
    else:
        data[at + 1] = 0xF0  # protection_absent 0: a CRC follows the header
        data[at + 6] |= 0x01  # number_of_raw_data_blocks_in_frame 1: two blocks
    bad = tmp_path / "bad.ts"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(bad, tmp_path / "out.mp4")
    assert result.frames == 48 and result.audio == {0: "copy"}
    # How many packets the demuxer makes of the broken bytes depends on FFmpeg's AAC encoder's
    # output, which differs by CPU (C, AVX and AVX2 code gave three different streams); after
    # resyncing on a false sync word the mp4 muxer's filter can say "patch welcome" instead of
    # "invalid data", which stopped the run before. Either way: skipped, counted, said.
    skipped = r"1" if damage == "header" else r"[1-9]\d*"
    assert re.search(rf"skipped {skipped} damaged audio packet\(s\) of bad\.ts", caplog.text), caplog.text
    # the audio after the damage is copied: the output's audio ends where the damaged input's does
    with av.open(str(bad)) as container:
        ends = [float((p.pts + p.duration) * p.time_base) for p in container.demux(audio=0)
                if p.pts is not None and not p.is_corrupt]
    info = probe(tmp_path / "out.mp4")
    assert len(info.audio) == 1 and abs(info.audio[0].duration - max(ends)) < 0.05, (info.audio, max(ends))


def test_a_stream_that_changes_size_is_scaled_to_its_first_size(tmp_path, caplog):
    """Two MPEG-TS files of different sizes back to back, as a broadcast capture or a `cat` of
    recordings: frames after the change are scaled to the first size (as FFmpeg does), with one
    warning; the bar finder, which samples frames with separate decoders, sees one size too."""
    first, second = make_video(tmp_path / "a.ts", frames=24, size=(64, 48)), \
        make_video(tmp_path / "b.ts", frames=24, size=(96, 72))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(joined, tmp_path / "out.mp4")  # bars="keep" by default: the samples span both
    assert result.frames == 48
    assert caplog.text.count("changes size mid-stream, from 64x48 to 96x72") == 1
    # the same in bare H.264, whose length is unknown: the bar finder reads its samples in a row
    # through the change, and used to warn of it too
    raw = tmp_path / "joined.h264"
    raw.write_bytes(b"".join(make_video(tmp_path / f"{n}.h264", frames=frames, size=size).read_bytes()
                             for n, frames, size in (("c", 4, (64, 48)), ("d", 12, (96, 72)))))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(raw, tmp_path / "raw.mp4").frames == 16
    assert caplog.text.count("changes size mid-stream, from 64x48 to 96x72") == 1, caplog.text
    out = read_frames(tmp_path / "out.mp4")
    assert out.shape == (48, 48, 64, 3)
    import cv2
    later = cv2.resize(read_frames(second)[5], (64, 48), interpolation=cv2.INTER_AREA)
    assert psnr(out[29], later) > 25  # the second file's frames, scaled
    assert {f.shape for f in sample_frames(joined, 8)} == {(48, 64, 3)}


def test_h264_with_b_frames_in_avi_keeps_an_even_timeline(tmp_path):
    """AVI stores no presentation times: with B-frames the decoder hands each frame a reordered
    packet's pts (1, 4, 3, 5, 2, ...). Bumped one by one they came out 1, 4, 5, 6, ...: a jump at
    the start and the whole video two frames behind its audio."""
    src = write_frames(tmp_path / "b-frames.avi", [pattern_frame(i, (64, 48)) for i in range(60)],
                       fps=30)  # x264's default preset: B-frames
    with av.open(str(src)) as c:  # the case: pts out of order as decoded
        raw = [f.pts for f in c.decode(video=0)]
        assert raw != sorted(raw)
    with VideoDecoder(src) as dec:
        times = [f.pts * f.time_base for f in dec.read() if isinstance(f, DecodedFrame)]
    assert len(times) == 60
    assert {b - a for a, b in zip(times, times[1:])} == {Fraction(1, 30)}  # every step one frame
    assert times[0] == raw[0] * Fraction(1, 30)  # and where the first frame was


def test_a_segment_of_an_avi_counts_its_start_from_the_first_frame(tmp_path):
    """AVI stores no presentation times: FFmpeg starts its video stream at the first frame's
    decode time, 0, a frame before the frame's own time (x264's reorder delay: 1/24 s), with the
    sound from 0. --start 0.51 counted from there kept the input's frame 12 (0.5 s after the
    first frame) instead of frame 13, as README says times count from the video's first frame."""
    src = make_sound_video(tmp_path / "in.avi", "pcm_s16le")  # 24 frames/s
    assert frame_times(src)[0] == Fraction(1, 24)  # the case: the picture a frame after the file's 0
    with VideoDecoder(src, 0.51) as dec:
        image = next(item for item in dec.read() if isinstance(item, DecodedFrame)).image
        assert dec.first_time == Fraction(13, 24)
    err = {i: np.mean((image.astype(float) - pattern_frame(i, (64, 48))) ** 2) for i in range(10, 16)}
    assert min(err, key=err.get) == 13
    out = tmp_path / "out.mkv"  # and the sound with it: the output's 0 is the input's sound at 14/24 s
    stylize_video(src, out, style=Identity(), temporal="off", progress=False, start=0.51)
    begins, sound, rate = decoded_sound(out)
    signal = sound_signal(2 * rate)
    assert round(begins * rate) + int(np.argmax(np.correlate(sound, signal[28000 + 4800:28000 + 7200], "valid"))) == 4800


def test_a_second_video_stream_is_not_dropped_silently(tmp_path, caplog):
    src = tmp_path / "two angles.mkv"
    with av.open(str(src), "w") as out:
        streams = [out.add_stream("libx264", rate=24) for _ in range(2)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.options = {"preset": "ultrafast"}
        for i in range(12):
            for k, stream in enumerate(streams):
                frame = av.VideoFrame.from_ndarray(pattern_frame(i + 50 * k, (64, 48)), format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode(None))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mp4").frames == 12
    assert "two angles.mkv has 1 more video stream(s) after the first; vidstyle stylizes the first" in caplog.text


def _add_cover(out: av.container.OutputContainer) -> None:
    """Write a 64x64 cover image into ``out`` as an attached picture (a one-packet MJPEG stream)."""
    cover = out.add_stream("mjpeg", rate=1)
    cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
    cover.disposition = av.stream.Disposition.attached_pic
    picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")
    out.mux(cover.encode(picture.reformat(format="yuvj420p")))
    out.mux(cover.encode(None))


def test_cover_art_beside_the_video_is_not_dropped_silently(tmp_path, caplog):
    """A thumbnail embedded as an attached picture (yt-dlp --embed-thumbnail) was dropped with no
    word: it is neither a second video stream nor an attachment (review, 28th session)."""
    src = tmp_path / "with cover.mp4"
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        _add_cover(out)
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    with av.open(str(src)) as c:  # the case: a second video stream, flagged as a picture
        assert [bool(s.disposition & av.stream.Disposition.attached_pic) for s in c.streams.video] == [False, True]
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mp4").frames == 12
    assert "with cover.mp4 has a cover image (an attached picture, such as a thumbnail), which vidstyle does " \
           "not carry over" in caplog.text
    assert "more video stream" not in caplog.text


@pytest.mark.parametrize("name, codec", [("song.mp3", "libmp3lame"), ("song.m4a", "aac")])
def test_a_song_with_only_its_cover_is_told_that_the_cover_is_a_still(tmp_path, cli, name, codec):
    """A music file with its album cover, which players show and ffprobe lists as a video stream,
    was refused as having "no video stream" and nothing more, which reads as wrong."""
    src = tmp_path / name
    with av.open(str(src), "w", format="mp4" if name.endswith(".m4a") else None) as out:
        sound = out.add_stream(codec, rate=44100, layout="stereo")
        _add_cover(out)
        silence = av.AudioFrame.from_ndarray(np.zeros((2, 1152), np.float32), format="fltp", layout="stereo")
        silence.sample_rate, silence.pts = 44100, 0
        out.mux(sound.encode(silence))
        out.mux(sound.encode(None))
    told = (f"{src} has no video stream, only a cover image (an attached picture, as music files carry), a "
            f"still, which `ffmpeg -i {shlex.quote(str(src))} -map 0:v -frames:v 1 cover.png` saves as an image")
    with pytest.raises(VidstyleError) as err:
        VideoDecoder(src)
    assert str(err.value) == told
    from vidstyle.io.capture import FileSource  # live's --source says the same

    with pytest.raises(VidstyleError) as err:
        FileSource(src, realtime=False)
    assert str(err.value) == told
    result = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", "light_mondrian")
    assert result.returncode != 0 and result.stderr == f"vidstyle: error: {told}\n"
    assert not (tmp_path / "out.mp4").exists()
    # a file of sound alone still says only that
    bare = tmp_path / "bare.m4a"
    with av.open(str(src)) as inp, av.open(str(bare), "w", format="mp4") as out:
        copy = out.add_stream_from_template(inp.streams.audio[0])
        for packet in inp.demux(audio=0):
            if packet.size:
                packet.stream = copy
                out.mux(packet)
    with pytest.raises(VidstyleError, match=r"bare.m4a has no video stream$"):
        VideoDecoder(bare)


def test_a_truncated_file_still_says_so(tmp_path, caplog):
    src = make_video(tmp_path / "in.mkv", frames=96, size=(64, 48), pattern="noise")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(cut, tmp_path / "out.mp4")
    assert result.frames < 60 and "truncated or damaged" in caplog.text


def test_a_start_past_the_cut_of_a_truncated_file_says_the_file_ends_early(tmp_path):
    """--start 1.5 of a 2 s file cut at half its bytes said only "has no video frames in the
    requested segment", as for a start past the end of a whole file: where its frames end, and
    that its header says more, are in that one line; a whole file's error says where they end."""
    src = make_video(tmp_path / "in.mkv", frames=48, size=(160, 90), audio=True)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with VideoDecoder(cut) as decoder:
        ends = max(item.time + item.duration * item.time_base for item in decoder.read()
                   if isinstance(item, DecodedFrame))
    assert ends < 1.4
    with pytest.raises(VidstyleError, match=rf"cut.mkv has no video frames in the requested segment: its frames end "
                                            rf"at {float(ends):.2f} s, though its header says they reach 2.00 s "
                                            r"\(truncated or damaged file\?\)$"):
        VideoDecoder(cut, start=1.5)
    whole = make_video(tmp_path / "whole.mp4", frames=6, audio=True, audio_seconds=2.0)
    with pytest.raises(VidstyleError, match=r"whole.mp4 has no video frames in the requested segment: its frames end "
                                            r"at 0.25 s$"):
        VideoDecoder(whole, start=1.0)


def _noise_clip(path, times):
    """A clip of noise frames (each unlike the others) at ``times`` (seconds), on a 1/90000 clock."""
    return write_frames(path, [pattern_frame(i, (32, 32), "noise") for i in range(len(times))], times=times,
                        time_base=Fraction(1, 90000), options={"preset": "ultrafast", "crf": "10", "g": "6"})


@pytest.mark.parametrize("clip, start, duration, said", [
    ("steady", 0.98, 0.01, "no frame starts between 0.98 and 0.99 s: the nearest start at 0.958 and 1.000 s "
                           "(--duration 0.021 or more takes the one at 1.000 s)"),
    ("burst", 1.5, 1, "no frame starts between 1.5 and 2.5 s: the nearest start at 0.958 and 3.000 s "
                      "(--duration 1.501 or more takes the one at 3.000 s)"),
    ("burst", 0.99, 0.01, "no frame starts between 0.99 and 1 s: the nearest start at 0.958 and 3.000 s "
                          "(--duration 2.011 or more takes the one at 3.000 s)"),
])
def test_a_segment_between_two_frames_of_an_intact_file_says_where_they_are(tmp_path, cli, clip, start, duration,
                                                                             said):
    """--start 0.98 --duration 0.01 of an intact 2 s clip at 24 frames/s holds no frame (they are
    at 0.958 and 1 s): it failed with "its frames end at 1.04 s, though its header says they reach
    2.00 s (truncated or damaged file?)", the end of the frame after the segment, read to find its
    end; alike for a segment inside the gap of a burst clip (frames to 1 s, then none until 3 s).
    The error says where the frames are, for stylize, preview and eval alike (one decoder)."""
    times = [Fraction(i, 24) for i in range(48)] if clip == "steady" else \
        [Fraction(i, 24) for i in range(24)] + [3 + Fraction(i, 24) for i in range(24)]
    path = _noise_clip(tmp_path / f"{clip}.mp4", times)
    error = f"{path.name} has no video frames in the requested segment: {said}"
    with pytest.raises(VidstyleError) as caught:
        VideoDecoder(path, start=start, duration=duration)
    assert str(caught.value).endswith(error), str(caught.value)
    segment = ("--start", start, "--duration", duration)
    for command in (("stylize", path, "-o", tmp_path / "out.mp4", "--style", "light_mondrian", *segment),
                    ("preview", path, "-o", tmp_path / "sheet.png", "--style", "light_mondrian", *segment),
                    ("eval", path, path, *segment)):
        done = cli(*command)
        assert done.returncode != 0 and done.stderr.strip().endswith(error), (command[0], done.stderr)
        assert "damaged" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "sheet.png").exists()


@pytest.mark.parametrize("clip, start, duration, said", [
    # the clock starts at 10 s: times as --start counts them, from the first frame
    ("late", 0.98, 0.01, "no frame starts between 0.98 and 0.99 s: the nearest start at 0.958 and 1.000 s "
                         "(--duration 0.021 or more takes the one at 1.000 s)"),
    # a frame 0.2 ms before --start is not "at 1.000 s": shown finer
    ("near", 1, 0.01, "no frame starts between 1 and 1.01 s: the nearest start at 0.9998 and 1.0500 s "
                      "(--duration 0.051 or more takes the one at 1.0500 s)"),
    # the frame after it starts where the segment ends: to the millisecond still
    ("steady", 0.98, 0.02, "no frame starts between 0.98 and 1 s: the nearest start at 0.958 and 1.000 s "
                           "(--duration 0.021 or more takes the one at 1.000 s)"),
    # the one at 25/24 s is 31.67 ms after --start: 0.032 is the shortest --duration that takes it
    ("steady", 1.01, 0.01, "no frame starts between 1.01 and 1.02 s: the nearest start at 1.000 and 1.042 s "
                           "(--duration 0.032 or more takes the one at 1.042 s)"),
    # ten hours in: every digit of --start
    ("long", 36000.98, 0.01, "no frame starts between 36000.98 and 36000.99 s: the nearest start at 36000.958 "
                             "and 36001.000 s (--duration 0.021 or more takes the one at 36001.000 s)"),
])
def test_where_the_frames_around_an_empty_segment_start_is_said_as_start_counts_them(tmp_path, clip, start,
                                                                                      duration, said):
    """Mutation testing, 60th session: the error of a segment between two frames gave the same
    text with its times on the stream's clock (10.98 s for --start 0.98 of a clip whose clock
    starts at 10 s), with no more than 3 decimals (a frame 0.2 ms before --start 1 "at 1.000 s"),
    with 6 for a frame at the segment's end, a --duration a millisecond longer than needed, and
    with --start 36000.98 said as "36001"; each passed every test."""
    if clip == "late":
        path = make_video(tmp_path / "late.mkv", frames=48, size=(64, 48), audio=True,
                          container_options={"output_ts_offset": "10"})
    elif clip == "long":
        times = [0, 36000 + Fraction(23, 24), 36001, 36001 + Fraction(1, 24)]
        path = write_frames(tmp_path / "long.mkv", [pattern_frame(i, (32, 32), "noise") for i in range(4)],
                            times=times, time_base=Fraction(1, 1000), options={"preset": "ultrafast", "g": "6"})
    else:
        times = [Fraction(i, 24) for i in range(48)] if clip == "steady" else \
            [0, Fraction(1, 2), Fraction(9998, 10000), Fraction(105, 100), Fraction(3, 2), 2]
        path = _noise_clip(tmp_path / f"{clip}.mp4", times)
    with pytest.raises(VidstyleError) as caught:
        VideoDecoder(path, start=start, duration=duration)
    assert str(caught.value) == f"{path} has no video frames in the requested segment: {said}"


def test_a_sparse_variable_frame_rate_segment_is_not_called_damaged(tmp_path, caplog):
    """Matroska stores no frame rate: FFmpeg guesses 25 frames/s for a screen recording with 10
    frames in a second, so --duration 0.9 expected ~23 frames, found 8 and warned of a damaged
    file. A frame past the segment's end shows it was all there."""
    times_ms = [0, 40, 80, 200, 240, 500, 540, 580, 1000, 1040]
    src = write_frames(tmp_path / "sparse.mkv", [pattern_frame(i, (64, 48), "noise") for i in range(10)], fps=25,
                       times=[Fraction(t, 1000) for t in times_ms], time_base=Fraction(1, 1000))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "part.mkv", duration=0.9)
    assert result.frames == 8 and [float(t) for t in frame_times(tmp_path / "part.mkv")] == \
        [t / 1000 for t in times_ms[:8]]
    assert "could be decoded" not in caplog.text
    calls = []  # a caller's progress function ends at the true count, as the bar does
    stylize_video(src, tmp_path / "again.mkv", style=Identity(), temporal="off", duration=0.9,
                  progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (1, 23) and calls[-1] == (8, 8) and len(calls) == 9
    cut = tmp_path / "cut.mkv"  # the same segment of a file cut off inside it still warns
    cut.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 5])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        short = stylize(cut, tmp_path / "cut_part.mkv", duration=0.9)
    assert short.frames < 8 and "truncated or damaged" in caplog.text


def test_no_truncation_warning_when_audio_outlasts_the_video_or_an_edit_list_hides_frames(tmp_path, caplog):
    longer_audio = make_video(tmp_path / "a.mkv", frames=12, size=(64, 48), audio=True, audio_seconds=3.0)
    # frames before 0 are hidden by the mp4 edit list, as in `ffmpeg -ss X -c copy` cuts
    trimmed = tmp_path / "trimmed.mp4"
    with av.open(str(trimmed), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 90000)
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 100, np.uint8), format="rgb24")
            frame.pts = -18000 + 3000 * i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(longer_audio, tmp_path / "a_out.mkv").frames == 12
        stylize(trimmed, tmp_path / "t_out.mp4")
    assert "truncated" not in caplog.text


def _first_and_end(path, kind):
    """(first pts, last pts + duration) in seconds of the packets of the first ``kind`` stream."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        times = [(p.pts * stream.time_base, (p.pts + p.duration) * stream.time_base)
                 for p in container.demux(stream) if p.pts is not None]
    return float(min(t[0] for t in times)), float(max(t[1] for t in times))


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_sound_an_edit_list_hides_stays_hidden_when_copied(tmp_path, suffix):
    """An MP4 trimmed by its edit list, picture and sound (an editor's pass-through export): the
    first half second of both is in the file but hidden. Copied into Matroska, which cannot hide
    it, that sound was heard before the picture, which started half a second late (MP4 hid it
    again: there only one packet of it is left now too)."""
    src = tmp_path / "trimmed.mp4"
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 90000)
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=44100, layout="mono")
        for i in range(36):  # -0.5 s to 1 s: the mp4 muxer's edit list hides what is before 0
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts = -45000 + 3750 * i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for start in range(-22050, 44100, 1024):
            tone = np.sin(np.arange(start, start + 1024) / 44100 * 2 * np.pi * 440).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(0.3 * tone[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, start, Fraction(1, 44100)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    assert probe(src).frames == 24  # as players show it: from 0 to 1 s
    out = tmp_path / f"out{suffix}"
    assert stylize(src, out).audio == {0: "copy"}
    assert probe(out).frames == 24
    video_start, video_end = _first_and_end(out, "video")
    audio_start, audio_end = _first_and_end(out, "audio")
    # no more sound before the picture than one packet kept for the decoder's priming
    assert video_start - audio_start < 0.05
    assert abs((video_end - video_start) - 1.0) < 0.01 and audio_end - audio_start < 1.1


# --- orientation, colour, aspect -------------------------------------------------------------------

# 180 and a mirror is a vertical flip, which FFmpeg's rotation getter reads as no turn at all
@pytest.mark.parametrize("rotation", [0, 90, 180])
def test_a_mirrored_display_matrix_is_mirrored_not_turned_upside_down(tmp_path, rotation):
    src = make_video(tmp_path / "in.mp4", frames=3, size=(96, 64), rotation=rotation, mirror=True)
    stored = read_frames(src)[0]
    with av.open(str(src)) as container:
        said = next(container.decode(video=0)).rotation  # FFmpeg's rotation getter, blind to the mirror
    # FFmpeg's flip negates the matrix's first column: a mirror of the displayed x axis after the rotation
    expected = np.fliplr(np.rot90(stored, rotation // 90))
    out = tmp_path / "out.mp4"
    stylize(src, out)
    shown = read_frames(out)[0]
    assert shown.shape == expected.shape and psnr(shown, expected) > 35
    naive = np.rot90(stored, round(said / 90))
    assert naive.shape != shown.shape or psnr(shown, naive) < 25  # not what the rotation alone would give


def _tags(path):
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return int(ctx.colorspace), int(ctx.color_primaries), int(ctx.color_trc), int(ctx.color_range)


def test_bt709_input_keeps_its_matrix_and_tags(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=3, size=(96, 64), bt709=True, pattern="moving")
    out = tmp_path / "out.mp4"
    stylize(src, out)
    assert _tags(src)[:3] == _tags(out)[:3] == (1, 1, 1) and _tags(out)[3] == 1  # BT.709, limited range
    # decoded as a BT.709 player does, the output looks like the input
    with av.open(str(src)) as a, av.open(str(out)) as b:
        before = next(a.decode(video=0)).to_ndarray(format="rgb24", src_colorspace="ITU709")
        after = next(b.decode(video=0)).to_ndarray(format="rgb24", src_colorspace="ITU709")
    assert psnr(before, after) > 38


@pytest.mark.parametrize("size, matrix", [((1280, 720), 1), ((96, 64), 6)])
def test_untagged_input_is_written_with_the_matrix_players_assume_and_tagged(tmp_path, size, matrix):
    src = make_video(tmp_path / "in.mp4", frames=2, size=size, pattern="moving", crf=0)
    out = tmp_path / "out.mp4"
    stylize(src, out)
    assert _tags(out)[0] == matrix
    sws = "ITU709" if matrix == 1 else "ITU601"
    with av.open(str(src)) as a, av.open(str(out)) as b:  # both seen as a player sees them
        before = next(a.decode(video=0)).to_ndarray(format="rgb24", src_colorspace=sws)
        after = next(b.decode(video=0)).to_ndarray(format="rgb24", src_colorspace=sws)
    assert psnr(before, after) > 38


def test_non_square_pixels_kept_in_mp4_and_a_warning_where_they_cannot_be(tmp_path, caplog):
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48), sar=Fraction(4, 3))
    stylize(src, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, tmp_path / "out.webm")
    assert "not square" in caplog.text and "players will show it stretched" in caplog.text
    for animation in ("out.gif", "out.webp"):  # no pixel aspect ratio at all: said, as for WebM
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            stylize(src, tmp_path / animation)
        assert f"which a .{animation.split('.')[1]} animation cannot record" in caplog.text, caplog.text


def test_a_turned_video_of_non_square_pixels_has_its_pixel_aspect_turned_too(tmp_path):
    """Pixels twice as wide as tall, stored sideways (a phone's rotation tag): the frames are
    written upright, where the same pixels are twice as tall as wide. Kept as 2:1, the output
    would be shown stretched four times over."""
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48), sar=Fraction(2, 1), rotation=90)
    out = tmp_path / "out.mp4"
    stylize(src, out)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (48, 64)
        assert stream.sample_aspect_ratio == Fraction(1, 2)


# --- timing and names --------------------------------------------------------------------------------

def test_a_late_starting_stream_starts_at_zero_like_ffmpeg_makes_it(tmp_path):
    """A capture whose clock starts at 100 s must not become an mp4 with 100 s of nothing first."""
    src = make_video(tmp_path / "in.ts", frames=24, size=(64, 48), audio=True,
                     container_options={"output_ts_offset": "100"})
    assert frame_times(src)[0] > 99
    out = tmp_path / "out.mp4"
    stylize(src, out)
    times = frame_times(out)
    assert len(times) == 24 and times[0] < 0.2
    info = probe(out)
    assert info.duration < 1.3 and abs(info.audio[0].duration - 1.0) < 0.1


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_clock_that_wraps_round_after_the_first_frame_loses_no_frames(tmp_path, suffix):
    """MPEG-TS's 33-bit clock wrapping round one second in: FFmpeg reads the first second at
    negative times, which MP4's edit list would hide (two thirds of this clip played)."""
    src = tmp_path / "wrapped.ts"
    wrap = 2 ** 33
    with av.open(str(src), "w", options={"mpegts_copyts": "1"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("mp2", rate=48000, layout="stereo")
        packets = []
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts, frame.time_base = wrap - 90000 + i * 3000, Fraction(1, 90000)
            packets += stream.encode(frame)
        packets += stream.encode(None)
        first_sample = (wrap - 90000 - 45000) * 48000 // 90000  # sound from half a second before the picture
        for k in range(0, 120000, 1152):
            chunk = av.AudioFrame.from_ndarray(np.zeros((2, 1152), np.float32), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, first_sample + k, Fraction(1, 48000)
            packets += sound.encode(chunk)
        packets += sound.encode(None)
        for packet in sorted(packets, key=lambda p: p.dts * p.time_base):
            container.mux(packet)
    assert frame_times(src)[0] < -0.9  # as FFmpeg reads it
    out = tmp_path / f"out{suffix}"
    stylize(src, out)
    times = frame_times(out)
    # Matroska moves a whole file with sound below 0 later: the sound before the picture is dropped
    assert len(times) == 60 and abs(times[0]) < 0.05 and abs(times[-1] - 59 / 30) < 0.05
    with av.open(str(out)) as written:
        below = [p for p in written.demux(audio=0) if p.pts is not None and p.pts < 0]
    # none, but in MP4 the packet across the picture's start and the one before it, which its edit
    # list hides: the sound starts with the picture there, within a packet (1152 samples) in Matroska
    starts = decoded_sound(out)[0]
    if suffix == ".mp4":
        assert len(below) == 2 and starts == 0
    else:
        assert not below and 0 <= starts < Fraction(1152, 48000)




def test_what_is_remembered_of_each_file_read_stays_bounded(tmp_path, monkeypatch):
    """Found by a review of resources over many runs in one process: where a file's first frame
    shown lies, and whether its clock starts over, were remembered per file for the process's
    life: a program that stylized file after file grew both by an entry a file, for ever."""
    from vidstyle.io import decode

    monkeypatch.setattr(decode, "CACHED_FILES", 3, raising=False)
    monkeypatch.setattr(decode, "_FIRST_SHOWN", {})
    monkeypatch.setattr(decode, "_CLOCK_RESTARTS", {})
    part = make_video(tmp_path / "part.ts", frames=24, fps=24, size=(64, 48))
    joined = part.read_bytes() * 2  # its clock starts over: found by a scan, remembered
    for n in range(5):
        (tmp_path / f"{n}.ts").write_bytes(joined)
        with VideoDecoder(tmp_path / f"{n}.ts", start=0.5) as decoder:  # a --start asks for both
            assert decoder.clock_restarts == 0 and decoder._clock_restarts_ahead
    assert len(decode._FIRST_SHOWN) == len(decode._CLOCK_RESTARTS) == 3
    for cache in (decode._FIRST_SHOWN, decode._CLOCK_RESTARTS):  # the latest kept, the oldest forgotten
        assert [n for n in range(5) for key in cache if str(tmp_path / f"{n}.ts") in key] == [2, 3, 4]
    # a program that lowers the cap: the next file scanned brings both down to it
    monkeypatch.setattr(decode, "CACHED_FILES", 1)
    with VideoDecoder(tmp_path / "0.ts", start=0.5):
        pass
    assert len(decode._FIRST_SHOWN) == len(decode._CLOCK_RESTARTS) == 1


def test_what_is_remembered_stays_whole_with_another_thread_writing_between_any_two_steps(monkeypatch):
    """Found by an adversarial review (57th session): the oldest file was forgotten by iterating
    the cache, and a decoder opened on another thread (a program stylizing in threads) that wrote
    its file in between failed this one with "dictionary changed size during iteration", once 256
    files had been read. A first version of this test wrote at each call the forgetting makes,
    and a forgetting that walked the cache step by step itself (a comprehension over it) passed it
    (mutation testing, 58th session). Here the other thread's write comes between every two
    bytecodes of _remember and of what it runs, as a thread switch can."""
    import sys

    from vidstyle.io import decode

    monkeypatch.setattr(decode, "CACHED_FILES", 3, raising=False)
    cache = {f"old{n}": False for n in range(4)}
    others = iter(range(100_000))
    remember = decode._remember.__code__

    def another_thread_remembers(frame, event, arg):
        if frame.f_code is not remember and (frame.f_back is None or frame.f_back.f_code is not remember):
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            cache[f"other{next(others)}"] = True
        return another_thread_remembers

    sys.settrace(another_thread_remembers)
    try:
        decode._remember(cache, "new", True)
    finally:
        sys.settrace(None)
    assert cache["new"] is True and "old0" not in cache


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_segments_joined_into_one_ts_file_run_on_as_one_timeline(tmp_path, caplog, suffix):
    """Two MPEG-TS segments joined byte-wise: the clock starts over in the middle. Its second half
    was squeezed into a millisecond, and its copied audio going back in time stopped the muxer."""
    part = make_video(tmp_path / "part.ts", frames=24, fps=24, size=(64, 48), audio=True)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * 2)
    out = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(joined, out)
    times = frame_times(out)
    assert len(times) == 48 and all(b > a for a, b in zip(times, times[1:]))
    steps = [float(b - a) for a, b in zip(times, times[1:])]
    assert max(steps) < 0.2 and min(steps) > 0.03  # one frame's step, a little more at the join
    info = probe(out)
    assert 1.95 < info.duration < 2.3 and abs(info.audio[0].duration - info.duration) < 0.15
    assert "the clock of joined.ts starts over once" in caplog.text


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_frames_whose_clock_does_not_advance_play_at_the_frame_rate_and_are_said_to(tmp_path, caplog, suffix):
    """Every frame stamped 0 (a broken muxer): each was put a tick after the one before, so the
    frames played in a blink, first without a word (review, 37th session), then with a warning of
    a damaged clock; live took the file's average rate (its frame count over a length of nothing:
    1275 for 51 frames) and said it "ended at 0.00 s" (review, 53rd session). Its frames now play
    at its frame rate. Matroska gives the video track no length of its own (the file's is the
    sound's 2 s): such an .mkv was still taken for a working file (review, 54th session)."""
    from vidstyle.io.capture import FileSource

    path = tmp_path / f"stuck{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "bf": "0"}
        # sound on a clock that runs, 2 s of it: the file says it lasts 2 s, its picture one frame
        sound = container.add_stream("aac", rate=48000)
        packets = []
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts = i
            packets += stream.encode(frame)
        for packet in packets + stream.encode(None):
            packet.pts = packet.dts = 0
            container.mux(packet)
        for k in range(94):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 48000, k * 1024
            container.mux(sound.encode(samples))
        container.mux(sound.encode(None))
    with av.open(str(path)) as container:  # what the file says of itself
        video = container.streams.video[0]
        assert container.duration > 1.5 * av.time_base
        assert video.average_rate > 100 if suffix == ".mp4" else video.duration is None
    said = (f"every frame of stuck{suffix} has the same time (its clock does not run): its frames are played one after "
            "another at 24 frames/s")
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(path, out)
    assert frame_times(out) == [Fraction(i, 24) for i in range(8)]
    assert said in caplog.text and "damaged clock" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        source = FileSource(path, realtime=False)
        times = []
        while source.read() is not None:
            times.append(source._last_t)
        source.close()
    assert source.fps == 24 and times == pytest.approx([i / 24 for i in range(8)])
    assert said in caplog.text and "ended at" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(make_video(tmp_path / "fine.mp4", frames=8, size=(64, 48)), tmp_path / "fine_out.mp4")
    assert "clock" not in caplog.text


def test_a_start_in_segments_joined_into_one_ts_file_is_on_the_joined_timeline(tmp_path, caplog):
    """A seek lands on the file's own clock, which starts over at each join (and FFmpeg's
    duration is the first piece's): such a file is decoded from its beginning to find --start."""
    parts = [make_video(tmp_path / f"{n}.ts", frames=24, fps=24, size=(64, 48), pattern=pattern)
             for n, pattern in enumerate(("moving", "cut", "noise"))]  # three pieces that look different
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with VideoDecoder(joined) as decoder:
        whole = [item.image for item in decoder.read() if isinstance(item, DecodedFrame)]
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        segment = decoded_segment(joined, 2.25, 0.5)  # inside the third piece, past the first's end
    assert "decoded from its beginning" in caplog.text
    assert len(segment) == 12
    first = [i for i, image in enumerate(whole) if np.array_equal(image, segment[0].image)]
    assert first == [54]  # 2.25 s at 24 frames/s, counted on the joined timeline
    first = first[0]
    assert all(np.array_equal(a.image, b) for a, b in zip(segment, whole[first:first + 12]))


def test_a_start_past_the_first_piece_of_segments_joined_into_one_ts_file_is_stylized(tmp_path, caplog):
    """FFmpeg's duration of joined segments is their first piece's: a look ahead at a segment's
    frames (the bars searched for, sample frames) refused a start past it as "past the end of
    joined.ts (1.00 s long)", and so did the run, though its own decoder found the segment."""
    parts = [make_video(tmp_path / f"{n}.ts", frames=24, fps=24, size=(64, 48), pattern=pattern)
             for n, pattern in enumerate(("moving", "cut", "noise"))]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with VideoDecoder(joined) as decoder:
        whole = [item.image for item in decoder.read() if isinstance(item, DecodedFrame)]
    samples = sample_frames(joined, 3, start=2.25, duration=0.5)
    assert len(samples) == 3 and all(any(np.array_equal(s, w) for w in whole[54:66]) for s in samples)
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(joined, out, start=2.25, duration=0.5)
    assert probe(out).frames == 12


def _ts_segment(path, subtitle_at: float):
    """One second of MPEG-TS as an HLS segment holds it: H.264 with B-frames (pictures shown a few
    frames after they are decoded), AAC, and a DVB subtitle packet at ``subtitle_at`` seconds."""
    with av.open(str(path), "w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"bf": "3", "crf": "10", **X264_REPEATABLE}
        sound = container.add_stream("aac", rate=48000, layout="stereo")
        subtitles = container.add_stream("dvbsub")
        packets = []
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 24)
            packets += video.encode(frame)
        packets += video.encode(None)
        for k in range(0, 48000, 1024):
            chunk = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, k, Fraction(1, 48000)
            packets += sound.encode(chunk)
        packets += sound.encode(None)
        event = av.Packet(bytes([0x20, 0x00, 0x0F, 0x10, 0x00, 0x01, 0x00, 0x00, 0xFF]))  # an empty DVB page
        event.stream, event.time_base = subtitles, Fraction(1, 90000)
        event.pts = event.dts = round(subtitle_at * 90000)
        event.duration = 18000
        for packet in sorted(packets + [event], key=lambda p: p.dts * p.time_base):
            container.mux(packet)
    return path


def test_joined_segments_keep_b_frames_and_subtitles_in_step(tmp_path):
    """Three joined segments: the picture steps one frame at each join (B-frames' decode times run
    behind their display times; a move by decode times left a hole of the reorder delay), and a
    subtitle moves with the segment it is in, though it need not step back itself."""
    from vidstyle.io.decode import SubtitleItem

    parts = [_ts_segment(tmp_path / f"{n}.ts", at) for n, at in enumerate((0.2, 0.6, 0.1))]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with VideoDecoder(joined) as decoder:
        items = list(decoder.read(subtitles={0: "copy"}))
        assert decoder.clock_restarts == 2
    frames = [float(i.time) for i in items if isinstance(i, DecodedFrame)]
    steps = [b - a for a, b in zip(frames, frames[1:])]
    assert len(frames) == 72 and min(steps) > 0.03 and max(steps) < 0.06
    subtitles = [float(i.packet.pts * i.packet.time_base) for i in items if isinstance(i, SubtitleItem)]
    assert len(subtitles) == 3
    assert [round(t - frames[0], 1) for t in subtitles] == [0.2, 1.6, 2.1]


def test_a_late_starting_matroska_file_is_not_called_truncated(tmp_path, caplog):
    """FFmpeg tags a Matroska track's DURATION with where it ends; in a file whose clock starts at
    10 s that is 10 s more than its length, which once made every such file "truncated"."""
    src = make_video(tmp_path / "in.mkv", frames=24, size=(64, 48), container_options={"output_ts_offset": "10"})
    assert frame_times(src)[0] >= 10
    with VideoDecoder(src) as decoder:
        assert decoder.info.frames == 24
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mkv").frames == 24
    assert "truncated" not in caplog.text


@pytest.mark.parametrize("source", [".mkv", ".mp4"])  # MP4 titles are read back as "name"
@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_titles_languages_and_default_track_are_kept(tmp_path, suffix, source):
    """A film with an English main track and a French one flagged to play by default: the output
    names the same languages and titles, and flags the same track, or a player picks another."""
    plain = make_video(tmp_path / "plain.mkv", frames=12, size=(64, 48), audio=True)
    src = tmp_path / f"tagged{source}"
    with av.open(str(plain)) as inp, av.open(str(src), "w") as out:
        out.metadata["title"] = "My Film"
        video = out.add_stream_from_template(inp.streams.video[0])
        video.metadata.update(language="eng", title="Picture")
        tracks = [out.add_stream_from_template(inp.streams.audio[0]) for _ in range(2)]
        for track, (language, title, flags) in zip(tracks, [("eng", "Main", 0), ("fra", "Commentaire", 1)]):
            track.metadata.update(language=language, title=title)
            track.disposition = av.stream.Disposition(flags)  # 1: default
        for packet in inp.demux():
            if packet.dts is None:
                continue
            if packet.stream.type == "video":
                packet.stream = video
                out.mux(packet)
            else:
                for track in tracks:
                    packet.stream = track
                    out.mux(packet)
    result = tmp_path / f"out{suffix}"
    stylize(src, result)
    with av.open(str(result)) as c:
        assert c.metadata.get("title") == "My Film"
        audio = c.streams.audio
        assert [a.metadata.get("language") for a in audio] == ["eng", "fra"]
        names = [a.metadata.get("title", a.metadata.get("name")) for a in audio]  # mp4 calls it "name"
        assert names == ["Main", "Commentaire"]
        assert [bool(a.disposition & av.stream.Disposition.default) for a in audio] == [False, True]
        assert c.streams.video[0].metadata.get("language") == "eng"
        # what described the input's encoding is not carried over as if it described the output's
        assert "Lavc" not in str(dict(c.streams.video[0].metadata))


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_tracks_of_an_input_without_default_flags_play_by_default(tmp_path, suffix):
    """MPEG-TS (and AVI) flag no track to play by default; FFmpeg's library writes the flags it
    is given, so the .mkv/.webm output's tracks were all marked not to play (a player may skip
    them). As FFmpeg's command line does: the video track, and the first sound track, play."""
    src = make_video(tmp_path / "capture.ts", frames=12, size=(64, 48), audio=True)
    with av.open(str(src)) as c:
        assert not any(s.disposition & av.stream.Disposition.default for s in c.streams)  # the premise
    result = tmp_path / f"out{suffix}"
    stylize(src, result)
    with av.open(str(result)) as c:
        assert [bool(s.disposition & av.stream.Disposition.default) for s in c.streams] == [True, True]


def _flagged_sound(tmp_path, *dispositions):
    """A short .mkv described "Shot in one take", with a sound track flagged each of
    ``dispositions`` (the same sound in each)."""
    plain = make_video(tmp_path / "plain.mkv", frames=6, size=(64, 48), audio=True)
    src = tmp_path / "tagged.mkv"
    with av.open(str(plain)) as inp, av.open(str(src), "w") as out:
        out.metadata["description"] = "Shot in one take"
        video = out.add_stream_from_template(inp.streams.video[0])
        tracks = [out.add_stream_from_template(inp.streams.audio[0]) for _ in dispositions]
        for track, disposition in zip(tracks, dispositions):
            track.disposition = disposition
        for packet in inp.demux():
            if packet.dts is None:
                continue
            for stream in [video] if packet.stream.type == "video" else tracks:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.duration, copy.time_base = (packet.pts, packet.dts, packet.duration,
                                                                     packet.time_base)
                copy.stream = stream
                out.mux(copy)
    return src


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_commentary_first_is_not_the_track_flagged_to_play(tmp_path, suffix):
    """Where no sound track plays by default, the one flagged is the film's own, not a commentary
    before it: the first track was flagged, and a player played the commentary (review, 54th session)."""
    d = av.stream.Disposition
    # nor an audio description (for the visually impaired) or a mix for the hearing impaired
    for n, aside in enumerate((d.comment, d.visual_impaired, d.hearing_impaired)):
        src = _flagged_sound(tmp_path, aside, 0, 0)
        result = tmp_path / f"out{n}{suffix}"
        stylize(src, result)
        with av.open(str(result)) as c:
            flags = [int(a.disposition & (d.default | aside)) for a in c.streams.audio]
            assert flags == [aside, d.default, 0], (aside, flags)  # (each flag kept)


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_tracks_of_an_input_without_play_flags_are_flagged_to_play(tmp_path, suffix):
    """MPEG-TS holds no "plays by default" flag: its picture and sound went into .mkv and .webm
    marked not to play, as FFmpeg's library writes the flags it is given, and a player may leave
    them unplayed."""
    d = av.stream.Disposition
    src = make_video(tmp_path / "in.ts", frames=6, size=(64, 48), audio=True)
    with av.open(str(src)) as c:
        assert not any(s.disposition & d.default for s in c.streams)
    result = tmp_path / f"out{suffix}"
    stylize(src, result)
    with av.open(str(result)) as c:
        assert [bool(s.disposition & d.default) for s in (*c.streams.video, *c.streams.audio)] == [True, True]


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".m4v", ".mkv", ".webm"])
def test_a_description_is_kept_and_a_commentary_flag_kept_or_said(tmp_path, caplog, suffix):
    """A film's description and its commentary track, as an editor checks them. .mov dropped the
    description (FFmpeg's QuickTime muxer fills QuickTime's Description from the comment, and has
    no place for a description of its own): with no comment beside it, it goes there. .mov and
    .webm cannot flag a commentary track (the flag was lost without a word): said."""
    src = _flagged_sound(tmp_path, av.stream.Disposition.comment)
    result = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, result)
    with av.open(str(result)) as c:
        tags = {key.lower(): value for key, value in c.metadata.items()}
        flagged = bool(c.streams.audio[0].disposition & av.stream.Disposition.comment)
    assert tags.get("comment" if suffix == ".mov" else "description") == "Shot in one take"
    if suffix == ".mov":  # in QuickTime's Description atom: size, language, text
        assert re.search(rb"\xa9des.{4}Shot in one take", result.read_bytes(), re.S)
    said = f"audio track 0 is flagged commentary, which {suffix} cannot record (.mp4 and .mkv can)"
    # (.m4v is FFmpeg's "ipod" flavour of MP4, which writes no flag but the default one, as .mov)
    assert (flagged, said in caplog.text) == ((False, True) if suffix in (".mov", ".m4v", ".webm") else (True, False))



@pytest.mark.parametrize("suffix", [".webm", ".mov"])
def test_a_forced_flag_is_kept_by_webm_and_said_where_it_cannot_be(tmp_path, caplog, suffix):
    """WebM's subset of Matroska keeps "forced" (and no other flag but the default one): kept
    without a word, and named among the outputs that can where .mov cannot record it."""
    src = _flagged_sound(tmp_path, av.stream.Disposition.forced)
    result = tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, result)
    with av.open(str(result)) as c:
        flagged = bool(c.streams.audio[0].disposition & av.stream.Disposition.forced)
    said = [r.getMessage() for r in caplog.records if "flagged" in r.getMessage()]
    if suffix == ".webm":
        assert flagged and said == []
    else:
        assert not flagged and said == [
            "audio track 0 is flagged forced, which .mov cannot record (.mp4 and .mkv and .webm can)"]

def _mov_keeps_language(code: str) -> str | None:
    """The language a .mov track written with ``code`` reads back with (FFmpeg's own muxer)."""
    import io

    buf = io.BytesIO()
    with av.open(buf, "w", format="mov") as c:
        stream = c.add_stream("aac", rate=48000)
        stream.metadata["language"] = code
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)
    buf.seek(0)
    with av.open(buf) as c:
        return c.streams.audio[0].metadata.get("language")


def test_mov_language_spellings_are_the_ones_ffmpegs_mov_table_holds():
    from vidstyle.io.encode import MOV_LANGUAGE_SPELLING

    for given, held in MOV_LANGUAGE_SPELLING.items():
        assert _mov_keeps_language(given) is None and _mov_keeps_language(held) == held, given


def test_a_mkv_tracks_language_survives_into_mov(tmp_path):
    # Matroska files spell French and German fre and ger/deu; FFmpeg's .mov writer dropped fre and
    # deu without a word (review, 36th session)
    plain = make_video(tmp_path / "plain.mkv", frames=6, size=(64, 48), audio=True)
    src = tmp_path / "tagged.mkv"
    with av.open(str(plain)) as inp, av.open(str(src), "w") as out:
        video = out.add_stream_from_template(inp.streams.video[0])
        tracks = [out.add_stream_from_template(inp.streams.audio[0]) for _ in range(2)]
        for track, language in zip(tracks, ("fre", "deu")):
            track.metadata["language"] = language
        for packet in inp.demux():
            if packet.dts is None:
                continue
            for stream in ([video] if packet.stream.type == "video" else tracks):
                packet.stream = stream
                out.mux(packet)
    stylize(src, tmp_path / "out.mov")
    with av.open(str(tmp_path / "out.mov")) as c:
        assert [a.metadata.get("language") for a in c.streams.audio] == ["fra", "ger"]


def _with_chapters(src, out, chapters, container_options=None):
    with av.open(str(src)) as inp, av.open(str(out), "w", container_options=container_options) as dst:
        video = dst.add_stream_from_template(inp.streams.video[0])
        dst.set_chapters(chapters)
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                dst.mux(packet)
    return out


def _titles(path):
    with av.open(str(path)) as c:
        return [(ch["metadata"]["title"], round(float(ch["start"] * ch["time_base"]), 3),
                 round(float(ch["end"] * ch["time_base"]), 3)) for ch in c.chapters()]


def test_chapters_are_kept_and_what_is_not_kept_is_said(tmp_path, caplog):
    plain = make_video(tmp_path / "plain.mkv", frames=24, size=(64, 48))
    src = _with_chapters(plain, tmp_path / "film.mkv", [
        {"id": 1, "start": 0, "end": 500, "time_base": Fraction(1, 1000), "metadata": {"title": "Intro"}},
        {"id": 2, "start": 500, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {"title": "Outro"}}])
    for suffix in (".mkv", ".mp4"):
        result = tmp_path / f"out{suffix}"
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            stylize(src, result)
        assert "chapter" not in caplog.text
        assert [title_start[:2] for title_start in _titles(result)] == [("Intro", 0.0), ("Outro", 0.5)]
    # a segment: its chapters, timed from its start, cut to it; those outside it left out
    for start, duration, expected in ((0.375, None, [("Intro", 0.0, 0.125), ("Outro", 0.125, 0.625)]),
                                      (0.5, 0.25, [("Outro", 0.0, 0.25)]),
                                      (0.125, 0.25, [("Intro", 0.0, 0.25)])):
        for suffix in (".mkv", ".mp4"):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="vidstyle"):
                stylize(src, tmp_path / f"part{suffix}", start=start, duration=duration, overwrite=True)
            assert "chapter" not in caplog.text
            assert _titles(tmp_path / f"part{suffix}") == expected, (start, duration, suffix)


def test_point_chapters_in_segments_and_chapters_a_late_clock_leaves_behind(tmp_path, caplog):
    plain = make_video(tmp_path / "plain.mkv", frames=24, size=(64, 48))
    tb = Fraction(1, 1000)
    markers = _with_chapters(plain, tmp_path / "markers.mkv", [
        {"id": i + 1, "start": t, "end": t, "time_base": tb, "metadata": {"title": name}}
        for i, (t, name) in enumerate(((0, "A"), (500, "B"), (750, "C")))])
    stylize(markers, tmp_path / "part.mkv", start=0.25, duration=0.5)  # 0.25-0.75: B inside, C at the end
    assert _titles(tmp_path / "part.mkv") == [("B", 0.25, 0.25)]
    # chapters counted from 0 in a file whose clock starts at 10 s: before its first frame; said
    late = make_video(tmp_path / "late.mkv", frames=24, size=(64, 48), container_options={"output_ts_offset": "10"})
    src = _with_chapters(late, tmp_path / "late_ch.mkv", [
        {"id": 1, "start": 0, "end": 1000, "time_base": tb, "metadata": {"title": "One"}}])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, tmp_path / "late_out.mkv")
    assert "1 chapter(s) of late_ch.mkv lie before its first frame (its clock starts late)" in caplog.text


def test_mp4_chapter_titles_are_not_called_a_data_stream(tmp_path, caplog):
    """MP4/MOV keep chapter titles in a text track FFmpeg shows as a (discarded) data stream."""
    plain = make_video(tmp_path / "plain.mkv", frames=24, size=(64, 48))
    src = _with_chapters(plain, tmp_path / "film.mp4", [
        {"id": 1, "start": 0, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {"title": "One"}}])
    with av.open(str(src)) as c:
        assert len(c.streams.data) == 1  # the chapter track
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, tmp_path / "out.mp4")
    assert "data stream" not in caplog.text and _titles(tmp_path / "out.mp4")[0][0] == "One"


def test_interlaced_input_is_said(tmp_path, caplog):
    src = write_frames(tmp_path / "tff.mp4", [np.full((48, 64, 3), 30 * i, np.uint8) for i in range(6)], fps=25,
                       options={"preset": "ultrafast", "x264-params": "interlaced=1:tff=1"})
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mp4").frames == 6
    assert "tff.mp4 is interlaced" in caplog.text and "bwdif" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(make_video(tmp_path / "p.mp4", frames=6, size=(64, 48)), tmp_path / "out2.mp4")
    assert "interlaced" not in caplog.text


def test_colons_in_file_names_are_names_not_protocols(tmp_path):
    src = make_video(tmp_path / "take 2: final.mp4", frames=6, size=(64, 48))
    out = tmp_path / "clip:stylized.mp4"
    assert stylize(src, out).frames == 6 and probe(out).frames == 6


@pytest.mark.skipif("h264_nvenc" not in av.codecs_available, reason="this FFmpeg has no NVENC encoder")
def test_a_video_encoder_that_cannot_open_is_not_blamed_on_the_audio(tmp_path, caplog):
    """Where NVENC cannot open (no NVIDIA driver here), the error is the video encoder's; the
    audio, which the container takes, is not re-encoded or mentioned."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("NVENC may open on this machine")
    src = make_video(tmp_path / "in.mp4", frames=6, size=(64, 48), audio=True)
    with caplog.at_level(logging.INFO, logger="vidstyle"), pytest.raises(VidstyleError, match="h264_nvenc"):
        stylize(src, tmp_path / "out.mp4", codec="h264_nvenc")
    assert "audio" not in caplog.text and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("suffix, codec, start", [(".flv", "libx264", 1.833), (".m2v", "mpeg2video", 1.01)])
def test_a_retry_seek_the_input_refuses_goes_further_back(tmp_path, suffix, codec, start):
    """FLV (H.264 with B-frames) and raw MPEG-2 seek by decode time, so the first seek can land
    after the start; they also refuse a seek before their first index entry, which a retry at
    start - 2 s asks for. The retry must then go further back (in the end: the file opened
    afresh), never on from where the failed attempt stopped reading."""
    path = write_frames(tmp_path / f"in{suffix}", [pattern_frame(i, (64, 48), "noise") for i in range(96)], codec=codec,
                        options={"g": "24", **({"preset": "medium"} if codec == "libx264" else {})})  # B-frames
    with VideoDecoder(path) as decoder:
        whole = [item for item in decoder.read() if isinstance(item, DecodedFrame)]
    every = [item.image for item in whole]
    frames = decoded_segment(path, start, 0.5)
    first = next(i for i, item in enumerate(whole) if item.time >= Fraction(start).limit_denominator(10**6))
    assert len(frames) == 12
    assert [f.pts for f in frames] == sorted({f.pts for f in frames})  # no squeezed or repeated times
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.image, every[first + k])


def _bare_h264(path, frames: int, rate: int):
    """A bare H.264 stream (no container, so no timestamps) of ``frames`` 64x48 grey frames, each
    brighter than the one before, at ``rate`` frames/s as its bitstream says."""
    return write_frames(path, [np.full((48, 64, 3), 5 * i % 256, np.uint8) for i in range(frames)], fps=rate)


def test_a_bare_h264_stream_keeps_the_frame_rate_its_bitstream_says(tmp_path):
    """A raw .h264 (as Raspberry Pi and many camera tools write) has no timestamps; FFmpeg's
    demuxer assumes 25 frames/s, which would play a 30 frames/s recording 20% slow."""
    path = _bare_h264(tmp_path / "camera.h264", frames=30, rate=30)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 25  # what the demuxer alone would say
    out = tmp_path / "out.mp4"
    stylize(path, out)
    times = frame_times(out)
    assert len(times) == 30 and times[1] - times[0] == Fraction(1, 30) and times[-1] == Fraction(29, 30)


def test_a_segment_of_a_bare_h264_stream_is_found_by_counting_its_frames(tmp_path):
    """A raw .h264 has no times to seek to: --start 1 failed with "no video frames in the requested
    segment", as FFmpeg's seek read the whole stream looking for one before it failed (review, 54th
    session). It is decoded from its beginning, frames timed by the frame rate, those before the
    start dropped."""
    path = _bare_h264(tmp_path / "camera.h264", frames=48, rate=24)
    every = decoded_segment(path, None, None)
    assert len(every) == 48
    part = decoded_segment(path, 1, 0.5)
    assert len(part) == 12
    for k, frame in enumerate(part):
        np.testing.assert_array_equal(frame.image, every[24 + k].image)
    out = tmp_path / "out.mp4"
    assert stylize(path, out, start=1).frames == 24
    assert frame_times(out) == [Fraction(k, 24) for k in range(24)]


def test_a_segment_decoded_from_a_fresh_open_of_the_file(tmp_path, monkeypatch):
    """The last resort for a --start the seeks cannot reach: the file is opened again. Its streams
    are new objects then (and here the video is not the first stream)."""
    plain = make_video(tmp_path / "plain.mkv", frames=24, size=(64, 48), audio=True)
    src = tmp_path / "audio_first.mkv"
    with av.open(str(plain)) as inp, av.open(str(src), "w") as out:
        audio = out.add_stream_from_template(inp.streams.audio[0])
        video = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = audio if packet.stream.type == "audio" else video
                out.mux(packet)
    monkeypatch.setattr(VideoDecoder, "SEEK_MARGINS", (None,))  # go straight to the fresh open
    frames = decoded_segment(src, 0.5, 0.25)
    assert len(frames) == 6 and frames[0].index == 0
    result = stylize(src, tmp_path / "out.mkv", start=0.5, duration=0.25)
    assert result.frames == 6


def test_one_still_frame_over_long_audio_in_matroska_is_one_frame(tmp_path, caplog):
    src = make_video(tmp_path / "still.mkv", frames=1, size=(64, 48), audio=True, audio_seconds=20)
    with VideoDecoder(src) as decoder:
        assert decoder.info.frames == 1  # not the 20 s of audio at the frame rate
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mkv").frames == 1
    assert "truncated" not in caplog.text


def test_a_matroska_clock_that_starts_late_is_not_taken_for_a_longer_video(tmp_path, caplog):
    # Matroska's DURATION tag is where the track ends on the file's clock: 12 s for 2 s from 10 s,
    # which, taken for the length, made 288 frames expected of 48 and the run a "truncated or
    # damaged file" (no test had a late clock beside the tag: mutation review, 56th session)
    src = make_video(tmp_path / "late.mkv", frames=48, size=(64, 48), fps=24,
                     container_options={"output_ts_offset": "10"})
    with VideoDecoder(src) as decoder:
        assert decoder.info.frames == 48
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert stylize(src, tmp_path / "out.mkv").frames == 48
    assert "truncated" not in caplog.text


def _largest_lead(path) -> float:
    """Seconds by which one stream runs ahead of the other in the file's byte order (the worst
    packet), while both streams last."""
    with av.open(str(path)) as c:
        packets = sorted((p.pos, p.stream.type, float(p.dts * p.time_base)) for p in c.demux()
                         if p.dts is not None and p.size)
    last_video = max(t for _, kind, t in packets if kind == "video")
    latest: dict[str, float] = {}
    worst = 0.0
    for _, kind, t in packets:
        other = "video" if kind == "audio" else "audio"
        if other in latest and t <= last_video:
            worst = max(worst, t - latest[other])
        latest[kind] = t
    return worst


def test_audio_stays_beside_sparse_video_in_the_file(tmp_path):
    """A slideshow at 2 frames a second: x264 holds about 40 frames (20 s) before its first packet,
    and audio written as it arrived ran that far ahead of the video in the file."""
    src = make_video(tmp_path / "slides.mp4", frames=60, size=(64, 48), fps=2, audio=True)
    assert _largest_lead(src) < 2
    out = tmp_path / "out.mp4"
    stylize(src, out)
    assert probe(out).frames == 60 and abs(probe(out).audio[0].duration - 30) < 0.1
    assert _largest_lead(out) < 2  # was 16 s


def _gif(path, width, height, frames=2):
    """A GIF of a ``width`` x ``height`` logical screen holding a 1x1 picture a frame: 89 bytes."""
    out = b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x80\x00\x00" + b"\x00" * 3 + b"\xff" * 3
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00" + b"\x2c" + b"\x00\x00\x00\x00\x01\x00\x01\x00" + b"\x00\x02\x02\x44\x01\x00"
    path.write_bytes(out + b"\x3b")
    return path


def test_a_video_declaring_frames_past_the_image_pixel_limit_is_refused_before_decoding(tmp_path):
    """An 89-byte GIF whose screen is 16000x16000 was decoded and stylized at that size: 4.6 GB
    resident before the encoder's 1.3 GB allocation failed (a decompression bomb, as Pillow's
    limit refuses in a still image). Refused now at the still image's limit, before a frame."""
    from PIL import Image

    limit = 2 * Image.MAX_IMAGE_PIXELS
    bomb = _gif(tmp_path / "bomb.gif", 16000, 16000)
    with pytest.raises(VidstyleError, match=rf"bomb.gif has 16000x16000 frames \(256 megapixels\), more than the "
                                            rf"{limit / 1e6:.0f} megapixels vidstyle reads"):
        VideoDecoder(bomb)
    with pytest.raises(VidstyleError, match="16000x16000 frames"):
        stylize(bomb, tmp_path / "out.mp4")
    assert not list(tmp_path.glob("*out*"))
    with VideoDecoder(_gif(tmp_path / "small.gif", 64, 48)) as decoder:  # an ordinary one is read as it was
        assert (decoder.info.width, decoder.info.height) == (64, 48)


def test_a_display_matrix_of_zeros_turns_nothing(tmp_path, caplog):
    """An MP4 whose track matrix is all zeros (an edited or broken file: no picture to show) was
    turned by 270 degrees, with a warning of a turn of "-2147483648 degrees": FFmpeg's rotation of
    that matrix is NaN, which reaches Python as INT_MIN. It plays as stored, as a player shows it."""
    import struct

    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    data = bytearray(src.read_bytes())
    at = data.find(b"tkhd")
    assert data[at + 4] == 0  # version 0: the matrix follows 4 + 4 + 20 + 8 + 8 bytes of the box
    matrix = at + 4 + 4 + 20 + 8 + 8
    assert struct.unpack(">9i", data[matrix:matrix + 36]) == (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)
    data[matrix:matrix + 36] = bytes(36)
    zeros = tmp_path / "zeros.mp4"
    zeros.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(zeros, tmp_path / "out.mp4")
    assert "degrees" not in caplog.text
    out = probe(tmp_path / "out.mp4")
    assert (out.width, out.height, out.rotation) == (64, 48, 0)
    assert psnr(read_frames(tmp_path / "out.mp4"), read_frames(src)) > 30


@pytest.mark.parametrize("frames", [6, 12])  # FFmpeg states no start for the 6 frames' stream, as for the 12's
def test_a_short_late_starting_matroska_file_is_read_as_a_longer_one(tmp_path, frames):
    """Left by the 60th session: a 6-frame .mkv whose clock starts at 10 s has no start time from
    FFmpeg (its stream's and the file's, which a 12-frame one has), and vidstyle took 0: it was
    counted as 246 frames (10.25 s), kept its frames at 10 s, --start counted from 0 (0.05 kept
    the first frame, which is at 0 s of the file as a player shows it) and --duration 0.1 alone
    found "no video frames in the requested segment". Now read as the 12-frame file is."""
    src = make_video(tmp_path / "in.mkv", frames=frames, size=(64, 48), container_options={"output_ts_offset": "10"})
    assert frame_times(src)[0] >= 10
    with VideoDecoder(src) as decoder:
        assert decoder.info.frames == frames
        times = [float(item.time) for item in decoder.read() if isinstance(item, DecodedFrame)]
        assert len(times) == frames and times[0] == 0 and float(decoder.first_time) == 0
    with VideoDecoder(src, start=0.05) as decoder:  # between the second and third frames
        assert round(float(decoder.first_time), 3) == 0.083 and decoder.info.frames == frames - 2
    with VideoDecoder(src, duration=0.1) as decoder:
        assert sum(isinstance(item, DecodedFrame) for item in decoder.read()) == 3


def _reordered_matroska(path, order, offset=10):
    """A short .mkv of H.264 intra frames (each decodes alone) whose packets are muxed in ``order``
    (frame k is at ``offset`` + k/24 s): its first packet is not its earliest where ``order`` starts
    with another than 0. FFmpeg states no start for such a short H.264 stream."""
    from videos import pattern_frame

    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = 64, 48, "yuv420p", Fraction(1, 24)
    encoder.options = {"preset": "ultrafast", "x264-params": "keyint=1", "crf": "10"}
    packets = []
    for k in range(len(order)):
        frame = av.VideoFrame.from_ndarray(pattern_frame(k, (64, 48), "moving", len(order)), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = k
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    time_base = Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt, stream.time_base = 64, 48, "yuv420p", time_base
        stream.codec_context.extradata = encoder.extradata
        for n, k in enumerate(order):
            packet = av.Packet(bytes(packets[k]))
            packet.stream, packet.time_base, packet.is_keyframe = stream, time_base, True
            packet.pts = round((offset + Fraction(k, 24)) / time_base)
            packet.dts = round((offset + Fraction(n - 1, 24)) / time_base)  # (rising, never after the pts)
            packet.duration = round(Fraction(1, 24) / time_base)
            container.mux(packet)
    return path


def test_a_stream_without_a_stated_start_starts_at_the_earliest_of_its_first_packets(tmp_path, monkeypatch):
    """FFmpeg states no start for a short H.264 .mkv, and vidstyle takes the earliest time among its
    first packets (VideoDecoder.START_PACKETS), as FFmpeg does where it states one: tested till now
    only on files whose first packet is their earliest. Here the frame at 10 s is muxed second:
    the segment from --start 0.03 counts from it, and holds the 5 frames at 10.041 s and after (from
    the first packet's 10.041 s, the 4 after 10.071 s)."""
    src = _reordered_matroska(tmp_path / "reordered.mkv", [1, 0, 2, 3, 4, 5])
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        assert stream.start_time is None and container.start_time is None  # none stated
        times = [packet.pts for packet in container.demux(stream) if packet.pts is not None]
    assert times[0] > min(times)  # the first packet is not the earliest
    with VideoDecoder(src, start=0.03, announce=False) as decoder:  # (Matroska's times: whole milliseconds)
        assert decoder.info.frames == 5 and abs(float(decoder.first_time) - 1 / 24) < 0.001
    monkeypatch.setattr(VideoDecoder, "START_PACKETS", 1)  # the first packet alone: another start
    with VideoDecoder(src, start=0.03, announce=False) as decoder:
        assert decoder.info.frames == 4


@pytest.mark.parametrize("name, frames, codec", [("short.mpg", 6, "mpeg2video"), ("short1.mpg", 24, "mpeg1video"),
                                                  ("short.nut", 6, None), ("long.nut", 48, None),
                                                  ("mpeg4.nut", 6, "mpeg4"), ("mpeg4_long.nut", 48, "mpeg4")])
def test_short_mpeg_ps_and_nut_files_give_their_frame_count(tmp_path, name, frames, codec):
    """A 6-frame .mpg reported 1 frame (24 as MPEG-1: 1 too), a .nut one frame fewer than it
    holds at any length (review, 62nd session). FFmpeg's length of an MPEG-PS file comes from its
    PES packets' timestamps, of which a small file whose frames share packets has few (6 frames:
    one, 0.04 s); NUT's ends where the last frame starts. The count, and the end the samples a
    preview takes are spread up to, followed them: a preview of the .mpg had one column. MPEG-4
    Part 2, FFmpeg's own codec for .nut, gives its stream no average rate: the frame added was
    left out (5 of 6) until it was added at the rate vidstyle plays it."""
    src = make_video(tmp_path / name, frames=frames, size=(64, 48), codec=codec)
    with VideoDecoder(src, announce=False) as decoder:
        assert decoder.info.frames == frames
        assert sum(isinstance(item, DecodedFrame) for item in decoder.read()) == frames
    assert len(sample_frames(src, 3)) == 3


def test_a_short_mpeg_ps_file_is_demuxed_for_its_length_once(tmp_path, monkeypatch):
    """The MPEG-PS length read by demuxing (up to 1 MB) was read again at every decoder opened on
    the file: a preview's samples open it once each (about 10 ms a time at 1 MB). Read once a file;
    a file written again under its name is read afresh."""
    from vidstyle.io import probe

    src = make_video(tmp_path / "short.mpg", frames=6, size=(64, 48), codec="mpeg2video")
    spans = []
    real = probe._demuxed_span
    monkeypatch.setattr(probe, "_demuxed_span", lambda *a: spans.append(a) or real(*a))
    monkeypatch.setattr(probe, "_DEMUXED_SPANS", {})
    for _ in range(3):
        with VideoDecoder(src, announce=False) as decoder:
            assert decoder.info.frames == 6
    assert len(spans) == 1
    make_video(src, frames=12, size=(64, 48), codec="mpeg2video")
    with VideoDecoder(src, announce=False) as decoder:
        assert decoder.info.frames == 12
    assert len(spans) == 2


@pytest.mark.parametrize("start, said", [
    (0.99, "its last frame starts at 0.958 s, before the segment does (--start 0.958 or earlier takes it)"),
    (1, "its frames end at 1.00 s"),  # at the end: none is shown from there
])
def test_a_start_inside_the_last_frame_says_where_that_frame_starts(tmp_path, cli, start, said):
    """--start 0.99 of a 1 s clip at 24 frames/s (its last frame starts at 0.958 s, shown until
    1 s) holds no frame: a frame is taken where it starts. The error said "its frames end at
    1.00 s", which reads as if 0.99 were in them; it says where the last one starts, and the
    --start that takes it."""
    path = _noise_clip(tmp_path / "steady.mp4", [Fraction(i, 24) for i in range(24)])
    error = f"{path.name} has no video frames in the requested segment: {said}"
    with pytest.raises(VidstyleError) as caught:
        VideoDecoder(path, start=start)
    assert str(caught.value).endswith(error), str(caught.value)
    done = cli("preview", path, "-o", tmp_path / "sheet.png", "--style", "light_mondrian", "--start", start)
    assert done.returncode == 1 and done.stderr.strip().endswith(error), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "sheet.png").exists()
    with VideoDecoder(path, start=float(said.split("--start ")[1].split()[0]) if "--start" in said else 0) as decoder:
        assert any(isinstance(item, DecodedFrame) for item in decoder.read())
