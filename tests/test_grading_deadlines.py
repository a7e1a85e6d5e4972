"""Grading a class where one student's lab stalls, without Docker: the
stalled lab's goals fail saying what did not answer and after how long,
and every other lab is graded and written as if it were not there."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lab.classweb import grades
from lab.engine.lab import Lab
from lab.exercises import grader
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import GoalResult, Grade, Started, find
from lab.model import roster as roster_model
from lab.model.config import LabConfig
from lab.probes import vantage

CSV = ("name,email\nAda Lovelace,ada@school.example\nAlan Turing,alan@school.example\n"
       "Grace Hopper,grace@school.example\n")
EXERCISE = "ns2-stale"
DEADLINE_S = 1.0
MARGIN_S = 1.5  # a loaded CI machine's scheduling, on top of a deadline


@pytest.fixture
def hung() -> Any:
    """An Event a stalled grading waits on; set at the end, so its thread ends."""
    event = threading.Event()
    yield event
    event.set()


def _class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LabConfig, list[str]]:
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster = roster_model.Roster().merged(roster_model.parse(CSV))
    roster.save(base.class_root)
    labs = [s.lab for s in roster.students]
    for lab in labs:
        Started(EXERCISE, "seed1", {}).save(base.for_lab(lab).state_dir / grader.RECORD)
    monkeypatch.setattr(grades, "REPO", tmp_path)
    monkeypatch.setattr(grades, "LAB_DEADLINE_S", DEADLINE_S)
    return base, labs


def _passing(cfg: LabConfig) -> Grade:
    goals = find(EXERCISES, EXERCISE).goals
    return Grade(cfg.lab, EXERCISE, "seed1", tuple(
        GoalResult(g.name, True, g.points, g.hint, g.kind, "fine") for g in goals))


def test_collect_ends_within_the_deadline_with_a_stalled_lab(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung: threading.Event) -> None:
    base, labs = _class(tmp_path, monkeypatch)
    stalled = labs[1]

    def graded(cfg: LabConfig) -> Grade:
        if cfg.lab == stalled:
            hung.wait(60)  # a student's server answering a byte every 2 s
        return _passing(cfg)

    monkeypatch.setattr(grades, "graded", graded)
    said: list[str] = []
    t0 = time.monotonic()
    table = grades.collect(base, said.append)
    assert time.monotonic() - t0 < DEADLINE_S + MARGIN_S
    rows = {r["lab"]: r for r in table.rows}
    for lab in labs:
        goals = rows[lab]["goals"]
        assert goals and all(g["passed"] is (lab != stalled) for g in goals), lab
    assert {g["seen"] for g in rows[stalled]["goals"]} == {
        "the lab's grading: no answer within 1 s"}
    assert any(stalled in m and "no answer within 1 s" in m for m in said), said
    assert table.path is not None and table.path.exists()
    written = json.loads(table.path.with_suffix(".json").read_text())
    assert [r["points"] == r["out_of"] for r in written] == [lab != stalled for lab in labs]


def test_collect_grades_labs_side_by_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung: threading.Event) -> None:
    """Every lab waits for all to have started: one after the other, the
    first would wait forever (then miss its deadline)."""
    base, labs = _class(tmp_path, monkeypatch)
    together = threading.Barrier(len(labs), timeout=DEADLINE_S)

    def graded(cfg: LabConfig) -> Grade:
        together.wait()
        return _passing(cfg)

    monkeypatch.setattr(grades, "graded", graded)
    table = grades.collect(base, lambda _m: None)
    assert all(r["points"] == r["out_of"] for r in table.rows)


def test_a_goal_that_does_not_answer_fails_and_the_grade_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung: threading.Event) -> None:
    cfg = LabConfig(state_dir=tmp_path)
    Started(EXERCISE, "seed1", {}).save(cfg.state_dir / grader.RECORD)
    real = find(EXERCISES, EXERCISE)
    stuck, fine = real.goals[0], real.goals[1:]

    def stall(_lab: Lab, _s: Started) -> tuple[bool, str]:
        hung.wait(60)
        return True, "late"

    def hold(_lab: Lab, _s: Started) -> tuple[bool, str]:
        return True, "held"

    exercise = dataclasses.replace(real, goals=(
        dataclasses.replace(stuck, check=stall),
        *(dataclasses.replace(g, check=hold) for g in fine)))
    monkeypatch.setattr(grader, "find", lambda _all, _name: exercise)
    monkeypatch.setattr(grader, "GOAL_DEADLINE_S", DEADLINE_S)
    monkeypatch.setattr(vantage, "draw", lambda _lab: None)  # no lab host runs
    t0 = time.monotonic()
    grade = grader.grade(Lab(cfg), "s01")
    assert time.monotonic() - t0 < DEADLINE_S + MARGIN_S
    assert [(g.passed, g.seen) for g in grade.goals] == [
        (False, "no answer within 1 s"), *[(True, "held")] * len(fine)]


def test_a_lab_is_graded_once_at_a_time_whoever_asks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student's Check and a collect of the same lab: the second grading
    waits for the first (they would see each other's probes); another
    lab's goes on meanwhile."""
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    inside: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def grade(lab: Lab, name: str = "") -> Grade:
        with lock:
            inside[name] = inside.get(name, 0) + 1
            most[name] = max(most.get(name, 0), inside[name])
        time.sleep(0.2)
        with lock:
            inside[name] -= 1
        return Grade(name, EXERCISE, "seed", ())

    monkeypatch.setattr(grader, "grade", grade)
    monkeypatch.setattr(Lab, "network", lambda self: contextlib.nullcontext())
    t0 = time.monotonic()
    threads = [threading.Thread(target=grades.graded, args=(base.for_lab(n),))
               for n in ("s01", "s01", "s01", "s02")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most == {"s01": 1, "s02": 1}
    assert time.monotonic() - t0 >= 0.6  # s01's three one after another
