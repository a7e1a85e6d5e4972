// The teacher watching a student's live terminal: the same bytes as the
// student's page, read-only until "take the keyboard".
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const lab = document.body.dataset.lab;
  const term = new Terminal({ fontSize: 14, disableStdin: false });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  let socket = null, typing = false;
  const send = (msg) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg)); };
  term.onData((data) => { if (typing) send({ in: data }); });

  function watch(session) {
    if (socket) socket.close();
    $("#watch-panel").hidden = false;
    if (!term.element) { term.open($("#terminal")); fit.fit(); }
    term.reset();
    typing = false; $("#take").textContent = "take the keyboard";
    $("#watching").textContent = session;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/teacher/lab/${encodeURIComponent(lab)}/watch?session=${encodeURIComponent(session)}`);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { $("#watch-state").textContent = "watching (read-only)"; document.body.dataset.watching = session; };
    socket.onmessage = (ev) => term.write(new Uint8Array(ev.data));
    socket.onclose = () => { $("#watch-state").textContent = "the session ended"; delete document.body.dataset.watching; };
  }
  for (const a of document.querySelectorAll("a.watch")) {
    a.addEventListener("click", (ev) => { ev.preventDefault(); watch(a.dataset.session); });
  }
  $("#take").addEventListener("click", () => {
    typing = !typing;
    send({ take: typing });
    $("#take").textContent = typing ? "give the keyboard back" : "take the keyboard";
    $("#watch-state").textContent = typing ? "typing: the student sees you type" : "watching (read-only)";
    if (typing) term.focus();
  });
})();
