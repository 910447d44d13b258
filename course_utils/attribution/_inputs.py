"""Checking and encoding what :func:`course_utils.attribution.explain` receives, and building its tidy table.

Small ``check_*`` helpers, each validating one thing and returning the normalised value (after
scikit-learn's ``check_array``): texts, target, the tokenizer/model pair. Then encoding (with a single
warning for truncated texts), length-sorted padded batches, and the one-row-per-token table. Lengths,
truncation, batches and padding themselves come from :mod:`course_utils._inference`.

Taught in notebook 03 (integrated gradients); the table is consumed in notebooks 05 and 06.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .. import _inference, _validation
from .._inference import max_length_of  # noqa: F401  (its home is _inference; callers import it from here too)

TABLE_COLUMNS = (
    "doc_id",
    "position",
    "token",
    "word_id",
    "word",
    "special",
    "score",
    "method",
    "target",
    "target_label",
    "prediction",
    "probability",
)


# ------------------------------------------------------------------------------------------------ texts
def check_texts(texts) -> tuple[list[str], np.ndarray]:
    """The texts as a list of non-empty strings, and their document ids.

    Args:
        texts: one ``str``; a list or tuple of ``str``; a pandas Series (e.g. ``df["text"]``) or Index.

    Returns:
        ``(texts, doc_ids)``: ``doc_ids`` is an int64 array — the Series' index when ``texts`` is a Series
        with a unique integer index (so the table joins back to its DataFrame), else ``0 … n−1``.

    Raises:
        TypeError: ``texts`` is None or another type, or an item is not a string.
        ValueError: no texts, or an item is empty or only whitespace.

    The checks are :func:`course_utils._validation.check_texts`'s; this adds the document ids.
    """
    doc_ids = None
    items = _validation.check_texts(texts, containers=(list, tuple, pd.Series, pd.Index))
    if (
        isinstance(texts, pd.Series)
        and pd.api.types.is_integer_dtype(texts.index.dtype)
        and texts.index.is_unique
    ):
        doc_ids = texts.index.to_numpy(dtype=np.int64)
    if doc_ids is None:
        doc_ids = np.arange(len(items), dtype=np.int64)
    return items, doc_ids


# ----------------------------------------------------------------------------------------------- target
def label_names(model) -> list[str]:
    """The model's class names in index order (``model.config.id2label``), e.g. ``['Democratic', 'Republican']``."""
    n = model.config.num_labels
    id2label = getattr(model.config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n)]


def check_target(target, model, n_texts: int) -> np.ndarray | None:
    """The class to explain for each text as an int64 array ``(n_texts,)``, or None for "the predicted class".

    Args:
        target: None (each text's predicted class); an int index; a label name (``"Republican"``); or a
            list/array/Series with one int or name per text.

    Raises:
        TypeError: a target of another type (float, bool, …).
        ValueError: an index out of range, a name the model does not have, or a list of the wrong length.
    """
    if target is None:
        return None
    labels = label_names(model)
    if isinstance(target, (str, int, np.integer)) and not isinstance(target, bool):
        return np.full(n_texts, _one_target(target, labels), dtype=np.int64)
    if isinstance(target, (list, tuple, np.ndarray, pd.Series, pd.Index, torch.Tensor)):
        values = target.tolist() if hasattr(target, "tolist") else list(target)
        if len(values) != n_texts:
            raise ValueError(
                f"target has {len(values)} entries but there are {n_texts} texts: give one per text, "
                "or a single label for all"
            )
        return np.array([_one_target(t, labels) for t in values], dtype=np.int64)
    raise TypeError(
        f"target must be None, a label name, a class index or one of those per text, "
        f"got {type(target).__name__} ({target!r}); the labels are {labels}"
    )


def _one_target(target, labels: list[str]) -> int:
    if isinstance(target, str):
        if target not in labels:
            raise ValueError(f"target {target!r} is not a label of this model; its labels are {labels}")
        return labels.index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(
            f"target {target!r} is a {type(target).__name__}; give a label name or a class index "
            f"(the labels are {labels})"
        )
    if not 0 <= target < len(labels):
        raise ValueError(
            f"target {target} is not a class index of this model; use 0–{len(labels) - 1} "
            f"(labels {labels}) or a label name"
        )
    return int(target)


# ------------------------------------------------------------------------------------ tokenizer + model
def check_pair(model, tokenizer) -> None:
    """Check that ``tokenizer`` belongs to ``model``; raise an error that says how to fix it if not.

    A model made by the course (:func:`course_utils.models.new_classifier`, ``load_classifier``) records its
    tokenizer's fingerprint in ``model.config.course_tokenizer``: the tokenizer must match its size, its
    special-token ids and the SHA-256 of its vocabulary (so a tokenizer of another vocabulary, even of the
    same size, is refused). For other models the checkpoint says less: the tokenizer must have as many tokens
    as the model has word-embedding rows (or a few fewer when the rows were padded to a multiple of 8), and
    its ``[PAD]`` id must be the config's ``pad_token_id`` where the config has one.

    Raises:
        TypeError: not a fast (Rust) tokenizer, so word ids are not available.
        ValueError: the tokenizer does not match the model's vocabulary, or lacks a ``[PAD]``/``[CLS]``/``[SEP]``
            token.
    """
    from ..fingerprints import CONFIG_ATTRIBUTE, tokenizer_fingerprint

    fix = "load the tokenizer and the model from the same checkpoint (e.g. tokenizer, model = load_classifier())"
    if not getattr(tokenizer, "is_fast", False) or not callable(tokenizer):
        raise TypeError(
            f"tokenizer must be a fast Hugging Face tokenizer (got {type(tokenizer).__name__}); {fix}"
        )
    n_rows = model.get_input_embeddings().num_embeddings
    n_tokens = len(tokenizer)
    if n_tokens > n_rows:
        raise ValueError(
            f"the tokenizer knows {n_tokens} tokens but the model has only {n_rows} word "
            f"embeddings, so they do not belong together: {fix}"
        )
    for name in ("pad_token_id", "cls_token_id", "sep_token_id"):
        if getattr(tokenizer, name, None) is None:
            raise ValueError(
                f"the tokenizer has no {name.removesuffix('_id')} ({name} is None), which BERT inputs "
                f"need: {fix}"
            )
    recorded = getattr(model.config, CONFIG_ATTRIBUTE, None)
    if isinstance(recorded, dict) and "vocab_sha256" in recorded:
        found = tokenizer_fingerprint(tokenizer)
        problems = []
        if recorded.get("size") != found["size"]:
            problems.append(
                f"it has {found['size']} tokens where the model's tokenizer had {recorded.get('size')}"
            )
        for name, expected in sorted((recorded.get("special") or {}).items()):
            if found["special"].get(name) != expected:
                problems.append(f"its {name} is {found['special'].get(name)} where the model's is {expected}")
        if not problems and recorded["vocab_sha256"] != found["vocab_sha256"]:
            problems.append(
                "it has the same size but other tokens at some ids (its vocabulary checksum differs)"
            )
        if problems:
            raise ValueError(
                f"this tokenizer is not the one the model was trained with: {'; '.join(problems)}. "
                f"Its ids would feed the model other words than the text's; {fix}"
            )
        return
    if n_tokens < n_rows and not (n_rows % 8 == 0 and n_rows - n_tokens < 128):
        raise ValueError(
            f"the tokenizer knows {n_tokens} tokens but the model has {n_rows} word embeddings, so "
            f"they do not belong together (a tokenizer of another vocabulary): {fix}"
        )
    config_pad = getattr(model.config, "pad_token_id", None)
    if (
        isinstance(config_pad, int)
        and not isinstance(config_pad, bool)
        and config_pad != tokenizer.pad_token_id
    ):
        raise ValueError(
            f"the tokenizer's pad_token_id is {tokenizer.pad_token_id} but the model's config says "
            f"{config_pad}, so they do not belong together: {fix}"
        )


# ------------------------------------------------------------------------------------------- encoding
@dataclass
class EncodedText:
    """One encoded text: token ids, segment ids, tokens, word ids (-1 at specials) and word strings."""

    input_ids: list[int]
    token_type_ids: list[int]
    tokens: list[str]
    word_ids: list[int]
    words: list[str]
    dropped: int = 0
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)


def encode(tokenizer, texts: list[str], max_length: int, stacklevel: int = 3) -> list[EncodedText]:
    """Tokenise ``texts`` (with ``[CLS]``/``[SEP]``), truncating to ``max_length`` tokens with ONE warning.

    Returns:
        one :class:`EncodedText` per text; ``word_ids`` are -1 at special tokens and ``words`` are the word's
        characters in the original text (original case) or the token itself for special tokens.
    """
    enc, lengths = _inference.encode(tokenizer, texts, max_length, stacklevel=stacklevel + 1)
    docs = []
    for i, text in enumerate(texts):
        ids = enc["input_ids"][i]
        word_ids = [-1 if w is None else int(w) for w in enc.word_ids(i)]
        tokens = enc.tokens(i)
        words = [tok if w < 0 else text[slice(*enc.word_to_chars(i, w))] for tok, w in zip(tokens, word_ids)]
        types = enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(ids)
        docs.append(
            EncodedText(
                list(ids),
                list(types),
                list(tokens),
                word_ids,
                words,
                dropped=max(0, int(lengths[i]) - max_length),
            )
        )
    return docs


def padded_batch(docs: list[EncodedText], pad_id: int, device) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask``, ``token_type_ids``, ``word_ids`` ``(b, s)`` on ``device``, right-padded."""
    columns = {
        "input_ids": [d.input_ids for d in docs],
        "token_type_ids": [d.token_type_ids for d in docs],
        "word_ids": [d.word_ids for d in docs],
    }
    return _inference.pad(columns, {"input_ids": pad_id, "word_ids": -1}, device)


def sorted_batches(docs: list[EncodedText], batch_size: int) -> list[list[int]]:
    """EncodedText indices in batches of ``batch_size``, sorted by length (little padding), longest first."""
    return _inference.length_sorted_batches([len(d) for d in docs], batch_size, longest_first=True)


# ------------------------------------------------------------------------------------------ the table
def build_table(
    docs: list[EncodedText],
    doc_ids: np.ndarray,
    scores: list[np.ndarray],
    method: str,
    targets: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray,
    labels: list[str],
) -> pd.DataFrame:
    """One row per token (columns :data:`TABLE_COLUMNS`): int64 ids, str text columns, float64 scores."""
    n_tok = np.array([len(d) for d in docs])
    word_ids = np.concatenate([d.word_ids for d in docs]).astype(np.int64)
    per_doc = lambda values: np.repeat(np.asarray(values), n_tok)  # noqa: E731
    table = pd.DataFrame(
        {
            "doc_id": per_doc(doc_ids).astype(np.int64),
            "position": np.concatenate([np.arange(n) for n in n_tok]).astype(np.int64),
            "token": pd.array([t for d in docs for t in d.tokens], dtype="str"),
            "word_id": word_ids,
            "word": pd.array([w for d in docs for w in d.words], dtype="str"),
            "special": word_ids < 0,
            "score": np.concatenate(scores).astype(np.float64),
            "method": pd.array([method] * int(n_tok.sum()), dtype="str"),
            "target": per_doc(targets).astype(np.int64),
            "target_label": pd.array(per_doc([labels[t] for t in targets]), dtype="str"),
            "prediction": pd.array(per_doc([labels[p] for p in predictions]), dtype="str"),
            "probability": per_doc(probabilities).astype(np.float64),
        }
    )
    return table[list(TABLE_COLUMNS)]


def diagnostics_table(
    doc_ids: np.ndarray,
    docs: list[EncodedText],
    targets,
    predictions,
    probabilities,
    labels: list[str],
    method: str,
    diagnostics: dict[str, list],
) -> pd.DataFrame:
    """One row per document: ``doc_id, n_tokens, n_dropped, method, target, target_label, prediction,
    probability`` and then the method's own diagnostics (for IG: f_input, f_baseline, completeness_error …)."""
    table = pd.DataFrame(
        {
            "doc_id": doc_ids.astype(np.int64),
            "n_tokens": np.array([len(d) for d in docs], dtype=np.int64),
            "n_dropped": np.array([d.dropped for d in docs], dtype=np.int64),
            "method": pd.array([method] * len(docs), dtype="str"),
            "target": np.asarray(targets, dtype=np.int64),
            "target_label": pd.array([labels[t] for t in targets], dtype="str"),
            "prediction": pd.array([labels[p] for p in predictions], dtype="str"),
            "probability": np.asarray(probabilities, dtype=np.float64),
        }
    )
    for name, values in diagnostics.items():
        if name not in table:
            column = np.asarray(values)
            table[name] = column.astype(np.int64) if column.dtype.kind in "iu" else column
    return table
