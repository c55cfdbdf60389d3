"""A/B of the sub-pixel layers' output channel order, in one process, interleaved: phase-major
(channels (a, b, c): in channels-last memory depth-to-space moves whole runs of channels) against
``pixel_shuffle``'s channel-major (c, a, b) order, which the folded layers used before. Same
function either way (tests/test_models.py); only the memory access differs.

Usage: python benchmarks/subpixel_order_ab.py [--style light_starry_night] [--precision bf16]
       [--backend compile] [--batch 4] [--rounds 3] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.models.transformer import SubpixelUpsampleConv  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the command line runs


def _build(style: str, precision: str, backend: str, channel_major: bool) -> Stylizer:
    stylizer = Stylizer(style, device="cpu", precision=precision, backend=backend)
    if channel_major:
        for layer in stylizer.model.modules():
            if isinstance(layer, SubpixelUpsampleConv):
                layer.to_channel_major()
        stylizer._build_forward()
    return stylizer


def _ms_per_frame(stylizer: Stylizer, x: torch.Tensor, calls: int = 10) -> float:
    for _ in range(3):
        stylizer.stylize_tensor(x)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        stylizer.stylize_tensor(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3 / x.shape[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", default="light_starry_night")
    p.add_argument("--precision", default="bf16")
    p.add_argument("--backend", default="compile")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", default="640x360")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    w, h = map(int, args.size.split("x"))
    x = torch.rand(args.batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    variants = {"phase-major": _build(args.style, args.precision, args.backend, False),
                "channel-major (before)": _build(args.style, args.precision, args.backend, True)}
    same = np.abs(variants["phase-major"].stylize_batch(
        (x[:1] * 255).byte().permute(0, 2, 3, 1).numpy()).astype(int) - variants["channel-major (before)"].stylize_batch(
        (x[:1] * 255).byte().permute(0, 2, 3, 1).numpy()).astype(int)).max()
    rows = []
    for r in range(args.rounds):
        for name, stylizer in variants.items():
            ms = _ms_per_frame(stylizer, x)
            rows.append({"round": r, "variant": name, "ms_per_frame": round(ms, 2)})
            print(f"round {r} {name}: {ms:.2f} ms/frame", flush=True)
    if args.out:
        write_json(args.out, script_record(max_output_difference=int(same), rows=rows))


if __name__ == "__main__":
    main()
