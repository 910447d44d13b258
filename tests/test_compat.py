"""course_utils.compat under whichever pandas and matplotlib are installed (CI runs both the locked versions and
Colab's: pandas 3.x / 2.2, matplotlib 3.11 / 3.10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyBboxPatch, Rectangle

from course_utils import compat


def test_text_dtype_is_what_pandas_gives_text():
    assert pd.Series(["x", "y"]).astype("str").dtype == compat.TEXT_DTYPE
    assert (compat.TEXT_DTYPE == object) == (compat.PANDAS_MAJOR < 3)  # noqa: E721 (a dtype equals object)


def test_text_array_makes_a_native_text_column():
    frame = pd.DataFrame({"token": compat.text_array(["[CLS]", "tax", "[SEP]"])})
    assert frame["token"].dtype == compat.TEXT_DTYPE
    assert frame["token"].tolist() == ["[CLS]", "tax", "[SEP]"]


def test_as_text_converts_and_keeps_missing_values():
    out = compat.as_text(pd.Series(["a", None, 3], dtype=object))
    assert out.dtype == compat.TEXT_DTYPE
    assert out.iloc[0] == "a" and out.iloc[2] == "3" and pd.isna(out.iloc[1])


def test_is_text_recognises_both_kinds_of_text_column():
    assert compat.is_text(pd.Series(["a"], dtype=object).dtype)
    assert compat.is_text(pd.Series(["a"], dtype="string").dtype)
    assert compat.is_text(pd.Series(["a"]).astype("str").dtype)
    assert not compat.is_text(pd.Series([1.0]).dtype)
    assert not compat.is_text(np.dtype("int64"))


def test_make_patch_draws_the_hatch_in_the_given_colour():
    patch = compat.make_patch(
        FancyBboxPatch, (0, 0), 1, 1, boxstyle="round", hatch="//", hatchcolor="#6A9BBE", edgecolor="#333333"
    )
    assert patch.get_hatch() == "//"
    assert tuple(patch._hatch_color) == to_rgba("#6A9BBE")  # not the edge colour (matplotlib 3.10's default)
    assert tuple(patch.get_edgecolor()) == to_rgba("#333333")


def test_make_patch_without_hatchcolor_is_the_plain_constructor():
    patch = compat.make_patch(Rectangle, (0, 0), 1, 2, facecolor="red")
    assert isinstance(patch, Rectangle) and patch.get_height() == 2


def test_no_patch_takes_hatchcolor_directly():
    """matplotlib 3.10 (Colab's) rejects hatchcolor=; every patch with one goes through compat.make_patch."""
    import re
    from pathlib import Path

    package = Path(compat.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for call in re.finditer(r"(\w+)\((?:[^()]|\([^()]*\))*hatchcolor=", path.read_text(encoding="utf-8")):
            if call.group(1) not in ("make_patch", "cls") and path.name != "compat.py":
                offenders.append(f"{path.name}: {call.group(1)}(… hatchcolor=…)")
    assert not offenders, offenders
