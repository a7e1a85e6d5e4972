"""Routes and subnets: nothing is sent to a lab address unless it routes to
a lab bridge, and no lab is made on a subnet already in use."""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from dataclasses import replace

from lab.engine import client, netns, nodes
from lab.engine.process import quote, run
from lab.model import class_layout
from lab.model.config import LabConfig
from lab.model.errors import LabError

# Lab bridges are named after the project (compose/lab.yml): foolab0, ...
LAB_BRIDGE = re.compile(r"foolab[a-z0-9]*0")


def require_lab_route(address: str) -> None:
    """Refuse to send a packet to a lab address unless it routes to the lab's
    bridge: with the lab down, 10.1.1.x would leave the machine. Inside a
    class lab's namespace nothing can leave: no check needed."""
    if netns.in_other_namespace():
        return
    out = run(["ip", "-o", "route", "get", address], timeout=10)
    dev = re.search(r" dev (\S+)", out.stdout)
    if out.returncode != 0 or not dev or not LAB_BRIDGE.fullmatch(dev.group(1)):
        raise LabError(
            f"{address} does not route to a lab bridge (foolab0)",
            out.stdout.strip() or out.stderr.strip(),
            "is the lab up? (`foolab status`); on Docker Desktop use `foolab shell HOST`",
        )


def subnet_conflict(subnet: str, project: str = "foolab") -> str | None:
    """A description of whatever on this machine already uses `subnet`, or None."""
    net = ipaddress.IPv4Network(subnet)
    routes = run(["ip", "-j", "-4", "route", "show"], timeout=10)
    if routes.returncode == 0 and routes.stdout.strip():
        for r in json.loads(routes.stdout):
            dst = r.get("dst", "default")
            if dst == "default" or r.get("dev") == f"{project}0":
                continue
            try:
                other = ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
            except ValueError:
                continue
            if net.overlaps(other):
                return f"route {dst} dev {r.get('dev')}"
    for name, subnets in client.network_subnets().items():
        if name == project:
            continue
        for sub in subnets:
            if ":" not in sub and net.overlaps(ipaddress.IPv4Network(sub)):
                return f"docker network {name} ({sub})"
    return None


# --- a class: labs that share the article's addresses ------------------------------

CLASS_TAG = "foolab-class"  # comment on the host rules a class adds
_claims = threading.Lock()  # labs of a class start in parallel threads


def claim_wire(taken_by_records: set[str]) -> str:
    """The first wire subnet (198.18.N.0/24) no Docker network and no class
    lab's record holds (called under a lock: see with_wire)."""
    used = set(taken_by_records)
    for subnets in client.network_subnets().values():
        used.update(subnets)
    for index in range(1, class_layout.MAX_LABS + 1):
        wire = class_layout.wire_subnet(index)
        if not any(u and ":" not in u and ipaddress.IPv4Network(wire).overlaps(
                ipaddress.IPv4Network(u)) for u in used):
            return wire
    raise LabError("no free wire subnet for another class lab",
                   f"{class_layout.MAX_LABS} in use", "remove labs with `foolab class down`")


def with_wire(config: LabConfig) -> LabConfig:
    """A class lab's configuration with its wire subnet: the one it has, or
    a free one, recorded in its state folder before another lab can claim it."""
    if config.wire_subnet:
        return config
    own = class_layout.LabRecord.load(config.state_dir)  # made up earlier, by another process
    if own is not None and own.wire:
        return replace(config, wire_subnet=own.wire, subnet=own.subnet)
    with _claims:
        records = (class_layout.LabRecord.load(d) for d in config.class_root.glob("*")
                   if d.is_dir() and d.name != config.lab)
        wire = claim_wire({r.wire for r in records if r is not None})
        class_layout.LabRecord(config.lab, config.subnet, wire).save(config.state_dir)
    return replace(config, wire_subnet=wire)


def _default_device() -> str | None:
    out = run(nodes.machine_command(["ip", "-o", "-4", "route", "show", "default"]),
              timeout=10).stdout
    dev = re.search(r" dev (\S+)", out)
    return dev.group(1) if dev else None


def class_rules(subnets: tuple[str, ...]) -> list[list[str]]:
    """This machine's rules for a class (README.md, "A class"): bridged
    packets between lab hosts pass Docker's internal-network rule although
    their 10.1.1.x sources are outside the wire subnet; the host answers
    nothing on a class bridge (not even ARP); and, a last guard, nothing for
    the wires or the labs' subnets goes out of the default interface, nor
    anything from a class bridge."""
    any_bridge = class_layout.BRIDGE_PREFIX + "+"
    tag = ["-m", "comment", "--comment", CLASS_TAG]
    rules = [["DOCKER-USER", "-i", any_bridge, "-o", any_bridge, "-m", "physdev",
              "--physdev-is-bridged", *tag, "-j", "ACCEPT"],
             ["INPUT", "-i", any_bridge, *tag, "-j", "DROP"]]
    dev = _default_device()
    if dev:
        for subnet in (str(class_layout.WIRE_RANGE), *subnets):
            rules.append(["OUTPUT", "-o", dev, "-d", subnet, *tag, "-j", "DROP"])
        # and nothing a lab sends is routed out of it (its hosts have no
        # default route; this guard counts what would have left)
        rules.append(["FORWARD", "-i", any_bridge, "-o", dev, *tag, "-j", "DROP"])
    return rules


def add_class_rules(subnets: tuple[str, ...]) -> None:
    """Insert the class rules that are not there yet (they do not survive a
    reboot of the machine, nor need to: `class up` adds them again), on the
    machine of this block's engine (a node's own, for a lab on a node)."""
    for rule in class_rules(subnets):
        if run(nodes.machine_command(["iptables", "-C", *rule]), timeout=10).returncode != 0:
            out = run(nodes.machine_command(["iptables", "-I", *rule]), timeout=10)
            if out.returncode != 0:
                raise LabError(f"iptables -I {' '.join(rule)} failed", out.stderr.strip(),
                               "a class needs root and iptables")


def remove_class_rules() -> int:
    """Remove every rule a class added; how many."""
    removed = 0
    for chain in ("DOCKER-USER", "INPUT", "OUTPUT", "FORWARD"):
        listed = run(nodes.machine_command(["iptables", "-S", chain]), timeout=10).stdout
        for line in listed.splitlines():
            if CLASS_TAG in line and line.startswith("-A "):
                spec = [s.strip('"') for s in line.split()[1:]]
                if run(nodes.machine_command(["iptables", "-D", *spec]),
                       timeout=10).returncode == 0:
                    removed += 1
    return removed


# --- plugging a host in again at a lab address -------------------------------------

# Run inside a class lab's container (nsenter -n) once Docker has plugged it
# in at its wire address: the new interface, the one holding {wire}, also
# gets the lab address {address}, and the default route Docker added goes
# (nothing may leave a class lab). A stopped container does this itself when
# it starts (compose/lab-address).
CLASS_ADDRESS = ('ip addr add {address}/24 dev "$(ip -o -4 addr show to {wire}/32 | '
                 'cut -d" " -f2)" && ip route flush exact 0.0.0.0/0')


def _wire(config: LabConfig, address: str) -> str:
    """Where Docker puts a lab address: itself, or in a class its wire twin."""
    return class_layout.same_octet(address, config.wire_subnet or config.topology.subnet)


def reconnect_script(config: LabConfig, host: str, address: str, force: bool = False,
                     pid: int | None = None) -> str:
    """A shell line that plugs `host` into the lab network again with the
    lab address `address` (the runbooks' "update its IP address", shown to
    the reader as the commands an administrator types). In a class Docker
    knows the wire address; `pid`, the container's main process if it runs
    (client.pid), is where the lab address is added too."""
    net, c = config.project, config.topology.host(host).container
    wire = _wire(config, address)
    line = (f"docker network disconnect {'-f ' if force else ''}{net} {c}; "
            f"docker network connect --ip {wire} {net} {c}")
    if not config.in_class or pid is None:
        return line
    inside = CLASS_ADDRESS.format(address=address, wire=wire)
    return f"{line} && nsenter -t {pid} -n sh -c {quote([inside])}"


def plug_in(config: LabConfig, host: str, address: str) -> None:
    """What reconnect_script does for a host that is on no network, from
    this process: through the engine's API, then (a running class lab's
    container) the lab address added inside it."""
    c = config.topology.host(host).container
    wire = _wire(config, address)
    client.connect(config.project, c, ip=wire)
    pid = client.pid(c) if config.in_class else None
    if pid is not None:
        inside = CLASS_ADDRESS.format(address=address, wire=wire)
        out = run(["nsenter", "-t", str(pid), "-n", "sh", "-c", inside], timeout=20)
        if out.returncode != 0:
            raise LabError(f"{host}: the lab address {address} could not be added",
                           out.stderr.strip())
