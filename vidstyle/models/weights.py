"""The weights format: safetensors (never pickle) with vidstyle metadata in the header.

Header metadata (all values are strings, as safetensors requires):

``format``           ``vidstyle/1``
``arch``             architecture name, one of :data:`~vidstyle.models.archs.ARCHITECTURE_NAMES`
``arch_args``        JSON keyword arguments of the architecture
``styles``           JSON list, one dict per style: name, painting, artist, year, ...
``train_command``    the exact command that produced the weights
``train_config``     JSON of the training configuration (optional)
``metrics``          JSON of measured metrics (optional)
``vidstyle_version`` version that wrote the file
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError, safe_open

from vidstyle import __version__
from vidstyle.errors import VidstyleError, first_line
from vidstyle.io.files import VIDEO_SUFFIXES, not_a_file_error, write_then_rename
from vidstyle.io.images import IMAGE_EXTENSIONS
from vidstyle.models.archs import ARCH_NAMES, ARCHITECTURE_NAMES

if TYPE_CHECKING:  # reading a header (vidstyle styles) needs no torch; building and loading a network do
    import torch

    from vidstyle.models.transformer import TransformerNet

log = logging.getLogger("vidstyle")

FORMAT = "vidstyle/1"


@dataclass(frozen=True)
class ModelInfo:
    """What a weights file says about itself."""

    path: str
    arch: str
    arch_args: dict
    styles: list[dict]
    train_command: str = ""
    train_config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    vidstyle_version: str = ""

    @property
    def style_names(self) -> list[str]:
        return [s["name"] for s in self.styles]


def _shape(arch_args: dict) -> dict:
    """Architecture arguments without the number of styles, which every builder takes."""
    return {k: v for k, v in arch_args.items() if k != "num_styles"}


@functools.lru_cache(maxsize=None)
def _builder_shapes() -> tuple[tuple[str, dict], ...]:
    # the builders say their arguments only by building (the standard network: ~40 ms), so once
    from vidstyle.models.transformer import BUILDERS

    return tuple((name, _shape(BUILDERS[builder]().arch_args)) for name, builder in ARCH_NAMES.items())


def arch_name(arch_args: dict) -> str:
    """The :data:`ARCH_NAMES` key whose builder makes a network of ``arch_args`` (any number of
    styles), else ``custom`` (a network built by hand, or by an older vidstyle)."""
    shape = _shape(arch_args)
    return next((name for name, known in _builder_shapes() if known == shape), "custom")


def save_model(path: str | Path, model: TransformerNet, styles: list[dict], train_command: str = "",
               train_config: dict | None = None, metrics: dict | None = None, half: bool = False,
               overwrite: bool = True) -> None:
    """Write ``model`` to ``path`` (atomically); ``half`` stores fp16 tensors to halve the size.
    ``overwrite=False``: a file that appeared under ``path`` since the caller checked it is kept
    (an error says so)."""
    from safetensors.torch import save_file

    if len(styles) != model.num_styles:
        raise ValueError(f"{len(styles)} style descriptions for a {model.num_styles}-style network")
    for s in styles:
        if not s.get("name"):
            raise ValueError("every style needs a name")
    tensors = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().contiguous()
               for k, v in model.state_dict().items()}
    if half:  # a weight beyond fp16's range (65504) would be stored as inf: a network that paints NaN
        wide = next((k for k, v in tensors.items() if v.is_floating_point() and not v.isfinite().all()), None)
        if wide is not None:
            log.warning("%s: %s does not fit in fp16; the file keeps fp32 weights (twice the size)",
                        Path(path).name, wide)
            tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "arch": "transformer",
        "arch_args": json.dumps(model.arch_args),
        "styles": json.dumps(styles),
        "train_command": train_command,
        "train_config": json.dumps(train_config or {}),
        "metrics": json.dumps(metrics or {}),
        "vidstyle_version": __version__,
    }
    path = Path(path)
    with write_then_rename(path, make_folder=True, durable=True, overwrite=overwrite) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=meta)
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise VidstyleError(f"writing {path} failed: {safetensors_write_reason(exc)}") from None
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates the file private (0600); a model is to share


def safetensors_write_reason(exc: BaseException) -> str:
    """Why safetensors could not write a file, as an OSError says it: its text wraps the system's
    in its own ("Error while serializing: I/O error: No space left on device (os error 28)")."""
    found = re.search(r"I/O error: (.+?) \(os error \d+\)", str(exc))
    return found.group(1) if found else first_line(exc, default="unwritable")


def _umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere the only way to read it is to set it
    and put it back, which for that moment changes the mode of files other threads create."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # the moment's mask errs on the private side
    os.umask(mask)
    return mask


#: Training settings newer than some weights files and checkpoints, and how the runs before them
#: trained. For crops that is not today's default: ``vidstyle train --crops`` came with the zoom
#: it names (vidstyle.train.data.CROP_MODES).
BEFORE_THEIR_OPTION = {"temporal_objects": 0.0, "temporal_perspective": 0.0, "crops": "whole-side"}


def as_trained(train_config: dict) -> dict:
    """A training run's recorded settings (a ``TrainConfig``'s: styles, content and out among
    them) with those newer than the record filled in as the run had them; any other record (by
    other code) as it is."""
    if not {"styles", "content", "out"} <= set(train_config):
        return train_config
    return {**BEFORE_THEIR_OPTION, **train_config}


def read_info(path: str | Path) -> ModelInfo:
    """Read and validate only the header of a weights file."""
    path = Path(path)
    if path.is_dir():
        raise VidstyleError(f"{path} is a folder; give a .safetensors model file")
    if not path.is_file():
        raise not_a_file_error(path, "model file")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise VidstyleError(f"{path} is an image: a style is a trained network (a bundled style's name or a "
                            f".safetensors file); train one from a painting with `vidstyle train --style "
                            f"{path.name} --content PHOTOS/ --out MODEL.safetensors`")
    if path.suffix.lower() == ".onnx":
        raise VidstyleError(f"{path} is an ONNX export, for other runtimes (README: Exporting to ONNX); vidstyle "
                            "itself runs the .safetensors model it was exported from (--backend onnx runs that "
                            "through ONNX Runtime)")
    try:
        with safe_open(str(path), framework="numpy") as f:  # (the header only: any framework, numpy's needs no torch)
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise VidstyleError(_not_safetensors_message(path, exc)) from exc
    if meta.get("format") != FORMAT:
        raise VidstyleError(f"{path} is not a vidstyle model (missing or unknown 'format' in its header)")
    try:
        info = ModelInfo(path=str(path), arch=meta["arch"], arch_args=json.loads(meta["arch_args"]),
                         styles=json.loads(meta["styles"]), train_command=meta.get("train_command", ""),
                         train_config=json.loads(meta.get("train_config") or "{}"),
                         metrics=json.loads(meta.get("metrics") or "{}"),
                         vidstyle_version=meta.get("vidstyle_version", ""))
    except (KeyError, json.JSONDecodeError) as exc:
        raise VidstyleError(f"{path} has a corrupt vidstyle header ({exc})") from exc
    except RecursionError as exc:  # lists in lists thousands deep: no header vidstyle writes
        raise VidstyleError(f"{path} has a corrupt vidstyle header (JSON nested too deeply)") from exc
    wrong = _wrong_header_field(info)
    if wrong:
        raise VidstyleError(f"{path} has a corrupt vidstyle header ({wrong})")
    if info.arch not in ARCHITECTURE_NAMES:
        raise VidstyleError(f"{path} uses unknown architecture {info.arch!r}")
    trained = as_trained(info.train_config)
    if trained != info.train_config:
        command = info.train_command
        if "crops" not in info.train_config and command.startswith("vidstyle train "):
            # trained before the option: the recorded command says so now, so that it still
            # reproduces the file (without it, it would train on zoomed crops today). Another
            # program's command (a benchmark script's) is left as it was written.
            command = f"{command} --crops {trained['crops']}"
        info = replace(info, train_config=trained, train_command=command)
    return info


def _wrong_header_field(info: ModelInfo) -> str:
    """What is of the wrong kind in a header that parses (valid JSON of another shape, from an
    edited or foreign file), or "": everything that reads the header takes these kinds for granted."""
    if not isinstance(info.arch_args, dict):
        return f"arch_args is {type(info.arch_args).__name__}, not an object"
    if not isinstance(info.styles, list) or not info.styles:
        return "styles is not a list of styles"
    if not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in info.styles):
        return "styles holds an entry without a name"
    for key in ("train_config", "metrics"):
        if not isinstance(getattr(info, key), dict):
            return f"{key} is {type(getattr(info, key)).__name__}, not an object"
    return ""


#: the names `vidstyle train` gives its checkpoints (``vidstyle.train.loop._checkpoint_path``)
CHECKPOINT_NAME = re.compile(r"checkpoint_\d+\.pt")


def open_failure_reason(path: str | Path, exc: OSError) -> str:
    """Why safetensors could not open ``path``, in the system's words: it says "No such file or
    directory: PATH" of any file it cannot open (a mode 000 one too), without an errno."""
    try:
        with open(path, "rb"):
            pass
    except OSError as own:
        exc = own
    return exc.strerror or str(exc)


def _not_safetensors_message(path: Path, exc: Exception) -> str:
    """Why ``path`` cannot be read as a model. A PyTorch file (``vidstyle train``'s checkpoints are
    ``checkpoint_*.pt``) is named as such: the parser's "header too large" says nothing of it."""
    if isinstance(exc, OSError):  # unreadable (missing, no permission): that is the news, whatever the name
        return f"cannot read {path} ({open_failure_reason(path, exc)})"
    if CHECKPOINT_NAME.fullmatch(path.name):
        # the default checkpoint folder is OUT without its suffix + ".train": its model, if written
        out = path.parent.with_name(path.parent.name.removesuffix(".train") + ".safetensors")
        here = f" ({out})" if path.parent.name.endswith(".train") and out.is_file() else ""
        return (f"{path} is a training checkpoint, not a model: the model is the --out .safetensors file "
                f"`vidstyle train` writes when training ends{here}; `vidstyle train ... --resume` continues the run")
    if path.suffix.lower() in (".pt", ".pth"):
        return (f"{path} is a PyTorch file, not a vidstyle model: a style is a .safetensors file, such as the "
                "--out file `vidstyle train` writes when training ends (its checkpoints are for --resume)")
    if path.suffix.lower() in VIDEO_SUFFIXES:  # the input put in --style's place: "header too large" hid that
        return (f"{path} is a video, not a model: a style is a trained network (a bundled style's name or a "
                ".safetensors file; `vidstyle styles` lists them)")
    cut = _cut_short(path)
    if cut:
        return (f"{path} is cut short ({cut}): an interrupted copy, download or write; copy it again "
                "(or train it again)")
    return f"{path} is not a valid safetensors model file ({exc})"


def _cut_short(path: Path) -> str:
    """How far a safetensors file falls short of the size its own header gives it ("" when it does
    not, or when it is no safetensors file at all), so that a truncated model is not called invalid."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(9)
            if len(head) < 9 or head[8:9] != b"{":  # a safetensors header is JSON after its 8-byte length
                return ""
            n = int.from_bytes(head[:8], "little")
            if n > 100_000_000:  # the format's own limit: beyond it, no safetensors file
                return ""
            if size < 8 + n:
                return f"{size} bytes, where its header alone takes {8 + n}"
            f.seek(8)
            header = json.loads(f.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return ""
    return f"{size} bytes of the {8 + n + end} its header describes" if size < 8 + n + end else ""


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[TransformerNet, ModelInfo]:
    """Build the architecture named in the header and load the weights, checking every shape."""
    import torch
    from safetensors.torch import load_file

    from vidstyle.models.transformer import ARCHITECTURES

    info = read_info(path)
    try:
        with safe_open(str(path), framework="numpy") as f:  # the header's shapes and types, no data read
            stored = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise VidstyleError(f"{path} is corrupt ({exc})") from exc
    # each residual block and each convolution has tensors of its own: a header asking for more of
    # them than the file has tensors cannot match it, and even its shapes took minutes to build
    # (100000 blocks: past 5), their memory growing, before the tensors were compared. A list asks
    # for one layer an entry (num_residual as one is refused by the architecture below)
    layers = max((len(v) if isinstance(v, list) else v for k, v in info.arch_args.items()
                  if k in ("channels", "num_residual") and isinstance(v, (int, list))), default=0)
    if layers > len(stored):
        raise VidstyleError(f"{path}: weights do not match the architecture (its header asks for {layers} layers, "
                            f"the file holds {len(stored)} tensors)")
    try:
        # on the meta device: shapes without memory. A header may ask for any network (20000
        # channels: hundreds of GB); it is built for real only once the file's own tensors match it
        with torch.device("meta"):
            shapes = ARCHITECTURES[info.arch](**info.arch_args)
    except (TypeError, ValueError, RuntimeError) as exc:  # unknown, missing or impossible (negative) arguments
        raise VidstyleError(f"{path}: architecture arguments do not match this vidstyle version ({exc})") from exc
    if len(info.styles) != shapes.num_styles:
        raise VidstyleError(f"{path}: header lists {len(info.styles)} styles for a {shapes.num_styles}-style network")
    expected = shapes.state_dict()
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise VidstyleError(f"{path}: weights do not match the architecture "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    for k, v in expected.items():
        shape, dtype = stored[k]
        if shape != tuple(v.shape):
            raise VidstyleError(f"{path}: tensor {k} has shape {shape}, expected {tuple(v.shape)}")
        if dtype.startswith(("F", "BF")) != v.is_floating_point():  # F16, F32, BF16, F8_E4M3...: floats
            # a header that relabels a weight's bytes (F16 as I16): .float() below made weights of the
            # integers those bytes read as, and the network painted with them without a word
            kind = "floating-point weights" if v.is_floating_point() else f"{str(v.dtype).removeprefix('torch.')} values"
            raise VidstyleError(f"{path}: tensor {k} holds {dtype} values, where the network has {kind}: "
                                "a damaged or foreign file")
    model = ARCHITECTURES[info.arch](**info.arch_args)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise VidstyleError(f"{path} is corrupt ({exc})") from exc
    for k, v in expected.items():
        if v.is_floating_point():
            state[k] = state[k].float()
            if not bool(torch.isfinite(state[k]).all()):  # (it painted every frame black, without a word)
                raise VidstyleError(f"{path} holds weights that are not finite numbers ({k}): a damaged file, or "
                                    "a training run that diverged")
    model.load_state_dict(state)
    return model.to(device).eval(), info
