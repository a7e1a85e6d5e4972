"""The load generator's ceiling benchmark: Locust beside wrk against one
web server, round by round; its verdict and its report (ceiling.md).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from lab.load.stats import median
from lab.load.study_report import fmt_num, fmt_pct
from lab.model.article import WWW


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
                        f"{t.rps:.0f} | {fmt_num(t.loadgen_cpu_percent, '.0f')} % | "
                        f"{fmt_num(t.per_cpu_second, '.0f')} | "
                        f"{fmt_pct(t.cpu_wait, 0)} | "
                        f"{fmt_num(t.server_cpu_percent, '.0f')} % |")
    how = ("one process" if c.processes == 1
           else f"a master with {c.processes} worker processes")
    return "\n".join([
        "# Load generator ceiling: Locust beside wrk",
        "",
        f"Both ran in the loadgen image on the lab network, in alternating rounds, against "
        f"http://{c.target}{c.page} (Host: {WWW}) with {c.connections} kept-alive "
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
