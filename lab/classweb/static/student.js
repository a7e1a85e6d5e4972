// A student's page: their lab, pushed by /lab/NAME/events (server-sent
// events); a terminal (xterm.js) on /lab/NAME/terminal; the Check button.
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const lab = document.body.dataset.lab;
  const base = `/lab/${encodeURIComponent(lab)}`;

  function show(doc) {
    document.body.dataset.up = doc.up ? "up" : "down";
    $("#banner").textContent = (doc.up ? `${doc.healthy} of ${doc.of} hosts healthy`
      : "your lab is not running: ask your teacher") +
      (doc.oom ? ` (${doc.oom} processes killed at your lab's memory bound)` : "");
    for (const h of doc.hosts) {
      const g = document.querySelector(`#cluster [data-host="${h.name}"]`);
      if (!g) continue;
      g.dataset.state = h.view;
      g.querySelector(".state").textContent = h.fault ? `${h.view}: ${h.fault}` : h.view;
    }
    const r = doc.replication;
    $("#repl").textContent = !r ? "no replica seen" : r.error && !r.io ? r.error
      : `${r.replica} from ${r.master}: IO ${r.io}, SQL ${r.sql}` +
        (r.lag_s === null || r.lag_s === undefined ? "" : `, ${r.lag_s} s behind`) +
        (r.error ? ` (${r.error})` : "");
    $("#events").replaceChildren(...doc.events.slice().reverse().map((e) => {
      const li = document.createElement("li");
      const t = document.createElement("time");
      t.textContent = new Date(e.t * 1000).toLocaleTimeString();
      li.append(t, e.text); li.dataset.kind = e.kind; return li;
    }));
  }

  function listen() {
    const source = new EventSource(`${base}/events`);
    source.onopen = () => { document.body.dataset.connected = "yes"; };
    source.onerror = () => { document.body.dataset.connected = "no";
      $("#banner").textContent = "connection lost: retrying"; };
    source.onmessage = (ev) => show(JSON.parse(ev.data));
  }

  // --- the terminal ---
  let socket = null;
  const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("#terminal"));
  fit.fit();
  const send = (msg) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg)); };
  term.onData((data) => send({ in: data }));
  term.onResize(({ cols, rows }) => send({ size: [cols, rows] }));
  window.addEventListener("resize", () => fit.fit());

  function connect(host) {
    if (socket) socket.close();
    term.reset();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${base}/terminal?host=${encodeURIComponent(host)}`);
    socket.binaryType = "arraybuffer";
    $("#terminal-state").textContent = `connecting to ${host}...`;
    socket.onopen = () => {
      $("#terminal-state").textContent = `connected to ${host}`;
      document.body.dataset.terminal = host;
      send({ size: [term.cols, term.rows] });
      term.focus();
    };
    socket.onmessage = (ev) => {
      if (typeof ev.data !== "string") { term.write(new Uint8Array(ev.data)); return; }
      const w = JSON.parse(ev.data).watch;  // the teacher at this terminal
      if (!w) return;
      document.body.dataset.watched = w.typing ? "typing" : w.watching ? "watching" : "no";
      $("#watched").hidden = !w.watching;
      $("#watched").textContent = w.typing ? "Your teacher is typing in this terminal."
        : w.watching ? "Your teacher is watching this terminal." : "";
    };
    socket.onclose = () => {
      $("#terminal-state").textContent = "closed";
      $("#watched").hidden = true; document.body.dataset.watched = "no";
      delete document.body.dataset.terminal;
    };
  }
  $("#terminal-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    connect($("#host").value);
  });

  // --- the self-check ---
  $("#check").addEventListener("click", async () => {
    $("#check").disabled = true;
    $("#check-state").textContent = "checking your lab (a few seconds)...";
    try {
      const r = await fetch(`${base}/check`, { method: "POST", headers: { "X-Foolab-Check": "1" } });
      const doc = await r.json();
      if (!r.ok) { $("#check-state").textContent = doc.error || `error ${r.status}`; return; }
      $("#check-state").textContent = `${doc.exercise}: ${doc.points} of ${doc.out_of} points`;
      $("#goals").replaceChildren(...doc.goals.map((g) => {
        const li = document.createElement("li");
        li.dataset.passed = g.passed ? "yes" : "no";
        li.textContent = `${g.passed ? "ok" : "--"} ${g.name} (${g.points})` + (g.passed ? "" : `: ${g.hint}`);
        return li;
      }));
    } catch (e) {
      $("#check-state").textContent = `the check failed: ${e}`;
    } finally {
      $("#check").disabled = false;
    }
  });

  listen();
})();
