"""Start an exercise on a lab, grade it, stop it. The record of the started
exercise lives in the lab's state folder; grades and self-checks are also
written under reports/ (Markdown, CSV for a spreadsheet, JSON)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from lab.engine.lab import Lab
from lab.exercises import grade_text, writer
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import Exercise, GoalResult, Grade, Started, find
from lab.model import events
from lab.model.errors import LabError

RECORD = "exercise.json"
GOALS_MET = "goals-met.json"  # each goal with when it was first met (lab.classweb.grades)


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
        try:
            passed, seen = goal.check(lab, started)
        except Exception as exc:  # noqa: BLE001 - a probe that fails is a goal not met
            passed, seen = False, f"{type(exc).__name__}: {exc}"[:200]
        results.append(GoalResult(goal.name, passed, goal.points, goal.hint, goal.kind, seen))
    result = Grade(name or lab.config.project, exercise.name, started.seed, tuple(results))
    events.record(lab.config.state_dir, events.EXERCISE_GRADED,
                  f"exercise {exercise.name} graded: {result.points}/{result.out_of}",
                  ok=result.points == result.out_of)
    return result


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
