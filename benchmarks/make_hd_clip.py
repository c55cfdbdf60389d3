"""A 1920x1080 test clip for the GPU benchmarks: the project's sample clip upscaled (bicubic) and
looped, video and AAC audio, so that a GPU run has a real HD file with sound to stylize.

    python benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/clip.mp4 --loops 3
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction

import av


def make_hd_clip(src: str, dst: str, loops: int, size: tuple[int, int] = (1920, 1080)) -> int:
    """Write ``src`` scaled to ``size`` and repeated ``loops`` times to ``dst``; the frame count."""
    width, height = size
    with av.open(src) as c:
        stream = c.streams.video[0]
        rate = stream.average_rate
        frames = [f.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
                  for f in c.decode(stream)]
    with av.open(src) as c:
        audio = list(c.decode(c.streams.audio[0])) if c.streams.audio else []
    with av.open(dst, "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "18", "preset": "fast"}
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=audio[0].sample_rate)
            sound.layout = audio[0].layout.name
        n = audio_pts = 0
        for _ in range(loops):
            for f in frames:
                g = av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p")
                g.pts, g.time_base = n, Fraction(1, 1) / rate
                n += 1
                out.mux(video.encode(g))
            for f in audio:
                g = av.AudioFrame.from_ndarray(f.to_ndarray(), format=f.format.name, layout=f.layout.name)
                g.sample_rate, g.pts, g.time_base = f.sample_rate, audio_pts, Fraction(1, f.sample_rate)
                audio_pts += f.samples
                out.mux(sound.encode(g))
        for s in (video, sound):
            if s is not None:
                out.mux(s.encode(None))
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
