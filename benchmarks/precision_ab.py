"""Which precision and backend is fastest on this CPU: `vidstyle stylize` end to end and the Python
API's ``Stylizer.stylize`` loop, each setting in a fresh process, the settings taking turns round
after round (a slow phase of a shared machine hits every setting alike; the order rotates each
round). Records each run's frames/s, wall time and the load average before it.

Settings (``--variants``): ``auto`` (what ``--precision auto`` picks), ``fp32`` (``--precision
fp32``: ONNX Runtime where installed), ``bf16-compile`` (``--precision bf16 --backend compile``),
``fp32-torch`` (``--precision fp32 --backend torch``).

    python benchmarks/precision_ab.py cli --clip ../shared/data/video/cutbunny.mp4 \\
        --style light_starry_night --rounds 3 --out benchmarks/results/precision_ab.json
    python benchmarks/precision_ab.py api --clip ../shared/data/video/cutbunny.mp4 \\
        --style light_starry_night --sizes 640x360 1280x720 --frames 40 --out benchmarks/results/precision_api.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "auto": {"precision": "auto", "backend": "auto"},
    "fp32": {"precision": "fp32", "backend": "auto"},
    "bf16-compile": {"precision": "bf16", "backend": "compile"},
    "fp32-torch": {"precision": "fp32", "backend": "torch"},
}

# `vidstyle stylize`'s summary: "stylized 240 frames in 19.5 s (12.3 fps) [cpu bf16 torch, batch 4, ...]"
SUMMARY = re.compile(r"stylized (\d+) frames in ([\d.]+) s \(([\d.]+) fps\) \[([^\]]*)\]")

# the child of `api`: warm-up calls, then timed calls of Stylizer.stylize on one decoded frame per size
_API_CHILD = """
import json, os, sys, time
import av, cv2, numpy as np
import vidstyle
clip, style, precision, backend, frames, warmup = sys.argv[1:7]
sizes = [tuple(int(v) for v in s.split("x")) for s in sys.argv[7:]]
with av.open(clip) as c:
    for i, f in enumerate(c.decode(video=0)):
        if i == 100:
            base = f.to_ndarray(format="rgb24")
            break
t0 = time.perf_counter()
s = vidstyle.Stylizer(style, precision=precision, backend=backend)
built = time.perf_counter() - t0
rows = []
for w, h in sizes:
    img = np.ascontiguousarray(cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC))
    t0 = time.perf_counter()
    for _ in range(int(warmup)):
        s.stylize(img)
    warm = time.perf_counter() - t0
    times = []
    for _ in range(int(frames)):
        t0 = time.perf_counter()
        out = s.stylize(img)
        times.append(time.perf_counter() - t0)
    rows.append({"size": f"{w}x{h}", "warmup_s": warm, "ms": [t * 1000 for t in times],
                 "median_ms": sorted(times)[len(times) // 2] * 1000, "out_mean": float(out.mean())})
    if os.environ.get("PRECISION_AB_PNG"):
        cv2.imwrite(os.environ["PRECISION_AB_PNG"] + f"_{w}x{h}.png", out[..., ::-1])
print(json.dumps({"backend": s.backend, "dtype": str(s.dtype), "build_s": built, "rows": rows}))
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(clip: str, style: str, variant: str, extra: list[str], out_dir: str, timeout: float) -> dict:
    """One `vidstyle stylize` process; its own summary and the wall time around it."""
    opts = VARIANTS[variant]
    out = os.path.join(out_dir, f"{variant}.mp4")
    cmd = [sys.executable, "-m", "vidstyle", "stylize", clip, "-o", out, "--style", style, "--overwrite",
           "--precision", opts["precision"], "--backend", opts["backend"], *extra]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"over {timeout} s", "load1": load}
    wall = time.perf_counter() - t0
    m = SUMMARY.search(proc.stdout + proc.stderr)
    if proc.returncode or not m:
        return {"variant": variant, "error": (proc.stderr or proc.stdout)[-600:], "load1": load}
    frames, secs, fps, desc = m.groups()
    return {"variant": variant, "frames": int(frames), "run_s": float(secs), "fps": float(fps), "ran": desc,
            "wall_s": round(wall, 2), "wall_ms_per_frame": round(wall * 1000 / int(frames), 1), "load1": load}


def run_api(clip: str, style: str, variant: str, sizes: list[str], frames: int, warmup: int,
            png: str | None, timeout: float) -> dict:
    """One process timing ``Stylizer.stylize`` in a loop at each size."""
    opts = VARIANTS[variant]
    env = _env()
    if png:
        env["PRECISION_AB_PNG"] = png
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run([sys.executable, "-c", _API_CHILD, clip, style, opts["precision"], opts["backend"],
                               str(frames), str(warmup), *sizes], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"over {timeout} s", "load1": load}
    if proc.returncode:
        return {"variant": variant, "error": proc.stderr[-600:], "load1": load}
    return {"variant": variant, "load1": load, **json.loads(proc.stdout.strip().splitlines()[-1])}


def summarise(runs: list[dict], key: str) -> dict:
    """Per variant: the values of ``key`` in run order, their median, min and max."""
    out = {}
    for run in runs:
        if key in run:
            out.setdefault(run["variant"], []).append(run[key])
    return {v: {"values": xs, "median": statistics.median(xs), "min": min(xs), "max": max(xs)} for v, xs in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["cli", "api"])
    p.add_argument("--clip", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--extra", default="", help="more `vidstyle stylize` options (cli), e.g. '--duration 2'")
    p.add_argument("--sizes", nargs="+", default=["640x360"], help="frame sizes (api)")
    p.add_argument("--frames", type=int, default=20, help="timed calls per size (api)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per size first (api)")
    p.add_argument("--png", help="save the first round's outputs as PNGs with this prefix (api)")
    p.add_argument("--timeout", type=float, default=600, help="seconds a run may take")
    p.add_argument("--keep", help="copy the first round's outputs into this folder (cli)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = args.variants[r % len(args.variants):] + args.variants[:r % len(args.variants)]
            for variant in order:
                if args.mode == "cli":
                    run = run_cli(args.clip, args.style, variant, args.extra.split(), tmp, args.timeout)
                    if args.keep and r == 0 and "error" not in run:
                        os.makedirs(args.keep, exist_ok=True)
                        os.replace(os.path.join(tmp, f"{variant}.mp4"), os.path.join(args.keep, f"{variant}.mp4"))
                else:
                    png = f"{args.png}_{variant}" if args.png and r == 0 else None
                    run = run_api(args.clip, args.style, variant, args.sizes, args.frames, args.warmup, png, args.timeout)
                    for row in run.get("rows", []):
                        run[f"median_ms_{row['size']}"] = row["median_ms"]
                run["round"] = r
                runs.append(run)
                print(json.dumps({k: v for k, v in run.items() if k != "rows"}), flush=True)
    keys = ["fps", "wall_ms_per_frame"] if args.mode == "cli" else [f"median_ms_{s}" for s in args.sizes]
    record = {"args": vars(args), "argv": sys.argv, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "summary": {k: summarise(runs, k) for k in keys}, "runs": runs}
    Path(args.out).write_text(json.dumps(record, indent=1))
    print(json.dumps(record["summary"]))


if __name__ == "__main__":
    main()
