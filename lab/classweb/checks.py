"""The students' Checks, each on the class server's own pool.

Not asyncio's default pool, which the terminals use: a student's lab that
stalls its grading holds no thread another lab's Check or terminal needs.
One worker per lab and one running Check per lab at most; a click while a
lab's Check runs gets that one's answer.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab.classweb import grades
from lab.engine import client
from lab.model.config import LabConfig

# How long a Check's page waits for the grade: the same bound as a lab's in
# `class collect`; the check goes on past it, and a new click joins it.
CHECK_WAIT_S = grades.LAB_DEADLINE_S


class Checks:
    def __init__(self, labs: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(labs, 1), thread_name_prefix="check")
        self._running: dict[str, asyncio.Future[dict[str, Any]]] = {}  # by lab

    async def run(self, name: str, cfg: LabConfig) -> dict[str, Any]:
        """Lab `name`'s Check, or the one already running; TimeoutError after
        CHECK_WAIT_S (the check goes on)."""
        running = self._running.get(name)
        if running is None:
            running = asyncio.get_running_loop().run_in_executor(
                self._pool, client.carried(functools.partial(grades.self_check, cfg)))
            self._running[name] = running
            running.add_done_callback(lambda _f: self._running.pop(name, None))
        return await asyncio.wait_for(asyncio.shield(running), CHECK_WAIT_S)

    def busy(self, name: str) -> bool:
        """Whether lab `name`'s Check is running now."""
        return name in self._running

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
