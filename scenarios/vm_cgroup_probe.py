"""Run inside the cgroup VM (scripts/cgroup-vm.sh), as root: foolab's own
lab.engine.cgroups against a real kernel, systemd and Docker, with the
cgroup hierarchy the VM booted with and each case named on its kernel
command line (foolab.cases=cgroupfs:here,systemd:node,...).

For each case: Docker running with its driver; a lab's group made and
bounded by `Groups.bound`, exactly as `foolab class up` does for a lab on
its own machine ("here"), or as a Script run by a one-off container with
`cgroups.one_off`, as for a lab on a cluster node ("node"); every bound
the kernel then holds is read back, and a host started under
`Groups.parent` (compose/class.yml's cgroup_parent) must land in the lab's
group. "here" then fills memory past the bound, spins two cores and floods
processes in that host (a node's script writes the same bounds, so what the
kernel does with them is proved once per driver). It prints one line,
`FOOLAB-RESULT {json}`, which scenarios/test_cgroup_drivers.py judges;
this file judges nothing itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lab.engine import cgroups
from lab.model import bounds

LAB = "s01"
SHARE = bounds.LabBounds(memory_mib=400, pids=200, cpus=0.5)
CLASS_MIB, CLASS_PIDS = 900, 2000
IMAGE = "foolab/probe"  # the VM's static busybox, imported: no registry needed
FLOOD = 400  # processes one host tries to start (the lab's bound is 200)
SPIN_SECONDS = 4


def sh(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def docker_with(driver: str) -> None:
    """dockerd running with cgroup driver `driver`, and nothing else of the
    network it would make (the probe's containers have none); left as it
    is when it already runs so (a restart costs an emulated CPU seconds)."""
    if _driver() == driver:
        return
    Path("/etc/docker").mkdir(exist_ok=True)
    Path("/etc/docker/daemon.json").write_text(json.dumps({
        "exec-opts": [f"native.cgroupdriver={driver}"], "bridge": "none", "iptables": False,
        "ip6tables": False}))
    sh("systemctl", "restart", "docker")
    for _ in range(120):
        if _driver() == driver:
            return
        time.sleep(0.5)
    raise SystemExit(f"dockerd did not come up with the {driver} driver")


def _driver() -> str:
    return sh("docker", "info", "--format", "{{.CgroupDriver}}").stdout.strip()


def import_image() -> None:
    if sh("docker", "image", "inspect", IMAGE).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "bin").mkdir()
        Path(d, "bin", "busybox").write_bytes(Path("/bin/busybox").read_bytes())
        Path(d, "bin", "busybox").chmod(0o755)
        for applet in ("sh", "dd", "sleep", "cat", "mkdir", "rmdir", "nsenter"):
            Path(d, "bin", applet).symlink_to("busybox")
        tar = subprocess.run(["tar", "-C", d, "-c", "."], capture_output=True, check=True)
        subprocess.run(["docker", "import", "-", IMAGE], input=tar.stdout, check=True,
                       capture_output=True)


def run(parent: str, name: str, *argv: str) -> Any:
    """A container of the lab (compose/class.yml's cgroup_parent), detached."""
    return sh("docker", "run", "-d", "--network", "none", "--cgroup-parent", parent,
              "--name", name, IMAGE, *argv)


def pid_of(name: str) -> int:
    return int(sh("docker", "inspect", "--format", "{{.State.Pid}}", name).stdout.strip() or 0)


def lab_group(pid: int, controller: str) -> Path | None:
    """The lab's group: the parent of the container's own."""
    own = cgroups.process_group(pid, controller)
    return own.parent if own else None


def refused_forks(group: Path, timeout: float = 90) -> int:
    """Forks the group's process bound refused (pids.events `max`), once
    there is one: the flood has met the bound (an emulated CPU starts
    hundreds of processes slowly); 0 if none within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        events = dict(line.split() for line in (group / "pids.events").read_text().splitlines())
        if int(events.get("max", 0)) or time.monotonic() > deadline:
            return int(events.get("max", 0))
        time.sleep(0.5)


def cpu_usage_s(group: Path) -> float:
    stat = group / "cpu.stat"
    if (group / "cpuacct.usage").exists():
        return int((group / "cpuacct.usage").read_text()) / 1e9
    for line in stat.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return -1.0


def on_vm(script: cgroups.Script) -> None:
    """`cgroups.on_node` here: the script in a one-off container."""
    how = cgroups.one_off(script.driver)  # the SDK's arguments, as the CLI's
    flags = [f"-v={src}:{m['bind']}:{m['mode']}" for src, m in how.pop("volumes").items()]
    flags += [f"--pid={how.pop('pid_mode')}"] if "pid_mode" in how else []
    flags += ["--privileged"] if how.pop("privileged", False) else []
    assert not how, how
    done = sh("docker", "run", "--rm", "--network", "none", "--cgroupns", "host", *flags,
              "--entrypoint", "sh", IMAGE, "-ec", script.text)
    if done.returncode != 0:
        raise RuntimeError(f"the one-off failed: {done.stderr[-500:]}")
    script.lines.clear()


SETTINGS = ("memory.max", "memory.swap.max", "memory.limit_in_bytes", "pids.max", "cpu.max",
            "cpu.weight", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")


def settings(groups: cgroups.Groups) -> dict[str, str]:
    """Every bound the kernel holds for the lab's group and the groups
    above it, by path: what "here" and "node" must both have written."""
    found = {}
    for controller in ("memory", "pids", "cpu"):
        folder = groups.lab_folder(LAB, controller)
        for group in (folder, *folder.parents):
            for name in SETTINGS:
                if (group / name).is_file():
                    found[str(group / name)] = (group / name).read_text().strip()
    return found


def enforced(groups: cgroups.Groups, pid: int) -> dict[str, Any]:
    """What the kernel does to the host `pid` of the lab: past the memory
    bound, with two busy loops, and in a process flood."""
    out: dict[str, Any] = {}
    small = sh("docker", "exec", "host", "dd", "if=/dev/zero", "of=/dev/null", "bs=50M",
               "count=1")
    out["small_rc"], out["small_err"] = small.returncode, small.stderr[-300:]
    big = sh("docker", "exec", "host", "dd", "if=/dev/zero", "of=/dev/null",
             f"bs={SHARE.memory_mib + 100}M", "count=1")
    out["big_rc"] = big.returncode
    out["oom_kills"] = groups.oom_kills(LAB)
    # two busy loops in the same host (a container of its own costs an
    # emulated CPU seconds): the lab's share is half a core
    spin = "while :; do :; done & while :; do :; done"
    sh("docker", "exec", "-d", "host", "sh", "-c", spin)
    time.sleep(0.5)
    cpu_group = lab_group(pid, "cpu")
    if cpu_group is None or cpu_usage_s(cpu_group) < 0:
        cpu_group = lab_group(pid, "cpuacct")
    out["cpu_group"] = str(cpu_group)
    before, t0 = cpu_usage_s(cpu_group) if cpu_group else -1.0, time.monotonic()
    time.sleep(SPIN_SECONDS)
    after, t1 = cpu_usage_s(cpu_group) if cpu_group else -1.0, time.monotonic()
    out["cores_used"] = round((after - before) / (t1 - t0), 3)
    sh("docker", "exec", "host", "sh", "-c", "kill -9 -1")  # all but the host's pid 1
    # the same host starts FLOOD processes: its shell dies at the first refused fork
    flood = f"i=0; while [ $i -lt {FLOOD} ]; do sleep 60 & i=$((i+1)); done; wait"
    out["flood_rc"] = sh("docker", "exec", "-d", "host", "sh", "-c", flood).returncode
    pids_group = lab_group(pid, "pids")
    out["pids_group"] = str(pids_group)
    own = cgroups.process_group(pid, "pids")  # the kernel counts a refusal in the forker's
    out["pids_refused"] = refused_forks(own) if own else -1
    out["pids_current"] = int((pids_group / "pids.current").read_text()) if pids_group else -1
    return out


def one(driver: str, where: str) -> dict[str, Any]:
    docker_with(driver)
    import_image()
    groups = cgroups.groups(driver)
    out: dict[str, Any] = {"driver": driver, "where": where, "version": groups.version}
    script = cgroups.Script(driver, groups.version, cgroups.NODE_ROOT)
    try:
        if where == "node":
            script.bound(LAB, SHARE, CLASS_MIB, CLASS_PIDS)
            on_vm(script)
        else:
            groups.bound(LAB, SHARE, CLASS_MIB, CLASS_PIDS)
    except Exception as exc:  # noqa: BLE001 - reported, judged outside
        out["bound_error"] = str(exc)
        return out
    parent = groups.parent(LAB)
    out["parent"] = parent
    # one host of the lab: a student's commands run in it (docker exec), as
    # in a lab's web1; the kernel counts a kill in a running host's group
    run(parent, "host", "sleep", "600")
    pid = pid_of("host")
    # read once a host runs: systemd makes a stopped slice's folder again
    # only when a unit starts in it (seen: after systemd:here's release)
    out["settings"] = settings(groups)
    mem_group = lab_group(pid, "memory")
    out["memory_group"] = str(mem_group)
    limit = next((mem_group / f for f in ("memory.max", "memory.limit_in_bytes")
                  if mem_group and (mem_group / f).exists()), None)
    out["memory_limit"] = limit.read_text().strip() if limit else ""
    out["lab_folder"] = str(groups.lab_folder(LAB))
    if where == "here":  # a node's script wrote the same bounds (settings): proved once
        out.update(enforced(groups, pid))
    sh("docker", "rm", "-f", "host")

    if where == "node":
        script.release(LAB)
        on_vm(script)
    else:
        groups.release(LAB)
    out["released"] = [str(groups.lab_folder(LAB, c)) for c in ("memory", "pids", "cpu")
                       if groups.lab_folder(LAB, c).exists()]
    return out


def main() -> None:
    words = dict(w.split("=", 1) for w in sys.argv[1:] if "=" in w)
    results = []
    for case in words.get("foolab.cases", "cgroupfs:here").split(","):
        driver, _, where = case.partition(":")
        t0 = time.monotonic()
        try:
            results.append(one(driver, where))
        except Exception as exc:  # noqa: BLE001 - reported, judged outside
            results.append({"driver": driver, "where": where,
                            "error": f"{type(exc).__name__}: {exc}"})
        results[-1]["seconds"] = round(time.monotonic() - t0, 1)
    print("FOOLAB-RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
