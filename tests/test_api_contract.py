"""What the Python API promises its callers: one error family for what they can fix (a
BadTypeError is also a TypeError, a BadValueError also a ValueError), input types read alike by
every backend, and settings checked where they are given rather than at the first frame."""
from __future__ import annotations

import logging
import os
import pathlib

import numpy as np
import pytest
import torch

import vidstyle

from processes import os_threads
from videos import make_video
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError
from vidstyle.flow.stabilizer import FlowStabilizer
from vidstyle.flow.warp import resize_flow
from vidstyle.mask import composite
from vidstyle.models.transformer import TransformerNet
from vidstyle.models.zoo import Styles, painting_description, resolve_style
from vidstyle.pipeline import stylize_video
from vidstyle.stylizer import Stylizer


def _tiny(**kw) -> Stylizer:
    torch.manual_seed(0)
    net = TransformerNet((4, 8), num_residual=1, residual=True).eval()
    return Stylizer.from_model(net, device="cpu", **kw)


@pytest.mark.parametrize("kw", [dict(precision="fp32", backend="torch"), dict(precision="bf16", backend="torch"),
                                dict(precision="fp32", backend="onnx")])
def test_stylize_tensor_reads_every_float_type_as_float32_and_returns_float32(kw):
    st = _tiny(**kw)
    x = torch.rand(2, 3, 16, 24)
    reference = st.stylize_tensor(x)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        y = st.stylize_tensor(x.to(dtype))  # an fp32 network refused these with a raw RuntimeError
        assert y.dtype == torch.float32
        assert (y - st.stylize_tensor(x.to(dtype).float())).abs().max() == 0
        assert (y - reference).abs().max() < 0.05  # the input's own rounding only
    st.set_look(0.5, keep_colors=True)  # the blend with the input kept float64 before
    assert st.stylize_tensor(x.double()).dtype == torch.float32


def test_wrong_kinds_of_arguments_are_vidstyle_errors_that_python_code_also_expects():
    st = _tiny(precision="fp32", backend="torch")
    with pytest.raises(BadTypeError, match="torch.from_numpy") as wrong_type:
        st.stylize_tensor(np.zeros((1, 3, 8, 8), np.float32))
    assert isinstance(wrong_type.value, TypeError) and isinstance(wrong_type.value, VidstyleError)
    with pytest.raises(BadTypeError, match="a style is a bundled style's name"):
        Stylizer(None)
    with pytest.raises(BadValueError, match="needs at least one frame"):
        st.calibrate([])
    with pytest.raises(BadValueError, match="a sequence of"):
        st.calibrate(np.zeros((8, 8, 3), np.uint8))
    # hinted str | None, a source of another kind was kept in silence (review, 56th session)
    for source in (3, pathlib.Path("clip.mp4")):
        with pytest.raises(BadTypeError, match="source must be a string naming the frames' video, or None, got"):
            st.calibrate([np.zeros((8, 8, 3), np.uint8)], source=source)
    with pytest.raises(BadTypeError, match="a whole number of frames, at least 0, or None, got '10'"):
        st.expect_frames("10")
    with pytest.raises(BadValueError, match="differ"):
        composite(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), np.zeros((4, 4), np.float32))
    with pytest.raises(BadValueError, match=r"flow must be an \(H, W, 2\) numpy array"):
        resize_flow(np.zeros((2, 8, 8), np.float32), (16, 16))
    with pytest.raises(VidstyleError, match="whole number of pixels"):
        _tiny(max_side=100.5)


@pytest.mark.parametrize("name, value, message", [
    ("photometric_tolerance", 0, "photometric_tolerance must be a number > 0"),  # NaN weights: a black frame
    ("fade_tolerance", 0, "fade_tolerance must be a number > 0"),  # ZeroDivisionError at a fade
    ("cut_threshold", "0.1", "cut_threshold must be a number >= 0"),  # TypeError at the first frame
    ("min_valid_fraction", None, "min_valid_fraction must be a number between 0 and 1"),
    ("min_valid_fraction", 1.5, "min_valid_fraction must be a number between 0 and 1"),
    ("keep_contrast", "no", "keep_contrast must be True or False"),  # was taken as true
])
def test_every_stabilizer_setting_is_checked_when_it_is_given(name, value, message):
    with pytest.raises(VidstyleError, match=message) as refused:
        FlowStabilizer(**{name: value})
    # the family Python code expects: a wrong kind is a TypeError, a number out of range a ValueError
    expected = BadValueError if isinstance(value, (int, float)) and not isinstance(value, bool) else BadTypeError
    assert type(refused.value) is expected


def test_the_bundled_multi_style_networks_description_and_its_blend_hint(caplog, monkeypatch):
    import vidstyle.models.zoo as zoo

    monkeypatch.setattr(zoo, "_told_first_style", set())  # said once per file and process
    meta = Styles.LIGHT_MIX.value.meta
    assert painting_description(meta).split("; ") == [
        painting_description({k: meta[k][i] for k in ("painting", "artist", "year")}) for i in range(4)]
    assert painting_description(meta).startswith("The Starry Night, Vincent van Gogh, 1889; The Scream, ")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        resolve_style(Styles.LIGHT_MIX.value.path)
    assert "light_mix.safetensors holds 4 styles" in caplog.text
    assert "--style mix:starry_night=0.7,the_scream=0.3 blends them" in caplog.text  # not a path in the package
    # by its name too, as `vidstyle styles light_mix` takes it (export and preview refused it)
    choice = resolve_style("light_mix")
    assert choice.path == Styles.LIGHT_MIX.value.path and list(choice.mix) == [1.0, 0.0, 0.0, 0.0]


def test_a_timelines_ready_stylizer_is_held_to_the_look_asked_of_the_run(tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=4, size=(32, 24))
    ready = _tiny(precision="fp32", backend="torch")
    with pytest.raises(VidstyleError, match="do not apply to a ready stylizer"):
        stylize_video(clip, tmp_path / "out.mp4", style=[(0, ready), (0.1, "light_mondrian")], style_strength=0.3)
    assert not (tmp_path / "out.mp4").exists()


def test_counts_in_messages_agree_with_their_nouns(tmp_path):
    from vidstyle.errors import counted

    assert (counted(1, "frame"), counted(0, "frame"), counted(3, "style")) == ("1 frame", "0 frames", "3 styles")
    clip = make_video(tmp_path / "one.mp4", frames=1, size=(32, 24))
    result = stylize_video(clip, tmp_path / "out.mp4", style=_tiny(precision="fp32", backend="torch"), progress=False)
    assert result.summary().startswith("stylized 1 frame in ")


def test_running_out_of_memory_says_what_to_lower(monkeypatch):
    st = _tiny(precision="fp32", backend="torch", scale=2.0)

    def full(x, contrast=None):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 2831155200 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(st, "_stylize_tensor", full)
    with pytest.raises(VidstyleError, match=r"out of memory running the network on 3 frame\(s\) at 48x32 .*"
                                            r"lower --batch, --scale or --max-side"):
        st.stylize_tensor(torch.rand(3, 3, 16, 24))

    def broken(x, contrast=None):
        raise RuntimeError("a bug, not memory")

    monkeypatch.setattr(st, "_stylize_tensor", broken)
    with pytest.raises(RuntimeError, match="a bug, not memory"):  # anything else is not dressed up
        st.stylize_tensor(torch.rand(3, 3, 16, 24))


def test_frames_with_nan_or_infinite_values_are_refused_not_returned_as_garbage():
    """One NaN pixel made the frame's contrast weight NaN, which no branch filled: the frame came
    back as uninitialised memory (values up to 3.4e38), against the [0, 1] contract (review, 28th session)."""
    st = _tiny(precision="fp32", backend="torch")
    for bad in (float("nan"), float("inf")):
        x = torch.rand(2, 3, 16, 24)
        x[1, 0, 3, 4] = bad
        with pytest.raises(BadValueError, match="frame 1 of the batch holds NaN or infinite values"):
            st.stylize_tensor(x)
    assert st.stylize_tensor(torch.rand(2, 3, 16, 24)).isfinite().all()


@pytest.mark.parametrize("make, error, message", [
    # every field of the two configs is checked when made; a wrong kind is a TypeError, a value out
    # of range a ValueError (review, 28th session: most were taken, audio="no" as true)
    (lambda: vidstyle.StylizeConfig(device="tpu"), BadValueError, "device must be auto, cpu, cuda, cuda:N or mps"),
    (lambda: vidstyle.StylizeConfig(device=0), BadTypeError, "device must be a name"),
    (lambda: vidstyle.StylizeConfig(precision="fp8"), BadValueError, "unknown precision 'fp8'"),
    (lambda: vidstyle.StylizeConfig(backend="x"), BadValueError, "unknown backend 'x'"),
    (lambda: vidstyle.StylizeConfig(max_side=-1), BadValueError, "max_side must be a whole number of pixels"),
    (lambda: vidstyle.StylizeConfig(max_side=15), BadValueError,
     "max_side must be a whole number of pixels, at least 16"),
    (lambda: vidstyle.StylizeConfig(scale=-1), BadValueError, "scale must be a number > 0 and at most 8"),
    (lambda: vidstyle.StylizeConfig(scale="2"), BadTypeError, "scale must be"),
    (lambda: vidstyle.StylizeConfig(start=-5), BadValueError, "start must be a number of seconds >= 0"),
    (lambda: vidstyle.StylizeConfig(start="0.5"), BadTypeError, "start must be"),
    (lambda: vidstyle.StylizeConfig(duration=0), BadValueError, "duration must be a number of seconds > 0"),
    (lambda: vidstyle.StylizeConfig(channels_last="no"), BadTypeError, "channels_last must be True or False"),
    (lambda: vidstyle.StylizeConfig(batch=0), BadValueError, "batch must be a whole number from 1 to 64"),
    (lambda: vidstyle.StylizeConfig(batch=65), BadValueError, "batch must be a whole number from 1 to 64"),
    (lambda: vidstyle.StylizeConfig(batch=2.5), BadTypeError, "batch must be a whole number"),
    (lambda: vidstyle.StylizeConfig(style_strength=1.5), BadValueError, "style_strength must be"),
    (lambda: vidstyle.StylizeConfig(temporal=None), BadTypeError, "unknown temporal mode None"),
    (lambda: vidstyle.EncodeConfig(audio="no"), BadTypeError, "audio must be True or False"),
    (lambda: vidstyle.EncodeConfig(realtime="x"), BadTypeError, "realtime must be True or False"),
    (lambda: vidstyle.EncodeConfig(crf="high"), BadTypeError, "crf must be a whole number"),
    (lambda: vidstyle.EncodeConfig(codec=3), BadTypeError, "codec must be a name"),
    (lambda: _tiny(max_side=0), BadValueError, "max_side must be"),
    (lambda: _tiny(max_side=8), BadValueError, "max_side must be a whole number of pixels, at least 16"),
    (lambda: _tiny().set_look(style_strength=1.5), BadValueError, "style_strength must be"),
    (lambda: _tiny().stylize(torch.zeros(8, 8, 3, dtype=torch.uint8)), BadTypeError, "numpy array, got Tensor"),
    (lambda: _tiny().stylize([[1]]), BadTypeError, "numpy array, got list"),
    (lambda: Styles(3), BadTypeError, "a bundled style is named by a string"),
    (lambda: FlowStabilizer(strength="0.5"), BadTypeError, "temporal strength must be"),
    (lambda: resize_flow([[0.0, 0.0]], (4, 4)), BadTypeError, "flow must be an"),
    (lambda: vidstyle.StyleTimeline([(0, None)]), BadTypeError, "a style change's style is a style spec"),
    (lambda: _tiny().stylize_batch(None), BadTypeError, "expected uint8 .* got NoneType"),
    (lambda: vidstyle.StyleTimeline([0]), BadTypeError, r"entry is a \(seconds, style\) pair"),
    (lambda: vidstyle.StyleTimeline([("0", "mondrian")]), BadTypeError, "time must be a number of seconds"),
    (lambda: vidstyle.StyleTimeline([(-1, "mondrian")]), BadValueError, "time must be a number of seconds"),
    (lambda: vidstyle.StyleTimeline([(0, "mondrian")], crossfade="1"), BadTypeError, "crossfade must be a number"),
    (lambda: vidstyle.StyleTimeline([(0, "mondrian")], crossfade=-1), BadValueError, "crossfade must be a number"),
    (lambda: Stylizer.from_model(TransformerNet((4, 8)), device=3), BadTypeError, "device must be a name"),
    (lambda: _tiny(precision=3), BadTypeError, "precision must be a name"),
    (lambda: _tiny(channels_last=1), BadTypeError, "channels_last must be True or False"),
    (lambda: _tiny(backend=None), BadTypeError, "unknown backend None"),
    # review, 36th session: these were plain VidstyleErrors, which `except ValueError` misses
    (lambda: _tiny(backend="foo"), BadValueError, "unknown backend 'foo'"),
    (lambda: _tiny(precision="fp8"), BadValueError, "unknown precision 'fp8'"),
    # exact, as StylizeConfig and every other choice take it (the Stylizer took "FP32", the config not)
    (lambda: _tiny(precision="FP32"), BadValueError, "unknown precision 'FP32'"),
    (lambda: _tiny(precision="INT8"), BadValueError, "unknown precision 'INT8'"),
    (lambda: Stylizer.from_model(TransformerNet((4, 8)), device="tpu"), BadValueError, "unknown device 'tpu'"),
    (lambda: vidstyle.StylizeConfig(sequence_fps=0), BadValueError, "fps must be at least 1/86400"),
    (lambda: vidstyle.Stylizer("starry_night", precision=3), BadTypeError, "precision must be a name"),
])
def test_settings_are_checked_when_given_with_the_error_python_code_expects(make, error, message):
    with pytest.raises(error, match=message) as refused:
        make()
    assert type(refused.value) is error and isinstance(refused.value, VidstyleError)
    assert vidstyle.StylizeConfig(device="cuda:1", start=0, duration=0.5).device == "cuda:1"  # a GPU is looked for later
    assert vidstyle.StylizeConfig(device=torch.device("cpu")).device == torch.device("cpu")


def test_the_run_functions_check_their_own_arguments_before_any_work(tmp_path):
    from vidstyle.pipeline import stylize_image
    from vidstyle.preview import style_sheet

    video = make_video(tmp_path / "in.mp4", frames=3, size=(48, 32))
    for call, error, message in (
            (lambda: stylize_video(b"in.mp4", tmp_path / "o.mp4", style="x"), BadTypeError, "an input is a path"),
            (lambda: stylize_video(video, None, style="x"), BadTypeError, r"the output of stylize_video\(\) is a path"),
            (lambda: stylize_video(video, tmp_path / "o.mp4", style="x", progress="yes"), BadTypeError,
             "progress must be True, False or a function"),
            (lambda: stylize_video(video, tmp_path / "o.mp4", style="x", overwrite="no"), BadTypeError,
             "overwrite must be True or False"),
            (lambda: stylize_video(video, tmp_path / "o.mp4", style="x", batch=2.5), BadTypeError,
             "batch must be int or None"),
            (lambda: stylize_image(video, tmp_path / "o.png", style="x"), BadValueError,
             r"in.mp4 is a video, not a still image: stylize_video\(\) stylizes it"),  # was "cannot identify image"
            (lambda: style_sheet(video, tmp_path / "s.png", []), BadValueError, "no styles to show"),
            (lambda: style_sheet(video, tmp_path / "s.png", "no_such_style"), VidstyleError,
             "no_such_style"),  # one style, not its characters ('n')
    ):
        with pytest.raises(error, match=message):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_the_style_zoos_metadata_is_read_without_loading_torch():
    """An app listing the bundled styles in a menu waited seconds for torch (review, 28th session)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, vidstyle\n"
            "print(vidstyle.Styles('light_mondrian').value.meta['painting'], sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'torch'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Composition", "[]"]


class _PathObject:
    """A path object that is not a pathlib.Path (as other path libraries make): only __fspath__."""

    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return self.path


def test_a_style_file_given_as_any_path_object_is_read_from_its_path(style):
    import os

    choice = resolve_style(_PathObject(str(style)))  # its repr was taken for a style name: "unknown style"
    assert choice.path == style
    assert Stylizer(_PathObject(str(style)), device="cpu").choice.path == style
    with pytest.raises(BadTypeError, match="a style is a bundled style's name"):
        resolve_style(_PathObject(os.fsencode(str(style))))


def test_stylize_iter_refuses_what_is_not_iterable_at_the_call():
    st = _tiny(precision="fp32", backend="torch")
    for images in (None, 3):  # a bare TypeError at the first next() before
        with pytest.raises(BadTypeError, match="an iterable of uint8"):
            st.stylize_iter(images)
    frames = (np.random.default_rng(k).integers(0, 256, (16, 16, 3), dtype=np.uint8) for k in range(3))  # taken as it is
    assert len(list(st.stylize_iter(frames, batch_size=2))) == 3


def test_a_network_with_one_halving_and_9_pixel_kernels_takes_tiny_and_flat_frames():
    st = _tiny(precision="fp32", backend="torch")  # (4, 8): min_input_size said 4, its 9x9 padding needs 5
    assert st.model.min_input_size == 6
    for image in (np.full((16, 16, 3), 90, np.uint8),  # flat: the fp32 reference at min_input_size
                  np.random.default_rng(0).integers(0, 256, (1, 1, 3), dtype=np.uint8),
                  np.random.default_rng(1).integers(0, 256, (3, 40, 3), dtype=np.uint8)):
        assert st.stylize(image).shape == image.shape  # a RuntimeError from the reflection padding before


def test_more_wrong_kinds_are_said_as_such_not_met_deep_inside(tmp_path):
    """Found by a review of the Python API (33rd session): each of these surfaced as an
    AttributeError, a bare TypeError or a numpy error from deep inside, or (stylize_files) only
    at the generator's first step, after the output folder was made."""
    from vidstyle.letterbox import find_picture_area

    frame = np.zeros((60, 80, 3), np.uint8)
    frame[10:50] = 128
    with pytest.raises(BadTypeError, match="level must be"):
        find_picture_area([frame], level="12")
    with pytest.raises(BadTypeError, match="min_picture must be"):
        find_picture_area([frame], min_picture=None)
    with pytest.raises(BadValueError, match="level must be"):
        find_picture_area([frame], level=300)
    stylizer = Stylizer("light_mondrian", device="cpu")
    for frames in (None, 5):
        with pytest.raises(BadTypeError, match="calibrate takes a sequence"):
            stylizer.calibrate(frames)
    blend = Stylizer("mix:starry_night=0.7,the_scream=0.3", device="cpu")
    with pytest.raises(BadTypeError, match="names each style by a string"):
        blend.set_mix({0: 1.0})
    image = tmp_path / "p.png"
    vidstyle.io.images.write_image(image, np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8))
    with pytest.raises(BadTypeError, match="a style is a bundled style's name"):
        vidstyle.stylize_files([image], tmp_path / "out", style=None)
    assert not (tmp_path / "out").exists()
    # a Styles entry is a style everywhere, a timeline's too (named as --style-at takes it)
    timeline = vidstyle.StyleTimeline([(0, Styles.LIGHT_MONDRIAN), (1, "none"), (2, Styles.LIGHT_MIX)])
    assert timeline.changes[0].style == "light_mondrian"
    timeline.check_styles()  # the multi-style file by its path: its stem names none of its styles
    assert vidstyle.stylize_files([image], tmp_path / "o2", style=resolve_style("light_mondrian")) is not None
    done = list(vidstyle.stylize_files([image], tmp_path / "styled", style=Styles.LIGHT_MONDRIAN))
    assert done[0][1].frames == 1 and (tmp_path / "styled" / "p.png").exists()


def test_the_second_review_of_the_python_api(tmp_path):
    """Found by a review of the Python API (36th session)."""
    from vidstyle.eval import warping_error
    from vidstyle.pipeline import _describe

    video = make_video(tmp_path / "in.mp4", frames=3, size=(48, 32), audio=True)
    # no_audio="no" was taken as true (the audio left out) before the options were checked
    for negated in ("no_audio", "no_subtitles"):
        for value in ("no", 0):
            with pytest.raises(BadTypeError, match=f"{negated} must be True or False"):
                stylize_video(video, tmp_path / "o.mp4", style="light_mondrian", **{negated: value})
    # an encoder setting out of range is a ValueError too
    for options, message in ((dict(crf=99), "crf 99 is out of range"), (dict(codec="libfoo"), "unknown codec"),
                             (dict(preset="nope"), "unknown --preset 'nope'")):
        with pytest.raises(BadValueError, match=message):
            stylize_video(video, tmp_path / "o.mp4", style=_tiny(), progress=False, **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    # frames of the wrong kind given to the warping error keep their error's class
    frame = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(BadValueError, match="stylized frames must be uint8"):
        warping_error([frame, frame], [frame.astype(np.float32)] * 2)
    with pytest.raises(BadTypeError, match="input frames must be uint8"):
        warping_error([torch.zeros(16, 16, 3)], [frame])
    with pytest.raises(BadTypeError, match="long_term must be a whole number"):
        warping_error([frame], [frame], long_term="3")
    with pytest.raises(BadValueError, match="--long-term must be 2 to"):
        warping_error([frame], [frame], long_term=1)
    # states without their stabilizer were ignored; odd sizes for yuv420 failed after the network ran
    st = _tiny()
    with pytest.raises(BadValueError, match="give stabilizer= with them"):
        st.submit_batch([frame], states=[None])
    calls = []
    st.stylize_batch = lambda images: calls.append(1) or Stylizer.stylize_batch(st, images)
    with pytest.raises(BadValueError, match="yuv420 needs even frame sizes, got a 15x16 image"):
        st.submit_batch(np.zeros((2, 16, 15, 3), np.uint8), yuv420=1)
    assert calls == []
    assert st.submit_batch(np.zeros((2, 16, 16, 3), np.uint8), yuv420=1).result().shape == (2, 24, 16)

    class Plain:  # a stylize_batch object of the caller's own has no device or backend to name
        pass

    assert _describe(Plain(), 4) == "batch 4"
    assert _describe(_tiny(backend="torch", precision="fp32"), 2) == "cpu fp32 torch, batch 2"


def test_the_third_review_of_the_python_api(tmp_path):
    """Found by a review of the code's structure (37th session)."""
    from vidstyle.bench.network import parse_resolution
    from vidstyle.bench.run import default_precisions, device_name
    from vidstyle.device import resolve_device
    from vidstyle.frames import fill_transparent
    from vidstyle.io import keyframe_samples, sample_frames

    video = make_video(tmp_path / "in.mp4", frames=3, size=(48, 32))
    # exported functions raised plain ValueErrors, which `except VidstyleError` missed
    for call in (lambda: sample_frames(video, 0), lambda: keyframe_samples(video, 0),
                 lambda: fill_transparent(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4), np.uint8))):
        with pytest.raises(BadValueError):
            call()
    # audio=True with no_audio=True: the negation won, silently
    with pytest.raises(BadTypeError, match="got both audio= and no_audio=; give one"):
        stylize_video(video, tmp_path / "o.mp4", style=_tiny(), audio=True, no_audio=True)
    # one grammar of device names: auto:1 passed the config and failed when the network was placed
    with pytest.raises(BadValueError, match="device must be auto, cpu, cuda, cuda:N or mps"):
        vidstyle.StylizeConfig(device="auto:1")
    for name in ("auto:1", "meta", "cuda:" + "9" * 20):
        with pytest.raises(BadValueError, match="unknown device"):
            resolve_device(name)
    # the benchmark names every CPU "cpu": --device cpu:0 timed the CPU's slow bf16 and no peers
    assert device_name("cpu:0") == device_name("cpu") == "cpu"
    assert default_precisions(device_name("cpu:0")) == default_precisions("cpu")
    # a timeline's "none" given as the style: "unknown style 'none'" (the command line explained it)
    with pytest.raises(VidstyleError, match="'none' paints nothing on its own: it is for style timelines"):
        stylize_video(video, tmp_path / "o.mp4", style="none")
    # WIDTHxHEIGHT read one way: the benchmark's resolutions by the capture sizes' parser
    with pytest.raises(VidstyleError, match="bad resolution '4x4': .* of at least 8"):
        parse_resolution("4x4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_an_empty_input_path_is_refused_not_read_as_the_working_folder(tmp_path, monkeypatch):
    """Path("") is ".": stylize_video("", ...) stylized the working folder's numbered frames (and
    stylize_files([""], ...) did too), where an empty path is a caller's slip (an unset variable)."""
    from PIL import Image

    for i in range(1, 4):
        Image.fromarray(np.full((32, 48, 3), 60 * i, np.uint8)).save(tmp_path / f"frame_{i:04d}.png")
    monkeypatch.chdir(tmp_path)
    out = tmp_path.parent / f"{tmp_path.name}_out.mp4"
    for call in (lambda: stylize_video("", out, style=_tiny(), progress=False),
                 lambda: list(vidstyle.stylize_files([""], tmp_path.parent / f"{tmp_path.name}_styled",
                                                     style=_tiny(), progress=False)),
                 lambda: vidstyle.stylize_image("", tmp_path.parent / f"{tmp_path.name}.png", style=_tiny())):
        with pytest.raises(BadValueError, match="path is empty"):
            call()
    assert not out.exists()


def test_stylize_iter_given_one_image_says_so_at_the_call():
    """One (H, W, 3) frame is iterable (its rows): stylize_iter took it and failed at the first
    output with 'got uint8 (W, 3)', not at the call as its docstring promises."""
    st = _tiny()
    image = np.zeros((16, 24, 3), np.uint8)
    with pytest.raises(BadValueError, match=r"got one array of shape \(16, 24, 3\)"):
        st.stylize_iter(image)
    outs = list(st.stylize_iter(np.stack([image, image]), batch_size=2))  # a (B, H, W, 3) stack is frames
    assert len(outs) == 2 and outs[0].shape == image.shape


def test_a_whole_number_past_any_float_is_refused_by_name_not_an_overflow(tmp_path):
    """Found by a review of the Python API: start=10 ** 400 (and any such whole number where a
    float goes) ended in 'OverflowError: int too large to convert to float' from float() or
    math.isfinite deep inside, neither a VidstyleError nor a ValueError."""
    from vidstyle.preview import style_sheet

    huge = 10 ** 400
    missing = tmp_path / "in.mp4"  # the options are checked first
    for name in ("start", "duration", "scale", "temporal_strength", "style_strength"):
        with pytest.raises(BadValueError, match=f"{name} must be .*, got a whole number too large for a float"):
            stylize_video(missing, tmp_path / "out.mp4", "light_mondrian", **{name: huge})
        if name in ("start", "duration", "scale"):
            with pytest.raises(BadValueError, match=f"{name} must be"):
                vidstyle.StylizeConfig(**{name: huge})
    with pytest.raises(BadValueError, match="start must be"):
        style_sheet(missing, tmp_path / "sheet.png", ["light_mondrian"], start=huge)
    with pytest.raises(BadValueError, match="a style change's time must be"):
        vidstyle.StyleTimeline([(0, "light_mondrian"), (huge, "light_mix")])
    with pytest.raises(BadValueError, match="crossfade must be"):
        vidstyle.StyleTimeline([(0, "light_mondrian")], crossfade=huge)
    for name in ("cut_threshold", "photometric_tolerance", "fade_tolerance"):
        with pytest.raises(BadValueError, match=f"{name} must be"):
            FlowStabilizer(0.5, **{name: huge})
    with pytest.raises(BadValueError, match="style weights must be non-negative numbers"):
        Stylizer("mix:starry_night=0.7,the_scream=0.3", device="cpu").set_mix({"starry_night": huge})
    assert vidstyle.StylizeConfig(start=10 ** 300).start == 10 ** 300  # within a float's range: a time
    # a Fraction as large: math.isfinite converts it too ('integer division result too large')
    from fractions import Fraction

    with pytest.raises(BadValueError, match="start must be .*, got a number too large for a float"):
        stylize_video(missing, tmp_path / "out.mp4", "light_mondrian", start=Fraction(huge))
    with pytest.raises(BadValueError, match="crossfade must be"):
        vidstyle.StyleTimeline([(0, "light_mondrian")], crossfade=Fraction(huge, 3))
    assert vidstyle.StylizeConfig(start=Fraction(1, 3)).start == Fraction(1, 3)


def test_submit_batch_for_yuv420_says_what_is_wrong_with_an_image_that_is_not_one():
    """Found by a review of the Python API: a channels-first (3, H, W) frame given to submit_batch
    with yuv420 was refused as 'yuv420 needs even frame sizes, got a 90x3 image', not as the
    (H, W, 3) image it is not."""
    st = _tiny()
    chw = np.zeros((3, 90, 160), np.uint8)
    for images in (chw, [chw], chw[None]):
        with pytest.raises(BadValueError, match=r"H, W, 3\).*, got uint8 \((1, )?3, 90, 160\)"):
            st.submit_batch(images, yuv420=1)
    with pytest.raises(BadValueError, match="yuv420 needs even frame sizes, got a 161x90 image"):
        st.submit_batch([np.zeros((90, 161, 3), np.uint8)], yuv420=1)
    assert st.submit_batch([np.zeros((90, 160, 3), np.uint8)], yuv420=1).result().shape == (1, 135, 160)


def test_numpys_bools_are_flags_wherever_a_flag_is_taken(tmp_path):
    """Found by a review of the Python API: keyword options took np.True_ (audio=np.True_,
    keep_colors=mask.any()) but no_audio=, overwrite=, StylizeConfig(...), EncodeConfig(...),
    Stylizer(channels_last=) and FlowStabilizer(keep_contrast=) refused it as 'must be True or
    False, got np.True_'."""
    from vidstyle.preview import style_sheet

    yes, no = np.bool_(True), np.bool_(False)
    config = vidstyle.StylizeConfig(channels_last=yes, keep_colors=yes, invert_mask=no)
    encode = vidstyle.EncodeConfig(audio=no, subtitles=yes, realtime=no)
    for value in (config.channels_last, config.keep_colors, config.invert_mask, encode.audio, encode.subtitles):
        assert type(value) is bool  # stored plain, as keyword options are
    assert FlowStabilizer(0.5, keep_contrast=no).keep_contrast is False
    assert _tiny(channels_last=yes, keep_colors=yes).keep_colors is True
    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 24), audio=True)
    result = stylize_video(video, tmp_path / "out.mp4", "light_mondrian", no_audio=yes, overwrite=yes, progress=no,
                           temporal="off")
    assert result.frames == 2 and not result.audio
    style_sheet(video, tmp_path / "sheet.png", ["light_mondrian"], frames=1, overwrite=yes, progress=no)
    for wrong in ("no", 0, np.int64(1)):  # still no flag
        with pytest.raises(BadTypeError, match="channels_last must be True or False"):
            vidstyle.StylizeConfig(channels_last=wrong)


def test_the_decoder_takes_and_checks_a_segment_as_the_run_functions_do(tmp_path):
    """Found by a review of the Python API: style_sheet(start=np.float32(0.1)) (a NumPy number,
    as every run function takes) ended in "TypeError: argument should be a string or a Rational
    instance" from Fraction; vidstyle.io.VideoDecoder took start="1" to a bare TypeError from
    math.isfinite, and a downscale of 0 or 3 that the run functions refuse."""
    from vidstyle.io import VideoDecoder
    from vidstyle.io.decode import DecodedFrame
    from vidstyle.preview import style_sheet

    video = make_video(tmp_path / "in.mp4", frames=6, size=(32, 24))
    sheet = style_sheet(video, tmp_path / "sheet.png", ["light_mondrian"], frames=1, start=np.float32(0.1),
                        duration=np.float32(0.1), progress=False)
    assert sheet.output.exists()
    with VideoDecoder(video, start=np.float32(0.1)) as decoder:
        times = [item.time for item in decoder.read() if isinstance(item, DecodedFrame)]
    assert len(times) == 3  # 24 fps test clip: the frames from 0.125 s on
    for options, error, message in ((dict(start="1"), BadTypeError, "start must be a number of seconds >= 0"),
                                    (dict(duration=[1]), BadTypeError, "duration must be a number of seconds > 0"),
                                    (dict(start=-1), BadValueError, "start must be a number of seconds >= 0"),
                                    (dict(duration=0), BadValueError, "duration must be a number of seconds > 0"),
                                    (dict(downscale=3), BadValueError, "downscale must be a whole number of pixels"),
                                    (dict(downscale="64"), BadTypeError, "downscale must be a whole number")):
        with pytest.raises(error, match=message):
            VideoDecoder(video, **options)
    with VideoDecoder(video, start=0) as decoder:  # the bound itself: from the first frame
        assert len([item for item in decoder.read() if isinstance(item, DecodedFrame)]) == 6


def test_the_sample_functions_take_a_whole_number_of_frames_and_say_so_otherwise(tmp_path):
    """Found by a review of the Python API: vidstyle.io.sample_frames(path, "3") and
    keyframe_samples(path, None) ended in a bare TypeError from a comparison, sample_frames(path,
    2.5) in one from range()."""
    from vidstyle.io import keyframe_samples, sample_frames

    video = make_video(tmp_path / "in.mp4", frames=4, size=(32, 24))
    for sample in (sample_frames, keyframe_samples):
        for count, error in (("3", BadTypeError), (None, BadTypeError), (2.5, BadTypeError), (0, BadValueError)):
            with pytest.raises(error, match="count must be a whole number of frames, at least 1"):
                sample(video, count)
        assert len(sample(video, np.int64(2))) >= 1


def test_the_evaluation_functions_check_their_frame_counts_at_the_call(tmp_path):
    """Found by a review of the Python API: read_frames(path, "3") and evaluate_videos(...,
    max_frames="3") ended in a bare TypeError at the first frame, max_frames=2.5 read 3 frames and
    0 none (the command line takes whole numbers from 1, as --max-frames); evaluate_style's
    every=0 was a ZeroDivisionError after the loss network had loaded."""
    from vidstyle.eval import evaluate_style, evaluate_videos, read_frames

    video = make_video(tmp_path / "in.mp4", frames=4, size=(32, 24))
    painting = tmp_path / "painting.png"
    vidstyle.io.images.write_image(painting, np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))
    for max_frames, error in (("3", BadTypeError), (2.5, BadTypeError), (0, BadValueError)):
        for call in (lambda: read_frames(video, max_frames), lambda: evaluate_videos(video, video, max_frames=max_frames),
                     lambda: evaluate_style(video, video, painting, max_frames=max_frames)):
            with pytest.raises(error, match="max_frames must be a whole number of frames, at least 1"):
                call()
    with pytest.raises(BadValueError, match="every must be a whole number of frames, at least 1"):
        evaluate_style(video, video, painting, every=0)
    assert len(list(read_frames(video, np.int64(2)))) == 2


def test_composite_refuses_weights_it_would_misread_and_frames_that_are_no_images():
    """Found by a review of the Python API: vidstyle.mask.composite read float weights in [0, 1]
    (a matte as most libraries give one) as levels out of 255, and returned the original frame with
    a trace of the style, without a word; a list for a frame was an AttributeError."""
    styled, original = np.full((4, 6, 3), 200, np.uint8), np.zeros((4, 6, 3), np.uint8)
    for weights in (np.ones((4, 6), np.float32), np.ones((4, 6), bool)):
        with pytest.raises(BadValueError, match=r"weights must be uint8 levels, 0 to 255, got .*scale weights in \[0, 1\]"):
            composite(styled, original, weights)
    with pytest.raises(BadTypeError, match="weights must be a uint8 \\(H, W\\) numpy array, got list"):
        composite(styled, original, [[255] * 6] * 4)
    with pytest.raises(BadTypeError, match="numpy array, got list"):
        composite(styled.tolist(), original, np.full((4, 6), 255, np.uint8))
    with pytest.raises(BadValueError, match="uint8 \\(H, W, 3\\) RGB image, got float32"):
        composite(styled.astype(np.float32), original, np.full((4, 6), 255, np.uint8))
    assert (composite(styled, original, np.full((4, 6), 255, np.uint8)) == styled).all()


def test_a_matte_checks_its_invert_flag_and_start_when_made(tmp_path):
    """Found by a review of the Python API: vidstyle.mask.Matte(path, invert="no") inverted the
    matte ("no" is true), and Matte(path, start="1") ended in a TypeError from the seek."""
    from vidstyle.mask import Matte

    matte = make_video(tmp_path / "matte.mp4", frames=4, size=(32, 24), pattern="flat")
    for value in ("no", 0):
        with pytest.raises(BadTypeError, match="invert must be True or False"):
            Matte(matte, invert=value)
    with pytest.raises(BadTypeError, match="start must be a number of seconds >= 0, got '1'"):
        Matte(matte, start="1")
    with Matte(matte, invert=np.bool_(True), start=np.float32(0.05)) as inverted, Matte(matte) as plain:
        assert inverted.invert is True
        assert (inverted.weights_at(0.1, (24, 32)).astype(int) + plain.weights_at(0.1, (24, 32)) == 255).all()


def test_a_moving_matte_read_after_close_says_so(tmp_path):
    """Found by a review of the Python API: Matte.weights_at (and apply) after close() held the
    last frame read for every later time, and cut_short() then said the file was truncated or
    damaged."""
    from vidstyle.mask import Matte

    matte = Matte(make_video(tmp_path / "matte.mp4", frames=12, size=(32, 24)))
    matte.weights_at(0.0, (24, 32))
    matte.close()
    frame = np.zeros((24, 32, 3), np.uint8)
    for call in (lambda: matte.weights_at(0.3, (24, 32)), lambda: matte.apply(frame, frame, 0.3)):
        with pytest.raises(BadValueError, match="the mask matte.mp4 is closed: open a new Matte"):
            call()
    assert matte.cut_short() == ""
    still = tmp_path / "still.png"
    vidstyle.io.images.write_image(still, np.full((24, 32, 3), 255, np.uint8))
    with Matte(still) as image_matte:
        pass
    assert (image_matte.weights_at(0.3, (24, 32)) == 255).all()  # no file to read: still given


def test_what_a_run_leaves_set_in_the_process_is_what_the_readme_says(tmp_path, monkeypatch):
    """Found by a review of the Python API: the README's list of what vidstyle leaves set in the
    process (for a program that embeds it) left out torch.compile's graph limit, which a compiled
    network raises for good, and SVT_LOG, which an AV1 encode sets."""
    import os
    from pathlib import Path

    import torch._dynamo.config as dynamo_config

    from videos import Identity
    from vidstyle.stylizer import GRAPHS_PER_FUNCTION, _allow_a_graph_per_shape

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    name = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"  # torch < 2.6
    # set and put back by hand: monkeypatch's undo deletes the entry from torch's config module,
    # and every later compile in the process failed ("recompile_limit does not exist")
    before = getattr(dynamo_config, name)
    try:
        setattr(dynamo_config, name, 8)
        _allow_a_graph_per_shape()  # what building a compiled network does (Stylizer._build_forward)
        assert getattr(dynamo_config, name) == GRAPHS_PER_FUNCTION == 64
    finally:
        setattr(dynamo_config, name, before)
    assert "(`torch._dynamo.config.recompile_limit`) raised to at least 64" in readme
    monkeypatch.delenv("SVT_LOG", raising=False)
    clip = make_video(tmp_path / "in.mp4", frames=2, size=(64, 64))
    stylize_video(clip, tmp_path / "out.mp4", Identity(), codec="libsvtav1", temporal="off", progress=False)
    assert os.environ["SVT_LOG"] == "1" and "`SVT_LOG=1` unless set" in readme


def test_stylize_tensor_says_when_the_frames_are_not_on_the_networks_device():
    """Found by a review of the Python API: a tensor on another device than the network's (a CPU
    tensor given to a CUDA stylizer) failed inside PyTorch; on a machine without a GPU the meta
    device stands in for the other device."""
    st = _tiny(precision="fp32", backend="torch")
    with pytest.raises(BadValueError, match=r"the frames are on meta and the network on cpu: move them there "
                                            r"first \(x.to\(stylizer.device\)\)"):
        st.stylize_tensor(torch.rand(1, 3, 16, 16, device="meta"))
    assert st.stylize_tensor(torch.rand(1, 3, 16, 16, device="cpu")).device == st.device


def test_an_image_of_another_layout_is_refused_with_what_to_do_about_it():
    """Found by a review of the Python API: a grey (H, W) or (H, W, 1) image, an RGBA one (OpenCV's
    and PIL's usual kinds) and a (B, H, W, 3) stack given to stylize() were refused with their
    shape alone."""
    st = _tiny()
    grey = np.zeros((9, 16), np.uint8)
    for image, hint in ((grey, r"cv2.cvtColor\(image, cv2.COLOR_GRAY2RGB\)"), (grey[..., None], "COLOR_GRAY2RGB"),
                        (np.zeros((9, 16, 4), np.uint8), r"image\[\.\.\., :3\] drops the alpha channel"),
                        (np.zeros((2, 9, 16, 3), np.uint8), "a stack of frames where one goes: Stylizer.stylize_batch takes stacks")):
        with pytest.raises(BadValueError, match=r"expected a uint8 \(H, W, 3\) RGB image, got uint8 .*" + hint):
            st.stylize(image)
    assert st.stylize(np.zeros((9, 16, 3), np.uint8)).shape == (9, 16, 3)


def test_a_decoder_read_after_close_or_twice_says_so_at_the_call(tmp_path):
    """Found by a review of the Python API: vidstyle.io.VideoDecoder.read() after the with block
    gave the first frame and stopped, as if the video were one frame long; a second read() failed
    with "'NoneType' object has no attribute 'width'", and keyframes() after a read with a
    RuntimeError."""
    from vidstyle.io import VideoDecoder

    video = make_video(tmp_path / "in.mp4", frames=4, size=(32, 24))
    with VideoDecoder(video) as decoder:
        assert len(list(decoder.read())) == 4
        for call in (decoder.read, lambda: decoder.keyframes(2)):
            with pytest.raises(BadValueError, match="a VideoDecoder reads its segment once, and in.mp4's was read"):
                call()
    with pytest.raises(BadValueError, match=r"read\(\): the VideoDecoder of in.mp4 is closed; open a new one"):
        decoder.read()
    with VideoDecoder(video) as decoder:
        assert len(decoder.keyframes(2)) >= 1


def test_a_read_under_way_when_its_decoder_is_closed_ends_and_one_begun_after_is_refused(tmp_path):
    """Found by an adversarial review (57th session): close() now lets go of the stream and its
    decoders, and a read advanced after it (a program closing the decoder inside its loop, or
    taking read() inside the with block and iterating after it) failed with "'NoneType' object
    has no attribute 'codec_context'" (or 'duration'), where it had ended."""
    from vidstyle.io import VideoDecoder

    video = make_video(tmp_path / "in.mp4", frames=12, size=(32, 24))
    decoder = VideoDecoder(video)
    seen = 0
    for _ in decoder.read():
        seen += 1
        if seen == 5:
            decoder.close()  # stops the loop: the read has ended
    assert seen == 5
    with VideoDecoder(video) as decoder:
        frames = decoder.read()
    with pytest.raises(BadValueError, match=r"read\(\): the VideoDecoder of in.mp4 was closed before its frames "
                                            r"were read; read them inside the with block"):
        next(frames)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_a_closed_decoder_that_is_still_referenced_holds_no_ffmpeg_threads(tmp_path):
    """Found by a review of resources over many runs in one process: a closed VideoDecoder kept
    its stream, whose FFmpeg decoder kept its frame threads (invisible to threading.enumerate)
    for as long as anything referenced the decoder, such as the traceback of an error a program
    keeps: a batch that kept the errors of its failed inputs piled threads up."""
    import gc

    from vidstyle.io import VideoDecoder


    video = make_video(tmp_path / "in.mp4", frames=24, size=(160, 96), audio=True)
    gc.collect()
    before = len(os_threads())
    with VideoDecoder(video) as decoder:
        items = decoder.read({0: "copy"})
        assert sum(1 for _, _ in zip(range(10), items)) == 10  # stopped midway, as a failed run stops
        items.close()
    del items
    gc.collect()
    assert len(os_threads()) <= before  # the decoder itself is still here
    decoder.close()  # again: nothing to do
    with pytest.raises(BadValueError, match="is closed"):
        decoder.read()
    with VideoDecoder(video) as unread:  # nor the first frame, decoded on opening, never read
        pass
    assert unread._first is None


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_a_decoder_dropped_unclosed_after_a_read_lets_its_ffmpeg_threads_go_at_once(tmp_path):
    """Found by a review of resources: a VideoDecoder and its demuxing generator hold each other,
    so one a program dropped without close(), after a loop over its frames broke off or ran to
    the end, kept its FFmpeg frame threads (3 here) until the garbage collector ran. Left by the
    60th session: one opened for its info, or whose read was taken and never begun, and dropped,
    still did (the generator that finds the first frame on opening held it: 33 threads over 40
    such opens here)."""
    import gc

    from vidstyle.io import VideoDecoder


    video = make_video(tmp_path / "in.mp4", frames=24, size=(160, 96), audio=True)
    with VideoDecoder(video) as decoder:  # what a first one starts once
        decoder.read()
    gc.collect()
    before = os_threads()
    gc.disable()  # as between the collector's runs
    try:
        decoder = VideoDecoder(video)
        assert len(os_threads() - before) >= 1  # its frame threads, while it is open
        for item in decoder.read({0: "copy"}):
            break  # a loop broken off
        del decoder, item
        broken_off = os_threads() - before
        for item in VideoDecoder(video).read():  # read to the end, never closed
            pass
        del item
        read_through = os_threads() - before
        decoder = VideoDecoder(video)
        assert decoder.info.frames == 24
        del decoder  # opened for its info
        unread = os_threads() - before
        items = VideoDecoder(video).read()  # a read taken, never begun
        del items
        unread |= os_threads() - before
    finally:
        gc.enable()
    assert not broken_off and not read_through and not unread


def test_a_decoder_or_file_source_that_failed_to_open_says_nothing_more_when_dropped(tmp_path, monkeypatch):
    """Mutation testing, 60th session: the __del__ of a VideoDecoder or FileSource (which closes
    one dropped unclosed) closing one whose __init__ failed passed every test; `vidstyle stylize
    notes.mp4` (not a video) then printed "Exception ignored in: <function VideoDecoder.__del__>"
    and an AttributeError's traceback after its one line, as `vidstyle live --source` did. What
    Python would print there is collected here."""
    import gc
    import sys

    from vidstyle.io import VideoDecoder
    from vidstyle.io.capture import FileSource

    said = []
    monkeypatch.setattr(sys, "unraisablehook", said.append)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    sound = make_video(tmp_path / "in.mkv", frames=12, size=(64, 48), audio=True)
    for opening in (lambda: VideoDecoder(notes), lambda: FileSource(notes, realtime=False),
                    lambda: VideoDecoder(sound, start=5.0)):
        with pytest.raises(VidstyleError):
            opening()
        gc.collect()
    assert not said, [(hook.object, hook.exc_value) for hook in said]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_an_aborted_encoder_that_is_still_referenced_holds_no_ffmpeg_threads(tmp_path):
    """As a closed decoder (above): an aborted VideoEncoder kept its video stream, and with it
    libx264's threads, for as long as anything referenced it, such as the traceback of a failed
    run's error that a program keeps (4 threads an error)."""
    import gc

    from vidstyle.config import EncodeConfig
    from vidstyle.io import VideoDecoder, VideoEncoder


    video = make_video(tmp_path / "in.mp4", frames=4, size=(160, 96))
    with VideoDecoder(video) as decoder:
        info = decoder.info
    # the process's first libx264 encoder leaves threads for the process's life (2 here), which
    # later ones share: counted from after one, as they were where another test had encoded
    # first (run alone, this test failed with none of the encoder's own left)
    first = VideoEncoder(tmp_path / "first.mp4", info, EncodeConfig(codec="libx264"))
    first.write(np.zeros((96, 160, 3), np.uint8), 0)
    first.finish()
    del first
    gc.collect()
    before = len(os_threads())
    encoder = VideoEncoder(tmp_path / "out.mp4", info, EncodeConfig(codec="libx264"))
    for pts in range(12):  # a run that failed midway
        encoder.write(np.full((96, 160, 3), 20 * pts, np.uint8), pts)
    encoder.abort()
    gc.collect()
    assert len(os_threads()) <= before  # the encoder itself is still here
    encoder.abort()  # again: nothing to do


def test_the_stabilizers_flow_options_are_a_mapping_or_said_not_to_be():
    """Found by a review of the Python API: FlowStabilizer(flow_options="x") ended in a bare
    ValueError from dict(), flow_options=[1] in a TypeError."""
    for options in ("x", [1], 3):
        with pytest.raises(BadTypeError, match="flow_options must be a dict of the flow backend's options"):
            FlowStabilizer(0.5, flow_options=options)
    assert FlowStabilizer(0.5, flow_options={"preset": "ultrafast"}).flow_options == {"preset": "ultrafast"}


def test_a_stylizers_arguments_of_the_wrong_kind_are_type_errors():
    """Found by a review of the Python API: stylize_iter(batch_size="2") was a ValueError (every
    other setting of the wrong kind is a BadTypeError, also a TypeError), and set_mix(None) or
    set_mix(3) was called a mix "of shape ()"."""
    st = _tiny()
    for size, error in (("2", BadTypeError), (2.0, BadTypeError), (0, BadValueError)):
        with pytest.raises(error, match="batch_size must be a whole number, at least 1"):
            st.stylize_iter([], batch_size=size)
    for mix in (None, 3, b"a=1"):
        with pytest.raises(BadTypeError, match="a style mix is a dict of weights by style name"):
            st.set_mix(mix)
    st.set_mix(np.array([1.0]))
    assert len(list(st.stylize_iter([np.zeros((8, 8, 3), np.uint8)], batch_size=np.int64(2)))) == 1


def test_every_public_method_and_property_of_the_api_says_what_it_does():
    """Found by a review of the Python API: help(vidstyle.Stylizer) showed style_names and
    help(vidstyle.StylizeConfig) to_dict with no line of their own."""
    import inspect

    undocumented = []
    for name in vidstyle.__all__:
        cls = getattr(vidstyle, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        for member, value in vars(cls).items():
            function = value.fget if isinstance(value, property) else value
            if not member.startswith("_") and callable(function) and not inspect.getdoc(function):
                undocumented.append(f"{name}.{member}")
    assert undocumented == []


def test_a_type_checker_reads_each_lazy_name_of_the_package_from_its_home():
    """Found by a review of the Python API as a typed library: vidstyle's names load lazily
    (``__getattr__``), which a type checker does not run, so ``vidstyle.Stylizer`` and
    ``from vidstyle import stylize_video`` were Any to it and no call was checked. Each is
    imported again under ``if TYPE_CHECKING:``, from the module that ``_HOMES`` names."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(vidstyle))
    checked = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            checked.update({alias.name: stmt.module for stmt in node.body if isinstance(stmt, ast.ImportFrom)
                            for alias in stmt.names})
    assert checked == vidstyle._MODULE_OF


def test_every_parameter_of_the_public_api_has_a_type_hint():
    """Found by a review of the Python API as a typed library: ``style`` of stylize_video,
    stylize_image and stylize_files (and stylize_files' ``inputs``), submit_batch's ``stabilizer``
    and guide_tensors' ``device`` had none, so a type checker let any value through there."""
    import inspect

    bare = []
    for name in vidstyle.__all__:
        obj = getattr(vidstyle, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        members = ([(f"{name}.{m}", v) for m, v in vars(obj).items() if not m.startswith("_") or m == "__init__"]
                   if inspect.isclass(obj) else [(name, obj)])
        for label, value in members:
            function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if not inspect.isfunction(function):
                continue
            signature = inspect.signature(function)
            bare += [f"{label}({p.name})" for p in signature.parameters.values()
                     if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                     and p.annotation is p.empty]
            if function.__name__ != "__init__" and signature.return_annotation is signature.empty:
                bare.append(f"{label} -> ?")
    assert bare == []


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_stylizer_closes_letting_go_of_its_network_and_refuses_use_after(backend, tmp_path):
    """Found by a review of the Python API as a typed library: a Stylizer had no close() and was no
    context manager, so a caller done with it had nothing to call to free its network (an ONNX
    Runtime session and its threads) but to drop every reference and wait for the collector."""
    import gc
    import weakref

    image = np.full((16, 16, 3), 120, np.uint8)
    with _tiny(precision="fp32", backend=backend) as st:
        before = st.stylize(image)
        network, runner = weakref.ref(st.model), weakref.ref(st._forward)
    assert st.closed
    gc.collect()
    assert network() is None and runner() is None  # while `st` itself is still referenced
    for call in (lambda: st.stylize(image), lambda: st.stylize_batch(image[None]), lambda: st.submit_batch([image]),
                 lambda: st.stylize_iter([image]), lambda: st.set_mix([1.0]), lambda: st.expect_frames(10),
                 lambda: st.calibrate([image]), lambda: st.__enter__(),
                 lambda: st.stylize_tensor(torch.zeros(1, 3, 16, 16))):
        with pytest.raises(BadValueError, match=r"this Stylizer is closed \(close\(\) or the end of its with block\)"):
            call()
    st.close()  # again: nothing to do
    assert st.style_names == ["style0"] and st.choice is None  # what it was stays readable
    with pytest.raises(BadValueError, match="this Stylizer is closed"):
        stylize_video(make_video(tmp_path / "in.mp4", frames=2, size=(32, 32)), tmp_path / "out.mp4", style=st)
    assert not (tmp_path / "out.mp4").exists()
    fresh = _tiny(precision="fp32", backend=backend)
    np.testing.assert_array_equal(fresh.stylize(image), before)
    fresh.close()


def test_a_stylizer_closed_from_another_thread_lets_the_call_under_way_finish_and_then_returns():
    """close() while another thread stylizes waits for that call, which gives its frame, and then
    returns; the thread's next call is refused. A close() that did not wait freed the network
    under the call, and one that missed the call's end waited for ever."""
    import threading
    import time

    st = _tiny(precision="fp32", backend="torch")
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)  # (not flat: see _flat_colours)
    expected = st.stylize(image)
    inside, release = threading.Event(), threading.Event()
    st.model.register_forward_pre_hook(lambda *_: (inside.set(), release.wait(30)) and None)
    done, got = [], {}

    def stylizes():
        try:
            got["first"] = st.stylize(image)
            done.append("stylized")
            st.stylize(image)
        except BadValueError as exc:
            got["second"] = exc

    def closes():
        st.close()
        done.append("closed")

    user = threading.Thread(target=stylizes, daemon=True)
    user.start()
    assert inside.wait(30)
    closer = threading.Thread(target=closes, daemon=True)
    closer.start()
    for _ in range(3000):  # close() under way: later calls are refused from here
        if st.closed:
            break
        time.sleep(0.01)
    closer.join(0.2)  # (a close() that does not wait is done by now)
    waited = closer.is_alive() and done == []  # the call is held inside the network: close() cannot be done
    release.set()
    user.join(30)
    closer.join(30)
    assert not closer.is_alive() and not user.is_alive(), "close() never returned"
    assert waited and sorted(done) == ["closed", "stylized"]
    np.testing.assert_array_equal(got["first"], expected)
    assert "this Stylizer is closed" in str(got["second"]) and st.closed


def test_a_progress_function_that_cannot_take_done_and_total_is_refused_at_the_call(tmp_path):
    """Found by a review of the Python API as a typed library: progress=lambda done: ... ran the
    network and then stopped the run at the first frame with a bare TypeError from the encoding
    thread ("<lambda>() takes 1 positional argument but 2 were given")."""
    from vidstyle.pipeline import ProgressLines, stylize_files, stylize_image

    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32))
    for wrong, shown in ((lambda done: None, r"<lambda>\(done\)"), (lambda: None, r"<lambda>\(\)"),
                         (lambda done, total, extra: None, r"<lambda>\(done, total, extra\)"),
                         (lambda *, done, total: None, r"<lambda>\(\*, done, total\)")):
        for run in (lambda: stylize_video(video, tmp_path / "out.mp4", "light_mondrian", progress=wrong),
                    lambda: stylize_image(video, tmp_path / "out.png", "light_mondrian", progress=wrong),
                    lambda: stylize_files([video], tmp_path / "styled", "light_mondrian", progress=wrong)):
            with pytest.raises(BadTypeError, match=r"progress is called as progress\(done, total\), two arguments "
                                                   rf"\(total may be None\); {shown} cannot take them"):
                run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    seen = []
    for fine in (lambda done, total: seen.append(done), lambda *counts: None, lambda done, total=None, more=1: None,
                 ProgressLines(), print):
        stylize_video(video, tmp_path / "out.mp4", "light_mondrian", progress=fine, overwrite=True, temporal="off")
    assert seen == [1, 2]


def test_the_run_functions_take_and_are_hinted_to_take_any_path_object(tmp_path):
    """Found by a review of the Python API as a typed library: stylize_video and stylize_image
    took any os.PathLike for input and output, and stylize_files for its folder, but were hinted
    ``str | Path``, so a type checker refused a path object of another kind."""
    import os
    import typing

    from PIL import Image

    from vidstyle.pipeline import stylize_files, stylize_image

    class Where(os.PathLike):  # a path object that is no pathlib.Path
        def __init__(self, path):
            self.path = path

        def __fspath__(self):
            return os.fspath(self.path)

    video, picture = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32)), tmp_path / "in.png"
    Image.new("RGB", (32, 32), (200, 60, 30)).save(picture)
    assert stylize_video(Where(video), Where(tmp_path / "out.mp4"), "light_mondrian", temporal="off").frames == 2
    assert stylize_image(Where(picture), Where(tmp_path / "out.png"), "light_mondrian").frames == 1
    done = list(stylize_files([Where(video), Where(picture)], Where(tmp_path / "styled"), "light_mondrian",
                              temporal="off"))
    assert [type(result).__name__ for _, result in done] == ["StylizeResult"] * 2
    for function, names in ((stylize_video, ("input", "output")), (stylize_image, ("input", "output")),
                            (stylize_files, ("folder",))):
        hints = typing.get_type_hints(function)
        assert all(os.PathLike[str] in typing.get_args(hints[name]) for name in names), function.__name__


def test_closing_a_stylizer_while_another_thread_stylizes_lets_that_batch_finish(monkeypatch):
    """Found by an adversarial review of close(): closed from one thread (a GUI's stop button) while
    stylize_video ran it in another, the run stopped with "AttributeError: 'NoneType' object has no
    attribute 'size_multiple'" from inside the network (its model freed under it) about every
    other try. The batch under way now finishes, and the next call says the stylizer is closed."""
    import threading

    st = _tiny(precision="fp32", backend="torch")
    image = np.full((16, 16, 3), 120, np.uint8)
    expected = st.stylize(image)
    inside, go = threading.Event(), threading.Event()
    network = st._stylize_tensor

    def held(*args, **kwargs):  # the batch stays inside the network until the close has begun
        inside.set()
        go.wait()
        return network(*args, **kwargs)

    monkeypatch.setattr(st, "_stylize_tensor", held)
    got: dict = {}

    def stylize():
        try:
            got["frame"] = st.stylize(image)
        except Exception as exc:  # noqa: BLE001 - what it fails with is the test's
            got["error"] = exc

    worker = threading.Thread(target=stylize)
    worker.start()
    assert inside.wait(60)
    closer = threading.Thread(target=st.close)
    closer.start()
    closer.join(1.0)  # (not an assertion: fixed, it waits for the batch; before, it was done at once)
    go.set()
    worker.join(60)
    closer.join(60)
    assert "error" not in got, got.get("error")
    np.testing.assert_array_equal(got["frame"], expected)
    assert st.closed and st.model is None
    with pytest.raises(BadValueError, match="this Stylizer is closed"):
        st.stylize(image)


def test_a_file_that_is_not_there_is_a_file_not_found_error_as_python_code_expects(tmp_path):
    """Found by a review of the Python API as embedded in a program: a missing input, model file,
    mask or output folder was a plain VidstyleError, so ``except FileNotFoundError``, what a caller
    writes around anything given a path, let it through. Now a MissingFileError, both."""
    from vidstyle.eval import evaluate_videos
    from vidstyle.pipeline import stylize_image

    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32))
    calls = {
        "input file not found": lambda: stylize_video(tmp_path / "none.mp4", tmp_path / "o.mp4", "light_mondrian"),
        "input file not found: ": lambda: stylize_image(tmp_path / "none.png", tmp_path / "o.png", "light_mondrian"),
        "model file not found": lambda: Stylizer(tmp_path / "none.safetensors"),
        "mask not found": lambda: stylize_video(video, tmp_path / "o.mp4", "light_mondrian", mask=tmp_path / "m.png"),
        "output folder does not exist": lambda: stylize_video(video, tmp_path / "no" / "o.mp4", "light_mondrian"),
        "stylized video not found": lambda: evaluate_videos(video, tmp_path / "none.mp4"),  # check_named_inputs
    }
    for message, call in calls.items():
        with pytest.raises(vidstyle.MissingFileError, match=message) as caught:
            call()
        assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, VidstyleError)
        assert "\n" not in str(caught.value) and "Errno" not in str(caught.value)
    assert not (tmp_path / "o.mp4").exists()


def test_an_output_already_there_is_a_file_exists_error_as_python_code_expects(tmp_path):
    """Found by a review of the Python API as embedded in a program: an output already there,
    without overwrite=True, was a plain VidstyleError, where ``open(path, "x")`` raises a
    FileExistsError, the type a caller that skips done work catches. Now an OutputExistsError, both."""
    from vidstyle.pipeline import stylize_files, stylize_image

    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32))
    picture = tmp_path / "in.png"
    picture.write_bytes(b"")  # the output is checked before the input is read
    done = tmp_path / "done"
    done.mkdir()
    for name in ("o.mp4", "o.png", "in.mp4", "frame_0001.png"):
        (done / name).write_bytes(b"kept")
    calls = {
        "o.mp4 already exists": lambda: stylize_video(video, done / "o.mp4", "light_mondrian"),
        "o.png already exists": lambda: stylize_image(picture, done / "o.png", "light_mondrian"),
        "in.mp4 already exists": lambda: stylize_files([video], done, "light_mondrian"),
        "already holds frames": lambda: stylize_video(video, done / "frame_%04d.png", "light_mondrian"),
    }
    for message, call in calls.items():
        with pytest.raises(vidstyle.OutputExistsError, match=message) as caught:
            call()
        assert isinstance(caught.value, FileExistsError) and isinstance(caught.value, VidstyleError)
        assert "Errno" not in str(caught.value)
    assert all(f.read_bytes() == b"kept" for f in done.iterdir())


def test_expect_frames_says_a_wrong_kind_as_a_type_error_as_every_other_setting():
    """Found by a review of the Python API: expect_frames("600") and expect_frames(1.5) were
    ValueErrors, where every other count (batch_size="2", max_side=100.5) is a TypeError."""
    st = _tiny(precision="fp32", backend="torch")
    for wrong in ("600", 1.5, True):
        with pytest.raises(BadTypeError, match=r"frames must be a whole number of frames, at least 0, or None"):
            st.expect_frames(wrong)
    with pytest.raises(BadValueError, match=r"frames must be .*, got -1"):
        st.expect_frames(-1)
    st.expect_frames(np.int64(10))
    st.expect_frames(None)


def test_style_sheet_is_hinted_to_take_what_it_takes(tmp_path):
    """Found by a review of the Python API as a typed library: style_sheet (the README's preview
    call) took any path object, one style or any iterable of them (Styles entries too), and a
    folder's frame rate, but was hinted ``str | Path``, ``list[str]`` and nothing, so a type
    checker refused ``style_sheet(path, out, "starry_night")`` and let any ``fps`` through."""
    import os
    import typing

    from vidstyle.preview import style_sheet

    class Where(os.PathLike):  # a path object that is no pathlib.Path
        def __init__(self, path):
            self.path = path

        def __fspath__(self):
            return os.fspath(self.path)

    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32))
    result = style_sheet(Where(video), Where(tmp_path / "sheet.png"), Styles.LIGHT_MONDRIAN, frames=1, width=32)
    assert result.styles == 1 and (tmp_path / "sheet.png").is_file()
    hints = typing.get_type_hints(style_sheet, localns={"torch": torch})  # (torch: a type-checking import)
    assert all(os.PathLike[str] in typing.get_args(hints[name]) for name in ("input", "output"))
    assert {str, Styles, type(None)} <= set(typing.get_args(hints["styles"]))
    assert typing.get_args(hints["fps"]) == (float, str, type(None))


def test_every_public_frame_rate_of_a_folder_is_hinted_as_style_sheets_is():
    """Found by running mypy over the package: a folder of frames' rate is read by one parser
    (vidstyle.io.sequence.sequence_fps), which takes text such as "30000/1001" as style_sheet's
    hint says, but StylizeConfig's ``sequence_fps`` was hinted ``float | None`` (a type checker
    refused the exact NTSC rate as text, which the call takes) and eval's read_frames,
    evaluate_videos and evaluate_style had no hint for ``fps`` (any value let through)."""
    import typing

    from vidstyle.config import StylizeConfig
    from vidstyle.eval import evaluate_style, evaluate_videos, read_frames

    assert StylizeConfig(sequence_fps="30000/1001").sequence_fps == "30000/1001"  # taken, as style_sheet's fps
    hints = typing.get_type_hints(StylizeConfig, localns={"torch": torch})
    assert typing.get_args(hints["sequence_fps"]) == (float, str, type(None))
    for function in (read_frames, evaluate_videos, evaluate_style):
        assert typing.get_args(typing.get_type_hints(function)["fps"]) == (float, str, type(None)), function.__name__


def test_every_public_device_setting_is_hinted_to_take_a_torch_device():
    """style_sheet's device was hinted ``str`` though a torch.device works, as it does for every
    device setting (review, 56th session): a type checker refused ``device=torch.device("cpu")``."""
    import typing

    from vidstyle.config import StylizeConfig
    from vidstyle.flow.estimate import RAFTFlow
    from vidstyle.preview import style_sheet

    for owner in (style_sheet, Stylizer.__init__, Stylizer.from_model, RAFTFlow.__init__, StylizeConfig):
        # modules that load without torch import it only for type checkers: it is given here
        hints = typing.get_type_hints(owner, localns={"torch": torch})
        assert typing.get_args(hints["device"]) == (str, torch.device), owner.__qualname__


def test_stylize_image_refuses_an_encoders_option_as_a_keyword_it_does_not_take(tmp_path):
    """Found by a review of the Python API: stylize_image(..., crf=20) was a plain VidstyleError,
    where a keyword a function does not take (bacth=2 here, as anywhere in Python) is a TypeError."""
    from vidstyle.pipeline import stylize_image

    for option in (dict(crf=20), dict(codec="libx264"), dict(no_audio=True)):
        with pytest.raises(BadTypeError, match=r"stylize_image\(\) writes a still image: \w+ does not apply"):
            stylize_image(tmp_path / "in.png", tmp_path / "out.png", "light_mondrian", **option)
    assert not (tmp_path / "out.png").exists()


def test_a_results_counts_and_times_say_their_units():
    """Found by a review of the Python API: StylizeResult's frames, seconds, fps and output had no
    word of their own (its other fields each have one), so whether ``seconds`` counted loading the
    network, or ``fps`` was the input's frame rate, was left to guess."""
    import inspect

    from vidstyle.pipeline import StylizeResult

    doc = inspect.getdoc(StylizeResult)
    for field in ("frames", "seconds", "fps", "output"):
        assert f"``{field}``:" in doc, field
    assert "wall-clock" in doc and "stylize_image" in doc


def test_stylize_files_refuses_a_closed_or_mismatched_ready_stylizer_at_the_call(tmp_path):
    """Found by a review of the Python API: stylize_files(..., style=a closed Stylizer) checked
    every input and output at the call but not the stylizer, then yielded each input as failed with
    the same "this Stylizer is closed" (a ready stylizer given style_strength= it was not built
    with, likewise, once iterated): one argument's error said once per input, as the inputs' own."""
    from vidstyle.pipeline import stylize_files

    video = make_video(tmp_path / "in.mp4", frames=2, size=(32, 32))
    closed = _tiny(precision="fp32", backend="torch")
    closed.close()
    for style in (closed, [(0, "light_mondrian"), (1, closed)]):
        with pytest.raises(BadValueError, match="this Stylizer is closed"):
            stylize_files([video], tmp_path / "styled", style)  # at the call: not iterated
    with pytest.raises(VidstyleError, match="do not apply to a ready stylizer"):
        stylize_files([video], tmp_path / "styled", _tiny(precision="fp32", backend="torch"), style_strength=0.5)
    assert not (tmp_path / "styled").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_a_decoder_closed_from_another_thread_while_a_read_runs_there_lets_go_when_the_read_has_control(tmp_path):
    """Left by the 60th session: the pipeline closes its decoder from the calling thread once it
    gives up on a stuck decode stage (5 s after a second Ctrl-C), and close() then failed with
    "ValueError: generator already executing" (freeing, had it gone on, the demuxer and decoder
    the reading thread was inside). Now close() returns at once and the reading thread lets go of
    the file, and its FFmpeg threads, when it next has control; its read ends there."""
    import gc
    import threading

    from vidstyle.io import VideoDecoder

    video = make_video(tmp_path / "in.mp4", frames=24, size=(160, 96), audio=True)
    with VideoDecoder(video) as decoder:  # what a first one starts once
        decoder.read()
    gc.collect()
    before = len(os_threads())
    decoder = VideoDecoder(video)
    items = decoder.read({0: "copy"})
    next(items)
    inside, go_on = threading.Event(), threading.Event()
    decode = decoder._packets.decode

    def stuck_decode(*args, **kwargs):  # the reading thread, held inside the demuxing generator
        inside.set()
        go_on.wait(10)
        return decode(*args, **kwargs)

    decoder._packets.decode = stuck_decode
    got, failed = [], []

    def reads():
        try:
            for item in items:
                got.append(item)
        except BaseException as exc:  # noqa: BLE001 - what the reading thread met
            failed.append(exc)

    reader = threading.Thread(target=reads, daemon=True)
    reader.start()
    assert inside.wait(10)
    decoder.close()  # from this thread, the read under way on the other
    handed_out = len(got)  # (the reading thread is held inside the decode)
    assert decoder._video is not None  # not freed under the reading thread
    go_on.set()
    reader.join(10)
    assert not reader.is_alive() and not failed, failed
    # the read ended where it next had control: nothing more was handed out (mutation testing,
    # 61st session: one more item passed every test)
    assert len(got) == handed_out
    assert decoder._video is None  # let go of by the reading thread
    items = got = None  # let go of (the reading thread has ended)
    gc.collect()
    assert len(os_threads()) <= before


def test_a_decoder_closed_from_another_thread_while_keyframes_runs_there_lets_go_when_they_are_taken(tmp_path,
                                                                                                     monkeypatch):
    """Mutation testing, 61st session: keyframes() holds the reading lock as a read does, so a
    close() from another thread meanwhile frees nothing under it (without the lock, the keyframes
    failed on the decoders let go of), and it lets go of the file once they are taken (without
    that, a decoder kept alive kept its stream and its decoders after close())."""
    import threading

    from vidstyle.io import VideoDecoder
    from vidstyle.io.display import DisplayConversion

    video = make_video(tmp_path / "in.mp4", frames=24, size=(160, 96), gop=4)
    decoder = VideoDecoder(video)
    inside, go_on = threading.Event(), threading.Event()
    image = DisplayConversion.image

    def stuck_picture(self, frame):  # the first frame's picture, before any seek
        inside.set()
        go_on.wait(10)
        return image(self, frame)

    monkeypatch.setattr(DisplayConversion, "image", stuck_picture)
    got, failed = [], []

    def takes():
        try:
            got.extend(decoder.keyframes(3))
        except BaseException as exc:  # noqa: BLE001 - what the other thread met
            failed.append(exc)

    taker = threading.Thread(target=takes, daemon=True)
    taker.start()
    assert inside.wait(10)
    decoder.close()  # from this thread, keyframes() under way on the other
    assert decoder._video is not None  # not freed under it
    go_on.set()
    taker.join(10)
    assert not taker.is_alive() and not failed, failed
    assert len(got) == 3  # the first frame and two keyframes: taken whole
    assert decoder._video is None  # let go of by the thread that took them


class _ClosedJustBefore:
    """A decoder's reading lock whose first blocking acquire lets ``close()`` run on another
    thread first: a close that lands between a read's check that the decoder is open and its
    taking the lock (a few bytecodes apart)."""

    def __init__(self, decoder):
        self._lock, self._decoder, self._fired = decoder._reader, decoder, False

    def acquire(self, blocking=True):
        import threading

        if blocking and not self._fired:
            self._fired = True
            closing = threading.Thread(target=self._decoder.close)
            closing.start()
            closing.join(10)
        return self._lock.acquire(blocking)

    def release(self):
        self._lock.release()

    def __enter__(self):
        self.acquire()

    def __exit__(self, *exc):
        self.release()


@pytest.mark.parametrize("what", ["read", "keyframes"])
def test_a_close_from_another_thread_just_as_a_read_begins_ends_it_as_a_close_before_it(tmp_path, what):
    """A close() from another thread between a read's (or keyframes()') check that the decoder is
    open and its taking the reading lock let go of the file there, and the read went on into
    what it had let go of: AttributeError: 'NoneType' object has no attribute 'duration' (for
    keyframes(), 'width'). Now the read is refused as one begun after close() is."""
    from vidstyle.io import VideoDecoder

    video = make_video(tmp_path / "in.mp4", frames=24, size=(160, 96), gop=4)
    decoder = VideoDecoder(video)
    decoder._reader = _ClosedJustBefore(decoder)
    with pytest.raises(BadValueError, match="closed"):
        if what == "read":
            list(decoder.read())
        else:
            decoder.keyframes(4)
    assert decoder._video is None  # let go of, once
