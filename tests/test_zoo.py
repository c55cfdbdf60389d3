"""Every bundled style's meta is checked against the real weights file and network."""
import re

import pytest
import torch

from vidstyle.errors import BadValueError
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
    n = len(info.styles)
    built = BUILDERS[style.builder](num_styles=n)
    assert model.arch_args == built.arch_args  # the file holds exactly the builder's architecture
    assert count_parameters(model) == count_parameters(built) == style.meta["num_params"]

    def per_style(value):  # a multi-style entry lists one value per style, in the file's order
        return list(value) if n > 1 else [value]

    for key in ("painting", "artist", "year"):
        assert [s[key] for s in info.styles] == per_style(style.meta[key])
    if n > 1:
        assert info.style_names == list(style.meta["styles"])
    assert info.metrics["steps"] == style.meta["steps"]
    for measured, expected in zip(info.metrics["held_out"].values(), per_style(style.meta["held_out"]), strict=True):
        for key in ("content", "style"):
            assert measured[key] == pytest.approx(expected[key], abs=1e-3)
    assert info.train_command.startswith("vidstyle train ")
    assert f"--steps {style.meta['steps']}" in info.train_command
    # every recipe option the meta states is in the recorded command (loss network, weights, precision, style size)
    for option in re.findall(r"--(?:style|tv|temporal)-weight \S+|--loss-net \S+|--precision \S+|--style-size \S+",
                             style.meta["recipe"]):
        assert option + " " in info.train_command + " ", option
    # a bundled style resolves by name (a multi-style network by a blend of its styles) and stylizes
    names = info.style_names
    choice = resolve_style(names[0] if n == 1 else "mix:" + ",".join(f"{k}=1" for k in names))
    assert choice.path == style.path
    img = (torch.rand(48, 64, 3) * 255).to(torch.uint8).numpy()
    out = Stylizer(choice, device="cpu", backend="torch").stylize(img)
    assert out.shape == img.shape and (out.astype(int) - img).any()


@pytest.mark.parametrize("entry", list(Styles), ids=lambda s: s.name)
def test_every_bundled_network_still_scores_what_it_scored_when_trained(entry, shared_data):
    """The held-out losses recorded in a bundled file, measured again with the network as vidstyle
    runs it now: the same 20 photos, painting, loss network and layers as its training. A change to
    the networks' forward pass (a dropped skip, another padding), to how weights load, or to the
    losses would leave every style loadable and stylizing, but painting something else. Stored in
    half precision, the weights give the recorded numbers within 0.1%."""
    from pathlib import Path

    from vidstyle.models.lossnets import load_loss_network
    from vidstyle.train.data import held_out_tensor, load_style_image
    from vidstyle.train.loop import LossComputer, evaluate

    info = read_info(entry.value.path)
    recipe, cpu = info.train_config, torch.device("cpu")
    photos = [shared_data / "content" / name for name in recipe["held_out_files"]]
    paintings = [shared_data / "styles" / Path(p).name for p in recipe["styles"]]
    held = held_out_tensor(photos, recipe["image_size"], cpu)
    lossnet = load_loss_network(recipe["loss_net"], list(recipe["style_layers"]) + recipe["content_layers"],
                                smooth=recipe["smooth_activations"])
    losses = LossComputer(lossnet, recipe["content_layers"], recipe["style_layers"],
                          [load_style_image(p, recipe["style_size"], cpu) for p in paintings])
    model, _ = load_model(entry.value.path)
    measured = evaluate(model, losses, held, len(paintings))
    for name, now in zip(info.style_names, measured.values(), strict=True):
        for key in ("content", "style"):
            assert now[key] == pytest.approx(info.metrics["held_out"][name][key], rel=0.01), (name, key)


def test_weights_are_stored_in_half_precision_to_keep_the_wheel_small():
    from safetensors import safe_open

    for p in bundled_files():
        with safe_open(str(p), "pt") as f:
            dtypes = {f.get_tensor(k).dtype for k in f.keys()}
        assert dtypes == {torch.float16}


def test_plain_names_prefer_single_style_files_and_mix_finds_the_multi_style_file(tmp_path, monkeypatch):
    from vidstyle.models import zoo
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model

    multi, single = tmp_path / "a_multi.safetensors", tmp_path / "b_single.safetensors"
    save_model(multi, light_net(num_styles=2), [{"name": "starry"}, {"name": "scream"}])
    save_model(single, light_net(), [{"name": "starry"}])
    monkeypatch.setattr(zoo, "bundled_files", lambda: [multi, single])  # the multi file sorts first
    assert resolve_style("starry").path == single
    assert resolve_style("scream").path == multi  # only the multi-style file has it
    blend = resolve_style("mix:starry=0.7,scream=0.3")
    assert blend.path == multi and blend.mix == pytest.approx((0.7, 0.3))
    assert [i.path for i in zoo.bundled_multi_style()] == [str(multi)]


def test_a_misspelt_style_gets_a_suggestion_and_other_things_say_what_they_are(tmp_path):
    from PIL import Image

    from vidstyle.errors import VidstyleError

    for typo, meant in (("light_mondrain", "light_mondrian"), ("starry-night", "starry_night"),
                        ("Mondrian", "mondrian"), ("STARRY-NIGHT", "starry_night")):
        with pytest.raises(VidstyleError, match=f"did you mean '{meant}'"):
            resolve_style(typo)
    with pytest.raises(VidstyleError) as nothing_close:
        resolve_style("cubism")
    assert "did you mean" not in str(nothing_close.value)
    with pytest.raises(VidstyleError, match="is a folder; give a .safetensors model file"):
        resolve_style(str(tmp_path))
    painting = tmp_path / "painting.jpg"
    Image.new("RGB", (8, 8)).save(painting)
    with pytest.raises(VidstyleError, match=r"is an image: a style is a trained network.*vidstyle train --style painting\.jpg"):
        resolve_style(str(painting))
    # a video too (the input given as --style, or to --init-from): "not a valid safetensors model
    # file (Error while deserializing header: header too large)" did not say what it was
    from videos import make_video

    clip = make_video(tmp_path / "clip.mp4", frames=2, size=(32, 32))
    with pytest.raises(VidstyleError, match=r"clip.mp4 is a video, not a model: a style is a trained network"):
        resolve_style(str(clip))
    camera = clip.rename(tmp_path / "DSC_0001.MP4")  # as cameras name them
    with pytest.raises(VidstyleError, match=r"DSC_0001.MP4 is a video, not a model"):
        resolve_style(str(camera))


def test_huge_mix_weights_blend_as_their_ratio():
    choice = resolve_style("mix:starry_night=1e308,the_scream=1e308")  # their sum is infinite
    assert sum(choice.mix) == pytest.approx(1.0) and sorted(choice.mix)[-2:] == [0.5, 0.5]


def test_a_multi_style_file_alone_says_which_style_it_runs(tmp_path, caplog):
    import logging

    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model

    path = tmp_path / "pair.safetensors"
    save_model(path, light_net(2), styles=[{"name": "dawn"}, {"name": "dusk"}])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        choice = resolve_style(str(path))
        resolve_style(str(path))  # a run resolves its style more than once: told once
    told = [r.getMessage() for r in caplog.records if "holds 2 styles" in r.getMessage()]
    assert told == [f"pair.safetensors holds 2 styles; using its first, dawn (--style {path}:dawn=0.7,dusk=0.3 "
                    "blends them)"]  # a path that works from anywhere
    assert choice.short_label == "pair.safetensors:dawn=1" and resolve_style(choice.label).mix == choice.mix
    assert resolve_style(f"{path}:dusk=1").short_label == "pair.safetensors:dusk=1"


def test_a_label_names_a_users_file_called_like_a_bundled_style_as_a_path(tmp_path, monkeypatch):
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model

    monkeypatch.chdir(tmp_path)
    save_model(tmp_path / "mondrian", light_net(), styles=[{"name": "mine"}])
    choice = resolve_style("./mondrian")  # the user's own file, not the bundled style
    # Path("./mondrian") prints as "mondrian", which --style reads as the bundled network
    assert choice.label == choice.short_label == "./mondrian"
    assert resolve_style(choice.label).path.resolve() == (tmp_path / "mondrian").resolve()


def test_a_bare_bundled_name_wins_over_a_file_or_folder_of_that_name_here(tmp_path, monkeypatch):
    from vidstyle.errors import VidstyleError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mondrian").mkdir()  # e.g. the caller's output folder for that style
    (tmp_path / "light_mondrian").write_bytes(b"not a model")
    assert resolve_style("mondrian").path.resolve() == Styles.MONDRIAN.value.path.resolve()
    assert resolve_style("light_mondrian").path.resolve() == Styles.LIGHT_MONDRIAN.value.path.resolve()
    # a path names the file or folder
    with pytest.raises(VidstyleError, match="is a folder"):
        resolve_style("./mondrian")
    with pytest.raises(VidstyleError, match="not a valid safetensors model file"):
        resolve_style("./light_mondrian")
    from pathlib import Path

    with pytest.raises(VidstyleError, match="not a valid safetensors model file"):
        resolve_style(Path("light_mondrian"))  # a Path always names a file: str() drops the "./"
    from vidstyle.train.loop import init_from_path

    assert Path(init_from_path("mondrian")).resolve() == Styles.MONDRIAN.value.path.resolve()  # --init-from too


def test_styles_are_found_by_the_name_styles_lists():
    assert Styles("light_starry_night") is Styles.LIGHT_STARRY_NIGHT
    assert Styles("MONDRIAN") is Styles.MONDRIAN and Styles("mondrian.safetensors") is Styles.MONDRIAN
    assert Styles(Styles.MONDRIAN.value) is Styles.MONDRIAN
    with pytest.raises(ValueError, match="no bundled style 'cubism' \\(bundled: starry_night, "):
        Styles("cubism")
    with pytest.raises(BadValueError, match="no bundled style 'mondriaan': did you mean 'mondrian'"):
        Styles("mondriaan")


def test_mix_mistakes_are_named():
    from vidstyle.errors import VidstyleError

    with pytest.raises(VidstyleError, match=r"a style name is missing in '=0.5': expected name=number"):
        resolve_style("mix:=0.5")
    with pytest.raises(VidstyleError, match=r"holds 'starry_nite': did you mean 'starry_night'\? \(blendable: "):
        resolve_style("mix:starry_nite=1")
    with pytest.raises(VidstyleError, match=r"holds 'mondrian' \(blendable: .*the_scream"):
        resolve_style("mix:starry_night=1,mondrian=1")  # a bundled style, but of no multi-style network
    path = Styles.LIGHT_MIX.value.path
    with pytest.raises(VidstyleError, match=r"has no style 'the_screem': did you mean 'the_scream'\?"):
        resolve_style(f"{path}:the_screem=1")
    with pytest.raises(VidstyleError, match=r"^unknown style 'zzzz' \(bundled styles: "):  # no stray colon
        resolve_style("zzzz")


def test_the_blend_hint_of_any_multi_style_file_works_and_bundled_files_go_by_their_names(tmp_path, monkeypatch, caplog):
    """FILE:a=0.7,b=0.3 blends a multi-style file whatever its name (no .safetensors suffix, a ':'
    in a folder's name), as the first-style warning and `vidstyle styles` tell it to; an empty
    blend is an error, not the first style; a bundled file goes by its name as `vidstyle styles`
    and --init-from take it, unless a file of that name is here."""
    import logging

    from vidstyle.errors import VidstyleError
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model
    from vidstyle.models.zoo import StyleChoice

    monkeypatch.chdir(tmp_path)
    save_model(tmp_path / "pair", light_net(2), styles=[{"name": "dawn"}, {"name": "dusk"}])  # renamed, no suffix
    (tmp_path / "a:b=c.safetensors").mkdir()
    save_model(tmp_path / "a:b=c.safetensors" / "pair.safetensors", light_net(2),
               styles=[{"name": "dawn"}, {"name": "dusk"}])
    for path in ("pair", "./pair", str(tmp_path / "pair"), "a:b=c.safetensors/pair.safetensors"):
        hint = StyleChoice.blend_example(path, read_info(path))
        assert resolve_style(hint).mix == pytest.approx((0.7, 0.3))
        assert resolve_style(f"{path}:dusk").mix == (0.0, 1.0)
        with pytest.raises(BadValueError, match="empty style mix"):
            resolve_style(f"{path}:")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        resolve_style("pair")
    assert "--style pair:dawn=0.7,dusk=0.3 blends them" in caplog.text
    mix = Styles.LIGHT_MIX.value.path
    assert resolve_style("light_mix").path == resolve_style("light_mix.safetensors").path == mix
    assert resolve_style("light_mix.safetensors:the_scream").mix == (0.0, 1.0, 0.0, 0.0)
    # by its bare name too, as --style light_mix is taken ("unknown style 'light_mix:...'" before)
    blend = resolve_style("light_mix:starry_night=0.5,the_scream=0.5")
    assert blend.path == mix and blend.mix == resolve_style("mix:starry_night=0.5,the_scream=0.5").mix
    assert resolve_style("starry_night.safetensors").path == Styles.STARRY_NIGHT.value.path
    (tmp_path / "light_mix").write_bytes(b"not a model")  # a file here of a bundled file's name: that file
    with pytest.raises(VidstyleError, match="not a valid safetensors model file"):
        resolve_style("light_mix")


def test_the_network_names_said_without_torch_are_the_networks_own():
    """The torch-free tables (vidstyle.models.archs) name what vidstyle.models.transformer and
    vidstyle.models.lossnets build, and a bundled file's network is named as its architecture
    arguments name it."""
    from vidstyle.models import lossnets
    from vidstyle.models.archs import (ARCH_NAMES, ARCH_SIZE_MULTIPLES, ARCHITECTURE_NAMES, DEFAULT_LOSS_NET,
                                       LOSS_NETWORK_LAYERS, LOSS_NETWORKS, user_arch_name)
    from vidstyle.models.transformer import ARCHITECTURES, BUILDERS
    from vidstyle.models.weights import arch_name, read_info
    from vidstyle.models.zoo import network_name

    assert set(ARCHITECTURE_NAMES) == set(ARCHITECTURES)
    assert LOSS_NETWORKS == tuple(lossnets._SPECS) and DEFAULT_LOSS_NET in LOSS_NETWORKS
    assert set(ARCH_NAMES.values()) == set(BUILDERS)
    for name, builder in ARCH_NAMES.items():
        assert user_arch_name(builder) == name == arch_name(BUILDERS[builder]().arch_args)
        assert ARCH_SIZE_MULTIPLES[name] == BUILDERS[builder]().size_multiple
    assert set(ARCH_SIZE_MULTIPLES) == set(ARCH_NAMES) and set(LOSS_NETWORK_LAYERS) == set(LOSS_NETWORKS)
    for name, (style, content) in LOSS_NETWORK_LAYERS.items():  # layers the network has
        assert set(style) | set(content) <= set(lossnets._SPECS[name].taps)
    assert user_arch_name("not_a_builder") == "custom"
    for entry in Styles:
        info = read_info(entry.value.path)
        assert network_name(info) == arch_name(info.arch_args) != "custom"


def test_a_headers_painting_fields_of_other_kinds_are_described_not_a_traceback(tmp_path, cli):
    """`vidstyle styles FILE` on a hand-edited header (painting a number, artists fewer than
    paintings) ended in "IndexError: list index out of range" or "TypeError: sequence item 0";
    stylize ran the same file without a word."""
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model
    from vidstyle.models.zoo import painting_description

    assert painting_description({"painting": ["A", "B"], "artist": ["X"], "year": 1889}) == "A, X, 1889; B, 1889"
    assert painting_description({"painting": 5, "artist": "X", "year": None}) == "5, X"
    assert painting_description({"painting": ["A", "B"], "artist": "X"}) == "A, X; B, X"
    path = tmp_path / "edited.safetensors"
    save_model(path, light_net(), styles=[{"name": "s", "painting": ["A", "B"], "artist": ["X"]}])
    r = cli("styles", path)
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "  s: A, X; B", (r.stdout, r.stderr)


def test_a_style_choice_shows_as_what_it_paints_in_a_line(style):
    """Found by a review of the Python API: repr(stylizer.choice) was about 3000 characters, the
    weights file's training command, configuration and metrics dumped in full."""
    assert repr(resolve_style("light_mondrian")) == \
        "StyleChoice('light_mondrian', network='light', styles=['light_mondrian'])"
    assert repr(resolve_style("mix:starry_night=0.7,the_scream=0.3")) == (
        "StyleChoice('mix:starry_night=0.7,the_scream=0.3', network='light', "
        "styles=['starry_night', 'the_scream', 'woman_with_hat', 'contrast_of_forms'])")
    assert repr(resolve_style(style)) == f"StyleChoice({str(style)!r}, network='custom', styles=['random'])"
