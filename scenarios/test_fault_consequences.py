"""The README's partition, loss and pause faults, each checked by its
consequence, not by the command that made it: who can still reach whom,
how many connection attempts get through, whether a host still answers.
Every fault is healed at the end of its with-block, even when a test fails.
"""

from __future__ import annotations

import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.drills.faults import Fault, injected
from lab.engine.network import require_lab_route
from lab.engine.waiting import wait_for
from lab.probes import mysql, pages

pytestmark = pytest.mark.destructive


def reaches(lab, source: str, target: str, port: int) -> bool:
    """Whether `source` opens a TCP connection to `target` within 2 s (bash's
    /dev/tcp, from inside the host: the fault's own network namespace)."""
    address = lab.topology.address(target)
    out = lab.exec(source, ["timeout", "2", "bash", "-c", f"</dev/tcp/{address}/{port}"],
                   timeout=10)
    return out.returncode == 0


def connects(address: str, port: int, tries: int, timeout: float = 0.3) -> int:
    """How many of `tries` TCP connections from this machine succeed, each
    given `timeout` seconds (less than the kernel's first SYN retry, 1 s),
    twenty at a time."""
    require_lab_route(address)

    def once(_: int) -> bool:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return True
        except OSError:
            return False

    with ThreadPoolExecutor(20) as pool:
        return sum(pool.map(once, range(tries)))


def test_partition_cuts_db2_from_db1_only(lab, admin_password, record_property,
                                          prove_nothing_lost):
    """db2 cannot reach db1 nor db1 db2; both still reach everyone else;
    the replica notices it lost its master, and catches up after the heal."""
    assert reaches(lab, "db2", "db1", 3306) and reaches(lab, "db1", "db2", 3306)
    with injected(lab, Fault("partition", "db2", ("db1",))):
        assert not reaches(lab, "db2", "db1", 3306)
        assert not reaches(lab, "db1", "db2", 3306)
        assert reaches(lab, "db2", "web1", 80) and reaches(lab, "db1", "web1", 80)
        mysql.query(lab.address_of("db1"), admin_password,
                    "INSERT INTO foo.ledger (writer, note) VALUES ('partition', 'not on db2')")
        t0 = time.monotonic()
        noticed = wait_for("db2's IO thread loses the master", lambda: (
            st := mysql.replica_status_inside(lab, "db2"))["Slave_IO_Running"] != "Yes"
            and st, timeout=40)
        record_property("noticed_after_s", round(time.monotonic() - t0, 1))
        record_property("io_error", noticed.get("Last_IO_Error", ""))
    assert reaches(lab, "db2", "db1", 3306) and reaches(lab, "db1", "db2", 3306)
    wait_for("replication running again", lambda: (
        st := mysql.replica_status_inside(lab, "db2"))["Slave_IO_Running"] == "Yes"
        and st["Slave_SQL_Running"] == "Yes", timeout=60)
    prove_nothing_lost()


LOSS_TRIES = 300


def test_loss_drops_a_share_of_packets(lab, record_property, prove_nothing_lost):
    """With half of web3's packets dropped each way, a connection needs its
    SYN in and its SYN-ACK out before the first retry: a quarter of them
    (0.5 x 0.5). Asserted within four binomial standard deviations of a
    quarter, so loss one way only (a half get through) fails it."""
    web3 = lab.address_of("web3")
    assert connects(web3, 80, 20) == 20
    with injected(lab, Fault("loss", "web3", amount=50)):
        got = connects(web3, 80, LOSS_TRIES)
    record_property("connects_with_50pct_loss", f"{got}/{LOSS_TRIES}")
    expected, sd = LOSS_TRIES / 4, math.sqrt(LOSS_TRIES * 0.25 * 0.75)
    assert abs(got - expected) <= 4 * sd, (
        f"{got} of {LOSS_TRIES} connections got through; a quarter is {expected:.0f} "
        f"(+/- {4 * sd:.0f})")
    assert connects(web3, 80, 20) == 20
    prove_nothing_lost()


def test_pause_freezes_a_web_server(lab, prove_nothing_lost):
    """A paused host is there but does not answer: its kernel still takes
    the connection, Apache never replies; unpaused, it serves again."""
    web2 = lab.address_of("web2")
    with injected(lab, Fault("pause", "web2")):
        assert lab.states()["web2"].status == "paused"
        with pytest.raises(TimeoutError):  # no answer; refused would be a stopped host
            pages.fetch(web2, "/light.php", timeout=2)
        assert pages.fetch(lab.address_of("web3"), "/light.php").served_by == "web3"
    assert pages.fetch(web2, "/light.php").served_by == "web2"
    prove_nothing_lost()
