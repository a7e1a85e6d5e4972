"""A class lab's share of the machine: the figures, and the files the
control groups get, for each way an engine keeps them (no Docker: a folder
stands in for /sys/fs/cgroup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.classweb import share_doc
from lab.engine.cgroups import Groups, groups
from lab.model import bounds
from lab.model.errors import LabError


def test_a_bound_below_what_a_lab_needs_is_one_line() -> None:
    for env in ({"FOOLAB_LAB_MEMORY_MIB": "200"}, {"FOOLAB_LAB_PIDS": "50"},
                {"FOOLAB_LAB_CPUS": "0"}, {"FOOLAB_LAB_MEMORY_MIB": "lots"}):
        with pytest.raises(LabError) as err:
            bounds.from_env(2, env)
        assert "\n" not in str(err.value).split("hint")[0].strip(), err.value
    share = bounds.from_env(2, {"FOOLAB_LAB_MEMORY_MIB": "512"})
    assert share.memory_mib == 512 and share.cpus == 1.5 and share.pids == 1000


def test_the_cpu_bound_leaves_half_a_core_and_at_least_one() -> None:
    assert bounds.from_env(1, {}).cpus == 1.0
    assert bounds.from_env(8, {}).cpus == 7.5


def test_labs_fit_beside_the_reserve() -> None:
    share = bounds.LabBounds(memory_mib=768, pids=1000)
    # 24 GiB and pid_max 32768 here: memory holds 30, processes 28
    assert bounds.how_many_fit(24 * 1024, 32768, share) == 28
    assert bounds.how_many_fit(4096, 4_194_304, share) == 4
    assert bounds.how_many_fit(500, 32768, share) == 0


def _tree(root: Path, version: int) -> Path:
    if version == 2:
        (root / "cgroup.controllers").write_text("cpu memory pids\n")
        (root / "cgroup.subtree_control").write_text("")
    else:
        for c in ("memory", "pids", "cpu"):
            (root / c).mkdir()
    return root


def test_cgroup_v1_each_controller_its_own_tree(tmp_path: Path) -> None:
    g = groups("cgroupfs", _tree(tmp_path, 1))
    assert g.version == 1 and g.parent("s01") == "/foolab-class/s01"
    g.bound("s01", bounds.LabBounds(memory_mib=768, pids=1000, cpus=1.5), 20000, 28000)
    lab = Path("foolab-class/s01")
    assert (tmp_path / "memory" / lab / "memory.limit_in_bytes").read_text() == str(768 << 20)
    assert (tmp_path / "pids" / lab / "pids.max").read_text() == "1000"
    assert (tmp_path / "cpu" / lab / "cpu.cfs_quota_us").read_text() == "150000"
    assert (tmp_path / "cpu" / lab / "cpu.shares").read_text() == "1024"
    assert (tmp_path / "memory/foolab-class/memory.limit_in_bytes").read_text() == str(
        20000 << 20)
    assert (tmp_path / "pids/foolab-class/pids.max").read_text() == "28000"
    assert not (tmp_path / "pids" / lab / "memory.limit_in_bytes").exists()
    (tmp_path / "memory" / lab / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    host = tmp_path / "memory" / lab / "0123abcd"  # a host's own group, at its own bound
    host.mkdir()
    (host / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert g.oom_kills("s01") == 5 and g.oom_kills("s02") == 0
    (host / "memory.oom_control").unlink()
    host.rmdir()
    for name in ("memory.limit_in_bytes", "memory.oom_control"):
        (tmp_path / "memory" / lab / name).unlink()
    (tmp_path / "pids" / lab / "pids.max").unlink()
    for name in ("cpu.cfs_quota_us", "cpu.shares", "cpu.cfs_period_us"):
        (tmp_path / "cpu" / lab / name).unlink()
    g.release("s01")
    assert not any((tmp_path / c / lab).exists() for c in ("memory", "pids", "cpu"))


def test_cgroup_v2_one_tree_with_its_controllers_enabled(tmp_path: Path) -> None:
    g = groups("cgroupfs", _tree(tmp_path, 2))
    assert g.version == 2
    g.bound("s02", bounds.LabBounds(memory_mib=600, pids=900, cpus=1.0), 20000, 28000)
    lab = tmp_path / "foolab-class" / "s02"
    assert (lab / "memory.max").read_text() == str(600 << 20)
    assert (lab / "pids.max").read_text() == "900"
    assert (lab / "cpu.max").read_text() == "100000 100000"
    assert (lab / "cpu.weight").read_text() == "100"
    assert "+memory" in (tmp_path / "foolab-class" / "cgroup.subtree_control").read_text()
    (lab / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert g.oom_kills("s02") == 1


def test_systemd_slices_bounded_by_properties(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr("lab.engine.cgroups._set_property", lambda *a: calls.append(a))
    g = Groups("systemd", 2, tmp_path)
    assert g.parent("s03") == "foolab-class-s03.slice"  # inside foolab-class.slice
    g.bound("s03", bounds.LabBounds(memory_mib=768, pids=1000, cpus=1.5), 20000, 28000)
    assert calls == [("foolab-class.slice", "MemoryMax=20000M", "TasksMax=28000"),
                     ("foolab-class-s03.slice", "MemoryMax=768M", "TasksMax=1000",
                      "CPUWeight=100", "CPUQuota=150%")]
    # where systemd keeps the slice (seen in the cgroup VM): foolab.slice first
    slice_ = tmp_path / "foolab.slice/foolab-class.slice/foolab-class-s03.slice"
    assert g.lab_folder("s03") == slice_
    slice_.mkdir(parents=True)
    (slice_ / "memory.events").write_text("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n")
    assert g.oom_kills("s03") == 1
    v1 = Groups("systemd", 1, tmp_path)
    assert v1.lab_folder("s03", "pids") == tmp_path / "pids" / slice_.relative_to(tmp_path)


def test_the_class_compose_file_bounds_every_host() -> None:
    import yaml

    from lab.model.config import REPO

    doc = yaml.safe_load((REPO / "compose" / "class.yml").read_text())
    for name, service in doc["services"].items():
        assert service.get("mem_limit"), name
        assert service["pids_limit"] == bounds.HOST_PIDS, name
        assert service["cgroup_parent"] == "${LAB_CGROUP}", name


def test_each_class_host_s_process_bound_is_the_model_s() -> None:
    """compose/class.yml bounds each host's processes as lab.model.bounds says."""
    assert {h["pids_limit"] for h in share_doc.host_bounds().values()} == {bounds.HOST_PIDS}


def test_a_lab_on_a_node_gets_its_groups_written_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's engine says cgroupfs and v1: the same files as here, as a
    script the node runs; with the systemd driver, the node's own systemctl."""
    from lab.engine import cgroups
    from lab.model.config import LabConfig

    info = {"CgroupDriver": "cgroupfs", "CgroupVersion": "1", "MemTotal": 8 << 30}
    ran: list[tuple[str, str]] = []
    monkeypatch.setattr(cgroups, "_node_info", lambda engine: info)
    monkeypatch.setattr(cgroups, "on_node", lambda e, script: ran.append((e, script.text)))
    monkeypatch.delenv("FOOLAB_LAB_MEMORY_MIB", raising=False)
    cfg = LabConfig().for_lab("s07")
    node = "ssh://root@198.19.255.12"
    assert cgroups.parent(cfg, node) == "/foolab-class/s07"
    cgroups.apply(cfg, node)
    (engine, script), = ran
    assert engine == node
    assert "mkdir -p /sys/fs/cgroup/memory/foolab-class/s07" in script
    assert "printf %s 805306368 > /sys/fs/cgroup/memory/foolab-class/s07/memory.limit_in_bytes" \
        in script  # 768 MiB, the default share
    assert "> /sys/fs/cgroup/pids/foolab-class/s07/pids.max" in script
    assert "> /sys/fs/cgroup/cpu/foolab-class/s07/cpu.cfs_quota_us" in script
    cgroups.release(cfg, node)
    assert "rmdir /sys/fs/cgroup/memory/foolab-class/s07" in ran[-1][1]
    info.update(CgroupDriver="systemd", CgroupVersion="2")
    assert cgroups.parent(cfg, node) == "foolab-class-s07.slice"
    cgroups.apply(cfg, node)
    assert ("nsenter -t 1 -m -- systemctl set-property --runtime "
            "foolab-class-s07.slice MemoryMax=768M TasksMax=1000") in ran[-1][1]
    cgroups.release(cfg, node)
    assert "nsenter -t 1 -m -- systemctl stop foolab-class-s07.slice || true" in ran[-1][1]
    info["CgroupDriver"] = "none"
    assert cgroups.parent(cfg, node) == ""
