"""The flow-guided stabilizer: lowers flicker, resets at scene cuts, strength 0 is the identity."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.errors import VidstyleError
from vidstyle.eval import GroundTruthFlow, warping_error
from vidstyle.flow.stabilizer import FlowStabilizer, FlowState

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FRAMES = 16


def _make_sample_module():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLES / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A rendered scene (pan, zoom, occluding balloon) with its exact ground truth."""
    ms = _make_sample_module()
    frames, affine, layers, valid = ms.render(seed=3, frames=FRAMES, length=96)
    path = tmp_path_factory.mktemp("gt") / "gt.npz"
    ms.save_ground_truth(path, affine, layers, valid)
    return frames, GroundTruthFlow(path)


def fake_stylize(frame: np.ndarray) -> np.ndarray:
    """A deterministic 'style': swapped channels, boosted contrast, posterised a little."""
    x = frame[..., ::-1].astype(np.float32)
    x = np.clip((x - 128) * 1.3 + 128, 0, 255)
    return (np.round(x / 16) * 16).clip(0, 255).astype(np.uint8)


def flicker(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-frame instability like a per-frame network's: blotchy colour shifts plus pixel noise."""
    h, w = img.shape[:2]
    blotches = cv2.resize(rng.normal(0, 14, (h // 40, w // 40, 3)).astype(np.float32), (w, h),
                          interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img + blotches + noise, 0, 255).astype(np.uint8)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float32) / 255 - b.astype(np.float32) / 255) ** 2))


def test_stabilizer_lowers_warping_error_without_ghosting(clip):
    frames, gt = clip
    rng = np.random.default_rng(0)
    clean = [fake_stylize(f) for f in frames]
    noisy = [flicker(c, rng) for c in clean]
    stab = FlowStabilizer(strength=0.6)
    out, prev = [], None
    for inp, sty in zip(frames, noisy):
        out.append(stab.step(prev, inp, sty))
        prev = inp
    assert out[0] is noisy[0]  # the first frame passes through
    before = warping_error(frames, noisy, ground_truth=gt)["warping_error"]
    after = warping_error(frames, out, ground_truth=gt)["warping_error"]
    assert after < 0.6 * before, (before, after)
    # no ghosting: the stabilized frames are closer to the flicker-free stylization, not further
    assert np.mean([mse(o, c) for o, c in zip(out[4:], clean[4:])]) < \
        0.8 * np.mean([mse(n, c) for n, c in zip(noisy[4:], clean[4:])])


def test_strength_zero_is_identity(clip):
    frames, _ = clip
    stab = FlowStabilizer(strength=0.0)
    prev = None
    for inp in frames[:5]:
        sty = fake_stylize(inp)
        assert np.array_equal(stab.step(prev, inp, sty), sty)
        prev = inp


def test_scene_cut_resets(clip):
    frames, _ = clip
    other = [np.ascontiguousarray(255 - f[::-1]) for f in frames]  # a different scene
    video = list(frames[:6]) + other[:6]
    stab = FlowStabilizer(strength=0.8)
    states = [stab.estimate(a, b) for a, b in zip(video[:-1], video[1:])]
    assert states[5] is None  # the cut between frames 5 and 6
    assert all(isinstance(s, FlowState) for i, s in enumerate(states) if i != 5)
    assert all(s.photometric_error < stab.cut_threshold for s in states if s is not None)
    outputs = [stab.apply(fake_stylize(video[0]), None)]
    for frame, state in zip(video[1:], states):
        outputs.append(stab.apply(fake_stylize(frame), state))
    assert np.array_equal(outputs[6], fake_stylize(video[6]))  # restarted from the new scene
    assert not np.array_equal(outputs[5], fake_stylize(video[5]))  # before the cut it blended
    # a size change is a cut too, and reset() forgets the previous output
    assert stab.estimate(video[0], video[0][:100]) is None
    stab.reset()
    assert np.array_equal(stab.apply(fake_stylize(video[7]), states[6]), fake_stylize(video[7]))


def test_apply_handles_other_output_size_and_static_scene(clip):
    frames, _ = clip
    stab = FlowStabilizer(strength=0.5)
    state = stab.estimate(frames[0], frames[0])
    assert state is not None and state.flow.shape == (180, 320, 2)  # flow at half resolution
    assert np.abs(state.flow).mean() < 0.1 and state.valid_fraction > 0.95
    half = cv2.resize(fake_stylize(frames[0]), (320, 180))
    stab.apply(half, None)
    out = stab.apply(half, state)  # a static scene and the same frame: unchanged
    assert out.shape == half.shape
    assert np.abs(out.astype(int) - half).max() <= 2


def test_bad_arguments():
    with pytest.raises(VidstyleError):
        FlowStabilizer(strength=1.5)
    with pytest.raises(VidstyleError):
        FlowStabilizer(flow_scale=0)
    with pytest.raises(ValueError):
        FlowStabilizer().apply(np.zeros((8, 8), np.uint8), None)
