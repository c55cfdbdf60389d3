"""A 1920x1080 test clip for the GPU benchmarks: the project's sample clip upscaled (bicubic) and
looped, video and AAC audio, so that a GPU run has a real HD file with sound to stylize.

    python benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/clip.mp4 --loops 3
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction

import av
import numpy as np


def _loop_audio(frames: list[av.AudioFrame], samples: int) -> np.ndarray:
    """The decoded audio as one array of ``samples`` samples a channel ((channels, samples) when
    planar, (1, samples * channels) when packed, as PyAV gives them): cut or padded with silence
    to one loop's video length, so that every loop starts its sound with its first frame (the
    source's AAC track runs a little longer than its video, which drifted more each loop)."""
    width = samples * (1 if frames[0].format.is_planar else len(frames[0].layout.channels))
    planes = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    if planes.shape[1] < width:
        planes = np.pad(planes, ((0, 0), (0, width - planes.shape[1])))
    return planes[:, :width]


def make_hd_clip(src: str, dst: str, loops: int, size: tuple[int, int] = (1920, 1080)) -> int:
    """Write ``src`` scaled to ``size`` and repeated ``loops`` times to ``dst``; the frame count."""
    width, height = size
    with av.open(src) as c:
        stream = c.streams.video[0]
        # average_rate is None for some streams (no frame count in the header); guessed_rate reads
        # the packets' timing instead
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise SystemExit(f"{src}: no frame rate in the video stream")
        frames = [f.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
                  for f in c.decode(stream)]
    with av.open(src) as c:
        audio = list(c.decode(c.streams.audio[0])) if c.streams.audio else []
    with av.open(dst, "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "18", "preset": "fast"}
        chunks: list[av.AudioFrame] = []
        if audio:
            first = audio[0]
            sound = out.add_stream("aac", rate=first.sample_rate)
            sound.layout = first.layout.name
            channels = 1 if first.format.is_planar else len(first.layout.channels)
            track = np.tile(_loop_audio(audio, round(Fraction(len(frames)) / rate * first.sample_rate)), (1, loops))
            step = 1024  # AAC's frame size; only the last chunk may be shorter
            for start in range(0, track.shape[1] // channels, step):
                g = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(track[:, start * channels:(start + step) * channels]),
                    format=first.format.name, layout=first.layout.name)
                g.sample_rate, g.pts, g.time_base = first.sample_rate, start, Fraction(1, first.sample_rate)
                chunks.append(g)
        n = 0
        for _ in range(loops):
            for f in frames:
                g = av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p")
                g.pts, g.time_base = n, Fraction(1, 1) / rate
                out.mux(video.encode(g))
                # the sound up to this frame's time, so the file's packets interleave
                while chunks and chunks[0].pts * chunks[0].time_base <= n / rate:
                    out.mux(sound.encode(chunks.pop(0)))
                n += 1
        out.mux(video.encode(None))
        for g in chunks:
            out.mux(sound.encode(g))
        if audio:
            out.mux(sound.encode(None))
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--loops", type=int, default=3)
    args = p.parse_args(argv)
    print("clip", args.dst, make_hd_clip(args.src, args.dst, args.loops), "frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
