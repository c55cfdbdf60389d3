"""A PNG grid for looking at networks side by side: one row per model, one column per clip frame,
each row labelled with the model's file name.

    .venv/bin/python benchmarks/compare_models.py --out benchmarks/results/compare.png \\
        --frames samples/sample.mp4:39 ../shared/data/video/cutbunny.mp4:19 \\
        --models light_starry_night benchmarks/models/light_starry_night_effnet.safetensors
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.stylizer import Stylizer  # noqa: E402


def frame_at(spec: str) -> np.ndarray:
    """``CLIP:INDEX`` -> that decoded frame, RGB uint8."""
    path, _, index = spec.rpartition(":")
    with av.open(path) as container:
        frame = next(itertools.islice(container.decode(video=0), int(index), None), None)
    if frame is None:
        raise SystemExit(f"{path} has no frame {index}")
    return frame.to_ndarray(format="rgb24")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", required=True, help="bundled style names or weights files")
    p.add_argument("--frames", nargs="+", required=True, metavar="CLIP:INDEX")
    p.add_argument("--height", type=int, default=270, help="height of each tile (default 270)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    frames = [frame_at(s) for s in args.frames]
    rows = []
    for model in [None] + args.models:
        stylizer = None if model is None else Stylizer(model, device="cpu", precision="fp32")
        tiles = []
        for f in frames:
            out = f if stylizer is None else stylizer.stylize(f)
            tiles.append(cv2.resize(out, (round(out.shape[1] * args.height / out.shape[0]), args.height),
                                    interpolation=cv2.INTER_AREA))
        row = np.concatenate(tiles, 1)
        label = "input" if model is None else Path(model).stem
        cv2.rectangle(row, (0, 0), (12 + 11 * len(label), 24), (0, 0, 0), -1)
        cv2.putText(row, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
