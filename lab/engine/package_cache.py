"""One package cache for the role images built side by side: an HTTP proxy
on 127.0.0.1 that apt in each build goes through (`--network host`, the
http_proxy build argument, which Docker leaves out of the layer cache's key).

Why: this engine's builder has no BuildKit cache mounts, and the three
role images would each fetch Debian's package lists and the packages they
share (tini, iproute2, procps, ...). Through the cache a file is fetched
once per `up`, even when two builds ask for it at the same moment (the
second waits for the first download). It serves Debian's mirrors only,
bounded in size, and lives as long as the builds: nothing is kept after.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Hosts apt may reach through the cache (the lab's images use Debian's
# mirror; FOOLAB_DEBIAN_MIRROR adds its own).
MIRRORS = frozenset({"deb.debian.org", "security.debian.org", "snapshot.debian.org"})
MAX_FILE = 512 << 20  # a package or list larger than this is refused
MAX_TOTAL = 4 << 30  # all files of one run
UPSTREAM_TIMEOUT_S = 60


class PackageCache:
    """The files fetched so far (in a temporary folder), by URL."""

    def __init__(self, folder: Path, mirrors: frozenset[str]) -> None:
        self.folder, self.mirrors = folder, mirrors
        self.fetched = 0  # upstream downloads
        self.served = 0  # answers given (fetched or from the cache)
        self._total = 0
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Lock] = {}
        self._files: dict[str, tuple[Path, str]] = {}  # url -> (file, content type)
        self._connections = threading.local()  # per thread: host -> kept-alive connection

    def _upstream(self, url: str) -> http.client.HTTPResponse:
        """GET `url` over this thread's kept-alive connection to its host (a
        new one per file cost a handshake each: 125 files in a web build)."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):  # a kept-alive connection the mirror has closed: once more
            conn = self._connections.__dict__.get(parts.netloc)
            if conn is None:
                conn = http.client.HTTPConnection(parts.netloc, timeout=UPSTREAM_TIMEOUT_S)
                self._connections.__dict__[parts.netloc] = conn
            try:
                conn.request("GET", path)
                return conn.getresponse()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._connections.__dict__.pop(parts.netloc, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme == "http" and parts.hostname in self.mirrors and not parts.username

    def get(self, url: str) -> tuple[Path, str]:
        """The file of `url`, fetched now unless it was already (one download
        per URL: a second asker waits for the first). OSError if upstream
        fails or the file is too large; nothing is cached then."""
        with self._lock:
            lock = self._pending.setdefault(url, threading.Lock())
        with lock:
            if url in self._files:
                self.served += 1
                return self._files[url]
            found = self._fetch(url)
            with self._lock:
                self._files[url] = found
                self.served += 1
            return found

    def _fetch(self, url: str) -> tuple[Path, str]:
        resp = self._upstream(url)
        if resp.status != 200:
            resp.read(MAX_FILE)
            raise urllib.error.HTTPError(url, resp.status, resp.reason, resp.headers, None)
        kind = resp.headers.get("Content-Type", "application/octet-stream")
        fd, name = tempfile.mkstemp(dir=self.folder)
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := resp.read(1 << 16):
                size += len(chunk)
                if size > MAX_FILE or self._total + size > MAX_TOTAL:
                    self._connections.__dict__.pop(urllib.parse.urlsplit(url).netloc, None)
                    raise OSError(f"{url}: over the package cache's bound")
                out.write(chunk)
        with self._lock:
            self._total += size
            self.fetched += 1
        return Path(name), kind


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # apt pipelines several requests on one connection
    # Headers and body go out as separate writes: with Nagle's algorithm each
    # answer waited on the client's delayed ACK (40 ms a file).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        cache = self.server.cache
        if not cache.allowed(self.path):
            self.send_error(403, "not a Debian mirror")
            return
        try:
            path, kind = cache.get(self.path)
        except urllib.error.HTTPError as exc:
            self.send_error(exc.code, exc.reason)
            return
        except OSError as exc:
            self.send_error(502, str(exc)[:200])
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        with path.open("rb") as f:
            shutil.copyfileobj(f, self.wfile)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the builds' own logs say what apt fetched


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    cache: PackageCache


def mirrors() -> frozenset[str]:
    own = urllib.parse.urlsplit(os.environ.get("FOOLAB_DEBIAN_MIRROR", "")).hostname
    return MIRRORS | ({own} if own else set())


@contextmanager
def serving(hosts: frozenset[str] | None = None) -> Iterator[tuple[str, PackageCache]]:
    """The cache's proxy address (http://127.0.0.1:PORT) while the block
    runs; the server stopped and every file removed after it. `hosts`: the
    mirrors it serves (Debian's by default)."""
    with tempfile.TemporaryDirectory(prefix="foolab-packages-") as tmp:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.cache = PackageCache(Path(tmp), mirrors() if hosts is None else hosts)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", server.cache
        finally:
            server.shutdown()
            server.server_close()
