"""A class lab's hosts get their lab address from outside.

Every host of a class lab has the article's address (10.1.1.x) on top of
the throw-away wire address Docker gives it (compose/class.yml). Adding an
address needs NET_ADMIN, and a capability a container holds is held by
every `docker exec` into it too: the engine's healthchecks and the
grader's commands, which run what a student (root there) may have put in
place. So no lab host holds NET_ADMIN: foolab enters the host's network
namespace from this machine (nsenter, root) once it runs, adds the address
and removes Docker's default route, and the host's first command,
compose/lab-address, waits for both before its daemons start. Every way a
class host starts goes through here: the lab's start (`addressing`), a
fault healed or a role restored (`start`), a runbook's step (`start_command`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from lab.engine import client
from lab.engine.process import quote, run
from lab.engine.waiting import wait_for
from lab.model import class_layout
from lab.model.config import LabConfig
from lab.model.errors import LabError

# Inside the host's network namespace: the lab address {address} on the
# interface that holds the wire address {wire} (again: no harm), and no
# default route.
INSIDE = ('ip addr replace {address}/24 dev "$(ip -o -4 addr show to {wire}/32 | '
          'cut -d" " -f2)" && ip route flush exact 0.0.0.0/0')


def address(config: LabConfig, container: str) -> bool:
    """The lab address added inside `container` if it runs (True), else
    False; a failed addition is a LabError."""
    found = client.inspect_container(container)
    if not found or not found["State"].get("Running"):
        return False
    network = (found["NetworkSettings"].get("Networks") or {}).get(config.project) or {}
    wire = network.get("IPAddress")
    pid = client.pid(container) if wire else None
    if not wire or pid is None:
        return False
    lab_address = class_layout.same_octet(wire, config.topology.subnet)
    out = run(["nsenter", "-t", str(pid), "-n", "sh", "-c",
               INSIDE.format(address=lab_address, wire=wire)], timeout=20)
    if out.returncode != 0:
        raise LabError(f"{container}: the lab address {lab_address} could not be added",
                       out.stderr.strip(), "run foolab as root")
    return True


@contextmanager
def addressing(config: LabConfig, containers: Iterable[str]) -> Iterator[None]:
    """While the block runs (a class lab starting), each of `containers`
    gets its lab address as soon as it runs."""
    if not config.in_class:
        yield
        return
    left, stop = set(containers), threading.Event()

    def loop() -> None:
        while left and not stop.is_set():
            for container in sorted(left):
                try:
                    if address(config, container):
                        left.discard(container)
                except LabError:
                    pass  # it may have stopped meanwhile: tried again
            stop.wait(0.2)

    worker = threading.Thread(target=client.carried(loop), name="lab addresses", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=30)


def start(config: LabConfig, container: str) -> None:
    """`docker start`, and for a class lab's host its lab address."""
    client.start(container)
    if config.in_class:
        wait_for(f"{container}'s lab address", lambda: address(config, container),
                 timeout=30, every=0.2)


def start_command(config: LabConfig, container: str) -> tuple[str, ...]:
    """A runbook's "start it" as the administrator types it: `docker start`,
    and in a class the lab address added from outside (what `start` does)."""
    if not config.in_class:
        return ("docker", "start", container)
    prefix = config.topology.subnet.split("/")[0].rsplit(".", 1)[0]
    wire_of = "{{(index .NetworkSettings.Networks " + f'"{config.project}").IPAddress}}}}'
    inside = (f"ip addr replace {prefix}.${{wire##*.}}/24 "
              "dev \\$(ip -o -4 addr show to $wire/32 | cut -d' ' -f2) "
              "&& ip route flush exact 0.0.0.0/0")
    c = quote([container])
    return ("sh", "-c",
            f"docker start {c} && wire=$(docker inspect -f '{wire_of}' {c}) && "
            f"pid=$(docker inspect -f '{{{{.State.Pid}}}}' {c}) && "
            f'nsenter -t "$pid" -n sh -c "{inside}"')
