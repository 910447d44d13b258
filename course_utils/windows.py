"""Documents longer than the model's window: explain overlapping windows and map the scores back.

    from course_utils.windows import explain_windows
    result = explain_windows(model, tokenizer, texts, "ig", target="Republican", stride=128, n_steps=16)
    result.tokens      # one row per token of the whole document
    result.documents   # one row per document: mean-of-windows prediction, n_windows …
    result.windows     # one row per window: its span, its own prediction and the method's diagnostics

BERT reads at most ``max_length`` tokens (512). :func:`course_utils.attribution.explain` truncates longer
texts; :func:`explain_windows` instead cuts each long document into overlapping windows and explains
every window with the same method, target and options.

The rules (also in :func:`explain_windows`'s docstring):

* **Windows.** A document has ``L`` content tokens (without ``[CLS]``/``[SEP]``). A window holds at most
  ``W = max_length − 2`` of them (plus its own ``[CLS]`` and ``[SEP]``); window ``k`` starts near ``k·stride``
  and the last one ends at the document's end. Windows begin and end at word boundaries (a word's
  WordPieces are never split between windows), so a window is a substring of the text and the tokenizer
  gives it exactly the document's tokens. A document that fits (``L ≤ W``) is one window: the text itself.
* **Target.** All windows of a document explain the same class: the given target, else the document's
  prediction.
* **Prediction.** The document's probability of each class is the **mean of its windows' probabilities**;
  its prediction is the class with the largest mean. Its ``probability`` (of the target) is the mean of
  the windows' ``probability`` column in ``result.windows``, as the method reported it with its scores.
* **Scores.** A content token's score is the **mean of its scores in the windows that contain it** (one
  window, or two or more where windows overlap); the document's ``[CLS]`` and ``[SEP]`` get the mean of the
  windows' ``[CLS]`` and ``[SEP]`` scores. Every token thus gets exactly one score. Completeness (IG's
  ``Σ scores = f(x) − f(x′)``, SHAP's additivity) holds **per window**, not for the averaged document
  scores: check it in ``result.windows`` (for IG its ``completeness_error`` column).

Used by :func:`course_utils.corpus.explain_corpus` (``long="window"``) and the command line
``python -m course_utils explain``.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _inference
from ._validation import check_choice, check_scalar
from .attribution import Explanations, _inputs, explain
from .attribution._inputs import check_target, check_texts, label_names

LONG_MODES = ("window", "truncate")


def check_long(long, stride) -> tuple[str, int | None]:
    """Validate ``long`` ("window"/"truncate") and ``stride`` (None or a positive int of tokens)."""
    check_choice(
        long,
        "long",
        LONG_MODES,
        hint=f"choose one of {list(LONG_MODES)}: 'window' explains "
        "overlapping windows of long documents, 'truncate' drops their ends",
    )
    stride = check_scalar(
        stride, "stride", int, min_val=1, allow_none=True, hint="(tokens between window starts)"
    )
    return long, stride


def default_stride(max_length: int) -> int:
    """Tokens between window starts when none is given: a window less an eighth of it (447 for BERT's 512).

    Consecutive windows then share about 64 tokens, so a token near a window's edge also gets a score with
    context on both sides, while the work grows only ≈ 1.14× over truncation per token (half-window overlap,
    ``stride=255``, doubles it).
    """
    width = max_length - 2
    return max(1, width - width // 8)


def token_counts(tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens per text with ``[CLS]``/``[SEP]``, untruncated: int64 ``(n_texts,)``."""
    enc = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
    return np.array([len(ids) for ids in enc["input_ids"]], dtype=np.int64)


def _boundaries(word_ids: list[int]) -> list[int]:
    """Content-token indices where a word starts, plus ``len(word_ids)`` (the end)."""
    starts = [i for i, w in enumerate(word_ids) if i == 0 or w != word_ids[i - 1]]
    return starts + [len(word_ids)]


def window_spans(word_ids: list[int], width: int, stride: int) -> list[tuple[int, int]]:
    """The windows of one document as ``[(start, stop), …]`` over its content tokens (specials excluded).

    Args:
        word_ids: the word index of each content token (``L`` entries).
        width: most content tokens per window (``max_length − 2``).
        stride: tokens between the nominal window starts ``0, stride, 2·stride, …``.

    Returns:
        spans covering ``0 … L`` in order, each at most ``width`` tokens, each beginning and ending at a word
        boundary; consecutive spans overlap by about ``width − stride`` tokens (never a gap).

    Raises:
        ValueError: a single word longer than ``width`` tokens (it cannot fit in any window).
    """
    n = len(word_ids)
    if n <= width:
        return [(0, n)]
    cuts = np.array(_boundaries(word_ids))
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        stop = int(cuts[cuts <= start + width].max())
        if stop <= start:
            raise ValueError(
                f"a word of more than {width} tokens (at token {start}) fits in no window: "
                "raise max_length or clean the text"
            )
        spans.append((start, stop))
        if stop >= n:
            return spans
        nominal = start + stride
        # the next window starts at the last word boundary at or before start + stride, but after this start,
        # and no later than this window's end (no gap)
        candidates = cuts[(cuts > start) & (cuts <= min(nominal, stop))]
        start = int(candidates.max()) if len(candidates) else int(cuts[cuts > start].min())
        if n - start <= width:  # the last window: aligned to the document's end
            first = cuts[cuts >= n - width]
            start = min(start, int(first.min())) if len(first) else start
            spans.append((start, n))
            return spans


def explain_windows(
    model,
    tokenizer,
    texts,
    method: str = "ig",
    target=None,
    *,
    stride: int | None = None,
    batch_size: int = 16,
    max_length: int | None = None,
    progress: bool | None = None,
    **options,
) -> Explanations:
    """Explain documents of any length with any method, by overlapping windows (see the module's rules).

    Args:
        model, tokenizer, texts, method, target, batch_size, progress, **options: as in
            :func:`course_utils.attribution.explain` (``texts``: a string, list or Series).
        stride: tokens between window starts (default a window less an eighth, 447 for BERT:
            :func:`default_stride`); smaller strides give more overlap and more windows.
        max_length: tokens per window including ``[CLS]``/``[SEP]`` (default the model's maximum).

    Rules: all windows of a document explain one target (the given one, else the document's prediction);
    the document's class probabilities are the mean of its windows' probabilities; a token's score is the
    mean of its scores over the windows containing it ([CLS]/[SEP]: the mean over all windows); windows
    start and end at word boundaries. Completeness holds per window (``result.windows``).

    Returns:
        an :class:`~course_utils.attribution.Explanations`: ``.tokens`` one row per token of the
        *whole* document (``n_dropped`` is 0). ``.documents``: one row per document (``doc_id,
        n_tokens, n_dropped, method, target, target_label, prediction, probability, n_windows,
        window_probability_min, window_probability_max``; a document that fits in one window also keeps the
        method's diagnostics, as :func:`explain` gives them). ``.windows``: one row per window
        (``doc_id, window, start, stop`` — content-token span, ``[start, stop)`` — ``n_tokens, target,
        target_label, prediction, probability`` of the window alone, then the method's diagnostics).

    Raises:
        ValueError/TypeError: as :func:`explain`; a bad ``stride``; a word longer than a window.
    """
    texts, doc_ids = check_texts(texts)
    _inputs.check_pair(model, tokenizer)
    _, stride = check_long("window", stride)
    length = _inputs.max_length_of(model, tokenizer, max_length)
    width = length - 2
    stride = default_stride(length) if stride is None else stride
    given = check_target(target, model, len(texts))
    labels = label_names(model)
    full = tokenizer(
        texts, add_special_tokens=True, truncation=False, verbose=False, return_offsets_mapping=True
    )

    # 1. the windows of every document, as substrings of the text
    window_texts, owner, spans = [], [], []
    for d, text in enumerate(texts):
        word_ids = [int(w) for w in full.word_ids(d)[1:-1]]
        offsets = full["offset_mapping"][d][1:-1]
        for start, stop in window_spans(word_ids, width, stride):
            window_texts.append(
                text
                if (start, stop) == (0, len(word_ids))
                else text[offsets[start][0] : offsets[stop - 1][1]]
            )
            owner.append(d)
            spans.append((start, stop))
    owner = np.array(owner, dtype=np.int64)
    n_windows = np.bincount(owner, minlength=len(texts))

    # 2. the document's target: given, else the argmax of the mean window probabilities
    window_probs = _probabilities(model, tokenizer, window_texts, length, batch_size)  # (n_windows, n_labels)
    doc_probs = np.stack([window_probs[owner == d].mean(0) for d in range(len(texts))])  # (n_docs, n_labels)
    doc_pred = doc_probs.argmax(1)
    doc_target = doc_pred if given is None else given
    result = explain(
        model,
        tokenizer,
        window_texts,
        method,
        doc_target[owner].tolist(),
        batch_size=batch_size,
        progress=progress,
        max_length=length,
        **options,
    )  # windows fit: nothing is truncated
    table, per_window = result.tokens, result.documents
    if (per_window["n_dropped"] > 0).any():  # cannot happen: windows are cut to fit
        raise RuntimeError("a window was truncated: please report this with the text that caused it")

    # 3. scores back onto the document's tokens
    rows = []
    grouped = dict(tuple(table.groupby("doc_id", sort=False)))
    for d, text in enumerate(texts):
        ids = full["input_ids"][d]
        tokens = full.tokens(d)
        n = len(ids)
        total, count = np.zeros(n), np.zeros(n)
        for w in np.flatnonzero(owner == d):
            start, stop = spans[w]
            part = grouped[w]
            got = part["token"].tolist()
            expected = [tokens[0], *tokens[1 + start : 1 + stop], tokens[-1]]
            if got != expected:
                raise ValueError(
                    f"texts[{d}]: window {w} re-tokenises differently from the document ({len(got)} vs "
                    f"{len(expected)} tokens); use long='truncate' for this text or report it"
                )
            score = part["score"].to_numpy()
            where = np.concatenate([[0], np.arange(1 + start, 1 + stop), [n - 1]])
            np.add.at(total, where, score)
            np.add.at(count, where, 1.0)
        word_ids = [-1 if w is None else int(w) for w in full.word_ids(d)]
        words = [tok if w < 0 else text[slice(*full.word_to_chars(d, w))] for tok, w in zip(tokens, word_ids)]
        rows.append((_inputs.EncodedText(list(ids), [0] * n, list(tokens), word_ids, words), total / count))
    docs = [r[0] for r in rows]
    # the target's probability: the mean of the windows' (as the method reported them with its scores)
    probability = per_window.groupby(owner)["probability"].mean().to_numpy()
    out = _inputs.build_table(
        docs, doc_ids, [r[1] for r in rows], method, doc_target, doc_pred, probability, labels
    )

    windows = per_window.copy()
    windows.insert(0, "window", np.concatenate([np.arange(k) for k in n_windows]).astype(np.int64))
    windows.insert(1, "start", np.array([s[0] for s in spans], dtype=np.int64))
    windows.insert(2, "stop", np.array([s[1] for s in spans], dtype=np.int64))
    windows["doc_id"] = doc_ids[owner]
    windows = windows[["doc_id", *[c for c in windows.columns if c != "doc_id"]]].drop(columns="n_dropped")
    summary = _inputs.diagnostics_table(doc_ids, docs, doc_target, doc_pred, probability, labels, method, {})
    summary["n_windows"] = n_windows.astype(np.int64)
    summary["window_probability_min"] = windows.groupby(owner)["probability"].min().to_numpy()
    summary["window_probability_max"] = windows.groupby(owner)["probability"].max().to_numpy()
    single = (
        n_windows[owner] == 1
    )  # windows that are whole documents: keep the method's diagnostics per document
    extra = [c for c in per_window.columns if c not in summary.columns]
    if extra:
        diag = per_window.loc[single, extra].set_axis(owner[single], axis=0)
        summary = summary.join(diag, how="left")
    return Explanations(
        tokens=out,
        documents=summary.reset_index(drop=True),
        options={**result.options, "long": "window", "stride": stride, "max_length": length},
        windows=windows.reset_index(drop=True),
    )


def _probabilities(model, tokenizer, texts: list[str], max_length: int, batch_size: int) -> np.ndarray:
    """Softmax probabilities ``(n_texts, n_labels)`` of the model on each (already fitting) text."""
    docs = _inputs.encode(tokenizer, texts, max_length)
    probs = _inference.forward_rows(
        model,
        lambda batch: torch.softmax(model(**batch).logits.float(), -1),
        [d.input_ids for d in docs],
        batch_size,
        tokenizer.pad_token_id,
        width=model.config.num_labels,
        order="longest_first",  # as explain() batches
        token_type_ids=[d.token_type_ids for d in docs],
    )
    return probs.double().numpy()  # (n_texts, n_labels)
