"""What the class scenarios share: the CLI run as a teacher runs it, on a
module's own class state (so a teacher's class on this machine is left
alone), and the engine they need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.engine.process import require_engine
from lab.model.config import REPO
from lab.model.errors import LabError


def foolab_in(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`foolab ARGS...` in its own process, with FOOLAB_STATE_DIR=state."""
    env = {**os.environ, "FOOLAB_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, env=env)


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
