"""Training speed (images/s) of each network with each loss network, on this machine.

Times the real training step of :mod:`vidstyle.train.loop` (content crops -> network -> loss
network -> Adam) after warm-up steps, and writes ``benchmarks/results/train_speed.json``. The CPU
load average is recorded: on a shared machine other processes slow every number down.

    python benchmarks/train_speed.py --content ../shared/data/content --style ../shared/data/styles/starry_night.jpg
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from vidstyle.device import autocast, resolve_device, resolve_precision, synchronize
from vidstyle.models.lossnets import default_layers, load_loss_network
from vidstyle.train.data import ContentImages, find_images, load_style_image, step_generator
from vidstyle.train.loop import LossComputer, TrainConfig, build_network


def time_training(arch: str, loss_net: str, content: str, style: str, size: int, batch: int, steps: int,
                  warmup: int, device: torch.device, precision: str = "auto") -> dict:
    dtype = resolve_precision(precision, device)
    style_layers, content_layers = default_layers(loss_net)
    lossnet = load_loss_network(loss_net, list(style_layers) + list(content_layers), device=device)
    losses = LossComputer(lossnet, list(content_layers), {k: 1.0 for k in style_layers},
                          [load_style_image(style, size, device)])
    images = ContentImages(find_images(content)[:32], size)
    for s in range(warmup + steps):  # decode the photos once, outside the timing
        images.batch(batch, step_generator(0, s))
    torch.manual_seed(0)
    net = build_network(arch, 1).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    index = torch.zeros(batch, dtype=torch.long, device=device)
    times = []
    for s in range(warmup + steps):
        synchronize(device)
        t0 = time.perf_counter()
        x = images.batch(batch, step_generator(0, s), device)
        with autocast(device, dtype):
            y = net(x)
            parts = losses(y, x, index)
            loss = parts["content"] + parts["style"] + parts["tv"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        synchronize(device)
        if s >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    median, best = times[len(times) // 2], times[0]
    # on a shared CPU the fastest step is the least disturbed estimate; the median is reported too
    return {"arch": arch, "loss_net": loss_net, "precision": precision, "image_size": size, "batch_size": batch,
            "steps": steps,
            "images_per_s": round(batch / best, 3), "images_per_s_median": round(batch / median, 3),
            "seconds_per_step": round(best, 3), "seconds_per_step_median": round(median, 3)}


def main(argv: list[str] | None = None) -> int:
    d = TrainConfig(styles=[], content="", out="")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--size", type=int, default=d.image_size)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--archs", default="light,standard")
    p.add_argument("--loss-nets", default="vgg16_hed,efficientnet_lite0")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precisions", default="auto",
                   help="comma-separated: auto, fp32, bf16 (`vidstyle train --precision`)")
    p.add_argument("--out", default="benchmarks/results/train_speed.json")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    runs = []
    for arch, loss_net, precision in itertools.product(args.archs.split(","), args.loss_nets.split(","),
                                                       args.precisions.split(",")):
        load_before = os.getloadavg()[0]
        r = time_training(arch, loss_net, args.content, args.style, args.size, args.batch_size, args.steps,
                          args.warmup, device, precision)
        r["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        # minutes for the default number of steps at this speed
        r["minutes_for_default_steps"] = round(d.steps * r["seconds_per_step"] / 60, 1)
        runs.append(r)
        print(json.dumps(r), file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"device": str(device), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "torch": torch.__version__, "default_steps": d.steps,
            "note": "images_per_s from the fastest timed step (least disturbed by other processes on this shared "
                    "machine), images_per_s_median from the median step; load_average_1min before/after each "
                    "measurement (above the core count, other processes shared the CPU)", "runs": runs}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    out.write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
