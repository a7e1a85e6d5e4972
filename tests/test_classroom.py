"""A class of labs as data: names, subnets, records, configuration, and the
class override file agreeing with the images it wraps. No Docker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.cli.class_commands import render
from lab.engine.lab import Lab
from lab.exercises.classroom import configs, how_many_fit
from lab.model import class_layout
from lab.model.config import REPO, LabConfig
from lab.model.errors import TopologyError


def test_class_names_are_numbered_and_checked():
    assert class_layout.class_names(3) == ("s01", "s02", "s03")
    assert class_layout.class_names(100, "t")[-1] == "t100"
    for bad in (0, class_layout.MAX_LABS + 1):
        with pytest.raises(TopologyError):
            class_layout.class_names(bad)


@pytest.mark.parametrize("name", ["S1", "1a", "a-b", "toolongname", ""])
def test_bad_lab_names_are_refused(name):
    with pytest.raises(TopologyError, match="bad lab name"):
        class_layout.check_name(name)


def test_a_name_that_is_the_single_lab_is_refused():
    with pytest.raises(TopologyError, match="collides with the single lab"):
        class_layout.check_name("s", single_project="foolabs")


def test_wires_and_per_lab_subnets():
    assert class_layout.wire_subnet(7) == "198.18.7.0/24"
    assert class_layout.per_lab_subnet(3) == "10.1.103.0/24"
    assert class_layout.same_octet("198.18.7.21", "10.1.1.0/24") == "10.1.1.21"
    with pytest.raises(TopologyError):
        class_layout.wire_subnet(255)


def test_a_record_round_trips_and_wires_stay_in_their_range(tmp_path: Path):
    rec = class_layout.LabRecord("s03", "10.1.1.0/24", "198.18.3.0/24")
    rec.save(tmp_path)
    assert class_layout.LabRecord.load(tmp_path) == rec
    assert class_layout.LabRecord.load(tmp_path / "none") is None
    with pytest.raises(TopologyError, match="outside"):
        class_layout.LabRecord("s03", wire="10.2.0.0/24")


def test_a_class_lab_has_its_own_project_state_and_bridge(tmp_path: Path):
    cfg = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path), "FOOLAB_LAB": "s03"})
    assert (cfg.lab, cfg.project, cfg.bridge) == ("s03", "foolabs03", "foolab-s03")
    assert cfg.state_dir == tmp_path / "class" / "s03"
    assert cfg.topology.address("db1") == "10.1.1.21"  # the article's, like every lab's
    assert cfg.compose_files[1].name == "class.yml"
    single = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    assert not single.in_class and "class.yml" not in {f.name for f in single.compose_files}


def test_a_class_lab_remembers_its_wire(tmp_path: Path):
    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    class_layout.LabRecord("s01", "10.1.101.0/24", "198.18.9.0/24").save(tmp_path / "class" / "s01")
    cfg = base.for_lab("s01")
    assert (cfg.subnet, cfg.wire_subnet) == ("10.1.101.0/24", "198.18.9.0/24")


def test_subnet_per_lab_gives_each_lab_its_own_addresses(tmp_path: Path):
    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    same = configs(base, 2)
    own = configs(base, 2, subnet_per_lab=True)
    assert {c.subnet for c in same} == {"10.1.1.0/24"}
    assert [c.topology.address("ns1") for c in own] == ["10.1.101.2", "10.1.102.2"]


def test_the_environment_of_a_class_lab_separates_wire_and_address(tmp_path: Path,
                                                                   monkeypatch):
    from lab.engine import cgroups

    monkeypatch.setattr(cgroups, "driver", lambda: "cgroupfs")
    cfg = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)}).for_lab("s02")
    from dataclasses import replace
    env = Lab(replace(cfg, wire_subnet="198.18.5.0/24")).env()
    assert env["LAB_CGROUP"] == "/foolab-class/s02"  # its share (lab.engine.cgroups)
    assert (env["WEB1_ADDR"], env["WEB1_WIRE"]) == ("10.1.1.11", "198.18.5.11")
    assert (env["CONSOLE_ADDR"], env["CONSOLE_WIRE"]) == ("10.1.1.254", "198.18.5.254")
    assert env["LAB_WIRE_SUBNET"] == "198.18.5.0/24" and env["LAB_BRIDGE"] == "foolab-s02"
    single = Lab(LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})).env()
    assert single["WEB1_WIRE"] == single["WEB1_ADDR"] == "10.1.1.11"
    assert single["LAB_CGROUP"] == ""


def test_memory_decides_how_many_labs_fit():
    assert how_many_fit(512 + 3 * class_layout.MEMORY_PER_LAB_MIB) == 3
    assert how_many_fit(100) == 0


def _entrypoint(role: str) -> list[str]:
    text = (REPO / "images" / role / "Dockerfile").read_text()
    found = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    assert found, role
    return list(yaml.safe_load(found.group(1)))


def test_the_class_file_wraps_every_host_with_its_own_entrypoint():
    """compose/class.yml repeats each image's entrypoint with lab-address in
    front: an image whose entrypoint changes must change it there too."""
    seven = yaml.safe_load((REPO / "compose" / "lab.yml").read_text())["services"]
    wrapped = yaml.safe_load((REPO / "compose" / "class.yml").read_text())["services"]
    assert set(seven) <= set(wrapped)
    for name, service in seven.items():
        role = service["image"].split("/")[1].split(":")[0]
        image_entry = _entrypoint(role)
        entry = wrapped[name]["entrypoint"]
        init = image_entry.index("--") + 1  # tini and its options, as the image has them
        assert entry[:init] == image_entry[:init], name
        assert entry[init] == "/usr/local/sbin/lab-address"
        assert entry[init + 1:] == image_entry[init:], name
        assert wrapped[name]["environment"] == {"LAB_SUBNET": "${LAB_SUBNET}"}
        # no host holds NET_ADMIN, so no `docker exec` into it does either
        # (foolab adds the lab address from outside: lab.engine.addressing)
        assert "NET_ADMIN" not in wrapped[name].get("cap_add", []), name


def test_bad_lab_name_on_the_command_line_is_one_line(capsys):
    assert main(["--lab", "S1", "status"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad lab name" in err


def test_class_status_table_says_when_there_is_no_class():
    assert "no class lab" in render([])
    row = {"lab": "s01", "subnet": "10.1.1.0/24", "wire": "198.18.1.0/24", "healthy": 7,
           "hosts": 7, "replicating": True, "lag_s": 0, "faults": [], "exercise": ""}
    assert "s01" in render([row]) and "replicating" in render([row])


def test_a_lab_that_fails_is_named_and_the_others_start(monkeypatch, tmp_path: Path):
    from lab.exercises import classroom as cls

    started: list[str] = []

    def fake_up(self: Lab) -> dict[str, float]:
        if self.config.lab == "s02":
            raise cls.LabError("db2 stopped while starting", "exit 1")
        started.append(self.config.lab)
        return {"db1": 1.0}

    monkeypatch.setattr(cls, "labs", lambda base: [])
    monkeypatch.setattr(cls, "available_mib", lambda: 100_000)
    monkeypatch.setattr(cls.cgroups, "labs_that_fit", lambda share: 24)
    monkeypatch.setattr(Lab, "build", lambda self: None)
    monkeypatch.setattr(Lab, "up", fake_up)
    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    said: list[str] = []
    result = cls.up(configs(base, 3), said.append)
    assert sorted(started) == ["s01", "s03"]
    failed = [(o.name, o.error) for o in result.failed]
    assert failed == [("s02", "db2 stopped while starting: exit 1")]
    assert any(m.startswith("[s02] failed: db2 stopped") for m in said)


def test_more_labs_than_memory_holds_start_none(monkeypatch, tmp_path: Path):
    from lab.exercises import classroom as cls

    monkeypatch.setattr(cls, "labs", lambda base: [])
    monkeypatch.setattr(cls, "available_mib", lambda: 512 + 2 * class_layout.MEMORY_PER_LAB_MIB)
    monkeypatch.setattr(Lab, "build", lambda self: pytest.fail("nothing may start"))
    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    with pytest.raises(cls.LabError, match="3 more labs do not fit") as err:
        cls.up(configs(base, 3), print)
    assert "2 fit" in str(err.value)


def test_a_lab_up_again_keeps_its_recorded_wire(tmp_path: Path):
    """Growing a class re-ups its running labs: they must keep their wire
    (a new one would be another Docker network for the same lab)."""
    from lab.engine.network import with_wire

    base = LabConfig.from_env({"FOOLAB_STATE_DIR": str(tmp_path)})
    cfg = base.for_lab("s01")  # made before s01 was up: no wire yet
    class_layout.LabRecord("s01", "10.1.1.0/24", "198.18.4.0/24").save(cfg.state_dir)
    assert with_wire(cfg).wire_subnet == "198.18.4.0/24"
