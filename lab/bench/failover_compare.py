"""`foolab failover compare` and its part of `make bench` (issue 15): the
same kill of db1 under the same writes, three ways (lab.drills.takeover):
the article's runbook (scripted), MHA and keepalived. Each method is armed
here (lab.admin.mha / keepalived), measured, healed back to the article's
roles after every run, and removed again if this started it.
"""

from __future__ import annotations

import statistics
from typing import Any

from lab.admin import keepalived, mha
from lab.drills import faults, runbooks, takeover
from lab.engine.lab import Lab
from lab.hosts.mariadb import admin_password
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress
from lab.probes import mysql


def arm(lab: Lab, method: str) -> bool:
    """Make the method ready on the article's roles; True if started here."""
    if method == "mha":
        return mha.add(lab)
    if method == "keepalived":
        return keepalived.add(lab)
    return False


def disarm(lab: Lab, method: str) -> None:
    if method == "mha":
        mha.remove(lab)
    elif method == "keepalived":
        keepalived.remove(lab)


def restore_roles(lab: Lab) -> None:
    """db1 master at .21, db2 its replica at .22, no fault, semi-sync off."""
    pw, t = admin_password(lab), lab.topology
    if lab.states()[t.master].status != "running" or mysql.replica_status(
            lab.address_of(t.replica), pw) is None:
        _ok(lab, runbooks.rejoin_old_master(lab))
        _ok(lab, runbooks.switch_back(lab))
    faults.heal_all(lab)
    _ok(lab, runbooks.semi_sync(lab, on=False))


def rearm(lab: Lab, method: str) -> None:
    """After restore_roles: the method watching db1 again."""
    if method == "mha":
        mha.arm(lab)
    elif method == "keepalived":
        keepalived.arm(lab)


def measure(lab: Lab, method: str, mode: str) -> tuple[takeover.Takeover, str]:
    """One kill under writes, and MHA's own failover report (read before it
    is re-armed); the roles (and the method) restored after."""
    if method == "runbook":
        address, promote = lab.topology.address(lab.topology.master), takeover.promote_by_runbook
    else:
        address, promote = lab.topology.float_address, None
    try:
        run = takeover.run_takeover(lab, method, mode, address, promote)
        return run, mha.failover_report(lab)[-1500:] if method == "mha" else ""
    finally:
        restore_roles(lab)
        rearm(lab, method)


def compare(lab: Lab, reps: int = 3, lossless_reps: int = 1,
            methods: tuple[str, ...] = takeover.METHODS,
            progress: Progress = lambda _m: None) -> list[dict[str, Any]]:
    """Every method: `reps` runs with asynchronous replication (the time's
    median) and `lossless_reps` with semi-sync lossless. One row per run."""
    takeover.require_master_alive(lab)
    rows: list[dict[str, Any]] = []
    # One floating address: whatever method runs now steps aside, and is back at the end.
    before = [m for m in ("mha", "keepalived") if getattr(lab.config, m)]
    for m in before:
        disarm(lab, m)
    try:
        _compare(lab, rows, reps, lossless_reps, methods, progress)
    finally:
        for m in before:
            arm(lab, m)
    return rows


def _compare(lab: Lab, rows: list[dict[str, Any]], reps: int, lossless_reps: int,
             methods: tuple[str, ...], progress: Progress) -> None:
    for method in methods:
        if method != "runbook":
            (mha if method == "mha" else keepalived).check(lab)
        progress(f"{method}: arming")
        started = arm(lab, method)
        try:
            for mode, n in (("async", reps), ("semisync-lossless", lossless_reps)):
                for i in range(n):
                    progress(f"{method}, {mode}: kill {i + 1}/{n}")
                    run, report = measure(lab, method, mode)
                    rows.append({**run.figures(), **({"mha_report": report} if report else {})})
                    progress(f"  first acknowledged write through web1 after "
                             f"{run.first_ack_s:.1f} s, {len(run.lost)} lost; "
                             f"{run.comeback}")
        finally:
            if started:
                disarm(lab, method)


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per method: median time (async runs), losses per mode."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        times = [r["kill_to_first_ack_web1_s"] for r in mine if r["mode"] == "async"]
        lost = {m: [r["lost"] for r in mine if r["mode"] == m] for m in takeover.MODES}
        out.append({
            "method": method,
            "kill_to_first_ack_web1_median_s": statistics.median(times) if times else None,
            "runs": len(times),
            "lost_async": lost["async"], "lost_lossless": lost["semisync-lossless"],
            "acknowledged": [r["acknowledged"] for r in mine],
            "human": mine[0]["human"], "db1_comes_back": mine[-1]["db1_comes_back"],
            "second_master": any(r["second_master"] for r in mine),
        })
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """The comparison as Markdown (README, docs/benchmarks.md), from results."""
    lines = ["| method | kill -> first acknowledged write via web1 (median) | runs | "
             "acknowledged writes lost: async / semi-sync lossless | what a human did | "
             "when db1 comes back |", "|---|---:|---:|---|---|---|"]
    for s in summary(rows):
        med = s["kill_to_first_ack_web1_median_s"]
        lines.append(f"| {s['method']} | {'-' if med is None else f'{med:.1f} s'} | "
                     f"{s['runs']} | {s['lost_async']} / {s['lost_lossless']} | {s['human']} "
                     f"| {s['db1_comes_back']} |")
    return "\n".join(lines)


def bench_figures(lab: Lab, quick: bool, progress: Progress) -> tuple[list[Figure],
                                                                     list[dict[str, Any]]]:
    """The comparison as bench figures, and its rows for the results file."""
    rows = compare(lab, reps=1 if quick else 3, lossless_reps=1, progress=progress)
    return figures_of(rows), rows


def figures_of(rows: list[dict[str, Any]]) -> list[Figure]:
    figures = []
    for s in summary(rows):
        m = s["method"]
        runs = [r["kill_to_first_ack_web1_s"] for r in rows
                if r["method"] == m and r["mode"] == "async"]
        figures.append(Figure(f"auto-failover ({m}): kill db1 -> first acknowledged write "
                              "through web1", "s", runs, note=s["human"]))
        for mode in takeover.MODES:
            figures.append(Figure(f"auto-failover ({m}, {mode}): acknowledged writes lost",
                                  "writes", [float(r["lost"]) for r in rows
                                             if r["method"] == m and r["mode"] == mode]))
    return figures


def _ok(lab: Lab, book: runbooks.Runbook) -> None:
    result = runbooks.execute(lab, book)
    if not result.ok:
        failed = result.failed
        raise LabError(f"runbook {book.name} failed", failed.checked if failed else "")

