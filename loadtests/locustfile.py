"""Visitors of www.foo.com who find the site the way browsers do: through DNS.

Each visitor asks the lab's own name servers (ns1, then ns2) for
www.foo.com, connects to the first address of the answer, sends
`Host: www.foo.com`, and notes which web server answered (the X-Served-By
header every page of the lab carries). How long a visitor keeps an answer
is what the study varies (--dns-cache):

  none    resolve before every request: the ideal rotation of round-robin DNS
  ttl     keep the answer for its TTL; the zone says 86400 s (one day), so
          --ttl-scale S lets one second of the run stand for S seconds
  sticky  resolve once per visitor, like a browser with a warm cache
  resolver  ask one caching resolver (unbound, res1-resN) before every
          request, as a browser's stub does: the resolver's cache and its
          answer order decide where the visitor goes (--resolvers,
          --population: which visitors share which resolver)

Visitors also ask /session.php now and then, sending the session cookie
for www.foo.com as a browser would; a visit counter that does not go on
from where it was is a broken session (F9, the cookie conundrum).

What the visitors did, per second, web server and page, goes to
--visits-file (JSON); lab/load/summary.py turns it into figures. With
--target (the balancer's address, F22) visitors skip DNS and go to lb, and
each request counts for the server its X-Served-By header names. The lab
starts this file with `foolab load` inside the loadgen container, on the lab
network (images/loadgen); it needs --name-servers and --web-hosts from there.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from typing import Any

import dns.exception
import dns.resolver
import gevent
from locust import FastHttpUser, between, events, task
from locust.env import Environment

SITE = os.environ["FOOLAB_SITE"]  # www.foo.com, from lab/model/article.py via lab.load


# --- 1. Options: how the visitors cache DNS, and where the lab is -------------------


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument("--dns-cache", required=True,  # none, ttl or sticky (lab.load.settings)
                        help="how long a visitor keeps a DNS answer")
    parser.add_argument("--ttl-scale", type=float, required=True,
                        help="in ttl mode, one second stands for this many (86400 s -> 10 s)")
    parser.add_argument("--name-servers", default="",
                        help="the lab's name servers, in the order a resolver tries them")
    parser.add_argument("--web-hosts", default="",
                        help="web1=ADDR,web2=ADDR,...: to name the server behind an address")
    parser.add_argument("--visits-file", default="/out/visits.json",
                        help="where the per-server tally goes (JSON)")
    parser.add_argument("--live-file", default="",
                        help="rewritten once a second: requests per second per server "
                        "over the last 3 s (JSON; the dashboard shows it)")
    parser.add_argument("--resolvers", default="",
                        help="dns-cache resolver: the caching resolvers' addresses")
    parser.add_argument("--population", default="even",
                        help="even: visitors spread over the resolvers; skewed: half of "
                        "them behind the first; by-class: heavy-page visitors behind the "
                        "first, the others behind the rest")
    parser.add_argument("--target", default="",
                        help="the balancer's address (F22): visitors go there instead of "
                        "resolving www; X-Served-By names the server")


# Filled in at test start from the options above.
resolver = dns.resolver.Resolver(configure=False)
web_by_address: dict[str, str] = {}
options: Any = None


# --- 2. The tally: every request, by second, server, page and outcome ---------------

started = time.time()
tally: Counter[tuple[int, str, str, str]] = Counter()  # (second, server, page, ok|fail) -> n
latency_ms: Counter[tuple[str, str]] = Counter()  # (server, page) -> summed response time
# Every request: (moment sent, s since start; server; page; ok|fail; response ms). Per
# second and server they give the percentiles of a phase and the requests in flight
# (lab/load/phases.py), which the per-second counts above cannot.
samples: list[tuple[float, str, str, str, float]] = []
dns_tally: Counter[str] = Counter()  # first address handed out -> n ("failed" when none)
served_by_mismatch = 0  # answers whose X-Served-By is not the server connected to
locust_cpu: list[float] = []  # Locust's own CPU %, once a second
# (moment asked, first address) of the first answers: sorted by the moment
# asked, they show the name server's rotation (F3) even when concurrent
# lookups come back out of order
dns_sequence: list[tuple[float, str]] = []
DNS_SEQUENCE_MAX = 600
visitors: list[dict[str, Any]] = []  # one record per visitor (resolver, requests, sessions)
visitor_seq = itertools.count()
class_seq: Counter[str] = Counter()  # visitors started so far, per class


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    global options, started
    options = environment.parsed_options
    resolver.nameservers = [a for a in options.name_servers.split(",") if a]
    resolver.lifetime = 3.0  # give up after 3 s over all name servers
    resolver.cache = None  # no shared cache: each visitor's cache is its own (below)
    for pair in filter(None, options.web_hosts.split(",")):
        name, address = pair.split("=")
        web_by_address[address] = name
    started = time.time()
    gevent.spawn(watch_locust_cpu, environment)


def resolver_list() -> list[str]:
    return [a for a in options.resolvers.split(",") if a]


def resolver_for(number: int, resolvers: int, population: str, heavy: bool) -> int:
    """Which resolver (index) the `number`-th visitor of its class uses.
    Counted per class (Readers, Analysts), so both kinds are spread alike.
    even: in turn; skewed: like ISPs of unequal size, the first serves half
    the visitors, the others share the rest; by-class: the heavy-page
    visitors behind the first, the others behind the rest (F21)."""
    if resolvers <= 1:
        return 0
    if population == "by-class":
        return 0 if heavy else 1 + number % (resolvers - 1)
    if population == "skewed":
        return 0 if number % 2 == 0 else 1 + (number // 2) % (resolvers - 1)
    return number % resolvers


def watch_locust_cpu(environment: Environment) -> None:
    """Locust's own CPU use: a load generator near 100 % of its core is the bottleneck."""
    while True:
        gevent.sleep(1.0)
        if environment.runner is not None:
            locust_cpu.append(float(environment.runner.current_cpu_usage))
        if options.live_file:
            write_live(options.live_file)


def write_live(path: str, window: int = 3) -> None:
    """Answered requests per second and server over the last `window` full
    seconds, for the dashboard."""
    last = int(time.time() - started) - 1
    first = max(0, last - window + 1)
    counts: Counter[str] = Counter()
    for (s, server, _page, outcome), n in list(tally.items()):
        if first <= s <= last and outcome == "ok":
            counts[server] += n
    span = max(1, last - first + 1)
    rps = {w: 0.0 for w in web_by_address.values()} | {k: n / span for k, n in counts.items()}
    doc = {"t": time.time(), "second": last, "window_s": span, "rps": rps}
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)


@events.request.add_listener
def on_request(request_type: str, name: str, response_time: float, response: Any = None,
               context: Any = None, exception: Any = None, **_: Any) -> None:
    global served_by_mismatch
    context = context or {}
    if request_type == "DNS":
        dns_tally[context.get("first") or "failed"] += 1
        if len(dns_sequence) < DNS_SEQUENCE_MAX:
            dns_sequence.append((context.get("asked", 0.0), context.get("first") or "failed"))
        return
    address = context.get("address", "?")
    headers = getattr(response, "headers", None)
    served_by = headers.get("X-Served-By") if headers else None
    server = web_by_address.get(address, address)
    if options.target and address == options.target:
        # Through the balancer the address is lb's: count the server that
        # answered, or lb itself when none did (its own 503, a timeout).
        server = served_by or "lb"
    # the second the request was sent (not answered): a request that waited
    # for a dead server's timeout belongs to the moment the visitor asked
    sent = max(0.0, time.time() - response_time / 1000.0 - started)
    outcome = "fail" if exception else "ok"
    tally[(int(sent), server, name, outcome)] += 1
    samples.append((round(sent, 3), server, name, outcome, round(response_time, 1)))
    latency_ms[(server, name)] += response_time
    if served_by and served_by != server:
        served_by_mismatch += 1
    record = context.get("visitor")
    if record is not None:
        record["requests"][server] = record["requests"].get(server, 0) + 1


@events.quitting.add_listener
def write_visits(environment: Environment, **_: Any) -> None:
    """All users have stopped: write the tally for the report."""
    runner = environment.runner
    doc = {
        "dns_cache": options.dns_cache,
        "started_epoch": started,  # second 0 of the rows (Unix time): faults line up with it
        "target": options.target,
        "ttl_scale": options.ttl_scale,
        "name_servers": resolver.nameservers,
        "web_hosts": web_by_address,
        "rows": [[s, server, page, outcome, n]
                 for (s, server, page, outcome), n in sorted(tally.items())],
        "latency_ms": [[server, page, ms] for (server, page), ms in sorted(latency_ms.items())],
        "samples": [list(x) for x in samples],
        "dns_first_address": dict(dns_tally),
        "dns_sequence": [first for _, first in sorted(dns_sequence)],
        "resolvers": resolver_list(),
        "population": options.population,
        "visitors": visitors,
        "served_by_mismatch": served_by_mismatch,
        "locust_cpu_percent": locust_cpu,
        "locust_cpu_warning": bool(runner and runner.cpu_warning_emitted),
        # Locust's own counts at the end (its CSV is rewritten once a second
        # and may miss the last one; these match its summary and HTML report).
        "locust_stats": [[e.method, e.name, e.num_requests, e.num_failures]
                         for e in environment.stats.entries.values()],
    }
    with open(options.visits_file, "w", encoding="utf-8") as f:
        json.dump(doc, f)


# --- 3. DNS as a visitor sees it ------------------------------------------------------


def lookup(environment: Environment, via: dns.resolver.Resolver | None = None
           ) -> tuple[str, float] | None:
    """Ask the name servers (or the visitor's resolver) for www.foo.com:
    (first address, TTL) or None.

    The lookup shows in Locust's report as a request of type DNS."""
    t0 = time.perf_counter()
    first, ttl, error = None, 0.0, None
    try:
        answer = (via or resolver).resolve(SITE, "A")
        first = answer[0].address  # the order the server chose: its rotation
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else 0.0
    except dns.exception.DNSException as exc:
        error = exc
    environment.events.request.fire(
        request_type="DNS", name=SITE, response_time=(time.perf_counter() - t0) * 1000,
        response_length=0, exception=error, context={"first": first, "asked": t0},
    )
    return (first, ttl) if first else None


# --- 4. The visitors ------------------------------------------------------------------

write_seq = itertools.count(1)


class Visitor(FastHttpUser):
    """A browser: finds the site through DNS, then asks for pages, with pauses."""

    abstract = True
    host = f"http://{SITE}"  # what the visitor typed; the address comes from lookup()
    wait_time = between(0.5, 2.0)
    connection_timeout = 3.0  # a dead server (no ARP answer) fails within seconds
    network_timeout = 10.0

    heavy_pages = False  # asks mostly for the CPU-heavy page (by-class population)

    def on_start(self) -> None:
        self.address: str | None = None
        self.expires = 0.0
        self.session_id = ""
        self.session_visits = 0
        number = next(visitor_seq)
        self.record: dict[str, Any] = {"visitor": number, "class": type(self).__name__,
                                       "resolver": "", "requests": {},
                                       "session_requests": 0, "session_breaks": 0}
        visitors.append(self.record)
        self.stub: dns.resolver.Resolver | None = None
        mine = resolver_list()
        if options.dns_cache == "resolver" and mine:
            kind = type(self).__name__
            index = resolver_for(class_seq[kind], len(mine), options.population, self.heavy_pages)
            class_seq[kind] += 1
            # A browser's stub resolver: one server, no cache of its own.
            self.stub = dns.resolver.Resolver(configure=False)
            self.stub.nameservers = [mine[index]]
            self.stub.lifetime = 3.0
            self.stub.cache = None
            self.record["resolver"] = mine[index]

    def site_address(self) -> str | None:
        """The address this visitor's cache says www.foo.com has, resolving when due."""
        if options.target:  # behind the balancer: no DNS, always lb's address
            return str(options.target)
        due = (self.address is None or options.dns_cache in ("none", "resolver")
               or (options.dns_cache == "ttl" and time.monotonic() >= self.expires))
        if due:
            answer = lookup(self.environment, self.stub)
            if answer is not None:
                self.address = answer[0]
                self.expires = time.monotonic() + answer[1] / options.ttl_scale
        return self.address

    def visit(self, path: str, page: str) -> None:
        address = self.site_address()
        if address is None:  # no DNS answer: nothing to connect to (counted as DNS failure)
            return
        self.client.get(f"http://{address}{path}", headers={"Host": SITE}, name=page,
                        context={"address": address, "visitor": self.record})

    def visit_session(self) -> None:
        """The session page, with the cookie a browser keeps for www.foo.com
        (Locust's own cookie jar would keep it per address, so a visitor sent
        elsewhere by DNS would lose it even with shared sessions)."""
        address = self.site_address()
        if address is None:
            return
        self.client.cookiejar.clear()
        headers = {"Host": SITE}
        if self.session_id:
            headers["Cookie"] = f"PHPSESSID={self.session_id}"
        with self.client.get(f"http://{address}/session.php", headers=headers,
                             name="/session.php", catch_response=True,
                             context={"address": address, "visitor": self.record}) as resp:
            try:
                doc = json.loads(resp.text or "")
            except ValueError:
                resp.failure("not JSON")
                return
        self.record["session_requests"] += 1
        if self.session_id and int(doc.get("visits", 0)) != self.session_visits + 1:
            self.record["session_breaks"] += 1  # the counter started again elsewhere
        self.session_id = str(doc.get("session_id", ""))
        self.session_visits = int(doc.get("visits", 0))


class Reader(Visitor):
    """Most visitors: cheap pages and reads, now and then a write (to db1)."""

    weight = 3

    @task(6)
    def light(self) -> None:
        self.visit("/light.php", "/light.php")

    @task(3)
    def read(self) -> None:
        self.visit("/db.php", "/db.php")

    @task(1)
    def write(self) -> None:
        self.visit(f"/db.php?write=1&seq={next(write_seq)}&writer=locust", "/db.php?write=1")

    @task(3)
    def session(self) -> None:
        self.visit_session()


class Analyst(Visitor):
    """Fewer visitors who mostly ask for the CPU-heavy page (~80 ms of CPU, F21)."""

    weight = 1
    heavy_pages = True

    @task(3)
    def heavy(self) -> None:
        self.visit("/heavy.php", "/heavy.php")

    @task(1)
    def light(self) -> None:
        self.visit("/light.php", "/light.php")
