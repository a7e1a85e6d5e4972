"""A course of 200 students on paper (issue 32): how many machines of which
size it needs and what gives out first, computed from the cluster bench's
measured figures (bench/results.json, `make bench ONLY=cluster`) and the
lab's own rules: the placement's memory per lab and node reserve, the
bounds every class lab runs under. Written as docs/course-of-200.md beside
docs/benchmarks.md; every number on the page comes from the file or a
named constant, none is typed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.bench import cluster_cost as cc
from lab.exercises import classroom
from lab.model import bounds, class_layout, cluster

STUDENTS = 200
# Machine sizes a school may have: (GiB of memory, cores).
SIZES = ((16, 4), (32, 8), (64, 16))
LOST_WITHIN_S = 30.0  # a lost node seen within this (README): one status round must fit
NEEDED = (cc.NODE_MEMORY, cc.LAB_MEMORY_NODE, cc.LAB_CPU_NODE, cc.ROUND_NODES)


@dataclass(frozen=True)
class Size:
    """What one machine of a size holds, each way of counting."""

    memory_gib: int
    cores: int
    placed: int  # what `class up --swarm` puts on it: MEMORY_PER_LAB_MIB each
    by_idle_memory: int  # measured idle memory per lab
    by_bound: int  # every lab's memory bound at once, no overcommit
    by_idle_cpu: int  # measured idle CPU per lab, up to every core
    by_cpu_bound: int  # every student spinning at their lab's CPU bound

    @property
    def machines(self) -> int:
        """Machines of this size for the course, placed as foolab places."""
        return math.ceil(STUDENTS / self.placed) if self.placed else 0

    @property
    def first_out(self) -> str:
        """What stops placing more labs on it first."""
        return ("memory (the placement's share)" if self.placed <= self.by_idle_cpu
                else "CPU at idle")


def sizes(fig: Mapping[str, float], share: bounds.LabBounds) -> list[Size]:
    found = []
    for gib, cores in SIZES:
        mib = gib * 1024
        for_labs = mib - cluster.NODE_RESERVE_MIB
        found.append(Size(
            gib, cores,
            placed=max(0, for_labs // class_layout.MEMORY_PER_LAB_MIB),
            by_idle_memory=int((for_labs - fig[cc.NODE_MEMORY]) // fig[cc.LAB_MEMORY_NODE]),
            by_bound=max(0, (mib - bounds.RESERVE_MEMORY_MIB) // share.memory_mib),
            by_idle_cpu=int(cores * 100 // fig[cc.LAB_CPU_NODE]),
            by_cpu_bound=int(cores // share.cpus)))
    return found


def round_for_course(fig: Mapping[str, float]) -> float:
    """The manager's status round over the whole course, if it grows with
    the labs as it did from 1 to LABS (a linear estimate)."""
    return fig[cc.ROUND_NODES] / cc.LABS * STUDENTS


def render(results: Mapping[str, Any], share: bounds.LabBounds | None = None) -> str:
    """docs/course-of-200.md from the results document."""
    share = share or bounds.LabBounds()
    fig = {f["name"]: f["median"] for f in results.get("figures", [])
           if f.get("median") is not None}
    when = (results.get("parts") or {}).get("cluster", results.get("when"))
    lines = ["# A course of 200 on paper", "",
             f"Written by code (`lab/bench/course_plan.py`) from `bench/results.json`: the "
             f"figures of `make bench ONLY=cluster` (measured {when}, a class of {cc.LABS} "
             f"on {cc.NODES} node containers of one machine) and the lab's own rules. "
             "Regenerate with `foolab bench --render`.", ""]
    missing = [n for n in NEEDED if n not in fig]
    if missing:
        return "\n".join(lines + [f"Not measured yet: {', '.join(missing)} "
                                  "(`make bench ONLY=cluster`).", ""])
    lines += ["## What was measured", "", "| figure | value |", "|---|---:|",
              *(f"| {n} | {fig[n]:.2f} |" for n in (*NEEDED, cc.LAB_MEMORY_HERE,
                                                    cc.LAB_CPU_HERE, cc.ROUND_HERE)
                if n in fig),
              "", "## What one machine holds", "",
              f"Each way of counting, for a machine with its engine and nothing else: "
              f"`placed` is what `class up --swarm` puts on it ({class_layout.MEMORY_PER_LAB_MIB}"
              f" MiB per lab, {cluster.NODE_RESERVE_MIB} MiB kept for the node); `idle memory`"
              f" and `idle CPU` use the measured idle lab; `memory bound` counts every lab "
              f"filling its bound of {share.memory_mib} MiB at once ({bounds.RESERVE_MEMORY_MIB}"
              f" MiB kept), `CPU bound` every student spinning at {share.cpus:g} cores.", "",
              "| machine | placed | idle memory | memory bound | idle CPU | CPU bound "
              f"| machines for {STUDENTS} | gives out first |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    found = sizes(fig, share)
    lines += [f"| {s.memory_gib} GiB, {s.cores} cores | {s.placed} | {s.by_idle_memory} "
              f"| {s.by_bound} | {s.by_idle_cpu} | {s.by_cpu_bound} | {s.machines} "
              f"| {s.first_out} |" for s in found]
    whole = round_for_course(fig)
    over = whole > LOST_WITHIN_S
    cores = (results.get("machine") or {}).get("cores", "?")
    lines += ["", "## The manager", "",
              f"One status round (the teacher's grid, `class status`) took "
              f"{fig[cc.ROUND_NODES]:.1f} s over {cc.LABS} labs on {cc.NODES} nodes, "
              f"{classroom.READ_PARALLEL} labs read at once,"
              + (f" and {fig[cc.ROUND_HERE]:.1f} s over the same labs on this machine"
                 if cc.ROUND_HERE in fig else "")
              + f", measured on {cores} cores that also ran every lab and node. Grown with "
              f"the labs, a round over {STUDENTS} would take about {whole:.0f} s: "
              f"{'over' if over else 'within'} the {LOST_WITHIN_S:.0f} s in which a lost "
              "node is to be seen.", "",
              "## What gives out first", ""]
    manager = (f"- On the manager: the status round, about {whole:.0f} s for {STUDENTS} labs"
               + (", before any machine's memory: the grid would show a lost node late. "
                  "Read the grid's rows in more threads, or split the course over more "
                  "managers." if over else ", within its budget."))
    lines += [manager] if over else []
    lines += [f"- On a {s.memory_gib} GiB machine with {s.cores} cores: {s.first_out}, at "
              f"{min(s.placed, s.by_idle_cpu)} labs; {s.machines} such "
              f"machine{'s hold' if s.machines != 1 else ' holds'} the course. If every student "
              f"spins every core at once, their labs get {s.cores / max(1, s.placed):.2f} "
              f"cores each instead of {share.cpus:g} (the CPU weight shares it evenly); if "
              f"every one fills their memory bound, {s.by_bound} labs fit without "
              "overcommit." for s in found]
    lines += [] if over else [manager]
    lines += ["- Not measured yet: the lab-side channel's cost per probe. Probes still run "
              "from the teacher's machine inside each lab's network namespace (issue 32's "
              "first item, the channel on the lab's own machine, is not built), which is "
              "why labs go only to nodes of this machine today.", ""]
    return "\n".join(lines)
