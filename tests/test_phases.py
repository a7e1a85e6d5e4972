"""The phase table of a run through a fault (lab/load/phases.py, issue 23):
which request falls in which phase, its rates and percentiles per web
server, and whether throughput came back after the recovery. No Docker:
runs made of fixed samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.load.during import DuringRun, Phase
from lab.load.phases import (
    PAUSE_S,
    Sample,
    in_flight,
    pace_per_s,
    percentile,
    phase_rows,
    recovered_share,
    row_of,
    samples_of,
    stretches,
)
from lab.load.settings import RunSettings
from lab.load.summary import RunData, summarize

WEBS = ("web1", "web2", "web3")
PHASES = (Phase("db1 killed", "fault", 6.0, 14.0),
          Phase("promote-replica: make db2 the master", "recovery", 14.0, 14.5),
          Phase("promote-replica: web3: write to db2", "recovery", 14.5, 15.0),
          Phase("promote-replica: writes through every web server", "check", 15.0, 27.0))


def test_phases_follow_the_fault_and_the_last_step_that_changed_the_lab():
    parts = {p.name: (p.start_s, p.end_s) for p in stretches(PHASES, 40.0)}
    assert parts == {"before": (1.0, 6.0), "fault": (6.0, 14.0), "recovery": (14.0, 15.0),
                     "aftermath": (15.0, 20.0), "steady": (20.0, 40.0)}
    assert stretches((), 40.0) == ()
    short = {p.name: (p.start_s, p.end_s) for p in stretches(PHASES, 17.0)}
    assert short["aftermath"] == (15.0, 17.0) and short["steady"] == (17.0, 17.0)


def test_nearest_rank_percentiles_are_times_a_visitor_waited():
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(map(float, range(1, 101))), 50) == 50.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0
    assert percentile([1.0, 2.0, 3000.0], 99) == 3000.0


def _steady(start: float, end: float, per_s: int, ms: float, server: str = "web1",
            ok: bool = True) -> list[Sample]:
    """`per_s` requests a second to `server`, each answered in `ms`."""
    out = []
    t = start
    while t < end - 1e-9:
        out += [Sample(round(t + i / per_s, 3), server, "/light.php", ok, ms)
                for i in range(per_s)]
        t += 1.0
    return out


def test_each_request_counts_in_the_phase_it_was_sent_per_server_and_all():
    samples = [*_steady(1, 6, 4, 10.0), *_steady(1, 6, 2, 30.0, "web2"),
               *_steady(6, 14, 4, 2000.0, ok=False), *_steady(15, 20, 1, 5000.0),
               *_steady(20, 40, 4, 10.0)]
    rows = phase_rows(samples, stretches(PHASES, 40.0), WEBS)
    before1, before_all = row_of(rows, "before", "web1"), row_of(rows, "before")
    assert before1 is not None and before_all is not None
    assert (before1.requests, before1.per_s, before1.failures, before1.p50_ms) == (20, 4.0, 0,
                                                                                   10.0)
    assert (before_all.requests, before_all.per_s, before_all.p99_ms) == (30, 6.0, 30.0)
    fault = row_of(rows, "fault", "web1")
    assert fault is not None and (fault.failures, fault.p50_ms) == (32, 2000.0)
    web3 = row_of(rows, "steady", "web3")
    assert web3 is not None and (web3.requests, web3.per_s, web3.p50_ms) == (0, 0.0, None)
    assert [r.phase for r in rows[::4]] == ["before", "fault", "recovery", "aftermath", "steady"]
    # aftermath: 1 request a second against 6 just before: not back
    assert recovered_share(samples, stretches(PHASES, 40.0)) == pytest.approx(1 / 6)


def test_recovered_once_the_aftermath_holds_four_fifths_of_just_before_the_fault():
    """The level to come back to is the 5 s before the fault, not the whole
    before phase with the visitors' arrival in it (1 a second while Apache
    settled, then 5)."""
    phases = (Phase("web2 stopped", "fault", 12.0, 20.0),
              Phase("web2 started, until healthy", "recovery", 20.0, 22.0))
    parts = stretches(phases, 40.0)
    samples = [*_steady(1, 7, 1, 3000.0), *_steady(7, 12, 5, 10.0), *_steady(22, 27, 4, 10.0)]
    assert recovered_share(samples, parts) == pytest.approx(0.8)
    before = row_of(phase_rows(samples, parts, WEBS), "before")
    assert before is not None and before.per_s == pytest.approx(31 / 11)
    assert recovered_share([], parts) is None
    assert recovered_share(samples, ()) is None


def test_the_visitors_pace_is_the_locustfiles():
    """pace_per_s follows the pause the visitors really take."""
    text = (Path(__file__).resolve().parents[1] / "loadtests" / "locustfile.py").read_text()
    assert f"wait_time = between({PAUSE_S[0]}, {PAUSE_S[1]})" in text
    assert pace_per_s(30) == pytest.approx(24.0)


def test_in_flight_counts_requests_sent_and_not_yet_answered_mid_second():
    samples = [Sample(0.1, "web1", "/x", True, 100.0),  # answered by 0.2: not at 0.5
               Sample(0.2, "web1", "/x", True, 2900.0),  # waits until 3.1
               Sample(1.4, "web1", "/x", False, 2000.0),  # until 3.4
               Sample(1.0, "web2", "/x", True, 9000.0)]
    assert in_flight(samples, "web1", 4) == [1, 2, 2, 0, 0]


def test_samples_come_from_visits_json_and_old_runs_have_none():
    visits = json.loads('{"samples": [[1.25, "web2", "/db.php", "fail", 2003.5]]}')
    assert samples_of(visits) == (Sample(1.25, "web2", "/db.php", False, 2003.5),)
    assert samples_of({}) == ()


def test_the_report_and_its_data_carry_the_phase_table(tmp_path):
    from lab.load.timeline import write_during_report

    samples = [*_steady(1, 6, 5, 10.0), *_steady(15, 20, 2, 4000.0), *_steady(20, 40, 5, 10.0)]
    rows = [(int(s.sent_s), s.server, s.page, "ok", 1) for s in samples]
    visits = {"rows": [list(r) for r in rows], "locust_stats": []}
    summary = summarize(RunData(RunSettings(30, 40), WEBS, visits, None, 40.0, "t"))
    run = DuringRun("master-killed", summary, PHASES, tuple(rows), samples=tuple(samples))
    write_during_report(run, tmp_path)
    text = (tmp_path / "during.md").read_text()
    assert "| aftermath | 15.0-20.0 | web1 | 10 | 2.0 | 0 | 4000 | 4000 |" in text
    assert "40 % of the 5.0 in the 5 s before the fault: NOT back" in text
    data = json.loads((tmp_path / "during.json").read_text())
    assert data["aftermath"]["share"] == pytest.approx(0.4)
    assert data["aftermath"]["recovered"] is False
    assert {r["phase"] for r in data["phase_table"]} == {"before", "fault", "recovery",
                                                         "aftermath", "steady"}


def _run(samples: list[Sample]) -> DuringRun:
    rows = [(int(s.sent_s), s.server, s.page, "ok", 1) for s in samples]
    visits = {"rows": [list(r) for r in rows], "locust_stats": []}
    summary = summarize(RunData(RunSettings(30, 40), WEBS, visits, None, 40.0, "t"))
    return DuringRun("master-killed", summary, PHASES, tuple(rows), samples=tuple(samples))


def test_the_study_says_why_from_the_run_with_keep_alive_beside_the_one_without():
    """docs/load-study.md's issue-23 section is written from the two runs'
    data alone, and reads the same after a trip through JSON."""
    from lab.load.study_during import THROUGH, during_part, during_row

    by = {t.key: t for t in THROUGH}
    calm = [*_steady(1, 6, 5, 10.0), *_steady(15, 40, 5, 10.0)]
    stalled = [*_steady(1, 6, 5, 10.0), *_steady(15, 20, 2, 4000.0), *_steady(20, 40, 5, 10.0)]
    data = [during_row(by["master-killed"], _run(calm)),
            during_row(by["master-killed-keep-alive"], _run(stalled))]
    text = "\n".join(during_part(data, ["load-study/master-killed.png"]))
    assert "## Why every web server slowed after a promotion (issue 23)" in text
    assert ("With keep-alive on: requests/s before the fault 5.0 (21 % of the visitors' "
            "pace of 24.0), in the 5 s after the promotion's last step 2.0 (8 %)") in text
    assert ("Without (as the lab is now): requests/s before the fault 5.0 (21 % of the "
            "visitors' pace of 24.0), in the 5 s after the promotion's last step 5.0 (21 %)"
            ) in text
    assert "![master-killed](load-study/master-killed.png)" in text
    assert "master-killed-keep-alive.png" not in text  # only the figures written
    assert during_part(json.loads(json.dumps(data)), ["load-study/master-killed.png"]) == \
        text.split("\n")
    assert during_part([], []) == []


def test_failed_requests_are_no_throughput():
    """An aftermath whose requests all fail fast (a server answering 503 at
    once) has not recovered, however many it answered."""
    phases = (Phase("db1 killed", "fault", 12.0, 20.0),
              Phase("promoted", "recovery", 20.0, 22.0))
    parts = stretches(phases, 40.0)
    samples = [*_steady(7, 12, 5, 10.0), *_steady(22, 27, 8, 2.0, ok=False)]
    assert recovered_share(samples, parts) == 0.0
    after = row_of(phase_rows(samples, parts, WEBS), "aftermath")
    assert after is not None and after.per_s and after.answered_per_s == 0.0
