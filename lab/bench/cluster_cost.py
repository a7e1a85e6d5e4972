"""`make bench ONLY=cluster`: a class over Swarm nodes against the same
class on this machine (issue 22).

Two node containers from nothing to one swarm with the lab's images; what
a node costs before it holds a lab (memory and idle CPU of its engine,
containerd and swarm agent: the node container's own cgroup, its labs'
containers sit beside it); then a class of 8 (labs m01..m08, so a
teacher's s01.. are never touched) from nothing to healthy on the two
nodes and on this machine, and its idle CPU per lab in each place. Both
clusters and classes are removed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import docker

from lab.bench.classbench import lab_containers
from lab.engine import client, nodes
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.load.counters import cpu_usage_ns
from lab.model.config import REPO, LabConfig
from lab.model.figures import Figure, Progress

PREFIX = "m"
LABS, NODES = 8, 2
IDLE_S = 20.0


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


def _on_nodes_cpu(cfgs: Sequence[LabConfig], seconds: float) -> float:
    """Idle CPU of labs spread over nodes, % of one core in all."""
    by_engine: dict[str | None, list[LabConfig]] = {}
    for c in cfgs:
        by_engine.setdefault(Lab(c).engine, []).append(c)
    return sum(_cpu_percent(lab_containers(held), engine, seconds)
               for engine, held in by_engine.items())


def cluster_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """Cluster up, a node's own cost, and a class of 8 on nodes vs here."""
    del reps  # one run each: a class of 8 twice over already takes minutes
    base = LabConfig.from_env()
    cfgs = classroom.configs(base, LABS, PREFIX)
    up_nodes = Figure(f"cluster of {NODES} nodes up", "s", note="from no node to one swarm "
                      "with the lab's images loaded into each (images built here)")
    node_mem = Figure("memory of a node, no lab", "MiB", note="a node container's own cgroup "
                      f"(engine, containerd, swarm agent), average of {NODES}")
    node_cpu = Figure("idle CPU of a node, no lab", "% of one core",
                      note=f"over {IDLE_S:.0f} s, average of {NODES}")
    on_nodes = Figure(f"class of {LABS} up on {NODES} nodes", "s",
                      note="from no lab to every host healthy; placed by memory left")
    here = Figure(f"class of {LABS} up on this machine", "s",
                  note="the same class on this machine's engine, for comparison")
    cpu_nodes = Figure("idle CPU per lab on a node", "% of one core",
                       note=f"the lab's containers over {IDLE_S:.0f} s, average of {LABS}")
    cpu_here = Figure("idle CPU per lab on this machine", "% of one core",
                      note=f"the lab's containers over {IDLE_S:.0f} s, average of {LABS}")
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
        if not result.failed:
            on_nodes.runs.append(time.monotonic() - t0)
            placed = [base.for_lab(c.lab) for c in cfgs]
            cpu_nodes.runs.append(_on_nodes_cpu(placed, IDLE_S) / LABS)
        classroom.down([base.for_lab(c.lab) for c in cfgs], progress)
        t0 = time.monotonic()
        result = classroom.up(cfgs, progress)
        if not result.failed:
            here.runs.append(time.monotonic() - t0)
            cpu_here.runs.append(_cpu_percent(lab_containers(cfgs), client.MACHINE, IDLE_S)
                                 / LABS)
    except docker.errors.DockerException as exc:
        progress(f"cluster bench stopped: {exc}")
    finally:
        classroom.down([base.for_lab(c.lab) for c in cfgs], progress)
        nodes.down(progress)
    return [up_nodes, node_mem, node_cpu, on_nodes, here, cpu_nodes, cpu_here]
