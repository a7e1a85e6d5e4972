"""The CLI's one voice: every line it says starts with `foolab:`."""

from __future__ import annotations

import re
import sys
import threading
from typing import TextIO


def say(msg: str, err: bool = False) -> None:
    """A line for the user; `err`: on stderr, beside output other tools read.
    One write per line: labs starting in parallel threads do not mix theirs."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"foolab: {msg}\n")
    stream.flush()


# A host's own line while a class starts ("[s01] web3  healthy after 4.0 s"):
# a log keeps it, a terminal shows the labs' count instead.
HOST_LINE = re.compile(r"\[\w+\] \w+ +healthy after ")


class StartProgress:
    """`class up`'s voice. In a log (not a terminal): every line as it
    comes. On a terminal: the labs' count (class_layout.start_line) on one
    line rewritten in place, each host's "healthy after" line left out,
    every other line (a failure, a placement) kept above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._open = False  # the count's line is on screen, not ended
        self._lock = threading.Lock()

    def __call__(self, msg: str) -> None:
        with self._lock:
            if not self.tty:
                self.stream.write(f"foolab: {msg}\n")
            elif COUNT_LINE.match(msg):
                self.stream.write(f"\r\x1b[Kfoolab: {msg}")
                self._open = True
            elif not HOST_LINE.match(msg):
                self.stream.write(("\n" if self._open else "") + f"foolab: {msg}\n")
                self._open = False
            self.stream.flush()

    def close(self) -> None:
        """The count's line ended, so what follows starts on a line of its own."""
        with self._lock:
            if self._open:
                self.stream.write("\n")
                self.stream.flush()
                self._open = False


COUNT_LINE = re.compile(r"\d+ of \d+ labs healthy")
