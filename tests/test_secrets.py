import stat
from pathlib import Path

from lab.model import secrets


def test_passwords_are_made_once_and_kept_private(tmp_path: Path):
    path = tmp_path / "state" / "secrets.env"
    first = secrets.load_or_create(path)
    assert set(first) == set(secrets.NAMES)
    assert all(len(v) == 32 and v.isalnum() for v in first.values())
    assert len(set(first.values())) == len(secrets.NAMES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_or_create(path) == first


def test_each_lab_gets_its_own(tmp_path: Path):
    a = secrets.load_or_create(tmp_path / "a.env")
    b = secrets.load_or_create(tmp_path / "b.env")
    assert a != b


def test_env_file_round_trip(tmp_path: Path):
    path = tmp_path / "x.env"
    secrets.write_private(path, {"A": "1", "B": "x=y"}, "header")
    assert secrets.read_env_file(path) == {"A": "1", "B": "x=y"}
