"""AtMan: explain a prediction by suppressing one token *inside attention* (Deiseroth et al., arXiv 2301.08110).

Written from the paper's description. To explain token i, every layer and head multiplies the
pre-softmax attention scores of key column i by a factor (the paper's suppression f = 0.9, i.e. a
``multiplier`` of 0.1), and the method reads how the target's cross-entropy changes:

    score_i = CE(target | i suppressed) − CE(target | original)        positive = i supports the target

How it plugs into transformers: :func:`atman_attention_forward` is registered under the name ``"atman"`` in
transformers' ``AttentionInterface`` (and BERT's eager padding mask under the same name in
``AttentionMaskInterface``). :func:`atman_attention` switches a model to it for the duration of a ``with``
block and always switches back, even after an error. The suppression pattern travels with each model call
as the keyword argument ``atman_factors`` ``(b, s)``, which BERT forwards untouched to the attention function
(``BertForSequenceClassification → BertModel → BertEncoder → BertLayer → BertSelfAttention``): nothing is
stored between calls. Without ``atman_factors`` the function computes exactly BERT's eager attention.

Taught in notebook 04 (masking attribution).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from .._validation import check_scalar
from ._masking import batch_documents, check_common, check_level, groups, spread, target_log_probs
from ._method import Diagnostics, Method, as_kwargs

ATTENTION_NAME = "atman"


def atman_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    atman_factors: torch.Tensor | None = None,
    atman_shift: bool = True,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's eager attention with AtMan's suppression of key columns (an ``AttentionInterface`` function).

    Args:
        query, key, value: ``(b, heads, s, head_dim)``.
        attention_mask: additive float mask ``(b, 1, s, s)`` (0 = attend, dtype minimum = padding) or None.
        scaling: multiplies QKᵀ (BERT: head_dim ** -0.5).
        atman_factors: ``(b, s)`` multiplier per key position (1 = untouched, 0.1 = suppressed); None = plain
            eager attention.
        atman_shift: shift each query row so its minimum over the real keys is 0 before multiplying (the
            paper's remedy for the sign trap); False multiplies the raw scores (negative scores then *rise*).

    Steps: scores = QKᵀ·scaling → [shift rows to min 0] → × factors of the key columns → + padding mask →
    softmax → dropout → @ V. The shifted product is written as ``scores − (1 − f)(scores − row_min)``, which
    differs from ``(scores − row_min)·f`` by a per-row constant (softmax ignores it) and leaves the scores
    bit-for-bit unchanged where f = 1, so a multiplier of 1.0 reproduces the model exactly.

    Returns:
        ``(output (b, s, heads, head_dim), weights (b, heads, s, s))`` like ``eager_attention_forward``.
    """
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (b, heads, q, k)
    if atman_factors is not None:
        factors = atman_factors.to(scores.dtype)[:, None, None, :]  # (b, 1, 1, k)
        if atman_shift:
            # row minimum over real keys only: padded keys get +huge (the mask is 0 or the dtype minimum)
            real = scores if attention_mask is None else scores - attention_mask  # (b, heads, q, k)
            row_min = real.amin(dim=-1, keepdim=True)  # (b, heads, q, 1)
            del real  # one (b, heads, q, k) temporary at a time: memory stays near eager attention's
            scores = torch.addcmul(
                scores, scores - row_min, factors - 1
            )  # S − (1 − f)(S − min)  (b, heads, q, k)
        else:
            scores = scores * factors  # (b, heads, q, k) — the sign trap: negative scores move up
    if attention_mask is not None:
        scores = scores + attention_mask  # padding AFTER the manipulation
    weights = torch.nn.functional.softmax(scores, dim=-1)  # (b, heads, q, k)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (b, q, heads, head_dim)
    return output, weights


AttentionInterface.register(ATTENTION_NAME, atman_attention_forward)
AttentionMaskInterface.register(ATTENTION_NAME, eager_mask)  # same additive padding mask as eager


@contextmanager
def atman_attention(model):
    """``with atman_attention(model):`` — the model uses :func:`atman_attention_forward`, then its own again.

    Inside the block, pass ``atman_factors=`` (and ``atman_shift=``) to the model call. The previous
    attention implementation (eager, sdpa, …) is restored on exit, also when the block raises.
    """
    if not hasattr(model, "set_attn_implementation") or not model._can_set_attn_implementation():
        raise TypeError(
            f"AtMan needs a transformers model built on AttentionInterface (e.g. BERT); got {type(model).__name__}"
        )
    previous = model.config._attn_implementation
    model.set_attn_implementation(ATTENTION_NAME)
    try:
        yield model
    finally:
        model.set_attn_implementation(previous)


def concept_similarity(model, input_ids: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the tokens' input word embeddings (before positions are added): ``(n, n)``."""
    table = model.get_input_embeddings().weight  # (vocab, hidden)
    with torch.inference_mode():
        e = torch.nn.functional.normalize(table[input_ids].float(), dim=-1)  # (n, hidden)
        return (e @ e.T).clamp(-1.0, 1.0)  # (n, n)


def suppression_factors(
    units: torch.Tensor,
    *,
    multiplier: float = 0.1,
    similarity: torch.Tensor | None = None,
    kappa: float = 0.7,
    suppressible: torch.Tensor | None = None,
) -> torch.Tensor:
    """One row of key-column multipliers per unit to explain.

    Args:
        units: ``(n_units, n)`` bool, the positions suppressed together (one token, or a word's pieces).
        multiplier: factor for the suppressed positions (paper 0.1 = suppression f of 0.9).
        similarity: ``(n, n)`` cosine similarities for conceptual suppression (paper eq. 6): a position j
            with cos(i, j) ≥ ``kappa`` to a suppressed i gets ``1 − f·cos(i, j)`` (f = 1 − multiplier);
            the smallest factor wins. None = plain suppression of the unit only.
        suppressible: ``(n,)`` bool, positions that may be co-suppressed (default all; pass ~special).

    Returns:
        ``(n_units, n)`` float factors, 1 where nothing is suppressed.
    """
    factors = torch.where(units, multiplier, 1.0)  # (n_units, n)
    if similarity is not None:
        f = 1.0 - multiplier
        sim = similarity.to(factors.device)
        concept = torch.where(sim >= kappa, 1.0 - f * sim, torch.ones_like(sim))  # (n, n)
        if suppressible is not None:
            concept = torch.where(suppressible[None, :].to(factors.device), concept, torch.ones_like(concept))
        # a unit's factor for column j: the strongest suppression from any of its positions i
        per_unit = torch.where(units[:, :, None], concept[None], torch.ones_like(concept)[None]).amin(
            1
        )  # (n_units, n)
        factors = torch.minimum(factors, per_unit)
    return factors


def check_options(multiplier: float, kappa: float) -> None:
    """Raise a clear error for a multiplier outside [0, 1] or a kappa outside (0, 1]."""
    check_scalar(
        multiplier, "multiplier", float, min_val=0, max_val=1, hint="(paper: 0.1; 1.0 = no suppression)"
    )
    check_scalar(
        kappa,
        "kappa",
        float,
        min_val=0,
        max_val=1,
        include_boundaries="right",
        hint="(paper: 0.7); it is a cosine-similarity threshold",
    )


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    multiplier: float = 0.1,
    shift: bool = True,
    conceptual: bool = False,
    kappa: float = 0.7,
    level: str = "token",
    internal_batch_size: int = 32,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """AtMan scores for a padded batch of documents.

    Args:
        model: a BERT ``…ForSequenceClassification`` (any model on transformers' AttentionInterface).
        batch: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) ``(b, s)`` on the model's device,
            each document ``[CLS] … [SEP]`` then padding; optionally ``word_ids`` ``(b, s)`` (word index
            per token, -1 for special tokens and padding) — required for ``level="word"`` (without it the
            level falls back to "token" with a warning) and used to find the special tokens.
        targets: LongTensor ``(b,)`` the class to explain per document.
        multiplier: factor on the suppressed key columns' pre-softmax scores (paper 0.1; 1.0 = no-op).
        shift: shift each query row to minimum 0 before multiplying (paper's remedy; False shows the sign trap).
        conceptual: also suppress tokens whose word embeddings have cosine ≥ ``kappa`` with the explained one.
        kappa: the cosine threshold of conceptual suppression (paper 0.7).
        level: ``"token"`` one pass per WordPiece; ``"word"`` one pass per word (its pieces suppressed together).
        internal_batch_size: sequences per forward pass.

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU, CE(suppressed) − CE(original)
        (positive = supports the target) — 0 at padding and at the special tokens ([CLS]/[SEP] are not
        suppressed); at ``level="word"`` the word's score is split evenly over its WordPieces
        (they sum to it). diagnostics:
        ``forward_passes`` (n units + 1), ``n_units``, ``target_probability`` (p(target | original)),
        ``co_suppressed`` (mean number of extra positions suppressed per unit by conceptual suppression),
        each a 1-D tensor of length b.
    """
    check_options(multiplier, kappa)
    level = check_common(level, internal_batch_size, batch)
    rows, row_targets, docs = [], [], []
    for (positions, row, word_ids), target in zip(batch_documents(batch), targets.tolist()):
        units = groups(row["attention_mask"], word_ids, level)  # (n_units, n_d)
        content = units.any(0)  # (n_d,) suppressible positions: real, non-special
        similarity = concept_similarity(model, row["input_ids"]) if conceptual else None
        factors = suppression_factors(
            units, multiplier=multiplier, similarity=similarity, kappa=kappa, suppressible=content
        )  # (n_units, n_d)
        ones = torch.ones(len(row["input_ids"]), device=row["input_ids"].device)  # (n_d,)
        rows.append({**row, "atman_factors": ones})
        rows.extend({**row, "atman_factors": f} for f in factors.to(ones.device))
        row_targets += [target] * (len(units) + 1)
        extra = ((factors < 1) & ~units).sum(1).float().mean() if len(units) else torch.tensor(0.0)
        docs.append((positions, units, float(extra)))
    with atman_attention(model):
        log_p = target_log_probs(
            model,
            rows,
            row_targets,
            internal_batch_size=internal_batch_size,
            pad_values={"atman_factors": 1.0},
            call_kwargs={"atman_shift": shift},
        )  # (n_rows,)
    scores = torch.zeros(batch["input_ids"].shape)  # (b, s)
    diagnostics = {"forward_passes": [], "n_units": [], "target_probability": [], "co_suppressed": []}
    start = 0
    for d, (positions, units, extra) in enumerate(docs):
        original, suppressed = log_p[start], log_p[start + 1 : start + 1 + len(units)]  # (), (n_units,)
        start += len(units) + 1
        scores[d] = spread(units, original - suppressed, positions, scores.shape[1])  # CE(sup) − CE(orig)
        diagnostics["forward_passes"].append(len(units) + 1)
        diagnostics["n_units"].append(len(units))
        diagnostics["target_probability"].append(float(original.exp()))
        diagnostics["co_suppressed"].append(extra)
    return scores, {k: torch.tensor(v) for k, v in diagnostics.items()}


class AtMan(Method):
    """``explain(..., method="atman")``: :func:`attribute` behind the :class:`~._method.Method` contract."""

    name = "atman"

    @dataclass(frozen=True)
    class Options:
        multiplier: float = 0.1
        shift: bool = True
        conceptual: bool = False
        kappa: float = 0.7
        level: str = "token"
        internal_batch_size: int = 32

        def __post_init__(self):
            check_options(self.multiplier, self.kappa)
            check_level(self.level, self.internal_batch_size)

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        scores, diagnostics = attribute(model, batch, targets, **as_kwargs(options))
        return scores, Diagnostics.of(diagnostics)


@torch.inference_mode()
def attention_weights(
    model, batch: dict[str, torch.Tensor], factors: torch.Tensor | None = None, *, shift: bool = True
):
    """The attention weights of every layer under a suppression pattern (for figures).

    Args:
        batch: ``input_ids``, ``attention_mask`` (, ``token_type_ids``) ``(b, s)``.
        factors: ``(b, s)`` key-column multipliers, or None for the unmodified model.

    Returns:
        ``(logits (b, n_labels), attentions)``: ``attentions`` a tuple with one ``(b, heads, s, s)`` tensor per layer.
    """
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
    with atman_attention(model):
        out = model(**inputs, atman_factors=factors, atman_shift=shift, output_attentions=True)
    return out.logits, out.attentions
