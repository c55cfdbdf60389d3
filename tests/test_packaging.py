"""What the built distributions hold: built from a copy of the project (setuptools writes build/
and *.egg-info beside pyproject.toml), with the build backend the venv has."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def distributions(tmp_path_factory) -> dict[str, list[str]]:
    """The file names in the wheel and the sdist, by kind."""
    pytest.importorskip("setuptools.build_meta")
    src = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "vidstyle", src / "vidstyle", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    for kind in ("wheel", "sdist"):  # a process each: in one, the sdist after the wheel was not written
        build = f"import sys, setuptools.build_meta as b; b.build_{kind}(sys.argv[1])"
        subprocess.run([sys.executable, "-c", build, str(out)], cwd=src, check=True, capture_output=True)
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as w, tarfile.open(sdist) as s:
        return {"wheel": w.namelist(), "sdist": [n.split("/", 1)[1] for n in s.getnames() if "/" in n]}


def test_both_distributions_carry_the_py_typed_marker(distributions):
    """Found by a review of the Python API as a typed library: without vidstyle/py.typed (PEP 561)
    a user's type checker ignored every hint of the installed package."""
    assert "vidstyle/py.typed" in distributions["wheel"]
    assert "vidstyle/py.typed" in distributions["sdist"]
    assert "vidstyle/models/styles/light_mondrian.safetensors" in distributions["wheel"]


def test_the_wheel_holds_every_bundled_style_its_license_and_nothing_of_the_source_tree(distributions):
    """Found by a review of vidstyle installed from its wheel: only one bundled style was checked, so
    a package-data pattern that left a style out (its Styles entry then names a file not installed:
    `vidstyle stylize --style mondrian` failed for every pip user) passed every test. The wheel holds
    each Styles entry's file and the LICENSE; no tests, samples or benchmarks."""
    from vidstyle.models.zoo import Styles

    wheel = distributions["wheel"]
    for entry in Styles:
        assert f"vidstyle/models/styles/{entry.value.file}" in wheel, entry
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel)
    assert not [n for n in wheel if n.split("/")[0] in {"tests", "samples", "benchmarks"}]
    # in the package: its code, the PEP 561 marker and the bundled styles, nothing else
    assert not [n for n in wheel if n.startswith("vidstyle/") and not n.endswith((".py", "py.typed", ".safetensors"))]
