"""How the optimisation reference depends on how its pixels are kept in [0, 1] (forty-fourth session).

Until then ``vidstyle.train.optimize.optimize_image`` optimised the logit of the pixels through a
sigmoid; now it optimises the pixels with a penalty outside [0, 1] (``RANGE_WEIGHT``). For each
variant (``sigmoid``, the old one rebuilt here, and ``penalty:W`` for a weight W):

* the thirds probe: a 64 px photo of black, grey and white thirds, the style loss alone (EfficientNet-
  Lite0's default layers, Starry Night at 64 px), 150 L-BFGS iterations: how far each third moves;
* the #3 reference: a model's held-out photos at 128 px, 20 L-BFGS iterations with its training
  losses and weights (``benchmarks/quality.py``'s), its style and content losses.

    python benchmarks/optimize_reference.py --content ../shared/data/content \\
        --model vidstyle/models/styles/light_starry_night.safetensors \\
        --painting ../shared/data/styles/starry_night.jpg --variants sigmoid penalty:100 penalty:1000 \\
        penalty:10000 --out benchmarks/results/optimize_reference_s44.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # noqa: E402
import vidstyle.train.optimize as optimize  # noqa: E402
from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.models.lossnets import default_layers, load_loss_network  # noqa: E402
from vidstyle.train.data import load_style_image  # noqa: E402
from vidstyle.train.loop import LossComputer  # noqa: E402

_PIXELS = optimize.optimize_image


def sigmoid_optimize(content, losses, style_index=0, steps=150, optimizer="lbfgs", lr=None, init="content",
                     content_weight=1.0, style_weight=0.5, tv_weight=0.3, seed=0, on_evaluation=None):
    """The optimisation as it was: the logit of the pixels (clamped to 0.001..0.999), through a sigmoid."""
    param = torch.logit(content.clone().clamp(1e-3, 1 - 1e-3)).contiguous().requires_grad_(True)
    index = torch.full((content.shape[0],), style_index, dtype=torch.long)

    def total():
        parts = losses(torch.sigmoid(param), content, index)
        return content_weight * parts["content"] + style_weight * parts["style"] + tv_weight * parts["tv"]

    opt = torch.optim.LBFGS([param], lr=lr or 1.0, max_iter=steps, history_size=50, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = total()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        out = torch.sigmoid(param)
        return out, {k: float(v) for k, v in losses(out, content, index).items()}


def patched(variant: str):
    """The optimize_image of ``variant``, where quality.py and this script call it."""
    if variant == "sigmoid":
        return mock.patch.object(quality, "optimize_image", sigmoid_optimize)
    weight = float(variant.removeprefix("penalty:"))
    return mock.patch.multiple(optimize, RANGE_WEIGHT=weight)


def thirds(variant: str, painting: str) -> dict:
    net_name = "efficientnet_lite0"
    style_layers, content_layers = default_layers(net_name)  # (the content term is weighted 0)
    losses = LossComputer(load_loss_network(net_name, list(style_layers) + list(content_layers)), list(content_layers),
                          {k: 1.0 for k in style_layers}, [load_style_image(painting, 64)])
    photo = torch.full((1, 3, 64, 64), 0.5)
    photo[..., :21], photo[..., 43:] = 0.0, 1.0
    run = sigmoid_optimize if variant == "sigmoid" else _PIXELS
    with patched(variant):
        out, _ = run(photo, losses, steps=150, content_weight=0.0, style_weight=1.0, tv_weight=0.0)
    change = (out - photo).abs()
    return {"black": float(change[..., :21].mean()), "grey": float(change[..., 21:43].mean()),
            "white": float(change[..., 43:].mean())}


def reference(variant: str, model: str, painting: str, content: str) -> dict:
    quality._OPTIMISED.clear()
    with patched(variant):
        result = quality.evaluate_model(model, painting, content, 128, 20, [], torch.device("cpu"),
                                        match_content=False)
    scores = result["scores"][result["train_loss_net"]]
    return {"optimisation": scores["optimisation"], "feed_forward": scores["feed_forward"],
            "style_ratio": scores["style_ratio"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", required=True, help="the content folder the model was trained on")
    p.add_argument("--model", required=True, help="a .safetensors model (its training losses and weights)")
    p.add_argument("--painting", required=True, help="its painting")
    p.add_argument("--variants", nargs="+", default=["sigmoid", "penalty:1000"])
    p.add_argument("--out", help="JSON to write")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    rows = []
    for variant in args.variants:
        row = {"variant": variant, "thirds": thirds(variant, args.painting),
               "reference": reference(variant, args.model, args.painting, args.content)}
        rows.append(row)
        print(row, flush=True)
    if args.out:
        write_json(args.out, script_record(rows=rows, seconds=round(time.perf_counter() - started, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
