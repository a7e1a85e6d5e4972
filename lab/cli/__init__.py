"""foolab: one command whose subcommands mirror the Makefile targets.

The only layer that prints. Every failure the lab foresees ends in one line:
`foolab: error: what failed: what was seen (hint: what to do)`. This module
assembles the parser and dispatches; each family of subcommands is in a
lab/cli/*_commands.py module (its COMMANDS: parser and what runs it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lab.admin import lb
from lab.cli import (
    balancer_commands,
    bench_commands,
    class_commands,
    cluster_commands,
    dashboard_commands,
    exercise_commands,
    failover_commands,
    fault_commands,
    lifecycle_commands,
    load_commands,
    runbook_commands,
)
from lab.cli.class_commands import lab_config
from lab.cli.command import Command
from lab.cli.output import say
from lab.engine import client, nodes
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.model.config import LabConfig
from lab.model.errors import LabError, TopologyError

FAMILIES = (lifecycle_commands, failover_commands, fault_commands, runbook_commands,
            bench_commands, load_commands, dashboard_commands, balancer_commands,
            exercise_commands, class_commands, cluster_commands)
# The order `foolab --help` lists the subcommands in.
ORDER = ("up", "down", "failover", "status", "shell", "fault", "heal", "runbook", "sessions",
         "bench", "diagram", "load", "dashboard", "balancer", "dns", "exercise", "check",
         "grade", "class", "cluster")
COMMANDS: dict[str, Command] = {name: family.COMMANDS[name] for name in ORDER
                                for family in FAMILIES if name in family.COMMANDS}
# Commands that do not talk to the lab's addresses from this process (or
# enter a class lab's network themselves).
OUTSIDE = {"up", "down", "class", "cluster", "shell", "diagram", "dashboard", "bench"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="foolab", description=__doc__.splitlines()[0])
    p.add_argument("--subnet", help="lab subnet, a /24 (env FOOLAB_SUBNET; default 10.1.1.0/24)")
    p.add_argument("--lab", help="one lab of a class, e.g. s03 (env FOOLAB_LAB; default: the "
                   "single lab)")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add(sub)
    return p


def on_node(config: LabConfig) -> None:
    """--lab NAME of a lab on a cluster node: every engine call of this
    process goes to that node's engine; a lost node is one line."""
    where = classroom.placement(config)
    if where is None:
        return
    if not nodes.answers(where.engine):
        raise LabError(f"lab {config.lab} is lost: its node {where.node} does not answer",
                       hint="`foolab class up --swarm` starts it again on a live node")
    client.use_for_process(where.engine)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = lab_config(LabConfig.from_env(
            subnet=args.subnet, lab=args.lab,
            balancer=True if "balancer" in getattr(args, "with_", []) else None), args.command)
        on_node(config)
        lab = Lab(config, progress=say, prepare=[lb.prepare])
        run = COMMANDS[args.command].run
        if lab.config.in_class and args.command not in OUTSIDE:
            with lab.network():  # a class lab's addresses are reached from inside it
                return run(lab, args)
        return run(lab, args)
    except (LabError, TopologyError) as exc:
        print(f"foolab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("foolab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
