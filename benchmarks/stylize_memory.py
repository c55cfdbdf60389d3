"""Peak memory (RSS) of ``vidstyle stylize`` on the CPU, by frame size: what the fit in
vidstyle/memory.py is made from (RUN_BASE_BYTES and the bytes per pixel).

Three kinds of measurement, each in a fresh process whose peak RSS is read with ``os.wait4``:

* ``idle``: Python with torch, PyAV and vidstyle's pipeline imported, nothing run (what every
  run pays before its first frame);
* ``network``: a :class:`Stylizer` loaded, then ``--calls`` calls of a batch of random frames at
  the size; the record keeps the peak after loading and after the calls (their difference: the
  network's activations and the frames' tensors, at that batch);
* ``run``: ``python -m vidstyle stylize`` of a clip of ``--frames`` frames at the size (made with
  PyAV under ``--scratch``: a moving gradient with noise, H.264), written to .mp4 with the default
  encoder (x264 medium), with the stabilizer on (``--temporal flow``, the default) or off.

Default precision on a CPU with native bf16 is eager PyTorch bf16; ``fp32`` runs ONNX Runtime
(the auto backend's choice for fp32 on the CPU). Glibc keeps freed memory
(:func:`vidstyle.memory.keep_freed_memory`, as the command line does), so peaks are peaks.

    .venv/bin/python benchmarks/stylize_memory.py network --styles light_starry_night starry_night \\
        --precisions bf16 fp32 --batches 1 4 --sizes 640x360 1280x720 1920x1080 \\
        --out benchmarks/results/stylize_memory_network_cpu_c.json
    .venv/bin/python benchmarks/stylize_memory.py run --styles light_starry_night --temporal flow off \\
        --sizes 640x360 1920x1080 3840x2160 --frames 48 --out benchmarks/results/stylize_memory_run_cpu_c.json

``--roots A B`` runs vidstyle from each checkout in turn, ``--repeats`` rounds (an A/B of two
commits: peak and the summary's frames per second); ``--clip`` a real clip instead of the made one:

    .venv/bin/python benchmarks/stylize_memory.py run --roots /tmp/before . --repeats 3 --batches 0 \
        --sizes 640x360 --clip ../shared/data/video/cutbunny.mp4 --out speed_ab.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402

_IDLE = "import torch, av, vidstyle.cli, vidstyle.pipeline, vidstyle.stylizer"
_NETWORK = """
import json, resource, sys
import numpy as np
from vidstyle.memory import keep_freed_memory
keep_freed_memory()
from vidstyle.stylizer import Stylizer
style, precision, batch, w, h, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = Stylizer(style, device="cpu", precision=precision)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
loaded = peak()
frames = np.random.default_rng(0).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)
for _ in range(calls):
    s.stylize_batch(frames)
print(json.dumps({"loaded": loaded, "after": peak(), "backend": s.backend, "precision": s.precision}))
"""

# a network-bound run without a network: frames pass unchanged after SECONDS each, so every queue
# before the network fills, as with the standard network on a CPU (what the queues' bound is for)
_SLOW = """
import sys, time
import numpy as np
from vidstyle.memory import keep_freed_memory
keep_freed_memory()
from vidstyle.pipeline import stylize_video
clip, out, seconds, temporal = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
class Slow:
    def stylize_batch(self, images):
        time.sleep(seconds * len(images))
        return np.asarray(images)
print(stylize_video(clip, out, style=Slow(), batch=1, temporal=temporal, overwrite=True, progress=False).summary())
"""


def run_peak(command: list[str], root: Path = ROOT) -> tuple[int, float, str, str]:
    """Run ``command`` with vidstyle from the checkout ``root``: (its peak RSS in bytes, read with
    ``os.wait4``, its wall seconds, its stdout, its stderr); stops the script if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    out, err = proc.stdout.read(), proc.stderr.read()  # (small: nothing fills a pipe)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return usage.ru_maxrss * 1024, seconds, out.decode(), err.decode()


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """A clip of ``frames`` frames: a gradient with a square moving 1% of the width a frame, and
    noise (so that flow and encoder both have something to do)."""
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    base = np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                           np.broadcast_to((x + y) / 2, (height, width, 1))], axis=2)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(frames):
            img = base.copy()
            s = max(8, height // 6)
            left = (i * max(1, width // 100)) % max(1, width - s)
            img[height // 3:height // 3 + s, left:left + s] = 255
            img += rng.normal(0, 6, (height, width, 1)).astype(np.float32)
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


def size_list(sizes: list[str]) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in s.lower().split("x")) for s in sizes]


def fit(paths: list[str]) -> dict:
    """The model's constants from records of all three kinds (:data:`vidstyle.memory.RUN_BASE_BYTES`
    and the bytes per pixel): the idle peak's median; each network's bytes per pixel of a batch's
    frames, the largest of its rows at 1280x720 and up (at smaller sizes ONNX Runtime's arenas and
    oneDNN's scratch add a constant that would inflate it); the pipeline's and the stabilizer's, the
    largest per pixel left of each ``run`` row at 1920x1080 and up once the idle process, the network
    (at the constants just found) and the queues (:func:`vidstyle.pipeline.queued_bytes`, full, at the
    row's ``queue_depth``: the depth the checkout that ran used, 8 at every size before the queues were
    bounded by bytes; else this checkout's :func:`queue_depth`) are taken away."""
    from vidstyle.memory import network_kind
    from vidstyle.models.weights import arch_name
    from vidstyle.models.zoo import resolve_style
    from vidstyle.pipeline import queue_depth, queued_bytes

    records = [json.loads(Path(p).read_text()) for p in paths]
    rows = {what: [r for rec in records if rec["what"] == what for r in rec["rows"]] for what in ("idle", "network", "run")}
    base = sorted(r["peak"] for r in rows["idle"])[len(rows["idle"]) // 2]
    kind = {}

    def key(row) -> tuple[str, str]:
        if row["style"] not in kind:
            kind[row["style"]] = network_kind(arch_name(resolve_style(row["style"]).info.arch_args))
        return kind[row["style"]], "bf16" if row["precision"] == "bf16" else "fp32"

    def pixels(row) -> int:
        w, h = size_list([row["size"]])[0]
        return w * h

    network: dict = {}
    for r in rows["network"]:
        if pixels(r) >= 1280 * 720:
            network[key(r)] = max(network.get(key(r), 0), (r["after"] - r["loaded"]) / (r["batch"] * pixels(r)))
    left = {"off": [], "flow": []}
    for r in rows["run"]:
        if pixels(r) < 1920 * 1080 or key(r) not in network:
            continue
        p, batch = pixels(r), r["batch"] if r["batch"] != "default" else 1
        on = r["temporal"] != "off"
        depth = r.get("queue_depth") or queue_depth(3 * p, batch, 8)
        rest = r["peak"] - base - network[key(r)] * batch * p - queued_bytes(depth, p, on)
        left["flow" if on else "off"].append((r["size"], rest / p))
    pipeline = max(v for _, v in left["off"])
    stabilizer = max(v for _, v in left["flow"]) - pipeline
    return {"RUN_BASE_BYTES": base, "NETWORK_BYTES_PER_PIXEL": {"/".join(k): round(v) for k, v in network.items()},
            "PIPELINE_BYTES_PER_PIXEL": round(pipeline), "STABILIZER_BYTES_PER_PIXEL": round(stabilizer),
            "left_per_pixel": {k: [(s, round(v)) for s, v in vs] for k, vs in left.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("idle", "network", "run", "slow", "fit"))
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds a frame of the slow stand-in network (slow)")
    ap.add_argument("--records", nargs="+", default=[], help="JSON records of the other kinds (fit)")
    ap.add_argument("--styles", nargs="+", default=["light_starry_night"])
    ap.add_argument("--precisions", nargs="+", default=["bf16"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1], help="0: the default batch (run)")
    ap.add_argument("--temporal", nargs="+", default=["flow"])
    ap.add_argument("--sizes", nargs="+", default=["640x360", "1920x1080"])
    ap.add_argument("--frames", type=int, default=48, help="frames of each clip (run)")
    ap.add_argument("--calls", type=int, default=2, help="network calls (network)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more stylize options (run)")
    ap.add_argument("--clip", help="a clip of one's own instead of the made ones (run; give one --sizes)")
    ap.add_argument("--roots", nargs="+", default=[str(ROOT)],
                    help="checkouts to run vidstyle from, in turns (run): an A/B of two commits")
    ap.add_argument("--scratch", default="/tmp/vidstyle_memory_clips")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    python = sys.executable
    rows = []
    path = Path(args.out)
    record = script_record(what=args.what, rows=rows)

    def save() -> None:  # after each row: a long sweep stopped part way keeps what it measured
        write_json(path, record)

    if args.what == "fit":
        record["fit"] = fit(args.records)
        record["records"] = args.records
        print(json.dumps(record["fit"], indent=1))
        save()
        return
    if args.what == "idle":
        for _ in range(args.repeats):
            peak, seconds, _, _ = run_peak([python, "-c", _IDLE])
            rows.append({"peak": peak, "seconds": round(seconds, 1)})
            save()
        return
    for w, h in size_list(args.sizes):
        for style in args.styles:
            for precision in args.precisions:
                for batch in args.batches:
                    if args.what == "slow":
                        clip = make_clip(Path(args.scratch) / f"clip_{w}x{h}_{args.frames}.mp4", w, h, args.frames)
                        for _ in range(args.repeats):
                            for root in args.roots:
                                for temporal in args.temporal:
                                    peak, seconds, out, _ = run_peak(
                                        [python, "-c", _SLOW, str(clip), str(Path(args.scratch) / "out_slow.mp4"),
                                         str(args.seconds), temporal], Path(root))
                                    rows.append({"root": root, "size": f"{w}x{h}", "seconds_per_frame": args.seconds,
                                                 "temporal": temporal, "frames": args.frames, "peak": peak,
                                                 "seconds": round(seconds, 1), "summary": out.strip()})
                                    print(rows[-1], flush=True)
                                    save()
                        continue
                    if args.what == "network":
                        peak, seconds, out, _ = run_peak([python, "-c", _NETWORK, style, precision, str(batch),
                                                       str(w), str(h), str(args.calls)])
                        rows.append({"size": f"{w}x{h}", "style": style, "precision": precision, "batch": batch,
                                     "peak": peak, "seconds": round(seconds, 1), **json.loads(out)})
                        print(rows[-1], flush=True)
                        save()
                        continue
                    clip = Path(args.clip) if args.clip else \
                        make_clip(Path(args.scratch) / f"clip_{w}x{h}_{args.frames}.mp4", w, h, args.frames)
                    for _ in range(args.repeats):  # in turns: a slow phase of the machine hits each root alike
                        for root in args.roots:
                            for temporal in args.temporal:
                                rows.append(one_run(python, Path(root), clip, style, precision, batch, temporal,
                                                    args))
                                print(rows[-1], flush=True)
                                save()


def one_run(python: str, root: Path, clip: Path, style: str, precision: str, batch: int, temporal: str,
            args) -> dict:
    """One ``vidstyle stylize`` of ``clip`` with vidstyle from ``root``: its peak RSS, wall seconds
    and the frames per second its summary line gives."""
    target = Path(args.scratch) / f"out_{clip.stem}.mp4"
    peak, seconds, _, err = run_peak([python, "-m", "vidstyle", "stylize", str(clip), "-o", str(target),
                                      "--style", style, "--precision", precision, "--temporal", temporal,
                                      "--overwrite", *(["--batch", str(batch)] if batch else []), *args.extra],
                                     root)
    fps = re.search(r"\(([\d.]+) fps\)", err)
    pace = next((line for line in err.splitlines() if "pace:" in line), "")
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        size = f"{stream.width}x{stream.height}"
    return {"root": str(root), "clip": clip.name, "size": size, "style": style, "precision": precision,
            "batch": batch or "default", "temporal": temporal, "frames": args.frames, "extra": args.extra,
            "peak": peak, "seconds": round(seconds, 1), "fps": float(fps.group(1)) if fps else None, "pace": pace}


if __name__ == "__main__":
    main()
