"""HTTP facts through http.client, as a browser that resolved www.foo.com
would see them, and the content of a web server's document root."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any

from lab.engine.network import require_lab_route
from lab.model.article import WWW


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
          cookie: str | None = None, timeout: float = 5.0) -> WebResponse:
    """GET a page from one web server, as a browser that resolved www.foo.com
    to `address` would."""
    require_lab_route(address)
    conn = http.client.HTTPConnection(address, 80, timeout=timeout)
    try:
        headers = {"Host": host_header}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        set_cookie = resp.getheader("Set-Cookie")
        every = tuple(c.split(";", 1)[0].strip() for c in resp.msg.get_all("Set-Cookie") or ())
        return WebResponse(resp.status, resp.getheader("X-Served-By"), body,
                           set_cookie.split(";", 1)[0] if set_cookie else None, every)
    finally:
        conn.close()


def web_root_digests(lab: Any, web: str) -> dict[str, str]:
    """md5 of every file under a web server's /var/www, by path."""
    out = lab.sh(web, "cd /var/www && find . -type f -print0 | sort -z | xargs -0 -r md5sum")
    digests = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        digests[path] = digest
    return digests
