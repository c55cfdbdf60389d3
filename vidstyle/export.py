"""ONNX export of style networks and an ONNX Runtime runner (the fastest CPU backend).

``vidstyle export --onnx model.onnx --style STYLE`` writes a graph with dynamic batch, height and
width, then checks it numerically against PyTorch and reports the largest absolute difference.

The exported graph has one input ``input`` (B, 3, H, W) float32 in [0, 1] and one output
``output`` (B, 3, H, W) float32 (unclamped, like the PyTorch network). H and W must be multiples of
the network's ``size_multiple`` (recorded in the graph's metadata); callers pad with
:func:`vidstyle.frames.pad_to_multiple`. A multi-style network is exported with its current
style mix baked in.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from vidstyle.config import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from vidstyle.errors import WARNING_FILTERS_LOCK, MissingFileError, VidstyleError, printable
from vidstyle.io.files import cache_folder, check_onnx_output, write_then_rename
from vidstyle.models.transformer import SpaceToDepthConv, SubpixelUpsampleConv, TransformerNet, fold_for_inference

INPUT_NAME, OUTPUT_NAME = "input", "output"
#: What the exported graph takes and gives, recorded in its metadata (and in the README).
IO_CONTRACT = (f"{INPUT_NAME}: float32 [batch, 3, height, width], RGB in 0..1, height and width multiples of "
               "{mult} and at least {minimum} (pad the bottom and right by reflection, or by repeating the "
               "edge where the picture is smaller than the padding; crop the output back); "
               f"{OUTPUT_NAME}: the same layout and range (clamp to 0..1)")
#: torch.onnx.export keeps its state in process globals (GLOBALS.in_onnx_export, the opset...), and
#: warnings.catch_warnings swaps the process's filters: two exports at once (two Stylizers built in
#: two threads on a CPU in fp32, a set_mix under ONNX Runtime) failed with torch's
#: "AssertionError: GLOBALS.in_onnx_export must be False". One export at a time.
_EXPORT_LOCK = threading.Lock()


def load_onnxruntime():
    """The onnxruntime module, imported with its telemetry off unless the user set
    ``ORT_DISABLE_TELEMETRY`` themselves: since 1.29 it writes a device ID under ~/.cache (a
    coloured warning on stderr where that is read-only) and queues usage events for Microsoft on
    every import; vidstyle is a local tool that sends nothing anywhere."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # read once, when the library loads
    try:
        import onnxruntime
    except ImportError as exc:
        raise VidstyleError("onnxruntime is not installed; run `pip install onnx onnxruntime`") from exc
    return onnxruntime


def export_onnx_bytes(model: TransformerNet, example_size: tuple[int, int] | None = None,
                      opset: int = DEFAULT_OPSET, metadata: dict[str, str] | None = None) -> bytes:
    """Serialise ``model`` (on any device; exported from a CPU fp32 copy) to ONNX bytes.

    Batch, height and width are dynamic axes; ``example_size`` (H, W) is only the tracing shape.
    ``metadata`` is added to the graph's own (what the network is for; see :func:`onnx_style_metadata`).
    """
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise VidstyleError(f"--opset {opset} is not supported: use {MIN_OPSET} to {MAX_OPSET} "
                            f"(default {DEFAULT_OPSET})")
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError as exc:
        raise VidstyleError("the onnx package is not installed; run `pip install onnx onnxruntime`") from exc
    # the inference form (sub-pixel upsampling, space-to-depth head): the same function, and
    # 10-20% faster in ONNX Runtime too; folding an already folded network changes nothing
    m = fold_for_inference(copy.deepcopy(_cpu_fp32(model)))
    for layer in m.modules():
        if isinstance(layer, (SubpixelUpsampleConv, SpaceToDepthConv)):
            layer.to_channel_major()
    mult = model.size_multiple
    h, w = example_size or (4 * mult, 6 * mult)
    x = torch.rand(1, 3, h, w)
    buf = io.BytesIO()
    with _EXPORT_LOCK, WARNING_FILTERS_LOCK, warnings.catch_warnings(), torch.inference_mode():
        # the TorchScript exporter warns about instance norm "training mode" and deprecations; the
        # numerical check (max_abs_diff, which export_onnx runs given a tolerance) is what tells
        # whether the graph is right.
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), buf, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}},
                          # the TorchScript exporter: under dynamo, torch.onnx.is_in_onnx_export()
                          # reads False and the one-hot space-to-depth / depth-to-space forms
                          # (vidstyle.models.transformer) would silently give way to slow ones
                          opset_version=opset, dynamo=False)
    return _with_metadata(buf.getvalue(), {"vidstyle_size_multiple": str(mult),
                                           "vidstyle_min_size": str(model.min_input_size),
                                           "vidstyle_arch_args": json.dumps(model.arch_args),
                                           "vidstyle_io": IO_CONTRACT.format(mult=mult, minimum=model.min_input_size),
                                           **(metadata or {})})


def onnx_style_metadata(choice) -> dict[str, str]:
    """What an exported file paints, for whoever finds it later: the style as vidstyle names it,
    and each style baked in with its painting, artist, year and weight."""
    styles = [{**meta, "weight": round(w, 6)} for meta, w in zip(choice.info.styles, choice.mix) if w > 0]
    return {"vidstyle_style": choice.short_label, "vidstyle_styles": json.dumps(styles)}



def _cpu_fp32(model: TransformerNet) -> TransformerNet:
    """``model`` itself if it is a CPU fp32 contiguous network in eval mode, else such a copy
    (never mutated)."""
    p = next(model.parameters())
    if p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous() and not model.training:
        return model
    return copy.deepcopy(model).to("cpu", torch.float32, memory_format=torch.contiguous_format).eval()


def _with_metadata(data: bytes, meta: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    # RGB in, RGB out: the tracer cannot tell that the output's channel axis is fixed once the
    # space-to-depth head computes its shape from the input's, so say so
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[1].dim_value = 3
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    return proto.SerializeToString()


def session_options(threads: int | None = None, spinning: bool = False):
    """ORT session options shared by vidstyle and the benchmark's peers (same settings for all).

    Spinning is off by default: ORT's idle worker threads otherwise busy-wait between runs and
    steal the cores that decoding, conversion and encoding need in the pipeline.
    """
    ort = load_onnxruntime()
    # errors only: ONNX Runtime otherwise prints a coloured warning about its telemetry ID
    # whenever it cannot write one (a read-only home), which says nothing about the user's run
    ort.set_default_logger_severity(3)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads or torch.get_num_threads()
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return so


#: Networks exported for ONNX Runtime kept on disk (:func:`cached_export`), the most recently used
#: ones (a light network's graph: 0.7 MB, the standard one's 8 MB), and every blend is one.
ONNX_CACHE_FILES = 48


def _graph_key(model: TransformerNet) -> str:
    """What the graph :func:`export_onnx_bytes` makes of ``model`` depends on: every weight and
    buffer (the style mix baked in is a buffer), the architecture, the opset, torch's exporter and
    vidstyle's own code that folds and exports the network (its source: a change makes new keys)."""
    from vidstyle import __version__
    from vidstyle.models import transformer

    key = hashlib.sha256()
    for part in (__version__, torch.__version__, str(DEFAULT_OPSET), type(model).__name__,
                 json.dumps(model.arch_args, sort_keys=True), Path(__file__).read_text(encoding="utf-8"),
                 Path(transformer.__file__).read_text(encoding="utf-8")):  # (UTF-8 whatever the locale)
        key.update(part.encode() + b"\0")
    for name, tensor in itertools.chain(model.named_parameters(), model.named_buffers()):
        value = tensor.detach().to("cpu", torch.float32).contiguous()
        key.update(f"{name}{tuple(value.shape)}".encode() + value.numpy().tobytes())
    return key.hexdigest()[:40]


#: the names :func:`_cache_name` gives: the clean-up removes only these (a file of the user's own
#: in the folder, an export saved there, is none of the cache's)
_CACHE_FILE = re.compile(r"[0-9a-f]{40}\.[0-9a-f]{16}\.onnx")


def _cache_name(key: str, data: bytes) -> str:
    """The name of the cache file of graph ``key`` (:func:`_graph_key`) that holds ``data``."""
    return f"{key}.{hashlib.sha256(data).hexdigest()[:16]}.onnx"


#: the cache folders :func:`_cache_unusable` has warned of: a note once a process, not once a
#: style (a preview exports a network for each of its 16 styles)
_CACHE_WARNED: set[str] = set()


def _cache_unusable(folder: Path | None, why: object) -> None:
    """Say once that exported networks cannot be kept in ``folder`` (None: no folder to be found):
    each run then pays the export again (1.6 s on a 2-core Zen 3). It was silent, so a read-only or
    missing home (an installed package run by a service) cost seconds a run, unsaid, and not how to
    get them back; training's flow cache says the same of its own (vidstyle.train.temporal)."""
    where = str(folder)
    if where not in _CACHE_WARNED:
        _CACHE_WARNED.add(where)
        place = f"in {folder}" if folder is not None else "anywhere"
        logging.getLogger("vidstyle").warning(
            "cannot cache the network exported for ONNX Runtime %s (%s); it is exported again each run "
            "(set VIDSTYLE_CACHE to a writable folder)", place, why)


def cached_export(model: TransformerNet) -> tuple[bytes, Path | None]:
    """``model`` exported for ONNX Runtime (:func:`export_onnx_bytes`), and the cache file it was
    read from (None when exported now). The first export in a process took 1.6 s here (2-core Zen
    3), 1.2 s of it torch's exporter importing the onnx package, later ones 0.4 s: paid once a
    network and mix, not by every run and every switch of style. Kept under
    :func:`~vidstyle.io.files.cache_folder` ("onnx"), the :data:`ONNX_CACHE_FILES` most recently
    used; a cache that cannot be found or written is done without, said once (:func:`_cache_unusable`)."""
    try:
        folder = cache_folder("onnx")
    except Exception as exc:  # noqa: BLE001 - no home folder to find (a service account): run on uncached
        _cache_unusable(None, exc)
        return export_onnx_bytes(model), None
    try:
        key = _graph_key(model)
    except Exception as exc:  # noqa: BLE001 - a source file it hashes unreadable, say: run on uncached
        logging.getLogger("vidstyle").debug("exported network not cached: %s", exc)
        return export_onnx_bytes(model), None
    # a file's name ends in a digest of what it holds: one damaged on disk (a flipped bit in a
    # weight) still loads in ONNX Runtime, and painted wrong frames in every later run
    for path in folder.glob(f"{key}.*.onnx"):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if path.name != _cache_name(key, data):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        # recently used: kept when older ones go; a cache it cannot touch (read-only, another
        # user's) is still read, not exported again on every run
        with contextlib.suppress(OSError):
            os.utime(path)
        return data, path
    data = export_onnx_bytes(model)
    try:
        with write_then_rename(folder / _cache_name(key, data), make_folder=True) as tmp:
            tmp.write_bytes(data)
    except (OSError, VidstyleError) as exc:  # a read-only home, a full disk: run without the cache
        _cache_unusable(folder, getattr(exc, "strerror", None) or exc)
        return data, None
    try:  # the clean-up: a file another process removed meanwhile is no reason to say the cache failed
        # (not another process's file still being written: hidden, until renamed)
        kept = sorted((p for p in folder.glob("*.onnx") if _CACHE_FILE.fullmatch(p.name)),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[ONNX_CACHE_FILES:]:
            old.unlink()
        # a partial file of a process killed while it wrote (hidden, so not among those above): an
        # hour old, no writer is still at it (a write takes milliseconds)
        for partial in folder.glob(".*.partial.onnx"):
            with contextlib.suppress(OSError):
                if time.time() - partial.stat().st_mtime > 3600:
                    partial.unlink()
    except OSError as exc:
        logging.getLogger("vidstyle").debug("the cache in %s not cleaned up: %s", folder, exc)
    return data, None


#: thread id -> the ONNX Runtime options of the run under way in that thread (see :func:`stop_run`);
#: no lock: a stop is sent into a thread as an exception, which could land while it held one
_RUNS: dict[int, object] = {}


def stop_run(thread_id: int) -> None:
    """Tell the :class:`OnnxRunner` run under way in thread ``thread_id``, if any, to end: it
    raises (onnxruntime's ``Fail``, "Exiting due to terminate flag being set to true") at its next
    layer, or at once if it has not begun. ONNX Runtime runs the whole network in one C call, which
    an exception sent to the thread waits for: ``vidstyle live`` stopped during a standard style's
    frame lived on for the rest of it, seconds on a CPU (see :class:`vidstyle.live.NetworkThread`)."""
    options = _RUNS.get(thread_id)  # (a run's own: one that has just ended is told nothing it reads)
    if options is not None:
        options.terminate = True


class OnnxRunner:
    """Run an exported network with ONNX Runtime on the CPU, taking and returning torch tensors.

    Args:
        model_or_onnx: a :class:`TransformerNet` (exported in memory) or a path to / bytes of an
            ONNX file written by :func:`export_onnx`.
        threads: intra-op threads (default: torch's thread count).
        spinning: let idle ORT threads busy-wait (slightly lower latency for network-only runs).
    """

    def __init__(self, model_or_onnx: TransformerNet | str | Path | bytes, threads: int | None = None,
                 spinning: bool = False):
        ort = load_onnxruntime()
        data, cached = model_or_onnx, None
        if isinstance(model_or_onnx, TransformerNet):
            data, cached = cached_export(model_or_onnx)
        elif isinstance(model_or_onnx, (str, Path)):
            if not Path(model_or_onnx).is_file():
                raise MissingFileError(f"ONNX file not found: {model_or_onnx}")
            data = str(model_or_onnx)
        session = lambda graph: ort.InferenceSession(graph, session_options(threads, spinning),  # noqa: E731
                                                     providers=["CPUExecutionProvider"])
        try:
            self.session = session(data)
        except Exception:
            if cached is None:
                raise
            # a damaged cache file (a disk error, an edit): exported again, in its place
            with contextlib.suppress(OSError):
                cached.unlink()
            self.session = session(cached_export(model_or_onnx)[0])
        self.input_name = self.session.get_inputs()[0].name
        self._run_options = ort.RunOptions

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float tensor (CPU) -> (B, 3, H, W) float32 tensor (CPU)."""
        if x.device.type != "cpu":
            raise VidstyleError("the onnx backend runs on the CPU only; use --device cpu")
        # numpy's copy into NCHW, not torch's .contiguous(): no OpenMP region beside ONNX Runtime's
        # threads (see vidstyle.frames)
        arr = np.ascontiguousarray(x.detach().float().numpy())
        options, thread = self._run_options(), threading.get_ident()
        _RUNS[thread] = options  # the run's own options, which stop_run can tell to end it
        try:
            return torch.from_numpy(self.session.run(None, {self.input_name: arr}, options)[0])
        finally:
            _RUNS.pop(thread, None)


def export_onnx(model: TransformerNet, path: str | Path, opset: int = DEFAULT_OPSET, overwrite: bool = False,
                metadata: dict[str, str] | None = None, tolerance: float | None = None) -> Path:
    """Write ``model`` as ONNX to ``path`` atomically (a hidden temporary file renamed when complete).

    ``metadata`` is added to the graph's own (:func:`export_onnx_bytes`). With ``tolerance``, the
    graph is first checked against PyTorch (:func:`max_abs_diff`) and nothing is written if they
    differ by more.
    """
    return _export(model, path, opset, overwrite, metadata, tolerance)[0]


def _export(model: TransformerNet, path: str | Path, opset: int, overwrite: bool, metadata: dict[str, str] | None,
            tolerance: float | None) -> tuple[Path, int, float | None]:
    """:func:`export_onnx`, also returning what ``vidstyle export`` reports: (path, size in bytes,
    max |ONNX Runtime - PyTorch| or None without ``tolerance``)."""
    path = check_onnx_output(path, overwrite)
    data = export_onnx_bytes(model, opset=opset, metadata=metadata)
    diff = None
    if tolerance is not None:
        diff = max_abs_diff(model, data)
        if not diff <= tolerance:  # also catches NaN
            raise VidstyleError(f"ONNX Runtime output differs from PyTorch by {diff:.3g} "
                                f"(> tolerance {tolerance:g}); nothing written")
    with write_then_rename(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return path, len(data), diff


@torch.inference_mode()
def max_abs_diff(model: TransformerNet, onnx_model: str | Path | bytes,
                 sizes: tuple[tuple[int, int], ...] = ((64, 96), (136, 240)), batch: int = 2,
                 seed: int = 0) -> float:
    """Largest |ONNX Runtime - PyTorch| over random inputs of several (H, W) ``sizes`` (fp32, CPU).

    Different sizes check that the height and width axes really are dynamic.
    """
    ref_model = _cpu_fp32(model)
    runner = OnnxRunner(onnx_model, spinning=False)
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    mult = model.size_multiple
    for h, w in sizes:
        h, w = -(-h // mult) * mult, -(-w // mult) * mult
        x = torch.rand(batch, 3, h, w, generator=gen)
        worst = max(worst, (runner(x) - ref_model(x)).abs().max().item())
    return worst


# --- the command (parsed in vidstyle.cli) ---------------------------------------------------

def export_command(args) -> int:
    """``vidstyle export``, its arguments parsed by :mod:`vidstyle.cli`."""
    from vidstyle.models.weights import load_model
    from vidstyle.models.zoo import resolve_style

    check_onnx_output(args.onnx, args.overwrite)  # before the model is read (and warned about), as stylize does
    choice = resolve_style(args.style)
    model, _ = load_model(choice.path, "cpu")
    model.set_style(choice.mix)
    out, size, diff = _export(model, args.onnx, args.opset, args.overwrite, onnx_style_metadata(choice),
                              args.tolerance)
    print(printable(f"wrote {out} ({size / 1e6:.2f} MB, style {choice.short_label}); max |ONNX Runtime - PyTorch| = "
                    f"{diff:.2e}; {IO_CONTRACT.format(mult=model.size_multiple, minimum=model.min_input_size)}"),
          file=sys.stderr)
    return 0
