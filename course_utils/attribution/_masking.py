"""Perturbed copies of a tokenised text: replace positions by [MASK]/[UNK]/[PAD] or delete them.

One shared implementation for every method that removes tokens from the *input*: leave-one-out
(``_loo.py``) and the deletion/insertion curves of notebook 05. AtMan does not use it (it suppresses tokens
inside attention instead), but it uses :func:`groups` and :func:`special_positions` to decide what to suppress.

Taught in notebook 04 (masking attribution).

Conventions: ``input_ids``/``attention_mask`` are LongTensors ``(s,)`` (one document) or ``(b, s)``;
``remove`` is a BoolTensor of the positions to take out, one row per perturbed copy.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable

import torch

from .. import _inference
from .._validation import check_choice, check_scalar

REPLACEMENTS = ("mask", "unk", "pad", "delete")
# Ids of the special tokens in the standard BERT WordPiece vocabularies (bert-base-uncased/-cased, MiniLM, …).
BERT_TOKEN_IDS = {"pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103}


def replacement_token_id(replacement: str, model=None, replacement_id: int | None = None) -> int | None:
    """The token id that stands in for a removed position (None for ``"delete"``).

    Args:
        replacement: ``"mask"`` | ``"unk"`` | ``"pad"`` | ``"delete"``.
        model: optional; ``model.config.pad_token_id`` (else ``<name>_token_id``) is used when it exists.
        replacement_id: an explicit id (e.g. ``tokenizer.mask_token_id``) that overrides the lookup.

    Returns:
        ``replacement_id`` if given, else the model config's id, else the standard BERT vocabulary id
        (``[PAD]`` 0, ``[UNK]`` 100, ``[MASK]`` 103).
    """
    check_choice(replacement, "replacement", REPLACEMENTS)
    if replacement == "delete":
        return None
    if replacement_id is not None:
        return int(replacement_id)
    from_config = getattr(getattr(model, "config", None), f"{replacement}_token_id", None)
    return int(from_config) if from_config is not None else BERT_TOKEN_IDS[replacement]


def _as_batch(t: torch.Tensor) -> torch.Tensor:
    return t.unsqueeze(0) if t.dim() == 1 else t


def perturb(
    input_ids: torch.Tensor,
    remove: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    token_type_ids: torch.Tensor | None = None,
    *,
    replacement_id: int | None = 103,
    pad_id: int = 0,
) -> dict[str, torch.Tensor]:
    """A batch of perturbed copies: the ``remove`` positions replaced by ``replacement_id`` or deleted.

    Args:
        input_ids: ``(s,)`` one document (each row of ``remove`` makes one copy of it) or ``(b, s)``
            (row r of ``remove`` perturbs row r).
        remove: BoolTensor ``(k, s)`` (or ``(s,)`` for one copy) — True = take this position out.
        attention_mask: ``(s,)``/``(b, s)``, 1 = real token, 0 = padding (default: all ones). Padding is
            never replaced and stays padding.
        token_type_ids: optional, same shape as ``input_ids``; carried along (gathered when deleting).
        replacement_id: the id written at removed positions, or None to **delete** them: the kept tokens
            are packed to the left (order kept), the rest padded with ``pad_id``, and the batch trimmed to
            its longest copy. Positions therefore shift after a deletion.
        pad_id: the padding id used after a deletion.

    Returns:
        dict with ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if given), each ``(k, s')``
        with ``s' = s`` for replacement and ``s' ≤ s`` for deletion.
    """
    if remove.dtype != torch.bool:
        raise TypeError(
            f"remove must be a bool tensor (True = remove the position), got dtype {remove.dtype}"
        )
    remove = _as_batch(remove)  # (k, s)
    ids = _as_batch(input_ids)  # (1 or k, s)
    if ids.shape[-1] != remove.shape[-1]:
        raise ValueError(
            f"remove has {remove.shape[-1]} positions but input_ids has {ids.shape[-1]}: give one flag per position"
        )
    if ids.shape[0] not in (1, remove.shape[0]):
        raise ValueError(
            f"input_ids has {ids.shape[0]} rows but remove has {remove.shape[0]}: use one row, or one per copy"
        )
    k = remove.shape[0]
    ids = ids.expand(k, -1)  # (k, s)
    mask = (
        torch.ones_like(ids) if attention_mask is None else _as_batch(attention_mask).expand(k, -1)
    )  # (k, s)
    types = None if token_type_ids is None else _as_batch(token_type_ids).expand(k, -1)  # (k, s)
    remove = remove.to(ids.device) & mask.bool()  # padding is never "removed"
    if replacement_id is not None:
        out = {
            "input_ids": torch.where(remove, torch.full_like(ids, replacement_id), ids),
            "attention_mask": mask.clone(),
        }
        if types is not None:
            out["token_type_ids"] = types.clone()
        return out
    keep = mask.bool() & ~remove  # (k, s)
    order = torch.argsort(
        (~keep).to(torch.int8), dim=1, stable=True
    )  # kept positions first, in order  (k, s)
    lengths = keep.sum(1)  # (k,)
    width = max(int(lengths.max()), 1)
    order = order[:, :width]  # (k, s')
    new_mask = (torch.arange(width, device=ids.device) < lengths[:, None]).to(mask.dtype)  # (k, s')
    new_ids = torch.where(new_mask.bool(), ids.gather(1, order), torch.full_like(order, pad_id))  # (k, s')
    out = {"input_ids": new_ids, "attention_mask": new_mask}
    if types is not None:
        out["token_type_ids"] = torch.where(new_mask.bool(), types.gather(1, order), torch.zeros_like(order))
    return out


def special_positions(attention_mask: torch.Tensor, word_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Positions of special tokens ([CLS], [SEP]) in each row, as a BoolTensor of the same shape.

    With ``word_ids`` (``-1`` for special tokens and padding) the special tokens are the real tokens with
    word id -1; without them, the first and the last real token of each row (``[CLS] … [SEP]``).
    """
    if word_ids is not None:
        return (word_ids.to(attention_mask.device) < 0) & attention_mask.bool()
    mask = _as_batch(attention_mask).bool()  # (b, s)
    special = torch.zeros_like(mask)
    last = mask.sum(1) - 1  # (b,)
    rows = torch.arange(mask.shape[0], device=mask.device)
    special[rows, 0] = True
    special[rows, last.clamp(min=0)] = True
    special = special & mask
    return special if attention_mask.dim() == 2 else special[0]


def groups(
    attention_mask: torch.Tensor, word_ids: torch.Tensor | None = None, level: str = "token"
) -> torch.Tensor:
    """The units to remove one at a time in ONE document, as rows of a BoolTensor ``(n_groups, s)``.

    Args:
        attention_mask: ``(s,)``.
        word_ids: ``(s,)`` word index per token, -1 for special tokens and padding (needed for ``level="word"``).
        level: ``"token"`` — one group per real, non-special token; ``"word"`` — one group per word
            (all its WordPieces together).

    Returns:
        ``(n_groups, s)``; special tokens and padding are in no group. Rows are ordered by position.
    """
    if level not in ("token", "word"):
        raise ValueError(f"level={level!r} is not 'token' or 'word'")
    if attention_mask.dim() != 1:
        raise ValueError(
            f"groups() takes one document: attention_mask must be (s,), got shape {tuple(attention_mask.shape)}"
        )
    content = attention_mask.bool() & ~special_positions(attention_mask, word_ids)  # (s,)
    if level == "token" or word_ids is None:
        where = content.nonzero().flatten()  # (n,)
        rows = torch.zeros(len(where), len(content), dtype=torch.bool, device=content.device)
        rows[torch.arange(len(where)), where] = True
        return rows
    ids = word_ids.to(content.device)
    words = torch.unique(ids[content])  # sorted word ids  (n_words,)
    return (ids[None, :] == words[:, None]) & content[None, :]  # (n_words, s)


# ------------------------------------------------------------------------------------- batched forwards
PAD_VALUES = {"input_ids": 0, "attention_mask": 0, "token_type_ids": 0}


def pad_rows(
    rows: list[dict[str, torch.Tensor]], pad_values: dict[str, float] | None = None
) -> dict[str, torch.Tensor]:
    """Stack 1-D tensors of different lengths into a right-padded batch, key by key.

    ``pad_values`` maps a key to its padding value (default :data:`PAD_VALUES`, 0 for unknown keys).
    Returns a dict of ``(len(rows), longest)`` tensors.
    """
    pad_values = {**PAD_VALUES, **(pad_values or {})}
    return {
        key: torch.nn.utils.rnn.pad_sequence(
            [r[key] for r in rows], batch_first=True, padding_value=pad_values.get(key, 0)
        )
        for key in rows[0]
    }  # each (n, longest)


def target_log_probs(
    model,
    rows: list[dict[str, torch.Tensor]],
    targets: list[int],
    *,
    internal_batch_size: int = 32,
    pad_values: dict[str, float] | None = None,
    call_kwargs: dict | None = None,
) -> torch.Tensor:
    """log p(target) of every row, in forward passes of at most ``internal_batch_size`` rows.

    Args:
        rows: one dict of 1-D tensors per sequence (``input_ids``, ``attention_mask``, optional
            ``token_type_ids``; any other key is passed to the model call as a keyword argument, padded
            with ``pad_values[key]``).
        targets: the class whose log-probability is read, one per row.
        call_kwargs: extra keyword arguments for every model call (e.g. ``atman_shift``).

    Returns:
        FloatTensor ``(len(rows),)`` on the CPU. Runs under ``torch.inference_mode()`` with the model in
        eval mode (its previous mode is restored).
    """
    out = torch.empty(len(rows), dtype=torch.float32)
    with _inference.inference(model):
        for chunk_rows in _inference.in_order_batches(len(rows), internal_batch_size):
            start, stop = chunk_rows[0], chunk_rows[-1] + 1
            chunk = pad_rows(rows[start:stop], pad_values)
            logits = model(**chunk, **(call_kwargs or {})).logits.float()  # (chunk, n_labels)
            idx = torch.as_tensor(targets[start:stop], device=logits.device)
            out[start:stop] = logits.log_softmax(-1).gather(1, idx[:, None])[:, 0].cpu()
            report = _ROW_PROGRESS.get()
            if report is not None:
                report(stop, len(rows))
    return out


#: called after every forward pass of :func:`target_log_probs` with (rows done, rows in this call)
_ROW_PROGRESS: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "row_progress", default=None
)


@contextlib.contextmanager
def reporting_rows(callback: Callable[[int, int], None]):
    """Within the block, :func:`target_log_probs` reports ``callback(rows_done, rows_total)`` after each pass
    (how :func:`course_utils.attribution.explain` shows LOO and AtMan moving inside one long batch)."""
    token = _ROW_PROGRESS.set(callback)
    try:
        yield
    finally:
        _ROW_PROGRESS.reset(token)


# ------------------------------------------------------------------------------- shared for the methods
def batch_documents(batch: dict[str, torch.Tensor]):
    """Each document of a padded batch without its padding.

    Yields ``(positions, row, word_ids)``: the LongTensor of its real positions in the padded batch,
    a dict of 1-D tensors (``input_ids``, ``attention_mask``, ``token_type_ids`` if present) over those
    positions only, and its ``word_ids`` (or None when the batch carries none).
    """
    mask = batch["attention_mask"].bool()  # (b, s)
    word_ids = batch.get("word_ids")
    for d in range(mask.shape[0]):
        positions = mask[d].nonzero().flatten()  # (n_d,)
        row = {
            k: batch[k][d, positions] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch
        }
        yield positions, row, None if word_ids is None else word_ids[d, positions]


def check_level(level: str, internal_batch_size: int) -> None:
    """Raise a clear error for a ``level`` other than "token"/"word" or an ``internal_batch_size`` below 1."""
    check_choice(
        level,
        "level",
        ("token", "word"),
        hint="use 'token' (one pass per WordPiece) or 'word' (one pass per word)",
    )
    check_scalar(
        internal_batch_size, "internal_batch_size", int, min_val=1, hint="(sequences per forward pass)"
    )


def check_common(
    level: str, internal_batch_size: int, batch: dict[str, torch.Tensor], stacklevel: int = 3
) -> str:
    """Validate the options every masking method shares; return the level actually used.

    ``level="word"`` without ``batch["word_ids"]`` falls back to ``"token"`` with a UserWarning.
    """
    import warnings

    check_level(level, internal_batch_size)
    if level == "word" and batch.get("word_ids") is None:
        warnings.warn(
            "level='word' needs batch['word_ids']; none given, so scoring every token separately (level='token')",
            UserWarning,
            stacklevel=stacklevel,
        )
        return "token"
    return level


def spread(
    group_rows: torch.Tensor, values: torch.Tensor, positions: torch.Tensor, width: int
) -> torch.Tensor:
    """Scores of groups written back to padded positions, shared equally by the positions of a group.

    A word's score is split evenly over its WordPieces, so summing the pieces of a word (as
    ``word_scores`` does) gives back the word's score; at token level every group is one position.

    Args:
        group_rows: ``(n_groups, n_d)`` bool, over the document's real positions.
        values: ``(n_groups,)``.
        positions: ``(n_d,)`` the document's positions in the padded batch; ``width`` its length ``s``.

    Returns:
        ``(s,)`` float; 0 outside every group (special tokens, padding).
    """
    rows = group_rows.float().cpu()  # (n_groups, n_d)
    share = values / rows.sum(1).clamp(min=1)  # (n_groups,)
    per_token = (rows * share[:, None]).sum(0)  # (n_d,) — groups do not overlap
    out = torch.zeros(width)
    out[positions.cpu()] = per_token
    return out
