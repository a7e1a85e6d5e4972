"""The lesson run from the teacher's grid: an exercise started or stopped
in one lab or every lab, a lab reset, each on a thread of its own, its
progress shown on the lab's row (the same work as `foolab class exercise`
and `class reset LAB`: lab.exercises.lesson).

  POST /teacher/lab/NAME/reset      {}                        a fresh lab, same seed
  POST /teacher/lab/NAME/exercise   {"exercise": E} | {"stop": true}
  POST /teacher/exercise            {"exercise": E} | {"stop": true}   every lab

Teacher's session and this site's pages only (Origin); a lab already busy
with one of these answers 409 and is left to finish.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lab.classweb.seat import Server
from lab.exercises import lesson
from lab.exercises.catalog import EXERCISES
from lab.model.errors import LabError
from lab.model.roster import TEACHER


class Lesson:
    """Each lab's action: what it is, its last line, whether it ended well."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.doing: dict[str, dict[str, Any]] = {}
        self.version = 0
        self._lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [Route("/teacher/lab/{name}/reset", self.reset, methods=["POST"]),
                Route("/teacher/lab/{name}/exercise", self.exercise, methods=["POST"]),
                Route("/teacher/exercise", self.exercise, methods=["POST"])]

    def _set(self, lab: str, **state: Any) -> None:
        with self._lock:
            self.doing[lab] = {**self.doing.get(lab, {}), **state}
            self.version += 1

    def _run(self, lab: str, what: str, work: Callable[[Callable[[str], None]], str]) -> bool:
        """`work(progress)` on a thread; False if the lab is busy already."""
        with self._lock:
            if self.doing.get(lab, {}).get("running"):
                return False
            self.doing[lab] = {"what": what, "line": f"{what}...", "running": True, "ok": None}
            self.version += 1

        def line(text: str) -> None:
            self._set(lab, line=text.removeprefix(f"[{lab}] "))

        def go() -> None:
            try:
                self._set(lab, line=work(line), running=False, ok=True)
            except (LabError, OSError) as exc:
                self._set(lab, line=str(exc).splitlines()[0], running=False, ok=False)

        threading.Thread(target=go, name=f"lesson {lab}", daemon=True).start()
        return True

    def _allowed(self, request: Request) -> bool:
        return (self.server.principal(request) == TEACHER
                and self.server._origin_ok(request))

    async def reset(self, request: Request) -> Response:
        name = str(request.path_params.get("name", ""))
        if not self._allowed(request) or name not in self.server.labs:
            return self.server.forbidden()
        base = self.server.base
        if not self._run(name, "reset", lambda say: lesson.reset(base, name, say)):
            return JSONResponse({"error": f"lab {name} is busy"}, status_code=409)
        return JSONResponse({"started": f"resetting lab {name}"}, status_code=202)

    async def exercise(self, request: Request) -> Response:
        name = request.path_params.get("name")
        if not self._allowed(request) or (name is not None and name not in self.server.labs):
            return self.server.forbidden()
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        known = {e.name for e in EXERCISES}
        if not isinstance(body, dict) or not (body.get("stop") is True
                                              or body.get("exercise") in known):
            return JSONResponse({"error": "say {\"exercise\": NAME} or {\"stop\": true}",
                                 "exercises": sorted(known)}, status_code=400)
        base, exercise = self.server.base, str(body.get("exercise", ""))
        stopping = body.get("stop") is True

        def work(lab: str) -> Callable[[Callable[[str], None]], str]:
            if stopping:
                return lambda _say: lesson.stop(base, lab)
            return lambda _say: lesson.start(base, lab, exercise)

        labs = [name] if name else list(self.server.labs)
        busy = [lab for lab in labs
                if not self._run(lab, "stop" if stopping else f"start {exercise}", work(lab))]
        return JSONResponse({"started": sorted(set(labs) - set(busy)), "busy": busy},
                            status_code=202)

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The grid's rows, each with its lab's action (if any)."""
        with self._lock:
            return [{**r, "action": self.doing.get(r["lab"])} for r in rows]

    def grid(self, watched: tuple[int, list[dict[str, Any]]]) -> tuple[int, Any]:
        """The teacher's event stream: the watch's rows, each with its lab's
        action, versioned by both."""
        version, rows = watched
        return version * 1_000_000 + self.version, self.rows(rows)
