"""Wait for a condition with a timeout: the lab never sleeps blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lab.model.errors import LabError

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Call `probe` until it returns something truthy and return that.

    Exceptions from the probe count as "not yet". After `timeout` seconds,
    raise LabError naming `what` and the last thing seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except Exception as exc:  # noqa: BLE001 - a probe may fail until the condition holds
            last = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise LabError(f"{what}: not within {timeout:g} s", f"last seen: {last!r}")
        time.sleep(every)
