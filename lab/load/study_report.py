"""The load study's reports in Markdown: one run (report.md) and several
side by side (compare.md, compare.json), and the sentences the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from lab.load.settings import MODE_MEANING, ORDERS, POPULATIONS, ZONE_TTL_S
from lab.load.summary import RunSummary


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage ('-' when unknown)."""
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def fmt_num(x: float | None, fmt: str = ".1f") -> str:
    """A number in `fmt` ('-' when unknown)."""
    return "-" if x is None else format(x, fmt)


def fmt_p(p: float) -> str:
    """A p-value: three digits, or scientific below 0.001."""
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
            f"p = {fmt_p(chi.p_value)}: {verdict}.")


RESOLVER_NOTE = (
    "Behind caching resolvers the units are the resolvers, not the requests: every "
    "visitor of a resolver goes where its cached answer points, so a request-level "
    "chi-square does not apply. The figures that do: the busiest/quietest share ratio, "
    "and where each resolver's visitors went."
)


def unit_lines(summary: RunSummary) -> list[str]:
    """Visitor- and resolver-level figures (lab.load.units), as Markdown."""
    u, st = summary.units, summary.settings
    if u is None:
        return []
    ratio = "- (a server got no requests)" if u.share_ratio is None else f"{u.share_ratio:.2f}"
    lines = [f"Busiest/quietest server share ratio: {ratio}; per-second spread (busiest "
             f"minus quietest share, mean over seconds): {fmt_pct(u.second_spread, 0)}.",
             "", "Sessions (F9): " + (
                 f"{u.broken_sessions} of {u.session_visitors} visitors "
                 f"({fmt_pct(u.broken_share, 0)}) saw their visit counter start again."
                 if u.session_visitors else "no visitor asked the session page twice."),
             ""]
    if u.dns_answers_seen:
        lines += [f"DNS rotation: of {u.dns_answers_seen} successive answers, "
                  f"{fmt_pct(u.dns_cycle, 0)} led with the next server in turn.", ""]
    if st.resolvers:
        names = [s.name for s in summary.servers]
        lines += [
            f"{st.resolvers} caching resolvers (unbound), population `{st.population}` "
            f"({POPULATIONS[st.population]}), order `{st.order}` ({ORDERS[st.order]}); "
            f"TTL of www: {st.served_ttl_s} s.", "",
            "| resolver | visitors | heavy visitors | cached first | "
            + " | ".join(names) + " |",
            "|---|---:|---:|---|" + "---:|" * len(names)]
        for r in u.resolvers:
            lines.append(f"| {r.name} ({r.address}) | {r.visitors} | {r.heavy_visitors} | "
                         f"{r.held_first or '-'} | "
                         + " | ".join(str(r.requests.get(n, 0)) for n in names) + " |")
        lines += ["", RESOLVER_NOTE, ""]
    return lines


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
            f"{fmt_pct(dns_share, 0)} of its answers; {f.failures} of its {f.requests} requests "
            f"failed ({fmt_pct(f.share, 0)} of all requests, {summary.failures} failures in all)."
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
            f"| {name} | {s.dns_answers} | {s.requests} | {fmt_pct(s.share)} | {fmt_pct(1 / k)} | "
            f"{s.deviation_sd:+.1f} SD | {s.failures} | {fmt_num(s.mean_ms, '.0f')} | "
            f"{fmt_num(s.cpu_s, '.2f')} | {fmt_pct(s.cpu_share)} |"
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
        + (f"; TTL {ZONE_TTL_S} s scaled by {st.ttl_scale:g} to {st.effective_ttl_s:.0f} s"
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
        *([CACHED_NOTE, ""] if st.cache not in ("none", "resolver") else []),
        "## Visitors, resolvers and sessions (F9, F20)",
        "",
        *unit_lines(summary),
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
                     + f" | {fmt_num(per_req)} |")
    lines += [
        "",
        "Some requests cost more than others: the CPU share of a server follows the "
        "heavy pages it got, not its count of requests. CPU time is read from "
        f"{summary.cpu_source}, before and after the run; it includes everything the "
        "container did (Apache, PHP, cron, sshd).",
        "",
        "## The load generator",
        "",
        f"- loadgen container CPU: {fmt_num(summary.loadgen.container_mean_percent, '.0f')} % "
        f"of one core on average, {fmt_num(summary.loadgen.container_peak_percent, '.0f')} % "
        "in its busiest second",
        f"- Locust's own CPU reading: peak {fmt_num(summary.loadgen.locust_peak_percent, '.0f')} %"
        f"; CPU warning: {'yes' if summary.loadgen.locust_cpu_warning else 'no'}",
        f"- machine (all cores) busy: {fmt_num(summary.loadgen.machine_busy_percent, '.0f')} %"
        f"; the generator waited for a free core {fmt_num(summary.loadgen.waiting_percent, '.0f')}"
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
        fail = f"{s.failures} ({fmt_pct(s.failures / s.total if s.total else 0.0, 0)})"
        lines.append(
            f"| {s.settings.label} | {s.total} | "
            + " | ".join(fmt_pct(by[n].share) if n in by else "-" for n in names)
            + f" | {fmt_p(s.chi.p_value) if s.chi else '-'} | {fail} | "
            + " | ".join(fmt_pct(by[n].cpu_share) if n in by else "-" for n in names)
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
        f"zone's {ZONE_TTL_S} s by {first.ttl_scale:g} to {first.effective_ttl_s:.0f} s.",
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
