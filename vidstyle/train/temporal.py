"""Temporal-consistency training: the output-level temporal loss and the frame pairs it needs.

Pairs come from two sources, both returning the same tuple
``(frame_prev (3, H, W), frame_t (3, H, W), flow_t_to_prev (2, H, W), mask (1, H, W))`` (floats,
frames in [0, 1], flow the *backward* flow t -> t-1 in pixels, mask 1 = visible in both frames):

* :func:`synthetic_pair`: random camera motion (shift, turn, zoom, optionally a perspective tilt)
  applied to a still image, optionally with an object moving on its own in front, with exact flow
  and occlusion; no video dataset needed;
* :class:`VideoPairs`: consecutive frames of real videos with cached DIS flow.
"""
from __future__ import annotations

import hashlib
import logging
import math
import zipfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from vidstyle.errors import VidstyleError
from vidstyle.flow.estimate import DISFlow
from vidstyle.flow.occlusion import in_view_mask, valid_mask_numpy
from vidstyle.flow.warp import pixel_coords, warp
from vidstyle.frames import images_to_tensor, luminance
from vidstyle.io.files import VIDEO_SUFFIXES, cache_folder, file_identity, not_a_file_error, write_then_rename

log = logging.getLogger("vidstyle")


# --- loss ------------------------------------------------------------------------------------


def lighting_change(input_t: torch.Tensor, warped_prev: torch.Tensor, mask: torch.Tensor,
                    prior: float = 1e-5) -> torch.Tensor:
    """How much the scene's lighting changed luma between two frames: per image, the gain and
    offset that best map the warped previous frame's luma onto frame t's over the pixels visible
    in both (least squares), applied to it, minus it.

    Args:
        input_t, warped_prev: (B, 3, H, W) frame t and frame t-1 warped onto it, in [0, 1].
        mask: (B, 1, H, W) 1 where the pixel is visible in both frames.
        prior: a variance added to the fit (about one grey level squared), which pulls its gain
            towards 1 on flat frames, where the luma has too little spread to tell a gain from
            an offset; on a textured frame it moves the gain by well under 1%.
    Returns:
        (B, 1, H, W): ``(a - 1) * Y(W I_{t-1}) + b``, with a, b one gain and offset per image.

    A global affine model, not the per-pixel difference ``Y(I_t) - Y(W I_{t-1})``: that also holds
    each frame's own noise (sensor grain, compression, the noise synthetic pairs add), so a loss
    allowing it rewards a network that passes the input's noise through to its output, the flicker
    the loss is there to remove. Two numbers per image average the noise away over thousands of
    pixels; exposure changes and fades, the lighting changes of video, are global.
    """
    yc, yp = luminance(input_t), luminance(warped_prev)
    m = mask.to(yc.dtype)
    n = m.sum((2, 3), keepdim=True).clamp_min(1.0)
    mean_c, mean_p = (m * yc).sum((2, 3), keepdim=True) / n, (m * yp).sum((2, 3), keepdim=True) / n
    dp = yp - mean_p
    var = (m * dp * dp).sum((2, 3), keepdim=True) / n
    cov = (m * dp * (yc - mean_c)).sum((2, 3), keepdim=True) / n
    gain = (cov + prior) / (var + prior)
    return (gain - 1) * dp + (mean_c - mean_p)


def temporal_loss(out_t: torch.Tensor, out_prev: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor,
                  input_t: torch.Tensor | None = None, input_prev: torch.Tensor | None = None) -> torch.Tensor:
    """Output-level temporal loss ``mean(M * (S(I_t) - warp(S(I_{t-1}), flow))^2)`` (Huang et al. 2017).

    Args:
        out_t, out_prev: (B, 3, H, W) stylized frames t and t-1.
        flow: (B, 2, H, W) backward flow t -> t-1 (pixels), computed on the *input* frames.
        mask: (B, 1, H, W) 1 where the pixel is visible in both frames.
        input_t, input_prev: (B, 3, H, W) input frames. When given, the loss is lighting-aware, after
            ReCoNet's luminance term (Gao et al. 2018): the output may change by as much as the
            input's lighting changed (:func:`lighting_change`, a gain and offset per image rather
            than ReCoNet's per-pixel luma difference, which lets the input's noise through), so
            exposure changes and fades are not punished.
    Returns:
        a scalar tensor; the mean runs over all B*3*H*W elements, so occluded pixels count as 0.
        Zero for an exactly warped pair; gradients reach both outputs.
    """
    if out_t.shape != out_prev.shape or out_t.ndim != 4:
        raise ValueError(f"outputs must both be (B, C, H, W), got {tuple(out_t.shape)} and {tuple(out_prev.shape)}")
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != out_t.shape[0] or mask.shape[-2:] != out_t.shape[-2:]:
        raise ValueError(f"mask must be (B, 1, H, W) matching the outputs, got {tuple(mask.shape)}")
    flow = flow.to(out_t.dtype)
    diff = out_t - warp(out_prev, flow)
    if (input_t is None) != (input_prev is None):
        raise ValueError("give both input_t and input_prev for the lighting-aware loss, or neither")
    if input_t is not None:
        change = lighting_change(input_t.to(out_t.dtype), warp(input_prev.to(out_t.dtype), flow), mask)
        diff = diff - change.to(diff.dtype)
    return (mask.to(diff.dtype) * diff.pow(2)).mean()


def feature_temporal_loss(features_t: torch.Tensor, features_prev: torch.Tensor, flow: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
    """Feature-level temporal loss (ReCoNet, Gao et al. 2018): the network's features of frame t
    against those of frame t-1 warped onto them, relative to the features' own power.

    Args:
        features_t, features_prev: (B, C, h, w) the features the decoder starts from (the output of
            the residual blocks) for frames t and t-1; h and w divide the frames' H and W.
        flow: (B, 2, H, W) backward flow t -> t-1 in pixels of the *input* frames; averaged over
            each feature pixel's cell, its vectors scaled to the feature map's pixels.
        mask: (B, 1, H, W) 1 where the input pixel is visible in both frames; a feature pixel counts
            only where every input pixel of its cell does (and its own sample lands inside).
    Returns:
        a scalar tensor: ``mean(M * (F_t - warp(F_{t-1}))^2) / mean(F_t^2)``. Zero for features
        that move exactly with the flow.

    Divided by the features' mean square because the decoder's first instance norm undoes any
    scale of the features: an absolute loss could be escaped by shrinking them, without making
    them any steadier.
    """
    if features_t.shape != features_prev.shape or features_t.ndim != 4:
        raise ValueError(f"features must both be (B, C, h, w), got {tuple(features_t.shape)} and "
                         f"{tuple(features_prev.shape)}")
    if flow.ndim != 4 or flow.shape[:2] != (features_t.shape[0], 2):
        raise ValueError(f"flow must be (B, 2, H, W) for the features' batch, got {tuple(flow.shape)}")
    if mask.shape != (flow.shape[0], 1, *flow.shape[-2:]):
        raise ValueError(f"mask must be (B, 1, H, W) matching the flow, got {tuple(mask.shape)}")
    (h, w), (height, width) = features_t.shape[-2:], flow.shape[-2:]
    if height % h or width % w:
        raise ValueError(f"the features' size {h}x{w} must divide the frames' {height}x{width}")
    features_t, features_prev = features_t.float(), features_prev.float()
    cell = (height // h, width // w)
    # each cell's mean vector, in the feature map's pixels: exact for a camera's affine motion (the
    # mean over a cell is the value at its centre, where the feature pixel sits)
    small = torch.nn.functional.avg_pool2d(flow.float(), cell)
    small = torch.cat((small[:, :1] / cell[1], small[:, 1:] / cell[0]), dim=1)
    cells = 1 - torch.nn.functional.max_pool2d(1 - mask.float(), cell)
    visible = cells * in_view_mask(small)
    difference = (visible * (features_t - warp(features_prev, small)).pow(2)).mean()
    return difference / features_t.pow(2).mean().clamp_min(1e-12)


# --- synthetic pairs -------------------------------------------------------------------------


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64) * (high - low) + low


def random_camera_flow(batch: int, height: int, width: int, generator: torch.Generator, *,
                       max_translate: float = 0.03, max_rotate: float = 2.5, max_zoom: float = 0.04,
                       max_perspective: float = 0.0) -> torch.Tensor:
    """Exact backward flow (B, 2, H, W) of a random small camera motion about the image centre.

    Translation up to ``max_translate`` x the image size, rotation up to ``max_rotate`` degrees,
    zoom by up to ``1 +- max_zoom``; with ``max_perspective`` > 0 also a tilt, as when a camera pans
    or tilts: the motion is a homography whose scale changes across the frame, by a factor of
    ``1 + px * x / W + py * y / H`` (x, y from the centre; px, py up to ``max_perspective``). The
    flow maps each pixel of frame t to frame t-1. Without a tilt no random number is drawn for it,
    so a generator gives the same motions as before the option existed.
    """
    tx = _uniform(batch, -max_translate, max_translate, generator) * width
    ty = _uniform(batch, -max_translate, max_translate, generator) * height
    angle = _uniform(batch, -max_rotate, max_rotate, generator) * math.pi / 180
    zoom = 1 + _uniform(batch, -max_zoom, max_zoom, generator)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    coords = pixel_coords(height, width, dtype=torch.float64)  # (1, 2, H, W)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    x = coords[:, 0] - cx
    y = coords[:, 1] - cy
    view = lambda v: v.cpu().view(-1, 1, 1)  # noqa: E731
    scale = 1.0
    if max_perspective > 0:
        px = _uniform(batch, -max_perspective, max_perspective, generator)
        py = _uniform(batch, -max_perspective, max_perspective, generator)
        scale = 1 + view(px) * x / width + view(py) * y / height  # >= 0.5 over the frame for tilts up to 0.5
    src_x = (view(cos) * x - view(sin) * y) / scale + cx + view(tx)
    src_y = (view(sin) * x + view(cos) * y) / scale + cy + view(ty)
    return torch.stack((src_x - coords[:, 0], src_y - coords[:, 1]), 1).float()


def _ellipse(coords: torch.Tensor, centre: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) 1 inside each sample's ellipse, 0 outside; ``coords`` (B or 1, 2, H, W) pixel
    positions, ``centre`` and ``radii`` (B, 2) in pixels (x, y)."""
    d = (coords - centre.view(-1, 2, 1, 1)) / radii.view(-1, 2, 1, 1)
    return (d.pow(2).sum(1, keepdim=True) <= 1).to(coords.dtype)


def add_moving_object(prev: torch.Tensor, cur: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor,
                      generator: torch.Generator, *, chance: float = 1.0, max_size: float = 0.4,
                      max_shift: float = 0.05) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """An object moving on its own in front of the scene, with the flow and occlusion that follow.

    In each pair (with probability ``chance``) an ellipse (axes up to ``max_size`` x the shorter
    side) shows the frame's picture turned upside down, so its texture is not the background's; it
    moves by up to ``max_shift`` x the shorter side between the frames, independently of the camera.
    Where it is in frame t the flow is its motion; where it was in frame t-1 and no longer is, the
    background it uncovered was hidden in frame t-1, so the mask drops it (a disocclusion, the case
    the camera's motion alone never makes).

    Args:
        prev, cur: (B, 3, H, W) frames t-1 and t; flow (B, 2, H, W) the backward flow t -> t-1 and
            mask (B, 1, H, W) its visibility, as :func:`synthetic_pair` makes them.
    Returns:
        the four, with the object painted in (new tensors).
    """
    b, _, h, w = prev.shape
    side = min(h, w)
    present = (torch.rand(b, generator=generator, device=generator.device) < chance).cpu().view(-1, 1, 1, 1)
    # (drawn on the generator's device, used on the CPU beside the pixel coordinates)
    radii = torch.stack([_uniform(b, 0.05, max_size / 2, generator) * side for _ in range(2)], 1).cpu()
    centre = torch.stack([_uniform(b, 0, 1, generator) * (n - 1 - 2 * radii[:, i]) + radii[:, i]
                          for i, n in enumerate((w, h))], 1).cpu()  # wholly inside frame t-1
    # whole pixels: the object's own pixels then sample frame t-1 exactly, none of the background
    shift = torch.stack([_uniform(b, -max_shift, max_shift, generator) * side for _ in range(2)], 1).round().cpu()
    coords = pixel_coords(h, w, dtype=torch.float64)
    was = _ellipse(coords, centre, radii) * present  # where the object is in frame t-1
    now = _ellipse(coords, centre + shift, radii) * present  # ... and in frame t
    own = (-shift).view(-1, 2, 1, 1).expand(b, 2, h, w)  # its backward flow: it moved by +shift
    # the background pixels of frame t that frame t-1's object hid: the camera's source lands on it,
    # or near enough (1.5 px) that the bilinear warp takes some of the object's colour
    # (to the CPU first: Apple's MPS has no float64)
    hidden = _ellipse(coords + flow.cpu().double(), centre, radii + 1.5) * present
    device, dtype = prev.device, prev.dtype
    was, now, hidden = (m.to(device, dtype) for m in (was, now, hidden))
    picture = prev.flip(-2)
    moved = warp(picture, own.to(device, dtype), padding_mode="reflection")
    prev = prev * (1 - was) + picture * was
    cur = cur * (1 - now) + moved * now
    flow = torch.where(now.bool(), own.to(flow.device, flow.dtype), flow)
    mask = torch.where(now.bool(), torch.ones_like(mask), mask * (1 - hidden.to(mask.dtype)))
    return prev, cur, flow, mask


def synthetic_pair(image: torch.Tensor, generator: torch.Generator, *, noise: float = 0.02,
                   brightness: float = 0.05, objects: float = 0.0,
                   **motion) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two "video frames" from a still: frame t-1 is the image, frame t the image seen by a camera
    that moved a little (see :func:`random_camera_flow` for ``motion`` options), in a share
    ``objects`` of the pairs with an object moving on its own in front (:func:`add_moving_object`),
    with independent Gaussian noise (sigma up to ``noise``) on each frame and a brightness change
    (gain and offset up to ``brightness``) on frame t.

    Args:
        image: (3, H, W) or (B, 3, H, W) float in [0, 1] (any device).
        generator: the torch random generator (its device draws the random numbers).
    Returns:
        ``(frame_prev, frame_t, flow_t_to_prev, mask)``: (…, 3, H, W), (…, 3, H, W), (…, 2, H, W)
        exact backward flow, (…, 1, H, W) 1 where the pixel of frame t is visible in frame t-1;
        without a batch dimension if ``image`` had none.
    """
    single = image.ndim == 3
    x = image[None] if single else image
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"image must be (3, H, W) or (B, 3, H, W), got {tuple(image.shape)}")
    if not 0.0 <= objects <= 1.0:
        raise ValueError(f"objects must be a share between 0 and 1, got {objects}")
    b, _, h, w = x.shape
    flow = random_camera_flow(b, h, w, generator, **motion).to(x.device)
    # Reflection keeps plausible content where frame t sees beyond frame t-1; the mask drops it.
    cur = warp(x, flow.to(x.dtype), padding_mode="reflection")
    mask = in_view_mask(flow)
    prev = x
    if objects > 0:  # (only then drawn: a generator gives the same pairs as before the option)
        prev, cur, flow, mask = add_moving_object(prev, cur, flow, mask, generator, chance=objects)

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=generator.device).to(x.device, x.dtype)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, device=generator.device).to(x.device, x.dtype)

    sigma_prev, sigma_cur = rand(b, 1, 1, 1) * noise, rand(b, 1, 1, 1) * noise
    gain = 1 + (rand(b, 1, 1, 1) * 2 - 1) * brightness
    offset = (rand(b, 1, 1, 1) * 2 - 1) * brightness * 0.5
    prev = (prev + sigma_prev * randn(b, 3, h, w)).clamp(0, 1)
    cur = (cur * gain + offset + sigma_cur * randn(b, 3, h, w)).clamp(0, 1)
    if single:
        return prev[0], cur[0], flow[0], mask[0]
    return prev, cur, flow, mask


# --- pairs from real videos ------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where flow caches live: ``$VIDSTYLE_CACHE/flow``, else ``$XDG_CACHE_HOME/vidstyle/flow``, else
    ``~/.cache/vidstyle/flow`` (:func:`~vidstyle.io.files.cache_folder`)."""
    return cache_folder("flow")


def _default_cache_dir_or_none() -> Path | None:
    """:func:`default_cache_dir`, or None on a machine where no home folder can be found (a service
    account without one) and no cache folder is set: training goes on, computing the flow each run."""
    try:
        return default_cache_dir()
    except (RuntimeError, KeyError) as exc:  # Path.home(): "Could not determine home directory."
        log.warning("no folder to cache the flow in (%s); it is computed again each run "
                    "(set VIDSTYLE_CACHE to a writable folder)", exc)
        return None


def _cover_crop(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W, 3) to cover ``size`` = (h, w) keeping the aspect ratio, then centre-crop."""
    h, w = size
    scale = max(h / img.shape[0], w / img.shape[1])
    rw, rh = max(w, round(img.shape[1] * scale)), max(h, round(img.shape[0] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    img = cv2.resize(img, (rw, rh), interpolation=interp)
    y0, x0 = (rh - h) // 2, (rw - w) // 2
    return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w])


class VideoPairs(torch.utils.data.Dataset):
    """Consecutive-frame pairs of real videos with DIS flow, cached per video.

    Args:
        source: a folder (searched recursively for .mp4/.mkv/.mov/.avi/.webm/.m4v) or video files.
        size: (H, W) or an int for square pairs: frames are resized to cover it and centre-cropped.
        cache_dir: where the per-video ``.npz`` caches go (default :func:`default_cache_dir`,
            outside the package; none, with a warning, where no home folder can be found); a cache
            is reused while the video file is unchanged.
        stride: take a pair every ``stride`` frames (consecutive pairs are nearly duplicates).
        max_pairs_per_video: cap on pairs per video (evenly spread).
        min_valid: drop pairs with less than this share of visible pixels (scene cuts).

    Items are ``(frame_prev, frame_t, flow_t_to_prev, mask)`` like :func:`synthetic_pair`.
    The caches are loaded into memory (about 0.7 MB per 256x256 pair).
    """

    def __init__(self, source: str | Path | Sequence[str | Path], size: int | tuple[int, int] = 256, *,
                 cache_dir: str | Path | None = None, stride: int = 5, max_pairs_per_video: int | None = None,
                 min_valid: float = 0.5, preset: str = "medium"):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.files = self._find(source)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir_or_none()
        self.stride, self.max_pairs, self.min_valid, self.preset = stride, max_pairs_per_video, min_valid, preset
        self._arrays, problems = [], []
        for f in self.files:
            try:
                arrays = self._load_or_build(f)
            except VidstyleError as exc:  # one unreadable video must not end a training run
                problems.append(str(exc))
                continue
            if not len(arrays["flow"]):
                problems.append(f"{f} gives no usable frame pair (too short, or only scene cuts)")
            self._arrays.append(arrays)
        self._index = [(v, i) for v, arrays in enumerate(self._arrays) for i in range(len(arrays["flow"]))]
        if not self._index:
            raise VidstyleError(f"no usable frame pairs in {', '.join(str(f) for f in self.files)}"
                                + (f" ({'; '.join(problems)})" if problems else ""))
        for problem in problems:  # said only now: with no pair at all, training does not go on
            log.warning("%s; training goes on without it", problem)

    @staticmethod
    def _find(source) -> list[Path]:
        """Video files from a folder, a file, or a sequence of both (folders searched recursively)."""
        sources = [source] if isinstance(source, (str, Path)) else list(source)
        if not sources:
            raise VidstyleError("no video given for frame pairs")
        files = []
        for s in map(Path, sources):
            if s.is_dir():
                found = sorted(p for p in s.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
                if not found:
                    raise VidstyleError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) found in {s}")
                files += found
            elif s.is_file():
                files.append(s)
            else:
                raise not_a_file_error(s, "video")
        return files

    def _cache_path(self, video: Path) -> Path:
        # v2: frames read by the pipeline's decoder (turned by rotation tags) since the fourteenth session;
        # v3: at their true levels (display.exact_rgb; v2's frames were 1-2 levels dark), thirtieth session
        key = f"v3|{file_identity(video)}|{self.size}|{self.stride}|" \
              f"{self.max_pairs}|{self.min_valid}|{self.preset}"
        return self.cache_dir / f"{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"

    def _load_or_build(self, video: Path) -> dict[str, np.ndarray]:
        if self.cache_dir is None:
            return self._build(video)
        path = self._cache_path(video)
        if path.is_file():
            try:
                with np.load(path) as data:
                    return {k: data[k] for k in data.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                # a damaged cache file (a disk error, a cache folder copied in part) would otherwise end
                # every run with these videos: it is only a cache, so its flow is computed again
                log.warning("the cached flow of %s (%s) cannot be read (%s); it is computed again", video.name,
                            path, exc)
        arrays = self._build(video)
        try:
            with write_then_rename(path, make_folder=True) as tmp:  # written aside, then renamed
                np.savez(tmp, **arrays)  # uncompressed: loads fast
        except (OSError, VidstyleError) as exc:  # a read-only or full home: train on, uncached
            log.warning("cannot cache the flow of %s in %s (%s); it is computed again next run "
                        "(set VIDSTYLE_CACHE to a writable folder)", video.name, path.parent, exc)
        return arrays  # as built: the file just written holds the same arrays

    def _build(self, video: Path) -> dict[str, np.ndarray]:
        from vidstyle.eval import read_frames

        dis = DISFlow(self.preset)
        prevs, curs, flows, masks = [], [], [], []
        ends_pair = lambda i: i >= 1 and (i - 1) % self.stride == 0  # noqa: E731  pairs (0,1), (s,s+1), ...
        previous = None
        for i, frame in enumerate(read_frames(video)):
            if not (ends_pair(i) or ends_pair(i + 1)):
                previous = None
                continue
            frame = _cover_crop(frame, self.size)
            if ends_pair(i) and previous is not None:
                backward, forward = dis(frame, previous), dis(previous, frame)
                valid = valid_mask_numpy(backward, forward, motion_boundaries=True)
                if valid.mean() >= self.min_valid:
                    prevs.append(previous)
                    curs.append(frame)
                    flows.append(backward.astype(np.float16))
                    masks.append(valid.astype(np.uint8))
            previous = frame
        if self.max_pairs is not None and len(flows) > self.max_pairs:
            keep = np.linspace(0, len(flows) - 1, self.max_pairs).round().astype(int)
            prevs, curs, flows, masks = ([a[k] for k in keep] for a in (prevs, curs, flows, masks))
        h, w = self.size
        empty = lambda *s: np.zeros((0, h, w) + s, np.uint8)  # noqa: E731
        return {
            "prev": np.stack(prevs) if prevs else empty(3),
            "cur": np.stack(curs) if curs else empty(3),
            "flow": np.stack(flows) if flows else empty(2).astype(np.float16),
            "mask": np.stack(masks) if masks else empty(),
        }

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int):
        v, i = self._index[index]
        a = self._arrays[v]
        flow = torch.from_numpy(a["flow"][i].astype(np.float32)).permute(2, 0, 1)
        mask = torch.from_numpy(a["mask"][i].astype(np.float32))[None]
        return images_to_tensor(a["prev"][i])[0], images_to_tensor(a["cur"][i])[0], flow, mask
