"""The article's fix for the cookie conundrum (F9): one session directory
shared by the three web servers.

PHP keeps each session in a file on the server that started it
(/var/lib/php/sessions): a visitor whom DNS sends to another server is a
stranger there. The fix: point `session.save_path` of every web server at
the same directory. In the lab that is the named volume `php-sessions`,
mounted at /srv/php-sessions on web1-3 (compose/lab.yml) and unused until
switched on here, the way an administrator would: edit the
`php_value session.save_path` line that web-entrypoint wrote into
foolab-host.conf, prepare the directory as web-entrypoint prepares the
local one, and reload Apache gracefully (running requests finish).

The switch lasts until the container restarts: web-entrypoint then writes
the default (local files) again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts import apache
from lab.model.article import WWW
from lab.model.topology import Role

SHARED_DIR = "/srv/php-sessions"
LOCAL_DIR = "/var/lib/php/sessions"


@dataclass(frozen=True)
class SessionSetting:
    """Where each web server's PHP now keeps sessions, as PHP itself says."""

    shared: bool
    save_path: str
    servers: dict[str, str]  # web server -> session.save_path reported by /session.php

    @property
    def consistent(self) -> bool:
        return bool(self.servers) and all(p == self.save_path for p in self.servers.values())


def _reported_save_path(lab: Lab, web: str) -> str:
    """What PHP on `web` uses now (asked on the server itself: a fresh
    session whose file lands in that directory and is cleaned up by PHP)."""
    out = lab.sh(web, f"curl -fsS -m 5 -H 'Host: {WWW}' http://127.0.0.1/session.php")
    return str(json.loads(out)["save_path"])


def use_shared_sessions(lab: Lab, on: bool, timeout: float = 30) -> SessionSetting:
    """Switch every web server to the shared session directory (on) or back
    to its own local files (off); wait until PHP on each reports it."""
    directory = SHARED_DIR if on else LOCAL_DIR
    webs = [h.name for h in lab.topology.by_role(Role.WEB)]
    for web in webs:
        apache.use_sessions(lab, web, directory)
    servers = {web: _wait_save_path(lab, web, directory, timeout) for web in webs}
    return SessionSetting(on, directory, servers)


def _wait_save_path(lab: Lab, web: str, directory: str, timeout: float) -> str:
    """A graceful reload lets running requests finish: wait for PHP to say it."""

    def now() -> str | None:
        path = _reported_save_path(lab, web)
        return path if path == directory else None

    return wait_for(f"PHP on {web} using {directory}", now, timeout=timeout, every=0.25)
