"""Gatys et al. (2015) style transfer by optimising the pixels: the slow quality reference.

Uses exactly the losses of training (:class:`vidstyle.train.loop.LossComputer`), so a trained
network's losses on a photo can be compared with the losses reached by direct optimisation.
The pixels are optimised as they are, kept near [0, 1] by a steep penalty (:func:`out_of_range`),
and the result is clamped to [0, 1]; the losses returned are the clamped image's. Optimised through
a sigmoid instead (until the 44th session), black and white pixels barely moved: the sigmoid's
slope there is a 250th of mid-grey's, so a photo's shadows and highlights stayed unpainted, and at
20 L-BFGS iterations the optimisation's style loss was 6% higher. Clamping inside the loss is no
cure: a pixel pushed past a bound gets no gradient there and never comes back.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vidstyle.device import is_out_of_memory, resolve_device
from vidstyle.errors import VidstyleError, first_line, printable
from vidstyle.frames import resize_rgba, tensor_to_images
from vidstyle.io.files import check_output_file, write_then_rename
from vidstyle.io.images import IMAGE_OUTPUT_FORMATS, check_still, keeps_transparency, write_image
from vidstyle.models.lossnets import LossNetwork, load_loss_network
from vidstyle.train.config import ANIMATED_PHOTO_ADVICE, MAX_IMAGE_SIZE, OptimizeConfig, check_image_output_name
from vidstyle.train.data import load_style_image, resized_short_side
from vidstyle.frames import images_to_tensor




#: Weight of :func:`out_of_range` in the optimised loss. The #3 reference (20 held-out photos at
#: 128 px, 20 L-BFGS iterations, light_starry_night's losses) reached a style loss of 0.632 at 100,
#: 0.623 at 1000 and 0.611 at 10000 (0.664 through the sigmoid before).
RANGE_WEIGHT = 1000.0


def out_of_range(x: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of ``x``'s values from [0, 1]: a smooth wall that keeps the pixels in
    range without a flat side (clamped pixels get no gradient and never come back)."""
    return ((x - 1.0).clamp_min(0.0).square() + (-x).clamp_min(0.0).square()).mean()


def optimize_image(content: torch.Tensor, losses, style_index: int = 0, steps: int = 150, optimizer: str = "lbfgs",
                   lr: float | None = None, init: str = "content", content_weight: float = 1.0,
                   style_weight: float = 0.5, tv_weight: float = 0.3, seed: int = 0,
                   on_evaluation: Callable[[], None] | None = None) -> tuple[torch.Tensor, dict]:
    """Optimise (B, 3, H, W) images in [0, 1] starting from ``content`` (or noise).

    ``losses`` is a :class:`vidstyle.train.loop.LossComputer`; ``on_evaluation`` is called after
    each evaluation of the loss and its gradient (progress). Returns the result (B, 3, H, W) in
    [0, 1] and its final unweighted losses (means over the batch).
    """
    if optimizer not in ("lbfgs", "adam"):
        raise VidstyleError(f"unknown optimizer {optimizer!r} (use lbfgs or adam)")
    if init == "content":
        start = content.clone()
    elif init == "noise":
        g = torch.Generator().manual_seed(seed)
        start = torch.rand(content.shape, generator=g).to(content.device)
    else:
        raise VidstyleError(f"unknown init {init!r} (use content or noise)")
    param = start.contiguous().requires_grad_(True)  # (L-BFGS views the gradient flat)
    index = torch.full((content.shape[0],), style_index, device=content.device, dtype=torch.long)
    targets = losses.content_targets(content)  # the photo's features, the same at every evaluation

    def objective(final: bool = False) -> tuple[torch.Tensor, dict]:
        x = param.clamp(0.0, 1.0) if final else param
        parts = losses(x, content, index, targets=targets)
        total = content_weight * parts["content"] + style_weight * parts["style"] + tv_weight * parts["tv"]
        if not final:
            total = total + RANGE_WEIGHT * out_of_range(param)
        if on_evaluation is not None and not final:
            on_evaluation()
        return total, parts

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([param], lr=lr or 1.0, max_iter=steps, history_size=50,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

        def closure():
            opt.zero_grad()
            total, _ = objective()
            total.backward()
            return total

        opt.step(closure)
    else:
        opt = torch.optim.Adam([param], lr=lr or 0.02)
        for _ in range(steps):
            opt.zero_grad()
            total, _ = objective()
            total.backward()
            opt.step()
    with torch.no_grad():
        _, parts = objective(final=True)
    return param.detach().clamp(0.0, 1.0), {k: float(v) for k, v in parts.items()}


def build_losses(net: LossNetwork, style_images: list[torch.Tensor], content_layers: list[str],
                 style_layers: dict[str, float]):
    from vidstyle.train.loop import LossComputer

    return LossComputer(net, content_layers, style_layers, style_images)


def max_evaluations(steps: int, optimizer: str) -> int:
    """How many loss evaluations ``steps`` iterations make at most (L-BFGS's line search evaluates
    more than once per iteration, up to PyTorch's default of 1.25 per iteration)."""
    return steps * 5 // 4 if optimizer == "lbfgs" else steps


def optimize_file(config: OptimizeConfig, output: str | Path, overwrite: bool = False,
                  progress: bool = False) -> dict:
    """Stylize the photo ``config.content`` by optimisation and write it to ``output``; returns the
    losses. ``progress``: a bar of loss evaluations on stderr."""
    output = Path(output)
    config.validate()
    # in an existing folder, as stylize's outputs
    check_output_file(output, inputs=(config.content, config.style), overwrite=overwrite)
    check_image_output_name(output)
    device = resolve_device(config.device)
    if config.precision not in ("auto", "fp32"):
        raise VidstyleError("optimize runs in fp32 (L-BFGS needs exact gradients); use --precision fp32")
    # (its first frame was painted without a word, where the painting's animation is refused)
    check_still(config.content, advice=ANIMATED_PHOTO_ADVICE)
    content_layers, style_layers = config.layers()
    net = load_loss_network(config.loss_net, list(style_layers) + content_layers, weights=config.loss_weights,
                            smooth=config.smooth_activations,
                            device=device)
    from vidstyle.frames import fill_transparent
    from vidstyle.io.images import read_image_and_alpha

    rgb, alpha = read_image_and_alpha(config.content)
    if alpha is not None:  # as stylize does: no edge painted where the picture meets its transparency
        rgb = fill_transparent(rgb, alpha)
    if min(rgb.shape[:2]) < config.image_size:  # as training says of its photos
        logging.getLogger("vidstyle").warning(
            "the photo %s is only %dx%d, smaller than --image-size %d: it is upscaled, so the result is blurred "
            "(a smaller --image-size keeps its detail)", Path(config.content).name, rgb.shape[1], rgb.shape[0],
            config.image_size)
    image = resized_short_side(rgb, config.image_size)
    if max(image.shape[:2]) > MAX_IMAGE_SIZE:  # a panorama's long side: the same bound, said before any work
        raise VidstyleError(f"{Path(config.content).name} at --image-size {config.image_size} would be "
                            f"{image.shape[1]}x{image.shape[0]}; its longer side must be at most {MAX_IMAGE_SIZE} "
                            "(lower --image-size, or crop the photo)")
    photo = images_to_tensor(image, device=device)
    style = load_style_image(config.style, config.style_size or config.image_size, device)
    losses = build_losses(net, [style], content_layers, style_layers)
    bar = None
    if progress:
        from vidstyle.terminal import terminal_bar

        bar = terminal_bar(total=max_evaluations(config.steps, config.optimizer), unit="eval",
                           desc=printable(output.name), leave=False)
    try:
        result, parts = optimize_image(photo, losses, steps=config.steps, optimizer=config.optimizer, lr=config.lr,
                                       init=config.init, content_weight=config.content_weight,
                                       style_weight=config.style_weight, tv_weight=config.tv_weight,
                                       seed=config.seed, on_evaluation=bar.update if bar is not None else None)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        # the loss network's activations and their gradients grow with the pixels (gigabytes per
        # megapixel): said as what to change, not as the allocator's message
        if not is_out_of_memory(exc):
            raise
        h, w = photo.shape[-2:]
        raise VidstyleError(f"out of memory optimising a {w}x{h} image ({first_line(exc, 120)}); lower "
                            "--image-size") from None
    finally:
        if bar is not None:
            bar.close()
    bad = [k for k, v in parts.items() if not math.isfinite(v)]
    if bad or not torch.isfinite(result).all():
        raise VidstyleError(f"the optimisation diverged ({', '.join(bad) or 'image'} loss not finite): lower "
                            "--style-weight / --content-weight or --lr; nothing was written")
    out = tensor_to_images(result)[0]
    if keeps_transparency(alpha, output, config.content):  # at the result's size, as stylize resizes it
        h, w = out.shape[:2]
        out = np.dstack([out, resize_rgba(np.dstack([rgb, alpha]), (w, h))[..., 3]])
    with write_then_rename(output, overwrite=overwrite) as tmp:  # interrupted while writing: no half-written file left behind
        write_image(tmp, out, IMAGE_OUTPUT_FORMATS[output.suffix.lower()])  # the quality stylize writes
    return parts
