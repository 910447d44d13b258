"""SHAP for text: Owen values of a document's words from the ``shap`` library's Partition explainer.

Written on top of ``shap.explainers.Partition`` with its ``shap.maskers.Text`` masker (Lundberg & Lee, NeurIPS
2017). The words of a document are the players of a game whose payoff is the target's probability when
only some words are visible (the hidden ones replaced by one ``[MASK]`` each):

    v(S) = p(target | text with the words outside S masked)

Shapley values share v(all) − v(none) = f(x) − f(all masked) among the words by averaging each word's
marginal contribution over coalitions. The Partition explainer restricts the coalitions to a hierarchy of
words (the masker's tree: pieces of a phrase merge first, commas and sentence ends last) and returns the
Owen values of that hierarchy. It descends the tree from the whole text, always expanding the node whose
output changes most, until ``max_evals`` model evaluations are spent; a node it does not expand passes its
credit down to its words in proportion to their number. So, whatever the budget,

    Σ_words score = f(x) − base_value        (additivity: ``additivity_error`` ≈ 1e-16 in the documents table)

where ``base_value`` = p(target | every word masked). Scores are in probability units, like leave-one-out
with ``measure="probability"``: positive = the word supports the target class.

Units: SHAP's players are *words* (see :mod:`._words`): a word's score is shared equally by its WordPieces
in the table, so ``word_scores(table)`` gives back SHAP's values; [CLS]/[SEP] get 0; the per-document
table says ``granularity == "word"``.

Cost: one model evaluation per coalition, batched — each call from shap to the model is one forward pass
over ≤ ``internal_batch_size`` texts. The default budget is shap's own, ``max_evals=500``. The full tree costs
about n_words² evaluations (≈1,560 for the 40-word test paragraphs of the course); on 12 of them, the ranks
of the words under 500 evaluations agreed with the full tree's at median Spearman 0.95 (min 0.82), under
1,000 at 0.99 (0.91), under 100 at 0.71 — and each evaluation costs a forward pass (≈15 ms for such a
paragraph on one CPU thread), so 500 evaluations take about 7 s per paragraph.

Exact Shapley values: :func:`exact_shapley` enumerates all 2^n coalitions of a small game (n ≤ 16) and
averages the marginal contributions directly — the reference against which notebook 04 checks the Partition
explainer's Owen values on a short sentence.

Determinism: shap breaks ties in its priority queue with numpy's global random generator; it is seeded
with ``seed`` for each document (and its previous state restored), so reruns are identical.

Taught in notebook 04 (masking attribution) beside leave-one-out and AtMan; evaluated in notebook 05.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

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

MIN_EVALS = 4
MAX_EXACT_PLAYERS = 16  # 2**16 = 65,536 coalitions: the most an exact computation should attempt


def import_shap():
    """The ``shap`` module, imported without the deprecation notices its plotting colours raise on import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import shap
    return shap


def check_max_evals(max_evals) -> int:
    """``max_evals`` as an int ≥ 4 (SHAP needs f(x), f(all masked) and at least one split of the text)."""
    return check_positive_int(max_evals, "max_evals", MIN_EVALS)


def text_masker(tokenizer):
    """shap's Text masker over space-separated words: each hidden word becomes one ``[MASK]`` (not collapsed)."""
    return import_shap().maskers.Text(r" ", mask_token=tokenizer.mask_token, collapse_mask_token=False)


def coalitions(n_players: int) -> np.ndarray:
    """All 2**n coalitions of ``n_players`` as a bool array ``(2**n, n)``: row k holds player j iff bit j of k is 1.

    Row 0 is the empty coalition, row 2**n − 1 the grand coalition (every player).
    """
    n = check_positive_int(n_players, "n_players")
    if n > MAX_EXACT_PLAYERS:
        raise ValueError(
            f"n_players={n} needs 2**{n} coalitions; exact Shapley values are for at most "
            f"{MAX_EXACT_PLAYERS} players (use explain(..., 'shap') for longer texts)"
        )
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1) == 1  # (2**n, n)


def exact_shapley(
    payoff: Callable[[np.ndarray], np.ndarray], n_players: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values of a game with ``n_players`` (≤ 16), by enumerating every coalition.

    φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)): player i's marginal contribution
    averaged over all n! orders in which the players can arrive. The values add up to v(N) − v(∅).

    Args:
        payoff: the game v, called once with :func:`coalitions` ``(2**n, n)`` (True = the player is in the
            coalition, e.g. the word is visible) and returning their payoffs ``(2**n,)`` — so a model can
            evaluate all coalitions in batched forward passes.
        n_players: n, an int from 1 to 16 (2**n payoffs are needed).

    Returns:
        ``(values, payoffs)``: values float64 ``(n,)`` — the Shapley values; payoffs float64 ``(2**n,)`` —
        v of each coalition in the order of :func:`coalitions` (``payoffs[0]`` = v(∅), ``payoffs[-1]`` = v(N)).

    Taught in notebook 04 (SHAP: the exact Shapley values of a short sentence vs the Partition explainer).
    """
    if not callable(payoff):
        raise TypeError(f"payoff must be a function of the coalitions, got {type(payoff).__name__}")
    masks = coalitions(n_players)  # (2**n, n)
    n = masks.shape[1]
    payoffs = np.asarray(payoff(masks), dtype=np.float64).reshape(-1)  # (2**n,)
    if payoffs.shape != (2**n,) or not np.isfinite(payoffs).all():
        raise ValueError(
            f"payoff must return {2**n} finite numbers (one per coalition), got shape "
            f"{np.shape(payoffs)}{'' if np.isfinite(payoffs).all() else ' with NaN/inf'}"
        )
    size = masks.sum(1)  # (2**n,) |S|
    weight = np.array([math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)])
    values = np.zeros(n)
    for i in range(n):
        without = ~masks[:, i]  # (2**n,) the coalitions S that do not hold player i
        rows = np.flatnonzero(without)
        values[i] = (weight[size[rows]] * (payoffs[rows | (1 << i)] - payoffs[rows])).sum()
    return values, payoffs


def shap_words(
    doc: WordDocument, classifier: TextClassifier, masker, max_evals: int, batch_size: int, seed: int
) -> tuple[np.ndarray, float]:
    """SHAP values ``(n_words,)`` of one document's words and the base value p(target | all masked)."""
    shap = import_shap()
    if len(doc) == 1:  # the Partition tree needs two words; with one, its value is f(x) − f([MASK])
        f_x, f_none = classifier([doc.text, classifier.tokenizer.mask_token])
        return np.array([f_x - f_none]), float(f_none)
    explainer = shap.explainers.Partition(classifier, masker)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        result = explainer([doc.text], max_evals=max_evals, batch_size=batch_size, silent=True)
    finally:
        np.random.set_state(state)
    values = np.asarray(result.values[0], dtype=np.float64).reshape(-1)  # (n_words,)
    if len(values) != len(doc):
        raise RuntimeError(
            f"shap split the text into {len(values)} parts but it has {len(doc)} words; "
            "please report this text"
        )
    return values, float(np.asarray(result.base_values[0]).reshape(-1)[0])


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    max_evals: int = 500,
    internal_batch_size: int = 32,
    seed: int = 0,
    tokenizer=None,
) -> tuple[torch.Tensor, dict[str, list]]:
    """SHAP (Partition explainer, Owen values) scores for a padded batch of documents.

    Args:
        model: a ``…ForSequenceClassification`` model.
        batch: ``input_ids``, ``attention_mask`` (``token_type_ids``) and ``word_ids`` ``(b, s)`` (word index
            per token, -1 for [CLS]/[SEP] and padding), as :func:`explain` builds them.
        targets: LongTensor ``(b,)`` the class to explain per document.
        max_evals: model evaluations per document (default 500, shap's default). More = closer to the exact
            Owen values (the full tree needs about n_words²; short texts stop earlier); fewer = faster.
        internal_batch_size: texts per forward pass (shap asks for coalitions in pairs, so at least 2 per pass).
        seed: seeds shap's tie-breaking for every document (reruns are identical).
        tokenizer: the model's tokenizer (``explain()`` passes it); needed to rebuild and re-read the text.

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU — a word's SHAP value split
        equally over its WordPieces, 0 at [CLS]/[SEP] and padding. diagnostics, one entry per document:
        ``n_words``, ``max_evals`` (the budget), ``forward_passes`` (sequences the
        model evaluated for shap), ``model_calls`` (batched forward passes), ``base_value``
        (p(target | all words masked)), ``f_input`` (p(target | text)), ``additivity_error``
        (f_input − base_value − Σ scores).
    """
    tokenizer = require_tokenizer(tokenizer, "shap")
    max_evals = check_max_evals(max_evals)
    internal_batch_size = check_positive_int(internal_batch_size, "internal_batch_size")
    seed = check_seed(seed)
    pair_batch = max(2, internal_batch_size - internal_batch_size % 2)  # shap adds coalitions two at a time
    masker = text_masker(tokenizer)
    scores = torch.zeros(batch["input_ids"].shape)  # (b, s)
    diagnostics: dict[str, list] = {
        k: []
        for k in (
            "n_words",
            "max_evals",
            "forward_passes",
            "model_calls",
            "base_value",
            "f_input",
            "additivity_error",
        )
    }
    with eval_mode(model):
        for d, (doc, target) in enumerate(zip(word_documents(batch, tokenizer), targets.tolist())):
            doc.check_round_trip(tokenizer, "shap")
            classifier = TextClassifier(
                model, tokenizer, internal_batch_size=internal_batch_size, target=target
            )
            values, base = shap_words(doc, classifier, masker, max_evals, pair_batch, seed)
            used, calls = classifier.n_texts, classifier.n_calls
            f_input = float(classifier([doc.text])[0])
            scores[d] = doc.spread(values, scores.shape[1])
            diagnostics["n_words"].append(len(doc))
            diagnostics["max_evals"].append(max_evals)
            diagnostics["forward_passes"].append(used)
            diagnostics["model_calls"].append(calls)
            diagnostics["base_value"].append(base)
            diagnostics["f_input"].append(f_input)
            diagnostics["additivity_error"].append(f_input - base - float(values.sum()))
    return scores, diagnostics


class SHAP(Method):
    """``explain(..., method="shap")``: :func:`attribute` behind the :class:`~._method.Method` contract.

    The ``shap`` library is imported by :func:`attribute` (:func:`import_shap`), so without it only this
    method fails."""

    name = "shap"
    needs_tokenizer = True  # SHAP perturbs the text
    granularity = "word"

    @dataclass(frozen=True)
    class Options:
        max_evals: int = 500
        internal_batch_size: int = 32
        seed: int = 0

        def __post_init__(self):
            check_max_evals(self.max_evals)
            check_positive_int(self.internal_batch_size, "internal_batch_size")
            check_seed(self.seed)

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        scores, diagnostics = attribute(model, batch, targets, **as_kwargs(options), tokenizer=tokenizer)
        return scores, Diagnostics.of(diagnostics)
