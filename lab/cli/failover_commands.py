"""foolab failover: automatic failover compared with the runbook (issue 15)."""

from __future__ import annotations

import argparse

from lab.admin import keepalived, mha
from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.model.config import REPO

HA = {"mha": mha, "keepalived": keepalived}  # optional automatic failover (issue 15)


def add_failover(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fo = sub.add_parser("failover", help="compare: db1 killed under writes, three ways; "
                        "promote: fail over by hand (only while db1 is dead)")
    fo.add_argument("action", choices=["compare", "promote"])
    fo.add_argument("--reps", type=int, default=3, help="compare: async runs per method")
    fo.add_argument("--lossless-reps", type=int, default=1, help="compare: semi-sync lossless")
    fo.add_argument("--method", action="append", choices=["runbook", *HA])
    fo.add_argument("--via", choices=["runbook", "mha"], default="runbook")


def cmd_failover(lab: Lab, args: argparse.Namespace) -> int:
    """Issue 15: the same kill three ways (compare), or a failover by hand."""
    from lab.bench import failover_compare
    from lab.drills import takeover

    lab.require_up()
    if args.action == "promote":
        takeover.require_master_dead(lab)
        if args.via == "mha":
            print(mha.switch_dead_master(lab))
        else:
            takeover.promote_by_runbook(lab)
        say(f"db2 promoted ({args.via}); the roles back: runbooks rejoin-old-master, switch-back")
        return 0
    rows = failover_compare.compare(lab, args.reps, args.lossless_reps,
                                    tuple(args.method or takeover.METHODS), say)
    from lab.bench.results_doc import merge_results

    merge_results("failover_compare", rows, failover_compare.figures_of(rows), REPO / "bench",
                  REPO / "docs" / "benchmarks.md")
    print(failover_compare.table(rows))
    say("every run in bench/results.json (failover_compare), table in docs/benchmarks.md")
    return 0


COMMANDS = {"failover": Command(add_failover, cmd_failover)}
