"""Does the stabilizer's drift gate (thirty-third session) act on the temporal benchmark's clips?

For every bundled style at its own stabilizer strength, on the first frames of each clip, the
stabilizer's outputs with the drift gate are compared bit for bit with those of one without it
(``drift_tolerance=inf``), on the same stylized frames. Identical everywhere means the stabilized
numbers measured before the gate existed still describe the stabilizer.

    python benchmarks/drift_gate_check.py --clips ../shared/data/video/bikes.mp4 \\
        ../shared/data/video/cutbunny.mp4 samples/sample.mp4 --out benchmarks/results/drift_gate_s33.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.flow.stabilizer import FlowStabilizer  # noqa: E402
from vidstyle.models.zoo import Styles  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402


def check(clips: list[str], frames: int, styles: list[Styles], device: str = "cpu") -> dict:
    inputs = {clip: list(read_frames(clip, max_frames=frames)) for clip in clips}
    rows = []
    for entry in styles:
        stylizer = Stylizer(entry, device=device)
        strength = entry.value.temporal_strength
        for clip in clips:
            gated, ungated = FlowStabilizer(strength), FlowStabilizer(strength, drift_tolerance=np.inf)
            prev, differing = None, 0
            for frame in inputs[clip]:
                styled = stylizer.stylize(frame)
                state = None if prev is None else gated.estimate(prev, frame)
                differing += not np.array_equal(gated.apply(styled, state), ungated.apply(styled, state))
                prev = frame
            rows.append({"style": Path(entry.value.file).stem, "strength": strength, "clip": Path(clip).name,
                         "frames": len(inputs[clip]), "frames_differing": differing})
            print(f"{rows[-1]['style']} {strength} {Path(clip).name}: {differing} frame(s) differ", flush=True)
    return {"rows": rows, "identical": all(r["frames_differing"] == 0 for r in rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", required=True, help="video files (the temporal benchmark's)")
    p.add_argument("--frames", type=int, default=48, help="first frames of each clip (default 48, as benchmarked)")
    p.add_argument("--styles", nargs="*", help="bundled style names (default: every bundled style)")
    p.add_argument("--out", help="JSON to write")
    args = p.parse_args(argv)
    styles = [Styles(s) for s in args.styles] if args.styles else list(Styles)
    started = time.perf_counter()
    result = check(args.clips, args.frames, styles)
    print("identical everywhere" if result["identical"] else "THE GATE ACTED somewhere (see frames_differing)")
    if args.out:
        write_json(args.out, script_record(**result, seconds=round(time.perf_counter() - started, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
