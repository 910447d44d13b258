"""From attribution tables to the units that the faithfulness metrics remove, ranked by score.

Every metric of :mod:`course_utils.evaluation` reads the tidy table of
:func:`course_utils.attribution.explain` (one row per token). This module checks such tables, stacks
several of them, rebuilds each document's token ids from its WordPieces, groups the tokens into the
units that are removed together (one WordPiece, or one word) and ranks the units by their score.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._validation import check_choice, check_positive_int, check_scalar  # noqa: F401  (re-exported)
from ..attribution import _masking
from ..attribution._result import token_table

REQUIRED = ("doc_id", "position", "token", "word_id", "special", "score", "method", "target")
LEVELS = ("token", "word")
RANDOM = "random"  # the method name of the random baseline


# ------------------------------------------------------------------------------------------- checks
def check_table(table, name: str = "table") -> pd.DataFrame:
    """One attribution table from an :func:`explain` result (or its token DataFrame), or a list / dict of them
    (stacked, e.g. one per method).

    Returns:
        DataFrame sorted by ``method, doc_id, position`` with the columns of :data:`REQUIRED` (and any others).

    Raises:
        TypeError: not a DataFrame (or a list/dict of DataFrames).
        ValueError: missing columns, no rows, or a (method, doc_id, position) given twice.
    """
    if isinstance(table, Mapping):
        table = list(table.values())
    if isinstance(table, (list, tuple)):
        table = [token_table(t) for t in table]
        if not table or not all(isinstance(t, pd.DataFrame) for t in table):
            raise TypeError(f"{name} must be an attribution table from explain() or a non-empty list of them")
        table = pd.concat(table, ignore_index=True)
    table = token_table(table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame from explain() (one row per token), "
            f"got {type(table).__name__}"
        )
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}: pass the table returned by explain()")
    if table.empty:
        raise ValueError(f"{name} has no rows: explain at least one text")
    if table.duplicated(["method", "doc_id", "position"]).any():
        raise ValueError(
            f"{name} has a (method, doc_id, position) more than once: stack tables of different "
            "methods, not two runs of the same method (rename one run's method column)"
        )
    return table.sort_values(["method", "doc_id", "position"], kind="stable").reset_index(drop=True)


def check_level(level: str) -> str:
    return check_choice(
        level, "level", LEVELS, hint="use 'token' (remove WordPieces) or 'word' (whole words)"
    )


def check_fractions(fractions, name: str = "fractions", *, allow_zero: bool = True) -> np.ndarray:
    """Fractions of the units as a sorted float array in [0, 1] without duplicates."""
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, (Sequence, np.ndarray, pd.Series)):
        raise TypeError(f"{name} must be a list of numbers between 0 and 1, got {type(fractions).__name__}")
    values = np.asarray(fractions, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of numbers, got shape {values.shape}")
    low = 0.0 if allow_zero else np.nextafter(0.0, 1.0)
    if np.isnan(values).any() or (values < low).any() or (values > 1).any():
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name}={values.tolist()} must lie in {bound} (0.1 = 10 % of the tokens)")
    return np.unique(values)


# ------------------------------------------------------------------------------------------ documents
@dataclass
class RankedUnits:
    """One explained document, ready for removal: ids ``(n,)``, units ``(n_units, n)``, a score per unit."""

    doc_id: int
    method: str
    target: int
    input_ids: torch.Tensor  # (n,) long
    units: torch.Tensor  # (n_units, n) bool; special tokens are in no unit
    unit_scores: np.ndarray  # (n_units,)

    @property
    def n_units(self) -> int:
        return int(self.units.shape[0])


def ranked_units(table: pd.DataFrame, tokenizer, level: str = "token") -> list[RankedUnits]:
    """One :class:`RankedUnits` per (method, doc_id) of a checked table, in table order.

    The token ids come from the table's WordPieces (``tokenizer.convert_tokens_to_ids``), so the model sees
    exactly the tokens that were explained. A unit's score is the sum of its WordPieces' scores.
    """
    out = []
    for (method, doc_id), rows in table.groupby(["method", "doc_id"], sort=False):
        tokens = rows["token"].tolist()
        ids = tokenizer.convert_tokens_to_ids(tokens)
        unknown = [t for t, i in zip(tokens, ids) if i == tokenizer.unk_token_id and t != tokenizer.unk_token]
        if unknown:
            raise ValueError(
                f"doc_id {doc_id} ({method}) has tokens this tokenizer does not know, e.g. {unknown[:3]}: "
                "evaluate with the tokenizer that made the explanation"
            )
        input_ids = torch.tensor(ids, dtype=torch.long)  # (n,)
        word_ids = torch.tensor(rows["word_id"].to_numpy(), dtype=torch.long)  # (n,)
        word_ids = word_ids.masked_fill(torch.tensor(rows["special"].to_numpy(dtype=bool)), -1)
        units = _masking.groups(torch.ones_like(input_ids), word_ids, level)  # (n_units, n)
        scores = units.double().numpy() @ rows["score"].to_numpy(dtype=np.float64)  # (n_units,)
        out.append(
            RankedUnits(int(doc_id), str(method), int(rows["target"].iloc[0]), input_ids, units, scores)
        )
    return out


def ranking(doc: RankedUnits, seed: int) -> np.ndarray:
    """The document's unit indices from the highest score to the lowest.

    Ties (e.g. all-zero scores) are broken at random, seeded by ``seed`` and the document id, so a
    constant explanation behaves like the random baseline instead of "left to right".
    """
    tie_break = np.random.default_rng([seed, int(doc.doc_id) % 2**32]).random(doc.n_units)  # (n_units,)
    return np.lexsort((tie_break, -doc.unit_scores))


def top_k(doc: RankedUnits, order: np.ndarray, k: int) -> torch.Tensor:
    """BoolTensor ``(n,)``: the positions of the ``k`` best-ranked units."""
    chosen = torch.as_tensor(order[:k], dtype=torch.long)
    return doc.units[chosen].any(0) if k > 0 else torch.zeros(doc.units.shape[1], dtype=torch.bool)


def n_units_at(fraction: float, n_units: int) -> int:
    """How many units a fraction means: ``ceil(fraction · n_units)`` (so 1 % of any text is ≥ 1 unit)."""
    return int(min(n_units, np.ceil(fraction * n_units - 1e-9)))


# ----------------------------------------------------------------------------------- random baseline
def random_explanation(table, seed: int = 0) -> pd.DataFrame:
    """The random baseline as a "method": the same rows as ``table`` with random scores.

    Args:
        table: an attribution table from :func:`course_utils.attribution.explain` (if it holds several
            methods, the rows of the first method are used).
        seed: the random scores are standard normal draws from ``numpy.random.default_rng(seed)``.

    Returns:
        a copy of the rows with ``score`` random (0 at special tokens, which are never removed) and
        ``method`` = ``"random"``. Feed it to any metric like a real explanation: on average it should score
        like the random-order baseline. Taught in notebook 05.
    """
    table = check_table(table)
    seed = check_scalar(seed, "seed", int)
    first = table["method"].iloc[0]
    rows = table[table["method"] == first].copy()
    rng = np.random.default_rng(int(seed))
    scores = rng.standard_normal(len(rows))
    rows["score"] = np.where(rows["special"].to_numpy(dtype=bool), 0.0, scores)
    rows["method"] = pd.array([RANDOM] * len(rows), dtype="str")
    return rows.reset_index(drop=True)


def removal_masks(doc, fractions, seed: int, remove_top: bool) -> tuple[list[int], torch.Tensor]:
    """What to remove from ``doc`` at each fraction: ``(ks, masks)``.

    ``ks[j]`` is the number of top-ranked units at ``fractions[j]``; ``masks`` is a BoolTensor
    ``(len(fractions), n_tokens)``: the tokens of those top units (``remove_top=True``: deletion curves,
    comprehensiveness) or of every other unit (``False``: insertion curves, sufficiency).
    """
    order = ranking(doc, seed)
    ks = [n_units_at(f, doc.n_units) for f in fractions]
    top = torch.stack([top_k(doc, order, k) for k in ks])  # (n_fractions, n)
    return ks, (top if remove_top else doc.units.any(0)[None, :] & ~top)
