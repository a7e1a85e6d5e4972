"""The load study's mathematics: shares, the binomial spread, the chi-square
test of counts against an even split (scipy.stats), and a median. Plain
functions, no Docker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import chisquare


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
    least this large if the counts really came from the expected split
    (scipy.stats.chisquare: the survival function of chi-square, df = k - 1)."""
    k = len(observed)
    if k < 2:
        raise ValueError("a chi-square test needs at least two categories")
    total = float(sum(observed))
    exp = list(expected) if expected is not None else [total / k] * k
    if len(exp) != k or any(e <= 0 for e in exp):
        raise ValueError("expected counts must be positive, one per category")
    # as before scipy: expected counts need not add up to the observed total
    result = chisquare(list(observed), exp, sum_check=False)
    return ChiSquare(float(result.statistic), k - 1, float(result.pvalue))


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones); 0 for no values."""
    xs = sorted(values)
    if not xs:
        return 0.0
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
