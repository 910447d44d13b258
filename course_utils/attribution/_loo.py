"""Leave-one-out occlusion: take one token (or word) out of the input and measure how the prediction moves.

score_i = p(target | text) − p(target | text without i)      (``measure="probability"``, the default)
score_i = CE(target | text without i) − CE(target | text)    (``measure="loss"``, same units as AtMan)

Positive = the token supports the target class (removing it lowers the target's probability), the same
sign convention as AtMan and integrated gradients. "Without i" means i replaced by ``[MASK]``, ``[UNK]`` or
``[PAD]``, or deleted (the sequence re-packed). Every perturbed copy of a document runs in batched forward
passes under ``torch.inference_mode()``: n + 1 passes for n scored units, no backward pass.

Taught in notebook 04 (masking attribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_choice
from ._masking import (
    REPLACEMENTS,
    batch_documents,
    check_common,
    check_level,
    groups,
    perturb,
    replacement_token_id,
    spread,
    target_log_probs,
)
from ._method import Diagnostics, Method, as_kwargs

MEASURES = ("probability", "loss")


def check_options(replacement: str, measure: str) -> None:
    """Raise a clear error for an unknown ``replacement`` or ``measure``."""
    check_choice(replacement, "replacement", REPLACEMENTS)
    check_choice(measure, "measure", MEASURES)


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    replacement: str = "mask",
    level: str = "token",
    measure: str = "probability",
    replacement_id: int | None = None,
    internal_batch_size: int = 32,
    tokenizer=None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Leave-one-out scores for a padded batch of documents.

    Args:
        model: a ``…ForSequenceClassification`` model.
        batch: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) ``(b, s)`` on the model's device,
            each document ``[CLS] … [SEP]`` then padding; optionally ``word_ids`` ``(b, s)`` (word index
            per token, -1 for special tokens and padding) — required for ``level="word"`` (without it the
            level falls back to "token" with a warning) and used to find the special tokens.
        targets: LongTensor ``(b,)`` the class to explain per document.
        replacement: ``"mask"`` (default) | ``"unk"`` | ``"pad"`` put that token in place of the removed one;
            ``"delete"`` removes it and closes the gap.
        level: ``"token"`` one pass per WordPiece; ``"word"`` one pass per word (all its pieces together).
        measure: ``"probability"`` (difference of p(target)) or ``"loss"`` (difference of cross-entropy).
        replacement_id: explicit token id for the replacement; default the ``tokenizer``'s id of that
            token, else the standard BERT vocabulary's (``[MASK]`` 103, ``[UNK]`` 100, ``[PAD]`` 0).
        internal_batch_size: perturbed sequences per forward pass (memory grows with it).
        tokenizer: optional, the model's tokenizer (``explain()`` passes it): source of the replacement ids.

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU — 0 at padding and at the special
        tokens ([CLS]/[SEP] are never removed); at ``level="word"`` the word's score is split evenly over its
        WordPieces (they sum to it). diagnostics: ``forward_passes`` (n units + 1), ``n_units`` and
        ``target_probability`` (p(target | unperturbed text)), each a 1-D tensor of length b.
    """
    check_options(replacement, measure)
    level = check_common(level, internal_batch_size, batch)
    if replacement_id is None and tokenizer is not None and replacement != "delete":
        replacement_id = getattr(tokenizer, f"{replacement}_token_id", None)
    token_id = replacement_token_id(replacement, model, replacement_id)
    pad_id = getattr(tokenizer, "pad_token_id", None) or getattr(model.config, "pad_token_id", None) or 0
    rows, row_targets, docs = [], [], []
    for (positions, row, word_ids), target in zip(batch_documents(batch), targets.tolist()):
        units = groups(row["attention_mask"], word_ids, level)  # (n_units, n_d)
        copies = perturb(
            row["input_ids"],
            units,
            row["attention_mask"],
            row.get("token_type_ids"),
            replacement_id=token_id,
            pad_id=pad_id,
        )  # each (n_units, n_d or less)
        rows.append(row)
        rows.extend(
            {k: copies[k][u, : int(copies["attention_mask"][u].sum())] for k in copies}
            for u in range(len(units))
        )
        row_targets += [target] * (len(units) + 1)
        docs.append((positions, units))
    log_p = target_log_probs(model, rows, row_targets, internal_batch_size=internal_batch_size)  # (n_rows,)
    scores = torch.zeros(batch["input_ids"].shape)  # (b, s)
    diagnostics = {"forward_passes": [], "n_units": [], "target_probability": []}
    start = 0
    for d, (positions, units) in enumerate(docs):
        original, perturbed = log_p[start], log_p[start + 1 : start + 1 + len(units)]  # (), (n_units,)
        start += len(units) + 1
        values = original.exp() - perturbed.exp() if measure == "probability" else original - perturbed
        scores[d] = spread(units, values, positions, scores.shape[1])
        diagnostics["forward_passes"].append(len(units) + 1)
        diagnostics["n_units"].append(len(units))
        diagnostics["target_probability"].append(float(original.exp()))
    return scores, {k: torch.tensor(v) for k, v in diagnostics.items()}


class LeaveOneOut(Method):
    """``explain(..., method="loo")``: :func:`attribute` behind the :class:`~._method.Method` contract."""

    name = "loo"
    needs_tokenizer = True  # the replacement token's id

    @dataclass(frozen=True)
    class Options:
        replacement: str = "mask"
        level: str = "token"
        measure: str = "probability"
        replacement_id: int | None = None
        internal_batch_size: int = 32

        def __post_init__(self):
            check_options(self.replacement, self.measure)
            check_level(self.level, self.internal_batch_size)

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        scores, diagnostics = attribute(model, batch, targets, **as_kwargs(options), tokenizer=tokenizer)
        return scores, Diagnostics.of(diagnostics)
