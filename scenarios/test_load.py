"""F3/F20 under load: visitors who resolve before every request are shared
out evenly by round-robin DNS. A short Locust run in the lab's own network
(the same code `foolab load` uses), then the counts are checked against
themselves: no expected figure here that the run did not measure."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lab.engine.lab import Lab
from lab.load.files import write_run_report
from lab.load.generator import LoadGen
from lab.load.settings import RunSettings
from lab.load.stats import binomial_sd
from lab.load.summary import RunSummary, summarize
from lab.probes import named

pytestmark = pytest.mark.slow

USERS = 6
DURATION_S = 20


ACCESS_LOG = "/var/log/apache2/access.log"


def served_to(lab: Lab, web: str, address: str) -> int:
    """Requests from `address` in a web server's own Apache access log."""
    out = lab.exec(web, ["grep", "-c", f"^{address} ", ACCESS_LOG])
    assert out.returncode in (0, 1), out.stderr  # 1: no line matched
    return int(out.stdout.strip() or 0)


@pytest.fixture(scope="module")
def apache_counts(lab: Lab) -> dict[str, int]:
    """Filled in by `summary`: what each web server logged during the run."""
    return {}


@pytest.fixture(scope="module")
def summary(lab: Lab, apache_counts: dict[str, int],
            tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    gen = LoadGen(lab)
    gen.build()
    out: Path = tmp_path_factory.mktemp("load")
    before = {w: served_to(lab, w, gen.address) for w in lab.topology.webs}
    run = gen.run_load(RunSettings(USERS, DURATION_S, "none"), out)
    apache_counts.update({w: served_to(lab, w, gen.address) - before[w]
                          for w in lab.topology.webs})
    result = summarize(run)
    write_run_report(result, out, plot=False)
    return result


def test_locusts_counts_match_what_the_web_servers_logged(summary, apache_counts):
    """Two independent tallies: Locust's per server, and each server's own
    Apache access log (lines from the load generator's address)."""
    assert summary.total > 0, "no requests were made"
    assert summary.served_by_mismatch == 0, "X-Served-By named another server"
    served = {s.name: s.requests - s.failures for s in summary.servers}
    assert served == apache_counts
    # each request was preceded by its own DNS lookup (cache mode none)
    assert summary.dns_lookups >= summary.total


def test_successive_answers_lead_with_each_web_server_in_turn(lab: Lab):
    """F3 at its source: ns1's cyclic rrset-order puts another web server
    first in each answer, so the first addresses cycle web1-3."""
    firsts = [named.ask(lab.topology.address("ns1")).records[0] for _ in range(9)]
    assert len(set(firsts[:3])) == 3, firsts
    assert all(firsts[i] == firsts[i + 3] for i in range(6)), firsts


def test_the_visitors_answers_lead_with_each_web_server_in_turn(summary):
    """F3 as the visitors saw it during the run (mode none: they ask ns1
    before every request): the first address of successive answers (in the
    order they were asked) cycles through web1-3: each server is most often
    followed by the same next one, and those successors form one cycle of
    all three. Concurrent lookups swap neighbours now and then (measured
    77-84 % of pairs in turn on a busy machine); a random first address
    would be in turn a third of the time, a cached one never: at least 70 %."""
    u = summary.units
    assert u is not None and u.dns_answers_seen >= 20, u
    webs = {lab_address for lab_address in summary.dns_first if lab_address != "failed"}
    assert len(u.dns_rotation) == 3 and set(u.dns_rotation) == webs, u.dns_rotation
    assert u.dns_cycle is not None and u.dns_cycle >= 0.7, u.dns_cycle


def test_local_sessions_break_when_dns_moves_visitors(summary):
    """F9, the cookie conundrum: in mode none each request may go to another
    server, and PHP keeps sessions in local files (the lab's default): some
    visitors see their visit counter start again. (With the shared
    directory none do: scenarios/test_load_resolvers.py.)"""
    u = summary.units
    assert u is not None and u.session_visitors >= 2, u
    assert u.broken_sessions > 0, u


def test_each_web_server_gets_about_a_third(summary):
    n, k = summary.total, len(summary.servers)
    # Rotation makes the split tighter than chance; allow four binomial
    # standard deviations of chance (and one request of rounding).
    tolerance = 4 * binomial_sd(n, 1 / k) + 1
    for s in summary.servers:
        assert math.fabs(s.requests - n / k) <= tolerance, (
            f"{s.name}: {s.requests} of {n} requests, a third is {n / k:.0f} "
            f"(tolerance {tolerance:.0f})")


def test_requests_succeed(summary):
    """A healthy lab fails no request."""
    assert summary.failures == 0, {s.name: s.failures for s in summary.servers}
