"""What the class server promises, as README.md says it ("What holds"):
written from the limits' own constants, so that no figure in it is typed by
hand (tests/test_generated_docs.py renders it again and compares)."""

from __future__ import annotations

from lab.classweb import access, casts, class_watch
from lab.model import roster

BEGIN = "<!-- class-holds:begin (written by lab/classweb/holds.py; do not edit) -->"
END = "<!-- class-holds:end -->"


def _duration(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} s"


def readme_block() -> str:
    """The README's list of what holds, between its markers."""
    a = access
    items = [
        "a student's session opens their own lab's page, event stream, check and "
        "terminal socket; any other lab's URL answers 403 with one body, whether "
        "that lab exists or not; cookies are HttpOnly and SameSite=Strict (Secure "
        "with TLS, or behind a proxy that says https);",
        "a POST or a terminal socket from another site is refused (Origin);",
        f"a token is {roster.TOKEN_BYTES * 8} random bits, compared in constant time, and "
        "looked at first: a right link always signs in, whatever wrong links came "
        "from the same address (a school's pupils share one). Wrong links are "
        f"answered at once for the first {a.WRONG_TOKENS} from an address within "
        f"{_duration(a.WINDOW_S)}, then each {_duration(a.FIRST_DELAY_S)} late, twice "
        f"as late each time, up to {_duration(a.MAX_DELAY_S)} (429, Retry-After); no "
        "address is refused. What keeps a stranger out is the token's length, not "
        f"this brake, which remembers at most {a.MAX_ADDRESSES} addresses, each for "
        f"{_duration(a.WINDOW_S)} after its last wrong link;",
        f"a session ends after {_duration(a.IDLE_S)} unused, with `foolab class down` "
        "(the roster goes: every session with it, and an open event stream stops), "
        f"or when its link signs in a {_ordinal(a.SESSIONS_PER_PRINCIPAL + 1)} browser "
        f"(its oldest ends); at most {a.MAX_SESSIONS} sessions in all, the least "
        "recently used ending first;",
        f"a request body over {a.MAX_BODY} bytes is answered 413 before more of it is "
        "read;",
        "the client's address (what the brake counts) is the socket's peer; "
        "Forwarded, X-Forwarded-For and X-Forwarded-Proto are believed only with "
        "`foolab class serve --behind-proxy`, and then only their last word (the "
        "proxy's own);",
        "a student's page, event stream and check show neither their seed nor how "
        "the exercise broke the lab (no fault, no fault line, no seed in a line); "
        "the teacher's grid keeps them;",
        "the terminal's shell runs inside the lab's container (`docker exec`), "
        "never on this machine, and is hung up when the page goes; no lab host holds "
        "`NET_ADMIN` (foolab adds its lab address from outside), so neither the "
        "shell nor any `docker exec` of the engine's can change its network; no lab "
        "container holds the Docker socket, privilege or anything of this machine "
        "(`compose/lab-address` is built into the images, not mounted);",
        "every terminal session is recorded on the teacher's side (the lab's state "
        "folder on this machine, never in the lab), at most "
        f"{casts.SESSION_CAP // 2**20} MiB a session and {casts.CLASS_CAP // 2**20} MiB "
        "a class, each lab an equal share of it, said in the recording when reached; "
        "only the teacher's session lists, "
        "watches or replays them (a student's own lab included: 403), and a watching "
        "teacher types only after \"take the keyboard\", which the student's page says;",
        "the server listens on 127.0.0.1; `--listen ADDRESS` serves a classroom "
        "network and says in one line that the traffic is plain HTTP unless "
        "`--tls-cert` and `--tls-key` are given;",
        "one probe loop serves the whole class, however many pages are open "
        "(`lab/classweb/class_watch.py`: one engine call every "
        f"{_duration(class_watch.EVERY_S)} for every lab, a kept connection per replica "
        f"every {_duration(class_watch.REPLICATION_EVERY_S)}).",
    ]
    return "\n".join([BEGIN, *(_wrapped(i) for i in items), END])


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _wrapped(item: str, width: int = 78) -> str:
    """One list item, wrapped as the README's are."""
    lines, line = [], "-"
    for word in item.split():
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " "
        line += " " + word
    return "\n".join([*lines, line])


def readme_block_in(text: str) -> str | None:
    """The block in a README's text, its markers included (None if it has none)."""
    if BEGIN not in text or END not in text:
        return None
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
