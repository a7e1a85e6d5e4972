"""Issue 15 without Docker: the optional parts' configuration, the one-line
error for packages that cannot be installed, the comparison table."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import cli
from lab.admin import ha
from lab.bench import failover_compare
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError
from lab.model.topology import Role, topology


def test_mha_is_an_eighth_host_at_30_and_the_floating_address_is_20():
    t = topology("10.42.7.0/24", mha=True)
    assert t.host("mha").address == "10.42.7.30" and t.host("mha").role is Role.MHA
    assert t.float_address == "10.42.7.20"
    assert "mha" not in topology("10.42.7.0/24").names


def test_compose_files_and_remembered_markers(tmp_path: Path):
    cfg = LabConfig(state_dir=tmp_path)
    assert cfg.compose_files == (cfg.compose_file,)
    cfg.ha_marker("keepalived").parent.mkdir()
    cfg.ha_marker("keepalived").write_text("on")
    again = cfg.remembered()
    assert again.keepalived and not again.mha
    assert again.compose_files[-1] == REPO / "compose" / "keepalived.yml"
    assert cfg.ha_marker("keepalived") in cfg.per_lab_files


@pytest.mark.parametrize("log, named", [
    ("E: Unable to locate package mha4mysql-manager\n", "mha4mysql-manager"),
    ("E: Package 'keepalived' has no installation candidate\n", "keepalived"),
    ("E: Failed to fetch http://deb.debian.org/debian/pool/main/m/mha4mysql-node/"
     "mha4mysql-node_0.58-3_all.deb  Could not resolve\n", "mha4mysql-node"),
])
def test_missing_packages_are_named(tmp_path: Path, log: str, named: str):
    path = tmp_path / "build.log"
    path.write_text("Step 2/9 : RUN apt-get ...\n" + log)
    assert ha.missing_packages(path) == f"packages not installable: {named}"


def test_a_failed_build_is_one_line(tmp_path: Path):
    class FakeLab:
        config = LabConfig(state_dir=tmp_path)

        def build_image(self, folder: Path, tag: str) -> bool:
            log = self.config.log_dir / f"build-{folder.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("E: Unable to locate package mha4mysql-manager\n")
            raise LabError("building x failed", "exit code: 100")

    with pytest.raises(LabError) as err:
        ha.build(FakeLab(), REPO / "images" / "mha", "foolab/mha:t")  # type: ignore[arg-type]
    text = str(err.value)
    assert "\n" not in text and "mha4mysql-manager" in text and "nothing was started" in text


ROWS = [
    {"method": "runbook", "mode": "async", "kill_to_first_ack_web1_s": s, "lost": 0,
     "acknowledged": 50, "human": "ran it", "db1_comes_back": "refused",
     "second_master": False} for s in (1.0, 3.0, 2.0)
] + [{"method": "keepalived", "mode": "semisync-lossless", "kill_to_first_ack_web1_s": 4.0,
      "lost": 0, "acknowledged": 40, "human": "nothing", "db1_comes_back": "a second master",
      "second_master": True}]


def test_summary_takes_the_median_of_the_async_runs():
    s = {r["method"]: r for r in failover_compare.summary(ROWS)}
    assert s["runbook"]["kill_to_first_ack_web1_median_s"] == 2.0
    assert s["keepalived"]["kill_to_first_ack_web1_median_s"] is None
    assert s["keepalived"]["lost_lossless"] == [0] and s["keepalived"]["second_master"]
    table = failover_compare.table(ROWS)
    assert "| runbook | 2.0 s | 3 |" in table and "a second master" in table


def test_cli_knows_the_new_commands():
    p = cli.parser()
    assert p.parse_args(["up", "--with", "mha", "--with", "keepalived"]).with_ == [
        "mha", "keepalived"]
    assert p.parse_args(["down", "--only", "keepalived"]).only == "keepalived"
    args = p.parse_args(["failover", "compare", "--reps", "1", "--method", "mha"])
    assert (args.action, args.reps, args.method) == ("compare", 1, ["mha"])
