"""The report of a run through a fault (lab/load/during.py): requests and
failures per web server per second and Locust's response times, with the
fault and each recovery step shaded and numbered (Jepsen style; the numbers
placed by lab/load/steplabels.py), and how long visitors saw errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.load.during import READ_PAGE, WRITE_PAGE, DuringRun
from lab.load.files import write_run_report
from lab.load.latency import HISTORY_FILE
from lab.load.phases import (
    AFTERMATH_S,
    RECOVERED,
    fmt_ms,
    in_flight,
    pace_per_s,
    phase_table,
    rate,
    recovered_share,
    reference,
    row_of,
)
from lab.load.plots import _pyplot
from lab.load.steplabels import (
    draw_key,
    draw_markers,
    key_height_in,
    marker_pitch_pt,
    marker_rows,
    phase_color,
    strip_height_in,
)
from lab.load.summary import summary_dict

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def per_second(run: DuringRun, server: str, outcome: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for second, srv, _page, o, n in run.rows:
        if srv == server and o == outcome:
            out[second] = out.get(second, 0) + n
    return out


def shares_by_stretch(run: DuringRun) -> dict[str, dict[str, float]]:
    """Each server's share of the requests sent before the fault, from the
    fault until the last recovery step ended, and after: how the shares moved."""
    if not run.phases:
        return {}
    start, end = run.phases[0].start_s, run.phases[-1].end_s
    names = [s.name for s in run.summary.servers]
    counts: dict[str, dict[str, int]] = {k: {n: 0 for n in names}
                                         for k in ("before", "during", "after")}
    for second, srv, _page, _o, n in run.rows:
        key = "before" if second < int(start) else "during" if second <= end else "after"
        counts[key][srv] = counts[key].get(srv, 0) + n
    return {k: {n: (c[n] / sum(c.values()) if sum(c.values()) else 0.0) for n in c}
            for k, c in counts.items()}


def during_lines(run: DuringRun) -> list[str]:
    """What visitors saw, in a few lines (CLI and report)."""
    window = run.error_window
    lines = [f"During {run.name}: {run.summary.total} requests, {run.summary.failures} failed."]
    if window is None:
        lines.append("Visitors saw no error.")
    else:
        lines.append(f"Visitors saw errors from second {window[0]} to second {window[1]} "
                     f"of the run ({window[1] - window[0] + 1} s).")
    for s in run.summary.servers:
        lines.append(f"- {s.name}: {s.requests} requests ({100 * s.share:.0f} %), "
                     f"{s.failures} failed; writes failed: "
                     f"{sum(n for _, n in run.failures(s.name, WRITE_PAGE))}, reads failed: "
                     f"{sum(n for _, n in run.failures(s.name, READ_PAGE))}")
    for stretch, share in shares_by_stretch(run).items():
        lines.append(f"- shares {stretch} (the fault and its recovery): "
                     + ", ".join(f"{n} {100 * v:.0f} %" for n, v in share.items()))
    for p in run.phases:
        lines.append(f"- {p.kind} {p.name}: {p.start_s:.1f}-{p.end_s:.1f} s")
    if run.note:
        lines.append(f"Note: {run.note}.")
    return lines


def peak_in_flight(run: DuringRun, start_s: float, end_s: float) -> dict[str, int]:
    """Per web server, the most requests in flight at the middle of a second
    from start_s to end_s."""
    last = max([int(s.sent_s) for s in run.samples] + [0])
    seconds = [x for x in range(last + 1) if start_s <= x + 0.5 < end_s]
    out = {}
    for s in run.summary.servers:
        counts = in_flight(run.samples, s.name, last)
        out[s.name] = max([counts[x] for x in seconds] + [0])
    return out


def aftermath_figures(run: DuringRun) -> dict[str, Any] | None:
    """Whether throughput came back within AFTERMATH_S of the last recovery
    step, and the figures that say why not (visitors waiting in flight), as
    plain data: the CLI's report and docs/load-study.md both write them."""
    rows, parts = run.phase_rows, run.stretches
    share = recovered_share(run.samples, parts)
    ref, before, after = reference(parts), row_of(rows, "before"), row_of(rows, "aftermath")
    if share is None or ref is None or before is None or after is None or after.per_s is None:
        return None
    pace = pace_per_s(run.summary.settings.users)
    return {
        "start_s": after.start_s, "end_s": after.end_s, "per_s": round(after.per_s, 2),
        "reference_s": round(ref.seconds, 2),
        "reference_per_s": round(rate(run.samples, ref) or 0.0, 2),
        "share": round(share, 3), "recovered": share >= RECOVERED,
        "pace_per_s": round(pace, 2), "pace_share": round(after.per_s / pace, 3),
        "p50_ms": after.p50_ms, "p99_ms": after.p99_ms,
        "before_p50_ms": before.p50_ms, "before_p99_ms": before.p99_ms,
        "in_flight_before": peak_in_flight(run, before.start_s, before.end_s),
        "in_flight_after": peak_in_flight(run, after.start_s, after.end_s + 10),
    }


def aftermath_text(a: dict[str, Any] | None) -> list[str]:
    """aftermath_figures in words."""
    if a is None:
        return ["No per-request samples or no fault noted: no aftermath figures."]
    verdict = ("back" if a["recovered"] else
               f"NOT back (under {100 * RECOVERED:.0f} %: visitors still waited)")
    return [
        f"Requests per second in the {AFTERMATH_S:.0f} s after the last recovery step "
        f"({a['start_s']:.1f}-{a['end_s']:.1f} s): {a['per_s']:.1f}, {100 * a['share']:.0f} % "
        f"of the {a['reference_per_s']:.1f} in the {a['reference_s']:.0f} s before the fault: "
        f"{verdict}; {100 * a['pace_share']:.0f} % of the visitors' own pace "
        f"({a['pace_per_s']:.1f}/s, were every answer at once). p50/p99 "
        f"{fmt_ms(a['p50_ms'])}/{fmt_ms(a['p99_ms'])} ms, against "
        f"{fmt_ms(a['before_p50_ms'])}/{fmt_ms(a['before_p99_ms'])} ms before the fault.",
        "Most requests in flight at once, per web server, before the fault: "
        + ", ".join(f"{k} {v}" for k, v in a["in_flight_before"].items())
        + f"; from the last recovery step to {AFTERMATH_S + 10:.0f} s after it: "
        + ", ".join(f"{k} {v}" for k, v in a["in_flight_after"].items()) + ".",
    ]


def aftermath_lines(run: DuringRun) -> list[str]:
    return aftermath_text(aftermath_figures(run))


def during_dict(run: DuringRun) -> dict[str, Any]:
    return {"during": run.name, "phases": [asdict(p) for p in run.phases],
            "shares": shares_by_stretch(run),
            "error_window": run.error_window, "note": run.note,
            "phase_table": [asdict(r) for r in run.phase_rows],
            "aftermath": aftermath_figures(run), "keep_alive": run.keep_alive,
            "summary": summary_dict(run.summary)}


FIG_W_IN, LEFT_IN, RIGHT_IN = 11.0, 0.9, 0.25  # the figure's width and side margins
TITLE_IN, PANEL_IN, XAXIS_IN = 0.6, 1.6, 0.65  # title; a panel; ticks and label under the last
SERVER_COLORS = ("#4477aa", "#228833", "#ee6677", "#aa3377", "#66ccee")


def column_of_axes(fig: Figure, heights_in: Sequence[float], gaps_in: Sequence[float]
                   ) -> list[Axes]:
    """Axes stacked top to bottom at fixed heights and gaps in inches, so that
    the marker strip and the key keep the room their labels were placed for."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    y = h - TITLE_IN
    out = []
    for height, gap in zip(heights_in, gaps_in, strict=True):
        y -= gap + height
        out.append(fig.add_axes((LEFT_IN / w, y / h, (w - LEFT_IN - RIGHT_IN) / w, height / h)))
    return out


def draw_requests(ax: Axes, run: DuringRun, server: str, last: int) -> None:
    """One web server's answered and failed requests per second, phases shaded."""
    ok, bad = per_second(run, server, "ok"), per_second(run, server, "fail")
    xs = list(range(last + 1))
    ax.bar(xs, [ok.get(x, 0) for x in xs], 0.9, color="#4477aa", label="answered")
    ax.bar(xs, [bad.get(x, 0) for x in xs], 0.9, bottom=[ok.get(x, 0) for x in xs],
           color="#cc3311", label="failed")
    shade_phases(ax, run)
    ax.set_ylabel(f"{server}\nreq/s")


def shade_phases(ax: Axes, run: DuringRun) -> None:
    """Each phase shaded where it lasted (at least 0.2 s, so a quick step shows)."""
    for p in run.phases:
        ax.axvspan(p.start_s, max(p.end_s, p.start_s + 0.2), color=phase_color(p), alpha=0.25)


def draw_latency(ax: Axes, run: DuringRun) -> None:
    """Locust's p50 and p99 response times, phases shaded; a log scale, so
    that a 3 s timeout and a 2 ms page both show."""
    shade_phases(ax, run)
    ax.set_ylabel("response\ntime, ms")
    if not run.latency:
        ax.text(0.5, 0.5, f"no response times: Locust's {HISTORY_FILE} was not found or "
                "has no figures of the moment", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="#555555")
        ax.set_yticks([])
        return
    xs = [p.second for p in run.latency]
    for label, ys, color in (("p50", [p.p50_ms for p in run.latency], "#4477aa"),
                             ("p99", [p.p99_ms for p in run.latency], "#cc3311")):
        ax.plot(xs, [max(y, 0.5) for y in ys], color=color, linewidth=1.2, label=label)
    ax.set_yscale("log")
    ax.set_ylim(top=100 * max(max(p.p99_ms for p in run.latency), 1.0))  # the legend above
    ax.legend(fontsize=7, loc="upper left", ncols=2, framealpha=0.9,
              title="all requests answered in the previous ~10 s (Locust; DNS lookups too)",
              title_fontsize=7)


def draw_in_flight(ax: Axes, run: DuringRun, last: int) -> None:
    """Requests each web server had sent and not yet answered, each second:
    where visitors queue, what requests per second alone do not show."""
    shade_phases(ax, run)
    ax.set_ylabel("in flight,\nrequests")
    if not run.samples:
        ax.text(0.5, 0.5, "no per-request samples in visits.json", transform=ax.transAxes,
                ha="center", va="center", fontsize=8, color="#555555")
        ax.set_yticks([])
        return
    xs = list(range(last + 1))
    peak = 1
    for i, s in enumerate(run.summary.servers):
        counts = in_flight(run.samples, s.name, last)
        peak = max([peak, *counts])
        ax.step(xs, counts, where="mid", linewidth=1.2,
                color=SERVER_COLORS[i % len(SERVER_COLORS)], label=s.name)
    ax.set_ylim(0, 1.8 * peak + 1)  # room for the legend above the lines
    ax.legend(fontsize=7, loc="upper left", ncols=len(run.summary.servers), framealpha=0.9,
              title="requests sent and not yet answered, mid-second", title_fontsize=7)


def during_figure(run: DuringRun, plt: Any) -> Figure:
    """One panel per web server: answered and failed requests per second, the
    fault shaded red and recovery steps grey; below them the response times;
    above them a numbered marker per phase, below all a key that names each
    number. Apart from saving, so that a test can measure what it drew."""
    names = [s.name for s in run.summary.servers]
    last = max([r[0] for r in run.rows] + [1])
    span = (-0.5, max([last + 0.5] + [p.end_s for p in run.phases]))
    width_pt = (FIG_W_IN - LEFT_IN - RIGHT_IN) * 72
    pitch_pt = marker_pitch_pt(len(run.phases))
    rows = marker_rows(len(run.phases), pitch_pt, width_pt - pitch_pt)
    heights = [strip_height_in(rows), *[PANEL_IN] * (len(names) + 2),
               key_height_in(len(run.phases))]
    gaps = [0.0, 0.0, *[0.2] * (len(names) + 1), XAXIS_IN]  # above each axes
    fig: Figure = plt.figure(figsize=(FIG_W_IN, TITLE_IN + sum(heights) + sum(gaps) + 0.1))
    strip, *panels, latency, flight, key = column_of_axes(fig, heights, gaps)
    for ax, name in zip(panels, names, strict=True):
        ax.sharex(strip)
        draw_requests(ax, run, name, last)
        ax.tick_params(labelbottom=False)
    latency.sharex(strip)
    draw_latency(latency, run)
    latency.tick_params(labelbottom=False)
    flight.sharex(strip)
    draw_in_flight(flight, run, last)
    strip.set_xlim(span)
    draw_markers(strip, run.phases, pitch_pt / width_pt * (span[1] - span[0]))
    draw_key(key, run.phases)
    panels[0].legend(fontsize=8, loc="upper right")
    flight.set_xlabel("second the request was sent (response times: the second they were "
                       "counted), since the visitors started")
    fig.suptitle(f"Visitors during {run.name}: requests per web server per second, "
                 "response times, requests in flight\n(red: the fault; grey: recovery steps; "
                 "numbers: the key below)",
                 fontsize=11)
    return fig


def plot_during(run: DuringRun, path: Path) -> bool:
    """timeline.png; False when matplotlib is missing."""
    plt = _pyplot()
    if plt is None:
        return False
    fig = during_figure(run, plt)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# What issue 23 found, for the reader of every report; its figures are in
# docs/load-study.md (`make load-report` runs master-killed with keep-alive on too).
CAUSE = [
    "Until issue 23 every web server's requests per second fell to about a third for "
    "some seconds after a promotion, web2 and web3 too: Apache's prefork processes "
    "were all held by the visitors' idle keep-alive connections, and the runbook's "
    "graceful reloads (pointing the web servers at the new master) closed them all at "
    "once; requests queued while the pool was built again, and every visitor waiting "
    "on one server sent nothing to the others. The web servers run without keep-alive "
    "since (images/web/rootfs/etc/apache2/mods-available/mpm_prefork.conf); the "
    "in-flight panel below shows a queue should one form again, and docs/load-study.md "
    "the same run with keep-alive put back.",
]


def write_during_report(run: DuringRun, folder: Path) -> list[Path]:
    """during.md, during.json, timeline.png, and the run's own report."""
    folder.mkdir(parents=True, exist_ok=True)
    files = write_run_report(run.summary, folder, plot=False)
    png = folder / "timeline.png"
    has_png = plot_during(run, png)
    (folder / "during.json").write_text(json.dumps(during_dict(run), indent=2) + "\n")
    title = f"# Visitors during {run.name}" + (", keep-alive on" if run.keep_alive else "")
    lines = [title, "", *during_lines(run), "",
             "## Phase by phase", "",
             "Requests counted in the phase in which they were sent; before: until the "
             f"fault; aftermath: the {AFTERMATH_S:.0f} s after the last recovery step; "
             "steady: the rest of the run. Response times of every request, failed ones "
             "too (a timeout counts what the visitor waited).", "",
             *phase_table(run.phase_rows), "",
             "## The aftermath", "", *aftermath_lines(run), "", *CAUSE, ""]
    if has_png:
        lines += [f"![timeline]({png.name})", ""]
    lines += ["The run's own report (shares, CPU, load generator): report.md.", ""]
    (folder / "during.md").write_text("\n".join(lines))
    return [folder / "during.md", folder / "during.json", *([png] if has_png else []), *files]
