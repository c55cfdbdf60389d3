"""The training loop of feed-forward style networks (Johnson et al. 2016; multi-style: Dumoulin et al. 2017).

One step: a batch of random content crops goes through the transformation network; the output's
loss-network activations are compared with the crops' (content loss) and with the Gram matrices of
the painting (style loss), plus total variation. With several styles the network has conditional
instance norms and every sample of a batch draws its own style.

Checkpoints hold the full state (network, Adam, grad scaler, step) as a plain tensor dictionary
loaded with ``torch.load(weights_only=True)``; since each step's randomness comes from
``(seed, step)`` (see :func:`vidstyle.train.data.step_generator`), resuming reproduces the
uninterrupted run.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import shlex
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vidstyle.cli_args import threads_given
from vidstyle.device import (autocast, cgroup_memory_limit, precision_name, resolve_device, resolve_precision,
                             synchronize, usable_memory)
from vidstyle.device import physical_memory as _physical_memory  # (tests stand in a machine of their own)
from vidstyle.errors import (MissingFileError, VidstyleError, closest_name, first_line, load_plain_values, printable,
                             torch_load_reason)
from vidstyle.frames import tensor_to_images
from vidstyle.io.files import (FolderReplaced, check_output_file, check_writable_folder, create_output_folder,
                               file_digest, folder_gone_error, folder_lock, folders_missing, write_then_rename)
from vidstyle.models.archs import ARCH_NAMES
from vidstyle.models.lossnets import SMOOTHED_BY_DEFAULT, LossNetwork, load_loss_network, loss_weights_file
from vidstyle.models.transformer import BUILDERS, TransformerNet
from vidstyle.models.weights import arch_name, as_trained, save_model
from vidstyle.signals import stop_signals_held
from vidstyle.train.config import (TrainConfig, earlier_run_files, layer_weights_text, number_text,
                                   numbered_checkpoints, resumes_another_run)
from vidstyle.train.data import (ContentImages, can_read, find_images, held_out_tensor, load_style_image,
                                 split_held_out, step_generator)
from vidstyle.train.losses import content_loss, gram_matrix, style_loss, total_variation
from vidstyle.train import temporal as temporal_api

log = logging.getLogger("vidstyle")

#: Held-out photos shown in preview grids.
PREVIEW_PHOTOS = 6
#: Training memory on the CPU grows by about this many bytes per pixel of each crop (the network's
#: and the loss network's activations and their gradients): peak RSS at --image-size 256 and 512,
#: --batch-size 4, EfficientNet-Lite0, 2-core Zen 3 (light 1.38 / 3.47 GB, standard 2.94 / 7.51 GB).
#: A lower bound (VGG16 loss networks and temporal pairs take more): a run past the machine's memory
#: is refused rather than killed without a word by the kernel (--image-size 4096 grew to 24 GB).
TRAIN_BYTES_PER_PIXEL = {"standard": 5800, "light": 2600}  # the other light architectures: light's
#: Without a terminal (a log file, nohup) a progress line is printed this often, and at each
#: checkpoint: a redrawn bar would fill the log with carriage-return updates.
PROGRESS_LINE_SECONDS = 30.0


@dataclass
class TrainResult:
    out: Path
    steps: int
    metrics: dict
    previews: list[Path]
    #: False when a resumed run had no step left and ``out`` already held its model, left as it was
    #: (``metrics`` are then the file's, measured when it was trained)
    written: bool = True


class LossComputer:
    """The weighted content, style and TV losses of one loss network, with cached style Grams."""

    def __init__(self, net: LossNetwork, content_layers: list[str], style_layers: dict[str, float],
                 style_images: list[torch.Tensor]):
        self.net = net
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.taps = list(dict.fromkeys(list(style_layers) + content_layers))
        with torch.no_grad():
            # targets[layer] is (num_styles, C, C)
            per_style = [{k: gram_matrix(v) for k, v in net(img, list(style_layers)).items()} for img in style_images]
        self.targets = {k: torch.cat([p[k] for p in per_style]) for k in style_layers}

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss network's content-layer features of ``content`` (B,3,H,W), without a graph."""
        with torch.no_grad():
            return self.net(content, self.content_layers)

    def __call__(self, output: torch.Tensor, content: torch.Tensor, style_index: torch.Tensor,
                 reduce: bool = True, targets: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Unweighted ``content``, ``style`` and ``tv`` losses of ``output`` vs ``content`` (both (B,3,H,W)).

        ``style_index`` (B,) picks each sample's style. ``targets``: :meth:`content_targets` of
        ``content`` when the caller scores it more than once (an optimisation's every evaluation,
        each style of a multi-style network), so the loss network does not see it again each time.
        """
        target = self.content_targets(content) if targets is None else targets
        feats = self.net(output, self.taps)
        grams = {k: v[style_index] for k, v in self.targets.items()}
        return {"content": content_loss(feats, target, self.content_layers, reduce=reduce),
                "style": style_loss(feats, grams, self.style_layers, reduce=reduce),
                "tv": total_variation(output, reduce=reduce)}


def _check_memory(config: TrainConfig) -> None:
    """Refuse a CPU run whose crops cannot fit in this machine's memory (:data:`TRAIN_BYTES_PER_PIXEL`)."""
    # a container's limit (docker --memory 4g on a 64 GB host) kills the run as surely as the
    # machine's memory does, and the machine's alone let such a run start
    total, where = usable_memory(_physical_memory(), cgroup_memory_limit())
    per_pixel = TRAIN_BYTES_PER_PIXEL.get(config.arch, TRAIN_BYTES_PER_PIXEL["light"])
    need = per_pixel * config.batch_size * config.image_size ** 2
    if total and need > total:
        raise VidstyleError(f"--image-size {config.image_size} at --batch-size {config.batch_size} needs at least "
                            f"{need / 2 ** 30:.0f} GiB of memory to train the {config.arch} network on the CPU, and "
                            f"{where} {total / 2 ** 30:.0f} GiB: give a smaller --image-size or --batch-size")


def build_network(arch: str, num_styles: int) -> TransformerNet:
    """A freshly initialised network (PyTorch's default initialisation, as in Johnson et al.)."""
    return BUILDERS[ARCH_NAMES[arch]](num_styles)


def _network_text(arch_args: dict) -> str:
    """A network as the options that build it: ``light, 2 styles``."""
    styles = arch_args.get("num_styles")
    name = arch_name(arch_args)
    return f"{arch_args if name == 'custom' else name}, {styles} style{'' if styles == 1 else 's'}"


def init_from_path(value: str | Path) -> str:
    """``--init-from``'s file: ``value`` itself, or the file of the bundled style it names."""
    from vidstyle.models.zoo import bundled_file, bundled_styles, is_bundled_name

    styles = bundled_styles()
    if is_bundled_name(value):  # as --style: the bundled style, whatever the current folder holds
        return str(styles[value.strip()].path)
    if not Path(value).exists() and (bundled := bundled_file(value)):  # a bundled file by name: light_mix
        return bundled
    if not Path(value).exists():
        guess = closest_name(str(value), styles)
        if guess and not str(value).endswith(".safetensors"):
            raise VidstyleError(f"--init-from {value}: no such file or bundled style; did you mean {guess!r}?")
    return str(value)


def init_from_file(net: TransformerNet, path: str | Path) -> None:
    """Copy a trained network's weights from ``path`` into ``net`` (same architecture).

    The numbers of styles may differ when the file has one style: its instance-norm parameters
    then start every style of a multi-style ``net`` (Dumoulin et al. 2017: styles share the
    convolutions and differ only in the norms, so a trained single-style network is a good start
    that learns the other styles much faster than random weights).
    """
    from vidstyle.models.weights import load_model

    src, info = load_model(init_from_path(path))
    ours = {k: v for k, v in net.arch_args.items() if k != "num_styles"}
    theirs = {k: v for k, v in src.arch_args.items() if k != "num_styles"}
    if ours != theirs:
        ours, theirs = arch_name(net.arch_args), arch_name(src.arch_args)
        if theirs == "custom":  # written by other code: its settings are all there is to show
            raise VidstyleError(f"--init-from {path} is a network no --arch trains ({src.arch_args}); this "
                                f"run trains {ours} (start from a {ours} network)")
        raise VidstyleError(f"--init-from {path} is a {theirs} network; this run trains {ours} (use --arch "
                            f"{theirs}, or start from a {ours} network)")
    if src.num_styles not in (1, net.num_styles):
        raise VidstyleError(f"--init-from {path}: a {src.num_styles}-style file can only start a network with "
                            f"{src.num_styles} styles, not {net.num_styles} (a single-style file starts any)")
    target = net.state_dict()
    with torch.no_grad():
        for name, value in src.state_dict().items():
            # (C,) instance-norm affine -> (num_styles, C) conditional instance norm: every style
            target[name].copy_(value.expand_as(target[name]) if value.shape != target[name].shape else value)


def _one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(index, n).float()


def _checkpoint_path(work: Path, step: int) -> Path:
    return work / f"checkpoint_{step:07d}.pt"


def latest_checkpoint(work: Path) -> Path | None:
    found = numbered_checkpoints(work)
    return found[-1] if found else None


def input_digests(styles: list[str], photos: dict[str, Path]) -> dict:
    """What a run learns from, by content (:func:`~vidstyle.io.files.file_digest`): each painting's,
    in --style order, and each photo's, by its path in the content folder (``photos``: relative
    path -> file). A painting or photo saved again under the same name is another input."""
    return {"styles": [file_digest(p) for p in styles], "content": {k: file_digest(p) for k, p in photos.items()}}


def _save_checkpoint(work: Path, step: int, net: TransformerNet, opt: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler, config: TrainConfig, content_files: list[str] | None = None,
                     digests: dict | None = None) -> Path:
    """``content_files``: the content folder's photos (relative paths), which decide the held-out
    split and every batch, and ``digests`` (:func:`input_digests`), so that --resume can tell when
    the folder or a painting changed."""
    state = {"step": step, "model": net.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict(),
             "config": json.dumps(asdict(config)), "arch_args": json.dumps(net.arch_args),
             "content_files": json.dumps(content_files), "input_digests": json.dumps(digests),
             # the folder relative paths were given from: a resume from another folder compares the
             # files they named, not the same words naming other files
             "cwd": os.getcwd(),
             # another thread count sums in another order: a resume with another is said (_load_checkpoint)
             "threads": torch.get_num_threads()}
    path = _checkpoint_path(work, step)
    # interrupted (Ctrl-C): no half-written checkpoint left; the machine going down: none empty.
    # The folder is the run's, locked (made then): one gone since is said, never made again
    with write_then_rename(path, durable=True) as tmp:
        # Made in memory, then written by Python, whose error says why: PyTorch's zip writer, to a
        # file, reports every failed write as "[enforce fail at inline_container.cc:672] . unexpected
        # pos ...", which a free-space guess turned into "no space left" only for a nearly full disk;
        # a file-size limit (ulimit -f) or a quota was said in those words (a few MB, a checkpoint's
        # size, held twice for that moment)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            tmp.write_bytes(buffer.getbuffer())
        except OSError as exc:
            raise VidstyleError(f"writing checkpoint {path} failed: {exc.strerror or exc}") from None
    for old in numbered_checkpoints(work)[:-2]:  # keep the last two
        old.unlink()
    return path


# TrainConfig fields a resumed run may change: where things go, how often it reports, how long it
# runs, and the start (the checkpoint replaces it); every other field changes what is learned
RESUME_MAY_CHANGE = {"out", "steps", "checkpoint_every", "checkpoint_dir", "resume", "preview_every",
                     "device", "loss_weights", "style_meta"}


# fields holding paths (compared as the files they name) and fields whose flag is not their name
_PATH_FIELDS = {"content", "styles", "temporal_videos", "init_from"}
_FLAGS = {"styles": "--style", "temporal_videos": "--temporal-videos"}


def _comparable(key: str, value, base: str | None = None):
    """A config value as the checkpoint's JSON holds it (tuples are lists), paths resolved (from
    the folder ``base``, else the current one), so that ``photos``, ``photos/`` and ``./photos``
    are one folder."""
    value = json.loads(json.dumps(value))
    if key == "init_from" and value is not None:
        # a bundled style's name is its file; a file is looked for where the run was started
        in_base = Path(base or ".") / Path(value).expanduser()
        value = str(in_base) if in_base.exists() else init_from_path(value)
    if key in _PATH_FIELDS and value is not None:
        resolve = lambda p: str((Path(base or ".") / Path(p).expanduser()).resolve())  # noqa: E731
        value = [resolve(p) for p in value] if isinstance(value, list) else resolve(value)
    return value


def _in_effect(values: dict, device: torch.device) -> dict:
    """A config's fields (as ``asdict`` gives them) as they take effect on ``device``: the defaults
    of what was left out filled in, the precision resolved, and the settings of a loss that is
    off set to None, so that leaving an option out and giving its default compare equal (the
    recorded command gives every default)."""
    try:
        config = TrainConfig(**{k: v for k, v in values.items() if k in {f.name for f in fields(TrainConfig)}})
    except TypeError:  # a checkpoint's record without the required fields: compared as it was written
        return dict(values)
    content_layers, style_layers = config.layers()
    try:
        precision = precision_name(resolve_precision(config.precision, device, warn=False))  # compared, not run
    except VidstyleError:  # fp16, saved on a GPU, read on the CPU: a precision this run cannot have
        precision = config.precision
    smooth = config.smooth_activations
    return {**asdict(config), "style_size": config.resolved_style_size(), "content_layers": content_layers,
            "style_layers": style_layers, "precision": precision,
            "smooth_activations": config.loss_net in SMOOTHED_BY_DEFAULT if smooth is None else smooth,
            **{key: getattr(config, key) if config.temporal_pairs else None
               for key in ("temporal_noise", "temporal_objects", "temporal_perspective")},
            "video_fraction": config.video_fraction if config.temporal_videos else None}


def as_run(config: TrainConfig, dtype: torch.dtype | None) -> TrainConfig:
    """``config`` as the run took it, for the weights file's record: ``--precision auto`` as the
    precision it ran in where that is not fp32 (fp16 on a GPU; a command without it would train in
    fp32 elsewhere, to other numbers), and the loss network's weights file named where it came
    from ``$VIDSTYLE_LOSS_WEIGHTS`` (its fp16 weights give other numbers than the package's)."""
    precision = precision_name(dtype) if config.precision == "auto" and dtype is not None else config.precision
    return replace(config, precision=precision, loss_weights=loss_weights_file(config.loss_net, config.loss_weights))


def _option_text(key: str, value) -> str:
    """A setting as its option is written."""
    if value is None or value == []:
        return "(none)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, dict):
        return layer_weights_text(value)
    if isinstance(value, (list, tuple)):
        return (", " if key in _FLAGS else ",").join(map(str, value))  # repeated options; a comma list
    return str(value)


def _config_changes(saved: dict, config: TrainConfig, saved_cwd: str | None = None) -> list[str]:
    """The options of ``config`` that differ in effect from the checkpoint's ``saved`` config, as
    ``--option old -> new``; ``saved_cwd``: the folder the saved paths were given from."""
    device = resolve_device(config.device)
    # settings added after a checkpoint was written: as that run had them
    saved = as_trained(saved)  # (a record without a run's fields, by other code, is compared as written)
    before = _in_effect(saved, device)
    now = _in_effect(asdict(config), device)
    # a setting in effect only with another (None where that one is off) is not a change of its
    # own when that one was turned on or off: "--temporal-weight 1000 -> 0" says it all
    changes = []
    for key in now:
        if key in RESUME_MAY_CHANGE or key not in saved or (key in _IN_EFFECT_WITH_ANOTHER
                                                             and None in (before[key], now[key])):
            continue
        old, new = _comparable(key, before[key], saved_cwd), _comparable(key, now[key])
        if old == new:
            continue
        shown = (before[key], now[key])
        if _option_text(key, shown[0]) == _option_text(key, shown[1]):  # the same words from another folder
            shown = (old, new)
        changes.append(f"{_FLAGS.get(key, '--' + key.replace('_', '-'))} {_option_text(key, shown[0])} -> "
                       f"{_option_text(key, shown[1])}")
    return changes


#: settings :func:`_in_effect` gives as None while another is off (--temporal-noise, -objects and
#: -perspective without a temporal weight, --video-fraction without --temporal-videos)
_IN_EFFECT_WITH_ANOTHER = frozenset({"temporal_noise", "temporal_objects", "temporal_perspective", "video_fraction"})


def _load_checkpoint(path: Path, net: TransformerNet, opt: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler, config: TrainConfig | None = None,
                     content_files: list[str] | None = None, digests: dict | None = None) -> int:
    unread = "cannot read checkpoint {}: corrupt, truncated, or not a vidstyle training checkpoint ({})"
    if (record := _record_failing_its_crc(path)) is not None:
        raise VidstyleError(unread.format(path, f"its record {record} does not match its CRC-32: the file changed "
                                                "on the disk since it was written"))
    try:
        state = load_plain_values(path)  # never unpickle code
    except Exception as exc:  # torch raises various types for a corrupt or foreign file
        raise VidstyleError(unread.format(path, torch_load_reason(exc, path))) from exc
    if not isinstance(state, dict) or not {"step", "model", "optimizer", "arch_args"} <= set(state):
        raise VidstyleError(f"{path} is not a vidstyle training checkpoint (those are the checkpoint_*.pt "
                            "files in the run's .train folder; --resume alone picks the latest)")
    saved_args = _checkpoint_field(path, state, "arch_args", dict, "{}")
    step = state["step"]
    if type(step) is not int or step < 0:  # (a bool is an int: not a step) -5 trained on, as checkpoint_-000001.pt
        raise _damaged_checkpoint(path, "step", f"is {step!r}, not a step")
    if saved_args != net.arch_args:
        raise VidstyleError(f"checkpoint {path} is for a different network ({_network_text(saved_args)}; this "
                            f"run trains {_network_text(net.arch_args)}): use the same --arch and number of --style")
    changes = _config_changes(_checkpoint_field(path, state, "config", dict, "{}"), config, state.get("cwd")) \
        if config is not None else []
    if changes:
        # the weights file would record this command, which would not reproduce the weights
        raise VidstyleError(f"checkpoint {path} was trained with other settings ({'; '.join(changes)}); "
                            "resume with the options it was started with (only --steps and where things "
                            "are written may change)")
    saved_files = _checkpoint_field(path, state, "content_files", list)  # absent from older checkpoints
    if saved_files is not None and content_files is not None and saved_files != content_files:
        added = sorted(set(content_files) - set(saved_files))
        gone = sorted(set(saved_files) - set(content_files))
        what = "; ".join(x for x in (added and f"{len(added)} added ({added[0]}{', ...' if len(added) > 1 else ''})",
                                     gone and f"{len(gone)} gone ({gone[0]}{', ...' if len(gone) > 1 else ''})") if x)
        raise VidstyleError(f"the content folder changed since checkpoint {path} ({what or 'renamed'}): the photos "
                            "held out for evaluation and the batches follow the folder, so the run would not go on as "
                            "it began; resume with the photos as they were, or start afresh with --overwrite")
    saved_digests = _checkpoint_field(path, state, "input_digests", dict)  # absent from older checkpoints
    if saved_digests is not None and digests is not None:
        _refuse_changed_inputs(path, saved_digests, digests, config)
    # fp16 training (on CUDA) keeps a loss scaler's state, other precisions an empty one. "auto" is
    # resolved per device, so a run started on the CPU and resumed on a GPU passed the settings
    # check, then failed inside GradScaler (and the reverse went on in fp32 without a word).
    if bool(state.get("scaler")) != scaler.is_enabled():
        was, now = ("fp16 (on a GPU)", "without fp16") if state.get("scaler") else ("without fp16", "in fp16")
        raise VidstyleError(f"checkpoint {path} was trained {was}; this run would train {now} on "
                            f"{resolve_device(config.device) if config is not None else 'this device'}: resume on "
                            "the kind of device, and with the --precision, it was started with")
    saved_threads = state.get("threads")  # absent from older checkpoints
    if type(saved_threads) is int and saved_threads != torch.get_num_threads():
        # not refused (resuming on another machine is what --resume is for), but the model records
        # this run's --threads alone, so no recorded command would give these weights
        log.warning("checkpoint %s was trained on %d threads, this run has %d: the weights will differ from an "
                    "unbroken run's (resume with --threads %d for those)", path.name, saved_threads,
                    torch.get_num_threads(), saved_threads)
    for what, part, saved in (("weights", net, "model"), ("optimizer", opt, "optimizer"), ("scaler", scaler, "scaler")):
        try:
            part.load_state_dict(state[saved])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            # (torch's "Error(s) in loading state_dict" lists every key, over lines)
            raise _damaged_checkpoint(path, what, f"do not fit this network: {first_line(exc, 120)}") from exc
    return step


def _record_failing_its_crc(path: Path) -> str | None:
    """The first record of the zip archive ``path`` (torch.save's format) whose bytes do not match
    the CRC-32 stored with them, else None (a file that is no whole zip too: torch.load says why).

    torch.load does not check them: a checkpoint changed on the disk (a flipped bit, a bad sector)
    was read with the changed weights, and training went on from them (200 changed bytes ended
    the run with "the loss became nan" steps later; one bit, without a word). One read of the file:
    11-15 ms for a standard network's 20 MB checkpoint (the 2-core Zen 4, its page cache warm)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except Exception:  # noqa: BLE001 - not a zip, truncated, unreadable: torch.load's error says it
        return None


def _damaged_checkpoint(path: Path, what: str, why: str) -> VidstyleError:
    """A checkpoint that torch reads but whose ``what`` is not as `vidstyle train` writes it (an
    edited file, or another program's): said as a damaged checkpoint, which --resume's message then
    follows with the checkpoint kept before it."""
    return VidstyleError(f"cannot read checkpoint {path}: damaged (its {what} {why})")


def _checkpoint_field(path: Path, state: dict, key: str, kind: type, absent: str = "null"):
    """The JSON text ``state[key]`` (``absent`` when missing) as the ``kind`` it holds, or None
    where it is missing and ``absent`` is "null"; else the one line of a damaged checkpoint."""
    text = state.get(key) or absent
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:  # not text, not JSON, nested past any depth
        reason = "nests too deeply" if isinstance(exc, RecursionError) else f"is not JSON text ({first_line(exc, 80)})"
        raise _damaged_checkpoint(path, key, reason) from None
    if value is None and absent == "null":
        return None
    if not isinstance(value, kind):
        raise _damaged_checkpoint(path, key, f"is {type(value).__name__}, not {kind.__name__}")
    return value


@torch.no_grad()
def _refuse_changed_inputs(path: Path, saved: dict, now: dict, config: TrainConfig | None) -> None:
    """One error when a painting or photo of checkpoint ``path``'s run holds other pixels now
    (``saved`` and ``now``: :func:`input_digests`); the same names are compared elsewhere."""
    styles = config.styles if config is not None else [f"painting {i + 1}" for i in range(len(now["styles"]))]
    changed = [s for s, a, b in zip(styles, saved.get("styles", []), now["styles"]) if a != b]
    if changed:
        raise VidstyleError(f"the painting {changed[0]} is not the file checkpoint {path} was trained on (it was "
                            "saved again since): the run would learn another style from here on; resume with the "
                            "painting as it was, or start afresh with --overwrite")
    before = saved.get("content", {})
    changed = sorted(k for k, v in now["content"].items() if k in before and before[k] != v)
    if changed:
        raise VidstyleError(f"the content folder changed since checkpoint {path} ({len(changed)} photo"
                            f"{'s' if len(changed) > 1 else ''} saved again: {changed[0]}"
                            f"{', ...' if len(changed) > 1 else ''}): the run would not go on as it began; resume "
                            "with the photos as they were, or start afresh with --overwrite")


def write_preview(net: TransformerNet, photos: torch.Tensor, num_styles: int, path: Path,
                  dtype: torch.dtype | None = None, names: list[str] | None = None) -> Path:
    """A PNG grid: the photos in the first row, then one row per style (stylized); with ``names``
    (one per style), each row under a label saying what it is."""
    was_training = net.training
    net.eval()
    rows = [photos]
    device = photos.device
    for s in range(num_styles):
        net.set_style(_one_hot(torch.tensor([s]), num_styles)[0])
        with autocast(device, dtype):
            rows.append(net(photos).float())
    net.train(was_training)
    strips = [np.concatenate(list(tensor_to_images(r)), axis=1) for r in rows]
    if names is not None:
        from vidstyle.preview import label_room, labelled

        texts = ["held-out photos", *names]
        # a small run's grid (one 64-pixel photo) enlarged whole times, pixels kept, until the labels
        # fit: cut short, names that share a beginning could not be told apart
        times = min(8, -(-label_room(texts) // strips[0].shape[1]))
        if times > 1:
            strips = [np.repeat(np.repeat(strip, times, axis=0), times, axis=1) for strip in strips]
        strips = [labelled(strip, text) for strip, text in zip(strips, texts)]
    grid = np.concatenate(strips, axis=0)
    # (in the run's folder, as a checkpoint: never made again)
    with write_then_rename(path) as temp:  # a run stopped mid-write leaves no broken preview
        Image.fromarray(grid).save(temp)
    return path


@torch.no_grad()
def evaluate(net: TransformerNet, losses: LossComputer, photos: torch.Tensor, num_styles: int,
             dtype: torch.dtype | None = None, chunk: int = 4) -> dict:
    """Mean unweighted losses on ``photos`` (N, 3, H, W) for each style: {style index: {content, style, tv}}."""
    was_training = net.training
    net.eval()
    sums = {s: {"content": 0.0, "style": 0.0, "tv": 0.0} for s in range(num_styles)}
    for i in range(0, len(photos), chunk):
        x = photos[i:i + chunk]
        targets = losses.content_targets(x)  # the same photos for every style
        for s in range(num_styles):
            net.set_style(_one_hot(torch.tensor([s]), num_styles)[0])
            with autocast(x.device, dtype):
                y = net(x)
            parts = losses(y.float(), x, torch.full((len(x),), s, device=x.device), reduce=False, targets=targets)
            for k in sums[s]:
                sums[s][k] += float(parts[k].sum())
    out = {s: {k: v / len(photos) for k, v in per_style.items()} for s, per_style in sums.items()}
    net.train(was_training)
    return out


def temporal_batch(x: torch.Tensor, g: torch.Generator, video_pairs=None, video_fraction: float = 0.0,
                   noise: float = TrainConfig.temporal_noise, objects: float = 0.0, perspective: float = 0.0):
    """Frame pairs for one step's temporal loss: ``(frame_prev, frame_t, flow_t_to_prev, mask)``.

    The first ``B - k`` come from :func:`~vidstyle.train.temporal.synthetic_pair` on the content crops
    ``x`` (B, 3, H, W); the last ``k`` are real consecutive frames drawn (``k`` is ``B *
    video_fraction`` rounded down, plus one with the probability of the remainder, so any fraction
    is honoured on average even at batch size 1)
    from ``video_pairs`` (a :class:`~vidstyle.train.temporal.VideoPairs` of the same size), each
    mirrored left-right with probability 1/2 (the flow's x component changes sign with the image).
    ``noise`` is the synthetic pairs' largest per-frame noise sigma, ``objects`` the share of them
    with an object moving on its own, ``perspective`` their largest tilt (see
    :func:`~vidstyle.train.temporal.synthetic_pair`). Every random choice comes from
    ``g``, so a resumed run draws the same pairs.
    """
    b = x.shape[0]
    k = 0
    if video_pairs is not None:
        wanted = b * video_fraction
        k = math.floor(wanted)
        if wanted > k:  # only then is a number drawn: integral fractions keep their exact draws
            k += int(torch.rand((), generator=g, device=g.device) < wanted - k)
    parts = []
    if k < b:
        parts.append(temporal_api.synthetic_pair(x[:b - k], g, noise=noise, objects=objects,
                                                 max_perspective=perspective))
    if k:
        picks = torch.randint(len(video_pairs), (k,), generator=g, device=g.device).tolist()
        flips = (torch.rand(k, generator=g, device=g.device) < 0.5).tolist()
        items = []
        for i, flip in zip(picks, flips):
            prev, cur, flow, mask = video_pairs[i]
            if flip:
                prev, cur, flow, mask = (t.flip(-1) for t in (prev, cur, flow, mask))
                flow = flow * flow.new_tensor([-1.0, 1.0]).view(2, 1, 1)
            items.append((prev, cur, flow, mask))
        parts.append(tuple(torch.stack(t).to(x.device, x.dtype) for t in zip(*items)))
    return tuple(torch.cat(t).contiguous(memory_format=torch.contiguous_format) if len(parts) > 1 else t[0]
                 for t in zip(*parts))


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`; the message names the checkpoint kept last and the command
    that continues from it (or says that none was written)."""


def _resume_command(config: TrainConfig, checkpoint: Path) -> str:
    """The command that continues ``config``'s run from ``checkpoint``: :meth:`TrainConfig.command`
    plus the options it leaves out that --resume needs to find the checkpoint and go on alike."""
    args = []
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for key in ("checkpoint_every", "checkpoint_dir", "preview_every", "device"):  # (--loss-weights: in command())
        if getattr(config, key) != defaults[key]:
            args += ["--" + key.replace("_", "-"), str(getattr(config, key))]
    # --resume alone takes the latest in the checkpoint folder, which a named one may not be in
    args += ["--resume"] if checkpoint.parent == config.work_dir() else ["--resume", str(checkpoint)]
    return f"{config.command()} {shlex.join(args + _threads_args())}"


def _threads_args() -> list[str]:
    """``--threads N`` as this process was given it (none for the default): another thread count
    sums in another order, so the weights differ (a light network's 6 steps at 64 px on the
    2-core Zen 4: 75 of 82 tensors, --threads 1 against 2)."""
    return ["--threads", str(threads_given())] if threads_given() else []


def _recorded_command(config: TrainConfig) -> str:
    """The command the model records (``config`` as :func:`as_run` gives it): the one that
    reproduces it, with the --threads it trained with."""
    return " ".join([config.command(), *map(shlex.quote, _threads_args())])


@contextlib.contextmanager
def _saying_what_continues(config: TrainConfig, kept: list[tuple[Path, int]]):
    """A write that fails (a full disk) says what can be continued, as Ctrl-C does: at a
    checkpoint mid-run, at the last one, and at the weights file after it."""
    try:
        yield
    except VidstyleError as exc:
        raise VidstyleError(f"{exc}; {_interrupted_message(config, kept)}") from None


def _interrupted_message(config: TrainConfig, kept: list[tuple[Path, int]]) -> str:
    if kept:
        checkpoint, step = kept[-1]
        return (f"the last checkpoint is {checkpoint} (step {step} of {config.steps}); to continue: "
                f"{_resume_command(config, checkpoint)}")
    if config.resume:  # stopped before the checkpoint was read: nothing changed
        return "stopped before training resumed; the checkpoints are as they were (run the same command again)"
    if not config.checkpoint_every:
        return "no checkpoint was written (--checkpoint-every 0)"
    # (a run shorter than --checkpoint-every keeps its last step as its first checkpoint)
    return f"no checkpoint was written yet (the first comes at step {min(config.checkpoint_every, config.steps)})"


def _stopped(exc: BaseException | None) -> bool:
    """Whether ``exc`` stops the run at the user's or the system's word: Ctrl-C, or a kill or a
    closed terminal (the SystemExit of :func:`~vidstyle.errors.termination_as_exit`)."""
    return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, SystemExit) and isinstance(exc.code, int)
                                                  and exc.code > 128)


def _finished_model(out: Path, net: TransformerNet):
    """The :class:`~vidstyle.models.weights.ModelInfo` of ``out`` when it holds ``net`` (its weights
    as the fp16 that save_model stores, every one equal), else None (a missing or another file)."""
    from safetensors.torch import load_file

    from vidstyle.models.weights import read_info

    try:
        info = read_info(out)
        stored = load_file(str(out))
    except Exception:  # noqa: BLE001 - a file that is not this model, however it fails, is written
        return None
    mine = {k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu() for k, v in net.state_dict().items()}
    if stored.keys() != mine.keys():
        return None
    return info if all(stored[k].dtype == v.dtype and torch.equal(stored[k], v) for k, v in mine.items()) else None


def train(config: TrainConfig, progress: bool = True, overwrite: bool = False) -> TrainResult:
    """Train a network as described by ``config``, write it to ``config.out`` and return the result.

    An existing ``config.out`` is replaced only with ``overwrite`` or when resuming. A fresh run
    (not ``config.resume``) whose checkpoint folder holds an earlier run's checkpoints or previews
    deletes them with ``overwrite`` and refuses to start otherwise: left there, they would be
    mixed with this run's, and a later ``--resume`` could continue the wrong run.

    ``progress``: a progress bar on a terminal, else a line every :data:`PROGRESS_LINE_SECONDS`
    and at each checkpoint. Ctrl-C raises :class:`TrainingInterrupted`, which says how to continue."""
    kept: list[tuple[Path, int]] = []  # (checkpoint, step) this run can be continued from, latest last
    try:
        with contextlib.ExitStack() as exits:  # the checkpoint folder's lock, and the folders this run made
            return _train(config, progress, overwrite, kept, exits)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(_interrupted_message(config, kept)) from exc
    except SystemExit as exc:
        if _stopped(exc):  # kill or a closed terminal
            log.warning("%s", _interrupted_message(config, kept))
        raise


def _train(config: TrainConfig, progress: bool, overwrite: bool, kept: list[tuple[Path, int]],
           exits: contextlib.ExitStack) -> TrainResult:
    """:func:`train`'s work; ``exits`` keeps the checkpoint folder's lock until the caller is done."""
    config.validate()
    device = resolve_device(config.device)
    if device.type == "cpu":
        _check_memory(config)
    dtype = resolve_precision(config.precision, device)
    channels_last = device.type == "cuda"
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    out = Path(config.out)
    work = config.work_dir()
    uses_work = bool(config.checkpoint_every or config.preview_every or config.resume)  # a run that writes none
    locked = False
    work_there: Callable[[], bool] = lambda: True  # noqa: E731 - whether work is still the folder locked

    def lock_work() -> None:
        # one run at a time in it: a second one (the same command in another terminal, --overwrite
        # or --resume while the first still runs) would delete or interleave the first's checkpoints
        busy = (f"another vidstyle train is using the checkpoint folder {work}: let it finish or stop it, "
                "or give this run another --checkpoint-dir")
        nonlocal work_there
        for _ in range(10):  # a run that ends as this one starts removes its empty folder: made again
            made = folders_missing(work)
            try:
                # a run that failed before its first checkpoint or preview (a full disk) leaves no
                # empty folder of its own making behind (taken back as the lock goes)
                work_there = exits.enter_context(folder_lock(create_output_folder(work), busy, made))
                break
            except FolderReplaced:
                continue
        else:
            raise VidstyleError(busy)

    if uses_work:
        check_writable_folder(work, "checkpoint folder")  # now, not at the first checkpoint, steps later
        if work.is_dir():  # before an earlier run's files there are looked at (and with --overwrite deleted)
            lock_work()
            locked = True
    # an earlier run's checkpoints first: that message says what --resume and --overwrite do
    earlier = earlier_run_files(work, config.resume, overwrite)
    # never one of the inputs, never a folder, never an existing file unless told (a resumed run
    # replaces its own earlier output), in an existing folder as stylize's outputs: checked now,
    # not after hours of training
    replaces = overwrite or (bool(config.resume) and not resumes_another_run(work, config.resume))
    check_output_file(out, inputs=[*config.styles, config.init_from], overwrite=replaces)
    if uses_work and not locked:  # made only now that the output's folder is known to exist
        lock_work()

    def check_work(path: Path) -> None:
        # the folder renamed or removed mid-run (moved aside while it trains): the next checkpoint
        # made it again under its name, unlocked, the run's lock and earlier checkpoints staying
        # with the folder where it went (another run could start there meanwhile); one made under
        # the name since is not this run's to write in (or delete old checkpoints from) either
        if not work_there():  # (what follows, the last checkpoint, is found where it was once it is back)
            raise VidstyleError(f"{folder_gone_error(path, work)}, with this run's checkpoints: put it back under "
                                "its name to continue")

    # data (errors about the inputs come before any expensive work)
    style_meta = config.styles_metadata()
    if os.path.realpath(work) == os.path.realpath(config.content):
        raise VidstyleError(f"the checkpoint folder {work} is the content folder: its photos would be taken for the "
                            "run's own previews and left out; give another --checkpoint-dir")
    files = find_images(config.content, exclude=[work])  # not the run's own previews, when OUT is inside it
    content_files = [p.relative_to(Path(config.content)).as_posix() for p in files]
    # what a checkpoint records of its inputs and a resumed run compares (a second or so for 1000 photos)
    digests = input_digests(config.styles, dict(zip(content_files, files))) \
        if config.checkpoint_every or config.resume else None
    train_files, held_files = split_held_out(files, readable=can_read)
    content = ContentImages(train_files, config.image_size, config.crops)
    style_images = [load_style_image(p, config.resolved_style_size(), device) for p in config.styles]
    held = held_out_tensor(held_files, config.image_size, device)
    temporal = temporal_api if config.temporal_pairs else None
    video_pairs = None
    if temporal is not None and config.temporal_videos and config.video_fraction > 0:
        # real consecutive frames with DIS flow at the crop size (cached per video, outside the package)
        video_pairs = temporal.VideoPairs(config.temporal_videos, size=config.image_size)

    content_layers, style_layers = config.layers()
    lossnet = load_loss_network(config.loss_net, list(style_layers) + content_layers, weights=config.loss_weights,
                                smooth=config.smooth_activations,
                                device=device).to(memory_format=memory_format)
    losses = LossComputer(lossnet, content_layers, style_layers, style_images)

    num_styles = len(config.styles)
    torch.manual_seed(config.seed)
    net = build_network(config.arch, num_styles).to(device).to(memory_format=memory_format).train()
    if config.init_from and not config.resume:
        init_from_file(net, config.init_from)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    decoder_input: dict[str, torch.Tensor] = {}
    feature_hook = None
    if config.temporal_feature_weight > 0:  # the features the decoder starts from, for the feature-level term
        feature_hook = net.residuals.register_forward_hook(
            lambda _module, _args, out: decoder_input.__setitem__("features", out))

    start = 0
    finished = None  # the model this run wrote before, when it resumes with no step left
    if config.resume:
        ckpt = latest_checkpoint(work) if config.resume == "auto" else Path(config.resume)
        if ckpt is not None and ckpt.is_dir():
            latest = latest_checkpoint(ckpt)
            raise VidstyleError(f"--resume takes a checkpoint file, not a folder ({ckpt})"
                                + (f"; its latest is {latest}" if latest else "; it holds no checkpoint_*.pt"))
        if ckpt is None or not ckpt.is_file():
            raise MissingFileError(f"no checkpoint to resume from ({ckpt if ckpt else work})")
        try:
            start = _load_checkpoint(ckpt, net, opt, scaler, config, content_files, digests)
            kept.append((ckpt, start))
        except VidstyleError as exc:
            # a damaged latest checkpoint (the disk filled up, say): the one before it is kept beside it
            # (only a numbered checkpoint has one: another file, checkpoint_backup.pt too, has no step)
            numbered = [c.name for c in numbered_checkpoints(ckpt.parent)]
            before = [ckpt.parent / n for n in numbered[:numbered.index(ckpt.name)]] if ckpt.name in numbered else []
            if before and str(exc).startswith("cannot read checkpoint"):
                raise VidstyleError(f"{exc}; the checkpoint before it is {before[-1]}: --resume {before[-1]}") from None
            raise
        if start > config.steps:
            raise VidstyleError(f"checkpoint {ckpt} is at step {start}, beyond --steps {config.steps}: give --steps "
                                f"{start} or more to go on from it")
        if progress:  # a resumed run says so, and from where (not "step 500 of 400" before refusing it)
            print(printable(f"resuming from {ckpt} (step {start} of {config.steps})"), file=sys.stderr, flush=True)
        if start == config.steps:
            # nothing left to train: the model this checkpoint ends in is left as it was written,
            # with the speed measured then (written again, it recorded images_per_s null); with its
            # styles renamed (--style-name) it is written again, keeping that speed
            finished = _finished_model(out, net)
            if finished is not None and finished.styles == json.loads(json.dumps(style_meta)):
                return TrainResult(out=out, steps=start, metrics=finished.metrics, previews=[], written=False)

    # only now that every input has been checked (--init-from's file, and the checkpoint of another
    # folder's run that --overwrite replaces them with): one of another --arch or number of styles,
    # or an unreadable checkpoint, deleting first, left the user with neither run
    for old in earlier:
        old.unlink()
    if earlier and not uses_work:  # a run that keeps nothing there: the earlier run's folder, emptied, goes too
        with contextlib.suppress(OSError):  # (not empty: files of the user's own stay, and the folder with them)
            work.rmdir()

    # Ctrl-C (or kill) between checkpoints keeps the steps finished since the last one as a
    # checkpoint: up to --checkpoint-every steps were lost (the first 500, by default); saved as the
    # run unwinds, before the folder's lock, entered earlier, is released
    trained = [start]  # the steps the network and the optimizer hold, each update whole

    def keep_finished_steps(_kind, exc, _traceback) -> bool:
        # (not into a checkpoint folder renamed or removed meanwhile: see check_work)
        if _stopped(exc) and config.checkpoint_every and trained[0] > max([start] + [s for _, s in kept]) \
                and work_there():
            with contextlib.suppress(VidstyleError):  # (a full disk: the last checkpoint kept is said)
                kept.append((_save_checkpoint(work, trained[0], net, opt, scaler, config, content_files, digests),
                             trained[0]))
        return False

    exits.push(keep_finished_steps)
    previews: list[Path] = []
    if start and config.preview_every and start % config.preview_every == 0 \
            and not (work / f"preview_{start:07d}.png").exists():
        # the checkpoint's step has no preview: the run was stopped while drawing it (Ctrl-C just
        # after the progress line said the checkpoint was saved, a full disk), and the loop below
        # starts after that step; the network is as it was then
        with _saying_what_continues(config, kept):
            check_work(work / f"preview_{start:07d}.png")
            previews.append(write_preview(net, held[:PREVIEW_PHOTOS], num_styles, work / f"preview_{start:07d}.png",
                                          dtype, names=[m["name"] for m in style_meta]))
    bar = None
    if progress and sys.stderr.isatty():
        from vidstyle.terminal import terminal_bar

        # a tqdm bar, so that warnings written with tqdm.write clear it rather than cut into it
        bar = terminal_bar(total=config.steps, initial=start, unit="step")
    lines = progress and bar is None
    t0 = next_line = time.perf_counter()  # the first step gets a line: the log shows the run has begun
    images = 0
    try:  # the bar is closed however the loop ends, so an error line is not printed inside it
        for step in range(start, config.steps):
            g = step_generator(config.seed, step)
            x = content.batch(config.batch_size, g, device).contiguous(memory_format=memory_format)
            style_index = torch.randint(0, num_styles, (config.batch_size,), generator=g).to(device)
            net.set_style(_one_hot(style_index, num_styles))
            with autocast(device, dtype):
                if temporal is not None:
                    # synthetic pairs (frame t-1 = the crop, frame t = the crop seen by a slightly moved
                    # camera, exact flow) and real video frames; the perceptual losses apply to frame t,
                    # the temporal loss ties the two outputs
                    prev, x, flow, mask = temporal_batch(x, g, video_pairs, config.video_fraction,
                                                         config.temporal_noise, config.temporal_objects,
                                                         config.temporal_perspective)
                    x = x.contiguous(memory_format=memory_format)
                    prev = prev.contiguous(memory_format=memory_format)
                    net.set_style(_one_hot(style_index.repeat(2), num_styles))  # both frames, same style
                    y, y_prev = net(torch.cat([x, prev])).chunk(2)
                else:
                    y = net(x)
                parts = losses(y, x, style_index)
                total = (config.content_weight * parts["content"] + config.style_weight * parts["style"]
                         + config.tv_weight * parts["tv"])
                if config.temporal_weight > 0:
                    parts["temporal"] = temporal.temporal_loss(y.float(), y_prev.float(), flow, mask, input_t=x.float(),
                                                      input_prev=prev.float())
                    total = total + config.temporal_weight * parts["temporal"]
                if config.temporal_feature_weight > 0:
                    parts["features"] = temporal.feature_temporal_loss(*decoder_input.pop("features").chunk(2), flow,
                                                                       mask)
                    total = total + config.temporal_feature_weight * parts["features"]
            if not torch.isfinite(total):
                raise VidstyleError(f"the loss became {float(total.detach())} at step {step + 1}; "
                                    "lower --lr or the loss weights")
            opt.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            with stop_signals_held():  # a stop waits for the update's end: half of one is never kept
                scaler.step(opt)
                scaler.update()
                trained[0] = step + 1
            images += config.batch_size
            done = step + 1
            saved = None
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done < config.steps:
                with _saying_what_continues(config, kept):
                    check_work(_checkpoint_path(work, done))
                    saved = _save_checkpoint(work, done, net, opt, scaler, config, content_files, digests)
                kept.append((saved, done))
            postfix = bar is not None and (done % 5 == 0 or done == config.steps)
            # the last step too: a log's last line before the summary is where the run ended (a resumed
            # run's could be steps before it)
            line = lines and (saved is not None or done == config.steps or time.perf_counter() >= next_line)
            if postfix or line:
                synchronize(device)
                rate = images / max(time.perf_counter() - t0, 1e-9)
                last = {k: float(v.detach()) for k, v in parts.items()}
            if postfix:
                bar.set_postfix({**{k: f"{v:.3g}" for k, v in last.items()}, "img/s": f"{rate:.2f}"}, refresh=False)
            if bar is not None:
                bar.update(1)
            if line:
                print(f"step {done}/{config.steps}: {', '.join(f'{k} {v:.3g}' for k, v in last.items())}, "
                      f"{rate:.2f} images/s" + (f"; saved {saved}" if saved else ""), file=sys.stderr, flush=True)
                next_line = time.perf_counter() + PROGRESS_LINE_SECONDS
            if config.preview_every and done % config.preview_every == 0:
                with _saying_what_continues(config, kept):  # a full disk meets a preview first, too
                    check_work(work / f"preview_{done:07d}.png")
                    previews.append(write_preview(net, held[:PREVIEW_PHOTOS], num_styles,
                                                  work / f"preview_{done:07d}.png", dtype,
                                                  names=[m["name"] for m in style_meta]))
    finally:
        if bar is not None:
            bar.close()
        if feature_hook is not None:
            feature_hook.remove()
    synchronize(device)
    seconds = time.perf_counter() - t0

    held_losses = evaluate(net, losses, held, num_styles, dtype)
    metrics = {
        "loss_net": config.loss_net,
        "held_out_photos": len(held_files),
        "held_out_size": config.image_size,
        "held_out": {style_meta[s]["name"]: v for s, v in held_losses.items()},
        "steps": config.steps,
        "train_seconds_this_run": round(seconds, 1),
        "images_per_s": round(images / seconds, 3) if images and seconds > 0 else None,
        "device": str(device),
    }
    if not images and finished is not None:  # the speed of the steps that made these weights
        metrics.update({k: finished.metrics[k] for k in ("train_seconds_this_run", "images_per_s", "device")
                        if k in finished.metrics})
    recorded = as_run(config, dtype)
    train_config = asdict(recorded)
    train_config.update(content_layers=content_layers, style_layers=style_layers,
                         style_size=config.resolved_style_size(),
                         held_out_files=[p.relative_to(Path(config.content)).as_posix() for p in held_files])
    if config.checkpoint_every:  # lets a later run continue with more --steps
        with _saying_what_continues(config, kept):
            check_work(_checkpoint_path(work, config.steps))
            kept.append((_save_checkpoint(work, config.steps, net, opt, scaler, config, content_files, digests),
                         config.steps))
    net = net.to(memory_format=torch.contiguous_format).cpu()
    net.set_style(_one_hot(torch.tensor([0]), num_styles)[0])
    with _saying_what_continues(config, kept):
        save_model(out, net, style_meta, train_command=_recorded_command(recorded), train_config=train_config,
                   metrics=metrics, half=True, overwrite=replaces)
    return TrainResult(out=out, steps=config.steps, metrics=metrics, previews=previews)
