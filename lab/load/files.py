"""The load study's files: the reports written to a folder, Locust's CSV read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from lab.load.ceiling import Ceiling, ceiling_dict, render_ceiling
from lab.load.plots import plot_compare, plot_run
from lab.load.study_report import compare_dict, render_compare, render_markdown
from lab.load.summary import RunSummary, summary_dict


def parse_locust_csv(text: str) -> list[dict[str, str]]:
    """Rows of Locust's *_stats.csv (Type, Name, Request Count, ...)."""
    return list(csv.DictReader(io.StringIO(text)))


def write_run_report(summary: RunSummary, folder: Path, plot: bool = True) -> list[Path]:
    """report.md, report.json and distribution.png of one run into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if plot:
        png = folder / "distribution.png"
        if plot_run(summary, png):
            written.append(png)
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    files = sorted({*present, "report.md", "report.json"})
    (folder / "report.json").write_text(json.dumps(summary_dict(summary), indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(summary, files))
    return [folder / "report.md", folder / "report.json", *written]


def write_compare_report(summaries: Sequence[RunSummary], folder: Path,
                         plot: bool = True) -> list[Path]:
    """compare.md, compare.json and compare.png into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "compare.png"
    has_png = plot and plot_compare(summaries, png)
    (folder / "compare.json").write_text(json.dumps(compare_dict(summaries), indent=2) + "\n")
    (folder / "compare.md").write_text(render_compare(summaries, png.name if has_png else None))
    return [folder / "compare.md", folder / "compare.json", *([png] if has_png else [])]


def write_ceiling_report(c: Ceiling, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ceiling.json").write_text(json.dumps(ceiling_dict(c), indent=2) + "\n")
    (folder / "ceiling.md").write_text(render_ceiling(c))
    return [folder / "ceiling.md", folder / "ceiling.json"]
