"""SSH to a node's engine, as to a real machine of the pool (README: "Real
machines join the same way"): an engine named `ssh://[USER@]HOST[:PORT]`.

foolab reaches it through a tunnel of its own: one `ssh -N -L` per engine,
started in this machine's network namespace, forwarding a unix socket
here to the engine's socket there. The SDK and the CLI then talk to that
socket, so:
- a foolab thread inside a lab's network namespace (lab.engine.netns),
  which has no route to any node, still reaches the node's engine (a
  socket file is reached from any namespace);
- the SDK's own ssh:// transport is not used: it needs paramiko, and its
  `docker exec` breaks on a closed pipe (docker-py#3218, open).

For the node containers of this machine, foolab makes what a teacher makes
by hand for real machines, and nothing of it is shared or in an image:
- a key pair of the cluster, in the cluster's root-only folder;
- its public half copied into each node (`docker cp` through this
  machine's engine: the only key the node's sshd takes);
- each node's host key as known, read through this machine's engine
  (never learnt on first use);
- a client setting for the cluster's subnet alone, in ssh_config.d
  (Debian's ssh_config includes it), removed with the cluster.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from lab.engine import netns
from lab.model.errors import LabError

RUN_ROOT = Path(os.environ.get("FOOLAB_CLUSTER_RUN", "/run/foolab-cluster"))  # root only
# Where Debian's ssh reads a system-wide setting (its ssh_config includes the folder).
CLIENT_CONFIG = Path("/etc/ssh/ssh_config.d/foolab-cluster.conf")
KEY_NAME = "id_ed25519"
KNOWN_NAME = "known_hosts"
REMOTE_SOCKET = "/var/run/docker.sock"  # the engine's socket on the far side
TUNNEL_WAIT_S = 15  # ssh's own ConnectTimeout is 5 s: a login and the forward
# `ssh://[USER@]HOST[:PORT]`: an engine reached over SSH
ENGINE = re.compile(r"ssh://(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]+))?")
HOST_KEY = re.compile(r"ssh-ed25519 [A-Za-z0-9+/=]+")


def engine(address: str) -> str:
    """DOCKER_HOST of a node's engine reached over SSH."""
    return f"ssh://root@{address}"


def _folder() -> Path:
    folder = RUN_ROOT / "ssh"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(RUN_ROOT, 0o700)
    os.chmod(folder, 0o700)
    return folder


# --- the tunnel: a unix socket here for an engine there --------------------------------


def tunnel_socket(endpoint: str) -> Path:
    """Where the tunnel to `endpoint` (ssh://...) answers on this machine."""
    m = ENGINE.fullmatch(endpoint)
    if m is None:
        raise LabError(f"{endpoint!r} is not an SSH engine",
                       hint="an engine over SSH is ssh://[USER@]HOST[:PORT]")
    name = m.group(0).removeprefix("ssh://").replace(":", "_")
    return RUN_ROOT / "ssh" / f"engine-{name}.sock"


def tunnel_argv(endpoint: str, sock: Path) -> list[str]:
    """ssh forwarding `sock` here to the engine's socket there, nothing else."""
    m = ENGINE.fullmatch(endpoint)
    assert m is not None  # tunnel_socket checked it
    return ["ssh", "-N", "-T", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
            "-o", "ControlMaster=no", "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=3",
            *(["-l", m["user"]] if m["user"] else []), *(["-p", m["port"]] if m["port"] else []),
            "-L", f"{sock}:{REMOTE_SOCKET}", "--", m["host"]]


def _answers(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(sock))
        except OSError:
            return False
    return True


def _running(pid_file: Path) -> int | None:
    """The tunnel's process named in `pid_file`, if it is still an ssh."""
    try:
        pid = int(pid_file.read_text())
        comm, _, rest = Path(f"/proc/{pid}/stat").read_text().partition(" (")[2].rpartition(") ")
    except (OSError, ValueError):
        return None
    return pid if comm == "ssh" and rest[:1] not in ("Z", "X") else None  # not a zombie


def _stop(pid_file: Path) -> None:
    pid = _running(pid_file)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    pid_file.unlink(missing_ok=True)


def tunnel(endpoint: str) -> str:
    """DOCKER_HOST (unix://) of the engine at `endpoint` (ssh://...), through
    a tunnel started now if none answers; a LabError with ssh's own words
    when it cannot be made."""
    sock = tunnel_socket(endpoint)
    # alive is enough: a tunnel whose node went quiet ends itself within 6 s
    # (ServerAliveInterval x ServerAliveCountMax), and is made again here
    if sock.exists() and _running(sock.with_suffix(".pid")) is not None:
        return f"unix://{sock}"
    _folder()
    with open(sock.with_suffix(".lock"), "w") as lock:  # one start per engine at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if sock.exists() and _running(sock.with_suffix(".pid")) is not None:
            return f"unix://{sock}"
        _stop(sock.with_suffix(".pid"))
        sock.unlink(missing_ok=True)
        log = sock.with_suffix(".log")
        with open(log, "w") as err:
            proc = subprocess.Popen(netns.on_machine(tunnel_argv(endpoint, sock)),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)
        sock.with_suffix(".pid").write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + TUNNEL_WAIT_S
        while proc.poll() is None and not _answers(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None and _answers(sock):
            return f"unix://{sock}"
        proc.kill()
        proc.wait()
        sock.with_suffix(".pid").unlink(missing_ok=True)
        said = " ".join(log.read_text().split())[-200:] or "no answer"
        raise LabError(f"no SSH tunnel to the engine at {endpoint}", said,
                       "can this machine's root log in there with a key? (`ssh HOST true`)")


def stop_tunnels() -> None:
    """Every tunnel this machine holds, and what it left."""
    folder = RUN_ROOT / "ssh"
    for pid_file in folder.glob("engine-*.pid"):
        _stop(pid_file)
    for left in folder.glob("engine-*"):
        left.unlink(missing_ok=True)


# --- what `cluster up` makes for its node containers ------------------------------------


def client_key() -> Path:
    """The cluster's key pair (made once, mode 0600 in a 0700 folder); the
    private key's path."""
    key = _folder() / KEY_NAME
    if not key.exists():
        made = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                               "foolab cluster", "-f", str(key)],
                              capture_output=True, text=True, timeout=30)
        if made.returncode != 0:
            raise LabError("ssh-keygen failed", made.stderr.strip()[-200:],
                           "the cluster's SSH needs Debian's openssh-client")
    return key


def known_hosts(current: str, hosts: Mapping[str, str]) -> str:
    """`current` known_hosts text with each address's line replaced by its
    host key now (a node made again has a new key); ValueError for a text
    that is not one ed25519 public key."""
    lines = {line.split(" ", 1)[0]: line for line in current.splitlines() if line.strip()}
    for address, public in hosts.items():
        found = HOST_KEY.search(public)
        if found is None:
            raise ValueError(f"no ed25519 host key for {address}: {public[:80]!r}")
        lines[address] = f"{address} {found.group(0)}"
    return "".join(f"{line}\n" for line in lines.values())


def client_config(key: Path, pattern: str) -> str:
    """The ssh client's setting for the hosts matching `pattern` only."""
    return (f"# foolab's trial cluster (lab/engine/node_ssh.py): its node containers,\n"
            f"# reached as real machines. Removed by `foolab cluster down`.\n"
            f"Host {pattern}\n"
            f"    User root\n"
            f"    IdentityFile {key}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {key.parent / KNOWN_NAME}\n"
            f"    GlobalKnownHostsFile /dev/null\n"
            f"    StrictHostKeyChecking yes\n"
            f"    BatchMode yes\n"
            # a node gone is seen in seconds, not after TCP's two minutes
            f"    ConnectTimeout 5\n")


def write_client_side(key: Path, pattern: str, hosts: Mapping[str, str]) -> None:
    """Known hosts and the client's setting, for the nodes in `hosts`
    (address -> the node's ed25519 public host key)."""
    known = key.parent / KNOWN_NAME
    known.write_text(known_hosts(known.read_text() if known.exists() else "", hosts))
    CLIENT_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    CLIENT_CONFIG.write_text(client_config(key, pattern))


def remove_client_side() -> None:
    """The tunnels, and what write_client_side and client_key made."""
    stop_tunnels()
    CLIENT_CONFIG.unlink(missing_ok=True)
    folder = RUN_ROOT / "ssh"
    for name in (KEY_NAME, f"{KEY_NAME}.pub", KNOWN_NAME):
        (folder / name).unlink(missing_ok=True)
    if folder.exists():
        folder.rmdir()
