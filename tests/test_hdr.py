"""HDR video (HDR10/PQ, HLG as phones record it) tone-mapped to the SDR pictures the styles were
trained on: the conversion against BT.2100/BT.2408 reference points, and HDR videos made here from
SDR frames (with the standards' forward curves, written out independently of vidstyle.io.hdr)
coming back as those SDR frames, in the pipeline, the live file source and the command line."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from videos import X264_REPEATABLE, pattern_frame
from vidstyle.config import StylizeConfig
from vidstyle.errors import VidstyleError
from vidstyle.io.hdr import HLG, PQ, KNEE, ToneMapper, tone_curve
from vidstyle.pipeline import stylize_video

W, H = 96, 64

# --- the standards' forward curves (BT.2100), the inverse of what vidstyle decodes with ----------


def pq_signal(nits):
    """PQ inverse EOTF: cd/m2 -> signal in [0, 1]."""
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    y = np.power(np.asarray(nits, np.float64) / 10000.0, m1)
    return np.power((c1 + c2 * y) / (1 + c3 * y), m2)


def hlg_signal(scene):
    """HLG OETF: scene light in [0, 1] -> signal."""
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    e = np.asarray(scene, np.float64)
    return np.where(e <= 1 / 12, np.sqrt(3 * np.maximum(e, 0)), a * np.log(np.maximum(12 * e - b, 1e-12)) + c)


BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])


def sdr_to_hdr(rgb: np.ndarray, transfer: int) -> np.ndarray:
    """uint8 SDR BT.709 RGB -> float HDR BT.2020 signal in [0, 1]: SDR white as HDR reference white
    (203 cd/m2, ITU-R BT.2408), the BT.1886 gamma of 2.4 for the SDR display light."""
    display = 203.0 * np.power(rgb / 255.0, 2.4) @ BT709_TO_BT2020.T  # cd/m2, BT.2020 primaries
    if transfer == PQ:
        return pq_signal(display)
    yd = display @ np.array([0.2627, 0.6780, 0.0593])  # HLG: undo the OOTF of a 1000 cd/m2 display
    ys = np.power(np.maximum(yd, 1e-9) / 1000.0, 1 / 1.2)
    scene = display / (1000.0 * np.power(ys, 0.2))[..., None]
    return hlg_signal(scene)


def as_rgb48(signal: np.ndarray) -> np.ndarray:
    return np.round(np.clip(signal, 0, 1) * 65535).astype(np.uint16)


def make_hdr_video(path, transfer: int, frames: int = 6):
    """A 10-bit BT.2020 video, tagged ``transfer``, of :func:`sdr_frames` made HDR."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p10le"
        stream.options = {"crf": "4", **X264_REPEATABLE}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, transfer, 9
        for i, sdr in enumerate(sdr_frames(frames)):
            frame = av.VideoFrame.from_ndarray(as_rgb48(sdr_to_hdr(sdr, transfer)), format="rgb48le")
            frame = frame.reformat(format="yuv420p10le", dst_colorspace=9)  # SWS_CS_BT2020
            frame.pts = i
            frame.color_primaries, frame.color_trc, frame.colorspace = 9, transfer, 9
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def sdr_frames(count: int) -> list[np.ndarray]:
    """Ordinary SDR content below the tone curve's knee (highlights are what it changes)."""
    top = 255 * KNEE ** (1 / 2.4)
    return [np.round(pattern_frame(i, (W, H)) * (top / 255)).astype(np.uint8) for i in range(count)]


class Invert:
    def stylize_batch(self, images):
        return [255 - i for i in images]


def read_video(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        tags = (int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace))
        matrix = 1 if tags[2] == 1 else 9  # SWS_CS_ITU709 or SWS_CS_BT2020
        frames = [f.to_ndarray(format="rgb24", src_colorspace=matrix) for f in container.decode(stream)]
    return tags, np.stack(frames)


# --- the conversion ----------------------------------------------------------------------------


@pytest.mark.parametrize("transfer", [PQ, HLG])
def test_sdr_content_in_an_hdr_signal_comes_back_as_it_was(transfer):
    greys = np.arange(0, 256, dtype=np.float64)
    ramp = np.repeat(greys[None, :, None], 3, axis=2)
    back = ToneMapper(transfer)(as_rgb48(sdr_to_hdr(ramp, transfer)))[0, :, 0].astype(int)
    below = greys <= 255 * KNEE ** (1 / 2.4)  # up to the knee: exactly SDR's curve, to a step
    assert np.abs(back[below] - greys[below]).max() <= 1
    assert np.all(np.diff(back) >= 0) and back[-1] >= 240  # above: still rising, rolled off below white
    colours = np.array([[[200, 30, 20], [20, 160, 40], [30, 60, 190], [120, 110, 100]]], np.float64)
    assert np.abs(ToneMapper(transfer)(as_rgb48(sdr_to_hdr(colours, transfer))) - colours).max() <= 2


def test_reference_points_of_bt2408():
    pq, hlg = ToneMapper(PQ), ToneMapper(HLG)

    def grey(mapper, signal):
        return int(mapper(np.full((1, 1, 3), round(signal * 65535), np.uint16))[0, 0, 0])

    # HDR reference white: 203 cd/m2 in PQ, 75% in HLG; the same SDR value, just below white
    assert grey(pq, pq_signal(203)) == pytest.approx(grey(hlg, 0.75), abs=1)
    assert 240 <= grey(pq, pq_signal(203)) <= 250
    # an 18% grey card: 26 cd/m2 (PQ 38%, HLG 38%): SDR's 18% grey, about 42%
    assert grey(pq, pq_signal(26)) == pytest.approx(0.42 * 255, abs=4)
    assert grey(hlg, 0.38) == pytest.approx(0.42 * 255, abs=4)
    assert grey(pq, 0.0) == 0 and grey(hlg, 0.0) == 0
    assert grey(pq, pq_signal(1000)) == 255 and grey(pq, pq_signal(10000)) == 255 and grey(hlg, 1.0) == 255
    red = np.zeros((1, 1, 3), np.uint16)
    red[..., 0] = round(pq_signal(100) * 65535)  # BT.2020's red lies outside BT.709: clipped, still red
    r, g, b = pq(red)[0, 0].astype(int)
    assert r > 150 and g == 0 and b == 0


def test_the_tone_curve_is_smooth_and_stays_below_white():
    y = np.linspace(0, 50, 20001, dtype=np.float32)
    out = tone_curve(y)
    assert np.array_equal(out[y <= KNEE], y[y <= KNEE]) and out.max() <= 1.0 and np.all(np.diff(out) >= 0)
    slope = np.diff(out) / np.diff(y)
    assert np.abs(np.diff(slope)).max() < 1e-2  # no kink at the knee
    assert float(tone_curve(np.float32(1.0))) == pytest.approx(0.908, abs=0.002)


# --- videos ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transfer", [HLG, PQ])
def test_an_hdr_video_is_stylized_as_its_sdr_picture_and_written_as_sdr(tmp_path, transfer, caplog):
    src = make_hdr_video(tmp_path / "phone.mp4", transfer)
    expected = 255 - np.stack(sdr_frames(6)).astype(int)
    result = stylize_video(src, tmp_path / "out.mp4", Invert(), temporal="off", crf=0, pix_fmt="yuv444p",
                           progress=False)
    name = "HLG" if transfer == HLG else "PQ"
    assert result.tone_mapped == name and f"{name} HDR tone-mapped to SDR" in result.summary()
    tags, frames = read_video(tmp_path / "out.mp4")
    assert tags == (1, 1, 1)  # BT.709 SDR, tagged so
    assert np.abs(frames - expected).mean() < 1.5
    assert f"phone.mp4 is HDR ({name}): tone-mapped to SDR (BT.709)" in caplog.text
    assert "10-bit colour" not in caplog.text
    caplog.clear()
    # --hdr keep: the coded values, painted as they are, and the output tagged as the input
    assert stylize_video(src, tmp_path / "kept.mp4", Invert(), temporal="off", hdr="keep", crf=0,
                         pix_fmt="yuv444p", progress=False).tone_mapped == ""
    tags, frames = read_video(tmp_path / "kept.mp4")
    assert tags == (9, transfer, 9) and np.abs(frames - expected).mean() > 10
    assert f"is HDR ({name}), whose coded values are painted as they are (--hdr keep)" in caplog.text


@pytest.mark.parametrize("transfer", [HLG, PQ])
def test_an_hdr_prores_master_is_tagged_in_its_frames_too(tmp_path, transfer):
    """ProRes carries primaries and transfer in each frame's header, which FFmpeg's decoder reports
    over the .mov's colr box: written untagged there, an --hdr keep master read back as SDR."""
    src = make_hdr_video(tmp_path / "phone.mp4", transfer, frames=2)
    stylize_video(src, tmp_path / "master.mov", Invert(), temporal="off", hdr="keep", codec="prores_ks",
                  progress=False)
    with av.open(str(tmp_path / "master.mov")) as container:
        frames = list(container.decode(video=0))
    assert {(int(f.color_primaries), int(f.color_trc), int(f.colorspace)) for f in frames} == {(9, transfer, 9)}


def test_live_reads_hdr_files_tone_mapped(tmp_path):
    from vidstyle.io.capture import FileSource

    src = make_hdr_video(tmp_path / "hlg.mp4", HLG, frames=3)
    source = FileSource(src, realtime=False)
    try:
        image, _ = source.read()
    finally:
        source.close()
    assert np.abs(image.astype(int) - sdr_frames(1)[0]).mean() < 1.5


def test_hdr_mode_is_checked():
    with pytest.raises(VidstyleError, match="unknown hdr mode 'pq'"):
        StylizeConfig(hdr="pq")
    done = subprocess.run([sys.executable, "-m", "vidstyle", "stylize", "in.mp4", "-o", "o.mp4", "--style", "x",
                           "--hdr", "bright"], capture_output=True, text=True)
    assert done.returncode == 2 and "--hdr: invalid choice: 'bright'" in done.stderr


def test_bright_saturated_colours_keep_their_hue():
    """A channel that would pass white scales the whole pixel down instead of clipping alone: an
    orange stays orange (the ratio of its channels) however bright, instead of turning yellow."""
    orange = np.array([1.0, 0.45, 0.1])
    ratios = []
    for nits in (100, 200, 400, 1000, 4000):
        signal = pq_signal(nits * (BT709_TO_BT2020 @ orange))
        r, g, b = ToneMapper(PQ)(as_rgb48(signal).reshape(1, 1, 3))[0, 0].astype(float)
        ratios.append(g / r)
    assert max(ratios) - min(ratios) < 0.02


def test_hdr_with_bt709_primaries_or_no_matrix_tag(tmp_path):
    """Some cameras' HLG keeps BT.709 primaries: not converted as if BT.2020 (over-saturated). An
    HDR video with no matrix tag is decoded with BT.2020's, not one guessed from its size."""
    colours = np.array([[[200, 30, 20], [20, 160, 40], [30, 60, 190]]], np.float64)
    display = 203.0 * np.power(colours / 255.0, 2.4)  # BT.709 primaries kept
    yd = display @ np.array([0.2126, 0.7152, 0.0722])
    ys = np.power(yd / 1000.0, 1 / 1.2)
    signal = hlg_signal(display / (1000.0 * np.power(ys, 0.2))[..., None])
    assert np.abs(ToneMapper(HLG, primaries=1)(as_rgb48(signal)).astype(int) - colours).max() <= 2
    assert np.abs(ToneMapper(HLG, primaries=9)(as_rgb48(signal)).astype(int) - colours).max() > 20

    src = tmp_path / "untagged.mp4"
    make_hdr_video(src, PQ, frames=2)
    with av.open(str(src)) as container:  # the same file with its matrix tag taken away
        frames = [f for f in container.decode(video=0)]
    from vidstyle.io.display import DisplayConversion

    for frame in frames:
        frame.colorspace = 2  # unspecified
        image = DisplayConversion.of(frame).image(frame)
        assert np.abs(image.astype(int) - sdr_frames(2)[frames.index(frame)]).mean() < 1.5


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p10le"])
@pytest.mark.parametrize("transfer", [PQ, HLG])
def test_10_bit_hdr_frames_are_converted_to_rgb_without_swscales_bias(transfer, pix_fmt):
    """A 10-bit 4:2:0 (or 4:4:4) HDR frame coded here with BT.2100's own equations (limited
    range, BT.2020 matrix), not through swscale: the SDR picture it carries comes back within a
    level. swscale's yuv420p10le -> rgb48 was about 2 codes of 10 bits dark, which PQ's steep
    curve made a grey of 190 come back as 188 and skin (220, 170, 140) as (218, 169, 139); its
    yuv444p10le -> rgb48 about 1.3."""
    from vidstyle.io.display import DisplayConversion

    sdr = np.array([[[190, 190, 190], [220, 170, 140], [108, 108, 108], [60, 120, 40]]], np.float64)
    signal = sdr_to_hdr(sdr, transfer)[0]  # (4, 3) non-linear R'G'B' in [0, 1]
    kr, kb = 0.2627, 0.0593
    luma = signal @ np.array([kr, 1 - kr - kb, kb])
    codes = np.stack([64 + 876 * luma, 512 + 896 * (signal[:, 2] - luma) / (2 * (1 - kb)),
                      512 + 896 * (signal[:, 0] - luma) / (2 * (1 - kr))], axis=1).round().astype(np.uint16)
    patch = 8  # each colour a flat 8x8 patch: 4:2:0 has one chroma sample per 2x2
    chroma = patch // 2 if pix_fmt == "yuv420p10le" else patch
    y = np.repeat(np.repeat(codes[None, :, 0], patch, 0), patch, 1)
    u = np.repeat(np.repeat(codes[None, :, 1], chroma, 0), chroma, 1)
    v = np.repeat(np.repeat(codes[None, :, 2], chroma, 0), chroma, 1)
    frame = av.VideoFrame(y.shape[1], y.shape[0], pix_fmt)
    for plane, values in zip(frame.planes, (y, u, v)):
        plane.update(np.pad(values, ((0, 0), (0, plane.line_size // 2 - values.shape[1]))).tobytes())
    frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = 9, transfer, 9, 1
    image = DisplayConversion.of(frame).image(frame)
    back = image[patch // 2, patch // 2::patch].astype(int)
    assert np.abs(back - sdr[0]).max() <= 1, back.tolist()
