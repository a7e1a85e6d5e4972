"""The load study's mathematics and reports, from small fixed data (no Docker)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lab.load.ceiling import Ceiling, ToolRate, ceiling_dict, parse_wrk, render_ceiling
from lab.load.files import parse_locust_csv, write_compare_report, write_run_report
from lab.load.plots import cumulative_shares, plot_compare
from lab.load.settings import MODES, RunSettings, parse_duration
from lab.load.stats import binomial_sd, chi_square, median, shares
from lab.load.study_report import compare_dict, render_compare, render_markdown
from lab.load.summary import CpuSamples, RunData, loadgen_figures, summarize, summary_dict

# --- shares and the binomial spread ------------------------------------------------------


def test_shares_are_parts_of_the_total():
    assert shares({"web1": 1, "web2": 1, "web3": 2}) == {"web1": 0.25, "web2": 0.25,
                                                         "web3": 0.5}
    assert shares({"web1": 0, "web2": 0}) == {"web1": 0.0, "web2": 0.0}


def test_binomial_sd_of_a_third():
    assert binomial_sd(900, 1 / 3) == pytest.approx(math.sqrt(200))
    assert binomial_sd(0, 1 / 3) == 0.0


# --- chi-square ------------------------------------------------------------------------------


# The p-values are checked against the closed forms of the chi-square survival
# function for small df, and against the tabled 5 % critical points: this pins
# down that the test runs with df = k - 1 and an even split as its default.


def chi2_closed_form(x: float, df: int) -> float:
    """P(X >= x) for chi-square with df 1-4, in closed form."""
    return {
        1: math.erfc(math.sqrt(x / 2)),
        2: math.exp(-x / 2),
        3: math.erfc(math.sqrt(x / 2)) + math.sqrt(2 * x / math.pi) * math.exp(-x / 2),
        4: math.exp(-x / 2) * (1 + x / 2),
    }[df]


@pytest.mark.parametrize("observed, statistic", [
    ([44, 56], 1.44),  # a fair coin: (36 + 36) / 50
    ([20, 10, 0], 20.0),  # (100 + 0 + 100) / 10
    ([10, 20, 30, 40], 20.0),  # (225 + 25 + 25 + 225) / 25
    ([5, 10, 15, 20, 25], 250 / 15),  # (100 + 25 + 0 + 25 + 100) / 15
    ([34, 33, 33], 0.02),  # nearly even: p close to 1
    ([200, 0], 200.0),  # far in the tail: p = erfc(10), about 2e-45
])
def test_chi_square_p_values_match_the_closed_forms(observed, statistic):
    chi = chi_square(observed)
    assert chi.statistic == pytest.approx(statistic)
    assert chi.df == len(observed) - 1
    assert chi.p_value == pytest.approx(chi2_closed_form(statistic, chi.df), rel=1e-9)


@pytest.mark.parametrize("df, critical", [
    (1, 3.841458820694124), (2, 5.991464547107979), (3, 7.814727903251178),
    (5, 11.070497693516351), (10, 18.307038053275146),
])
def test_chi_square_at_the_tabled_5_percent_points(df, critical):
    # df + 1 categories of 50 expected; two of them off by d: X2 = 2 d^2 / 50
    d = 5 * math.sqrt(critical)
    observed = [50 + d, 50 - d] + [50.0] * (df - 1)
    chi = chi_square(observed)
    assert chi.df == df and chi.statistic == pytest.approx(critical)
    assert chi.p_value == pytest.approx(0.05, rel=1e-7)


def test_chi_square_of_an_exact_third_is_zero_with_p_one():
    chi = chi_square([10, 10, 10])
    assert (chi.statistic, chi.df, chi.p_value) == (0.0, 2, 1.0)


def test_chi_square_of_a_lopsided_split():
    chi = chi_square([20, 10, 0])  # expected 10 each: (100 + 0 + 100) / 10
    assert chi.statistic == pytest.approx(20.0)
    assert chi.df == 2
    assert chi.p_value == pytest.approx(math.exp(-10))


def test_chi_square_coin_example_and_explicit_expectation():
    chi = chi_square([44, 56])  # a fair coin, 100 tosses: X2 = 1.44, p = 0.2301
    assert chi.statistic == pytest.approx(1.44)
    assert chi.p_value == pytest.approx(0.23013934044341, rel=1e-9)
    assert chi_square([30, 70], [25, 75]).statistic == pytest.approx(1 + 1 / 3)


def test_chi_square_refuses_what_it_cannot_test():
    with pytest.raises(ValueError):
        chi_square([5])
    with pytest.raises(ValueError):
        chi_square([5, 5], [10])
    with pytest.raises(ValueError):
        chi_square([5, 5], [0, 10])
    with pytest.raises(ValueError):  # no counts: an even split of nothing
        chi_square([0, 0, 0])


def test_chi_square_expected_counts_need_not_add_up_to_the_total():
    chi = chi_square([30, 70], [20, 75])  # 100 / 20 + 25 / 75, as Pearson's sum
    assert chi.statistic == pytest.approx(5 + 1 / 3)
    assert chi.p_value == pytest.approx(chi2_closed_form(5 + 1 / 3, 1), rel=1e-9)


# --- settings ----------------------------------------------------------------------------------


def test_parse_duration_like_locust():
    assert parse_duration("60") == 60
    assert parse_duration("45s") == 45
    assert parse_duration("2m") == 120
    assert parse_duration("1m30s") == 90
    assert parse_duration("1h") == 3600
    for bad in ("", "soon", "5x"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_every_run_is_bounded():
    ok = RunSettings(users=5, duration_s=20, cache="ttl", ttl_scale=2880)
    assert ok.effective_ttl_s == 30.0 and ok.rate == 5.0
    assert RunSettings(3, 10, "sticky", down=("web3",)).label == "sticky, web3 down"
    for kwargs in ({"users": 0, "duration_s": 10}, {"users": 5, "duration_s": 0},
                   {"users": 5, "duration_s": 10 ** 6}, {"users": 10 ** 6, "duration_s": 10},
                   {"users": 5, "duration_s": 10, "cache": "forever"}):
        with pytest.raises(ValueError):
            RunSettings(**kwargs)  # type: ignore[arg-type]


# --- a small fixed run ---------------------------------------------------------------------------

SERVERS = ("web1", "web2", "web3")


def fixed_run(cache: str = "sticky", down: tuple[str, ...] = ()) -> RunData:
    """Three seconds of a run: web1 gets most requests, web3 the heavy ones."""
    rows = [
        [0, "web1", "/light.php", "ok", 20], [0, "web2", "/light.php", "ok", 10],
        [0, "web3", "/heavy.php", "ok", 5],
        [1, "web1", "/light.php", "ok", 20], [1, "web2", "/db.php", "ok", 10],
        [1, "web3", "/heavy.php", "fail", 5],
        [2, "web1", "/db.php?write=1", "ok", 10], [2, "web2", "/light.php", "ok", 10],
        [2, "web3", "/heavy.php", "ok", 10],
    ]
    visits = {
        "dns_cache": cache,
        "rows": rows,
        "latency_ms": [["web1", "/light.php", 500.0], ["web3", "/heavy.php", 2000.0]],
        "web_hosts": {"10.1.1.11": "web1", "10.1.1.12": "web2", "10.1.1.13": "web3"},
        "dns_first_address": {"10.1.1.11": 2, "10.1.1.12": 1, "10.1.1.13": 1},
        "served_by_mismatch": 0,
        "locust_cpu_percent": [10.0, 12.0, 11.0],
        "locust_cpu_warning": False,
        "locust_stats": [["GET", "/light.php", 60, 0], ["GET", "/db.php", 10, 0],
                         ["GET", "/db.php?write=1", 10, 0], ["GET", "/heavy.php", 20, 5],
                         ["DNS", "www.foo.com", 4, 0]],
    }
    s = 1_000_000_000  # one second of CPU in ns
    cpu = CpuSamples(
        source="test counters",
        times=(0.0, 1.0, 2.0, 3.0),
        usage_ns={"web1": (0, s // 10, s // 5, s * 3 // 10),  # 0.3 s
                  "web2": (0, s // 10, s // 10, s // 5),  # 0.2 s
                  "web3": (0, s // 2, s, s * 3 // 2),  # 1.5 s
                  "loadgen": (None, 0, s // 10, s // 5)},  # 10 % of a core
        machine_busy=0.5,
    )
    return RunData(RunSettings(4, 3, cache, down=down), SERVERS, visits, cpu, 5.0,
                   "2026-01-01T00:00:00+00:00")


def test_summary_counts_shares_failures_and_cpu():
    s = summarize(fixed_run())
    by = {f.name: f for f in s.servers}
    assert [f.requests for f in s.servers] == [50, 30, 20]
    assert s.total == 100 and s.locust_total == 100 and s.counts_add_up
    assert s.failures == 5 and by["web3"].failures == 5 and s.locust_failures == 5
    assert by["web1"].share == pytest.approx(0.5)
    assert by["web1"].deviation_sd == pytest.approx((50 - 100 / 3) / math.sqrt(200 / 9))
    assert by["web3"].cpu_s == pytest.approx(1.5)
    assert by["web3"].cpu_share == pytest.approx(0.75)  # 20 % of requests, 75 % of CPU
    assert by["web1"].mean_ms == pytest.approx(10.0)
    assert by["web3"].pages == {"/heavy.php": 20}
    assert [f.dns_answers for f in s.servers] == [2, 1, 1]
    assert s.dns_lookups == 4 and s.dns_failures == 0
    assert s.chi is not None and s.chi.statistic == pytest.approx(14.0)  # (16.67^2+...)/33.3
    assert s.chi.p_value == pytest.approx(math.exp(-7.0))
    assert s.even_split is False
    assert s.timeline[0] == (0, {"web1": 20, "web2": 10, "web3": 5})
    assert not s.notes


def test_summary_notes_counts_that_do_not_add_up():
    run = fixed_run()
    visits = dict(run.visits, locust_stats=[["GET", "/light.php", 99, 0]],
                  served_by_mismatch=2)
    s = summarize(RunData(run.settings, SERVERS, visits, run.cpu, 5.0, run.started))
    assert not s.counts_add_up
    assert any("differ from Locust" in n for n in s.notes)
    assert any("X-Served-By" in n for n in s.notes)


def test_loadgen_verdicts():
    quiet = summarize(fixed_run()).loadgen
    assert not quiet.bottleneck and "not the bottleneck" in quiet.verdict
    assert quiet.container_mean_percent == pytest.approx(10.0)
    warned = loadgen_figures(None, [95.0, 97.0], True)
    assert warned.bottleneck and "LOAD GENERATOR" in warned.verdict
    s = 1_000_000_000
    busy = CpuSamples("t", (0.0, 1.0, 2.0), {"loadgen": (0, s * 95 // 100, s * 19 // 10)},
                      machine_busy=0.97)
    hot = loadgen_figures(busy, [], False)
    assert hot.bottleneck and hot.container_mean_percent == pytest.approx(95.0)
    assert "cores were 97 % busy" in hot.verdict


def test_cumulative_shares_approach_the_totals():
    seconds, cum = cumulative_shares(summarize(fixed_run()))
    assert seconds == [0, 1, 2]
    assert cum["web1"][0] == pytest.approx(20 / 35)
    assert cum["web1"][-1] == pytest.approx(0.5)
    assert sum(c[-1] for c in cum.values()) == pytest.approx(1.0)


def test_markdown_report_of_the_fixed_run():
    text = render_markdown(summarize(fixed_run()), ["report.md"])
    assert text.startswith("# Load distribution: DNS cache `sticky`")
    assert "| web1 | 2 | 50 | 50.0 % | 33.3 % | +3.5 SD | 0 | 10 | 0.30 | 15.0 % |" in text
    assert "| web3 | 1 | 20 | 20.0 % | 33.3 % | -2.8 SD | 5 | 100 | 1.50 | 75.0 % |" in text
    assert "X2 = 14.00, df = 2, p = 9.1e-04: NOT an even split" in text
    assert "(equal)" in text and "not the bottleneck" in text and "- `report.md`" in text


def test_json_report_is_plain_data():
    doc = json.loads(json.dumps(summary_dict(summarize(fixed_run()))))
    assert doc["total"] == 100 and doc["counts_add_up"] is True
    assert doc["settings"]["label"] == "sticky"
    assert doc["chi"]["df"] == 2
    assert doc["timeline"][2] == {"second": 2, "web1": 10, "web2": 10, "web3": 10}


def test_compare_report_of_two_runs(tmp_path: Path):
    runs = [summarize(fixed_run("none")), summarize(fixed_run("none", ("web3",)))]
    text = render_compare(runs, "compare.png")
    assert "| none | 100 | 50.0 % | 30.0 % | 20.0 % | 9.1e-04 | 5 (5 %) |" in text
    assert "| none, web3 down |" in text and "![shares per run](compare.png)" in text
    assert ("none, web3 down: DNS still named web3 first in 25 % of its answers; 5 of its "
            "20 requests failed (20 % of all requests, 5 failures in all).") in text
    doc = compare_dict(runs)
    assert doc["runs"][1]["down"] == ["web3"]
    assert doc["runs"][0]["failures_per_server"] == {"web1": 0, "web2": 0, "web3": 5}
    files = write_compare_report(runs, tmp_path, plot=False)
    assert [f.name for f in files] == ["compare.md", "compare.json"]


def test_run_report_files(tmp_path: Path):
    pytest.importorskip("matplotlib")
    files = write_run_report(summarize(fixed_run()), tmp_path)
    assert {f.name for f in files} == {"report.md", "report.json", "distribution.png"}
    assert (tmp_path / "distribution.png").read_bytes()[:4] == b"\x89PNG"
    assert "- `distribution.png`" in (tmp_path / "report.md").read_text()
    runs = [summarize(fixed_run(m)) for m in MODES]
    runs += [summarize(fixed_run(m, ("web3",))) for m in MODES]
    assert plot_compare(runs, tmp_path / "compare.png")


# --- the ceiling benchmark ---------------------------------------------------------------------

WRK_OUTPUT = """Running 10s test @ http://10.1.1.11/light.php
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    2.01ms  40.00ms   95.00%
    Req/Sec     7.50k     1.00k    9.00k    70.00%
  75123 requests in 10.01s, 16.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   7505.00
Transfer/sec:      1.65MB
"""


def test_parse_wrk_summary():
    assert parse_wrk(WRK_OUTPUT) == (75123, 10.01, 7505.0, 7)
    with pytest.raises(ValueError):
        parse_wrk("wrk: connection refused")


def test_ceiling_ratio_is_the_median_of_paired_rounds():
    def rate(tool: str, rps: float, cpu: float) -> ToolRate:
        return ToolRate(tool, int(rps * 10), 0, 10.0, rps, cpu, 50.0, False, 0.5)

    c = Ceiling("10.1.1.11", "/light.php", 8, 10, 1,
                (rate("locust", 2000, 50), rate("locust", 3000, 60),
                 rate("locust", 1000, 40)),
                (rate("wrk", 8000, 12), rate("wrk", 6000, 10), rate("wrk", 10000, 14)))
    assert c.ratios == [0.25, 0.5, 0.1]
    assert c.ratio == 0.25
    assert (c.locust_rps, c.wrk_rps) == (2000, 8000)
    assert c.locust[0].per_cpu_second == pytest.approx(4000)
    text = render_ceiling(c)
    assert "**Ratio Locust / wrk: 0.25**" in text and "LESS than half" in text
    assert "waited for a free core 50 % of the time" in text
    assert "with a core to itself it would reach about 0.50 of wrk's rate" in text
    doc = ceiling_dict(c)
    assert doc["ratio"] == 0.25 and doc["locust"][0]["per_cpu_second"] == 4000
    assert median([1.0, 3.0]) == 2.0 and median([]) == 0.0


def test_locust_csv_rows():
    text = "Type,Name,Request Count\nGET,/light.php,12\n,Aggregated,12\n"
    rows = parse_locust_csv(text)
    assert rows[0]["Name"] == "/light.php" and rows[1]["Name"] == "Aggregated"
