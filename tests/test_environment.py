"""Tests for course_utils.environment (offline detection, seeds, cache folder), the course's setup report
(course_utils.course.environment) and R detection (course_utils.r_bridge.r_status / start_r)."""

import os

import pytest
import torch

from course_utils import environment, r_bridge
from course_utils.course.environment import EnvironmentReport, setup
from course_utils.environment import cache_dir, hub_reachable


def test_setup_returns_report(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report = setup(seed=7, check_r=False)
    assert isinstance(report, EnvironmentReport)
    assert report.seed == 7 and report.device in {"cpu", "cuda"}
    assert report.offline and not report.hub_reachable
    from importlib.metadata import version

    assert report.versions["torch"] == version(
        "torch"
    )  # whichever torch runs: the lock's 2.13 or Colab's 2.11
    printed = capsys.readouterr().out
    assert "seed            7" in printed and "offline: using the packaged MiniLM" in printed
    assert report.as_dict()["offline"] is True


def test_setup_seeds_torch_and_numpy(monkeypatch):
    import numpy as np

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    setup(seed=3, check_r=False, verbose=False)
    first = (torch.rand(3), np.random.rand(3))
    setup(seed=3, check_r=False, verbose=False)
    assert torch.equal(first[0], torch.rand(3)) and np.array_equal(first[1], np.random.rand(3))
    assert torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_hub_reachable_honours_offline_variables(monkeypatch, var):
    monkeypatch.setenv(var, "1")
    monkeypatch.setattr(
        environment.socket, "create_connection", lambda *a, **k: pytest.fail("network was tried")
    )
    assert hub_reachable() is False


def test_hub_reachable_never_hangs(monkeypatch):
    """A resolver that never answers: hub_reachable still returns False, while the resolver is stuck (no clock)."""
    import threading

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    entered, release = threading.Event(), threading.Event()

    def dead_resolver(*args, **kwargs):
        entered.set()
        release.wait()  # hangs until the test lets it go
        raise OSError("timed out")

    monkeypatch.setattr(environment.socket, "create_connection", dead_resolver)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(hub_reachable(timeout=0.2)), daemon=True)
    caller.start()
    caller.join(60)  # a generous guard so a regression fails instead of hanging the suite
    try:
        assert answers == [False], "hub_reachable blocked on a resolver that never answers"
        assert entered.is_set() and not release.is_set()  # it returned while the lookup was still stuck
    finally:
        release.set()


def test_cache_dir_honours_course_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cache_dir_defaults_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "explaining-bert"


def test_r_status_without_r_says_how_to_install(monkeypatch):
    monkeypatch.setattr(r_bridge.shutil, "which", lambda name: None)
    monkeypatch.delenv("R_HOME", raising=False)
    ok, message = r_bridge.r_status()
    assert not ok and "apt-get install" in message and "Colab" in message


@pytest.mark.skipif(
    os.environ.get("COURSE_REQUIRE_R") != "1", reason="R is required only where COURSE_REQUIRE_R=1 (CI)"
)
def test_r_status_with_r_installed():
    assert r_bridge.r_status() == (True, "ready")


@pytest.mark.skipif(not r_bridge.r_status()[0], reason="needs R and rpy2")
def test_start_r_leaves_child_processes_a_working_python():
    import subprocess
    import sys

    before = os.environ.get("LD_LIBRARY_PATH")
    r_bridge.start_r()
    assert os.environ.get("LD_LIBRARY_PATH") == before
    child = subprocess.run([sys.executable, "-c", "import ssl"], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr  # a Jupyter kernel started after R must import ssl


def test_setup_is_the_courses_and_the_package_front_door_reaches_it():
    import course_utils

    assert course_utils.setup is setup


@pytest.mark.parametrize(
    "name, home",
    [
        ("setup", "course_utils.course.environment"),
        ("r_status", "course_utils.r_bridge"),
        ("EnvironmentReport", "course_utils.course.environment"),
    ],
)
def test_moved_names_still_work_for_one_release_and_say_where_they_went(name, home):
    import importlib

    new = getattr(importlib.import_module(home), name)
    with pytest.warns(DeprecationWarning, match=f"moved to {home}.{name}"):
        assert getattr(environment, name) is new
    with pytest.warns(DeprecationWarning, match=f"moved to {home}"):
        exec(f"from course_utils.environment import {name}", {})
    with pytest.raises(AttributeError, match="has no attribute 'never_here'"):
        _ = environment.never_here
