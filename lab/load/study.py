"""`make load-report`: the load study's modes, one short run each, written
to docs/load-study.md with its plots (docs/load-study/), its data
(docs/load-study.json), and the README's load figures (between the
`load-study` markers) rewritten from the same data. No figure is typed by
hand: every one comes from a run of this code.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.admin import resolvers as res
from lab.load.during import run_during
from lab.load.generator import LoadGen
from lab.load.plots import plot_compare
from lab.load.settings import RunSettings
from lab.load.study_during import DURING_S, DURING_VISITORS, THROUGH, during_part, during_row
from lab.load.study_report import fmt_p, fmt_pct
from lab.load.summary import RunSummary, summarize
from lab.model.figures import Figure, Progress

VISITORS = 12
RUN_S = 20
SHORT_TTL_S = 5  # the short-TTL mode: caches expire several times per run
README_BEGIN = "<!-- load-study:begin (written by `make load-report`; do not edit) -->"
README_END = "<!-- load-study:end -->"


@dataclass(frozen=True)
class Mode:
    key: str
    title: str
    settings: RunSettings


def modes(users: int = VISITORS, seconds: int = RUN_S) -> tuple[Mode, ...]:
    base = RunSettings(users, seconds, "resolver", resolvers=3, order="fixed")
    return (
        Mode("none", "no cache: visitors ask ns1 before every request (baseline)",
             RunSettings(users, seconds, "none")),
        Mode("one-fixed", "1 resolver, fixed order, TTL 86400 s",
             replace(base, resolvers=1)),
        Mode("three-rotate", "3 resolvers, rotating order, TTL 86400 s",
             replace(base, order="rotate")),
        Mode("three-fixed", "3 resolvers, fixed order, TTL 86400 s", base),
        Mode("three-fixed-short", f"3 resolvers, fixed order, TTL {SHORT_TTL_S} s",
             replace(base, zone_ttl_s=SHORT_TTL_S)),
        Mode("skewed", "3 resolvers, fixed, skewed (res1: half the visitors)",
             replace(base, population="skewed")),
        Mode("by-class", "2 resolvers, fixed, heavy-page visitors behind res1 (F21)",
             replace(base, resolvers=2, population="by-class")),
    )


def row(key: str, title: str, s: RunSummary) -> dict[str, Any]:
    """One mode's figures as plain data (docs/load-study.json)."""
    u = s.units
    heavy = max(s.servers, key=lambda f: f.pages.get("/heavy.php", 0))
    return {
        "mode": key, "title": title, "label": s.settings.label,
        "visitors": s.settings.users, "seconds": s.settings.duration_s,
        "ttl_s": s.settings.served_ttl_s, "requests": s.total, "failures": s.failures,
        "share": {f.name: round(f.share, 4) for f in s.servers},
        "cpu_share": {f.name: None if f.cpu_share is None else round(f.cpu_share, 4)
                      for f in s.servers},
        "share_ratio": None if u is None or u.share_ratio is None else round(u.share_ratio, 2),
        "second_spread": None if u is None or u.second_spread is None
        else round(u.second_spread, 3),
        "broken_sessions": None if u is None else u.broken_sessions,
        "session_visitors": None if u is None else u.session_visitors,
        "dns_cycle": None if u is None or u.dns_cycle is None else round(u.dns_cycle, 3),
        "heavy_server": heavy.name, "heavy_request_share": round(heavy.share, 4),
        "heavy_cpu_share": None if heavy.cpu_share is None else round(heavy.cpu_share, 4),
        "chi_square_p": s.chi.p_value if s.chi and s.settings.cache == "none" else None,
        "resolvers": [{"name": r.name, "visitors": r.visitors, "heavy": r.heavy_visitors,
                       "cached_first": r.held_first, "requests": r.requests}
                      for r in (u.resolvers if u else ())],
        "loadgen_cpu_percent": None if s.loadgen.container_mean_percent is None
        else round(s.loadgen.container_mean_percent, 1),
        "loadgen_bottleneck": s.loadgen.bottleneck,
        "machine_busy_percent": None if s.loadgen.machine_busy_percent is None
        else round(s.loadgen.machine_busy_percent),
    }


def run_study(gen: LoadGen, folder: Path, progress: Progress,
              chosen: Sequence[Mode] | None = None) -> tuple[list[dict[str, Any]],
                                                              list[RunSummary]]:
    """Each mode once (reports in `folder`/<mode>); their rows and summaries."""
    rows, summaries = [], []
    for m in chosen or modes():
        progress(f"load study: {m.title}")
        s = summarize(gen.run_load(m.settings, folder / m.key))
        rows.append(row(m.key, m.title, s))
        summaries.append(s)
    return rows, summaries


def study(gen: LoadGen, folder: Path, docs: Path, readme: Path, progress: Progress
          ) -> tuple[list[dict[str, Any]], list[Path]]:
    """The whole study: every mode, then visitors through each fault (and
    the promotion again with keep-alive on); the files written. Resolvers
    this started are removed again."""
    from lab.load.timeline import write_during_report

    before = res.running(gen.lab)
    throughs = []
    try:
        rows, summaries = run_study(gen, folder, progress)
    finally:
        if not before and res.running(gen.lab):
            res.remove(gen.lab)
    for t in THROUGH:
        progress(f"load study: visitors through {t.title}")
        run = run_during(gen, RunSettings(DURING_VISITORS, DURING_S, "none"), t.during,
                         folder / t.key, keep_alive=t.keep_alive)
        write_during_report(run, folder / t.key)
        throughs.append(during_row(t, run))
    files = write_study(rows, summaries, throughs, docs, readme,
                        {t.key: folder / t.key / "timeline.png" for t in THROUGH})
    return rows, files


def table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The modes side by side (Markdown)."""
    names = list(rows[0]["share"]) if rows else []
    lines = ["| mode | TTL | requests | " + " | ".join(names)
             + " | max/min | per-second spread | broken sessions | heavy server: requests"
             " / CPU | loadgen CPU | machine busy |",
             "|---|---:|---:|" + "---:|" * len(names) + "---:|---:|---:|---|---:|---:|"]
    for r in rows:
        ratio = "-" if r["share_ratio"] is None else f"{r['share_ratio']:.2f}"
        broken = (f"{r['broken_sessions']} of {r['session_visitors']}"
                  if r["session_visitors"] else "-")
        heavy = (f"{r['heavy_server']}: {fmt_pct(r['heavy_request_share'], 0)} / "
                 f"{fmt_pct(r['heavy_cpu_share'], 0)}")
        lines.append(
            f"| {r['title']} | {r['ttl_s']} s | {r['requests']} | "
            + " | ".join(fmt_pct(r["share"][n], 0) for n in names)
            + f" | {ratio} | {fmt_pct(r['second_spread'], 0)} | {broken} | {heavy} | "
            f"{'-' if r['loadgen_cpu_percent'] is None else r['loadgen_cpu_percent']} %"
            + (" (LIMIT)" if r["loadgen_bottleneck"] else "") + " | "
            + ("-" if r["machine_busy_percent"] is None else f"{r['machine_busy_percent']} %")
            + " |")
    return lines


def resolver_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        if not r["resolvers"]:
            continue
        parts = []
        for x in r["resolvers"]:
            went = ", ".join(f"{w} {n}" for w, n in x["requests"].items() if n)
            parts.append(f"{x['name']} ({x['visitors']} visitors, {x['heavy']} heavy; cached "
                         f"{x['cached_first'] or '-'} first): {went or 'no requests'}")
        lines.append(f"- {r['title']}: " + "; ".join(parts))
    return lines


def render(rows: Sequence[dict[str, Any]], throughs: Sequence[dict[str, Any]], when: str,
           figures: Sequence[str]) -> str:
    none = next((r for r in rows if r["mode"] == "none"), None)
    lines = [
        "# The load study, measured (`make load-report`)",
        "",
        f"Written by `lab/load/study.py` on {when} ({platform.node()}, "
        f"{platform.machine()}); every figure below comes from that run. Each mode: "
        f"{rows[0]['visitors'] if rows else '-'} Locust visitors for "
        f"{rows[0]['seconds'] if rows else '-'} s in the lab network, three readers in four "
        "(light pages, reads, writes, the session page) and one analyst in four (mostly "
        "`/heavy.php`). Behind resolvers each visitor asks its own caching resolver "
        "(unbound, res1-resN) before every request; `fixed` is unbound's "
        "`rrset-roundrobin: no`, `rotate` is `yes`; caches are emptied and filled one "
        "after the other before each run (with `fixed`, until each holds another first "
        "address). Short TTLs are a zone edit with a new serial, undone afterwards.",
        "",
        *table(rows),
        "",
        "Shares are of requests; max/min is the busiest server's requests over the "
        "quietest's (`-`: one got none); the per-second spread is the mean, over "
        "seconds, of the busiest minus the quietest share that second; broken sessions "
        "are visitors whose PHP visit counter started again (local session files, F9); "
        "the heavy server is the one that served most `/heavy.php` (F21), its share of "
        "the requests beside its share of the web servers' CPU time (engine counters); "
        "loadgen CPU is the load generator's container in % of one core (LIMIT: it was "
        "the bottleneck), machine busy all cores of the machine, shared with other labs.",
        "",
        "Where each resolver's visitors went:",
        "",
        *resolver_lines(rows),
        "",
    ]
    if none is not None:
        lines += [
            f"Statistics: in the baseline every request is its own DNS answer, and a "
            f"chi-square test against an even split applies (p = "
            f"{fmt_p(none['chi_square_p']) if none['chi_square_p'] is not None else '-'}; "
            f"{fmt_pct(none['dns_cycle'], 0)} of successive answers led with the next "
            "server in turn). Behind resolvers requests cluster by resolver: the units "
            "are the few resolvers, so a request-level p-value does not apply and none is "
            "given; the ratios and the per-resolver lines are the figures.",
            "",
        ]
    lines += during_part(throughs, figures)
    lines += [f"![{Path(f).stem}]({f})" for f in figures if Path(f).stem not in
              {d["key"] for d in throughs}]
    return "\n".join(lines) + "\n"


def readme_block(rows: Sequence[dict[str, Any]], when: str) -> str:
    """The README's load figures: the same table, and where it comes from."""
    return "\n".join([README_BEGIN, "", *table(rows), "",
                      f"From [docs/load-study.md](docs/load-study.md), written by `make "
                      f"load-report` on {when}.", "", README_END])


def readme_block_in(text: str) -> str | None:
    """The load block in a README's text, its markers included (None if it
    has none): what write_readme replaces, and what the unit tests compare."""
    if README_BEGIN not in text or README_END not in text:
        return None
    inner = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    return README_BEGIN + inner + README_END


def write_readme(readme: Path, block: str) -> bool:
    text = readme.read_text()
    old = readme_block_in(text)
    if old is None:
        return False
    readme.write_text(text.replace(old, block, 1))
    return True


def write_study(rows: list[dict[str, Any]], summaries: Sequence[RunSummary],
                throughs: list[dict[str, Any]], docs: Path, readme: Path,
                timelines: dict[str, Path]) -> list[Path]:
    """docs/load-study.md, .json, the plots, and the README's block."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    pics = docs / "load-study"
    pics.mkdir(parents=True, exist_ok=True)
    figures = []
    if plot_compare(summaries, pics / "shares.png"):
        figures.append("load-study/shares.png")
    for key, png in timelines.items():
        if png.exists():
            (pics / f"{key}.png").write_bytes(png.read_bytes())
            figures.append(f"load-study/{key}.png")
    (docs / "load-study.json").write_text(json.dumps(
        {"written": when, "modes": rows, "during": throughs}, indent=2) + "\n")
    (docs / "load-study.md").write_text(render(rows, throughs, when, figures))
    written = [docs / "load-study.md", docs / "load-study.json", *(docs / f for f in figures)]
    if write_readme(readme, readme_block(rows, when)):
        written.append(readme)
    return written


def bench_figures(rows: Sequence[dict[str, Any]]) -> list[Figure]:
    """The study's headline figures for the bench (one run each)."""
    by = {r["mode"]: r for r in rows}
    out = []
    if "one-fixed" in by:
        out.append(Figure("load: 1 fixed resolver, busiest server's share", "%",
                          [100 * max(by["one-fixed"]["share"].values())]))
    if "skewed" in by and by["skewed"]["share_ratio"] is not None:
        out.append(Figure("load: skewed population, busiest/quietest", "x",
                          [by["skewed"]["share_ratio"]]))
    if "by-class" in by and by["by-class"]["heavy_cpu_share"] is not None:
        r = by["by-class"]
        out.append(Figure("load: heavy server CPU share minus request share", "points",
                          [100 * (r["heavy_cpu_share"] - r["heavy_request_share"])]))
    if "none" in by and by["none"]["session_visitors"]:
        r = by["none"]
        out.append(Figure("load: broken sessions, no cache, local files", "%",
                          [100 * r["broken_sessions"] / r["session_visitors"]]))
    return out
