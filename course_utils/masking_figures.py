"""Figures of notebook 04 (masking attribution): attention before/after AtMan suppression, the sign trap,
and the cost of LOO/AtMan/IG as a paragraph grows.

Taught in notebook 04. Token heat maps come from :mod:`course_utils.viz`; save figures with ``viz.save``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def attention_suppression_figure(tokens: Sequence[str], before: np.ndarray, after: np.ndarray, column: int, *,
                                 title: str = "", width: float = 11.0):
    """The attention matrix of one layer before and after suppressing key ``column``, and the change.

    Args:
        tokens: the ``s`` tokens (axis labels).
        before, after: ``(s, s)`` attention weights (rows = queries, columns = keys), e.g. averaged over heads.
        column: the suppressed key position (outlined).

    Returns:
        ``matplotlib.figure.Figure`` with three panels: before, after (same colour scale) and after − before
        (blue = attention lost, red = attention gained).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape or before.ndim != 2 or before.shape[0] != len(tokens):
        raise ValueError(f"before/after must both be (s, s) with s = len(tokens) = {len(tokens)}; "
                         f"got {before.shape} and {after.shape}")
    s = len(tokens)
    fig, axes = plt.subplots(1, 3, figsize=(width, width / 3 + 0.6), constrained_layout=True)
    vmax = max(before.max(), after.max())
    diff = after - before
    dmax = max(np.abs(diff).max(), 1e-12)
    panels = [(before, "before", "Greys", 0, vmax), (after, f"after suppressing {tokens[column]!r}", "Greys", 0, vmax),
              (diff, "after − before", "RdBu_r", -dmax, dmax)]
    for ax, (matrix, label, cmap, lo, hi) in zip(axes, panels):
        image = ax.imshow(matrix, cmap=cmap, vmin=lo, vmax=hi)
        ax.add_patch(Rectangle((column - 0.5, -0.5), 1, s, fill=False, edgecolor="tab:orange", linewidth=1.5))
        ax.set_xticks(range(s), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(s), tokens, fontsize=7)
        ax.set_xlabel("key (attended to)")
        ax.set_title(label, fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.7)
    axes[0].set_ylabel("query (attending)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def sign_trap_figure(scores: Sequence[float], column: int, multiplier: float = 0.1, *, width: float = 8.0):
    """One query row's attention: original, "multiply the raw score" (the trap) and "shift, then multiply".

    Args:
        scores: pre-softmax scores of one query row (some negative).
        column: the suppressed key.
        multiplier: AtMan's factor (0.1).

    Returns:
        ``matplotlib.figure.Figure``: grouped bars of the softmax weights per key, the suppressed key marked.
    """
    import matplotlib.pyplot as plt

    scores = np.asarray(scores, dtype=float)
    factors = np.ones_like(scores)
    factors[column] = multiplier
    softmax = lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # noqa: E731
    shifted = scores - scores.min()
    rows = {"original": softmax(scores), "raw score × 0.1 (sign trap)": softmax(scores * factors),
            "shift to min 0, then × 0.1 (AtMan)": softmax(shifted * factors)}
    fig, ax = plt.subplots(figsize=(width, 3.0), constrained_layout=True)
    x = np.arange(len(scores))
    for k, (label, weights) in enumerate(rows.items()):
        ax.bar(x + (k - 1) * 0.27, weights, width=0.27, label=label)
    ax.set_xticks(x, [f"key {i}\nscore {v:+.1f}" + ("\n(suppressed)" if i == column else "") for i, v in enumerate(scores)])
    ax.set_ylabel("attention weight")
    ax.legend(fontsize=8, frameon=False)
    return fig


def cost_figure(costs: pd.DataFrame, *, width: float = 11.0):
    """Forward passes, seconds and peak memory of each method against the paragraph's length.

    Args:
        costs: one row per (method, length) with columns ``method, n_tokens, forward_passes, seconds, peak_mb``
            (``forward_passes`` counts forward passes of single sequences; IG's also need a backward pass).

    Returns:
        ``matplotlib.figure.Figure`` with three panels sharing the x axis (tokens).
    """
    import matplotlib.pyplot as plt

    missing = {"method", "n_tokens", "forward_passes", "seconds", "peak_mb"} - set(costs.columns)
    if missing:
        raise ValueError(f"costs lacks columns {sorted(missing)}")
    fig, axes = plt.subplots(1, 3, figsize=(width, 3.2), constrained_layout=True)
    labels = {"forward_passes": "forward passes (IG: steps, each + backward)", "seconds": "seconds",
              "peak_mb": "peak memory (MiB)"}
    styles = ["-o", "--s", ":^", "-.d"]  # lines that coincide (LOO and AtMan passes) stay visible
    for ax, (column, label) in zip(axes, labels.items()):
        for k, (method, rows) in enumerate(costs.sort_values("n_tokens").groupby("method", sort=True)):
            ax.plot(rows["n_tokens"], rows[column], styles[k % len(styles)], label=method, alpha=0.85)
        ax.set_xlabel("tokens in the paragraph")
        ax.set_title(label, fontsize=10)
    axes[0].legend(frameon=False)
    return fig
