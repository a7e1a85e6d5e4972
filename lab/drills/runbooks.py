"""Runbooks: the article's procedures as ordered, named steps (the step
engine is lab.drills.steps; the procedures are in lab.drills.replication
and lab.drills.failover). This module is their one registry."""

from __future__ import annotations

from collections.abc import Callable

from lab.drills.failover import promote_replica, rejoin_old_master, switch_back
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

__all__ = ["ENGINE", "RUNBOOKS", "Runbook", "RunbookResult", "Step", "StepResult", "execute",
           "narrate", "check_replication", "promote_replica", "rebuild_replica",
           "rejoin_old_master", "semi_sync", "switch_back"]

RUNBOOKS: dict[str, Callable[..., Runbook]] = {
    "semi-sync": semi_sync,
    "check-replication": check_replication,
    "rebuild-replica": rebuild_replica,
    "promote-replica": promote_replica,
    "rejoin-old-master": rejoin_old_master,
    "switch-back": switch_back,
}
