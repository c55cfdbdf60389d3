"""Run a whole benchmark: network grid, peers, file-to-file pipeline, warping error, ratios."""
from __future__ import annotations

import itertools
import sys
import time

from vidstyle.bench.network import (ARCHS, LIGHT_ARCHS, NetworkCase, build_naive_runner, load_network,
                                    parse_resolution, run_network_case)
from vidstyle.bench.report import fps_text, run_settings
from vidstyle.bench.stats import OtherCpuMeter, load_average
from vidstyle.config import BenchSettings
from vidstyle.errors import VidstyleError, printable

DEFAULT_PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "fp16"), "mps": ("fp32", "fp16")}


def _log(msg: str) -> None:  # (a case's reason echoes names: a style of a model file's header)
    print(f"[bench] {printable(msg)}", file=sys.stderr, flush=True)


def device_name(spec: str) -> str:
    """``spec`` resolved to the device's name as the report writes it: ``cpu`` for any CPU
    (``cpu:0`` too, which got the CPU's slow bf16 rows and no peers), a GPU's as torch names it."""
    from vidstyle.device import resolve_device

    device = resolve_device(spec)
    return "cpu" if device.type == "cpu" else str(device)


def network_grid(s: BenchSettings, skipped: set[str] | None = None) -> list[NetworkCase]:
    """The network-only cases of ``s``; combinations that cannot run are left out, and why is
    added to ``skipped``."""
    cases = []
    for model, res, dev_spec, batch, cl, backend in itertools.product(
            s.models, s.resolutions, s.devices, s.batches, s.channels_last, s.backends):
        label, h, w = parse_resolution(res)
        device = device_name(dev_spec)
        precisions = s.precisions or default_precisions(device)
        for prec in precisions:
            for graphs in ((False, True) if s.cuda_graphs and device.startswith("cuda") and backend == "torch"
                           else (False,)):
                case = NetworkCase(model, label, h, w, device, prec, batch, cl if backend != "onnx" else False,
                                   backend, graphs)
                reason = case.skip_reason()
                if reason is None and case not in cases:
                    cases.append(case)
                elif reason is not None and skipped is not None:
                    skipped.add(reason)
    return cases


#: said in the report when default_precisions leaves bf16 out
SLOW_BF16_NOTE = ("bf16 is left out of the default precisions: this CPU has neither native bf16 nor AVX-512, "
                  "so PyTorch's bf16 convolutions take a slow path here (time it with --precision fp32,bf16)")
#: said in the report when the peer is asked for (not --no-peers) on a run without the CPU
NO_CPU_PEER_NOTE = ("Magenta's network (the peer) was not timed: it runs on the CPU with ONNX Runtime, and "
                    "this run's devices leave the CPU out (--device cpu,cuda times it beside the GPU's rows)")
#: said in the report when bf16 was asked for by name on such a CPU: its rows, several times
#: fp32's time, otherwise read as bf16's cost on any CPU (the console's warning is not in the report)
SLOW_BF16_ROWS_NOTE = ("the CPU's bf16 rows took PyTorch's slow path: this CPU has neither native bf16 nor "
                       "AVX-512 (6-11x fp32's time on an AMD Zen 3); --precision auto runs fp32 here")


def default_precisions(device: str) -> tuple[str, ...]:
    """DEFAULT_PRECISIONS of ``device``'s type, less bf16 on a CPU without fast bf16 convolutions
    (an AVX2-only CPU: 6-11x slower than fp32 there, minutes a row at 1080p)."""
    from vidstyle.device import cpu_has_onednn_bf16

    precisions = DEFAULT_PRECISIONS.get(device.split(":")[0], ("fp32",))
    if device == "cpu" and not cpu_has_onednn_bf16():
        precisions = tuple(p for p in precisions if p != "bf16")
    return precisions


def _auto_precision(device: str) -> str:
    """What ``--precision auto`` gives a Stylizer on ``device`` (bf16 on CPUs with native bf16)."""
    from vidstyle.device import auto_precision_name, resolve_device

    return auto_precision_name(resolve_device(device))


def pipeline_precision(backend: str, device: str) -> str:
    """The precision vidstyle's file-to-file run uses with ``backend`` on ``device``: what
    ``--precision auto`` picks there, except fp32 for onnx (its only precision, as in `vidstyle stylize`)."""
    return "fp32" if backend == "onnx" else _auto_precision(device)


def choose_backend(rows: list[dict], model: str, device: str, precision: str | None = None) -> tuple[str, str]:
    """(backend, why): the fastest backend measured for ``model`` on ``device`` (batch 1, the
    smallest size measured) among rows at ``precision``, by default each backend at the precision
    the file-to-file run gives it (:func:`pipeline_precision`); torch when none was measured."""
    def usable(r: dict) -> bool:
        return r.get("status") == "ok" and r["model"] == model and r["device"] == device and r["batch"] == 1 \
            and not r.get("cuda_graphs") and r.get("kind") != "naive"

    def at(r: dict) -> str:
        return precision or pipeline_precision(r["backend"], device)

    measured = [r for r in rows if usable(r)]
    ok = [r for r in measured if r["precision"] == at(r)]
    # a backend measured only at another precision is no candidate: say so, it may be the fastest
    missing = sorted({r["backend"] for r in measured} - {r["backend"] for r in ok})
    unmatched = "".join(f"; {b} not compared: measured at "
                        f"{', '.join(sorted({r['precision'] for r in measured if r['backend'] == b}))} only, "
                        f"the file-to-file run would use {at({'backend': b})}" for b in missing)
    if not ok:
        wanted = precision or f"{_auto_precision(device)} (fp32 for onnx)"
        return "torch", (f"torch, the default: no network-only row of {model} on {device} at batch 1 and "
                         f"{wanted} was measured{unmatched}")
    smallest = min(r["height"] * r["width"] for r in ok)
    best = min((r for r in ok if r["height"] * r["width"] == smallest), key=lambda r: r["ms_per_frame"]["median"])
    others = ", ".join(f"{r['backend']} {r['precision']} {r['ms_per_frame']['median']:.2f}"
                       for r in ok if r["height"] * r["width"] == smallest and r is not best)
    return best["backend"], (f"the fastest measured at batch 1, {best['resolution']}: {best['backend']} "
                             f"{best['precision']} {best['ms_per_frame']['median']:.2f} ms/frame"
                             + (f" (against {others})" if others else "") + unmatched)


def _check_pipeline(s: BenchSettings, device: str) -> None:
    """Refuse, before anything is measured, file-to-file settings that cannot run on ``device``."""
    if s.clip and s.pipeline_models and not s.pipeline_precisions:
        # the naive loop runs as many frames as the vidstyle runs before it: with none, it had no count
        raise VidstyleError("pipeline_precisions is empty: the file-to-file runs need at least one precision "
                            "(None: the one --precision auto picks)")
    if not s.clip or s.pipeline_backend != "onnx":
        return
    if device.split(":")[0] != "cpu":
        raise VidstyleError(f"--pipeline-backend onnx runs on the CPU only, and the file-to-file runs use {device} "
                            "(the GPU of --device): add --device cpu, or choose --pipeline-backend torch or compile")
    from vidstyle.stylizer import onnx_available

    if not onnx_available():
        raise VidstyleError("--pipeline-backend onnx needs the onnx and onnxruntime packages: "
                            "pip install onnx onnxruntime")


def run_benchmark(s: BenchSettings, command: str = "") -> dict:
    """Measure everything ``s`` asks for; return the JSON-ready report."""
    from vidstyle.bench.report import SCHEMA, machine_info
    from vidstyle.memory import keep_freed_memory

    keep_freed_memory()  # measured as the command line runs (benchmarks/run_cpu.py calls this in-process)
    meter = OtherCpuMeter()
    report = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": command,
              "machine": machine_info(), "load_start": load_average(),
              "settings": {k: v for k, v in vars(s).items() if k != "notes"},
              "network": [], "peers": [], "pipeline": [], "warping": [], "ratios": {}, "notes": list(s.notes)}
    skipped: set[str] = set()
    cases = network_grid(s, skipped)  # first: a bad resolution or device fails before models are built
    # refused when the network cases asked for cannot run, or when nothing at all is asked; a
    # clip-only grid (no models or resolutions: run_cpu.py's file-to-file runs) has none to run
    if not cases and (skipped or not s.clip):
        raise VidstyleError(f"none of the asked-for network cases can run here ({'; '.join(sorted(skipped))})")
    devices = {device_name(d) for d in s.devices}
    _check_pipeline(s, _prefer_gpu(devices))
    if s.models and not s.precisions and "bf16" not in default_precisions("cpu") and "cpu" in devices:
        report["notes"].append(SLOW_BF16_NOTE)
    if any(c.precision == "bf16" and c.device == "cpu" for c in cases) and "bf16" not in default_precisions("cpu"):
        report["notes"].append(SLOW_BF16_ROWS_NOTE)
    for precision in s.precisions or ():  # asked for by name, and not one case of it can run
        if not any(c.precision == precision for c in cases):
            why = sorted(r for r in skipped if r.startswith(precision)) or sorted(skipped)
            report["notes"].append(f"{precision} was not measured: {'; '.join(why)}")
    nets = {m: load_network(m) for m in dict.fromkeys(s.models + s.pipeline_models)}
    for m, (net, label, _) in nets.items():
        _log(f"model {m}: {label}, {sum(p.numel() for p in net.parameters()):,} parameters")

    for i, case in enumerate(cases, 1):
        net, label, _ = nets[case.model]
        row = run_network_case(case, net, warmup=s.warmup, repeats=s.repeats,
                               target_repeat_s=s.target_repeat_s, max_seconds=s.max_seconds)
        row["label"] = label
        report["network"].append(row)
        _log(f"{i}/{len(cases)} {label} {case.device} {case.backend} {case.precision} b{case.batch} "
             f"cl={case.channels_last} graphs={case.cuda_graphs} {case.resolution}: " +
             (f"{row['ms_per_frame']['median']:.2f} ms/frame, {fps_text(row['fps']['median'])} fps"
              if row["status"] == "ok" else f"{row['status']} ({row.get('reason')})"))

    if s.peers and s.resolutions and "cpu" not in devices:
        # said, not left out without a word: a GPU run (--device auto on one) had no peer row
        report["notes"].append(NO_CPU_PEER_NOTE)
    if s.peers and "cpu" in devices:
        from vidstyle.bench.peers import run_magenta_network

        for res in s.resolutions:
            label, h, w = parse_resolution(res)
            row = run_magenta_network(label, h, w, warmup=s.warmup, repeats=s.repeats,
                                      target_repeat_s=s.target_repeat_s, max_seconds=s.max_seconds)
            report["peers"].append(row)
            _log(f"peer magenta {label}: " + (f"{row['ms_per_frame']['median']:.1f} ms/frame"
                                              if row["status"] == "ok" else f"{row['status']} ({row.get('reason')})"))

    if s.clip:
        _run_clip(s, report, nets, _prefer_gpu(devices))
    report["load_end"] = load_average()
    report["other_cpu_share"] = meter.share()
    return finalize(report)


#: A file-to-file run faster than its network alone by more than this cannot be (timing noise
#: aside): the machine's speed changed between the two measurements.
_E2E_OVER_NETWORK = 1.05
#: Inter-quartile range over median above which a network row's repeats disagree too much.
_SPREAD = 0.5


def _reliability(report: dict) -> None:
    """``report["unreliable"]``: why the numbers, the ratios above all, should not be trusted
    (contradicting rows, repeats that disagree, other programs taking the CPU); empty when none.

    Ratios compare rows measured minutes apart: when the machine's speed changes in between
    (another program starts), they can be off by an order of magnitude."""
    why = []
    share = report.get("other_cpu_share")
    if share is not None and share > 0.1 and report["machine"].get("gpu") is None:
        why.append(f"other processes took {share:.0%} of the CPU time during the run")
    for p in report.get("pipeline", []):
        ratio = p.get("ratio_e2e_to_network")
        if ratio is not None and ratio > _E2E_OVER_NETWORK:
            why.append(f"{p['name']} ({p['model']}) ran file to file at {ratio:.2f}x its network-only speed, "
                       "which cannot be: the machine's speed changed between the two runs")
    for r in report.get("network", []) + report.get("peers", []):
        ms = (r.get("ms_per_frame") or {}) if r.get("status") == "ok" else {}
        if ms.get("median") and ms.get("iqr") is not None and ms["iqr"] > _SPREAD * ms["median"]:
            why.append(f"{r.get('label', r['model'])} {r['device']} {r.get('backend', '')} {r['resolution']}: "
                       f"its repeats spread over {ms['q1']:.1f}-{ms['q3']:.1f} ms (inter-quartile), more than "
                       f"half its median {ms['median']:.1f} ms")
    report["unreliable"] = why


_CONTENTION = "other processes were using the CPU"


def _contention_note(report: dict) -> None:
    """One note when other processes took a noticeable share of the CPU (replacing an older one).

    Measured as other processes' CPU time over the run (:class:`OtherCpuMeter`); the load average
    is only the fallback where that is unavailable, as it also counts the benchmark's own threads.
    """
    report["notes"] = [n for n in report["notes"] if not n.startswith(_CONTENTION)]
    if report["machine"]["gpu"] is not None:
        return
    share = report.get("other_cpu_share")
    if share is not None:
        if share > 0.1:
            report["notes"].append(f"{_CONTENTION}: they took {share:.0%} of the CPU time during the run; CPU "
                                   "numbers are lower than on an idle machine, eager PyTorch (OpenMP threads) "
                                   "suffers most")
        return
    loads = [x for x in (report.get("load_start"), report.get("load_end")) if x]
    peak = max((x[0] for x in loads), default=0.0)
    if peak > report["machine"]["cores_usable"]:
        report["notes"].append(f"{_CONTENTION} (1-minute load average up to {peak:.1f} on "
                               f"{report['machine']['cores_usable']} cores, the benchmark's own threads included)")


def _prefer_gpu(devices: set[str]) -> str:
    return next((d for d in sorted(devices) if d != "cpu"), "cpu")


def _run_clip(s: BenchSettings, report: dict, nets: dict, device: str) -> None:
    """File-to-file runs on the clip (vidstyle pipeline, naive loop) and the warping error."""
    from vidstyle.bench.pipeline import run_naive_loop, run_vidstyle_pipeline
    from vidstyle.eval import read_frames
    from vidstyle.pipeline import calibrate_for, default_batch
    from vidstyle.stylizer import Stylizer

    first = next(read_frames(s.clip, 1), None)
    if first is None:
        report["notes"].append(f"clip {s.clip} has no frames: no file-to-file runs")
        return
    h, w = first.shape[:2]
    for m in s.pipeline_models:
        net, label, choice = nets[m]
        for i, wanted in enumerate(s.pipeline_precisions):
            if wanted == "int8":
                backend, why = "compile", "int8 runs compiled"
            elif s.pipeline_backend:
                backend, why = s.pipeline_backend, s.pipeline_backend_reason or "--pipeline-backend"
            else:
                backend, why = choose_backend(report["network"], m, device)
            precision = wanted or pipeline_precision(backend, device)
            if precision != _auto_precision(device) and wanted is None:
                why += f"; {backend} runs in {precision} only, not {_auto_precision(device)} (--precision auto here)"
            # a style's network runs as `vidstyle stylize` runs that style: at its own stabilizer strength
            stylizer = Stylizer.from_model(net, device=device, precision=precision,
                                           channels_last=backend != "onnx", backend=backend,
                                           choice=choice)
            # by default the batch `vidstyle stylize` would use for this network on this device
            batch = s.pipeline_batch or default_batch(stylizer, (h, w))
            # whole batches only, so that no half-empty batch skews the per-frame times; at least one
            frames = max(batch, s.clip_frames // batch * batch)
            suffix = "" if wanted is None else f" {precision}"
            report["notes"].append(f"file-to-file runs of {label}{suffix}: {backend} backend, {precision}, batch "
                                   f"{batch} ({why})")
            # network-only at exactly the clip's size and the pipeline's settings, for the ratio
            case = NetworkCase(m, f"clip {w}x{h}", h, w, device, precision, batch, backend != "onnx", backend)
            _log(f"pipeline {label}: backend {backend}, precision {precision}, batch {batch}")
            net_row = run_network_case(case, net, warmup=s.warmup, repeats=s.repeats,
                                       target_repeat_s=s.target_repeat_s, max_seconds=s.max_seconds)
            net_row["label"] = label
            report["network"].append(net_row)
            t0 = time.perf_counter()
            calibrate_for(stylizer, s.clip)  # int8: as `vidstyle stylize` does (kept for the runs below)
            stylizer.stylize_batch([first] * batch)  # one-time costs (export, compile) outside the run
            warm_s = time.perf_counter() - t0
            for name, temporal, timed_stages in pipeline_runs(device, s.temporal):
                name = name.replace("vidstyle", "vidstyle" + suffix, 1)
                row = run_vidstyle_pipeline(s.clip, stylizer, max_frames=frames, batch=batch, temporal=temporal,
                                            label=name, timed_stages=timed_stages)
                row.update(model=label, precision=precision, warmup_s=round(warm_s, 2),
                           frames_asked=s.clip_frames, backend_choice=why)
                _attach_network(row, net_row)
                report["pipeline"].append(row)
                _log(f"pipeline {name} {label} {backend}: {fps_text(row['fps'], 2)} fps end to end, "
                     f"stages {row['stages_ms_per_frame']}")
            _frames_note(report, s.clip_frames, frames, batch, row["frames"], label + suffix)
            if s.warping_frames:
                _warping(s, report, stylizer, label + suffix, with_peer=m == s.pipeline_models[0] and i == 0)
        row = run_naive_loop(s.clip, net, max_frames=frames, device=device)
        row.update(model=label, precision="fp32", frames_asked=s.clip_frames)
        naive_case = NetworkCase(m, f"clip {w}x{h}", h, w, device, "fp32", 1, False, "torch")
        naive_net = run_network_case(naive_case, net, warmup=s.warmup, repeats=s.repeats,
                                     target_repeat_s=s.target_repeat_s, max_seconds=s.max_seconds,
                                     build=build_naive_runner)  # the loop's own (unfolded) network
        # said as what it runs: the network as trained (unfolded), not vidstyle's folded one, which
        # a row of the same model, backend and precision above times (review, 43rd session)
        naive_net.update(label=f"{label}, naive loop's network", kind="naive")
        report["network"].append(naive_net)
        _attach_network(row, naive_net)
        report["pipeline"].append(row)
        _log(f"naive loop {label}: {fps_text(row['fps'], 2)} fps, stages {row['stages_ms_per_frame']}")


def pipeline_runs(device: str, temporal: bool) -> list[tuple[str, str, bool]]:
    """The file-to-file runs of vidstyle on ``device``: (label, temporal mode, stages timed apart).
    On the CPU timing upload, network and download apart changes nothing (they run in turn
    anyway); on CUDA it would undo their overlap, so the rows run as ``vidstyle stylize`` does
    and one more row gives the split, timed apart."""
    cuda = device.startswith("cuda")
    runs = [("vidstyle", "off", not cuda)] + ([("vidstyle + flow stabilizer", "flow", not cuda)] if temporal else [])
    if cuda:
        runs.append(("vidstyle, stages timed apart", "off", True))
    return runs


def _frames_note(report: dict, asked: int, target: int, batch: int, processed: int, label: str) -> None:
    """Say when the file-to-file runs processed another number of frames than --clip-frames."""
    if processed == asked:
        return
    # what made the target differ from the frames asked for: rounding down to whole batches, or up
    # to one batch; a clip shorter than the target is then processed whole (its last batch partial)
    why = [] if target == asked else [f"rounded {'up to one batch' if target > asked else 'down to whole batches'}"
                                      f" of {batch}"]
    if processed < target:
        why.append(f"the clip has only {processed} frames")
    note = f"--clip-frames {asked}: the file-to-file runs of {label} processed {processed} frames ({'; '.join(why)})"
    report["notes"].append(note)
    _log(note)


def _attach_network(row: dict, net_row: dict) -> None:
    # unrounded, as the rows' own fps: rounded here, bench.md printed one speed two ways (72.65
    # as "72.7" beside the network row's 72.648 as "72.6"), and a slow row's ratios were off by
    # several percent (a naive loop's 0.1386 frames/s stored as 0.14)
    if net_row.get("status") == "ok":
        row["network_only_fps"] = net_row["fps"]["median"]
        row["ratio_e2e_to_network"] = round(row["fps"] / net_row["fps"]["median"], 3)


def _warping(s: BenchSettings, report: dict, stylizer, label: str, with_peer: bool) -> None:
    """Warping error on the first frames of the clip: vidstyle (raw and stabilised) vs Magenta."""
    from vidstyle.config import StylizeConfig
    from vidstyle.eval import read_frames, warping_error
    from vidstyle.pipeline import make_stabilizer

    frames = list(read_frames(s.clip, s.warping_frames))
    trained = label.split()[0] not in ARCHS  # random weights paint nothing worth a warping error
    runs = [(f"vidstyle {label}", lambda: (stylizer.stylize(f) for f in frames))]
    # the stabilizer as `vidstyle stylize` runs it by default: at the style's own strength
    # (not with --no-temporal, which leaves the stabilizer out of the whole run)
    stab = make_stabilizer(StylizeConfig(temporal="flow"), stylizer) if s.temporal else None
    if stab is not None:
        def stabilised():
            for prev, f in zip([None] + frames[:-1], frames):
                yield stab.step(prev, f, stylizer.stylize(f))

        runs.append((f"vidstyle {label} + flow stabilizer {stab.strength:g}", stabilised))
    if s.peers and with_peer:
        from vidstyle.bench.peers import MagentaMultistyle
        from vidstyle.errors import VidstyleError

        try:
            peer = MagentaMultistyle()
            runs.append(("magenta multistyle26 (style 0)", lambda: peer.stylize_iter(frames)))
            if trained:  # a style's flicker depends on its strokes, not only on the network
                report["notes"].append(f"the warping errors compare different styles: Magenta runs its style 0 "
                                       f"(of multistyle26's {peer.num_styles}), vidstyle runs {label}")
        except (VidstyleError, ImportError) as exc:
            report["warping"].append({"name": "magenta multistyle26", "status": "skipped", "reason": str(exc)})
    for name, make in runs:
        res = warping_error(frames, make())
        res.update(name=name, status="ok", clip=s.clip)
        if not trained and name.startswith("vidstyle"):  # the peer is a trained network
            res["note"] = "random-weight network: pass a trained --style for a meaningful comparison"
        report["warping"].append(res)
        _log(f"warping error {name}: {res['warping_error']}")
    if not trained:
        report["notes"].append(f"warping error of vidstyle used the untrained '{label}' network; "
                               "pass a trained style (--pipeline-model STYLE) to compare quality")


def _ratios(report: dict) -> None:
    """The issue's headline ratios, from rows measured in this same run."""
    r = report["ratios"]
    pipe = {(p["name"], p["model"]): p for p in report["pipeline"]}
    for (name, model), p in pipe.items():
        # (not the row that times the stages apart, slowed on purpose by synchronising between them)
        if (name.startswith("vidstyle") and "stabilizer" not in name and "timed apart" not in name
                and ("naive serial loop", model) in pipe):
            naive = pipe[("naive serial loop", model)]
            # each side says how it ran: the ratio is of two settings, not of two programs alone
            r[f"{name} ({run_settings(p)}) end-to-end / naive serial loop ({run_settings(naive)}), {model}"] = round(
                p["fps"] / naive["fps"], 2)
    ok = [n for n in report["network"] if n.get("status") == "ok"]
    for peer in (p for p in report["peers"] if p.get("status") == "ok"):
        mine = [n for n in ok if n.get("arch", n["model"]) in LIGHT_ARCHS and n["device"] == "cpu" and n["batch"] == 1
                and n["resolution"] == peer["resolution"]]
        if mine:
            best = min(mine, key=lambda n: n["ms_per_frame"]["median"])
            name = "" if best["model"] == "light" else f" {best['model']}"  # an untrained light net is just "light"
            r[f"light network{name} ({best['backend']} {best['precision']}) / magenta frames/s at "
              f"{peer['resolution']}"] = \
                round(best["fps"]["median"] / peer["fps"]["median"], 2)
    warp = {w["name"]: w for w in report["warping"] if w.get("status") == "ok"}
    mag = next((w for n, w in warp.items() if n.startswith("magenta")), None)
    if mag and mag.get("warping_error"):
        for n, w in warp.items():
            if n.startswith("vidstyle") and w.get("warping_error") is not None and "note" not in w:
                # (an untrained network's flicker says nothing about vidstyle's: no ratio for it)
                r[f"warping error {n} / magenta"] = round(w["warping_error"] / mag["warping_error"], 3)


def merge_reports(reports: list[dict]) -> dict:
    """One report from several runs on the same machine (e.g. grids with different settings)."""
    merged = reports[0]
    as_list = lambda x: x if isinstance(x, list) else [x]  # noqa: E731 - merged reports hold a list
    merged["settings"] = [st for r in reports for st in as_list(r["settings"])]
    for report in reports[1:]:
        for key in ("network", "peers", "pipeline", "warping"):
            merged[key] += report[key]
        merged["notes"] += [n for n in report["notes"] if n not in merged["notes"]]
        merged["load_end"] = report["load_end"]
        merged["load_start"] = max(merged["load_start"] or [0], report["load_start"] or [0])
        shares = [x for x in (merged.get("other_cpu_share"), report.get("other_cpu_share")) if x is not None]
        merged["other_cpu_share"] = max(shares) if shares else None
    return finalize(merged)


def finalize(report: dict) -> dict:
    """Compute the derived parts of a report (ratios, contention note, reliability) from its rows."""
    _contention_note(report)
    report["ratios"] = {}
    _ratios(report)
    _reliability(report)
    return report
