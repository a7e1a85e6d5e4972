"""foolab failover: automatic failover compared with the runbook (issue 15)."""

from __future__ import annotations

import argparse

from lab.admin import keepalived, mha
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.model.config import REPO

HA = {"mha": mha, "keepalived": keepalived}  # optional automatic failover (issue 15)


def cmd_failover(lab: Lab, args: argparse.Namespace) -> int:
    """Issue 15: the same kill three ways (compare), or a failover by hand."""
    from lab.bench import failovers
    from lab.drills import autofailover as af

    lab.require_up()
    if args.action == "promote":
        af.require_master_dead(lab)
        print(mha.switch_dead_master(lab)) if args.via == "mha" else af.promote_by_runbook(lab)
        say(f"db2 promoted ({args.via}); the roles back: runbooks rejoin-old-master, switch-back")
        return 0
    rows = failovers.compare(lab, args.reps, args.lossless_reps,
                             tuple(args.method or af.METHODS), say)
    from lab.bench.report import merge_results

    merge_results("failover_compare", rows, failovers.figures_of(rows), REPO / "bench",
                  REPO / "docs" / "benchmarks.md")
    print(failovers.table(rows))
    say("every run in bench/results.json (failover_compare), table in docs/benchmarks.md")
    return 0
