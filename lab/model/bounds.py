"""How much of the machine one class lab may take, as plain data.

A student is root in every host of their lab: they can fill memory, start
thousands of processes and spin every core. Each class lab therefore runs
under a parent control group of its own with a memory and a process bound
and equal CPU weight, every host inside it under a bound of its own, and all
the labs together under one group that leaves a reserve for the class
server, the engine and the teacher's commands (lab.engine.cgroups writes
them; compose/class.yml puts each host in its lab's group).

Sizes come from measured figures: an idle lab holds about 230 MiB and 75
processes (`docker stats` of a class lab, bench "class" rows); an exercise
and a load run add a few dozen Apache and MariaDB workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lab.model.errors import LabError

# Below this a lab does not start and run an exercise (idle ~230 MiB).
MIN_LAB_MEMORY_MIB = 400
MIN_LAB_PIDS = 200  # idle ~75; Apache's 24 workers x 3, MariaDB's threads
# For the machine itself, outside every lab: the class server, the engine,
# the teacher's commands, the writers and the grader.
RESERVE_MEMORY_MIB = 1024
RESERVE_PIDS = 4096
# Each host's own bound inside its lab's (a host cannot take the whole lab's
# share from the other six): compose/class.yml sets the same figures.
HOST_PIDS = 300
CGROUP_ROOT = "foolab-class"  # the group all labs of this machine share


@dataclass(frozen=True)
class LabBounds:
    """One lab's share: memory (MiB), processes, CPU time (cores, over a
    100 ms period) and weight (equal for every lab)."""

    memory_mib: int = 768
    pids: int = 1000
    cpus: float = 1.5
    cpu_weight: int = 100  # cgroup v2's default weight; v1 shares = weight * 1024 / 100

    def __post_init__(self) -> None:
        if self.memory_mib < MIN_LAB_MEMORY_MIB:
            raise LabError(f"a lab's memory bound of {self.memory_mib} MiB is below the "
                           f"{MIN_LAB_MEMORY_MIB} MiB a lab needs to start and run an exercise",
                           hint=f"FOOLAB_LAB_MEMORY_MIB={MIN_LAB_MEMORY_MIB} or more")
        if self.pids < MIN_LAB_PIDS:
            raise LabError(f"a lab's process bound of {self.pids} is below the {MIN_LAB_PIDS} "
                           "a lab needs", hint=f"FOOLAB_LAB_PIDS={MIN_LAB_PIDS} or more")
        if not 0.1 <= self.cpus <= 64:
            raise LabError(f"a lab's CPU bound of {self.cpus} cores is out of range",
                           hint="FOOLAB_LAB_CPUS between 0.1 and the machine's cores")

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 1024 * 1024

    @property
    def cpu_quota_us(self) -> int:
        """CFS quota over a 100 ms period."""
        return int(self.cpus * 100_000)

    @property
    def cpu_shares(self) -> int:
        return self.cpu_weight * 1024 // 100


def from_env(cores: int | None = None, environ: dict[str, str] | None = None) -> LabBounds:
    """The defaults, a CPU bound of all cores but half a one (at least one
    core), then FOOLAB_LAB_MEMORY_MIB, FOOLAB_LAB_PIDS, FOOLAB_LAB_CPUS. A bad
    value is one LabError, before anything starts."""
    env = os.environ if environ is None else environ
    n = cores or os.cpu_count() or 1
    values: dict[str, float] = {"cpus": max(1.0, n - 0.5)}
    for key, field_name, kind in (("FOOLAB_LAB_MEMORY_MIB", "memory_mib", int),
                                  ("FOOLAB_LAB_PIDS", "pids", int),
                                  ("FOOLAB_LAB_CPUS", "cpus", float)):
        if env.get(key):
            try:
                values[field_name] = kind(env[key])
            except ValueError:
                raise LabError(f"{key}={env[key]!r} is not a number") from None
    return LabBounds(**values)  # type: ignore[arg-type]


def class_total(available_mib: int, pid_max: int) -> tuple[int, int]:
    """The bound of all labs together (memory MiB, processes): the machine
    less the reserve."""
    return max(0, available_mib - RESERVE_MEMORY_MIB), max(0, pid_max - RESERVE_PIDS)


def how_many_fit(available_mib: int, pid_max: int, bounds: LabBounds) -> int:
    """Labs whose whole share the machine holds beside the reserve."""
    memory, pids = class_total(available_mib, pid_max)
    return min(memory // bounds.memory_mib, pids // bounds.pids)
