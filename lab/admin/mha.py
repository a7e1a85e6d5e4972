"""MHA on a running lab (issue 15): the manager `mha` at .30 watching db1,
its node side beside db1 and db2 (db1-mha, db2-mha: sshd and mha4mysql-node
in each database host's network namespace, with its data volume), the web
servers writing to the floating master address that MHA's
master_ip_failover_script moves. When db1 dies MHA promotes db2 by itself.

MHA exits after one failover, by design: `arm` re-arms it once the article's
roles are back (rejoin-old-master, switch-back).
"""

from __future__ import annotations

from lab.admin import ha
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.topology import MHA, Role, image

HOST = MHA
NODES = ("db1-mha", "db2-mha")
CONF = "/etc/mha/app1.cnf"
LOG = "/var/log/mha/app1/manager.log"
IMAGE_FOLDER = REPO / "images" / "mha"


def running(lab: Lab) -> bool:
    """Whether this lab has the MHA manager's container running."""
    return lab.config.mha and lab.states()[HOST].status == "running"


def watching(lab: Lab) -> bool:
    """Whether masterha_manager runs and pings the master (PING_OK)."""
    out = lab.exec(HOST, ["masterha_check_status", f"--conf={CONF}"], timeout=20)
    return out.returncode == 0 and "PING_OK" in out.stdout


def check(lab: Lab) -> None:
    """Everything `add` needs, before anything starts: the images build
    (their Debian packages install) and .30 and .20 are free."""
    ha.require_alone(lab, "mha")
    if lab.is_up():
        mine = tuple(ha.container(lab, s) for s in (HOST, *NODES))
        ha.require_free(lab, lab.topology.mha_address, "the MHA manager's address", mine)
        if not lab.config.mha:
            ha.require_free(lab, lab.topology.float_address, "the floating master address")
    ha.build(lab, IMAGE_FOLDER, image(Role.MHA))
    ha.build(lab, ha.NODE_FOLDER, ha.node_image())


def add(lab: Lab, timeout: float = 180) -> bool:
    """Start the manager and the node side beside a running lab, move the
    floating address to db1, point the web servers' writes at it and wait
    until MHA watches db1. True if started here; the seven hosts are not
    recreated."""
    lab.require_up()
    check(lab)
    if running(lab) and watching(lab):
        return False
    ha.require_article_roles(lab)
    fresh = not running(lab)
    ha.remember(lab, "mha", True)
    try:
        ha.compose_up(lab, HOST, *NODES, timeout=timeout)
        ha.wait_running(lab, HOST, *NODES, timeout=timeout)
        arm(lab, timeout=timeout)
    except BaseException:
        if fresh:  # leave no half-made MHA behind
            remove(lab)
        raise
    return fresh


def arm(lab: Lab, timeout: float = 180) -> None:
    """(Re)arm MHA on the article's roles: node containers made again (a
    restarted db1 has a new network namespace), the floating address on
    db1, the web servers writing to it, masterha_manager watching db1."""
    ha.compose_up(lab, *NODES, recreate=True, timeout=timeout)
    ha.wait_running(lab, *NODES, timeout=timeout)
    t = lab.topology
    address = f"{t.float_address}/{t.network.prefixlen}"
    for node, db in zip(NODES, t.databases, strict=True):
        verb = "replace" if db == t.master else "del"
        # lab-iface: the node's interface (eth0 unless a runbook moved the host)
        ha.node_exec(lab, node, f"ip addr {verb} {address} dev $(lab-iface)"
                     + (f" && arping -q -U -c 1 -I $(lab-iface) {address.split('/')[0]}"
                        if verb == "replace" else "; true"))
    if ha.holder(lab) != t.master:
        raise LabError(f"the floating master address is not on {t.master}")
    ha.point_writes(lab, lab.topology.float_address)
    out = lab.exec(HOST, ["mha-start"], timeout=timeout)
    if out.returncode != 0:
        raise LabError("MHA did not start", tail(lab, 3) or out.stderr,
                       f"`docker exec {ha.container(lab, HOST)} cat "
                       "/var/log/mha/app1/check_repl.log`")
    wait_for(f"MHA watching {t.master}", lambda: watching(lab), timeout=60, every=0.5)


def remove(lab: Lab) -> None:
    """Stop and remove MHA; the web servers write to db1's address again
    and the floating address goes. The lab is the article's seven again."""
    if lab.ready(master := lab.topology.master):
        ha.point_writes(lab, lab.address_of(master))
    for node in NODES:
        ha.node_exec(lab, node, f"ip addr del {lab.topology.float_address}/"
                     f"{lab.topology.network.prefixlen} dev $(lab-iface); true")
    ha.compose_rm(lab, HOST, *NODES)
    ha.remember(lab, "mha", False)


def tail(lab: Lab, lines: int = 40) -> str:
    """The end of MHA's manager log."""
    return lab.exec(HOST, ["tail", "-n", str(lines), LOG], timeout=10).stdout


def failover_report(lab: Lab) -> str:
    """MHA's own summary of its last failover (the end of its log)."""
    text = tail(lab, 400)
    start = text.rfind("----- Failover Report -----")
    return text[start:] if start >= 0 else text[-3000:]


def switch_dead_master(lab: Lab) -> str:
    """A human's failover with MHA's own tool (db1 already dead): what
    masterha_manager would have done, on demand."""
    t = lab.topology
    out = lab.exec(HOST, ["masterha_master_switch", f"--conf={CONF}", "--master_state=dead",
                          f"--dead_master_host={t.address(t.master)}",
                          f"--new_master_host={t.address(t.replica)}", "--interactive=0",
                          "--ignore_last_failover"], timeout=180)
    if out.returncode != 0:
        raise LabError("masterha_master_switch failed", out.stdout + out.stderr)
    return out.stdout
