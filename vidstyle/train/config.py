"""The training and optimisation runs' settings, without torch: ``vidstyle train --help`` and
``vidstyle optimize --help`` read their defaults, and a weights file stores a run's
:class:`TrainConfig` (``train_config``) beside the network, as nanoGPT keeps its config."""
from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from vidstyle.config import is_torch_device
from vidstyle.errors import MissingFileError, VidstyleError
from vidstyle.models.archs import ARCH_NAMES, ARCH_SIZE_MULTIPLES, DEFAULT_LOSS_NET, default_style_weight

if TYPE_CHECKING:  # (a type: these settings are read without torch)
    import torch

#: Bounds that stop a typo (an extra zero or three) before it takes all the memory or overflows.
MAX_IMAGE_SIZE = 4096
MAX_BATCH_SIZE = 1024
#: Steps of one run (train) or iterations (optimize): a typo of digits trained for ever; the
#: bundled recipes take 1500-40000
MAX_STEPS = 10_000_000
MAX_LR = 10.0  # Adam steps of that size already wreck any network; larger ones overflow fp32
#: The smallest photo and painting (shorter side) ``vidstyle optimize`` takes.
MIN_OPTIMIZE_SIZE = 16
#: The largest loss weight of ``vidstyle optimize``: its losses are relative (about 1 each), so
#: weights of 1e30 only overflow L-BFGS's gradients, and the photo came back unchanged as if optimised.
MAX_LOSS_WEIGHT = 1e6
#: What `vidstyle optimize` says of an animation given as its photo (--content).
ANIMATED_PHOTO_ADVICE = "optimize paints one photo; save the frame you want as a still image"
#: the largest --temporal-perspective: the homography's scale stays at least 0.5 across the frame
MAX_PERSPECTIVE = 0.5
#: How training crops are taken (``vidstyle train --crops``): "zoom" as
#: :data:`vidstyle.train.data.MAX_ZOOM` says; "whole-side", each crop the photo's whole shorter
#: side, is how runs before that option trained (the bundled styles among them).
CROP_MODES = ("zoom", "whole-side")


def number_text(value: float) -> str:
    """``value`` as short as it reads back exactly: the recorded command must resume its own run."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def layer_weights_text(style: dict[str, float]) -> str:
    """Style layers as ``--style-layers`` takes them."""
    return ",".join(k if w == 1.0 else f"{k}:{number_text(w)}" for k, w in style.items())


def parse_layer_weights(text: str | Sequence[str]) -> dict[str, float]:
    """``relu1_2,relu2_2:0.5`` (or a list of such items) -> {"relu1_2": 1.0, "relu2_2": 0.5}."""
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    out: dict[str, float] = {}
    for item in filter(None, (i.strip() for i in items)):
        name, _, weight = item.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise VidstyleError(f"bad layer weight in {item!r}: expected layer or layer:number (finite, 0 or more)")
        out[name.strip()] = value
    return out


def check_seed(seed: int) -> None:
    """A seed PyTorch's generators take (0 <= seed < 2**63), else one clear error."""
    if not 0 <= seed < 2 ** 63:
        raise VidstyleError(f"--seed must be between 0 and 2**63 - 1, got {seed}")


def check_weights_name(out: str | Path) -> None:
    """One clear error when ``out``, a trained network's file, is not named NAME.safetensors."""
    if Path(out).name == ".safetensors":  # (a hidden name without a suffix, to Path)
        raise VidstyleError(f"--out needs a name before .safetensors (my_style.safetensors), got {out}")
    if Path(out).suffix != ".safetensors":
        raise VidstyleError(f"--out must end in .safetensors, got {out}")


def check_image_output_name(output: str | Path) -> None:
    """One clear error when ``output``, an optimised picture, is not named as an image stylize writes."""
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS

    if Path(output).suffix.lower() not in IMAGE_OUTPUT_FORMATS:
        raise VidstyleError(f"output must be an image file ({', '.join(IMAGE_OUTPUT_FORMATS)}), got {output}")


def check_content_folder(folder: str | Path) -> Path:
    """``folder`` as a Path when it is a folder (of training photos); else one clear error."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VidstyleError(f"content folder is a file, not a folder of photos: {folder}")
    if not folder.is_dir():  # a FileNotFoundError too, as every file or folder named that is not there
        raise MissingFileError(f"content folder not found: {folder}")
    return folder


def numbered_checkpoints(work: Path) -> list[Path]:
    """The run's own checkpoints in ``work`` (``checkpoint_<step>.pt``), oldest step first.

    By the step's number, not the name's letters: a file a user put beside them
    (``checkpoint_backup.pt``) sorted after every step, so --resume went back to it and the
    clean-up deleted real checkpoints to keep it."""
    from vidstyle.models.weights import CHECKPOINT_NAME

    found = [p for p in work.glob("checkpoint_*.pt") if CHECKPOINT_NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: int(p.stem.removeprefix("checkpoint_")))


def resumes_another_run(work: Path, resume: str | None) -> bool:
    """Whether ``resume`` (--resume: "auto", a checkpoint file, or None) names a checkpoint of
    another run than the one whose checkpoint folder is ``work``: a file in another folder. Such a
    run starts this output and folder from it, so a model already written there and the
    checkpoints kept there are another run's, replaced only with --overwrite (they were replaced,
    and deleted as the oldest, without a word). A name that is no checkpoint (a folder, a missing
    file, a model: not the zip archive torch.save writes) is not judged here: the resume says
    what is wrong with it."""
    import zipfile

    from vidstyle.io.files import same_file  # here: the train command's parser imports this module

    if not resume or resume == "auto":
        return False
    path = Path(resume)
    return path.is_file() and zipfile.is_zipfile(path) and not same_file(path.parent, work)


def earlier_run_files(work: Path, resume: str | None, overwrite: bool) -> list[Path]:
    """The checkpoints and previews an earlier run left in ``work``, which a fresh run (or one
    resumed from another folder's checkpoint: :func:`resumes_another_run`) deletes with
    ``overwrite`` and refuses to start beside otherwise: its previews would sit among this run's
    under the same names' pattern (a run stopped before its first checkpoint leaves only those),
    its checkpoints could be what a later --resume continues.
    Said before the output that such a run left (`vidstyle train` checks it first, without
    torch): "OUT already exists; pass --overwrite" alone sent a user who came back for more
    steps to delete the checkpoints that --resume continues from."""
    if resume and not resumes_another_run(work, resume):
        return []
    checkpoints = numbered_checkpoints(work)  # not a checkpoint_backup.pt of the user's: --overwrite keeps it
    previews = sorted(work.glob("preview_*.png"))
    if checkpoints and not overwrite and resume:
        # --resume FILE of another folder's run: this folder's checkpoints are another run's, which
        # the resumed one's would sit among, and its "keep the last two" delete
        raise VidstyleError(f"{work} holds checkpoints of another run than the one --resume {resume} continues: "
                            "--overwrite to delete them (and its previews), or another --checkpoint-dir")
    if checkpoints and not overwrite:
        raise VidstyleError(f"{work} holds checkpoints of an earlier run: --resume to continue it, or "
                            "--overwrite to start afresh (which deletes them and its previews)")
    if previews and not overwrite:
        shown = previews[0].name + (f" to {previews[-1].name}" if len(previews) > 1 else "")
        if resume:  # (not "no checkpoint to --resume from: --overwrite to start afresh": it resumes FILE)
            raise VidstyleError(f"{work} holds previews of another run ({shown}) than the one --resume {resume} "
                                "continues: --overwrite to delete them, or another --checkpoint-dir")
        raise VidstyleError(f"{work} holds previews of an earlier run ({shown}) and no checkpoint to --resume "
                            "from: --overwrite to start afresh (which deletes them), or another --checkpoint-dir")
    return [*checkpoints, *previews]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored as ``train_config`` in the weights file)."""

    styles: list[str]
    content: str
    out: str
    arch: str = "light"
    image_size: int = 160
    style_size: int | None = None  # None: same as image_size
    batch_size: int = 4
    steps: int = 1500
    lr: float = 1e-3
    seed: int = 0
    content_weight: float = 1.0
    style_weight: float | None = None  # None: the loss network's default (default_style_weight)
    tv_weight: float = 0.001
    content_layers: list[str] | None = None  # None: the loss network's defaults
    style_layers: dict[str, float] | None = None  # layer -> weight; None: defaults, weight 1
    loss_net: str = DEFAULT_LOSS_NET
    loss_weights: str | None = None  # converted loss-network file (export_loss_weights)
    smooth_activations: bool | None = None  # None: the loss network's default (load_loss_network)
    temporal_weight: float = 0.0
    temporal_feature_weight: float = 0.0  # ReCoNet's feature-level term (the decoder's input features)
    temporal_videos: list[str] = field(default_factory=list)  # folders/files of real videos for pairs
    video_fraction: float = 0.5  # share of each batch's temporal pairs taken from temporal_videos
    temporal_noise: float = 0.02  # synthetic pairs: per-frame Gaussian noise, sigma drawn up to this
    temporal_objects: float = 0.0  # synthetic pairs: share with an object moving on its own in front
    temporal_perspective: float = 0.0  # synthetic pairs: largest perspective tilt of the camera's motion
    crops: str = "zoom"  # how crops are taken from the photos (data.CROP_MODES)
    checkpoint_every: int = 500
    checkpoint_dir: str | None = None  # None: "<out without suffix>.train" beside --out
    resume: str | None = None  # a checkpoint file, or "auto" for the latest in checkpoint_dir
    init_from: str | None = None  # a trained weights file to start from (fine-tuning)
    preview_every: int = 0
    device: str | torch.device = "auto"  # a name (vidstyle.device.resolve_device) or a torch.device
    precision: str = "auto"
    style_meta: list[dict] = field(default_factory=list)  # name, painting, artist, year per style

    def __post_init__(self) -> None:
        if self.style_weight is None:  # resolved here so the saved config and command state the value
            object.__setattr__(self, "style_weight", default_style_weight(self.loss_net))
        if is_torch_device(self.device):
            # kept as its name: the config is saved as JSON in each checkpoint and in the weights,
            # where a torch.device failed with a bare TypeError after the training steps
            object.__setattr__(self, "device", str(self.device))

    @property
    def temporal_pairs(self) -> bool:
        """Whether training uses frame pairs: a temporal term, output- or feature-level, is on."""
        return self.temporal_weight > 0 or self.temporal_feature_weight > 0

    def resolved_style_size(self) -> int:
        return self.style_size or self.image_size

    def work_dir(self) -> Path:
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir)
        out = Path(self.out)
        return out.with_name(out.stem + ".train")

    def layers(self) -> tuple[list[str], dict[str, float]]:
        """(content layers, style layer -> weight), defaults filled in."""
        from vidstyle.models.archs import resolve_layers

        return resolve_layers(self.loss_net, self.content_layers, self.style_layers)

    def command(self) -> str:
        """The ``vidstyle train`` command line that reproduces this run, every option explicit."""
        args = ["vidstyle", "train"]
        for s in self.styles:
            args += ["--style", s]
        args += ["--content", self.content, "--out", self.out, "--arch", self.arch,
                 "--image-size", str(self.image_size), "--style-size", str(self.resolved_style_size()),
                 "--batch-size", str(self.batch_size), "--steps", str(self.steps), "--lr", number_text(self.lr),
                 "--seed", str(self.seed), "--content-weight", number_text(self.content_weight),
                 "--style-weight", number_text(self.style_weight), "--tv-weight", number_text(self.tv_weight),
                 "--loss-net", self.loss_net]
        if self.loss_weights:  # fp16 copies of the package's weights: other numbers than the package's
            args += ["--loss-weights", str(self.loss_weights)]
        if self.smooth_activations is not None:
            args += ["--smooth-activations" if self.smooth_activations else "--no-smooth-activations"]
        content, style = self.layers()
        args += ["--content-layers", ",".join(content), "--style-layers", layer_weights_text(style)]
        if self.temporal_weight:
            args += ["--temporal-weight", number_text(self.temporal_weight)]
        if self.temporal_feature_weight:
            args += ["--temporal-feature-weight", number_text(self.temporal_feature_weight)]
        if self.temporal_videos:
            for v in self.temporal_videos:
                args += ["--temporal-videos", v]
            args += ["--video-fraction", number_text(self.video_fraction)]
        if self.temporal_pairs and self.temporal_noise != TrainConfig.temporal_noise:
            args += ["--temporal-noise", number_text(self.temporal_noise)]
        if self.temporal_pairs and self.temporal_objects:
            args += ["--temporal-objects", number_text(self.temporal_objects)]
        if self.temporal_pairs and self.temporal_perspective:
            args += ["--temporal-perspective", number_text(self.temporal_perspective)]
        if self.crops != TrainConfig.crops:
            args += ["--crops", self.crops]
        if self.init_from:
            args += ["--init-from", self.init_from]
        if self.precision != "auto":  # bf16/fp16 autocast changes the numbers, so a reproduction needs it
            args += ["--precision", self.precision]
        for key, flag in (("name", "--style-name"), ("painting", "--painting"), ("artist", "--artist"),
                          ("year", "--year")):
            values = [str(m.get(key, "")) for m in self.style_meta]
            if any(values):  # each --style's, '' where it has none: as given
                for v in values:
                    args += [flag, v]
        return shlex.join(args)

    def validate(self) -> None:
        if not self.styles:
            raise VidstyleError("give at least one --style image")
        check_weights_name(self.out)
        try:  # the command is stored in the weights' metadata, which is UTF-8: refused now, not after training
            self.command().encode("utf-8")
        except UnicodeEncodeError as exc:
            raise VidstyleError(f"a file name is not valid UTF-8 ({exc.object[exc.start:exc.end]!r}), so it "
                                "cannot be recorded in the model: rename it") from None
        if self.arch not in ARCH_NAMES:
            raise VidstyleError(f"unknown --arch {self.arch!r} (choose from {', '.join(ARCH_NAMES)})")
        for name, v in (("--image-size", self.image_size), ("--batch-size", self.batch_size),
                        ("--steps", self.steps), ("--style-size", self.resolved_style_size())):
            if v <= 0:
                raise VidstyleError(f"{name} must be positive, got {v}")
        for name, v in (("--image-size", self.image_size), ("--style-size", self.resolved_style_size())):
            if v < 32:
                raise VidstyleError(f"{name} must be at least 32 pixels, got {v}")
        # sizes that would take all the memory before the first step (the OOM killer says nothing);
        # before the multiple's advice, which past them would name sizes past them too
        for name, v, most in (("--image-size", self.image_size, MAX_IMAGE_SIZE),
                              ("--style-size", self.resolved_style_size(), MAX_IMAGE_SIZE),
                              ("--batch-size", self.batch_size, MAX_BATCH_SIZE), ("--steps", self.steps, MAX_STEPS)):
            if v > most:
                raise VidstyleError(f"{name} must be at most {most}, got {v}")
        multiple = ARCH_SIZE_MULTIPLES[self.arch]  # the crops go through it unpadded
        if self.image_size % multiple:
            below = self.image_size // multiple * multiple
            raise VidstyleError(f"--image-size must be a multiple of {multiple} for --arch {self.arch}, got "
                                f"{self.image_size} (use {below if below >= 32 else below + multiple} or "
                                f"{below + multiple})")
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise VidstyleError(f"--lr must be a number > 0 and at most {MAX_LR:g}, got {self.lr}")
        check_seed(self.seed)
        for name, v in (("--content-weight", self.content_weight), ("--style-weight", self.style_weight),
                        ("--tv-weight", self.tv_weight), ("--temporal-weight", self.temporal_weight),
                        ("--temporal-feature-weight", self.temporal_feature_weight)):
            if not (math.isfinite(v) and v >= 0):
                raise VidstyleError(f"{name} must be a finite number >= 0, got {v}")
        if not (self.content_weight or self.style_weight or self.tv_weight or self.temporal_pairs):
            raise VidstyleError("every loss weight is 0, so there is nothing to learn: give --style-weight "
                                "(and --content-weight) a value above 0")
        if not 0.0 <= self.video_fraction <= 1.0:
            raise VidstyleError(f"--video-fraction must be between 0 and 1, got {self.video_fraction}")
        if not 0.0 <= self.temporal_noise <= 1.0:
            raise VidstyleError(f"--temporal-noise must be between 0 and 1, got {self.temporal_noise}")
        if not 0.0 <= self.temporal_objects <= 1.0:
            raise VidstyleError(f"--temporal-objects must be a share between 0 and 1, got {self.temporal_objects}")
        if not 0.0 <= self.temporal_perspective <= MAX_PERSPECTIVE:
            raise VidstyleError(f"--temporal-perspective must be between 0 and {MAX_PERSPECTIVE:g}, got "
                                f"{self.temporal_perspective}")
        if self.temporal_videos and not self.temporal_pairs:
            raise VidstyleError("--temporal-videos needs --temporal-weight (or --temporal-feature-weight) above 0 "
                                "(the pairs feed the temporal loss)")
        # a setting of a part that is off would be ignored without a word
        for flag, changed in (("--temporal-noise", self.temporal_noise != TrainConfig.temporal_noise),
                              ("--temporal-objects", self.temporal_objects != TrainConfig.temporal_objects),
                              ("--temporal-perspective",
                               self.temporal_perspective != TrainConfig.temporal_perspective)):
            if changed and not self.temporal_pairs:
                raise VidstyleError(f"{flag} needs --temporal-weight (or --temporal-feature-weight) above 0 (it "
                                    "shapes the temporal loss's synthetic pairs)")
        if self.crops not in CROP_MODES:
            raise VidstyleError(f"--crops must be one of {', '.join(CROP_MODES)}, got {self.crops!r}")
        if self.video_fraction != TrainConfig.video_fraction and not self.temporal_videos:
            raise VidstyleError("--video-fraction needs --temporal-videos (it is the share of pairs taken from them)")
        if self.style_meta and len(self.style_meta) != len(self.styles):
            raise VidstyleError("style metadata must have one entry per --style")
        names = [m["name"] for m in self.styles_metadata()]
        for path, name in zip(self.styles, names):  # the blend syntax file.safetensors:a=0.7,b=0.3 must be able to name it
            if not name.strip():  # (a blank --style-name is none: the painting's file name is taken)
                raise VidstyleError(f"{Path(path).name}'s file name makes a blank style name: give one with "
                                    "--style-name")
            if any(c in name for c in ",=:"):
                raise VidstyleError(f"style name {name!r} cannot be used in a blend (file:a=0.7,b=0.3): give one "
                                    "without ',', '=' or ':' with --style-name")
        if len(set(names)) != len(names):
            raise VidstyleError(f"style names must be unique, got {names} (set them with --style-name)")

    def styles_metadata(self) -> list[dict]:
        """One dict per style with at least a name (default: the image file's stem)."""
        out = []
        for i, path in enumerate(self.styles):
            meta = dict(self.style_meta[i]) if i < len(self.style_meta) else {}
            # blank is not given, "" or " " alike: a multi-style run's --style-name "" --style-name b
            # names the second only (and command() writes it so); " " was refused, "" took the file name
            meta = {k: v for k, v in meta.items() if v is not None and str(v).strip()}
            # stripped: the blend syntax (file:a=0.7,b=0.3) strips the names it is given
            meta["name"] = str(meta.get("name", Path(path).stem)).strip()
            out.append(meta)
        return out


@dataclass
class OptimizeConfig:
    """Everything that defines a ``vidstyle optimize`` run (:mod:`vidstyle.train.optimize`)."""

    style: str
    content: str
    image_size: int = 256
    style_size: int | None = None
    steps: int = 150
    optimizer: str = "lbfgs"
    lr: float | None = None
    init: str = "content"
    seed: int = 0
    content_weight: float = 1.0
    style_weight: float = 0.5
    tv_weight: float = 0.3
    content_layers: list[str] | None = None
    style_layers: dict[str, float] | None = None
    loss_net: str = DEFAULT_LOSS_NET
    loss_weights: str | None = None
    smooth_activations: bool | None = None  # None: the loss network's default
    device: str | torch.device = "auto"
    precision: str = "fp32"

    def layers(self) -> tuple[list[str], dict[str, float]]:
        """(content layers, style layer -> weight), defaults filled in."""
        from vidstyle.models.archs import resolve_layers

        return resolve_layers(self.loss_net, self.content_layers, self.style_layers)

    def validate(self) -> None:
        """One clear error for a setting out of its range, without torch: `vidstyle optimize` says it
        before it looks at the files (an output already there)."""
        # L-BFGS's line search fails inside PyTorch on a 1-pixel photo; and a smaller painting gives
        # Gram matrices of a few pixels and the convolutions' padding (--style-size 1 ran without a word)
        for name, v in (("--image-size", self.image_size), ("--style-size", self.style_size or self.image_size)):
            if v < MIN_OPTIMIZE_SIZE:
                raise VidstyleError(f"{name} must be at least {MIN_OPTIMIZE_SIZE} pixels, got {v}")
        for name, v, most in (("--image-size", self.image_size, MAX_IMAGE_SIZE),
                              ("--style-size", self.style_size or 0, MAX_IMAGE_SIZE), ("--steps", self.steps, MAX_STEPS)):
            if v > most:
                raise VidstyleError(f"{name} must be at most {most}, got {v}")
        if self.lr is not None and not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise VidstyleError(f"--lr must be a number > 0 and at most {MAX_LR:g}, got {self.lr}")
        check_seed(self.seed)
        for name, v in (("--content-weight", self.content_weight), ("--style-weight", self.style_weight),
                        ("--tv-weight", self.tv_weight)):
            if not (math.isfinite(v) and 0 <= v <= MAX_LOSS_WEIGHT):
                raise VidstyleError(f"{name} must be a number from 0 to {MAX_LOSS_WEIGHT:g}, got {v:g}")
        if not (self.content_weight or self.style_weight or self.tv_weight):
            raise VidstyleError("every loss weight is 0, so there is nothing to optimise: give --style-weight a value "
                                "above 0")
