"""A class lab's bounds on the control groups this machine does not have.

This machine's engine runs cgroup v1 with the cgroupfs driver, and
scenarios/test_noisy_neighbour.py proves a whole class there. A school's
machine may run cgroup v2, and Docker with the systemd driver. Here a small
virtual machine (scripts/cgroup-vm.sh: qemu, Debian 12, its own kernel,
systemd and Docker) boots once with v2 and once with v1 (the cases of
each boot: BOOTS). foolab's own `Groups.bound` makes the lab's group, as
for a lab on this machine ("here"), or as the script a one-off container
runs on a cluster node (`cgroups.Script`, "node"): v2 both ways for both
drivers, v1 systemd "here" (a node's systemd lines are v2's). A host under `Groups.parent`
must land in the lab's group; "here" then fills memory past the bound,
floods processes and spins two cores, and "node" must leave the kernel
holding the very bounds "here" wrote (scenarios/vm_cgroup_probe.py).
Judged here, from what the VM's kernel reports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lab.model.config import REPO

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # the VM spins both cores

VM = REPO / ".lab" / "vm"
SCRIPT = REPO / "scripts" / "cgroup-vm.sh"
# (version, driver, where): v1 with cgroupfs, here and on a node, is this
# machine's own (scenarios/test_noisy_neighbour.py, test_cluster.py); a
# node's systemd script is the same lines on v1 as on v2, proved on v2
BOOTS = {2: ("cgroupfs:here", "cgroupfs:node", "systemd:here", "systemd:node"),
         1: ("systemd:here",)}
CASES = [(v, *case.split(":")) for v, cases in BOOTS.items() for case in cases]
MEMORY_MIB, PIDS, CPUS = 400, 200, 0.5  # vm_cgroup_probe.SHARE


def _boot(version: int, code: Path) -> list[dict[str, Any]]:
    out = subprocess.run([str(SCRIPT), "boot", str(VM), str(code), str(version),
                          ",".join(BOOTS[version])], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    line = out.stdout.strip().splitlines()[-1]
    return list(json.loads(line.removeprefix("FOOLAB-RESULT ")))


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str, str], dict[str, Any]]:
    """What the VM saw, by (cgroup version, driver, where): one boot per version."""
    # `make test` builds it before pytest starts (make cgroup-vm): here a no-op
    built = subprocess.run([str(SCRIPT), "build", str(VM)], timeout=1200)
    assert built.returncode == 0, "scripts/cgroup-vm.sh build failed (its lines above)"
    code = tmp_path_factory.mktemp("vm-code")  # foolab's lab package as it is now
    shutil.copytree(REPO / "lab", code / "lab", ignore=shutil.ignore_patterns("__pycache__",
                                                                              "static"))
    shutil.copy(REPO / "scenarios" / "vm_cgroup_probe.py", code)
    # both boots at once: an emulated VM keeps neither core full all along,
    # and the v1 boot (one case) ends well within the v2 boot (four)
    with ThreadPoolExecutor(len(BOOTS)) as pool:
        booted = dict(zip(BOOTS, pool.map(lambda v: _boot(v, code), BOOTS), strict=True))
    return {(version, str(r["driver"]), str(r["where"])): r
            for version, results in booted.items() for r in results}


@pytest.mark.parametrize(("version", "driver", "where"), CASES,
                         ids=[f"v{v}-{d}-{w}" for v, d, w in CASES])
def test_a_lab_meets_its_bounds(seen: dict[tuple[int, str, str], dict[str, Any]], version: int,
                                driver: str, where: str) -> None:
    r = seen[(version, driver, where)]
    assert "error" not in r and "bound_error" not in r, r
    assert r["version"] == version, r
    # every container of the lab lands in the lab's own group, bounded
    assert r["memory_group"] == r["lab_folder"], r
    assert int(r["memory_limit"]) == MEMORY_MIB << 20, r
    # `class down` leaves no group behind
    assert r["released"] == [], r
    if where == "node":
        # the node's script leaves the kernel holding exactly the bounds
        # Groups.bound writes here, which the "here" case sees enforced
        here = seen[(version, driver, "here")]
        assert r["settings"] and r["settings"] == here["settings"], (r["settings"],
                                                                     here["settings"])
        return
    # a lab's ordinary work fits; a host that takes more than the lab's share
    # is killed, and the kill is counted where `class status` reads it
    assert r["small_rc"] == 0, r
    assert r["big_rc"] == 137 and r["oom_kills"] >= 1, r
    # a process flood stops at the lab's bound, having reached it
    assert r["pids_refused"] >= 1 and PIDS * 0.9 <= r["pids_current"] <= PIDS, r
    # two spinning processes get the lab's CPU share, not two cores
    assert 0.2 < r["cores_used"] <= CPUS * 1.15, r
