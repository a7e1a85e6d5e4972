"""`foolab bench --only machine`: the README's first command on a fresh
Debian 12 machine, installs included (issue 34: seven healthy in 90 s).

The machine is a container of the base image (debian:bookworm-slim) with an
engine of its own (a node stand-in's capabilities: lab/engine/nodes.py) and a
copy of the committed checkout (`git archive HEAD`). Before the clock starts
it gets what a Debian install already has and the README assumes: python3,
make, ca-certificates, wget (Debian's standard task), plus this machine's CA bundle
(an HTTPS proxy here that a school's machine would trust the same way). Its
apt lists are then removed, so the timed run fetches them as a real first
`apt-get update` does. Then `make lab-up` is timed, and its own lines give
each install job's end. The container and its engine's volume are removed
afterwards, whatever happened.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from lab.engine import client, nodes
from lab.engine.waiting import wait_for
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress

NAME = "foolab-fresh-machine"
VOLUME = f"{NAME}-engine"
CHECKOUT = "/root/foolab"
LOG = "/root/make-lab-up.log"
BASE = "debian:bookworm-slim"
# Debian's standard task has these; `make lab-up` needs nothing else to start.
PREINSTALLED = ("python3", "make", "ca-certificates", "wget")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
JOB_DONE = re.compile(r"foolab: \[(?P<job>[\w-]+)\] done after (?P<s>\d+) s")
LAB_UP = re.compile(r"foolab: lab up in (?P<s>[\d.]+) s")
MAKE_TIMEOUT_S = 900


def _exec(argv: list[str], env: dict[str, str] | None = None, workdir: str | None = None,
          ) -> tuple[int, str]:
    """A command in the machine, to its end: exit code and output."""
    api = client.api()
    exec_id = client.call(f"docker exec {NAME}", lambda: api.exec_create(
        NAME, argv, environment=env, workdir=workdir)["Id"])
    out = client.call(f"docker exec {NAME}", lambda: api.exec_start(exec_id))
    code = api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), out.decode(errors="replace")


def _detached(argv: list[str], env: dict[str, str], workdir: str) -> int:
    """A long command in the machine (an API read may not wait minutes):
    started detached, then asked after every second until it ends."""
    api = client.api()
    exec_id = client.call(f"docker exec {NAME}", lambda: api.exec_create(
        NAME, argv, environment=env, workdir=workdir)["Id"])
    client.call(f"docker exec {NAME}", lambda: api.exec_start(exec_id, detach=True))
    def ended() -> dict[str, Any] | None:
        state: dict[str, Any] = api.exec_inspect(exec_id)
        return None if state.get("Running") else state

    code = wait_for(f"`{argv[-1]}` to end", ended, timeout=MAKE_TIMEOUT_S + 60,
                    every=0.5).get("ExitCode")
    return int(code if code is not None else -1)


def _must(argv: list[str], what: str) -> None:
    code, out = _exec(argv)
    if code != 0:
        raise LabError(f"fresh machine: {what} failed", out.strip()[-300:])


def _remove() -> None:
    api = client.api()
    client.call(f"docker rm -f {NAME}", lambda: _gone(lambda: api.remove_container(
        NAME, force=True, v=True)))
    client.call(f"docker volume rm {VOLUME}", lambda: _gone(lambda: api.remove_volume(VOLUME)))


def _gone(fn: Callable[[], object]) -> None:
    try:
        fn()
    except docker.errors.NotFound:
        pass


def _start() -> None:
    """The machine: an engine may run inside (capabilities, no profiles,
    its own volume for /var/lib/docker), nothing of this machine bound in
    but the cgroup tree its engine's containers go in."""
    api = client.api()
    host_config = api.create_host_config(
        cap_drop=["ALL"], cap_add=list(nodes.NODE_CAPS), security_opt=list(nodes.NODE_SECURITY),
        pid_mode="host", binds={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                                VOLUME: {"bind": "/var/lib/docker", "mode": "rw"}})
    host_config.update(MaskedPaths=[], ReadonlyPaths=[])  # systempaths=unconfined

    def create() -> None:
        api.create_container(BASE, ["infinity"], entrypoint=["sleep"], name=NAME,
                             host_config=host_config)
        api.start(NAME)

    client.call(f"docker run {NAME}", create)
    _must(["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
           f"-y -qq --no-install-recommends {' '.join(PREINSTALLED)} >/dev/null"],
          "installing " + ", ".join(PREINSTALLED))
    client.put_archive(NAME, str(CA_BUNDLE.parent), _tar({CA_BUNDLE.name: CA_BUNDLE.read_bytes()}))
    _must(["sh", "-c", "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin && mkdir -p "
           + CHECKOUT], "removing the apt lists")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"],
                             capture_output=True, check=True, timeout=60).stdout
    client.put_archive(NAME, CHECKOUT, archive)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fresh_machine_figures(runs: int, progress: Progress) -> list[Figure]:
    """Time `make lab-up` on a fresh machine `runs` times, each machine new
    (every package fetched anew: the network is much of its time)."""
    note = "make lab-up on a fresh Debian 12 container, installs included; aim: at most 90 s"
    whole = Figure("fresh machine: make lab-up to seven healthy", "s", note=note)
    parts: dict[str, Figure] = {}
    for i in range(runs):
        progress(f"fresh machine {i + 1}/{runs}: a {BASE} container with an engine of its "
                 f"own, given {', '.join(PREINSTALLED)} (not timed)")
        seconds, out = _one_run(progress)
        whole.runs.append(seconds)
        for job in JOB_DONE.finditer(out):
            parts.setdefault(job["job"], Figure(
                f"fresh machine: install {job['job']} done", "s",
                note="seconds from the start of `make lab-up`'s installs")).runs.append(
                    float(job["s"]))
        if (up := LAB_UP.search(out)) is not None:
            parts.setdefault("up", Figure(
                "fresh machine: foolab up (base image there, builds, start)", "s")).runs.append(
                    float(up["s"]))
    return [whole, *parts.values()]


def _one_run(progress: Progress) -> tuple[float, str]:
    _remove()
    try:
        _start()
        progress("fresh machine: `make lab-up` (every install, the base image, the builds)")
        t0 = time.monotonic()
        code = _detached(["sh", "-c", f"timeout {MAKE_TIMEOUT_S} make lab-up >{LOG} 2>&1"],
                         env={"PIP_CERT": str(CA_BUNDLE)}, workdir=CHECKOUT)
        seconds = time.monotonic() - t0
        out = _exec(["cat", LOG])[1]
        if code != 0:
            raise LabError("`make lab-up` failed on the fresh machine", out.strip()[-500:])
    finally:
        _remove()
    for line in out.splitlines():
        if line.startswith("foolab:"):
            progress("  " + line)
    return seconds, out
