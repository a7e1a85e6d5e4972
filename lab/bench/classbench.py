"""`make bench ONLY=class`: what a class costs on this machine (issue 10).

A class of 8 labs from nothing to all healthy (images built), their memory
and idle CPU per lab, then the class grown to 24 to see whether a full
class fits, then removed. The bench labs are named b01.. so that a
teacher's s01.. are never touched.
"""

from __future__ import annotations

import time
from functools import partial

from lab.engine import client
from lab.engine.lab import Lab
from lab.exercises import classroom
from lab.load.counters import cpu_usage_ns, engine_client
from lab.model.config import LabConfig
from lab.model.figures import Figure, Progress

PREFIX = "b"
FIRST, FULL = 8, 24  # the class of 8 (timed), and a full class of 24
IDLE_S = 20.0


def lab_containers(cfgs: list[LabConfig]) -> list[str]:
    return [h.container for c in cfgs for h in c.topology.hosts] + \
        [f"{c.project}-console" for c in cfgs]


def _memory_mib(names: list[str]) -> float:
    """Memory the containers use now, MiB in all (cgroup usage via the engine)."""
    def usage(name: str) -> float:
        stats = client.api().stats(name, stream=False, one_shot=True) or {}
        return float((stats.get("memory_stats") or {}).get("usage") or 0) / 2**20

    return sum(client.call(f"docker stats {n}", partial(usage, n)) for n in names)


def idle_cpu_percent(names: list[str], seconds: float) -> float | None:
    """CPU the containers used together over `seconds`, % of one core."""
    engine = engine_client()
    if engine is None:
        return None
    try:
        before, t0 = cpu_usage_ns(names, engine), time.monotonic()
        time.sleep(seconds)  # a measuring window, not a wait for a condition
        after, t1 = cpu_usage_ns(names, engine), time.monotonic()
    finally:
        engine.close()
    used = sum((after[n] or 0) - (before[n] or 0) for n in names if before[n] and after[n])
    return 100.0 * used / 1e9 / (t1 - t0)


def class_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    """Class-up time of 8 labs, memory and idle CPU per lab, labs that fit."""
    base = LabConfig.from_env()
    small = classroom.configs(base, FIRST, PREFIX)
    full = classroom.configs(base, FULL, PREFIX)
    classroom.down(full, progress)  # leftovers of an interrupted run
    up8 = Figure(f"class of {FIRST} up", "s", note="from no lab to every host of every lab "
                 "healthy, images built")
    per_lab_mem = Figure("memory per class lab", "MiB", note="the seven hosts and the console, "
                         f"idle, average over {FIRST} labs (cgroup usage)")
    per_lab_cpu = Figure("idle CPU per class lab", "% of one core",
                         note=f"the lab's containers over {IDLE_S:.0f} s, average over "
                         f"{FIRST} labs; the engine's own daemons not included")
    fit = Figure("class labs healthy at once", "labs", note=f"a class grown to {FULL}; "
                 "labs whose seven hosts were all healthy")
    up_full = Figure(f"class of {FULL} up", "s", note="from no lab to every host of every lab "
                     "healthy, images built; aim: at most 60 s")
    try:
        for i in range(reps):
            progress(f"class of {FIRST}: run {i + 1}/{reps}")
            classroom.down(small, progress)
            t0 = time.monotonic()
            result = classroom.up(small, progress)
            if result.failed:
                progress(f"failed: {', '.join(o.name for o in result.failed)}")
                continue
            up8.runs.append(time.monotonic() - t0)
        names = lab_containers(small)
        per_lab_mem.runs.append(_memory_mib(names) / FIRST)
        cpu = idle_cpu_percent(names, IDLE_S)
        if cpu is not None:
            per_lab_cpu.runs.append(cpu / FIRST)
        classroom.down(small, progress)
        progress(f"class of {FULL} from no lab")
        t0 = time.monotonic()
        grown = classroom.up(full, progress)
        up_full.runs.append(time.monotonic() - t0)
        up_full.note += f"; {grown.width} labs started at once (from the cores and free memory)"
        rows = classroom.status(full)
        fit.runs.append(float(sum(r["healthy"] == r["hosts"] for r in rows)))
        if grown.failed:
            fit.note += "; did not come up: " + ", ".join(
                f"{o.name} ({o.error[:60]})" for o in grown.failed)
    finally:
        classroom.down(full, progress)
    return [up8, per_lab_mem, per_lab_cpu, up_full, fit]
