// The teacher's grid: a row per lab, pushed by /teacher/events.
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const cell = (text, cls) => {
    const td = document.createElement("td"); td.textContent = text;
    if (cls) td.className = cls; return td;
  };
  const ago = (t) => !t ? "-" : `${Math.max(0, Math.round(Date.now() / 1000 - t))} s ago`;

  function row(lab) {
    const tr = document.createElement("tr");
    tr.dataset.lab = lab.lab;
    tr.dataset.healthy = `${lab.healthy}/${lab.of}`;
    const link = document.createElement("a");
    link.href = `/lab/${encodeURIComponent(lab.lab)}`; link.textContent = lab.student || lab.lab;
    const seat = document.createElement("a");  // watch or replay the student's terminals
    seat.href = `/teacher/lab/${encodeURIComponent(lab.lab)}/terminals`; seat.textContent = "terminals";
    seat.className = "terminals";
    const who = document.createElement("td"); who.append(link, " · ", seat);
    const hosts = document.createElement("td"); hosts.className = "hosts";
    for (const h of lab.hosts) {
      const s = document.createElement("span");
      s.className = `k ${h.view}`; s.dataset.host = h.name; s.dataset.state = h.view;
      s.title = `${h.name}: ${h.view}${h.fault ? " (" + h.fault + ")" : ""}`;
      s.textContent = h.name;
      hosts.append(s);
    }
    const r = lab.replication;
    const repl = !r ? "none" : r.io ? `IO ${r.io}, SQL ${r.sql}` + (r.lag_s != null ? `, ${r.lag_s} s` : "") : r.error;
    const goals = lab.goals ? `${lab.goals.passed}/${lab.goals.of} (${lab.goals.points}/${lab.goals.out_of} pts)` : "-";
    const where = lab.lost ? `${lab.lab}: lost (${lab.node} does not answer)`
      : lab.node ? `${lab.lab} on ${lab.node}` : lab.lab;
    tr.dataset.lost = lab.lost ? "yes" : "no";
    tr.append(cell(where, lab.lost ? "no" : ""), who, hosts, cell(`${lab.healthy}/${lab.of}`, lab.healthy === lab.of ? "yes" : "no"),
      cell(repl, r && r.io === "Yes" && r.sql === "Yes" ? "yes" : "no"), cell(lab.exercise || "-"),
      cell(goals), cell(lab.faults.concat(lab.oom ? [`${lab.oom} killed at the memory bound`] : []).join("; ") || "-"), cell(ago(lab.activity), "activity"));
    tr.querySelector(".activity").dataset.t = lab.activity || "";
    tr.append(actions(lab));
    return tr;
  }

  // --- the lesson: start, stop, reset (classweb/lesson_controls.py) ---
  async function post(path, body, question) {
    if (!window.confirm(question)) return;
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const doc = await r.json();
    $("#lesson-state").textContent = r.ok ? (doc.busy && doc.busy.length
      ? `busy, left alone: ${doc.busy.join(", ")}` : "started: the rows show how it goes")
      : doc.error || `error ${r.status}`;
  }
  function button(text, cls, onclick) {
    const b = document.createElement("button"); b.type = "button";
    b.textContent = text; b.className = cls; b.addEventListener("click", onclick); return b;
  }
  function actions(lab) {
    const td = document.createElement("td"); td.className = "lesson";
    const base = `/teacher/lab/${encodeURIComponent(lab.lab)}`;
    const a = lab.action;
    const busy = a && a.running;
    const line = document.createElement("span"); line.className = "action";
    line.dataset.state = !a ? "none" : busy ? "running" : a.ok ? "done" : "failed";
    line.textContent = a ? `${a.what}: ${a.line}` : "";
    const start = button("start", "start", () => post(`${base}/exercise`,
      { exercise: $("#exercise").value }, `Start ${$("#exercise").value} in ${lab.lab}?`));
    const stop = button("stop", "stop", () => post(`${base}/exercise`, { stop: true },
      `Stop ${lab.exercise || "the exercise"} in ${lab.lab}? (the lab is healed)`));
    const reset = button("reset", "reset", () => post(`${base}/reset`, {},
      `Reset ${lab.lab}? A fresh lab, the same seed, its exercise started again.`));
    for (const b of [start, stop, reset]) b.disabled = !!busy;
    td.append(start, stop, reset, " ", line);
    return td;
  }
  $("#start-all").addEventListener("click", () => post("/teacher/exercise",
    { exercise: $("#exercise").value }, `Start ${$("#exercise").value} in every lab?`));
  $("#stop-all").addEventListener("click", () => post("/teacher/exercise", { stop: true },
    "Stop the exercise in every lab? (each lab is healed)"));

  const source = new EventSource("/teacher/events");
  source.onopen = () => { document.body.dataset.connected = "yes"; $("#banner").textContent = "live"; };
  source.onerror = () => { document.body.dataset.connected = "no"; $("#banner").textContent = "connection lost: retrying"; };
  source.onmessage = (ev) => {
    const labs = JSON.parse(ev.data);
    $("#grid tbody").replaceChildren(...labs.map(row));
    const ok = labs.filter((l) => l.healthy === l.of).length;
    $("#banner").textContent = `${ok} of ${labs.length} labs whole`;
  };
  setInterval(() => {
    for (const td of document.querySelectorAll("td.activity")) td.textContent = ago(Number(td.dataset.t));
  }, 5000);

  $("#grade-all").addEventListener("click", async () => {
    const r = await fetch("/teacher/collect", { method: "POST" });
    $("#grade-state").textContent = r.ok ? "grading every lab: the goals column fills in"
      : (await r.json()).error;
  });
})();
