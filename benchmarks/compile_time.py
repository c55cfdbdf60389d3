"""How long `torch.compile` takes before its first frame, with inductor's on-disk cache empty and
then holding the graph: what `--backend auto`'s AUTO_COMPILE_MIN_FRAMES weighs against the
per-frame saving (benchmarks/RESULTS.md).

    python benchmarks/compile_time.py --styles light_starry_night starry_night --precision fp32 \
        --out benchmarks/results/compile_time_cpu_d.json

Each (style, cache state) runs in a fresh process, so nothing compiled earlier is in memory; the
cold runs get an empty TORCHINDUCTOR_CACHE_DIR of their own, the warm ones the same folder again.
The compile's cost is the first call's time less the median of the next calls'.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHILD = r"""
import json, statistics, sys, time
import torch
from vidstyle.pipeline import default_batch
from vidstyle.stylizer import Stylizer
from vidstyle.memory import keep_freed_memory
keep_freed_memory()  # as the command line runs
style, precision, height, width, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
stylizer = Stylizer(style, device="cpu", precision=precision, backend="compile")
batch = default_batch(stylizer, (height, width))
x = torch.rand(batch, 3, height, width)
t = time.perf_counter(); stylizer.stylize_tensor(x); first = time.perf_counter() - t
steady = []
for _ in range(calls):
    t = time.perf_counter(); stylizer.stylize_tensor(x); steady.append(time.perf_counter() - t)
print(json.dumps({"batch": batch, "first_s": first, "steady_s": steady}))
"""


def run_child(style: str, precision: str, size: tuple[int, int], calls: int, cache: str) -> dict:
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", CHILD, style, precision, str(size[0]), str(size[1]), str(calls)],
                         env=env, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    steady = statistics.median(result["steady_s"])
    result.update(steady_median_s=steady, compile_s=result["first_s"] - steady)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles", nargs="+", default=["light_starry_night", "starry_night"])
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    ap.add_argument("--calls", type=int, default=5, help="steady calls timed after the first")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    from vidstyle.bench.report import machine_info

    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": "python " + " ".join(sys.argv),
              "machine": machine_info(), "runs": []}
    for style in args.styles:
        with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
            for state in ("cold", "warm"):
                r = run_child(style, args.precision, (height, width), args.calls, cache)
                r.update(style=style, precision=args.precision, size=args.size, cache=state)
                report["runs"].append(r)
                print(f"{style} {args.precision} {args.size} batch {r['batch']} {state} cache: compile "
                      f"{r['compile_s']:.1f} s, then {1000 * r['steady_median_s'] / r['batch']:.1f} ms/frame",
                      file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
