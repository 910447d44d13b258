"""Token attributions for a BERT classifier: one entry point, :func:`explain`, for every method of the course.

    from course_utils.attribution import explain, word_scores
    result = explain(model, tokenizer, df["text"], method="ig", target="Republican")   # an Explanations
    result.tokens                 # one row per token: the tidy table
    result.documents              # one row per document: prediction, f(x), f(x′), completeness error, steps …
    result.words()                # WordPieces summed into words (word_scores)

Methods (:data:`SUPPORTED_METHODS`): ``"ig"`` integrated gradients (notebook 03), ``"loo"`` leave-one-out
occlusion and ``"atman"`` attention manipulation (notebook 04), and the model-agnostic ``"shap"`` (the shap
library's Partition explainer, Owen values of words) and ``"lime"`` (the lime library's local linear
surrogate over words). Each is a :class:`Method` in its private module: a class that declares what it can do
(``name``, ``predicts``, ``needs_tokenizer``, ``granularity``, its ``Options`` dataclass) and implements
``attribute(model, batch, targets, options, tokenizer=None) -> (scores, Diagnostics)``; :func:`explain` only
coordinates: check inputs → encode → length-sorted batches → the method → the tidy table, returned in an
:class:`Explanations` (module ``_result``: the token table, the per-document table, the options).

Adding a method = one module + one registry line + its entry in the shared test cases:

1. a module ``_<name>.py`` with a :class:`Method` subclass: its declarations, a frozen ``Options`` dataclass
   (defaults; checks in ``__post_init__`` that raise TypeError/ValueError saying the fix) and ``attribute``
   returning scores ``(b, s)`` and :class:`Diagnostics` (one numpy value per document). Import an optional
   heavy library inside the functions that need it, never at the module's top, so that without it only
   this method fails;
2. one line ``register(<Class>)`` in this file, with the others (from outside the package: call
   :func:`register` yourself; :func:`unregister` removes a method again);
3. one ``pytest.param((name, small fast options), id=name)`` in ``tests/conftest.py``'s ``METHOD_CASES``:
   the generic tests of ``tests/test_attribution.py`` (one row per token, dtypes, targets, determinism,
   batch-size invariance, bad input) then run it, and ``tests/test_attribution_contract.py`` checks its
   declarations. The toy method of ``tests/toy_method.py`` (case ``"random-test"``) went through these steps.

SHAP and LIME explain *words*, not WordPieces (they declare ``granularity = "word"``): each word's score is
shared equally by its WordPieces, so ``result.words()`` returns their word scores exactly, and
``result.documents["granularity"]`` says ``"word"``. Their scores, like LOO's default, are changes in the
target's probability.

Taught in notebook 03 (integrated gradients); used in notebooks 04–07.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import _inference
from . import _inputs, _masking, _method

# ``name as name``: a building block re-exported for the notebooks (BUILDING_BLOCKS below)
from ._atman import AtMan
from ._atman import atman_attention as atman_attention
from ._atman import atman_attention_forward as atman_attention_forward
from ._atman import attention_weights as attention_weights
from ._atman import concept_similarity as concept_similarity
from ._atman import suppression_factors as suppression_factors
from ._ig import IntegratedGradients
from ._inputs import TABLE_COLUMNS, check_target, check_texts, label_names
from ._lime import LIME
from ._loo import LeaveOneOut
from ._method import Diagnostics, Method, register, unregister
from ._result import Explanations, token_table, word_scores
from ._shap import SHAP
from ._shap import coalitions as coalitions
from ._shap import exact_shapley as exact_shapley
from ._words import TextClassifier as TextClassifier

# the methods of explain(), in the order error messages list them: adding a method is one line here
register(IntegratedGradients)
register(LeaveOneOut)
register(AtMan)
register(SHAP)
register(LIME)

#: method name → its :class:`Method` class (a read-only view of the registry; add one with :func:`register`)
SUPPORTED_METHODS: Mapping[str, type[Method]] = _method.METHODS

#: building blocks the notebooks teach with, importable from here
BUILDING_BLOCKS = (
    "atman_attention",
    "atman_attention_forward",
    "attention_weights",
    "concept_similarity",
    "suppression_factors",
    "exact_shapley",
    "coalitions",
    "TextClassifier",
)

__all__ = [
    "explain",
    "integrated_gradients",
    "Explanations",
    "word_scores",
    "documents",
    "concat",
    "SUPPORTED_METHODS",
    "TABLE_COLUMNS",
    "check_texts",
    "check_target",
    "label_names",
    "method_options",
    "Method",
    "Diagnostics",
    "register",
    "unregister",
    *BUILDING_BLOCKS,
]

AUTO_PROGRESS = 20  # progress=None shows a bar above this many texts …
AUTO_PROGRESS_TOKENS = (
    1000  # … or above this many tokens in all (two 800-token texts with AtMan take minutes)
)


def method_options(method: str) -> dict[str, object]:
    """The options of ``method`` and their defaults, e.g. ``method_options("ig")["n_steps"] == "auto"``."""
    return _method.get(method).defaults()


def _options(cls: type[Method], options: dict):
    """The method's checked ``Options``; TypeError naming an unknown option and listing the method's own."""
    allowed = cls.defaults()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"explain(method={cls.name!r}) got unknown option(s) {unknown}; "
            f"the options of {cls.name!r} are {sorted(allowed)}"
        )
    return cls.Options(**options)


def explain(
    model,
    tokenizer,
    texts,
    method: str = "ig",
    target=None,
    *,
    batch_size: int = 16,
    progress: bool | None = None,
    max_length: int | None = None,
    **options,
) -> Explanations:
    """Attribute each text's prediction to its tokens, with any method of the course, as a tidy table.

    Args:
        model: a ``…ForSequenceClassification`` model (e.g. from ``load_classifier()``); it is put in eval
            mode for the call and restored afterwards.
        tokenizer: its fast tokenizer (from the same checkpoint).
        texts: a string, a list/tuple of strings, or a pandas Series such as ``df["text"]``.
        method: ``"ig"`` (default), ``"loo"``, ``"atman"``, ``"shap"`` or ``"lime"`` — see :data:`SUPPORTED_METHODS`.
        target: the class to explain: None (default: each text's predicted class), a label name
            (``"Republican"``), a class index, or a list with one of those per text.
        batch_size: documents per batch (batches are sorted by length, so padding is minimal). SHAP and LIME
            explain one document at a time whatever the batch (their forward passes batch the perturbed
            texts), so ``batch_size=1`` gives them a progress bar that moves with every document.
        progress: show a tqdm bar over documents; None (default) shows it for more than 20 texts or more than
            1,000 tokens in all. For LOO and AtMan its postfix counts the forward passes inside the current
            batch, so one long text visibly moves.
        max_length: tokens per text (default the model's maximum, 512 for BERT); longer texts are
            truncated with one warning saying how many tokens were dropped from which texts.
        **options: the method's own options, e.g. for ``"ig"`` ``n_steps``, ``baseline``, ``quadrature``,
            ``output``, ``tolerance``, ``normalize`` (see :func:`integrated_gradients`); for ``"shap"``
            ``max_evals``, ``seed``; for ``"lime"`` ``num_samples``, ``kernel_width``, ``seed``;
            :func:`method_options` lists them.

    Returns:
        an :class:`Explanations`: ``.tokens`` one row per token ([CLS]/[SEP] included; ``doc_id, position,
        token, word_id, word, special, score, method, target, target_label, prediction, probability``),
        ``.documents`` one row per document (prediction and the method's diagnostics), ``.options`` the
        options used — the columns are described in :class:`Explanations`. Stack results with :func:`concat`.

    Raises:
        ValueError: unknown method, bad target/text/value; TypeError: wrong types, unknown option.
    """
    cls = _method.get(method)
    checked = _options(cls, options)
    texts, doc_ids = check_texts(texts)
    _inputs.check_pair(model, tokenizer)
    targets = check_target(target, model, len(texts))
    docs = _inputs.encode(tokenizer, texts, _inputs.max_length_of(model, tokenizer, max_length))
    batches = _inputs.sorted_batches(docs, batch_size)
    labels = label_names(model)
    given_tokenizer = tokenizer if cls.needs_tokenizer else None
    device = _inference.device_of(model)
    n = len(docs)
    scores: list[np.ndarray | None] = [None] * n
    chosen, predicted, probability = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.float64)
    diagnostics: dict[str, list] = (
        {} if cls.granularity == "token" else {"granularity": [cls.granularity] * n}
    )
    n_tokens = sum(len(d) for d in docs)
    show = (n > AUTO_PROGRESS or n_tokens > AUTO_PROGRESS_TOKENS) if progress is None else bool(progress)
    bar = tqdm(total=n, desc=f"explain ({method})", unit="doc", disable=not show)

    def passes(done: int, total: int) -> None:  # forward passes inside the current batch (LOO, AtMan)
        bar.set_postfix_str(f"forward passes {done}/{total} in this batch")

    with (
        _inference.eval_mode(model),
        bar,
    ):  # the model's mode is restored and the bar closed, even after an error
        for idx in batches:
            batch = _inputs.padded_batch([docs[i] for i in idx], tokenizer.pad_token_id, device)
            given = None if targets is None else torch.as_tensor(targets[idx])  # (b,)
            if cls.predicts:
                batch_scores, diag = cls.attribute(
                    model, batch, None if given is None else given.to(device), checked, given_tokenizer
                )
                logits, tgt = (
                    torch.from_numpy(diag.logits).float(),
                    torch.from_numpy(diag.target),
                )  # (b, n_labels), (b,)
            else:
                with torch.inference_mode():
                    logits = model(
                        **{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
                    ).logits
                logits = logits.float().cpu()  # (b, n_labels)
                tgt = logits.argmax(1) if given is None else given  # (b,)
                with _masking.reporting_rows(passes) if show else contextlib.nullcontext():
                    batch_scores, diag = cls.attribute(model, batch, tgt.to(device), checked, given_tokenizer)
            probs = torch.softmax(logits, dim=-1)  # (b, n_labels)
            pred = logits.argmax(1)  # (b,)
            batch_scores = batch_scores.detach().float().cpu().numpy()  # (b, s)
            for row, i in enumerate(idx):
                scores[i] = batch_scores[row, : len(docs[i])]
            chosen[idx], predicted[idx] = tgt.numpy(), pred.numpy()
            probability[idx] = probs.gather(1, tgt[:, None]).squeeze(1).numpy()
            for name, values in diag.columns.items():
                column = diagnostics.setdefault(name, [None] * n)
                for row, value in zip(idx, values.tolist()):
                    column[row] = value
            bar.update(len(idx))
    return Explanations(
        tokens=_inputs.build_table(docs, doc_ids, scores, method, chosen, predicted, probability, labels),
        documents=_inputs.diagnostics_table(
            doc_ids, docs, chosen, predicted, probability, labels, method, diagnostics
        ),
        options={"method": method, "batch_size": batch_size, **cls.defaults(), **options},
    )


def integrated_gradients(
    model,
    tokenizer,
    texts,
    target=None,
    *,
    baseline: str | int = "pad",
    n_steps: int | str = "auto",
    quadrature: str | None = None,
    output: str = "prob",
    tolerance: float = 0.01,
    atol: float = 1e-4,
    max_steps: int = 256,
    normalize: str | None = None,
    internal_batch_size: int | None = None,
    batch_size: int = 16,
    progress: bool | None = None,
    max_length: int | None = None,
) -> Explanations:
    """Integrated gradients on the word-embedding layer: :func:`explain` with ``method="ig"``.

    Args:
        target: None (predicted class), a label name, a class index, or one per text.
        baseline: ``"pad"`` (default; every token → ``[PAD]``, ``[CLS]``/``[SEP]`` kept — the Transformers
            Interpret default), ``"mask"`` (→ ``[MASK]``), ``"zero"`` (zero vector), or a token id.
        n_steps: quadrature points per document, or ``"auto"`` (default): adaptive quadrature — 9 gradient
            points crowded where the output changes along the path, more only for the parts of the path where
            a document's completeness error is still above ``tolerance``, up to ``max_steps``.
        quadrature: None (default: ``"gauss_legendre"`` for an integer ``n_steps``, ``"clenshaw_curtis"`` for
            ``"auto"``), or one of ``"gauss_legendre"``, ``"riemann_trapezoid"``, ``"clenshaw_curtis"``
            (auto mode takes only the last two: it refines by adding points between the ones it has).
        output: explain the target's ``"prob"`` (softmax probability, default) or its ``"logit"``.
        tolerance: relative completeness error auto mode accepts (0.01 = 1 % of |f(x) − f(x′)|).
        atol: absolute completeness error auto mode also accepts (1e-4, in f's units).
        max_steps: the most points auto mode uses per document.
        normalize: None (default) or ``"l2"`` (each text's scores divided by their L2 norm, as Transformers
            Interpret does: scores then no longer sum to f(x) − f(x′) and cannot be compared across texts).
        internal_batch_size: (document, point) rows per forward/backward pass (None: about 2,048 tokens' worth
            on a CPU, what half the free memory holds on a CUDA device).
        batch_size, progress, max_length: as in :func:`explain`.

    Returns:
        the :class:`Explanations` of :func:`explain`; scores sum per document to f(x) − f(x′) up to
        ``result.documents["completeness_error"]`` (unless normalised).
    """
    return explain(
        model,
        tokenizer,
        texts,
        "ig",
        target,
        batch_size=batch_size,
        progress=progress,
        max_length=max_length,
        baseline=baseline,
        n_steps=n_steps,
        quadrature=quadrature,
        output=output,
        tolerance=tolerance,
        atol=atol,
        max_steps=max_steps,
        normalize=normalize,
        internal_batch_size=internal_batch_size,
    )


def documents(result: Explanations) -> pd.DataFrame:
    """The per-document table of an :func:`explain` result: ``result.documents`` (kept for older code)."""
    if not isinstance(result, Explanations):
        raise ValueError(
            "documents() needs the Explanations returned by explain(), got "
            f"{type(result).__name__}; a plain token DataFrame carries no per-document diagnostics"
        )
    return result.documents


def concat(results: list) -> Explanations | pd.DataFrame:
    """Stack :func:`explain` results (e.g. one per method): :meth:`Explanations.concat`.

    A list that also holds plain token DataFrames (e.g. :func:`course_utils.evaluation.random_explanation`)
    gives the stacked token DataFrame (``pd.concat`` of the tokens, a fresh index), without per-document
    tables.
    """
    results = list(results)
    if results and all(isinstance(r, Explanations) for r in results):
        return Explanations.concat(results)
    tables = [token_table(r) for r in results]
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise TypeError("concat() takes a non-empty list of explain() results (or of their token DataFrames)")
    return pd.concat(tables, ignore_index=True)
