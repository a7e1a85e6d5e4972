"""A hostile student, root in every host, against the goals: the programs
of the hosts lie (test, dig, cat, find, md5sum say what the student
wants), and the name servers single out the checker's address. No goal
may take its evidence from a host's program, and a check that strangers
are refused asks from the lab hosts' own addresses. No Docker: the
engine's archive (conftest.host_files), the network namespaces and the
DNS client are faked."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lab.admin import zone
from lab.engine import client, netns
from lab.engine.process import fill
from lab.exercises import grader, nameservers, services
from lab.exercises.definitions import SYMPTOM, Goal, Started
from lab.hosts import rsync
from lab.model.article import ZONE
from lab.model.config import LabConfig
from lab.model.topology import topology
from lab.probes import named, pages, vantage

if TYPE_CHECKING:
    from conftest import FakeEngine

# Programs a student can replace whose answer would be evidence.
LIARS = ("test", "[", "dig", "cat", "find", "md5sum", "mariadb", "mysql", "curl", "ls", "stat")
# What a lying dig in ns2 prints: a transfer that went through.
DIG_SAYS_COPIED = "foo.com. 10800 IN SOA ns1.foo.com. hostmaster.foo.com. 1 2 3 4 5\n"


class TamperedLab:
    """A lab whose every program in every host lies: `test` says yes, dig
    says the zone came, find and md5sum say what the other host has.
    `on_exec` does what a command does to the fake hosts (a push)."""

    def __init__(self, files: FakeEngine) -> None:
        self.topology = topology()
        self.config = LabConfig()  # the single lab
        self.files = files
        self.execs: list[tuple[str, list[str]]] = []
        self.on_exec: Callable[[str, list[str]], None] = lambda host, argv: None

    def fs(self, host: str) -> Path:
        return self.files.fs(self.topology.host(host).container)

    def address_of(self, host: str) -> str:
        return self.topology.address(host)

    def exec(self, host: str, argv: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.execs.append((host, argv))
        self.on_exec(host, argv)
        out = DIG_SAYS_COPIED if argv[0] == "dig" else ""
        if "md5sum" in " ".join(argv):
            out = f"{hashlib.md5(b'same').hexdigest()}  ./html/index.html\n"
        return subprocess.CompletedProcess(argv, 0, out, "")

    def sh(self, host: str, script: str, **kw: Any) -> str:
        return self.exec(host, ["bash", "-c", script], **kw).stdout

    def run(self, host: str, template: str, *args: str, **kw: Any) -> str:
        return self.sh(host, fill(template, *args), **kw)

    def asked_of_liars(self) -> list[str]:
        """Every command run in a host whose answer a student controls."""
        found = []
        for host, argv in self.execs:
            words = argv[2].replace(";", " ").replace("|", " ").split() if argv[:2] == [
                "bash", "-c"] else argv
            if any(w.rsplit("/", 1)[-1] in LIARS for w in words):
                found.append(f"{host}: {' '.join(argv)}")
        return found


@pytest.fixture
def lab(host_files: FakeEngine) -> TamperedLab:
    return TamperedLab(host_files)


def started(**params: Any) -> Started:
    return Started("x", "seed", params)


# --- web-stale: the push, the key, the content ------------------------------------


def pushing(lab: TamperedLab, works: bool) -> None:
    """web1's push (its script, run as cron does) copies the content folder
    to web3 when `works`."""
    web1, web3 = lab.topology.content_source, services.STALE

    def push(host: str, argv: list[str]) -> None:
        if works and host == web1 and argv[-1] == rsync.SCRIPT:
            for f in (lab.fs(web1) / "var/www/html").iterdir():
                (lab.fs(web3) / "var/www/html" / f.name).write_bytes(f.read_bytes())

    lab.on_exec = push
    for host in (web1, web3):
        (lab.fs(host) / "var/www/html").mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("works", [True, False])
def test_the_push_is_judged_by_the_file_on_web3_read_through_the_archive(
        lab: TamperedLab, works: bool) -> None:
    pushing(lab, works)
    held, seen = services._push_reaches_web3(lab, started())  # type: ignore[arg-type]
    assert held is works, seen  # web3's `test` says yes either way
    assert lab.asked_of_liars() == []
    web1 = lab.topology.host(lab.topology.content_source).container
    assert [c for c, _ in lab.files.puts] == [web1]  # the probe: put by the engine, not echo


def test_a_file_of_the_probe_s_name_without_its_token_is_not_the_push(
        lab: TamperedLab) -> None:
    """A daemon on web3 that makes any file named like a grader's probe."""
    pushing(lab, works=False)
    web3 = services.STALE

    def fake_daemon(host: str, argv: list[str]) -> None:
        if argv[-1] == rsync.SCRIPT:
            for f in (lab.fs(lab.topology.content_source) / "var/www/html").iterdir():
                (lab.fs(web3) / "var/www/html" / f.name).write_text("made on web3")

    lab.on_exec = fake_daemon
    assert services._push_reaches_web3(lab, started())[0] is False  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["plain", "rrsync"])
def test_what_the_key_did_on_web3_is_read_through_the_archive(
        lab: TamperedLab, key: str) -> None:
    web3 = services.STALE
    (lab.fs(web3) / "tmp").mkdir()

    def ssh(host: str, argv: list[str]) -> None:
        if key == "plain" and "touch" in argv:
            (lab.fs(web3) / argv[-1].lstrip("/")).write_text("")

    lab.on_exec = ssh
    held, seen = services._key_only_pushes_content(lab, started())  # type: ignore[arg-type]
    assert held is (key == "rrsync"), seen  # web3's `test -e` says "not there" is never asked
    assert lab.asked_of_liars() == []


def test_content_is_compared_from_the_archive_not_find_and_md5sum(lab: TamperedLab) -> None:
    for host, text in ((lab.topology.content_source, "new page"), (services.STALE, "old")):
        (lab.fs(host) / "var/www/html").mkdir(parents=True)
        (lab.fs(host) / "var/www/html/news.html").write_text(text)
    held, seen = services._same_content(lab, started())  # type: ignore[arg-type]
    assert not held and "html/news.html" in seen  # md5sum says "same" in both
    assert lab.asked_of_liars() == []
    assert pages.web_root_digests(lab, services.STALE) == {
        "html/news.html": hashlib.md5(b"old").hexdigest()}


# --- sessions-lost: one shared folder --------------------------------------------------


@pytest.mark.parametrize("shared", [True, False])
def test_a_shared_session_folder_is_judged_by_the_marker_read_through_the_archive(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch, shared: bool) -> None:
    folder = "/var/lib/php/sessions"
    webs = lab.topology.webs
    for web in webs:
        (lab.fs(web) / folder.lstrip("/")).mkdir(parents=True)
    if shared:  # one folder: web2's and web3's are web1's
        for web in webs[1:]:
            (lab.fs(web) / folder.lstrip("/")).rmdir()
            (lab.fs(web) / folder.lstrip("/")).symlink_to(lab.fs(webs[0]) / folder.lstrip("/"))
    answer = pages.WebResponse(200, None, f'{{"save_path": "{folder}"}}', None)
    monkeypatch.setattr(pages, "fetch", lambda *a, **k: answer)
    held, seen = services._one_place(lab, started())  # type: ignore[arg-type]
    assert held is shared, seen  # every `test -e` says yes
    assert lab.asked_of_liars() == []


# --- ns2-stale: who may copy the zone --------------------------------------------------


class NameServer:
    """ns1's allow-transfer as a student wrote it: `allows(asker)` where
    asker is a host's name, or None for the teacher's side (this machine,
    a class lab's console). The asker is the network namespace this
    thread entered (vantage.from_host, faked)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, allows: Callable[[str | None], bool],
                 ) -> None:
        self.asked: list[str | None] = []
        self._inside: str | None = None

        @contextlib.contextmanager
        def from_host(_lab: Any, host: str) -> Iterator[None]:
            self._inside = host
            try:
                yield
            finally:
                self._inside = None

        def transfer(server: str, zone_name: str = ZONE, timeout: float = 3.0,
                     ) -> named.Transfer:
            self.asked.append(self._inside)
            ok = allows(self._inside)
            return named.Transfer("NOERROR" if ok else "REFUSED", ok)

        @contextlib.contextmanager
        def from_teacher(_lab: Any) -> Iterator[None]:
            self._inside = None
            yield

        monkeypatch.setattr(vantage, "from_host", from_host)
        monkeypatch.setattr(vantage, "from_teacher", from_teacher)
        monkeypatch.setattr(named, "transfer", transfer)


NS2 = topology().secondary_dns


@pytest.mark.parametrize(("policy", "holds"), [
    ("only ns2", True),
    ("ns2 and the lab, not the checker", False),  # the checker singled out
    ("ns2 and web2", False),
    ("any", False),
    ("nobody (dig in ns2 says copied)", False),  # a replaced dig
])
def test_only_ns2_may_copy_asks_from_every_lab_host_s_own_address(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch, policy: str, holds: bool) -> None:
    allows = {
        "only ns2": lambda who: who == NS2,
        "ns2 and the lab, not the checker": lambda who: who is not None,
        "ns2 and web2": lambda who: who in (NS2, "web2"),
        "any": lambda who: True,
        "nobody (dig in ns2 says copied)": lambda who: False,
    }[policy]
    server = NameServer(monkeypatch, allows)
    held, seen = nameservers._only_ns2_may_copy(lab, started())  # type: ignore[arg-type]
    assert held is holds, seen
    assert lab.asked_of_liars() == []  # no dig in ns2
    t = lab.topology
    assert set(server.asked) == {None, *(h for h in t.names if h != t.primary_dns)}


def test_a_transfer_is_asked_inside_the_host_s_own_network_namespace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = TamperedLab.__new__(TamperedLab)
    lab.topology = topology()
    entered: list[int] = []
    pids = {lab.topology.host(h).container: 100 + i for i, h in enumerate(lab.topology.names)}
    monkeypatch.setattr(client, "pid", lambda container: pids.get(container))

    @contextlib.contextmanager
    def inside(pid: int) -> Iterator[None]:
        entered.append(pid)
        yield

    monkeypatch.setattr(netns, "inside", inside)
    with vantage.from_host(lab, NS2):
        pass
    assert entered == [pids[lab.topology.host(NS2).container]]
    del pids[lab.topology.host("web2").container]  # web2 not running: nothing to ask from
    with pytest.raises(Exception, match="web2 is not running"), vantage.from_host(lab, "web2"):
        pass


def test_a_change_reaches_ns2_only_if_ns2_serves_this_grade_s_record(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """ns2 already holds a serial above any the grader makes (its own zone,
    served by hand); ns1's `cat` says the zone is old. Only the record made
    for this grade, on ns2, counts; the zone is read through the archive."""
    ns1 = lab.topology.primary_dns
    (lab.fs(ns1) / zone.ZONE_FILE.lstrip("/")).parent.mkdir(parents=True)
    (lab.fs(ns1) / zone.ZONE_FILE.lstrip("/")).write_text(
        "foo.com. IN SOA ns1.foo.com. hostmaster.foo.com. 2006032801 1 2 3 4\n"
        "only-in-the-file IN A 10.1.1.99\n")
    monkeypatch.setattr(nameservers, "NOTIFY_WAIT_S", 0.3)
    written: list[str] = []
    monkeypatch.setattr(zone, "write_zone", lambda _lab, text, **k: written.append(text))
    monkeypatch.setattr(named, "soa", lambda server: named.Soa("a", "b", 9999999999, 1, 1, 1, 1))
    monkeypatch.setattr(named, "ask", lambda server, name, rdtype="A", **k: named.DnsAnswer(
        server, name, "NOERROR", True, (), None))
    held, seen = nameservers._a_change_reaches_ns2(lab, started())  # type: ignore[arg-type]
    assert not held, seen
    assert "only-in-the-file" in written[0]  # built on the file read from outside ns1
    assert lab.asked_of_liars() == []

    def ns2_follows(server: str, name: str, rdtype: str = "A", **_: Any) -> named.DnsAnswer:
        record = next(line for line in written[-1].splitlines() if " TXT " in line)
        token = record.split(" TXT ", 1)[1]
        ok = name == record.split()[0] + "." + ZONE
        return named.DnsAnswer(server, name, "NOERROR", True, (token,) if ok else (), None)

    monkeypatch.setattr(named, "ask", ns2_follows)
    written.clear()
    assert nameservers._a_change_reaches_ns2(lab, started())[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("answer", "copied"), [
    ("foo.com. 300 IN SOA ns1.foo.com. hostmaster.foo.com. 1 2 3 4 5", True),
    ("", False),  # NOERROR and nothing: no zone came
    ("www.foo.com. 300 IN A 10.1.1.11", False),
])
def test_a_transfer_is_a_copy_only_when_the_zone_s_soa_comes_first(
        monkeypatch: pytest.MonkeyPatch, answer: str, copied: bool) -> None:
    import dns.message
    import dns.query
    import dns.rrset

    def tcp(query: dns.message.Message, where: str, **_: Any) -> dns.message.Message:
        reply = dns.message.make_response(query)
        if answer:
            reply.answer.append(dns.rrset.from_text(*answer.split(maxsplit=4)[:4],
                                                    answer.split(maxsplit=4)[4]))
        return reply

    monkeypatch.setattr(named, "require_lab_route", lambda address: None)
    monkeypatch.setattr(dns.query, "tcp", tcp)
    got = named.transfer("10.1.1.2")
    assert got.copied is copied and got.rcode == "NOERROR"


class Visited:
    """Where each goal's check was asked from: the lab host whose network
    namespace the goal's thread entered (vantage.from_host, faked), None for
    the teacher's side. `running` are the hosts with a main process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, running: Sequence[str]) -> None:
        self.asked_from: list[str | None] = []
        self._inside = threading.local()
        t = topology()
        pids = {t.host(h).container: 100 + i for i, h in enumerate(running)}
        monkeypatch.setattr(client, "pid", lambda container: pids.get(container))
        monkeypatch.setattr(vantage.os, "geteuid", lambda: 0)  # foolab as root

        @contextlib.contextmanager
        def from_host(_lab: Any, host: str) -> Iterator[None]:
            self._inside.host = host
            yield

        monkeypatch.setattr(vantage, "from_host", from_host)

    def check(self, _lab: Any, _s: Started) -> tuple[bool, str]:
        """A web server that serves the checker apart: the page is right
        only for the teacher's side, the address the checks used to come from."""
        where = getattr(self._inside, "host", None)
        self.asked_from.append(where)
        return where is None, f"asked from {where}"


def _goal(check: Callable[[Any, Started], tuple[bool, str]]) -> Goal:
    return Goal("the page is right", SYMPTOM, 1, "look", check)


def test_each_goal_is_asked_from_a_lab_host_drawn_for_it(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student who serves the checker's address apart cannot: no goal is
    asked from the teacher's side, and the address changes from goal to
    goal over every running host but the databases."""
    t = lab.topology
    visited = Visited(monkeypatch, t.names)
    results = [grader._answer(_goal(visited.check), lab, started(), 5.0)  # type: ignore[arg-type]
               for _ in range(120)]
    assert not any(passed for passed, _seen in results), results[:3]
    assert set(visited.asked_from) == set(t.names) - set(t.databases)


def test_a_host_that_is_not_running_is_not_drawn(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch) -> None:
    t = lab.topology
    running = [h for h in t.names if h != t.webs[0]]
    visited = Visited(monkeypatch, running)
    for _ in range(60):
        grader._answer(_goal(visited.check), lab, started(), 5.0)  # type: ignore[arg-type]
    assert t.webs[0] not in visited.asked_from
    nothing = Visited(monkeypatch, ())  # no host runs: the teacher's side asks
    grader._answer(_goal(nothing.check), lab, started(), 5.0)  # type: ignore[arg-type]
    assert nothing.asked_from == [None]


def test_not_root_on_the_single_lab_the_teacher_s_side_asks(
        lab: TamperedLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab host's address needs root (setns); the single lab graded by a
    user without it is asked from this machine, as before."""
    visited = Visited(monkeypatch, lab.topology.names)
    monkeypatch.setattr(vantage.os, "geteuid", lambda: 1000)
    grader._answer(_goal(visited.check), lab, started(), 5.0)  # type: ignore[arg-type]
    assert visited.asked_from == [None]
