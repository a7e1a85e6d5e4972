"""foolab up | down | status | shell | diagram: the lab as a whole."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from lab.admin import lb, resolvers
from lab.admin.status import HostStatus, lab_status
from lab.cli.command import Command
from lab.cli.failover_commands import HA
from lab.cli.output import say
from lab.engine import client
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.model.article import WWW
from lab.model.config import REPO
from lab.model.errors import LabError


def render_table(rows: Sequence[HostStatus]) -> str:
    """The status table as plain text."""
    head = ("HOST", "ROLE", "ADDRESS", "STATE", "FACTS")
    lines = [head]
    for r in rows:
        state = r.state if r.health in ("none", "") else f"{r.state}/{r.health}"
        facts = ", ".join(f"{k}={v}" for k, v in r.facts.items())
        lines.append((r.name, r.role, r.address, state, facts))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:4])) + "  " + line[4]
        for line in lines
    )


def add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="build, start and wait for the seven hosts (make lab-up)")
    up.add_argument("--with", dest="with_", action="append", default=[],
                    choices=["balancer", *HA, "resolvers"], help="balancer: also lb, HAProxy "
                    "in front of web1-3 (env FOOLAB_BALANCER=1); mha, keepalived: automatic "
                    "failover; resolvers: three caching resolvers for the load study")
    up.add_argument("--timings", action="store_true",
                    help="after the status, where the time went: each phase's seconds")


def cmd_up(lab: Lab, args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    already = lab.is_up()
    if lab.config.in_class and args.with_:
        raise LabError("--with is for the single lab; a class lab has the seven hosts",
                       hint="`foolab up --with ...` without --lab")
    extra = [HA[m] for m in args.with_ if m in HA]
    for admin in extra:  # images and addresses first: a bad --with starts nothing
        admin.check(lab)
    lab.up()
    say(("lab was already up" if already else "lab up") + f" in {time.monotonic() - t0:.1f} s")
    timings = lab.phases.lines() if args.timings else []
    with lab.network():  # a class lab: from inside it
        for admin in extra:
            say(f"{admin.__name__.rsplit('.', 1)[-1]}: " + ("started" if admin.add(lab) else
                "already running") + f", floating master address {lab.topology.float_address}")
        if "resolvers" in args.with_:  # caching resolvers for the load study (issue 13)
            started = resolvers.add(lab, resolvers.DEFAULT_COUNT)
            say(f"resolvers res1-res{resolvers.DEFAULT_COUNT} (unbound): "
                + (f"started {', '.join(started)}" if started else "already running"))
        code = cmd_status(lab, args)
    if timings:  # phases side by side add up to more than the whole
        print("\nwhere the time went (phases side by side overlap):")
        print("\n".join(f"  {line}" for line in timings))
    return code


def add_down(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dw = sub.add_parser("down", help="remove every container, network and volume (make lab-down)")
    dw.add_argument("--only", choices=list(HA), help="remove only this optional part")


def cmd_down(lab: Lab, args: argparse.Namespace) -> int:
    if args.only:  # one optional part; the seven hosts stay
        lab.require_up()
        HA[args.only].remove(lab)
        say(f"{args.only} removed; the web servers write to db1 again")
        return 0
    say("lab removed (containers, network, volumes)" if lab.down() else "no lab to remove")
    if lab.config.in_class:  # and what it left here: its exercise, writer, place
        classroom.clear(lab.config, say)
    return 0


def add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    st = sub.add_parser("status", help="the status table (make lab-status)")
    st.add_argument("--json", action="store_true", help="machine-readable")
    st.add_argument("--secrets", action="store_true", help="also show the per-lab passwords")


def cmd_status(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    rows = lab_status(lab)
    secrets = lab.secrets() if getattr(args, "secrets", False) else {}
    if getattr(args, "json", False):
        doc: dict[str, object] = {"hosts": [r.as_dict() for r in rows]}
        if secrets:
            doc["secrets"] = secrets
        print(json.dumps(doc, indent=2))
    else:
        print(render_table(rows))
        if secrets:
            print()
            for key, value in secrets.items():
                print(f"{key}={value}")
        t = lab.topology
        print(f"\nshell on a host: foolab shell HOST; web: http://{t.address(t.webs[0])}/ "
              f"(Host: {WWW}); DNS: dig @{t.address(t.primary_dns)} {WWW}")
        if lab.config.balancer:
            print(f"balancer: http://{lab.topology.address(lb.HOST)}/ (Host: {WWW}); "
                  "its policy and stats page: foolab balancer")
    healthy = all(r.state == "running" and r.health == "healthy" for r in rows)
    return 0 if healthy else 1


def add_shell(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sh = sub.add_parser("shell", help="a shell on one host")
    sh.add_argument("host")


def cmd_shell(lab: Lab, args: argparse.Namespace) -> int:
    host = lab.topology.host(args.host)  # unknown host: one-line error
    lab.require_up()
    # the engine of the lab's node, for a lab on a cluster node
    os.execvpe("docker", ["docker", "exec", "-it", host.container, "bash", "-l"],
               client.command_env())
    return 0  # not reached


def add_diagram(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dg = sub.add_parser("diagram", help="draw the machines from the topology model")
    dg.add_argument("--out", default=str(REPO / "docs" / "topology.png"))


def cmd_diagram(lab: Lab, args: argparse.Namespace) -> int:
    from lab.admin.diagram import render

    try:
        say(f"wrote {render(lab.topology, Path(args.out))}")
    except ImportError:
        raise LabError("matplotlib is missing", hint="pip install -e '.[dev]'") from None
    return 0


COMMANDS = {"up": Command(add_up, cmd_up), "down": Command(add_down, cmd_down),
            "status": Command(add_status, cmd_status), "shell": Command(add_shell, cmd_shell),
            "diagram": Command(add_diagram, cmd_diagram)}
