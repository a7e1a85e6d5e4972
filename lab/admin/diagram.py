"""Draw the lab's machines from the topology model (docs/topology.png).

The picture is made from the same data the driver uses, so it cannot drift
from the lab: `foolab diagram` renders it again (needs matplotlib, `.[dev]`).
"""

from __future__ import annotations

from pathlib import Path

from lab.model.topology import Role, Topology

# Where each machine sits: a column per role, then heights in the role's
# order (ns1 above ns2, web1 above web2 and web3, db1 above db2).
_COLUMNS = {Role.DNS: 0.6, Role.WEB: 2.4, Role.DB: 4.3}
_HEIGHTS = {Role.DNS: (2.0, 1.0), Role.WEB: (2.6, 1.5, 0.4), Role.DB: (2.0, 0.8)}
_COLOURS = {Role.DNS: "#cfe2f3", Role.WEB: "#d9ead3", Role.DB: "#fce5cd"}


def places(topo: Topology) -> dict[str, tuple[float, float]]:
    """Each of the article's machines and where it sits (x, y)."""
    return {h.name: (x, y) for role, x in _COLUMNS.items()
            for h, y in zip(topo.by_role(role), _HEIGHTS[role], strict=True)}


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

    spot = places(topo)

    def arrow(a: str, b: str, label: str, colour: str = "#444", bend: float = 0.0) -> None:
        (x1, y1), (x2, y2) = spot[a], spot[b]
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

    arrow(topo.primary_dns, topo.secondary_dns, "AXFR + NOTIFY")
    near, *far = topo.content_targets  # the label on the first push, the others bend round
    arrow(topo.content_source, near, "rsync over ssh\nevery minute", colour="#38761d")
    for web in far:
        arrow(topo.content_source, web, "", colour="#38761d", bend=0.5)
    arrow(topo.master, topo.replica, "binlog\nreplication", colour="#b45f06")
    for web in topo.webs:
        reader = topo.read_server(web)
        arrow(web, reader, f"reads {reader}", colour="#3d85c6")
    for h in topo.hosts:
        if h.name not in spot:  # the optional balancer is not the article's
            continue
        x, y = spot[h.name]
        ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.22), 0.9, 0.44,
                                    boxstyle="round,pad=0.03", fc=_COLOURS[h.role], ec="#333"))
        ax.text(x, y + 0.06, h.name, ha="center", fontsize=10, weight="bold")
        ax.text(x, y - 0.12, h.address, ha="center", fontsize=8)
        ax.text(x, y - 0.34, h.duty, ha="center", fontsize=6.5, color="#555")
    ax.text(0.6, 3.2, f"visitors ask {topo.primary_dns}/{topo.secondary_dns} for "
            "www.foo.com:\nthree A records, in turn", ha="center", fontsize=8)
    ax.text(2.4, 3.2, f"content edited on {topo.content_source} only;\nall writes go to "
            f"{topo.master}", ha="center", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
