"""The grader tested like any checker (Labtainers, kathara-lab-checker): for
every exercise the untouched broken lab fails its symptom and repair goals,
the project's own solution gets full marks, and each cheap or wrong repair
is caught by the goal it violates while the symptom it hides looks fixed.
Every run ends with `exercise stop`, which heals the lab, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.exercises import grader, writer
from lab.exercises.catalog import EXERCISES
from lab.exercises.databases import REPLICA_BROKEN
from lab.exercises.definitions import REPAIR, SYMPTOM, Exercise, Grade

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
SEED = "alice@school"


def passed(grade: Grade) -> dict[str, bool]:
    return {g.name: g.passed for g in grade.goals}


@pytest.fixture
def exercise_on(lab, prove_nothing_lost) -> Iterator[object]:
    """Start exercises on the lab; always stop (heal) at the end, then prove
    the lab whole again."""

    def start(exercise: Exercise, variant: str) -> None:
        grader.start(lab, exercise.name, SEED, variant or None)

    try:
        yield start
    finally:
        if grader.running(lab) is not None:
            grader.stop(lab)
        prove_nothing_lost()


# Every variant of every exercise, not the one a seed happens to draw.
CASES = [(e, v) for e in EXERCISES for v in e.variants or ("",)]


@pytest.mark.parametrize("exercise,variant", CASES,
                         ids=[f"{e.name}-{v}" if v else e.name for e, v in CASES])
def test_broken_fails_solved_passes_cheats_caught(exercise, variant, lab, exercise_on,
                                                  record_property):
    exercise_on(exercise, variant)
    broken = passed(grader.grade(lab))
    for goal in exercise.goals:
        if goal.kind == SYMPTOM:
            assert not broken[goal.name], f"the broken lab already passes {goal.name!r}"
    repairs = [g.name for g in exercise.goals if g.kind == REPAIR]
    assert not repairs or not all(broken[r] for r in repairs), broken
    _, started = grader.require(lab)
    exercise.solve(lab, started)
    solved = grader.grade(lab)
    assert solved.points == solved.out_of, [(g.name, g.seen) for g in solved.goals
                                            if not g.passed]
    grader.stop(lab)
    for name, cheat in exercise.cheats_for(variant).items():
        exercise_on(exercise, variant)
        _, started = grader.require(lab)
        cheat.repair(lab, started)
        result = passed(grader.grade(lab))
        assert not result[cheat.fails], f"{name!r} passed {cheat.fails!r}"
        if exercise.goal(cheat.fails).kind != SYMPTOM:  # the shortcut hides the symptom...
            symptoms = [g.name for g in exercise.goals if g.kind == SYMPTOM]
            assert all(result[s] for s in symptoms), f"{name!r}: {result}"
        record_property(f"cheat {name}", f"caught by {cheat.fails}")
        grader.stop(lab)


def test_orders_deleted_everywhere_and_logs_wiped_fail_the_data_goal(lab, exercise_on):
    """A student with root in every host of their lab hides a loss: during
    replica-broken they delete the writer's orders on db1 and db2 (binary
    log off, so nothing replicates the deletion) and empty every log file in
    the lab; then they run the right repair. The writer's answers are kept
    on the teacher's side, so the data goal still fails."""
    exercise_on(REPLICA_BROKEN, "")
    _, started = grader.require(lab)
    writer.wait_acknowledged(lab, started.writer, writer.MIN_ACKNOWLEDGED + 1)
    writer.stop(lab, started.writer)  # no order after the deletion hides it
    for db in ("db1", "db2"):  # as root on each server, as the student would: the
        # orders carry no writer tag, but their notes (marks) have a shape
        out = lab.exec(db, ["mariadb", "-e", "SET SESSION sql_log_bin = 0; DELETE FROM "
                            "foo.ledger WHERE note REGEXP '^[0-9a-f]{64}$'"])
        assert out.returncode == 0, out.stderr
    for host in lab.topology.names:
        lab.exec(host, ["sh", "-c", "find / -xdev -type f -name '*.log' "
                                    "-exec truncate -s 0 {} + 2>/dev/null; true"], timeout=60)
    REPLICA_BROKEN.solve(lab, started)
    result = {g.name: g for g in grader.grade(lab).goals}
    kept = result["every acknowledged order kept once"]
    assert not kept.passed and "lost" in kept.seen, kept.seen
    assert result["replication runs"].passed and result["databases identical"].passed
