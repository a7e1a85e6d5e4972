"""foolab class up|status|down, and --lab NAME: a lab per student."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.model.config import LabConfig
from lab.model.errors import LabError


def add_class(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser("class", help="a lab per student: up N, status, down (make class-up N=8)")
    cl.add_argument("action", choices=["up", "status", "down"])
    cl.add_argument("count", nargs="?", type=int, help="up: how many labs (s01, s02, ...)")
    cl.add_argument("--prefix", default="s", help="up: the labs' names start with this "
                    "(default s: s01, s02, ...)")
    cl.add_argument("--subnet-per-lab", action="store_true", help="up: lab i on "
                    "10.1.(100+i).0/24 instead of every lab on the article's 10.1.1.0/24")
    cl.add_argument("--json", action="store_true", help="status: machine-readable")


def cmd_class(lab: Lab, args: argparse.Namespace) -> int:
    base = lab.config
    if base.lab:
        raise LabError("`foolab class` works on the whole class, not one lab",
                       hint="drop --lab (or FOOLAB_LAB)")
    if args.action == "up":
        if not args.count:
            raise LabError("class up needs how many labs", hint="e.g. `foolab class up 8`")
        cfgs = classroom.configs(base, args.count, args.prefix, args.subnet_per_lab)
        say(f"class of {len(cfgs)}: {cfgs[0].lab} ... {cfgs[-1].lab}")
        result = classroom.up(cfgs, say, lab.prepare)
        for o in result.failed:
            say(f"lab {o.name} did not come up: {o.error}")
        print(render(classroom.status([base.for_lab(c.lab) for c in cfgs])))
        return 1 if result.failed else 0
    names = classroom.labs(base)
    cfgs = [base.for_lab(n) for n in names]
    if args.action == "down":
        for o in classroom.down(cfgs, say):
            say(f"lab {o.name}: " + ("removed" if o.ok else o.error or "nothing to remove"))
        say(f"class removed ({len(cfgs)} labs)" if cfgs else "no class lab to remove")
        return 0
    rows = classroom.status(cfgs)
    print(json.dumps(rows, indent=1) if args.json else render(rows))
    return 0 if all(r["healthy"] == r["hosts"] for r in rows) else 1


def render(rows: list[dict[str, Any]]) -> str:
    """`class status` as a table: one line per lab."""
    head = ("LAB", "ADDRESSES", "WIRE", "HEALTHY", "DB2", "LAG", "FAULTS", "EXERCISE")
    lines = [head] + [(
        r["lab"], r["subnet"], r["wire"] or "-", f"{r['healthy']}/{r['hosts']}",
        "replicating" if r["replicating"] else r.get("error", "not replicating"),
        "-" if r["lag_s"] is None else f"{r['lag_s']} s",
        "; ".join(r["faults"]) or "-", r["exercise"] or "-") for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    if not rows:
        return "no class lab on this machine (`foolab class up N`)"
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def lab_config(base: LabConfig, command: str) -> LabConfig:
    """--lab NAME: that lab of the class; it must exist unless `up` makes it."""
    if base.lab and command != "up":
        classroom.require_lab(base, base.lab)
    return base


COMMANDS = {"class": Command(add_class, cmd_class)}
