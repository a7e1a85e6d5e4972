"""F20, F21 and F9 under load, behind real caching resolvers (issue 13).

Short Locust runs in the lab's own network (the code `foolab load` uses),
each asserting what the article predicts with a margin stated here, never a
p-value that cannot fail. Each run is bounded (VISITORS, RUN_S); the zone,
the session setting and the resolvers' order are put back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.admin import resolvers, sessions
from lab.engine.lab import Lab
from lab.load.generator import LoadGen
from lab.load.settings import RunSettings
from lab.load.summary import RunSummary, summarize

pytestmark = pytest.mark.slow

VISITORS = 8
SESSION_VISITORS = 16
RUN_S = 12


def run(lab: Lab, out: Path, visitors: int = VISITORS, **settings: object) -> RunSummary:
    gen = LoadGen(lab)
    gen.build()
    cache = "resolver" if settings.get("resolvers") else "none"
    return summarize(gen.run_load(RunSettings(visitors, RUN_S, cache, **settings), out))  # type: ignore[arg-type]


def by_name(summary: RunSummary) -> dict[str, int]:
    return {s.name: s.requests for s in summary.servers}


@pytest.fixture(scope="module", autouse=True)
def resolvers_removed_afterwards(lab: Lab) -> Iterator[None]:
    """The resolvers these runs start are removed again: the lab is the seven."""
    before = resolvers.running(lab)
    yield
    if not before:
        resolvers.remove(lab)


def test_one_resolver_without_rotation_sends_nearly_everyone_to_one_server(lab, tmp_path):
    """F20 at its extreme: one shared resolver, answers not rotated, a TTL
    (the zone's 86400 s) longer than the run: every visitor gets the same
    first address until it expires. At least 90 % on one server."""
    summary = run(lab, tmp_path, resolvers=1, order="fixed")
    counts = by_name(summary)
    assert summary.total >= 10, counts
    top = max(counts.values())
    assert top >= 0.9 * summary.total, counts


def test_a_big_resolver_makes_its_server_the_busiest(lab, tmp_path):
    """Skewed population: res1 serves half the visitors, res2 and res3 a
    quarter each; without rotation each resolver's visitors share one
    server. So one server gets at least res1's half of the requests (more
    if another resolver's cache picked the same server), where an even
    population of three would give each about a third; asserted above 0.42."""
    summary = run(lab, tmp_path, resolvers=3, order="fixed", population="skewed")
    counts = by_name(summary)
    assert summary.total >= 20, counts
    assert max(counts.values()) > 0.42 * summary.total, counts


def test_heavy_visitors_make_their_server_work_harder_than_its_requests_say(lab, tmp_path):
    """F21: the heavy-page visitors (Analysts) behind res1, the others behind
    res2; without rotation each group stays on one server. The heavy group's
    server has a CPU share above its request share by more than 15 points
    (its requests cost tens of ms of CPU each, the light ones a few)."""
    summary = run(lab, tmp_path, resolvers=2, order="fixed", population="by-class")
    heavy = max(summary.servers, key=lambda s: s.pages.get("/heavy.php", 0))
    assert heavy.pages.get("/heavy.php", 0) > 0, summary.servers
    assert heavy.cpu_share is not None, "no CPU readings"
    assert heavy.cpu_share > heavy.share + 0.15, (heavy.name, heavy.share, heavy.cpu_share)


@pytest.fixture
def shared_sessions(lab: Lab) -> Iterator[None]:
    sessions.use_shared_sessions(lab, True)
    yield
    sessions.use_shared_sessions(lab, False)


def test_shared_sessions_never_break_though_dns_moves_visitors(lab, tmp_path, shared_sessions):
    """F9, the article's fix: visitors who resolve before every request
    (mode none) land on another server each time, yet with one shared
    session directory no visit counter starts again. (With PHP's local
    files some do: scenarios/test_load.py, the same mode.)"""
    # A reader asks the session page twice in 12 s about two times in three:
    # with 8 visitors (6 readers) fewer than 3 did so in one run of 8 (seen
    # in CI); with 16 (12 readers) that is about one run in 2000.
    units = run(lab, tmp_path, visitors=SESSION_VISITORS).units
    assert units is not None and units.session_visitors >= 3, units
    assert units.broken_sessions == 0, units
