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
from lab.probes import mysql, pages

DIRECT = "direct"  # a write sent straight to the master, not through a web server


@dataclass(frozen=True)
class Attempt:
    seq: int
    via: str  # web1, web2, web3 or direct
    ok: bool
    error: str
    at: float  # seconds since the workload started


@dataclass
class LedgerWriter:
    """Write numbered rows until stopped, `max_writes` or `max_seconds`."""

    lab: Lab
    writer: str  # tag in the writer column, one per scenario run
    via: Sequence[str] = ("web1", "web2", "web3", DIRECT)
    rate: float = 25.0  # writes per second, at most
    max_writes: int = 3000
    max_seconds: float = 180.0
    master: Callable[[], str] | None = None  # address for direct writes (default: db1 now)
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
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
            ok, error = self._write(seq, via)
            self.attempts.append(Attempt(seq, via, ok, error, started - self._t0))
            pause = 1 / self.rate - (time.monotonic() - started)
            if pause > 0:
                self._stop.wait(pause)

    def _write(self, seq: int, via: str) -> tuple[bool, str]:
        try:
            if via == DIRECT:
                return self._write_direct(seq)
            r = pages.fetch(self.lab.address_of(via),
                             f"/db.php?write=1&seq={seq}&writer={self.writer}", timeout=3)
            return (r.status == 200, "" if r.status == 200 else f"HTTP {r.status}")
        except Exception as exc:  # noqa: BLE001 - every failure is a recorded fact
            return False, f"{type(exc).__name__}: {exc}"[:200]

    def _write_direct(self, seq: int) -> tuple[bool, str]:
        address = self.master() if self.master else self.lab.address_of("db1")
        conn = mysql.connect(address, "app", self._password, "foo", timeout=2)
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO ledger (seq, writer, served_by) VALUES (%s, %s, %s)",
                            (seq, self.writer, DIRECT))
            return True, ""
        except pymysql.MySQLError as exc:
            return False, str(exc)[:200]
        finally:
            conn.close()
