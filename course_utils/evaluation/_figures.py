"""Figures of notebook 05: faithfulness curves, AOPC with intervals, agreement matrix, randomisation test.

All return a ``matplotlib.figure.Figure`` built without pyplot (it displays in Jupyter as the last
expression of a cell and can be saved with :func:`course_utils.viz.save`).

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._curves import Curves

RANDOM_STYLE = {"color": "0.45", "ls": "--"}
COLOURS = {
    "ig": "#b2182b",
    "loo": "#2166ac",
    "atman": "#1b7837",
    "shap": "#e08214",
    "lime": "#762a83",
    "random": "0.45",
}
MARKERS = {"ig": "o", "loo": "s", "atman": "^", "shap": "v", "lime": "P", "random": ""}


def _style(method: str, i: int) -> dict:
    fallback = ["#35978f", "#8c510a", "#c51b7d", "#4d4d4d"]
    style = {
        "color": COLOURS.get(method, fallback[i % len(fallback)]),
        "marker": MARKERS.get(method, "D"),
        "ms": 4,
    }
    return {**style, **RANDOM_STYLE} if method == "random" else style


def curves_figure(*curves: Curves, band: bool = True, width: float = 9.0):
    """One panel per :class:`Curves` (e.g. deletion and insertion): the mean curve of each method.

    Args:
        *curves: results of :func:`deletion_curve` / :func:`insertion_curve`.
        band: shade ± one standard error of the mean over documents.

    Returns:
        ``matplotlib.figure.Figure``; the legend gives each method's mean area under the curve.
    """
    from matplotlib.figure import Figure

    if not curves or not all(isinstance(c, Curves) for c in curves):
        raise TypeError("curves_figure takes one or more Curves, e.g. curves_figure(deletion, insertion)")
    fig = Figure(figsize=(width, 3.4))
    axes = np.atleast_1d(fig.subplots(1, len(curves), sharey=True))
    for ax, result in zip(axes, curves):
        mean = result.mean_curve()
        auc = result.auc.groupby("method")["auc"].mean()
        for i, (method, group) in enumerate(mean.groupby("method", sort=True)):
            style = _style(method, i)
            x, y = group["fraction"] * 100, group["probability"]
            ax.plot(x, y, label=f"{method} (AUC {auc[method]:.3f})", **style)
            if band:
                sem = group["sem"].fillna(0)
                ax.fill_between(x, y - sem, y + sem, color=style["color"], alpha=0.12, lw=0)
        better = "lower" if result.kind == "deletion" else "higher"
        verb = "removed" if result.kind == "deletion" else "restored"
        ax.set_title(f"{result.kind.capitalize()}: {better} area = more faithful", fontsize=10)
        ax.set_xlabel(f"% of tokens {verb} (highest-ranked first)")
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("p(target class)")
    fig.set_layout_engine("tight")
    return fig


def aopc_figure(table: pd.DataFrame):
    """Bars with 95 % intervals of AOPC comprehensiveness (and sufficiency) per method, from :func:`aopc_table`."""
    from matplotlib.figure import Figure

    panels = [
        ("comprehensiveness", "comp", "higher = more faithful"),
        ("sufficiency", "suff", "lower = more faithful"),
    ]
    panels = [p for p in panels if p[0] in table.columns]
    fig = Figure(figsize=(4.2 * len(panels), 3.0))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (column, short, note) in zip(axes, panels):
        methods = list(table.index)
        y = table[column].to_numpy(float)
        err = np.vstack(
            [y - table[f"{short}_low"].to_numpy(float), table[f"{short}_high"].to_numpy(float) - y]
        )
        colours = [_style(m, i)["color"] for i, m in enumerate(methods)]
        ax.bar(methods, y, yerr=err, color=colours, alpha=0.8, capsize=4)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"AOPC {column} ({note})", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability difference")
    fig.set_layout_engine("tight")
    return fig


def agreement_figure(matrix: pd.DataFrame, title: str = "Mean Spearman correlation between methods"):
    """A method × method heat map of :func:`agreement_matrix`, values written in the cells."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.8, 3.2))
    ax = fig.subplots()
    im = ax.imshow(matrix.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(matrix)), matrix.columns)
    ax.set_yticks(range(len(matrix)), matrix.index)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            value = matrix.iat[i, j]
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if abs(value) > 0.6 else "black",
            )
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    fig.set_layout_engine("tight")
    return fig


def sanity_figure(result: pd.DataFrame, statistics=("spearman", "spearman_abs")):
    """One panel per method: agreement with the original explanation as more of the model is randomised.

    Args:
        result: the table of :func:`sanity_check_randomisation`.
        statistics: columns drawn (mean over documents, shaded between the lowest and highest document).

    Returns:
        ``matplotlib.figure.Figure``; x runs from the original model through the head and the layers
        (top down) to the embeddings. A line that stays near 1 = explanations that ignore the model.
    """
    from matplotlib.figure import Figure

    methods = list(dict.fromkeys(result["method"]))
    steps = result.drop_duplicates("step").sort_values("step")
    fig = Figure(figsize=(3.4 * len(methods), 3.3))
    axes = np.atleast_1d(fig.subplots(1, len(methods), sharey=True))
    labels = {
        "spearman": "Spearman",
        "spearman_abs": "Spearman of |scores|",
        "top_k_overlap": "top-k overlap",
        "kendall": "Kendall",
    }
    for ax, method in zip(axes, methods):
        rows = result[result["method"] == method]
        for stat, ls in zip(statistics, ("-", "--", ":", "-.")):
            agg = rows.groupby("step")[stat].agg(["mean", "min", "max"]).reindex(steps["step"])
            colour = COLOURS.get(method, "black")
            ax.plot(
                steps["step"],
                agg["mean"],
                ls=ls,
                marker="o",
                ms=3,
                color=colour,
                label=labels.get(stat, stat),
            )
            ax.fill_between(steps["step"], agg["min"], agg["max"], color=colour, alpha=0.08, lw=0)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(steps["step"], steps["randomised"], rotation=60, ha="right", fontsize=7)
        ax.set_title(method, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("agreement with the original explanation")
    fig.suptitle("Cascading randomisation: re-initialised from the top down", fontsize=10)
    fig.set_layout_engine("tight")
    return fig
