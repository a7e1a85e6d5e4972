"""foolab fault | heal: Jepsen's nemesis by hand (lab.drills.faults)."""

from __future__ import annotations

import argparse

from lab.cli.command import Command
from lab.cli.output import say
from lab.drills import faults
from lab.engine.lab import Lab


def add_fault(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ft = sub.add_parser("fault", help="inject a fault (recorded; undo with heal)")
    ft.add_argument("kind", choices=faults.KINDS)
    ft.add_argument("host")
    ft.add_argument("--peers", help="partition: hosts it cannot reach, comma-separated")
    ft.add_argument("--amount", type=float, default=0.0,
                    help="loss: percent of packets; delay: milliseconds; "
                         "slow: percent of one CPU")


def cmd_fault(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    peers = tuple(p for p in (args.peers or "").split(",") if p)
    fault = faults.Fault(args.kind, lab.topology.host(args.host).name, peers, args.amount)
    faults.inject(lab, fault)
    say(f"fault injected: {fault.describe()} (undo with `foolab heal`)")
    return 0


def add_heal(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("heal", help="remove every fault the lab knows of")


def cmd_heal(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    healed = faults.heal_all(lab)
    say("healed: " + "; ".join(healed) if healed else "no fault to heal")
    return 0


COMMANDS = {"fault": Command(add_fault, cmd_fault), "heal": Command(add_heal, cmd_heal)}
