"""Live-mode benchmark: processed fps and capture-to-display latency of `vidstyle live`.

Runs the real command in `--source FILE --realtime --no-window` mode (the file is replayed as a
camera, looped: paced at its frame rate, frames the stylizer cannot keep up with are dropped) at 640x360
with the fastest model, and writes benchmarks/results/live.json.

Targets (issue 5, 2-core CPU): >= 20 processed frames/s and p95 latency <= 120 ms.

The model is the bundled style built on the light network when one exists; otherwise a
random-weights ``light_net`` (the same architecture runs at the same speed whatever its weights).

    .venv/bin/python benchmarks/live_bench.py [--duration 20] [--video FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_FPS, TARGET_P95_MS = 20.0, 120.0
SIZE = "640x360"


def default_video() -> Path:
    for candidate in (ROOT / "samples" / "sample.mp4", ROOT.parent / "shared" / "data" / "video" / "cutbunny.mp4"):
        if candidate.is_file():
            return candidate
    sys.exit("no benchmark video: pass --video FILE (samples/sample.mp4 or ../shared/data/video/cutbunny.mp4)")


def fastest_model(tmp: Path) -> tuple[str, str]:
    """(style spec, description): a bundled light-network style, else a random light_net."""
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model
    from vidstyle.models.zoo import bundled_styles

    light_args = light_net().arch_args
    for name, info in bundled_styles().items():
        if {k: v for k, v in info.arch_args.items() if k != "num_styles"} == \
                {k: v for k, v in light_args.items() if k != "num_styles"}:
            return name, f"bundled style {name} (light_net)"
    import torch

    torch.manual_seed(0)
    path = tmp / "light_net_random.safetensors"
    save_model(path, light_net(), styles=[{"name": "light_random"}])
    return str(path), "light_net with random weights (no bundled light style yet; same speed)"


def run_live(video: Path, style: str, duration: float, extra: list[str], stats_path: Path) -> dict:
    cmd = [sys.executable, "-m", "vidstyle", "live", "--source", str(video), "--realtime", "--loop", "--no-window",
           "--size", SIZE, "--duration", str(duration), "--style", style, "--device", "cpu",
           "--stats-json", str(stats_path), *extra]
    load_before = os.getloadavg()[0]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"live run failed ({' '.join(cmd)}):\n{r.stderr}")
    stats = json.loads(stats_path.read_text())
    stats["load_average_1min_before"] = round(load_before, 2)
    stats["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    return stats


def network_ms(style: str, extra: list[str], video: Path, frames: int = 30) -> float:
    """Mean milliseconds of Stylizer.stylize alone on 640x360 frames of ``video`` (same options as
    the live run): the live path's floor, to tell pipeline overhead from machine speed."""
    import av

    from vidstyle.memory import keep_freed_memory
    from vidstyle.stylizer import Stylizer

    keep_freed_memory()  # as the live command runs
    kwargs = dict(device="cpu", channels_last="--no-channels-last" not in extra)
    for flag in ("--backend", "--precision"):
        if flag in extra:
            kwargs[flag[2:]] = extra[extra.index(flag) + 1]
    stylizer = Stylizer(style, **kwargs)
    w, h = (int(v) for v in SIZE.split("x"))
    with av.open(str(video)) as c:
        images = [f.to_ndarray(format="rgb24", width=w, height=h) for _, f in zip(range(frames), c.decode(video=0))]
    for img in images[:3]:
        stylizer.stylize(img)
    t0 = time.perf_counter()
    for img in images:
        stylizer.stylize(img)
    return (time.perf_counter() - t0) / len(images) * 1000


def pipeline_overhead(video: Path, duration: float = 8.0) -> dict:
    """The live path with an identity "network": capture, pacing, dropping and accounting alone.
    Its latency is the floor the network's time adds to; its CPU time per frame (decode, resize,
    colour conversion) is what the capture takes from the network."""
    from vidstyle.io.capture import FileSource
    from vidstyle.live import LiveOptions, StyleBank
    from vidstyle.live import run_live as live_loop

    class Identity:
        label = "identity"

        def stylize(self, image):
            return image.copy()

    w, h = (int(v) for v in SIZE.split("x"))
    cpu0 = time.process_time()
    s = live_loop(FileSource(video, realtime=True, size=(w, h), loop=True), StyleBank([Identity()]),
                  LiveOptions(window=False, duration=duration))
    cpu = time.process_time() - cpu0
    return {"mean_fps": round(s.mean_fps or 0.0, 2), "processed": s.processed, "captured": s.captured,
            # None: no frame was shown (the run failed to start)
            "latency_mean_ms": None if s.latency_mean_ms is None else round(s.latency_mean_ms, 2),
            "latency_p95_ms": None if s.latency_p95_ms is None else round(s.latency_p95_ms, 2),
            "first_latency_ms": None if s.first_latency_ms is None else round(s.first_latency_ms, 2),
            "cpu_ms_per_captured_frame": round(cpu / max(1, s.captured) * 1000, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, help="video replayed as the camera (default: samples/sample.mp4 or "
                                                "../shared/data/video/cutbunny.mp4)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per configuration (default 20)")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "live.json")
    args = ap.parse_args()
    video = args.video or default_video()

    import torch

    configs = {  # name -> extra `vidstyle live` arguments
        # auto: eager bf16 on CPUs with native bf16 (AMX / AVX512-BF16), else ONNX Runtime fp32
        "default (auto)": [],
        "ONNX Runtime fp32": ["--backend", "onnx", "--precision", "fp32"],
        "torch fp32 (channels_last)": ["--backend", "torch", "--precision", "fp32"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        style, model_desc = fastest_model(Path(tmp))
        results = {}
        for i, (name, extra) in enumerate(configs.items()):
            # a file per run: `vidstyle live` will not write its summary over an earlier one
            stats = run_live(video, style, args.duration, extra, Path(tmp) / f"stats_{i}.json")
            stats["command_extra_args"] = extra
            stats["network_only_ms_per_frame"] = round(network_ms(style, extra, video), 1)
            stats["meets_targets"] = stats["mean_fps"] >= TARGET_FPS and stats["latency_p95_ms"] <= TARGET_P95_MS
            results[name] = stats
            print(f"{name:26s} {stats['mean_fps']:5.1f} fps  latency mean {stats['latency_mean_ms']:5.0f} ms  "
                  f"p95 {stats['latency_p95_ms']:5.0f} ms  network alone {stats['network_only_ms_per_frame']:.0f} ms  "
                  f"({stats['processed']}/{stats['captured']} frames, "
                  f"load {stats['load_average_1min_before']}->{stats['load_average_1min_after']})", flush=True)

    overhead = pipeline_overhead(video)
    print(f"pipeline alone (identity network): {overhead['mean_fps']:.1f} fps, latency mean "
          f"{overhead['latency_mean_ms']:.1f} ms p95 {overhead['latency_p95_ms']:.1f} ms, "
          f"{overhead['cpu_ms_per_captured_frame']:.1f} ms CPU per captured frame", flush=True)
    best = max(results, key=lambda k: results[k]["mean_fps"])
    report = {
        "benchmark": "vidstyle live --source --realtime --no-window",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "video": str(video.relative_to(ROOT.parent) if video.is_relative_to(ROOT.parent) else video),
        "size": SIZE,
        "duration_s": args.duration,
        "model": model_desc,
        "device": "cpu",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "targets": {"processed_fps_min": TARGET_FPS, "latency_p95_ms_max": TARGET_P95_MS},
        "results": results,
        "pipeline_alone_identity_network": overhead,
        "best": best,
        "meets_targets": results[best]["meets_targets"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"best: {best}; targets {'met' if report['meets_targets'] else 'NOT met'}; wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
