"""A probe asked from a lab host's own address, by foolab's own client:
this thread enters the network namespace of the host's main process
(lab.engine.netns), so what it sends leaves from the host's address, and
no program of the host runs (a student, root there, may have replaced
dig, curl or mariadb). A check that something is refused to strangers
asks from several lab hosts this way: no one address to single out."""

from __future__ import annotations

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
