"""Benchmark reports: the machine description, JSON, a Markdown summary and PNG plots.

The JSON (``bench.json``) is the record; ``bench.md`` and the PNGs are made from it alone (see
:func:`write_reports`), so they can be regenerated from a saved JSON.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
from pathlib import Path

from vidstyle.io.files import (create_output_folder, folder_beside, folders_missing, move_into_place,
                               remove_empty_folders, write_then_rename)
from vidstyle.signals import stop_signals_held

SCHEMA = "vidstyle-bench/1"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - absent or broken optional package: just not reported
        return None


def machine_info() -> dict:
    """What the numbers were measured on: CPU (and whether it has native bf16, which decides what
    ``--precision auto`` runs there), cores, GPU, library versions."""
    import torch

    from vidstyle import __version__
    from vidstyle.device import auto_precision_name, cpu_bf16_features, usable_cores

    cores = usable_cores()
    bf16 = cpu_bf16_features()
    info = {
        "cpu": _cpu_model(), "cores_usable": cores, "cpu_count": os.cpu_count(),
        "cpu_native_bf16": any(bf16.values()), "cpu_amx": bf16["amx"], "cpu_avx512_bf16": bf16["avx512_bf16"],
        "cpu_auto_precision": auto_precision_name(torch.device("cpu")),
        "platform": platform.platform(), "python": platform.python_version(),
        "vidstyle": __version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "onnxruntime": _version("onnxruntime"), "onnx": _version("onnx"), "av": _version("av"),
        "numpy": _version("numpy"), "opencv": _version("cv2"),
        "gpu": None, "cuda": None, "cudnn": None,
    }
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version(),
                    # torch's default: cuDNN may run fp32 convolutions in TF32, so "fp32" rows may be TF32
                    cudnn_tf32=bool(torch.backends.cudnn.allow_tf32),
                    gpu_memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    return info


def script_record(**fields) -> dict:
    """The header of a benchmark script's JSON record: UTC date, :func:`machine_info`, the exact
    command line; then ``fields``."""
    import datetime
    import sys

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(), "command": "python " + " ".join(sys.argv), **fields}


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` as indented JSON to ``path`` (folders created) and say so on stdout."""
    path = Path(path)
    with write_then_rename(path, make_folder=True) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


# --- Markdown ---------------------------------------------------------------------------------

def _fmt(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def fps_text(x, digits: int = 1) -> str:
    """Frames per second with at least ``digits`` decimals and three significant digits: at one
    decimal a slow row's 0.139 fps read 0.1, beside its 7216.0 ms/frame."""
    if x is None or not math.isfinite(x) or x <= 0:
        return _fmt(x, digits)
    return f"{x:.{max(digits, 2 - math.floor(math.log10(x)))}f}"


def _variant(r: dict) -> str:
    parts = [r["backend"], r["precision"]] + (["as trained (unfolded)"] if r.get("kind") == "naive" else [])
    if r.get("channels_last"):
        parts.append("channels_last")
    if r.get("cuda_graphs"):
        parts.append("cuda_graphs")
    return " ".join(parts)


def _rss(r: dict) -> str:
    scope = r.get("peak_rss_scope", "case")
    return _fmt(r.get("peak_rss_mb"), 0) + ("" if scope == "case" else f" ({scope})")


def _network_table(rows: list[dict]) -> list[str]:
    lines = ["| model | device | variant | batch | resolution | n | ms/frame median | IQR (q1-q3) | min-max | "
             "frames/s median | peak RSS MiB | CUDA max alloc MiB |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("status") != "ok":
            continue
        ms, fps = r["ms_per_frame"], r["fps"]
        lines.append(f"| {r.get('label', r['model'])} | {r['device']} | {_variant(r)} | {r['batch']} | "
                     f"{r['resolution']} ({r['width']}x{r['height']}) | {ms['n']} | {ms['median']:.2f} | "
                     f"{ms['q1']:.2f}-{ms['q3']:.2f} | {ms['min']:.2f}-{ms['max']:.2f} | {fps_text(fps['median'])} | "
                     f"{_rss(r)} | {_fmt(r.get('cuda_max_allocated_mb'), 0)} |")
    return lines


def _counts_lines(rows: list[dict]) -> list[str]:
    """Say which rows ran fewer repeats or warm-up calls than asked (recorded per row in the JSON)."""
    ok = [r for r in rows if r.get("status") == "ok"]
    cut = [r for r in ok if r.get("repeats_asked") is not None and r["ms_per_frame"]["n"] < r["repeats_asked"]]
    cool = [r for r in ok if r.get("warmup_asked") is not None and r["warmup_run"] < r["warmup_asked"]]
    lines = []
    if cut:
        lines.append(f"{len(cut)} of {len(ok)} rows timed fewer repeats (n) than the {cut[0]['repeats_asked']} "
                     "asked: --max-seconds caps a case's timed seconds (never below 3 repeats).")
    if cool:
        lines.append(f"{len(cool)} of {len(ok)} rows stopped warming up after 2 calls of the "
                     f"{cool[0]['warmup_asked']} asked: each took over a tenth of --max-seconds.")
    return lines


def run_settings(r: dict) -> str:
    """How a file-to-file row ran, for its labels and ratios: ``bf16, batch 4, torch`` (vidstyle),
    ``fp32 eager, batch 1`` (the naive loop)."""
    if r.get("kind") == "naive":
        return f"{r.get('precision', 'fp32')} eager, batch {r['batch']}"
    return f"{r.get('precision', '?')}, batch {r['batch']}, {r['backend']}"


def _pipeline_table(rows: list[dict]) -> list[str]:
    stages = []
    for r in rows:
        stages += [s for s in r.get("stages_ms_per_frame", {}) if s not in stages]
    head = "| run | model | device | backend | precision | batch | frames | frames/s end to end | wall ms/frame | " + \
           " | ".join(f"{s} ms/frame" for s in stages) + " | network-only frames/s | end-to-end / network-only |"
    lines = [head, "|" + "---|" * (11 + len(stages))]
    for r in rows:
        st = r.get("stages_ms_per_frame", {})
        lines.append(f"| {r['name']} | {r.get('model', '')} | {r['device']} | {r['backend']} | "
                     f"{r.get('precision', '-')} | {r['batch']} | {r['frames']} | {fps_text(r['fps'], 2)} | "
                     f"{r['wall_ms_per_frame']:.1f} | " +
                     " | ".join(_fmt(st.get(s), 2) for s in stages) +
                     f" | {fps_text(r.get('network_only_fps'))} | {_fmt(r.get('ratio_e2e_to_network'), 2)} |")
    return lines


def _bf16_line(m: dict) -> str:
    """Whether the CPU has native bf16 (AMX or AVX512-BF16): it decides what --precision auto runs."""
    if "cpu_native_bf16" not in m:
        return "CPU native bf16: not recorded"
    units = [name for key, name in (("cpu_amx", "AMX"), ("cpu_avx512_bf16", "AVX512-BF16")) if m.get(key)]
    has = f"yes ({', '.join(units)})" if m["cpu_native_bf16"] else "no"
    return f"CPU native bf16: {has}, so --precision auto runs {m.get('cpu_auto_precision', '?')} on the CPU"


def _share(x) -> str:
    return "not measured" if x is None else f"{x:.0%}"


def to_markdown(report: dict) -> str:
    """A human summary of a benchmark report (machine, tables, ratios, notes)."""
    m = report["machine"]
    out = [f"# vidstyle benchmark ({report.get('created', '')})", "",
           f"Command: `{report.get('command', '')}`", "",
           "## Machine", "",
           f"- CPU: {m['cpu']} ({m['cores_usable']} usable cores, torch threads {m['torch_threads']})",
           f"- {_bf16_line(m)}",
           f"- GPU: {m.get('gpu') or 'none'}" + (f" (CUDA {m['cuda']}, cuDNN {m['cudnn']}"
                                                  + ("; cuDNN may run its fp32 rows' convolutions in TF32, "
                                                     "torch's default" if m.get("cudnn_tf32") else "") + ")"
                                                  if m.get("gpu") else ""),
           f"- {m['platform']}, Python {m['python']}",
           # (an optional package: "onnxruntime None" beside its skipped rows read as a broken install)
           f"- vidstyle {m['vidstyle']}, torch {m['torch']}, onnxruntime {m.get('onnxruntime') or 'not installed'}, "
           f"PyAV {m.get('av')}, numpy {m.get('numpy')}, OpenCV {m.get('opencv')}",
           f"- other processes' share of the CPU time during the run: {_share(report.get('other_cpu_share'))}; "
           f"load average (1/5/15 min, the benchmark's own threads included) at start {report.get('load_start')}, "
           f"at end {report.get('load_end')}", ""]
    if report.get("unreliable"):
        out[2:2] = ["**Not reliable: do not quote these numbers or ratios; rerun on a quiet machine.**", ""] + \
                   [f"- {why}" for why in report["unreliable"]] + [""]
    net = [r for r in report.get("network", []) if r.get("status") == "ok"]
    peers = [r for r in report.get("peers", []) if r.get("status") == "ok"]
    if net or peers:
        out += ["## Network only", "",
                "Median over repeats after warm-up; spread as inter-quartile range and min-max. "
                "CUDA rows are timed with CUDA events.", ""]
        out += _network_table(net + peers) + [""]
        out += ["n: repeats timed. Peak RSS: the process's resident-memory peak while the row ran (reset "
                "before each row where the system allows; memory the process already held included).", ""]
        out += [x for line in _counts_lines(net + peers) for x in (line, "")]
    if report.get("pipeline"):
        out += ["## File to file (per stage)", "",
                "Busy milliseconds per frame of each stage. vidstyle runs decode, network and encode in "
                "parallel threads, so its wall time is usually below the sum (at most the sum plus the hand-offs "
                "between the threads, which no stage counts); the naive loop's is the sum.", ""]
        out += _pipeline_table(report["pipeline"]) + [""]
    if report.get("warping"):
        out += ["## Temporal stability (warping error, lower is steadier)", "",
                "Warping error (Lai et al., ECCV 2018): the mean squared RGB difference, pixel values in [0, 1], "
                "between each stylized frame and the previous one warped onto it by optical flow estimated on "
                "the input (DIS), over the pixels visible in both, averaged over consecutive pairs (scene cuts left "
                "out); no unit. "
                "The input warping error is the same measure on the input frames.", "",
                "| stylizer | frames | warping error | input warping error |", "|---|---:|---:|---:|"]
        for w in report["warping"]:
            if w.get("status", "ok") != "ok":
                out.append(f"| {w['name']} | - | {w.get('reason', '')} | - |")
                continue
            out.append(f"| {w['name']} | {w['frames']} | {_fmt(w.get('warping_error'), 5)} | "
                       f"{_fmt(w.get('input_warping_error'), 5)} |")
        out.append("")
    if report.get("ratios"):
        out += ["## Ratios" + (" (not reliable: see the top)" if report.get("unreliable") else ""), ""]
        out += [f"- {k}: {_fmt(v, 2) if isinstance(v, (int, float)) else v}" for k, v in report["ratios"].items()]
        out.append("")
    skipped = [r for r in report.get("network", []) + report.get("peers", []) if r.get("status") != "ok"]
    notes = list(report.get("notes", []))
    notes += [f"{r['status']}: {r.get('label', r['model'])} {r['device']} {_variant(r)} {r['resolution']}: "
              f"{r.get('reason')}" for r in skipped]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


# --- plots ------------------------------------------------------------------------------------

#: the plots a run writes into --out (and removes there when it writes none of its own)
PLOTS = ("fps_vs_resolution.png", "pipeline_stages.png")


def _subtitle(report: dict) -> str:
    """When and how the plotted numbers were measured, and whether they can be trusted."""
    text = f"{report.get('created', '')}, {report['machine'].get('torch_threads')} torch threads"
    if report.get("unreliable"):
        text += " - NOT RELIABLE (see bench.md)"
    return text


def _save(fig, path: Path) -> None:
    """Save ``fig`` as ``path``, a file in :func:`write_reports`' hidden staging folder: written
    there directly (the folder is the temporary, renamed into place whole), so that a failed write
    (a full disk) is an OSError that :func:`write_reports` says as the report's file, not as
    another hidden temporary file inside the staging folder."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def is_clip_row(row: dict) -> bool:
    """Whether a network-only ``row`` is the clip's own (the network as the file-to-file runs and
    the naive loop call it, labelled "clip WxH"), measured beside the grid for the ratios, not a
    case of the grid."""
    return str(row.get("resolution", "")).startswith("clip")


def _fps_figure(report: dict):
    """The frames/s-against-resolution figure, or None when no row has a plain resolution."""
    import matplotlib.pyplot as plt

    rows = [r for r in report.get("network", []) + report.get("peers", [])
            if r.get("status") == "ok" and not is_clip_row(r)]  # clip rows: ratios only
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    series: dict[str, list[tuple[int, float, str, float, float]]] = {}
    for r in rows:
        key = f"{r.get('label', r['model'])} | {r['device']} | {_variant(r)} | b{r['batch']}"
        fps = r["fps"]
        series.setdefault(key, []).append((r["height"] * r["width"], fps["median"], r["resolution"],
                                           fps.get("q1", fps["median"]), fps.get("q3", fps["median"])))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(12, 5.5))
    ticks = {}
    # a full run has 14 or more series: the default 10-colour cycle gave two series one colour, so
    # each series gets its own colour (tab20), and each model its own marker
    colours = plt.get_cmap("tab20" if len(series) > 10 else "tab10").colors
    models = list(dict.fromkeys(key.split(" | ")[0] for key in sorted(series)))
    values: list[tuple[float, float, tuple]] = []
    for n, (key, pts) in enumerate(sorted(series.items())):
        pts.sort()
        x, med = [p[0] / 1e6 for p in pts], [p[1] for p in pts]
        # the bars span the repeats' quartiles: how far one median can be trusted
        spread = [[max(0.0, m - min(p[3], p[4])) for m, p in zip(med, pts)],
                  [max(0.0, max(p[3], p[4]) - m) for m, p in zip(med, pts)]]
        marker = _MARKERS[models.index(key.split(" | ")[0]) % len(_MARKERS)]
        # past 20 series the colours come round again, with another line style: no two look alike
        line = ax.errorbar(x, med, yerr=spread, marker=marker, capsize=3, label=key,
                           color=colours[n % len(colours)], linestyle=("-", "--", ":")[n // len(colours) % 3])
        # the value itself: a log axis with few labels cannot be read closely
        values += [(xi, m, line[0].get_color()) for xi, m in zip(x, med)]
        ticks.update({p[0] / 1e6: p[2] for p in pts})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_minor_locator(LogLocator(subs=()))
    # 1, 2, 3, 5, 7, 10, 20, 30, ... labelled as plain numbers: with 1-2-5 alone a point between
    # 20 and 50 cannot be read
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("resolution")
    ax.set_ylabel("frames/s (network only; median, bars: quartiles of the repeats)")
    ax.set_title(f"Network throughput - {report['machine']['cpu']}" +
                 (f" / {report['machine']['gpu']}" if report["machine"].get("gpu") else "") +
                 f"\n{_subtitle(report)}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    # beside the axes, not over the lines
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    _annotate_values(fig, ax, values)  # once the axes have their final size: the gaps are in points
    return fig


def _stages_figure(report: dict):
    """The per-stage bars of the file-to-file rows, or None when there are none."""
    import matplotlib.pyplot as plt

    rows = report.get("pipeline", [])
    if not rows:
        return None
    stages: list[str] = []
    for r in rows:
        stages += [s for s in r["stages_ms_per_frame"] if s not in stages]
    fig, ax = plt.subplots(figsize=(9, 2.0 + 0.6 * len(rows)))
    labels = [f"{r['name']} ({r.get('model', '')}; {run_settings(r)})" for r in rows]
    ends = []
    for i, r in enumerate(rows):
        left = 0.0
        for j, s in enumerate(stages):
            v = r["stages_ms_per_frame"].get(s, 0.0)
            ax.barh(i, v, left=left, color=f"C{j}", label=s if i == 0 else None)
            left += v
        ax.plot([r["wall_ms_per_frame"]], [i], marker="|", color="black", markersize=22, mew=2,
                label="wall time" if i == 0 else None)
        ends.append(max(left, r["wall_ms_per_frame"]))
    # each row's numbers in writing: a slow naive loop squashes the fast rows' bars to slivers
    for i, (r, end) in enumerate(zip(rows, ends)):
        text = ax.annotate(f"{r['wall_ms_per_frame']:.1f} ms/frame wall, {fps_text(r['fps'])} fps", (end, i),
                           xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
        # left out of tight_layout: it kept room right of the axes for the text sticking out of
        # them, and _fit_texts then widened the axis to hold it inside, so that room stayed empty
        # (the right fifth of the figure, beside an axis already widened for the text)
        text.set_in_layout(False)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set_xlabel("ms per frame (bars: busy time per stage; black line: wall time)")
    ax.set_title(f"File-to-file stages\n{_subtitle(report)}", fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.35 / max(1, len(rows)) - 0.12))
    ax.invert_yaxis()
    ax.set_xlim(0, max(ends, default=1.0))
    fig.tight_layout()
    _fit_texts(fig, ax, ends)
    return fig


def _annotate_values(fig, ax, values: list[tuple[float, float, tuple]], gap_pt: float = 8.0) -> None:
    """Write each point's value beside it; values at one resolution that would overlap (rows a few
    percent apart) are pushed apart vertically, so that each stays readable."""
    ax.autoscale_view()
    to_pt = 72.0 / fig.dpi
    by_x: dict[float, list[tuple[float, float, tuple]]] = {}
    for v in values:
        by_x.setdefault(v[0], []).append(v)
    for points in by_x.values():
        placed = None  # the last label's height in points, from the bottom of the figure
        for xi, m, colour in sorted(points, key=lambda v: v[1]):
            y = ax.transData.transform((xi, m))[1] * to_pt + 2
            y = y if placed is None else max(y, placed + gap_pt)
            offset = y - ax.transData.transform((xi, m))[1] * to_pt
            ax.annotate(f"{m:.3g}", (xi, m), textcoords="offset points", xytext=(6, offset), fontsize=7,
                        color=colour, va="center")
            placed = y


#: one marker per model in the frames/s plot
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _fit_texts(fig, ax, ends: list[float]) -> None:
    """Widen the x axis of ``ax`` so that each row's text, which starts at ``ends[i]`` (data units)
    and has a fixed width in pixels, ends inside the axes: a fixed margin cut off the longest
    row's text, which belongs to the slowest run, the one a reader looks for."""
    renderer = fig.canvas.get_renderer()
    axes_px = ax.get_window_extent(renderer).width
    limit = max(ends, default=1.0)
    for text, end in zip(ax.texts, ends):
        share = (text.get_window_extent(renderer).width + 12) / axes_px  # 4 pt offset plus a margin
        limit = max(limit, end / max(1.0 - share, 0.2))  # end + share * limit <= limit
    ax.set_xlim(0, limit)


NO_MATPLOTLIB = "matplotlib is not installed: no plots (pip install 'vidstyle[bench]' or 'matplotlib>=3.8')"


def write_reports(report: dict, out_dir: str | Path, plots: bool = True,
                  removed: list[Path] | None = None, overwrite: bool = True) -> list[Path]:
    """Write ``bench.json``, ``bench.md`` and (with matplotlib) the :data:`PLOTS` into ``out_dir``;
    return the paths written.

    All of them or none: they are written into a hidden folder inside ``out_dir`` first and moved
    into place once every one is complete, so a write that fails (a full disk) leaves an earlier
    run's report as it was, not half replaced, and a folder this call made is removed again. A
    plot of :data:`PLOTS` that this call does not write is removed from ``out_dir`` (an earlier
    run's would otherwise sit beside this run's report as if it were this run's); the paths are
    added to ``removed``. No other file there is touched. ``overwrite`` False: where a
    ``bench.json`` appeared in ``out_dir`` since the caller checked it (another run into the same
    folder, finished first), it is left as it is and this run's files go whole into the first free
    numbered folder beside (OUT-2, OUT-3...), which the error names: minutes of measurements, kept."""
    import shutil
    import tempfile

    from vidstyle.errors import VidstyleError

    out = Path(out_dir)
    made = folders_missing(out)
    create_output_folder(out)
    if plots:
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError:  # known before the JSON is written, so that the record says it
            report.setdefault("notes", []).append(NO_MATPLOTLIB)
            logging.getLogger("vidstyle").warning("%s", NO_MATPLOTLIB)  # on the console too, not only in the report
            plots = False
    stage = Path(tempfile.mkdtemp(prefix=".vidstyle-", suffix=".partial", dir=out))
    names, name = [], "bench.json"
    try:
        for name, text in (("bench.json", json.dumps(report, indent=1, sort_keys=False) + "\n"),
                           ("bench.md", to_markdown(report) + "\n")):
            (stage / name).write_text(text, encoding="utf-8")  # Markdown is read as UTF-8, whatever the locale
            names.append(name)
        for name, make in zip(PLOTS, (_fps_figure, _stages_figure)):
            fig = make(report) if plots else None
            if fig is not None:
                _save(fig, stage / name)
                names.append(name)
    except BaseException as exc:  # Ctrl-C while writing or plotting too: no half-written folder left
        shutil.rmtree(stage, ignore_errors=True)
        remove_empty_folders(made)
        if isinstance(exc, OSError):
            raise VidstyleError(f"writing {out / name} failed: {exc.strerror or exc}") from None
        raise
    # the renames are quick, but a Ctrl-C among them would leave this run's files beside the
    # earlier run's: it waits until they are all in place
    with stop_signals_held():
        try:  # bench.json first, claimed in one step where the other run's may appear (see move_into_place)
            move_into_place(stage / "bench.json", out / "bench.json", overwrite)
        except FileExistsError:
            kept = folder_beside(stage, Path(os.path.abspath(out)))  # ("--out .": named by its folder)
            raise VidstyleError(f"{out} got another run's results (bench.json) while this one ran, left as they "
                                f"are; this run's are kept in {kept}") from None
        for name in names[1:]:
            os.replace(stage / name, out / name)
        stage.rmdir()
    for name in PLOTS:
        if name not in names and (out / name).is_file():
            (out / name).unlink()
            if removed is not None:
                removed.append(out / name)
    return [out / name for name in names]
