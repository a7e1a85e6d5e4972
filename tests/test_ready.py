"""Readiness judged by running each host's healthcheck (lab.engine.ready),
with a fake engine: no Docker needed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from lab.engine import ready
from lab.engine.ready import Probe, check_argv
from lab.model.errors import LabError


@pytest.mark.parametrize(("test", "argv"), [
    (["CMD", "/usr/local/bin/db-healthcheck"], ["/usr/local/bin/db-healthcheck"]),
    (["CMD-SHELL", "dig +short @127.0.0.1 foo.com"],
     ["/bin/sh", "-c", "dig +short @127.0.0.1 foo.com"]),
    (["NONE"], None),
    ([], None),
])
def test_the_check_is_the_one_docker_would_run(test: list[str], argv: list[str] | None) -> None:
    assert check_argv({"Config": {"Healthcheck": {"Test": test}}}) == argv
    assert check_argv({"Config": {}}) is None


def fake_engine(monkeypatch: pytest.MonkeyPatch, probes: dict[str, Iterator[Probe]],
                ids: dict[str, str]) -> None:
    monkeypatch.setattr(ready, "probe", lambda c, timeout=0: next(probes[c]))
    monkeypatch.setattr(ready, "_container_id", lambda c: ids[c])
    monkeypatch.setattr(ready.client, "logs", lambda c, tail=5: f"{c} said goodbye")


def test_a_pass_counts_only_in_the_container_left_after_compose(monkeypatch):
    """web2 passes in its old container before Compose replaces it: that
    pass must not make it ready; the new container's pass does."""
    started = iter([False, False, True, True, True, True, True, True])
    web2 = [Probe(True, "", "old"), Probe(False, "not running (created)", ""),
            Probe(False, "no key", "new"), *[Probe(True, "", "new")] * 5]
    seen: list[Probe] = []

    def web2_probes() -> Iterator[Probe]:
        for p in web2:
            seen.append(p)
            yield p

    probes = {"lab-ns1": itertools.repeat(Probe(True, "", "n1")), "lab-web2": web2_probes()}
    fake_engine(monkeypatch, probes, {"lab-ns1": "n1", "lab-web2": "new"})
    took = ready.wait_ready({"ns1": "lab-ns1", "web2": "lab-web2"}, 10,
                            lambda: next(started, True))
    assert set(took) == {"ns1", "web2"}
    assert seen[-1] == Probe(True, "", "new") and len(seen) == 4


def test_a_host_that_exits_after_compose_is_named(monkeypatch):
    fake_engine(monkeypatch, {"lab-db2": itertools.repeat(Probe(False, "not running (exited)"))},
                {"lab-db2": ""})
    with pytest.raises(LabError, match="db2 stopped while starting.*said goodbye"):
        ready.wait_ready({"db2": "lab-db2"}, 10, lambda: True)


def test_compose_failing_ends_the_wait_with_its_message(monkeypatch):
    fake_engine(monkeypatch, {"lab-ns1": itertools.repeat(Probe(False, "not running"))},
                {"lab-ns1": ""})

    def failed() -> bool:
        raise LabError("docker compose up failed", "no such image")

    with pytest.raises(LabError, match="no such image"):
        ready.wait_ready({"ns1": "lab-ns1"}, 10, failed)


def test_a_slow_host_is_named_with_what_its_check_said(monkeypatch):
    fake_engine(monkeypatch, {"lab-web3": itertools.repeat(Probe(False, "no key", "w3"))},
                {"lab-web3": "w3"})
    with pytest.raises(LabError, match=r"not ready within 0 s.*web3 \(no key\)"):
        ready.wait_ready({"web3": "lab-web3"}, 0.3, lambda: True)


def test_no_check_runs_while_the_daemons_do_not_listen(monkeypatch):
    """A probe is an exec (engine and runc CPU): a class starting 24 labs at
    once must not spend it on hosts whose daemons have not opened their
    ports. db1's check runs only once it listens; ns1 (no ports given, or
    on another machine: None) is probed as before."""
    listens = iter([False, False, False, True])
    asked: list[str] = []

    def listening(c: str, ports: tuple[int, ...]) -> bool | None:
        if c != "lab-db1":
            return None
        asked.append("listening?")
        return next(listens, True)

    monkeypatch.setattr(ready, "listening", listening)

    def probes(c: str) -> Iterator[Probe]:
        while True:
            asked.append(c)
            yield Probe(True, "", c)

    fake_engine(monkeypatch, {c: probes(c) for c in ("lab-db1", "lab-ns1")},
                {"lab-db1": "lab-db1", "lab-ns1": "lab-ns1"})
    took = ready.wait_ready({"db1": "lab-db1", "ns1": "lab-ns1"}, 10, lambda: True,
                            listens={"db1": (3306,), "ns1": (53,)})
    assert set(took) == {"db1", "ns1"}
    db1 = [a for a in asked if a != "lab-ns1"]
    assert db1 == ["listening?"] * 4 + ["lab-db1"]  # probed once, after it listens


def test_listening_reads_the_kernels_table_of_the_containers_process(monkeypatch):
    """The table is read from /proc of the container's main process; here
    this test's own process, with a socket of its own listening."""
    import os
    import socket

    monkeypatch.setattr(ready.client, "pid", lambda _c: os.getpid())
    monkeypatch.setattr(ready.client, "inspect_container", lambda _c: {"Id": "not-in-cgroup"})
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert ready.listening("c", (port,)) is False  # bound, not yet listening
        server.listen()
        assert ready.listening("c", (port,)) is True
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            assert ready.listening("c", (port, other.getsockname()[1])) is False
    monkeypatch.setattr(ready.client, "pid", lambda _c: None)
    assert ready.listening("c", (port,)) is None  # not here: probe as before


def test_the_main_process_is_asked_of_the_engine_once_per_start(monkeypatch):
    """While a host's process lives (its cgroup still names the container),
    the engine is not asked again; once it is gone, it is."""
    import os
    from pathlib import Path

    asked: list[str] = []
    cid = Path(f"/proc/{os.getpid()}/cgroup").read_text().split(":")[-1].strip()

    def pid(c: str) -> int:
        asked.append(c)
        return os.getpid()

    monkeypatch.setattr(ready.client, "pid", pid)
    monkeypatch.setattr(ready.client, "inspect_container", lambda _c: {"Id": cid})
    monkeypatch.setattr(ready, "_PIDS", {})
    assert [ready._main_pid("c") for _ in range(5)] == [os.getpid()] * 5
    assert asked == ["c"]
    ready._PIDS["c"] = (os.getpid(), "another-container")  # the process went, another came
    assert ready._main_pid("c") == os.getpid() and asked == ["c", "c"]
