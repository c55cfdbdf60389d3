"""Reading still images: every mode Pillow opens becomes the 8-bit RGB the networks take, at the
right brightness; a file too large to decode safely is one clear error. And image arrays into
tensors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from vidstyle.errors import VidstyleError
from vidstyle.io.images import read_image

GREY = (np.arange(48 * 64).reshape(48, 64) % 256).astype(np.uint8)  # every 8-bit level


@pytest.mark.parametrize("name, image", [
    ("grey16.png", Image.fromarray(GREY.astype(np.uint16) * 257)),  # 16-bit grey PNG: mode I;16
    ("unit.tif", Image.fromarray(GREY.astype(np.float32) / 255)),  # float TIFF in [0, 1]: mode F
    ("levels.tif", Image.fromarray(GREY.astype(np.float32))),  # float TIFF in 8-bit units
    ("grey8.png", Image.fromarray(GREY)),
    ("rgb.png", Image.fromarray(np.repeat(GREY[..., None], 3, axis=2))),
])
def test_wide_and_narrow_grey_images_keep_their_levels(tmp_path, name, image):
    # Pillow's convert("RGB") clips 16-bit and float values: a 16-bit grey photo came out white
    image.save(tmp_path / name)
    rgb = read_image(tmp_path / name)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - GREY[..., None]).max() == 0


def test_an_image_past_pillows_bomb_limit_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((200, 300, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 // 2)  # 60 000 pixels is over twice this
    with pytest.raises(VidstyleError, match=r"cannot read image .*huge.png: too large"):
        read_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200 * 300 - 1)  # past the limit, not twice: Pillow warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_image(path).shape == (200, 300, 3)  # a large photo is read, without the raw warning
    assert not caught, [str(w.message) for w in caught]


def test_a_read_only_frame_converts_without_a_warning():
    """Frames from np.frombuffer or a memory map are read-only; torch.from_numpy warns about them."""
    from vidstyle.frames import images_to_tensor

    frame = np.repeat(GREY[..., None], 3, axis=2)
    frame.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = images_to_tensor(frame)
    assert x.shape == (1, 3, 48, 64) and float(x[0, 0, 0, 5]) == pytest.approx(5 / 255)


def test_a_transparent_pictures_alpha_is_kept_where_the_output_can_hold_it(tmp_path, caplog):
    import logging

    from vidstyle.io.images import read_image_and_alpha
    from vidstyle.pipeline import stylize_image

    class Invert:  # a "network": only the path of the pixels is checked
        def stylize_batch(self, images):
            return 255 - np.asarray(images)

    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = np.random.default_rng(0).integers(0, 256, (40, 60, 3))
    rgba[..., 3] = np.minimum(np.linspace(0, 510, 60), 255).astype(np.uint8)[None, :]  # transparent to opaque
    src = tmp_path / "sticker.png"
    Image.fromarray(rgba, "RGBA").save(src)
    opaque = tmp_path / "opaque.png"
    Image.fromarray(rgba[..., :3]).save(opaque)
    assert read_image_and_alpha(opaque)[1] is None and np.array_equal(read_image_and_alpha(src)[1], rgba[..., 3])
    palette = tmp_path / "palette.png"  # a GIF-style palette image with one transparent colour
    Image.fromarray(rgba[..., :3]).convert("P").save(palette, transparency=0)
    assert read_image_and_alpha(palette)[1] is not None
    for suffix in (".png", ".webp", ".tif"):
        out = tmp_path / f"out{suffix}"
        stylize_image(src, out, Invert(), bars="stylize")
        with Image.open(out) as im:
            back = np.asarray(im.convert("RGBA"))
        assert np.array_equal(back[..., 3], rgba[..., 3]), suffix  # the alpha, unchanged
        visible = rgba[..., 3] > 0  # (under full transparency the network sees the picture continued)
        if suffix != ".webp":  # (lossless formats: the painted colours exactly)
            assert np.array_equal(back[..., :3][visible], (255 - rgba[..., :3])[visible])
            assert not np.array_equal(back[..., :3][~visible], (255 - rgba[..., :3])[~visible])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_image(src, tmp_path / "flat.jpg", Invert(), bars="stylize")
    assert "sticker.png is partly transparent, and .jpg images cannot be: its transparency is dropped" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_image(opaque, tmp_path / "opaque.jpg", Invert(), bars="stylize")
    assert "transparen" not in caplog.text


def test_one_rule_for_how_frames_are_resized():
    """Area averaging when no side grows, bilinear when one does: the rule the live source's
    --size, the flow's working size and a stylization at another size all follow."""
    import cv2

    from vidstyle.frames import resize_frame, resize_interpolation

    assert resize_interpolation((640, 360), (320, 180)) == cv2.INTER_AREA
    assert resize_interpolation((640, 360), (640, 180)) == cv2.INTER_AREA
    assert resize_interpolation((320, 180), (640, 360)) == cv2.INTER_LINEAR
    assert resize_interpolation((480, 640), (640, 480)) == cv2.INTER_LINEAR  # one side grows
    stripes = np.zeros((8, 8, 3), np.uint8)
    stripes[:, ::2] = 255
    assert (resize_frame(stripes, (4, 8)) == 128).all()  # averaged, not every other column kept
