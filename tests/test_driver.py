import shlex
from pathlib import Path

from lab.engine.images import context_digest
from lab.engine.lab import Lab
from lab.engine.process import quote
from lab.model.config import LabConfig
from lab.model.errors import LabError


def test_quote_survives_a_shell_round_trip():
    argv = ["mysql", "-e", "SELECT 'a b'; DROP TABLE x", "$HOME", "it's"]
    assert shlex.split(quote(argv)) == argv


def test_lab_error_is_one_line_with_observation_and_hint():
    err = LabError("the lab is not up", "line one\nlast line", "run make lab-up")
    assert str(err) == "the lab is not up: last line (hint: run make lab-up)"
    assert "\n" not in str(err)


def test_context_digest_changes_with_content(tmp_path: Path):
    (tmp_path / "a").write_text("one")
    d1 = context_digest(tmp_path)
    assert context_digest(tmp_path) == d1
    (tmp_path / "a").write_text("two")
    assert context_digest(tmp_path) != d1


def test_compose_env_carries_addresses_and_fresh_secrets(tmp_path: Path):
    lab = Lab(LabConfig(subnet="10.7.7.0/24", state_dir=tmp_path))
    env = lab.env()
    assert env["DB1_ADDR"] == "10.7.7.21" and env["NS2_ADDR"] == "10.7.7.3"
    assert env["LAB_NET"] == "10.7.7.0" and env["LAB_MASK"] == "255.255.255.0"
    assert env["LAB_GATEWAY"] == "10.7.7.1"
    assert len(env["COPY_PASSWORD"]) == 32
