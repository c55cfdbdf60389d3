"""Backward warping by optical flow, in torch (``grid_sample``) and numpy (``cv2.remap``).

Two representations, never to be confused:

* ``flow`` (B, 2, H, W) float: per-pixel *displacement* (dx, dy) in pixels. For a backward flow
  ``flow_{t->t-1}``, pixel (x, y) of frame t was at (x + dx, y + dy) in frame t-1.
* ``grid`` (B, H, W, 2) float: absolute sampling *positions* normalised to [-1, 1] for
  ``torch.nn.functional.grid_sample`` with ``align_corners=True`` (-1 = centre of the first pixel,
  +1 = centre of the last), i.e. the same pixel-centre convention as ``cv2.remap``.
* ``map`` (H, W, 2) float32, numpy: absolute sampling positions *in pixels*, ``cv2.remap``'s map
  (:func:`flow_to_map`).

``warp(img_{t-1}, flow_{t->t-1})`` therefore brings frame t-1 onto frame t's pixel grid.
The numpy form of a flow is (H, W, 2) float32, as OpenCV returns it.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidstyle.config import check_choice
from vidstyle.errors import BadTypeError, BadValueError

_PADDING_TO_CV2 = {"border": cv2.BORDER_REPLICATE, "zeros": cv2.BORDER_CONSTANT, "reflection": cv2.BORDER_REFLECT_101}


def _check_tensor(value, name: str) -> None:
    if not isinstance(value, torch.Tensor):
        hint = " (numpy arrays go to the *_numpy functions)" if isinstance(value, np.ndarray) else ""
        raise BadTypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}{hint}")


def _check_flow(flow: torch.Tensor, name: str = "flow") -> None:
    _check_tensor(flow, name)
    if flow.ndim != 4 or flow.shape[1] != 2 or not flow.is_floating_point():
        raise BadValueError(f"{name} must be a float (B, 2, H, W) tensor, got {flow.dtype} {tuple(flow.shape)}")


def _check_padding(padding_mode: str) -> None:
    check_choice("padding_mode", padding_mode, tuple(_PADDING_TO_CV2))


def pixel_coords(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates (1, 2, H, W): channel 0 is x (column), channel 1 is y (row)."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=dtype),
                            torch.arange(width, device=device, dtype=dtype), indexing="ij")
    return torch.stack((xs, ys))[None]


def flow_to_grid(flow: torch.Tensor) -> torch.Tensor:
    """Displacement ``flow`` (B, 2, H, W) in pixels -> sampling ``grid`` (B, H, W, 2) in [-1, 1].

    The grid is for ``grid_sample(..., align_corners=True)``; positions outside [-1, 1] are
    outside the source image, except along a side of one pixel, which that convention cannot
    place a sample on (every value reads the pixel; :func:`warp` pads such a side first).
    """
    _check_flow(flow)
    _, _, h, w = flow.shape
    pos = pixel_coords(h, w, flow.device, flow.dtype) + flow  # absolute source positions in pixels
    # the scales as plain numbers: a tensor of them made from host values would make a GPU's host
    # wait for its queue (the stabilizer warps on the GPU after the network)
    return torch.stack((pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0, pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)


def grid_to_flow(grid: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`flow_to_grid`: ``grid`` (B, H, W, 2) -> ``flow`` (B, 2, H, W) in pixels."""
    _check_tensor(grid, "grid")
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise BadValueError(f"grid must be (B, H, W, 2), got {tuple(grid.shape)}")
    _, h, w, _ = grid.shape
    scale = grid.new_tensor([(max(w - 1, 1)) / 2.0, (max(h - 1, 1)) / 2.0]).view(1, 2, 1, 1)
    pos = (grid.permute(0, 3, 1, 2) + 1.0) * scale
    return pos - pixel_coords(h, w, grid.device, grid.dtype)


def warp(img: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear", padding_mode: str = "border") -> torch.Tensor:
    """Backward-warp ``img`` (B, C, H, W) by ``flow`` (B, 2, H, W): ``out[x] = img[x + flow[x]]``.

    ``padding_mode`` is ``grid_sample``'s (``border`` | ``zeros`` | ``reflection``) and decides what
    out-of-view samples read; mask them with :func:`vidstyle.flow.occlusion.in_view_mask`.
    Differentiable with respect to both ``img`` and ``flow``. A half-precision ``img`` (fp16,
    bf16) is sampled in float32 and returned in its own dtype.
    """
    _check_tensor(img, "img")
    _check_flow(flow)
    _check_padding(padding_mode)
    if img.ndim != 4 or img.shape[0] != flow.shape[0] or img.shape[-2:] != flow.shape[-2:]:
        raise BadValueError(f"img {tuple(img.shape)} does not match flow {tuple(flow.shape)} (need (B, C, H, W))")
    if not img.is_floating_point():
        raise BadValueError(f"img must be a float tensor, got {img.dtype}")
    # float32 at least: a pixel position in half precision is off by up to half a pixel at 1080p,
    # and the CPU's half-precision grid_sample returns NaN for some positions (torch 2.14)
    dtype = torch.promote_types(img.dtype, torch.float32)
    img_, flow_ = img.to(dtype), flow.to(dtype)
    ph, pw = int(flow.shape[-2] == 1), int(flow.shape[-1] == 1)
    if ph or pw:
        # a side of one pixel: with align_corners=True every grid value along it lands on that
        # pixel's centre, so a displacement along it would be ignored (read in view). Pad it by a
        # pixel each way with what the padding mode reads outside, and sample that at the shifted
        # positions: bilinear between the pixel and its padding, as cv2.remap does
        img_ = F.pad(img_, (pw, pw, ph, ph), mode="constant" if padding_mode == "zeros" else "replicate")
        pos = pixel_coords(*flow.shape[-2:], flow.device, dtype) + flow_  # (plain-number scales, as below)
        grid = torch.stack(((pos[:, 0] + pw) * (2.0 / (img_.shape[-1] - 1)) - 1.0,
                            (pos[:, 1] + ph) * (2.0 / (img_.shape[-2] - 1)) - 1.0), dim=-1)
    else:
        grid = flow_to_grid(flow_)
    out = F.grid_sample(img_, grid, mode=mode, padding_mode=padding_mode, align_corners=True)
    return out.to(img.dtype)


@lru_cache(maxsize=8)
def _pixel_coords_numpy(height: int, width: int) -> np.ndarray:
    coords = np.dstack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)))
    coords.setflags(write=False)  # shared between calls
    return coords


def _check_flow_numpy(flow: np.ndarray) -> None:
    if not isinstance(flow, np.ndarray) or flow.ndim != 3 or flow.shape[-1] != 2:
        raise (BadValueError if isinstance(flow, np.ndarray) else BadTypeError)(f"flow must be an (H, W, 2) numpy array, got {getattr(flow, 'shape', type(flow).__name__)}")


def flow_to_map(flow: np.ndarray) -> np.ndarray:
    """Displacement ``flow`` (H, W, 2) in pixels -> ``map`` (H, W, 2) float32 of absolute source
    positions in pixels (x, y), the one-array map that ``cv2.remap`` takes (faster than two planes).
    """
    _check_flow_numpy(flow)
    return cv2.add(flow.astype(np.float32, copy=False), _pixel_coords_numpy(*flow.shape[:2]))


def warp_numpy(img: np.ndarray, flow: np.ndarray, padding_mode: str = "border",
               interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``cv2.remap`` equivalent of :func:`warp` for one image.

    Args:
        img: (H, W) or (H, W, C) array (uint8 or float32).
        flow: (H, W, 2) float displacement (dx, dy) in pixels.
        padding_mode: ``border`` | ``zeros`` | ``reflection`` (as in :func:`warp`).
    Returns:
        the warped image, same shape and dtype as ``img``.
    """
    _check_flow_numpy(flow)
    _check_padding(padding_mode)
    if not isinstance(img, np.ndarray):
        raise BadTypeError(f"img must be a numpy array, got {type(img).__name__}")
    if img.shape[:2] != flow.shape[:2]:
        raise BadValueError(f"img {img.shape} does not match flow {flow.shape}")
    # torch's "reflection" with align_corners=True mirrors about the edge pixels' centres, without
    # repeating them: OpenCV's BORDER_REFLECT_101, not BORDER_REFLECT (which repeats the edge pixel)
    return cv2.remap(img, flow_to_map(flow), None, interpolation, borderMode=_PADDING_TO_CV2[padding_mode],
                     borderValue=0)


def flow_numpy_to_torch(flow: np.ndarray, device=None) -> torch.Tensor:
    """(H, W, 2) or (B, H, W, 2) numpy flow -> (B, 2, H, W) float32 tensor."""
    if not isinstance(flow, np.ndarray):
        raise BadTypeError(f"flow must be a numpy array, got {type(flow).__name__}")
    f = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32))
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[-1] != 2:
        raise BadValueError(f"flow must be (H, W, 2) or (B, H, W, 2), got {flow.shape}")
    return f.permute(0, 3, 1, 2).contiguous().to(device)


def flow_torch_to_numpy(flow: torch.Tensor) -> np.ndarray:
    """(B, 2, H, W) tensor -> (B, H, W, 2) float32 numpy flow (squeeze B yourself if 1)."""
    _check_flow(flow)
    return flow.detach().float().permute(0, 2, 3, 1).contiguous().cpu().numpy()


def resize_flow(flow: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize an (h, w, 2) numpy flow to ``size`` = (H, W), scaling the vectors to the new pixels."""
    _check_flow_numpy(flow)
    h, w = flow.shape[:2]
    height, width = size
    if (h, w) == (height, width):
        return flow
    out = cv2.resize(flow, (width, height), interpolation=interpolation)
    # each vector scaled by (W / w, H / h) in one OpenCV pass: the same float32 products as NumPy's
    # broadcast of a length-2 array, which loops over the pixels two values at a time (1.3 of the
    # 1.5 ms of a 640x360 resize, 9 of 11 at 1920x1080)
    scale = out.dtype.type(width / w), out.dtype.type(height / h)
    return cv2.multiply(out, (float(scale[0]), float(scale[1]), 0.0, 0.0), dst=out)


def resize_flow_tensor(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """:func:`resize_flow` in torch: ``flow`` (B, 2, h, w) -> (B, 2, H, W) for ``size`` = (H, W),
    bilinear with pixel centres (as ``cv2.resize``'s INTER_LINEAR when enlarging), the vectors
    scaled to the new pixels."""
    _check_flow(flow)
    h, w = flow.shape[-2:]
    height, width = size
    if (h, w) == (height, width):
        return flow
    out = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
    # the two scales as plain numbers: a tensor of them made from host values would make a GPU's
    # host wait for its queue (the stabilizer resizes flows on the GPU after the network)
    return torch.cat((out[:, :1] * (width / w), out[:, 1:] * (height / h)), dim=1)
