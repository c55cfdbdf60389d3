"""What the flow stabilizer costs per frame, by frame size: its two halves timed on their own.

* ``estimate``: DIS flow both ways at half the frame's size, the occlusion tests and the cut test
  (``FlowStabilizer.estimate``, the pipeline's flow stage);
* ``apply``: the previous output warped and blended (``FlowStabilizer.apply``, the stabilize stage),
  of which ``blend`` is the contrast-keeping blend alone (``contrast_preserving_blend``, in as
  many row bands as ``apply`` uses: ``blend_bands``, or ``--blend-bands N``).

With ``--flow-workers N ...``, also ``stream_ms_per_pair``: the estimate over a run of
``--stream-frames`` consecutive frames with N pairs on N threads at once, as the pipeline's flow
stage does (:func:`vidstyle.flow.stabilizer.flow_workers`): wall time per pair. With ``--device
DEV``, also ``apply_tensor_ms``: the apply done where the frames are
(:meth:`FlowStabilizer.apply_tensor`, as ``vidstyle stylize`` does on CUDA), the flow and weight
already copied there, the device synchronised around each call.

Frames are a real clip's, resized to each size (one pair of consecutive frames; the cost hardly
depends on the content). Median milliseconds of ``--repeats`` calls after one untimed call, with
``vidstyle.memory.keep_freed_memory`` on, as the command line runs. Run it at another commit to
compare (``git worktree``); its ROOT is the checkout it lies in.

    .venv/bin/python benchmarks/stabilizer_cost.py --clip ../shared/data/video/bikes.mp4 \\
        --sizes 640x360 1920x1080 --out benchmarks/results/stabilizer_cost_cpu.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
import vidstyle.flow.stabilizer as stabilizer_module  # noqa: E402
from vidstyle.flow.occlusion import valid_mask_numpy  # noqa: E402
from vidstyle.flow.stabilizer import FlowStabilizer, banded_blend, brightness_change  # noqa: E402
from vidstyle.flow.warp import resize_flow, warp_numpy  # noqa: E402


def median_ms(call, repeats: int) -> float:
    call()  # untimed: first-touch page faults, OpenCV's lazy set-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def parts(stabilizer: FlowStabilizer, prev: np.ndarray, cur: np.ndarray, state, repeats: int) -> dict[str, float]:
    """Median milliseconds of the estimate's and the apply's main steps, as they call them."""
    prev_s, cur_s = stabilizer._small(prev), stabilizer._small(cur)
    backward, forward = stabilizer._flow(cur_s, prev_s), stabilizer._flow(prev_s, cur_s)
    valid = valid_mask_numpy(backward, forward, motion_boundaries=True)
    warped_small = warp_numpy(prev_s, backward)
    flow = resize_flow(state.flow, cur.shape[:2])
    steps = {"dis_backward": lambda: stabilizer._flow(cur_s, prev_s),
             "dis_forward": lambda: stabilizer._flow(prev_s, cur_s),
             "valid_mask": lambda: valid_mask_numpy(backward, forward, motion_boundaries=True),
             "fade_test": lambda: brightness_change(warped_small, cur_s, valid.astype(bool)),
             "resize_flow": lambda: resize_flow(state.flow, cur.shape[:2]),
             "warp": lambda: warp_numpy(prev, flow)}
    return {name: round(median_ms(step, repeats), 2) for name, step in steps.items()}


def stream_ms_per_pair(frames: list[np.ndarray], workers: int, repeats: int) -> float:
    """Median wall milliseconds per pair of estimating every consecutive pair of ``frames`` with
    ``workers`` pairs at once (one FlowStabilizer: each thread gets its own DIS object)."""
    stabilizer = FlowStabilizer()
    pairs = list(zip(frames[:-1], frames[1:]))
    with ThreadPoolExecutor(workers) as pool:
        def run():
            list(pool.map(lambda pair: stabilizer.estimate(*pair), pairs))
        return median_ms(run, max(1, repeats // 2)) / len(pairs)


def apply_tensor_ms(prev: np.ndarray, cur: np.ndarray, state, strength: float, device: str, repeats: int) -> float:
    """Median milliseconds of one :meth:`FlowStabilizer.apply_tensor` of ``cur`` onto ``prev`` on
    ``device`` (guides uploaded beforehand, as the pipeline does on its copy stream)."""
    import torch

    from vidstyle.device import resolve_device, synchronize  # (MPS queues its work as CUDA does)

    dev = resolve_device(device)
    sync = lambda: synchronize(dev)  # noqa: E731
    stabilizer = FlowStabilizer(strength)
    levels = [torch.from_numpy(f).to(dev).permute(2, 0, 1)[None].float() for f in (prev, cur)]
    guides = stabilizer.guide_tensors(state, dev)

    def apply():
        stabilizer._prev_output = levels[0]  # every call blends the same two frames
        stabilizer.apply_tensor(levels[1], state, guides)
        sync()
    with torch.inference_mode():
        return median_ms(apply, repeats)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", required=True, help="a video whose first two frames are used")
    p.add_argument("--sizes", nargs="+", default=["640x360", "1920x1080"], help="WIDTHxHEIGHT values")
    p.add_argument("--strength", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--blend-bands", type=int,
                   help="blend in this many row bands (default: what vidstyle picks for the size and the cores)")
    p.add_argument("--cv2-threads", type=int, help="OpenCV's thread count (cv2.setNumThreads; default: its own)")
    p.add_argument("--parts", action="store_true",
                   help="also time the parts: DIS each way, the occlusion mask, the fade test, the flow's resize, "
                        "the warp")
    p.add_argument("--flow-workers", type=int, nargs="+", default=[],
                   help="also time the estimate over consecutive pairs with this many pairs at once (each)")
    p.add_argument("--stream-frames", type=int, default=25, help="frames of the clip for --flow-workers")
    p.add_argument("--device", help="also time apply_tensor on this torch device (cpu, cuda, mps)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stabilizer_cost.json")
    args = p.parse_args(argv)
    keep_freed_memory()
    if args.cv2_threads:
        cv2.setNumThreads(args.cv2_threads)
    if args.blend_bands:
        stabilizer_module.blend_bands = lambda height, width, cores=None: args.blend_bands
    clip = list(read_frames(args.clip, max_frames=max(2, args.stream_frames if args.flow_workers else 2)))
    first, second = clip[:2]
    rows = []
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        prev, cur = (cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in (first, second))
        stabilizer = FlowStabilizer(args.strength)
        state = stabilizer.estimate(prev, cur)
        if state is None:
            raise SystemExit(f"{args.clip}: its first two frames read as a scene cut; use another clip")
        stabilizer.apply(prev, None)  # the previous output: the input frame stands in for it

        def apply():
            stabilizer.apply(cur, state)
            stabilizer._prev_output = prev  # every call blends the same two frames

        weight = cv2.resize(state.weight, (w, h)) * np.float32(args.strength)
        bands = stabilizer_module.blend_bands(h, w)
        row = {"size": size, "blend_bands": bands,
               "estimate_ms": round(median_ms(lambda: stabilizer.estimate(prev, cur), args.repeats), 1),
               "apply_ms": round(median_ms(apply, args.repeats), 1),
               "blend_ms": round(median_ms(lambda: banded_blend(prev, cur, weight, bands), args.repeats), 1)}
        if args.parts:
            row["parts_ms"] = parts(stabilizer, prev, cur, state, args.repeats)
        if args.flow_workers:
            frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in clip]
            row["stream_ms_per_pair"] = {str(n): round(stream_ms_per_pair(frames, n, args.repeats), 2)
                                         for n in args.flow_workers}
        if args.device:
            row["apply_tensor_ms"] = round(apply_tensor_ms(prev, cur, state, args.strength, args.device,
                                                           args.repeats), 2)
        rows.append(row)
        print(row)
    write_json(args.out, script_record(args={k: str(v) for k, v in vars(args).items()}, rows=rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
