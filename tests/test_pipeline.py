"""The streaming pipeline: correctness of the output, batching, error handling, threads, the flow hook."""
from __future__ import annotations

import gc
import io
import os
import sys
import threading
import time
import weakref
from fractions import Fraction

import numpy as np
import pytest
import torch

from videos import audio_packets, frame_times, make_video, probe, psnr, read_frames
from vidstyle import pipeline
from vidstyle.config import EncodeConfig, StylizeConfig
from vidstyle.errors import VidstyleError
from vidstyle.io import VideoDecoder
from vidstyle.io import decode as decode_module
from vidstyle.io.encode import VideoEncoder
from vidstyle.models.transformer import TransformerNet
from vidstyle.models.weights import save_model
from vidstyle.pipeline import StylizeResult, stylize_video
from vidstyle.stylizer import Stylizer


@pytest.fixture(scope="module")
def model() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet((8, 16, 16), num_residual=1).eval()


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "random.safetensors"
    save_model(path, model, styles=[{"name": "random"}])
    return path


@pytest.fixture
def stylizer(model) -> Stylizer:
    return Stylizer.from_model(model, device="cpu", channels_last=False)


def pipeline_threads() -> list[threading.Thread]:
    """The threads a run started that are still there. Not the stabilizer's blend pool: made once
    per process and kept, idle, for the next run (a test that blended in bands before, in the same
    pytest worker, left its threads there, and every check of this list failed)."""
    return [t for t in threading.enumerate()
            if t.name.startswith("vidstyle-") and not t.name.startswith("vidstyle-blend")]


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_output_is_the_network_applied_to_every_frame(tmp_path, model_file, model):
    src = make_video(tmp_path / "in.mp4", frames=14, size=(96, 64), vfr=True, audio=True)
    out = tmp_path / "out.mp4"
    result = stylize_video(src, out, style=str(model_file), device="cpu", batch=3, crf=8, pix_fmt="yuv444p",
                           temporal="off", progress=False)
    assert isinstance(result, StylizeResult) and result.frames == 14 and result.output == out
    assert set(result.stage_seconds) == {"decode", "stylize", "encode"}
    assert all(v >= 0 for v in result.stage_seconds.values()) and result.stage_seconds["stylize"] > 0
    assert result.audio == {0: "copy"}
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.frames, b.codec, b.pix_fmt) == (96, 64, 14, "h264", "yuv444p")
    # Variable frame rate kept exactly, hence the same average rate (frames / time span); PyAV's
    # ``average_rate`` of a VFR mp4 is a demuxer heuristic that depends on the B-frame pattern.
    assert frame_times(out) == frame_times(src)
    assert abs(b.duration - a.duration) < 1e-6
    assert abs(b.audio[0].duration - b.duration) < 1 / 24
    assert audio_packets(out) == audio_packets(src)
    with VideoDecoder(src) as dec:
        decoded = np.stack([f.image for f in dec.read()])
    expected = Stylizer.from_model(model, device="cpu", channels_last=False).stylize_batch(decoded)
    got = read_frames(out)
    assert psnr(got, decoded) < 20  # the network changed the pixels
    assert psnr(got, expected) >= 35  # ... and the output is exactly that, within codec tolerance

    line = result.summary()
    assert "\n" not in line and "14 frames" in line and str(out) in line and "fps" in line
    from vidstyle.device import resolve_precision

    auto = "bf16" if resolve_precision("auto", torch.device("cpu"), inference=True) else "fp32"
    backend = "torch" if auto == "bf16" else "onnx"  # 14 frames: far below the auto-compile length
    assert f"[cpu {auto} {backend}, batch 3]" in line


def test_stabilizer_is_on_by_default(tmp_path, model_file):
    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64))
    result = stylize_video(src, tmp_path / "out.mp4", style=str(model_file), device="cpu", progress=False)
    assert StylizeConfig().temporal == "flow"
    assert set(result.stage_seconds) == {"decode", "flow", "stylize", "stabilize", "encode"}


def test_default_encoding_and_keyword_options(tmp_path, stylizer):
    src = make_video(tmp_path / "in.mp4", frames=5, size=(64, 48))
    out = tmp_path / "out.mp4"
    result = stylize_video(src, out, style=stylizer, config=StylizeConfig(batch=4), encode=EncodeConfig(),
                           progress=False, batch=2, no_audio=True)
    info = probe(out)
    assert result.pix_fmt == "yuv420p" and info.codec == "h264" and info.frames == 5
    assert info.average_rate == 24 and frame_times(out) == [Fraction(i, 24) for i in range(5)]
    with pytest.raises(TypeError, match="unknown option"):
        stylize_video(src, tmp_path / "x.mp4", style=stylizer, btach=2)
    with pytest.raises(VidstyleError, match="batch must be a whole number from 1 to 64"):
        stylize_video(src, tmp_path / "x.mp4", style=stylizer, batch=0)


def test_configs_of_the_wrong_kind_are_named_and_the_package_exports_them(tmp_path, stylizer):
    import vidstyle

    assert (vidstyle.StylizeConfig, vidstyle.EncodeConfig, vidstyle.StylizeResult) == (
        StylizeConfig, EncodeConfig, StylizeResult)
    from vidstyle.errors import BadValueError
    from vidstyle.flow.stabilizer import FlowStabilizer
    from vidstyle.models.zoo import Styles

    assert (vidstyle.FlowStabilizer, vidstyle.Styles, vidstyle.BadValueError) == (FlowStabilizer, Styles, BadValueError)
    assert all(hasattr(vidstyle, name) for name in vidstyle.__all__)
    src = make_video(tmp_path / "in.mp4", frames=2, size=(32, 24))
    with pytest.raises(TypeError, match="config= as a vidstyle.StylizeConfig .*got dict"):
        stylize_video(src, tmp_path / "x.mp4", style=stylizer, config={"batch": 2})
    with pytest.raises(TypeError, match="encode= as a vidstyle.EncodeConfig .*got dict"):
        stylize_video(src, tmp_path / "x.mp4", style=stylizer, encode={"crf": 20})


def test_numpy_numbers_reach_the_stylizer(tmp_path, model_file):
    # the option check took them, then the Stylizer refused "got np.int64(32)"
    src = make_video(tmp_path / "in.mp4", frames=2, size=(64, 48))
    result = stylize_video(src, tmp_path / "out.mp4", style=model_file, max_side=np.int64(32),
                           scale=np.float32(0.5), temporal="off", progress=False)
    assert result.frames == 2 and probe(tmp_path / "out.mp4").width == 64
    # options are stored as Python values: np.float32 reached Fraction() in the decoder
    src = make_video(tmp_path / "in3.mp4", frames=3, size=(64, 48), audio=True)
    result = stylize_video(src, tmp_path / "part.mp4", style=model_file, start=np.float32(1 / 24), audio=np.True_,
                           temporal="off", progress=False)
    assert result.frames == 2 and probe(tmp_path / "part.mp4").audio


def test_stylize_image_lists_only_its_own_options_and_takes_progress(tmp_path, stylizer):
    from vidstyle.io.images import write_image

    image = tmp_path / "p.png"
    write_image(image, np.full((16, 16, 3), 120, np.uint8))
    result = pipeline.stylize_image(image, tmp_path / "o.png", style=stylizer, progress=False)
    assert result.still_image and (tmp_path / "o.png").exists()
    with pytest.raises(TypeError, match=r"stylize_image\(\) got unknown option\(s\) colour; valid: ") as info:
        pipeline.stylize_image(image, tmp_path / "o2.png", style=stylizer, colour=1)
    valid = set(str(info.value).split("valid: ")[1].split(", "))
    assert "batch" in valid and "max_side" in valid  # refused encoder options are not offered
    assert not valid & {"crf", "codec", "preset", "pix_fmt", "audio", "no_audio"}


@pytest.mark.parametrize("batch", [1, 4])
def test_batch_size_does_not_change_the_result(tmp_path, stylizer, batch):
    src = make_video(tmp_path / "in.mp4", frames=7, size=(64, 48))  # 7: not a multiple of 4
    out = tmp_path / "out.mp4"
    stylize_video(src, out, style=stylizer, batch=batch, crf=8, pix_fmt="yuv444p", temporal="off", progress=False)
    with VideoDecoder(src) as dec:
        expected = stylizer.stylize_batch(np.stack([f.image for f in dec.read()]))
    assert psnr(read_frames(out), expected) >= 35


def test_segment_and_max_side(tmp_path, model):
    src = make_video(tmp_path / "in.mp4", frames=36, size=(128, 96), fps=24, audio=True)
    out = tmp_path / "out.mp4"
    small = Stylizer.from_model(model, device="cpu", channels_last=False, max_side=64)
    result = stylize_video(src, out, style=small, start=0.5, duration=0.5, progress=False)
    info = probe(out)
    assert result.frames == info.frames == 12 and (info.width, info.height) == (128, 96)
    assert frame_times(out) == [Fraction(i, 24) for i in range(12)]
    assert abs(info.audio[0].duration - 0.5) < 1 / 24


class FailingStylizer:
    """Raises on its ``fail_on``-th call, like a network running out of memory."""

    def __init__(self, fail_on: int = 2):
        self.calls, self.fail_on = 0, fail_on

    def stylize_batch(self, images):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("network exploded")
        return np.asarray(images)[..., ::-1].copy()


def test_a_failing_stage_stops_everything_and_raises_once(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=40, size=(64, 48), audio=True)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    failing = FailingStylizer()
    with pytest.raises(RuntimeError, match="network exploded") as err:
        stylize_video(src, out, style=failing, batch=1, queue_size=2, overwrite=True, progress=False)
    assert any("stylize stage" in note for note in getattr(err.value, "__notes__", []))
    assert failing.calls == 2  # nothing ran after the failure
    assert pipeline_threads() == []
    assert out.read_bytes() == b"precious" and leftovers(tmp_path) == []


def test_a_failing_encoder_stops_everything(tmp_path, stylizer, monkeypatch):
    src = make_video(tmp_path / "in.mp4", frames=30, size=(64, 48))
    calls = {"n": 0}
    original = VideoEncoder.write

    def write(self, image, pts, duration=0, alpha=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise VidstyleError("disk full")
        original(self, image, pts, duration)

    monkeypatch.setattr(VideoEncoder, "write", write)
    with pytest.raises(VidstyleError, match="^disk full$"):
        stylize_video(src, tmp_path / "out.mp4", style=stylizer, batch=2, queue_size=2, progress=False)
    assert pipeline_threads() == [] and not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


def test_corrupt_data_mid_stream_stops_everything(tmp_path, stylizer, monkeypatch):
    """The decoder fails after a few frames (as FFmpeg does on corrupt data)."""
    import av

    src = make_video(tmp_path / "in.mp4", frames=30, size=(64, 48))
    original = decode_module.VideoDecoder._demux_decode

    def corrupt(self):
        for n, item in enumerate(original(self)):
            if n == 6:
                raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield item

    monkeypatch.setattr(decode_module.VideoDecoder, "_demux_decode", corrupt)
    with pytest.raises(VidstyleError, match="corrupt or truncated"):
        stylize_video(src, tmp_path / "out.mp4", style=stylizer, batch=1, queue_size=2, progress=False)
    assert pipeline_threads() == [] and not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


class ActsAtBatch:
    """A pass-through "network" that calls ``action()`` as its ``n``-th batch comes (a change made
    to the input while the run reads it)."""

    def __init__(self, n: int, action):
        self.n, self.action, self.calls = n, action, 0

    def stylize_batch(self, images):
        self.calls += 1
        if self.calls == self.n:
            self.action()
        return np.asarray(images)


def test_an_input_written_over_while_it_is_read_fails_and_writes_nothing(tmp_path):
    # an input copied over (or cut) in place mid-run: the frames read up to there and after were
    # two files' or fewer than it had, and the run wrote them with exit status 0 and a warning of a
    # "truncated or damaged file?" (review, 54th session: a 720-frame clip cut to 0 bytes gave 170
    # frames). It fails instead, the input as it is now named, and nothing is written.
    src = make_video(tmp_path / "in.mkv", frames=40, size=(160, 90), pattern="noise", crf=23)
    whole = src.read_bytes()

    cut = ActsAtBatch(3, lambda: src.write_bytes(whole[:len(whole) // 3]))  # in place, as cp or a truncation does
    out = tmp_path / "out.mp4"
    with pytest.raises(VidstyleError, match=r"^in.mkv was written over or cut while it was read "
                                            rf"\({len(whole)} bytes, now {len(whole) // 3}\)"):
        stylize_video(src, out, style=cut, batch=1, queue_size=2, progress=False)
    assert not out.exists() and leftovers(tmp_path) == [] and pipeline_threads() == []
    # removed, or another file renamed into its place: the one opened was read whole
    for change in ("removed", "renamed over"):
        src.write_bytes(whole)

        def changes():
            if change == "removed":
                src.unlink()
            else:
                (tmp_path / "other.mkv").write_bytes(whole[:100])
                (tmp_path / "other.mkv").replace(src)

        result = stylize_video(src, out, style=ActsAtBatch(3, changes), batch=1, queue_size=2, progress=False,
                               overwrite=True)
        assert result.frames == 40, change


def test_an_input_written_over_by_a_larger_file_while_it_is_read_fails(tmp_path):
    # a copy of a longer video onto the input mid-run (a render done again to its name) leaves
    # it larger, not shorter: the run wrote the first file's frames and then the second's with
    # exit status 0 and a warning of a "truncated or damaged file?" (15 of 40 frames here)
    src = make_video(tmp_path / "in.mkv", frames=40, size=(160, 90), pattern="noise", crf=23)
    other = make_video(tmp_path / "other.mkv", frames=120, size=(160, 90), pattern="noise", mirror=True,
                       crf=23).read_bytes()
    assert len(other) > src.stat().st_size

    out = tmp_path / "out.mp4"
    with pytest.raises(VidstyleError, match=r"^in.mkv was written over or cut while it was read"):
        stylize_video(src, out, style=ActsAtBatch(3, lambda: src.write_bytes(other)),  # in place, as cp does
                      batch=1, queue_size=2, progress=False)
    assert not out.exists() and leftovers(tmp_path) == [] and pipeline_threads() == []
    # one that grows meanwhile (a recording still being written, appended to) is read as far as it went
    rec = make_video(tmp_path / "rec.ts", frames=40, size=(160, 90), pattern="noise", crf=23)
    first = rec.read_bytes()

    def appends():
        with rec.open("ab") as f:
            f.write(first[:len(first) // 2 // 188 * 188])  # whole TS packets, as a recorder writes

    result = stylize_video(rec, out, style=ActsAtBatch(3, appends), batch=1, queue_size=2, progress=False)
    assert result.frames >= 40


def test_an_input_saved_again_unchanged_or_finished_while_it_is_read_is_read_whole(tmp_path):
    # what was read is still the file's when it is saved again as it was (a sync tool rewriting
    # it in place: the same size, a new time), or when a recording finishes, appending its last
    # part and rewriting its head (Matroska's length and index), not what was in its middle
    src = make_video(tmp_path / "in.mkv", frames=40, size=(160, 90), pattern="noise", crf=23)
    whole = src.read_bytes()
    out = tmp_path / "out.mp4"
    result = stylize_video(src, out, style=ActsAtBatch(3, lambda: src.write_bytes(whole)), batch=1, queue_size=2,
                           progress=False)
    assert result.frames == 40
    rec = make_video(tmp_path / "rec.ts", frames=40, size=(160, 90), pattern="noise", crf=23)
    first = rec.read_bytes()

    def finishes():
        with rec.open("r+b") as f:
            f.seek(0, io.SEEK_END)
            f.write(first[:len(first) // 2 // 188 * 188])  # whole TS packets, as a recorder writes
            f.seek(8)
            f.write(bytes(255 - b for b in first[8:16]))  # its head, long read
    result = stylize_video(rec, out, style=ActsAtBatch(3, finishes), batch=1, queue_size=2, progress=False,
                           overwrite=True)
    assert result.frames >= 40


def test_an_input_cut_while_read_into_numbered_frames_leaves_no_frames(tmp_path):
    # numbered frames are put in place when the encode stage finishes, which the check after the
    # stages came too late for: the run failed "written over or cut" and left the frames written
    src = make_video(tmp_path / "in.mkv", frames=40, size=(160, 90), pattern="noise", crf=23)
    whole = src.read_bytes()

    with pytest.raises(VidstyleError, match=r"^in.mkv was written over or cut while it was read"):
        stylize_video(src, tmp_path / "frames" / "f_%04d.png",
                      style=ActsAtBatch(3, lambda: src.write_bytes(whole[:len(whole) // 3])), batch=1, queue_size=2,
                      progress=False)
    assert not (tmp_path / "frames").exists() and leftovers(tmp_path) == [] and pipeline_threads() == []


def test_really_corrupt_file_fails_cleanly(tmp_path, stylizer):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48))
    data = bytearray(src.read_bytes())
    data[: len(data) // 2] = np.random.default_rng(0).integers(0, 256, len(data) // 2, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(VidstyleError):
        stylize_video(bad, tmp_path / "out.mp4", style=stylizer, progress=False)
    assert pipeline_threads() == [] and not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


def test_queues_are_bounded(tmp_path, monkeypatch):
    """With a slow network, decoding never runs more than the queues' worth ahead of encoding."""
    src = make_video(tmp_path / "in.mp4", frames=40, size=(64, 48))
    decoded = {"n": 0}
    lead = []
    original = decode_module.VideoDecoder.read

    def counting_read(self, *args, **kwargs):
        for item in original(self, *args, **kwargs):
            decoded["n"] += 1
            yield item

    class Slow:
        styled = 0

        def stylize_batch(self, images):
            time.sleep(0.01)
            lead.append(decoded["n"] - self.styled)
            self.styled += len(images)
            return np.asarray(images)

    monkeypatch.setattr(decode_module.VideoDecoder, "read", counting_read)
    # bars="stylize": looking for bars reads sampled frames through the same (counted) decoder class
    stylize_video(src, tmp_path / "out.mp4", style=Slow(), batch=2, queue_size=3, temporal="off", bars="stylize",
                  progress=False)
    # at most: one queue of 3, the batch of 2 being stylized, 1 frame held by the blocked decoder
    assert max(lead) <= 3 + 2 + 1
    assert probe(tmp_path / "out.mp4").frames == 40


def test_audio_stays_bounded_when_the_video_has_few_frames(tmp_path, monkeypatch):
    """A still image over long audio (a song's cover as its video): the audio must neither pile up
    in memory behind the one slow frame nor stall the decoder (the queue is bounded)."""
    import queue as queue_module

    from vidstyle import pipeline as pipeline_module

    src = make_video(tmp_path / "in.mkv", frames=2, fps=1, size=(64, 48), audio=True, audio_seconds=40.0)
    peak = {"audio": 0}

    class Watched(queue_module.Queue):
        def _put(self, item):
            super()._put(item)
            if isinstance(item, decode_module.AudioItem):  # the queue that carries audio, however sized
                peak["audio"] = max(peak["audio"], len(self.queue))

    monkeypatch.setattr(pipeline_module.queue, "Queue", Watched)

    class Slow:
        def stylize_batch(self, images):
            time.sleep(0.5)  # the decoder reaches the end of the audio long before this returns
            return np.asarray(images)

    result = stylize_video(src, tmp_path / "out.mkv", style=Slow(), batch=1, temporal="off", progress=False)
    assert result.frames == 2 and result.audio == {0: "copy"}
    info = probe(tmp_path / "out.mkv")
    assert info.audio[0].packets > 2 * pipeline_module.AUDIO_QUEUE_ITEMS  # more audio than the queue holds
    assert abs(info.audio[0].duration - 40.0) < 0.1
    assert 0 < peak["audio"] <= pipeline_module.AUDIO_QUEUE_ITEMS


class FakeFlowStabilizer:
    """The FlowStabilizer interface: estimate(prev, cur) on inputs, apply(styled, state) in order."""

    instances: list = []

    def __init__(self, strength: float):
        self.strength, self.estimated, self.applied = strength, [], []
        FakeFlowStabilizer.instances.append(self)

    def estimate(self, prev, cur):
        self.estimated.append(threading.current_thread().name)
        return {"prev": int(prev[0, 0, 0]), "cur": int(cur[0, 0, 0]), "diff": float(np.abs(cur.astype(int) - prev).mean())}

    def apply(self, styled, state):
        self.applied.append(state)
        return np.zeros_like(styled) if state is None else np.full_like(styled, 255)


def test_temporal_flow_hook(tmp_path, stylizer, monkeypatch):
    from vidstyle.flow import stabilizer as stabilizer_module

    monkeypatch.setattr(stabilizer_module, "FlowStabilizer", FakeFlowStabilizer)  # where flow_stabilizer finds it
    FakeFlowStabilizer.instances.clear()
    src = make_video(tmp_path / "in.mp4", frames=9, size=(64, 48))
    out = tmp_path / "out.mp4"
    result = stylize_video(src, out, style=stylizer, temporal="flow", temporal_strength=0.7, batch=4, progress=False)
    (stab,) = FakeFlowStabilizer.instances
    assert stab.strength == 0.7
    assert len(stab.estimated) == 8 and set(stab.estimated) == {"vidstyle-flow"}  # its own thread
    assert stab.applied[0] is None and all(s is not None for s in stab.applied[1:]) and len(stab.applied) == 9
    assert all(s["diff"] > 0 for s in stab.applied[1:])  # consecutive, distinct input frames
    frames = read_frames(out)
    assert frames[0].mean() < 10 and frames[1:].mean() > 245  # apply()'s output was encoded, in order
    assert {"flow", "stabilize"} <= set(result.stage_seconds)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("progress,terminal", [(True, True), (False, True), (True, False)])
def test_progress_bar_only_on_a_terminal_when_asked(tmp_path, stylizer, monkeypatch, progress, terminal):
    src = make_video(tmp_path / "in.mp4", frames=6, size=(64, 48))
    stderr = FakeTerminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    stylize_video(src, tmp_path / "out.mp4", style=stylizer, progress=progress)
    shown = stderr.getvalue()
    if progress and terminal:
        assert "/6 [" in shown and "frame/s" in shown  # total known from the container; rate shown
    else:
        assert shown == ""


def test_bad_arguments_fail_before_any_work(tmp_path, stylizer):
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    with pytest.raises(VidstyleError, match="input file not found"):
        stylize_video(tmp_path / "nope.mp4", tmp_path / "o.mp4", style=stylizer)
    with pytest.raises(VidstyleError, match="is the input file"):
        stylize_video(src, src, style=stylizer, overwrite=True)
    with pytest.raises(VidstyleError, match="unknown codec"):
        stylize_video(src, tmp_path / "o.mp4", style=stylizer, codec="divx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_temporal_flow_with_the_real_stabilizer(tmp_path, stylizer):
    src = make_video(tmp_path / "in.mp4", frames=8, size=(96, 64))
    plain, stable = tmp_path / "plain.mp4", tmp_path / "stable.mp4"
    stylize_video(src, plain, style=stylizer, crf=8, pix_fmt="yuv444p", progress=False)
    result = stylize_video(src, stable, style=stylizer, temporal="flow", temporal_strength=0.9, crf=8,
                           pix_fmt="yuv444p", progress=False)
    a, b = read_frames(plain).astype(np.float32), read_frames(stable).astype(np.float32)
    assert result.frames == 8 and a.shape == b.shape
    assert psnr(a[0], b[0]) > 40  # the first frame passes through
    assert np.abs(a[1:] - b[1:]).mean() > 1  # later ones are blended with the previous output
    flicker = lambda v: np.abs(np.diff(v, axis=0)).mean()  # noqa: E731
    assert flicker(b) < flicker(a)


def test_cleanup_after_a_signal_between_creating_and_starting_a_stage_thread():
    # Under load a SIGTERM landed between creating a stage thread and starting it, and the cleanup
    # failed with "cannot join thread before it is started" (exit 1 instead of 143).
    stages = pipeline._Stages(2)
    stages.start("running", lambda: stages.stop.wait(5))
    stages._threads.append(threading.Thread(target=lambda: None))  # created, never started
    stages.join_all()  # must not raise
    assert stages.stop.is_set() and not stages._threads[0].is_alive()


def test_the_first_stage_error_is_the_one_raised_with_its_stage_named():
    """A failing stage stops the others, whose own errors then (a queue closed under them, a
    decoder torn down) say nothing about the cause: the first error is raised, noted with its
    stage, and a VidstyleError (said to the user as it is) gets no note."""
    first_failed = threading.Event()

    def fails_first():
        first_failed.set()
        raise ValueError("the cause")

    def fails_after():
        first_failed.wait(5)
        stages.stop.wait(5)
        raise RuntimeError("a consequence")

    stages = pipeline._Stages(2)
    stages.start("later", fails_after)  # started first, fails second
    stages.start("network", fails_first)
    with pytest.raises(ValueError, match="the cause") as raised:
        stages.wait()
    assert raised.value.__notes__ == ["(raised in the network stage of the vidstyle pipeline)"]
    assert stages._error is None  # not kept (see _Stages.wait)
    stages = pipeline._Stages(2)
    stages.start("encode", lambda: (_ for _ in ()).throw(VidstyleError("disk full")))
    with pytest.raises(VidstyleError, match="disk full") as raised:
        stages.wait()
    assert not getattr(raised.value, "__notes__", None)


def test_default_batch_is_one_only_for_full_resolution_networks_on_the_cpu():
    from types import SimpleNamespace

    from vidstyle.models.transformer import light_net, transformer_net
    from vidstyle.pipeline import default_batch

    assert StylizeConfig().batch is None
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert default_batch(SimpleNamespace(device=cpu, model=transformer_net())) == 1
    assert default_batch(SimpleNamespace(device=cpu, model=light_net())) == 4
    assert default_batch(SimpleNamespace(device=gpu, model=transformer_net())) == 4
    # the light network's batch shrinks as frames grow (caches), following the working size
    light = SimpleNamespace(device=cpu, model=light_net(), max_side=None, scale=None)
    sizes = {(360, 640): 4, (720, 1280): 2, (1080, 1920): 1, (2160, 3840): 1}
    assert {size: default_batch(light, size) for size in sizes} == sizes
    assert default_batch(SimpleNamespace(device=cpu, model=light_net(), max_side=640, scale=None), (2160, 3840)) == 4
    assert default_batch(SimpleNamespace(device=gpu, model=light_net()), (2160, 3840)) == 4
    # ONNX Runtime (fp32 CPUs): one frame a call, at any size
    assert default_batch(SimpleNamespace(device=cpu, model=light_net(), backend="onnx", max_side=None,
                                         scale=None), (360, 640)) == 1
    with pytest.raises(VidstyleError, match="batch must be a whole number from 1 to 64"):
        stylize_video("in.mp4", "out.mp4", style="starry_night", batch=0)


@pytest.fixture
def default_sigterm():
    """SIGTERM's default action for the test: a runner started with SIGTERM ignored passes that
    on, and vidstyle keeps an ignored signal ignored; a user's shell gives the default."""
    import signal

    inherited = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, inherited)


def test_a_second_kill_during_the_clean_up_is_ignored(default_sigterm):
    """The first SIGTERM becomes SystemExit(143); one more while the clean-up runs must not raise
    again (that left stage threads running while the interpreter exited: an abort)."""
    import os
    import signal

    from vidstyle.errors import termination_as_exit

    cleaned = False
    with pytest.raises(SystemExit) as exit_info:
        with termination_as_exit():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler raises here
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # a second kill, in the clean-up
                time.sleep(0.05)
                cleaned = True
    assert exit_info.value.code == 128 + signal.SIGTERM and cleaned
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the block


def test_a_kill_a_library_turned_into_an_error_still_ends_the_command_as_killed(default_sigterm):
    """PyAV makes the SystemExit a kill raises inside FFmpeg's opening of a file an
    InterruptedError, which read as "not a readable video" with status 1: the kill decides."""
    import os
    import signal

    from vidstyle.errors import VidstyleError, termination_as_exit

    with pytest.raises(SystemExit) as exit_info:
        with termination_as_exit():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
            except SystemExit as exc:  # as the library does
                raise InterruptedError(str(exc)) from None
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert isinstance(exit_info.value.__cause__, InterruptedError)
    with pytest.raises(VidstyleError):  # an error without a kill stays itself
        with termination_as_exit():
            raise VidstyleError("not a readable video")


@pytest.mark.parametrize("wrong", ["half size", "float", "count"])
def test_a_stylizer_returning_the_wrong_images_is_named_as_the_cause(tmp_path, wrong):
    class Wrong:
        def stylize_batch(self, images):
            if wrong == "half size":
                return [i[::2, ::2] for i in images]
            if wrong == "float":
                return [i.astype(np.float32) / 255 for i in images]
            return images[:-1] if len(images) > 1 else []

    src = make_video(tmp_path / "in.mp4", frames=6, size=(64, 48))
    with pytest.raises(VidstyleError, match="the stylizer returned"):
        stylize_video(src, tmp_path / "out.mp4", style=Wrong(), temporal="off", bars="stylize", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_progress_function_counts_every_frame_and_can_cancel(tmp_path, stylizer):
    src = make_video(tmp_path / "in.mp4", frames=9, size=(64, 48), audio=True)
    calls = []
    result = stylize_video(src, tmp_path / "out.mp4", style=stylizer, progress=lambda done, total: calls.append(
        (done, total, threading.current_thread().name)))
    assert result.frames == 9
    assert [(d, t) for d, t, _ in calls] == [(i, 9) for i in range(1, 10)]
    assert {name for _, _, name in calls} == {"vidstyle-encode"}  # called from the encoding stage

    class Cancelled(Exception):
        pass

    def cancel_at_4(done, total):
        if done == 4:
            raise Cancelled("user pressed cancel")

    with pytest.raises(Cancelled, match="user pressed cancel"):
        stylize_video(src, tmp_path / "cancelled.mp4", style=stylizer, progress=cancel_at_4)
    assert not (tmp_path / "cancelled.mp4").exists() and leftovers(tmp_path) == []
    assert pipeline_threads() == []


def test_a_failed_run_frees_its_decoder_when_the_caller_drops_the_error(tmp_path, stylizer, monkeypatch):
    """A stage's error came back in a reference cycle (the error, its traceback's frames, the
    stages that kept it), which kept the run's decoder, its FFmpeg threads and frames alive until
    the garbage collector ran: over cancelled runs a service piled up threads (6 more a run here)."""
    import gc
    import weakref

    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48), audio=True)
    decoders = []
    original = decode_module.VideoDecoder.__enter__

    def enter(self):
        decoders.append(weakref.ref(self))
        return original(self)

    monkeypatch.setattr(decode_module.VideoDecoder, "__enter__", enter)

    class Cancelled(Exception):
        pass

    def cancel_at_3(done, total):
        if done == 3:
            raise Cancelled("user pressed cancel")

    gc.collect()
    gc.disable()
    try:
        try:
            stylize_video(src, tmp_path / "out.mp4", style=stylizer, batch=1, progress=cancel_at_3)
        except Cancelled as exc:
            error = weakref.ref(exc)
        assert error() is None  # nothing kept the error once it was dropped
        assert decoders and all(d() is None for d in decoders)
    finally:
        gc.enable()
    assert pipeline_threads() == [] and leftovers(tmp_path) == []


def test_stylize_image_and_files_report_progress_to_a_function(tmp_path, stylizer):
    from vidstyle.io.images import write_image

    image = tmp_path / "p.png"
    write_image(image, np.full((16, 16, 3), 120, np.uint8))
    calls = []
    pipeline.stylize_image(image, tmp_path / "o.png", style=stylizer, progress=lambda *a: calls.append(a))
    assert calls == [(1, 1)]
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    calls.clear()
    outcomes = list(pipeline.stylize_files([src, image], tmp_path / "styled", stylizer,
                                           progress=lambda *a: calls.append(a)))
    assert [type(r).__name__ for _, r in outcomes] == ["StylizeResult", "StylizeResult"]
    assert calls == [(1, 3), (2, 3), (3, 3), (1, 1)]  # each input counted from 1


def test_stylize_config_checks_its_values_when_made():
    for bad, match in ((dict(batch=0), "batch must be a whole number from 1 to 64, got 0"),
                       (dict(batch=2.5), "batch must be"), (dict(queue_size=0), "queue_size must be"),
                       (dict(queue_size=10 ** 12), "queue_size must be a whole number from 1 to 64"),
                       (dict(temporal="yes"), "unknown temporal mode 'yes' \\(use off or flow\\)"),
                       (dict(temporal_strength=7), "temporal_strength must be a number between 0 and 1, got 7"),
                       (dict(temporal_strength="0.5"), "temporal_strength must be"),
                       (dict(bars="crop"), "unknown bars mode 'crop' \\(use keep or stylize\\)")):
        with pytest.raises(VidstyleError, match=match):
            StylizeConfig(**bad)
    config = StylizeConfig(batch=2, temporal_strength=0.0, bars="stylize")
    with pytest.raises(VidstyleError, match="batch must be"):  # dataclasses.replace checks too
        import dataclasses
        dataclasses.replace(config, batch=-1)


# --- the pace note: which stage held the run back -----------------------------------------------

def test_pace_note_names_a_slow_encoder_and_the_preset_that_speeds_it():
    # the H200's 1080p rows (twenty-ninth session): network 13 ms a frame, x264 medium 44
    busy = {"decode": 0.42, "stylize": 1.31, "encode": 4.36}
    note = pipeline.pace_note(busy, 100, EncodeConfig(codec="libx264"))
    assert note.startswith("pace: the encode stage was the slowest, 44 ms a frame against the network's 13")
    assert "--preset veryfast" in note
    # at the same crf veryfast's files are smaller, at lower PSNR (encoder_threading_*_s29.json)
    assert "slightly lower quality for the same --crf" in note and "larger files" not in note
    # already fast: the faster ones still, with their price (a GPU run is x264-bound even at
    # veryfast); at ultrafast none is left; another codec: no x264 preset advice
    fast = pipeline.pace_note(busy, 100, EncodeConfig(codec="libx264", preset="veryfast"))
    assert "--preset superfast or ultrafast encodes faster still, for larger files" in fast
    assert "--preset ultrafast encodes" in pipeline.pace_note(busy, 100, EncodeConfig(codec="libx264",
                                                                                      preset="superfast"))
    assert "--preset" not in pipeline.pace_note(busy, 100, EncodeConfig(codec="libx264", preset="ultrafast"))
    assert "--preset" not in pipeline.pace_note(busy, 100, EncodeConfig(codec="prores_ks", preset=None))
    # VP9 (.webm's codec): its real-time mode, which the fast presets choose
    vp9 = pipeline.pace_note(busy, 100, EncodeConfig(codec="libvpx-vp9"))
    assert "--preset veryfast encodes faster (VP9's real-time mode, about 7x faster than medium" in vp9
    assert "--preset" not in pipeline.pace_note(busy, 100, EncodeConfig(codec="libvpx-vp9", preset="veryfast"))
    # --preset faster already runs the real-time mode: not offered to it as news
    assert "real-time mode" not in pipeline.pace_note(busy, 100, EncodeConfig(codec="libvpx-vp9", preset="faster"))
    assert "--preset veryfast encodes faster (about 2.5x faster than medium" in pipeline.pace_note(
        busy, 100, EncodeConfig(codec="libsvtav1", preset="slow"))


def test_pace_note_names_the_stabilizer_and_is_silent_when_the_network_sets_the_pace():
    assert "--temporal off" in pipeline.pace_note({"stylize": 1.0, "flow": 0.5, "stabilize": 2.0, "encode": 0.3},
                                                  100, EncodeConfig(codec="libx264"))
    # the network the slowest, or another stage not clearly slower than it, or too few frames
    config = EncodeConfig(codec="libx264")
    assert pipeline.pace_note({"decode": 0.5, "stylize": 4.2, "encode": 1.0}, 100, config) == ""
    assert pipeline.pace_note({"stylize": 1.0, "encode": 1.2}, 100, config) == ""
    assert pipeline.pace_note({"stylize": 1.0, "encode": 4.0}, pipeline.PACE_MIN_FRAMES - 1, config) == ""
    assert pipeline.pace_note({}, 100, config) == ""


class DeferredStylizer:
    """Queues each batch and paints it only when its result is asked for, as a :class:`Stylizer`
    on CUDA does (``submit_batch``); logs the order of the two."""

    def __init__(self, inner):
        self.inner, self.log = inner, []

    def stylize_batch(self, images):
        return self.inner.stylize_batch(images)

    def submit_batch(self, images):
        k = sum(1 for what, _ in self.log if what == "submit")
        self.log.append(("submit", k))
        images = [np.array(i) for i in images]  # the caller may reuse its frames once this returns
        stylizer = self

        class Pending:
            overlapped = True

            def result(self):
                stylizer.log.append(("result", k))
                return stylizer.inner.stylize_batch(images)
        return Pending()


@pytest.mark.parametrize("pattern", ["moving", "letterbox-opens"])
def test_a_batch_still_on_the_device_is_passed_on_after_the_next_one_is_queued(tmp_path, stylizer, pattern):
    """On CUDA the stylize stage queues batch k + 1 before it waits for batch k, so one batch's
    upload and the previous one's download overlap the network; the frames come out the same and
    in order, the last batch included (and where the picture reaches into the bars mid-clip)."""
    src = make_video(tmp_path / "in.mp4", frames=24, size=(96, 72), pattern=pattern, crf=0)
    deferred = DeferredStylizer(stylizer)
    options = dict(batch=4, temporal="off", crf=0, pix_fmt="yuv444p", progress=False)
    stylize_video(src, tmp_path / "deferred.mkv", style=deferred, **options)
    stylize_video(src, tmp_path / "direct.mkv", style=stylizer, **options)
    assert np.array_equal(read_frames(tmp_path / "deferred.mkv"), read_frames(tmp_path / "direct.mkv"))
    order = deferred.log
    submitted = [k for what, k in order if what == "submit"]
    assert submitted == list(range(len(submitted))) and len(submitted) >= 5
    assert sorted(k for what, k in order if what == "result") == submitted  # each result taken once
    # batch k is waited for only once batch k + 1 is on its way; the batch where the picture
    # reaches into the bars is painted in two parts, at once
    at_once = {5, 6} if pattern == "letterbox-opens" else set()
    for k in submitted[:-1]:
        if k not in at_once:
            assert order.index(("submit", k + 1)) < order.index(("result", k))
    for k in at_once:
        assert order.index(("result", k)) == order.index(("submit", k)) + 1


def test_submit_batch_off_cuda_is_stylize_batch_done_at_once(stylizer):
    frames = np.stack([np.full((40, 56, 3), 40 * i, np.uint8) + np.arange(56, dtype=np.uint8)[None, :, None]
                       for i in range(3)])
    pending = stylizer.submit_batch(frames)
    assert not pending.overlapped
    assert np.array_equal(pending.result(), stylizer.stylize_batch(frames))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_submit_batch_on_cuda_gives_what_stylize_batch_gives(model):
    st = Stylizer.from_model(model, device="cuda")
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, (3, 64, 96, 3), dtype=np.uint8) for _ in range(4)]
    pending = [st.submit_batch(b) for b in batches]  # all four in flight at once
    yuv = [st.submit_batch(b, yuv420=1) for b in batches]
    assert all(p.overlapped for p in pending + yuv)
    from vidstyle.frames import float_to_yuv420, images_to_tensor
    from vidstyle.io.display import rgb_to_yuv_matrix
    for b, p, q in zip(batches, pending, yuv):
        painted = st.stylize_batch(b)
        assert np.array_equal(p.result(), painted)
        on_cpu = float_to_yuv420(images_to_tensor(painted), rgb_to_yuv_matrix(1)).numpy()
        assert np.abs(q.result().astype(int) - on_cpu).max() <= 1  # float sums may round apart at .5


class YuvAskingStylizer:
    """A CPU :class:`Stylizer` that says, as one on CUDA does, that it hands frames in yuv420p;
    logs what each ``submit_batch`` asked for."""
    hands_yuv420 = True

    def __init__(self, inner):
        self.inner, self.asked = inner, []
        self.choice = inner.choice

    def stylize_batch(self, images):
        return self.inner.stylize_batch(images)

    def submit_batch(self, images, yuv420=None):
        self.asked.append(yuv420)
        return self.inner.submit_batch(images, yuv420=yuv420)


def test_frames_going_straight_to_the_encoder_come_in_yuv420_from_the_network_side(tmp_path, stylizer):
    """Where the network's output goes to the encoder unchanged, the stylizer converts it to
    yuv420p (on CUDA the GPU does: swscale's conversion in the encoder's thread set the pace of
    1080p GPU runs); the video is as near the network's output as the RGB path's."""
    src = make_video(tmp_path / "in.mp4", frames=9, size=(96, 64), audio=True)
    asking = YuvAskingStylizer(stylizer)
    options = dict(batch=4, temporal="off", crf=0, progress=False)
    stylize_video(src, tmp_path / "yuv.mp4", style=asking, **options)
    stylize_video(src, tmp_path / "rgb.mp4", style=stylizer, **options)
    assert asking.asked == [5, 5, 5]  # BT.601 (SWS_CS_ITU601): this small untagged video's matrix
    assert probe(tmp_path / "yuv.mp4").audio and frame_times(tmp_path / "yuv.mp4") == frame_times(src)
    with VideoDecoder(src) as dec:
        painted = stylizer.stylize_batch(np.stack([f.image for f in dec.read()]))
    # the two differ at sharp colour edges (this random network paints colour noise), where the
    # chroma filters do, and 4:2:0 loses much of that noise either way; the GPU's is the nearer
    assert psnr(read_frames(tmp_path / "yuv.mp4"), painted) >= psnr(read_frames(tmp_path / "rgb.mp4"), painted) > 20


@pytest.mark.parametrize("case", ["stabilizer", "png frames", "yuv444p", "odd size", "mask", "bars kept"])
def test_frames_that_are_not_encoded_as_they_come_stay_rgb(tmp_path, stylizer, case):
    import cv2

    size = (95, 64) if case == "odd size" else (96, 72) if case == "bars kept" else (96, 64)
    src = make_video(tmp_path / "in.mp4", frames=5, size=size, codec="libvpx-vp9" if case == "odd size" else None,
                     pattern="letterbox" if case == "bars kept" else "moving", crf=0)
    asking = YuvAskingStylizer(stylizer)
    # .webm: VP9 keeps yuv420p at an odd size (x264 in .mkv would switch to yuv444p)
    output = tmp_path / ("f_%03d.png" if case == "png frames" else "out.webm" if case == "odd size" else "out.mkv")
    options = {}
    if case == "mask":
        cv2.imwrite(str(tmp_path / "matte.png"), np.full((64, 96), 255, np.uint8))
        options["mask"] = str(tmp_path / "matte.png")
    result = stylize_video(src, output, style=asking, batch=4, progress=False,
                           temporal="flow" if case == "stabilizer" else "off",
                           pix_fmt="yuv444p" if case == "yuv444p" else None, **options)
    assert result.frames == 5 and (result.bars if case == "bars kept" else True)
    assert asking.asked and set(asking.asked) == {None}


def test_a_stylizer_subclass_or_wrapper_keeps_its_own_stylize_batch(tmp_path, model):
    """On CUDA the pipeline hands batches to submit_batch; a Stylizer subclass that overrides
    stylize_batch (here a white corner mark), or an object forwarding to a Stylizer through
    __getattr__, must still have its stylize_batch called. Checked on the CPU through the path a
    CUDA Stylizer takes (hands_yuv420 forced on)."""

    class Marked(Stylizer):
        hands_yuv420 = True  # as on CUDA

        def stylize_batch(self, images):
            out = super().stylize_batch(images)
            out[:, :16, :16] = 255
            return out

    class Forwarding:
        hands_yuv420 = True  # says so, but has no submit_batch of its own: the pipeline must not ask

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def stylize_batch(self, images):
            out = self.inner.stylize_batch(images)
            out[:, :16, :16] = 255
            return out

    plain = Stylizer.from_model(model, device="cpu", channels_last=False)
    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64))
    for name, style in (("marked", Marked.from_model(model, device="cpu", channels_last=False)),
                        ("forwarding", Forwarding(plain))):
        stylize_video(src, tmp_path / f"{name}.mkv", style=style, batch=4, temporal="off", crf=0, progress=False)
        assert read_frames(tmp_path / f"{name}.mkv")[:, 2:14, 2:14].min() >= 250, name
    styled = Marked.from_model(model, device="cpu", channels_last=False).submit_batch(
        np.zeros((2, 64, 96, 3), np.uint8), yuv420=1).result()
    assert styled.shape == (2, 96, 96) and styled[:, 2:14, 2:14].min() >= 230  # white in Y: 235


def test_submit_batch_says_what_is_wrong_with_its_yuv_request(stylizer):
    from vidstyle.errors import BadTypeError, BadValueError

    frames = np.zeros((2, 40, 56, 3), np.uint8)
    with pytest.raises(BadTypeError, match="yuv420 is a YUV matrix number"):
        stylizer.submit_batch(frames, yuv420="bt709")
    with pytest.raises(BadValueError, match=r"unknown YUV matrix 3 \(SWS_CS_\*: 1, 4, 5, 7, 9\)"):
        stylizer.submit_batch(frames, yuv420=3)
    with pytest.raises(BadValueError, match="yuv420 needs even frame sizes, got a 56x41 image"):
        stylizer.submit_batch(np.zeros((2, 41, 56, 3), np.uint8), yuv420=1)
    with pytest.raises(BadTypeError, match="expected uint8"):
        stylizer.submit_batch(None)
    assert stylizer.submit_batch(frames, yuv420=1).result().shape == (2, 60, 56)


def _moving_frames(count: int, cut_at: int | None = None) -> list:
    from types import SimpleNamespace

    rng = np.random.default_rng(5)
    base = (rng.random((24, 32, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    other = 255 - base
    return [SimpleNamespace(image=np.ascontiguousarray(np.roll(other if cut_at is not None and t >= cut_at else base,
                                                               3 * t, axis=1)))
            for t in range(count)]


def _run_flow_stage(stabilizer, frames: list, workers: int) -> list:
    import queue as queue_module

    stages = pipeline._Stages(3)
    frames_in, frames_out = queue_module.Queue(), queue_module.Queue()
    for frame in frames:
        frames_in.put(frame)
    frames_in.put(None)
    stages.start("flow", pipeline._flow_stage, stages, stabilizer, frames_in, frames_out, workers)
    stages.wait()  # (the queues are unbounded: the stage never waits for this thread; re-raises its error)
    out = [frames_out.get_nowait() for _ in range(frames_out.qsize())]
    assert out.pop() is None
    return out


@pytest.mark.parametrize("workers", [2, 3])
def test_flow_stage_estimates_pairs_at_once_and_hands_them_on_in_order(workers):
    from vidstyle.flow.stabilizer import FlowStabilizer

    frames = _moving_frames(9, cut_at=5)
    one_by_one = _run_flow_stage(FlowStabilizer(0.8), frames, 1)
    at_once = _run_flow_stage(FlowStabilizer(0.8), frames, workers)
    assert [item[0] for item in at_once] == frames  # every frame, in order
    states = [state for _, state in at_once]
    assert states[0] is None and states[5] is None  # the first frame and the cut
    assert sum(state is not None for state in states) == 7
    for (_, a), (_, b) in zip(one_by_one, at_once):
        assert (a is None) == (b is None)
        if a is not None:
            assert np.array_equal(a.flow, b.flow) and np.array_equal(a.weight, b.weight)
            assert a.photometric_error == b.photometric_error


def test_flow_stage_runs_its_workers_at_once_and_passes_on_their_errors():
    from vidstyle.flow.stabilizer import FlowStabilizer

    class Watched(FlowStabilizer):
        def __init__(self):
            super().__init__(0.8)
            self.running = self.most = 0
            self.lock = threading.Lock()
            self.three_at_once = threading.Event()

        def estimate(self, prev, cur):
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                if self.running == 3:
                    self.three_at_once.set()
            # each waits for the others, however slowly a loaded machine starts them (a fixed
            # sleep made this a timing assertion); one at a time, no call would see three
            self.three_at_once.wait(timeout=10)
            try:
                if cur is frames[6].image:
                    raise ValueError("pair 6 failed")
                return super().estimate(prev, cur)
            finally:
                with self.lock:
                    self.running -= 1

    frames = _moving_frames(9)
    watched = Watched()
    with pytest.raises(ValueError, match="pair 6 failed"):
        _run_flow_stage(watched, frames, 3)
    assert watched.most == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("vidstyle-flow")]


def test_stylize_video_with_flow_workers_writes_the_same_video(tmp_path, stylizer, monkeypatch):
    import vidstyle.flow.stabilizer as stabilizer_module

    src = make_video(tmp_path / "in.mp4", frames=10, size=(96, 64))
    outputs = {}
    for workers in (1, 4):
        monkeypatch.setattr(stabilizer_module, "flow_workers", lambda cores=None, n=workers: n)
        out = tmp_path / f"out{workers}.mp4"
        # crf 0: lossless, so that x264's own run-to-run differences (seen at crf 8 after other
        # tests had run in the process) do not count
        stylize_video(src, out, style=stylizer, temporal="flow", temporal_strength=0.9, batch=2, crf=0,
                      pix_fmt="yuv444p", progress=False)
        outputs[workers] = read_frames(out)
    assert np.array_equal(outputs[1], outputs[4])
    assert pipeline_threads() == []


def _on_device_path_on_the_cpu(monkeypatch) -> None:
    """What a Stylizer on CUDA does, done on the CPU: submit_batch's device path (its CUDA
    streams and page-locked copies aside), stabilizer and YUV included."""
    monkeypatch.setattr(Stylizer, "_on_device_path", property(lambda self: True))


def test_submit_batch_applies_the_stabilizer_in_frame_order(stylizer, monkeypatch):
    from vidstyle.flow.stabilizer import FlowStabilizer

    frames = [f.image for f in _moving_frames(7, cut_at=4)]
    host, batched = FlowStabilizer(0.9), FlowStabilizer(0.9)
    states = [None] + [host.estimate(frames[t - 1], frames[t]) for t in range(1, 7)]
    expected = [host.apply(image, state) for image, state in zip(stylizer.stylize_batch(frames), states)]
    got = np.concatenate([batched_stylize.result() for batched_stylize in (
        stylizer.submit_batch(frames[:3], stabilizer=batched, states=states[:3]),
        stylizer.submit_batch(np.stack(frames[3:]), stabilizer=batched, states=states[3:]))])
    assert np.array_equal(got, np.stack(expected))
    assert np.abs(got[1:4].astype(int) - stylizer.stylize_batch(frames[1:4])).mean() > 0.3  # it blended
    _on_device_path_on_the_cpu(monkeypatch)
    on_device = FlowStabilizer(0.9)
    moved = np.concatenate([stylizer.submit_batch(frames[:3], stabilizer=on_device, states=states[:3]).result(),
                            stylizer.submit_batch(frames[3:], stabilizer=on_device, states=states[3:]).result()])
    assert np.abs(moved.astype(int) - got).max() <= 4 and np.abs(moved.astype(int) - got).mean() < 0.2
    yuv = stylizer.submit_batch(frames[:2], yuv420=1, stabilizer=FlowStabilizer(0.9), states=states[:2]).result()
    assert yuv.shape == (2, frames[0].shape[0] * 3 // 2, frames[0].shape[1])
    with pytest.raises(VidstyleError, match="one FlowState"):
        stylizer.submit_batch(frames[:3], stabilizer=host)
    with pytest.raises(VidstyleError, match="one FlowState"):
        stylizer.submit_batch(frames[:3], stabilizer=host, states=states[:2])
    with pytest.raises(VidstyleError, match="must be a FlowStabilizer"):
        stylizer.submit_batch(frames[:3], stabilizer="flow", states=states[:3])


@pytest.mark.parametrize("out_name, pix_fmt", [("out.mkv", "yuv444p"), ("out.mp4", None)])
def test_where_the_network_stabilizes_no_stabilize_stage_runs_and_the_video_is_the_same(
        tmp_path, stylizer, monkeypatch, out_name, pix_fmt):
    src = make_video(tmp_path / "in.mp4", frames=16, size=(96, 64), crf=0)
    options = dict(temporal="flow", temporal_strength=0.9, batch=3, crf=0, progress=False)
    if pix_fmt:
        options["pix_fmt"] = pix_fmt
    on_host = stylize_video(src, tmp_path / ("host_" + out_name), style=stylizer, **options)
    stylize_video(src, tmp_path / ("off_" + out_name), style=stylizer, **dict(options, temporal="off"))
    written = []
    write = VideoEncoder.write
    monkeypatch.setattr(VideoEncoder, "write", lambda self, image, *a, **k: (written.append(image.shape),
                                                                               write(self, image, *a, **k))[1])
    _on_device_path_on_the_cpu(monkeypatch)
    on_device = stylize_video(src, tmp_path / out_name, style=stylizer, **options)
    assert "stabilize" in on_host.stage_seconds and "stabilize" not in on_device.stage_seconds
    assert "flow" in on_device.stage_seconds
    a, b = (read_frames(tmp_path / n).astype(int) for n in ("host_" + out_name, out_name))
    # yuv420p: made from RGB on the device instead of by swscale (chroma filtered otherwise)
    assert np.abs(a - b).mean() < (0.2 if pix_fmt else 3.0)
    flicker = lambda v: np.abs(np.diff(v.astype(float), axis=0)).mean()  # noqa: E731
    assert flicker(b) < flicker(read_frames(tmp_path / ("off_" + out_name)))
    # the frames reach a yuv420p encoder in yuv420p, converted where the network ran
    assert set(written) == ({(64, 96, 3)} if pix_fmt else {(96, 96)})
    assert on_host.temporal_strength == on_device.temporal_strength == 0.9


def test_with_kept_bars_the_stabilizer_stays_a_stage_of_its_own(tmp_path, stylizer, monkeypatch):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 72), pattern="letterbox", crf=0)
    _on_device_path_on_the_cpu(monkeypatch)
    result = stylize_video(src, tmp_path / "out.mp4", style=stylizer, temporal="flow", batch=3, progress=False)
    assert result.bars and "stabilize" in result.stage_seconds


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_submit_batch_stabilizes_on_cuda_as_on_the_host(model):
    from vidstyle.flow.stabilizer import FlowStabilizer

    st = Stylizer.from_model(model, device="cuda")
    assert st.stabilizes_on_device
    frames = [f.image for f in _moving_frames(9, cut_at=5)]
    host, on_gpu = FlowStabilizer(0.9), FlowStabilizer(0.9)
    states = [None] + [host.estimate(frames[t - 1], frames[t]) for t in range(1, 9)]
    pending = [st.submit_batch(frames[k:k + 3], stabilizer=on_gpu, states=states[k:k + 3]) for k in (0, 3, 6)]
    assert all(p.overlapped for p in pending)  # three in flight, blended in order on the device
    got = np.concatenate([p.result() for p in pending])
    expected = np.stack([host.apply(i, s) for i, s in zip(st.stylize_batch(frames), states)])
    assert np.abs(got.astype(int) - expected).max() <= 4 and np.abs(got.astype(int) - expected).mean() < 0.2


def test_submit_batch_checks_the_states_before_the_network_and_takes_a_generator(stylizer, monkeypatch):
    from vidstyle.errors import BadTypeError
    from vidstyle.flow.stabilizer import FlowStabilizer

    frames = [f.image for f in _moving_frames(4)]
    stab = FlowStabilizer(0.9)
    states = [None] + [stab.estimate(frames[t - 1], frames[t]) for t in range(1, 4)]
    ran = []
    stylize_batch = Stylizer.stylize_batch
    monkeypatch.setattr(Stylizer, "stylize_batch", lambda self, images: ran.append(1) or stylize_batch(self, images))
    for on_device in (False, True):
        monkeypatch.setattr(Stylizer, "_on_device_path", property(lambda self, v=on_device: v))
        with pytest.raises(BadTypeError, match="FlowStates \\(or None\\), got str"):
            stylizer.submit_batch(frames, stabilizer=stab, states=[None, "bogus", None, None])
        with pytest.raises(BadTypeError, match="got NoneType"):
            stylizer.submit_batch(None, stabilizer=stab, states=states)
    assert ran == [] and stab._prev_output is None  # refused before anything ran or moved on
    got = stylizer.submit_batch((f for f in frames), stabilizer=stab, states=states).result()
    assert got.shape == (4, *frames[0].shape)


def test_stabilizer_subclasses_keep_their_own_methods(tmp_path, stylizer, monkeypatch):
    """A FlowStabilizer subclass with its own apply is not bypassed by the blend on the device, and
    one with its own estimate (which may keep state) gets one flow thread."""
    from vidstyle.flow import stabilizer as stabilizer_module

    class OwnApply(stabilizer_module.FlowStabilizer):
        applied = 0

        def apply(self, stylized, state):
            OwnApply.applied += 1
            return super().apply(stylized, state)

    class OwnEstimate(stabilizer_module.FlowStabilizer):
        threads = set()

        def estimate(self, prev, cur):
            OwnEstimate.threads.add(threading.current_thread().name)
            return super().estimate(prev, cur)

    assert stabilizer_module.FlowStabilizer().applies_to_tensors and stabilizer_module.FlowStabilizer().thread_safe_estimate
    assert not OwnApply().applies_to_tensors and OwnApply().thread_safe_estimate
    assert OwnEstimate().applies_to_tensors and not OwnEstimate().thread_safe_estimate
    src = make_video(tmp_path / "in.mp4", frames=8, size=(96, 64), crf=0)
    _on_device_path_on_the_cpu(monkeypatch)
    monkeypatch.setattr(stabilizer_module, "flow_workers", lambda cores=None: 4)
    for cls in (OwnApply, OwnEstimate):
        monkeypatch.setattr(stabilizer_module, "FlowStabilizer", cls)  # where flow_stabilizer finds it
        result = stylize_video(src, tmp_path / f"{cls.__name__}.mkv", style=stylizer, temporal="flow", batch=3,
                               progress=False)
        assert result.frames == 8
    assert OwnApply.applied == 8  # its apply, on every frame (in the stabilize stage)
    assert OwnEstimate.threads == {"vidstyle-flow"}


def test_a_stylizer_with_its_own_submit_batch_is_not_handed_the_stabilizer(model):
    class Logged(Stylizer):
        def submit_batch(self, images, yuv420=None):
            return super().submit_batch(images, yuv420=yuv420)

    plain, logged = (cls.from_model(model, device="cpu", channels_last=False) for cls in (Stylizer, Logged))
    for st in (plain, logged):
        st.device = torch.device("cuda", 0)  # only read by the properties here
    assert plain.stabilizes_on_device and plain.hands_yuv420
    assert not logged.stabilizes_on_device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_submit_batch_with_the_stabilizer_does_not_wait_for_the_gpu(model):
    """Queued, not done: submit_batch returns while the compute stream is still busy with work
    queued before it (a long sleep kernel), the stabilizer's blend included."""
    from vidstyle.flow.stabilizer import FlowStabilizer

    st = Stylizer.from_model(model, device="cuda")
    frames = [f.image for f in _moving_frames(6)]
    stab, host = FlowStabilizer(0.9), FlowStabilizer(0.9)
    states = [None] + [host.estimate(frames[t - 1], frames[t]) for t in range(1, 6)]
    # warm: kernels, caches, and page-locked blocks of every size the call below asks for (a new
    # one, cudaHostAlloc, may wait for the device)
    st.submit_batch(frames[1:4], stabilizer=FlowStabilizer(0.9), states=states[1:4], yuv420=1).result()
    torch.cuda.synchronize()
    torch.cuda._sleep(2_000_000_000)  # about a second of GPU time on the current stream
    pending = st.submit_batch(frames[3:], stabilizer=stab, states=states[3:], yuv420=1)
    assert not torch.cuda.current_stream().query()  # the host did not wait for the queue
    assert pending.result().shape == (3, frames[0].shape[0] * 3 // 2, frames[0].shape[1])


def test_submit_batch_with_the_stabilizer_takes_one_image_and_states_from_a_generator(stylizer):
    from vidstyle.flow.stabilizer import FlowStabilizer

    frames = [f.image for f in _moving_frames(3)]
    stab = FlowStabilizer(0.9)
    assert stylizer.submit_batch(frames[0], stabilizer=stab, states=[None]).result().shape == (1, *frames[0].shape)
    states = (stab.estimate(frames[t - 1], frames[t]) for t in (1, 2))
    assert stylizer.submit_batch(frames[1:], stabilizer=stab, states=states).result().shape == (2, *frames[0].shape)
    with pytest.raises(VidstyleError, match=r"one FlowState \(or None\) per image \(2 here\)"):
        stylizer.submit_batch(frames[1:], stabilizer=stab, states=[None])


def test_progress_lines_say_how_far_a_run_is_where_no_bar_can_be_drawn():
    # stderr not a terminal (a log file, nohup): nothing was printed until the end (review, 36th session)
    import io

    from vidstyle.pipeline import ProgressLines

    out, now = io.StringIO(), [0.0]
    lines = ProgressLines("out.mp4", interval=30, stream=out, clock=lambda: now[0])
    for t, done in ((0, 1), (10, 700), (30, 2071), (40, 2700), (70, 4000)):
        now[0] = t
        lines(done, 7200)
    # 2070 frames in 30 s: 69.0 a second, 5129 left: 74 s; then the average over 70 s
    assert out.getvalue().splitlines() == ["out.mp4: 2071/7200 frames, 69.0 frames/s, about 1:14 left",
                                           "out.mp4: 4000/7200 frames, 57.1 frames/s, about 0:56 left"]
    now[0] = 100
    lines(1, None)  # the next input (stylize_files) starts the count again
    now[0] = 3700
    lines(3601, None)
    assert out.getvalue().splitlines()[-1] == "out.mp4: 3601 frames, 1.0 frames/s"


def test_the_bar_is_drawn_on_a_terminal_that_says_it_has_no_width(monkeypatch):
    from processes import unsized_terminal

    from vidstyle import pipeline

    with unsized_terminal() as terminal:
        monkeypatch.setattr(pipeline.sys, "stderr", terminal)
        bar = pipeline._progress_bar(10, True, "out.mp4")
        bar.close()
    # dynamic_ncols at width 0 drew nothing at all, and at 0 rows tqdm hid it as below the screen
    assert bar.ncols == 80 and "out.mp4:   0%|" in terminal.getvalue()


def test_the_command_line_picks_the_bar_lines_or_nothing(monkeypatch):
    import argparse

    from vidstyle import cli
    from vidstyle.pipeline import ProgressLines

    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: False)
    lines = cli._progress(argparse.Namespace(quiet=False), "out.mp4")
    assert isinstance(lines, ProgressLines) and lines.label == "out.mp4" and lines.interval == 30
    assert cli._progress(argparse.Namespace(quiet=True)) is False
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True)
    assert cli._progress(argparse.Namespace(quiet=False)) is True


def test_video_outputs_leave_no_folder_held_open(tmp_path, stylizer):
    # each run holds its output's folder open to see it renamed (_folder_watch): a folder of
    # thousands of inputs (stylize_files), or a program that calls stylize_video again and again,
    # would otherwise run out of open files
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    stylize_video(src, tmp_path / "first.mp4", style=stylizer, temporal="off", progress=False)
    before = len(os.listdir("/proc/self/fd"))  # (what the first opened once stays)
    for k in range(3):
        stylize_video(src, tmp_path / f"out{k}.mp4", style=stylizer, temporal="off", progress=False)
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("replaced", [False, True])
def test_a_video_output_s_folder_renamed_mid_run_stops_the_run_at_once(tmp_path, stylizer, monkeypatch, replaced):
    """The output's folder moved aside (or removed) while a video was written: the encoder goes on
    writing through its open file, and the run was said to have failed only after the whole input
    was encoded (hours of a long film). It stops at its next look at the folder (once a second;
    here at every frame) with the error it ended with, and the renamed folder keeps nothing of
    it, nor does a folder made under the old name meanwhile."""
    monkeypatch.setattr(pipeline, "FOLDER_CHECK_SECONDS", 0.0)
    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48), audio=True)
    out = tmp_path / "renders" / "out.mp4"
    out.parent.mkdir()
    done = []

    def rename_at_the_third(n, total):
        done.append(n)
        if n == 3:
            out.parent.rename(tmp_path / "moved")
            if replaced:
                out.parent.mkdir()

    with pytest.raises(VidstyleError, match=r"writing .*renders/out.mp4 failed: its folder .*renders was removed or "
                                            r"renamed meanwhile\Z"):
        stylize_video(src, out, style=stylizer, temporal="off", progress=rename_at_the_third)
    assert max(done) < 12, done  # stopped before the end
    assert list((tmp_path / "moved").iterdir()) == []
    assert list(out.parent.iterdir()) == [] if replaced else not out.parent.exists()
    assert pipeline_threads() == []


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_video_output_s_folder_renamed_after_its_last_frame_is_said_as_that(tmp_path, stylizer, suffix):
    """The folder renamed after the last frame, as the file is finished: an MP4's index is moved to
    its front by FFmpeg reopening the file by its name (faststart), which then failed with "finishing
    out.mp4 failed: No such file or directory" (review, 57th session); the renamed folder keeps nothing."""
    src = make_video(tmp_path / "in.mp4", frames=6, size=(64, 48), audio=True)
    out = tmp_path / "renders" / f"out{suffix}"
    out.parent.mkdir()

    def rename_at_the_last(n, total):
        if n == 6:
            out.parent.rename(tmp_path / "moved")

    with pytest.raises(VidstyleError, match=r"writing .*renders/out\.m.. failed: its folder .*renders was removed or "
                                            r"renamed meanwhile\Z"):
        stylize_video(src, out, style=stylizer, temporal="off", progress=rename_at_the_last)
    assert list((tmp_path / "moved").iterdir()) == []
    assert pipeline_threads() == []


def test_the_bars_pace_starts_at_the_first_frame(monkeypatch):
    # the wait before the first frame (a long run's torch.compile, the stages filling: 8.7 s in a
    # 30-minute run) was taken as the first frame's pace: the bar said "8.66s/frame" and
    # "129:41:58" left for a 9-minute run, and its smoothed rate took seconds to forget it
    from vidstyle import pipeline

    terminal = FakeTerminal()
    monkeypatch.setattr(pipeline.sys, "stderr", terminal)
    bar = pipeline._progress_bar(1000, True, "out.mp4")
    bar.mininterval = 0  # every frame drawn
    bar.start_t -= 60  # made 60 s ago: the network compiling
    bar.last_print_t -= 60
    frame_written = pipeline._on_frame(True, bar, 1000)
    frame_written()
    rate = bar.format_dict["rate"]
    bar.close()
    assert bar.n == 1 and rate is not None and rate > 1  # not the 60 s wait's 1/60 frame a second
    assert "s/frame" not in terminal.getvalue()


def test_the_bars_clock_is_started_once_not_at_every_frame(monkeypatch):
    """The bar's clock starts again at the first frame only: started at every frame, the time
    between frames was never counted (the elapsed time stayed at one frame's) and the bar, drawn
    once its mininterval has passed since it was last drawn, was not drawn again after the first
    frame (mutation testing, 59th session: every test passed with it)."""
    from vidstyle import pipeline

    terminal = FakeTerminal()
    monkeypatch.setattr(pipeline.sys, "stderr", terminal)
    now = [1000.0]
    bar = pipeline._progress_bar(100, True, "out.mp4")
    bar._time = lambda: now[0]  # (tqdm's clock)
    bar.start_t = bar.last_print_t = now[0] - 60  # made 60 s ago: the network compiling
    frame_written = pipeline._on_frame(True, bar, 100)
    for _ in range(10):  # 2 frames a second
        frame_written()
        now[0] += 0.5
    elapsed = bar.format_dict["elapsed"]
    shown = terminal.getvalue()
    bar.close()
    assert elapsed == pytest.approx(5.0)  # from the first frame, not the wait before it nor the last frame
    assert "10/100 [00:04<" in shown, shown  # drawn at each frame, the 10th 4.5 s after the first


@pytest.mark.skipif(sys.platform != "linux", reason="a signal sent to the process reaches the main thread "
                    "(where the waits it interrupts are) on Linux; elsewhere any thread may take it")
def test_a_stuck_stage_given_up_on_after_a_second_ctrl_c_is_not_waited_for_again(tmp_path, stylizer, monkeypatch,
                                                                                ctrl_c_as_in_a_terminal):
    """A second Ctrl-C gives a stage stuck in a long call a few seconds, then the run's clean-up
    goes on without it; but the stages were joined twice (by wait(), which the first Ctrl-C
    ended, and again by the run's clean-up), and the second join waited for the stuck stage
    again, without end: the command hung until a third Ctrl-C. Now a stage given up on is not
    waited for again, and the run ends with its frames' hidden folder removed."""
    import signal

    monkeypatch.setattr(pipeline, "_GIVE_UP_SECONDS", 0.5)
    src = make_video(tmp_path / "in.mp4", frames=48, size=(64, 48))
    reading, inside, freed = decode_module.VideoDecoder._demux_decode, threading.Event(), threading.Event()

    def stuck_midway(self):  # a decode that does not return (a network share gone, say)
        for n, item in enumerate(reading(self)):
            if n == 20 and threading.current_thread().name == "vidstyle-decode":  # (not a look ahead's)
                inside.set()
                freed.wait(60)  # (freed by the test's end at the latest)
            yield item

    monkeypatch.setattr(decode_module.VideoDecoder, "_demux_decode", stuck_midway)

    def press_ctrl_c_twice():
        if inside.wait(30):
            for _ in range(2):
                time.sleep(0.2)
                os.kill(os.getpid(), signal.SIGINT)  # to the process, as a terminal sends it: the main thread takes it

    presser = threading.Thread(target=press_ctrl_c_twice, daemon=True)
    presser.start()
    # (a hang is ended after 20 s by freeing the stage, which the check below then sees)
    watchdog = threading.Timer(20, freed.set)
    watchdog.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            stylize_video(src, tmp_path / "out" / "f_%03d.png", style=stylizer, progress=False)
        assert not freed.is_set()  # the run ended while its decode stage was still stuck
    finally:
        watchdog.cancel()
        freed.set()
    assert [p.name for p in tmp_path.iterdir()] == ["in.mp4"]  # (the frames' folder, made by the run, too)


@pytest.mark.skipif(sys.platform != "linux", reason="a signal sent to the process reaches the main thread "
                    "(where the waits it interrupts are) on Linux; elsewhere any thread may take it")
@pytest.mark.parametrize("temporal", ["off", "flow"])
def test_a_stop_does_not_wait_for_the_network_call_whose_frame_it_throws_away(tmp_path, ctrl_c_as_in_a_terminal,
                                                                              temporal):
    """Ctrl-C while the network is in a long call (a standard network's frame in bf16 on a CPU
    without native bf16: 20 s and more) ended the run only once the call returned, its frame
    then thrown away. Now the stop does not wait for it: the run ends with nothing written while
    the call is still under way, and the stage, once the call returns, writes nothing."""
    import signal

    src = make_video(tmp_path / "in.mp4", frames=24, size=(64, 48))
    calls, inside, freed = [0], threading.Event(), threading.Event()

    class SlowSecondBatch:  # (the first batch is written: the output has begun)
        def stylize_batch(self, images):
            calls[0] += 1
            if calls[0] == 2:
                inside.set()
                freed.wait(60)  # a long call in C (the lock's wait), which no exception interrupts
            return 255 - np.asarray(images)

    def press_ctrl_c():
        if inside.wait(30):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)  # to the process, as a terminal sends it: the main thread takes it

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    watchdog = threading.Timer(20, freed.set)  # (a stop that waits for the call is freed after 20 s)
    watchdog.start()
    try:
        style = SlowSecondBatch()
        with pytest.raises(KeyboardInterrupt):
            stylize_video(src, tmp_path / "out.mp4", style=style, progress=False, batch=1, temporal=temporal)
        assert not freed.is_set()  # the run ended while the network's call was still under way
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # its partial file removed
    finally:
        watchdog.cancel()
        freed.set()
    for thread in pipeline_threads():
        thread.join(30)  # the stage, its call returned, ends at once ...
        assert not thread.is_alive()
    assert calls[0] == 2  # ... without another batch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # and writes nothing
    network, style = weakref.ref(style), None
    gc.collect()
    assert network() is None  # nor is the network kept once its call has ended (a GPU network's memory)


@pytest.mark.skipif(sys.platform != "linux", reason="a signal sent to the process reaches the main thread "
                    "(where the waits it interrupts are) on Linux; elsewhere any thread may take it")
def test_a_run_after_a_stop_waits_for_the_network_call_it_left_before_using_the_network(tmp_path,
                                                                                     ctrl_c_as_in_a_terminal):
    """A program that caught the Ctrl-C and stylized again at once with the same network ran it
    from two threads at once: the stopped run's call, left running (see the test above), and the
    new run's. A network made for one caller at a time (a user's object; an int8 Stylizer being
    calibrated for the new video while the old call built its graph from the old video's frames;
    a timeline's shared network switched to another blend mid-call) then gave the new run wrong
    frames. The new run now waits for that call before it uses the network, and gives a clean run's
    output."""
    import signal

    src = make_video(tmp_path / "in.mp4", frames=12, size=(64, 48))
    calls, inside, freed = [0], threading.Event(), threading.Event()
    running, overlapped = [0], []

    class OneCallerAtATime:
        def stylize_batch(self, images):
            running[0] += 1
            try:
                if running[0] > 1:
                    overlapped.append(calls[0])
                    freed.set()  # (the left call is not waited for: let it end, the test has its answer)
                calls[0] += 1
                if calls[0] == 2:
                    inside.set()
                    freed.wait(60)  # a long call in C, which no exception interrupts
                return 255 - np.asarray(images)
            finally:
                running[0] -= 1

    def press_ctrl_c():
        if inside.wait(30):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

    style = OneCallerAtATime()
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, tmp_path / "stopped.mp4", style=style, progress=False, batch=1)
    assert not freed.is_set()  # (the stop did not wait for the call)
    watchdog = threading.Timer(2, freed.set)  # the left call returns after 2 s, unless the new run frees it
    watchdog.start()
    try:
        stylize_video(src, tmp_path / "again.mp4", style=style, progress=False, batch=1)
    finally:
        watchdog.cancel()
        freed.set()
    assert overlapped == []  # the new run's calls came after the left one had returned
    stylize_video(src, tmp_path / "clean.mp4", style=style, progress=False, batch=1)
    assert np.array_equal(read_frames(tmp_path / "again.mp4"), read_frames(tmp_path / "clean.mp4"))
    assert not (tmp_path / "stopped.mp4").exists()
