"""Issue 31: every exercise in a class lab, as a teacher runs a lesson.

Two students from a roster (labs x01 and x02, their own state folder). A
writer exercise is started in both by `foolab class exercise` (each
student's own seed; the writer runs inside each lab's namespace and its
orders are acknowledged), then every exercise of the catalogue is started,
judged broken, repaired by the project's own solution (the runbooks), graded
full marks and stopped, in both labs side by side. `class down` then leaves
no exercise, writer or state folder behind, and the next class of the same
names starts clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from teaching import exercise_matrix, foolab_in, roster_class

from lab.engine.lab import Lab
from lab.exercises import grader, writer
from lab.exercises.catalog import EXERCISES
from lab.model.config import LabConfig
from lab.model.roster import Roster

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

LABS = ("x01", "x02")
ROSTER = "name,email\nGrace Hopper,grace@school.example\nEdsger Dijkstra,edsger@school.example\n"
WRITER_EXERCISE = next(e for e in EXERCISES if e.uses_writer)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("class-exercises")


@pytest.fixture(scope="module")
def school(state: Path) -> Iterator[tuple[LabConfig, Roster]]:
    """Two students' labs from a roster, removed again whatever happens."""
    with roster_class(state, ROSTER, "x") as (base, roster):
        assert [s.lab for s in roster.students] == list(LABS)
        yield base, roster


def class_lab(base: LabConfig, name: str) -> Lab:
    return Lab(base.for_lab(name))


def test_class_exercise_starts_a_writer_exercise_in_every_lab(
        school: tuple[LabConfig, Roster], state: Path) -> None:
    """The roster's way: one command, each student's seed, a writer whose
    orders are acknowledged in each lab (it logged '1 gone' before)."""
    base, roster = school
    out = foolab_in(state, "class", "exercise", WRITER_EXERCISE.name)
    try:
        assert out.returncode == 0, out.stderr[-2000:]
        for name in LABS:
            lab = class_lab(base, name)
            started = grader.running(lab)
            assert started is not None and started.seed == roster.seed(name)
            acked, tried = writer.history(lab, started.writer)
            assert len(acked) >= writer.MIN_ACKNOWLEDGED, (name, tried)
    finally:
        for name in LABS:
            lab = class_lab(base, name)
            if grader.running(lab) is not None:
                with lab.network():
                    grader.stop(lab)


@pytest.fixture(scope="module")
def matrix(school: tuple[LabConfig, Roster]) -> dict[str, str]:
    """Every exercise once, the catalogue shared between the two labs."""
    base, roster = school
    return exercise_matrix({class_lab(base, n): roster.seed(n) or n for n in LABS})


@pytest.mark.parametrize("exercise", [e.name for e in EXERCISES])
def test_every_exercise_breaks_and_is_repaired_in_a_class_lab(
        matrix: dict[str, str], exercise: str) -> None:
    assert exercise in matrix and matrix[exercise] == "", matrix.get(exercise)


def test_class_down_leaves_no_lab_state_and_a_new_class_starts_clean(
        school: tuple[LabConfig, Roster], state: Path, matrix: dict[str, str]) -> None:
    """With an exercise (and its writer) running, `class down` stops the
    writer, keeps the grades aside and removes each lab's folder; the same
    roster again starts the same exercise without 'already running'."""
    base, _ = school
    assert foolab_in(state, "class", "exercise", WRITER_EXERCISE.name).returncode == 0
    lab = class_lab(base, LABS[0])
    started = grader.running(lab)
    assert started is not None
    pid = int((writer.folder(lab) / f"{started.writer}.pid").read_text())
    down = foolab_in(state, "class", "down")
    assert down.returncode == 0, down.stderr[-2000:]
    assert "kept in" in down.stdout
    assert not any((base.class_root / n).exists() for n in LABS)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
        f"/proc/{pid}/status").read_text().lower()
    csv = state / "students.csv"
    up = foolab_in(state, "class", "up", "--roster", str(csv), "--prefix", "x")
    assert up.returncode == 0, up.stderr[-2000:]
    again = foolab_in(state, "--lab", LABS[0], "exercise", "start", "ns2-stale")
    assert again.returncode == 0, again.stderr[-2000:]
