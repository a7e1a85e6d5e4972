"""A class host ended by its lab's memory bound comes back.

When a lab (or one host) reaches its memory bound (lab.engine.cgroups),
the kernel kills the process that uses most. In a web host that is one of
its daemons, started again by its runit supervisor (runsv); in a name server or
a database it is the host's own daemon, and the container exits. Docker
records that exit as OOMKilled, which no fault, runbook or exercise of
foolab makes (they kill or stop a host; that exit is theirs to undo). So
such a host is started again, with its lab address (lab.engine.addressing),
by whoever watches the class: `class serve`'s round and `class status`.
"""

from __future__ import annotations

import threading

from lab.engine import addressing, client
from lab.model import events
from lab.model.config import LabConfig
from lab.model.errors import LabError

_BUSY: set[str] = set()  # containers being started again, on some thread
_LOCK = threading.Lock()


def ended_by_bound(container: str) -> bool:
    """True when `container` exited because the kernel killed its main
    process at a memory bound."""
    found = client.inspect_container(container)
    state = (found or {}).get("State") or {}
    return state.get("Status") == "exited" and bool(state.get("OOMKilled"))


def revive(config: LabConfig, host: str) -> bool:
    """Start `host` again if its lab's memory bound ended it (True), with
    an event on the lab's timeline; False if it was not so ended or is
    being started already."""
    container = config.topology.host(host).container
    with _LOCK:
        if container in _BUSY:
            return False
        _BUSY.add(container)
    try:
        if not ended_by_bound(container):
            return False
        try:
            addressing.start(config, container)
        except LabError as exc:
            events.record(config.state_dir, events.NOTE,
                          f"{host} ended at the memory bound; starting it again failed: "
                          f"{str(exc).splitlines()[0]}", host=host, ok=False)
            return False
        events.record(config.state_dir, events.NOTE,
                      f"{host} ended at the lab's memory bound (out of memory) and was "
                      "started again", host=host, ok=True)
        return True
    finally:
        with _LOCK:
            _BUSY.discard(container)


def revive_all(config: LabConfig, exited: list[str]) -> list[str]:
    """Of the lab's `exited` hosts, those started again."""
    return [h for h in exited if revive(config, h)]


def in_background(config: LabConfig, exited: list[str]) -> None:
    """revive_all on a thread of its own (a start waits for the host's
    address): a watch round goes on meanwhile."""
    if exited:
        threading.Thread(target=client.carried(lambda: revive_all(config, exited)),
                         name=f"revive {config.lab}", daemon=True).start()
