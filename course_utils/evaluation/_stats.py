"""Uncertainty for corpus-level scores: seeded percentile-bootstrap intervals, per method and against a baseline.

A faithfulness score averaged over 30 paragraphs is an estimate; the interval says how much it would move
with another sample of paragraphs. Comparisons with the random baseline are *paired* (the same documents
resampled for both), which is much tighter than comparing two separate intervals.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_choice, check_scalar

STATISTICS = ("mean", "median")


class Interval(NamedTuple):
    """A statistic and its bootstrap interval."""

    estimate: float
    low: float
    high: float


def _check_values(values, name: str = "values") -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(
        values, (Sequence, np.ndarray, pd.Series, pd.Index)
    ):
        raise TypeError(f"{name} must be a list, array or Series of numbers, got {type(values).__name__}")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must contain numbers only: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per document), got shape {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} has {len(array)} value(s); a bootstrap needs at least 2")
    if np.isnan(array).any():
        raise ValueError(
            f"{name} contains {int(np.isnan(array).sum())} NaN value(s): drop them first "
            "(e.g. series.dropna()) and report how many were dropped"
        )
    return array


def bootstrap_ci(
    values, *, statistic: str = "mean", n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of the mean (or median) of ``values``, reproducible by ``seed``.

    Args:
        values: one number per document (list, array or Series), at least 2, no NaN.
        statistic: ``"mean"`` (default) or ``"median"``.
        n_boot: resamples (2000 by default).
        level: coverage of the interval (0.95).
        seed: seeds ``numpy.random.default_rng``; the same seed gives the same interval.

    Returns:
        ``Interval(estimate, low, high)``: the statistic on ``values`` and the ``(1 − level)/2`` and
        ``(1 + level)/2`` quantiles of its bootstrap distribution. Taught in notebook 05.
    """
    array = _check_values(values)
    check_choice(statistic, "statistic", STATISTICS)
    check_scalar(n_boot, "n_boot", int, min_val=100, hint="(2000 is typical)")
    check_scalar(
        level,
        "level",
        float,
        min_val=0,
        max_val=1,
        include_boundaries="neither",
        hint="(0.95 = 95 % interval)",
    )
    fn = np.mean if statistic == "mean" else np.median
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(array), size=(int(n_boot), len(array)))  # (n_boot, n)
    boot = fn(array[idx], axis=1)  # (n_boot,)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(fn(array)), float(low), float(high))


def summarise(
    per_document: pd.DataFrame,
    column: str,
    *,
    by: str = "method",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of ``column`` per method with a bootstrap interval.

    Args:
        per_document: one row per (document, method), e.g. the result of :func:`aopc_comprehensiveness`.
        column: the score to summarise (e.g. ``"aopc_comprehensiveness"`` or ``"auc"``).

    Returns:
        DataFrame ``method, n_docs, mean, ci_low, ci_high`` (NaN rows are dropped and not counted).
    """
    _check_frame(per_document, [by, column])
    rows = []
    for method, group in per_document.groupby(by, sort=True):
        values = group[column].dropna().to_numpy(dtype=float)
        ci = (
            bootstrap_ci(values, n_boot=n_boot, level=level, seed=seed)
            if len(values) >= 2
            else Interval(float(np.mean(values)) if len(values) else np.nan, np.nan, np.nan)
        )
        rows.append(
            {by: method, "n_docs": len(values), "mean": ci.estimate, "ci_low": ci.low, "ci_high": ci.high}
        )
    return pd.DataFrame(rows)


def compare_to_baseline(
    per_document: pd.DataFrame,
    column: str,
    *,
    baseline: str = "random",
    higher_is_better: bool = True,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Each method minus the baseline on the same documents (paired), with a bootstrap interval.

    Args:
        per_document: one row per (doc_id, method) with ``column``; must contain the ``baseline`` method.
        higher_is_better: True for comprehensiveness and insertion AUC, False for sufficiency and
            deletion AUC; sets the sign of ``improvement`` so that positive always means "better than baseline".

    Returns:
        DataFrame ``method, n_docs, improvement, ci_low, ci_high, share_better`` (``share_better``: share of
        documents on which the method beats the baseline); the baseline itself is left out.
    """
    _check_frame(per_document, ["doc_id", "method", column])
    wide = per_document.pivot(index="doc_id", columns="method", values=column)
    if baseline not in wide:
        raise ValueError(
            f"there is no {baseline!r} method to compare with (methods: {sorted(wide.columns)}); "
            "compute the metric with random_baseline=True"
        )
    sign = 1.0 if higher_is_better else -1.0
    rows = []
    for method in sorted(c for c in wide.columns if c != baseline):
        diff = (sign * (wide[method] - wide[baseline])).dropna().to_numpy(dtype=float)
        ci = (
            bootstrap_ci(diff, n_boot=n_boot, level=level, seed=seed)
            if len(diff) >= 2
            else Interval(np.nan, np.nan, np.nan)
        )
        rows.append(
            {
                "method": method,
                "n_docs": len(diff),
                "improvement": ci.estimate,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "share_better": float(np.mean(diff > 0)) if len(diff) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _check_frame(frame, columns: list[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of per-document scores, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the table lacks the column(s) {missing}; it has {list(frame.columns)}")
