"""The class's grades in the files a school's platform imports as they are.

Each lab keeps its last grade of every exercise it has run (grades.record,
`grades-by-exercise.json`), so a lesson of several exercises gives one
column per exercise: points out of the exercise's total, blank where the
student has no grade in it (both platforms leave a blank cell unchanged).

- Moodle (Grades > Import > CSV file): the column `Email address` matches
  users (map it to "email"), then one column per exercise, mapped to a
  grade item each.
- Canvas (Grades > Import): its gradebook's own columns `Student`, `ID`,
  `SIS User ID`, `SIS Login ID`, `Section`, then one column per exercise,
  and a `Points Possible` row giving each exercise's total. The student is
  matched by SIS Login ID (the e-mail, the usual login); ID and SIS User ID
  are Canvas's own numbers, which foolab does not know, and are left blank.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = ("moodle", "canvas")
MOODLE_USER = "Email address"
CANVAS_HEAD = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"  # as Canvas writes it: first cell of the second row


@dataclass(frozen=True)
class Graded:
    """One student and their last points in each exercise they ran."""

    name: str
    email: str
    points: dict[str, int]


def _sortable(name: str) -> str:
    """'Ada Lovelace' -> 'Lovelace, Ada', the form Canvas's gradebook shows."""
    first, _, last = name.strip().rpartition(" ")
    return f"{last}, {first}" if first else name.strip()


def render(fmt: str, students: Sequence[Graded], totals: dict[str, int]) -> str:
    """The file for platform `fmt`; `totals`: each exercise's points, in the
    order of the columns."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    exercises = list(totals)
    if fmt == "moodle":
        w.writerow([MOODLE_USER, *exercises])
        for s in students:
            w.writerow([s.email, *[s.points.get(e, "") for e in exercises]])
    elif fmt == "canvas":
        w.writerow([*CANVAS_HEAD, *exercises])  # a new assignment each, named so
        w.writerow([CANVAS_POINTS, "", "", "", "", *[totals[e] for e in exercises]])
        for s in students:
            w.writerow([_sortable(s.name), "", "", s.email, "",
                        *[s.points.get(e, "") for e in exercises]])
    else:
        raise ValueError(f"no platform format {fmt!r}: {', '.join(FORMATS)}")
    return out.getvalue()
