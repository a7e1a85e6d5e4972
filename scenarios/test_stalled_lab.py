"""Issue 31: one lab cannot stall the grading of the class.

Two labs of a roster class (v01 and v02, their own state folder) run
sessions-lost. In v01 the student's web servers answer /session.php one
byte every 2 s, forever. `foolab class collect` still ends within two
minutes with v02 graded from its lab and v01's goals failed, saying what
did not answer; and v02's Check through the class server answers while
v01's is stuck.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from teaching import foolab_in, roster_class

from lab.classweb.class_server import running
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.config import LabConfig
from lab.model.roster import Roster

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

LABS = ("v01", "v02")
ROSTER = "name,email\nTrickle Tina,tina@school.example\nSteady Sam,sam@school.example\n"
# A page that never ends: one byte every 2 s (sleep is not PHP's CPU time).
TRICKLE = ("<?php while (ob_get_level()) { ob_end_flush(); }\n"
           "while (true) { echo 'x'; flush(); sleep(2); }\n")
SESSION_PAGE = "/var/www/html/session.php"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stalled")


@pytest.fixture(scope="module")
def school(state: Path) -> Iterator[tuple[LabConfig, Roster]]:
    with roster_class(state, ROSTER, "v") as (base, roster):
        started = foolab_in(state, "class", "exercise", "sessions-lost")
        assert started.returncode == 0, started.stderr[-2000:]
        trickler = Lab(base.for_lab("v01"))
        for web in trickler.topology.webs:  # web1's minute push would copy it anyway
            out = trickler.exec(web, ["sh", "-c", f"cat > {SESSION_PAGE}"], input=TRICKLE)
            assert out.returncode == 0, out.stderr
        for web in trickler.topology.webs:  # PHP looks for a changed script every 2 s
            wait_for(f"{web} trickling", lambda w=web: trickler.exec(w, [
                "curl", "-s", "-m", "3", "-H", "Host: www.foo.com",
                "http://127.0.0.1/session.php"]).returncode == 28,  # curl's time-out
                timeout=30, every=1)
        yield base, roster


def test_class_collect_ends_with_every_other_lab_graded(
        school: tuple[LabConfig, Roster], state: Path) -> None:
    t0 = time.monotonic()
    out = foolab_in(state, "class", "collect", "--format", "json", timeout=150)
    took = time.monotonic() - t0
    assert out.returncode == 0, out.stderr[-2000:]
    assert took < 120, f"class collect took {took:.0f} s"
    assert out.stdout.strip(), out.stderr[-3000:]
    rows = {r["lab"]: r for r in json.loads(out.stdout)}
    assert rows["v02"]["exercise"] == "sessions-lost" and rows["v02"]["goals"]
    steady = json.loads((state / "class" / "v02" / "goals-met.json").read_text())
    assert not any("no answer" in g["seen"] or "no whole answer" in g["seen"]
                   for g in steady["goals"]), steady
    stalled = json.loads((state / "class" / "v01" / "goals-met.json").read_text())
    symptom = next(g for g in stalled["goals"] if g["name"].startswith("a session survives"))
    assert not symptom["passed"] and "within" in symptom["seen"], symptom


def test_a_check_answers_while_another_labs_check_is_stuck(
        school: tuple[LabConfig, Roster]) -> None:
    base, roster = school
    with running(base) as (url, app):
        def check(token: str, lab: str) -> tuple[int, float]:
            """A student's Check as their browser asks it: link, then POST."""
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            opener.open(f"{url}/join/{token}", timeout=10).close()
            t0 = time.monotonic()
            request = urllib.request.Request(f"{url}/lab/{lab}/check", method="POST",
                                             headers={"Origin": url}, data=b"")
            try:
                with opener.open(request, timeout=130) as answer:
                    return answer.status, time.monotonic() - t0
            except urllib.error.HTTPError as exc:  # 504: no answer within its deadline
                return exc.code, time.monotonic() - t0

        stuck = threading.Thread(target=check, args=(roster.students[0].token, "v01"),
                                 daemon=True)
        stuck.start()  # v01's Check: its pages trickle
        wait_for("v01's Check running", lambda: app.checks.busy("v01"), timeout=15,
                 every=0.1)
        status, seconds = check(roster.students[1].token, "v02")
        assert status == 200 and seconds < 60, (status, seconds)
        # v01's was still stuck when v02's came back (its goals wait up to
        # grader.GOAL_DEADLINE_S each): v02's did not wait for it
        assert app.checks.busy("v01"), "v01's Check had ended: nothing was stuck"
        stuck.join(timeout=130)
