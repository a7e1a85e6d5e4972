"""db2's first CHANGE MASTER (images/db/db-setup, a shell heredoc) and the
runbooks' (lab.model.article.change_master) say the same thing.

The image builds its statement from the environment compose/lab.yml gives
db2, which lab.model.config.compose_env fills from the model; the runbooks
build theirs in Python. This test follows that chain on paper: db2's
environment from the Compose file, interpolated with compose_env's values,
put into db-setup's statement, compared option by option with
article.change_master for the topology's master. No Docker.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lab.model import article
from lab.model.config import LabConfig, compose_env

REPO = Path(__file__).resolve().parents[1]
DB_SETUP = REPO / "images" / "db" / "db-setup"
OPTIONS = {"MASTER_HOST", "MASTER_USER", "MASTER_PASSWORD", "MASTER_CONNECT_RETRY",
           "MASTER_USE_GTID"}


def statement_in(script: str) -> str:
    """The CHANGE MASTER statement of db-setup's heredoc, as written."""
    m = re.search(r"^CHANGE MASTER TO\b.*?;", script, re.M | re.S)
    assert m, "db-setup writes no CHANGE MASTER statement"
    return m[0]


def expand(shell: str, env: dict[str, str]) -> str:
    """db-setup's words with db2's environment in: $(q "$X") is X's value
    as an SQL string literal, $X and ${X} its value."""
    def q(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"

    shell = re.sub(r'\$\(q "\$\{?(\w+)\}?"\)', lambda m: q(env[m[1]]), shell)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env[m[1]], shell)


def options(statement: str) -> dict[str, str]:
    """OPTION -> value of a CHANGE MASTER TO statement."""
    body = " ".join(statement.split()).removeprefix("CHANGE MASTER TO ").rstrip(";")
    pairs = [p.strip().split("=", 1) for p in body.split(",")]
    return {k.strip(): v.strip() for k, v in pairs}


def replica_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """db2's environment as Compose would give it, and compose_env's values."""
    values = compose_env(LabConfig(state_dir=tmp_path))
    service = yaml.safe_load((REPO / "compose" / "lab.yml").read_text())["services"]
    replica = service[LabConfig().topology.replica]
    assert replica["environment"]["DB_ROLE"] == "replica"
    env = {k: re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], str(v))
           for k, v in replica["environment"].items()}
    return env, values


def test_db_setup_and_the_model_write_the_same_change_master(tmp_path: Path) -> None:
    env, values = replica_env(tmp_path)
    topo = LabConfig().topology
    image = options(expand(statement_in(DB_SETUP.read_text()), env))
    model = options(article.change_master(topo.address(topo.master), values["COPY_PASSWORD"]))
    assert set(model) == OPTIONS
    assert image == model
    assert model["MASTER_USE_GTID"] == "slave_pos"
    assert model["MASTER_CONNECT_RETRY"] == str(article.CONNECT_RETRY_S)


@pytest.mark.parametrize("edit", [
    ("MASTER_CONNECT_RETRY=$CONNECT_RETRY", "MASTER_CONNECT_RETRY=30"),
    ("MASTER_USE_GTID=slave_pos", "MASTER_USE_GTID=current_pos"),
    ('MASTER_USER=$(q "$REPLICATION_USER")', "MASTER_USER='copy2'"),
])
def test_a_disagreement_is_seen(tmp_path: Path, edit: tuple[str, str]) -> None:
    env, values = replica_env(tmp_path)
    text = DB_SETUP.read_text()
    assert edit[0] in text
    topo = LabConfig().topology
    image = options(expand(statement_in(text.replace(*edit)), env))
    assert image != options(article.change_master(topo.address(topo.master),
                                                  values["COPY_PASSWORD"]))
