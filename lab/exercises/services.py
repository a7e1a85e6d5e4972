"""Exercises on DNS, the content push and sessions (F4, F5-F8, F9)."""

from __future__ import annotations

import random
import re
from typing import Any

from lab.admin import sessions, zone
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.exercises import goals
from lab.exercises.model import REPAIR, SYMPTOM, Exercise, Goal, Started
from lab.model.article import CONTENT_ROOT, SYNC_USER, ZONE
from lab.model.errors import LabError
from lab.probes import named, pages

NAMES = ("news", "shop", "blog", "mail", "wiki", "jobs")
NS_CONF = "/etc/bind/named.conf.local"  # written by dns-entrypoint from the template


# --- 4. ns2-stale (F4) ------------------------------------------------------------------------


def _choose_dns(r: random.Random) -> dict[str, Any]:
    return {"variant": r.choice(["transfer", "notify"]), "name": r.choice(NAMES),
            "web": r.choice(["web1", "web2", "web3"])}


_DNS_BREAK = {  # sed on ns1's named.conf.local: what the seed breaks
    "transfer": r"s/allow-transfer \{[^}]*\}/allow-transfer { none; }/",
    "notify": r"s/notify yes;/notify no;/; s/also-notify \{[^}]*\};//",
}


def _break_dns(lab: Lab, s: Started) -> None:
    s.baseline["zone"] = zone.zone_text(lab)
    lab.sh("ns1", f"sed -i -E '{_DNS_BREAK[s.params['variant']]}' {NS_CONF} && rndc reload")
    text = s.baseline["zone"].rstrip("\n") + (
        f"\n{s.params['name']} IN A {lab.topology.address(s.params['web'])}\n")
    text = zone.with_serial(text, zone.next_serial(zone.serial_of(text), _today()))
    zone.write_zone(lab, text)


def _today() -> Any:
    import datetime

    return datetime.date.today()


def _ns2_follows(lab: Lab, s: Started) -> tuple[bool, str]:
    ns1, ns2 = lab.topology.address("ns1"), lab.topology.address("ns2")
    s1, s2 = named.soa(ns1), named.soa(ns2)
    name = f"{s.params['name']}.{ZONE}"
    a1, a2 = named.ask(ns1, name).records, named.ask(ns2, name).records
    ok = s1 is not None and s2 is not None and s1.serial == s2.serial and a1 == a2 and bool(a2)
    return ok, (f"serials ns1 {s1.serial if s1 else None}, ns2 {s2.serial if s2 else None}; "
                f"{name}: ns1 {list(a1)}, ns2 {list(a2)}")


def _ns2_may_transfer(lab: Lab, _s: Started) -> tuple[bool, str]:
    out = lab.exec("ns2", ["dig", "+time=2", "+tries=1", f"@{lab.topology.address('ns1')}",
                           ZONE, "AXFR"], timeout=20)
    ok = (out.returncode == 0 and "Transfer failed" not in out.stdout
          and re.search(r"\sSOA\s", out.stdout) is not None)
    return ok, "AXFR from ns2 " + ("allowed" if ok else "refused")


def _ns1_notifies(lab: Lab, _s: Started) -> tuple[bool, str]:
    """ns1's effective zone configuration (named-checkconf -p) has NOTIFY on
    and ns2 among the servers it tells."""
    conf = lab.sh("ns1", "named-checkconf -p")
    start = conf.find(f'zone "{ZONE}"')
    block = conf[start:conf.find("\n};", start)] if start >= 0 else ""
    also = re.search(r"also-notify\s*\{([^}]*)\}", block)
    ns2 = lab.topology.address("ns2")
    ok = bool(block) and "notify no;" not in block and also is not None and ns2 in also.group(1)
    return ok, "ns1 notifies ns2" if ok else "ns1 does not notify ns2"


def _primary_serves_secondary(lab: Lab, s: Started) -> tuple[bool, str]:
    (transfer, seen_t), (notify, seen_n) = _ns2_may_transfer(lab, s), _ns1_notifies(lab, s)
    return transfer and notify, f"{seen_t}; {seen_n}"


def _fix_dns(lab: Lab, s: Started) -> None:
    """What the entrypoint would write, then reconfig; ns2 is told to copy."""
    lab.sh("ns1", "cp /etc/bind/named.conf.primary /tmp/p && "
                  f"sed -i 's/NS2_ADDR/{lab.topology.address('ns2')}/g' /tmp/p && "
                  f"mv /tmp/p {NS_CONF} && rndc reload")
    lab.sh("ns2", f"rndc retransfer {ZONE}")
    wait_for("ns2 serves ns1's serial", lambda: _same_serial(lab), timeout=30)


def _same_serial(lab: Lab) -> bool:
    s1, s2 = (named.soa(lab.topology.address(ns)) for ns in ("ns1", "ns2"))
    return s1 is not None and s2 is not None and s1.serial == s2.serial


def _copy_zone_by_hand(lab: Lab, s: Started) -> None:
    """ns2 told to fetch once (allowed for notify), or the file copied over."""
    if s.params["variant"] == "notify":
        lab.sh("ns2", f"rndc retransfer {ZONE}")
    else:
        text = zone.zone_text(lab)
        lab.exec("ns2", ["bash", "-c", "cat > /tmp/z && "
                         "sed -i 's/type secondary;/type primary;/; /primaries/d' "
                         f"{NS_CONF} && cp /tmp/z /var/cache/bind/db.foo.com && "
                         "chown bind:bind /var/cache/bind/db.foo.com && rndc reload && "
                         "rndc reload"], input=text, timeout=30)
    wait_for("ns2 serves the new zone", lambda: _ns2_follows(lab, s)[0], timeout=30)


def _heal_dns(lab: Lab, s: Started) -> None:
    lab.sh("ns2", "cp /etc/bind/named.conf.secondary /tmp/q && "
                  f"sed -i 's/NS1_ADDR/{lab.topology.address('ns1')}/g' /tmp/q && "
                  f"mv /tmp/q {NS_CONF} && rndc reload")
    _fix_dns(lab, s)
    if s.baseline.get("zone"):
        zone.restore(lab, s.baseline["zone"])


NS2_STALE = Exercise(
    name="ns2-stale", section="ns2, the backup name server (F4)",
    notice="a new name resolves for some visitors and not for others",
    choose=_choose_dns,
    brief=lambda p: (
        f"{p['name']}.foo.com was added this morning. About half the visitors can reach it; "
        "the others are told the name does not exist. Make both name servers give the same "
        "answers, now and after the next change."),
    goals=(
        Goal("ns2 answers like ns1", SYMPTOM, 2, "ask ns1 and ns2 for the SOA and the new "
             "name: do they agree?", _ns2_follows),
        Goal("ns1 lets ns2 copy the zone and tells it of changes", REPAIR, 2,
             "can ns2 do a zone transfer from ns1 (dig AXFR on ns2)? what does ns1's zone "
             "configuration say about NOTIFY?", _primary_serves_secondary),
    ),
    breaks=_break_dns, solve=_fix_dns, heal=_heal_dns,
    cheats={"copy the zone by hand": (_copy_zone_by_hand,
                                      "ns1 lets ns2 copy the zone and tells it of changes")},
)


# --- 5. web-stale (F5-F8) ---------------------------------------------------------------------

AUTH = f"/home/{SYNC_USER}/.ssh/authorized_keys"
_PUSH_BREAK = {  # on web3 (the cron that re-installs the key removed too), or on web1
    "key": ("web3", f"rm -f /etc/cron.d/syncer-key && : > {AUTH}"),
    "rrsync": ("web3", f"rm -f /etc/cron.d/syncer-key && sed -i 's|rrsync {CONTENT_ROOT}|"
                       f"rrsync -ro {CONTENT_ROOT}|' {AUTH}"),
    "cron": ("web1", "echo web2 > /etc/foolab/sync-targets"),
}


def _choose_push(r: random.Random) -> dict[str, Any]:
    return {"variant": r.choice(sorted(_PUSH_BREAK)), "page": f"{r.choice(NAMES)}.html"}


def _push_now(lab: Lab) -> str:
    out = lab.exec("web1", ["runuser", "-u", SYNC_USER, "--", "/usr/local/bin/sync-content"],
                   timeout=60)
    return f"exit {out.returncode}"


def _break_push(lab: Lab, s: Started) -> None:
    host, script = _PUSH_BREAK[s.params["variant"]]
    lab.sh(host, script)
    lab.sh("web1", f"echo '<h1>{s.params['page']}</h1>' > {CONTENT_ROOT}/html/{s.params['page']}"
                   f" && chown {SYNC_USER}: {CONTENT_ROOT}/html/{s.params['page']}")
    _push_now(lab)  # reaches web2, not web3


def _same_content(lab: Lab, _s: Started) -> tuple[bool, str]:
    a, b = pages.web_root_digests(lab, "web1"), pages.web_root_digests(lab, "web3")
    diff = sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))
    return not diff, "differ: " + ", ".join(diff[:5]) if diff else "same files"


def _push_reaches_web3(lab: Lab, _s: Started) -> tuple[bool, str]:
    """A probe file on web1, pushed the way cron does it, then removed again."""
    probe = f"{CONTENT_ROOT}/html/{goals.probe_name()}"
    lab.sh("web1", f"echo probe > {probe} && chown {SYNC_USER}: {probe}")
    try:
        pushed = _push_now(lab)
        there = lab.exec("web3", ["test", "-e", probe]).returncode == 0
    finally:
        lab.sh("web1", f"rm -f {probe}")
        _push_now(lab)
    return there, f"push {pushed}; the probe file {'reached' if there else 'did not reach'} web3"


def _fix_push(lab: Lab, _s: Started) -> None:
    lab.sh("web3", "install -m 644 /etc/foolab/syncer-key.cron /etc/cron.d/syncer-key && "
                   f"rm -f {AUTH} && /usr/local/sbin/install-syncer-key")
    lab.sh("web1", "echo 'web2 web3' > /etc/foolab/sync-targets")
    _push_now(lab)


def _copy_by_hand(lab: Lab, s: Started) -> None:
    page = f"{CONTENT_ROOT}/html/{s.params['page']}"
    text = lab.sh("web1", f"cat {page}")
    lab.exec("web3", ["bash", "-c", f"cat > {page} && chown {SYNC_USER}: {page}"], input=text)


def _heal_push(lab: Lab, s: Started) -> None:
    lab.sh("web1", f"rm -f {CONTENT_ROOT}/html/{s.params['page']}")
    _fix_push(lab, s)
    if not _same_content(lab, s)[0]:
        raise LabError("web3's content still differs after the repair")


WEB_STALE = Exercise(
    name="web-stale", section="Content pushed from web1 with rsync over SSH (F5-F8)",
    notice="a new page shows on web1 and web2, not on web3",
    choose=_choose_push,
    brief=lambda p: (
        f"The new page {p['page']} shows for visitors on web1 and web2; those sent to web3 "
        "get 'Not Found'. Content is only ever edited on web1. Make web3 get it, and every "
        "later change, by itself."),
    goals=(
        Goal("web3 serves what web1 has", SYMPTOM, 2, "compare /var/www on web1 and web3",
             _same_content),
        Goal("the push reaches web3", REPAIR, 2, "run web1's push as the syncer and read its "
             "log (/var/log/sync-content.log)", _push_reaches_web3),
    ),
    breaks=_break_push, solve=_fix_push, heal=_heal_push,
    cheats={"copy the page by hand": (_copy_by_hand, "the push reaches web3")},
)


# --- 6. sessions-lost (F9) ----------------------------------------------------------------------


def _session_follows(lab: Lab, s: Started) -> tuple[bool, str]:
    order = s.params["order"]
    first = pages.fetch(lab.address_of(order[0]), "/session.php")
    counts = [first.json().get("visits")]
    for web in order[1:]:
        counts.append(pages.fetch(lab.address_of(web), "/session.php",
                                  cookie=first.cookie).json().get("visits"))
    want = list(range(1, len(order) + 1))
    return counts == want, "visit counter " + " -> ".join(
        f"{w}:{c}" for w, c in zip(order, counts, strict=True))


def _one_place(lab: Lab, _s: Started) -> tuple[bool, str]:
    """Every web server keeps sessions in the same folder, and it is one
    folder: a file made there on web1 is seen there by the others."""
    paths = {w: pages.fetch(lab.address_of(w), "/session.php").json().get("save_path")
             for w in lab.topology.webs}
    seen = ", ".join(f"{w}: {p}" for w, p in paths.items())
    if len(set(paths.values())) != 1:
        return False, seen
    marker = f"{paths['web1']}/{goals.probe_name()}"
    lab.sh("web1", f"touch {marker}")
    try:
        shared = all(lab.exec(w, ["test", "-e", marker]).returncode == 0
                     for w in lab.topology.webs)
    finally:
        lab.sh("web1", f"rm -f {marker}")
    return shared, seen + ("; one folder" if shared else "; the same name, not the same folder")


def _same_path_not_shared(lab: Lab, _s: Started) -> None:
    for web in lab.topology.webs:
        lab.sh(web, "mkdir -p /tmp/sessions && chown www-data: /tmp/sessions && "
                    "sed -i 's|^php_value session.save_path .*|php_value session.save_path "
                    f"\"/tmp/sessions\"|' {sessions.CONF} && apachectl -k graceful")


def _sessions(shared: bool) -> Any:
    def switch(lab: Lab, _s: Started) -> None:
        sessions.use_shared_sessions(lab, shared)

    return switch


SESSIONS_LOST = Exercise(
    name="sessions-lost", section="The cookie conundrum (F9)",
    notice="visitors lose their session when DNS sends them to another server",
    choose=lambda r: {"order": r.sample(["web1", "web2", "web3"], 3) + [r.choice(
        ["web1", "web2", "web3"])]},
    brief=lambda p: (
        "Shoppers complain that their basket empties now and then as they move between "
        "pages. Make a visitor's session survive whichever web server DNS sends them to."),
    goals=(
        Goal("a session survives moving between web servers", SYMPTOM, 3,
             "visit /session.php on one server, then on another with the same cookie",
             _session_follows),
        Goal("all web servers keep sessions in one shared place", REPAIR, 1,
             "where does PHP keep sessions on each web server, and do they see each "
             "other's files there?", _one_place),
    ),
    breaks=_sessions(shared=False), solve=_sessions(shared=True), heal=_sessions(shared=False),
    cheats={"the same folder name on each server": (_same_path_not_shared,
                                                    "a session survives moving between "
                                                    "web servers")},
)
