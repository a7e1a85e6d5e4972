"""An exercise that kills the master loses no acknowledged order by its own
doing: db1 stops taking writes, db2 applies db1's last transaction, then
the fault (CI saw an order acknowledged between the position read and the
kill, twice). Faked database and faults: no Docker."""

from __future__ import annotations

from typing import Any

import pytest

from lab.exercises import databases
from lab.model.errors import LabError
from lab.model.topology import topology


class FakeLab:
    topology = topology()

    def address_of(self, host: str) -> str:
        return self.topology.address(host)


def faked(monkeypatch: pytest.MonkeyPatch, waited: int) -> list[str]:
    done: list[str] = []
    lab = FakeLab()
    by_address = {lab.address_of(h): h for h in ("db1", "db2")}

    def query(address: str, _pw: str, statement: str) -> list[dict[str, Any]]:
        done.append(f"{by_address[address]}: {statement}")
        return [{"p": "0-1-42", "w": waited}]

    monkeypatch.setattr(databases, "admin_password", lambda _lab: "pw")
    monkeypatch.setattr(databases.mysql, "query", query)
    monkeypatch.setattr(databases.faults, "inject",
                        lambda _lab, fault: done.append(f"{fault.kind} {fault.host}"))
    return done


def test_db1_stops_taking_orders_before_its_position_is_read_and_dies_after_db2_has_it(
        monkeypatch):
    done = faked(monkeypatch, waited=0)
    databases.kill_caught_up(FakeLab(), "kill")  # type: ignore[arg-type]
    assert done == ["db1: SET GLOBAL read_only = ON",
                    "db1: SELECT @@gtid_binlog_pos AS p",
                    f"db2: SELECT MASTER_GTID_WAIT('0-1-42', {databases.CATCH_UP_S}) AS w",
                    "kill db1"]


def test_a_replica_that_does_not_catch_up_stops_the_exercise_before_the_kill(monkeypatch):
    done = faked(monkeypatch, waited=-1)
    with pytest.raises(LabError, match="did not apply db1's last orders"):
        databases.kill_caught_up(FakeLab(), "stop")  # type: ignore[arg-type]
    assert not any(step.startswith("stop") for step in done)


def test_db1_comes_back_only_once_the_order_in_flight_has_its_answer(tmp_path, monkeypatch):
    """old-master-back: an order sent to web1 before it was pointed at db2
    may still be connecting to db1; db1 back then would take it."""
    import threading

    from lab.exercises import writer

    log = tmp_path / "writer.log"
    log.write_text("1 200\n2 200\n3 200\n")
    monkeypatch.setattr(writer, "log_path", lambda _lab, _tag: log)
    answered = threading.Timer(0.3, lambda: log.write_text(log.read_text() + "4 200\n"))
    answered.start()
    writer.wait_in_flight(None, "ex1", timeout=5)  # type: ignore[arg-type]
    assert log.read_text().endswith("4 200\n")
    with pytest.raises(LabError, match="order 5 answered"):
        writer.wait_in_flight(None, "ex1", timeout=0.3)  # type: ignore[arg-type]
