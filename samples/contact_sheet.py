"""Render samples/contact_sheet.png: every bundled style on a few frames of the sample clip.

Usage: python samples/contact_sheet.py [--clip samples/sample.mp4] [--out samples/contact_sheet.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from vidstyle.models.zoo import bundled_styles
from vidstyle.stylizer import Stylizer

HERE = Path(__file__).resolve().parent


def sample_frames(clip: Path, count: int, width: int) -> list[np.ndarray]:
    """``count`` RGB frames spread over the clip, resized to ``width`` pixels wide."""
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, count + 2)[1:-1].round().astype(int)
    out = []
    for i in picks:
        h, w = frames[i].shape[:2]
        out.append(cv2.resize(frames[i], (width, round(h * width / w)), interpolation=cv2.INTER_AREA))
    return out


def label(image: np.ndarray, text: str) -> np.ndarray:
    img = image.copy()
    cv2.rectangle(img, (0, 0), (img.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(img, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clip", type=Path, default=HERE / "sample.mp4")
    p.add_argument("--out", type=Path, default=HERE / "contact_sheet.png")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--width", type=int, default=320)
    args = p.parse_args()
    frames = sample_frames(args.clip, args.frames, args.width)
    rows = [np.concatenate([label(f, "input") for f in frames], axis=1)]
    for name, info in bundled_styles().items():
        stylizer = Stylizer(name, device="cpu")
        meta = next(s for s in info.styles if s["name"] == name)
        text = f"{name} ({meta.get('artist', '?')})"
        rows.append(np.concatenate([label(stylizer.stylize(f), text) for f in frames], axis=1))
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(args.out)


if __name__ == "__main__":
    main()
