"""The teacher's end of a seat's relay (lab.engine.relay_agent says why
a relay): sockets toward a lab's addresses, made inside the lab's network
namespace on the machine that holds it, handed to foolab's probes here.

`Relay(argv)` starts the agent (for a lab on a node: `docker exec -i` of
the node's seat container, through the node's engine) and carries many
streams over its one pipe. `connect` returns one end of a socketpair:
what the probe writes reaches the lab host, what the host answers comes
back, EOF and close included, so the probe's own deadlines still hold.
`datagram` returns a datagram socket for dnspython (sendto, recvfrom).

One student's host cannot stall the others' streams: the pipe to the
agent is written by a thread of its own, and the agent reads a host only
while this side has room for its bytes (a window, renewed with CREDIT as
the probe takes them): a probe that stops reading stops its own stream.
An agent that ignores the window has the stream closed at MAX_QUEUED.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import socket
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from lab.engine import relay_agent as wire
from lab.model.errors import LabError

MAX_QUEUED = 2 * wire.WINDOW
OPEN_TIMEOUT_S = 10.0


class _Stream:
    """One stream as this side holds it: the socketpair end the pump
    serves (the probe holds the other), and what waits for it."""

    def __init__(self, end: socket.socket, datagram: bool) -> None:
        self.end, self.datagram = end, datagram
        self.opened = threading.Event()
        self.failed = ""
        self.queue: list[bytes] = []
        self.queued = 0
        self.ended = False  # the host sent all it will: EOF to the probe once queue is out
        self.handed = 0  # bytes handed to the probe since the last CREDIT


class Relay:
    """Streams to one seat agent; close() ends the agent."""

    def __init__(self, argv: Sequence[str]) -> None:
        self._proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to_agent, self._from_agent = self._proc.stdin, self._proc.stdout.fileno()
        self._lock = threading.Lock()
        self._streams: dict[int, _Stream] = {}
        self._next = 1
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._write, name="relay writer", daemon=True),
                         threading.Thread(target=self._pump, name="relay pump", daemon=True)]
        for t in self._threads:
            t.start()

    # -- what probes use --

    def connect(self, pid: int, host: str, port: int,
                timeout: float = OPEN_TIMEOUT_S) -> socket.socket:
        """A connected stream socket to host:port inside process `pid`'s
        network namespace (a socketpair end: settimeout, sendall, recv,
        makefile and close behave as on a TCP socket)."""
        return self._open(wire.OPEN_TCP, pid, host, port, timeout)

    def datagram(self, pid: int, host: str, port: int,
                 timeout: float = OPEN_TIMEOUT_S) -> RelayedDatagram:
        """A datagram socket to host:port inside process `pid`'s namespace,
        as dnspython's udp() takes one (`sock=`)."""
        return RelayedDatagram(self._open(wire.OPEN_UDP, pid, host, port, timeout),
                               (host, port))

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._outbox.put(None)
        os.write(self._wake_w, b"x")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        with self._lock:
            for s in self._streams.values():
                s.end.close()
            self._streams.clear()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- opening --

    def _open(self, kind: int, pid: int, host: str, port: int, timeout: float) -> socket.socket:
        if self._closed.is_set():
            raise OSError("the relay is closed")
        mine, theirs = socket.socketpair(
            socket.AF_UNIX, socket.SOCK_DGRAM if kind == wire.OPEN_UDP else socket.SOCK_STREAM)
        theirs.setblocking(False)
        s = _Stream(theirs, kind == wire.OPEN_UDP)
        with self._lock:
            number, self._next = self._next, self._next + 1
            self._streams[number] = s
        request = json.dumps({"pid": pid, "host": host, "port": port}).encode()
        self._send(wire.frame(number, kind, request))
        if not s.opened.wait(timeout) or s.failed:
            self._forget(number, tell=True)
            mine.close()
            why = s.failed or f"no answer within {timeout:g} s"
            raise OSError(f"relay to {host}:{port}: {why}")
        os.write(self._wake_w, b"x")  # the pump now watches this stream's end
        return mine

    def _forget(self, number: int, tell: bool) -> None:
        with self._lock:
            s = self._streams.pop(number, None)
        if s is not None:
            s.end.close()
            if tell:
                self._send(wire.frame(number, wire.CLOSE))

    # -- the pipe to the agent --

    def _send(self, data: bytes) -> None:
        self._outbox.put(data)

    def _write(self) -> None:
        """The only writer of the agent's stdin: a pipe the agent is slow to
        read never blocks the pump, which drains the agent's answers."""
        while (data := self._outbox.get()) is not None:
            try:
                self._to_agent.write(data)
                self._to_agent.flush()
            except OSError:
                break
        with contextlib.suppress(OSError):
            self._to_agent.close()

    # -- the pump: the agent's answers to the streams, the streams' bytes to the agent --

    def _pump(self) -> None:
        parser = wire.Parser()
        while not self._closed.is_set():
            with self._lock:
                live = {n: s for n, s in self._streams.items() if s.opened.is_set()}
            reading = {s.end.fileno(): n for n, s in live.items()}
            writing = {s.end.fileno(): n for n, s in live.items() if s.queue}
            try:
                ready_r, ready_w, _ = select.select(
                    [self._from_agent, self._wake_r, *reading], list(writing), [], 1.0)
            except (OSError, ValueError):  # a stream closed meanwhile: look again
                continue
            for fd in ready_w:
                self._flush(writing[fd])
            for fd in ready_r:
                if fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                elif fd == self._from_agent:
                    data = os.read(self._from_agent, 1 << 16)
                    if not data:
                        self._agent_gone()
                        return
                    for number, kind, payload in parser.feed(data):
                        self._heard(number, kind, payload)
                else:
                    self._probe_wrote(reading[fd])

    def _agent_gone(self) -> None:
        with self._lock:
            streams, self._streams = dict(self._streams), {}
        for s in streams.values():
            s.failed = s.failed or "the relay's agent ended"
            s.opened.set()
            s.end.close()

    def _heard(self, number: int, kind: int, payload: bytes) -> None:
        with self._lock:
            s = self._streams.get(number)
        if s is None:
            return
        if kind == wire.OPENED:
            s.opened.set()
        elif kind == wire.FAILED or (kind == wire.CLOSE and not s.opened.is_set()):
            s.failed = payload.decode(errors="replace") or "refused"
            if s.opened.is_set():
                self._forget(number, tell=False)
            s.opened.set()
        elif kind == wire.CLOSE and s.datagram:
            self._flush(number)
            self._forget(number, tell=False)
        elif kind in (wire.EOF, wire.CLOSE):  # after what is queued, not before
            s.ended = True
            self._flush(number)
        elif kind == wire.DATA:
            s.queue.append(payload)
            s.queued += len(payload)
            if s.queued > MAX_QUEUED:  # its reader does not read: not our stall
                self._forget(number, tell=True)
            else:
                self._flush(number)

    def _flush(self, number: int) -> None:
        with self._lock:
            s = self._streams.get(number)
        if s is None:
            return
        while s.queue:
            try:
                sent = s.end.send(s.queue[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the probe closed its end
                self._forget(number, tell=True)
                return
            s.queued -= sent
            s.handed += sent if not s.datagram else max(sent, 1)
            if sent == len(s.queue[0]) or s.datagram:
                s.queue.pop(0)
            else:
                s.queue[0] = s.queue[0][sent:]
        if s.handed >= wire.WINDOW // 4:  # room again for the host's bytes
            self._send(wire.frame(number, wire.CREDIT, wire.CREDIT_SIZE.pack(s.handed)))
            s.handed = 0
        if s.ended and not s.datagram:  # the probe reads EOF (it then closes: CLOSE)
            with contextlib.suppress(OSError):
                s.end.shutdown(socket.SHUT_WR)

    def _probe_wrote(self, number: int) -> None:
        with self._lock:
            s = self._streams.get(number)
        if s is None:
            return
        try:
            data = s.end.recv(wire.MAX_PAYLOAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._forget(number, tell=True)
            return
        if s.datagram:
            self._send(wire.frame(number, wire.DATA, data))
        elif data:
            self._send(b"".join(wire.frames(number, wire.DATA, data)))
        else:  # the probe closed its socket (or shut it down: foolab's never half-close)
            self._forget(number, tell=True)


class RelayedDatagram:
    """A datagram socket to one address, as dnspython uses one: sendto
    (the destination is the relay's), recvfrom (the source is that
    address), fileno for its selector, non-blocking."""

    family = socket.AF_INET
    type = socket.SOCK_DGRAM

    def __init__(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        self._sock, self.peer = sock, peer
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def sendto(self, data: bytes, _destination: Any = None) -> int:
        return self._sock.send(data)

    def send(self, data: bytes) -> int:
        return self._sock.send(data)

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        return self._sock.recv(size), self.peer

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RelayedDatagram:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def agent_argv(python: str, networks: Sequence[str], *extra: str) -> list[str]:
    """The agent run here by `python` (the tests' way; a seat runs it by exec)."""
    path = os.path.join(os.path.dirname(os.path.abspath(wire.__file__)), "relay_agent.py")
    if not networks:
        raise LabError("a relay needs the lab networks it may dial")
    return [python, path, *networks, *extra]
