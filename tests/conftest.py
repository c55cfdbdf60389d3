"""Shared fixtures: the development data beside the project, when present."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# What vidstyle caches (exported ONNX networks, training's flow) goes to the tests' own folder, not
# the user's: each test process (and the processes its tests start) has one, removed at its end.
os.environ["VIDSTYLE_CACHE"] = _TEST_CACHE = tempfile.mkdtemp(prefix="vidstyle-tests-cache-")
atexit.register(shutil.rmtree, _TEST_CACHE, True)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores, and many tests start a `vidstyle` process of their
    # own besides. OpenMP threads that spin while they wait for work slow every process sharing the
    # cores when there are more threads than cores (a test of 3 s alone took 45-62 s in the suite).
    # Waiting threads sleep at once, and each worker's own torch uses one thread. Set before torch
    # is imported (OpenMP reads it once); the processes the tests start inherit it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)

#: ``../shared/data`` beside the project root, or where $VIDSTYLE_SHARED_DATA says (a checkout
#: elsewhere would otherwise skip every test that uses it, silently)
SHARED_DATA = Path(os.environ.get("VIDSTYLE_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """:data:`SHARED_DATA`; tests that need it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"development data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def style(tmp_path_factory) -> Path:
    """A tiny randomly initialised network saved as a user's style file."""
    import torch

    from vidstyle.models.transformer import TransformerNet
    from vidstyle.models.weights import save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("style") / "random.safetensors"
    save_model(path, TransformerNet((8, 16, 16), num_residual=1), styles=[{"name": "random"}])
    return path


@pytest.fixture(scope="session")
def cxx_compiler() -> str:
    """The C++ compiler torch.compile's CPU code is built with; tests that really compile skip
    cleanly without a working one (vidstyle itself then falls back or says so: tested apart)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # inductor's layout moved: look for a compiler as it would
        import shutil

        found = next((c for c in (os.environ.get("CXX"), "g++", "c++", "clang++") if c and shutil.which(c)), None)
        if found is None:
            pytest.skip("torch.compile needs a C++ compiler (g++ or clang++), and none was found")
        return found
    try:
        return get_cpp_compiler()
    except Exception as exc:  # noqa: BLE001 - inductor's InvalidCxxCompiler, whatever its module
        pytest.skip(f"torch.compile needs a working C++ compiler: {str(exc).splitlines()[0]}")


@pytest.fixture
def cli(capsys):
    """Run ``vidstyle ARGS`` in this process, returning what a child process would (exit status,
    stdout, stderr) without its seconds of importing torch. What only a process shows (signals,
    closed or full standard streams, the interpreter's exit) is tested with real child processes."""

    def run(*args) -> subprocess.CompletedProcess:
        from vidstyle.cli import main

        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors, as `python -m vidstyle` would exit
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args=["vidstyle", *map(str, args)], returncode=code,
                                           stdout=captured.out, stderr=captured.err)

    return run


@pytest.fixture
def ctrl_c_as_in_a_terminal():
    """Ctrl-C (SIGINT) handled as Python handles it in a terminal, a KeyboardInterrupt, for the
    test, and put back after it: the suite run as a background job (`make test &`, nohup) inherits
    it ignored, and a test before may have left either."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def unreadable_safetensors(monkeypatch):
    """Every .safetensors file as one vidstyle may not read (mode 000), which a test run as root
    cannot make: safetensors' ``safe_open`` raises what it raises then ("No such file or directory:
    PATH", no errno), and the system's ``open`` says "Permission denied"."""
    from vidstyle.models import weights

    def as_safetensors_says(name, *args, **kwargs):
        raise FileNotFoundError(f"No such file or directory: {name}")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("safetensors.safe_open", as_safetensors_says)  # imported at the call (loss networks)
    monkeypatch.setattr(weights, "safe_open", as_safetensors_says)  # imported at the top (model files)
    monkeypatch.setattr(weights, "open", denied, raising=False)


@pytest.fixture
def held_open(monkeypatch):
    """``held_open(path)``: from then on ``os.replace`` or ``os.rename`` onto ``path``, or of ``path``
    to another name, fails as Windows fails it while another program (a player) holds the file
    open, PermissionError; other renames work."""
    real_replace, real_rename = os.replace, os.rename

    def hold(path: Path) -> None:
        def refusing(real):
            def move(src, dst, *args, **kwargs):
                if Path(path) in (Path(src), Path(dst)):
                    raise PermissionError(13, "Permission denied", str(dst))
                return real(src, dst, *args, **kwargs)
            return move

        monkeypatch.setattr(os, "replace", refusing(real_replace))
        monkeypatch.setattr(os, "rename", refusing(real_rename))

    return hold
