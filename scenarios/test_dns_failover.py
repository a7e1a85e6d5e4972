"""Break it and recover it: the primary name server goes down (F4).

ns2 is the backup name server: with ns1 dead it keeps answering for
foo.com on its own, with the same records in turn. When ns1 is back, a
zone change made on ns1 reaches ns2 by NOTIFY within seconds, long before
the SOA refresh (10800 s) would have made ns2 look. (Measured: about 4 s
right after ns1's restart: BIND sends a NOTIFY when it loads the zone and
waits `notify-delay`, 5 s by default, before the next one.) The zone is
put back as it was at the end, the article's serial included: a secondary
refuses a lower serial, so lab.admin.zone.restore makes ns2 copy it anyway.
"""

from __future__ import annotations

import time

import dns.exception
import pytest

from lab.admin import zone
from lab.drills.faults import Fault, injected
from lab.engine import client as engine
from lab.engine.waiting import wait_for
from lab.probes import named

WEBS = ["web1", "web2", "web3"]


def firsts(server: str, count: int) -> list[str]:
    """The address each of `count` successive answers leads with."""
    return [named.ask(server).records[0] for _ in range(count)]


@pytest.fixture
def zone_restored(lab):
    """The zone file of ns1 as it was; put back (on ns2 too) whatever happens."""
    original = zone.zone_text(lab)
    yield original
    restored = zone.restore(lab, original)
    assert restored.new_serial == zone.serial_of(original)


@pytest.mark.destructive
@pytest.mark.slow
def test_ns2_answers_alone_and_follows_ns1_again_by_notify(lab, topo, zone_restored,
                                                           record_property, prove_nothing_lost):
    ns1, ns2 = topo.address("ns1"), topo.address("ns2")
    www = sorted(topo.address(w) for w in WEBS)
    before = named.soa(ns2)
    assert before is not None and before == named.soa(ns1)

    with injected(lab, Fault("kill", "ns1")):
        # The fault happened: ns1's container is down and nothing answers at its address.
        assert lab.states()["ns1"].status != "running"
        with pytest.raises((dns.exception.Timeout, OSError)):
            named.ask(ns1, timeout=1.0)
        # ns2 alone: authoritative, the same zone, the same three addresses, in turn.
        answer = named.ask(ns2)
        assert answer.authoritative and answer.rcode == "NOERROR"
        assert sorted(answer.records) == www
        assert named.soa(ns2) == before
        seen = firsts(ns2, 6)
        assert sorted(set(seen)) == www
        assert all(a != b for a, b in zip(seen, seen[1:], strict=False)), seen

    # ns1 is back (the heal waited for it to be healthy) and answers again.
    assert named.soa(ns1) == before
    # A change on ns1 now: web3 taken out of www, with a new serial.
    t0, since = time.monotonic(), time.time() - 1
    change = zone.set_www(lab, [topo.address("web1"), topo.address("web2")])
    assert change.old_serial == before.serial and change.new_serial > before.serial
    # ns2 copies it at once (NOTIFY), not after the refresh of `before.refresh` seconds.
    wait_for(
        f"ns2 serving serial {change.new_serial}",
        lambda: (s := named.soa(ns2)) is not None and s.serial == change.new_serial,
        timeout=20, every=0.1)
    took = time.monotonic() - t0
    # ns2 was told, not left to find out: its log has ns1's NOTIFY for this
    # change, and the transfer of the new serial that followed.
    said = engine.logs(topo.host("ns2").container, since=since)
    assert f"notify from {ns1}" in said, said[-400:]
    assert f"transferred serial {change.new_serial}" in said, said[-400:]
    record_property("notify_to_ns2_s", round(took, 2))
    assert sorted(named.ask(ns2).records) == sorted(change.www)
    assert topo.address("web3") not in named.ask(ns2).records
    prove_nothing_lost()
