"""The teacher's seat at a student's terminal, without Docker (the engine's
exec replaced by a socket pair): every session recorded as an asciicast v2
on the teacher's side, watched live, the keyboard taken only on purpose,
replayed with the goals marked, none of it open to a student.
(scenarios/test_class_in_browser.py does the same in a real browser.)"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import test_classweb
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_classweb import WS_ORIGIN, signed_in

from lab.classweb import access, casts, grades, terminal
from lab.engine.waiting import wait_for
from lab.exercises import classroom

server = test_classweb.server  # the class server of a roster of two, no Docker


@pytest.fixture
def shells(monkeypatch: Any) -> list[socket.socket]:
    """The far end of each shell the server opens."""
    opened: list[socket.socket] = []

    def open_terminal(container: str, argv: Any, env: Any) -> tuple[str, socket.socket]:
        ours, shell = socket.socketpair()
        opened.append(shell)
        return f"exec-{len(opened)}", ours

    monkeypatch.setattr(terminal.client, "open_terminal", open_terminal)
    monkeypatch.setattr(terminal.client, "terminal_pid", lambda exec_id: None)
    monkeypatch.setattr(terminal.client, "resize_terminal", lambda *a: None)
    return opened


def headers(c: TestClient) -> dict[str, str]:
    return {"Cookie": f"{access.COOKIE}={c.cookies[access.COOKIE]}", "Origin": WS_ORIGIN}


def cast_of(app: Any, lab: str) -> list[Any]:
    (path,) = (app.labs[lab].config.state_dir / classroom.CASTS).glob("*.cast")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_students_session_is_an_asciicast_v2_kept_on_the_teachers_side(
        server: Any, shells: list[socket.socket]) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    with c.websocket_connect("/lab/s01/terminal?host=web1", headers=headers(c)) as ws:
        wait_for("the shell", lambda: shells, timeout=5, every=0.01)
        ws.send_text(json.dumps({"size": [100, 30]}))
        ws.send_text(json.dumps({"in": "hostname\n"}))
        assert shells[0].recv(100) == b"hostname\n"
        shells[0].sendall("web1 caf\u00e9"[:-1].encode() + "\u00e9".encode()[:1])
        assert ws.receive_bytes()
        shells[0].sendall("\u00e9".encode()[1:] + b"\r\n")  # a character split in two
        assert ws.receive_bytes()
    shells[0].close()
    header, *events = cast_of(app, "s01")
    assert header["version"] == 2 and header["title"] == "s01 web1"
    assert [e[1:] for e in events if e[1] != "o"] == [["r", "100x30"], ["i", "hostname\n"]]
    assert "".join(e[2] for e in events if e[1] == "o") == "web1 caf\u00e9\r\n"
    assert all(a[0] <= b[0] for a, b in zip(events, events[1:], strict=False))


def test_the_teacher_watches_live_types_only_after_taking_the_keyboard_and_the_student_is_told(
        server: Any, shells: list[socket.socket]) -> None:
    app, roster = server
    student = signed_in(app, roster.students[0].token)
    teacher = signed_in(app, roster.teacher_token)
    with student.websocket_connect("/lab/s01/terminal?host=web1",
                                   headers=headers(student)) as mine:
        wait_for("the shell", lambda: shells, timeout=5, every=0.01)
        wait_for("the session", lambda: app.recorder.sessions("s01"), timeout=5, every=0.01)
        shells[0].sendall(b"before\r\n")
        assert mine.receive_bytes() == b"before\r\n"
        (row,) = app.recorder.sessions("s01")
        assert row["live"] and row["host"] == "web1"
        assert row["id"] in teacher.get("/teacher/lab/s01/terminals").text
        with teacher.websocket_connect(f"/teacher/lab/s01/watch?session={row['id']}",
                                       headers=headers(teacher)) as seat:
            assert seat.receive_bytes() == b"before\r\n"  # the screen so far
            assert json.loads(mine.receive_text()) == {"watch": {"watching": 1, "typing": False}}
            shells[0].sendall(b"web1\r\n")
            assert mine.receive_bytes() == b"web1\r\n" and seat.receive_bytes() == b"web1\r\n"
            seat.send_text(json.dumps({"in": "rm -rf /\n"}))  # read-only until taken
            seat.send_text(json.dumps({"take": True}))
            assert json.loads(mine.receive_text()) == {"watch": {"watching": 1, "typing": True}}
            seat.send_text(json.dumps({"in": "ls\n"}))
            assert shells[0].recv(100) == b"ls\n"
        assert json.loads(mine.receive_text()) == {"watch": {"watching": 0, "typing": False}}
    shells[0].close()


def test_no_student_opens_the_seat_of_any_lab_even_their_own(
        server: Any, shells: list[socket.socket]) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    with c.websocket_connect("/lab/s01/terminal?host=web1", headers=headers(c)):
        wait_for("the session", lambda: app.recorder.sessions("s01"), timeout=5, every=0.01)
        (row,) = app.recorder.sessions("s01")
        for lab in ("s01", "s02"):
            for path in (f"/teacher/lab/{lab}/terminals", f"/teacher/lab/{lab}/replay/{row['id']}",
                         f"/teacher/lab/{lab}/cast/{row['id']}"):
                r = c.get(path)
                assert (r.status_code, r.text) == (403, access.FORBIDDEN), path
            with pytest.raises(WebSocketDisconnect) as refused:
                with c.websocket_connect(f"/teacher/lab/{lab}/watch?session={row['id']}",
                                         headers=headers(c)):
                    pytest.fail("a student watched a terminal")
            assert refused.value.code == 1008
    shells[0].close()
    teacher = signed_in(app, roster.teacher_token)
    assert teacher.get(f"/teacher/lab/s01/cast/{row['id']}").status_code == 200
    for sid in ("..%2F..%2Froster", "web1-20260101-000000-1", "../grades"):
        assert teacher.get(f"/teacher/lab/s01/cast/{sid}").status_code in (403, 404)


def test_the_replay_marks_the_moments_each_goal_was_first_met(server: Any, shells: Any) -> None:
    app, roster = server
    c = signed_in(app, roster.students[0].token)
    with c.websocket_connect("/lab/s01/terminal?host=web1", headers=headers(c)):
        wait_for("the session", lambda: app.recorder.sessions("s01"), timeout=5, every=0.01)
        (row,) = app.recorder.sessions("s01")
        cfg = app.labs["s01"].config
        (cfg.state_dir / grades.RECORD).write_text(json.dumps({"goals": [
            {"name": "replica replicates", "first_met": grades._now()},
            {"name": "never met", "first_met": None},
            {"name": "before the session", "first_met": "2020-01-01T00:00:00+0000"}]}))
    shells[0].close()
    wait_for("the session's end", lambda: not app.recorder.sessions("s01")[0]["live"],
             timeout=5, every=0.01)
    page = signed_in(app, roster.teacher_token).get(f"/teacher/lab/s01/replay/{row['id']}")
    assert page.status_code == 200
    assert "replica replicates met" in page.text
    assert "never met met" not in page.text and "before the session" not in page.text


def test_recording_stops_at_the_sessions_cap_and_at_the_class_cap_and_says_so(
        tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    async def nothing(*_a: Any) -> None:
        return None

    monkeypatch.setattr(casts, "SESSION_CAP", 2000)
    recorder = casts.Recorder(lambda lab: tmp_path / lab)
    live = recorder.open("s01", "web1", nothing, nothing)
    for _ in range(100):
        recorder.output(live, b"x" * 100)
    recorder.close(live)
    (path,) = (tmp_path / "s01" / classroom.CASTS).glob("*.cast")
    assert path.stat().st_size < 2000 + 200
    assert "recording stopped" in path.read_text() and "session's cap" in live.capped
    assert "recording stopped" in capsys.readouterr().err
    monkeypatch.setattr(casts, "CLASS_CAP", recorder._used + 10)
    other = recorder.open("s02", "db1", nothing, nothing)
    assert other.out is None and "not recorded" in other.capped
    assert recorder.sessions("s02") == []


def test_one_lab_cannot_use_up_the_class_s_recordings(tmp_path: Path,
                                                       monkeypatch: Any) -> None:
    async def nothing(*_a: Any) -> None:
        return None

    monkeypatch.setattr(casts, "CLASS_CAP", 20_000)
    recorder = casts.Recorder(lambda lab: tmp_path / lab)
    recorder.count_existing(["s01", "s02"])  # each lab's share: 10,000 bytes
    for _ in range(30):  # session after session, each filled
        live = recorder.open("s01", "web1", nothing, nothing)
        for _ in range(10):
            recorder.output(live, b"x" * 500)
        recorder.close(live)
    assert recorder._by_lab["s01"] <= 10_000
    theirs = recorder.open("s02", "web1", nothing, nothing)
    recorder.output(theirs, b"still recorded")
    recorder.close(theirs)
    assert theirs.out is not None and not theirs.capped


def test_a_session_id_from_a_url_never_names_another_file(tmp_path: Path) -> None:
    recorder = casts.Recorder(lambda lab: tmp_path / lab)
    (tmp_path / "s01").mkdir()
    (tmp_path / "s01" / "secrets.cast").write_text("{}")
    assert [recorder.path("s01", s) for s in ("../secrets", "secrets", "", "a/b-1")] == [None] * 4


def test_class_down_keeps_the_casts_aside_with_the_grades(tmp_path: Path, monkeypatch: Any,
                                                          server: Any) -> None:
    app, _ = server
    cfg = app.labs["s01"].config
    (cfg.state_dir / classroom.CASTS).mkdir(parents=True)
    (cfg.state_dir / classroom.CASTS / "web1-20261207-000000-1.cast").write_text("{}\n")
    monkeypatch.setattr(classroom, "KEPT", tmp_path / "kept")
    said: list[str] = []
    kept = classroom.clear(cfg, said.append)
    assert kept is not None and (kept / classroom.CASTS / "web1-20261207-000000-1.cast").exists()
    assert not cfg.state_dir.exists() and "terminal recordings" in said[0]
