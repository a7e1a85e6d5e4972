"""foolab load: the load-distribution study (Locust in the lab network,
then the report)."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.admin import haproxy_cfg, lb
from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.load.settings import DEFAULT_TTL_SCALE, RESOLVER_MODE
from lab.load.settings import MODES as CACHE_MODES
from lab.model.config import REPO
from lab.model.errors import LabError


def load_settings(args: argparse.Namespace, duration: int) -> Any:
    """The run's settings from the options; bad input is one ValueError line
    (before anything starts)."""
    from lab.load.settings import RunSettings

    cache = args.cache or (RESOLVER_MODE if args.resolvers else "none")
    if args.cache and args.cache not in CACHE_MODES:
        raise ValueError(f"cache mode {args.cache!r}: one of {', '.join(CACHE_MODES)}")
    return RunSettings(args.users, duration, cache, args.ttl_scale, args.spawn_rate or 0.0,
                       resolvers=args.resolvers, population=args.population,
                       order=args.resolver_order, zone_ttl_s=args.zone_ttl)


def cmd_load(lab: Lab, args: argparse.Namespace) -> int:
    """The load-distribution study: Locust in the lab network, then the report."""
    from lab.load.ceiling import ceiling_verdict
    from lab.load.files import write_ceiling_report, write_compare_report, write_run_report
    from lab.load.generator import LoadGen
    from lab.load.settings import parse_duration
    from lab.load.study_report import compare_table, server_table, split_sentence, unit_lines
    from lab.load.summary import summarize

    default_s = 10 if args.ceiling else 30 if args.compare else 60
    try:
        duration = parse_duration(args.duration) if args.duration else default_s
        settings = load_settings(args, duration)
    except ValueError as exc:
        raise LabError(f"bad load settings: {exc}") from None
    if settings.resolvers and (args.compare or args.ceiling or args.target == "lb"):
        raise LabError("--resolvers is a run of its own: not with --compare, --ceiling or "
                       "--target lb")
    if settings.resolvers and lab.config.in_class:
        raise LabError("--resolvers is for the single lab; a class lab has the seven hosts",
                       hint="run the resolver study without --lab")
    if args.during:
        from lab.load.during import check_name

        check_name(args.during)
        if args.compare or args.ceiling:
            raise LabError("--during is a run of its own: not with --compare or --ceiling")
    out = Path(args.out) if args.out else REPO / "reports" / time.strftime("load-%Y%m%d-%H%M%S")
    lab.require_up()
    if args.target == "lb":  # F22: the same visitors, sent to the balancer
        lb.require(lab)
        settings = replace(settings, balancer=lb.policy(lab) or haproxy_cfg.DEFAULT_POLICY)
    elif args.compare and not lb.running(lab):
        say("no balancer in this lab: `foolab up --with balancer` adds its rows (F22)")
    gen = LoadGen(lab, progress=say)
    gen.build()
    t0 = time.monotonic()
    if args.study:
        from lab.bench.results_doc import merge_part, read_results, write_results
        from lab.load.study import bench_figures, study, table

        rows, files = study(gen, out, REPO / "docs", REPO / "README.md", say)
        print("\n".join(table(rows)))
        bench = REPO / "bench"
        write_results(merge_part(read_results(bench), "load", bench_figures(rows)), bench,
                      REPO / "docs" / "benchmarks.md")
        files += [bench / "results.json", REPO / "docs" / "benchmarks.md"]
    elif args.during:
        from lab.load.during import run_during
        from lab.load.timeline import during_lines, write_during_report

        through = run_during(gen, settings, args.during, out)
        files = write_during_report(through, out)
        print("\n".join(during_lines(through)))
    elif args.ceiling:
        result = gen.ceiling(out, connections=args.connections, duration_s=duration,
                             rounds=args.rounds, processes=args.processes)
        files = write_ceiling_report(result, out)
        print(ceiling_verdict(result))
    elif args.compare:
        runs = gen.compare(settings.users, duration, settings.ttl_scale, out)
        summaries = [summarize(r) for r in runs]
        for r, s in zip(runs, summaries, strict=True):
            write_run_report(s, out / r.settings.slug)
        files = write_compare_report(summaries, out)
        print(compare_table(summaries))
    else:
        summary = summarize(gen.run_load(settings, out))
        files = write_run_report(summary, out)
        print("\n".join(server_table(summary)))
        print("\n".join(unit_lines(summary)))
        print(split_sentence(summary))
        print(summary.loadgen.verdict)
        if not summary.counts_add_up:
            say(f"per-server counts {summary.total} != Locust's total {summary.locust_total}")
    say(f"done in {time.monotonic() - t0:.0f} s; report: "
        + ", ".join(f.name for f in files) + f" in {out}")
    return 0


def add_load(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ld = sub.add_parser("load", help="load-distribution study with Locust (make load)")
    ld.add_argument("--users", type=int, default=30, help="visitors (default 30)")
    ld.add_argument("--duration", help="run time, e.g. 60s or 2m (default 60 s; "
                    "30 s per run with --compare, 10 s per round with --ceiling)")
    ld.add_argument("--cache", help="how visitors cache the DNS answer: "
                    f"{', '.join(CACHE_MODES)} (default none; with --resolvers the "
                    "resolvers cache)")
    ld.add_argument("--ttl-scale", type=float, default=DEFAULT_TTL_SCALE,
                    help="ttl mode: one second stands for this many (default 8640: the "
                    "zone's 86400 s TTL -> 10 s)")
    ld.add_argument("--resolvers", type=int, default=0,
                    help="caching resolvers (unbound, res1-resN at .41-) between the "
                    "visitors and ns1/ns2; started if not running")
    ld.add_argument("--population", default="even",
                    help="with --resolvers: even, skewed (one resolver serves half the "
                    "visitors) or by-class (heavy-page visitors behind res1)")
    ld.add_argument("--resolver-order", default="rotate",
                    help="with --resolvers: rotate (unbound's rrset-roundrobin yes) or "
                    "fixed (no: a cached answer keeps its order)")
    ld.add_argument("--zone-ttl", type=int,
                    help="TTL of www for the run, in seconds (a new zone serial; the "
                    "article's zone is restored afterwards). Default: the zone's 86400 s")
    ld.add_argument("--during", help="visitors through a fault and its recovery: "
                    "web-down, replica-cut or master-killed (lab.load.during)")
    ld.add_argument("--spawn-rate", type=float, help="visitors started per second "
                    "(default: all at once)")
    ld.add_argument("--out", help="report folder (default reports/load-TIMESTAMP)")
    ld.add_argument("--target", choices=["dns", "lb"], default="dns",
                    help="dns: visitors resolve www (default); lb: they go to the balancer, "
                    "with its current policy (--compare adds lb rows when lb runs)")
    mode = ld.add_mutually_exclusive_group()
    mode.add_argument("--compare", action="store_true",
                      help="the three cache modes, all up and with web3 stopped (and lb "
                      "with roundrobin and leastconn, when the lab runs the balancer)")
    mode.add_argument("--study", action="store_true",
                      help="make load-report: every mode of the study once, then web2 down "
                      "under visitors; writes docs/load-study.md, its plots and data, the "
                      "README's load figures and the bench's (a few minutes)")
    mode.add_argument("--ceiling", action="store_true",
                      help="benchmark: Locust's rate against wrk's on one web server")
    ld.add_argument("--connections", type=int, default=8,
                    help="--ceiling: concurrent connections (default 8)")
    ld.add_argument("--rounds", type=int, default=3,
                    help="--ceiling: alternating Locust/wrk rounds (default 3)")
    ld.add_argument("--processes", type=int, default=1,
                    help="--ceiling: Locust worker processes = wrk threads (default 1)")


COMMANDS = {"load": Command(add_load, cmd_load)}
