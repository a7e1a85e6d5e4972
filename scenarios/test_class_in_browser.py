"""Issue 21: students in their own lab from a browser, and nowhere else.

Two students from a roster (labs r01 and r02, their own state folder, so a
teacher's class on this machine is left alone), the class server on a thread
and Debian's chromium driven by Selenium:
- A's secret link opens A's page; A's terminal on ns2 runs `hostname; dig`
  and shows the answers; from it, B's lab cannot be reached;
- A's session against B's page, stream, check and terminal socket: 403 each,
  one body; a socket from another site: refused;
- the teacher's grid shows A's db2 stopped, and back;
- the Check button shows the goals of a running exercise with hints;
- a wrong link: the login page with one line; a run of them: answered late;
- the teacher watches A's terminal live from the grid and replays it;
- the teacher starts an exercise in A's lab from the grid, resets it, stops it.
Screenshots go to reports/ (the README shows two of them).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from browsing import REPORTS, click, until
from teaching import foolab_in, require_docker

from lab.classweb import access
from lab.classweb.class_server import running
from lab.engine import addressing, client
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.config import LabConfig
from lab.model.roster import Roster

LABS = ("r01", "r02")
ROSTER = "name,email\nAda Lovelace,ada@school.example\nAlan Turing,alan@school.example\n"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("class-state")


def foolab(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return foolab_in(state, *args, timeout=timeout)


@pytest.fixture(scope="module")
def engine() -> None:
    """The engine and the lab's images (`make test` builds them first); the
    single lab itself is not needed."""
    require_docker()


@pytest.fixture(scope="module")
def school(engine: None, state: Path) -> Iterator[tuple[LabConfig, Roster]]:
    """Two students' labs from a roster, removed again whatever happens."""
    csv = state / "students.csv"
    csv.write_text(ROSTER)
    try:
        up = foolab(state, "class", "up", "--roster", str(csv), "--prefix", "r")
        assert up.returncode == 0, up.stderr[-2000:] + up.stdout[-2000:]
        base = replace(LabConfig.from_env(), state_dir=state, class_root=state / "class")
        roster = Roster.load(base.class_root)
        assert roster is not None and [s.lab for s in roster.students] == list(LABS)
        yield base, roster
    finally:
        for name in LABS:
            foolab(state, "--lab", name, "down")


@pytest.fixture(scope="module")
def server(school: tuple[LabConfig, Roster]) -> Iterator[str]:
    with running(school[0]) as (url, _app):
        yield url


def as_student(browser: Any, url: str, token: str) -> None:
    """Open a secret link and wait for the page it leads to."""
    browser.delete_all_cookies()
    browser.get(f"{url}/join/{token}")
    until(browser, "the page after the link", lambda d: "/join/" not in d.current_url
          and d.execute_script("return document.readyState") == "complete", 10)


def terminal_text(driver: Any) -> str:
    return str(driver.execute_script(
        "return document.querySelector('#terminal .xterm-rows')?.innerText || ''"))


def type_in_terminal(driver: Any, line: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "#terminal .xterm-helper-textarea").send_keys(line + "\n")


def open_shell(driver: Any, host: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "host")).select_by_value(host)
    driver.find_element(By.ID, "connect").click()
    until(driver, f"a shell on {host}",
          lambda d: d.execute_script("return document.body.dataset.terminal") == host, 15)


def test_a_students_link_opens_their_lab_and_a_terminal_in_it(
        browser: Any, server: str, school: tuple[LabConfig, Roster]) -> None:
    ada = school[1].students[0]
    as_student(browser, server, ada.token)
    until(browser, "Ada's page", lambda d: d.current_url.endswith("/lab/r01"), 10)
    until(browser, "seven healthy hosts", lambda d: d.execute_script(
        "return document.querySelectorAll('#cluster [data-state=healthy]').length") == 7, 30)
    open_shell(browser, "ns2")
    type_in_terminal(browser, "hostname; dig +short @10.1.1.2 www.foo.com")
    until(browser, "the three web servers' addresses",
          lambda d: all(a in terminal_text(d) for a in ("10.1.1.11", "10.1.1.12", "10.1.1.13"))
          and "ns2" in terminal_text(d).split("www.foo.com", 1)[-1], 15)
    REPORTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(REPORTS / "class-student.png"))


def test_from_a_students_terminal_another_lab_is_out_of_reach(
        browser: Any, server: str, school: tuple[LabConfig, Roster]) -> None:
    """Root in their lab, curious: B's containers are on another bridge, and
    the terminal's shell has no NET_ADMIN to change that."""
    b_web1 = client.inspect_container("foolabr02-web1")
    assert b_web1 is not None
    wire = next(iter(b_web1["NetworkSettings"]["Networks"].values()))["IPAddress"]
    as_student(browser, server, school[1].students[0].token)
    open_shell(browser, "ns2")
    type_in_terminal(browser, f"timeout 3 bash -c 'echo > /dev/tcp/{wire}/80'; echo far=$?; "
                     "timeout 3 bash -c 'echo > /dev/tcp/10.1.1.11/80'; echo near=$?; "
                     "ip addr add 10.1.1.99/24 dev eth0; echo netadmin=$?")
    until(browser, "the three answers", lambda d: "netadmin=" in terminal_text(d).replace(
        "echo netadmin", ""), 20)
    text = terminal_text(browser)
    assert "far=0" not in text and "near=0" in text and "netadmin=0" not in text, text


def session_of(browser: Any) -> str:
    return str(browser.get_cookie(access.COOKIE)["value"])


def test_a_students_session_opens_nothing_of_another_lab(
        browser: Any, server: str, school: tuple[LabConfig, Roster]) -> None:
    import httpx
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin

    as_student(browser, server, school[1].students[0].token)
    until(browser, "Ada's page", lambda d: d.current_url.endswith("/lab/r01"), 10)
    cookie = session_of(browser)
    page = browser.execute_script(
        "const s = async (p, o) => (await fetch(p, o)).status;"
        "return Promise.all([s('/lab/r02'), s('/lab/r02/events'), s('/lab/zz9'),"
        " s('/lab/r02/check', {method: 'POST'}), s('/teacher'), s('/lab/r01')]);")
    assert page == [403, 403, 403, 403, 403, 200]
    with httpx.Client(base_url=server, cookies={access.COOKIE: cookie}) as http:
        bodies = {http.get(p).text for p in ("/lab/r02", "/lab/zz9", "/lab/r02/events")}
    assert bodies == {access.FORBIDDEN}
    ws = server.replace("http", "ws")
    for path, origin in (("/lab/r02/terminal?host=ns2", server),
                         ("/lab/r01/terminal?host=ns2", "http://evil.example")):
        with pytest.raises(InvalidStatus) as refused:
            with connect(f"{ws}{path}", origin=Origin(origin),
                         additional_headers={"Cookie": f"{access.COOKIE}={cookie}"}):
                pytest.fail(f"{path} from {origin}: the socket opened")
        assert refused.value.response.status_code == 403
    with connect(f"{ws}/lab/r01/terminal?host=ns2", origin=Origin(server),
                 additional_headers={"Cookie": f"{access.COOKIE}={cookie}"}) as own:
        own.send(json.dumps({"in": "echo own-$((6*7))\r"}))
        seen = bytearray()

        def answered() -> bool:
            seen.extend(bytes(own.recv(timeout=5)))
            return b"own-42" in seen  # the shell's answer, not the echo of the line

        wait_for("Ada's own shell to answer", answered, 15)


def test_the_teacher_watches_a_students_terminal_live_and_replays_it(
        browser: Any, server: str, school: tuple[LabConfig, Roster]) -> None:
    """Issue 33: from the grid, the teacher opens A's live terminal; what A
    types shows there within a second, and A's page says the teacher is
    watching; A's own session opens no watch route; the finished session
    replays in the page with the same lines."""
    import contextlib

    from browsing import chromium
    from selenium.webdriver.common.by import By
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin

    ada, teacher_token = school[1].students[0], school[1].teacher_token
    as_student(browser, server, ada.token)
    open_shell(browser, "ns2")
    cookie = session_of(browser)
    with contextlib.contextmanager(chromium)() as teacher:
        as_student(teacher, server, teacher_token)
        click(teacher, "r01's row in the grid", '#grid tr[data-lab="r01"] a.terminals', 10)
        click(teacher, "A's live session listed", '#sessions tr[data-live="yes"] a.watch', 10)
        until(teacher, "the watch open", lambda d: d.execute_script(
            "return document.body.dataset.watching"), 10)
        until(browser, "A's page says the teacher watches", lambda d: d.execute_script(
            "return document.body.dataset.watched") == "watching", 5)
        assert "watching" in browser.find_element(By.ID, "watched").text
        type_in_terminal(browser, "echo seen-by-$((6*7)); hostname")
        until(teacher, "A's line on the teacher's screen, within 1 s",
              lambda d: "seen-by-42" in terminal_text(d), 1)
        # A's own session: no watch route, no session list, of any lab
        status = browser.execute_script(
            "const s = async (p) => (await fetch(p)).status;"
            "return Promise.all([s('/teacher/lab/r01/terminals'),"
            " s('/teacher/lab/r02/terminals')]);")
        assert status == [403, 403]
        sid = str(teacher.execute_script("return document.body.dataset.watching"))
        with pytest.raises(InvalidStatus) as refused:
            with connect(f"{server.replace('http', 'ws')}/teacher/lab/r01/watch?session={sid}",
                         origin=Origin(server),
                         additional_headers={"Cookie": f"{access.COOKIE}={cookie}"}):
                pytest.fail("a student's session watched a terminal")
        assert refused.value.response.status_code == 403
        browser.get(f"{server}/lab/r01")  # A leaves: the session ends
        teacher.get(f"{server}/teacher/lab/r01/replay/{sid}")
        until(teacher, "the replay's player", lambda d: d.execute_script(
            "return !!window.player && window.player.getDuration() > 0"), 10)
        teacher.execute_script("window.player.seek(window.player.getDuration())")  # its end
        until(teacher, "the same lines in the replay", lambda d: "seen-by-42" in str(
            d.execute_script("return document.querySelector('#player').textContent")), 10)
        REPORTS.mkdir(exist_ok=True)
        teacher.save_screenshot(str(REPORTS / "class-replay.png"))


def test_the_teachers_grid_follows_a_stopped_database(
        browser: Any, server: str, school: tuple[LabConfig, Roster]) -> None:
    as_student(browser, server, school[1].teacher_token)
    until(browser, "the teacher's grid", lambda d: d.current_url.endswith("/teacher"), 10)
    db2 = 'document.querySelector(\'#grid tr[data-lab="r01"] [data-host="db2"]\')?.dataset.state'
    until(browser, "r01's db2 healthy", lambda d: d.execute_script(f"return {db2}") == "healthy",
          30)
    try:
        client.stop("foolabr01-db2", grace=2)
        until(browser, "r01's db2 stopped", lambda d: d.execute_script(
            f"return {db2}") == "stopped", 10)
        other = ('document.querySelector(\'#grid tr[data-lab="r02"]\')?.dataset.healthy')
        assert browser.execute_script(f"return {other}") == "7/7"
        REPORTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(REPORTS / "class-teacher.png"))
    finally:  # started as foolab does: its lab address is added from outside
        addressing.start(school[0].for_lab("r01"), "foolabr01-db2")
    until(browser, "r01's db2 healthy again", lambda d: d.execute_script(
        f"return {db2}") == "healthy", 90)


def test_check_shows_each_goal_with_its_hint(
        browser: Any, server: str, school: tuple[LabConfig, Roster], state: Path) -> None:
    from selenium.webdriver.common.by import By

    started = foolab(state, "--lab", "r01", "exercise", "start", "ns2-stale")  # roster's seed
    assert started.returncode == 0, started.stderr
    try:
        as_student(browser, server, school[1].students[0].token)
        until(browser, "the brief", lambda d: "foo.com" in d.find_element(By.ID, "brief").text, 10)
        browser.find_element(By.ID, "check").click()
        until(browser, "the goals", lambda d: d.find_elements(By.CSS_SELECTOR, "#goals li"), 60)
        goals = browser.find_elements(By.CSS_SELECTOR, "#goals li")
        missed = [g.text for g in goals if g.get_attribute("data-passed") == "no"]
        assert missed and all(": " in t for t in missed), [g.text for g in goals]
        # graded from r01 itself: the record on the teacher's side says what
        # was seen (a grader that reached nothing fails goals as well)
        kept = json.loads((state / "class" / "r01" / "goals-met.json").read_text())
        follows = next(g for g in kept["goals"] if g["name"] == "ns2 answers like ns1")
        assert re.search(r"serials ns1 \d+, ns2 \d+", follows["seen"]), follows
    finally:
        foolab(state, "--lab", "r01", "exercise", "stop")


def test_the_teacher_runs_the_lesson_from_the_grid_and_resets_a_lab(
        browser: Any, server: str, school: tuple[LabConfig, Roster], state: Path) -> None:
    """Issue 33: from the grid, the teacher starts an exercise in A's lab
    (A's own seed), resets the lab (a fresh lab: what A left in it is gone;
    the same exercise again, the same seed), then stops it; each after a
    confirmation, its progress on A's row."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from lab.exercises import grader

    r01 = Lab(school[0].for_lab("r01"))
    row = '#grid tr[data-lab="r01"]'

    def act(button: str, what: str, timeout: float) -> None:
        click(browser, f"r01's {button} button", f"{row} button.{button}:not([disabled])", 10)
        browser.switch_to.alert.accept()  # the confirmation
        ended = until(browser, f"{what} ended on r01's row", lambda d: d.execute_script(
            f"const a = document.querySelector('{row} .action');"
            f"return a && a.textContent.startsWith('{button}') && a.dataset.state !== 'running'"
            " && [a.dataset.state, a.textContent]"), timeout)
        assert ended[0] == "done", ended[1]

    as_student(browser, server, school[1].teacher_token)
    try:
        Select(browser.find_element(By.ID, "exercise")).select_by_value("ns2-stale")
        act("start", "the exercise's start", 60)
        ran = grader.running(r01)
        assert ran is not None and ran.exercise == "ns2-stale"
        assert ran.seed == school[1].seed("r01")  # the student's own
        left = subprocess.run(["docker", "exec", "foolabr01-web1", "touch", "/root/left-by-a"],
                              capture_output=True)
        assert left.returncode == 0
        act("reset", "the reset", 240)
        again = grader.running(r01)
        assert again is not None and (again.exercise, again.seed) == (ran.exercise, ran.seed)
        gone = subprocess.run(["docker", "exec", "foolabr01-web1", "test", "-e",
                               "/root/left-by-a"], capture_output=True)
        assert gone.returncode == 1, "the reset lab still holds what A left in it"
        act("stop", "the exercise's stop", 60)
        assert grader.running(r01) is None
    finally:
        foolab(state, "--lab", "r01", "exercise", "stop")


def test_a_wrong_link_is_one_line_and_many_are_refused_for_a_while(
        browser: Any, server: str) -> None:
    """Last in this module: it leaves 127.0.0.1's wrong links answered late."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{server}/join/not-a-token")
    errors = browser.find_elements(By.ID, "error")
    assert len(errors) == 1 and "not valid" in errors[0].text
    assert browser.find_element(By.ID, "token")  # where to paste the right one
    for _ in range(access.WRONG_TOKENS):
        browser.get(f"{server}/join/still-wrong")
    assert "Too many wrong links" in browser.find_element(By.ID, "error").text


def test_no_lab_container_holds_the_engine_or_more_than_its_address(
        school: tuple[LabConfig, Roster]) -> None:
    """Root in every host of their lab, a student finds no Docker socket, no
    privileged container, nothing of this machine mounted (lab-address is in
    the images), and no capability beyond Docker's default set but NET_ADMIN,
    which a class container holds for its first command only."""
    for lab in LABS:
        for h in Lab(school[0].for_lab(lab)).topology.hosts:
            data = client.inspect_container(h.container)
            assert data is not None, h.container
            config = data["HostConfig"]
            assert not config.get("Privileged"), h.container
            assert set(config.get("CapAdd") or []) <= {"NET_ADMIN", "CAP_NET_ADMIN"}, h.container
            for m in data.get("Mounts") or []:  # Docker volumes of the lab only
                assert m["Type"] == "volume" and "docker.sock" not in m.get("Source", ""), (
                    h.container, m)
            # Not in the bounding set of PID 1's children: the daemons cannot get it back.
            status = subprocess.run(
                ["docker", "exec", h.container, "sh", "-c",
                 "grep CapBnd /proc/$(pgrep -o -P 1)/status"],
                text=True, capture_output=True, timeout=30).stdout.split()
            assert status and not int(status[-1], 16) & (1 << 12), (h.container, status)
