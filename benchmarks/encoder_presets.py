"""What each encoder preset costs and gives on stylized frames: encode time, CPU time, size, PSNR.

Stylized video is hard to encode (the network paints fine texture everywhere), and in
`vidstyle stylize` the encoder shares the CPU with the network. This stylizes the first frames of a
clip once, in memory, then encodes the same frames with each preset at the same crf through the
same options and threading `vidstyle stylize` sets (`vidstyle.io.codecs.configure_encoder`), the
presets interleaved round after round, and decodes each file to score it against the frames it was
given. ``--threading frame slice`` also compares x264's frame threads (what `vidstyle stylize`
uses for files) with its slice threads (PyAV's default, and what it used before). ``--codec``
measures another encoder (libx265, libvpx-vp9 in WebM, libsvtav1) through vidstyle's
x264-style preset names, translated as `vidstyle stylize --preset` translates them.

    .venv/bin/python benchmarks/encoder_presets.py --clip ../shared/data/video/cutbunny.mp4 \\
        --out benchmarks/results/encoder_presets_cpu_c.json
    .venv/bin/python benchmarks/encoder_presets.py --clip ../shared/data/video/cutbunny.mp4 \\
        --codec libvpx-vp9 --presets medium faster veryfast ultrafast --out benchmarks/results/vp9_presets.json
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.io.decode import VideoDecoder  # noqa: E402
from vidstyle.io.codecs import configure_encoder  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the command line runs


def size_arg(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def read_clip(path: str, count: int) -> tuple[list[np.ndarray], float]:
    """The first ``count`` frames as `vidstyle stylize` sees them, and the clip's frame rate."""
    with VideoDecoder(path) as decoder:
        rate = float(decoder.info.frame_rate)
    return list(read_frames(path, count)), rate


def encode(frames: list[np.ndarray], rate: float, crf: int, preset: str,
           threading: str = "frame", codec: str = "libx264") -> tuple[bytes, float, float]:
    """``codec`` (H.264 by default) in MP4 (VP9 in WebM) in memory: (file bytes, wall seconds,
    CPU seconds of the whole process)."""
    buf = io.BytesIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with av.open(buf, "w", format="webm" if codec == "libvpx-vp9" else "mp4") as container:
        stream = container.add_stream(codec, rate=round(rate))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        configure_encoder(stream, codec, crf, preset)
        if threading == "slice":
            stream.codec_context.thread_type = "SLICE"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return buf.getvalue(), time.perf_counter() - wall, time.process_time() - cpu


def psnr(data: bytes, reference: list[np.ndarray]) -> float:
    """PSNR (dB) of the decoded file against the frames that were encoded, RGB, over all frames."""
    with av.open(io.BytesIO(data)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == len(reference), (len(decoded), len(reference))
    mse = np.mean([np.mean((d.astype(np.float64) - r) ** 2) for d, r in zip(decoded, reference)])
    return float(10 * np.log10(255.0 ** 2 / mse))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--style", default="light_starry_night")
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--crf", type=int, default=18)
    p.add_argument("--codec", default="libx264", choices=("libx264", "libx265", "libvpx-vp9", "libsvtav1"))
    p.add_argument("--presets", nargs="+", default=["medium", "fast", "faster", "veryfast", "superfast"])
    p.add_argument("--threading", nargs="+", choices=("frame", "slice"), default=["frame"],
                   help="x264 threading modes to compare (each preset runs with each)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=size_arg, help="WxH: resize the clip's frames before stylizing (e.g. 1920x1080)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/encoder_presets.json")
    args = p.parse_args(argv)

    frames, rate = read_clip(args.clip, args.frames)
    if args.size:
        frames = [cv2.resize(f, args.size, interpolation=cv2.INTER_CUBIC) for f in frames]
    stylizer = Stylizer(args.style, device="cpu")
    stylized = [stylizer.stylize(f) for f in frames]
    # one name per variant: the preset, with the threading when several are compared
    variants = {f"{preset} {threading}" if len(args.threading) > 1 else preset: (preset, threading)
                for preset in args.presets for threading in args.threading}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, (preset, threading) in variants.items():
            data, wall, cpu = encode(stylized, rate, args.crf, preset, threading, args.codec)
            runs[name].append({"bytes": len(data), "wall_ms_per_frame": 1000 * wall / len(stylized),
                               "cpu_ms_per_frame": 1000 * cpu / len(stylized),
                               "psnr_db": psnr(data, stylized) if r == 0 else None})
            print(f"round {r + 1} {name:16s} wall {runs[name][-1]['wall_ms_per_frame']:6.2f} ms/frame, "
                  f"CPU {runs[name][-1]['cpu_ms_per_frame']:6.2f} ms/frame, {len(data) / 1024:7.0f} KiB", flush=True)
    seconds = len(stylized) / rate
    summary = {}
    for preset, rs in runs.items():
        summary[preset] = {
            "wall_ms_per_frame_median": round(statistics.median(x["wall_ms_per_frame"] for x in rs), 2),
            "cpu_ms_per_frame_median": round(statistics.median(x["cpu_ms_per_frame"] for x in rs), 2),
            "kbit_per_s": round(rs[0]["bytes"] * 8 / seconds / 1000),
            "psnr_db": round(rs[0]["psnr_db"], 2),
        }
    first = next(iter(variants))
    base = summary[first]
    lines = [f"| preset | encode wall ms/frame | encode CPU ms/frame | kbit/s | size vs {first} | PSNR dB |",
             "|---|---:|---:|---:|---:|---:|"]
    for preset, s in summary.items():
        lines.append(f"| {preset} | {s['wall_ms_per_frame_median']:.2f} | {s['cpu_ms_per_frame_median']:.2f} | "
                     f"{s['kbit_per_s']} | {s['kbit_per_s'] / base['kbit_per_s']:.2f}x | {s['psnr_db']:.2f} |")
    print("\n".join(lines))
    write_json(args.out, script_record(
        clip=args.clip, style=args.style, codec=args.codec, frames=len(stylized), crf=args.crf,
        ffmpeg=av.ffmpeg_version_info,
        resolution=f"{stylized[0].shape[1]}x{stylized[0].shape[0]}", summary=summary, table="\n".join(lines),
        runs=runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
