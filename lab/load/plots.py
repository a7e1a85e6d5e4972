"""The load study's figures (PNG, matplotlib when installed): the split of
one run and the comparison of runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.load.stats import binomial_sd
from lab.load.study_report import fmt_p
from lab.load.summary import RunSummary


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
    p = f", p = {fmt_p(summary.chi.p_value)}" if summary.chi else ""
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
    widths = [max(6.5, 1.5 * len(g)) for g in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(sum(widths), 5.0), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
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
        many = len(group) > 4
        ax.set_xticks(range(len(group)), [s.settings.label for s in group], fontsize=8,
                      rotation=20 if many else 0, ha="right" if many else "center")
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
