"""The writer's marked orders end to end, without a lab: the key it makes
and how it hands it to its child, the orders it sends, and the data goal
reading a faked database (lab.exercises.goals.writes_kept)."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.drills import verdicts
from lab.engine.lab import Lab
from lab.exercises import goals, writer
from lab.exercises.definitions import Started
from lab.model.config import LabConfig
from lab.probes import pages

TAG = "ex1234abcd"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    lab = Lab(LabConfig(state_dir=tmp_path))
    monkeypatch.setattr(lab, "address_of", lambda host: "10.1.1.11")
    return lab


def test_start_keeps_the_key_0600_on_this_side_and_passes_it_by_path(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[list[str]] = []

    class Child:
        pid = 4242

        def __init__(self, argv: list[str], **_kw: Any) -> None:
            spawned.append(argv)

    monkeypatch.setattr(subprocess, "Popen", Child)
    writer.start(lab, TAG)
    path = writer.key_path(lab, TAG)
    assert path.parent == writer.folder(lab) == writer.log_path(lab, TAG).parent
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = writer.exercise_key(lab, TAG)
    assert len(key) == 32
    argv = spawned[0]
    assert argv[argv.index("--key-file") + 1] == str(path)
    assert not any(path.read_text().strip() in a for a in argv)  # the key itself: never
    with pytest.raises(FileExistsError):  # one key per exercise, never replaced
        writer.make_key(lab, TAG)


def test_orders_carry_a_mark_and_no_writer_tag(
        lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = bytes(range(32))
    key_file = tmp_path / "k"
    key_file.write_text(key.hex())
    sent: list[str] = []

    def fetch(_address: str, path: str, **_kw: Any) -> pages.WebResponse:
        sent.append(path)
        return pages.WebResponse(200, "web1", "{}", None)

    monkeypatch.setattr(pages, "fetch", fetch)
    monkeypatch.setattr(writer, "EVERY", 0.01)
    log = tmp_path / "w.log"
    writer.main(["--log", str(log), "--tag", TAG, "--address", "10.1.1.11",
                 "--seconds", "0.05", "--key-file", str(key_file)])
    assert sent and sent[0] == f"/db.php?write=1&seq=1&note={verdicts.mark(key, TAG, 1)}"
    assert not any("writer=" in p or TAG in p for p in sent)
    assert writer.parse(log.read_text())[0] == list(range(1, len(sent) + 1))


def kept(lab: Lab, monkeypatch: pytest.MonkeyPatch, acked: int,
         rows: Callable[[bytes], list[dict[str, Any]]]) -> tuple[bool, str]:
    """The data goal on db1, the writer's log saying 1..acked acknowledged
    and the database holding rows(the exercise's key)."""
    key = writer.read_key(writer.make_key(lab, TAG))
    writer.log_path(lab, TAG).write_text("".join(f"{n} 200\n" for n in range(1, acked + 1)))
    queries: list[str] = []

    def query(_address: str, _pw: str, sql: str) -> list[dict[str, Any]]:
        queries.append(sql)
        return rows(key)

    monkeypatch.setattr(goals, "_running", lambda _lab, _host: True)
    monkeypatch.setattr(goals, "caught_up", lambda _lab, _host: False)  # judged once
    monkeypatch.setattr(goals, "admin_password", lambda _lab: "pw")
    monkeypatch.setattr(goals.mysql, "query", query)
    result = goals.writes_kept("db1")(lab, Started("replica-broken", "s", {}, writer=TAG))
    assert queries and all("writer" not in q for q in queries)  # by marks, not a column
    return result


def marked(key: bytes, *seqs: int) -> list[dict[str, Any]]:
    return [{"seq": s, "note": verdicts.mark(key, TAG, s)} for s in seqs]


def test_the_data_goal_passes_the_honest_history(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                 ) -> None:
    ok, seen = kept(lab, monkeypatch, 4, lambda key: marked(key, 1, 2, 3, 4))
    assert ok and seen == "db1: 4 acknowledged, all there once", seen


def test_tampered_the_data_goal_fails_a_hand_typed_order(lab: Lab,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    """Gold test, tampered: order 3, acknowledged, is gone; the student
    types in a row numbered 3 that looks like the others."""
    ok, seen = kept(lab, monkeypatch, 4, lambda key: [
        *marked(key, 1, 2, 4), {"seq": 3, "note": verdicts.mark(bytes(32), TAG, 3)}])
    assert not ok and "rows whose mark does not verify (not counted), seq [3]" in seen, seen
    assert "lost [3]" in seen


def test_the_data_goal_fails_an_acknowledged_then_deleted_order(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, seen = kept(lab, monkeypatch, 4, lambda key: marked(key, 1, 2, 4))
    assert not ok and seen == "db1: lost [3]", seen


def test_the_graders_test_order_looks_like_the_writers(lab: Lab) -> None:
    key = writer.read_key(writer.make_key(lab, TAG))
    writer.log_path(lab, TAG).write_text("1 200\n2 200\n")
    path = writer.probe(lab, TAG)
    head, _, note = path.rpartition("&note=")
    seq = int(head.rpartition("seq=")[2])
    assert head == f"/db.php?write=1&seq={seq}" and 1 <= seq <= 3
    assert verdicts.claims_an_order(note) and note == verdicts.mark(key, TAG + verdicts.PROBE, seq)
