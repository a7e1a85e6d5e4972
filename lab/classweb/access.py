"""Who may open what: sessions from a roster's tokens, and a brake on wrong
tokens per address. Plain data and the clock; no web framework here.

A session is a random id kept in an HttpOnly, SameSite=Strict cookie and
known only to this process (a restarted server forgets every session: the
student opens their link again). Its principal is a lab name, or
roster.TEACHER for the teacher, who may open every lab.

What keeps a stranger out is the token, not the brake: each is
roster.TOKEN_BYTES random bytes (192 bits), so with a class of 30 links a
guess is right with odds of 30 in 2**192, whatever the rate. The brake only
slows a script; it never refuses a right link, because a whole school's
pupils may share one public address and one pupil's typos (or a page of
`<img src=.../join/x>`) must not lock the class out.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.model import roster as roster_model

COOKIE = "foolab_class"
WRONG_TOKENS = 20  # wrong tokens from one address within WINDOW_S answered at once ...
WINDOW_S = 300.0
FIRST_DELAY_S = 1.0  # ... each further one answered this late, twice as late each time ...
MAX_DELAY_S = 30.0  # ... up to this (a right token is never held: it is checked first)
MAX_ADDRESSES = 4096  # addresses the brake remembers; beyond, the least recently wrong goes
IDLE_S = 8 * 3600.0  # a session unused this long ends (a school day)
SESSIONS_PER_PRINCIPAL = 8  # browsers signed in with one link; a 9th ends its oldest
MAX_SESSIONS = 4096  # every session, whoever's; beyond, the least recently used ends
MAX_BODY = 4096  # bytes of a request body (the login form: one token); more is 413
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
    """Session id -> principal, bounded: a session ends after idle_s unused,
    a principal's oldest when it opens more than per_principal (a student
    cannot crowd the others out: sessions come only from right tokens), and
    the least recently used beyond limit. `clear` ends them all."""

    idle_s: float = IDLE_S
    per_principal: int = SESSIONS_PER_PRINCIPAL
    limit: int = MAX_SESSIONS
    clock: Callable[[], float] = field(default=time.monotonic)
    # sid -> (principal, last used), least recently used first
    _by_id: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, principal: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._expire(now)
            own = [s for s, (p, _) in self._by_id.items() if p == principal]
            for old in own[:max(0, len(own) - self.per_principal + 1)]:
                del self._by_id[old]
            while len(self._by_id) >= self.limit:
                self._by_id.popitem(last=False)
            self._by_id[sid] = (principal, now)
        return sid

    def principal(self, sid: str | None, touch: bool = True) -> str | None:
        """Whose session `sid` is (None: no session, or it ended); `touch`:
        this is a use, the idle time starts again."""
        if not sid:
            return None
        with self._lock:
            now = self.clock()
            self._expire(now)
            found = self._by_id.get(sid)
            if found is None:
                return None
            if touch:
                self._by_id[sid] = (found[0], now)
                self._by_id.move_to_end(sid)
            return found[0]

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def _expire(self, now: float) -> None:
        """Least recently used first: the idle ones are at the front."""
        while self._by_id:
            sid, (_, used) = next(iter(self._by_id.items()))
            if now - used < self.idle_s:
                return
            del self._by_id[sid]


@dataclass
class LoginLimit:
    """Wrong tokens per client address: the first `free` within window_s are
    answered at once, each further one first_delay_s late, twice as late each
    time, up to max_delay_s. Only wrong tokens are counted and held; nothing
    here refuses an address (see the module's docstring). Remembers at most
    max_addresses, forgetting an address window_s after its last wrong token."""

    free: int = WRONG_TOKENS
    window_s: float = WINDOW_S
    first_delay_s: float = FIRST_DELAY_S
    max_delay_s: float = MAX_DELAY_S
    max_addresses: int = MAX_ADDRESSES
    clock: Callable[[], float] = field(default=time.monotonic)
    # address -> when its recent wrong tokens came, least recently wrong first
    _wrong: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrong(self, address: str) -> float:
        """Count a wrong token from `address`: the seconds its answer waits."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            seen = self._wrong.pop(address, None)
            if seen is None:  # enough to reach max_delay_s; more need not be kept
                seen = deque(maxlen=self.free + 64)
            while seen and seen[0] <= now - self.window_s:
                seen.popleft()
            seen.append(now)
            self._wrong[address] = seen  # the most recently wrong: last
            while len(self._wrong) > self.max_addresses:
                self._wrong.popitem(last=False)
            over = len(seen) - self.free
        if over <= 0:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** min(over - 1, 62))

    def __len__(self) -> int:
        with self._lock:
            return len(self._wrong)

    def _forget(self, now: float) -> None:
        while self._wrong:
            address, seen = next(iter(self._wrong.items()))
            if seen and seen[-1] > now - self.window_s:
                return
            del self._wrong[address]
