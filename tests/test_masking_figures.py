"""Tests for course_utils.masking_figures: the figures of notebook 04 build, and bad shapes are refused."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from course_utils import masking_figures as F


def test_attention_suppression_figure_three_panels():
    rng = np.random.default_rng(0)
    before = rng.dirichlet(np.ones(4), size=4)
    after = rng.dirichlet(np.ones(4), size=4)
    fig = F.attention_suppression_figure(list("abcd"), before, after, 2, title="t")
    assert len([ax for ax in fig.axes if ax.get_title()]) == 3


def test_attention_suppression_figure_bad_shape_raises():
    with pytest.raises(ValueError, match="len\\(tokens\\)"):
        F.attention_suppression_figure(list("abc"), np.eye(4), np.eye(4), 0)


def test_sign_trap_figure_bars():
    fig = F.sign_trap_figure([-1.0, 1.0, 0.5, -2.0], column=0)
    assert len(fig.axes[0].patches) == 12  # 3 variants x 4 keys


def test_cost_figure_lines_and_missing_columns():
    costs = pd.DataFrame(
        {
            "method": ["atman", "atman", "ig", "ig"],
            "n_tokens": [16, 32, 16, 32],
            "forward_passes": [15, 31, 16, 16],
            "seconds": [0.1, 0.3, 0.2, 0.4],
            "peak_mb": [5, 9, 30, 60],
        }
    )
    fig = F.cost_figure(costs)
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    with pytest.raises(ValueError, match="peak_mb"):
        F.cost_figure(costs.drop(columns="peak_mb"))


# ----------------------------------------------------------- the committed figures of notebooks 04 and 05
from course_utils import evaluation_figures as EF  # noqa: E402
from course_utils import figures as FIG  # noqa: E402

LESSON_FIGURES = ["atman_vs_loo", "deletion_aopc"]


def test_lesson_figures_registered_for_build_all():
    assert set(LESSON_FIGURES) <= set(FIG.COMMITTED)


@pytest.mark.parametrize("name", LESSON_FIGURES)
def test_lesson_figure_regenerates_byte_identically(tmp_path, name):
    first = FIG.build_all(tmp_path / "a", names=[name])
    second = FIG.build_all(tmp_path / "b", names=[name])
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    png, svg = first
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in png.read_bytes()
    text = svg.read_text()
    assert "<dc:date>" not in text and "Matplotlib v" not in text


@pytest.mark.parametrize("name", LESSON_FIGURES)
def test_committed_lesson_figure_matches_regenerated(tmp_path, name, locked_matplotlib):
    """The files under figures/ are what `python -m course_utils figures` writes today."""
    from pathlib import Path

    committed = Path(__file__).resolve().parent.parent / "figures"
    for path in FIG.build_all(tmp_path, names=[name]):
        assert path.read_bytes() == (committed / path.name).read_bytes(), f"regenerate figures/{path.name}"


def test_atman_vs_loo_marks_the_column_and_the_row():
    fig = F.atman_vs_loo_figure()
    loo_ax, atman_ax = fig.axes
    s = len(F.ATMAN_LOO_TOKENS)
    hatched = [p for p in loo_ax.patches if p.get_hatch()]
    assert len(hatched) == 2 * s - 1  # LOO: the row and the column of the token
    assert sum(t.get_text() == "×0.1" for t in atman_ax.texts) == s  # AtMan: the key column only
    assert any(t.get_text() == "[MASK]" for t in loo_ax.texts)
    assert not any(t.get_text() == "[MASK]" for t in atman_ax.texts)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"column": 0}, ValueError, "content token"),
        ({"column": 9}, ValueError, "content token"),
        ({"column": True}, TypeError, "column must be an integer, got bool"),
        ({"tokens": ["[CLS]", "[SEP]"]}, ValueError, "3 to 16"),
    ],
)
def test_atman_vs_loo_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        F.atman_vs_loo_figure(**kwargs)


def test_toy_deletion_curve_and_aopc_title():
    order, p = EF.toy_deletion_curve()
    assert order[0] == "!!!!!" and len(p) == len(order) + 1
    assert np.all(np.diff(p) <= 1e-12)  # removing evidence for spam never raises it here
    ks = EF.bin_sizes(len(order))
    assert ks == [1, 1, 1, 2, 4]  # ceil(f * 7) for ERASER's bins
    aopc = np.mean([p[0] - p[k] for k in ks])
    fig = EF.deletion_aopc_figure(p, labels=order, target="spam")
    assert fig.axes[0].get_title().endswith(f"= {aopc:.2f}")


def test_bin_sizes_match_the_library():
    from course_utils.evaluation import ERASER_BINS
    from course_utils.evaluation._tables import n_units_at

    assert tuple(EF.ERASER_BINS) == tuple(ERASER_BINS)
    for n in (1, 7, 40, 333):
        assert EF.bin_sizes(n) == [n_units_at(f, n) for f in ERASER_BINS]


@pytest.mark.parametrize(
    ("p", "kwargs", "error", "match"),
    [
        ([0.5], {}, ValueError, "n \\+ 1 >= 2"),
        ([0.5, 1.5], {}, ValueError, "\\[0, 1\\]"),
        ([0.9, 0.5, 0.1], {"labels": ["a"]}, ValueError, "one per unit"),
    ],
)
def test_deletion_aopc_figure_bad_input(p, kwargs, error, match):
    with pytest.raises(error, match=match):
        EF.deletion_aopc_figure(p, **kwargs)


@pytest.mark.parametrize(("n", "error"), [(0, ValueError), (True, TypeError), (2.0, TypeError)])
def test_bin_sizes_bad_input(n, error):
    with pytest.raises(error):
        EF.bin_sizes(n)
