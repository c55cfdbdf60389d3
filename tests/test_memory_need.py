"""What a run needs of memory, checked before any frame against what the machine has, and the
pipeline's queues bounded by bytes. The machine's memory is faked (``vidstyle.memory.memory_now``
monkeypatched), never really used up."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from videos import make_video, read_frames
from vidstyle import memory, pipeline

GIB = 2 ** 30
ARCHS = ("light", "standard")


def fake_memory(monkeypatch, total: int, free: int | None, where: str = "this machine has") -> None:
    monkeypatch.setattr(memory, "memory_now", lambda: (total, where, free))


def need(arch="standard", precision="bf16", pixels=1920 * 1080, batch=1, stabilizer=True, on_host=True,
         network_pixels=None) -> int:
    return memory.run_need(pixels, pixels if network_pixels is None else network_pixels, arch, precision, batch,
                           stabilizer, network_on_host=on_host)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_the_estimate_grows_with_the_frame_and_the_batch(arch, precision):
    sizes = [640 * 360, 1280 * 720, 1920 * 1080, 2560 * 1440, 3840 * 2160]
    needs = [need(arch, precision, p) for p in sizes]
    assert needs == sorted(needs) and len(set(needs)) == len(needs)
    assert needs[0] > memory.RUN_BASE_BYTES  # a frame costs something over the idle process
    # the batch multiplies the network's share, and only it: 4 frames add 3 times one frame's
    one, four = need(arch, precision, batch=1), need(arch, precision, batch=4)
    network = one - need(arch, precision, on_host=False)
    assert network > 0 and four - one == 3 * network
    # the stabilizer adds its share per pixel, whatever the network
    assert need(arch, precision) - need(arch, precision, stabilizer=False) == \
        memory.STABILIZER_BYTES_PER_PIXEL * 1920 * 1080 > 0
    # the network's share follows the size it runs at (--max-side), not the frame's
    assert need(arch, precision, network_pixels=960 * 540) < one


def test_the_standard_network_needs_more_than_the_light_one_and_custom_ones_count_as_it():
    assert need("standard") > need("light")
    assert need("custom") == need("standard") and need("light-full") == need("standard")
    assert need("light-s4") == need("light")
    assert need("standard", "fp32") >= need("standard", "bf16")


def test_a_gpu_run_counts_only_what_the_host_holds():
    assert need("standard", on_host=False) == need("light", on_host=False) < need("light")


def test_memory_now_reads_the_containers_room_too(monkeypatch, tmp_path):
    from vidstyle import device

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n")
    current = tmp_path / "memory.current"
    current.write_text(f"{3 * GIB}\n")
    monkeypatch.setattr(memory, "_MEMINFO", str(meminfo))
    monkeypatch.setattr(memory, "_CGROUP_MEMORY_CURRENT", str(current))
    monkeypatch.setattr(device, "physical_memory", lambda: 16 * GIB)
    monkeypatch.setattr(device, "cgroup_memory_limit", lambda: None)
    assert memory.memory_now() == (16 * GIB, "this machine has", 8000000 * 1024)
    monkeypatch.setattr(device, "cgroup_memory_limit", lambda: 4 * GIB)  # docker --memory 4g, 3 GiB used
    assert memory.memory_now() == (4 * GIB, "this container may use", GIB)


def clip(tmp_path, size=(1280, 720)):
    return make_video(tmp_path / "in.mp4", frames=3, size=size)


def test_a_run_that_cannot_fit_is_refused_before_any_frame_saying_what_would(tmp_path, monkeypatch, cli):
    src = clip(tmp_path)
    before = src.read_bytes()
    from vidstyle.stylizer import Stylizer

    light = Stylizer("light_starry_night", device="cpu", precision="bf16")
    full = pipeline.memory_need(light, (720, 1280), 1, True, 8)[0]
    smaller = pipeline.memory_need(light, (720, 1280), 1, True, 8, downscale=960)[0]
    assert smaller < full
    fake_memory(monkeypatch, total=(smaller + full) // 2, free=GIB)

    def no_frame(*args, **kwargs):
        raise AssertionError("a frame was stylized")
    monkeypatch.setattr(pipeline, "_stylize_stage", no_frame)
    proc = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", "light_starry_night", "--device", "cpu",
               "--precision", "bf16")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    assert line.startswith("vidstyle: error: stylizing at 1280x720 with light_starry_night needs about "), line
    assert "GiB of memory; this machine has" in line and re.search(r" GiB in all \(\d+\.\d GiB free now\): ", line), line
    assert "--downscale 960 writes 960x540" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"] and src.read_bytes() == before


def test_a_machine_too_small_for_any_run_stops_it_with_one_line(tmp_path, monkeypatch, cli):
    from vidstyle import device

    src = clip(tmp_path)
    monkeypatch.setattr(device, "physical_memory", lambda: 256 * 2 ** 20)  # less than torch alone takes
    monkeypatch.setattr(device, "cgroup_memory_limit", lambda: None)
    proc = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", "light_starry_night", "--device", "cpu")
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert re.fullmatch(r"vidstyle: error: stylizing at 1280x720 with light_starry_night needs about \d+\.\d GiB of "
                        r"memory; this machine has 0\.2 GiB in all \(\d+\.\d GiB free now\): no smaller setting "
                        r"fits either", line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_standard_style_that_cannot_fit_is_offered_a_light_one_and_a_smaller_network(tmp_path, monkeypatch,
                                                                                     cli):
    src = clip(tmp_path)
    from vidstyle.stylizer import Stylizer

    standard = Stylizer("starry_night", device="cpu", precision="bf16")
    full = pipeline.memory_need(standard, (720, 1280), 1, True, 8)[0]
    light = pipeline.memory_need(standard, (720, 1280), 1, True, 8, arch="light")[0]
    fake_memory(monkeypatch, total=(light + full) // 2, free=None, where="this container may use")
    proc = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", "starry_night", "--device", "cpu",
               "--precision", "bf16")
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert "with starry_night needs about" in line and "this container may use" in line, line
    assert "--max-side 960 runs the network at 960x540" in line and line.endswith("or a light style"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_run_that_needs_more_than_is_free_now_warns_and_goes_on(tmp_path, monkeypatch, cli):
    src = clip(tmp_path, (96, 64))
    fake_memory(monkeypatch, total=64 * GIB, free=2 ** 20)
    monkeypatch.setattr(memory, "own_resident_bytes", lambda: 2 ** 20)  # (this test process's own is large)
    out = tmp_path / "out.mp4"
    proc = cli("stylize", src, "-o", out, "--style", "light_starry_night", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "free now" in line]
    assert len(warnings) == 1 and "needs about" in warnings[0] and "0.0 GiB is free now (this machine has 64.0 GiB " \
        "in all)" in warnings[0], proc.stderr
    assert len(read_frames(out)) == 3


def test_a_run_that_fits_says_nothing_of_memory(tmp_path, monkeypatch, cli):
    src = clip(tmp_path, (96, 64))
    fake_memory(monkeypatch, total=64 * GIB, free=32 * GIB)
    proc = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", "light_starry_night", "--device", "cpu")
    assert proc.returncode == 0 and "memory" not in proc.stderr, proc.stderr


def test_a_preview_that_cannot_fit_is_refused_before_the_network_runs(tmp_path, monkeypatch, cli):
    from vidstyle.stylizer import Stylizer

    src = clip(tmp_path)
    standard = Stylizer("starry_night", device="cpu", precision="bf16")
    full = pipeline.memory_need(standard, (720, 1280), 1, False, 1, held=6)[0]
    fake_memory(monkeypatch, total=full - 2 ** 20, free=None)
    monkeypatch.setattr(Stylizer, "stylize", lambda *a: pytest.fail("the network ran"))
    proc = cli("preview", src, "-o", tmp_path / "sheet.png", "--style", "starry_night", "--frames", "3",
               "--device", "cpu", "--precision", "bf16", "--bars", "stylize")
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("vidstyle: error: stylizing at 1280x720 with starry_night needs about "), line
    assert "--max-side 960 runs the network at 960x540" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


class CallersOwn:
    """A stylizer object of the caller's (the Python API's): no model info, nothing counted for its
    network, so what a test measures is the rest of the estimate."""


def test_bf16_needs_less_than_fp32_for_either_network():
    # bf16's activations are half fp32's bytes: counted as fp32, a bf16 run was said to need more
    for arch in ARCHS:
        assert need(arch, "bf16") < need(arch, "fp32")
    assert need("light", "int8") == need("light", "fp32")  # (int8 counted as fp32: what ONNX Runtime holds)


def test_a_preview_counts_the_frames_it_holds_not_a_pipeline():
    # preview runs its frames through the network one by one: no decoder, encoder or queues beside
    # it, but the frames it holds (``held``), 3 bytes a pixel each
    pixels = 1280 * 720
    assert (memory.run_need(pixels, pixels, "light", "fp32", 1, False)
            - memory.run_need(pixels, pixels, "light", "fp32", 1, False, pipeline=False)) == \
        memory.PIPELINE_BYTES_PER_PIXEL * pixels
    six, two = (pipeline.memory_need(CallersOwn(), (720, 1280), 1, False, 1, held=held)[0] for held in (6, 2))
    assert six - two == 4 * 3 * pixels
    assert two == memory.RUN_BASE_BYTES + 2 * 3 * pixels


def test_a_runs_need_takes_in_its_queues_by_their_depth_at_the_frames_size():
    # the queues' frames come on top of the stages' (4 bytes a pixel with alpha, which lowers their
    # depth at a large size: 64 MB of 2560x1440 RGBA frames are 4, of RGB ones 6)
    for stabilizer in (False, True):
        for alpha, depth in ((False, 6), (True, 4)):
            pixels = 2560 * 1440
            assert pipeline.queue_depth((4 if alpha else 3) * pixels, 1, 8) == depth
            got = pipeline.memory_need(CallersOwn(), (1440, 2560), 1, stabilizer, 8, alpha=alpha)[0]
            assert got == memory.run_need(pixels, pixels, None, "fp32", 1, stabilizer) + \
                pipeline.queued_bytes(depth, pixels, stabilizer, alpha=alpha), (stabilizer, alpha)


def test_memory_now_without_meminfo_takes_the_containers_room(monkeypatch, tmp_path):
    from vidstyle import device

    current = tmp_path / "memory.current"
    current.write_text(f"{3 * GIB}\n")
    monkeypatch.setattr(memory, "_MEMINFO", str(tmp_path / "no-meminfo"))  # a system without one
    monkeypatch.setattr(memory, "_CGROUP_MEMORY_CURRENT", str(current))
    monkeypatch.setattr(device, "physical_memory", lambda: 16 * GIB)
    monkeypatch.setattr(device, "cgroup_memory_limit", lambda: 4 * GIB)
    assert memory.memory_now() == (4 * GIB, "this container may use", GIB)
    monkeypatch.setattr(device, "cgroup_memory_limit", lambda: None)  # no container, no meminfo: not known
    assert memory.memory_now() == (16 * GIB, "this machine has", None)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc")
def test_own_resident_bytes_is_this_processs_resident_memory():
    # resident, not virtual: torch's process maps gigabytes it never touches
    import torch  # noqa: F401 - (loaded, as in a run)

    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    resident, mapped = (int(status[k].split()[0]) * 1024 for k in ("VmRSS", "VmSize"))
    assert mapped > 2 * resident  # (what tells them apart here)
    assert resident / 2 < memory.own_resident_bytes() < 2 * resident


def test_what_this_process_holds_already_counts_as_free_for_its_run(monkeypatch):
    # torch and the network, loaded, are part of the run's need and held already: only the rest has
    # to be free
    needed = pipeline.memory_need(CallersOwn(), (64, 96), 1, False, 8)[0]
    fake_memory(monkeypatch, total=64 * GIB, free=needed // 2)
    monkeypatch.setattr(memory, "own_resident_bytes", lambda: needed // 2)
    assert pipeline.check_memory(CallersOwn(), (64, 96), 1, False, 8) is False  # exactly enough: no warning
    monkeypatch.setattr(memory, "own_resident_bytes", lambda: needed // 2 - 1)
    assert pipeline.check_memory(CallersOwn(), (64, 96), 1, False, 8, warn=False) is True
    fake_memory(monkeypatch, total=needed, free=None)  # exactly all there is: not refused
    assert pipeline.check_memory(CallersOwn(), (64, 96), 1, False, 8) is False
    fake_memory(monkeypatch, total=needed - 1, free=None)
    with pytest.raises(pipeline.VidstyleError, match="no smaller setting fits either"):
        pipeline.check_memory(CallersOwn(), (64, 96), 1, False, 8)


def test_the_stabilizers_share_is_counted_before_the_first_frame(tmp_path, monkeypatch):
    # the flow stabilizer's frames and flow are part of the run's need: a run that fits only
    # without it is refused, saying so
    from videos import Identity

    src = make_video(tmp_path / "in.mp4", frames=3, size=(96, 64))
    fake_memory(monkeypatch, total=pipeline.memory_need(CallersOwn(), (64, 96), 1, True, 8)[0] - 1, free=None)
    with pytest.raises(pipeline.VidstyleError, match=r"needs about \d+\.\d GiB of memory; .*: --temporal off$"):
        pipeline.stylize_video(src, tmp_path / "out.mp4", style=Identity(), batch=1, progress=False)
    assert not (tmp_path / "out.mp4").exists()
    pipeline.stylize_video(src, tmp_path / "out.mp4", style=Identity(), batch=1, temporal="off", progress=False)
    assert len(read_frames(tmp_path / "out.mp4")) == 3


def test_a_live_session_that_cannot_fit_is_refused_before_its_first_frame(tmp_path, monkeypatch, cli):
    """live had no memory check: a session at a size the machine cannot hold ran until the kernel
    killed it ("Killed"), its recording left under its hidden name. Now it is refused as stylize's
    run is, in one line, before the network's warm-up, the frame-size advice in live's own option."""
    from vidstyle import live
    from vidstyle.stylizer import Stylizer

    src = clip(tmp_path)
    light = Stylizer("light_starry_night", device="cpu", precision="fp32")
    need = live.live_memory_need(light, (720, 1280), stabilizer=True, side_by_side=False)
    smaller = live.live_memory_need(light, (540, 960), stabilizer=True, side_by_side=False)
    assert smaller < need
    fake_memory(monkeypatch, total=(smaller + need) // 2, free=GIB)
    monkeypatch.setattr(Stylizer, "stylize", lambda *a: pytest.fail("the network ran"))
    proc = cli("live", "--source", src, "--no-window", "--style", "light_starry_night", "--device", "cpu",
               "--precision", "fp32", "--temporal", "flow", "--record", tmp_path / "rec.mp4")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    assert line.startswith("vidstyle: error: stylizing at 1280x720 with light_starry_night needs about "), line
    assert "GiB of memory; this machine has" in line and "--size 960x540" in line and "--downscale" not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_live_session_that_fits_says_nothing_of_memory(tmp_path, monkeypatch, cli):
    src = clip(tmp_path, (96, 64))
    fake_memory(monkeypatch, total=64 * GIB, free=32 * GIB)
    proc = cli("live", "--source", src, "--no-window", "--style", "light_starry_night", "--device", "cpu")
    assert proc.returncode == 0 and "memory" not in proc.stderr, proc.stderr


def test_a_live_style_switched_to_that_cannot_fit_is_skipped_as_one_that_fails_to_load(monkeypatch):
    """n to a standard style at a size that holds the light one but not it: said and skipped, the
    session staying on the style shown, as for a style whose file fails to load."""
    from vidstyle import live
    from vidstyle.io.capture import SyntheticSource
    from vidstyle.stylizer import Stylizer

    size = (64, 96)
    light = Stylizer("light_starry_night", device="cpu", precision="fp32")
    standard = Stylizer("starry_night", device="cpu", precision="fp32")
    low, high = (live.live_memory_need(s, size, stabilizer=False, side_by_side=False) for s in (light, standard))
    assert low < high
    fake_memory(monkeypatch, total=(low + high) // 2, free=None)
    source = SyntheticSource(size=(size[1], size[0]), fps=60, frames=4, realtime=False)
    typed = iter([ord("n")])
    lines: list[str] = []
    summary = live.run_live(source, live.StyleBank([light, standard]), live.LiveOptions(window=False),
                            keys=lambda: next(typed, -1), log=lines.append)
    assert summary.processed == 4
    refused = [line for line in lines if line.startswith("cannot show ")]
    assert len(refused) == 1 and "needs about" in refused[0] and "staying with" in refused[0], lines
    assert [line for line in lines if line.startswith("style: ")] == [lines[0]], lines  # the first style's, alone
