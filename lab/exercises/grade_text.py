"""Grades rendered for the teacher (a table per class: Markdown, CSV for a
spreadsheet, JSON for other tools) and self-checks for the student (goals
with hints, never the fix). Text only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from lab.exercises.definitions import Grade

FORMATS = ("md", "csv", "json")


def _columns(grades: Sequence[Grade]) -> list[str]:
    names: list[str] = []
    for g in grades:
        names += [r.name for r in g.goals if r.name not in names]
    return names


def render(grades: Sequence[Grade], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([g.as_dict() for g in grades], indent=1) + "\n"
    goals = _columns(grades)
    rows = [["lab", "exercise", "seed", *goals, "points", "out of"]]
    for g in grades:
        passed = {r.name: r.passed for r in g.goals}
        rows.append([g.lab, g.exercise, g.seed,
                     *[("yes" if passed[n] else "no") if n in passed else "" for n in goals],
                     str(g.points), str(g.out_of)])
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


def self_check(grade: Grade) -> str:
    """What `foolab check` shows a student: each goal, held or not, and
    where to look for the ones that do not hold."""
    lines = [f"exercise {grade.exercise}: {grade.points}/{grade.out_of} points"]
    for g in grade.goals:
        mark = "ok " if g.passed else "-- "
        lines.append(f"  {mark}{g.name} ({g.points})" + ("" if g.passed else f": {g.hint}"))
    return "\n".join(lines)
