"""The one place where the course's supported package versions behave differently, and how each is bridged.

The local install pins one version of everything (``requirements/lock.txt``); Colab brings its own (Python 3.13,
pandas 2.2, matplotlib 3.10, ipywidgets 7.7, ipykernel 6, transformers 5.15, torch 2.11: see
``../shared/colab/``). Code elsewhere calls these helpers instead of testing versions itself, and
``tests/test_compat.py`` checks each helper under whichever versions are installed.

Differences handled here:

- **pandas 2.2 vs 3.x strings.** pandas 3 stores text in its ``str`` dtype; pandas 2.2 keeps it as ``object``
  (``astype("str")`` there gives ``object``). :func:`text_array` and :func:`as_text` give the native text dtype
  of the installed pandas; :func:`is_text` recognises both.
- **matplotlib 3.10 vs 3.11 hatch colours.** ``hatchcolor=`` is a patch keyword from 3.11 on; before, the
  hatch takes the edge colour. :func:`make_patch` creates a patch with its hatch colour either way.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

PANDAS_MAJOR = int(pd.__version__.split(".")[0])
#: The dtype pandas gives text with ``astype("str")``: ``str`` on pandas 3, ``object`` on pandas 2.
TEXT_DTYPE = pd.Series(["a"]).astype("str").dtype


def text_array(values: Iterable[str]):
    """An array of strings in the installed pandas' native text dtype (for a DataFrame column)."""
    values = list(values)
    if PANDAS_MAJOR >= 3:
        return pd.array(values, dtype="str")
    return np.array(values, dtype=object)


def as_text(series: pd.Series) -> pd.Series:
    """``series`` as text in the installed pandas' native text dtype (missing values stay missing)."""
    if PANDAS_MAJOR >= 3:
        return series.astype("str")
    return series.map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).astype(
        object
    )


def is_text(dtype) -> bool:
    """True for a text column's dtype under either pandas: ``str``/``string`` or ``object``."""
    return dtype == object or pd.api.types.is_string_dtype(dtype)  # noqa: E721 (a numpy dtype equals object)


def _has_hatchcolor() -> bool:
    from matplotlib.patches import Patch

    return "hatchcolor" in Patch.__init__.__code__.co_varnames or hasattr(Patch, "set_hatchcolor")


HAS_HATCHCOLOR = _has_hatchcolor()


def make_patch(cls, *args, hatchcolor: str | None = None, **kwargs):
    """``cls(*args, **kwargs)`` (a matplotlib patch class) with its hatch drawn in ``hatchcolor``.

    matplotlib ≥ 3.11 takes ``hatchcolor=``; 3.10 gives the hatch the edge colour and has no public setter, so
    the colour is set on the patch's ``_hatch_color`` after it is made (the attribute 3.10 draws it from).
    """
    if hatchcolor is None:
        return cls(*args, **kwargs)
    if HAS_HATCHCOLOR:
        return cls(*args, hatchcolor=hatchcolor, **kwargs)
    patch = cls(*args, **kwargs)
    patch._hatch_color = to_rgba(hatchcolor)
    patch.stale = True
    return patch


def moved_attribute(module: str, moved: dict[str, str], name: str):
    """A module ``__getattr__`` for names that moved in issue 16: the object from its new home (``moved[name]``),
    with a ``DeprecationWarning`` that says where it lives now. The old path works for one release.

    Raises:
        AttributeError: ``name`` never lived in ``module``.
    """
    import importlib
    import warnings

    if name not in moved:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} moved to {moved[name]}.{name} (issue 16); the old path works until the next "
        "release",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(moved[name]), name)
