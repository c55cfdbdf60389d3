"""Mattes (--mask): where the style goes, still and moving, after the stabilizer (vidstyle.mask)."""
from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from videos import decoded_frames as decoded
from videos import make_video
from videos import mean_difference as differs
from videos import stylized_frames as run
from videos import write_frames
from vidstyle.errors import VidstyleError
from vidstyle.mask import Matte, composite, matte_weights
from vidstyle.models.transformer import TransformerNet
from vidstyle.models.weights import save_model
from vidstyle.pipeline import stylize_image, stylize_video


@pytest.fixture(scope="module")
def style(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("style") / "random.safetensors"
    save_model(path, TransformerNet((8, 16, 16), num_residual=1).eval(), styles=[{"name": "random"}])
    return str(path)


def half_matte(path, size=(96, 64), left_white=True, alpha=False):
    """A matte white on the left half, black on the right (as alpha: opaque left, clear right)."""
    w, h = size
    values = np.zeros((h, w), np.uint8)
    values[:, : w // 2] = 255
    if not left_white:
        values = 255 - values
    if alpha:  # colours that say the opposite, so reading them instead of the alpha is caught
        rgba = np.dstack([255 - values] * 3 + [values])
        Image.fromarray(rgba, "RGBA").save(path)
    else:
        Image.fromarray(values, "L").save(path)
    return path


def test_composite_and_weights():
    styled = np.full((2, 3, 3), 200, np.uint8)
    original = np.full((2, 3, 3), 100, np.uint8)
    weights = np.array([[0, 255, 128], [255, 0, 64]], np.uint8)
    out = composite(styled, original, weights)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out[..., 0].tolist() == [[100, 200, 150], [200, 100, 125]]
    rgb = np.array([[[255, 255, 255], [0, 0, 0]]], np.uint8)
    assert matte_weights(rgb, None).tolist() == [[255, 0]]
    assert matte_weights(rgb, None, invert=True).tolist() == [[0, 255]]
    assert matte_weights(rgb, np.array([[0, 255]], np.uint8)).tolist() == [[0, 255]]  # alpha wins
    with pytest.raises(ValueError):
        composite(styled, original, weights[:1])


@pytest.mark.parametrize("kind", ["grey", "alpha", "inverted"])
def test_a_still_matte_styles_only_its_white_part_and_keeps_the_rest_exactly(tmp_path, style, kind):
    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64))
    matte = half_matte(tmp_path / "matte.png", left_white=kind != "inverted", alpha=kind == "alpha")
    full = run(src, tmp_path / "full", style, temporal="off")
    masked = run(src, tmp_path / "masked", style, temporal="flow", temporal_strength=0.9, mask=str(matte),
                 invert_mask=kind == "inverted")
    inputs = decoded(src)
    assert len(masked) == 6
    for k in range(6):
        # the right half: the input's own pixels, untouched by the network and by the stabilizer
        assert differs(masked[k][:, 48:], inputs[k][:, 48:]) == 0
        assert differs(masked[k][:, :48], inputs[k][:, :48]) > 10  # ... and the white half is painted
    assert differs(masked[0][:, :48], full[0][:, :48]) < 1  # the first frame: nothing to stabilize yet


def test_a_moving_matte_follows_the_inputs_clock(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    # the matte: all white for its first 0.5 s, then all black (8 frames/s like the input)
    matte = write_frames(tmp_path / "matte.mkv", [np.full((32, 48), 255 if k < 4 else 0, np.uint8) for k in range(12)],
                         fps=8, codec="ffv1", pix_fmt="gray")  # a smaller matte: scaled to the frames
    inputs = decoded(src)
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(matte), start=0.25)
    assert len(out) == 10
    # frames at 0.25 ... 0.375 s styled, from 0.5 s the input as it is
    assert [differs(o, i) == 0 for o, i in zip(out, inputs[2:])] == [False] * 2 + [True] * 8


def test_a_matte_shorter_than_the_video_holds_its_last_frame_and_says_so(tmp_path, style, caplog):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    matte = make_video(tmp_path / "matte.mp4", frames=4, size=(96, 64), fps=8, pattern="flat")
    with caplog.at_level("WARNING", logger="vidstyle"):
        out = run(src, tmp_path / "out", style, temporal="off", mask=str(matte))
    assert len(out) == 12
    assert any("ends at 0.50 s, before the video" in r.getMessage() for r in caplog.records)
    # mid-grey throughout: each frame halfway between the input and the styled frame
    full = run(src, tmp_path / "full", style, temporal="off")
    inputs = decoded(src)
    for k in (0, 11):
        half = (full[k].astype(np.float32) + inputs[k].astype(np.float32)) / 2
        assert differs(out[k], np.rint(half).astype(np.uint8)) < 2


def test_bad_mattes_fail_before_any_work(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=4, size=(96, 64))
    with pytest.raises(VidstyleError, match="not found"):
        stylize_video(src, tmp_path / "a.mp4", style=style, mask=str(tmp_path / "missing.png"), progress=False)
    with pytest.raises(VidstyleError, match=r"cannot read standard input \(-\)"):  # not "mask not found: -"
        stylize_video(src, tmp_path / "a.mp4", style=style, mask="-", progress=False)
    wide = half_matte(tmp_path / "wide.png", size=(160, 40))
    with pytest.raises(VidstyleError, match="160x40 and the input 96x64"):
        stylize_video(src, tmp_path / "b.mp4", style=style, mask=str(wide), progress=False, device="cpu")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(VidstyleError, match="cannot read the mask"):
        stylize_video(src, tmp_path / "c.mp4", style=style, mask=str(junk), progress=False)
    with pytest.raises(VidstyleError, match="invert_mask must be"):
        stylize_video(src, tmp_path / "d.mp4", style=style, mask=str(wide), invert_mask="yes", progress=False)
    assert not list(tmp_path.glob("[abcd].mp4"))
    # the matte is an input too: never replaced by the output, even with overwrite
    matte_video = make_video(tmp_path / "matte.mp4", frames=4, size=(96, 64), pattern="flat")
    kept = matte_video.read_bytes()
    for write, source, output in ((stylize_video, src, matte_video), (stylize_image, None, wide)):
        if source is None:
            source = tmp_path / "still.png"
            Image.new("RGB", (160, 40), "grey").save(source)
        with pytest.raises(VidstyleError, match="is the --mask file"):
            write(source, output, style=style, mask=str(output), overwrite=True, progress=False)
    assert matte_video.read_bytes() == kept
    from vidstyle.pipeline import stylize_files

    (tmp_path / "out").mkdir()
    batch_matte = tmp_path / "out" / "matte.mp4"  # where the second input's output goes
    batch_matte.write_bytes(kept)
    with pytest.raises(VidstyleError, match="is the --mask file"):
        stylize_files([src, matte_video], tmp_path / "out", style=style, mask=str(batch_matte), overwrite=True)
    assert batch_matte.read_bytes() == kept and not (tmp_path / "out" / "in.mp4").exists()


def test_a_still_image_with_a_matte_and_a_path_object(tmp_path, style):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(photo)
    matte = half_matte(tmp_path / "matte.png", size=(192, 128))  # twice the size: scaled down
    stylize_image(photo, tmp_path / "out.png", style=style, device="cpu", mask=matte)
    out = np.asarray(Image.open(tmp_path / "out.png"))
    original = np.asarray(Image.open(photo))
    assert differs(out[:, 48:], original[:, 48:]) == 0 and differs(out[:, :48], original[:, :48]) > 10
    with Matte(matte) as m:
        assert not m.moving and m.weights_at(0.0, (64, 96)).shape == (64, 96)


def test_cli_mask_options(tmp_path, style, cli):
    src = make_video(tmp_path / "in.mp4", frames=4, size=(96, 64))
    matte = half_matte(tmp_path / "matte.png")
    ok = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", style, "--mask", matte, "--invert-mask",
             "--device", "cpu", "--quiet")
    assert ok.returncode == 0, ok.stderr
    line = cli("stylize", src, "-o", tmp_path / "o2.mp4", "--style", style, "--mask", matte, "--device", "cpu").stderr
    assert "mask matte.png] ->" in line
    lone = cli("stylize", src, "-o", tmp_path / "lone.mp4", "--style", style, "--invert-mask", "--device", "cpu",
               "--quiet")
    assert lone.returncode == 0 and "--invert-mask inverts a --mask; there is none" in lone.stderr
    bad = cli("stylize", src, "-o", tmp_path / "bad.mp4", "--style", style, "--mask", tmp_path / "nope.png")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "nope.png" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.mp4").exists()


# --- review findings (a helper's review of mattes) ------------------------------------------------

def write_matte_video(path, values, fps=24, size=(96, 64), codec="ffv1", pix_fmt="gray", alpha=None):
    """A matte video whose frame k is all ``values[k]`` (with ``alpha``: RGBA frames, alpha set so)."""
    w, h = size
    images = [np.full((h, w), v, np.uint8) if alpha is None else
              np.dstack([np.full((h, w), v, np.uint8)] * 3 + [np.full((h, w), alpha, np.uint8)]) for v in values]
    return write_frames(path, images, fps=fps, codec=codec, pix_fmt=pix_fmt)


def kept(out, inputs):
    """Per frame: True where the output is the input as it is (the matte was black there)."""
    return [differs(o, i) == 0 for o, i in zip(out, inputs)]


def test_a_matroska_matte_on_an_mp4_input_keeps_in_step_despite_millisecond_times(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=24)
    matte = write_matte_video(tmp_path / "matte.mkv", [0 if k % 2 else 255 for k in range(12)])  # odd frames kept
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(matte))
    assert kept(out, decoded(src)) == [k % 2 == 1 for k in range(12)]  # was a frame late on every third


def test_a_folder_matte_plays_at_the_inputs_rate(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=10, size=(96, 64), fps=30)
    folder = tmp_path / "matte"
    folder.mkdir()
    for k in range(10):
        Image.fromarray(np.full((64, 96), 0 if k in (3, 7) else 255, np.uint8)).save(folder / f"m_{k:04d}.png")
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(folder))
    assert kept(out, decoded(src)) == [k in (3, 7) for k in range(10)]  # not at 24 frames/s
    # numbered output frames are never written into the matte's folder, over its frames
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(VidstyleError, match="would be written into the --mask folder"):
        stylize_video(src, folder / "m_%04d.png", style=style, mask=str(folder), overwrite=True, progress=False)
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_a_folder_matte_longer_than_the_video_is_not_called_damaged(tmp_path, style, caplog):
    """The run ends before the matte does: its last files, still inside the decoder's frame
    threads when it was closed, were named as damaged frames that had been held."""
    src = make_video(tmp_path / "in.mp4", frames=8, size=(96, 64), fps=24)
    folder = tmp_path / "matte"
    folder.mkdir()
    for k in range(40):
        Image.fromarray(np.full((64, 96), 255 * (k % 2), np.uint8)).save(folder / f"m_{k:04d}.png")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        out = run(src, tmp_path / "out", style, temporal="off", mask=str(folder))
    assert "damaged" not in caplog.text, caplog.text
    assert kept(out, decoded(src)) == [k % 2 == 0 for k in range(8)]


def test_a_moving_matte_with_an_opaque_alpha_is_read_by_brightness(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64), fps=24)
    matte = write_matte_video(tmp_path / "matte.mov", [255, 0, 255, 0, 255, 0], codec="qtrle", pix_fmt="argb",
                              alpha=255)
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(matte))
    assert kept(out, decoded(src)) == [False, True] * 3  # was all painted: the opaque alpha read as the matte


def test_animated_mattes_are_refused_and_a_damaged_one_is_said(tmp_path, style, caplog):
    src = make_video(tmp_path / "in.mp4", frames=24, size=(96, 64), fps=24)
    frames = [Image.fromarray(np.full((64, 96), v, np.uint8)) for v in (0, 255, 0)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(VidstyleError, match=r"^the mask anim\.png is an animation \(3 frames\), not a still image: "
                                            r"a mask is one image, or a video file, GIF or folder of frames"):
        stylize_video(src, tmp_path / "a.mp4", style=style, mask=str(tmp_path / "anim.png"), progress=False)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    with pytest.raises(VidstyleError, match=r"^the mask pages\.tif is a multi-page TIFF \(3 pages\), not one still "
                                            r"image: a mask is one image"):  # (not "save the page to stylize")
        stylize_video(src, tmp_path / "a.mp4", style=style, mask=str(tmp_path / "pages.tif"), progress=False)
    matte = make_video(tmp_path / "matte.mp4", frames=24, size=(96, 64), fps=24, gop=4)
    data = bytearray(matte.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = bytes(2000)
    matte.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="vidstyle"):
        run(src, tmp_path / "out", style, temporal="off", mask=str(matte))
    assert any("(the mask)" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)


def test_a_matte_cut_short_is_said_to_be_not_only_shorter(tmp_path, style, caplog):
    """A matte file cut off (a copy that stopped) ends early with no damaged packet to count: its
    own length says it was cut, unlike a matte made shorter than the video."""
    src = make_video(tmp_path / "in.mp4", frames=24, size=(96, 64), fps=24)
    matte = make_video(tmp_path / "matte.mkv", frames=24, size=(96, 64), fps=24, gop=4)
    matte.write_bytes(matte.read_bytes()[: matte.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="vidstyle"):
        run(src, tmp_path / "out", style, temporal="off", mask=str(matte))
    said = [r.getMessage() for r in caplog.records if "the mask matte.mkv ends at" in r.getMessage()]
    assert len(said) == 1 and "of the about 24 frames of matte.mkv could be decoded (truncated or damaged" in said[0]
    whole = make_video(tmp_path / "short.mkv", frames=8, size=(96, 64), fps=24)
    caplog.clear()
    with caplog.at_level("WARNING", logger="vidstyle"):
        run(src, tmp_path / "out2", style, temporal="off", mask=str(whole))
    said = [r.getMessage() for r in caplog.records if "the mask short.mkv ends at" in r.getMessage()]
    assert len(said) == 1 and "truncated" not in said[0]


def test_a_matte_of_the_shape_an_anamorphic_video_is_shown_in_fits(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=4, size=(96, 64), sar=Fraction(4, 3))  # shown as 128x64
    shown = half_matte(tmp_path / "shown.png", size=(128, 64))
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(shown))
    inputs = decoded(src)
    assert len(out) == 4 and differs(out[0][:, 48:], inputs[0][:, 48:]) == 0
    with pytest.raises(VidstyleError, match=r"shown as 128x64"):
        stylize_video(src, tmp_path / "b.mp4", style=style, mask=str(half_matte(tmp_path / "sq.png", size=(64, 64))),
                      progress=False, device="cpu")


def test_a_matte_that_ends_before_the_start_holds_and_its_reading_does_not_depend_on_the_start(tmp_path, style):
    src = make_video(tmp_path / "in.mp4", frames=24, size=(96, 64), fps=24)
    short = write_matte_video(tmp_path / "short.mkv", [255, 0, 0, 0])  # black from its second frame: kept
    out = run(src, tmp_path / "late", style, temporal="off", mask=str(short), start=0.5)
    assert len(out) == 12 and all(kept(out, decoded(src)[12:]))  # its last (black) frame held, no failure
    # frame 0 opaque (so read by brightness: white), the others transparent and white
    images = [np.full((64, 96, 4), 255, np.uint8) for _ in range(24)]
    for rgba in images[1:]:
        rgba[..., 3] = 0
    matte = write_frames(tmp_path / "alpha.mov", images, codec="qtrle", pix_fmt="argb")
    whole = run(src, tmp_path / "whole", style, temporal="off", mask=str(matte))
    later = run(src, tmp_path / "later", style, temporal="off", mask=str(matte), start=0.5)
    assert not any(kept(whole, decoded(src))) and not any(kept(later, decoded(src)[12:]))  # read alike


def test_a_matte_that_ends_before_the_segment_says_it_is_timed_from_the_inputs_start(tmp_path, style, caplog):
    # a matte rendered for the segment alone (its clock from the segment's start) ended before
    # --start on the input's clock and held one frame all through, said as "held for the rest",
    # as if part of the output had followed it
    src = make_video(tmp_path / "in.mp4", frames=24, size=(96, 64), fps=24)
    short = write_matte_video(tmp_path / "short.mkv", [255, 0, 0, 0])
    with caplog.at_level("WARNING", logger="vidstyle"):
        run(src, tmp_path / "late", style, temporal="off", mask=str(short), start=0.5)
    said = [r.getMessage() for r in caplog.records if "short.mkv" in r.getMessage()]
    assert len(said) == 1 and "before the segment starts (0.50 s)" in said[0] and "held all through" in said[0]
    assert "input's first frame, not from --start" in said[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="vidstyle"):  # ending inside the segment: held for the rest
        run(src, tmp_path / "inside", style, temporal="off", mask=str(short), start=0.05)
    said = [r.getMessage() for r in caplog.records if "short.mkv" in r.getMessage()]
    assert len(said) == 1 and "before the video: its last frame was held for the rest" in said[0]


def test_a_segment_starting_inside_a_matte_frame_opens_with_that_frame(tmp_path, style):
    # a matte of half the input's rate: --start between two of its frames took the next one (the
    # first frame at or after the start), a frame early, so the segment's first frame was kept
    src = make_video(tmp_path / "in.mp4", frames=12, size=(96, 64), fps=8)
    matte = write_matte_video(tmp_path / "matte.mkv", [255, 0, 255, 0, 255, 0], fps=4)
    out = run(src, tmp_path / "out", style, temporal="off", mask=str(matte), start=0.125)
    assert len(out) == 11
    assert kept(out, decoded(src)[1:]) == [False, True, True, False, False, True, True, False, False, True, True]


def test_cli_mask_given_twice_is_said_not_dropped(tmp_path, style, cli):
    src = make_video(tmp_path / "in.mp4", frames=4, size=(96, 64))
    left, right = half_matte(tmp_path / "left.png"), half_matte(tmp_path / "right.png", left_white=False)
    twice = cli("stylize", src, "-o", tmp_path / "out.mp4", "--style", style, "--mask", left, "--mask", right,
                "--device", "cpu")
    assert twice.returncode == 2 and "--mask takes one value, given twice" in twice.stderr
    assert len(twice.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.mp4").exists()
    same = cli("stylize", src, "-o", tmp_path / "same.mp4", "--style", style, "--mask", left, "--mask", left,
               "--device", "cpu", "--quiet")
    assert same.returncode == 0, same.stderr  # the same matte twice is harmless


def test_a_start_between_two_frames_of_a_matte_of_the_inputs_rate_seeks_once(tmp_path, monkeypatch):
    # most starts fall between two frames (all but a few at 24000/1001 frames/s): sought first at
    # the start itself, the matte was found a frame late there and sought again, each seek decoding
    # from a keyframe (twice the opening time of a long-GOP matte)
    import vidstyle.io.decode as decode

    matte = write_matte_video(tmp_path / "matte.mkv", [10 * k for k in range(24)], fps=24)
    opened, init = [], decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(a) or init(self, *a, **k))
    with Matte(matte, start=0.51) as m:  # between the frames at 12/24 and 13/24 s
        assert int(m.weights_at(0.51, (64, 96))[0, 0]) == 120
    assert len(opened) == 2  # the file's start (its first frame decides the reading), then one seek


def _matte_folder(folder, sizes):
    """A folder matte whose frame k is ``sizes[k]`` = (width, height), white for the first five
    frames, black after."""
    folder.mkdir()
    for k, (w, h) in enumerate(sizes):
        Image.fromarray(np.full((h, w), 255 if k < 5 else 0, np.uint8)).save(folder / f"m_{k:04d}.png")
    return folder


def test_a_moving_matte_that_changes_shape_mid_way_is_refused_naming_where(tmp_path, style, caplog):
    """A moving matte whose frames changed size part-way (mattes of two resolutions joined) was
    scaled to its first frame's size without a word, a change of shape stretching it off the
    picture it was drawn for (review, 62nd session). A change of shape is refused, naming the
    time of the frame it comes at; one of size alone is scaled (it still lies over the same
    picture), said once, as the input's own change of size is."""
    src = make_video(tmp_path / "in.mp4", frames=10, size=(96, 64), fps=24)
    square = _matte_folder(tmp_path / "square", [(96, 64)] * 5 + [(96, 96)] * 5)
    with pytest.raises(VidstyleError, match=r"^the mask square changes shape at 0\.21 s, from 96x64 to 96x96: "
                                            r"its frames from there would be stretched; give a mask of one shape$"):
        run(src, tmp_path / "out", style, temporal="off", mask=str(square))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no frames left behind
    half = _matte_folder(tmp_path / "half", [(96, 64)] * 5 + [(48, 32)] * 3 + [(96, 64), (48, 32)])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        out = run(src, tmp_path / "out2", style, temporal="off", mask=str(half))
    said = [r.getMessage() for r in caplog.records if "changes size" in r.getMessage()]
    assert said == ["the mask half changes size mid-stream, from 96x64 to 48x32 at 0.21 s: its frames of "
                    "another size are scaled to 96x64"]
    assert kept(out, decoded(src)) == [k >= 5 for k in range(10)]
