"""Readiness judged now: each container's own healthcheck command, run by
the lab through the engine when it asks, not read from Docker's status.

The engine runs the healthchecks rarely (compose/lab.yml: once a minute, so an
idle lab costs little), which makes Docker's status up to that old: a host
just started shows "starting", a host broken since the last check still
shows "healthy". Whoever needs to know runs the same script itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.engine import client
from lab.model.errors import LabError

PROBE_TIMEOUT_S = 10  # a check that hangs longer counts as failed (the scripts' own are 1-3 s)


@dataclass(frozen=True)
class Probe:
    """One run of a container's healthcheck."""

    ok: bool
    output: str  # what the check printed, or why it could not run
    container_id: str = ""  # the container it ran in ("" if none was running)


def check_argv(data: dict[str, Any]) -> list[str] | None:
    """The healthcheck command of an inspected container as argv (CMD or
    CMD-SHELL, as Docker runs it); None when the container has none."""
    test = list(((data.get("Config") or {}).get("Healthcheck") or {}).get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return test[1:] if test[0] == "CMD" else test


def probe(container: str, timeout: float = PROBE_TIMEOUT_S,
          inspected: dict[str, Any] | None = None) -> Probe:
    """Run the container's healthcheck now (an exec through the engine API:
    no docker CLI process per probe). A container without one is ready
    when it runs. `inspected`: the container as just read, so a status
    round does not ask the engine twice (each ask is a trip through a
    node's tunnel)."""
    data = inspected if inspected is not None else client.inspect_container(container)
    state = (data or {}).get("State") or {}
    if data is None or state.get("Status") != "running":
        return Probe(False, f"not running ({state.get('Status', 'missing')})")
    cid = str(data.get("Id", ""))
    argv = check_argv(data)
    if argv is None:
        return Probe(True, "", cid)
    api = client.api()
    try:
        # coreutils timeout in the container: the SDK call itself cannot be cut short
        exec_id = api.exec_create(cid, ["timeout", "-k", "1", f"{timeout:g}", *argv])["Id"]
        out = api.exec_start(exec_id)
        code = api.exec_inspect(exec_id).get("ExitCode")
    except Exception as exc:  # noqa: BLE001 - a container going away mid-probe is "not ready"
        return Probe(False, " ".join(str(exc).split())[:200], cid)
    text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
    return Probe(code == 0, text.strip()[-200:], cid)


def probe_all(containers: Sequence[str],
              inspected: dict[str, dict[str, Any]] | None = None) -> dict[str, Probe]:
    """Probe several containers at once (each probe waits on its check);
    `inspected`: those already read, by container name."""
    if not containers:
        return {}
    known = inspected or {}

    def one(container: str) -> Probe:
        return probe(container, inspected=known.get(container))

    with ThreadPoolExecutor(max_workers=len(containers)) as pool:
        return dict(zip(containers, pool.map(client.carried(one), containers), strict=True))


_PIDS: dict[str, tuple[int, str]] = {}  # container -> its main process and id, last seen


def _main_pid(container: str) -> int | None:
    """client.pid, asked of the engine once per container start: a class
    starting 24 labs at once asks every host several times a second."""
    pid, cid = _PIDS.get(container, (0, ""))
    try:
        if pid and cid in Path(f"/proc/{pid}/cgroup").read_text():
            return pid  # the same process of the same container, still there
    except OSError:
        pass
    pid = client.pid(container) or 0
    cid = str((client.inspect_container(container) or {}).get("Id", "")) if pid else ""
    if pid and cid:
        _PIDS[container] = (pid, cid)
    return pid or None


def listening(container: str, ports: tuple[int, ...]) -> bool | None:
    """Whether the container's network namespace has a TCP socket listening
    on each of `ports`, read from this machine's /proc (no exec); None when
    it cannot be read here (not running, or on another machine)."""
    pid = _main_pid(container)
    if pid is None:
        return None
    found: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        found.update(int(f[1].rsplit(":", 1)[1], 16) for f in map(str.split, rows)
                     if len(f) > 3 and f[3] == "0A")  # 0A: LISTEN
    return all(p in found for p in ports)


def wait_ready(hosts: dict[str, str], timeout: float, started: Callable[[], bool],
               on_ready: Callable[[str, float], None] = lambda _h, _s: None, hint: str = "",
               listens: dict[str, tuple[int, ...]] | None = None) -> dict[str, float]:
    """Wait until every host's check passes in the container that `started`
    leaves behind; return seconds to ready per host.

    hosts: name -> container. `started()` turns True once whatever creates
    the containers (Compose) has returned, or raises LabError if that failed:
    a check passing before that may have run in a container about to be
    replaced, so it counts only if the container is still the same one
    afterwards. Each host is polled on its own thread with a short backoff
    (0.1 s growing to 0.3 s). A probe is an exec, about 60 ms of the
    engine's and runc's CPU: while a host's daemons do not yet listen on
    their ports (`listens`: name -> ports), it is not run at all, so that a
    class of labs starting at once does not spend its CPU asking."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    ready: dict[str, float] = {}
    last: dict[str, str] = {}
    failed: list[LabError] = []
    stop = threading.Event()

    def watch(name: str, container: str) -> None:
        pause, passed = 0.1, ""
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                done = started()  # read before probing: the probe then ran after it
                ports = (listens or {}).get(name, ())
                if ports and listening(container, ports) is False:
                    last[name] = f"not listening on port {'/'.join(map(str, ports))} yet"
                    stop.wait(pause)
                    pause = min(0.3, pause + 0.05)
                    continue
                p = probe(container)
                last[name] = p.output
                passed = p.container_id if p.ok else passed
                if passed and done and passed == _container_id(container):
                    ready[name] = time.monotonic() - t0
                    on_ready(name, ready[name])
                    return
                if done and p.output.startswith(("not running (exited", "not running (dead")):
                    raise LabError(f"{name} stopped while starting",
                                   client.logs(container, tail=5), f"`docker logs {container}`")
            except LabError as exc:
                failed.append(exc)
                stop.set()
                return
            stop.wait(pause)
            pause = min(0.3, pause + 0.05)

    threads = [threading.Thread(target=client.carried(watch), args=item, daemon=True)
               for item in hosts.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    slow = [f"{n} ({last.get(n, '')[-80:]})" for n in hosts if n not in ready]
    if slow:
        raise LabError(f"not ready within {timeout:.0f} s", ", ".join(slow), hint)
    return ready


def _container_id(container: str) -> str:
    return str((client.inspect_container(container) or {}).get("Id", ""))


def running_for(container: str) -> float:
    """Seconds since the container's process started (State.StartedAt), 0
    when it is not there: how long a host took from running to healthy."""
    started = str(((client.inspect_container(container) or {}).get("State") or {}).get(
        "StartedAt", ""))
    try:  # RFC 3339 with nanoseconds: Python reads microseconds
        head, _, frac = started.rstrip("Z").partition(".")
        when = datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    except ValueError:
        return 0.0
    return max(0.0, time.time() - when.timestamp())
