"""Which acknowledged writes survive the master's death (F19), Jepsen style:
the replica is partitioned from the master while writes go on, the master
is killed, the replica promoted by the article's runbook. Shared by the
scenario (which asserts) and the bench (which reports figures).

Modes: "async" (the article's replication), "semisync-lossless" (no
fallback: writes block while the replica is away) and "semisync-fallback"
(MariaDB's default: after 10 s the master carries on asynchronously).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lab.drills import faults, runbooks, verdicts
from lab.drills.faults import Fault
from lab.drills.replication import FALLBACK_TIMEOUT_MS
from lab.drills.workload import DIRECT, INDETERMINATE, Attempt, LedgerWriter
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import admin_password, semi_sync_status
from lab.model.errors import LabError

MODES = ("async", "semisync-lossless", "semisync-fallback")


@dataclass(frozen=True)
class PartitionedFailover:
    """What one run did: the writer's history and the verdict on the new master."""

    mode: str
    writer: LedgerWriter
    ledger: verdicts.Ledger
    caught_up_at: float  # seconds into the writer's run: db2 had every write acked so far
    partitioned_at: float
    killed_at: float
    promoted_at: float
    first_ack_after_kill: float  # kill -> first write acknowledged through web1, s
    fell_back_at: float | None = None  # semisync-fallback: when the master gave up waiting
    semi_sync_at_kill: str = ""  # Rpl_semi_sync_master_status just before the kill

    @property
    def during_partition(self) -> list[Attempt]:
        return [a for a in self.writer.attempts if self.partitioned_at <= a.at < self.killed_at]

    @property
    def exposed(self) -> set[int]:
        """Writes acknowledged after db2 was last seen to have them all: the
        only ones the partition can have taken (some were sent just before
        the partition was in place)."""
        return {a.seq for a in self.writer.attempts if a.ok and a.at + a.took >= self.caught_up_at}

    @property
    def blocked(self) -> list[Attempt]:
        """Writes left without an answer while the replica was away."""
        return [a for a in self.during_partition if a.outcome == INDETERMINATE]

    def figures(self) -> dict[str, float | int | str]:
        return {
            "mode": self.mode, "acknowledged": self.ledger.acknowledged,
            "lost": len(self.ledger.lost), "indeterminate": self.ledger.indeterminate,
            "failed": len(self.writer.failed),
            "acknowledged_during_partition": sum(1 for a in self.during_partition if a.ok),
            "blocked_writes": len(self.blocked),
            "blocked_seconds": round(sum(a.took for a in self.blocked), 1),
            "partition_seconds": round(self.killed_at - self.partitioned_at, 1),
            "kill_to_first_ack_web1_s": round(self.first_ack_after_kill, 2),
        }


def run_partitioned_failover(lab: Lab, mode: str) -> PartitionedFailover:
    """Partition db2 from db1 under writes, kill db1, promote db2 (taking
    db1's address). Leaves db2 the master and db1 dead: the caller rejoins
    and switches back (runbooks rejoin-old-master, switch-back)."""
    if mode not in MODES:
        raise LabError(f"unknown mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    if mode != "async":
        runbooks.run(lab, runbooks.semi_sync(lab, on=True, lossless=mode == "semisync-lossless"))
    t = lab.topology
    master_address = t.address(t.master)  # the replica takes it over when promoted
    password, web = admin_password(lab), t.writer_host
    w = LedgerWriter(lab, f"ack-{mode[:8]}-{uuid.uuid4().hex[:6]}", via=(web, DIRECT),
                     rate=20, master=lambda: master_address, timeout=3, max_seconds=150)
    with w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        # Everything so far has reached db2: the partition is the only cause of loss.
        def caught_up() -> float | None:
            now = w.elapsed()  # every write acknowledged before now is on db2
            acked = set(w.acknowledged)
            return now if acked <= set(w.stored(lab.address_of(t.replica), password)) else None

        caught_up_at = wait_for(f"{t.replica} caught up before the partition", caught_up,
                                timeout=20)
        with faults.injected(lab, Fault("partition", t.replica, (t.master,))):
            t0 = w.elapsed()
            fell_back = 0.0
            if mode == "async":
                wait_for("writes acknowledged during the partition",
                         lambda: w.acknowledged_since(t0) >= 10, timeout=30)
            elif mode == "semisync-lossless":
                wait_for("writes left hanging during the partition", lambda: sum(
                    1 for a in w.attempts if a.at >= t0) >= 4, timeout=30)
            else:
                wait_for("the master gives up on semi-sync", lambda: semi_sync_status(lab)
                         == "OFF", timeout=FALLBACK_TIMEOUT_MS / 1000 + 20)
                fell_back = w.elapsed()
                wait_for("writes acknowledged asynchronously after the fallback",
                         lambda: w.acknowledged_since(fell_back) >= 5, timeout=30)
            status = semi_sync_status(lab) if mode != "async" else ""
            faults.inject(lab, Fault("kill", t.master))
            killed_at = w.elapsed()
        # The partition is healed; db1 stays dead: promote db2.
        runbooks.run(lab, runbooks.promote_replica(lab))
        promoted_at = w.elapsed()
        for via in (web, DIRECT):
            def accepted(v: str = via) -> bool:
                return any(a.ok and a.via == v and a.at > promoted_at for a in w.attempts)

            wait_for(f"writes through {via} accepted by the new master", accepted, timeout=30)
    first = min(a.at + a.took for a in w.attempts if a.ok and a.via == web and a.at > killed_at)
    stored = w.stored(lab.address_of(t.replica), password)
    ledger = verdicts.ledger(w.attempted, w.acknowledged, stored, failed=w.failed)
    return PartitionedFailover(mode, w, ledger, caught_up_at, t0, killed_at, promoted_at,
                               first - killed_at, fell_back if mode == "semisync-fallback"
                               else None, status)
