"""The Docker Engine API, through the Docker SDK for Python: the one place
that connects to the daemon and turns its errors into one-line LabErrors.

Compose, `docker build` and `docker exec` stay on the CLI (lab.engine.process,
Lab.exec says why for exec); everything else the lab asks of the engine
(inspect, stop, start, kill, pause, update, network connect, networks and
their subnets, the load generator's one-off run, files read and written
through the archive API: lab.engine.hostfiles) comes here.
The client follows DOCKER_HOST like the CLI does (not `docker context`),
unless a block names another engine (`with client.engine(...)`: a lab on
a node of a cluster, lab.engine.nodes); commands run by lab.engine.process
follow the same choice.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import docker
import requests
from docker.errors import APIError, DockerException, NotFound

from lab.engine import node_ssh
from lab.model.errors import LabError

TIMEOUT = 60  # seconds for one API call; stop() adds the container's grace time
UNREACHABLE = "the Docker daemon is not reachable"
START_HINT = "start it (as root `make lab-up` does: scripts/install-engine.sh)"

T = TypeVar("T")


def _observed(exc: Exception) -> str:
    """The engine's own words, on one line."""
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation)
    return " ".join(str(exc).split())


# The engine this block talks to: None is the process's (this machine's,
# DOCKER_HOST or the default socket, unless `use_for_process` named a
# node's); a string is another engine's DOCKER_HOST, or MACHINE. A context
# variable, so that parallel threads each keep their own: a pool started
# inside a block gets it through `carried`.
MACHINE = "machine"  # engine(MACHINE): this machine's own engine, whatever the process uses
_ENGINE: contextvars.ContextVar[str | None] = contextvars.ContextVar("foolab_engine",
                                                                     default=None)
_process_engine: str | None = None
# This machine's engine as the process found it (the docker CLI's own rules).
_MACHINE_ENV = {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")}


def use_for_process(endpoint: str | None) -> None:
    """Every block that names no engine talks to `endpoint` (a `--lab`
    command for a lab on a cluster node), in every thread of the process."""
    global _process_engine
    _process_engine = endpoint or None


def current_engine() -> str | None:
    """The DOCKER_HOST of this block's engine; None for this machine's own."""
    endpoint = _ENGINE.get() or _process_engine
    return None if endpoint == MACHINE else endpoint


@contextmanager
def engine(endpoint: str | None) -> Iterator[None]:
    """Talk to the engine at `endpoint` (a DOCKER_HOST value; MACHINE for
    this machine's; None: the process's) until the block ends, in this
    thread and in what `carried` starts from it."""
    token = _ENGINE.set(endpoint or None)
    try:
        yield
    finally:
        _ENGINE.reset(token)


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` to run in another thread (a pool, a Thread) with this block's
    engine: Python starts threads with an empty context."""
    ctx = contextvars.copy_context()
    return lambda *args, **kwargs: ctx.copy().run(fn, *args, **kwargs)


def command_env() -> dict[str, str]:
    """The environment of a command run here: a `docker` command in it talks
    to this block's engine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    endpoint = current_engine()
    env.update(_MACHINE_ENV if endpoint is None else {"DOCKER_HOST": _reached(endpoint)})
    return env


def _reached(endpoint: str) -> str:
    """The DOCKER_HOST that reaches `endpoint` from this process: an engine
    over SSH through its tunnel (lab.engine.node_ssh says why)."""
    return node_ssh.tunnel(endpoint) if endpoint.startswith("ssh://") else endpoint


@functools.cache
def _client_for(endpoint: str | None) -> docker.DockerClient:
    try:
        # version "auto" asks the daemon for its API version: fails fast if absent
        if endpoint is None:
            return docker.DockerClient.from_env(timeout=TIMEOUT, version="auto",
                                                environment=_MACHINE_ENV)
        return docker.DockerClient(base_url=_reached(endpoint), timeout=TIMEOUT, version="auto")
    except (DockerException, requests.RequestException) as exc:
        where = "" if endpoint is None else f" at {endpoint}"
        raise LabError(UNREACHABLE + where, _observed(exc), START_HINT) from None


def client() -> docker.DockerClient:
    """The client of this block's engine, made once per engine and process
    (a failure is not cached: the next call tries again)."""
    endpoint = current_engine()
    if endpoint is not None:
        _reached(endpoint)  # a tunnel gone (its node lost, then back) is made again
    return _client_for(endpoint)


def api() -> docker.APIClient:
    """The low-level API of the client: plain dicts, names or ids as arguments."""
    return client().api


def _error(what: str, exc: Exception) -> LabError:
    if isinstance(exc, requests.ConnectionError):  # the daemon went away
        return LabError(UNREACHABLE, _observed(exc), START_HINT)
    return LabError(f"{what} failed", _observed(exc))


def call(what: str, fn: Callable[[], T]) -> T:
    """Run one engine call; any engine or connection error becomes
    LabError("`what` failed: <the engine's message>")."""
    try:
        return fn()
    except (DockerException, requests.RequestException) as exc:
        raise _error(what, exc) from None


def _lookup(what: str, fn: Callable[[], T]) -> T | None:
    """An inspect (or removal) call: None when the engine has no such object."""
    try:
        return fn()
    except NotFound:  # ImageNotFound is one too
        return None
    except (DockerException, requests.RequestException) as exc:
        raise _error(what, exc) from None


def ping() -> None:
    """The daemon answers, or a one-line LabError."""
    call("docker info", api().ping)


def inspect_container(name: str) -> dict[str, Any] | None:
    """`docker inspect` of one container; None when there is no such container."""
    return _lookup(f"docker inspect {name}", lambda: api().inspect_container(name))


def inspect_image(image: str) -> dict[str, Any] | None:
    """`docker image inspect`; None when the image is not there."""
    return _lookup(f"docker image inspect {image}", lambda: client().images.get(image).attrs)


def server_version() -> str:
    """The engine's version (`docker version --format '{{.Server.Version}}'`)."""
    return str(call("docker version", api().version).get("Version", ""))


def remove_images(*images: str) -> None:
    """`docker rmi -f IMAGE...`; an image that is not there is no error."""
    for image in images:
        _lookup(f"docker rmi -f {image}", functools.partial(api().remove_image, image, force=True))


def inspect_network(name: str) -> dict[str, Any] | None:
    """`docker network inspect`; None when there is no such network."""
    return _lookup(f"docker network inspect {name}", lambda: api().inspect_network(name))


def network_subnets() -> dict[str, list[str]]:
    """Every network on this machine: name -> the subnets it holds (IPv4 and
    IPv6), as `docker network ls` then `docker network inspect` tell."""
    nets = call("docker network ls", api().networks)
    return {str(n["Name"]): [str(c["Subnet"]) for c in (n.get("IPAM") or {}).get("Config") or []
                             if c.get("Subnet")] for n in nets}


def class_networks() -> list[str]:
    """The names of the networks of every class lab on this machine."""
    nets = call("docker network ls", lambda: api().networks(filters={"label": "org.foolab.class"}))
    return [str(n["Name"]) for n in nets]


def _here(pid: int, container_id: str) -> bool:
    """A process number an engine gave is this machine's process of that
    container: always for this machine's engine; for another (a node), only
    if the process's cgroup names the container (a node container on this
    machine shares its process numbers; a real machine's do not)."""
    if current_engine() is None:
        return True
    try:
        return bool(container_id) and container_id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def pid(container: str) -> int | None:
    """The container's main process as seen from this machine; None if it is
    not running (or not there, or not on this machine)."""
    data = inspect_container(container) or {}
    found = int((data.get("State") or {}).get("Pid") or 0)
    return found if found and _here(found, str(data.get("Id", ""))) else None


def logs(container: str, tail: int | Literal["all"] = "all", since: float | None = None) -> str:
    """The last lines a container wrote (stdout and stderr), all of them or
    those since a Unix time."""
    out = call(f"docker logs {container}", lambda: api().logs(
        container, tail=tail, since=int(since) if since is not None else None))
    return out.decode(errors="replace") if isinstance(out, bytes) else str(out)


# --- files of a container, through the engine (`docker cp`): lab.engine.hostfiles ---

ARCHIVE_CHUNK = 64 * 1024  # bytes per read of an archive stream: a cap is never passed by more


def get_archive(container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]] | None:
    """`docker cp CONTAINER:PATH -`: the engine's tar stream of `path` (read
    lazily: the caller reads what it needs and closes it) and the stat the
    engine gives of it; None when there is no such path (or container)."""
    found = _lookup(f"docker cp {container}:{path}",
                    lambda: api().get_archive(container, path, chunk_size=ARCHIVE_CHUNK))
    return None if found is None else (found[0], dict(found[1] or {}))


def put_archive(container: str, folder: str, tar: bytes) -> None:
    """`docker cp - CONTAINER:FOLDER`: unpack `tar` into `folder`."""
    call(f"docker cp - {container}:{folder}", lambda: api().put_archive(container, folder, tar))


# --- what a fault or a drill does to a container ----------------------------------


def kill(container: str) -> None:
    call(f"docker kill {container}", lambda: api().kill(container))


def stop(container: str, grace: int = 10) -> None:
    """A clean shutdown: SIGTERM, then SIGKILL after `grace` seconds."""
    call(f"docker stop {container}", lambda: api().stop(container, timeout=grace))


def start(container: str) -> None:
    call(f"docker start {container}", lambda: api().start(container))


def pause(container: str) -> None:
    call(f"docker pause {container}", lambda: api().pause(container))


def unpause(container: str) -> None:
    call(f"docker unpause {container}", lambda: api().unpause(container))


def update_cpu(container: str, quota: int, period: int | None = None) -> None:
    """`docker update --cpu-quota` (-1: no cap), optionally `--cpu-period`."""
    call(f"docker update {container}",
         lambda: api().update_container(container, cpu_period=period, cpu_quota=quota))


def remove(container: str) -> None:
    """`docker rm -f`; nothing to do if there is no such container."""
    _lookup(f"docker rm -f {container}", lambda: api().remove_container(container, force=True))


def connect(network: str, container: str, ip: str | None = None) -> None:
    """`docker network connect [--ip IP]`."""
    call(f"docker network connect {network} {container}",
         lambda: api().connect_container_to_network(container, network, ipv4_address=ip))


def disconnect(network: str, container: str, force: bool = False) -> None:
    call(f"docker network disconnect {network} {container}",
         lambda: api().disconnect_container_from_network(container, network, force=force))


def memory_mib(container: str) -> float | None:
    """The memory a container uses now, MiB, as `docker stats` shows it
    (cgroup usage less the inactive file cache); None if it is not running."""
    stats = _lookup(f"docker stats {container}",
                    lambda: api().stats(container, stream=False, one_shot=True)) or {}
    mem = stats.get("memory_stats") or {}
    usage, inactive = int(mem.get("usage") or 0), mem.get("stats") or {}
    cache = int(inactive.get("total_inactive_file", inactive.get("inactive_file", 0)))
    return (usage - cache if cache < usage else usage) / 2**20 if usage else None


def cpu_total_ns(container: str) -> int | None:
    """Cumulative CPU time of a container (one-shot stats, API 1.41); None if
    it is not running, gone, just exiting (an empty body) or the engine is away."""
    try:
        stats = api().stats(container, stream=False, one_shot=True)
    except (LabError, DockerException, requests.RequestException, ValueError):
        return None
    total = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    # a stopped container answers with zeros and no pids
    running = (stats.get("pids_stats") or {}).get("current", 1)
    return int(total) if total and running else None


def run_once(image: str, argv: Sequence[str], volumes: dict[str, str]) -> str:
    """`docker run --rm --network none -v VOLUME:PATH IMAGE ARGV...`: a one-off
    container on a stopped host's volumes; its output, or a LabError."""
    mounts = {volume: {"bind": path, "mode": "rw"} for volume, path in volumes.items()}
    out = call(f"docker run {image} {' '.join(argv)}", lambda: client().containers.run(
        image, list(argv), network_mode="none", volumes=mounts, remove=True,
        stdout=True, stderr=True))
    return out.decode(errors="replace") if isinstance(out, bytes) else str(out)


# --- a one-off container (the load generator) -------------------------------------


def run_detached(image: str, command: Sequence[str], *, name: str, network: str, ip: str,
                 labels: dict[str, str], environment: dict[str, str],
                 user: str, entrypoint: Sequence[str] | None = None,
                 cap_add: Sequence[str] = (), cgroup_parent: str = "",
                 files: bytes = b"") -> None:
    """`docker create --name NAME --network NETWORK --ip IP
    -e K=V --user U [--entrypoint ...] [--cap-add ...] [--cgroup-parent ...]
    IMAGE COMMAND...`, `files` (a tar) unpacked at its root (`docker cp`:
    nothing of this machine is bound in, so it runs the same on a node),
    then `docker start`; without --rm: `exit_code` and `logs` read it after
    it ends, `remove` takes it away."""
    def create_and_start() -> None:
        host_config = api().create_host_config(network_mode=network,
                                               cap_add=list(cap_add) or None,
                                               cgroup_parent=cgroup_parent or None)
        endpoint = api().create_endpoint_config(ipv4_address=ip)
        api().create_container(
            image, list(command), name=name, labels=labels, environment=environment,
            user=user, entrypoint=list(entrypoint) if entrypoint is not None else None,
            host_config=host_config,
            networking_config={"EndpointsConfig": {network: endpoint}})  # --network --ip
        if files:
            api().put_archive(name, "/", files)
        api().start(name)

    call(f"docker run {name}", create_and_start)


def exit_code(container: str) -> int | None:
    """The exit code of a container that has ended; None while it runs. A
    container that is not there is a LabError (nothing would end the wait)."""
    data = inspect_container(container)
    if data is None:
        raise LabError(f"container {container} is gone", hint="removed by hand?")
    state = data.get("State") or {}
    return int(state.get("ExitCode") or 0) if state.get("Status") in ("exited", "dead") else None


def open_terminal(container: str, argv: Sequence[str], env: dict[str, str]) -> tuple[str, Any]:
    """A shell on a terminal inside `container` (docker exec -it): the exec's
    id and the raw socket that carries the terminal's bytes both ways (the
    class's terminal page; lab.classweb.terminal)."""
    exec_id = str(call(f"docker exec -it {container}", lambda: api().exec_create(
        container, list(argv), stdin=True, tty=True, environment=env))["Id"])
    conn = call(f"docker exec -it {container}", lambda: api().exec_start(
        exec_id, tty=True, socket=True))
    return exec_id, getattr(conn, "_sock", conn)  # SocketIO over the unix socket: its socket


def resize_terminal(exec_id: str, rows: int, cols: int) -> None:
    call("docker exec resize", lambda: api().exec_resize(exec_id, height=rows, width=cols))


def terminal_pid(exec_id: str) -> int | None:
    """The terminal's shell as this machine sees it; None once it has ended."""
    data = _lookup("docker exec inspect", lambda: api().exec_inspect(exec_id)) or {}
    found = int(data.get("Pid") or 0) if data.get("Running") else 0
    return found if found and _here(found, str(data.get("ContainerID", ""))) else None


def class_containers() -> list[dict[str, Any]]:
    """Every container of every class lab in one call: Names, State, Status
    ("Up 3 minutes (healthy)") and Labels, as `docker ps -a` lists them."""
    return list(call("docker ps -a", lambda: api().containers(
        all=True, filters={"label": "org.foolab.class"})))
