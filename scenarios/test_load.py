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
from lab.load.report import split_sentence
from lab.load.settings import RunSettings
from lab.load.stats import binomial_sd
from lab.load.summary import RunSummary, summarize

pytestmark = pytest.mark.slow

USERS = 6
DURATION_S = 20


@pytest.fixture(scope="module")
def summary(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    gen = LoadGen(lab)
    gen.build()
    out: Path = tmp_path_factory.mktemp("load")
    run = gen.run_load(RunSettings(USERS, DURATION_S, "none"), out)
    result = summarize(run)
    write_run_report(result, out, plot=False)
    return result


def test_per_server_counts_add_up_to_locusts_total(summary):
    assert summary.total > 0, "no requests were made"
    assert sum(s.requests for s in summary.servers) == summary.locust_total
    assert summary.served_by_mismatch == 0, "X-Served-By named another server"
    # each request was preceded by its own DNS lookup (cache mode none)
    assert summary.dns_lookups >= summary.total


def test_each_web_server_gets_about_a_third(summary):
    n, k = summary.total, len(summary.servers)
    # Rotation makes the split tighter than chance; allow four binomial
    # standard deviations of chance (and one request of rounding).
    tolerance = 4 * binomial_sd(n, 1 / k) + 1
    for s in summary.servers:
        assert math.fabs(s.requests - n / k) <= tolerance, (
            f"{s.name}: {s.requests} of {n} requests, a third is {n / k:.0f} "
            f"(tolerance {tolerance:.0f})")
    assert summary.chi is not None and summary.chi.p_value > 0.001, \
        split_sentence(summary)


def test_requests_succeed(summary):
    assert summary.failures <= 0.05 * summary.total, \
        {s.name: s.failures for s in summary.servers}
