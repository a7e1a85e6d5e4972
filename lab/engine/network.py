"""Routes and subnets: nothing is sent to a lab address unless it routes to
a lab bridge, and no lab is made on a subnet already in use."""

from __future__ import annotations

import ipaddress
import json
import re

from lab.engine.process import run
from lab.model.errors import LabError

# Lab bridges are named after the project (compose/lab.yml): foolab0, ...
LAB_BRIDGE = re.compile(r"foolab[a-z0-9]*0")


def require_lab_route(address: str) -> None:
    """Refuse to send a packet to a lab address unless it routes to the lab's
    bridge: with the lab down, 10.1.1.x would leave the machine."""
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
    nets = run(["docker", "network", "ls", "-q"], timeout=20).stdout.split()
    if nets:
        inspect = run(["docker", "network", "inspect", *nets], timeout=20)
        for n in json.loads(inspect.stdout or "[]"):
            if n.get("Name") == project:
                continue
            for c in (n.get("IPAM") or {}).get("Config") or []:
                sub = c.get("Subnet", "")
                if ":" not in sub and sub and net.overlaps(ipaddress.IPv4Network(sub)):
                    return f"docker network {n['Name']} ({sub})"
    return None
