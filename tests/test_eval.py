"""The warping-error metric, ground-truth flow files and the `vidstyle eval` command."""
from __future__ import annotations

import importlib.util
import json
import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.errors import VidstyleError
from vidstyle.eval import GroundTruthFlow, evaluate_videos, read_frames, warping_error
from vidstyle.flow import DISFlow, warp_numpy

ROOT = Path(__file__).resolve().parents[1]
SAMPLE, SAMPLE_GT = ROOT / "samples" / "sample.mp4", ROOT / "samples" / "sample_flow.npz"
FRAMES = 10
#: The scene fixture's width (320x180): the sample's shot at half its resolution. What these tests
#: check holds at any size, and decoding, DIS flow and warping cost by the pixel
SCENE_WIDTH = 320


def _make_sample_module():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "samples" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_sample_says_its_mistakes_in_one_line(tmp_path, capsys):
    """--frames 1 failed in NumPy's stack after painting the scene, and an output folder it could
    not make in a traceback."""
    ms = _make_sample_module()
    with pytest.raises(SystemExit) as exit:
        ms.main(["--out", str(tmp_path), "--frames", "1"])
    assert exit.value.code == 2 and "--frames: must be at least 2" in capsys.readouterr().err
    (tmp_path / "taken").write_text("a file, not a folder")
    assert ms.main(["--out", str(tmp_path / "taken" / "out"), "--frames", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"make_sample: error: cannot write to {tmp_path / 'taken' / 'out'}: ")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def _write_like_the_sample(path: Path, frames, fps: int = 24) -> Path:
    """``frames`` in H.264 at crf 14, preset slow, as samples/make_sample.py writes its clips, but
    repeatably (videos.X264_REPEATABLE): at the scene's 320x180 and half that, make_sample's own
    writer gave other frames from one run of a test file to the next (whatever ran before)."""
    from videos import write_frames

    return write_frames(path, frames, fps=fps, options={"crf": "14", "preset": "slow"})


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A short rendered clip: input.mp4, a flickering 'stylized.mp4', their frames and the GT file."""
    ms = _make_sample_module()
    folder = tmp_path_factory.mktemp("eval")
    frames, affine, layers, valid = ms.render(seed=5, frames=FRAMES, length=96, width=SCENE_WIDTH)
    rng = np.random.default_rng(1)
    noise = rng.integers(-20, 21, frames.shape)
    stylized = np.clip(frames[..., ::-1].astype(np.int16) + noise, 0, 255).astype(np.uint8)
    _write_like_the_sample(folder / "input.mp4", frames)
    _write_like_the_sample(folder / "stylized.mp4", stylized)
    ms.save_ground_truth(folder / "gt.npz", affine, layers, valid)
    return folder, frames, stylized


def test_a_stylization_at_another_size_is_noted(scene, tmp_path):
    """Smaller frames score a lower warping error for the same flicker: said in the JSON."""
    from vidstyle.eval import evaluate_videos

    folder, frames, stylized = scene
    half = np.stack([cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in stylized])
    _write_like_the_sample(tmp_path / "half.mp4", half)
    # the input downscaled, as PNG frames: at 160x90 a re-encode's 4:2:0 chroma alone added 3 times
    # the input's floor (measured), which would hide which floor is reported
    (tmp_path / "half_input").mkdir()
    for i, f in enumerate(frames):
        small = cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(tmp_path / "half_input" / f"{i:04d}.png"), small[..., ::-1])
    same = evaluate_videos(folder / "input.mp4", folder / "stylized.mp4", max_frames=4, preset="fast")
    assert same["input_size"] == same["stylized_size"] and same["notes"] == []
    r = evaluate_videos(folder / "input.mp4", tmp_path / "half.mp4", max_frames=4, preset="fast")
    (w, h), (ws, hs) = r["input_size"], r["stylized_size"]
    assert (ws, hs) == (w // 2, h // 2)
    assert r["notes"] == [f"the stylized frames ({ws}x{hs}) are not the input's size ({w}x{h}): the errors (the "
                          "input's own too) are measured at the stylized size, where the same flicker scores "
                          "differently; compare them only with errors measured at that size"]
    # the input downscaled as the "stylized" frames: the input's own floor is now measured at that
    # size too, so it lies near the copy's error; the full-size floor does not
    own = evaluate_videos(folder / "input.mp4", tmp_path / "half_input", max_frames=4, preset="fast")
    assert own["warping_error"] == pytest.approx(own["input_warping_error"], rel=0.25)
    assert abs(own["warping_error"] - own["input_warping_error"]) < \
        abs(own["warping_error"] - same["input_warping_error"]) / 2




def test_identical_videos_match_their_floor(scene):
    _, frames, _ = scene
    r = warping_error(frames, frames, preset="fast")
    assert r["frames"] == FRAMES and r["pairs"] == FRAMES - 1 and r["flow"] == "dis"
    assert r["warping_error"] == pytest.approx(r["input_warping_error"])
    assert 0 < r["input_warping_error"] < 0.002
    assert r["warping_error_long_term"] is None and r["k"] is None
    assert 0.8 < r["valid_fraction"] <= 1


def test_flicker_raises_the_error_and_long_term(scene):
    folder, frames, stylized = scene
    gt = GroundTruthFlow(folder / "gt.npz")
    r = warping_error(frames, stylized, long_term=3, ground_truth=gt)
    assert r["flow"] == "ground_truth" and r["k"] == 3
    assert r["warping_error"] > 10 * r["input_warping_error"]
    # i.i.d. noise of +-20 levels: E[(n1 - n2)^2] = 2 var = 2 * (41^2 - 1) / 12 / 255^2
    assert r["warping_error"] == pytest.approx(2 * (41 ** 2 - 1) / 12 / 255 ** 2, rel=0.25)
    assert r["warping_error_long_term"] > r["input_warping_error_long_term"]
    # DIS on the input sees the same thing as the exact flow
    est = warping_error(frames, stylized, preset="medium")
    assert est["warping_error"] == pytest.approx(r["warping_error"], rel=0.15)


def test_ground_truth_flow_is_exact(scene):
    folder, frames, _ = scene
    gt = GroundTruthFlow(folder / "gt.npz")
    assert gt.frames == FRAMES and gt.size == frames.shape[1:3] == (180, 320)
    for t in (1, FRAMES - 1):
        flow, valid = gt.flow(t), gt.valid(t) > 0
        assert 0.9 < valid.mean() < 1.0  # the balloon and the frame edge hide something
        err = np.abs(warp_numpy(frames[t - 1], flow).astype(float) - frames[t]).mean(-1)
        assert err[valid].mean() < 2.0 and err[~valid].mean() > 10.0  # the mask is where warping fails
    flow3, valid3 = gt.flow_to(FRAMES - 1, 3)  # chained over three steps
    err = np.abs(warp_numpy(frames[FRAMES - 4], flow3).astype(float) - frames[FRAMES - 1]).mean(-1)
    assert err[valid3 > 0].mean() < 2.5
    with pytest.raises(IndexError):
        gt.flow(0)


def test_chained_ground_truth_flow_matches_the_scene_geometry(scene):
    """The long-term error needs the flow t -> t-3 and what stays visible over those three steps:
    chained from the one-step flows, it must agree with the scene's own three-step geometry (the
    camera zooms and rolls, so each step's flow has to be read where the chain has got to, and the
    balloon hides more over three steps than over one)."""
    ms = _make_sample_module()
    _, affine, layers, _ = ms.render(seed=5, frames=FRAMES, length=96, width=SCENE_WIDTH)  # the scene fixture's clip
    folder, _, _ = scene
    gt = GroundTruthFlow(folder / "gt.npz")
    t, k = FRAMES - 1, 3
    flow3, valid3 = gt.flow_to(t, k)
    h, w = gt.size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    exact = np.zeros((h, w, 2))
    for layer in range(affine.shape[1]):  # frame t pixel -> layer coordinates -> frame t-3 pixel
        on = layers[t] == layer
        m = (np.linalg.inv(np.vstack([affine[t - k, layer], [0, 0, 1]])) @ np.vstack([affine[t, layer], [0, 0, 1]]))
        exact[on, 0] = (m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs)[on]
        exact[on, 1] = (m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys)[on]
    seen = valid3 > 0
    off = np.abs(flow3 - exact).max(-1)[seen]
    assert off.max() < 0.01, off.max()  # reads that would mix two layers' motions are not counted
    # visible in frames t-3 and t, straight from the geometry (frames t-3 and t as a pair)
    both = ms.visible_in_both(affine[[t - k, t]], layers[[t - k, t]], 1) > 0
    assert np.all(valid3 <= gt.valid(t))
    assert (seen & ~both).sum() < 0.001 * seen.size  # nothing hidden in between is called visible
    assert valid3.mean() < gt.valid(t).mean() - 0.005


def test_long_term_pairs_frame_t_with_t_minus_k(tmp_path):
    """With a still camera (zero ground-truth flow) and flat stylized frames of known levels, each
    long-term pair's error is the squared level difference of frames t and t-K: the mean over
    every such pair, the first included."""
    levels = [0, 10, 20, 40, 80]
    frames = [np.full((16, 24, 3), 128, np.uint8) for _ in levels]
    stylized = [np.full((16, 24, 3), v, np.uint8) for v in levels]
    n = len(levels)
    np.savez(tmp_path / "still.npz", format="vidstyle-gt-flow-v1", size=[16, 24], frames=n,
             flow=np.zeros((n - 1, 16, 24, 2), np.float16), valid=np.ones((n - 1, 16, 24), np.uint8))
    r = warping_error(frames, stylized, long_term=3, ground_truth=tmp_path / "still.npz")
    assert r["input_warping_error_long_term"] == 0.0
    # pairs (0, 3) and (1, 4)
    assert r["warping_error_long_term"] == pytest.approx(((40 - 0) ** 2 + (80 - 10) ** 2) / 2 / 255 ** 2, rel=1e-5)
    short = np.mean(np.square(np.diff(levels)))
    assert r["warping_error"] == pytest.approx(short / 255 ** 2, rel=1e-5)


def test_dense_ground_truth_format(tmp_path, scene):
    folder, frames, stylized = scene
    layered = GroundTruthFlow(folder / "gt.npz")
    flows = np.stack([layered.flow(t) for t in range(1, FRAMES)]).astype(np.float16)
    valids = np.stack([layered.valid(t) for t in range(1, FRAMES)]).astype(np.uint8)
    np.savez(tmp_path / "dense.npz", format="vidstyle-gt-flow-v1", size=frames.shape[1:3], frames=FRAMES, flow=flows,
             valid=valids)
    dense = GroundTruthFlow(tmp_path / "dense.npz")
    assert np.abs(dense.flow(4) - layered.flow(4)).max() < 0.01  # float16
    a = warping_error(frames, stylized, ground_truth=dense)["warping_error"]
    b = warping_error(frames, stylized, ground_truth=layered)["warping_error"]
    assert a == pytest.approx(b, rel=1e-3)


def test_bad_ground_truth_and_inputs(tmp_path, scene):
    folder, frames, stylized = scene
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(VidstyleError):
        GroundTruthFlow(tmp_path / "other.npz")
    with pytest.raises(VidstyleError):
        GroundTruthFlow(tmp_path / "missing.npz")
    small = [f[:100, :100] for f in frames]
    with pytest.raises(VidstyleError):  # ground truth for another size
        warping_error(small, small, ground_truth=folder / "gt.npz")
    with pytest.raises(VidstyleError):
        warping_error(frames, stylized, long_term=1)
    with pytest.raises(VidstyleError):
        list(read_frames(tmp_path / "nope.mp4"))
    with pytest.raises(VidstyleError, match=r"different frame counts .*--max-frames 10 compares the first 10"):
        evaluate_videos(folder / "input.mp4", SAMPLE, preset="ultrafast")  # 10 frames vs 96
    # the second argument is named as the stylized video, not as "input"
    (tmp_path / "empty").mkdir()
    for stylized, said in ((tmp_path / "empty", r"empty is a folder with no image sequence"),
                           (Path("/dev/null"), r"^stylized video /dev/null is a device, not a file")):
        with pytest.raises(VidstyleError, match=said) as err:
            evaluate_videos(folder / "input.mp4", stylized, preset="ultrafast")
        assert "input" not in str(err.value)
    # a segment asked of a stylization of the whole input: the segment is what to leave out
    with pytest.raises(VidstyleError, match=r"stylized video is longer .*if stylized.mp4 is of the whole input, "
                                            r"leave out --start and --duration; --max-frames 8"):
        evaluate_videos(folder / "input.mp4", folder / "stylized.mp4", duration=0.3, preset="ultrafast")
    np.save(tmp_path / "flow.npy", np.zeros((2, 2)))  # a plain array, not the .npz format
    with pytest.raises(VidstyleError, match="not a vidstyle ground-truth flow file"):
        GroundTruthFlow(tmp_path / "flow.npy")
    # a ground-truth file cut short (an interrupted copy): one clear error, not zipfile's BadZipFile
    cut = tmp_path / "cut.npz"
    cut.write_bytes((folder / "gt.npz").read_bytes()[:2000])
    with pytest.raises(VidstyleError, match="cut.npz is damaged or truncated"):
        GroundTruthFlow(cut)


def test_ground_truth_flow_errors_and_help_say_whose_samples_folder_it_is(tmp_path, capsys):
    """samples/ is the vidstyle repository's, not the installed package's: its messages and
    --gt-flow's help say so (mutation testing, 57th session: their words could go back to a bare
    "samples/make_sample.py" with every test passing)."""
    from vidstyle.cli import main

    np.save(tmp_path / "flow.npy", np.zeros((2, 2)))
    with pytest.raises(VidstyleError, match=re.escape("flow.npy is not a vidstyle ground-truth flow file (an .npz as "
                                                      "the vidstyle repository's samples/make_sample.py writes)")):
        GroundTruthFlow(tmp_path / "flow.npy")
    np.savez(tmp_path / "whole.npz", flow=np.zeros((4, 8, 8, 2), np.float32))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:200])
    with pytest.raises(VidstyleError, match=r"cut.npz is damaged or truncated .*: copy the ground-truth flow file "
                                            r"again, or write it anew with the vidstyle repository's "
                                            r"samples/make_sample.py$"):
        GroundTruthFlow(tmp_path / "cut.npz")
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # (argparse wraps the help's lines)
    assert "ground-truth flow .npz (the repository's samples/sample_flow.npz)" in shown


def test_frames_that_change_size_midway_are_a_clear_error():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    stylized = frames[:2] + [frames[2][:24, :32].copy()]
    with pytest.raises(VidstyleError, match="frame 2 changes size"):
        warping_error(frames, stylized, preset="ultrafast")
    # a picture area of other frames (the API's picture=): one error, not whole frames scored as
    # if its picture had reached into the bars from the first
    from vidstyle.letterbox import PictureArea

    with pytest.raises(VidstyleError, match="^the picture area is of 64x36 frames, not of the input's 64x48$"):
        warping_error(frames, frames, preset="ultrafast", picture=PictureArea(6, 30, 0, 64, (36, 64)))


def test_frame_counts_one_apart_are_caught_both_ways(tmp_path):
    """zip() takes one more frame from the input before it sees the stylized video end: that frame
    must still count."""
    from videos import make_video

    ten = make_video(tmp_path / "ten.mp4", frames=10, size=(64, 48))
    nine = make_video(tmp_path / "nine.mp4", frames=9, size=(64, 48))
    with pytest.raises(VidstyleError, match="the input video is longer than 9 frames"):
        evaluate_videos(ten, nine, preset="ultrafast")
    with pytest.raises(VidstyleError, match="the stylized video is longer than 9 frames"):
        evaluate_videos(nine, ten, preset="ultrafast")
    assert evaluate_videos(ten, ten, preset="ultrafast")["frames"] == 10
    assert evaluate_videos(ten, nine, preset="ultrafast", max_frames=5)["frames"] == 5


def test_a_stylization_at_another_frame_rate_is_noted(tmp_path):
    """Frames are paired by order: a re-timed stylized video pairs them with other moments."""
    from videos import make_video

    same = make_video(tmp_path / "same.mp4", frames=6, size=(64, 48), fps=24)
    slow = make_video(tmp_path / "slow.mp4", frames=6, size=(64, 48), fps=12)
    assert evaluate_videos(same, same, preset="ultrafast")["notes"] == []
    notes = evaluate_videos(same, slow, preset="ultrafast")["notes"]
    assert any("the first 6 frames span 0.417 s in the stylized video and 0.208 s in the input" in n
               for n in notes), notes
    # a variable frame rate: the same timestamps in another container are the same timeline
    vfr = make_video(tmp_path / "vfr.mkv", frames=6, size=(64, 48), vfr=True)
    vfr_mp4 = make_video(tmp_path / "vfr.mp4", frames=6, size=(64, 48), vfr=True)
    assert evaluate_videos(vfr, vfr_mp4, preset="ultrafast")["notes"] == []


def test_stylized_at_another_size(scene):
    _, frames, stylized = scene
    import cv2

    h, w = frames[0].shape[:2]
    half = [cv2.resize(s, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for s in stylized]
    r = warping_error(frames, half, preset="fast")  # flow and masks are resized to the stylized frames
    assert r["pairs"] == FRAMES - 1
    assert r["warping_error"] > 3 * r["input_warping_error"]  # downscaling averaged some noise away
    # another shape is another video, not a stylization of this one
    square = [cv2.resize(s, (h // 2, h // 2), interpolation=cv2.INTER_AREA) for s in stylized]
    with pytest.raises(VidstyleError, match="do not have the input's aspect ratio"):
        warping_error(frames, square, preset="fast")


def test_cli_json_schema(scene, cli):
    folder, _, _ = scene
    proc = cli("eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--long-term", "2", "--max-frames", "6",
                   "--flow-preset", "fast")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    expected = {"frames": int, "warping_error": float, "warping_error_long_term": float,
                "input_warping_error": float, "input_warping_error_long_term": float, "k": int, "flow": str,
                "pairs": int, "valid_fraction": float, "input": str, "stylized": str}
    for key, kind in expected.items():
        assert isinstance(result[key], kind), key
    assert result["frames"] == 6 and result["k"] == 2 and result["flow"] == "dis" and result["pairs"] == 5
    assert result["flow_preset"] == "fast"  # results of different presets can be told apart
    assert result["warping_error"] > result["input_warping_error"]
    assert result["notes"] == [] and result["style"] is None  # every metric has a value; no --painting
    assert result["schema"] == 3 and list(result)[0] == "schema" and result["bars"] is None
    assert "warning" not in proc.stderr
    # --help describes every field and the layout's version (it said version 2 of layout 3, and
    # left bars out)
    from vidstyle.cli import build_parser

    fields = build_parser()._subparsers._group_actions[0].choices["eval"].epilog
    named = set(re.findall(r"\w+", fields))
    assert "*_long_term" in fields and [key for key in result if key.removesuffix("_long_term") not in named] == []
    assert f"version ({result['schema']})" in fields
    # a style setting without --painting is said to do nothing (it was ignored without a word)
    proc = cli("eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--max-frames", "3",
                   "--flow-preset", "fast", "--style-every", "2", "--loss-net", "efficientnet_lite0")
    assert proc.returncode == 0 and json.loads(proc.stdout)["style"] is None
    assert "--style-every and --loss-net set the style score, which needs --painting; there is none" in proc.stderr

    proc = cli("eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--long-term", "9", "--max-frames", "4",
                   "--flow-preset", "fast")
    result = json.loads(proc.stdout)
    assert result["warping_error_long_term"] is None and result["warping_error"] is not None
    assert result["notes"] == ["no long-term pair: the long-term error needs more than 9 frames (scored: 4)"]

    proc = cli("eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--gt-flow", str(folder / "gt.npz"),
                   "--max-frames", "4")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["flow"] == "ground_truth" and result["frames"] == 4 and result["flow_preset"] is None
    assert result["warping_error_long_term"] is None and result["k"] is None


def test_cli_errors_are_one_line(scene, tmp_path, cli):
    folder, _, _ = scene
    with np.load(folder / "gt.npz") as data:  # ground truth for another video size
        other = {k: data[k] for k in data.files}
    other.update(size=other["size"] // 2)
    np.savez(tmp_path / "other.npz", **other)
    proc = cli("eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--gt-flow", str(tmp_path / "other.npz"))
    assert proc.returncode == 1 and "ground truth" in proc.stderr and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0


@pytest.mark.skipif(not SAMPLE.is_file(), reason="samples/sample.mp4 not generated")
def test_bundled_sample_ground_truth_matches_dis():
    gt = GroundTruthFlow(SAMPLE_GT)
    frames = list(read_frames(SAMPLE, max_frames=62))
    assert len(frames) == 62 and frames[0].shape == (360, 640, 3) and gt.frames == 96
    dis = DISFlow("medium")
    for t in (1, 30, 61):
        valid = gt.valid(t) > 0
        flow = dis(frames[t], frames[t - 1])
        epe = np.linalg.norm(flow - gt.flow(t), axis=-1)[valid]
        assert epe.mean() < 0.6 and np.median(epe) < 0.35, (t, epe.mean(), np.median(epe))


# --- style quality -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory) -> Path:
    """Random VGG16 weights up to relu4_3 in the converted format (the scores' arithmetic does not
    depend on ImageNet training; the real network is exercised by the benchmarks)."""
    import torch
    from safetensors.torch import save_file

    from vidstyle.models import lossnets

    torch.manual_seed(0)
    features = lossnets._vgg_features(23, batch_norm=False)
    path = tmp_path_factory.mktemp("vgg") / "vgg.safetensors"
    save_file({k: v.contiguous() for k, v in features.state_dict().items()}, str(path),
              metadata={"format": lossnets._FORMAT, "loss_net": "vgg16_hed", "layers": "23"})
    return path


#: The shorter side the tests' style scores are taken at, not the default 256: the arithmetic does not
#: depend on the size, and each pass of the loss network (VGG16 to relu4_3) costs by the pixel; at 48
#: px the deepest taps still see 6x10 positions of a 16:9 frame
SCORE_SIZE = 48


def _painting(tmp_path: Path) -> Path:
    import cv2

    rng = np.random.default_rng(3)
    img = cv2.resize((rng.random((12, 16, 3)) * 255).astype(np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "painting.png"
    cv2.imwrite(str(path), img[..., ::-1])
    return path


def test_style_scorer_scores(tmp_path, scene, vgg_weights):
    from vidstyle.eval import StyleScorer
    from vidstyle.train.data import load_image

    _, frames, stylized = scene
    painting = _painting(tmp_path)
    scorer = StyleScorer(painting, weights=vgg_weights, size=SCORE_SIZE)
    itself = load_image(painting, short_side=SCORE_SIZE)  # the scale the painting is scored at
    assert scorer.style([itself]) < 1e-6  # the painting against itself
    assert scorer.style([frames[0]]) > 0.05
    assert scorer.style([frames[0], itself]) == pytest.approx(scorer.style([frames[0]]) / 2, rel=1e-5)
    assert scorer.content([frames[0]], [frames[0]]) == 0.0
    assert scorer.content([stylized[0]], [frames[0]]) > 0.01
    with pytest.raises(VidstyleError, match="differ in aspect ratio"):
        scorer.content([frames[0][:32]], [frames[0]])
    # a stylization at half the input's resolution is compared at its own size
    h, w = frames[0].shape[:2]
    half = cv2.resize(frames[0], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    assert scorer.content([half], [frames[0]]) == pytest.approx(0.0, abs=1e-6)
    assert scorer.content([cv2.resize(stylized[0], (w // 2, h // 2))], [frames[0]]) > 0.01
    with pytest.raises(VidstyleError, match="no frames"):
        scorer.style([])


def test_the_input_style_loss_is_the_inputs_and_the_style_loss_the_stylizations(tmp_path, scene, vgg_weights):
    # input_style_loss is the floor a stylization is read against: it must score the input frame,
    # not the stylized one again
    from vidstyle.eval import StyleScorer
    from vidstyle.train.data import load_image

    _, frames, _ = scene
    painting = _painting(tmp_path)
    scorer = StyleScorer(painting, weights=vgg_weights, size=SCORE_SIZE)
    itself = load_image(painting, short_side=SCORE_SIZE)
    h, w = itself.shape[:2]
    src = cv2.resize(frames[0], (w, h), interpolation=cv2.INTER_AREA)  # the painting's shape, for the pair
    scores = scorer.scores([itself], [src])
    assert scores["style_loss"] < 1e-6  # the "stylization" is the painting itself
    assert scores["input_style_loss"] == pytest.approx(scorer.style([src]), rel=1e-5)
    assert scores["input_style_loss"] > 0.05


def test_a_malformed_frame_to_score_is_named_stylized_or_input(tmp_path, scene, vgg_weights):
    # said "frame frames must be ...", for either; a greyscale input was first compared in shape
    from vidstyle.eval import StyleScorer

    _, frames, _ = scene
    scorer = StyleScorer(_painting(tmp_path), weights=vgg_weights, size=SCORE_SIZE)
    with pytest.raises(VidstyleError, match=r"^stylized frames must be uint8 RGB"):
        scorer.score_pair(frames[0].astype(np.float32), frames[0])
    with pytest.raises(VidstyleError, match=r"^input frames must be uint8 RGB"):
        scorer.score_pair(frames[0], frames[0].astype(np.float32))
    with pytest.raises(VidstyleError, match=r"^input frames must be uint8 RGB"):
        scorer.score_pair(frames[0], frames[0][..., 0].copy())


@pytest.fixture
def small_style_scores(monkeypatch):
    """Style scores at :data:`SCORE_SIZE` instead of 256, for code that makes its own StyleScorer."""
    from vidstyle.eval import StyleScorer

    monkeypatch.setitem(StyleScorer.__init__.__kwdefaults__, "size", SCORE_SIZE)


def test_cli_eval_with_painting(tmp_path, scene, vgg_weights, monkeypatch, small_style_scores, cli):
    folder, _, _ = scene
    painting = _painting(tmp_path)
    monkeypatch.setenv("VIDSTYLE_LOSS_WEIGHTS", str(vgg_weights))
    args = ["eval", folder / "input.mp4", folder / "stylized.mp4", "--max-frames", "5", "--flow-preset", "fast",
            "--painting", painting, "--style-every", "2"]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    style = json.loads(proc.stdout)["style"]
    assert style["frames_scored"] == 3 and style["every"] == 2 and style["loss_net"] == "vgg16_hed"
    for key in ("style_loss", "content_loss", "input_style_loss"):
        assert isinstance(style[key], float) and style[key] >= 0, key
    assert style["content_loss"] > 0  # the stylized clip is not the input
    proc = cli(*args[:-4], "--painting", tmp_path / "missing.png")
    assert proc.returncode == 1 and "painting not found" in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_eval_scores_style_in_the_warping_errors_pass(tmp_path, scene, vgg_weights, monkeypatch, capsys,
                                                    small_style_scores):
    """With --painting each video is decoded once (the style scores ride on the warping error's
    pass), and the scores are the ones :func:`evaluate_style` takes on its own."""
    from vidstyle import eval as eval_module
    from vidstyle.cli import build_parser

    folder, _, _ = scene
    painting = _painting(tmp_path)
    monkeypatch.setenv("VIDSTYLE_LOSS_WEIGHTS", str(vgg_weights))
    opened = []
    real_read = eval_module._read_frames
    monkeypatch.setattr(eval_module, "_read_frames", lambda path, *a, **k: opened.append(Path(path).name)
                        or real_read(path, *a, **k))
    parser = build_parser()
    args = parser.parse_args(["eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--max-frames", "5",
                              "--flow-preset", "fast", "--painting", str(painting), "--style-every", "2"])
    assert args.func(args) == 0
    assert sorted(opened) == ["input.mp4", "stylized.mp4"]
    style = json.loads(capsys.readouterr().out)["style"]
    alone = eval_module.evaluate_style(folder / "input.mp4", folder / "stylized.mp4", painting, every=2, max_frames=5)
    assert style == alone and style["frames_scored"] == 3 and style["content_loss"] > 0


def test_a_rotated_input_lines_up_with_its_stylization(tmp_path):
    """The stylized file holds display-oriented pixels without a rotation tag; the input is read
    the same way (the pipeline's decoder), so the two compare frame for frame."""
    from videos import make_video

    from vidstyle import stylize_video

    class Identity:
        def stylize_batch(self, images):
            return np.asarray(images)

    for rotation in (90, 180):
        src = make_video(tmp_path / f"in{rotation}.mp4", frames=8, size=(64, 48), rotation=rotation)
        out = tmp_path / f"out{rotation}.mp4"
        stylize_video(src, out, style=Identity(), temporal="off", progress=False)
        result = evaluate_videos(src, out, preset="ultrafast")
        # the identity's output flickers no more than its input (upside down it would be far worse)
        assert result["frames"] == 8 and result["warping_error"] < 2 * result["input_warping_error"] + 1e-4


def test_a_missing_video_is_named_as_input_or_stylized(tmp_path):
    from vidstyle.errors import VidstyleError
    from vidstyle.eval import evaluate_videos
    from videos import make_video

    clip = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48))
    with pytest.raises(VidstyleError, match="^stylized video not found: .*nope.mp4$"):
        evaluate_videos(clip, tmp_path / "nope.mp4")
    with pytest.raises(VidstyleError, match="^input video not found: .*gone.mp4$"):
        evaluate_videos(tmp_path / "gone.mp4", clip)


def test_a_stylized_segment_is_compared_with_the_same_segment_of_the_input(scene, tmp_path, cli):
    folder, frames, stylized = scene
    _write_like_the_sample(tmp_path / "tail.mp4", stylized[4:])  # as `stylize --start 4/24` would write it
    proc = cli("eval", str(folder / "input.mp4"), str(tmp_path / "tail.mp4"), "--flow-preset", "fast")
    assert proc.returncode == 1 and "give eval the same --start and --duration" in proc.stderr
    segment = cli("eval", str(folder / "input.mp4"), str(tmp_path / "tail.mp4"), "--flow-preset", "fast",
                      "--start", "0.16")  # the --start stylize was given: its first frame is frame 4
    assert segment.returncode == 0, segment.stderr
    result = json.loads(segment.stdout)
    assert result["frames"] == FRAMES - 4 and result["start"] == 0.16
    _write_like_the_sample(tmp_path / "input_tail.mp4", frames[4:])  # the input cut by hand, for reference
    by_hand = evaluate_videos(tmp_path / "input_tail.mp4", tmp_path / "tail.mp4", preset="fast")
    assert result["warping_error"] == pytest.approx(by_hand["warping_error"], rel=0.15)
    with_gt = cli("eval", str(folder / "input.mp4"), str(tmp_path / "tail.mp4"), "--start", "0.5", "--gt-flow",
                      str(folder / "gt.npz"))
    assert with_gt.returncode == 1 and "cannot be used with a --start" in with_gt.stderr
    # a --duration alone (or --start 0) starts at the first frame, where the ground truth does
    _write_like_the_sample(tmp_path / "head.mp4", stylized[:6])  # as `stylize --duration 6/24` would write it
    head = cli("eval", str(folder / "input.mp4"), str(tmp_path / "head.mp4"), "--duration", "0.25", "--start", "0",
                   "--gt-flow", str(folder / "gt.npz"))
    assert head.returncode == 0, head.stderr
    assert json.loads(head.stdout)["frames"] == 6 and json.loads(head.stdout)["flow"] == "ground_truth"


def test_a_small_paintings_warning_speaks_of_the_score_not_of_painting(tmp_path, vgg_weights, caplog):
    import logging

    from PIL import Image

    from vidstyle.eval import StyleScorer

    Image.fromarray((np.random.default_rng(0).random((20, 20, 3)) * 255).astype(np.uint8)).save(tmp_path / "tiny.png")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        StyleScorer(tmp_path / "tiny.png", weights=vgg_weights, size=64)
    # eval paints nothing: "its strokes come out blurred; a larger image of it paints better" was train's
    assert "tiny.png is only 20x20 pixels: upscaled 3.2x to a shorter side of 64" in caplog.text
    assert "scored against a blurred copy of it" in caplog.text and "paints better" not in caplog.text


def test_a_damaged_painting_is_refused_before_the_warping_error(scene, tmp_path, monkeypatch):
    from PIL import Image

    from vidstyle import eval as eval_module
    from vidstyle.cli import build_parser
    from vidstyle.errors import VidstyleError

    folder, _, _ = scene
    broken = tmp_path / "painting.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(broken)
    broken.write_bytes(broken.read_bytes()[:60])
    monkeypatch.setattr(eval_module, "evaluate_videos", lambda *a, **k: pytest.fail("the slow part ran first"))
    parser = build_parser()
    args = parser.parse_args(["eval", str(folder / "input.mp4"), str(folder / "stylized.mp4"), "--painting",
                              str(broken)])
    with pytest.raises(VidstyleError, match="painting.png"):
        args.func(args)


def _write_timed(path: Path, images: np.ndarray, times: list[Fraction]) -> Path:
    """Encode ``images`` with the given presentation times (seconds), on a 1/120 s clock."""
    from videos import write_frames

    return write_frames(path, images, fps=40, options={"crf": "10"}, times=times, time_base=Fraction(1, 120))


def test_a_segment_of_a_variable_rate_input_is_timed_from_its_start(tmp_path):
    """`eval --start` compares the segment's time span with the stylized video's, not the span of
    the file's first frames: a clip at 10 frames/s, then 40, cut at the change."""
    from videos import pattern_frame

    images = np.stack([pattern_frame(i, (64, 48)) for i in range(30)])
    times = [Fraction(i, 10) for i in range(10)] + [1 + Fraction(i, 40) for i in range(20)]
    source = _write_timed(tmp_path / "vfr.mp4", images, times)
    segment = _write_timed(tmp_path / "segment.mp4", images[10:], [Fraction(i, 40) for i in range(20)])
    r = evaluate_videos(source, segment, start=1.0, preset="ultrafast")
    assert r["frames"] == 20 and r["notes"] == [], r["notes"]
    # the same segment re-timed to 10 frames/s pairs frames with other moments: still said
    slow = _write_timed(tmp_path / "slow.mp4", images[10:], [Fraction(i, 10) for i in range(20)])
    notes = evaluate_videos(source, slow, start=1.0, preset="ultrafast")["notes"]
    assert any("the first 20 frames span 1.9 s in the stylized video and 0.475 s in the input" in n
               for n in notes), notes


def test_the_inputs_floor_at_a_larger_stylized_size_is_interpolated(scene):
    """A stylization at twice the input's size is scored at that size, and so is the input's own
    error: the input is interpolated up, as a smooth upscale of it would be, not repeated in
    2x2 blocks whose steps move under the flow."""
    folder, frames, _ = scene
    gt = GroundTruthFlow(folder / "gt.npz")
    double = [cv2.resize(f, (f.shape[1] * 2, f.shape[0] * 2), interpolation=cv2.INTER_LINEAR) for f in frames]
    r = warping_error(frames[:4], double[:4], ground_truth=gt)
    # the input itself, upscaled: its error is the floor's, not a fraction of it
    assert r["warping_error"] == pytest.approx(r["input_warping_error"], rel=0.05)


def test_ground_truth_for_another_frame_rate_is_refused(scene, tmp_path):
    """The ground truth says when its clip's frames are: a copy of the input re-timed to another
    rate does not move as its flows say, and is refused rather than scored against them."""
    folder, frames, _ = scene
    ms = _make_sample_module()
    _write_like_the_sample(tmp_path / "slow.mp4", frames, fps=ms.FPS // 2)
    with pytest.raises(VidstyleError, match=rf"motion of a clip at {ms.FPS} frames/s, but the first {FRAMES} frames"):
        evaluate_videos(tmp_path / "slow.mp4", tmp_path / "slow.mp4", gt_flow=folder / "gt.npz")
    same = evaluate_videos(folder / "input.mp4", folder / "input.mp4", gt_flow=folder / "gt.npz")
    assert same["flow"] == "ground_truth" and same["frames"] == FRAMES


def test_a_folder_input_is_placed_in_time_at_the_fps_it_was_stylized_at(tmp_path, cli):
    """A folder of frames stylized with --fps 25 --start 1 --duration 2 starts at frame 25 and
    holds 50 frames; eval with the same --fps reads those, and without it (24 frames/s) says to
    give it rather than suggesting --max-frames, which would pair every frame one frame off."""
    from vidstyle import stylize_video
    from vidstyle.io.images import write_image
    from videos import Identity, pattern_frame

    folder = tmp_path / "render"
    folder.mkdir()
    for i in range(80):
        write_image(folder / f"f_{i:04d}.png", pattern_frame(i, (64, 48), "moving"))
    stylize_video(folder, tmp_path / "seg.mp4", style=Identity(), temporal="off", progress=False, sequence_fps=25,
                  start=1, duration=2, crf=0)
    r = evaluate_videos(folder, tmp_path / "seg.mp4", start=1, duration=2, fps=25, preset="ultrafast")
    assert r["frames"] == 50 and r["notes"] == []
    assert r["warping_error"] == pytest.approx(r["input_warping_error"], rel=0.05, abs=2e-5)  # the frames themselves
    proc = cli("eval", str(folder), str(tmp_path / "seg.mp4"), "--start", "1", "--duration", "2", "--flow-preset",
                   "ultrafast")
    assert proc.returncode == 1 and "placed in time at 24 frames/s: give eval the --fps that vidstyle stylize" \
        in proc.stderr and "--max-frames" not in proc.stderr
    ok = cli("eval", str(folder), str(tmp_path / "seg.mp4"), "--start", "1", "--duration", "2", "--fps", "25",
                 "--flow-preset", "ultrafast")
    assert ok.returncode == 0 and json.loads(ok.stdout)["frames"] == 50


def test_scene_cut_pairs_are_left_out_of_the_warping_error():
    """Two shots back to back: the pair across the cut is two shots, and the few pixels the
    forward-backward check let through there scored errors that swamped the clip's (review, 33rd
    session). It is left out of the short and long-term errors, and counted."""
    ms = _make_sample_module()
    first, *_ = ms.render(seed=3, frames=8, length=96, width=SCENE_WIDTH)
    second, *_ = ms.render(seed=11, frames=8, length=96, width=SCENE_WIDTH)
    second = [np.ascontiguousarray(255 - f[::-1]) for f in second]  # another scene, unmistakably
    frames = list(first) + second
    rng = np.random.default_rng(0)
    stylized = [np.clip(f.astype(int) + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8) for f in frames]
    whole = warping_error(frames, stylized, long_term=3, preset="fast")
    shots = [warping_error(frames[a:b], stylized[a:b], long_term=3, preset="fast") for a, b in ((0, 8), (8, 16))]
    assert whole["cut_pairs"] == 1 and whole["pairs"] == 14
    assert shots[0]["cut_pairs"] == shots[1]["cut_pairs"] == 0
    by_shot = (7 * shots[0]["warping_error"] + 7 * shots[1]["warping_error"]) / 14  # the same pairs, averaged
    assert whole["warping_error"] == pytest.approx(by_shot, rel=1e-6)
    assert whole["input_warping_error"] < whole["warping_error"]  # the floor is a floor again
    long_by_shot = (5 * shots[0]["warping_error_long_term"] + 5 * shots[1]["warping_error_long_term"]) / 10
    assert whole["warping_error_long_term"] == pytest.approx(long_by_shot, rel=1e-6)


def test_the_style_score_takes_a_videos_frames_one_at_a_time(tmp_path, monkeypatch):
    # the frames scored were collected in a list first: gigabytes for a long 1080p video (review,
    # 36th session); now each pair reaches the loss network as it is decoded
    import vidstyle.eval as ev

    produced = {"n": 0}

    def frames(path, max_frames=None, *args):
        for _ in range(40):
            produced["n"] += 1
            yield np.zeros((8, 8, 3), np.uint8)

    seen = []

    class Scorer:
        size = 8

        def __init__(self, painting, loss_net):
            self.loss_net = loss_net

        def score_pairs(self, pairs):
            for _ in pairs:
                seen.append(produced["n"])
            return {"style_loss": 1.0, "content_loss": 0.5, "input_style_loss": 2.0}, len(seen)

    monkeypatch.setattr(ev, "read_frames", frames)
    monkeypatch.setattr(ev, "StyleScorer", Scorer)
    result = ev.evaluate_style("in.mp4", "out.mp4", _painting(tmp_path), every=4)
    assert result["frames_scored"] == 10 and result["style_loss"] == 1.0
    # both videos' frames counted: when pair k (frames 4k of each) is scored, 2 * (4k + 1) were decoded
    assert seen == [2 * (4 * k + 1) for k in range(10)]


def test_an_inputs_black_bars_are_left_out_of_the_errors(tmp_path):
    """Still and black in every frame, kept bars lowered the errors by their share of the frame (a
    third: 0.66x): the picture's flicker is what is scored, and the result says the bars were left out."""
    from videos import letterbox_bars, make_video

    src = make_video(tmp_path / "boxed.mp4", frames=10, size=(160, 96), pattern="letterbox")
    bar = letterbox_bars(96)
    frames = list(read_frames(src))
    flicker = np.stack([f.astype(np.int16) for f in frames])
    flicker[1::2, bar:96 - bar] += 20  # every other frame 20 levels brighter, in the picture only
    stylized = _write_timed(tmp_path / "flicker.mp4", np.clip(flicker, 0, 255).astype(np.uint8),
                            [Fraction(i, 24) for i in range(len(frames))])
    result = evaluate_videos(src, stylized, long_term=3)  # (3: frames t and t - 3 differ in flicker)
    assert result["bars"] == f"top {bar}, bottom {bar}"
    assert result["notes"] == [f"the input's black bars (top {bar}, bottom {bar}) are left out: the errors are "
                               "the picture's"]
    assert result["warping_error"] == pytest.approx((20 / 255) ** 2, rel=0.2)  # 2/3 of it with the bars in
    assert result["warping_error_long_term"] == pytest.approx((20 / 255) ** 2, rel=0.2)  # the long pairs' too
    assert result["valid_fraction"] > 0.9  # of the picture


def test_bars_of_an_odd_width_in_4_2_0_video_are_left_out_whole(tmp_path):
    """As stylize keeps them (tests/test_letterbox.py): the bar's last line, carrying the picture's
    colour in 4:2:0, is bar; without the input's chroma it was found 60 wide, not 61."""
    from videos import ODD_BARS_420, make_odd_bars_420

    src = make_odd_bars_420(tmp_path / "odd.mp4")
    assert evaluate_videos(src, src, long_term=3)["bars"] == ODD_BARS_420


def test_a_small_picture_inside_bars_on_all_sides_is_not_a_cut_at_every_pair(tmp_path):
    """The scene-cut test takes whole frames, as the stabilizer's does: with the bars left out of
    its valid share, a picture under 30% of the frame made every pair a cut, and no error at all."""
    from videos import pattern_frame

    images = np.zeros((10, 160, 192, 3), np.uint8)
    for i in range(10):
        images[i, 48:112, 64:128] = pattern_frame(i, (64, 64))  # 13% of the frame
    flicker = images.astype(np.int16)
    flicker[1::2, 48:112, 64:128] += 20
    times = [Fraction(i, 24) for i in range(10)]
    src = _write_timed(tmp_path / "boxed.mp4", images, times)
    stylized = _write_timed(tmp_path / "flicker.mp4", np.clip(flicker, 0, 255).astype(np.uint8), times)
    result = evaluate_videos(src, stylized)
    assert result["bars"] == "top 48, bottom 48, left 64, right 64"
    assert result["cut_pairs"] == 0 and result["pairs"] == 9
    assert result["warping_error"] == pytest.approx((20 / 255) ** 2, rel=0.2)


def test_where_the_picture_reaches_into_the_bars_whole_frames_are_scored(tmp_path):
    """Bars found on frames spread over the clip that the picture fills later (its last two frames,
    none of those): from there whole frames are scored, as stylize paints them; the flicker there
    was left out, with the bars."""
    from videos import make_video

    src = make_video(tmp_path / "opens.mp4", frames=24, size=(96, 72), pattern="letterbox-opens", crf=0)
    frames = np.stack(list(read_frames(src)))
    flicker = frames.astype(np.int16)
    flicker[23, :12] += 120  # in the last frame, where the bars were
    stylized = _write_timed(tmp_path / "flicker.mp4", np.clip(flicker, 0, 255).astype(np.uint8),
                            [Fraction(i, 24) for i in range(24)])
    result = evaluate_videos(src, stylized)
    assert result["bars"] == "top 12, bottom 12 until 0.92 s" and "bars_until_frame" not in result
    assert "then whole frames'" in result["notes"][0]
    assert result["warping_error"] > 1e-3  # (0.0002 with the flicker left out)
    # a segment's bars are looked for in the segment, as vidstyle stylize --start looks for them:
    # its last two frames fill the whole frame, so there are none
    segment = _write_timed(tmp_path / "segment.mp4", frames[22:], [Fraction(i, 24) for i in range(2)])
    result = evaluate_videos(src, segment, start=22 / 24)
    assert result["frames"] == 2 and result["bars"] is None and not any("bars" in n for n in result["notes"])


def test_a_long_term_history_past_the_memory_is_refused_not_killed(monkeypatch):
    """--long-term K keeps K + 1 frames of each video (K up to 10 000): 124 GB at 1080p, where the
    system killed the run without a word. Past half the memory it is one clear error; a video
    shorter than K holds only its own frames, and runs."""
    import vidstyle.eval as eval_module

    monkeypatch.setattr(eval_module, "cgroup_memory_limit", lambda: None)
    monkeypatch.setattr(eval_module, "physical_memory", lambda: 64 * 1024)  # room for 4 frames of 3 x 32x24x3
    frames = [np.full((24, 32, 3), 10 * i, np.uint8) for i in range(8)]
    with pytest.raises(VidstyleError, match=r"^--long-term 6 holds 7 frames of each video: 0.0 GiB at 32x24, and this "
                                            r"machine has 0.0 GiB: give a smaller --long-term$"):
        warping_error(frames, frames, long_term=6)
    assert warping_error(frames[:4], frames[:4], long_term=6)["frames"] == 4  # shorter than K: it fits
    # a container's memory limit (docker --memory) kills the run as surely: below the machine's, it counts
    monkeypatch.setattr(eval_module, "physical_memory", lambda: 64 * 2 ** 30)
    monkeypatch.setattr(eval_module, "cgroup_memory_limit", lambda: 64 * 1024)
    with pytest.raises(VidstyleError, match=r"and this container may use 0.0 GiB: give a smaller --long-term$"):
        warping_error(frames, frames, long_term=6)
    monkeypatch.setattr(eval_module, "cgroup_memory_limit", lambda: None)
    monkeypatch.setattr(eval_module, "physical_memory", lambda: None)  # a system that does not say: as before
    assert warping_error(frames, frames, long_term=6)["warping_error_long_term"] is not None


def test_transparent_black_rows_are_bars_as_stylize_keeps_them(tmp_path):
    """A render's transparent rows (black under them) are bars where vidstyle stylize wrote it
    opaque, and kept them black: left out of the errors, as stylize kept them. Where the
    stylized video kept the transparency, they were painted, and are no bars."""
    from PIL import Image

    from videos import Identity, pattern_frame
    from vidstyle.pipeline import stylize_video

    render = tmp_path / "render"
    render.mkdir()
    for i in range(4):
        rgba = np.zeros((96, 160, 4), np.uint8)
        rgba[16:, :, :3], rgba[16:, :, 3] = pattern_frame(i, (160, 80)), 255
        Image.fromarray(rgba, "RGBA").save(render / f"f_{i:02d}.png")
    bars = {}
    for name, codec in (("opaque.mp4", None), ("alpha.mov", "prores_ks")):
        stylize_video(render, tmp_path / name, style=Identity(), temporal="off", progress=False, sequence_fps=10,
                      codec=codec)
        bars[name] = evaluate_videos(render, tmp_path / name, fps=10, preset="ultrafast")["bars"]
    assert bars == {"opaque.mp4": "top 16", "alpha.mov": None}


def test_help_says_which_way_each_score_is_better_and_that_the_style_scores_have_no_unit():
    """--help gave the warping error's scale and direction but said nothing of the style scores':
    a user comparing two stylizers' style_loss 2.9 and 3.4 could not tell which was closer to the
    painting, nor that scores under two --loss-net values do not compare."""
    from vidstyle.cli import build_parser

    fields = " ".join(build_parser()._subparsers._group_actions[0].choices["eval"].epilog.split())
    assert "warping_error: mean squared RGB difference (0-1 scale, lower is steadier)" in fields
    assert "style_loss (against the painting: lower is closer to its style)" in fields
    assert "content_loss (against INPUT: lower keeps more of the input's content)" in fields
    assert "a style_loss well below it is style taken on" in fields
    assert "no unit, and comparable only under one loss_net" in fields
