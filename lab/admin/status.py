"""The status table: every host, its role, address, health and the facts
that matter, gathered through the checks. Data only; the CLI renders it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql

from lab.admin import haproxy_cfg, lb, mha
from lab.engine.lab import Lab
from lab.model import article
from lab.model.errors import LabError
from lab.model.topology import Host, Role
from lab.probes import mysql, named, pages


@dataclass
class HostStatus:
    name: str
    role: str
    address: str
    duty: str
    state: str  # running, exited, paused, missing
    health: str  # healthy, unhealthy, starting, none
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _facts(lab: Lab, host: Host, address: str) -> dict[str, Any]:
    password = lab.secrets().get("DB_ADMIN_PASSWORD", "")
    if host.role is Role.DNS:
        s = named.soa(address)
        www = haproxy_cfg.www_mode(named.ask(address).records, lab.topology)
        return {"zone": article.ZONE, "serial": s.serial if s else None, "www": www}
    if host.role is Role.LB:
        rows = lb.balancer_stats(address, lab.secrets().get("LB_STATS_PASSWORD", ""))
        servers = haproxy_cfg.server_states(rows)
        return {"policy": haproxy_cfg.policy_of_stats(rows),  # what haproxy runs, not the file
                **{name: state.replace(" ", "") for name, state in servers.items()}}
    if host.role is Role.DB:
        facts: dict[str, Any] = {}
        ms = mysql.master_status(address, password)
        if ms:
            facts["binlog"] = f"{ms.file}:{ms.position}"
        rs = mysql.replica_status(address, password)
        if rs:
            facts.update(
                replicates_from=rs.master_host, io=rs.io_running, sql=rs.sql_running,
                lag_s=rs.seconds_behind,
            )
        return facts
    if host.role is Role.MHA:
        out = lab.exec(host.name, ["masterha_check_status", f"--conf={mha.CONF}"], timeout=20)
        return {"manager": "watching db1" if "PING_OK" in out.stdout else "not running"}
    page = pages.fetch(address, "/db.php", timeout=3).json()
    reads = page.get("read_host", "?")
    names = {lab.address_of(h.name): h.name for h in lab.topology.by_role(Role.DB)}
    names[lab.topology.float_address] = "floating"  # MHA's or keepalived's (issue 15)
    writes = page.get("write_host", "?")
    return {"reads_from": names.get(reads, reads), "writes_to": names.get(writes, writes)}


def lab_status(lab: Lab) -> list[HostStatus]:
    """One HostStatus per host, in the article's order; health as each
    host's healthcheck answers now (Docker's own status may be a minute old)."""
    rows = []
    for name, st in lab.states(probe=True).items():
        h = st.host
        address = lab.address_of(name)  # a promoted replica may hold the master's
        row = HostStatus(name, h.role.value, address, h.duty, st.status, st.health)
        if st.status == "running":
            try:
                row.facts = _facts(lab, st.host, address)
            except (LabError, OSError, ValueError, pymysql.MySQLError) as exc:
                row.facts = {"error": str(exc).splitlines()[0][:120]}
            except Exception as exc:  # dnspython timeouts and the like: still a fact
                row.facts = {"error": f"{type(exc).__name__}: {exc}"[:120]}
        rows.append(row)
    return rows
