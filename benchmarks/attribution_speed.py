"""Integrated gradients for a corpus: Transformers Interpret's per-text loop vs course_utils' explain(method="ig").

Same run, same model (the course's cached classifier), same test paragraphs (the first N of the test split
of ``ClassifierConfig().load_data()``, in their stored order), same target (the class Transformers Interpret
explains, its prediction) and the same baseline ([PAD] tokens with [CLS]/[SEP] kept), both explaining the
target's softmax probability:

* Transformers Interpret 0.10: ``SequenceClassificationExplainer`` called once per text, its defaults
  (n_steps=50, Captum's Gauss–Legendre, all 50 steps in one batch).
* ours: ``explain(model, tokenizer, texts, "ig", target, n_steps="auto", tolerance=TOLERANCE)`` — length-sorted
  batches of documents, (document, point) rows batched together; adaptive quadrature (a 3-point forward scan,
  a smooth change of variable that crowds the points where f changes, a nested Clenshaw–Curtis rule refined
  only where a piece's completeness error is too large, never recomputing a point); every row runs the
  last layer at [CLS] only and skips the padding in all per-token work (``course_utils.attribution._cls_forward``);
  the prediction and f(x) come with the gradient at α = 1, f(x′) with the one at α = 0.

Quality bar (ours): completeness error ≤ 1 % of |f(x) − f(baseline)| for ≥ 95 % of documents, and Spearman
≥ 0.99 with a 50-step Gauss–Legendre reference of ours for ≥ 95 % of documents. Transformers Interpret
L2-normalises each text's scores, so it is compared on ranks only (Spearman). Its completeness error is computed
after the timed runs from its raw (pre-normalisation) scores and two forward passes of its own forward function
at the input and at its baseline with the input's position and segment ids — the baseline its path starts from.
(The convergence delta Transformers Interpret gets from Captum compares against a baseline whose position and
segment ids are all 0, so it is off by f at two different baselines, typically ~0.1, not by the quadrature.)

    python benchmarks/attribution_speed.py            # 100 paragraphs, a few minutes on 2 CPU cores
    python benchmarks/attribution_speed.py --quick    # 20 paragraphs
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
import pandas as pd
import torch
from scipy.stats import spearmanr

from course_utils.attribution import concat, documents, explain
from course_utils.benchmarking import test_paragraphs
from course_utils.models import predict_proba

TOLERANCE = 0.01  # the adaptive mode's target (its default), the same 1 % as the quality bar
CHUNK = 32  # texts per interleaved round (two of explain()'s default batches)


def ti_explain(explainer, text):
    """TI's tokens, scores (L2-normalised), the class it explained, and what its completeness check needs later."""
    words = explainer(text)
    raw_sum = float(explainer.attributions._attributions.sum())  # Σ scores before TI's normalisation
    state = {
        k: getattr(explainer, k)
        for k in ("input_ids", "ref_input_ids", "token_type_ids", "position_ids", "attention_mask")
    }
    return (
        [w for w, _ in words],
        np.array([s for _, s in words]),
        int(explainer.selected_index),
        (raw_sum, state),
    )


def ti_relative_error(explainer, target, raw_sum, state) -> float:
    """|Σ raw scores − (f(x) − f(x′))| / |f(x) − f(x′)| with TI's forward function, x′ on the path's own ids
    (untimed)."""
    explainer.selected_index = target
    with torch.no_grad():
        f_x = float(
            explainer._forward(
                state["input_ids"], state["token_type_ids"], state["position_ids"], state["attention_mask"]
            )
        )
        f_base = float(
            explainer._forward(
                state["ref_input_ids"],
                state["token_type_ids"],
                state["position_ids"],
                state["attention_mask"],
            )
        )
    return abs(raw_sum - (f_x - f_base)) / abs(f_x - f_base)


def content_scores(result, doc_id):
    table = result.tokens
    rows = table[(table["doc_id"] == doc_id) & ~table["special"]]
    return rows["token"].tolist(), rows["score"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="test paragraphs (default 100)")
    parser.add_argument("--quick", action="store_true", help="20 paragraphs")
    args = parser.parse_args()
    n = 20 if args.quick else args.n
    from transformers_interpret import SequenceClassificationExplainer

    tokenizer, model, texts = test_paragraphs(n)
    explainer = SequenceClassificationExplainer(model, tokenizer)

    ti_explain(explainer, texts[0])  # warm-up, both sides
    explain(model, tokenizer, texts[:2], target=0, progress=False)

    # The class both explain: the prediction (Transformers Interpret's default), computed once, untimed.
    targets = predict_proba(model, tokenizer, texts).argmax(1).tolist()
    # Interleaved rounds: each times Transformers Interpret, ours and the 50-step reference on the same chunk
    # of texts, alternating who goes first, so a machine whose load drifts during the run slows all of them.
    ti, ours_parts, ref_parts = [], [], []
    seconds = {"ti": 0.0, "ours": 0.0, "ref": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r, lo in enumerate(range(0, n, CHUNK)):
            chunk = pd.Series(texts[lo : lo + CHUNK], index=range(lo, min(lo + CHUNK, n)))
            chunk_targets = targets[lo : lo + CHUNK]
            jobs = {
                "ti": lambda chunk=chunk: ti.extend(ti_explain(explainer, t) for t in chunk),
                "ours": lambda chunk=chunk, chunk_targets=chunk_targets: ours_parts.append(
                    explain(
                        model,
                        tokenizer,
                        chunk,
                        "ig",
                        chunk_targets,
                        n_steps="auto",
                        tolerance=TOLERANCE,
                        progress=False,
                    )
                ),
                "ref": lambda chunk=chunk, chunk_targets=chunk_targets: ref_parts.append(
                    explain(model, tokenizer, chunk, "ig", chunk_targets, n_steps=50, progress=False)
                ),
            }
            for name in ["ti", "ours", "ref"] if r % 2 == 0 else ["ours", "ti", "ref"]:
                start = time.perf_counter()
                jobs[name]()
                seconds[name] += time.perf_counter() - start
    ti_seconds, our_seconds, ref_seconds = seconds["ti"], seconds["ours"], seconds["ref"]
    if [t[2] for t in ti] != targets:
        raise RuntimeError(
            "Transformers Interpret explained another class than the prediction for some texts"
        )
    ours, reference = concat(ours_parts), concat(ref_parts)  # doc_id = position in texts (the Series' index)

    docs, ref_docs = documents(ours), documents(reference)
    ours_vs_ref = np.array(
        [spearmanr(content_scores(ours, d)[1], content_scores(reference, d)[1]).statistic for d in range(n)]
    )
    ti_vs_ref, same_tokens = [], 0
    for d in range(n):
        tokens, scores = content_scores(reference, d)
        ti_tokens, ti_scores = ti[d][0][1:-1], ti[d][1][1:-1]
        if ti_tokens == tokens:
            same_tokens += 1
            ti_vs_ref.append(spearmanr(ti_scores, scores).statistic)
    ti_vs_ref = np.array(ti_vs_ref)
    ti_rel = np.array([ti_relative_error(explainer, t[2], *t[3]) for t in ti])
    rel = docs["relative_error"].to_numpy()
    complete = (rel <= 0.01).mean()
    ranked = (ours_vs_ref >= 0.99).mean()
    ti_rate, our_rate, ref_rate = n / ti_seconds, n / our_seconds, n / ref_seconds

    print("\n                                   docs/s   s/doc   completeness≤1%   Spearman vs 50-step ref")
    print(
        f"Transformers Interpret (50 steps)  {ti_rate:6.2f}  {1 / ti_rate:6.3f}   {(ti_rel <= 0.01).mean():6.0%}"
        f"            median {np.median(ti_vs_ref):.4f}, ≥0.99: {(ti_vs_ref >= 0.99).mean():.0%}"
        f" (ranks; {same_tokens}/{n} same tokens)"
    )
    print(
        f"ours, explain(n_steps='auto')      {our_rate:6.2f}  {1 / our_rate:6.3f}   {complete:6.0%}"
        f"            median {np.median(ours_vs_ref):.4f}, min {ours_vs_ref.min():.4f}, ≥0.99: {ranked:.0%}"
    )
    print(
        f"ours, explain(n_steps=50) (ref)    {ref_rate:6.2f}  {1 / ref_rate:6.3f}   "
        f"{(ref_docs['relative_error'] <= 0.01).mean():6.0%}"
    )
    print(
        f"\nours: gradient points per document mean {docs['n_steps'].mean():.1f} (min {docs['n_steps'].min()}, "
        f"max {docs['n_steps'].max()}), all passes incl. forward-only {docs['forward_passes'].mean():.1f}; "
        f"relative completeness error median {np.median(rel):.4f}, 95th percentile {np.quantile(rel, 0.95):.4f}"
    )
    print(
        f"quality bar (≥95% of documents within 1% completeness and Spearman ≥ 0.99): "
        f"{'met' if complete >= 0.95 and ranked >= 0.95 else 'NOT met'}"
    )
    print(f"ratio: {our_rate / ti_rate:.2f}")


if __name__ == "__main__":
    main()
