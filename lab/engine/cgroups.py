"""A class lab's share of this machine, written into control groups.

Every class lab's hosts run under a parent group of their own
(compose/class.yml: `cgroup_parent: ${LAB_CGROUP}`), made here before
Compose starts them, with the lab's memory and process bound, its CPU quota
and the same CPU weight as every other lab; all labs sit under one group,
foolab-class, bounded to the machine less a reserve (lab.model.bounds). So
one student who fills memory, floods processes or spins every core meets
their own lab's bound, and the other labs, the class server and the engine
keep theirs. Docker makes each container's own group under the parent, and
compose/class.yml bounds each host inside its lab.

The engine's cgroup driver says where the groups live:
  cgroupfs, cgroup v1   /sys/fs/cgroup/{memory,pids,cpu}/foolab-class/LAB
  cgroupfs, cgroup v2   /sys/fs/cgroup/foolab-class/LAB (controllers enabled)
  systemd (v1 or v2)    slice foolab-class-LAB.slice inside foolab-class.slice,
                        bounded with `systemctl set-property --runtime`
This machine's engine runs v1 with cgroupfs (scenarios/test_noisy_neighbour.py
proves that one); the others are proved in a small virtual machine with a
kernel, systemd and Docker of its own (scenarios/test_cgroup_drivers.py):
this machine's controllers are all on v1, and a controller is in one
hierarchy only.

A lab on a cluster node gets the same groups on its node, written there by a
one-off container through the node's engine (`on_node`).
"""

from __future__ import annotations

import functools
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.engine import client
from lab.model import bounds as model
from lab.model.config import LabConfig
from lab.model.errors import LabError

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class Groups:
    """Where this machine keeps control groups, as its engine makes them."""

    driver: str  # "cgroupfs" or "systemd", as `docker info` says
    version: int  # 1 or 2
    root: Path = ROOT

    def parent(self, lab: str) -> str:
        """The cgroup_parent Docker is given for lab `lab`'s containers."""
        if self.driver == "systemd":
            return f"{model.CGROUP_ROOT}-{lab}.slice"
        return f"/{model.CGROUP_ROOT}/{lab}"

    def _dirs(self, *parts: str) -> list[Path]:
        if self.version == 2:
            return [self.root.joinpath(*parts)]
        return [self.root / c / Path(*parts) for c in V1_CONTROLLERS]

    def _write(self, folder: Path, name: str, value: str) -> None:
        if self.version == 1 and name.split(".")[0] != folder.relative_to(self.root).parts[0]:
            return  # v1: each controller's files in its own tree
        self._put(folder / name, value)

    def _mkdir(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)

    def _property(self, unit: str, *properties: str) -> None:
        _set_property(unit, *properties)

    def _systemctl(self, verb: str, unit: str) -> None:
        """`systemctl VERB UNIT`, whatever it answers (a unit already gone)."""
        subprocess.run(["systemctl", verb, unit], capture_output=True, timeout=30, check=False)

    def _rmdir(self, folder: Path) -> None:
        try:
            folder.rmdir()
        except OSError:
            pass

    def _put(self, file: Path, value: str) -> None:
        try:
            file.write_text(value)
        except OSError as exc:
            raise LabError(f"cannot bound the lab: {file}", str(exc),
                           "run foolab as root, on an engine with the cgroupfs or systemd "
                           "driver") from None

    def bound(self, lab: str, share: model.LabBounds, total_mib: int, total_pids: int) -> None:
        """The lab's group (and the class's) made and bounded, before any of
        its containers starts; idempotent."""
        if self.driver == "systemd":
            self._property(f"{model.CGROUP_ROOT}.slice", f"MemoryMax={total_mib}M",
                           f"TasksMax={total_pids}")
            self._property(self.parent(lab), f"MemoryMax={share.memory_mib}M",
                           f"TasksMax={share.pids}", f"CPUWeight={share.cpu_weight}",
                           f"CPUQuota={round(share.cpus * 100)}%")
            return
        top = {"memory": str(total_mib * 1024 * 1024), "pids": str(total_pids)}
        own = {"memory": str(share.memory_bytes), "pids": str(share.pids)}
        if self.version == 2:
            self._enable(self.root)
        for folder in self._dirs(model.CGROUP_ROOT):
            self._mkdir(folder)
            self._limit(folder, top)
        if self.version == 2:
            self._enable(self.root / model.CGROUP_ROOT)
        for folder in self._dirs(model.CGROUP_ROOT, lab):
            self._mkdir(folder)
            self._limit(folder, own)
            if self.version == 2:
                self._write(folder, "cpu.weight", str(share.cpu_weight))
                self._write(folder, "cpu.max", f"{share.cpu_quota_us} 100000")
            else:
                self._write(folder, "cpu.shares", str(share.cpu_shares))
                self._write(folder, "cpu.cfs_period_us", "100000")
                self._write(folder, "cpu.cfs_quota_us", str(share.cpu_quota_us))

    def _limit(self, folder: Path, values: dict[str, str]) -> None:
        if self.version == 2:
            self._write(folder, "memory.max", values["memory"])
            self._write(folder, "memory.swap.max", "0")
        else:
            self._write(folder, "memory.limit_in_bytes", values["memory"])
        self._write(folder, "pids.max", values["pids"])

    def _enable(self, folder: Path) -> None:
        self._write(folder, "cgroup.subtree_control", "+memory +pids +cpu")

    def release(self, lab: str) -> None:
        """The lab's group removed once its containers are gone (a group
        still in use stays; the next `up` bounds it again)."""
        if self.driver == "systemd":  # the slice, then its runtime properties
            for verb in ("stop", "revert"):
                self._systemctl(verb, self.parent(lab))
            return
        for folder in self._dirs(model.CGROUP_ROOT, lab):
            self._rmdir(folder)

    def lab_folder(self, lab: str, controller: str = "memory") -> Path:
        """The folder of lab `lab`'s group (cgroup v1: in `controller`'s tree).
        systemd nests a slice by the dashes of its name: foolab-class-s01.slice
        is in foolab-class.slice, itself in foolab.slice (systemd.slice(5))."""
        tree = self.root if self.version == 2 else self.root / controller
        if self.driver == "systemd":
            return tree / _slice_path(self.parent(lab))
        return tree / model.CGROUP_ROOT / lab

    def oom_kills(self, lab: str) -> int:
        """Processes of the lab the kernel killed at a memory bound, its own
        or a host's. v2 counts a group's and its children's in memory.events;
        v1 counts each group's own, so the lab's and each host's are added."""
        folder = self.lab_folder(lab)
        if self.version == 2:
            return _oom_kills(folder / "memory.events")
        hosts = [d for d in folder.iterdir() if d.is_dir()] if folder.is_dir() else []
        return sum(_oom_kills(d / "memory.oom_control") for d in (folder, *hosts))


def _slice_path(unit: str) -> Path:
    """Where systemd keeps slice `unit`, from the root of a tree."""
    parts = unit.removesuffix(".slice").split("-")
    return Path(*("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts))))


NODE_SYSTEMCTL = "nsenter -t 1 -m -- systemctl"  # from a one-off with the node's pids


@dataclass(frozen=True)
class Script(Groups):
    """The same groups as a shell script for the machine that holds the lab
    (a cluster node: `on_node` runs it there), nothing written here."""

    lines: list[str] = field(default_factory=list, compare=False)

    def _mkdir(self, folder: Path) -> None:
        self.lines.append(f"mkdir -p {shlex.quote(str(folder))}")

    def _rmdir(self, folder: Path) -> None:
        self.lines.append(f"rmdir {shlex.quote(str(folder))} 2>/dev/null || true")

    def _put(self, file: Path, value: str) -> None:
        self.lines.append(f"printf %s {shlex.quote(value)} > {shlex.quote(str(file))}")

    # the node's own systemctl, in the node's own namespaces (systemd turns
    # away a client from another process namespace: seen in the cgroup VM)
    def _property(self, unit: str, *properties: str) -> None:
        words = shlex.join(["set-property", "--runtime", unit, *properties])
        self.lines.append(f"{NODE_SYSTEMCTL} {words}")

    def _systemctl(self, verb: str, unit: str) -> None:
        self.lines.append(f"{NODE_SYSTEMCTL} {verb} {shlex.quote(unit)} || true")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _oom_kills(file: Path) -> int:
    try:
        text = file.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def _set_property(unit: str, *properties: str) -> None:
    out = subprocess.run(["systemctl", "set-property", "--runtime", unit, *properties],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise LabError(f"cannot bound {unit}", out.stderr.strip(), "is systemd running?")


def groups(driver: str, root: Path | None = None) -> Groups:
    """This machine's groups for an engine with cgroup driver `driver`."""
    where = root or ROOT
    return Groups(driver, 2 if (where / "cgroup.controllers").exists() else 1, where)


def pid_max() -> int:
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        return 32768


# --- a class lab's groups, for Lab -----------------------------------------------------


def _memtotal_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _here(config: LabConfig, engine: str | None) -> Groups | None:
    """The groups of a class lab on this machine's engine; None for the
    single lab and for a lab on a node."""
    if not config.in_class or engine is not None:
        return None
    return groups(driver())


@functools.cache
def driver() -> str:
    """This machine's engine's cgroup driver (cgroupfs or systemd)."""
    with client.engine(client.MACHINE):
        return str(client.call("docker info", lambda: client.api().info()).get(
            "CgroupDriver", "cgroupfs"))


# --- a lab on a cluster node: its groups written on that node ---------------------------
# foolab reaches a node only through its engine, so the lab's group is made
# there by a one-off container of the lab's own image (the console's), with
# the node's control groups mounted: the same files `Groups.bound` writes
# here (Script), run by the node's own kernel; on a node whose engine uses
# the systemd driver, the node's own systemctl.
NODE_PID_MAX = 32768  # Linux's default: a node's own is not read from here
NODE_ROOT = Path("/sys/fs/cgroup")  # on the node, and in the one-off container


@functools.cache
def _node_info(engine: str) -> dict[str, Any]:
    with client.engine(engine):
        return dict(client.call("docker info", lambda: client.api().info()))


def node_groups(engine: str) -> Script | None:
    """The groups of a lab on the node at `engine`, as a script; None when
    its engine's driver is neither cgroupfs nor systemd (bounded per host)."""
    info = _node_info(engine)
    found = str(info.get("CgroupDriver", "cgroupfs"))
    if found not in ("cgroupfs", "systemd"):
        return None
    return Script(found, int(info.get("CgroupVersion") or 1), NODE_ROOT)


def one_off(driver: str) -> dict[str, Any]:
    """How the one-off container of a Script runs (the SDK's arguments): with
    the node's control groups mounted; with the systemd driver, in the
    node's process numbers, privileged, to enter its init's mounts."""
    found: dict[str, Any] = {"volumes": {str(NODE_ROOT): {"bind": str(NODE_ROOT), "mode": "rw"}}}
    if driver == "systemd":
        found.update(pid_mode="host", privileged=True)
    return found


def on_node(engine: str, script: Script) -> None:
    """Run `script` as root on the node at `engine` (a one-off container,
    removed when it ends; a failure is a LabError)."""
    from lab.model.topology import image
    with client.engine(engine):
        client.call(f"the lab's control group on {engine}", lambda: client.client().containers.run(
            image("dns"), entrypoint=["sh", "-ec", script.text], cgroupns="host",
            network_mode="none", remove=True, labels={"org.foolab.cgroups": ""},
            **one_off(script.driver)))


def parent(config: LabConfig, engine: str | None) -> str:
    """LAB_CGROUP for compose/class.yml ("" where the lab is not bounded)."""
    if config.in_class and engine is not None:
        try:
            found: Groups | None = node_groups(engine)
        except LabError:  # a node lost: nothing of its lab starts anyway
            found = None
    else:
        found = _here(config, engine)
    return found.parent(config.lab) if found else ""


def apply(config: LabConfig, engine: str | None) -> None:
    """Before a class lab's containers start: its group made and bounded
    (the share from lab.model.bounds.from_env), inside the class's; on the
    node that holds it, for a lab on a node."""
    share = model.from_env()
    if config.in_class and engine is not None:
        script = node_groups(engine)
        if script is not None:
            memory = int(_node_info(engine).get("MemTotal") or 0) // 2**20
            script.bound(config.lab, share, *model.class_total(memory, NODE_PID_MAX))
            on_node(engine, script)
        return
    found = _here(config, engine)
    if found is not None:
        total_mib, total_pids = model.class_total(_memtotal_mib(), pid_max())
        found.bound(config.lab, share, total_mib, total_pids)


def labs_that_fit(share: model.LabBounds) -> int:
    """Labs of this share the machine holds beside its reserve."""
    return model.how_many_fit(_memtotal_mib(), pid_max(), share)


def release(config: LabConfig, engine: str | None) -> None:
    if config.in_class and engine is not None:
        try:
            script = node_groups(engine)
            if script is not None:
                script.release(config.lab)
                on_node(engine, script)
        except LabError:
            pass  # a node lost: its groups went with it
        return
    found = _here(config, engine)
    if found is not None:
        found.release(config.lab)


def oom_kills(config: LabConfig, engine: str | None) -> int:
    """Processes the lab's memory bound ended; 0 for a lab on a node (read
    there only: a host ended whole still shows, as OOMKilled, and comes back)."""
    found = _here(config, engine)
    return found.oom_kills(config.lab) if found else 0


def process_group(pid: int, controller: str) -> Path | None:
    """The folder of the group that bounds `controller` (pids, memory) for
    process `pid` of this machine, cgroup v1 or v2 alike (/proc/PID/cgroup)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if names == "" and (ROOT / "cgroup.controllers").exists():
            return ROOT / path.lstrip("/")
        if controller in names.split(","):
            return ROOT / names / path.lstrip("/")
    return None
