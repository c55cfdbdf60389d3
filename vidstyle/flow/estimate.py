"""Optical flow estimators behind one small interface.

Convention (the OpenCV one): ``estimator(img0, img1)`` returns ``flow`` (H, W, 2) float32 with
``img0[y, x] ~= img1[y + flow[y, x, 1], x + flow[y, x, 0]]``. So the *backward* flow of frame t,
``flow_{t->t-1}`` ("for each pixel of frame t, where it was in frame t-1"), is
``estimator(frame_t, frame_{t-1})``, and ``warp(frame_{t-1}, flow_{t->t-1}) ~= frame_t``.

Backends register by name in :data:`FLOW_BACKENDS`; :func:`create_flow_estimator` builds one.
No backend downloads anything: RAFT needs a weights file the user supplies.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from vidstyle.config import check_choice, check_number
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError, load_plain_values, torch_load_reason
from vidstyle.flow.warp import flow_numpy_to_torch, flow_torch_to_numpy, resize_flow
from vidstyle.io.files import not_a_file_error
from vidstyle.frames import check_image, resize_frame, resize_interpolation


def _check_pair(img0: np.ndarray, img1: np.ndarray) -> None:
    check_image(img0)
    check_image(img1)
    if img0.shape != img1.shape:
        raise BadValueError(f"images differ in size: {img0.shape} vs {img1.shape}")


class FlowEstimator:
    """Interface: ``__call__(img0, img1) -> flow`` (H, W, 2) float32, see the module docstring.

    Args of ``__call__``: two uint8 RGB images (H, W, 3) of the same size.
    """

    name = "base"
    #: whether one instance may estimate on several threads at once (the stabilizer's flow stage
    #: does); False makes each thread build its own (DIS keeps scratch buffers in its object)
    shareable = False
    #: whether the flow stage may estimate pairs on several threads at once, each with its own
    #: estimator (or the shared one): cheap for DIS; not for a network whose every copy holds a
    #: large working memory
    parallel = True

    def __call__(self, img0: np.ndarray, img1: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def torch(self, img0: np.ndarray, img1: np.ndarray, device=None) -> torch.Tensor:
        """The same flow as a (1, 2, H, W) float32 tensor on ``device``."""
        return flow_numpy_to_torch(self(img0, img1), device)


_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


#: Each side of a frame shorter than this is upsampled to it before DIS runs (the flow is scaled
#: back). DIS asserts a side of at least 12 pixels, and OpenCV 5.1's DIS crashes the process
#: (SIGSEGV) on frames with a side of 16-31 pixels and a long other side (e.g. 320x24) with the
#: ``fast`` and ``ultrafast`` presets; from 32 on every preset ran on every size tried (32 to
#: 4000 pixels a side, tests/test_flow.py).
_DIS_MIN_SIDE = 32


#: Each side of a frame shorter than this is enlarged to it before RAFT runs (the flow is scaled
#: back), as for DIS: its correlation pyramid halves the 1/8-size features three times and needs
#: 16 of them a side. The stabilizer's flow runs at half size, so a video under 256 pixels high
#: (320x240) was refused with the half size's 160x120, not a size of the user's.
_RAFT_MIN_SIDE = 128


def _scaled_size(h: int, w: int, scale: float, min_side: int = _DIS_MIN_SIDE) -> tuple[int, int]:
    return max(min_side, round(h * scale)), max(min_side, round(w * scale))


class DISFlow(FlowEstimator):
    """OpenCV Dense Inverse Search flow on grayscale (Kroeger et al. 2016); needs no weights.

    Args:
        preset: ``medium`` (best), ``fast`` or ``ultrafast``.
        scale: compute at this fraction of the resolution (``< 1`` is faster) and upsample the
            flow back, scaling the vectors.
    """

    name = "dis"

    def __init__(self, preset: str = "medium", scale: float = 1.0):
        check_choice("DIS preset", preset, tuple(_DIS_PRESETS))
        check_number("flow scale", scale, "a number in (0, 1]", lambda v: 0 < v <= 1, optional=False)
        self.preset, self.scale = preset, scale
        # One DIS object per estimator: it keeps scratch buffers, so it is not shared across threads.
        self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[preset])

    def __call__(self, img0: np.ndarray, img1: np.ndarray) -> np.ndarray:
        _check_pair(img0, img1)
        h, w = img0.shape[:2]
        g0 = cv2.cvtColor(img0, cv2.COLOR_RGB2GRAY)
        g1 = cv2.cvtColor(img1, cv2.COLOR_RGB2GRAY)
        sh, sw = _scaled_size(h, w, self.scale)
        if (sh, sw) != (h, w):
            interpolation = resize_interpolation((w, h), (sw, sh))
            g0 = cv2.resize(g0, (sw, sh), interpolation=interpolation)
            g1 = cv2.resize(g1, (sw, sh), interpolation=interpolation)
        flow = self._dis.calc(g0, g1, None)
        return resize_flow(flow, (h, w))

    def __repr__(self) -> str:
        return f"DISFlow(preset={self.preset!r}, scale={self.scale})"


class RAFTFlow(FlowEstimator):
    """torchvision RAFT with a user-supplied state-dict file (never downloaded).

    Args:
        weights: path to a ``torch.save``'d state dict for ``torchvision.models.optical_flow``'s
            ``raft_large`` or ``raft_small`` (e.g. the file torchvision itself caches).
        size: ``large``, ``small`` or ``auto`` (the one whose parameters the file holds).
        device: ``auto|cpu|cuda|...`` or a torch.device; iters: refinement iterations.

    A frame side under :data:`_RAFT_MIN_SIDE` pixels is enlarged to it and the flow scaled back.
    """

    name = "raft"
    # not shareable: torchvision's RAFT keeps each call's correlation pyramid in the module itself;
    # not parallel: that pyramid is gigabytes at 4K, per copy
    parallel = False

    def __init__(self, weights: str | Path, size: str = "auto", device: str | torch.device = "auto", iters: int = 12):
        path = Path(weights)
        if not path.is_file():
            raise not_a_file_error(path, "RAFT weights file")
        from torchvision.models.optical_flow import raft_large, raft_small

        from vidstyle.device import resolve_device

        builders = {"large": raft_large, "small": raft_small}
        if size != "auto" and size not in builders:
            raise BadValueError(f"unknown RAFT size {size!r} (use large, small or auto)")
        self.device, self.iters = resolve_device(device), iters
        try:
            state = load_plain_values(path)
        except Exception as exc:  # not a weights file: the user can fix it
            raise VidstyleError(f"cannot read RAFT weights from {path}: not a PyTorch weights file (a torch.save'd "
                                f"raft_large or raft_small state dict), or damaged ({torch_load_reason(exc, path)})") from exc
        tried = builders if size == "auto" else {size: builders[size]}
        model, errors = None, []
        for name, build in tried.items():
            candidate = build(weights=None, progress=False)
            mismatch = _state_mismatch(candidate.state_dict(), state)
            if mismatch is None:
                try:
                    candidate.load_state_dict(state)
                except Exception as exc:  # (what the check above did not foresee)
                    mismatch = " ".join(line.strip() for line in str(exc).splitlines())[:200]
            if mismatch is not None:  # wrong size or another network's file
                errors.append(f"RAFT-{name}: {mismatch}")
                continue
            model, self.size = candidate, name
            break
        if model is None:
            raise VidstyleError(f"{path} holds no {' or '.join(f'RAFT-{n}' for n in tried)} weights "
                                f"({'; '.join(errors)})")
        self.model = model.to(self.device).eval()

    @torch.inference_mode()
    def __call__(self, img0: np.ndarray, img1: np.ndarray) -> np.ndarray:
        from vidstyle.frames import crop_to, images_to_tensor, pad_to_multiple

        _check_pair(img0, img1)
        h, w = img0.shape[:2]
        sh, sw = _scaled_size(h, w, 1.0, _RAFT_MIN_SIDE)
        img0, img1 = resize_frame(img0, (sw, sh)), resize_frame(img1, (sw, sh))
        x = images_to_tensor(np.stack([img0, img1]), self.device) * 2 - 1  # RAFT expects [-1, 1]
        x, size = pad_to_multiple(x, 8)
        flow = self.model(x[:1], x[1:], num_flow_updates=self.iters)[-1]
        return resize_flow(flow_torch_to_numpy(crop_to(flow, size))[0], (h, w))


def _state_mismatch(expected: dict, state) -> str | None:
    """Why ``state`` (a loaded file) is not the weights of a network whose state dict is
    ``expected``, in a few words; None where its names and shapes fit. torch's own error starts
    "Error(s) in loading state_dict for RAFT:" and lists the names on the lines after it."""
    if not isinstance(state, dict):
        return f"the file holds a {type(state).__name__}, not a state dict"
    missing = [k for k in expected if k not in state]
    foreign = [k for k in state if k not in expected]
    if missing or foreign:
        return (f"{len(missing)} of its {len(expected)} tensors missing"
                + (f" ({missing[0]}, ...)" if missing else "")
                + (f", {len(foreign)} not its own ({foreign[0]}, ...)" if foreign else ""))
    for key, tensor in expected.items():
        shape = tuple(getattr(state[key], "shape", ()))
        if shape != tuple(tensor.shape):
            return f"tensor {key} is {shape}, not {tuple(tensor.shape)}"
    return None


FLOW_BACKENDS: dict[str, Callable[..., FlowEstimator]] = {"dis": DISFlow, "raft": RAFTFlow}


def register_flow_backend(name: str, factory: Callable[..., FlowEstimator]) -> None:
    """Make ``factory(**options)`` available as :func:`create_flow_estimator` ``(name, ...)``."""
    FLOW_BACKENDS[name] = factory


def create_flow_estimator(name: str = "dis", **options) -> FlowEstimator:
    """Build the flow backend ``name`` (``dis`` | ``raft`` | registered) with its options."""
    check_choice("flow backend", name, tuple(FLOW_BACKENDS))
    factory = FLOW_BACKENDS[name]
    try:  # a missing or unknown option said as such (raft needs its weights), not as a TypeError inside
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise BadTypeError(f"flow backend {name!r}: {exc}") from None
    return factory(**options)
