"""Faults (Jepsen's nemesis): each can be injected and healed.

A fault is plain data (kind, host, parameters) so it can be recorded in
.lab/faults.json and healed later by another process (`foolab heal`).
Use `injected(lab, fault)` as a context manager: the fault is healed when
the block ends, whether it failed or not.

Network faults act inside the host's network namespace from this machine
(`nsenter`, root), so the images need no firewall tools:
- cut:       the interface is gone (docker network disconnect): fast errors
- drop:      every packet silently dropped (a pulled cable): timeouts
- partition: packets to/from some peers dropped: a map of who cannot reach whom
- loss:      a share of packets dropped at random
- delay:     added latency (tc netem; needs the sch_netem kernel module)
Host faults: kill (power loss), stop (clean shutdown), pause (frozen),
slow (CPU capped at a share of one core: docker update --cpu-quota).

Each kind is one entry of KIND, an object that injects, heals and
describes it; a new kind of fault is one more entry there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.engine import addressing, client, network
from lab.engine.lab import Lab
from lab.engine.process import run
from lab.engine.waiting import wait_for
from lab.model import events
from lab.model.errors import LabError

TAG = "foolab-fault"  # comment on every firewall rule a fault adds


@dataclass(frozen=True)
class Fault:
    """One fault on one host. `peers` is for partition, `amount` for loss
    (percent), delay (milliseconds) and slow (percent of one CPU)."""

    kind: str
    host: str
    peers: tuple[str, ...] = ()
    amount: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KIND:
            raise LabError(f"unknown fault {self.kind!r}", hint=f"one of {', '.join(KINDS)}")
        KIND[self.kind].check(self)

    def describe(self) -> str:
        return KIND[self.kind].describe(self)

    @property
    def key(self) -> str:
        """Pairs this fault's injection with its healing in the event record."""
        return f"{self.kind}:{self.host}:{','.join(self.peers)}:{self.amount:g}"


def partition(split: dict[str, list[str]]) -> list[Fault]:
    """A network split as a map of who cannot reach whom, e.g.
    {replica: [master]}: one partition fault per host on the left."""
    return [Fault("partition", host, tuple(peers)) for host, peers in split.items()]


# --- the record of active faults -------------------------------------------------


def _record_path(lab: Lab) -> Path:
    return lab.config.state_dir / "faults.json"


def active(lab: Lab) -> list[Fault]:
    """Faults injected and not yet healed, as recorded in .lab/faults.json."""
    path = _record_path(lab)
    if not path.exists():
        return []
    return [Fault(d["kind"], d["host"], tuple(d["peers"]), d["amount"])
            for d in json.loads(path.read_text())]


def _save(lab: Lab, faults: list[Fault]) -> None:
    path = _record_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(f) for f in faults], indent=1))


def _forget(lab: Lab, fault: Fault) -> None:
    _save(lab, [f for f in active(lab) if f != fault])


# --- inside a host's network namespace ----------------------------------------------


def _pid(lab: Lab, host: str) -> str:
    pid = client.pid(lab.topology.host(host).container)
    if pid is None:
        raise LabError(f"{host} is not running")
    return str(pid)


def in_netns(lab: Lab, host: str, argv: list[str]) -> str:
    """Run a command of this machine (iptables, tc) inside a host's network
    namespace; needs root."""
    if os.geteuid() != 0:
        raise LabError("network faults need root", hint="run as root (nsenter into the host)")
    out = run(["nsenter", "-t", _pid(lab, host), "-n", *argv], timeout=20)
    if out.returncode != 0:
        raise LabError(f"on {host}: {' '.join(argv)} failed", out.stderr)
    return out.stdout


def _clear_firewall(lab: Lab, host: str) -> int:
    """Remove every rule a fault added on `host`; how many were removed."""
    removed = 0
    for line in in_netns(lab, host, ["iptables", "-S"]).splitlines():
        if TAG in line and line.startswith("-A "):
            spec = line.split()[1:]
            in_netns(lab, host, ["iptables", "-D", *[s.strip('"') for s in spec]])
            removed += 1
    return removed


def _container(lab: Lab, fault: Fault) -> str:
    return lab.topology.host(fault.host).container


# --- the kinds of fault: how each is made, undone and told ---------------------------


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One kind of fault. `says` is its description, formatted with the
    fault's host, peers and amount; `restarts`: heal waits until the host is
    healthy again. Subclasses make and undo it; both run from any process
    with only the recorded Fault to go by."""

    name: str
    says: str
    restarts: bool = False

    def check(self, fault: Fault) -> None:
        """Refuse parameters this kind cannot use (LabError)."""

    def describe(self, fault: Fault) -> str:
        return self.says.format(host=fault.host, peers=", ".join(fault.peers),
                                amount=fault.amount)

    def inject(self, lab: Lab, fault: Fault) -> None:
        raise NotImplementedError

    def heal(self, lab: Lab, fault: Fault) -> None:
        """Undo the fault; idempotent (heal_all may meet it half-made)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Firewall(Kind):
    """Packets dropped by iptables rules inside the host's namespace."""

    rules: Callable[[Lab, Fault], list[list[str]]]  # specs without -A/-D

    def inject(self, lab: Lab, fault: Fault) -> None:
        for rule in self.rules(lab, fault):
            in_netns(lab, fault.host, ["iptables", "-A", *rule])

    def heal(self, lab: Lab, fault: Fault) -> None:
        if lab.states()[fault.host].status == "running":
            _clear_firewall(lab, fault.host)


_MARK = ["-m", "comment", "--comment", TAG, "-j", "DROP"]


def _drop_all(lab: Lab, fault: Fault) -> list[list[str]]:
    return [["INPUT", "!", "-i", "lo", *_MARK], ["OUTPUT", "!", "-o", "lo", *_MARK]]


def _drop_share(lab: Lab, fault: Fault) -> list[list[str]]:
    p = ["-m", "statistic", "--mode", "random", "--probability", f"{fault.amount / 100:.4f}"]
    return [["INPUT", "!", "-i", "lo", *p, *_MARK], ["OUTPUT", "!", "-o", "lo", *p, *_MARK]]


def _drop_peers(lab: Lab, fault: Fault) -> list[list[str]]:
    rules = []
    for peer in fault.peers:
        addr = lab.topology.address(peer)
        rules += [["INPUT", "-s", addr, *_MARK], ["OUTPUT", "-d", addr, *_MARK]]
    return rules


@dataclass(frozen=True, kw_only=True)
class Latency(Kind):
    """tc netem on the host's lab interface (needs the sch_netem kernel
    module). Not always eth0: a host cut off and healed is plugged in again
    as eth1."""

    def inject(self, lab: Lab, fault: Fault) -> None:
        out = run(["nsenter", "-t", _pid(lab, fault.host), "-n", "tc", "qdisc", "add", "dev",
                   _lab_interface(lab, fault.host), "root", "netem", "delay",
                   f"{fault.amount:g}ms"])
        if out.returncode != 0:
            _forget(lab, fault)  # nothing was changed: nothing to heal
            raise LabError("cannot add latency", out.stderr,
                           "this kernel lacks sch_netem; use loss or partition instead")

    def heal(self, lab: Lab, fault: Fault) -> None:
        run(["nsenter", "-t", _pid(lab, fault.host), "-n", "tc", "qdisc", "del", "dev",
             _lab_interface(lab, fault.host), "root"])


def _lab_interface(lab: Lab, host: str) -> str:
    """The interface that holds the host's lab address."""
    shown = in_netns(lab, host, ["ip", "-o", "-4", "addr", "show", "to",
                                 f"{lab.address_of(host)}/32"]).split()
    return shown[1] if len(shown) > 1 else "eth0"


@dataclass(frozen=True, kw_only=True)
class Cut(Kind):
    """The host's interface on the lab network is gone (fast errors)."""

    def inject(self, lab: Lab, fault: Fault) -> None:
        client.disconnect(lab.config.project, _container(lab, fault), force=True)

    def heal(self, lab: Lab, fault: Fault) -> None:
        if not lab.attached(fault.host):
            network.plug_in(lab.config, fault.host, lab.topology.address(fault.host))


@dataclass(frozen=True, kw_only=True)
class Down(Kind):
    """The container stopped one way or another; heal starts it."""

    how: Callable[[str], None]  # called with the container

    def inject(self, lab: Lab, fault: Fault) -> None:
        self.how(_container(lab, fault))

    def heal(self, lab: Lab, fault: Fault) -> None:
        if lab.states()[fault.host].status != "running":
            addressing.start(lab.config, _container(lab, fault))


@dataclass(frozen=True, kw_only=True)
class Frozen(Kind):
    """Every process of the host frozen (cgroup freezer)."""

    def inject(self, lab: Lab, fault: Fault) -> None:
        client.pause(_container(lab, fault))

    def heal(self, lab: Lab, fault: Fault) -> None:
        if lab.states()[fault.host].status == "paused":
            client.unpause(_container(lab, fault))


@dataclass(frozen=True, kw_only=True)
class CpuCap(Kind):
    """The host's CPU capped at `amount` percent of one core."""

    def check(self, fault: Fault) -> None:
        if not 1 <= fault.amount <= 100:
            raise LabError("slow needs --amount 1 to 100 (percent of one CPU)",
                           f"got {fault.amount:g}")

    def inject(self, lab: Lab, fault: Fault) -> None:
        client.update_cpu(_container(lab, fault), int(fault.amount * 1000), period=100000)

    def heal(self, lab: Lab, fault: Fault) -> None:
        client.update_cpu(_container(lab, fault), -1)


# One entry per kind of fault, in the order `foolab fault` lists them.
KIND: dict[str, Kind] = {k.name: k for k in (
    Cut(name="cut", says="{host} cut off the network", restarts=True),
    Firewall(name="drop", says="{host} drops every packet silently", rules=_drop_all),
    Firewall(name="partition", says="{host} cannot reach {peers}", rules=_drop_peers),
    Firewall(name="loss", says="{host} loses {amount:g}% of its packets", rules=_drop_share),
    Latency(name="delay", says="{host} answers {amount:g} ms late"),
    Down(name="kill", says="{host} killed (power loss)", restarts=True,
         how=lambda c: client.kill(c)),
    Down(name="stop", says="{host} stopped cleanly", restarts=True,
         how=lambda c: client.stop(c, grace=10)),
    Frozen(name="pause", says="{host} paused", restarts=True),
    CpuCap(name="slow", says="{host} slowed to {amount:g}% of one CPU"),
)}
KINDS = tuple(KIND)


# --- inject and heal --------------------------------------------------------------------


def inject(lab: Lab, fault: Fault) -> None:
    """Make the fault happen, and record it (first) so that it can be healed."""
    lab.topology.host(fault.host)  # an unknown host fails before anything is recorded
    _save(lab, [*active(lab), fault])
    KIND[fault.kind].inject(lab, fault)
    events.record(lab.config.state_dir, events.FAULT_INJECTED, fault.describe(), fault.host,
                  key=fault.key)


def heal(lab: Lab, fault: Fault, wait_healthy: float = 60) -> None:
    """Undo the fault (idempotent) and forget it. Hosts that were killed,
    stopped, paused or cut are started or reconnected and waited for."""
    kind = KIND[fault.kind]
    kind.heal(lab, fault)
    _forget(lab, fault)
    events.record(lab.config.state_dir, events.FAULT_HEALED, "healed: " + fault.describe(),
                  fault.host, key=fault.key)
    if wait_healthy and kind.restarts:
        wait_for(f"{fault.host} healthy again", lambda: lab.ready(fault.host),
                 timeout=wait_healthy, every=0.25)


def heal_all(lab: Lab) -> list[str]:
    """Remove every fault the lab knows of: the recorded ones, and any
    firewall rule, latency or paused host a crashed run may have left."""
    healed = []
    for fault in active(lab):
        heal(lab, fault, wait_healthy=0)
        healed.append(fault.describe())
    for name, st in lab.states().items():
        if st.status == "paused":
            client.unpause(st.host.container)
            healed.append(f"{name} unpaused")
            events.record(lab.config.state_dir, events.FAULT_HEALED, healed[-1], name)
        if st.status == "running" and os.geteuid() == 0:
            if _clear_firewall(lab, name):
                healed.append(f"{name} firewall rules removed")
                events.record(lab.config.state_dir, events.FAULT_HEALED, healed[-1], name)
    return healed


@contextmanager
def injected(lab: Lab, *faults: Fault, wait_healthy: float = 60) -> Iterator[tuple[Fault, ...]]:
    """Inject faults for the length of a with-block; always heal them,
    in reverse order, even when the block fails."""
    done: list[Fault] = []
    try:
        for fault in faults:
            inject(lab, fault)
            done.append(fault)
        yield faults
    finally:
        errors = []
        for fault in reversed(done):
            try:
                heal(lab, fault, wait_healthy=wait_healthy)
            except LabError as exc:  # heal the others anyway
                errors.append(str(exc))
        if errors:
            raise LabError("healing failed", "; ".join(errors), "run `foolab heal`")
