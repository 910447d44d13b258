"""LIME for text: a local linear surrogate of the model over a document's words, from the ``lime`` library.

Written on top of ``lime.lime_text.LimeTextExplainer`` (Ribeiro, Singh & Guestrin, KDD 2016). LIME draws
``num_samples`` perturbed copies of the text — the first is the text itself; each other copy hides a random
number (1 … n_words) of randomly chosen words, replaced by one ``[MASK]`` each — asks the model for the
target's probability on every copy, and fits a weighted ridge regression (``alpha=1``)

    p(target | copy) ≈ intercept + Σ_words coef_w · [word w visible in the copy]

with copies weighted by their closeness to the text (an exponential kernel of width ``kernel_width`` on the
cosine distance × 100 between the visible-word vectors, LIME's defaults). A word's score is its
coefficient: the change in the target's probability the surrogate attributes to showing that word,
positive = it supports the target class (the units of leave-one-out with ``measure="probability"``). The
surrogate's weighted R² (``r2``) says how well a straight line describes the model near this text; unlike
SHAP, the scores need not add up to f(x) − f(all masked).

Units: LIME's features are *words* (see :mod:`._words`): LIME is given the BERT words separated by spaces
and ``split_expression`` that splits on those spaces, with ``bow=False`` so that every occurrence of a word is
its own feature (as every token is its own row in the table). A word's coefficient is shared equally by
its WordPieces, so ``word_scores(table)`` gives back LIME's coefficients; [CLS]/[SEP] get 0.

Cost and stability: ``num_samples`` evaluations per document, in forward passes of ``internal_batch_size``
texts (≈12 ms per evaluation for a 40-word paragraph on one CPU thread). LIME's scores are random: on 8 test
paragraphs of the course (≈40 words), two seeds ranked the words alike at median Spearman 0.69 (min 0.22)
with 250 samples, 0.81 (0.58) with 500 and 0.88 (0.75) with 1000; on the 30 paragraphs of
``benchmarks/model_agnostic.py``, 0.84 (0.55) with 1000 — hence the default of 1000 (≈12–13 s per paragraph);
use 2000+ when single words matter, 250 for a quick look. Determinism: LIME's sampler is seeded with
``seed`` for every document, so a document's scores do not depend on the other documents or on the batch
size, and reruns are identical.

Taught in notebook 04 (masking attribution) beside leave-one-out and AtMan; evaluated in notebook 05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_scalar
from ._method import Diagnostics, Method, as_kwargs
from ._words import (
    TextClassifier,
    WordDocument,
    check_positive_int,
    check_seed,
    eval_mode,
    require_tokenizer,
    word_documents,
)

MIN_SAMPLES = 10


def check_kernel_width(kernel_width) -> None:
    """Raise a clear error unless ``kernel_width`` is a positive finite number."""
    check_scalar(
        kernel_width,
        "kernel_width",
        float,
        min_val=0,
        include_boundaries="neither",
        finite=True,
        hint="(LIME's default is 25)",
    )


def split_words(text: str) -> list[str]:
    """LIME's ``split_expression``: the space-separated words of a text rebuilt by :class:`WordDocument`."""
    return text.split(" ")


def lime_explainer(tokenizer, seed: int, kernel_width: float):
    """A ``LimeTextExplainer`` over space-separated BERT words, one feature per position, ``[MASK]`` for
    hidden words."""
    from lime.lime_text import LimeTextExplainer

    return LimeTextExplainer(
        kernel_width=kernel_width,
        split_expression=split_words,
        bow=False,
        mask_string=tokenizer.mask_token,
        feature_selection="none",
        random_state=seed,
    )


def lime_words(
    doc: WordDocument,
    classifier: TextClassifier,
    target: int,
    num_samples: int,
    seed: int,
    kernel_width: float,
) -> tuple[np.ndarray, float, float, float]:
    """LIME coefficients ``(n_words,)`` of one document's words, the intercept, the R² and the local prediction."""
    explainer = lime_explainer(classifier.tokenizer, seed, kernel_width)
    exp = explainer.explain_instance(
        doc.text, classifier, labels=(target,), num_features=len(doc), num_samples=num_samples
    )
    n_features = exp.domain_mapper.indexed_string.num_words()
    if n_features != len(doc):
        raise RuntimeError(
            f"lime split the text into {n_features} words but it has {len(doc)}; please report this text"
        )
    coef = np.zeros(len(doc))
    for feature, weight in exp.local_exp[target]:
        coef[feature] = weight
    local = float(np.asarray(exp.local_pred).reshape(-1)[0])
    return coef, float(exp.intercept[target]), float(exp.score), local


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    num_samples: int = 1000,
    kernel_width: float = 25.0,
    internal_batch_size: int = 32,
    seed: int = 0,
    tokenizer=None,
) -> tuple[torch.Tensor, dict[str, list]]:
    """LIME scores (surrogate coefficients) for a padded batch of documents.

    Args:
        model: a ``…ForSequenceClassification`` model.
        batch: ``input_ids``, ``attention_mask`` (``token_type_ids``) and ``word_ids`` ``(b, s)`` (word index
            per token, -1 for [CLS]/[SEP] and padding), as :func:`explain` builds them.
        targets: LongTensor ``(b,)`` the class to explain per document.
        num_samples: perturbed copies per document, the text itself included (default 1000; LIME's own
            default is 5000). Fewer = faster and noisier (see the module docstring for how two seeds agree).
        kernel_width: width of LIME's exponential kernel on the cosine distance × 100 (LIME's default 25).
        internal_batch_size: texts per forward pass.
        seed: LIME's ``random_state`` for every document (reruns are identical).
        tokenizer: the model's tokenizer (``explain()`` passes it); needed to rebuild and re-read the text.

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU — a word's coefficient split
        equally over its WordPieces, 0 at [CLS]/[SEP] and padding. diagnostics, one entry per document:
        ``n_words``, ``forward_passes`` (= ``num_samples``, sequences evaluated),
        ``model_calls`` (batched forward passes), ``intercept``, ``r2`` (the surrogate's weighted R²),
        ``local_prediction`` (the surrogate at the text, to compare with ``probability``).
    """
    tokenizer = require_tokenizer(tokenizer, "lime")
    num_samples = check_positive_int(num_samples, "num_samples", MIN_SAMPLES)
    check_kernel_width(kernel_width)
    internal_batch_size = check_positive_int(internal_batch_size, "internal_batch_size")
    seed = check_seed(seed)
    scores = torch.zeros(batch["input_ids"].shape)  # (b, s)
    diagnostics: dict[str, list] = {
        k: [] for k in ("n_words", "forward_passes", "model_calls", "intercept", "r2", "local_prediction")
    }
    with eval_mode(model):
        for d, (doc, target) in enumerate(zip(word_documents(batch, tokenizer), targets.tolist())):
            doc.check_round_trip(tokenizer, "lime")
            classifier = TextClassifier(model, tokenizer, internal_batch_size=internal_batch_size)
            coef, intercept, r2, local = lime_words(
                doc, classifier, int(target), num_samples, seed, float(kernel_width)
            )
            scores[d] = doc.spread(coef, scores.shape[1])
            diagnostics["n_words"].append(len(doc))
            diagnostics["forward_passes"].append(classifier.n_texts)
            diagnostics["model_calls"].append(classifier.n_calls)
            diagnostics["intercept"].append(intercept)
            diagnostics["r2"].append(r2)
            diagnostics["local_prediction"].append(local)
    return scores, diagnostics


class LIME(Method):
    """``explain(..., method="lime")``: :func:`attribute` behind the :class:`~._method.Method` contract.

    The ``lime`` library is imported by :func:`lime_explainer`, so without it only this method fails."""

    name = "lime"
    needs_tokenizer = True  # LIME perturbs the text
    granularity = "word"

    @dataclass(frozen=True)
    class Options:
        num_samples: int = 1000
        kernel_width: float = 25.0
        internal_batch_size: int = 32
        seed: int = 0

        def __post_init__(self):
            check_positive_int(self.num_samples, "num_samples", MIN_SAMPLES)
            check_kernel_width(self.kernel_width)
            check_positive_int(self.internal_batch_size, "internal_batch_size")
            check_seed(self.seed)

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        scores, diagnostics = attribute(model, batch, targets, **as_kwargs(options), tokenizer=tokenizer)
        return scores, Diagnostics.of(diagnostics)
