"""Frames per network call against frame size: `vidstyle stylize` with the light network on the CPU
at batch 1, 2 and 4, on synthetic clips of 720p, 1080p and 2160p (made here with the test suite's
encoder helper), interleaved over rounds. The evidence for vidstyle.pipeline.CPU_BATCH_PIXELS.

Usage: python benchmarks/batch_by_size.py [--rounds 2] [--style light_woman_with_hat] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import vidstyle  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the command line runs
from videos import make_video  # noqa: E402

SIZES = {"720p": ((1280, 720), 48), "1080p": ((1920, 1080), 24), "2160p": ((3840, 2160), 8)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--style", default="light_woman_with_hat")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidstyle-batch-") as tmp:
        clips = {name: make_video(Path(tmp) / f"{name}.mp4", frames=n, size=size, crf=23)
                 for name, (size, n) in SIZES.items()}
        for r in range(args.rounds):
            for name, clip in clips.items():
                for batch in args.batches:
                    res = vidstyle.stylize_video(clip, Path(tmp) / "out.mp4", style=args.style, batch=batch,
                                                 temporal="off", overwrite=True, progress=False)
                    row = dict(round=r, size=name, batch=batch, frames=res.frames, fps=round(res.fps, 3),
                               stylize_ms=round(res.stage_seconds["stylize"] / res.frames * 1e3, 1))
                    rows.append(row)
                    print(row, flush=True)
    report = dict(date=time.strftime("%Y-%m-%d %H:%M:%S %z"), machine=platform.processor() or platform.machine(),
                  python=platform.python_version(), vidstyle=vidstyle.__version__, style=args.style,
                  command="python " + " ".join(sys.argv), rows=rows)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
