"""Frame conversion and padding: uint8 RGB images <-> network tensors.

Conventions used across vidstyle:

* an *image* is a ``numpy.ndarray`` of shape (H, W, 3), dtype uint8, RGB;
* a *batch tensor* is a float tensor of shape (B, 3, H, W) with values in [0, 1].

On the CPU the conversions around the network (to float, padding, clamping, to uint8) run in
numpy and OpenCV, with the same values as torch's ops, bit for bit: each torch op on a frame's
worth of values opens a GNU OpenMP parallel region, and between regions libgomp's threads
busy-wait (GOMP_SPINCOUNT), so on a CPU that another program keeps busy they took the cores
from ONNX Runtime's threads: a light style at 640x360 on 2 cores beside one busy loop ran 92 ms
a frame from a program's main thread, against 35 with that wait turned off (README).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidstyle.device import device_constant
from vidstyle.errors import BadTypeError, BadValueError

#: Rec. 601 luma weights of R, G and B (the ones OpenCV's RGB2GRAY uses too)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) Rec. 601 luma (:data:`LUMA_WEIGHTS`), in ``x``'s dtype; a
    float32 numpy array (:func:`host_view`) gives torch's float32 values, bit for bit."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise BadValueError(f"expected a (B, 3, H, W) RGB tensor, got shape {tuple(x.shape)}")
    # the weights as plain numbers: a tensor of them made per call from host values would make a
    # GPU's host wait for its queue (the stabilizer's blend runs this after the network); and a
    # cached device tensor could not be traced (torch.compile, export)
    r, g, b = LUMA_WEIGHTS
    return x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b


def host_batch(images: Sequence[np.ndarray] | np.ndarray, pin_memory: bool = False) -> torch.Tensor:
    """Stack uint8 (H, W, 3) images (or take a (B, H, W, 3) array) into one uint8 (B, H, W, 3)
    host tensor, checked; with ``pin_memory`` in page-locked memory, copied there once (the
    device can then read it while the host goes on)."""
    if not isinstance(images, np.ndarray):
        if not hasattr(images, "__iter__"):  # None, a number: not a bare "object is not iterable"
            raise BadTypeError(f"expected uint8 (H, W, 3) images (a sequence or a (B, H, W, 3) array), "
                               f"got {type(images).__name__}")
        images = [check_image(image) for image in images]
        if not images:
            raise BadValueError("no images given")
        if len({image.shape for image in images}) > 1:
            raise BadValueError(f"images of one batch must have the same size, got "
                             f"{', '.join(sorted({f'{i.shape[1]}x{i.shape[0]}' for i in images}))}")
        shape, dtype = (len(images), *images[0].shape), images[0].dtype
    else:
        shape, dtype = (images.shape if images.ndim != 3 else (1, *images.shape)), images.dtype
    if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
        raise BadValueError(f"expected uint8 images of shape (B, H, W, 3), got {dtype} {tuple(shape)}")
    if 0 in shape:
        raise BadValueError(f"empty images: shape {tuple(shape)}")
    if pin_memory:
        host = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
        view = host.numpy()
        if isinstance(images, np.ndarray):
            view[:] = images.reshape(shape)
        else:
            for slot, image in zip(view, images):
                slot[:] = image
        return host
    batch = np.ascontiguousarray(images.reshape(shape) if isinstance(images, np.ndarray) else np.stack(images))
    if not batch.flags.writeable:  # torch.from_numpy warns about read-only memory (nothing writes to it)
        batch = batch.copy()
    return torch.from_numpy(batch)


def images_to_tensor(images: Sequence[np.ndarray] | np.ndarray, device: torch.device | None = None,
                     pin_memory: bool = False) -> torch.Tensor:
    """Stack uint8 (H, W, 3) images into a float (B, 3, H, W) tensor in [0, 1] on ``device``.

    The uint8 -> float conversion happens on the target device, so only a quarter of the bytes
    cross the bus; with ``pin_memory`` the host buffer is pinned and the copy is non-blocking.
    """
    pin = pin_memory and device is not None and device.type == "cuda"
    host = host_batch(images, pin_memory=pin)
    x = host.to(device, non_blocking=pin) if device is not None else host
    return uint8_to_float(x)


def uint8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1], on ``x``'s device (with channels_last
    strides for a contiguous ``x``)."""
    if x.device.type == "cpu":  # (no OpenMP region: see the module's note)
        # a division, as torch's: a multiplication by 1 / 255 rounds some levels differently
        return torch.from_numpy(np.divide(x.numpy(), np.float32(255.0), dtype=np.float32)).permute(0, 3, 1, 2)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def check_image(image) -> np.ndarray:
    """``image`` if it is a non-empty uint8 (H, W, 3) RGB array, else a BadTypeError (not an array
    at all: a tensor, a PIL image, a list) or a BadValueError (an array of another shape or type)
    saying what it is."""
    if not isinstance(image, np.ndarray):
        raise BadTypeError(f"expected a uint8 (H, W, 3) numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        # what to do about the kinds of frames other libraries hand out (OpenCV's and PIL's
        # grey and RGBA images, a stack of frames), said with the refusal
        hint = (" (scale float images in [0, 1] by 255 and convert to uint8)" if image.dtype.kind == "f"
                else " (a grey image: cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) makes it RGB)"
                if image.ndim == 2 or image.ndim == 3 and image.shape[-1] == 1
                else " (image[..., :3] drops the alpha channel)" if image.ndim == 3 and image.shape[-1] == 4
                else " (a stack of frames where one goes: Stylizer.stylize_batch takes stacks)"
                if image.ndim == 4 and image.shape[-1] == 3
                else "")
        raise BadValueError(f"expected a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}{hint}")
    if 0 in image.shape:
        raise BadValueError(f"empty image: shape {image.shape}")
    return image


def check_batch_tensor(x) -> torch.Tensor:
    """``x`` if it is a non-empty float (B, 3, H, W) torch tensor, else a BadTypeError or BadValueError
    saying what it is (its values are not read: that would cost a device sync per batch)."""
    contract = "a float torch tensor of shape (B, 3, H, W) with values in [0, 1]"
    if not isinstance(x, torch.Tensor):
        raise BadTypeError(f"expected {contract}, got {type(x).__name__}"
                        + (" (torch.from_numpy converts an array)" if isinstance(x, np.ndarray) else ""))
    if not x.is_floating_point() or x.ndim != 4 or x.shape[1] != 3 or 0 in x.shape:
        hint = (" (divide by 255 after converting to float)" if not x.is_floating_point()
                else " (x[None] adds the batch axis)" if x.ndim == 3 and x.shape[0] == 3
                else " (permute(0, 3, 1, 2) turns (B, H, W, 3) into it)" if x.ndim == 4 and x.shape[-1] == 3
                else "")
        raise BadValueError(f"expected {contract}, got {x.dtype} {tuple(x.shape)}{hint}")
    return x


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """Convert a (B, 3, H, W) tensor in [0, 1] to a uint8 (B, H, W, 3) array (rounded, clamped)."""
    if x.ndim != 4 or x.shape[1] != 3 or x.device.type != "cpu" or not x.numel():
        return float_to_uint8(x).cpu().numpy()  # (its check and message; a GPU converts where the frames are)
    import cv2

    x = x.detach().float()
    frames = x.numpy()
    planes = frames.strides[-1] == 4  # the network's NCHW output (ONNX Runtime), else channels_last
    layout = planes or frames.strides[1] == 4 and frames.strides[-1] == 12
    # OpenCV takes a 1x1 plane for a scalar (cv2.multiply made it 4x1, cv2.merge then wrote a new
    # array, and the frame came back as np.empty's leftover bytes)
    if not layout or x.shape[-2:] == (1, 1) or math.isnan(frames.max()):
        # another layout; or a NaN, which OpenCV makes 255 and float_to_uint8 0 (numpy's max, which
        # a NaN makes NaN: 0.15 ms a 640x360 frame). NaN is no input (refused), but a broken network's output
        return float_to_uint8(x).numpy()
    # x * 255 in float32, rounded half to even and saturated to 0..255 as it is cast: bit for bit
    # float_to_uint8's clamp, multiply, round and cast (every float32 in [-0.01, 1.01] checked),
    # written straight into the (H, W, 3) layout: float_to_uint8 makes five passes over a frame. A
    # 640x360 frame on one thread: 0.46 against 1.64 ms from ONNX Runtime's NCHW output, 0.40 against
    # 0.85 from channels_last (benchmarks/RESULTS.md, fifty-seventh session)
    out = np.empty((x.shape[0], *x.shape[2:], 3), np.uint8)
    for frame, image in zip(frames, out):
        if planes:
            cv2.merge([cv2.multiply(plane, 255.0, dtype=cv2.CV_8U) for plane in frame], dst=image)
        else:  # (H, W, 3) already: its rows as one plane each (OpenCV's 3-channel scalar path is slower)
            h, w = image.shape[:2]
            cv2.multiply(frame.transpose(1, 2, 0).reshape(h, w * 3), 255.0, dst=image.reshape(h, w * 3),
                         dtype=cv2.CV_8U)
    return out


def host_view(x: torch.Tensor) -> np.ndarray | None:
    """``x``'s values as a numpy array (a view, whatever the strides) where ``x`` is a float32 CPU
    tensor outside autograd, else None. Its elementwise arithmetic then opens no OpenMP region (the
    module's note) and gives torch's values bit for bit: both compute in float32, and numpy reads a
    Python float as a float32, as torch reads a scalar. (Not torch's reductions, whose summation
    order differs, nor its fused multiply-adds, as in ``torch.lerp``.)"""
    if x.device.type == "cpu" and x.dtype == torch.float32 and not x.requires_grad:
        return x.detach().numpy()
    return None


def clamp_levels_(x: torch.Tensor) -> torch.Tensor:
    """``x`` (values in [0, 1] expected) clamped to [0, 1] in place, NaN kept; returns ``x``."""
    values = host_view(x)
    if values is not None:  # (the module's note)
        np.clip(values, 0.0, 1.0, out=values)
        return x
    return x.clamp_(0.0, 1.0)


def float_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> contiguous uint8 (B, H, W, 3) (rounded, clamped), on ``x``'s device."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise BadValueError(f"expected a (B, 3, H, W) tensor, got {tuple(x.shape)}")
    y = x.detach().float().clamp(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)  # clamp copies: x is untouched
    return y.permute(0, 2, 3, 1).contiguous()


def float_to_yuv420(x: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1], H and W even -> uint8 (B, H * 3 / 2, W) yuv420p (the Y plane, then
    Cb and Cr, as :meth:`av.VideoFrame.from_ndarray` takes it), on ``x``'s device: the frames
    rounded to 8-bit RGB as :func:`float_to_uint8` does, then converted with ``matrix`` (3x4, RGB
    in 0-255 to Y, Cb, Cr; :func:`vidstyle.io.display.rgb_to_yuv_matrix`), each chroma sample from
    the mean of its 2x2 pixels. Done where the frames are (a GPU), it spares the encoder's thread
    swscale's conversion and halves the bytes to download."""
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 2 or x.shape[3] % 2:
        raise BadValueError(f"expected a (B, 3, H, W) tensor with even H and W, got {tuple(x.shape)}")
    b, _, h, w = x.shape
    rgb = x.detach().float().clamp(0.0, 1.0).mul_(255.0).round_()
    m = device_constant(np.asarray(matrix, dtype=np.float64), x.device)  # (no host sync on a GPU)
    luma = torch.einsum("c,bchw->bhw", m[0, :3], rgb).add_(m[0, 3])
    chroma = torch.einsum("oc,bchw->bohw", m[1:, :3], F.avg_pool2d(rgb, 2)).add_(m[1:, 3].view(1, 2, 1, 1))
    out = torch.empty((b, h * 3 // 2, w), dtype=torch.uint8, device=x.device)
    flat = out.view(b, -1)
    flat[:, :h * w] = luma.round_().clamp_(0, 255).reshape(b, -1)
    flat[:, h * w:] = chroma.round_().clamp_(0, 255).reshape(b, -1)  # the Cb plane, then the Cr plane
    return out


def pad_to_multiple(x: torch.Tensor, multiple: int, minimum: int = 0) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflection-pad (B, C, H, W) on the bottom/right so H and W are multiples of ``multiple``
    and at least ``minimum``.

    Returns the padded tensor and the original (H, W) for :func:`crop_to`. Reflection (not zeros)
    so the network sees plausible content at the border and no dark seam appears after cropping.
    """
    h, w = x.shape[-2:]
    ph, pw = ((max(n, minimum) + multiple - 1) // multiple * multiple - n for n in (h, w))
    if ph or pw:
        # reflection needs pad < size; tiny inputs fall back to replicate
        mode = "replicate" if ph >= h or pw >= w else "reflect"
        nchw, nhwc = x.is_contiguous(), x.is_contiguous(memory_format=torch.channels_last)
        if x.ndim == 4 and nchw != nhwc and host_view(x) is not None:
            x = _pad_bottom_right_numpy(x, ph, pw, mode, nhwc)
        else:  # (also a layout that is both or neither, whose padded layout torch's own rules pick)
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _pad_bottom_right_numpy(x: torch.Tensor, ph: int, pw: int, mode: str, channels_last: bool) -> torch.Tensor:
    """``F.pad(x, (0, pw, 0, ph), mode)`` of a (B, C, H, W) CPU tensor that is contiguous in
    ``channels_last`` or NCHW layout, by numpy: the same values in the same layout (F.pad keeps
    it), without torch's OpenMP region (see the module's note)."""
    pixels = x.permute(0, 2, 3, 1).numpy() if channels_last else x.numpy()  # (C-contiguous either way)
    widths = ((0, 0), (0, ph), (0, pw), (0, 0)) if channels_last else ((0, 0), (0, 0), (0, ph), (0, pw))
    padded = torch.from_numpy(np.pad(pixels, widths, mode="edge" if mode == "replicate" else "reflect"))
    return padded.permute(0, 3, 1, 2) if channels_last else padded


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size`` = (H, W)."""
    return x[..., : size[0], : size[1]]


def working_size(height: int, width: int, max_side: int | None = None, scale: float | None = None) -> tuple[int, int]:
    """The (H, W) the network runs at for a frame of (height, width) under ``--max-side``/``--scale``."""
    factor = 1.0
    if scale is not None:
        if scale <= 0:
            raise BadValueError("scale must be positive")
        factor = scale
    if max_side is not None and max(height, width) * factor > max_side:
        factor = max_side / max(height, width)
    if factor == 1.0:
        return height, width
    return max(1, round(height * factor)), max(1, round(width * factor))


def same_shape(size: tuple[int, int], other: tuple[int, int], tolerance: float = 0.02) -> bool:
    """Whether frames of ``size`` and ``other`` (each (W, H)) can be one picture at two sizes: their
    aspect ratios agree within ``tolerance``, once the smaller one is allowed the pixel that
    rounding to a whole (or even) size moves each of its sides (an 80x44 downscale of 160x90 is
    2.3% off, yet the same picture)."""
    (w, h), (big_w, big_h) = sorted((size, other), key=lambda s: s[0] * s[1])
    if min(w, h, big_w, big_h) <= 0:
        raise BadValueError(f"sizes must be positive, got {size} and {other}")
    ratio = big_w / big_h
    narrowest, widest = (w - 1) / (h + 1), (w + 1) / max(h - 1, 0.5)
    return narrowest * (1 - tolerance) <= ratio <= widest * (1 + tolerance)


def resize_interpolation(size: tuple[int, int], new_size: tuple[int, int]) -> int:
    """OpenCV's interpolation from (width, height) ``size`` to ``new_size``: area averaging when
    no side grows (no aliasing), bilinear when one does (area resizing repeats pixels there)."""
    import cv2

    return cv2.INTER_AREA if new_size[0] <= size[0] and new_size[1] <= size[1] else cv2.INTER_LINEAR


def resize_frame(image: np.ndarray, width_height: tuple[int, int] | None) -> np.ndarray:
    """``image`` at (width, height), the order capture sizes are given in (``--size 640x480``;
    area-averaged when shrunk); itself when ``width_height`` is None or already its size. Most other
    sizes here are (H, W), as in array shapes."""
    import cv2

    if width_height is None or (image.shape[1], image.shape[0]) == tuple(width_height):
        return image
    return cv2.resize(image, tuple(width_height),
                      interpolation=resize_interpolation((image.shape[1], image.shape[0]), width_height))


def resize_rgba(rgba: np.ndarray, width_height: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 4) straight-alpha ``rgba`` at (width, height), averaged with its colours
    weighted by their opacity (premultiplied), as compositing needs: averaged channel by channel,
    the colour stored under fully transparent pixels (black, or anything) would bleed into the
    new semi-transparent edge pixels as a fringe."""
    import cv2

    if (rgba.shape[1], rgba.shape[0]) == tuple(width_height):
        return rgba
    interpolation = resize_interpolation((rgba.shape[1], rgba.shape[0]), width_height)
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    colour = cv2.resize(rgba[..., :3].astype(np.float32) * alpha, tuple(width_height), interpolation=interpolation)
    alpha = cv2.resize(alpha, tuple(width_height), interpolation=interpolation)[..., None]
    colour = np.where(alpha > 0, colour / np.maximum(alpha, 1e-6), 0.0)
    return np.dstack([colour, alpha * 255.0]).round().clip(0, 255).astype(np.uint8)


#: the longer side of the grid :func:`fill_transparent` fills on: its colours are a smooth
#: continuation, so a coarse grid loses nothing, and the fill costs little beside the network
FILL_GRID_SIDE = 256


def fill_transparent(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) ``rgb`` with the colours under its fully transparent pixels (``alpha`` 0,
    uint8 (H, W)) replaced by a smooth continuation of the visible picture (push-pull: the
    alpha-weighted colours averaged down a pyramid and filled back up). Every other pixel keeps
    its colour: with straight (unpremultiplied) alpha, as PNG, ProRes and WebM store it, a
    semi-transparent shadow's black is its colour. ``rgb`` itself when nothing is transparent.

    Why: a render stores black (or anything) under its transparency, and the network paints the
    edge where the picture meets it like any edge: starry_night rings a cut-out object with yellow
    strokes, the_scream with orange. With the surroundings continued, the object's outline
    disappears from what the network sees, and its instance norms see the picture's own colours."""
    import cv2

    if rgb.shape[:2] != alpha.shape:
        raise BadValueError(f"alpha {alpha.shape} does not match the image {rgb.shape}")
    if alpha.min() > 0:
        return rgb
    h, w = alpha.shape
    alpha3 = cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)
    step = max(1, -(-max(h, w) // FILL_GRID_SIDE))  # a whole factor: INTER_AREA's fast path
    grid = (max(1, w // step), max(1, h // step))
    colour = cv2.resize(cv2.multiply(rgb, alpha3, scale=1 / 255), grid, interpolation=cv2.INTER_AREA)
    weight = cv2.resize(alpha, grid, interpolation=cv2.INTER_AREA)
    levels = [(colour.astype(np.float32), weight.astype(np.float32) * (1 / 255))]
    while max(levels[-1][1].shape) > 1:  # push: premultiplied colour and coverage, halved
        c, a = levels[-1]
        half = ((a.shape[1] + 1) // 2, (a.shape[0] + 1) // 2)
        levels.append((cv2.resize(c, half, interpolation=cv2.INTER_AREA),
                       cv2.resize(a, half, interpolation=cv2.INTER_AREA)))
    c, a = levels[-1]
    filled = c / max(float(a.max()), 1e-6)  # one pixel: the picture's mean colour
    for c, a in reversed(levels[:-1]):  # pull: each level over the coarser one's fill
        filled = c + (1 - a[..., None]) * cv2.resize(filled, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    under = cv2.resize(np.clip(filled + 0.5, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    np.copyto(out, under, where=(alpha == 0)[..., None])
    return out
