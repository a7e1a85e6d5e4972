"""foolab runbook | sessions: the article's procedures, and its fix for the
cookie conundrum (F9), applied by hand."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lab.admin import sessions
from lab.cli.command import Command
from lab.cli.output import say
from lab.drills import runbooks
from lab.engine.lab import Lab
from lab.model.errors import LabError

Factory = Callable[[Lab, argparse.Namespace], runbooks.Runbook]


def _plain(name: str) -> Factory:
    return lambda lab, args: runbooks.RUNBOOKS[name](lab)


# Runbook name -> its procedure made with the options `foolab runbook NAME`
# was given; a runbook without options is made as the registry has it.
BOOKS: dict[str, Factory] = {
    **{name: _plain(name) for name in runbooks.RUNBOOKS},
    "rebuild-replica": lambda lab, a: runbooks.RUNBOOKS["rebuild-replica"](
        lab, online=a.online),
    "promote-replica": lambda lab, a: runbooks.RUNBOOKS["promote-replica"](
        lab, take_address=not a.point_web),
    "semi-sync": lambda lab, a: runbooks.RUNBOOKS["semi-sync"](
        lab, on=not a.off, lossless=a.lossless),
}


def add_runbook(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rb = sub.add_parser("runbook", help="run one of the article's procedures")
    rb.add_argument("name", choices=sorted(runbooks.RUNBOOKS))
    rb.add_argument("--narrate", action="store_true", help="show each step, output and check")
    rb.add_argument("--online", action="store_true",
                    help="rebuild-replica: dump without stopping the master")
    rb.add_argument("--point-web", action="store_true",
                    help="promote-replica: point the web servers at the new master instead "
                         "of moving the master's address")
    rb.add_argument("--off", action="store_true", help="semi-sync: turn it off again")
    rb.add_argument("--lossless", action="store_true",
                    help="semi-sync: never fall back to asynchronous replication (writes "
                    "block while the replica is away)")


def cmd_runbook(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    book = BOOKS[args.name](lab, args)
    secrets = list(lab.secrets().values())
    count = iter(range(1, len(book.steps) + 1))
    if args.narrate:
        print(f"== runbook {book.name}: {book.summary}")
    result = runbooks.execute(
        lab, book, (lambda r: print(runbooks.narrate(r, next(count), secrets), flush=True))
        if args.narrate else None)
    failed = result.failed
    if failed:
        raise LabError(f"runbook {book.name} failed at step {failed.step.title!r}",
                       failed.checked or failed.output)
    say(f"runbook {book.name}: all {len(result.steps)} steps done and checked")
    return 0


def add_sessions(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ss = sub.add_parser("sessions", help="where PHP keeps sessions: shared (the article's fix "
                        "for the cookie conundrum) or local files (the default)")
    ss.add_argument("where", choices=["shared", "local"])


def cmd_sessions(lab: Lab, args: argparse.Namespace) -> int:
    """F9: PHP sessions in one directory shared by web1-3, or in local files."""
    lab.require_up()
    setting = sessions.use_shared_sessions(lab, args.where == "shared")
    say(f"PHP sessions now in {setting.save_path} on {', '.join(setting.servers)}")
    return 0


COMMANDS = {"runbook": Command(add_runbook, cmd_runbook),
            "sessions": Command(add_sessions, cmd_sessions)}
