"""The exercises' catalogue and the grade tables, without a lab."""

import csv
import io
import json

import pytest

from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import GoalResult, Grade, find
from lab.exercises.grade_text import render, self_check
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
    for cheat in exercise.cheats.values():
        assert exercise.goal(cheat.fails)  # each cheat names a goal that exists
        assert set(cheat.only) <= set(exercise.variants), cheat.only


def variants_of(exercise):
    return exercise.variants or ("",)


@pytest.mark.parametrize("exercise,variant",
                         [(e, v) for e in EXERCISES for v in variants_of(e)],
                         ids=lambda x: getattr(x, "name", x) or "only")
def test_every_variant_has_a_cheap_fix_the_grader_must_catch(exercise, variant):
    """The gold tests try each variant's cheap fixes: a variant without one
    would show only that the right repair passes, not that a wrong one fails."""
    assert exercise.cheats_for(variant), f"{exercise.name} {variant or ''}: no cheap fix"


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.variants],
                         ids=lambda e: e.name)
def test_every_variant_can_be_chosen_by_some_seed_and_forced(exercise):
    drawn = {exercise.params(f"student{i}@school")["variant"] for i in range(64)}
    assert drawn == set(exercise.variants)
    for v in exercise.variants:
        assert exercise.params("x", v)["variant"] == v
    with pytest.raises(LabError, match="no variant 'nope'"):
        exercise.params("x", "nope")


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


def test_the_writers_log_counts_only_http_200_as_acknowledged():
    from lab.exercises.writer import parse

    acked, tried = parse("1 200\n2 503\n3 000\n4 200\n5 gone\nnoise\n")
    assert acked == [1, 4] and tried == [1, 2, 3, 4, 5]
