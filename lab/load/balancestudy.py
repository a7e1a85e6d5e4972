"""What the balancer changes, measured (F22): the scenario's and the bench's
shared measurements.

- `outage_run`: visitors who resolve www.foo.com before every visit (ns1
  and ns2 in turn) and fetch from the first address, at a steady rate,
  while web2 is stopped and started again. With www pointing at lb the
  failures stop once two health checks have failed; with www pointing at
  the three web servers (the article) about a third fail all along.
- `burst`: visitors asking lb for a CPU-heavy page back to back, to compare
  policies while one server is slowed (leastconn against roundrobin).

Bounded in rate, count and time; every fault is healed (faults.injected).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import dns.exception

from lab.admin import lb, zone
from lab.drills.faults import Fault, injected
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress
from lab.model.topology import topology
from lab.probes import named, pages

RATE = 10.0  # visits per second, from this machine
WARM_S = 3.0  # visits before the fault
OUTAGE_S = 10.0  # the web server is down this long (after its container stopped)
PATIENCE = 2.0  # seconds a visitor waits for a page
MAX_RUN_S = 60.0  # every run stops by then, whatever happens
# The two web servers that only receive content (the article's roles, the
# same on every subnet): one goes down, the other is slowed for the policy
# comparison; the content source keeps serving and pushing throughout.
DOWN, SLOW = topology().content_targets  # web2, web3
SLOW_CPU_PERCENT = 10.0
HEAVY_PAGE = "/heavy.php?n=30000"  # ~40 ms of CPU on a free server


@dataclass(frozen=True)
class Visit:
    sent: float  # seconds since the visitors started
    address: str | None  # the address the DNS answer led with
    status: int | None  # None: no page at all (refused, unreachable, timed out)
    served_by: str | None  # X-Served-By, or the error's name
    ended: float = 0.0  # seconds since the visitors started, when its fate was known

    @property
    def ok(self) -> bool:
        return self.status == 200


class Visitors:
    """Visitors at a steady rate, from a background thread, stopping after
    MAX_RUN_S at the latest. A visitor who waits for a dead server does not
    hold up the next one (a pool of them)."""

    def __init__(self, name_servers: list[str], rate: float = RATE) -> None:
        self.name_servers, self.rate = name_servers, rate
        self.visits: list[Visit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=int(rate * PATIENCE * 3) + 4)
        self._futures: list[Future[None]] = []
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self.t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def sleep_until(self, t: float) -> None:
        time.sleep(max(0.0, t - self.now()))

    def _visit(self, i: int, sent: float) -> None:
        address: str | None = None
        try:
            address = named.ask(self.name_servers[i % len(self.name_servers)]).records[0]
            resp = pages.fetch(address, "/light.php", timeout=PATIENCE)
            visit = Visit(sent, address, resp.status, resp.served_by, self.now())
        except (OSError, http.client.HTTPException, dns.exception.DNSException, IndexError,
                LabError) as exc:
            visit = Visit(sent, address, None, type(exc).__name__, self.now())
        with self._lock:
            self.visits.append(visit)

    def _schedule(self) -> None:
        i = 0
        while not self._stop.is_set() and self.now() < MAX_RUN_S:
            sent = i / self.rate
            self.sleep_until(sent)
            self._futures.append(self._pool.submit(self._visit, i, sent))
            i += 1

    def __enter__(self) -> Visitors:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for f in self._futures:
            f.result(timeout=PATIENCE * 3)
        self._pool.shutdown()
        self.visits.sort(key=lambda v: v.sent)

    def first_served_by(self, web: str, after: float) -> Visit | None:
        with self._lock:
            return min((v for v in self.visits if v.served_by == web and v.sent >= after),
                       key=lambda v: v.sent, default=None)


@dataclass(frozen=True)
class OutageRun:
    """One run of visitors while a web server goes down and comes back."""

    www: str  # what www.foo.com pointed at: "lb" or "web"
    visits: list[Visit]
    stop_began: float  # `docker stop` called
    down: float  # the container has stopped
    heal_began: float  # `docker start` called
    back: float  # first visit the server answered again

    def during(self, start: float, end: float) -> list[Visit]:
        return [v for v in self.visits if start <= v.sent < end]

    @property
    def outage(self) -> list[Visit]:
        """The visits sent and ended while the container was stopped. A visit
        sent just before the start may still succeed: its SYN waits on this
        machine's ARP resolution (3 probes, 1 s apart), and a web server
        that is back within that time answers it."""
        return [v for v in self.during(self.down, self.heal_began) if v.ended < self.heal_began]

    @property
    def failed_share(self) -> float:
        return sum(not v.ok for v in self.outage) / max(1, len(self.outage))

    @property
    def failed(self) -> int:
        """Failed visits from the stop command until the heal."""
        return sum(not v.ok for v in self.during(self.stop_began, self.heal_began))

    @property
    def failures_stop_after(self) -> float:
        """Seconds from the stop command to the last failed visit (0: none)."""
        last = max((v.sent for v in self.visits if not v.ok), default=None)
        return 0.0 if last is None else max(0.0, last - self.stop_began)

    @property
    def back_after(self) -> float:
        """Seconds from the start command until the server had visitors again."""
        return self.back - self.heal_began


def outage_run(lab: Lab, www: str, down: str = DOWN, outage_s: float = OUTAGE_S,
               progress: Progress | None = None) -> OutageRun:
    """Point www at `www` ("lb" or "web"), then visitors before, during and
    after `down`'s outage (stopped, then started again); the run ends a
    second after `down` has served a visitor again."""
    lb.point_www(lab, www)
    topo = lab.topology
    name_servers = [topo.address(topo.primary_dns), topo.address(topo.secondary_dns)]
    if progress:
        progress(f"visitors through DNS, www -> {www}: {down} down for {outage_s:g} s")
    with Visitors(name_servers) as v:
        v.sleep_until(WARM_S)
        stop_began = v.now()
        with injected(lab, Fault("stop", down)):
            stopped = v.now()
            if lab.states()[down].status != "exited":
                raise LabError(f"{down} did not stop")
            v.sleep_until(stopped + outage_s)
            heal_began = v.now()
        back = wait_for(f"{down} serving visitors again",
                        lambda: v.first_served_by(down, heal_began), timeout=20, every=0.2)
        v.sleep_until(back.sent + 1.0)
    return OutageRun(www, v.visits, stop_began, stopped, heal_began, back.sent)


def burst(address: str, seconds: float = 8.0, workers: int = 6,
          page: str = HEAVY_PAGE) -> Counter[str]:
    """`workers` visitors asking `address` for `page` back to back for
    `seconds`: pages served per server (errors by name)."""
    served: Counter[str] = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def visitor() -> None:
        while time.monotonic() < end:
            try:
                resp = pages.fetch(address, page, timeout=15)
                got = resp.served_by if resp.status == 200 else f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as exc:
                got = type(exc).__name__
            with lock:
                served[got or "?"] += 1

    threads = [threading.Thread(target=visitor) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    return served


@dataclass(frozen=True)
class PolicyRun:
    policy: str
    served: Counter[str]
    running: str = ""  # the policy HAProxy's statistics showed during the burst

    @property
    def pages(self) -> int:
        return sum(self.served.values())

    def share(self, web: str) -> float:
        return self.served[web] / max(1, self.pages)


def policies_with_a_slow_server(lab: Lab, policies: tuple[str, ...] = ("roundrobin", "leastconn"),
                                slow: str = SLOW, seconds: float = 8.0,
                                progress: Progress | None = None) -> list[PolicyRun]:
    """One burst per policy while `slow` has SLOW_CPU_PERCENT of a CPU; lb's
    policy is put back as it was."""
    address = lab.topology.address(lb.HOST)
    before = lb.policy(lab)
    runs = []
    try:
        with injected(lab, Fault("slow", slow, amount=SLOW_CPU_PERCENT)):
            for policy in policies:
                if lb.policy(lab) != policy:
                    lb.set_policy(lab, policy)
                if progress:
                    progress(f"policy {policy}: {seconds:g} s of {HEAVY_PAGE}, {slow} slowed")
                running = lb.running_policy(lab)
                runs.append(PolicyRun(policy, burst(address, seconds), running))
    finally:
        if before and lb.policy(lab) != before:
            lb.set_policy(lab, before)
    return runs


def bench_figures(lab: Lab, quick: bool, progress: Progress) -> list[Figure]:
    """`make bench`: the outage through lb and through DNS, and the policies
    with a slow server. lb is started for it if the lab has none (and
    removed again); www and the policy are put back."""
    added = lb.add(lab)
    original = zone.zone_text(lab)
    stop = Figure(f"lb: failures stop after {DOWN}'s stop began", "s",
                  note=f"{RATE:g} visits/s; checks every 1 s, out after 2 failures")
    lb_failed = Figure(f"lb: failed share while {DOWN} is down", "%")
    dns_failed = Figure(f"DNS round robin: failed share while {DOWN} is down", "%",
                        note=f"the visits whose answer led with {DOWN}")
    back = Figure(f"lb: {DOWN} has visitors again after its start", "s", note="rise 2")
    shares = {p: Figure(f"{p}: share of pages from {SLOW} at {SLOW_CPU_PERCENT:g}% CPU", "%",
                        note="6 visitors, heavy page, back to back")
              for p in ("roundrobin", "leastconn")}
    pages = {p: Figure(f"{p}: pages in 8 s with {SLOW} slowed", "pages")
             for p in ("roundrobin", "leastconn")}
    try:
        if lb.policy(lab) != "roundrobin":
            lb.set_policy(lab, "roundrobin")
        for _ in range(1 if quick else 3):
            via_lb = outage_run(lab, "lb", progress=progress)
            via_dns = outage_run(lab, "web", progress=progress)
            stop.runs.append(via_lb.failures_stop_after)
            lb_failed.runs.append(100 * via_lb.failed_share)
            dns_failed.runs.append(100 * via_dns.failed_share)
            back.runs.append(via_lb.back_after)
            for run in policies_with_a_slow_server(lab, progress=progress):
                shares[run.policy].runs.append(100 * run.share(SLOW))
                pages[run.policy].runs.append(run.pages)
    finally:
        if zone.zone_text(lab) != original:
            zone.restore(lab, original)
        if added:
            lb.remove(lab)
    return [stop, lb_failed, dns_failed, back, *shares.values(), *pages.values()]
