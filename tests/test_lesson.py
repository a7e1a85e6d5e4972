"""The lesson run from the teacher's grid, without Docker (the work in
lab.exercises.lesson replaced): who may start, stop and reset, what each
row then says, and a lab busy with one action left to finish it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import test_classweb
from starlette.testclient import TestClient
from test_classweb import signed_in

from lab.classweb import access
from lab.engine.waiting import wait_for
from lab.exercises import lesson

server = test_classweb.server  # the class server of a roster of two, no Docker
SITE = {"Origin": "http://127.0.0.1:8080"}


@pytest.fixture
def work(monkeypatch: Any) -> tuple[list[tuple[str, ...]], threading.Event]:
    """What the grid asked for, in order; `release` lets a reset end."""
    asked: list[tuple[str, ...]] = []
    release = threading.Event()

    def reset(base: Any, name: str, say: Any) -> str:
        asked.append(("reset", name))
        say(f"[{name}] resetting: removing the lab")
        release.wait(5)
        return f"lab {name}: reset"

    monkeypatch.setattr(lesson, "reset", reset)
    monkeypatch.setattr(lesson, "start", lambda base, name, e: asked.append(("start", name, e))
                        or f"lab {name}: {e} started")
    monkeypatch.setattr(lesson, "stop", lambda base, name: asked.append(("stop", name)) or "ok")
    return asked, release


def action(app: Any, lab: str) -> dict[str, Any]:
    return {r["lab"]: r["action"] for r in app.lesson.rows([{"lab": lab}])}[lab] or {}


def test_only_the_teachers_session_from_this_site_runs_the_lesson(server: Any, work: Any) -> None:
    app, roster = server
    asked, _ = work
    student = signed_in(app, roster.students[0].token)
    nobody = TestClient(app.app, base_url="http://127.0.0.1:8080")
    for c in (student, nobody):
        for path in ("/teacher/lab/s01/reset", "/teacher/lab/s01/exercise", "/teacher/exercise"):
            r = c.post(path, json={"stop": True}, headers=SITE)
            assert (r.status_code, r.text) == (403, access.FORBIDDEN), path
    teacher = signed_in(app, roster.teacher_token)
    other_site = teacher.post("/teacher/lab/s01/reset", headers={"Origin": "http://evil.example"})
    assert other_site.status_code == 403
    assert teacher.post("/teacher/lab/s99/reset", headers=SITE).status_code == 403
    assert asked == []


def test_a_reset_shows_its_progress_on_the_row_and_a_busy_lab_is_left_alone(
        server: Any, work: Any) -> None:
    app, roster = server
    asked, release = work
    teacher = signed_in(app, roster.teacher_token)
    assert teacher.post("/teacher/lab/s01/reset", headers=SITE).status_code == 202
    wait_for("the reset's first line", lambda: action(app, "s01").get("line") ==
             "resetting: removing the lab", timeout=5, every=0.01)
    assert action(app, "s01")["running"] is True
    assert teacher.post("/teacher/lab/s01/reset", headers=SITE).status_code == 409
    busy = teacher.post("/teacher/exercise", json={"exercise": "ns2-stale"}, headers=SITE)
    assert busy.json() == {"started": ["s02"], "busy": ["s01"]}
    release.set()
    wait_for("the reset's end", lambda: action(app, "s01").get("ok") is True, timeout=5,
             every=0.01)
    assert action(app, "s01")["line"] == "lab s01: reset"
    wait_for("s02's start", lambda: ("start", "s02", "ns2-stale") in asked, timeout=5,
             every=0.01)
    assert asked.count(("reset", "s01")) == 1 and ("start", "s01", "ns2-stale") not in asked


def test_an_exercise_is_started_or_stopped_in_one_lab_and_a_bad_body_is_400(
        server: Any, work: Any) -> None:
    app, roster = server
    asked, _ = work
    teacher = signed_in(app, roster.teacher_token)
    for body in ({}, {"exercise": "no-such"}, {"stop": "yes"}, [1]):
        r = teacher.post("/teacher/lab/s02/exercise", json=body, headers=SITE)
        assert r.status_code == 400 and "ns2-stale" in r.json()["exercises"]
    assert teacher.post("/teacher/lab/s02/exercise", json={"exercise": "ns2-stale"},
                        headers=SITE).json() == {"started": ["s02"], "busy": []}
    wait_for("the start", lambda: asked == [("start", "s02", "ns2-stale")], timeout=5,
             every=0.01)
    wait_for("s02 free again", lambda: action(app, "s02").get("running") is False, timeout=5,
             every=0.01)
    teacher.post("/teacher/lab/s02/exercise", json={"stop": True}, headers=SITE)
    wait_for("the stop", lambda: asked[-1] == ("stop", "s02"), timeout=5, every=0.01)
    assert action(app, "s01") == {}


def test_a_failed_action_says_why_in_one_line(server: Any, monkeypatch: Any) -> None:
    from lab.model.errors import LabError

    app, roster = server

    def fails(base: Any, name: str, say: Any) -> str:
        raise LabError(f"lab {name} did not come up again", "db1: unhealthy", "class up")

    monkeypatch.setattr(lesson, "reset", fails)
    signed_in(app, roster.teacher_token).post("/teacher/lab/s01/reset", headers=SITE)
    wait_for("the failure", lambda: action(app, "s01").get("ok") is False, timeout=5,
             every=0.01)
    assert action(app, "s01")["line"] == ("lab s01 did not come up again: db1: unhealthy "
                                          "(hint: class up)")
