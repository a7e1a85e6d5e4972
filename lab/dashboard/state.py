"""What the dashboard shows, as one JSON document, and the watcher that keeps
it fresh.

Two loops, each on its own thread and Lab object:
- the engine loop (every 0.5 s): each host's container state, the fault
  record (lab.drills.faults.active) and the event record
  (lab.model.events): cheap, so a stopped host shows within a second;
- the facts loop (about once a second): `lab_status`, the very probes of
  `foolab status` (each host's healthcheck run now: Docker runs it only
  once a minute), plus what each name server hands out for www. A host whose
  probes hang (a dropped network) slows only this loop.
Each time the document changes its version goes up; the server pushes it.
With nobody watching (no page open, no /api/state for 30 s) both loops slow
down to every `idle_every` seconds; a new viewer wakes them at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.admin.status import HostStatus, lab_status
from lab.drills import faults
from lab.engine.lab import HostState, Lab
from lab.model import events
from lab.model.topology import Role
from lab.probes import named

VIEW_STATES = ("healthy", "unhealthy", "stopped", "faulted")
EVENTS_SHOWN = 150


def view_state(status: str, health: str, fault: str = "") -> str:
    """A host's colour: faulted (a recorded fault on it) before anything else,
    then healthy (running and its healthcheck passes), unhealthy (running or
    paused but failing or starting) and stopped (exited, dead, missing)."""
    if fault:
        return "faulted"
    if status == "running":
        return "healthy" if health in ("healthy", "none") else "unhealthy"
    if status in ("paused", "restarting"):
        return "unhealthy"
    return "stopped"


@dataclass
class Facts:
    """The last result of the facts loop."""

    rows: dict[str, HostStatus]
    dns: dict[str, list[str]]  # name server -> addresses it hands out for www
    seconds: float  # how long the probes took


def _names(lab: Lab) -> dict[str, str]:
    """Address -> host name, for facts that name hosts by address."""
    return {h.address: h.name for h in lab.topology.hosts}


def load_now(lab: Lab, fresh_s: float = 3.0) -> dict[str, Any] | None:
    """Requests per second per web server while `foolab load` runs (its
    locustfile rewrites the tally each second), else None."""
    try:
        live = Path(json.loads(lab.config.load_marker.read_text())["live"])
        doc: dict[str, Any] = json.loads(live.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc if time.time() - float(doc.get("t", 0)) < fresh_s else None


def build(lab: Lab, states: dict[str, HostState] | None, facts: Facts | None,
          active: list[faults.Fault], log: list[events.Event], engine_error: str = "",
          load: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dashboard's document. `hosts` holds the rows of `foolab status
    --json` (state and health as fresh as the engine loop), each with its
    colour (`view`) and the faults on it (`fault`)."""
    up = bool(states) and any(s.status != "missing" for s in (states or {}).values())
    names = _names(lab)
    hosts: list[dict[str, Any]] = []
    for h in lab.topology.hosts:
        st = (states or {}).get(h.name)
        status, health = (st.status, st.health) if st else ("missing", "none")
        row = facts.rows.get(h.name) if facts else None
        if row and row.state == status:  # the check run by the facts loop, not Docker's old one
            health = row.health
        base = HostStatus(h.name, h.role.value, row.address if row else h.address, h.duty,
                          status, health, dict(row.facts) if row and status == "running"
                          else {})
        fault = "; ".join(f.describe() for f in active if f.host == h.name)
        hosts.append({**base.as_dict(), "view": view_state(status, health, fault),
                      "fault": fault})
    by_name = {d["name"]: d for d in hosts}
    replication = [
        {"replica": d["name"], "master": names.get(str(d["facts"]["replicates_from"]),
                                                   str(d["facts"]["replicates_from"])),
         "io": d["facts"].get("io"), "sql": d["facts"].get("sql"),
         "lag_s": d["facts"].get("lag_s")}
        for d in hosts if d["role"] == Role.DB.value and "replicates_from" in d["facts"]]
    binlog = {d["name"]: d["facts"]["binlog"] for d in hosts
              if d["role"] == Role.DB.value and "binlog" in d["facts"]}
    webs = {d["name"]: {"reads": d["facts"].get("reads_from"),
                        "writes": d["facts"].get("writes_to")}
            for d in hosts if d["role"] == Role.WEB.value}
    dns = {d["name"]: {"www": (facts.dns.get(d["name"]) if facts else None),
                       "serial": d["facts"].get("serial"), "mode": d["facts"].get("www")}
           for d in hosts if d["role"] == Role.DNS.value}
    shown = log[-EVENTS_SHOWN:]
    return {
        "lab": lab.config.project,
        "up": up,
        "engine": engine_error or "ok",
        "hosts": hosts,
        "replication": replication,
        "binlog": binlog,
        "webs": webs,
        "dns": dns,
        "faults": [{"host": f.host, "kind": f.kind, "text": f.describe()} for f in active],
        "events": [e.as_dict() for e in shown],
        "intervals": [vars(i) for i in events.intervals(log)],
        "load": load,
        "probe_s": round(facts.seconds, 2) if facts else None,
        "healthy": sum(1 for d in by_name.values() if d["view"] == "healthy"),
    }


def probe_facts(lab: Lab) -> Facts:
    """One round of the probes of `foolab status`, and www on each name server."""
    t0 = time.monotonic()
    rows = {r.name: r for r in lab_status(lab)}
    dns: dict[str, list[str]] = {}
    for h in lab.topology.by_role(Role.DNS):
        if rows[h.name].state == "running":
            try:
                dns[h.name] = list(named.ask(rows[h.name].address, timeout=1.0).records)
            except Exception:  # noqa: BLE001 - a name server that does not answer has no list
                dns[h.name] = []
    return Facts(rows, dns, time.monotonic() - t0)


class Watcher:
    """Keeps the document fresh on two threads; `latest()` reads it."""

    def __init__(self, lab: Lab, every: float = 0.5, facts_every: float = 1.0,
                 idle_every: float = 5.0) -> None:
        self.lab = lab
        self.every, self.facts_every, self.idle_every = every, facts_every, idle_every
        self.viewers = 0  # pages connected to the event stream
        self._seen = 0.0  # when /api/state was last asked for
        self._wakes: list[threading.Event] = []
        self._rounds = [0.0, 0.0]  # when each loop last finished a round (monotonic)
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._version = 0
        self._doc: dict[str, Any] = build(lab, None, None, [], [], "starting")
        self._key = ""
        self._states: dict[str, HostState] | None = None
        self._engine_error = "starting"
        self._facts: Facts | None = None
        self._active: list[faults.Fault] = []
        self._log: list[events.Event] = []
        self._log_stamp: tuple[float, int] = (0.0, 0)
        self._load: dict[str, Any] | None = None
        self._threads: list[threading.Thread] = []

    # -- reading --

    def watched(self) -> bool:
        return self.viewers > 0 or time.monotonic() - self._seen < 30

    def touch(self) -> None:
        """Someone looks: poll at full speed (now, and for the next 30 s)."""
        self._seen = time.monotonic()
        for wake in self._wakes:
            wake.set()

    def latest(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return self._version, self._doc

    def current(self, timeout: float = 5.0) -> dict[str, Any]:
        """The document as of now: when a loop has been slow (nobody was
        watching), wake both and wait for a round of each that began after
        this call (at most `timeout` seconds)."""
        asked = time.monotonic()
        if min(self._rounds) > asked - 2 * max(self.every, self.facts_every):
            return self.latest()[1]
        self.touch()
        with self._lock:
            self._lock.wait_for(lambda: min(self._rounds) > asked or self._stop.is_set(),
                                timeout=timeout)
            return self._doc

    def wait_newer(self, version: int, timeout: float) -> tuple[int, dict[str, Any]]:
        """Block until the version passes `version` (or the timeout)."""
        with self._lock:
            self._lock.wait_for(lambda: self._version > version or self._stop.is_set(),
                                timeout=timeout)
            return self._version, self._doc

    # -- the loops --

    def start(self) -> None:
        self._stop.clear()
        facts_lab = Lab(self.lab.config)  # its own docker client calls, its own thread
        self._wakes = [threading.Event(), threading.Event()]
        self._threads = [
            threading.Thread(target=self._loop, args=(self._engine_round, self.every, 0),
                             name="dashboard-engine", daemon=True),
            threading.Thread(target=self._loop, args=(lambda: self._facts_round(facts_lab),
                                                      self.facts_every, 1),
                             name="dashboard-facts", daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for wake in self._wakes:
            wake.set()
        with self._lock:
            self._lock.notify_all()
        for t in self._threads:
            t.join(timeout=10)

    def _loop(self, round_: Callable[[], None], every: float, index: int) -> None:
        wake = self._wakes[index]
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                round_()
            except Exception as exc:  # noqa: BLE001 - the page says what failed and goes on
                self._engine_error = f"{type(exc).__name__}: {exc}"[:200]
            self._publish(index, t0)
            pause = every if self.watched() else self.idle_every
            wake.wait(max(0.05, pause - (time.monotonic() - t0)))
            wake.clear()

    def _engine_round(self) -> None:
        try:
            self._states = self.lab.states()
            self._engine_error = ""
        except Exception as exc:  # noqa: BLE001 - the engine went away: the lab is down
            self._states, self._engine_error = None, str(exc)[:200]
        self._active = faults.active(self.lab)
        self._load = load_now(self.lab)
        file = events.path(self.lab.config.state_dir)
        stamp = (file.stat().st_mtime, file.stat().st_size) if file.exists() else (0.0, 0)
        if stamp != self._log_stamp:  # read the record again only when it changed
            self._log, self._log_stamp = events.read(self.lab.config.state_dir), stamp

    def _facts_round(self, lab: Lab) -> None:
        states = self._states
        if not states or all(s.status == "missing" for s in states.values()):
            self._facts = None
            return
        self._facts = probe_facts(lab)

    def _publish(self, index: int, began: float) -> None:
        doc = build(self.lab, self._states, self._facts, self._active, self._log,
                    self._engine_error, self._load)
        key = json.dumps({k: v for k, v in doc.items() if k != "probe_s"}, sort_keys=True,
                         default=str)
        with self._lock:
            self._rounds[index] = began
            if key != self._key:
                self._key, self._doc = key, doc
                self._version += 1
            self._lock.notify_all()
