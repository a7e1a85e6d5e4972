"""HTTP facts through http.client, as a browser that resolved www.foo.com
would see them, and the content of a web server's document root."""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

from lab.engine import hostfiles
from lab.engine.network import require_lab_route
from lab.model.article import CONTENT_ROOT, WWW

HTTP_PORT = 80
# A page's body is read up to this size: a student's server that sends
# without end would otherwise fill this machine's memory.
MAX_BODY = 1 << 20


class TooLarge(OSError):
    """A body over MAX_BODY (an OSError: callers that note a web server's
    failure note this one too)."""


@dataclass(frozen=True)
class WebResponse:
    status: int
    served_by: str | None  # the X-Served-By header every lab response carries
    body: str
    cookie: str | None
    cookies: tuple[str, ...] = ()  # every Set-Cookie's name=value (the balancer adds one)

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(address: str, path: str = "/light.php", *, host_header: str = WWW,
          cookie: str | None = None, timeout: float = 5.0, port: int = HTTP_PORT,
          ) -> WebResponse:
    """GET a page from one web server, as a browser that resolved www.foo.com
    to `address` would. `timeout` bounds the whole answer (connect, headers,
    body): a server that answers a byte at a time fails it (TimeoutError)."""
    require_lab_route(address)
    deadline = time.monotonic() + timeout
    conn = _Connection(address, port, deadline, timeout)
    try:
        headers = {"Host": host_header}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        raw = resp.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise TooLarge(f"{address}{path}: the body is over {MAX_BODY} bytes (MAX_BODY)")
        body = raw.decode(errors="replace")
        set_cookie = resp.getheader("Set-Cookie")
        every = tuple(c.split(";", 1)[0].strip() for c in resp.msg.get_all("Set-Cookie") or ())
        return WebResponse(resp.status, resp.getheader("X-Served-By"), body,
                           set_cookie.split(";", 1)[0] if set_cookie else None, every)
    finally:
        conn.close()


class _DeadlineSocket(socket.socket):
    """A socket whose every send and receive may only take what is left
    until `deadline`: a timeout per read alone lets a trickle go on forever."""

    deadline = 0.0
    allowed = 0.0  # the whole answer's time, for the error

    def _left(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._late()
        self.settimeout(left)

    def _late(self) -> TimeoutError:
        return TimeoutError(f"no whole answer within {self.allowed:g} s")

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._left()
        try:
            return super().recv_into(buffer, nbytes, flags)
        except TimeoutError:
            raise self._late() from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._left()
        try:
            super().sendall(data, flags)
        except TimeoutError:
            raise self._late() from None


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection over a _DeadlineSocket."""

    def __init__(self, host: str, port: int, deadline: float, allowed: float) -> None:
        super().__init__(host, port, timeout=allowed)
        self._deadline, self._allowed = deadline, allowed

    def connect(self) -> None:
        sock = _DeadlineSocket(socket.AF_INET, socket.SOCK_STREAM)
        sock.deadline, sock.allowed = self._deadline, self._allowed
        try:
            sock.settimeout(max(self._deadline - time.monotonic(), 0.001))
            sock.connect((self.host, self.port))
        except TimeoutError:
            sock.close()
            raise TimeoutError(f"no connection within {self._allowed:g} s") from None
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock


def web_root_digests(lab: Any, web: str) -> dict[str, str]:
    """md5 of every file under a web server's /var/www, by path below it,
    read through the engine's archive (lab.engine.hostfiles), not by the
    host's find and md5sum, which a student can replace; bounded there."""
    return hostfiles.tree_digests(lab.topology.host(web).container, CONTENT_ROOT)
