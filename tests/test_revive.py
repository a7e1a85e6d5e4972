"""A class host ended by its memory bound is started again; a host that
a fault, an exercise or the student stopped is not (no Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.engine import addressing, client, revive
from lab.model import events
from lab.model.config import LabConfig


@pytest.fixture
def cfg(tmp_path: Path) -> LabConfig:
    return LabConfig(state_dir=tmp_path, class_root=tmp_path / "class").for_lab("s01")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(addressing, "start", lambda _cfg, container: calls.append(container))
    return calls


def _state(monkeypatch: pytest.MonkeyPatch, **state: Any) -> None:
    monkeypatch.setattr(client, "inspect_container", lambda _c: {"State": state})


def test_a_host_its_memory_bound_ended_is_started_again_and_said(
        cfg: LabConfig, started: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _state(monkeypatch, Status="exited", OOMKilled=True, ExitCode=137)
    assert revive.revive_all(cfg, ["db1"]) == ["db1"]
    assert started == [cfg.topology.host("db1").container]
    said = events.read(cfg.state_dir)
    assert said[-1].host == "db1" and "memory bound" in said[-1].text


@pytest.mark.parametrize("state", [
    {"Status": "exited", "OOMKilled": False, "ExitCode": 137},  # killed: a fault, an exercise
    {"Status": "exited", "OOMKilled": False, "ExitCode": 0},  # stopped
    {"Status": "running", "OOMKilled": True, "ExitCode": 0},  # came back already
])
def test_a_host_stopped_on_purpose_stays_stopped(
        cfg: LabConfig, started: list[str], monkeypatch: pytest.MonkeyPatch,
        state: dict[str, Any]) -> None:
    _state(monkeypatch, **state)
    assert revive.revive_all(cfg, ["db1"]) == []
    assert started == []
    assert events.read(cfg.state_dir) == []
