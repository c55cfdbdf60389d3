"""Feed-forward style-transfer networks (depends only on torch).

One family, :class:`TransformerNet` (Johnson et al. 2016, with the usual improvements: instance
normalisation, reflection padding, nearest-neighbour upsampling + convolution instead of transposed
convolution to avoid checkerboard artefacts). Width, depth, residual-block type and a
space-to-depth stem make the standard network, the light real-time network and the multi-style
network (conditional instance norm, Dumoulin et al. 2017) siblings built by one class.

Networks take a (B, 3, H, W) float tensor in [0, 1] and return the same shape (unclamped).
H and W must be multiples of :attr:`TransformerNet.size_multiple`; :mod:`vidstyle.frames` pads.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def exporting_here() -> bool:
    """Whether this thread is tracing a network for an ONNX export.

    ``torch.onnx.is_in_onnx_export()`` alone reads a process-wide flag: while one thread exported
    (a Stylizer built on a CPU in fp32 runs under ONNX Runtime), another thread's eager network
    read True and ran the export's forms, in bf16 the stock norms (outputs up to 4 grey levels
    off, now and then). The TorchScript exporter traces the network, and tracing is per thread."""
    return torch.onnx.is_in_onnx_export() and torch.jit.is_tracing()


def _use_lowp_norm(x: torch.Tensor) -> bool:
    # Only bf16 CPU inference takes the fast path: elsewhere (fp32, CUDA autocast, training, ONNX
    # export, which must emit InstanceNormalization) the stock operator is kept as it was measured.
    return (x.dtype == torch.bfloat16 and x.device.type == "cpu" and not torch.is_grad_enabled()
            and not exporting_here())


def instance_norm_lowp(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                       eps: float = 1e-5) -> torch.Tensor:
    """Instance norm of a bf16 (B, C, H, W) tensor, with statistics accumulated in fp32.

    ``weight`` / ``bias``: (C,) or (B, C) affine parameters, or None. Returns ``x``'s dtype.

    PyTorch's instance norm on the CPU reshapes to a batch norm and round-trips bf16
    channels-last tensors through fp32 copies: about 60% of the standard network's bf16 time at
    640x360. Here: per-channel sums with fp32 accumulators (the mean, then the squares of the
    centred values), and one fused multiply-add that applies the normalisation and the affine as
    a single scale and shift.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got {tuple(x.shape)}")
    n = x.shape[2] * x.shape[3]
    mean = x.sum((2, 3), dtype=torch.float32) / n
    # centre on the mean first: E[x^2] - E[x]^2 would cancel catastrophically in bf16 when a
    # channel's mean is large against its spread
    centred = x - mean.to(x.dtype)[:, :, None, None]
    var = centred.square().sum((2, 3), dtype=torch.float32) / n
    # the bf16 mean is off by its rounding error r, so the variance above is var + r^2: subtract it
    r = mean - mean.to(x.dtype).float()
    scale = torch.rsqrt((var - r * r).clamp_min(0.0) + eps)
    shift = r * scale  # the centred tensor still carries -r
    if weight is not None:
        w = weight.float() if weight.ndim == 2 else weight.float()[None, :]
        scale = scale * w
        shift = shift * w
    shift = -shift
    if bias is not None:
        shift = shift + (bias.float() if bias.ndim == 2 else bias.float()[None, :])
    return torch.addcmul(shift.to(x.dtype)[:, :, None, None], centred, scale.to(x.dtype)[:, :, None, None])


class InstanceNorm2d(nn.InstanceNorm2d):
    """:class:`torch.nn.InstanceNorm2d` (same parameters and state-dict keys) with a fast path for
    bf16 inference on the CPU (:func:`instance_norm_lowp`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _use_lowp_norm(x):
            return instance_norm_lowp(x, self.weight, self.bias, self.eps)
        return super().forward(x)


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm with one (gamma, beta) pair per style, mixed by :attr:`style_mix`.

    ``style_mix`` has shape (num_styles,) (one mix for the whole batch) or is replaced per call by
    :meth:`TransformerNet.set_style` with a (B, num_styles) tensor (one mix per sample, used in
    training). A mix of several styles blends their affine parameters, which blends the styles.
    """

    def __init__(self, num_features: int, num_styles: int):
        super().__init__()
        self.num_styles = num_styles
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))
        mix = torch.zeros(num_styles)
        mix[0] = 1.0
        self.register_buffer("style_mix", mix, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = self.style_mix.to(self.weight.dtype)
        gamma = mix @ self.weight  # (C,) or (B, C)
        beta = mix @ self.bias
        if _use_lowp_norm(x):
            if gamma.ndim == 1:
                gamma, beta = gamma.expand(x.shape[0], -1), beta.expand(x.shape[0], -1)
            return instance_norm_lowp(x, gamma, beta)
        x = F.instance_norm(x)
        if gamma.ndim == 1:
            return x * gamma[None, :, None, None] + beta[None, :, None, None]
        return x * gamma[:, :, None, None] + beta[:, :, None, None]


def _norm(channels: int, num_styles: int) -> nn.Module:
    if num_styles == 1:
        return InstanceNorm2d(channels, affine=True)
    return ConditionalInstanceNorm2d(channels, num_styles)


class ConvLayer(nn.Sequential):
    """Reflection padding + convolution (padding by reflection avoids dark borders)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, groups=groups))


class UpsampleConv(nn.Module):
    """x2 upsampling (nearest-neighbour, or bilinear with ``mode="bilinear"``) followed by a convolution."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, mode: str = "nearest"):
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"upsampling mode must be nearest or bilinear, got {mode!r}")
        self.mode = mode
        self.conv = ConvLayer(cin, cout, kernel)
        if mode == "bilinear":
            # replicate, not reflect: bilinear upsampling already clamps at the edge, and with
            # replication the pair stays a per-phase 3x3 convolution at the low resolution up to
            # the border (see SubpixelUpsampleConv)
            self.conv[0] = nn.ReplicationPad2d(kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.conv(x)


class BinomialBlur(nn.Module):
    """Fixed 3x3 binomial low-pass ([1, 2, 1] x [1, 2, 1] / 16) on each channel, reflection padded.

    Put before a stride-2 layer it removes most of what would alias (Zhang 2019, "Making
    convolutional networks shift-invariant again"), so that moving the input by one pixel moves
    the features by half a pixel instead of changing them.
    """

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :]) / 16.0
        self.channels = channels
        # not a parameter and not saved: it is fixed by the architecture
        self.register_buffer("kernel", k.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(f"BinomialBlur({self.channels}) got {x.shape[1]} channels")
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel.to(x.dtype), groups=self.channels)


def _shuffle_kernel(channels: int, r: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(C r², 1, r, r) one-hot kernel: entry ``c r² + i r + j`` picks pixel (i, j) of an r x r cell
    of channel c, the channel order of ``pixel_(un)shuffle``."""
    return torch.eye(r * r, dtype=dtype, device=device).reshape(r * r, 1, r, r).repeat(channels, 1, 1, 1)


def space_to_depth(x: torch.Tensor, r: int, channels: int) -> torch.Tensor:
    """``pixel_unshuffle``: (B, C, H, W) -> (B, C r², H / r, W / r), channel ``c r² + i r + j``
    being pixel (r y + i, r x + j) of channel c. ``channels`` is C, given rather than read from
    ``x`` so that an exported graph keeps it a constant.

    Exported to ONNX as a stride-r grouped convolution with one-hot weights (the same numbers:
    each output is one input times 1): ONNX Runtime runs the Reshape-Transpose-Reshape that
    ``pixel_unshuffle`` exports as a generic 6-D transpose, 3.6 ms of the light network's 35 ms per
    640x360 frame on 2 cores (profiled, benchmarks/RESULTS.md), and the convolution in a fraction
    of that.
    """
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected a (B, {channels}, H, W) tensor, got {tuple(x.shape)}")
    if exporting_here():
        return F.conv2d(x, _shuffle_kernel(channels, r, x.dtype, x.device), stride=r, groups=channels)
    return F.pixel_unshuffle(x, r)


def depth_to_space(y: torch.Tensor, r: int, channels: int) -> torch.Tensor:
    """``pixel_shuffle``, the inverse of :func:`space_to_depth`: (B, C r², H, W) -> (B, C, r H, r W),
    ``channels`` being C.

    Exported to ONNX as a stride-r grouped transposed convolution with one-hot weights (the same
    numbers): ONNX Runtime's three DepthToSpace nodes took 6.0 ms of the light network's 35 ms per
    640x360 frame on 2 cores (profiled, benchmarks/RESULTS.md); the transposed convolutions 1.3 ms.
    """
    if y.ndim != 4 or y.shape[1] != channels * r * r:
        raise ValueError(f"expected a (B, {channels * r * r}, H, W) tensor, got {tuple(y.shape)}")
    if exporting_here():
        return F.conv_transpose2d(y, _shuffle_kernel(channels, r, y.dtype, y.device), stride=r, groups=channels)
    return F.pixel_shuffle(y, r)


def depth_to_space_phase_major(y: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, 4C, H, W) -> (B, C, 2H, 2W), input channel ``(a * 2 + b) * C + c`` becoming pixel
    (2i + a, 2j + b) of channel c: ``pixel_shuffle`` with the phases outermost, so that in
    channels-last memory each output pixel's C channels are one contiguous run of the input."""
    if y.ndim != 4 or y.shape[1] != 4 * channels:
        raise ValueError(f"expected a (B, {4 * channels}, H, W) tensor, got {tuple(y.shape)}")
    b, h, w = y.shape[0], y.shape[2], y.shape[3]
    return (y.permute(0, 2, 3, 1).reshape(b, h, w, 2, 2, channels).permute(0, 1, 3, 2, 4, 5)
            .reshape(b, 2 * h, 2 * w, channels).permute(0, 3, 1, 2))


#: x2 upsampling, 1-D: (place in the cell a, input offset -1/0/+1, upsampled tap -1/0/+1) -> weight.
#: Nearest: pixel 2i + a - 1 ... 2i + a + 1 reads input i + floor((a + tap) / 2). Bilinear
#: (align_corners=False): upsampled pixel 2i reads 1/4 of input i - 1 and 3/4 of i, 2i + 1 reads
#: 3/4 of i and 1/4 of i + 1.
_UPSAMPLE_TAPS = {
    "nearest": [[[1, 0, 0], [0, 1, 1], [0, 0, 0]],
                [[0, 0, 0], [1, 1, 0], [0, 0, 1]]],
    "bilinear": [[[0.75, 0.25, 0], [0.25, 0.75, 0.75], [0, 0, 0.25]],
                 [[0.25, 0, 0], [0.75, 0.75, 0.25], [0, 0.25, 0.75]]],
}


def _phase_major_index(channels: int) -> torch.Tensor:
    """Entry ``c * 4 + p`` (the channel-major order of pixel_(un)shuffle) holds ``p * C + c``, that
    channel's index in the phase-major order."""
    return torch.arange(4 * channels).reshape(4, channels).t().reshape(-1)


def _reorder_conv(conv: nn.Conv2d, out_order: torch.Tensor | None, in_order: torch.Tensor | None) -> None:
    """Permute ``conv``'s output and/or input channels in place: new channel k is old ``order[k]``."""
    with torch.no_grad():
        w = conv.weight
        if out_order is not None:
            w = w[out_order]
            conv.bias.copy_(conv.bias[out_order].clone())
        if in_order is not None:
            w = w[:, in_order]
        conv.weight.copy_(w.clone())


class SubpixelUpsampleConv(nn.Module):
    """The inference form of a 3x3 :class:`UpsampleConv`: the same function, computed at the input's
    resolution.

    Nearest x2 upsampling then a 3x3 convolution gives each output pixel of a 2x2 cell a sum over
    at most 2x2 input pixels, with weights that depend only on the pixel's place in the cell. So
    one 3x3 convolution with four times the output channels (one set per place, the folded
    weights), at the low resolution, followed by depth-to-space (``pixel_shuffle``) computes it
    without ever making the upsampled tensor or padding it: on the CPU those two full-resolution
    copies cost more than the convolution. Bilinear upsampling folds the same way (its taps reach
    the same three input pixels). At the border, reflecting the nearest-upsampled image by one
    pixel reads the input's edge pixel again, i.e. replicate padding at the low resolution; the
    bilinear form replicates its upsampled edge, which is the same.
    Equal to the original up to floating-point rounding (the folded weights are sums of weights).
    """

    def __init__(self, source: UpsampleConv):
        super().__init__()
        conv = source.conv[-1]
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.groups != 1:
            raise ValueError("only 3x3 UpsampleConv layers fold")
        w = conv.weight.detach()  # (cout, cin, 3, 3), taps at upsampled offsets -1, 0, +1
        # place in the cell (0 or 1) -> how much of input offsets -1, 0, +1 each upsampled tap reads
        fold = w.new_tensor(_UPSAMPLE_TAPS[source.mode])  # (place, input offset, tap)
        # (cout, cin, a, b, y, x) = sum over taps (i, j) of w[..., i, j] * fold[a, y, i] * fold[b, x, j]
        # output channels phase-major, (a, b, c), as in SpaceToDepthConv: in channels-last memory
        # depth-to-space then moves runs of channels, and the norm that follows reads its input
        # with the channels contiguous (pixel_shuffle's (c, a, b) order made the compiled int8
        # network's norm after it a scalar gather, 31 of 170 ms per 640x360 frame)
        folded = torch.einsum("ocij,ayi,bxj->abocyx", w, fold, fold)
        cout, cin = w.shape[:2]
        self.cout = cout
        self.phase_major = True
        self.conv = nn.Conv2d(cin, 4 * cout, 3, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(folded.reshape(4 * cout, cin, 3, 3))
            self.conv.bias.copy_(conv.bias.detach().repeat(4))

    def to_channel_major(self) -> "SubpixelUpsampleConv":
        """Reorder the output channels to ``pixel_shuffle``'s (c, a, b), in place: for ONNX export,
        where :func:`depth_to_space` becomes one node and the reshapes of the phase-major form
        would lose the channel count that InstanceNormalization needs."""
        if self.phase_major:
            _reorder_conv(self.conv, _phase_major_index(self.cout), None)
            self.phase_major = False
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))
        return depth_to_space_phase_major(y, self.cout) if self.phase_major else depth_to_space(y, 2, self.cout)


class SpaceToDepthConv(nn.Module):
    """The inference form of a stride-1 :class:`ConvLayer` with few output channels and a large
    kernel (the standard network's 9x9, 32 -> 3 head): the same function, computed at half
    resolution on the space-to-depth input.

    With ``y = 2i + a``, ``x = 2j + b`` and the padded input P seen as U, its 2x2 cells stacked as channels,
    the k x k convolution at (y, x) reads ``P[2i + a + dy, 2j + b + dx]``, i.e. the taps
    ``U[(s, t), i + m, j + n]`` with ``a + dy = 2m + s``: a ((k + 1) / 2)-square convolution from
    ``4 cin`` to ``4 cout`` channels, followed by depth-to-space. (Space-to-depth and depth-to-space
    as in ``pixel_unshuffle`` / ``pixel_shuffle``, but with the phase-major channel order explained
    in ``__init__``.) Why: CPU convolution kernels
    work on blocks of 8-16 output channels, so 3 output channels waste most of each block; 12 fill
    it (the 640x360 head: 45 -> 24 ms in bf16, 100 -> 45 ms in fp32 on 2 cores), at 23% more
    multiply-adds for k = 9. Needs even input height and width (true for every network whose
    :attr:`TransformerNet.size_multiple` is even). Equal to the original up to floating-point
    rounding (each folded weight is one original weight or zero).
    """

    def __init__(self, source: ConvLayer):
        super().__init__()
        pad, conv = source
        k = conv.kernel_size[0]
        if (not isinstance(pad, nn.ReflectionPad2d) or conv.kernel_size != (k, k) or k % 2 == 0
                or conv.stride != (1, 1) or conv.groups != 1 or conv.dilation != (1, 1)):
            raise ValueError("only stride-1, odd square-kernel, ungrouped ConvLayers fold to space-to-depth")
        self.pad = k // 2
        w = conv.weight.detach()  # (cout, cin, k, k)
        cout, cin = w.shape[:2]
        self.cin, self.cout = cin, cout  # constants in forward: an exported graph keeps 3 output channels
        taps = self.pad + 1
        # select[a, m, s, d] = 1 where the output phase a, low-resolution tap m and input phase s
        # read the original tap d = 2m + s - a
        select = w.new_zeros(2, taps, 2, k)
        for a in range(2):
            for m in range(taps):
                for s_ in range(2):
                    d = 2 * m + s_ - a
                    if 0 <= d < k:
                        select[a, m, s_, d] = 1.0
        # channels are ordered phase-major, (phase_y, phase_x, channel), unlike pixel_(un)shuffle's
        # (channel, phase_y, phase_x): in channels-last memory the rearrangements below then move
        # whole runs of channels instead of single values (pixel_unshuffle cost as much as the
        # convolution it feeds)
        folded = torch.einsum("ocyx,amsy,bntx->abostcmn", w, select, select)
        self.phase_major = True
        self.conv = nn.Conv2d(4 * cin, 4 * cout, taps, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(folded.reshape(4 * cout, 4 * cin, taps, taps))
            self.conv.bias.copy_(conv.bias.detach().repeat(4))

    def to_channel_major(self) -> "SpaceToDepthConv":
        """Reorder the convolution's input and output channels to pixel_(un)shuffle's (c, a, b), in
        place: for ONNX export, where :func:`space_to_depth` and :func:`depth_to_space` become one
        convolution each, while the phase-major reshapes export as slow 6-D transposes."""
        if self.phase_major:
            _reorder_conv(self.conv, _phase_major_index(self.cout), _phase_major_index(self.cin))
            self.phase_major = False
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad,) * 4, mode="reflect")
        if not self.phase_major:
            return depth_to_space(self.conv(space_to_depth(x, 2, self.cin)), 2, self.cout)
        b, c, h, w = x.shape[0], self.cin, x.shape[2], x.shape[3]
        # (B, C, H, W) -> (B, 4C, H/2, W/2), channel (s, t, c) = pixel (2i + s, 2j + t) of channel c
        x = (x.permute(0, 2, 3, 1).reshape(b, h // 2, 2, w // 2, 2 * c).permute(0, 1, 3, 2, 4)
             .reshape(b, h // 2, w // 2, 4 * c).permute(0, 3, 1, 2))
        return depth_to_space_phase_major(self.conv(x), self.cout)


def _space_to_depth_candidate(layer: nn.Module) -> bool:
    """Worth folding: few output channels and a large kernel (whether it *can* fold is
    :class:`SpaceToDepthConv`'s check)."""
    return (isinstance(layer, ConvLayer) and layer[-1].out_channels <= 4
            and min(layer[-1].kernel_size) >= 5)


def fold_for_inference(model: nn.Module) -> nn.Module:
    """Replace every 3x3 :class:`UpsampleConv` of ``model`` (in place) by its
    :class:`SubpixelUpsampleConv`, and a :class:`TransformerNet`'s large-kernel head with few
    output channels by its :class:`SpaceToDepthConv` (when its inputs always have even sides);
    returns ``model``. For inference only: the folded network has other parameters (and
    state-dict keys), so train and save the original."""
    if (isinstance(model, TransformerNet) and model.size_multiple % 2 == 0
            and _space_to_depth_candidate(model.head)):
        with contextlib.suppress(ValueError):  # a stride, dilation or kernel shape that does not fold
            model.head = SpaceToDepthConv(model.head)
    for name, child in list(model.named_children()):
        if isinstance(child, UpsampleConv) and child.conv[-1].kernel_size == (3, 3):
            setattr(model, name, SubpixelUpsampleConv(child))
        elif not isinstance(child, SpaceToDepthConv):
            fold_for_inference(child)
    return model


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with norms and a skip; ``separable`` uses depthwise + pointwise convs."""

    def __init__(self, channels: int, num_styles: int, separable: bool = False):
        super().__init__()

        def conv() -> nn.Module:
            if not separable:
                return ConvLayer(channels, channels, 3)
            return nn.Sequential(ConvLayer(channels, channels, 3, groups=channels), nn.Conv2d(channels, channels, 1))

        self.conv1, self.norm1 = conv(), _norm(channels, num_styles)
        self.conv2, self.norm2 = conv(), _norm(channels, num_styles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(y))


class TransformerNet(nn.Module):
    """Encoder - residual blocks - decoder image transformation network.

    Args:
        channels: widths of the encoder stages; each stage after the first halves the resolution.
        num_residual: number of residual blocks at the lowest resolution.
        num_styles: 1 for a single-style network (instance norm with affine parameters), more for
            a multi-style network (conditional instance norm).
        separable: depthwise-separable residual blocks (much cheaper on CPUs).
        kernel_in / kernel_out: kernel size of the first / last convolution.
        shuffle: 1, or 2 to start with a space-to-depth (pixel-unshuffle) stem and end with a
            depth-to-space head, so the whole network runs at half resolution (real-time CPU).
        residual: predict a change to the input (output = input + network) and start from the
            identity. Training then starts where Gatys' optimisation starts (the photo) and moves
            towards the style, instead of first having to learn to reproduce the photo; from a
            random start, short runs get stuck in low-contrast colour blobs.
        upsample_head: with ``shuffle`` 2, end with nearest-neighbour upsampling + a convolution at
            full resolution instead of depth-to-space. Depth-to-space computes the four pixels of
            each 2x2 cell with four different filters, and the style loss's hunger for fine
            texture makes them drift apart into a visible fixed 2x2 grid; the full-resolution
            convolution (same multiply-adds per output pixel) shares one filter across pixels.
        antialias: low-pass (:class:`BinomialBlur`) before every halving of the resolution and
            bilinear instead of nearest-neighbour upsampling; ``"down"`` or ``"up"`` for only one
            of the two. Without it, a network with total stride s paints texture tied to its
            s-pixel grid: moving the input by a multiple of s moves the output with it, other
            shifts repaint it, so the texture flickers as the camera moves.
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128), num_residual: int = 5, num_styles: int = 1,
                 separable: bool = False, kernel_in: int = 9, kernel_out: int = 9, shuffle: int = 1,
                 residual: bool = False, upsample_head: bool = False, antialias: bool | str = False):
        super().__init__()
        if len(channels) < 1 or num_styles < 1 or shuffle not in (1, 2, 4) or (upsample_head and shuffle != 2):
            raise ValueError("invalid TransformerNet arguments")
        self.arch_args = dict(channels=list(channels), num_residual=num_residual, num_styles=num_styles,
                              separable=separable, kernel_in=kernel_in, kernel_out=kernel_out, shuffle=shuffle)
        if residual:  # stored only when set, so files written before the option still load
            self.arch_args["residual"] = True
        if upsample_head:
            self.arch_args["upsample_head"] = True
        if antialias not in (False, True, "down", "up"):
            raise ValueError(f"antialias must be a bool, 'down' or 'up', got {antialias!r}")
        if antialias:
            self.arch_args["antialias"] = antialias
        self.residual = residual
        self.upsample_head = upsample_head
        self.num_styles = num_styles
        self.shuffle = shuffle
        blur_down = antialias in (True, "down")
        up = "bilinear" if antialias in (True, "up") else "nearest"
        # the stem's space-to-depth halves the resolution too
        self.stem_blur = BinomialBlur(3) if blur_down and shuffle > 1 else None
        cin = 3 * shuffle * shuffle
        layers: list[nn.Module] = [ConvLayer(cin, channels[0], kernel_in), _norm(channels[0], num_styles), nn.ReLU()]
        for a, b in zip(channels[:-1], channels[1:]):
            layers += [BinomialBlur(a)] if blur_down else []
            layers += [ConvLayer(a, b, 3, stride=2), _norm(b, num_styles), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.residuals = nn.Sequential(*[ResidualBlock(channels[-1], num_styles, separable) for _ in range(num_residual)])
        layers = []
        for a, b in zip(reversed(channels[1:]), reversed(channels[:-1])):
            layers += [UpsampleConv(a, b, mode=up), _norm(b, num_styles), nn.ReLU()]
        self.decoder = nn.Sequential(*layers)
        if upsample_head:
            self.head = UpsampleConv(channels[0], 3, kernel_out, mode=up)
        else:
            self.head = ConvLayer(channels[0], 3 * shuffle * shuffle, kernel_out)
        if residual:  # start close to the identity: a small correction, no offset
            last = self.head.conv[-1] if upsample_head else self.head[-1]
            with torch.no_grad():
                last.weight.mul_(0.1)
                last.bias.zero_()

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2 ** (len(self.arch_args["channels"]) - 1) * self.shuffle

    @property
    def min_input_size(self) -> int:
        """Inputs must be at least this high and wide: every reflection padding inside needs a
        feature map wider than the padding, and at the lowest resolution (1 / size_multiple) the
        3x3 convolutions need 2 pixels. The first and last convolutions' padding (half their
        kernel, at 1 / shuffle of the input) can ask for more: a 9-pixel kernel in a network with
        one halving needs 5; rounded up to a multiple of :attr:`size_multiple`."""
        m = self.size_multiple
        edge = self.shuffle * (max(self.arch_args["kernel_in"], self.arch_args["kernel_out"]) // 2 + 1)
        return max(2 * m, -(-edge // m) * m)

    def set_style(self, mix: torch.Tensor | Sequence[float]) -> None:
        """Select or blend styles: ``mix`` is (num_styles,) or (B, num_styles), normalised to sum 1."""
        mix = torch.as_tensor(mix, dtype=torch.float32)
        if mix.shape[-1:] != (self.num_styles,) or mix.ndim not in (1, 2):
            raise ValueError(f"style mix must have {self.num_styles} entr{'y' if self.num_styles == 1 else 'ies'}, "
                             f"got shape {tuple(mix.shape)}")
        # a NaN, infinite or negative weight, or all zeros, would silently paint black frames
        if not (torch.isfinite(mix).all() and (mix >= 0).all() and (mix.sum(dim=-1) > 0).all()):
            raise ValueError(f"style mix weights must be finite, non-negative and not all zero, got {mix.tolist()}")
        if self.num_styles == 1:
            return  # plain instance norm: nothing to select
        mix = mix / mix.sum(dim=-1, keepdim=True)
        for m in self.modules():
            if isinstance(m, ConditionalInstanceNorm2d):
                if not self.training and m.style_mix.shape == mix.shape:
                    # in place, for inference: a compiled network reads the same buffers, which
                    # one new tensor shared by every layer would have made it compile again.
                    # (Not in training, where the last forward's graph may still need the old mix.)
                    m.style_mix.copy_(mix)
                else:
                    m.style_mix = mix.to(m.weight.device, copy=True)

    @property
    def painted_mix(self) -> tuple[float, ...]:
        """The mix the network paints, as :meth:`set_style` normalised it: one weight per style,
        (1.0,) for one style (a per-sample mix: the samples' mixes one after the other)."""
        norm = next((m for m in self.modules() if isinstance(m, ConditionalInstanceNorm2d)), None)
        return (1.0,) if norm is None else tuple(norm.style_mix.reshape(-1).tolist())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = x
        if self.shuffle > 1:
            if self.stem_blur is not None:
                x = self.stem_blur(x)
            x = space_to_depth(x, self.shuffle, 3)
        y = self.head(self.decoder(self.residuals(self.encoder(x))))
        if self.shuffle > 1 and not self.upsample_head:
            y = depth_to_space(y, self.shuffle, 3)
        return inp + y if self.residual else y


def transformer_net(num_styles: int = 1) -> TransformerNet:
    """The standard network of Johnson et al. (1.68 M parameters single-style)."""
    return TransformerNet((32, 64, 128), num_residual=5, num_styles=num_styles, residual=True)


def light_net(num_styles: int = 1) -> TransformerNet:
    """A real-time CPU network: space-to-depth stem, narrow, depthwise-separable residual blocks.

    Widths (16, 32, 64): the full 3x3 convolutions of the first stage and the decoder dominate the
    cost and scale with width squared; about 20-23 ms per 640x360 frame on 2 CPU cores with ONNX
    Runtime (see benchmarks/RESULTS.md). Five residual blocks at 1/8 resolution cost ~3% extra.
    """
    return TransformerNet((16, 32, 64), num_residual=5, num_styles=num_styles, separable=True,
                          kernel_in=3, kernel_out=3, shuffle=2, residual=True, upsample_head=True)


def light_full_net(num_styles: int = 1) -> TransformerNet:
    """:func:`light_net` with full 3x3 convolutions in its residual blocks instead of depthwise-
    separable ones: 4.3x the parameters (419 k) for little time, since the blocks run at 1/8 of the
    resolution (an AMX Xeon, eager, 640x360: the same time in bf16, about 20% more in fp32;
    benchmarks/RESULTS.md, twentieth session)."""
    return TransformerNet((16, 32, 64), num_residual=5, num_styles=num_styles, separable=False,
                          kernel_in=3, kernel_out=3, shuffle=2, residual=True, upsample_head=True)


def light_s4_net(num_styles: int = 1) -> TransformerNet:
    """:func:`light_net` with a total stride of 4 instead of 8, as the standard network has: one
    stride-2 stage (widths 16, 48) after the space-to-depth stem, so the residual blocks work at
    1/4 of the resolution (benchmarks/RESULTS.md, twentieth session)."""
    return TransformerNet((16, 48), num_residual=5, num_styles=num_styles, separable=True,
                          kernel_in=3, kernel_out=3, shuffle=2, residual=True, upsample_head=True)


def light_aa_net(num_styles: int = 1, antialias: bool | str = True) -> TransformerNet:
    """:func:`light_net` with anti-aliased down- and upsampling (``antialias=True``): texture that
    moves with the picture instead of staying on the network's 8-pixel grid."""
    return TransformerNet((16, 32, 64), num_residual=5, num_styles=num_styles, separable=True,
                          kernel_in=3, kernel_out=3, shuffle=2, residual=True, upsample_head=True,
                          antialias=antialias)


def light_aa_down_net(num_styles: int = 1) -> TransformerNet:
    """:func:`light_aa_net` with only the blur before each halving (nearest-neighbour upsampling)."""
    return light_aa_net(num_styles, antialias="down")


def light_aa_up_net(num_styles: int = 1) -> TransformerNet:
    """:func:`light_aa_net` with only the bilinear upsampling (no blur before each halving)."""
    return light_aa_net(num_styles, antialias="up")


#: Architecture name -> builder; the name is stored in every weights file.
ARCHITECTURES = {"transformer": TransformerNet}
BUILDERS = {"transformer_net": transformer_net, "light_net": light_net, "light_full_net": light_full_net,
            "light_s4_net": light_s4_net, "light_aa_net": light_aa_net,
            "light_aa_down_net": light_aa_down_net, "light_aa_up_net": light_aa_up_net}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
