"""Issue 15: the master killed with docker, and db2 promoted three ways:
the article's runbook (scripted), MHA and keepalived (nobody runs anything).
In semi-sync lossless mode, for each: the new master takes writes through
every web server, no acknowledged write is lost, db1 coming back is shown
for what it is (a second writable master, unless the runbook's address
move keeps it from starting), and the lab is healed: the article's roles,
every write on both, the optional hosts removed if this scenario added them.

Runs on the default lab too (`make test`): MHA and keepalived are started
here when the lab has none, and removed again.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from lab import cli
from lab.admin import ha
from lab.bench import failover_compare
from lab.drills import takeover
from lab.drills.common import writes_through_web
from lab.engine.lab import Lab
from lab.model.config import REPO
from lab.model.topology import Role, image

pytestmark = [pytest.mark.destructive, pytest.mark.slow]


@pytest.mark.parametrize("method", takeover.METHODS)
def test_master_killed_new_master_takes_writes(method, lab, restore_roles, record_property,
                                               prove_nothing_lost):
    others = [m for m in ("mha", "keepalived") if m != method and getattr(lab.config, m)]
    for m in others:  # one floating address: the other method steps aside
        failover_compare.disarm(lab, m)
    started = failover_compare.arm(lab, method)
    try:
        address = (lab.topology.address("db1") if method == "runbook"
                   else lab.topology.float_address)
        promote = takeover.promote_by_runbook if method == "runbook" else None
        run = takeover.run_takeover(lab, method, "semisync-lossless", address, promote)
        figures = run.figures()
        for key, value in figures.items():
            record_property(key, value)
        out = REPO / "reports" / "auto-failover"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{method}.json").write_text(json.dumps(figures, indent=1))

        # Lossless only means something if the master really waited for db2.
        assert run.semi_sync_at_kill == "ON", run.semi_sync_at_kill
        assert run.lost == (), f"{method}: acknowledged writes lost: {run.lost}"
        # db2 is the master now: every web server's write is acknowledged.
        assert "web3 wrote" in writes_through_web()(lab)
        if method == "runbook":
            assert "refused to start db1" in run.comeback or run.second_master, run.comeback
        else:  # nothing stops the old master from coming back writable
            assert run.second_master, run.comeback

        failover_compare.restore_roles(lab)
        prove_nothing_lost(run.writer)
        if not started:
            failover_compare.rearm(lab, method)
    finally:
        if started:
            failover_compare.disarm(lab, method)
        for m in others:
            failover_compare.arm(lab, m)


def _started_at(lab: Lab) -> dict[str, str]:
    from lab.engine import client

    return {h.name: str(((client.inspect_container(h.container) or {}).get("State") or {})
                        .get("StartedAt")) for h in lab.topology.hosts}


def test_failover_refused_while_db1_alive(lab, capsys):
    assert cli.main(["failover", "promote"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "db1 is alive" in err, err


def test_with_mha_on_a_taken_address_touches_nothing(lab, capsys):
    if lab.config.mha:
        pytest.skip("this lab runs MHA already")
    address = lab.topology.mha_address
    squatter = f"{lab.config.project}-squatter"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", squatter, "--network",
                    lab.config.project, "--ip", address, "--entrypoint", "sleep",
                    image(Role.DB), "120"], check=True, capture_output=True)
    try:
        before = _started_at(lab)
        assert cli.main(["up", "--with", "mha"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"{address} is taken by {squatter}" in err, err
        assert _started_at(lab) == before
        assert ha.address_user(lab, lab.topology.float_address) is None
    finally:
        subprocess.run(["docker", "rm", "-f", squatter], capture_output=True)
