"""The load study's mathematics: shares, the binomial spread, the chi-square
test of counts against an even split, and a median. Plain functions, no Docker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def shares(counts: Mapping[str, float]) -> dict[str, float]:
    """Each key's part of the total (all 0 when the total is 0)."""
    total = sum(counts.values())
    return {k: (v / total if total else 0.0) for k, v in counts.items()}


def binomial_sd(n: int, p: float) -> float:
    """Standard deviation of a count out of n when each falls in with chance p."""
    return math.sqrt(n * p * (1.0 - p))


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's goodness-of-fit test of counts against expected counts."""

    statistic: float
    df: int
    p_value: float


def chi_square(observed: Sequence[float], expected: Sequence[float] | None = None) -> ChiSquare:
    """Chi-square test of `observed` against `expected` (default: an even split).

    For k categories df = k - 1. The p-value is the chance of a statistic at
    least this large if the counts really came from the expected split."""
    k = len(observed)
    if k < 2:
        raise ValueError("a chi-square test needs at least two categories")
    total = float(sum(observed))
    exp = list(expected) if expected is not None else [total / k] * k
    if len(exp) != k or any(e <= 0 for e in exp):
        raise ValueError("expected counts must be positive, one per category")
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, exp, strict=True))
    return ChiSquare(stat, k - 1, chi2_sf(stat, k - 1))


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the chi-square distribution: P(X >= x), df degrees.

    It is the regularized upper incomplete gamma function Q(df/2, x/2)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a series below a + 1, else a continued
    fraction (both converge fast there; Numerical Recipes 6.2)."""
    log_front = -x + a * math.log(x) - math.lgamma(a)
    eps, tiny = 1e-15, 1e-300
    if x < a + 1.0:  # P(a, x) = e^-x x^a / Gamma(a) * sum x^n / (a (a+1) ... (a+n))
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * eps:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's method for the continued fraction of Q.
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return min(1.0, math.exp(log_front) * h)


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones); 0 for no values."""
    xs = sorted(values)
    if not xs:
        return 0.0
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
