"""`make bench`: the lab's own performance figures, measured the same way
every time, on the machine it runs on.

Every figure is measured by the code below during the run that writes it;
nothing is typed in by hand. A run that takes under a minute is repeated
(three times, once with QUICK) and reported as median with min and max.
The results go to bench/results.json and docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.bench import failover_compare
from lab.bench.classbench import class_figures
from lab.bench.classroom_cost import classroom_figures
from lab.bench.cluster_cost import cluster_figures
from lab.bench.dashboard_cost import dashboard_figures
from lab.bench.neighbour import neighbour_figures
from lab.bench.results_doc import machine
from lab.bench.startup import lab_up_times, memory, startup_figures
from lab.drills import faults, runbooks
from lab.drills import partitioned_failover as pf
from lab.drills.faults import Fault
from lab.drills.roles import restore_article_roles
from lab.drills.workload import DIRECT, LedgerWriter
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.load import balancestudy
from lab.load.generator import LoadGen
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress, percentile
from lab.probes import mysql

# --- replication ---------------------------------------------------------------------------


def replication_lag(lab: Lab, rate: float, seconds: float) -> list[float]:
    """Write on db1 at `rate` rows/s for `seconds`; a reader polls db2 and
    notes when each row appears. Lag = seen on db2 - acknowledged by db1, ms."""
    pw = lab.secrets()["DB_ADMIN_PASSWORD"]
    master, replica = lab.topology.master, lab.topology.replica
    tag = f"lag-{uuid.uuid4().hex[:8]}"
    acked: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def reader() -> None:
        conn = mysql.connect(lab.address_of(replica), "admin", pw, "foo")
        try:
            with conn.cursor() as cur:
                last = 0
                while not (done.is_set() and last >= len(acked)):
                    cur.execute("SELECT MAX(seq) AS m FROM ledger WHERE writer = %s", (tag,))
                    m = int(cur.fetchone()["m"] or 0)
                    now = time.monotonic()
                    for s in range(last + 1, m + 1):
                        seen[s] = now
                    last = max(last, m)
                    if done.is_set() and time.monotonic() - stop_at > 10:
                        break
        finally:
            conn.close()

    stop_at = float("inf")
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    conn = mysql.connect(lab.address_of(master), "admin", pw, "foo")
    try:
        with conn.cursor() as cur:
            t0 = time.monotonic()
            n = 0
            while time.monotonic() - t0 < seconds:
                n += 1
                cur.execute("INSERT INTO ledger (seq, writer) VALUES (%s, %s)", (n, tag))
                acked[n] = time.monotonic()
                pause = t0 + n / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
    finally:
        conn.close()
        stop_at = time.monotonic()
        done.set()
        t.join(timeout=20)
    return [1000 * (seen[s] - acked[s]) for s in acked if s in seen]


def catch_up_after_cut(lab: Lab, cut_seconds: float = 30) -> float:
    """Seconds from healing a `cut_seconds` network cut of db2 (writes going
    on) until db2 has every row db1 has."""
    pw = lab.secrets()["DB_ADMIN_PASSWORD"]
    master, replica = lab.topology.master, lab.topology.replica
    with LedgerWriter(lab, f"catchup-{uuid.uuid4().hex[:6]}", via=(DIRECT,), rate=50) as w:
        wait_for("writes", lambda: len(w.acknowledged) >= 10, timeout=30)
        with faults.injected(lab, Fault("cut", replica), wait_healthy=0):
            time.sleep(cut_seconds)  # the outage itself is the measured condition
        healed = time.monotonic()
        target = mysql.query(lab.address_of(master), pw,
                             "SELECT @@gtid_binlog_pos AS p")[0]["p"]
        wait_for(f"{replica} caught up", lambda: mysql.query(
            lab.address_of(replica), pw, f"SELECT MASTER_GTID_WAIT('{target}', 1) AS w"
        )[0]["w"] == 0, timeout=120, every=0.1)
        return time.monotonic() - healed


def failover(lab: Lab, semi_sync: bool) -> tuple[float, int, int]:
    """Kill db1 under write load, promote db2 with the runbook: seconds from
    the kill to the first write through web1 that was acknowledged (the
    moment its answer came, not when it was sent), and acknowledged writes
    lost (of how many). Restores the article's roles afterwards."""
    if semi_sync:
        _ok(lab, runbooks.semi_sync(lab, on=True, lossless=True))
    t = lab.topology
    master, web = t.address(t.master), t.writer_host
    w = LedgerWriter(lab, f"bench-failover-{uuid.uuid4().hex[:6]}", rate=50,
                     master=lambda: master)
    try:
        with w:
            wait_for("writes", lambda: len(w.acknowledged) >= 100, timeout=60)
            faults.inject(lab, Fault("kill", t.master))
            killed = w.elapsed()
            _ok(lab, runbooks.promote_replica(lab))
            first = wait_for(f"a write through {web} acknowledged", lambda: min(
                (a.at + a.took for a in w.attempts if a.ok and a.via == web and a.at > killed),
                default=None), timeout=60)
        stored = w.stored(lab.address_of(t.replica), lab.secrets()["DB_ADMIN_PASSWORD"])
        lost = len(set(w.acknowledged) - set(stored))
        return first - killed, lost, len(w.acknowledged)
    finally:
        _ok(lab, runbooks.rejoin_old_master(lab))
        _ok(lab, runbooks.switch_back(lab))
        faults.heal_all(lab)
        if semi_sync:
            _ok(lab, runbooks.semi_sync(lab, on=False))


def failover_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """The plain kill of db1 under 50 writes/s and the scripted promotion,
    per replication mode: time to the first acknowledged write, and loss."""
    figures = []
    for semi in (False, True):
        mode = "semi-sync lossless" if semi else "async"
        progress(f"failover with {mode} replication")
        took = Figure(f"failover ({mode}): kill db1 -> first acknowledged write through web1",
                      "s", note="timed to the answer of the first write through web1 that "
                      "succeeded after the kill; promote-replica runbook, scripted, taking "
                      "the master's address")
        lost = Figure(f"acknowledged writes lost ({mode})", "writes")
        for _ in range(reps):
            seconds, n_lost, n_acked = failover(lab, semi)
            took.runs.append(seconds)
            lost.runs.append(n_lost)
            lost.note = f"of about {n_acked} acknowledged at 50 writes/s"
        figures += [took, lost]
    return figures


def partitioned_failover_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """Acknowledged writes lost and left indeterminate when db2 is cut off
    from db1 while writes go on and db1 then dies (lab.drills.
    partitioned_failover), per replication mode; how long writes blocked."""
    figures = []
    for mode in pf.MODES:
        progress(f"partition, then master killed: {mode}")
        lost = Figure(f"partition + kill ({mode}): acknowledged writes lost", "writes",
                      note="db2 cut from db1 (iptables) under 20 writes/s via web1 and "
                      "direct, db1 killed, db2 promoted; counted on the new master")
        unsure = Figure(f"partition + kill ({mode}): writes left indeterminate", "writes",
                        note="the client gave up after 3 s: may or may not be stored")
        blocked = Figure(f"partition + kill ({mode}): seconds writes blocked", "s",
                         note="sum over the writes left without an answer during the "
                         "partition")
        for _ in range(reps):
            try:
                run = pf.run_partitioned_failover(lab, mode)
            finally:
                _restore_roles(lab)
            f = run.figures()
            lost.runs.append(float(f["lost"]))
            unsure.runs.append(float(f["indeterminate"]))
            blocked.runs.append(float(f["blocked_seconds"]))
        figures += [lost, unsure, blocked]
    return figures


def _restore_roles(lab: Lab) -> None:
    """db1 master, db2 its replica, no fault, semi-sync off."""
    restore_article_roles(lab)
    _ok(lab, runbooks.semi_sync(lab, on=False))


def _ok(lab: Lab, book: runbooks.Runbook) -> None:
    result = runbooks.execute(lab, book)
    if not result.ok:
        failed = result.failed
        raise LabError(f"runbook {book.name} failed", failed.checked if failed else "")


# Parts of the bench that can be measured again on their own (`foolab bench
# --only NAME`); their figures replace those of the same name in results.json.
def load_study_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """The load study (issue 13), once whatever `reps`: it takes minutes and
    also writes docs/load-study.md and the README's load figures."""
    from lab.load.study import bench_figures, study
    from lab.model.config import REPO

    gen = LoadGen(lab, progress=progress)
    gen.build()
    rows, _ = study(gen, REPO / "reports" / "load-study", REPO / "docs", REPO / "README.md",
                    progress)
    return bench_figures(rows)


def fresh_machine_part(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """`reps` new machines, each fetching every package anew (a minute or more each)."""
    from lab.bench.fresh_machine import fresh_machine_figures

    return fresh_machine_figures(reps, progress)


PARTS: dict[str, Callable[[Lab, int, Progress], list[Figure]]] = {
    "failover": failover_figures,
    "writes": partitioned_failover_figures,
    "dashboard": dashboard_figures,
    "class": class_figures,
    "classroom": classroom_figures,
    "cluster": cluster_figures,
    "load": load_study_figures,
    "startup": startup_figures,
    "neighbour": neighbour_figures,
    "machine": fresh_machine_part,
}
WITHOUT_LAB = {"machine"}  # parts that measure on a machine of their own, not this lab


def run_part(lab: Lab, part: str, quick: bool, progress: Progress) -> list[Figure]:
    if part not in PARTS:
        raise LabError(f"unknown bench part {part!r}", hint=f"one of {', '.join(PARTS)}")
    return PARTS[part](lab, 1 if quick else 3, progress)


def run_bench(lab: Lab, quick: bool, progress: Progress) -> dict[str, Any]:
    """Measure everything; return the results document (see write_results)."""
    reps = 1 if quick else 3
    figures: list[Figure] = []
    per_host: dict[str, Figure] = {}
    if not quick:
        progress("lab-up fresh (base image bootstrapped, lab images built)")
        fresh, _, _ = lab_up_times(lab, 1, cold=True, progress=progress, fresh=True)
        progress("lab-up cold (lab images rebuilt)")
        cold, _, _ = lab_up_times(lab, 1, cold=True, progress=progress)
        figures += [fresh, cold]
    progress("lab-up warm and lab-down")
    warm, down, per_host = lab_up_times(lab, reps, cold=False, progress=progress)
    figures += [warm, down, *per_host.values()]
    mem = memory(lab)
    figures.append(Figure("memory of the whole lab", "MiB", [sum(mem.values())], "idle"))

    for rate in (100, 500):
        progress(f"replication lag at {rate} writes/s")
        med, p99, achieved = Figure(f"lag db1->db2 at {rate}/s, median", "ms"), \
            Figure(f"lag db1->db2 at {rate}/s, p99", "ms"), \
            Figure(f"writes/s achieved (target {rate})", "1/s")
        for _ in range(reps):
            span = 5.0 if quick else 10.0
            lags = replication_lag(lab, rate, span)
            med.runs.append(statistics.median(lags))
            p99.runs.append(percentile(lags, 99))
            achieved.runs.append(len(lags) / span)
        figures += [med, p99, achieved]

    progress("replica catch-up after a 30 s network cut")
    catch = Figure("catch-up after a 30 s cut of db2 heals", "s",
                   note="connect retry is 15 s (the article's master-connect-retry)")
    for _ in range(reps):
        catch.runs.append(catch_up_after_cut(lab))
    figures.append(catch)

    figures += failover_figures(lab, reps, progress)
    figures += partitioned_failover_figures(lab, reps, progress)
    progress("the same kill three ways: runbook, MHA, keepalived")
    ha_figures, ha_rows = failover_compare.bench_figures(lab, quick, progress)
    figures += ha_figures
    figures += load_figures(lab, quick, progress)
    figures += balancestudy.bench_figures(lab, quick, progress)  # F22: lb against DNS
    figures += dashboard_figures(lab, reps, progress)  # issue 12: change -> page, idle CPU

    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "quick": quick,
        "machine": machine(),
        "figures": [f.as_dict() for f in figures],
        "memory_mib": mem,
        "failover_compare": ha_rows,
    }


def load_figures(lab: Lab, quick: bool, progress: Progress) -> list[Figure]:
    """The load generator's ceiling against wrk on web1, and what web1-3
    answer together (wrk on each at once), from the loadgen container."""
    gen = LoadGen(lab, progress=progress)
    gen.build()
    out = Path("reports") / time.strftime("bench-load-%Y%m%d-%H%M%S")
    ceiling = gen.ceiling(out, rounds=1 if quick else 3)
    ratio = Figure("Locust / wrk requests per second, light page on web1", "ratio",
                   ceiling.ratios, note="aim: at least 0.5")
    locust = Figure("Locust ceiling on web1 (light page)", "1/s", [t.rps for t in ceiling.locust])
    wrk = Figure("wrk on web1 (light page)", "1/s", [t.rps for t in ceiling.wrk])
    together = Figure("web1-3 together (wrk on each at once, light page)", "1/s")
    for _ in range(1 if quick else 3):
        together.runs.append(gen.cluster_rate(out))
    return [ratio, locust, wrk, together]
