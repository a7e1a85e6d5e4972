"""Response times through a run, from Locust's stats history
(locust_stats_history.csv, written once a second): what visitors waited
while a fault and its recovery went on (the timeline's lowest panel).

Locust's percentiles there are its "current" ones, of the requests answered
in the previous ~10 s, only when it runs with --csv-full-history (the load
generator passes it); without it they are of the whole run so far and say
nothing about a moment. Every request counts, DNS lookups too: the
visitors' tally (visits.json) has no response time per second.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.load.files import parse_locust_csv

HISTORY_FILE = "locust_stats_history.csv"  # Locust's --csv /out/locust, + _stats_history.csv
ALL = "Aggregated"  # Locust's name of the row over all requests


@dataclass(frozen=True)
class Latency:
    """Response times at one moment of a run, over the previous ~10 s."""

    second: float  # since the visitors started (Locust's second 0)
    p50_ms: float
    p99_ms: float


def latency_history(text: str, started_epoch: float) -> tuple[Latency, ...]:
    """The all-requests rows of a stats history, at seconds since the
    visitors started. Empty when the history has no per-request rows (no
    --csv-full-history: its percentiles would be of the whole run so far) or
    when the run's start is unknown. Rows without figures are left out: N/A
    before the first answer, 0 before Locust has 10 s to look back on."""
    rows = parse_locust_csv(text)
    if started_epoch <= 0 or not any(r.get("Name") not in (ALL, None) for r in rows):
        return ()
    out = []
    for r in rows:
        try:
            point = Latency(round(float(r["Timestamp"]) - started_epoch, 2),
                            float(r["50%"]), float(r["99%"]))
        except (KeyError, ValueError):
            continue
        if r.get("Name") == ALL and point.p99_ms > 0:
            out.append(point)
    return tuple(out)
