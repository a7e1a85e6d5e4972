"""The same kill under the same writes, three ways (issue 15): the article's
runbook (promote-replica, scripted: started the moment db1 dies), MHA and
keepalived (nobody runs anything). One run measures, for one method and one
replication mode: kill of db1 -> first acknowledged write through web1,
acknowledged writes lost on the new master, and what happens when db1 comes
back. Arming the methods and healing afterwards are the caller's (the
admin layer: lab.admin.mha, lab.admin.keepalived; the bench and the CLI).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pymysql

from lab.drills import faults, runbooks
from lab.drills.faults import Fault
from lab.drills.workload import DIRECT, INDETERMINATE, LedgerWriter
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import admin_password, password, read_only, semi_sync_status
from lab.model import article
from lab.model.errors import LabError
from lab.probes import mysql

METHODS = ("runbook", "mha", "keepalived")
MODES = ("async", "semisync-lossless")
HUMAN = {
    "runbook": "notice db1 is dead, run `foolab runbook promote-replica` (here: scripted, "
               "started the moment db1 dies)",
    "mha": "nothing to fail over; afterwards re-arm the manager (it exits after one failover)",
    "keepalived": "nothing; afterwards restart keepalived on the repaired pair",
}


@dataclass(frozen=True)
class Takeover:
    """One kill of db1 under writes and what followed."""

    method: str
    mode: str
    writer: LedgerWriter
    killed_at: float  # seconds into the writer's run
    first_ack_s: float  # kill -> answer of the first acknowledged write through web1
    lost: tuple[int, ...]  # acknowledged, not on the new master
    comeback: str  # what db1 did when it came back
    second_master: bool  # db1 came back writable beside the new master
    semi_sync_at_kill: str = ""  # Rpl_semi_sync_master_status just before the kill

    def figures(self) -> dict[str, float | int | str | bool]:
        w = self.writer
        return {
            "method": self.method, "mode": self.mode,
            "kill_to_first_ack_web1_s": round(self.first_ack_s, 2),
            "acknowledged": len(w.acknowledged), "lost": len(self.lost),
            "indeterminate": sum(1 for a in w.attempts if a.outcome == INDETERMINATE),
            "failed_after_kill": sum(1 for a in w.attempts
                                     if a.at >= self.killed_at and not a.ok),
            "human": HUMAN[self.method], "db1_comes_back": self.comeback,
            "second_master": self.second_master,
        }


def require_master_alive(lab: Lab) -> None:
    """Refuse a measured failover unless db1 is the running master."""
    master = lab.topology.master
    if lab.states()[master].status != "running":
        raise LabError(f"{master} is not running",
                       hint="restore the roles first (runbooks rejoin-old-master, switch-back)")


def require_master_dead(lab: Lab) -> None:
    """Refuse a manual failover while db1 runs: two masters would take writes."""
    master = lab.topology.master
    if lab.states()[master].status == "running":
        raise LabError(f"{master} is alive: refusing to fail over",
                       hint="promote only a dead master's replica (split brain otherwise); "
                            f"`foolab fault kill {master}` first to try it")


def promote_by_runbook(lab: Lab) -> None:
    """The article's procedure, scripted: db2 takes db1's address."""
    result = runbooks.execute(lab, runbooks.promote_replica(lab))
    if not result.ok:
        failed = result.failed
        raise LabError("runbook promote-replica failed", failed.checked if failed else "")


def run_takeover(lab: Lab, method: str, mode: str, write_address: str,
                 promote: Callable[[Lab], None] | None = None,
                 timeout: float = 90) -> Takeover:
    """Writes through web1 and straight to `write_address` (db1's, or the
    floating address), db1 killed, `promote` run at once if the method needs
    a human (None: nobody does anything); wait for the first acknowledged
    write through web1, count the losses on db2, then start db1 again and
    see what it does. Leaves db2 the master: the caller heals."""
    if method not in METHODS or mode not in MODES:
        raise LabError(f"unknown method or mode {method!r} {mode!r}",
                       hint=f"methods {', '.join(METHODS)}; modes {', '.join(MODES)}")
    require_master_alive(lab)
    if mode == "semisync-lossless":
        _ok(lab, runbooks.semi_sync(lab, on=True, lossless=True))
    pw, t = admin_password(lab), lab.topology
    web = t.writer_host
    w = LedgerWriter(lab, f"ha-{method[:4]}-{uuid.uuid4().hex[:6]}", via=(web, DIRECT),
                     rate=20, master=lambda: write_address, timeout=3, max_seconds=240)
    with w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        wait_for(f"{t.replica} caught up before the kill", lambda: set(w.acknowledged) <= set(
            w.stored(lab.address_of(t.replica), pw)), timeout=20)
        status = semi_sync_status(lab) if mode != "async" else ""
        faults.inject(lab, Fault("kill", t.master))
        killed = w.elapsed()
        if promote is not None:
            promote(lab)

        def first() -> float | None:
            return min((a.at + a.took for a in w.attempts
                        if a.ok and a.via == web and a.at > killed), default=None)

        done = wait_for(f"{method}: a write through {web} acknowledged after the kill", first,
                        timeout=timeout, every=0.1)
        wait_for("a direct write acknowledged after the kill", lambda: any(
            a.ok and a.via == DIRECT and a.at > killed for a in w.attempts), timeout=30)
    stored = set(w.stored(lab.address_of(t.replica), pw))
    lost = tuple(sorted(set(w.acknowledged) - stored))
    comeback, second = db1_comes_back(lab)
    return Takeover(method, mode, w, killed, done - killed, lost, comeback, second, status)


def db1_comes_back(lab: Lab) -> tuple[str, bool]:
    """Start the killed db1 again, as a repaired machine would boot, and say
    what it is then: refused, a replica, or a second writable master. True
    when it is a second master (a write as the web application succeeded)."""
    old, new = lab.topology.master, lab.topology.replica  # killed, promoted
    fault = Fault("kill", old)
    try:
        faults.heal(lab, fault, wait_healthy=0)
    except LabError as exc:  # the kill stays recorded: the caller's rejoin heals it
        return f"docker refused to start {old}: {exc.observed or exc.what}", False
    try:
        wait_for(f"{old}'s server answering", lambda: mysql.query(
            lab.address_of(old), admin_password(lab), "SELECT 1 AS one"), timeout=60)
    except LabError as exc:
        return f"{old} started but its server does not answer: {exc}", False
    address = lab.address_of(old)
    replica = mysql.replica_status(address, admin_password(lab))
    ro = read_only(lab, old)
    try:
        conn = mysql.connect(address, "app", password(lab, "APP_PASSWORD"),
                             article.APP_DATABASE, timeout=3, read_timeout=3)
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO ledger (writer, note) VALUES ('comeback', "
                            f"'written to the returning {old}')")
        finally:
            conn.close()
        wrote = True
    except pymysql.MySQLError:
        wrote = False
    state = (f"replica of {replica.master_host}" if replica else "not a replica") + \
        f", read_only {'ON' if ro else 'OFF'}"
    if wrote and not replica:
        return (f"{old} back at {address}: {state}; a write to it was acknowledged: "
                f"a second master beside {new}"), True
    return f"{old} back at {address}: {state}; writes to it refused", False


def _ok(lab: Lab, book: runbooks.Runbook) -> None:
    result = runbooks.execute(lab, book)
    if not result.ok:
        failed = result.failed
        raise LabError(f"runbook {book.name} failed", failed.checked if failed else "")
