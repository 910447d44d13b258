"""Figures of notebook 04 (masking attribution): attention before/after AtMan suppression, the sign trap,
and the cost of LOO/AtMan/IG as a paragraph grows.

Taught in notebook 04. Token heat maps come from :mod:`course_utils.viz`; save figures with ``viz.save``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import check_scalar


def attention_suppression_figure(
    tokens: Sequence[str],
    before: np.ndarray,
    after: np.ndarray,
    column: int,
    *,
    title: str = "",
    width: float = 11.0,
):
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
        raise ValueError(
            f"before/after must both be (s, s) with s = len(tokens) = {len(tokens)}; "
            f"got {before.shape} and {after.shape}"
        )
    s = len(tokens)
    fig, axes = plt.subplots(1, 3, figsize=(width, width / 3 + 0.6), constrained_layout=True)
    vmax = max(before.max(), after.max())
    diff = after - before
    dmax = max(np.abs(diff).max(), 1e-12)
    panels = [
        (before, "before", "Greys", 0, vmax),
        (after, f"after suppressing {tokens[column]!r}", "Greys", 0, vmax),
        (diff, "after − before", "RdBu_r", -dmax, dmax),
    ]
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
    rows = {
        "original": softmax(scores),
        "raw score × 0.1 (sign trap)": softmax(scores * factors),
        "shift to min 0, then × 0.1 (AtMan)": softmax(shifted * factors),
    }
    fig, ax = plt.subplots(figsize=(width, 3.0), constrained_layout=True)
    x = np.arange(len(scores))
    for k, (label, weights) in enumerate(rows.items()):
        ax.bar(x + (k - 1) * 0.27, weights, width=0.27, label=label)
    ax.set_xticks(
        x,
        [
            f"key {i}\nscore {v:+.1f}" + ("\n(suppressed)" if i == column else "")
            for i, v in enumerate(scores)
        ],
    )
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
    labels = {
        "forward_passes": "forward passes (IG: steps, each + backward)",
        "seconds": "seconds",
        "peak_mb": "peak memory (MiB)",
    }
    styles = ["-o", "--s", ":^", "-.d"]  # lines that coincide (LOO and AtMan passes) stay visible
    for ax, (column, label) in zip(axes, labels.items()):
        for k, (method, rows) in enumerate(costs.sort_values("n_tokens").groupby("method", sort=True)):
            ax.plot(rows["n_tokens"], rows[column], styles[k % len(styles)], label=method, alpha=0.85)
        ax.set_xlabel("tokens in the paragraph")
        ax.set_title(label, fontsize=10)
    axes[0].legend(frameon=False)
    return fig


# ------------------------------------------------------------------ committed: AtMan next to leave-one-out
#: The sentence of notebook 04's attention figure, split as BERT's tokenizer splits it.
ATMAN_LOO_TOKENS = ("[CLS]", "we", "will", "cut", "taxes", "for", "working", "families", ".", "[SEP]")


def atman_vs_loo_figure(
    tokens: Sequence[str] = ATMAN_LOO_TOKENS,
    column: int = 4,
    *,
    multiplier: float = 0.1,
    replacement: str = "[MASK]",
    width: float = 11.0,
):
    """What leave-one-out and AtMan change to explain token ``column``: the input, or one key column.

    Two panels with the same layout: the tokens on top, and under them one attention matrix (rows =
    queries, columns = keys) in which the entries the method alters are coloured. Left, leave-one-out:
    the token is replaced in the *input* by ``replacement``, so its query row and its key column now belong
    to another token (vermillion, hatched) and every other weight is recomputed from an input the model
    never saw (grey dots). Right, AtMan: the input is untouched; in every layer and head only the
    pre-softmax scores of key column ``column`` are shifted to a row minimum of 0 and multiplied by
    ``multiplier`` (blue, ``×0.1``); each row is renormalised by the softmax. Colours from the Okabe–Ito
    palette, with hatching so that the figure also reads in greyscale.

    Args:
        tokens: the ``s`` tokens of one sequence (``[CLS]`` … ``[SEP]``), at most 16.
        column: the explained position, ``0 < column < s - 1`` (special tokens are not explained).
        multiplier: AtMan's factor on the suppressed scores (the paper's 0.1).
        replacement: what leave-one-out puts in place of the token.

    Returns:
        ``matplotlib.figure.Figure`` (no pyplot state). Taught in notebook 04.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from ..plotting import OKABE_ITO

    tokens = [str(t) for t in tokens]
    s = len(tokens)
    if not 3 <= s <= 16:
        raise ValueError(
            f"tokens has {s} entries; give 3 to 16 tokens ([CLS] … [SEP]) so the matrix stays readable"
        )
    check_scalar(column, "column", int, hint="(a token position)")
    if not 0 < column < s - 1:
        raise ValueError(
            f"column={column}: explain a content token, 0 < column < {s - 1} ([CLS]/[SEP] are not explained)"
        )
    grey, loo, atman = "#E6E6E6", OKABE_ITO["vermillion"], OKABE_ITO["blue"]
    fig = Figure(figsize=(width, width * 0.52))
    panels = [
        (
            "Leave-one-out: change the input",
            loo,
            f"{tokens[column]!r} → {replacement} in the input: its query row and key column now\n"
            "belong to another token, and every weight is recomputed from a text the model never saw",
        ),
        (
            "AtMan: keep the input, turn down one key column",
            atman,
            f"the input stays; in every layer and head, the scores of key {tokens[column]!r}\n"
            f"(shifted to row minimum 0) × {multiplier:g} before the softmax; each row still sums to 1",
        ),
    ]
    for k, (title, colour, caption) in enumerate(panels):
        ax = fig.add_axes((0.06 + 0.49 * k, 0.16, 0.42, 0.66))
        ax.set_xlim(-0.5, s - 0.5)
        ax.set_ylim(s - 0.5, -2.2)
        ax.set_aspect("equal")
        ax.axis("off")
        for q in range(s):
            for j in range(s):
                altered = (j == column) if k == 1 else (j == column or q == column)
                face = colour if altered else grey
                ax.add_patch(
                    Rectangle(
                        (j - 0.45, q - 0.45),
                        0.9,
                        0.9,
                        facecolor=face,
                        edgecolor="white",
                        hatch=("//" if k == 0 else None) if altered else None,
                        alpha=0.9 if altered else 1.0,
                        linewidth=0.5,
                    )
                )
                if k == 0 and not altered:
                    ax.plot(j, q, ".", color="#8C8C8C", markersize=2.5)
                if k == 1 and altered:
                    ax.text(j, q, f"×{multiplier:g}", ha="center", va="center", fontsize=6.5, color="white")
        for j, tok in enumerate(tokens):
            shown = replacement if (k == 0 and j == column) else tok
            ax.text(
                j,
                -1.0,
                shown,
                ha="center",
                va="center",
                rotation=90,
                fontsize=8,
                color=colour if j == column else "black",
                fontweight="bold" if j == column else "normal",
            )
            ax.text(
                -0.9,
                j,
                shown,
                ha="right",
                va="center",
                fontsize=7.5,
                color=colour if (j == column and k == 0) else "black",
            )
        ax.set_title(title, fontsize=11, color=colour, pad=2)
        fig.text(0.06 + 0.49 * k + 0.21, 0.085, caption, ha="center", va="center", fontsize=8.5)
    fig.text(
        0.5,
        0.965,
        "Two ways to take a token away: rows = queries (attending), columns = keys (attended to)",
        ha="center",
        va="center",
        fontsize=11,
    )
    return fig


#: The committed figures of notebook 04: file name → function (registered in ``figures.COMMITTED``).
COMMITTED = {"atman_vs_loo": atman_vs_loo_figure}
