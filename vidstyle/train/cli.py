"""``vidstyle train`` and ``vidstyle optimize``: argument parsing only; the work is in the library."""
from __future__ import annotations

import argparse
import sys

from vidstyle.cli_args import COMMAND_HELP
from vidstyle.cli_args import add_device_args as _add_device_args
from vidstyle.cli_args import non_negative_float as _non_negative_float
from vidstyle.cli_args import non_negative_int as _non_negative_int
from vidstyle.cli_args import once
from vidstyle.cli_args import positive_float as _positive_float
from vidstyle.cli_args import positive_int as _positive_int
from vidstyle.cli_args import path as path_arg
from vidstyle.cli_args import split_commas
from vidstyle.errors import counted, printable
from vidstyle.models.archs import ARCH_NAMES, LOSS_NETWORKS, WEIGHTS_ENV, default_style_weight
from vidstyle.train.config import (CROP_MODES, OptimizeConfig, TrainConfig, earlier_run_files,
                                   resumes_another_run)


def _add_loss_args(p: argparse.ArgumentParser, defaults, per_net_style_weight: bool = False) -> None:
    """Loss options; ``per_net_style_weight``: --style-weight defaults to the loss network's own."""
    p.add_argument("--content-weight", type=_non_negative_float, default=defaults.content_weight,
                   help=f"content loss weight (default {defaults.content_weight:g})")
    if per_net_style_weight:
        per_net = ", ".join(f"{default_style_weight(n):g} for {n}" for n in LOSS_NETWORKS)
        style_help = f"style loss weight (default: {per_net}; losses are normalised per layer, so one value " \
                     f"suits every painting)"
    else:
        style_help = f"style loss weight (default {defaults.style_weight:g})"
    p.add_argument("--style-weight", type=_non_negative_float,
                   default=None if per_net_style_weight else defaults.style_weight, help=style_help)
    p.add_argument("--tv-weight", type=_non_negative_float, default=defaults.tv_weight,
                   help=f"total-variation weight (default {defaults.tv_weight:g})")
    p.add_argument("--content-layers", help="comma-separated loss-network layers (default: the loss network's: "
                                            "stage3 for EfficientNet-Lite0, relu3_3 for the VGG16s)")
    p.add_argument("--style-layers", help="comma-separated layers, each optionally layer:weight (default: the loss "
                                          "network's: stem,stage2,stage3,stage4 for EfficientNet-Lite0, "
                                          "relu1_2,relu2_2,relu3_3,relu4_3 for the VGG16s)")
    p.add_argument("--loss-net", default=defaults.loss_net, choices=LOSS_NETWORKS,
                   help=f"loss network (default {defaults.loss_net})")
    p.add_argument("--smooth-activations", action=argparse.BooleanOptionalAction, default=None,
                   help="softmax-smooth the loss network's activations before the Gram matrices (Wang et al. "
                        "2021); off by default: on EfficientNet-Lite0's peaked activations it flattens the style loss")
    p.add_argument("--loss-weights", metavar="FILE",
                   help=f"converted loss-network weights (safetensors written by "
                        f"vidstyle.models.lossnets.export_loss_weights) instead of the pip package; also read "
                        f"from ${WEIGHTS_ENV}")


def given_layers(text: str | None) -> list[str] | None:
    """``--content-layers``: None when left out (the loss network's own), else its layers, even
    none (",": refused by resolve_layers rather than taken as the defaults)."""
    return None if text is None else split_commas(text)


def given_layer_weights(text: str | None) -> dict[str, float] | None:
    """``--style-layers`` as :func:`given_layers` takes ``--content-layers``, with weights."""
    from vidstyle.train.config import parse_layer_weights

    return None if text is None else parse_layer_weights(text)


# --- train ---------------------------------------------------------------------------------------

def add_train_parser(subparsers) -> None:
    d = TrainConfig(styles=[], content="", out="")
    p = subparsers.add_parser(
        "train", help=COMMAND_HELP["train"],
        description="Train a feed-forward style network on a folder of photos. Several --style images "
                    "make one multi-style network (conditional instance norm) that can blend them.")
    p.add_argument("--style", action="append", required=True, metavar="IMAGE", type=path_arg,
                   help="style image (painting); repeat for a multi-style network")
    p.add_argument("--content", required=True, metavar="DIR", type=path_arg,
                   action=once("put the photos in one folder, subfolders included: it is searched recursively"),
                   help="folder of photos (searched recursively)")
    p.add_argument("--out", "-o", "--output", dest="out", required=True, type=path_arg,
                   help="output weights file (.safetensors), in an existing folder; --output as in stylize")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it exists (implied by --resume of the run that writes OUT, not by a "
                        "checkpoint of another folder's run), and delete the checkpoints and previews an earlier run "
                        "left in the checkpoint folder")
    p.add_argument("--arch", default=d.arch, choices=list(ARCH_NAMES),
                   help=f"network: light (real-time on CPU; total stride 8), light-s4 (light with a total stride "
                        f"of 4, as the standard network: texture that stays put under the temporal loss; 1.3-1.8x "
                        f"light's time), light-full (light with full instead of depthwise-separable residual "
                        f"convolutions: 4.3x the parameters at 1/8 resolution), "
                        f"light-aa (light with anti-aliased resampling: "
                        f"texture that moves with the picture; up to 30%% slower, less texture), light-aa-down / "
                        f"light-aa-up (one half of light-aa, for comparison) or standard (Johnson et al.) "
                        f"(default {d.arch})")
    p.add_argument("--image-size", type=_positive_int, default=d.image_size,
                   help=f"training crop size in pixels (default {d.image_size})")
    p.add_argument("--style-size", type=_positive_int,
                   help="shorter side of the style image in pixels (default: --image-size); smaller gives "
                        "larger strokes")
    p.add_argument("--crops", choices=CROP_MODES, default=d.crops,
                   help="how the crops are taken from the photos: zoom, a random 80-100%% of the photo's shorter "
                        "side at a random place; whole-side, the whole shorter side, as vidstyle trained before "
                        f"this option (the bundled styles) (default {d.crops})")
    p.add_argument("--batch-size", "--batch", dest="batch_size", type=_positive_int, default=d.batch_size,
                   help=f"photo crops per optimizer step (default {d.batch_size})")
    p.add_argument("--steps", type=_positive_int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    p.add_argument("--lr", type=_positive_float, default=d.lr, help=f"Adam learning rate (default {d.lr:g})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    _add_loss_args(p, d, per_net_style_weight=True)
    p.add_argument("--temporal-weight", type=_non_negative_float, default=d.temporal_weight,
                   help="weight of the temporal-consistency loss (default 0 = off); its frame pairs are "
                        "synthetic camera motions of the photos, plus real frames with --temporal-videos")
    p.add_argument("--temporal-feature-weight", type=_non_negative_float, default=d.temporal_feature_weight,
                   help="weight of the feature-level temporal loss (ReCoNet; default 0 = off): the features "
                        "the decoder starts from, warped between the same frame pairs; alone or beside "
                        "--temporal-weight")
    p.add_argument("--temporal-videos", action="append", default=[], metavar="PATH",
                   help="a video file or a folder of videos (repeatable) whose consecutive frames, with "
                        "DIS flow cached under $VIDSTYLE_CACHE/flow (else $XDG_CACHE_HOME/vidstyle/flow, else "
                        "~/.cache/vidstyle/flow), feed the temporal loss")
    p.add_argument("--video-fraction", type=float, default=d.video_fraction,
                   help=f"share of each batch's temporal pairs taken from --temporal-videos "
                        f"(default {d.video_fraction:g}; the rest are synthetic)")
    p.add_argument("--temporal-noise", type=_non_negative_float, default=d.temporal_noise,
                   help=f"synthetic pairs: largest sigma of the Gaussian noise added to each frame, in [0, 1] "
                        f"units (default {d.temporal_noise:g}); the network learns to ignore noise this large")
    p.add_argument("--temporal-objects", type=_non_negative_float, default=d.temporal_objects, metavar="SHARE",
                   help="synthetic pairs: the share (0-1) with an object moving on its own in front of the scene, "
                        "which uncovers background hidden in the first frame, as real scenes do and a camera's "
                        f"motion alone never does (default {d.temporal_objects:g})")
    p.add_argument("--temporal-perspective", type=_non_negative_float, default=d.temporal_perspective,
                   metavar="TILT", help="synthetic pairs: the largest perspective tilt of the camera's motion, "
                                        "its scale changing by up to TILT across the frame (0-0.5; default "
                                        f"{d.temporal_perspective:g}: shifts, turns and zooms only)")
    p.add_argument("--checkpoint-every", type=_non_negative_int, default=d.checkpoint_every,
                   help=f"save a resumable checkpoint every N steps, 0 = never (default {d.checkpoint_every})")
    p.add_argument("--checkpoint-dir", help="where checkpoints and previews go (default: OUT without its suffix "
                                            "+ '.train', beside OUT)")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from CHECKPOINT, or from the latest one in the checkpoint folder")
    p.add_argument("--init-from", metavar="WEIGHTS",
                   help="start from a trained .safetensors file, or a bundled style's name, of the same --arch "
                        "(fine-tuning; a single-style file can start every style of a multi-style network)")
    p.add_argument("--preview-every", type=_non_negative_int, default=d.preview_every,
                   help="write a PNG grid of held-out photos every N steps (default 0 = never)")
    _add_device_args(p, training=True)
    p.add_argument("--style-name", action="append", default=[], help="style name, one per --style "
                                                                        "(default, or blank: the image file name)")
    p.add_argument("--painting", action="append", default=[], help="painting title, one per --style")
    p.add_argument("--artist", action="append", default=[], help="artist, one per --style")
    p.add_argument("--year", action="append", default=[], help="year, one per --style")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (on a terminal), no progress lines (in a log) and no summary at the end")
    p.set_defaults(func=_cmd_train, check=_check_train)


def style_metadata(styles: list[str], names: list[str], paintings: list[str], artists: list[str],
                   years: list[str]) -> list[dict]:
    """One metadata dict per style from the repeatable --style-name/--painting/--artist/--year options."""
    from vidstyle.errors import VidstyleError

    for flag, values in (("--style-name", names), ("--painting", paintings), ("--artist", artists),
                         ("--year", years)):
        if values and len(values) != len(styles):
            raise VidstyleError(f"give {flag} once per --style: {len(styles)} --style, {len(values)} {flag}")
    out = []
    for i in range(len(styles)):
        meta = {}
        for key, values in (("name", names), ("painting", paintings), ("artist", artists), ("year", years)):
            if values:
                meta[key] = values[i]
        out.append(meta)
    return out


def train_config(args):
    """The :class:`~vidstyle.train.loop.TrainConfig` of parsed ``vidstyle train`` options."""

    return TrainConfig(
        styles=args.style, content=args.content, out=args.out, arch=args.arch, image_size=args.image_size,
        style_size=args.style_size, batch_size=args.batch_size, steps=args.steps, lr=args.lr, seed=args.seed,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        content_layers=given_layers(args.content_layers), style_layers=given_layer_weights(args.style_layers),
        loss_net=args.loss_net, loss_weights=args.loss_weights,
        smooth_activations=args.smooth_activations, temporal_weight=args.temporal_weight,
        temporal_feature_weight=args.temporal_feature_weight,
        temporal_videos=args.temporal_videos, video_fraction=args.video_fraction,
        temporal_noise=args.temporal_noise, temporal_objects=args.temporal_objects,
        temporal_perspective=args.temporal_perspective, crops=args.crops,
        checkpoint_every=args.checkpoint_every, checkpoint_dir=args.checkpoint_dir, resume=args.resume,
        init_from=args.init_from,
        preview_every=args.preview_every, device=args.device, precision=args.precision,
        style_meta=style_metadata(args.style, args.style_name, args.painting, args.artist, args.year))


def _check_files(output: str, inputs, overwrite: bool, images, content_folder: str | None = None) -> None:
    """The output's path, the content folder and each image of a `vidstyle train` or `optimize`
    run, said before torch's import (seconds); the run checks them again, as it checks every call."""
    from vidstyle.io.files import check_file, check_output_file
    from vidstyle.train.config import check_content_folder

    check_output_file(output, inputs=inputs, overwrite=overwrite)
    if content_folder is not None:
        check_content_folder(content_folder)
    for image in images:
        check_file(image, "image")


def _check_train(args) -> dict:
    # the style metadata's count first, then the output's name and the settings (validate), and
    # the files after them, as before these checks came ahead of torch's import
    config = train_config(args)
    config.validate()
    # an earlier run's checkpoints before its output, as train() says them: that message says
    # what --resume and --overwrite do
    earlier_run_files(config.work_dir(), config.resume, args.overwrite)
    # (a resumed run replaces its own earlier output, not another run's)
    replaces = args.overwrite or (bool(args.resume) and not resumes_another_run(config.work_dir(), args.resume))
    _check_files(args.out, [*args.style, args.init_from], replaces, args.style, content_folder=args.content)
    return {"config": config}


def _cmd_train(args, config=None) -> int:
    from vidstyle.train.loop import TrainingInterrupted, train

    config = config or train_config(args)
    try:
        result = train(config, progress=not args.quiet, overwrite=args.overwrite)
    except TrainingInterrupted as exc:
        print(f"vidstyle: interrupted; {printable(exc)}", file=sys.stderr)
        return 130
    if args.quiet:
        return 0
    if not result.written:
        print(printable(f"{result.out} already holds this run's model, trained to step {result.steps}: left as it "
                        "was (a larger --steps trains on)"), file=sys.stderr)
    else:
        held = "; ".join(f"{name}: content {v['content']:.3f}, style {v['style']:.3f}"
                         for name, v in result.metrics["held_out"].items())
        # None when a resumed run had no step left and its model was not there to take the speed from
        rate = result.metrics["images_per_s"]
        print(printable(f"wrote {result.out} ({counted(result.steps, 'step')}" + (f", {rate} images/s" if rate else "")
                        + f"); held-out losses: {held}"), file=sys.stderr)
    print(printable(use_text(str(result.out), [m["name"] for m in config.styles_metadata()])), file=sys.stderr)
    return 0


def use_text(out: str, names: list[str]) -> str:
    """The line after training's summary that says how the new model is used: where a run ends, the
    user's next step is stylizing with it, and a multi-style file's blend syntax is not guessable."""
    import shlex

    text = f"use it: vidstyle stylize INPUT -o OUTPUT --style {shlex.quote(out)}"
    if len(names) > 1:  # its path alone runs its first style
        text += (f" (its first style, {names[0]}); --style {shlex.quote(f'{out}:{names[1]}')} for another, "
                 f"--style {shlex.quote(f'{out}:{names[0]}=0.7,{names[1]}=0.3')} to blend them")
    return text


# --- optimize --------------------------------------------------------------------------------------

def add_optimize_parser(subparsers) -> None:

    d = OptimizeConfig(style="", content="")
    p = subparsers.add_parser(
        "optimize", help=COMMAND_HELP["optimize"],
        description="Optimise the pixels of a photo so its loss-network activations match the photo (content) "
                    "and the painting's Gram matrices (style): the slow reference a trained network is compared to.")
    p.add_argument("--style", required=True, metavar="IMAGE", type=path_arg, action=once(),
                   help="style image (painting)")
    p.add_argument("--content", required=True, metavar="IMAGE", type=path_arg, action=once(), help="photo to stylize")
    p.add_argument("-o", "--output", required=True, type=path_arg, help="output image (.png, .jpg, .webp, .bmp, .tif), in an existing folder")
    p.add_argument("--image-size", type=_positive_int, default=d.image_size,
                   help=f"shorter side of the photo in pixels (default {d.image_size})")
    p.add_argument("--style-size", type=_positive_int, help="shorter side of the style image (default: --image-size)")
    p.add_argument("--steps", type=_positive_int, default=d.steps, help=f"iterations (default {d.steps})")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default=d.optimizer, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=_positive_float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", choices=["content", "noise"], default=d.init,
                   help=f"start from the photo or from noise (default {d.init})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"random seed of the noise --init noise starts from (default {d.seed})")
    _add_loss_args(p, d)
    _add_device_args(p, fp32_only=True)  # L-BFGS needs exact gradients
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=_cmd_optimize, check=_check_optimize)


def optimize_config(args) -> OptimizeConfig:
    """The :class:`~vidstyle.train.config.OptimizeConfig` of parsed ``vidstyle optimize`` options."""
    return OptimizeConfig(
        style=args.style, content=args.content, image_size=args.image_size, style_size=args.style_size,
        steps=args.steps, optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        content_layers=given_layers(args.content_layers), style_layers=given_layer_weights(args.style_layers),
        loss_net=args.loss_net, loss_weights=args.loss_weights,
        smooth_activations=args.smooth_activations, device=args.device, precision=args.precision)


def _check_optimize(args) -> dict:
    from vidstyle.train.config import check_image_output_name

    # the settings first, as before these checks came ahead of torch's import; then the output's
    # name ("o.txt" said as such, not as a missing photo), then the files
    config = optimize_config(args)
    config.validate()
    check_image_output_name(args.output)
    _check_files(args.output, (args.content, args.style), args.overwrite, (args.content, args.style))
    from vidstyle.io.images import check_still
    from vidstyle.train.config import ANIMATED_PHOTO_ADVICE

    check_still(args.content, advice=ANIMATED_PHOTO_ADVICE)  # said before torch's import, as the files are
    return {"config": config}


def _cmd_optimize(args, config=None) -> int:
    from vidstyle.train.optimize import optimize_file

    config = config or optimize_config(args)
    result = optimize_file(config, args.output, overwrite=args.overwrite, progress=sys.stderr.isatty())
    print(f"wrote {printable(args.output)}: content loss {result['content']:.3f}, style loss {result['style']:.3f}",
          file=sys.stderr)
    return 0
