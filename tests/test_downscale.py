"""`--downscale`: the output written smaller than the input (a 4K clip as 1080p), the frames
scaled as they are decoded so every stage works at that size."""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from vidstyle import StylizeConfig, stylize_image, stylize_video
from vidstyle.errors import VidstyleError
from vidstyle.io.display import downscaled_size
from vidstyle.io.images import read_image, write_image
from videos import Identity, frame_times, letterbox_bars, make_video, probe, read_frames


def stylize(src, out, **options):
    return stylize_video(src, out, style=Identity(), temporal="off", progress=False, **options)


def test_sizes_keep_the_aspect_even_and_never_grow():
    assert downscaled_size(3840, 2160, 1920) == (1920, 1080)
    assert downscaled_size(1080, 1920, 1280) == (720, 1280)  # portrait: the longer side is the height
    assert downscaled_size(100, 75, 50) == (50, 38)  # 37.5: even, for 4:2:0 encoders
    assert downscaled_size(640, 360, 640) is None and downscaled_size(640, 360, 4000) is None
    assert downscaled_size(640, 360, None) is None
    # the longer side within an odd limit (rounded down to even, not up past it)
    assert downscaled_size(3840, 2160, 1919) == (1918, 1078) and downscaled_size(640, 360, 35) == (34, 20)
    assert downscaled_size(101, 3000, 2999) == (100, 2998)
    # non-square pixels (kept): the limit is on the picture as shown, 192 x 4/3 = 256 wide
    assert downscaled_size(192, 144, 200, Fraction(4, 3)) == (150, 112)
    assert downscaled_size(1440, 1080, 1280, Fraction(4, 3)) == (960, 720)  # HDV: shown 1280x720
    # turned upright, a 4/3 pixel is 3/4: 192x144 stored is 144x192 stored with 3/4 pixels, shown
    # 108x192 (players stretch the width), so only the longer side's 192 counts
    assert downscaled_size(192, 144, 200, Fraction(4, 3), turned=True) is None
    assert downscaled_size(192, 144, 96, Fraction(4, 3), turned=True) == (96, 72)  # shown 54x96 turned
    assert downscaled_size(1920, 1080, 960, turned=True) == (960, 540)  # square pixels: as unturned
    # PAL 16:9 (64/45 pixels) on its side: 576x720 with 45/64 pixels, shown 405x720, the height at
    # the limit (taken with 64/45 pixels, shown 819 wide, it was scaled to 316x252)
    assert downscaled_size(720, 576, 360, Fraction(64, 45), turned=True) == (360, 288)


def test_the_output_is_the_input_scaled_down_with_its_timing(tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=12, size=(160, 120), audio=True)
    result = stylize(src, tmp_path / "small.mp4", downscale=80)
    info = probe(tmp_path / "small.mp4")
    assert (info.width, info.height) == (80, 60) and result.frames == 12
    assert frame_times(tmp_path / "small.mp4") == frame_times(src)
    assert "160x120 downscaled to 80x60" in result.summary()
    # the frames are the input's, area-averaged (the network saw those)
    expected = [cv2.resize(f, (80, 60), interpolation=cv2.INTER_AREA) for f in read_frames(src)]
    got = read_frames(tmp_path / "small.mp4")
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(got, expected)]) < 4
    whole = stylize(src, tmp_path / "same.mp4", downscale=4000)  # never enlarged
    assert (probe(tmp_path / "same.mp4").width, whole.summary().count("downscaled")) == (160, 0)


def test_fine_detail_is_averaged_not_sampled(tmp_path):
    """Pixel-sized detail shrunk to half: area averaging gives each output pixel the mean of its
    four, where point sampling (aliasing: shimmer and moire on 4K footage) would keep one of them.
    A smooth picture cannot tell the two apart; random pixels can."""
    src = make_video(tmp_path / "grain.mp4", frames=3, size=(160, 120), pattern="noise")
    stylize(src, tmp_path / "small.mp4", downscale=80, crf=0)
    luma = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(int)  # noqa: E731 (4:2:0 halves the chroma)
    pairs = [(luma(got), f) for got, f in zip(read_frames(tmp_path / "small.mp4"), read_frames(src))]
    area = np.mean([np.abs(got - luma(cv2.resize(f, (80, 60), interpolation=cv2.INTER_AREA))).mean()
                    for got, f in pairs])
    point = np.mean([np.abs(got - luma(f[::2, ::2])).mean() for got, f in pairs])
    assert area < 3 and point > 20, (area, point)


def test_a_turned_phone_video_is_scaled_as_shown(tmp_path):
    src = make_video(tmp_path / "phone.mp4", frames=6, size=(96, 64), rotation=90)
    stylize(src, tmp_path / "small.mp4", downscale=48)
    frames = read_frames(tmp_path / "small.mp4")
    assert frames[0].shape == (48, 32, 3)  # upright: taller than wide
    upright = read_frames(src, rotate=True)[0]
    assert np.abs(frames[0].astype(int) - cv2.resize(upright, (32, 48), interpolation=cv2.INTER_AREA)).mean() < 6
    # with wide pixels (4/3), turned upright (3/4): shown 24x48, the longer side at the limit (it was
    # measured unturned, 128 wide, and the output came out shown 18x36)
    wide = make_video(tmp_path / "wide.mp4", frames=2, size=(96, 64), rotation=90, sar=Fraction(4, 3))
    stylize(wide, tmp_path / "wide_small.mp4", downscale=48)
    with av.open(str(tmp_path / "wide_small.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.sample_aspect_ratio) == (32, 48, Fraction(3, 4))


def test_bars_are_found_and_kept_at_the_new_size(tmp_path):
    src = make_video(tmp_path / "film.mp4", frames=12, size=(192, 144), pattern="letterbox")

    class Bright:
        def stylize_batch(self, images):
            return [np.full_like(i, 230) for i in images]

    result = stylize_video(src, tmp_path / "small.mp4", style=Bright(), temporal="off", progress=False,
                           downscale=96)
    frame = read_frames(tmp_path / "small.mp4")[5]
    bar = letterbox_bars(144) // 2
    assert frame.shape == (72, 96, 3) and result.bars
    assert frame[:bar - 1].mean() < 10 and frame[-(bar - 1):].mean() < 10  # the bars, still black
    assert frame[bar + 2:-(bar + 2)].mean() > 200  # the picture between them, painted


def test_a_still_image_and_bad_values(tmp_path):
    write_image(tmp_path / "photo.png", np.full((300, 400, 3), 120, np.uint8))
    result = stylize_image(tmp_path / "photo.png", tmp_path / "small.png", style=Identity(), downscale=200)
    assert read_image(tmp_path / "small.png").shape == (150, 200, 3)
    assert "400x300 downscaled to 200x150" in result.summary()
    for bad in (8, 0, 12.5, "big"):
        with pytest.raises(VidstyleError, match="downscale must be a whole number of pixels, at least 16"):
            StylizeConfig(downscale=bad)


def test_transparent_edges_do_not_fringe_with_the_colour_under_them(tmp_path):
    """Averaged with straight alpha, the magenta stored under the transparent pixels would tint
    the new half-transparent edge of a blue subject."""
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = (200, 0, 200)  # magenta, invisible
    rgba[16:48, 16:48] = (20, 120, 220, 255)  # the subject, opaque; at 26/64 its edges fall mid-pixel
    write_image(tmp_path / "cutout.png", rgba)
    folder = tmp_path / "render"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"f_{i}.png", rgba)
    stylize_image(tmp_path / "cutout.png", tmp_path / "small.png", style=Identity(), downscale=27)
    stylize(folder, tmp_path / "out" / "f_%02d.png", downscale=27)
    for path in (tmp_path / "small.png", tmp_path / "out" / "f_01.png"):
        from PIL import Image

        with Image.open(path) as im:
            out = np.asarray(im.convert("RGBA")).astype(int)
        edge = (out[..., 3] > 20) & (out[..., 3] < 235)
        assert edge.sum() > 10, path
        assert np.abs(out[edge][:, :3] - (20, 120, 220)).max() <= 3, path  # the subject's colour, no magenta


def test_same_shape_allows_the_pixel_that_rounding_moves():
    from vidstyle.frames import same_shape

    assert same_shape((160, 90), (80, 44))  # --downscale 80 of 160x90: 2.3% off, one picture
    assert same_shape((640, 272), (50, 22)) and same_shape((50, 22), (640, 272))  # either order
    assert same_shape((1920, 1088), (1920, 1080))
    assert not same_shape((160, 90), (80, 60))  # 16:9 against 4:3
    assert not same_shape((96, 64), (160, 40)) and not same_shape((640, 360), (180, 180))
    with pytest.raises(ValueError, match="sizes must be positive"):
        same_shape((0, 10), (10, 10))


def test_a_matte_of_the_inputs_shape_fits_a_small_downscale(tmp_path):
    """The matte is made for the input (160x90); --downscale 80 writes 80x44 (even sizes), whose
    shape is 2.3% off: the same picture, not a matte to refuse. An input of its own as the matte
    (scaled the same way) always fitted."""
    from PIL import Image

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(160, 90))
    values = np.zeros((90, 160), np.uint8)
    values[:, :80] = 255
    Image.fromarray(values, "L").save(tmp_path / "matte.png")
    result = stylize(src, tmp_path / "small.mp4", downscale=80, mask=str(tmp_path / "matte.png"))
    assert result.frames == 4 and (probe(tmp_path / "small.mp4").width, probe(tmp_path / "small.mp4").height) == (80, 44)


def test_eval_measures_a_small_downscaled_stylization(tmp_path):
    from vidstyle.eval import evaluate_videos

    src = make_video(tmp_path / "clip.mp4", frames=4, size=(320, 136))
    stylize(src, tmp_path / "small.mp4", downscale=50)  # 50x22: its shape 3.4% off 320x136's
    report = evaluate_videos(src, tmp_path / "small.mp4", preset="ultrafast")
    assert report["pairs"] == 3 and any("50x22" in note for note in report["notes"])
