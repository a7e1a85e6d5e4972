"""The load generator: Locust (and wrk) in a container on the lab network.

The visitors' traffic never leaves the lab: a one-off container of the
loadgen image (images/loadgen, run through the Docker SDK) sits on the lab
network at a free lab address (.100), with loadtests/ copied in and /out
copied out into the report folder; its output goes to a log file there.
Every run is bounded: users and run time are always set, Locust stops by
itself, and a run that overstays its budget is killed. While it runs, the
engine's CPU counters of the web servers and of the load generator are read
once a second (lab/load/counters.py, through the Docker SDK). This module
gathers data; lab/load/summary.py and lab/load/study_report.py make the report.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from lab.admin import lb
from lab.admin import resolvers as res
from lab.drills.faults import Fault, injected
from lab.engine import cgroups
from lab.engine import client as engine
from lab.engine.hostfiles import Entry, copy_out, packed, tree
from lab.engine.lab import Lab
from lab.engine.process import quote
from lab.load.ceiling import Ceiling, ToolRate, parse_wrk
from lab.load.counters import (
    STATS_SOURCE,
    cpu_usage_ns,
    descendants,
    engine_client,
    machine_cpu_ticks,
    mean_percent,
    schedstat,
)
from lab.load.settings import MODES, RunSettings
from lab.load.summary import CpuSamples, RunData
from lab.model.article import WWW
from lab.model.class_layout import same_octet
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.figures import Progress
from lab.model.topology import Role, image

IMAGE = image("loadgen")
IMAGE_FOLDER = REPO / "images" / "loadgen"
LOADTESTS = REPO / "loadtests"
LOADGEN_OCTET = 100  # the load generator's address on the lab network: .100
GRACE_S = 60.0  # beyond the run time, for start-up, shutdown and writing reports


# --- the load generator ------------------------------------------------------------------


class LoadGen:
    """Runs Locust and wrk for one lab, inside its network."""

    def __init__(self, lab: Lab, progress: Progress | None = None) -> None:
        self.lab = lab
        self.progress: Progress = progress or (lambda _msg: None)
        self.container = f"{lab.config.project}-loadgen"
        self.webs = tuple(h.name for h in lab.topology.by_role(Role.WEB))

    @property
    def address(self) -> str:
        return str(self.lab.topology.network.network_address + LOADGEN_OCTET)

    @property
    def _wire(self) -> str:
        """The address Docker gives the generator (a class lab's wire)."""
        return same_octet(self.address, self.lab.config.wire_subnet or self.lab.topology.subnet)

    def _start(self, argv: Sequence[str], out: Path) -> None:
        """The loadgen container, started on the lab network with `argv`. In
        a class lab it adds its lab address itself, as the hosts do
        (compose/class.yml): as root, dropping NET_ADMIN after. loadtests/
        (and lab-address) are copied in, /out copied out: nothing of
        this machine is bound in, so a lab on a cluster node runs it too."""
        in_class = self.lab.config.in_class
        env = {"FOOLAB_SITE": WWW}  # the name visitors ask for (lab.model.article)
        uid, gid = os.getuid(), os.getgid()
        files = [*tree(LOADTESTS, "loadtests"), Entry("out", mode=0o755, uid=uid, gid=gid)]
        if in_class:
            files.append(Entry("usr/local/sbin/lab-address",
                               (REPO / "compose" / "lab-address").read_bytes(), mode=0o755))
            env["LAB_SUBNET"] = self.lab.topology.subnet
        engine.run_detached(
            IMAGE, ["--", "/usr/local/sbin/lab-address", *argv] if in_class else argv,
            name=self.container, network=self.lab.config.project, ip=self._wire,
            labels={"org.foolab.lab": self.lab.config.project}, environment=env,
            user=f"{uid}:{gid}", entrypoint=["/usr/bin/tini"] if in_class else None,
            cap_add=["NET_ADMIN"] if in_class else [],
            # in its lab's share: a student's load run is bounded with their lab
            cgroup_parent=cgroups.parent(self.lab.config, self.lab.engine) if in_class else "",
            files=packed(files))

    def build(self) -> None:
        """The loadgen image, built like the role images (skipped when unchanged)."""
        self.lab.build_image(IMAGE_FOLDER, IMAGE)

    def _require_free_address(self) -> None:
        net = engine.inspect_network(self.lab.config.project)
        if net is None:
            raise LabError("the lab network is missing", hint="is the lab up? `foolab up`")
        containers = (net.get("Containers") or {}).values()
        for c in containers:
            if str(c.get("IPv4Address", "")).split("/")[0] == self._wire:
                raise LabError(f"{self.address} is taken on the lab network by {c.get('Name')}",
                               hint="another load run still going? wait for it or remove it")

    def _docker_run(self, argv: Sequence[str], out: Path, budget_s: float,
                    watch: Sequence[str], log_name: str = "loadgen.log",
                    ) -> tuple[int, CpuSamples | None, float]:
        """Run the loadgen container once and wait for it to end, reading the
        CPU counters of `watch` and of the load generator each second; its
        output (stdout and stderr) goes to `log_name` in `out`, and the
        container is removed. Returns its exit code, the CPU readings and
        the wall time."""
        out.mkdir(parents=True, exist_ok=True)
        self._require_free_address()
        engine.remove(self.container)  # left by a killed run
        client = engine_client()  # None: no engine answering, no CPU figures
        hosts = {self.lab.topology.host(w).container: w for w in watch}
        names = [*hosts, self.container]
        times: list[float] = []
        usage: dict[str, list[int | None]] = {n: [] for n in names}

        sched: dict[int, tuple[int, int]] = {}  # the generator's processes: (run, wait) ns
        root: list[int] = []

        def sample() -> None:
            if not root:
                pid = engine.pid(self.container)
                root.extend([pid] if pid else [])
            with suppress(LabError):  # /out so far, read while it runs (none yet: next time)
                copy_out(self.container, "/out", out)
            for p in descendants(root[0]) if root else []:
                stat = schedstat(p)
                if stat is not None:
                    sched[p] = stat
            if client is None:
                return
            readings = cpu_usage_ns(names, client)
            times.append(time.monotonic())
            for n in names:
                usage[n].append(readings.get(n))

        try:
            ticks0 = machine_cpu_ticks()
            sample()
            t0 = time.monotonic()
            log_path = out / log_name
            try:
                self._start(argv, out)
                while (code := engine.exit_code(self.container)) is None:
                    if time.monotonic() - t0 > budget_s:
                        raise LabError(f"the load generator ran over {budget_s:.0f} s",
                                       hint=f"killed it; see {log_path}")
                    time.sleep(1.0)
                    sample()
            finally:  # over time, interrupted or done: never leave it running
                self._end(log_path)
            wall = time.monotonic() - t0
            sample()
        finally:
            if client is not None:
                client.close()
        ticks1 = machine_cpu_ticks()
        busy = None
        if ticks0 and ticks1 and ticks1[1] > ticks0[1]:
            busy = (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1])
        if client is None or not times:
            return code, None, wall
        rename = {**hosts, self.container: "loadgen"}
        on_cpu, waiting = sum(r for r, _ in sched.values()), sum(w for _, w in sched.values())
        samples = CpuSamples(
            source=STATS_SOURCE,
            times=tuple(t - times[0] for t in times),
            usage_ns={rename[n]: tuple(v) for n, v in usage.items()},
            machine_busy=busy,
            loadgen_wait=waiting / (on_cpu + waiting) if on_cpu + waiting else None,
        )
        return code, samples, wall

    def _end(self, log_path: Path) -> None:
        """The container killed if it still runs, its output written to
        `log_path`, and removed (what `docker run --rm` did)."""
        if engine.inspect_container(self.container) is None:
            return  # never made: the engine refused it
        if engine.exit_code(self.container) is None:
            with suppress(LabError):  # it may have ended meanwhile
                engine.kill(self.container)
        copy_out(self.container, "/out", log_path.parent)
        log_path.write_text(engine.logs(self.container))
        engine.remove(self.container)

    def run_load(self, settings: RunSettings, out: Path) -> RunData:
        """One bounded Locust run of visitors behind DNS; the data for the report."""
        topo = self.lab.topology
        names = ",".join(h.address for h in topo.by_role(Role.DNS))
        webs = ",".join(f"{w}={topo.address(w)}" for w in self.webs)
        argv = [
            "locust", "-f", "/loadtests/locustfile.py", "--headless",
            "-u", str(settings.users), "-r", f"{settings.rate:g}",
            "-t", f"{settings.duration_s}s", "--stop-timeout", "5", "--only-summary",
            "--csv", "/out/locust", "--html", "/out/locust.html",
            "--csv-full-history",  # percentiles of the last ~10 s in the history (lab.load.latency)
            "--dns-cache", settings.cache, "--ttl-scale", f"{settings.ttl_scale:g}",
            "--name-servers", names, "--web-hosts", webs, "--visits-file", "/out/visits.json",
            "--live-file", "/out/live.json",  # read by the dashboard while the run lasts
        ]
        if settings.balancer:  # F22: the same visitors, sent to lb with this policy
            if lb.policy(self.lab) != settings.balancer:
                lb.set_policy(self.lab, settings.balancer)
            argv += ["--target", topo.address(lb.HOST)]
        if settings.resolvers:  # F20: visitors behind caching resolvers
            with res.short_ttl(self.lab, settings.zone_ttl_s):
                held = self._ready_resolvers(settings)
                argv += ["--resolvers", ",".join(res.addresses(self.lab, settings.resolvers)),
                         "--population", settings.population]
                return replace(self._locust(settings, argv, out), warm=held)
        return self._locust(settings, argv, out)

    def _ready_resolvers(self, settings: RunSettings) -> dict[str, str]:
        """Resolvers started (or made again) with the run's answer order,
        their caches emptied and filled one after the other; the first www
        address each holds. With `fixed` each holds another one (as ISPs that
        asked at different moments of ns1's rotation), so that the split
        shows what caching does, not a coincidence of two caches."""
        names = res.names(settings.resolvers)
        started = res.add(self.lab, settings.resolvers, settings.order)
        if started:
            self.progress(f"resolvers {', '.join(started)} started ({settings.order} order)")
        res.flush(self.lab, names)
        by_address = {self.lab.topology.address(w): w for w in self.webs}
        held = res.warm(self.lab, names, distinct=settings.order == "fixed")
        return {n: by_address.get(a, a) for n, a in held.items()}

    def _locust(self, settings: RunSettings, argv: list[str], out: Path) -> RunData:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        how = "through" if settings.balancer else "DNS cache"
        self.progress(f"load: {settings.users} visitors, {settings.duration_s} s, {how} "
                      f"{settings.label} (Locust in {self.container} at {self.address})")
        visits_file = out / "visits.json"
        visits_file.unlink(missing_ok=True)
        marker = self.lab.config.load_marker  # tells the dashboard where to look
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"live": str((out / "live.json").resolve())}))
        try:
            code, cpu, wall = self._docker_run(argv, out, settings.duration_s + GRACE_S,
                                               self.webs)
        finally:
            marker.unlink(missing_ok=True)
        if not visits_file.exists():  # Locust exits 1 when requests failed: that is data
            tail = (out / "loadgen.log").read_text().strip().splitlines()[-1:] or [""]
            raise LabError(f"Locust wrote no results (exit {code})", tail[0],
                           f"see {out / 'loadgen.log'}")
        visits = json.loads(visits_file.read_text())
        return RunData(settings, self.webs, visits, cpu, wall, started)

    @contextmanager
    def stopped(self, host: str) -> Iterator[None]:
        """A web server stopped for the duration of the block: the fault "stop"
        (lab.drills.faults), recorded in the lab's fault record so that
        `foolab heal` starts it should this process die; always healed
        afterwards and waited for until healthy."""
        self.progress(f"stopping {host} ({self.lab.topology.host(host).container})")
        with injected(self.lab, Fault("stop", host),
                      wait_healthy=self.lab.config.health_timeout):
            try:
                yield
            finally:
                self.progress(f"starting {host} again")
        self.progress(f"{host} is healthy again")

    def compare(self, users: int, duration_s: int, ttl_scale: float, out: Path,
                down: str | None = None) -> list[RunData]:
        """The three cache modes with all web servers up, then again with one
        stopped (default: web3, the last that only receives content); each
        run's data, and its files in a subfolder of `out`."""
        down = down or self.lab.topology.content_targets[-1]
        runs: list[RunData] = []
        plan = [RunSettings(users, duration_s, m, ttl_scale) for m in MODES]
        for settings in plan:
            runs.append(self.run_load(settings, out / settings.slug))
        with self.stopped(down):
            for settings in plan:
                settings = RunSettings(users, duration_s, settings.cache, ttl_scale,
                                       down=(down,))
                runs.append(self.run_load(settings, out / settings.slug))
        if lb.running(self.lab):  # F22: the same visitors through the balancer
            runs += self.compare_balancer(users, duration_s, ttl_scale, out, down)
        return runs

    def compare_balancer(self, users: int, duration_s: int, ttl_scale: float, out: Path,
                         down: str | None = None) -> list[RunData]:
        """The balancer's rows of the comparison: lb with roundrobin and with
        leastconn, all up and with `down` stopped (same visitors, same page
        mix, same duration as the DNS rows; default: compare's); lb's policy
        is put back."""
        down = down or self.lab.topology.content_targets[-1]
        before = lb.policy(self.lab)
        plan = [RunSettings(users, duration_s, "none", ttl_scale, balancer=p)
                for p in ("roundrobin", "leastconn")]
        runs: list[RunData] = []
        try:
            for settings in plan:
                runs.append(self.run_load(settings, out / settings.slug))
            with self.stopped(down):
                for settings in plan:
                    settings = RunSettings(users, duration_s, "none", ttl_scale, down=(down,),
                                           balancer=settings.balancer)
                    runs.append(self.run_load(settings, out / settings.slug))
        finally:
            if before and lb.policy(self.lab) != before:
                lb.set_policy(self.lab, before)
        return runs

    def cluster_rate(self, out: Path, connections: int = 8, duration_s: int = 10,
                     page: str = "/light.php") -> float:
        """Requests per second web1-3 answer together: one wrk per web server,
        all at once, from the load generator; the sum of their rates."""
        webs = [h.name for h in self.lab.topology.by_role(Role.WEB)]
        parts = [quote(["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration_s}s",
                        "-H", "Host: www.foo.com",
                        f"http://{self.lab.topology.address(w)}{page}"]) + f" > /out/wrk-{w}.txt"
                 for w in webs]
        self._docker_run(["sh", "-c", " & ".join(parts) + " & wait"], out,
                         duration_s + GRACE_S, webs, "cluster-wrk.log")
        return sum(parse_wrk((out / f"wrk-{w}.txt").read_text())[2] for w in webs)

    def ceiling(self, out: Path, connections: int = 8, duration_s: int = 10, rounds: int = 3,
                processes: int = 1, host: str | None = None,
                page: str = "/light.php") -> Ceiling:
        """Locust (FastHttpUser, no think time; one process, or a master with
        `processes` workers) and wrk (`processes` threads) ask one web server for
        one page as fast as they can, from the same image and address, taking
        turns for `rounds` rounds so that the machine's drifting load hits both."""
        if not (1 <= connections <= 100 and 1 <= duration_s <= 300 and 1 <= rounds <= 10
                and 1 <= processes <= 8):
            raise LabError("ceiling bounds: 1-100 connections, 1-300 s, 1-10 rounds, "
                           "1-8 processes")
        host = host or self.lab.topology.webs[0]  # any one: the first web server
        target = self.lab.topology.address(host)
        budget = duration_s + GRACE_S
        opts = ["--target", target, "--page", page, "--result-file", "/out/ceiling-locust.json"]
        common = ["--headless", "-u", str(connections), "-r", str(connections),
                  "-t", f"{duration_s}s", "--only-summary", *opts]
        if processes == 1:
            locust_argv = ["locust", "-f", "/loadtests/ceiling.py", *common]
        else:
            worker = quote(["locust", "-f", "/loadtests/ceiling.py", "--worker", *opts])
            master = quote(["locust", "-f", "/loadtests/ceiling.py", "--master",
                            "--expect-workers", str(processes),
                            "--expect-workers-max-wait", "30", *common])
            locust_argv = ["sh", "-c", f"for i in $(seq {processes}); do {worker} & done; "
                           f"{master}; wait"]
        wrk_argv = ["wrk", "-t", str(processes), "-c", str(connections), "-d", f"{duration_s}s",
                    "-H", "Host: www.foo.com", f"http://{target}{page}"]
        locust_rates: list[ToolRate] = []
        wrk_rates: list[ToolRate] = []
        result = out / "ceiling-locust.json"
        for i in range(1, rounds + 1):
            self.progress(f"ceiling round {i}/{rounds}: Locust, {connections} users, "
                          f"{duration_s} s on {host}{page}")
            result.unlink(missing_ok=True)
            _, cpu, _ = self._docker_run(locust_argv, out, budget, [host],
                                         f"ceiling-locust-{i}.log")
            if not result.exists():
                raise LabError("Locust wrote no ceiling result",
                               hint=f"see {out / f'ceiling-locust-{i}.log'}")
            lr = json.loads(result.read_text())
            result.rename(out / f"ceiling-locust-{i}.json")
            locust_rates.append(ToolRate(
                "locust", int(lr["requests"]), int(lr["failures"]), float(lr["seconds"]),
                float(lr["rps"]), mean_percent(cpu, "loadgen"), mean_percent(cpu, host),
                bool(lr.get("cpu_warning")), cpu.loadgen_wait if cpu else None))
            self.progress(f"ceiling round {i}/{rounds}: wrk, {connections} connections")
            log = f"ceiling-wrk-{i}.txt"
            code, cpu, _ = self._docker_run(wrk_argv, out, budget, [host], log)
            text = (out / log).read_text()
            try:
                requests, seconds, rps, errors = parse_wrk(text)
            except ValueError:
                raise LabError(f"wrk gave no summary (exit {code})", text[-200:],
                               f"see {out / log}") from None
            wrk_rates.append(ToolRate("wrk", requests, errors, seconds, rps,
                                      mean_percent(cpu, "loadgen"), mean_percent(cpu, host),
                                      False, cpu.loadgen_wait if cpu else None))
        return Ceiling(target, page, connections, duration_s, processes,
                       tuple(locust_rates), tuple(wrk_rates))

