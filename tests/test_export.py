"""ONNX export: dynamic height/width, numerics against PyTorch, the CLI and the Stylizer backend."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from vidstyle.cli import main  # noqa: E402
from vidstyle.export import OnnxRunner, export_onnx, max_abs_diff  # noqa: E402
from vidstyle.models.transformer import TransformerNet, light_aa_net, light_net, transformer_net  # noqa: E402
from vidstyle.models.weights import save_model  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402


def _randomize_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fresh networks have identity norms; random affine parameters make the check meaningful."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or p.ndim <= 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
    return model.eval()


def _tiny_net() -> TransformerNet:
    """A network for tests of how an export is written, refused or read back, which hold whatever
    the network: it exports in under half light_net's time (1.9 against 4.8 s, measured)."""
    return TransformerNet((8, 16), num_residual=1).eval()


def _shuffled_head_net() -> TransformerNet:
    """A space-to-depth stem of 4 and a depth-to-space head (no bundled network has both)."""
    return TransformerNet((8, 16), num_residual=1, separable=True, kernel_in=3, kernel_out=3, shuffle=4)


@pytest.mark.parametrize("builder", [light_net, light_aa_net, transformer_net, _shuffled_head_net])
def test_export_matches_pytorch_at_several_sizes(tmp_path, builder):
    model = _randomize_norms(builder())
    path = export_onnx(model, tmp_path / "net.onnx")
    # ONNX Runtime's DepthToSpace / SpaceToDepth and the 6-D transposes of pixel_(un)shuffle are
    # slow (about a quarter of the light network's time): they export as one-hot convolutions instead
    nodes = onnx.load(str(path)).graph.node
    assert not {"DepthToSpace", "SpaceToDepth"} & {n.op_type for n in nodes}
    assert not [a for n in nodes if n.op_type == "Transpose" for a in n.attribute if a.name == "perm" and len(a.ints) > 4]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dims = sess.get_inputs()[0].shape
    assert isinstance(dims[2], str) and isinstance(dims[3], str)  # height and width are dynamic
    assert dims[1] == 3 and sess.get_outputs()[0].shape[1] == 3  # RGB in and out, declared
    diff = max_abs_diff(model, path, sizes=((32, 48), (72, 128)), batch=2)
    assert diff < 1e-3
    # and a size the graph was not traced at, checked directly
    x = torch.rand(1, 3, 40, 56)
    with torch.inference_mode():
        ref = model(x)
    got = OnnxRunner(path)(x)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-3)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["vidstyle_arch_args"]) == model.arch_args  # JSON, readable by any consumer
    assert meta["vidstyle_io"].startswith("input: float32 [batch, 3, height, width], RGB in 0..1, height and "
                                          f"width multiples of {model.size_multiple} and at least "
                                          f"{model.min_input_size} ")
    assert (meta["vidstyle_size_multiple"], meta["vidstyle_min_size"]) == (str(model.size_multiple),
                                                                          str(model.min_input_size))
    # the smallest input the contract allows runs, and matches PyTorch
    small = torch.rand(1, 3, model.min_input_size, model.min_input_size)
    with torch.inference_mode():
        assert torch.allclose(OnnxRunner(path)(small), model(small), atol=1e-3)


def test_an_onnx_file_given_as_a_style_says_what_it_is(tmp_path):
    from vidstyle.errors import VidstyleError
    from vidstyle.stylizer import Stylizer

    path = export_onnx(_tiny_net(), tmp_path / "style.onnx")
    with pytest.raises(VidstyleError, match="style.onnx is an ONNX export, for other runtimes"):
        Stylizer(str(path), device="cpu")


def test_max_abs_diff_detects_a_different_network(tmp_path):
    a, b = _randomize_norms(light_net(), 0), _randomize_norms(light_net(), 1)
    path = export_onnx(a, tmp_path / "a.onnx")
    assert max_abs_diff(b, path, sizes=((32, 32),), batch=1) > 1e-2


def test_export_refuses_to_overwrite_and_wrong_suffix(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from vidstyle.errors import VidstyleError

    model = _tiny_net()
    path = export_onnx(model, tmp_path / "n.onnx")
    with pytest.raises(VidstyleError):
        export_onnx(model, path)
    with pytest.raises(VidstyleError):
        export_onnx(model, tmp_path / "n.pt")
    export_onnx(model, path, overwrite=True)
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(VidstyleError, match="is a folder"):
        export_onnx(model, tmp_path / "dir.onnx", overwrite=True)
    for opset in (5, 99):
        with pytest.raises(VidstyleError, match=f"--opset {opset} is not supported"):
            export_onnx(model, tmp_path / "m.onnx", opset=opset)
    real_link = os.link

    def other_program_first(src, dst, *args, **kw):  # a file written there while exporting stays
        if Path(dst).name == "late.onnx":
            Path(dst).write_bytes(b"theirs")
        return real_link(src, dst, *args, **kw)

    monkeypatch.setattr(os, "link", other_program_first)
    with pytest.raises(VidstyleError, match=r"late\.onnx appeared while processing .*kept as .*late-2\.onnx"):
        export_onnx(model, tmp_path / "late.onnx")
    assert (tmp_path / "late.onnx").read_bytes() == b"theirs"
    assert (tmp_path / "late-2.onnx").read_bytes() == path.read_bytes()  # the export, kept beside it
    assert not (tmp_path / "m.onnx").exists()


def test_an_export_whose_every_name_is_taken_as_it_is_tried_ends(tmp_path, monkeypatch):
    """Another program making each numbered name as it is tried: the search for a free one went
    on for ever (a test whose link made every name first hung until its timeout)."""
    import os
    from pathlib import Path

    from vidstyle.errors import VidstyleError
    from vidstyle.io import files

    model = _tiny_net()
    real_link = os.link

    def every_name_taken_first(src, dst, *args, **kw):
        Path(dst).write_bytes(b"theirs")
        return real_link(src, dst, *args, **kw)

    monkeypatch.setattr(files, "MAX_NUMBERED", 20)
    monkeypatch.setattr(os, "link", every_name_taken_first)
    with pytest.raises(VidstyleError, match=r"late\.onnx appeared while processing; the finished output could not be "
                                            r"kept beside it \(late-2\.onnx to late-20\.onnx are all taken\)"):
        export_onnx(model, tmp_path / "late.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["late.onnx"] + [f"late-{n}.onnx" for n in range(2, 21)])


def test_cli_export_writes_checked_file(tmp_path, capsys):
    weights = tmp_path / "s.safetensors"
    save_model(weights, _randomize_norms(light_net(2)), styles=[{"name": "a", "painting": "Dawn", "artist": "Me"},
                                                                {"name": "b"}])
    out = tmp_path / "out" / "s.onnx"
    # a file goes in an existing folder, as stylize's outputs (a typo in the folder is not made)
    assert main(["export", "--onnx", str(out), "--style", f"{weights}:a=0.3,b=0.7"]) == 1
    assert capsys.readouterr().err == f"vidstyle: error: output folder does not exist: {out.parent}\n"
    assert not out.parent.exists()
    out.parent.mkdir()
    assert main(["export", "--onnx", str(out), "--style", f"{weights}:a=0.3,b=0.7"]) == 0
    err = capsys.readouterr().err
    assert "max |ONNX Runtime - PyTorch|" in err
    assert out.is_file() and not list(out.parent.glob(".s.vidstyle-*.partial.onnx"))
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}  # what the file paints, found later
    assert meta["vidstyle_style"] == "s.safetensors:a=0.3,b=0.7"
    assert json.loads(meta["vidstyle_styles"]) == [{"name": "a", "painting": "Dawn", "artist": "Me", "weight": 0.3},
                                                   {"name": "b", "weight": 0.7}]
    assert main(["export", "--onnx", str(out), "--style", str(weights)]) == 1  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err
    # one style of the file: the other, weighted 0, is not baked in, so the file does not name it
    from vidstyle.export import onnx_style_metadata
    from vidstyle.models.zoo import resolve_style

    alone = onnx_style_metadata(resolve_style(f"{weights}:b=1"))
    assert json.loads(alone["vidstyle_styles"]) == [{"name": "b", "weight": 1.0}]


def test_stylizer_onnx_backend_matches_torch_and_follows_the_mix():
    model = _randomize_norms(light_net(2))
    # backend "torch" explicitly: "auto" picks ONNX Runtime for fp32 on the CPU
    torch_st = Stylizer.from_model(model, device="cpu", precision="fp32", channels_last=False, backend="torch")
    onnx_st = Stylizer.from_model(model, device="cpu", precision="fp32", backend="onnx")
    assert (torch_st.backend, onnx_st.backend) == ("torch", "onnx")
    img = np.random.default_rng(0).integers(0, 256, (36, 50, 3), dtype=np.uint8)  # not a multiple of 8
    for mix in ([1.0, 0.0], [0.2, 0.8]):
        torch_st.set_mix(mix)
        onnx_st.set_mix(mix)
        a, b = torch_st.stylize(img), onnx_st.stylize(img)
        assert a.shape == img.shape
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


#: torch ops that move no values (views, no-op casts, numpy's arrays taken in): any other op on
#: more values than torch's grain size (at::internal::GRAIN_SIZE) runs in an OpenMP parallel region
NO_DATA_OPS = {"aten::as_strided", "aten::detach", "detach", "aten::lift_fresh", "aten::permute", "aten::reshape", "aten::_reshape_alias",
               "aten::view", "aten::slice", "aten::select", "aten::resolve_conj", "aten::resolve_neg", "aten::to",
               "aten::alias", "aten::transpose", "aten::unsqueeze", "aten::squeeze", "aten::expand"}
GRAIN_SIZE = 32768


def test_the_onnx_backend_runs_no_torch_op_on_a_frames_worth_of_values():
    """Each torch op on a frame around ONNX Runtime's call (the uint8 -> float division, padding,
    the copy into NCHW, the clamp, tensor_to_images' NaN check) opened a GNU OpenMP parallel
    region; libgomp's threads then busy-wait for the next one and, on a CPU that another program
    keeps busy, took the cores from ONNX Runtime's threads (92 ms a 640x360 frame from a program's
    main thread beside one busy loop, against 35 ms with GOMP_SPINCOUNT=0). Those conversions
    now run in numpy and OpenCV: no torch op on more values than its grain size, the size above
    which it goes parallel, is left (the profiler lists each op with its inputs' shapes)."""
    from torch.profiler import ProfilerActivity, profile

    st = Stylizer.from_model(light_net(), device="cpu", precision="fp32", backend="onnx")
    frames = np.random.default_rng(0).integers(0, 256, (3, 130, 97, 3), dtype=np.uint8)  # padded to 136x104
    assert 130 * 97 * 3 > GRAIN_SIZE
    st.stylize(frames[0])  # (ONNX Runtime's session is made at the first call)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        one = st.stylize(frames[0])
        batch = st.stylize_batch(frames)
        streamed = list(st.stylize_iter(list(frames), batch_size=2))
    big = {event.name for event in prof.events()
           if any(np.prod(shape) > GRAIN_SIZE for shape in event.input_shapes if shape)}
    assert big and not big - NO_DATA_OPS, sorted(big - NO_DATA_OPS)
    assert np.array_equal(one, batch[0]) and np.array_equal(np.stack(streamed), batch)


def _big_torch_ops(run) -> list[str]:
    """The names of the torch ops ``run()`` calls on more values than torch's grain size, but
    for those that move no values (:data:`NO_DATA_OPS`, and allocations), once per call."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        run()
    return [event.name for event in prof.events() if event.name not in NO_DATA_OPS | {"aten::empty_like"}
            and any(np.prod(shape) > GRAIN_SIZE for shape in event.input_shapes if shape)]


def test_the_onnx_backends_kept_colours_and_fades_run_no_torch_op_on_a_frames_worth_of_values(monkeypatch):
    """--keep-colors and the fade of low-contrast frames towards their flat colour ran as torch ops
    on whole frames, each a GNU OpenMP region whose spinning threads take the cores from ONNX
    Runtime's (see the test above); they run in numpy now, with torch's values bit for bit. Left
    to torch: a faded frame's mean colour (one reduction per such frame, whose summation order
    numpy does not reproduce, and the flat colour is read from it). The values are checked
    against torch's path itself (the one a GPU or a tensor that needs grad takes), not only
    against numpy's own of another call."""
    import vidstyle.stylizer as stylizer_mod
    from vidstyle.stylizer import blend_style

    def on_torchs_path(stylizer, batch):
        with monkeypatch.context() as m:
            m.setattr(stylizer_mod, "host_view", lambda x: None)
            return stylizer.stylize_batch(batch)

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 130, 97, 3), dtype=np.uint8)
    kept = Stylizer.from_model(light_net(), device="cpu", precision="fp32", backend="onnx", keep_colors=True)
    kept.stylize(frames[0])  # (ONNX Runtime's session is made at the first call)
    assert _big_torch_ops(lambda: kept.stylize_batch(frames)) == []
    assert np.array_equal(kept.stylize_batch(frames), on_torchs_path(kept, frames))

    faded = (frames // 40).astype(np.uint8)  # luma std about 2: faded, not flat
    flat = np.full_like(frames[0], 77)
    mixed = np.stack([faded[0], frames[1], flat])
    st = Stylizer.from_model(light_net(), device="cpu", precision="fp32", backend="onnx")
    for batch in (mixed, faded[:1], flat[None], faded):
        expected = on_torchs_path(st, batch)  # (also makes the flat colours' cache hold these frames')
        low = sum(w < 1.0 for w in st._contrast_of(torch.from_numpy(batch / np.float32(255)).permute(0, 3, 1, 2)))
        ops = _big_torch_ops(lambda: st.stylize_batch(batch))
        assert sorted(ops) == sorted(["aten::mean", "aten::sum"] * low), ops  # (a mean's sum counts as its own op)
        assert np.array_equal(st.stylize_batch(batch), expected)
    assert np.ptp(st.stylize(flat).reshape(-1, 3), axis=0).max() == 0  # one colour

    # blend_style's numpy path gives torch's own values (a tensor that needs grad takes torch's)
    content = torch.from_numpy(rng.random((2, 90, 160, 3), dtype=np.float32)).permute(0, 3, 1, 2)
    styled = torch.from_numpy(rng.random((2, 3, 90, 160), dtype=np.float32) * 1.2 - 0.1)
    fast = blend_style(content, styled, keep_colors=True)
    exact = blend_style(content, styled.clone().requires_grad_(), keep_colors=True)
    assert torch.equal(fast, exact.detach()) and not fast.requires_grad


def test_stylizer_rejects_bad_backend_choices():
    from vidstyle.errors import VidstyleError

    with pytest.raises(VidstyleError):
        Stylizer.from_model(light_net(), device="cpu", backend="tensorrt")
    with pytest.raises(VidstyleError):
        Stylizer.from_model(light_net(), device="cpu", precision="bf16", backend="onnx")


def test_cli_export_checks_its_output_before_reading_the_model(tmp_path, capsys, caplog):
    weights = tmp_path / "two.safetensors"
    save_model(weights, light_net(2), styles=[{"name": "a"}, {"name": "b"}])
    out = tmp_path / "out.onnx"
    out.write_bytes(b"kept")
    assert main(["export", "--onnx", str(out), "--style", str(weights)]) == 1
    err = capsys.readouterr().err
    assert err == f"vidstyle: error: output {out} already exists; pass --overwrite (overwrite=True in Python) " \
                  "to replace it\n"
    assert "holds 2 styles" not in caplog.text  # the model was not read: no warning about its first style
    assert out.read_bytes() == b"kept"



def test_an_onnx_output_is_named_onnx_in_any_case(tmp_path):
    """MODEL.ONNX (a name as Windows users type them) is an ONNX file; model.onx is refused."""
    from vidstyle.errors import VidstyleError
    from vidstyle.io.files import check_onnx_output

    assert check_onnx_output(tmp_path / "MODEL.ONNX", overwrite=False) == tmp_path / "MODEL.ONNX"
    with pytest.raises(VidstyleError, match=r"^the ONNX output must end in \.onnx, got model\.onx$"):
        check_onnx_output(tmp_path / "model.onx", overwrite=False)


def test_onnx_runtime_threads_sleep_between_runs_unless_asked_to_spin():
    """ONNX Runtime's idle threads busy-wait between runs by default, taking the cores that
    decoding and encoding need beside it: vidstyle's sessions let them sleep (``spinning=True``
    asks for busy-waiting, for timing the network alone)."""
    from vidstyle.export import session_options

    assert session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options(spinning=True).get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert session_options(threads=3).intra_op_num_threads == 3
    assert session_options().intra_op_num_threads == torch.get_num_threads()
    runner = OnnxRunner(_tiny_net())
    assert runner.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_onnx_runtime_runs_without_telemetry_unless_the_user_asks(tmp_path):
    """ONNX Runtime 1.29+ wrote a device ID under ~/.cache on every import (and a coloured warning
    on stderr where that is read-only), and queues usage events for Microsoft; vidstyle turns that
    off unless ORT_DISABLE_TELEMETRY is set (review, 37th session)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("from vidstyle.export import load_onnxruntime; import os; "
            "load_onnxruntime(); print(os.environ['ORT_DISABLE_TELEMETRY'])")
    for setting, expected in ((None, "1"), ("0", "0")):
        home = tmp_path / f"home_{setting}"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
        env.update(HOME=str(home), PYTHONPATH=str(root), **({"ORT_DISABLE_TELEMETRY": setting} if setting else {}))
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == expected, r.stderr
        written = [p.name for p in home.rglob("*") if p.is_file()]
        # Whether ONNX Runtime writes its device ID when telemetry is left on depends on the
        # machine (the CI machine's run wrote none), so only the default is checked for files.
        if setting is None:
            assert written == [] and "telemetry" not in r.stderr, (written, r.stderr)


def test_exports_from_several_threads_at_once():
    """torch.onnx.export keeps its state in process globals: two Stylizers built at once in two
    threads (CPU fp32 runs under ONNX Runtime) failed with torch's AssertionError
    'GLOBALS.in_onnx_export must be False'. Exports take turns, and each graph is whole."""
    import threading

    from vidstyle.export import export_onnx_bytes

    model = _randomize_norms(light_net())
    threads, rounds = 3, 2
    barrier = threading.Barrier(threads)
    errors, graphs = [], []

    def export():
        try:
            for _ in range(rounds):
                barrier.wait()
                graphs.append(export_onnx_bytes(model))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)
            barrier.abort()

    workers = [threading.Thread(target=export) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert len(graphs) == threads * rounds
    x = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        ref = model(x)
    for data in graphs[::threads]:
        assert torch.allclose(OnnxRunner(data)(x), ref, atol=1e-3)


def test_an_export_in_one_thread_leaves_other_threads_networks_as_they_run():
    """torch.onnx.is_in_onnx_export() is a process-wide flag: while one thread exported (a Stylizer
    built on a CPU in fp32), another thread's eager bf16 network took the export's forms (the stock
    norms instead of the fp32-statistics ones: outputs up to 4 grey levels off, now and then)."""
    import threading

    from vidstyle.models.transformer import _use_lowp_norm

    exporting, checked = threading.Event(), threading.Event()
    seen = {}

    class Waits(torch.nn.Module):
        def forward(self, x):
            seen["exporter"] = _use_lowp_norm(x.to(torch.bfloat16))
            exporting.set()
            checked.wait(30)
            return x + 1

    def other_thread():
        exporting.wait(30)
        with torch.no_grad():
            seen["in export"] = torch.onnx.is_in_onnx_export()
            seen["other"] = _use_lowp_norm(torch.zeros(1, 2, 4, 4, dtype=torch.bfloat16))
        checked.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    try:
        import io
        import warnings

        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(Waits(), (torch.rand(1, 2, 4, 4),), io.BytesIO(), dynamo=False)
    finally:
        checked.set()
        worker.join()
    assert seen["in export"]  # (what made the other thread's network change its forms)
    assert seen == {"exporter": False, "in export": True, "other": True}


def test_an_export_beside_an_image_read_leaves_the_warning_filters_as_they_were(tmp_path, monkeypatch):
    """warnings.catch_warnings puts back, at its end, the filters it found at its start: an image
    read (open_image) that began inside an export (which ignores every warning for its time) and
    ended after it put the export's "ignore everything" back, for the rest of the process, and a
    program's own warnings were never shown again. The two take turns."""
    import threading
    import warnings

    from PIL import Image

    from vidstyle.export import export_onnx_bytes
    from vidstyle.io.images import open_image, write_image

    image = tmp_path / "p.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    reading, release = threading.Event(), threading.Event()
    real_open, real_export = Image.open, torch.onnx.export

    def slow_open(*args, **kwargs):
        reading.set()  # inside open_image's catch_warnings block
        release.wait(30)
        return real_open(*args, **kwargs)

    errors = []

    def read():
        try:
            open_image(image)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    reader = threading.Thread(target=read, daemon=True)

    def export_beside_a_read(*args, **kwargs):
        reader.start()
        reading.wait(2)  # (with the turns taken, the read waits for the export: no reading)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(Image, "open", slow_open)
    monkeypatch.setattr(torch.onnx, "export", export_beside_a_read)
    with warnings.catch_warnings():  # this test's own, whatever happens
        before = list(warnings.filters)
        try:
            export_onnx_bytes(light_net())
        finally:
            release.set()
            reader.join(30)
        assert not reader.is_alive() and not errors, errors
        assert warnings.filters == before


def test_cli_export_writes_the_opset_asked_and_declares_every_output_axis_dynamic(tmp_path):
    # --opset was parsed but no test read it back from the file; and the output's batch, height and
    # width must be declared dynamic too (ONNX Runtime runs a graph declaring them fixed, but other
    # consumers size their buffers from the declared shape)
    from vidstyle.config import MAX_OPSET, MIN_OPSET

    weights = tmp_path / "s.safetensors"
    save_model(weights, light_net(), styles=[{"name": "a"}])
    out = tmp_path / "s.onnx"
    assert main(["export", "--onnx", str(out), "--style", str(weights), "--opset", str(MIN_OPSET)]) == 0
    proto = onnx.load(str(out))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [MIN_OPSET]
    for value in (*proto.graph.input, *proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "", "height", "width"] and dims[1].dim_value == 3
    # the newest opset the range allows is written too (the range ends are both in it)
    export_onnx(_tiny_net(), tmp_path / "newest.onnx", opset=MAX_OPSET)
    proto = onnx.load(str(tmp_path / "newest.onnx"))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [MAX_OPSET]
    # refused as it is parsed, before the network is loaded (torch's import, seconds): one past the
    # newest too, which was refused only once the network had loaded (review, 54th session)
    for opset in (MIN_OPSET - 1, MAX_OPSET + 1):
        done = subprocess.run([sys.executable, "-m", "vidstyle", "export", "--onnx", str(tmp_path / "t.onnx"),
                               "--style", str(weights), "--opset", str(opset)], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr == (
            f"vidstyle export: error: argument --opset: must be an ONNX opset, {MIN_OPSET} to {MAX_OPSET}, got {opset} "
            "(see vidstyle export --help)\n"), done.stderr
        assert not (tmp_path / "t.onnx").exists()
    # the newest is torch's exporter's, said without importing torch: the same number
    assert MAX_OPSET == getattr(torch.onnx._constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", MAX_OPSET)


def test_a_nan_difference_fails_the_numerical_check(tmp_path, monkeypatch):
    # a graph whose output is NaN differs by NaN, which compares False with any tolerance
    import vidstyle.export
    from vidstyle.errors import VidstyleError

    monkeypatch.setattr(vidstyle.export, "max_abs_diff", lambda model, data: float("nan"))
    with pytest.raises(VidstyleError, match="nothing written"):
        export_onnx(_tiny_net(), tmp_path / "n.onnx", tolerance=1e-3)
    assert not list(tmp_path.iterdir())


def test_a_network_is_exported_for_onnx_runtime_once_then_read_from_the_cache(tmp_path, monkeypatch):
    """Exporting costs seconds (most of it torch's exporter importing the onnx package): a network
    and mix exported once are read back from the cache by later runs, with the same result; another
    mix, other weights or a damaged file are exported (again); the most recently used files stay."""
    import vidstyle.export as export_mod

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    exports = []
    real = export_mod.export_onnx_bytes
    monkeypatch.setattr(export_mod, "export_onnx_bytes", lambda model: exports.append(1) or real(model))
    def two_style_net():  # whose styles differ (each style's norm parameters start out alike)
        torch.manual_seed(0)
        net = TransformerNet((4, 8), num_residual=1, num_styles=2).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.3 * torch.randn_like(p))
        return net

    net = two_style_net()
    x = torch.rand(1, 3, 24, 32)
    first = OnnxRunner(net)(x)
    again = OnnxRunner(net)(x)
    assert len(exports) == 1 and torch.equal(first, again)
    (cached,) = (tmp_path / "cache" / "onnx").glob("*.onnx")
    net.set_style([0.3, 0.7])  # another mix: another graph, and the right one
    mixed = OnnxRunner(net)(x)
    assert len(exports) == 2 and torch.allclose(mixed, net(x), atol=1e-3)
    assert not torch.allclose(mixed, first, atol=1e-3)
    with torch.no_grad():
        next(net.parameters()).add_(0.1)  # other weights (fine-tuned further, say)
    OnnxRunner(net)
    assert len(exports) == 3 and len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 3
    cached.write_bytes(b"damaged")
    net_again = two_style_net()
    assert torch.equal(OnnxRunner(net_again)(x), first) and len(exports) == 4
    assert cached.read_bytes() != b"damaged"  # written again
    monkeypatch.setattr(export_mod, "ONNX_CACHE_FILES", 2)
    being_written = tmp_path / "cache" / "onnx" / ".x.vidstyle-0.partial.onnx"  # another process's
    being_written.write_bytes(b"half")
    net_again.set_style([0.9, 0.1])
    OnnxRunner(net_again)
    kept = list((tmp_path / "cache" / "onnx").glob("[!.]*.onnx"))
    assert len(kept) == 2 and cached in kept and being_written.exists()  # the two used last


def test_a_cache_that_cannot_be_written_or_found_is_done_without(tmp_path, monkeypatch, caplog):
    """Found by a review of the installed wheel run with a read-only home: the run went on
    uncached, as it should, but said nothing, so every run paid the export again unawares. Now one
    warning a process says so and what to set; a second network (a preview's next style) adds none."""
    from pathlib import Path

    import vidstyle.export as export_mod

    monkeypatch.setattr(export_mod, "_CACHE_WARNED", set())
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "a_file"))
    x = torch.rand(1, 3, 16, 16)
    net = light_net().eval()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert torch.allclose(OnnxRunner(net)(x), net(x), atol=1e-3)
        with torch.no_grad():
            next(net.parameters()).add_(0.01)
        OnnxRunner(net)  # another graph, the same unwritable folder
    assert (tmp_path / "a_file").read_text() == "not a folder"
    (note,) = [r.getMessage() for r in caplog.records if r.name == "vidstyle"]
    assert str(tmp_path / "a_file" / "onnx") in note and "set VIDSTYLE_CACHE to a writable folder" in note
    caplog.clear()
    # no home folder to find (a service account without one): Path.home() raises
    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert torch.allclose(OnnxRunner(net)(x), net(x), atol=1e-3)
    (note,) = [r.getMessage() for r in caplog.records if r.name == "vidstyle"]
    assert "Could not determine home directory" in note and "VIDSTYLE_CACHE" in note


def test_a_relative_xdg_cache_home_is_ignored_for_the_home_folders_cache(tmp_path, monkeypatch):
    """Found by a review of the installed wheel run with XDG_CACHE_HOME set: a relative value (the
    XDG spec calls it invalid, to be ignored) put a cache folder under each folder a run started in."""
    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    OnnxRunner(light_net().eval())
    assert list((tmp_path / "work").iterdir()) == []
    assert len(list((tmp_path / "home" / ".cache" / "vidstyle" / "onnx").glob("*.onnx"))) == 1


def test_an_absolute_xdg_cache_home_holds_the_caches_home_or_not(tmp_path, monkeypatch):
    """Mutation testing, 57th session: XDG_CACHE_HOME could be ignored altogether (the caches put
    under ~/.cache, or none made where the home folder is missing) with every test passing."""
    from vidstyle.io.files import cache_folder

    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))
    assert cache_folder("onnx") == tmp_path / "xdg" / "vidstyle" / "onnx"
    assert cache_folder("flow") == tmp_path / "xdg" / "vidstyle" / "flow"


def test_a_home_folder_that_does_not_exist_is_not_made_for_the_cache(tmp_path, monkeypatch, caplog):
    """Found by a review of the installed wheel run with HOME naming a missing folder (a service's
    HOME=/nonexistent): the cache made that home folder, and .cache in it. Now the run goes on
    uncached and says so."""
    import vidstyle.export as export_mod

    monkeypatch.setattr(export_mod, "_CACHE_WARNED", set())
    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))
    net, x = light_net().eval(), torch.rand(1, 3, 16, 16)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert torch.allclose(OnnxRunner(net)(x), net(x), atol=1e-3)
    assert list(tmp_path.iterdir()) == []
    assert f"the home folder {tmp_path / 'missing'} does not exist" in caplog.text and "VIDSTYLE_CACHE" in caplog.text


def test_a_home_that_names_a_file_is_said_to_be_one(tmp_path, monkeypatch):
    """HOME naming a file (not a folder) was said to be a home folder that "does not exist"
    (review, 58th session)."""
    from vidstyle.io.files import cache_folder

    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    (tmp_path / "home").write_text("a file")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(RuntimeError, match=f"^the home folder {re.escape(str(tmp_path / 'home'))} is a file, not a "
                                            "folder$"):
        cache_folder("onnx")
    assert (tmp_path / "home").read_text() == "a file"


def test_the_cache_warning_says_where_it_could_not_cache(tmp_path, monkeypatch, caplog):
    """Mutation testing, 57th session: the note's "in FOLDER" and "anywhere" could be swapped with
    every test passing (the folder is named in the reason too)."""
    import errno
    import re
    from pathlib import Path

    import vidstyle.export as export_mod

    monkeypatch.setattr(export_mod, "_CACHE_WARNED", set())
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    real_write_bytes = Path.write_bytes

    def full_disk(self, data):
        if self.suffix == ".onnx":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    tail = "; it is exported again each run (set VIDSTYLE_CACHE to a writable folder)"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        OnnxRunner(light_net().eval())
    folder = tmp_path / "cache" / "onnx"
    (note,) = [r.getMessage() for r in caplog.records if r.name == "vidstyle"]
    assert re.fullmatch(re.escape(f"cannot cache the network exported for ONNX Runtime in {folder} (writing {folder}/")
                        + r"[0-9a-f.]+\.onnx failed: No space left on device\)" + re.escape(tail), note), note
    caplog.clear()
    monkeypatch.delenv("VIDSTYLE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        OnnxRunner(light_net().eval())
    assert [r.getMessage() for r in caplog.records if r.name == "vidstyle"] == [
        f"cannot cache the network exported for ONNX Runtime anywhere (the home folder {tmp_path / 'missing'} "
        f"does not exist){tail}"]


def test_a_cache_file_gone_during_the_clean_up_is_no_warning(tmp_path, monkeypatch, caplog):
    """Mutation testing, 57th session: a clean-up that failed (a file another process removed
    between listing and reading its time, here a link to nothing) could be said as a cache that
    cannot be written, with every test passing; the network was cached all the same."""
    import vidstyle.export as export_mod

    monkeypatch.setattr(export_mod, "_CACHE_WARNED", set())
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "onnx"
    folder.mkdir(parents=True)
    (folder / f"{'0' * 40}.{'0' * 16}.onnx").symlink_to(tmp_path / "removed.onnx")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        OnnxRunner(light_net().eval())
    assert caplog.records == []
    assert len([p for p in folder.glob("*.onnx") if p.exists()]) == 1  # cached all the same


def test_a_cache_that_can_be_read_but_not_touched_is_still_read(tmp_path, monkeypatch):
    """A read-only cache (a mount, a pre-filled folder of another user's): marking a file as
    recently used fails, and the network it holds was thrown away and exported again every run."""
    import vidstyle.export as export_mod

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    exports = []
    real = export_mod.export_onnx_bytes
    monkeypatch.setattr(export_mod, "export_onnx_bytes", lambda model: exports.append(1) or real(model))
    net, x = light_net().eval(), torch.rand(1, 3, 16, 16)
    first = OnnxRunner(net)(x)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(export_mod.os, "utime", read_only)
    assert torch.equal(OnnxRunner(net)(x), first) and len(exports) == 1


def test_partial_files_of_killed_writers_are_cleared_from_the_cache(tmp_path, monkeypatch):
    """A process killed while it wrote a cache file leaves it hidden (up to 8 MB), which the
    clean-up of the files used least passed over for ever; one being written (new) stays."""
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "onnx"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".abc.vidstyle-1234.partial.onnx", folder / ".def.vidstyle-5678.partial.onnx"
    stale.write_bytes(b"cut off")
    fresh.write_bytes(b"being written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    OnnxRunner(light_net().eval())
    assert not stale.exists() and fresh.exists()


def test_a_cache_file_damaged_where_onnx_runtime_cannot_tell_is_exported_again(tmp_path, monkeypatch):
    """A flipped bit in a weight leaves a graph that ONNX Runtime loads and runs: it painted wrong
    frames in every later run (each read kept it as recently used)."""
    import vidstyle.export as export_mod

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    exports = []
    real = export_mod.export_onnx_bytes
    monkeypatch.setattr(export_mod, "export_onnx_bytes", lambda model: exports.append(1) or real(model))
    net, x = _randomize_norms(light_net()), torch.rand(1, 3, 32, 32)
    first = OnnxRunner(net)(x)
    (cached,) = (tmp_path / "cache" / "onnx").glob("*.onnx")
    data = bytearray(cached.read_bytes())
    middle = len(data) // 2  # inside the weights (most of the file)
    data[middle:middle + 64] = bytes(b ^ 0x55 for b in data[middle:middle + 64])
    cached.write_bytes(bytes(data))
    assert not torch.allclose(OnnxRunner(bytes(data))(x), first, atol=1e-3)  # loads, and paints wrongly
    assert torch.equal(OnnxRunner(net)(x), first) and len(exports) == 2
    (again,) = (tmp_path / "cache" / "onnx").glob("*.onnx")  # in the damaged file's place
    assert again.read_bytes() != bytes(data)


def test_a_cache_file_onnx_runtime_refuses_though_its_name_matches_is_exported_again(tmp_path, monkeypatch):
    """A cache file whose bytes match the digest in its name but that ONNX Runtime cannot load
    (written whole by a broken exporter, or put there by hand): it is removed and the network
    exported again, not read back and refused on every run."""
    import vidstyle.export as export_mod

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    net, x = _randomize_norms(light_net()), torch.rand(1, 3, 32, 32)
    folder = tmp_path / "cache" / "onnx"
    folder.mkdir(parents=True)
    junk = b"not an ONNX graph"
    refused = folder / export_mod._cache_name(export_mod._graph_key(net), junk)
    refused.write_bytes(junk)
    with torch.inference_mode():
        assert torch.allclose(OnnxRunner(net)(x), net(x), atol=1e-3)
    assert not refused.exists() and len(list(folder.glob("*.onnx"))) == 1  # the new export in its place


def test_the_cache_clean_up_removes_only_its_own_files(tmp_path, monkeypatch):
    """The clean-up of the files used least removed any *.onnx in the cache's folder: an export
    of the user's own saved there (VIDSTYLE_CACHE pointed at a folder of models) went too."""
    import vidstyle.export as export_mod

    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(export_mod, "ONNX_CACHE_FILES", 1)
    folder = tmp_path / "cache" / "onnx"
    folder.mkdir(parents=True)
    mine = folder / "my_export.onnx"
    mine.write_bytes(b"the user's")
    os.utime(mine, (time.time() - 7200, time.time() - 7200))
    OnnxRunner(light_net().eval())
    assert mine.read_bytes() == b"the user's"
    assert len(list(folder.glob("*.onnx"))) == 2


def test_a_run_under_way_in_a_thread_can_be_ended_from_another():
    """ONNX Runtime runs the whole network in one C call, which an exception sent to its thread
    (vidstyle live's stop) waits for: q or Ctrl-C during a standard style's frame kept the process
    on for the rest of the frame (2.9 s of a 3.8 s one on 2 busy cores) after its summary.
    stop_run ends the run of the thread it names, which raises."""
    import vidstyle.export as export_mod

    runner = OnnxRunner(_tiny_net())
    real, begun, go = runner.session, threading.Event(), threading.Event()

    class Session:  # the real one, its run begun only once the stop was asked for
        def run(self, outputs, feeds, options=None):
            begun.set()
            go.wait(30)
            return real.run(outputs, feeds, options)

    runner.session, outcome = Session(), []

    def work():
        try:
            outcome.append(runner(torch.rand(1, 3, 32, 32)))
        except Exception as exc:  # noqa: BLE001 - what ended it is the test's point
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert begun.wait(30)
    export_mod.stop_run(worker.ident)
    export_mod.stop_run(threading.get_ident())  # a thread with no run under way: nothing to stop
    go.set()
    worker.join(30)
    assert len(outcome) == 1 and not isinstance(outcome[0], torch.Tensor), outcome
    assert "terminate" in str(outcome[0])
    # the runner runs on afterwards, in this thread and that one's successors
    assert runner(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
