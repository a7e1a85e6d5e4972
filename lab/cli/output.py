"""The CLI's one voice: every line it says starts with `foolab:`."""

from __future__ import annotations


def say(msg: str) -> None:
    print(f"foolab: {msg}", flush=True)
