"""Integrated gradients on BERT's word-embedding layer, batched across documents and integration steps.

For a document with word embeddings x (one row per token) and a baseline x′, IG attributes

    score_i = Σ_h (x_ih − x′_ih) · ∫₀¹ ∂f(x′ + α(x − x′)) / ∂x_ih dα        (Sundararajan et al., 2017)

where f is the target class's softmax probability (``output="prob"``, the default — as Transformers
Interpret does) or its logit (``output="logit"``). The integral is a quadrature Σₖ wₖ g(αₖ)
(:mod:`._quadrature`). Position and segment embeddings are added by the model after the interpolated word
embeddings, exactly as Captum's ``LayerIntegratedGradients`` on ``embeddings.word_embeddings`` does.

Completeness: Σᵢ score_i = f(x) − f(x′) exactly for the true integral; the quadrature's shortfall is the
**completeness error**, reported per document. Completeness also holds on every piece [a, c] of the path
(the scores of a piece sum to f(γ(c)) − f(γ(a))), which ``n_steps="auto"`` uses (:func:`_adaptive`): it
finds with ``AUTO_SCAN`` cheap forward passes where f changes, crowds the points there through a smooth
change of variable (:class:`_Warp`), starts with ``AUTO_START`` gradient points in ``AUTO_PIECES``
pieces, and adds points only to the pieces — known exactly per piece — whose error keeps the document
above ``tolerance``; its nested rule keeps every point already computed.

Cost: nearly all of the time is forward and backward passes, one per (document, point) row. Rows go
through :mod:`._cls_forward`, which skips the last layer's work at every position but ``[CLS]`` (the only
one a BERT classifier reads).

Batching: all (document, point) pairs of a batch are rows of one big job, cut into passes of about
``TOKEN_BUDGET`` tokens (or ``internal_batch_size`` rows); each pass is trimmed to its longest document, and
for BERT the per-token work skips the padding altogether (:mod:`._cls_forward` packs the rows). Documents
with the same baseline input and target (under ``[PAD]``: the same length) share one evaluation of f(x′) and
∇f(x′). The prediction (and f(x)) comes with the gradient at α = 1, so no pass runs only to predict.

Taught in notebook 03 (integrated gradients).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from scipy import special

from . import _cls_forward, _quadrature

BASELINES = ("pad", "mask", "zero")
OUTPUTS = ("prob", "logit")
AUTO_SCAN = 3  # auto mode: f is scanned (forward passes only) at α = 1/4, 1/2, 3/4 …
SPREAD = 0.7  # … each stretch's change |Δf| becomes a bell curve with sd SPREAD × the stretch's width …
FLOOR = 0.1  # … plus this share spread evenly: the density of points along the path (_Warp)
AUTO_PIECES = 2  # the warped path is cut into this many pieces …
AUTO_LEVEL = 4  # … each with a nested rule of this many intervals at first …
AUTO_START = AUTO_PIECES * AUTO_LEVEL + 1  # … 9 gradient points per document (also the smallest max_steps allowed)
TOKEN_BUDGET = 2048  # internal_batch_size=None: rows per pass up to this many tokens (2 CPU cores: 1,500–2,500 fastest)
REFINE_SHARE = 0.9  # auto mode refines the worst pieces until the others hold at most this share of the allowed error
ATOL = 1e-4  # default absolute completeness error accepted in auto mode (when f(x) ≈ f(x′) relative error means little)


def attribute(
    model,
    batch: dict[str, torch.Tensor],
    targets: torch.Tensor | None,
    *,
    baseline: str | int = "pad",
    n_steps: int | str = "auto",
    quadrature: str | None = None,
    output: str = "prob",
    tolerance: float = 0.01,
    atol: float = ATOL,
    max_steps: int = 256,
    internal_batch_size: int | None = None,
    normalize: str | None = None,
    tokenizer=None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Integrated-gradients scores for a padded batch of documents.

    Args:
        model: a ``…ForSequenceClassification`` model that accepts ``inputs_embeds`` (every BERT does).
        batch: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) ``(b, s)`` on the model's device,
            each row ``[CLS] … [SEP]`` then padding; optionally ``word_ids`` ``(b, s)`` (-1 at special tokens
            and padding), used to find the special tokens.
        targets: LongTensor ``(b,)``, the class to explain per document; None (or -1 for a document): its
            predicted class, read from the same forward pass that gives f(x).
        baseline: x′. ``"pad"`` (default, as Transformers Interpret): every token replaced by ``[PAD]``,
            ``[CLS]``/``[SEP]`` kept; ``"mask"``: the same with ``[MASK]`` (needs ``tokenizer`` or
            ``model.config.mask_token_id``); ``"zero"``: the zero vector instead of each token's word
            embedding (specials kept); an ``int``: that token id in place of every token.
        n_steps: number of quadrature points over the whole path (an int ≥ 2), or ``"auto"`` (default):
            adaptive quadrature (see :func:`_adaptive`) — 9 gradient points per document at first, crowded
            where f changes, more only where a document's completeness error is above ``tolerance``
            (relative) and ``atol`` (absolute), up to ``max_steps`` points.
        quadrature: the rule (:mod:`._quadrature`). None (default): ``"gauss_legendre"`` for a fixed
            ``n_steps``, ``"clenshaw_curtis"`` for ``"auto"``. Auto mode refines by adding points between
            the ones it has, so it takes only a nested rule (``"clenshaw_curtis"`` or ``"riemann_trapezoid"``).
        output: f is the target's ``"prob"`` (softmax probability, default) or ``"logit"``.
        tolerance: relative completeness error accepted in auto mode (0.01 = 1 % of |f(x) − f(x′)|).
        atol: absolute completeness error also accepted (default 1e-4, in f's units): a document whose
            output barely moves (f(x) ≈ f(x′)) would otherwise need many steps for a meaningless ratio.
        max_steps: the most points auto mode will use; documents still above tolerance get a warning.
        internal_batch_size: (document, point) rows per forward/backward pass. None (default): as many as fit
            ``TOKEN_BUDGET`` = 2,048 tokens (about 38 rows of a 54-token paragraph; on 2 CPU cores passes of
            1,500–2,500 tokens run fastest per token, larger ones outgrow the caches); an int: that many rows.
        normalize: None (default) or ``"l2"``: divide each document's scores by their L2 norm, as
            Transformers Interpret does. That breaks completeness (scores no longer sum to
            f(x) − f(x′)) and makes scores incomparable across documents; only the ranking is kept.
        tokenizer: passed by :func:`course_utils.attribution.explain` (to find the ``[MASK]`` id).

    Returns:
        ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU, 0 at padding (``[CLS]``/
        ``[SEP]`` get 0 too with the default baselines, since they equal their baseline). diagnostics,
        each a 1-D tensor of length b: ``f_input`` f(x), ``f_baseline`` f(x′), ``sum_scores`` (before any
        normalisation), ``completeness_error`` |Σ scores − (f(x) − f(x′))|, ``relative_error`` (that over
        |f(x) − f(x′)|), ``n_steps`` (gradient points used), ``converged`` (relative error ≤ tolerance or
        absolute ≤ atol), ``forward_passes`` (every row the model ran for the document: its gradient
        points plus the forward-only ones — in auto mode the scan, where f(x) and f(x′) come with the
        gradients at α = 1 and α = 0; with an integer ``n_steps`` f(x) and f(x′)), ``target`` (the class
        explained); and ``logits`` ``(b, n_labels)``, the model's logits on the unaltered texts (the
        prediction: :func:`course_utils.attribution.explain` runs no forward pass of its own for IG).
    """
    auto = _check_steps(n_steps, max_steps)
    rule = _check_rule(quadrature, auto)
    _check_choices(baseline, output, normalize, tolerance, atol, internal_batch_size)
    device = batch["input_ids"].device
    input_ids, mask = batch["input_ids"], batch["attention_mask"]  # (b, s), (b, s)
    token_type_ids = batch.get("token_type_ids")
    with _frozen(model), torch.no_grad():
        x = model.get_input_embeddings()(input_ids)  # (b, s, h)
        x_base, base_ids = _baseline_embeddings(model, batch, x, baseline, tokenizer)  # (b, s, h), (b, s)
    diff = x - x_base  # (b, s, h)
    forward = _cls_forward.logits_function(model)
    b = input_ids.shape[0]
    if targets is None:  # (b,) the class per document; -1: the predicted one, filled in at α = 1
        chosen = torch.full((b,), -1, dtype=torch.long, device=device)
    else:  # a copy: the caller's tensor is never filled in
        chosen = targets.to(device).long().clone()
    run = _Path(forward, x_base, diff, mask, token_type_ids, chosen, output, internal_batch_size)
    with _frozen(model):  # gradients with respect to the inputs only
        # the unaltered texts (α = 1): the prediction and f(x); in auto mode with the gradient there, the rule's
        # last point
        g_input, logits = run.at_input(grad=auto)  # (b, s) or None, (b, n_labels)
        targets = run.targets  # (b,) now the predicted class wherever none was given
        f_input = _select(logits, targets, output)  # (b,)
        same = _same_baseline(base_ids, mask, token_type_ids, targets)  # (b,)
        if auto:  # f(x′) comes with the gradient at α = 0, the rule's first point
            g_base, f_base = run.at_baseline(same)  # (b, s), (b,)
            scores, used, passes = _adaptive(run, f_input, f_base, g_base, g_input, rule, tolerance, atol, max_steps)
        else:
            with torch.inference_mode():
                _, f_base = run.at_baseline(same, grad=False)  # (b,)
            scores = _fixed(run, torch.arange(b, device=device), int(n_steps), rule)  # (b, s)
            used = torch.full((b,), int(n_steps), dtype=torch.long)
            passes = used + 2
    delta = f_input - f_base  # (b,)
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
        "target": targets.cpu(),
        "logits": logits.cpu(),
    }
    return scores.cpu(), diagnostics


# ------------------------------------------------------------------------------------------ the maths
class _Path:
    """Evaluate points γ(α) = x′ + α(x − x′) on the straight paths of a batch, many (document, α) rows at once."""

    def __init__(self, forward, x_base, diff, mask, token_type_ids, targets, output, chunk):
        self.forward = forward  # logits from word embeddings (_cls_forward: [CLS]-only last layer for BERT)
        self.x_base, self.diff, self.mask = x_base, diff, mask  # (b, s, h), (b, s, h), (b, s)
        self.token_type_ids, self.targets, self.output, self.chunk = token_type_ids, targets, output, chunk
        self.lengths = mask.sum(1)  # (b,)

    def chunks(self, docs: torch.Tensor) -> list[slice]:
        """Consecutive rows per forward/backward pass: ``chunk`` rows if it is an int, else (None) the fewest
        passes of at most about ``TOKEN_BUDGET`` tokens, all about the same size (no small pass left over)."""
        if self.chunk is not None:
            return [slice(i, i + self.chunk) for i in range(0, len(docs), self.chunk)]
        if len(docs) == 0:
            return []
        ends = np.cumsum(self.lengths[docs].cpu().numpy())  # (rows,) tokens up to and including each row
        passes = -(-int(ends[-1]) // TOKEN_BUDGET)
        starts = np.searchsorted(ends, ends[-1] * np.arange(1, passes) / passes) + 1  # first row of passes 2, 3, …
        bounds = [0, *sorted({int(i) for i in starts if 0 < i < len(docs)}), len(docs)]
        return [slice(a, c) for a, c in zip(bounds[:-1], bounds[1:])]

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
                    self.targets[d] = torch.where(self.targets[d] < 0, logits.detach().argmax(1), self.targets[d])
                f = _select(logits, self.targets[d], self.output)  # (r,)
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
        integrands, _, logits = self._collect(docs, torch.ones(len(docs), dtype=torch.float64, device=docs.device),
                                              grad, predict=True)
        return integrands, logits

    def at_baseline(self, same: torch.Tensor, grad: bool = True):
        """Integrands ``(b, s)`` (None without ``grad``) and f ``(b,)`` at α = 0 for every document, running the
        model once per distinct baseline: ``same[d]`` is the first document whose baseline input and target
        equal document d's (:func:`_same_baseline`), so f(x′) and ∇f(x′) are shared and ∇f(x′) is only
        multiplied by each document's own x − x′."""
        first = torch.unique(same)  # (u,)
        at = torch.full((len(same),), -1, dtype=torch.long, device=same.device)
        at[first] = torch.arange(len(first), device=same.device)
        values, grads = [], []
        for d, s, _, f, g in self._rows(first, torch.zeros(len(first), dtype=torch.float64, device=same.device), grad):
            values.append(f)
            if grad:
                grads += [g[r, :s] for r in range(len(d))]  # (s, h) each
        f_all = torch.cat(values)[at[same]]  # (b,)
        if not grad:
            return None, f_all
        c = torch.zeros((len(same), self.diff.shape[1]), dtype=torch.float32, device=same.device)  # (b, s_max)
        for doc in range(len(same)):
            g = grads[int(at[same[doc]])]  # (s, h)
            c[doc, : g.shape[0]] = (self.diff[doc, : g.shape[0]] * g).sum(-1).float()
        return c, f_all


def _fixed(run: _Path, docs: torch.Tensor, n_steps: int, rule: str) -> torch.Tensor:
    """Scores ``(len(docs), s)`` with one ``n_steps``-point rule over the whole path [0, 1]."""
    device = docs.device
    alpha = torch.as_tensor(_quadrature.alphas(n_steps, rule), device=device)  # (m,)
    weight = torch.as_tensor(_quadrature.weights(n_steps, rule), dtype=torch.float32, device=device)  # (m,)
    rows = torch.arange(len(docs), device=device).repeat_interleave(n_steps)  # (len(docs) * m,) document-major
    step = torch.arange(n_steps, device=device).repeat(len(docs))  # (len(docs) * m,)
    g, _ = run(docs[rows], alpha[step])  # (rows, s)
    scores = torch.zeros((len(docs), g.shape[1]), dtype=torch.float32, device=device)  # (len(docs), s)
    return scores.index_add_(0, rows, g * weight[step][:, None])


class _Warp:
    """A smooth increasing map α(t) of [0, 1] onto itself that spends more of t where f changes.

    From f at the scanned points α = 0, 1/(k+1), …, 1: each stretch's change |Δf| is spread as a bell curve
    (sd ``SPREAD`` × the stretch's width, cut to [0, 1]) centred on the stretch, plus a uniform ``FLOOR``
    share. Their sum is a density ρ(α) > 0 with cumulative R(α); α(t) = R⁻¹(t). Then
    ∫₀¹ g(α) dα = ∫₀¹ g(α(t)) / ρ(α(t)) dt, and equally spaced stretches of t are short stretches of α
    where f changes. The map is smooth, so the integrand in t stays smooth and the rule converges fast.
    """

    def __init__(self, f_scan: np.ndarray):
        stretches = len(f_scan) - 1  # f_scan (k + 2,): f at α = j / (k + 1)
        change = np.abs(np.diff(f_scan))  # (k + 1,)
        total = float(change.sum())
        if not np.isfinite(total) or total <= 0.0:  # f does not move (or is not finite): plain rule
            change, total = np.zeros(stretches), 1.0
        self.change, self.floor = change, FLOOR * total
        self.centre = (np.arange(stretches) + 0.5) / stretches  # (k + 1,)
        self.sd = SPREAD / stretches
        self.low = special.ndtr(-self.centre / self.sd)  # (k + 1,) each bell curve's mass below 0 …
        self.inside = special.ndtr((1.0 - self.centre) / self.sd) - self.low  # … and inside [0, 1]
        self.norm = float(self.change.sum()) + self.floor

    def cdf(self, alpha: np.ndarray) -> np.ndarray:
        """R(α) ``(m,)`` for α ``(m,)`` in [0, 1]."""
        z = (alpha[:, None] - self.centre) / self.sd  # (m, k + 1)
        bells = ((special.ndtr(z) - self.low) / self.inside * self.change).sum(1)  # (m,)
        return (bells + self.floor * alpha) / self.norm

    def density(self, alpha: np.ndarray) -> np.ndarray:
        """ρ(α) = R′(α) ``(m,)``."""
        z = (alpha[:, None] - self.centre) / self.sd  # (m, k + 1)
        bells = (np.exp(-0.5 * z**2) / (self.sd * np.sqrt(2.0 * np.pi)) / self.inside * self.change).sum(1)
        return (bells + self.floor) / self.norm

    def alpha(self, t: np.ndarray) -> np.ndarray:
        """α(t) = R⁻¹(t) ``(m,)`` to float64 precision (R is increasing): 12 bisection steps, then Newton's
        method (R′ = ρ > 0), kept inside the bracket; α(0) = 0, α(1) = 1."""
        low, high = np.zeros_like(t), np.ones_like(t)
        for _ in range(12):
            mid = (low + high) / 2.0
            below = self.cdf(mid) < t
            low, high = np.where(below, mid, low), np.where(below, high, mid)
        alpha = (low + high) / 2.0
        for _ in range(4):
            alpha = np.clip(alpha - (self.cdf(alpha) - t) / self.density(alpha), low, high)
        return np.where(t <= 0.0, 0.0, np.where(t >= 1.0, 1.0, alpha))


class _Piece:
    """A stretch [t0, t1] of the warped path with a nested rule of ``m`` intervals (m + 1 points).

    Keeps the integrand rows ``g`` ``(m + 1, s)`` and f ``(m + 1,)`` at its points, so refining it (2m
    intervals) evaluates only the m new points in between."""

    def __init__(self, doc: int, t0: float, t1: float, m: int, rule: str, warp: _Warp):
        self.doc, self.t0, self.t1, self.m, self.rule, self.warp = doc, t0, t1, m, rule, warp
        self.g: torch.Tensor | None = None
        self.f: torch.Tensor | None = None
        self._nodes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def nodes(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """α ``(m + 1,)`` at the points of the m-interval rule on this piece and their weights in α
        (wⱼ (t1 − t0) / ρ(αⱼ)); computed once per m."""
        if m not in self._nodes:
            t = self.t0 + (self.t1 - self.t0) * _quadrature.alphas(m + 1, self.rule)  # (m + 1,)
            alpha = self.warp.alpha(t)
            weight = (self.t1 - self.t0) * _quadrature.weights(m + 1, self.rule) / self.warp.density(alpha)
            self._nodes[m] = (alpha, weight)
        return self._nodes[m]

    def integral(self) -> torch.Tensor:
        """The piece's token scores ``(s,)``: Σⱼ wⱼ (t1 − t0) g(α(tⱼ)) / ρ(α(tⱼ))."""
        _, weight = self.nodes(self.m)
        return (torch.as_tensor(weight, dtype=torch.float32, device=self.g.device)[:, None] * self.g).sum(0)

    def change(self) -> float:
        """f(end) − f(start): what the piece's scores must sum to (completeness on the piece, known exactly)."""
        return float(self.f[-1] - self.f[0])


def _adaptive(run: _Path, f_input, f_base, g_base, g_input, rule, tolerance, atol, max_steps):
    """Adaptive warped quadrature: scores ``(b, s)``, gradient points used ``(b,)``, all passes ``(b,)``.

    1. Scan: f at ``AUTO_SCAN`` inner points α = 1/4, 1/2, 3/4 of each path (forward passes only, cheap)
       shows where f changes; :class:`_Warp` turns that into a smooth change of variable α(t) that crowds
       the points there.
    2. The t-axis is cut into ``AUTO_PIECES`` pieces, each integrated with a nested rule of ``AUTO_LEVEL``
       intervals (Clenshaw–Curtis by default): ``AUTO_START`` gradient points per document, the ends
       α = 0 and α = 1 included (their rows ``g_base``, ``g_input`` ``(b, s)`` are computed before: they give
       f(x′) and f(x)).
    3. Completeness holds on every piece — its token scores must sum to f(end) − f(start), and f there
       comes free with the gradient rows — so each piece's error is known exactly. While a document's total
       error exceeds ``tolerance`` (relative) and ``atol``, its worst pieces get twice the intervals; the
       nested rule keeps every point already computed, so no gradient is ever computed twice. At most
       ``max_steps`` gradient points per document.
    """
    device = f_input.device
    b, s = len(f_input), run.diff.shape[1]
    k = AUTO_SCAN
    inner = torch.tensor([(j + 1) / (k + 1) for j in range(k)] * b, dtype=torch.float64, device=device)  # (b * k,)
    f_inner = run(torch.arange(b, device=device).repeat_interleave(k), inner, grad=False).view(b, k)
    f_scan = torch.cat([f_base[:, None], f_inner.to(f_base.dtype), f_input[:, None]], 1).double().cpu().numpy()
    cuts = np.linspace(0.0, 1.0, AUTO_PIECES + 1)
    pieces = [[_Piece(d, cuts[j], cuts[j + 1], AUTO_LEVEL, rule, warp) for j in range(AUTO_PIECES)]
              for d, warp in ((d, _Warp(f_scan[d])) for d in range(b))]
    # first round: every point of every piece but α = 0 and α = 1 (done: g_base, g_input); a piece's first
    # point is its left neighbour's last
    for d, row in enumerate(pieces):
        row[0].g, row[0].f = g_base[d : d + 1], f_base[d : d + 1].to(torch.float32)
    requests = [(p, list(range(1, AUTO_LEVEL if p is row[-1] else AUTO_LEVEL + 1))) for row in pieces for p in row]
    spent = [AUTO_START] * b
    delta = (f_input - f_base).tolist()
    first_round = True
    while requests:
        new = _evaluate_points(run, requests, device, first_round)  # one batched job for all documents
        for (p, idx), (g, f) in zip(requests, new):
            if first_round:  # the first point is α = 0 (piece 0) or the last point of the piece on the left
                row = pieces[p.doc]
                left = p if p.g is not None else row[row.index(p) - 1]
                p.g, p.f = torch.cat([left.g[-1:], g]), torch.cat([left.f[-1:].to(f.dtype), f])
                if p is row[-1]:  # its last point is α = 1
                    p.g = torch.cat([p.g, g_input[p.doc : p.doc + 1]])
                    p.f = torch.cat([p.f, f_input[p.doc : p.doc + 1].to(f.dtype)])
            else:  # refined: old points at even positions, new at odd
                m = 2 * p.m
                g_all = torch.empty((m + 1, s), dtype=g.dtype, device=device)
                f_all = torch.empty(m + 1, dtype=f.dtype, device=device)
                g_all[0::2], g_all[1::2], f_all[0::2], f_all[1::2] = p.g, g, p.f, f
                p.g, p.f, p.m = g_all, f_all, m
        changed = {p.doc for p, _ in requests}  # the other documents are settled
        requests, first_round = [], False
        for d in sorted(changed):
            sums = [float(p.integral().sum()) for p in pieces[d]]
            errors = {j: abs(total - p.change()) for j, (p, total) in enumerate(zip(pieces[d], sums))}
            allowed = max(tolerance * abs(delta[d]), atol)
            if abs(sum(sums) - delta[d]) <= allowed:
                continue
            for j in _pieces_to_refine(list(errors), errors, allowed):
                p = pieces[d][j]
                if spent[d] + p.m > max_steps:
                    break
                spent[d] += p.m
                requests.append((p, list(range(1, 2 * p.m, 2))))  # the new (odd) points of the 2m-interval rule
    scores = torch.stack([sum(p.integral() for p in row) for row in pieces])  # (b, s)
    used = torch.tensor(spent)
    return scores, used, used + k  # + the scan (f(x′) and f(x) came with the gradients at α = 0 and 1)


def _evaluate_points(run: _Path, requests, device, first_round: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Gradient rows for ``requests`` [(piece, point indices on its first rule, or on its refined rule)] in one
    batched job; per request the integrands ``(len(idx), s)`` and f ``(len(idx),)``."""
    docs, alpha, sizes = [], [], []
    for p, idx in requests:
        m = p.m if first_round else 2 * p.m
        docs += [p.doc] * len(idx)
        alpha.append(p.nodes(m)[0][idx])
        sizes.append(len(idx))
    g, f = run(torch.tensor(docs, device=device), torch.tensor(np.concatenate(alpha), dtype=torch.float64, device=device))
    return list(zip(g.split(sizes), f.split(sizes)))


def _pieces_to_refine(mine: list[int], errors: dict[int, float], allowed: float) -> list[int]:
    """The fewest pieces, worst first, whose refinement leaves at most ``REFINE_SHARE × allowed`` (90 %) of error in the others.

    A refined piece's error typically shrinks many-fold (twice the intervals), so the document's total
    error should end below ``allowed``; pieces already accurate are not refined.
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


def _select(logits: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    """f from logits ``(r, n_labels)``: the target's probability or logit ``(r,)``."""
    values = torch.softmax(logits, dim=-1) if output == "prob" else logits  # (r, n_labels)
    return values.gather(1, targets[:, None]).squeeze(1)  # (r,)


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
    """x′ ``(b, s, h)``: the baseline's word embeddings, equal to x at special tokens and padding; and the
    baseline's token ids ``(b, s)`` (-1 where the zero baseline puts zero vectors)."""
    content = batch["attention_mask"].bool() & ~special_mask(batch)  # (b, s)
    if baseline == "zero":
        return x.masked_fill(content[..., None], 0.0), batch["input_ids"].masked_fill(content, -1)
    token_id = _baseline_token_id(model, baseline, tokenizer)
    ids = batch["input_ids"].masked_fill(content, token_id)  # (b, s)
    return model.get_input_embeddings()(ids), ids  # (b, s, h), (b, s)


def _same_baseline(base_ids, mask, token_type_ids, targets) -> torch.Tensor:
    """LongTensor ``(b,)``: for each document the first one with the same baseline input (token ids, segments,
    length) and target — e.g. all paragraphs of one length under the ``[PAD]`` baseline — whose f(x′) and
    ∇f(x′) are then computed once."""
    lengths = mask.sum(1).tolist()
    types = token_type_ids if token_type_ids is not None else torch.zeros_like(base_ids)
    seen: dict[tuple, int] = {}
    same = [seen.setdefault((n, int(t), tuple(ids[:n]), tuple(tt[:n])), d)
            for d, (n, t, ids, tt) in enumerate(zip(lengths, targets.tolist(), base_ids.tolist(), types.tolist()))]
    return torch.tensor(same, dtype=torch.long, device=base_ids.device)


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


def _check_rule(quadrature, auto: bool) -> str:
    """The rule to use: the default for the mode when ``quadrature`` is None; auto mode needs a nested rule."""
    if quadrature is None:
        return "clenshaw_curtis" if auto else "gauss_legendre"
    rule = _quadrature.check_rule(quadrature)
    if auto and rule not in _quadrature.NESTED:
        raise ValueError(f"n_steps='auto' refines its rule by adding points between the ones it has, which needs a "
                         f"nested rule: quadrature='clenshaw_curtis' (its default) or 'riemann_trapezoid'. "
                         f"{rule!r} moves every point when their number changes; use it with an integer n_steps.")
    return rule


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
    if internal_batch_size is not None and (isinstance(internal_batch_size, bool) or not isinstance(
            internal_batch_size, (int, np.integer)) or internal_batch_size < 1):
        raise ValueError(f"internal_batch_size={internal_batch_size!r} must be a positive integer (rows per pass) or "
                         f"None (rows chosen to fill about {TOKEN_BUDGET} tokens per pass)")
