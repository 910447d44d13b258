"""Integrated gradients' core: points on the straight paths from baselines to inputs, the gradients there,
and the integral as one fixed quadrature rule (Riemann/trapezoid, Gauss–Legendre, Clenshaw–Curtis).

For a document with word embeddings x (one row per token) and a baseline x′, a point of the path is
γ(α) = x′ + α(x − x′), and token i's score is (x − x′)ᵢ · ∫₀¹ ∇f(γ(α))ᵢ dα, summed over the hidden
dimension. :class:`Paths` evaluates many (document, α) rows at once — f(γ(α)) and, with gradients, the
integrands (x − x′)·∇f(γ(α)) — in the passes :mod:`._ig_passes` schedules, through :mod:`._cls_forward`
(the last layer at ``[CLS]`` only). :func:`fixed` integrates with one rule of ``n_steps`` points
(:mod:`._quadrature`); :mod:`._ig_adaptive` chooses the points instead for ``n_steps="auto"``.

Taught in notebook 03 (integrated gradients).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from . import _ig_passes, _quadrature


class Paths:
    """Evaluate points γ(α) = x′ + α(x − x′) on the straight paths of a batch, many (document, α) rows at once."""

    def __init__(
        self,
        forward,
        x_base,
        diff,
        mask,
        token_type_ids,
        targets,
        output,
        chunk,
        budget: int = _ig_passes.TOKEN_BUDGET,
    ):
        self.forward = forward  # logits from word embeddings (_cls_forward: [CLS]-only last layer for BERT)
        self.x_base, self.diff, self.mask = x_base, diff, mask  # (b, s, h), (b, s, h), (b, s)
        self.token_type_ids, self.targets, self.output, self.chunk = token_type_ids, targets, output, chunk
        self.lengths = mask.sum(1)  # (b,)
        self.budget = budget  # tokens per pass when chunk is None (_ig_passes.token_budget)

    def chunks(self, docs: torch.Tensor) -> list[slice]:
        """Consecutive rows of ``docs`` per forward/backward pass (:func:`._ig_passes.passes`)."""
        return _ig_passes.passes(self.lengths[docs], self.chunk, self.budget)

    def _rows(self, docs, alpha, grad, predict=False):
        """Per pass: the rows' documents, trimmed length s, logits ``(r, n_labels)``, f ``(r,)`` and (with
        ``grad``) ∇f ``(r, s, h)``. With ``predict`` (rows at α = 1 only) a document whose target is -1 gets its
        predicted class, the argmax of its logits, as target from then on."""
        for sl in self.chunks(docs):
            d, a = docs[sl], alpha[sl]  # (r,), (r,)
            s = int(self.lengths[d].max())  # trim to this pass's longest document
            emb = self.x_base[d, :s] + a[:, None, None].to(self.diff.dtype) * self.diff[d, :s]  # (r, s, h)
            tt = None if self.token_type_ids is None else self.token_type_ids[d, :s]
            with torch.enable_grad() if grad else torch.inference_mode():
                if grad:
                    emb.requires_grad_(True)
                logits = self.forward(emb, self.mask[d, :s], tt).float()  # (r, n_labels)
                if predict:
                    self.targets[d] = torch.where(
                        self.targets[d] < 0, logits.detach().argmax(1), self.targets[d]
                    )
                f = select(logits, self.targets[d], self.output)  # (r,)
                g = torch.autograd.grad(f.sum(), emb)[0] if grad else None  # (r, s, h); rows are independent
            yield d, s, logits.detach(), f.detach(), g

    def _integrands(self, d: torch.Tensor, s: int, g: torch.Tensor) -> torch.Tensor:
        """(x − x′)·∇f summed over the hidden dimension ``(r, s_max)`` for rows of documents ``d`` with ∇f ``g``
        ``(r, s, h)`` (0 beyond s)."""
        c = torch.zeros((len(d), self.diff.shape[1]), dtype=torch.float32, device=g.device)  # (r, s_max)
        c[:, :s] = (self.diff[d, :s] * g).sum(-1).float()  # (r, s)
        return c

    def _collect(self, docs, alpha, grad, predict=False):
        """All passes of :meth:`_rows` joined: integrands ``(r, s)`` (None without ``grad``), f ``(r,)``, logits
        ``(r, n_labels)``."""
        integrands, values, logits = [], [], []
        for d, s, lg, f, g in self._rows(docs, alpha, grad, predict):
            values.append(f)
            logits.append(lg)
            if grad:
                integrands.append(self._integrands(d, s, g))
        return (torch.cat(integrands) if grad else None), torch.cat(values), torch.cat(logits)

    def __call__(self, docs: torch.Tensor, alpha: torch.Tensor, grad: bool = True):
        """For rows (docs[r], alpha[r]): with ``grad`` the token integrands (x − x′)·∇f(γ(α)) summed over
        the hidden dimension ``(r, s)`` and f(γ(α)) ``(r,)``; without, f(γ(α)) ``(r,)`` only (forward passes)."""
        integrands, values, _ = self._collect(docs, alpha, grad)
        return (integrands, values) if grad else values

    def at_input(self, grad: bool = True):
        """At α = 1 (the unaltered texts), one row per document: the integrands ``(b, s)`` (None without
        ``grad``) and the logits ``(b, n_labels)``. Fills in ``targets`` where it was -1 (the predicted class)."""
        docs = torch.arange(len(self.targets), device=self.targets.device)  # (b,)
        integrands, _, logits = self._collect(
            docs, torch.ones(len(docs), dtype=torch.float64, device=docs.device), grad, predict=True
        )
        return integrands, logits

    def at_baseline(self, same: torch.Tensor, grad: bool = True):
        """Integrands ``(b, s)`` (None without ``grad``) and f ``(b,)`` at α = 0 for every document, running the
        model once per distinct baseline: ``same[d]`` is the first document whose baseline input and target
        equal document d's (:func:`._ig_passes.same_baseline`), so f(x′) and ∇f(x′) are shared and ∇f(x′) is only
        multiplied by each document's own x − x′."""
        first = torch.unique(same)  # (u,)
        at = torch.full((len(same),), -1, dtype=torch.long, device=same.device)
        at[first] = torch.arange(len(first), device=same.device)
        values, grads = [], []
        for d, s, _, f, g in self._rows(
            first, torch.zeros(len(first), dtype=torch.float64, device=same.device), grad
        ):
            values.append(f)
            if grad:
                grads += [g[r, :s] for r in range(len(d))]  # (s, h) each
        f_all = torch.cat(values)[at[same]]  # (b,)
        if not grad:
            return None, f_all
        c = torch.zeros(
            (len(same), self.diff.shape[1]), dtype=torch.float32, device=same.device
        )  # (b, s_max)
        for doc in range(len(same)):
            g = grads[int(at[same[doc]])]  # (s, h)
            c[doc, : g.shape[0]] = (self.diff[doc, : g.shape[0]] * g).sum(-1).float()
        return c, f_all


def fixed(run: Paths, docs: torch.Tensor, n_steps: int, rule: str) -> torch.Tensor:
    """Scores ``(len(docs), s)`` with one ``n_steps``-point rule over the whole path [0, 1]."""
    device = docs.device
    alpha = torch.as_tensor(_quadrature.alphas(n_steps, rule), device=device)  # (m,)
    weight = torch.as_tensor(_quadrature.weights(n_steps, rule), dtype=torch.float32, device=device)  # (m,)
    rows = torch.arange(len(docs), device=device).repeat_interleave(
        n_steps
    )  # (len(docs) * m,) document-major
    step = torch.arange(n_steps, device=device).repeat(len(docs))  # (len(docs) * m,)
    g, _ = run(docs[rows], alpha[step])  # (rows, s)
    scores = torch.zeros((len(docs), g.shape[1]), dtype=torch.float32, device=device)  # (len(docs), s)
    return scores.index_add_(0, rows, g * weight[step][:, None])


def select(logits: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    """f from logits ``(r, n_labels)``: the target's probability or logit ``(r,)``."""
    values = torch.softmax(logits, dim=-1) if output == "prob" else logits  # (r, n_labels)
    return values.gather(1, targets[:, None]).squeeze(1)  # (r,)


def special_mask(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """BoolTensor ``(b, s)``: True at ``[CLS]``/``[SEP]`` (from ``word_ids`` when given, else first and last
    real token)."""
    mask = batch["attention_mask"].bool()  # (b, s)
    if batch.get("word_ids") is not None:
        return (batch["word_ids"].to(mask.device) < 0) & mask
    special = torch.zeros_like(mask)
    special[:, 0] = True
    special[torch.arange(mask.shape[0], device=mask.device), mask.sum(1) - 1] = True
    return special & mask


def baseline_embeddings(model, batch, x, baseline, tokenizer):
    """x′ ``(b, s, h)``: the baseline's word embeddings, equal to x at special tokens and padding; and the
    baseline's token ids ``(b, s)`` (-1 where the zero baseline puts zero vectors)."""
    content = batch["attention_mask"].bool() & ~special_mask(batch)  # (b, s)
    if baseline == "zero":
        return x.masked_fill(content[..., None], 0.0), batch["input_ids"].masked_fill(content, -1)
    token_id = baseline_token_id(model, baseline, tokenizer)
    ids = batch["input_ids"].masked_fill(content, token_id)  # (b, s)
    return model.get_input_embeddings()(ids), ids  # (b, s, h), (b, s)


def baseline_token_id(model, baseline, tokenizer) -> int:
    if not isinstance(baseline, str):
        n_vocab = model.get_input_embeddings().num_embeddings
        if not 0 <= baseline < n_vocab:
            raise ValueError(
                f"baseline token id {baseline} is outside the model's vocabulary (0–{n_vocab - 1})"
            )
        return int(baseline)
    name = "pad_token_id" if baseline == "pad" else "mask_token_id"
    token_id = getattr(tokenizer, name, None) if tokenizer is not None else None
    if token_id is None:
        token_id = getattr(model.config, name, None)
    if token_id is None:
        raise ValueError(
            f"baseline={baseline!r} needs the tokenizer's {name}, and neither the tokenizer nor "
            f"model.config has one; pass tokenizer=..., or baseline=<token id>, or baseline='zero'"
        )
    return int(token_id)


@contextmanager
def frozen_parameters(model):
    """Switch off parameter gradients (only input gradients are needed) and restore them afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
