"""Runbooks: the article's procedures as ordered, named steps (the step
engine is lab.drills.steps; the procedures are in lab.drills.replication
and lab.drills.dead_master). This module is their one registry."""

from __future__ import annotations

from collections.abc import Callable

from lab.drills.dead_master import promote_replica, rejoin_old_master, switch_back
from lab.drills.replication import check_replication, rebuild_replica, semi_sync
from lab.drills.steps import (
    ENGINE,
    Runbook,
    RunbookResult,
    Step,
    StepResult,
    execute,
    narrate,
)
from lab.engine.lab import Lab
from lab.model.errors import LabError

__all__ = ["ENGINE", "RUNBOOKS", "run", "Runbook", "RunbookResult", "Step", "StepResult",
           "execute", "narrate", "check_replication", "promote_replica", "rebuild_replica",
           "rejoin_old_master", "semi_sync", "switch_back"]

RUNBOOKS: dict[str, Callable[..., Runbook]] = {
    "semi-sync": semi_sync,
    "check-replication": check_replication,
    "rebuild-replica": rebuild_replica,
    "promote-replica": promote_replica,
    "rejoin-old-master": rejoin_old_master,
    "switch-back": switch_back,
}


def run(lab: Lab, book: Runbook) -> RunbookResult:
    """Run a runbook silently; a one-line LabError naming the step that failed."""
    result = execute(lab, book)
    failed = result.failed
    if failed is not None:
        raise LabError(f"runbook {book.name} failed at {failed.step.title!r}",
                       failed.checked or failed.output)
    return result
