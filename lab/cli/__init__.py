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

from lab.admin import lb, resolvers, sessions
from lab.admin.status import HostStatus, lab_status
from lab.cli.balancer_commands import add_balancer_commands, cmd_balancer, cmd_dns
from lab.cli.class_commands import add_class_commands, cmd_class, lab_config
from lab.cli.exercise_commands import add_exercise_commands, cmd_check, cmd_exercise, cmd_grade
from lab.cli.failover_commands import HA, cmd_failover
from lab.cli.load_commands import add_load_command, cmd_load
from lab.cli.output import say
from lab.drills import faults, runbooks
from lab.engine.lab import Lab
from lab.engine.process import require_engine
from lab.model.article import WWW
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError, TopologyError


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
    if lab.config.in_class and args.with_:
        raise LabError("--with is for the single lab; a class lab has the seven hosts",
                       hint="`foolab up --with ...` without --lab")
    extra = [HA[m] for m in args.with_ if m in HA]
    for admin in extra:  # images and addresses first: a bad --with starts nothing
        admin.check(lab)
    lab.up()
    say(("lab was already up" if already else "lab up") + f" in {time.monotonic() - t0:.1f} s")
    with lab.network():  # a class lab: from inside it
        for admin in extra:
            say(f"{admin.__name__.rsplit('.', 1)[-1]}: " + ("started" if admin.add(lab) else
                "already running") + f", floating master address {lab.topology.float_address}")
        if "resolvers" in args.with_:  # caching resolvers for the load study (issue 13)
            started = resolvers.add(lab, resolvers.DEFAULT_COUNT)
            say(f"resolvers res1-res{resolvers.DEFAULT_COUNT} (unbound): "
                + (f"started {', '.join(started)}" if started else "already running"))
        return cmd_status(lab, args)


def cmd_down(lab: Lab, args: argparse.Namespace) -> int:
    if args.only:  # one optional part; the seven hosts stay
        lab.require_up()
        HA[args.only].remove(lab)
        say(f"{args.only} removed; the web servers write to db1 again")
        return 0
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
              f"(Host: {WWW}); DNS: dig @{lab.topology.address('ns1')} {WWW}")
        if lab.config.balancer:
            print(f"balancer: http://{lab.topology.address(lb.HOST)}/ (Host: {WWW}); "
                  "its policy and stats page: foolab balancer")
    healthy = all(r.state == "running" and r.health == "healthy" for r in rows)
    return 0 if healthy else 1


def cmd_shell(lab: Lab, args: argparse.Namespace) -> int:
    host = lab.topology.host(args.host)  # unknown host: one-line error
    lab.require_up()
    os.execvp("docker", ["docker", "exec", "-it", host.container, "bash", "-l"])
    return 0  # not reached


def cmd_diagram(lab: Lab, args: argparse.Namespace) -> int:
    from lab.admin.diagram import render

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


def cmd_runbook(lab: Lab, args: argparse.Namespace) -> int:
    lab.require_up()
    options: dict[str, bool] = {}
    if args.name == "rebuild-replica":
        options["online"] = args.online
    if args.name == "promote-replica":
        options["take_address"] = not args.point_web
    if args.name == "semi-sync":
        options["on"] = not args.off
        options["lossless"] = args.lossless
    book = runbooks.RUNBOOKS[args.name](lab, **options)
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


def cmd_sessions(lab: Lab, args: argparse.Namespace) -> int:
    """F9: PHP sessions in one directory shared by web1-3, or in local files."""
    lab.require_up()
    setting = sessions.use_shared_sessions(lab, args.where == "shared")
    say(f"PHP sessions now in {setting.save_path} on {', '.join(setting.servers)}")
    return 0


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="foolab", description=__doc__.splitlines()[0])
    p.add_argument("--subnet", help="lab subnet, a /24 (env FOOLAB_SUBNET; default 10.1.1.0/24)")
    p.add_argument("--lab", help="one lab of a class, e.g. s03 (env FOOLAB_LAB; default: the "
                   "single lab)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build, start and wait for the seven hosts (make lab-up)")
    up.add_argument("--with", dest="with_", action="append", default=[],
                    choices=["balancer", *HA, "resolvers"], help="balancer: also lb, HAProxy "
                    "in front of web1-3 (env FOOLAB_BALANCER=1); mha, keepalived: automatic "
                    "failover; resolvers: three caching resolvers for the load study")
    dw = sub.add_parser("down", help="remove every container, network and volume (make lab-down)")
    dw.add_argument("--only", choices=list(HA), help="remove only this optional part")
    fo = sub.add_parser("failover", help="compare: db1 killed under writes, three ways; "
                        "promote: fail over by hand (only while db1 is dead)")
    fo.add_argument("action", choices=["compare", "promote"])
    fo.add_argument("--reps", type=int, default=3, help="compare: async runs per method")
    fo.add_argument("--lossless-reps", type=int, default=1, help="compare: semi-sync lossless")
    fo.add_argument("--method", action="append", choices=["runbook", *HA])
    fo.add_argument("--via", choices=["runbook", "mha"], default="runbook")
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
                    help="loss: percent of packets; delay: milliseconds; "
                         "slow: percent of one CPU")
    sub.add_parser("heal", help="remove every fault the lab knows of")
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
    ss = sub.add_parser("sessions", help="where PHP keeps sessions: shared (the article's fix "
                        "for the cookie conundrum) or local files (the default)")
    ss.add_argument("where", choices=["shared", "local"])
    bn = sub.add_parser("bench", help="measure the lab's figures (make bench)")
    bn.add_argument("--quick", action="store_true", help="a reduced set, under 5 minutes")
    bn.add_argument("--junit", help="per-scenario times from this pytest JUnit XML report")
    bn.add_argument("--only", help="measure one part again and merge it into "
                    "bench/results.json (writes: acknowledged writes per replication mode; "
                    "dashboard: its delay and idle CPU; startup: warm up, cold build, "
                    "idle CPU and memory of one lab; class: a class of 8 and of 24; "
                    "load: the load study)")
    bn.add_argument("--render", action="store_true", help="measure nothing: write "
                    "docs/benchmarks.md again from bench/results.json (no lab needed)")
    dg = sub.add_parser("diagram", help="draw the machines from the topology model")
    dg.add_argument("--out", default=str(REPO / "docs" / "topology.png"))
    add_load_command(sub)
    db = sub.add_parser("dashboard", help="live page of the lab on 127.0.0.1 (make dashboard)")
    db.add_argument("--port", type=int, default=8080, help="default 8080")
    db.add_argument("--control", action="store_true", help="buttons: faults, heal, runbooks")
    add_balancer_commands(sub)
    add_exercise_commands(sub)
    add_class_commands(sub)
    return p


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "shell": cmd_shell,
            "diagram": cmd_diagram, "fault": cmd_fault, "heal": cmd_heal,
            "runbook": cmd_runbook, "bench": cmd_bench, "load": cmd_load, "sessions": cmd_sessions,
            "balancer": cmd_balancer, "dns": cmd_dns, "exercise": cmd_exercise,
            "check": cmd_check, "grade": cmd_grade, "dashboard": cmd_dashboard,
            "failover": cmd_failover, "class": cmd_class}
# Commands that do not talk to the lab's addresses from this process (or
# enter a class lab's network themselves).
OUTSIDE = {"up", "down", "class", "shell", "diagram", "dashboard", "bench"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = lab_config(LabConfig.from_env(
            subnet=args.subnet, lab=args.lab,
            balancer=True if "balancer" in getattr(args, "with_", []) else None), args.command)
        lab = Lab(config, progress=say, prepare=[lb.prepare])
        command = COMMANDS[args.command]
        if lab.config.in_class and args.command not in OUTSIDE:
            with lab.network():  # a class lab's addresses are reached from inside it
                return command(lab, args)
        return command(lab, args)
    except (LabError, TopologyError) as exc:
        print(f"foolab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("foolab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
