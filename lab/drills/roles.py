"""Back to the article's roles, whatever a drill, an exercise or a student
left: db1 master at .21, db2 its replica at .22, the web servers reading
and writing as F10 says, no fault, the two databases equal. Used by the
exercises' `stop`, the bench between runs, and anyone after a bad day."""

from __future__ import annotations

from lab.drills import faults, runbooks, verdicts
from lab.drills.common import point_web
from lab.drills.steps import Runbook
from lab.engine import addressing
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import admin_password
from lab.model.errors import LabError
from lab.probes import mysql, pages


def _equal(lab: Lab, timeout: float = 10) -> bool:
    pw, m, r = admin_password(lab), lab.topology.master, lab.topology.replica

    def same() -> bool:
        return verdicts.consistency(
            m, mysql.table_states(lab.address_of(m), pw),
            r, mysql.table_states(lab.address_of(r), pw)).equal

    try:
        wait_for(f"{m} and {r} equal", same, timeout=timeout, every=1)
    except LabError:
        return False
    return True


def not_whole(lab: Lab, settle: float = 30) -> str | None:
    """Why the lab is not as the article leaves it, in one line, or None:
    no fault recorded, every host running, db1 the master at its address,
    db2 replicating from it and equal to it (given `settle` seconds to
    apply what it received), every web server writing to db1."""
    if left := faults.active(lab):
        return "faults left: " + ", ".join(f.describe() for f in left)
    states = lab.states()
    if down := [h for h, st in states.items() if st.status != "running"]:
        return "not running: " + ", ".join(down)
    t, pw = lab.topology, admin_password(lab)
    m, r = t.master, t.replica
    for host in t.databases:
        if lab.address_of(host) != t.address(host):
            return f"{host} at {lab.address_of(host)}, not {t.address(host)}"
    if mysql.replica_status(lab.address_of(m), pw) is not None:
        return f"{m} replicates from another server"
    rs = mysql.replica_status(lab.address_of(r), pw)
    if rs is None or rs.master_host != t.address(m):
        return f"{r} does not replicate from {m}"
    if not rs.running:
        return (f"{r}'s replication stopped: IO {rs.io_running}, SQL {rs.sql_running} "
                f"{(rs.last_sql_error or rs.last_io_error)[:80]}").strip()
    for web in t.webs:
        want = (t.address(m), t.address(t.read_server(web)))
        try:
            page = pages.fetch(lab.address_of(web), "/db.php", timeout=5).json()
        except (OSError, ValueError) as exc:
            return f"{web} does not answer /db.php: {exc}"
        if (page.get("write_host"), page.get("read_host")) != want:
            return f"{web} writes to {page.get('write_host')}, reads {page.get('read_host')}"
    if not _equal(lab, timeout=settle):
        return f"{r} differs from {m}"
    return None


def restore_article_roles(lab: Lab) -> None:
    t = lab.topology
    m, r = t.master, t.replica
    if lab.address_of(r) == t.address(m):
        # db2 took over db1's address: db1 must come back on db2's (the runbook's
        # way); Docker would refuse to start it on its own ("Address already in use").
        runbooks.run(lab, runbooks.rejoin_old_master(lab))
    faults.heal_all(lab)
    pw = admin_password(lab)
    for host in t.databases:
        if lab.states()[host].status != "running":
            addressing.start(lab.config, t.host(host).container)

        def answers(h: str = host) -> bool:
            return bool(mysql.query(lab.address_of(h), pw, "SELECT 1 AS one"))

        wait_for(f"{host} answering", answers, timeout=90)
    master_rs = mysql.replica_status(lab.address_of(m), pw)
    replica_is_master = mysql.replica_status(lab.address_of(r), pw) is None
    if lab.address_of(m) != t.address(m) or master_rs is not None or replica_is_master:
        # db1 reloaded from db2 unless it is already a faithful replica of it
        # (a CHANGE MASTER without a reload leaves it running but different).
        if master_rs is None or not master_rs.running or not _equal(lab):
            runbooks.run(lab, runbooks.rejoin_old_master(lab))
        runbooks.run(lab, runbooks.switch_back(lab))
    home = {h: (h, t.address(h)) for h in t.databases}
    runbooks.run(lab, Runbook("article roles", "", tuple(
        point_web(w, home[m], home[t.read_server(w)]) for w in t.webs)))
    rs = mysql.replica_status(lab.address_of(r), pw)
    if rs is None or not rs.running or not _equal(lab):
        # stopped on a conflict, or running but different (a skipped error): rebuild it
        runbooks.run(lab, runbooks.rebuild_replica(lab, online=True))
