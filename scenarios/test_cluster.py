"""Issues 22 and 32: a class over several machines on Docker Swarm.

Three nodes (containers, each with its own Docker engine, node1 the
swarm's manager) and six labs of a class placed over them, in this
module's own class state, so a teacher's class on this machine is left
alone:
- each lab whole on one node, two per node, seven healthy hosts answering
  the article's addresses from inside the lab;
- on a lab on each node but the manager, every `--lab` command: status,
  shell, fault and heal, runbook, exercise start, check, grade and stop,
  and a load run spread over its three web servers;
- a kill in a lab on node1 leaves node2's labs whole;
- the class's host rules inside each node, and no way out of a node;
- a lab on node2 graded from here (the manager's side), and a student's
  terminal and Check through `class serve`;
- every exercise of the catalogue, shared between a lab on node1 and one
  on node2, broken, repaired, graded full marks and stopped;
- the nodes share nothing of this machine but a network (no folder bound
  in, no engine socket here: their engines over SSH only, as real
  machines' are);
- node2 stopped: its labs reported lost, with the node named, within 30 s,
  in `class status` and on the teacher's grid, while node1's labs keep
  taking writes; `class up --swarm` places them again on the live nodes,
  fresh, and starts the exercise one of them ran again with its seed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from teaching import exercise_matrix, foolab_in, graded_from_the_lab, require_docker

from lab.classweb.class_watch import ClassWatch
from lab.engine import client, node_ssh, nodes
from lab.engine.lab import Lab
from lab.engine.network import CLASS_TAG
from lab.engine.process import run
from lab.engine.waiting import wait_for
from lab.exercises.catalog import EXERCISES
from lab.model import bounds
from lab.model.config import REPO, LabConfig
from lab.model.topology import image

NODES = ("node1", "node2", "node3")
WORKERS = NODES[1:]  # the nodes but the manager
LABS = ("w01", "w02", "w03", "w04", "w05", "w06")
PORTS = {"dns": 53, "web": 80, "db": 3306}
LOST_WITHIN_S = 30
EXERCISE, SEED = "reads-from-dead-replica", "ada@school"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster-state")


def foolab(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return foolab_in(state, *args, timeout=timeout)


def rows(state: Path) -> dict[str, dict[str, Any]]:
    out = foolab(state, "class", "status", "--json", timeout=120)
    return {r["lab"]: r for r in json.loads(out.stdout)}


@pytest.fixture(scope="module")
def pool(state: Path) -> Iterator[Path]:
    """Three nodes and six labs on them, removed again whatever happens."""
    require_docker()
    try:
        up = foolab(state, "cluster", "up", str(len(NODES)))
        assert up.returncode == 0, up.stderr[-2000:] + up.stdout[-2000:]
        up = foolab(state, "class", "up", str(len(LABS)), "--prefix", "w", "--swarm")
        assert up.returncode == 0, up.stderr[-2000:] + up.stdout[-2000:]
        yield state
    finally:
        foolab(state, "class", "down")
        foolab(state, "cluster", "down")


def config(state: Path, name: str) -> LabConfig:
    base = replace(LabConfig.from_env(), state_dir=state, class_root=state / "class")
    return base.for_lab(name)


def containers_on(node: str) -> dict[str, set[str]]:
    """lab -> its containers, as the node's own engine lists them."""
    with client.engine(nodes.endpoint(node)):
        listed = client.class_containers()
    found: dict[str, set[str]] = {}
    for c in listed:
        found.setdefault(c["Labels"]["org.foolab.class"], set()).add(c["Names"][0].lstrip("/"))
    return found


def on(state: Path, node: str) -> list[str]:
    return sorted(name for name, r in rows(state).items() if r["node"] == node)


def write_through_web1(state: Path, lab: str, tag: str) -> bool:
    """One order through the lab's own web1 (db.php answers 503 when the write fails)."""
    with client.engine(Lab(config(state, lab)).engine):  # the node holding it
        done = subprocess.run(
            ["docker", "exec", f"foolab{lab}-web1", "curl", "-fsS", "-m", "5",
             f"http://127.0.0.1/db.php?write=1&writer={tag}"],
            text=True, capture_output=True, timeout=30, env=client.command_env())
    return done.returncode == 0


def test_labs_are_whole_on_one_node_each_two_per_node(pool: Path) -> None:
    status = rows(pool)
    assert sorted(status) == list(LABS)
    assert all(len(on(pool, n)) == 2 for n in NODES), status
    assert all(r["healthy"] == r["hosts"] == 7 and r["replicating"] for r in status.values())
    listed = {n: containers_on(n) for n in NODES}
    for name, r in status.items():
        assert len(listed[r["node"]][name]) == 8  # the seven and the console, on its node
        assert all(name not in listed[n] for n in NODES if n != r["node"])  # nothing elsewhere


def test_each_node_has_the_class_rules_and_no_way_out(pool: Path) -> None:
    """The class's rules are in each node's own network (where its labs'
    bridges are), and a node has no default route: nothing of a lab can
    leave the machine's own namespaces."""
    for node in NODES:
        with client.engine(nodes.endpoint(node)):
            rules = run(nodes.machine_command(["iptables", "-S"]), timeout=20).stdout
            routes = run(nodes.machine_command(["ip", "-4", "route", "show", "default"]),
                         timeout=20)
        ours = [r for r in rules.splitlines() if CLASS_TAG in r]  # not Docker's own chains
        assert any(r.startswith("-A DOCKER-USER") and "physdev" in r for r in ours), (node, rules)
        assert routes.returncode == 0 and routes.stdout.strip() == "", (node, routes.stdout)


def test_each_lab_on_a_node_runs_in_its_own_bounded_group(pool: Path) -> None:
    """A lab on a node has its share as a lab here has (issue 31): the group
    is made on the node that holds it, through that node's engine
    (lab.engine.cgroups.on_node), bounded, and holds every host of the lab;
    read back on the node by a one-off container, not on this machine."""
    share = bounds.from_env()
    for lab in LABS:
        with client.engine(Lab(config(pool, lab)).engine):
            mine = [c for c in client.class_containers() if c["Labels"]["org.foolab.class"] == lab]
            parents = {(client.inspect_container(c["Id"]) or {})["HostConfig"]["CgroupParent"]
                       for c in mine}
            memory, pids = (f"/sys/fs/cgroup/{c}/foolab-class/{lab}" for c in ("memory", "pids"))
            read = f"cat {memory}/memory.limit_in_bytes {pids}/pids.max; ls -d {memory}/*/"
            seen = client.client().containers.run(
                image("dns"), entrypoint=["sh", "-c", read],
                volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
                network_mode="none", remove=True).decode().split()
        assert len(mine) == 8 and parents == {f"/foolab-class/{lab}"}, (lab, parents)
        assert seen[:2] == [str(share.memory_bytes), str(share.pids)], (lab, seen)
        assert len(seen[2:]) == len(mine), (lab, seen)  # each host's own group, inside


def test_each_lab_answers_the_article_addresses_from_inside(pool: Path) -> None:
    for name in LABS:
        lab = Lab(config(pool, name))
        with lab.network():  # the console's namespace, through its node's engine
            for h in lab.topology.hosts:
                with socket.create_connection((h.address, PORTS[h.role.value]), timeout=3):
                    pass
        assert lab.topology.address("ns1") == "10.1.1.2"


def test_a_kill_on_node1_leaves_node2_whole(pool: Path) -> None:
    victim, other = on(pool, "node1")[0], on(pool, "node2")[0]
    try:
        assert foolab(pool, "--lab", victim, "fault", "kill", "db1").returncode == 0
        status = rows(pool)
        assert status[victim]["healthy"] < 7  # it did bite (db1, and web1 that reads it)
        assert status[other]["healthy"] == 7 and status[other]["replicating"], status[other]
        assert write_through_web1(pool, other, "beside-a-kill")
    finally:
        assert foolab(pool, "--lab", victim, "heal").returncode == 0
    wait_for(f"{victim} whole again", lambda: rows(pool)[victim]["healthy"] == 7, timeout=120)


def test_a_lab_on_node2_is_graded_from_the_manager(pool: Path) -> None:
    name = on(pool, "node2")[0]
    start = foolab(pool, "--lab", name, "exercise", "start", "reads-from-dead-replica",
                   "--seed", "bob@school")
    assert start.returncode == 0, start.stderr
    try:
        out = foolab(pool, "--lab", name, "grade", "--format", "json")
        assert out.returncode == 0, out.stderr
        (grade,) = json.loads(out.stdout)
        graded_from_the_lab(grade)  # read from the broken lab itself
    finally:
        assert foolab(pool, "--lab", name, "exercise", "stop").returncode == 0


def test_the_teacher_watches_a_terminal_on_a_lab_on_a_node(pool: Path) -> None:
    """Issue 33 on a node: a student's terminal in a lab on node2, carried by
    the class server on this machine, is recorded here and watched live by
    the teacher; the student's Check through the server grades the lab on
    node2 (its exercise not yet repaired: goals missed, with hints)."""
    import httpx
    from websockets.sync.client import connect
    from websockets.typing import Origin

    from lab.classweb.access import COOKIE
    from lab.classweb.class_server import running
    from lab.exercises import classroom

    base = replace(LabConfig.from_env(), state_dir=pool, class_root=pool / "class")
    csv = pool / "students.csv"
    csv.write_text("".join(f"Student {i},s{i}@school.example\n"
                           for i in range(1, len(LABS) + 1)))
    roster = classroom.enrol(base, csv, "w")  # the labs already up
    name = on(pool, "node2")[0]
    token = next(s.token for s in roster.students if s.lab == name)
    start = foolab(pool, "--lab", name, "exercise", "start", EXERCISE, "--seed", SEED)
    assert start.returncode == 0, start.stderr
    try:
        with running(base) as (url, app):
            def session(link: str) -> dict[str, str]:
                with httpx.Client(base_url=url) as http:
                    http.get(f"/join/{link}").raise_for_status()
                    return {"Cookie": f"{COOKIE}={http.cookies[COOKIE]}"}

            ws = url.replace("http", "ws")
            with connect(f"{ws}/lab/{name}/terminal?host=ns2", origin=Origin(url),
                         additional_headers=session(token)) as mine:
                wait_for("the session recorded", lambda: app.recorder.sessions(name),
                         timeout=15)
                sid = app.recorder.sessions(name)[0]["id"]
                with connect(f"{ws}/teacher/lab/{name}/watch?session={sid}",
                             origin=Origin(url),
                             additional_headers=session(roster.teacher_token)) as seat:
                    mine.send(json.dumps({"in": "echo node-$((6*7)); hostname\r"}))
                    seen = bytearray()

                    def shown() -> bool:
                        data = seat.recv(timeout=5)
                        seen.extend(data if isinstance(data, bytes) else b"")
                        return b"node-42" in seen

                    wait_for("the line on the teacher's screen", shown, timeout=15)
            with httpx.Client(base_url=url, timeout=120) as http:
                checked = http.post(f"/lab/{name}/check", headers={
                    **session(token), "Origin": url})
            assert checked.status_code == 200, checked.text
            result = checked.json()
            assert result["exercise"] == EXERCISE and result["points"] < result["out_of"]
            assert any(not g["passed"] and g["hint"] for g in result["goals"]), result
        cast = config(pool, name).state_dir / "casts" / f"{sid}.cast"
        assert "node-42" in cast.read_text() and "ns2" in cast.read_text()
    finally:
        classroom.forget_roster(base)
        assert foolab(pool, "--lab", name, "exercise", "stop").returncode == 0


@pytest.fixture(scope="module")
def matrix(pool: Path) -> dict[str, str]:
    """Issue 31: every exercise in a lab on a node, the writer's included
    (its orders acknowledged from inside a lab whose engine is a node's):
    the catalogue shared between a lab on node1 and one on node2, worked
    side by side from here, each broken, repaired by the runbooks, graded
    full marks and stopped."""
    labs = [Lab(config(pool, on(pool, node)[0])) for node in ("node1", "node2")]
    return exercise_matrix({lab: f"{lab.config.lab}@school" for lab in labs})


@pytest.mark.parametrize("exercise", [e.name for e in EXERCISES])
def test_every_exercise_breaks_and_is_repaired_in_a_lab_on_a_node(
        matrix: dict[str, str], exercise: str) -> None:
    assert exercise in matrix and matrix[exercise] == "", matrix.get(exercise)


@pytest.mark.parametrize("node", WORKERS)
def test_every_lab_command_works_on_a_lab_on_a_node(
        pool: Path, node: str, tmp_path: Path) -> None:
    """Each `--lab` command on a lab held by a node that is not the manager,
    driven from here through that node's engine: status, a shell on a host,
    a fault and its heal, a runbook, an exercise started, self-checked,
    graded from the lab itself and stopped, and a load run whose tests go in
    and report comes out through the node's engine (to a folder here the
    node never sees), spread over the lab's three web servers."""
    name = on(pool, node)[-1]
    status = foolab(pool, "--lab", name, "status", timeout=180)
    assert status.returncode == 0 and "db2" in status.stdout, status.stderr[-2000:]
    assert shell_says(pool, name, "web2", "echo on-$(hostname)") == "on-web2"
    try:
        assert foolab(pool, "--lab", name, "fault", "pause", "web3").returncode == 0
        wait_for("web3 seen down", lambda: rows(pool)[name]["healthy"] == 6, timeout=60)
    finally:
        assert foolab(pool, "--lab", name, "heal").returncode == 0
    wait_for(f"{name} whole again", lambda: rows(pool)[name]["healthy"] == 7, timeout=120)
    book = foolab(pool, "--lab", name, "runbook", "check-replication")
    assert book.returncode == 0, book.stderr[-2000:] + book.stdout[-2000:]
    start = foolab(pool, "--lab", name, "exercise", "start", EXERCISE, "--seed", f"{node}@school")
    assert start.returncode == 0, start.stderr
    try:
        check = foolab(pool, "--lab", name, "check")  # the student's: not yet repaired
        assert check.returncode == 1, check.stderr[-2000:] + check.stdout[-2000:]
        assert check.stdout.startswith(f"exercise {EXERCISE}: ") and " -- " in check.stdout
        grade = foolab(pool, "--lab", name, "grade", "--format", "json")
        assert grade.returncode == 0, grade.stderr
        graded_from_the_lab(json.loads(grade.stdout)[0])
    finally:
        assert foolab(pool, "--lab", name, "exercise", "stop").returncode == 0
    out = tmp_path / "report"
    done = foolab(pool, "--lab", name, "load", "--users", "6", "--duration", "8s",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    served = {line.split("|")[1].strip(): int(line.split("|")[3])
              for line in done.stdout.splitlines() if line.startswith("| web")}
    assert sorted(served) == ["web1", "web2", "web3"] and all(served.values()), served


def shell_says(state: Path, lab: str, host: str, line: str) -> str:
    """`foolab --lab LAB shell HOST` on a terminal of its own (it asks for
    one, as `docker exec -it` does): `line` typed, its answer read back."""
    import pty

    main, tty = pty.openpty()
    env = {**os.environ, "FOOLAB_STATE_DIR": str(state)}
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "--lab", lab, "shell", host],
                            cwd=REPO, stdin=tty, stdout=tty, stderr=tty, env=env,
                            start_new_session=True)
    os.close(tty)
    seen = bytearray()
    try:
        os.write(main, f"{line}; exit\r".encode())
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                seen += os.read(main, 4096)
            except OSError:  # the terminal closed with the shell
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        os.close(main)
    said = [w for w in seen.decode(errors="replace").split() if w.startswith("on-")]
    return said[-1] if said else seen.decode(errors="replace")[-500:]


def test_the_nodes_share_nothing_of_this_machine_but_a_network(pool: Path) -> None:
    """A node stands for a real machine: no folder of this machine is bound
    into it (the engine's volume is its own; /sys/fs/cgroup stays, as Docker
    gives no private cgroup namespace on cgroup v1, moby#40788), no socket
    of its engine is here, and the swarm knows each engine by ssh:// alone."""
    for node in NODES:
        with client.engine(client.MACHINE):
            mounts = (client.inspect_container(nodes.container(node)) or {})["Mounts"]
        assert sorted((m["Type"], m.get("Name") or m["Source"], m["Destination"])
                      for m in mounts) == [
            ("bind", "/sys/fs/cgroup", "/sys/fs/cgroup"),
            ("volume", f"foolab-{node}-engine", "/var/lib/docker")], (node, mounts)
    sockets = [p for p in node_ssh.RUN_ROOT.rglob("*") if p.is_socket()]
    assert all(p.parent == node_ssh.RUN_ROOT / "ssh" and p.name.startswith("engine-")
               for p in sockets), sockets  # only foolab's own SSH tunnels
    listed = foolab(pool, "cluster", "status", "--json", timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert {r["node"]: r["engine"] for r in json.loads(listed.stdout)} == {
        n: f"ssh://root@{nodes.address(n)}" for n in NODES}


def test_the_nodes_are_reached_over_ssh_as_real_machines_are(pool: Path) -> None:
    """The README's way for real machines: the manager named by
    FOOLAB_SWARM_MANAGER=ssh://root@ADDRESS, with the key and known hosts
    that `cluster up` made; each node's sshd takes a key only, on the
    cluster's network only."""
    env = {**os.environ, "FOOLAB_STATE_DIR": str(pool),
           "FOOLAB_SWARM_MANAGER": node_ssh.engine(nodes.address("node1"))}
    listed = subprocess.run([sys.executable, "-m", "lab.cli", "cluster", "status", "--json"],
                            cwd=REPO, text=True, capture_output=True, timeout=120, env=env)
    assert listed.returncode == 0, listed.stderr[-2000:] + listed.stdout[-2000:]
    nodes_listed = json.loads(listed.stdout)
    assert sorted(r["node"] for r in nodes_listed) == list(NODES)
    assert all(r["takes_labs"] for r in nodes_listed), nodes_listed  # entered from here
    password = run(["ssh", "-o", "PubkeyAuthentication=no", f"root@{nodes.address('node2')}",
                    "true"], timeout=30)
    assert password.returncode == 255 and "(publickey)" in password.stderr, password.stderr
    with client.engine(nodes.endpoint("node2")):
        listening = run(nodes.machine_command(["ss", "-ltnH", "sport = :22"]), timeout=30)
    assert [line.split()[3] for line in listening.stdout.splitlines()] == [
        f"{nodes.address('node2')}:22"], listening.stdout


def test_a_lost_node_is_seen_and_its_labs_placed_again(pool: Path) -> None:
    kept, gone = on(pool, "node1") + on(pool, "node3"), on(pool, "node2")
    writes: list[bool] = []
    stop = threading.Event()

    def keep_writing() -> None:  # bounded: at most 120 orders
        for i in range(120):
            if stop.is_set():
                return
            writes.append(write_through_web1(pool, kept[0], f"while-node2-goes-{i}"))

    base = replace(LabConfig.from_env(), state_dir=pool, class_root=pool / "class")
    watch = ClassWatch(base, {n: n for n in LABS})
    start = foolab(pool, "--lab", gone[0], "exercise", "start", EXERCISE, "--seed", SEED)
    assert start.returncode == 0, start.stderr
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        t0 = time.monotonic()
        with client.engine(client.MACHINE):
            client.stop(nodes.container("node2"), grace=5)
        seen = wait_for("node2's labs reported lost", lambda: all(
            rows(pool)[n]["lost"] for n in gone), timeout=LOST_WITHIN_S)
        took = time.monotonic() - t0
        status = rows(pool)
        assert seen and took <= LOST_WITHIN_S
        watch.round()  # the teacher's grid: one round of the class server's watcher
        grid = {r["lab"]: r for r in watch.rows()[1]}
        assert all(grid[n]["lost"] and grid[n]["node"] == "node2" for n in gone), grid
        assert all(not grid[n]["lost"] and grid[n]["healthy"] == 7 for n in kept), grid
        assert all("node2" in status[n]["error"] for n in gone)
        assert all(status[n]["healthy"] == 7 and not status[n]["lost"] for n in kept), status
    finally:
        stop.set()
        writer.join(timeout=60)
    assert writes and all(writes), f"node1's writes failed: {writes.count(False)} of {len(writes)}"
    again = foolab(pool, "class", "up", str(len(LABS)), "--prefix", "w", "--swarm")
    assert again.returncode == 0, again.stderr[-2000:]
    for n in gone:
        assert f"[{n}] node2 is lost" in again.stdout, again.stdout
        assert any(f"[{n}] placed on {live}" in again.stdout for live in ("node1", "node3"))
    assert f"[{gone[0]}] exercise {EXERCISE} started again (seed {SEED})" in again.stdout
    status = rows(pool)
    assert all(r["node"] in ("node1", "node3") for r in status.values()), status
    assert all(status[n]["healthy"] == 7 for n in (*kept, gone[1])), status
    assert status[gone[0]]["exercise"] == EXERCISE  # the fresh lab, broken the same way


def test_a_lab_on_a_node_is_reset_on_the_cluster_with_its_exercise(pool: Path) -> None:
    """Issue 33: `class reset` of a lab on a node (the one placed again
    above, its exercise running): removed, placed on a live node again,
    whole, the same exercise started again with the same seed."""
    from lab.exercises import grader

    name, was = next((n, r) for n, r in rows(pool).items() if r["exercise"] == EXERCISE)
    before = grader.running(Lab(config(pool, name)))
    assert before is not None and before.seed == SEED
    reset = foolab(pool, "class", "reset", name)
    said = reset.stdout + reset.stderr
    assert reset.returncode == 0, said[-2000:]
    assert f"lab {name}: reset, {EXERCISE} started again with the same seed" in said, said[-2000:]
    row = rows(pool)[name]
    assert row["node"] in ("node1", "node3") and row["exercise"] == EXERCISE, row
    # broken the same way (the lab placed again above lists its fault twice: its
    # old lab's record is kept when its node is lost; the reset starts clean)
    assert (row["healthy"], set(row["faults"])) == (was["healthy"], set(was["faults"]))
    after = grader.running(Lab(config(pool, name)))
    assert after is not None and after.seed == SEED and after.started_at > before.started_at
