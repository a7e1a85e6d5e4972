"""Recoveries replayed while Locust measures (issue 13): `foolab load
--during NAME` runs the visitors through one of the lab's faults and its
documented recovery, and notes when each phase began and ended.

- web-down: web2 stopped, then started again (faults "stop");
- replica-cut: db2 cut off the network, healed, and replication checked
  (runbook check-replication: a row written on db1 seen on db2);
- master-killed: db1 killed (power loss), db2 promoted by the runbook
  promote-replica (web servers pointed at db2; db2 keeps its address so
  that reads through web2/web3 go on); afterwards, outside the measured
  window, the article's roles are restored (lab.drills.roles).

Faults are always healed in a finally (faults.injected); every wait is
bounded. The report (lab/load/timeline.py) plots requests and failures per
web server per second with these phases shaded and named, Locust's
response times below them (lab/load/latency.py) and the requests in flight
per web server; its table and verdict per phase (before, fault, recovery,
aftermath, steady) come from every request's own timing (lab/load/phases.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lab.drills import faults, runbooks
from lab.drills.faults import Fault
from lab.drills.roles import restore_article_roles
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts import apache
from lab.load.generator import GRACE_S, LoadGen
from lab.load.latency import HISTORY_FILE, Latency, latency_history
from lab.load.phases import PhaseRow, Sample, Stretch, phase_rows, samples_of, stretches
from lab.load.settings import RunSettings
from lab.load.summary import RunData, RunSummary, summarize
from lab.model.errors import LabError

# Visitors alone before the fault: long enough for the level just before it to be
# the lab's, not the visitors' arrival (all at once; with keep-alive on, 30 of them
# took Apache ~11 s to settle, issue 23).
WARM_S = 12.0
HOLD_S = 8.0  # how long a fault lasts before its recovery starts (the admin noticing)
TAIL_S = 6.0  # visitors after the recovery, before they stop
WRITE_PAGE = "/db.php?write=1"
READ_PAGE = "/db.php"


@dataclass(frozen=True)
class Phase:
    """A stretch of the run: the fault, or one recovery step."""

    name: str
    kind: str  # "fault", "recovery" (a step that runs a command) or "check" (a runbook step
    #           with a check only: the aftermath is measured from the last recovery on)
    start_s: float  # seconds since the visitors started (Locust's second 0)
    end_s: float


@dataclass(frozen=True)
class DuringRun:
    """One load run through a fault and its recovery."""

    name: str
    summary: RunSummary
    phases: tuple[Phase, ...]
    rows: tuple[tuple[int, str, str, str, int], ...]  # second, server, page, ok|fail, n
    note: str = ""
    latency: tuple[Latency, ...] = ()  # Locust's response times through the run
    samples: tuple[Sample, ...] = ()  # every request's own timing (lab/load/phases.py)
    keep_alive: bool = False  # run with Apache's keep-alive on (issue 23's cause put back)

    def failures(self, server: str | None = None, page: str | None = None
                 ) -> list[tuple[int, int]]:
        """(second, failed requests) where any failed, optionally of one server or page."""
        out: dict[int, int] = {}
        for second, srv, pg, outcome, n in self.rows:
            if outcome == "fail" and server in (None, srv) and page in (None, pg):
                out[second] = out.get(second, 0) + n
        return sorted(out.items())

    @property
    def error_window(self) -> tuple[int, int] | None:
        """First and last second in which visitors saw a failure."""
        seconds = [s for s, _ in self.failures()]
        return (min(seconds), max(seconds)) if seconds else None

    @property
    def stretches(self) -> tuple[Stretch, ...]:
        """before, fault, recovery, aftermath, steady (lab/load/phases.py)."""
        return stretches(self.phases, float(self.summary.settings.duration_s))

    @property
    def phase_rows(self) -> tuple[PhaseRow, ...]:
        """The stretches' figures per web server and over all of them."""
        return phase_rows(self.samples, self.stretches, [s.name for s in self.summary.servers])

    def phase(self, name_part: str) -> Phase:
        for p in self.phases:
            if name_part in p.name:
                return p
        raise KeyError(name_part)


class Marks:
    """Phases noted in Unix time while the run goes; seconds since the
    visitors started once Locust says when that was."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, float, float]] = []

    @contextmanager
    def phase(self, name: str, kind: str = "recovery") -> Iterator[None]:
        t0 = time.time()
        try:
            yield
        finally:
            self.spans.append((name, kind, t0, time.time()))

    def relative(self, started: float) -> tuple[Phase, ...]:
        return tuple(Phase(n, k, round(a - started, 2), round(b - started, 2))
                     for n, k, a, b in self.spans)


def web_down(lab: Lab, marks: Marks, host: str | None = None) -> None:
    """A web server stopped and started (default: web2, the first that only
    receives content: the push from the content source goes on)."""
    host = host or lab.topology.content_targets[0]
    with marks.phase(f"{host} stopped", "fault"):
        with faults.injected(lab, Fault("stop", host), wait_healthy=0):
            time.sleep(HOLD_S)  # the outage itself: a deliberate length, not a wait
    with marks.phase(f"{host} started, until healthy"):
        wait_for(f"{host} healthy", lambda: lab.ready(host), timeout=90)  # now, not the
        # engine's last check (once a minute)


def replica_cut(lab: Lab, marks: Marks, host: str | None = None) -> None:
    """The replica (default: the topology's) cut off from the network, then
    the article's replication checks."""
    host = host or lab.topology.replica
    with marks.phase(f"{host} cut off", "fault"):
        with faults.injected(lab, Fault("cut", host), wait_healthy=0):
            time.sleep(HOLD_S)
    with marks.phase(f"{host} reconnected, until healthy"):
        wait_for(f"{host} healthy", lambda: lab.ready(host), timeout=90)  # now, not the
        # engine's last check (once a minute)
    _runbook(lab, marks, runbooks.check_replication(lab))


def master_killed(lab: Lab, marks: Marks) -> None:
    master = lab.topology.master
    with marks.phase(f"{master} killed", "fault"):
        faults.inject(lab, Fault("kill", master))
        wait_for(f"{master} down", lambda: lab.states()[master].status != "running",
                 timeout=30)
        # Before anyone promotes db2: without it the runbook (about 1 s) can end
        # before a single visitor wrote (seen in CI: no write failed at all).
        time.sleep(HOLD_S)
    # The fault stays until the roles are restored after the run: db1 is the
    # dead master the runbook works around.
    _runbook(lab, marks, runbooks.promote_replica(lab, take_address=False))


def _runbook(lab: Lab, marks: Marks, book: runbooks.Runbook) -> None:
    """Run a runbook; each step a phase of the timeline (from its own timing)."""

    def note(done: runbooks.StepResult) -> None:
        end = time.time()
        kind = "recovery" if done.step.command else "check"
        marks.spans.append((f"{book.name}: {done.step.title}", kind,
                            end - done.seconds, end))

    failed = runbooks.execute(lab, book, note).failed
    if failed is not None:
        raise LabError(f"runbook {book.name} failed at {failed.step.title!r}",
                       failed.checked or failed.output)


PLANS: dict[str, Callable[[Lab, Marks], None]] = {
    "web-down": web_down,
    "replica-cut": replica_cut,
    "master-killed": master_killed,
}


def check_name(name: str) -> str:
    if name not in PLANS:
        raise LabError(f"unknown --during {name!r}", hint=f"one of {', '.join(PLANS)}")
    return name


@contextmanager
def keep_alive_on(lab: Lab) -> Iterator[None]:
    """Apache's keep-alive on every web server for the block, then off as the
    image has it: the cause of issue 23's dip, put back for one run."""
    try:
        for web in lab.topology.webs:
            apache.keep_alive(lab, web, True)
        yield
    finally:
        for web in lab.topology.webs:
            apache.keep_alive(lab, web, False)


def run_during(gen: LoadGen, settings: RunSettings, name: str, out: Path,
               keep_alive: bool = False) -> DuringRun:
    """Visitors (Locust, as in `foolab load`) through fault `name` and its
    recovery. The fault begins WARM_S after the visitors; the run lasts
    settings.duration_s, which should cover the recovery and TAIL_S more
    (the report says when it did not). `keep_alive`: with Apache's
    keep-alive on, as before issue 23."""
    if keep_alive:
        with keep_alive_on(gen.lab):
            return replace(run_during(gen, settings, name, out), keep_alive=True)
    lab = gen.lab
    plan = PLANS[check_name(name)]
    result: dict[str, RunData] = {}
    errors: list[BaseException] = []

    def visitors() -> None:
        try:
            result["run"] = gen.run_load(settings, out)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    live = out / "live.json"
    live.unlink(missing_ok=True)
    thread = threading.Thread(target=visitors, daemon=True)
    thread.start()
    marks = Marks()
    try:
        wait_for("visitors started", lambda: live.exists() or not thread.is_alive(), timeout=120)
        if not errors:
            time.sleep(WARM_S)  # visitors before the fault: a deliberate length
            gen.progress(f"during: {name}")
            plan(lab, marks)
            gen.progress(f"during: {name} recovered")
    finally:
        thread.join(timeout=settings.duration_s + GRACE_S + 60)
        if name == "master-killed":
            gen.progress(f"restoring the article's roles ({lab.topology.master} master, "
                         f"{lab.topology.replica} replica)")
            restore_article_roles(lab)
    if errors:
        raise errors[0]
    run = result["run"]
    started = float(run.visits.get("started_epoch") or 0.0)
    phases = marks.relative(started)
    end = phases[-1].end_s if phases else 0.0
    note = ("" if end + 1 <= settings.duration_s else
            f"the recovery ended {end:.0f} s into a {settings.duration_s} s run: "
            "the visitors stopped before it; give --duration more")
    rows = tuple((int(s), str(srv), str(pg), str(o), int(n))
                 for s, srv, pg, o, n in run.visits.get("rows", []))
    history = out / HISTORY_FILE
    latency = latency_history(history.read_text(), started) if history.exists() else ()
    return DuringRun(name, summarize(run), phases, rows, note, latency, samples_of(run.visits))
