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

import logging
from typing import Callable, Sequence

import torch
import torch.nn as nn

from vidstyle.errors import VidstyleError

INSTALL_HINT = "pip install 'torchao>=0.18'"


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


def quantize_int8(model: nn.Module, calibration: Sequence[torch.Tensor]) -> nn.Module:
    """An int8 copy of ``model`` calibrated on ``calibration``.

    Args:
        model: an fp32 network in eval mode (folded for inference, see
            :func:`vidstyle.models.transformer.fold_for_inference`); not modified.
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
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
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
