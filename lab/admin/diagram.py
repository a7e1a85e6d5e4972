"""Draw the lab's machines from the topology model (docs/topology.png).

The picture is made from the same data the driver uses, so it cannot drift
from the lab: `foolab diagram` renders it again (needs matplotlib, `.[dev]`).
"""

from __future__ import annotations

from pathlib import Path

from lab.model.topology import Role, Topology

# Where each machine sits: column, row (row 0 at the top).
_PLACES = {
    "ns1": (0.6, 2.0), "ns2": (0.6, 1.0),
    "web1": (2.4, 2.6), "web2": (2.4, 1.5), "web3": (2.4, 0.4),
    "db1": (4.3, 2.0), "db2": (4.3, 0.8),
}
_COLOURS = {Role.DNS: "#cfe2f3", Role.WEB: "#d9ead3", Role.DB: "#fce5cd"}


def render(topo: Topology, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9, 4.6), dpi=110)
    ax.set_xlim(-0.2, 5.2)
    ax.set_ylim(-0.3, 3.6)
    ax.axis("off")
    ax.set_title(f"foo.com cluster lab: seven machines on {topo.subnet} ",
                 fontsize=11)

    def arrow(a: str, b: str, label: str, colour: str = "#444", bend: float = 0.0) -> None:
        (x1, y1), (x2, y2) = _PLACES[a], _PLACES[b]
        vertical = x1 == x2
        start = (x1 - 0.45 * bend, y1 - 0.22) if vertical else (x1 + 0.45, y1)
        end = (x2 - 0.45 * bend, y2 + 0.22) if vertical else (x2 - 0.45, y2)
        ax.annotate("", xy=end, xytext=start,
                    arrowprops={"arrowstyle": "->", "color": colour,
                                "connectionstyle": f"arc3,rad={bend}"})
        if vertical:
            ax.text(x1 + 0.05 - bend * 1.3, (y1 + y2) / 2, label, fontsize=7,
                    ha="right" if bend else "left", va="center", color=colour)
        else:
            ax.text((x1 + x2) / 2, (y1 + y2) / 2 + 0.08, label, fontsize=7, ha="center",
                    color=colour)

    arrow("ns1", "ns2", "AXFR + NOTIFY")
    arrow("web1", "web2", "rsync over ssh\nevery minute", colour="#38761d")
    arrow("web1", "web3", "", colour="#38761d", bend=0.5)
    arrow("db1", "db2", "binlog\nreplication", colour="#b45f06")
    for web in ("web1", "web2", "web3"):
        reader = topo.read_server(web)
        arrow(web, reader, f"reads {reader}", colour="#3d85c6")
    for h in topo.hosts:
        if h.name not in _PLACES:  # the optional balancer is not the article's
            continue
        x, y = _PLACES[h.name]
        ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.22), 0.9, 0.44,
                                    boxstyle="round,pad=0.03", fc=_COLOURS[h.role], ec="#333"))
        ax.text(x, y + 0.06, h.name, ha="center", fontsize=10, weight="bold")
        ax.text(x, y - 0.12, h.address, ha="center", fontsize=8)
        ax.text(x, y - 0.34, h.duty, ha="center", fontsize=6.5, color="#555")
    ax.text(0.6, 3.2, "visitors ask ns1/ns2 for www.foo.com:\nthree A records, in turn",
            ha="center", fontsize=8)
    ax.text(2.4, 3.2, "content edited on web1 only;\nall writes go to db1",
            ha="center", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
