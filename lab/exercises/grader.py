"""Start an exercise on a lab, grade it, stop it. The record of the started
exercise lives in the lab's state folder; grades and self-checks are also
written under reports/ (Markdown, CSV for a spreadsheet, JSON)."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from lab.engine import client
from lab.engine.lab import Lab
from lab.exercises import grade_text, writer
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import Exercise, Goal, GoalResult, Grade, Started, find
from lab.model import events
from lab.model.errors import LabError
from lab.probes import vantage

RECORD = "exercise.json"
GOALS_MET = "goals-met.json"  # each goal with when it was first met (lab.classweb.grades)
BY_EXERCISE = "grades-by-exercise.json"  # the last grade of each exercise the lab ran (ditto)
# A goal's check that has not answered by then is failed, and the grade goes
# on: the student's servers may stall a probe. The slowest check that still
# answers (goals.writes_kept on two servers, each judged RETRIES+1 times
# after a MASTER_GTID_WAIT of up to 10 s) takes about a minute.
GOAL_DEADLINE_S = 90.0


def no_answer(seconds: float) -> str:
    """What a check or a lab that did not answer is recorded with."""
    return f"no answer within {seconds:g} s"


def _record(lab: Lab) -> Path:
    return lab.config.state_dir / RECORD


def running(lab: Lab) -> Started | None:
    return Started.load(_record(lab))


def require(lab: Lab) -> tuple[Exercise, Started]:
    started = running(lab)
    if started is None:
        raise LabError("no exercise started on this lab",
                       hint="`foolab exercise start NAME --seed SEED`; `foolab exercise list`")
    return find(EXERCISES, started.exercise), started


def start(lab: Lab, name: str, seed: str, variant: str | None = None,
          ) -> tuple[Exercise, Started]:
    """Break the lab the way `seed` says (or `variant`, where the exercise
    has several) and return the student's brief's exercise; refused while
    another exercise runs."""
    exercise = find(EXERCISES, name)
    params = exercise.params(seed, variant)  # a bad variant: one line, nothing started
    if (other := running(lab)) is not None:
        raise LabError(f"exercise {other.exercise} is already running on this lab",
                       hint="`foolab exercise stop` first")
    lab.require_up()
    started = Started(name, seed, params)
    if exercise.uses_writer:
        started.writer = f"ex{uuid.uuid4().hex[:8]}"
        writer.start(lab, started.writer)
    started.save(_record(lab))  # recorded first: `stop` can heal a half-made breakage
    try:
        if started.writer:  # the healthy lab's orders first: the data goals need some
            writer.wait_acknowledged(lab, started.writer)
        exercise.breaks(lab, started)
    except BaseException:
        stop(lab)
        raise
    started.save(_record(lab))  # with what the breakage noted (baseline)
    events.record(lab.config.state_dir, events.EXERCISE_STARTED,
                  f"exercise {name} started (seed {seed})")
    return exercise, started


def grade(lab: Lab, name: str = "") -> Grade:
    """Every goal of the running exercise, read from the lab."""
    exercise, started = require(lab)
    results = []
    for goal in exercise.goals:
        passed, seen = _answer(goal, lab, started, GOAL_DEADLINE_S)
        results.append(GoalResult(goal.name, passed, goal.points, goal.hint, goal.kind, seen))
    result = Grade(name or lab.config.project, exercise.name, started.seed, tuple(results))
    events.record(lab.config.state_dir, events.EXERCISE_GRADED,
                  f"exercise {exercise.name} graded: {result.points}/{result.out_of}",
                  ok=result.points == result.out_of)
    return result


def _answer(goal: Goal, lab: Lab, started: Started, seconds: float) -> tuple[bool, str]:
    """`goal`'s check on a daemon thread of its own, waited for `seconds`:
    one that does not answer is left to end by itself (a thread cannot be
    stopped) and the goal is failed. Started from this thread, it is in the
    same lab network namespace and engine, then asks from the address of
    a lab host drawn for this goal (vantage.draw): a student who serves the
    checker apart from other visitors cannot tell which address it is."""
    answers: queue.Queue[tuple[bool, str]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            host = vantage.draw(lab)
            if host is None:
                answers.put(goal.check(lab, started))
                return
            with vantage.from_host(lab, host):
                answers.put(goal.check(lab, started))
        except Exception as exc:  # noqa: BLE001 - a probe that fails is a goal not met
            answers.put((False, f"{type(exc).__name__}: {exc}"[:200]))

    threading.Thread(target=client.carried(run), name=f"goal {goal.name}"[:60],
                     daemon=True).start()
    try:
        return answers.get(timeout=seconds)
    except queue.Empty:
        return False, no_answer(seconds)


def unanswered(lab: Lab, seconds: float, name: str = "") -> Grade:
    """The grade of a lab whose grading did not end within `seconds`: every
    goal of its running exercise failed, saying so."""
    exercise, started = require(lab)
    seen = f"the lab's grading: {no_answer(seconds)}"
    return Grade(name or lab.config.project, exercise.name, started.seed, tuple(
        GoalResult(g.name, False, g.points, g.hint, g.kind, seen) for g in exercise.goals))


def stop(lab: Lab) -> str:
    """Heal the lab whatever was done to it, stop the writer, forget the
    exercise. Returns the exercise's name."""
    exercise, started = require(lab)
    if started.writer:
        writer.stop(lab, started.writer)
    exercise.heal(lab, started)
    _record(lab).unlink(missing_ok=True)
    events.record(lab.config.state_dir, events.EXERCISE_STOPPED,
                  f"exercise {exercise.name} stopped, lab healed")
    return exercise.name


def write_reports(grades: Sequence[Grade], folder: Path, stem: str) -> list[Path]:
    """The grade table in every format, under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in grade_text.FORMATS:
        path = folder / f"{stem}.{fmt}"
        path.write_text(grade_text.render(grades, fmt))
        paths.append(path)
    return paths
