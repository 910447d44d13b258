"""R cells in the notebooks: ``%%R`` through rpy2 when R is there, a clear message when it is not.

    from course_utils.r_bridge import setup_r
    R_READY = setup_r(("ggplot2", "lme4", "broom", "broom.mixed", "dplyr"))

:func:`setup_r` checks R, rpy2 and the R packages, loads the ``rpy2.ipython`` extension (``%R``/``%%R``)
into the running IPython and returns True. When anything is missing it registers stand-in ``%R``/``%%R``
magics that print ``[R unavailable: cell skipped] <reason>`` with the install command, and returns False,
so the notebook still runs top to bottom. Environment variables:

- ``COURSE_REQUIRE_R=1`` (set in CI): a missing or broken R raises ``RuntimeError`` instead.
- ``COURSE_DISABLE_R=1``: behave as if R were absent (to test the no-R path on a machine that has R).

In Colab, R and rpy2 are there but some R packages are not (lme4, broom.mixed, …): :func:`setup_r` installs the
missing ones first (:func:`install_r_packages`: Colab's apt serves them as ``r-cran-*`` binaries; CRAN's
``install.packages`` for any apt lacks), saying so, and then loads ``rpy2.ipython``.

Whether R can be used at all is decided here too, and only here: :func:`r_status` (R on PATH, rpy2 importable, the
embedded R starts — through :func:`start_r`, which keeps R's ``LD_LIBRARY_PATH`` from leaking to child processes);
:func:`r_check` adds the R packages. The course's ``setup()`` reports what :func:`r_check` says.

:func:`r_friendly` makes a DataFrame safe to send with ``%%R -i`` and :func:`from_r` repairs what comes back
with ``-o`` (rpy2 turns R's integer ``NA`` into −2147483648 and character ``NA`` into ``"NA_character_"``).

Taught in notebook 06 (downstream analysis in R).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .environment import _env_flag, in_colab

DEFAULT_PACKAGES = ("ggplot2", "lme4", "broom", "broom.mixed", "dplyr")
SKIPPED = "[R unavailable: cell skipped]"
R_INT_NA = -2147483648  # what rpy2 returns for R's NA_integer_
R_CHR_NA = "NA_character_"  # what rpy2 returns for R's NA_character_
CRAN = "https://cloud.r-project.org"
R_INSTALL_HINT = (
    "Colab: R is already there. Debian/Ubuntu: sudo apt-get install --no-install-recommends r-base-core "
    "r-cran-ggplot2 r-cran-dplyr r-cran-tidyr r-cran-broom r-cran-broom.mixed r-cran-lme4. "
    "conda: conda install -c conda-forge r-base r-ggplot2 r-dplyr r-tidyr r-broom r-broom.mixed r-lme4. "
    "Then: RPY2_CFFI_MODE=ABI pip install 'explaining-bert[r]'"
)


# ------------------------------------------------------------------------------------ is R there at all?
def r_status() -> tuple[bool, str]:
    """Whether R and rpy2 can be used, and if not, why (with the command that installs them)."""
    if shutil.which("R") is None and not os.environ.get("R_HOME"):
        return False, f"no `R` on PATH. {R_INSTALL_HINT}"
    if importlib.util.find_spec("rpy2") is None:
        return False, "R is installed but rpy2 is not: RPY2_CFFI_MODE=ABI pip install 'explaining-bert[r]'"
    try:
        start_r()
    except Exception as exc:  # rpy2 raises many kinds of errors when R is broken
        return False, f"rpy2 could not start R ({type(exc).__name__}: {exc}). {R_INSTALL_HINT}"
    return True, "ready"


def start_r() -> None:
    """Start the embedded R (``import rpy2.robjects``) without leaking R's settings to child processes.

    R's start-up puts ``/usr/lib/x86_64-linux-gnu`` (Debian) on ``LD_LIBRARY_PATH``; a Python started later
    from this process (a Jupyter kernel, ``!pip``) would then load the system's libpython and fail to import
    ``ssl``. The variable is restored once R runs; R itself has already loaded its libraries.
    """
    os.environ.setdefault("RPY2_CFFI_MODE", "ABI")
    saved = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.robjects  # noqa: F401  (starts the embedded R)
    finally:
        if saved is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved


def _check_names(required) -> tuple[str, ...]:
    if isinstance(required, str):
        required = (required,)
    if not isinstance(required, Sequence) or not all(isinstance(p, str) and p for p in required):
        raise TypeError(f"required must be a sequence of R package names (strings), got {required!r}")
    return tuple(required)


def install_hint(packages: Sequence[str]) -> str:
    """The commands that install the R ``packages``: Debian/Ubuntu apt, conda, and ``install.packages``."""
    names = list(packages)
    apt = " ".join(f"r-cran-{p.lower()}" for p in names)
    conda = " ".join(f"r-{p.lower()}" for p in names)
    cran = ", ".join(f'"{p}"' for p in names)
    return (
        f"Debian/Ubuntu: sudo apt-get install {apt}. conda: conda install -c conda-forge {conda}. "
        f"Or in R: install.packages(c({cran}))"
    )


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The R packages among ``packages`` that are not installed (R must be usable through rpy2)."""
    import rpy2.robjects as ro

    # system.file() finds an installed package without loading it; rpy2's isinstalled() calls library(),
    # which leaves "library … contains no packages" warnings behind on Debian's R (empty site library)
    found = ro.r("function(p) vapply(p, function(x) nzchar(system.file(package = x)), logical(1))")
    names = list(_check_names(packages))
    if not names:
        return []
    return [p for p, ok in zip(names, found(ro.StrVector(names))) if not ok]


def r_check(required: Sequence[str] = DEFAULT_PACKAGES) -> tuple[bool, str]:
    """Whether R, rpy2 and the ``required`` R packages can be used; if not, why and how to fix it.

    Extends :func:`r_status` with the package check and ``COURSE_DISABLE_R``.

    Returns:
        ``(ok, reason)``: ``(True, "ready")`` or ``(False, "<what is missing>. <install command>")``.
    """
    required = _check_names(required)
    if _env_flag("COURSE_DISABLE_R"):
        return False, f"R is switched off by COURSE_DISABLE_R=1 (unset it to use R). {R_INSTALL_HINT}"
    ok, reason = r_status()
    if not ok:
        return False, reason
    try:
        missing = missing_packages(required)
    except Exception as exc:  # rpy2 started but R misbehaves
        return False, f"R started but could not list its packages ({type(exc).__name__}: {exc})"
    if missing:
        return False, f"R package(s) {missing} not installed. {install_hint(missing)}"
    return True, "ready"


def _apt_install(names: Sequence[str], run=subprocess.run) -> bool:
    """``apt-get install`` the ``r-cran-*`` packages (after ``apt-get update`` if the first try fails)."""
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *names]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if run(command, capture_output=True, text=True, env=env).returncode == 0:
        return True
    run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env)
    return run(command, capture_output=True, text=True, env=env).returncode == 0


def _cran_install(names: list[str]) -> None:
    """``install.packages(names)`` from CRAN in the embedded R."""
    import rpy2.robjects as ro

    ro.r["install.packages"](ro.StrVector(names), repos=CRAN, quiet=True)


def install_r_packages(packages: Sequence[str], *, run=subprocess.run, cran=_cran_install) -> list[str]:
    """Install R ``packages`` where the course may (Colab): apt's binaries first, then ``install.packages``.

    Prints what it installs (apt takes about a minute for lme4 and broom.mixed; building from CRAN sources,
    the fallback, several minutes). R must already be usable through rpy2.

    Args:
        packages: R package names, e.g. ``["lme4", "broom.mixed"]``.
        run: the function that runs a command (``subprocess.run``; tests pass a recorder).
        cran: the function that installs a list of packages from CRAN (tests pass a recorder).

    Returns:
        The packages still missing afterwards (empty when all were installed).
    """
    names = list(_check_names(packages))
    if not names:
        return []
    print(
        f"Installing the R package(s) {names} that this runtime lacks (once per runtime, about a minute) ...",
        flush=True,
    )
    _apt_install([f"r-cran-{p.lower()}" for p in names], run=run)
    still = missing_packages(names)
    if still:
        print(
            f"apt did not provide {still}; installing them from CRAN (building from source: several minutes) ...",
            flush=True,
        )
        try:
            cran(still)
        except Exception as exc:  # rpy2 turns R's errors into RRuntimeError
            print(f"install.packages failed: {type(exc).__name__}: {exc}")
        still = missing_packages(still)
    print("R packages ready." if not still else f"Still missing: {still}. {install_hint(still)}")
    return still


def _install_in_colab(required: Sequence[str], optional: Sequence[str]) -> None:
    """In Colab, with R usable, install the ``required`` and ``optional`` R packages it lacks."""
    if not in_colab() or _env_flag("COURSE_DISABLE_R") or not r_status()[0]:
        return
    try:
        absent = missing_packages([*required, *optional])
    except Exception:  # R misbehaves: r_check reports it
        return
    if absent:
        install_r_packages(absent)


def _stand_in(reason: str):
    """A ``%R``/``%%R`` magic that runs nothing and says why."""

    def R(line: str = "", cell: str | None = None) -> None:
        print(f"{SKIPPED} {reason}")

    R.__doc__ = f"R is unavailable here; R cells are skipped. {reason}"
    return R


def setup_r(
    required: Sequence[str] = DEFAULT_PACKAGES, *, optional: Sequence[str] = (), ipython=None
) -> bool:
    """Make ``%R``/``%%R`` cells work when R can be used, and skip them with a message when it cannot.

    Args:
        required: R packages the notebook needs (default ggplot2, lme4, broom, broom.mixed, dplyr).
        optional: R packages the notebook uses when present (e.g. ``("sandwich", "lmtest")``); missing ones
            are only reported.
        ipython: the IPython shell (default: the running one; outside IPython only the check runs).

    In Colab, R packages of ``required`` and ``optional`` that are missing are installed first
    (:func:`install_r_packages`).

    Returns:
        True when R, rpy2 and ``required`` are usable (the ``rpy2.ipython`` extension is then loaded);
        False otherwise, after registering stand-in ``%R``/``%%R`` magics that print
        ``[R unavailable: cell skipped] <reason>``.

    Raises:
        RuntimeError: R is not usable and ``COURSE_REQUIRE_R=1``.
    """
    required, optional = _check_names(required), _check_names(optional)
    _install_in_colab(required, optional)
    ok, reason = r_check(required)
    if not ok and _env_flag("COURSE_REQUIRE_R"):
        raise RuntimeError(f"COURSE_REQUIRE_R=1 but R cannot be used: {reason}")
    if ipython is None:
        try:
            from IPython import get_ipython

            ipython = get_ipython()
        except ImportError:
            ipython = None
    if ok:
        if optional and (absent := missing_packages(optional)):
            print(
                f"R is ready; optional R package(s) {absent} are missing (some results use a fallback). "
                f"{install_hint(absent)}"
            )
        if ipython is not None:
            _load_rmagic(ipython)
        return True
    print(f"R is not available, so the %%R cells of this notebook will be skipped: {reason}")
    if ipython is not None:
        ipython.register_magic_function(_stand_in(reason), magic_kind="line_cell", magic_name="R")
    return False


def _load_rmagic(ipython) -> None:
    os.environ.setdefault("RPY2_CFFI_MODE", "ABI")
    if ipython.extension_manager.load_extension("rpy2.ipython") == "already loaded":
        from rpy2.ipython import rmagic  # re-register: a stand-in may have replaced %R since

        rmagic.load_ipython_extension(ipython)


# -------------------------------------------------------------------------------------- data frames
def r_friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that rpy2 sends to R without surprises (for ``%%R -i``).

    Plain (str) strings, float64, int64 without missing values and bool (→ R logical) pass unchanged;
    nullable integer/boolean columns become float64 (missing → NaN, which R reads as NA); categoricals
    become strings; the index is dropped (R would make it row names).

    Raises:
        TypeError: a column holds lists, dicts or other Python objects (R cannot take them): aggregate or
            ``.astype(str)`` them first.

    An :func:`~course_utils.attribution.explain` result (:class:`~course_utils.attribution.Explanations`)
    sends its token table (``.tokens``, copied as every frame is).
    """
    from .attribution._result import token_table

    frame = token_table(frame)  # copied below: no need for .to_frame()'s copy
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype("str")
        elif pd.api.types.is_extension_array_dtype(col.dtype) and pd.api.types.is_bool_dtype(col.dtype):
            out[name] = col.astype("float64") if col.hasnans else col.astype(bool)
        elif pd.api.types.is_extension_array_dtype(col.dtype) and pd.api.types.is_integer_dtype(col.dtype):
            out[name] = col.astype("float64") if col.hasnans else col.astype(np.int64)
        elif pd.api.types.is_extension_array_dtype(col.dtype) and pd.api.types.is_float_dtype(col.dtype):
            out[name] = col.astype("float64")
        elif col.dtype == object:
            bad = col[
                ~col.map(lambda v: isinstance(v, str) or v is None or (isinstance(v, float) and np.isnan(v)))
            ]
            if len(bad):
                raise TypeError(
                    f"column {name!r} holds {type(bad.iloc[0]).__name__} values (e.g. {bad.iloc[0]!r}); "
                    f"R needs plain columns: aggregate them or convert with .astype(str)"
                )
            out[name] = col.astype("str")
    return out


def _is_missing(value) -> bool:
    """None, NaN, pd.NA, or one of rpy2's NA objects (``NA_Logical``, ``NA_Character`` …)."""
    kind = type(value)
    if kind.__module__.startswith("rpy2") and kind.__name__.startswith("NA"):
        return True
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def from_r(frame: pd.DataFrame) -> pd.DataFrame:
    """Repair a DataFrame that came back from R with ``%%R -o``: NA sentinels → missing, clean index.

    ``-2147483648`` in integer columns (R's ``NA_integer_``) → NaN (the column becomes float64); character
    columns with ``NA`` → str columns with missing values; logical columns with ``NA`` (object dtype) →
    float64 (1.0/0.0/NaN).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame (from %%R -o), got {type(frame).__name__}")
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_integer_dtype(col.dtype) and (col == R_INT_NA).any():
            out[name] = col.astype("float64").where(col != R_INT_NA)
        elif col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            values = [None if _is_missing(v) or (isinstance(v, str) and v == R_CHR_NA) else v for v in col]
            present = [v for v in values if v is not None]
            if present and all(isinstance(v, (bool, np.bool_)) for v in present):
                out[name] = pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
            elif all(isinstance(v, str) for v in present):
                out[name] = pd.Series(values, dtype="str")
    return out
