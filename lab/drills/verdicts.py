"""Checkers (Jepsen's verdicts): compare what was observed and say what it
means, as data. The CLI and the scenarios render or assert on them."""

from __future__ import annotations

import hashlib
import hmac
import re
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


# --- the exercises' marked orders ---------------------------------------------------------
#
# A student is root in every host of their lab: any row they can write, and any
# field of an order they can read. A mark is the one part of an order they
# cannot make: HMAC-SHA256 under a key that never leaves the teacher's side.

MARK_SHAPE = re.compile(r"[0-9a-fA-F]{64}")  # what a row claiming to be an order carries
PROBE = "/probe"  # suffix of the tag the grader's own test orders are marked under


def mark(key: bytes, tag: str, seq: int) -> str:
    """The mark of order `seq` of the writer tagged `tag`: the one
    definition, used by the writer to make it and the grader to check it."""
    return hmac.new(key, f"{tag}:{seq}".encode(), hashlib.sha256).hexdigest()


def claims_an_order(note: str) -> bool:
    """A note shaped like a mark: the row claims to be one of our orders,
    so a mark that does not verify is a forgery, not a visitor's row."""
    return MARK_SHAPE.fullmatch(note) is not None


@dataclass(frozen=True)
class Orders:
    """The writer's orders as found in one database, told from any other
    row by their marks (only the teacher's side can make one), then judged
    as a Ledger. A row whose mark does not verify under this exercise's key
    counts for nothing: a visitor's, an earlier exercise's writer's (its
    rows stay in the ledger), or a student's forgery, so a hand-typed order
    with a missing number leaves that number lost. A verified one whose
    number the writer passed without sending means the log and the database
    disagree (one past the last logged is the order in flight while the
    grader reads). The grader's own test orders (marked under tag + PROBE)
    are known and set aside."""

    ledger: Ledger
    forged: list[int | None] = field(default_factory=list)  # mark-shaped, not ours: seq
    unsent: list[int] = field(default_factory=list)  # verified mark, never sent
    probes: int = 0  # the grader's own test orders found, set aside

    @property
    def ok(self) -> bool:
        return self.ledger.ok and not self.unsent

    def problems(self) -> str:
        """What is wrong, a few numbers of each kind; "" when ok."""
        v, parts = self.ledger, []
        if self.forged and not self.ledger.ok:  # what may have been typed in to fill a gap
            parts.append(f"rows whose mark does not verify (not counted), seq "
                         f"{self.forged[:10]}")
        if self.unsent:
            parts.append(f"orders never sent, seq {self.unsent[:10]}")
        if v.lost:
            parts.append(f"lost {v.lost[:10]}")
        if v.duplicated:
            parts.append(f"duplicated {v.duplicated[:10]}")
        if v.failed_found:
            parts.append(f"failed yet found {v.failed_found[:10]}")
        return ", ".join(parts)


def orders(key: bytes, tag: str, attempted: Iterable[int], acknowledged: Iterable[int],
           rows: Iterable[tuple[int | None, str]]) -> Orders:
    """Judge the (seq, note) rows of a ledger table against the writer's log
    of orders `attempted` and `acknowledged`: only rows whose mark verifies
    for their own number count as the writer's."""
    tried = set(attempted)
    genuine: list[int] = []
    forged: list[int | None] = []
    unsent: set[int] = set()
    probes = 0
    for seq, note in rows:
        if not claims_an_order(note):
            continue
        if seq is not None and hmac.compare_digest(note, mark(key, tag, seq)):
            genuine.append(seq)
            if seq not in tried and seq < max(tried, default=0):
                unsent.add(seq)
        elif seq is not None and hmac.compare_digest(note, mark(key, tag + PROBE, seq)):
            probes += 1
        else:
            forged.append(seq)
    return Orders(ledger(tried, acknowledged, genuine),
                  sorted(forged, key=lambda s: (s is None, s or 0)), sorted(unsent), probes)


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
