"""foolab bench: the lab's own figures (make bench), measured or rendered."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.engine.process import require_engine
from lab.model.config import REPO
from lab.model.errors import LabError


def add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bn = sub.add_parser("bench", help="measure the lab's figures (make bench)")
    bn.add_argument("--quick", action="store_true", help="a reduced set, under 5 minutes")
    bn.add_argument("--junit", help="per-scenario times from this pytest JUnit XML report")
    bn.add_argument("--only", help="measure one part again and merge it into "
                    "bench/results.json (writes: acknowledged writes per replication mode; "
                    "dashboard: its delay and idle CPU; startup: warm up, cold build, "
                    "idle CPU and memory of one lab; class: a class of 8 and of 24; "
                    "load: the load study; machine: `make lab-up` on a fresh Debian "
                    "container, installs included, no lab here needed)")
    bn.add_argument("--render", action="store_true", help="measure nothing: write "
                    "docs/benchmarks.md again from bench/results.json (no lab needed)")


def cmd_bench(lab: Lab, args: argparse.Namespace) -> int:
    """make bench: measure, then write bench/results.json and docs/benchmarks.md."""
    from lab.bench import core as bench
    from lab.bench import results_doc

    if args.only and args.only not in bench.PARTS:  # before anything starts
        raise LabError(f"unknown bench part {args.only!r}", hint=f"one of {', '.join(bench.PARTS)}")
    if args.render:  # no engine, no lab: the committed results only
        if not (REPO / "bench" / "results.json").exists():
            raise LabError("no bench/results.json to render", hint="make bench")
        results_doc.write_doc(results_doc.read_results(REPO / "bench"),
                              REPO / "docs" / "benchmarks.md")
        say("docs/benchmarks.md written from bench/results.json")
        return 0
    require_engine()
    if args.only not in bench.WITHOUT_LAB:
        lab.up()
    t0 = time.monotonic()
    if args.only:
        figures = bench.run_part(lab, args.only, args.quick, say)
        results = results_doc.merge_part(results_doc.read_results(REPO / "bench"), args.only,
                                         figures)
        results_doc.write_results(results, REPO / "bench", REPO / "docs" / "benchmarks.md")
        say(f"bench part {args.only} done in {time.monotonic() - t0:.0f} s: "
            "bench/results.json, docs/benchmarks.md")
        return 0
    results = bench.run_bench(lab, args.quick, say)
    if args.junit and Path(args.junit).exists():
        results["scenarios"] = results_doc.scenario_times(Path(args.junit))
        results["scenarios_source"] = f"from {args.junit}, the last scenario run"
    results["seconds"] = round(time.monotonic() - t0, 1)
    results_doc.write_results(results, REPO / "bench", REPO / "docs" / "benchmarks.md")
    say(f"benchmarks done in {results['seconds']:.0f} s: bench/results.json, docs/benchmarks.md")
    return 0


COMMANDS = {"bench": Command(add_bench, cmd_bench)}
