"""keepalived on a running lab (issue 15): VRRP beside db1 and db2 (db1-vrrp,
db2-vrrp, each in its database host's network namespace with NET_ADMIN),
a floating master address held by db1 and taken by db2 when db1 dies;
db2's notify script then applies its relay log, stops replicating and turns
read_only off. Both BACKUP with nopreempt, unicast peers (compose/keepalived.yml,
images/hanode/rootfs/usr/local/sbin/hanode-entrypoint).
"""

from __future__ import annotations

from lab.admin import ha
from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.errors import LabError

NODES = ("db1-vrrp", "db2-vrrp")


def running(lab: Lab) -> bool:
    if not lab.config.keepalived:
        return False
    data = client.inspect_container(ha.container(lab, NODES[1])) or {}
    return str((data.get("State") or {}).get("Status")) == "running"


def check(lab: Lab) -> None:
    """Before anything starts: the node image builds, .20 is free."""
    ha.require_alone(lab, "keepalived")
    if lab.is_up() and not lab.config.keepalived:
        ha.require_free(lab, lab.topology.float_address, "the floating master address")
    ha.build(lab, ha.NODE_FOLDER, ha.node_image())


def add(lab: Lab, timeout: float = 120) -> bool:
    """Start VRRP beside db1 and db2 (db1 first: it takes the address) and
    point the web servers' writes at the floating address. True if started
    here; the seven hosts are not recreated."""
    lab.require_up()
    check(lab)
    if running(lab) and ha.holder(lab) is not None:
        return False
    ha.require_article_roles(lab)
    fresh = not running(lab)
    ha.remember(lab, "keepalived", True)
    try:
        arm(lab, timeout)
    except BaseException:
        if fresh:
            remove(lab)
        raise
    return fresh


def arm(lab: Lab, timeout: float = 120) -> None:
    """(Re)start VRRP on the article's roles: both stopped (each gives the
    address up), db1's started and holding the address, then db2's as
    BACKUP; the web servers write to the address."""
    m, r = lab.topology.master, lab.topology.replica
    ha.compose_rm(lab, *reversed(NODES))
    ha.compose_up(lab, NODES[0], recreate=True, timeout=timeout)
    wait_for(f"{m} holding the floating master address", lambda: ha.holder(lab) == m,
             timeout=30, every=0.2)
    ha.compose_up(lab, NODES[1], recreate=True, timeout=timeout)
    ha.wait_running(lab, *NODES, timeout=timeout)
    if ha.holder(lab) != m:
        raise LabError(f"{r} took the floating address while {m} was alive (split brain?)")
    ha.point_writes(lab, lab.topology.float_address)


def remove(lab: Lab) -> None:
    """Stop VRRP (the address goes with it); writes to db1's address again."""
    if lab.ready(master := lab.topology.master):
        ha.point_writes(lab, lab.address_of(master))
    ha.compose_rm(lab, *reversed(NODES))
    ha.remember(lab, "keepalived", False)


def log(lab: Lab, node: str = "db2-vrrp", lines: int = 20) -> str:
    return client.logs(ha.container(lab, node), tail=lines)
