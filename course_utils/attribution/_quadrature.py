"""Integration rules on [0, 1] for the integrated-gradients path integral.

IG approximates ∫₀¹ g(α) dα by Σₖ wₖ g(αₖ). Three rules:

- ``"riemann_trapezoid"``: n equally spaced points 0, 1/(n−1), …, 1 (both ends included); weights
  1/(n−1), halved at the two ends. Error shrinks like 1/n².
  (Captum's ``"riemann_trapezoid"`` uses steps of 1/n with halved ends, whose weights sum to (n−1)/n
  instead of 1; ours is the textbook trapezoid rule, so a constant integrand is integrated exactly.)
- ``"gauss_legendre"``: the n Gauss–Legendre nodes mapped from [−1, 1] to [0, 1] (α = (1 + x)/2,
  w = w_x / 2). Exact for polynomials of degree ≤ 2n − 1, so smooth integrands converge much faster;
  the ends 0 and 1 are never evaluated. Same nodes as Captum's ``"gausslegendre"``.
- ``"clenshaw_curtis"``: the n Chebyshev points α = (1 − cos(πj/(n−1)))/2, j = 0 … n−1 (both ends
  included, crowded towards them), with the weights that integrate the polynomial through them exactly
  (exact for degree ≤ n − 1, and converges almost as fast as Gauss–Legendre on smooth integrands). Its
  points are **nested**: the (2n − 1)-point rule contains every point of the n-point rule, as does the
  trapezoid rule's, so a rule can be refined by evaluating only the new points — what ``n_steps="auto"``
  does (:mod:`._ig`).

Taught in notebook 03 (integrated gradients: completeness in practice).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_scalar

RULES = ("gauss_legendre", "riemann_trapezoid", "clenshaw_curtis")
NESTED = ("clenshaw_curtis", "riemann_trapezoid")  # rules whose 2n − 1 points contain their n points


def check_rule(method: str) -> str:
    """``method`` if it names a supported rule, else ``ValueError`` listing :data:`RULES`."""
    return check_choice(method, "quadrature", RULES)


def _check_n(n: int, method: str) -> int:
    smallest = 1 if method == "gauss_legendre" else 2
    check_scalar(n, "n_steps", int, hint="(typical: 16–64)")
    return check_scalar(
        n, "n_steps", int, min_val=smallest, hint=f"with quadrature={method!r} (typical: 16–64)"
    )


def alphas(n: int, method: str = "gauss_legendre") -> np.ndarray:
    """The ``n`` points α in [0, 1] where the path is evaluated, ascending; float64 array ``(n,)``."""
    n = _check_n(n, check_rule(method))
    if method == "riemann_trapezoid":
        return np.linspace(0.0, 1.0, n)
    if method == "clenshaw_curtis":
        return (1.0 - np.cos(np.pi * np.arange(n) / (n - 1))) / 2.0
    nodes, _ = np.polynomial.legendre.leggauss(n)
    return (nodes + 1.0) / 2.0


def weights(n: int, method: str = "gauss_legendre") -> np.ndarray:
    """The weights of the ``n`` points of :func:`alphas` (same order); float64 array ``(n,)`` summing to 1."""
    n = _check_n(n, check_rule(method))
    if method == "riemann_trapezoid":
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] /= 2.0
        return w
    if method == "clenshaw_curtis":
        return _clenshaw_curtis_weights(n - 1)
    _, w = np.polynomial.legendre.leggauss(n)
    return w / 2.0


def _clenshaw_curtis_weights(m: int) -> np.ndarray:
    """Weights ``(m + 1,)`` on [0, 1] of the Clenshaw–Curtis rule with m intervals (Trefethen, *Spectral
    Methods*, ch. 12)."""
    theta = np.pi * np.arange(m + 1) / m  # (m + 1,)
    k = np.arange(1, m // 2 + 1)  # (m // 2,)
    b = np.where(2 * k == m, 1.0, 2.0)  # the last cosine term is halved when m is even
    w = 1.0 - (b / (4.0 * k**2 - 1.0) * np.cos(2.0 * np.outer(theta, k))).sum(1)  # (m + 1,)
    w *= np.where((np.arange(m + 1) == 0) | (np.arange(m + 1) == m), 1.0, 2.0) / m
    return w / 2.0  # from [-1, 1] to [0, 1]
