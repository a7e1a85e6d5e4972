"""foolab dashboard: the live page of the lab (lab/dashboard), for a projector."""

from __future__ import annotations

import argparse

from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.model.errors import LabError


def add_dashboard(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("dashboard", help="live page of the lab on 127.0.0.1 (make dashboard)")
    db.add_argument("--port", type=int, default=8080, help="default 8080")
    db.add_argument("--control", action="store_true", help="buttons: faults, heal, runbooks")


def cmd_dashboard(lab: Lab, args: argparse.Namespace) -> int:
    """The live dashboard on 127.0.0.1 (lab/dashboard); runs until Ctrl-C."""
    try:
        from lab.dashboard.server import serve
    except ImportError:
        raise LabError("starlette or uvicorn is missing", hint="pip install -e '.[dashboard]'"
                       ) from None
    mode = "with --control: buttons change the lab" if args.control else "read-only"
    serve(lab, args.port, args.control, ready=lambda url: say(f"dashboard on {url} ({mode}; "
                                                                 "Ctrl-C stops it)"))
    return 0


COMMANDS = {"dashboard": Command(add_dashboard, cmd_dashboard)}
