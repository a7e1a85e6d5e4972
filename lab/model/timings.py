"""Where the time of `foolab up` goes, phase by phase (`foolab up --timings`
and the startup bench): plain data, no Docker.

A phase is named in the lab's terms ("image foolab/db", "compose up",
"db1 running -> healthy") and may run beside others (the images build side
by side, the hosts start at once), so the phases' seconds add up to more
than the whole; the whole is its own line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

WHOLE = "the whole up"


@dataclass
class Phases:
    """Seconds per phase, in the order the phases began."""

    took: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, seconds: float) -> None:
        """Count `seconds` more to phase `name` (a phase met twice adds up)."""
        with self._lock:
            self.took[name] = self.took.get(name, 0.0) + max(0.0, seconds)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Count the block's time to phase `name`, also when it raises."""
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - t0)

    def lines(self) -> list[str]:
        """One aligned line per phase, the whole last."""
        if not self.took:
            return []
        width = max(len(n) for n in self.took)
        order = [n for n in self.took if n != WHOLE] + ([WHOLE] if WHOLE in self.took else [])
        return [f"{n:<{width}}  {self.took[n]:6.2f} s" for n in order]
