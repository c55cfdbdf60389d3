"""Style quality of trained networks against the Gatys et al. optimisation (the quality reference).

For each model (and its painting), on the fixed held-out photos of the content folder (the 20 that
``vidstyle train`` never trains on), at one small square resolution:

* the feed-forward output of the network;
* the optimised image (pixels optimised with L-BFGS from the photo, with the *training* losses,
  layers and weights read from the model's ``train_config``);

are both scored with the unweighted style and content losses of the training loss network, and of
other loss networks not used in training (``--eval-nets``). Writes JSON and a Markdown table.

"At comparable content loss": the networks stay closer to the photo than the optimisation with the
training weights does (lower content loss), which makes the plain ratio of style losses unfair to
them. So the optimisation is also run with the content weight raised (x2, x4, ... until its
content loss falls below the network's; lowered when it is already below), and its style loss *at
the network's content loss* is read off that trade-off curve (log-log interpolation between the
two runs that bracket it), under each scoring network. ``--no-match-content`` skips the extra runs.

    python benchmarks/quality.py --model a.safetensors [--model b.safetensors:style_name ...] \\
        --content ../shared/data/content [--painting a.jpg ...] --size 128 --opt-steps 20 \\
        --out benchmarks/results/quality.json

The issue's target: feed-forward style loss at most 2x the optimisation's, at comparable content loss.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from vidstyle.device import resolve_device
from vidstyle.errors import VidstyleError
from vidstyle.frames import tensor_to_images
from vidstyle.io.images import write_image
from vidstyle.models.lossnets import default_layers, load_loss_network
from vidstyle.models.weights import load_model
from vidstyle.train.data import find_images, held_out_tensor, load_style_image, split_held_out
from vidstyle.train.loop import LossComputer
from vidstyle.train.optimize import optimize_image


_OPTIMISED: dict[tuple, tuple[torch.Tensor, float]] = {}  # optimisation results, reused across models
CONTENT_WEIGHT_STEPS = (2.0, 4.0, 8.0, 16.0, 32.0)  # multipliers tried to bring the content loss down (or up: 1/x)


def style_at_content(curve: list[tuple[float, float]], content: float) -> float | None:
    """Style loss at ``content`` on a trade-off curve of (content loss, style loss) points.

    Log-log linear interpolation between the two points whose content losses bracket ``content``
    (a power law between neighbours, which is how both losses move with the content weight); None
    when no two points bracket it, because extrapolating a trade-off curve is a guess.
    """
    if content <= 0 or any(c <= 0 or s <= 0 for c, s in curve):
        raise ValueError("losses must be positive")
    points = sorted(curve)
    for (c0, s0), (c1, s1) in zip(points, points[1:]):
        if c0 <= content <= c1:
            if c1 == c0:
                return min(s0, s1)
            t = (math.log(content) - math.log(c0)) / (math.log(c1) - math.log(c0))
            return math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    for c, s in points:
        if c == content:
            return s
    return None


def _model_and_style(spec: str) -> tuple[str, str | None]:
    if ".safetensors:" in spec:
        path, _, name = spec.partition(".safetensors:")
        return path + ".safetensors", name
    return spec, None


@torch.no_grad()
def _scores(losses: LossComputer, images: torch.Tensor, photos: torch.Tensor, chunk: int = 5) -> dict:
    sums = {"content": 0.0, "style": 0.0}
    for i in range(0, len(images), chunk):
        parts = losses(images[i:i + chunk], photos[i:i + chunk], torch.zeros(len(images[i:i + chunk]), dtype=torch.long,
                                                                          device=images.device), reduce=False)
        for k in sums:
            sums[k] += float(parts[k].sum())
    return {k: v / len(images) for k, v in sums.items()}


def evaluate_model(spec: str, painting: str | None, content: str, size: int, opt_steps: int, eval_nets: list[str],
                   device: torch.device, photos_limit: int | None = None, loss_weights: dict | None = None,
                   match_content: bool = True, images_dir: str | None = None, images_per_row: int = 4,
                   style_size: int | None = None) -> dict:
    path, style_name = _model_and_style(spec)
    net, info = load_model(path, device)
    names = info.style_names
    index = names.index(style_name) if style_name else 0
    if style_name and style_name not in names:
        raise VidstyleError(f"{path} has no style {style_name!r} (it has {', '.join(names)})")
    cfg = info.train_config
    painting = painting or (cfg.get("styles") or [None] * (index + 1))[index]
    if not painting or not Path(painting).is_file():
        raise VidstyleError(f"painting for {path}:{names[index]} not found ({painting}); pass --painting")
    train_net = cfg.get("loss_net", "vgg16_hed")
    if style_size is None:
        # the style image is seen at the same scale relative to the photos as in training
        style_size = int(cfg.get("style_size") or cfg.get("image_size") or size)
        style_size = max(16, round(style_size * size / int(cfg.get("image_size") or size)))

    _, held = split_held_out(find_images(content))
    if cfg.get("held_out_files") and [str(p.relative_to(content).as_posix()) for p in held] != cfg["held_out_files"]:
        print(f"warning: {content} is not the folder {path} was trained on (held-out photos differ)", file=sys.stderr)
    held = held[:photos_limit] if photos_limit else held
    photos = held_out_tensor(held, size, device)

    net.set_style([1.0 if i == index else 0.0 for i in range(len(names))])
    with torch.no_grad():
        feed_forward = torch.cat([net(photos[i:i + 5]).float().clamp(0, 1) for i in range(0, len(photos), 5)])

    style = load_style_image(painting, style_size, device)
    loss_weights = loss_weights or {}
    train_losses = LossComputer(
        load_loss_network(train_net, list(cfg["style_layers"]) + list(cfg["content_layers"]),
                          weights=loss_weights.get(train_net), smooth=cfg.get("smooth_activations"), device=device),
        list(cfg["content_layers"]), dict(cfg["style_layers"]), [style])
    # models that share the painting, photos, losses and weights share the optimisation reference
    key = (str(Path(painting).resolve()), train_net, cfg.get("smooth_activations"), style_size, size, len(held),
           opt_steps, tuple(cfg["content_layers"]), tuple(sorted(dict(cfg["style_layers"]).items())),
           float(cfg.get("content_weight", 1.0)), float(cfg.get("style_weight", 1.0)), float(cfg.get("tv_weight", 0.0)))
    content_weight = float(cfg.get("content_weight", 1.0))

    def optimised_at(multiplier: float) -> tuple[torch.Tensor, float]:
        if (key, multiplier) not in _OPTIMISED:
            t0 = time.perf_counter()
            image, _ = optimize_image(photos, train_losses, steps=opt_steps, optimizer="lbfgs",
                                      content_weight=content_weight * multiplier,
                                      style_weight=float(cfg.get("style_weight", 1.0)),
                                      tv_weight=float(cfg.get("tv_weight", 0.0)))
            _OPTIMISED[(key, multiplier)] = (image, time.perf_counter() - t0)
        return _OPTIMISED[(key, multiplier)]

    optimised, opt_seconds = optimised_at(1.0)
    runs = {1.0: optimised}
    if match_content:
        # move the content weight until the optimisation's content loss passes the network's: up when
        # the optimisation strays further from the photo (the usual case), down when it stays closer
        ff_content = _scores(train_losses, feed_forward, photos)["content"]
        above = _scores(train_losses, optimised, photos)["content"] > ff_content
        for step in CONTENT_WEIGHT_STEPS:
            multiplier = step if above else 1.0 / step
            runs[multiplier], seconds = optimised_at(multiplier)
            opt_seconds += seconds
            if (_scores(train_losses, runs[multiplier], photos)["content"] > ff_content) != above:
                break

    if images_dir:
        _write_grid(Path(images_dir) / f"{Path(path).stem}_{names[index]}_opt{opt_steps}.png",
                    [photos, feed_forward] + [runs[m] for m in sorted(runs, reverse=True)], images_per_row)

    result = {"model": path, "style": names[index], "painting": str(painting), "train_loss_net": train_net,
              "photos": len(held), "size": size, "style_size": style_size, "opt_steps": opt_steps,
              "opt_seconds": round(opt_seconds, 1),
              "content_weights": [content_weight * m for m in sorted(runs)], "scores": {}}
    for name in [train_net] + [n for n in eval_nets if n != train_net]:
        if name == train_net:
            losses = train_losses
        else:
            style_layers, content_layers = default_layers(name)
            lossnet = load_loss_network(name, list(style_layers) + list(content_layers),
                                        weights=loss_weights.get(name), device=device)
            losses = LossComputer(lossnet, list(content_layers), {k: 1.0 for k in style_layers}, [style])
        ff, op = _scores(losses, feed_forward, photos), _scores(losses, optimised, photos)
        entry = {"feed_forward": ff, "optimisation": op, "style_ratio": ff["style"] / max(op["style"], 1e-12),
                 "trained_with": name == train_net}
        if match_content:
            curve = [dict(content_weight=content_weight * m, **_scores(losses, runs[m], photos)) for m in sorted(runs)]
            matched = style_at_content([(c["content"], c["style"]) for c in curve], ff["content"])
            entry["optimisation_curve"] = curve
            entry["matched_opt_style"] = matched
            entry["matched_style_ratio"] = None if matched is None else ff["style"] / max(matched, 1e-12)
        result["scores"][name] = entry
    return result


def _write_grid(path: Path, columns: list[torch.Tensor], rows: int) -> None:
    """A PNG to look at: one row per photo (the first ``rows``), one column per tensor (photo,
    feed-forward output, then the optimisations from the highest content weight down)."""
    grid = torch.cat([torch.cat(list(c[:rows].float().clamp(0, 1).cpu()), dim=1) for c in columns], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, tensor_to_images(grid[None])[0])


def _label(r: dict) -> str:
    """The model file's name, plus the style for a multi-style file (``light_mix: the_scream``)."""
    stem = Path(r["model"]).stem
    return r["style"] if stem == r["style"] else stem if stem.startswith(r["style"]) else f"{stem}: {r['style']}"


def markdown(results: list[dict]) -> str:
    lines = ["| style | painting px | loss network | FF style | opt. style | FF / opt. style | FF content "
             "| opt. content | opt. style at FF content | FF / opt. at equal content |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for name, s in r["scores"].items():
            tag = name + (" (training)" if s["trained_with"] else " (held-out net)")
            ff, op = s["feed_forward"], s["optimisation"]
            matched = s.get("matched_opt_style")
            at_equal = ("not run" if "matched_opt_style" not in s else "not bracketed" if matched is None
                        else f"{matched:.3f} | {s['matched_style_ratio']:.2f}")
            if matched is None:
                at_equal += " | –"
            lines.append(f"| {_label(r)} | {r.get('style_size', '?')} | {tag} | {ff['style']:.3f} | {op['style']:.3f} "
                         f"| {s['style_ratio']:.2f} "
                         f"| {ff['content']:.3f} | {op['content']:.3f} | {at_equal} |")
    r0 = results[0] if results else {}
    lines.append("")
    lines.append(f"{r0.get('photos', 0)} held-out photos at {r0.get('size', 0)} px; optimisation: L-BFGS, "
                 f"{r0.get('opt_steps', 0)} iterations from the photo with the training losses and weights. "
                 f"Losses are relative (normalised by the target's magnitude) and unweighted. \"At equal "
                 f"content\": the optimisation's style loss at the network's content loss, interpolated "
                 f"(log-log) between optimisations with the content weight raised (or lowered) x2, x4, ... "
                 f"(\"not bracketed\": no two runs bracket the network's content loss under that net).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, help="FILE.safetensors or FILE.safetensors:style")
    p.add_argument("--painting", action="append", default=[],
                   help="painting per --model (default: the style image path recorded at training)")
    p.add_argument("--content", required=True, help="the content folder the models were trained on")
    p.add_argument("--size", type=int, default=128, help="square evaluation size in pixels (default 128)")
    p.add_argument("--style-size", type=int,
                   help="the painting's size in pixels for every model (default: each model's training size, scaled "
                        "like the photos); one size for all compares networks trained at different sizes")
    p.add_argument("--opt-steps", type=int, default=20, help="L-BFGS iterations of the optimisation (default 20)")
    p.add_argument("--photos", type=int, help="use only the first N held-out photos (default all 20)")
    p.add_argument("--eval-nets", default="vgg16_hed,vgg16_bn_craft",
                   help="loss networks to score with, besides the training one (default vgg16_hed,vgg16_bn_craft)")
    p.add_argument("--loss-weights", action="append", default=[], metavar="NET=FILE",
                   help="converted weights for a loss network (export_loss_weights), e.g. vgg16_hed=hed.safetensors")
    p.add_argument("--no-match-content", dest="match_content", action="store_false",
                   help="skip the optimisations with raised content weights (the comparison at equal content loss)")
    p.add_argument("--images", metavar="DIR",
                   help="also write a PNG per model: photo, feed-forward output and each optimisation "
                        "(content weight from high to low), one row per photo")
    p.add_argument("--image-rows", type=int, default=4, help="photos in each --images PNG (default 4)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="benchmarks/results/quality.json", help="JSON output; .md written beside it")
    args = p.parse_args(argv)
    if args.painting and len(args.painting) != len(args.model):
        p.error("give --painting once per --model, or not at all")
    device = resolve_device(args.device)
    weights = dict(w.split("=", 1) for w in args.loss_weights)
    results = []
    try:
        for i, spec in enumerate(args.model):
            t0 = time.perf_counter()
            r = evaluate_model(spec, args.painting[i] if args.painting else None, args.content, args.size,
                               args.opt_steps, [n.strip() for n in args.eval_nets.split(",") if n.strip()], device,
                               args.photos, weights, args.match_content, args.images, args.image_rows,
                               args.style_size)
            r["seconds"] = round(time.perf_counter() - t0, 1)
            results.append(r)
            print(f"{r['style']}: " + ", ".join(f"{n}: FF/opt style {s['style_ratio']:.2f}"
                                               + (f" ({s['matched_style_ratio']:.2f} at equal content)"
                                                  if s.get("matched_style_ratio") else "")
                                               for n, s in r["scores"].items()) + f" ({r['seconds']} s)",
                  file=sys.stderr)
    except VidstyleError as exc:
        print(f"quality: error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": str(device), "results": results}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
