"""What a load run measured, and its figures (F3, F20, F21).

lab/load/generator.py runs Locust in the lab and reads the engine's CPU
counters into a RunData; summarize() turns it into a RunSummary: shares per
server, the chi-square test against an even split, CPU share beside request
share, the split over time, and whether the load generator was the limit.
No Docker and no printing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.load.settings import RunSettings
from lab.load.stats import ChiSquare, binomial_sd, chi_square, shares
from lab.load.units import UnitFigures, unit_figures

LOADGEN_BUSY_PERCENT = 90.0  # Locust warns at 90 % of its core; so does the report


@dataclass(frozen=True)
class CpuSamples:
    """Cumulative CPU time of containers, read at moments of a run.

    `usage_ns[name][i]` is the container's CPU time at `times[i]` (seconds
    since the first reading), or None where it could not be read (stopped)."""

    source: str
    times: tuple[float, ...]
    usage_ns: Mapping[str, tuple[int | None, ...]]
    machine_busy: float | None = None  # share of all cores busy during the run
    loadgen_wait: float | None = None  # share of its runnable time the generator waited
    #                                    for a free core (Linux schedstat)


@dataclass(frozen=True)
class RunData:
    """Everything one load run measured, as gathered by lab/load/generator.py."""

    settings: RunSettings
    servers: tuple[str, ...]  # the web servers DNS hands out: web1, web2, web3
    visits: Mapping[str, Any]  # visits.json as loadtests/locustfile.py wrote it
    cpu: CpuSamples | None
    wall_s: float  # from starting the load generator until it had stopped
    started: str  # ISO 8601, UTC
    warm: Mapping[str, str] = field(default_factory=dict)  # resolver -> server it held first


@dataclass(frozen=True)
class ServerFigures:
    """One web server's part of a run."""

    name: str
    requests: int  # requests visitors sent it (where DNS pointed them)
    dns_answers: int  # DNS answers that named it first (sticky: visitors sent to it)
    failures: int
    share: float
    deviation_sd: float  # (requests - N/k) in binomial standard deviations
    pages: dict[str, int]
    mean_ms: float | None
    cpu_s: float | None  # CPU seconds its container used during the run
    cpu_share: float | None
    down: bool


@dataclass(frozen=True)
class LoadgenFigures:
    """How busy the load generator was: is it, not the cluster, the limit?"""

    container_mean_percent: float | None  # of one core, over the run (engine counters)
    container_peak_percent: float | None  # busiest 1 s interval after start-up
    locust_peak_percent: float | None  # Locust's own reading of its process
    locust_cpu_warning: bool
    machine_busy_percent: float | None  # all cores of the machine, from /proc/stat
    waiting_percent: float | None  # of its runnable time, waiting for a free core
    bottleneck: bool
    verdict: str


@dataclass(frozen=True)
class RunSummary:
    """The figures of one run, ready to render."""

    settings: RunSettings
    started: str
    wall_s: float
    servers: tuple[ServerFigures, ...]
    total: int  # HTTP requests counted per server
    failures: int
    locust_total: int  # Locust's own count of HTTP requests (all GET entries)
    locust_failures: int
    dns_lookups: int
    dns_failures: int
    dns_first: dict[str, int]  # first address of each DNS answer -> times
    served_by_mismatch: int
    chi: ChiSquare | None
    even_split: bool | None  # chi-square p >= 0.05
    timeline: tuple[tuple[int, dict[str, int]], ...]  # second -> requests per server
    loadgen: LoadgenFigures
    cpu_source: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    units: UnitFigures | None = None  # visitor- and resolver-level figures (lab.load.units)

    @property
    def counts_add_up(self) -> bool:
        return self.total == self.locust_total

    @property
    def rps(self) -> float:
        return self.total / self.settings.duration_s


def _cpu_delta_s(samples: CpuSamples | None, name: str) -> float | None:
    if samples is None or name not in samples.usage_ns:
        return None
    known = [v for v in samples.usage_ns[name] if v is not None]
    if len(known) < 2:
        return None
    return (known[-1] - known[0]) / 1e9


def _interval_percents(samples: CpuSamples, name: str) -> list[float]:
    """CPU of a container per interval between readings, in % of one core."""
    out: list[float] = []
    pts = [(t, v) for t, v in zip(samples.times, samples.usage_ns.get(name, ()), strict=False)
           if v is not None]
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if t1 > t0:
            out.append(100.0 * (v1 - v0) / 1e9 / (t1 - t0))
    return out


def loadgen_figures(samples: CpuSamples | None, locust_cpu: Sequence[float],
                    locust_warning: bool, container: str = "loadgen") -> LoadgenFigures:
    """Say whether the load generator (one Locust process: one core) was the limit."""
    mean = peak = None
    if samples is not None:
        pts = [(t, v) for t, v in zip(samples.times, samples.usage_ns.get(container, ()),
                                      strict=False) if v is not None]
        if len(pts) >= 2 and pts[-1][0] > pts[0][0]:
            mean = 100.0 * (pts[-1][1] - pts[0][1]) / 1e9 / (pts[-1][0] - pts[0][0])
        steady = _interval_percents(samples, container)[1:]  # the first is Python starting
        peak = max(steady) if steady else None
    locust_peak = max(locust_cpu) if locust_cpu else None
    busy = LOADGEN_BUSY_PERCENT
    reasons = []
    if locust_warning:
        reasons.append("Locust warned that its CPU went above 90 %")
    if mean is not None and mean >= busy:
        reasons.append(f"the loadgen container used {mean:.0f} % of a core on average")
    elif locust_cpu and sorted(locust_cpu)[len(locust_cpu) // 2] >= busy:
        reasons.append("Locust's own CPU reading was above 90 % most of the run")
    machine = samples.machine_busy * 100 if samples and samples.machine_busy is not None else None
    if reasons:
        verdict = ("The LOAD GENERATOR was the bottleneck, not the cluster: "
                   + "; ".join(reasons) + ". Rates are the generator's limit; shares still "
                   "count, but use fewer users or a faster generator for cluster figures.")
    else:
        shown = f"{mean:.0f} % of a core on average" if mean is not None else "below 90 %"
        verdict = f"The load generator was not the bottleneck ({shown})."
    if machine is not None and machine >= busy:
        verdict += (f" The machine's cores were {machine:.0f} % busy: the cluster, the load "
                    "generator and anything else running shared them, so response times "
                    "and CPU figures include that contention.")
    wait = samples.loadgen_wait * 100 if samples and samples.loadgen_wait is not None else None
    return LoadgenFigures(mean, peak, locust_peak, locust_warning, machine, wait, bool(reasons),
                          verdict)


def summarize(run: RunData) -> RunSummary:
    """The figures of one run: per-server requests and shares, the chi-square
    test against an even split, CPU beside requests, the split over time."""
    v = run.visits
    per_server: dict[str, int] = {s: 0 for s in run.servers}
    fails: dict[str, int] = {s: 0 for s in run.servers}
    pages: dict[str, dict[str, int]] = {s: {} for s in run.servers}
    seconds: dict[int, dict[str, int]] = {}
    notes: list[str] = []
    for second, server, page, outcome, n in v.get("rows", []):
        if server not in per_server:  # an address that is not a web server of the lab
            per_server[server], fails[server], pages[server] = 0, 0, {}
            notes.append(f"requests went to {server}, not a web server of the lab")
        per_server[server] += n
        pages[server][page] = pages[server].get(page, 0) + n
        if outcome != "ok":
            fails[server] += n
        seconds.setdefault(int(second), {s: 0 for s in run.servers})
        seconds[int(second)][server] = seconds[int(second)].get(server, 0) + n
    latency: dict[str, float] = {}
    for server, _page, ms in v.get("latency_ms", []):
        latency[server] = latency.get(server, 0.0) + float(ms)
    total = sum(per_server.values())
    k = len(per_server)
    share = shares(per_server)
    sd = binomial_sd(total, 1.0 / k) if k else 0.0
    names = {str(a): str(n) for a, n in (v.get("web_hosts") or {}).items()}
    answers: dict[str, int] = {}
    for address, n in (v.get("dns_first_address") or {}).items():
        answers[names.get(address, address)] = answers.get(names.get(address, address), 0) + n
    cpu = {s: _cpu_delta_s(run.cpu, s) for s in per_server}
    cpu_known = {s: c for s, c in cpu.items() if c is not None}
    cpu_total = sum(cpu_known.values())
    figures = tuple(
        ServerFigures(
            name=s,
            requests=n,
            dns_answers=answers.get(s, 0),
            failures=fails[s],
            share=share[s],
            deviation_sd=((n - total / k) / sd) if sd else 0.0,
            pages=dict(sorted(pages[s].items())),
            mean_ms=(latency[s] / n) if n and s in latency else None,
            cpu_s=cpu[s],
            cpu_share=(cpu_known[s] / cpu_total) if s in cpu_known and cpu_total > 0 else None,
            down=s in run.settings.down,
        )
        for s, n in per_server.items()
    )
    chi = chi_square(list(per_server.values())) if total and k >= 2 else None
    locust_total = locust_failures = dns = dns_failed = 0
    for method, _name, n, failed in v.get("locust_stats", []):
        if method == "DNS":
            dns, dns_failed = dns + n, dns_failed + failed
        else:
            locust_total, locust_failures = locust_total + n, locust_failures + failed
    mismatch = int(v.get("served_by_mismatch", 0))
    if mismatch:
        notes.append(f"{mismatch} answers named another server in X-Served-By than the "
                     "address connected to")
    if total != locust_total:
        notes.append(f"per-server counts ({total}) differ from Locust's total ({locust_total})")
    timeline = tuple(sorted(seconds.items()))
    return RunSummary(
        settings=run.settings,
        started=run.started,
        wall_s=run.wall_s,
        servers=figures,
        total=total,
        failures=sum(fails.values()),
        locust_total=locust_total,
        locust_failures=locust_failures,
        dns_lookups=dns,
        dns_failures=dns_failed,
        dns_first=dict(sorted(v.get("dns_first_address", {}).items())),
        served_by_mismatch=mismatch,
        chi=chi,
        even_split=(chi.p_value >= 0.05) if chi else None,
        timeline=timeline,
        loadgen=loadgen_figures(run.cpu, v.get("locust_cpu_percent", []),
                                bool(v.get("locust_cpu_warning"))),
        cpu_source=run.cpu.source if run.cpu else "not measured",
        notes=tuple(notes),
        units=unit_figures(v, {s: per_server[s] for s in run.servers}, timeline, run.warm),
    )


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """The summary as plain JSON data (report.json)."""
    doc = asdict(summary)
    doc["counts_add_up"] = summary.counts_add_up
    doc["requests_per_second"] = round(summary.rps, 2)
    doc["settings"]["label"] = summary.settings.label
    doc["timeline"] = [{"second": s, **counts} for s, counts in summary.timeline]
    return doc
