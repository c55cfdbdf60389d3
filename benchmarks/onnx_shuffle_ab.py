"""ONNX Runtime time of the exported networks with their space-to-depth / depth-to-space steps as
one-hot (transposed) convolutions, as `vidstyle export` and `--backend onnx` write them since the
thirty-fifth session, against the same graphs with ONNX's own DepthToSpace and pixel_unshuffle's
Reshape-Transpose-Reshape (benchmarks/RESULTS.md).

    python benchmarks/onnx_shuffle_ab.py --styles light_starry_night starry_night \
        --out benchmarks/results/onnx_shuffle_ab_cpu_d.json

Both graphs of a style are timed in turn, round after round, in one process with the same input
(a fixed random 640x360 frame by default), one ONNX Runtime session each with vidstyle's session
options; each round times --calls calls. Also records the largest difference between the two
graphs' outputs (both compute the same numbers) and each graph's operator counts.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextlib.contextmanager
def plain_shuffles():
    """Export pixel_(un)shuffle as ONNX's own operators, as before the one-hot convolutions."""
    import torch.nn.functional as F

    from vidstyle.models import transformer

    saved = transformer.space_to_depth, transformer.depth_to_space
    transformer.space_to_depth = lambda x, r, channels: F.pixel_unshuffle(x, r)
    transformer.depth_to_space = lambda y, r, channels: F.pixel_shuffle(y, r)
    try:
        yield
    finally:
        transformer.space_to_depth, transformer.depth_to_space = saved


def operator_ms(graph: bytes, x, calls: int) -> dict[str, float]:
    """Milliseconds per call spent in each operator type, from ONNX Runtime's profiler (after one
    untimed call), slowest first."""
    from vidstyle.export import load_onnxruntime, session_options

    ort = load_onnxruntime()  # as vidstyle runs it: telemetry off
    options = session_options()
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        session.run(None, {"input": x})
        for _ in range(calls):
            session.run(None, {"input": x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    start = runs[1]["ts"] if len(runs) > 1 else 0  # from the second call: the first one warms up
    total = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            total[e["args"]["op_name"]] += e["dur"]
    return {op: round(us / 1000 / calls, 3) for op, us in total.most_common()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles", nargs="+", default=["light_starry_night", "starry_night"])
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--calls", type=int, default=0, help="calls per round (default: about 0.3 s of calls)")
    ap.add_argument("--profile", type=int, default=0, metavar="CALLS",
                    help="also run each graph CALLS times under ONNX Runtime's profiler and record the "
                         "time per call of each operator type")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    import numpy as np
    import onnx
    import torch

    from vidstyle.bench.report import script_record, write_json
    from vidstyle.export import export_onnx_bytes, load_onnxruntime, session_options
    from vidstyle.stylizer import Stylizer

    ort = load_onnxruntime()  # as vidstyle runs it: telemetry off

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results = []
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).numpy()
    for style in args.styles:
        model = Stylizer(style, device="cpu", precision="fp32", backend="torch").model
        if height % model.size_multiple or width % model.size_multiple:  # the graphs take padded frames
            ap.error(f"--size must be a multiple of {model.size_multiple} each way for {style}")
        graphs = {"one-hot convolutions": export_onnx_bytes(model)}
        with plain_shuffles():
            graphs["DepthToSpace and transposes"] = export_onnx_bytes(model)
        sessions = {k: ort.InferenceSession(g, session_options(), providers=["CPUExecutionProvider"])
                    for k, g in graphs.items()}
        outputs = {k: s.run(None, {"input": x})[0] for k, s in sessions.items()}
        first = time.perf_counter()
        next(iter(sessions.values())).run(None, {"input": x})
        calls = args.calls or max(1, round(0.3 / (time.perf_counter() - first)))
        ms = {k: [] for k in sessions}
        for _ in range(args.rounds):
            for k, s in sessions.items():
                t = time.perf_counter()
                for _ in range(calls):
                    s.run(None, {"input": x})
                ms[k].append(1000 * (time.perf_counter() - t) / calls)
        profiles = {k: operator_ms(g, x, args.profile) for k, g in graphs.items()} if args.profile else {}
        a, b = outputs.values()
        entry = {"style": style, "calls_per_round": calls, "max_abs_diff": float(np.abs(a - b).max()),
                 "graphs": {k: {"ms_per_frame": ms[k], "median_ms": statistics.median(ms[k]),
                                "ops": dict(collections.Counter(n.op_type for n in onnx.load_from_string(g).graph.node)),
                                **({"profile_ms_per_call": profiles[k]} if profiles else {})}
                            for k, g in graphs.items()}}
        results.append(entry)
        print(f"{style} {args.size}: " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in entry["graphs"].items())
              + f" (median of {args.rounds} rounds); outputs differ by at most {entry['max_abs_diff']:.2g}",
              file=sys.stderr, flush=True)
    write_json(args.out, script_record(started=started, size=args.size, rounds=args.rounds, results=results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
