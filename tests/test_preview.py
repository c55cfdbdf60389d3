"""`vidstyle preview`: a sheet of styles on frames of the user's own video, image or frame folder."""
from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from vidstyle.errors import VidstyleError
from vidstyle.io.images import read_image, write_image
from vidstyle.models.zoo import bundled_multi_style, bundled_styles
from vidstyle.preview import labelled, preview_styles, shrink, style_sheet
from vidstyle.stylizer import Stylizer
from videos import make_video, read_frames

BAND = 22  # the label band above each row


def _labels_drawn(monkeypatch) -> list[str]:
    """The texts the sheet draws (its labels' lines, in order), collected as cv2.putText draws them."""
    import cv2

    drawn = []
    put_text = cv2.putText
    monkeypatch.setattr(cv2, "putText", lambda image, text, *a, **k: drawn.append(text) or put_text(image, text, *a,
                                                                                                     **k))
    return drawn


def test_the_default_styles_are_every_bundled_style_as_stylize_takes_it():
    specs = preview_styles()
    singles = [name for name, info in bundled_styles().items() if len(info.styles) == 1]
    mixes = [f"mix:{name}" for info in bundled_multi_style() for name in info.style_names]
    assert specs == singles + mixes and len(singles) >= 6
    blends = preview_styles(blends=True)
    assert len(blends) == len(specs) + len(bundled_multi_style()) and blends[-1].count("=0.5") == 2


def test_a_sheet_of_two_styles_on_three_frames(tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=36, size=(96, 64), pattern="noise")
    out = tmp_path / "sheet.png"
    seen = []
    result = style_sheet(src, out, ["light_starry_night", "mix:the_scream"], frames=3, width=48,
                         progress=lambda done, total, spec: seen.append((done, total, spec)))
    assert seen == [(1, 2, "light_starry_night"), (2, 2, "mix:the_scream")]
    sheet = read_image(out)
    panel_h = 32  # 96x64 shrunk to 48 wide
    assert sheet.shape == (3 * (BAND + panel_h), 3 * 48, 3) == (result.size[1], result.size[0], 3)
    assert (result.styles, result.frames) == (2, 3)
    rows = [sheet[i * (BAND + panel_h) + BAND:(i + 1) * (BAND + panel_h)] for i in range(3)]
    frames = read_frames(src)
    # the input row holds frames of the clip (spread over it), each stylized row the style's work
    # on those frames, at full size, then shrunk
    first = next(i for i, f in enumerate(frames)
                 if np.abs(shrink(f, 48).astype(int) - rows[0][:, :48].astype(int)).mean() < 3)
    styled = Stylizer("light_starry_night", device="cpu").stylize(frames[first])
    assert np.abs(shrink(styled, 48).astype(int) - rows[1][:, :48].astype(int)).mean() < 3
    assert np.abs(rows[1].astype(int) - rows[2].astype(int)).mean() > 5  # another style, another row
    assert sheet[:BAND].min() == 0 and sheet[:BAND].max() == 255  # white text on a black band


def test_a_still_image_gives_one_column(tmp_path):
    image = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "photo.png", image)
    result = style_sheet(tmp_path / "photo.png", tmp_path / "sheet.jpg", ["light_mondrian"], width=60)
    assert result.frames == 1 and read_image(tmp_path / "sheet.jpg").shape == (2 * (BAND + 40), 60, 3)


def test_a_narrow_sheet_names_each_style_rather_than_cutting_into_its_name(tmp_path, monkeypatch):
    """Cut to fit a 60-pixel panel, every light style's label read "--style lig...": the sheet
    named none of them. The name alone is shown then, cut at its start when it is too long."""
    drawn = _labels_drawn(monkeypatch)
    image = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "photo.png", image)
    result = style_sheet(tmp_path / "photo.png", tmp_path / "sheet.png", ["light_mondrian", "light_starry_night"],
                         width=60)
    assert result.size[0] == 60 and drawn[1:] == ["...ondrian", "...ry_night"]
    drawn.clear()
    long_label = "--style light_starry_night: The Starry Night, Vincent van Gogh, 1889"
    for width in (110, 200, 270, 500):  # wider: the name whole, then as much of the label as fits
        labelled(np.zeros((8, width, 3), np.uint8), long_label, "light_starry_night")
    assert drawn[0] == "light_starry_night" and drawn[1].startswith("--style light_starry_night")
    assert drawn[1].endswith("...") and drawn[2].endswith("...") and drawn[3] == long_label
    assert len(drawn[1]) < len(drawn[2])
    drawn.clear()  # a name also found inside "--style" (a file t.pth given as "t"): kept whole, not "--st..."
    labelled(np.zeros((8, 20, 3), np.uint8), "--style t: The Title, Someone, 1900", "t")
    assert drawn == ["t"]


def test_a_narrow_sheet_keeps_each_rows_command_whole_on_more_lines(tmp_path, monkeypatch):
    """One column of a 160-pixel clip: the label "--style light_the_scream --keep-colors
    --style-strength 0.7: The Scream, ..." was cut to "--style light_the_scream --ke...", dropping
    the options that reproduce the row. The command is kept whole, wrapped between its options
    where the row is too narrow for it, the painting cut first; every band as tall, so rows line up."""
    drawn = _labels_drawn(monkeypatch)
    src = make_video(tmp_path / "small.mp4", frames=12, size=(160, 90))
    result = style_sheet(src, tmp_path / "sheet.png", ["light_the_scream", "mix:the_scream"], frames=1,
                         keep_colors=True, style_strength=0.7)
    assert drawn[0] == "small.mp4 (input)"
    assert drawn[1:4] == ["--style light_the_scream", "--keep-colors", "--style-strength 0.7: The Screa..."]
    assert drawn[4:] == ["--style mix:the_scream", "--keep-colors", "--style-strength 0.7: The Screa..."]
    band = BAND + 2 * 13
    sheet = read_image(tmp_path / "sheet.png")
    assert result.size == (160, 3 * (band + 90)) and sheet.shape == (3 * (band + 90), 160, 3)
    for row in (1, 2):  # white text on each of the three lines, the picture right under the band
        top = row * (band + 90)
        assert all(sheet[top + 7 + 13 * k:top + 17 + 13 * k].max() > 200 for k in range(3))
        assert sheet[top + band:top + band + 90].mean() > 40
    # a command that fits on one line: the painting is what is cut, never the command
    drawn.clear()
    text = "--style light_the_scream --keep-colors: The Scream, Edvard Munch, 1893"
    for width in (260, 200):  # (no "--keep-colors..." where nothing of the painting fits: the option whole)
        labelled(np.zeros((8, width, 3), np.uint8), text, "light_the_scream", "--style light_the_scream --keep-colors")
    assert drawn == ["--style light_the_scream --keep-colors: The Scream...", "--style light_the_scream --keep-colors"]
    drawn.clear()  # a row too narrow for even one option: its name, as before
    labelled(np.zeros((8, 60, 3), np.uint8), text, "light_the_scream", "--style light_the_scream --keep-colors")
    assert drawn == ["..._scream"]
    drawn.clear()  # wrapped, the painting whole where it fits after the last option: nothing cut, no "..."
    command = "--style light_the_scream --keep-colors --style-strength 0.7"
    labelled(np.zeros((8, 260, 3), np.uint8), command + ": The Scream, Edvard Munch, 1893", "light_the_scream", command)
    assert drawn == ["--style light_the_scream --keep-colors", "--style-strength 0.7: The Scream, Edvard Munch, 1893"]


def test_a_style_name_too_wide_for_the_row_still_leaves_its_options_on_the_label(tmp_path, monkeypatch):
    """One column of a 150-pixel-wide clip (a small portrait video): "--style light_contrast_of_forms"
    is wider than the row, and the label was the name alone, "light_contrast_of_forms", with no
    --keep-colors or --style-strength: the row's look was not said, though each option fits the
    row. The name is shown as it fits, and the options under it on their own lines."""
    drawn = _labels_drawn(monkeypatch)
    src = make_video(tmp_path / "narrow.mp4", frames=6, size=(150, 84))
    result = style_sheet(src, tmp_path / "sheet.png", ["light_contrast_of_forms", "light_mondrian"], frames=1,
                         keep_colors=True, style_strength=0.5)
    assert drawn[1:3] == ["light_contrast_of_forms", "--keep-colors"] and drawn[3].startswith("--style-strength 0.5")
    assert drawn[4:6] == ["--style light_mondrian", "--keep-colors"] and drawn[6].startswith("--style-strength 0.5")
    band = BAND + 2 * 13  # every row's band three lines tall
    assert result.size == (150, 3 * (band + 84))
    drawn.clear()  # narrower than the name too: the name cut at its start, the options still whole
    command = "--style light_contrast_of_forms --keep-colors"
    labelled(np.zeros((8, 90, 3), np.uint8), command + ": Contrast of Forms, Fernand Leger, 1913",
             "light_contrast_of_forms", command)
    assert drawn[0].startswith("...") and drawn[0].endswith("of_forms") and drawn[1:] == ["--keep-colors"]


def test_mistakes_are_found_before_any_network_runs(tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    with pytest.raises(VidstyleError, match="starry_nite"):
        style_sheet(src, tmp_path / "sheet.png", ["light_starry_night", "starry_nite"])
    assert not (tmp_path / "sheet.png").exists()
    with pytest.raises(VidstyleError, match="mp4"):
        style_sheet(src, tmp_path / "sheet.mp4", ["light_starry_night"])
    (tmp_path / "taken.png").write_bytes(b"mine")
    with pytest.raises(VidstyleError, match="exists"):
        style_sheet(src, tmp_path / "taken.png", ["light_starry_night"])
    assert (tmp_path / "taken.png").read_bytes() == b"mine"
    style_sheet(src, tmp_path / "taken.png", ["light_starry_night"], frames=1, overwrite=True)
    # panels are never wider than the input (320 by default): not enlarged
    assert read_image(tmp_path / "taken.png").shape == (2 * (BAND + 48), 64, 3)


def test_arguments_of_the_wrong_kind_are_refused_before_any_network_runs(tmp_path, monkeypatch, capsys):
    """overwrite="no" replaced the file (any truthy value passed); progress=True failed after the
    first style had run; wrong kinds of frames, width, start or output surfaced as TypeErrors or
    OpenCV errors from deep inside (review, 33rd session)."""
    from vidstyle.errors import BadTypeError, BadValueError
    from vidstyle.models.zoo import Styles

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    (tmp_path / "taken.png").write_bytes(b"mine")
    monkeypatch.setattr("vidstyle.stylizer.Stylizer.__init__", lambda *a, **k: pytest.fail("a network was built"))
    for options in (dict(overwrite="no"), dict(progress=5), dict(frames="2"), dict(frames=2.5), dict(frames=True),
                    dict(frames=None), dict(width="80"), dict(width=80.5), dict(start="1"), dict(duration=[1])):
        with pytest.raises(BadTypeError, match=f"^{next(iter(options))} must be"):
            style_sheet(src, tmp_path / "taken.png", ["light_starry_night"], **options)
    # frames=5000 decoded every frame at full size, before the sheet's size was known (5000 x 6.2 MB at 1080p)
    for options in (dict(frames=0), dict(frames=65), dict(width=8), dict(start=-1)):
        with pytest.raises(BadValueError):
            style_sheet(src, tmp_path / "new.png", ["light_starry_night"], **options)
    with pytest.raises(BadTypeError, match="the output of style_sheet"):
        style_sheet(src, None, ["light_starry_night"])
    with pytest.raises(BadTypeError, match="styles is a list of styles"):
        style_sheet(src, tmp_path / "new.png", 3)
    assert (tmp_path / "taken.png").read_bytes() == b"mine" and not (tmp_path / "new.png").exists()
    monkeypatch.undo()
    # a Styles entry is a style too, alone or in a list, labelled as --style takes it; progress=True prints
    result = style_sheet(src, tmp_path / "one.png", Styles.LIGHT_MONDRIAN, frames=1, progress=True)
    assert result.styles == 1 and "[1/1] light_mondrian" in capsys.readouterr().err


def test_the_command(tmp_path, cli):
    src = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48))
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_the_scream", "--style", "mix:woman_with_hat",
               "--frames", "2", "--width", "64", "--fps", "10")
    assert done.returncode == 0, done.stderr
    *said, summary = done.stderr.splitlines()
    assert said == [  # --fps is for frame folders: said, as stylize says it
        "vidstyle: warning: --fps applies to image sequences (a folder of frames); clip.mp4 plays at its own rate",
        "[1/2] light_the_scream", "[2/2] mix:woman_with_hat"]
    # on stderr, as stylize, train and export say what they wrote: stdout stays for data
    assert summary.startswith("2 styles on 2 frames in ") and summary.endswith("(128x210)") and done.stdout == ""
    bad = cli("preview", tmp_path / "missing.mp4", "-o", tmp_path / "t.png")
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1 and "missing.mp4" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "t.png").exists()


def test_none_among_the_styles_is_said_in_the_sheets_own_words(tmp_path, cli):
    """`vidstyle preview --style none` said "'none' paints nothing on its own: it is for style
    timelines, e.g. StyleTimeline([...]) (--style-at on the command line)": preview has no
    --style-at, and its sheet already opens with the input as it is. Said so, before any work."""
    src = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--style", "none")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "--style none" in done.stderr and "first row" in done.stderr
    assert "--style-at" not in done.stderr and "StyleTimeline" not in done.stderr
    assert not (tmp_path / "s.png").exists()
    with pytest.raises(VidstyleError, match="first row") as caught:
        style_sheet(src, tmp_path / "s.png", ["none"])
    assert "StyleTimeline" not in str(caught.value) and not (tmp_path / "s.png").exists()


def test_bars_and_transparency_are_painted_as_stylize_paints_them(tmp_path):
    from videos import letterbox_bars

    src = make_video(tmp_path / "film.mp4", frames=24, size=(96, 72), pattern="letterbox")
    bar = letterbox_bars(72)
    style_sheet(src, tmp_path / "kept.png", ["light_starry_night"], frames=2, width=96)
    style_sheet(src, tmp_path / "painted.png", ["light_starry_night"], frames=2, width=96, bars="stylize")
    top = slice(2 * BAND + 72 + 1, 2 * BAND + 72 + bar - 1)  # the styled row's top bar, inside
    assert read_image(tmp_path / "kept.png")[top].mean() < 5  # black, as vidstyle stylize keeps it
    assert read_image(tmp_path / "painted.png")[top].mean() > 20
    with pytest.raises(VidstyleError, match="unknown bars mode"):
        style_sheet(src, tmp_path / "x.png", ["light_starry_night"], bars="crop")
    # an image with a transparent half: the network sees the picture continued there, not black
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., :3] = (200, 180, 40)
    rgba[:, :32, 3] = 255
    write_image(tmp_path / "cutout.png", rgba)
    style_sheet(tmp_path / "cutout.png", tmp_path / "cut.png", ["light_mondrian"], width=64)
    assert np.abs(read_image(tmp_path / "cut.png")[BAND:BAND + 48, 40:].astype(int) - (200, 180, 40)).mean() < 20


def test_bars_of_an_odd_width_in_4_2_0_video_are_kept_whole_as_stylize_keeps_them(tmp_path):
    """The bar's last column, carrying the picture's colour in 4:2:0, is bar (tests/test_letterbox.py):
    without the input's chroma it was painted with the picture, as stylize no longer does."""
    from videos import make_odd_bars_420

    src = make_odd_bars_420(tmp_path / "odd.mp4")
    style_sheet(src, tmp_path / "sheet.png", ["light_mondrian"], frames=1, width=320)
    sheet = read_image(tmp_path / "sheet.png").astype(int)
    assert sheet.shape == (2 * (BAND + 180), 320, 3)
    given, painted = sheet[BAND:BAND + 180], sheet[2 * BAND + 180:]
    assert np.array_equal(given[:, :61], painted[:, :61]) and np.array_equal(given[:, 259:], painted[:, 259:])
    assert np.abs(given[23:159, 61] - painted[23:159, 61]).max() > 20  # the picture's first column: painted


def test_downscale_as_stylize_would(tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=6, size=(128, 96))
    result = style_sheet(src, tmp_path / "s.png", ["light_mondrian"], frames=1, width=128, downscale=64)
    assert result.size == (64, 2 * (BAND + 48))  # panels never wider than the (downscaled) frames


@pytest.mark.parametrize("name", ["sheet.png", "f_0006.png"])
def test_a_sheet_is_never_written_among_the_input_sequences_frames(tmp_path, name, monkeypatch):
    # the sheet would be read as one more frame (f_0006.png: silently) or break the sequence
    # (sheet.png: "several names"), as `vidstyle stylize` refuses for its outputs (review of preview)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(6):
        write_image(frames / f"f_{i:04d}.png", np.full((48, 64, 3), 40 * i, np.uint8))
    before = sorted(p.name for p in frames.iterdir())
    with pytest.raises(VidstyleError, match="input sequence's folder"):
        style_sheet(frames, frames / name, ["light_starry_night"], frames=1)
    monkeypatch.chdir(frames)  # also when the output is named relative to the folder itself
    with pytest.raises(VidstyleError, match="input sequence's folder"):
        style_sheet(frames, name, ["light_starry_night"], frames=1)
    assert sorted(p.name for p in frames.iterdir()) == before


def test_the_commands_options_reach_style_sheet(tmp_path, monkeypatch):
    # --max-side and --bars were parsed but no test saw them reach the library call
    import vidstyle.preview
    from vidstyle.cli import main

    calls = []
    monkeypatch.setattr(vidstyle.preview, "style_sheet", lambda *a, **kw: calls.append((a, kw)))
    (tmp_path / "in.mp4").touch()  # (the command checks its input and styles before the call)
    assert main(["preview", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "s.png"), "--style", "light_mondrian",
                 "--style", "mix:the_scream",
                 "--frames", "2", "--width", "100", "--start", "1", "--duration", "2", "--downscale", "300",
                 "--max-side", "200", "--hdr", "keep", "--bars", "stylize", "--device", "cpu", "--precision", "fp32",
                 "--style-strength", "0.25", "--keep-colors", "--overwrite", "--quiet"]) == 0
    ((args, kw),) = calls
    assert args[2] == ["light_mondrian", "mix:the_scream"]
    assert {k: kw[k] for k in ("frames", "width", "start", "duration", "downscale", "max_side", "hdr", "bars",
                               "device", "precision", "overwrite", "progress", "style_strength",
                               "keep_colors")} == dict(
        frames=2, width=100, start=1, duration=2, downscale=300, max_side=200, hdr="keep", bars="stylize",
        device="cpu", precision="fp32", overwrite=True, progress=False, style_strength=0.25,
        keep_colors=True)


def test_a_progress_function_that_cannot_take_done_total_and_style_is_refused_before_any_network_runs(
        tmp_path, monkeypatch):
    """Found by a review of the Python API as a typed library: progress=lambda done, total: ...
    (stylize_video's signature) stopped the sheet with a bare TypeError once the first style had run."""
    from vidstyle.errors import BadTypeError

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    monkeypatch.setattr("vidstyle.stylizer.Stylizer.__init__", lambda *a, **k: pytest.fail("a network was built"))
    with pytest.raises(BadTypeError, match=r"^progress is called as progress\(done, total, style\), three "
                                           r"arguments; <lambda>\(done, total\) cannot take them$"):
        style_sheet(src, tmp_path / "new.png", ["light_starry_night"], progress=lambda done, total: None)
    assert not (tmp_path / "new.png").exists()


def test_the_command_says_what_a_still_image_does_not_use(tmp_path, cli):
    """--start, --duration and --frames 4 on a photo were dropped without a word (one column, the
    whole image), where `vidstyle stylize` says --start is for videos."""
    image = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "photo.png", image)
    done = cli("preview", tmp_path / "photo.png", "-o", tmp_path / "s.png", "--style", "light_mondrian",
               "--start", "5", "--duration", "1", "--frames", "4", "--fps", "30", "--quiet")
    assert done.returncode == 0, done.stderr
    # (--fps was said as for a video file: "photo.png plays at its own rate")
    assert done.stderr.splitlines() == [
        "vidstyle: warning: --start, --duration, --frames, --fps are for videos; photo.png is a still image"]
    done = cli("preview", tmp_path / "photo.png", "-o", tmp_path / "t.png", "--style", "light_mondrian", "--quiet")
    assert done.returncode == 0 and done.stderr == ""  # the defaults say nothing
    # a video file plays at its own rate: --fps said once, as stylize says it
    clip = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    done = cli("preview", clip, "-o", tmp_path / "u.png", "--style", "light_mondrian", "--fps", "30", "--quiet")
    assert done.returncode == 0 and done.stderr.splitlines() == [
        "vidstyle: warning: --fps applies to image sequences (a folder of frames); clip.mp4 plays at its own rate"]


def test_the_contact_sheet_script_says_its_mistakes_in_one_line(tmp_path, capsys, monkeypatch):
    """samples/contact_sheet.py ended a missing clip or --frames 0 in a traceback."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "samples" / "contact_sheet.py"
    spec = importlib.util.spec_from_file_location("contact_sheet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    for args, said in ((["--clip", str(tmp_path / "missing.mp4")], "missing.mp4"), (["--clip", str(clip), "--frames", "0"],
                                                                                    "frames")):
        monkeypatch.setattr(sys, "argv", ["contact_sheet.py", *args, "--out", str(tmp_path / "sheet.png")])
        assert module.main() == 1
        err = capsys.readouterr().err
        assert err.startswith("contact_sheet: error: ") and said in err and len(err.splitlines()) == 1
    assert not (tmp_path / "sheet.png").exists()


def test_non_square_pixels_are_shown_as_players_show_them(tmp_path):
    """An anamorphic video (stored 64x48, pixels 4:3 wide: shown 85x48) was laid out at its stored
    size: every panel squeezed, a circle drawn as a tall ellipse, where stylize's output keeps the
    pixels' aspect and players show it round."""
    from fractions import Fraction

    src = make_video(tmp_path / "wide_pixels.mp4", frames=4, size=(64, 48), sar=Fraction(4, 3))
    result = style_sheet(src, tmp_path / "sheet.png", ["light_mondrian"], frames=1, width=64)
    assert result.size == (64, 2 * (BAND + 36))  # 64 wide shows the picture 36 high, not 48
    result = style_sheet(src, tmp_path / "full.png", ["light_mondrian"], frames=1)  # at most as wide as shown
    assert result.size == (85, 2 * (BAND + 48))
    # frames painted at their stored size, as stylize paints them: the row is that painting, widened
    sheet = read_image(tmp_path / "full.png")
    painted = Stylizer("light_mondrian", device="cpu").stylize(read_frames(src)[0])
    assert np.abs(shrink(painted, 85, 4 / 3).astype(int) - sheet[2 * BAND + 48:].astype(int)).mean() < 3


def test_a_stream_that_does_not_say_its_length_is_said_to_give_its_first_frames(tmp_path, cli):
    """A raw H.264 stream holds no length: the sheet showed its frames 0, 1, 2 without a word, as
    if they were spread over the video as --frames says."""
    src = make_video(tmp_path / "raw.h264", frames=12, size=(64, 48))
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "vidstyle: warning: raw.h264 does not say how long it is: these are its first 3 frames, not 3 spread over it"]
    done = cli("preview", src, "-o", tmp_path / "t.png", "--style", "light_mondrian", "--frames", "1", "--quiet")
    assert done.returncode == 0 and done.stderr == ""  # one frame: nothing to spread
    # a stream of fewer frames than asked: all of it shown, and said as for a file that says its length
    short = make_video(tmp_path / "short.h264", frames=2, size=(64, 48))
    done = cli("preview", short, "-o", tmp_path / "u.png", "--style", "light_mondrian", "--quiet")
    assert done.returncode == 0 and done.stderr.splitlines() == [
        "vidstyle: warning: short.h264 has 2 frames: all are shown, not the 3 asked for (--frames)"], done.stderr


def test_a_duration_past_the_end_of_a_stream_that_does_not_say_its_length_is_said_as_that(tmp_path, cli):
    """A raw stream says no length, so --duration 10 alone gave the 10 s the samples were spread
    over: those past its end found nothing, and the sheet said the frames end "though its header
    says they reach 10.00 s (truncated or damaged file?)" of an intact stream with no such header.
    Said as stylize and preview say a --duration past the end of a file that says its length."""
    src = make_video(tmp_path / "raw.h264", frames=48, size=(64, 48), fps=24)
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--duration", "10", "--quiet")
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "header" not in done.stderr and "damaged" not in done.stderr
    assert re.fullmatch(r"vidstyle: warning: raw.h264 ends before the 10 s asked for \(--duration\): the segment "
                        r"lasts 2.0\d s\n", done.stderr), done.stderr
    assert read_image(tmp_path / "s.png").shape[1] == 3 * 64  # spread over the 2 s there are


def test_a_segment_shorter_than_asked_for_is_said_as_stylize_says_it(tmp_path, cli):
    """--start 1.5 --duration 10 --frames 60 on a 2 s clip gave a sheet of 12 columns without a
    word, where stylize warns of a --duration past the end: both are said, a line each."""
    src = make_video(tmp_path / "small.mp4", frames=48, size=(64, 48), fps=24)
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--start", "1.5",
               "--duration", "10", "--frames", "60", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "vidstyle: warning: small.mp4 ends before the 10 s asked for (--duration): the segment lasts 0.50 s",
        "vidstyle: warning: the segment of small.mp4 has 12 frames: all are shown, not the 60 asked for (--frames)"]
    assert read_image(tmp_path / "s.png").shape[1] == 12 * 64
    # (one frame fewer than asked is fewer: said too)
    done = cli("preview", src, "-o", tmp_path / "t.png", "--style", "light_mondrian", "--frames", "49", "--quiet")
    assert done.stderr.splitlines() == [
        "vidstyle: warning: small.mp4 has 48 frames: all are shown, not the 49 asked for (--frames)"]
    done = cli("preview", src, "-o", tmp_path / "u.png", "--style", "light_mondrian", "--start", "1", "--duration",
               "0.5", "--quiet")
    assert done.returncode == 0 and done.stderr == ""  # a segment inside the clip, frames to spare: nothing


def test_style_strength_and_keep_colors_give_the_look_stylize_gives_and_are_named(tmp_path, monkeypatch):
    """An artist choosing the look as well as the style: --keep-colors and --style-strength, which
    `vidstyle stylize` takes, were refused by preview ("unrecognized arguments"). A panel is now
    what stylize writes with the same options, and each row's label says them."""
    import vidstyle.preview
    from vidstyle.errors import BadTypeError, BadValueError
    from vidstyle.pipeline import stylize_image

    rng = np.random.default_rng(3)
    image = np.repeat(np.repeat(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), 4, axis=0), 4, axis=1)
    write_image(tmp_path / "photo.png", image)  # 64x48, blocks of colour (no bars to find)
    texts = []
    monkeypatch.setattr(vidstyle.preview, "labelled", lambda row, text, *a, **k: (texts.append(text), row)[1])
    style_sheet(tmp_path / "photo.png", tmp_path / "sheet.png", ["light_mondrian", "mix:the_scream"], width=64,
                style_strength=0.5, keep_colors=True)
    sheet = read_image(tmp_path / "sheet.png")  # (no label bands: labelled() is replaced)
    assert texts[1].startswith("--style light_mondrian --keep-colors --style-strength 0.5: ")
    assert texts[2].startswith("--style mix:the_scream --keep-colors --style-strength 0.5")
    for row, style in ((1, "light_mondrian"), (2, "mix:the_scream")):
        stylize_image(tmp_path / "photo.png", tmp_path / f"{row}.png", style, style_strength=0.5, keep_colors=True,
                      device="cpu", progress=False)
        written = read_image(tmp_path / f"{row}.png")
        panel = sheet[row * 48:(row + 1) * 48]
        assert np.abs(panel.astype(int) - written.astype(int)).max() <= 1  # both lossless PNGs, one frame
        plain = Stylizer(style, device="cpu").stylize(image)
        assert np.abs(panel.astype(int) - plain.astype(int)).mean() > 5  # not the network's own look
    texts.clear()
    style_sheet(tmp_path / "photo.png", tmp_path / "plain.png", ["light_mondrian"], width=64)
    assert texts[1].startswith("--style light_mondrian: ")  # the defaults: nothing to type, nothing said
    monkeypatch.setattr("vidstyle.stylizer.Stylizer.__init__", lambda *a, **k: pytest.fail("a network was built"))
    with pytest.raises(BadValueError, match="style_strength"):
        style_sheet(tmp_path / "photo.png", tmp_path / "x.png", ["light_mondrian"], style_strength=1.5)
    with pytest.raises(BadTypeError, match="keep_colors"):
        style_sheet(tmp_path / "photo.png", tmp_path / "x.png", ["light_mondrian"], keep_colors="yes")


def test_a_video_panel_with_the_look_options_is_the_stylizers_on_that_frame(tmp_path, cli):
    src = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), pattern="noise")
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_starry_night", "--frames", "1",
               "--width", "64", "--style-strength", "0.4", "--keep-colors", "--quiet")
    assert done.returncode == 0, done.stderr
    sheet = read_image(tmp_path / "s.png")
    frames = read_frames(src)
    first = min(range(len(frames)), key=lambda i: np.abs(frames[i].astype(int) - sheet[BAND:BAND + 48]).mean())
    styled = Stylizer("light_starry_night", device="cpu", style_strength=0.4, keep_colors=True).stylize(frames[first])
    assert np.abs(styled.astype(int) - sheet[2 * BAND + 48:].astype(int)).mean() < 3  # (the decode's rounding)
    bad = cli("preview", src, "-o", tmp_path / "t.png", "--style-strength", "2")
    assert bad.returncode == 2 and "--style-strength" in bad.stderr and not (tmp_path / "t.png").exists()


def test_a_truncated_file_is_previewed_over_the_frames_it_has_and_said_to_be_cut(tmp_path, cli):
    """A Matroska file cut at half its bytes still says it lasts 4 s: the sheet's third sample,
    past the cut, found nothing, and the sheet showed 2 columns saying the file "has 2 frames"
    where 40-odd could be decoded."""
    src = make_video(tmp_path / "whole.mkv", frames=96, size=(64, 48), fps=24)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    decodable = len(read_frames(cut))
    assert 10 < decodable < 80
    done = cli("preview", cut, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--quiet")
    assert done.returncode == 0, done.stderr
    assert read_image(tmp_path / "s.png").shape[1] == 3 * 64
    assert len(done.stderr.splitlines()) == 1 and "truncated or damaged" in done.stderr
    assert "cut.mkv" in done.stderr and "asked for (--frames)" not in done.stderr
    # where its frames end, found by seeking, said to within a frame of the last one decoded
    ends = float(re.search(r"the frames of cut\.mkv end at ([0-9.]+) s", done.stderr)[1])
    assert abs(ends - decodable / 24) <= 1 / 24 + 0.01, (ends, decodable)


def test_more_frames_asked_of_a_truncated_file_than_it_has_shows_each_once(tmp_path, cli):
    """More --frames than a file cut short has, fewer than its header promises, spread the samples
    over its frames closer than a frame apart: frames came twice (30 columns of 22 frames), or the
    first sample started before the file and the sheet said it "has 1 frame"."""
    src = make_video(tmp_path / "whole.mkv", frames=96, size=(64, 48), fps=24)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    decodable = len(read_frames(cut))
    assert decodable < 60
    done = cli("preview", cut, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--frames", "60", "--quiet")
    assert done.returncode == 0, done.stderr
    assert f"cut.mkv has {decodable} frames: all are shown, not the 60 asked for" in done.stderr
    sheet = read_image(tmp_path / "s.png")
    assert sheet.shape[1] == decodable * 64
    panels = [sheet[-48:, i * 64:(i + 1) * 64].astype(int) for i in range(decodable)]
    assert all(np.abs(a - b).mean() > 0.5 for a, b in zip(panels, panels[1:]))  # no frame twice


def _shown(samples: list[np.ndarray], frames: list[np.ndarray]) -> list[int]:
    """Which of ``frames`` (noise, each unlike the others) each sample is."""
    return [int(np.argmin([np.abs(f.astype(int) - s.astype(int)).mean() for f in frames])) for s in samples]


def test_samples_of_a_segment_starting_between_frames_are_spread_from_its_first_frame(tmp_path):
    """--start 0.1 of a 24 frames/s clip keeps frames 3 to 47 (the first at 0.125 s): the samples
    were spread from 0.1 s, so the second, a frame on, took frame 3 again and the last frame was
    left out; and the segment was counted 46 frames, as if the frame 0.1 s falls inside were kept."""
    from vidstyle.io.decode import VideoDecoder
    from vidstyle.io.samples import sample_frames

    src = make_video(tmp_path / "clip.mp4", frames=48, size=(32, 32), pattern="noise", gop=5)
    frames = read_frames(src)
    with VideoDecoder(src, 0.1, announce=False) as decoder:
        assert decoder.info.frames == 45
    assert _shown(sample_frames(src, 100, start=0.1), frames) == list(range(3, 48))
    assert _shown(sample_frames(src, 100, start=0.1, duration=0.5), frames) == list(range(3, 15))


def test_a_blends_label_names_no_single_painting():
    """One style of a multi-style network is labelled with its painting; a blend of two, with
    none (it is neither painting), only the --style that gives it."""
    from types import SimpleNamespace

    from vidstyle.preview import _style_label

    styles = [{"painting": "The Scream", "artist": "Munch"}, {"painting": "Starry Night", "artist": "van Gogh"}]
    one = SimpleNamespace(info=SimpleNamespace(styles=styles), mix=[0.0, 1.0])
    blend = SimpleNamespace(info=SimpleNamespace(styles=styles), mix=[0.3, 0.7])
    assert _style_label(one, "mix:starry")[1] == "--style mix:starry: Starry Night, van Gogh"
    assert _style_label(blend, "mix:scream=0.3,starry=0.7") == ("--style mix:scream=0.3,starry=0.7",) * 2


def test_frames_looked_for_between_samples_are_looked_for_in_the_widest_gap_first():
    """Where more frames lie between the samples taken than are wanted, those added come from the
    widest gaps (the samples spread evenly), not from beside frames already taken."""
    from vidstyle.io.samples import _fill_gaps

    def sample(at):  # a frame at every whole second up to 20 s
        t = Fraction(at).__ceil__()
        return (Fraction(t), t) if t < 20 else None

    taken = {Fraction(0): 0, Fraction(2): 2}
    _fill_gaps(taken, 4, Fraction(20), sample, Fraction(0))
    assert sorted(taken) == [0, 2, 11, 16]  # the middle of 2-20, then of 11-20 (as wide as 2-11, later)


def test_samples_respread_over_a_cut_file_show_each_of_its_frames(tmp_path):
    """A 29.97 frames/s Matroska file (times in milliseconds) cut short: where its frames end was
    bisected to a frame, and the count rounded from it came out one short, the last frame's column
    missing and the sheet saying the segment has a frame fewer than it has."""
    from vidstyle.io.samples import sample_frames
    from videos import frame_times

    src = make_video(tmp_path / "whole.mkv", frames=90, size=(32, 32), fps=Fraction(30000, 1001), pattern="noise",
                     gop=5)
    for fraction, start in ((0.6, 0.52), (0.7, 0.3)):
        cut = tmp_path / "cut.mkv"
        cut.write_bytes(src.read_bytes()[:int(src.stat().st_size * fraction)])
        frames = [f for f, t in zip(read_frames(cut), frame_times(cut)) if t >= start]
        assert 20 < len(frames) < 80
        assert _shown(sample_frames(cut, len(frames) + 1, start=start), frames) == list(range(len(frames)))


def test_samples_of_frames_unevenly_spaced_in_time_show_each_frame_once(tmp_path, cli):
    """Samples were spread over the frames' count at the average rate, not over the time they
    take: an AVI of 24 frames over 41 chunks (a capture that dropped 17) gave 24 columns of 14
    different frames, its last 10 never shown; a variable-frame-rate .ts counted 77 frames where
    39 decode, and 64 columns held 39 different ones while the sheet said nothing (review, 58th
    session). Each frame is shown at most once, and "all are shown" is said only where they are."""
    from vidstyle.io.samples import keyframe_samples, sample_frames
    from videos import make_avi_with_dropped_frames

    avi = make_avi_with_dropped_frames(tmp_path / "dropped.avi", (32, 32), "noise")
    frames = read_frames(avi)
    assert len(frames) == 24
    assert _shown(sample_frames(avi, 24), frames) == list(range(24))
    shown = _shown(sample_frames(avi, 12), frames)
    assert len(set(shown)) == 12 and shown == sorted(shown) and shown[-1] >= 20  # spread to its end
    # (the keyframes, each of its frames, spread over it alike: those of its last 0.7 s were never looked for)
    shown = _shown(keyframe_samples(avi, 24), frames)
    assert shown == sorted(set(shown)) and shown[-1] >= 20
    ts = make_video(tmp_path / "vfr.ts", frames=39, size=(32, 32), pattern="noise", vfr=True, gop=6)
    frames = read_frames(ts)
    assert len(frames) == 39
    assert _shown(sample_frames(ts, 64), frames) == list(range(39))
    shown = _shown(sample_frames(ts, 30), frames)
    assert len(set(shown)) == 30 and shown == sorted(shown)
    done = cli("preview", ts, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--frames", "64", "--quiet")
    assert done.returncode == 0 and done.stderr.splitlines() == [
        "vidstyle: warning: vfr.ts has 39 frames: all are shown, not the 64 asked for (--frames)"], done.stderr
    assert read_image(tmp_path / "s.png").shape[1] == 39 * 32


@pytest.mark.parametrize("name,segment", [("whole.mkv", {}), ("cut.mp4", {"start": 1.0}),
                                          ("cut.mp4", {"start": 0.5, "duration": 0.5})])
def test_samples_of_a_segment_with_fewer_frames_than_asked_open_the_file_once_a_frame(tmp_path, monkeypatch,
                                                                                        name, segment):
    """More frames asked for than a segment of evenly spaced frames has (a whole .mkv, whose count
    is estimated; any --start or --duration): each gap between its frames was looked into twice
    more for a frame between them, 3 times the file's opens (review, 58th session)."""
    from vidstyle.io import decode, samples

    video = make_video(tmp_path / name, frames=48, size=(32, 32), pattern="noise", gop=12)
    frames = read_frames(video)
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    shown = _shown(samples.sample_frames(video, 60, **segment), frames)
    start = round(segment.get("start", 0) * 24)
    end = start + round(segment["duration"] * 24) if "duration" in segment else 48
    assert shown == list(range(start, end))
    # the count says no more frames than asked for: the segment is read once from its start (it
    # was opened once for each frame, and once more to count them; see
    # test_samples_of_a_segment_of_no_more_frames_than_asked_read_it_once)
    assert len(opened) == 1


@pytest.mark.parametrize("name,segment,asked", [("clip.mkv", {"duration": 1.01}, 25), ("clip.mp4", {}, 30),
                                                 ("burst.mp4", {}, 30), ("burst.mkv", {"start": 0.25}, 24),
                                                 ("vfr.ts", {"duration": 0.5}, 24)])
def test_samples_of_a_segment_of_no_more_frames_than_asked_read_it_once(tmp_path, monkeypatch, name, segment,
                                                                        asked):
    """A segment that its count (an .mp4's exact one, or an estimate) says holds no more frames
    than asked for: all its frames are what the samples find, yet each was opened for, and gaps
    looked into: 76 opens for a burst .mp4's 30 frames, 44 for the 24 of a burst .mkv from
    0.25 s, 41 for the 12 of a variable-rate .ts's first 0.5 s (counted 24), 25 for the 25 of a
    constant-rate segment (review, 59th session). Read once from its start, the same frames."""
    from vidstyle.io import decode, samples
    from videos import pattern_frame, write_frames

    path = tmp_path / name
    if name.startswith("clip"):
        make_video(path, frames=30, size=(32, 32), pattern="noise", gop=12)
    elif name.startswith("vfr"):
        make_video(path, frames=39, size=(32, 32), pattern="noise", vfr=True, gop=6)
    else:  # (see test_samples_of_frames_in_bursts_find_those_closer_than_the_average_rate)
        times = [Fraction(i // 3, 8) + Fraction(i % 3, 96) for i in range(30)]
        write_frames(path, [pattern_frame(i, (32, 32), "noise", 30) for i in range(30)], times=times,
                     time_base=Fraction(1, 90000), options={"preset": "ultrafast", "crf": "10", "g": "6"})
    frames = read_frames(path)
    with decode.VideoDecoder(path, announce=False, **segment) as decoder:
        kept = _shown([item.image for item in decoder.read()], frames)
        assert decoder.info.frames <= asked
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    assert _shown(samples.sample_frames(path, asked, **segment), frames) == kept
    assert len(opened) == 1


@pytest.mark.parametrize("name,segment", [("burst.mp4", {}), ("burst.mkv", {}), ("burst.mp4", {"start": 0.25})])
def test_samples_of_frames_in_bursts_find_those_closer_than_the_average_rate(tmp_path, caplog, name, segment):
    """Frames in bursts (a screen recording: three 1/96 s apart, then none for 0.1 s), at 24
    frames/s on average: gaps under 1.5 frames at that average rate were taken to hold no frame,
    so the 30 frames an .mp4 counts gave 26 samples, and the warning said "has 26 frames: all are
    shown" (review, 58th session). Where the file's count is exact, every gap is looked into.
    Where it is an estimate (an .mkv's, any segment's), such gaps are still not looked into, and
    the sheet said "all are shown" of 20 of an .mkv's 30 frames, of 16 of a segment's 24; fewer
    than asked for, the segment is now read from its start to count them."""
    from vidstyle.io.samples import sample_frames
    from videos import pattern_frame, write_frames

    path = tmp_path / name
    times = [Fraction(i // 3, 8) + Fraction(i % 3, 96) for i in range(30)]
    write_frames(path, [pattern_frame(i, (32, 32), "noise", 30) for i in range(30)], times=times,
                 time_base=Fraction(1, 90000),  # (at 1/24 s, frames 1/96 s apart shared a time)
                 options={"preset": "ultrafast", "crf": "10", "g": "6"})
    frames = read_frames(path)
    assert len(frames) == 30
    first = 6 if segment else 0  # (the frames from 0.25 s)
    with caplog.at_level("WARNING", logger="vidstyle"):
        assert _shown(sample_frames(path, 64, say_unspread=True, **segment), frames) == list(range(first, 30))
    assert f"has {30 - first} frames: all are shown" in caplog.text


@pytest.mark.parametrize("asked", [64, 70])
def test_samples_of_a_segment_read_from_its_start_hold_each_frame_once(tmp_path, asked):
    """Found measuring preview's memory: samples of a segment of frames in bursts (5 frames
    1/240 s apart every 5/24 s, --duration 3) found fewer than asked for, so the segment was read
    from its start, and each frame read was a new picture though most were taken already: 64
    frames of a 4K clip held 125 at once, 4.6 GB at the peak for the 1.5 GB given (3.3 GB now).
    The same frames either way (70 asked: every frame, as read)."""
    import tracemalloc

    from vidstyle.io.samples import sample_frames
    from videos import pattern_frame, write_frames

    path, size = tmp_path / "burst.mp4", (256, 144)
    times = [Fraction(b * 5, 24) + Fraction(k, 240) for b in range(14) for k in range(5)]
    write_frames(path, [pattern_frame(i, size, "noise", 70) for i in range(70)], times=times,
                 time_base=Fraction(1, 240), options={"preset": "ultrafast", "crf": "30", "g": "6"})
    frames = read_frames(path)
    sample_frames(path, 2)  # (what a first call imports, not counted)
    tracemalloc.start()
    try:
        images = sample_frames(path, asked, duration=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    shown = _shown(images, frames)
    assert len(shown) == asked if asked < 70 else shown == list(range(70))
    assert shown == sorted(set(shown))
    assert peak < (len(images) + 16) * images[0].nbytes  # (held twice: about 2 * 64)


def _burst_clip(path, gop: int = 6, late: int = 0):
    """43 noise frames: 5 frames/s, then 30 frames 1/96 s apart from 1 s, then 5 frames/s again
    from 1.4 s (frame 35); 15 frames/s on average. ``late``: seconds the stream's clock starts at."""
    from videos import pattern_frame, write_frames

    times = [Fraction(i, 5) for i in range(5)] + [1 + Fraction(i, 96) for i in range(30)] + \
        [Fraction(7, 5) + Fraction(i, 5) for i in range(8)]
    times = [late + t for t in times]
    return write_frames(path, [pattern_frame(i, (32, 32), "noise", 43) for i in range(43)], times=times,
                        time_base=Fraction(1, 90000), options={"preset": "ultrafast", "crf": "10", "g": str(gop)})


@pytest.mark.parametrize("late", [0, 10])
def test_samples_of_a_segment_of_uneven_frames_are_the_frames_it_keeps(tmp_path, late):
    """--start 1 --duration 0.4 keeps the 30 frames before 1.4 s, but where the segment ends was
    moved to whole frames at the average rate (15 frames/s: 1.46 s, for its last frame's length),
    and samples and keyframes were taken up to there: the sheet showed the frame at 1.4 s, past
    the segment, which stylize leaves out. Also where the stream's clock starts at 10 s (mutation
    testing, 60th session: VideoDecoder.frames_end on the stream's clock, not from its start as
    --start counts, passed every test; frames 35-42, after the segment, were shown)."""
    from vidstyle.io.decode import VideoDecoder
    from vidstyle.io.samples import keyframe_samples, sample_frames

    path = _burst_clip(tmp_path / "burst.mp4", gop=7, late=late)  # (frame 35, at 1.4 s, a keyframe)
    frames = read_frames(path)
    with VideoDecoder(path, 1.0, 0.4, announce=False) as decoder:
        kept = _shown([item.image for item in decoder.read()], frames)
    assert kept == list(range(5, 35))
    for count in (10, 20):
        shown = _shown(sample_frames(path, count, 1.0, 0.4), frames)
        assert len(shown) == count and shown == sorted(set(shown)) and set(shown) <= set(kept), shown
    shown = _shown(keyframe_samples(path, 8, 1.0, 0.4), frames)
    assert shown == sorted(set(shown)) and set(shown) <= set(kept), shown


@pytest.mark.parametrize("start", [None, 0.5])
def test_samples_of_a_duration_inside_a_frame_are_spread_over_the_whole_frames_stylize_writes(tmp_path, start):
    """--duration 1.01 and 1.04 of a 24 frames/s clip keep the same 25 frames, the last whole (stylize
    writes 25/24 s either way), so a sheet shows the same frames for both. Samples and keyframes
    were spread over the duration asked for, not over those whole frames (review of 179bdd1): 24
    samples of 1.01 s left the last frame out and took all the others, where 1.04 s took it, and 25
    times asked of the keyframes missed the one at 1 s."""
    from vidstyle.io.samples import keyframe_samples, sample_frames

    src = make_video(tmp_path / "clip.mp4", frames=48, size=(32, 32), pattern="noise", gop=6)
    frames = read_frames(src)
    first = 12 if start else 0
    for count in (6, 12, 24):
        shown = [_shown(sample_frames(src, count, start, duration), frames) for duration in (1.01, 1.04)]
        assert shown[0] == shown[1], (count, shown)
        assert len(shown[0]) == count and shown[0][0] == first and shown[0][-1] >= first + 24 - 25 // count, shown
    for duration in (1.01, 1.04):  # a time at each frame: each keyframe of the segment
        assert _shown(keyframe_samples(src, 25, start, duration), frames) == list(range(first, first + 25, 6))


def test_samples_of_a_segment_denser_than_the_average_rate_show_its_frames(tmp_path, caplog):
    """Mutation testing (59th session): a segment's count is estimated from its length at the
    average rate even in an .mp4, whose count is exact for the whole file. Taken as exact, the
    30-frame burst from 1 s, counted 7 (15 frames/s), gave 7 columns of 40 and said "has 7 frames:
    all are shown"."""
    from vidstyle.io.samples import sample_frames

    path = _burst_clip(tmp_path / "burst.mp4")
    frames = read_frames(path)
    with caplog.at_level("WARNING", logger="vidstyle"):
        assert _shown(sample_frames(path, 40, 1.0, 0.4, say_unspread=True), frames) == list(range(5, 35))
    assert "has 30 frames: all are shown" in caplog.text
    shown = _shown(sample_frames(path, 20, 1.0, 0.4), frames)
    assert len(shown) == 20 and shown == sorted(set(shown)) and shown[0] == 5 and shown[-1] >= 30


@pytest.mark.parametrize("segment,count", [({"duration": 2}, 10), ({"duration": 2}, 20),
                                           ({"start": 0.5, "duration": 2}, 10)])
def test_samples_of_a_segment_ending_in_a_gap_show_no_frame_after_it(tmp_path, segment, count):
    """Mutation testing (59th session): a segment whose frames stop before its end (frames to 1 s,
    then none until 3 s, --duration 2): the samples in the gap, and the gap's search for more,
    find the frame at 3 s, which is not the segment's; nothing tested that it was left out."""
    from vidstyle.io.samples import sample_frames
    from videos import pattern_frame, write_frames

    path = tmp_path / "gap.mp4"
    times = [Fraction(i, 24) for i in range(24)] + [3 + Fraction(i, 24) for i in range(24)]
    write_frames(path, [pattern_frame(i, (32, 32), "noise", 48) for i in range(48)], times=times,
                 time_base=Fraction(1, 90000), options={"preset": "ultrafast", "crf": "10", "g": "6"})
    frames = read_frames(path)
    shown = _shown(sample_frames(path, count, **segment), frames)
    assert len(shown) == count and shown == sorted(set(shown)) and shown[-1] == 23, shown


@pytest.mark.parametrize("segment,first", [({"duration": 2}, 0), ({"start": 0.5, "duration": 2}, 12),
                                           ({"start": 0.5, "duration": 1}, 12)])
def test_a_segment_ending_in_a_gap_of_an_intact_file_is_not_said_to_be_cut(tmp_path, caplog, segment, first):
    """A segment of no more frames than asked for is read once from its start (5da5a76); where its
    frames stopped before its end (frames to 1 s, then none until 3 s, --duration 2), that read
    said "the frames of gap.mp4 end at 1.04 s, though its header says they reach 2.00 s (truncated
    or damaged file?)" of an intact file: its frames end there because the segment does (the frame
    at 3 s is past it), as stylize, which says nothing of it, keeps them."""
    from vidstyle.io.samples import sample_frames
    from videos import pattern_frame, write_frames

    path = tmp_path / "gap.mp4"
    times = [Fraction(i, 24) for i in range(24)] + [3 + Fraction(i, 24) for i in range(24)]
    write_frames(path, [pattern_frame(i, (32, 32), "noise", 48) for i in range(48)], times=times,
                 time_base=Fraction(1, 90000), options={"preset": "ultrafast", "crf": "10", "g": "6"})
    frames = read_frames(path)
    with caplog.at_level("WARNING", logger="vidstyle"):
        assert _shown(sample_frames(path, 64, say_unspread=True, **segment), frames) == list(range(first, 24))
    assert f"has {24 - first} frames: all are shown" in caplog.text
    assert "truncated" not in caplog.text and "ends before" not in caplog.text, caplog.text


def test_samples_respread_over_a_cut_mp4_open_it_about_once_a_frame(tmp_path, monkeypatch):
    """Mutation testing (59th session): an .mp4 cut short with its index at the front (a
    download of a web-optimized file, interrupted) counts the frames it no longer has, and that
    count is exact; once the samples are spread over the frames there are, its end is an estimate.
    Taken as exact still, every gap between the 46 frames left was looked into for one more: 171
    opens, not 80, for the same frames."""
    from vidstyle.io import decode, samples

    whole = make_video(tmp_path / "whole.mp4", frames=96, size=(32, 32), pattern="noise", gop=12,
                       container_options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    frames = read_frames(whole)
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    shown = _shown(samples.sample_frames(cut, 64), frames)
    assert 20 < len(shown) < 60 and shown == list(range(len(shown)))
    # a file's opens for each sample before the cut, a few to find where the frames end, one for
    # each of them and one to read them (fewer than asked for): not two more for each gap
    assert len(opened) < 2 * len(shown), len(opened)


def test_a_cut_mp4_read_once_is_said_to_end_where_its_frames_end(tmp_path, caplog):
    """An .mp4 cut short with its index at the front counts 48 frames, fewer than the 60 asked
    for: it is read once from its start, and where its frames end (after its last one, a frame
    long) is said. Mutation testing, 60th session: that warning left out, or saying where the
    last frame begins, passed every test."""
    from vidstyle.io.samples import sample_frames

    whole = make_video(tmp_path / "whole.mp4", frames=48, size=(32, 32), pattern="noise", gop=12,
                       container_options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="vidstyle"):
        shown = _shown(sample_frames(cut, 60, say_unspread=True), read_frames(whole))
    n = len(shown)
    assert 10 < n < 48 and shown == list(range(n))
    assert f"the frames of cut.mp4 end at {n / 24:.2f} s, though its header says they reach 2.00 s" in caplog.text
    assert f"cut.mp4 has {n} frames: all are shown" in caplog.text


def test_samples_of_a_segment_its_read_found_longer_than_asked_do_not_read_it_again(tmp_path, monkeypatch):
    """A segment whose estimated count (10) is below the 20 asked for is read from its start;
    finding more frames than asked (bursts), it is sampled, and what the samples miss is looked
    for between them, not by reading the segment from its start again. Mutation testing, 60th
    session: that second read (an open, and up to 21 frames decoded) passed every test."""
    from vidstyle.io import decode, samples

    path = _burst_clip(tmp_path / "burst.mkv")
    frames = read_frames(path)
    segment_opens = []
    real_init = decode.VideoDecoder.__init__

    def counted(self, *args, **kwargs):
        if args[1:3] == (1.0, 0.4):  # (a sample opens the file at its time, with no duration)
            segment_opens.append(args)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(decode.VideoDecoder, "__init__", counted)
    shown = _shown(samples.sample_frames(path, 20, 1.0, 0.4), frames)
    assert len(shown) == 20 and shown == sorted(set(shown)) and set(shown) <= set(range(5, 35))
    assert len(segment_opens) == 1


def test_samples_of_an_mkv_open_it_once_a_sample_and_its_segment_read_is_not_searched_again(tmp_path, monkeypatch):
    """An .mkv's count is an estimate: where the samples found as many frames as asked for, that
    is all (8 opens for 8 of 48 evenly spaced frames); where they found fewer and the read from
    its start holds no more than asked for (the 43 frames of a burst clip, counted 68), those
    frames are the samples. Mutation testing, 60th session: reading the segment again when the
    samples had found them all (an open and 9 frames decoded in every such preview), or searching
    the gaps when the read held exactly as many as asked for (131 opens, not 72), passed every test."""
    from vidstyle.io import decode, samples

    clip = make_video(tmp_path / "clip.mkv", frames=48, size=(32, 32), pattern="noise", gop=12)
    burst = _burst_clip(tmp_path / "burst.mkv")
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    shown = _shown(samples.sample_frames(clip, 8), read_frames(clip))
    assert len(shown) == 8 and shown == sorted(set(shown)) and len(opened) == 8
    opened.clear()
    assert _shown(samples.sample_frames(burst, 43), read_frames(burst)) == list(range(43))
    assert len(opened) < 2 * 43, len(opened)


def test_a_duration_past_the_end_of_a_stream_that_does_not_say_its_length_counts_from_the_start(tmp_path, caplog):
    """Mutation testing, 60th session: the length said of a raw stream's segment from --start 0.5
    to its end (1.5 s of 2 s) given as where its frames end (2.00 s) passed every test."""
    from vidstyle.io.samples import sample_frames

    src = make_video(tmp_path / "raw.h264", frames=48, size=(64, 48), fps=24)
    with caplog.at_level("WARNING", logger="vidstyle"):
        assert len(sample_frames(src, 3, 0.5, 10, say_unspread=True)) == 3
    assert "raw.h264 ends before the 10 s asked for (--duration): the segment lasts 1.50 s" in caplog.text


def test_a_sheet_of_more_frames_than_it_takes_is_refused_in_one_line(tmp_path, cli):
    """--frames 5000 (a typo for 5) decoded and held every frame at full size before the sheet's
    size was looked at: 5000 x 6.2 MB for a 1080p video. A sheet takes 1 to 64 columns."""
    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    done = cli("preview", src, "-o", tmp_path / "s.png", "--style", "light_mondrian", "--frames", "5000")
    assert done.returncode == 2 and "--frames: must be 1 to 64 frames, got 5000" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "s.png").exists()


def test_a_sheet_takes_as_many_frames_as_its_cap(tmp_path):
    """MAX_SHEET_FRAMES itself is taken (only past it is refused): a 4-frame clip shows its 4."""
    from vidstyle.preview import MAX_SHEET_FRAMES

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    style_sheet(src, tmp_path / "s.png", ["light_mondrian"], frames=MAX_SHEET_FRAMES, width=32)
    assert read_image(tmp_path / "s.png").shape[1] == 4 * 32


def test_style_sheet_called_from_python_refuses_more_frames_than_its_cap(tmp_path):
    """Mutation testing (58th session): only the command line's --frames was tested past the cap,
    so style_sheet(frames=5000) from a program decoding and holding every frame (5000 x 6.2 MB
    for a 1080p video) passed every test. Past MAX_SHEET_FRAMES it is refused, nothing written."""
    from vidstyle.errors import BadValueError
    from vidstyle.preview import MAX_SHEET_FRAMES

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    with pytest.raises(BadValueError, match=f"^frames must be 1 to {MAX_SHEET_FRAMES} \\(a column each\\), got "
                                            f"{MAX_SHEET_FRAMES + 1}$"):
        style_sheet(src, tmp_path / "s.png", ["light_mondrian"], frames=MAX_SHEET_FRAMES + 1, width=32)
    assert not (tmp_path / "s.png").exists()


def test_a_ctrl_c_during_the_sheets_rename_says_it_is_complete(tmp_path, cli, monkeypatch, ctrl_c_as_in_a_terminal):
    """The sheet's rename is held whole (vidstyle.io.files.atomic_output), the Ctrl-C delivered
    once it is in place: that said "vidstyle: interrupted" alone beside the finished sheet, where
    vidstyle stylize says its output is complete."""
    import os
    import signal

    import vidstyle.io.files as files

    write_image(tmp_path / "photo.png", np.full((40, 60, 3), 90, np.uint8))
    link = os.link

    def ctrl_c_after_the_link(*args, **kwargs):
        link(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(files.os, "link", ctrl_c_after_the_link)
    sheet = tmp_path / "s.png"
    done = cli("preview", tmp_path / "photo.png", "-o", sheet, "--style", "light_mondrian", "--quiet")
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"vidstyle: interrupted once {sheet} was written: it is complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "s.png"] and read_image(sheet).shape[2] == 3


def test_a_sheet_whose_name_another_run_took_meanwhile_is_kept_beside_it(tmp_path):
    """Two previews to one new name at once: the one finishing second dropped its sheet with
    "already exists" (its output entered atomic_output only once every style had run, and was
    checked afresh there), where stylize and export keep theirs as NAME-2 and say so."""
    from vidstyle.errors import OutputExistsError

    src = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    out = tmp_path / "sheet.png"

    def other_run_finishes(done, total, spec):  # while this one is painting its rows
        out.write_bytes(b"theirs")

    with pytest.raises(OutputExistsError, match=r"sheet\.png appeared while processing .* kept as .*sheet-2\.png$"):
        style_sheet(src, out, ["light_mondrian"], frames=1, width=48, progress=other_run_finishes)
    assert out.read_bytes() == b"theirs"
    assert read_image(tmp_path / "sheet-2.png").shape == (2 * (BAND + 36), 48, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "sheet-2.png", "sheet.png"]


@pytest.mark.parametrize("gop,segment", [(250, {}), (250, {"start": 0.5, "duration": 2}), (10, {}),
                                         (30, {"start": 1})])
def test_samples_of_one_gop_are_read_on_not_opened_for(tmp_path, monkeypatch, gop, segment):
    """The samples of a clip that is one GOP (a short phone clip, the project's sample.mp4) each
    opened the file and decoded it from its one keyframe up to the sample again: 8 samples decoded
    3.5 times its frames, and the black-bar search of a 2 s 1080p clip took 1.4-2 s of CPU where
    reading it once takes 0.5 s (review, 62nd session). Read on from the segment's decoder where no
    keyframe lies between, opened for where one does; the same frames either way."""
    from vidstyle.io import decode, samples

    video = make_video(tmp_path / "clip.mp4", frames=96, size=(32, 32), pattern="noise", gop=gop, crf=0)
    with decode.VideoDecoder(video, announce=False) as decoder:  # (frames as vidstyle converts them)
        frames = [item.image for item in decoder.read()]
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    got = samples.sample_frames(video, 8, **segment)
    start = round(segment.get("start", 0) * 24)
    end = start + round(segment["duration"] * 24) if "duration" in segment else 96
    expected = [start + (end - start) * i // 8 for i in range(8)]
    assert _shown(got, frames) == expected
    assert all(np.array_equal(image, frames[k]) for image, k in zip(got, expected))
    if gop == 250:
        assert len(opened) == 1  # (it was 8: one for each sample but the first)
    else:  # a keyframe between each sample and the frame before it: a seek is the shorter way there
        assert len(opened) == 8
