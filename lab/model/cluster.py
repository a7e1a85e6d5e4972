"""A class over several machines, as plain data: the nodes of a Docker
Swarm, and which lab each one holds.

Swarm is the node pool, not the lab's network: a lab stays whole on one
node, as one Compose project with its own internal bridge and the
article's addresses (an overlay cannot give fixed addresses, moby#24170).
The manager's node list says which nodes exist and are alive; each node's
label `org.foolab.engine` says how foolab reaches that node's own Docker
engine (a unix socket for a node container on this machine, `ssh://...`
for a real machine). foolab drives every lab through the engine of its
node, as it drives a lab on this machine through this machine's engine.

Nothing here talks to Docker: lab.engine.nodes does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.model.errors import TopologyError

__all__ = ["ENGINE_LABEL", "NodeInfo", "Placement", "check_node_count", "node_names", "place"]

ENGINE_LABEL = "org.foolab.engine"  # a swarm node's label: DOCKER_HOST of its engine
NODE_NAME = re.compile(r"node[1-9][0-9]?")
MAX_NODES = 16  # node containers on one machine, for trying and testing
PLACEMENT_NAME = "node.json"  # in a class lab's state folder
# What a node keeps for itself (its engine, containerd, the swarm agent)
# before any lab: MiB not offered to labs.
NODE_RESERVE_MIB = 512


def check_node_count(count: int) -> int:
    if not 1 <= count <= MAX_NODES:
        raise TopologyError(f"a cluster on this machine has 1 to {MAX_NODES} nodes, not {count}")
    return count


def node_names(count: int) -> tuple[str, ...]:
    """node1 ... nodeN: the hostnames of the node containers."""
    return tuple(f"node{i}" for i in range(1, check_node_count(count) + 1))


@dataclass(frozen=True)
class NodeInfo:
    """One swarm node as the manager lists it, with what it can take."""

    name: str  # its hostname in the swarm
    engine: str  # how to reach its Docker engine (DOCKER_HOST), "" if unknown
    ready: bool  # Swarm's state is "ready" and its availability "active"
    memory_mib: int  # what the node has in all
    cpus: float
    manager: bool = False
    state: str = "ready"  # Swarm's word: ready, down, unknown, disconnected

    @property
    def usable(self) -> bool:
        """Labs may be placed here: alive, and foolab knows its engine."""
        return self.ready and bool(self.engine)

    def refusal(self, per_lab_mib: int) -> str:
        """Why the swarm's word on this node lets no lab be placed on it, in
        a few words; "" when one may be."""
        if not self.engine:
            return f"no {ENGINE_LABEL} label, so foolab does not know its engine (README)"
        if self.state != "ready":
            return f"the swarm says it is {self.state}"
        if not self.ready:
            return "drained or paused in the swarm (`docker node update --availability active`)"
        if self.memory_mib < NODE_RESERVE_MIB + per_lab_mib:
            return (f"{self.memory_mib} MiB of memory, under the {NODE_RESERVE_MIB} MiB kept "
                    f"for the node and {per_lab_mib} MiB for one lab")
        return ""


@dataclass(frozen=True)
class Placement:
    """Where a class lab runs: its node, and that node's engine."""

    lab: str
    node: str
    engine: str

    def __post_init__(self) -> None:
        if not self.node or not self.engine:
            raise TopologyError(f"lab {self.lab}: a placement needs a node and its engine")

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PLACEMENT_NAME
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> Placement | None:
        path = folder / PLACEMENT_NAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(str(data["lab"]), str(data["node"]), str(data["engine"]))

    @staticmethod
    def forget(folder: Path) -> None:
        (folder / PLACEMENT_NAME).unlink(missing_ok=True)


def place(labs: Iterable[str], nodes: Iterable[NodeInfo], held: Mapping[str, int],
          per_lab_mib: int, per_lab_cpu: float = 0.05) -> dict[str, str]:
    """Each lab to a node, whole: the usable node with the most memory left
    for labs (its memory less NODE_RESERVE_MIB and `per_lab_mib` per lab it
    `held` or was given here), ties to the one with more CPU per lab, then by
    name. TopologyError, naming what is short, when the labs do not all fit:
    nothing is placed then."""
    free: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for n in nodes:
        if n.usable:
            count = held.get(n.name, 0)
            free[n.name] = n.memory_mib - NODE_RESERVE_MIB - per_lab_mib * count
            cpu[n.name] = n.cpus - per_lab_cpu * count
    if not free:
        raise TopologyError("no node can take a lab: none is ready with a known engine")
    wanted = list(labs)
    room = sum(max(0, int(f // per_lab_mib)) for f in free.values())
    if len(wanted) > room:
        raise TopologyError(f"{len(wanted)} labs do not fit on the cluster's nodes: "
                            f"room for {room} more at {per_lab_mib} MiB each")
    result: dict[str, str] = {}
    for lab in wanted:
        best = max(free, key=lambda n: (free[n], cpu[n], [-ord(c) for c in n]))
        result[lab] = best
        free[best] -= per_lab_mib
        cpu[best] -= per_lab_cpu
    return result
