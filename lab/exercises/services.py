"""Exercises on DNS, the content push and sessions (F4, F5-F8, F9)."""

from __future__ import annotations

import random
import re
from typing import Any

from dns.exception import DNSException

from lab.admin import sessions, zone
from lab.engine.lab import Lab
from lab.engine.process import fill
from lab.engine.waiting import wait_for
from lab.exercises import goals
from lab.exercises.definitions import REPAIR, SYMPTOM, Cheat, Exercise, Goal, Started
from lab.hosts import apache, bind, rsync
from lab.model.article import CONTENT_ROOT, SYNC_USER, ZONE
from lab.model.errors import LabError
from lab.model.topology import topology
from lab.probes import named, pages

NAMES = ("news", "shop", "blog", "mail", "wiki", "jobs")
# The article's roles, the same in every lab (only addresses differ): the
# exercises are declared with them before any lab exists.
_ROLES = topology()
STALE = _ROLES.content_targets[-1]  # web3: the push target web-stale cuts off


# --- 4. ns2-stale (F4) ------------------------------------------------------------------------


DNS_VARIANTS = ("transfer", "notify")  # what ns1 stopped doing for ns2
ONLY_NS2 = "ns2 may copy the zone, and no other address"
NEXT_CHANGE = "a new change on ns1 reaches ns2 by itself"


def _choose_dns(r: random.Random) -> dict[str, Any]:
    return {"variant": r.choice(DNS_VARIANTS), "name": r.choice(NAMES),
            "web": r.choice(list(_ROLES.webs))}




def _break_dns(lab: Lab, s: Started) -> None:
    s.baseline["zone"] = zone.zone_text(lab)
    if s.params["variant"] == "transfer":
        bind.allow_transfer(lab, lab.topology.primary_dns, "none")
    else:
        bind.stop_notify(lab, lab.topology.primary_dns)
    text = s.baseline["zone"].rstrip("\n") + (
        f"\n{s.params['name']} IN A {lab.topology.address(s.params['web'])}\n")
    text = zone.with_serial(text, zone.next_serial(zone.serial_of(text), _today()))
    zone.write_zone(lab, text)


def _today() -> Any:
    import datetime

    return datetime.date.today()


def _ns2_follows(lab: Lab, s: Started) -> tuple[bool, str]:
    t = lab.topology
    ns1, ns2 = t.address(t.primary_dns), t.address(t.secondary_dns)
    s1, s2 = named.soa(ns1), named.soa(ns2)
    name = f"{s.params['name']}.{ZONE}"
    a1, a2 = named.ask(ns1, name).records, named.ask(ns2, name).records
    ok = s1 is not None and s2 is not None and s1.serial == s2.serial and a1 == a2 and bool(a2)
    return ok, (f"serials ns1 {s1.serial if s1 else None}, ns2 {s2.serial if s2 else None}; "
                f"{name}: ns1 {list(a1)}, ns2 {list(a2)}")


def _ns2_may_transfer(lab: Lab, _s: Started) -> tuple[bool, str]:
    t = lab.topology
    out = lab.exec(t.secondary_dns, ["dig", "+time=2", "+tries=1",
                                     f"@{t.address(t.primary_dns)}", ZONE, "AXFR"], timeout=20)
    ok = (out.returncode == 0 and "Transfer failed" not in out.stdout
          and re.search(r"\sSOA\s", out.stdout) is not None)
    return ok, "AXFR from ns2 " + ("allowed" if ok else "refused")


def _only_ns2_may_copy(lab: Lab, s: Started) -> tuple[bool, str]:
    """ns2 may copy the zone, and a transfer asked from the teacher's side
    (this machine, or a class lab's console: not ns2) is refused."""
    ns2_ok, seen = _ns2_may_transfer(lab, s)
    try:
        here = named.transfer_rcode(lab.topology.address(lab.topology.primary_dns))
    except (OSError, DNSException) as exc:
        here = f"no answer ({type(exc).__name__})"
    return ns2_ok and here == "REFUSED", f"{seen}; AXFR from another address: {here}"


NOTIFY_WAIT_S = 10  # NOTIFY brings a change in about a second; the SOA refresh is 3 h


def _a_change_reaches_ns2(lab: Lab, _s: Started) -> tuple[bool, str]:
    """Judged by what happens, not by ns1's configuration text: a probe
    record added on ns1 (serial up) must reach ns2 within NOTIFY_WAIT_S by
    itself; then the record is removed again (serial up once more)."""
    text = zone.zone_text(lab)
    serial = zone.next_serial(zone.serial_of(text), _today())
    probe = goals.probe_name().lstrip(".")
    zone.write_zone(lab, zone.with_serial(
        text.rstrip("\n") + f'\n{probe} IN TXT "grader probe"\n', serial))
    ns2 = lab.topology.address(lab.topology.secondary_dns)
    try:
        wait_for(f"serial {serial} on ns2", lambda: (
            (got := named.soa(ns2)) is not None and got.serial >= serial),
            timeout=NOTIFY_WAIT_S, every=0.25)
        reached = True
    except LabError:
        reached = False
    finally:
        zone.write_zone(lab, zone.with_serial(text, zone.next_serial(serial, _today())))
    return reached, (f"a change on ns1 (serial {serial}) "
                     + ("reached ns2 by itself" if reached else
                        f"had not reached ns2 after {NOTIFY_WAIT_S} s"))


def _fix_dns(lab: Lab, s: Started) -> None:
    """What the entrypoint would write, then reconfig; ns2 is told to copy."""
    t = lab.topology
    bind.write_conf(lab, t.primary_dns, "primary", t.address(t.secondary_dns))
    bind.retransfer(lab, t.secondary_dns)
    wait_for("ns2 serves ns1's serial", lambda: _same_serial(lab), timeout=30)


def _same_serial(lab: Lab) -> bool:
    t = lab.topology
    s1, s2 = (named.soa(t.address(ns)) for ns in (t.primary_dns, t.secondary_dns))
    return s1 is not None and s2 is not None and s1.serial == s2.serial


def _copy_zone_file_by_hand(lab: Lab, s: Started) -> None:
    """The zone file copied to ns2, made a primary there."""
    bind.serve_copy_as_primary(lab, lab.topology.secondary_dns, zone.zone_text(lab))
    wait_for("ns2 serves the new zone", lambda: _ns2_follows(lab, s)[0], timeout=30)


def _retransfer_once(lab: Lab, s: Started) -> None:
    """ns2 told to copy the zone once: today's change arrives, not the next."""
    bind.retransfer(lab, lab.topology.secondary_dns)
    wait_for("ns2 serves the new zone", lambda: _ns2_follows(lab, s)[0], timeout=30)


def _allow_any_transfer(lab: Lab, s: Started) -> None:
    """allow-transfer { any; }: ns2 can copy, and so can anyone else."""
    bind.allow_transfer(lab, lab.topology.primary_dns, "any")
    _retransfer_once(lab, s)


def _heal_dns(lab: Lab, s: Started) -> None:
    t = lab.topology
    bind.write_conf(lab, t.secondary_dns, "secondary", t.address(t.primary_dns))
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
        Goal(ONLY_NS2, REPAIR, 1, "can ns2 do a zone transfer from ns1 (dig AXFR on ns2)? "
             "and from any other machine?", _only_ns2_may_copy),
        Goal(NEXT_CHANGE, REPAIR, 2, "what does ns1 do when the zone's serial goes up? "
             "watch ns2's log", _a_change_reaches_ns2),
    ),
    breaks=_break_dns, solve=_fix_dns, heal=_heal_dns, variants=DNS_VARIANTS,
    cheats={"copy the zone file to ns2 by hand": Cheat(_copy_zone_file_by_hand, ONLY_NS2,
                                                       only=("transfer",)),
            "let every address copy the zone": Cheat(_allow_any_transfer, ONLY_NS2,
                                                     only=("transfer",)),
            "tell ns2 to copy once": Cheat(_retransfer_once, NEXT_CHANGE, only=("notify",))},
)


# --- 5. web-stale (F5-F8) ---------------------------------------------------------------------

PUSH_VARIANTS = ("key", "rrsync", "cron")  # what stopped the push to web3
KEY_LIMITED = "the syncer's key can only push into the content folder"


def _break_what(lab: Lab, variant: str) -> None:
    """key: web3's key gone; rrsync: web3's key read-only; cron: web3 gone
    from web1's push list."""
    t = lab.topology
    if variant == "key":
        rsync.remove_key(lab, STALE)
    elif variant == "rrsync":
        rsync.make_key_read_only(lab, STALE)
    else:
        rsync.set_targets(lab, t.content_source, [w for w in t.content_targets if w != STALE])


def _choose_push(r: random.Random) -> dict[str, Any]:
    return {"variant": r.choice(sorted(PUSH_VARIANTS)), "page": f"{r.choice(NAMES)}.html"}


# A probe file the syncer owns, as content made on web1 is.
PROBE_FILE = "echo probe > {} && chown {}: {}"


def _push_now(lab: Lab) -> str:
    return f"exit {rsync.push(lab, lab.topology.content_source)}"


def _break_push(lab: Lab, s: Started) -> None:
    _break_what(lab, s.params["variant"])
    page = f"{CONTENT_ROOT}/html/{s.params['page']}"
    lab.run(lab.topology.content_source, "echo {} > {} && chown {}: {}",
            f"<h1>{s.params['page']}</h1>", page, SYNC_USER, page)
    _push_now(lab)  # reaches web2, not web3


def _same_content(lab: Lab, _s: Started) -> tuple[bool, str]:
    a, b = (pages.web_root_digests(lab, w) for w in (lab.topology.content_source, STALE))
    diff = sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))
    return not diff, "differ: " + ", ".join(diff[:5]) if diff else "same files"


def _push_reaches_web3(lab: Lab, _s: Started) -> tuple[bool, str]:
    """A probe file on web1, pushed the way cron does it, then removed again."""
    probe, source = f"{CONTENT_ROOT}/html/{goals.probe_name()}", lab.topology.content_source
    lab.run(source, PROBE_FILE, probe, SYNC_USER, probe)
    try:
        pushed = _push_now(lab)
        there = lab.exec(STALE, ["test", "-e", probe]).returncode == 0
    finally:
        lab.run(source, "rm -f {}", probe)
        _push_now(lab)
    return there, (f"push {pushed}; the probe file {'reached' if there else 'did not reach'} "
                   f"{STALE}")


def _key_only_pushes_content(lab: Lab, _s: Started) -> tuple[bool, str]:
    """F7 judged by what web1's syncer key can do on web3: run a command
    (touch a file in /tmp), and push a file outside the content folder.
    rrsync refuses the first and keeps the second inside /var/www; a plain
    key lets both through. The probe files are removed again."""
    name, source = goals.probe_name(), lab.topology.content_source
    outside = f"/tmp/{name}"
    as_syncer = ["runuser", "-u", SYNC_USER, "--"]
    lab.exec(source, [*as_syncer, "ssh", "-l", SYNC_USER, STALE, "touch", f"{outside}-ran"],
             timeout=20)
    lab.run(source, PROBE_FILE, outside, SYNC_USER, outside)
    lab.exec(source, [*as_syncer, "rsync", "-e", f"ssh -l {SYNC_USER}", outside,
                      f"{STALE}:/tmp/"], timeout=20)
    try:
        escaped = [p for p in (f"{outside}-ran", outside)
                   if lab.exec(STALE, ["test", "-e", p]).returncode == 0]
    finally:
        lab.run(source, "rm -f {}", outside)
        lab.run(STALE, "rm -f {} {} {}; rmdir {} 2>/dev/null; true", outside,
                f"{outside}-ran", f"{CONTENT_ROOT}/tmp/{name}", f"{CONTENT_ROOT}/tmp")
    return not escaped, ("the key also ran: " + ", ".join(escaped) if escaped else
                         "the key ran no command and wrote nothing outside the content")


def _plain_key(lab: Lab, _s: Started) -> None:
    """The article's way: web1's key on web3 with no rrsync, and the push
    aimed at web3:/var/www/ (web2 keeps its rrsync, and "/" as the target)."""
    t = lab.topology
    rsync.plain_key(lab, t.content_source, STALE)
    rsync.set_targets(lab, t.content_source, list(t.content_targets))
    _push_now(lab)


def _fix_push(lab: Lab, _s: Started) -> None:
    t = lab.topology
    rsync.reinstall_key(lab, STALE)
    rsync.set_targets(lab, t.content_source, list(t.content_targets))
    _push_now(lab)


def _copy_by_hand(lab: Lab, s: Started) -> None:
    page = f"{CONTENT_ROOT}/html/{s.params['page']}"
    text = lab.run(lab.topology.content_source, "cat {}", page)
    lab.exec(STALE, ["bash", "-c", fill("cat > {} && chown {}: {}", page, SYNC_USER, page)],
             input=text)


def _heal_push(lab: Lab, s: Started) -> None:
    source = lab.topology.content_source
    lab.run(source, "rm -f {}", f"{CONTENT_ROOT}/html/{s.params['page']}")
    rsync.restore_script(lab, source)
    _fix_push(lab, s)
    if not _same_content(lab, s)[0]:
        raise LabError(f"{STALE}'s content still differs after the repair")


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
        Goal(KEY_LIMITED, REPAIR, 1, "what may web1's key do on web3 besides rsync into "
             "/var/www? (authorized_keys)", _key_only_pushes_content),
    ),
    breaks=_break_push, solve=_fix_push, heal=_heal_push, variants=PUSH_VARIANTS,
    cheats={"copy the page by hand": Cheat(_copy_by_hand, "the push reaches web3"),
            "the article's plain key, no rrsync": Cheat(_plain_key, KEY_LIMITED,
                                                        only=("key", "rrsync"))},
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
    first = lab.topology.webs[0]
    marker = f"{paths[first]}/{goals.probe_name()}"
    lab.run(first, "touch {}", marker)
    try:
        shared = all(lab.exec(w, ["test", "-e", marker]).returncode == 0
                     for w in lab.topology.webs)
    finally:
        lab.run(first, "rm -f {}", marker)
    return shared, seen + ("; one folder" if shared else "; the same name, not the same folder")


def _same_path_not_shared(lab: Lab, _s: Started) -> None:
    for web in lab.topology.webs:
        apache.use_sessions(lab, web, "/tmp/sessions")


def _sessions(shared: bool) -> Any:
    def switch(lab: Lab, _s: Started) -> None:
        sessions.use_shared_sessions(lab, shared)

    return switch


SESSIONS_LOST = Exercise(
    name="sessions-lost", section="The cookie conundrum (F9)",
    notice="visitors lose their session when DNS sends them to another server",
    choose=lambda r: {"order": r.sample(list(_ROLES.webs), 3) + [r.choice(list(_ROLES.webs))]},
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
    cheats={"the same folder name on each server": Cheat(
                _same_path_not_shared, "a session survives moving between web servers")},
)
