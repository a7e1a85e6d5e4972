// One recorded terminal session, played back with asciinema-player; the
// goals' first moments are the player's markers.
(() => {
  "use strict";
  const { lab, session, markers } = document.body.dataset;
  const url = `/teacher/lab/${encodeURIComponent(lab)}/cast/${encodeURIComponent(session)}`;
  window.player = AsciinemaPlayer.create(url, document.getElementById("player"), {
    markers: JSON.parse(markers), fit: "width", idleTimeLimit: 2, preload: true,
  });
})();
