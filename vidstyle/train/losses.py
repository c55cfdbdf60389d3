"""Perceptual losses on loss-network activations (Gatys et al. 2015; Johnson et al. 2016).

All losses are *relative* (normalised by the magnitude of their target) so that one default
weight works across layers, styles and loss networks: a style loss of 1.0 means the output's Gram
matrices are as far from the painting's as the painting's are from zero.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix (B, C, C) of (B, C, H, W) features, divided by C*H*W (computed in fp32).

    ``G[b, i, j] = sum_p F[b, i, p] F[b, j, p] / (C H W)``.
    """
    b, c, h, w = features.shape
    # fp32 even under autocast: sums over H*W products overflow fp16
    with torch.autocast(features.device.type, enabled=False):
        f = features.float().reshape(b, c, h * w)
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def _relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error divided by the mean square of the target, shape (B,)."""
    dims = tuple(range(1, x.ndim))
    err = (x.float() - target.float()).pow(2).mean(dim=dims)
    scale = target.float().pow(2).mean(dim=dims).clamp_min(1e-12)
    return err / scale


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
               layer_weights: Mapping[str, float] | None = None, reduce: bool = True) -> torch.Tensor:
    """Sum over layers of the relative squared Gram distance.

    Args:
        features: layer -> (B, C, H, W) activations of the output.
        target_grams: layer -> (1 or B, C, C) Gram matrices of the style (one per sample allows a
            different style per sample in multi-style training).
        layer_weights: layer -> weight (default 1 for each layer in ``target_grams``).
        reduce: mean over the batch (scalar) or per-sample losses (B,).
    """
    total = None
    for layer, target in target_grams.items():
        w = 1.0 if layer_weights is None else layer_weights.get(layer, 1.0)
        g = gram_matrix(features[layer])
        per_sample = _relative_mse(g, target.expand_as(g))
        total = w * per_sample if total is None else total + w * per_sample
    if total is None:
        raise ValueError("no style layers")
    return total.mean() if reduce else total


def content_loss(features: Mapping[str, torch.Tensor], target_features: Mapping[str, torch.Tensor],
                 layers: Sequence[str], reduce: bool = True) -> torch.Tensor:
    """Sum over ``layers`` of the relative squared feature distance (targets are detached)."""
    total = None
    for layer in layers:
        per_sample = _relative_mse(features[layer], target_features[layer].detach())
        total = per_sample if total is None else total + per_sample
    if total is None:
        raise ValueError("no content layers")
    return total.mean() if reduce else total


def total_variation(x: torch.Tensor, reduce: bool = True) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of (B, C, H, W) images (anisotropic TV)."""
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().float().mean(dim=(1, 2, 3))
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().float().mean(dim=(1, 2, 3))
    per_sample = dh + dw
    return per_sample.mean() if reduce else per_sample
