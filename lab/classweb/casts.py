"""Every terminal session of a class, recorded on the teacher's side and
watched live by the teacher.

Each shell a student's page opens is written, as it happens, in asciinema's
cast format (v2: a JSON header line, then one `[seconds, "o"|"i"|"r", data]`
line per event) to the lab's state folder on this machine, never inside the
lab, where a student is root. `class down` keeps the casts aside with the
grades (classroom.clear). A live session also fans its output out to the
teacher's watching pages; the teacher may take the keyboard, and the
student's page is told both (`{"watch": {...}}` text frames).

Bounded: a session stops recording at SESSION_CAP and the class's casts at
CLASS_CAP, each said in the cast, in the session list and on stderr.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from lab.exercises.classroom import CASTS  # in a lab's state folder, kept by class down

SESSION_CAP = 4 * 1024 * 1024  # bytes of one session's cast
CLASS_CAP = 512 * 1024 * 1024  # bytes of all the class's casts
TAIL = 64 * 1024  # the output a teacher who starts watching late is sent first
WATCH_QUEUE = 256  # chunks a slow watching page may fall behind before it is dropped
ID = re.compile(r"^[a-z0-9]+-\d{8}-\d{6}-\d+$")  # host-YYYYmmdd-HHMMSS-n

Send = Callable[[bytes], Awaitable[None]]
Tell = Callable[[dict[str, Any]], None]  # sent by the student page's own loop


@dataclass
class Watcher:
    """A teacher's page: its queue, and the event loop that reads it."""

    queue: asyncio.Queue[bytes | None]
    loop: asyncio.AbstractEventLoop

    def put(self, data: bytes | None) -> bool:
        """Queue data (None: the end) from any loop; False when it is full."""
        if self.queue.full() and data is not None:
            return False
        if _running() is self.loop:
            _put(self.queue, data)
        else:
            self.loop.call_soon_threadsafe(_put, self.queue, data)
        return True


def _running() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _put(queue: asyncio.Queue[bytes | None], data: bytes | None) -> None:
    with contextlib.suppress(asyncio.QueueEmpty):
        if queue.full():  # the end always finds room
            queue.get_nowait()
    queue.put_nowait(data)


async def on_loop(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any]) -> Any:
    """Await `coro` on `loop` (the student page's own) from whichever loop
    asks: the teacher's page may be served by another (tests' clients are)."""
    if _running() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))  # type: ignore[arg-type]


@dataclass
class Live:
    """One open terminal: its cast file, its watchers, who types."""

    lab: str
    host: str
    id: str
    started: float
    out: TextIO | None  # None: not recorded (the class's cap)
    send: Send  # keys to the shell
    tell_student: Tell
    size: int = 0
    capped: str = ""
    teacher_typing: bool = False
    watchers: dict[int, Watcher] = field(default_factory=dict)
    tail: bytearray = field(default_factory=bytearray)
    _text: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    _sized: bool = False

    def _event(self, kind: str, data: str, recorder: Recorder) -> None:
        if self.out is None or self.capped:
            return
        line = json.dumps([round(time.time() - self.started, 3), kind, data]) + "\n"
        if self.size + len(line) > SESSION_CAP or not recorder.take(len(line), self.lab):
            self.capped = (f"recording stopped at {self.size} bytes: the "
                           + ("session's cap" if self.size + len(line) > SESSION_CAP
                              else "lab's share of the class's cap"))
            note = json.dumps([round(time.time() - self.started, 3), "o",
                               f"\r\n[{self.capped}]\r\n"]) + "\n"
            self.out.write(note)
            self.out.flush()
            print(f"[{self.lab}] {self.host} session {self.id}: {self.capped}", file=sys.stderr)
            return
        self.out.write(line)
        self.out.flush()
        self.size += len(line)

    def watching(self) -> dict[str, Any]:
        return {"watching": len(self.watchers), "typing": self.teacher_typing}

    def tell(self) -> None:
        """The student's page says whether the teacher watches or types."""
        self.tell_student(self.watching())


class Recorder:
    """The class's terminal sessions: live ones in memory, all on disk under
    each lab's state folder (`folder(lab)`)."""

    def __init__(self, folder: Callable[[str], Path]) -> None:
        self.folder = folder
        self.live: dict[str, dict[str, Live]] = {}
        self._n = itertools.count(1)
        self._used = 0
        self._by_lab: dict[str, int] = {}
        self._labs = 1

    def _casts(self, lab: str) -> Path:
        return self.folder(lab) / CASTS

    def take(self, n: int, lab: str) -> bool:
        """Room for n more bytes in the class's casts and in the lab's equal
        share of them: one student opening session after session cannot
        leave the others unrecorded."""
        mine = self._by_lab.get(lab, 0)
        if self._used + n > CLASS_CAP or mine + n > CLASS_CAP // self._labs:
            return False
        self._used += n
        self._by_lab[lab] = mine + n
        return True

    def count_existing(self, labs: list[str]) -> None:
        """The class's labs share the cap; what is on disk already counts."""
        self._labs = max(len(labs), 1)
        self._by_lab = {lab: sum(p.stat().st_size for p in self._casts(lab).glob("*.cast"))
                        for lab in labs}
        self._used = sum(self._by_lab.values())

    def open(self, lab: str, host: str, send: Send, tell_student: Tell,
             cols: int = 80, rows: int = 24) -> Live:
        started = time.time()
        sid = f"{host}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}-{next(self._n)}"
        out: TextIO | None = None
        folder = self._casts(lab)
        folder.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"version": 2, "width": cols, "height": rows,
                             "timestamp": int(started), "title": f"{lab} {host}",
                             "env": {"TERM": "xterm-256color"}}) + "\n"
        live = Live(lab, host, sid, started, None, send, tell_student)
        if self.take(len(header), lab):
            out = (folder / f"{sid}.cast").open("w", encoding="utf-8")
            out.write(header)
            out.flush()
            live.out, live.size = out, len(header)
        else:
            live.capped = "not recorded: the class's recordings are full"
            print(f"[{lab}] {host} session {sid}: {live.capped}", file=sys.stderr)
        self.live.setdefault(lab, {})[sid] = live
        return live

    def output(self, live: Live, data: bytes) -> None:
        """Shell output: into the cast, the tail and every watcher's queue."""
        live._event("o", live._text.decode(data), self)
        live.tail += data
        del live.tail[:-TAIL]
        for key, watcher in list(live.watchers.items()):
            if not watcher.put(data):  # a page that cannot keep up is let go
                del live.watchers[key]
                watcher.put(None)

    def typed(self, live: Live, keys: str) -> None:
        live._event("i", keys, self)

    def resized(self, live: Live, cols: int, rows: int) -> None:
        live._event("r", f"{cols}x{rows}", self)

    def close(self, live: Live) -> None:
        self.live.get(live.lab, {}).pop(live.id, None)
        for watcher in live.watchers.values():
            watcher.put(None)
        live.watchers.clear()
        if live.out is not None:
            live.out.close()

    def find(self, lab: str, sid: str) -> Live | None:
        return self.live.get(lab, {}).get(sid)

    @contextlib.contextmanager
    def watch(self, live: Live) -> Iterator[asyncio.Queue[bytes | None]]:
        """A watcher's queue, first holding what the screen showed so far."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(WATCH_QUEUE)
        queue.put_nowait(bytes(live.tail))
        key = id(queue)
        live.watchers[key] = Watcher(queue, asyncio.get_running_loop())
        try:
            yield queue
        finally:
            live.watchers.pop(key, None)

    def path(self, lab: str, sid: str) -> Path | None:
        """The cast file of a session id that is one (never a path a URL made)."""
        if not ID.match(sid):
            return None
        path = self._casts(lab) / f"{sid}.cast"
        return path if path.is_file() else None

    def sessions(self, lab: str) -> list[dict[str, Any]]:
        """Every recorded session of the lab, newest first, live ones marked."""
        rows = []
        for path in sorted(self._casts(lab).glob("*.cast"), reverse=True):
            with path.open(encoding="utf-8") as f:
                header = json_object(f.readline())
            live = self.find(lab, path.stem)
            rows.append({"id": path.stem, "host": path.stem.split("-")[0],
                         "started": header.get("timestamp"), "ended": None if live
                         else int(path.stat().st_mtime), "bytes": path.stat().st_size,
                         "live": live is not None, "capped": live.capped if live else "",
                         "watching": len(live.watchers) if live else 0})
        return rows


def json_object(text: str) -> dict[str, Any]:
    """A JSON object from a page or a cast's header line; {} for anything else."""
    with contextlib.suppress(ValueError):
        doc = json.loads(text)
        if isinstance(doc, dict):
            return doc
    return {}


def markers(started: float, ended: float, goals: list[dict[str, Any]]) -> list[list[Any]]:
    """asciinema-player markers: each goal first met during the session, at
    its second from the session's start (grades keep `first_met`)."""
    out = []
    for goal in goals:
        when = goal.get("first_met")
        if not when:
            continue
        with contextlib.suppress(ValueError):
            t = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S%z").timestamp()
            if started <= t <= ended:
                out.append([round(t - started, 1), f"{goal['name']} met"])
    return sorted(out)
