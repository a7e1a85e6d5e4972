"""The role builds' shared package cache: a file fetched once however many
builds ask, Debian's mirrors only, bounded. A local upstream stands in for
the mirror (no network)."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from lab.engine import package_cache

BODY = b"Package: tini\n" * 1000


@contextmanager
def upstream() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []

    class Mirror(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            if self.path.endswith("missing"):
                self.send_error(404)
                return
            time.sleep(0.2)  # slow enough for the second asker to arrive meanwhile
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def through(proxy: str, url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    with opener.open(url, timeout=10) as resp:
        data: bytes = resp.read()
        return data


def test_two_builds_asking_at_once_make_one_download():
    with upstream() as (mirror, asked), \
            package_cache.serving(frozenset({"127.0.0.1"})) as (proxy, cache):
        url = f"{mirror}/debian/dists/bookworm/main/binary-amd64/Packages.xz"
        with ThreadPoolExecutor(3) as pool:
            bodies = list(pool.map(lambda _: through(proxy, url), range(3)))
        assert bodies == [BODY] * 3
        assert asked == ["/debian/dists/bookworm/main/binary-amd64/Packages.xz"]
        assert (cache.fetched, cache.served) == (1, 3)


def test_only_debian_mirrors_are_served():
    with upstream() as (mirror, asked), package_cache.serving() as (proxy, _):
        with pytest.raises(urllib.error.HTTPError, match="403"):
            through(proxy, f"{mirror}/anything")
        assert asked == []


def test_what_upstream_lacks_is_missing_here_too_and_a_file_over_the_bound_is_refused(
        monkeypatch):
    with upstream() as (mirror, _), \
            package_cache.serving(frozenset({"127.0.0.1"})) as (proxy, cache):
        with pytest.raises(urllib.error.HTTPError, match="404"):
            through(proxy, f"{mirror}/debian/missing")
        monkeypatch.setattr(package_cache, "MAX_FILE", 100)
        with pytest.raises(urllib.error.HTTPError, match="502"):
            through(proxy, f"{mirror}/debian/pool/big.deb")
        assert cache.fetched == 0
