"""Checkers (Jepsen's verdicts): compare what was observed and say what it
means, as data. The CLI and the scenarios render or assert on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lab.probes.mysql import TableState


@dataclass(frozen=True)
class Consistency:
    """Row counts and checksums of every table on the master and a replica."""

    master: str
    replica: str
    tables: dict[str, tuple[TableState | None, TableState | None]]

    @property
    def equal(self) -> bool:
        return bool(self.tables) and all(a == b for a, b in self.tables.values())

    @property
    def differing(self) -> list[str]:
        return [t for t, (a, b) in self.tables.items() if a != b]


def consistency(
    master: str, master_tables: Mapping[str, TableState],
    replica: str, replica_tables: Mapping[str, TableState],
) -> Consistency:
    names = sorted(set(master_tables) | set(replica_tables))
    return Consistency(master, replica,
                       {t: (master_tables.get(t), replica_tables.get(t)) for t in names})


@dataclass(frozen=True)
class Ledger:
    """What became of numbered writes, judged the Jepsen way: every
    acknowledged write must be found exactly once; a write that failed
    before it was sent must not be found; an indeterminate one (the client
    gave up waiting) may or may not be."""

    attempted: int
    acknowledged: int
    found: int
    lost: list[int] = field(default_factory=list)  # acknowledged, not in the database
    duplicated: list[int] = field(default_factory=list)  # in the database more than once
    unacknowledged_found: list[int] = field(default_factory=list)  # not acknowledged, landed
    indeterminate: int = 0  # writes whose fate the client could not know
    failed_found: list[int] = field(default_factory=list)  # failed for sure, yet landed

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.failed_found


def ledger(attempted: Iterable[int], acknowledged: Iterable[int], stored: Iterable[int],
           failed: Iterable[int] = ()) -> Ledger:
    """Judge a write workload from the sequence numbers tried, acknowledged,
    failed for sure (never sent) and found in the database afterwards; the
    rest of those tried are indeterminate."""
    tried, acked, nope = set(attempted), set(acknowledged), set(failed)
    counts = Counter(stored)
    found = set(counts)
    return Ledger(
        attempted=len(tried), acknowledged=len(acked), found=len(found & tried),
        lost=sorted(acked - found),
        duplicated=sorted(s for s, n in counts.items() if n > 1 and s in tried),
        unacknowledged_found=sorted((tried - acked) & found),
        indeterminate=len(tried - acked - nope),
        failed_found=sorted(nope & found),
    )


@dataclass(frozen=True)
class ContentVerdict:
    """Whether the web roots hold the same files with the same bytes."""

    reference: str
    differences: dict[str, list[str]]  # web server -> paths missing, extra or changed

    @property
    def equal(self) -> bool:
        return not any(self.differences.values())


def content(reference: str, roots: Mapping[str, Mapping[str, str]]) -> ContentVerdict:
    ref = roots[reference]
    diffs: dict[str, list[str]] = {}
    for web, files in roots.items():
        if web == reference:
            continue
        diffs[web] = sorted(p for p in set(ref) | set(files) if ref.get(p) != files.get(p))
    return ContentVerdict(reference, diffs)
