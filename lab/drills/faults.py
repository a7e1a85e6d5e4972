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
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.engine.lab import Lab
from lab.engine.process import run
from lab.engine.waiting import wait_for
from lab.model.errors import LabError

TAG = "foolab-fault"  # comment on every firewall rule a fault adds
KINDS = ("cut", "drop", "partition", "loss", "delay", "kill", "stop", "pause", "slow")


@dataclass(frozen=True)
class Fault:
    """One fault on one host. `peers` is for partition, `amount` for loss
    (percent), delay (milliseconds) and slow (percent of one CPU)."""

    kind: str
    host: str
    peers: tuple[str, ...] = ()
    amount: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LabError(f"unknown fault {self.kind!r}", hint=f"one of {', '.join(KINDS)}")
        if self.kind == "slow" and not 1 <= self.amount <= 100:
            raise LabError("slow needs --amount 1 to 100 (percent of one CPU)",
                           f"got {self.amount:g}")

    def describe(self) -> str:
        if self.kind == "partition":
            return f"{self.host} cannot reach {', '.join(self.peers)}"
        if self.kind == "loss":
            return f"{self.host} loses {self.amount:g}% of its packets"
        if self.kind == "delay":
            return f"{self.host} answers {self.amount:g} ms late"
        if self.kind == "slow":
            return f"{self.host} slowed to {self.amount:g}% of one CPU"
        verbs = {"cut": "cut off the network", "drop": "drops every packet silently",
                 "kill": "killed (power loss)", "stop": "stopped cleanly", "pause": "paused"}
        return f"{self.host} {verbs[self.kind]}"


def partition(split: dict[str, list[str]]) -> list[Fault]:
    """A network split as a map of who cannot reach whom, e.g.
    {"db2": ["db1"]}: one partition fault per host on the left."""
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


# --- inside a host's network namespace ----------------------------------------------


def _pid(lab: Lab, host: str) -> str:
    out = run(["docker", "inspect", "-f", "{{.State.Pid}}", lab.topology.host(host).container])
    pid = out.stdout.strip()
    if out.returncode != 0 or pid in ("", "0"):
        raise LabError(f"{host} is not running", out.stderr)
    return pid


def in_netns(lab: Lab, host: str, argv: list[str]) -> str:
    """Run a command of this machine (iptables, tc) inside a host's network
    namespace; needs root."""
    if os.geteuid() != 0:
        raise LabError("network faults need root", hint="run as root (nsenter into the host)")
    out = run(["nsenter", "-t", _pid(lab, host), "-n", *argv], timeout=20)
    if out.returncode != 0:
        raise LabError(f"on {host}: {' '.join(argv)} failed", out.stderr)
    return out.stdout


def _drop_rules(lab: Lab, fault: Fault) -> list[list[str]]:
    """iptables rule specs (without -A/-D) that make up a firewall fault."""
    mark = ["-m", "comment", "--comment", TAG, "-j", "DROP"]
    if fault.kind == "drop":
        return [["INPUT", "!", "-i", "lo", *mark], ["OUTPUT", "!", "-o", "lo", *mark]]
    if fault.kind == "loss":
        p = ["-m", "statistic", "--mode", "random", "--probability", f"{fault.amount / 100:.4f}"]
        return [["INPUT", "!", "-i", "lo", *p, *mark], ["OUTPUT", "!", "-o", "lo", *p, *mark]]
    rules = []
    for peer in fault.peers:
        addr = lab.topology.address(peer)
        rules += [["INPUT", "-s", addr, *mark], ["OUTPUT", "-d", addr, *mark]]
    return rules


def _clear_firewall(lab: Lab, host: str) -> int:
    """Remove every rule a fault added on `host`; how many were removed."""
    removed = 0
    for line in in_netns(lab, host, ["iptables", "-S"]).splitlines():
        if TAG in line and line.startswith("-A "):
            spec = line.split()[1:]
            in_netns(lab, host, ["iptables", "-D", *[s.strip('"') for s in spec]])
            removed += 1
    return removed


def _network(lab: Lab) -> str:
    return lab.config.project


# --- inject and heal --------------------------------------------------------------------


def inject(lab: Lab, fault: Fault) -> None:
    """Make the fault happen, and record it so that it can be healed."""
    h = lab.topology.host(fault.host)
    _save(lab, [*active(lab), fault])
    if fault.kind in ("drop", "loss", "partition"):
        for rule in _drop_rules(lab, fault):
            in_netns(lab, fault.host, ["iptables", "-A", *rule])
    elif fault.kind == "delay":
        out = run(["nsenter", "-t", _pid(lab, fault.host), "-n", "tc", "qdisc", "add", "dev",
                   "eth0", "root", "netem", "delay", f"{fault.amount:g}ms"])
        if out.returncode != 0:
            _save(lab, [f for f in active(lab) if f != fault])
            raise LabError("cannot add latency", out.stderr,
                           "this kernel lacks sch_netem; use loss or partition instead")
    elif fault.kind == "cut":
        _docker("network", "disconnect", "-f", _network(lab), h.container)
    elif fault.kind == "kill":
        _docker("kill", h.container)
    elif fault.kind == "stop":
        _docker("stop", "-t", "10", h.container)
    elif fault.kind == "pause":
        _docker("pause", h.container)
    elif fault.kind == "slow":
        _docker("update", "--cpu-period", "100000", "--cpu-quota",
                str(int(fault.amount * 1000)), h.container)


def heal(lab: Lab, fault: Fault, wait_healthy: float = 60) -> None:
    """Undo the fault (idempotent) and forget it. Hosts that were killed,
    stopped or cut are started or reconnected and waited for."""
    h = lab.topology.host(fault.host)
    if fault.kind in ("drop", "loss", "partition"):
        if lab.states()[fault.host].status == "running":
            _clear_firewall(lab, fault.host)
    elif fault.kind == "delay":
        run(["nsenter", "-t", _pid(lab, fault.host), "-n", "tc", "qdisc", "del", "dev", "eth0",
             "root"])
    elif fault.kind == "cut":
        if not lab.attached(fault.host):
            _docker("network", "connect", "--ip", h.address, _network(lab), h.container)
    elif fault.kind in ("kill", "stop"):
        if lab.states()[fault.host].status != "running":
            _docker("start", h.container)
    elif fault.kind == "pause":
        if lab.states()[fault.host].status == "paused":
            _docker("unpause", h.container)
    elif fault.kind == "slow":
        _docker("update", "--cpu-quota", "-1", h.container)
    _save(lab, [f for f in active(lab) if f != fault])
    if wait_healthy and fault.kind in ("cut", "kill", "stop", "pause"):
        wait_for(f"{fault.host} healthy again", lambda: lab.states()[fault.host].is_healthy,
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
            _docker("unpause", st.host.container)
            healed.append(f"{name} unpaused")
        if st.status == "running" and os.geteuid() == 0:
            if _clear_firewall(lab, name):
                healed.append(f"{name} firewall rules removed")
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


def _docker(*args: str) -> None:
    out = run(["docker", *args], timeout=60)
    if out.returncode != 0:
        raise LabError(f"docker {' '.join(args)} failed", out.stderr)


