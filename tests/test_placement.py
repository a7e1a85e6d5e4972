"""A class over several nodes: placement as data, and the engine each block
talks to (no Docker needed)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.engine import client, nodes
from lab.model import cluster
from lab.model.errors import LabError, TopologyError


def node(name: str, memory: int = 4096, cpus: float = 2, ready: bool = True,
         engine: str = "unix:///x") -> cluster.NodeInfo:
    return cluster.NodeInfo(name, engine, ready, memory, cpus)


def test_labs_spread_over_equal_nodes_whole_and_by_name_on_ties() -> None:
    placed = cluster.place(["s01", "s02", "s03", "s04"], [node("node1"), node("node2")], {}, 300)
    assert placed == {"s01": "node1", "s02": "node2", "s03": "node1", "s04": "node2"}


def test_labs_go_where_the_most_memory_is_left() -> None:
    placed = cluster.place(["s05", "s06"], [node("node1"), node("node2")], {"node1": 3}, 300)
    assert placed == {"s05": "node2", "s06": "node2"}
    bigger = cluster.place(["a"], [node("node1", 2048), node("node2", 8192)], {}, 300)
    assert bigger == {"a": "node2"}


def test_no_lab_goes_to_a_node_that_is_down_or_unreachable() -> None:
    pool = [node("node1", ready=False), node("node2"), node("node3", engine="")]
    assert set(cluster.place(["a", "b", "c"], pool, {}, 300).values()) == {"node2"}


def test_labs_that_do_not_fit_place_none_and_say_the_room_left() -> None:
    pool = [node("node1", 512 + 600), node("node2", 512 + 300)]
    with pytest.raises(TopologyError, match="4 labs do not fit.*room for 3 more at 300 MiB"):
        cluster.place(["a", "b", "c", "d"], pool, {}, 300)
    with pytest.raises(TopologyError, match="none is ready"):
        cluster.place(["a"], [node("node1", ready=False)], {}, 300)


def test_a_placement_is_kept_in_the_lab_folder(tmp_path: Path) -> None:
    p = cluster.Placement("s01", "node2", "unix:///run/foolab-cluster/node2/docker.sock")
    p.save(tmp_path)
    assert cluster.Placement.load(tmp_path) == p
    cluster.Placement.forget(tmp_path)
    assert cluster.Placement.load(tmp_path) is None
    with pytest.raises(TopologyError):
        cluster.Placement("s01", "node2", "")


def test_node_names_and_counts() -> None:
    assert cluster.node_names(3) == ("node1", "node2", "node3")
    with pytest.raises(TopologyError, match="1 to 16 nodes, not 0"):
        cluster.node_names(0)
    assert nodes.address("node2") == "198.19.255.12"
    assert nodes.endpoint("node2") == "ssh://root@198.19.255.12"


def test_a_block_names_its_engine_and_threads_it_starts_keep_it() -> None:
    assert client.current_engine() is None
    seen: list[str | None] = []
    with client.engine("unix:///n2.sock"):
        assert client.command_env()["DOCKER_HOST"] == "unix:///n2.sock"
        with ThreadPoolExecutor(2) as pool:
            seen += pool.map(client.carried(lambda _i: client.current_engine()), range(4))
        bare = threading.Thread(target=lambda: seen.append(client.current_engine()))
        bare.start()
        bare.join()
        with client.engine(client.MACHINE):
            assert client.current_engine() is None
    assert seen == ["unix:///n2.sock"] * 4 + [None]  # a thread not carried: the process's
    assert client.current_engine() is None


def test_the_process_engine_is_every_unnamed_block_s() -> None:
    try:
        client.use_for_process("unix:///n1.sock")
        done: list[str | None] = []
        t = threading.Thread(target=lambda: done.append(client.current_engine()))
        t.start()
        t.join()
        assert done == ["unix:///n1.sock"]
        with client.engine(client.MACHINE):
            assert client.current_engine() is None
    finally:
        client.use_for_process(None)


def test_a_node_s_own_commands_run_inside_it_or_not_at_all() -> None:
    assert nodes.machine_command(["iptables", "-S"]) == ["iptables", "-S"]
    with client.engine("ssh://root@far-away"), pytest.raises(LabError, match="must run on"):
        nodes.machine_command(["iptables", "-S"])


def test_class_up_swarm_places_new_labs_and_a_lost_node_s_labs_fresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from lab.exercises import classroom, grader
    from lab.exercises.definitions import Started
    from lab.model import class_layout
    from lab.model.config import LabConfig

    pool = [node("node1", engine="unix:///n1"), node("node2", engine="unix:///n2")]
    monkeypatch.setattr(nodes, "listed", lambda: pool)
    monkeypatch.setattr(nodes, "answers", lambda engine: engine != "unix:///n2")
    monkeypatch.setattr(nodes, "ship_images", lambda *_a: None)
    base = replace(LabConfig(), state_dir=tmp_path, class_root=tmp_path / "class")
    lost = base.for_lab("s01")
    cluster.Placement("s01", "node2", "unix:///n2").save(lost.state_dir)
    class_layout.LabRecord("s01", wire="198.18.7.0/24").save(lost.state_dir)
    Started("reads-from-dead-replica", "ada@school", {}).save(lost.state_dir / grader.RECORD)
    said: list[str] = []
    cfgs, ran = classroom.place_on_nodes([base.for_lab("s01"), base.for_lab("s02")], said.append)
    assert [c.wire_subnet for c in cfgs] == ["", ""]  # s01's old wire is given up
    assert ran["s01"].seed == "ada@school" and not (lost.state_dir / grader.RECORD).exists()
    assert cluster.Placement.load(lost.state_dir) == cluster.Placement("s01", "node1",
                                                                       "unix:///n1")
    placed = cluster.Placement.load(base.for_lab("s02").state_dir)
    assert placed is not None and placed.node == "node1"
    assert said[:2] == ["node2: takes no lab: its engine at unix:///n2 does not answer",
                        "[s01] node2 is lost: the lab starts again elsewhere, fresh, with the "
                        "same seed"]


def test_no_new_lab_goes_to_a_real_machine_and_one_already_there_stays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real machine's labs cannot be entered from here (lab.engine.netns):
    placing one there would fail only after it started."""
    from dataclasses import replace

    from lab.exercises import classroom
    from lab.model.config import LabConfig

    far = "ssh://root@192.0.2.7"
    pool = [node("node1", memory=2048, engine="ssh://root@198.19.255.11"),
            node("teacher-pc", memory=64_000, engine=far)]
    monkeypatch.setattr(nodes, "listed", lambda: pool)
    monkeypatch.setattr(nodes, "answers", lambda engine: True)
    monkeypatch.setattr(nodes, "ship_images", lambda *_a: None)
    base = replace(LabConfig(), state_dir=tmp_path, class_root=tmp_path / "class")
    there = base.for_lab("s01")
    cluster.Placement("s01", "teacher-pc", far).save(there.state_dir)
    said: list[str] = []
    classroom.place_on_nodes([there, base.for_lab("s02")], said.append)
    assert cluster.Placement.load(there.state_dir) == cluster.Placement("s01", "teacher-pc", far)
    placed = cluster.Placement.load(base.for_lab("s02").state_dir)
    assert placed is not None and placed.node == "node1"
    assert said[0].startswith("teacher-pc: takes no lab: a real machine's node")
    assert len(said) == 2


def test_a_lab_on_a_real_machine_is_refused_in_one_line_not_waited_for(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from lab.engine.lab import Lab
    from lab.model.config import LabConfig

    base = replace(LabConfig(), state_dir=tmp_path, class_root=tmp_path / "class")
    cfg = base.for_lab("s01")
    cluster.Placement("s01", "teacher-pc", "ssh://root@192.0.2.7").save(cfg.state_dir)
    with pytest.raises(LabError, match="s01 is on ssh://root@192.0.2.7, a real machine"), \
            Lab(cfg).network():
        pass
    assert nodes.entered_from_here("unix:///run/foolab-cluster/node2/docker.sock")
    assert nodes.entered_from_here("ssh://root@198.19.255.12")
    assert not nodes.entered_from_here("tcp://192.0.2.7:2376")


def test_cluster_status_says_a_real_machine_takes_no_lab() -> None:
    from lab.cli.cluster_commands import render

    row = {"node": "node1", "role": "manager", "state": "ready", "engine_answers": True,
           "labs": [], "takes_labs": True}
    far = {**row, "node": "teacher-pc", "role": "worker", "takes_labs": False,
           "refusal": "a real machine's node"}
    lines = render([row, far]).splitlines()
    assert lines[1].endswith("answers  -") and lines[2].endswith("none: a real machine's node")


def test_a_node_that_cannot_take_labs_says_why_in_one_line_and_gets_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine label, down, drained, too little memory: each node named
    once with its reason, and the class placed on the one node left."""
    from dataclasses import replace

    from lab.exercises import classroom
    from lab.model.config import LabConfig

    pool = [node("node1", memory=4096, engine="ssh://root@198.19.255.11"),
            node("bare", engine=""),
            replace(node("gone", engine="ssh://root@198.19.255.13"), ready=False, state="down"),
            replace(node("drained", engine="ssh://root@198.19.255.14"), ready=False),
            node("tiny", memory=600, engine="ssh://root@198.19.255.15")]
    monkeypatch.setattr(nodes, "listed", lambda: pool)
    monkeypatch.setattr(nodes, "answers", lambda engine: True)
    monkeypatch.setattr(nodes, "ship_images", lambda *_a: None)
    base = replace(LabConfig(), state_dir=tmp_path, class_root=tmp_path / "class")
    said: list[str] = []
    classroom.place_on_nodes([base.for_lab("s01"), base.for_lab("s02")], said.append)
    refused = [line for line in said if "takes no lab" in line]
    assert [line.split(":")[0] for line in refused] == ["bare", "gone", "drained", "tiny"]
    assert "org.foolab.engine" in refused[0] and "down" in refused[1]
    assert "drained" in refused[2] and "600 MiB" in refused[3]
    assert all("\n" not in line for line in refused)
    for lab in ("s01", "s02"):
        placed = cluster.Placement.load(base.for_lab(lab).state_dir)
        assert placed is not None and placed.node == "node1"
