"""A BERT classifier's forward pass that computes only what the classifier reads: ``[CLS]`` in the last layer.

``BertForSequenceClassification`` classifies from the last layer's ``[CLS]`` vector (through the pooler). The
last layer still needs keys and values at every position, but its queries, attention output, feed-forward
block and layer norms matter only at ``[CLS]``; computing them for one position instead of all of them
saves about a sixth of a 6-layer model's work, in the forward pass and in the backward pass that
integrated gradients adds. The layers are run from the model's own modules (projections, layer norms,
feed-forward blocks), with PyTorch's fused attention; every per-token step skips the padding.

:func:`logits_function` gives that shortcut for models built like BERT (checked once per model against the
model's own forward pass, to 1e-4) and the model's ordinary forward pass for every other model, so callers
never need to know which one they got. A model built like BERT on which that check fails (or raises) gets the
full forward pass with one RuntimeWarning saying why and what it costs.

Used by integrated gradients (:mod:`._ig`), whose cost is almost entirely such forward and backward passes.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import _inference

Logits = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
CHECK_ATOL = 1e-4  # largest logit difference from the model's own forward pass accepted for the shortcut
_checked: weakref.WeakKeyDictionary[torch.nn.Module, bool] = weakref.WeakKeyDictionary()


def logits_function(model) -> Logits:
    """``fn(inputs_embeds (r, s, h), attention_mask (r, s), token_type_ids (r, s) or None) -> logits (r, n_labels)``.

    The ``[CLS]``-only shortcut when ``model`` is built like ``BertForSequenceClassification`` and agrees with
    its own forward pass on a small check input (done once per model object, in eval mode); otherwise the
    model's full forward pass. Both give the same logits and gradients up to float rounding.
    """
    if _checked.get(model) is None:
        _checked[model] = _shortcut_applies(model)
    if _checked[model]:
        return lambda emb, mask, token_type_ids: _cls_logits(model, emb, mask, token_type_ids)
    return lambda emb, mask, token_type_ids: _full_logits(model, emb, mask, token_type_ids)


def _full_logits(model, emb, mask, token_type_ids):
    kwargs = {"inputs_embeds": emb, "attention_mask": mask}
    if token_type_ids is not None:
        kwargs["token_type_ids"] = token_type_ids
    return model(**kwargs).logits  # (r, n_labels)


def _cls_logits(model, emb, mask, token_type_ids):
    """Logits ``(r, n_labels)`` from word embeddings ``emb`` ``(r, s, h)``, the last layer at ``[CLS]`` only.

    Each layer is BERT's: self-attention (the model's query/key/value projections, PyTorch's fused
    ``scaled_dot_product_attention``), then the model's own output projection + residual + layer norm and
    feed-forward block. In the last layer only ``[CLS]`` asks a query, so everything after the keys and
    values runs for one position. Rows that end in padding (``[CLS]`` first) are packed: every per-token
    step (projections, layer norms, feed-forward blocks) runs on the real tokens only, and just the attention
    itself sees the padded ``(r, s)`` layout."""
    if not bool(mask[:, 0].all()):  # [CLS] must come first in every row (padding on the right)
        return _full_logits(model, emb, mask, token_type_ids)
    bert = model.bert
    r, s, h = emb.shape
    flat = mask.reshape(-1)  # (r * s,)
    real = flat.nonzero().squeeze(1)  # (n,) positions of the real tokens in the flattened rows
    cls = (torch.cumsum(flat, 0) - 1)[torch.arange(r, device=emb.device) * s]  # (r,) each [CLS] among them
    hidden = bert.embeddings(inputs_embeds=emb, token_type_ids=token_type_ids).reshape(r * s, h)
    hidden = hidden.index_select(0, real)  # (n, h)
    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min  # (r, 1, 1, s)
    layers = bert.encoder.layer
    for i, layer in enumerate(layers):
        attn = layer.attention.self
        heads, size = attn.num_attention_heads, attn.attention_head_size
        last = i == len(layers) - 1
        projections = (attn.key, attn.value) if last else (attn.query, attn.key, attn.value)
        packed = F.linear(
            hidden, torch.cat([p.weight for p in projections]), torch.cat([p.bias for p in projections])
        )  # (n, k·h): k = 2 or 3 projections at once
        padded = packed.new_zeros(r * s, packed.shape[1]).index_copy(0, real, packed)  # (r * s, k·h)
        split = (
            padded.view(r, s, len(projections), heads, size).transpose(1, 3).unbind(2)
        )  # k × (r, heads, s, size)
        asking = hidden.index_select(0, cls) if last else hidden  # (r, h) or (n, h)
        query = (
            attn.query(asking).view(r, 1, heads, size).transpose(1, 2) if last else split[0]
        )  # (r, heads, q, size)
        key, value = split[-2], split[-1]  # (r, heads, s, size)
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=additive, scale=attn.scaling)
        context = context.transpose(1, 2).reshape(-1, heads * size)  # (r * q, h)
        if not last:
            context = context.index_select(0, real)  # (n, h)
        out = layer.attention.output(context, asking)  # projection, residual, layer norm
        hidden = layer.output(
            layer.intermediate(out), out
        )  # feed-forward block: (n, h), (r, h) after the last layer
    return model.classifier(model.dropout(bert.pooler(hidden[:, None])))  # (r, n_labels)


def _shortcut_applies(model) -> bool:
    """True if ``model`` has BERT's modules and the shortcut reproduces its logits on a check input."""
    try:
        bert, config = model.bert, model.config
        last = bert.encoder.layer[-1]
        parts = (
            bert.embeddings,
            bert.pooler,
            model.classifier,
            model.dropout,
            last.attention.self.query,
            last.attention.self.scaling,
            last.attention.output,
            last.intermediate,
            last.output,
        )
    except (AttributeError, IndexError, TypeError):
        return False
    if (
        any(p is None for p in parts)
        or getattr(config, "is_decoder", False)
        or getattr(config, "add_cross_attention", False)
    ):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    try:
        agrees = _agrees(model)
    except Exception as exc:  # any architecture the shortcut does not understand: use the full forward pass
        _warn_full(model, f"could not be checked against its own forward pass ({type(exc).__name__}: {exc})")
        return False
    if not agrees:
        _warn_full(model, f"does not reproduce its logits to {CHECK_ATOL:g}")
    return agrees


def _warn_full(model, why: str) -> None:
    """Say (once per model: the check runs once) that a model built like BERT gets the full forward pass, why,
    and what it costs."""
    layers = getattr(model.config, "num_hidden_layers", None)
    share = f"about 1/{layers} more work" if layers else "more work"
    warnings.warn(
        f"{type(model).__name__} looks like BERT, but the [CLS]-only forward pass of integrated gradients "
        f"{why}; using the model's full forward pass instead. Scores are the same, but every forward and "
        f"backward pass computes the last layer at every position ({share} per pass: integrated "
        "gradients runs slower).",
        RuntimeWarning,
        stacklevel=4,
    )


def _agrees(model) -> bool:
    """Compare both forward passes on 2 random texts of 7 tokens (one padded), in eval mode, without gradients."""
    device = _inference.device_of(model)
    generator = torch.Generator().manual_seed(0)
    n_vocab = model.get_input_embeddings().num_embeddings
    ids = torch.randint(0, n_vocab, (2, 7), generator=generator).to(device)  # (2, 7)
    mask = torch.ones((2, 7), dtype=torch.long, device=device)
    mask[1, 5:] = 0
    types = torch.zeros_like(ids)
    with _inference.inference(model):
        emb = model.get_input_embeddings()(ids)  # (2, 7, h)
        full = _full_logits(model, emb, mask, types).float()
        short = _cls_logits(model, emb, mask, types).float()
    return full.shape == short.shape and bool(torch.allclose(full, short, atol=CHECK_ATOL, rtol=0))
