"""`make bench ONLY=neighbour`: what one noisy student costs the others
(issue 31).

Two labs of a roster class (q01 noisy, q02 quiet; their own state folder)
and `foolab class serve`. The quiet lab's /db.php through web1 (p50, p99,
from inside its network) and the keystroke echo of a terminal on its ns1
(p99), first with q01 idle, then while q01's student allocates memory in
web1, floods web2 with processes and spins four busy loops in each of its
seven hosts; and the memory of an idle lab under its bounds. Every load
ends by itself (timeout); the class is removed at the end.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from dataclasses import replace

from lab.bench.classbench import _memory_mib, lab_containers
from lab.bench.classroom_cost import Student, serve_class
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.exercises import classroom
from lab.model.config import REPO, LabConfig
from lab.model.figures import Figure, Progress
from lab.probes import pages

PAGES = 200  # requests per window
ECHOES = 50  # keystrokes per window
NOISE_S = 90  # how long the noisy lab's loads last at most
# What the noisy student runs in q01's hosts (each ends by itself).
SPIN = f"for i in 1 2 3 4; do timeout {NOISE_S} sh -c 'while :; do :; done' >/dev/null 2>&1 & done"
HOG = f"timeout {NOISE_S} sh -c 'while :; do head -c 3G /dev/zero | tail > /dev/null; done'"
FLOOD = f"timeout {NOISE_S} sh -c 'while :; do for i in $(seq 500); do sleep 5 & done; wait; done'"


def _page_ms(lab: Lab) -> list[float]:
    times = []
    with lab.network():
        for _ in range(PAGES):
            t0 = time.perf_counter()
            pages.fetch(lab.address_of(lab.topology.webs[0]), "/db.php", timeout=5)
            times.append((time.perf_counter() - t0) * 1000)
    return times


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def neighbour_figures(lab: Lab, reps: int, progress: Progress) -> list[Figure]:
    state = REPO / ".lab" / "bench-neighbour"
    base = replace(LabConfig.from_env(), state_dir=state, class_root=state / "class")
    state.mkdir(parents=True, exist_ok=True)
    csv = state / "students.csv"
    csv.write_text("Noisy,noisy@bench.example\nQuiet,quiet@bench.example\n")
    note = (f"the quiet lab's /db.php through web1, {PAGES} requests from inside its network")
    noisy_note = ("; while the other lab allocates 3 GiB in web1, floods web2 with processes "
                  "and spins 4 busy loops in each of its 7 hosts; aim <= 2x the quiet figure")
    figures = {
        "p50": Figure("neighbour page p50, quiet", "ms", note=note),
        "p50n": Figure("neighbour page p50, noisy neighbour", "ms", note=note + noisy_note),
        "p99": Figure("neighbour page p99, quiet", "ms", note=note),
        "p99n": Figure("neighbour page p99, noisy neighbour", "ms", note=note + noisy_note),
        "echo": Figure("neighbour echo p99, quiet", "ms",
                       note=f"keystroke echo of a terminal on the quiet lab's ns1 through the "
                            f"class server, {ECHOES} keys"),
        "echon": Figure("neighbour echo p99, noisy neighbour", "ms",
                        note=f"the same, {noisy_note[2:]}"),
        "mem": Figure("memory per bounded class lab", "MiB",
                      note="the seven hosts and the console, idle, under the lab's bounds "
                           "(cgroup usage); aim <= 300 MiB"),
    }
    roster = classroom.enrol(base, csv, "q")
    cfgs = [base.for_lab(s.lab) for s in roster.students]
    noisy, quiet = Lab(cfgs[0]), Lab(cfgs[1])
    server: subprocess.Popen[str] | None = None
    student: Student | None = None
    try:
        progress("neighbour: two labs up")
        if classroom.up(cfgs, progress).failed:
            raise RuntimeError("the neighbour labs did not come up")
        figures["mem"].runs.append(_memory_mib(lab_containers(cfgs)) / len(cfgs))
        server, url = serve_class(state)
        student = Student(url, roster.students[1].token, quiet.config.lab,
                          quiet.topology.primary_dns)
        term = student

        def window(suffix: str) -> None:
            ms = _page_ms(quiet)
            figures["p50" + suffix].runs.append(statistics.median(ms))
            figures["p99" + suffix].runs.append(_p99(ms))
            echoes = [term.echo_ms("abcdefghij"[i % 10]) for i in range(ECHOES)]
            term.term.send(json.dumps({"in": "\x15"}))  # Ctrl-U: the typed line goes
            figures["echo" + suffix].runs.append(_p99(echoes))

        for i in range(reps):
            progress(f"neighbour: quiet window {i + 1}/{reps}")
            window("")
            progress(f"neighbour: noisy window {i + 1}/{reps}")
            loads = [threading.Thread(target=noisy.exec, args=(h, ["sh", "-c", SPIN]),
                                      daemon=True) for h in noisy.topology.names]
            first, second = noisy.topology.webs[:2]
            loads += [threading.Thread(target=noisy.exec, args=(first, ["sh", "-c", HOG]),
                                       kwargs={"timeout": NOISE_S + 30}, daemon=True),
                      threading.Thread(target=noisy.exec, args=(second, ["sh", "-c", FLOOD]),
                                       kwargs={"timeout": NOISE_S + 30}, daemon=True)]
            for t in loads:
                t.start()
            time.sleep(5)  # the loads under way: a measuring window starts after them
            window("n")
            for t in loads:
                t.join(timeout=NOISE_S + 40)
            wait_for("the noisy lab's loads to end", lambda: all(
                s.is_healthy for s in noisy.states(probe=True).values()), NOISE_S + 90, every=5)
    finally:
        if student is not None:
            student.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        classroom.down(cfgs, progress)
        classroom.forget_roster(base)
    order = ("p50", "p50n", "p99", "p99n", "echo", "echon", "mem")
    return [figures[k] for k in order]
