"""Tests for course_utils.masking_figures: the figures of notebook 04 build, and bad shapes are refused."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_utils import masking_figures as F  # noqa: E402


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
    costs = pd.DataFrame({"method": ["atman", "atman", "ig", "ig"], "n_tokens": [16, 32, 16, 32],
                          "forward_passes": [15, 31, 16, 16], "seconds": [0.1, 0.3, 0.2, 0.4], "peak_mb": [5, 9, 30, 60]})
    fig = F.cost_figure(costs)
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    with pytest.raises(ValueError, match="peak_mb"):
        F.cost_figure(costs.drop(columns="peak_mb"))
