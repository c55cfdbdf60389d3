"""Networks, the weights format, style specs, device choice and frame padding."""
import copy
import json
import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, safe_open, save_file

from vidstyle.device import resolve_device, resolve_precision
from vidstyle.errors import VidstyleError
from vidstyle.frames import crop_to, pad_to_multiple, tensor_to_images, working_size
from vidstyle.models.transformer import (BinomialBlur, ConvLayer, SpaceToDepthConv, SubpixelUpsampleConv,
                                        TransformerNet, UpsampleConv, count_parameters, depth_to_space,
                                        fold_for_inference, light_aa_net, light_full_net, light_net, space_to_depth,
                                        transformer_net)
from vidstyle.models.weights import load_model, read_info, save_model
from vidstyle.models.zoo import parse_mix, resolve_style
from vidstyle.stylizer import Stylizer


def tiny(num_styles=1, **kw):
    return TransformerNet((4, 8, 8), num_residual=1, num_styles=num_styles, **kw)


@pytest.mark.parametrize("builder", [transformer_net, light_net, light_full_net, light_aa_net])
def test_networks_keep_shape_and_residual_nets_start_near_identity(builder):
    net = builder().eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert float((y - x).abs().mean()) < 0.1  # residual start: a small correction of the photo


@pytest.mark.parametrize("separable", [False, True])
def test_a_residual_block_adds_its_correction_to_its_input(separable):
    # with its last convolution silenced the block's correction is zero and its input passes
    # through unchanged: the skip connection every bundled network was trained with
    from vidstyle.models.transformer import ResidualBlock

    torch.manual_seed(0)
    block = ResidualBlock(8, 1, separable=separable).eval()
    with torch.no_grad():
        for p in block.conv2.parameters():
            p.zero_()
        x = torch.randn(2, 8, 12, 12)
        torch.testing.assert_close(block(x), x)


def test_light_full_net_is_light_net_with_full_residual_convolutions():
    full, light = light_full_net(), light_net()
    assert full.arch_args == {**light.arch_args, "separable": False}
    # five blocks of two 3x3 convolutions, 64 -> 64, instead of depthwise 3x3 + pointwise 1x1
    per_block = 2 * ((64 * 64 * 9 + 64) - (64 * 9 + 64 + 64 * 64 + 64))
    assert count_parameters(full) - count_parameters(light) == 5 * per_block


def _cell_phase_spread(y: torch.Tensor) -> float:
    """How much the mean of y differs between the four pixel positions of a 2x2 cell."""
    phases = torch.stack([y[..., i::2, j::2].mean() for i in (0, 1) for j in (0, 1)])
    return float(phases.max() - phases.min())


def test_upsample_head_shares_one_filter_across_each_2x2_cell():
    # Depth-to-space gives each of the four pixels of a 2x2 cell its own bias, so a flat input
    # comes out as a fixed grid; the upsampling head has one filter for all output pixels.
    torch.manual_seed(0)
    kw = dict(separable=True, kernel_in=3, kernel_out=3, shuffle=2)
    shuffle_head = TransformerNet((4, 8, 8), num_residual=1, **kw).eval()
    up_head = TransformerNet((4, 8, 8), num_residual=1, upsample_head=True, **kw).eval()
    with torch.no_grad():  # trained heads have biases; the 12 of depth-to-space differ per sub-pixel
        shuffle_head.head[-1].bias.copy_(torch.linspace(-0.5, 0.5, 12))
        up_head.head.conv[-1].bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    flat = torch.full((1, 3, 32, 32), 0.5)
    with torch.no_grad():
        assert _cell_phase_spread(shuffle_head(flat)) > 0.1
        assert _cell_phase_spread(up_head(flat)) < 1e-4
    assert up_head.arch_args["upsample_head"] is True and "upsample_head" not in shuffle_head.arch_args
    assert light_net().arch_args["upsample_head"] is True
    with pytest.raises(ValueError):
        TransformerNet((4, 8), upsample_head=True)  # needs the half-resolution (shuffle=2) body


@pytest.mark.parametrize("builder", [transformer_net, light_net, lambda: light_net(num_styles=3), light_full_net,
                                     light_aa_net])
def test_folded_subpixel_network_computes_the_same_function(builder):
    torch.manual_seed(0)
    net = builder().eval().double()  # float64: the folds must be exact, not merely close in fp32
    for p in net.parameters():  # away from the identity start, so every layer matters
        p.data.add_(torch.randn_like(p) * 0.1)
    folded = fold_for_inference(copy.deepcopy(net))
    assert not any(isinstance(m, UpsampleConv) for m in folded.modules())
    # the standard network upsamples twice in its decoder; the light one also in its head
    expected = 2 if builder is transformer_net else 3
    assert sum(isinstance(m, SubpixelUpsampleConv) for m in folded.modules()) == expected
    # the standard network's 9x9 head with 3 output channels runs at half resolution
    assert isinstance(folded.head, SpaceToDepthConv) == (builder is transformer_net)
    twice = fold_for_inference(copy.deepcopy(folded))  # idempotent: nothing left to fold
    assert twice.state_dict().keys() == folded.state_dict().keys()
    x = torch.rand(2, 3, 40, 56, dtype=torch.float64)  # border pixels included: the paddings must match
    with torch.no_grad():
        ref, out = net(x), folded(x)
        assert torch.equal(twice(x), out)
        out_cl = folded.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-12), float((out - ref).abs().max())
    assert torch.allclose(out_cl, ref, atol=1e-12), float((out_cl - ref).abs().max())
    # the channel-major form ONNX export uses (pixel_shuffle) computes it too
    for layer in folded.modules():
        if isinstance(layer, SubpixelUpsampleConv):
            assert layer.to_channel_major() is layer and not layer.phase_major
    with torch.no_grad():
        assert torch.allclose(folded.to(memory_format=torch.contiguous_format)(x), ref, atol=1e-12)


@pytest.mark.parametrize("r, channels", [(2, 3), (2, 5), (4, 3)])
def test_the_exported_forms_of_pixel_unshuffle_and_pixel_shuffle_give_the_same_numbers(monkeypatch, r, channels):
    x = torch.randn(2, channels, 4 * r, 6 * r)
    y = torch.randn(2, channels * r * r, 5, 3)
    plain = space_to_depth(x, r, channels), depth_to_space(y, r, channels)
    assert torch.equal(plain[0], F.pixel_unshuffle(x, r)) and torch.equal(plain[1], F.pixel_shuffle(y, r))
    # what an ONNX export traces: a one-hot (transposed) convolution, each output one input times 1
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
    exported = space_to_depth(x, r, channels), depth_to_space(y, r, channels)
    assert torch.equal(exported[0], plain[0]) and torch.equal(exported[1], plain[1])
    with pytest.raises(ValueError):
        space_to_depth(x, r, channels + 1)
    with pytest.raises(ValueError):
        depth_to_space(y, r, channels + 1)


@pytest.mark.parametrize("kernel, cout", [(9, 3), (5, 2), (7, 4)])
def test_space_to_depth_conv_of_one_layer_and_its_limits(kernel, cout):
    torch.manual_seed(2)
    layer = ConvLayer(6, cout, kernel).double().eval()
    x = torch.randn(2, 6, 10, 14, dtype=torch.float64)
    folded = SpaceToDepthConv(layer)
    with torch.no_grad():
        assert torch.allclose(folded(x), layer(x), atol=1e-12)
        # the channel-major form ONNX export uses (pixel_unshuffle / pixel_shuffle) computes it too
        assert folded.to_channel_major() is folded and not folded.phase_major
        assert torch.allclose(folded(x), layer(x), atol=1e-12)
    with pytest.raises(ValueError):
        SpaceToDepthConv(ConvLayer(6, cout, kernel, stride=2))
    with pytest.raises(ValueError):
        SpaceToDepthConv(ConvLayer(6, cout, 4))
    # an odd-sized network (size multiple 1) keeps its head: the half-resolution form needs even sides
    odd_net = TransformerNet((4,), num_residual=1)
    assert isinstance(fold_for_inference(odd_net).head, ConvLayer)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_subpixel_fold_of_one_layer_and_its_limits(mode):
    torch.manual_seed(1)
    layer = UpsampleConv(5, 7, mode=mode).eval()
    x = torch.randn(1, 5, 6, 9)
    with torch.no_grad():
        assert torch.allclose(SubpixelUpsampleConv(layer)(x), layer(x), atol=1e-5)
    with pytest.raises(ValueError):
        UpsampleConv(5, 7, mode="bicubic")
    with pytest.raises(ValueError):
        SubpixelUpsampleConv(UpsampleConv(5, 7, kernel=5))
    net = light_net()
    Stylizer.from_model(net, device="cpu", precision="fp32", backend="torch")
    assert isinstance(net.head, UpsampleConv)  # the caller's network is not folded


def test_binomial_blur_keeps_flat_images_and_the_mean_and_checks_channels():
    blur = BinomialBlur(2)
    flat = torch.full((1, 2, 5, 7), 0.3)
    assert torch.allclose(blur(flat), flat)
    x = torch.rand(1, 2, 6, 8)
    y = blur(x)
    assert y.shape == x.shape and float(y.std()) < float(x.std())  # a low-pass
    checker = (torch.arange(8)[None, :] + torch.arange(6)[:, None]) % 2  # the highest frequency
    assert float(blur(checker.float().expand(1, 2, 6, 8))[..., 1:-1, 1:-1].std()) < 1e-6
    assert "kernel" not in blur.state_dict()  # fixed by the architecture, not stored in weights files
    with pytest.raises(ValueError):
        blur(torch.rand(1, 3, 4, 4))


def _shift_error(net: TransformerNet, x: torch.Tensor, shift: int, margin: int) -> float:
    """Mean squared difference between the output for the input moved by ``shift`` pixels and the
    output moved by ``shift`` (interior only: the borders see different padding)."""
    with torch.no_grad():
        a = net(x[..., :-8, :-8])
        b = net(x[..., shift:shift + x.shape[-2] - 8, shift:shift + x.shape[-1] - 8])
    a = a[..., margin + shift:-margin, margin + shift:-margin]
    b = b[..., margin:-margin - shift, margin:-margin - shift]
    return float((a - b).pow(2).mean())


def test_the_antialiased_light_network_follows_the_picture_between_grid_steps():
    # A stride-8 network is exactly shift-equivariant for moves of 8 pixels; for other moves the
    # plain light network's output changes (aliasing), which is flicker when the camera pans.
    torch.manual_seed(3)
    # larger than the receptive field (about 100 pixels each way), so the compared middle never
    # sees the border's padding
    x = torch.nn.functional.interpolate(torch.rand(1, 3, 40, 40), size=(328, 328), mode="bilinear")
    x = (x + 0.05 * torch.rand(1, 3, 328, 328)).clamp(0, 1).double()
    errors = {}
    for builder in (light_net, light_aa_net):
        torch.manual_seed(0)
        net = builder().double().eval()
        net.residual = False  # the network's own part, without the photo added back
        # instance norms see the whole frame, which the two crops differ in; the sampling that
        # antialias changes is in the convolutions and resamplings, so they are what is compared
        for name, module in list(net.named_modules()):
            for child_name, child in list(module.named_children()):
                if isinstance(child, torch.nn.InstanceNorm2d):
                    setattr(module, child_name, torch.nn.Identity())
        with torch.no_grad():
            variance = float(net(x).var())
        errors[builder.__name__] = {s: _shift_error(net, x, s, margin=110) / variance for s in (1, 4, 8)}
    for e in errors.values():
        assert e[8] < 1e-20  # a whole grid step moves the output with the picture
    plain, aa = errors["light_net"], errors["light_aa_net"]
    assert plain[1] > 0.05 and plain[4] > 0.05  # other moves repaint it (0.15 and 0.36 of its variance)
    assert aa[1] < plain[1] / 20 and aa[4] < plain[4] / 20, errors  # about 200x and 80x less
    assert light_aa_net().arch_args["antialias"] is True and "antialias" not in light_net().arch_args


def test_roundtrip_keeps_weights_and_metadata(tmp_path):
    net = tiny(2)
    path = tmp_path / "m.safetensors"
    styles = [{"name": "a", "painting": "P", "artist": "X", "year": "1900"}, {"name": "b"}]
    mask = os.umask(0o022)
    try:
        save_model(path, net, styles, train_command="vidstyle train ...", metrics={"k": 1})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others, like any file the user writes
    loaded, info = load_model(path)
    assert info.style_names == ["a", "b"] and info.train_command == "vidstyle train ..."
    assert info.arch_args == net.arch_args and info.metrics == {"k": 1}
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    # a description per style, each named: a file listing other styles than its network holds
    # could not be loaded again, so none is written
    for wrong in (styles[:1], styles + [{"name": "c"}], [styles[0], {"painting": "P"}]):
        with pytest.raises(ValueError, match="style descriptions for a 2-style network|every style needs a name"):
            save_model(tmp_path / "w.safetensors", net, wrong)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_a_file_from_before_the_crops_option_says_how_it_trained_in_its_own_command_only(tmp_path):
    """A weights file written before ``vidstyle train --crops`` trained on the whole side: its
    recorded settings say so, and so does its command where it is vidstyle's (so that it still
    reproduces the file); another program's command (a benchmark script's) is left as written."""
    config = {"styles": ["a.jpg"], "content": "photos", "out": "m.safetensors", "steps": 3}
    script = "python benchmarks/train_light.py --steps 3"
    for command, shown in (("vidstyle train --style a.jpg --steps 3", "vidstyle train --style a.jpg --steps 3 "
                                                                      "--crops whole-side"), (script, script)):
        path = tmp_path / "old.safetensors"
        save_model(path, tiny(), [{"name": "s"}], train_command=command, train_config=config)
        info = read_info(path)
        assert info.train_command == shown and info.train_config["crops"] == "whole-side"
        assert info.train_config["steps"] == 3 and info.train_config["temporal_objects"] == 0.0
    # a record that names its crops keeps them
    save_model(path, tiny(), [{"name": "s"}], train_command="vidstyle train --style a.jpg",
               train_config={**config, "crops": "zoom"})
    info = read_info(path)
    assert info.train_config["crops"] == "zoom" and info.train_command == "vidstyle train --style a.jpg"


def test_half_precision_files_keep_weights_fp16_cannot_hold_in_fp32(tmp_path, caplog):
    import logging

    net = tiny()
    save_model(tmp_path / "h.safetensors", net, [{"name": "s"}], half=True)
    loaded, _ = load_model(tmp_path / "h.safetensors")
    assert all(torch.equal(loaded.state_dict()[k], v.half().float()) for k, v in net.state_dict().items()
               if v.is_floating_point())
    with torch.no_grad():  # beyond fp16's 65504: stored as fp16 it was inf, a network that paints NaN
        next(p for n, p in net.named_parameters() if n.endswith("weight")).view(-1)[0] = 1e6
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        save_model(tmp_path / "w.safetensors", net, [{"name": "s"}], half=True)
    assert "does not fit in fp16; the file keeps fp32 weights" in caplog.text
    loaded, _ = load_model(tmp_path / "w.safetensors")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in net.state_dict().items())


def test_corrupt_foreign_and_mismatched_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(VidstyleError, match="not a valid safetensors"):
        read_info(bad)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(VidstyleError, match="not a vidstyle model"):
        read_info(foreign)
    with pytest.raises(VidstyleError, match="not found"):
        read_info(tmp_path / "missing.safetensors")
    # right header, wrong tensor shape
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    tensors = load_file(str(good))
    from safetensors import safe_open
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    key = next(k for k in tensors if k.endswith("weight") and tensors[k].ndim == 4)
    tensors[key] = torch.zeros(*tensors[key].shape[:-1], tensors[key].shape[-1] + 1)
    wrong = tmp_path / "wrong.safetensors"
    save_file(tensors, str(wrong), metadata=meta)
    with pytest.raises(VidstyleError, match="has shape"):
        load_model(wrong)
    meta["arch_args"] = json.dumps({"channels": [4, 8, 8], "bogus": 1})
    save_file(load_file(str(good)), str(wrong), metadata=meta)
    with pytest.raises(VidstyleError, match="architecture arguments"):
        load_model(wrong)


def test_a_model_file_cut_short_is_said_to_be(tmp_path):
    # `vidstyle styles` on a truncated copy had called it "not a valid safetensors model file (Error while
    # deserializing header: invalid header length)"
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    data = good.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for keep in (header_end - 10, len(data) - 10):  # inside the header, inside the weights
        cut = tmp_path / f"cut{keep}.safetensors"
        cut.write_bytes(data[:keep])
        with pytest.raises(VidstyleError, match=rf"cut{keep}.safetensors is cut short \({keep} bytes"):
            read_info(cut)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"not a model at all")
    with pytest.raises(VidstyleError, match="not a valid safetensors model file"):
        read_info(other)


def test_a_model_file_with_weights_that_are_not_numbers_is_refused(tmp_path):
    """A NaN written over a bias (a damaged copy) loaded without a word and painted every frame
    black, with exit status 0 (review, 44th session)."""
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}], half=True)
    state = load_file(str(good))
    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    for bad in (float("nan"), float("inf")):
        damaged = dict(state)
        damaged[name] = damaged[name].clone()
        damaged[name].view(-1)[0] = bad
        path = tmp_path / "damaged.safetensors"
        save_file(damaged, str(path), metadata=meta)
        with pytest.raises(VidstyleError, match=rf"damaged.safetensors holds weights that are not finite numbers "
                                                rf"\({re.escape(name)}\): a damaged file"):
            load_model(path)
    load_model(good)


@pytest.mark.parametrize("key, value, message", [
    ("styles", "5", "styles is not a list"),
    ("styles", '["a"]', "styles holds an entry without a name"),
    ("arch_args", "[1]", "arch_args is list"),
    ("metrics", "[1, 2]", "metrics is list"),
    ("train_config", '"x"', "train_config is str"),
])
def test_a_header_of_valid_json_but_the_wrong_kinds_is_a_clear_error(tmp_path, key, value, message):
    # an edited or foreign header: `vidstyle styles` had ended in "TypeError: object of type 'int' has no len()"
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    from safetensors import safe_open
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    meta[key] = value
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    with pytest.raises(VidstyleError, match=f"corrupt vidstyle header \\({message}"):
        read_info(bad)


def test_impossible_architecture_arguments_are_a_clear_error(tmp_path):
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    from safetensors import safe_open
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    meta["arch_args"] = json.dumps({**json.loads(meta["arch_args"]), "channels": [-1, 8, 8]})
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    with pytest.raises(VidstyleError, match="architecture arguments"):
        load_model(bad)


@pytest.mark.parametrize("args", [{"num_residual": 10 ** 6}, {"channels": [4] * 10 ** 6}])
def test_a_header_asking_for_more_layers_than_the_file_has_tensors_is_refused_unbuilt(tmp_path, monkeypatch, args):
    # a million residual blocks (or convolutions) built even on the meta device took minutes
    # (past 5 at 100000) and memory without end, before the file's 30 tensors were compared
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    from safetensors import safe_open
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    meta["arch_args"] = json.dumps({**json.loads(meta["arch_args"]), **args})
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    from vidstyle.models import transformer

    def built(**kw):
        raise AssertionError(f"built a network of {kw}")

    monkeypatch.setitem(transformer.ARCHITECTURES, "transformer", built)
    with pytest.raises(VidstyleError, match="weights do not match the architecture"):
        load_model(bad)


def test_a_header_with_a_list_of_residual_blocks_is_a_clear_error(tmp_path):
    # num_residual as a list (an edited or foreign header) reached the layer count's comparison:
    # "TypeError: '>' not supported between instances of 'list' and 'int'"
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    from safetensors import safe_open
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    meta["arch_args"] = json.dumps({**json.loads(meta["arch_args"]), "num_residual": [2, 2]})
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    with pytest.raises(VidstyleError, match="architecture arguments"):
        load_model(bad)


def test_style_mix_blends_conditional_instance_norm(tmp_path):
    torch.manual_seed(0)
    net = tiny(2)
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "style_mix"):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    path = tmp_path / "multi.safetensors"
    save_model(path, net, [{"name": "a"}, {"name": "b"}])
    choice = resolve_style(f"{path}:a=3,b=1")
    # labelled as it would be written again (mix: names the bundled network only)
    assert choice.mix == pytest.approx((0.75, 0.25)) and choice.label == f"{path}:a=0.75,b=0.25"
    assert resolve_style("mix:starry_night=0.7,the_scream=0.3").label == "mix:starry_night=0.7,the_scream=0.3"
    img = (np.random.default_rng(0).random((32, 48, 3)) * 255).astype(np.uint8)
    outs = {}
    for spec in ("a=1", "b=1", "a=1,b=1"):
        st = Stylizer(f"{path}:{spec}", device="cpu", backend="torch")
        outs[spec] = st.stylize(img).astype(int)
    assert (outs["a=1"] != outs["b=1"]).any()
    assert (outs["a=1,b=1"] != outs["a=1"]).any() and (outs["a=1,b=1"] != outs["b=1"]).any()
    with pytest.raises(VidstyleError, match="has no style 'c'"):
        resolve_style(f"{path}:c=1")
    with pytest.raises(VidstyleError, match="no bundled multi-style network"):
        resolve_style("mix:starry_night=0.5,nosuch=0.5")


def _two_style_net():
    torch.manual_seed(0)
    net = tiny(2).eval()
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "style_mix"):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


def test_a_mix_per_sample_paints_each_sample_in_its_own_style():
    # training sets a (B, num_styles) mix: each sample of the batch must get its own style's
    # affine parameters, as if it ran alone with that style
    net = _two_style_net()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        net.set_style(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        both = net(x)
        alone = []
        for i, mix in enumerate(([0.0, 1.0], [1.0, 0.0])):
            net.set_style(mix)
            alone.append(net(x[i:i + 1]))
    torch.testing.assert_close(both, torch.cat(alone), rtol=1e-4, atol=1e-5)


def test_set_style_normalises_the_mix_to_sum_one():
    # a mix of weights 1 and 1 is half of each style, not twice their affine parameters
    net = _two_style_net()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        net.set_style([1.0, 1.0])
        assert net.painted_mix == pytest.approx((0.5, 0.5))
        unnormalised = net(x)
        net.set_style([0.5, 0.5])
        torch.testing.assert_close(unnormalised, net(x))


def test_parse_mix_and_bad_specs():
    assert parse_mix("a=0.7, b=0.3") == {"a": 0.7, "b": 0.3}
    assert parse_mix("a") == {"a": 1.0}
    for bad, message in (("a=x", "expected name=number"), ("a=-1", "non-negative"), ("", "empty style mix"),
                         ("a=0,b=0", "only zero weights"), ("a=nan", "non-negative numbers"),
                         ("a=inf,b=1", "non-negative numbers"), ("a=1e309", "non-negative numbers"),
                         ("a=0.5,a=0.5", "appears twice")):
        with pytest.raises(VidstyleError, match=message):
            parse_mix(bad)
    with pytest.raises(VidstyleError, match="unknown style"):
        resolve_style("definitely_not_a_style")
    for wrong in (None, 123):  # not "unknown style 'None'" and the whole list
        with pytest.raises(TypeError, match="a style is a bundled style's name, a .safetensors path"):
            resolve_style(wrong)


def test_a_mix_that_would_paint_black_frames_is_refused_everywhere(tmp_path):
    # NaN, infinite, negative or all-zero weights normalise to NaN or garbage: black frames, exit 0
    path = tmp_path / "multi.safetensors"
    save_model(path, tiny(2), [{"name": "a"}, {"name": "b"}])
    st = Stylizer(f"{path}:a=1", device="cpu", backend="torch")
    for bad in ({"a": float("nan")}, {"a": -1.0, "b": 2.0}, {"a": float("inf")}, {"a": 0.0, "b": 0.0}):
        with pytest.raises(VidstyleError, match="non-negative|only zero"):
            st.set_mix(bad)
    with pytest.raises(VidstyleError, match="non-negative numbers, got a=nan"):
        st.set_mix([float("nan"), 1.0])
    with pytest.raises(ValueError):
        tiny(2).set_style(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))  # one sample of a training batch with no style
    st.set_mix({"a": 0.0, "b": 2.0})  # still usable after the refusals, with the mix given last
    img = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    assert np.array_equal(st.stylize(img), Stylizer(f"{path}:b=1", device="cpu", backend="torch").stylize(img))


@pytest.mark.parametrize("size", [(359, 641), (1, 1), (5, 3), (64, 64)])
def test_padding_reflects_to_the_multiple_and_crops_back(size):
    x = torch.rand(1, 3, *size)
    padded, orig = pad_to_multiple(x, 8)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert torch.equal(crop_to(padded, orig), x)


def test_the_cpu_conversions_are_torchs_ops_bit_for_bit():
    # on the CPU numpy converts, pads and clamps (no OpenMP region: vidstyle.frames): the same
    # values and memory layout as torch's ops, so the same network input and output to the bit
    from vidstyle.frames import clamp_levels_, uint8_to_float

    levels = torch.arange(256, dtype=torch.uint8).view(1, 16, 16, 1).expand(2, 16, 16, 3).contiguous()
    want = levels.permute(0, 3, 1, 2).float().div_(255.0)
    got = uint8_to_float(levels)
    assert got.stride() == want.stride() and torch.equal(got.view(torch.int32), want.view(torch.int32))
    gen = torch.Generator().manual_seed(0)
    nchw = torch.rand(2, 3, 61, 97, generator=gen)
    for x in (nchw, nchw.contiguous(memory_format=torch.channels_last), nchw[:1, :, :3, :5],  # (replicate)
              nchw[..., :60, :90], nchw.contiguous(memory_format=torch.channels_last)[..., 1:, 2:],
              uint8_to_float(levels[:, :1, :1].contiguous())):  # a 1x1 frame: both layouts at once
        for multiple, minimum in ((8, 0), (4, 16)):
            padded, _ = pad_to_multiple(x, multiple, minimum)
            mode = "replicate" if padded.shape[-2] >= 2 * x.shape[-2] or padded.shape[-1] >= 2 * x.shape[-1] else "reflect"
            want = F.pad(x, (0, padded.shape[-1] - x.shape[-1], 0, padded.shape[-2] - x.shape[-2]), mode=mode)
            assert padded.stride() == want.stride() and torch.equal(padded, want), (x.shape, x.stride(), multiple)
    odd = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, -1e-9, 0.5, 1.0000001, 3.0])
    want = odd.clone().clamp_(0.0, 1.0)
    got = odd[None].expand(2, -1).clone()[:, ::2]  # a strided view, clamped in place
    assert clamp_levels_(got) is got
    assert torch.equal(got.view(torch.int32), want[::2].expand(2, -1).view(torch.int32))


def test_padding_mirrors_the_frame_not_black():
    # reflection, not zeros: a black margin would be painted as a dark seam along the crop
    x = (torch.arange(5.0).view(5, 1) * 10 + torch.arange(1.0, 6.0))[None, None]  # 10 * row + column + 1
    padded, _ = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (8, 8)
    assert padded[0, 0, 0].tolist() == [1, 2, 3, 4, 5, 4, 3, 2]  # mirrored about the last column
    assert padded[0, 0, :, 0].tolist() == [1, 11, 21, 31, 41, 31, 21, 11]  # and about the last row


def test_tensor_to_images_rounds_and_clamps():
    # to the nearest level, not truncated: truncation darkens every frame by half a level on average
    levels = torch.tensor([-0.2, 0.0, 0.4, 0.6, 127.5, 254.4, 254.6, 255.0, 300.0]) / 255
    x = levels.view(1, 1, 1, -1).expand(1, 3, 2, -1)
    images = tensor_to_images(x)
    assert images.dtype == np.uint8 and images.shape == (1, 2, 9, 3)
    assert images[0, 0, :, 0].tolist() == [0, 0, 0, 1, 128, 254, 255, 255, 255]


def test_tensor_to_images_on_the_cpu_is_float_to_uint8_bit_for_bit_in_one_pass(monkeypatch):
    import vidstyle.frames as frames

    gen = torch.Generator().manual_seed(0)
    ties = (torch.arange(256.0) + 0.5) / 255  # the halves, where rounding must go to even as torch's
    near = torch.cat([ties, torch.nextafter(ties, ties + 1), torch.nextafter(ties, ties - 1)])
    base = torch.cat([near, torch.rand(2 * 3 * 12 * 40 - near.numel(), generator=gen) * 1.2 - 0.1])
    nchw = base[torch.randperm(base.numel(), generator=gen)].view(2, 3, 12, 40)
    cases = {"nchw": nchw, "channels_last": nchw.contiguous(memory_format=torch.channels_last),
             "cropped": nchw[..., :5, :7], "cropped channels_last": nchw.contiguous(memory_format=torch.channels_last)[..., 1:, 2:],
             "bf16": nchw.bfloat16(), "transposed": nchw.transpose(2, 3), "expanded": nchw[:1, :1].expand(2, 3, 12, 40),
             # 1x1 frames: OpenCV took a 1x1 plane for a scalar (cv2.multiply gave 4x1), and the
             # frame came back as np.empty's leftover bytes
             "1x1": nchw[:, :, :1, :1].contiguous(), "1x1 cropped": nchw[:, :, 5:6, 7:8],
             "nan and inf": torch.where(nchw > 0.9, float("nan"), torch.where(nchw < 0, float("-inf"), nchw)),
             "inf": torch.where(nchw > 1, float("inf"), torch.where(nchw < 0, float("-inf"), nchw))}
    want = {name: frames.float_to_uint8(x).numpy() for name, x in cases.items()}
    calls = []
    monkeypatch.setattr(frames, "float_to_uint8", lambda x: calls.append(x) or _fail("float_to_uint8 was called"))
    for name in ("nchw", "channels_last", "cropped", "cropped channels_last", "expanded", "inf"):
        assert np.array_equal(tensor_to_images(cases[name]), want[name]), name
    assert not calls  # the network's outputs (ONNX Runtime's NCHW, PyTorch's channels_last): OpenCV, one pass
    monkeypatch.undo()
    for name, x in cases.items():
        got = tensor_to_images(x)
        assert got.dtype == np.uint8 and got.flags.c_contiguous and np.array_equal(got, want[name]), name


def _fail(message):
    raise AssertionError(message)


def test_a_frame_as_small_as_its_padding_is_padded_with_its_edge():
    """Reflection needs a padding smaller than the side: 4 rows padded by 4 to 8 repeat the last
    row, on numpy's path (float32 CPU frames, either layout) and torch's (a GPU's, here float64),
    where a reflection that long fails (mutation testing, 59th session: "ph > h" for "ph >= h"
    passed every test, a 4-row frame reflected on the CPU and refused on a GPU)."""
    x = torch.rand(1, 3, 4, 6, generator=torch.Generator().manual_seed(0))
    for frame in (x, x.contiguous(memory_format=torch.channels_last), x.double()):
        padded, size = pad_to_multiple(frame, 8)
        assert size == (4, 6) and torch.equal(padded, F.pad(frame, (0, 2, 0, 4), mode="replicate")), frame.dtype
        assert torch.equal(padded[..., 4:, :], padded[..., 3:4, :].expand(-1, -1, 4, -1))  # the last row again


def test_padding_reaches_the_minimum_size():
    x = torch.rand(1, 3, 3, 21)
    padded, orig = pad_to_multiple(x, 8, minimum=16)
    assert padded.shape[-2:] == (16, 24) and torch.equal(crop_to(padded, orig), x)


@pytest.mark.parametrize("builder", [transformer_net, light_net])
@pytest.mark.parametrize("size", [(1, 1), (4, 6), (8, 12), (15, 17)])
def test_frames_smaller_than_the_networks_receptive_field_are_stylized(builder, size):
    # the lowest resolution of the light network is 1/8: without the minimum, an 8-pixel frame is
    # 1 pixel there and its reflection padding fails
    st = Stylizer.from_model(builder().eval(), device="cpu", backend="torch")
    img = (np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)
    out = st.stylize(img)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_a_padded_frame_is_the_networks_output_cropped_not_squeezed_back():
    # a frame whose sides are no multiple of the network's is padded on the bottom and right; the
    # output must be that padding cut off again, pixel for pixel where the frame was (resizing the
    # padded output down to the frame would shift and blur every pixel)
    model = tiny().eval()
    st = Stylizer.from_model(model, device="cpu", backend="torch", precision="fp32")
    x = torch.rand(1, 3, 37, 53)
    padded, size = pad_to_multiple(x, model.size_multiple, model.min_input_size)
    assert padded.shape[-2:] != x.shape[-2:]
    with torch.inference_mode():
        expected = crop_to(model(padded), size).clamp(0, 1)
        got = st.stylize_tensor(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_odd_sized_frames_and_max_side_keep_the_frame_size():
    st = Stylizer.from_model(tiny(), device="cpu", backend="torch", max_side=100)
    img = np.zeros((359, 641, 3), np.uint8)
    assert st.stylize(img).shape == (359, 641, 3)
    assert working_size(359, 641, max_side=100) == (56, 100)
    assert working_size(360, 640, scale=0.5) == (180, 320)


def test_usable_cores_keep_to_a_containers_cpu_quota(tmp_path, monkeypatch):
    import vidstyle.device as device

    quota = tmp_path / "cpu.max"
    for line, expected in (("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000\n", 2),
                           ("50000 100000\n", 1), ("garbage\n", None)):
        quota.write_text(line)
        assert device.cgroup_cpu_limit(str(quota)) == expected, line
    assert device.cgroup_cpu_limit(str(tmp_path / "absent")) is None
    mask = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.setattr(device, "cgroup_cpu_limit", lambda: 1)
    assert device.usable_cores() == 1  # docker --cpus 1 on a machine of any size
    monkeypatch.setattr(device, "cgroup_cpu_limit", lambda: None)
    assert device.usable_cores() == mask


def test_usable_memory_is_the_machines_or_a_smaller_container_limit():
    """What train and eval --long-term measure their need against, and how their errors say it."""
    from vidstyle.device import usable_memory

    gib = 2 ** 30
    assert usable_memory(64 * gib, 4 * gib) == (4 * gib, "this container may use")
    assert usable_memory(4 * gib, 64 * gib) == (4 * gib, "this machine has")  # a limit above the machine's
    assert usable_memory(4 * gib, None) == (4 * gib, "this machine has")
    # a system that does not say its memory: the container's limit still holds (no comparison
    # with None), and with neither, nothing to check against
    assert usable_memory(None, 4 * gib) == (4 * gib, "this container may use")
    assert usable_memory(None, None) == (None, "this machine has")


def test_bf16_on_mps_is_refused_where_autocast_would_run_fp32(monkeypatch):
    """torch's autocast runs bf16 on Apple MPS only from torch 2.6 on macOS 14 or newer; elsewhere
    it warned and ran fp32 while the summary said bf16. Refused there, in one line."""
    mps = torch.device("mps")
    monkeypatch.setattr(torch, "__version__", "2.6.0")
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: (major, minor) <= (14, 0),
                        raising=False)
    assert resolve_precision("bf16", mps, inference=True) is torch.bfloat16  # macOS 14, torch 2.6: as asked
    refused = ("^bf16 on Apple MPS needs macOS 14 or newer and torch 2.6 or newer \\(this is torch {}\\): it would "
               "run in fp32 here; use --precision fp16 or fp32$")
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: (major, minor) <= (13, 6))
    with pytest.raises(VidstyleError, match=refused.format("2\\.6\\.0")):  # macOS 13
        resolve_precision("bf16", mps, inference=True)
    with pytest.raises(VidstyleError, match="bf16 on Apple MPS needs"):
        resolve_precision("bf16", mps)  # training as well
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: True)
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    with pytest.raises(VidstyleError, match=refused.format("2\\.5\\.1")):  # torch 2.5 autocasts fp16 only there
        resolve_precision("bf16", mps, inference=True)
    monkeypatch.setattr(torch, "__version__", "2.6.0")
    monkeypatch.delattr(torch.backends.mps, "is_macos_or_newer")  # cannot tell: refused
    with pytest.raises(VidstyleError, match="bf16 on Apple MPS needs"):
        resolve_precision("bf16", mps, inference=True)
    assert resolve_precision("fp16", mps) is torch.float16 and resolve_precision("auto", mps, inference=True) is None
    assert resolve_precision("bf16", torch.device("cpu"), warn=False) is torch.bfloat16  # the CPU's bf16 unchanged


def test_device_and_precision_choice(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    # auto prefers CUDA, then MPS, then the CPU
    for cuda, mps, expected in ((True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")):
        with monkeypatch.context() as m:
            m.setattr(torch.cuda, "is_available", lambda: cuda)
            m.setattr(torch.backends.mps, "is_available", lambda: mps)
            assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(VidstyleError, match="CUDA is not available"):
            resolve_device("cuda:0")
    with pytest.raises(VidstyleError):
        resolve_device("tpu")
    with monkeypatch.context() as m:  # a Mac, as far as the choice goes
        m.setattr(torch.cuda, "is_available", lambda: False)
        m.setattr(torch.backends.mps, "is_available", lambda: True)
        assert resolve_device("mps") == resolve_device("auto") == torch.device("mps")
        assert resolve_device("mps:0") == torch.device("mps:0")
        with pytest.raises(VidstyleError, match="'mps:1' requested but Apple MPS is one device: use mps"):
            resolve_device("mps:1")  # was taken as it was
        mps = torch.device("mps")
        assert resolve_precision("auto", mps, inference=True) is None  # fp32: fp16 is asked for by name
        assert resolve_precision("fp16", mps) is torch.float16
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) is None and resolve_precision("bf16", cpu) is torch.bfloat16
    with pytest.raises(VidstyleError):
        resolve_precision("fp16", cpu)


def test_keep_freed_memory_is_once_per_process_and_can_be_switched_off(monkeypatch):
    import sys

    import vidstyle.memory as memory

    monkeypatch.setattr(memory, "_allocator_tuned", None)
    monkeypatch.setenv("VIDSTYLE_KEEP_FREED_MEMORY", "0")
    assert memory.keep_freed_memory() is False
    monkeypatch.setattr(memory, "_allocator_tuned", None)
    monkeypatch.delenv("VIDSTYLE_KEEP_FREED_MEMORY")
    calls = []
    real_cdll = memory.ctypes.CDLL

    def counting_cdll(*args, **kwargs):
        calls.append(args)
        return real_cdll(*args, **kwargs)

    monkeypatch.setattr(memory.ctypes, "CDLL", counting_cdll)
    glibc = sys.platform.startswith("linux") and hasattr(real_cdll(None), "mallopt")
    assert memory.keep_freed_memory() is glibc and memory.keep_freed_memory() is glibc
    assert len(calls) == (1 if sys.platform.startswith("linux") else 0)  # asked once, remembered


def test_the_library_leaves_the_allocator_alone_unless_asked():
    # process-wide: memory freed by anything in a program that uses the library would stay with
    # it (review, 36th session); the command line opts in, a program with keep_freed_memory()
    import subprocess
    import sys

    code = ("import numpy as np, vidstyle, vidstyle.memory as m\n"
            "s = vidstyle.Stylizer('light_mondrian', device='cpu')\n"
            "s.stylize(np.zeros((32, 48, 3), np.uint8))\n"
            "print(m._allocator_tuned)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"


def test_stylizer_refuses_what_it_cannot_stylize():
    torch.manual_seed(0)
    st = Stylizer.from_model(TransformerNet((8, 16, 16), num_residual=1).eval(), device="cpu", channels_last=False)
    frame = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    # float frames would become black int8 calibration frames; one array is one frame, not H frames
    for bad, match in (([frame / 255.0], "scale float images"), (frame, "sequence of"), ([frame[..., 0]], "RGB"),
                       ([], "at least one frame")):
        with pytest.raises(ValueError, match=match):
            st.calibrate(bad)
    for bad in (np.zeros((0, 10, 3), np.uint8), np.zeros((10, 0, 3), np.uint8)):
        with pytest.raises(ValueError, match="empty"):
            st.stylize(bad)
    with pytest.raises(ValueError, match="no images"):
        st.stylize_batch([])
    for size, error in ((0, ValueError), (-2, ValueError), (2.0, TypeError), ("2", TypeError), (True, TypeError)):
        with pytest.raises(error, match="batch_size"):  # (a wrong kind is a TypeError, as every setting's)
            next(st.stylize_iter(iter([frame]), batch_size=size))
    # frames that change size along the stream: each batch is one size
    small = frame[:16, :20].copy()
    out = list(st.stylize_iter([frame, frame, small, frame], batch_size=3))
    assert [o.shape for o in out] == [frame.shape, frame.shape, small.shape, frame.shape]
    np.testing.assert_array_equal(out[2], st.stylize(small))
    # a single-style network takes a one-entry mix only
    st.set_mix([1.0])
    with pytest.raises(VidstyleError, match="1 entry"):
        st.set_mix([1.0, 2.0, 3.0])
    model = TransformerNet((8, 16, 16), num_residual=1).eval()
    for options, match in ((dict(max_side=0), "max_side"), (dict(max_side=-5), "max_side"),
                           (dict(scale=0.0), "scale"), (dict(scale=float("nan")), "scale"),
                           (dict(scale=float("inf")), "scale")):
        with pytest.raises(VidstyleError, match=match):
            Stylizer.from_model(model, device="cpu", **options)


def test_a_compiled_stylizer_builds_once_when_two_threads_start_it(monkeypatch):
    """The first call of a compile/int8 network builds per-shape state; concurrent first calls
    must take turns rather than race on it (counted with a stand-in for torch.compile)."""
    import threading
    import time

    calls = []

    def fake_compile(module, **_):
        def run(x):
            calls.append(threading.get_ident())
            time.sleep(0.05)  # wide enough for a race to show
            return module(x)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    torch.manual_seed(0)
    st = Stylizer.from_model(TransformerNet((8, 16, 16), num_residual=1).eval(), device="cpu", precision="fp32",
                             channels_last=False, backend="compile")
    frame = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    inside, worst = [0], [0]
    original = st._stylize_tensor

    def counting(x, contrast=None):
        inside[0] += 1
        worst[0] = max(worst[0], inside[0])
        try:
            return original(x, contrast)
        finally:
            inside[0] -= 1

    st._stylize_tensor = counting
    outs = [None, None]
    threads = [threading.Thread(target=lambda i=i: outs.__setitem__(i, st.stylize(frame))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert worst[0] == 1 and len(calls) == 2
    np.testing.assert_array_equal(outs[0], outs[1])


def test_frames_of_one_colour_stay_one_colour_in_low_precision():
    # bf16 rounds the sub-pixel layers' four phases differently; the instance norms would blow that
    # up into a fixed texture over black or flat frames (fp32 keeps them flat)
    ref = Stylizer("light_starry_night", precision="fp32", backend="torch")
    low = Stylizer("light_starry_night", precision="bf16", backend="torch")
    frames = np.zeros((3, 72, 104, 3), np.uint8)
    frames[1] = np.random.default_rng(0).integers(0, 256, (72, 104, 3))  # an ordinary frame between them
    frames[2] = (200, 30, 90)
    out, want = low.stylize_batch(frames), ref.stylize_batch(frames)
    for i in (0, 2):
        assert (out[i] == out[i, 0, 0]).all()  # one colour
        assert np.abs(out[i].astype(int) - want[i]).max() <= 1  # the fp32 network's colour
    assert np.abs(out[1].astype(float) - want[1]).mean() < 1.0  # the ordinary frame is the network's
    mix = Stylizer("mix:starry_night=1", precision="bf16", backend="torch")
    mix.set_mix("the_scream")  # the colour follows the mix
    scream = Stylizer("mix:the_scream=1", precision="fp32", backend="torch")
    flat = np.full((1, 40, 40, 3), 90, np.uint8)
    assert np.abs(mix.stylize_batch(flat).astype(int) - scream.stylize_batch(flat)).max() <= 1


def test_a_fade_to_black_fades_instead_of_staying_painted_until_the_last_frame():
    # instance norms paint a frame at 3% brightness as vividly as a normal one: below a contrast
    # threshold the output fades towards the output of the frame's mean colour
    from vidstyle.stylizer import LOW_CONTRAST, _luma_std

    st = Stylizer("light_starry_night", precision="fp32", backend="torch")
    rng = np.random.default_rng(1)
    picture = np.clip(rng.normal(128, 60, (1, 8, 12, 3)), 0, 255)
    picture = np.kron(picture, np.ones((1, 8, 8, 1)))  # 64x96, blocks: a contrasty picture
    levels = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.0]
    frames = np.concatenate([np.round(picture * k) for k in levels]).astype(np.uint8)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    contrast = _luma_std(x)
    assert contrast[0] > LOW_CONTRAST and contrast[-2] < LOW_CONTRAST / 2 and contrast[-1] == 0
    out = st.stylize_batch(frames).astype(float)
    with torch.inference_mode():
        raw = st._network_output(x)
    high = [i for i, c in enumerate(contrast.tolist()) if c >= LOW_CONTRAST]
    assert np.abs(out[high] - tensor_to_images(raw[high]).astype(float)).max() <= 1  # contrasty: the network's
    detail = [float(o.std(axis=(0, 1)).mean()) for o in out]  # how painted each output frame is
    assert all(a >= b - 0.5 for a, b in zip(detail[3:], detail[4:]))  # fades out with the input
    assert detail[-2] < 0.5 * detail[2] and detail[-1] == 0.0  # nearly flat, then flat
    assert detail[-2] < float(tensor_to_images(raw[-2:-1]).astype(float).std(axis=(1, 2)).mean())  # not full paint


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_faded_frame_mixes_its_flat_colour_and_the_networks_output_by_its_contrast(backend, monkeypatch):
    """Below LOW_CONTRAST a frame's output is its mean colour's flat output plus its contrast
    weight times the way to the network's (linear: a fade fades evenly), and a frame of no
    contrast is its flat colour, not run through the network. Mutation testing, 60th session:
    the flat frames run through the network with the others (its output then overwritten: the
    work of a frame for nothing, a black batch of a fade run in full), or the weight squared,
    passed every test. ONNX Runtime's path computes these in numpy (frames.host_view)."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    st = Stylizer.from_model(light_net(), device="cpu", precision="fp32", backend=backend)
    ran = []
    network_output = st._network_output
    monkeypatch.setattr(st, "_network_output", lambda x: ran.append(x.shape[0]) or network_output(x))
    gen = torch.Generator().manual_seed(0)
    x = torch.stack([torch.full((3, 24, 32), 1.0), torch.rand(3, 24, 32, generator=gen),
                     torch.tensor([0.8, 0.1, 0.3]).view(3, 1, 1).expand(3, 24, 32)])
    with torch.inference_mode():
        flats = [st._flat_colour(frame.mean(dim=(1, 2))).view(3, 1, 1) for frame in x]
        painted = network_output(x[1:2])[0]
        y = st._stylize_tensor(x, contrast=[0.0, 0.25, 0.0])
    assert ran == [1]  # the frame with contrast alone
    assert torch.equal(y[0], flats[0].expand(3, 24, 32)) and torch.equal(y[2], flats[2].expand(3, 24, 32))
    assert torch.allclose(y[1], flats[1] + 0.25 * (painted - flats[1]), atol=1e-6)
    assert (y[1] - flats[1]).abs().max() > 0.01  # (some of the network's output is in it)
    ran.clear()
    with torch.inference_mode():
        y = st._stylize_tensor(x[[0, 2]], contrast=[0.0, 0.0])
    assert ran == [] and torch.equal(y[1], flats[2].expand(3, 24, 32))


def test_a_torch_device_is_checked_like_its_name():
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(VidstyleError, match="CUDA is not available"):
            resolve_device(torch.device("cuda"))
    with pytest.raises(VidstyleError, match="device must be a name"):
        resolve_device(5)


def test_stylizer_api_refuses_mistyped_arguments_with_clear_errors():
    st = Stylizer("mix:starry_night=1", precision="fp32", backend="torch")
    with pytest.raises(ValueError, match="scale float images"):
        st.stylize(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(VidstyleError, match="one weight per style"):
        st.set_mix([[0, 1, 0, 0], [1, 0, 0, 0]])
    st.set_mix("the_scream")
    assert st.choice.label == "mix:the_scream=1"  # what it paints now (bare the_scream is another file)
    with pytest.raises(VidstyleError, match="precision must be a name"):
        Stylizer("light_starry_night", precision=32)
    with pytest.raises(VidstyleError, match="or int8 on the CPU"):
        Stylizer("light_starry_night", precision="fp64")
    onnx = pytest.importorskip("onnxruntime") and Stylizer("light_starry_night", backend="onnx")
    assert onnx.backend == "onnx" and onnx.precision == "fp32"  # asking for onnx picks its precision


def test_stylize_options_of_the_wrong_type_are_refused_in_one_line(tmp_path):
    import vidstyle
    from vidstyle.pipeline import _merge_options

    for bad in ({"crf": "20"}, {"batch": 2.5}, {"batch": True}, {"start": "0.5"}, {"temporal_strength": "1"},
                {"precision": 32}):
        with pytest.raises(VidstyleError, match=f"{next(iter(bad))} must be"):
            _merge_options(None, None, bad)
    config, encode = _merge_options(None, None, {"crf": np.int64(20), "scale": np.float32(0.5), "no_audio": True,
                                                 "device": torch.device("cpu"), "start": 1})
    assert encode.crf == 20 and not encode.audio and config.start == 1
    image = tmp_path / "p.png"
    from vidstyle.io.images import write_image
    write_image(image, np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(VidstyleError, match="still image: crf does not apply"):
        vidstyle.stylize_image(image, tmp_path / "o.png", style="light_starry_night", crf=20)
    with pytest.raises(TypeError, match=r"stylize_image\(\) got unknown"):
        vidstyle.stylize_image(image, tmp_path / "o.png", style="light_starry_night", colour=1)


def test_scale_and_the_networks_size_are_bounded():
    from vidstyle.stylizer import MAX_NETWORK_SIDE, MAX_SCALE

    with pytest.raises(VidstyleError, match=f"at most {MAX_SCALE}"):
        Stylizer.from_model(tiny(), device="cpu", backend="torch", scale=100)
    st = Stylizer.from_model(tiny(), device="cpu", backend="torch", scale=MAX_SCALE)
    wide = np.random.default_rng(0).integers(0, 256, (8, MAX_NETWORK_SIDE // MAX_SCALE + 1, 3), np.uint8)
    with pytest.raises(VidstyleError, match=f"at most {MAX_NETWORK_SIDE} pixels a side"):
        st.stylize(wide)  # refused before the upscaled copy is allocated


def test_the_contrast_measure_does_not_alias_fine_patterns_or_tiny_frames():
    # every 4th pixel each way read 1-px stripes, a 1-px checkerboard, 2-on/2-off stripes and the
    # 4x4 grid of a 3x3 image as one colour: "low contrast", so the output came out flat
    from vidstyle.stylizer import LOW_CONTRAST, LUMA_SAMPLES, _luma_std

    h, w = 64, 96
    stripes = np.zeros((h, w, 3), np.uint8)
    stripes[:, 1::2] = 255
    checker = np.repeat(((np.indices((h, w)).sum(0) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    wide = np.zeros((h, w, 3), np.uint8)
    wide[:, 2::4] = 255
    wide[:, 3::4] = 255
    tiny_frame = np.random.default_rng(0).integers(0, 256, (3, 3, 3), dtype=np.uint8)
    st = Stylizer("light_starry_night", device="cpu", precision="fp32", backend="torch")
    for image in (stripes, np.roll(stripes, 1, axis=1), checker, wide, tiny_frame):
        x = torch.from_numpy(image[None]).permute(0, 3, 1, 2).float() / 255
        luma = image.astype(float) @ (0.299, 0.587, 0.114)
        assert float(_luma_std(x)[0]) == pytest.approx(luma.std(), rel=0.05)  # all pixels: exact
        out = st.stylize(image)
        assert len(np.unique(out.reshape(-1, 3), axis=0)) > 1  # painted, not one colour
    # a large frame is sampled, at fixed positions: the same frame reads the same, and a fine
    # pattern still reads as contrasty
    big = np.zeros((360, 640, 3), np.uint8)
    big[:, 1::2] = 255
    x = torch.from_numpy(big[None]).permute(0, 3, 1, 2).float() / 255
    assert 360 * 640 > LUMA_SAMPLES and float(_luma_std(x)[0]) > 100 > LOW_CONTRAST
    assert torch.equal(_luma_std(x), _luma_std(x.clone()))
    assert float(_luma_std(torch.zeros(2, 3, 360, 640)).max()) == 0.0


def test_the_contrast_samples_are_read_alike_from_every_layout():
    # np.take along the pixels of a CPU frame, NCHW or channels_last: the same values, order and
    # layout as torch's indexing by rows and columns gave, so the same contrast to the last bit
    from vidstyle.stylizer import _luma_positions, _luma_samples, _luma_std

    gen = torch.Generator().manual_seed(0)
    # 4 frames: a batch's samples are past torch's grain size, measured frame by frame on the CPU
    nchw = torch.randint(0, 256, (4, 3, 360, 640), generator=gen).float().div_(255.0)
    dim = nchw * 0.02  # low contrast: the measure sets the output there
    rows, cols = _luma_positions(360, 640, torch.device("cpu"))
    for x in (nchw, dim, nchw.contiguous(memory_format=torch.channels_last), dim[:1].contiguous(memory_format=torch.channels_last),
              F.pad(nchw, (0, 8))[..., :640], nchw.bfloat16(), nchw.double()):
        want = x[:, :, rows, cols]
        got = _luma_samples(x)
        assert got.dtype == x.dtype and got.is_contiguous() and torch.equal(got, want)
        luma = (want[:, 0] * 0.299 + want[:, 1] * 0.587 + want[:, 2] * 0.114).float()
        assert torch.equal(_luma_std(x), (luma.flatten(1) * 255.0).std(dim=1, correction=0)) or x.dtype != torch.float32


def test_a_label_resolves_back_to_the_same_file_and_mix(tmp_path, monkeypatch):
    from vidstyle.models.zoo import Styles

    monkeypatch.chdir(tmp_path)
    model, info = load_model(Styles.LIGHT_MIX.value.path)
    save_model("my.safetensors", model, info.styles)  # a user's multi-style file
    save_model(tmp_path / "single.safetensors", tiny(), [{"name": "starry_night"}])
    for spec, label in (("mix:the_scream=1", "mix:the_scream=1"),  # not the_scream: that is another file
                        ("mix:the_scream=0.5,starry_night=0.5", "mix:starry_night=0.5,the_scream=0.5"),
                        ("light_starry_night", "light_starry_night"), ("the_scream", "the_scream"),
                        ("my.safetensors", "my.safetensors"),  # not starry_night, the bundled file
                        ("my.safetensors:the_scream=1", "my.safetensors:the_scream=1"),
                        ("my.safetensors:starry_night=1", "my.safetensors"),  # its first style: the path says it
                        (str(tmp_path / "single.safetensors"), str(tmp_path / "single.safetensors")),
                        (Styles.LIGHT_MIX, "mix:starry_night=1")):
        choice = resolve_style(spec)
        back = resolve_style(choice.label)
        assert choice.label == label
        assert back.path.resolve() == choice.path.resolve() and back.mix == pytest.approx(choice.mix)


def test_numpy_numbers_are_numbers_and_bools_are_not():
    st = Stylizer.from_model(tiny(), device="cpu", backend="torch", max_side=np.int64(32), scale=np.float32(0.5))
    assert (st.max_side, st.scale) == (32, 0.5) and type(st.max_side) is int and type(st.scale) is float
    frames = [np.full((8, 8, 3), 100, np.uint8)] * 3
    assert len(list(st.stylize_iter(frames, batch_size=np.int64(2)))) == 3
    for options in (dict(scale=True), dict(max_side=True), dict(scale=np.int64(0)), dict(channels_last="no"),
                    dict(channels_last=1)):
        with pytest.raises(VidstyleError, match=f"{next(iter(options))} must be"):
            Stylizer.from_model(tiny(), device="cpu", backend="torch", **options)


def test_stylize_tensor_checks_its_input_first():
    st = Stylizer.from_model(tiny(), device="cpu", backend="torch")
    x = torch.rand(2, 3, 16, 16)
    assert st.stylize_tensor(x).shape == x.shape and st.stylize_tensor(x.double()).shape == x.shape
    for bad, hint in (((x * 255).to(torch.uint8), "divide by 255"), (x[0], r"x\[None\]"),
                      (x.permute(0, 2, 3, 1), "permute"), (torch.rand(1, 4, 16, 16), ""),
                      (torch.rand(0, 3, 16, 16), "")):
        contract = r"float torch tensor of shape \(B, 3, H, W\) with values in \[0, 1\]"
        with pytest.raises(ValueError, match=contract + ".*" + hint):
            st.stylize_tensor(bad)
    with pytest.raises(TypeError, match="torch.from_numpy"):
        st.stylize_tensor(x.numpy())


def test_set_mix_takes_every_form_the_constructor_does_and_normalises_them_alike():
    st = Stylizer("mix:starry_night=0.7,the_scream=0.3", device="cpu", precision="fp32", backend="torch")
    st.set_mix("mix:starry_night=0.5,the_scream=0.5")
    by_text = st.choice
    st.set_mix({"starry_night": 4, "the_scream": 4})
    assert st.choice == by_text
    st.set_mix([4, 4, 0, 0])
    assert st.choice == by_text and st.choice.label == "mix:starry_night=0.5,the_scream=0.5"
    st.set_mix(np.array([0.0, 2.0, 0.0, 0.0], np.float32))
    assert st.choice.mix == (0.0, 1.0, 0.0, 0.0)
    for bad, match in ((["starry_night", "the_scream"], "one number per style, 4 entries"),
                       ([1.0, 2.0], "one number per style, 4 entries"),
                       ({"starry_night": "0.5"}, "non-negative numbers, got starry_night='0.5'"),
                       ({"starry_night": True}, "non-negative numbers")):
        with pytest.raises(VidstyleError, match=match):
            st.set_mix(bad)
    assert st.choice.mix == (0.0, 1.0, 0.0, 0.0)  # a refused mix changes nothing


def test_a_zoo_entry_names_a_style_wherever_a_spec_does():
    from vidstyle.models.zoo import Styles

    st = Stylizer(Styles.LIGHT_MONDRIAN, device="cpu", precision="fp32", backend="torch")
    assert st.choice.path.resolve() == Styles.LIGHT_MONDRIAN.value.path.resolve()
    assert st.choice.label == "light_mondrian"
    with pytest.raises(TypeError, match="Styles entry"):
        resolve_style(Styles)


def test_the_package_loads_its_submodules_and_exports_on_first_use():
    # `import vidstyle; vidstyle.letterbox.find_picture_area` (the README's words) raised
    # AttributeError; a fresh interpreter, as the modules imported by other tests would hide it
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys, vidstyle
        assert {"Stylizer", "StylizeConfig", "StylizeResult", "letterbox", "models"} <= set(dir(vidstyle))
        assert "torch" not in sys.modules  # importing vidstyle and listing it stays cheap
        from vidstyle.config import EncodeConfig, StylizeConfig
        assert (vidstyle.StylizeConfig, vidstyle.EncodeConfig) == (StylizeConfig, EncodeConfig)
        assert callable(vidstyle.letterbox.find_picture_area)
        assert vidstyle.models.zoo.Styles.LIGHT_MIX.name == "LIGHT_MIX" and "zoo" in dir(vidstyle.models)
        from vidstyle.pipeline import StylizeResult
        assert vidstyle.StylizeResult is StylizeResult
        for missing in ("nope", "__main__"):  # __main__ would run the command line
            assert not hasattr(vidstyle, missing), missing
        # the subpackages too
        assert vidstyle.io.decode.VideoDecoder and vidstyle.bench.run.BenchSettings and vidstyle.train.loop.train
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def moving_frames(n: int = 6, size=(40, 56)) -> list[np.ndarray]:
    """A smooth random picture panning one pixel a frame: a clip whose flow is easy."""
    import cv2

    rng = np.random.default_rng(2)
    big = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (size[1] + n, size[0]),
                     interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[:, i:i + size[1]]) for i in range(n)]


def test_stylize_iter_ends_a_batch_where_the_image_size_changes():
    # a stream may change size (a folder of photos): one batch cannot hold two sizes, so the batch
    # ends there and each image comes out at its own size, as stylize() paints it
    st = Stylizer.from_model(tiny().eval(), device="cpu", backend="torch", precision="fp32")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in
              ((24, 32, 3), (24, 32, 3), (40, 16, 3), (24, 32, 3))]
    out = list(st.stylize_iter(images, batch_size=4))
    assert [o.shape for o in out] == [i.shape for i in images]
    for o, i in zip(out, images):
        assert np.abs(o.astype(int) - st.stylize(i)).max() <= 1


def test_stylize_iter_blends_where_the_network_runs(monkeypatch):
    """On CUDA stylize_iter(temporal="flow") blends on the GPU (submit_batch's device path, run
    here on the CPU): the frames within a few levels of the CPU blend's."""
    torch.manual_seed(0)
    st = Stylizer.from_model(tiny().eval(), device="cpu", backend="torch")
    frames = moving_frames()
    on_host = list(st.stylize_iter(frames, batch_size=3, temporal="flow", temporal_strength=0.9))
    monkeypatch.setattr(Stylizer, "_on_device_path", property(lambda self: True))
    import vidstyle.flow.stabilizer as stabilizer_module

    calls = []
    blend = stabilizer_module.contrast_preserving_blend_tensor
    monkeypatch.setattr(stabilizer_module, "contrast_preserving_blend_tensor",
                        lambda *a, **k: calls.append(1) or blend(*a, **k))
    on_device = list(st.stylize_iter(frames, batch_size=3, temporal="flow", temporal_strength=0.9))
    assert len(calls) == len(frames) - 1 and len(on_device) == len(frames)  # (the first frame passes through)
    for a, b in zip(on_host, on_device):
        assert a.shape == b.shape and np.abs(a.astype(int) - b).max() <= 4


def test_stylize_iter_copies_what_it_holds_and_stabilizes_on_request():
    from vidstyle.errors import BadValueError
    from vidstyle.flow.stabilizer import FlowStabilizer

    torch.manual_seed(0)
    st = Stylizer.from_model(tiny().eval(), device="cpu", backend="torch")
    frames = moving_frames()

    def refilled():  # a producer that reuses one buffer, as cv2.VideoCapture.read(image=buf) does
        buf = np.empty_like(frames[0])
        for f in frames:
            buf[:] = f
            yield buf

    expected = list(st.stylize_iter([f.copy() for f in frames], batch_size=4))
    got = list(st.stylize_iter(refilled(), batch_size=4))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected)) and len(got) == len(frames)
    # temporal="flow": the stabilizer over the stream, as a hand-written loop would run it
    stab, want, prev = FlowStabilizer(0.7), [], None
    for f, e in zip(frames, expected):
        want.append(stab.step(prev, f, e))
        prev = f
    smooth = list(st.stylize_iter(refilled(), batch_size=4, temporal="flow", temporal_strength=0.7))
    assert all(np.array_equal(a, b) for a, b in zip(smooth, want)) and len(smooth) == len(frames)
    assert not np.array_equal(smooth[3], expected[3])  # it did blend
    # bad arguments fail at the call, as one error type that is also a ValueError
    with pytest.raises(VidstyleError, match="unknown temporal mode 'yes'"):
        st.stylize_iter(frames, temporal="yes")
    for temporal in ("flow", "off"):  # checked even where it would not be used
        with pytest.raises(VidstyleError, match="between 0 and 1"):
            st.stylize_iter(frames, temporal=temporal, temporal_strength=2)
    with pytest.raises(BadValueError, match="batch_size") as info:
        st.stylize_iter(frames, batch_size=0)
    assert isinstance(info.value, VidstyleError) and isinstance(info.value, ValueError)
    with pytest.raises(VidstyleError, match="expected a uint8"):  # a bad frame: the same family
        st.stylize(frames[0] / 255.0)


def test_a_model_file_that_does_not_fit_is_said_as_the_system_says_it(tmp_path):
    """A file-size limit (as a full disk) while safetensors writes: one line naming the file with
    the system's reason. It read "Error while serializing: I/O error: File too large (os error
    27)", safetensors' wrapping, which ``vidstyle train`` showed as is (review, disk-full pass)."""
    from processes import said_under_file_size_limit

    target = tmp_path / "m.safetensors"
    done = said_under_file_size_limit("from vidstyle.models.transformer import light_net\n"
                                      "from vidstyle.models.weights import save_model\n"
                                      "save_model(sys.argv[1], light_net(), [{'name': 's'}])", str(target))
    assert done.stdout.strip() == f"writing {target} failed: File too large", done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # no hidden temporary file left


def test_weights_of_another_kind_and_a_header_nested_past_any_depth_are_clear_errors(tmp_path):
    """A downloaded file whose header relabels a float tensor as integers (the same bytes, read as
    int16) loaded and painted with the integers as weights; one whose metadata nests thousands of
    JSON lists deep ended in "RecursionError: ... (run with --debug)"."""
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}], half=True)
    data = good.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    name = sorted(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F16")[0]

    def rewritten(path, edit):
        h = copy.deepcopy(header)
        edit(h)
        raw = json.dumps(h).encode()
        path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
        return path

    ints = rewritten(tmp_path / "ints.safetensors", lambda h: h[name].update(dtype="I16"))
    with pytest.raises(VidstyleError, match=rf"ints.safetensors: tensor {re.escape(name)} holds I16 values, "
                                            rf"where the network has floating-point weights"):
        load_model(ints)
    deep = rewritten(tmp_path / "deep.safetensors",
                     lambda h: h["__metadata__"].update(metrics="[" * 100_000 + "]" * 100_000))
    with pytest.raises(VidstyleError, match="deep.safetensors has a corrupt vidstyle header "
                                            r"\(JSON nested too deeply\)"):
        read_info(deep)


def test_weights_stored_as_bfloat16_load_as_the_floats_they_are(tmp_path):
    """A model converted to bfloat16 (BF16 in its header, as a float type) is read as its
    floats, not refused as weights of another kind."""
    good = tmp_path / "good.safetensors"
    model = tiny()
    save_model(good, model, [{"name": "s"}])
    with safe_open(str(good), framework="pt") as f:
        metadata = f.metadata()
    state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in load_file(str(good)).items()}
    bf16 = tmp_path / "bf16.safetensors"
    save_file(state, str(bf16), metadata=metadata)
    loaded = load_model(bf16)[0].state_dict()
    for k, v in state.items():
        assert torch.equal(loaded[k], v.float() if v.is_floating_point() else v), k


def test_a_header_asking_for_a_huge_network_is_refused_before_it_is_built(tmp_path, monkeypatch):
    """A 200 KB file whose header asked for 20000 channels in 40 residual blocks was built before
    its weights were compared: 6.8 GB resident and a minute before the allocator gave up (without a
    limit, far more). The network's shapes are known without memory (torch's meta device) and
    compared with the file's own header first, so what is allocated is what the file holds."""
    good = tmp_path / "good.safetensors"
    save_model(good, tiny(), [{"name": "s"}])
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    meta["arch_args"] = json.dumps({**json.loads(meta["arch_args"]), "channels": [4, 8, 100_000]})
    huge = tmp_path / "huge.safetensors"
    save_file(load_file(str(good)), str(huge), metadata=meta)
    built = []
    real = TransformerNet.__init__
    monkeypatch.setattr(TransformerNet, "__init__",
                        lambda self, *a, **kw: built.append(torch.empty(0).device.type) or real(self, *a, **kw))
    with pytest.raises(VidstyleError, match=r"huge.safetensors: tensor .* expected \(100000, "):
        load_model(huge)
    assert built == ["meta"]  # never on a device with memory behind it
