"""The CPU counters a load run reads: the engine's per-container CPU time
(Docker SDK for Python), and this machine's /proc for the load generator's
processes and all cores.

The engine is reached as the `docker` command reaches it (DOCKER_HOST, else
the current context, else the default socket); each reading is one
`GET /containers/NAME/stats?stream=false&one-shot=true`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
from docker.errors import APIError, DockerException
from docker.utils import version_lt

from lab.engine import client as engine
from lab.load.summary import CpuSamples

STATS_SOURCE = ("the Docker Engine API through the Docker SDK for Python (containers/NAME/"
                "stats, stream=false, one-shot; cpu_stats.cpu_usage.total_usage)")
ONE_SHOT_API = "1.41"  # one-shot stats (Docker 20.10); without it a reading takes ~2 s
ENGINE_TIMEOUT_S = 5
STATS_AT_ONCE = 8  # stats asked at once (the SDK keeps 10 connections per engine)


def engine_client() -> docker.DockerClient | None:
    """A client of the Docker Engine, if one answers and can give one-shot
    stats; None otherwise (the run then goes without CPU figures). The
    engine of this block: a lab on a cluster node is read on its node."""
    endpoint = engine.current_engine()
    try:  # asks the engine its version
        client = (docker.from_env(timeout=ENGINE_TIMEOUT_S) if endpoint is None else
                  docker.DockerClient(base_url=endpoint, timeout=ENGINE_TIMEOUT_S))
    except DockerException:
        return None
    if version_lt(client.api.api_version, ONE_SHOT_API):
        client.close()
        return None
    return client


def cpu_usage_ns(containers: Sequence[str],
                 client: docker.DockerClient) -> dict[str, int | None]:
    """Cumulative CPU time (ns) of each container; None if it is not running.
    Read STATS_AT_ONCE at a time: an engine on cgroup v1 may take a second
    over each answer, one-shot or not."""
    def one(name: str) -> int | None:
        try:  # a container that is just exiting may answer with an empty body
            stats = client.api.stats(name, stream=False, one_shot=True) or {}
        except (APIError, ValueError):  # not there (404), or not JSON
            stats = {}
        except (OSError, DockerException):  # the engine went away: no reading this time
            return None
        total = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
        # a stopped container answers with zeros and no pids
        if total and (stats.get("pids_stats") or {}).get("current", 1):
            return int(total)
        return None

    if len(containers) <= 1:
        return {n: one(n) for n in containers}
    with ThreadPoolExecutor(min(STATS_AT_ONCE, len(containers))) as pool:
        return dict(zip(containers, pool.map(one, containers), strict=True))


def descendants(pid: int) -> list[int]:
    """A process and all its children, grandchildren... (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def schedstat(pid: int) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting for a CPU) of one process so far."""
    try:
        run_ns, wait_ns, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
        return int(run_ns), int(wait_ns)
    except (OSError, ValueError):
        return None


def machine_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(x) for x in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def mean_percent(cpu: CpuSamples | None, name: str) -> float | None:
    """A container's mean CPU over the readings it was running in, % of one core."""
    if cpu is None:
        return None
    pts = [(t, v) for t, v in zip(cpu.times, cpu.usage_ns.get(name, ()), strict=False)
           if v is not None]
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return None
    return 100.0 * (pts[-1][1] - pts[0][1]) / 1e9 / (pts[-1][0] - pts[0][0])
