"""The figures of a run that count visitors and resolvers, not requests
(issue 13): where requests cluster by visitor or by resolver, those are
the units, and a request-level chi-square does not apply to them.

- per resolver: its visitors, and where their requests went;
- the split: max/min share ratio, and how far the per-second shares spread;
- sessions (F9): the share of visitors whose visit counter started again;
- DNS at its source (F3): how often one answer's first address was
  followed by the next server of the rotation.
Plain functions over visits.json (loadtests/locustfile.py); no Docker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResolverFigures:
    """One caching resolver and the visitors behind it."""

    name: str  # res1, ...
    address: str
    visitors: int
    heavy_visitors: int  # visitors of the heavy-page class
    requests: dict[str, int]  # web server -> requests its visitors sent there
    held_first: str  # the server its cache named first at the start of the run


@dataclass(frozen=True)
class UnitFigures:
    """Visitor- and resolver-level figures of one run."""

    share_ratio: float | None  # busiest server's share / quietest's (None: one got none)
    second_spread: float | None  # mean over seconds of (max - min) per-second share
    session_visitors: int  # visitors who asked the session page at least twice
    broken_sessions: int  # of those, visitors whose counter started again at least once
    dns_cycle: float | None  # successive answers whose first address is the next in turn
    dns_rotation: tuple[str, ...]  # the rotation read from the answers (addresses)
    dns_answers_seen: int
    resolvers: tuple[ResolverFigures, ...]

    @property
    def broken_share(self) -> float | None:
        return self.broken_sessions / self.session_visitors if self.session_visitors else None


def share_ratio(requests: Mapping[str, int]) -> float | None:
    """Busiest over quietest server; None when the quietest got nothing."""
    counts = list(requests.values())
    if not counts or min(counts) == 0:
        return None
    return max(counts) / min(counts)


def second_spread(timeline: Sequence[tuple[int, Mapping[str, int]]], servers: Sequence[str],
                  skip_s: int = 2) -> float | None:
    """How uneven single seconds are: the mean, over the seconds after the
    first `skip_s` (visitors still starting) with at least one request per
    server on average, of the busiest minus the quietest per-second share."""
    spreads = []
    for second, counts in timeline:
        total = sum(counts.get(s, 0) for s in servers)
        if second < skip_s or total < len(servers):
            continue
        shares = [counts.get(s, 0) / total for s in servers]
        spreads.append(max(shares) - min(shares))
    return sum(spreads) / len(spreads) if spreads else None


def rotation(sequence: Sequence[str]) -> list[str]:
    """The order the name server hands the addresses out in, read from the
    answers: each address's most frequent successor, followed from the first
    address; [] when that is not one cycle through every address seen."""
    seq = [a for a in sequence if a != "failed"]
    follows: dict[str, Counter[str]] = {}
    for a, b in zip(seq, seq[1:], strict=False):
        follows.setdefault(a, Counter())[b] += 1
    order = list(dict.fromkeys(seq))
    if len(order) < 2 or any(a not in follows for a in order):
        return []
    cycle = [order[0]]
    while len(cycle) <= len(order):
        nxt = follows[cycle[-1]].most_common(1)[0][0]
        if nxt == cycle[0]:
            break
        cycle.append(nxt)
    return cycle if sorted(cycle) == sorted(order) else []


def cycle_share(sequence: Sequence[str]) -> float | None:
    """Of successive pairs of first addresses, the share where the second is
    the next address of the rotation. 1.0: a perfect cycle; concurrent
    lookups that swap places lower it a little; a random first address
    gives 1/k; one address over and over (a fixed cache), 0."""
    seq = [a for a in sequence if a != "failed"]
    if len(seq) < 2:
        return None
    cycle = rotation(seq)
    if not cycle:
        return 0.0
    nxt = {a: cycle[(i + 1) % len(cycle)] for i, a in enumerate(cycle)}
    return sum(nxt[a] == b for a, b in zip(seq, seq[1:], strict=False)) / (len(seq) - 1)


def resolver_figures(visits: Mapping[str, Any], warm: Mapping[str, str],
                     servers: Sequence[str]) -> tuple[ResolverFigures, ...]:
    addresses = [str(a) for a in visits.get("resolvers") or []]
    out = []
    for i, address in enumerate(addresses, start=1):
        mine = [v for v in visits.get("visitors") or [] if v.get("resolver") == address]
        requests = {s: 0 for s in servers}
        for v in mine:
            for server, n in (v.get("requests") or {}).items():
                requests[server] = requests.get(server, 0) + int(n)
        name = f"res{i}"
        out.append(ResolverFigures(name, address, len(mine),
                                   sum(v.get("class") == "Analyst" for v in mine),
                                   requests, warm.get(name, "")))
    return tuple(out)


def unit_figures(visits: Mapping[str, Any], requests: Mapping[str, int],
                 timeline: Sequence[tuple[int, Mapping[str, int]]],
                 warm: Mapping[str, str]) -> UnitFigures:
    servers = list(requests)
    people = [v for v in visits.get("visitors") or [] if int(v.get("session_requests", 0)) >= 2]
    sequence = [str(a) for a in visits.get("dns_sequence") or []]
    return UnitFigures(
        share_ratio=share_ratio(requests),
        second_spread=second_spread(timeline, servers),
        session_visitors=len(people),
        broken_sessions=sum(int(v.get("session_breaks", 0)) > 0 for v in people),
        dns_cycle=cycle_share(sequence),
        dns_rotation=tuple(rotation(sequence)),
        dns_answers_seen=len(sequence),
        resolvers=resolver_figures(visits, warm, servers),
    )
