"""One probe loop for the whole class, whatever the number of pages open.

The dashboard's watcher runs each host's healthcheck and a new MySQL
connection per fact every second: 11 % of a core for one lab. A class of
24 cannot afford that per page, nor per lab. Here one thread, for every lab:
- each second, one engine call (per node holding labs: a class over a
  cluster) lists every class container with its state
  and Docker's health (a host whose check Docker has not run since its start
  is probed now, every few seconds, until Docker has a verdict);
- every REPLICATION_EVERY_S per lab, SHOW SLAVE STATUS on the replica over a
  connection kept open (made inside the lab's network namespace once);
- the lab's own files: faults, exercise, events, the last self-check.
Pages read `doc(lab)` and `rows()`; versions tell them what changed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pymysql

from lab.classweb import grades
from lab.dashboard.state import view_state
from lab.drills import faults
from lab.engine import cgroups, client, revive
from lab.engine.lab import Lab
from lab.engine.ready import probe
from lab.exercises import grader
from lab.hosts.mariadb import admin_password
from lab.model import cluster, events
from lab.model.config import LabConfig
from lab.model.errors import LabError
from lab.probes import mysql

EVERY_S = 1.0
REPLICATION_EVERY_S = 5.0
ANSWER_S = 2.0  # a replica's whole answer (connect, or SHOW SLAVE STATUS), at most
EVENTS_SHOWN = 20
# What a student is not sent: a fault's kind is how an exercise broke the lab
# (its variant: kill or stop, ...), and the seed gives every parameter away
# (definitions.rng); the teacher's grid keeps both.
NOT_FOR_STUDENTS = (events.FAULT_INJECTED, events.FAULT_HEALED)
SEED_SAID = re.compile(r"\s*\(seed [^)]*\)")  # grader.start's "exercise X started (seed S)"


@dataclass
class LabWatch:
    """What the loop keeps per lab between rounds."""

    lab: Lab
    student: str
    doc: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the document as JSON: what a round compares against
    version: int = 0
    replication: dict[str, Any] | None = None
    replication_at: float = 0.0
    conn: Any = None  # pymysql connection to the replica, made inside the lab
    probed: dict[str, tuple[float, str]] = field(default_factory=dict)  # host -> (when, health)
    events_stamp: tuple[float, int] = (0.0, 0)
    events: list[dict[str, Any]] = field(default_factory=list)
    activity: float = 0.0  # when the student last did something (this server saw it)
    placement: cluster.Placement | None = None  # its node, read again each round
    shown: dict[str, Any] = field(default_factory=dict)  # for_student(doc), made ...
    shown_version: int = -1  # ... for this version of doc


def _health(summary: str) -> str:
    """Docker's health from `docker ps`'s Status ("Up 2 minutes (healthy)")."""
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in summary:
            return "starting" if word.endswith("starting") else word
    return "none"


class ClassWatch:
    """Keeps a document per lab fresh on one thread."""

    def __init__(self, base: LabConfig, students: dict[str, str]) -> None:
        self.labs = {name: LabWatch(Lab(base.for_lab(name)), student)
                     for name, student in sorted(students.items())}
        self.version = 0  # the class's: goes up when any lab's document changes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error = ""
        for w in self.labs.values():
            w.doc = self._build(w, {}, None)

    # -- reading --

    def doc(self, lab: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            w = self.labs[lab]
            return w.version, w.doc

    def student_doc(self, lab: str) -> tuple[int, dict[str, Any]]:
        """The document a student's page is sent: doc(lab) without what
        would give the exercise away (for_student)."""
        with self._lock:
            w = self.labs[lab]
            if w.shown_version != w.version:  # once per change, not per page's look
                w.shown, w.shown_version = for_student(w.doc), w.version
            return w.version, w.shown

    def rows(self) -> tuple[int, list[dict[str, Any]]]:
        """The teacher's grid: each lab's document without its event list."""
        with self._lock:
            return self.version, [{k: v for k, v in w.doc.items() if k != "events"}
                                  for w in self.labs.values()]

    def note_activity(self, lab: str) -> None:
        self.labs[lab].activity = time.time()

    # -- the loop --

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="class-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for w in self.labs.values():
            _close(w)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self.round()
            self._stop.wait(max(0.05, EVERY_S - (time.monotonic() - t0)))

    def _listed(self) -> tuple[dict[str, dict[str, tuple[str, str]]], dict[str, str]]:
        """Every class container, one engine call per engine (this machine's
        and each node's holding a lab): lab -> container -> (state, health);
        and the labs whose node does not answer, with the node."""
        by_engine: dict[str | None, list[LabWatch]] = {}
        for w in self.labs.values():
            w.placement = cluster.Placement.load(w.lab.config.state_dir)
            by_engine.setdefault(w.placement.engine if w.placement else None, []).append(w)
        by_lab: dict[str, dict[str, tuple[str, str]]] = {}
        lost: dict[str, str] = {}
        self.error = ""
        for engine, held in by_engine.items():
            try:
                with client.engine(engine):
                    listed = client.class_containers()
            except LabError as exc:
                if engine is None:
                    self.error = str(exc)
                lost.update({w.lab.config.lab: w.placement.node for w in held
                             if engine is not None and w.placement})
                continue
            for c in listed:
                labels = c.get("Labels") or {}
                name = str(c["Names"][0]).lstrip("/")
                by_lab.setdefault(str(labels.get("org.foolab.class", "")), {})[name] = (
                    str(c.get("State", "")), _health(str(c.get("Status", ""))))
        return by_lab, lost

    def round(self) -> None:
        """One look at every lab."""
        by_lab, lost = self._listed()
        for name, w in self.labs.items():
            try:
                with client.engine(w.placement.engine if w.placement else None):
                    doc = self._build(w, by_lab.get(name, {}),
                                      self._replication(w, by_lab.get(name)))
                doc.update(node=w.placement.node if w.placement else "", lost=name in lost)
            except Exception as exc:  # noqa: BLE001 - one lab's trouble is shown, not fatal
                doc = {**w.doc, "error": f"{type(exc).__name__}: {exc}"[:200]}
            key = json.dumps(doc, sort_keys=True, default=str)
            if key != w.key:
                with self._lock:
                    w.doc, w.key, w.version = doc, key, w.version + 1
                    self.version += 1

    def _health_now(self, w: LabWatch, container: str, docker_health: str) -> str:
        """Docker's verdict; while it has none yet ("starting": its first
        check is a minute away), the healthcheck run here every few seconds."""
        if docker_health != "starting":
            w.probed.pop(container, None)
            return docker_health
        when, seen = w.probed.get(container, (0.0, "starting"))
        if time.monotonic() - when >= REPLICATION_EVERY_S:
            seen = "healthy" if probe(container).ok else "starting"
            w.probed[container] = (time.monotonic(), seen)
        return seen

    def _replication(self, w: LabWatch, containers: dict[str, tuple[str, str]] | None,
                     ) -> dict[str, Any] | None:
        topo = w.lab.topology
        replica = topo.host(topo.replica)
        if not containers or containers.get(replica.container, ("", ""))[0] != "running":
            _close(w)
            return None
        if time.monotonic() - w.replication_at < REPLICATION_EVERY_S:
            return w.replication
        w.replication_at = time.monotonic()
        names = {h.address: h.name for h in topo.hosts}
        try:
            if w.conn is None:
                with w.lab.network():
                    conn = pymysql.connect(host=replica.address, user="admin",
                                           password=admin_password(w.lab), connect_timeout=2,
                                           read_timeout=3, write_timeout=3, autocommit=True,
                                           cursorclass=pymysql.cursors.DictCursor,
                                           defer_connect=True)
                    with mysql.within(conn, ANSWER_S, replica.name):
                        conn.connect()
                    w.conn = conn
            # one thread looks at every lab: a replica that answers a byte at
            # a time holds it ANSWER_S at most, then its connection goes
            with mysql.within(w.conn, ANSWER_S, replica.name), w.conn.cursor() as cur:
                cur.execute("SHOW SLAVE STATUS")
                r = cur.fetchone()
        except (LabError, OSError, pymysql.MySQLError) as exc:
            _close(w)
            w.replication = {"replica": replica.name, "error": str(exc).splitlines()[0][:100]}
            return w.replication
        w.replication = None if not r else {
            "replica": replica.name, "master": names.get(r["Master_Host"], r["Master_Host"]),
            "io": r["Slave_IO_Running"], "sql": r["Slave_SQL_Running"],
            "lag_s": r["Seconds_Behind_Master"],
            "error": (r["Last_IO_Error"] or r["Last_SQL_Error"] or "")[:160]}
        return w.replication

    def _build(self, w: LabWatch, containers: dict[str, tuple[str, str]],
               replication: dict[str, Any] | None) -> dict[str, Any]:
        lab = w.lab
        active = faults.active(lab)
        hosts = []
        revive.in_background(lab.config, [h.name for h in lab.topology.hosts if containers.get(
            h.container, ("missing", ""))[0] == "exited"])  # one its memory bound ended
        for h in lab.topology.hosts:
            status, health = containers.get(h.container, ("missing", "none"))
            if status == "running":
                health = self._health_now(w, h.container, health)
            fault = "; ".join(f.describe() for f in active if f.host == h.name)
            hosts.append({"name": h.name, "role": h.role.value, "address": h.address,
                          "status": status, "health": health, "fault": fault,
                          "view": view_state(status, health, fault)})
        file = events.path(lab.config.state_dir)
        stamp = (file.stat().st_mtime, file.stat().st_size) if file.exists() else (0.0, 0)
        if stamp != w.events_stamp:
            w.events_stamp = stamp
            w.events = [e.as_dict() for e in events.read(lab.config.state_dir)[-EVENTS_SHOWN:]]
        started = grader.running(lab)
        last_event = float(w.events[-1].get("t", 0) or 0) if w.events else 0.0
        return {
            "lab": lab.config.lab, "student": w.student, "up": bool(containers),
            "hosts": hosts, "healthy": sum(h["view"] == "healthy" for h in hosts),
            "of": len(hosts), "replication": replication,
            "faults": [f.describe() for f in active],
            "oom": cgroups.oom_kills(lab.config, lab.engine),  # processes its memory bound ended
            "exercise": started.exercise if started else "",
            "goals": grades.last_check(lab.config, started) if started else None,
            "activity": max(w.activity, last_event) or None, "events": w.events,
        }


def for_student(doc: dict[str, Any]) -> dict[str, Any]:
    """A lab's document without faults (its hosts drawn from what they do,
    not from what was done to them), fault events, or seeds in event lines."""
    hosts = [{**h, "fault": "", "view": view_state(h["status"], h["health"])}
             for h in doc.get("hosts", [])]
    shown = [{**e, "text": SEED_SAID.sub("", str(e.get("text", "")))}
             for e in doc.get("events", []) if e.get("kind") not in NOT_FOR_STUDENTS]
    return {**doc, "hosts": hosts, "faults": [], "events": shown}


def _close(w: LabWatch) -> None:
    if w.conn is not None:
        try:
            w.conn.close()
        except Exception:  # noqa: BLE001, S110 - a connection already gone
            pass
        w.conn = None
