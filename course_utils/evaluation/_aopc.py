"""AOPC comprehensiveness and sufficiency, the faithfulness scores of ERASER (DeYoung et al., ACL 2020).

For a document x, its target class j and the k best-ranked units r_k of an explanation:

    comprehensiveness_k = p_j(x) − p_j(x without r_k)      high = the explanation found what the model needs
    sufficiency_k       = p_j(x) − p_j(r_k only)           low  = the top units alone keep the prediction

AOPC ("area over the perturbation curve") averages each over bins of k: ERASER uses the top 1, 5, 10, 20
and 50 % of the tokens (:data:`ERASER_BINS`); ferret (Attanasio et al., EACL 2023 demo) computes the same
differences and averages them with ``statistics.mean`` over its thresholds. Here a bin f keeps
``ceil(f · n)`` of the n units, so 1 % of a short paragraph is its single best token; every bin counts once.
[CLS]/[SEP] are never removed.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import _removal, _stats, _tables
from ._curves import with_random

ERASER_BINS = (0.01, 0.05, 0.10, 0.20, 0.50)
KINDS = ("comprehensiveness", "sufficiency")


def aopc_comprehensiveness(
    model,
    tokenizer,
    table,
    *,
    bins=ERASER_BINS,
    replacement: str = "mask",
    level: str = "token",
    random_baseline: bool = True,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool | None = None,
    per_bin: bool = False,
):
    """ERASER's AOPC comprehensiveness per document: how much the probability drops without the top units.

    ``mean over bins of [p_target(x) − p_target(x with its top-k units removed)]`` (DeYoung et al. 2020,
    "ERASER: A Benchmark to Evaluate Rationalized NLP Models", section 4.2; ferret's
    ``AOPC_Comprehensiveness_Evaluation``). Higher = more faithful.

    Args:
        model, tokenizer: the explained classifier and its fast tokenizer.
        table: the tidy table of :func:`course_utils.attribution.explain` (one or several methods stacked).
        bins: shares of the units, default ERASER's 1, 5, 10, 20, 50 %.
        replacement: ``"mask"`` (default) | ``"unk"`` | ``"pad"`` | ``"delete"`` (ERASER and ferret delete).
        level: ``"token"`` (WordPieces) or ``"word"``.
        random_baseline: add the ``"random"`` method (:func:`random_explanation` with ``seed``).
        seed, batch_size, progress: as for :func:`deletion_curve`.
        per_bin: also return the differences per bin (see Returns).

    Returns:
        DataFrame, one row per (doc_id, method): ``doc_id, method, target, probability`` (p(target | x)),
        ``aopc_comprehensiveness``. With ``per_bin=True`` the pair ``(that table, per_bin)``, ``per_bin``
        holding the differences per bin (``doc_id, method, bin, k, difference``). Taught in notebook 05.
    """
    return _aopc(
        "comprehensiveness",
        model,
        tokenizer,
        table,
        bins,
        replacement,
        level,
        random_baseline,
        seed,
        batch_size,
        progress,
        per_bin,
    )


def aopc_sufficiency(
    model,
    tokenizer,
    table,
    *,
    bins=ERASER_BINS,
    replacement: str = "mask",
    level: str = "token",
    random_baseline: bool = True,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool | None = None,
    per_bin: bool = False,
):
    """ERASER's AOPC sufficiency per document: how much probability is lost when ONLY the top units stay.

    ``mean over bins of [p_target(x) − p_target(only the top-k units of x)]`` (DeYoung et al. 2020, section
    4.2; ferret's ``AOPC_Sufficiency_Evaluation``). Lower = more faithful (it can be negative: the top units
    alone may be *more* convincing than the whole text). Arguments and the returned table as for
    :func:`aopc_comprehensiveness`, with the column ``aopc_sufficiency``. Taught in notebook 05.
    """
    return _aopc(
        "sufficiency",
        model,
        tokenizer,
        table,
        bins,
        replacement,
        level,
        random_baseline,
        seed,
        batch_size,
        progress,
        per_bin,
    )


def aopc_table(
    comprehensiveness: pd.DataFrame,
    sufficiency: pd.DataFrame | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per method: mean AOPC comprehensiveness (and sufficiency) with bootstrap intervals.

    Returns:
        DataFrame indexed by method with ``n_docs, comprehensiveness, comp_low, comp_high`` and, if given,
        ``sufficiency, suff_low, suff_high``; ``comp_vs_random`` (paired improvement over the random
        baseline, positive = better) when the random baseline is present. Taught in notebook 05.
    """
    comp = _stats.summarise(comprehensiveness, "aopc_comprehensiveness", n_boot=n_boot, seed=seed)
    out = comp.rename(columns={"mean": "comprehensiveness", "ci_low": "comp_low", "ci_high": "comp_high"})
    if sufficiency is not None:
        suff = _stats.summarise(sufficiency, "aopc_sufficiency", n_boot=n_boot, seed=seed)
        suff = suff.rename(columns={"mean": "sufficiency", "ci_low": "suff_low", "ci_high": "suff_high"})
        out = out.merge(suff.drop(columns="n_docs"), on="method", how="outer")
    if _tables.RANDOM in set(comprehensiveness["method"]):
        vs = _stats.compare_to_baseline(comprehensiveness, "aopc_comprehensiveness", n_boot=n_boot, seed=seed)
        out = out.merge(
            vs[["method", "improvement"]].rename(columns={"improvement": "comp_vs_random"}),
            on="method",
            how="left",
        )
    return out.set_index("method")


def _aopc(
    kind,
    model,
    tokenizer,
    table,
    bins,
    replacement,
    level,
    random_baseline,
    seed,
    batch_size,
    progress,
    want_per_bin=False,
):
    table = with_random(_tables.check_table(table), random_baseline, seed)
    bins = _tables.check_fractions(bins, "bins", allow_zero=False)
    level = _tables.check_level(level)
    batch_size = _tables.check_positive_int(batch_size, "batch_size")
    token_id, pad_id = _removal.replacement_ids(model, tokenizer, replacement)
    docs = _tables.ranked_units(table, tokenizer, level)
    sequences, targets, rows = [], [], []
    for doc in docs:
        ks, remove = _tables.removal_masks(doc, bins, seed, kind == "comprehensiveness")  # (n_bins, n)
        nothing = torch.zeros(1, len(doc.input_ids), dtype=torch.bool)  # the unaltered text first
        sequences += _removal.copies(doc.input_ids, torch.cat([nothing, remove]), token_id, pad_id)
        targets += [doc.target] * (len(ks) + 1)
        rows.append((doc.doc_id, doc.method, doc.target, ks))
    n_docs = table["doc_id"].nunique()
    probs = _removal.target_probabilities(
        model,
        sequences,
        targets,
        batch_size=batch_size,
        progress=_removal.show_progress(progress, n_docs),
        desc=f"AOPC {kind}",
    )
    per_doc, per_bin, start = [], [], 0
    for doc_id, method, target, ks in rows:
        full, altered = probs[start], probs[start + 1 : start + 1 + len(ks)]
        start += len(ks) + 1
        diffs = full - altered  # (n_bins,)
        per_doc.append((doc_id, method, target, full, float(np.mean(diffs))))
        per_bin += [(doc_id, method, b, k, d) for b, k, d in zip(bins, ks, diffs)]
    column = f"aopc_{kind}"
    out = pd.DataFrame(per_doc, columns=["doc_id", "method", "target", "probability", column])
    out = out.astype({"doc_id": np.int64, "target": np.int64})
    if want_per_bin:
        return out, pd.DataFrame(per_bin, columns=["doc_id", "method", "bin", "k", "difference"])
    return out
