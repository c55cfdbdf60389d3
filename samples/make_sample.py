#!/usr/bin/env python
"""Generate vidstyle's own sample clip with exact optical flow (no external data; deterministic on
one machine, see the README on other CPUs and OpenCV versions).

A procedural landscape (sky, clouds, sun, mountain ranges, meadow, trees, flowers) filmed by a
camera that pans, zooms in and rolls slightly, while a striped hot-air balloon drifts across and
occludes it. 640x360, 24 fps, 4 s, H.264 with an AAC track (a small sine-wave melody).

Outputs (in the output folder, default: this script's folder):

* ``sample.mp4``
* ``sample_flow.npz``: the exact ground truth in the layered ``vidstyle-gt-flow-v1`` format read by
  :class:`vidstyle.eval.GroundTruthFlow`: per frame and layer (0 background, 1 balloon) the affine
  map from frame pixels to layer coordinates, the layer shown at each pixel, and for each
  consecutive pair the pixels visible in both frames. Dense flows are rebuilt from it exactly
  (a dense float16 flow of this clip would be ~60 MB compressed).

Usage: ``python samples/make_sample.py [--out DIR] [--seed N] [--frames N]``
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS, FRAMES = 640, 360, 24, 96
WORLD_W, WORLD_H = 1000, 560
SAMPLE_RATE = 44100
GT_FORMAT = "vidstyle-gt-flow-v1"


# --- procedural textures ---------------------------------------------------------------------


def fractal_noise(h: int, w: int, rng: np.random.Generator, cells: int = 4, octaves: int = 5,
                  persistence: float = 0.55) -> np.ndarray:
    """Smooth multi-octave value noise in [0, 1], (h, w) float32."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cx = cells * 2 ** o
        cy = max(2, round(cx * h / w))
        grid = rng.random((cy + 1, cx + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    out -= out.min()
    return out / max(out.max(), 1e-6)


def ridge(w: int, rng: np.random.Generator, base: float, height: float, cells: int) -> np.ndarray:
    """A mountain skyline: (w,) float y positions."""
    line = fractal_noise(2, w, rng, cells=cells, octaves=6, persistence=0.5)[0]
    return base - height * line


def lerp(a, b, t):
    return np.asarray(a, np.float32) + (np.asarray(b, np.float32) - np.asarray(a, np.float32)) * t[..., None]


def paint_landscape(rng: np.random.Generator) -> np.ndarray:
    """The background layer: (WORLD_H, WORLD_W, 3) uint8 RGB."""
    h, w = WORLD_H, WORLD_W
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    horizon = 0.5
    # sky: deep blue to warm peach at the horizon, with soft clouds
    sky_t = np.clip(ys / horizon, 0, 1) ** 1.6
    img = lerp((38, 78, 170), (250, 190, 140), sky_t)
    clouds = fractal_noise(h, w, rng, cells=5, octaves=6)
    clouds = np.clip((clouds - 0.52) * 3.5, 0, 1) * np.clip(1.2 - ys / horizon, 0, 1)
    img = lerp(img, (255, 244, 236), clouds * 0.85)
    # sun with a glow
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - 0.72 * w, yy - 0.30 * h)
    glow = np.exp(-(d / 90) ** 2)[..., None]
    img = img * (1 - 0.5 * glow) + np.array((255, 220, 150), np.float32) * 0.5 * glow
    img[d < 34] = (255, 236, 180)
    # mountain ranges, far (hazy violet) to near (green), each with its own rock texture
    ranges = [((120, 110, 170), 0.50, 0.20, 3), ((80, 100, 130), 0.55, 0.16, 4), ((60, 110, 70), 0.63, 0.12, 5)]
    for colour, base, height, cells in ranges:
        sky_line = ridge(w, rng, base * h, height * h, cells)
        inside = yy >= sky_line[None, :]
        tex = fractal_noise(h, w, rng, cells=12, octaves=5)
        shade = 0.75 + 0.5 * tex
        depth = np.clip((yy - sky_line[None, :]) / (0.25 * h), 0, 1)
        layer = np.array(colour, np.float32) * shade[..., None] * (1.0 - 0.25 * depth[..., None])
        snow_line = (base - 0.62 * height) * h + 0.03 * h * (fractal_noise(1, w, rng, cells=8, octaves=4)[0] - 0.5)
        snow = yy < snow_line[None, :] + 0.02 * h * (tex - 0.5)  # only the peaks above the snow line
        layer[snow] = (235, 240, 250)
        img[inside] = layer[inside]
    # meadow: green-yellow with grass texture, darker toward the bottom
    meadow_line = ridge(w, rng, 0.72 * h, 0.05 * h, 3)
    meadow = yy >= meadow_line[None, :]
    grass = fractal_noise(h, w, rng, cells=40, octaves=4, persistence=0.6)
    patches = fractal_noise(h, w, rng, cells=6, octaves=3)
    base_col = lerp((110, 170, 60), (200, 190, 70), patches)
    tone = (0.7 + 0.5 * grass)[..., None] * (1.05 - 0.3 * np.clip((yy - 0.72 * h) / (0.28 * h), 0, 1))[..., None]
    img[meadow] = (base_col * tone)[meadow]
    img = np.clip(img, 0, 255).astype(np.uint8)
    # flowers and trees (drawn in order of depth: higher on screen = farther = smaller)
    palette = [(230, 60, 70), (250, 220, 60), (245, 245, 245), (180, 80, 200), (250, 140, 40)]
    items = []
    for _ in range(600):
        x, y = rng.uniform(0, w), rng.uniform(0.72 * h, h)
        items.append(("flower", y, x))
    for _ in range(22):
        x, y = rng.uniform(0, w), rng.uniform(0.74 * h, 0.97 * h)
        items.append(("tree", y, x))
    for kind, y, x in sorted(items, key=lambda it: it[1]):
        if y < meadow_line[int(min(x, w - 1))]:
            continue
        depth = (y - 0.7 * h) / (0.3 * h)
        if kind == "flower":
            r = max(1, round(1 + 3 * depth))
            c = palette[rng.integers(len(palette))]
            cv2.circle(img, (int(x), int(y)), r, c, -1, cv2.LINE_AA)
            cv2.circle(img, (int(x), int(y)), max(1, r // 2), (250, 230, 90), -1, cv2.LINE_AA)
        else:
            s = 0.5 + 1.2 * depth
            trunk_h, crown = int(30 * s), int(22 * s)
            cv2.rectangle(img, (int(x - 3 * s), int(y - trunk_h)), (int(x + 3 * s), int(y)), (90, 60, 35), -1)
            green = np.array((40, 110 + rng.integers(40), 45))
            for k in range(7):  # a crown of overlapping shaded blobs
                ox, oy = rng.normal(0, crown * 0.45, 2)
                col = tuple(int(v) for v in np.clip(green * rng.uniform(0.75, 1.3), 0, 255))
                cv2.circle(img, (int(x + ox), int(y - trunk_h - crown * 0.6 + oy)), int(crown * rng.uniform(0.5, 0.8)),
                           col, -1, cv2.LINE_AA)
    # fine grain everywhere so flow has texture to lock onto, even in the sky
    grain = fractal_noise(h, w, rng, cells=120, octaves=2)
    return np.clip(img.astype(np.float32) * (0.94 + 0.12 * grain[..., None]), 0, 255).astype(np.uint8)


def paint_balloon(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The occluding object: a striped hot-air balloon, (h, w, 3) uint8 RGB and (h, w) float alpha."""
    w, h = 150, 210
    img = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, rx, ry = w / 2, 70, 68, 68
    # envelope: a circle that narrows into a cone toward the basket
    u = (xx - cx) / rx
    v = (yy - cy) / ry
    top = u ** 2 + v ** 2 <= 1
    below = np.clip((yy - cy) / 95, 0, 1)  # 0 at the equator, 1 at the mouth
    taper = (yy >= cy) & (yy <= cy + 95) & (np.abs(xx - cx) <= rx * (1 - below) ** 0.8 + 14 * below)
    env = top | taper
    stripes = [(220, 40, 50), (250, 200, 40), (40, 90, 200), (250, 250, 240), (40, 160, 90)]
    angle = np.arcsin(np.clip(u / np.sqrt(np.clip(1 - np.clip(v, -1, 0) ** 2, 1e-3, None)), -1, 1))
    idx = np.floor((angle / np.pi + 0.5) * 10).astype(int) % len(stripes)
    col = np.array(stripes, np.float32)[idx]
    shade = np.clip(1.05 - 0.55 * (u + 0.35) ** 2 - 0.25 * np.clip(v, 0, 1), 0.35, 1.15)
    pattern = fractal_noise(h, w, rng, cells=10, octaves=4)
    img[env] = (col * (shade * (0.85 + 0.3 * pattern))[..., None])[env]
    alpha[env] = 1
    # ropes and a wicker basket
    for dx in (-14, 14):
        cv2.line(img, (int(cx + dx), int(cy + 95)), (int(cx + dx * 0.8), 183), (60, 45, 30), 2, cv2.LINE_AA)
        cv2.line(alpha, (int(cx + dx), int(cy + 95)), (int(cx + dx * 0.8), 183), 1.0, 2, cv2.LINE_AA)
    weave = 0.7 + 0.4 * ((xx.astype(int) // 3 + yy.astype(int) // 3) % 2)
    basket = (np.abs(xx - cx) <= 16) & (yy >= 183) & (yy <= 205)
    img[basket] = (np.array((150, 100, 50), np.float32) * weave[..., None])[basket]
    alpha[basket] = 1
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)  # anti-aliased outline
    return np.clip(img, 0, 255).astype(np.uint8), alpha


# --- motion ----------------------------------------------------------------------------------


def similarity(scale: float, angle: float, centre_from: tuple[float, float],
               centre_to: tuple[float, float]) -> np.ndarray:
    """2x3 map: p -> centre_to + scale * R(angle) (p - centre_from)."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[c, -s], [s, c]]) * scale
    t = np.array(centre_to) - m @ np.array(centre_from)
    return np.hstack([m, t[:, None]])


def camera_path(n: int, length: int) -> np.ndarray:
    """(n, 2, 3): frame pixel -> world pixel for the first n frames of a ``length``-frame shot
    (pan right, zoom in, slight roll)."""
    out = []
    for i in range(n):
        u = i / max(length - 1, 1)
        ease = 0.5 - 0.5 * np.cos(np.pi * u)
        centre = (380 + 240 * ease, 290 - 20 * ease + 4 * np.sin(2 * np.pi * u))
        scale = 1.0 - 0.18 * ease  # < 1: world pixels per frame pixel shrink = zoom in
        roll = np.deg2rad(-1.0 + 2.5 * ease)
        out.append(similarity(scale, roll, ((WIDTH - 1) / 2, (HEIGHT - 1) / 2), centre))
    return np.array(out)


def balloon_path(n: int, length: int, sprite_shape: tuple[int, int]) -> np.ndarray:
    """(n, 2, 3): frame pixel -> balloon sprite pixel (drifts right, bobs, swings, comes closer)."""
    sh, sw = sprite_shape
    out = []
    for i in range(n):
        u = i / max(length - 1, 1)
        pos = (110 + 430 * u, 150 + 18 * np.sin(2 * np.pi * 0.8 * u))
        size = 0.8 + 0.25 * u  # on-screen size
        swing = np.deg2rad(4 * np.sin(2 * np.pi * 1.1 * u))
        # inverse of sprite -> frame (scale `size`, rotate `swing`, sprite centre to `pos`)
        out.append(similarity(1 / size, -swing, pos, ((sw - 1) / 2, (sh - 1) / 2)))
    return np.array(out)


def render(seed: int = 7, frames: int = FRAMES, length: int | None = None, width: int = WIDTH):
    """Frames (N, H, W, 3) uint8 and the ground truth (layer_affine, layer_index, valid).

    The motion is that of a ``length``-frame shot (default ``frames``) of which the first
    ``frames`` are rendered, so short test clips keep the sample's speed. ``width`` below 640
    films the same shot at a lower resolution (16:9, e.g. 320 for 320x180): each frame pixel
    covers ``640 / width`` of the sample's, so the motion in pixels shrinks with it; tests use
    it to spend less on each frame.
    """
    length = max(frames, length or frames)
    zoom = WIDTH / width
    size = (width, round(HEIGHT / zoom))
    if size[1] * zoom != HEIGHT:
        raise ValueError(f"width {width} gives no whole 16:9 height")
    rng = np.random.default_rng(seed)
    world = paint_landscape(rng)
    sprite, sprite_alpha = paint_balloon(rng)
    cam, bal = camera_path(frames, length), balloon_path(frames, length, sprite.shape[:2])
    if width != WIDTH:
        # frame pixel -> the sample's pixel under it (pixel centres line up) -> the paths' texture
        # pixel -> that pixel in the texture shrunk as the frame is: sampled at full size, the
        # textures' finest detail aliased, and at 320x180 the input's own warping error rose
        # above a tenth of a +-20-level flicker's (0.00039 against 0.0036, measured)
        world, to_world = _shrunk(world, zoom)
        sprite, to_sprite = _shrunk(sprite, zoom)
        sprite_alpha, _ = _shrunk(sprite_alpha, zoom)
        to_sample = _pixel_scale(zoom, zoom)
        cam, bal = to_world[:2] @ _homogeneous(cam) @ to_sample, to_sprite[:2] @ _homogeneous(bal) @ to_sample
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # the matrices map frame pixels to texture pixels
    video, layer_index = [], []
    for i in range(frames):
        bg = cv2.warpAffine(world, cam[i], size, flags=flags, borderMode=cv2.BORDER_REFLECT)
        fg = cv2.warpAffine(sprite, bal[i], size, flags=flags)
        a = cv2.warpAffine(sprite_alpha, bal[i], size, flags=flags)[..., None]
        video.append((bg * (1 - a) + fg * a + 0.5).astype(np.uint8))
        layer_index.append((a[..., 0] >= 0.5).astype(np.uint8))
    affine = np.stack([cam, bal], axis=1)  # (N, L=2, 2, 3)
    valid = np.stack([visible_in_both(affine, np.array(layer_index), t) for t in range(1, frames)])
    return np.array(video), affine, np.array(layer_index), valid


def _pixel_scale(sx: float, sy: float) -> np.ndarray:
    """3x3: pixel -> pixel of an image ``sx`` by ``sy`` times as large (pixel centres line up)."""
    return np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]])


def _homogeneous(maps: np.ndarray) -> np.ndarray:
    """(N, 2, 3) affine maps as (N, 3, 3)."""
    return np.concatenate([maps, np.broadcast_to([[[0.0, 0.0, 1.0]]], (len(maps), 1, 3))], axis=1)


def _shrunk(texture: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """``texture`` area-averaged to 1 / ``zoom`` of its size, and the 3x3 map from its pixels to the result's."""
    h, w = texture.shape[:2]
    small = cv2.resize(texture, (round(w / zoom), round(h / zoom)), interpolation=cv2.INTER_AREA)
    return small, np.linalg.inv(_pixel_scale(w / small.shape[1], h / small.shape[0]))


def visible_in_both(affine: np.ndarray, layer_index: np.ndarray, t: int) -> np.ndarray:
    """(H, W) uint8: pixels of frame t whose scene point is in view and unoccluded in frame t-1."""
    height, width = layer_index.shape[1:]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width), bool)
    for layer in range(affine.shape[1]):
        on = layer_index[t] == layer
        m = (np.linalg.inv(np.vstack([affine[t - 1, layer], [0, 0, 1]])) @ np.vstack([affine[t, layer], [0, 0, 1]]))
        sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        inside = (sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= height - 1)
        src = layer_index[t - 1][np.clip(np.round(sy).astype(int), 0, height - 1),
                                 np.clip(np.round(sx).astype(int), 0, width - 1)]
        out |= on & inside & (src == layer)
    return out.astype(np.uint8)


# --- audio and encoding ----------------------------------------------------------------------


def melody(seconds: float) -> np.ndarray:
    """A little pentatonic tune: (samples,) float32 in [-1, 1]."""
    notes = [523.25, 587.33, 659.25, 783.99, 880.0, 783.99, 659.25, 587.33]  # C D E G A G E D
    beat = seconds / len(notes)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    for i, f in enumerate(notes):
        local = t - i * beat
        on = (local >= 0) & (local < beat)
        env = np.exp(-3.0 * local[on]) * np.minimum(1, local[on] * 200)  # plucked: fast attack, decay
        out[on] = env * (np.sin(2 * np.pi * f * local[on]) + 0.3 * np.sin(4 * np.pi * f * local[on]))
    return (0.35 * out).astype(np.float32)


def write_video(path: Path, frames: np.ndarray, fps: int = FPS, audio: np.ndarray | None = None, crf: int = 20) -> None:
    """H.264 (yuv420p) + AAC mono, via PyAV. Written to a temporary name, then renamed."""
    import av

    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        vs.options = {"crf": str(crf), "preset": "slow", "threads": "1"}  # one thread: reproducible bytes
        streams = [vs]
        if audio is not None:
            aus = out.add_stream("aac", rate=SAMPLE_RATE)
            aus.layout = "mono"
            streams.append(aus)
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if audio is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                piece = audio[start:start + chunk]
                frame = av.AudioFrame.from_ndarray(piece[None, :], format="fltp", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                frame.pts = start
                frame.time_base = Fraction(1, SAMPLE_RATE)
                for packet in aus.encode(frame):
                    out.mux(packet)
            for packet in aus.encode():
                out.mux(packet)
    tmp.replace(path)


def save_ground_truth(path: Path, affine: np.ndarray, layer_index: np.ndarray, valid: np.ndarray) -> None:
    """Write the layered ground truth (see the module docstring) as a compressed ``.npz``."""
    frames, height, width = layer_index.shape
    np.savez_compressed(path, format=np.array(GT_FORMAT), size=np.array([height, width]), frames=np.array(frames),
                        fps=np.array(FPS), layer_affine=affine, layer_index=layer_index, valid=valid)


def _frame_count(text: str) -> int:
    """``--frames``: at least 2, the ground truth being between consecutive frames (1 and 0 failed
    deep in NumPy, after the scene was painted)."""
    count = int(text)
    if count < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (the flow is between consecutive frames), got {count}")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--frames", type=_frame_count, default=FRAMES, help=f"at least 2 (default {FRAMES})")
    args = parser.parse_args(argv)
    try:  # a folder it cannot make or write: one line, as vidstyle says it, not a traceback
        args.out.mkdir(parents=True, exist_ok=True)
        frames, affine, layer_index, valid = render(args.seed, args.frames)
        write_video(args.out / "sample.mp4", frames, audio=melody(args.frames / FPS))
        save_ground_truth(args.out / "sample_flow.npz", affine, layer_index, valid)
    except OSError as exc:
        print(f"make_sample: error: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for name in ("sample.mp4", "sample_flow.npz"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
