"""The picture of notebook 05: a deletion curve, annotated with what ERASER's AOPC comprehensiveness measures.

The committed figure (``figures/deletion_aopc.png/.svg``, ``python -m course_utils figures``) draws the toy
spam filter of notebook 04 — a logistic function of a few word weights, computed here, no model needed —
so the picture is exact; notebook 05 draws the same function on a real paragraph. This is lesson
scaffolding, apart from the library's :mod:`course_utils.evaluation` (whose ``_aopc`` module defines the
score). Taught in notebook 05.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._validation import check_positive_int

ERASER_BINS = (0.01, 0.05, 0.10, 0.20, 0.50)  # the same bins as course_utils.evaluation.ERASER_BINS

#: Notebook 04's toy spam filter: the message and its word weights (evidence for spam).
TOY_MESSAGE = ("buy", "this", "pill", "to", "get", "skinny", "!!!!!")
TOY_WEIGHTS = {"buy": 1.0, "pill": 1.5, "skinny": 1.0, "!!!!!": 2.0}
TOY_BIAS = 3.0


def bin_sizes(n_units: int, bins: Sequence[float] = ERASER_BINS) -> list[int]:
    """How many units each AOPC bin removes from a text of ``n_units``: ``ceil(f · n)``, as the library does."""
    check_positive_int(n_units, "n_units", hint="(a text needs at least one unit)")
    return [int(min(n_units, np.ceil(f * n_units - 1e-9))) for f in bins]


def toy_deletion_curve(
    message: Sequence[str] = TOY_MESSAGE, weights: Mapping[str, float] = TOY_WEIGHTS, bias: float = TOY_BIAS
) -> tuple[list[str], np.ndarray]:
    """The deletion curve of the toy filter, words removed in the order of their leave-one-out scores.

    Returns:
        ``(order, p)``: the words from most to least important, and ``p[k]`` = spam score with the top ``k``
        words removed, ``k = 0 … n`` (length ``n + 1``).
    """
    score = lambda words: 1 / (1 + np.exp(bias - sum(weights.get(w, 0.0) for w in words)))  # noqa: E731
    words = list(message)
    loo = [score(words) - score(words[:i] + words[i + 1 :]) for i in range(len(words))]
    order = [words[i] for i in np.argsort(-np.asarray(loo), kind="stable")]
    p = np.array([score(order[k:]) for k in range(len(order) + 1)])
    return order, p


def deletion_aopc_figure(
    p_removed: Sequence[float],
    *,
    labels: Sequence[str] | None = None,
    bins: Sequence[float] = ERASER_BINS,
    target: str = "target",
    width: float = 8.0,
):
    """A deletion curve with the drops that AOPC comprehensiveness averages.

    Args:
        p_removed: ``p[k]`` = the model's probability of the target with the ``k`` top-ranked units removed,
            ``k = 0 … n`` (so ``n + 1`` values, ``p[0]`` the unaltered text).
        labels: optionally the ``n`` units in removal order (shown under the steps).
        bins: the AOPC bins (shares of the units), ERASER's by default.
        target: the name of the class, for the axis label.

    Returns:
        ``matplotlib.figure.Figure``: the curve over "units removed", the level of the unaltered text, the
        area between them shaded (what a faithful explanation makes large), and for each distinct bin an
        arrow with its drop ``p[0] − p[k]``; the title gives their mean over the bins, the AOPC
        comprehensiveness of this text. Okabe–Ito colours. Taught in notebook 05.
    """
    from matplotlib.figure import Figure

    from ..plotting import OKABE_ITO

    p = np.asarray(p_removed, dtype=float)
    if p.ndim != 1 or len(p) < 2:
        raise ValueError(f"p_removed must be a 1-d sequence of n + 1 >= 2 probabilities, got shape {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_removed holds probabilities: every value must lie in [0, 1]")
    n = len(p) - 1
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries; give one per unit (n = {n})")
    ks = bin_sizes(n, bins)
    drops = [p[0] - p[k] for k in ks]
    aopc = float(np.mean(drops))
    fig = Figure(figsize=(width, width * 0.6))
    ax = fig.add_axes((0.1, 0.3, 0.86, 0.6))
    x, level = np.arange(n + 2), np.append(p, p[-1])  # p[k] is drawn over [k, k + 1)
    ax.fill_between(
        x,
        level,
        p[0],
        step="post",
        color=OKABE_ITO["sky_blue"],
        alpha=0.35,
        label="area over the curve: probability lost",
    )
    ax.step(x, level, where="post", color=OKABE_ITO["blue"], linewidth=2, label="deletion curve")
    ax.axhline(p[0], color=OKABE_ITO["black"], linestyle="--", linewidth=1, label=f"p({target} | whole text)")
    for k in sorted(set(ks)):  # one arrow per distinct k
        shown = [f"{b:.0%}" for b, kk in zip(bins, ks) if kk == k]
        ax.annotate(
            "",
            xy=(k + 0.5, p[k]),
            xytext=(k + 0.5, p[0]),
            arrowprops={"arrowstyle": "->", "color": OKABE_ITO["vermillion"], "linewidth": 1.6},
        )
        ax.text(
            k + 0.55,
            (p[0] + p[k]) / 2,
            f" {'/'.join(shown)}: top {k} out\n drop {p[0] - p[k]:.2f}",
            fontsize=8,
            color=OKABE_ITO["vermillion"],
            va="center",
        )
    ticks = [str(k) for k in range(n + 1)]
    if labels is not None:  # tick k: the k-th unit has just been removed
        ticks = ["0"] + [f"{k}\n−{lab}" for k, lab in enumerate(labels, start=1)]
    ax.set_xticks(range(n + 1), ticks, fontsize=8)
    ax.set_xlim(0, n + 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("top-ranked units removed (k)")
    ax.set_ylabel(f"p({target})")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    ax.set_title(
        f"AOPC comprehensiveness = mean of the drops over the bins {', '.join(f'{b:.0%}' for b in bins)}"
        f" = {aopc:.2f}",
        fontsize=10,
    )
    return fig


def _toy_figure():
    order, p = toy_deletion_curve()
    return deletion_aopc_figure(p, labels=order, target="spam")


#: The committed figure of notebook 05: file name → function (registered in ``figures.COMMITTED``).
COMMITTED = {"deletion_aopc": _toy_figure}
