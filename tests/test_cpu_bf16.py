"""The bf16 CPU fast path: fp32-accurate norm statistics, precision choice, compiled networks."""
import copy
import logging
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vidstyle.device as device_mod
import vidstyle.stylizer as stylizer_mod
import vidstyle.models.transformer as transformer
from vidstyle.device import resolve_precision
from vidstyle.errors import VidstyleError
from vidstyle.models.transformer import InstanceNorm2d, TransformerNet, instance_norm_lowp, light_net
from vidstyle.stylizer import AUTO_COMPILE_MIN_FRAMES, Stylizer

CPU = torch.device("cpu")


def _reference(x, weight, bias, eps=1e-5):
    """fp32 instance norm of the bf16 values, then the affine: what the fast path must reproduce."""
    y = F.instance_norm(x.float(), eps=eps)
    w = weight.float() if weight.ndim == 2 else weight.float()[None]
    b = bias.float() if bias.ndim == 2 else bias.float()[None]
    return y * w[:, :, None, None] + b[:, :, None, None]


@pytest.mark.parametrize("per_sample", [False, True])
def test_lowp_instance_norm_matches_fp32_statistics_even_with_large_means(per_sample):
    g = torch.Generator().manual_seed(0)
    # channel means 30-50x their spread: E[x^2] - E[x]^2 in low precision would lose the variance
    mean = torch.linspace(-40, 50, 6)[None, :, None, None]
    x = (mean + torch.randn(2, 6, 17, 23, generator=g)).to(torch.bfloat16)
    weight = torch.rand(2, 6, generator=g) + 0.5 if per_sample else torch.rand(6, generator=g) + 0.5
    bias = torch.randn(2, 6, generator=g) if per_sample else torch.randn(6, generator=g)
    y = instance_norm_lowp(x, weight, bias)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape
    ref = _reference(x, weight, bias)
    # the bf16 output itself rounds to 2^-8 relative; the statistics must add no more than that
    assert (y.float() - ref).abs().max() < 0.05
    # the naive one-pass formula fails this case, so the test can tell the two apart
    n = x.shape[2] * x.shape[3]
    m1 = x.sum((2, 3), dtype=torch.float32) / n
    naive_var = ((x * x).sum((2, 3), dtype=torch.float32) / n - m1 * m1).clamp_min(0)
    assert (naive_var - x.float().var((2, 3), correction=0)).abs().max() > 0.5


def test_lowp_norm_is_only_used_for_bf16_cpu_inference(monkeypatch):
    norm = InstanceNorm2d(4, affine=True)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(1, 4, 8, 8) * 3 + 5
    with torch.inference_mode():
        assert torch.equal(norm(x), F.instance_norm(x, weight=norm.weight, bias=norm.bias))  # fp32: stock op
        fast = norm.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert (fast.float() - _reference(x.to(torch.bfloat16), norm.weight, norm.bias)).abs().max() < 0.05
    # with gradients (training) the stock operator runs, and backpropagates
    calls = []
    monkeypatch.setattr(transformer, "instance_norm_lowp", lambda *a, **k: calls.append(a) or a[0])
    xb = x.to(torch.bfloat16).requires_grad_()
    norm(xb).float().sum().backward()
    assert not calls and xb.grad is not None and torch.isfinite(xb.grad.float()).all()
    with torch.inference_mode():
        norm(x.to(torch.bfloat16))
    assert len(calls) == 1  # the spy does see the fast path when it is taken


def test_state_dict_keys_unchanged_by_the_norm_subclass():
    keys = set(light_net().state_dict())
    assert "encoder.1.weight" in keys and "encoder.1.bias" in keys


def test_auto_precision_is_bf16_for_inference_only_on_cpus_with_native_bf16(monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU, inference=True) is torch.bfloat16
    assert resolve_precision("auto", CPU) is None  # training keeps fp32
    assert resolve_precision("fp32", CPU, inference=True) is None
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", CPU, inference=True) is None


def test_bf16_asked_for_on_a_cpu_without_fast_bf16_convolutions_warns_once(monkeypatch, caplog):
    """An AVX2-only CPU (AMD Zen 3, CPU D in benchmarks/RESULTS.md): bf16 runs there, 6-11x
    slower than fp32, so the user who asks for it is told once, whichever command asks."""
    device_mod._warn_slow_cpu_bf16.cache_clear()
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)
    # (nor native bf16, which such a CPU has not: on one that has, auto picked bf16 and this failed)
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)
    try:
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            assert resolve_precision("auto", CPU, inference=True) is None  # auto never picks it there
            assert not caplog.records
            assert resolve_precision("bf16", CPU, inference=True) is torch.bfloat16  # still the user's choice
            assert resolve_precision("bf16", CPU) is torch.bfloat16  # training asks as well: said once
        assert len(caplog.records) == 1 and "several times slower than fp32" in caplog.text, caplog.text
        assert "--precision fp32" in caplog.text
        device_mod._warn_slow_cpu_bf16.cache_clear()
        caplog.clear()
        monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: True)  # AVX-512 or native bf16
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            assert resolve_precision("bf16", CPU, inference=True) is torch.bfloat16
        assert not caplog.records
    finally:
        device_mod._warn_slow_cpu_bf16.cache_clear()


def test_a_resumed_runs_recorded_bf16_is_compared_without_the_warning(monkeypatch, caplog):
    """--resume reads the checkpoint's precision back to compare it with this run's options: not
    a precision to run, so no advice to use fp32 (which the user may be giving)."""
    from dataclasses import asdict

    from vidstyle.train.loop import TrainConfig, _config_changes

    device_mod._warn_slow_cpu_bf16.cache_clear()
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)
    now = TrainConfig(styles=["s.jpg"], content="c", out="o.safetensors", device="cpu", precision="fp32")
    try:
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            changes = _config_changes({**asdict(now), "precision": "bf16"}, now)
        assert any("--precision bf16 -> fp32" in c for c in changes), changes
        assert not caplog.records, caplog.text
    finally:
        device_mod._warn_slow_cpu_bf16.cache_clear()


def test_cpu_has_onednn_bf16_follows_torchs_probe(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert device_mod.cpu_has_onednn_bf16() is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert device_mod.cpu_has_onednn_bf16() is True


@pytest.mark.parametrize("style", ["light_starry_night", "starry_night", "mix:starry_night=0.7,the_scream=0.3"])
def test_bf16_frames_match_fp32_frames(style):
    """Runs on any CPU (bf16 is emulated where it is not native): what --precision bf16 produces."""
    rng = np.random.default_rng(0)
    img = (rng.random((72, 128, 3)) * 255).astype(np.uint8)
    img[20:50, 30:90] = (200, 40, 30)  # a flat block with edges, like real frames have
    bf16 = Stylizer(style, device="cpu", precision="bf16", backend="torch")
    fp32 = Stylizer(style, device="cpu", precision="fp32", backend="torch")
    assert bf16.cast_weights and next(bf16.model.parameters()).dtype == torch.bfloat16
    a, b = bf16.stylize(img).astype(float), fp32.stylize(img).astype(float)
    assert a.shape == b.shape == img.shape
    psnr = 10 * np.log10(255.0**2 / max(((a - b) ** 2).mean(), 1e-12))
    assert psnr > 40, psnr  # about 51 dB measured; a broken norm or cast gives under 20
    assert np.abs(a - b).mean() < 1.5
    assert np.abs(a - img).mean() > 5  # and the network really changed the frame


def test_from_model_leaves_the_callers_network_in_fp32():
    net = light_net().eval()
    Stylizer.from_model(net, device="cpu", precision="bf16", backend="torch")
    assert next(net.parameters()).dtype == torch.float32


@pytest.mark.parametrize("precision, backend", [("fp32", "torch"), ("fp32", "compile"), ("bf16", "torch")])
def test_from_model_runs_a_network_given_in_bf16_at_the_precision_asked(monkeypatch, precision, backend):
    """A Stylizer's own network is bf16 on a CPU with native bf16 (--precision auto): handed to
    from_model for an fp32 run (a comparison, a second look), its bf16 weights met fp32 frames
    in the first convolution, "Input type (float) and bias type (c10::BFloat16) should be the same"."""
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: model)  # (no C++ build)
    fp32_net = light_net().eval()
    bf16_net = copy.deepcopy(fp32_net).to(torch.bfloat16)
    img = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    given = Stylizer.from_model(bf16_net, device="cpu", precision=precision, backend=backend)
    ran = given.stylize(img)
    assert given.precision == precision and next(bf16_net.parameters()).dtype == torch.bfloat16  # the caller's, as it was
    # the same output as the network's weights (rounded to bf16) give in fp32
    rounded = copy.deepcopy(bf16_net).float()
    expected = Stylizer.from_model(rounded, device="cpu", precision=precision, backend=backend).stylize(img)
    assert np.array_equal(ran, expected)


def test_expect_frames_compiles_long_auto_bf16_runs_only(monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    built = []
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: built.append(kw) or model)
    net = light_net().eval()
    auto = Stylizer.from_model(net, device="cpu")
    assert (auto.backend, auto.dtype) == ("torch", torch.bfloat16)
    auto.expect_frames(None)
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES - 1)
    assert auto.backend == "torch" and not built
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES)
    assert auto.backend == "compile" and built == [{"dynamic": False}]
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES - 1)  # a short clip after a long one: eager again
    assert auto.backend == "torch" and auto._forward is auto.model
    auto.expect_frames(None)  # unknown length: as it was
    assert auto.backend == "torch" and len(built) == 1
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES)
    assert auto.backend == "compile" and len(built) == 1  # the compiled network, reused: no second compile
    chosen = Stylizer.from_model(net, device="cpu", backend="torch")  # the user's choice is kept
    chosen.expect_frames(10 * AUTO_COMPILE_MIN_FRAMES)
    assert chosen.backend == "torch"
    onnx = Stylizer.from_model(net, device="cpu", precision="fp32", backend="onnx")
    onnx.expect_frames(10 * AUTO_COMPILE_MIN_FRAMES)
    assert onnx.backend == "onnx"


def test_expect_frames_keeps_auto_fp32_runs_on_onnx_runtime(monkeypatch):
    """A CPU without native bf16 runs fp32 through ONNX Runtime at any length: compiled, both
    networks ran as fast end to end after a 22 s compile (benchmarks/RESULTS.md, CPU D)."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)
    built = []
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: built.append(kw) or model)
    standard_like = TransformerNet((8, 16), num_residual=1, residual=True).eval()
    for net in (light_net().eval(), standard_like):
        auto = Stylizer.from_model(net, device="cpu")
        assert (auto.backend, auto.dtype, auto.channels_last) == ("onnx", None, False)
        for frames in (AUTO_COMPILE_MIN_FRAMES, 10 * AUTO_COMPILE_MIN_FRAMES):
            auto.expect_frames(frames)
            assert auto.backend == "onnx" and not built
    forced = Stylizer.from_model(standard_like, device="cpu", precision="fp32", backend="compile")
    forced.expect_frames(1)  # the user's choice survives a short run
    assert forced.backend == "compile"
    # without ONNX Runtime installed, auto runs fp32 eagerly, and a long run compiles, as in bf16
    monkeypatch.setattr(stylizer_mod, "onnx_available", lambda: False)
    eager = Stylizer.from_model(standard_like, device="cpu")
    assert (eager.backend, eager.dtype) == ("torch", None)
    compiles = len(built)
    eager.expect_frames(AUTO_COMPILE_MIN_FRAMES)
    assert eager.backend == "compile" and len(built) == compiles + 1


def test_a_switch_to_compiled_waits_for_a_running_eager_call(monkeypatch):
    """One Stylizer shared by two threads: a call that began eager must not end up running the
    compiled network outside the lock that compiled calls take turns on, as it could when
    expect_frames switched the backend between its check and its run."""
    import threading

    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: model)
    auto = Stylizer.from_model(light_net().eval(), device="cpu")
    assert auto.backend == "torch"
    running, finish = threading.Event(), threading.Event()
    eager = auto._forward

    def slow_forward(x):  # the eager network, held mid-call until the switch has been asked for
        running.set()
        assert finish.wait(20)
        return eager(x)

    auto._forward = slow_forward
    call = threading.Thread(target=auto.stylize_tensor, args=(torch.rand(1, 3, 32, 32),))
    call.start()
    switch = threading.Thread(target=auto.expect_frames, args=(AUTO_COMPILE_MIN_FRAMES,))
    try:
        assert running.wait(20)
        switch.start()
        switch.join(0.5)
        assert switch.is_alive() and auto.backend == "torch"  # waiting for the call, not switched under it
    finally:
        finish.set()  # (the threads end whatever the outcome)
        call.join(20)
        if switch.ident is not None:  # (started)
            switch.join(20)
    assert not call.is_alive() and not switch.is_alive() and auto.backend == "compile"


def test_a_still_image_after_a_long_video_runs_on_the_short_run_backend(monkeypatch, tmp_path):
    """stylize_files gives every input one Stylizer: a photo after a 600-frame video must not
    compile a graph of its own size (25 s with a cold cache) instead of one eager call."""
    from vidstyle.io.images import write_image
    from vidstyle.pipeline import stylize_image

    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    compiled = []
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: compiled.append(kw) or model)
    shared = Stylizer("light_starry_night", device="cpu")
    shared.expect_frames(AUTO_COMPILE_MIN_FRAMES)  # what stylize_video does for a long video
    assert shared.backend == "compile"
    photo = tmp_path / "photo.png"
    write_image(photo, np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8), "png")
    result = stylize_image(photo, tmp_path / "out.png", shared, temporal="off")
    assert shared.backend == "torch" and "torch" in result.network, result.network
    assert (tmp_path / "out.png").is_file()


def test_compiled_network_pads_a_short_last_batch_and_matches_eager(cxx_compiler):
    # the smallest network (one stage, no residual block): inductor's cold compile, most of the
    # test's time, grows with the graph; the padding and the comparison with eager do not
    net = TransformerNet((4,), num_residual=0, residual=True).eval()
    compiled = Stylizer.from_model(net, device="cpu", precision="fp32", backend="compile", channels_last=False)
    eager = Stylizer.from_model(net, device="cpu", precision="fp32", backend="torch", channels_last=False)
    x = torch.rand(3, 3, 16, 24)
    full = compiled.stylize_tensor(x)
    short = compiled.stylize_tensor(x[:1])  # padded to the compiled batch of 3, cut back to 1
    assert short.shape == (1, 3, 16, 24)
    assert torch.allclose(full, eager.stylize_tensor(x), atol=1e-5)
    assert torch.allclose(short, full[:1], atol=1e-5)
    assert compiled._compiled_batches == {(3, 16, 24): {3}}


def test_a_padded_short_batch_reaches_the_compiled_network_in_its_memory_format(monkeypatch):
    # the compiled graph guards on strides: a short batch padded in another layout compiled again
    seen = []

    def recording_compile(model, **kw):
        def run(x):
            seen.append((x.shape[0], x.is_contiguous(memory_format=torch.channels_last)))
            return model(x)
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", recording_compile)
    net = TransformerNet((4, 8), num_residual=1, residual=True).eval()
    compiled = Stylizer.from_model(net, device="cpu", precision="fp32", backend="compile", channels_last=True)
    x = torch.rand(4, 3, 16, 24)
    for n in (4, 2, 1):
        assert compiled.stylize_tensor(x[:n]).shape == (n, 3, 16, 24)
    assert seen == [(4, True)] * 3


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_compiled_network_gets_inference_tensors_from_every_entry_point(monkeypatch, precision):
    """A compiled graph guards on its input's dispatch keys: stylize_batch (and a caller's own
    tensor) after the pipeline's submit_batch compiled the network again, 30 s for int8 here."""
    seen = []

    def recording(model, **kw):
        def run(x):
            seen.append(x.is_inference())
            return model(x)
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", recording)
    if precision == "int8":
        import vidstyle.models.quantize as quantize_mod

        monkeypatch.setattr(quantize_mod, "quantize_int8", lambda model, batches: model)
    net = TransformerNet((4, 8), num_residual=1, residual=True).eval()
    backend = "auto" if precision == "int8" else "compile"
    compiled = Stylizer.from_model(net, device="cpu", precision=precision, backend=backend, channels_last=False)
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 24, 3), dtype=np.uint8)
    compiled.submit_batch(images).result()
    compiled.stylize_batch(images)
    compiled.stylize_tensor(torch.rand(2, 3, 16, 24))
    assert seen == [True] * 3


def _dynamo_only(monkeypatch):
    """torch.compile traced by dynamo for real (its guards, its graphs), with its eager backend
    instead of inductor's C++ build; returns dynamo's counters, cleared."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    real_compile = torch.compile
    monkeypatch.setattr(stylizer_mod.torch, "compile", lambda model, **kw: real_compile(model, backend="eager", **kw))
    torch._dynamo.reset()
    counters.clear()
    return counters


def _traced_net(num_residual: int = 0, num_styles: int = 1) -> TransformerNet:
    """The network the dynamo-only tests trace: one convolution stage and its norm (a
    residual block adds two more norms). Their guards, graphs and dynamo's graph limit hold for
    any network, and tracing (4, 8) with a residual block took about three times as long (8.4-10
    against 3.0-3.2 s of CPU for the nine sizes of the first, measured)."""
    return TransformerNet((4,), num_residual=num_residual, residual=True, num_styles=num_styles).eval()


def test_every_frame_size_gets_a_compiled_graph_past_dynamos_default_of_eight(monkeypatch):
    """Dynamo ran the 9th shape of a function eagerly, saying so only in its own warning: files of
    many sizes in one run, or bench's compile rows past the 8th, ran eager. Traced by dynamo for
    real here, with its eager backend (no C++ build)."""
    counters = _dynamo_only(monkeypatch)
    compiled = Stylizer.from_model(_traced_net(), device="cpu", precision="fp32", backend="compile",
                                   channels_last=False)
    for k in range(9):
        compiled.stylize_tensor(torch.rand(1, 3, 16 + 4 * k, 24))
    assert counters["stats"]["unique_graphs"] == 9
    torch._dynamo.reset()


def test_every_frame_size_gets_a_compiled_graph_in_a_thread_other_than_the_one_that_built_it(monkeypatch):
    """torch 2.14 keeps a config value set by a program per thread: the graph limit raised where
    the network was built (the caller's thread) was dynamo's default of 8 in the pipeline's
    network thread, which ran the 9th frame size eagerly, as before the 43rd session's fix."""
    import threading

    counters = _dynamo_only(monkeypatch)
    compiled = Stylizer.from_model(_traced_net(), device="cpu", precision="fp32", backend="compile",
                                   channels_last=False)
    failed = []

    def sizes():
        try:
            for k in range(9):
                compiled.stylize_tensor(torch.rand(1, 3, 16 + 4 * k, 24))
        except Exception as exc:  # noqa: BLE001 - said by the assertion below
            failed.append(exc)

    worker = threading.Thread(target=sizes)
    worker.start()
    worker.join()
    assert not failed and counters["stats"]["unique_graphs"] == 9, failed
    torch._dynamo.reset()


@pytest.mark.parametrize("channels_last", [False, True])
def test_one_compiled_graph_per_frame_size_whatever_the_entry_point(monkeypatch, channels_last):
    """Review, 43rd session: one frame's ``image[None]`` (a batch stride of 0) and, without
    channels_last, a padded short batch each compiled the network again for the same shape."""
    counters = _dynamo_only(monkeypatch)
    compiled = Stylizer.from_model(_traced_net(), device="cpu", precision="fp32", backend="compile",
                                   channels_last=channels_last)
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 24, 3), dtype=np.uint8)
    first = compiled.submit_batch(images).result()  # as the pipeline: inference tensors, a batch of 4
    assert np.array_equal(compiled.stylize(images[1]), first[1])  # one frame, padded to the 4
    compiled.stylize_batch(images[:3])
    compiled.stylize_tensor(torch.rand(1, 3, 16, 24))
    assert counters["stats"]["unique_graphs"] == 1
    compiled.stylize(images[0, :8])  # another frame size, one frame (a batch stride of 0): its own graph,
    compiled.submit_batch(list(images[:1, :8])).result()  # which a one-frame batch made from a list reuses
    assert counters["stats"]["unique_graphs"] == 2
    torch._dynamo.reset()


def test_a_short_batch_is_padded_to_its_own_frame_sizes_batch_only(monkeypatch):
    """Review, 43rd session: the largest batch ever compiled padded every later call, of any
    size: a 1080p video at batch 1 after a 360p one at batch 4 ran 4 frames for each."""
    ran = []

    def recording(model, **kw):
        def run(x):
            ran.append(tuple(x.shape))
            return model(x)
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", recording)
    net = TransformerNet((4, 8), num_residual=1, residual=True).eval()
    compiled = Stylizer.from_model(net, device="cpu", precision="fp32", backend="compile")
    compiled.stylize_tensor(torch.rand(4, 3, 16, 24))
    compiled.stylize_tensor(torch.rand(1, 3, 32, 48))
    compiled.stylize_tensor(torch.rand(2, 3, 16, 24))
    assert ran == [(4, 3, 16, 24), (1, 3, 32, 48), (4, 3, 16, 24)]


def test_a_new_style_mix_runs_in_the_graph_compiled_before_it(monkeypatch):
    """Review, 43rd session: set_style put one new tensor into every norm layer, which compiled
    a multi-style network again (dynamo's "duplicate tensors"); the new mix must still be used."""
    counters = _dynamo_only(monkeypatch)
    net = _traced_net(num_residual=1, num_styles=2)  # three norms, each given the new mix
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, transformer.ConditionalInstanceNorm2d):
                m.bias.copy_(torch.randn_like(m.bias))
    compiled = Stylizer.from_model(net, device="cpu", precision="fp32", backend="compile")
    eager = Stylizer.from_model(net, device="cpu", precision="fp32", backend="torch")
    x = torch.rand(2, 3, 16, 24)
    before = compiled.stylize_tensor(x)
    for mix in ([0.3, 0.7], [0.0, 1.0]):
        compiled.set_mix(mix)
        eager.set_mix(mix)
        after = compiled.stylize_tensor(x)
        assert torch.allclose(after, eager.stylize_tensor(x), atol=1e-5)
        assert not torch.allclose(after, before, atol=1e-3)
    assert counters["stats"]["unique_graphs"] == 1
    torch._dynamo.reset()


def test_setting_the_same_mix_again_rebuilds_nothing(monkeypatch):
    """Review, 43rd session: `vidstyle live` sets a style's mix at each switch to it, and an ONNX
    Runtime network was exported again every time (most of a second with the picture frozen)."""
    pytest.importorskip("onnxruntime")
    import vidstyle.export as export_mod

    built = []
    real_runner = export_mod.OnnxRunner
    monkeypatch.setattr(export_mod, "OnnxRunner", lambda model: built.append(1) or real_runner(model))
    one = Stylizer.from_model(TransformerNet((4, 8), num_residual=1).eval(), device="cpu", precision="fp32",
                              backend="onnx")
    two = Stylizer.from_model(TransformerNet((4, 8), num_residual=1, num_styles=2).eval(), device="cpu",
                              precision="fp32", backend="onnx")
    assert len(built) == 2
    one.set_mix([1.0])
    one.set_mix({"style0": 3})
    assert len(built) == 2
    two.set_mix([0.5, 0.5])
    two.set_mix("style0=1,style1=1")  # the same mix, normalised
    assert len(built) == 3
    two.set_mix([1, 0])
    assert len(built) == 4


@pytest.mark.parametrize("fast_bf16, advice", [(False, "fp32"), (True, "bf16 or fp32")])
def test_an_int8_build_that_fails_advises_bf16_only_where_it_runs_fast(monkeypatch, fast_bf16, advice):
    """Without a compiler, int8 advised "bf16 or fp32" on a CPU just said to run bf16 6-11x slower."""
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: fast_bf16)
    stylizer = Stylizer.from_model(light_net().eval(), device="cpu", precision="int8")

    def no_compiler(x):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
    monkeypatch.setattr(stylizer, "_quantize", no_compiler)
    img = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    with pytest.raises(VidstyleError, match=rf"^building the int8 network failed .*\(use --precision {advice} "
                                            r"otherwise\)$"):
        stylizer.stylize(img)


def test_an_automatic_compile_that_fails_falls_back_to_eager(monkeypatch, caplog):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)

    def broken_compile(model, **kw):
        def run(x):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore detail")
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", broken_compile)
    net = light_net().eval()
    auto = Stylizer.from_model(net, device="cpu")
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES)
    assert auto.backend == "compile"
    img = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)  # random: a flat frame would skip the network
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        out = auto.stylize(img)
    assert re.search("torch.compile failed .*No working C.. compiler found", caplog.text), caplog.text
    assert out.shape == img.shape and auto.backend == "torch"
    auto.expect_frames(AUTO_COMPILE_MIN_FRAMES)  # not tried again for the next long run
    assert auto.backend == "torch"


class _InductorFailure(Exception):
    """torch._dynamo.exc.BackendCompilerFailed as inductor raises it: its own first line, the
    error it met as ``inner_exception``."""

    def __init__(self, inner):
        super().__init__("backend='inductor' raised:\n" + str(inner))
        self.inner_exception = inner


def _inductor_exc(name: str):
    exc = pytest.importorskip("torch._inductor.exc")
    if not hasattr(exc, name):
        pytest.skip(f"this torch's inductor has no {name}")
    return getattr(exc, name)


def _compiled_stylizer_failing_with(monkeypatch, make_error) -> Stylizer:
    """An fp32 Stylizer asked for ``backend="compile"`` whose compiled network raises ``make_error()``."""
    def broken_compile(model, **kw):
        def run(x):
            raise make_error()
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", broken_compile)
    return Stylizer.from_model(light_net().eval(), device="cpu", precision="fp32", backend="compile")


_NOISE = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)  # a flat frame would skip the network


@pytest.mark.parametrize("make_error", [
    # what inductor raises where CXX names a missing or broken compiler (checked with CXX=/nonexistent/g++
    # and CXX=/bin/false): InductorError, a BackendCompilerFailed, around InvalidCxxCompiler
    lambda: _InductorFailure(_inductor_exc("InvalidCxxCompiler")()),
    lambda: _InductorFailure(_inductor_exc("CppCompileError")(["g++", "x.cpp"], "x.cpp:1: error: boom")),
    lambda: _inductor_exc("InvalidCxxCompiler")(),
])
def test_an_asked_for_compile_that_cannot_build_advises_a_compiler(monkeypatch, make_error):
    """An explicit ``--backend compile`` is the user's choice: its failure is not hidden, and it is
    one line saying what to use instead (it was PyTorch's five, review 37th session), naming
    inductor's inner error rather than its "backend='inductor' raised:"."""
    stylizer = _compiled_stylizer_failing_with(monkeypatch, make_error)
    with pytest.raises(VidstyleError, match=r"^torch.compile failed \((InvalidCxxCompiler|CppCompileError): .*\); it "
                                            r"needs a working C\+\+ compiler .* use --backend torch or onnx$") as failed:
        stylizer.stylize(_NOISE)
    assert "\n" not in str(failed.value)


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("inner, said", [
    (NotImplementedError("aten::foo has no lowering"), "NotImplementedError: aten::foo has no lowering"),
    (TypeError("unsupported operand"), "TypeError: unsupported operand"),
])
def test_an_asked_for_compile_that_fails_otherwise_says_what_failed_without_compiler_advice(monkeypatch, inner, said,
                                                                                            wrapped):
    """Every failure of the first compiled call was said to need a C++ compiler (install g++ or
    clang), on a machine that has one: a lowering or tracing error is said as what it is."""
    stylizer = _compiled_stylizer_failing_with(monkeypatch, lambda: _InductorFailure(inner) if wrapped else inner)
    with pytest.raises(VidstyleError) as failed:
        stylizer.stylize(_NOISE)
    message = str(failed.value)
    assert message.startswith(f"torch.compile failed ({said})"), message
    assert "compiler" not in message and "g++" not in message, message
    assert message.endswith("use --backend torch or onnx"), message


def test_running_out_of_memory_at_the_first_compiled_call_is_said_as_such(monkeypatch):
    stylizer = _compiled_stylizer_failing_with(
        monkeypatch, lambda: RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes"))
    with pytest.raises(VidstyleError, match=r"^out of memory running the network"):
        stylizer.stylize(_NOISE)


def test_bf16_under_onnx_runtime_is_refused_in_one_line_without_the_speed_warning(monkeypatch, caplog):
    """The onnx backend runs fp32 only: `--precision bf16 --backend onnx` on an AVX2-only CPU was
    first warned that bf16 is slow there (use fp32), then refused: two lines for one mistake."""
    device_mod._warn_slow_cpu_bf16.cache_clear()
    monkeypatch.setattr(device_mod, "cpu_has_onednn_bf16", lambda: False)
    try:
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            with pytest.raises(VidstyleError, match="fp32 only"):
                Stylizer.from_model(light_net(), device="cpu", precision="bf16", backend="onnx")
        assert not caplog.records, caplog.text
    finally:
        device_mod._warn_slow_cpu_bf16.cache_clear()


def test_a_batch_runs_in_the_smallest_graph_compiled_for_it_not_the_largest(monkeypatch):
    """A compiled graph stays in dynamo's cache: one frame after a batch of 4 of the same size ran
    padded to 4 frames (4 times the work a call) though the one-frame graph compiled before it
    was there; a batch with no graph of its own still pads rather than compiling."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    real_compile = torch.compile
    ran = []

    def traced_and_recorded(model, **kw):
        graph = real_compile(model, backend="eager", **kw)

        def run(x):
            ran.append(x.shape[0])
            return graph(x)
        return run

    monkeypatch.setattr(stylizer_mod.torch, "compile", traced_and_recorded)
    torch._dynamo.reset()
    counters.clear()
    compiled = Stylizer.from_model(_traced_net(), device="cpu", precision="fp32", backend="compile",
                                   channels_last=False)
    x = torch.rand(4, 3, 16, 24)
    for n in (1, 4, 1, 2, 4, 1):
        assert torch.allclose(compiled.stylize_tensor(x[:n]), compiled.stylize_tensor(x)[:n], atol=1e-5)
    assert ran == [1, 4, 4, 4, 1, 4, 4, 4, 4, 4, 1, 4]
    assert counters["stats"]["unique_graphs"] == 2
    torch._dynamo.reset()
