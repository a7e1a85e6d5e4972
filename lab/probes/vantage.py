"""A probe asked from a lab host's own address, by foolab's own client:
this thread enters the network namespace of the host's main process
(lab.engine.netns), so what it sends leaves from the host's address, and
no program of the host runs (a student, root there, may have replaced
dig, curl or mariadb). A check that something is refused to strangers
asks from several lab hosts this way: no one address to single out."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.engine import client, netns
from lab.model.errors import LabError


@contextmanager
def from_host(lab: Any, host: str) -> Iterator[None]:
    """This thread sends from `host`'s address until the block ends."""
    pid = client.pid(lab.topology.host(host).container)
    if pid is None:
        raise LabError(f"{host} is not running here: nothing can be asked from its address")
    with netns.inside(pid):
        yield


@contextmanager
def from_teacher(lab: Any) -> Iterator[None]:
    """This thread sends from the teacher's side (this machine for the
    single lab, the console of a class lab) until the block ends, from
    wherever it was (a goal is asked from a drawn lab host)."""
    with netns.machine(), lab.network():
        yield


def visitors(lab: Any) -> tuple[str, ...]:
    """The lab hosts a goal may be asked from: every running host but the
    databases (an exercise kills or cuts them). Not the teacher's side: its
    one address is the one a student could single out."""
    t = lab.topology
    return tuple(h for h in t.names if h not in t.databases
                 and client.pid(t.host(h).container) is not None)


def draw(lab: Any) -> str | None:
    """A visitor drawn afresh for each goal, so no address is the checker's
    (None: no lab host runs, or foolab is not root on the single lab: the
    goal is asked from the teacher's side; a class lab needs root anyway)."""
    if os.geteuid() != 0 and not lab.config.in_class:
        return None
    hosts = visitors(lab)
    return secrets.choice(hosts) if hosts else None
