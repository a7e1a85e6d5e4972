"""The exercise on DNS (F4): ns2 no longer follows ns1. Its goals ask with
foolab's own DNS client (dnspython), and the transfers from the lab
hosts' own addresses (lab.probes.vantage): no dig of a host is run."""

from __future__ import annotations

import random
from typing import Any

from dns.exception import DNSException

from lab.admin import zone
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.exercises import goals
from lab.exercises.definitions import REPAIR, SYMPTOM, Cheat, Exercise, Goal, Started
from lab.hosts import bind
from lab.model.article import ZONE
from lab.model.errors import LabError
from lab.model.topology import topology
from lab.probes import named, vantage

NAMES = ("news", "shop", "blog", "mail", "wiki", "jobs")
# The article's roles, the same in every lab (only addresses differ).
_ROLES = topology()


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


def _transfer(lab: Lab, host: str | None) -> named.Transfer | str:
    """A transfer of the zone from ns1 asked by foolab's DNS client from
    `host`'s address (its network namespace: no dig of the host runs), or
    from the teacher's side (None); what came back, or that nothing did."""
    ns1 = lab.topology.address(lab.topology.primary_dns)
    with vantage.from_teacher(lab) if host is None else vantage.from_host(lab, host):
        return _ask_transfer(ns1)


def _ask_transfer(ns1: str) -> named.Transfer | str:
    try:
        return named.transfer(ns1)
    except (OSError, DNSException) as exc:
        return f"no answer ({type(exc).__name__})"


def _copied(got: named.Transfer | str) -> bool:
    return isinstance(got, named.Transfer) and got.copied


def _strangers(lab: Lab) -> tuple[str, ...]:
    """Every host of the lab but the two name servers: addresses a student
    cannot refuse apart from all the others (the teacher's side is one
    address, easy to single out in allow-transfer)."""
    t = lab.topology
    return tuple(h for h in t.names if h not in (t.primary_dns, t.secondary_dns))


def _ns2_may_transfer(lab: Lab, _s: Started) -> tuple[bool, str]:
    got = _transfer(lab, lab.topology.secondary_dns)
    return _copied(got), f"AXFR from ns2: {got}"


def _only_ns2_may_copy(lab: Lab, s: Started) -> tuple[bool, str]:
    """ns2 may copy the zone, and every other host of the lab, and the
    teacher's side, may not: each asks from its own address."""
    ns2_ok, seen = _ns2_may_transfer(lab, s)
    others = {h: _transfer(lab, h) for h in _strangers(lab)}
    others["the teacher's side"] = _transfer(lab, None)
    copied = [h for h, got in others.items() if _copied(got)]
    return ns2_ok and not copied, "; ".join(
        [seen, *(f"AXFR from {h}: {got}" for h, got in others.items())])


NOTIFY_WAIT_S = 10  # NOTIFY brings a change in about a second; the SOA refresh is 3 h


def _a_change_reaches_ns2(lab: Lab, _s: Started) -> tuple[bool, str]:
    """Judged by what happens, not by ns1's configuration text: a probe
    record added on ns1 (serial up) must reach ns2 within NOTIFY_WAIT_S by
    itself; then the record is removed again (serial up once more). ns2
    must answer the record itself, a name made up for this grade: a serial
    alone could be one ns2 already had."""
    text = zone.zone_text(lab)  # through the archive: not ns1's cat
    serial = zone.next_serial(zone.serial_of(text), _today())
    probe, token = goals.probe_name().lstrip("."), goals.probe_name().lstrip(".")
    name = f"{probe}.{ZONE}"
    zone.write_zone(lab, zone.with_serial(
        text.rstrip("\n") + f'\n{probe} IN TXT "{token}"\n', serial))
    ns2 = lab.topology.address(lab.topology.secondary_dns)
    try:
        wait_for(f"{name} on ns2", lambda: named.ask(ns2, name, "TXT").records == (
            f'"{token}"',), timeout=NOTIFY_WAIT_S, every=0.25)
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
