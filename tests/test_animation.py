"""Animated GIF and WebP outputs: to share a short stylized clip. Read back with Pillow (FFmpeg
does not decode animated WebP); the stylizer is the identity, so what is checked is the writing."""
from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from vidstyle import stylize_video
from vidstyle.errors import VidstyleError
from vidstyle.io.gif import GifPalette
from vidstyle.io.images import write_image
from videos import Identity, make_video, read_frames, write_frames


def stylize(src, out, **options):
    return stylize_video(src, out, style=Identity(), temporal="off", progress=False, **options)


def animation(path) -> tuple[list[np.ndarray], list[int], dict]:
    """(RGBA frames, each frame's duration in ms, the file's info) as Pillow reads them."""
    frames, durations = [], []
    with Image.open(path) as im:
        info = dict(im.info)
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGBA")))
            durations.append(im.info.get("duration"))
    return frames, durations, info


def blurred_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference after a 3x3 box blur: what dithering leaves to the eye."""
    import cv2

    return float(np.abs(cv2.blur(a.astype(np.float32), (3, 3)) - cv2.blur(b.astype(np.float32), (3, 3))).mean())


def test_a_gif_loops_with_the_clips_timing_and_one_palette(tmp_path, caplog):
    src = make_video(tmp_path / "clip.mp4", frames=24, size=(96, 64), fps=12, audio=True)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "clip.gif")
    assert result.frames == 24
    assert "a .gif animation holds no sound, subtitles or chapters: the audio of clip.mp4 is not written" in caplog.text
    frames, durations, info = animation(tmp_path / "clip.gif")
    assert len(frames) == 24 and info.get("loop") == 0  # 0: for ever
    assert set(durations) <= {80, 90}  # 1/12 s in GIF's hundredths
    assert abs(sum(durations) - 2000) <= 10
    source = read_frames(src)
    assert max(blurred_error(f[..., :3], s) for f, s in zip(frames, source)) < 6
    with Image.open(tmp_path / "clip.gif") as im:
        assert im.mode == "P" and not im.info.get("transparency")


def test_a_gifs_still_background_does_not_twinkle_around_a_moving_object(tmp_path):
    """Dithering each frame afresh (Floyd-Steinberg carries each pixel's error to the pixels right
    of it and below) re-arranged the dots of everything after a small moving square: a quarter
    of the pixels whose source stood still (H.264's noise of a level or so) changed colour from frame to
    frame. A pixel that stands still keeps its palette index; the square is drawn as it moves."""
    src, (w, h) = tmp_path / "still.mp4", (128, 96)
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    background = np.stack([40 + 180 * x, 60 + 150 * y, 220 - 100 * x - 60 * y], axis=-1).astype(np.uint8)
    images = [background.copy() for _ in range(12)]
    for i, img in enumerate(images):
        img[30:42, 8 + 8 * i:20 + 8 * i] = [230, 40, 30]
    write_frames(src, images, fps=12, options={"crf": "18"})
    stylize(src, tmp_path / "still.gif")
    frames, _, _ = animation(tmp_path / "still.gif")
    source = [s.astype(int) for s in read_frames(src)]
    still = changed = 0
    for before, after, shown_before, shown_after in zip(source, source[1:], frames, frames[1:]):
        stands = np.abs(after - before).max(axis=-1) < 2
        still += stands.sum()
        changed += ((shown_after != shown_before).any(axis=-1) & stands).sum()
    assert still > 0.8 * 11 * w * h and changed / still < 0.01
    assert max(blurred_error(f[..., :3], s) for f, s in zip(frames, source)) < 4  # still dithered, not banded
    square = [f[32:40, 10 + 8 * i:18 + 8 * i, :3].astype(int) for i, f in enumerate(frames)]
    assert max(np.abs(s - [230, 40, 30]).mean() for s in square) < 20


def test_a_gif_pixel_kept_while_still_follows_a_slow_fade():
    """A pixel keeps its index while its colour stays near the one that index was chosen for, not
    near the last frame's: brightening by a level a frame, every frame "still" against the last,
    the picture follows within a few levels instead of freezing."""
    w, h = 96, 64
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    base = np.stack([40 + 150 * x, 60 + 120 * y, 200 - 90 * x - 50 * y], axis=-1)
    first = GifPalette.PALETTE_FRAMES
    # the first frame already at the fade's end, so that the palette, made from the first frames, fits it all
    images = [(base + (10 if i == 0 else max(0, i - first + 1))).astype(np.uint8) for i in range(first + 10)]
    palette = GifPalette()
    out = [f for i, image in enumerate(images) for f in palette.add(image, i, 1)] + palette.flush()
    assert len({bytes(frame.planes[1]) for frame, _, _ in out}) == 1  # one palette: nothing started afresh
    lag = [np.abs(frame.to_ndarray(format="rgb24").astype(float).mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max()
           for (frame, _, _), image in zip(out, images)]
    assert max(lag) < 3.5 and lag[-1] < 3.5


def test_the_palette_is_kept_until_a_frame_no_longer_fits_it():
    """Kept from frame to frame (each frame's own would make colours shimmer): a frame like the
    first ones is drawn with their palette; a scene in other colours, a fade from black and a small
    object in a new colour each get a new one, kept for the frames after."""
    rng = np.random.default_rng(3)
    scene = (rng.random((48, 64, 3)) * np.array([80, 255, 255]) + [0, 0, 0]).astype(np.uint8)  # no strong red
    moved = np.roll(scene, 3, axis=1)
    red = np.zeros_like(scene)
    red[...] = (rng.random((48, 64, 1)) * 60 + [190, 0, 0]).astype(np.uint8)

    def palettes_of(images):
        palette = GifPalette()
        out = [f for image in images for f in palette.add(image, 0, 0)] + palette.flush()
        assert len(out) == len(images)
        return [bytes(frame.planes[1]) for frame, _, _ in out], out

    first = GifPalette.PALETTE_FRAMES
    keys, out = palettes_of([scene] * first + [moved, red, red])
    assert len(set(keys[:first + 1])) == 1 and keys[first + 1] == keys[first + 2] != keys[0]
    assert blurred_error(out[first + 1][0].to_ndarray(format="rgb24"), red) < 8
    assert np.array_equal(out[0][0].to_ndarray(format="rgb24"), out[1][0].to_ndarray(format="rgb24"))
    # a fade from black: the black frames' palette cannot draw the scene
    keys, out = palettes_of([np.zeros_like(scene)] * first + [scene])
    assert keys[first] != keys[0] and blurred_error(out[first][0].to_ndarray(format="rgb24"), scene) < 12
    # a small red object (2% of the frame) walking in
    with_object = scene.copy()
    with_object[20:27, 30:38] = [230, 30, 20]
    keys, out = palettes_of([scene] * first + [with_object])
    assert keys[first] != keys[0]
    assert np.abs(out[first][0].to_ndarray(format="rgb24")[21:26, 31:37].astype(int) - [230, 30, 20]).mean() < 25


def test_a_frame_every_pixel_of_which_is_a_little_off_the_palette_gets_its_own():
    """A frame none of whose pixels is far from the palette (so no colour the palette lacks) but
    all of them some way off (a grade, a fade: its mean error above REFIT_ERROR) gets a palette of
    its own, rather than being dithered from the palette's colours around it."""
    greys = np.zeros((48, 64, 3), np.uint8)
    for i, level in enumerate((0, 85, 170, 255)):  # four flat greys, which the palette holds exactly
        greys[:, 16 * i:16 * (i + 1)] = level
    off = np.full_like(greys, 30)  # 30 from black, the nearest: under FAR_ERROR, over REFIT_ERROR
    assert 30 < GifPalette.FAR_ERROR
    palette = GifPalette()
    first = GifPalette.PALETTE_FRAMES
    out = [f for image in [greys] * first + [off] for f in palette.add(image, 0, 0)] + palette.flush()
    assert bytes(out[first][0].planes[1]) != bytes(out[0][0].planes[1])
    assert np.abs(out[first][0].to_ndarray(format="rgb24").astype(int) - 30).max() <= 1  # flat, not dithered

def test_a_transparent_palette_keeps_its_last_entry_for_the_transparency_alone():
    """With transparency, the palette's last entry is GIF's transparent one (alpha 0, which FFmpeg's
    encoder takes as such): the other 255 colours are made from the opaque pixels alone, none of
    which is drawn with that entry, and a palette made again the same as the first (after a flash)
    is told apart without losing it."""
    rng = np.random.default_rng(5)
    scene = (rng.random((48, 64, 3)) * np.array([60, 255, 255])).astype(np.uint8)  # thousands of colours, no red
    under = scene.copy()
    under[8:24, 8:40] = [255, 0, 255]  # magenta under the hole: never seen, so not a colour of the palette
    alpha = np.full((48, 64), 255, np.uint8)
    alpha[8:24, 8:40] = 0
    flash = np.full_like(scene, 255)
    palette = GifPalette(transparent=True)
    images = [under] * GifPalette.PALETTE_FRAMES + [flash, under]
    out = [f for i, image in enumerate(images) for f in palette.add(image, i, 1, alpha)] + palette.flush()
    assert len(out) == len(images)
    argbs = [frame.to_ndarray()[1] for frame, _, _ in out]
    assert bytes(argbs[-1]) != bytes(argbs[0])  # the palette after the flash is told apart from the first...
    assert np.array_equal(argbs[-1][:, 1:], argbs[0][:, 1:])  # ...though its colours are the same
    for frame, _, _ in out:
        indices, argb = frame.to_ndarray()
        assert argb[GifPalette.TRANSPARENT, 0] == 0 and (argb[:GifPalette.TRANSPARENT, 0] >= 128).all()
        assert ((indices == GifPalette.TRANSPARENT) == (alpha == 0)).all()
    colours = argbs[0][:GifPalette.TRANSPARENT, 1:].astype(int)
    assert np.abs(colours - [255, 0, 255]).max(axis=1).min() > 60  # no magenta, nor near it


def test_webp_keeps_timing_loops_and_keeps_transparency(tmp_path, caplog):
    folder = tmp_path / "render"
    folder.mkdir()
    for i in range(6):
        rgba = np.zeros((40, 60, 4), np.uint8)
        rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, np.arange(60)[None] * 4, 30 * i
        rgba[..., 3] = 255
        rgba[:, 30:, 3] = 0  # the right half transparent
        write_image(folder / f"f_{i:03d}.png", rgba)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(folder, tmp_path / "render.webp", sequence_fps=10)
    assert result.alpha and "alpha" not in caplog.text
    frames, durations, info = animation(tmp_path / "render.webp")
    assert len(frames) == 6 and info.get("loop") == 0 and durations == [100] * 6
    assert (frames[2][:, :25, 3] == 255).all() and (frames[2][:, 35:, 3] == 0).all()
    assert np.abs(frames[2][:, :25, :3].astype(int) - [200, 0, 60]).max(axis=(0, 1))[[0, 2]].max() < 12


def test_webp_colours_match_the_clip(tmp_path):
    src = make_video(tmp_path / "clip.mkv", frames=8, size=(96, 64), fps=8, bt709=True)
    stylize(src, tmp_path / "clip.webp")
    frames, durations, _ = animation(tmp_path / "clip.webp")
    # libwebp converts RGB itself: no matrix mismatch (an HD-tagged clip is BT.709, WebP's YUV is BT.601)
    source = read_frames(src)
    assert len(frames) == 8 and max(blurred_error(f[..., :3], s) for f, s in zip(frames, source)) < 4


def test_what_animations_refuse_or_warn_about(tmp_path, caplog):
    src = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    with pytest.raises(VidstyleError, match=r"\.gif files cannot hold libx264"):
        stylize(src, tmp_path / "a.gif", codec="libx264")
    with pytest.raises(VidstyleError, match=r"\.mp4 files cannot hold gif"):
        stylize(src, tmp_path / "a.mp4", codec="gif")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, tmp_path / "b.gif", crf=30)
    assert "--crf and --preset do not apply to .gif" in caplog.text
    fast = make_video(tmp_path / "fast.mp4", frames=24, size=(64, 48), fps=120)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(fast, tmp_path / "fast.gif")  # slow motion: frames 1/120 s apart
    assert "fast.gif at 120 frames/s: GIF shows at most 50 frames a second in browsers, so frames closer " \
           "than 1/50 s to the last one kept are left out" in caplog.text
    frames, durations, _ = animation(tmp_path / "fast.gif")
    # every third frame kept: 1/40 s apart, in hundredths 2 or 3
    assert result.frames == len(frames) == 8 and set(durations[:-1]) == {20, 30}
    # the last frame kept lasts the time of those after it, left out (1/120 s before: the clip's
    # end moved earlier); 25 ms in GIF's hundredths
    assert durations[-1] in (20, 30) and abs(sum(durations) - 200) <= 10
    stylize(fast, tmp_path / "fast.webp")  # WebP times milliseconds: every frame
    assert len(animation(tmp_path / "fast.webp")[0]) == 24
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(tmp_path / "logo.gif")  # one frame: 100 frames/s
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(tmp_path / "logo.gif", tmp_path / "logo_out.gif")
    assert "frames a second" not in caplog.text and len(animation(tmp_path / "logo_out.gif")[0]) == 1


def test_a_still_image_to_webp_stays_a_still(tmp_path):
    write_image(tmp_path / "photo.png", np.full((20, 30, 3), 90, np.uint8))
    from vidstyle import stylize_image

    stylize_image(tmp_path / "photo.png", tmp_path / "photo.webp", style=Identity(), progress=False)
    with Image.open(tmp_path / "photo.webp") as im:
        assert getattr(im, "n_frames", 1) == 1 and im.size == (30, 20)


def test_gif_frames_keep_their_own_timing(tmp_path):
    """A variable-rate clip: each GIF delay is its frame's own (to GIF's hundredths)."""
    times = [0, 100, 150, 400, 450]  # ms
    src = write_frames(tmp_path / "vfr.mkv", [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)], fps=10,
                       times=[Fraction(t, 1000) for t in times + [600]], time_base=Fraction(1, 1000))
    stylize(src, tmp_path / "vfr.gif")
    _, durations, _ = animation(tmp_path / "vfr.gif")
    assert durations[:5] == [100, 50, 250, 50, 150]


def test_an_animated_webp_given_as_a_still_is_refused(tmp_path):
    """Pillow reads an animated WebP's first frame; FFmpeg cannot decode it as a video."""
    frames = [Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=100)
    from vidstyle import stylize_image

    with pytest.raises(VidstyleError, match=r"anim\.webp is an animation \(3 frames\), not a still image"):
        stylize_image(tmp_path / "anim.webp", tmp_path / "out.webp", style=Identity(), progress=False)
    assert not (tmp_path / "out.webp").exists()


def test_an_opaque_gif_input_is_not_called_transparent(tmp_path, caplog):
    """FFmpeg decodes every GIF with an alpha channel; an opaque one has nothing to keep."""
    src = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    stylize(src, tmp_path / "clip.gif")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(tmp_path / "clip.gif", tmp_path / "again.mp4")
    assert result.frames == 6 and not result.alpha
    assert "transparen" not in caplog.text and "alpha" not in caplog.text


def test_an_animated_webp_given_as_a_video_says_what_it_is(tmp_path):
    from vidstyle.io.decode import VideoDecoder

    frames = [Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(VidstyleError, match=r"anim\.webp is an animation \(3 frames\)"):
        VideoDecoder(tmp_path / "anim.webp")


def test_frames_an_uneven_clock_puts_too_close_are_said(tmp_path, caplog):
    """A variable-rate clip of 25 frames/s on average with two frames 5 ms apart: GIF leaves the
    second out (after saying nothing up front: the rate is below 50) and says so at the end."""
    times = [0, 40, 80, 85, 120, 160]
    src = write_frames(tmp_path / "uneven.mkv", [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)], fps=25,
                       times=[Fraction(t, 1000) for t in times], time_base=Fraction(1, 1000))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "uneven.gif")
    assert result.frames == 5
    assert "left out 1 frame(s) of uneven.mkv that came closer to the one before than .gif can time" in caplog.text


def test_webp_frames_each_show_their_own_transparency(tmp_path):
    """A moving opaque square over transparency, and a half-transparent column: each frame must
    show its own alpha, not be blended onto the frames before it (FFmpeg's muxer writes WebP's
    default, blending: the square left a trail and 50% alpha built up to opaque)."""
    folder = tmp_path / "render"
    folder.mkdir()
    alphas = []
    for i in range(6):
        rgba = np.zeros((40, 64, 4), np.uint8)
        rgba[..., 0], rgba[..., 1], rgba[..., 2] = np.arange(64)[None] * 4, 120, 60
        rgba[8:28, 4 + 6 * i:24 + 6 * i, 3] = 255
        rgba[:, 56:, 3] = 128
        write_image(folder / f"f_{i:03d}.png", rgba)
        alphas.append(rgba[..., 3])
    stylize(folder, tmp_path / "moving.webp", sequence_fps=10)
    frames, _, _ = animation(tmp_path / "moving.webp")
    assert len(frames) == 6
    for frame, alpha in zip(frames, alphas):
        assert np.abs(frame[..., 3].astype(int) - alpha).max() <= 1


def test_gif_frames_after_a_flash_show_their_own_colours(tmp_path):
    # a white flash gets a palette of its own; the next frame's palette is the first one again,
    # and FFmpeg's GIF encoder then marks as unchanged (transparent, showing the flash) every
    # pixel whose palette index matches the flash frame's
    src, size = tmp_path / "flash.mp4", (64, 48)
    images = [np.full((size[1], size[0], 3), 40, np.uint8) for _ in range(20)]
    for i, img in enumerate(images):
        img[-8:, : 3 * i] = 120
    images[10][:] = 255
    write_frames(src, images, fps=10, pix_fmt="yuv444p", options={"crf": "0", "preset": "ultrafast"})
    stylize(src, tmp_path / "out.gif")
    frames, _, _ = animation(tmp_path / "out.gif")
    tops = [round(float(f[:-8, :, :3].mean())) for f in frames]
    assert tops == [40] * 10 + [255] + [40] * 9


class _Unused:
    """A stylizer that must not be reached: the output was to be refused before any frame."""

    def stylize_batch(self, images):
        pytest.fail("the network ran on pictures the output cannot hold")


def test_pictures_wider_than_webp_or_jpeg_holds_are_refused_before_the_network(tmp_path):
    # WebP holds 16383 pixels a side, JPEG 65500: Pillow and libwebp refused only once every frame
    # was painted, in words that name no way out ("encoding error 5", "avcodec_send_frame() returned 22")
    from vidstyle import stylize_image

    wide = write_frames(tmp_path / "wide.mkv", [np.full((16, 16400, 3), 90, np.uint8)] * 2, fps=10,
                        codec="ffv1")  # (H.264 holds no 16400-wide frame)
    for out in (tmp_path / "wide.webp", tmp_path / "frames" / "f_%02d.webp"):
        with pytest.raises(VidstyleError, match=r"would be 16400x16, larger than \.webp images can be \(16383 pixels "
                                                r"a side\): write \.png, or --downscale 16383"):
            stylize_video(wide, out, style=_Unused(), temporal="off", progress=False)
    photo = tmp_path / "wide.png"
    write_image(photo, np.full((16, 16400, 3), 90, np.uint8))
    with pytest.raises(VidstyleError, match=r"wide\.webp would be 16400x16"):
        stylize_image(photo, tmp_path / "wide.webp", _Unused())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.mkv", "wide.png"]  # nothing left, no folder
    stylize_image(photo, tmp_path / "wide.webp", Identity(), downscale=16383)  # the way out it names
    assert Image.open(tmp_path / "wide.webp").size == (16382, 16)  # (even sizes)


def test_the_largest_picture_each_format_holds_is_written_and_one_pixel_more_refused():
    """Each side counts (a tall picture as a wide one), up to the format's own limit exactly:
    libwebp's 16383 and libjpeg's 65500 pixels; PNG has none worth saying."""
    from vidstyle.io.images import check_image_size

    for name, limit in (("out.webp", 16383), ("out.jpg", 65500), ("f_%04d.jpeg", 65500)):
        check_image_size(name, limit, 16)
        check_image_size(name, 16, limit)
        for size in ((limit + 1, 16), (16, limit + 1)):
            with pytest.raises(VidstyleError, match=rf"would be {size[0]}x{size[1]}, .*\({limit} pixels a side\)"):
                check_image_size(name, *size)
    check_image_size("out.png", 70000, 16)


def _one_frame_apng(path, picture: np.ndarray) -> None:
    """An APNG holding one frame (acTL num_frames 1; Pillow writes one frame as a plain PNG)."""
    import io
    import struct
    import zlib

    plain = io.BytesIO()
    Image.fromarray(picture).save(plain, format="PNG")
    data, out, at = plain.getvalue(), bytearray(plain.getvalue()[:8]), 8

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    while at < len(data):
        size = struct.unpack(">I", data[at:at + 4])[0]
        kind = data[at + 4:at + 8]
        if kind == b"IDAT" and b"acTL" not in out:
            height, width = picture.shape[:2]
            out += chunk(b"acTL", struct.pack(">II", 1, 0))
            out += chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0))
        out += data[at:at + 12 + size]
        at += 12 + size
    path.write_bytes(bytes(out))


def test_a_one_frame_gif_or_apng_is_stylized_into_a_still_image(tmp_path, cli, style):
    """A sticker or a picture saved as a GIF is one frame: written to an image name it is a still,
    its transparency kept; to a .gif it stays a one-frame animation, and a GIF of two frames is
    no still."""
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = np.arange(48) * 5, np.arange(32)[:, None] * 7
    sticker = Image.fromarray(rgb).quantize(255)
    indices = np.asarray(sticker).copy()
    indices[:8, :12] = 255  # a transparent corner
    palette = sticker.getpalette()[:765] + [0, 0, 0]
    sticker = Image.fromarray(indices, "P")
    sticker.putpalette(palette)
    sticker.save(tmp_path / "sticker.gif", transparency=255)
    _one_frame_apng(tmp_path / "logo.apng", rgb)
    for source, out in (("sticker.gif", "sticker.png"), ("sticker.gif", "sticker.jpg"), ("logo.apng", "logo.png")):
        done = cli("stylize", tmp_path / source, "-o", tmp_path / out, "--style", style, "--device", "cpu")
        assert done.returncode == 0, done.stderr
        assert "stylized 1 image" in done.stderr
    with Image.open(tmp_path / "sticker.png") as im:
        assert im.mode == "RGBA" and im.size == (48, 32)
        alpha = np.asarray(im)[..., 3]
    assert (alpha[:8, :12] == 0).all() and (alpha[8:] == 255).all()
    assert Image.open(tmp_path / "sticker.jpg").size == Image.open(tmp_path / "logo.png").size == (48, 32)
    done = cli("stylize", tmp_path / "sticker.gif", "-o", tmp_path / "again.gif", "--style", style, "--device", "cpu")
    assert done.returncode == 0 and "stylized 1 frame" in done.stderr
    assert len(animation(tmp_path / "again.gif")[0]) == 1
    frames = [Image.fromarray(rgb), Image.fromarray(rgb[::-1].copy())]
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:], duration=100)
    done = cli("stylize", tmp_path / "two.gif", "-o", tmp_path / "two.png", "--style", style, "--device", "cpu")
    assert done.returncode == 1 and "cannot write .png files" in done.stderr
    # said as an animation, with where its frames can go (not "images are written from a still image")
    assert "two.gif is an animation of several frames: write it to a video, an animation (.gif, .webp) or " \
           "numbered frames (two_%04d.png)" in done.stderr, done.stderr
    from vidstyle import stylize_image

    assert stylize_image(tmp_path / "sticker.gif", tmp_path / "api.webp", style=Identity(), progress=False).frames == 1
    with pytest.raises(VidstyleError, match=r"two\.gif is a video, not a still image"):
        stylize_image(tmp_path / "two.gif", tmp_path / "api2.png", style=Identity(), progress=False)


def test_an_image_name_for_a_video_output_says_an_animation_only_of_several_frames(tmp_path):
    """A video output given an image name (stylize_video, live --record) says where images come
    from; from a GIF of several frames, that it is an animation and where its frames can go. A GIF
    of one frame is a still (which stylize_image writes to an image name): no animation of several
    frames."""
    from vidstyle.io.files import check_output

    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = np.arange(48) * 5
    Image.fromarray(rgb).save(tmp_path / "one.gif")
    mirrored = Image.fromarray(rgb[:, ::-1].copy())
    Image.fromarray(rgb).save(tmp_path / "two.gif", save_all=True, append_images=[mirrored], duration=100)
    with pytest.raises(VidstyleError) as one:
        check_output(tmp_path / "o.png", input=tmp_path / "one.gif")
    assert str(one.value).endswith("; images are written from a still image input, or as numbered frames (o_%04d.png)")
    with pytest.raises(VidstyleError) as two:
        check_output(tmp_path / "o.png", input=tmp_path / "two.gif")
    assert str(two.value).endswith("; two.gif is an animation of several frames: write it to a video, an animation "
                                   "(.gif, .webp) or numbered frames (o_%04d.png)")


@pytest.mark.parametrize("first", ["hole", "opaque"])
def test_a_transparent_gif_stays_transparent_frame_by_frame(tmp_path, caplog, first):
    """A GIF sticker's transparency (one palette entry, all or nothing) is kept in a .gif output:
    each frame shows its own, also where an opaque frame comes before one with transparent pixels
    (FFmpeg leaves an opaque frame in place, which then showed through) and after a palette of its
    own (a scene in other colours). Its first frame opaque too: taken from that frame alone, the
    transparency was written opaque, with a warning."""
    kinds = [first, "opaque", "hole", "opaque", "hole", "hole", "opaque", "hole", "hole", "opaque", "hole", "hole"]
    pictures, alphas = [], []
    for i, kind in enumerate(kinds):
        rgb = np.zeros((40, 64, 3), np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = np.arange(64)[None] * 4, 120, 60 + i  # (no two frames alike: merged)
        if i >= GifPalette.PALETTE_FRAMES:  # a scene in other colours: a palette of its own
            rgb[..., 1], rgb[..., 2] = 20, np.arange(40)[:, None] * 6
        alpha = np.full((40, 64), 255, np.uint8)
        if kind == "hole":
            alpha[6:30, 4 + 3 * i:30 + 3 * i] = 0
        pictures.append(rgb)
        alphas.append(alpha)
    frames = []
    for rgb, alpha in zip(pictures, alphas):
        frame = Image.fromarray(rgb).quantize(255)
        indices = np.where(alpha == 0, 255, np.asarray(frame)).astype(np.uint8)
        palette = frame.getpalette()[:765]
        frame = Image.fromarray(indices, "P")
        frame.putpalette(palette + [0] * (768 - len(palette)))
        frames.append(frame)
    frames[0].save(tmp_path / "sticker.gif", save_all=True, append_images=frames[1:], duration=100, loop=0,
                   transparency=255, disposal=2, optimize=False)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(tmp_path / "sticker.gif", tmp_path / "out.gif")
    assert result.alpha and "transparen" not in caplog.text and "alpha" not in caplog.text
    read, _, _ = animation(tmp_path / "out.gif")
    with av.open(str(tmp_path / "out.gif")) as container:  # FFmpeg reads it as players do too
        decoded = [f.to_ndarray(format="rgba") for f in container.decode(video=0)]
    assert len(read) == len(decoded) == len(kinds)
    for i, (pillow, ffmpeg, rgb, alpha) in enumerate(zip(read, decoded, pictures, alphas)):
        for frame in (pillow, ffmpeg):
            assert np.array_equal(frame[..., 3], alpha), f"frame {i} ({kinds[i]})"
            assert blurred_error(frame[..., :3] * (alpha[..., None] // 255), rgb * (alpha[..., None] // 255)) < 6
    # each frame cleared once shown (disposal 2), to transparency: a frame in the file's palette
    # names its transparent entry, opaque or not (FFmpeg's own byte there, 31 here, would make an
    # opaque frame's pixels of that colour transparent)
    images = gif_images(tmp_path / "out.gif")
    assert [disposal for _, disposal, _ in images] == [2] * len(kinds)
    assert all(index == GifPalette.TRANSPARENT for own, _, index in images if not own)
    assert any(own for own, _, _ in images) and all(index is not None for _, _, index in images)



def test_an_opaque_gif_whose_frames_clear_once_shown_is_decoded_once(tmp_path, monkeypatch):
    """A frame cleared once shown (disposal 2) leaves transparency only where its control block
    names a transparent entry (FFmpeg clears to the background colour otherwise); many GIF tools
    clear every frame of an opaque animation so. Taken for a possible sticker, each opening
    decoded the whole GIF a second time and looked at every frame's alpha (200 frames of
    640x360: 2 s before the first frame, each time the file was opened)."""
    from vidstyle.io.decode import VideoDecoder

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (40, 64, 3), dtype=np.uint8)).quantize(64) for _ in range(6)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100, disposal=2, loop=0)
    looked = []
    has_alpha = VideoDecoder._has_alpha
    monkeypatch.setattr(VideoDecoder, "_has_alpha", lambda self, frame: looked.append(frame.pts) or has_alpha(self, frame))
    with VideoDecoder(tmp_path / "clip.gif") as decoder:
        assert not decoder.info.alpha
    assert len(looked) == 1  # the first frame's alone


def _sticker(path, disposal: list[int], later_hole: bool = False) -> None:
    """An 8-frame 64x40 GIF, 100 ms a frame, palette entry 255 transparent: frames 0-3 with a
    moving hole, and with ``later_hole`` frames 5-7 with one of their own; ``disposal`` per frame."""
    frames = []
    for i in range(8):
        rgb = np.zeros((40, 64, 3), np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = np.arange(64)[None] * 4, 120, 60 + 10 * i
        frame = Image.fromarray(rgb).quantize(255)
        indices = np.asarray(frame).copy()
        if i < 4:
            indices[6:30, 4 + 3 * i:30 + 3 * i] = 255  # a hole: the transparent entry
        elif i > 4 and later_hole:
            indices[10:20, 40:50] = 255
        palette = frame.getpalette()[:765]
        frame = Image.fromarray(indices, "P")
        frame.putpalette(palette + [0] * (768 - len(palette)))
        frames.append(frame)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, transparency=255,
                   disposal=disposal, optimize=False)


def test_a_gif_segment_after_its_transparent_opening_is_not_decoded_again(tmp_path, monkeypatch):
    """A sticker whose first frames clear to transparency once shown, then opaque frames drawn
    over one another: a --start past the transparent frames has an opaque canvas from its first
    frame on, yet the GIF was decoded again from its beginning to look at each frame's alpha."""
    from vidstyle.io.decode import VideoDecoder

    _sticker(tmp_path / "sticker.gif", [2, 2, 2, 2, 1, 1, 1, 1])
    looked = []
    has_alpha = VideoDecoder._has_alpha
    monkeypatch.setattr(VideoDecoder, "_has_alpha", lambda self, frame: looked.append(frame.pts) or has_alpha(self, frame))
    with VideoDecoder(tmp_path / "sticker.gif", start=0.4) as decoder:
        assert not decoder.info.alpha and len(looked) == 1  # the first frame's alone
        assert [item.alpha for item in decoder.read()] == [None] * 4  # and the frames are opaque
    with VideoDecoder(tmp_path / "sticker.gif", start=0.3) as decoder:  # a hole in its first frame
        assert decoder.info.alpha


def test_a_gif_segment_whose_first_frame_restores_a_cleared_canvas_keeps_its_transparency(tmp_path):
    """A --start on an opaque frame restored to what was before it once shown (disposal 3), after
    frames that clear to transparency: the canvas it restores is the cleared one, and the frames
    after it show that through their own transparent pixels, though no frame from the start on
    clears. The segment's transparency is kept, not written opaque."""
    from vidstyle.io.decode import VideoDecoder

    # frames 5-7 show what frame 4 restores (the canvas frame 3 cleared) through a hole of their own
    _sticker(tmp_path / "sticker.gif", [2, 2, 2, 2, 3, 1, 1, 1], later_hole=True)
    with VideoDecoder(tmp_path / "sticker.gif", start=0.4) as decoder:
        assert decoder.info.alpha
        holes = [None if item.alpha is None else int((np.asarray(item.alpha) < 255).sum())
                 for item in decoder.read(alpha=True)]
    assert holes == [0, 100, 100, 100]


def test_a_gif_frame_is_made_to_clear_to_transparency_in_its_graphic_control_block():
    """The GIF muxer's packets rewritten byte by byte: the first packet's header, global palette
    and looping block are stepped over to the frame's graphic control extension, whose disposal
    becomes 2 (cleared once shown); a frame FFmpeg left opaque in the file's palette names the
    palette's transparent entry (255), one with a palette of its own is left naming none (its
    index 255 is a colour), and one FFmpeg made transparent keeps the entry it named."""
    from vidstyle.io.gif import cleared_after_shown

    header = b"GIF89a" + bytes([64, 0, 40, 0, 0x81, 0, 0]) + bytes(12)  # a global palette of 4 colours
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    image = b"\x2c" + bytes(8)

    def rewritten(data: bytes) -> bytes:
        # (of a bytearray: PyAV from 18.1.1 on makes a packet of bytes read-only, as the bytes are;
        # an encoder's packets, which the rewrite is for, stay writable)
        packet = av.Packet(bytearray(data))
        cleared_after_shown(packet)
        return bytes(packet)

    def control(flags: int, index: int) -> bytes:  # size 4, flags, delay 10, transparent index
        return bytes([0x21, 0xF9, 4, flags, 10, 0, index, 0])

    own = image + bytes([0x80]) + bytes(6) + b"\x02\x00"  # a local palette of 2 colours
    shared = image + b"\x00\x02\x00"
    assert rewritten(header + loop + control(1 << 2, 31) + shared) == header + loop + control(2 << 2 | 1, 255) + shared
    assert rewritten(control(1 << 2, 31) + shared) == control(2 << 2 | 1, 255) + shared
    assert rewritten(control(1 << 2, 31) + own) == control(2 << 2, 31) + own
    assert rewritten(control(1 << 2 | 1, 7) + own) == control(2 << 2 | 1, 7) + own
    assert rewritten(control(3 << 2 | 1, 7) + shared) == control(2 << 2 | 1, 7) + shared

def gif_images(path) -> list[tuple[bool, int | None, int | None]]:
    """For each image of a GIF, read from the file: whether it has a palette of its own (a local
    colour table, from its image descriptor), and from the graphic control extension before it its
    disposal method and its transparent palette index (None where it names none)."""
    data = open(path, "rb").read()
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the global colour table
    images, disposal, transparent = [], None, None
    while data[pos] != 0x3B:  # the trailer
        if data[pos] == 0x21:  # an extension: its label, then its sub-blocks
            if data[pos + 1] == 0xF9:  # graphic control: size 4, flags, delay (2), transparent index
                flags = data[pos + 3]
                disposal, transparent = (flags >> 2) & 7, data[pos + 6] if flags & 1 else None
            pos += 2
        else:  # an image descriptor, its local colour table, the LZW code size, then the data's sub-blocks
            packed = data[pos + 9]
            images.append((bool(packed & 0x80), disposal, transparent))
            disposal = transparent = None
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return images


def local_palettes(path) -> list[bool]:
    """For each image of a GIF, whether it has a palette of its own (:func:`gif_images`)."""
    return [own for own, _, _ in gif_images(path)]


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_wholly_transparent_frame_in_a_gif_makes_no_palette_of_its_own(tmp_path):
    """A frame of nothing (a sticker's blank beat) among frames in many colours: nothing of it is
    seen, so it takes the palette as it is. Judged by one pixel of the black under its
    transparency, it had a palette made around that pixel, and the frame after it one of its own
    again: three local palettes written for nothing. (Its error, of no pixels, measured all the
    same was NumPy's "Mean of empty slice" warning on the console.)"""
    folder = tmp_path / "render"
    folder.mkdir()
    for i in range(12):
        rgba = np.zeros((40, 64, 4), np.uint8)
        rgba[..., :3] = np.random.default_rng(i).integers(100, 256, (40, 64, 3))  # a full palette: no black in it
        rgba[6:34, 8:56, 3] = 255
        if i == 9:
            rgba[..., 3] = 0
        write_image(folder / f"f_{i:03d}.png", rgba)
    stylize(folder, tmp_path / "out.gif", sequence_fps=10)
    assert local_palettes(tmp_path / "out.gif") == [False] * 12
    frames, _, _ = animation(tmp_path / "out.gif")
    assert (frames[9][..., 3] == 0).all() and (frames[10][6:34, 8:56, 3] == 255).all()


def test_soft_transparency_into_a_gif_is_rounded_and_said(tmp_path, caplog):
    """A render's soft edges (alpha between 0 and 255) become GIF's all or nothing, at half."""
    folder = tmp_path / "render"
    folder.mkdir()
    rgba = np.zeros((40, 64, 4), np.uint8)
    rgba[..., 0], rgba[..., 1] = 200, np.arange(64)[None] * 3
    rgba[..., 3] = np.repeat(np.linspace(0, 255, 64).round().astype(np.uint8)[None], 40, axis=0)
    rgba[:, 30:32, 3] = [127, 128]  # half: opaque from 128 on
    for i in range(3):
        write_image(folder / f"f_{i:03d}.png", rgba)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(folder, tmp_path / "soft.gif", sequence_fps=10)
    assert caplog.text.count("GIF's transparency is all or nothing") == 1  # said once, not at every frame
    frames, _, _ = animation(tmp_path / "soft.gif")
    assert all(np.array_equal(f[..., 3], np.where(rgba[..., 3] >= 128, 255, 0)) for f in frames)
