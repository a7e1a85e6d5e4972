"""foolab cluster up N | status | down: nodes for a class over several
machines (Docker Swarm; lab.engine.nodes says why it is built this way)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lab.cli.command import Command
from lab.cli.output import say
from lab.engine import nodes
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.model import class_layout, cluster
from lab.model.config import REPO
from lab.model.errors import LabError


def add_cluster(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("cluster", help="nodes for a class over several machines, as "
                       "containers on this one: up N, status, down (make cluster-up N=2)")
    c.add_argument("action", choices=["up", "status", "down"])
    c.add_argument("count", nargs="?", type=int, help="up: how many nodes (node1 manages)")
    c.add_argument("--json", action="store_true", help="status: machine-readable")


def cmd_cluster(lab: Lab, args: argparse.Namespace) -> int:
    if lab.config.lab:
        raise LabError("`foolab cluster` works on the nodes, not one lab", hint="drop --lab")
    if args.action == "up":
        if not args.count:
            raise LabError("cluster up needs how many nodes", hint="e.g. `foolab cluster up 2`")
        cluster.check_node_count(args.count)
        lab.build()  # the lab's images, here: the nodes get them from this machine
        lab.build_image(REPO / "images" / "node", nodes.node_image())
        images = sorted({h.image for h in lab.topology.hosts})
        nodes.up(args.count, images, say)
    elif args.action == "down":
        placed = [c for c in (lab.config.for_lab(n) for n in classroom.labs(lab.config))
                  if classroom.placement(c) is not None]
        for cfg in placed:  # their containers go with the nodes' engines
            classroom.forget(cfg)
            say(f"lab {cfg.lab}: removed with its node")
        removed = nodes.down(say)
        say(f"cluster removed ({removed} nodes)" if removed else "no cluster on this machine")
        return 0
    rows = status_rows(lab)
    print(json.dumps(rows, indent=1) if args.json else render(rows))
    return 0 if rows and all(r["state"] == "ready" and r["engine_answers"] for r in rows) else 1


def status_rows(lab: Lab) -> list[dict[str, Any]]:
    """Each node: the swarm's word on it, whether its engine answers, the labs it holds."""
    held: dict[str, list[str]] = {}
    for name in classroom.labs(lab.config):
        where = classroom.placement(lab.config.for_lab(name))
        if where:
            held.setdefault(where.node, []).append(name)
    rows = []
    for n in nodes.listed():
        answers = bool(n.engine) and nodes.answers(n.engine)
        why = nodes.refusal(n, answers, class_layout.MEMORY_PER_LAB_MIB)
        rows.append({"node": n.name, "role": "manager" if n.manager else "worker",
                     "state": n.state, "engine": n.engine, "engine_answers": answers,
                     "cpus": n.cpus, "memory_mib": n.memory_mib, "labs": held.get(n.name, []),
                     "takes_labs": not why, "refusal": why})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no cluster (`foolab cluster up 2`)"
    head = ("NODE", "ROLE", "STATE", "ENGINE", "LABS")
    lines = [head] + [(r["node"], r["role"], r["state"],
                       "answers" if r["engine_answers"] else "no answer",
                       ", ".join(r["labs"]) or ("-" if r["takes_labs"] else
                                                f"none: {r['refusal']}")) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


COMMANDS = {"cluster": Command(add_cluster, cmd_cluster)}
