"""Workloads (Jepsen's generators): numbered writes whose fate is recorded.

A LedgerWriter runs in a thread and writes rows with increasing sequence
numbers to foo.ledger, in turn through the web servers (/db.php?write=1) and
straight to the master (MySQL protocol, the web application's account). It
records which writes were acknowledged; the ledger verdict (lab.verdicts)
later compares that with what the database holds. Bounded in count and time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import pymysql

from lab.engine.lab import Lab
from lab.model import article
from lab.probes import mysql, pages

DIRECT = "direct"  # a write sent straight to the master, not through a web server


# Jepsen's three outcomes of a write: acknowledged; failed, so it cannot have
# happened (no connection was made); or indeterminate, when the client gave up
# waiting for the answer (a timeout, a connection lost mid-statement): such a
# write may or may not be in the database, and the verdict must allow both.
OK, FAILED, INDETERMINATE = "ok", "failed", "indeterminate"


@dataclass(frozen=True)
class Attempt:
    seq: int
    via: str  # web1, web2, web3 or direct
    outcome: str  # OK, FAILED or INDETERMINATE
    error: str
    at: float  # seconds since the workload started
    took: float = 0.0  # seconds until the answer (or the give-up)

    @property
    def ok(self) -> bool:
        return self.outcome == OK


# Errors after which the write may still have been applied: the statement was
# sent, the answer never came. MySQL client errors 2006/2013 and timeouts; the
# web application reports them as a 503 whose error says so.
_UNSURE = ("timed out", "timeout", "Lost connection", "gone away", "2013", "2006",
           "RemoteDisconnected", "reset by peer", "IncompleteRead", "BadStatusLine")


# Errors before the statement was sent: no connection to the database (or to
# the web server) was made, so the write cannot have happened.
_NEVER_SENT = ("connect:", "Connection refused", "No route to host", "Connection timed out",
               "Can't connect", "(2002", "(2003", "Host is unreachable")


def outcome_of(error: str) -> str:
    """OK for no error; FAILED when the write cannot have been applied;
    INDETERMINATE when the error leaves its fate open."""
    if not error:
        return OK
    if any(n.lower() in error.lower() for n in _NEVER_SENT):
        return FAILED
    return INDETERMINATE if any(u.lower() in error.lower() for u in _UNSURE) else FAILED


@dataclass
class LedgerWriter:
    """Write numbered rows until stopped, `max_writes` or `max_seconds`."""

    lab: Lab
    writer: str  # tag in the writer column, one per scenario run
    via: Sequence[str] = ()  # web servers and DIRECT, in turn (default: every web, DIRECT)
    rate: float = 25.0  # writes per second, at most
    max_writes: int = 3000
    max_seconds: float = 180.0
    master: Callable[[], str] | None = None  # direct writes' address (default: the master's)
    timeout: float = 3.0  # seconds a write may take before the client gives up
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.via = tuple(self.via) or (*self.lab.topology.webs, DIRECT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ledger-{self.writer}",
                                        daemon=True)
        self._password = self.lab.secrets().get("APP_PASSWORD", "")

    # -- lifecycle --

    def __enter__(self) -> LedgerWriter:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    # -- what happened --

    @property
    def attempted(self) -> list[int]:
        return [a.seq for a in self.attempts]

    @property
    def acknowledged(self) -> list[int]:
        return [a.seq for a in self.attempts if a.ok]

    @property
    def indeterminate(self) -> list[int]:
        return [a.seq for a in self.attempts if a.outcome == INDETERMINATE]

    @property
    def failed(self) -> list[int]:
        return [a.seq for a in self.attempts if a.outcome == FAILED]

    def acknowledged_since(self, t: float) -> int:
        return sum(1 for a in self.attempts if a.ok and a.at >= t)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def stored(self, address: str, admin_password: str) -> list[int]:
        """Sequence numbers of this writer's rows found at `address`."""
        rows = mysql.query(address, admin_password,
                            f"SELECT seq FROM foo.ledger WHERE writer = '{self.writer}'")
        return [int(r["seq"]) for r in rows]

    # -- the loop --

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set() and seq < self.max_writes:
            if self.elapsed() > self.max_seconds:
                break
            seq += 1
            via = self.via[seq % len(self.via)]
            started = time.monotonic()
            error = self._write(seq, via)
            self.attempts.append(Attempt(seq, via, outcome_of(error), error,
                                         started - self._t0, time.monotonic() - started))
            pause = 1 / self.rate - (time.monotonic() - started)
            if pause > 0:
                self._stop.wait(pause)

    def _write(self, seq: int, via: str) -> str:
        """One write; "" when acknowledged, else what went wrong."""
        try:
            if via == DIRECT:
                return self._write_direct(seq)
            r = pages.fetch(self.lab.address_of(via),
                            f"/db.php?write=1&seq={seq}&writer={self.writer}",
                            timeout=self.timeout)
            if r.status == 200:
                return ""
            return f"HTTP {r.status}: {r.body.strip()[:160]}"
        except Exception as exc:  # noqa: BLE001 - every failure is a recorded fact
            return f"{type(exc).__name__}: {exc}"[:200]

    def _write_direct(self, seq: int) -> str:
        address = self.master() if self.master else self.lab.address_of(
            self.lab.topology.master)
        try:
            conn = mysql.connect(address, "app", self._password, article.APP_DATABASE,
                                 timeout=2, read_timeout=self.timeout)
        except pymysql.MySQLError as exc:
            return f"connect: {exc}"[:200]  # never sent: FAILED unless it timed out
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO ledger (seq, writer, served_by) VALUES (%s, %s, %s)",
                            (seq, self.writer, DIRECT))
            return ""
        except pymysql.MySQLError as exc:
            return str(exc)[:200]
        finally:
            conn.close()
