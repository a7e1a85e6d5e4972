"""foolab's seat on the machine that holds a lab: a relay of sockets made
inside a lab's network namespace (issue 32, item 1).

Why a relay, not a probe runner: only three places of foolab make sockets
toward a lab's addresses (lab.probes.pages, .named, .mysql), and each can
be handed a connected socket. So the probe code, its deadlines, the
grader's evidence and every secret stay on the teacher's machine; this
agent only carries bytes, as a network would. It runs in a container of
the lab's machine with that machine's process numbers (to find a lab's
namespace by a process of it) and CAP_SYS_ADMIN (to enter it), with no
network, no folder and no key of its own, and is driven by one `docker
exec -i` on that machine's engine: requests and bytes come on stdin,
answers and bytes go out on stdout, many streams in one pipe.

This file is copied into the seat container as it is: standard library
only, no import of foolab. lab.engine.relay is the teacher's side.

A frame is a header (stream number, kind, length) and up to 64 KiB:

  OPEN_TCP, OPEN_UDP  teacher -> agent  {"pid", "host", "port"} as JSON
  OPENED, FAILED      agent -> teacher  FAILED carries the reason
  DATA                both ways         bytes (for UDP: one datagram)
  CREDIT              teacher -> agent  4 bytes: so many more may come
  EOF                 agent -> teacher  the host sends no more (TCP)
  CLOSE               both ways         the stream is gone (the probe closed
                                        its socket, or the host's went)

What one student's host can do to the others' streams is bounded: every
socket is non-blocking with a bounded queue; the agent reads a host's
bytes only while the teacher's side has granted room for them (WINDOW,
renewed by CREDIT as the probe reads), so a probe that stops reading
stops its own stream only; a stream carries at most MAX_STREAM_BYTES each
way, and at most MAX_STREAMS are open at once.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Iterable

HEADER = struct.Struct(">IBH")  # stream, kind, payload length
MAX_PAYLOAD = 0xFFFF
OPEN_TCP, OPEN_UDP, OPENED, FAILED, DATA, EOF, CLOSE, CREDIT = range(1, 9)
CREDIT_SIZE = struct.Struct(">I")
WINDOW = 256 << 10  # bytes from a host the teacher's side has not yet handed on
PORTS = (53, 80, 3306)  # DNS, the web servers, MariaDB: what foolab's probes dial
MAX_STREAMS = 256
MAX_STREAM_BYTES = 8 << 20  # each way; a probe reads far less
MAX_QUEUED = 1 << 20  # bytes waiting for a socket that does not read
CONNECT_TIMEOUT_S = 30.0  # the teacher's side gives up sooner (its own deadline)
CLONE_NEWNET = 0x40000000


def frame(stream: int, kind: int, payload: bytes = b"") -> bytes:
    """One frame; payloads over 64 KiB are the sender's to split."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame carries at most {MAX_PAYLOAD} bytes")
    return HEADER.pack(stream, kind, len(payload)) + payload


def frames(stream: int, kind: int, payload: bytes) -> Iterable[bytes]:
    """DATA over 64 KiB as several frames (TCP only: a datagram is one)."""
    for at in range(0, max(len(payload), 1), MAX_PAYLOAD):
        yield frame(stream, kind, payload[at:at + MAX_PAYLOAD])


class Parser:
    """Frames out of a byte stream that arrives in pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            stream, kind, size = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER.size + size:
                break
            out.append((stream, kind, bytes(self._buf[HEADER.size:HEADER.size + size])))
            del self._buf[:HEADER.size + size]
        return out


def allowed(host: str, port: int, networks: list[ipaddress.IPv4Network],
            ports: Iterable[int]) -> str:
    """'' when the agent may dial host:port, else why not."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return f"not an IPv4 address: {host!r}"
    if port not in ports:
        return f"port {port} is not one foolab's probes use"
    if not any(address in n for n in networks):
        return f"{host} is in no lab network"
    return ""


class Stream:
    """One socket of the agent and what it owes each way."""

    def __init__(self, sock: socket.socket, datagram: bool) -> None:
        self.sock, self.datagram = sock, datagram
        self.connecting = not datagram
        self.started = time.monotonic()
        self.queue: list[bytes] = []  # bytes (datagrams) for the socket
        self.queued = 0
        self.sent = self.received = 0
        self.shut_in = False  # the host sent EOF: read no more
        self.window = WINDOW  # what may be read from the host before more CREDIT


class Agent:
    """The relay's loop: stdin and every stream's socket, one thread."""

    def __init__(self, stdin: int, stdout: int, networks: list[ipaddress.IPv4Network],
                 ports: Iterable[int] = PORTS, enter: bool = True) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.networks, self.ports, self.enter = networks, tuple(ports), enter
        self.streams: dict[int, Stream] = {}
        self.parser = Parser()
        self._libc = ctypes.CDLL(None, use_errno=True) if enter else None

    # -- the teacher's side --

    def say(self, stream: int, kind: int, payload: bytes = b"") -> None:
        data = b"".join(frames(stream, kind, payload)) if kind == DATA else frame(
            stream, kind, payload[:MAX_PAYLOAD])
        view = memoryview(data)
        while view:  # the teacher's side always reads: a blocking write is short
            view = view[os.write(self.stdout, view):]

    def heard(self, stream: int, kind: int, payload: bytes) -> None:
        if kind in (OPEN_TCP, OPEN_UDP):
            self.open(stream, kind == OPEN_UDP, payload)
            return
        s = self.streams.get(stream)
        if s is None:
            return  # closed here already; its CLOSE is on the way
        if kind == CLOSE:
            self.drop(stream, tell=False)
        elif kind == CREDIT and len(payload) == CREDIT_SIZE.size:
            s.window = min(s.window + CREDIT_SIZE.unpack(payload)[0], WINDOW)
        elif kind == DATA:
            s.sent += len(payload)
            s.queue.append(payload)
            s.queued += len(payload)
            if s.sent > MAX_STREAM_BYTES or s.queued > MAX_QUEUED:
                self.drop(stream, why="over the relay's bound for one stream")
            elif not s.connecting:
                self.flush(stream, s)

    def open(self, stream: int, datagram: bool, payload: bytes) -> None:
        try:
            request = json.loads(payload)
            pid, host, port = int(request["pid"]), str(request["host"]), int(request["port"])
        except (ValueError, KeyError, TypeError):
            self.say(stream, FAILED, b"a bad request")
            return
        why = allowed(host, port, self.networks, self.ports)
        if not why and (stream in self.streams or len(self.streams) >= MAX_STREAMS):
            why = "too many streams" if stream not in self.streams else "stream in use"
        if why:
            self.say(stream, FAILED, why.encode())
            return
        try:
            sock = self.socket_in(pid, socket.SOCK_DGRAM if datagram else socket.SOCK_STREAM)
        except OSError as exc:
            self.say(stream, FAILED, f"no socket in process {pid}'s network: {exc}".encode())
            return
        sock.setblocking(False)
        s = self.streams[stream] = Stream(sock, datagram)
        try:
            code = sock.connect_ex((host, port))
        except OSError as exc:
            code = exc.errno or errno.EIO
        if code not in (0, errno.EINPROGRESS):
            s.connecting = True  # not opened: the answer is FAILED
            self.drop(stream, why=f"connect {host}:{port}: {os.strerror(code)}")
        elif datagram or code == 0:
            s.connecting = False
            self.say(stream, OPENED)

    def socket_in(self, pid: int, kind: int) -> socket.socket:
        """A socket made inside process `pid`'s network namespace: a socket
        keeps the namespace it was made in, so the agent goes back at once."""
        if not self.enter or self._libc is None:
            return socket.socket(socket.AF_INET, kind)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            if self._libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            try:
                return socket.socket(socket.AF_INET, kind)
            finally:
                if self._libc.setns(own, CLONE_NEWNET) != 0:  # never left elsewhere
                    os._exit(3)
        finally:
            os.close(target)
            os.close(own)

    # -- the streams' sockets --

    def flush(self, stream: int, s: Stream) -> None:
        """Send what is queued as far as the socket takes it now."""
        while s.queue:
            try:
                if s.datagram:
                    s.sock.send(s.queue[0])
                    sent = len(s.queue[0])
                else:
                    sent = s.sock.send(s.queue[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.drop(stream, why=str(exc))
                return
            s.queued -= sent
            if sent == len(s.queue[0]):
                s.queue.pop(0)
            else:
                s.queue[0] = s.queue[0][sent:]

    def connected(self, stream: int, s: Stream) -> None:
        code = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.drop(stream, why=f"connect: {os.strerror(code)}")
            return
        s.connecting = False
        self.say(stream, OPENED)
        self.flush(stream, s)

    def readable(self, stream: int, s: Stream) -> None:
        try:
            data = s.sock.recv(min(MAX_PAYLOAD, s.window))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.drop(stream, why=str(exc))
            return
        if not data and not s.datagram:
            s.shut_in = True  # kept until the probe closes its socket (CLOSE)
            self.say(stream, EOF)
            return
        s.received += len(data)
        s.window -= len(data) if not s.datagram else max(len(data), 1)
        if s.received > MAX_STREAM_BYTES:
            self.drop(stream, why="over the relay's bound for one stream")
            return
        self.say(stream, DATA, data)

    def drop(self, stream: int, why: str = "", tell: bool = True) -> None:
        s = self.streams.pop(stream, None)
        if s is not None:
            s.sock.close()
        if tell:
            self.say(stream, FAILED if why and s is not None and s.connecting else CLOSE,
                     why.encode())

    # -- the loop --

    def run(self) -> None:
        """Until stdin ends (the teacher's side closed the exec)."""
        while True:
            now = time.monotonic()
            for n, s in list(self.streams.items()):
                if s.connecting and now - s.started > CONNECT_TIMEOUT_S:
                    self.drop(n, why="connect: timed out")
            reading = {s.sock.fileno(): n for n, s in self.streams.items()
                       if not s.connecting and not s.shut_in and s.window > 0}
            writing = {s.sock.fileno(): n for n, s in self.streams.items()
                       if s.connecting or s.queue}
            ready_r, ready_w, _ = select.select([self.stdin, *reading], list(writing), [], 1.0)
            for fd in ready_w:
                n = writing[fd]
                if (st := self.streams.get(n)) is not None and st.sock.fileno() == fd:
                    if st.connecting:
                        self.connected(n, st)
                    else:
                        self.flush(n, st)
            for fd in ready_r:
                if fd == self.stdin:
                    data = os.read(self.stdin, 1 << 16)
                    if not data:
                        return
                    for stream, kind, payload in self.parser.feed(data):
                        self.heard(stream, kind, payload)
                elif (st := self.streams.get(reading[fd])) is not None \
                        and st.sock.fileno() == fd:  # not a stream dropped this round
                    self.readable(reading[fd], st)


def main(argv: list[str]) -> int:
    """relay_agent.py NETWORK... [--ports 53,80,3306] [--same-namespace]"""
    ports: tuple[int, ...] = PORTS
    enter = True
    networks = []
    args = iter(argv)
    for arg in args:
        if arg == "--ports":
            ports = tuple(int(p) for p in next(args).split(","))
        elif arg == "--same-namespace":
            enter = False  # the tests: sockets of this process's own namespace
        else:
            networks.append(ipaddress.IPv4Network(arg))
    if not networks:
        print("usage: relay_agent.py NETWORK... [--ports P,P]", file=sys.stderr)
        return 2
    Agent(sys.stdin.fileno(), sys.stdout.fileno(), networks, ports, enter).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
