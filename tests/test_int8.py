"""int8 inference on the CPU: static quantization, calibration frames, the Stylizer's int8 path."""
from __future__ import annotations

import builtins
import logging

import numpy as np
import pytest
import torch

from videos import make_video, pattern_frame

from vidstyle.errors import VidstyleError
from vidstyle.io.samples import sample_frames
from vidstyle.models.transformer import TransformerNet, fold_for_inference
from vidstyle.stylizer import Stylizer


def _net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet((8, 16), num_residual=1, residual=True).eval()


def _images(n: int, size=(48, 32)) -> list[np.ndarray]:
    return [pattern_frame(i, size) for i in range(n)]


def test_sample_frames_spreads_over_the_video(tmp_path):
    path = make_video(tmp_path / "a.mp4", frames=24, size=(96, 64), crf=0)
    side = 16
    frames = sample_frames(path, 4)
    assert len(frames) == 4 and all(f.shape == (64, 96, 3) for f in frames)
    # the white square slides 3 px a frame: where it is says which frame was sampled
    rows = [f[(64 - side) // 2 + side // 2].astype(int) for f in frames]
    lefts = [int(np.argmax((r > 200).all(axis=1))) for r in rows]
    assert lefts == [0, 18, 36, 54]  # frames 0, 6, 12, 18
    assert len(sample_frames(path, 100)) == 24  # never more than the video has
    # a duration running past the end: spread over what there is, not over the asked length
    assert [int(np.argmax((f[(64 - side) // 2 + side // 2] > 200).all(axis=1))) for f in sample_frames(
        path, 4, duration=10)] == [0, 18, 36, 54]
    segment = sample_frames(path, 2, start=0.5)  # from frame 12 on: frames 12 and 18
    assert [int(np.argmax((f[(64 - side) // 2 + side // 2] > 200).all(axis=1))) for f in segment] == [36, 54]
    with pytest.raises(ValueError):
        sample_frames(path, 0)


def test_quantize_int8_checks_its_calibration():
    pytest.importorskip("torchao")
    from vidstyle.models.quantize import quantize_int8

    with pytest.raises(ValueError, match="at least one"):
        quantize_int8(_net(), [])
    with pytest.raises(ValueError, match="one shape"):
        quantize_int8(_net(), [torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 32)])


def test_int8_model_stays_close_to_fp32():
    """The quantized graph (run eagerly: int8 simulated in fp32) tracks the fp32 network."""
    pytest.importorskip("torchao")
    from vidstyle.models.quantize import quantize_int8

    net = fold_for_inference(_net())
    x = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in _images(6)]
    quantized = quantize_int8(net, x[:4])
    with torch.no_grad():
        ref, out = net(x[5]), quantized(x[5])
    err = (out - ref).abs()
    spread = ref.std().item()
    assert out.shape == ref.shape
    assert err.mean().item() < 0.05 * spread  # a few per cent of the output's own variation
    # it did quantize: every convolution reads a quantize-dequantize pair
    targets = [str(n.target) for n in quantized.graph.nodes if n.op == "call_function"]
    convs = sum("conv2d" in t for t in targets)
    assert convs == sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert sum("quantize_per_tensor" in t and "dequantize" not in t for t in targets) >= convs


def test_int8_ranges_cover_every_calibration_batch():
    """Calibrated on a dim frame and a bright one, the bright one is not clipped to the dim one's range."""
    pytest.importorskip("torchao")
    from vidstyle.models.quantize import quantize_int8

    net = fold_for_inference(_net())
    bright = torch.from_numpy(_images(1)[0]).permute(2, 0, 1)[None].float() / 255
    quantized = quantize_int8(net, [bright * 0.1, bright])  # the dim one first
    with torch.no_grad():
        ref, out = net(bright), quantized(bright)
    assert (out - ref).abs().mean().item() < 0.05 * ref.std().item()


@pytest.mark.parametrize("vnni,quant_max", [(True, 255), (False, 127)])
def test_activations_keep_7_bits_on_a_cpu_without_vnni(monkeypatch, vnni, quant_max):
    """Without VNNI oneDNN sums pairs of uint8 x int8 products in int16, which saturates for
    activations above 127 (on an AVX2-only Zen 3, starry_night's int8 frames were 4.3 grey levels
    from fp32 on average, up to 128: benchmarks/RESULTS.md, CPU D)."""
    pytest.importorskip("torchao")
    import vidstyle.models.quantize as quantize

    monkeypatch.setattr(quantize, "cpu_has_vnni", lambda: vnni)
    x = [torch.rand(1, 3, 16, 16) for _ in range(2)]
    graph = quantize.quantize_int8(fold_for_inference(_net()), x)
    ranges = {tuple(n.args[3:5]) for n in graph.graph.nodes
              if n.op == "call_function" and "quantize_per_tensor" in str(n.target) and "dequantize" not in str(n.target)}
    assert ranges == {(0, quant_max)}, ranges  # every activation, uint8 from 0


def test_missing_torchao_says_how_to_install(monkeypatch):
    # torchao found but failing to import (a broken install): the error comes at the first frame;
    # torchao not installed at all is the test below
    pytest.importorskip("torchao")
    real_import = builtins.__import__

    def no_torchao(name, *args, **kwargs):
        if name.startswith("torchao"):
            raise ImportError("No module named 'torchao'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchao)
    stylizer = Stylizer.from_model(_net(), device="cpu", precision="int8")
    with pytest.raises(VidstyleError, match=r"pip install 'torchao>=0.18'"):
        stylizer.stylize(_images(1)[0])


def test_missing_torchao_fails_when_the_stylizer_is_built(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchao" else real(name, *a))
    with pytest.raises(VidstyleError, match=r"pip install 'torchao>=0.18'"):
        Stylizer.from_model(_net(), device="cpu", precision="int8")


def _stub_quantizer(monkeypatch) -> list:
    """Replace the quantize-and-compile step by the fp32 network, recording each build's shape."""
    import vidstyle.models.quantize as quantize

    builds = []

    def fake_quantize(model, batches):
        builds.append(tuple(batches[0].shape))
        return model

    monkeypatch.setattr(quantize, "quantize_int8", fake_quantize)
    monkeypatch.setattr(quantize, "compile_int8", lambda model: model)
    return builds


def test_int8_builds_once_per_larger_batch_and_pads_smaller_ones(monkeypatch):
    builds = _stub_quantizer(monkeypatch)
    s = Stylizer.from_model(_net(), device="cpu", precision="int8")
    images = _images(4)
    for n in (1, 4, 2, 4, 1):
        assert s.stylize_batch(images[:n]).shape == (n, 32, 48, 3)
    assert [b[0] for b in builds] == [1, 4]  # then everything pads up to 4
    s.stylize_batch([pattern_frame(0, (40, 24))] * 4)  # another frame size: built again for it
    assert builds[-1] == (4, 3, 24, 40)


def test_a_reused_int8_stylizer_is_calibrated_on_each_new_video(tmp_path, monkeypatch):
    from vidstyle.pipeline import calibrate_for

    builds = _stub_quantizer(monkeypatch)
    a = make_video(tmp_path / "a.mp4", frames=12, size=(48, 32))
    b = make_video(tmp_path / "b.mp4", frames=12, size=(48, 32), pattern="noise")
    s = Stylizer.from_model(_net(), device="cpu", precision="int8")
    calibrate_for(s, a)
    first = [f.copy() for f in s._calibration]
    assert s.calibration_source.startswith(f"{a.resolve()}|") and len(first) == 8
    s.stylize_batch(_images(1))
    calibrate_for(s, a)  # same file: kept, nothing rebuilt
    s.stylize_batch(_images(1))
    assert len(builds) == 1
    calibrate_for(s, b)  # another file: its own frames, and a rebuild at the next batch
    assert s.calibration_source.startswith(f"{b.resolve()}|")
    assert not np.array_equal(s._calibration[0], first[0])
    s.stylize_batch(_images(1))
    assert len(builds) == 2
    # another segment of the same file: its own frames (the ranges of the whole file were kept)
    whole = [f.copy() for f in s._calibration]
    calibrate_for(s, b, start=0.25)
    assert s.calibration_source.endswith("#segment0.25,None,None") and not np.array_equal(s._calibration[0], whole[0])
    calibrate_for(s, b, start=0.25)  # the same segment again: kept
    s.stylize_batch(_images(1))
    assert len(builds) == 3
    # the same name written again (a render done over): another file (review, 43rd session)
    calibrate_for(s, a)
    kept = [f.copy() for f in s._calibration]
    make_video(a, frames=12, size=(48, 32), pattern="noise")
    calibrate_for(s, a)
    assert not np.array_equal(s._calibration[0], kept[0])
    fp32 = Stylizer.from_model(_net(), device="cpu", precision="fp32")
    calibrate_for(fp32, a)  # not int8: left alone
    assert fp32.calibration_source is None


def test_a_still_is_calibrated_on_itself_not_on_what_was_stylized_before(tmp_path, monkeypatch):
    """Review, 43rd session: a still stylized after a video (`vidstyle stylize a.mp4 b.png -o out/
    --precision int8`) ran on the network calibrated on the video's frames: other pixels."""
    import vidstyle.models.quantize as quantize
    from PIL import Image

    from vidstyle.pipeline import stylize_image, stylize_video

    calibrated_on = []  # the mean level of each build's calibration frames
    monkeypatch.setattr(quantize, "quantize_int8",
                        lambda model, batches: calibrated_on.append(round(float(torch.cat(batches).mean()), 2)) or model)
    monkeypatch.setattr(quantize, "compile_int8", lambda model: model)
    s = Stylizer.from_model(_net(), device="cpu", precision="int8")
    stylize_video(make_video(tmp_path / "a.mp4", frames=12, size=(48, 32)), tmp_path / "a_out.mp4", s,
                  temporal="off", progress=False)
    rng = np.random.default_rng(0)
    still = tmp_path / "b.png"
    for low in (150, 150, 0):  # the same image twice, then another one under the same name
        if low == 0 or not still.exists():
            Image.fromarray(rng.integers(low, low + 100, (32, 48, 3), dtype=np.uint8)).save(still)
        stylize_image(still, tmp_path / "b_out.png", s, overwrite=True, progress=False)
    assert len(calibrated_on) == 3  # the video, the image (once), the image written again
    assert calibrated_on[1] == pytest.approx((150 + 49.5) / 255, abs=0.02)
    assert calibrated_on[2] == pytest.approx(49.5 / 255, abs=0.02)


def test_int8_needs_the_cpu_and_the_compiled_backend():
    for backend in ("torch", "onnx"):
        with pytest.raises(VidstyleError, match="compiled"):
            Stylizer.from_model(_net(), device="cpu", precision="int8", backend=backend)
    s = Stylizer.from_model(_net(), device="cpu", precision="int8")
    assert s.precision == "int8" and s.backend == "compile" and not s._calibration
    s.calibrate(_images(3), source="x")
    assert len(s._calibration) == 3 and s.calibration_source == "x"
    fp32 = Stylizer.from_model(_net(), device="cpu", precision="fp32")
    fp32.calibrate(_images(3))  # a no-op for other precisions
    assert fp32.precision == "fp32" and not fp32._calibration


def test_int8_stylizer_calibrates_on_the_video_compiles_and_tracks_fp32(tmp_path, caplog, cxx_compiler):
    """The compiled int8 path (oneDNN int8 convolutions) end to end: the file pipeline calibrates
    it on frames spread over the input, and its frames stay close to fp32's."""
    pytest.importorskip("torchao")
    from vidstyle.pipeline import INT8_CALIBRATION_FRAMES, stylize_video

    video = make_video(tmp_path / "in.mp4", frames=12, size=(48, 32))
    int8 = Stylizer.from_model(_net(), device="cpu", precision="int8")
    result = stylize_video(video, tmp_path / "out.mp4", int8, batch=3, temporal="off", progress=False)
    assert result.frames == 12 and result.network == "cpu int8 compile, batch 3"
    assert len(int8._calibration) == INT8_CALIBRATION_FRAMES and int8.calibration_source.startswith(f"{video.resolve()}|")

    images = _images(8)
    fp32 = Stylizer.from_model(_net(), device="cpu", precision="fp32", backend="torch")
    full = int8.stylize_batch(images[5:8])
    short = int8.stylize_batch(images[5:6])  # padded to the compiled batch of 3
    ref = fp32.stylize_batch(images[5:8])
    assert full.shape == ref.shape == (3, 32, 48, 3) and full.dtype == np.uint8
    assert np.array_equal(short[0], full[0])
    diff = np.abs(full.astype(int) - ref.astype(int))
    assert diff.mean() < 0.05 * ref.std()
    assert diff.max() > 0


def test_int8_is_quantized_again_for_another_frame_size(caplog, monkeypatch):
    """The compiled graph has static shapes: another frame size is quantized (and compiled) again.
    Run eagerly here (the compiled path is the test above's), as the int8 simulation in fp32."""
    pytest.importorskip("torchao")
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: compiled.append(model) or model)
    int8 = Stylizer.from_model(_net(), device="cpu", precision="int8")
    int8.calibrate(_images(4), source="clip.mp4")
    assert int8.stylize_batch(_images(3)).shape == (3, 32, 48, 3)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):  # the video's calibration frames do not fit
        other = int8.stylize_batch([pattern_frame(0, (40, 24))] * 3)
    assert "the int8 calibration frames have another size" in caplog.text
    assert other.shape == (3, 24, 40, 3) and len(compiled) == 2 and compiled[0] is not compiled[1]


@pytest.mark.parametrize("num_styles", [1, 3])
def test_channel_equalization_keeps_the_function_and_balances_ranges(num_styles):
    import copy

    from vidstyle.models.quantize import _consumer_conv, _equalization_groups, equalize_channels
    from vidstyle.models.transformer import transformer_net

    torch.manual_seed(0)
    net = fold_for_inference(transformer_net(num_styles=num_styles)).eval()
    net.set_style([0.2, 0.5, 0.3][:num_styles] if num_styles > 1 else [1.0])
    with torch.no_grad():  # make a few channels much wider than the rest, as trained networks have
        for m in net.modules():
            if hasattr(m, "weight") and m.weight is not None and m.weight.ndim <= 2 and "Norm" in type(m).__name__:
                m.weight[..., ::7] *= 20
                m.bias.normal_(0, 0.5)  # trained norms have offsets (fresh ones are 0), which scale too
    x = [torch.rand(1, 3, 32, 48) for _ in range(3)]
    before = [net(b) for b in x]
    groups = _equalization_groups(net)
    assert len(groups) == 2 + 1 + 5 + 1 + 1  # encoder pairs, stream, residual blocks, decoder pair, head
    eq = equalize_channels(copy.deepcopy(net), x[:2])
    with torch.no_grad():
        for b, ref in zip(x, before):
            assert torch.allclose(eq(b), ref, atol=1e-4, rtol=1e-4)
        # the residual stream read by the decoder: channel ranges closer together than before
        spread = []
        for model in (net, eq):
            seen = {}
            h = model.decoder[0].register_forward_pre_hook(lambda m, i: seen.update(x=i[0]))
            model(x[2])
            h.remove()
            peak = seen["x"].abs().amax(dim=(0, 2, 3))
            spread.append((peak.max() / peak.median()).item())
        assert spread[1] < spread[0] / 2
    assert _consumer_conv(eq.head)[1] == 4  # the space-to-depth head: four phases per channel
    with pytest.raises(ValueError, match="phase-major"):  # ONNX export's channel order: not equalized wrongly
        _consumer_conv(copy.deepcopy(eq.head).to_channel_major())
