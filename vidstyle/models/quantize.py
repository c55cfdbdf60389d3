"""Static int8 quantization of a style network for the CPU.

The network is captured with ``torch.export``, annotated by torchao's x86 inductor quantizer
(int8 weights per output channel, uint8 activations per tensor with ranges from a histogram of
calibration frames), converted, and compiled by inductor with frozen weights, which lowers every
convolution to oneDNN's int8 kernel (VNNI dot products: about twice the multiply-adds per cycle of
bf16). The norms, paddings and depth-to-space stay in fp32 between the quantized convolutions.

Activations are quantized with ranges measured on calibration frames, so calibrate on frames of
the video being stylized (:meth:`vidstyle.stylizer.Stylizer.calibrate`; the file pipeline picks
frames spread over the input). Accuracy and speed: benchmarks/RESULTS.md.
"""
from __future__ import annotations

import copy
import logging
from typing import Callable, Sequence

import torch
import torch.nn as nn

from vidstyle.device import cpu_has_vnni
from vidstyle.errors import VidstyleError
from vidstyle.models.transformer import (ConditionalInstanceNorm2d, ConvLayer, InstanceNorm2d, SpaceToDepthConv,
                                         SubpixelUpsampleConv, TransformerNet, UpsampleConv)

INSTALL_HINT = "pip install 'torchao>=0.18'"


def require_torchao() -> None:
    """Fail early, in one line, when torchao is not installed (before any video work starts)."""
    import importlib.util

    if importlib.util.find_spec("torchao") is None:
        raise VidstyleError(f"--precision int8 needs torchao; install it with: {INSTALL_HINT}")


def _torchao_pt2e():
    """torchao's PT2E quantization entry points, or a VidstyleError that says how to install it."""
    # importing torchao registers an Enum with torch's pytree and torch logs a deprecation warning
    # for it on every run: not the user's concern
    pytree_log = logging.getLogger("torch.utils._pytree")
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq
    except ImportError as exc:
        raise VidstyleError(f"--precision int8 needs torchao ({exc}); install it with: {INSTALL_HINT}") from None
    finally:
        pytree_log.setLevel(level)
    return prepare_pt2e, convert_pt2e, xiq


def _consumer_conv(module: nn.Module) -> tuple[nn.Conv2d, int]:
    """The convolution inside a layer that reads a quantized activation, and how many input
    channels of it each activation channel feeds (4 for the space-to-depth head: one per phase)."""
    if isinstance(module, SpaceToDepthConv):
        # equalize_channels scales those 4 as (phase, channel) blocks: the order ONNX export's
        # to_channel_major() changes
        if not module.phase_major:
            raise ValueError("equalize_channels needs the phase-major SpaceToDepthConv")
        return module.conv, 4
    if isinstance(module, SubpixelUpsampleConv):
        return module.conv, 1
    if isinstance(module, UpsampleConv):
        return module.conv[-1], 1
    if isinstance(module, ConvLayer):
        return module[-1], 1
    raise TypeError(f"not a convolution layer: {type(module).__name__}")


def _equalization_groups(model: TransformerNet) -> list[tuple[list[nn.Module], list[nn.Module]]]:
    """(norms, layers): the norms whose outputs make up the activation the layers read.

    Scaling channel c of those norms' affine parameters by 1/s_c scales that activation's channel
    c by 1/s_c (the ReLU after a norm, the paddings and the residual sums all commute with a
    positive per-channel scale); multiplying the layers' input-channel c weights by s_c undoes it.
    The residual stream is one group: the last encoder norm and every block's second norm write
    it, every block's first convolution and the decoder read it.
    """
    def chain(seq: nn.Sequential) -> list[tuple[list[nn.Module], list[nn.Module]]]:
        layers = list(seq)
        return [([layers[i]], [layers[i + 2]]) for i in range(len(layers) - 2)
                if isinstance(layers[i], (InstanceNorm2d, ConditionalInstanceNorm2d))
                and isinstance(layers[i + 1], nn.ReLU)]

    groups = chain(model.encoder)
    blocks = list(model.residuals)
    groups.append(([list(model.encoder)[-2]] + [b.norm2 for b in blocks], [b.conv1 for b in blocks] + [model.decoder[0]]))
    groups += [([b.norm1], [b.conv2]) for b in blocks]
    groups += chain(model.decoder)
    decoder = list(model.decoder)
    groups.append(([decoder[-2]], [model.head]))
    return groups


def equalize_channels(model: TransformerNet, calibration: Sequence[torch.Tensor], alpha: float = 0.5) -> TransformerNet:
    """Balance the per-channel ranges of the activations that int8 quantizes, in place; the
    network computes the same function (to rounding).

    Activations are quantized with one scale per tensor, so a few wide channels make the steps
    coarse for all the others; the rounding noise then changes from frame to frame as the content
    moves (more flicker). As in SmoothQuant (Xiao et al. 2023), channel c of an activation is divided by
    ``s_c = r_c ** alpha / w_c ** (1 - alpha)`` (``r_c``: its largest magnitude on the calibration
    frames, ``w_c``: the largest weight reading it) and the weights reading it multiplied by s_c.
    Standard (non-separable, full-resolution) :class:`TransformerNet` layouts only; others are
    returned unchanged.
    """
    if model.arch_args.get("separable") or model.shuffle != 1 or not len(model.decoder):
        return model
    groups = _equalization_groups(model)
    consumers = [c for _, layers in groups for c in layers]
    peak: dict[int, torch.Tensor] = {}

    def record(module, inputs):
        x = inputs[0].detach().abs().amax(dim=(0, 2, 3)).float()
        peak[id(module)] = torch.maximum(peak[id(module)], x) if id(module) in peak else x

    handles = [c.register_forward_pre_hook(record) for c in consumers]
    try:
        with torch.no_grad():
            for batch in calibration:
                model(batch)
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        for norms, layers in groups:
            act = torch.stack([peak[id(c)] for c in layers]).amax(0)
            weights = []
            for layer in layers:
                conv, phases = _consumer_conv(layer)
                w = conv.weight.detach().abs().amax(dim=(0, 2, 3)).float()
                weights.append(w.reshape(phases, -1).amax(0))
            wmax = torch.stack(weights).amax(0)
            scale = act.clamp_min(1e-8) ** alpha / wmax.clamp_min(1e-8) ** (1 - alpha)
            scale = torch.where((act > 0) & (wmax > 0), scale, torch.ones_like(scale))
            scale = scale / scale.log().mean().exp()  # geometric mean 1: same overall magnitude
            for norm in norms:
                norm.weight.div_(scale.to(norm.weight.dtype))
                norm.bias.div_(scale.to(norm.bias.dtype))
            for layer in layers:
                conv, phases = _consumer_conv(layer)
                conv.weight.mul_(scale.repeat(phases).to(conv.weight.dtype)[None, :, None, None])
    return model


def quantize_int8(model: nn.Module, calibration: Sequence[torch.Tensor]) -> nn.Module:
    """An int8 copy of ``model`` calibrated on ``calibration``.

    Args:
        model: an fp32 network in eval mode (folded for inference, see
            :func:`vidstyle.models.transformer.fold_for_inference`); not modified. A
            :class:`TransformerNet` has its channels equalized first (:func:`equalize_channels`).
        calibration: (B, 3, H, W) fp32 batches, all of one shape: the shape the result is
            specialised to (call it with that shape only).

    Returns:
        The converted module. Called eagerly it simulates int8 in fp32 (slow; a reference); run it
        through :func:`compile_int8` for speed.
    """
    if not calibration:
        raise ValueError("int8 calibration needs at least one batch")
    shape = calibration[0].shape
    if len(shape) != 4 or shape[1] != 3 or any(c.shape != shape for c in calibration):
        raise ValueError(f"calibration batches must all be (B, 3, H, W) of one shape, got "
                         f"{[tuple(c.shape) for c in calibration]}")
    prepare_pt2e, convert_pt2e, xiq = _torchao_pt2e()
    if isinstance(model, TransformerNet):
        model = equalize_channels(copy.deepcopy(model), calibration)
    quantizer = xiq.X86InductorQuantizer()
    # Without VNNI, oneDNN multiplies uint8 by int8 with vpmaddubsw, whose int16 sums of two
    # products saturate for activations above 127: 7-bit activations then, as torchao advises
    # (mean error from fp32 on an AVX2-only Zen 3: benchmarks/RESULTS.md, CPU D)
    reduce_range = not cpu_has_vnni()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config(reduce_range=reduce_range))
    with torch.no_grad():
        graph = torch.export.export(model.eval(), (calibration[0],)).module()
        observed = prepare_pt2e(graph, quantizer)
        for batch in calibration:
            observed(batch)
        return convert_pt2e(observed)


def compile_int8(quantized: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Compile a :func:`quantize_int8` module; the first call compiles (10-30 s on 2 cores).

    Inductor lowers the quantized convolutions to oneDNN's int8 kernels only with frozen
    weights (``freezing``); without it they would run as fp32 convolutions between quantize and
    dequantize steps. The setting is applied around each call rather than globally, so that other
    compiled networks in the process keep their own settings (and a recompilation freezes too).
    """
    import torch._inductor.config as inductor_config

    compiled = torch.compile(quantized, dynamic=False)

    def run(x: torch.Tensor) -> torch.Tensor:
        with inductor_config.patch(freezing=True):
            return compiled(x)

    return run
