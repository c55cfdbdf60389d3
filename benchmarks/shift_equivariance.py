"""How far a style network's output follows the picture when the picture moves by a few pixels.

A network whose resolution halves k times (total stride s = 2^k) computes exactly the same output,
moved, when its input moves by a multiple of s pixels (away from the borders). Moved by other
amounts, an aliasing network paints its texture anew: on video that is flicker wherever the camera
pans. This measures, on photos, the mean squared difference between the output of the moved photo
and the moved output, over the middle of the frame, for moves of 1, 2, 4 and 8 pixels.

    python benchmarks/shift_equivariance.py --models vidstyle/models/styles/light_starry_night.safetensors ... \\
        --out benchmarks/results/shift_equivariance.json
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.models.weights import load_model  # noqa: E402
from vidstyle.train.data import find_images, held_out_tensor  # noqa: E402

SHIFTS = (1, 2, 4, 8)


def shift_errors(model_path: Path, x: torch.Tensor, margin: int) -> dict[int, float]:
    """Shift -> mean squared difference (RGB in [0, 1]) between f(moved photo) and moved f(photo)
    over the part of the frame at least ``margin`` pixels from every border."""
    net, _ = load_model(model_path)
    net = net.float().eval()
    side = x.shape[-1] - max(SHIFTS)
    with torch.inference_mode():
        base = net(x[..., :side, :side]).clamp(0, 1)
        errors = {}
        for s in SHIFTS:
            moved = net(x[..., s:s + side, s:s + side]).clamp(0, 1)  # the photo moved up and left by s
            a = base[..., margin + s:side - margin, margin + s:side - margin]
            b = moved[..., margin:side - margin - s, margin:side - margin - s]
            errors[s] = float((a - b).pow(2).mean())
    return errors


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", type=Path, required=True, help="weights files")
    p.add_argument("--content", type=Path, default=ROOT.parent / "shared/data/content", help="folder of photos")
    p.add_argument("--photos", type=int, default=6, help="how many photos (default 6)")
    p.add_argument("--size", type=int, default=296, help="photo side in pixels (default 296)")
    p.add_argument("--margin", type=int, default=8, help="border pixels left out (default 8)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, help="JSON report")
    args = p.parse_args(argv)
    if not args.content.is_dir():
        print(f"skipped: {args.content} is absent")
        return 0
    torch.set_num_threads(args.threads)
    # the first photos, centre squares, as the held-out evaluation prepares them
    x = held_out_tensor(find_images(args.content)[:args.photos], args.size)
    rows = []
    print("| model | " + " | ".join(f"moved {s} px" for s in SHIFTS) + " |")
    print("|---|" + "---:|" * len(SHIFTS))
    for path in args.models:
        errors = shift_errors(path, x, args.margin)
        rows.append({"model": str(path), "errors": {str(s): e for s, e in errors.items()}})
        print(f"| {path.stem} | " + " | ".join(f"{errors[s]:.5f}" for s in SHIFTS) + " |", flush=True)
    if args.out:
        report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__},
                  "settings": {"photos": x.shape[0], "size": args.size, "margin": args.margin,
                               "content": str(args.content), "shifts": list(SHIFTS)},
                  "rows": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
