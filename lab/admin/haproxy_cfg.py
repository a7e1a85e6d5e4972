"""The balancer's configuration (F22): HAProxy on lb, in front of web1-3.

Round-robin DNS hands out addresses and knows nothing of the servers behind
them (scenarios/test_web_down.py). HAProxy checks each web server every
second and sends visitors to healthy ones only, by one of three policies a
class can compare:

  roundrobin  each healthy server in turn: DNS's rotation, minus the dead
  leastconn   the server with the fewest requests in progress: it sees load
  sticky      new visitors in turn, then a cookie keeps each one on the
              server that served it first: the other answer to the cookie
              conundrum (F9), beside the shared session directory

Text and files only, no Docker: the driver writes the file before lb
starts, lab/admin/lb.py rewrites it and reloads haproxy on a running lab.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

from lab.model.article import WWW
from lab.model.config import LB_CONFIG_NAME
from lab.model.topology import Role, Topology

POLICIES = ("roundrobin", "leastconn", "sticky")
DEFAULT_POLICY = "roundrobin"
CONFIG_NAME = LB_CONFIG_NAME
CONFIG_IN_LB = "/etc/haproxy/foolab"  # where lb sees the folder (compose/balancer.yml)
COOKIE = "SERVERID"
STATS_PORT = 8404
STATS_PATH = "/stats"
STATS_USER = "admin"
# Health checks: every second; two failures take a server out, two
# successes put it back. Changing these changes what scenarios measure.
CHECK_INTER_S = 1.0
CHECK_FALL = 2
CHECK_RISE = 2
CHECK_PAGE = "/light.php"
SITE = WWW

_BALANCE = {"roundrobin": "roundrobin", "leastconn": "leastconn", "sticky": "roundrobin"}
_WHY = {
    "roundrobin": "each healthy server in turn",
    "leastconn": "the server with the fewest requests in progress",
    "sticky": "new visitors in turn; then their cookie decides",
}


def check_policy(policy: str) -> None:
    """ValueError unless `policy` is one the lab knows."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: one of {', '.join(POLICIES)}")


def haproxy_config(topo: Topology, policy: str = DEFAULT_POLICY) -> str:
    """haproxy.cfg for lb: the web servers of `topo` behind one front end,
    balanced by `policy`, each checked once a second; statistics on lb's
    own address only. The stats password comes from lb's environment."""
    check_policy(policy)
    sticky = policy == "sticky"
    webs = topo.by_role(Role.WEB)
    servers = [
        f"    server {w.name} {w.address}:80" + (f" cookie {w.name}" if sticky else "")
        for w in webs
    ]
    cookie = (
        [f"    cookie {COOKIE} insert indirect nocache   # the cookie names the server"]
        if sticky else []
    )
    lines = [
        f"# HAProxy on lb, in front of {', '.join(w.name for w in webs)} (F22: a balancer",
        "# that sees the servers, beside round-robin DNS that cannot). Written by",
        "# lab/admin/haproxy_cfg.py from the lab's topology; `foolab balancer --policy NAME`",
        "# writes it again and reloads haproxy: the master re-reads this file and",
        "# starts a new worker, the old one finishes the requests it has.",
        f"# policy: {policy}",
        "",
        "global",
        "    log stdout format raw local0   # requests, servers up and down: docker logs",
        "    user haproxy                   # the workers; the master stays root to reload",
        "    group haproxy",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog                 # each request: which server, how long",
        "    option forwardfor              # X-Forwarded-For: the visitor's address",
        "    timeout connect 1s             # a stopped server never answers: give up soon",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout check 1s",
        "    retries 1                      # then 503 (option redispatch: try another)",
        "",
        "# Visitors: port 80, Host www.foo.com. Responses pass unchanged: the",
        "# web servers' X-Served-By header still names the one that answered.",
        "frontend www",
        "    bind :80",
        "    default_backend web",
        "",
        "backend web",
        f"    balance {_BALANCE[policy]:<22} # {_WHY[policy]}",
        *cookie,
        "    # The health check asks for a real page, as visitors do: a server",
        "    # whose Apache or PHP is broken goes out too, not only a dead one.",
        "    option httpchk",
        f"    http-check send meth GET uri {CHECK_PAGE} ver HTTP/1.1 hdr Host {SITE}",
        "    http-check expect status 200",
        f"    default-server check inter {CHECK_INTER_S:g}s fall {CHECK_FALL} rise {CHECK_RISE}",
        *servers,
        "",
        "# Statistics: on the lab network only (lb's own address, nothing published",
        "# on this machine), read-only, with a password made per lab:",
        "# `foolab status --secrets` shows LB_STATS_PASSWORD.",
        "frontend stats",
        f"    bind {topo.lb_address}:{STATS_PORT}",
        "    http-request set-log-level silent   # no log line per page view",
        "    stats enable",
        "    stats show-legends             # the policy (algo, cookie) in the CSV too",
        f"    stats uri {STATS_PATH}",
        "    stats refresh 2s",
        f'    stats auth "{STATS_USER}:${{STATS_PASSWORD}}"',
        "",
    ]
    return "\n".join(lines)


_COMMENT = re.compile(r"#.*")


def policy_of(text: str) -> str:
    """The policy a haproxy.cfg applies, read from its directives (not from
    the comment): a cookie insert is sticky, else the balance algorithm."""
    bare = [_COMMENT.sub("", line).split() for line in text.splitlines()]
    words = [w for w in bare if w]
    if any(w[0] == "cookie" and "insert" in w for w in words):
        return "sticky"
    for w in words:
        if w[0] == "balance" and len(w) > 1 and w[1] in POLICIES:
            return w[1]
    raise ValueError("no balance policy found in the configuration")


def read_policy(folder: Path) -> str | None:
    """The policy of the configuration in `folder`, or None if there is none."""
    path = folder / CONFIG_NAME
    return policy_of(path.read_text()) if path.exists() else None


def write_config(folder: Path, topo: Topology, policy: str | None = None,
                 name: str = CONFIG_NAME) -> Path:
    """Write haproxy.cfg (or `name`) into `folder`, readable by lb; policy None
    keeps the one already there (default roundrobin). Written whole, then
    renamed, so haproxy never reads half a file."""
    chosen = policy or read_policy(folder) or DEFAULT_POLICY
    text = haproxy_config(topo, chosen)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)  # lb's haproxy reads it through a bind mount
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    target = folder / name
    tmp.replace(target)
    return target


def www_mode(records: Sequence[str], topo: Topology) -> str:
    """What www.foo.com points at: "web" (the article's three web servers),
    "lb" (the balancer alone), else the addresses themselves."""
    webs = {w.address for w in topo.by_role(Role.WEB)}
    if set(records) == webs and len(records) == len(webs):
        return "web"
    if list(records) == [topo.lb_address]:
        return "lb"
    return ",".join(records) or "none"


def parse_stats_csv(text: str) -> list[dict[str, str]]:
    """Rows of HAProxy's statistics CSV (`/stats;csv`), keyed by its header
    ("# pxname,svname,qcur,...")."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("not HAProxy statistics CSV")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    return [{k: v for k, v in row.items() if k} for row in reader]


def policy_of_stats(rows: Sequence[dict[str, str]], backend: str = "web") -> str:
    """The policy the running HAProxy applies, from its statistics: the
    backend's `algo`, and a cookie name on its servers for sticky."""
    for r in rows:
        if r.get("pxname") == backend and r.get("svname") == "BACKEND":
            if any(x.get("cookie") for x in rows
                   if x.get("pxname") == backend and x.get("svname") not in ("FRONTEND",
                                                                              "BACKEND")):
                return "sticky"
            algo = r.get("algo", "")
            if algo in POLICIES:
                return algo
            raise ValueError(f"HAProxy balances {backend} by {algo or 'an unnamed algorithm'}")
    raise ValueError(f"no backend {backend} in HAProxy's statistics")


def server_states(rows: Sequence[dict[str, str]], backend: str = "web") -> dict[str, str]:
    """Each server of `backend` and its state as HAProxy sees it: UP, DOWN,
    "UP 1/2" (failing, not yet out), MAINT, ..."""
    return {r["svname"]: r["status"] for r in rows
            if r.get("pxname") == backend and r.get("svname") not in ("FRONTEND", "BACKEND")}
