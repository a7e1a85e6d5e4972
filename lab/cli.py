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

from lab.config import REPO, LabConfig
from lab.driver import Lab, LabError
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
    dg = sub.add_parser("diagram", help="draw the machines from the topology model")
    dg.add_argument("--out", default=str(REPO / "docs" / "topology.png"))
    return p


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "shell": cmd_shell,
            "diagram": cmd_diagram}


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
