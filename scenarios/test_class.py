"""Issue 10: a class of labs on one machine, each with the article's addresses.

Two labs (t01, t02) beside the single lab: both have 10.1.1.2 ... 10.1.1.22;
neither can reach the other; a kill, a fault and a runbook in one change
nothing in the other; removing one leaves the other running; and nothing
was sent out of the machine meanwhile.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from teaching import graded_from_the_lab, require_docker

from lab.classweb.terminal import SHELL
from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.network import CLASS_TAG
from lab.engine.waiting import wait_for
from lab.model.config import REPO, LabConfig

LABS = ("t01", "t02")


def foolab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The CLI as a teacher runs it (its own process: it enters a lab's
    network namespace by itself)."""
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout)


def class_rows() -> dict[str, dict[str, Any]]:
    out = foolab("class", "status", "--json")
    return {r["lab"]: r for r in json.loads(out.stdout) if r["lab"] in LABS}


def sh(lab: str, host: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", f"foolab{lab}-{host}", "bash", "-c", script],
                          text=True, capture_output=True, timeout=60)


def write_through_web1(lab: str, tag: str) -> bool:
    """One order through the lab's own web1 (curl on web1 itself; db.php
    answers 503 when the write fails)."""
    out = sh(lab, "web1", f"curl -fsS -m 5 'http://127.0.0.1/db.php?write=1&writer={tag}'")
    return out.returncode == 0


@pytest.fixture(scope="module")
def two_labs() -> Iterator[None]:
    """t01 and t02, removed again whatever happens."""
    require_docker()
    try:
        up = foolab("class", "up", "2", "--prefix", "t", timeout=600)
        assert up.returncode == 0, up.stderr[-2000:] + up.stdout[-2000:]
        yield
    finally:
        for name in LABS:
            foolab("--lab", name, "down")


def test_every_lab_has_the_article_addresses(two_labs: None) -> None:
    rows = class_rows()
    assert set(rows) == set(LABS)
    assert all(r["healthy"] == r["hosts"] == 7 and r["replicating"] for r in rows.values()), rows
    assert rows["t01"]["wire"] != rows["t02"]["wire"]
    for name in LABS:
        hosts = json.loads(foolab("--lab", name, "status", "--json").stdout)["hosts"]
        assert {h["name"]: h["address"] for h in hosts}["db1"] == "10.1.1.21"
        inside = sh(name, "web1", "ip -4 -o addr show")
        assert "10.1.1.11/24" in inside.stdout
        assert "default" not in sh(name, "web1", "ip route").stdout  # no way out


# On web1 too: web1's cron pushes /var/www to web2 with --delete every
# minute, so a file on web2 alone may vanish between the write and the read.
MARKER = "/var/www/html/marker.txt"


def test_labs_cannot_reach_each_other(two_labs: None) -> None:
    for host in ("web1", "web2"):
        assert sh("t02", host, f"echo t02 > {MARKER}").returncode == 0
    try:
        # The same address, another lab: t01's web1 reaches t01's web2 only.
        mine = sh("t01", "web1", "curl -s -o /dev/null -w '%{http_code}' -m 5 "
                  "-H 'Host: www.foo.com' http://10.1.1.12/marker.txt")
        theirs = sh("t02", "web1", "curl -s -m 5 -H 'Host: www.foo.com' "
                    "http://10.1.1.12/marker.txt")
        assert mine.stdout == "404" and theirs.stdout.strip() == "t02"
        mac = client.inspect_container("foolabt01-web2")["NetworkSettings"]["Networks"][
            "foolabt01"]["MacAddress"]
        assert mac in sh("t01", "web1", "ip neigh show 10.1.1.12").stdout
        # t02's own Docker addresses are not even routed from t01.
        wire = client.inspect_container("foolabt02-web2")["NetworkSettings"]["Networks"][
            "foolabt02"]["IPAddress"]
        probe = sh("t01", "web1", f"curl -s -m 3 http://{wire}/ || echo unreachable")
        assert "unreachable" in probe.stdout
    finally:
        for host in ("web1", "web2"):
            sh("t02", host, f"rm -f {MARKER}")


class Listener:
    """A TCP service on every address of this machine (IPv6 and IPv4, link-
    local included), counting who connects: a class lab must reach none."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.peers.append(str(peer[0]))
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def machine_addresses() -> list[str]:
    """Every address of this machine, link-local ones with their interface."""
    out = subprocess.run(["ip", "-j", "addr", "show"], text=True, capture_output=True,
                         check=True).stdout
    found = []
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            local = a["local"]
            if a.get("scope") == "link" and ":" in local:
                local = f"{local}%eth0"  # from inside a lab host, out of its own interface
            found.append(local)
    return found


def test_a_class_lab_reaches_nothing_of_this_machine(two_labs: None) -> None:
    """From a student's shell (the terminal's own command, NET_ADMIN
    dropped), every address of this machine over IPv4 and IPv6: nothing
    answers, and the listener saw nobody."""
    listener = Listener()
    try:
        addresses = machine_addresses()
        assert any(":" in a for a in addresses) and any("." in a for a in addresses)
        for address in addresses:
            url = f"http://[{address}]:{listener.port}/" if ":" in address else (
                f"http://{address}:{listener.port}/")
            out = sh("t01", "web1", f"{' '.join(SHELL[:-2])} curl -g -s -m 2 -o /dev/null "
                     f"'{url}' && echo reached")
            assert "reached" not in out.stdout, address
        assert not listener.peers, listener.peers
    finally:
        listener.close()


def test_no_exec_into_a_class_host_can_change_its_network(two_labs: None) -> None:
    """As the engine's healthchecks and the grader's commands run (docker
    exec, root): no NET_ADMIN, so no address, route or rule can be changed,
    whatever a student put in place for them to run; the lab address is
    there all the same (added from outside)."""
    for host in ("web1", "db2", "ns1"):
        out = sh("t01", host, "ip addr add 192.0.2.99/32 dev eth0")
        assert out.returncode != 0 and "not permitted" in out.stderr, (host, out.stderr)
        route = sh("t01", host, "ip route add default via 10.1.1.1")
        assert route.returncode != 0, (host, route.stdout)
    assert "10.1.1.11/24" in sh("t01", "web1", "ip -4 -o addr show").stdout


def test_kill_fault_and_runbook_in_one_lab_leave_the_other_alone(two_labs: None) -> None:
    assert write_through_web1("t02", "before")
    try:
        assert foolab("--lab", "t01", "fault", "kill", "db1").returncode == 0
        assert foolab("--lab", "t01", "fault", "cut", "db2").returncode == 0
        rows = class_rows()
        assert rows["t01"]["healthy"] < 7 and not rows["t01"]["replicating"]  # it did bite
        assert rows["t02"]["healthy"] == 7 and rows["t02"]["replicating"], rows["t02"]
        assert write_through_web1("t02", "during")
    finally:
        assert foolab("--lab", "t01", "heal").returncode == 0
    wait_for("t01 healthy again", lambda: class_rows()["t01"]["healthy"] == 7, timeout=120)
    book = foolab("--lab", "t01", "runbook", "rebuild-replica")
    assert book.returncode == 0, book.stderr
    assert write_through_web1("t02", "after")
    rows = class_rows()
    assert rows["t01"]["replicating"] and rows["t02"]["replicating"], rows


def test_bad_lab_name_is_one_line_listing_the_labs(two_labs: None) -> None:
    out = foolab("--lab", "nosuch", "status")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "t01" in out.stderr and "t02" in out.stderr


def test_too_many_labs_for_the_memory_start_none(two_labs: None) -> None:
    before = set(client.class_networks())
    out = foolab("class", "up", "250", "--prefix", "z")
    assert out.returncode == 2 and "fit" in out.stderr, out.stderr
    assert set(client.class_networks()) == before


def test_grade_class_grades_each_lab_from_inside_it(two_labs: None) -> None:
    """An exercise in t02 only: `grade --class` gives t02's row (read from
    t02 itself: 0 points while broken) and skips t01."""
    start = foolab("--lab", "t02", "exercise", "start", "reads-from-dead-replica",
                   "--seed", "bob@school")
    assert start.returncode == 0, start.stderr
    try:
        out = foolab("grade", "--class", "--format", "json")
        assert out.returncode == 0, out.stderr
        rows = {r["lab"]: r for r in json.loads(out.stdout)}
        assert "t01" not in rows
        graded_from_the_lab(rows["t02"])
        assert "t01: no exercise" in out.stderr
    finally:
        assert foolab("--lab", "t02", "exercise", "stop").returncode == 0


def test_down_of_one_lab_leaves_the_other_running(two_labs: None) -> None:
    assert foolab("--lab", "t01", "down").returncode == 0
    rows = class_rows()
    assert "t01" not in rows and rows["t02"]["healthy"] == 7, rows
    assert Lab(LabConfig.from_env().for_lab("t02")).is_up()


def test_nothing_left_the_machine(two_labs: None) -> None:
    """The last guards (iptables OUTPUT to the wires and the labs' subnet on
    the default interface, FORWARD from a class bridge out of it) never had
    to drop anything, and the host has no address on a class bridge."""
    for chain in ("OUTPUT", "FORWARD"):
        rules = subprocess.run(["iptables", "-v", "-x", "-n", "-L", chain], text=True,
                               capture_output=True).stdout
        guards = [line for line in rules.splitlines() if CLASS_TAG in line]
        assert guards, f"the class's guard rules are missing from {chain}"
        assert all(int(line.split()[0]) == 0 for line in guards), guards
    bridge = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "foolab-t02"], text=True,
                            capture_output=True)
    assert bridge.returncode == 0 and bridge.stdout.strip() == ""
