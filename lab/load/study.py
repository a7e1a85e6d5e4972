"""The load-distribution study (F3, F20, F21): from measurements to a report.

How evenly does round-robin DNS share the work? lab/loadgen.py runs Locust
in the lab and reads the engine's CPU counters; this module turns what was
measured into figures (shares, a chi-square test against an even split,
CPU share beside request share, the split over time) and renders them as
Markdown, JSON and PNG. No Docker and no printing here: the same functions
serve the CLI, the scenario and the unit tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.admin.balancer import POLICIES

MODES = ("none", "ttl", "sticky")
MODE_MEANING = {
    "none": "resolve before every request (the ideal rotation)",
    "ttl": "keep the answer for its TTL (scaled down)",
    "sticky": "resolve once per visitor (a warm browser cache)",
}
ZONE_TTL_S = 86400  # the zone has no $TTL: BIND uses the SOA minimum (F2)
DEFAULT_TTL_SCALE = 8640.0  # ttl mode: the zone's day passes in 10 s
MAX_USERS = 1000
MAX_DURATION_S = 3600
LOADGEN_BUSY_PERCENT = 90.0  # Locust warns at 90 % of its core; so does the report


# --- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """One bounded load run: how many visitors, how long, how they cache DNS."""

    users: int
    duration_s: int
    cache: str = "none"
    ttl_scale: float = DEFAULT_TTL_SCALE  # ttl mode: one second stands for this many
    spawn_rate: float = 0.0  # users started per second; 0 = all within a second
    down: tuple[str, ...] = ()  # web servers stopped for this run
    balancer: str = ""  # F22: a policy = visitors go to lb (no DNS), which uses it

    def __post_init__(self) -> None:
        if self.cache not in MODES:
            raise ValueError(f"cache mode {self.cache!r}: one of {', '.join(MODES)}")
        if self.balancer and self.balancer not in POLICIES:
            raise ValueError(f"balancer policy {self.balancer!r}: one of {', '.join(POLICIES)}")
        if not 1 <= self.users <= MAX_USERS:
            raise ValueError(f"users {self.users}: between 1 and {MAX_USERS}")
        if not 1 <= self.duration_s <= MAX_DURATION_S:
            raise ValueError(f"duration {self.duration_s} s: between 1 and {MAX_DURATION_S}")
        if self.ttl_scale <= 0:
            raise ValueError("ttl scale must be positive")

    @property
    def label(self) -> str:
        """Short name of the run: the cache mode (or lb and its policy), and what was down."""
        return self._kind(" ") + "".join(f", {h} down" for h in self.down)

    @property
    def slug(self) -> str:
        return self._kind("-") + "".join(f"-{h}-down" for h in self.down)

    def _kind(self, sep: str) -> str:
        return f"lb{sep}{self.balancer}" if self.balancer else self.cache

    @property
    def effective_ttl_s(self) -> float:
        """How long a visitor keeps the zone's 86400 s answer in ttl mode."""
        return ZONE_TTL_S / self.ttl_scale

    @property
    def rate(self) -> float:
        return self.spawn_rate or float(self.users)


def parse_duration(text: str) -> int:
    """'90', '90s', '2m', '1m30s' -> seconds: the CLI's --duration, like Locust's -t."""
    m = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", text)
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"bad duration {text!r}: e.g. 60, 60s, 2m, 1m30s")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


# --- the mathematics ------------------------------------------------------------------


def shares(counts: Mapping[str, float]) -> dict[str, float]:
    """Each key's part of the total (all 0 when the total is 0)."""
    total = sum(counts.values())
    return {k: (v / total if total else 0.0) for k, v in counts.items()}


def binomial_sd(n: int, p: float) -> float:
    """Standard deviation of a count out of n when each falls in with chance p."""
    return math.sqrt(n * p * (1.0 - p))


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's goodness-of-fit test of counts against expected counts."""

    statistic: float
    df: int
    p_value: float


def chi_square(observed: Sequence[float], expected: Sequence[float] | None = None) -> ChiSquare:
    """Chi-square test of `observed` against `expected` (default: an even split).

    For k categories df = k - 1. The p-value is the chance of a statistic at
    least this large if the counts really came from the expected split."""
    k = len(observed)
    if k < 2:
        raise ValueError("a chi-square test needs at least two categories")
    total = float(sum(observed))
    exp = list(expected) if expected is not None else [total / k] * k
    if len(exp) != k or any(e <= 0 for e in exp):
        raise ValueError("expected counts must be positive, one per category")
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, exp, strict=True))
    return ChiSquare(stat, k - 1, chi2_sf(stat, k - 1))


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the chi-square distribution: P(X >= x), df degrees.

    It is the regularized upper incomplete gamma function Q(df/2, x/2)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a series below a + 1, else a continued
    fraction (both converge fast there; Numerical Recipes 6.2)."""
    log_front = -x + a * math.log(x) - math.lgamma(a)
    eps, tiny = 1e-15, 1e-300
    if x < a + 1.0:  # P(a, x) = e^-x x^a / Gamma(a) * sum x^n / (a (a+1) ... (a+n))
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * eps:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's method for the continued fraction of Q.
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return min(1.0, math.exp(log_front) * h)


# --- what a run measured --------------------------------------------------------------


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
    """Everything one load run measured, as gathered by lab/loadgen.py."""

    settings: RunSettings
    servers: tuple[str, ...]  # the web servers DNS hands out: web1, web2, web3
    visits: Mapping[str, Any]  # visits.json as loadtests/locustfile.py wrote it
    cpu: CpuSamples | None
    wall_s: float  # from starting the load generator until it had stopped
    started: str  # ISO 8601, UTC


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
        timeline=tuple(sorted(seconds.items())),
        loadgen=loadgen_figures(run.cpu, v.get("locust_cpu_percent", []),
                                bool(v.get("locust_cpu_warning"))),
        cpu_source=run.cpu.source if run.cpu else "not measured",
        notes=tuple(notes),
    )


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """The summary as plain JSON data (report.json)."""
    doc = asdict(summary)
    doc["counts_add_up"] = summary.counts_add_up
    doc["requests_per_second"] = round(summary.rps, 2)
    doc["settings"]["label"] = summary.settings.label
    doc["timeline"] = [{"second": s, **counts} for s, counts in summary.timeline]
    return doc


# --- Markdown ---------------------------------------------------------------------------


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 0.001 else f"{p:.1e}"


CACHED_NOTE = (
    "With a cached answer a visitor's requests all go to one server for a while: they "
    "are not independent draws, as the chi-square test assumes, but clumps of one "
    "visitor each. DNS still rotates fairly (the DNS answers column); what makes the "
    "split uneven is caching and visitors who ask for more or less (F20)."
)


def split_sentence(summary: RunSummary) -> str:
    """One sentence on how even the split was, for reports and the CLI."""
    chi = summary.chi
    if chi is None:
        return "No requests were counted: no split to test."
    verdict = ("consistent with an even third each" if summary.even_split
               else "NOT an even split (p < 0.05)")
    return (f"Chi-square against an even split: X2 = {chi.statistic:.2f}, df = {chi.df}, "
            f"p = {_p(chi.p_value)}: {verdict}.")


def down_sentence(summary: RunSummary) -> str:
    """What a stopped server did to a run: DNS still names it, its visitors fail."""
    parts = []
    answers = sum(f.dns_answers for f in summary.servers)
    for f in summary.servers:
        if not f.down:
            continue
        dns_share = f.dns_answers / answers if answers else 0.0
        parts.append(
            f"{summary.settings.label}: DNS still named {f.name} first in "
            f"{_pct(dns_share, 0)} of its answers; {f.failures} of its {f.requests} requests "
            f"failed ({_pct(f.share, 0)} of all requests, {summary.failures} failures in all)."
        )
        if f.share < dns_share - 0.05:
            parts.append("Its share of requests is below its share of DNS answers: its "
                         "visitors wait for the connect timeout before each failure, and "
                         "kept its address (TTL or a warm cache), so they ask less often.")
    return " ".join(parts)


def server_table(summary: RunSummary) -> list[str]:
    """The per-server table (Markdown rows)."""
    k = len(summary.servers)
    rows = ["| server | DNS answers | requests | share | ideal | deviation | failures "
            "| mean ms | CPU s | CPU share |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary.servers:
        name = f"{s.name} (down)" if s.down else s.name
        rows.append(
            f"| {name} | {s.dns_answers} | {s.requests} | {_pct(s.share)} | {_pct(1 / k)} | "
            f"{s.deviation_sd:+.1f} SD | {s.failures} | {_num(s.mean_ms, '.0f')} | "
            f"{_num(s.cpu_s, '.2f')} | {_pct(s.cpu_share)} |"
        )
    return rows


def render_markdown(summary: RunSummary, files: Sequence[str] = ()) -> str:
    """The report of one run (report.md)."""
    st = summary.settings
    lb_note = ([f"Through the balancer (F22): visitors skip DNS and go to lb, whose "
                f"HAProxy picks a server by `{st.balancer}` among those its health checks "
                "find up; each request counts for the server its X-Served-By header "
                "names (`lb`: answered by lb itself, no server).", ""] if st.balancer else [])
    lines = [
        (f"# Load distribution: through lb, policy `{st.balancer}`" if st.balancer
         else f"# Load distribution: DNS cache `{st.cache}`")
        + (f", {', '.join(st.down)} down" if st.down else ""),
        "",
        *lb_note,
        f"Started {summary.started}; {st.users} visitors for {st.duration_s} s "
        f"(wall time {summary.wall_s:.0f} s); visitors "
        + ("go to lb" if st.balancer else MODE_MEANING[st.cache])
        + (f"; TTL 86400 s scaled by {st.ttl_scale:g} to {st.effective_ttl_s:.0f} s"
           if st.cache == "ttl" else "") + ".",
        "",
        "## Requests per web server (F3, F20)",
        "",
        "DNS answers: lookups whose first address was the server (with `sticky`, one per "
        "visitor). Requests are counted where DNS sent the visitor (the address connected "
        "to); the answering server's X-Served-By header is checked against it. Deviation "
        "is in binomial standard deviations from an even third.",
        "",
        *server_table(summary),
        "",
        split_sentence(summary),
        "",
        *([CACHED_NOTE, ""] if st.cache != "none" else []),
        f"{summary.total} requests ({summary.rps:.1f}/s), {summary.failures} failed; "
        f"{summary.dns_lookups} DNS lookups ({summary.dns_failures} failed). First address "
        "of the DNS answers: "
        + (", ".join(f"{a} {n}" for a, n in summary.dns_first.items()) or "none") + ".",
        "",
        "## Pages per server and CPU (F21)",
        "",
    ]
    page_names = sorted({p for s in summary.servers for p in s.pages})
    lines += ["| server | " + " | ".join(page_names) + " | CPU ms per request |",
              "|---|" + "---:|" * (len(page_names) + 1)]
    for s in summary.servers:
        per_req = (1000 * s.cpu_s / s.requests) if s.cpu_s is not None and s.requests else None
        lines.append(f"| {s.name} | " + " | ".join(str(s.pages.get(p, 0)) for p in page_names)
                     + f" | {_num(per_req)} |")
    lines += [
        "",
        "Some requests cost more than others: the CPU share of a server follows the "
        "heavy pages it got, not its count of requests. CPU time is read from "
        f"{summary.cpu_source}, before and after the run; it includes everything the "
        "container did (Apache, PHP, cron, sshd).",
        "",
        "## The load generator",
        "",
        f"- loadgen container CPU: {_num(summary.loadgen.container_mean_percent, '.0f')} % "
        f"of one core on average, {_num(summary.loadgen.container_peak_percent, '.0f')} % "
        "in its busiest second",
        f"- Locust's own CPU reading: peak {_num(summary.loadgen.locust_peak_percent, '.0f')} %"
        f"; CPU warning: {'yes' if summary.loadgen.locust_cpu_warning else 'no'}",
        f"- machine (all cores) busy: {_num(summary.loadgen.machine_busy_percent, '.0f')} %"
        f"; the generator waited for a free core {_num(summary.loadgen.waiting_percent, '.0f')}"
        " % of the time it could have run",
        "",
        summary.loadgen.verdict,
        "",
        "## Do the counts add up?",
        "",
        f"Requests counted per server: {summary.total}; Locust's own count of HTTP "
        f"requests: {summary.locust_total} "
        + ("(equal)." if summary.counts_add_up else "(DIFFERENT).")
        + f" X-Served-By mismatches: {summary.served_by_mismatch}.",
    ]
    if summary.notes:
        lines += ["", "Notes:", *(f"- {n}" for n in summary.notes)]
    if files:
        lines += ["", "## Files", "", *(f"- `{f}`" for f in files)]
    return "\n".join(lines) + "\n"


# --- comparison of runs -----------------------------------------------------------------


def compare_dict(summaries: Sequence[RunSummary]) -> dict[str, Any]:
    """Several runs side by side as JSON data (compare.json)."""
    return {"runs": [
        {
            "label": s.settings.label,
            "cache": s.settings.cache,
            "balancer": s.settings.balancer,
            "down": list(s.settings.down),
            "users": s.settings.users,
            "duration_s": s.settings.duration_s,
            "requests": s.total,
            "failures": s.failures,
            "share": {f.name: round(f.share, 4) for f in s.servers},
            "failures_per_server": {f.name: f.failures for f in s.servers},
            "cpu_share": {f.name: None if f.cpu_share is None else round(f.cpu_share, 4)
                          for f in s.servers},
            "chi_square": None if s.chi is None else asdict(s.chi),
            "loadgen_bottleneck": s.loadgen.bottleneck,
            "wall_s": round(s.wall_s, 1),
        }
        for s in summaries
    ]}


def compare_table(summaries: Sequence[RunSummary]) -> str:
    """One Markdown row per run: shares, chi-square p, failures, CPU shares."""
    if not summaries:
        return "(no runs)"
    names = [f.name for f in summaries[0].servers]
    lines = [
        "| run | requests | " + " | ".join(f"{n} share" for n in names)
        + " | chi-square p | failures | " + " | ".join(f"{n} CPU" for n in names)
        + " | loadgen limit |",
        "|---|---:|" + "---:|" * len(names) + "---:|---:|" + "---:|" * len(names) + "---|",
    ]
    for s in summaries:
        by = {f.name: f for f in s.servers}
        fail = f"{s.failures} ({_pct(s.failures / s.total if s.total else 0.0, 0)})"
        lines.append(
            f"| {s.settings.label} | {s.total} | "
            + " | ".join(_pct(by[n].share) if n in by else "-" for n in names)
            + f" | {_p(s.chi.p_value) if s.chi else '-'} | {fail} | "
            + " | ".join(_pct(by[n].cpu_share) if n in by else "-" for n in names)
            + f" | {'YES' if s.loadgen.bottleneck else 'no'} |"
        )
    return "\n".join(lines)


def render_compare(summaries: Sequence[RunSummary], figure: str | None = None) -> str:
    """The comparison report (compare.md): one row per run, one figure."""
    if not summaries:
        return "# Load distribution compared\n\nNo runs.\n"
    first = summaries[0].settings
    lines = [
        "# Load distribution compared: three DNS caches, all up and one web server down"
        + (", and the balancer" if any(s.settings.balancer for s in summaries) else ""),
        "",
        f"Each run: {first.users} visitors for {first.duration_s} s; TTL mode scales the "
        f"zone's 86400 s by {first.ttl_scale:g} to {first.effective_ttl_s:.0f} s.",
        "",
        compare_table(summaries),
        "",
        "Shares are of the requests visitors sent to each server (where DNS pointed "
        "them); a stopped server's share is all failures, because DNS keeps handing out "
        "its address. CPU shares come from the engine's per-container counters.",
        "",
    ]
    if any(s.settings.balancer for s in summaries):
        lines += ["Rows `lb ...`: the same visitors sent to the balancer instead of DNS "
                  "(F22), with its policy; a stopped server gets nothing there, because lb's "
                  "health checks took it out, and leastconn sends less to a busy server.", ""]
    lines += [f"- {s.settings.label}: {split_sentence(s)} {s.loadgen.verdict}"
              for s in summaries]
    down_notes = [down_sentence(s) for s in summaries if s.settings.down]
    if down_notes:
        lines += ["", "With a server down:", "", *(f"- {n}" for n in down_notes)]
    if figure:
        lines += ["", f"![shares per run]({figure})"]
    return "\n".join(lines) + "\n"


# --- the ceiling benchmark --------------------------------------------------------------


@dataclass(frozen=True)
class ToolRate:
    """How fast one tool asked for the page in one round."""

    tool: str
    requests: int
    errors: int
    seconds: float
    rps: float
    loadgen_cpu_percent: float | None  # of one core, mean over the run
    server_cpu_percent: float | None  # the web server's container, mean
    cpu_warning: bool = False  # Locust warned that its CPU was above 90 %
    cpu_wait: float | None = None  # share of runnable time spent waiting for a core

    @property
    def per_cpu_second(self) -> float | None:
        """Requests per second of the generator's own CPU time: what it would
        reach with a core to itself (an estimate; the machine may be shared)."""
        cpu = self.loadgen_cpu_percent
        return self.rps / (cpu / 100.0) if cpu else None


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones); 0 for no values."""
    xs = sorted(values)
    if not xs:
        return 0.0
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


@dataclass(frozen=True)
class Ceiling:
    """Locust beside wrk against one web server, same image, same address, in
    alternating rounds (the machine's other load drifts; pairs cancel it)."""

    target: str
    page: str
    connections: int
    duration_s: int
    processes: int  # Locust processes generating load (workers), and wrk threads
    locust: tuple[ToolRate, ...]
    wrk: tuple[ToolRate, ...]

    @property
    def ratios(self) -> list[float]:
        """Locust's rate over wrk's, round by round."""
        return [lo.rps / wr.rps for lo, wr in zip(self.locust, self.wrk, strict=False) if wr.rps]

    @property
    def ratio(self) -> float:
        return median(self.ratios)

    @property
    def locust_rps(self) -> float:
        return median([t.rps for t in self.locust])

    @property
    def wrk_rps(self) -> float:
        return median([t.rps for t in self.wrk])


def parse_wrk(text: str) -> tuple[int, float, float, int]:
    """wrk's summary -> (requests, seconds, requests/s, errors)."""
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m or not rps:
        raise ValueError("no wrk summary in the output")
    seconds = float(m.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(3)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(non2xx.group(1)) if non2xx else 0
    return int(m.group(1)), seconds, float(rps.group(1)), errors


def ceiling_verdict(c: Ceiling) -> str:
    """Is Locust the limit of this study's load, and how far from wrk?"""
    ratios = c.ratios
    spread = f", rounds {min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
    text = (f"Locust reached {c.locust_rps:.0f} requests/s, wrk {c.wrk_rps:.0f}/s (medians of "
            f"{len(c.locust)} rounds) on {c.page} of one web server with {c.connections} "
            f"connections and {c.processes} process(es)/thread(s): ratio {c.ratio:.2f}"
            f"{spread}")
    text += (" - at least half of wrk's rate." if c.ratio >= 0.5
             else " - LESS than half of wrk's rate.")
    lg = median([t.loadgen_cpu_percent for t in c.locust if t.loadgen_cpu_percent is not None])
    wg = median([t.loadgen_cpu_percent for t in c.wrk if t.loadgen_cpu_percent is not None])
    if lg:
        text += (f" The generator used {lg:.0f} % of a core under Locust and {wg:.0f} % "
                 "under wrk: per request, Python costs many times what wrk's C does")
        limit = 100.0 * c.processes
        waits = [t.cpu_wait for t in c.locust if t.cpu_wait is not None]
        if lg >= 0.9 * limit:
            text += ", and Locust was CPU-bound."
        elif waits and median(waits) >= 0.2:
            text += (f"; Locust used less than {limit:.0f} % because it waited for a free "
                     f"core {100 * median(waits):.0f} % of the time it could have run: the "
                     "machine's cores were shared (other containers, other tests).")
        elif waits:
            text += (f"; Locust seldom waited for a core ({100 * median(waits):.0f} % of "
                     "its runnable time): it was waiting for the web server.")
        else:
            text += "."
    per_cpu = median([t.per_cpu_second for t in c.locust if t.per_cpu_second is not None])
    if per_cpu and c.wrk_rps:
        text += (f" Per second of its own CPU time Locust made {per_cpu:.0f} requests: with a "
                 f"core to itself it would reach about {per_cpu / c.wrk_rps:.2f} of wrk's "
                 "rate (an estimate, not a measurement).")
    if any(t.cpu_warning for t in c.locust):
        text += " Locust warned that its CPU was above 90 %."
    return text


def ceiling_dict(c: Ceiling) -> dict[str, Any]:
    doc = asdict(c)
    for key, tools in (("locust", c.locust), ("wrk", c.wrk)):
        for row, t in zip(doc[key], tools, strict=True):
            row["per_cpu_second"] = None if t.per_cpu_second is None else round(t.per_cpu_second)
    doc.update(ratio=round(c.ratio, 3), ratios=[round(r, 3) for r in c.ratios],
               locust_rps=round(c.locust_rps, 1), wrk_rps=round(c.wrk_rps, 1),
               verdict=ceiling_verdict(c))
    return doc


def render_ceiling(c: Ceiling) -> str:
    """The benchmark report (ceiling.md)."""
    rows = []
    for i, (lo, wr) in enumerate(zip(c.locust, c.wrk, strict=False), 1):
        for t in (lo, wr):
            rows.append(f"| {i} | {t.tool} | {t.requests} | {t.errors} | {t.seconds:.1f} | "
                        f"{t.rps:.0f} | {_num(t.loadgen_cpu_percent, '.0f')} % | "
                        f"{_num(t.per_cpu_second, '.0f')} | "
                        f"{_pct(t.cpu_wait, 0)} | "
                        f"{_num(t.server_cpu_percent, '.0f')} % |")
    how = ("one process" if c.processes == 1
           else f"a master with {c.processes} worker processes")
    return "\n".join([
        "# Load generator ceiling: Locust beside wrk",
        "",
        f"Both ran in the loadgen image on the lab network, in alternating rounds, against "
        f"http://{c.target}{c.page} (Host: www.foo.com) with {c.connections} kept-alive "
        f"connections, {c.duration_s} s each. Locust: FastHttpUser, no think time, {how}. "
        f"wrk: {c.processes} thread(s).",
        "",
        "| round | tool | requests | errors | seconds | requests/s | loadgen CPU "
        "| requests per CPU-second | waiting for a core | web server CPU |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"**Ratio Locust / wrk: {c.ratio:.2f}** (median of the rounds' ratios: "
        + ", ".join(f"{r:.2f}" for r in c.ratios) + ").",
        "",
        ceiling_verdict(c),
        "",
        "CPU is % of one core, mean over each run, from the engine's per-container "
        "counters; \"waiting for a core\" is the generator's time runnable but not running "
        "(Linux /proc/PID/schedstat). The load study's own runs ask for tens of requests "
        "per second, far below either ceiling.",
        "",
    ])


# --- files ---------------------------------------------------------------------------


def parse_locust_csv(text: str) -> list[dict[str, str]]:
    """Rows of Locust's *_stats.csv (Type, Name, Request Count, ...)."""
    return list(csv.DictReader(io.StringIO(text)))


def write_run_report(summary: RunSummary, folder: Path, plot: bool = True) -> list[Path]:
    """report.md, report.json and distribution.png of one run into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if plot:
        png = folder / "distribution.png"
        if plot_run(summary, png):
            written.append(png)
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    files = sorted({*present, "report.md", "report.json"})
    (folder / "report.json").write_text(json.dumps(summary_dict(summary), indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(summary, files))
    return [folder / "report.md", folder / "report.json", *written]


def write_compare_report(summaries: Sequence[RunSummary], folder: Path,
                         plot: bool = True) -> list[Path]:
    """compare.md, compare.json and compare.png into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "compare.png"
    has_png = plot and plot_compare(summaries, png)
    (folder / "compare.json").write_text(json.dumps(compare_dict(summaries), indent=2) + "\n")
    (folder / "compare.md").write_text(render_compare(summaries, png.name if has_png else None))
    return [folder / "compare.md", folder / "compare.json", *([png] if has_png else [])]


def write_ceiling_report(c: Ceiling, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ceiling.json").write_text(json.dumps(ceiling_dict(c), indent=2) + "\n")
    (folder / "ceiling.md").write_text(render_ceiling(c))
    return [folder / "ceiling.md", folder / "ceiling.json"]


# --- figures -----------------------------------------------------------------------------


def _pyplot() -> Any:
    """matplotlib's pyplot without a display, or None when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def cumulative_shares(summary: RunSummary) -> tuple[list[int], dict[str, list[float]]]:
    """Each server's share of all requests so far, second by second (F20:
    "over time it comes close to a third each")."""
    names = [s.name for s in summary.servers]
    seconds: list[int] = []
    running = {n: 0 for n in names}
    out: dict[str, list[float]] = {n: [] for n in names}
    for second, counts in summary.timeline:
        for n in names:
            running[n] += counts.get(n, 0)
        total = sum(running.values())
        seconds.append(second)
        for n in names:
            out[n].append(running[n] / total if total else 0.0)
    return seconds, out


def plot_run(summary: RunSummary, path: Path) -> bool:
    """Request share beside CPU share per server, and the cumulative split
    over time; False when matplotlib is missing."""
    plt = _pyplot()
    if plt is None:
        return False
    names = [s.name for s in summary.servers]
    k = len(names)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = range(k)
    ax1.bar([x - 0.2 for x in xs], [s.share for s in summary.servers], 0.4,
            label="requests", color="#4477aa")
    ax1.bar([x + 0.2 for x in xs], [s.cpu_share or 0.0 for s in summary.servers], 0.4,
            label="CPU time", color="#ee7733")
    ax1.bar([x - 0.2 for x in xs], [s.failures / summary.total if summary.total else 0.0
                                    for s in summary.servers], 0.4,
            label="failed requests", color="#cc3311", hatch="//")
    ax1.axhline(1 / k, color="grey", linestyle="--", linewidth=1, label="ideal third")
    if summary.total:
        band = 2 * binomial_sd(summary.total, 1 / k) / summary.total
        ax1.axhspan(1 / k - band, 1 / k + band, color="grey", alpha=0.15,
                    label="±2 SD (binomial)")
    ax1.set_xticks(list(xs), [f"{n} (down)" if s.down else n
                              for n, s in zip(names, summary.servers, strict=True)])
    ax1.set_ylabel("share")
    ax1.set_ylim(0, max(0.6, max([s.share for s in summary.servers] + [0.0]) + 0.1))
    p = f", p = {_p(summary.chi.p_value)}" if summary.chi else ""
    ax1.set_title(f"share per web server{p}")
    ax1.legend(fontsize=8)
    seconds, cum = cumulative_shares(summary)
    for n in names:
        ax2.plot(seconds, cum[n], label=n)
    ax2.axhline(1 / k, color="grey", linestyle="--", linewidth=1)
    ax2.set_xlabel("seconds into the run")
    ax2.set_ylabel("share of requests so far")
    ax2.set_ylim(0, 1)
    ax2.set_title("the split over time")
    ax2.legend(fontsize=8)
    st = summary.settings
    fig.suptitle(f"DNS cache '{st.label}': {st.users} visitors, {st.duration_s} s, "
                 f"{summary.total} requests")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_compare(summaries: Sequence[RunSummary], path: Path) -> bool:
    """One figure: request share (bars), CPU share (dots) and failures (hatched)
    per server, for each run, all-up runs left and runs with a server down right."""
    plt = _pyplot()
    if plt is None or not summaries:
        return False
    groups = [[s for s in summaries if not s.settings.down],
              [s for s in summaries if s.settings.down]]
    groups = [g for g in groups if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups), 4.5), squeeze=False)
    colors = ["#4477aa", "#228833", "#ccbb44", "#aa3377"]
    for ax, group in zip(axes[0], groups, strict=True):
        names = [f.name for f in group[0].servers]
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(group))]
            by = [next(f for f in s.servers if f.name == name) for s in group]
            ax.bar(xs, [f.share for f in by], width, color=colors[i % len(colors)],
                   label=name)
            ax.bar(xs, [f.failures / s.total if s.total else 0.0 for f, s in zip(by, group,
                                                                                  strict=True)],
                   width, color="none", edgecolor="#cc3311", hatch="//")
            ax.plot(xs, [f.cpu_share if f.cpu_share is not None else float("nan") for f in by],
                    "o", color="black", markersize=4)
        ax.axhline(1 / len(names), color="grey", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(group)), [s.settings.label for s in group], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share")
        down = group[0].settings.down
        ax.set_title("one web server down (" + ", ".join(down) + ")" if down else "all up")
        ax.plot([], [], "o", color="black", markersize=4, label="CPU share")
        ax.bar([0], [0], color="none", edgecolor="#cc3311", hatch="//", label="failed")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("How round-robin DNS shares the work, by how visitors cache the answer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
