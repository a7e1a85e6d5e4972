"""Who may open what: sessions from a roster's tokens, and a limit on wrong
tokens per address. Plain data and the clock; no web framework here.

A session is a random id kept in an HttpOnly, SameSite=Strict cookie and
known only to this process (a restarted server forgets every session: the
student opens their link again). Its principal is a lab name, or
roster.TEACHER for the teacher, who may open every lab.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.model import roster as roster_model

COOKIE = "foolab_class"
WRONG_TOKENS = 20  # wrong tokens from one address within WINDOW_S ...
WINDOW_S = 300.0  # ... and that address is refused until the oldest is this old
# One body for every page that is not yours, whichever lab it names and
# whether that lab exists or not: a refusal tells nothing.
FORBIDDEN = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>Forbidden</title></head><body><h1>Forbidden</h1>"
             "<p>This page is not yours. Open the link your teacher gave you.</p>"
             "</body></html>")


def may_open(principal: str | None, lab: str) -> bool:
    """A student opens their own lab; the teacher every lab."""
    return principal is not None and principal in (lab, roster_model.TEACHER)


@dataclass
class Sessions:
    """Session id -> principal, for this process's life."""

    _by_id: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, principal: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[sid] = principal
        return sid

    def principal(self, sid: str | None) -> str | None:
        if not sid:
            return None
        with self._lock:
            return self._by_id.get(sid)

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)


@dataclass
class LoginLimit:
    """Wrong tokens per client address: after WRONG_TOKENS within WINDOW_S,
    that address is refused (even a right token) until the oldest ages out."""

    limit: int = WRONG_TOKENS
    window_s: float = WINDOW_S
    clock: Callable[[], float] = field(default=time.monotonic)
    _wrong: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return self.clock()

    def _recent(self, address: str) -> deque[float]:
        seen = self._wrong.setdefault(address, deque())
        while seen and seen[0] <= self._now() - self.window_s:
            seen.popleft()
        return seen

    def refused_for(self, address: str) -> float:
        """Seconds this address must still wait (0: it may try)."""
        with self._lock:
            seen = self._recent(address)
            if len(seen) < self.limit:
                return 0.0
            return max(0.0, seen[0] + self.window_s - self._now())

    def wrong(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._now())
