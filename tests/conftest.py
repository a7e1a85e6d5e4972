"""Unit tests never touch the machine's engine, network or firewall: a
command that would is refused here (a unit test once reconnected a real
lab's db2 at its fake address), and so is the Docker SDK's client
(lab.engine.client). Scenarios under scenarios/ do the real thing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from lab.engine import cgroups, client

TOUCHES_THE_MACHINE = ("docker", "nsenter", "iptables", "ip", "tc")


def _refusing(real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(argv: Any, *args: Any, **kwargs: Any) -> Any:
        words = argv.split() if isinstance(argv, str) else [str(a) for a in argv]
        if words[:2] in (["sh", "-c"], ["bash", "-c"]) and len(words) > 2:
            words = words[2].split()
        if words and words[0].rsplit("/", 1)[-1] in TOUCHES_THE_MACHINE:
            raise AssertionError(f"a unit test ran {' '.join(words)[:80]!r}; fake it")
        return real(argv, *args, **kwargs)
    return guarded


@pytest.fixture(autouse=True)
def no_real_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _refusing(subprocess.run))
    monkeypatch.setattr(subprocess, "Popen", _refusing(subprocess.Popen))
    monkeypatch.setattr(client, "client", _no_sdk)
    # a class lab's control groups as this machine's engine keeps them (the
    # driver is asked of the engine); their files read, never written here
    monkeypatch.setattr(cgroups, "driver", lambda: "cgroupfs")
    monkeypatch.setattr(cgroups, "ROOT", cgroups.ROOT / "foolab-unit-tests-none")


def _no_sdk() -> Any:
    raise AssertionError("a unit test asked the Docker SDK for the engine; fake it")
