"""Goal checks: each reads the real lab through the probes (SQL status and
data, DNS answers, HTTP through each web server, files on the hosts) and
returns (held, what it saw). The data goals are the scenarios' proofs:
every table of every user database equal, the writer's acknowledged writes
present exactly once, the same content on the web servers."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable

from lab.drills import verdicts
from lab.engine.lab import Lab
from lab.exercises import writer
from lab.exercises.definitions import Started
from lab.hosts.mariadb import admin_password
from lab.probes import mysql, pages

Check = Callable[[Lab, Started], tuple[bool, str]]


def _running(lab: Lab, host: str) -> bool:
    return lab.states()[host].status == "running"


def replicates(replica: str, master: str) -> Check:
    """`replica`'s IO and SQL threads run, following `master`'s address now."""

    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        if not _running(lab, replica):
            return False, f"{replica} is not running"
        rs = mysql.replica_status(lab.address_of(replica), admin_password(lab))
        if rs is None:
            return False, f"{replica} has no replication settings"
        want = lab.address_of(master)
        seen = (f"IO {rs.io_running}, SQL {rs.sql_running}, from {rs.master_host}"
                + (f", error: {rs.last_sql_error or rs.last_io_error}"
                   if rs.last_sql_error or rs.last_io_error else ""))
        return rs.running and rs.master_host == want, seen

    return check


def caught_up(lab: Lab, host: str, timeout: float = 10) -> bool:
    """Whether `host`, if it replicates, has applied everything its master
    had logged a moment ago (MASTER_GTID_WAIT): a replica that does not run
    never will, so it is not waited for. A host that replicates from
    nothing is caught up."""
    pw = admin_password(lab)
    rs = mysql.replica_status(lab.address_of(host), pw)
    if rs is None:
        return True
    if not rs.running:
        return False
    masters = [h for h in lab.topology.databases
               if _running(lab, h) and lab.address_of(h) == rs.master_host]
    if not masters:
        return False
    pos = mysql.query(lab.address_of(masters[0]), pw, "SELECT @@gtid_binlog_pos AS p")[0]["p"]
    waited = mysql.query(lab.address_of(host), pw,
                         f"SELECT MASTER_GTID_WAIT('{pos}', {timeout:g}) AS w")[0]["w"]
    return bool(waited == 0)


# A goal that fails after the replica has caught up is judged again this
# often, a second apart: a write the writer made meanwhile may be on one
# server and not yet on the other. A real difference stays.
RETRIES = 3


def _settled(lab: Lab, hosts: tuple[str, ...], judge: Callable[[], bool]) -> bool:
    """`judge` after each replicating host has caught up, retried RETRIES
    times while replication runs; at once when it cannot change."""
    for attempt in range(RETRIES + 1):
        running = all(caught_up(lab, h) for h in hosts)
        if judge():
            return True
        if not running or attempt == RETRIES:
            return False
        time.sleep(1)  # the next write of the writer, at most one a second
    return False


def identical(master: str, replica: str) -> Check:
    """Row counts and checksums of every table of every user database equal,
    once the replica has applied what the master had logged."""

    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        if not (_running(lab, master) and _running(lab, replica)):
            return False, f"{master} or {replica} is not running"
        pw = admin_password(lab)
        last: list[str] = []

        def same() -> bool:
            v = verdicts.consistency(master, mysql.table_states(lab.address_of(master), pw),
                                     replica, mysql.table_states(lab.address_of(replica), pw))
            last[:] = v.differing
            return v.equal

        if not _settled(lab, (replica,), same):
            return False, "tables that differ: " + ", ".join(last)
        return True, "every table equal"

    return check


# The rows that may be orders: mark-sized notes (verdicts.orders says which are).
MARKED_ROWS = "SELECT seq, note FROM foo.ledger WHERE CHAR_LENGTH(note) = 64"


def writes_kept(*hosts: str) -> Check:
    """Every order the writer saw acknowledged is on `hosts`, once, no
    order it passed over without sending is, and there were at least
    writer.MIN_ACKNOWLEDGED of them: the writer's log and key are on the
    teacher's side, out of the student's reach; its rows are found by their
    marks (verdicts.orders), not by any column a student can fill."""

    def check(lab: Lab, s: Started) -> tuple[bool, str]:
        acked, tried = writer.history(lab, s.writer)
        if len(acked) < writer.MIN_ACKNOWLEDGED:
            return False, (f"only {len(acked)} orders acknowledged of {len(tried)} sent "
                           f"(at least {writer.MIN_ACKNOWLEDGED} needed to judge)")
        pw, key = admin_password(lab), writer.exercise_key(lab, s.writer)
        seen = []
        for host in hosts:
            if not _running(lab, host):
                return False, f"{host} is not running"
            last: list[verdicts.Orders] = []

            def whole(h: str = host, last: list[verdicts.Orders] = last) -> bool:
                rows = [(None if r["seq"] is None else int(r["seq"]), str(r["note"]))
                        for r in mysql.query(lab.address_of(h), pw, MARKED_ROWS)]
                last[:] = [verdicts.orders(key, s.writer, tried, acked, rows)]
                return last[0].ok

            if not _settled(lab, (host,), whole):
                return False, f"{host}: " + (last[0].problems() if last else "unreadable")
            seen.append(f"{host}: {len(acked)} acknowledged, all there once")
        return True, "; ".join(seen)

    return check


def writes_kept_where_written() -> Check:
    """writes_kept on the database server the web servers write to now
    (the writer host's write address): the server that takes the orders
    must have every confirmed one."""

    def check(lab: Lab, s: Started) -> tuple[bool, str]:
        web = lab.topology.writer_host
        address = pages.fetch(lab.address_of(web), "/db.php", timeout=5).json()["write_host"]
        dbs = [h for h in lab.topology.databases
               if _running(lab, h) and lab.address_of(h) == address]
        if not dbs:
            return False, f"{web} writes to {address}, where no database server runs"
        return writes_kept(dbs[0])(lab, s)

    return check


def writes_through_every_web(lab: Lab, s: Started) -> tuple[bool, str]:
    """A write through each web server's /db.php is acknowledged. Each is
    an order shaped like the writer's (writer.probe: no tag, a marked
    note), so a web server cannot take the grader's and refuse the
    writer's; without a writer, a plain order."""
    failed = []
    for web in lab.topology.webs:
        path = (writer.probe(lab, s.writer) if s.writer
                else f"/db.php?write=1&seq=1&note={secrets.token_hex(32)}")
        try:
            r = pages.fetch(lab.address_of(web), path, timeout=4)
            if r.status != 200:
                failed.append(f"{web}: HTTP {r.status}")
        except OSError as exc:
            failed.append(f"{web}: {exc}")
    return not failed, "; ".join(failed) or "every web server wrote"


def is_master(host: str) -> Check:
    """`host` takes writes: no replication settings, not read-only."""

    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        if not _running(lab, host):
            return False, f"{host} is not running"
        address, pw = lab.address_of(host), admin_password(lab)
        ro = int(mysql.query(address, pw, "SELECT @@read_only AS ro")[0]["ro"])
        rs = mysql.replica_status(address, pw)
        return (not ro and rs is None,
                f"read_only={ro}, " + ("replicating from " + rs.master_host if rs else
                                       "no replication settings"))

    return check


def read_only(host: str) -> Check:
    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        if not _running(lab, host):
            return False, f"{host} is not running"
        ro = int(mysql.query(lab.address_of(host), admin_password(lab),
                             "SELECT @@read_only AS ro")[0]["ro"])
        return bool(ro), f"read_only={ro}"

    return check


def reads_from(webs: tuple[str, ...], db: str) -> Check:
    """Reads through each of `webs` succeed and go to `db`'s address."""

    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        want, seen, ok = lab.address_of(db), [], True
        for web in webs:
            try:
                r = pages.fetch(lab.address_of(web), "/db.php", timeout=5)
                host = r.json().get("read_host")
            except (OSError, ValueError) as exc:
                ok = False
                seen.append(f"{web}: {exc}")
                continue
            ok = ok and r.status == 200 and host == want
            seen.append(f"{web}: HTTP {r.status}, reads {host}")
        return ok, "; ".join(seen)

    return check


def reads_succeed(webs: tuple[str, ...]) -> Check:
    def check(lab: Lab, _s: Started) -> tuple[bool, str]:
        seen, ok = [], True
        for web in webs:
            try:
                status = pages.fetch(lab.address_of(web), "/db.php", timeout=5).status
            except OSError as exc:
                status, ok = 0, False
                seen.append(f"{web}: {exc}")
                continue
            ok = ok and status == 200
            seen.append(f"{web}: HTTP {status}")
        return ok, "; ".join(seen)

    return check


def probe_name() -> str:
    return f".grader-{uuid.uuid4().hex[:8]}"
