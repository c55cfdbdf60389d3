"""Where the encode stage's time goes at 1080p: ``VideoEncoder.write``'s steps timed one by one in
one thread, as the pipeline's encode stage runs them ("convert": the RGB array wrapped as a frame
and swscale's RGB -> YUV conversion; "encode": the encoder call and muxing), for each x264 preset; plus the same
loop with the frames converted beforehand ("none": the encoder alone; a stage given the frames in
YUV also wraps each array into a frame, 0.45-0.65 ms a 1080p frame on a 2-core EPYC, which this
leaves out). Milliseconds per frame (median over the frames after 10),
and the loop's frames/s. Frames: the first ``--frames`` of ``--clip``, held in memory.

    python benchmarks/encode_stage_cost.py --clip /tmp/styled.mp4 --presets ultrafast veryfast
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

import av  # noqa: E402
import av.video.reformatter  # noqa: E402
import numpy as np  # noqa: E402

from vidstyle.bench.report import script_record, write_json  # noqa: E402
from vidstyle.eval import read_frames  # noqa: E402
from vidstyle.io.codecs import configure_encoder  # noqa: E402
from vidstyle.io.display import SWS_MATRIX  # noqa: E402

def swscale_yuv420(rgb: np.ndarray) -> av.VideoFrame:
    """What ``VideoEncoder.write`` does to a 1080p frame: wrap, then swscale to BT.709 yuv420p."""
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=SWS_MATRIX[1], dst_color_range=av.video.reformatter.ColorRange.MPEG)


def run(frames: list[np.ndarray], preset: str, conversion: str, crf: int) -> dict:
    h, w = frames[0].shape[:2]
    steps = {"convert": [], "encode": []}
    with tempfile.TemporaryDirectory(prefix="vidstyle-enc-") as tmp, av.open(str(Path(tmp) / "o.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        configure_encoder(stream, "libx264", crf, preset)
        ready = [swscale_yuv420(f) for f in frames] if conversion == "none" else None
        t_start = time.perf_counter()
        for i, image in enumerate(frames):
            t0 = time.perf_counter()
            frame = swscale_yuv420(image) if conversion == "swscale" else ready[i]
            t2 = time.perf_counter()
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
            t3 = time.perf_counter()
            steps["convert"].append(t2 - t0)
            steps["encode"].append(t3 - t2)
        for packet in stream.encode(None):
            out.mux(packet)
        total = time.perf_counter() - t_start
        threads = stream.codec_context.thread_count
    ms = {k: round(statistics.median(v[10:] or v) * 1e3, 2) for k, v in steps.items()}
    mean = {k: round(statistics.fmean(v[10:] or v) * 1e3, 2) for k, v in steps.items()}
    return {"preset": preset, "conversion": conversion, "frames": len(frames), "median_ms": ms, "mean_ms": mean,
            "loop_fps": round(len(frames) / total, 1), "thread_count": threads}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--presets", nargs="+", default=["ultrafast", "veryfast"])
    p.add_argument("--conversions", nargs="+", default=["swscale", "none"], choices=["swscale", "none"])
    p.add_argument("--crf", type=int, default=18)
    p.add_argument("--out")
    args = p.parse_args(argv)
    frames = list(read_frames(args.clip, args.frames))
    record = script_record(clip=args.clip, size=f"{frames[0].shape[1]}x{frames[0].shape[0]}",
                           runs=[])
    for preset in args.presets:
        for conversion in args.conversions:
            row = run(frames, preset, conversion, args.crf)
            print(json.dumps(row), flush=True)
            record["runs"].append(row)
    if args.out:
        write_json(args.out, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
