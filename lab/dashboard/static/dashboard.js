// foolab dashboard: receives the lab's document by server-sent events
// (/api/events) and sets each host's data-state and the panels. No library.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SVGNS = "http://www.w3.org/2000/svg";
  const BOX_W = 220, BOX_H = 92, WINDOW_S = 300;
  let last = null;

  function text(el, value) { if (el && el.textContent !== value) el.textContent = value; }
  function hhmmss(t) { return new Date(t * 1000).toTimeString().slice(0, 8); }
  function svgEl(name, attrs) {
    const el = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  function hostFacts(h) {
    const f = h.facts || {};
    if (f.error) return "probe: " + f.error;
    if (h.role === "dns") return "serial " + (f.serial ?? "?") + ", www=" + (f.www ?? "?");
    if (h.role === "web") return "reads " + (f.reads_from ?? "?") + ", writes " + (f.writes_to ?? "?");
    if (h.role === "db") {
      if (f.replicates_from) return "IO " + f.io + " SQL " + f.sql + " lag " + (f.lag_s ?? "-");
      return f.binlog ? "binlog " + f.binlog.replace(/^.*-bin\./, "") : "";
    }
    if (h.role === "lb") return "policy " + (f.policy ?? "?");
    return "";
  }

  function center(name, bottom) {
    const g = $(`[data-host="${name}"]`);
    if (!g) return null;
    return [Number(g.dataset.x) + BOX_W / 2, Number(g.dataset.y) + (bottom ? BOX_H : 0)];
  }

  function drawLinks(doc) {
    const links = $("#links");
    links.replaceChildren();
    const add = (from, to, cls, dx) => {
      const a = center(from, true), b = center(to, false);
      if (a && b) links.appendChild(svgEl("line", { x1: a[0] + dx, y1: a[1], x2: b[0] + dx, y2: b[1], class: cls }));
    };
    for (const [web, w] of Object.entries(doc.webs || {})) {
      if (w.reads) add(web, w.reads, "reads", -12);
      if (w.writes) add(web, w.writes, "writes", 12);
    }
    for (const r of doc.replication || []) {
      const a = center(r.master, false), b = center(r.replica, false);
      if (a && b) links.appendChild(svgEl("line", { x1: a[0] + BOX_W / 2, y1: a[1] + BOX_H / 2,
        x2: b[0] - BOX_W / 2, y2: b[1] + BOX_H / 2, class: "repl" }));
    }
  }

  function renderHosts(doc) {
    for (const h of doc.hosts) {
      const g = $(`[data-host="${h.name}"]`);
      if (!g) continue;
      const view = doc.up ? h.view : "stopped";
      if (g.dataset.state !== view) g.dataset.state = view;
      let state = view;
      if (view !== "healthy" && !h.fault) state += " (" + h.state + (h.health !== "none" ? "/" + h.health : "") + ")";
      text($(".state", g), state.slice(0, 32));
      // a faulted host shows its fault (without its own name) where its facts were
      const facts = h.fault ? h.fault.split("; ").map(f => f.replace(h.name + " ", "")).join("; ")
        : hostFacts(h);
      text($(".facts", g), facts.slice(0, 34));
      text($("title", g), h.duty + (h.fault ? "; fault: " + h.fault : ""));
    }
  }

  function renderPanels(doc) {
    const reps = $("#replicas");
    reps.replaceChildren();
    for (const r of doc.replication) {
      const tr = document.createElement("tr");
      tr.dataset.replica = r.replica;
      const cells = [r.replica + " follows " + r.master, "IO " + r.io, "SQL " + r.sql,
                     "lag " + (r.lag_s ?? "-") + " s"];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i === 1 || i === 2) td.className = (i === 1 ? r.io : r.sql) === "Yes" ? "yes" : "no";
        tr.appendChild(td);
      });
      reps.appendChild(tr);
    }
    if (!doc.replication.length) reps.innerHTML = "<tr><td>no replica seen</td></tr>";
    text($("#binlog"), Object.entries(doc.binlog).map(([k, v]) => k + " " + v).join("; ") || "-");
    for (const [ns, d] of Object.entries(doc.dns)) {
      const tr = $(`[data-ns="${ns}"]`);
      if (!tr) continue;
      text($(".www", tr), d.www ? (d.www.join(", ") || "nothing") : "-");
      text($(".serial", tr), d.serial == null ? "-" : String(d.serial));
    }
    for (const [web, w] of Object.entries(doc.webs)) {
      const tr = $(`[data-web="${web}"]`);
      if (!tr) continue;
      text($(".reads", tr), w.reads || "-");
      text($(".writes", tr), w.writes || "-");
      const rps = (doc.load && doc.load.rps) ? doc.load.rps[web] : null;
      text($(".rps", tr), rps == null ? "-" : rps.toFixed(1));
    }
    const list = $("#fault-list");
    list.replaceChildren(...doc.faults.map(f => {
      const li = document.createElement("li");
      li.dataset.host = f.host; li.textContent = f.text; return li;
    }));
    if (!doc.faults.length) list.innerHTML = "<li class=\"none\">none recorded</li>";
  }

  function renderTimeline(doc) {
    const now = Date.now() / 1000, start = now - WINDOW_S, strip = $("#strip");
    const x = t => Math.max(0, (t - start) / WINDOW_S * 960);
    strip.replaceChildren();
    for (let m = 0; m <= 5; m++) {
      const t = start + m * 60;
      strip.appendChild(svgEl("text", { x: x(t) + 2, y: 56 })).textContent = m === 5 ? "now" : "-" + (5 - m) + "m";
    }
    for (const i of doc.intervals) {
      const end = i.end == null ? now : i.end;
      if (end < start) continue;
      const r = svgEl("rect", { x: x(i.start), y: 4, width: Math.max(3, x(end) - x(i.start)), height: 38,
                                class: "span", "data-host": i.host });
      r.appendChild(svgEl("title", {})).textContent = i.text;
      strip.appendChild(r);
    }
    for (const e of doc.events) {
      if (e.t < start) continue;
      strip.appendChild(svgEl("line", { x1: x(e.t), x2: x(e.t), y1: 2, y2: 44,
                                        class: "tick" + (e.ok === false ? " bad" : "") }));
    }
    const ol = $("#events");
    const items = doc.events.slice().reverse().slice(0, 60).map(e => {
      const li = document.createElement("li");
      li.dataset.kind = e.kind;
      if (e.host) li.dataset.host = e.host;
      if (e.ok !== null && e.ok !== undefined) li.dataset.ok = String(e.ok);
      const tm = document.createElement("time");
      tm.textContent = hhmmss(e.t);
      li.append(tm, e.text);
      return li;
    });
    ol.replaceChildren(...items);
  }

  function render(doc) {
    last = doc;
    document.body.dataset.up = doc.up ? "up" : "down";
    const banner = doc.engine !== "ok" && doc.engine ? "lab unreachable: " + doc.engine
      : doc.up ? `lab ${doc.lab} up: ${doc.healthy} of ${doc.hosts.length} hosts healthy`
      : `lab ${doc.lab} is down (foolab up brings it back)`;
    text($("#banner"), banner);
    renderHosts(doc);
    drawLinks(doc);
    renderPanels(doc);
    renderTimeline(doc);
    document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
  }

  function connect() {
    const source = new EventSource("api/events");
    source.onopen = () => { document.body.dataset.connected = "yes"; };
    source.onmessage = ev => { document.body.dataset.connected = "yes"; render(JSON.parse(ev.data)); };
    source.onerror = () => {
      document.body.dataset.connected = "no";
      text($("#banner"), "dashboard server unreachable: reconnecting...");
    };
  }

  function control() {
    if (document.body.dataset.control !== "on") return;
    const say = msg => text($("#control-result"), msg);
    const post = (path, body) => fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json", "X-Foolab-Control": "1" },
      body: JSON.stringify(body || {}),
    }).then(r => r.json()).then(d => say(d.error || ("started: " + d.started))).catch(e => say(String(e)));
    $("#fault-form").addEventListener("submit", ev => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      post("api/fault", { kind: f.get("kind"), host: f.get("host"), amount: f.get("amount") });
    });
    $("#heal").addEventListener("click", () => post("api/heal"));
    $("#runbook-form").addEventListener("submit", ev => {
      ev.preventDefault();
      post("api/runbook", { name: new FormData(ev.target).get("name") });
    });
  }

  setInterval(() => { if (last) renderTimeline(last); }, 5000);  // the strip moves on
  control();
  connect();
})();
