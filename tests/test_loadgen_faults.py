"""LoadGen.stopped goes through the fault record, so `foolab heal` sees it
(a stand-in for the engine: no Docker)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.drills import faults
from lab.drills.faults import Fault
from lab.engine import client
from lab.engine.lab import HostState, Lab
from lab.load.generator import LoadGen
from lab.model.config import LabConfig


class FakeLab(Lab):
    """A lab whose hosts' states are kept here, changed by the docker calls."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(LabConfig(state_dir=state_dir))
        self.status = {h.name: "running" for h in self.topology.hosts}
        self.docker_calls: list[tuple[str, ...]] = []

    def states(self, probe: bool = False) -> dict[str, HostState]:
        return {h.name: HostState(h, self.status[h.name], "healthy", "")
                for h in self.topology.hosts}

    def ready(self, host: str) -> bool:
        return self.status[host] == "running"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLab:
    fake = FakeLab(tmp_path)
    by_container = {h.container: h.name for h in fake.topology.hosts}

    def engine_call(verb: str):  # noqa: ANN202 - a stand-in for lab.engine.client
        def call(container: str, *args: object, **kwargs: object) -> None:
            fake.docker_calls.append((verb, container))
            fake.status[by_container[container]] = {"stop": "exited",
                                                    "start": "running"}[verb]
        return call

    def no_real_command(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a unit test reached a real engine: {args}")

    monkeypatch.setattr(client, "stop", engine_call("stop"))
    monkeypatch.setattr(client, "start", engine_call("start"))
    for name in ("client", "api", "pid", "kill", "remove", "inspect_container"):
        monkeypatch.setattr(client, name, no_real_command)  # nothing reaches a real engine
    monkeypatch.setattr(subprocess, "run", no_real_command)
    monkeypatch.setattr(subprocess, "Popen", no_real_command)
    monkeypatch.setattr(faults, "_clear_firewall", lambda _lab, _host: 0)  # root: nsenter
    return fake


def test_a_stopped_web_server_is_in_the_fault_record_until_healed(lab: FakeLab):
    said: list[str] = []
    gen = LoadGen(lab, progress=said.append)
    container = lab.topology.host("web3").container
    with gen.stopped("web3"):
        assert faults.active(lab) == [Fault("stop", "web3")]  # what `foolab heal` reads
        assert lab.status["web3"] == "exited"
    assert faults.active(lab) == []
    assert lab.status["web3"] == "running"
    assert [c[0] for c in lab.docker_calls] == ["stop", "start"]
    assert all(c[-1] == container for c in lab.docker_calls)
    assert said[-1] == "web3 is healthy again"


def test_a_failed_run_still_heals_the_stopped_server(lab: FakeLab):
    gen = LoadGen(lab)
    with pytest.raises(RuntimeError), gen.stopped("web2"):
        raise RuntimeError("the load run failed")
    assert faults.active(lab) == [] and lab.status["web2"] == "running"


def test_foolab_heal_starts_a_server_a_dead_run_left_stopped(lab: FakeLab):
    gen = LoadGen(lab)
    block = gen.stopped("web1")
    block.__enter__()  # the process dies inside the block: no __exit__
    assert lab.status["web1"] == "exited"
    assert faults.heal_all(lab) == ["web1 stopped cleanly"]
    assert lab.status["web1"] == "running" and faults.active(lab) == []
