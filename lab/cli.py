"""foolab: one command whose subcommands mirror the Makefile targets.

The only layer that prints. Every failure the lab foresees ends in one line:
`foolab: error: what failed: what was seen (hint: what to do)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab import faults, runbooks
from lab.config import REPO, LabConfig
from lab.driver import Lab, LabError, quote
from lab.status import HostStatus, lab_status
from lab.topology import TopologyError


def say(msg: str) -> None:
    print(f"foolab: {msg}", flush=True)


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


def cmd_up(lab: Lab, args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    already = lab.is_up()
    lab.up()
    say(("lab was already up" if already else "lab up") + f" in {time.monotonic() - t0:.1f} s")
    return cmd_status(lab, args)


def cmd_down(lab: Lab, args: argparse.Namespace) -> int:
    say("lab removed (containers, network, volumes)" if lab.down() else "no lab to remove")
    return 0


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
        print(f"\nshell on a host: foolab shell HOST; web: http://{lab.topology.address('web1')}/ "
              f"(Host: www.foo.com); DNS: dig @{lab.topology.address('ns1')} www.foo.com")
    healthy = all(r.state == "running" and r.health == "healthy" for r in rows)
    return 0 if healthy else 1


def cmd_shell(lab: Lab, args: argparse.Namespace) -> int:
    host = lab.topology.host(args.host)  # unknown host: one-line error
    lab.require_up()
    os.execvp("docker", ["docker", "exec", "-it", host.container, "bash", "-l"])
    return 0  # not reached


def cmd_diagram(lab: Lab, args: argparse.Namespace) -> int:
    from lab.diagram import render

    try:
        say(f"wrote {render(lab.topology, Path(args.out))}")
    except ImportError:
        raise LabError("matplotlib is missing", hint="pip install -e '.[dev]'") from None
    return 0


def cmd_fault(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    peers = tuple(p for p in (args.peers or "").split(",") if p)
    fault = faults.Fault(args.kind, lab.topology.host(args.host).name, peers, args.amount)
    faults.inject(lab, fault)
    say(f"fault injected: {fault.describe()} (undo with `foolab heal`)")
    return 0


def cmd_heal(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    healed = faults.heal_all(lab)
    say("healed: " + "; ".join(healed) if healed else "no fault to heal")
    return 0


def render_step(result: runbooks.StepResult, number: int, secrets: Sequence[str]) -> str:
    """One narrated runbook step: what runs where, its real output, the check."""

    def hide(text: str) -> str:
        for s in secrets:
            text = text.replace(s, "****")
        return text

    step = result.step
    where = "this machine" if step.where == runbooks.ENGINE else step.where
    shown = (f"mysql> {step.command[2]}" if step.command[:2] == ("mariadb", "-e")
             else f"$ {quote(step.command)}" if step.command else "(check only)")
    lines = [f"-- step {number}: {step.title} (on {where})", hide(shown)]
    if step.stdin_from:
        lines[-1] += f" < {step.stdin_from.name}"
    if result.output:
        lines += ["  " + line for line in hide(result.output).splitlines()[:25]]
    if step.article:
        lines.append(f"   2006: {step.article}")
    if step.modern:
        lines.append(f"   today: {step.modern}")
    status = "ok" if result.ok else f"FAILED (exit {result.exit_code})"
    checked = f": {hide(result.checked)}" if result.checked else ""
    lines.append(f"   check {status}{checked} [{result.seconds:.1f} s]")
    return "\n".join(lines)


def cmd_runbook(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    options: dict[str, bool] = {}
    if args.name == "rebuild-replica":
        options["online"] = args.online
    if args.name == "promote-replica":
        options["take_address"] = not args.point_web
    book = runbooks.RUNBOOKS[args.name](lab, **options)
    secrets = list(lab.secrets().values())
    count = iter(range(1, len(book.steps) + 1))
    if args.narrate:
        print(f"== runbook {book.name}: {book.summary}")
    result = runbooks.execute(
        lab, book, (lambda r: print(render_step(r, next(count), secrets), flush=True))
        if args.narrate else None)
    failed = result.failed
    if failed:
        raise LabError(f"runbook {book.name} failed at step {failed.step.title!r}",
                       failed.checked or failed.output)
    say(f"runbook {book.name}: all {len(result.steps)} steps done and checked")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="foolab", description=__doc__.splitlines()[0])
    p.add_argument("--subnet", help="lab subnet, a /24 (env FOOLAB_SUBNET; default 10.1.1.0/24)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="build, start and wait for the seven hosts (make lab-up)")
    sub.add_parser("down", help="remove every container, network and volume (make lab-down)")
    st = sub.add_parser("status", help="the status table (make lab-status)")
    st.add_argument("--json", action="store_true", help="machine-readable")
    st.add_argument("--secrets", action="store_true", help="also show the per-lab passwords")
    sh = sub.add_parser("shell", help="a shell on one host")
    sh.add_argument("host")
    ft = sub.add_parser("fault", help="inject a fault (recorded; undo with heal)")
    ft.add_argument("kind", choices=faults.KINDS)
    ft.add_argument("host")
    ft.add_argument("--peers", help="partition: hosts it cannot reach, comma-separated")
    ft.add_argument("--amount", type=float, default=0.0,
                    help="loss: percent of packets; delay: milliseconds")
    sub.add_parser("heal", help="remove every fault the lab knows of")
    rb = sub.add_parser("runbook", help="run one of the article's procedures")
    rb.add_argument("name", choices=sorted(runbooks.RUNBOOKS))
    rb.add_argument("--narrate", action="store_true", help="show each step, output and check")
    rb.add_argument("--online", action="store_true",
                    help="rebuild-replica: dump without stopping the master")
    rb.add_argument("--point-web", action="store_true",
                    help="promote-replica: point the web servers at the new master instead "
                         "of moving the master's address")
    dg = sub.add_parser("diagram", help="draw the machines from the topology model")
    dg.add_argument("--out", default=str(REPO / "docs" / "topology.png"))
    return p


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "shell": cmd_shell,
            "diagram": cmd_diagram, "fault": cmd_fault, "heal": cmd_heal,
            "runbook": cmd_runbook}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = LabConfig.from_env(subnet=args.subnet)
        lab = Lab(config, progress=say)
        return COMMANDS[args.command](lab, args)
    except (LabError, TopologyError) as exc:
        print(f"foolab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("foolab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
