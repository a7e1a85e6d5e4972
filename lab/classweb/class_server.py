"""The class's web server: every route checks who asks before anything else.

  GET  /join/TOKEN          a secret link: a session cookie, then the lab page
  GET  /  POST /login       the login page; a token pasted by hand
  POST /logout
  GET  /lab/NAME            the student's page          } the student of NAME
  GET  /lab/NAME/events     their lab, pushed (SSE)     } or the teacher;
  POST /lab/NAME/check      the self-check              } anyone else: 403,
  WS   /lab/NAME/terminal   ?host=web1: a shell there   } one body for all
  GET  /teacher, /teacher/events, /teacher/grades.{csv,json}; POST /teacher/collect

Cookies are HttpOnly and SameSite=Strict (Secure with TLS); a POST and a
WebSocket must come from this site's own pages (Origin); a right token always
signs in, wrong ones are answered later and later per address
(access.LoginLimit); a body over access.MAX_BODY is 413. The client's address
is the socket's peer, unless told the server sits behind a proxy
(`--behind-proxy`: Forwarded, X-Forwarded-For and -Proto, the proxy's last
word). It listens on 127.0.0.1 unless told otherwise (`foolab class serve
--listen`).

Checks run on the server's own pool (lab.classweb.checks).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from lab.classweb import access, casts, checks, class_pages, edge, grades, seat, terminal
from lab.classweb import lesson_controls as controls
from lab.classweb.class_watch import ClassWatch
from lab.dashboard.server import bind, event_stream, on_thread, pushed
from lab.engine.lab import Lab
from lab.exercises import grader
from lab.exercises.catalog import EXERCISES
from lab.exercises.classroom import require_roster
from lab.exercises.definitions import find
from lab.model import roster as roster_model
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
DASHBOARD_STATIC = HERE.parent / "dashboard" / "static"
XTERM = REPO / "web" / "node_modules" / "@xterm"
POLL_S = 0.5  # how often an event stream looks for a newer document (24 pages: 48 looks/s)


class ClassServer:
    """The app and what it needs: the roster, sessions, the class's watcher."""

    def __init__(self, base: LabConfig, tls: bool = False,
                 watch: ClassWatch | None = None, behind_proxy: bool = False) -> None:
        self.base, self.tls, self.behind_proxy = base, tls, behind_proxy
        self.roster = require_roster(base)
        self._roster_file = base.class_root / roster_model.FILE_NAME
        self._roster_seen = edge.stamp(self._roster_file)
        self.labs = {s.lab: Lab(base.for_lab(s.lab)) for s in self.roster.students}
        self.watch = watch or ClassWatch(base, {s.lab: s.name for s in self.roster.students})
        self.sessions = access.Sessions()
        self.limit = access.LoginLimit()
        self.pause: Callable[[float], Awaitable[None]] = asyncio.sleep  # a wrong token's wait
        self.stopping = threading.Event()
        self.checks = checks.Checks(len(self.labs))
        self._collecting = threading.Event()
        self.recorder = casts.Recorder(lambda lab: self.labs[lab].config.state_dir)
        self.recorder.count_existing(list(self.labs))
        self.lesson = controls.Lesson(self)  # the grid's start, stop and reset
        self.app = Starlette(routes=[*seat.Seat(self).routes(), *self.lesson.routes(),
            Route("/", self.home), Route("/login", self.login, methods=["POST"]),
            Route("/join/{token}", self.join), Route("/logout", self.logout, methods=["POST"]),
            Route("/lab/{name}", self.lab_page), Route("/lab/{name}/events", self.lab_events),
            Route("/lab/{name}/check", self.check, methods=["POST"]),
            WebSocketRoute("/lab/{name}/terminal", self.terminal),
            Route("/teacher", self.teacher), Route("/teacher/events", self.teacher_events),
            Route("/teacher/grades.{fmt}", self.grades),
            Route("/teacher/collect", self.collect, methods=["POST"]),
            Mount("/static/dashboard", StaticFiles(directory=DASHBOARD_STATIC)),
            Mount("/static/xterm-fit", StaticFiles(directory=XTERM / "addon-fit",
                                                   check_dir=False)),
            Mount("/static/xterm", StaticFiles(directory=XTERM / "xterm", check_dir=False)),
            Mount("/static", StaticFiles(directory=STATIC)),
        ], lifespan=self._lifespan)
        self.asgi = edge.with_headers(edge.bounded(self.app))  # what uvicorn serves

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.watch.start()
        try:
            yield
        finally:
            self.stopping.set()
            self.checks.shutdown()
            await asyncio.to_thread(self.watch.stop)

    # -- who asks --

    def principal(self, conn: HTTPConnection, touch: bool = True) -> str | None:
        if not self._class_on():
            return None
        return self.sessions.principal(conn.cookies.get(access.COOKIE), touch)

    def _class_on(self) -> bool:
        """The class this server started with is still there: `class down`
        takes the roster away, and every session ends with it (so does a
        roster of another class, with another secret)."""
        seen = edge.stamp(self._roster_file)
        if seen is not None and seen == self._roster_seen:
            return True
        try:
            now = roster_model.Roster.load(self.base.class_root)
        except (OSError, ValueError, KeyError, TypeError):
            return True  # being written: look again at the next request
        if now is not None and now.secret == self.roster.secret:
            self._roster_seen = seen  # enrolled again: the same class
            return True
        self.sessions.clear()
        return False

    def client_address(self, conn: HTTPConnection) -> str:
        """Whom the login brake counts: the socket's peer; behind a proxy
        (and only then: anyone may send these headers), the address the
        proxy says it saw."""
        if self.behind_proxy:
            address, _ = edge.forwarded(conn)
            if address:
                return address
        return conn.client.host if conn.client else "?"

    def scheme(self, conn: HTTPConnection) -> str:
        if self.behind_proxy:
            _, proto = edge.forwarded(conn)
            if proto in ("http", "https"):
                return proto
        return "https" if self.tls else "http"

    def _origin_ok(self, conn: HTTPConnection) -> bool:
        """A POST or a WebSocket from this site's own pages: Origin is this
        site (browsers always send it on both)."""
        own = f"{self.scheme(conn)}://{conn.headers.get('host', '')}"
        return conn.headers.get("origin") == own

    def _allowed(self, conn: HTTPConnection, touch: bool = True) -> str | None:
        """The lab NAME of the path, when the session may open it."""
        name = str(conn.path_params.get("name", ""))
        if name in self.labs and access.may_open(self.principal(conn, touch), name):
            return name
        return None

    @staticmethod
    def forbidden() -> Response:
        return HTMLResponse(access.FORBIDDEN, status_code=403)

    def _signed_in(self, conn: HTTPConnection, principal: str, response: Response) -> Response:
        response.set_cookie(access.COOKIE, self.sessions.open(principal), httponly=True,
                            samesite="strict", secure=self.scheme(conn) == "https", path="/")
        return response

    def _where(self, principal: str) -> str:
        return "/teacher" if principal == roster_model.TEACHER else f"/lab/{principal}"

    async def _try_token(self, request: Request, token: str,
                         ) -> tuple[str | None, Response | None]:
        """The principal of a token, or the login page saying why not. The
        token is looked at first (in constant time): a right one signs in
        whatever wrong ones came from the same address (a school's pupils
        share one); a wrong one is counted and, past the address's free
        ones, answered late (access.LoginLimit)."""
        principal = self.roster.principal(token) if self._class_on() else None
        if principal is not None:
            return principal, None
        wait = self.limit.wrong(self.client_address(request))
        if not wait:
            return None, HTMLResponse(class_pages.login(
                "That link is not valid: check it, or ask your teacher for yours."),
                status_code=401)
        await self.pause(wait)
        return None, HTMLResponse(class_pages.login(
            f"Too many wrong links from your address: this one was answered {wait:.0f} s "
            "late, the next will be later. Check yours, or ask your teacher."),
            status_code=429, headers={"Retry-After": str(math.ceil(wait))})

    # -- signing in --

    async def home(self, request: Request) -> Response:
        principal = self.principal(request)
        if principal:
            return RedirectResponse(self._where(principal), status_code=303)
        return HTMLResponse(class_pages.login())

    async def login(self, request: Request) -> Response:
        if not self._origin_ok(request):
            return self.forbidden()
        form = parse_qs((await request.body()).decode(errors="replace"))
        principal, refused = await self._try_token(
            request, (form.get("token") or [""])[0].strip())
        if refused or principal is None:
            return refused or self.forbidden()
        return self._signed_in(request, principal,
                               RedirectResponse(self._where(principal), 303))

    async def join(self, request: Request) -> Response:
        principal, refused = await self._try_token(request, str(request.path_params["token"]))
        if refused or principal is None:
            return refused or self.forbidden()
        return self._signed_in(request, principal,
                               HTMLResponse(class_pages.joined(self._where(principal))))

    async def logout(self, request: Request) -> Response:
        if not self._origin_ok(request):
            return self.forbidden()
        self.sessions.close(request.cookies.get(access.COOKIE))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(access.COOKIE, path="/")
        return response

    # -- a student's lab --

    async def lab_page(self, request: Request) -> Response:
        name = self._allowed(request)
        if name is None:
            return self.forbidden()
        lab = self.labs[name]
        started = grader.running(lab)
        brief = (find(EXERCISES, started.exercise).brief(started.params) if started else "")
        student = self.roster.by_lab(name)
        if self.principal(request) == name:
            self.watch.note_activity(name)
        return HTMLResponse(class_pages.student(
            lab.topology, name, student.name if student else name, brief,
            self.principal(request) == roster_model.TEACHER))

    async def lab_events(self, request: Request) -> Response:
        name = self._allowed(request)
        if name is None:
            return self.forbidden()
        # the student's view, whoever opens it: the teacher's grid has the rest
        return self._stream(lambda: self.watch.student_doc(name),
                            lambda: self._allowed(request, touch=False) == name)

    async def check(self, request: Request) -> Response:
        """The lab's grade; a click while one runs gets that one's answer."""
        name = self._allowed(request)
        if name is None or not self._origin_ok(request):
            return self.forbidden()
        if self.principal(request) == name:
            self.watch.note_activity(name)
        try:
            result = await self.checks.run(name, self.labs[name].config)
        except TimeoutError:
            return JSONResponse({"error": f"{grader.no_answer(checks.CHECK_WAIT_S)}: the lab's "
                                          "check goes on, click again later"}, status_code=504)
        except LabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(result)

    async def terminal(self, ws: WebSocket) -> None:
        name = self._allowed(ws)
        host = ws.query_params.get("host", "")
        if name is None or not self._origin_ok(ws) or host not in self.labs[name].topology.names:
            await ws.close(code=1008)  # before accept: the handshake gets 403
            return
        await ws.accept()
        own = self.principal(ws) == name
        sid = ws.cookies.get(access.COOKIE)

        def typed() -> None:  # a student at work: their session is in use
            self.sessions.principal(sid)
            if own:
                self.watch.note_activity(name)

        await terminal.bridge(ws, self.labs[name], host, self.recorder, on_input=typed)

    # -- the teacher --

    def _teacher(self, conn: HTTPConnection, touch: bool = True) -> bool:
        return self.principal(conn, touch) == roster_model.TEACHER

    async def teacher(self, request: Request) -> Response:
        if not self._teacher(request):
            return self.forbidden()
        return HTMLResponse(class_pages.teacher([e.name for e in EXERCISES]))

    async def teacher_events(self, request: Request) -> Response:
        if not self._teacher(request):
            return self.forbidden()
        return self._stream(lambda: self.lesson.grid(self.watch.rows()),
                            lambda: self._teacher(request, touch=False))

    async def grades(self, request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if not self._teacher(request) or fmt not in ("csv", "json"):
            return self.forbidden()
        text = (await asyncio.to_thread(grades.table, self.base)).render(fmt)
        return PlainTextResponse(text, media_type="text/csv" if fmt == "csv"
                                 else "application/json",
                                 headers={"Content-Disposition": f"inline; filename=grades.{fmt}"})

    async def collect(self, request: Request) -> Response:
        if not self._teacher(request) or not self._origin_ok(request):
            return self.forbidden()
        if self._collecting.is_set():
            return JSONResponse({"error": "grading is running"}, status_code=409)
        self._collecting.set()  # only collect looks: a student's Check never waits on it

        def run() -> None:
            try:
                grades.collect(self.base, lambda _m: None)
            finally:
                self._collecting.clear()

        threading.Thread(target=run, name="class-collect", daemon=True).start()
        return JSONResponse({"started": "grading every lab"}, status_code=202)

    # -- streams --

    def _stream(self, latest: Callable[[], tuple[int, Any]],
                still: Callable[[], bool]) -> Response:
        """Server-sent events while the session lasts: `still` is asked before
        each message (its ping included), and the stream ends when it says no."""
        async def messages() -> AsyncIterator[str]:
            async for message in pushed(latest, self.stopping, POLL_S):
                if not still():
                    return
                yield message

        return event_stream(messages())


# --- serving ---------------------------------------------------------------------------


def require_xterm() -> None:
    """xterm.js (the terminals) and asciinema-player (the teacher's replay)."""
    for need in (XTERM / "xterm" / "lib" / "xterm.js", seat.PLAYER / "asciinema-player.min.js"):
        if not need.exists():
            raise LabError(f"{need.name} is missing", str(need),
                           "`make web` (scripts/install-web.sh) installs it from npm")


def _server(app: ClassServer, cert: Path | None = None, key: Path | None = None,
            ) -> uvicorn.Server:
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1;
    # ClassServer.client_address reads them, and only when behind_proxy
    config = uvicorn.Config(app.asgi, log_level="warning", access_log=False, lifespan="on",
                            proxy_headers=False,
                            timeout_graceful_shutdown=2, ws="websockets-sansio",
                            ssl_certfile=str(cert) if cert else None,
                            ssl_keyfile=str(key) if key else None)
    return uvicorn.Server(config)


def serve(base: LabConfig, port: int, listen: str = "127.0.0.1", cert: Path | None = None,
          key: Path | None = None, ready: Callable[[str], None] | None = None,
          behind_proxy: bool = False) -> None:
    """Serve the class until interrupted (Ctrl-C); `behind_proxy`: believe
    the proxy headers (only then) for the client's address and scheme."""
    require_xterm()
    sock = bind(port, listen)
    app = ClassServer(base, tls=cert is not None, behind_proxy=behind_proxy)
    scheme = "https" if cert else "http"
    if ready:
        ready(f"{scheme}://{listen}:{sock.getsockname()[1]}/")
    try:
        _server(app, cert, key).run(sockets=[sock])
    finally:
        app.stopping.set()
        sock.close()


@contextmanager
def running(base: LabConfig, port: int = 0) -> Iterator[tuple[str, ClassServer]]:
    """The class server on a thread of this process (tests, the bench):
    yields its URL and the app; stops it at the end of the block."""
    require_xterm()
    app = ClassServer(base)
    with on_thread(_server(app), bind(port), app.stopping, "the class server") as url:
        yield url.rstrip("/"), app
