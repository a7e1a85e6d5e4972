"""The probes against hostile servers on 127.0.0.1, without a lab: a
student is root in their lab's hosts and may answer a byte every few
seconds, or without end. Each probe must give up within its deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from lab.classweb import class_watch
from lab.engine.lab import Lab
from lab.model.config import LabConfig
from lab.probes import mysql, pages

MARGIN_S = 1.5  # a loaded CI machine's scheduling, on top of a deadline
DRIP_S = 0.2  # a trickle's pause: far under every per-read timeout
MAX_DRIPS = 100  # a trickle ends by itself after this many bytes (20 s)

Serve = Callable[[socket.socket, threading.Event], None]


@contextmanager
def server(serve: Serve) -> Iterator[int]:
    """A one-connection-at-a-time server on 127.0.0.1: yields its port;
    `serve` talks to each client until done or told to stop."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    serve(conn, stop)
                except OSError:
                    pass  # the client went: the next one

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _drip(conn: socket.socket, stop: threading.Event, data: bytes) -> None:
    for byte in data[:MAX_DRIPS]:
        if stop.wait(DRIP_S):
            return
        conn.sendall(bytes([byte]))


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    _drip(conn, stop, b"x" * 1000)


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    _drip(conn, stop, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 1000 + b"\r\n\r\n")


def oversize(conn: socket.socket, _stop: threading.Event) -> None:
    _read_request(conn)
    body = b"z" * (pages.MAX_BODY + 1)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def page(conn: socket.socket, _stop: threading.Event) -> None:
    _read_request(conn)
    body = b'{"visits":1}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Served-By: web1\r\nSet-Cookie: PHPSESSID=abc; path=/\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 passes the lab route check (it runs `ip route`)."""
    monkeypatch.setattr(pages, "require_lab_route", lambda _a: None)
    monkeypatch.setattr(mysql, "require_lab_route", lambda _a: None)


def test_a_page_is_read_whole(anywhere: None) -> None:
    with server(page) as port:
        r = pages.fetch("127.0.0.1", "/session.php", port=port, timeout=2)
    assert (r.status, r.served_by, r.cookie, r.json()) == (200, "web1", "PHPSESSID=abc",
                                                          {"visits": 1})


@pytest.mark.parametrize("serve", [trickle_body, trickle_headers])
def test_a_trickling_web_server_fails_within_the_deadline(anywhere: None, serve: Serve) -> None:
    deadline = 1.0
    with server(serve) as port:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="no whole answer within 1 s"):
            pages.fetch("127.0.0.1", "/", port=port, timeout=deadline)
        assert time.monotonic() - t0 < deadline + MARGIN_S


def test_a_body_over_the_bound_fails_saying_so(anywhere: None) -> None:
    with server(oversize) as port, pytest.raises(pages.TooLarge, match="MAX_BODY"):
        pages.fetch("127.0.0.1", "/", port=port, timeout=5)


def trickle_handshake(conn: socket.socket, stop: threading.Event) -> None:
    """A MySQL server's greeting, a byte at a time (never whole)."""
    _drip(conn, stop, b"\x4a\x00\x00\x00\x0a" + b"5.5.5-10.11.6-MariaDB\x00" + b"\x00" * 60)


def trickle_result(conn: socket.socket, stop: threading.Event) -> None:
    """Nothing at all after the connection: pymysql waits for a greeting."""
    stop.wait(MAX_DRIPS * DRIP_S)


@pytest.mark.parametrize("serve", [trickle_handshake, trickle_result])
def test_a_stalling_database_server_fails_within_the_deadline(
        anywhere: None, monkeypatch: pytest.MonkeyPatch, serve: Serve) -> None:
    deadline = 1.0
    monkeypatch.setattr(mysql, "PROBE_DEADLINE_S", deadline)
    with server(serve) as port:
        monkeypatch.setattr(mysql, "PORT", port)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="no whole answer within 1 s"):
            mysql.query("127.0.0.1", "pw", "SELECT 1")
        assert time.monotonic() - t0 < deadline + MARGIN_S


def test_the_class_watch_gives_up_on_a_trickling_replica(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread watches every lab: a replica that answers its greeting a
    byte at a time holds it ANSWER_S at most, and its lab shows why."""
    real_connect = pymysql.connect
    with server(trickle_handshake) as port:
        monkeypatch.setattr(class_watch.pymysql, "connect", lambda **kw: real_connect(
            **{**kw, "host": "127.0.0.1", "port": port}))
        monkeypatch.setattr(class_watch, "admin_password", lambda _lab: "pw")
        monkeypatch.setattr(class_watch, "ANSWER_S", 1.0)
        watch = class_watch.ClassWatch.__new__(class_watch.ClassWatch)
        w = class_watch.LabWatch(Lab(LabConfig(state_dir=tmp_path)), "Ada")
        replica = w.lab.topology.host(w.lab.topology.replica).container
        t0 = time.monotonic()
        seen = watch._replication(w, {replica: ("running", "healthy")})
        assert time.monotonic() - t0 < 1.0 + MARGIN_S
        assert seen is not None and "no whole answer within 1 s" in seen["error"], seen
        assert w.conn is None
