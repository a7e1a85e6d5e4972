"""The load study's runs through a fault (`make load-report`, issue 23):
which faults, their figures as plain data for docs/load-study.json, and
their sections of docs/load-study.md, written from that data alone, with
why every web server slowed after a promotion (the run with Apache's
keep-alive on beside the one without).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lab.load.during import DuringRun
from lab.load.phases import AFTERMATH_S, ALL, RECOVERED, PhaseRow, phase_table


@dataclass(frozen=True)
class Through:
    """A run of visitors through a fault and its recovery (lab/load/during.py)."""

    key: str  # its folder, figure and entry in the study's data
    during: str  # --during NAME
    title: str
    keep_alive: bool = False  # Apache's keep-alive on, as before issue 23
    why: str = ""  # what to read in its figures


DURING_VISITORS = 30  # as `foolab load`: with 8, issue 23's dip did not show
DURING_S = 45  # warm-up, fault, recovery, the aftermath and some steady seconds

THROUGH = (
    Through("web-down", "web-down", "web2 stopped and started",
            why="DNS kept handing out web2's address, so its share stays while its "
                "requests fail."),
    Through("replica-cut", "replica-cut",
            "db2 cut off the network, healed, replication checked (check-replication)",
            why="web2 and web3 read from db2: their reads fail while it is cut off."),
    Through("master-killed", "master-killed",
            "db1 killed, db2 promoted (promote-replica), web servers pointed at it",
            why="Writes fail from the kill until the promotion; web1 reads db1, so its "
                "reads fail too."),
    Through("master-killed-keep-alive", "master-killed",
            "the same with Apache's keep-alive on, as the web servers had it before "
            "issue 23", keep_alive=True),
)


def during_row(through: Through, run: DuringRun) -> dict[str, Any]:
    """One run through a fault as plain data (docs/load-study.json)."""
    from lab.load.timeline import aftermath_figures, shares_by_stretch

    s = run.summary
    return {"key": through.key, "during": through.during, "title": through.title,
            "why": through.why, "keep_alive": through.keep_alive,
            "visitors": s.settings.users, "seconds": s.settings.duration_s,
            "error_window": run.error_window, "failures": s.failures, "requests": s.total,
            "failures_per_server": {f.name: f.failures for f in s.servers},
            "phases": [{"name": p.name, "kind": p.kind, "start_s": p.start_s,
                        "end_s": p.end_s} for p in run.phases], "note": run.note,
            "shares": shares_by_stretch(run),
            "phase_table": [{k: round(v, 2) if isinstance(v, float) else v
                             for k, v in asdict(r).items()} for r in run.phase_rows],
            "aftermath": aftermath_figures(run)}


def during_part(throughs: Sequence[dict[str, Any]], figures: Sequence[str]) -> list[str]:
    """The study's section on runs through a fault."""
    if not throughs:
        return []
    lines = ["## Visitors through a fault and its recovery (`foolab load --during`)", "",
             f"{throughs[0]['visitors']} visitors (no DNS cache) for "
             f"{throughs[0]['seconds']} s each; the fault begins once they have settled. "
             "Phases: before the fault, the fault, the recovery (until the last step "
             f"that ran a command), the aftermath (the {AFTERMATH_S:.0f} s after it, a "
             "runbook's closing checks included) and the steady rest of the run; each "
             "request counts in the phase in which it was sent. In flight: requests "
             "sent and not yet answered, mid-second.", ""]
    for d in throughs:
        lines += during_section(d, figures)
    return lines + cause_section(throughs)


def during_section(d: dict[str, Any], figures: Sequence[str]) -> list[str]:
    """One run through a fault: errors, phases, its phase table, the aftermath."""
    from lab.load.timeline import aftermath_text

    w = d["error_window"]
    table_rows = [PhaseRow(**r) for r in d["phase_table"]]
    picture = f"load-study/{d['key']}.png"
    return [
        f"### {d['title']}" + (" (`--during " + d["during"] + "`)"), "",
        (f"Visitors saw errors from second {w[0]} to {w[1]} ({w[1] - w[0] + 1} s); "
         if w else "Visitors saw no error; ")
        + f"{d['failures']} of {d['requests']} requests failed, "
        + ", ".join(f"{k} {v}" for k, v in d["failures_per_server"].items())
        + ". " + (d["why"] + " " if d["why"] else "")
        + "Steps: " + "; ".join(f"{p['name']} {p['start_s']:.1f}-{p['end_s']:.1f} s"
                                for p in d["phases"]) + "."
        + (f" Note: {d['note']}." if d["note"] else ""),
        "",
        *phase_table([r for r in table_rows if r.server == ALL]), "",
        "Per web server: " + "; ".join(
            f"{r.phase} {r.server} {'-' if r.per_s is None else f'{r.per_s:.1f}'}/s"
            for r in table_rows if r.server != ALL and r.phase in ("recovery", "aftermath"))
        + ".", "",
        *aftermath_text(d["aftermath"]), "",
        *([f"![{d['key']}]({picture})", ""] if picture in figures else []),
    ]


def cause_section(throughs: Sequence[dict[str, Any]]) -> list[str]:
    """Issue 23: why every web server slowed after the promotion, from the
    promotion run with keep-alive on beside the one without."""
    by = {d["key"]: d for d in throughs}
    on, off = by.get("master-killed-keep-alive"), by.get("master-killed")
    if on is None or off is None or on["aftermath"] is None or off["aftermath"] is None:
        return []

    def rate(d: dict[str, Any], phase: str) -> float:
        r = next(x for x in d["phase_table"] if x["phase"] == phase and x["server"] == ALL)
        return float(r["per_s"] or 0.0)

    def flight(x: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in x.items())

    def figures(d: dict[str, Any]) -> str:
        a = d["aftermath"]
        pace = a["pace_per_s"]
        return (f"requests/s before the fault {rate(d, 'before'):.1f} "
                f"({100 * rate(d, 'before') / pace:.0f} % of the visitors' pace of "
                f"{pace:.1f}), in the {AFTERMATH_S:.0f} s after the promotion's last step "
                f"{a['per_s']:.1f} ({100 * a['pace_share']:.0f} %), in the rest of the run "
                f"{rate(d, 'steady'):.1f} ({100 * rate(d, 'steady') / pace:.0f} %); p50 in the "
                f"aftermath {a['p50_ms'] or 0:.0f} ms; most requests in flight at once per "
                f"server before the fault {flight(a['in_flight_before'])}, after the "
                f"promotion {flight(a['in_flight_after'])}")

    return [
        "## Why every web server slowed after a promotion (issue 23)", "",
        "After db2's promotion every web server's requests per second fell for some "
        "seconds, web2 and web3 too, which read db2 all along. The cause was Apache: with "
        "prefork each connection is served by a whole process (mod_php), and with "
        "keep-alive each visitor kept a connection open to every web server, idle between "
        "its requests, holding a process, of which each server has a fixed number "
        "(MaxRequestWorkers); the others queued. The promotion points the web servers at "
        "db2 with a graceful reload each (lab/hosts/apache.py), which closes every "
        "connection at once, and the visitors come back together, as they do when they "
        "arrive: requests queue while the process pool is built again. A visitor waiting "
        "on one server sends nothing to the others, so all three slow down together. The "
        "web servers run without keep-alive since "
        "(images/web/rootfs/etc/apache2/mods-available/mpm_prefork.conf): a process is "
        "free again as soon as its answer is sent.", "",
        f"The same promotion, {on['visitors']} visitors each. With keep-alive on: "
        f"{figures(on)}. Without (as the lab is now): {figures(off)}. The level just "
        "before the fault is no yardstick when the lab never settled from the visitors' "
        "arrival, so `scenarios/test_load_during.py` holds the aftermath to "
        f"{100 * RECOVERED:.0f} % of that level and of the visitors' pace.", "",
    ]
