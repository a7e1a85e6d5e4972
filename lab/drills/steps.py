"""Runbooks: the article's procedures as ordered, named steps.

Each step is a real command on a real host (or a docker command on this
machine, "engine") followed by a check that reads the result through the
real clients. `execute` runs a runbook and returns what happened as data;
the CLI narrates it for a class (`foolab runbook NAME --narrate`), the
scenarios assert on it. Where the 2006 syntax no longer works, the step
carries the article's form and the modern one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab.engine.lab import Lab
from lab.engine.process import quote, run
from lab.model import events
from lab.model.errors import LabError

Check = Callable[[Lab], str]  # returns what it saw; raises LabError when the check fails
ENGINE = "engine"  # steps run on this machine (docker commands), not in a host


@dataclass(frozen=True)
class Step:
    title: str
    where: str  # a host name, or ENGINE
    command: tuple[str, ...]  # empty: the step only checks
    check: Check | None = None
    article: str = ""  # how the 2006 article does it, where it differs
    modern: str = ""  # why it is done differently today
    stdout_to: Path | None = None  # save the command's output (a dump)
    stdin_from: Path | None = None  # feed a file to the command (a reload)
    timeout: float = 120


@dataclass(frozen=True)
class Runbook:
    name: str
    summary: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class StepResult:
    step: Step
    exit_code: int
    output: str
    checked: str  # what the check saw ("" when the step has none)
    ok: bool
    seconds: float


@dataclass
class RunbookResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)


def execute(lab: Lab, book: Runbook, on_step: Callable[[StepResult], None] | None = None,
            ) -> RunbookResult:
    """Run the steps in order; stop at the first command or check that fails."""
    result = RunbookResult(book.name)
    state_dir = lab.config.state_dir
    events.record(state_dir, events.RUNBOOK_STARTED, f"runbook {book.name}: {book.summary}")
    for step in book.steps:
        t0 = time.monotonic()
        code, output = _run_command(lab, step)
        checked, ok = "", code == 0
        if ok and step.check is not None:
            try:
                checked = step.check(lab)
            except LabError as exc:
                checked, ok = str(exc), False
        done = StepResult(step, code, output, checked, ok, time.monotonic() - t0)
        result.steps.append(done)
        events.record(state_dir, events.RUNBOOK_STEP, f"{book.name}: {step.title}"
                      + ("" if ok else f" FAILED: {(checked or output)[-120:]}"),
                      "" if step.where == ENGINE else step.where, ok=ok)
        if on_step:
            on_step(done)
        if not ok:
            break
    events.record(state_dir, events.RUNBOOK_DONE, f"runbook {book.name} "
                  + ("done and checked" if result.ok else "failed"), ok=result.ok)
    return result


def _run_command(lab: Lab, step: Step) -> tuple[int, str]:
    if not step.command:  # a step that only checks
        return 0, ""
    stdin = step.stdin_from.read_text() if step.stdin_from else None
    if step.where == ENGINE:
        out = run(step.command, timeout=step.timeout, input=stdin)
    else:
        out = lab.exec(step.where, step.command, timeout=step.timeout, input=stdin)
    text = out.stdout
    if step.stdout_to is not None and out.returncode == 0:
        step.stdout_to.parent.mkdir(parents=True, exist_ok=True)
        step.stdout_to.write_text(out.stdout)
        text = f"({len(out.stdout.splitlines())} lines written to {step.stdout_to})"
    return out.returncode, (text + out.stderr).strip()


def sql(statement: str) -> tuple[str, ...]:
    """The mysql monitor on a database host, as root through the socket."""
    return ("mariadb", "-e", statement)


def docker(*args: str) -> tuple[str, ...]:
    return ("docker", *args)


def narrate(result: StepResult, number: int, secrets: Sequence[str]) -> str:
    """One narrated runbook step as text (the CLI prints it): what runs where,
    its real output, the check, with the lab's secrets hidden."""

    def hide(text: str) -> str:
        for s in secrets:
            text = text.replace(s, "****")
        return text

    step = result.step
    where = "this machine" if step.where == ENGINE else step.where
    shown = (f"mysql> {step.command[2]}" if step.command[:2] == ("mariadb", "-e")
             else f"$ {quote(step.command)}" if step.command else "(check only)")
    lines = [f"-- step {number}: {step.title} (on {where})", hide(shown)]
    if step.stdin_from:
        lines[-1] += f" < {step.stdin_from.name}"
    if result.output:
        lines += ["  " + line for line in hide(result.output).splitlines()[:25]]
    if step.article:
        lines.append(f"   2006: {step.article}")
    if step.modern:
        lines.append(f"   today: {step.modern}")
    status = "ok" if result.ok else f"FAILED (exit {result.exit_code})"
    checked = f": {hide(result.checked)}" if result.checked else ""
    lines.append(f"   check {status}{checked} [{result.seconds:.1f} s]")
    return "\n".join(lines)
