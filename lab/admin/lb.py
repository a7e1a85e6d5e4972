"""The balancer on a running lab (F22): add lb beside the seven hosts,
switch its policy, point www.foo.com at it or back at the web servers, and
read what it sees.

Each change is made the way an administrator would make it: a new
haproxy.cfg, checked by `haproxy -c` on lb, put in place, haproxy reloaded
(lb-reload: SIGUSR2 to the master); a zone edit on ns1 with a new serial,
which ns2 copies when ns1's NOTIFY arrives (lab.admin.zone).
"""

from __future__ import annotations

import base64
import http.client
import time
from dataclasses import dataclass

from lab.admin import haproxy_cfg, zone
from lab.engine.lab import Lab
from lab.engine.network import require_lab_route
from lab.engine.waiting import wait_for
from lab.model import secrets
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.topology import Role, image
from lab.probes import named

HOST = "lb"
IMAGE = image(Role.LB)
IMAGE_FOLDER = REPO / "images" / "lb"
MODES = ("web", "lb")  # what www.foo.com can point at


def prepare(lab: Lab) -> None:
    """Before `up`: lb's haproxy.cfg, from the topology, if the lab has lb."""
    if lab.config.balancer:
        haproxy_cfg.write_config(lab.config.lb_dir, lab.topology)


def running(lab: Lab) -> bool:
    """Whether this lab has a balancer and its container is running."""
    return lab.config.balancer and lab.states()[HOST].status == "running"


def add(lab: Lab, timeout: float = 120) -> bool:
    """Start lb beside a running lab and wait until it is healthy; True if it
    was started here. Only lb is created: the seven hosts are not touched."""
    lab.require_up()
    lab.use_balancer(True)
    state = lab.states()[HOST]
    if lab.ready(HOST):
        return False
    try:
        # The env file of a lab made before the balancer existed lacks LB_*.
        secrets.write_private(lab.config.env_file, lab.env(), "made by foolab up; never commit")
        haproxy_cfg.write_config(lab.config.lb_dir, lab.topology)
        lab.build_image(IMAGE_FOLDER, IMAGE)
        out = lab.compose("up", "-d", "--no-build", "--no-deps", HOST, timeout=timeout)
        if out.returncode != 0:
            raise LabError("could not start lb", out.stderr, "see `docker logs "
                           f"{lab.topology.host(HOST).container}`")
        wait_for("lb healthy", lambda: lab.ready(HOST), timeout=timeout,
                 every=0.25)
        # haproxy starts with every server "UP 1/2", unchecked: healthy means
        # one can serve, not that lb has looked at each yet.
        wait_for("every web server checked by lb", lambda: checked(lab), timeout=timeout,
                 every=0.2)
    except BaseException:
        if state.status == "missing":  # leave no half-made balancer behind
            remove(lab)
        raise
    return state.status == "missing"


def remove(lab: Lab) -> None:
    """Stop and remove lb and forget it: the lab is the article's seven again.
    Point www back at the web servers first (`point_www(lab, "web")`)."""
    out = lab.compose("rm", "--stop", "--force", HOST, timeout=120)
    if out.returncode != 0:
        raise LabError("could not remove lb", out.stderr)
    (lab.config.lb_dir / haproxy_cfg.CONFIG_NAME).unlink(missing_ok=True)
    lab.use_balancer(False)


def require(lab: Lab) -> None:
    """A one-line LabError unless the balancer runs."""
    if not running(lab):
        raise LabError("the balancer is not running",
                       hint="start it with `foolab up --with balancer` (make lab-up BALANCER=1)")


# --- policy ------------------------------------------------------------------------------


def policy(lab: Lab) -> str | None:
    """The policy of lb's configuration (None: the lab has no balancer)."""
    return haproxy_cfg.read_policy(lab.config.lb_dir) if lab.config.balancer else None


def running_policy(lab: Lab) -> str:
    """The policy haproxy on lb applies now, read from its statistics (not
    from the configuration file, which may not have been reloaded)."""
    return haproxy_cfg.policy_of_stats(balancer_stats(lab.topology.address(HOST),
                                                      lab.secrets().get("LB_STATS_PASSWORD", "")))


def _workers(lab: Lab) -> set[str]:
    """Process ids of haproxy's workers: the master's children."""
    out = lab.sh(HOST, "ps -o pid= --ppid \"$(cat /run/haproxy.pid)\"")
    return set(out.split())


@dataclass(frozen=True)
class PolicyChange:
    """A policy switch: before, after, and how long the reload took."""

    old: str | None
    new: str
    reload_s: float


def set_policy(lab: Lab, new: str, timeout: float = 20) -> PolicyChange:
    """Write lb's configuration for `new`, have haproxy check it on lb, put it
    in place and reload; wait until a new worker runs it and every web server
    it lists has been checked (UP or DOWN, no longer "checking")."""
    haproxy_cfg.check_policy(new)
    require(lab)
    old = policy(lab)
    folder = lab.config.lb_dir
    staged = haproxy_cfg.write_config(folder, lab.topology, new,
                                      name=f"{haproxy_cfg.CONFIG_NAME}.new")
    check = lab.exec(HOST, ["lb-reload", f"{haproxy_cfg.CONFIG_IN_LB}/{staged.name}"], timeout=30)
    if check.returncode != 0:
        staged.unlink(missing_ok=True)
        raise LabError("haproxy refused the new configuration (the live one is unchanged)",
                       check.stdout + check.stderr)
    before = _workers(lab)
    t0 = time.monotonic()
    staged.replace(folder / haproxy_cfg.CONFIG_NAME)
    lab.sh(HOST, "lb-reload")
    wait_for("a new haproxy worker", lambda: _workers(lab) - before, timeout=timeout, every=0.1)
    wait_for("every web server checked by the new worker", lambda: checked(lab),
             timeout=timeout, every=0.2)
    return PolicyChange(old, new, time.monotonic() - t0)


def checked(lab: Lab) -> bool:
    """Whether lb has settled on each web server: UP or DOWN, not midway."""
    return all(s in ("UP", "DOWN") for s in servers(lab).values())


def servers(lab: Lab) -> dict[str, str]:
    """Each web server and its state as lb's health checks see it (UP, DOWN,
    "UP 1/2": failing once, not out yet; "DOWN 1/2": recovering)."""
    address = lab.topology.lb_address
    rows = balancer_stats(address, lab.secrets().get("LB_STATS_PASSWORD", ""))
    return haproxy_cfg.server_states(rows)


# --- where www.foo.com points ------------------------------------------------------------


def www_mode(lab: Lab) -> str:
    """What ns1 answers for www.foo.com: "web", "lb", or the addresses."""
    records = named.ask(lab.topology.address(lab.topology.primary_dns)).records
    return haproxy_cfg.www_mode(records, lab.topology)


def point_www(lab: Lab, to: str, timeout: float = 20) -> zone.ZoneChange | None:
    """Point www.foo.com at the three web servers ("web", the article) or at
    lb alone ("lb"): edit the zone on ns1, bump the serial, reload; wait
    until every secondary serves the new serial (NOTIFY). None if www
    already pointed there.

    Back to "web" right after "lb", with nothing else changed in between,
    the zone file from before is put back whole, the article's serial
    included (lab.admin.zone.restore): the lab is the article's again."""
    if to not in MODES:
        raise LabError(f"www can point at {' or '.join(MODES)}, not {to!r}")
    if to == "lb":
        require(lab)
    if www_mode(lab) == to:
        return None
    lb_address = lab.topology.lb_address
    saved = lab.config.lb_dir / "zone-before-lb"
    live = zone.zone_text(lab)
    if to == "web" and saved.exists():
        before = saved.read_text()
        saved.unlink()
        ours = zone.with_serial(zone.with_www(before, [lb_address]), zone.serial_of(live))
        if ours == live:
            return zone.restore(lab, before, timeout)
    if to == "lb":
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(live)
    addresses = ([lb_address] if to == "lb"
                 else [h.address for h in lab.topology.by_role(Role.WEB)])
    change = zone.set_www(lab, addresses)
    for ns in zone.secondaries(lab):
        _wait_serial(lab, ns, change.new_serial, timeout)
    return change


def _wait_serial(lab: Lab, host: str, serial: int, timeout: float) -> None:
    wait_for(f"{host} serving serial {serial}", lambda: zone.served_serial(lab, host) == serial,
             timeout=timeout, every=0.2)


# --- statistics ------------------------------------------------------------------------


def balancer_stats(address: str, password: str | None, *, timeout: float = 3.0
                   ) -> list[dict[str, str]]:
    """HAProxy's statistics of lb as CSV rows, read from its stats page with
    the lab's password (None: without one, to see it refused)."""
    require_lab_route(address)
    conn = http.client.HTTPConnection(address, haproxy_cfg.STATS_PORT, timeout=timeout)
    try:
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{haproxy_cfg.STATS_USER}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        conn.request("GET", f"{haproxy_cfg.STATS_PATH};csv", headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        if resp.status != 200:
            raise LabError(f"lb's statistics page answered {resp.status} {resp.reason}")
        return haproxy_cfg.parse_stats_csv(body)
    finally:
        conn.close()
