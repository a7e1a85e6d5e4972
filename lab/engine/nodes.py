"""The nodes of a cluster (`foolab cluster up N`): Docker engines joined by
Swarm, each of which holds whole labs.

The design, and why (issue 22). Swarm cannot give a service the article's
fixed addresses, and an overlay cannot carry one lab's hosts between
machines, so a lab never spans nodes: it is the same Compose project as
on one machine, run by the engine of the node that holds it. Swarm is
the pool: which nodes exist and are alive (the manager's node list), and
each node's label ENGINE_LABEL saying how foolab reaches that node's own
engine. foolab drives a lab through that engine's API and CLI
(`client.engine(...)`), never through a service: no agent with a Docker
socket runs on a node, so nothing a student reaches holds one.

For trying and testing, the nodes are containers on this machine with
what an engine needs (NODE_CAPS), each with Debian's docker.io (images/node), on an internal
network of their own; node1 is the swarm's manager, so Swarm's ports
listen only inside that network. Their engines are reached only over SSH
on that network, as a real machine's is (ssh://root@ADDRESS,
lab.engine.node_ssh); no folder of this machine is bound into a node: the
key it lets in is copied in through this machine's engine. A node still
shares the machine's process numbers (`pid: host`), so a lab on it is
entered (netns) as a lab here is (issue 32: the lab-side work is to move
onto the lab's own machine).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.engine import client, hostfiles, node_ssh
from lab.engine.images import image_digest_label
from lab.engine.waiting import wait_for
from lab.model import cluster
from lab.model.errors import LabError
from lab.model.figures import Progress

NETWORK = "foolab-cluster"  # the nodes' own network: Swarm's traffic, nothing else
BRIDGE = "fl-cluster0"  # not foolab-*: the class rules' bridge prefix
SUBNET = "198.19.255.0/24"  # in the benchmarking range, never routed
NODE_LABEL = "org.foolab.node"  # on a node container (this machine's engine)
# The one key a node's sshd takes (images/node/sshd-node.conf), copied in by
# `cluster up`; and the host key its entrypoint makes at first start.
AUTHORIZED_KEYS = "/etc/ssh/foolab_authorized_keys"
HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"
# Swarm's heartbeat (its default): with 2 s, a node busy starting labs on a
# 2-core machine was seen "down" for a while although it answered. A lost
# node is seen sooner anyway: its engine stops answering (nodes.answers).
HEARTBEAT_NS = 5_000_000_000
# What a Docker engine inside a container needs, instead of `privileged`
# (which asks for every capability, and fails on a machine that lacks one,
# as CAP_SYS_RESOURCE is missing here): Docker's defaults for its own
# containers, plus SYS_ADMIN (mounts, namespaces), NET_ADMIN (bridges,
# iptables, and the lab containers' own NET_ADMIN), SYS_PTRACE, IPC and NICE.
NODE_CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
             "SETUID", "SETPCAP", "SETFCAP", "NET_BIND_SERVICE", "NET_ADMIN", "NET_RAW",
             "IPC_LOCK", "IPC_OWNER", "SYS_CHROOT", "SYS_PTRACE", "SYS_ADMIN", "SYS_NICE",
             "MKNOD", "AUDIT_WRITE")
# No AppArmor or seccomp profile, and /proc and /sys unmasked, as the engine
# inside sets sysctls and makes its containers' own profiles.
NODE_SECURITY = ("apparmor=unconfined", "seccomp=unconfined")


def node_image() -> str:
    from lab.model.topology import image_tag
    return f"foolab/node:{image_tag()}"


def container(node: str) -> str:
    return f"foolab-{node}"


def address(node: str) -> str:
    """The node's address on the cluster network: node1 is .11, node2 .12, ..."""
    return SUBNET.rsplit(".", 1)[0] + f".{10 + int(node.removeprefix('node'))}"


def endpoint(node: str) -> str:
    """DOCKER_HOST of a node container's engine: over SSH, as a real
    machine's (the only way in)."""
    return node_ssh.engine(address(node))


def manager_endpoint() -> str:
    """The swarm manager's engine: FOOLAB_SWARM_MANAGER (a real machine's,
    e.g. `ssh://root@teacher-pc` or `unix:///var/run/docker.sock`), else
    node1's on this machine."""
    return os.environ.get("FOOLAB_SWARM_MANAGER") or endpoint("node1")


# --- node containers on this machine -------------------------------------------------


def local_nodes() -> list[str]:
    """The node containers this machine holds (running or not), by name."""
    with client.engine(client.MACHINE):
        found = client.call("docker ps -a", lambda: client.api().containers(
            all=True, filters={"label": NODE_LABEL}))
    return sorted((str(c["Labels"][NODE_LABEL]) for c in found),
                  key=lambda n: int(n.removeprefix("node")))


def local_node_pid(engine: str | None) -> int | None:
    """The main process of the node container whose engine is `engine`, if
    it is one on this machine (None: this machine's own engine, or a real
    machine's): where that node's own network commands run."""
    node = local_node(engine)
    if node is None:
        return None
    with client.engine(client.MACHINE):
        return client.pid(container(node))


def local_node(engine: str | None) -> str | None:
    """The node container of this machine whose engine is `engine`: by its
    address over SSH (ssh://root@198.19.255.12 is node2)."""
    over_ssh = node_ssh.ENGINE.fullmatch(engine or "")
    prefix, _, last = (over_ssh["host"] if over_ssh else "").rpartition(".")
    if prefix != SUBNET.rsplit(".", 1)[0] or not last.isdigit():
        return None
    number = int(last) - 10  # address(): node1 is .11
    return f"node{number}" if 1 <= number <= cluster.MAX_NODES else None


def entered_from_here(engine: str) -> bool:
    """Labs on this engine can be entered from here (their processes are
    this machine's: a node container here, or an engine on a socket of this
    machine). A real machine's are not, and foolab reaches a lab's
    addresses only from inside its network namespace (lab.engine.netns),
    so no lab is placed there (classroom.place_on_nodes)."""
    return engine.startswith("unix://") or local_node(engine) is not None


def enterable(engine: str | None, lab: str) -> str | None:
    """`engine`, the engine of `lab`, if its labs are entered from here
    (None: this machine's); one line saying why not for a real machine's."""
    if engine is not None and not entered_from_here(engine):
        raise LabError(f"lab {lab} is on {engine}, a real machine: foolab reaches a lab's "
                       "addresses only from inside it, on this machine",
                       hint="labs go to this machine's nodes (`foolab class up --swarm`)")
    return engine


def refusal(node: cluster.NodeInfo, answers: bool, per_lab_mib: int) -> str:
    """Why no new lab goes to `node` (whose engine `answers` or not), in a
    few words; "" when labs may."""
    if why := node.refusal(per_lab_mib):
        return why
    if not answers:
        return f"its engine at {node.engine} does not answer"
    if not entered_from_here(node.engine):
        return ("a real machine's node, whose labs foolab cannot enter from here "
                "(README, Real machines join)")
    return ""


def machine_command(argv: Sequence[str]) -> list[str]:
    """`argv` to run on the machine of this block's engine: as it is for
    this machine; inside the node container (its network and files, by
    nsenter) for a node on this machine; a LabError for a real machine's
    node, whose own network foolab cannot reach from here."""
    engine = client.current_engine()
    if engine is None:
        return list(argv)
    pid = local_node_pid(engine)
    if pid is None:
        raise LabError(f"`{argv[0]}` must run on the node at {engine}",
                       hint="a node's own network is reached from that machine only")
    return ["nsenter", "-t", str(pid), "-n", "-m", "--", *argv]


def _ensure_network() -> None:
    if client.inspect_network(NETWORK) is not None:
        return
    from docker.types import IPAMConfig, IPAMPool
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=SUBNET)])
    client.call(f"docker network create {NETWORK}", lambda: client.api().create_network(
        NETWORK, driver="bridge", internal=True, ipam=ipam, labels={NODE_LABEL: ""},
        options={"com.docker.network.bridge.name": BRIDGE}))


def _start_node(node: str, key: Path) -> None:
    """Create (or start again) one node container, which lets in `key`
    over SSH. Nothing of this machine is bound in: the key is copied in."""
    authorized = hostfiles.packed([hostfiles.Entry(
        AUTHORIZED_KEYS.lstrip("/"), Path(f"{key}.pub").read_bytes(), mode=0o600)])
    data = client.inspect_container(container(node))
    if data is not None:
        client.put_archive(container(node), "/", authorized)  # the key of this cluster
        if (data.get("State") or {}).get("Status") != "running":
            client.start(container(node))
        return

    def create() -> None:
        api = client.api()
        host_config = api.create_host_config(
            cap_add=list(NODE_CAPS), security_opt=list(NODE_SECURITY), pid_mode="host",
            network_mode=NETWORK,
            binds={# the engine's containers' cgroups, beside the node's own
                   "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                   f"foolab-{node}-engine": {"bind": "/var/lib/docker", "mode": "rw"}})
        host_config.update(MaskedPaths=[], ReadonlyPaths=[])  # systempaths=unconfined
        api.create_container(
            node_image(), name=container(node), hostname=node, labels={NODE_LABEL: node},
            host_config=host_config, networking_config={"EndpointsConfig": {
                NETWORK: api.create_endpoint_config(ipv4_address=address(node))}})
        api.put_archive(container(node), "/", authorized)
        api.start(container(node))

    client.call(f"docker run {container(node)}", create)


def _host_key(node: str) -> str:
    """The node's SSH host key, read in its own files through this
    machine's engine (`docker cp`), never learnt from the network; made by
    its entrypoint at first start."""
    with client.engine(client.MACHINE):
        return wait_for(f"{node}'s SSH host key (`docker logs {container(node)}`)",
                        lambda: (hostfiles.read_file(container(node), HOST_KEY, limit=4096)
                                 or b"").decode(errors="replace"), timeout=60)


def _prefixed(progress: Progress, node: str) -> Progress:
    return lambda msg: progress(f"{node}: {msg}")


def _swarm_state(node: str) -> str:
    with client.engine(endpoint(node)):
        info = client.call("docker info", lambda: client.api().info())
    return str((info.get("Swarm") or {}).get("LocalNodeState", ""))


def _join_swarm(nodes: Sequence[str], progress: Progress) -> None:
    """node1 manages; every other node joins as a worker (a node started
    again keeps its place: the swarm's state is on its volume)."""
    manager = nodes[0]
    with client.engine(endpoint(manager)):
        if _swarm_state(manager) != "active":
            client.call("docker swarm init", lambda: client.client().swarm.init(
                advertise_addr=address(manager), listen_addr=f"{address(manager)}:2377",
                dispatcher_heartbeat_period=HEARTBEAT_NS))
            progress(f"{manager}: swarm manager at {address(manager)}:2377")
        token = str(client.call("docker swarm join-token", client.api().inspect_swarm)
                    ["JoinTokens"]["Worker"])
    for node in nodes[1:]:
        if _swarm_state(node) == "active":
            continue
        with client.engine(endpoint(node)):
            client.call("docker swarm join", lambda n=node: client.api().join_swarm(  # type: ignore[misc]
                [f"{address(manager)}:2377"], token, listen_addr=f"{address(n)}:2377",
                advertise_addr=address(n)))
        progress(f"{node}: joined the swarm")


def _label_engines() -> None:
    """On the manager: each node container's engine as its label (a real
    machine is labelled by hand: README)."""
    with client.engine(manager_endpoint()):
        api = client.api()
        for n in client.call("docker node ls", api.nodes):
            name = str(n["Description"]["Hostname"])
            spec = dict(n["Spec"])
            labels = dict(spec.get("Labels") or {})
            if not cluster.NODE_NAME.fullmatch(name) or labels.get(cluster.ENGINE_LABEL):
                continue
            labels[cluster.ENGINE_LABEL] = endpoint(name)
            spec["Labels"] = labels
            client.call("docker node update", lambda n=n, spec=spec: api.update_node(  # type: ignore[misc]
                n["ID"], n["Version"]["Index"], spec))


def ship_images(images: Sequence[str], engine: str, progress: Progress) -> None:
    """The lab's images into a node's engine, from this machine's, with no
    registry (`docker save | docker load`); only those it lacks or holds
    in another build."""
    with client.engine(client.MACHINE):
        want = {i: image_digest_label(i) for i in images}
    with client.engine(engine):
        missing = [i for i, d in want.items() if image_digest_label(i) != d]
    if not missing:
        return
    t0 = time.monotonic()
    for image in missing:  # the engine's own `docker save` stream, fed to the node's load
        with client.engine(client.MACHINE):
            tar = client.call(f"docker save {image}",
                              functools.partial(client.api().get_image, image))
        with client.engine(engine):
            client.call(f"docker load {image} into {engine}",
                        functools.partial(_load, client.api(), tar))
    progress(f"images {', '.join(missing)} loaded in {time.monotonic() - t0:.0f} s")


def _load(api: Any, tar: Any) -> None:
    """`docker load` of a tar stream; the engine's answer read to its end."""
    for _ in api.load_image(tar, quiet=True):
        pass


def require_images(images: Sequence[str]) -> None:
    """The images a lab needs are on this block's node (a node builds
    nothing), or a LabError naming those it lacks."""
    lacking = [i for i in images if client.inspect_image(i) is None]
    if lacking:
        raise LabError(f"the node at {client.current_engine()} lacks {', '.join(lacking)}",
                       hint="`foolab cluster up N` loads the lab's images into every node")


def up(count: int, images: Sequence[str], progress: Progress) -> list[cluster.NodeInfo]:
    """Nodes node1..nodeN on this machine, one swarm, the lab's images in
    each; idempotent. The node image must exist (Lab.build_image)."""
    nodes = cluster.node_names(count)
    key = node_ssh.client_key()
    with client.engine(client.MACHINE):
        _ensure_network()
        for node in nodes:
            _start_node(node, key)
    node_ssh.write_client_side(key, SUBNET.rsplit(".", 1)[0] + ".*",
                               {address(n): _host_key(n) for n in nodes})
    for node in nodes:
        wait_for(f"{node}'s Docker engine (`docker logs {container(node)}`)",
                 lambda n=node: answers(endpoint(n)), timeout=90)  # type: ignore[misc]
        progress(f"{node}: engine up ({endpoint(node)})")
    _join_swarm(nodes, progress)
    _label_engines()
    with ThreadPoolExecutor(len(nodes)) as pool:  # each names its engines itself
        list(pool.map(lambda n: ship_images(images, endpoint(n), _prefixed(progress, n)), nodes))
    return listed()


def down(progress: Progress) -> int:
    """Remove every node container of this machine, its engine's volume
    (and with it whatever labs it held), and the cluster network; how many."""
    nodes = local_nodes()
    with client.engine(client.MACHINE):
        for node in nodes:
            client.remove(container(node))
            client.call("docker volume rm", lambda n=node: client.api().remove_volume(  # type: ignore[misc]
                f"foolab-{n}-engine", force=True))
            progress(f"{node}: removed")
        if client.inspect_network(NETWORK) is not None:
            client.call(f"docker network rm {NETWORK}",
                        lambda: client.api().remove_network(NETWORK))
    node_ssh.remove_client_side()
    return len(nodes)


# --- the pool, as the manager sees it ------------------------------------------------


def _info(n: dict[str, Any]) -> cluster.NodeInfo:
    desc, spec, status = n.get("Description") or {}, n.get("Spec") or {}, n.get("Status") or {}
    res = desc.get("Resources") or {}
    state = str(status.get("State", "unknown"))
    return cluster.NodeInfo(
        name=str(desc.get("Hostname", n.get("ID", "?"))),
        engine=str((spec.get("Labels") or {}).get(cluster.ENGINE_LABEL, "")),
        ready=state == "ready" and spec.get("Availability") == "active",
        memory_mib=int(res.get("MemoryBytes", 0)) // 2**20,
        cpus=int(res.get("NanoCPUs", 0)) / 1e9,
        manager=bool(n.get("ManagerStatus")), state=state)


def listed() -> list[cluster.NodeInfo]:
    """Every node of the swarm, from its manager; [] when there is no
    cluster (the manager's engine is not there)."""
    manager = manager_endpoint()
    if manager == endpoint("node1") and "node1" not in local_nodes():
        return []
    with client.engine(manager):
        try:
            return sorted((_info(n) for n in client.api().nodes()), key=lambda i: i.name)
        except Exception as exc:  # noqa: BLE001 - any engine error: the pool is unknown
            said = f"{exc.what}: {exc.observed}" if isinstance(exc, LabError) else str(exc)
            raise LabError("the swarm's manager does not answer", " ".join(said.split())[:200],
                           f"is {manager} up? (`foolab cluster status`)") from None


def answers(engine: str) -> bool:
    """A node's engine answers now (a stopped node's SSH fails within ssh's
    ConnectTimeout, node_ssh.client_config)."""
    try:
        with client.engine(engine):
            client.ping()
        return True
    except LabError:
        return False


@contextmanager
def on(placement: cluster.Placement | None) -> Iterator[None]:
    """The block talks to the engine of the node holding a lab (this
    machine's for a lab with no placement)."""
    with client.engine(placement.engine if placement else None):
        yield
