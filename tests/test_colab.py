"""The Colab install path: the setup cell every notebook starts with, the supported Pythons, the legacy
``colab-install`` command. (CI also runs all of this for real in a simulated Colab runtime: .ci/colab_runtime.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from course_utils import notebook_tools as nt

ROOT = Path(__file__).resolve().parent.parent
COLAB_INFO = ROOT.parent / "shared" / "colab"


def _requires_python() -> SpecifierSet:
    return SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])


def test_requires_python_admits_colabs_python():
    os_info = COLAB_INFO / "os-info.txt"
    if not os_info.exists():
        pytest.skip(f"{os_info} is not here (it comes with ../shared beside the checkout)")
    version = re.search(r"^Python (\d+\.\d+\.\d+)", os_info.read_text(), re.MULTILINE).group(1)
    assert _requires_python().contains(version), (
        f"requires-python {_requires_python()} excludes Colab's Python {version}"
    )


@pytest.mark.parametrize("version", ["3.11.9", "3.12.3", "3.13.0"])
def test_requires_python_admits_every_supported_python(version):
    assert _requires_python().contains(version)


def test_this_python_is_supported():
    assert _requires_python().contains(".".join(map(str, sys.version_info[:3])))


class _Pip:
    """Records the setup cell's pip call and answers with ``returncode``."""

    def __init__(self, returncode: int, stderr: str = ""):
        self.returncode, self.stderr, self.calls = returncode, stderr, []

    def __call__(self, command, **kwargs):
        self.calls.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def _run_setup_cell(monkeypatch, *, colab: bool, installed: bool, pip: _Pip) -> dict:
    """Execute the setup cell's source as a notebook would, with Colab, the install state and pip faked."""
    import importlib.util

    import course_utils

    if colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: real_find_spec(name, *a) if installed or name != "course_utils" else None,
    )
    monkeypatch.setattr(subprocess, "run", pip)
    reports = []
    monkeypatch.setattr(course_utils, "setup", lambda seed: reports.append(seed) or f"report {seed}")
    namespace: dict = {}
    exec(compile(nt.setup_source(), "<setup cell>", "exec"), namespace)
    namespace["_reports"] = reports
    return namespace


def test_setup_cell_in_colab_installs_the_course_then_calls_setup(monkeypatch, capsys):
    pip = _Pip(0)
    ns = _run_setup_cell(monkeypatch, colab=True, installed=False, pip=pip)
    (command,) = pip.calls
    assert command[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert command[5] == f"explaining-bert @ git+https://github.com/{nt.REPO}@{nt.BRANCH}"
    assert "--no-deps" not in command  # what Colab lacks comes with the package; its own packages stay
    assert ns["report"] == "report 42" and ns["_reports"] == [42]
    assert "Installing the course" in capsys.readouterr().out


def test_setup_cell_stops_loudly_when_the_install_fails(monkeypatch):
    pip = _Pip(1, "ERROR: Package 'explaining-bert' requires a different Python")
    with pytest.raises(
        RuntimeError, match="pip could not install the course:\nERROR: Package 'explaining-bert'"
    ):
        _run_setup_cell(monkeypatch, colab=True, installed=False, pip=pip)


def test_setup_cell_installs_once_per_runtime(monkeypatch):
    pip = _Pip(0)
    ns = _run_setup_cell(monkeypatch, colab=True, installed=True, pip=pip)
    assert pip.calls == [] and ns["_reports"] == [42]


def test_setup_cell_outside_colab_installs_nothing(monkeypatch):
    pip = _Pip(0)
    ns = _run_setup_cell(monkeypatch, colab=False, installed=False, pip=pip)
    assert pip.calls == [] and ns["_reports"] == [42]


def _non_editable_install(tmp_path, monkeypatch, folder: str, file: str, text: str):
    """Pretend course_utils was pip-installed into site-packages, with ``file`` under <prefix>/share/…/``folder``
    (where the wheel's data files go); returns that share folder."""
    fake_pkg = tmp_path / "site-packages" / "course_utils"
    (fake_pkg / "course").mkdir(parents=True)
    shared = tmp_path / "prefix" / "share" / "explaining-bert" / folder
    shared.mkdir(parents=True)
    (shared / file).write_text(text)
    monkeypatch.setattr(nt, "__file__", str(fake_pkg / "course" / "notebook_tools.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    return shared


def test_notebooks_are_found_after_a_non_editable_install(tmp_path, monkeypatch):
    """Colab's pip install puts the package in site-packages and the notebooks under <prefix>/share."""
    shared = _non_editable_install(tmp_path, monkeypatch, "notebooks", "00_start_here.ipynb", "{}")
    assert nt._notebook_dir() == shared  # NOTEBOOK_DIR is computed by this function at import


def test_no_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no course notebooks .* pass folder="):
        nt.notebooks(tmp_path)


def test_docs_are_found_after_a_non_editable_install(tmp_path, monkeypatch):
    docs = _non_editable_install(tmp_path, monkeypatch, "docs", "cheatsheet.md", "# Cheat sheet")
    monkeypatch.setattr(nt, "NOTEBOOK_DIR", tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    assert nt.docs_dir() == docs
