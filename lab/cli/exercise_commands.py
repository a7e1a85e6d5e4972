"""foolab exercise | check | grade: a broken lab to repair, and the grader."""

from __future__ import annotations

import argparse
import time

from lab.cli.command import Command
from lab.cli.output import say
from lab.engine.lab import Lab
from lab.exercises.definitions import Grade
from lab.model.config import REPO
from lab.model.errors import LabError


def add_exercise(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ex = sub.add_parser("exercise", help="set a broken lab to repair (list, start, stop)")
    ex.add_argument("action", choices=["list", "start", "stop"])
    ex.add_argument("name", nargs="?", help="start: which exercise (see list)")
    ex.add_argument("--seed", help="start: the student's seed (e.g. an e-mail address): the "
                    "same seed, the same breakage (a lab of a roster: its student's own)")
    ex.add_argument("--variant", help="start: this way of breaking the lab instead of the "
                    "seed's (see list)")


def add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("check", help="a student's self-check of the running exercise")


def add_grade(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gr = sub.add_parser("grade", help="grade the running exercise (teacher)")
    gr.add_argument("--class", dest="whole_class", action="store_true",
                    help="every lab of the class that runs an exercise (foolab class up)")
    gr.add_argument("--format", choices=["md", "csv", "json"], default="md")


def cmd_exercise(lab: Lab, args: argparse.Namespace) -> int:
    """Exercises: the lab breaks itself in a seeded way; students repair it."""
    from lab.exercises import grader
    from lab.exercises.catalog import EXERCISES

    if args.action == "list":
        for ex in EXERCISES:
            print(f"{ex.name:24} {ex.section}\n{'':24} the student notices: {ex.notice}")
            if ex.variants:
                print(f"{'':24} variants (--variant): {', '.join(ex.variants)}")
        return 0
    if args.action == "stop":
        lab.require_up()
        say(f"exercise {grader.stop(lab)} stopped; the lab is healthy again")
        return 0
    from lab.exercises.classroom import student_seed

    seed = args.seed or student_seed(lab.config)  # a roster's lab: its student's seed
    if not args.name or not seed:
        raise LabError("exercise start needs a NAME and --seed", hint="`foolab exercise list`")
    exercise, started = grader.start(lab, args.name, seed, args.variant)
    print(f"== {exercise.name} (seed {started.seed}): {exercise.section}\n")
    print(exercise.brief(started.params))
    print("\nfoolab check: which goals hold, with hints.")
    return 0


def cmd_check(lab: Lab, args: argparse.Namespace) -> int:
    """A student's self-check: goals held, hints for the others, never the fix."""
    from lab.exercises import grade_text, grader

    lab.require_up()
    result = grader.grade(lab)
    text = grade_text.self_check(result)
    folder = REPO / "reports" / "exercises"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"check-{result.lab}-{time.strftime('%Y%m%d-%H%M%S')}.txt").write_text(text + "\n")
    print(text)
    return 0 if result.points == result.out_of else 1


def cmd_grade(lab: Lab, args: argparse.Namespace) -> int:
    """The teacher's grade table (one row per lab), printed and under reports/."""
    from lab.exercises import grade_text, grader

    if args.whole_class:
        grades = grade_class(lab)
    else:
        lab.require_up()
        grades = [grader.grade(lab, lab.config.lab)]
    paths = grader.write_reports(grades, REPO / "reports" / "exercises",
                                 time.strftime("grades-%Y%m%d-%H%M%S"))
    print(grade_text.render(grades, args.format), end="")
    say("written: " + ", ".join(str(p.relative_to(REPO)) for p in paths), err=True)
    return 0


def grade_class(base: Lab) -> list[Grade]:
    """One grade per lab of the class that runs an exercise, each read from
    inside its own lab."""
    from lab.exercises import classroom, grader

    if base.config.lab:
        raise LabError("--class grades every lab; drop --lab (or FOOLAB_LAB)")
    grades = []
    names = classroom.labs(base.config)
    for name in names:
        lab = Lab(base.config.for_lab(name))
        if grader.running(lab) is None:
            say(f"lab {name}: no exercise started, not graded", err=True)
            continue
        with lab.network():
            grades.append(grader.grade(lab, name))
    if not grades:
        raise LabError("no lab of the class runs an exercise",
                       "labs: " + (", ".join(names) or "none"),
                       "`foolab --lab NAME exercise start EXERCISE --seed SEED`")
    return grades


COMMANDS = {"exercise": Command(add_exercise, cmd_exercise),
            "check": Command(add_check, cmd_check), "grade": Command(add_grade, cmd_grade)}
