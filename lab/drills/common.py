"""The checks and steps the article's procedures share: replication
running, two databases equal, a host healthy or stopped, a web server
pointed at a database, writes through every web server, dumps."""

from __future__ import annotations

import time
from pathlib import Path

from lab.drills.steps import Check, Step
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts import apache
from lab.hosts.mariadb import (
    admin_password,
    read_only,
    setup_done,
)
from lab.model.errors import LabError
from lab.probes import mysql, pages


def replica_running(replica: str, master: str | None = None, timeout: float = 60) -> Check:
    """Both replication threads Yes (F15), and caught up with the master."""

    def check(lab: Lab) -> str:
        address = lab.address_of(replica)

        def running() -> mysql.ReplicaStatus | None:
            rs = mysql.replica_status(address, admin_password(lab))
            return rs if rs and rs.running and rs.seconds_behind == 0 else None

        rs = wait_for(f"replication on {replica}", running, timeout=timeout, every=0.25)
        # and the host's own start-up job has ended: until then it may still
        # set replication up, behind the next step's back (images/db/db-setup)
        wait_for(f"{replica}'s db-setup done", lambda: setup_done(lab, replica), timeout, 0.25)
        seen = (f"Slave_IO_Running: {rs.io_running}, Slave_SQL_Running: {rs.sql_running}, "
                f"Seconds_Behind_Master: {rs.seconds_behind}, from {rs.master_host}")
        if master is not None:
            seen += "; " + consistent(master, replica)(lab)
        return seen

    return check


def consistent(master: str, replica: str, timeout: float = 30) -> Check:
    """Row counts and checksums of every table equal on both (after the
    replica has applied what it received)."""

    def check(lab: Lab) -> str:
        from lab.drills.verdicts import consistency

        def same() -> str | None:
            v = consistency(
                master, mysql.table_states(lab.address_of(master), admin_password(lab)),
                replica, mysql.table_states(lab.address_of(replica), admin_password(lab)))
            return ", ".join(f"{t} {a.rows} rows" for t, (a, _) in v.tables.items()
                             if a) if v.equal else None

        v = wait_for(f"{replica} consistent with {master}", same, timeout=timeout, every=0.5)
        return f"{master} and {replica} equal: {v}"

    return check


def _writes_to(lab: Lab, web: str) -> str | None:
    """The address a web server sends writes to (None: it does not answer,
    so it writes nowhere)."""
    try:
        return str(pages.fetch(lab.address_of(web), "/db.php", timeout=5).json()["write_host"])
    except (OSError, ValueError, KeyError):
        return None


def healthy(host: str, timeout: float = 60) -> Check:
    def check(lab: Lab) -> str:
        wait_for(f"{host} healthy", lambda: lab.ready(host), timeout, 0.25)
        return f"{host} healthy at {lab.address_of(host)}"

    return check


def answering(host: str, timeout: float = 90) -> Check:
    """The database server on `host` takes connections and its own set-up
    job has ended (healthy or not: a repaired old master may still carry
    broken replication settings). Until db-setup ends it may create the
    schema as root, which read_only does not stop: a reload started before
    then can meet a table it did not make (seen: ERROR 1050 'visits')."""

    def check(lab: Lab) -> str:
        wait_for(f"{host} answering", lambda: mysql.query(
            lab.address_of(host), admin_password(lab), "SELECT 1 AS one"), timeout, 0.5)
        wait_for(f"{host}'s db-setup done", lambda: setup_done(lab, host), timeout, 0.25)
        return f"{host} answers at {lab.address_of(host)}, its set-up done"

    return check


def refuses_writes(host: str) -> Check:
    def check(lab: Lab) -> str:
        if not read_only(lab, host):
            raise LabError(f"{host} still takes writes (read_only is OFF)")
        return f"{host} read-only: the web servers' writes to it fail"

    return check


def fenced(host: str) -> Check:
    """Nothing but the administrator can write on `host`: read_only is on
    and no web server's writes go to its address (each /db.php asked)."""

    def check(lab: Lab) -> str:
        refuses_writes(host)(lab)
        address = lab.address_of(host)
        writers = [w for w in lab.topology.webs if _writes_to(lab, w) == address]
        if writers:
            raise LabError(f"{', '.join(writers)} still write to {host} ({address})")
        return f"{host} read-only, no web server writes to {address}"

    return check


def stopped(*hosts: str) -> Check:
    def check(lab: Lab) -> str:
        states = lab.states()
        running = [h for h in hosts if states[h].status == "running"]
        if running:
            raise LabError(f"still running: {', '.join(running)}")
        return ", ".join(f"{h} {states[h].status}" for h in hosts)

    return check


Where = tuple[str, str]  # a database host's name and the address to use for it


def web_uses(web: str, write: Where, read: Where) -> Check:
    """/db.php on `web` reports the given write and read addresses."""

    def check(lab: Lab) -> str:
        want = (write[1], read[1])

        def page() -> dict[str, str] | None:
            p = pages.fetch(lab.address_of(web), "/db.php", timeout=3).json()
            return p if (p.get("write_host"), p.get("read_host")) == want else None

        wait_for(f"{web} writing to {write[0]}, reading {read[0]}", page, timeout=15)
        return f"{web} writes to {write[0]} ({want[0]}), reads {read[0]} ({want[1]})"

    return check


def point_web(web: str, write: Where, read: Where) -> Step:
    """Point a web server's writes and reads at database hosts."""
    return Step(
        f"{web}: write to {write[0]}, read from {read[0]}", web,
        apache.set_env_command(DB_WRITE_HOST=write[1], DB_READ_HOST=read[1]),
        web_uses(web, write, read),
        modern=f"the settings live in {apache.HOST_CONF}, "
               "outside the content that web1 pushes",
    )


def writes_through_web(timeout: float = 20) -> Check:
    """A numbered write through each web server is acknowledged."""

    def check(lab: Lab) -> str:
        seen = []
        for web in lab.topology.webs:
            answers: list[str] = []

            def write(w: str = web, answers: list[str] = answers) -> dict[str, object] | None:
                try:
                    r = pages.fetch(lab.address_of(w), "/db.php?write=1&writer=runbook",
                                    timeout=3)
                except OSError as exc:
                    answers.append(f"{type(exc).__name__}: {exc}")
                    return None
                answers.append(f"HTTP {r.status} {r.body.strip()[:120]}")
                return r.json() if r.status == 200 else None

            try:
                page = wait_for(f"a write through {web}", write, timeout=timeout, every=0.5)
            except LabError as exc:
                raise LabError(str(exc), answers[-1] if answers else "no answer") from None
            seen.append(f"{web} wrote id {page['id']}")
        return ", ".join(seen)

    return check


def dump_path(lab: Lab, label: str) -> Path:
    folder = lab.config.state_dir.resolve() / "dumps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.sql"


def dump_has_position(dump: Path) -> Check:
    def check(lab: Lab) -> str:
        if not dump.exists():
            raise LabError(f"no dump at {dump}")
        text = dump.read_text()
        pos = [line for line in text.splitlines() if "gtid_slave_pos" in line and "SET" in line]
        if not pos or "CREATE TABLE `ledger`" not in text:
            raise LabError(f"{dump.name} lacks the replication position or the tables")
        return f"{dump.name}: {len(text) // 1024} KiB, {pos[0].strip()}"

    return check
