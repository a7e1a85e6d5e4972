"""What the class scenarios share: the CLI run as a teacher runs it, on a
module's own class state (so a teacher's class on this machine is left
alone), and the engine they need."""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab.engine import nodes
from lab.engine.lab import Lab
from lab.engine.process import require_engine
from lab.exercises import classroom, grader
from lab.exercises.catalog import EXERCISES
from lab.exercises.definitions import SYMPTOM, Exercise
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError
from lab.model.roster import Roster


def foolab_in(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`foolab ARGS...` in its own process, with FOOLAB_STATE_DIR=state."""
    env = {**os.environ, "FOOLAB_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, env=env)


@contextmanager
def roster_class(state: Path, roster: str, prefix: str) -> Iterator[tuple[LabConfig, Roster]]:
    """A class of the students in `roster` (CSV text, name,email) in its own
    state folder, labs PREFIX01.., removed again whatever happens."""
    require_docker()
    csv = state / "students.csv"
    csv.write_text(roster)
    try:
        up = foolab_in(state, "class", "up", "--roster", str(csv), "--prefix", prefix)
        assert up.returncode == 0, up.stderr[-2000:] + up.stdout[-2000:]
        base = replace(LabConfig.from_env(), state_dir=state, class_root=state / "class")
        enrolled = Roster.load(base.class_root)
        assert enrolled is not None
        yield base, enrolled
    finally:
        foolab_in(state, "class", "down")


def graded_from_the_lab(grade: dict[str, Any]) -> None:
    """A broken reads-from-dead-replica lab's grade came from answers of the
    lab itself: each goal saw web2 and web3 answer over HTTP. (A probe that
    fails is a goal not met, so `points < out_of` alone holds as well for a
    grader that reached nothing.)"""
    assert grade["exercise"] == "reads-from-dead-replica", grade
    for goal in grade["goals"]:
        assert all(f"{web}: HTTP " in goal["seen"] for web in ("web2", "web3")), goal
    assert grade["points"] < grade["out_of"], grade


def require_docker() -> None:
    """The engine answers, or the module skips (fails under FOOLAB_REQUIRE_LAB)."""
    try:
        require_engine()
    except LabError as exc:
        if os.environ.get("FOOLAB_REQUIRE_LAB"):
            pytest.fail(f"no Docker: {exc}", pytrace=False)
        pytest.skip(f"no Docker: {exc}")


def _run_all(lab: Lab, seed: str, exercises: Sequence[Exercise]) -> dict[str, str]:
    """Each exercise on one lab in turn: '' when broken, solved to full
    marks and healed, else what went wrong. Always stopped (healed). On
    the engine of the lab's node, if it is on one."""
    outcome = {}
    for exercise in exercises:
        try:
            with nodes.on(classroom.placement(lab.config)), lab.network():
                grader.start(lab, exercise.name, seed)
                try:
                    broken = {g.name: g.passed for g in grader.grade(lab).goals}
                    held = [g.name for g in exercise.goals if g.kind == SYMPTOM
                            and broken[g.name]]
                    _, started = grader.require(lab)
                    exercise.solve(lab, started)
                    solved = grader.grade(lab)
                    missed = [(g.name, g.seen) for g in solved.goals if not g.passed]
                    outcome[exercise.name] = (
                        f"the broken lab already passes {held}" if held
                        else f"solved but not met: {missed}" if missed else "")
                finally:
                    grader.stop(lab)
        except Exception as exc:  # noqa: BLE001 - reported per exercise by the caller
            outcome[exercise.name] = f"{type(exc).__name__}: {exc}"
    return outcome


def exercise_matrix(labs: dict[Lab, str]) -> dict[str, str]:
    """Every exercise of the catalogue once, shared out between `labs`
    (lab -> its student's seed), which work side by side, each thread
    inside its own lab's namespace: exercise -> '' or what went wrong."""
    shares = {lab: list(EXERCISES[i::len(labs)]) for i, lab in enumerate(labs)}
    with cf.ThreadPoolExecutor(len(labs)) as pool:
        jobs = [pool.submit(_run_all, lab, labs[lab], share) for lab, share in shares.items()]
        results: dict[str, str] = {}
        for job in jobs:
            results.update(job.result())
    return results
