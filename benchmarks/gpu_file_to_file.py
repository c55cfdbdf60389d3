"""File to file on a GPU: `vidstyle stylize`'s pipeline as it runs ("overlapped": CUDA side
streams, page-locked buffers, batch k + 1 queued before batch k is taken back, and the frames
converted to yuv420p on the GPU), against the same overlap handing RGB to the encoder ("rgb":
swscale converts in the encoder's thread) and the stage serial ("serial": upload, network and
download of one batch in turn, RGB, as before), for several x264 presets, with one Stylizer
compiled once for all runs.

Before timing, checks that the overlapped path gives the serial path's frames bit for bit on the
clip's first frames, and its yuv420p frames the CPU conversion's. Then a warm-up run on the clip's first second (compiles the network for the
batch and frame size), then each (round, preset, mode) stylizes the whole clip (audio kept,
``--temporal off``) to a temporary file; frames/s is frames / wall time of that run, which
excludes loading and compiling, and the stage busy times are ms per frame (the stages run in
parallel threads). Also times vidstyle's own compiled network alone on the clip's frames (CUDA
events, warm). One JSON line per run on stdout as it ends; the whole record to ``--out``.
Without CUDA it runs on the CPU (a smoke check; its numbers mean nothing for a GPU).

``--temporal flow`` runs every mode with the flow stabilizer, as ``vidstyle stylize`` does by
default: "overlapped" then blends on the GPU inside ``submit_batch`` (``FlowStabilizer.apply_tensor``)
and hands YUV to the encoder, "rgb" and "serial" blend on the CPU in the stabilize stage, as
before the thirty-second session. A check first compares the GPU blend with the CPU one on the
clip's first frames.

    python benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style contrast_of_forms \\
        --backend compile --batch 8 --presets veryfast ultrafast medium --out /tmp/f2f.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the command line runs

MODES = ("overlapped", "rgb", "serial")


class SerialStage:
    """``stylizer`` without ``submit_batch``: the pipeline's stylize stage then runs each batch's
    upload, network and download in turn, as it did before the overlap (mode "serial")."""

    def __init__(self, stylizer: Stylizer):
        self.stylize_batch = stylizer.stylize_batch
        self.choice = stylizer.choice


class RgbStage(SerialStage):
    """``stylizer`` overlapped but handing RGB to the encoder, which converts it with swscale (mode
    "rgb"; "overlapped" is the whole of what vidstyle does: the frames converted to YUV on the GPU)."""

    def __init__(self, stylizer: Stylizer):
        super().__init__(stylizer)
        self.stylizer = stylizer

    def submit_batch(self, images):
        return self.stylizer.submit_batch(images)


def overlap_check(stylizer: Stylizer, frames: np.ndarray, batch: int) -> dict:
    """The overlapped path (every batch in flight before the first is taken) against
    ``stylize_batch``, batch by batch; and its yuv420p frames against the same conversion of
    ``stylize_batch``'s on the CPU."""
    from vidstyle.frames import float_to_yuv420, images_to_tensor
    from vidstyle.io.display import rgb_to_yuv_matrix

    batches = [frames[i:i + batch] for i in range(0, len(frames) - batch + 1, batch)]
    pending = [stylizer.submit_batch(b) for b in batches]
    yuv = [stylizer.submit_batch(b, yuv420=1) for b in batches]
    overlapped = all(p.overlapped for p in pending + yuv)
    worst = worst_yuv = 0
    for b, p, q in zip(batches, pending, yuv):
        want = stylizer.stylize_batch(b)
        worst = max(worst, int(np.abs(p.result().astype(np.int16) - want).max()))
        want_yuv = float_to_yuv420(images_to_tensor(want), rgb_to_yuv_matrix(1)).numpy()
        worst_yuv = max(worst_yuv, int(np.abs(q.result().astype(np.int16) - want_yuv).max()))
    return {"batches": len(batches), "overlapped": overlapped, "max_abs_difference": worst,
            "yuv420_max_abs_difference": worst_yuv}


def stabilizer_check(stylizer: Stylizer, frames: np.ndarray, batch: int) -> dict:
    """The stabilizer blended where the network runs (``submit_batch(..., stabilizer=)``, every
    batch in flight before the first is taken) against the CPU's ``apply`` on ``stylize_batch``'s
    frames, with the same flow states."""
    from vidstyle.flow.stabilizer import FlowStabilizer

    host, device = FlowStabilizer(), FlowStabilizer()
    states = [None] + [host.estimate(frames[t - 1], frames[t]) for t in range(1, len(frames))]
    starts = range(0, len(frames) - batch + 1, batch)
    pending = [stylizer.submit_batch(frames[i:i + batch], stabilizer=device, states=states[i:i + batch])
               for i in starts]
    got = np.concatenate([p.result() for p in pending]).astype(np.int16)
    want = np.stack([host.apply(image, state) for image, state in
                     zip(stylizer.stylize_batch(frames[:len(got)]), states)])
    diff = np.abs(got - want)
    return {"frames": len(got), "on_device": bool(getattr(stylizer, "stabilizes_on_device", False)),
            "max_abs_difference": int(diff.max()), "mean_abs_difference": round(float(diff.mean()), 4)}


def network_only(stylizer: Stylizer, frames: np.ndarray, batch: int, repeats: int = 5, calls: int = 5) -> dict:
    """vidstyle's network alone (``stylize_tensor``: contrast read, network, blend) on a device
    batch of the clip's frames: median ms per frame over ``repeats`` of ``calls`` calls."""
    from vidstyle.frames import images_to_tensor

    x = images_to_tensor(frames[:batch], stylizer.device)
    for _ in range(2):
        stylizer.stylize_tensor(x)
    times = []
    for _ in range(repeats):
        if stylizer.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                stylizer.stylize_tensor(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / calls / batch)
        else:
            t = time.perf_counter()
            for _ in range(calls):
                stylizer.stylize_tensor(x)
            times.append((time.perf_counter() - t) * 1e3 / calls / batch)
    med = statistics.median(times)
    return {"batch": batch, "ms_per_frame": round(med, 3), "fps": round(1e3 / med, 1),
            "all_ms": [round(t, 3) for t in times]}


def one_run(clip: str, style, batch: int, preset: str, duration: float | None = None, temporal: str = "off") -> dict:
    with tempfile.TemporaryDirectory(prefix="vidstyle-f2f-") as tmp:
        result = stylize_video(clip, Path(tmp) / "out.mp4", style=style, batch=batch, preset=preset,
                               temporal=temporal, duration=duration, progress=False)
    return {"frames": result.frames, "seconds": round(result.seconds, 3), "fps": round(result.fps, 2),
            "stages_ms_per_frame": {k: round(v * 1e3 / max(result.frames, 1), 2)
                                    for k, v in result.stage_seconds.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--style", default="contrast_of_forms")
    p.add_argument("--backend", default="compile")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--presets", nargs="+", default=["veryfast"])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--temporal", default="off", choices=("off", "flow"),
                   help="flow: with the stabilizer (on the GPU in mode overlapped, on the CPU in the others)")
    p.add_argument("--duration", type=float, help="seconds of the clip each timed run stylizes (default: all of it)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.perf_counter()
    stylizer = Stylizer(args.style, device=device, backend=args.backend)
    frames = np.stack(list(read_frames(args.clip, 2 * args.batch)))
    record = script_record(clip=args.clip, style=args.style, backend=args.backend, batch=args.batch,
                           device=device, gpu=torch.cuda.get_device_name() if device == "cuda" else None,
                           torch=torch.__version__, precision=stylizer.precision, temporal=args.temporal)
    record["overlap_check"] = overlap_check(stylizer, frames, args.batch)
    print(json.dumps({"overlap_check": record["overlap_check"]}), flush=True)
    if args.temporal == "flow":
        record["stabilizer_check"] = stabilizer_check(stylizer, frames, args.batch)
        print(json.dumps({"stabilizer_check": record["stabilizer_check"]}), flush=True)
    warm = one_run(args.clip, stylizer, args.batch, args.presets[0], duration=1.0, temporal=args.temporal)
    record["warm_up"] = {**warm, "seconds_since_start": round(time.perf_counter() - t0, 1)}
    print(json.dumps({"warm_up": record["warm_up"]}), flush=True)
    record["network_only"] = network_only(stylizer, frames, args.batch)
    print(json.dumps({"network_only": record["network_only"]}), flush=True)
    record["runs"] = []
    for rnd in range(args.rounds):
        for preset in args.presets:
            for mode in args.modes:
                style = {"overlapped": stylizer, "rgb": RgbStage, "serial": SerialStage}[mode]
                style = style if mode == "overlapped" else style(stylizer)
                row = {"round": rnd + 1, "preset": preset, "mode": mode,
                       **one_run(args.clip, style, args.batch, preset, duration=args.duration, temporal=args.temporal)}
                print(json.dumps(row), flush=True)
                record["runs"].append(row)
                if args.out:  # what has run so far survives a timeout
                    write_json(args.out, record)
    if args.out:
        write_json(args.out, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
