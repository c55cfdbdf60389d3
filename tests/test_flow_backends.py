"""Flow backends other than DIS, plugged into the stabilizer, `vidstyle stylize` and `vidstyle eval`.

The backend of a user's own here is a real estimator, a whole-frame translation found by phase
correlation, so a flow of the wrong sign or size shows up as a large warping error.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import re

import pytest
import torch

from videos import make_video, read_frames
from vidstyle.config import StylizeConfig
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError
from vidstyle.eval import warping_error
from vidstyle.flow import estimate
from vidstyle.flow.estimate import FlowEstimator, RAFTFlow
from vidstyle.flow.stabilizer import FlowStabilizer

ROOT = Path(__file__).resolve().parents[1]
W, H, STEP = 160, 128, 2  # frames, and how far the scene pans a frame (pixels, to the left)


class GlobalShift(FlowEstimator):
    """The flow of a pure translation by whole pixels, by phase correlation: (H, W, 2), one vector
    everywhere."""

    name = "global_shift"
    made = 0  # instances built, over the class and its subclasses

    def __init__(self):
        GlobalShift.made += 1

    def __call__(self, img0, img1):
        g0, g1 = (cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) for img in (img0, img1))
        window = cv2.createHanningWindow(g0.shape[::-1], cv2.CV_32F)  # the crops' edges do not wrap
        (dx, dy), _ = cv2.phaseCorrelate(g1, g0, window)  # img0 is img1 moved by (dx, dy)
        flow = np.empty(img0.shape[:2] + (2,), np.float32)
        flow[..., 0], flow[..., 1] = -round(dx), -round(dy)  # so img0[y, x] = img1[y - dy, x - dx]
        return flow


class SharedGlobalShift(GlobalShift):
    shareable = True


class SerialGlobalShift(GlobalShift):
    parallel = False  # as a network whose every copy is large declares


@pytest.fixture
def registry(monkeypatch):
    """The flow backends, with the two above registered; left as they were afterwards."""
    monkeypatch.setattr(estimate, "FLOW_BACKENDS", dict(estimate.FLOW_BACKENDS))
    estimate.register_flow_backend("global_shift", GlobalShift)
    estimate.register_flow_backend("shared_global_shift", SharedGlobalShift)
    estimate.register_flow_backend("serial_global_shift", SerialGlobalShift)
    GlobalShift.made = 0


def panning_clip(frames: int = 8) -> list[np.ndarray]:
    """A textured scene panning left by STEP whole pixels a frame (each frame a crop of one image)."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (H, W + STEP * frames, 3), dtype=np.uint8), (0, 0), 1.5)
    return [np.ascontiguousarray(scene[:, STEP * t:STEP * t + W]) for t in range(frames)]


def test_the_backend_of_ones_own_finds_the_pan():
    a, b = panning_clip(2)
    flow = GlobalShift()(b, a)  # backward flow of frame 1: each pixel was STEP to the right in frame 0
    assert np.all(flow[..., 0] == STEP) and np.all(flow[..., 1] == 0)


def test_the_stabilizer_takes_its_flow_from_the_backend_it_is_given(registry):
    a, b = panning_clip(2)
    stabilizer = FlowStabilizer(0.5, flow="global_shift")
    assert GlobalShift.made == 1  # built at once: a bad option fails here, not at the first pair
    state = stabilizer.estimate(a, b)
    # the flow of the half-size frames the stabilizer estimates on: STEP / 2 pixels there
    assert state.flow.shape == (H // 2, W // 2, 2)
    assert np.all(state.flow[..., 0] == STEP / 2) and np.all(state.flow[..., 1] == 0)
    # each estimating thread builds its own estimator, unless the backend says one can be shared, or
    # that its estimates run one at a time (then one estimator serves, its weights read once)
    for backend, made in (("global_shift", 3), ("shared_global_shift", 1), ("serial_global_shift", 1)):
        GlobalShift.made = 0
        stabilizer = FlowStabilizer(0.5, flow=backend)
        threads = [threading.Thread(target=stabilizer.estimate, args=(a, b)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert GlobalShift.made == made, backend
    # the pipeline's flow stage runs pairs in parallel only where the backend allows it
    assert FlowStabilizer(0.5, flow="global_shift").thread_safe_estimate
    assert not FlowStabilizer(0.5, flow="serial_global_shift").thread_safe_estimate


def test_the_stabilizer_on_a_plugged_backend_steadies_a_flickering_clip(registry):
    frames = panning_clip()
    # the warping error measured with the plugged flow: zero for frames that are exact translations
    assert warping_error(frames, frames, flow=GlobalShift())["warping_error"] < 1e-6
    rng = np.random.default_rng(1)
    stylized = [np.clip(255 - f.astype(np.int16) + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8)
                for f in frames]  # a "style" that flickers
    stabilizer = FlowStabilizer(0.6, flow="global_shift")
    out = [stabilizer.apply(stylized[0], None)]
    for prev, cur, sty in zip(frames, frames[1:], stylized[1:]):
        out.append(stabilizer.apply(sty, stabilizer.estimate(prev, cur)))
    before = warping_error(frames, stylized, flow=GlobalShift())
    after = warping_error(frames, out, flow=GlobalShift())
    assert before["flow"] == after["flow"] == "global_shift" and before["flow_preset"] is None
    assert after["warping_error"] < 0.6 * before["warping_error"], (before, after)


def test_stylize_config_checks_the_flow_backend(registry):
    assert StylizeConfig(flow_backend="raft", flow_weights="raft.pth").flow_backend == "raft"
    assert StylizeConfig(flow_backend="global_shift").flow_backend == "global_shift"  # a registered one
    for options, error, text in ((dict(flow_backend="raft"), BadValueError, "needs its weights file"),
                                 (dict(flow_weights="raft.pth"), BadValueError, "DIS needs none"),
                                 (dict(flow_backend="farneback"), BadValueError, "unknown flow backend"),
                                 (dict(flow_backend="raft", flow_weights=3), BadTypeError, "flow_weights must be")):
        with pytest.raises(error, match=text):
            StylizeConfig(**options)


@pytest.fixture(scope="module")
def raft_weights(tmp_path_factory):
    """A raft_small state dict as a user would supply it (random here: nothing is downloaded)."""
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "raft_small.pth"
    torch.save(raft_small(weights=None).state_dict(), path)
    return path


def test_raft_reads_its_size_from_the_weights_file(raft_weights, tmp_path):
    assert RAFTFlow(raft_weights, device="cpu").size == "small"
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(VidstyleError, match="holds no RAFT-large or RAFT-small weights") as foreign:
        RAFTFlow(other, device="cpu")
    # why, in a few words each (torch's own first line, "Error(s) in loading state_dict for RAFT:", said nothing)
    assert re.search(r"\(RAFT-large: (\d+) of its \1 tensors missing \(.+, \.\.\.\), 1 not its own \(conv\.weight, "
                     r"\.\.\.\); RAFT-small: (\d+) of its \2 tensors missing", str(foreign.value)), str(foreign.value)
    with pytest.raises(VidstyleError, match=r"holds no RAFT-large weights \(RAFT-large: .*tensors missing"):
        RAFTFlow(raft_weights, size="large", device="cpu")
    state = torch.load(raft_weights, weights_only=True)
    key = next(iter(state))
    state[key] = torch.zeros(1)
    torch.save(state, other)
    with pytest.raises(VidstyleError, match=rf"RAFT-small: tensor {re.escape(key)} is \(1,\), not \("):
        RAFTFlow(other, device="cpu")


def test_the_stabilizer_runs_raft_on_a_video_under_256_pixels_high(raft_weights):
    # its flow runs at half size, 160x120 for 320x240: under RAFT's 128 pixels a side, which
    # stopped the run ("RAFT needs frames of at least 128x128 pixels, got 160x120")
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (0, 0), 2)
    b = np.ascontiguousarray(np.roll(a, 2, axis=1))
    stabilizer = FlowStabilizer(0.5, flow="raft", flow_options={"weights": raft_weights, "device": "cpu", "iters": 2})
    state = stabilizer.estimate(a, b)  # (random weights: a flow of no meaning, maybe a "cut")
    assert state is None or state.flow.shape == (120, 160, 2)
    assert stabilizer.step(a, b, b).shape == b.shape


def test_stylize_and_eval_estimate_flow_with_raft_weights_the_user_supplies(raft_weights, style, tmp_path,
                                                                            monkeypatch, cli):
    calls, threads = [], set()

    def counted(self, a, b):
        calls.append(a.shape)
        threads.add(threading.current_thread().name)
        # random weights: the flow means nothing, and where and at what size it runs is what is
        # checked; 2 refinements instead of RAFT's 12 took its call from 4.2-5.0 to 1.7-2.1 s (one
        # xdist worker, beside other work)
        self.iters = 2
        return estimate_flow(self, a, b)

    estimate_flow = RAFTFlow.__call__
    monkeypatch.setattr(RAFTFlow, "__call__", counted)
    src = make_video(tmp_path / "in.mp4", frames=3, size=(272, 256))  # half size 136x128: not enlarged for RAFT
    out = tmp_path / "out.mp4"
    r = cli("stylize", src, "-o", out, "--style", style, "--device", "cpu", "--quiet", "--temporal-strength", "0.5",
            "--flow-backend", "raft", "--flow-weights", raft_weights)
    assert r.returncode == 0, r.stderr
    assert len(read_frames(out)) == 3
    # both directions of each pair, at half size, on one thread: torchvision's RAFT keeps each
    # call's state in the module (one model shared by the flow stage's threads failed), and a model
    # per thread would hold a correlation volume each (DIS pairs run on a thread per core)
    assert calls == [(128, 136, 3)] * 4 and len(threads) == 1
    calls.clear()
    r = cli("eval", src, out, "--flow-backend", "raft", "--flow-weights", raft_weights)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["flow"] == "raft" and report["flow_preset"] is None and report["frames"] == 3
    assert len(calls) >= 4 and set(calls) == {(256, 272, 3)}  # eval's flow: the input's full size


@pytest.mark.parametrize("command", ["stylize", "eval"])
def test_a_flow_backend_without_its_weights_is_one_line(command, raft_weights, style, tmp_path, cli):
    src = make_video(tmp_path / "in.mp4", frames=2, size=(64, 48))
    out = tmp_path / "out.mp4"
    not_raft = tmp_path / "not_raft.pth"
    torch.save({"conv.weight": torch.zeros(3)}, not_raft)
    head = ["stylize", src, "-o", out, "--style", style, "--device", "cpu"] if command == "stylize" \
        else ["eval", src, src]
    for extra, text in ((["--flow-backend", "raft"], "the raft flow backend needs its weights file"),
                        (["--flow-weights", raft_weights], "--flow-weights is for a flow backend with weights"),
                        (["--flow-backend", "raft", "--flow-weights", tmp_path / "none.pth"],
                         "RAFT weights file not found"),
                        (["--flow-backend", "raft", "--flow-weights", not_raft],
                         "holds no RAFT-large or RAFT-small weights")):
        r = cli(*head, *extra)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and text in lines[0], r.stderr
        assert not out.exists()


def test_flow_settings_that_would_be_ignored_are_said(raft_weights, style, tmp_path, cli, caplog):
    src = make_video(tmp_path / "in.mp4", frames=2, size=(64, 48))
    out = tmp_path / "out.mp4"
    r = cli("stylize", src, "-o", out, "--style", style, "--device", "cpu", "--quiet", "--temporal", "off",
            "--flow-backend", "raft", "--flow-weights", raft_weights)
    assert r.returncode == 0, r.stderr
    assert "--flow-backend, --flow-weights are ignored with --temporal off" in caplog.text
    caplog.clear()
    sample, truth = ROOT / "samples/sample.mp4", ROOT / "samples/sample_flow.npz"
    r = cli("eval", sample, sample, "--max-frames", "3", "--gt-flow", truth, "--flow-backend", "raft",
            "--flow-weights", raft_weights)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["flow"] == "ground_truth"
    assert "--flow-backend and --flow-weights are ignored with --gt-flow" in caplog.text


@pytest.mark.parametrize("content", [b"hello world\n", b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_raft_weights_that_are_not_a_weights_file_are_one_clear_line(tmp_path, content):
    # torch.load's own text for these is a bare "101" (a text file), or several lines that advise
    # loading with weights_only=False, i.e. running the file's pickled code (review of eval)
    path = tmp_path / "raft.pth"
    path.write_bytes(content)
    with pytest.raises(VidstyleError) as err:
        RAFTFlow(path)
    message = str(err.value)
    assert "\n" not in message and "weights_only" not in message, message
    assert str(path) in message and "not a PyTorch weights file" in message, message
    assert message.endswith("(it is not a file that torch.save wrote)"), message
