"""The timeline of a fault run (lab/load/timeline.py) stays readable however
close the recovery steps fall: a runbook's steps often end within a second,
and labels drawn on top of each other name none of them. No Docker: the
figure is drawn from a synthetic run with matplotlib's Agg backend."""

from __future__ import annotations

import itertools

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from lab.load.during import DuringRun, Phase  # noqa: E402
from lab.load.latency import Latency, latency_history  # noqa: E402
from lab.load.settings import RunSettings  # noqa: E402
from lab.load.steplabels import STEP_LABEL  # noqa: E402
from lab.load.summary import RunData, summarize  # noqa: E402
from lab.load.timeline import during_figure  # noqa: E402

WEBS = ("web1", "web2", "web3")
RUNBOOK = ("the old master db1 is down", "stop reading from db1", "make db2 the master",
           "web2: write to db2, read from db2", "web3: write to db2, read from db2",
           "writes through every web server")


def synthetic_run(steps: int, within_s: float, name_chars: int = 0) -> DuringRun:
    """master-killed as a run would report it: db1 killed at 6 s, then
    `steps` runbook steps all starting within `within_s` seconds."""
    rows = [(s, w, "/light.php", "ok", 4 + s % 3) for s in range(40) for w in WEBS]
    rows += [(s, "web1", "/db.php?write=1", "fail", 2) for s in range(6, 15)]
    visits = {"rows": [list(r) for r in rows], "locust_stats": []}
    summary = summarize(RunData(RunSettings(30, 40), WEBS, visits, None, 40.0, "t"))
    titles = itertools.cycle(RUNBOOK)
    gap = within_s / max(steps - 1, 1)
    recovery = tuple(
        Phase(f"promote-replica: {next(titles)} ({i + 1})".ljust(name_chars, "x"), "recovery",
              14.2 + i * gap, 14.2 + i * gap + 0.05)
        for i in range(steps))
    phases = (Phase("db1 killed", "fault", 6.0, 14.2), *recovery)
    latency = tuple(Latency(s + 0.4, 3.0, 3000.0 if 6 <= s <= 24 else 40.0) for s in range(2, 41))
    return DuringRun("master-killed", summary, phases, tuple(rows), latency=latency)


def step_labels(run: DuringRun) -> tuple[list[str], list[Bbox], Bbox]:
    """The step labels' texts and window boxes (with the box drawn around a
    marker's number), measured after drawing."""
    fig = during_figure(run, plt)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_gid() == STEP_LABEL and t.get_visible()]
    boxes = [Bbox.union([t.get_window_extent(renderer),
                         *([t.get_bbox_patch().get_window_extent(renderer)]
                           if t.get_bbox_patch() else [])])
             for t in texts]
    frame = fig.bbox
    plt.close(fig)
    return [t.get_text() for t in texts], boxes, frame


@pytest.mark.parametrize("steps, within_s, name_chars", [
    (6, 0.4, 0),  # promote-replica as CI saw it: six steps within 0.4 s
    (20, 0.4, 0),
    (20, 3.0, 0),
    (12, 0.2, 90),  # long step names
    (120, 0.4, 0),  # more markers than one row holds
])
def test_step_labels_never_overlap_and_name_every_step(steps, within_s, name_chars):
    run = synthetic_run(steps, within_s, name_chars)
    texts, boxes, frame = step_labels(run)
    for p in run.phases:
        assert any(p.name[:40] in t for t in texts), f"no label names {p.name!r}"
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not a.overlaps(b), f"label {texts[i]!r} overlaps {texts[j]!r}"
    for t, box in zip(texts, boxes, strict=True):
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), \
            f"label {t!r} is cut off by the edge of the figure"


# --- response times: Locust's figures of the moment, beside the requests ------------------

HISTORY = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,"
           "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count\n") + """\
1000,30,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0
1001,30,GET,/light.php,10.0,0.0,0,0,0,0,0,0,0,0,0,0,0,12
1001,30,,Aggregated,20.0,0.0,0,0,0,0,0,0,0,0,0,0,0,24
1012,30,GET,/light.php,10.0,0.0,3,3,4,4,5,6,7,8,9,9,9,120
1012,30,,Aggregated,20.0,0.0,2,3,3,4,5,6,7,2900,3000,3000,3000,240
"""


def test_response_times_are_the_moments_not_the_runs_so_far():
    assert latency_history(HISTORY, 1000.5) == (Latency(11.5, 2.0, 2900.0),)
    only_all = "\n".join(line for line in HISTORY.splitlines() if "/light.php" not in line)
    assert latency_history(only_all, 1000.5) == ()  # no --csv-full-history: whole-run figures
    assert latency_history(HISTORY, 0.0) == ()  # start unknown: nothing to line up with


def test_the_timeline_draws_p50_and_p99_below_the_requests():
    run = synthetic_run(6, 0.4)
    fig = during_figure(run, plt)
    (panel,) = [ax for ax in fig.axes if "response" in ax.get_ylabel()]
    lines = {ln.get_label(): ln for ln in panel.get_lines()}
    assert list(lines["p99"].get_ydata())[:6] == [40.0] * 4 + [3000.0] * 2
    assert list(lines["p50"].get_xdata())[0] == pytest.approx(2.4)
    plt.close(fig)


def test_a_crowd_of_markers_is_centred_where_its_steps_began_and_stays_inside():
    from lab.load.steplabels import spread

    assert spread([10.0, 10.0, 10.0], 1.0, 0.0, 40.0) == [9.0, 10.0, 11.0]
    assert spread([0.0, 0.1], 1.0, 0.0, 40.0) == [0.0, 1.0]  # pushed in from the edge
    assert spread([2.0, 30.0], 1.0, 0.0, 40.0) == [2.0, 30.0]  # apart already: untouched
