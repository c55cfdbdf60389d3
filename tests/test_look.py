"""The look controls on top of a network: how much of the style (``style_strength``) and whose
colours (``keep_colors``), in the pure function, the Stylizer, files, the command line and live."""
from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch

from videos import make_video, read_frames
from vidstyle.config import StylizeConfig
from vidstyle.errors import BadValueError, VidstyleError
from vidstyle.frames import luminance
from vidstyle.io.capture import SyntheticSource
from vidstyle.live import LiveControls, LiveOptions, StyleBank, run_live
from vidstyle.models.transformer import TransformerNet
from vidstyle.pipeline import stylize_image, stylize_video
from vidstyle.stylizer import Stylizer, blend_style


@pytest.fixture(scope="module")
def model() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet((8, 16, 16), num_residual=1).eval()


def colourful(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Saturated colour ramps with texture: hue and brightness vary everywhere."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 1 - x / w], axis=-1) * 110 + 60 + rng.integers(0, 30, (h, w, 3))
    return img.clip(0, 255).astype(np.uint8)


def chroma(images: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (..., 2) float Cr, Cb (OpenCV's Rec. 601 YCrCb, offset removed)."""
    flat = images.reshape(-1, 1, 3)
    ycrcb = cv2.cvtColor(np.ascontiguousarray(flat), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    return ycrcb.reshape(*images.shape[:-1], 3)[..., 1:] - 128.0


# --- the pure function -----------------------------------------------------------------------------

def test_blend_style_strength_is_linear_and_one_is_the_output_itself():
    torch.manual_seed(1)
    content, styled = torch.rand(2, 3, 8, 10), torch.rand(2, 3, 8, 10)
    assert blend_style(content, styled) is styled
    assert torch.equal(blend_style(content, styled, 0.0), content)
    assert torch.allclose(blend_style(content, styled, 0.25), 0.75 * content + 0.25 * styled, atol=1e-6)


def test_keep_colors_takes_the_outputs_luma_and_the_inputs_chroma():
    torch.manual_seed(2)
    content = 0.35 + 0.3 * torch.rand(2, 3, 16, 16)  # with the luma change below, within (0, 1): no clipping
    styled = 0.4 + 0.2 * torch.rand(2, 3, 16, 16)
    out = blend_style(content, styled, keep_colors=True)
    assert torch.allclose(luminance(out), luminance(styled), atol=1e-6)
    # chroma: each channel minus the luma is the input's (Cb and Cr are multiples of B - Y and R - Y)
    assert torch.allclose(out - luminance(out), content - luminance(content), atol=1e-6)
    assert not torch.allclose(out, styled, atol=1e-2)  # the output's own colours are gone
    # strength then blends towards the input: half the luma change
    half = blend_style(content, styled, 0.5, keep_colors=True)
    assert torch.allclose(luminance(half), (luminance(content) + luminance(styled)) / 2, atol=1e-6)


def test_keep_colors_stays_in_range_and_shapes_are_checked():
    content = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)  # pure red
    styled = torch.ones(1, 3, 4, 4)  # white: luma far above red's
    out = blend_style(content, styled, keep_colors=True)
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(BadValueError, match="one shape"):
        blend_style(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))
    with pytest.raises(BadValueError, match=r"\(B, 3, H, W\)"):
        luminance(torch.rand(3, 4, 4))


def test_keep_colors_of_tensors_numpy_cannot_stand_for_are_torchs():
    """On the CPU keep_colors computes float32 frames in numpy (frames.host_view); other tensors
    take torch's ops. Mutation testing, 60th session: host_view taking a tensor that needs grad
    (its result came back detached: no gradient reached the network) or one in bf16 (numpy has
    no bf16: a TypeError) passed every test."""
    gen = torch.Generator().manual_seed(3)
    content, styled = torch.rand(2, 3, 8, 10, generator=gen), torch.rand(2, 3, 8, 10, generator=gen)
    trained = styled.clone().requires_grad_()
    out = blend_style(content, trained, keep_colors=True)
    assert out.requires_grad and torch.equal(out.detach(), blend_style(content, styled, keep_colors=True))
    out.sum().backward()
    assert trained.grad is not None and trained.grad.abs().sum() > 0
    low = blend_style(content.bfloat16(), styled.bfloat16(), keep_colors=True)
    assert low.dtype == torch.bfloat16
    want = (content.bfloat16() + luminance(styled.bfloat16() - content.bfloat16())).clamp_(0.0, 1.0)
    assert torch.equal(low, want)


# --- the Stylizer ----------------------------------------------------------------------------------

def test_stylizer_at_strength_zero_returns_the_input_and_keep_colors_keeps_its_chroma(model):
    image = colourful()
    plain = Stylizer.from_model(model, device="cpu", precision="fp32", channels_last=False)
    styled = plain.stylize(image)
    assert np.abs(chroma(styled) - chroma(image)).mean() > 10  # the random network changes colours a lot
    none = Stylizer.from_model(model, device="cpu", precision="fp32", style_strength=0.0)
    assert np.array_equal(none.stylize(image), image)
    kept = Stylizer.from_model(model, device="cpu", precision="fp32", channels_last=False, keep_colors=True)
    out = kept.stylize(image)
    luma = lambda img: cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    unclipped = (out > 2).all(-1) & (out < 253).all(-1)
    assert unclipped.mean() > 0.25  # the random network saturates much of the frame
    assert np.abs(chroma(out) - chroma(image))[unclipped].max() <= 2.5  # uint8 rounding only
    assert np.abs(luma(out) - luma(styled))[unclipped].max() <= 1.5
    # set_look changes both later, and one at a time
    kept.set_look(style_strength=0.0)
    assert kept.keep_colors is True and np.array_equal(kept.stylize(image), image)
    kept.set_look(1.0, False)
    assert np.array_equal(kept.stylize(image), styled)


@pytest.mark.parametrize("bad, match", [(dict(style_strength=1.5), "style_strength must be a number between 0 and 1"),
                                        (dict(style_strength="0.5"), "style_strength must be"),
                                        (dict(keep_colors="yes"), "keep_colors must be True or False")])
def test_bad_look_values_are_refused_everywhere(model, bad, match):
    with pytest.raises(VidstyleError, match=match):
        Stylizer.from_model(model, device="cpu", **bad)
    with pytest.raises(VidstyleError, match=match):
        Stylizer("light_starry_night", device="cpu", **bad)  # before the model loads
    with pytest.raises(VidstyleError, match=match):
        StylizeConfig(**bad)
    with pytest.raises(VidstyleError, match=match):
        LiveOptions(**bad)
    stylizer = Stylizer.from_model(model, device="cpu")
    with pytest.raises(VidstyleError, match=match):
        stylizer.set_look(**bad)
    assert (stylizer.style_strength, stylizer.keep_colors) == (1.0, False)  # a refused value changes nothing


# --- files -----------------------------------------------------------------------------------------

def test_a_video_keeps_its_colours_and_the_summary_says_so(tmp_path, model):
    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64), pattern="moving", crf=4)
    stylizer = Stylizer.from_model(model, device="cpu", precision="fp32", channels_last=False)
    plain = stylize_video(src, tmp_path / "plain.mp4", stylizer, temporal="off", crf=4, pix_fmt="yuv444p",
                          progress=False)
    kept = stylize_video(src, tmp_path / "kept.mp4", "light_starry_night", device="cpu", temporal="off",
                         keep_colors=True, style_strength=0.8, crf=4, pix_fmt="yuv444p", progress=False)
    assert "style 0.8" in kept.summary() and "input's colours" in kept.summary()
    assert "colours" not in plain.network and "style 0" not in plain.network
    inp, out = read_frames(src), read_frames(tmp_path / "kept.mp4")
    assert out.shape == inp.shape
    # the painting's palette would move the chroma far; here only the brightness changed
    assert np.abs(chroma(out) - chroma(inp)).mean() < 3
    assert np.abs(out.astype(float) - inp.astype(float)).mean() > 5


def test_a_ready_stylizer_is_used_as_built_and_a_different_ask_is_refused(tmp_path, model):
    src = make_video(tmp_path / "in.mp4", frames=3, size=(64, 48))
    stylizer = Stylizer.from_model(model, device="cpu", keep_colors=True)
    with pytest.raises(VidstyleError, match="do not apply to a ready stylizer: set them with its set_look"):
        stylize_video(src, tmp_path / "a.mp4", stylizer, style_strength=0.5, progress=False)
    assert not (tmp_path / "a.mp4").exists()
    # the same ask as it was built with is fine
    stylize_video(src, tmp_path / "b.mp4", stylizer, keep_colors=True, temporal="off", progress=False)
    image = colourful()
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    result = stylize_image(tmp_path / "in.png", tmp_path / "out.png", stylizer)
    assert "input's colours" in result.summary()


def test_cli_options_reach_the_output(tmp_path, cli):
    image = colourful(64, 96)
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def run(*args):
        return cli("stylize", tmp_path / "in.png", "--style", "light_mondrian", "--device", "cpu", *args)

    done = run("-o", str(tmp_path / "none.png"), "--style-strength", "0")
    assert done.returncode == 0, done.stderr
    none = cv2.cvtColor(cv2.imread(str(tmp_path / "none.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(none, image) and "style 0" in done.stderr
    done = run("-o", str(tmp_path / "kept.png"), "--keep-colors")
    assert done.returncode == 0, done.stderr
    kept = cv2.cvtColor(cv2.imread(str(tmp_path / "kept.png")), cv2.COLOR_BGR2RGB)
    assert np.abs(chroma(kept) - chroma(image)).mean() < 2.5 and np.abs(kept.astype(float) - image).mean() > 5
    bad = run("-o", str(tmp_path / "bad.png"), "--style-strength", "1.5")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--style-strength: must be between 0 and 1, got 1.5" in bad.stderr
    assert not (tmp_path / "bad.png").exists()


# --- live ------------------------------------------------------------------------------------------

def test_live_keys_change_the_look_of_the_next_frames(model):
    controls = LiveControls(1)
    for key in "[[[c":
        controls.handle(ord(key))
    assert (controls.style_strength, controls.keep_colors) == (0.7, True)
    assert controls.look_text() == "style 0.7  input colours"
    for key in "]]]]c":
        controls.handle(ord(key))
    assert (controls.style_strength, controls.keep_colors, controls.look_text()) == (1.0, False, "")

    stylizer = Stylizer.from_model(model, device="cpu", precision="fp32")
    seen = []
    original = stylizer.stylize

    def spy(image):
        seen.append((stylizer.style_strength, stylizer.keep_colors))
        return original(image)

    stylizer.stylize = spy
    presses = iter("x[c")  # one key after each frame
    messages = []
    run_live(SyntheticSource((64, 48), fps=60, frames=4, realtime=False), StyleBank([stylizer]),
             LiveOptions(window=False, style_strength=0.5), keys=lambda: ord(next(presses, "\0")),
             log=messages.append)
    # warm-up and frames 1-2 at the starting 0.5, then 0.4, then 0.4 with the input's colours
    assert seen == [(0.5, False)] * 3 + [(0.4, False), (0.4, True)]
    assert messages[0].endswith(", style 0.5") and "style strength 0.4, input colours" in messages


def test_live_leaves_a_ready_stylizers_own_look_unless_asked(model):
    stylizer = Stylizer.from_model(model, device="cpu", precision="fp32", keep_colors=True, style_strength=0.6)
    run_live(SyntheticSource((64, 48), fps=60, frames=2, realtime=False), StyleBank([stylizer]),
             LiveOptions(window=False), keys=lambda: -1)
    assert (stylizer.style_strength, stylizer.keep_colors) == (0.6, True)
    run_live(SyntheticSource((64, 48), fps=60, frames=2, realtime=False), StyleBank([stylizer]),
             LiveOptions(window=False, style_strength=0.3), keys=lambda: -1)
    assert (stylizer.style_strength, stylizer.keep_colors) == (0.3, False)  # what was asked for, both


def test_blend_style_works_in_the_wider_of_the_two_precisions():
    torch.manual_seed(3)
    content = torch.rand(1, 3, 8, 8) * 0.5 + 0.25
    styled = (torch.rand(1, 3, 8, 8) * 0.5 + 0.25).to(torch.bfloat16)
    out = blend_style(content, styled, 0.5, keep_colors=True)
    assert out.dtype == torch.float32
    exact = blend_style(content, styled.float(), 0.5, keep_colors=True)
    assert torch.allclose(out, exact, atol=1e-6)  # the frame was not rounded to bf16 on the way
