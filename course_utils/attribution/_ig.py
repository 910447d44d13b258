"""Integrated gradients on BERT's word-embedding layer, batched across documents and integration steps.

For a document with word embeddings x (one row per token) and a baseline x′, IG attributes

    score_i = Σ_h (x_ih − x′_ih) · ∫₀¹ ∂f(x′ + α(x − x′)) / ∂x_ih dα        (Sundararajan et al., 2017)

where f is the target class's softmax probability (``output="prob"``, the default — as Transformers
Interpret does) or its logit (``output="logit"``). The integral is a quadrature Σₖ wₖ g(αₖ)
(:mod:`._quadrature`). Position and segment embeddings are added by the model after the interpolated word
embeddings, exactly as Captum's ``LayerIntegratedGradients`` on ``embeddings.word_embeddings`` does.

Completeness: Σᵢ score_i = f(x) − f(x′) exactly for the true integral; the quadrature's shortfall is the
**completeness error**, reported per document. Completeness also holds on every piece [a, c] of the path
(the scores of a piece sum to f(γ(c)) − f(γ(a))), which ``n_steps="auto"`` uses (:mod:`._ig_adaptive`): it
finds with ``AUTO_SCAN`` cheap forward passes where f changes, crowds the points there through a smooth
change of variable (:class:`._ig_adaptive.Warp`), starts with ``AUTO_START`` gradient points in ``AUTO_PIECES``
pieces, and adds points only to the pieces — known exactly per piece — whose error keeps the document
above ``tolerance``; its nested rule keeps every point already computed.

Cost: nearly all of the time is forward and backward passes, one per (document, point) row. Rows go
through :mod:`._cls_forward`, which skips the last layer's work at every position but ``[CLS]`` (the only
one a BERT classifier reads).

Batching (:mod:`._ig_passes`): all (document, point) pairs of a batch are rows of one big job, cut into passes
of about ``TOKEN_BUDGET`` tokens (or ``internal_batch_size`` rows); each pass is trimmed to its longest document, and
for BERT the per-token work skips the padding altogether (:mod:`._cls_forward` packs the rows). Documents
with the same baseline input and target (under ``[PAD]``: the same length) share one evaluation of f(x′) and
∇f(x′). The prediction (and f(x)) comes with the gradient at α = 1, so no pass runs only to predict.

Modules: this one is the method (its options, checks and diagnostics); :mod:`._ig_path` the paths, their
gradients and a fixed rule's integral; :mod:`._ig_adaptive` the adaptive refinement; :mod:`._ig_passes` the
scheduling of rows into passes.

Taught in notebook 03 (integrated gradients).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_choice, check_scalar
from . import _cls_forward, _ig_passes, _quadrature
from ._ig_adaptive import AUTO_PIECES, AUTO_SCAN, AUTO_START, adaptive
from ._ig_passes import TOKEN_BUDGET, same_baseline
from ._ig_path import Paths, baseline_embeddings, fixed, frozen_parameters, select
from ._method import Diagnostics, Method, as_kwargs

BASELINES = ("pad", "mask", "zero")
OUTPUTS = ("prob", "logit")
ATOL = 1e-4  # default absolute completeness error accepted in auto mode (when f(x) ≈ f(x′) relative error means little)
__all__ = [
    "attribute",
    "IntegratedGradients",
    "ATOL",
    "AUTO_PIECES",
    "AUTO_SCAN",
    "AUTO_START",
    "TOKEN_BUDGET",
]


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
            adaptive quadrature (see :func:`adaptive`) — 9 gradient points per document at first, crowded
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
            a token budget: on a CPU ``TOKEN_BUDGET`` = 2,048 tokens (about 38 rows of a 54-token paragraph; on
            2 CPU cores passes of 1,500–2,500 tokens run fastest per token, larger ones outgrow the caches), on
            a CUDA device what half its free memory holds (:func:`._ig_passes.token_budget`); an int: that many
            rows.
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
    with frozen_parameters(model), torch.no_grad():
        x = model.get_input_embeddings()(input_ids)  # (b, s, h)
        x_base, base_ids = baseline_embeddings(model, batch, x, baseline, tokenizer)  # (b, s, h), (b, s)
    diff = x - x_base  # (b, s, h)
    forward = _cls_forward.logits_function(model)
    b = input_ids.shape[0]
    if targets is None:  # (b,) the class per document; -1: the predicted one, filled in at α = 1
        chosen = torch.full((b,), -1, dtype=torch.long, device=device)
    else:  # a copy: the caller's tensor is never filled in
        chosen = targets.to(device).long().clone()
    budget = _ig_passes.token_budget(
        device, model.config, mask.shape[1], x.dtype
    )  # tokens per pass (CUDA: memory)
    run = Paths(forward, x_base, diff, mask, token_type_ids, chosen, output, internal_batch_size, budget)
    with frozen_parameters(model):  # gradients with respect to the inputs only
        # the unaltered texts (α = 1): the prediction and f(x); in auto mode with the gradient there, the rule's
        # last point
        g_input, logits = run.at_input(grad=auto)  # (b, s) or None, (b, n_labels)
        targets = run.targets  # (b,) now the predicted class wherever none was given
        f_input = select(logits, targets, output)  # (b,)
        same = same_baseline(base_ids, mask, token_type_ids, targets)  # (b,)
        if auto:  # f(x′) comes with the gradient at α = 0, the rule's first point
            g_base, f_base = run.at_baseline(same)  # (b, s), (b,)
            scores, used, passes = adaptive(
                run, f_input, f_base, g_base, g_input, rule, tolerance, atol, max_steps
            )
        else:
            with torch.inference_mode():
                _, f_base = run.at_baseline(same, grad=False)  # (b,)
            scores = fixed(run, torch.arange(b, device=device), int(n_steps), rule)  # (b, s)
            used = torch.full((b,), int(n_steps), dtype=torch.long)
            passes = used + 2
    delta = f_input - f_base  # (b,)
    error = (scores.sum(1) - delta).abs()  # (b,)
    ok = (error <= tolerance * delta.abs()) | (error <= atol)  # (b,)
    if auto and not ok.all():
        warnings.warn(
            f"{int((~ok).sum())} document(s) kept a completeness error above tolerance={tolerance} after "
            f"max_steps={max_steps} steps; their scores are less exact (see relative_error). "
            "Raise max_steps to go further.",
            UserWarning,
            stacklevel=3,
        )
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


class IntegratedGradients(Method):
    """``explain(..., method="ig")``: :func:`attribute` behind the :class:`~._method.Method` contract."""

    name = "ig"
    predicts = True  # the logits come with the gradient at α = 1
    needs_tokenizer = True  # the [MASK] id of baseline="mask"

    @dataclass(frozen=True)
    class Options:
        baseline: str | int = "pad"
        n_steps: int | str = "auto"
        quadrature: str | None = None
        output: str = "prob"
        tolerance: float = 0.01
        atol: float = ATOL
        max_steps: int = 256
        internal_batch_size: int | None = None
        normalize: str | None = None

        def __post_init__(self):
            _check_rule(self.quadrature, _check_steps(self.n_steps, self.max_steps))
            _check_choices(
                self.baseline,
                self.output,
                self.normalize,
                self.tolerance,
                self.atol,
                self.internal_batch_size,
            )

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        scores, diagnostics = attribute(model, batch, targets, **as_kwargs(options), tokenizer=tokenizer)
        logits, target = diagnostics.pop("logits"), diagnostics.pop("target")
        return scores, Diagnostics.of(diagnostics, logits=logits, target=target)


# ------------------------------------------------------------------------------------------ validation
def _check_steps(n_steps, max_steps) -> bool:
    """True for auto mode; raises for a bad ``n_steps``/``max_steps``."""
    check_scalar(max_steps, "max_steps", int, min_val=AUTO_START)
    if isinstance(n_steps, str):
        if n_steps != "auto":
            raise ValueError(f"n_steps={n_steps!r} is not understood; give an integer ≥ 2 or 'auto'")
        return True
    check_scalar(n_steps, "n_steps", int, min_val=2, hint="(typical: 16–64), or n_steps='auto'")
    return False


def _check_rule(quadrature, auto: bool) -> str:
    """The rule to use: the default for the mode when ``quadrature`` is None; auto mode needs a nested rule."""
    if quadrature is None:
        return "clenshaw_curtis" if auto else "gauss_legendre"
    rule = _quadrature.check_rule(quadrature)
    if auto and rule not in _quadrature.NESTED:
        raise ValueError(
            f"n_steps='auto' refines its rule by adding points between the ones it has, which needs a "
            f"nested rule: quadrature='clenshaw_curtis' (its default) or 'riemann_trapezoid'. "
            f"{rule!r} moves every point when their number changes; use it with an integer n_steps."
        )
    return rule


def _check_choices(baseline, output, normalize, tolerance, atol, internal_batch_size) -> None:
    if not isinstance(baseline, (int, np.integer)) or isinstance(baseline, bool):
        check_choice(baseline, "baseline", BASELINES, hint=f"choose one of {list(BASELINES)} or a token id")
    check_choice(output, "output", OUTPUTS)
    check_choice(normalize, "normalize", (None, "l2"), hint="use None (default) or 'l2'")
    check_scalar(
        tolerance,
        "tolerance",
        float,
        min_val=0,
        include_boundaries="neither",
        hint="(0.01 = 1 % completeness error)",
    )
    check_scalar(atol, "atol", float, min_val=0, hint="(absolute completeness error accepted)")
    check_scalar(
        internal_batch_size,
        "internal_batch_size",
        int,
        min_val=1,
        allow_none=True,
        hint=f"(rows per pass; None: rows chosen to fill about {TOKEN_BUDGET} tokens per pass)",
    )
