"""Flow estimation, warping and occlusion masks against synthetic motion with exact flow."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vidstyle.errors import VidstyleError
from vidstyle.flow import (DISFlow, consistency_mask, create_flow_estimator, flow_numpy_to_torch, flow_to_grid,
                           flow_to_map, flow_torch_to_numpy, grid_to_flow, in_view_mask, in_view_mask_numpy,
                           motion_boundary_mask, resize_flow, valid_mask, valid_mask_numpy, warp, warp_numpy)

H, W = 160, 240
MARGIN = 40  # texture border so both frames are fully rendered


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth multi-scale colour texture (uint8 RGB) that optical flow can track."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for cells, amp in ((4, 1.0), (12, 0.6), (36, 0.4), (90, 0.25)):
        small = rng.random((max(2, h * cells // w), cells, 3)).astype(np.float32)
        img += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img -= img.min()
    return (255 * img / img.max()).astype(np.uint8)


def affine_pair(matrix: np.ndarray, seed: int = 0):
    """Frames t-1 and t of a camera whose pixel x at t was at ``matrix @ [x, 1]`` at t-1.

    Returns (prev, cur, exact backward flow (H, W, 2), exact in-view mask (H, W)).
    """
    tex = textured(H + 2 * MARGIN, W + 2 * MARGIN, seed)
    shift = np.array([[1, 0, MARGIN], [0, 1, MARGIN]], np.float64)
    to_tex = lambda m: shift @ np.vstack([m, [0, 0, 1]])  # noqa: E731  frame coords -> texture coords
    ident = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    render = lambda m: cv2.warpAffine(tex, to_tex(m), (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)  # noqa
    prev, cur = render(ident), render(matrix)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    src_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    src_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    flow = np.stack([src_x - xs, src_y - ys], -1).astype(np.float32)
    inside = (src_x >= 0) & (src_x <= W - 1) & (src_y >= 0) & (src_y <= H - 1)
    return prev, cur, flow, inside


def about_centre(angle_deg: float = 0.0, scale: float = 1.0, tx: float = 0.0, ty: float = 0.0) -> np.ndarray:
    m = cv2.getRotationMatrix2D(((W - 1) / 2, (H - 1) / 2), angle_deg, scale)
    m[:, 2] += (tx, ty)
    return m


def epe(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1)[mask > 0].mean())


def occluder_pair(bg_shift=(2.0, 1.0), obj_shift=(-9.0, 4.0), radius=32, seed=3):
    """A textured disc moving over a translating textured background, with exact flow/visibility."""
    tex = textured(H + 2 * MARGIN, W + 2 * MARGIN, seed)
    disc_tex = textured(2 * radius + 1, 2 * radius + 1, seed + 100)
    disc_tex = 255 - disc_tex  # differ from the background
    centre_prev = np.array([W * 0.55, H * 0.5])
    centre_cur = centre_prev - np.array(obj_shift)  # pixel at t came from +obj_shift at t-1

    def render(bg_off, centre):
        m = np.array([[1, 0, MARGIN + bg_off[0]], [0, 1, MARGIN + bg_off[1]]], np.float64)
        img = cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        mo = np.array([[1, 0, centre[0] - radius], [0, 1, centre[1] - radius]], np.float64)
        sprite = cv2.warpAffine(disc_tex, mo, (W, H), flags=cv2.INTER_LINEAR)
        ys, xs = np.mgrid[0:H, 0:W]
        label = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= radius ** 2
        img[label] = sprite[label]
        return img, label

    prev, label_prev = render((0.0, 0.0), centre_prev)
    cur, label_cur = render(bg_shift, centre_cur)
    flow = np.empty((H, W, 2), np.float32)
    flow[...] = bg_shift
    flow[label_cur] = obj_shift
    ys, xs = np.mgrid[0:H, 0:W]
    sx, sy = xs + flow[..., 0], ys + flow[..., 1]
    inside = (sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)
    src_label = label_prev[np.clip(np.round(sy).astype(int), 0, H - 1), np.clip(np.round(sx).astype(int), 0, W - 1)]
    visible = inside & (src_label == label_cur)
    return prev, cur, flow, visible, label_cur


# --- warping -------------------------------------------------------------------------------


def test_grid_flow_roundtrip_and_identity():
    flow = torch.randn(2, 2, 9, 13) * 3
    assert torch.allclose(grid_to_flow(flow_to_grid(flow)), flow, atol=1e-5)
    grid = flow_to_grid(torch.zeros(1, 2, 9, 13))
    assert grid.shape == (1, 9, 13, 2)
    assert torch.allclose(grid[0, 0, 0], torch.tensor([-1.0, -1.0])) and torch.allclose(grid[0, -1, -1], torch.ones(2))
    img = torch.rand(2, 3, 9, 13)
    assert torch.allclose(warp(img, torch.zeros(2, 2, 9, 13)), img, atol=1e-6)


def test_flow_to_map_gives_absolute_pixel_positions_matching_the_grid():
    flow = np.random.default_rng(2).standard_normal((7, 9, 2)).astype(np.float32) * 3
    positions = flow_to_map(flow)
    assert positions.shape == (7, 9, 2) and positions.dtype == np.float32
    assert np.allclose(positions[3, 5], flow[3, 5] + (5, 3))  # (x, y): column first
    assert np.array_equal(flow_to_map(np.zeros((2, 3, 2), np.float32))[1, 2], [2.0, 1.0])
    # the same positions as torch's normalised grid, in pixels
    grid = flow_to_grid(flow_numpy_to_torch(flow))[0].numpy()
    assert np.allclose((grid + 1) / 2 * np.array([8, 6]), positions, atol=1e-5)
    # the cached coordinates are not changed by a caller
    positions += 100
    assert np.array_equal(flow_to_map(np.zeros((7, 9, 2), np.float32))[0, 0], [0.0, 0.0])
    with pytest.raises(ValueError):
        flow_to_map(np.zeros((7, 9, 3), np.float32))


def test_warp_integer_translation_is_a_shift():
    img = torch.rand(1, 3, 10, 12)
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0], flow[:, 1] = 2, -1  # out[y, x] = img[y - 1, x + 2]
    out = warp(img, flow)
    assert torch.allclose(out[..., 1:, :-2], img[..., :-1, 2:], atol=1e-6)


@pytest.mark.parametrize("size", [(1, 5), (5, 1), (1, 1)])
@pytest.mark.parametrize("padding", ["border", "zeros", "reflection"])
def test_warp_moves_along_a_side_of_one_pixel_as_warp_numpy_does(size, padding):
    # align_corners=True puts every grid value of a one-pixel side on that pixel: a flow leaving
    # it must still read what the padding mode reads there, not the pixel itself
    rng = np.random.default_rng(4)
    img = rng.random((*size, 3)).astype(np.float32)
    flow = (rng.standard_normal((*size, 2)) * 2).astype(np.float32)
    flow[0, 0] = (0.6, 0.6)  # part in view, part out: a bilinear mix with the padding
    out = warp(torch.from_numpy(img).permute(2, 0, 1)[None], flow_numpy_to_torch(flow), padding_mode=padding)
    ref = warp_numpy(img, flow, padding_mode=padding)
    assert np.abs(out[0].permute(1, 2, 0).numpy() - ref).max() < 1e-3
    row = torch.arange(1.0, 6.0).view(1, 1, 1, 5)
    below = torch.zeros(1, 2, 1, 5)
    below[:, 1] = 3.0  # every pixel reads three rows below the only row: out of view
    assert not in_view_mask(below).any()
    assert torch.equal(warp(row, below, padding_mode="zeros"), torch.zeros_like(row))
    assert torch.equal(warp(row, below, padding_mode="border"), row)


def _ramp(coords: torch.Tensor) -> torch.Tensor:
    """A two-channel image linear in (x, y): bilinear sampling reads it exactly, anywhere."""
    x, y = coords[:, :1], coords[:, 1:]
    return torch.cat((0.7 * x + 0.3 * y + 1.0, -0.2 * x + 1.1 * y), 1)


@pytest.mark.parametrize("size", [(9, 13), (10, 12), (7, 8)])  # odd and even sides: the [-1, 1] scaling
@pytest.mark.parametrize("motion", ["translation", "subpixel", "rotation"])
def test_warp_reads_each_pixel_at_x_plus_flow_exactly(size, motion):
    """``warp(img, flow)[x] = img[x + flow[x]]`` with pixel centres at whole numbers, checked on a
    linear image (which bilinear sampling reproduces exactly) for every pixel the flow keeps in
    view; cv2.remap's 1/32-pixel fixed-point positions keep warp_numpy within half of one."""
    from vidstyle.flow.warp import pixel_coords

    h, w = size
    coords = pixel_coords(h, w, dtype=torch.float64)
    if motion == "rotation":  # 5 degrees about the frame's centre
        angle, cx, cy = np.radians(5.0), (w - 1) / 2, (h - 1) / 2
        x, y = coords[:, 0] - cx, coords[:, 1] - cy
        flow = torch.stack((np.cos(angle) * x - np.sin(angle) * y + cx - coords[:, 0],
                            np.sin(angle) * x + np.cos(angle) * y + cy - coords[:, 1]), 1)
    else:
        step = (3.0, -2.0) if motion == "translation" else (0.37, -1.61)
        flow = torch.tensor(step, dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, h, w).contiguous()
    img = _ramp(coords)
    expected = _ramp(coords + flow)
    seen = in_view_mask(flow).bool().expand_as(img)
    assert seen.float().mean() > 0.4
    assert torch.allclose(warp(img, flow)[seen], expected[seen], atol=1e-9)
    numpy_out = warp_numpy(img[0].permute(1, 2, 0).float().numpy(), flow_torch_to_numpy(flow.float())[0])
    numpy_seen = in_view_mask_numpy(flow_torch_to_numpy(flow.float())[0])
    assert np.array_equal(numpy_seen, seen[0, 0].numpy())
    # (half a 1/32 step on each axis, times the ramp's steepest channel: 0.2 + 1.1 a pixel)
    assert np.abs(numpy_out - expected[0].permute(1, 2, 0).numpy())[numpy_seen].max() < 1.3 / 64 + 1e-4
    if motion == "translation":  # whole pixels: exactly the shifted pixels, and exactly these leave the view
        assert torch.equal(seen[0, 0], torch.zeros(h, w, dtype=torch.bool).index_fill_(0, torch.arange(2, h), True)
                           & torch.zeros(h, w, dtype=torch.bool).index_fill_(1, torch.arange(0, w - 3), True))
        assert torch.allclose(warp(img, flow)[..., 2:, :-3], img[..., :-2, 3:], atol=1e-9)


def test_the_disoccluded_strip_behind_a_moving_square_is_what_the_consistency_check_drops():
    """A square moves 6 px right over a still background: the background it uncovers (6 columns
    at its old left side) has no source in frame t-1, and exactly those pixels fail Ruder et al.'s
    forward-backward test, in torch and in numpy; the rest of the frame passes."""
    h, w = 60, 80
    backward = np.zeros((h, w, 2), np.float32)
    backward[20:40, 36:56, 0] = -6  # the square's pixels in frame t came from 6 px to the left
    forward = np.zeros((h, w, 2), np.float32)
    forward[20:40, 30:50, 0] = 6  # ... and in frame t-1 go 6 px to the right
    uncovered = np.zeros((h, w), bool)
    uncovered[20:40, 30:36] = True
    mask = consistency_mask(flow_numpy_to_torch(backward), flow_numpy_to_torch(forward))[0, 0].numpy()
    assert np.array_equal(mask == 0, uncovered)
    assert np.array_equal(valid_mask_numpy(backward, forward, motion_boundaries=False) == 0, uncovered)
    # the reverse flow read where the pixel came from, not where it is: swapping the two flows'
    # roles marks the strip in front of the square instead
    swapped = consistency_mask(flow_numpy_to_torch(forward), flow_numpy_to_torch(backward))[0, 0].numpy()
    assert not np.array_equal(swapped == 0, uncovered)


def test_warp_rejects_bad_shapes():
    with pytest.raises(ValueError):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError):
        warp_numpy(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))


def test_flow_functions_refuse_the_wrong_kind_of_argument_as_such():
    # a numpy flow where a tensor goes was an AttributeError (or "must be (B,2,H,W)") from inside;
    # an unknown padding a KeyError from the numpy warp
    flow_np, img = np.zeros((8, 8, 2), np.float32), torch.rand(1, 3, 8, 8)
    for call in (lambda: warp(img, flow_np), lambda: flow_to_grid(flow_np), lambda: in_view_mask(flow_np),
                 lambda: flow_torch_to_numpy(flow_np), lambda: motion_boundary_mask(flow_np),
                 lambda: grid_to_flow(np.zeros((1, 8, 8, 2), np.float32)),
                 lambda: warp(img.numpy(), torch.zeros(1, 2, 8, 8)),
                 lambda: flow_numpy_to_torch([[0.0, 0.0]]), lambda: valid_mask_numpy([[0.0, 0.0]]),
                 lambda: warp_numpy([[0]], flow_np)):
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, VidstyleError), info.value
    for call in (lambda: warp(img, torch.zeros(1, 2, 8, 8), padding_mode="wrap"),
                 lambda: warp_numpy(np.zeros((8, 8, 3), np.uint8), flow_np, padding_mode="wrap"),
                 lambda: warp((img * 255).to(torch.uint8), torch.zeros(1, 2, 8, 8))):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, VidstyleError), info.value


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_image_is_warped_in_float32(dtype):
    # the CPU's half-precision grid_sample gave NaN for an identity warp (torch 2.14), and half
    # precision pixel positions are off by up to half a pixel at 1080p
    img = torch.rand(1, 3, 200, 200).to(dtype)
    still = torch.zeros(1, 2, 200, 200)
    out = warp(img, still)
    assert out.dtype == dtype and torch.equal(out, warp(img.float(), still).to(dtype))
    assert torch.allclose(out.float(), img.float(), rtol=0, atol=1e-2)
    wide = torch.rand(1, 1, 4, 1920).to(dtype)
    shift = torch.zeros(1, 2, 4, 1920)
    shift[:, 0] = 1.0  # out[x] = img[x + 1]
    moved = warp(wide, shift)
    assert torch.allclose(moved[..., :-1].float(), wide[..., 1:].float(), rtol=0, atol=1e-2)


@pytest.mark.parametrize("padding", ["border", "zeros", "reflection"])
def test_torch_and_numpy_warps_agree(padding):
    rng = np.random.default_rng(0)
    img = rng.random((24, 31, 3)).astype(np.float32)
    flow = (rng.standard_normal((24, 31, 2)) * 4).astype(np.float32)
    ref = warp_numpy(img, flow, padding_mode=padding)
    out = warp(torch.from_numpy(img).permute(2, 0, 1)[None], flow_numpy_to_torch(flow), padding_mode=padding)
    out = out[0].permute(1, 2, 0).numpy()
    # cv2.remap uses 5-bit fixed-point interpolation weights: agree to ~1/32 of the local contrast
    assert np.abs(out - ref).max() < 0.04
    assert np.abs(out - ref).mean() < 0.005


def test_warp_gradcheck():
    img = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    # keep samples away from pixel centres, where bilinear interpolation is not differentiable
    flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64) * 2.6 - 1.3 + 0.25).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, f: warp(i, f, padding_mode="zeros"), (img, flow), eps=1e-6, atol=1e-5)


def test_flow_conversions_and_resize():
    flow = np.random.default_rng(1).standard_normal((7, 9, 2)).astype(np.float32)
    t = flow_numpy_to_torch(flow)
    assert t.shape == (1, 2, 7, 9)
    assert np.array_equal(flow_torch_to_numpy(t)[0], flow)
    const = np.full((10, 20, 2), (1.5, -2.0), np.float32)
    big = resize_flow(const, (20, 60))
    assert big.shape == (20, 60, 2)
    assert np.allclose(big[..., 0], 4.5) and np.allclose(big[..., 1], -4.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_flow_scales_each_component_by_its_own_ratio(dtype):
    # the same products as the plain NumPy formula, x by W / w and y by H / h, for either float type
    flow = (np.random.default_rng(2).standard_normal((18, 32, 2)) * 7).astype(dtype)
    out = resize_flow(flow, (45, 64))
    expected = cv2.resize(flow, (64, 45), interpolation=cv2.INTER_LINEAR)
    expected[..., 0] *= dtype(64 / 32)
    expected[..., 1] *= dtype(45 / 18)
    assert out.dtype == dtype and out.shape == (45, 64, 2)
    assert np.array_equal(out, expected)


def test_resize_flow_tensor_is_resize_flow_in_torch():
    import torch

    from vidstyle.flow.warp import resize_flow_tensor

    flow = (np.random.default_rng(3).standard_normal((18, 32, 2)) * 7).astype(np.float32)
    out = resize_flow_tensor(flow_numpy_to_torch(flow), (45, 64))
    assert out.shape == (1, 2, 45, 64)
    assert np.abs(flow_torch_to_numpy(out)[0] - resize_flow(flow, (45, 64))).max() < 1e-4
    same = flow_numpy_to_torch(flow)
    assert resize_flow_tensor(same, (18, 32)) is same
    with pytest.raises(VidstyleError, match=r"\(B, 2, H, W\)"):
        resize_flow_tensor(torch.zeros(1, 3, 4, 4), (8, 8))


@pytest.mark.parametrize("size, scale", [((10, 40), (2.0, 1.0)), ((30, 20), (1.0, 3.0))])
def test_a_flow_resized_along_one_side_only_has_that_sides_vectors_scaled(size, scale):
    # a stylized frame as tall as the flow but wider (or the other way round) is still another
    # size: the flow must be resized and its vectors scaled along the side that changed
    import torch

    from vidstyle.flow.warp import resize_flow_tensor

    const = np.full((10, 20, 2), (1.5, -2.0), np.float32)
    expected = np.full(size + (2,), (1.5 * scale[0], -2.0 * scale[1]), np.float32)
    assert np.allclose(resize_flow(const, size), expected)
    assert np.allclose(flow_torch_to_numpy(resize_flow_tensor(torch.from_numpy(const).permute(2, 0, 1)[None], size))[0],
                       expected)


# --- DIS against exact flow ------------------------------------------------------------------


@pytest.mark.parametrize("name,matrix,max_epe", [
    ("translation", about_centre(tx=3.4, ty=-2.2), 0.25),
    ("rotation", about_centre(angle_deg=2.0), 0.35),
    ("zoom", about_centre(scale=1.04), 0.35),
])
def test_dis_matches_exact_flow(name, matrix, max_epe):
    prev, cur, gt, inside = affine_pair(matrix)
    est = DISFlow("medium")(cur, prev)  # backward flow t -> t-1
    assert est.shape == (H, W, 2) and est.dtype == np.float32
    err = epe(est, gt, inside)
    assert err < max_epe, f"{name}: EPE {err:.3f}"
    # and warping the previous frame with it reproduces the current one
    warped = warp_numpy(prev, est).astype(np.float32)
    assert np.abs(warped - cur)[inside].mean() < 4.0


def test_dis_reduced_scale_and_presets():
    prev, cur, gt, inside = affine_pair(about_centre(tx=5.0, ty=3.0))
    for preset, scale, limit in (("fast", 0.5, 0.6), ("ultrafast", 1.0, 0.8)):
        est = DISFlow(preset, scale=scale)(cur, prev)
        assert est.shape == (H, W, 2)
        assert epe(est, gt, inside) < limit, (preset, scale)


@pytest.mark.parametrize("size", [(8, 8), (11, 11), (6, 40), (12, 8)])
def test_dis_on_frames_below_its_minimum_size(size):
    # OpenCV's DIS asserts a side of at least 12 pixels; tiny frames are upsampled for it, and the
    # flow comes back at the frames' own size with the vectors in their pixels
    h, w = size
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((h + 8, w + 8)).astype(np.float32), (0, 0), 1.5)
    texture = (255 * (texture - texture.min()) / (texture.max() - texture.min())).astype(np.uint8)
    prev = np.repeat(texture[4:4 + h, 4:4 + w, None], 3, axis=2)
    cur = np.repeat(texture[4:4 + h, 3:3 + w, None], 3, axis=2)  # the content moved 1 pixel right
    for scale in (1.0, 0.5):
        est = DISFlow("medium", scale=scale)(cur, prev)  # backward: each pixel of cur came from x - 1
        assert est.shape == (h, w, 2)
        # (0.15: an 8x8 frame runs at 32x32, where its one-pixel move is four pixels of a 4x blur)
        assert abs(est[..., 0].mean() + 1) < 0.15 and abs(est[..., 1].mean()) < 0.1, (scale, est.mean((0, 1)))


def test_dis_survives_short_wide_and_tall_narrow_frames():
    """OpenCV 5.1's DIS kills the process (SIGSEGV) on frames with a side of 16-31 pixels and a
    long other side with its fast presets (vidstyle stylize 320x48 with the default stabilizer
    died that way). Run in a child process, so a crash fails this test instead of the suite."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from vidstyle.flow.estimate import DISFlow\n"
        "from vidstyle.flow.stabilizer import FlowStabilizer\n"
        "rng = np.random.default_rng(0)\n"
        "for h, w in ((24, 320), (48, 640), (40, 1000), (320, 24), (20, 2000), (31, 96)):\n"
        "    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)\n"
        "    b = np.roll(a, 2, axis=1)\n"
        "    for preset in ('ultrafast', 'fast', 'medium'):\n"
        "        for scale in (1.0, 0.5):\n"
        "            assert DISFlow(preset, scale=scale)(a, b).shape == (h, w, 2)\n"
        "    FlowStabilizer().step(a, b, b)  # the stabilizer's own call: fast preset, half size\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr[-500:])


def test_estimator_registry_and_errors(tmp_path, monkeypatch):
    assert isinstance(create_flow_estimator("dis", preset="fast"), DISFlow)
    # a backend of the user's own plugs in by name, with its options
    from vidstyle.flow import estimate

    class Still(estimate.FlowEstimator):
        name = "still"

        def __init__(self, offset: float = 0.0):
            self.offset = offset

        def __call__(self, img0, img1):
            return np.full(img0.shape[:2] + (2,), self.offset, np.float32)

    monkeypatch.setattr(estimate, "FLOW_BACKENDS", dict(estimate.FLOW_BACKENDS))  # the registry is left as it was
    estimate.register_flow_backend("still", Still)
    est = create_flow_estimator("still", offset=2.0)
    img = np.zeros((6, 10, 3), np.uint8)
    assert isinstance(est, Still) and np.all(est(img, img) == 2.0) and est.torch(img, img).shape == (1, 2, 6, 10)
    with pytest.raises(VidstyleError):
        create_flow_estimator("nope")
    with pytest.raises(VidstyleError):
        DISFlow("slowest")
    with pytest.raises(VidstyleError):
        create_flow_estimator("raft", weights=tmp_path / "missing.pth")
    # RAFT without its weights (warping_error(flow="raft")) was a TypeError from its constructor
    with pytest.raises(TypeError, match="flow backend 'raft'.*weights") as info:
        create_flow_estimator("raft")
    assert isinstance(info.value, VidstyleError)
    for call in (lambda: create_flow_estimator("nope"), lambda: DISFlow("slowest"), lambda: DISFlow(scale=2)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError):
        DISFlow(scale="0.5")
    with pytest.raises(ValueError):
        DISFlow()(np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8))
    t = DISFlow("ultrafast").torch(*affine_pair(about_centre(tx=1.0))[:2])
    assert t.shape == (1, 2, H, W)


def test_raft_backend_with_user_weights(tmp_path):
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path / "raft_small.pth"
    torch.save(raft_small(weights=None).state_dict(), path)
    est = create_flow_estimator("raft", weights=path, size="small", device="cpu", iters=2)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (130, 140, 3), dtype=np.uint8)  # not a multiple of 8: padded and cropped
    flow = est(a, a)
    assert flow.shape == (130, 140, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    # a side under RAFT's 128 pixels (its correlation pyramid's) is enlarged for it, the flow scaled back
    assert est(a[:100, :60], a[:100, :60]).shape == (100, 60, 2)
    with pytest.raises(VidstyleError):
        create_flow_estimator("raft", weights=path, size="large")  # mismatched architecture


class _SpyRaft(torch.nn.Module):
    """Stands in for torchvision's RAFT: records its inputs and returns, as RAFT does, a list of
    flow refinements, the last one a known flow (channel 0 the column, channel 1 minus the row)."""

    def forward(self, image1, image2, num_flow_updates=12):
        self.inputs = (image1.clone(), image2.clone(), num_flow_updates)
        _, _, h, w = image1.shape
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
        return [torch.zeros(1, 2, h, w), torch.stack((xs, -ys))[None]]


def test_raft_gets_the_first_image_first_in_its_range_padded_and_its_flow_is_cropped_back():
    # random weights cannot tell these apart: img0 and img1 swapped (the flow of the wrong
    # direction), images left in [0, 1] (RAFT was trained on [-1, 1]), the iterations ignored
    from vidstyle.flow.estimate import RAFTFlow

    est = RAFTFlow.__new__(RAFTFlow)  # no weights file: only __call__ is under test
    est.device, est.iters, est.model = torch.device("cpu"), 5, _SpyRaft()
    rng = np.random.default_rng(0)
    img0, img1 = (rng.integers(0, 256, (130, 141, 3), dtype=np.uint8) for _ in range(2))
    flow = est(img0, img1)
    first, second, updates = est.model.inputs
    assert first.shape == second.shape == (1, 3, 136, 144)  # padded to multiples of 8
    expected0 = torch.from_numpy(img0).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    expected1 = torch.from_numpy(img1).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    assert torch.allclose(first[..., :130, :141], expected0, atol=1e-6)
    assert torch.allclose(second[..., :130, :141], expected1, atol=1e-6)
    assert updates == 5
    # the last refinement, cropped to the frame, as (H, W, 2)
    assert flow.shape == (130, 141, 2) and flow.dtype == np.float32
    assert np.array_equal(flow[..., 0], np.broadcast_to(np.arange(141, dtype=np.float32), (130, 141)))
    assert np.array_equal(flow[..., 1], -np.broadcast_to(np.arange(130, dtype=np.float32)[:, None], (130, 141)))


def test_raft_enlarges_a_side_under_its_minimum_and_scales_the_flow_back():
    """RAFT's correlation pyramid needs 128 pixels a side; the stabilizer runs its flow at half
    size, so `vidstyle stylize --flow-backend raft` on any video under 256 pixels high (320x240,
    426x240) stopped with "RAFT needs frames of at least 128x128 pixels, got 160x120", a size that
    was not the video's. As DIS below its 32 pixels: each short side is enlarged to 128, and the
    flow, resized back, is scaled to the frame's pixels."""
    from vidstyle.flow.estimate import RAFTFlow

    est = RAFTFlow.__new__(RAFTFlow)
    est.device, est.iters, est.model = torch.device("cpu"), 2, _SpyRaft()
    rng = np.random.default_rng(1)
    img0, img1 = (rng.integers(0, 256, (60, 200, 3), dtype=np.uint8) for _ in range(2))
    flow = est(img0, img1)
    first, second, _ = est.model.inputs
    assert first.shape == second.shape == (1, 3, 128, 200)  # only the short side enlarged
    assert flow.shape == (60, 200, 2) and flow.dtype == np.float32
    # the spy's flow on the enlarged grid is (x, -y) of its pixels: in the frame's, x and -y * 60 / 128
    expected = resize_flow(np.dstack(np.meshgrid(np.arange(200, dtype=np.float32),
                                                 -np.arange(128, dtype=np.float32))), (60, 200))
    assert np.allclose(flow, expected, atol=1e-4)


# --- masks ---------------------------------------------------------------------------------


def test_in_view_mask_matches_geometry():
    _, _, gt, inside = affine_pair(about_centre(angle_deg=3.0, scale=1.05, tx=4))
    mask = in_view_mask(flow_numpy_to_torch(gt))[0, 0].numpy()
    assert np.array_equal(mask > 0, inside)


def test_exact_flows_are_consistent_except_at_occlusions():
    _, _, gt_bw, visible, _ = occluder_pair()
    # exact forward flow of frame t-1: the negated motions of the regions at t-1
    ys, xs = np.mgrid[0:H, 0:W]
    radius, centre_prev = 32, np.array([W * 0.55, H * 0.5])
    on_obj_prev = (xs - centre_prev[0]) ** 2 + (ys - centre_prev[1]) ** 2 <= radius ** 2
    fw = np.empty((H, W, 2), np.float32)
    fw[...] = (-2.0, -1.0)
    fw[on_obj_prev] = (9.0, -4.0)
    cons = consistency_mask(flow_numpy_to_torch(gt_bw), flow_numpy_to_torch(fw))[0, 0].numpy() > 0
    inview = in_view_mask(flow_numpy_to_torch(gt_bw))[0, 0].numpy() > 0
    est_visible = cons & inview
    assert iou(~est_visible, ~visible) > 0.9


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_dis_occlusion_mask_finds_the_disocclusion():
    prev, cur, gt, visible, label = occluder_pair()
    dis = DISFlow("medium")
    bw, fw = dis(cur, prev), dis(prev, cur)
    valid = valid_mask_numpy(bw, fw, motion_boundaries=False) > 0
    occluded_gt, occluded_est = ~visible, ~valid
    assert iou(occluded_est, occluded_gt) > 0.4  # DIS smooths across edges: the mask is a little wide
    assert (occluded_est & occluded_gt).sum() / occluded_gt.sum() > 0.9  # the occlusions are caught
    assert (valid & visible).sum() / visible.sum() > 0.95  # and few visible pixels are lost
    # flow is accurate on what the mask keeps
    assert epe(bw, gt, valid & visible) < 0.5
    # motion boundaries sit on the disc's outline, not in the flat background
    mb = motion_boundary_mask(flow_numpy_to_torch(bw))[0, 0].numpy() > 0
    edge = cv2.dilate(label.astype(np.uint8), np.ones((15, 15), np.uint8)) - cv2.erode(
        label.astype(np.uint8), np.ones((15, 15), np.uint8))
    assert mb.sum() > 20
    assert (mb & (edge > 0)).sum() / mb.sum() > 0.7


def test_numpy_in_view_mask_is_exact_for_flow_leaving_through_the_left_and_top():
    """A camera moving right and down: the first columns and rows of frame t come from outside
    frame t-1 (x + flow < 0), and the numpy masks must drop exactly those, as the torch one does."""
    for matrix in (about_centre(tx=-4, ty=-3), about_centre(angle_deg=2.0, tx=-2.5, ty=-1.5)):
        _, _, gt, inside = affine_pair(matrix)
        ys, xs = np.mgrid[0:H, 0:W]
        src_x, src_y = xs + gt[..., 0], ys + gt[..., 1]
        # some pixels come from less than a pixel off the left edge, some from off the top edge
        assert ((src_x >= -1) & (src_x < 0)).any() and ((src_y >= -1) & (src_y < 0)).any()
        assert np.array_equal(in_view_mask_numpy(gt), inside)
        assert np.array_equal(in_view_mask(flow_numpy_to_torch(gt))[0, 0].numpy() > 0, inside)
        assert np.array_equal(valid_mask_numpy(gt, motion_boundaries=False) > 0, inside)


def test_a_still_flow_keeps_every_pixel_in_view_the_last_row_and_column_included():
    # x + flow = W - 1 is the centre of the last column, inside the frame: a `<` for a `<=` would
    # drop the last row and column of every static shot from the stabilizer's blend
    still = np.zeros((7, 9, 2), np.float32)
    assert in_view_mask_numpy(still).all()
    assert torch.equal(in_view_mask(flow_numpy_to_torch(still)), torch.ones(1, 1, 7, 9))
    assert np.array_equal(valid_mask_numpy(still, still), np.ones((7, 9), np.float32))
    # every pixel sent exactly onto the last column's (row's) centre is in view; a hair past it is not
    ys, xs = np.mgrid[0:7, 0:9].astype(np.float32)
    for axis, last in ((0, 8 - xs), (1, 6 - ys)):
        onto = np.zeros((7, 9, 2), np.float32)
        onto[..., axis] = last
        assert in_view_mask_numpy(onto).all(), axis
        assert bool(in_view_mask(flow_numpy_to_torch(onto)).all()), axis
        onto[..., axis] += 1e-3
        assert not in_view_mask_numpy(onto).any(), axis
        assert not bool(in_view_mask(flow_numpy_to_torch(onto)).any()), axis


def test_valid_masks_drop_motion_boundaries_unless_told_not_to():
    # a square moving 6 pixels over a still background: its edges are motion boundaries
    flow = np.zeros((40, 40, 2), np.float32)
    flow[12:28, 12:28, 0] = 6.0
    t = flow_numpy_to_torch(flow)
    boundary = motion_boundary_mask(t)[0, 0].numpy() > 0
    assert boundary.any() and in_view_mask_numpy(flow)[boundary].all()
    for mask in (valid_mask(t)[0, 0].numpy(), valid_mask_numpy(flow)):
        assert not mask[boundary].any() and mask[~boundary].all()
    assert valid_mask(t, motion_boundaries=False).min() == 1.0


def test_numpy_motion_boundaries_are_the_torch_ones():
    """Without the reverse flow no bilinear sampling is involved: the numpy motion-boundary test
    (same alpha and beta) must mark the same pixels as the torch one, up to a rounding flip or two."""
    prev, cur, _, _, _ = occluder_pair()
    bw = DISFlow("fast")(cur, prev)
    ref = valid_mask(flow_numpy_to_torch(bw), None, motion_boundaries=True)[0, 0].numpy()
    got = valid_mask_numpy(bw, None, motion_boundaries=True)
    boundaries = motion_boundary_mask(flow_numpy_to_torch(bw))[0, 0].numpy() > 0
    assert boundaries.sum() > 500  # the disc's edge and DIS's patchy flow
    assert (got != ref).sum() <= 5


def test_numpy_and_torch_masks_agree():
    prev, cur, _, _, _ = occluder_pair()
    dis = DISFlow("fast")
    bw, fw = dis(cur, prev), dis(prev, cur)
    for reverse, boundaries in ((fw, True), (fw, False), (None, True), (None, False)):
        ref = valid_mask(flow_numpy_to_torch(bw), None if reverse is None else flow_numpy_to_torch(reverse),
                         motion_boundaries=boundaries)[0, 0].numpy()
        got = valid_mask_numpy(bw, reverse, motion_boundaries=boundaries)
        assert got.shape == (H, W) and got.dtype == np.float32
        # the two bilinear samplers differ in the last bits: only pixels right at a threshold may flip
        assert (got == ref).mean() > 0.995
    assert np.array_equal(in_view_mask_numpy(bw), in_view_mask(flow_numpy_to_torch(bw))[0, 0].numpy() > 0)
