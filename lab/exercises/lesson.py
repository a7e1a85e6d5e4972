"""Running the lesson: an exercise started or stopped in one lab or the
whole class, and a lab gone wrong reset to a fresh one, each student with
their own seed. Shared by `foolab class exercise` / `class reset LAB` and
the teacher's grid (classweb.lesson_controls), so both do the same thing.
"""

from __future__ import annotations

from lab.engine.lab import Lab
from lab.exercises import classroom, grader
from lab.model.config import LabConfig
from lab.model.errors import LabError
from lab.model.figures import Progress


def seed_of(base: LabConfig, name: str) -> str:
    """The student's seed (the roster's), or one line saying why none."""
    seed = classroom.require_roster(base).seed(name)
    if seed is None:
        raise LabError(f"lab {name} has no student in the class's roster",
                       hint="`foolab class access` lists the students' labs")
    return seed


def start(base: LabConfig, name: str, exercise: str) -> str:
    """`exercise` in lab `name` with its student's seed; what to say."""
    seed = seed_of(base, name)
    lab = Lab(base.for_lab(name))
    with lab.network():
        grader.start(lab, exercise, seed)
    return f"lab {name}: {exercise} started"


def stop(base: LabConfig, name: str) -> str:
    """The lab's exercise stopped (the lab healed); what to say."""
    lab = Lab(base.for_lab(name))
    with lab.network():
        return f"lab {name}: {grader.stop(lab)}"


def reset(base: LabConfig, name: str, progress: Progress) -> str:
    """Lab `name` as it was given: removed (its grades, writer log and
    recordings kept aside, classroom.clear), started again where it was
    (this machine, or placed on the cluster again), and the exercise it ran
    started again with the same seed. What to say at the end."""
    classroom.require_lab(base, name)
    cfg = base.for_lab(name)
    ran = grader.running(Lab(cfg))
    on_nodes = classroom.placement(cfg) is not None
    progress(f"[{name}] resetting: removing the lab"
             + (f" (it ran {ran.exercise})" if ran else ""))
    (gone,) = classroom.down([cfg], progress)
    if not gone.ok:
        raise LabError(f"lab {name} could not be removed", gone.error or "",
                       "`foolab class status`, then `foolab class reset` again")
    progress(f"[{name}] resetting: starting a fresh lab")
    result = classroom.up([cfg], progress, swarm=on_nodes)
    if result.failed:
        raise LabError(f"lab {name} did not come up again", result.failed[0].error or "",
                       "`foolab class up` starts what is missing")
    if ran is None:
        return f"lab {name}: reset, no exercise to start again"
    progress(f"[{name}] resetting: starting {ran.exercise} again")
    lab = Lab(cfg)
    with lab.network():
        grader.start(lab, ran.exercise, ran.seed)  # the same seed: the same breakage
    return f"lab {name}: reset, {ran.exercise} started again with the same seed"
