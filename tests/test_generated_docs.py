"""Documents written by code stay exactly what the code writes.

Each one is rendered again, by the project's own renderer, from the data
file committed beside it, and compared with the committed text: a number
edited by hand, a renderer changed without regenerating, or data committed
without its document fails here. No Docker: only the committed files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.bench import course_plan
from lab.bench.results_doc import COURSE_PAGE, render_markdown, scenario_modules
from lab.classweb import holds, share_doc
from lab.load import study

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
MARKER = re.compile(r"<!-- ([\w-]+):begin\b")


def _load_study() -> dict[str, Any]:
    return dict(json.loads((DOCS / "load-study.json").read_text()))


def test_benchmarks_page_is_what_the_bench_renders_from_its_results():
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert (DOCS / "benchmarks.md").read_text() == render_markdown(results, scenario_modules()), (
        "docs/benchmarks.md is not what lab/bench/results_doc.py writes from bench/results.json "
        "(foolab bench --render writes it again)")


def test_course_page_is_what_the_plan_renders_from_the_bench_results():
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert (DOCS / COURSE_PAGE).read_text() == course_plan.render(results), (
        f"docs/{COURSE_PAGE} is not what lab/bench/course_plan.py writes from "
        "bench/results.json (foolab bench --render writes it again)")


def test_load_study_page_is_what_the_study_renders_from_its_data():
    data = _load_study()
    # write_study links each plot it wrote; the committed ones are those it wrote
    figures = [f for f in ("load-study/shares.png",
                           *(f"load-study/{t.key}.png" for t in study.THROUGH))
               if (DOCS / f).exists()]
    assert (DOCS / "load-study.md").read_text() == study.render(
        data["modes"], data["during"], data["written"], figures), (
        "docs/load-study.md is not what lab/load/study.py writes from docs/load-study.json")


def _load_block() -> str:
    data = _load_study()
    return study.readme_block(data["modes"], data["written"])


# Every README block that code writes between `<!-- NAME:begin ... -->` and
# `<!-- NAME:end -->`: NAME -> (the block as it stands, the block rendered
# again from its committed data).
README_BLOCKS: dict[str, tuple[Callable[[str], str | None], Callable[[], str]]] = {
    "load-study": (study.readme_block_in, _load_block),
    "class-holds": (holds.readme_block_in, holds.readme_block),
    "class-share": (share_doc.readme_block_in, share_doc.readme_block),
}


def test_every_marked_readme_block_has_a_renderer_checked_here():
    assert sorted(set(MARKER.findall(README.read_text()))) == sorted(README_BLOCKS)


@pytest.mark.parametrize("name", sorted(README_BLOCKS))
def test_readme_block_is_what_its_code_renders_from_its_data(name: str):
    committed, rendered = README_BLOCKS[name]
    assert committed(README.read_text()) == rendered(), (
        f"README.md's {name} block is not what its code writes from the committed data")


def test_scenario_table_names_every_scenario_module():
    """Each scenarios/test_*.py has a row in the benchmarks page's scenario
    table: its measured tests, or the module as not measured yet."""
    page = (DOCS / "benchmarks.md").read_text()
    assert "\nScenario suite" in page, "docs/benchmarks.md has no scenario table"
    table = page.split("\nScenario suite", 1)[1]
    named = {row.split("|")[1].strip().split("::")[0]
             for row in table.splitlines() if row.startswith("| test_")}
    modules = {p.stem for p in (REPO / "scenarios").glob("test_*.py")}
    assert sorted(modules - named) == []
