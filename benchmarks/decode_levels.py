"""What decoding 8-bit 4:2:0 video to RGB at its true levels costs, and how far swscale's default
conversion (which vidstyle used until the thirtieth session) was from them.

For each clip, the first frames are decoded once; each is then turned into RGB two ways, rounds
interleaved: swscale's default (``to_ndarray(format="rgb24")`` with the clip's matrix) and
vidstyle's (``DisplayConversion.image``, i.e. :func:`vidstyle.io.display.exact_rgb`). Both are
compared with the float conversion (the matrix applied in float64 to each pixel's own chroma
sample): the mean difference per channel (the bias) and the largest. With ``--hd`` each frame is
also scaled to 1920x1080 first (in memory) for the HD cost.

    .venv/bin/python benchmarks/decode_levels.py --clips ../shared/data/video/*.mp4 --hd \\
        --out benchmarks/results/decode_levels_s30.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.io.display import SWS_MATRIX, DisplayConversion, _yuv_to_rgb  # noqa: E402


def float_rgb(frame: av.VideoFrame, sws_matrix: int) -> np.ndarray:
    """The reference: each pixel's own (Y, Cb, Cr), its chroma sample x // 2, y // 2, through the
    matrix in float64, clipped to [0, 255], not rounded."""
    w, h = frame.width, frame.height
    y, u, v = (np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width].astype(np.float64)
               for p in frame.planes[:3])
    u, v = (np.repeat(np.repeat(c, 2, 0), 2, 1)[:h, :w] for c in (u, v))
    full = frame.format.name.startswith("yuvj") or int(frame.color_range) == 2
    m = _yuv_to_rgb(sws_matrix, full)
    return np.clip(np.stack([y, u, v, np.ones_like(y)], -1) @ m.T, 0, 255)


def measure(frames: list[av.VideoFrame], rounds: int) -> dict:
    display = DisplayConversion.of(frames[0])
    sws = SWS_MATRIX[display.matrix]
    ways = {"swscale_default": lambda f: f.to_ndarray(format="rgb24", src_colorspace=sws),
            "vidstyle": display.image}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, convert in ways.items():
            started = time.perf_counter()
            for frame in frames:
                convert(frame)
            times[name].append((time.perf_counter() - started) * 1e3 / len(frames))
    row = {"size": f"{frames[0].width}x{frames[0].height}", "format": frames[0].format.name,
           "matrix": display.matrix, "frames": len(frames)}
    for name, convert in ways.items():
        diff = np.concatenate([(convert(f).astype(np.float64) - float_rgb(f, sws)).reshape(-1, 3) for f in frames])
        row[name] = {"ms_per_frame": round(statistics.median(times[name]), 3),
                     "ms_spread": [round(min(times[name]), 3), round(max(times[name]), 3)],
                     "bias_rgb": [round(float(x), 3) for x in diff.mean(0)],
                     "max_abs": round(float(np.abs(diff).max()), 2)}
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", nargs="+", required=True)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--hd", action="store_true", help="also each frame scaled to 1920x1080")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    rows = []
    for clip in args.clips:
        with av.open(clip) as container:
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame)
                if len(frames) == args.frames:
                    break
        sets = [frames]
        if args.hd:
            sets.append([f.reformat(width=1920, height=1080) for f in frames])
        for group in sets:
            row = {"clip": Path(clip).name, **measure(group, args.rounds)}
            print(row, flush=True)
            rows.append(row)
    write_json(args.out, script_record(args=vars(args), rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
