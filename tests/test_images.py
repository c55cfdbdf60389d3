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
    # a dim one (a night shot) stays dim: scaled by 16 bits' range, not brightened to its own maximum
    ("dim16.png", Image.fromarray((GREY // 4).astype(np.uint16) * 257)),  # levels 0-63
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
    expected = GREY // 4 if name.startswith("dim") else GREY
    assert np.abs(rgb.astype(int) - expected[..., None]).max() == 0


def test_a_video_given_as_an_image_is_said_to_be_one(tmp_path):
    """A clip given as a painting (train --style, optimize, eval --painting): said as a video, not
    as Pillow's "cannot identify image file"."""
    from videos import make_video

    clip = make_video(tmp_path / "bikes.mp4", frames=2)
    with pytest.raises(VidstyleError, match=r"cannot read image .*bikes.mp4: it is a video file, not an image$"):
        read_image(clip)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(VidstyleError, match=r"cannot identify image file"):
        read_image(tmp_path / "notes.png")


def test_an_empty_image_file_is_said_to_be_empty(tmp_path):
    """As an empty video is (a copy or download that never started): Pillow's "cannot identify
    image file" was all a photo, a painting or stylize's still image of 0 bytes got."""
    (tmp_path / "empty.jpg").touch()
    with pytest.raises(VidstyleError, match=r"cannot read image .*empty.jpg: it is empty \(0 bytes\)"):
        read_image(tmp_path / "empty.jpg")


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



def _adobe_rgb_profile() -> bytes:
    """A minimal ICC v2 display profile with Adobe RGB (1998)'s primaries (adapted to D50) and
    its 563/256 gamma, built byte by byte: Pillow's LittleCMS makes only sRGB, and the system's
    profiles vary."""
    import struct

    def s15(v):
        return struct.pack(">i", round(v * 65536))

    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    name = b"vidstyle test Adobe RGB"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name) + 1) + name + b"\0" + bytes(8) + bytes(3) + bytes(67)
    gamma = b"curv" + bytes(4) + struct.pack(">IH", 1, 563) + bytes(2)
    tags = [(b"desc", desc), (b"cprt", b"text" + bytes(4) + b"none\0"), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.6097559, 0.3111242, 0.0194811)), (b"gXYZ", xyz(0.2052401, 0.6256560, 0.0608902)),
            (b"bXYZ", xyz(0.1492240, 0.0632197, 0.7448387)), (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma)]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + bytes(12)
              + b"acsp" + bytes(24) + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


class _Identity:  # a "network" that paints nothing: only the path of the colours is checked
    def stylize_batch(self, images):
        return [np.asarray(i) for i in images]


def test_a_photos_colour_profile_is_kept(tmp_path):
    """An Adobe RGB (or Display P3, as iPhones take) photo's pixels are coded in its profile's
    colours: the output carries the profile (BMP, which cannot, is given sRGB pixels), or it is
    shown as sRGB, saturated colours visibly duller."""
    ImageCms = pytest.importorskip("PIL.ImageCms")
    import io

    from vidstyle.pipeline import stylize_image

    wide = _adobe_rgb_profile()
    pixels = np.zeros((32, 48, 3), np.uint8)
    pixels[:, :16], pixels[:, 16:32], pixels[:, 32:] = (30, 180, 60), (200, 30, 30), (220, 170, 140)
    src = tmp_path / "wide.png"
    Image.fromarray(pixels).save(src, icc_profile=wide)
    as_srgb = np.asarray(ImageCms.profileToProfile(Image.fromarray(pixels), ImageCms.ImageCmsProfile(io.BytesIO(wide)),
                                                   ImageCms.createProfile("sRGB"), outputMode="RGB")).astype(int)
    assert np.abs(as_srgb - pixels).max() > 20  # the profile matters for these colours
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        out = tmp_path / f"out{suffix}"
        stylize_image(src, out, _Identity(), bars="stylize")
        with Image.open(out) as im:
            assert im.info.get("icc_profile") == wide, suffix
    stylize_image(src, tmp_path / "out.bmp", _Identity(), bars="stylize")
    assert np.abs(read_image(tmp_path / "out.bmp").astype(int) - as_srgb).max() <= 1
    plain = tmp_path / "plain.png"  # no profile in: none out
    Image.fromarray(pixels).save(plain)
    stylize_image(plain, tmp_path / "plain_out.png", _Identity(), bars="stylize")
    with Image.open(tmp_path / "plain_out.png") as im:
        assert "icc_profile" not in im.info


def test_a_frame_sequences_colour_profile_is_kept_in_frames_and_preview_sheets(tmp_path):
    """Frames of a folder (a camera's, a grading tool's, in Adobe RGB) keep their profile when
    written as frames again, and a preview sheet of them (or of a still) carries it: both keep
    the pixels as coded, which without it would show as sRGB."""
    from vidstyle.pipeline import stylize_video
    from vidstyle.preview import style_sheet

    wide = _adobe_rgb_profile()
    folder = tmp_path / "shot"
    folder.mkdir()
    for i in range(1, 4):
        Image.fromarray(np.full((32, 48, 3), (30, 180, 60), np.uint8)).save(folder / f"f_{i:03d}.png", icc_profile=wide)
    stylize_video(folder, tmp_path / "out" / "f_%03d.png", style=_Identity(), temporal="off", progress=False)
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["f_001.png", "f_002.png", "f_003.png"]
    for path in written:
        with Image.open(path) as im:
            assert im.info.get("icc_profile") == wide, path.name
    for source, sheet in ((folder, tmp_path / "sheet.png"), (folder / "f_001.png", tmp_path / "still_sheet.jpg")):
        style_sheet(source, sheet, ["light_mondrian"], frames=2, width=48)
        with Image.open(sheet) as im:
            assert im.info.get("icc_profile") == wide, sheet.name
    plain = tmp_path / "plain"  # none in, none out
    plain.mkdir()
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(plain / "f_001.png")
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(plain / "f_002.png")
    stylize_video(plain, tmp_path / "plain_out" / "f_%03d.png", style=_Identity(), temporal="off", progress=False)
    with Image.open(tmp_path / "plain_out" / "f_001.png") as im:
        assert "icc_profile" not in im.info


def test_a_cmyk_jpeg_is_read_through_its_own_profile(tmp_path):
    """A print-ready CMYK JPEG with its inks' ICC profile: read to sRGB through that profile, not
    Pillow's naive ink formula (which turned this blue-violet magenta, B 90 levels off)."""
    ImageCms = pytest.importorskip("PIL.ImageCms")
    import io
    from pathlib import Path

    profiles = [p for p in (Path("/usr/share/color/icc/ghostscript/default_cmyk.icc"),
                            Path("/usr/share/color/icc/ghostscript/ps_cmyk.icc")) if p.is_file()]
    if not profiles:
        pytest.skip("no CMYK ICC profile on this system (ghostscript's)")
    cmyk_bytes = profiles[0].read_bytes()
    cmyk = ImageCms.ImageCmsProfile(io.BytesIO(cmyk_bytes))
    pixels = np.zeros((16, 48, 3), np.uint8)
    pixels[:, :16], pixels[:, 16:32], pixels[:, 32:] = (190, 40, 128), (200, 30, 30), (220, 170, 140)
    ink = ImageCms.profileToProfile(Image.fromarray(pixels), ImageCms.createProfile("sRGB"), cmyk, outputMode="CMYK")
    src = tmp_path / "print.jpg"
    ink.save(src, quality=100, icc_profile=cmyk_bytes)
    with Image.open(src) as im:
        expected = np.asarray(ImageCms.profileToProfile(im, cmyk, ImageCms.createProfile("sRGB"),
                                                        outputMode="RGB")).astype(int)
        naive = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(naive - expected).max() > 40  # the profile matters for these colours
    assert np.abs(read_image(src).astype(int) - expected).max() <= 1


def test_a_large_painting_or_photo_past_pillows_bomb_limit_is_said_as_read_image_says_it(tmp_path, monkeypatch):
    """The checks around reading (an animation refused, the colour profile kept) open the file
    too: a large photo or painting got Pillow's raw DecompressionBombWarning (with its source
    line) from them, and one past twice the limit the generic "DecompressionBombError: ..."."""
    from vidstyle.io.images import check_still, rgb_profile
    from vidstyle.train.data import load_style_image

    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((200, 300, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200 * 300 - 1)  # past the limit, not twice: Pillow warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_still(path)
        assert rgb_profile(path) is None
        assert load_style_image(path, 64).shape[-2:] == (64, 96)  # a painting: read, its size warned of only
    assert not caught, [str(w.message) for w in caught]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 // 2)  # over twice: refused, by the reader's words
    with pytest.raises(VidstyleError, match=r"cannot read image .*huge.png: too large"):
        load_style_image(path, 64)
    # the profile of an image sequence's first frame, which FFmpeg reads whatever its size: none,
    # not Pillow's raw DecompressionBombError when the output is opened
    assert rgb_profile(path) is None


def test_a_sixteen_bit_still_is_said_to_be_written_in_8_bits(tmp_path, caplog):
    """A 16-bit PNG or TIFF (a grade's export, a render) is stylized and written in 8 bits, as a
    video or a folder of 16-bit frames is: that was said for those, and nothing for a still."""
    import logging

    import cv2

    from vidstyle.pipeline import stylize_image

    class Invert:
        def stylize_batch(self, images):
            return 255 - np.asarray(images)

    ramp = np.tile(np.linspace(20000, 30000, 64), (48, 1)).astype(np.uint16)
    inputs = {"rgb16.png": np.dstack([ramp] * 3), "grey16.tif": ramp,
              "rgba16.png": np.dstack([ramp] * 3 + [np.full_like(ramp, 40000)]), "rgb8.png": GREY}
    for name, pixels in inputs.items():
        assert cv2.imwrite(str(tmp_path / name), pixels)
    for name in inputs:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            stylize_image(tmp_path / name, tmp_path / f"out_{name}", Invert(), bars="stylize")
        said = [r.getMessage() for r in caplog.records if "bit colour" in r.getMessage()]
        if name == "rgb8.png":
            assert not said
        else:
            assert said == [f"{name} has 16-bit colour; vidstyle stylizes in 8 bits and writes an 8-bit image"], said
        with Image.open(tmp_path / f"out_{name}") as im:
            assert im.mode == ("RGBA" if name == "rgba16.png" else "RGB")  # (the alpha kept, as 8 bits)


def test_bits_and_pages_are_told_from_a_tiffs_header(tmp_path):
    """A float or 32-bit TIFF is said as 32 bits a component, a 16-bit grey PNG as 16 (said as 16
    and 8 bits before); a TIFF of one page is a still, one of two a scan's pages."""
    from vidstyle.io.images import check_still, stored_bits

    Image.fromarray(np.full((8, 8), 0.5, np.float32), "F").save(tmp_path / "float.tif")
    Image.fromarray(np.full((8, 8), 70000, np.int32), "I").save(tmp_path / "int.tif")
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(tmp_path / "sixteen.png")
    assert [stored_bits(tmp_path / name) for name in ("float.tif", "int.tif", "sixteen.png")] == [32, 32, 16]
    pages = [Image.fromarray(np.full((8, 8, 3), 60 * i, np.uint8)) for i in range(2)]
    pages[0].save(tmp_path / "one.tif")
    pages[0].save(tmp_path / "two.tif", save_all=True, append_images=pages[1:])
    check_still(tmp_path / "one.tif")
    with pytest.raises(VidstyleError, match=r"^two\.tif is a multi-page TIFF \(2 pages\), not one still image"):
        check_still(tmp_path / "two.tif")
