"""The stabilizer's history at high strengths (forty-fourth session): before, every output, its
contrast raised back, was the next frame's history at every strength; now above 0.5 the history
keeps less of the raise (``vidstyle.flow.stabilizer.history_gain``).

For one bundled style on the first frames of each clip, the same stylized frames go through the
stabilizer as it is and as it was (the history's gain held at its maximum), at each strength, and
each output is scored: warping error (``vidstyle eval``'s), style loss against ``--painting``
(``vidstyle eval --painting``'s scorer, every 4th frame) and the std of the last frames' luma
structure 5-20 px across (a band-pass), where the dots the old loop grew show. Whether each
strength's outputs are identical bit for bit is said too.

    python benchmarks/stabilizer_history.py --clips ../shared/data/video/bikes.mp4 \\
        ../shared/data/video/cutbunny.mp4 --style light_starry_night --strengths 0.3 0.5 0.7 0.9 \\
        --painting ../shared/data/styles/starry_night.jpg --out benchmarks/results/stabilizer_history_s44.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import vidstyle.flow.stabilizer as stabilizer  # noqa: E402
from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import StyleScorer, read_frames, warping_error  # noqa: E402
from vidstyle.models.zoo import Styles  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402


def band_std(frames: list[np.ndarray]) -> float:
    """Mean std of the luma's structure 5-20 px across (difference of Gaussians 1.5 and 6 px)."""
    values = []
    for frame in frames:
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        values.append(float((cv2.GaussianBlur(luma, (0, 0), 1.5) - cv2.GaussianBlur(luma, (0, 0), 6)).std()))
    return float(np.mean(values))


def stabilized(inputs: list[np.ndarray], styled: list[np.ndarray], strength: float, as_before: bool) -> list:
    patch = mock.patch.object(stabilizer, "history_gain", lambda s, max_gain=stabilizer.MAX_CONTRAST_GAIN: max_gain) \
        if as_before else mock.patch.object(stabilizer, "history_gain", stabilizer.history_gain)
    with patch:
        stab, prev, out = stabilizer.FlowStabilizer(strength), None, []
        for frame, image in zip(inputs, styled):
            out.append(stab.apply(image, None if prev is None else stab.estimate(prev, frame)))
            prev = frame
    return out


def compare(clips: list[str], frames: int, style: Styles, strengths: list[float], painting: str | None = None,
            last: int = 10) -> dict:
    stylizer = Stylizer(style)
    scorer = StyleScorer(painting) if painting else None
    rows = []
    for clip in clips:
        inputs = list(read_frames(clip, max_frames=frames))
        styled = [stylizer.stylize(f) for f in inputs]
        for strength in strengths:
            outputs = {name: stabilized(inputs, styled, strength, name == "before") for name in ("before", "now")}
            row = {"clip": Path(clip).name, "frames": len(inputs), "strength": strength,
                   "identical": all(np.array_equal(a, b) for a, b in zip(outputs["before"], outputs["now"]))}
            for name, out in outputs.items():
                row[name] = {"warping_error": warping_error(inputs, out)["warping_error"],
                             "band_std_last": band_std(out[-last:])}
                if scorer is not None:
                    row[name]["style_loss"] = scorer.style(out[::4])
            rows.append(row)
            print(row, flush=True)
    return {"style": style.name, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", required=True, help="video files")
    p.add_argument("--frames", type=int, default=96, help="first frames of each clip (default 96)")
    p.add_argument("--style", default="light_starry_night", help="a bundled style (default light_starry_night)")
    p.add_argument("--strengths", nargs="+", type=float, default=[0.3, 0.5, 0.7, 0.9])
    p.add_argument("--painting", help="the style's painting: scores the style loss too")
    p.add_argument("--out", help="JSON to write")
    args = p.parse_args(argv)
    started = time.perf_counter()
    result = compare(args.clips, args.frames, Styles(args.style), args.strengths, args.painting)
    if args.out:
        write_json(args.out, script_record(**result, seconds=round(time.perf_counter() - started, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
