"""The class's grades in Moodle's and Canvas's import formats, read back by
the columns README documents (no Docker): the e-mail matches a user, each
exercise is a column of points, Canvas's Points Possible row holds each
exercise's total, a blank cell is no grade."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from lab.classweb import grades, platforms
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import GoalResult, Grade, find
from lab.model import roster as roster_model
from lab.model.config import LabConfig

CSV = "name,email\nAda Lovelace,ada@school.example\nAlan Turing,alan@school.example\n"
TOTALS = {e.name: sum(g.points for g in e.goals) for e in EXERCISES}


def _grade(lab: str, exercise: str, met: int) -> Grade:
    """A grade of `exercise` with its first `met` goals met."""
    goals = find(EXERCISES, exercise).goals
    return Grade(lab, exercise, "seed", tuple(
        GoalResult(g.name, i < met, g.points, g.hint, g.kind, "seen")
        for i, g in enumerate(goals)))


@pytest.fixture
def graded(tmp_path: Path) -> LabConfig:
    """Ada ran ns2-stale (all goals) and then sessions-lost (none met);
    Alan ran ns2-stale with one goal met; each lab's last grade per exercise
    is what counts."""
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster = roster_model.Roster().merged(roster_model.parse(CSV))
    roster.save(base.class_root)
    ada, alan = (base.for_lab(s.lab) for s in roster.students)
    for cfg in (ada, alan):
        cfg.state_dir.mkdir(parents=True)
    grades.record(ada, _grade(ada.lab, "ns2-stale", 0))
    grades.record(ada, _grade(ada.lab, "ns2-stale", 99))
    grades.record(ada, _grade(ada.lab, "sessions-lost", 0))
    grades.record(alan, _grade(alan.lab, "ns2-stale", 1))
    return base


def _points(exercise: str, met: int) -> int:
    return sum(g.points for g in find(EXERCISES, exercise).goals[:met])


def test_moodle_matches_by_email_with_a_column_of_points_per_exercise(graded: LabConfig) -> None:
    rows = list(csv.DictReader(io.StringIO(grades.platform_file(graded, "moodle"))))
    assert list(rows[0]) == [platforms.MOODLE_USER, *TOTALS]
    by_email = {r[platforms.MOODLE_USER]: r for r in rows}
    assert set(by_email) == {"ada@school.example", "alan@school.example"}
    ada, alan = by_email["ada@school.example"], by_email["alan@school.example"]
    assert ada["ns2-stale"] == str(TOTALS["ns2-stale"])
    assert ada["sessions-lost"] == "0"
    assert alan["ns2-stale"] == str(_points("ns2-stale", 1))
    assert alan["sessions-lost"] == "" and ada["web-stale"] == ""  # never ran: no grade


def test_canvas_has_its_gradebook_columns_points_possible_and_the_login(
        graded: LabConfig) -> None:
    reader = csv.reader(io.StringIO(grades.platform_file(graded, "canvas")))
    head, possible, *students = list(reader)
    assert head == [*platforms.CANVAS_HEAD, *TOTALS]
    assert possible[0].strip() == "Points Possible"
    assert dict(zip(head[5:], map(int, possible[5:]), strict=True)) == TOTALS
    rows = {r[3]: dict(zip(head, r, strict=True)) for r in students}  # by SIS Login ID
    ada = rows["ada@school.example"]
    assert ada["Student"] == "Lovelace, Ada"
    assert ada["ID"] == ada["SIS User ID"] == ada["Section"] == ""  # Canvas's own numbers
    assert int(ada["ns2-stale"]) == TOTALS["ns2-stale"]
    assert rows["alan@school.example"]["ns2-stale"] == str(_points("ns2-stale", 1))
    assert rows["alan@school.example"]["sessions-lost"] == ""


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="moodle, canvas"):
        platforms.render("blackboard", [], TOTALS)
