"""The temporal benchmark's comparisons are what RESULTS.md says they are: each (a)/(b) pair exists
in the repository and was trained with the same recipe except the temporal loss."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from vidstyle.models.weights import read_info

ROOT = Path(__file__).resolve().parents[1]
# options that do not change what is learned (bookkeeping) or that the comparison varies on purpose
BOOKKEEPING = {"out", "style_meta", "preview_every", "checkpoint_every", "checkpoint_dir", "resume", "device",
               "loss_weights"}
VARIED = {"temporal_weight", "temporal_feature_weight", "temporal_videos", "video_fraction", "temporal_noise",
          "temporal_objects", "temporal_perspective"}


# options a comparison may vary besides the temporal loss, with why
VARIED_BY_SET_PREFIX = {"light_mix_": {"init_from"},  # each side starts from its own light_starry_night
                        "starry_night_x3_": {"init_from"}}  # each side continues its own 1200-step network
# for those: the networks (a) may start from, and the bundled file (b) started from
OWN_SIDE_STARTS = {**{f"light_mix_effnet_sw5_ss256_tw{tw}_": ({"light_starry_night_effnet_sw5_ss256_t0"},
                                                              f"light_starry_night_effnet_sw5_ss256_tw{tw}")
                      for tw in (100, 30)},
                   "light_mix_": ({"light_starry_night_t0", "light_starry_night_effnet_sw5_t0"}, "light_starry_night"),
                   "starry_night_x3_": ({"starry_night_effnet_sw5_t0"}, "starry_night")}
VARIED_BY_SET_SUFFIX = {"_sw4": {"style_weight"}}  # the stronger-style-term experiment (note says so)


def _temporal_bench():
    spec = importlib.util.spec_from_file_location("temporal_bench", ROOT / "benchmarks" / "temporal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETS = _temporal_bench().SETS
STYLE_IN_FILE = _temporal_bench().STYLE_IN_FILE


def _train_config(path: Path) -> dict:
    """The recorded training configuration, with ``--precision auto`` spelled as what it meant:
    training resolves auto to fp32 on the CPU, where every light pair was trained."""
    info = read_info(path)
    config = dict(info.train_config)
    if config.get("precision") == "auto" and info.metrics.get("device") == "cpu":
        config["precision"] = "fp32"
    # the development data named relatively (../shared/data/...) or absolutely (/work/shared/data/...)
    # is the same data: compared by its place inside the data folder, wherever the clone lies
    inside = lambda p: "/".join(Path(p).parts[-2:])  # noqa: E731  (data/content, styles/starry_night.jpg)
    config["content"] = inside(config["content"])
    config["styles"] = [inside(p) for p in config["styles"]]
    return config


@pytest.mark.parametrize("name", sorted(SETS))
def test_comparison_pairs_exist_and_differ_only_in_the_temporal_loss(name):
    model_a, model_b, arch, note, painting = SETS[name]
    a, b = _train_config(model_a), _train_config(model_b)
    # (b) has the output-level term, the feature-level one (thirty-ninth session), or both; (a) neither
    # (files written before the feature-level term have no field for it)
    assert a["temporal_weight"] == 0 and a.get("temporal_feature_weight", 0) == 0
    assert b["temporal_weight"] > 0 or b.get("temporal_feature_weight", 0) > 0
    style = STYLE_IN_FILE.get(name)
    index = read_info(model_b).style_names.index(style) if style else 0
    if style:  # a multi-style pair holds the same styles in the same order
        assert read_info(model_a).style_names == read_info(model_b).style_names
    assert Path(a["styles"][index]).name == Path(b["styles"][index]).name == painting
    assert a["arch"] == b["arch"] == arch
    varied = VARIED | next((v for prefix, v in VARIED_BY_SET_PREFIX.items() if name.startswith(prefix)), set())
    varied |= next((v for suffix, v in VARIED_BY_SET_SUFFIX.items() if name.endswith(suffix)), set())
    if "style_weight" in varied:
        assert f"`--style-weight {b['style_weight']:g}`" in note and f"(a) has {a['style_weight']:g}" in note
    differing = {k for k in set(a) | set(b) if a.get(k) != b.get(k)} - BOOKKEEPING - varied
    if "init_from" in varied and a.get("init_from") != b.get("init_from"):
        # each side starts from the network of its own side of the comparison
        a_starts, b_start = next(v for prefix, v in OWN_SIDE_STARTS.items() if name.startswith(prefix))
        assert Path(a["init_from"]).stem in a_starts
        assert Path(a["init_from"]).stem in note
        assert Path(b["init_from"]).name == b_start + ".safetensors"
    if name == "standard":  # documented as confounded: (a) was trained for more steps
        assert "steps" in differing and "steps" in note
    else:
        assert differing == set(), differing
        if b["temporal_weight"]:
            assert f"--temporal-weight {b['temporal_weight']:g}`" in note
        if b.get("temporal_feature_weight"):
            assert f"--temporal-feature-weight {b['temporal_feature_weight']:g}`" in note
        for key in ("temporal_objects", "temporal_perspective"):  # how the pairs were made, when not as before
            if b.get(key):
                assert f"--{key.replace('_', '-')} {b[key]:g}" in note, key


# --- the quality benchmark's comparison at equal content loss ----------------------------------

def _quality_bench():
    spec = importlib.util.spec_from_file_location("quality_bench", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_style_at_content_interpolates_a_power_law_between_bracketing_runs():
    style_at_content = _quality_bench().style_at_content
    # style = 2 * content^-1 holds exactly on log-log lines, so interpolation recovers it
    curve = [(0.64, 2 / 0.64), (0.32, 2 / 0.32), (0.16, 2 / 0.16)]
    assert style_at_content(curve, 0.5) == pytest.approx(4.0)
    assert style_at_content(curve, 0.2) == pytest.approx(10.0)
    assert style_at_content(curve, 0.32) == pytest.approx(6.25)
    # a content loss outside the runs is not extrapolated
    assert style_at_content(curve, 0.7) is None
    assert style_at_content(curve, 0.1) is None
    assert style_at_content(curve[:1], 0.64) == pytest.approx(3.125)
    with pytest.raises(ValueError):
        style_at_content(curve, 0.0)


def test_quality_benchmark_runs_end_to_end_and_writes_the_grid_to_look_at(tmp_path, shared_data):
    import json

    from PIL import Image

    out = tmp_path / "q.json"
    model = ROOT / "vidstyle/models/styles/light_starry_night.safetensors"
    rc = _quality_bench().main(["--model", str(model), "--painting", str(shared_data / "styles/starry_night.jpg"),
                                "--content", str(shared_data / "content"), "--photos", "2", "--size", "32",
                                "--opt-steps", "2", "--eval-nets", "", "--images", str(tmp_path / "grids"),
                                "--image-rows", "2", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    (result,) = json.loads(out.read_text())["results"]
    score = result["scores"]["efficientnet_lite0"]
    assert score["trained_with"] and 0 < score["style_ratio"] < float("inf")
    assert len(score["optimisation_curve"]) == len(result["content_weights"]) >= 2
    assert "light_starry_night" in out.with_suffix(".md").read_text()
    grid = Image.open(tmp_path / "grids" / "light_starry_night_light_starry_night_opt2.png")
    # one row per photo; columns: photo, feed-forward output, one per optimisation
    assert grid.size == ((2 + len(result["content_weights"])) * 32, 2 * 32)
    # the painting at the training size scaled like the photos, unless one size is asked for every model
    cfg = read_info(model).train_config
    assert result["style_size"] == round(cfg["style_size"] * 32 / cfg["image_size"])
    rc = _quality_bench().main(["--model", str(model), "--painting", str(shared_data / "styles/starry_night.jpg"),
                                "--content", str(shared_data / "content"), "--photos", "1", "--size", "32",
                                "--style-size", "48", "--opt-steps", "1", "--eval-nets", "", "--no-match-content",
                                "--device", "cpu", "--out", str(out)])
    assert rc == 0 and json.loads(out.read_text())["results"][0]["style_size"] == 48
    assert "| light_starry_night | 48 |" in out.with_suffix(".md").read_text()
