"""Exercises and grades as plain data (no Docker): what an exercise is, the
parameters a seed gives it, the record of one started on a lab, and the
verdict of each goal. Labtainers' way: goals read from evidence in the lab,
per-student parameters from a seed, a grade table per student."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.model.errors import LabError

SYMPTOM, DATA, REPAIR = "symptom", "data", "repair"  # what a goal judges


def rng(exercise: str, seed: str) -> random.Random:
    """The same seed gives the same breakage, another seed (usually) another."""
    digest = hashlib.sha256(f"{exercise}\0{seed}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class GoalResult:
    name: str
    passed: bool
    points: int
    hint: str
    kind: str
    seen: str  # what the grader observed, for the teacher (never the fix)


@dataclass(frozen=True)
class Goal:
    """One thing a repaired lab must show. `check` reads the lab (through the
    probes) and returns (passed, what it saw); it never changes what it
    judges."""

    name: str
    kind: str  # SYMPTOM, DATA or REPAIR
    points: int
    hint: str  # for `foolab check`: where to look, never the fix
    check: Callable[[Any, Started], tuple[bool, str]]


@dataclass(frozen=True)
class Cheat:
    """A cheap or wrong repair the grader must catch: applied to the broken
    lab, it fails goal `fails` (while, usually, the symptom looks fixed).
    `only`: the variants it applies to (every variant when empty)."""

    repair: Callable[[Any, Started], None]
    fails: str
    only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exercise:
    name: str
    section: str  # the article's section it practises
    notice: str  # what the student will notice, as a user or administrator would
    choose: Callable[[random.Random], dict[str, Any]]  # seed -> parameters
    brief: Callable[[dict[str, Any]], str]  # the student's brief: symptoms only
    goals: tuple[Goal, ...]
    breaks: Callable[[Any, Started], None]  # break the lab (after the writer starts)
    solve: Callable[[Any, Started], None]  # the project's own repair (runbooks)
    heal: Callable[[Any, Started], None]  # back to the healthy lab, whatever was done
    # Cheap or wrong repairs the grader must catch, by name.
    cheats: dict[str, Cheat] = field(default_factory=dict)
    uses_writer: bool = False  # a writer sends orders while the lab is broken
    # The ways the seed may break the lab (params["variant"]); () for one way.
    variants: tuple[str, ...] = ()

    def params(self, seed: str, variant: str | None = None) -> dict[str, Any]:
        """The seed's parameters; `variant` forces one way of breaking (the
        gold tests go through every one)."""
        chosen = self.choose(rng(self.name, seed))
        if variant is not None:
            if variant not in self.variants:
                raise LabError(f"{self.name} has no variant {variant!r}",
                               hint="one of " + (", ".join(self.variants) or "(none)"))
            chosen["variant"] = variant
        return chosen

    def cheats_for(self, variant: str) -> dict[str, Cheat]:
        """The cheap repairs that apply to one variant ("" for the only way)."""
        return {n: c for n, c in self.cheats.items() if not c.only or variant in c.only}

    def goal(self, name: str) -> Goal:
        return next(g for g in self.goals if g.name == name)


@dataclass
class Started:
    """An exercise started on a lab: kept in the lab's state folder."""

    exercise: str
    seed: str
    params: dict[str, Any]
    started_at: float = field(default_factory=time.time)
    writer: str = ""  # the in-lab writer's tag ("" when the exercise has none)
    baseline: dict[str, Any] = field(default_factory=dict)  # facts recorded at start

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Started | None:
        return cls(**json.loads(path.read_text())) if path.exists() else None


@dataclass(frozen=True)
class Grade:
    """One lab's grade: its exercise, seed and every goal's verdict."""

    lab: str
    exercise: str
    seed: str
    goals: tuple[GoalResult, ...]

    @property
    def points(self) -> int:
        return sum(g.points for g in self.goals if g.passed)

    @property
    def out_of(self) -> int:
        return sum(g.points for g in self.goals)

    def as_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "exercise": self.exercise, "seed": self.seed,
                "points": self.points, "out_of": self.out_of,
                "goals": [{"name": g.name, "passed": g.passed, "points": g.points,
                           "hint": g.hint, "kind": g.kind, "seen": g.seen}
                          for g in self.goals]}


def find(catalog: Sequence[Exercise], name: str) -> Exercise:
    for ex in catalog:
        if ex.name == name:
            return ex
    raise LabError(f"unknown exercise {name!r}",
                   hint="one of " + ", ".join(e.name for e in catalog))
