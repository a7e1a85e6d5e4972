"""The article's procedures for a working or broken replica: the checks of
F15/F16, the rebuild from a dump (F18), semi-synchronous replication."""

from __future__ import annotations

import time
import uuid

from lab.drills.common import (
    dump_has_position,
    dump_path,
    fenced,
    healthy,
    replica_running,
    stopped,
)
from lab.drills.steps import ENGINE, Runbook, Step, docker, sql
from lab.engine import addressing
from lab.engine.lab import Lab
from lab.engine.process import quote
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import LOAD_SILENTLY, admin_password, dump_command
from lab.model.errors import LabError
from lab.model.topology import Role, image
from lab.probes import mysql


def check_replication(lab: Lab, master: str | None = None,
                      replica: str | None = None) -> Runbook:
    """F15/F16: SHOW MASTER STATUS, SHOW SLAVE STATUS, and the real test, a
    write on the master seen on the replica (default: the topology's)."""
    master, replica = master or lab.topology.master, replica or lab.topology.replica
    note = uuid.uuid4().hex

    def master_status(lab: Lab) -> str:
        ms = mysql.master_status(lab.address_of(master), admin_password(lab))
        if ms is None:
            raise LabError(f"{master} writes no binary log")
        return f"File: {ms.file}, Position: {ms.position}"

    def seen_on_replica(lab: Lab) -> str:
        t0 = time.monotonic()
        wait_for(f"the row on {replica}", lambda: mysql.query(
            lab.address_of(replica), admin_password(lab),
            f"SELECT id FROM foo.ledger WHERE note = '{note}'"), timeout=10, every=0.002)
        return f"on {replica} after {1000 * (time.monotonic() - t0):.1f} ms (or less)"

    return Runbook("check-replication", "Is replication working? (the article's checks)", (
        Step("show master status", master, sql(r"SHOW MASTER STATUS\G"), master_status),
        Step("show slave status", replica, sql(r"SHOW SLAVE STATUS\G"),
             replica_running(replica),
             article="Slave_IO_Running: Yes / Slave_MySQL_Running: Yes",
             modern="the field is called Slave_SQL_Running"),
        Step("write a row on the master", master,
             sql(f"INSERT INTO foo.ledger (writer, note) VALUES ('runbook', '{note}')")),
        Step("see it on the replica", replica,
             sql(f"SELECT id, created_at FROM foo.ledger WHERE note = '{note}'"),
             seen_on_replica),
    ))


def rebuild_replica(lab: Lab, master: str | None = None, replica: str | None = None,
                    online: bool = False) -> Runbook:
    """F18: after a serious replica error, reload the replica from a dump
    of the master (default: the topology's). Offline, as the article does it
    (both stopped), or online (a consistent dump while the master keeps
    serving)."""
    master, replica = master or lab.topology.master, replica or lab.topology.replica
    dump = dump_path(lab, f"{master}-for-{replica}")
    ids = {h: h.removeprefix("db") for h in (master, replica)}
    steps: tuple[Step, ...]
    if online:
        steps = (
            Step("stop replication on the replica", replica, sql("STOP SLAVE; RESET SLAVE"),
                 modern="RESET SLAVE keeps MASTER_HOST/USER/PASSWORD, forgets the position"),
            Step("keep writes off the replica", replica, sql("SET GLOBAL read_only = ON"),
                 fenced(replica),
                 modern="only the administrator's reload may write on it while it is "
                        "reloaded; the web servers write to the master"),
            Step("dump the master database while it runs", master, dump_command(lab, master),
                 stdout_to=dump,
                 check=dump_has_position(dump),
                 article="the article stops mysql on the master first",
                 modern="--single-transaction gives a consistent snapshot of InnoDB tables "
                        "without stopping the master; --master-data --gtid records the "
                        "position the replica must start from"),
            Step("reload the database on the replica", replica, LOAD_SILENTLY, stdin_from=dump),
            Step("start the replica", replica, sql("START SLAVE"),
                 replica_running(replica, master)),
        )
    else:
        def workdir(host: str) -> tuple[str, ...]:
            """A one-off container on a stopped host's data volume."""
            return ("docker", "run", "--rm", "--network", "none",
                    "-v", f"{lab.topology.data_volume(host)}:/var/lib/mysql",
                    "-v", f"{dump.parent}:/dump",
                    "--entrypoint", "db-offline", image(Role.DB), host, ids[host])

        inside = f"/dump/{dump.name}"
        steps = (
            Step("stop mysql on the replica", ENGINE, docker("stop", "-t", "10",
                 lab.topology.host(replica).container), stopped(replica)),
            Step("stop mysql on the master", ENGINE, docker("stop", "-t", "10",
                 lab.topology.host(master).container), stopped(master, replica),
                 modern="in the lab, stopping mysql stops the whole host (its container); "
                        "the web servers' writes fail until the master is started again"),
            Step("dump the master database", ENGINE,
                 (*workdir(master), f"{quote(dump_command(lab, master))} > {inside}"),
                 dump_has_position(dump),
                 modern="a private mysqld on the stopped master's data files, with no "
                        "network (images/db/db-offline), makes the dump"),
            Step("reload the database on the replica", ENGINE,
                 (*workdir(replica),
                  f"mariadb -e 'STOP SLAVE; RESET SLAVE' && {quote(LOAD_SILENTLY)} < {inside}")),
            Step("start mysql on the master", ENGINE, addressing.start_command(
                 lab.config, lab.topology.host(master).container), healthy(master)),
            Step("start mysql on the replica", ENGINE, addressing.start_command(
                 lab.config, lab.topology.host(replica).container),
                 replica_running(replica, master)),
        )
    return Runbook("rebuild-replica" + ("-online" if online else ""),
                   "Reload the replica from a dump of the master (the article's recovery)",
                   steps)


# MariaDB's default: after 10 s without an acknowledgement the master stops
# waiting and carries on asynchronously, silently.
FALLBACK_TIMEOUT_MS = 10000
# Lossless: wait (almost) for ever, even with no replica connected.
LOSSLESS_TIMEOUT_MS = 3_600_000


def semi_sync(lab: Lab, on: bool = True, master: str | None = None,
              replica: str | None = None, lossless: bool = False) -> Runbook:
    """Turn MariaDB's semi-synchronous replication on (or off): the master
    acknowledges a commit only once the replica has received it.

    With MariaDB's defaults that promise holds for 10 s only: then the master
    falls back to asynchronous replication, and a replica cut off for longer
    misses acknowledged writes. `lossless` keeps the promise: no timeout to
    speak of, the master waits even with no replica connected, and commits
    become visible only after the replica has them (AFTER_SYNC). The price:
    with the replica gone, every write blocks. Default hosts: the topology's."""
    master, replica = master or lab.topology.master, replica or lab.topology.replica
    flag = "ON" if on else "OFF"
    timeout = LOSSLESS_TIMEOUT_MS if on and lossless else FALLBACK_TIMEOUT_MS
    point = "AFTER_SYNC" if on and lossless else "AFTER_COMMIT"

    def clients(lab: Lab) -> str:
        want = "1" if on else "0"

        def seen() -> str | None:
            rows = mysql.query(lab.address_of(master), admin_password(lab),
                               "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'")
            return rows[0]["Value"] if rows and rows[0]["Value"] == want else None

        wait_for(f"semi-sync clients = {want} on {master}", seen, timeout=20)
        return f"Rpl_semi_sync_master_clients = {want}"

    name = "semi-sync" + ("-lossless" if on and lossless else "" if on else "-off")
    return Runbook(name, f"semi-synchronous replication {flag}"
                   + (" (lossless: no fallback)" if on and lossless else ""), (
        Step(f"semi-sync on the master {flag}", master, sql(
            f"SET GLOBAL rpl_semi_sync_master_enabled = {flag}; "
            f"SET GLOBAL rpl_semi_sync_master_timeout = {timeout}; "
            "SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON; "
            f"SET GLOBAL rpl_semi_sync_master_wait_point = {point}"),
            modern="built into MariaDB since 10.3; not in the 2006 article"
                   + ("; a timeout of an hour and AFTER_SYNC: no silent fallback"
                      if on and lossless else
                      "; after rpl_semi_sync_master_timeout (10 s) without an answer the "
                      "master falls back to asynchronous replication" if on else "")),
        Step(f"semi-sync on the replica {flag}", replica, sql(
            f"SET GLOBAL rpl_semi_sync_slave_enabled = {flag}; "
            "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"), clients),
    ))
