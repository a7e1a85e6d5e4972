"""`make bench ONLY=classroom`: a class of 24 in their browsers at once
(issue 21): keystroke echo through the terminal, and what the class server
costs with every page and terminal open, every terminal recorded and one
watched by the teacher (issue 33), and the recordings' bytes per student-hour.

The class (c01..c24, its own state folder: a teacher's roster is never
touched) runs `foolab class serve` in a process of its own. Each student is
a client here holding what an open page holds: the lab's event stream and a
terminal socket with a shell on the primary name server. Echo: one key at a time per terminal,
timed from the send to the byte coming back (the shell echoing it), round
after round over every terminal. Idle: the server process's CPU over a
window with all pages open and nobody typing, and its resident memory.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from lab.classweb.access import COOKIE
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.exercises import classroom
from lab.model.config import REPO, LabConfig
from lab.model.figures import Figure, Progress

STUDENTS = 24
PREFIX = "c"
ROUNDS = 20  # keystrokes per terminal
IDLE_S = 30.0


def _state() -> Path:
    return REPO / ".lab" / "bench-classroom"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve_class(state: Path) -> tuple[subprocess.Popen[str], str]:
    """`foolab class serve` for the class in `state`, in a process of its
    own on a free port of 127.0.0.1, once it answers; and its address."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "class", "serve", "--port", str(port)],
        cwd=REPO, env={**os.environ, "FOOLAB_STATE_DIR": str(state)}, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for("the class server", lambda: httpx.get(url + "/", timeout=2).status_code == 200, 30)
    return server, url


class Student:
    """What one open page holds: a session, the event stream, a terminal."""

    def __init__(self, url: str, token: str, lab: str, host: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.http.get(f"/join/{token}").raise_for_status()
        self.lab, self.docs = lab, 0
        self._stream = threading.Thread(target=self._listen, daemon=True)
        self._stream.start()
        self.term: ClientConnection = connect(
            url.replace("http", "ws") + f"/lab/{lab}/terminal?host={host}",
            origin=Origin(url), additional_headers={
                "Cookie": f"{COOKIE}={self.http.cookies[COOKIE]}"})
        self.term.send(json.dumps({"size": [100, 30]}))
        self._drain(b"#", 15)  # the prompt

    def _listen(self) -> None:
        try:
            with self.http.stream("GET", f"/lab/{self.lab}/events", timeout=None) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        self.docs += 1
        except httpx.HTTPError:
            return

    def _drain(self, want: bytes, timeout: float) -> None:
        seen = b""
        deadline = time.monotonic() + timeout
        while want not in seen:
            data = self.term.recv(timeout=max(0.1, deadline - time.monotonic()))
            seen += data if isinstance(data, bytes) else data.encode()

    def echo_ms(self, key: str) -> float:
        t0 = time.perf_counter()
        self.term.send(json.dumps({"in": key}))
        self._drain(key.encode(), 5)
        return (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        self.term.close()
        self.http.close()


class Watcher:
    """The teacher watching one student's live terminal (issue 33): every
    byte of it is sent a second time, to this socket, drained on a thread."""

    def __init__(self, url: str, token: str, lab: str, folder: Path) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.http.get(f"/join/{token}").raise_for_status()
        (cast,) = folder.glob("*.cast")  # the student's one session
        self.sock = connect(url.replace("http", "ws") +
                            f"/teacher/lab/{lab}/watch?session={cast.stem}", origin=Origin(url),
                            additional_headers={"Cookie": f"{COOKIE}={self.http.cookies[COOKIE]}"})
        self.bytes = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while True:
                self.bytes += len(self.sock.recv())
        except Exception:  # noqa: BLE001 (closed: the bench is over)
            return

    def close(self) -> None:
        self.sock.close()
        self.http.close()


def classroom_figures(lab: Lab, reps: int, progress: Progress,
                      students: int = STUDENTS) -> list[Figure]:
    """Echo p50/p99 with every terminal open, the server's idle CPU and memory."""
    state = _state()
    base = replace(LabConfig.from_env(), state_dir=state, class_root=state / "class")
    csv = state / "students.csv"
    state.mkdir(parents=True, exist_ok=True)
    csv.write_text("".join(f"Student {i:02d},student{i:02d}@bench.example\n"
                           for i in range(1, students + 1)))
    p50 = Figure("classroom keystroke echo p50", "ms", note=f"{students} students, each "
                 "with the page's event stream and a shell on the primary DNS open; one key at "
                 f"a time per terminal, {ROUNDS} rounds over all")
    p99 = Figure("classroom keystroke echo p99", "ms", note=p50.note + "; aim <= 50 ms")
    idle = Figure("class server idle CPU", "% of one core", note=f"`foolab class serve` "
                  f"with {students} pages and terminals open, nobody typing, over "
                  f"{IDLE_S:.0f} s; aim <= 5 %")
    memory = Figure("class server memory", "MiB", note=f"resident, {students} pages and "
                    "terminals open")
    recorded = Figure("recorded terminal bytes per student-hour", "KiB", note="every "
                      "terminal recorded (asciicast v2) while the bench types and idles; one "
                      "terminal watched by the teacher throughout")
    roster = classroom.enrol(base, csv, PREFIX)
    cfgs = [base.for_lab(s.lab) for s in roster.students]
    server: subprocess.Popen[str] | None = None
    opened: list[Student] = []
    try:
        progress(f"classroom: {students} labs up")
        failed = classroom.up(cfgs, progress).failed
        if failed:
            raise RuntimeError(f"labs did not come up: {', '.join(o.name for o in failed)}")
        server, url = serve_class(state)
        progress(f"classroom: {students} pages and terminals opening")
        shell_on = lab.topology.primary_dns
        opened = [Student(url, s.token, s.lab, shell_on) for s in roster.students]
        since = time.monotonic()
        watcher = Watcher(url, roster.teacher_token, opened[0].lab,
                          cfgs[0].state_dir / classroom.CASTS)
        wait_for("every page's first document", lambda: all(s.docs for s in opened), 60)
        for i in range(reps):
            progress(f"classroom: idle window {i + 1}/{reps}")
            c0, t0 = _cpu_s(server.pid), time.monotonic()
            time.sleep(IDLE_S)  # a measuring window, not a wait for a condition
            idle.runs.append(100 * (_cpu_s(server.pid) - c0) / (time.monotonic() - t0))
            memory.runs.append(_rss_mib(server.pid))
            echoes = [s.echo_ms("abcdefghij"[r % 10]) for r in range(ROUNDS) for s in opened]
            for s in opened:
                s.term.send(json.dumps({"in": "\x15"}))  # Ctrl-U: the typed line goes
            cuts = statistics.quantiles(echoes, n=100)
            p50.runs.append(statistics.median(echoes))
            p99.runs.append(cuts[98])
            hours = (time.monotonic() - since) / 3600
            cast_bytes = sum(p.stat().st_size for c in cfgs
                             for p in (c.state_dir / classroom.CASTS).glob("*.cast"))
            recorded.runs.append(cast_bytes / 1024 / students / hours)
        assert watcher.bytes > 0, "the teacher's watch carried nothing"
        watcher.close()
    finally:
        for s in opened:
            s.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        classroom.down(cfgs, progress)
        classroom.forget_roster(base)
    return [p50, p99, idle, memory, recorded]

