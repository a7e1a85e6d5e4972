"""The event record (.lab/events.jsonl): written by faults and runbooks."""

from pathlib import Path

import pytest

from lab.drills import faults, steps
from lab.drills.faults import Fault
from lab.engine import client
from lab.engine.lab import HostState, Lab
from lab.model import events
from lab.model.config import LabConfig


def test_record_and_read_back(tmp_path: Path) -> None:
    events.record(tmp_path, events.FAULT_INJECTED, "web3 slowed", "web3", key="k", t=10.0)
    events.record(tmp_path, events.RUNBOOK_DONE, "runbook x failed", ok=False, t=11.0)
    (tmp_path / events.FILE).open("a").write("not json\n")
    got = events.read(tmp_path)
    assert [(e.t, e.kind, e.host, e.ok) for e in got] == [
        (10.0, "fault-injected", "web3", None), (11.0, "runbook-done", "", False)]


def test_intervals_pair_injection_and_healing() -> None:
    log = [events.Event(1, events.FAULT_INJECTED, "a", "web3", key="a"),
           events.Event(2, events.FAULT_INJECTED, "b", "db2", key="b"),
           events.Event(3, events.FAULT_HEALED, "healed a", "web3", key="a"),
           events.Event(4, events.FAULT_HEALED, "healed c", "web1", key="c")]
    spans = events.intervals(log)
    assert [(i.key, i.start, i.end) for i in spans] == [("a", 1, 3), ("b", 2, None)]


def test_the_file_is_trimmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "_TRIM_AT", 2000)
    monkeypatch.setattr(events, "KEEP", 5)
    for i in range(100):
        events.record(tmp_path, events.NOTE, f"note {i}")
    texts = [e.text for e in events.read(tmp_path)]
    assert 5 <= len(texts) < 30  # trimmed to KEEP lines each time it passed 2000 bytes
    assert texts == [f"note {i}" for i in range(100 - len(texts), 100)]


def _lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    lab = Lab(LabConfig(subnet="10.7.7.0/24", state_dir=tmp_path))
    monkeypatch.setattr(lab, "states", lambda: {
        h.name: HostState(h, "running", "healthy", "") for h in lab.topology.hosts})
    monkeypatch.setattr(client, "update_cpu", lambda *a, **kw: None)
    return lab


def test_faults_write_injection_and_healing(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _lab(tmp_path, monkeypatch)
    fault = Fault("slow", "web3", amount=50)
    faults.inject(lab, fault)
    faults.heal(lab, fault)
    got = events.read(tmp_path)
    assert [(e.kind, e.host, e.key) for e in got] == [
        ("fault-injected", "web3", fault.key), ("fault-healed", "web3", fault.key)]
    assert "web3 slowed to 50% of one CPU" in got[0].text


def test_runbooks_write_each_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _lab(tmp_path, monkeypatch)

    def fails(_: Lab) -> str:
        raise steps.LabError("not so")

    book = steps.Runbook("demo", "two steps", (
        steps.Step("look", "db2", ()), steps.Step("check", "db2", (), check=fails)))
    assert not steps.execute(lab, book).ok
    got = events.read(tmp_path)
    assert [(e.kind, e.ok) for e in got] == [
        ("runbook-started", None), ("runbook-step", True), ("runbook-step", False),
        ("runbook-done", False)]
    assert "not so" in got[2].text and got[1].host == "db2"
