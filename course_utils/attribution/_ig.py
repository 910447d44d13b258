"""Integrated gradients on BERT's word-embedding layer, batched across documents and integration steps.

For a document with word embeddings x (one row per token) and a baseline x′, IG attributes

    score_i = Σ_h (x_ih − x′_ih) · ∫₀¹ ∂f(x′ + α(x − x′)) / ∂x_ih dα        (Sundararajan et al., 2017)

where f is the target class's softmax probability (``output="prob"``, the default — as Transformers
Interpret does) or its logit (``output="logit"``). The integral is a quadrature Σₖ wₖ g(αₖ)
(:mod:`._quadrature`). Position and segment embeddings are added by the model after the interpolated word
embeddings, exactly as Captum's ``LayerIntegratedGradients`` on ``embeddings.word_embeddings`` does.

Completeness: Σᵢ score_i = f(x) − f(x′) exactly for the true integral; the quadrature's shortfall is the
**completeness error**, reported per document. Completeness also holds on every piece [a, c] of the path
(the scores of a piece sum to f(γ(c)) − f(γ(a))), which ``n_steps="auto"`` uses: it cuts each path into
``AUTO_PIECES`` pieces, finds with cheap forward passes where f changes, spends ``AUTO_START`` gradient
points mostly there, and then adds points only to the pieces of the documents whose error — known
exactly per piece — is still above ``tolerance``.

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
AUTO_PIECES = 6  # auto mode: the path is cut into this many pieces (f is scanned at their ends) …
AUTO_START = 18  # … which share this many gradient points at first (also the smallest max_steps allowed)
REFINE_SHARE = 0.9  # auto mode refines the worst pieces until the others hold at most this share of the allowed error
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
    internal_batch_size: int = 32,
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
        n_steps: number of quadrature points over the whole path (an int ≥ 2), or ``"auto"`` (default):
            adaptive composite quadrature (see :func:`_adaptive`) — 18 gradient points per document at
            first, placed where f changes, more only where a document's completeness error is above
            ``tolerance`` (relative) and ``atol`` (absolute), up to ``max_steps`` points.
        quadrature: ``"gauss_legendre"`` (default) or ``"riemann_trapezoid"``.
        output: f is the target's ``"prob"`` (softmax probability, default) or ``"logit"``.
        tolerance: relative completeness error accepted in auto mode (0.01 = 1 % of |f(x) − f(x′)|).
        atol: absolute completeness error also accepted (default 1e-4, in f's units): a document whose
            output barely moves (f(x) ≈ f(x′)) would otherwise need many steps for a meaningless ratio.
        max_steps: the most points auto mode will use; documents still above tolerance get a warning.
        internal_batch_size: (document, step) rows per forward/backward pass (default 32: on 2 CPU cores 8–50
            rows run at the same speed per row and 128 rows 40 % slower, as activations outgrow the caches).
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
        tolerance or absolute ≤ atol) and ``forward_passes`` (every row the model ran: gradient points of
        all rounds, including recomputed pieces, plus forward-only evaluations).
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
    run = _Path(model, x_base, diff, mask, token_type_ids, targets, output, internal_batch_size)
    with _frozen(model):  # gradients with respect to the inputs only
        if auto:
            scores, used, passes = _adaptive(run, f_input, f_base, rule, tolerance, atol, max_steps)  # (b, s), (b,), (b,)
        else:
            scores = _fixed(run, torch.arange(b, device=device), int(n_steps), rule)  # (b, s)
            used = torch.full((b,), int(n_steps), dtype=torch.long)
            passes = used + 2
    error = (scores.sum(1) - delta).abs()  # (b,)
    ok = (error <= tolerance * delta.abs()) | (error <= atol)  # (b,)
    if auto and not ok.all():
        warnings.warn(f"{int((~ok).sum())} document(s) kept a completeness error above tolerance={tolerance} after "
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
class _Path:
    """Evaluate points γ(α) = x′ + α(x − x′) on the straight paths of a batch, many (document, α) rows at once."""

    def __init__(self, model, x_base, diff, mask, token_type_ids, targets, output, chunk):
        self.model, self.x_base, self.diff, self.mask = model, x_base, diff, mask  # (b, s, h), (b, s, h), (b, s)
        self.token_type_ids, self.targets, self.output, self.chunk = token_type_ids, targets, output, chunk
        self.lengths = mask.sum(1)  # (b,)

    def __call__(self, docs: torch.Tensor, alpha: torch.Tensor, grad: bool = True) -> torch.Tensor:
        """For rows (docs[r], alpha[r]): with ``grad`` the token integrands (x − x′)·∇f(γ(α)) summed over
        the hidden dimension ``(r, s)``; without, f(γ(α)) ``(r,)`` (forward passes only)."""
        out = []
        for start in range(0, len(docs), self.chunk):
            d, a = docs[start : start + self.chunk], alpha[start : start + self.chunk]  # (r,), (r,)
            s = int(self.lengths[d].max())  # trim to this chunk's longest document
            emb = self.x_base[d, :s] + a[:, None, None].to(self.diff.dtype) * self.diff[d, :s]  # (r, s, h)
            tt = None if self.token_type_ids is None else self.token_type_ids[d, :s]
            if not grad:
                with torch.inference_mode():
                    out.append(_target_output(self.model, emb, self.mask[d, :s], tt, self.targets[d], self.output))
                continue
            with torch.enable_grad():
                emb.requires_grad_(True)
                f = _target_output(self.model, emb, self.mask[d, :s], tt, self.targets[d], self.output)  # (r,)
                (g,) = torch.autograd.grad(f.sum(), emb)  # (r, s, h); rows are independent
            c = torch.zeros((len(d), self.diff.shape[1]), dtype=torch.float32, device=emb.device)  # (r, s_max)
            c[:, :s] = (self.diff[d, :s] * g).sum(-1).float()  # (r, s)
            out.append(c)
        return torch.cat(out)


def _fixed(run: _Path, docs: torch.Tensor, n_steps: int, rule: str) -> torch.Tensor:
    """Scores ``(len(docs), s)`` with one ``n_steps``-point rule over the whole path [0, 1]."""
    device = docs.device
    alpha = torch.as_tensor(_quadrature.alphas(n_steps, rule), device=device)  # (m,)
    weight = torch.as_tensor(_quadrature.weights(n_steps, rule), dtype=torch.float32, device=device)  # (m,)
    rows = torch.arange(len(docs), device=device).repeat_interleave(n_steps)  # (len(docs) * m,) document-major
    step = torch.arange(n_steps, device=device).repeat(len(docs))  # (len(docs) * m,)
    g = run(docs[rows], alpha[step])  # (rows, s)
    scores = torch.zeros((len(docs), g.shape[1]), dtype=torch.float32, device=device)  # (len(docs), s)
    return scores.index_add_(0, rows, g * weight[step][:, None])


def _adaptive(run: _Path, f_input, f_base, rule, tolerance, atol, max_steps):
    """Adaptive composite quadrature: scores ``(b, s)``, gradient points used ``(b,)``, all passes ``(b,)``.

    1. Scan: f at ``AUTO_PIECES − 1`` inner points of each path (forward passes only, cheap) cuts the path
       into ``AUTO_PIECES`` equal pieces and shows where f changes.
    2. Allocate ``AUTO_START`` gradient points: one per piece, the rest in proportion to how much f
       changes on the piece (|f(c) − f(a)|), so the points go where the integrand is large.
    3. Completeness holds on every piece — its token scores must sum to f(c) − f(a) — so each piece's error
       is known exactly. While a document's total error exceeds ``tolerance`` (relative) and ``atol``, its
       pieces whose error is above their share are recomputed with twice the points (others are kept),
       within ``max_steps`` gradient points per document.
    """
    device = f_input.device
    b, s = len(f_input), run.diff.shape[1]
    k = AUTO_PIECES
    cuts = [j / k for j in range(k + 1)]
    inner = torch.tensor(cuts[1:-1] * b, dtype=torch.float64, device=device)  # (b * (k − 1),)
    f_inner = run(torch.arange(b, device=device).repeat_interleave(k - 1), inner, grad=False).view(b, k - 1)
    f_cut = torch.cat([f_base[:, None], f_inner.to(f_base.dtype), f_input[:, None]], 1).double()  # (b, k + 1)
    change = f_cut.diff(dim=1).abs()  # (b, k)
    share = change / change.sum(1, keepdim=True).clamp_min(1e-12)  # (b, k)
    nodes = 1 + _largest_remainder(share * max(AUTO_START - k, 0))  # (b, k) points per piece
    f_cut, nodes = f_cut.tolist(), nodes.tolist()
    # a piece: [doc, a, c, f(a), f(c), points]; its token scores are values[i]
    pieces = [[d, cuts[j], cuts[j + 1], f_cut[d][j], f_cut[d][j + 1], nodes[d][j]] for d in range(b) for j in range(k)]
    values: list[torch.Tensor | None] = [None] * len(pieces)
    todo = list(range(len(pieces)))
    spent, passes = [0] * b, [2 + k - 1] * b
    while todo:
        docs, alpha, weight = [], [], []
        for i in todo:
            d, a, c, _, _, n = pieces[i]
            docs += [d] * n
            alpha += (a + (c - a) * _quadrature.alphas(n, _piece_rule(rule, n))).tolist()
            weight += ((c - a) * _quadrature.weights(n, _piece_rule(rule, n))).tolist()
            spent[d] += n
            passes[d] += n
        g = run(torch.tensor(docs, device=device), torch.tensor(alpha, dtype=torch.float64, device=device))  # (rows, s)
        g = g * torch.tensor(weight, dtype=torch.float32, device=device)[:, None]  # (rows, s)
        owner = torch.tensor([j for j, i in enumerate(todo) for _ in range(pieces[i][5])], device=device)  # (rows,)
        integral = torch.zeros((len(todo), s), dtype=torch.float32, device=device).index_add_(0, owner, g)  # (n, s)
        for i, v in zip(todo, integral):
            values[i] = v
        todo = []
        for d in range(b):
            mine = [i for i, p in enumerate(pieces) if p[0] == d]
            sums = {i: float(values[i].sum()) for i in mine}
            errors = {i: abs(sums[i] - (pieces[i][4] - pieces[i][3])) for i in mine}
            total = abs(sum(sums.values()) - float(f_input[d] - f_base[d]))
            allowed = max(tolerance * abs(float(f_input[d] - f_base[d])), atol)
            if total <= allowed:
                continue
            redo = _pieces_to_refine(mine, errors, allowed)
            for i in redo:
                if spent[d] + 2 * pieces[i][5] > max_steps:
                    break
                pieces[i][5] *= 2
                todo.append(i)
    scores = torch.zeros((b, s), dtype=torch.float32, device=device)  # (b, s)
    used = [0] * b
    for p, v in zip(pieces, values):
        scores[p[0]] += v
        used[p[0]] += p[5]
    return scores, torch.tensor(used), torch.tensor(passes)


def _pieces_to_refine(mine: list[int], errors: dict[int, float], allowed: float) -> list[int]:
    """The fewest pieces, worst first, whose refinement leaves at most ``REFINE_SHARE × allowed`` (90 %) of error in the others.

    A refined piece's error typically shrinks many-fold (twice the Gauss–Legendre points), so the
    document's total error should end below ``allowed``; pieces already accurate are not recomputed.
    """
    worst = sorted(mine, key=errors.get, reverse=True)
    left = sum(errors.values())
    redo = []
    for i in worst:
        if left <= REFINE_SHARE * allowed and redo:
            break
        redo.append(i)
        left -= errors[i]
    return redo


def _piece_rule(rule: str, n: int) -> str:
    """The trapezoid rule needs 2 points; a 1-point piece falls back to the midpoint (1-point Gauss–Legendre)."""
    return "gauss_legendre" if n < 2 else rule


def _largest_remainder(x: torch.Tensor) -> torch.Tensor:
    """Round each row of ``x`` ``(b, k)`` to integers with the same (rounded) row sum."""
    base = x.floor()
    left = (x.sum(1) - base.sum(1)).round().long()  # (b,)
    order = (x - base).argsort(dim=1, descending=True)  # (b, k)
    extra = (torch.arange(x.shape[1])[None, :] < left[:, None]).to(x.dtype)  # (b, k) in remainder order
    return (base.scatter_add(1, order, extra)).long()


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
