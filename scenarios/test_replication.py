"""Scenarios 1-4: replication, and the replica's troubles (F15-F18).

Each one writes numbered rows while it breaks something, checks that the
fault really happened, recovers the article's way, and ends by proving
nothing was lost."""

from __future__ import annotations

import uuid

import pytest

from lab.drills import runbooks
from lab.drills.faults import Fault, injected
from lab.drills.workload import LedgerWriter
from lab.engine.waiting import wait_for
from lab.probes import mysql

CUT_SECONDS = 30  # the network outage


def writer(lab, name: str, **kw) -> LedgerWriter:
    return LedgerWriter(lab, f"{name}-{uuid.uuid4().hex[:6]}", **kw)


def test_replication_basics(lab, host, record_property, prove_nothing_lost):
    """Scenario 1 (F12-F16): the article's checks, as its runbook."""
    result = runbooks.execute(lab, runbooks.check_replication(lab))
    assert result.ok, result.failed
    seen = result.steps[-1].checked
    # Read again, independently of the runbook: on the servers themselves.
    binlog = host("db1").run("mariadb -N -e 'SHOW MASTER STATUS'")
    assert binlog.rc == 0 and binlog.stdout.startswith("db1-bin.")  # F12
    st = mysql.replica_status_inside(lab, "db2")
    assert (st["Slave_IO_Running"], st["Slave_SQL_Running"]) == ("Yes", "Yes")  # F15
    assert st["Master_Host"] == lab.topology.address("db1")
    assert st["Master_User"] == "copy" and st["Connect_Retry"] == "15"  # F13
    assert host("db2").file("/var/lib/mysql/master.info").exists  # F14
    record_property("replication_delay", seen)
    prove_nothing_lost()


def _io_thread_lost_master(lab) -> str | None:
    """What the replica itself reports once it noticed the master is gone
    (read inside db2; an empty or failed read is not an answer)."""
    st = mysql.replica_status_inside(lab, "db2")
    if st["Slave_IO_Running"] in ("No", "Connecting"):
        return f"Slave_IO_Running: {st.get('Slave_IO_Running')}, {st.get('Last_IO_Error')}"
    return None


@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cut", "drop"])
def test_replica_network_outage(kind, lab, admin_password, record_property, prove_nothing_lost):
    """Scenario 2 (F17): the replica's network is cut (interface gone) or
    silently dropped for 30 s while writes go on; it catches up by itself."""
    with writer(lab, f"outage-{kind}", via=("web1", "direct")) as w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        with injected(lab, Fault(kind, "db2")):
            t0 = w.elapsed()
            noticed = wait_for("the replica notices it lost the master",
                               lambda: _io_thread_lost_master(lab), timeout=CUT_SECONDS)
            wait_for(f"{CUT_SECONDS} s of outage", lambda: w.elapsed() - t0 >= CUT_SECONDS,
                     timeout=CUT_SECONDS + 5, every=0.5)
            during = w.acknowledged_since(t0)
        healed_at = w.elapsed()
        wait_for("replication running and caught up", lambda: (
            (r := mysql.replica_status(lab.address_of("db2"), admin_password))
            and r.running and r.seconds_behind == 0 and r), timeout=60)
        record_property("catch_up_seconds", round(w.elapsed() - healed_at, 1))
    assert during > 0, "the master should have taken writes during the outage"
    record_property("noticed", noticed)
    record_property("writes_during_outage", during)
    prove_nothing_lost(w)


@pytest.mark.destructive
def test_replica_power_loss(lab, record_property, prove_nothing_lost):
    """Scenario 3 (F17): the replica loses power and comes back: it picks
    up where it left off."""
    with writer(lab, "power", via=("web2", "direct")) as w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        with injected(lab, Fault("kill", "db2")):
            assert lab.states()["db2"].status == "exited"
            t0 = w.elapsed()
            wait_for("writes while db2 is down", lambda: w.acknowledged_since(t0) >= 20,
                     timeout=30)
        # injected() started db2 again and waited until it is healthy, which
        # for a replica means both threads run.
        wait_for("more writes after the restart", lambda: w.acknowledged_since(w.elapsed() - 1),
                 timeout=20)
    record_property("writes_while_down", w.acknowledged_since(t0))
    prove_nothing_lost(w)


@pytest.mark.destructive
@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_serious_replica_error_rebuilt_from_a_dump(online, lab, admin_password,
                                                   prove_nothing_lost):
    """Scenario 4 (F18): a row written on the replica by mistake collides
    with the master's next row and stops the SQL thread; the article's
    rebuild (offline), or its online variant, makes the replica whole."""
    db1, db2 = lab.address_of("db1"), lab.address_of("db2")
    next_id = int(mysql.query(db1, admin_password,
                               "SELECT COALESCE(MAX(id), 0) + 100 AS n FROM foo.ledger")[0]["n"])
    mysql.query(db2, admin_password,
                 f"INSERT INTO foo.ledger (id, writer, note) VALUES ({next_id}, 'oops', 'on db2')")
    mysql.query(db1, admin_password,
                 f"INSERT INTO foo.ledger (id, writer, note) VALUES ({next_id}, 'app', 'on db1')")
    broken = wait_for("the SQL thread stops", lambda: (
        (r := mysql.replica_status(db2, admin_password)) and r.sql_running == "No" and r),
        timeout=20)
    assert "Duplicate entry" in broken.last_sql_error
    result = runbooks.execute(lab, runbooks.rebuild_replica(lab, online=online))
    assert result.ok, result.failed
    row = mysql.query(db2, admin_password, f"SELECT note FROM foo.ledger WHERE id = {next_id}")
    assert row == [{"note": "on db1"}]
    prove_nothing_lost()
