"""Integrated gradients on BERT's word-embedding layer, batched across documents and integration steps.

For a document with word embeddings x (one row per token) and a baseline x′, IG attributes

    score_i = Σ_h (x_ih − x′_ih) · ∫₀¹ ∂f(x′ + α(x − x′)) / ∂x_ih dα        (Sundararajan et al., 2017)

where f is the target class's softmax probability (``output="prob"``, the default — as Transformers
Interpret does) or its logit (``output="logit"``). The integral is a quadrature Σₖ wₖ g(αₖ)
(:mod:`._quadrature`). Position and segment embeddings are added by the model after the interpolated word
embeddings, exactly as Captum's ``LayerIntegratedGradients`` on ``embeddings.word_embeddings`` does.

Completeness: Σᵢ score_i = f(x) − f(x′) exactly for the true integral; the quadrature's shortfall is the
**completeness error**, reported per document. With ``n_steps="auto"`` each document starts with
``AUTO_START`` Gauss–Legendre steps and only the documents whose relative error is still above
``tolerance`` are recomputed with twice as many steps, up to ``max_steps``.

Batching: all (document, step) pairs of a batch are rows of one big job, cut into chunks of
``internal_batch_size`` rows; each chunk is trimmed to its longest document, so there is no padding
beyond what the documents in that chunk need.

Taught in notebook 03 (integrated gradients).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch

from . import _quadrature

BASELINES = ("pad", "mask", "zero")
OUTPUTS = ("prob", "logit")
AUTO_START = 16
ATOL = 1e-4  # default absolute completeness error accepted in auto mode (when f(x) ≈ f(x′) relative error means little)


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    baseline: str | int = "pad",
    n_steps: int | str = "auto",
    quadrature: str = "gauss_legendre",
    output: str = "prob",
    tolerance: float = 0.01,
    atol: float = ATOL,
    max_steps: int = 256,
    internal_batch_size: int = 128,
    normalize: str | None = None,
    tokenizer=None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Integrated-gradients scores for a padded batch of documents.

    Args:
        model: a ``…ForSequenceClassification`` model that accepts ``inputs_embeds`` (every BERT does).
        batch: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) ``(b, s)`` on the model's device,
            each row ``[CLS] … [SEP]`` then padding; optionally ``word_ids`` ``(b, s)`` (-1 at special tokens
            and padding), used to find the special tokens.
        targets: LongTensor ``(b,)``, the class to explain per document.
        baseline: x′. ``"pad"`` (default, as Transformers Interpret): every token replaced by ``[PAD]``,
            ``[CLS]``/``[SEP]`` kept; ``"mask"``: the same with ``[MASK]`` (needs ``tokenizer`` or
            ``model.config.mask_token_id``); ``"zero"``: the zero vector instead of each token's word
            embedding (specials kept); an ``int``: that token id in place of every token.
        n_steps: number of quadrature points (an int ≥ 2), or ``"auto"`` (default): start with
            ``AUTO_START`` = 16 points and double them only for the documents whose completeness error
            is above ``tolerance`` (relative) and above ``atol`` (absolute), up to ``max_steps``.
        quadrature: ``"gauss_legendre"`` (default) or ``"riemann_trapezoid"``.
        output: f is the target's ``"prob"`` (softmax probability, default) or ``"logit"``.
        tolerance: relative completeness error accepted in auto mode (0.01 = 1 % of |f(x) − f(x′)|).
        atol: absolute completeness error also accepted (default 1e-4, in f's units): a document whose
            output barely moves (f(x) ≈ f(x′)) would otherwise need many steps for a meaningless ratio.
        max_steps: the most points auto mode will use; documents still above tolerance get a warning.
        internal_batch_size: (document, step) rows per forward/backward pass; lower it if memory is short.
        normalize: None (default) or ``"l2"``: divide each document's scores by their L2 norm, as
            Transformers Interpret does. That breaks completeness (scores no longer sum to
            f(x) − f(x′)) and makes scores incomparable across documents; only the ranking is kept.
        tokenizer: passed by :func:`course_utils.attribution.explain` (to find the ``[MASK]`` id).

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU, 0 at padding (``[CLS]``/
        ``[SEP]`` get 0 too with the default baselines, since they equal their baseline). diagnostics,
        each a 1-D tensor of length b: ``f_input`` f(x), ``f_baseline`` f(x′), ``sum_scores`` (before any
        normalisation), ``completeness_error`` |Σ scores − (f(x) − f(x′))|, ``relative_error`` (that over
        |f(x) − f(x′)|), ``n_steps`` (points used for the final estimate), ``converged`` (relative error ≤
        tolerance or absolute ≤ atol) and ``forward_passes`` (forward+backward rows, all rounds, + 2).
    """
    rule = _quadrature.check_rule(quadrature)
    auto = _check_steps(n_steps, max_steps)
    _check_choices(baseline, output, normalize, tolerance, atol, internal_batch_size)
    device = batch["input_ids"].device
    input_ids, mask = batch["input_ids"], batch["attention_mask"]  # (b, s), (b, s)
    token_type_ids = batch.get("token_type_ids")
    targets = targets.to(device)
    with _frozen(model), torch.no_grad():
        x = model.get_input_embeddings()(input_ids)  # (b, s, h)
        x_base = _baseline_embeddings(model, batch, x, baseline, tokenizer)  # (b, s, h)
    diff = x - x_base  # (b, s, h)
    with _frozen(model), torch.inference_mode():
        f_input = _evaluate(model, x, mask, token_type_ids, targets, output, internal_batch_size)  # (b,)
        f_base = _evaluate(model, x_base, mask, token_type_ids, targets, output, internal_batch_size)  # (b,)
    delta = f_input - f_base  # (b,)

    b = input_ids.shape[0]
    scores = torch.zeros(input_ids.shape, dtype=torch.float32, device=device)  # (b, s)
    used = torch.zeros(b, dtype=torch.long)
    passes = torch.full((b,), 2, dtype=torch.long)
    todo = torch.arange(b, device=device)
    steps = AUTO_START if auto else int(n_steps)
    while True:
        avg_grad = _path_gradients(model, x_base, diff, mask, token_type_ids, targets, todo,
                                   steps, rule, output, internal_batch_size)  # (len(todo), s, h)
        scores[todo] = (diff[todo] * avg_grad).sum(-1).float()  # (len(todo), s)
        used[todo.cpu()] = steps
        passes[todo.cpu()] += steps
        error = (scores.sum(1) - delta).abs()  # (b,)
        ok = (error <= tolerance * delta.abs()) | (error <= atol)  # (b,)
        todo = todo[~ok[todo]]
        if not auto or len(todo) == 0 or steps >= max_steps:
            break
        steps = min(2 * steps, max_steps)
    if auto and len(todo):
        warnings.warn(f"{len(todo)} document(s) kept a completeness error above tolerance={tolerance} after "
                      f"max_steps={max_steps} steps; their scores are less exact (see relative_error). "
                      "Raise max_steps to go further.", UserWarning, stacklevel=3)
    sum_scores = scores.sum(1)  # (b,)
    if normalize == "l2":
        scores = scores / scores.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (b, s)
    diagnostics = {
        "f_input": f_input.cpu(),
        "f_baseline": f_base.cpu(),
        "sum_scores": sum_scores.cpu(),
        "completeness_error": error.cpu(),
        "relative_error": (error / delta.abs().clamp_min(1e-12)).cpu(),
        "n_steps": used,
        "converged": ok.cpu(),
        "forward_passes": passes,
    }
    return scores.cpu(), diagnostics


# ------------------------------------------------------------------------------------------ the maths
def _path_gradients(model, x_base, diff, mask, token_type_ids, targets, docs, n_steps, rule, output, chunk):
    """Σₖ wₖ ∇f(x′ + αₖ(x − x′)) for the documents ``docs``: ``(len(docs), s, h)``.

    Rows are (document, step) pairs, document-major, processed ``chunk`` rows at a time.
    """
    device, dtype = diff.device, diff.dtype
    alpha = torch.as_tensor(_quadrature.alphas(n_steps, rule), dtype=dtype, device=device)  # (m,)
    weight = torch.as_tensor(_quadrature.weights(n_steps, rule), dtype=dtype, device=device)  # (m,)
    local = torch.arange(len(docs), device=device).repeat_interleave(n_steps)  # (len(docs) * m,)
    step = torch.arange(n_steps, device=device).repeat(len(docs))  # (len(docs) * m,)
    lengths = mask.sum(1)  # (b,)
    total = torch.zeros((len(docs),) + diff.shape[1:], dtype=dtype, device=device)  # (len(docs), s, h)
    with _frozen(model), torch.enable_grad():
        for start in range(0, len(local), chunk):
            rows, k = local[start : start + chunk], step[start : start + chunk]  # (r,), (r,)
            d = docs[rows]  # (r,) batch index of each row
            s = int(lengths[d].max())  # trim to this chunk's longest document
            a = alpha[k][:, None, None]  # (r, 1, 1)
            emb = (x_base[d, :s] + a * diff[d, :s]).requires_grad_(True)  # (r, s, h)
            f = _target_output(model, emb, mask[d, :s], None if token_type_ids is None else token_type_ids[d, :s],
                               targets[d], output)  # (r,)
            (grad,) = torch.autograd.grad(f.sum(), emb)  # (r, s, h); rows are independent
            total[:, :s].index_add_(0, rows, grad * weight[k][:, None, None])
    return total


def _target_output(model, emb, mask, token_type_ids, targets, output):
    """f for each row: the target's probability or logit given word embeddings ``emb`` ``(r, s, h)`` → ``(r,)``."""
    kwargs = {"inputs_embeds": emb, "attention_mask": mask}
    if token_type_ids is not None:
        kwargs["token_type_ids"] = token_type_ids
    logits = model(**kwargs).logits.float()  # (r, n_labels)
    values = torch.softmax(logits, dim=-1) if output == "prob" else logits  # (r, n_labels)
    return values.gather(1, targets[:, None]).squeeze(1)  # (r,)


def _evaluate(model, emb, mask, token_type_ids, targets, output, chunk):
    """f for whole documents without gradients: ``(b,)``."""
    out = []
    for start in range(0, emb.shape[0], chunk):
        sl = slice(start, start + chunk)
        s = int(mask[sl].sum(1).max())
        out.append(_target_output(model, emb[sl, :s], mask[sl, :s],
                                  None if token_type_ids is None else token_type_ids[sl, :s], targets[sl], output))
    return torch.cat(out)


def special_mask(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """BoolTensor ``(b, s)``: True at ``[CLS]``/``[SEP]`` (from ``word_ids`` when given, else first and last real token)."""
    mask = batch["attention_mask"].bool()  # (b, s)
    if batch.get("word_ids") is not None:
        return (batch["word_ids"].to(mask.device) < 0) & mask
    special = torch.zeros_like(mask)
    special[:, 0] = True
    special[torch.arange(mask.shape[0], device=mask.device), mask.sum(1) - 1] = True
    return special & mask


def _baseline_embeddings(model, batch, x, baseline, tokenizer):
    """x′ ``(b, s, h)``: the baseline's word embeddings; equal to x at special tokens and padding."""
    content = batch["attention_mask"].bool() & ~special_mask(batch)  # (b, s)
    if baseline == "zero":
        return x.masked_fill(content[..., None], 0.0)  # (b, s, h)
    token_id = _baseline_token_id(model, baseline, tokenizer)
    ids = batch["input_ids"].masked_fill(content, token_id)  # (b, s)
    return model.get_input_embeddings()(ids)  # (b, s, h)


def _baseline_token_id(model, baseline, tokenizer) -> int:
    if not isinstance(baseline, str):
        n_vocab = model.get_input_embeddings().num_embeddings
        if not 0 <= baseline < n_vocab:
            raise ValueError(f"baseline token id {baseline} is outside the model's vocabulary (0–{n_vocab - 1})")
        return int(baseline)
    name = "pad_token_id" if baseline == "pad" else "mask_token_id"
    token_id = getattr(tokenizer, name, None) if tokenizer is not None else None
    if token_id is None:
        token_id = getattr(model.config, name, None)
    if token_id is None:
        raise ValueError(f"baseline={baseline!r} needs the tokenizer's {name}, and neither the tokenizer nor "
                         f"model.config has one; pass tokenizer=..., or baseline=<token id>, or baseline='zero'")
    return int(token_id)


@contextmanager
def _frozen(model):
    """Switch off parameter gradients (only input gradients are needed) and restore them afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


# ------------------------------------------------------------------------------------------ validation
def _check_steps(n_steps, max_steps) -> bool:
    """True for auto mode; raises for a bad ``n_steps``/``max_steps``."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < AUTO_START:
        raise ValueError(f"max_steps={max_steps!r} must be an integer ≥ {AUTO_START}")
    if isinstance(n_steps, str):
        if n_steps != "auto":
            raise ValueError(f"n_steps={n_steps!r} is not understood; give an integer ≥ 2 or 'auto'")
        return True
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)):
        raise TypeError(f"n_steps must be an integer or 'auto', got {type(n_steps).__name__} ({n_steps!r})")
    if n_steps < 2:
        raise ValueError(f"n_steps={n_steps} is too small; use at least 2 (typical: 16–64), or 'auto'")
    return False


def _check_choices(baseline, output, normalize, tolerance, atol, internal_batch_size) -> None:
    if isinstance(baseline, bool) or not (baseline in BASELINES or isinstance(baseline, (int, np.integer))):
        raise ValueError(f"baseline={baseline!r} is not supported; choose one of {list(BASELINES)} or a token id")
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not supported; choose one of {list(OUTPUTS)}")
    if normalize not in (None, "l2"):
        raise ValueError(f"normalize={normalize!r} is not supported; use None (default) or 'l2'")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
        raise ValueError(f"tolerance={tolerance!r} must be a positive number (0.01 = 1 % completeness error)")
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0:
        raise ValueError(f"atol={atol!r} must be a number ≥ 0 (absolute completeness error accepted)")
    if isinstance(internal_batch_size, bool) or not isinstance(internal_batch_size, (int, np.integer)) or internal_batch_size < 1:
        raise ValueError(f"internal_batch_size={internal_batch_size!r} must be a positive integer")
