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
WebSocket must come from this site's own pages (Origin); wrong tokens are
counted per address (access.LoginLimit). It listens on 127.0.0.1 unless
told otherwise (`foolab class serve --listen`).

A Check runs on the server's own pool, one thread per lab at most (not
asyncio's default pool, which the terminals use): a student's lab that
stalls its grading holds no thread another lab's Check or terminal needs.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from lab.classweb import access, class_pages, grades, terminal
from lab.classweb.class_watch import ClassWatch
from lab.dashboard.server import bind, event_stream, on_thread, pushed
from lab.engine import client
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
HEADERS = {  # on every answer: nothing framed, sent elsewhere or loaded from elsewhere
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
POLL_S = 0.5  # how often an event stream looks for a newer document (24 pages: 48 looks/s)
# How long a Check's page waits for the grade: the same bound as a lab's in
# `class collect`; the check goes on past it, and a new click joins it.
CHECK_WAIT_S = grades.LAB_DEADLINE_S


class ClassServer:
    """The app and what it needs: the roster, sessions, the class's watcher."""

    def __init__(self, base: LabConfig, tls: bool = False,
                 watch: ClassWatch | None = None) -> None:
        self.base, self.tls = base, tls
        self.roster = require_roster(base)
        self.labs = {s.lab: Lab(base.for_lab(s.lab)) for s in self.roster.students}
        self.watch = watch or ClassWatch(base, {s.lab: s.name for s in self.roster.students})
        self.sessions = access.Sessions()
        self.limit = access.LoginLimit()
        self.stopping = threading.Event()
        # one worker per lab: with at most one Check per lab running, a
        # stalled lab's Check takes no other lab's place
        self._check_pool = ThreadPoolExecutor(max_workers=max(len(self.labs), 1),
                                              thread_name_prefix="check")
        self._checks: dict[str, asyncio.Future[dict[str, Any]]] = {}  # running, by lab
        self._collecting = threading.Event()
        self.app = Starlette(routes=[
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
        self.asgi = _with_headers(self.app)  # what uvicorn serves

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.watch.start()
        try:
            yield
        finally:
            self.stopping.set()
            self._check_pool.shutdown(wait=False, cancel_futures=True)
            await asyncio.to_thread(self.watch.stop)

    # -- who asks --

    def principal(self, conn: HTTPConnection) -> str | None:
        return self.sessions.principal(conn.cookies.get(access.COOKIE))

    def _origin_ok(self, conn: HTTPConnection) -> bool:
        """A POST or a WebSocket from this site's own pages: Origin is this
        site (browsers always send it on both)."""
        own = f"{'https' if self.tls else 'http'}://{conn.headers.get('host', '')}"
        return conn.headers.get("origin") == own

    def _allowed(self, conn: HTTPConnection) -> str | None:
        """The lab NAME of the path, when the session may open it."""
        name = str(conn.path_params.get("name", ""))
        if name in self.labs and access.may_open(self.principal(conn), name):
            return name
        return None

    @staticmethod
    def forbidden() -> Response:
        return HTMLResponse(access.FORBIDDEN, status_code=403)

    def _signed_in(self, principal: str, response: Response) -> Response:
        response.set_cookie(access.COOKIE, self.sessions.open(principal), httponly=True,
                            samesite="strict", secure=self.tls, path="/")
        return response

    def _where(self, principal: str) -> str:
        return "/teacher" if principal == roster_model.TEACHER else f"/lab/{principal}"

    def _try_token(self, request: Request, token: str) -> tuple[str | None, Response | None]:
        """The principal of a token, or the login page saying why not."""
        address = request.client.host if request.client else "?"
        wait = self.limit.refused_for(address)
        if wait:
            return None, HTMLResponse(class_pages.login(
                f"Too many wrong links from your address: try again in {wait:.0f} s."),
                status_code=429, headers={"Retry-After": str(int(wait) + 1)})
        principal = self.roster.principal(token)
        if principal is None:
            self.limit.wrong(address)
            return None, HTMLResponse(class_pages.login(
                "That link is not valid: check it, or ask your teacher for yours."),
                status_code=401)
        return principal, None

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
        principal, refused = self._try_token(request, (form.get("token") or [""])[0].strip())
        if refused or principal is None:
            return refused or self.forbidden()
        return self._signed_in(principal, RedirectResponse(self._where(principal), 303))

    async def join(self, request: Request) -> Response:
        principal, refused = self._try_token(request, str(request.path_params["token"]))
        if refused or principal is None:
            return refused or self.forbidden()
        return self._signed_in(principal, HTMLResponse(class_pages.joined(self._where(principal))))

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
        return self._stream(lambda: self.watch.doc(name))

    async def check(self, request: Request) -> Response:
        """The lab's grade; a click while one runs gets that one's answer."""
        name = self._allowed(request)
        if name is None or not self._origin_ok(request):
            return self.forbidden()
        if self.principal(request) == name:
            self.watch.note_activity(name)
        running = self._checks.get(name)
        if running is None:
            running = asyncio.get_running_loop().run_in_executor(
                self._check_pool, client.carried(functools.partial(
                    grades.self_check, self.labs[name].config)))
            self._checks[name] = running
            running.add_done_callback(lambda _f: self._checks.pop(name, None))
        try:
            result = await asyncio.wait_for(asyncio.shield(running), CHECK_WAIT_S)
        except TimeoutError:
            return JSONResponse({"error": f"{grader.no_answer(CHECK_WAIT_S)}: the lab's "
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
        await terminal.bridge(ws, self.labs[name], host,
                              on_input=(lambda: self.watch.note_activity(name)) if own else None)

    # -- the teacher --

    def _teacher(self, conn: HTTPConnection) -> bool:
        return self.principal(conn) == roster_model.TEACHER

    async def teacher(self, request: Request) -> Response:
        return HTMLResponse(class_pages.teacher()) if self._teacher(request) else self.forbidden()

    async def teacher_events(self, request: Request) -> Response:
        if not self._teacher(request):
            return self.forbidden()
        return self._stream(self.watch.rows)

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

    def _stream(self, latest: Callable[[], tuple[int, Any]]) -> Response:
        return event_stream(pushed(latest, self.stopping, POLL_S))


# --- serving ---------------------------------------------------------------------------


def _with_headers(app: ASGIApp) -> ASGIApp:
    """`app` with HEADERS on every HTTP answer (a plain ASGI wrapper: event
    streams and WebSockets pass through untouched)."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(HEADERS)
            await send(message)

        await app(scope, receive, with_headers)

    return wrapped


def require_xterm() -> None:
    if not (XTERM / "xterm" / "lib" / "xterm.js").exists():
        raise LabError("xterm.js is missing", str(XTERM),
                       "`make web` (scripts/install-web.sh) installs it from npm")


def _server(app: ClassServer, cert: Path | None = None, key: Path | None = None,
            ) -> uvicorn.Server:
    config = uvicorn.Config(app.asgi, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, ws="websockets-sansio",
                            ssl_certfile=str(cert) if cert else None,
                            ssl_keyfile=str(key) if key else None)
    return uvicorn.Server(config)


def serve(base: LabConfig, port: int, listen: str = "127.0.0.1", cert: Path | None = None,
          key: Path | None = None, ready: Callable[[str], None] | None = None) -> None:
    """Serve the class until interrupted (Ctrl-C)."""
    require_xterm()
    sock = bind(port, listen)
    app = ClassServer(base, tls=cert is not None)
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
