"""The dashboard's web server: Starlette under uvicorn, on 127.0.0.1 only.

  GET  /              the page (hosts drawn from the topology model)
  GET  /static/...    its script and style sheet, shipped in this package
  GET  /api/state     the current document: `hosts` as `foolab status --json`
  GET  /api/events    server-sent events: the document each time it changes
  POST /api/fault     {kind, host, amount}   } only with --control, and only
  POST /api/heal                             } from the page itself (header
  POST /api/runbook   {name}                 } X-Foolab-Control: 1)
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lab.dashboard.page import html
from lab.dashboard.state import Watcher
from lab.drills import faults, runbooks
from lab.engine.lab import Lab
from lab.model import events
from lab.model.errors import LabError, TopologyError

HOST = "127.0.0.1"  # never another address: the buttons change the lab
STATIC = Path(__file__).resolve().parent / "static"
CONTROL_HEADER = "x-foolab-control"
PING_S = 15.0  # an SSE comment this often keeps proxies and browsers from giving up


async def pushed(latest: Callable[[], tuple[int, Any]], stopping: threading.Event,
                 every: float = 0.1) -> AsyncIterator[str]:
    """Server-sent events: the document each time its version changes (looked
    at every `every` s), a comment every PING_S s in between."""
    sent, quiet = -1, 0.0
    yield "retry: 1000\n\n"  # reconnect after a second if the server goes away
    while not stopping.is_set():
        version, doc = latest()
        if version != sent:
            sent, quiet = version, 0.0
            yield f"id: {version}\ndata: {json.dumps(doc, default=str)}\n\n"
        elif quiet >= PING_S:
            quiet = 0.0
            yield ": ping\n\n"
        await asyncio.sleep(every)
        quiet += every


def event_stream(messages: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(messages, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class Dashboard:
    """The app and what it needs: the lab, its watcher, one control action at a time."""

    def __init__(self, lab: Lab, control: bool = False, watcher: Watcher | None = None) -> None:
        self.lab, self.control = lab, control
        self.watcher = watcher or Watcher(lab)
        self.stopping = threading.Event()
        self._busy = threading.Lock()
        self.app = Starlette(routes=[
            Route("/", self.page),
            Route("/api/state", self.state),
            Route("/api/events", self.stream),
            Route("/api/fault", self.fault, methods=["POST"]),
            Route("/api/heal", self.heal, methods=["POST"]),
            Route("/api/runbook", self.runbook, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ], lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.watcher.start()
        try:
            yield
        finally:
            self.stopping.set()
            await asyncio.to_thread(self.watcher.stop)

    # -- reading --

    async def page(self, request: Request) -> Response:
        return HTMLResponse(html(self.lab.topology, self.lab.config.project, self.control),
                            headers={"Cache-Control": "no-store"})

    async def state(self, request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(self.watcher.current))

    async def stream(self, request: Request) -> Response:
        async def messages() -> AsyncIterator[str]:
            self.watcher.viewers += 1
            self.watcher.touch()
            try:
                async for message in pushed(self.watcher.latest, self.stopping):
                    yield message
            finally:
                self.watcher.viewers -= 1

        return event_stream(messages())

    # -- control --

    def _refused(self, request: Request) -> Response | None:
        if not self.control:
            return JSONResponse({"error": "read-only dashboard: start it with --control"},
                                status_code=403)
        if request.headers.get(CONTROL_HEADER) != "1":  # a cross-site form cannot set it
            return JSONResponse({"error": f"missing header {CONTROL_HEADER}: 1"},
                                status_code=403)
        return None

    def _start(self, what: str, action: Callable[[], None]) -> Response:
        """Run one action on a thread of its own; one at a time."""
        self.watcher.touch()  # a change is coming: poll at full speed
        if not self._busy.acquire(blocking=False):
            return JSONResponse({"error": "another action is still running"}, status_code=409)

        def run() -> None:
            try:
                action()
            except (LabError, TopologyError) as exc:
                events.record(self.lab.config.state_dir, events.NOTE,
                              f"{what} failed: {exc}", ok=False)
            finally:
                self._busy.release()

        threading.Thread(target=run, name=f"dashboard-{what}", daemon=True).start()
        return JSONResponse({"started": what}, status_code=202)

    async def fault(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        body: dict[str, Any] = await request.json()
        try:
            host = self.lab.topology.host(str(body.get("host"))).name
            fault = faults.Fault(str(body.get("kind")), host,
                                 amount=float(body.get("amount") or 0))
        except (LabError, TopologyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return self._start(f"inject {fault.describe()}", lambda: faults.inject(self.lab, fault))

    async def heal(self, request: Request) -> Response:
        return self._refused(request) or self._start("heal", lambda: _heal(self.lab))

    async def runbook(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        name = str((await request.json()).get("name"))
        if name not in runbooks.RUNBOOKS:
            return JSONResponse({"error": f"no runbook {name!r}"}, status_code=400)
        return self._start(f"runbook {name}", lambda: _run_book(self.lab, name))


def _heal(lab: Lab) -> None:
    if not faults.heal_all(lab):
        events.record(lab.config.state_dir, events.NOTE, "heal: no fault to heal")


def _run_book(lab: Lab, name: str) -> None:
    runbooks.execute(lab, runbooks.RUNBOOKS[name](lab))  # it records its own steps


# --- serving ---------------------------------------------------------------------------


def bind(port: int, host: str = HOST) -> socket.socket:
    """A listening socket on 127.0.0.1:port (0: any free port), or a one-line
    LabError. `host`: another address (the class server's --listen only)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LabError(f"port {port} on {host} is in use or not this machine's",
                       exc.strerror or str(exc), "choose another with --port") from None
    sock.listen(64)
    return sock


def server(dashboard: Dashboard) -> uvicorn.Server:
    config = uvicorn.Config(dashboard.app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2, lifespan="on")
    return uvicorn.Server(config)


def serve(lab: Lab, port: int, control: bool = False,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C)."""
    sock = bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    if ready:
        ready(url)
    dashboard = Dashboard(lab, control)
    try:
        # Bound on this machine's 127.0.0.1 above; the probes (this thread and
        # those it starts) reach a class lab from inside it.
        with lab.network():
            server(dashboard).run(sockets=[sock])
    finally:
        dashboard.stopping.set()
        sock.close()


@contextmanager
def on_thread(srv: uvicorn.Server, sock: socket.socket, stopping: threading.Event,
              what: str) -> Iterator[str]:
    """Serve on a thread of this process until the block ends (tests, the
    bench); yields the URL. `stopping` is set first, so event streams end."""
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]},
                              name=what.replace(" ", "-"), daemon=True)
    thread.start()
    try:
        while not srv.started:
            if not thread.is_alive():
                raise LabError(f"{what} did not start")
            threading.Event().wait(0.05)
        yield f"http://{HOST}:{sock.getsockname()[1]}/"
    finally:
        stopping.set()
        srv.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def running(lab: Lab, port: int = 0, control: bool = False) -> Iterator[str]:
    """The dashboard on a thread of this process, for tests and the bench;
    yields its URL and stops it at the end of the block."""
    dashboard = Dashboard(lab, control)
    with on_thread(server(dashboard), bind(port), dashboard.stopping, "the dashboard") as url:
        yield url
