"""Every exercise the lab can set, in the order a course meets them."""

from __future__ import annotations

from lab.exercises.databases import (
    MASTER_DEAD,
    OLD_MASTER_BACK,
    READS_FROM_DEAD_REPLICA,
    REPLICA_BROKEN,
)
from lab.exercises.definitions import Exercise
from lab.exercises.nameservers import NS2_STALE
from lab.exercises.services import SESSIONS_LOST, WEB_STALE

EXERCISES: tuple[Exercise, ...] = (
    REPLICA_BROKEN, MASTER_DEAD, OLD_MASTER_BACK, NS2_STALE, WEB_STALE, SESSIONS_LOST,
    READS_FROM_DEAD_REPLICA,
)
