"""Measured figures and the progress callback, shared by the bench and the
studies it calls (plain data: no Docker)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Progress = Callable[[str], None]


@dataclass
class Figure:
    """One measured quantity over one or more runs."""

    name: str
    unit: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(median=self.median, min=min(self.runs, default=None),
                 max=max(self.runs, default=None))
        return d


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
