"""A run through a fault, phase by phase (issue 23): requests per second,
failures and response times per web server before the fault, during it,
during the recovery, in the aftermath (the AFTERMATH_S seconds after the
last recovery step) and once steady again, and the requests in flight
per server each second.

Built from every request's own timing, which loadtests/locustfile.py
writes to visits.json as "samples" (moment sent, server, page, outcome,
response time): Locust's stats history has percentiles of all servers
together over ~10 s only. A request belongs to the phase in which it was
sent. No Docker and no printing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

AFTERMATH_S = 5.0  # "within 5 s of the last recovery step" (issue 23)
FIRST_S = 1.0  # second 0 holds every visitor's first request at once: not a rate to hold to
RECOVERED = 0.8  # requests per second in the aftermath, at least this share of before's
ALL = "all"  # the row over every web server
# A visitor's pause between requests (loadtests/locustfile.py: between(0.5, 2.0); a
# unit test holds the two together): with answers at once, visitors / the mean pause
# is the rate they send. A lab whose visitors arrive at once may not settle before the
# fault (with keep-alive on it took 12 s): the level just before it is then no yardstick.
PAUSE_S = (0.5, 2.0)


class PhaseLike(Protocol):
    """What a phase of lab/load/during.py offers (kept apart: no import cycle)."""

    @property
    def kind(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True)
class Sample:
    """One request as a visitor saw it."""

    sent_s: float  # since the visitors started
    server: str
    page: str
    ok: bool
    ms: float


@dataclass(frozen=True)
class Stretch:
    """A phase of the table: requests sent from start_s (inclusive) to end_s."""

    name: str
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return max(self.end_s - self.start_s, 0.0)


@dataclass(frozen=True)
class PhaseRow:
    """One web server's figures in one phase (server "all": every one)."""

    phase: str
    server: str
    start_s: float
    end_s: float
    requests: int
    per_s: float | None  # None: the phase lasted no time
    failures: int

    @property
    def answered_per_s(self) -> float | None:
        """Requests per second that did not fail."""
        span = self.end_s - self.start_s
        return None if span <= 0 else (self.requests - self.failures) / span
    p50_ms: float | None  # None: no request sent then
    p99_ms: float | None


def samples_of(visits: Mapping[str, Any]) -> tuple[Sample, ...]:
    """The per-request samples of visits.json (empty for a run written
    before the locustfile kept them)."""
    return tuple(Sample(float(t), str(srv), str(page), outcome == "ok", float(ms))
                 for t, srv, page, outcome, ms in visits.get("samples", []))


def stretches(phases: Sequence[PhaseLike], run_s: float,
              aftermath_s: float = AFTERMATH_S) -> tuple[Stretch, ...]:
    """before, fault, recovery, aftermath, steady, from the run's phases:
    the fault from the first fault phase's start to its end, the recovery
    from there until the last step that ran a command ended (kind
    "recovery"); a runbook's closing checks (kind "check": no command) fall
    in the aftermath, since
    they wait as long as the visitors do (seen: writes through every web
    server took 13 s while the servers were stalled); empty when the run
    noted no fault. Before starts at FIRST_S."""
    faults = [p for p in phases if p.kind == "fault"]
    if not faults:
        return ()
    start, fault_end = faults[0].start_s, faults[0].end_s
    recovered = max([fault_end, *(p.end_s for p in phases if p.kind == "recovery")])
    calm = min(recovered + aftermath_s, max(run_s, recovered))
    return (Stretch("before", min(FIRST_S, start), start), Stretch("fault", start, fault_end),
            Stretch("recovery", fault_end, recovered), Stretch("aftermath", recovered, calm),
            Stretch("steady", calm, max(run_s, calm)))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (q in 0-100): a response time some
    visitor really waited."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least the first
    return ordered[int(rank) - 1]


def phase_rows(samples: Iterable[Sample], parts: Sequence[Stretch],
               servers: Sequence[str]) -> tuple[PhaseRow, ...]:
    """Each phase's row per web server, then its row over all of them."""
    samples = tuple(samples)
    rows = []
    for part in parts:
        inside = [s for s in samples if part.start_s <= s.sent_s < part.end_s]
        for server in (*servers, ALL):
            mine = [s for s in inside if server in (ALL, s.server)]
            ms = [s.ms for s in mine]
            rows.append(PhaseRow(
                part.name, server, part.start_s, part.end_s, len(mine),
                len(mine) / part.seconds if part.seconds > 0 else None,
                sum(1 for s in mine if not s.ok), percentile(ms, 50), percentile(ms, 99)))
    return tuple(rows)


def row_of(rows: Sequence[PhaseRow], phase: str, server: str = ALL) -> PhaseRow | None:
    return next((r for r in rows if r.phase == phase and r.server == server), None)


def stretch_of(parts: Sequence[Stretch], name: str) -> Stretch | None:
    return next((p for p in parts if p.name == name), None)


def reference(parts: Sequence[Stretch], seconds: float = AFTERMATH_S) -> Stretch | None:
    """The `seconds` just before the fault, as long as the aftermath: the
    level the lab held once the visitors' arrival had settled."""
    before = stretch_of(parts, "before")
    if before is None:
        return None
    return Stretch("just before", max(before.start_s, before.end_s - seconds), before.end_s)


def rate(samples: Iterable[Sample], part: Stretch) -> float | None:
    """Requests per second sent in a stretch and answered (all servers): a
    failed request is no throughput, however fast it fails."""
    if part.seconds <= 0:
        return None
    return sum(1 for s in samples if part.start_s <= s.sent_s < part.end_s and s.ok) / part.seconds


def recovered_share(samples: Sequence[Sample], parts: Sequence[Stretch]) -> float | None:
    """Requests per second in the aftermath over those just before the fault
    (all servers): at least RECOVERED once the recovery really is over."""
    ref, after = reference(parts), stretch_of(parts, "aftermath")
    if ref is None or after is None:
        return None
    base, now = rate(samples, ref), rate(samples, after)
    return None if not base or now is None else now / base


def pace_per_s(visitors: int) -> float:
    """Requests per second `visitors` send when every answer comes at once."""
    return visitors / (sum(PAUSE_S) / 2)


def in_flight(samples: Iterable[Sample], server: str, last_s: int) -> list[int]:
    """Requests to `server` sent and not yet answered at the middle of each
    second 0..last_s: visitors waiting on it. They pile up where requests
    queue (a server out of workers), whatever the requests per second say."""
    spans = [(s.sent_s, s.sent_s + s.ms / 1000.0) for s in samples if s.server == server]
    return [sum(1 for a, b in spans if a <= sec + 0.5 < b) for sec in range(last_s + 1)]


def fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f}"


def phase_table(rows: Sequence[PhaseRow]) -> list[str]:
    """The rows as a Markdown table."""
    lines = ["| phase | seconds | server | requests | requests/s | failed | p50 ms | p99 ms |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        rate = "-" if r.per_s is None else f"{r.per_s:.1f}"
        lines.append(f"| {r.phase} | {r.start_s:.1f}-{r.end_s:.1f} | {r.server} | "
                     f"{r.requests} | {rate} | {r.failures} | {fmt_ms(r.p50_ms)} | "
                     f"{fmt_ms(r.p99_ms)} |")
    return lines
