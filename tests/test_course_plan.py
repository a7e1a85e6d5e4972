"""The course of 200 on paper (lab.bench.course_plan): sized from the
cluster bench's figures by the lab's own rules, never typed."""

from __future__ import annotations

from typing import Any

from lab.bench import cluster_cost as cc
from lab.bench import course_plan
from lab.model import bounds


def results(**figures: float) -> dict[str, Any]:
    return {"when": "then", "parts": {"cluster": "2026-12-07"},
            "figures": [{"name": n, "median": v} for n, v in figures.items()]}


MEASURED = {cc.NODE_MEMORY: 130.0, cc.LAB_MEMORY_NODE: 250.0, cc.LAB_CPU_NODE: 1.0,
            cc.ROUND_NODES: 2.4}


def test_a_machine_holds_what_the_placement_puts_there_and_memory_gives_out_first() -> None:
    fig = dict(MEASURED)
    small, mid, big = course_plan.sizes(fig, bounds.LabBounds(memory_mib=768, cpus=1.5))
    assert small.placed == (16 * 1024 - 512) // 300 == 52
    assert small.by_idle_memory == int((16 * 1024 - 512 - 130) // 250)
    assert small.by_bound == (16 * 1024 - 1024) // 768 and small.by_cpu_bound == 2
    assert small.by_idle_cpu == 400
    assert small.machines == 4 and small.first_out.startswith("memory")
    assert big.machines == 1 and mid.placed > small.placed


def test_cpu_at_idle_gives_out_first_when_labs_are_busy_at_rest() -> None:
    fig = {**MEASURED, cc.LAB_CPU_NODE: 20.0}
    small = course_plan.sizes(fig, bounds.LabBounds())[0]
    assert small.by_idle_cpu == 20 and small.first_out == "CPU at idle"


def test_the_page_comes_from_the_file_and_says_what_is_not_measured() -> None:
    page = course_plan.render(results(**MEASURED, **{cc.ROUND_HERE: 1.2}))
    assert "| memory per lab on a node | 250.00 |" in page
    assert "52 | " in page and "gives out first" in page
    assert "about 20 s: within the 30 s" in page  # 2.4 s / 24 labs x 200
    assert "lab-side channel's cost per probe" in page  # not built: said, not invented
    slow = course_plan.render(results(**{**MEASURED, cc.ROUND_NODES: 6.0}))
    assert "about 50 s: over the 30 s" in slow
    first = slow.split("## What gives out first")[1].strip().splitlines()[0]
    assert first.startswith("- On the manager") and "before any machine's memory" in first
    empty = course_plan.render(results())
    assert "Not measured yet" in empty and "|" not in empty
