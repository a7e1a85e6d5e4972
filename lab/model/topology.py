"""The seven machines of foo.com as plain data: names, roles, addresses,
and the names of the containers, images and volumes that play them.

Nothing here talks to Docker; the driver and the probes read this model.
The defaults are the article's addresses on 10.1.1.0/24. A lab on another
/24 keeps every host's last octet (ns1 is always .2, db1 always .21, ...).
An optional eighth machine, the balancer lb at .10 (F22), joins them only
when a lab asks for it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from enum import Enum

from lab.model import article
from lab.model.errors import TopologyError

__all__ = ["DEFAULT_SUBNET", "Host", "Role", "Topology", "TopologyError", "image", "topology"]


class Role(Enum):
    DNS = "dns"
    WEB = "web"
    DB = "db"
    LB = "lb"  # the optional balancer beside the article's seven (F22)
    MHA = "mha"  # the optional MHA manager (automatic failover, issue 15)


# The TCP ports each role's daemons listen on once started (named, Apache
# and sshd, MariaDB): a host's healthcheck cannot pass before they do.
LISTENS = {Role.DNS: (53,), Role.WEB: (80, 22), Role.DB: (3306,)}


def image_tag() -> str:
    """The tag of the lab's images: FOOLAB_IMAGE_TAG, default latest (a
    checkout that changes images/ can build its own beside another's)."""
    return os.environ.get("FOOLAB_IMAGE_TAG") or "latest"


def image(role: Role | str) -> str:
    """The lab's image for a role (images/<role>/), e.g. foolab/db:latest."""
    name = role.value if isinstance(role, Role) else role
    return f"foolab/{name}:{image_tag()}"


@dataclass(frozen=True)
class Host:
    """One machine of the cluster."""

    name: str
    role: Role
    address: str
    duty: str  # what the article makes it do, in a few words
    container: str  # the container that plays it: foolab-ns1, ...

    @property
    def image(self) -> str:
        return image(self.role)


# name, role, last octet, duty: the article's table (F1).
_ARTICLE_HOSTS: tuple[tuple[str, Role, int, str], ...] = (
    ("ns1", Role.DNS, 2, "primary DNS for foo.com"),
    ("ns2", Role.DNS, 3, "backup DNS, secondary of ns1"),
    ("web1", Role.WEB, 11, "primary web server, reads db1"),
    ("web2", Role.WEB, 12, "secondary web server, reads db2"),
    ("web3", Role.WEB, 13, "secondary web server, reads db2"),
    ("db1", Role.DB, 21, "MySQL master"),
    ("db2", Role.DB, 22, "replica of db1"),
)

DEFAULT_SUBNET = "10.1.1.0/24"

# The optional eighth machine (F22): HAProxy in front of web1-3, at .10. It
# is not the article's, so it is in a lab's hosts only when asked for.
LB = "lb"
LB_OCTET = 10
LB_DUTY = "HAProxy in front of web1-3"

# Automatic failover (not the article's): the MHA manager at .30, and the
# floating master address .20 that MHA or keepalived moves to the new master.
MHA = "mha"
MHA_OCTET = 30
MHA_DUTY = "MHA manager, watching db1"
FLOAT_OCTET = 20

# Caching resolvers for the load study (F20, issue 13): unbound, like an
# ISP's, at .41-.46 (res1-res6), between the visitors and ns1/ns2. Optional,
# not the article's: `foolab up --with resolvers`, `foolab load --resolvers N`.
# The block avoids the article's hosts, lb (.10), the floating master (.20),
# mha (.30) and the load generator (.100); six is the room there is.
RESOLVER_PREFIX = "res"
RESOLVER_OCTETS = (41, 42, 43, 44, 45, 46)


@dataclass(frozen=True)
class Topology:
    """The lab's network and its hosts, in the article's order."""

    subnet: str
    hosts: tuple[Host, ...]
    project: str = "foolab"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def gateway(self) -> str:
        """The host side of the bridge: the subnet's .1."""
        return str(self.network.network_address + 1)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hosts)
        raise TopologyError(f"unknown host {name!r}; the lab has {known}")

    def by_role(self, role: Role) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role is role)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts)

    @property
    def webs(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.by_role(Role.WEB))

    def address(self, name: str) -> str:
        return self.host(name).address

    # What each host is, in the article's terms (lab/model/article.py says
    # which host): code outside the model names hosts by these roles.

    @property
    def master(self) -> str:
        """F10: the database every write goes to (db1)."""
        return self.host(article.MASTER).name

    @property
    def replica(self) -> str:
        """F10/F11: the master's replica, read by the other web servers (db2)."""
        return self.host(article.REPLICA).name

    @property
    def databases(self) -> tuple[str, ...]:
        """The database hosts, master first: db1, db2."""
        return tuple(h.name for h in self.by_role(Role.DB))

    @property
    def primary_dns(self) -> str:
        """F4: the name server the zone is edited on (ns1)."""
        return self.host(article.PRIMARY_DNS).name

    @property
    def secondary_dns(self) -> str:
        """F4: the backup name server, a secondary of the primary (ns2)."""
        return self.host(article.SECONDARY_DNS).name

    @property
    def content_source(self) -> str:
        """F5-F8: the web server content is edited on and pushed from (web1)."""
        return self.host(article.CONTENT_SOURCE).name

    @property
    def content_targets(self) -> tuple[str, ...]:
        """F5-F8: the web servers the content source pushes to (web2, web3)."""
        return tuple(w for w in self.webs if w != self.content_source)

    @property
    def writer_host(self) -> str:
        """The web server the lab's writers (the exercises' orders, the
        drills' ledger writers) send writes to: the primary web server, the
        content source (web1), which also reads from the master."""
        return self.content_source

    def read_server(self, web: str) -> str:
        """F10: web1 reads from db1, the other web servers from db2."""
        self.host(web)
        return article.READS_FROM[web]

    def readers_of(self, database: str) -> tuple[str, ...]:
        """F10: the web servers that read from `database` (db2: web2, web3)."""
        return tuple(w for w in self.webs if self.read_server(w) == database)

    @property
    def lb_address(self) -> str:
        """Where the balancer sits (or would sit) on the lab's subnet: .10."""
        return str(self.network.network_address + LB_OCTET)

    @property
    def float_address(self) -> str:
        """The floating master address (.20) of MHA and keepalived."""
        return str(self.network.network_address + FLOAT_OCTET)

    @property
    def mha_address(self) -> str:
        """Where the MHA manager sits (or would sit): .30."""
        return str(self.network.network_address + MHA_OCTET)

    def resolver_address(self, n: int) -> str:
        """Where caching resolver res<n> (1-based) sits: .41 for res1."""
        if not 1 <= n <= len(RESOLVER_OCTETS):
            raise TopologyError(f"no room for resolver {n}: the lab has "
                                f"{len(RESOLVER_OCTETS)} resolver addresses")
        return str(self.network.network_address + RESOLVER_OCTETS[n - 1])

    def data_volume(self, host: str) -> str:
        """The Compose volume that holds a database host's data directory."""
        if self.host(host).role is not Role.DB:
            raise TopologyError(f"{host} has no data volume")
        return f"{self.project}_{host}-data"

    @property
    def bridge(self) -> str:
        """The Linux bridge of the lab network, e.g. foolab0."""
        return f"{self.project}0"


def topology(subnet: str = DEFAULT_SUBNET, project: str = "foolab",
             balancer: bool = False, mha: bool = False) -> Topology:
    """The article's seven hosts on ``subnet`` (a /24; default 10.1.1.0/24);
    their containers are named after the lab's ``project``. With
    ``balancer`` an eighth host follows them: lb, HAProxy at .10; with
    ``mha`` the MHA manager at .30."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise TopologyError(f"bad subnet {subnet!r}: {exc}") from None
    if net.prefixlen != 24:
        raise TopologyError(
            f"subnet {subnet} is a /{net.prefixlen}; the lab needs a /24 "
            "(hosts keep the article's last octets .2, .3, .11-.13, .21, .22)"
        )
    base = net.network_address
    hosts = tuple(
        Host(name, role, str(base + octet), duty, f"{project}-{name}")
        for name, role, octet, duty in _ARTICLE_HOSTS
    )
    if balancer:
        hosts += (Host(LB, Role.LB, str(base + LB_OCTET), LB_DUTY, f"{project}-{LB}"),)
    if mha:
        hosts += (Host(MHA, Role.MHA, str(base + MHA_OCTET), MHA_DUTY, f"{project}-{MHA}"),)
    return Topology(subnet=str(net), hosts=hosts, project=project)
