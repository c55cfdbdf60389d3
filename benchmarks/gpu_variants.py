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
    python benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs --pad-channels

``--pad-channels`` (prepared in the thirty-second session, not yet run on a GPU): the network's
ends widened with zeros to multiples of 8 channels, the stem convolution's input (3 -> 8; the
light network's 12 -> 16) and the head's output (12 before the depth-to-space -> 16), sliced back, so that cuDNN's tensor-core kernels,
which want channel counts that are multiples of 8 in fp16, can take them (on the H200 the 3-input
9x9 stem took 0.72 of the 1.9 ms a frame the convolutions took, twenty-ninth session). The same
output: a check line gives the largest difference from the network as it is.
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

from vidstyle.models.archs import ARCH_NAMES  # noqa: E402
from vidstyle.models.transformer import BUILDERS, fold_for_inference  # noqa: E402


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


def pad_channels(model: torch.nn.Module, multiple: int = 8) -> torch.nn.Module:
    """``model`` with its first convolution taking its input channels rounded up to a ``multiple``
    (3 -> 8 for the standard network, 12 -> 16 after the light one's space-to-depth), its input
    padded with zero channels before it, and its last convolution giving its output channels
    rounded up (12 -> 16), the extra ones zero and sliced off after it: the same function, wider
    at the ends."""
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    (stem_name, stem), (_, head) = convs[0], convs[-1]
    stem_in = -(-stem.in_channels // multiple) * multiple
    head_out = -(-head.out_channels // multiple) * multiple
    with torch.no_grad():
        w = stem.weight
        stem.weight = torch.nn.Parameter(torch.cat([w, w.new_zeros(w.shape[0], stem_in - w.shape[1], *w.shape[2:])], 1),
                                         requires_grad=False)
        stem.in_channels = stem_in
        keep = head.out_channels
        w, b = head.weight, head.bias
        head.weight = torch.nn.Parameter(torch.cat([w, w.new_zeros(head_out - keep, *w.shape[1:])]), requires_grad=False)
        head.bias = torch.nn.Parameter(torch.cat([b, b.new_zeros(head_out - keep)]), requires_grad=False)
        head.out_channels = head_out
    parent = model.get_submodule(stem_name.rpartition(".")[0]) if "." in stem_name else stem

    def widen(_module, args):
        x = args[0]
        return (torch.cat([x, x.new_zeros(x.shape[0], stem_in - x.shape[1], *x.shape[2:])], 1)
                .contiguous(memory_format=torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                            and not x.is_contiguous() else torch.contiguous_format), *args[1:])
    parent.register_forward_pre_hook(widen)
    head.register_forward_hook(lambda _module, _args, out: out[:, :keep])
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="standard", choices=sorted(ARCH_NAMES))
    p.add_argument("--mode", default="eager",
                   help="eager (the eager grid and a profile), or a torch.compile mode: default, "
                        "max-autotune-no-cudagraphs, ... (fp16 weights, at each of --batches)")
    p.add_argument("--batches", type=int, nargs="+", default=[8, 1], help="batch sizes of a compile mode (default 8 1)")
    p.add_argument("--pad-channels", action="store_true",
                   help="widen the stem's input and the head's output to multiples of 8 channels with zeros (see above)")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size = (1080, 1920) if device.type == "cuda" else (64, 96)
    base = fold_for_inference(BUILDERS[ARCH_NAMES[args.arch]]().eval())
    for param in base.parameters():
        param.requires_grad_(False)
    cuda = device.type == "cuda"
    suffix = ""
    if args.pad_channels:
        padded = pad_channels(copy.deepcopy(base))
        x = torch.rand(2, 3, 64, 96)
        with torch.inference_mode():
            print(json.dumps({"pad_check_max_abs_difference": float((padded(x) - base(x)).abs().max())}), flush=True)
        base, suffix = padded, " padded"

    def run(name, batch, **kw):
        return variant(base, args.arch, device, size, name + suffix, batch, **kw)
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
