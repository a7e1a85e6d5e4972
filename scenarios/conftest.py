"""Fixtures for everything that needs the running lab.

Every test under scenarios/ is marked `docker`. With no lab up they skip
with the reason; under `make test` and CI (FOOLAB_REQUIRE_LAB=1) a missing
lab is a failure, so they can never silently not run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import testinfra

from lab.config import LabConfig
from lab.driver import Lab, LabError, require_engine
from lab.topology import Topology


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def lab() -> Lab:
    lab = Lab(LabConfig.from_env())
    try:
        require_engine()
        states = lab.states()
    except LabError as exc:
        reason = f"no Docker: {exc}"
    else:
        sick = [n for n, s in states.items() if not s.is_healthy]
        if not sick:
            return lab
        reason = f"lab not up (not healthy: {', '.join(sick)}); run `make lab-up`"
    if os.environ.get("FOOLAB_REQUIRE_LAB"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


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
