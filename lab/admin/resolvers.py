"""Caching resolvers on a running lab (F20, issue 13): res1-res6, Debian's
unbound at .41-.46, between the load study's visitors and ns1/ns2.

The article's visitors do not ask ns1 themselves: their ISP's resolver asks
it once and hands the cached answer to all its customers until the TTL runs
out. These resolvers do exactly that (images/resolver, compose/resolvers.yml).
Each change is made as an administrator would: `unbound-control` on the
resolver (flush the cache), the resolver started again with the other
answer order, a zone edit on ns1 with
a new serial (a short TTL for a run of minutes, lab.admin.zone), restored
afterwards.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from lab.admin import zone
from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.process import compose_command, quote
from lab.engine.waiting import wait_for
from lab.model.article import WWW
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.topology import RESOLVER_OCTETS, RESOLVER_PREFIX, image

IMAGE = image("resolver")
IMAGE_FOLDER = REPO / "images" / "resolver"
COMPOSE_FILE = REPO / "compose" / "resolvers.yml"
ROOM = len(RESOLVER_OCTETS)  # how many resolvers the lab has addresses for
ORDERS = {"rotate": "yes", "fixed": "no"}  # --resolver-order -> unbound's rrset-roundrobin
DEFAULT_COUNT = 3  # `foolab up --with resolvers`
CONTROL = ("unbound-control", "-c", "/etc/unbound/foolab.conf")


def names(count: int) -> list[str]:
    """res1..res<count>; a one-line LabError when the lab has no room for them."""
    if not 1 <= count <= ROOM:
        raise LabError(f"{count} resolvers asked for, the lab has room for 1-{ROOM}",
                       hint=f"resolver addresses are .{RESOLVER_OCTETS[0]}-"
                            f".{RESOLVER_OCTETS[-1]} (lab/model/topology.py); nothing started")
    return [f"{RESOLVER_PREFIX}{i}" for i in range(1, count + 1)]


def container(lab: Lab, name: str) -> str:
    return lab.service_container(name)


def addresses(lab: Lab, count: int) -> list[str]:
    """The addresses of res1..res<count> on the lab network."""
    return [lab.topology.resolver_address(i) for i in range(1, len(names(count)) + 1)]


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise LabError(f"resolver order {order!r}: one of {', '.join(ORDERS)}")
    return order


def _compose(lab: Lab, *args: str, order: str = "rotate", timeout: float = 120
             ) -> subprocess.CompletedProcess[str]:
    """Compose with the lab's files and compose/resolvers.yml; the resolvers'
    addresses come from the topology (RESn_ADDR), the rest from lab.env."""
    argv = [*compose_command(), "-p", lab.config.project]
    for file in (*lab.config.compose_files, COMPOSE_FILE):
        argv += ["-f", str(file)]
    if lab.config.env_file.exists():
        argv += ["--env-file", str(lab.config.env_file)]
    env = dict(os.environ)
    env["RESOLVER_ORDER"] = order
    env.update({f"RES{i}_ADDR": lab.topology.resolver_address(i) for i in range(1, ROOM + 1)})
    try:
        return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{quote(args)}` on the resolvers took over {timeout:.0f} s") from None


def exec_on(lab: Lab, name: str, argv: Sequence[str], timeout: float = 20) -> str:
    """Run a command on a resolver; its stdout, or a one-line LabError."""
    out = lab.exec(name, argv, timeout=timeout, service=True)
    if out.returncode != 0:
        raise LabError(f"on {name}: `{quote(argv)}` failed (exit {out.returncode})",
                       (out.stderr or out.stdout).strip())
    return out.stdout


def running(lab: Lab) -> list[str]:
    """The resolvers whose containers run now, in order."""
    found = []
    for i in range(1, ROOM + 1):
        data = client.inspect_container(container(lab, f"{RESOLVER_PREFIX}{i}")) or {}
        if (data.get("State") or {}).get("Status") == "running":
            found.append(f"{RESOLVER_PREFIX}{i}")
    return found


def first_address(lab: Lab, name: str) -> str | None:
    """The first www address the resolver answers with now (asked on itself)."""
    out = lab.exec(name, ["dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", WWW, "A"],
                   timeout=20, service=True)
    lines = [x for x in out.stdout.split() if x[:1].isdigit()]
    return lines[0] if out.returncode == 0 and lines else None


def order_of(lab: Lab, name: str) -> str | None:
    """The answer order a resolver was started with (RESOLVER_ORDER)."""
    data = client.inspect_container(container(lab, name)) or {}
    for item in (data.get("Config") or {}).get("Env") or []:
        key, _, value = str(item).partition("=")
        if key == "RESOLVER_ORDER":
            return value
    return None


def add(lab: Lab, count: int, order: str = "rotate", timeout: float = 90) -> list[str]:
    """Start res1..res<count> beside a running lab with this answer order
    (rrset-roundrobin), and wait until each answers for www; the ones
    (re)started here. unbound reads rrset-roundrobin only at start: a
    resolver with the other order is made again, with an empty cache.
    (`unbound-control set_option rrset-roundrobin: no` is accepted and read
    back, yet unbound 1.17 kept rotating its answers: measured.) The seven
    hosts are not touched; a bad count or order starts nothing."""
    wanted = names(count)
    check_order(order)
    lab.require_up()
    up = running(lab)
    todo = [n for n in wanted if n not in up or order_of(lab, n) != order]
    if not todo:
        return []
    lab.build_image(IMAGE_FOLDER, IMAGE)
    out = _compose(lab, "up", "-d", "--no-deps", "--no-build", "--force-recreate", *todo,
                   order=order, timeout=timeout)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [""]
        raise LabError("could not start the resolvers", tail[0],
                       f"see `docker logs {container(lab, todo[0])}`")
    for n in todo:
        def answers(name: str = n) -> str | None:
            return first_address(lab, name)

        wait_for(f"{n} answering for {WWW}", answers, timeout=timeout, every=0.25)
    return todo


def remove(lab: Lab) -> None:
    """Stop and remove every resolver: the lab is the article's seven again."""
    out = _compose(lab, "rm", "--stop", "--force", *names(ROOM))
    if out.returncode != 0:
        raise LabError("could not remove the resolvers", out.stderr.strip())


def flush(lab: Lab, resolvers: Sequence[str]) -> None:
    """Forget everything cached under foo.com on each resolver."""
    for n in resolvers:
        exec_on(lab, n, [*CONTROL, "flush_zone", zone.ZONE_NAME])


def warm(lab: Lab, resolvers: Sequence[str], distinct: bool, tries: int = 12) -> dict[str, str]:
    """Fill each cache with one answer, one resolver after the other; the first
    address each holds. With `distinct` a resolver whose first address another
    already holds is flushed and asked again (at most `tries` times): like
    ISPs that fetched the answer at different moments of ns1's rotation."""
    held: dict[str, str] = {}
    for n in resolvers:
        for _ in range(tries):
            first = first_address(lab, n)
            if first is None:
                raise LabError(f"{n} gave no answer for {WWW}")
            held[n] = first
            taken = [held[o] for o in held if o != n]
            if not distinct or first not in taken or len(taken) >= 3:
                break
            flush(lab, [n])
    return held


def with_ttl(text: str, ttl_s: int) -> str:
    """The zone text with a `$TTL` line first (replacing one there): every
    record without its own TTL is then cached for `ttl_s` seconds instead of
    the SOA minimum (F2)."""
    kept = [line for line in text.splitlines(keepends=True)
            if not line.strip().upper().startswith("$TTL")]
    head = f"$TTL {ttl_s} ; short TTL for the load study (lab/admin/resolvers.py)\n"
    return head + "".join(kept)


@contextmanager
def short_ttl(lab: Lab, ttl_s: int | None, timeout: float = 20) -> Iterator[int | None]:
    """For the block: the zone with `$TTL ttl_s` and a new serial (ns2 copies
    it by NOTIFY, waited for), the article's zone restored afterwards, serial
    included. None: the zone as it is (its own TTL, 86400 s)."""
    if ttl_s is None:
        yield None
        return
    if not 1 <= ttl_s <= 86400:
        raise LabError(f"zone TTL {ttl_s} s: between 1 and 86400")
    original = zone.zone_text(lab)
    try:
        text = zone.with_serial(with_ttl(original, ttl_s),
                                zone.next_serial(zone.serial_of(original),
                                                 datetime.date.today()))
        change = zone.write_zone(lab, text, timeout=timeout)
        for ns in zone.secondaries(lab):
            def copied(host: str = ns) -> bool:
                return zone.served_serial(lab, host) == change.new_serial

            wait_for(f"{ns} serving serial {change.new_serial}", copied, timeout=timeout,
                     every=0.25)
        yield ttl_s
    finally:
        if zone.zone_text(lab) != original:
            zone.restore(lab, original, timeout=timeout)

