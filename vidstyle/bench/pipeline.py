"""File-to-file throughput: vidstyle's streaming pipeline (per stage) and the naive serial loop.

Stages reported, in ms per frame of *busy* time (a stage waiting on a queue is not busy):

* ``decode``    demux + decode + conversion to RGB (PyAV / FFmpeg);
* ``upload``    uint8 -> float conversion and the host -> device copy (:func:`images_to_tensor`);
* ``network``   the network itself (:meth:`Stylizer.stylize_tensor`, synchronised);
* ``download``  device -> host copy and float -> uint8 conversion (:func:`tensor_to_images`);
* ``flow`` / ``stabilize``  the temporal stabilizer (only with ``temporal="flow"``);
* ``encode``    conversion to YUV + encoding + muxing;
* ``stylize``   instead of upload / network / download where the stages are not timed apart
  (``timed_stages=False``: on CUDA, where synchronising between them would undo the overlap of
  the copies with the network, and the frames reach the encoder in YUV, converted on the GPU).

In vidstyle's pipeline decode, stylize and encode run in parallel threads, so the wall time per
frame is less than the sum of the stages; in the naive loop it is the sum.
"""
from __future__ import annotations

import copy
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from vidstyle.config import EncodeConfig, StylizeConfig
from vidstyle.device import resolve_device, synchronize
from vidstyle.errors import VidstyleError
from vidstyle.frames import crop_to, images_to_tensor, pad_to_multiple, tensor_to_images
from vidstyle.io.decode import VideoDecoder
from vidstyle.io.codecs import configure_encoder, output_pix_fmt, requested_pix_fmt
from vidstyle.models.transformer import TransformerNet


class InstrumentedStylizer:
    """Wraps a :class:`Stylizer` for :func:`stylize_video`, timing upload / network / download.

    Synchronises the device between the three steps so each one's time is its own (costs a
    little overlap on GPUs; nothing on the CPU).
    """

    def __init__(self, stylizer):
        self.stylizer = stylizer
        self.choice = getattr(stylizer, "choice", None)  # the stabilizer runs at the style's own strength
        self.seconds: dict[str, float] = defaultdict(float)
        self.frames = 0

    def stylize_batch(self, images) -> np.ndarray:
        """Same contract as :meth:`Stylizer.stylize_batch`: uint8 (B, H, W, 3) in and out."""
        device = self.stylizer.device
        t0 = time.perf_counter()
        x = images_to_tensor(images, device, pin_memory=device.type == "cuda")
        synchronize(device)
        t1 = time.perf_counter()
        y = self.stylizer.stylize_tensor(x)
        synchronize(device)
        t2 = time.perf_counter()
        out = tensor_to_images(y)
        t3 = time.perf_counter()
        self.seconds["upload"] += t1 - t0
        self.seconds["network"] += t2 - t1
        self.seconds["download"] += t3 - t2
        self.frames += len(out)
        return out


def _ms_per_frame(seconds: dict[str, float], frames: int) -> dict[str, float]:
    return {k: round(v * 1e3 / frames, 2) for k, v in seconds.items()} if frames else {}


def run_vidstyle_pipeline(clip: str | Path, stylizer, *, max_frames: int | None = None, batch: int = 4,
                          temporal: str = "off", label: str = "vidstyle", timed_stages: bool = True) -> dict:
    """Stylize (the first ``max_frames`` of) ``clip`` with :func:`vidstyle.pipeline.stylize_video`.

    ``stylizer`` is a ready :class:`Stylizer` (its backend, device and precision are used). The
    output goes to a temporary file that is deleted afterwards; audio is left out so the run is
    comparable with the naive loop. ``timed_stages``: time upload, network and download apart
    (:class:`InstrumentedStylizer`); else the stylizer runs as ``vidstyle stylize`` runs it and
    the stylize stage is timed whole.
    """
    from vidstyle.pipeline import stylize_video

    duration = None
    if max_frames:
        # a hair under max_frames / fps so the segment holds exactly max_frames frames
        with VideoDecoder(clip) as decoder:  # the frame rate as vidstyle stylize reads it
            duration = (max_frames - 0.5) / float(decoder.info.frame_rate)
    timed = InstrumentedStylizer(stylizer) if timed_stages else None
    # the whole frame, as the network-only rows and the naive loop see it (bars kept would make the
    # network's stage cheaper than the row it is compared with)
    config = StylizeConfig(batch=batch, temporal=temporal, duration=duration, bars="stylize")
    with tempfile.TemporaryDirectory(prefix="vidstyle-bench-") as tmp:
        result = stylize_video(clip, Path(tmp) / "out.mp4", style=timed or stylizer, config=config,
                               encode=EncodeConfig(audio=False), progress=False)
    stages = {"decode": result.stage_seconds.get("decode", 0.0),
              **(timed.seconds if timed else {"stylize": result.stage_seconds.get("stylize", 0.0)})}
    for k in ("flow", "stabilize", "encode"):
        if k in result.stage_seconds:
            stages[k] = result.stage_seconds[k]
    return {"name": label, "kind": "pipeline", "clip": str(clip), "frames": result.frames,
            "batch": batch, "temporal": temporal, "backend": getattr(stylizer, "backend", "torch"),
            "device": str(stylizer.device), "seconds": round(result.seconds, 3), "fps": result.fps,
            "stages_ms_per_frame": _ms_per_frame(stages, result.frames),
            "wall_ms_per_frame": round(result.seconds * 1e3 / max(result.frames, 1), 2)}


def naive_forward(net: TransformerNet, x: torch.Tensor) -> torch.Tensor:
    """The naive loop's network call: the network as trained (not folded for inference, as
    vidstyle's Stylizer does), eager, in ``x``'s precision and memory format, padded to its size
    multiple and cropped back. One home for the loop and its network-only row
    (:func:`vidstyle.bench.network.build_naive_runner`), so the two time the same thing."""
    x, size = pad_to_multiple(x, net.size_multiple)
    return crop_to(net(x), size).clamp(0.0, 1.0)


@torch.inference_mode()
def run_naive_loop(clip: str | Path, model: TransformerNet, *, max_frames: int | None = None,
                   device: str = "cpu", label: str = "naive serial loop") -> dict:
    """The loop most style-transfer repositories ship: decode one frame, run the network (eager
    fp32, NCHW), encode it, repeat -- no overlap, no batching. Same encoder settings as vidstyle's
    defaults (:class:`EncodeConfig`), audio left out.
    """
    import av

    dev = resolve_device(device)
    net = copy.deepcopy(model).to(dev).eval()
    enc = EncodeConfig()
    seconds: dict[str, float] = defaultdict(float)
    frames = 0
    with tempfile.TemporaryDirectory(prefix="vidstyle-bench-") as tmp, av.open(str(clip)) as src, \
            av.open(str(Path(tmp) / "out.mp4"), "w") as dst:
        vin = src.streams.video[0]
        # one untimed call at the clip's size, as for vidstyle's run: both exclude one-time setup
        x = torch.zeros(1, 3, vin.codec_context.height, vin.codec_context.width, device=dev)
        net(pad_to_multiple(x, net.size_multiple)[0])
        synchronize(dev)
        started = time.perf_counter()
        out = None
        decoded = src.decode(vin)
        while max_frames is None or frames < max_frames:
            t0 = time.perf_counter()
            frame = next(decoded, None)
            if frame is None:
                break
            img = frame.to_ndarray(format="rgb24")
            t1 = time.perf_counter()
            x = images_to_tensor(img[None], dev)
            synchronize(dev)
            t2 = time.perf_counter()
            y = naive_forward(net, x)
            synchronize(dev)
            t3 = time.perf_counter()
            styled = tensor_to_images(y)[0]
            t4 = time.perf_counter()
            if out is None:
                out = dst.add_stream("libx264", rate=vin.average_rate or 25)
                # as vidstyle stylize: 4:4:4 for an odd size, which 4:2:0 H.264 cannot store
                pix_fmt = output_pix_fmt(av.Codec("libx264", "w"), requested_pix_fmt("libx264", enc.pix_fmt, ".mp4"),
                                         img.shape[1], img.shape[0])
                out.width, out.height, out.pix_fmt = img.shape[1], img.shape[0], pix_fmt
                configure_encoder(out, "libx264", enc.crf, enc.preset)  # as vidstyle stylize does
            for packet in out.encode(av.VideoFrame.from_ndarray(styled, format="rgb24")):
                dst.mux(packet)
            t5 = time.perf_counter()
            for k, a, b in (("decode", t0, t1), ("upload", t1, t2), ("network", t2, t3),
                            ("download", t3, t4), ("encode", t4, t5)):
                seconds[k] += b - a
            frames += 1
        if out is not None:
            t0 = time.perf_counter()
            for packet in out.encode():
                dst.mux(packet)
            seconds["encode"] += time.perf_counter() - t0
    total = time.perf_counter() - started
    if not frames:
        raise VidstyleError(f"{clip} has no decodable video frames")
    # fps unrounded (as vidstyle's row): the ratios are taken from it, and a slow loop's 0.1386
    # frames/s stored as 0.14 made them 1% off, more at 1080p
    return {"name": label, "kind": "naive", "clip": str(clip), "frames": frames, "batch": 1, "temporal": "off",
            "backend": "torch", "device": str(dev), "seconds": round(total, 3), "fps": frames / total,
            "stages_ms_per_frame": _ms_per_frame(seconds, frames),
            "wall_ms_per_frame": round(total * 1e3 / frames, 2)}


def write_test_clip(path: str | Path, frames: int = 12, size: tuple[int, int] = (320, 180), fps: int = 12) -> Path:
    """Encode a short moving colour pattern (W, H = ``size``) as H.264, for smoke runs and tests."""
    import av

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for t in range(frames):
            img = np.stack([(xx + 6 * t) % 256, (yy * 2 + 3 * t) % 256,
                            128 + 100 * np.sin((xx + yy + 8 * t) / 17.0)], -1).clip(0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
