"""Every bundled style's meta is checked against the real weights file and network."""
import pytest
import torch

from vidstyle.models.transformer import BUILDERS, count_parameters
from vidstyle.models.weights import load_model, read_info
from vidstyle.models.zoo import Styles, bundled_files, resolve_style
from vidstyle.stylizer import Stylizer


def test_every_bundled_file_has_an_entry_and_back():
    files = {p.name for p in bundled_files()}
    entries = {s.value.file for s in Styles}
    assert files == entries
    assert len([s for s in Styles if s.value.builder == "transformer_net"]) >= 6


@pytest.mark.parametrize("entry", list(Styles), ids=lambda s: s.name)
def test_meta_matches_the_real_model(entry):
    style = entry.value
    info = read_info(style.path)
    model, _ = load_model(style.path)
    built = BUILDERS[style.builder](num_styles=len(info.styles))
    assert model.arch_args == built.arch_args  # the file holds exactly the builder's architecture
    assert count_parameters(model) == count_parameters(built) == style.meta["num_params"]
    header = info.styles[0]
    for key in ("painting", "artist", "year"):
        assert header[key] == style.meta[key]
    assert info.metrics["steps"] == style.meta["steps"]
    measured = next(iter(info.metrics["held_out"].values()))
    for key in ("content", "style"):
        assert measured[key] == pytest.approx(style.meta["held_out"][key], abs=1e-3)
    assert info.train_command.startswith("vidstyle train ")
    assert f"--steps {style.meta['steps']}" in info.train_command
    assert "--style-weight 2 " in info.train_command and "--temporal-weight 100" in info.train_command
    # a bundled style resolves by name and stylizes (the output is not the input)
    choice = resolve_style(header["name"])
    assert choice.path == style.path
    img = (torch.rand(48, 64, 3) * 255).to(torch.uint8).numpy()
    out = Stylizer(choice, device="cpu", backend="torch").stylize(img)
    assert out.shape == img.shape and (out.astype(int) - img).any()


def test_weights_are_stored_in_half_precision_to_keep_the_wheel_small():
    from safetensors import safe_open

    for p in bundled_files():
        with safe_open(str(p), "pt") as f:
            dtypes = {f.get_tensor(k).dtype for k in f.keys()}
        assert dtypes == {torch.float16}
