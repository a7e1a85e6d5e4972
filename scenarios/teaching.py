"""What the class scenarios share: the CLI run as a teacher runs it, on a
module's own class state (so a teacher's class on this machine is left
alone), and the engine they need."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab.engine.process import require_engine
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
