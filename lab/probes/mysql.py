"""MySQL facts through PyMySQL: status of master and replica, rows and
checksums; from this machine after the route check, or inside a host."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from lab.engine.network import require_lab_route
from lab.model.article import SYSTEM_SCHEMAS
from lab.model.errors import LabError

PORT = 3306
# A probe's whole conversation (connect, greeting, statements, answers) ends
# within this: PyMySQL's timeouts are per read, so a server that answers a
# byte at a time would hold a probe forever. Above MASTER_GTID_WAIT's 10 s
# (goals.caught_up) and a CHECKSUM TABLE of every table of a lab's data.
PROBE_DEADLINE_S = 30.0


def connect(address: str, user: str, password: str, database: str | None = None,
            timeout: float = 3.0, read_timeout: float = 10.0, *, defer: bool = False,
            ) -> pymysql.connections.Connection[Any]:
    """A connection to `address` (`defer`: made, not yet connected; `probe`
    connects it under its deadline)."""
    require_lab_route(address)
    # The lab's servers have no TLS (have_ssl DISABLED); without ssl_disabled
    # PyMySQL 1.2 builds a TLS context for every connection anyway (~0.1 s of CPU).
    return pymysql.connect(
        host=address, port=PORT, user=user, password=password, database=database,
        connect_timeout=timeout, read_timeout=read_timeout, write_timeout=read_timeout,
        cursorclass=pymysql.cursors.DictCursor, autocommit=True, ssl_disabled=True,
        defer_connect=defer,
    )


@contextlib.contextmanager
def within(conn: pymysql.connections.Connection[Any], seconds: float, address: str,
           ) -> Iterator[None]:
    """The block's use of `conn` ends within `seconds`: then its socket is
    shut from a timer, the read blocked on it fails and TimeoutError says so
    (a thread cannot be interrupted; PyMySQL's timeouts are per read)."""
    cut = threading.Event()

    def shut() -> None:
        cut.set()
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, shut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except (pymysql.err.Error, OSError) as exc:
        if cut.is_set():
            raise TimeoutError(f"{address}: no whole answer within {seconds:g} s") from exc
        raise
    finally:
        timer.cancel()


@contextlib.contextmanager
def probe(address: str, user: str, password: str,
          ) -> Iterator[pymysql.connections.Connection[Any]]:
    """A connection whose whole use, from connecting to closing, ends within
    PROBE_DEADLINE_S (`within`)."""
    conn = connect(address, user, password, defer=True)
    try:
        with within(conn, PROBE_DEADLINE_S, address):
            conn.connect()
            yield conn
    finally:
        with contextlib.suppress(pymysql.err.Error, OSError):
            conn.close()


def query(address: str, password: str, sql: str, user: str = "admin") -> list[dict[str, Any]]:
    """Rows of one statement, run as the lab's admin account."""
    with probe(address, user, password) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


@dataclass(frozen=True)
class MasterStatus:
    file: str
    position: int


def master_status(address: str, password: str) -> MasterStatus | None:
    """SHOW MASTER STATUS (F15): the binary log being written, or None."""
    rows = query(address, password, "SHOW MASTER STATUS")
    return MasterStatus(rows[0]["File"], int(rows[0]["Position"])) if rows else None


@dataclass(frozen=True)
class ReplicaStatus:
    """The fields of SHOW SLAVE STATUS the article points at (F15)."""

    master_host: str
    master_user: str
    connect_retry: int
    master_log_file: str
    io_running: str  # Yes, No, Connecting
    sql_running: str
    seconds_behind: int | None
    last_io_error: str
    last_sql_error: str
    using_gtid: str

    @property
    def running(self) -> bool:
        return self.io_running == "Yes" and self.sql_running == "Yes"


def replica_status(address: str, password: str) -> ReplicaStatus | None:
    rows = query(address, password, "SHOW SLAVE STATUS")
    if not rows:
        return None
    r = rows[0]
    behind = r.get("Seconds_Behind_Master")
    return ReplicaStatus(
        master_host=r["Master_Host"], master_user=r["Master_User"],
        connect_retry=int(r["Connect_Retry"]), master_log_file=r["Master_Log_File"],
        io_running=r["Slave_IO_Running"], sql_running=r["Slave_SQL_Running"],
        seconds_behind=None if behind is None else int(behind),
        last_io_error=r["Last_IO_Error"], last_sql_error=r["Last_SQL_Error"],
        using_gtid=str(r.get("Using_Gtid", "")),
    )


@dataclass(frozen=True)
class TableState:
    rows: int
    checksum: int


def user_databases(address: str, password: str) -> list[str]:
    """Every database a user may have made: all but the server's own."""
    names = ", ".join(f"'{n}'" for n in SYSTEM_SCHEMAS)
    rows = query(address, password, "SELECT schema_name AS name FROM "
                 f"information_schema.schemata WHERE schema_name NOT IN ({names}) ORDER BY 1")
    return [str(r["name"]) for r in rows]


def table_states(address: str, password: str) -> dict[str, TableState]:
    """Row count and CHECKSUM TABLE of every table of every user database,
    keyed `database.table`: a proof of "nothing lost" covers all the data a
    user may have, not only the lab's own foo."""
    with probe(address, "admin", password) as conn, conn.cursor() as cur:
        names = ", ".join(f"'{n}'" for n in SYSTEM_SCHEMAS)
        cur.execute("SELECT table_schema AS db, table_name AS t FROM information_schema.tables"
                    f" WHERE table_schema NOT IN ({names}) AND table_type = 'BASE TABLE'"
                    " ORDER BY 1, 2")
        tables = [(str(r["db"]), str(r["t"])) for r in cur.fetchall()]
        result = {}
        for db, t in tables:
            cur.execute(f"SELECT COUNT(*) AS n FROM `{db}`.`{t}`")
            rows = int(cur.fetchone()["n"])
            cur.execute(f"CHECKSUM TABLE `{db}`.`{t}`")
            result[f"{db}.{t}"] = TableState(rows, int(cur.fetchone()["Checksum"] or 0))
        return result


def replica_status_inside(lab: Any, host: str) -> dict[str, str]:
    """SHOW SLAVE STATUS read inside the host (docker exec, unix socket):
    works while the host is cut off the network. A failed read, or a server
    with no replication settings, raises: an empty answer is no status."""
    out = lab.exec(host, ["mariadb", "-e", "SHOW SLAVE STATUS\\G"], timeout=20)
    fields: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if out.returncode != 0 or "Slave_IO_Running" not in fields:
        raise LabError(f"no replica status on {host}", out.stderr or out.stdout or "empty")
    return fields
