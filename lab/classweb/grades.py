"""Self-checks from the student page, and the class's grade table with the
time each goal was first met (for a school's learning platform).

Each check (a student's Check button, or `foolab class collect` for every
lab) grades the lab from inside it and is kept in the lab's state folder,
on this machine (out of every student's reach): which goals hold now, and
since when each was first seen holding during this exercise. `collect`
grades the labs side by side, each within LAB_DEADLINE_S: a student's lab
that stalls its grading fails its own goals and holds up no other lab.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.classweb import platforms
from lab.engine import client
from lab.engine.lab import Lab
from lab.exercises import classroom, grader
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import Grade, Started
from lab.model import roster as roster_model
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError

RECORD = grader.GOALS_MET  # in the lab's state folder
BY_EXERCISE = grader.BY_EXERCISE  # for the school's platform (platform_file)
GRADING_LOCK = "grading.lock"  # held while the lab is graded (one grading at a time)
# A lab whose grading has not ended by then gets every goal failed, saying
# so; its thread is left to end by itself. One goal at the grader's own
# deadline (grader.GOAL_DEADLINE_S) still fits, and `class collect` ends
# within two minutes whatever a lab does.
LAB_DEADLINE_S = grader.GOAL_DEADLINE_S + 10
COLLECT_WORKERS = 8  # labs graded at once by `collect` (each runs docker exec, probes)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def record(cfg: LabConfig, grade: Grade) -> dict[str, Any]:
    """Keep this grade, each goal with when it was first met in this exercise."""
    path = cfg.state_dir / RECORD
    old: dict[str, Any] = {}
    if path.exists():
        old = json.loads(path.read_text())
        if (old.get("exercise"), old.get("seed")) != (grade.exercise, grade.seed):
            old = {}  # another exercise: nothing was met in it yet
    first = {g["name"]: g.get("first_met") for g in old.get("goals", [])}
    now = _now()
    doc = {"lab": cfg.lab, "exercise": grade.exercise, "seed": grade.seed, "checked_at": now,
           "points": grade.points, "out_of": grade.out_of,
           "goals": [{"name": g.name, "passed": g.passed, "points": g.points, "hint": g.hint,
                      "first_met": first.get(g.name) or (now if g.passed else None),
                      "seen": g.seen}
                     for g in grade.goals]}
    # whole or not at all: a student's Check and the teacher's collect may
    # write the same lab's record at once
    _write_whole(path, doc)
    by_path = cfg.state_dir / BY_EXERCISE
    by = json.loads(by_path.read_text()) if by_path.exists() else {}
    by[grade.exercise] = {"points": grade.points, "out_of": grade.out_of, "seed": grade.seed,
                          "checked_at": now}
    _write_whole(by_path, by)
    return doc


def _write_whole(path: Path, doc: Any) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    part.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(part, path)


def platform_file(base: LabConfig, fmt: str) -> str:
    """The class's grades as platform `fmt` imports them (lab.classweb.platforms):
    each student's last points in every exercise of the catalogue."""
    roster = classroom.require_roster(base)
    students = []
    for s in roster.students:
        path = base.for_lab(s.lab).state_dir / BY_EXERCISE
        by = json.loads(path.read_text()) if path.exists() else {}
        students.append(platforms.Graded(s.name, s.email,
                                         {e: int(g["points"]) for e, g in by.items()}))
    totals = {e.name: sum(g.points for g in e.goals) for e in EXERCISES}
    return platforms.render(fmt, students, totals)


def last_check(cfg: LabConfig, started: Started) -> dict[str, Any] | None:
    """The last check of the lab's running exercise `started`, in short (the
    teacher's grid)."""
    path = cfg.state_dir / RECORD
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    if (doc.get("exercise"), doc.get("seed")) != (started.exercise, started.seed):
        return None
    return {"points": doc["points"], "out_of": doc["out_of"], "at": doc["checked_at"],
            "passed": sum(g["passed"] for g in doc["goals"]), "of": len(doc["goals"])}


def goals_met(cfg: LabConfig) -> list[dict[str, Any]]:
    """The goals of the lab's last grade, each with when it was first met."""
    path = cfg.state_dir / RECORD
    return list(json.loads(path.read_text()).get("goals", [])) if path.exists() else []


def self_check(cfg: LabConfig) -> dict[str, Any]:
    """The student's Check: every goal, held or not, the hint of each that is
    not (never the fix, never what the grader saw: that is the teacher's)."""
    grade = graded(cfg)
    doc = record(cfg, grade)
    return {"exercise": grade.exercise, "points": grade.points, "out_of": grade.out_of,
            "goals": [{"name": g["name"], "passed": g["passed"], "points": g["points"],
                       "hint": "" if g["passed"] else g["hint"]} for g in doc["goals"]]}


def graded(cfg: LabConfig) -> Grade:
    """The lab's grade, read from inside its network (nothing recorded);
    one grading of a lab at a time, whoever asks (a student's Check, the
    grid's collect, `class collect` in another process): two would see
    each other's probes (a record added to the zone, a file on web1). A
    grade always ends (each goal has its deadline), so the wait does too."""
    lab = Lab(cfg)
    with _one_at_a_time(cfg), lab.network():
        return grader.grade(lab, cfg.lab)


@contextmanager
def _one_at_a_time(cfg: LabConfig) -> Iterator[None]:
    """An exclusive lock on the lab's grading file (flock: threads and
    processes alike), released when the block ends or the process does."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.state_dir / GRADING_LOCK, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ClassTable:
    """One row per student: their lab, exercise, points and, per goal, when
    it was first met."""

    rows: list[dict[str, Any]]
    path: Path | None = None

    @property
    def goal_names(self) -> list[str]:
        names: list[str] = []
        for r in self.rows:
            names += [g["name"] for g in r["goals"] if g["name"] not in names]
        return names

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return json.dumps(self.rows, indent=1) + "\n"
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["name", "email", "lab", "exercise", "points", "out_of",
                    *[f"{n} first met" for n in self.goal_names], "terminal sessions"])
        for r in self.rows:
            met = {g["name"]: g.get("first_met") or "" for g in r["goals"]}
            w.writerow([r["name"], r["email"], r["lab"], r["exercise"], r["points"],
                        r["out_of"], *[met.get(n, "") for n in self.goal_names],
                        " ".join(r.get("sessions", []))])
        return out.getvalue()


def table(base: LabConfig) -> ClassTable:
    """The grade table from each lab's last check (nothing graded now)."""
    roster = classroom.require_roster(base)
    rows = []
    for s in roster.students:
        path = base.for_lab(s.lab).state_dir / RECORD
        doc = json.loads(path.read_text()) if path.exists() else {}
        rows.append({"name": s.name, "email": s.email, "lab": s.lab,
                     "exercise": doc.get("exercise", ""), "points": doc.get("points", ""),
                     "out_of": doc.get("out_of", ""), "checked_at": doc.get("checked_at", ""),
                     "goals": doc.get("goals", []), "sessions": sessions(base.for_lab(s.lab))})
    return ClassTable(rows)


def sessions(cfg: LabConfig) -> list[str]:
    """The lab's recorded terminal sessions (classweb.casts), oldest first:
    what the teacher replays beside the grade."""
    stems = [p.stem for p in (cfg.state_dir / classroom.CASTS).glob("*.cast")]
    return sorted(stems, key=lambda stem: stem.split("-", 1)[-1])  # HOST-TIME-N


def collect(base: LabConfig, progress: Callable[[str], None]) -> ClassTable:
    """`foolab class collect`: every student's lab graded now, side by side,
    each within LAB_DEADLINE_S, then the table written under
    reports/exercises/ (CSV and JSON). Returns even while a lab's grading
    thread is stuck: that lab's row says what did not answer."""
    roster = classroom.require_roster(base)
    names: dict[str, str] = {}
    for s in roster.students:
        if grader.running(Lab(base.for_lab(s.lab))) is None:
            progress(f"lab {s.lab} ({s.name}): no exercise running, not graded")
        else:
            names[s.lab] = s.name
    for lab, outcome in _side_by_side(base, list(names)):
        cfg, who = base.for_lab(lab), f"lab {lab} ({names[lab]})"
        if isinstance(outcome, Grade):
            record(cfg, outcome)
            progress(f"{who}: graded")
        elif outcome is None:
            try:
                record(cfg, grader.unanswered(Lab(cfg), LAB_DEADLINE_S, lab))
            except LabError as exc:  # its exercise stopped meanwhile
                progress(f"{who}: not graded: {grader.no_answer(LAB_DEADLINE_S)}; {exc}")
                continue
            progress(f"{who}: {grader.no_answer(LAB_DEADLINE_S)}, its goals failed")
        else:
            progress(f"{who}: not graded: {outcome}")
    result = table(base)
    folder = REPO / "reports" / "exercises"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / time.strftime("class-%Y%m%d-%H%M%S")
    stem.with_suffix(".json").write_text(result.render("json"))
    stem.with_suffix(".csv").write_text(result.render("csv"))
    return ClassTable(result.rows, stem.with_suffix(".csv"))


Outcome = Grade | str | None  # a grade, why there is none, or no answer in time


def _side_by_side(base: LabConfig, labs: list[str]) -> list[tuple[str, Outcome]]:
    """Each lab graded on a daemon thread of its own, at most COLLECT_WORKERS
    at once, each waited for LAB_DEADLINE_S from its start: a lab past it
    is given up (None) and frees its place, its thread never joined."""
    answers: queue.Queue[tuple[str, Outcome]] = queue.Queue()
    waiting, started, out = list(labs), dict[str, float](), dict[str, Outcome]()

    def run(lab: str) -> None:
        try:
            answers.put((lab, graded(base.for_lab(lab))))
        except LabError as exc:
            answers.put((lab, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one lab's bug is that lab's row
            answers.put((lab, f"{type(exc).__name__}: {exc}"[:200]))

    while waiting or started:  # each turn ends a lab, or waits until one's deadline
        while waiting and len(started) < COLLECT_WORKERS:
            lab = waiting.pop(0)
            started[lab] = time.monotonic()
            threading.Thread(target=client.carried(run), args=(lab,), name=f"grade {lab}",
                             daemon=True).start()
        first_end = min(started.values()) + LAB_DEADLINE_S
        try:
            lab, outcome = answers.get(timeout=max(first_end - time.monotonic(), 0))
            if started.pop(lab, None) is not None:  # not a lab already given up
                out[lab] = outcome
        except queue.Empty:
            pass
        now = time.monotonic()
        for lab in [lab for lab, t0 in started.items() if now - t0 >= LAB_DEADLINE_S]:
            del started[lab]
            out[lab] = None
    return [(lab, out[lab]) for lab in labs]


def students(base: LabConfig) -> dict[str, str]:
    """Lab -> the student's name, for the class's pages."""
    roster = roster_model.Roster.load(base.class_root)
    return {s.lab: s.name for s in roster.students} if roster else {}
