"""The fault table, driven with a fake engine: no Docker needed."""

from pathlib import Path

import pytest

from lab.drills import faults
from lab.drills.faults import KIND, KINDS, Fault
from lab.engine import client
from lab.engine.lab import HostState, Lab
from lab.model.config import LabConfig
from lab.model.errors import LabError


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    lab = Lab(LabConfig(subnet="10.7.7.0/24", state_dir=tmp_path))
    status = {h.name: "running" for h in lab.topology.hosts}
    monkeypatch.setattr(lab, "states", lambda: {
        h.name: HostState(h, status[h.name], "healthy", "") for h in lab.topology.hosts})
    lab.status = status  # type: ignore[attr-defined]  # the fake engine's view, per host
    return lab


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Every container call the faults make, instead of making it."""
    calls: list[tuple[object, ...]] = []
    for name in ("kill", "stop", "start", "pause", "unpause", "update_cpu", "connect",
                 "disconnect"):
        monkeypatch.setattr(client, name,
                            lambda *a, _n=name, **kw: calls.append((_n, *a, *kw.items())))
    return calls


def test_every_kind_is_one_entry_of_the_table():
    assert KINDS == ("cut", "drop", "partition", "loss", "delay", "kill", "stop", "pause",
                     "slow")
    assert all(KIND[k].name == k for k in KINDS)


@pytest.mark.parametrize(("fault", "text"), [
    (Fault("cut", "db2"), "db2 cut off the network"),
    (Fault("drop", "web1"), "web1 drops every packet silently"),
    (Fault("partition", "db2", ("db1", "web1")), "db2 cannot reach db1, web1"),
    (Fault("loss", "ns1", amount=12.5), "ns1 loses 12.5% of its packets"),
    (Fault("delay", "ns2", amount=200), "ns2 answers 200 ms late"),
    (Fault("kill", "db1"), "db1 killed (power loss)"),
    (Fault("stop", "db1"), "db1 stopped cleanly"),
    (Fault("pause", "web3"), "web3 paused"),
    (Fault("slow", "web2", amount=25), "web2 slowed to 25% of one CPU"),
])
def test_describe(fault: Fault, text: str):
    assert fault.describe() == text


def test_unknown_kinds_and_bad_amounts_are_refused():
    with pytest.raises(LabError, match="unknown fault 'flood'"):
        Fault("flood", "db1")
    with pytest.raises(LabError, match="slow needs --amount 1 to 100"):
        Fault("slow", "db1", amount=0)


def test_partition_is_one_fault_per_host():
    assert faults.partition({"db2": ["db1"], "web1": ["db1", "db2"]}) == [
        Fault("partition", "db2", ("db1",)), Fault("partition", "web1", ("db1", "db2"))]


def test_kill_is_recorded_and_heal_starts_the_host_and_forgets(lab, engine):
    fault = Fault("kill", "db1")
    faults.inject(lab, fault)
    assert engine == [("kill", "foolab-db1")]
    assert faults.active(lab) == [fault]
    assert faults.active(Lab(lab.config)) == [fault]  # another process sees it
    lab.status["db1"] = "exited"
    faults.heal(lab, fault, wait_healthy=0)
    assert engine[-1] == ("start", "foolab-db1")
    assert faults.active(lab) == []


def test_heal_is_idempotent(lab, engine):
    for kind in ("kill", "stop", "pause"):
        faults.heal(lab, Fault(kind, "web1"), wait_healthy=0)  # running: nothing to undo
    assert engine == []


def test_stop_gives_a_grace_period_and_pause_is_undone_when_paused(lab, engine):
    faults.inject(lab, Fault("stop", "db2"))
    faults.inject(lab, Fault("pause", "web2"))
    lab.status["web2"] = "paused"
    faults.heal(lab, Fault("pause", "web2"), wait_healthy=0)
    assert engine == [("stop", "foolab-db2", ("grace", 10)), ("pause", "foolab-web2"),
                      ("unpause", "foolab-web2")]


def test_cut_disconnects_and_reconnects_at_the_host_address(lab, engine, monkeypatch):
    faults.inject(lab, Fault("cut", "db2"))
    monkeypatch.setattr(lab, "attached", lambda host: False)
    faults.heal(lab, Fault("cut", "db2"), wait_healthy=0)
    assert engine == [("disconnect", "foolab", "foolab-db2", ("force", True)),
                      ("connect", "foolab", "foolab-db2", ("ip", "10.7.7.22"))]


def test_slow_caps_the_cpu_and_heal_lifts_the_cap(lab, engine):
    faults.inject(lab, Fault("slow", "web1", amount=30))
    faults.heal(lab, Fault("slow", "web1", amount=30), wait_healthy=0)
    assert engine == [("update_cpu", "foolab-web1", 30000, ("period", 100000)),
                      ("update_cpu", "foolab-web1", -1)]


def test_firewall_kinds_drop_what_they_say(lab, monkeypatch):
    rules: list[list[str]] = []
    monkeypatch.setattr(faults, "in_netns", lambda _lab, host, argv: rules.append(argv) or "")
    faults.inject(lab, Fault("partition", "db2", ("db1",)))
    assert [r[:4] for r in rules] == [["iptables", "-A", "INPUT", "-s"],
                                      ["iptables", "-A", "OUTPUT", "-d"]]
    assert all("10.7.7.21" in r and faults.TAG in r for r in rules)
    rules.clear()
    faults.inject(lab, Fault("loss", "web1", amount=5))
    assert all("0.0500" in r for r in rules) and len(rules) == 2


def test_heal_waits_only_for_kinds_that_restart_the_host(lab, engine, monkeypatch):
    waited: list[str] = []
    monkeypatch.setattr(faults, "wait_for", lambda what, *a, **kw: waited.append(what))
    faults.heal(lab, Fault("slow", "web1", amount=30))
    faults.heal(lab, Fault("kill", "db1"))
    assert waited == ["db1 healthy again"]


def test_injected_heals_in_reverse_order_even_when_the_block_fails(lab, engine):
    lab.status.update(db1="exited", db2="exited")
    with pytest.raises(RuntimeError), faults.injected(
            lab, Fault("kill", "db1"), Fault("stop", "db2"), wait_healthy=0):
        raise RuntimeError("the scenario failed")
    assert [c[:2] for c in engine] == [("kill", "foolab-db1"), ("stop", "foolab-db2"),
                                       ("start", "foolab-db2"), ("start", "foolab-db1")]
    assert faults.active(lab) == []
