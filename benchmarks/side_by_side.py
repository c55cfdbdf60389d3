"""Render a labelled side-by-side clip, per-frame vs temporally consistent stylization, for the README.

Left: (a) the Starry Night net trained without the temporal loss, run per frame. Right: (b) the net
trained with the temporal loss plus the flow stabilizer (``--temporal flow``); ``--set`` picks the pair
of ``temporal.SETS`` (default ``light_starry_night_effnet_sw5_ss256_tw100``: a byte copy of the bundled
network and its twin trained without the temporal loss, same recipe and steps). Writes

* ``samples/side_by_side.mp4``: the first N frames of ``samples/sample.mp4``, two 320x180 panels;
* ``samples/side_by_side.png``: a strip of consecutive frames, per row: per-frame output, its
  temporal difference |frame_t - warp(frame_{t-1})| (x4, where the ground-truth flow says the pixel is
  visible; flicker shows as bright texture, a stable output is dark), then the same two rows for the
  consistent output.

    .venv/bin/python benchmarks/side_by_side.py [--frames 48] [--strength 0.3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import ROOT, SETS, SAMPLE, SAMPLE_FLOW, flow_states, stabilize, stylize  # noqa: E402

from vidstyle.eval import GroundTruthFlow, read_frames  # noqa: E402
from vidstyle.flow.warp import warp_numpy  # noqa: E402

PANEL = (320, 180)  # width, height of each half


def label(img: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` on a dark band at the top of a uint8 RGB image (copy)."""
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def temporal_difference(frames: list[np.ndarray], gt: GroundTruthFlow, t: int) -> np.ndarray:
    """|frame_t - warp(frame_{t-1})| x4 over visible pixels, as a uint8 RGB image."""
    warped = warp_numpy(frames[t - 1].astype(np.float32), gt.flow(t))
    diff = np.abs(frames[t].astype(np.float32) - warped) * gt.valid(t)[..., None]
    return np.clip(diff * 4, 0, 255).astype(np.uint8)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 24) -> None:
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "medium"}
        for img in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)  # no half-written output


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--strength", type=float, default=0.3,
                   help="stabilizer strength of the right panel (default 0.3, the bundled light_starry_night's)")
    p.add_argument("--strip", type=int, default=5, help="consecutive frames in the PNG strip")
    p.add_argument("--strip-start", type=int, default=20)
    p.add_argument("--set", choices=list(SETS), default="light_starry_night_effnet_sw5_ss256_tw100",
                   help="which (a)/(b) pair (default: the bundled light_starry_night and its weight-0 twin)")
    p.add_argument("--out", type=Path, default=ROOT / "samples/side_by_side")
    args = p.parse_args(argv)
    torch.set_num_threads(2)

    inputs = list(read_frames(SAMPLE, args.frames))
    model_a, model_b = SETS[args.set][:2]
    per_frame, _ = stylize(model_a, inputs)
    consistent, _ = stylize(model_b, inputs)
    states, _ = flow_states(inputs)
    consistent, _ = stabilize(consistent, states, args.strength)

    small = lambda img: cv2.resize(img, PANEL, interpolation=cv2.INTER_AREA)  # noqa: E731
    left_name = "per frame (no temporal loss)"
    right_name = f"temporal loss + stabilizer {args.strength:g}"
    video = [np.hstack([label(small(a), left_name), label(small(b), right_name)])
             for a, b in zip(per_frame, consistent)]
    write_video(args.out.with_suffix(".mp4"), video)

    gt = GroundTruthFlow(SAMPLE_FLOW)
    ts = range(args.strip_start, min(args.strip_start + args.strip, len(inputs)))
    rows = []
    for frames, name in ((per_frame, "per frame"), (consistent, "consistent")):
        rows.append(np.hstack([label(small(frames[t]), f"{name} t={t}") for t in ts]))
        rows.append(np.hstack([label(small(temporal_difference(frames, gt, t)), f"|diff| x4 t={t}") for t in ts]))
    strip = np.vstack(rows)
    cv2.imwrite(str(args.out.with_suffix(".png")), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    for suffix in (".mp4", ".png"):
        f = args.out.with_suffix(suffix)
        print(f"wrote {f} ({f.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
