"""How far `--precision int8` (and, for reference, bf16) strays from fp32: each standard bundled
style on the first frames of each clip, int8 calibrated as `vidstyle stylize` does (8 frames spread
over the whole clip). Per style and clip: mean and maximum absolute difference from the fp32
frames (0-255), PSNR against them, and the warping error (Lai et al.) of each precision's frames,
raw and through the flow stabilizer (the `vidstyle stylize` default), so any added flicker shows.

Usage: python benchmarks/int8_accuracy.py [--clips A.mp4 ...] [--frames 30] [--styles a b ...] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames, warping_error  # noqa: E402
from vidstyle.flow.stabilizer import FlowStabilizer  # noqa: E402
from vidstyle.io.samples import sample_frames  # noqa: E402
from vidstyle.models.zoo import bundled_styles  # noqa: E402
from vidstyle.pipeline import INT8_CALIBRATION_FRAMES  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _stylize(stylizer: Stylizer, frames: list[np.ndarray]) -> list[np.ndarray]:
    return [stylizer.stylize(f) for f in frames]


def _stabilized(frames: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
    """``outputs`` through the flow stabilizer, as `vidstyle stylize` runs by default."""
    stabilizer = FlowStabilizer()
    return [stabilizer.step(previous, frame, out) for previous, frame, out in zip([None, *frames], frames, outputs)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=Path, nargs="+",
                   default=sorted((ROOT.parent / "shared" / "data" / "video").glob("*.mp4")))
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--styles", nargs="+")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    styles = args.styles or [name for name, info in bundled_styles().items()
                             if len(info.styles) == 1 and info.arch_args["channels"] == [32, 64, 128]]
    clips = args.clips
    rows = []
    for clip in clips:
        frames = list(read_frames(clip, args.frames))
        calibration = sample_frames(clip, INT8_CALIBRATION_FRAMES)
        for style in styles:
            fp32 = _stylize(Stylizer(style, device="cpu", precision="fp32", backend="torch"), frames)
            bf16 = _stylize(Stylizer(style, device="cpu", precision="bf16", backend="torch"), frames)
            int8 = Stylizer(style, device="cpu", precision="int8")
            int8.calibrate(calibration)
            q = _stylize(int8, frames)
            row = {"clip": clip.name, "style": style, "frames": len(frames), "size": list(frames[0].shape[:2])}
            for name, out in (("fp32", fp32), ("bf16", bf16), ("int8", q)):
                if name != "fp32":
                    d = np.abs(np.stack(out).astype(np.int16) - np.stack(fp32).astype(np.int16))
                    row[name] = {"mean_abs_diff": round(float(d.mean()), 3), "max_abs_diff": int(d.max()),
                                 "p99_abs_diff": int(np.percentile(d, 99)),
                                 "psnr_db": round(float(np.mean([_psnr(a, b) for a, b in zip(out, fp32)])), 2)}
                row.setdefault(name, {})["warping_error"] = round(warping_error(frames, out)["warping_error"], 6)
                row[name]["warping_error_stabilized"] = round(
                    warping_error(frames, _stabilized(frames, out))["warping_error"], 6)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        write_json(args.out, script_record(rows=rows))


if __name__ == "__main__":
    main()
