"""Engine calls other than compose, build and exec go through the Docker SDK
(lab.engine.client); exec goes through Lab.exec. Driven with a fake engine:
no Docker."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.admin import ha, resolvers
from lab.engine import client, network
from lab.engine.lab import Lab
from lab.load import generator
from lab.load.generator import LoadGen
from lab.model.config import LabConfig
from lab.model.errors import LabError


def done(argv: Any, out: str = "", code: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(argv, code, out, "")


def test_a_subnet_held_by_a_docker_network_is_a_conflict(monkeypatch):
    monkeypatch.setattr(network, "run", lambda argv, **kw: done(argv, "[]"))  # no routes
    monkeypatch.setattr(client, "network_subnets", lambda: {
        "foolab": ["10.1.1.0/24"], "bridge": ["172.17.0.0/16", "fd00::/64"],
        "other": ["10.9.9.0/24"]})
    assert network.subnet_conflict("10.1.1.0/24") is None  # the lab's own network
    assert network.subnet_conflict("10.9.9.0/24") == "docker network other (10.9.9.0/24)"


def test_a_wire_is_one_no_network_and_no_record_holds(monkeypatch):
    monkeypatch.setattr(client, "network_subnets", lambda: {"foolab-s01": ["198.18.1.0/24"]})
    assert network.claim_wire({"198.18.2.0/24"}) == "198.18.3.0/24"


def test_network_subnets_reads_the_network_list(monkeypatch):
    class Api:
        def networks(self) -> list[dict[str, Any]]:
            return [{"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}},
                    {"Name": "none", "IPAM": {"Config": None}}]

    monkeypatch.setattr(client, "api", Api)
    assert client.network_subnets() == {"bridge": ["172.17.0.0/16"], "none": []}


def class_config(tmp_path: Path) -> LabConfig:
    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    return replace(base.for_lab("s01"), wire_subnet="198.18.5.0/24")


def test_a_class_lab_gets_its_address_inside_the_running_container(tmp_path):
    config = class_config(tmp_path)
    net, db2 = config.project, config.topology.host("db2").container
    line = network.reconnect_script(config, "db2", "10.1.1.21", pid=4242)
    words = shlex.split(line)
    assert f"docker network connect --ip 198.18.5.21 {net} {db2} && nsenter" in line
    assert words[-7:-1] == ["nsenter", "-t", "4242", "-n", "sh", "-c"]
    assert words[-1] == network.CLASS_ADDRESS.format(address="10.1.1.21", wire="198.18.5.21")
    assert "inspect" not in line
    stopped = network.reconnect_script(config, "db2", "10.1.1.21", pid=None)
    assert stopped.endswith(f"--ip 198.18.5.21 {net} {db2}") and "nsenter" not in stopped


def test_a_host_is_plugged_in_through_the_sdk(tmp_path, monkeypatch):
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(client, "connect", lambda net, c, ip=None: calls.append((net, c, ip)))
    monkeypatch.setattr(client, "pid", lambda c: 4242)
    monkeypatch.setattr(network, "run", lambda argv, **kw: calls.append(tuple(argv)) or done(argv))
    config = class_config(tmp_path)
    network.plug_in(config, "db2", "10.1.1.22")
    inside = network.CLASS_ADDRESS.format(address="10.1.1.22", wire="198.18.5.22")
    assert calls == [(config.project, config.topology.host("db2").container, "198.18.5.22"),
                     ("nsenter", "-t", "4242", "-n", "sh", "-c", inside)]


class RecordingApi(docker.APIClient):
    """The SDK's own request bodies, recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__(base_url="unix:///nonexistent.sock", version="1.41")
        self.made: list[tuple[str | None, dict[str, Any]]] = []
        self.started: list[str] = []
        self.put: list[tuple[str, str, bytes]] = []

    def create_container_from_config(self, config: dict[str, Any], name: str | None = None,
                                     platform: str | None = None) -> dict[str, str]:
        self.made.append((name, config))
        return {"Id": "x"}

    def start(self, container: Any, *args: Any, **kw: Any) -> None:
        assert self.put, "started before its files were put in"
        self.started.append(container)

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        self.put.append((container, path, data))
        return True


def test_the_load_generator_container_is_what_docker_run_made(monkeypatch):
    fake = RecordingApi()
    monkeypatch.setattr(client, "api", lambda: fake)
    client.run_detached("foolab/loadgen:1", ["--", "locust"], name="foolab-loadgen",
                        network="foolab", ip="10.1.1.100", labels={"org.foolab.lab": "foolab"},
                        environment={"FOOLAB_SITE": "www.foo.com"}, user="1000:1000",
                        entrypoint=["/usr/bin/tini"], cap_add=["NET_ADMIN"], files=b"tar")
    [(name, body)] = fake.made
    assert name == "foolab-loadgen"
    assert (body["Image"], body["Cmd"], body["Entrypoint"], body["User"]) == (
        "foolab/loadgen:1", ["--", "locust"], ["/usr/bin/tini"], "1000:1000")
    assert body["Labels"] == {"org.foolab.lab": "foolab"} and "FOOLAB_SITE=www.foo.com" in body[
        "Env"]
    host = body["HostConfig"]
    assert "Binds" not in host  # nothing of this machine: a node runs it the same
    assert (host["NetworkMode"], host["CapAdd"]) == ("foolab", ["NET_ADMIN"])
    endpoint = body["NetworkingConfig"]["EndpointsConfig"]["foolab"]
    assert endpoint["IPAMConfig"]["IPv4Address"] == "10.1.1.100"
    assert fake.put == [("foolab-loadgen", "/", b"tar")]  # before it starts
    assert fake.started == ["foolab-loadgen"]


@pytest.mark.parametrize(("state", "code"), [
    ({"Status": "running", "Running": True}, None), ({"Status": "created"}, None),
    ({"Status": "exited", "ExitCode": 3}, 3), ({"Status": "exited", "ExitCode": 0}, 0)])
def test_exit_code_only_once_ended(monkeypatch, state, code):
    monkeypatch.setattr(client, "inspect_container", lambda c: {"State": state})
    assert client.exit_code("c") == code


class FakeEngine:
    """The calls a load run makes, and a container that runs `runs` polls."""

    def __init__(self, runs: int) -> None:
        self.calls: list[str] = []
        self.left = runs

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = generator.engine
        monkeypatch.setattr(engine, "inspect_network", lambda net: {"Containers": {}})
        monkeypatch.setattr(engine, "inspect_container", lambda c: {})
        monkeypatch.setattr(engine, "pid", lambda c: None)
        monkeypatch.setattr(engine, "remove", lambda c: self.calls.append("remove"))
        monkeypatch.setattr(engine, "kill", lambda c: self.calls.append("kill"))
        monkeypatch.setattr(engine, "logs", lambda c: "locust says hello\n")
        monkeypatch.setattr(engine, "run_detached", lambda image, argv, **kw: self.calls.append(
            f"run {kw['name']} {kw['ip']} {' '.join(argv)}"))
        monkeypatch.setattr(engine, "exit_code", self.exit_code)
        monkeypatch.setattr(generator, "copy_out", self.copy_out)
        monkeypatch.setattr(generator, "engine_client", lambda: None)
        monkeypatch.setattr(generator.time, "sleep", lambda s: None)

    def copy_out(self, container: str, folder: str, dest: Path) -> list[str]:
        """What Locust wrote in /out so far: the polls seen."""
        (dest / "live.json").write_text(f"{self.left}\n")
        return ["live.json"]

    def exit_code(self, container: str) -> int | None:
        if "kill" in self.calls:
            return 137
        self.left -= 1
        return 0 if self.left < 0 else None


def test_a_load_run_waits_for_the_container_keeps_its_output_and_removes_it(
        tmp_path, monkeypatch):
    fake = FakeEngine(runs=3)
    fake.install(monkeypatch)
    code, cpu, _ = LoadGen(Lab(LabConfig(state_dir=tmp_path)))._docker_run(
        ["wrk", "x"], tmp_path / "out", 60, ["web1"])
    assert (code, cpu) == (0, None)
    assert fake.calls == ["remove", "run foolab-loadgen 10.1.1.100 wrk x", "remove"]
    assert (tmp_path / "out" / "loadgen.log").read_text() == "locust says hello\n"
    assert (tmp_path / "out" / "live.json").exists()  # copied out while it ran


def test_a_load_run_over_its_budget_is_killed_and_its_output_kept(tmp_path, monkeypatch):
    fake = FakeEngine(runs=100)
    fake.install(monkeypatch)
    with pytest.raises(LabError, match="ran over 0 s"):
        LoadGen(Lab(LabConfig(state_dir=tmp_path)))._docker_run(
            ["locust"], tmp_path / "out", 0, ["web1"], "run.log")
    assert fake.calls[-2:] == ["kill", "remove"]
    assert (tmp_path / "out" / "run.log").read_text() == "locust says hello\n"


def test_optional_containers_are_reached_through_lab_exec(tmp_path, monkeypatch):
    ran: list[list[str]] = []
    monkeypatch.setattr("lab.engine.lab.run", lambda argv, **kw: ran.append(argv) or done(
        argv, "10.1.1.12\n"))
    lab = Lab(LabConfig(state_dir=tmp_path))
    ha.node_exec(lab, "db1-mha", "true")
    assert resolvers.exec_on(lab, "res1", ["unbound-control", "status"]) == "10.1.1.12\n"
    assert resolvers.first_address(lab, "res2") == "10.1.1.12"
    assert [a[:3] for a in ran] == [["docker", "exec", "foolab-db1-mha"],
                                    ["docker", "exec", "foolab-res1"],
                                    ["docker", "exec", "foolab-res2"]]


def test_memory_is_what_docker_stats_shows(monkeypatch):
    answers = {"v2": {"memory_stats": {"usage": 300 * 2**20, "stats": {"inactive_file": 2**20}}},
               "v1": {"memory_stats": {"usage": 3 * 2**20,
                                       "stats": {"total_inactive_file": 2**20}}},
               "stopped": {"memory_stats": {}}}

    class Api:
        def stats(self, container: str, **kw: Any) -> dict[str, Any]:
            assert kw == {"stream": False, "one_shot": True}
            return answers[container]

    monkeypatch.setattr(client, "api", Api)
    assert [client.memory_mib(c) for c in answers] == [299.0, 2.0, None]


def test_removing_what_is_not_there_is_no_error(monkeypatch):
    from docker.errors import APIError, NotFound

    class Api:
        def remove_container(self, container: str, force: bool) -> None:
            raise NotFound("No such container")

        def remove_image(self, image: str, force: bool) -> None:
            if image == "busy":
                raise APIError("conflict", explanation="image is in use")
            raise NotFound("No such image")

    monkeypatch.setattr(client, "api", Api)
    client.remove("foolab-loadgen")
    client.remove_images("foolab/web:old", "foolab/db:old")
    with pytest.raises(LabError, match="docker rmi -f busy failed: image is in use"):
        client.remove_images("busy")


REPO = Path(__file__).resolve().parents[1]
ON_THE_CLI = {"compose", "build"}  # the rest of the engine: lab.engine.client
EXEC_DOORS = {"lab/engine/lab.py",  # Lab.exec and Lab.sh
              "lab/cli/lifecycle_commands.py"}  # `foolab shell`: docker exec -it, a terminal
RUNBOOK_STEPS = {"lab/drills/replication.py",  # an administrator's commands, shown as typed
                 "lab/engine/addressing.py"}  # a runbook's "start it", lab address and all


def docker_commands(path: Path) -> list[str]:
    """`docker SUBCOMMAND` argv literals in a module."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) > 1:
            first, second = node.elts[:2]
            if (isinstance(first, ast.Constant) and first.value == "docker"
                    and isinstance(second, ast.Constant)):
                found.append(str(second.value))
    return found


def test_the_docker_command_runs_only_compose_build_and_exec_through_lab_exec():
    bad = {}
    for path in sorted((REPO / "lab").rglob("*.py")):
        where = str(path.relative_to(REPO))
        allowed = ON_THE_CLI | ({"exec"} if where in EXEC_DOORS else set())
        if where not in RUNBOOK_STEPS and (cmds := set(docker_commands(path)) - allowed):
            bad[where] = sorted(cmds)
    assert bad == {}


def test_a_class_lab_s_load_run_is_in_its_lab_s_share(tmp_path, monkeypatch):
    """The load generator a class lab's run starts counts against that
    lab's bounds (its group as cgroup parent), not beside them."""
    kwargs: list[dict[str, Any]] = []
    fake = FakeEngine(runs=1)
    fake.install(monkeypatch)
    monkeypatch.setattr(generator.engine, "run_detached",
                        lambda image, argv, **kw: kwargs.append(kw))
    monkeypatch.setattr(generator.cgroups, "parent", lambda cfg, engine: f"/bounds/{cfg.lab}")
    cfg = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class").for_lab("s01")
    LoadGen(Lab(cfg))._docker_run(["wrk", "x"], tmp_path / "out", 60, ["web1"])
    LoadGen(Lab(LabConfig(state_dir=tmp_path)))._docker_run(["wrk", "x"], tmp_path / "o", 60,
                                                            ["web1"])
    assert [kw["cgroup_parent"] for kw in kwargs] == ["/bounds/s01", ""]


def test_a_load_run_s_files_are_copied_in_with_nothing_of_this_machine_bound(
        tmp_path, monkeypatch):
    """loadtests/ (and a class lab's lab-address) go in through the archive
    API, with /out the caller's to write: a node's engine runs it the same."""
    kwargs: list[dict[str, Any]] = []
    FakeEngine(runs=1).install(monkeypatch)
    monkeypatch.setattr(generator.engine, "run_detached",
                        lambda image, argv, **kw: kwargs.append(kw))
    monkeypatch.setattr(generator.cgroups, "parent", lambda cfg, engine: "")
    cfg = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class").for_lab("s01")
    for lab in (Lab(LabConfig(state_dir=tmp_path)), Lab(cfg)):
        LoadGen(lab)._docker_run(["wrk", "x"], tmp_path / "out", 60, ["web1"])
    single, in_class = ({m.name: m for m in tarfile.open(fileobj=io.BytesIO(kw["files"]))}
                        for kw in kwargs)
    assert "volumes" not in kwargs[0]
    assert single["loadtests/locustfile.py"].isreg() and single["loadtests"].isdir()
    assert (single["out"].isdir(), single["out"].uid) == (True, os.getuid())
    assert "usr/local/sbin/lab-address" not in single
    assert in_class["usr/local/sbin/lab-address"].mode == 0o755
    assert not any("__pycache__" in name for name in in_class)
