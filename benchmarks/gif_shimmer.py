"""How much a .gif output twinkles where its source stands still, and what that costs in size.

For each clip: the share of pixels whose shown colour changes between consecutive GIF frames where
the source's RGB changed by less than 2 levels (every channel), the file's size, the mean error
after a 3x3 box blur against the source (what dithering leaves to the eye), and the CPU time
:class:`vidstyle.io.gif.GifPalette` takes a frame (palette, dithering; one thread; FFmpeg's
encoder not counted; ``--time-only`` measures that alone, for runs in turns). The GIF is written by ``vidstyle``'s own pipeline with the identity as its "network", so
what is measured is the writing alone.

Clips: ``synthetic`` (made here with PyAV: a photo and a smooth gradient, standing still, a small
square moving across; H.264 at crf 18, so the still parts carry its small noise), and any folder of
frames or video given with ``--clip NAME=PATH`` (e.g. a stylized clip written as PNG frames).

    python benchmarks/gif_shimmer.py --clip bunny=frames/ --out result.json --crops crops/
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402

STILL = 2  # a pixel whose source moved by less than this (every channel) stands still


class _Identity:
    def stylize_batch(self, images):
        return np.asarray(images)


def synthetic_clip(path: Path, photo: Path, frames: int = 36, size: tuple[int, int] = (320, 240)) -> Path:
    w, h = size
    top = np.asarray(Image.open(photo).convert("RGB").resize((w, h // 2), Image.Resampling.LANCZOS))
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h - h // 2)[:, None, None]
    gradient = (np.concatenate([x * 200 + 30 + 0 * y, 60 + y * 150 + 0 * x, 220 - x * 120 - y * 60], axis=2))
    still = np.concatenate([top, gradient.astype(np.uint8)], axis=0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18"}
        for i in range(frames):
            image = still.copy()
            left = 10 + i * (w - 40) // frames
            image[h // 2 - 28:h // 2 - 12, left:left + 16] = [230, 40, 30]
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def source_frames(path: Path) -> list[np.ndarray]:
    """The frames as vidstyle decodes them: what GifPalette is given."""
    from vidstyle.io import VideoDecoder

    with VideoDecoder(path) as decoder:
        return [np.ascontiguousarray(f.image) for f in decoder.read()]


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out


def palette_seconds_per_frame(frames: list[np.ndarray]) -> float:
    from vidstyle.io.gif import GifPalette

    palette = GifPalette()
    start = time.process_time()
    done = sum(len(palette.add(image, i, 1)) for i, image in enumerate(frames)) + len(palette.flush())
    assert done == len(frames)
    return (time.process_time() - start) / len(frames)


def shimmer(source: list[np.ndarray], shown: list[np.ndarray]) -> tuple[float, int]:
    """(share of still pixels whose shown colour changed, still pixels counted), over all pairs."""
    changed = still = 0
    for s0, s1, g0, g1 in zip(source, source[1:], shown, shown[1:]):
        mask = (np.abs(s1.astype(np.int16) - s0).max(axis=-1) < STILL)
        still += int(mask.sum())
        changed += int(((g1 != g0).any(axis=-1) & mask).sum())
    return changed / max(still, 1), still


def blurred_error(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    return float(np.abs(cv2.blur(a.astype(np.float32), (3, 3)) - cv2.blur(b.astype(np.float32), (3, 3))).mean())


def measure(name: str, clip: Path, work: Path, crops: Path | None, rounds: int, time_only: bool = False) -> dict:
    from vidstyle.pipeline import stylize_video

    source = source_frames(clip) if not clip.is_dir() else [
        np.asarray(Image.open(p).convert("RGB")) for p in sorted(clip.iterdir()) if p.suffix == ".png"]
    times = sorted(palette_seconds_per_frame(source) for _ in range(rounds))
    if time_only:
        return {"clip": name, "frames": len(source), "palette_cpu_ms_per_frame": [round(t * 1e3, 2) for t in times]}
    out = work / f"{name}.gif"
    out.unlink(missing_ok=True)
    options = {"sequence_fps": 24} if clip.is_dir() else {}
    stylize_video(clip, out, style=_Identity(), temporal="off", progress=False, **options)
    shown = gif_frames(out)
    assert len(shown) == len(source), (len(shown), len(source))
    share, still = shimmer(source, shown)
    if crops is not None:
        crops.mkdir(parents=True, exist_ok=True)
        for i in (len(shown) // 2, len(shown) // 2 + 1):
            h, w = shown[i].shape[:2]
            crop = shown[i][h // 2 - h // 8:h // 2 + h // 8, w // 2 - w // 8:w // 2 + w // 8]
            Image.fromarray(crop).resize((crop.shape[1] * 4, crop.shape[0] * 4), Image.Resampling.NEAREST).save(
                crops / f"{name}_{i:03d}.png")
    return {"clip": name, "frames": len(shown), "size": list(shown[0].shape[1::-1]),
            "shimmer_share": round(share, 4), "still_pixels": still, "bytes": out.stat().st_size,
            "blurred_error": round(float(np.mean([blurred_error(g, s) for g, s in zip(shown, source)])), 3),
            "palette_cpu_ms_per_frame": [round(t * 1e3, 2) for t in times]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", action="append", default=[], metavar="NAME=PATH",
                        help="a video or a folder of PNG frames (24 frames/s), besides the synthetic clip")
    parser.add_argument("--photo", type=Path, default=Path("../shared/data/content/adain_sailboat.jpg"))
    parser.add_argument("--synthetic-frames", type=int, default=36)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gif_shimmer"))
    parser.add_argument("--crops", type=Path, default=None, help="save two middle frames' centres at 4x")
    parser.add_argument("--rounds", type=int, default=3, help="GifPalette timings per clip")
    parser.add_argument("--time-only", action="store_true", help="only GifPalette's CPU time a frame")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    clips = {"synthetic": synthetic_clip(args.work / "synthetic.mp4", args.photo, args.synthetic_frames)}
    clips.update({name: Path(path) for name, path in (c.split("=", 1) for c in args.clip)})
    results = [measure(name, path, args.work, args.crops, args.rounds, args.time_only) for name, path in clips.items()]
    for r in results:
        print(json.dumps(r))
    if args.out:
        write_json(args.out, script_record(still_below_levels=STILL, ffmpeg=av.ffmpeg_version_info, clips=results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
