"""The class's roster, tokens and access checks, without Docker: every route
of the class server asked with the right session, another student's, none,
and from another site. (scenarios/test_class_in_browser.py asks the same of
a real server in a real browser.)"""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from lab import cli
from lab.classweb import access
from lab.classweb.class_server import ClassServer
from lab.model import roster as roster_model
from lab.model.config import LabConfig
from lab.model.errors import LabError

CSV = "name,email\nAda Lovelace,ada@school.example\nAlan Turing,alan@school.example\n"


# --- the roster -----------------------------------------------------------------------


def test_roster_reads_names_and_emails_with_or_without_a_header() -> None:
    people = roster_model.parse(CSV)
    assert people == [("Ada Lovelace", "ada@school.example"),
                      ("Alan Turing", "alan@school.example")]
    assert roster_model.parse("Ada,ada@school.example\n") == [("Ada", "ada@school.example")]


@pytest.mark.parametrize("text, line, says", [
    ("name,email\nAda,ada@school.example,extra\n", 2, "3 columns"),
    ("Ada,ada@school.example\nAlan,not-an-address\n", 2, "is not an e-mail address"),
    ("Ada,ada@school.example\n,bob@school.example\n", 2, "no name"),
    ("Ada,ada@school.example\nAda2,ADA@school.example\n", 2, "already on line 1"),
])
def test_a_bad_roster_line_is_one_error_naming_the_line(text: str, line: int, says: str) -> None:
    with pytest.raises(LabError) as err:
        roster_model.parse(text, "class.csv")
    assert f"class.csv line {line}" in str(err.value) and says in str(err.value)
    assert "\n" not in str(err.value)


def test_seeds_differ_per_student_and_cannot_be_had_from_the_email_alone() -> None:
    one = roster_model.Roster().merged(roster_model.parse(CSV))
    other = roster_model.Roster().merged(roster_model.parse(CSV))  # another class secret
    a, b = (s.lab for s in one.students)
    assert (a, b) == ("s01", "s02")
    assert one.seed(a) != one.seed(b)
    assert one.seed(a) == one.seed(a) and one.seed(a) != other.seed(a)
    assert one.seed("s99") is None


def test_enrolling_again_keeps_labs_and_links_and_adds_new_students(tmp_path: Path) -> None:
    first = roster_model.Roster().merged(roster_model.parse(CSV))
    path = first.save(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = roster_model.Roster.load(tmp_path)
    assert again is not None
    more = again.merged(roster_model.parse(CSV + "Grace Hopper,grace@school.example\n"))
    assert [(s.lab, s.token) for s in more.students[:2]] == [
        (s.lab, s.token) for s in first.students]
    assert more.students[2].lab == "s03" and more.secret == first.secret


def test_a_token_opens_its_own_lab_only() -> None:
    r = roster_model.Roster().merged(roster_model.parse(CSV))
    assert r.principal(r.students[0].token) == "s01"
    assert r.principal(r.students[1].token) == "s02"
    assert r.principal(r.teacher_token) == roster_model.TEACHER
    assert r.principal(r.students[0].token[:-1]) is None and r.principal("") is None


def test_wrong_tokens_are_refused_for_a_while() -> None:
    now = [1000.0]
    limit = access.LoginLimit(limit=20, window_s=300, clock=lambda: now[0])
    for _ in range(19):
        limit.wrong("10.0.0.7")
    assert limit.refused_for("10.0.0.7") == 0
    limit.wrong("10.0.0.7")
    assert limit.refused_for("10.0.0.7") == pytest.approx(300)
    assert limit.refused_for("10.0.0.8") == 0  # per address
    now[0] += 301
    assert limit.refused_for("10.0.0.7") == 0


def test_class_up_with_a_bad_roster_starts_nothing(tmp_path: Path, capsys: Any,
                                                   monkeypatch: Any) -> None:
    monkeypatch.setenv("FOOLAB_STATE_DIR", str(tmp_path / "state"))
    bad = tmp_path / "class.csv"
    bad.write_text("Ada,ada@school.example\nAlan,alan\n")
    assert cli.main(["class", "up", "--roster", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("foolab: error: class.csv line 2:") and "\n" not in err
    assert not (tmp_path / "state" / "class" / roster_model.FILE_NAME).exists()


# --- the server's access checks -------------------------------------------------------


class StillWatch:
    """The class watcher's reading side, with nothing to watch."""

    def __init__(self, labs: list[str]) -> None:
        self.labs = labs

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def note_activity(self, lab: str) -> None: ...

    def doc(self, lab: str) -> tuple[int, dict[str, Any]]:
        return 1, {"lab": lab}

    def rows(self) -> tuple[int, list[dict[str, Any]]]:
        return 1, [{"lab": n} for n in self.labs]


@pytest.fixture
def server(tmp_path: Path) -> tuple[ClassServer, roster_model.Roster]:
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster = roster_model.Roster().merged(roster_model.parse(CSV))
    roster.save(base.class_root)
    return ClassServer(base, watch=StillWatch(["s01", "s02"])), roster  # type: ignore[arg-type]


def signed_in(server: ClassServer, token: str) -> TestClient:
    c = TestClient(server.app, base_url="http://127.0.0.1:8080")
    page = c.get(f"/join/{token}")
    assert page.status_code == 200
    return c


def opened(c: TestClient, path: str) -> str:
    """The first line of a page (an event stream never ends); a 403's body."""
    with c.stream("GET", path) as r:
        lines = r.iter_lines()
        first = next(lines, "")
        if r.status_code == 403:
            return first + "".join(lines)
        assert r.status_code == 200, (path, r.status_code)
        return first


def test_the_link_sets_a_strict_http_only_cookie(server: Any) -> None:
    app, roster = server
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    r = c.get(f"/join/{roster.students[0].token}")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "/lab/s01" in r.text


def test_a_student_opens_their_lab_and_nothing_else(server: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    assert c.get("/lab/s01").status_code == 200
    assert opened(c, "/lab/s01/events").startswith("retry:")
    forbidden = ["/lab/s02", "/lab/s02/events", "/lab/s99", "/lab/s99/events", "/teacher",
                 "/teacher/events", "/teacher/grades.csv"]
    assert [opened(c, p) for p in forbidden] == [access.FORBIDDEN] * len(forbidden)
    check = c.post("/lab/s02/check", headers={"Origin": "http://127.0.0.1:8080"})
    assert (check.status_code, check.text) == (403, access.FORBIDDEN)
    nobody = TestClient(app.app)
    assert nobody.get("/lab/s01").status_code == 403 and nobody.get("/lab/s01").text == (
        access.FORBIDDEN)


def test_the_teacher_opens_every_lab_and_the_grid(server: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.teacher_token)
    assert [c.get(p).status_code for p in ("/lab/s01", "/lab/s02", "/teacher")] == [200] * 3


def test_a_terminal_socket_of_another_lab_or_site_is_refused(server: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    session = {"Cookie": f"{access.COOKIE}={c.cookies[access.COOKIE]}"}  # not sent by itself
    for path, origin in (("/lab/s02/terminal?host=web1", "http://127.0.0.1:8080"),
                         ("/lab/s01/terminal?host=web1", "http://evil.example"),
                         ("/lab/s01/terminal?host=console", "http://127.0.0.1:8080"),
                         ("/lab/s01/terminal?host=web1", "")):
        with pytest.raises(WebSocketDisconnect) as refused:
            with c.websocket_connect(path, headers={**session, **(
                    {"Origin": origin} if origin else {})}):
                pytest.fail(f"{path} from {origin!r}: the socket was accepted")
        assert refused.value.code == 1008


def test_a_wrong_token_is_the_login_page_with_one_line(server: Any) -> None:
    app, _ = server
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    r = c.get("/join/not-a-token")
    assert r.status_code == 401 and r.text.count('role="alert"') == 1
    assert "access" not in r.headers.get("set-cookie", "")
    for _ in range(access.WRONG_TOKENS):
        c.post("/login", data={"token": "wrong"}, headers={"Origin": "http://127.0.0.1:8080"})
    assert c.get("/join/not-a-token").status_code == 429


def test_every_answer_forbids_framing_and_other_sites(server: Any) -> None:
    app, _ = server
    r = TestClient(app.asgi).get("/")
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


# --- the grade table ------------------------------------------------------------------


def _grade(passed: tuple[bool, bool], exercise: str = "replica-broken") -> Any:
    from lab.exercises.definitions import GoalResult, Grade

    return Grade("s01", exercise, "seed1", tuple(
        GoalResult(n, p, 2, f"look at {n}", "symptom", "") for n, p in zip(
            ("db2 replicates", "no write lost"), passed, strict=True)))


def test_each_goal_keeps_when_it_was_first_met(tmp_path: Path, monkeypatch: Any) -> None:
    from lab.classweb import grades

    cfg = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class").for_lab("s01")
    cfg.state_dir.mkdir(parents=True)
    times = iter(["t1", "t2", "t3", "t4"])
    monkeypatch.setattr(grades, "_now", lambda: next(times))
    grades.record(cfg, _grade((True, False)))
    doc = grades.record(cfg, _grade((True, True)))  # the first goal: still t1
    assert [g["first_met"] for g in doc["goals"]] == ["t1", "t2"]
    doc = grades.record(cfg, _grade((False, False), "master-dead"))  # another exercise
    assert [g["first_met"] for g in doc["goals"]] == [None, None]
    from lab.exercises.definitions import Started

    grid = grades.last_check(cfg, Started("master-dead", "seed1", {}))
    assert grid is not None and (grid["passed"], grid["of"], grid["at"]) == (0, 2, "t3")
    assert grades.last_check(cfg, Started("replica-broken", "seed1", {})) is None


def test_the_grade_table_has_a_row_per_student_and_a_column_per_goal(tmp_path: Path) -> None:
    from lab.classweb import grades

    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster_model.Roster().merged(roster_model.parse(CSV)).save(base.class_root)
    cfg = base.for_lab("s01")
    cfg.state_dir.mkdir(parents=True)
    grades.record(cfg, _grade((True, False)))
    lines = grades.table(base).render("csv").splitlines()
    assert lines[0].endswith("db2 replicates first met,no write lost first met")
    assert lines[1].startswith("Ada Lovelace,ada@school.example,s01,replica-broken,2,4,")
    assert lines[2].startswith("Alan Turing,alan@school.example,s02,,")


# --- a stalled lab's Check ---------------------------------------------------------------

SITE = {"Origin": "http://127.0.0.1:8080"}


def _in_background(c: TestClient, path: str) -> tuple[threading.Thread, list[Any]]:
    """POST `path` on a thread of its own: its answer in the list, once there."""
    answer: list[Any] = []
    thread = threading.Thread(target=lambda: answer.append(c.post(path, headers=SITE)),
                              daemon=True)
    thread.start()
    return thread, answer


def _stalling_checks(monkeypatch: pytest.MonkeyPatch, stalled: str, hung: threading.Event,
                     ) -> list[str]:
    """self_check for every lab: `stalled`'s waits for `hung`. Returns the
    threads each check ran on, in order."""
    from lab.classweb import grades

    ran_on: list[str] = []

    def self_check(cfg: LabConfig) -> dict[str, Any]:
        ran_on.append(threading.current_thread().name)
        if cfg.lab == stalled:
            hung.wait(30)
        return {"exercise": "ns2-stale", "points": 1, "out_of": 1, "goals": [], "lab": cfg.lab}

    monkeypatch.setattr(grades, "self_check", self_check)
    return ran_on


def test_a_stalled_check_holds_up_no_other_lab_and_a_second_click_joins_it(
        server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, roster = server
    hung = threading.Event()
    ran_on = _stalling_checks(monkeypatch, "s01", hung)
    try:
        with TestClient(app.app, base_url="http://127.0.0.1:8080") as c:
            assert c.get(f"/join/{roster.teacher_token}").status_code == 200
            first, first_answer = _in_background(c, "/lab/s01/check")
            waited = time.monotonic() + 5
            while not ran_on and time.monotonic() < waited:
                time.sleep(0.02)
            second, second_answer = _in_background(c, "/lab/s01/check")
            t0 = time.monotonic()
            other = c.post("/lab/s02/check", headers=SITE)
            assert (other.status_code, other.json()["lab"]) == (200, "s02")
            assert time.monotonic() - t0 < 2
            assert not first_answer and not second_answer  # s01's still runs
            hung.set()
            first.join(5)
            second.join(5)
    finally:
        hung.set()
    assert [r.json()["lab"] for r in first_answer + second_answer] == ["s01", "s01"]
    assert len(ran_on) == 2  # s01 once (the second click joined it), s02 once
    assert all(name.startswith("check") for name in ran_on)  # not asyncio's default pool


def test_the_teachers_collect_does_not_block_a_students_check(
        server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.classweb import grades

    app, roster = server
    hung = threading.Event()
    _stalling_checks(monkeypatch, "nobody", hung)
    monkeypatch.setattr(grades, "collect", lambda _base, _say: hung.wait(30))
    try:
        teacher = signed_in(app, roster.teacher_token)
        assert teacher.post("/teacher/collect", headers=SITE).status_code == 202
        assert teacher.post("/teacher/collect", headers=SITE).status_code == 409  # one at once
        student = signed_in(app, roster.students[1].token)
        t0 = time.monotonic()
        assert student.post("/lab/s02/check", headers=SITE).status_code == 200
        assert time.monotonic() - t0 < 2
    finally:
        hung.set()
