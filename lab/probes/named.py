"""DNS facts through dnspython, asked like `dig +norec`, only after the
address was checked to route to the lab's bridge.

Every timeout here bounds the whole answer, not each read: dnspython fixes
one expiration per query (udp, tcp), and a DNS message is at most 64 KiB,
so a student's name server cannot stall a probe by trickling."""

from __future__ import annotations

from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from lab.engine.network import require_lab_route
from lab.model.article import WWW, ZONE


@dataclass(frozen=True)
class DnsAnswer:
    """One answer of one name server, as dig would show it."""

    server: str
    name: str
    rcode: str
    authoritative: bool
    records: tuple[str, ...]  # in the order the server gave them
    ttl: int | None


def ask(server: str, name: str = WWW, rdtype: str = "A", timeout: float = 2.0) -> DnsAnswer:
    """Ask `server` one question over UDP, without recursion (like dig +norec)."""
    require_lab_route(server)
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    reply = dns.query.udp(query, server, timeout=timeout)
    records: list[str] = []
    ttl: int | None = None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            ttl = rrset.ttl
            records.extend(r.to_text() for r in rrset)
    return DnsAnswer(
        server=server,
        name=name,
        rcode=dns.rcode.to_text(reply.rcode()),
        authoritative=bool(reply.flags & dns.flags.AA),
        records=tuple(records),
        ttl=ttl,
    )


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


def soa(server: str, zone: str = ZONE) -> Soa | None:
    """The zone's SOA as `server` answers it, or None if it has no zone."""
    ans = ask(server, zone, "SOA")
    if not ans.records:
        return None
    mname, rname, *nums = ans.records[0].split()
    serial, refresh, retry, expire, minimum = (int(n) for n in nums)
    return Soa(mname, rname, serial, refresh, retry, expire, minimum)


@dataclass(frozen=True)
class Transfer:
    """The first message of a zone transfer: its rcode, and whether it
    began with the zone's SOA (the zone was handed over, as dig shows it)."""

    rcode: str
    copied: bool

    def __str__(self) -> str:
        return "copied" if self.copied else f"refused ({self.rcode})"


def transfer(server: str, zone: str = ZONE, timeout: float = 3.0) -> Transfer:
    """A zone transfer (AXFR over TCP) asked from this thread's address;
    only its first message is read (at most 64 KiB, within `timeout`)."""
    require_lab_route(server)
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    reply = dns.query.tcp(query, server, timeout=timeout)
    first = reply.answer[0] if reply.answer else None
    copied = (reply.rcode() == dns.rcode.NOERROR and first is not None
              and first.rdtype == dns.rdatatype.SOA
              and first.name == dns.name.from_text(zone))
    return Transfer(dns.rcode.to_text(reply.rcode()), copied)
