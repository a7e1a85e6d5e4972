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

import pytest
from conftest import run

from lab.drills import runbooks
from lab.drills.partitioned_failover import MODES, run_partitioned_failover
from lab.drills.replication import FALLBACK_TIMEOUT_MS
from lab.model.config import REPO

pytestmark = [pytest.mark.destructive, pytest.mark.slow]
# The fallback is seen by polling Rpl_semi_sync_master_status: it happened
# up to one poll (and a write's round trip) before the drill saw it.
POLL_SLACK_S = 1.5


@pytest.mark.parametrize("mode", MODES)
def test_partition_then_master_killed(mode, lab, restore_roles, record_property,
                                      prove_nothing_lost):
    result = run_partitioned_failover(lab, mode)
    figures = result.figures()
    for key, value in figures.items():
        record_property(key, value)
    out = REPO / "reports" / "acknowledged-writes"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{mode}.json").write_text(json.dumps(figures, indent=1))
    ledger = result.ledger
    assert not ledger.duplicated and not ledger.failed_found, ledger
    if mode == "semisync-lossless":
        assert ledger.lost == [], f"lossless semi-sync lost acknowledged writes: {ledger.lost}"
        assert not any(a.ok for a in result.during_partition), "acknowledged without db2"
        assert result.blocked, "no write blocked: the partition did not hold semi-sync up"
        assert result.semi_sync_at_kill == "ON", result.semi_sync_at_kill
    elif mode == "semisync-fallback":
        # The master blocked for about its timeout, then went on alone: only
        # writes acknowledged after that moment can be lost.
        assert result.fell_back_at is not None
        blocked_for = result.fell_back_at - result.partitioned_at
        timeout = FALLBACK_TIMEOUT_MS / 1000
        assert 0.8 * timeout <= blocked_for <= timeout + POLL_SLACK_S, blocked_for
        assert result.blocked, "no write blocked before the fallback"
        assert ledger.lost, "semisync-fallback: nothing lost; the partition did not bite"
        after = {a.seq for a in result.writer.attempts
                 if a.ok and a.at + a.took >= result.fell_back_at - POLL_SLACK_S}
        assert set(ledger.lost) <= after, (sorted(set(ledger.lost) - after), blocked_for)
        assert result.semi_sync_at_kill == "OFF", result.semi_sync_at_kill
    else:
        # What was lost was acknowledged while db2 was cut off (or on its way).
        assert ledger.lost, f"{mode}: no acknowledged write lost; the partition did not bite"
        assert set(ledger.lost) <= result.exposed
    # Repair: db1 rejoins as db2's replica, then the article's roles again.
    run(lab, runbooks.rejoin_old_master(lab))
    lossy = mode != "semisync-lossless"
    prove_nothing_lost(result.writer, master="db2", replica="db1", allow_lost=lossy)
    run(lab, runbooks.switch_back(lab))
    prove_nothing_lost(result.writer, allow_lost=lossy)
