"""`make bench ONLY=cluster`: a class over Swarm nodes against the same
class on this machine (issues 22 and 32).

Three node containers from nothing to one swarm with the lab's images;
what a node costs before it holds a lab (memory and idle CPU of its
engine, containerd and swarm agent: the node container's own cgroup, its
labs' containers sit beside it); then a class of 24 (labs m01..m24, so a
teacher's s01.. are never touched) from nothing to healthy on the three
nodes and on this machine, and in each place its idle CPU and memory per
lab and the manager's status round (`class status`: every lab read from
inside it). Both clusters and classes are removed at the end. These
figures are what lab.bench.course_plan sizes a course of 200 from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import docker

from lab.bench.classbench import lab_containers
from lab.engine import client, nodes
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.load.counters import STATS_AT_ONCE, cpu_usage_ns
from lab.model.config import REPO, LabConfig
from lab.model.figures import Figure, Progress

PREFIX = "m"
LABS, NODES = 24, 3
IDLE_S = 20.0
# The figures lab.bench.course_plan reads, by name.
NODE_MEMORY = "memory of a node, no lab"
NODE_CPU = "idle CPU of a node, no lab"
LAB_CPU_NODE = "idle CPU per lab on a node"
LAB_CPU_HERE = "idle CPU per lab on this machine"
LAB_MEMORY_NODE = "memory per lab on a node"
LAB_MEMORY_HERE = "memory per lab on this machine"
ROUND_NODES = f"status round, {LABS} labs on {NODES} nodes"
ROUND_HERE = f"status round, {LABS} labs on this machine"
UP_NODES = f"class of {LABS} up on {NODES} nodes"
UP_HERE = f"class of {LABS} up on this machine"


def _cpu_percent(names: Sequence[str], engine: str | None, seconds: float) -> float:
    """CPU the containers used together over `seconds`, % of one core, read
    from the engine that runs them."""
    with client.engine(engine):
        api = client.client()
    before, t0 = cpu_usage_ns(names, api), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    after, t1 = cpu_usage_ns(names, api), time.monotonic()
    used = sum((after[n] or 0) - (before[n] or 0) for n in names if before[n] and after[n])
    return 100.0 * used / 1e9 / (t1 - t0)


def _by_engine(cfgs: Sequence[LabConfig]) -> dict[str | None, list[LabConfig]]:
    by_engine: dict[str | None, list[LabConfig]] = {}
    for c in cfgs:
        by_engine.setdefault(Lab(c).engine, []).append(c)
    return by_engine


def _on_nodes_cpu(cfgs: Sequence[LabConfig], seconds: float) -> float:
    """Idle CPU of labs spread over nodes, % of one core in all."""
    return sum(_cpu_percent(lab_containers(held), engine, seconds)
               for engine, held in _by_engine(cfgs).items())


def _memory_mib(cfgs: Sequence[LabConfig]) -> float:
    """Memory the labs' containers use (as `docker stats` counts it), MiB
    in all, read from the engine of each lab's machine."""
    total = 0.0
    for engine, held in _by_engine(cfgs).items():
        with client.engine(engine or client.MACHINE), ThreadPoolExecutor(STATS_AT_ONCE) as pool:
            total += sum(m or 0.0 for m in pool.map(client.carried(client.memory_mib),
                                                    lab_containers(held)))
    return total


def _status_round(cfgs: list[LabConfig]) -> float:
    """Seconds for one `class status` round over `cfgs`; every row read."""
    t0 = time.monotonic()
    rows = classroom.status(cfgs)
    took = time.monotonic() - t0
    if len(rows) != len(cfgs) or any(r.get("lost") for r in rows):
        raise docker.errors.DockerException(f"a status round lost a lab: {rows}")
    return took


def cluster_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """Cluster up, a node's own cost, and a class of 24 on nodes vs here."""
    del reps  # one run each: a class of 24 twice over already takes minutes
    base = LabConfig.from_env()
    cfgs = classroom.configs(base, LABS, PREFIX)
    up_nodes = Figure(f"cluster of {NODES} nodes up", "s", note="from no node to one swarm "
                      "with the lab's images loaded into each (images built here)")
    node_mem = Figure(NODE_MEMORY, "MiB", note="a node container's own cgroup "
                      f"(engine, containerd, swarm agent), average of {NODES}")
    node_cpu = Figure(NODE_CPU, "% of one core", note=f"over {IDLE_S:.0f} s, average of {NODES}")
    on_nodes = Figure(UP_NODES, "s",
                      note="from no lab to every host healthy; placed by memory left")
    here = Figure(UP_HERE, "s", note="the same class on this machine's engine, for comparison")
    per_lab = f"the lab's containers over {IDLE_S:.0f} s, average of {LABS}"
    cpu_nodes = Figure(LAB_CPU_NODE, "% of one core", note=per_lab)
    cpu_here = Figure(LAB_CPU_HERE, "% of one core", note=per_lab)
    idle = f"idle, as `docker stats` counts it (page cache left out), average of {LABS}"
    mem_nodes = Figure(LAB_MEMORY_NODE, "MiB", note=idle)
    mem_here = Figure(LAB_MEMORY_HERE, "MiB", note=idle)
    rounds = "one `class status` round: every lab's row read from inside it, in parallel"
    round_nodes = Figure(ROUND_NODES, "s", note=rounds + ", through each node's engine")
    round_here = Figure(ROUND_HERE, "s", note=rounds)
    placed = cfgs
    try:
        classroom.down(cfgs, progress)
        nodes.down(progress)
        lab.build()
        lab.build_image(REPO / "images" / "node", nodes.node_image())
        t0 = time.monotonic()
        nodes.up(NODES, sorted({h.image for h in lab.topology.hosts}), progress)
        up_nodes.runs.append(time.monotonic() - t0)
        containers = [nodes.container(n) for n in nodes.local_nodes()]
        with client.engine(client.MACHINE):
            mem = [client.memory_mib(c) or 0.0 for c in containers]
        node_mem.runs.append(sum(mem) / len(mem))
        node_cpu.runs.append(_cpu_percent(containers, client.MACHINE, IDLE_S) / len(mem))
        t0 = time.monotonic()
        result = classroom.up(cfgs, progress, swarm=True)
        placed = [base.for_lab(c.lab) for c in cfgs]  # with where class up put them
        if not result.failed:
            on_nodes.runs.append(time.monotonic() - t0)
            cpu_nodes.runs.append(_on_nodes_cpu(placed, IDLE_S) / LABS)
            mem_nodes.runs.append(_memory_mib(placed) / LABS)
            round_nodes.runs.append(_status_round(placed))
        classroom.down(placed, progress)
        t0 = time.monotonic()
        result = classroom.up(cfgs, progress)
        placed = [base.for_lab(c.lab) for c in cfgs]
        if not result.failed:
            here.runs.append(time.monotonic() - t0)
            cpu_here.runs.append(_cpu_percent(lab_containers(cfgs), client.MACHINE, IDLE_S)
                                 / LABS)
            mem_here.runs.append(_memory_mib(placed) / LABS)
            round_here.runs.append(_status_round(placed))
    except docker.errors.DockerException as exc:
        progress(f"cluster bench stopped: {exc}")
    finally:
        classroom.down(placed, progress)
        nodes.down(progress)
    return [up_nodes, node_mem, node_cpu, on_nodes, here, cpu_nodes, cpu_here, mem_nodes,
            mem_here, round_nodes, round_here]
