"""Scenario 12: replication carries every database, not only the lab's foo
(as in the article), so the recoveries must too. A second application
database, `shop`, takes rows while the replica is broken and while db2 is
the master; the rebuild and the promote -> rejoin -> switch-back round trip
must leave it identical on both (prove_nothing_lost compares every table of
every user database)."""

from __future__ import annotations

import pytest
from conftest import run

from lab.drills import faults, runbooks
from lab.drills.faults import Fault
from lab.engine.waiting import wait_for
from lab.probes import mysql

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
SHOP = "shop"


@pytest.fixture
def shop(lab, admin_password):
    """A second application database on the master, dropped afterwards."""
    db1 = lab.address_of("db1")
    mysql.query(db1, admin_password, f"CREATE DATABASE IF NOT EXISTS {SHOP}")
    mysql.query(db1, admin_password, f"CREATE TABLE IF NOT EXISTS {SHOP}.orders "
                "(id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(32)) ENGINE=InnoDB")
    yield
    master = next(h for h in ("db1", "db2") if lab.states()[h].status == "running"
                  and mysql.replica_status(lab.address_of(h), admin_password) is None)
    mysql.query(lab.address_of(master), admin_password, f"DROP DATABASE IF EXISTS {SHOP}")


def orders(lab, host: str, admin_password: str, items: list[str]) -> None:
    values = ", ".join(f"('{i}')" for i in items)
    mysql.query(lab.address_of(host), admin_password,
                f"INSERT INTO {SHOP}.orders (item) VALUES {values}")


def count(lab, host: str, admin_password: str) -> int:
    rows = mysql.query(lab.address_of(host), admin_password,
                       f"SELECT COUNT(*) AS n FROM {SHOP}.orders")
    return int(rows[0]["n"])


def test_rebuild_keeps_every_database(lab, admin_password, shop, prove_nothing_lost):
    """The replica stops on a conflicting row in foo; meanwhile shop takes
    orders that db2 never applies. The rebuild must bring them over."""
    orders(lab, "db1", admin_password, ["before"] * 5)
    wait_for("shop replicated", lambda: count(lab, "db2", admin_password) == 5, timeout=20)
    db1, db2 = lab.address_of("db1"), lab.address_of("db2")
    next_id = int(mysql.query(db1, admin_password,
                              "SELECT COALESCE(MAX(id), 0) + 100 AS n FROM foo.ledger")[0]["n"])
    mysql.query(db2, admin_password,
                f"INSERT INTO foo.ledger (id, writer, note) VALUES ({next_id}, 'oops', 'db2')")
    mysql.query(db1, admin_password,
                f"INSERT INTO foo.ledger (id, writer, note) VALUES ({next_id}, 'app', 'db1')")
    wait_for("the SQL thread stops", lambda: (
        (r := mysql.replica_status(db2, admin_password)) and r.sql_running == "No"), timeout=20)
    orders(lab, "db1", admin_password, ["while-broken"] * 7)
    assert count(lab, "db2", admin_password) == 5  # not applied: the replica is stopped
    run(lab, runbooks.rebuild_replica(lab, online=True))
    assert count(lab, "db2", admin_password) == 12
    prove_nothing_lost()


def test_round_trip_keeps_every_database(lab, admin_password, shop, restore_roles,
                                         prove_nothing_lost):
    """db1 dies; db2, promoted, takes orders; db1 rejoins from a dump of
    db2, then the roles switch back: shop must be whole on both."""
    orders(lab, "db1", admin_password, ["before"] * 3)
    wait_for("shop replicated", lambda: count(lab, "db2", admin_password) == 3, timeout=20)
    with faults.injected(lab, Fault("stop", "db1"), wait_healthy=0):
        run(lab, runbooks.promote_replica(lab, take_address=False))
        orders(lab, "db2", admin_password, ["on-db2"] * 4)
    run(lab, runbooks.rejoin_old_master(lab))
    assert count(lab, "db1", admin_password) == 7
    prove_nothing_lost(master="db2", replica="db1")
    run(lab, runbooks.switch_back(lab))
    orders(lab, "db1", admin_password, ["after"] * 2)
    wait_for("shop replicated after the switch back",
             lambda: count(lab, "db2", admin_password) == 9, timeout=20)
    prove_nothing_lost()
