"""A node reached over SSH, as a real machine is: the key, the known hosts,
the client's setting, the tunnel, and which engine is which node."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from lab.engine import client, node_ssh, nodes
from lab.model.errors import LabError

REAL_CLIENT = client.client  # before conftest's guard: a tunnel refused comes first
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbuOQ1dwbZ3AJsz4CQTkhq4dK8S2yA5NqD4xM3QjG3x"


def test_a_node_s_host_key_replaces_its_old_line_and_keeps_the_others() -> None:
    old = "198.19.255.11 ssh-ed25519 AAAAold\n198.19.255.12 ssh-ed25519 AAAAtwo\n"
    text = node_ssh.known_hosts(old, {"198.19.255.11": f"{KEY} root@node1\n"})
    assert text == f"198.19.255.11 {KEY}\n198.19.255.12 ssh-ed25519 AAAAtwo\n"


def test_what_is_not_an_ed25519_key_is_refused() -> None:
    with pytest.raises(ValueError, match="no ed25519 host key for 198.19.255.13"):
        node_ssh.known_hosts("", {"198.19.255.13": "ssh-rsa AAAAB3Nza root@node3"})


def test_the_client_setting_is_for_the_cluster_subnet_and_trusts_no_new_key() -> None:
    text = node_ssh.client_config(Path("/run/foolab-cluster/ssh/id_ed25519"), "198.19.255.*")
    lines = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == "Host 198.19.255.*"
    for want in ("User root", "IdentitiesOnly yes", "StrictHostKeyChecking yes", "BatchMode yes",
                 "UserKnownHostsFile /run/foolab-cluster/ssh/known_hosts",
                 "IdentityFile /run/foolab-cluster/ssh/id_ed25519"):
        assert want in lines


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs openssh-client")
def test_the_cluster_key_is_made_once_and_root_s_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_ssh, "RUN_ROOT", tmp_path)
    key = node_ssh.client_key()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    made = key.read_text()
    assert node_ssh.client_key().read_text() == made
    assert Path(f"{key}.pub").read_text().startswith("ssh-ed25519 ")


def test_an_ssh_engine_at_a_node_s_address_is_that_node_and_no_other() -> None:
    assert nodes.local_node("ssh://root@198.19.255.12") == "node2"
    assert nodes.local_node("ssh://198.19.255.21:22") == "node11"
    assert nodes.local_node(nodes.endpoint("node3")) == "node3"
    assert nodes.endpoint("node3") == "ssh://root@198.19.255.13"  # the only way in
    for elsewhere in ("ssh://root@teacher-pc", "ssh://root@198.19.254.12", "ssh://root@198.19.255.10",
                      "ssh://root@198.19.255.99", "unix:///var/run/docker.sock", None):
        assert nodes.local_node(elsewhere) is None


def test_an_ssh_engine_is_reached_through_a_socket_forwarded_by_ssh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_ssh, "RUN_ROOT", Path("/run/fl"))
    sock = node_ssh.tunnel_socket("ssh://admin@teacher-pc:2222")
    assert sock == Path("/run/fl/ssh/engine-admin@teacher-pc_2222.sock")
    argv = node_ssh.tunnel_argv("ssh://admin@teacher-pc:2222", sock)
    assert argv[:3] == ["ssh", "-N", "-T"] and argv[-2:] == ["--", "teacher-pc"]
    assert ["-l", "admin"] == argv[argv.index("-l"):argv.index("-l") + 2]
    assert ["-p", "2222"] == argv[argv.index("-p"):argv.index("-p") + 2]
    assert f"{sock}:/var/run/docker.sock" in argv
    for bad in ("ssh://", "ssh://root@host;rm -rf", "tcp://10.0.0.1:2375"):
        with pytest.raises(LabError, match="not an SSH engine"):
            node_ssh.tunnel_socket(bad)


def test_a_command_for_an_ssh_engine_is_given_the_tunnel_not_the_url(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(node_ssh, "tunnel", lambda e: asked.append(e) or "unix:///run/t.sock")
    with client.engine("ssh://root@198.19.255.12"):
        assert client.command_env()["DOCKER_HOST"] == "unix:///run/t.sock"
    with client.engine("unix:///n2.sock"):
        assert client.command_env()["DOCKER_HOST"] == "unix:///n2.sock"
    assert asked == ["ssh://root@198.19.255.12"]


def test_a_tunnel_that_cannot_be_made_is_one_error_with_ssh_s_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_ssh, "RUN_ROOT", tmp_path)
    monkeypatch.setattr(node_ssh, "tunnel_argv", lambda _e, _s: [
        "sh", "-c", "echo 'ssh: connect to host far port 22: No route to host' >&2; exit 255"])
    with pytest.raises(LabError, match="no SSH tunnel to the engine at ssh://root@far") as err:
        node_ssh.tunnel("ssh://root@far")
    assert "No route to host" in str(err.value)
    assert not (tmp_path / "ssh" / "engine-root@far.pid").exists()


def test_a_manager_out_of_reach_is_one_line_with_one_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(endpoint: str) -> str:
        raise LabError(f"no SSH tunnel to the engine at {endpoint}", "No route to host",
                       "can this machine's root log in there with a key?")
    monkeypatch.setattr(node_ssh, "tunnel", refused)
    monkeypatch.setattr(client, "client", REAL_CLIENT)
    monkeypatch.setenv("FOOLAB_SWARM_MANAGER", "ssh://root@far")
    with pytest.raises(LabError) as err:
        nodes.listed()
    said = str(err.value)
    assert said.startswith("the swarm's manager does not answer: no SSH tunnel") and \
        said.count("(hint:") == 1 and "No route to host" in said, said
