"""Fixtures for everything that needs the running lab.

Every test under scenarios/ is marked `docker`. With no lab up they skip
with the reason; under `make test` and CI (FOOLAB_REQUIRE_LAB=1) a missing
lab is a failure, so they can never silently not run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import testinfra

from lab.drills import faults, roles, runbooks, verdicts
from lab.drills.verdicts import Consistency
from lab.drills.workload import LedgerWriter
from lab.engine.lab import Lab
from lab.engine.process import require_engine
from lab.engine.waiting import wait_for
from lab.model.config import LabConfig
from lab.model.errors import LabError
from lab.model.topology import Topology
from lab.probes import mysql, pages

# Modules that bring up labs of their own (a roster class, cluster nodes):
# under `make test` (pytest-xdist, --dist loadgroup) they run one after
# another on a worker of their own, beside the scenarios that share the
# single lab, which run one after another on the other. A test of theirs
# that takes the single lab (the `lab` fixture) goes with the single lab's.
OWN_LABS = frozenset({"test_class", "test_class_exercises", "test_class_in_browser",
                      "test_cluster", "test_grader", "test_stalled_lab"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.docker)
            own = item.module.__name__.rsplit(".", 1)[-1] in OWN_LABS and (
                "lab" not in getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.xdist_group("own-labs" if own else "single-lab"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under --dist loadgroup, every scenario went to its group: two scenarios
    of the single lab at once would break each other (pytest 9 ignores the
    node id suffix pytest-xdist 3.8 groups by, and nothing said so)."""
    if not getattr(session.config.option, "loadgroup", False):  # set on xdist workers
        return
    here = os.path.dirname(__file__)
    loose = [i.nodeid for i in session.items
             if str(i.fspath).startswith(here) and "@" not in i.nodeid]
    if loose:
        raise pytest.UsageError(f"pytest-xdist did not group {len(loose)} scenarios "
                                f"(e.g. {loose[0]}): pytest {pytest.__version__} with this "
                                "pytest-xdist? (pyproject.toml pins pytest<9)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium under Selenium, one per module (scenarios/browsing.py)."""
    from browsing import chromium

    yield from chromium()


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The running lab. After the whole session it must be healthy again:
    every fault healed, all seven hosts healthy, replication running."""
    lab = Lab(LabConfig.from_env())
    try:
        require_engine()
        states = lab.states(probe=True)
    except LabError as exc:
        reason = f"no Docker: {exc}"
    else:
        sick = [n for n, s in states.items() if not s.is_healthy]
        if not sick:
            yield lab
            left = faults.active(lab)
            faults.heal_all(lab)
            assert not left, f"faults left behind by a scenario: {left}"
            wait_for("all seven hosts healthy after the scenarios",
                     lambda: all(s.is_healthy for s in lab.states(probe=True).values()),
                     timeout=90)
            return
        reason = f"lab not up (not healthy: {', '.join(sick)}); run `make lab-up`"
    if os.environ.get("FOOLAB_REQUIRE_LAB"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# Set when a scenario left the lab broken and the repair failed: (the
# scenario's node id, why). Every later scenario that needs the lab fails
# on it in one line, instead of failing on what it tests.
_left_broken: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def lab_left_whole(request: pytest.FixtureRequest) -> Iterator[None]:
    """One failure stays one failure: after each scenario that used the lab,
    the lab must be as the article leaves it (roles, replication, equal
    databases, no fault). If not, it is repaired (roles restored, db2
    rebuilt); if that fails too, the next scenarios fail naming this one."""
    if "lab" not in request.fixturenames:
        yield
        return
    if _left_broken:
        culprit, why = _left_broken[0]
        pytest.fail(f"the lab was left broken by {culprit} and could not be repaired: {why}",
                    pytrace=False)
    lab: Lab = request.getfixturevalue("lab")
    yield
    why = roles.not_whole(lab)
    if why is None:
        return
    try:
        roles.restore_article_roles(lab)
    except LabError as exc:
        _left_broken.append((request.node.nodeid, f"{why}; repair failed: {exc}"))
        return
    if (still := roles.not_whole(lab)) is not None:
        _left_broken.append((request.node.nodeid, f"{why}; after the repair: {still}"))


Proof = Callable[..., None]


@pytest.fixture
def prove_nothing_lost(lab: Lab, admin_password: str) -> Proof:
    """The end of every scenario: the databases agree (row counts and
    checksums of every table), every acknowledged write of the scenario's
    workload is there exactly once, and the three web roots are identical."""

    def prove(writer: LedgerWriter | None = None, master: str = "db1",
              replica: str = "db2", allow_lost: bool = False) -> None:
        def same() -> Consistency | None:
            v = verdicts.consistency(
                master, mysql.table_states(lab.address_of(master), admin_password),
                replica, mysql.table_states(lab.address_of(replica), admin_password))
            return v if v.equal else None

        wait_for(f"{replica} consistent with {master}", same, timeout=60, every=0.5)
        if writer is not None:
            # The writer may still be running: judge the writes acknowledged
            # so far, and give the replica time to apply the newest of them.
            attempted, acknowledged = list(writer.attempted), list(writer.acknowledged)
            for host in (master, replica):
                def judged(h: str = host) -> verdicts.Ledger:
                    stored = writer.stored(lab.address_of(h), admin_password)
                    v = verdicts.ledger(attempted, acknowledged, stored)
                    if v.lost and not allow_lost:
                        raise AssertionError(f"acknowledged writes lost on {h}: {v.lost}")
                    return v

                v = wait_for(f"every acknowledged write on {host}", judged, timeout=30)
                assert not v.duplicated, f"duplicated writes on {host}: {v.duplicated}"
        roots = {w: pages.web_root_digests(lab, w) for w in ("web1", "web2", "web3")}
        content = verdicts.content("web1", roots)
        assert content.equal, f"web roots differ: {content.differences}"

    return prove


@pytest.fixture(scope="session")
def topo(lab: Lab) -> Topology:
    return lab.topology


@pytest.fixture(scope="session")
def admin_password(lab: Lab) -> str:
    return lab.secrets()["DB_ADMIN_PASSWORD"]


@pytest.fixture(scope="session")
def host(lab: Lab) -> Callable[[str], Any]:
    """testinfra host for a lab machine: host("web1").user("syncer").exists."""
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = testinfra.get_host(f"docker://{lab.topology.host(name).container}")
        return cache[name]

    return get


# --- the article's roles, always restored (used by the failover scenarios) --------


def run(lab: Lab, book: runbooks.Runbook) -> runbooks.RunbookResult:
    result = runbooks.execute(lab, book)
    assert result.ok, f"{book.name} failed at {result.failed}"
    return result


@pytest.fixture
def restore_roles(lab: Lab) -> Iterator[None]:
    """Whatever happens in the test, end with db1 master and db2 replica
    (the runbooks start a dead db1 themselves), then forget the faults."""
    yield
    if not _article_layout(lab):
        if _replica_of(lab, "db1") is None:
            run(lab, runbooks.rejoin_old_master(lab))
        run(lab, runbooks.switch_back(lab))
    faults.heal_all(lab)
    run(lab, runbooks.semi_sync(lab, on=False))


def _replica_of(lab: Lab, host: str) -> str | None:
    """The address `host` replicates from, or None (a master, or down)."""
    if lab.states()[host].status != "running":
        return None
    rs = mysql.replica_status(lab.address_of(host), lab.secrets()["DB_ADMIN_PASSWORD"])
    return rs.master_host if rs else None


def _article_layout(lab: Lab) -> bool:
    t = lab.topology
    return (lab.states()["db1"].status == "running"
            and lab.address_of("db1") == t.address("db1")
            and lab.address_of("db2") == t.address("db2")
            and _replica_of(lab, "db1") is None
            and _replica_of(lab, "db2") == t.address("db1"))
