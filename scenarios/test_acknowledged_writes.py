"""Scenario 11: which acknowledged writes survive the master's death (F19),
in Jepsen's terms: the replica is partitioned from the master while writes
go on, the master is killed, the replica promoted. Every write is ok,
failed (never sent) or indeterminate (the client gave up waiting); the
ledger of what the new master holds is the verdict.

- asynchronous: the master acknowledges writes the replica never saw, so
  the promoted replica lacks some acknowledged writes. Asserted: lost > 0.
- semi-sync, lossless (no fallback): writes block while the replica is
  away; none is acknowledged, none lost. The price is counted: writes left
  indeterminate and how long they blocked.
- semi-sync with MariaDB's 10 s fallback: after the timeout the master
  carries on asynchronously and the writes it acknowledges then are lost.
"""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import run

from lab.drills import faults, runbooks, verdicts
from lab.drills.faults import Fault
from lab.drills.replication import FALLBACK_TIMEOUT_MS
from lab.drills.workload import DIRECT, LedgerWriter
from lab.engine.waiting import wait_for
from lab.model.config import REPO
from lab.probes import mysql

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
MODES = ["async", "semisync-lossless", "semisync-fallback"]


def _semi_sync_status(lab, admin_password: str) -> str:
    rows = mysql.query(lab.address_of("db1"), admin_password,
                       "SHOW STATUS LIKE 'Rpl_semi_sync_master_status'")
    return str(rows[0]["Value"]) if rows else ""


@pytest.mark.parametrize("mode", MODES)
def test_partition_then_master_killed(mode, lab, admin_password, restore_roles,
                                      record_property, prove_nothing_lost):
    if mode != "async":
        run(lab, runbooks.semi_sync(lab, on=True, lossless=mode == "semisync-lossless"))
    master_address = lab.topology.address("db1")  # db2 takes it over when promoted
    w = LedgerWriter(lab, f"ack-{mode[:8]}-{uuid.uuid4().hex[:6]}", via=("web1", DIRECT),
                     rate=20, master=lambda: master_address, timeout=3)
    with w:
        wait_for("writes acknowledged", lambda: len(w.acknowledged) >= 10, timeout=30)
        # Everything so far has reached db2: the partition is the only cause of loss.
        wait_for("db2 caught up before the partition", lambda: set(w.acknowledged) <= set(
            w.stored(lab.address_of("db2"), admin_password)), timeout=20)
        with faults.injected(lab, Fault("partition", "db2", ("db1",))):
            t0 = w.elapsed()
            if mode == "async":
                wait_for("writes acknowledged during the partition",
                         lambda: w.acknowledged_since(t0) >= 10, timeout=30)
            elif mode == "semisync-lossless":
                wait_for("writes left hanging during the partition", lambda: sum(
                    1 for a in w.attempts if a.at >= t0) >= 4, timeout=30)
                # Not one acknowledgement while db2 cannot answer.
                assert w.acknowledged_since(t0) == 0, "a write was acknowledged without db2"
            else:
                wait_for("the master gives up on semi-sync", lambda: _semi_sync_status(
                    lab, admin_password) == "OFF", timeout=FALLBACK_TIMEOUT_MS / 1000 + 20)
                fell_back = w.elapsed()
                wait_for("writes acknowledged asynchronously after the fallback",
                         lambda: w.acknowledged_since(fell_back) >= 5, timeout=30)
            faults.inject(lab, Fault("kill", "db1"))
            killed_at = w.elapsed()
            assert lab.states()["db1"].status == "exited"
        # The partition is healed; db1 stays dead: promote db2.
        run(lab, runbooks.promote_replica(lab))
        promoted_at = w.elapsed()
        for via in ("web1", DIRECT):
            wait_for(f"writes through {via} accepted by the new master", lambda v=via: any(
                a.ok and a.via == v and a.at > promoted_at for a in w.attempts), timeout=30)
    partition = [a for a in w.attempts if t0 <= a.at < killed_at]
    stored = w.stored(lab.address_of("db2"), admin_password)
    ledger = verdicts.ledger(w.attempted, w.acknowledged, stored, failed=w.failed)
    blocked = [a.took for a in partition if a.outcome == "indeterminate"]
    figures = {
        "mode": mode, "acknowledged": ledger.acknowledged, "lost": len(ledger.lost),
        "indeterminate": ledger.indeterminate, "failed": len(w.failed),
        "acknowledged_during_partition": sum(1 for a in partition if a.ok),
        "blocked_writes": len(blocked), "blocked_seconds": round(sum(blocked), 1),
        "partition_seconds": round(killed_at - t0, 1),
    }
    for key, value in figures.items():
        record_property(key, value)
    out = REPO / "reports" / "acknowledged-writes"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{mode}.json").write_text(json.dumps(figures, indent=1))
    assert not ledger.duplicated and not ledger.failed_found, ledger
    if mode == "semisync-lossless":
        assert ledger.lost == [], f"lossless semi-sync lost acknowledged writes: {ledger.lost}"
        assert blocked, "no write blocked: the partition did not hold semi-sync up"
    else:
        # The writes acknowledged during the partition never reached db2.
        assert ledger.lost, f"{mode}: no acknowledged write lost; the partition did not bite"
        assert set(ledger.lost) <= {a.seq for a in partition if a.ok}
    # Repair: db1 rejoins as db2's replica, then the article's roles again.
    run(lab, runbooks.rejoin_old_master(lab))
    prove_nothing_lost(w, master="db2", replica="db1", allow_lost=mode != "semisync-lossless")
    run(lab, runbooks.switch_back(lab))
    prove_nothing_lost(w, allow_lost=mode != "semisync-lossless")
