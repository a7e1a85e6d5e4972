"""The exercises' catalogue and the grade tables, without a lab."""

import csv
import io
import json

import pytest

from lab.exercises.catalog import EXERCISES
from lab.exercises.model import GoalResult, Grade, find
from lab.exercises.report import render, self_check
from lab.model.errors import LabError

SEEDS = [f"student{i}@school" for i in range(12)]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_a_seed_always_gives_the_same_breakage_and_seeds_differ(exercise):
    assert exercise.params("alice@school") == exercise.params("alice@school")
    assert len({json.dumps(exercise.params(s), sort_keys=True) for s in SEEDS}) >= 2


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_every_exercise_is_complete(exercise):
    assert exercise.goals and all(g.hint and g.points > 0 for g in exercise.goals)
    brief = exercise.brief(exercise.params("x"))
    assert brief and "runbook" not in brief  # symptoms, never the fix
    for _repair, goal in exercise.cheats.values():
        assert exercise.goal(goal)  # each cheat names a goal that exists


def test_the_issues_seven_exercises_exist():
    assert {e.name for e in EXERCISES} >= {
        "replica-broken", "master-dead", "old-master-back", "ns2-stale", "web-stale",
        "sessions-lost", "reads-from-dead-replica"}
    with pytest.raises(LabError, match="unknown exercise 'nope'.*replica-broken"):
        find(EXERCISES, "nope")


def grade(lab: str, ok: bool) -> Grade:
    return Grade(lab, "replica-broken", "s", (
        GoalResult("replication runs", True, 2, "look at SHOW SLAVE STATUS", "symptom", ""),
        GoalResult("databases identical", ok, 2, "compare the tables", "data", "")))


def test_grade_tables_in_three_formats():
    grades = [grade("s01", True), grade("s02", False)]
    rows = list(csv.reader(io.StringIO(render(grades, "csv"))))
    assert rows[0] == ["lab", "exercise", "seed", "replication runs", "databases identical",
                       "points", "out of"]
    assert rows[2] == ["s02", "replica-broken", "s", "yes", "no", "2", "4"]
    doc = json.loads(render(grades, "json"))
    assert doc[1]["goals"][1] == {"name": "databases identical", "passed": False, "points": 2,
                                  "hint": "compare the tables", "kind": "data", "seen": ""}
    assert render(grades, "md").splitlines()[2].startswith("| s01 | replica-broken |")


def test_a_self_check_gives_hints_only_for_goals_not_met():
    text = self_check(grade("s02", False))
    assert "compare the tables" in text and "look at SHOW SLAVE STATUS" not in text
