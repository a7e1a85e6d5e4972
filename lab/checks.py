"""Checks: facts read through the real clients, never printed here.

DNS through dnspython, MySQL through PyMySQL, HTTP through http.client,
all from this machine to the lab's addresses, and only after the driver has
checked that the address routes to the lab's bridge.
"""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pymysql
import pymysql.cursors

from lab import balancer
from lab.driver import LabError, require_lab_route

ZONE = "foo.com"
WWW = "www.foo.com"


# --- DNS ------------------------------------------------------------------------


@dataclass(frozen=True)
class DnsAnswer:
    """One answer of one name server, as dig would show it."""

    server: str
    name: str
    rcode: str
    authoritative: bool
    records: tuple[str, ...]  # in the order the server gave them
    ttl: int | None


def ask(server: str, name: str = WWW, rdtype: str = "A", timeout: float = 2.0) -> DnsAnswer:
    """Ask `server` one question over UDP, without recursion (like dig +norec)."""
    require_lab_route(server)
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    reply = dns.query.udp(query, server, timeout=timeout)
    records: list[str] = []
    ttl: int | None = None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            ttl = rrset.ttl
            records.extend(r.to_text() for r in rrset)
    return DnsAnswer(
        server=server,
        name=name,
        rcode=dns.rcode.to_text(reply.rcode()),
        authoritative=bool(reply.flags & dns.flags.AA),
        records=tuple(records),
        ttl=ttl,
    )


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


def soa(server: str, zone: str = ZONE) -> Soa | None:
    """The zone's SOA as `server` answers it, or None if it has no zone."""
    ans = ask(server, zone, "SOA")
    if not ans.records:
        return None
    mname, rname, *nums = ans.records[0].split()
    serial, refresh, retry, expire, minimum = (int(n) for n in nums)
    return Soa(mname, rname, serial, refresh, retry, expire, minimum)


# --- MySQL ------------------------------------------------------------------------


def connect(address: str, user: str, password: str, database: str | None = None,
            timeout: float = 3.0) -> pymysql.connections.Connection[Any]:
    require_lab_route(address)
    return pymysql.connect(
        host=address, user=user, password=password, database=database,
        connect_timeout=timeout, read_timeout=10, write_timeout=10,
        cursorclass=pymysql.cursors.DictCursor, autocommit=True,
    )


def query(address: str, password: str, sql: str, user: str = "admin") -> list[dict[str, Any]]:
    """Rows of one statement, run as the lab's admin account."""
    conn = connect(address, user, password)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


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


# --- HTTP -------------------------------------------------------------------------


@dataclass(frozen=True)
class WebResponse:
    status: int
    served_by: str | None  # the X-Served-By header every lab response carries
    body: str
    cookie: str | None
    cookies: tuple[str, ...] = ()  # every Set-Cookie's name=value (the balancer adds one)

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(address: str, path: str = "/light.php", *, host_header: str = WWW,
          cookie: str | None = None, timeout: float = 5.0) -> WebResponse:
    """GET a page from one web server, as a browser that resolved www.foo.com
    to `address` would."""
    require_lab_route(address)
    conn = http.client.HTTPConnection(address, 80, timeout=timeout)
    try:
        headers = {"Host": host_header}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        set_cookie = resp.getheader("Set-Cookie")
        every = tuple(c.split(";", 1)[0].strip() for c in resp.msg.get_all("Set-Cookie") or ())
        return WebResponse(resp.status, resp.getheader("X-Served-By"), body,
                           set_cookie.split(";", 1)[0] if set_cookie else None, every)
    finally:
        conn.close()


def balancer_stats(address: str, password: str | None, *, timeout: float = 3.0
                   ) -> list[dict[str, str]]:
    """HAProxy's statistics of lb as CSV rows, read from its stats page with
    the lab's password (None: without one, to see it refused)."""
    require_lab_route(address)
    conn = http.client.HTTPConnection(address, balancer.STATS_PORT, timeout=timeout)
    try:
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{balancer.STATS_USER}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        conn.request("GET", f"{balancer.STATS_PATH};csv", headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        if resp.status != 200:
            raise LabError(f"lb's statistics page answered {resp.status} {resp.reason}")
        return balancer.parse_stats_csv(body)
    finally:
        conn.close()


# --- consistency of the two databases, content of the three web roots -----------


@dataclass(frozen=True)
class TableState:
    rows: int
    checksum: int


def table_states(address: str, password: str, database: str = "foo") -> dict[str, TableState]:
    """Row count and CHECKSUM TABLE of every table of `database`."""
    conn = connect(address, "admin", password, database)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = [next(iter(r.values())) for r in cur.fetchall()]
            result = {}
            for t in tables:
                cur.execute(f"SELECT COUNT(*) AS n FROM `{t}`")
                rows = int(cur.fetchone()["n"])
                cur.execute(f"CHECKSUM TABLE `{t}`")
                result[t] = TableState(rows, int(cur.fetchone()["Checksum"] or 0))
            return result
    finally:
        conn.close()


def web_root_digests(lab: Any, web: str) -> dict[str, str]:
    """md5 of every file under a web server's /var/www, by path."""
    out = lab.sh(web, "cd /var/www && find . -type f -print0 | sort -z | xargs -0 -r md5sum")
    digests = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        digests[path] = digest
    return digests


def replica_status_inside(lab: Any, host: str) -> dict[str, str]:
    """SHOW SLAVE STATUS read inside the host (docker exec, unix socket):
    works while the host is cut off the network."""
    out = lab.exec(host, ["mariadb", "-e", "SHOW SLAVE STATUS\\G"], timeout=20)
    fields: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields
