"""The CLI's one voice: every line it says starts with `foolab:`."""

from __future__ import annotations

import sys


def say(msg: str, err: bool = False) -> None:
    """A line for the user; `err`: on stderr, beside output other tools read.
    One write per line: labs starting in parallel threads do not mix theirs."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"foolab: {msg}\n")
    stream.flush()
