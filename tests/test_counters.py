"""The load run's CPU counters, with a stand-in for the Docker SDK (no Docker)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from docker.errors import NotFound

from lab.load import counters
from lab.load.summary import CpuSamples

RUNNING = {"cpu_stats": {"cpu_usage": {"total_usage": 123_456_789}},
           "pids_stats": {"current": 7}}
STOPPED = {"cpu_stats": {"cpu_usage": {"total_usage": 0}}, "pids_stats": {}}


class FakeAPI:
    """client.api.stats as the engine answers it, container by container."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def stats(self, container: str, **kwargs: Any) -> Any:
        self.calls.append((container, kwargs))
        answer = self.answers[container]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def fake_client(answers: dict[str, Any]) -> Any:
    return SimpleNamespace(api=FakeAPI(answers))


def test_cpu_usage_of_running_stopped_and_missing_containers():
    client = fake_client({
        "web1": RUNNING,
        "web3": STOPPED,  # a stopped container answers with zeros and no pids
        "gone": NotFound("No such container: gone"),
        "exiting": requests.exceptions.JSONDecodeError("Expecting value", "", 0),
    })
    got = counters.cpu_usage_ns(["web1", "web3", "gone", "exiting"], client)
    assert got == {"web1": 123_456_789, "web3": None, "gone": None, "exiting": None}
    # one reading each, not a stream, and without waiting for a second sample
    assert client.api.calls[0] == ("web1", {"stream": False, "one_shot": True})


def test_cpu_usage_when_the_engine_goes_away_mid_reading():
    """Readings are asked at once, so each stands alone: the one whose
    connection broke has none, no error escapes."""
    client = fake_client({"web1": RUNNING,
                          "web2": requests.exceptions.ConnectionError("socket closed"),
                          "web3": RUNNING})
    got = counters.cpu_usage_ns(["web1", "web2", "web3"], client)
    assert got == {"web1": 123_456_789, "web2": None, "web3": 123_456_789}


def test_no_engine_no_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    assert counters.engine_client() is None


def test_mean_percent_over_the_readings_a_container_ran_in():
    s = 1_000_000_000
    cpu = CpuSamples("t", (0.0, 1.0, 2.0, 3.0),
                     {"web1": (None, 0, s // 2, s), "web2": (None, None, None, 5)})
    assert counters.mean_percent(cpu, "web1") == pytest.approx(50.0)
    assert counters.mean_percent(cpu, "web2") is None
    assert counters.mean_percent(cpu, "loadgen") is None
    assert counters.mean_percent(None, "web1") is None
