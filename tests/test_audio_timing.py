"""Sound against picture, as an editor checks it: where the input's sound lands in the output,
found to the sample by cross-correlation of a signal no stretch of which looks like another
(videos.sound_signal), at a segment's start and end and across a gap in a track, for audio
re-encoded and copied."""
from __future__ import annotations

import contextlib

from fractions import Fraction

import av
import numpy as np
import pytest

from videos import (Identity, decoded_sound, frame_times, make_rate_change_video, make_sound_video, sound_position,
                    sound_signal)
from vidstyle.config import EncodeConfig
from vidstyle.io import AudioItem, DecodedFrame, VideoDecoder, VideoEncoder
from vidstyle.io.encode import silent_audio_frame
from vidstyle.pipeline import stylize_video

RATE = 48000
SIGNAL = sound_signal(2 * RATE)  # the sound of make_sound_video's 2 s clips


def stylize(src, out, **segment):
    stylize_video(src, out, style=Identity(), temporal="off", progress=False, overwrite=True, **segment)


def first_kept(src, start) -> Fraction:
    """The input's time of the first frame a segment from ``start`` keeps: the output's 0."""
    return min(t for t in frame_times(src) if t >= start)


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.mark.parametrize("codec, name, output", [("pcm_s16le", "in.mkv", ".mp4"), ("aac", "in.mp4", ".webm"),
                                                  ("pcm_s16le", "in.mkv", ".webm")])
def test_reencoded_sound_of_a_segment_starts_and_ends_with_the_picture_to_the_sample(tmp_path, codec, name, output):
    """PCM into .mp4 becomes ALAC, anything into .webm Opus: decoded, the sound is cut at the
    sample of the first frame kept and of the segment's end. Whole decoded frames started it up to
    a frame late (Opus's 20 ms, AAC's 21) and ended it as far past. (The .mkv input's times are
    rounded to the millisecond: taken as they are, they put the cut up to 24 samples off.)"""
    src = make_sound_video(tmp_path / name, codec)
    out = tmp_path / f"out{output}"
    for start, duration in ((0.5, None), (0.51, 0.5)):
        stylize(src, out, start=start, duration=duration)
        origin = round(first_kept(src, start) * RATE)  # the input's sample at the output's 0
        begins, sound, rate = decoded_sound(out)
        assert rate == RATE and begins == 0
        assert sound_position(sound, SIGNAL, origin) == 0  # the first sample is the start's
        assert sound_position(sound, SIGNAL, origin + RATE // 4) == RATE // 4  # and on from there
        if duration:
            assert len(sound) == RATE // 2  # 12 whole frames of 24 a second


def test_reencoded_opus_from_webm_of_a_segment_starts_with_the_picture_to_the_sample(tmp_path):
    """Opus from .webm into .mov (AAC): read from a packet mid-stream (the look back before the
    start), the decoder trims its pre-skip (312 samples) from it as from the track's first, and
    moves the frame's time by it rounded to .webm's millisecond (6.5 ms to 7): the whole sound
    came 48 samples late. The whole file was already in place."""
    src = make_sound_video(tmp_path / "in.webm", "libopus")
    out = tmp_path / "out.mov"
    for start in (None, 0.5, 0.51):
        stylize(src, out, start=start)
        origin = round(first_kept(src, start or 0) * RATE)
        begins, sound, rate = decoded_sound(out)
        assert rate == RATE and begins == 0
        assert sound_position(sound, SIGNAL, origin) == 0
        assert sound_position(sound, SIGNAL, origin + RATE // 4) == RATE // 4


@pytest.mark.parametrize("output", [".mp4", ".mov", ".mkv"])
def test_copied_sound_of_a_segment_starts_with_the_picture(tmp_path, output):
    """Packets cannot be cut: into MP4/MOV the packet across the start and the one before it
    (AAC's overlap) go first, and the edit list starts the sound on the start's sample; the first
    packet after the start began up to one packet (21 ms) late, and faded in. Matroska, which has
    no such list, starts within one packet after the start, the picture still at 0, the sound in
    its place."""
    src = make_sound_video(tmp_path / "in.mp4", "aac")
    out = tmp_path / f"out{output}"
    stylize(src, out, start=0.5)
    origin = round(first_kept(src, 0.5) * RATE)
    begins, sound, rate = decoded_sound(out)
    placed = round(begins * rate)  # the output's sample at sound[0]
    assert placed + sound_position(sound, SIGNAL, origin + RATE // 4) == RATE // 4
    assert frame_times(out)[0] == 0
    if output == ".mkv":
        assert 0 <= placed < 1024
    else:
        assert placed == 0 and rms(sound[:1024]) > 0.5 * rms(SIGNAL[origin:origin + 1024])
        # before the start: the packet across it and the one before it (its overlap), no more
        with av.open(str(out)) as container:
            stream = container.streams.audio[0]
            ahead = [packet.pts * packet.time_base for packet in container.demux(stream)
                     if packet.pts is not None and packet.pts < 0]
        assert len(ahead) == 2 and -2 * Fraction(1024, RATE) < min(ahead) <= -Fraction(1024, RATE), ahead


@pytest.mark.parametrize("output", [".mp4", ".mov"])
def test_copied_sound_of_a_segment_ends_with_the_picture_in_mp4(tmp_path, output):
    """The packet across a segment's end, which cannot be cut, goes in whole, but is given the
    length heard of it, so the MP4/MOV edit list ends the sound on the end's sample; it ran on
    704 samples (15 ms) past the picture's end."""
    src = make_sound_video(tmp_path / "in.mp4", "aac")
    out = tmp_path / f"out{output}"
    stylize(src, out, start=0.5, duration=1.0)
    with av.open(str(out)) as container:
        audio, video = container.streams.audio[0], container.streams.video[0]
        assert audio.codec_context.name == "aac"  # copied
        assert (video.start_time + video.duration) * video.time_base == 1
        assert (audio.start_time + audio.duration) * audio.time_base == 1


@pytest.mark.parametrize("output", [".mp4", ".mov"])
def test_copied_mp3_from_matroska_ends_where_the_input_does_in_mp4(tmp_path, output):
    """MP3 ends in padding (LAME's: 815 samples of the last frame here), which Matroska marks to
    leave off (DiscardPadding). Copied into MP4/MOV, whose muxer does not read that mark, the last
    packet is given the length heard of it, and the edit list ends the sound where the input's
    does; it ran on 815 samples (17 ms) past it, and past the picture."""
    src = make_sound_video(tmp_path / "in.mkv", "mp3")
    begins, heard, rate = decoded_sound(src)  # the input as players play it: 2 s
    assert begins == 0 and len(heard) == 2 * RATE
    out = tmp_path / f"out{output}"
    stylize(src, out)
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "mp3float"  # copied
        assert (audio.start_time + audio.duration) * audio.time_base == 2


def test_sound_from_mp4_ends_where_its_edit_list_ends_it(tmp_path):
    """An MP4's edit list ends MP3 inside its last packet (LAME's 815 samples of padding after
    the last sample), which FFmpeg's parser times whole: copied, the output's edit list ran on
    815 samples (17 ms) past the input's end; re-encoded, the padding was written as sound."""
    src = make_sound_video(tmp_path / "in.mp4", "mp3")
    copied, reencoded = tmp_path / "out.mp4", tmp_path / "out.webm"
    stylize(src, copied)
    with av.open(str(copied)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "mp3float"
        assert (audio.start_time + audio.duration) * audio.time_base == 2
    stylize(src, reencoded)
    begins, sound, rate = decoded_sound(reencoded)
    assert begins == 0 and len(sound) == 2 * RATE


@pytest.mark.parametrize("name, output, gop", [("in.webm", ".mkv", None), ("in.mkv", ".webm", 12)])
def test_copied_opus_of_a_segment_into_matroska_starts_with_the_picture_to_the_sample(tmp_path, name, output, gop):
    """Copied Opus into .mkv/.webm, which has no edit list, kept the input's pre-skip (the
    encoder's 312 samples): the decoder dropped that much of the first packet after the start, and
    the sound began that packet's start less rounding after the picture, 48 samples late. Its
    lead-in packets now go first, and the output's pre-skip drops exactly them: the first sample
    heard is the start's, at 0. (gop: from a keyframe at the start, the look back's packets.)"""
    src = make_sound_video(tmp_path / name, "libopus", gop=gop)
    begins, heard, rate = decoded_sound(src)  # the input as players play it
    out = tmp_path / f"out{output}"
    for start in (0.5, 0.51, 0.7):
        stylize(src, out, start=start)
        with av.open(str(out)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"  # copied
        at = round((first_kept(src, start) - begins) * rate)  # the input's sample at the output's 0
        placed, sound, _ = decoded_sound(out)
        assert placed == 0 and frame_times(out)[0] == 0
        for ahead in (0, RATE // 4):
            piece = heard[at + ahead:at + ahead + 2400]
            assert int(np.argmax(np.correlate(sound, piece, "valid"))) == ahead
        assert rms(sound[:960] - heard[at:at + 960]) < 0.1 * rms(heard[at:at + 960])  # settled from the start


@pytest.mark.parametrize("name, output", [("in.webm", ".webm"), ("in.mkv", ".mkv")])
def test_copied_opus_that_starts_after_the_picture_keeps_its_place_in_matroska(tmp_path, name, output):
    """Copied Opus that starts after the picture (0.3 s in), the whole file or a segment starting
    before its sound: its first packet, at 294.5 ms, and its pre-skip, 6.5 ms, were each rounded up
    to the millisecond, and the whole sound was heard at 302 ms, where the input plays it at 301:
    48 samples late."""
    src = make_sound_video(tmp_path / name, "libopus", delay=0.3)
    begins, heard, rate = decoded_sound(src)  # the input as players play it
    out = tmp_path / f"out{output}"
    for start in (None, 0.1):
        stylize(src, out, start=start)
        with av.open(str(out)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"  # copied
        placed, sound, _ = decoded_sound(out)
        assert placed == begins - first_kept(src, start or 0)
        piece = heard[RATE // 4:RATE // 4 + 2400]
        assert int(np.argmax(np.correlate(sound, piece, "valid"))) == RATE // 4


def test_copied_sound_of_a_segment_starting_on_a_packet_has_only_the_packet_before_as_lead_in(tmp_path):
    """A segment whose first frame lies on a packet's first sample (0.32 s: frame 8 at 25
    frames/s, AAC packet 15 at 48 kHz) has no packet across it: the one before it alone goes
    first, the decoder's lead-in, timed below 0; a second one before it would be written for
    nothing."""
    src = make_sound_video(tmp_path / "in.mp4", "aac", fps=25)
    out = tmp_path / "out.mp4"
    stylize(src, out, start=0.31)
    assert first_kept(src, 0.31) == Fraction(8, 25)  # the frame at 0.32
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        ahead = [packet.pts * packet.time_base for packet in container.demux(stream)
                 if packet.pts is not None and packet.pts < 0]
    assert ahead == [-Fraction(1024, RATE)]
    origin = round(Fraction(8, 25) * RATE)
    begins, sound, rate = decoded_sound(out)
    placed = round(begins * rate)
    assert placed == 0 and placed + sound_position(sound, SIGNAL, origin + RATE // 4) == RATE // 4


@pytest.mark.parametrize("name, codec, output", [("in.flv", "aac", ".mp4"), ("in.webm", "libopus", ".mp4"),
                                                  ("in.mkv", "pcm_s16le", ".mov"), ("in.mkv", "pcm_s24le", ".mov")])
def test_copied_sound_timed_in_milliseconds_is_timed_to_the_sample(tmp_path, name, codec, output):
    """FLV and WebM time each packet to the millisecond: AAC's 1024 samples (21.33 ms) came 21 or
    22 ms apart, and copied so into an MP4, whose sample table keeps each packet's own length,
    the track said 1008 and 1056 samples a packet, and a segment's sound began up to 24 samples
    (half a millisecond) off where the input plays it against the start's frame; Opus's first
    packet, at -6.5 ms, likewise. (PCM's packets say their length in bytes, not in Matroska's
    rounded durations; 24-bit PCM's in 3 bytes a sample, where it decodes to 4.)"""
    src = make_sound_video(tmp_path / name, codec)
    begins, heard, rate = decoded_sound(src)  # the input as players play it
    with av.open(str(src)) as container:
        last_packet = [p for p in container.demux(container.streams.audio[0]) if p.pts is not None][-1]
    out = tmp_path / f"out{output}"
    for start in (None, 0.5):
        stylize(src, out, start=start)
        with av.open(str(out)) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.name == {"libopus": "opus"}.get(codec, codec)  # copied
            packets = [p for p in container.demux(stream) if p.pts is not None]
        assert len(set(np.diff([p.pts for p in packets]))) == 1  # every packet as long as it is
        # the last too, which nothing follows to say where it ends (it lasted 21 samples, its
        # duration in milliseconds taken for samples, and the sound ended 21 ms short)
        ends = packets[-1].duration * packets[-1].time_base
        assert abs(ends - last_packet.duration * last_packet.time_base) <= last_packet.time_base
    at = round((first_kept(src, 0.5) - begins) * rate) + RATE // 4  # what is heard a quarter second in
    placed, sound, _ = decoded_sound(out)
    assert round(placed * rate) + int(np.argmax(np.correlate(sound, heard[at:at + 2400], "valid"))) == RATE // 4


@pytest.mark.parametrize("layout", ["mono", "7.1"])
def test_a_gap_in_a_reencoded_track_stays_silent_and_the_sound_after_it_in_place(tmp_path, layout):
    """The encoder takes samples in frames of its own size, timed by the first sample of each:
    the frame across a gap carried the sound after the gap into it (21 ms of it for Opus, Opus's
    frame less what was left before the gap). The gap is filled with silence instead. (7.1: PyAV
    18 mishandles planar frames of 8 channels; the segment's cut frame and the silence are made
    without NumPy.)"""
    src = make_sound_video(tmp_path / "in.mp4", "aac", layout=layout, gap=(0.5, 0.6))
    out = tmp_path / "out.webm"
    stylize(src, out, start=0.25)
    # the input's frames of 1024 samples that begin in [0.5, 0.6) s were left out
    gap_from, gap_to = 24576 - RATE // 4, 28672 - RATE // 4  # on the output's clock
    begins, sound, rate = decoded_sound(out)
    assert begins == 0
    assert rms(sound[gap_from + 200:gap_to - 200]) < 0.05 * rms(SIGNAL)
    assert sound_position(sound, SIGNAL, gap_to + RATE // 4) == gap_to


@pytest.mark.parametrize("codec, name, output", [("pcm_s16le", "in.mkv", ".webm"), ("aac", "in.mkv", ".webm"),
                                                  ("aac", "in.mkv", ".mp4"), ("mp3", "in.mp4", ".webm"),
                                                  ("mp3", "in.mkv", ".webm"), ("libopus", "in.mkv", ".mov")])
def test_sound_of_a_segment_read_from_a_keyframe_starts_with_the_picture(tmp_path, codec, name, output):
    """A keyframe at the start: Matroska's demuxer drops the sound before the keyframe it seeks
    to, so the sound began with the packet after the start (13 ms late for PCM, 34 ms for AAC
    into .webm, 12 ms copied into .mp4); and a decoder given only the packet across the start
    did not settle by it (MP3's first frame came out silent). Read from a keyframe before the
    start (0.7 s), the first packet's time rounded to the millisecond put the cut up to 24
    samples off. Copied (AAC into .mp4), packets keep Matroska's millisecond: within one. The
    decoder's first frame after the seek lacks the encoder's priming (MP3's 1105 samples, Opus's
    312: 47 and 648 samples left), so it is not a whole frame of its own size after the track's
    start: taken for one, MP3's cut was up to 18 samples off and Opus's (into .mov) 48."""
    src = make_sound_video(tmp_path / name, codec, gop=12)  # keyframes at 0, 0.5, 1 and 1.5 s
    out = tmp_path / f"out{output}"
    for start in (0.5, 0.7):
        stylize(src, out, start=start)
        origin = round(first_kept(src, start) * RATE)
        begins, sound, rate = decoded_sound(out)
        placed = round(begins * rate)  # the output's sample at sound[0]
        off = placed + sound_position(sound, SIGNAL, origin + RATE // 4) - RATE // 4
        slack = RATE // 1000 if output == ".mp4" else 0
        assert abs(off) <= slack and abs(placed) <= slack and rms(sound[:1024]) > 0.8 * rms(SIGNAL[origin:origin + 1024])


@pytest.mark.parametrize("delay", [0.3, -0.25])
@pytest.mark.parametrize("output", [".webm", ".mp4"])
def test_reencoded_sound_that_starts_apart_from_the_picture_keeps_its_offset_to_the_sample(tmp_path, delay, output):
    """Sound that starts 0.3 s after the picture (or the picture 0.25 s after the sound), the
    whole file or a segment: re-encoded, each sample keeps its distance from the first frame.
    The track began where its sound did, and .webm's times in whole milliseconds put the first
    Opus packet, and all the sound after it, 1 ms late; silence from the output's start leaves
    nothing to round."""
    src = make_sound_video(tmp_path / "in.mkv", "pcm_s16le", delay=delay)
    times = frame_times(src)
    out = tmp_path / f"out{output}"
    for start in (None, 0.1, 0.5):
        stylize(src, out, start=start)
        first = times[0] if start is None else min(t for t in times if t >= times[0] + Fraction(str(start)))
        begins, sound, rate = decoded_sound(out)
        placed = round(begins * rate) - round(frame_times(out)[0] * rate)  # sound[0], from the first frame
        # the input's sample RATE (1 s into the sound) is max(0, delay) + 1 s - first from the first frame
        assert placed + sound_position(sound, SIGNAL, RATE) == round((max(0, Fraction(str(delay))) + 1 - first) * RATE)


@pytest.mark.parametrize("output", [".mp4", ".mov"])
def test_a_picture_that_starts_after_the_sound_between_milliseconds_keeps_its_offset_in_mp4(tmp_path, output):
    """The picture two frames (1/12 s) after the sound: MP4's edit list, which starts the picture late, counted
    in FFmpeg's default movie time scale of milliseconds, put it 16 samples off the sound (31 for 1/24 s)."""
    src = make_sound_video(tmp_path / "in.avi", "pcm_s16le", delay=-Fraction(1, 24))
    first = frame_times(src)[0]
    assert (first * 1000).denominator != 1  # no whole millisecond (2/24 s)
    out = tmp_path / f"out{output}"
    stylize(src, out)
    begins, sound, rate = decoded_sound(out)
    placed = round(begins * rate) - round(frame_times(out)[0] * rate)  # sound[0], from the first frame
    assert placed + sound_position(sound, SIGNAL, RATE) == round((1 - first) * RATE)


@contextlib.contextmanager
def _picture_written(src, out):
    """An encoder for ``out`` that holds ``src``'s whole picture; the test writes the sound, and
    the file is finished after the block."""
    with VideoDecoder(src) as decoder:
        encoder = VideoEncoder(out, decoder.info, EncodeConfig(crf=30, preset="ultrafast"))
        for item in decoder.read({}):
            if isinstance(item, DecodedFrame):
                encoder.write(item.image, item.pts, item.duration)
        yield encoder
        encoder.finish()


def heard_at(path, signal: np.ndarray, at: int) -> Fraction:
    """Where (seconds from the first frame) a player hears ``signal``'s 48 kHz sample ``at`` in
    ``path``'s first audio track, whatever rate each stretch of the track has: each run of frames
    at one rate is searched for the piece sampled at that rate, and the best match taken."""
    runs = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = av.AudioResampler(format="flt").resample(frame)[0].to_ndarray().reshape(-1)
            if runs and runs[-1][0] == frame.sample_rate:
                runs[-1][2].append(samples)
            else:
                runs.append((frame.sample_rate, frame.pts * frame.time_base, [samples]))
    best = None
    for rate, begins, pieces in runs:
        sound = np.concatenate(pieces)
        piece = np.interp(at / RATE + np.arange(2400) / rate, np.arange(len(signal)) / RATE, signal)
        if len(sound) < len(piece):
            continue
        match = np.correlate(sound, piece, "valid")
        found = int(np.argmax(match))
        score = match[found] / (np.linalg.norm(piece) * np.linalg.norm(sound[found:found + 2400]))
        if best is None or score > best[0]:
            best = (score, begins + Fraction(found, rate))
    return best[1] - frame_times(path)[0]


def test_sound_whose_rate_changes_midway_is_reencoded_in_place(tmp_path):
    """A broadcast recording whose MP2 sound goes from 48 to 44.1 kHz at an ad break, into .webm
    (Opus): PyAV's encoder takes frames in the setup of the first only ("Frame does not match
    AudioResampler setup"), and the whole output was lost. The sound after the change is
    resampled to the track's rate and heard where the input has it, to the sample."""
    src, signal = make_rate_change_video(tmp_path / "in.ts", rates=(48000, 44100))
    out = tmp_path / "out.webm"
    stylize(src, out)
    begins, sound, rate = decoded_sound(out)
    assert rate == RATE and begins == 0
    for at in (RATE // 4, 3 * RATE // 4, RATE + RATE // 10, RATE + RATE // 2, 2 * RATE - RATE // 10):
        assert abs(heard_at(out, signal, at) - heard_at(src, signal, at)) * RATE <= 2
    assert abs(len(sound) / RATE - 0.96 - 40 * 1152 / 44100) < 0.05  # played through to the end


def test_sound_after_a_change_back_is_in_place_though_the_decoder_overlaps_it(tmp_path):
    """FFmpeg's MP2 decoder gives the first packet after a change of rate at the old rate: from
    44.1 back to 48 kHz that frame runs past the next one's time (102 samples at 48 kHz). The
    encoder packs frames one after another, so all the sound after it was heard 2.1 ms late; the
    overlap is cut instead."""
    src, signal = make_rate_change_video(tmp_path / "in.ts")  # 48, 44.1, then 48 kHz again
    out = tmp_path / "out.webm"
    stylize(src, out)
    for at in (RATE // 2, int(2.5 * RATE)):  # in the first stretch, and in the last
        assert abs(heard_at(out, signal, at) - heard_at(src, signal, at)) * RATE <= 2


def test_reencoded_sound_is_in_place_and_whole_across_changes_of_rate_there_and_back(tmp_path):
    """48 kHz, then 44.1, 48 and 44.1 again, a second each, frame after frame into Opus: each
    stretch is heard where it was, and nothing is lost at a change or at the end. What the
    converter for a stretch still holds (its resampler's delay: 17 samples) is written before the
    frames after it, and at the end; dropped, a gap of silence came in its place, and the end
    came that much short."""
    src = make_sound_video(tmp_path / "in.mkv", "pcm_s16le", seconds=4.0)
    signal = sound_signal(4 * RATE)
    out = tmp_path / "out.webm"
    with _picture_written(src, out) as encoder:
        for second, rate in enumerate((48000, 44100, 48000, 44100)):
            for start in range(0, rate, 1000):
                at = second + np.arange(start, min(rate, start + 1000)) / rate
                samples = np.interp(at, np.arange(len(signal)) / RATE, signal).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, second * rate + start, Fraction(1, rate)
                encoder.write_audio(AudioItem(track=0, frame=frame))
    begins, sound, rate = decoded_sound(out)
    assert rate == RATE and begins == 0 and len(sound) == 4 * RATE
    for at in (RATE // 2, RATE + RATE // 2, 2 * RATE + RATE // 10, 2 * RATE + RATE // 2, 3 * RATE + RATE // 2):
        assert sound_position(sound, signal, at) == at
    for change in (RATE, 2 * RATE, 3 * RATE):  # no silence in the sound across the change
        around = slice(change - 32, change + 32)
        assert rms(sound[around] - signal[around]) < 0.35 * rms(signal[around])


def test_reencoded_sound_timed_in_milliseconds_is_written_whole_and_in_place(tmp_path):
    """Frames given to the encoder in a time base coarser than a sample (a Matroska track's
    milliseconds, as PyAV decodes it, through the Python API): each frame's rounded time is
    where the one before ended. Counted in milliseconds, each rounding was taken for a gap or an
    overlap: 44.1 kHz frames of 1024 samples (23.22 ms) got a millisecond of silence every few
    frames, and the sound was 10 ms late after a second."""
    rate = 44100
    src = make_sound_video(tmp_path / "in.mkv", "pcm_s16le")
    samples = np.interp(np.arange(2 * rate) / rate, np.arange(len(SIGNAL)) / RATE, SIGNAL).astype(np.float32)
    out = tmp_path / "out.webm"
    with _picture_written(src, out) as encoder:
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024].copy(), format="flt", layout="mono")
            frame.sample_rate, frame.time_base = rate, Fraction(1, 1000)
            frame.pts = round(Fraction(start, rate) * 1000)
            encoder.write_audio(AudioItem(track=0, frame=frame))
    begins, sound, out_rate = decoded_sound(out)
    assert out_rate == RATE and begins == 0 and len(sound) == 2 * RATE
    for at in (RATE // 4, RATE, 3 * RATE // 2):
        assert sound_position(sound, SIGNAL, at) == at


def test_sound_before_a_segment_is_read_from_the_packet_on_the_pre_roll_and_none_ends_empty(tmp_path):
    """8192 Hz PCM in packets of 1024 samples (1/8 s): a segment from 0.5 s has a packet that
    begins exactly AUDIO_PREROLL (1/4 s) before its first frame, and one that ends exactly on it.
    The look back for a re-encoded track's sound starts with the packet on the pre-roll, not the
    one before it (decoded for nothing) nor the one after (short of the pre-roll the decoder is
    given to settle); the packet that ends on the first frame leaves nothing of itself, no frame
    of no samples."""
    src = make_sound_video(tmp_path / "in.mkv", "pcm_s16le", rate=8192)
    with VideoDecoder(src, start=0.5) as decoder:
        assert decoder._origin - VideoDecoder.AUDIO_PREROLL == Fraction(1, 4)
        before = decoder._audio_before_start({0})
    assert [packet.pts * packet.time_base for _, packet in before] == [Fraction(1, 4), Fraction(3, 8)]
    with VideoDecoder(src, start=0.5) as decoder:
        frames = [item.frame for item in decoder.read({0: "decode"}) if isinstance(item, AudioItem)]
    assert (frames[0].pts, frames[0].samples) == (0, 1024) and all(frame.samples for frame in frames)


@pytest.mark.parametrize("fmt, layout", [("fltp", "7.1"), ("s16p", "5.1"), ("u8p", "stereo"), ("u8", "stereo")])
def test_the_silence_for_a_gap_is_silent_in_every_channel(fmt, layout):
    """The silence that fills a gap is silent in each plane of planar sound (one a channel), up
    to 8 channels, unsigned 8-bit as its middle (0x80): a new frame's memory holds whatever was
    there before, which was heard in the channels left unfilled."""
    like = av.AudioFrame(format=fmt, layout=layout, samples=16)
    like.sample_rate, like.time_base = 44100, Fraction(1, 44100)
    frame = silent_audio_frame(like, 1000, 7)
    assert (frame.samples, frame.sample_rate, frame.pts, frame.time_base) == (1000, 44100, 7, Fraction(1, 44100))
    planes, size = (len(frame.layout.channels), 1000 * frame.format.bytes) if frame.format.is_planar else \
        (1, 1000 * frame.format.bytes * len(frame.layout.channels))
    silence = {0x80} if fmt.startswith("u8") else {0}
    assert [set(bytes(plane)[:size]) for plane in frame.planes[:planes]] == [silence] * planes


@pytest.mark.parametrize("codec", ["pcm_s24le", "pcm_s16le"])
def test_copied_24_bit_pcm_timed_in_milliseconds_keeps_its_length(tmp_path, codec):
    """24-bit PCM is stored in 3 bytes a sample and decoded to 4 (s32): its packets' samples,
    counted by the decoded format's bytes, came to 768 where they hold 1024, and the .mov's
    copied track said it lasted 1.996 s of the 2 s it holds."""
    src = make_sound_video(tmp_path / "in.mkv", codec)
    out = tmp_path / "out.mov"
    stylize(src, out)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == codec  # copied
        assert stream.duration * stream.time_base == 2
        times = [p.pts for p in container.demux(stream) if p.pts is not None]
    assert set(np.diff(times)) == {1024}
