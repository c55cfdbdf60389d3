"""`vidstyle train` with synthetic temporal pairs that move by whole pixels only.

The temporal loss compares frame t's output with frame t-1's output warped bilinearly by the
pair's flow. Under a sub-pixel motion that warp blurs the previous output, so even a network
whose texture followed the motion exactly would be charged for its finest texture, and the loss
might be removing texture for that reason alone (a guess made in the ninth session). Here the
synthetic pairs are whole-pixel translations (no rotation, zoom or fraction of a pixel), where
the warp is exact, so only texture that does not follow the motion costs anything.

    python benchmarks/whole_pixel_pairs.py --style ../shared/data/styles/starry_night.jpg ... (vidstyle train's arguments)

The file written records this script in its ``train_command``. Fortieth session: see
benchmarks/RESULTS.md, "Whole-pixel synthetic pairs".
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vidstyle.train.temporal as temporal  # noqa: E402
from vidstyle.models.weights import read_info  # noqa: E402


def whole_pixel_flow(batch: int, height: int, width: int, generator: torch.Generator, *,
                     max_translate: float = 0.03, max_rotate: float = 2.5, max_zoom: float = 0.04,
                     max_perspective: float = 0.0) -> torch.Tensor:
    """(B, 2, H, W) backward flow of a translation by a whole number of pixels, up to
    ``max_translate`` x the image size (at least 1) each way; rotation and zoom are not used, and
    a tilt (``--temporal-perspective``) is refused: it is never a whole-pixel motion."""
    if max_perspective:
        raise SystemExit("whole_pixel_pairs.py: --temporal-perspective makes sub-pixel motion; leave it out")
    reach = (max(1, round(max_translate * width)), max(1, round(max_translate * height)))
    shift = [torch.randint(-r, r + 1, (batch,), generator=generator, device=generator.device).cpu().float()
             for r in reach]
    return torch.stack(shift, 1).view(batch, 2, 1, 1).expand(batch, 2, height, width).contiguous()


def mark(path: Path) -> None:
    """Say in the file's own command that this script, not plain `vidstyle train`, trained it."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    meta["train_command"] = "python benchmarks/whole_pixel_pairs.py " + meta["train_command"].removeprefix("vidstyle train ")
    save_file(tensors, str(path), metadata=meta)


def main(argv: list[str]) -> int:
    from vidstyle.cli import main as vidstyle_main

    camera_motion = temporal.random_camera_flow
    temporal.random_camera_flow = whole_pixel_flow  # synthetic_pair looks it up at each call
    try:
        code = vidstyle_main(["train", *argv])
    finally:  # put it back: the --help test runs this script inside the test process
        temporal.random_camera_flow = camera_motion
    if code == 0:
        out = Path(argv[argv.index("--out") + 1])
        mark(out)
        print(f"{out}: {read_info(out).train_command}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
