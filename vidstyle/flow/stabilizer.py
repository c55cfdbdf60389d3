"""Flow-guided temporal stabilizer: blend each stylized frame with the previous output, warped by
the input frames' optical flow, wherever the pixel is visible in both frames.

The work is split so a pipeline can overlap it with the network:

* :meth:`FlowStabilizer.estimate` (prev_input, cur_input) -> :class:`FlowState` | None depends only on
  the *input* frames (flow at reduced resolution, occlusion mask, scene-cut test), so it can run in
  its own stage, ahead of or beside the stylizer;
* :meth:`FlowStabilizer.apply` (stylized, state) -> output is cheap and stateful (it keeps the
  previous output) and must be called once per frame, in frame order.

``out_t = (1 - s M) * stylized_t + s M * warp(out_{t-1}, flow_{t->t-1})`` with s = strength and M
the soft visibility mask; a scene cut (``state is None``) restarts from the stylized frame.

Averaging two brush textures that do not line up exactly flattens them (and every bilinear warp of
the previous output softens it a little more): with the plain blend the style loss of the output
rose by up to 29 points above the per-frame network's on the temporal benchmark's clips. So by default (``keep_contrast``) the blend
is rescaled about its local mean to the local standard deviation of the stylized frame
(:func:`contrast_preserving_blend`, the variance-preserving blending of texture synthesis, e.g.
Heitz & Neyret 2018): it keeps the blend's temporally smoothed structure at the painting's contrast.
Above strength 0.5, what the next frame is blended with (``out_{t-1}`` above, its history) is that
blend with less of its contrast raised back, none from 0.7 (:func:`history_gain`): raised again
frame after frame, it grew a pattern of its own. Both blends then cost a frame's blend each.
"""
from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidstyle.config import DEFAULT_TEMPORAL_STRENGTH, check_flag, check_number
from vidstyle.device import usable_cores
from vidstyle.errors import BadTypeError, BadValueError
from vidstyle.flow.estimate import FlowEstimator, create_flow_estimator
from vidstyle.flow.occlusion import in_view_mask_numpy, valid_mask_numpy
from vidstyle.flow.warp import resize_flow, resize_flow_tensor, warp, warp_numpy
from vidstyle.frames import LUMA_WEIGHTS, check_image, luminance


_RGB_MEAN = np.full((1, 3), 1.0 / (3 * 255.0), np.float32)

#: A scene cut: the previous input frame warped by the flow differs from the current one by more
#: than this mean absolute RGB error (in [0, 1]) where it is in view, ...
CUT_THRESHOLD = 0.1
#: ... or fewer than this share of the pixels pass the forward-backward check. (The stabilizer's
#: defaults, and what `vidstyle eval` leaves out of the warping error.)
MIN_VALID_FRACTION = 0.3
#: A pixel whose flow points less than this many pixels past the outer pixels' centres is in view
#: for the blend weight: it lies on the frame and reads the edge pixel there. Codec noise gives a
#: still shot's DIS flow hundredths of a pixel, some of it pointing out at the edges: counted out
#: of view (weight 0), 76% of the left column of a 320x192 still shot's flow was, and the erosion
#: widened that into a band about 3 flow pixels (6 of the frame's) deep that was never steadied.
IN_VIEW_MARGIN = 0.5


def is_scene_cut(warped_prev: np.ndarray, current: np.ndarray, backward: np.ndarray, valid: np.ndarray,
                 cut_threshold: float = CUT_THRESHOLD, min_valid_fraction: float = MIN_VALID_FRACTION) -> bool:
    """Whether input frames t-1 and t are two shots: ``warped_prev`` (frame t-1 warped onto t by
    the (H, W, 2) ``backward`` flow) and ``current``, uint8 (H, W, 3); ``valid`` (H, W) the
    forward-backward check's mask."""
    error = _in_view_error(_mean_abs_rgb(warped_prev, current), backward)
    return _is_cut(error, float(np.mean(valid)), cut_threshold, min_valid_fraction)


def _in_view_error(error: np.ndarray, backward: np.ndarray) -> float:
    """The mean of the (H, W) ``error`` over the pixels the (H, W, 2) ``backward`` flow keeps in
    view; 1 (the worst) when it keeps none."""
    in_view = in_view_mask_numpy(backward)
    return float(error[in_view].mean()) if in_view.any() else 1.0


def _is_cut(photometric_error: float, valid_fraction: float, cut_threshold: float, min_valid_fraction: float) -> bool:
    """The scene-cut test of :func:`is_scene_cut` and :meth:`FlowStabilizer.estimate`, on its two measures."""
    return photometric_error > cut_threshold or valid_fraction < min_valid_fraction


def _mean_abs_rgb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute RGB difference in [0, 1] of two uint8 (H, W, 3) images -> (H, W) float32.
    (One OpenCV channel transform; numpy's mean over the last axis is ~10x slower on a frame.)"""
    return cv2.transform(cv2.absdiff(a, b).astype(np.float32), _RGB_MEAN)


#: Rec. 601 luma weights as a (1, 3) cv2.transform matrix: the brightness whose contrast is kept
_LUMA = np.array([LUMA_WEIGHTS], np.float32)


def _check_blend_args(warped: np.ndarray, current: np.ndarray, weight: np.ndarray) -> None:
    if warped.shape != current.shape or current.ndim != 3 or current.shape[2] != 3 or \
            weight.shape != current.shape[:2]:
        raise BadValueError(f"expected two (H, W, 3) images and an (H, W) weight, got {warped.shape}, "
                            f"{current.shape}, {weight.shape}")


#: The most :func:`contrast_preserving_blend` raises a blend's contrast by.
MAX_CONTRAST_GAIN = 2.0
#: Strengths up to which the stabilizer keeps the blend with its contrast restored as the next
#: frame's history, and from which it keeps the plain blend (:func:`history_gain`).
BOOSTED_HISTORY_UP_TO, PLAIN_HISTORY_FROM = 0.5, 0.7


def history_gain(strength: float, max_gain: float = MAX_CONTRAST_GAIN) -> float:
    """The most contrast gain the stabilizer keeps in its history at ``strength`` (its output
    always gets ``max_gain``).

    The output is the next frame's history, and the history comes back warped (bilinear: a little
    blurred) and weighted by the strength, so a structure the gain raises comes back raised
    again: a loop whose gain is up to ``strength * max_gain``. Past 1 it grows a pattern of its
    own out of nothing: at strength 0.7 and above, dots of light and dark about the box window
    apart formed over 10-20 frames in flat and blurred areas (a road, an out-of-focus background;
    also from fresh noise on flat grey, with no network at all). So from
    :data:`BOOSTED_HISTORY_UP_TO` to :data:`PLAIN_HISTORY_FROM` the history's gain falls to 1 (the
    plain blend), and the loop's gain stays under 1. Up to 0.5, every bundled style's strength and
    the default, it is ``max_gain``: the stabilizer does there what its measurements measured.
    """
    fade = (strength - BOOSTED_HISTORY_UP_TO) / (PLAIN_HISTORY_FROM - BOOSTED_HISTORY_UP_TO)
    return 1.0 + (max_gain - 1.0) * (1.0 - min(1.0, max(0.0, fade)))


def contrast_preserving_blend(warped: np.ndarray, current: np.ndarray, weight: np.ndarray, window: int = 15,
                              max_gain: float = MAX_CONTRAST_GAIN) -> np.ndarray:
    """``weight * warped + (1 - weight) * current``, with its brightness contrast raised back to
    that of ``current``: the blend's luma deviation from its local mean (a ``window`` x ``window``
    box) is scaled so its local standard deviation is ``current``'s, and the change is added to
    the three channels alike.

    Brightness only, not colour: scaling each channel's own deviation (one gain, or a gain per
    channel) also scaled its noise, and as each output becomes the next frame's history the
    scaled noise compounded into saturated magenta, cyan and yellow specks at strengths of 0.9 to
    1. Adding one luma offset to R, G and B leaves the blend's colour differences as they are
    (up to clipping at 0 and 255, which on a saturated colour moves its hue a little).

    Args:
        warped, current: uint8 (H, W, 3) images.
        weight: (H, W) float32 in [0, 1], the share of ``warped``.
        max_gain: the contrast is only ever raised back, by at most this factor (flat areas, where
            both deviations are tiny, are left alone).
    Returns:
        uint8 (H, W, 3). Where ``weight`` is 0 in the whole window, exactly ``current``.
    """
    _check_blend_args(warped, current, weight)
    cur = current.astype(np.float32)
    blend = cur + cv2.merge([weight] * 3) * (warped.astype(np.float32) - cur)
    box = (window, window)
    # in place where possible: each temporary is a frame-sized float array, and without
    # vidstyle.memory.keep_freed_memory (e.g. a library caller) each one costs page faults. The
    # order of the float32 operations is kept, so the result is bit for bit the plain formula's
    # ``blend + (gain - 1) * (luma_b - mean_lb)``, rounded (tests/test_stabilizer.py)
    luma_b, luma_c = cv2.transform(blend, _LUMA), cv2.transform(cur, _LUMA)
    mean_lb, mean_lc = cv2.blur(luma_b, box), cv2.blur(luma_c, box)
    var_b = cv2.blur(luma_b * luma_b, box)
    var_b -= mean_lb * mean_lb
    var_c = cv2.blur(luma_c * luma_c, box)
    var_c -= mean_lc * mean_lc
    # 1.0: below a variance of one grey level squared there is no texture to keep
    np.maximum(var_c, 1.0, out=var_c)
    np.maximum(var_b, 1.0, out=var_b)
    var_c /= var_b
    gain = np.clip(cv2.sqrt(var_c), 1.0, max_gain, out=var_c)
    gain -= 1.0
    luma_b -= mean_lb
    luma_b *= gain  # the luma to add back: (gain - 1) * the blend's luma deviation
    # to the three channels as a 3-channel plane: NumPy's broadcast of (H, W, 1) onto (H, W, 3)
    # walks the frame element by element, about twice the time of merge plus add (the same sums)
    cv2.add(blend, cv2.merge([luma_b] * 3), dst=blend)
    blend += 0.5  # then truncation by astype: rounds to the nearest integer, halves up
    return np.clip(blend, 0, 255, out=blend).astype(np.uint8)


def _box_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over each ``window`` x ``window`` box of ``x`` (B, 1, H, W), edges mirrored without
    repeating the edge pixel as ``cv2.blur`` does (BORDER_REFLECT_101, torch's "reflect"; a
    frame side under ``window // 2 + 1`` repeats its edge instead). Two 1-D passes."""
    r = window // 2
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    x = F.avg_pool2d(F.pad(x, (r, r, 0, 0), mode=mode), (1, window), stride=1)
    return F.avg_pool2d(F.pad(x, (0, 0, r, r), mode=mode), (window, 1), stride=1)


def plain_blend_tensor(warped: torch.Tensor, current: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``weight * warped + (1 - weight) * current`` in whole levels, as ``cv2.blendLinear`` computes
    it (its normalisation by the weights' sum and its rounding), so that :meth:`FlowStabilizer.apply`
    and :meth:`FlowStabilizer.apply_tensor` agree to the level. Float (B, 3, H, W) images in 0..255,
    (B, 1, H, W) weight."""
    rest = 1.0 - weight
    return ((warped * weight + current * rest) / (weight + rest + 1e-5)).round_().clamp_(0.0, 255.0)


def contrast_preserving_blend_tensor(warped: torch.Tensor, current: torch.Tensor, weight: torch.Tensor,
                                     window: int = 15, max_gain: float = MAX_CONTRAST_GAIN) -> torch.Tensor:
    """:func:`contrast_preserving_blend` in torch, where the frames are (a GPU).

    Args:
        warped, current: float (B, 3, H, W) RGB with values in 0..255.
        weight: float (B, 1, H, W) in [0, 1], the share of ``warped``.
    Returns:
        float (B, 3, H, W): the blend, rounded to whole levels in 0..255. The same formula as the
        NumPy one; it differs from it only by float32 summation order (a level at a rounding edge).
    """
    if warped.shape != current.shape or current.ndim != 4 or current.shape[1] != 3 or \
            weight.shape != (current.shape[0], 1, *current.shape[2:]):
        raise BadValueError(f"expected two (B, 3, H, W) images and a (B, 1, H, W) weight, got "
                            f"{tuple(warped.shape)}, {tuple(current.shape)}, {tuple(weight.shape)}")
    blend = current + weight * (warped - current)
    luma_b, luma_c = luminance(blend), luminance(current)
    mean_lb, mean_lc = _box_mean(luma_b, window), _box_mean(luma_c, window)
    var_b = (_box_mean(luma_b * luma_b, window) - mean_lb * mean_lb).clamp_min_(1.0)
    var_c = (_box_mean(luma_c * luma_c, window) - mean_lc * mean_lc).clamp_min_(1.0)
    gain = (var_c / var_b).sqrt_().clamp_(1.0, max_gain)
    blend += (gain - 1.0) * (luma_b - mean_lb)
    return blend.add_(0.5).clamp_(0.0, 255.0).floor_()


#: Frames of at least this many pixels are blended in row bands on several threads
#: (:func:`banded_blend`); smaller ones in one piece (640x360 takes 3 ms).
BAND_MIN_PIXELS = 1280 * 720
#: At most this many bands (and blend threads).
MAX_BLEND_BANDS = 8
#: :func:`contrast_preserving_blend` makes about 23 float32 planes the size of what it is given
#: (the three channels of five temporaries, eight one-channel ones): 380 MB for a band of half a
#: 4K frame, two bands at once on two cores. :func:`banded_blend` blends a band this many pixels
#: at a time at most (a 1080p frame's two bands each in one piece), so a 4K frame's blend holds
#: about 100 MB a thread, for 14 rows more computed a piece (its neighbours' rows it reads).
BLEND_PIECE_PIXELS = 1 << 20

_blend_pool: ThreadPoolExecutor | None = None
_blend_pool_lock = threading.Lock()


def _forget_blend_pool() -> None:
    """In a forked child (a DataLoader or multiprocessing worker): the parent's pool threads do
    not exist there, but the pool believes they are idle and starts none, so a blend waited
    forever. The child makes its own pool when it first needs one."""
    global _blend_pool, _blend_pool_lock
    _blend_pool, _blend_pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_blend_pool)


def blend_bands(height: int, width: int, cores: int | None = None) -> int:
    """How many row bands :func:`banded_blend` splits a ``width`` x ``height`` frame into.

    :func:`contrast_preserving_blend` is mostly NumPy arithmetic on whole frames, which runs on one
    core: 38-53 ms a 1080p frame on a 2-core EPYC whether OpenCV has one thread or two
    (benchmarks/RESULTS.md, twenty-ninth session), and on the H200 machine the stabilize stage,
    at 128 ms a 1080p frame, was the slowest of the pipeline. Half the usable ``cores`` (the rest
    decode, estimate flow and encode), at least 2 and at most :data:`MAX_BLEND_BANDS`; one band
    for frames under :data:`BAND_MIN_PIXELS` and on one core. Two bands on two cores: the blend
    of a 1080p frame in 30-31 ms instead of 38-50 in one piece, and `vidstyle stylize` at 1080p 2.8
    frames/s instead of 2.7 (light network, stabilizer on, three rounds each)."""
    cores = usable_cores() if cores is None else cores
    if height * width < BAND_MIN_PIXELS or cores < 2:
        return 1
    return max(1, min(MAX_BLEND_BANDS, max(2, cores // 2), height // 64))


def banded_blend(warped: np.ndarray, current: np.ndarray, weight: np.ndarray, bands: int,
                 window: int = 15, max_gain: float = MAX_CONTRAST_GAIN) -> np.ndarray:
    """:func:`contrast_preserving_blend` of uint8 (H, W, 3) ``warped`` and ``current`` by the (H, W)
    ``weight``, computed in ``bands`` horizontal bands on a thread pool (NumPy and OpenCV let go of
    the GIL on whole arrays), each band in pieces of at most :data:`BLEND_PIECE_PIXELS` one after
    another (so are frames larger than that with one band). Each piece reads ``window // 2`` rows
    of its neighbours, all its box filters need, so the result is the one-piece blend's (bit for
    bit in the tests)."""
    _check_blend_args(warped, current, weight)  # the whole frames', before they are cut into bands
    height, width = current.shape[:2]
    piece_rows = max(2 * window, BLEND_PIECE_PIXELS // max(width, 1))  # (rows a piece: its memory)
    if height < 2 * window or (bands <= 1 and height <= piece_rows):
        return contrast_preserving_blend(warped, current, weight, window, max_gain)
    halo = window // 2
    out = np.empty_like(current)

    def blend_band(top: int, bottom: int) -> None:
        # piece by piece, one after another: the band's temporaries are a piece's, not the band's
        # (pieces of even height: no sliver of a few rows at the end)
        pieces = np.linspace(top, bottom, -(-(bottom - top) // piece_rows) + 1).round().astype(int)
        for start, stop in zip(pieces[:-1], pieces[1:]):
            lo, hi = max(0, start - halo), min(height, stop + halo)
            piece = contrast_preserving_blend(warped[lo:hi], current[lo:hi], weight[lo:hi], window, max_gain)
            out[start:stop] = piece[start - lo:stop - lo]

    if bands <= 1:  # one thread: the frame in pieces on this one
        blend_band(0, height)
        return out
    global _blend_pool
    with _blend_pool_lock:
        if _blend_pool is None:
            _blend_pool = ThreadPoolExecutor(MAX_BLEND_BANDS, thread_name_prefix="vidstyle-blend")
    edges = np.linspace(0, height, min(bands, MAX_BLEND_BANDS) + 1).round().astype(int)
    try:
        futures = [_blend_pool.submit(blend_band, top, bottom) for top, bottom in zip(edges[:-1], edges[1:])]
    except RuntimeError:  # the interpreter is shutting down (an atexit handler, a daemon thread): no new work
        return contrast_preserving_blend(warped, current, weight, window, max_gain)
    for future in futures:
        future.result()  # (re-raises a band's error here)
    return out


#: At most this many frame pairs are estimated at once (:func:`flow_workers`).
MAX_FLOW_WORKERS = 8


def flow_workers(cores: int | None = None) -> int:
    """How many consecutive frame pairs the pipeline's flow stage estimates at once, each on its own
    thread with its own flow estimator: one per usable core, at most :data:`MAX_FLOW_WORKERS`.

    A pair's estimate depends only on the two input frames, so pairs need not wait for each other.
    OpenCV's own threads inside one DIS call keep two cores only partly busy: on a 2-core EPYC,
    pairs of 1080p frames took 27-30 ms each one after another and 22-24 ms two at a time,
    640x360 ones 3.7-3.9 and 2.3-2.8 ms (benchmarks/RESULTS.md, thirty-second session). The stage's bounded queue keeps
    the workers at most a queue's length ahead of the network; idle, they cost nothing."""
    cores = usable_cores() if cores is None else cores
    return max(1, min(MAX_FLOW_WORKERS, cores))


def brightness_change(warped_prev: np.ndarray, current: np.ndarray, matched: np.ndarray) -> float:
    """|log| of the ratio of two frames' mean brightness over the pixels the flow matched:
    ``warped_prev`` (the previous frame warped onto the current one) and ``current``, uint8
    (H, W, 3), ``matched`` (H, W) bool. 0 when nothing changed but the motion; about the step of
    a fade otherwise (0.05-0.2 a frame in a 20-frame fade from black). One grey level is added to
    both means, so frames near black do not divide by zero.

    The means are OpenCV's masked ones (the mean of the three channel means is the mean over
    every matched value): NumPy's boolean indexing copied the matched pixels first, 14 ms for the
    flow's 960x540 of a 1080p frame against 1.5."""
    mask = np.ascontiguousarray(matched, dtype=bool).view(np.uint8)
    if not cv2.countNonZero(mask):
        return 0.0
    prev_mean = sum(cv2.mean(warped_prev, mask)[:3]) / 3 + 1.0
    cur_mean = sum(cv2.mean(current, mask)[:3]) / 3 + 1.0
    return abs(math.log(cur_mean / prev_mean))


#: The fade gate acts on the mean brightness change of this many frame pairs, the current one and
#: those before it since the last cut (:meth:`FlowStabilizer.apply`).
FADE_PAIRS = 3


def _gate(change: float, tolerance: float) -> float:
    """The share of the blend left at a brightness ``change`` past ``tolerance``: 1 there, 1/e at
    twice it (a Gaussian fall-off, as for fades)."""
    return math.exp(-(((change - tolerance) / tolerance) ** 2))


#: the blend weight above which a pixel counts in the drift gate's brightness comparison (one the
#: flow and the occlusion test trust), one value for apply() and apply_tensor(), which must agree
DRIFT_WEIGHT = 0.5


def _drift_step(size: tuple[int, int]) -> int:
    """Every how many rows and columns the drift gate reads a frame of ``size`` (H, W): about 90
    rows and more are plenty for a mean brightness; reading all of a 1080p frame took 17 ms on the
    development CPU (2-core AMD EPYC), every 12th row and column of it 0.4."""
    return max(1, min(size) // 90)


def _drift_gate_tensor(warped: torch.Tensor, current: torch.Tensor, matched: torch.Tensor,
                       tolerance: float) -> torch.Tensor:
    """:func:`brightness_change` of (1, 3, H, W) ``warped`` and ``current`` over the (1, 1, H, W)
    bool ``matched`` pixels, as :func:`_gate`'s factor: a (1, 1, 1, 1) tensor, exactly 1 up to
    ``tolerance``. Computed on the device, so the host never waits for it."""
    count = (matched.sum() * 3).clamp(min=1)
    prev_mean = (warped * matched).sum() / count + 1.0
    cur_mean = (current * matched).sum() / count + 1.0
    change = torch.log(cur_mean / prev_mean).abs()
    factor = torch.exp(-(((change - tolerance) / tolerance) ** 2))
    return torch.where(change > tolerance, factor, torch.ones_like(factor)).reshape(1, 1, 1, 1)


@dataclass(frozen=True)
class FlowState:
    """What :meth:`FlowStabilizer.apply` needs to bring the previous output onto frame t.

    Attributes:
        flow: (h, w, 2) float32 backward flow t -> t-1 at the reduced flow resolution (in its pixels).
        weight: (h, w) float32 in [0, 1]: visible in both frames and photometrically consistent.
        photometric_error: mean |I_t - warp(I_{t-1})| (RGB in [0, 1]) over in-view pixels.
        valid_fraction: share of pixels whose flow passed the occlusion tests.
        brightness_change: :func:`brightness_change` of the frames (0: none).
    """

    flow: np.ndarray
    weight: np.ndarray
    photometric_error: float
    valid_fraction: float
    brightness_change: float = 0.0


def _check_state(state) -> None:
    """A BadTypeError unless ``state`` is :meth:`FlowStabilizer.estimate`'s result or None."""
    if state is not None and not isinstance(state, FlowState):
        raise BadTypeError(f"state must be a FlowState from FlowStabilizer.estimate, or None, "
                           f"got {type(state).__name__}")


class FlowStabilizer:
    """Temporal stabilizer for a stream of stylized frames (see the module docstring).

    Args:
        strength: 0..1, the weight of the warped previous output; 0 is the identity, more removes
            more flicker but risks ghosting where the flow is wrong.
        flow_scale: flow is computed at this fraction of the input resolution (0.5: 320x180 for
            640x360 input), then upsampled. The occlusion tests (Ruder et al.'s constants) run at
            that resolution, in its pixels: at 0.5 their 0.5 px² of tolerated forward-backward
            mismatch is 2 px² of the input's, as loose as the coarser flow is imprecise.
        preset: DIS preset (``ultrafast`` | ``fast`` | ``medium``).
        cut_threshold: a scene cut is declared when the mean absolute RGB error (in [0, 1]) of the
            warped previous input exceeds this; the stabilizer then restarts.
        min_valid_fraction: also a cut when fewer pixels than this share survive the occlusion test.
        photometric_tolerance: per-pixel RGB error (in [0, 1]) at which a pixel's blend weight has
            fallen to 1/e; keeps lighting changes and flow mistakes from ghosting.
        fade_tolerance: a global brightness change between the frames (|log| of the ratio of
            their mean brightness over the pixels the flow matched, averaged over the last
            :data:`FADE_PAIRS` pairs since a cut) up to which the blend is left as it is; past it
            the blend fades out, reaching 1/e at twice this. In a fade to or
            from black the previous output is the wrong brightness, and DIS's patch-wise flow on
            dim, flat frames is blocky: blending it in painted box-shaped patches into flat areas.
            Motion alone does not trip it (the ratio is over matched pixels): on the temporal
            benchmark's clips the largest value is 0.019 (bikes), against 0.05-0.2 a frame in a
            20-frame fade.
        drift_tolerance: how far (|log| of the ratio of mean brightness over the blended pixels) the
            warped previous output may have drifted from the stylized frame before the blend fades
            out as for a fade (1/e at twice this). Without it a slow change of light, a few percent
            a frame and so under ``fade_tolerance``, left a strong blend behind: at strength 1 the
            output kept the first frame's brightness through a fade to half of it. At the bundled
            styles' own strengths it changes nothing on the temporal benchmark's clips
            (``benchmarks/drift_gate_check.py``: every bundled style, the first 48 frames of each,
            bit for bit). Read on every few rows and columns (:func:`_drift_step`).
        keep_contrast: restore the stylized frame's local contrast after blending
            (:func:`contrast_preserving_blend`); False gives the plain blend, smoother but flatter.
        flow: the flow backend (:func:`vidstyle.flow.estimate.create_flow_estimator`'s name:
            ``dis``, ``raft`` or one registered with ``register_flow_backend``), or ``None`` for DIS.
        flow_options: its options (DIS: ``preset`` unless given here; RAFT: ``weights``, the file
            the user supplies, and ``size``, ``device``, ``iters``).

    One instance serves one stream. :meth:`estimate` is pure and thread-safe (each thread gets
    its own flow estimator, unless the backend says one can be shared: DIS keeps scratch buffers in
    its object, torchvision's RAFT its correlation pyramid), so consecutive pairs can be estimated on
    several threads at once (the pipeline's flow stage does: :func:`flow_workers`);
    :meth:`apply` keeps the previous output and is called from one thread, in frame order.
    """

    @property
    def thread_safe_estimate(self) -> bool:
        """Whether :meth:`estimate` may run on several threads at once (the pipeline asks): this
        class's own is pure, if its flow backend allows an estimator per thread (DIS; not RAFT,
        see :attr:`~vidstyle.flow.estimate.FlowEstimator.parallel`); a subclass's own ``estimate``
        might keep state, so it gets one thread (even one that only calls ``super()``; the helpers
        it calls, such as ``_small``, are not looked at). Read-only: a subclass that knows better
        overrides the property."""
        return self._parallel and getattr(type(self), "estimate") is _OWN_METHODS["estimate"]

    @property
    def applies_to_tensors(self) -> bool:
        """Whether :meth:`apply_tensor` does what :meth:`apply` does, so frames may be blended where
        they are (a GPU): not for a subclass that overrides either, whose ``apply`` is then used."""
        return all(getattr(type(self), name) is _OWN_METHODS[name] for name in ("apply", "apply_tensor"))

    def __init__(self, strength: float = DEFAULT_TEMPORAL_STRENGTH, flow_scale: float = 0.5, preset: str = "fast",
                 cut_threshold: float = CUT_THRESHOLD, min_valid_fraction: float = MIN_VALID_FRACTION,
                 photometric_tolerance: float = 0.1,
                 keep_contrast: bool = True, fade_tolerance: float = 0.025, drift_tolerance: float = 0.04,
                 flow: str | None = None, flow_options: Mapping | None = None):
        # each refused when given: "0.5" or None would otherwise fail a comparison with a bare
        # TypeError at the first frame, and the tolerances divide (0: NaN weights, a black frame)
        check_number("temporal strength", strength, "a number between 0 and 1", lambda v: 0.0 <= v <= 1.0,
                     optional=False)
        check_number("flow scale", flow_scale, "a number in (0, 1]", lambda v: 0.0 < v <= 1.0, optional=False)
        for name, value, what, in_range in (  # infinity: never a cut, no gate on fades or colours
                ("cut_threshold", cut_threshold, "a number >= 0", lambda v: v >= 0),
                ("min_valid_fraction", min_valid_fraction, "a number between 0 and 1", lambda v: 0 <= v <= 1),
                ("photometric_tolerance", photometric_tolerance, "a number > 0", lambda v: v > 0),
                ("fade_tolerance", fade_tolerance, "a number > 0", lambda v: v > 0),
                ("drift_tolerance", drift_tolerance, "a number > 0", lambda v: v > 0)):
            check_number(name, value, what, in_range, optional=False, finite=False)
        keep_contrast = check_flag("keep_contrast", keep_contrast)
        if flow_options is not None and not isinstance(flow_options, Mapping):  # "x" was a ValueError from dict()
            raise BadTypeError(f"flow_options must be a dict of the flow backend's options (or None), got "
                               f"{type(flow_options).__name__}")
        self.strength, self.flow_scale = float(strength), float(flow_scale)
        self.cut_threshold, self.min_valid_fraction = float(cut_threshold), float(min_valid_fraction)
        self.photometric_tolerance = float(photometric_tolerance)
        self.fade_tolerance, self.drift_tolerance = float(fade_tolerance), float(drift_tolerance)
        self.keep_contrast = keep_contrast
        self.preset = preset
        self.flow = "dis" if flow is None else flow
        self.flow_options = dict(flow_options or {})
        if self.flow == "dis":
            self.flow_options.setdefault("preset", preset)
        self._local = threading.local()  # each estimating thread's own estimator (see _flow)
        # built here, so an unknown preset or a missing weights file fails now, not at the first pair
        self._local.flow = create_flow_estimator(self.flow, **self.flow_options)
        self._parallel = self._local.flow.parallel
        # one estimator for every thread where it may be shared, or where estimates run one at a
        # time (thread_safe_estimate False): a network's weights are then read once, not per thread
        self._shared = self._local.flow if self._local.flow.shareable or not self._parallel else None
        self._prev_output: np.ndarray | torch.Tensor | None = None  # apply()'s or apply_tensor()'s
        self._cores: int | None = None  # usable_cores(), read at the first blend (it reads a file)
        self._fades: deque[float] = deque(maxlen=FADE_PAIRS)  # the last pairs' brightness changes (_fade_gate)

    # --- pure part: input frames only ---------------------------------------------------------

    @property
    def _flow(self) -> FlowEstimator:
        """This thread's flow estimator (made at its first pair), or the one all threads share."""
        if self._shared is not None:
            return self._shared
        estimator = getattr(self._local, "flow", None)
        if estimator is None:
            estimator = self._local.flow = create_flow_estimator(self.flow, **self.flow_options)
        return estimator

    def _small(self, img: np.ndarray) -> np.ndarray:
        if self.flow_scale == 1.0:
            return img
        h, w = img.shape[:2]
        size = (max(8, round(w * self.flow_scale)), max(8, round(h * self.flow_scale)))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    def estimate(self, prev_input: np.ndarray, cur_input: np.ndarray) -> FlowState | None:
        """Flow, visibility weights and cut test for input frames t-1 and t (uint8 RGB (H, W, 3)).

        Returns None at a scene cut (or when the frame size changes): :meth:`apply` then resets.
        """
        check_image(prev_input)  # here, not after the downscale: the message names the frames as given
        check_image(cur_input)
        if prev_input.shape != cur_input.shape:
            return None
        prev_s, cur_s = self._small(prev_input), self._small(cur_input)
        backward = self._flow(cur_s, prev_s)
        forward = self._flow(prev_s, cur_s)
        valid = valid_mask_numpy(backward, forward, motion_boundaries=True, in_view_margin=IN_VIEW_MARGIN)
        warped_prev = warp_numpy(prev_s, backward)
        err = _mean_abs_rgb(warped_prev, cur_s)
        photometric_error, valid_fraction = _in_view_error(err, backward), float(valid.mean())
        if _is_cut(photometric_error, valid_fraction, self.cut_threshold, self.min_valid_fraction):
            return None
        fade = brightness_change(warped_prev, cur_s, valid.astype(bool))  # valid pixels are in view
        # Flow is least reliable right next to occlusions: widen them by a pixel, then soften the
        # edge so the blend has no seam; and trust pixels less as their warped input disagrees.
        # A pixel whose source lies outside the previous frame is new picture (entering at the
        # edge in a pan), no occlusion: its neighbours read the previous frame as reliably as the
        # interior does. So the erosion and the blur see only the pixels in view: out of view is
        # no occluder, and is left out of the blur's average (it is 0 itself). One column out of
        # view made a ramp of 0.25 and 0.75 of the weight beside it: the edge where new picture
        # enters was steadied less than the rest. With every pixel in view, as before to the bit.
        in_view = in_view_mask_numpy(backward, IN_VIEW_MARGIN).astype(np.float32)
        inner = cv2.erode(np.maximum(valid, 1.0 - in_view), np.ones((3, 3), np.uint8)) * in_view
        seen = cv2.GaussianBlur(in_view, (3, 3), 0)
        soft = np.divide(cv2.GaussianBlur(inner, (3, 3), 0), seen, out=np.zeros_like(seen), where=in_view > 0)
        weight = soft * np.exp(-((err / self.photometric_tolerance) ** 2))
        return FlowState(flow=backward, weight=weight.astype(np.float32),
                         photometric_error=photometric_error, valid_fraction=valid_fraction,
                         brightness_change=fade)

    # --- stateful part: called in frame order -------------------------------------------------

    def _fade_gate(self, state: FlowState | None) -> float:
        """The share of the blend the fade gate leaves for the frame whose ``state`` this is: 1 up
        to ``fade_tolerance``, then :func:`_gate`'s fall-off, of the mean brightness change of the
        last :data:`FADE_PAIRS` pairs (since the last cut). One pair's change is the fade's step
        plus the codec's: in an H.264 fade (crf 12) its B-frames came out about half a level
        brighter than its P-frames, so in a steady dimming of 4% a frame one pair's change went
        0.019-0.058, across the gate's steepest part, and the blend weight from 0.15 to 0.87 and
        back from frame to frame (crisp and steadied frames in turn). The mean follows the fade."""
        if state is None:
            self._fades.clear()
            return 1.0
        self._fades.append(state.brightness_change)
        fade = sum(self._fades) / len(self._fades)
        return _gate(fade, self.fade_tolerance) if fade > self.fade_tolerance else 1.0

    def apply(self, stylized: np.ndarray, state: FlowState | None) -> np.ndarray:
        """Blend ``stylized`` (uint8 RGB (H', W', 3)) with the warped previous output (above
        strength 0.5, with less of its raised contrast: :func:`history_gain`).

        ``state`` is :meth:`estimate`'s result for this frame; None (first frame, scene cut) passes
        the frame through and restarts from it. The stylized frame may differ in size from the
        input frames: flow and weights are resized to it. The result is the caller's to change
        (or ``stylized`` itself when nothing was blended); the stabilizer keeps its own copy.
        """
        check_image(stylized)
        _check_state(state)
        fade = self._fade_gate(state)
        prev = self._prev_output
        if isinstance(prev, torch.Tensor):  # the previous frame went through apply_tensor()
            prev = prev[0].permute(1, 2, 0).to("cpu", torch.uint8).numpy()
        if state is None or prev is None or prev.shape != stylized.shape or self.strength == 0.0:
            # a copy: the caller may reuse its buffer for the next frame, or draw on this one
            self._prev_output = stylized.copy()
            return stylized
        size = stylized.shape[:2]
        flow = resize_flow(state.flow, size)
        weight = cv2.resize(state.weight, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        warped = warp_numpy(prev, flow)
        w = self.strength * weight
        if fade < 1.0:  # (otherwise the weight is left bit for bit as it was)
            w = w * np.float32(fade)
        step = _drift_step(size)
        drift = brightness_change(np.ascontiguousarray(warped[::step, ::step]),
                                  np.ascontiguousarray(stylized[::step, ::step]), weight[::step, ::step] > DRIFT_WEIGHT)
        if drift > self.drift_tolerance:  # (below it the weight is left bit for bit as it was)
            w = w * np.float32(_gate(drift, self.drift_tolerance))
        history = None
        if self.keep_contrast:
            if self._cores is None:
                self._cores = usable_cores()
            bands = blend_bands(*size, cores=self._cores)
            out = banded_blend(warped, stylized, w, bands)
            gain = history_gain(self.strength)
            if gain == 1.0:
                history = cv2.blendLinear(warped, stylized, w, 1.0 - w)
            elif gain < MAX_CONTRAST_GAIN:
                history = banded_blend(warped, stylized, w, bands, max_gain=gain)
        else:
            out = cv2.blendLinear(warped, stylized, w, 1.0 - w)  # w * warped + (1 - w) * stylized, in uint8
        # The caller owns what is returned (an overlay drawn on it must not blend into the next
        # frames), so the stabilizer remembers its own copy (about 0.1 ms a 640x360 frame).
        self._prev_output = out.copy() if history is None else history
        return out

    def guide_tensors(self, state: FlowState, device: str | torch.device, pin_memory: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``state``'s flow and weight as tensors on ``device`` for :meth:`apply_tensor`: (1, 2, h, w)
        and (1, 1, h, w) float32, at the flow's resolution (:meth:`apply_tensor` resizes them).
        With ``pin_memory`` the copies go through page-locked memory and do not block the host:
        call it on the stream that should carry them."""
        pair = []
        for array in (state.flow, state.weight[..., None]):
            host = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            if pin_memory:
                host = host.pin_memory()  # one copy on the host; the channels are moved first on the device
            pair.append(host.to(device, non_blocking=pin_memory).permute(2, 0, 1)[None].contiguous())
        return pair[0], pair[1]

    def apply_tensor(self, stylized: torch.Tensor, state: FlowState | None,
                     guides: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """:meth:`apply` for a frame that is a tensor, on the device where it is (a GPU): the warp
        (``grid_sample``), the resizes and the blend (:func:`contrast_preserving_blend_tensor`) run
        there, and the previous output stays there.

        The previous output stays on the device between calls: call it from one thread on one
        stream, in frame order (work queued on one stream runs in order; nothing here orders two).

        Args:
            stylized: float (1, 3, H, W) RGB in 0..255 whole levels (the network's output rounded as
                it would be for 8 bits). Any float dtype; the warp and blend run in float32 (a
                pixel position in half precision would be off by whole pixels at 1080p).
            state: :meth:`estimate`'s result for this frame, or None (first frame, scene cut).
            guides: ``state``'s :meth:`guide_tensors` on the frame's device, if already copied there.
        Returns:
            float (1, 3, H, W) in 0..255 whole levels (``stylized`` itself when nothing was blended).
            It agrees with :meth:`apply` to within a level where the warp samples between pixels
            (OpenCV's uint8 remap interpolates in fixed point); as each frame's blend is the next
            one's history the two drift apart by a few levels at most (4 over the tests' 16 frames).
        """
        if not isinstance(stylized, torch.Tensor):
            raise BadTypeError(f"expected a float (1, 3, H, W) tensor, got {type(stylized).__name__}")
        if stylized.ndim != 4 or stylized.shape[:2] != (1, 3) or not stylized.is_floating_point():
            raise BadValueError(f"expected a float (1, 3, H, W) tensor, got {stylized.dtype} {tuple(stylized.shape)}")
        _check_state(state)
        fade = self._fade_gate(state)
        prev = self._prev_output
        if isinstance(prev, np.ndarray):  # the previous frame went through apply()
            prev = torch.from_numpy(prev).to(stylized.device).permute(2, 0, 1)[None].float()
        if state is None or prev is None or prev.shape != stylized.shape or self.strength == 0.0:
            self._prev_output = stylized.detach().float().clone()
            return stylized
        flow, weight = guides if guides is not None else self.guide_tensors(state, stylized.device)
        size = tuple(stylized.shape[-2:])
        flow, weight = resize_flow_tensor(flow.float(), size), weight.float()
        if weight.shape[-2:] != size:  # bilinear with pixel centres, as cv2.resize's INTER_LINEAR
            weight = F.interpolate(weight, size=size, mode="bilinear", align_corners=False)
        warped = warp(prev.float(), flow).round_()  # (as remap's uint8 result)
        current = stylized.float()
        step = _drift_step(size)  # the pixels apply() reads, so the two agree
        gate = _drift_gate_tensor(warped[..., ::step, ::step], current[..., ::step, ::step],
                                  weight[..., ::step, ::step] > DRIFT_WEIGHT, self.drift_tolerance)
        share = self.strength * weight * gate
        if fade < 1.0:
            share = share * fade
        history = None
        if self.keep_contrast:
            out = contrast_preserving_blend_tensor(warped, current, share)
            gain = history_gain(self.strength)
            if gain == 1.0:
                history = plain_blend_tensor(warped, current, share)
            elif gain < MAX_CONTRAST_GAIN:
                history = contrast_preserving_blend_tensor(warped, current, share, max_gain=gain)
        else:
            out = plain_blend_tensor(warped, current, share)
        self._prev_output = out.clone() if history is None else history  # the caller may change what it is given
        return out.to(stylized.dtype)

    def step(self, prev_input: np.ndarray | None, cur_input: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """:meth:`estimate` then :meth:`apply`, for callers without a separate flow stage.

        ``prev_input`` is None for the first frame.
        """
        state = None if prev_input is None else self.estimate(prev_input, cur_input)
        return self.apply(stylized, state)

    def reset(self) -> None:
        """Forget the previous output (e.g. after a seek); the next frame passes through."""
        self._prev_output = None
        self._fades.clear()


#: FlowStabilizer's own methods, which its subclasses may override (see thread_safe_estimate)
_OWN_METHODS = {name: FlowStabilizer.__dict__[name] for name in ("estimate", "apply", "apply_tensor")}
