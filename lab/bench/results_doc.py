"""The bench's results document: bench/results.json and docs/benchmarks.md
rendered from it (every number from the file, none typed), a part measured
again merged in, and the scenario suite's times from a JUnit report (every
module under scenarios/ listed, measured or not)."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.bench import course_plan, failover_compare
from lab.engine import client
from lab.model.config import REPO
from lab.model.figures import Figure

SCENARIOS = REPO / "scenarios"
COURSE_PAGE = "course-of-200.md"  # beside docs/benchmarks.md (lab.bench.course_plan)


def scenario_times(junit: Path) -> dict[str, float]:
    """Seconds per scenario test from a pytest JUnit XML report."""
    import xml.etree.ElementTree as ET

    times: dict[str, float] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        if "scenarios" in case.get("classname", ""):
            name = f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}"
            times[name] = float(case.get("time", 0))
    return times


def scenario_modules(folder: Path = SCENARIOS) -> list[str]:
    """The scenario modules (test_*.py in folder) by name, sorted as pytest runs them."""
    return sorted(p.stem for p in folder.glob("test_*.py"))


def scenario_rows(times: dict[str, float], modules: Sequence[str]) -> list[str]:
    """The scenario table's rows: per module, its tests' seconds in the order
    they ran, or the module as not measured yet (none is left out); then
    tests of modules measured but no longer there."""
    measured: dict[str, list[str]] = {}
    for name, secs in times.items():
        measured.setdefault(name.split("::")[0], []).append(f"| {name} | {secs:.1f} |")
    rows = [row for m in modules for row in measured.pop(m, [f"| {m} | not measured yet |"])]
    return rows + [row for gone in measured.values() for row in gone]


def machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    engine = client.server_version()
    return {"cores": os.cpu_count(), "memory_mib": mem, "kernel": platform.release(),
            "docker_engine": engine, "python": platform.python_version()}


def render_markdown(results: dict[str, Any], modules: Sequence[str]) -> str:
    """docs/benchmarks.md from results.json: every number comes from it;
    `modules`, the scenario modules, each get a row in the scenario table."""
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench{' QUICK=1' if results['quick'] else ''}` on "
        f"{results['when']}: {m['cores']} cores, {m['memory_mib']} MiB memory, "
        f"Docker Engine {m['docker_engine']}, kernel {m['kernel']}. "
        "Regenerate with `make bench`; this file is written from `bench/results.json`.",
        "",
        "| figure | median | min | max | runs | unit | note |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    if results.get("parts"):
        lines[3:3] = [" ".join(f"Part `{p}` measured again on {when} (`foolab bench --only {p}`)."
                               for p, when in results["parts"].items()), ""]

    def fmt(v: float | None) -> str:
        return "-" if v is None else (f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}")

    for f in results["figures"]:
        lines.append(f"| {f['name']} | {fmt(f['median'])} | {fmt(f['min'])} | {fmt(f['max'])} "
                     f"| {len(f['runs'])} | {f['unit']} | {f['note']} |")
    if results.get("memory_mib"):
        lines += ["", "Memory of the running lab (idle, MiB):", "",
                  "| host | MiB |", "|---|---:|"]
        for host, mib in results["memory_mib"].items():
            lines.append(f"| {host} | {mib:.1f} |")
    if results.get("failover_compare"):
        lines += ["", "The same kill of db1 under the same writes, three ways (`foolab failover "
                  f"compare`, {results.get('failover_compare_when', results['when'])}):", "",
                  failover_compare.table(results["failover_compare"])]
    if results.get("scenarios") or modules:
        source = results.get("scenarios_source", "no scenario run timed yet")
        lines += ["", f"Scenario suite ({source}):", "", "| scenario | seconds |", "|---|---:|",
                  *scenario_rows(results.get("scenarios", {}), modules)]
    return "\n".join(lines) + "\n"


def read_results(folder: Path) -> dict[str, Any]:
    path = folder / "results.json"
    return dict(json.loads(path.read_text())) if path.exists() else {
        "when": None, "quick": False, "machine": machine(), "figures": []}


def write_results(results: dict[str, Any], folder: Path, doc: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    write_doc(results, doc)


def write_doc(results: dict[str, Any], doc: Path) -> None:
    """docs/benchmarks.md, and the course of 200 sized from them, from the
    results (`foolab bench --render`: from the committed file, nothing
    measured)."""
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render_markdown(results, scenario_modules()))
    (doc.parent / COURSE_PAGE).write_text(course_plan.render(results))


# Rows a part's code no longer writes under these names: dropped when the
# part is measured again, so no figure outlives the code that named it.
SUPERSEDED = {
    "failover": ("failover (async): kill db1 -> first write through web1",
                 "failover (semi-sync): kill db1 -> first write through web1",
                 "acknowledged writes lost (semi-sync)"),
    "cluster": ("cluster of 2 nodes up", "class of 8 up on 2 nodes",
                "class of 8 up on this machine"),
}


def merge_part(results: dict[str, Any], part: str, figures: list[Figure]) -> dict[str, Any]:
    """The results document with one part measured again: figures of the same
    name replaced in place, new ones added, superseded ones dropped, and when
    the part was measured."""
    fresh = {f.name: f.as_dict() for f in figures}
    gone = set(SUPERSEDED.get(part, ()))
    kept = [fresh.pop(f["name"], f) for f in results.get("figures", [])
            if f["name"] not in gone]
    merged = dict(results, figures=kept + list(fresh.values()))
    merged["parts"] = dict(results.get("parts", {}),
                           **{part: time.strftime("%Y-%m-%d %H:%M:%S %Z")})
    return merged


def merge_results(key: str, value: Any, figures: list[Figure], folder: Path, doc: Path) -> None:
    """Put one measured part (e.g. `foolab failover compare`) into the last
    results file, replacing its figures of the same names; rewrite the doc."""
    results = merge_part(read_results(folder), key, figures)
    results[key], results[f"{key}_when"] = value, time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_results(results, folder, doc)
