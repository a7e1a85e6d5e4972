"""Exercises on the content push and sessions (F5-F8, F9); DNS (F4) is in
lab.exercises.nameservers. What a goal observes on a host (did the probe
file arrive?) is read through the engine's archive (lab.engine.hostfiles),
never by a program of the host; the probe files are written that way too."""

from __future__ import annotations

import random
from typing import Any

from lab.admin import sessions
from lab.engine import hostfiles
from lab.engine.lab import Lab
from lab.engine.process import fill
from lab.exercises import goals
from lab.exercises.definitions import REPAIR, SYMPTOM, Cheat, Exercise, Goal, Started
from lab.hosts import apache, rsync
from lab.model.article import CONTENT_ROOT, SYNC_USER
from lab.model.errors import LabError
from lab.model.topology import topology
from lab.probes import pages

NAMES = ("news", "shop", "blog", "mail", "wiki", "jobs")
# The article's roles, the same in every lab (only addresses differ): the
# exercises are declared with them before any lab exists.
_ROLES = topology()
STALE = _ROLES.content_targets[-1]  # web3: the push target web-stale cuts off


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


def _container(lab: Lab, host: str) -> str:
    return lab.topology.host(host).container


def _put_probe(lab: Lab, host: str, path: str, token: str) -> None:
    """A probe file the syncer owns, as content made on web1 is, written
    through the engine: no program of the host (echo, chown) makes it."""
    container = _container(lab, host)
    uid, gid = hostfiles.user_ids(container, SYNC_USER) or (0, 0)
    hostfiles.put_file(container, path, token.encode(), uid=uid, gid=gid)


def _holds(lab: Lab, host: str, path: str, token: str) -> bool:
    """Whether `path` on `host` holds `token`, read through the engine's
    archive (not the host's test or cat)."""
    try:
        return hostfiles.read_file(_container(lab, host), path, limit=4096) == token.encode()
    except LabError:  # a folder, or over the bound: not the probe
        return False


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
    """A probe file on web1 (a token made for this grade), pushed the way
    cron does it, then removed again: it must be on web3, token and all."""
    probe, source = f"{CONTENT_ROOT}/html/{goals.probe_name()}", lab.topology.content_source
    token = goals.probe_name()
    _put_probe(lab, source, probe, token)
    try:
        pushed = _push_now(lab)
        there = _holds(lab, STALE, probe, token)
    finally:
        lab.run(source, "rm -f {}", probe)
        _push_now(lab)
    return there, (f"push {pushed}; the probe file {'reached' if there else 'did not reach'} "
                   f"{STALE}")


def _key_only_pushes_content(lab: Lab, _s: Started) -> tuple[bool, str]:
    """F7 judged by what web1's syncer key can do on web3: run a command
    (touch a file in /tmp), and push a file outside the content folder.
    rrsync refuses the first and keeps the second inside /var/www; a plain
    key lets both through. Whether either landed is read through the
    engine's archive. The probe files are removed again."""
    name, source = goals.probe_name(), lab.topology.content_source
    outside = f"/tmp/{name}"
    as_syncer = ["runuser", "-u", SYNC_USER, "--"]
    lab.exec(source, [*as_syncer, "ssh", "-l", SYNC_USER, STALE, "touch", f"{outside}-ran"],
             timeout=20)
    _put_probe(lab, source, outside, name)
    lab.exec(source, [*as_syncer, "rsync", "-e", f"ssh -l {SYNC_USER}", outside,
                      f"{STALE}:/tmp/"], timeout=20)
    try:
        escaped = [p for p in (f"{outside}-ran", outside)
                   if hostfiles.exists(_container(lab, STALE), p)]
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
    same, seen = _same_content(lab, s)
    if not same:  # a push cut short (ssh on a busy machine): once more, then say what
        pushed = _push_now(lab)
        same, seen = _same_content(lab, s)
        if not same:
            raise LabError(f"{STALE}'s content still differs after the repair ({pushed})",
                           seen, hint=f"read {rsync.LOG} on {lab.topology.content_source}")


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
    marker, token = f"{paths[first]}/{goals.probe_name()}", goals.probe_name()
    hostfiles.put_file(_container(lab, first), marker, token.encode())
    try:
        shared = all(_holds(lab, w, marker, token) for w in lab.topology.webs)
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
