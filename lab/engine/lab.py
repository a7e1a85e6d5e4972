"""The driver: Docker Engine, Compose lifecycle, and commands on a host.

Everything that talks to Docker lives here. A `Lab` is a context manager in
the style of testcontainers: `with Lab(cfg) as lab:` brings the seven hosts
up (tearing down whatever it started if the start fails) and takes down on
exit only what it started itself.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.engine import addressing, cgroups, client, netns, network, nodes
from lab.engine.images import build_side_by_side, context_digest, docker_build, image_digest_label
from lab.engine.network import subnet_conflict
from lab.engine.process import compose_command, fill, require_engine, run, run_logged
from lab.engine.ready import probe as probe_now
from lab.engine.ready import probe_all, running_for, wait_ready
from lab.engine.waiting import wait_for
from lab.model import class_layout, cluster, secrets
from lab.model.config import REPO, LabConfig, compose_env
from lab.model.errors import LabError
from lab.model.figures import Progress
from lab.model.timings import WHOLE, Phases
from lab.model.topology import LISTENS, Host, image

# --- the lab ------------------------------------------------------------------


@dataclass(frozen=True)
class HostState:
    """What the engine says about one host's container. `health` is Docker's
    last healthcheck result (up to its interval old) unless the state came
    from `Lab.states(probe=True)`, which runs the check now."""

    host: Host
    status: str  # running, exited, paused, missing, ...
    health: str  # healthy, unhealthy, starting, none
    last_check: str  # output of the last healthcheck, for error messages

    @property
    def is_healthy(self) -> bool:
        return self.status == "running" and self.health == "healthy"


class Lab:
    """The seven containers of one lab, driven through Docker and Compose."""

    def __init__(self, config: LabConfig | None = None, progress: Progress | None = None,
                 prepare: Sequence[Callable[[Lab], None]] = ()) -> None:
        """`prepare`: what `up` runs before Compose starts anything, e.g. the
        optional hosts writing their configuration (lab.admin.lb.prepare)."""
        # A lab brought up with an optional host keeps it until `down`.
        self.config = (config or LabConfig.from_env()).remembered()
        self.topology = self.config.topology
        self.progress: Progress = progress or (lambda _msg: None)
        self.prepare = tuple(prepare)
        self.phases = Phases()  # where the last `up` spent its time (up --timings)
        self._started_here = False

    # -- context manager --

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._started_here:
            self.down()

    # -- compose --

    def compose(self, *args: str, timeout: float | None = 300) -> subprocess.CompletedProcess[str]:
        argv = [*compose_command(), "-p", self.config.project]
        for file in self.config.compose_files:  # the seven, then optional hosts
            argv += ["-f", str(file)]
        if self.config.env_file.exists():
            argv += ["--env-file", str(self.config.env_file)]
        return run([*argv, *args], timeout=timeout)

    def env(self) -> dict[str, str]:
        """Addresses and passwords the compose files interpolate, and a class
        lab's control group (lab.engine.cgroups)."""
        return {**compose_env(self.config), "LAB_CGROUP": cgroups.parent(self.config, self.engine)}

    def use_balancer(self, on: bool = True) -> None:
        """Add lb to this lab's hosts and compose files (or drop it); `up`
        or lab.admin.lb.add then starts it."""
        self.config = replace(self.config, balancer=on)
        self.topology = self.config.topology

    def use(self, **optional: bool) -> None:
        """Add optional hosts to this lab's compose files (or drop them),
        e.g. use(mha=True); lab.admin.mha.add then starts them."""
        self.config = replace(self.config, **optional)  # type: ignore[arg-type]
        self.topology = self.config.topology

    def secrets(self) -> dict[str, str]:
        path = self.config.secrets_file
        return secrets.read_env_file(path) if path.exists() else {}

    # -- state --

    def states(self, probe: bool = False) -> dict[str, HostState]:
        """Engine state of every host, `missing` for those with no container.

        Health is Docker's, as old as its last check (compose/lab.yml: once
        a minute); with `probe`, each running host's healthcheck is run now
        instead (in parallel), for answers that must be true now."""
        result: dict[str, HostState] = {}
        inspected = {h.container: client.inspect_container(h.container)
                     for h in self.topology.hosts}
        for h in self.topology.hosts:
            if (data := inspected[h.container]) is None:
                result[h.name] = HostState(h, "missing", "none", "")
                continue
            state = data.get("State") or {}
            health = state.get("Health") or {}
            log = health.get("Log") or []
            last = str(log[-1].get("Output", "")).strip() if log else ""
            status, health_status = str(state["Status"]), str(health.get("Status", "none"))
            result[h.name] = HostState(h, status, health_status, last)
        if probe:
            running = [s.host.container for s in result.values() if s.status == "running"
                       and s.health != "none"]
            fresh = probe_all(running, {c: d for c, d in inspected.items() if d})
            result = {n: replace(s, health="healthy" if fresh[s.host.container].ok
                                 else "unhealthy", last_check=fresh[s.host.container].output)
                      if s.host.container in fresh else s for n, s in result.items()}
        return result

    def ready(self, host: str) -> bool:
        """Whether a host runs and its healthcheck passes now (run here, not
        Docker's last result): what a wait for a restarted host asks."""
        return probe_now(self.topology.host(host).container).ok

    def _networks(self, host: str) -> dict[str, Any]:
        """The container's endpoints by network name ({} if it has no container)."""
        data = client.inspect_container(self.topology.host(host).container) or {}
        return dict((data.get("NetworkSettings") or {}).get("Networks") or {})

    def attached(self, host: str) -> bool:
        """Whether a host's container is plugged into the lab network."""
        return self.config.project in self._networks(host)

    def address_of(self, host: str) -> str:
        """The address a host has now on the lab network: a promoted replica
        may have taken over the master's (runbook promote-replica)."""
        endpoint = self._networks(host).get(self.config.project) or {}
        ip = endpoint.get("IPAddress")
        if not ip:  # stopped or cut off: docker keeps the configured address
            ip = (endpoint.get("IPAMConfig") or {}).get("IPv4Address")
        if not ip:
            return self.topology.address(host)
        # A class lab's Docker knows the wire address; its hosts use the lab's.
        return class_layout.same_octet(str(ip), self.topology.subnet)

    def wire_address(self, host: str) -> str:
        """The address Docker gives a host: its lab address, but in a class
        the same last octet on the lab's wire subnet."""
        return class_layout.same_octet(self.topology.address(host),
                                       self.config.wire_subnet or self.topology.subnet)

    @property
    def console(self) -> str:
        """A class lab's console container (compose/class.yml)."""
        return f"{self.config.project}-console"

    @property
    def engine(self) -> str | None:
        """DOCKER_HOST of the node holding this class lab; None: the process's."""
        where = cluster.Placement.load(self.config.state_dir) if self.config.in_class else None
        return where.engine if where else None

    @contextmanager
    def network(self) -> Iterator[None]:
        """Where this process reaches the lab's addresses: from this machine
        for the single lab; from inside the console's network namespace for
        a class lab (this thread and what it starts, until the block ends)."""
        if not self.config.in_class:
            yield
            return
        with client.engine(nodes.enterable(self.engine, self.config.lab)):
            pid = client.pid(self.console)
            if pid is None:
                raise LabError(f"lab {self.config.lab} is not up (its console is not running)",
                               hint=f"`foolab --lab {self.config.lab} up`")
            with netns.inside(pid):
                yield

    def is_up(self) -> bool:
        """True when any host of the lab exists (up, half-up or faulted)."""
        return any(s.status != "missing" for s in self.states().values())

    def require_up(self) -> None:
        require_engine()
        if not self.is_up():
            raise LabError("the lab is not up", hint="start it with `make lab-up` (or `foolab up`)")

    # -- commands on a host --

    def service_container(self, service: str) -> str:
        """The container of a service of this lab that is no host of its
        topology (res1, db1-mha, db2-vrrp): named like the hosts' containers."""
        return f"{self.config.project}-{service}"

    def exec(
        self, host: str, argv: Sequence[str], *, user: str | None = None, timeout: float = 60,
        input: str | None = None, service: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv on a host (docker exec); the result is returned, never raised.
        `service`: `host` names one of the lab's other containers (res1,
        db1-mha: service_container), not a host of the topology. The docker
        CLI, not the SDK: exec_run has neither stdin (with EOF) nor a timeout."""
        container = self.service_container(host) if service else self.topology.host(host).container
        cmd = ["docker", "exec", *(["-i"] if input is not None else [])]
        if user:
            cmd += ["-u", user]
        return run([*cmd, container, *argv], timeout=timeout, input=input)

    def sh(self, host: str, script: str, *, user: str | None = None, timeout: float = 60,
           service: bool = False) -> str:
        """Run a shell script on a host (or a service: exec); return stdout
        or raise LabError."""
        out = self.exec(host, ["bash", "-c", script], user=user, timeout=timeout,
                        service=service)
        if out.returncode != 0:
            raise LabError(f"on {host}: `{script}` failed (exit {out.returncode})",
                           out.stderr or out.stdout)
        return out.stdout

    def run(self, host: str, template: str, *args: str, timeout: float = 60) -> str:
        """Run a shell line on a host, each `{}` of `template` filled with one
        argument, quoted (process.fill): the one door for a command built
        from values. Returns stdout; a LabError with what the host said."""
        return self.sh(host, fill(template, *args), timeout=timeout)

    # -- lifecycle --

    def build(self, tag: str | None = None, no_cache: bool = False) -> dict[str, float]:
        """Make the base image if it cannot be pulled, then each role's image
        (skipped when its folder under images/ has not changed), all at once:
        the builds mostly wait on package downloads and unpacking, so running
        them side by side beats one after another. `tag`: build under another
        tag than the lab's (the bench's throw-away cold build). Returns seconds
        per image built."""
        if client.current_engine() is not None:  # a node builds nothing: cluster up loads them
            nodes.require_images(sorted({h.image for h in self.topology.hosts}))
            return {}
        logs = self.config.log_dir
        logs.mkdir(parents=True, exist_ok=True)
        if client.inspect_image("debian:bookworm-slim") is None:
            self.progress("base image debian:bookworm-slim: pulling, or bootstrapping it locally")
            run_logged(["bash", str(REPO / "scripts" / "bootstrap-base-image.sh")],
                         logs / "base-image.log", "making the base image", timeout=900)
        roles = dict.fromkeys(h.role for h in self.topology.hosts)  # lb only if asked
        names = {role: image(role) if tag is None else f"foolab/{role.value}:{tag}"
                 for role in roles}
        return build_side_by_side({name: partial(self.build_image, REPO / "images" / role.value,
                                                 name, no_cache)
                                   for role, name in names.items()}, self.progress)

    def build_image(self, folder: Path, image: str, no_cache: bool = False,
                    packages: str | None = None) -> float | None:
        """Build one image from a folder under images/ unless the image already
        carries that folder's digest; seconds it took, None if not built. The
        role images and extra ones (the load generator) alike. `no_cache`:
        every layer again (a cold build). A node gets it built here."""
        if (node := client.current_engine()) is not None:
            with client.engine(client.MACHINE):
                took = self.build_image(folder, image, no_cache)
            nodes.ship_images([image], node, self.progress)
            return took
        t0 = time.monotonic()
        digest = context_digest(folder)
        if not no_cache and image_digest_label(image) == digest:
            self.progress(f"image {image}: up to date")
            self.phases.add(f"image {image.split(':')[0]}: up to date", time.monotonic() - t0)
            return None
        self.progress(f"image {image}: building (Debian packages; about 20 s)")
        t0 = time.monotonic()
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        docker_build(folder, image, digest, self.config.log_dir / f"build-{folder.name}.log",
                     no_cache, packages)
        took = time.monotonic() - t0
        self.progress(f"image {image}: built in {took:.0f} s")
        self.phases.add(f"image {image.split(':')[0]}: built", took)
        return took

    def up(self) -> dict[str, float]:
        """Build, start and wait for seven healthy hosts; idempotent.

        Returns seconds from start to healthy per host (each phase's in
        self.phases). If this call started the lab and the start fails,
        everything it made is removed again."""
        self.phases = Phases()
        with self.phases.timed(WHOLE):
            return self._up()

    def _up(self) -> dict[str, float]:
        with self.phases.timed("engine and compose found, lab state read"):
            require_engine()
            compose_command()
            already = self.is_up()
        cgroups.apply(self.config, self.engine)  # a class lab's share: a bad bound stops here
        if self.config.in_class:
            self.config = network.with_wire(self.config)
            self.topology = self.config.topology
            network.add_class_rules((self.topology.subnet,))
        elif not already:
            conflict = subnet_conflict(self.topology.subnet, self.config.project)
            if conflict:
                raise LabError(f"subnet {self.topology.subnet} is already in use", conflict,
                               "choose another with FOOLAB_SUBNET=10.x.y.0/24 (or --subnet)")
        secrets.write_private(self.config.env_file, self.env(), "made by foolab up; never commit")
        for prepare in self.prepare:
            prepare(self)
        with self.phases.timed("images, all of them (side by side)"):
            self.build()
        self._started_here = not already
        try:
            healthy = self._start_and_wait()
            if self.config.in_class:
                with self.phases.timed("the console running"):
                    wait_for("the lab's console", lambda: client.pid(self.console), timeout=30)
            return healthy
        except BaseException:
            if self._started_here:  # a class lab half up is forgotten entirely
                self.progress("start failed: removing what was started")
                self.down(forget_secrets=self.config.in_class)
            raise

    def _start_and_wait(self) -> dict[str, float]:
        """Start every host at once (each waits itself for what it needs: its
        entrypoint) and judge readiness here, by running each host's
        healthcheck until it passes; Docker's own status lags (rare checks)."""
        result: dict[str, subprocess.CompletedProcess[str]] = {}

        def compose_up() -> None:
            try:
                with self.phases.timed("compose up (network, containers created and started)"):
                    result["up"] = self.compose("up", "-d", "--no-build",
                                                timeout=self.config.health_timeout)
            except LabError as exc:
                result["up"] = subprocess.CompletedProcess([], 1, "", str(exc))

        def started() -> bool:
            up = result.get("up")
            if up is not None and up.returncode != 0:
                raise LabError("docker compose up failed", up.stderr, "see the message above")
            return up is not None

        def say_ready(name: str, seconds: float) -> None:
            self.progress(f"{name:5} healthy after {seconds:4.1f} s "
                          f"({(host := self.topology.host(name)).address})")
            self.phases.add(f"{name} running -> healthy", running_for(host.container))

        starter = threading.Thread(target=client.carried(compose_up), daemon=True)
        starter.start()
        hosts = {h.name: h.container for h in self.topology.hosts}
        try:  # a class lab's hosts wait for their lab address (lab.engine.addressing)
            with addressing.addressing(self.config, [*hosts.values(), self.console]):
                return wait_ready(hosts, self.config.health_timeout, started, say_ready,
                                  f"`docker logs {self.config.project}-HOST` shows why",
                                  {h.name: LISTENS.get(h.role, ()) for h in self.topology.hosts})
        finally:
            starter.join(timeout=30)

    def down(self, forget_secrets: bool = True) -> bool:
        """Remove every container, network and volume of the lab; False if
        there was nothing to remove. The next lab gets new passwords."""
        require_engine()
        had = self.is_up() or client.inspect_network(self.config.project) is not None
        if had:
            # compose needs every variable to parse (an older lab's file may lack some)
            secrets.write_private(self.config.env_file, self.env(), "made by foolab down")
            out = self.compose("down", "-v", "--remove-orphans", "-t", "5", timeout=300)
            if out.returncode != 0:
                raise LabError("docker compose down failed", out.stderr)
            cgroups.release(self.config, self.engine)
        if forget_secrets:
            for path in self.config.per_lab_files:
                path.unlink(missing_ok=True)
        if self.config.in_class and forget_secrets:
            (self.config.state_dir / class_layout.RECORD_NAME).unlink(missing_ok=True)
            self.config = replace(self.config, wire_subnet="")
            if not client.class_networks():  # the last lab of every class
                network.remove_class_rules()
        self._started_here = False
        return had
