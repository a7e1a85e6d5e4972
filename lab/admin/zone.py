"""Edit the zone foo.com the way its administrator would.

The live zone file is /var/lib/bind/db.foo.com on ns1 (dns-entrypoint
copies it there once; edits survive a restart). A change is: edit the
records, bump the SOA serial, check the file (named-checkzone), `rndc reload
foo.com`. ns1 then sends NOTIFY to ns2, which asks for the zone at once
instead of waiting for the SOA refresh (10800 s, F4).

The text functions (`serial_of`, `next_serial`, `with_serial`, `www_of`,
`with_www`) are pure; the others act on a running lab and return facts.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lab.engine import hostfiles
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts import bind
from lab.model.article import ZONE
from lab.model.errors import LabError
from lab.model.topology import Role

ZONE_NAME = ZONE
ZONE_FILE = bind.ZONE_FILE

# "foo.com. IN SOA ns1.foo.com. hostmaster.foo.com. (" then, perhaps on the
# next line, the serial: the first number of the SOA data. Searched in the
# text with its comments blanked out (a comment may say "SOA" too).
_SOA_SERIAL = re.compile(r"\bSOA\s+\S+\s+\S+\s*\(?\s*(\d+)", re.IGNORECASE)
_COMMENT = re.compile(r";[^\n]*")
# One address record of www: "www IN A 10.1.1.11", "www 300 IN A ...",
# "www.foo.com. IN A ...".
_WWW_A = re.compile(
    r"^www(?:\.foo\.com\.)?\s+(?:\d+\s+)?(?:IN\s+)?A\s+(\S+)\s*(?:;.*)?$", re.IGNORECASE
)


# --- the zone as text (no Docker) --------------------------------------------------


def _serial_span(text: str) -> tuple[int, int]:
    """Where the SOA serial is in the text (comments do not count)."""
    bare = _COMMENT.sub(lambda m: " " * len(m.group()), text)
    m = _SOA_SERIAL.search(bare)
    if not m:
        raise LabError("no SOA serial found in the zone file")
    return m.span(1)


def serial_of(text: str) -> int:
    """The SOA serial of a zone file."""
    start, end = _serial_span(text)
    return int(text[start:end])


def next_serial(current: int, today: datetime.date) -> int:
    """The serial after `current`, in the YYYYMMDDnn style of the article's
    2006032801: today's first number if that is higher, else one more.
    A secondary only copies a zone whose serial went up."""
    first_today = int(today.strftime("%Y%m%d")) * 100
    candidate = first_today if first_today > current else current + 1
    if candidate > 0xFFFFFFFF:
        raise LabError(f"serial {current} cannot grow any further (32 bits)")
    return candidate


def with_serial(text: str, serial: int) -> str:
    """The zone text with its SOA serial replaced, all else untouched."""
    start, end = _serial_span(text)
    return f"{text[:start]}{serial}{text[end:]}"


def www_of(text: str) -> list[str]:
    """The addresses of www, in the order the file lists them."""
    return [m.group(1) for line in text.splitlines() if (m := _WWW_A.match(line.strip()))]


def with_www(text: str, addresses: Sequence[str]) -> str:
    """The zone text with the www address records replaced by `addresses`
    (written where the first one was, in the file's own style)."""
    if not addresses:
        raise LabError("www needs at least one address")
    for a in addresses:
        ipaddress.IPv4Address(a)  # ValueError for anything else
    lines = text.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if _WWW_A.match(line.strip())]
    if not at:
        raise LabError("no www address record in the zone file")
    new = [f"www IN A {a}\n" for a in addresses]
    kept = [line for i, line in enumerate(lines) if i not in at[1:]]
    first = at[0]
    return "".join(kept[:first] + new + kept[first + 1:])


# --- the zone on ns1 -------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneChange:
    """What a change did: the serials before and after, the www records now
    in the file, and whether the secondaries had to be made to transfer."""

    old_serial: int
    new_serial: int
    www: tuple[str, ...]
    forced_transfer: tuple[str, ...] = ()  # secondaries told `rndc retransfer`


def zone_text(lab: Lab) -> str:
    """The live zone file on ns1 (the topology's primary DNS), read through
    the engine's archive, not by ns1's own `cat`: a grader's probe record
    is built on it (a student may have replaced cat there)."""
    primary = lab.topology.primary_dns
    data = hostfiles.read_file(lab.topology.host(primary).container, ZONE_FILE)
    if data is None:
        raise LabError(f"no zone file {ZONE_FILE} on {primary}")
    return data.decode(errors="replace")


def served_serial(lab: Lab, host: str) -> int | None:
    """The serial a name server answers with, asked on the server itself."""
    out = lab.exec(host, ["dig", "+short", "+norec", "+time=1", "+tries=1", "@127.0.0.1",
                          ZONE_NAME, "SOA"], timeout=20)
    fields = out.stdout.split()
    return int(fields[2]) if out.returncode == 0 and len(fields) >= 3 else None


def write_zone(lab: Lab, text: str, timeout: float = 15) -> ZoneChange:
    """Install `text` as ns1's zone file and reload it, if named-checkzone
    accepts it; wait until ns1 answers with the file's serial.

    The secondaries are not waited for: they follow by NOTIFY, and only
    when the serial went up (see `restore`)."""
    current = zone_text(lab)
    old, new = serial_of(current), serial_of(text)
    if new == old and text != current:
        raise LabError(f"the zone changed but its serial did not ({new})",
                       hint="bump the serial: the secondaries copy only a higher one")
    primary = lab.topology.primary_dns
    bind.install_zone(lab, primary, text)

    def reloaded() -> bool:
        # BIND skips a file no newer than its last load ("up-to-date"), which
        # can happen for two edits within one clock tick: touch and retry.
        if served_serial(lab, primary) == new:
            return True
        bind.reload_zone(lab, primary)
        return served_serial(lab, primary) == new

    wait_for(f"{primary} serving serial {new}", reloaded, timeout=timeout, every=0.5)
    return ZoneChange(old, new, tuple(www_of(text)))


def bump_serial(lab: Lab, today: datetime.date | None = None) -> ZoneChange:
    """Raise the serial only: the secondaries copy the zone again."""
    text = zone_text(lab)
    return write_zone(lab, with_serial(text, next_serial(serial_of(text),
                                                         today or datetime.date.today())))


def set_www(lab: Lab, addresses: Sequence[str], today: datetime.date | None = None
            ) -> ZoneChange:
    """Point www.foo.com at `addresses` (the round-robin set), with a new serial."""
    text = with_www(zone_text(lab), addresses)
    return write_zone(lab, with_serial(text, next_serial(serial_of(text),
                                                         today or datetime.date.today())))


def secondaries(lab: Lab) -> list[str]:
    return [h.name for h in lab.topology.by_role(Role.DNS) if h.name != lab.topology.primary_dns]


def restore(lab: Lab, text: str, timeout: float = 15) -> ZoneChange:
    """Put back an earlier zone file exactly, serial included.

    A secondary never copies a zone whose serial went down (ns1 even skips
    the NOTIFY and logs "zone serial has gone backwards"), so after a
    rollback each secondary that holds a higher serial is told to copy the
    zone anyway (`rndc retransfer`, a full AXFR), and waited for. The other
    way out, a serial bumped again with the old records, would leave the
    lab with another serial than the article's 2006032801 (F2)."""
    change = write_zone(lab, text, timeout=timeout)
    forced = []
    for ns in secondaries(lab):
        held = served_serial(lab, ns)
        if held != change.new_serial:
            if held is None or held > change.new_serial:
                bind.retransfer(lab, ns)
                forced.append(ns)
            _wait_serial(lab, ns, change.new_serial, timeout)
    return ZoneChange(change.old_serial, change.new_serial, change.www, tuple(forced))


def _wait_serial(lab: Lab, host: str, serial: int, timeout: float) -> None:
    wait_for(f"{host} serving serial {serial}", lambda: served_serial(lab, host) == serial,
             timeout=timeout, every=0.25)
