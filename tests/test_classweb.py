"""The class's roster, tokens and access checks, without Docker: every route
of the class server asked with the right session, another student's, none,
and from another site. (scenarios/test_class_in_browser.py asks the same of
a real server in a real browser.)"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from lab import cli
from lab.classweb import access
from lab.classweb.class_server import ClassServer
from lab.engine.waiting import wait_for
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
    assert one.seed(a) != other.seed(a)
    # the same student keeps their seed: the class saved and read back, and
    # the same class secret with the e-mail written otherwise
    import dataclasses

    again = dataclasses.replace(one, students=[dataclasses.replace(
        s, email=s.email.upper()) for s in one.students])
    assert again.seed(a) == one.seed(a) and again.seed(b) == one.seed(b)
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


def test_wrong_tokens_are_answered_later_and_later_per_address() -> None:
    now = [1000.0]
    limit = access.LoginLimit(free=3, window_s=300, first_delay_s=1, max_delay_s=8,
                              clock=lambda: now[0])
    waits = [limit.wrong("10.0.0.7") for _ in range(9)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 8, 8]
    assert limit.wrong("10.0.0.8") == 0  # per address
    now[0] += 301
    assert limit.wrong("10.0.0.7") == 0  # the window has passed: free again


def test_the_brake_remembers_a_bounded_number_of_addresses_for_a_while() -> None:
    now = [1000.0]
    limit = access.LoginLimit(free=1, window_s=300, max_addresses=3, clock=lambda: now[0])
    for address in ("a", "b", "c", "d"):
        limit.wrong(address)
    assert len(limit) == 3
    assert limit.wrong("a") == 0  # forgotten, the least recently wrong: its first again
    assert limit.wrong("d") > 0  # remembered
    now[0] += 301
    limit.wrong("e")
    assert len(limit) == 1  # the others' last wrong token is older than the window


def test_sessions_end_when_idle_and_are_bounded_per_principal_and_in_all() -> None:
    now = [0.0]
    sessions = access.Sessions(idle_s=10, per_principal=2, limit=4, clock=lambda: now[0])
    sid = sessions.open("s01")
    now[0] = 9
    assert sessions.principal(sid) == "s01"  # a use: idle from now
    now[0] = 18
    assert sessions.principal(sid, touch=False) == "s01"  # not a use
    now[0] = 19
    assert sessions.principal(sid) is None and len(sessions) == 0
    first, second, third = (sessions.open("s01") for _ in range(3))
    assert sessions.principal(first) is None  # a principal's oldest makes room
    assert sessions.principal(second) == sessions.principal(third) == "s01"
    others = [sessions.open(p) for p in ("s02", "s03", "s04")]
    assert len(sessions) == 4 and sessions.principal(second) is None  # least recently used
    assert [sessions.principal(o) for o in others] == ["s02", "s03", "s04"]
    sessions.clear()
    assert len(sessions) == 0


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


    def student_doc(self, lab: str) -> tuple[int, dict[str, Any]]:
        return self.doc(lab)


def held(app: ClassServer) -> list[float]:
    """How long the server held each wrong token's answer (not slept here)."""
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)

    app.pause = pause
    return waits


@pytest.fixture
def server(tmp_path: Path) -> tuple[ClassServer, roster_model.Roster]:
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster = roster_model.Roster().merged(roster_model.parse(CSV))
    roster.save(base.class_root)
    app = ClassServer(base, watch=StillWatch(["s01", "s02"]))  # type: ignore[arg-type]
    held(app)
    return app, roster


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


# The TestClient's sockets go to Host: testserver, whatever its base_url: a
# page of this site opening one sends this Origin.
WS_ORIGIN = "http://testserver"


def test_a_terminal_socket_of_another_lab_or_site_is_refused(server: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    session = {"Cookie": f"{access.COOKIE}={c.cookies[access.COOKIE]}"}  # not sent by itself
    for path, origin in (("/lab/s02/terminal?host=web1", WS_ORIGIN),
                         ("/lab/s01/terminal?host=web1", "http://evil.example"),
                         ("/lab/s01/terminal?host=console", WS_ORIGIN),
                         ("/lab/s01/terminal?host=web1", "http://127.0.0.1:8080"),
                         ("/lab/s01/terminal?host=web1", "")):
        with pytest.raises(WebSocketDisconnect) as refused:
            with c.websocket_connect(path, headers={**session, **(
                    {"Origin": origin} if origin else {})}):
                pytest.fail(f"{path} from {origin!r}: the socket was accepted")
        assert refused.value.code == 1008


def test_the_right_sessions_terminal_socket_is_accepted_and_carries_the_shell(
        server: Any, monkeypatch: Any) -> None:
    """The same checks let the lab's own student (and the teacher) in: the
    socket is accepted and bytes go both ways (the engine's exec replaced by
    a socket pair: no Docker)."""
    import json
    import socket

    from lab.classweb import terminal

    app, roster = server
    opened_on: list[str] = []
    shells: list[socket.socket] = []

    def open_terminal(container: str, argv: Any, env: Any) -> tuple[str, socket.socket]:
        ours, shell = socket.socketpair()
        opened_on.append(container)
        shells.append(shell)
        return "exec-1", ours

    monkeypatch.setattr(terminal.client, "open_terminal", open_terminal)
    monkeypatch.setattr(terminal.client, "terminal_pid", lambda exec_id: None)
    for token, name in ((roster.students[0].token, "s01"), (roster.teacher_token, "s01")):
        c = signed_in(app, token)
        headers = {"Cookie": f"{access.COOKIE}={c.cookies[access.COOKIE]}",
                   "Origin": WS_ORIGIN}
        before = len(shells)
        with c.websocket_connect(f"/lab/{name}/terminal?host=web1", headers=headers) as ws:
            # the shell is opened on a thread after the socket is accepted
            wait_for("the shell", lambda n=before: len(shells) > n, timeout=5, every=0.01)
            ws.send_text(json.dumps({"in": "hostname\n"}))
            assert shells[-1].recv(100) == b"hostname\n"
            shells[-1].sendall(b"web1\r\n")
            assert ws.receive_bytes() == b"web1\r\n"
        shells[-1].close()
    assert opened_on == [app.labs["s01"].topology.host("web1").container] * 2


def test_a_wrong_token_is_the_login_page_with_one_line(server: Any) -> None:
    app, _ = server
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    r = c.get("/join/not-a-token")
    assert r.status_code == 401 and r.text.count('role="alert"') == 1
    assert access.COOKIE not in r.headers.get("set-cookie", "") and not c.cookies
    for _ in range(access.WRONG_TOKENS):
        r = c.post("/login", data={"token": "wrong"},
                   headers={"Origin": "http://127.0.0.1:8080"})
        assert access.COOKIE not in r.headers.get("set-cookie", "")
    late = c.get("/join/not-a-token")
    assert late.status_code == 429 and late.text.count('role="alert"') == 1
    assert access.COOKIE not in late.headers.get("set-cookie", "") and not c.cookies


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
    (cfg.state_dir / "casts").mkdir()
    for sid in ("web1-20261207-101500-2", "ns2-20261207-100000-1"):
        (cfg.state_dir / "casts" / f"{sid}.cast").write_text("{}\n")
    lines = grades.table(base).render("csv").splitlines()
    assert lines[0].endswith(
        "db2 replicates first met,no write lost first met,terminal sessions")
    assert lines[1].startswith("Ada Lovelace,ada@school.example,s01,replica-broken,2,4,")
    assert lines[1].endswith(",ns2-20261207-100000-1 web1-20261207-101500-2")  # oldest first
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
    from lab.classweb import checks

    app, roster = server
    hung = threading.Event()
    ran_on = _stalling_checks(monkeypatch, "s01", hung)
    clicks: list[str] = []  # the Checks asked for, as the server took them
    real = checks.Checks.run

    async def counted(self: checks.Checks, name: str, cfg: LabConfig) -> dict[str, Any]:
        clicks.append(name)
        return await real(self, name, cfg)

    monkeypatch.setattr(checks.Checks, "run", counted)

    def until(condition: Callable[[], bool]) -> None:
        waited = time.monotonic() + 5
        while not condition() and time.monotonic() < waited:
            time.sleep(0.02)

    try:
        with TestClient(app.app, base_url="http://127.0.0.1:8080") as c:
            assert c.get(f"/join/{roster.teacher_token}").status_code == 200
            first, first_answer = _in_background(c, "/lab/s01/check")
            until(lambda: bool(ran_on))
            second, second_answer = _in_background(c, "/lab/s01/check")
            # the second click reached the server while the first still runs
            # (under load its thread may start late: it would then run anew)
            until(lambda: clicks.count("s01") == 2)
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


# --- a hostile class behind one address ---------------------------------------------------


def test_a_right_link_signs_in_whatever_wrong_links_came_before(server: Any) -> None:
    """A school's pupils share one address: a hundred wrong links from it
    (typos, `<img src=.../join/x>`) are answered later and later, and the
    next right link, a student's or the teacher's, still signs in at once."""
    app, roster = server
    waits = held(app)
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    codes = [c.get(f"/join/wrong-{i}").status_code for i in range(100)]
    assert codes == [401] * access.WRONG_TOKENS + [429] * (100 - access.WRONG_TOKENS)
    assert waits == sorted(waits) and waits[0] == access.FIRST_DELAY_S
    assert waits[-1] == access.MAX_DELAY_S and len(waits) == 100 - access.WRONG_TOKENS
    late = c.get("/join/wrong-again")
    assert int(late.headers["retry-after"]) >= access.MAX_DELAY_S
    before = len(waits)
    for token in (roster.students[0].token, roster.teacher_token):
        joined = TestClient(app.app, base_url="http://127.0.0.1:8080").get(f"/join/{token}")
        assert joined.status_code == 200 and access.COOKIE in joined.headers["set-cookie"]
    pasted = c.post("/login", data={"token": roster.students[1].token},
                    headers={"Origin": "http://127.0.0.1:8080"}, follow_redirects=False)
    assert pasted.status_code == 303 and pasted.headers["location"] == "/lab/s02"
    assert len(waits) == before  # a right token is never held


def test_every_session_ends_with_the_class(server: Any) -> None:
    """`class down` takes the roster away: a session opened before opens
    nothing after, and the link that made it no longer signs in."""
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    assert c.get("/lab/s01").status_code == 200
    (app.base.class_root / roster_model.FILE_NAME).unlink()
    assert c.get("/lab/s01").status_code == 403 and len(app.sessions) == 0
    assert c.get(f"/join/{roster.students[0].token}").status_code == 401


def test_a_session_survives_the_class_enrolled_again_not_another_class(server: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    roster.merged(roster_model.parse("Grace,grace@school.example\n")).save(app.base.class_root)
    assert c.get("/lab/s01").status_code == 200  # the same class, one more student
    roster_model.Roster().merged(roster_model.parse(CSV)).save(app.base.class_root)
    assert c.get("/lab/s01").status_code == 403  # another class secret


def test_a_body_over_the_limit_is_413_before_more_is_read(server: Any) -> None:
    import asyncio

    from lab.classweb.edge import bounded

    app, roster = server
    c = TestClient(app.asgi, base_url="http://127.0.0.1:8080")
    origin = {"Origin": "http://127.0.0.1:8080"}
    big = c.post("/login", content=b"token=" + b"x" * access.MAX_BODY, headers=origin)
    assert big.status_code == 413
    small = c.post("/login", data={"token": roster.students[0].token}, headers=origin,
                   follow_redirects=False)
    assert small.status_code == 303  # a body within the limit reaches the route whole

    read: list[int] = []
    sent: list[dict[str, Any]] = []
    reached: list[bytes] = []

    async def endless() -> dict[str, Any]:  # as good as: it ends after 100 kB
        read.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": len(read) < 100}

    async def send(message: Any) -> None:
        sent.append(message)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])

    def ask(length: str | None) -> None:
        read.clear(), sent.clear()
        said = [(b"content-length", length.encode())] if length is not None else []
        asyncio.run(bounded(inner)(
            {"type": "http", "method": "POST", "path": "/login", "headers": said},
            endless, send))

    ask(str(10 * access.MAX_BODY))  # said too long: nothing read
    assert (read, sent[0]["status"]) == ([], 413)
    ask(None)  # sent without a length, forever: refused once past the limit
    assert len(read) == access.MAX_BODY // 1000 + 1 and sent[0]["status"] == 413
    assert reached == []


def _request(headers: dict[str, str], peer: str = "10.0.0.1") -> Any:
    from starlette.requests import Request

    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "client": (peer, 5000), "headers": [
                        (k.lower().encode(), v.encode()) for k, v in headers.items()]})


def test_proxy_headers_are_believed_only_behind_a_proxy(server: Any) -> None:
    app, roster = server
    said = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"}
    assert app.client_address(_request(said)) == "10.0.0.1"  # off: the socket's peer
    assert app.scheme(_request(said)) == "http"
    app.behind_proxy = True
    assert app.client_address(_request(said)) == "203.0.113.9"  # the proxy's own word
    assert app.scheme(_request(said)) == "https"
    rfc = {"Forwarded": 'for=6.6.6.6, for="[2001:db8::7]:4711";proto=https'}
    assert (app.client_address(_request(rfc)), app.scheme(_request(rfc))) == (
        "2001:db8::7", "https")
    assert app.client_address(_request({})) == "10.0.0.1"


def test_forged_forwarded_for_does_not_dodge_the_brake(server: Any) -> None:
    app, _ = server
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    codes = [c.get("/join/x", headers={"X-Forwarded-For": f"10.1.{i}.1"}).status_code
             for i in range(access.WRONG_TOKENS + 1)]
    assert codes[-1] == 429  # every one counted against the socket's peer
    app.behind_proxy, app.limit = True, access.LoginLimit()
    codes = [c.get("/join/x", headers={"X-Forwarded-For": f"10.1.{i}.1"}).status_code
             for i in range(access.WRONG_TOKENS + 1)]
    assert codes[-1] == 401  # behind a proxy: each address its own


def test_behind_a_tls_proxy_the_cookie_is_secure_and_https_origins_pass(server: Any) -> None:
    app, roster = server
    app.behind_proxy = True
    c = TestClient(app.app, base_url="http://127.0.0.1:8080")
    proto = {"X-Forwarded-Proto": "https"}
    joined = c.get(f"/join/{roster.students[0].token}", headers=proto)
    assert "secure" in joined.headers["set-cookie"].lower()
    out = c.post("/logout", headers={**proto, "Origin": "https://127.0.0.1:8080"},
                 follow_redirects=False)
    assert out.status_code == 303


def test_class_serve_believes_proxy_headers_only_when_told(
        tmp_path: Path, monkeypatch: Any) -> None:
    from lab.classweb import class_server

    monkeypatch.setenv("FOOLAB_STATE_DIR", str(tmp_path / "state"))
    roster_model.Roster().merged(roster_model.parse(CSV)).save(tmp_path / "state" / "class")
    told: list[bool] = []
    monkeypatch.setattr(class_server, "serve", lambda *a, **kw: told.append(kw["behind_proxy"]))
    assert cli.main(["class", "serve"]) == 0
    assert cli.main(["class", "serve", "--behind-proxy"]) == 0
    assert told == [False, True]
    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "state" / "class")
    app = ClassServer(base, watch=StillWatch([]))  # type: ignore[arg-type]
    assert class_server._server(app).config.proxy_headers is False  # uvicorn's own: off


SEED = "5eed5eed5eed5eed"  # a student's seed, as roster.seed gives it


def _stream_doc(c: TestClient, path: str) -> Any:
    """The first document an event stream sends."""
    import json

    with c.stream("GET", path) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])
    raise AssertionError(f"{path} sent no document")


def test_a_student_is_sent_neither_the_seed_nor_the_variant(
        tmp_path: Path, monkeypatch: Any) -> None:
    """master-dead started with the variant `kill`: db1's fault says how,
    the event line says the seed. The student's page, stream and check show
    neither; the teacher's grid keeps both."""
    import contextlib

    from lab.classweb import grades
    from lab.classweb.class_watch import ClassWatch
    from lab.drills import faults
    from lab.engine.lab import Lab
    from lab.exercises import grader
    from lab.exercises.catalog import EXERCISES
    from lab.exercises.definitions import GoalResult, Grade, Started, find
    from lab.model import events

    base = LabConfig(state_dir=tmp_path, class_root=tmp_path / "class")
    roster = roster_model.Roster().merged(roster_model.parse(CSV))
    roster.save(base.class_root)
    lab = Lab(base.for_lab("s01"))
    state = lab.config.state_dir
    Started("master-dead", SEED, {"variant": "kill"}).save(state / grader.RECORD)
    events.record(state, events.EXERCISE_STARTED, f"exercise master-dead started (seed {SEED})")
    fault = faults.Fault("kill", "db1")
    faults._save(lab, [fault])
    events.record(state, events.FAULT_INJECTED, fault.describe(), "db1", key=fault.key)
    exercise = find(EXERCISES, "master-dead")
    monkeypatch.setattr(Lab, "network", lambda self: contextlib.nullcontext())
    monkeypatch.setattr(grades.grader, "grade", lambda lab, name: Grade(
        name, exercise.name, SEED, tuple(GoalResult(g.name, False, g.points, g.hint, g.kind,
                                                    f"db1 killed, seed {SEED}")
                                         for g in exercise.goals)))
    app = ClassServer(base, watch=ClassWatch(base, {"s01": "Ada", "s02": "Alan"}))
    teacher = signed_in(app, roster.teacher_token)
    grid = str(_stream_doc(teacher, "/teacher/events"))
    assert "kill" in grid  # the teacher's grid keeps the fault (so the data is there)
    c = signed_in(app, roster.students[0].token)
    page = c.get("/lab/s01").text
    doc = _stream_doc(c, "/lab/s01/events")
    check = c.post("/lab/s01/check", headers={"Origin": "http://127.0.0.1:8080"})
    assert check.status_code == 200 and check.json()["goals"]
    assert "master-dead started" in str(doc["events"])  # the line is there, not its seed
    for shown in (page, str(doc), check.text):
        assert SEED not in shown and "kill" not in shown.lower()
