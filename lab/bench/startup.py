"""`foolab bench --only startup`: what a class notices of one lab (issue 10):
how long a warm `up` takes, how long the role images take to build cold,
what an idle lab costs in CPU and memory.

Idle CPU is counted where it is spent: inside the lab's containers (their
cgroups, through the engine's stats), in the runtime shims that start each
healthcheck (containerd-shim-runc-v2 and the runc it waits for), and in the
engine daemons (dockerd, containerd). The daemons serve every lab on the
machine, so the lab's share is their CPU with it up minus with it down.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.process import compose_command, run
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress
from lab.model.timings import WHOLE
from lab.model.topology import Role, image

ENGINE = ("dockerd", "containerd")
SHIM = "containerd-shim-runc-v2"


def lab_up_times(lab: Lab, runs: int, cold: bool, progress: Progress, fresh: bool = False,
                 phases: dict[str, Figure] | None = None,
                 ) -> tuple[Figure, Figure, dict[str, Figure]]:
    """Time `up` from no lab (cold: lab images removed too; fresh: the base
    image as well) to seven healthy hosts, and `down`; per host, seconds
    from start to healthy (its healthcheck run by `up`). `phases`: each of
    up's phases (Lab.phases) added there as "NAME: PHASE"."""
    name, note = (("lab-up fresh", "no base image (debootstrap), no lab images; engine "
                   "installed") if fresh else
                  ("lab-up cold", "base image present, lab images removed") if cold else
                  ("lab-up warm", "images built"))
    up = Figure(name, "s", note=note)
    down = Figure("lab-down", "s")
    per_host: dict[str, Figure] = {}
    loads = []
    for i in range(runs):
        if lab.is_up():  # timing the removal of nothing would say nothing
            t0 = time.monotonic()
            lab.down(forget_secrets=False)
            down.runs.append(time.monotonic() - t0)
        if cold or fresh:
            client.remove_images(*(image(r) for r in (Role.DNS, Role.WEB, Role.DB)),
                                 *(["debian:bookworm-slim"] if fresh else []))
        progress(f"{up.name}: run {i + 1}/{runs}")
        loads.append(os.getloadavg()[0])
        t0 = time.monotonic()
        healthy = lab.up()
        up.runs.append(time.monotonic() - t0)
        for phase, seconds in lab.phases.took.items():
            if phases is not None and phase != WHOLE:
                key = f"{up.name}: {phase}"  # fresh, cold and warm apart
                phases.setdefault(key, Figure(key, "s")).runs.append(seconds)
        for host, seconds in healthy.items():
            per_host.setdefault(host, Figure(f"{host} healthy after start", "s")).runs.append(
                seconds)
    up.note += f"; load average (1 min) before each run: {_loads(loads)}"
    return up, down, per_host


def memory(lab: Lab) -> dict[str, float]:
    """MiB of memory each running host uses now (as docker stats shows it)."""
    used = {h.name: client.memory_mib(h.container) for h in lab.topology.hosts}
    return {name: mib for name, mib in used.items() if mib is not None}


# --- idle CPU ------------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    """utime + stime of a process and its waited-for children (/proc/PID/stat);
    0 if it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])


def _pids(match: Callable[[str, str], bool]) -> list[int]:
    """Processes on this machine whose (name, command line) match."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if match(comm, cmdline):
                found.append(int(entry.name))
    return found


def _engine_pids() -> list[int]:
    return _pids(lambda comm, _cmd: comm in ENGINE)


def _shim_pids(ids: list[str]) -> list[int]:
    return _pids(lambda comm, cmd: comm.startswith("containerd-shim") and any(
        f"-id {i}" in cmd for i in ids))


def _percent(ticks: int, seconds: float) -> float:
    return 100 * ticks / os.sysconf("SC_CLK_TCK") / seconds


def engine_cpu(seconds: float) -> float:
    """% of one core the engine daemons use over `seconds` (every lab on the machine)."""
    pids = _engine_pids()
    before, t0 = sum(_ticks(p) for p in pids), time.monotonic()
    time.sleep(seconds)  # the idle window is the measured condition
    return _percent(sum(_ticks(p) for p in pids) - before, time.monotonic() - t0)


def lab_cpu(lab: Lab, seconds: float) -> dict[str, float]:
    """% of one core over `seconds` of the lab left alone: inside its
    containers, in their shims, and in the engine daemons."""
    containers = [h.container for h in lab.topology.hosts]
    ids = [str((client.inspect_container(c) or {}).get("Id", "")) for c in containers]
    shims, engine = _shim_pids([i for i in ids if i]), _engine_pids()

    def sample() -> tuple[int, int, int]:
        return (sum(client.cpu_total_ns(c) or 0 for c in containers),
                sum(_ticks(p) for p in shims), sum(_ticks(p) for p in engine))

    (c0, s0, e0), t0 = sample(), time.monotonic()
    time.sleep(seconds)  # the idle window is the measured condition
    (c1, s1, e1), took = sample(), time.monotonic() - t0
    return {"containers": 100 * (c1 - c0) / 1e9 / took, "shims": _percent(s1 - s0, took),
            "engine": _percent(e1 - e0, took)}


def check_interval(lab: Lab) -> float:
    """Seconds between the engine's healthchecks of the lab's hosts (the longest)."""
    ns = [int(((client.inspect_container(h.container) or {}).get("Config") or {}).get(
        "Healthcheck", {}).get("Interval") or 0) for h in lab.topology.hosts]
    return max(ns, default=0) / 1e9


# --- the floor: the engine's own start ----------------------------------------------------

# Seven containers of the lab's images, doing nothing, on a network of their
# own with no way out: what Compose and the engine cost before any daemon of
# the lab runs. `up` warm is judged against it (aim: at most 3x).
FLOOR_PROJECT = "foolab-floor"
FLOOR_SERVICE = """  {name}:
    image: {image}
    entrypoint: ["sleep", "infinity"]
    init: true
    networks: [bare]
"""


def floor(lab: Lab, runs: int, progress: Progress) -> Figure:
    """Seconds for `docker compose up -d` of seven bare containers of the
    lab's images (created, started, on a new network), then removed."""
    figure = Figure("seven bare containers up (the floor)", "s",
                    note="the lab's images running `sleep`, one new internal network, "
                    "`docker compose up -d` as the lab's")
    services = "".join(FLOOR_SERVICE.format(name=h.name, image=h.image)
                       for h in lab.topology.hosts)
    with tempfile.TemporaryDirectory(prefix="foolab-floor-") as tmp:
        file = Path(tmp) / "floor.yml"
        file.write_text(f"services:\n{services}networks:\n  bare: {{internal: true}}\n")
        compose = [*compose_command(), "-p", FLOOR_PROJECT, "-f", str(file)]
        for i in range(runs):
            progress(f"{figure.name}: run {i + 1}/{runs}")
            t0 = time.monotonic()
            out = run([*compose, "up", "-d"], timeout=120)
            took = time.monotonic() - t0
            run([*compose, "down", "-t", "0"], timeout=120)
            if out.returncode != 0:
                raise LabError("the floor's seven bare containers did not start", out.stderr)
            figure.runs.append(took)
    return figure


# --- cold build ----------------------------------------------------------------------------


def cold_build(lab: Lab, progress: Progress) -> Figure:
    """Seconds to build the three role images side by side with no layer
    cache (base image present), under a throw-away tag removed afterwards:
    the lab's own images stay as they are."""
    tag = f"bench-cold-{uuid.uuid4().hex[:6]}"
    load = os.getloadavg()[0]
    progress(f"role images built cold, side by side, as foolab/*:{tag}")
    t0 = time.monotonic()
    try:
        each = lab.build(tag=tag, no_cache=True)
        took = time.monotonic() - t0
    finally:
        client.remove_images(*(f"foolab/{r.value}:{tag}" for r in (Role.DNS, Role.WEB, Role.DB)))
    return Figure("role images built cold, side by side", "s", [took],
                  note="no layer cache, base image present, Debian packages fetched; " +
                  ", ".join(f"{name.split(':')[0].removeprefix('foolab/')} {s:.0f}"
                            for name, s in each.items()) +
                  f" s each; load average (1 min) before: {load:.1f}")


# --- the part ------------------------------------------------------------------------------


def startup_figures(lab: Lab, reps: int, progress: Progress, idle_s: float = 60,
                    ) -> list[Figure]:
    """Up fresh (no base image, no lab image), cold (base image there), warm
    (down, then up; `reps` times), each phase's seconds and the floor beside
    them; idle CPU and memory of the lab just started, then a cold build of
    the role images."""
    lab.down(forget_secrets=False)
    loads = [os.getloadavg()[0]]
    progress(f"engine daemons with this lab down: {idle_s:g} s")
    without = engine_cpu(idle_s)
    phases: dict[str, Figure] = {}
    fresh, _, _ = lab_up_times(lab, 1, cold=True, progress=progress, fresh=True, phases=phases)
    cold, _, _ = lab_up_times(lab, 1, cold=True, progress=progress, phases=phases)
    up, down, per_host = lab_up_times(lab, reps, cold=False, progress=progress, phases=phases)
    bare = floor(lab, reps, progress)
    ratio = Figure("lab-up warm / the floor", "x", [(up.median or 0) / (bare.median or 1)],
                   note="medians; aim: at most 3")
    # A window as long as the engine's check interval holds one check of each
    # host; a minute holds one run of the cron jobs too (web1's push).
    window = max(idle_s, check_interval(lab))
    progress(f"idle CPU of the lab just started: {window:g} s")
    loads.append(os.getloadavg()[0])
    cpu = lab_cpu(lab, window)
    loads.append(os.getloadavg()[0])
    share = max(0.0, cpu["engine"] - without)
    where = (f"over {window:g} s, lab left alone; load average (1 min) {_loads(loads)}; "
             "other labs on this machine still running")
    mem = memory(lab)
    figures = [
        fresh, cold, up, bare, ratio, down, *per_host.values(), *phases.values(),
        Figure("idle CPU of one lab", "% of a core",
               [cpu["containers"] + cpu["shims"] + share],
               note="containers + their shims + its share of dockerd and containerd; " + where),
        Figure("idle CPU inside the lab's containers", "% of a core", [cpu["containers"]],
               note=where),
        Figure("idle CPU of the lab's runtime shims", "% of a core", [cpu["shims"]],
               note="containerd-shim-runc-v2 and the runc each healthcheck starts; " + where),
        Figure("idle CPU of dockerd + containerd, lab up minus lab down", "% of a core",
               [share], note=f"with the lab up {cpu['engine']:.1f}, down {without:.1f} "
               "(every lab on the machine); " + where),
        Figure("memory of the whole lab", "MiB", [sum(mem.values())],
               note="idle, just started; " + ", ".join(f"{h} {m:.0f}" for h, m in mem.items())),
    ]
    return [*figures, cold_build(lab, progress)]


def _loads(loads: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in loads)
