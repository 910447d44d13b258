"""Running a classifier on texts, in one place: lengths, truncation, batches, padding, device, eval mode.

Every part of the library that feeds texts to a model (``models.predict_proba``, ``attribution.explain`` and
its methods, ``influence.training_features``, ``audit.attention_explanation``, ``windows``) goes through these
helpers, so they all agree on

- the longest input: :func:`model_max_length` (``config.max_position_embeddings``, 512 — BERT's — when the
  config has none) and :func:`max_length_of` (a requested length, checked against it);
- truncation: :func:`encode` cuts texts at ``max_length`` tokens and, where asked, says so in ONE warning
  for the whole call (how many texts, how many tokens, which ones);
- batches: :func:`length_sorted_batches` groups texts of similar length (little padding) and every result is
  written back to its text's row, so outputs come in input order;
- padding: :func:`pad` right-pads id lists into ``(batch, seq)`` LongTensors with an ``attention_mask``;
- the device: :func:`device_of` and :func:`to_device`: inputs go where the model's parameters are;
- the model's mode: :func:`eval_mode` (no dropout inside, the previous mode restored afterwards, even after an
  error) and :func:`inference` (eval mode + ``torch.inference_mode()`` for passes that need no gradient).

:func:`batches` and :func:`forward_rows` put these together for the usual loop "texts → length-sorted padded
batches on the device → one forward pass each → rows in input order".

A library module: it imports nothing of the course's scaffolding (and nothing else of ``course_utils``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import numpy as np
import torch

from ._validation import check_scalar

#: the longest input of a model whose config names none (BERT's 512 positions)
DEFAULT_MAX_LENGTH = 512
#: the inputs a BERT ``forward`` takes from a padded batch
FORWARD_KEYS = ("input_ids", "attention_mask", "token_type_ids")

Model = TypeVar("Model", bound=torch.nn.Module)


# ------------------------------------------------------------------------------------------- lengths
def model_max_length(model, tokenizer=None) -> int:
    """The most tokens ``model`` reads: ``config.max_position_embeddings`` (512 when the config has none).

    With ``tokenizer``, its ``model_max_length`` caps the result when it is a real limit (tokenizers without
    one report a huge sentinel, which is ignored).
    """
    limit = int(getattr(model.config, "max_position_embeddings", DEFAULT_MAX_LENGTH))
    tok_limit = getattr(tokenizer, "model_max_length", None) if tokenizer is not None else None
    if isinstance(tok_limit, int) and 0 < tok_limit < 100_000:
        limit = min(limit, tok_limit)
    return limit


def max_length_of(model, tokenizer, max_length: int | None) -> int:
    """Tokens per text the model accepts: ``max_length`` if given (checked), else the model's and tokenizer's limit.

    Raises:
        TypeError: ``max_length`` is not an integer (or None).
        ValueError: ``max_length`` is below 3 (``[CLS]``, one token, ``[SEP]``) or above the model's limit.
    """
    limit = model_max_length(model, tokenizer)
    if max_length is None:
        return limit
    check_scalar(max_length, "max_length", int, allow_none=True)
    if not 3 <= max_length <= limit:
        raise ValueError(
            f"max_length={max_length} must be between 3 and the model's maximum of {limit} tokens"
        )
    return int(max_length)


# ---------------------------------------------------------------------------------------- truncation
def encode(tokenizer, texts: Sequence[str], max_length: int, *, warn: bool = True, stacklevel: int = 2):
    """Tokenise ``texts`` with ``[CLS]``/``[SEP]``, truncated to ``max_length`` tokens, with ONE warning.

    Args:
        texts: the strings (a list).
        max_length: tokens per text, special tokens included.
        warn: say in one UserWarning which texts were truncated and how many tokens they lost (False: truncate
            silently, for callers that cut texts to their training length on purpose).
        stacklevel: of that warning, counted from this function (2: its caller's line).

    Returns:
        ``(encoding, lengths)``: the tokenizer's ``BatchEncoding`` (Python lists: ``input_ids[i]`` has at most
        ``max_length`` ids; ``word_ids(i)``/``tokens(i)`` work on it) and an int64 array ``(n_texts,)`` of each
        text's untruncated length, so ``np.maximum(lengths - max_length, 0)`` is what each text lost.
    """
    texts = list(texts)
    full = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
    lengths = np.array([len(ids) for ids in full["input_ids"]], dtype=np.int64)
    too_long = np.flatnonzero(lengths > max_length).tolist()
    if not too_long:
        return full, lengths
    enc = tokenizer(texts, add_special_tokens=True, truncation=True, max_length=max_length)
    if warn:
        shown = ", ".join(f"texts[{i}] lost {lengths[i] - max_length}" for i in too_long[:5])
        more = f" and {len(too_long) - 5} more" if len(too_long) > 5 else ""
        total = int(sum(lengths[i] - max_length for i in too_long))
        warnings.warn(
            f"{len(too_long)} text(s) longer than the model's maximum of {max_length} tokens were truncated, "
            f"dropping {total} token(s) in all ({shown}{more}); their ends get no scores. Split long "
            "texts into paragraphs to keep every token.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return enc, lengths


# ------------------------------------------------------------------------------------------- batches
def check_batch_size(batch_size, name: str = "batch_size") -> int:
    """``batch_size`` as a positive int; TypeError for other types, ValueError below 1."""
    return check_scalar(batch_size, name, int, min_val=1, hint="(documents per batch)")


def length_sorted_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: np.random.Generator | None = None,
    *,
    longest_first: bool = False,
) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding); batch order shuffled by ``rng``.

    Args:
        lengths: one length per item, ``(n,)``.
        batch_size: the most indices per batch.
        rng: shuffles the order of the batches (not their contents), e.g. for training; None keeps it sorted.
        longest_first: sort by decreasing length (the longest batch first: an out-of-memory error comes at
            once); default increasing. Equal lengths keep their input order either way.

    Returns:
        list of index lists, each at most ``batch_size`` long, covering every index once.
    """
    batch_size = check_batch_size(batch_size)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths if longest_first else lengths, kind="stable")
    out = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(out)
    return out


def in_order_batches(n: int, batch_size: int) -> list[list[int]]:
    """``0 … n−1`` in consecutive batches of at most ``batch_size`` (no sorting: for inputs whose order matters)."""
    batch_size = check_batch_size(batch_size)
    return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


# ------------------------------------------------------------------------------------------- padding
def pad(
    columns: Mapping[str, Sequence[Sequence[int]]],
    pad_values: Mapping[str, int],
    device=None,
    *,
    side: str = "right",
) -> dict[str, torch.Tensor]:
    """Id lists of different lengths as padded ``(batch, seq)`` LongTensors, plus their ``attention_mask``.

    Args:
        columns: key → one id list per row; every key has the same row lengths (e.g. ``input_ids``,
            ``token_type_ids``, ``word_ids``).
        pad_values: key → the value padding takes (``input_ids``: the tokenizer's ``pad_token_id``; a key
            missing here pads with 0).
        device: where the tensors go (None: stay on the host).
        side: ``"right"`` (BERT's) or ``"left"`` — where the padding goes.

    Returns:
        each key of ``columns`` and ``attention_mask`` (1 on real tokens, 0 on padding), all ``(batch, seq)``
        int64 with ``seq`` the longest row.
    """
    if side not in ("right", "left"):
        raise ValueError(f"side={side!r}: padding goes 'right' or 'left'")
    first = next(iter(columns.values()))
    lengths = [len(row) for row in first]
    s = max(lengths, default=0)
    keys = list(columns)
    out = {
        key: torch.full((len(lengths), s), int(pad_values.get(key, 0)), dtype=torch.long) for key in keys[:1]
    }
    out["attention_mask"] = torch.zeros(
        (len(lengths), s), dtype=torch.long
    )  # second, as tokenizers order them
    out.update(
        {
            key: torch.full((len(lengths), s), int(pad_values.get(key, 0)), dtype=torch.long)
            for key in keys[1:]
        }
    )
    for row, n in enumerate(lengths):
        where = slice(0, n) if side == "right" else slice(s - n, s)
        for key, values in columns.items():
            out[key][row, where] = torch.tensor(values[row], dtype=torch.long)
        out["attention_mask"][row, where] = 1
    return to_device(out, device)


# -------------------------------------------------------------------------------------------- device
def device_of(model) -> torch.device:
    """The device of ``model``'s parameters: where its inputs must go."""
    return next(model.parameters()).device


def to_device(batch: Mapping[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    """Every tensor of ``batch`` on ``device`` (None: unchanged), in a new dict."""
    return dict(batch) if device is None else {k: v.to(device) for k, v in batch.items()}


# ---------------------------------------------------------------------------------------------- mode
@contextlib.contextmanager
def eval_mode(model: Model) -> Iterator[Model]:
    """``model`` in eval mode (no dropout) inside the block; its previous mode afterwards, even after an error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def inference(model: Model) -> Iterator[Model]:
    """:func:`eval_mode` and ``torch.inference_mode()``: for forward passes that need no gradient."""
    with eval_mode(model), torch.inference_mode():
        yield model


# ------------------------------------------------------------------------------------------ the loop
def batches(
    input_ids: Sequence[Sequence[int]],
    batch_size: int,
    pad_id: int,
    device=None,
    *,
    order: str = "shortest_first",
    side: str = "right",
    progress: bool = False,
    desc: str | None = None,
    token_type_ids: Sequence[Sequence[int]] | None = None,
) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """Padded batches of ``input_ids`` on ``device``, with the rows of the texts each one holds.

    Args:
        input_ids: one id list per text (e.g. ``encode(...)[0]["input_ids"]``).
        batch_size: texts per batch.
        pad_id: the tokenizer's ``pad_token_id``.
        order: ``"shortest_first"`` or ``"longest_first"`` (:func:`length_sorted_batches`), or ``"input"``
            (consecutive texts, no sorting).
        side: where the padding goes (:func:`pad`).
        progress, desc: a tqdm bar over the batches.
        token_type_ids: one list per text, padded with 0 into ``batch["token_type_ids"]``; None leaves the key out.

    Yields:
        ``(rows, batch)``: the indices into ``input_ids`` of this batch's texts and a dict of ``(b, s)``
        LongTensors ``input_ids``, ``attention_mask`` (and ``token_type_ids``) on ``device``.
    """
    from tqdm.auto import tqdm

    if order == "input":
        groups = in_order_batches(len(input_ids), batch_size)
    elif order in ("shortest_first", "longest_first"):
        groups = length_sorted_batches(
            [len(x) for x in input_ids], batch_size, longest_first=order == "longest_first"
        )
    else:
        raise ValueError(f"order={order!r}: use 'shortest_first', 'longest_first' or 'input'")
    for rows in tqdm(groups, disable=not progress, desc=desc):
        columns = {"input_ids": [input_ids[i] for i in rows]}
        if token_type_ids is not None:
            columns["token_type_ids"] = [token_type_ids[i] for i in rows]
        yield rows, pad(columns, {"input_ids": pad_id}, device, side=side)


def forward_rows(
    model,
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    input_ids: Sequence[Sequence[int]],
    batch_size: int,
    pad_id: int,
    *,
    width: int,
    order: str = "shortest_first",
    side: str = "right",
    progress: bool = False,
    desc: str | None = None,
    token_type_ids: Sequence[Sequence[int]] | None = None,
) -> torch.Tensor:
    """One row per text from ``forward(batch)``, in (length-sorted) batches, without gradients, in input order.

    Runs under :func:`inference` (eval mode restored afterwards) with every batch on the model's device.

    Args:
        forward: padded batch (``(b, s)`` tensors on the device) → ``(b, width)`` tensor, e.g.
            ``lambda batch: model(**batch).logits``.
        input_ids, batch_size, pad_id, order, side, progress, desc, token_type_ids: as in :func:`batches`.
        width: the columns ``forward`` returns.

    Returns:
        float32 tensor ``(len(input_ids), width)`` on the CPU; row ``i`` belongs to ``input_ids[i]``.
    """
    with inference(model):
        out = torch.zeros(len(input_ids), width)  # (n, width), an inference tensor like ``forward``'s outputs
        for rows, batch in batches(
            input_ids,
            batch_size,
            pad_id,
            device_of(model),
            order=order,
            side=side,
            progress=progress,
            desc=desc,
            token_type_ids=token_type_ids,
        ):
            out[rows] = forward(batch).float().cpu()
    return out
