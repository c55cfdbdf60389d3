"""How much of a network's flicker is fine texture: the warping error of its frames, and of the same
frames low-passed (Gaussian blur) before scoring.

If most of the error survives the blur, the flicker is in broad colour areas, and a temporal loss
on blurred outputs could remove it without touching the painted texture; if little survives, the
flicker *is* the texture, and any loss that lowers the warping error must steady or remove it.

    .venv/bin/python benchmarks/flicker_bands.py --models benchmarks/models/light_starry_night_ft_t0.safetensors \\
        benchmarks/models/light_starry_night_ft_tw100.safetensors --out benchmarks/results/flicker_bands.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames, warping_error  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", required=True, help="weights files or bundled style names")
    p.add_argument("--clips", nargs="+", type=Path,
                   default=[ROOT.parent / "shared/data/video/cutbunny.mp4", ROOT.parent / "shared/data/video/bikes.mp4"])
    p.add_argument("--frames", type=int, default=32, help="first N frames of each clip (default 32)")
    p.add_argument("--sigma", type=float, default=2.0, help="Gaussian blur sigma in pixels (default 2)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/flicker_bands.json")
    args = p.parse_args(argv)
    rows = []
    for clip in args.clips:
        if not clip.is_file():
            print(f"skipped: {clip} is absent")
            continue
        frames = list(read_frames(clip, args.frames))
        for model in args.models:
            stylizer = Stylizer(model, device="cpu", precision="fp32")
            out = [stylizer.stylize(f) for f in frames]
            full = warping_error(frames, out)["warping_error"]
            low = warping_error(frames, [cv2.GaussianBlur(o, (0, 0), args.sigma) for o in out])["warping_error"]
            rows.append({"clip": clip.name, "model": str(model), "frames": len(frames), "warping_error": full,
                         "warping_error_low_pass": low, "low_pass_share": low / full})
            print(f"{clip.name} {Path(str(model)).stem}: warping error {full:.5f}, low-passed {low:.5f} "
                  f"({low / full:.2f} of it)", flush=True)
    write_json(args.out, script_record(sigma=args.sigma, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
