"""Tests for course_utils.r_bridge: setup_r with R present, R absent, a missing R package, COURSE_REQUIRE_R,
and the data-frame round trip through rpy2 (NA sentinels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import r_bridge

R_OK, R_REASON = r_bridge.r_check(())
needs_r = pytest.mark.skipif(not R_OK, reason=f"R/rpy2 not usable here: {R_REASON}")


@pytest.fixture
def shell():
    """The test IPython shell (one per process), with stdout captured by pytest's capsys."""
    from IPython.testing.globalipapp import get_ipython

    return get_ipython()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("COURSE_REQUIRE_R", raising=False)
    monkeypatch.delenv("COURSE_DISABLE_R", raising=False)
    # Outside Colab by default, also in CI's simulated Colab runtime (its google.colab stand-in would make
    # setup_r try apt-get for the made-up packages some tests ask for); the Colab tests below opt in.
    monkeypatch.setattr(r_bridge, "in_colab", lambda: False)


class _Recorder:
    """Stands in for subprocess.run: records each command and answers with ``returncode``."""

    def __init__(self, returncode: int = 0):
        self.returncode, self.commands = returncode, []

    def __call__(self, command, **kwargs):
        import subprocess

        self.commands.append(list(command))
        return subprocess.CompletedProcess(command, self.returncode, "", "")


def _missing_sequence(monkeypatch, *answers):
    """missing_packages() answers ``answers`` in turn (the packages still missing at each check)."""
    calls = iter(answers)
    monkeypatch.setattr(
        r_bridge, "missing_packages", lambda packages: [p for p in next(calls) if p in packages]
    )


def test_install_r_packages_takes_apt_binaries(monkeypatch, capsys):
    run = _Recorder(0)
    _missing_sequence(monkeypatch, [])
    assert r_bridge.install_r_packages(["lme4", "broom.mixed"], run=run) == []
    assert run.commands == [
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "r-cran-lme4", "r-cran-broom.mixed"]
    ]
    out = capsys.readouterr().out
    assert "Installing the R package(s) ['lme4', 'broom.mixed']" in out and "R packages ready." in out


def test_install_r_packages_updates_apt_then_falls_back_to_cran(monkeypatch, capsys):
    run = _Recorder(100)  # apt-get fails (no such package), before and after apt-get update
    installed = []
    _missing_sequence(monkeypatch, ["broom.mixed"], [])
    assert r_bridge.install_r_packages(["lme4", "broom.mixed"], run=run, cran=installed.append) == []
    assert [c[:2] for c in run.commands] == [
        ["apt-get", "install"],
        ["apt-get", "update"],
        ["apt-get", "install"],
    ]
    assert installed == [["broom.mixed"]]
    assert "installing them from CRAN" in capsys.readouterr().out


def test_install_r_packages_reports_what_is_still_missing(monkeypatch, capsys):
    def cran(names):
        raise RuntimeError("package 'nosuchpkg' is not available")

    _missing_sequence(monkeypatch, ["nosuchpkg"], ["nosuchpkg"])
    assert r_bridge.install_r_packages(["nosuchpkg"], run=_Recorder(100), cran=cran) == ["nosuchpkg"]
    out = capsys.readouterr().out
    assert "install.packages failed: RuntimeError" in out and "Still missing: ['nosuchpkg']" in out


def test_setup_r_in_colab_installs_missing_packages_first(monkeypatch):
    asked = []
    monkeypatch.setattr(r_bridge, "in_colab", lambda: True)
    monkeypatch.setattr(r_bridge, "r_status", lambda: (True, "ready"))
    monkeypatch.setattr(
        r_bridge, "missing_packages", lambda packages: ["lme4", "sandwich"] if not asked else []
    )
    monkeypatch.setattr(r_bridge, "install_r_packages", lambda packages: asked.append(list(packages)) or [])
    assert r_bridge.setup_r(("ggplot2", "lme4"), optional=("sandwich",), ipython=None) is True
    assert asked == [["lme4", "sandwich"]]  # required and optional alike, once


def test_setup_r_outside_colab_never_installs(monkeypatch, capsys):
    monkeypatch.setattr(r_bridge, "r_status", lambda: (True, "ready"))
    monkeypatch.setattr(r_bridge, "missing_packages", lambda packages: ["lme4"])
    monkeypatch.setattr(
        r_bridge, "install_r_packages", lambda packages: pytest.fail("installed outside Colab")
    )
    assert r_bridge.setup_r(("lme4",), ipython=None) is False
    assert "R package(s) ['lme4'] not installed" in capsys.readouterr().out


def _run(shell, source: str):
    result = shell.run_cell(source)
    assert result.error_before_exec is None and result.error_in_exec is None, result
    return result


@needs_r
def test_setup_r_present_loads_rmagic(shell):
    assert (
        r_bridge.setup_r(("stats", "ggplot2", "lme4", "broom", "broom.mixed", "dplyr"), ipython=shell) is True
    )
    shell.user_ns["frame"] = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0], "flag": [True, False, True], "g": ["a", "b", "a"]}
    )
    _run(
        shell,
        "%%R -i frame -o out\nout <- data.frame(n = nrow(frame), s = sum(frame$x), cls = class(frame$flag))",
    )
    out = shell.user_ns["out"]
    assert int(out["n"].iloc[0]) == 3 and float(out["s"].iloc[0]) == 6.0
    assert out["cls"].iloc[0] == "logical"  # bool columns arrive as R logical


@needs_r
def test_setup_r_present_replaces_a_stand_in(shell, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DISABLE_R", "1")
    assert r_bridge.setup_r(ipython=shell) is False
    monkeypatch.delenv("COURSE_DISABLE_R")
    assert r_bridge.setup_r(ipython=shell) is True
    capsys.readouterr()
    _run(shell, "%%R -o y\ny <- 40 + 2")
    out = capsys.readouterr().out
    assert (
        r_bridge.SKIPPED not in out and "Warning" not in out
    )  # the package check leaves no R warnings behind
    assert float(np.asarray(shell.user_ns["y"])[0]) == 42.0


@needs_r
def test_setup_r_sandwich_and_lmtest_installed():
    """The notebook's robust standard errors use them (CI installs r-cran-sandwich and r-cran-lmtest)."""
    assert r_bridge.missing_packages(("sandwich", "lmtest")) == []


def test_setup_r_absent_registers_stand_in(shell, monkeypatch, capsys):
    monkeypatch.setattr(r_bridge, "r_status", lambda: (False, "no `R` on PATH (test)"))
    assert r_bridge.setup_r(ipython=shell) is False
    assert "no `R` on PATH (test)" in capsys.readouterr().out
    shell.user_ns.pop("skipped_value", None)
    _run(shell, "%%R -o skipped_value\nskipped_value <- 1")
    out = capsys.readouterr().out
    assert out.startswith(r_bridge.SKIPPED) and "no `R` on PATH (test)" in out
    assert "skipped_value" not in shell.user_ns
    _run(shell, "%R 1 + 1")  # the line magic is replaced too
    assert r_bridge.SKIPPED in capsys.readouterr().out


def test_setup_r_disabled_by_env_says_how_to_install(shell, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DISABLE_R", "1")
    assert r_bridge.setup_r(ipython=shell) is False
    _run(shell, "%%R\nprint(1)")
    out = capsys.readouterr().out
    for hint in ("COURSE_DISABLE_R", "Colab", "apt-get install", "conda install -c conda-forge r-base"):
        assert hint in out


@needs_r
def test_setup_r_missing_package_is_named(shell, capsys):
    assert r_bridge.setup_r(("ggplot2", "surelyNotAnRPackage42"), ipython=shell) is False
    out = capsys.readouterr().out
    assert "surelyNotAnRPackage42" in out and "r-cran-surelynotanrpackage42" in out and "ggplot2'" not in out


@pytest.mark.parametrize("disable", [True, False])
def test_setup_r_required_raises(monkeypatch, shell, disable):
    monkeypatch.setenv("COURSE_REQUIRE_R", "1")
    if disable:
        monkeypatch.setenv("COURSE_DISABLE_R", "1")
        required = r_bridge.DEFAULT_PACKAGES
    else:
        monkeypatch.setattr(r_bridge, "missing_packages", lambda packages: list(packages))
        monkeypatch.setattr(r_bridge, "r_status", lambda: (True, "ready"))
        required = ("ggplot2",)
    with pytest.raises(RuntimeError, match="COURSE_REQUIRE_R=1 but R cannot be used"):
        r_bridge.setup_r(required, ipython=shell)


def test_setup_r_outside_ipython_only_checks(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DISABLE_R", "1")
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    assert r_bridge.setup_r() is False
    assert "will be skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    "required, match",
    [
        (42, "sequence of R package names"),
        (["ggplot2", ""], "sequence of R package names"),
        ([None], "sequence of R package names"),
    ],
)
def test_setup_r_bad_required(required, match):
    with pytest.raises(TypeError, match=match):
        r_bridge.setup_r(required, ipython=None)


def test_r_friendly_converts_nullable_and_rejects_objects():
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "j": pd.array([1, 2, 3], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "c": pd.Categorical(["a", "b", "a"]),
            "o": pd.Series(["x", None, "z"], dtype=object),
        },
        index=[5, 6, 7],
    )
    out = r_bridge.r_friendly(frame)
    assert out["i"].dtype == np.float64 and np.isnan(out["i"].iloc[1])
    assert out["j"].dtype == np.int64 and out["b"].dtype == np.float64
    assert pd.api.types.is_string_dtype(out["c"]) and pd.api.types.is_string_dtype(out["o"])
    assert list(out.index) == [0, 1, 2]
    with pytest.raises(TypeError, match="column 'l' holds list values"):
        r_bridge.r_friendly(pd.DataFrame({"l": [[1, 2], [3]]}))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        r_bridge.r_friendly([1, 2])


@needs_r
def test_from_r_repairs_na_sentinels():
    import rpy2.robjects as ro
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter + pandas2ri.converter):
        raw = ro.conversion.get_conversion().rpy2py(
            ro.r("data.frame(a = c(1L, NA), b = c(TRUE, NA), s = c('x', NA), f = c(1.5, NA))")
        )
    assert (raw["a"] == r_bridge.R_INT_NA).any()  # the problem from_r exists to fix
    out = r_bridge.from_r(raw)
    assert out["a"].iloc[0] == 1.0 and np.isnan(out["a"].iloc[1])
    assert out["b"].iloc[0] == 1.0 and np.isnan(out["b"].iloc[1])
    assert out["s"].iloc[0] == "x" and pd.isna(out["s"].iloc[1])
    assert list(out.index) == [0, 1]


@needs_r
def test_r_friendly_round_trip_keeps_missing_values():
    import rpy2.robjects as ro
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    frame = pd.DataFrame(
        {"year": pd.array([1982, None], dtype="Int64"), "ok": [True, False], "s": ["a", "b"]}
    )
    with localconverter(ro.default_converter + pandas2ri.converter):
        r_frame = ro.conversion.get_conversion().py2rpy(r_bridge.r_friendly(frame))
        n_na = ro.r("function(d) sum(is.na(d$year))")(r_frame)[0]
        back = r_bridge.from_r(ro.conversion.get_conversion().rpy2py(r_frame))
    assert n_na == 1
    assert back["year"].iloc[0] == 1982 and np.isnan(back["year"].iloc[1])
    assert back["ok"].tolist() == [True, False]


def test_r_check_without_r_on_path_in_a_fresh_process(tmp_path):
    """A real "no R" machine: PATH without R and no R_HOME (in a subprocess, since R may be running here)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"R_HOME", "COURSE_REQUIRE_R", "COURSE_DISABLE_R"}}
    env["PATH"] = str(tmp_path)  # an empty folder: no R, no Rscript
    code = "from course_utils.r_bridge import r_check; ok, why = r_check(); print(ok); print(why)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ok, why = out.stdout.splitlines()[:2]
    assert ok == "False" and "no `R` on PATH" in why and "apt-get install" in why
