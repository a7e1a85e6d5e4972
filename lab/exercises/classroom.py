"""A class of labs on one machine: started, watched and removed together.

Each lab is a whole `Lab` (compose/lab.yml + compose/class.yml) with its own
project, secrets, volumes and state folder (.lab/class/NAME/). Labs start in
parallel, a few at a time; a lab that fails is named with the reason and
removed (Lab.up does that), the others stay up.

It sits with the exercises (one floor above drills and admin) because a
class's status reads faults and the running exercise of each lab.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pymysql

from lab.drills import faults
from lab.engine import cgroups, client, nodes, revive
from lab.engine.lab import Lab
from lab.exercises import grader, writer
from lab.exercises.definitions import Started
from lab.hosts.mariadb import admin_password
from lab.model import bounds as bounds_model
from lab.model import class_layout, cluster
from lab.model import roster as roster_model
from lab.model.config import REPO, LabConfig
from lab.model.errors import LabError, TopologyError
from lab.model.figures import Progress
from lab.probes import mysql

PARALLEL = 4  # labs stopped at once (a start's width: class_layout.start_width)
# Labs read at once by `class status`: a read mostly waits (engine calls
# through a node's tunnel, a healthcheck, one query), so the manager's round
# over a course is as long as its slowest labs, not their sum (bench: cluster).
READ_PARALLEL = 12


def labs(base: LabConfig) -> list[str]:
    """Every class lab this machine knows: a state folder with its record,
    or containers labelled with its name."""
    names = {d.name for d in base.class_root.glob("*")
             if (d / class_layout.RECORD_NAME).exists() and class_layout.NAME.fullmatch(d.name)}
    names.update(n.removeprefix("foolab") for n in client.class_networks())
    return sorted(names)


def require_lab(base: LabConfig, name: str) -> None:
    """`--lab NAME` for a lab that exists, or one line listing the labs."""
    known = labs(base)
    if name not in known:
        raise LabError(f"no lab {name!r}",
                       "labs: " + (", ".join(known) if known else "none"),
                       "start one with `foolab class up N` or `foolab --lab NAME up`")


def enrol(base: LabConfig, csv_path: Path, prefix: str = "s") -> roster_model.Roster:
    """The class's roster with the students of `csv_path` in it (a bad line:
    one LabError, nothing written). Students already enrolled keep their lab,
    link and seed; the roster is saved before any lab starts, so `class
    access` works while they come up."""
    people = roster_model.read(csv_path)
    roster = (roster_model.Roster.load(base.class_root) or roster_model.Roster()).merged(
        people, prefix)
    for s in roster.students:  # a lab name the single lab would collide with
        class_layout.check_name(s.lab, base.project)
    roster.save(base.class_root)
    return roster


def roster_of(base: LabConfig) -> roster_model.Roster | None:
    return roster_model.Roster.load(base.class_root)


def require_roster(base: LabConfig) -> roster_model.Roster:
    roster = roster_of(base)
    if roster is None:
        raise LabError("this class has no roster", hint="`foolab class up --roster students.csv`")
    return roster


def forget_roster(base: LabConfig) -> None:
    """`class down`: the links and the class secret go with the labs."""
    (base.class_root / roster_model.FILE_NAME).unlink(missing_ok=True)


def student_seed(cfg: LabConfig) -> str | None:
    """The exercise seed of the student whose lab `cfg` is (None: no roster,
    or nobody in this lab)."""
    roster = roster_of(cfg) if cfg.lab else None
    return roster.seed(cfg.lab) if roster else None


def available_mib() -> int:
    """MemAvailable of this machine, MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def how_many_fit(free_mib: int, reserve_mib: int = 512) -> int:
    """Labs this much free memory holds at MEMORY_PER_LAB_MIB each, keeping
    `reserve_mib` for the machine itself."""
    return max(0, (free_mib - reserve_mib) // class_layout.MEMORY_PER_LAB_MIB)


@dataclass
class Outcome:
    """What starting (or removing) one lab came to."""

    name: str
    ok: bool
    seconds: float = 0.0
    subnet: str = ""
    wire: str = ""
    error: str = ""
    slowest: str = ""  # the host that took `seconds` to be healthy


@dataclass
class ClassUp:
    outcomes: list[Outcome] = field(default_factory=list)
    width: int = 0  # labs started at once

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def configs(base: LabConfig, count: int, prefix: str = "s",
            subnet_per_lab: bool = False) -> list[LabConfig]:
    """The class's labs s01..sNN; with `subnet_per_lab` lab i has
    10.1.(100+i).0/24 instead of the article's 10.1.1.0/24."""
    result = []
    for i, name in enumerate(class_layout.class_names(count, prefix), start=1):
        cfg = base.for_lab(name)
        if subnet_per_lab and not cfg.wire_subnet:
            cfg = replace(cfg, subnet=class_layout.per_lab_subnet(i))
        result.append(cfg)
    return result


def placement(cfg: LabConfig) -> cluster.Placement | None:
    """The node holding a class lab (None: this machine's engine)."""
    return cluster.Placement.load(cfg.state_dir) if cfg.lab else None


def lost_node(cfg: LabConfig) -> str | None:
    """The node of a lab whose node's engine does not answer (a stopped node
    container, a machine gone), else None."""
    where = placement(cfg)
    return where.node if where and not nodes.answers(where.engine) else None


def forget(cfg: LabConfig) -> Started | None:
    """A lab whose node is gone: its files go (new secrets next time), so
    that `class up` makes it again; the exercise it ran, if any."""
    started = grader.running(Lab(cfg))
    for path in (*cfg.per_lab_files, cfg.state_dir / class_layout.RECORD_NAME,
                 cfg.state_dir / grader.RECORD):
        path.unlink(missing_ok=True)
    return started


def place_on_nodes(cfgs: list[LabConfig], progress: Progress,
                   ) -> tuple[list[LabConfig], dict[str, Started]]:
    """`class up --swarm`: each lab with no live node placed on one, whole
    (lab.model.cluster.place); a lab whose node was lost is forgotten and
    placed again as a fresh lab, said in one line. The configurations,
    with what was forgotten dropped, and the exercises the lost labs ran."""
    pool = nodes.listed()
    if not pool:
        raise LabError("there is no cluster", hint="`foolab cluster up 2` (or join machines: "
                       "README, A class over several machines)")
    alive = {n.name for n in pool if n.usable and nodes.answers(n.engine)}
    refused = {n.name: nodes.refusal(n, n.name in alive, class_layout.MEMORY_PER_LAB_MIB)
               for n in pool}
    for name, why in refused.items():  # a lab already on one stays (held); no new one goes
        if why:
            progress(f"{name}: takes no lab: {why}")
    held: dict[str, int] = {}
    todo, ran = [], {}
    for cfg in cfgs:
        where = placement(cfg)
        if where and where.node in alive:
            held[where.node] = held.get(where.node, 0) + 1
            continue
        if where:
            progress(f"[{cfg.lab}] {where.node} is lost: the lab starts again elsewhere, "
                     "fresh, with the same seed")
            if (started := forget(cfg)) is not None:
                ran[cfg.lab] = started
        elif (cfg.state_dir / class_layout.RECORD_NAME).exists():
            continue  # already a lab on this machine's engine: it stays there
        todo.append(cfg.lab)
    usable = [n for n in pool if not refused[n.name]]
    chosen = cluster.place(todo, usable, held, class_layout.MEMORY_PER_LAB_MIB)
    engines = {n.name: n.engine for n in usable}
    for name, node in chosen.items():
        cluster.Placement(name, node, engines[node]).save(cfgs[0].class_root / name)
        progress(f"[{name}] placed on {node}")
    images = sorted({h.image for h in cfgs[0].topology.hosts})
    for node in sorted(set(chosen.values())):  # images rebuilt since `cluster up`
        nodes.ship_images(images, engines[node], _prefixed(progress, node))
    return [replace(c, wire_subnet="") if c.lab in chosen else c for c in cfgs], ran


def up(cfgs: list[LabConfig], progress: Progress,
       prepare: tuple[Callable[[Lab], None], ...] = (), swarm: bool = False) -> ClassUp:
    """Start every lab not yet up, as many at once as the machine allows
    (class_layout.start_width): on this machine after
    checking that its memory holds them all (else LabError, nothing
    started), or `swarm`, each on the node it is placed on."""
    ran: dict[str, Started] = {}
    share = bounds_model.from_env()  # a bad bound: one line, nothing started
    if swarm:
        cfgs, ran = place_on_nodes(cfgs, progress)
    known = set(labs(cfgs[0])) if cfgs else set()
    new = [c for c in cfgs if c.lab not in known and placement(c) is None]
    fit = how_many_fit(available_mib())
    if len(new) > fit:
        raise LabError(f"{len(new)} more labs do not fit in this machine's memory",
                       f"{available_mib()} MiB available, {class_layout.MEMORY_PER_LAB_MIB} MiB "
                       f"per lab: {fit} fit", f"`foolab class up {len(cfgs) - len(new) + fit}`")
    named = {c.lab for c in cfgs}  # and the labs of this machine not named now
    here = len({c.lab for c in cfgs if placement(c) is None} | (known - named))
    if here > (bounded := cgroups.labs_that_fit(share)):
        raise LabError(f"{here} labs' shares do not fit beside this machine's reserve",
                       f"{share.memory_mib} MiB and {share.pids} processes per lab: "
                       f"{bounded} fit", "FOOLAB_LAB_MEMORY_MIB or FOOLAB_LAB_PIDS lower, "
                       "or fewer labs")
    if cfgs:  # the images once, not once per lab in parallel
        Lab(cfgs[0], progress=progress).build()
    result = ClassUp()

    def start(cfg: LabConfig) -> Outcome:
        say = _prefixed(progress, cfg.lab)
        try:
            with nodes.on(placement(cfg)):
                lab = Lab(cfg, progress=say, prepare=prepare)
                times = lab.up()
        except (LabError, TopologyError) as exc:
            say(f"failed: {exc}")
            return Outcome(cfg.lab, False, error=str(exc).splitlines()[0])
        host = max(times, key=lambda h: times[h], default="")
        return Outcome(cfg.lab, True, times.get(host, 0.0), lab.topology.subnet,
                       lab.config.wire_subnet, slowest=host)

    width = class_layout.start_width(len(cfgs), os.cpu_count() or 1, available_mib())
    progress(f"starting {len(cfgs)} labs, {width} at once (from the cores and free memory)")
    result.width = width
    done: list[Outcome] = []
    lock = threading.Lock()

    def started(cfg: LabConfig) -> Outcome:
        outcome = start(cfg)
        with lock:
            done.append(outcome)
            whole = [o for o in done if o.ok]
            last = max(whole, key=lambda o: o.seconds, default=None)
            slowest = (f"{last.name} {last.slowest}", last.seconds) if last else None
            progress(class_layout.start_line(len(whole), len(cfgs), slowest))
        return outcome

    with cf.ThreadPoolExecutor(width) as pool:
        result.outcomes = list(pool.map(client.carried(started), cfgs))
    for o in result.outcomes:  # a lost lab's exercise, on its fresh lab: the same seed
        if o.ok and o.name in ran:
            lab = Lab(next(c for c in cfgs if c.lab == o.name))
            with lab.network():
                grader.start(lab, ran[o.name].exercise, ran[o.name].seed)
            progress(f"[{o.name}] exercise {ran[o.name].exercise} started again "
                     f"(seed {ran[o.name].seed})")
    return result


# What a teacher keeps of a removed lab: its grades (goals first met), the
# writer's logs (the evidence behind the data goals) and the terminal casts.
KEPT = REPO / "reports" / "exercises" / "kept"
CASTS = "casts"  # the lab's recorded terminal sessions (classweb.casts)
KEPT_AS = {"writer": "the writer's log", CASTS: "the terminal recordings"}


def clear(cfg: LabConfig, progress: Progress) -> Path | None:
    """A removed class lab leaves nothing behind: its writer stopped, its
    grades, writer logs and casts kept under reports/exercises/kept/ (said in one
    line), then its whole state folder gone, so a new lab of the same name
    starts with no exercise, secrets or place. Where they were kept, or None."""
    folder = cfg.state_dir
    if not cfg.lab or not folder.is_dir():
        return None
    started = Started.load(folder / grader.RECORD)
    if started is not None and started.writer:
        writer.stop(Lab(cfg), started.writer)
    evidence = [p for p in (folder / grader.GOALS_MET, folder / grader.BY_EXERCISE,
                            folder / grader.RECORD) if p.exists()]
    folders = [f for f in (folder / "writer", folder / CASTS) if f.is_dir()]
    kept = None
    if evidence or folders:
        kept = KEPT / f"{cfg.lab}-{time.strftime('%Y%m%d-%H%M%S')}"
        kept.mkdir(parents=True, exist_ok=True)
        for path in evidence:
            shutil.copy2(path, kept / path.name)
        for logs in folders:
            shutil.copytree(logs, kept / logs.name, dirs_exist_ok=True)
        what = (["grades"] if evidence else []) + [KEPT_AS[f.name] for f in folders]
        progress(f"[{cfg.lab}] {' and '.join(what)} kept in {kept}")
    shutil.rmtree(folder, ignore_errors=True)
    return kept


def down(cfgs: list[LabConfig], progress: Progress) -> list[Outcome]:
    """Remove every lab in `cfgs`, in parallel, and what each left on this
    machine (clear)."""
    def remove(cfg: LabConfig) -> Outcome:
        if (node := lost_node(cfg)) is not None:  # nothing left to remove but its files
            forget(cfg)
            clear(cfg, progress)
            return Outcome(cfg.lab, True, error=f"{node} is lost: forgotten")
        try:
            with nodes.on(placement(cfg)):
                had = Lab(cfg, progress=_prefixed(progress, cfg.lab)).down()  # and its place
        except LabError as exc:
            return Outcome(cfg.lab, False, error=str(exc).splitlines()[0])
        clear(cfg, progress)
        return Outcome(cfg.lab, had)

    with cf.ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(client.carried(remove), cfgs))


def _prefixed(progress: Progress, name: str) -> Progress:
    return lambda msg: progress(f"[{name}] {msg}")


def lab_row(cfg: LabConfig) -> dict[str, Any]:
    """One lab's line of `class status`: its node, hosts healthy, db2's
    replication and lag, faults. Read from the lab itself (inside its
    network, through its node's engine); a lab whose node does not answer
    is `lost`, with the node named."""
    where = placement(cfg)
    if where is not None and not nodes.answers(where.engine):
        roster = roster_of(cfg)
        student = roster.by_lab(cfg.lab) if roster else None
        return {"lab": cfg.lab, "student": student.name if student else "", "node": where.node,
                "lost": True, "subnet": cfg.subnet, "wire": cfg.wire_subnet, "healthy": 0,
                "hosts": len(cfg.topology.hosts), "replicating": False, "lag_s": None,
                "faults": [], "exercise": "", "error": f"lost: {where.node} does not answer"}
    with nodes.on(where):
        row = _row_here(cfg)
    row.update(node=where.node if where else "", lost=False)
    return row


def _row_here(cfg: LabConfig) -> dict[str, Any]:
    lab = Lab(cfg)
    states = lab.states(probe=True)  # now, not Docker's last check
    exited = [n for n, s in states.items() if s.status == "exited"]
    if exited:  # a host its memory bound ended comes back
        revive.revive_all(cfg, exited)
        states = lab.states(probe=True)
    roster = roster_of(cfg)
    student = roster.by_lab(cfg.lab) if roster else None
    row: dict[str, Any] = {
        "lab": cfg.lab, "student": student.name if student else "",
        "subnet": lab.topology.subnet, "wire": cfg.wire_subnet,
        "healthy": sum(s.is_healthy for s in states.values()), "hosts": len(states),
        "replicating": False, "lag_s": None,
        "faults": [f.describe() for f in faults.active(lab)],
        "exercise": (ex.exercise if (ex := grader.running(lab)) else ""),
        "oom": cgroups.oom_kills(cfg, lab.engine),  # at the lab's memory bound
    }
    replica = lab.topology.replica
    if states[replica].status != "running":
        return row
    try:
        with lab.network():
            rs = mysql.replica_status(lab.address_of(replica), admin_password(lab))
    except (LabError, OSError, pymysql.MySQLError) as exc:
        row["error"] = str(exc).splitlines()[0][:100]
        return row
    if rs is not None:
        row["replicating"] = rs.running
        row["lag_s"] = rs.seconds_behind
    return row


def status(cfgs: list[LabConfig]) -> list[dict[str, Any]]:
    """`class status`: one row per lab, read in parallel."""
    with cf.ThreadPoolExecutor(READ_PARALLEL) as pool:
        return list(pool.map(client.carried(lab_row), cfgs))
