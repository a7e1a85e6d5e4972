"""The teacher's seat at a student's terminal: the lab's sessions listed,
a live one watched (read-only until "take the keyboard"), any one replayed
in the page with asciinema-player, each goal's first moment marked.

  GET /teacher/lab/NAME/terminals        the lab's sessions (page)
  WS  /teacher/lab/NAME/watch?session=ID the session's bytes as they come
  GET /teacher/lab/NAME/replay/ID        asciinema-player on the cast
  GET /teacher/lab/NAME/cast/ID          the cast file (asciicast v2)

Only the teacher's session opens any of them; everything else (a student's
own lab included) gets the one forbidden body, and a WebSocket is refused
before its handshake (403).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from lab.classweb import casts, class_pages, grades
from lab.engine.lab import Lab
from lab.model.config import REPO, LabConfig
from lab.model.roster import TEACHER

PLAYER = REPO / "web" / "node_modules" / "asciinema-player" / "dist" / "bundle"


class Server(Protocol):
    """What the teacher's pages (the seat, lesson_controls) ask of the class
    server (class_server.ClassServer)."""

    base: LabConfig
    labs: dict[str, Lab]
    recorder: casts.Recorder

    def principal(self, conn: HTTPConnection, touch: bool = True) -> str | None: ...
    def _origin_ok(self, conn: HTTPConnection) -> bool: ...
    @staticmethod
    def forbidden() -> Response: ...


class Seat:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.recorder = server.recorder

    def routes(self) -> list[BaseRoute]:
        return [Route("/teacher/lab/{name}/terminals", self.terminals),
                WebSocketRoute("/teacher/lab/{name}/watch", self.watch),
                Route("/teacher/lab/{name}/replay/{sid}", self.replay),
                Route("/teacher/lab/{name}/cast/{sid}", self.cast),
                Mount("/static/asciinema-player", StaticFiles(directory=PLAYER,
                                                              check_dir=False))]

    def _lab(self, conn: HTTPConnection) -> str | None:
        """The lab NAME of the path, for the teacher's session only."""
        name = str(conn.path_params.get("name", ""))
        ok = name in self.server.labs and self.server.principal(conn) == TEACHER
        return name if ok else None

    async def terminals(self, request: Request) -> Response:
        name = self._lab(request)
        if name is None:
            return self.server.forbidden()
        return HTMLResponse(class_pages.terminals(name, self.recorder.sessions(name)))

    async def cast(self, request: Request) -> Response:
        name = self._lab(request)
        path = self.recorder.path(name, request.path_params["sid"]) if name else None
        if path is None:
            return self.server.forbidden()
        return FileResponse(path, media_type="application/x-asciicast")

    async def replay(self, request: Request) -> Response:
        name = self._lab(request)
        sid = request.path_params["sid"]
        path = self.recorder.path(name, sid) if name else None
        if name is None or path is None:
            return self.server.forbidden()
        row = next((r for r in self.recorder.sessions(name) if r["id"] == sid), {})
        marks = casts.markers(float(row.get("started") or 0),
                              float(row.get("ended") or path.stat().st_mtime),
                              grades.goals_met(self.server.labs[name].config))
        return HTMLResponse(class_pages.replay(name, sid, marks))

    async def watch(self, ws: WebSocket) -> None:
        """The session's output as the student sees it; {"take": true} then
        {"in": keys} types into it, {"take": false} gives the keyboard back."""
        name = self._lab(ws)
        live = self.recorder.find(name, ws.query_params.get("session", "")) if name else None
        if live is None or not self.server._origin_ok(ws):
            await ws.close(code=1008)  # before accept: the handshake gets 403
            return
        await ws.accept()
        took = False
        try:
            with self.recorder.watch(live) as queue:
                live.tell()

                async def pump() -> None:
                    while (data := await queue.get()) is not None:
                        await ws.send_bytes(data)

                pumping = asyncio.create_task(pump())
                try:
                    while not pumping.done():
                        receive = asyncio.ensure_future(ws.receive_text())
                        done, _ = await asyncio.wait({receive, pumping},
                                                     return_when=asyncio.FIRST_COMPLETED)
                        if receive not in done:
                            receive.cancel()
                            break
                        message = casts.json_object(receive.result())
                        if "take" in message:
                            took = live.teacher_typing = bool(message["take"])
                            live.tell()
                        elif "in" in message and took:
                            keys = str(message["in"])
                            self.recorder.typed(live, keys)
                            await live.send(keys.encode())
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass  # the teacher's page went, or the session did
                finally:
                    pumping.cancel()
        finally:  # even when cancelled: the student is told
            live.teacher_typing = live.teacher_typing and not took
            live.tell()  # one watcher fewer
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close()
