"""Scenarios 5-6: the master dies (F19). The replica is promoted, the
repaired master rejoins as its replica, and the roles are switched back.

Every test leaves the article's layout behind it (db1 master at .21, db2
replica at .22), even when it fails: see `restore_roles`."""

from __future__ import annotations

import uuid

import pytest
from conftest import run

from lab.drills import faults, runbooks, verdicts
from lab.drills.faults import Fault
from lab.drills.workload import DIRECT, LedgerWriter
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import semi_sync_status, setup_done
from lab.model.config import REPO
from lab.probes import mysql

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
WEBS = ("web1", "web2", "web3")


@pytest.mark.parametrize("semi_sync", [False, True], ids=["async", "semisync-lossless"])
def test_master_killed_under_write_load(semi_sync, lab, restore_roles, record_property,
                                        prove_nothing_lost):
    """Scenario 5: db1 is killed while writes pour in through the three web
    servers and directly; db2 is promoted (taking db1's address) and writes
    succeed again everywhere. Just before the kill db2 stops receiving
    (its IO thread stopped): asynchronous replication then acknowledges
    writes db2 never gets, and loses them; lossless semi-synchronous
    replication (on at the kill) acknowledges none, and loses none."""
    if semi_sync:
        run(lab, runbooks.semi_sync(lab, on=True, lossless=True))
    pw = lab.secrets()["DB_ADMIN_PASSWORD"]
    # Direct writes go to the master's address, which db2 takes over.
    master_address = lab.topology.address("db1")
    w = LedgerWriter(lab, f"failover-{uuid.uuid4().hex[:6]}", rate=50,
                     master=lambda: master_address)
    with w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 100, timeout=60)
        mysql.query(lab.address_of("db2"), pw, "STOP SLAVE IO_THREAD")
        deaf = w.elapsed()  # from here db2 receives nothing
        if semi_sync:
            wait_for("writes left waiting for db2", lambda: sum(
                1 for a in w.attempts if a.at >= deaf) >= 3, timeout=30)
        else:
            wait_for("writes acknowledged that db2 cannot have",
                     lambda: w.acknowledged_since(deaf) >= 10, timeout=30)
        status_at_kill = semi_sync_status(lab)
        faults.inject(lab, Fault("kill", "db1"))
        killed_at = w.elapsed()
        assert lab.states()["db1"].status == "exited"
        wait_for("writes fail while there is no master",
                 lambda: any(not a.ok and a.at > killed_at for a in w.attempts), timeout=20)
        run(lab, runbooks.promote_replica(lab))
        promoted_at = w.elapsed()
        for via in (*WEBS, DIRECT):
            wait_for(f"writes through {via} accepted by the new master", lambda v=via: any(
                a.ok and a.via == v and a.at > promoted_at for a in w.attempts), timeout=30)
    record_property("failover_seconds", round(promoted_at - killed_at, 2))
    record_property("acknowledged", len(w.acknowledged))
    # The proof against the new master alone: db1 is still dead.
    stored = w.stored(lab.address_of("db2"), pw)
    ledger = verdicts.ledger(w.attempted, w.acknowledged, stored)
    record_property("acknowledged_writes_lost", len(ledger.lost))
    assert not ledger.duplicated
    while_deaf = {a.seq for a in w.attempts if a.ok and deaf <= a.at < killed_at}
    if semi_sync:
        assert status_at_kill == "ON", f"Rpl_semi_sync_master_status {status_at_kill!r} at the kill"
        assert not while_deaf, f"acknowledged while db2 received nothing: {sorted(while_deaf)}"
        assert ledger.lost == [], "semi-sync must not lose an acknowledged write"
    else:
        assert ledger.lost, "asynchronous replication lost nothing: did db2 stop receiving?"
        # What was lost was acknowledged while db2 could not receive (or on its way).
        assert set(ledger.lost) <= {a.seq for a in w.attempts if a.ok and
                                    a.at + a.took >= deaf - 1}, (ledger.lost, deaf)
    # Repair: db1 rejoins as replica of db2; then the article's roles again.
    run(lab, runbooks.rejoin_old_master(lab))
    prove_nothing_lost(w, master="db2", replica="db1", allow_lost=not semi_sync)
    run(lab, runbooks.switch_back(lab))
    prove_nothing_lost(w, allow_lost=not semi_sync)
    assert mysql.replica_status(lab.address_of("db2"), lab.secrets()["DB_ADMIN_PASSWORD"])


def test_old_master_rejoins_then_roles_switch_back(lab, restore_roles, prove_nothing_lost):
    """Scenario 6: promote by pointing the web servers at db2 (the other
    way the article names), bring repaired db1 back as db2's replica,
    prove them consistent, then switch back to the original roles."""
    # A slow, steady writer: the runbooks compare the two databases table by
    # table while it runs, which needs moments with no write in between.
    w = LedgerWriter(lab, f"rejoin-{uuid.uuid4().hex[:6]}", via=WEBS, rate=4)
    with w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        with faults.injected(lab, Fault("stop", "db1"), wait_healthy=0):
            run(lab, runbooks.promote_replica(lab, take_address=False))
            t0 = w.elapsed()
            wait_for("writes through the web tier again", lambda: w.acknowledged_since(t0) >= 10,
                     timeout=30)
            assert lab.address_of("db2") == lab.topology.address("db2")
            # db1 is repaired while down; the healing below starts it...
        # ...and heal() started it as a master: rejoin makes it a replica.
        run(lab, runbooks.rejoin_old_master(lab))
        prove_nothing_lost(w, master="db2", replica="db1")
        run(lab, runbooks.switch_back(lab))
        t1 = w.elapsed()
        wait_for("writes after the switch back", lambda: w.acknowledged_since(t1) >= 5,
                 timeout=30)
    prove_nothing_lost(w)


SLOW_SETUP_S = 6


def test_rejoin_waits_for_the_old_masters_own_set_up(lab, restore_roles, tmp_path):
    """db-setup runs as root when a database server starts and writes the
    schema to its binary log; read_only does not stop it. Made slow here
    (it sleeps before its first statement), it would run after the
    rejoin's RESET MASTER and leave a transaction of db1's own (server 1)
    in the binary log of the new replica: the runbook must wait for it."""
    from lab.engine.process import run as local

    container = lab.topology.host("db1").container
    slow = tmp_path / "db-setup"
    original = (REPO / "images" / "db" / "db-setup").read_text()
    slow.write_text(original.replace("i=0   # wait up to 60 s for the server",
                                     f"sleep {SLOW_SETUP_S}\ni=0   # wait up to 60 s", 1))
    assert f"sleep {SLOW_SETUP_S}" in slow.read_text()
    slow.chmod(0o755)  # docker cp keeps the mode
    faults.inject(lab, Fault("kill", "db1"))
    run(lab, runbooks.promote_replica(lab))
    try:
        copied = local(["docker", "cp", str(slow), f"{container}:/usr/local/bin/db-setup"])
        assert copied.returncode == 0, copied.stderr
        run(lab, runbooks.rejoin_old_master(lab))
        wait_for("db1's db-setup done", lambda: setup_done(lab, "db1"), timeout=30)
        state = mysql.query(lab.address_of("db1"), lab.secrets()["DB_ADMIN_PASSWORD"],
                            "SELECT @@gtid_binlog_state AS s")[0]["s"]
        own = [g for g in str(state).split(",") if g.split("-")[1:2] == ["1"]]
        assert not own, f"db1 logged transactions of its own after its reload: {state}"
    finally:
        local(["docker", "cp", str(REPO / "images" / "db" / "db-setup"),
               f"{container}:/usr/local/bin/db-setup"])
