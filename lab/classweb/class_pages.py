"""The class's pages as HTML: the login page, a student's page (their lab
drawn as on the dashboard, a terminal, the exercise and its Check) and the
teacher's grid. Every asset is served by this server (no CDN): the
dashboard's style sheet, xterm.js from web/node_modules, static/*.js here.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from lab.dashboard.page import svg
from lab.model.topology import Topology

HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/dashboard/dashboard.css">
<link rel="stylesheet" href="/static/classweb.css">{extra}
</head>"""


def _head(title: str, extra: str = "") -> str:
    return HEAD.format(title=escape(title), extra=extra)


def login(error: str = "") -> str:
    """Where a wrong or missing link lands: a field for the token and, after
    a wrong one, one line saying so."""
    line = f'<p id="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""{_head("foo.com lab: sign in")}<body class="login"><main class="narrow">
<h1>foo.com cluster lab</h1>
<p>Open the link your teacher gave you, or paste its last part here.</p>
{line}
<form method="post" action="/login"><input name="token" id="token" autocomplete="off"
 size="40" aria-label="token" required> <button type="submit">Sign in</button></form>
</main></body></html>"""


def student(topo: Topology, lab: str, student_name: str, brief: str, teacher: bool) -> str:
    """A student's page: their lab only. The script fills it from
    /lab/NAME/events and opens the terminal on /lab/NAME/terminal. No fault
    is listed: finding what broke is the exercise (class_watch.for_student)."""
    hosts = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in topo.names)
    back = '<a href="/teacher">class</a> · ' if teacher else ""
    xterm = ('\n<link rel="stylesheet" href="/static/xterm/css/xterm.css">')
    exercise = (f'<pre id="brief">{escape(brief)}</pre>' if brief
                else '<p id="brief">No exercise is running in your lab yet.</p>')
    return f"""{_head(f"foo.com lab {lab}", xterm)}<body data-lab="{escape(lab)}"
 data-connected="no" data-up="unknown">
<header><h1>foo.com cluster lab <small>{escape(student_name)}, lab {escape(lab)},
 {escape(topo.subnet)}</small></h1><p id="banner">connecting...</p>
<nav>{back}<form method="post" action="/logout" class="inline">
<button type="submit">sign out</button></form></nav></header>
<main>
<section id="hosts" class="panel wide">{svg(topo)}
<p class="legend"><span class="k healthy">healthy</span> <span class="k unhealthy">unhealthy</span>
<span class="k stopped">stopped</span> <span class="k faulted">faulted</span></p></section>
<section id="terminal-panel" class="panel wide"><h2>Terminal</h2>
<form id="terminal-form">host <select name="host" id="host">{hosts}</select>
<button type="submit" id="connect">open a shell</button>
<span id="terminal-state" aria-live="polite">closed</span></form>
<p id="watched" role="status" hidden></p>
<div id="terminal"></div></section>
<section id="exercise" class="panel wide"><h2>Exercise</h2>{exercise}
<button type="button" id="check">Check</button>
<p id="check-state" aria-live="polite"></p><ul id="goals"></ul></section>
<section id="replication" class="panel"><h2>Replication</h2><p id="repl">?</p></section>
<section id="recent" class="panel wide"><h2>Timeline</h2><ol id="events" reversed></ol>
</section>
</main>
<script src="/static/xterm/lib/xterm.js"></script>
<script src="/static/xterm-fit/lib/addon-fit.js"></script>
<script src="/static/student.js"></script>
</body></html>"""


def teacher(exercises: list[str]) -> str:
    """The teacher's grid: a row per lab, filled live from /teacher/events;
    the lesson run from it (classweb.lesson_controls): an exercise started or stopped
    in every lab or one, a lab reset."""
    options = "".join(f'<option value="{escape(e)}">{escape(e)}</option>' for e in exercises)
    return f"""{_head("foo.com lab: the class")}<body data-connected="no">
<header><h1>foo.com cluster lab <small>the class</small></h1><p id="banner">connecting...</p>
<nav><a href="/teacher/grades.csv" download>grades (CSV)</a> ·
<a href="/teacher/grades.json">grades (JSON)</a>
<button type="button" id="grade-all">grade every lab now</button>
<span id="grade-state" aria-live="polite"></span>
<form method="post" action="/logout" class="inline"><button type="submit">sign out</button>
</form></nav></header>
<main><section class="panel wide"><p id="lesson">exercise <select id="exercise">{options}
</select> <button type="button" id="start-all">start in every lab</button>
<button type="button" id="stop-all">stop in every lab</button>
<span id="lesson-state" aria-live="polite"></span></p>
<table id="grid"><thead><tr><th>lab</th><th>student</th>
<th>hosts</th><th>healthy</th><th>replication</th><th>exercise</th><th>goals</th>
<th>faults</th><th>last activity</th><th>lesson</th></tr></thead><tbody></tbody></table>
</section></main>
<script src="/static/teacher.js"></script>
</body></html>"""


def joined(where: str) -> str:
    """After a secret link: a page of this site sends the browser on, so the
    SameSite=Strict cookie goes with it even when the link was opened from
    another site (a mail in a webmail: a redirect would carry no cookie)."""
    return f"""{_head("foo.com lab")}<body><main class="narrow">
<meta http-equiv="refresh" content="0;url={escape(where)}">
<p>Signed in: <a href="{escape(where)}">go to your lab</a>.</p></main></body></html>"""


def terminals(lab: str, rows: list[dict[str, Any]]) -> str:
    """A lab's terminal sessions for the teacher: watch a live one here
    (xterm.js, read-only until "take the keyboard"), replay any."""
    xterm = '\n<link rel="stylesheet" href="/static/xterm/css/xterm.css">'
    return f"""{_head(f"foo.com lab {lab}: terminals", xterm)}<body data-lab="{escape(lab)}">
<header><h1>foo.com cluster lab <small>lab {escape(lab)}: terminal sessions</small></h1>
<nav><a href="/teacher">class</a> · <a href="/lab/{escape(lab)}">the lab's page</a></nav></header>
<main><section class="panel wide"><table id="sessions"><thead><tr><th>host</th>
<th>session</th><th>bytes</th><th>recording</th><th></th></tr></thead>
<tbody>{session_links(lab, rows)}</tbody></table>
<p>Recorded on the teacher's side, never in the lab; kept aside by <code>class down</code>.</p>
</section>
<section id="watch-panel" class="panel wide" hidden><h2>Watching <span id="watching"></span></h2>
<p><button type="button" id="take">take the keyboard</button>
<span id="watch-state" aria-live="polite">closed</span></p><div id="terminal"></div></section>
</main>
<script src="/static/xterm/lib/xterm.js"></script>
<script src="/static/xterm-fit/lib/addon-fit.js"></script>
<script src="/static/seat.js"></script>
</body></html>"""


def replay(lab: str, sid: str, marks: list[list[object]]) -> str:
    """One session played back in the page (asciinema-player), each goal's
    first moment marked on its timeline."""
    player = '\n<link rel="stylesheet" href="/static/asciinema-player/asciinema-player.css">'
    return f"""{_head(f"foo.com lab {lab}: {sid}", player)}<body data-lab="{escape(lab)}"
 data-session="{escape(sid)}" data-markers="{escape(json.dumps(marks))}">
<header><h1>foo.com cluster lab <small>lab {escape(lab)}: {escape(sid)}</small></h1>
<nav><a href="/teacher/lab/{escape(lab)}/terminals">sessions</a></nav></header>
<main><section class="panel wide"><div id="player"></div>
<ol id="markers">{"".join(f"<li>{m[0]} s: {escape(str(m[1]))}</li>" for m in marks)}</ol>
</section></main>
<script src="/static/asciinema-player/asciinema-player.min.js"></script>
<script src="/static/replay.js"></script>
</body></html>"""


def session_links(name: str, rows: list[dict[str, Any]]) -> str:
    """The session list's rows as HTML."""
    out = []
    for r in rows:
        sid = escape(r["id"])
        act = (f'<a class="watch" href="#" data-session="{sid}">watch live</a> · '
               if r["live"] else "")
        out.append(f'<tr data-session="{sid}" data-live="{"yes" if r["live"] else "no"}">'
                   f'<td>{escape(r["host"])}</td><td>{sid}</td><td>{r["bytes"]}</td>'
                   f'<td>{escape(r["capped"]) or "-"}</td><td>{act}<a class="replay" '
                   f'href="/teacher/lab/{escape(name)}/replay/{sid}">replay</a></td></tr>')
    return "".join(out)
