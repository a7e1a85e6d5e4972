"""The dashboard's figures (issue 12): how long a change in the lab takes to
reach the page, and what the dashboard costs while nothing happens.

The dashboard runs as `foolab dashboard` in a process of its own, with one
viewer on its event stream, as a projector would be: a change is web3 paused
or unpaused through the engine, timed from the engine call to the first
pushed document that shows its new container state (what the page's script
receives). Its colour follows the healthcheck, which the facts loop runs
about once a second: after an unpause it takes that long again.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from lab.dashboard.server import HOST, bind
from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.model.config import REPO
from lab.model.errors import LabError
from lab.model.figures import Figure, Progress


def _listen(url: str, docs: queue.Queue[tuple[float, dict[str, Any]]]) -> None:
    """Put every pushed document on `docs`, with when it arrived."""
    try:
        with urllib.request.urlopen(url + "api/events", timeout=60) as stream:
            for raw in stream:
                line = raw.decode()
                if line.startswith("data: "):
                    docs.put((time.monotonic(), json.loads(line[6:])))
    except OSError:
        return  # the dashboard stopped


def _state(doc: dict[str, Any], host: str) -> str:
    return next((h["state"] for h in doc["hosts"] if h["name"] == host), "")


def _seen(docs: queue.Queue[tuple[float, dict[str, Any]]], host: str, t0: float,
          want: str) -> float:
    """Seconds from t0 until a document shows `host` in container state `want`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            at, doc = docs.get(timeout=1)
        except queue.Empty:
            continue
        if _state(doc, host) == want:
            return at - t0
    raise LabError(f"the dashboard did not show {host} change within 30 s")


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process and its waited-for children (/proc/PID/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])


def dashboard_figures(lab: Lab, reps: int, progress: Progress, idle_s: float = 10,
                      ) -> list[Figure]:
    sock = bind(0)
    port = sock.getsockname()[1]
    sock.close()
    argv = [sys.executable, "-m", "lab.cli", "--subnet", lab.config.subnet, "dashboard",
            "--port", str(port)]
    env = {**os.environ, "FOOLAB_PROJECT": lab.config.project,
           "FOOLAB_STATE_DIR": str(lab.config.state_dir)}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://{HOST}:{port}/"
    changed = lab.topology.webs[-1]  # any host; the last web server (web3)
    container = lab.topology.host(changed).container
    to_page = Figure("dashboard: change in the lab -> pushed to the page", "s",
                     note=f"{changed} paused / unpaused; one viewer on the event stream")
    cpu = Figure("dashboard: CPU while idle, one page open", "% of a core",
                 note=f"over {idle_s:g} s, probes included")
    try:
        wait_for("the dashboard answering", lambda: urllib.request.urlopen(
            url + "api/state", timeout=2).status == 200, timeout=20)
        docs: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        threading.Thread(target=_listen, args=(url, docs), daemon=True).start()
        _seen(docs, changed, time.monotonic(), want="running")
        progress(f"dashboard: {reps} changes of {changed}, then {idle_s:g} s idle")
        for _ in range(reps):
            for pause in (True, False):
                while not docs.empty():
                    docs.get_nowait()
                t0 = time.monotonic()
                (client.pause if pause else client.unpause)(container)
                to_page.runs.append(_seen(docs, changed, t0,
                                          want="paused" if pause else "running"))
        time.sleep(2)  # let the last change settle
        before, t0 = _cpu_ticks(proc.pid), time.monotonic()
        time.sleep(idle_s)
        ticks = _cpu_ticks(proc.pid) - before
        cpu.runs.append(100 * ticks / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0))
    finally:
        if lab.states()[changed].status == "paused":
            client.unpause(container)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return [to_page, cpu]
