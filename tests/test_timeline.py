"""A style that changes along a video: --style-at, --crossfade (vidstyle.timeline) through the pipeline."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from videos import decoded_frames, make_video
from videos import mean_difference as differs
from videos import stylized_frames as frames_of
from vidstyle.config import DEFAULT_CROSSFADE
from vidstyle.errors import VidstyleError
from vidstyle.models.transformer import TransformerNet
from vidstyle.models.weights import save_model
from vidstyle.models.zoo import Styles
from vidstyle.pipeline import stylize_files, stylize_video
from vidstyle.timeline import StyleChange, StyleTimeline, TimelineStylizer, parse_clock, parse_style_change

# --- times and weights (pure) -------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("75", 75), ("75.5", 75.5), ("1:15", 75), ("1:15.5", 75.5),
                                           ("0:01:15", 75), ("1:02:03.5", 3723.5), (" 2 ", 2), ("0", 0),
                                           ("1 : 15", 75)])
def test_clock_times_as_people_write_them(text, seconds):
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("text", ["", "1::2", "1:60", "1:2:3:4", "-1", "abc", "1.5:30", "nan", "inf", "1:-5",
                                  # Python's number syntax is not a time a person writes: 1_0 read as 10
                                  "1_0", "1e2", "\uff11\uff12", "1:\uff13\uff10", "+5", "0x10",
                                  # past any float: OverflowError, a traceback from --start, until caught
                                  "9" * 400, "9" * 400 + ":00"])
def test_what_is_not_a_time(text):
    with pytest.raises(ValueError):
        parse_clock(text)


def test_a_style_change_splits_at_the_first_equals_sign():
    assert parse_style_change("12.5=the_scream") == StyleChange(12.5, "the_scream")
    assert parse_style_change("1:05=mix:starry_night=0.5,the_scream=0.5") == \
        StyleChange(65.0, "mix:starry_night=0.5,the_scream=0.5")
    for bad in ("the_scream", "12.5=", "=the_scream", "soon=the_scream"):
        with pytest.raises(VidstyleError, match="TIME=STYLE|not a time"):
            parse_style_change(bad)


def test_a_dissolve_is_centred_on_its_change_and_linear():
    timeline = StyleTimeline([(0, "a"), (10, "b")], crossfade=2)
    assert timeline.weights_at(0) == ((0, 1.0),)
    assert timeline.weights_at(8.99) == ((0, 1.0),)
    assert timeline.weights_at(9) == ((0, 1.0),)  # the dissolve's first moment: all old style
    (i, a), (j, b) = timeline.weights_at(9.5)
    assert (i, j) == (0, 1) and a == pytest.approx(0.75) and b == pytest.approx(0.25)
    assert [w for _, w in timeline.weights_at(10)] == pytest.approx([0.5, 0.5])
    assert timeline.weights_at(11) == ((1, 1.0),)
    assert timeline.weights_at(1e6) == ((1, 1.0),)


def test_zero_crossfade_cuts_at_the_change():
    timeline = StyleTimeline([(0, "a"), (10, "b")], crossfade=0)
    assert timeline.weights_at(9.999) == ((0, 1.0),)
    assert timeline.weights_at(10) == ((1, 1.0),)


def test_changes_closer_than_the_crossfade_get_shorter_dissolves_that_never_overlap():
    timeline = StyleTimeline([(10.4, "c"), (0, "a"), (10, "b")], crossfade=1)  # order does not matter
    assert [c.style for c in timeline.changes] == ["a", "b", "c"]
    # b's dissolve: at most half of the 0.4 s gap to c either side of 10 s
    assert timeline.weights_at(9.79) == ((0, 1.0),)
    assert [w for _, w in timeline.weights_at(10)] == pytest.approx([0.5, 0.5])
    assert timeline.weights_at(10.2) == ((1, 1.0),)
    assert [i for i, _ in timeline.weights_at(10.3)] == [1, 2]
    assert timeline.weights_at(10.6) == ((2, 1.0),)
    for t in np.linspace(0, 12, 241):  # never more than two styles, weights summing to 1
        w = timeline.weights_at(float(t))
        assert len(w) <= 2 and sum(x for _, x in w) == pytest.approx(1.0) and all(x > 0 for _, x in w)


def test_timelines_are_checked():
    with pytest.raises(VidstyleError, match="starts at 0 s"):
        StyleTimeline([(5, "a"), (10, "b")])
    with pytest.raises(VidstyleError, match="two styles change in at 10 s"):
        StyleTimeline([(0, "a"), (10, "b"), (10, "c")])
    with pytest.raises(VidstyleError, match="at least one"):
        StyleTimeline([])
    with pytest.raises(VidstyleError, match=">= 0"):
        StyleTimeline([(0, "a"), (-1, "b")])
    with pytest.raises(VidstyleError, match="crossfade"):
        StyleTimeline([(0, "a")], crossfade=-1)
    with pytest.raises(VidstyleError, match="pair"):
        StyleTimeline([(0, "a", "b")])
    with pytest.raises(TypeError, match="list of"):
        StyleTimeline("starry_night")
    assert StyleTimeline([(0, "a")]).crossfade == DEFAULT_CROSSFADE
    assert StyleTimeline([(0, "a"), (12.5, "b")], crossfade=0.5).describe() == "a, b from 12.5 s (0.5 s dissolves)"
    assert StyleTimeline([(0, "a"), (3, "b")], crossfade=0).describe() == "a, b from 3 s (cuts)"
    # the dissolves as run: shortened by a change close by, or by a segment's start
    assert StyleTimeline([(0, "a"), (5, "b"), (5.4, "c")], crossfade=1).describe() == \
        "a, b from 5 s (0.4 s dissolve), c from 5.4 s (0.4 s dissolve)"
    assert StyleTimeline([(0, "a"), (5, "b")], crossfade=1).starting_at(4.8).describe() == "a, b from 5 s (0.4 s dissolve)"
    # a segment's summary opens with the style its first frame is painted in (b cuts in at 5 s)
    assert StyleTimeline([(0, "a"), (5, "b")], crossfade=1).starting_at(5).describe() == "b"


def test_a_summary_names_a_bundled_multi_style_file_not_its_path_in_the_package():
    # Styles.LIGHT_MIX comes as the file's path inside the installed package
    assert StyleTimeline([(0, Styles.LIGHT_MIX), (5, "starry_night")]).describe() == \
        "light_mix, starry_night from 5 s (1 s dissolves)"


# --- the stylizer over a timeline, with stand-in networks ----------------------------------------


class Flat:
    """A stand-in stylizer painting every frame one colour, counting its calls."""

    def __init__(self, value: int, path=None):
        self.value, self.calls = value, []
        self.choice = SimpleNamespace(path=path)

    def stylize_batch(self, images):
        self.calls.append(len(images))
        return [np.full_like(i, self.value) for i in images]


def flat_painters(values: dict):
    made = []

    def make(spec):
        made.append(spec)
        return Flat(values[spec])
    return make, made


def test_each_network_paints_only_its_frames_in_one_call_and_dissolves_mix_outputs():
    make, made = flat_painters({"starry_night": 0, "the_scream": 200})
    timeline = StyleTimeline([(0, "starry_night"), (1, "the_scream"), (2, "starry_night")], crossfade=0.5)
    stylizer = TimelineStylizer(timeline, make)
    assert made == ["starry_night", "the_scream"]  # A -> B -> A loads A once
    images = [np.zeros((4, 6, 3), np.uint8)] * 6
    out = stylizer.stylize_batch_at(images, [0.0, 0.8, 0.875, 1.0, 1.5, 2.0])
    assert [int(o[0, 0, 0]) for o in out] == [0, 20, 50, 100, 200, 100]
    a, b = stylizer.painters
    assert a.calls == [5] and b.calls == [5]  # frames 0-3 and 5; frames 1-5: one call each
    assert all(o.dtype == np.uint8 and o.shape == (4, 6, 3) for o in out)
    assert int(stylizer.stylize_batch(images[:1])[0][0, 0, 0]) == 0  # a still: the moment 0 s
    # a stabilizer carries over inside a dissolve, and starts over across a cut
    assert stylizer.continuous(0.5, 0.8) and stylizer.continuous(0.8, 1.3)
    cut = TimelineStylizer(StyleTimeline([(0, "starry_night"), (1, "the_scream")], crossfade=0), make)
    assert cut.continuous(0.9, 0.95) and not cut.continuous(0.95, 1.0)


def test_unknown_styles_fail_before_any_network_is_made():
    make, made = flat_painters({"starry_night": 0})
    with pytest.raises(VidstyleError, match="the_screem"):
        TimelineStylizer(StyleTimeline([(0, "starry_night"), (3, "the_screem")]), make)
    assert made == []


def test_the_stabilizer_strength_follows_each_styles_own():
    shipwreck, starry = Styles.SHIPWRECK.value, Styles.STARRY_NIGHT.value
    assert shipwreck.temporal_strength != (starry.temporal_strength or 0.5)  # the premise of this test
    values = {"starry_night": 0, "shipwreck": 1}
    stylizer = TimelineStylizer(StyleTimeline([(0, "starry_night"), (2, "shipwreck")], crossfade=1),
                                lambda spec: Flat(values[spec], path=Styles[spec.upper()].value.path))
    assert stylizer.strengths_differ()
    assert stylizer.temporal_strength_at(0) == pytest.approx(0.5)
    assert stylizer.temporal_strength_at(2) == pytest.approx((0.5 + shipwreck.temporal_strength) / 2)
    assert stylizer.temporal_strength_at(3) == pytest.approx(shipwreck.temporal_strength)
    same = TimelineStylizer(StyleTimeline([(0, "starry_night"), (2, "the_scream")]),
                            lambda spec: Flat(0, path=Styles[spec.upper()].value.path))
    assert not same.strengths_differ() and same.strengths_differ(0.8) is False


# --- through the pipeline, with real (small, random) networks ------------------------------------


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("styles")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = folder / f"random{seed}.safetensors"
        save_model(path, TransformerNet((8, 16, 16), num_residual=1).eval(), styles=[{"name": f"random{seed}"}])
        paths.append(str(path))
    return paths


def test_frames_are_painted_in_the_style_of_their_moment_on_the_inputs_clock(tmp_path, two_styles):
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    only_a = frames_of(src, tmp_path / "a", a, temporal="off", batch=4)
    only_b = frames_of(src, tmp_path / "b", b, temporal="off", batch=4)
    assert min(differs(x, y) for x, y in zip(only_a, only_b)) > 10  # the two styles are told apart

    # a cut at 0.5 s (frame 4 of 8 per second), batches straddling it
    cut = frames_of(src, tmp_path / "cut", StyleTimeline([(0, a), (0.5, b)], crossfade=0), temporal="off", batch=3)
    assert [differs(x, y) < 1 for x, y in zip(cut, only_a)] == [True] * 4 + [False] * 8
    assert [differs(x, y) < 1 for x, y in zip(cut, only_b)] == [False] * 4 + [True] * 8

    # the dissolve: 0.5 s around 1 s (frames 6 to 10), each frame between the two styles' outputs
    dissolve = frames_of(src, tmp_path / "dissolve", StyleTimeline([(0, a), (1.0, b)], crossfade=0.5),
                         temporal="off", batch=4)
    for k in range(12):
        t = k / 8
        w = min(1.0, max(0.0, (t - 0.75) / 0.5))
        expected = (1 - w) * only_a[k].astype(np.float32) + w * only_b[k].astype(np.float32)
        assert differs(dissolve[k], np.rint(expected).astype(np.uint8)) < 1, k

    # --start: times stay on the input's clock, so the cut at 0.5 s comes 0.25 s into the output
    later = frames_of(src, tmp_path / "later", StyleTimeline([(0, a), (0.5, b)], crossfade=0), temporal="off",
                      start=0.25)
    assert len(later) == 10
    assert [differs(x, y) < 1 for x, y in zip(later, only_a[2:])] == [True] * 2 + [False] * 8
    assert [differs(x, y) < 1 for x, y in zip(later, only_b[2:])] == [False] * 2 + [True] * 8


def test_the_stabilizer_starts_over_at_a_cut_between_styles(tmp_path, two_styles):
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=10, size=(96, 64), fps=8)
    only_b = frames_of(src, tmp_path / "b", b, temporal="off")
    steady = frames_of(src, tmp_path / "steady", StyleTimeline([(0, a), (0.5, b)], crossfade=0),
                       temporal="flow", temporal_strength=0.9)
    # frame 4, the first in the new style: b's own output, nothing of a's blended in
    assert differs(steady[4], only_b[4]) < 1
    # and from there the stabilizer works again (frame 5 is blended with frame 4)
    assert differs(steady[5], only_b[5]) > 0


def test_the_stabilizer_starts_over_at_a_cut_between_styles_that_look_alike(tmp_path, two_styles):
    # the stabilizer's own brightness gate turns the blend down between two styles of different
    # brightness; between two that look alike (here one network under two names) only the cut's
    # dropped flow state keeps the first style's frame from being blended into the second's
    import shutil

    a = two_styles[0]
    twin = str(shutil.copy(a, tmp_path / "twin.safetensors"))
    src = make_video(tmp_path / "in.mp4", frames=8, size=(96, 64), fps=8)
    plain = frames_of(src, tmp_path / "plain", a, temporal="off")
    steady = frames_of(src, tmp_path / "steady", StyleTimeline([(0, a), (0.5, twin)], crossfade=0),
                       temporal="flow", temporal_strength=0.9)
    assert differs(steady[3], plain[3]) > 0  # blended before the cut: the stabilizer is at work
    assert differs(steady[4], plain[4]) < 1  # the first frame after the cut starts over
    assert differs(steady[5], plain[5]) > 0


def test_timelines_through_the_python_api_and_stylize_files(tmp_path, two_styles):
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=6, size=(64, 48), fps=8)
    result = stylize_video(src, tmp_path / "out.mp4", style=[(0, a), (0.25, b)], device="cpu", progress=False)
    assert result.frames == 6
    # (the dissolve is as long as it can be, centred on 0.25 s from the start: 0.5 s, not 1)
    assert "random0.safetensors, " in result.summary() and "from 0.25 s (0.5 s dissolve)" in result.summary()
    with pytest.raises(VidstyleError, match="no_such_style"):
        stylize_files([src], tmp_path / "folder", style=[(0, a), (1, "no_such_style")])
    assert not (tmp_path / "folder").exists()


def test_cli_style_at_crossfade_and_clock_times(tmp_path, two_styles, cli):
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=16, size=(64, 48), fps=8)
    out = tmp_path / "out.mp4"
    run = cli("stylize", src, "-o", out, "--style", a, "--style-at", f"0:01={b}", "--crossfade", "0.25",
                   "--start", "0:00.5", "--duration", "0:01", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert "random1.safetensors from 1 s (0.25 s dissolves)" in run.stderr and "stylized 8 frames" in run.stderr

    bad = cli("stylize", src, "-o", tmp_path / "bad.mp4", "--style", a, "--style-at", "soon=" + b)
    assert bad.returncode == 2 and "not a time" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.mp4").exists()
    negative = cli("stylize", src, "-o", tmp_path / "bad.mp4", "--style", a, "--style-at", f"-1={b}")
    assert negative.returncode == 2 and "'-1' in '-1=" in negative.stderr and "is not a time" in negative.stderr
    twice = cli("stylize", src, "-o", tmp_path / "bad.mp4", "--style", a, "--style-at", f"0={b}")
    assert twice.returncode != 0 and twice.stderr.strip() == (
        f"vidstyle: error: two styles change in at 0 s: --style {a} and --style-at 0={b}; the video begins in "
        f"--style's, so give --style {b} instead")
    assert "Traceback" not in twice.stderr
    lone = cli("stylize", src, "-o", tmp_path / "lone.mp4", "--style", a, "--crossfade", "2",
                "--device", "cpu", "--quiet")
    assert lone.returncode == 0 and "--crossfade is for --style-at changes" in lone.stderr


@pytest.mark.parametrize("start", [None, 0.5])
def test_the_inputs_clock_starts_at_its_first_frame_even_when_its_timestamps_do_not(tmp_path, start):
    from vidstyle.io import VideoDecoder

    src = make_video(tmp_path / "late.mkv", frames=24, size=(64, 48), fps=8,
                     container_options={"output_ts_offset": "10"})
    with VideoDecoder(src, start=start) as decoder:
        times = [float(f.time + decoder.clock_offset) for f in decoder.read()]
    first = start or 0.0
    assert times[0] == pytest.approx(first, abs=1e-3) and times[1] == pytest.approx(first + 0.125, abs=1e-3)


def test_the_style_none_is_the_input_as_it_is(tmp_path, two_styles):
    a, _ = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    original = decoded_frames(src)
    only_a = frames_of(src, tmp_path / "a", a, temporal="off")
    # the original until 0.5 s, dissolving into a's painting by 0.75 s, and back out from 1.25 s
    out = frames_of(src, tmp_path / "fade", StyleTimeline([(0, "none"), (0.625, a), (1.25, "none")], crossfade=0.25),
                    temporal="off")
    for k in range(12):
        t = k / 8
        w = min(1.0, max(0.0, (t - 0.5) / 0.25)) - min(1.0, max(0.0, (t - 1.125) / 0.25))
        expected = (1 - w) * original[k].astype(np.float32) + w * only_a[k].astype(np.float32)
        assert differs(out[k], np.rint(expected).astype(np.uint8)) < 1, k
    assert differs(out[0], original[0]) == 0 and differs(out[6], only_a[6]) < 1
    # the stabilizer leaves the original frames alone: its strength is 0 there
    timeline = TimelineStylizer(StyleTimeline([(0, "none"), (1, "starry_night")], crossfade=0),
                                lambda spec: Flat(0, path=Styles.STARRY_NIGHT.value.path))
    assert timeline.strengths_differ() and timeline.temporal_strength_at(0.5) == 0
    assert timeline.strengths_differ(0.8) and timeline.temporal_strength_at(1, 0.8) == 0.8  # a fixed strength
    assert timeline.temporal_strength_at(1) == pytest.approx(0.5)
    assert timeline.choice.path == Styles.STARRY_NIGHT.value.path  # read from the network, not from "none"
    with pytest.raises(VidstyleError, match="alone paints nothing"):
        StyleTimeline([(0, "none")]).check_styles()
    with pytest.raises(VidstyleError, match="no_such"):
        StyleTimeline([(0, "none"), (2, "no_such")]).check_styles()


# --- review findings (a helper's review of timelines and mattes) -------------------------------------

def test_minutes_and_seconds_are_the_same_time_as_seconds():
    assert parse_clock("1:08.96") == parse_clock("68.96") == 68.96  # was 68.96000000000001: a frame late
    assert parse_clock("1:02:03.5") == 3723.5
    for bad in ("1/2", "1:1/2"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_a_still_is_painted_in_the_first_style_that_paints_and_ready_stylizers_join_timelines():
    made = {"starry_night": Flat(10), "the_scream": Flat(200)}
    still = TimelineStylizer(StyleTimeline([(0, "none"), (2, "starry_night")]), made.__getitem__)
    assert int(still.stylize_batch([np.zeros((2, 2, 3), np.uint8)])[0][0, 0, 0]) == 10
    ready = Flat(77)
    mixed = TimelineStylizer(StyleTimeline([(0, ready), (1, "the_scream")]), made.__getitem__)
    assert mixed.painters[0] is ready and "Flat, the_scream from 1 s" in mixed.timeline.describe()
    out = mixed.stylize_batch_at([np.zeros((2, 2, 3), np.uint8)] * 2, [0.0, 2.0])
    assert [int(o[0, 0, 0]) for o in out] == [77, 200] and mixed.painted_until == 2.0


def test_none_stays_the_input_with_a_fixed_stabilizer_strength_and_late_changes_are_said(tmp_path, two_styles,
                                                                                        caplog):
    a, _ = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    original = decoded_frames(src)
    with caplog.at_level("WARNING", logger="vidstyle"):
        out = frames_of(src, tmp_path / "out", StyleTimeline([(0, a), (0.5, "none"), (30, a)], crossfade=0),
                        temporal="flow", temporal_strength=0.9)
    assert all(differs(out[k], original[k]) == 0 for k in range(4, 12))  # no flow blend of the input's frames
    assert any(r.getMessage() == "the style change at 30 s comes after the last frame stylized of in.mp4 (1.38 s): "
               "never seen" for r in caplog.records)
    caplog.clear()  # a change whose dissolve begins before the end shows in part: not "never seen"
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "out2", StyleTimeline([(0, a), (1.6, "none")], crossfade=1), temporal="off")
    assert [r.getMessage() for r in caplog.records if "last frame stylized" in r.getMessage()] == [
        "the style change at 1.6 s comes after the last frame stylized of in.mp4 (1.38 s): only the start of its "
        "dissolve is seen"]


def test_a_change_that_no_frame_shows_is_said(tmp_path, two_styles, caplog):
    # B at 0.52 s, then A again at 0.53 s, between the frames at 0.5 and 0.625 s: B painted
    # nothing and the run said nothing, as if the timeline had gone through as typed
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "out", StyleTimeline([(0, a), (0.52, b), (0.53, a), (1, b)]), temporal="off")
    assert [r.getMessage() for r in caplog.records if "never seen" in r.getMessage()] == [
        "the style change at 0.52 s comes before the next with no frame between: never seen"]
    caplog.clear()  # changes before a segment's first frame are its own: not said
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "seg", StyleTimeline([(0, a), (0.52, b), (0.53, a), (1, b)]), temporal="off",
                  start=0.75)
    assert not [r for r in caplog.records if "never seen" in r.getMessage()]
    caplog.clear()  # B only ever in part (0.4 at 1 s, 0.35 at 1.125 s, dissolves shortened by A again
    # at 1.11 s) is seen all the same: not said
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "part", StyleTimeline([(0, a), (1.01, b), (1.11, a)], crossfade=1), temporal="off")
    assert not [r for r in caplog.records if "never seen" in r.getMessage()]


def test_a_change_no_frame_of_the_next_input_shows_is_said_though_an_earlier_input_showed_it(tmp_path, two_styles,
                                                                                              caplog):
    # one timeline for several inputs (stylize a.mp4 b.mp4 -o out/): what the first input showed is
    # no frame of the second; B (0.55 to 0.6 s) falls between the frames at 0.5 and 0.625 of 8 frames/s
    a, b = two_styles
    fast = make_video(tmp_path / "fast.mp4", frames=16, size=(64, 48), fps=20)  # a frame at 0.55: B in part
    slow = make_video(tmp_path / "slow.mp4", frames=8, size=(64, 48), fps=8)
    with caplog.at_level("WARNING", logger="vidstyle"):
        results = list(stylize_files([fast, slow], tmp_path / "out", style=[(0, a), (0.55, b), (0.6, a)],
                                     temporal="off", progress=False))
    assert all(not isinstance(result, Exception) for _, result in results), results
    assert [r.getMessage() for r in caplog.records if "never seen" in r.getMessage()] == [
        "the style change at 0.55 s comes before the next with no frame between: never seen"]


def test_changes_all_before_the_start_that_would_fall_inside_the_segment_from_it_are_said(tmp_path, two_styles,
                                                                                          caplog):
    """--start 0.75 --style-at 0.25=B, by a user who counts from the segment: the change is on the
    input's clock, before the segment, so all of it was B with nothing said. A whole-film timeline
    rendered in parts is not told: changes on both sides of a part, or a part after its last change
    that is shorter than that change's time."""
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)  # 0 to 1.375 s

    def said(entries, **options) -> list[str]:
        caplog.clear()
        with caplog.at_level("WARNING", logger="vidstyle"):
            frames_of(src, tmp_path / f"out{len(said.runs)}", StyleTimeline(entries), temporal="off", **options)
        said.runs.append(entries)
        return [r.getMessage() for r in caplog.records if "before the segment starts" in r.getMessage()]
    said.runs = []
    assert said([(0, a), (0.25, b)], start=0.75) == [
        f"every style change (at 0.25 s) comes before the segment starts (0.75 s), so all of it is in {b}: "
        "--style-at times are on the input's clock, as --start's (0.25 s into the segment is --style-at 1)"]
    assert said([(0, a), (0.25, b), (1.2, a)], start=0.75) == []  # a part with changes on both sides
    assert said([(0, a), (0.7, b)], start=0.75) == []  # a part after the last change, shorter than its time
    assert said([(0, a), (0.25, b)]) == []  # no segment


def test_cli_style_none_alone_and_on_a_still(tmp_path, two_styles, cli):
    a, _ = two_styles
    src = make_video(tmp_path / "in.mp4", frames=4, size=(64, 48))
    alone = cli("stylize", src, "-o", tmp_path / "o.mp4", "--style", "none")
    assert alone.returncode == 1 and "paints nothing on its own" in alone.stderr and "Traceback" not in alone.stderr
    photo = tmp_path / "photo.png"
    import PIL.Image

    PIL.Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photo)
    still = cli("stylize", photo, "-o", tmp_path / "p.png", "--style", "none", "--style-at", f"1={a}",
                "--device", "cpu")
    assert still.returncode == 0, still.stderr
    assert "painted in the timeline's first style that paints" in still.stderr  # not "none", the first
    assert differs(np.asarray(PIL.Image.open(tmp_path / "p.png")), np.full((48, 64, 3), 120, np.uint8)) > 1


def test_a_change_near_the_start_dissolves_from_the_start_as_a_segment_does():
    """The video's start is no change with a dissolve of its own: a change 0.2 s in dissolves from
    0 s to 0.4 s, as it does in a segment that starts at 0 (it was halved to 0.1-0.3 s)."""
    timeline = StyleTimeline([(0, "a"), (0.2, "b"), (5, "c")], crossfade=1)
    assert timeline.describe() == "a, b from 0.2 s (0.4 s dissolve), c from 5 s (1 s dissolve)"
    assert timeline.describe() == timeline.starting_at(0).describe()
    assert [i for i, _ in timeline.weights_at(0.01)] == [0, 1] and timeline.weights_at(0.4) == ((1, 1.0),)
    # later changes still share the gap between them
    close = StyleTimeline([(0, "a"), (3, "b"), (3.4, "c")], crossfade=1)
    assert close.describe() == "a, b from 3 s (0.4 s dissolve), c from 3.4 s (0.4 s dissolve)"


def test_a_segment_opens_in_one_style_not_mid_dissolve():
    timeline = StyleTimeline([(0, "a"), (60, "b"), (70, "c")], crossfade=2)
    at_change = timeline.starting_at(60)
    assert at_change.weights_at(60) == ((1, 1.0),)  # --start at a change: a cut there
    just_after = timeline.starting_at(60.5)
    assert just_after.weights_at(60.5) == ((1, 1.0),)  # the dissolve ends by the segment's start
    assert [i for i, _ in just_after.weights_at(69.5)] == [1, 2]  # later changes keep their dissolves
    assert timeline.weights_at(60) != at_change.weights_at(60)  # the whole video's is unchanged
    named = StyleTimeline([(0, "starry_night"), (60, "the_scream"), (70, "mondrian")], crossfade=2)
    stylizer = TimelineStylizer(named, lambda spec: Flat({"starry_night": 0, "the_scream": 100, "mondrian": 200}[spec]))
    stylizer.start_at(60)
    assert int(stylizer.stylize_batch_at([np.zeros((2, 2, 3), np.uint8)], [60.0])[0][0, 0, 0]) == 100
    stylizer.start_at(None)
    assert int(stylizer.stylize_batch_at([np.zeros((2, 2, 3), np.uint8)], [60.0])[0][0, 0, 0]) == 50


def test_blends_of_one_multi_style_network_share_it_and_a_dissolve_between_them_is_a_morph():
    from vidstyle.stylizer import Stylizer

    made = []

    def make(spec):
        made.append(spec)
        return Stylizer(spec, device="cpu", precision="fp32", backend="torch")

    timeline = StyleTimeline([(0, "mix:starry_night"), (1, "mix:the_scream"), (2, "mix:starry_night")], crossfade=1)
    stylizer = TimelineStylizer(timeline, make)
    assert made == ["mix:starry_night"] and len(stylizer.networks) == 1  # light_mix loaded once
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    out = stylizer.stylize_batch_at([image] * 3, [0.0, 1.0, 1.5])

    def alone(spec):
        return Stylizer(spec, device="cpu", precision="fp32", backend="torch").stylize(image)

    halfway = alone("mix:starry_night=0.5,the_scream=0.5")
    assert differs(out[0], alone("mix:starry_night")) < 1 and differs(out[2], alone("mix:the_scream")) < 1
    assert differs(out[1], halfway) < 1  # the styles blended inside the network...
    pixel_mix = cv2.addWeighted(alone("mix:starry_night"), 0.5, alone("mix:the_scream"), 0.5, 0)
    assert differs(out[1], pixel_mix) > 2 * differs(out[1], halfway) + 1  # ... not two outputs mixed
    assert stylizer.continuous(0.9, 1.1)  # inside the morph: one stabilized stream
    assert differs(stylizer.stylize_batch([image])[0], alone("mix:starry_night")) < 1  # a still: the first blend
    cut = TimelineStylizer(StyleTimeline([(0, "mix:starry_night"), (1, "mix:the_scream")], crossfade=0), make)
    assert not cut.continuous(0.95, 1.0)  # a cut between two blends of one network starts over
    onnx = TimelineStylizer(StyleTimeline([(0, "mix:starry_night"), (1, "mix:the_scream")]),
                            lambda spec: Stylizer(spec, device="cpu", precision="fp32", backend="onnx"))
    assert len(onnx.networks) == 2  # a network whose blend is a constant is not shared


def test_a_single_blend_of_a_multi_style_network_is_an_ordinary_network():
    class Eager(Flat):  # re-blendable like an eager Stylizer; counts what a long run announces
        backend, int8 = "torch", False

        def __init__(self, value):
            super().__init__(value)
            self.expected, self.mixes = [], []

        def set_mix(self, mix):
            self.mixes.append(mix)

        def expect_frames(self, frames):
            self.expected.append(frames)

    one = TimelineStylizer(StyleTimeline([(0, "mix:starry_night"), (1, "starry_night")]), lambda spec: Eager(0))
    one.expect_frames(900)
    one.stylize_batch_at([np.zeros((2, 2, 3), np.uint8)] * 2, [0.0, 0.9])
    assert all(n.expected == [900] and n.mixes == [] for n in one.networks)  # may compile; never re-blended
    two = TimelineStylizer(StyleTimeline([(0, "mix:starry_night"), (1, "mix:the_scream")]), lambda spec: Eager(0))
    two.expect_frames(900)
    assert len(two.networks) == 1 and two.networks[0].expected == []  # shared: stays eager


@pytest.mark.parametrize("fps, start, change, crossfade, opening", [(25, 1.37, 1.39, 1.0, 200), (1, 2.5, 3.2, 2.0, 0)])
def test_a_segment_opens_in_one_style_when_its_start_falls_between_frames(tmp_path, fps, start, change, crossfade,
                                                                          opening):
    # --start between two frames (or inside a slide) begins at the next frame: the segment opens
    # there in one style, the new one for a change before that frame, the old one for a change
    # after it (it opened in a mix: 75% and 36% of the new style)
    src = make_video(tmp_path / "in.mp4", frames=3 * fps + 2, size=(32, 32), fps=fps, pattern="flat", crf=0)
    timeline = StyleTimeline([(0, Flat(0)), (change, Flat(200))], crossfade=crossfade)
    out = tmp_path / "out.mp4"
    stylize_video(src, out, style=timeline, temporal="off", progress=False, start=start, bars="stylize")
    first = decoded_frames(out)[0]
    assert abs(float(first.mean()) - opening) < 3


def test_a_segments_summary_describes_the_output_written_from_its_first_frame(tmp_path):
    """--start 1 with a change at 0.5 s: the output opens in the new style, and the summary said
    "mondrian, starry_night from 0.5 s", naming as the output's first a style that ends before it."""
    timeline = StyleTimeline([(0, "a"), (0.5, "b"), (1.5, "c")], crossfade=0.4)
    assert timeline.starting_at(1).describe() == "b, c from 1.5 s (0.4 s dissolves)"  # the input's clock
    assert timeline.starting_at(0.6).describe() == "b, c from 1.5 s (0.4 s dissolves)"  # b's dissolve ended
    assert timeline.starting_at(0.5).describe() == "b, c from 1.5 s (0.4 s dissolves)"  # a cut to b at the start
    assert timeline.starting_at(0.4).describe() == "a, b from 0.5 s (0.2 s dissolve), c from 1.5 s (0.4 s dissolve)"
    assert timeline.starting_at(1.6).describe() == "c"
    src = make_video(tmp_path / "in.mp4", frames=16, size=(32, 32), fps=8, pattern="flat")
    whole = StyleTimeline([(0, Flat(0, path="mondrian")), (0.5, Flat(200, path="starry"))], crossfade=0.4)
    result = stylize_video(src, tmp_path / "out.mp4", style=whole, temporal="off", progress=False, start=1)
    assert result.styles == "starry" and "[starry, " in result.summary()
    assert abs(float(decoded_frames(tmp_path / "out.mp4")[0].mean()) - 200) < 3  # as the output opens
    assert stylize_video(src, tmp_path / "all.mp4", style=whole, temporal="off", progress=False).styles == \
        "mondrian, starry from 0.5 s (0.4 s dissolves)"


@pytest.mark.parametrize("at", ["0", "0:00", "0.0"])
def test_cli_the_same_style_twice_at_0_is_not_told_to_give_what_it_gave(at):
    # --style A --style-at 0=A: "give --style A instead" asked for what was given
    from vidstyle.cli import _style_timeline, build_parser

    args = build_parser(only="stylize").parse_args(["stylize", "in.mp4", "-o", "out.mp4", "--style", "mondrian",
                                                    "--style-at", f"{at}=mondrian"])
    with pytest.raises(VidstyleError) as caught:
        _style_timeline(args)
    assert str(caught.value) == ("two styles change in at 0 s: --style mondrian and --style-at 0=mondrian; the video "
                                 "begins in --style's already, so leave that --style-at out")
    args.style_at = [parse_style_change(f"{at}=the_scream")]
    with pytest.raises(VidstyleError, match="so give --style the_scream instead"):
        _style_timeline(args)


def test_changes_after_a_duration_segment_are_the_parts_not_written(tmp_path, two_styles, caplog):
    # a whole film's timeline rendered in parts: the first part (--duration 0.5) said the change at
    # 1.2 s came after its last frame and was "never seen", as if a typo (review, 55th session);
    # the input ending before the change, or before the duration asked for, is still said
    a, b = two_styles
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    timeline = StyleTimeline([(0, a), (1.2, b)], crossfade=0)
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "part", timeline, temporal="off", duration=0.5)
    assert not [r for r in caplog.records if "never seen" in r.getMessage()]
    caplog.clear()  # the same from a file whose clock starts at 10 s: the part still ends at 0.5 s of it
    late = make_video(tmp_path / "late.mkv", frames=12, size=(96, 64), fps=8,
                      container_options={"output_ts_offset": "10"})
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(late, tmp_path / "late_part", timeline, temporal="off", duration=0.5)
    assert not [r for r in caplog.records if "never seen" in r.getMessage()]
    caplog.clear()
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "whole", StyleTimeline([(0, a), (30, b)], crossfade=0), temporal="off")
    assert [r.getMessage() for r in caplog.records if "never seen" in r.getMessage()] == [
        "the style change at 30 s comes after the last frame stylized of in.mp4 (1.38 s): never seen"]
    caplog.clear()  # --duration past the input's end: the change past the end is said, as without one
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "long", StyleTimeline([(0, a), (30, b)], crossfade=0), temporal="off", duration=60)
    assert [r.getMessage() for r in caplog.records if "never seen" in r.getMessage()] == [
        "the style change at 30 s comes after the last frame stylized of in.mp4 (1.38 s): never seen"]
    caplog.clear()  # ... and so is one past the duration's end, as it is not the end of a part written
    with caplog.at_level("WARNING", logger="vidstyle"):
        frames_of(src, tmp_path / "longer", StyleTimeline([(0, a), (30, b)], crossfade=0), temporal="off", duration=20)
    assert [r.getMessage() for r in caplog.records if "never seen" in r.getMessage()] == [
        "the style change at 30 s comes after the last frame stylized of in.mp4 (1.38 s): never seen"]


def _said_unseen(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "never seen" in r.getMessage() or "dissolve is seen" in
            r.getMessage()]


def test_a_change_past_the_inputs_own_end_is_said_under_a_duration_too(tmp_path, two_styles, cli):
    """`--style-at 1:05=B --style-at 1:40=A --duration 1` on a 4 s clip said nothing of either
    change: those after a --duration part are taken for the later parts of a whole film's timeline,
    but no part of this input comes after its own end (its container says where): a typo, as
    without --duration (review, 60th session)."""
    a, b = two_styles
    src = make_video(tmp_path / "clip.mp4", frames=32, size=(32, 32), fps=8)  # 4 s
    r = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", a, "--style-at", f"1:05={b}",
            "--style-at", f"1:40={a}", "--duration", "1", "--temporal", "off", "--precision", "fp32")
    assert r.returncode == 0 and (tmp_path / "out.mp4").exists()
    said = [line for line in r.stderr.splitlines() if "never seen" in line]
    assert len(said) == 1 and said[0].endswith(
        "the style changes at 65 s, 100 s come after the end of clip.mp4 (4.00 s long): never seen"), r.stderr


def test_which_changes_past_a_duration_part_are_past_the_inputs_end(tmp_path, caplog):
    """The Python API alike, and where the input's length is not its picture's or is not known."""
    def run(src, changes, crossfade=0, **options):
        caplog.clear()
        timeline = StyleTimeline([(0, Flat(0, path="a"))] + [(t, Flat(200, path=f"s{t:g}")) for t in changes],
                                 crossfade=crossfade)
        with caplog.at_level("WARNING", logger="vidstyle"):
            stylize_video(src, tmp_path / f"out{len(list(tmp_path.iterdir()))}.mp4", style=timeline,
                          temporal="off", progress=False, duration=1, **options)
        return _said_unseen(caplog)

    clip = make_video(tmp_path / "clip.mp4", frames=32, size=(32, 32), fps=8, pattern="flat")  # 4 s
    # inside the clip after the part: a later part's; at its very end: no frame shows it
    assert run(clip, [3.875, 4]) == [
        "the style change at 4 s comes after the end of clip.mp4 (4.00 s long): never seen"]
    # a dissolve (4.5 s, 2 s long) that begins inside the clip: its start is in a later part
    assert run(clip, [4.5, 9], crossfade=2) == [
        "the style change at 4.5 s comes after the end of clip.mp4 (4.00 s long): only the start of its dissolve "
        "is seen", "the style change at 9 s comes after the end of clip.mp4 (4.00 s long): never seen"]
    # a file whose clock starts at 10 s: its end is at 4 s of it, as --start and --style-at count
    late = make_video(tmp_path / "late.mkv", frames=32, size=(32, 32), fps=8, pattern="flat",
                      container_options={"output_ts_offset": "10"})
    assert run(late, [3.5, 12]) == [
        "the style change at 12 s comes after the end of late.mkv (4.00 s long): never seen"]
    # sound (6 s) outlasting the picture (2 s): the picture's end, not the file's
    sound = make_video(tmp_path / "sound.mkv", frames=16, size=(32, 32), fps=8, pattern="flat", audio=True,
                       audio_seconds=6)
    assert run(sound, [1.875, 3]) == [
        "the style change at 3 s comes after the end of sound.mkv (2.00 s long): never seen"]
    # a raw stream states no length: nothing said, as before
    raw = tmp_path / "raw.h264"
    raw.write_bytes(make_video(tmp_path / "for_raw.h264", frames=32, size=(32, 32), fps=8, pattern="flat").read_bytes())
    assert run(raw, [65]) == []
    # segments joined into one MPEG-TS file: FFmpeg's length is the first piece's (1 s of 3), and
    # the picture runs on from it
    piece = make_video(tmp_path / "piece.ts", frames=8, size=(32, 32), fps=8, pattern="flat")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(piece.read_bytes() * 3)
    assert run(joined, [2.5]) == []
    # an image folder: its frames at the rate asked for (20 frames at 8 frames/s: 2.5 s)
    folder = tmp_path / "frames"
    folder.mkdir()
    for n in range(20):
        cv2.imwrite(str(folder / f"f_{n:04d}.png"), np.full((32, 32, 3), 10 * n, np.uint8))
    assert run(folder, [2.375, 65], sequence_fps=8) == [
        "the style change at 65 s comes after the end of frames (2.50 s long): never seen"]


def test_a_duration_parts_summary_leaves_out_the_changes_after_its_end(tmp_path):
    """A whole film's timeline rendered in parts: the first part (--duration 1) is all mondrian,
    and no warning speaks of the change at 1.5 s any more, but the summary said "mondrian,
    starry from 1.5 s", naming a style the output never shows."""
    timeline = StyleTimeline([(0, "a"), (0.5, "b"), (1.5, "c")], crossfade=0.4)
    assert timeline.describe(1) == "a, b from 0.5 s (0.4 s dissolves)"
    assert timeline.describe(1.4) == "a, b from 0.5 s, c from 1.5 s (0.4 s dissolves)"  # its dissolve begun
    # a cut exactly where the part ends is the next part's first frame: not this part's
    assert StyleTimeline([(0, "a"), (1, "b")], crossfade=0).describe(1) == "a"
    src = make_video(tmp_path / "in.mp4", frames=16, size=(32, 32), fps=8, pattern="flat")
    whole = StyleTimeline([(0, Flat(0, path="mondrian")), (1.5, Flat(200, path="starry"))], crossfade=0)
    result = stylize_video(src, tmp_path / "out.mp4", style=whole, temporal="off", progress=False, duration=1)
    assert result.styles == "mondrian" and "[mondrian, " in result.summary()
    # an input that ends before the change is still told of it, as the warning does
    result = stylize_video(src, tmp_path / "all.mp4", style=StyleTimeline([(0, Flat(0, path="mondrian")),
                                                                          (30, Flat(200, path="starry"))], crossfade=0),
                           temporal="off", progress=False, duration=60)
    assert result.styles == "mondrian, starry from 30 s (cuts)"
