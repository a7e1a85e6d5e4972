"""A class: one lab per student on one machine, as plain data.

Every lab of a class has the article's addresses (10.1.1.2 ... 10.1.1.22)
and its own secrets, volumes and state folder. Docker refuses two networks
with one subnet, so a class lab's Docker network gets a throw-away "wire"
subnet (198.18.N.0/24, the benchmarking range, never routed) and each
container sets its lab address itself (compose/class.yml). The lab's hosts
keep the last octet on both: web1 is 10.1.1.11 and, on the wire, 198.18.N.11.

Nothing here talks to Docker: lab.engine.network claims the wire subnets and
adds the host's rules, lab.exercises.classroom starts and watches a class.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.model.errors import TopologyError
from lab.model.topology import DEFAULT_SUBNET

__all__ = ["LabRecord", "check_name", "class_names", "per_lab_subnet", "wire_subnet"]

# foolab + the name is the Compose project (at most foolab + 8 characters)
# and foolab-NAME the bridge (Linux: at most 15 characters).
NAME = re.compile(r"[a-z][a-z0-9]{0,7}")
BRIDGE_PREFIX = "foolab-"  # every class bridge: the host's two rules match foolab-+
WIRE_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
# The console: foolab's seat in a class lab. Not .1: the host itself owns
# 10.1.1.1 while the single lab runs, and Linux answers ARP for it on every
# bridge, even an address-less one (measured: the lab then sends replies to
# the host's bridge instead of the console).
CONSOLE_OCTET = 254
MAX_LABS = 254  # one wire /24 each: 198.18.1.0/24 ... 198.18.254.0/24
# What one lab may cost in memory (issue 10's bound); `class up` starts no lab
# unless the machine's available memory holds them all at this much each.
MEMORY_PER_LAB_MIB = 300
RECORD_NAME = "class-lab.json"  # in the lab's state folder


def check_name(name: str, single_project: str = "foolab") -> str:
    """A lab's name as given to --lab, or TopologyError saying why not."""
    if not NAME.fullmatch(name):
        raise TopologyError(
            f"bad lab name {name!r}: a lowercase letter, then up to 7 lowercase letters "
            "or digits (e.g. s03)")
    if f"foolab{name}" == single_project:
        raise TopologyError(f"lab name {name!r} collides with the single lab "
                            f"({single_project}); pick another")
    return name


def class_names(count: int, prefix: str = "s") -> tuple[str, ...]:
    """The names of a class of `count` labs: s01, s02, ..."""
    if not 1 <= count <= MAX_LABS:
        raise TopologyError(f"a class has 1 to {MAX_LABS} labs, not {count}")
    width = max(2, len(str(count)))
    return tuple(check_name(f"{prefix}{i:0{width}d}") for i in range(1, count + 1))


def per_lab_subnet(index: int) -> str:
    """--subnet-per-lab: lab number `index` (1, 2, ...) on 10.1.(100+index).0/24."""
    if not 1 <= index <= 154:
        raise TopologyError(f"no per-lab subnet for lab number {index} (1 to 154)")
    return f"10.1.{100 + index}.0/24"


def wire_subnet(index: int) -> str:
    """The throw-away Docker subnet of wire number `index` (1 to 254)."""
    if not 1 <= index <= MAX_LABS:
        raise TopologyError(f"no wire subnet number {index} (1 to {MAX_LABS})")
    return f"198.18.{index}.0/24"


def same_octet(address: str, subnet: str) -> str:
    """`address`'s last octet on another /24: the lab address of a wire
    address and back."""
    last = int(ipaddress.IPv4Address(address)) & 0xFF
    return str(ipaddress.IPv4Network(subnet).network_address + last)


@dataclass(frozen=True)
class LabRecord:
    """What a class lab keeps in its state folder: its name, the addresses
    its students see (subnet) and its Docker network's (wire)."""

    name: str
    subnet: str = DEFAULT_SUBNET
    wire: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "")
        if self.wire and not ipaddress.IPv4Network(self.wire).subnet_of(WIRE_RANGE):
            raise TopologyError(f"wire subnet {self.wire} is outside {WIRE_RANGE}")

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / RECORD_NAME
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> LabRecord | None:
        path = folder / RECORD_NAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(str(data["name"]), str(data["subnet"]), str(data.get("wire", "")))


# A lab starting takes about a core for a few seconds (MariaDB's set-up,
# BIND, Apache, all at once) and its memory at once: labs started at once
# beyond twice the cores only queue for the same cores, and beyond what the
# free memory holds they would push the machine into swap or the OOM killer.
STARTS_PER_CORE = 2


def start_width(labs: int, cores: int, free_mib: int, reserve_mib: int = 512) -> int:
    """How many labs `class up` starts at once: as wide as the machine's
    cores and free memory allow, no wider, and at least one."""
    by_cpu = STARTS_PER_CORE * max(1, cores)
    by_memory = (free_mib - reserve_mib) // MEMORY_PER_LAB_MIB
    return max(1, min(labs, by_cpu, by_memory))


def start_line(healthy: int, total: int, slowest: tuple[str, float] | None) -> str:
    """`class up`'s progress: how many labs are whole, and the slowest so far."""
    line = f"{healthy} of {total} labs healthy"
    if slowest is not None:
        line += f" (slowest so far: {slowest[0]}, {slowest[1]:.1f} s)"
    return line
