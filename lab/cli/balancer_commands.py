"""foolab balancer | dns: the optional lb (F22) and where www points."""

from __future__ import annotations

import argparse

from lab.admin import haproxy_cfg, lb
from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.model.article import WWW


def add_balancer(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`foolab balancer` (F22, lab/admin/lb.py)."""
    bl = sub.add_parser("balancer", help="lb's policy and what its health checks see")
    bl.add_argument("--policy", choices=haproxy_cfg.POLICIES,
                    help="switch: write haproxy.cfg again and reload haproxy")


def add_dns(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dn = sub.add_parser("dns", help="point www.foo.com at the web servers or at lb")
    dn.add_argument("name", choices=["www"])
    dn.add_argument("--to", required=True, choices=lb.MODES,
                    help="web: the three web servers (the article); lb: the balancer alone")


def cmd_balancer(lab: Lab, args: argparse.Namespace) -> int:
    """F22: show lb's policy and servers; --policy switches it (reload, no restart)."""
    lab.require_up()
    lb.require(lab)
    if args.policy:
        change = lb.set_policy(lab, args.policy)
        say(f"policy {change.old} -> {change.new}: haproxy reloaded in {change.reload_s:.1f} s")
    states = lb.servers(lab)
    address = lab.topology.address(lb.HOST)
    print(f"policy {lb.policy(lab)}; " + ", ".join(f"{n} {s}" for n, s in states.items()))
    print(f"{WWW} points at: {lb.www_mode(lab)}; stats: http://{address}:"
          f"{haproxy_cfg.STATS_PORT}{haproxy_cfg.STATS_PATH} (user {haproxy_cfg.STATS_USER}, "
          "password: foolab status --secrets)")
    return 0


def cmd_dns(lab: Lab, args: argparse.Namespace) -> int:
    """Point www at the web servers or at lb: zone edit on ns1, serial, NOTIFY."""
    lab.require_up()
    change = lb.point_www(lab, args.to)
    if change is None:
        say(f"{WWW} already points at {args.to}")
    else:
        how = ("the earlier zone file put back whole; ns2 told to copy it (rndc retransfer)"
               if change.forced_transfer else "ns2 followed by NOTIFY")
        say(f"{WWW} -> {', '.join(change.www)} (serial {change.old_serial} -> "
            f"{change.new_serial}; {how})")
    return 0


COMMANDS = {"balancer": Command(add_balancer, cmd_balancer), "dns": Command(add_dns, cmd_dns)}
