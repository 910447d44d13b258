"""SHAP and LIME beside integrated gradients, leave-one-out and AtMan: time per paragraph and agreement with IG.

Same run, same model (the course's cached classifier), same test paragraphs as ``attribution_speed.py`` (the
first N of the test split of ``ClassifierConfig().load_data()``, in their stored order), same target for
every method (each paragraph's predicted class), every method with its defaults:

* ``ig``     integrated gradients, ``n_steps="auto"`` (adaptive quadrature, 1 % completeness tolerance)
* ``loo``    leave-one-out, each WordPiece replaced by [MASK], change in probability
* ``atman``  AtMan attention suppression (factor 0.1), change in cross-entropy
* ``shap``   shap's Partition explainer over words, ``max_evals=500``
* ``lime``   LIME over words, ``num_samples=1000``

Agreement is measured per document on *words* (WordPieces summed with ``word_scores``; SHAP and LIME are
word-level methods) as the Spearman rank correlation of the scores with IG's, then summarised over
documents (median and quartiles). ``--lime-seeds`` adds a second LIME run (seed 1) to show how far LIME
agrees with itself. Timings include every model evaluation a method makes; they vary with the load of the
machine (run it alone).

    python benchmarks/model_agnostic.py             # 30 paragraphs: about 20 minutes on one CPU thread
    python benchmarks/model_agnostic.py --quick     # 5 paragraphs

One run (30 paragraphs, 49 words / 53 tokens on average, OMP_NUM_THREADS=1 on a shared 2-core machine):
s/paragraph IG 1.22, LOO 0.77, AtMan 0.79, SHAP 6.74 (487 evaluations), LIME 13.4 (1000); median Spearman
with IG: LOO +0.29, AtMan +0.41, SHAP +0.25, LIME +0.35; SHAP vs LIME +0.71, SHAP vs LOO +0.60, LIME vs LOO
+0.65, LIME seed 0 vs seed 1 +0.84. The perturbation methods agree with one another far more than with IG.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from scipy.stats import spearmanr

from course_utils.attribution import documents, explain, word_scores
from course_utils.benchmarking import test_paragraphs
from course_utils.models import predict_proba

METHODS = ("ig", "loo", "atman", "shap", "lime")


def per_document_words(table) -> dict[int, np.ndarray]:
    """doc_id → the word scores of that document, in word order."""
    words = word_scores(table)
    return {int(d): g.sort_values("word_id")["score"].to_numpy() for d, g in words.groupby("doc_id")}


def agreement(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> np.ndarray:
    """Per-document Spearman correlation of two methods' word scores (NaN when one is constant)."""
    out = []
    for d in a:
        if len(a[d]) < 3 or np.ptp(a[d]) == 0 or np.ptp(b[d]) == 0:
            out.append(np.nan)
        else:
            out.append(spearmanr(a[d], b[d]).statistic)
    return np.array(out)


def summary(rho: np.ndarray) -> str:
    rho = rho[np.isfinite(rho)]
    q1, med, q3 = np.quantile(rho, [0.25, 0.5, 0.75])
    return f"median {med:+.2f} (IQR {q1:+.2f} … {q3:+.2f}, min {rho.min():+.2f}, n={len(rho)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30, help="test paragraphs (default 30)")
    parser.add_argument("--quick", action="store_true", help="5 paragraphs")
    parser.add_argument(
        "--lime-seeds", action="store_true", help="a second LIME run (seed 1): LIME vs itself"
    )
    args = parser.parse_args()
    n = 5 if args.quick else args.n

    tokenizer, model, texts = test_paragraphs(n)

    runs = [(m, m, {}) for m in METHODS]
    if args.lime_seeds:
        runs.append(("lime (seed 1)", "lime", {"seed": 1}))
    tables, seconds = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        targets = (
            predict_proba(model, tokenizer, texts).argmax(1).tolist()
        )  # each paragraph's predicted class
        for name, method, options in runs:
            explain(model, tokenizer, texts[:1], method, targets[:1], progress=False, **options)  # warm-up
            start = time.perf_counter()
            tables[name] = explain(model, tokenizer, texts, method, targets, progress=True, **options)
            seconds[name] = time.perf_counter() - start

    words = {name: per_document_words(t) for name, t in tables.items()}
    mean_words = np.mean([len(v) for v in words["ig"].values()])
    print(f"{mean_words:.1f} words per paragraph on average\n")
    print(f"{'method':<14} {'s/paragraph':>11} {'evaluations':>11}   Spearman with IG per document (words)")
    for name, _, _ in runs:
        docs = documents(tables[name])
        passes = docs["forward_passes"].mean() if "forward_passes" in docs else float("nan")
        rho = "—" if name == "ig" else summary(agreement(words[name], words["ig"]))
        print(f"{name:<14} {seconds[name] / n:11.2f} {passes:11.0f}   {rho}")
    print("\nother pairs (Spearman per document, words)")
    pairs = [("shap", "lime"), ("shap", "loo"), ("lime", "loo"), ("atman", "loo")]
    if args.lime_seeds:
        pairs.append(("lime", "lime (seed 1)"))
    for a, b in pairs:
        print(f"  {a} vs {b}: {summary(agreement(words[a], words[b]))}")
    shap_docs, lime_docs = documents(tables["shap"]), documents(tables["lime"])
    print(
        f"\nSHAP additivity |f(x) − base − Σ scores| max {shap_docs['additivity_error'].abs().max():.1e}; "
        f"LIME surrogate R² median {lime_docs['r2'].median():.2f} (IQR {lime_docs['r2'].quantile(0.25):.2f} … "
        f"{lime_docs['r2'].quantile(0.75):.2f})"
    )


if __name__ == "__main__":
    main()
