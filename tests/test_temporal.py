"""Temporal training helpers: the loss, synthetic camera-motion pairs and cached real-video pairs."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidstyle.errors import VidstyleError
from vidstyle.flow import DISFlow, flow_torch_to_numpy, warp
from vidstyle.frames import tensor_to_images
from vidstyle.frames import luminance
from vidstyle.flow.occlusion import in_view_mask
from vidstyle.train.temporal import VideoPairs, feature_temporal_loss, synthetic_pair, temporal_loss

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"


def texture(size: int = 96, seed: int = 0, grey: bool = False) -> torch.Tensor:
    """A smooth multi-scale (3, H, W) texture in [0, 1]."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    for cells, amp in ((3, 1.0), (8, 0.6), (24, 0.35)):
        img += amp * cv2.resize(rng.random((cells, cells, 3)).astype(np.float32), (size, size),
                                interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min())
    if grey:
        img[:] = img.mean(-1, keepdims=True)
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_synthetic_pair_shapes_and_determinism():
    img = texture()
    prev, cur, flow, mask = synthetic_pair(img, gen(1))
    assert prev.shape == cur.shape == (3, 96, 96) and flow.shape == (2, 96, 96) and mask.shape == (1, 96, 96)
    assert 0 <= float(cur.min()) and float(cur.max()) <= 1
    assert 0.7 < float(mask.mean()) < 1.0  # some of frame t was out of view in frame t-1
    again = synthetic_pair(img, gen(1))
    assert all(torch.equal(a, b) for a, b in zip((prev, cur, flow, mask), again))
    other = synthetic_pair(img, gen(2))
    assert not torch.equal(flow, other[2])
    batch = synthetic_pair(torch.stack([img, img]), gen(3))
    assert [tuple(t.shape) for t in batch] == [(2, 3, 96, 96), (2, 3, 96, 96), (2, 2, 96, 96), (2, 1, 96, 96)]
    assert not torch.equal(batch[2][0], batch[2][1])  # each sample moves differently
    with pytest.raises(ValueError):
        synthetic_pair(torch.rand(1, 96, 96), gen())


def test_synthetic_flow_is_exact_and_backward():
    img = texture(128, seed=4)
    prev, cur, flow, mask = synthetic_pair(img, gen(5), noise=0.0, brightness=0.0)
    # frame t is frame t-1 read at x + flow(x) wherever visible: checked with OpenCV's remap, not
    # with the warp that made it (which would only check the pair against itself)
    h, w = flow.shape[-2:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fx, fy = flow.numpy()
    read = cv2.remap(prev.permute(1, 2, 0).numpy(), xs + fx, ys + fy, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT_101)
    visible = mask[0].numpy() > 0
    assert visible.mean() > 0.5 and (np.abs(fx) + np.abs(fy))[visible].mean() > 0.5  # it moved, and is seen
    assert np.abs(read[visible] - cur.permute(1, 2, 0).numpy()[visible]).max() < 1e-3
    # the same convention as the estimator: DIS(frame_t, frame_prev) recovers the flow
    est = DISFlow("medium")(tensor_to_images(cur[None])[0], tensor_to_images(prev[None])[0])
    err = np.linalg.norm(est - flow_torch_to_numpy(flow[None])[0], axis=-1)[mask[0].numpy() > 0]
    assert err.mean() < 0.4


def test_camera_motions_go_both_ways_within_their_bounds_about_the_centre():
    """Read off the flow of a wide frame: at its centre pixel the turn and the zoom move nothing,
    so the flow there is the shift (each side's share of that side's length, either way); a tilt
    alone moves each pixel towards or away from the centre."""
    from vidstyle.train.temporal import random_camera_flow

    h, w = 21, 201
    centre = random_camera_flow(256, h, w, gen(30), max_translate=0.03)[:, :, h // 2, w // 2]
    for axis, side in ((0, w), (1, h)):
        shifts = centre[:, axis]
        assert float(shifts.abs().max()) <= 0.03 * side + 1e-4
        assert float(shifts.min()) < -0.02 * side and float(shifts.max()) > 0.02 * side
    turned = random_camera_flow(64, h, w, gen(31), max_translate=0.0, max_perspective=0.3)
    assert float(turned[:, :, h // 2, w // 2].abs().max()) < 1e-5
    tilt = random_camera_flow(8, h, w, gen(32), max_translate=0.0, max_rotate=0.0, max_zoom=0.0,
                              max_perspective=0.3).double()
    ys, xs = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    assert float(tilt[:, 1].abs().max()) > 0.1  # radial: (x, y) scaled alike
    torch.testing.assert_close(tilt[:, 0] * ys, tilt[:, 1] * xs, atol=1e-3, rtol=0)


def test_moving_objects_and_tilts_keep_the_flow_exact_and_mask_what_is_uncovered():
    img = texture(128, seed=21)
    batch = torch.stack([img, img.flip(-1), img.flip(-2)])
    prev, cur, flow, mask = synthetic_pair(batch, gen(22), noise=0.0, brightness=0.0, objects=1.0,
                                           max_perspective=0.3)
    m = mask.bool().expand(-1, 3, -1, -1)
    assert torch.allclose(warp(prev, flow)[m], cur[m], atol=1e-5)  # exact wherever the mask says visible
    # the same draws without the objects: the camera's motion alone (drawn first, so the same)
    _, _, camera, in_view = synthetic_pair(batch, gen(22), noise=0.0, brightness=0.0, max_perspective=0.3)
    for i in range(3):
        own = (flow[i] != camera[i]).any(0)  # the object's pixels in frame t
        vectors = flow[i][:, own]
        assert own.float().mean() > 0.005 and torch.equal(vectors, vectors[:, :1].expand_as(vectors))
        assert torch.equal(vectors, vectors.round())  # it moves by whole pixels
        uncovered = (in_view[i, 0] > 0) & (mask[i, 0] == 0)  # in view, but hidden behind it in frame t-1
        assert uncovered.float().mean() > 0.001
    # the tilt makes the motion projective: the flow is no longer linear in x, as any affine one is
    second_difference = lambda f: float((f[..., 2:] - 2 * f[..., 1:-1] + f[..., :-2]).abs().max())  # noqa: E731
    assert second_difference(camera) > 1e-3
    assert second_difference(synthetic_pair(batch, gen(22))[2]) < 1e-4
    with pytest.raises(ValueError, match="objects must be a share"):
        synthetic_pair(img, gen(), objects=2.0)


def test_a_moving_objects_own_pixels_are_all_visible():
    """Frame t's object pixels read the object in frame t-1, where it was in full view: the mask
    keeps them all, even where the camera's motion alone would read the background it hid."""
    img = texture(96, seed=27)
    batch = torch.stack([img, img.flip(-1), img.flip(-2), img.flip(-1).flip(-2)])
    prev, _, flow, mask = synthetic_pair(batch, gen(28), noise=0.0, brightness=0.0, objects=1.0)
    _, _, camera, _ = synthetic_pair(batch, gen(28), noise=0.0, brightness=0.0)
    own = (flow != camera).any(1, keepdim=True)
    assert own.float().mean() > 0.01 and bool((mask[own] == 1).all())
    # the object shows a picture of its own (the frame upside down), not the background it covers
    assert float((prev != batch).any(1).float().mean()) > 0.005


def test_each_frame_of_a_pair_gets_noise_of_its_own():
    # on a flat grey still, all the texture either frame has is its noise
    prev, cur, _, _ = synthetic_pair(torch.full((8, 3, 32, 32), 0.5), gen(29), noise=0.05, brightness=0.0)
    assert float(prev.std()) > 0.005 and float(cur.std()) > 0.005
    assert not torch.allclose(prev, cur, atol=1e-3)


class _NoFloat64(torch.Tensor):
    """A tensor on Apple's MPS as far as float64 goes: MPS has none, and converting one to it
    raises; its copy to the CPU is an ordinary tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        wanted = [*args[1:], *kwargs.values()]
        if func is torch.Tensor.double or (func is torch.Tensor.to and torch.float64 in wanted):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64")
        result = super().__torch_function__(func, types, args, kwargs)
        return result.as_subclass(torch.Tensor) if func is torch.Tensor.cpu else result


def test_moving_objects_are_drawn_for_frames_on_a_gpu_without_float64():
    """`vidstyle train --temporal-objects` on a Mac (--device mps, or auto there) died at its first
    step: the flow on the device was made float64 before it was copied to the CPU."""
    from vidstyle.train.temporal import add_moving_object, random_camera_flow

    img = texture(64, seed=23)
    prev = torch.stack([img, img.flip(-1)])
    flow = random_camera_flow(2, 64, 64, gen(24))
    cur = warp(prev, flow, padding_mode="reflection")
    mask = in_view_mask(flow)
    expected = add_moving_object(prev, cur, flow, mask, gen(25))
    on_mps = add_moving_object(prev, cur, flow.as_subclass(_NoFloat64), mask, gen(25))
    for a, b in zip(expected, on_mps):
        assert torch.equal(a, b.as_subclass(torch.Tensor))


def test_temporal_loss_zero_for_exact_pair_positive_otherwise():
    img = texture(64, seed=6)
    prev, cur, flow, mask = synthetic_pair(torch.stack([img, img.flip(-1)]), gen(7), noise=0.0, brightness=0.0)
    assert float(temporal_loss(cur, prev, flow, mask)) < 1e-10
    assert float(temporal_loss(cur, prev, torch.zeros_like(flow), mask)) > 1e-4  # wrong flow
    noisy = (cur + 0.05 * torch.randn(cur.shape, generator=gen(8))).clamp(0, 1)
    loss = temporal_loss(noisy, prev, flow, mask)
    assert float(loss) > 1e-4
    # occluded pixels do not count
    assert float(temporal_loss(noisy, prev, flow, torch.zeros_like(mask))) == 0.0
    # gradients reach both outputs
    a, b = noisy.clone().requires_grad_(True), prev.clone().requires_grad_(True)
    temporal_loss(a, b, flow, mask).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        temporal_loss(cur, prev, flow, mask[:, :, :10])


def test_the_temporal_loss_gradient_is_the_numerical_one():
    """gradcheck in float64 of the lighting-aware output loss, through both outputs, the warp and
    the gain/offset fit; sampling positions kept off pixel centres, where bilinear interpolation
    has no derivative. (The feature loss computes in float32 by design, for bf16 features.)"""
    g = gen(30)
    out_t, out_prev, in_t, in_prev = (torch.rand(1, 3, 6, 7, generator=g, dtype=torch.float64) for _ in range(4))
    flow = torch.rand(1, 2, 6, 7, generator=g, dtype=torch.float64) * 0.5 + 0.25  # (a quarter to 3/4 of a pixel)
    mask = (torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64) > 0.2).double()
    assert torch.autograd.gradcheck(lambda a, b: temporal_loss(a, b, flow, mask, input_t=in_t, input_prev=in_prev),
                                    (out_t.requires_grad_(), out_prev.requires_grad_()))


def test_feature_temporal_loss_zero_for_features_moving_with_the_flow():
    """Frames of 64x80 and features of 8x10 (cells of 8 pixels): the camera moved 8 pixels left, so
    frame t's features are frame t-1's moved one cell right; the backward flow says -8 pixels."""
    prev = torch.randn(2, 5, 8, 10, generator=gen(20))
    cur = torch.roll(prev, shifts=1, dims=-1)  # column 0 wraps round: it is out of view below
    flow = torch.zeros(2, 2, 64, 80)
    flow[:, 0] = -8.0
    mask = in_view_mask(flow)
    assert float(mask.mean()) < 1
    assert float(feature_temporal_loss(cur, prev, flow, mask)) < 1e-10
    assert float(feature_temporal_loss(cur, prev, torch.zeros_like(flow), mask)) > 0.1  # wrong flow
    # relative to the features' power: shrinking them is no way out
    loss = feature_temporal_loss(cur + 0.1 * torch.randn(cur.shape, generator=gen(21)), prev, flow, mask)
    assert 1e-3 < float(loss) < 0.05
    scaled = feature_temporal_loss(10 * (cur + 0.1 * torch.randn(cur.shape, generator=gen(21))), 10 * prev, flow, mask)
    assert float(scaled) == pytest.approx(float(loss), rel=1e-5)
    # a feature pixel counts only where its whole cell is visible in both frames
    spoiled = cur.clone()
    spoiled[:, :, 3, 4] += 100.0
    partly_hidden = mask.clone()
    partly_hidden[:, :, 3 * 8 + 5, 4 * 8 + 2] = 0  # one pixel of that cell
    assert float(feature_temporal_loss(spoiled, prev, flow, partly_hidden)) < 1e-10
    assert float(feature_temporal_loss(spoiled, prev, flow, mask)) > 0.1
    # gradients reach both frames' features
    a, b = cur.clone().requires_grad_(True), prev.clone().requires_grad_(True)
    feature_temporal_loss(a + 0.1, b, flow, mask).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    for args in ((cur, prev[:, :4], flow, mask), (cur, prev, flow[:, :, :60], mask), (cur, prev, flow, mask[:, :, :60]),
                 (cur[..., :7, :], prev[..., :7, :], flow, mask)):  # 7 rows do not divide 64
        with pytest.raises(ValueError):
            feature_temporal_loss(*args)


@pytest.mark.parametrize("shift", [(0, 1), (1, 0)])
def test_feature_temporal_loss_scales_each_flow_component_by_its_own_cell_side(shift):
    """Frames of 64x80 and features of 16x10: cells of 4 rows by 8 columns. A move of one cell
    right is 8 pixels, one cell down 4: the flow in pixels comes to one feature pixel either way."""
    prev = torch.randn(2, 5, 16, 10, generator=gen(26))
    cur = torch.roll(prev, shifts=shift, dims=(-2, -1))
    flow = torch.zeros(2, 2, 64, 80)
    flow[:, 0], flow[:, 1] = -8.0 * shift[1], -4.0 * shift[0]
    mask = in_view_mask(flow)
    assert float(feature_temporal_loss(cur, prev, flow, mask)) < 1e-10
    assert float(feature_temporal_loss(cur, prev, 2 * flow, mask)) > 0.1
    # a feature pixel whose sample lands outside the features never counts, whatever the mask says
    assert float(feature_temporal_loss(cur, prev, flow, torch.ones_like(mask))) < 1e-10


def test_luminance_aware_loss_allows_lighting_changes():
    img = texture(64, seed=9, grey=True)[None]
    prev, cur, flow, mask = synthetic_pair(img, gen(10), noise=0.0, brightness=0.0)
    lit = (cur + 0.1).clamp(0, 1)  # the scene got brighter; an identity "stylization" follows it
    plain = float(temporal_loss(lit, prev, flow, mask))
    aware = float(temporal_loss(lit, prev, flow, mask, input_t=lit, input_prev=prev))
    assert plain > 1e-3 and aware < 1e-10
    assert torch.allclose(luminance(img), img[:, :1], atol=1e-6)  # grey: luma equals each channel
    with pytest.raises(ValueError):
        temporal_loss(lit, prev, flow, mask, input_t=lit)


def test_lighting_aware_loss_allows_a_gain_but_not_the_inputs_noise():
    """The input's change in lighting is allowed (a gain and offset per image), its noise is not:
    a network that passes each frame's grain through must not score better than one that
    ignores it (ReCoNet's per-pixel luma term scored the grain-copying outputs 0)."""
    grey = torch.stack([texture(64, seed=11, grey=True), texture(64, seed=12, grey=True)])
    prev, cur, flow, mask = synthetic_pair(grey, gen(13), noise=0.0, brightness=0.0)
    darker = cur * 0.8 + 0.05  # (on grey frames: the loss allows a change of luma, as ReCoNet's)
    assert float(temporal_loss(darker, prev, flow, mask, input_t=darker, input_prev=prev)) < 1e-8
    assert float(temporal_loss(darker, prev, flow, mask)) > 1e-3
    # the same pair with noise on both frames (same draws otherwise: same motion and lighting)
    img = torch.stack([texture(64, seed=11), texture(64, seed=12)])
    clean = synthetic_pair(img, gen(14), noise=0.0, brightness=0.1)
    noisy_prev, noisy_cur, flow, mask = synthetic_pair(img, gen(14), noise=0.1, brightness=0.1)
    ignores = float(temporal_loss(clean[1], clean[0], flow, mask, input_t=noisy_cur, input_prev=noisy_prev))
    copies = float(temporal_loss(noisy_cur, noisy_prev, flow, mask, input_t=noisy_cur, input_prev=noisy_prev))
    assert copies > 10 * ignores, (ignores, copies)  # (what is left of "ignores": a gain on colour is not one of luma)


@pytest.mark.skipif(not SAMPLE.is_file(), reason="samples/sample.mp4 not generated")
def test_video_pairs_cache_and_items(tmp_path, monkeypatch):
    pairs = VideoPairs(SAMPLE, size=(72, 128), cache_dir=tmp_path / "cache", stride=12)
    assert len(pairs) == 8  # pairs (0,1), (12,13), ..., (84,85)
    caches = list((tmp_path / "cache").glob("*.npz"))
    assert len(caches) == 1 and "sample" in caches[0].name
    prev, cur, flow, mask = pairs[3]
    assert prev.shape == cur.shape == (3, 72, 128) and flow.shape == (2, 72, 128) and mask.shape == (1, 72, 128)
    assert prev.dtype == flow.dtype == mask.dtype == torch.float32
    assert 0.5 < float(mask.mean()) <= 1
    # the cached flow explains the motion: warping frame t-1 onto t removes most of the change
    m = mask.bool().expand(3, -1, -1)
    warped = warp(prev[None], flow[None])[0]
    assert float((warped - cur).abs()[m].mean()) < 0.5 * float((prev - cur).abs()[m].mean())
    # a second dataset over the unchanged file, found by walking a folder, reuses the cache
    # (a folder of its own: samples/ holds other clips, which would need caches of their own)
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / SAMPLE.name).symlink_to(SAMPLE.resolve())
    monkeypatch.setattr(VideoPairs, "_build", lambda self, video: pytest.fail("cache was not reused"))
    again = VideoPairs(folder, size=(72, 128), cache_dir=tmp_path / "cache", stride=12)
    assert len(again) == 8 and torch.equal(again[3][2], flow)


def test_video_pairs_errors(tmp_path):
    with pytest.raises(VidstyleError):
        VideoPairs(tmp_path, size=64, cache_dir=tmp_path / "cache")
    with pytest.raises(VidstyleError):
        VideoPairs([tmp_path / "missing.mp4"], size=64, cache_dir=tmp_path / "cache")
