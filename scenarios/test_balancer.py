"""A smarter balancer beside round-robin DNS (F22): HAProxy on lb.

The same visitors (ask ns1 or ns2 for www.foo.com before every visit, fetch
from the first address, 10 a second) meet a web server that goes down
twice: once with www pointing at lb, which checks web1-3 every second and
takes web2 out after two failed checks, and once with www pointing at the
three web servers, the article's round-robin DNS, which never learns that
web2 is gone. Through lb the failures stop within seconds and web2 gets
visitors again soon after it is back; through DNS about a third of the
visits fail for as long as web2 is down. Then the policies: leastconn keeps
visitors off a slow server that roundrobin keeps feeding, and the sticky
cookie keeps a visitor on one server, PHP's local session file and all (F9).

If the lab runs without the balancer, this module starts lb (only lb) and
removes it at the end, so `make test` covers it on the default lab. The
zone, the policy and every fault are put back whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.admin import haproxy_cfg, lb, zone
from lab.admin.status import lab_status
from lab.load import balancestudy as study
from lab.model.errors import LabError
from lab.probes import named, pages

WEBS = ["web1", "web2", "web3"]
# lb must have stopped failing by then, counted from the moment web2's
# container has stopped: two failed checks a second apart, each allowed a
# second, and the visit already in flight.
OUT_WITHIN_S = haproxy_cfg.CHECK_INTER_S * haproxy_cfg.CHECK_FALL + 1.0 + study.PATIENCE


@pytest.fixture(scope="module")
def balanced(lab) -> Iterator[None]:
    """lb running with policy roundrobin. Started here (only lb) if the lab
    has none, and removed again; the zone and the policy are put back."""
    added = lb.add(lab)
    policy = lb.policy(lab)
    original_zone = zone.zone_text(lab)
    try:
        if policy != "roundrobin":
            lb.set_policy(lab, "roundrobin")
        yield
    finally:
        if zone.zone_text(lab) != original_zone:
            zone.restore(lab, original_zone)  # the article's serial again, on ns2 too
        if added:
            lb.remove(lab)
        elif policy and lb.policy(lab) != policy:
            lb.set_policy(lab, policy)


@pytest.mark.destructive
def test_www_moves_to_lb_and_back_and_lb_shows_who_answered(lab, topo, balanced,
                                                             prove_nothing_lost):
    lb_address = lab.topology.address("lb")  # lb may have joined after `topo` was made
    name_servers = [topo.address("ns1"), topo.address("ns2")]
    # lb passes every page on unchanged: X-Served-By names the server, in turn.
    served = [pages.fetch(lb_address, "/light.php").served_by for _ in range(6)]
    assert sorted(served) == sorted(WEBS * 2), served
    assert lb.servers(lab) == {w: "UP" for w in WEBS}

    change = lb.point_www(lab, "lb")
    assert change is not None and change.www == (lb_address,)
    for ns in name_servers:  # ns2 followed by NOTIFY
        assert named.ask(ns).records == (lb_address,), ns
    facts = {r.name: r.facts for r in lab_status(lab)}
    assert facts["ns1"]["www"] == facts["ns2"]["www"] == "lb"
    assert facts["lb"]["policy"] == "roundrobin"
    back = lb.point_www(lab, "web")
    assert back is not None and sorted(back.www) == sorted(topo.address(w) for w in WEBS)
    for ns in name_servers:
        assert sorted(named.ask(ns).records) == sorted(back.www), ns

    # The stats page wants the lab's password, and listens on the lab address only.
    with pytest.raises(LabError, match="401"):
        lb.balancer_stats(lb_address, None)
    loopback = lab.exec("lb", ["curl", "-sS", "-m", "2", "http://127.0.0.1:8404/stats"])
    assert loopback.returncode == 7, loopback  # curl: connection refused
    prove_nothing_lost()


@pytest.mark.destructive
@pytest.mark.slow
def test_lb_takes_a_dead_web_server_out_where_dns_cannot(lab, topo, balanced, record_property,
                                                          prove_nothing_lost):
    via_lb = study.outage_run(lab, "lb")
    via_dns = study.outage_run(lab, "web")

    # Through lb: failures, if any, only until two checks have failed ...
    assert via_lb.failures_stop_after <= via_lb.down - via_lb.stop_began + OUT_WITHIN_S
    settled = via_lb.during(via_lb.down + OUT_WITHIN_S, via_lb.heal_began)
    assert settled and all(v.ok and v.served_by in ("web1", "web3") for v in settled)
    assert {v.served_by for v in via_lb.during(0, via_lb.stop_began)} == set(WEBS)
    # ... and web2 is put back once it passes two checks again.
    assert via_lb.back_after < 15, via_lb.back_after

    # Through DNS: every visit whose answer led with web2 fails, the whole outage long.
    web2 = topo.address("web2")
    outage = via_dns.outage
    assert [not v.ok for v in outage] == [v.address == web2 for v in outage]
    assert 0.15 <= via_dns.failed_share <= 0.5, via_dns.failed_share
    late = via_dns.during(via_dns.heal_began - study.OUTAGE_S / 3, via_dns.heal_began)
    assert any(not v.ok for v in late), "DNS stopped sending visitors to web2: it cannot know"

    # The comparison the class is after: once lb's checks have noticed, no
    # visitor fails through lb, while through DNS a third still do.
    settled_dns = via_dns.during(via_dns.down + OUT_WITHIN_S, via_dns.heal_began)
    assert sum(not v.ok for v in settled_dns) / len(settled_dns) >= 0.15, settled_dns
    assert via_lb.failed < via_dns.failed, (via_lb.failed, via_dns.failed)
    assert via_lb.failed_share < via_dns.failed_share
    record_property("rate_per_s", study.RATE)
    record_property("outage_s", study.OUTAGE_S)
    record_property("docker_stop_s", round(via_lb.down - via_lb.stop_began, 2))
    record_property("lb_failed_visits", via_lb.failed)
    record_property("lb_failures_stop_after_s", round(via_lb.failures_stop_after, 2))
    record_property("lb_failed_share_outage", round(via_lb.failed_share, 3))
    record_property("lb_web2_back_after_start_s", round(via_lb.back_after, 2))
    record_property("dns_failed_visits", via_dns.failed)
    record_property("dns_failed_share_outage", round(via_dns.failed_share, 3))
    prove_nothing_lost()


@pytest.mark.destructive
@pytest.mark.slow
def test_leastconn_keeps_visitors_off_a_slow_server(lab, balanced, record_property,
                                                     prove_nothing_lost):
    rr, lc = study.policies_with_a_slow_server(lab, ("roundrobin", "leastconn"))
    assert lb.running_policy(lab) == "roundrobin"  # put back, and reloaded
    assert set(rr.served) == set(lc.served) == set(WEBS), (rr, lc)  # no errors, none taken out
    assert (rr.running, lc.running) == ("roundrobin", "leastconn")  # as HAProxy ran them
    slow = study.SLOW
    fast = [w for w in WEBS if w != slow]
    # leastconn sees the requests pile up on the slow server and sends the next
    # visitor elsewhere: the slow server gets clearly less than each fast one.
    assert lc.share(slow) < 0.6 * min(lc.share(w) for w in fast), lc
    # roundrobin hands out a third whatever that costs, but lb's health checks
    # time out on the starved server and take it out now and then: its share
    # under roundrobin is a figure, not a claim.
    record_property("roundrobin_pages", rr.pages)
    record_property("roundrobin_slow_share", round(rr.share(slow), 3))
    record_property("leastconn_pages", lc.pages)
    record_property("leastconn_slow_share", round(lc.share(slow), 3))
    prove_nothing_lost()


@pytest.mark.destructive
def test_a_sticky_cookie_keeps_a_visitor_on_one_server(lab, topo, balanced, prove_nothing_lost):
    address = lab.topology.address("lb")
    lb.set_policy(lab, "sticky")
    try:
        first = pages.fetch(address, "/session.php")
        cookies = dict(c.split("=", 1) for c in first.cookies)
        home = first.served_by
        assert cookies[haproxy_cfg.COOKIE] == home and "PHPSESSID" in cookies
        jar = "; ".join(first.cookies)
        for visits in range(2, 7):  # the cookie leads back home; PHP's local file knows us
            page = pages.fetch(address, "/session.php", cookie=jar)
            assert (page.served_by, page.json()["visits"]) == (home, visits)
        # Without lb's cookie a visitor is new to it: taken in turn to other
        # servers, where PHP's session file does not exist (the conundrum).
        php_only = f"PHPSESSID={cookies['PHPSESSID']}"
        strays = [pages.fetch(address, "/session.php", cookie=php_only) for _ in range(3)]
        elsewhere = [s for s in strays if s.served_by != home]
        assert elsewhere and all(s.json()["visits"] == 1 for s in elsewhere)
    finally:
        lb.set_policy(lab, "roundrobin")
    prove_nothing_lost()
