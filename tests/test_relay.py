"""The seat's relay (lab.engine.relay, lab.engine.relay_agent) with its
agent run here as a process, against servers on loopback: the bytes, the
ends of a stream, dnspython's UDP, what the agent refuses, and that one
stream whose reader stalls does not stall the others."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rrset
import pytest

from lab.engine import relay_agent
from lab.engine.relay import Relay, agent_argv


class _Tcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(socketserver.BaseRequestHandler):
    """One line in; then by its first word: echo it and close, send a flood,
    or answer one byte at a time."""

    def handle(self) -> None:
        line = self.request.recv(1024)
        if line.startswith(b"flood"):
            chunk = b"x" * 65536
            try:
                for _ in range(64):  # 4 MiB, more than a stream may queue
                    self.request.sendall(chunk)
            except OSError:
                pass
        elif line.startswith(b"slow"):
            try:
                for byte in b"slowly":
                    self.request.sendall(bytes([byte]))
                    time.sleep(2)
            except OSError:
                pass
        else:
            self.request.sendall(b"echo " + line)


@pytest.fixture(scope="module")
def tcp_port() -> Iterator[int]:
    server = _Tcp(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    """A name server of one answer: any A question gets 10.1.1.11."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                    "10.1.1.11"))
            sock.sendto(reply.to_wire(), peer)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield sock.getsockname()[1]
    done.set()
    server.join(5)
    sock.close()


@pytest.fixture
def relay(tcp_port: int, dns_port: int) -> Iterator[Relay]:
    argv = agent_argv(sys.executable, ["127.0.0.0/8"], "--same-namespace",
                      "--ports", f"{tcp_port},{dns_port}")
    with Relay(argv) as r:
        yield r


def _read_all(sock: socket.socket, deadline_s: float = 10) -> bytes:
    sock.settimeout(deadline_s)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_stream_carries_bytes_both_ways_and_the_hosts_close(relay: Relay,
                                                              tcp_port: int) -> None:
    with relay.connect(os.getpid(), "127.0.0.1", tcp_port) as sock:
        sock.sendall(b"hello\n")
        assert _read_all(sock) == b"echo hello\n"  # the host closed: EOF here


def test_many_streams_at_once(relay: Relay, tcp_port: int) -> None:
    socks = [relay.connect(os.getpid(), "127.0.0.1", tcp_port) for _ in range(20)]
    for i, sock in enumerate(socks):
        sock.sendall(f"n{i}\n".encode())
    assert [_read_all(s) for s in socks] == [f"echo n{i}\n".encode() for i in range(20)]
    for sock in socks:
        sock.close()


def test_dnspython_asks_through_a_relayed_datagram(relay: Relay, dns_port: int) -> None:
    query = dns.message.make_query("www.foo.com", "A")
    with relay.datagram(os.getpid(), "127.0.0.1", dns_port) as sock:
        reply = dns.query.udp(query, "127.0.0.1", port=dns_port, timeout=5, sock=sock)
    assert [r.to_text() for r in reply.answer[0]] == ["10.1.1.11"]


@pytest.mark.parametrize(("host", "port", "why"), [
    ("127.0.0.1", 22, "port 22 is not one"),
    ("192.0.2.1", None, "in no lab network"),
    ("www.foo.com", None, "not an IPv4 address"),
])
def test_the_agent_dials_only_lab_addresses_and_probe_ports(
        relay: Relay, tcp_port: int, host: str, port: int | None, why: str) -> None:
    with pytest.raises(OSError, match=why):
        relay.connect(os.getpid(), host, port or tcp_port)


def test_a_refused_connection_is_an_error_here(tcp_port: int) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    argv = agent_argv(sys.executable, ["127.0.0.0/8"], "--same-namespace", "--ports", str(port))
    with Relay(argv) as r, pytest.raises(OSError, match="refused"):
        r.connect(os.getpid(), "127.0.0.1", port)


def test_a_stream_nobody_reads_holds_its_window_and_the_others_go_on(
        relay: Relay, tcp_port: int) -> None:
    """A student's host floods a probe that does not read: the relay holds
    no more than one window of it here, another stream answers meanwhile,
    and the flood arrives whole once read."""
    flooded = relay.connect(os.getpid(), "127.0.0.1", tcp_port)
    flooded.sendall(b"flood\n")
    time.sleep(1)  # the flood would fill any queue by now
    assert max(s.queued for s in relay._streams.values()) <= relay_agent.WINDOW
    with relay.connect(os.getpid(), "127.0.0.1", tcp_port) as other:
        other.sendall(b"still here\n")
        assert _read_all(other, 5) == b"echo still here\n"
    assert _read_all(flooded, 10) == b"x" * (64 * 65536)
    flooded.close()


def test_a_large_answer_read_as_it_comes_arrives_whole(relay: Relay, tcp_port: int) -> None:
    with relay.connect(os.getpid(), "127.0.0.1", tcp_port) as sock:
        sock.sendall(b"flood\n")
        assert _read_all(sock) == b"x" * (64 * 65536)


def test_the_probes_own_deadline_holds_through_the_relay(relay: Relay, tcp_port: int) -> None:
    """A page that answers one byte at a time: the probe's timeout fires here."""
    with relay.connect(os.getpid(), "127.0.0.1", tcp_port) as sock:
        sock.sendall(b"slow\n")
        sock.settimeout(10)
        assert sock.recv(1) == b"s"
        sock.settimeout(0.2)  # the next byte is 2 s away
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_streams_fail_when_the_agent_ends(tcp_port: int) -> None:
    argv = [sys.executable, "-c", "import sys; sys.stdin.read()"]  # reads, never answers
    r = Relay(argv)
    r._proc.kill()  # the agent's machine went away
    with pytest.raises(OSError):
        r.connect(os.getpid(), "127.0.0.1", tcp_port, timeout=5)
    r.close()
    r.close()  # twice is fine


# A server alone in a network namespace of its own: loopback brought up
# there (SIOCSIFFLAGS), listening on the port the tests' server has here.
_IN_OWN_NAMESPACE = """
import ctypes, fcntl, socket, struct, sys
assert ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8914,
            struct.pack("16sH", b"lo", 0x1 | 0x8 | 0x40))
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
conn, _ = server.accept()
conn.sendall(b"from the other namespace: " + conn.recv(1024))
conn.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="entering a namespace needs root")
def test_the_agent_makes_its_socket_in_the_processs_namespace(tcp_port: int) -> None:
    """With no --same-namespace, the socket is made in the namespace of the
    process named: the same address and port answer differently there."""
    inside = subprocess.Popen([sys.executable, "-c", _IN_OWN_NAMESPACE, str(tcp_port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert inside.stdout is not None and inside.stdout.readline() == "ready\n"
        argv = agent_argv(sys.executable, ["127.0.0.0/8"], "--ports", str(tcp_port))
        with Relay(argv) as r:
            with r.connect(inside.pid, "127.0.0.1", tcp_port) as sock:
                sock.sendall(b"hello\n")
                assert _read_all(sock) == b"from the other namespace: hello\n"
            with r.connect(os.getpid(), "127.0.0.1", tcp_port) as sock:
                sock.sendall(b"hello\n")
                assert _read_all(sock) == b"echo hello\n"  # back in the agent's own
            with pytest.raises(OSError, match="no socket in process"):
                r.connect(2**22 + 1, "127.0.0.1", tcp_port)  # no such process
    finally:
        inside.kill()
        inside.wait()


def test_frames_come_out_whole_from_pieces() -> None:
    data = relay_agent.frame(7, relay_agent.DATA, b"abc") + relay_agent.frame(8, relay_agent.EOF)
    parser = relay_agent.Parser()
    got = [f for byte in data for f in parser.feed(bytes([byte]))]
    assert got == [(7, relay_agent.DATA, b"abc"), (8, relay_agent.EOF, b"")]
