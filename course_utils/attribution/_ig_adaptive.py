"""Integrated gradients' adaptive quadrature (``n_steps="auto"``): a change of variable that crowds the points
where f changes, pieces of the path refined until the completeness error is below tolerance.

Completeness holds on every piece [a, c] of the path — the scores of a piece sum to f(γ(c)) − f(γ(a)) — so
each piece's quadrature error is known exactly. :func:`adaptive` finds with ``AUTO_SCAN`` cheap forward
passes where f changes, crowds the points there through a smooth change of variable (:class:`Warp`), starts
with ``AUTO_START`` gradient points in ``AUTO_PIECES`` pieces (:class:`Piece`), and adds points only to the
pieces whose error keeps the document above ``tolerance`` (:func:`pieces_to_refine`); its nested rule keeps
every point already computed.

Taught in notebook 03 (integrated gradients: how many steps?).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import special

from . import _quadrature
from ._ig_path import Paths

AUTO_SCAN = 3  # auto mode: f is scanned (forward passes only) at α = 1/4, 1/2, 3/4 …
SPREAD = 0.7  # … each stretch's change |Δf| becomes a bell curve with sd SPREAD × the stretch's width …
FLOOR = 0.1  # … plus this share spread evenly: the density of points along the path (Warp)
AUTO_PIECES = 2  # the warped path is cut into this many pieces …
AUTO_LEVEL = 4  # … each with a nested rule of this many intervals at first …
AUTO_START = (
    AUTO_PIECES * AUTO_LEVEL + 1
)  # … 9 gradient points per document (also the smallest max_steps allowed)
REFINE_SHARE = (
    0.9  # auto mode refines the worst pieces until the others hold at most this share of the allowed error
)


class Warp:
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


class Piece:
    """A stretch [t0, t1] of the warped path with a nested rule of ``m`` intervals (m + 1 points).

    Keeps the integrand rows ``g`` ``(m + 1, s)`` and f ``(m + 1,)`` at its points, so refining it (2m
    intervals) evaluates only the m new points in between."""

    def __init__(self, doc: int, t0: float, t1: float, m: int, rule: str, warp: Warp):
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


def adaptive(run: Paths, f_input, f_base, g_base, g_input, rule, tolerance, atol, max_steps):
    """Adaptive warped quadrature: scores ``(b, s)``, gradient points used ``(b,)``, all passes ``(b,)``.

    1. Scan: f at ``AUTO_SCAN`` inner points α = 1/4, 1/2, 3/4 of each path (forward passes only, cheap)
       shows where f changes; :class:`Warp` turns that into a smooth change of variable α(t) that crowds
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
    inner = torch.tensor(
        [(j + 1) / (k + 1) for j in range(k)] * b, dtype=torch.float64, device=device
    )  # (b * k,)
    f_inner = run(torch.arange(b, device=device).repeat_interleave(k), inner, grad=False).view(b, k)
    f_scan = (
        torch.cat([f_base[:, None], f_inner.to(f_base.dtype), f_input[:, None]], 1).double().cpu().numpy()
    )
    cuts = np.linspace(0.0, 1.0, AUTO_PIECES + 1)
    pieces = [
        [Piece(d, cuts[j], cuts[j + 1], AUTO_LEVEL, rule, warp) for j in range(AUTO_PIECES)]
        for d, warp in ((d, Warp(f_scan[d])) for d in range(b))
    ]
    # first round: every point of every piece but α = 0 and α = 1 (done: g_base, g_input); a piece's first
    # point is its left neighbour's last
    for d, row in enumerate(pieces):
        row[0].g, row[0].f = g_base[d : d + 1], f_base[d : d + 1].to(torch.float32)
    requests = [
        (p, list(range(1, AUTO_LEVEL if p is row[-1] else AUTO_LEVEL + 1))) for row in pieces for p in row
    ]
    spent = [AUTO_START] * b
    delta = (f_input - f_base).tolist()
    first_round = True
    while requests:
        new = evaluate_points(run, requests, device, first_round)  # one batched job for all documents
        for (p, _idx), (g, f) in zip(requests, new):
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
            for j in pieces_to_refine(list(errors), errors, allowed):
                p = pieces[d][j]
                if spent[d] + p.m > max_steps:
                    break
                spent[d] += p.m
                requests.append(
                    (p, list(range(1, 2 * p.m, 2)))
                )  # the new (odd) points of the 2m-interval rule
    scores = torch.stack([sum(p.integral() for p in row) for row in pieces])  # (b, s)
    used = torch.tensor(spent)
    return scores, used, used + k  # + the scan (f(x′) and f(x) came with the gradients at α = 0 and 1)


def evaluate_points(
    run: Paths, requests, device, first_round: bool
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Gradient rows for ``requests`` [(piece, point indices on its first rule, or on its refined rule)] in one
    batched job; per request the integrands ``(len(idx), s)`` and f ``(len(idx),)``."""
    docs, alpha, sizes = [], [], []
    for p, idx in requests:
        m = p.m if first_round else 2 * p.m
        docs += [p.doc] * len(idx)
        alpha.append(p.nodes(m)[0][idx])
        sizes.append(len(idx))
    g, f = run(
        torch.tensor(docs, device=device),
        torch.tensor(np.concatenate(alpha), dtype=torch.float64, device=device),
    )
    return list(zip(g.split(sizes), f.split(sizes)))


def pieces_to_refine(mine: list[int], errors: dict[int, float], allowed: float) -> list[int]:
    """The fewest pieces, worst first, whose refinement leaves at most ``REFINE_SHARE × allowed`` (90 %) of
    error in the others.

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
