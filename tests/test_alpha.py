"""Transparency through videos and frame sequences: a render's RGBA frames, ProRes 4444 and VP9
WebM overlays keep their alpha channel where the output can hold it (ProRes 4444, VP9 in WebM or
Matroska, PNG/TIFF/WebP frames), turned with the picture; elsewhere it is dropped with a warning
that says how to keep it."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vidstyle.io import VideoDecoder
from vidstyle.io.display import DisplayConversion
from vidstyle.pipeline import stylize_video
from processes import os_threads
from videos import write_frames

H, W = 48, 64


class Invert:
    """A stylizer object that inverts its frames (and checks it is given RGB, not RGBA)."""

    def stylize_batch(self, images):
        assert all(i.shape[-1] == 3 for i in images)
        return [255 - i for i in images]


def alpha_of(i: int) -> np.ndarray:
    """Frame ``i``'s transparency: an opaque left half, a ramp on the right that moves with ``i``."""
    a = np.full((H, W), 255, np.uint8)
    a[:, W // 2:] = np.clip(np.arange(H)[:, None] * 5 + i * 10, 0, 255)
    return a


def rgb_of(i: int) -> np.ndarray:
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = np.arange(W)[None] * 3
    rgb[..., 2] = 20 * i
    return rgb


def make_alpha_video(path: Path, codec: str, pix_fmt: str, frames: int = 8) -> Path:
    return write_frames(path, [np.dstack([rgb_of(i), alpha_of(i)]) for i in range(frames)], codec=codec,
                        pix_fmt=pix_fmt, options={"profile": "4444"} if codec == "prores_ks" else None)


def read_rgba(path: Path) -> tuple[str, np.ndarray]:
    """(the decoded pixel format, all frames as uint8 RGBA); VP9 through libvpx, the decoder that
    reads WebM's alpha layer."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        vp9 = stream.codec_context.name == "vp9"
        context = av.CodecContext.create("libvpx-vp9", "r") if vp9 else stream.codec_context
        for packet in container.demux(stream):
            for frame in context.decode(packet):
                frames.append(frame)
    return frames[0].format.name, np.stack([f.to_ndarray(format="rgba") for f in frames])


def error(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def visible_error(frames: np.ndarray, styled: np.ndarray, alpha: np.ndarray, least: int = 1) -> int:
    """The largest colour error where the picture shows, even faintly (alpha >= ``least``; under
    full transparency the network is given a continuation of the picture, see
    test_fill_transparent...)."""
    shows = alpha >= least
    return error(frames[..., :3][shows], styled[shows])


@pytest.fixture(scope="module")
def prores_4444(tmp_path_factory) -> Path:
    return make_alpha_video(tmp_path_factory.mktemp("alpha") / "render.mov", "prores_ks", "yuva444p10le")


@pytest.fixture(scope="module")
def vp9_alpha(tmp_path_factory) -> Path:
    return make_alpha_video(tmp_path_factory.mktemp("alpha") / "overlay.webm", "libvpx-vp9", "yuva420p")


def expected(first: int = 0, count: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([255 - rgb_of(i) for i in range(first, first + count)]),
            np.stack([alpha_of(i) for i in range(first, first + count)]))


def test_prores_4444_keeps_its_alpha_into_prores_vp9_and_png_frames(tmp_path, prores_4444, caplog):
    styled, alpha = expected()
    result = stylize_video(prores_4444, tmp_path / "out.mov", Invert(), temporal="off", codec="prores_ks",
                           progress=False)
    assert result.alpha and "alpha kept" in result.summary()
    pix_fmt, frames = read_rgba(tmp_path / "out.mov")
    assert pix_fmt.startswith("yuva444p") and len(frames) == 8  # ProRes 4444 with its alpha, chosen for it
    assert error(frames[..., 3], alpha) <= 2 and visible_error(frames, styled, alpha) <= 2

    stylize_video(prores_4444, tmp_path / "out.webm", Invert(), temporal="off", progress=False)
    # more than 8 bits in: the way to keep them is one that keeps the alpha too
    assert "libvpx-vp9 here has no 10-bit format; ProRes 4444 (--codec prores_ks to .mov) keeps 10 bits and the " \
        "alpha" in caplog.text
    with av.open(str(tmp_path / "out.webm")) as container:
        assert container.streams.video[0].metadata.get("alpha_mode") == "1"
    pix_fmt, frames = read_rgba(tmp_path / "out.webm")
    # (4:2:0 chroma: colours next to fully transparent pixels take some of the fill's)
    assert pix_fmt == "yuva420p" and error(frames[..., 3], alpha) <= 3
    assert visible_error(frames, styled, alpha, 255) <= 8

    stylize_video(prores_4444, tmp_path / "frames" / "f_%03d.png", Invert(), temporal="off", progress=False)
    pngs = [np.asarray(Image.open(tmp_path / "frames" / f"f_{i:03d}.png")) for i in range(1, 9)]
    assert all(p.shape == (H, W, 4) for p in pngs)
    assert error(np.stack(pngs)[..., 3], alpha) <= 2 and visible_error(np.stack(pngs), styled, alpha) <= 2
    assert "alpha channel (transparency)" not in caplog.text


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_a_closed_vp9_overlay_decoder_that_is_still_referenced_holds_no_libvpx_threads(tmp_path):
    """As test_api_contract's closed decoder, for the second decoder a VP9 overlay has: libvpx's,
    beside the stream's own, kept its threads for as long as the closed decoder was referenced."""
    import gc


    overlay = make_alpha_video(tmp_path / "overlay.webm", "libvpx-vp9", "yuva420p", frames=12)
    gc.collect()
    before = len(os_threads())
    with VideoDecoder(overlay) as decoder:
        items = decoder.read(alpha=True)
        assert all(item.alpha is not None for _, item in zip(range(6), items))  # stopped midway, as a failed run
        items.close()
    del items
    gc.collect()
    assert len(os_threads()) <= before  # the decoder itself is still here


def test_a_vp9_overlay_is_read_with_its_alpha_also_from_a_seek(tmp_path, vp9_alpha):
    with VideoDecoder(vp9_alpha) as decoder:
        assert decoder.info.alpha  # FFmpeg's own VP9 decoder would give opaque yuv420p frames
        frames = list(decoder.read(alpha=True))
        assert error(np.stack([f.alpha for f in frames]), expected()[1]) <= 3
    with VideoDecoder(vp9_alpha) as decoder:  # not asked for: no alpha
        assert next(decoder.read()).alpha is None
    # a segment starts with a seek, after which libvpx's decoder is flushed like the stream's own
    result = stylize_video(vp9_alpha, tmp_path / "cut.webm", Invert(), temporal="off", start=3 / 24, progress=False)
    assert result.frames == 5
    _, frames = read_rgba(tmp_path / "cut.webm")
    styled, alpha = expected(3, 5)
    assert error(frames[..., 3], alpha) <= 4 and visible_error(frames, styled, alpha, 255) <= 10


def test_where_the_output_cannot_hold_alpha_it_is_dropped_with_a_warning(tmp_path, prores_4444, caplog):
    assert not stylize_video(prores_4444, tmp_path / "out.mp4", Invert(), temporal="off", progress=False).alpha
    assert "render.mov has an alpha channel (transparency), which out.mp4 (yuv420p) cannot hold" in caplog.text
    assert "to keep it, write ProRes 4444 (--codec prores_ks to .mov)" in caplog.text
    assert read_rgba(tmp_path / "out.mp4")[0] == "yuv420p"
    caplog.clear()
    stylize_video(prores_4444, tmp_path / "out.mov", Invert(), temporal="off", codec="prores_ks",
                  pix_fmt="yuv444p10le", progress=False)
    assert "without --pix-fmt yuv444p10le" in caplog.text
    pix_fmt, frames = read_rgba(tmp_path / "out.mov")
    assert not pix_fmt.startswith("yuva") and frames[..., 3].min() == 255
    caplog.clear()
    stylize_video(prores_4444, tmp_path / "jpg" / "f_%02d.jpg", Invert(), temporal="off", progress=False)
    assert "which .jpg images cannot hold" in caplog.text and "write .png, .tif or .webp frames" in caplog.text
    assert len(list((tmp_path / "jpg").glob("f_*.jpg"))) == 8


def test_an_opaque_input_into_an_alpha_format_is_written_opaque(tmp_path):
    from videos import make_video

    src = make_video(tmp_path / "in.mp4", frames=4, size=(W, H))
    stylize_video(src, tmp_path / "out.mov", Invert(), temporal="off", codec="prores_ks", pix_fmt="yuva444p10le",
                  progress=False)
    pix_fmt, frames = read_rgba(tmp_path / "out.mov")
    assert pix_fmt.startswith("yuva") and len(frames) == 4 and frames[..., 3].min() == 255


@pytest.mark.parametrize("rotation, mirrored", [(90, False), (180, True), (270, True)])
def test_alpha_is_turned_with_the_picture(rotation, mirrored):
    rgba = np.dstack([rgb_of(2), alpha_of(2)])
    frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
    display = DisplayConversion(rotation, mirrored, 1, (W, H))
    image, alpha = display.image_and_alpha(frame)
    turned = np.rot90(rgba, rotation // 90)
    turned = turned[:, ::-1] if mirrored else turned
    assert np.array_equal(image, display.image(frame)) and np.array_equal(image, turned[..., :3])
    assert np.array_equal(alpha, turned[..., 3]) and alpha.flags.c_contiguous


def test_the_command_line_keeps_a_renders_alpha_through_a_bundled_style(tmp_path, cli):
    """A folder of RGBA PNG frames (a render) through a real network into ProRes 4444."""
    render = tmp_path / "render"
    render.mkdir()
    for i in range(3):
        Image.fromarray(np.dstack([rgb_of(i), alpha_of(i)]), "RGBA").save(render / f"shot_{i + 101:04d}.png")
    out = tmp_path / "styled.mov"
    done = cli("stylize", render, "-o", out, "--style", "light_mondrian", "--device", "cpu", "--codec", "prores_ks",
               "--fps", "25")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "transparency" not in done.stderr
    pix_fmt, frames = read_rgba(out)
    assert pix_fmt.startswith("yuva444p") and len(frames) == 3
    assert error(frames[..., 3], np.stack([alpha_of(i) for i in range(3)])) <= 2
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == Fraction(25)
    assert error(frames[..., :3], np.stack([rgb_of(i) for i in range(3)])) > 40  # stylized, not copied


def test_fill_transparent_continues_the_picture_under_its_transparency():
    from vidstyle.frames import fill_transparent

    rgb = np.zeros((90, 160, 3), np.uint8)  # black under the transparency, as renders store it
    alpha = np.zeros((90, 160), np.uint8)
    rgb[:, :60], alpha[:, :60] = (200, 40, 10), 255  # an opaque red left part
    alpha[:, 60:64] = 60  # a soft black shadow: straight alpha, so black is its colour
    filled = fill_transparent(rgb, alpha)
    assert np.array_equal(filled[:, :64], rgb[:, :64])  # what shows, even faintly, is untouched
    assert filled[:, 64:, 0].min() > 150 and filled[:, 64:, 1:].max() < 45  # the red continues, not black
    assert np.abs(filled[:, 100:].astype(int) - (200, 40, 10)).max() <= 5
    # two colours: each fills the transparency nearest to it
    rgb[:, 150:], alpha[:, 150:] = (0, 0, 250), 255
    filled = fill_transparent(rgb, alpha)
    assert filled[45, 70, 0] > filled[45, 70, 2] and filled[45, 140, 2] > filled[45, 140, 0]
    corner = rgb[:8, :8]
    assert fill_transparent(corner, np.full((8, 8), 1, np.uint8)) is corner  # nothing fully transparent: no copy
    for shape in ((1, 1), (1, 700), (700, 1)):  # degenerate sizes, all transparent
        assert fill_transparent(np.zeros((*shape, 3), np.uint8), np.zeros(shape, np.uint8)).shape == (*shape, 3)
    with pytest.raises(ValueError, match="does not match"):
        fill_transparent(rgb, alpha[:10])


def test_the_network_sees_the_continued_picture_only_where_alpha_is_kept(tmp_path):
    """What is under the transparency in the output tells what the stylizer was given."""
    seen = []

    class Recorder(Invert):
        def stylize_batch(self, images):
            seen.extend(np.array(i) for i in images)
            return super().stylize_batch(images)

    render = tmp_path / "render"
    render.mkdir()
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[:, : W // 2] = (200, 40, 10, 255)  # black, transparent right half
    for i in range(2):
        Image.fromarray(rgba, "RGBA").save(render / f"r_{i}.png")
    stylize_video(render, tmp_path / "keep" / "o_%d.png", Recorder(), temporal="off", bars="stylize", progress=False)
    assert len(seen) == 2 and np.abs(seen[0][:, -1].astype(int) - (200, 40, 10)).max() <= 2
    kept = np.asarray(Image.open(tmp_path / "keep" / "o_0.png"))
    assert np.array_equal(kept[..., 3], rgba[..., 3])
    assert np.array_equal(kept[:, : W // 2, :3], 255 - rgba[:, : W // 2, :3])
    seen.clear()
    stylize_video(render, tmp_path / "flat.mp4", Recorder(), temporal="off", bars="stylize", progress=False)
    assert len(seen) == 2 and seen[0][:, -1].max() == 0  # written opaque: the stored black is what shows


def test_vp9_alpha_round_trips_and_an_explicit_pix_fmt_is_obeyed(tmp_path, vp9_alpha, caplog):
    """vidstyle reads its own WebM overlays back with their alpha (WebM writes the tag as
    ALPHA_MODE); an opaque output of an overlay does not claim one; a --pix-fmt given is used."""
    stylize_video(vp9_alpha, tmp_path / "once.webm", Invert(), temporal="off", progress=False)
    stylize_video(tmp_path / "once.webm", tmp_path / "twice.webm", Invert(), temporal="off", progress=False)
    pix_fmt, frames = read_rgba(tmp_path / "twice.webm")
    assert pix_fmt == "yuva420p" and error(frames[..., 3], expected()[1]) <= 4
    stylize_video(vp9_alpha, tmp_path / "flat.webm", Invert(), temporal="off", pix_fmt="yuv420p", progress=False)
    assert "without --pix-fmt yuv420p" in caplog.text
    with VideoDecoder(tmp_path / "flat.webm") as decoder:
        assert not decoder.info.alpha
    with av.open(str(tmp_path / "flat.webm")) as container:
        assert "alpha_mode" not in {k.lower() for k in container.streams.video[0].metadata}


def test_an_alpha_format_the_container_would_drop_is_refused_before_any_work(tmp_path, prores_4444):
    from vidstyle.errors import VidstyleError

    with pytest.raises(VidstyleError, match=r"out.mp4: libvpx-vp9's alpha channel \(yuva420p\) is kept in .webm or "
                                            r".mkv only"):
        stylize_video(prores_4444, tmp_path / "out.mp4", "no_such_style", codec="libvpx-vp9", pix_fmt="yuva420p",
                      progress=False)
    assert not (tmp_path / "out.mp4").exists()
    # ProRes takes no crf or preset: said, not refused by another codec's ranges
    stylize_video(prores_4444, tmp_path / "out.mov", Invert(), temporal="off", codec="prores_ks", crf=60,
                  preset="p4", progress=False)
    assert read_rgba(tmp_path / "out.mov")[0].startswith("yuva444p")


def test_a_sequence_that_turns_transparent_after_its_first_frame_says_so(tmp_path, caplog):
    render = tmp_path / "render"
    render.mkdir()
    Image.fromarray(rgb_of(0)).save(render / "f_0.png")
    for i in (1, 2):
        Image.fromarray(np.dstack([rgb_of(i), alpha_of(i)]), "RGBA").save(render / f"f_{i}.png")
    stylize_video(render, tmp_path / "out" / "o_%d.png", Invert(), temporal="off", progress=False)
    assert "render has transparency from 0.04 s on, which its first frame has not" in caplog.text
    assert np.asarray(Image.open(tmp_path / "out" / "o_2.png")).shape == (H, W, 3)


def test_int8_calibration_sees_the_frames_as_the_network_will(tmp_path, prores_4444):
    """An int8 network's activation ranges come from the frames it will be given: with the alpha
    kept, the picture continued under the transparency, not the black stored there."""

    class Int8Recorder(Invert):
        int8 = True
        calibration_source = None

        def __init__(self):
            self.calibrated = []

        def calibrate(self, frames, source):
            self.calibrated, self.calibration_source = [np.array(f) for f in frames], source

    kept, flat = Int8Recorder(), Int8Recorder()
    stylize_video(prores_4444, tmp_path / "out.mov", kept, temporal="off", codec="prores_ks", progress=False)
    stylize_video(prores_4444, tmp_path / "out.mp4", flat, temporal="off", progress=False)
    from vidstyle.frames import fill_transparent

    assert kept.calibration_source.endswith("#filled") and not flat.calibration_source.endswith("#filled")
    assert len(kept.calibrated) == len(flat.calibrated) > 1
    transparent = alpha_of(0) == 0  # the top right rows of the first frame
    assert transparent.any()
    # the stored colours for the opaque output; for the kept alpha, those colours filled
    assert error(flat.calibrated[0], rgb_of(0)) <= 2
    with VideoDecoder(prores_4444) as decoder:
        first = next(decoder.read(alpha=True))
    assert np.array_equal(kept.calibrated[0], fill_transparent(first.image, first.alpha))
    assert not np.array_equal(kept.calibrated[0][transparent], flat.calibrated[0][transparent])
