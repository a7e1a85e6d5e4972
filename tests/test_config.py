from pathlib import Path

from lab.model.config import LabConfig


def test_defaults():
    cfg = LabConfig.from_env({})
    assert cfg.subnet == "10.1.1.0/24"
    assert cfg.project == "foolab"
    assert cfg.env_file.name == "lab.env"


def test_environment_then_flags(tmp_path: Path):
    env = {"FOOLAB_SUBNET": "10.9.9.0/24", "FOOLAB_STATE_DIR": str(tmp_path),
           "FOOLAB_HEALTH_TIMEOUT": "42"}
    cfg = LabConfig.from_env(env)
    assert (cfg.subnet, cfg.state_dir, cfg.health_timeout) == ("10.9.9.0/24", tmp_path, 42.0)
    assert cfg.topology.address("ns1") == "10.9.9.2"
    flagged = LabConfig.from_env(env, subnet="10.8.8.0/24", health_timeout=None)
    assert (flagged.subnet, flagged.health_timeout) == ("10.8.8.0/24", 42.0)


def test_a_second_lab_gets_its_own_names():
    cfg = LabConfig.from_env({"FOOLAB_PROJECT": "foolab2", "FOOLAB_SUBNET": "10.1.2.0/24"})
    assert cfg.bridge == "foolab20"
    assert cfg.topology.host("db1").container == "foolab2-db1"


def test_project_names_are_checked():
    import pytest

    from lab.model.errors import TopologyError

    with pytest.raises(TopologyError, match="bad project name"):
        _ = LabConfig(project="other-lab").topology
