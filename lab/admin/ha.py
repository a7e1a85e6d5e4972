"""What MHA and keepalived share on a running lab (issue 15): the node
image, the floating master address (.20) and who holds it, the web servers'
write address, and the checks that keep a bad `--with` from touching the
seven hosts (packages that cannot be installed, an address already taken).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts import apache
from lab.model import secrets
from lab.model.config import HA_METHODS, REPO
from lab.model.errors import LabError
from lab.model.topology import image
from lab.probes import pages

NODE_FOLDER = REPO / "images" / "hanode"


def node_image() -> str:
    """foolab/hanode: sshd + mha4mysql-node, keepalived (beside db1/db2)."""
    return image("hanode")


# --- before anything starts -------------------------------------------------------------


def missing_packages(log: Path) -> str:
    """What apt could not install, from a failed image build's log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    names = re.findall(r"Unable to locate package (\S+)", text)
    names += re.findall(r"Package '?([\w.+-]+)'? has no installation candidate", text)
    names += re.findall(r"Failed to fetch \S+/pool/\S+/([a-z0-9.+-]+?)_", text)
    if names:
        return "packages not installable: " + ", ".join(dict.fromkeys(names))
    errors = [line for line in text.splitlines() if line.startswith(("E:", "W: Failed"))]
    return errors[0] if errors else "the image build failed"


def build(lab: Lab, folder: Path, tag: str) -> None:
    """Build one optional image, or fail in one line naming what is missing."""
    try:
        lab.build_image(folder, tag)
    except LabError as exc:
        log = lab.config.log_dir / f"build-{folder.name}.log"
        raise LabError(f"cannot build {tag}", missing_packages(log),
                       f"nothing was started; full log in {log}") from exc


def address_user(lab: Lab, address: str, allowed: tuple[str, ...] = ()) -> str | None:
    """The container (or database host) that has `address` on the lab
    network, other than the `allowed` containers; None if it is free."""
    net = client.inspect_network(lab.config.project) or {}
    for c in (net.get("Containers") or {}).values():
        name = str(c.get("Name", ""))
        if str(c.get("IPv4Address", "")).split("/")[0] == address and name not in allowed:
            return name
    if address == lab.topology.float_address:
        held = holder(lab)
        if held is not None:
            return f"{held} (a secondary address)"
    return None


def require_free(lab: Lab, address: str, what: str, allowed: tuple[str, ...] = ()) -> None:
    user = address_user(lab, address, allowed)
    if user is not None:
        raise LabError(f"{what} {address} is taken by {user}",
                       hint="the seven hosts were not touched; free the address first")


def require_alone(lab: Lab, method: str) -> None:
    """MHA and keepalived would both move the floating address: one at a time."""
    for other in HA_METHODS:
        if other != method and getattr(lab.config, other):
            raise LabError(f"{other} already runs in this lab and moves the floating "
                           f"master address {lab.topology.float_address}",
                           hint=f"remove it first (`foolab down --only {other}`)")


def require_article_roles(lab: Lab) -> None:
    """db1 the running master, db2 its replica: what both methods start from."""
    sick = [h for h in lab.topology.databases if not lab.ready(h)]
    if sick:
        raise LabError(f"not healthy: {', '.join(sick)}",
                       hint=f"restore {lab.topology.master} as master first (runbooks "
                            "rejoin-old-master, switch-back)")


def remember(lab: Lab, method: str, on: bool) -> None:
    """Add the method's compose file to the lab (or drop it) and mark it."""
    marker = lab.config.ha_marker(method)
    lab.use(**{method: on})
    if on:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{method}: compose/{method}.yml runs in this lab\n")
        secrets.write_private(lab.config.env_file, lab.env(), "made by foolab up; never commit")
    else:
        marker.unlink(missing_ok=True)


def compose_up(lab: Lab, *services: str, recreate: bool = False, timeout: float = 120) -> None:
    args = ["up", "-d", "--no-build", "--no-deps", *(["--force-recreate"] if recreate else [])]
    out = lab.compose(*args, *services, timeout=timeout)
    if out.returncode != 0:
        raise LabError(f"could not start {', '.join(services)}", out.stderr)


def compose_rm(lab: Lab, *services: str) -> None:
    out = lab.compose("rm", "--stop", "--force", *services, timeout=120)
    if out.returncode != 0:
        raise LabError(f"could not remove {', '.join(services)}", out.stderr)


def container(lab: Lab, service: str) -> str:
    return lab.service_container(service)


def node_exec(lab: Lab, service: str, script: str, timeout: float = 30,
              ) -> subprocess.CompletedProcess[str]:
    """A shell line in an optional container that is no host of its own
    (db1-mha, db2-vrrp, ...); the result is returned, never raised."""
    return lab.exec(service, ["sh", "-c", script], timeout=timeout, service=True)


def wait_running(lab: Lab, *services: str, timeout: float = 90) -> None:
    def healthy(s: str) -> bool:
        data = client.inspect_container(container(lab, s)) or {}
        return str(((data.get("State") or {}).get("Health") or {}).get("Status")) == "healthy"

    for s in services:
        def ready(s: str = s) -> bool:
            return healthy(s)

        wait_for(f"{s} healthy", ready, timeout=timeout, every=0.25)


# --- the floating master address --------------------------------------------------------


def holder(lab: Lab) -> str | None:
    """The database host that carries the floating address now."""
    address = lab.topology.float_address
    states = lab.states()
    for h in lab.topology.databases:
        if states[h].status != "running":
            continue
        out = lab.exec(h, ["ip", "-o", "-4", "addr", "show"], timeout=10)
        if f" {address}/" in out.stdout:
            return h
    return None


# --- the web servers' writes ------------------------------------------------------------


def point_writes(lab: Lab, address: str, timeout: float = 20) -> None:
    """Every web server writes to `address` (reads unchanged): Apache's
    SetEnv DB_WRITE_HOST edited as an administrator would, graceful reload."""
    for web in lab.topology.webs:
        apache.set_env(lab, web, DB_WRITE_HOST=address)

        def writes_there(w: str = web) -> bool:
            page = pages.fetch(lab.address_of(w), "/db.php", timeout=3).json()
            return bool(page.get("write_host") == address)

        wait_for(f"{web} writing to {address}", writes_there, timeout=timeout)


def write_address(lab: Lab, web: str | None = None) -> str:
    """Where a web server (default: the writer host, web1) sends its writes now."""
    web = web or lab.topology.writer_host
    return str(pages.fetch(lab.address_of(web), "/db.php", timeout=3).json().get("write_host"))
