"""The grader tested like any checker (Labtainers, kathara-lab-checker): for
every exercise the untouched broken lab fails its symptom and repair goals,
the project's own solution gets full marks, and each cheap or wrong repair
is caught by the goal it violates while the symptom it hides looks fixed.
Every run ends with `exercise stop`, which heals the lab, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.exercises import grader
from lab.exercises.catalog import EXERCISES
from lab.exercises.model import REPAIR, SYMPTOM, Exercise, Grade

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
SEED = "alice@school"


def passed(grade: Grade) -> dict[str, bool]:
    return {g.name: g.passed for g in grade.goals}


@pytest.fixture
def exercise_on(lab, prove_nothing_lost) -> Iterator[object]:
    """Start exercises on the lab; always stop (heal) at the end, then prove
    the lab whole again."""

    def start(exercise: Exercise) -> None:
        grader.start(lab, exercise.name, SEED)

    try:
        yield start
    finally:
        if grader.running(lab) is not None:
            grader.stop(lab)
        prove_nothing_lost()


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_broken_fails_solved_passes_cheats_caught(exercise, lab, exercise_on, record_property):
    exercise_on(exercise)
    broken = passed(grader.grade(lab))
    for goal in exercise.goals:
        if goal.kind in (SYMPTOM, REPAIR):
            assert not broken[goal.name], f"the broken lab already passes {goal.name!r}"
    _, started = grader.require(lab)
    exercise.solve(lab, started)
    solved = grader.grade(lab)
    assert solved.points == solved.out_of, [(g.name, g.seen) for g in solved.goals
                                            if not g.passed]
    grader.stop(lab)
    for cheat, (repair, goal) in exercise.cheats.items():
        exercise_on(exercise)
        _, started = grader.require(lab)
        repair(lab, started)
        result = passed(grader.grade(lab))
        assert not result[goal], f"{cheat!r} passed {goal!r}"
        if exercise.goal(goal).kind != SYMPTOM:  # the shortcut hides the symptom...
            symptoms = [g.name for g in exercise.goals if g.kind == SYMPTOM]
            assert all(result[s] for s in symptoms), f"{cheat!r}: {result}"
        record_property(f"cheat {cheat}", f"caught by {goal}")
        grader.stop(lab)
