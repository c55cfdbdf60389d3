"""Does memory stay flat over a long run? The resident memory of `vidstyle stylize` and of
`vidstyle live`, sampled every second over thousands of frames.

A long input is made from a clip's frames played forwards then backwards, over and over (no jump
the stabilizer would take for a cut), at the size asked, with a stereo AAC tone as its audio (so
the audio copy runs too). Then, each as its own process as a user runs it:
* `vidstyle stylize LONG -o OUT --style STYLE` (the defaults: stabilizer on, audio copied);
* `vidstyle live --source LONG --loop --no-window --duration S --temporal flow --record REC`.

The record keeps every sample; the summary compares the memory once warmed up (after 10% of the
run) with the memory at the end. A leak of a few kilobytes a frame shows as megabytes there.

    .venv/bin/python benchmarks/soak.py --clip ../shared/data/video/cutbunny.mp4 --size 320x180 \\
        --frames 6000 --live-seconds 150 --out benchmarks/results/soak_cpu.json
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.config import parse_size  # noqa: E402


def make_long_clip(clip: str, size: tuple[int, int], frames: int, path: Path, fps: int = 24) -> Path:
    """``frames`` frames of ``clip`` played forwards and backwards in turn, resized to ``size``,
    with a 440 Hz stereo AAC tone as long as the video. (Not make_hd_clip.py's loops: each jump
    back would be a scene cut that resets the stabilizer, and it holds the whole looped sound in
    memory twice, as one array and as frames.)"""
    import cv2

    w, h = size
    source = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in read_frames(clip)]
    if len(source) < 2:
        raise SystemExit(f"{clip}: needs at least 2 frames")
    cycle = source + source[-2:0:-1]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": "23", "preset": "veryfast"}
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(cycle[i % len(cycle)], format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        seconds, block = frames / fps, 1024
        for start in range(0, int(seconds * 48000), block):
            t = (start + np.arange(block)) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def resident_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def sample_run(command: list[str], interval: float) -> dict:
    """Run ``command``, its resident memory every ``interval`` seconds, and a summary."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        samples = []
        while child.poll() is None:
            mib = resident_mib(child.pid)
            if mib is not None:
                samples.append([round(time.perf_counter() - started, 1), round(mib, 1)])
            time.sleep(interval)
        seconds = time.perf_counter() - started
        err.seek(0)
        said = err.read().strip().splitlines()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {said[-1] if said else ''}")
    return {"command": " ".join(command), "seconds": round(seconds, 1), "summary": summarize(samples),
            "last_lines": said[-3:], "samples_s_mib": samples}


def summarize(samples: list[list[float]]) -> dict:
    """Memory once warmed up (the first sample after 10% of the run), at the end, the largest,
    and the growth between the first two."""
    if not samples:
        return {}
    end_time = samples[-1][0]
    warm = next(m for t, m in samples if t >= 0.1 * end_time)
    end = samples[-1][1]
    return {"warm_mib": warm, "end_mib": end, "max_mib": max(m for _, m in samples),
            "growth_after_warm_up_mib": round(end - warm, 1), "samples": len(samples)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", required=True, help="the frames the long input is made of")
    p.add_argument("--size", default="320x180", help="the long input's size, WxH")
    p.add_argument("--frames", type=int, default=6000, help="the long input's frames (24 a second)")
    p.add_argument("--style", default="light_starry_night")
    p.add_argument("--live-seconds", type=float, default=150, help="how long `vidstyle live` runs (0: not run)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--container", default="mp4", help="the stylized file's extension (mp4 holds an index of every packet until the end)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    size = parse_size(args.size, at_least=16, what="--size")
    vidstyle = [sys.executable, "-m", "vidstyle"]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        long_clip = make_long_clip(args.clip, size, args.frames, Path(tmp) / "long.mp4")
        runs["stylize"] = sample_run(vidstyle + ["stylize", str(long_clip), "-o", str(Path(tmp) / f"out.{args.container}"),
                                                 "--style", args.style], args.interval)
        print("stylize", runs["stylize"]["summary"], flush=True)
        if args.live_seconds > 0:
            runs["live"] = sample_run(vidstyle + ["live", "--source", str(long_clip), "--loop", "--no-window",
                                                  "--duration", str(args.live_seconds), "--temporal", "flow",
                                                  "--style", args.style, "--record", str(Path(tmp) / "rec.mp4")],
                                      args.interval)
            print("live", runs["live"]["summary"], flush=True)
    write_json(args.out, script_record(args=vars(args), runs=runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
