"""What tone-mapping HDR video costs: per frame when decoding, and in `vidstyle stylize` end to end.

A 10-bit clip tagged HLG (BT.2020) is made from a clip's frames (the pixel values do not matter
for speed), then:
* decode-side: each frame turned into the network's RGB as `vidstyle stylize` does
  (``DisplayConversion.image``), tone-mapped (the default) against as coded (``--hdr keep``: the
  8-bit conversion every SDR video gets), rounds interleaved, median ms per frame;
* end to end: ``stylize_video`` of the clip with each mode, alternating, frames per second.

    .venv/bin/python benchmarks/hdr_cost.py --clip ../shared/data/video/cutbunny.mp4 \\
        --sizes 640x360 1920x1080 --out benchmarks/results/hdr_cost_cpu.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.io.display import DisplayConversion  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the command line runs


def make_hlg_clip(frames, size: tuple[int, int], path: Path) -> Path:
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p10le"
        stream.options = {"crf": "18", "preset": "veryfast"}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, 18, 9
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(width=w, height=h, format="yuv420p10le")
            frame.pts = i
            frame.color_primaries, frame.color_trc, frame.colorspace = 9, 18, 9
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decode_side(path: Path, rounds: int) -> dict:
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    modes = {"sdr": DisplayConversion.of(decoded[0], hdr="sdr"), "keep": DisplayConversion.of(decoded[0], hdr="keep")}
    assert modes["sdr"].tone_map is not None and modes["keep"].tone_map is None
    times = {name: [] for name in modes}
    for _ in range(rounds):
        for name, display in modes.items():
            started = time.perf_counter()
            for frame in decoded:
                display.image(frame)
            times[name].append((time.perf_counter() - started) * 1e3 / len(decoded))
    return {f"{name}_ms_per_frame": round(statistics.median(t), 2) for name, t in times.items()} | {
        f"{name}_ms_spread": [round(min(t), 2), round(max(t), 2)] for name, t in times.items()}


def end_to_end(path: Path, style: str, rounds: int) -> dict:
    fps = {"sdr": [], "keep": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for mode in fps:
                result = stylize_video(path, Path(tmp) / f"{mode}.mp4", style, hdr=mode, overwrite=True, progress=False)
                fps[mode].append(result.fps)
    return {f"{mode}_fps": round(statistics.median(v), 2) for mode, v in fps.items()} | {
        f"{mode}_fps_all": [round(x, 2) for x in v] for mode, v in fps.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--sizes", nargs="+", default=["640x360", "1920x1080"])
    p.add_argument("--style", default="light_starry_night")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    frames = list(read_frames(args.clip, args.frames))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            w, h = map(int, size.split("x"))
            clip = make_hlg_clip(frames, (w, h), Path(tmp) / f"hlg_{size}.mp4")
            row = {"size": size, "frames": len(frames), "style": args.style}
            row["decode_side"] = decode_side(clip, args.rounds)
            row["end_to_end"] = end_to_end(clip, args.style, args.rounds)
            print(row, flush=True)
            rows.append(row)
    write_json(args.out, script_record(args=vars(args), rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
