"""Network-only variants of one architecture on CUDA: autocast against fp16 weights, channels_last,
cudnn.benchmark, batch 1/8/16, CUDA graphs, torch.compile modes, and a CUDA profile of the eager path.

Complements `benchmarks/run_gpu.py` (vidstyle's own paths) with the variants vidstyle does not
take, to see which would pay. Random weights of the architecture, folded for inference as the
bundled networks are (timing does not depend on the values); CUDA events, the median of 5
repeats of 10 calls after 3 warm-up calls; one JSON line per variant on stdout. On a machine
without CUDA it runs at 96x64 on the CPU as a smoke check (its times mean nothing).

    python benchmarks/gpu_variants.py --arch standard --mode eager
    python benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs
    python benchmarks/gpu_variants.py --arch standard --mode default --batches 16
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.models.transformer import ARCH_NAMES, BUILDERS, fold_for_inference  # noqa: E402


def timed(fn, batch: int, device: torch.device, calls: int = 10, warm: int = 3) -> tuple[float, float, float]:
    """(median, min, max) milliseconds per frame of ``fn`` running ``batch`` frames."""
    for _ in range(warm):
        fn()
    if device.type != "cuda":
        t = time.perf_counter()
        fn()
        return ((time.perf_counter() - t) * 1e3 / batch,) * 3
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = []
    for _ in range(5):
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        reps.append(start.elapsed_time(end) / calls / batch)
    reps.sort()
    return reps[len(reps) // 2], reps[0], reps[-1]


def variant(base, arch: str, device: torch.device, size: tuple[int, int], name: str, batch: int,
            channels_last: bool = True, half: bool = False, cudnn_benchmark: bool = True, graphs: bool = False,
            compile_mode: str | None = None):
    """Time one variant, print its JSON line, and return the callable that was timed."""
    torch.backends.cudnn.benchmark = cudnn_benchmark
    height, width = size
    model = copy.deepcopy(base).to(device)
    x = torch.rand(batch, 3, height, width, device=device)
    if half:  # fp16 weights and input, no autocast
        model, x = model.half(), x.half()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    forward = model
    t0 = time.perf_counter()
    if compile_mode:
        forward = torch.compile(model, mode=None if compile_mode == "default" else compile_mode, dynamic=False)

    def run():
        with torch.inference_mode(), torch.autocast(device.type, torch.float16,
                                                    enabled=not half and device.type == "cuda"):
            return forward(x)
    if compile_mode:
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
    compile_s = time.perf_counter() - t0
    fn = run
    if graphs:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as graph capture requires
            for _ in range(3):
                run()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            run()
        fn = graph.replay
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    med, lo, hi = timed(fn, batch, device)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0
    print(json.dumps(dict(arch=arch, name=name, batch=batch, channels_last=channels_last, half_weights=half,
                          cudnn_benchmark=cudnn_benchmark, graphs=graphs, compile=compile_mode,
                          ms_per_frame=round(med, 3), min=round(lo, 3), max=round(hi, 3), fps=round(1e3 / med, 1),
                          compile_s=round(compile_s, 1), peak_mb=round(peak))), flush=True)
    return fn


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="standard", choices=sorted(ARCH_NAMES))
    p.add_argument("--mode", default="eager",
                   help="eager (the eager grid and a profile), or a torch.compile mode: default, "
                        "max-autotune-no-cudagraphs, ... (fp16 weights, at each of --batches)")
    p.add_argument("--batches", type=int, nargs="+", default=[8, 1], help="batch sizes of a compile mode (default 8 1)")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size = (1080, 1920) if device.type == "cuda" else (64, 96)
    base = fold_for_inference(BUILDERS[ARCH_NAMES[args.arch]]().eval())
    for param in base.parameters():
        param.requires_grad_(False)
    cuda = device.type == "cuda"

    def run(name, batch, **kw):
        return variant(base, args.arch, device, size, name, batch, **kw)
    if args.mode != "eager":
        for batch in args.batches:
            run("half compiled " + args.mode, batch, half=True, compile_mode=args.mode)
        return 0
    run("autocast", 1, cudnn_benchmark=False)
    run("autocast", 8, cudnn_benchmark=False)
    run("autocast nchw", 8, channels_last=False, cudnn_benchmark=False)
    run("autocast", 1)
    run("autocast", 8)
    run("half", 1, half=True)
    profiled = run("half", 8, half=True)
    run("half nchw", 8, channels_last=False, half=True)
    run("half", 16, half=True)
    run("half graphs", 1, half=True, graphs=cuda)
    run("half graphs", 8, half=True, graphs=cuda)
    if cuda:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                profiled()
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
