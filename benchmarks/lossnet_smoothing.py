"""Does a loss network's Gram loss move pixels? Gatys optimisation under it, with and without the
softmax smoothing of its activations (Wang et al. 2021), on held-out photos.

For each variant (raw, smoothed) and style weight, the photos are optimised with L-BFGS from
themselves, under the loss network's default layers; the style loss at the start and the end
(each variant under its own definition), the content loss at the end, and a PNG grid of the
results (rows: variant x weight; columns: photos) are written.

    .venv/bin/python benchmarks/lossnet_smoothing.py --content ../shared/data/content \\
        --style ../shared/data/styles/starry_night.jpg --out benchmarks/results/lossnet_smoothing
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.frames import tensor_to_images  # noqa: E402
from vidstyle.models.lossnets import default_layers, load_loss_network  # noqa: E402
from vidstyle.train.data import find_images, held_out_tensor, load_style_image, split_held_out  # noqa: E402
from vidstyle.train.optimize import build_losses, optimize_image  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--content", type=Path, required=True, help="content folder (its held-out photos are used)")
    p.add_argument("--style", type=Path, required=True, help="painting")
    p.add_argument("--loss-net", default="efficientnet_lite0")
    p.add_argument("--photos", type=int, default=3)
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--steps", type=int, default=40, help="L-BFGS iterations (default 40)")
    p.add_argument("--style-weights", type=float, nargs="+", default=[2.0, 20.0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/lossnet_smoothing")
    args = p.parse_args(argv)
    if not args.content.is_dir() or not args.style.is_file():
        print(f"skipped: {args.content} or {args.style} is absent")
        return 0
    device = torch.device("cpu")
    _, held = split_held_out(find_images(args.content))
    photos = held_out_tensor(held[:args.photos], args.size, device)
    painting = load_style_image(args.style, args.size, device)
    style_layers, content_layers = default_layers(args.loss_net)
    rows, images = [], []
    for smooth in (False, True):
        net = load_loss_network(args.loss_net, list(style_layers) + list(content_layers), smooth=smooth)
        losses = build_losses(net, [painting], list(content_layers), {k: 1.0 for k in style_layers})
        index = torch.zeros(len(photos), dtype=torch.long)
        with torch.no_grad():
            start = float(losses(photos, photos, index)["style"])
        for weight in args.style_weights:
            result, parts = optimize_image(photos, losses, steps=args.steps, optimizer="lbfgs", style_weight=weight,
                                           tv_weight=0.001)
            rows.append({"smooth": smooth, "style_weight": weight, "style_start": start, "style_end": parts["style"],
                         "style_end_over_start": parts["style"] / start, "content_end": parts["content"],
                         "mean_abs_change_grey_levels": float((result - photos).abs().mean() * 255)})
            images.append(np.concatenate(list(tensor_to_images(result)), 1))
            print(f"smooth={smooth!s:5s} style weight {weight:g}: style {start:.3f} -> {parts['style']:.3f} "
                  f"({parts['style'] / start:.2f}x), content {parts['content']:.3f}, pixels moved "
                  f"{rows[-1]['mean_abs_change_grey_levels']:.1f} grey levels on average", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out.with_suffix(".png")), cv2.cvtColor(np.concatenate(images, 0), cv2.COLOR_RGB2BGR))
    write_json(args.out.with_suffix(".json"), script_record(
        loss_net=args.loss_net, style_layers=list(style_layers), content_layers=list(content_layers),
        photos=[p.name for p in held[:args.photos]], size=args.size, steps=args.steps,
        grid=f"{args.out.with_suffix('.png').name}: rows raw then smoothed, one per style weight; columns photos",
        rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
