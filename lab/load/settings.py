"""The load study's settings: one bounded run, and how visitors cache DNS.

What the CLI and the generator agree on before a run starts: how many
visitors, how long, which DNS cache mode (or the balancer), and which web
servers are down. Plain data, no Docker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.admin.haproxy_cfg import POLICIES
from lab.model.article import ZONE_DEFAULT_TTL_S

MODES = ("none", "ttl", "sticky")
MODE_MEANING = {
    "none": "resolve before every request (the ideal rotation)",
    "ttl": "keep the answer for its TTL (scaled down)",
    "sticky": "resolve once per visitor (a warm browser cache)",
}
RESOLVER_MODE = "resolver"  # visitors ask a caching resolver (unbound) before every request
MODE_MEANING[RESOLVER_MODE] = "ask their caching resolver before every request"
POPULATIONS = {
    "even": "visitors spread evenly over the resolvers",
    "skewed": "one resolver serves half the visitors (like one big ISP), the others the rest",
    "by-class": "the heavy-page visitors behind res1, the others behind the rest (F21)",
}
ORDERS = {"rotate": "rrset-roundrobin yes: cached answers still rotate",
          "fixed": "rrset-roundrobin no: a cached answer keeps its order until its TTL ends"}
MAX_RESOLVERS = 6  # the lab's resolver addresses .41-.46 (lab.model.topology)
ZONE_TTL_S = ZONE_DEFAULT_TTL_S  # no $TTL: BIND uses the SOA minimum (F2)
DEFAULT_TTL_SCALE = 8640.0  # ttl mode: the zone's day passes in 10 s
MAX_USERS = 1000
MAX_DURATION_S = 3600


@dataclass(frozen=True)
class RunSettings:
    """One bounded load run: how many visitors, how long, how they cache DNS."""

    users: int
    duration_s: int
    cache: str = "none"
    ttl_scale: float = DEFAULT_TTL_SCALE  # ttl mode: one second stands for this many
    spawn_rate: float = 0.0  # users started per second; 0 = all within a second
    down: tuple[str, ...] = ()  # web servers stopped for this run
    balancer: str = ""  # F22: a policy = visitors go to lb (no DNS), which uses it
    resolvers: int = 0  # caching resolvers between visitors and ns1/ns2 (cache "resolver")
    population: str = "even"  # which visitors share which resolver (POPULATIONS)
    order: str = "rotate"  # the resolvers' answer order (ORDERS)
    zone_ttl_s: int | None = None  # a short TTL for the run (a new serial); None: 86400 s

    def __post_init__(self) -> None:
        if self.cache not in (*MODES, RESOLVER_MODE):
            raise ValueError(f"cache mode {self.cache!r}: one of {', '.join(MODES)}")
        if (self.cache == RESOLVER_MODE) != (self.resolvers > 0):
            raise ValueError(f"--cache {self.cache} contradicts --resolvers {self.resolvers}: "
                             "visitors behind resolvers use the resolvers' cache")
        if not 0 <= self.resolvers <= MAX_RESOLVERS:
            raise ValueError(f"{self.resolvers} resolvers: the lab has room for "
                             f"1-{MAX_RESOLVERS} (addresses .41-.46)")
        if self.population not in POPULATIONS:
            raise ValueError(f"population {self.population!r}: one of {', '.join(POPULATIONS)}")
        if self.order not in ORDERS:
            raise ValueError(f"resolver order {self.order!r}: one of {', '.join(ORDERS)}")
        if self.zone_ttl_s is not None and not 1 <= self.zone_ttl_s <= ZONE_TTL_S:
            raise ValueError(f"zone TTL {self.zone_ttl_s} s: between 1 and {ZONE_TTL_S}")
        if self.balancer and self.balancer not in POLICIES:
            raise ValueError(f"balancer policy {self.balancer!r}: one of {', '.join(POLICIES)}")
        if not 1 <= self.users <= MAX_USERS:
            raise ValueError(f"users {self.users}: between 1 and {MAX_USERS}")
        if not 1 <= self.duration_s <= MAX_DURATION_S:
            raise ValueError(f"duration {self.duration_s} s: between 1 and {MAX_DURATION_S}")
        if self.ttl_scale <= 0:
            raise ValueError("ttl scale must be positive")

    @property
    def label(self) -> str:
        """Short name of the run: the cache mode (or lb and its policy), and what was down."""
        return self._kind(" ") + "".join(f", {h} down" for h in self.down)

    @property
    def slug(self) -> str:
        return self._kind("-") + "".join(f"-{h}-down" for h in self.down)

    def _kind(self, sep: str) -> str:
        if self.balancer:
            return f"lb{sep}{self.balancer}"
        if self.resolvers:
            ttl = [f"ttl{sep}{self.zone_ttl_s}s"] if self.zone_ttl_s else []
            return sep.join([f"{self.resolvers}{sep}resolvers", self.order, self.population,
                             *ttl])
        return self.cache

    @property
    def served_ttl_s(self) -> int:
        """The TTL the name servers give www for this run."""
        return self.zone_ttl_s or ZONE_TTL_S

    @property
    def effective_ttl_s(self) -> float:
        """How long a visitor keeps the zone's 86400 s answer in ttl mode."""
        return ZONE_TTL_S / self.ttl_scale

    @property
    def rate(self) -> float:
        return self.spawn_rate or float(self.users)


def parse_duration(text: str) -> int:
    """'90', '90s', '2m', '1m30s' -> seconds: the CLI's --duration, like Locust's -t."""
    m = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", text)
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"bad duration {text!r}: e.g. 60, 60s, 2m, 1m30s")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s
