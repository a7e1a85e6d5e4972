"""foolab class up|status|down, and --lab NAME: a lab per student."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from lab.cli.command import Command
from lab.cli.output import StartProgress, say
from lab.engine.lab import Lab
from lab.exercises import classroom, lesson
from lab.model import roster as roster_model
from lab.model.config import LabConfig
from lab.model.errors import LabError


def add_class(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser("class", help="a lab per student: up N, status, down (make class-up N=8)")
    cl.add_argument("action", choices=["up", "status", "down", "access", "serve", "collect",
                                       "exercise", "reset"],
                    help="up, status, down; access: each student's secret link; serve: the "
                    "class's web server; collect: the grade table; exercise NAME: start it "
                    "in every lab with each student's seed; reset LAB: that lab fresh, its "
                    "exercise started again with the same seed")
    cl.add_argument("count", nargs="?", help="up: how many labs (s01, s02, ...); "
                    "exercise: its name; reset: the lab")
    cl.add_argument("--roster", type=Path, help="up: a CSV of students (name,email): a lab "
                    "each, seeded from the e-mail and a class secret")
    cl.add_argument("--format", choices=["table", "csv", "json", "moodle", "canvas"],
                    default="table", help="access, collect: how to print; collect also "
                    "moodle or canvas: the file each platform's grade import takes")
    cl.add_argument("--port", type=int, default=8080, help="serve: default 8080")
    cl.add_argument("--listen", default="127.0.0.1", help="serve: the address to listen on "
                    "(default 127.0.0.1; another one serves the class's network)")
    cl.add_argument("--url", help="access: the address students open (default "
                    "http://127.0.0.1:PORT)")
    cl.add_argument("--tls-cert", type=Path, help="serve: HTTPS with this certificate")
    cl.add_argument("--behind-proxy", action="store_true", help="serve: a reverse proxy "
                    "is in front: take the client's address and scheme from its Forwarded "
                    "or X-Forwarded-For/-Proto headers (off: the socket's peer; anyone may "
                    "send those headers)")
    cl.add_argument("--tls-key", type=Path, help="serve: and this key")
    cl.add_argument("--prefix", default="s", help="up: the labs' names start with this "
                    "(default s: s01, s02, ...)")
    cl.add_argument("--subnet-per-lab", action="store_true", help="up: lab i on "
                    "10.1.(100+i).0/24 instead of every lab on the article's 10.1.1.0/24")
    cl.add_argument("--json", action="store_true", help="status: machine-readable")
    cl.add_argument("--swarm", action="store_true", help="up: the labs on the nodes of the "
                    "cluster (`foolab cluster up N`), each whole on one node")


def cmd_class(lab: Lab, args: argparse.Namespace) -> int:
    base = lab.config
    if base.lab:
        raise LabError("`foolab class` works on the whole class, not one lab",
                       hint="drop --lab (or FOOLAB_LAB)")
    if args.action == "up":
        return _up(lab, args)
    if args.action == "access":
        if args.format not in ("table", "csv", "json"):
            raise LabError(f"class access prints table, csv or json, not {args.format}",
                           hint="--format moodle and canvas are for `class collect`")
        print(render_access(classroom.require_roster(base), args))
        return 0
    if args.action == "serve":
        return _serve(lab, args)
    names = classroom.labs(base)
    cfgs = [base.for_lab(n) for n in names]
    if args.action == "down":
        for o in classroom.down(cfgs, say):
            say(f"lab {o.name}: " + ("removed" if o.ok else o.error or "nothing to remove"))
        classroom.forget_roster(base)
        say(f"class removed ({len(cfgs)} labs)" if cfgs else "no class lab to remove")
        return 0
    if args.action == "exercise":
        return _exercise(base, names, args.count)
    if args.action == "reset":
        if not args.count:
            raise LabError("class reset needs the lab's name", hint="e.g. `foolab class reset s03`")
        say(lesson.reset(base, args.count, say))
        return 0
    if args.action == "collect":
        return _collect(base, args.format)
    rows = classroom.status(cfgs)
    print(json.dumps(rows, indent=1) if args.json else render(rows))
    return 0 if all(r["healthy"] == r["hosts"] for r in rows) else 1


def _up(lab: Lab, args: argparse.Namespace) -> int:
    base = lab.config
    if args.roster:
        if args.count:
            raise LabError("class up takes a count or --roster, not both",
                           hint="the roster says how many labs")
        roster = classroom.enrol(base, args.roster, args.prefix)  # bad line: nothing starts
        cfgs = [base.for_lab(s.lab) for s in roster.students]
    else:
        if not args.count or not str(args.count).isdigit():
            raise LabError("class up needs how many labs, or --roster FILE",
                           hint="e.g. `foolab class up 8`")
        cfgs = classroom.configs(base, int(args.count), args.prefix, args.subnet_per_lab)
    say(f"class of {len(cfgs)}: {cfgs[0].lab} ... {cfgs[-1].lab}")
    voice = StartProgress()  # a terminal: one line counting whole labs; a log: every line
    try:
        result = classroom.up(cfgs, voice, lab.prepare, swarm=args.swarm)
    finally:
        voice.close()
    for o in result.failed:
        say(f"lab {o.name} did not come up: {o.error}")
    print(render(classroom.status([base.for_lab(c.lab) for c in cfgs])))
    if args.roster:
        say("each student's secret link: `foolab class access`; the class's page: "
            "`foolab class serve`")
    return 1 if result.failed else 0


def _exercise(base: LabConfig, names: list[str], exercise: str | None) -> int:
    """`class exercise NAME`: the exercise in every lab, each student's seed."""
    roster = classroom.require_roster(base)
    if not exercise:
        raise LabError("class exercise needs the exercise's name", hint="`foolab exercise list`")
    failed = 0
    for name in names:
        if roster.seed(name) is None:
            continue
        try:
            say(lesson.start(base, name, exercise))
        except LabError as exc:
            failed += 1
            say(f"lab {name}: {exc}")
    return 1 if failed else 0


def _collect(base: LabConfig, fmt: str) -> int:
    """`class collect`: every lab graded now, with when each goal was first met."""
    from lab.classweb import platforms
    from lab.classweb.grades import collect, platform_file

    table = collect(base, lambda m: say(m, err=True))  # stdout: the table alone
    if fmt in platforms.FORMATS:  # for the school's platform to import as it is
        text = platform_file(base, fmt)
        assert table.path is not None
        path = table.path.with_name(f"{table.path.stem}-{fmt}.csv")
        path.write_text(text)
        print(text, end="")
        say(f"written: {path} (import: README, \"Grades in the school's platform\")",
            err=True)
        return 0
    print(table.render("csv" if fmt == "table" else fmt), end="")
    say(f"written: {table.path}", err=True)
    return 0


def _serve(lab: Lab, args: argparse.Namespace) -> int:
    try:
        from lab.classweb.class_server import serve
    except ImportError:
        raise LabError("starlette or uvicorn is missing", hint="pip install -e '.[dashboard]'"
                       ) from None
    if bool(args.tls_cert) != bool(args.tls_key):
        raise LabError("--tls-cert and --tls-key go together")
    if args.listen != "127.0.0.1" and not args.tls_cert:
        say(f"warning: listening on {args.listen}: plain HTTP, links and terminals readable "
            "on the network (give --tls-cert and --tls-key)", err=True)
    classroom.require_roster(lab.config)
    serve(lab.config, args.port, args.listen, args.tls_cert, args.tls_key,
          ready=lambda url: say(f"class on {url} (teacher: `foolab class access` prints "
                                "the links; Ctrl-C stops it)"),
          behind_proxy=args.behind_proxy)
    return 0


def render_access(roster: roster_model.Roster, args: argparse.Namespace) -> str:
    """`class access`: each student's name, lab and secret link; the teacher's last."""
    base_url = args.url or f"http://{args.listen}:{args.port}"
    rows = [s.as_row(base_url) for s in roster.students]
    rows.append({"name": "(teacher)", "email": "", "lab": "*",
                 "link": roster_model.join_link(base_url, roster.teacher_token)})
    if args.format == "json":
        return json.dumps(rows, indent=1)
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["name", "email", "lab", "link"])
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    width = max(len(r["name"]) for r in rows)
    return "\n".join(f"{r['name']:{width}}  {r['lab']:8}  {r['link']}" for r in rows)


def render(rows: list[dict[str, Any]]) -> str:
    """`class status` as a table: one line per lab."""
    head = ("LAB", "STUDENT", "NODE", "ADDRESSES", "WIRE", "HEALTHY", "DB2", "LAG", "FAULTS",
            "EXERCISE")
    lines = [head] + [(
        r["lab"], r.get("student") or "-", r.get("node") or "-", r["subnet"], r["wire"] or "-",
        f"{r['healthy']}/{r['hosts']}",
        "replicating" if r["replicating"] else r.get("error", "not replicating"),
        "-" if r["lag_s"] is None else f"{r['lag_s']} s",
        "; ".join(r["faults"] + ([f"{r['oom']} killed at the memory bound"]
                                 if r.get("oom") else [])) or "-",
        r["exercise"] or "-") for r in rows]
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
