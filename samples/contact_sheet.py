"""Render samples/contact_sheet.png: every bundled style on a few frames of the sample clip, with
a 50/50 blend of the multi-style network's first two styles; the sheet `vidstyle preview` draws
for a user's own video (:func:`vidstyle.preview.style_sheet`).

Usage: python samples/contact_sheet.py [--clip samples/sample.mp4] [--out samples/contact_sheet.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidstyle.errors import VidstyleError
from vidstyle.preview import PANEL_WIDTH, SHEET_FRAMES, preview_styles, style_sheet

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clip", type=Path, default=HERE / "sample.mp4")
    p.add_argument("--out", type=Path, default=HERE / "contact_sheet.png")
    p.add_argument("--frames", type=int, default=SHEET_FRAMES)
    p.add_argument("--width", type=int, default=PANEL_WIDTH)
    args = p.parse_args()
    try:
        result = style_sheet(args.clip, args.out, preview_styles(blends=True), frames=args.frames, width=args.width,
                             device="cpu", overwrite=True)
    except VidstyleError as exc:  # a missing clip, --frames 0: one line, as `vidstyle preview` says it
        print(f"contact_sheet: error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
