"""Network-only throughput: one :class:`NetworkCase` = one architecture at one size, device,
precision, batch, memory format and backend, timed after warm-up over repeated runs.

On CUDA the runs are timed with CUDA events (GPU time between two points of the stream); on the
CPU and MPS with a wall clock after synchronising. Each repeat runs enough calls to last about
``target_repeat_s`` so that per-call overheads and timer resolution do not dominate fast cases.
"""
from __future__ import annotations

import copy
import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

import torch

from vidstyle.bench.stats import peak_rss_mb, reset_peak_rss, rss_scope, throughput
from vidstyle.config import RESOLUTIONS  # the named resolutions (beside BenchSettings)
from vidstyle.device import resolve_device, synchronize
from vidstyle.errors import VidstyleError, first_line
from vidstyle.models.archs import ARCH_NAMES
from vidstyle.models.transformer import BUILDERS, TransformerNet, count_parameters

if TYPE_CHECKING:  # resolving a style spec is imported where it is done
    from vidstyle.models.zoo import StyleChoice

#: Built-in architecture names the benchmark understands (random weights: speed does not depend
#: on the weights' values).
ARCHS = {name: ARCH_NAMES[name] for name in ("standard", "light", "light-s4", "light-aa")}
#: the real-time CPU architectures, compared with Magenta's network
LIGHT_ARCHS = tuple(name for name in ARCHS if name.startswith("light"))


def parse_resolution(text: str) -> tuple[str, int, int]:
    """``360p`` or ``WIDTHxHEIGHT`` -> (label, height, width)."""
    from vidstyle.config import parse_size
    from vidstyle.stylizer import MAX_NETWORK_SIDE

    text = text.strip().lower()
    if text in RESOLUTIONS:
        return (text, *RESOLUTIONS[text])
    if not re.fullmatch(r"\d+x\d+", text):
        raise VidstyleError(f"bad resolution {text!r} (use {', '.join(RESOLUTIONS)} or WIDTHxHEIGHT, e.g. 640x360)")
    width, height = parse_size(text, at_least=8, at_most=MAX_NETWORK_SIDE, what="resolution")
    return text, height, width


def load_network(spec: str) -> tuple[TransformerNet, str, StyleChoice | None]:
    """A key of :data:`ARCHS` (fresh weights) or a style spec (trained weights) -> (network, label,
    the resolved style: None for fresh weights)."""
    if spec in ARCHS:
        return BUILDERS[ARCHS[spec]](), spec, None
    from vidstyle.models.weights import load_model
    from vidstyle.models.zoo import resolve_style

    choice = resolve_style(spec)
    model, _ = load_model(choice.path, "cpu")
    model.set_style(choice.mix)
    return model, choice.short_label, choice


def arch_of(model: TransformerNet) -> str:
    """The :data:`ARCHS` key of ``model``'s architecture (any number of styles), else ``custom``
    (the measurement-only architectures count as custom here)."""
    from vidstyle.models.weights import arch_name

    name = arch_name(model.arch_args)
    return name if name in ARCHS else "custom"


@dataclass(frozen=True)
class NetworkCase:
    """One network-only measurement; ``model`` is ``standard``, ``light`` or a style spec."""

    model: str
    resolution: str
    height: int
    width: int
    device: str = "cpu"
    precision: str = "fp32"
    batch: int = 1
    channels_last: bool = True
    backend: str = "torch"  # torch | compile | onnx
    cuda_graphs: bool = False

    def skip_reason(self) -> str | None:
        """Why this combination cannot run (None when it can)."""
        dev = self.device.split(":")[0]
        if self.precision == "fp16" and dev == "cpu":
            return "fp16 runs on CUDA/MPS only"
        if self.precision == "int8" and (dev != "cpu" or self.backend != "compile"):
            return "int8 runs on the CPU with the compile backend only"
        if self.backend == "onnx" and (dev != "cpu" or self.precision != "fp32"):
            return "the onnx backend is CPU fp32 only"
        if self.backend == "onnx" and self.channels_last:
            return "the onnx backend takes NCHW input (channels_last does not apply)"
        if self.cuda_graphs and dev != "cuda":
            return "CUDA graphs need a CUDA device"
        if self.cuda_graphs and self.backend != "torch":
            return "CUDA graphs are captured from the eager (torch) backend"
        return None


def _cuda_graph(fn: Callable[[], torch.Tensor], device: torch.device) -> Callable[[], torch.Tensor]:
    """Capture ``fn`` (fixed input tensor, fixed shapes) once and return a replay function.

    Removes per-kernel launch overhead, which matters for small frames and fast GPUs.
    """
    with torch.cuda.device(device):  # graph and streams on the case's GPU, not the current one (cuda:0)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream, as graph capture requires
                fn()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = fn()

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return replay


def build_runner(case: NetworkCase, model: TransformerNet) -> Callable[[], torch.Tensor]:
    """A zero-argument function that runs the network once on a fixed random (B, 3, H, W) batch.

    Goes through :meth:`Stylizer.stylize_tensor` (pad, memory format, autocast, backend, crop),
    the same call the file pipeline makes, with the input already on the device.
    """
    from vidstyle.stylizer import Stylizer

    device = resolve_device(case.device)
    if case.backend == "compile":
        # each compiled case from scratch: dynamo keeps the graphs of every network compiled in
        # the process under TransformerNet.forward, and past its limit (64 here, see
        # vidstyle.stylizer._allow_a_graph_per_shape) it runs new shapes eagerly, under a row
        # that says compile (review, 43rd session)
        import torch._dynamo as dynamo  # (a plain `import torch._dynamo` would make torch local here)

        dynamo.reset()
    net = copy.deepcopy(model).eval()
    for p in net.parameters():  # inference only; also keeps autocast from caching weight casts
        p.requires_grad_(False)
    stylizer = Stylizer.from_model(net, device=device, precision=case.precision,
                                   channels_last=case.channels_last, backend=case.backend)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(case.batch, 3, case.height, case.width, generator=gen).to(device)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    fn = lambda: stylizer.stylize_tensor(x)  # noqa: E731
    if case.cuda_graphs:
        # A graph cannot hold a host read: stylize_tensor reads each frame's contrast to fade flat
        # frames (a sync, then a branch on it), so the graph captures the network's part alone,
        # which is what stylize_tensor runs for this batch of random (high-contrast) frames.
        def network_only() -> torch.Tensor:
            with torch.inference_mode():
                return stylizer._network_output(x)
        fn = _cuda_graph(network_only, device)
    return fn


def build_naive_runner(case: NetworkCase, model: TransformerNet) -> Callable[[], torch.Tensor]:
    """Like :func:`build_runner`, for the naive loop's network-only row: the call the loop itself
    makes (:func:`vidstyle.bench.pipeline.naive_forward`: the network as trained, eager fp32,
    NCHW), not a Stylizer's folded inference network, which runs the same output faster."""
    from vidstyle.bench.pipeline import naive_forward

    if (case.precision, case.backend, case.channels_last, case.cuda_graphs) != ("fp32", "torch", False, False):
        raise ValueError(f"the naive loop runs eager fp32 NCHW, not {case}")
    device = resolve_device(case.device)
    net = copy.deepcopy(model).to(device).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(case.batch, 3, case.height, case.width, generator=gen).to(device)

    @torch.inference_mode()
    def fn() -> torch.Tensor:
        return naive_forward(net, x)
    return fn


def _timed(fn: Callable[[], object], calls: int, device: torch.device) -> float:
    """Seconds for ``calls`` consecutive calls (CUDA events on CUDA, a wall clock elsewhere)."""
    if device.type == "cuda":
        with torch.cuda.device(device):  # events on the case's GPU's stream, not on cuda:0's
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
        return start.elapsed_time(end) / 1e3
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return time.perf_counter() - t0


def time_calls(fn: Callable[[], object], device: torch.device, *, warmup: int = 3, repeats: int = 7,
               target_repeat_s: float = 0.25, max_seconds: float | None = None) -> tuple[list[float], int, int]:
    """Warm up, then return (seconds per call of each repeat, calls per repeat, warm-up calls run).

    ``warmup`` calls run as asked, except that a slow case stops warming after two (each call
    over ``max_seconds / 10``). One untimed call then sizes the repeats (``target_repeat_s``).
    ``max_seconds`` caps the measured time of a slow case: fewer repeats, but never fewer than 3
    (nor more than ``repeats``).
    """
    run = 0
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        run += 1
        if i > 0 and max_seconds is not None and time.perf_counter() - t0 > max_seconds / 10:
            break  # a slow case (1080p on a CPU) is warm after two calls; save the rest for timing
    one = _timed(fn, 1, device)
    calls = max(1, round(target_repeat_s / max(one, 1e-6)))
    if max_seconds is not None:
        # the cap only lowers the count asked for: --repeats 1 times once
        repeats = min(repeats, max(3, int(max_seconds / max(one * calls, 1e-6))))
    return [_timed(fn, calls, device) / calls for _ in range(repeats)], calls, run


def counts_record(warmup: int, repeats: int, warmup_run: int) -> dict:
    """What a row ran against what was asked (the repeats timed are ``ms_per_frame["n"]``)."""
    return {"warmup_asked": warmup, "warmup_run": warmup_run, "repeats_asked": repeats}


def run_network_case(case: NetworkCase, model: TransformerNet, *, warmup: int = 3, repeats: int = 7,
                     target_repeat_s: float = 0.25, max_seconds: float | None = 30.0,
                     build: Callable[[NetworkCase, TransformerNet], Callable[[], torch.Tensor]] | None = None) -> dict:
    """Measure one case; returns a JSON-ready dict (``status`` ``ok``, ``skipped`` or ``error``).
    ``build`` makes the timed call (default :func:`build_runner`; :func:`build_naive_runner` for
    the naive loop's row)."""
    row = {**asdict(case), "arch": arch_of(model), "params": count_parameters(model),
           "size_multiple": model.size_multiple,
           "threads": torch.get_num_threads()}
    reason = case.skip_reason()
    if reason:
        return {**row, "status": "skipped", "reason": reason}
    try:
        device = resolve_device(case.device)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        rss_reset = reset_peak_rss()
        t0 = time.perf_counter()
        fn = (build or build_runner)(case, model)
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        per_call, calls, warmup_run = time_calls(fn, device, warmup=warmup, repeats=repeats,
                                                 target_repeat_s=target_repeat_s, max_seconds=max_seconds)
        # compile time shows up in the first (warm-up) calls; keep it visible, not in the numbers
        row["warmup_and_timing_s"] = round(time.perf_counter() - t0, 2)
        row["setup_s"] = round(setup_s, 2)
        row.update(throughput([s / case.batch for s in per_call]))
        row["calls_per_repeat"] = calls
        row.update(counts_record(warmup, repeats, warmup_run))
        rss = peak_rss_mb()  # None where the system does not say
        row["peak_rss_mb"] = None if rss is None else round(rss, 1)
        row["peak_rss_scope"] = rss_scope(rss_reset)
        if device.type == "cuda":
            row["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        row["status"] = "ok"
    except VidstyleError as exc:
        row.update(status="skipped", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one failing case (OOM at 1080p batch 16, a compiler
        # error) must not lose the rest of a long run; it is recorded in the report
        row.update(status="error", reason=f"{type(exc).__name__}: {first_line(exc, 300, default='no message')}")
    return row
