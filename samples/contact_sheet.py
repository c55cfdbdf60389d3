"""Render samples/contact_sheet.png: every bundled style on a few frames of the sample clip.

Frames are stylized at the clip's own resolution (as ``vidstyle stylize`` does) and then shrunk to
the panel width, so the brush-stroke scale is the one a user gets. Bundled multi-style networks
add one row per style and one 50/50 blend of their first two styles.

Usage: python samples/contact_sheet.py [--clip samples/sample.mp4] [--out samples/contact_sheet.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from vidstyle.models.zoo import bundled_multi_style, bundled_styles
from vidstyle.stylizer import Stylizer

HERE = Path(__file__).resolve().parent


def sample_frames(clip: Path, count: int) -> list[np.ndarray]:
    """``count`` RGB frames spread over the clip, at the clip's resolution."""
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, count + 2)[1:-1].round().astype(int)
    return [frames[i] for i in picks]


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


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
    frames = sample_frames(args.clip, args.frames)

    def row(images: list[np.ndarray], text: str) -> np.ndarray:
        return np.concatenate([label(shrink(f, args.width), text) for f in images], axis=1)

    rows = [row(frames, "input")]
    singles = {name: info for name, info in bundled_styles().items() if len(info.styles) == 1}
    for name, info in singles.items():
        stylizer = Stylizer(name, device="cpu")
        text = f"{name} ({info.styles[0].get('artist', '?')})"
        rows.append(row([stylizer.stylize(f) for f in frames], text))
    for info in bundled_multi_style():
        file = Path(info.path).stem
        names = info.style_names
        specs = [(f"mix:{n}=1", f"{file}: {n}") for n in names]
        specs.append((f"mix:{names[0]}=0.5,{names[1]}=0.5", f"{file}: {names[0]} 0.5 + {names[1]} 0.5"))
        for spec, text in specs:
            stylizer = Stylizer(spec, device="cpu")
            rows.append(row([stylizer.stylize(f) for f in frames], text))
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(args.out)


if __name__ == "__main__":
    main()
