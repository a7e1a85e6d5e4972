"""Issue 31: one student cannot take the lesson down.

Two labs of a roster class (n01 and n02, their own state folder) and the
class server. As root in n01 a student allocates 3 GiB in web1, starts 3,000
processes in web2 and spins busy loops in all seven hosts. The allocation
ends at web1's bound and shows on `class status`, the flood stops at web2's
bound, n02 stays healthy with its pages within 2x of their speed before
(or 5 ms more: the scheduler's wakeup latency, not a share) and a core for it,
and the class server answers. A query then grows n01's db1 past its own
bound: db1 exits, and the class server's watch starts it again. Every load
here ends by itself (timeout).
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from teaching import foolab_in, roster_class

from lab.classweb.class_server import running
from lab.engine import cgroups, client, revive
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model import bounds, events
from lab.model.config import LabConfig
from lab.probes import pages

# It spins every core for a minute: nothing else may be measured meanwhile.
pytestmark = [pytest.mark.destructive, pytest.mark.slow, pytest.mark.alone]

LABS = ("n01", "n02")
ROSTER = "name,email\nNoisy Nora,nora@school.example\nQuiet Quentin,quentin@school.example\n"
BUSY_S = 60  # how long the busy loops spin (each ends by itself)
CPU_S = 10  # how long the quiet lab's own loop runs, measured
WAKEUP_ALLOWANCE_S = 0.005  # a page's added wait that is the scheduler's, not a share


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("noisy")


@pytest.fixture(scope="module")
def school(state: Path) -> Iterator[LabConfig]:
    with roster_class(state, ROSTER, "n") as (base, _roster):
        yield base


def page_seconds(lab: Lab, count: int = 60) -> float:
    """The median time of n02's /db.php through web1, from inside the lab."""
    times = []
    with lab.network():
        for _ in range(count):
            t0 = time.perf_counter()
            assert pages.fetch(lab.address_of("web1"), "/db.php", timeout=5).status == 200
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rows(state: Path) -> dict[str, dict[str, object]]:
    out = foolab_in(state, "class", "status", "--json")
    return {r["lab"]: r for r in json.loads(out.stdout)}


def pids_group(container: str) -> Path:
    """A host's own process group on this machine (cgroup v1 or v2), read
    here: a flooded host has no process left to answer `docker exec`."""
    pid = client.pid(container)
    assert pid is not None, f"{container} is not running"
    folder = cgroups.process_group(pid, "pids")
    assert folder is not None, f"no process group for {container}"
    return folder


def pids_now(container: str) -> int:
    return int((pids_group(container) / "pids.current").read_text())


def forks_refused(container: str) -> int:
    """How often the host's process bound refused a fork (pids.events)."""
    for line in (pids_group(container) / "pids.events").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "max":
            return int(value)
    return 0


def test_a_noisy_lab_stays_inside_its_share(school: LabConfig, state: Path,
                                            record_property: pytest.RecordProperty) -> None:
    noisy, quiet = Lab(school.for_lab("n01")), Lab(school.for_lab("n02"))
    before = page_seconds(quiet)

    # memory: web1's bound ends the allocation, and the class sees it
    alloc = noisy.exec("web1", ["sh", "-c", "head -c 3G /dev/zero | tail > /dev/null"],
                       timeout=180)
    assert alloc.returncode != 0, "3 GiB were allocated inside a bounded host"
    assert int(str(rows(state)["n01"]["oom"])) >= 1

    # processes: web2's bound stops the flood (the sleeps end by themselves)
    flood = noisy.exec("web2", ["sh", "-c", "for i in $(seq 3000); do sleep 10 & done "
                                "2>/dev/null; true"], timeout=180)
    web2 = noisy.topology.host("web2").container
    assert forks_refused(web2) > 0, "the flood never reached web2's bound"
    assert pids_now(web2) <= bounds.HOST_PIDS, flood.stderr
    wait_for("the flood's sleeps to end", lambda: pids_now(web2) < 50, timeout=60)

    # CPU: four busy loops in every host of n01, for BUSY_S at most
    spin = (f"for i in 1 2 3 4; do timeout {BUSY_S} sh -c 'while :; do :; done' "
            ">/dev/null 2>&1 & done")
    for host in noisy.topology.names:
        assert noisy.exec(host, ["sh", "-c", spin]).returncode == 0
    t0 = time.monotonic()
    with running(school) as (url, _app):
        during = page_seconds(quiet)
        with urllib.request.urlopen(f"{url}/", timeout=10) as answer:
            assert answer.status == 200
        # n02's student needs a core too: a lab's weight is a lab's, however
        # many hosts and loops the other has (one host against seven
        # containers' weights got a quarter of a core)
        web1 = quiet.topology.host("web1").container
        used_before = client.cpu_total_ns(web1) or 0
        quiet.exec("web1", ["timeout", str(CPU_S), "sh", "-c", "while :; do :; done"],
                   timeout=CPU_S + 30)
        cores = ((client.cpu_total_ns(web1) or 0) - used_before) / 1e9 / CPU_S
    assert time.monotonic() - t0 < BUSY_S, "measured after the loops had ended"
    record_property("page median before (ms)", round(before * 1000, 2))
    record_property("page median with a noisy neighbour (ms)", round(during * 1000, 2))
    record_property("cores the quiet lab got for one busy loop", round(cores, 2))
    assert rows(state)["n02"]["healthy"] == 7
    # Within 2x, or a few scheduler slices more: a 2 ms page met 28 busy
    # loops' wakeup latency once (1.9 -> 5.0 ms), which is not a share taken
    # (that is `cores` below); an unbounded lab made it 5.7x, over 9 ms more.
    assert during <= 2 * before or during - before <= WAKEUP_ALLOWANCE_S, (before, during)
    assert cores >= 0.6, f"the quiet lab got {cores:.2f} of a core beside the noisy one"

    wait_for("n01 healthy again once its loads ended",
             lambda: rows(state)["n01"]["healthy"] == 7, timeout=BUSY_S + 90, every=5)


# A student's table in memory, four times db1's bound, made on db1 alone
# (not written to the binary log: db2 keeps its own memory).
HOG = ("SET sql_log_bin=0; SET max_heap_table_size=2147483648; CREATE DATABASE IF NOT EXISTS "
       "hog; USE hog; CREATE TABLE IF NOT EXISTS t (c CHAR(255)) ENGINE=MEMORY; "
       "INSERT INTO t SELECT 'x' FROM seq_1_to_6000000")


def test_a_host_its_memory_bound_ended_comes_back(school: LabConfig, state: Path) -> None:
    """A query grows db1's own daemon past db1's bound: the kernel ends it
    and db1 exits. The class server's watch starts it again with its
    address, saying so on the timeline; replication resumes."""
    noisy = Lab(school.for_lab("n01"))
    db1 = noisy.topology.host("db1").container
    out = noisy.exec("db1", ["mariadb", "-e", HOG], timeout=120)
    assert out.returncode != 0, out  # the server, or the whole host, went under it
    wait_for("db1 exited, killed at its memory bound", lambda: revive.ended_by_bound(db1),
             timeout=30, every=0.5)
    with running(school):
        wait_for("db1 started again by the class server's watch",
                 lambda: (client.inspect_container(db1) or {}).get("State", {}).get("Running"),
                 timeout=60, every=1)
    said = [e.text for e in events.read(noisy.config.state_dir) if e.host == "db1"]
    assert any("memory bound" in t and "started again" in t for t in said), said
    wait_for("n01 whole and replicating again",
             lambda: (r := rows(state)["n01"])["healthy"] == 7 and r["replicating"],
             timeout=120, every=3)
