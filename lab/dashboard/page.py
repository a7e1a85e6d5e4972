"""The dashboard's page: HTML with the hosts drawn as SVG from the topology
model, one row per role (name servers, balancer, web servers, databases).

Every host is a `<g data-host="NAME" data-state="...">`; the script
(static/dashboard.js) sets data-state and the texts from each pushed
document, the style sheet colours by data-state. No asset comes from
anywhere but this package.
"""

from __future__ import annotations

from html import escape

from lab.drills import faults, runbooks
from lab.model.topology import Role, Topology

WIDTH = 960
BOX_W, BOX_H = 220, 92
ROWS = (Role.DNS, Role.LB, Role.WEB, Role.DB)  # top to bottom; a role with no host: no row
ROW_STEP = 128


def positions(topo: Topology) -> dict[str, tuple[int, int]]:
    """Top-left corner of each host's box: hosts of one role side by side,
    centred on their row."""
    found: dict[str, tuple[int, int]] = {}
    rows = [topo.by_role(role) for role in ROWS if topo.by_role(role)]
    for r, hosts in enumerate(rows):
        gap = 50
        total = len(hosts) * BOX_W + (len(hosts) - 1) * gap
        x0 = (WIDTH - total) // 2
        for i, h in enumerate(hosts):
            found[h.name] = (x0 + i * (BOX_W + gap), 12 + r * ROW_STEP)
    return found


def height(topo: Topology) -> int:
    return 12 + max(y for _, y in positions(topo).values()) + BOX_H + 8


def svg(topo: Topology) -> str:
    """The cluster as SVG: a box per host with its name, role and address,
    a line for its state (and fault) and one for its facts."""
    parts = [f'<svg id="cluster" viewBox="0 0 {WIDTH} {height(topo)}" role="img" '
             f'aria-label="the lab\'s hosts" xmlns="http://www.w3.org/2000/svg">',
             '<g id="links"></g>']
    where = positions(topo)
    for h in topo.hosts:
        x, y = where[h.name]
        name = escape(h.name)
        parts.append(
            f'<g class="host" data-host="{name}" data-role="{h.role.value}" data-state="stopped"'
            f' data-x="{x}" data-y="{y}" transform="translate({x},{y})">'
            f'<title>{escape(h.duty)}</title>'
            f'<rect width="{BOX_W}" height="{BOX_H}" rx="10"/>'
            f'<text class="name" x="12" y="26">{name}</text>'
            f'<text class="addr" x="{BOX_W - 12}" y="26" text-anchor="end">'
            f'{escape(h.address)}</text>'
            f'<text class="role" x="12" y="46">{escape(h.duty[:32])}</text>'
            f'<text class="state" x="12" y="66">stopped</text>'
            f'<text class="facts" x="12" y="84"></text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _control(topo: Topology) -> str:
    kinds = "".join(f'<option value="{k}">{k}</option>' for k in faults.KINDS)
    hosts = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in topo.names)
    books = "".join(f'<option value="{b}">{b}</option>' for b in sorted(runbooks.RUNBOOKS))
    return f"""<section id="control" class="panel"><h2>Control</h2>
<form id="fault-form">fault <select name="kind">{kinds}</select> on
<select name="host">{hosts}</select> amount <input name="amount" type="number" value="50"
 min="0" step="any"> <button type="submit">inject</button>
<button type="button" id="heal">heal all</button></form>
<form id="runbook-form">runbook <select name="name">{books}</select>
<button type="submit">run</button></form>
<p id="control-result" aria-live="polite"></p></section>"""


def html(topo: Topology, project: str, control: bool) -> str:
    """The whole page; the script fills it from /api/events."""
    webs = "".join(f'<tr data-web="{w}"><th>{w}</th><td class="reads">?</td>'
                   f'<td class="writes">?</td><td class="rps">-</td></tr>' for w in topo.webs)
    dns = "".join(f'<tr data-ns="{escape(h.name)}"><th>{escape(h.name)}</th>'
                  f'<td class="www">?</td><td class="serial">?</td></tr>'
                  for h in topo.by_role(Role.DNS))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>foo.com lab: {escape(project)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="static/dashboard.css">
</head><body data-control="{'on' if control else 'off'}" data-connected="no" data-up="unknown">
<header><h1>foo.com cluster lab <small>{escape(project)}, {escape(topo.subnet)}</small></h1>
<p id="banner">connecting...</p></header>
<main>
<section id="hosts" class="panel wide">{svg(topo)}
<p class="legend"><span class="k healthy">healthy</span> <span class="k unhealthy">unhealthy</span>
<span class="k stopped">stopped</span> <span class="k faulted">faulted</span></p></section>
<section id="replication" class="panel"><h2>Replication</h2>
<table><tbody id="replicas"><tr><td>no replica seen</td></tr></tbody></table>
<p>binary log: <span id="binlog">?</span></p></section>
<section id="dns" class="panel"><h2>DNS: www.foo.com</h2>
<table><thead><tr><th></th><th>hands out</th><th>serial</th></tr></thead>
<tbody>{dns}</tbody></table></section>
<section id="web" class="panel"><h2>Web servers</h2>
<table><thead><tr><th></th><th>reads</th><th>writes</th><th>req/s</th></tr></thead>
<tbody>{webs}</tbody></table></section>
<section id="faults" class="panel"><h2>Faults now</h2><ul id="fault-list"></ul></section>
{_control(topo) if control else ""}
<section id="timeline" class="panel wide"><h2>Timeline</h2>
<svg id="strip" viewBox="0 0 {WIDTH} 60" preserveAspectRatio="none"
 xmlns="http://www.w3.org/2000/svg"></svg>
<ol id="events" reversed></ol></section>
</main>
<script src="static/dashboard.js"></script>
</body></html>"""
