"""The lab's exceptions, in a module of their own so that pure modules (the
zone text, the topology, waiting) can raise them without importing the
driver that talks to Docker."""

from __future__ import annotations


class LabError(RuntimeError):
    """What failed, what was observed, and a hint: rendered on one line."""

    def __init__(self, what: str, observed: str = "", hint: str = "") -> None:
        self.what, self.observed, self.hint = what, observed.strip(), hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.what
        if self.observed:
            first = self.observed.splitlines()[-1] if "\n" in self.observed else self.observed
            text += f": {first}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class TopologyError(ValueError):
    """A subnet or host name the lab cannot use."""
