"""Do two explanations of the same prediction agree? Rank correlations and top-k overlap per document.

Agreement is not correctness: two methods can agree and both be unfaithful. But where they disagree, at
least one of them is wrong about what the model does — those paragraphs are worth reading.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_choice
from . import _tables

STATISTICS = ("spearman", "kendall", "top_k_overlap")


def _unit_scores(table: pd.DataFrame, level: str, absolute: bool) -> pd.DataFrame:
    """``doc_id, unit, text, score`` without special tokens (words summed at level "word")."""
    rows = table[~table["special"].to_numpy(dtype=bool)]
    if level == "word":
        rows = rows.groupby(["doc_id", "word_id"], sort=True).agg(
            text=("token", " ".join), score=("score", "sum")
        )
        rows = rows.reset_index().rename(columns={"word_id": "unit"})
    else:
        rows = rows.rename(columns={"position": "unit", "token": "text"})[["doc_id", "unit", "text", "score"]]
    if absolute:
        rows = rows.assign(score=rows["score"].abs())
    return rows


def _one_method(table, name: str) -> tuple[pd.DataFrame, str]:
    table = _tables.check_table(table, name)
    methods = table["method"].unique()
    if len(methods) != 1:
        raise ValueError(
            f"{name} holds {len(methods)} methods {sorted(methods)}; pass one method's table, "
            f"e.g. table[table['method'] == {methods[0]!r}]"
        )
    return table, str(methods[0])


def _correlation(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan  # undefined for constant scores
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(a, b)[0])


def _top(scores: np.ndarray, k: int, seed_key: tuple) -> set:
    tie_break = np.random.default_rng(seed_key).random(len(scores))
    return set(np.lexsort((tie_break, -scores))[:k].tolist())


def rank_agreement(
    table_a, table_b, *, k: int = 5, level: str = "token", absolute: bool = False, seed: int = 0
) -> pd.DataFrame:
    """Per document: how similarly two explanations rank the tokens (or words).

    Args:
        table_a, table_b: tidy tables of :func:`course_utils.attribution.explain`, one method each, of the
            same documents with the same tokenizer. Documents present in only one table are skipped.
        k: size of the top sets compared by ``top_k_overlap`` (capped at the document's number of units).
        level: ``"token"`` (WordPieces) or ``"word"`` (scores summed per word).
        absolute: compare |scores| — "how important", ignoring the direction (Adebayo et al. 2018 report both).
        seed: breaks ties in the top-k sets at random, reproducibly.

    Returns:
        DataFrame, one row per shared document: ``doc_id, method_a, method_b, n_units``, ``spearman`` and
        ``kendall`` (tau-b; both NaN when a document's scores are constant), ``k``, ``top_k_overlap``
        (|top-k of a ∩ top-k of b| / k, in [0, 1]). [CLS]/[SEP] are left out. Taught in notebook 05.

    Raises:
        ValueError: a table holds several methods, the tables share no document, or a document's tokens differ.
    """
    table_a, method_a = _one_method(table_a, "table_a")
    table_b, method_b = _one_method(table_b, "table_b")
    k = _tables.check_positive_int(k, "k")
    level = _tables.check_level(level)
    a = _unit_scores(table_a, level, absolute)
    b = _unit_scores(table_b, level, absolute)
    merged = a.merge(b, on=["doc_id", "unit"], suffixes=("_a", "_b"), how="inner")
    if merged.empty:
        raise ValueError(
            f"table_a ({method_a}) and table_b ({method_b}) share no document: explain the same texts"
        )
    rows = []
    for doc_id, group in merged.groupby("doc_id", sort=True):
        n_a, n_b = int((a["doc_id"] == doc_id).sum()), int((b["doc_id"] == doc_id).sum())
        if n_a != len(group) or n_b != len(group) or (group["text_a"] != group["text_b"]).any():
            raise ValueError(
                f"doc_id {doc_id} has other tokens in table_a than in table_b: compare explanations "
                "of the same texts made with the same tokenizer"
            )
        sa, sb = group["score_a"].to_numpy(float), group["score_b"].to_numpy(float)
        kk = min(k, len(group))
        key = (seed, int(doc_id) % 2**32)
        overlap = len(_top(sa, kk, key) & _top(sb, kk, key)) / kk
        rows.append(
            {
                "doc_id": doc_id,
                "method_a": method_a,
                "method_b": method_b,
                "n_units": len(group),
                "spearman": _correlation(stats.spearmanr, sa, sb),
                "kendall": _correlation(stats.kendalltau, sa, sb),
                "k": kk,
                "top_k_overlap": overlap,
            }
        )
    out = pd.DataFrame(rows)
    return out.astype({"doc_id": np.int64, "n_units": np.int64, "k": np.int64})


def agreement(
    tables, *, k: int = 5, level: str = "token", absolute: bool = False, seed: int = 0
) -> pd.DataFrame:
    """:func:`rank_agreement` for every pair of methods: one row per (document, pair).

    Args:
        tables: a stacked table with several methods, or a list/dict of one-method tables.

    Returns:
        the rows of :func:`rank_agreement` for all pairs, stacked. Taught in notebook 05.
    """
    table = _tables.check_table(tables, "tables")
    methods = sorted(table["method"].unique())
    if len(methods) < 2:
        raise ValueError(
            f"agreement needs at least two methods, got {methods}: stack tables of several methods"
        )
    parts = [
        rank_agreement(
            table[table["method"] == m1],
            table[table["method"] == m2],
            k=k,
            level=level,
            absolute=absolute,
            seed=seed,
        )
        for m1, m2 in itertools.combinations(methods, 2)
    ]
    return pd.concat(parts, ignore_index=True)


def agreement_matrix(pairs: pd.DataFrame, statistic: str = "spearman") -> pd.DataFrame:
    """Mean of ``statistic`` over documents as a symmetric method × method matrix (diagonal 1).

    Args:
        pairs: the result of :func:`agreement` (or of several :func:`rank_agreement` calls, stacked).
        statistic: ``"spearman"`` (default), ``"kendall"`` or ``"top_k_overlap"``.
    """
    check_choice(statistic, "statistic", STATISTICS)
    means = pairs.groupby(["method_a", "method_b"])[statistic].mean()
    methods = sorted(set(pairs["method_a"]) | set(pairs["method_b"]))
    matrix = pd.DataFrame(np.eye(len(methods)), index=methods, columns=methods)
    for (m1, m2), value in means.items():
        matrix.loc[m1, m2] = matrix.loc[m2, m1] = value
    matrix.index.name = matrix.columns.name = None
    return matrix


def disagreements(pairs: pd.DataFrame, n: int = 3, statistic: str = "spearman") -> pd.DataFrame:
    """The ``n`` documents on which the methods agree least (lowest mean ``statistic`` over all pairs).

    Returns:
        DataFrame ``doc_id, mean_<statistic>, worst_pair, worst_<statistic>``, most disagreeing first.
    """
    check_choice(statistic, "statistic", STATISTICS)
    n = _tables.check_positive_int(n, "n")
    rows = []
    for doc_id, group in pairs.groupby("doc_id", sort=True):
        values = group[statistic].fillna(0.0)
        worst = group.loc[values.idxmin()]
        rows.append(
            {
                "doc_id": doc_id,
                f"mean_{statistic}": float(values.mean()),
                "worst_pair": f"{worst['method_a']} vs {worst['method_b']}",
                f"worst_{statistic}": float(values.min()),
            }
        )
    return pd.DataFrame(rows).sort_values(f"mean_{statistic}", kind="stable").head(n).reset_index(drop=True)
