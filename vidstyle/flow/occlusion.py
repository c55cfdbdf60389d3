"""Occlusion and reliability masks for a backward flow (Ruder et al., "Artistic style transfer for
videos", GCPR 2016).

All masks are float tensors (B, 1, H, W) on the pixel grid of the frame the flow is defined on;
``valid`` masks are 1 where the pixel is visible in both frames (and the flow can be trusted) and
0 elsewhere. Numpy wrappers take (H, W, 2) flows and return (H, W) masks (float32;
:func:`in_view_mask_numpy`'s is bool).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from vidstyle.errors import BadValueError
from vidstyle.flow.warp import _check_flow, _check_flow_numpy, flow_to_map, pixel_coords, warp

#: Ruder et al.'s motion-boundary test, ``|grad u|^2 + |grad v|^2 > alpha |w|^2 + beta``: the
#: default of :func:`motion_boundary_mask` and what :func:`valid_mask_numpy` applies
MOTION_BOUNDARY_ALPHA, MOTION_BOUNDARY_BETA = 0.01, 0.002


def in_view_mask(flow: torch.Tensor) -> torch.Tensor:
    """1 where ``x + flow[x]`` lands inside the other frame (0 <= x <= W-1, 0 <= y <= H-1).

    flow (B, 2, H, W) -> mask (B, 1, H, W).
    """
    _check_flow(flow)
    _, _, h, w = flow.shape
    pos = pixel_coords(h, w, flow.device, flow.dtype) + flow
    inside = (pos[:, :1] >= 0) & (pos[:, :1] <= w - 1) & (pos[:, 1:] >= 0) & (pos[:, 1:] <= h - 1)
    return inside.to(flow.dtype)


def consistency_mask(flow: torch.Tensor, flow_reverse: torch.Tensor, alpha: float = 0.01,
                     beta: float = 0.5) -> torch.Tensor:
    """Forward-backward consistency: 1 where the two flows undo each other, 0 at occlusions.

    Args:
        flow: (B, 2, H, W) flow defined on this frame, e.g. backward ``flow_{t->t-1}``.
        flow_reverse: (B, 2, H, W) the opposite direction, e.g. forward ``flow_{t-1->t}``.
        alpha, beta: Ruder et al.'s tolerance: inconsistent where
            ``|w + w~|^2 > alpha (|w|^2 + |w~|^2) + beta`` with ``w~(x) = flow_reverse(x + w(x))``.
    Returns:
        (B, 1, H, W) mask (1 = consistent).
    """
    _check_flow(flow)
    _check_flow(flow_reverse, "flow_reverse")
    if flow.shape != flow_reverse.shape:
        raise BadValueError(f"flow {tuple(flow.shape)} and flow_reverse {tuple(flow_reverse.shape)} differ")
    back = warp(flow_reverse, flow)  # flow_reverse read where each pixel came from
    err = (flow + back).pow(2).sum(1, keepdim=True)
    tol = alpha * (flow.pow(2).sum(1, keepdim=True) + back.pow(2).sum(1, keepdim=True)) + beta
    return (err <= tol).to(flow.dtype)


def motion_boundary_mask(flow: torch.Tensor, alpha: float = MOTION_BOUNDARY_ALPHA,
                         beta: float = MOTION_BOUNDARY_BETA) -> torch.Tensor:
    """1 on motion boundaries: ``|grad u|^2 + |grad v|^2 > alpha |w|^2 + beta`` (Ruder et al.).

    Flow is unreliable there (it blurs across the edge of a moving object).
    flow (B, 2, H, W) -> mask (B, 1, H, W) with 1 = boundary.
    """
    _check_flow(flow)
    # central differences, replicated at the border
    pad = torch.nn.functional.pad(flow, (1, 1, 1, 1), mode="replicate")
    dx = (pad[..., 1:-1, 2:] - pad[..., 1:-1, :-2]) / 2
    dy = (pad[..., 2:, 1:-1] - pad[..., :-2, 1:-1]) / 2
    grad2 = (dx.pow(2) + dy.pow(2)).sum(1, keepdim=True)
    return (grad2 > alpha * flow.pow(2).sum(1, keepdim=True) + beta).to(flow.dtype)


def valid_mask(flow: torch.Tensor, flow_reverse: torch.Tensor | None = None, *, motion_boundaries: bool = True,
               alpha: float = 0.01, beta: float = 0.5) -> torch.Tensor:
    """The pixels of this frame visible in both frames with a trustworthy flow: 1 = valid.

    Combines :func:`in_view_mask`, :func:`consistency_mask` (when ``flow_reverse`` is given) and,
    optionally, the complement of :func:`motion_boundary_mask`.
    flow, flow_reverse (B, 2, H, W) -> (B, 1, H, W).
    """
    mask = in_view_mask(flow)
    if flow_reverse is not None:
        mask = mask * consistency_mask(flow, flow_reverse, alpha, beta)
    if motion_boundaries:
        mask = mask * (1 - motion_boundary_mask(flow))
    return mask


def in_view_mask_numpy(flow: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """:func:`in_view_mask` for an (H, W, 2) numpy flow; returns an (H, W) bool mask. ``margin``:
    as :func:`valid_mask_numpy`'s ``in_view_margin``."""
    _check_flow_numpy(flow)
    return _in_view(flow_to_map(flow), margin)


def _in_view(positions: np.ndarray, margin: float = 0.0) -> np.ndarray:
    h, w = positions.shape[:2]
    x, y = cv2.split(positions)
    return (x >= -margin) & (x <= w - 1 + margin) & (y >= -margin) & (y <= h - 1 + margin)


def valid_mask_numpy(flow: np.ndarray, flow_reverse: np.ndarray | None = None, *, motion_boundaries: bool = True,
                     alpha: float = 0.01, beta: float = 0.5, in_view_margin: float = 0.0) -> np.ndarray:
    """:func:`valid_mask` for (H, W, 2) numpy flows, with OpenCV/numpy (no torch: cheaper on the
    CPU at video-frame sizes); returns an (H, W) float32 mask. Same tests, same thresholds;
    ``in_view_margin``: how far (pixels) past the outer pixels' centres a position still counts
    as in view (0.5: anywhere on the frame's area, where a sample reads the edge pixel it lies on).

    Works on the two flow components as separate contiguous planes (the interleaved (H, W, 2)
    layout makes every numpy operation strided, about twice as slow at 320x180).
    """
    _check_flow_numpy(flow)
    flow = flow.astype(np.float32, copy=False)
    positions = flow_to_map(flow)
    mask = _in_view(positions, in_view_margin)
    fx, fy = cv2.split(flow)
    mag2 = fx * fx + fy * fy
    if flow_reverse is not None:
        _check_flow_numpy(flow_reverse)
        if flow_reverse.shape != flow.shape:
            raise BadValueError(f"flow {flow.shape} and flow_reverse {flow_reverse.shape} differ")
        bx, by = cv2.split(cv2.remap(flow_reverse.astype(np.float32, copy=False), positions, None, cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE))
        sx, sy = fx + bx, fy + by
        mask &= sx * sx + sy * sy <= alpha * (mag2 + bx * bx + by * by) + beta
    if motion_boundaries:
        # central differences with the border replicated: OpenCV's 1x3 / 3x1 derivative kernel
        grad2 = np.zeros_like(mag2)
        for plane in (fx, fy):
            for dx, dy in ((1, 0), (0, 1)):
                d = cv2.Sobel(plane, cv2.CV_32F, dx, dy, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
                grad2 += d * d
        mask &= ~(grad2 > MOTION_BOUNDARY_ALPHA * mag2 + MOTION_BOUNDARY_BETA)
    return mask.astype(np.float32)
