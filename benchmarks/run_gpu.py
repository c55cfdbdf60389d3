"""The GPU benchmark grid (run on a CUDA machine): network-only across resolutions, precisions,
batch sizes, channels_last, CUDA graphs and torch.compile, then file to file when PyAV and a clip
are present.

    python benchmarks/run_gpu.py --out benchmarks/results/gpu [--clip VIDEO] [--quick]

Works without PyAV installed (network-only): it does not import the CLI.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidstyle.bench.report import write_reports  # noqa: E402
from vidstyle.bench.run import BenchSettings, merge_reports, run_benchmark  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/gpu")
    ap.add_argument("--clip", help="video for the file-to-file runs (needs PyAV)")
    ap.add_argument("--quick", action="store_true", help="a one-minute subset")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile cases (slow to compile)")
    args = ap.parse_args()
    quick = args.quick
    grids = [
        # eager and CUDA graphs, the main grid
        BenchSettings(models=["standard", "light"], resolutions=["360p", "720p", "1080p"], devices=["cuda"],
                      precisions=["fp32", "fp16", "bf16"] if not quick else ["fp16"],
                      batches=[1, 8] if not quick else [1], channels_last=[True, False] if not quick else [True],
                      backends=["torch"], cuda_graphs=True, peers=False, warmup=5, repeats=7, max_seconds=5.0),
    ]
    if not args.no_compile:
        grids.append(BenchSettings(models=["standard"], resolutions=["1080p"], devices=["cuda"], precisions=["fp16"],
                                   batches=[1, 8] if not quick else [8], backends=["compile"], peers=False,
                                   warmup=3, repeats=7, max_seconds=5.0))
    clip = args.clip if args.clip and importlib.util.find_spec("av") else None
    if clip:
        grids.append(BenchSettings(models=["standard"], resolutions=[], devices=["cuda"], peers=False, clip=clip,
                                   pipeline_models=["standard", "light"], pipeline_backend="torch",
                                   pipeline_batch=8, warping_frames=0))
    merged = merge_reports([run_benchmark(s, command="python " + " ".join(sys.argv)) for s in grids])
    if args.clip and not clip:
        merged["notes"].append("PyAV is not installed on this machine: file-to-file runs not measured")
    for path in write_reports(merged, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
