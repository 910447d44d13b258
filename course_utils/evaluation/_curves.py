"""Deletion and insertion curves: remove (or restore) the tokens an explanation ranks highest, k % at a time.

Deletion (MoRF, "most relevant first"; Samek et al. 2017, the "deletion" game of Petsiuk et al. 2018):
start from the full text and remove the top-ranked units; a faithful explanation makes the target's
probability fall fast, so a **low** area under the curve is good. Insertion: start from a text whose every
unit is removed and put the top-ranked units back; the probability should rise fast, so a **high** area is
good. Both are compared with the same curves for a random order of the units.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import check_scalar
from . import _removal, _stats, _tables

FRACTIONS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))  # 0 %, 10 %, …, 100 % of the units
KINDS = ("deletion", "insertion")


@dataclass
class Curves:
    """Deletion or insertion curves of one or more methods over a corpus.

    Attributes:
        kind: ``"deletion"`` (lower area = more faithful) or ``"insertion"`` (higher area = more faithful).
        points: tidy DataFrame, one row per (doc_id, method, fraction): ``doc_id, method, fraction``,
            ``k`` (units removed for deletion, restored for insertion), ``n_units``, ``probability``
            (p(target | perturbed text)).
        auc: one row per (doc_id, method): ``doc_id, method, auc`` — the trapezoid area under probability
            against fraction (over [0, 1] with the default fractions).
        options: the settings used (replacement, level, seed, fractions).
    """

    kind: str
    points: pd.DataFrame
    auc: pd.DataFrame
    options: dict = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "insertion"

    def mean_curve(self) -> pd.DataFrame:
        """The corpus curve: ``method, fraction, probability`` (mean over documents) and ``sem``."""
        grouped = self.points.groupby(["method", "fraction"], sort=True)["probability"]
        out = grouped.agg(probability="mean", sem="sem").reset_index()
        return out

    def summary(self, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
        """Mean AUC per method with a bootstrap interval: ``method, n_docs, mean, ci_low, ci_high``."""
        return _stats.summarise(self.auc, "auc", n_boot=n_boot, seed=seed)

    def compare_to_random(self, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
        """Paired improvement over the random baseline (positive = better), see :func:`compare_to_baseline`."""
        return _stats.compare_to_baseline(
            self.auc, "auc", higher_is_better=self.higher_is_better, n_boot=n_boot, seed=seed
        )

    def select(self, doc_ids=None, methods=None) -> Curves:
        """The same curves restricted to some documents and/or methods (e.g. those every method explained).

        Args:
            doc_ids: the documents to keep (any iterable of doc ids, e.g. ``df.index``); None keeps all.
            methods: the methods to keep (a name or a list); None keeps all. The random baseline is kept only
                if listed, and :meth:`compare_to_random` needs it.

        Returns:
            a new :class:`Curves` (``points`` and ``auc`` filtered, same ``kind`` and ``options``).

        Raises:
            ValueError: a doc id or method that these curves do not hold (the message lists them).
        """
        points, auc = self.points, self.auc
        if doc_ids is not None:
            wanted = pd.Index([doc_ids] if np.isscalar(doc_ids) else list(doc_ids))
            if len(wanted) == 0:
                raise ValueError("doc_ids is empty: pass at least one doc id (or None for every document)")
            missing = wanted.difference(pd.Index(auc["doc_id"].unique()))
            if len(missing):
                raise ValueError(
                    f"doc_ids {missing.tolist()[:10]} are not in these {self.kind} curves (they hold "
                    f"{auc['doc_id'].nunique()} documents); pass doc ids of explained documents"
                )
            points, auc = points[points["doc_id"].isin(wanted)], auc[auc["doc_id"].isin(wanted)]
        if methods is not None:
            wanted_methods = [methods] if isinstance(methods, str) else list(methods)
            unknown = sorted(set(wanted_methods) - set(self.auc["method"]))
            if not wanted_methods or unknown:
                raise ValueError(
                    f"methods {unknown} are not in these {self.kind} curves; "
                    f"choose among {sorted(self.auc['method'].unique())}"
                )
            points, auc = (
                points[points["method"].isin(wanted_methods)],
                auc[auc["method"].isin(wanted_methods)],
            )
        return Curves(
            self.kind, points.reset_index(drop=True), auc.reset_index(drop=True), dict(self.options)
        )

    def _repr_html_(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        return f"<p><b>{self.kind} curves</b> ({better} area = more faithful)</p>" + self.summary().to_html(
            index=False
        )


def deletion_curve(
    model,
    tokenizer,
    table,
    *,
    fractions=FRACTIONS,
    replacement: str = "mask",
    level: str = "token",
    random_baseline: bool = True,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool | None = None,
) -> Curves:
    """Remove the top-ranked tokens k % at a time and record the target's probability.

    Args:
        model: the classifier that was explained; tokenizer: its fast tokenizer.
        table: the tidy table of :func:`course_utils.attribution.explain` — one method or several stacked
            (``attribution.concat``), or a list/dict of such tables.
        fractions: shares of the units removed, default 0, 0.1, …, 1; a fraction f removes the
            ``ceil(f · n)`` best-ranked of a document's n units. [CLS]/[SEP] are never removed.
        replacement: ``"mask"`` (default, as leave-one-out) | ``"unk"`` | ``"pad"`` put that token in place of a
            removed one; ``"delete"`` drops it and closes the gap (ferret's default).
        level: ``"token"`` (default) ranks and removes WordPieces; ``"word"`` whole words (scores summed).
        random_baseline: also compute the curve of a random order (method ``"random"``, from
            :func:`random_explanation`).
        seed: seeds the random baseline and the tie-breaking between equal scores.
        batch_size: sequences per forward pass; progress: tqdm bar (None: for more than 20 documents).

    Returns:
        :class:`Curves` with ``kind="deletion"`` — a low area under the curve is faithful. The target is
        each row's ``target`` column (the class the explanation was made for). Taught in notebook 05.
    """
    return _curve(
        "deletion",
        model,
        tokenizer,
        table,
        fractions,
        replacement,
        level,
        random_baseline,
        seed,
        batch_size,
        progress,
    )


def insertion_curve(
    model,
    tokenizer,
    table,
    *,
    fractions=FRACTIONS,
    replacement: str = "mask",
    level: str = "token",
    random_baseline: bool = True,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool | None = None,
) -> Curves:
    """Start from a text with every unit removed, restore the top-ranked ones k % at a time.

    Arguments as for :func:`deletion_curve`; at fraction 0 every unit is replaced (or deleted), at 1 the text
    is whole again.

    Returns:
        :class:`Curves` with ``kind="insertion"`` — a high area under the curve is faithful. Taught in notebook 05.
    """
    return _curve(
        "insertion",
        model,
        tokenizer,
        table,
        fractions,
        replacement,
        level,
        random_baseline,
        seed,
        batch_size,
        progress,
    )


def with_random(table: pd.DataFrame, random_baseline: bool, seed: int) -> pd.DataFrame:
    """The checked table, plus the random baseline's rows unless it already has a ``"random"`` method."""
    check_scalar(random_baseline, "random_baseline", bool)
    check_scalar(seed, "seed", int)
    if random_baseline and _tables.RANDOM not in set(table["method"]):
        table = _tables.check_table([table, _tables.random_explanation(table, seed)])
    return table


def _curve(
    kind, model, tokenizer, table, fractions, replacement, level, random_baseline, seed, batch_size, progress
) -> Curves:
    table = with_random(_tables.check_table(table), random_baseline, seed)
    fractions = _tables.check_fractions(fractions)
    level = _tables.check_level(level)
    batch_size = _tables.check_positive_int(batch_size, "batch_size")
    token_id, pad_id = _removal.replacement_ids(model, tokenizer, replacement)
    docs = _tables.ranked_units(table, tokenizer, level)
    sequences, targets, rows = [], [], []
    for doc in docs:
        ks, remove = _tables.removal_masks(doc, fractions, seed, kind == "deletion")  # (n_fractions, n)
        sequences += _removal.copies(doc.input_ids, remove, token_id, pad_id)
        targets += [doc.target] * len(ks)
        rows += [(doc.doc_id, doc.method, f, k, doc.n_units) for f, k in zip(fractions, ks)]
    n_docs = table["doc_id"].nunique()
    probs = _removal.target_probabilities(
        model,
        sequences,
        targets,
        batch_size=batch_size,
        progress=_removal.show_progress(progress, n_docs),
        desc=f"{kind} curves",
    )
    points = pd.DataFrame(rows, columns=["doc_id", "method", "fraction", "k", "n_units"])
    points["probability"] = probs
    points = points.astype({"doc_id": np.int64, "k": np.int64, "n_units": np.int64, "fraction": np.float64})
    auc = (
        points.groupby(["doc_id", "method"], sort=True)
        .apply(lambda g: float(np.trapezoid(g["probability"], g["fraction"])), include_groups=False)
        .rename("auc")
        .reset_index()
    )
    options = {"replacement": replacement, "level": level, "seed": seed, "fractions": fractions.tolist()}
    return Curves(kind, points, auc, options)
