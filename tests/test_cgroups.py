"""Where a process's group is, read from /proc/PID/cgroup (no Docker):
cgroup v1 names a folder per controller, v2 one folder for all."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.engine import cgroups


@pytest.fixture
def proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake /proc: /proc/7/cgroup is written by each test."""
    folder = tmp_path / "proc"
    (folder / "7").mkdir(parents=True)
    real_path = cgroups.Path

    def path(name: str) -> Path:
        inside = name.startswith("/proc/")
        return folder / name.removeprefix("/proc/") if inside else real_path(name)

    monkeypatch.setattr(cgroups, "Path", path)
    monkeypatch.setattr(cgroups, "ROOT", tmp_path / "cgroup")
    (tmp_path / "cgroup").mkdir()
    return folder


def test_v1_a_folder_per_controller(proc: Path) -> None:
    (proc / "7" / "cgroup").write_text(
        "12:pids:/foolab-class/s01/abc\n4:cpu,cpuacct:/foolab-class/s01/abc\n0::/\n")
    root = cgroups.ROOT
    assert cgroups.process_group(7, "pids") == root / "pids" / "foolab-class/s01/abc"
    assert cgroups.process_group(7, "cpuacct") == root / "cpu,cpuacct" / "foolab-class/s01/abc"
    assert cgroups.process_group(8, "pids") is None  # no such process


def test_v2_one_folder(proc: Path) -> None:
    (cgroups.ROOT / "cgroup.controllers").write_text("cpu memory pids\n")
    (proc / "7" / "cgroup").write_text("0::/foolab-class/s01/docker-abc.scope\n")
    assert cgroups.process_group(7, "pids") == (
        cgroups.ROOT / "foolab-class/s01/docker-abc.scope")
