"""The dashboard without Docker: colours, the document, the page, the routes."""

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from lab.dashboard import page, server, state
from lab.drills.faults import Fault
from lab.engine.lab import HostState, Lab
from lab.model import events
from lab.model.config import LabConfig
from lab.model.errors import LabError


@pytest.mark.parametrize(("status", "health", "fault", "view"), [
    ("running", "healthy", "", "healthy"),
    ("running", "none", "", "healthy"),
    ("running", "unhealthy", "", "unhealthy"),
    ("running", "starting", "", "unhealthy"),
    ("paused", "healthy", "", "unhealthy"),
    ("exited", "none", "", "stopped"),
    ("missing", "none", "", "stopped"),
    ("running", "healthy", "web3 slowed", "faulted"),
    ("exited", "none", "db2 stopped cleanly", "faulted"),
])
def test_view_state(status: str, health: str, fault: str, view: str) -> None:
    assert state.view_state(status, health, fault) == view


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(LabConfig(subnet="10.7.7.0/24", state_dir=tmp_path, project="foolabt"))


def _states(lab: Lab, **odd: str) -> dict[str, HostState]:
    return {h.name: HostState(h, odd.get(h.name, "running"), "healthy", "")
            for h in lab.topology.hosts}


def test_document_has_status_rows_colours_and_faults(lab: Lab) -> None:
    rows = {h.name: state.HostStatus(h.name, h.role.value, h.address, h.duty, "running",
                                     "healthy", {}) for h in lab.topology.hosts}
    rows["db2"].facts = {"binlog": "db2-bin.000001:9", "replicates_from": "10.7.7.21",
                         "io": "Yes", "sql": "No", "lag_s": None}
    rows["web2"].facts = {"reads_from": "db2", "writes_to": "db1"}
    facts = state.Facts(rows, {"ns1": ["10.7.7.11"]}, 0.1)
    log = [events.Event(1.0, events.FAULT_INJECTED, "web3 slowed", "web3", key="k")]
    doc = state.build(lab, _states(lab, db1="exited"), facts, [Fault("slow", "web3", amount=50)],
                      log)
    views = {d["name"]: d["view"] for d in doc["hosts"]}
    assert views == {"ns1": "healthy", "ns2": "healthy", "web1": "healthy", "web2": "healthy",
                     "web3": "faulted", "db1": "stopped", "db2": "healthy"}
    for d in doc["hosts"]:  # the rows of `foolab status --json`, and more
        assert set(rows[d["name"]].as_dict()) <= set(d)
    assert doc["replication"] == [{"replica": "db2", "master": "db1", "io": "Yes", "sql": "No",
                                   "lag_s": None}]
    assert doc["webs"]["web2"] == {"reads": "db2", "writes": "db1"}
    assert doc["dns"]["ns1"]["www"] == ["10.7.7.11"]
    assert doc["intervals"][0]["end"] is None and doc["up"] is True


def test_health_is_the_facts_loops_check_not_dockers_old_one(lab: Lab) -> None:
    """Docker checks once a minute: its "healthy" may be stale, its "starting"
    may hide a host that is ready. The check the facts loop ran wins while
    both loops agree on the container's state."""
    rows = {h.name: state.HostStatus(h.name, h.role.value, h.address, h.duty, "running",
                                     "healthy", {}) for h in lab.topology.hosts}
    rows["db2"].health = "unhealthy"
    states = {n: replace(s, health="starting") if n == "ns2" else s
              for n, s in _states(lab, web1="exited").items()}
    doc = state.build(lab, states, state.Facts(rows, {}, 0.1), [], [])
    views = {d["name"]: d["view"] for d in doc["hosts"]}
    assert (views["db2"], views["ns2"], views["web1"]) == ("unhealthy", "healthy", "stopped")


def test_lab_down_is_a_document_too(lab: Lab) -> None:
    missing = {h.name: HostState(h, "missing", "none", "") for h in lab.topology.hosts}
    doc = state.build(lab, missing, None, [], [])
    assert doc["up"] is False and {d["view"] for d in doc["hosts"]} == {"stopped"}


def test_page_draws_every_host_of_the_topology() -> None:
    lab8 = LabConfig(subnet="10.7.7.0/24", balancer=True).topology
    text = page.html(lab8, "foolab", control=False)
    for name in lab8.names:
        assert f'data-host="{name}"' in text
    assert text.count('class="host"') == 8
    assert 'id="control"' not in text
    assert "//" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing from outside
    assert 'id="control"' in page.html(lab8, "foolab", control=True)


def test_static_assets_ship_with_the_package() -> None:
    assert {p.name for p in server.STATIC.iterdir()} >= {"dashboard.js", "dashboard.css"}


class FakeWatcher(state.Watcher):
    def start(self) -> None:
        self._version, self._doc = 1, {"hosts": [], "up": False}
        self._rounds = [float("inf"), float("inf")]  # as if both loops had just run

    def stop(self) -> None:
        pass


def _client(lab: Lab, control: bool) -> TestClient:
    return TestClient(server.Dashboard(lab, control, FakeWatcher(lab)).app)


def test_routes(lab: Lab) -> None:
    with _client(lab, control=False) as c:
        assert 'data-host="web3"' in c.get("/").text
        assert c.get("/api/state").json() == {"hosts": [], "up": False}
        assert c.get("/static/dashboard.js").status_code == 200
        r = c.post("/api/heal", headers={"X-Foolab-Control": "1"})
        assert r.status_code == 403 and "--control" in r.json()["error"]


def test_control_needs_its_header_and_checks_input(lab: Lab,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[Any] = []
    monkeypatch.setattr(server.faults, "inject", lambda _lab, f: done.append(f))
    with _client(lab, control=True) as c:
        assert c.post("/api/fault", json={"kind": "slow", "host": "web3",
                                          "amount": 50}).status_code == 403
        hdr = {"X-Foolab-Control": "1"}
        assert c.post("/api/fault", json={"kind": "boom", "host": "web3"},
                      headers=hdr).status_code == 400
        assert c.post("/api/runbook", json={"name": "nope"}, headers=hdr).status_code == 400
        r = c.post("/api/fault", json={"kind": "slow", "host": "web3", "amount": 50},
                   headers=hdr)
        assert r.status_code == 202
    for _ in range(100):
        if done:
            break
        time.sleep(0.01)
    assert done == [Fault("slow", "web3", amount=50.0)]


def test_port_in_use_is_a_one_line_error() -> None:
    sock = server.bind(0)
    try:
        with pytest.raises(LabError) as err:
            server.bind(sock.getsockname()[1])
        assert "in use" in str(err.value) and "\n" not in str(err.value)
    finally:
        sock.close()


def test_requests_per_second_only_while_a_load_run_writes_them(lab: Lab,
                                                                tmp_path: Path) -> None:
    assert state.load_now(lab) is None  # no run
    live = tmp_path / "live.json"
    lab.config.load_marker.write_text(json.dumps({"live": str(live)}))
    live.write_text(json.dumps({"t": time.time(), "rps": {"web1": 2.5}}))
    assert state.load_now(lab) == {"t": pytest.approx(time.time(), abs=5),
                                   "rps": {"web1": 2.5}}
    live.write_text(json.dumps({"t": time.time() - 10, "rps": {"web1": 2.5}}))
    assert state.load_now(lab) is None  # stale: the run is over
