"""Labels of a fault run's phases that never cover each other (the timeline,
lab/load/timeline.py). A runbook's steps often come within a fraction of a
second: a name written at each step's start would be written on top of the
next one. Instead each phase gets a number, drawn as a marker in a strip
above the panels, moved sideways (and into more rows) until no two markers
touch, with a thin line down to the moment the phase began; a key below the
panels spells out each number: "3  stop reading from db1 (+17.2 s, 40 ms)".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.load.during import Phase

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STEP_LABEL = "step-label"  # gid of the texts that name a phase: tests find them by it
FONT_PT = 8.0
MARKER_PAD = 0.3  # the marker's box around its number, in font sizes
KEY_LINE_IN = 0.2  # one line of the key, in inches
CHAR_EM = 0.55  # an average character of DejaVu Sans, in font sizes: a first guess
FAULT_COLOR, STEP_COLOR = "#ee6677", "#bbbbbb"


def phase_color(p: Phase) -> str:
    """Red for the fault, grey for a recovery step: the shading and the markers agree."""
    return FAULT_COLOR if p.kind == "fault" else STEP_COLOR


def marker_pitch_pt(count: int) -> float:
    """Room one numbered marker needs across (points): its widest number, the
    box around it, and a little air so that neighbours do not touch."""
    digits = len(str(max(count, 1)))
    return FONT_PT * (0.64 * digits + 2 * MARKER_PAD) + 3.0


def marker_rows(count: int, pitch: float, width: float) -> int:
    """How many rows of markers keep each row within `width` at `pitch` apart."""
    rows = max(1, math.ceil(count * pitch / width))
    while math.ceil(count / rows) * pitch > width + pitch:  # n markers span (n - 1) pitches
        rows += 1
    return rows


def spread(wanted: Sequence[float], pitch: float, lo: float, hi: float) -> list[float]:
    """Positions as near `wanted` (ascending) as can be, neighbours at least
    `pitch` apart, all within [lo, hi]: a crowd of markers is centred on
    where its phases began rather than pushed all to one side."""
    groups: list[tuple[float, list[float]]] = []  # (first position, wanted of each member)
    for w in wanted:
        groups.append((_clamp(w, lo, hi), [w]))
        while len(groups) > 1 and groups[-2][0] + pitch * len(groups[-2][1]) > groups[-1][0]:
            (_, a), (_, b) = groups.pop(-2), groups.pop()
            members = a + b
            start = sum(members) / len(members) - pitch * (len(members) - 1) / 2
            groups.append((_clamp(start, lo, hi - pitch * (len(members) - 1)), members))
    return [start + pitch * k for start, members in groups for k in range(len(members))]


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(x, hi))


def place_markers(phases: Sequence[Phase], span: tuple[float, float], pitch: float
                  ) -> list[tuple[float, int]]:
    """(x, row) of each phase's marker, in data units of the time axis; row 0
    nearest the axis. Phases are dealt to rows in turn by start, so that each
    row's crowd stays near the moments it names."""
    lo, hi = span[0] + pitch / 2, span[1] - pitch / 2
    rows = marker_rows(len(phases), pitch, hi - lo)
    order = sorted(range(len(phases)), key=lambda i: phases[i].start_s)
    placed: dict[int, tuple[float, int]] = {}
    for row in range(rows):
        members = order[row::rows]
        xs = spread([phases[i].start_s for i in members], pitch, lo, hi)
        placed.update({i: (x, row) for i, x in zip(members, xs, strict=True)})
    return [placed[i] for i in range(len(phases))]


def strip_height_in(rows: int) -> float:
    """Height of the marker strip for `rows` rows (inches)."""
    return 0.15 + 0.3 * rows


def draw_markers(ax: Axes, phases: Sequence[Phase], pitch_data: float) -> None:
    """The numbered markers in `ax` (the strip, x shared with the panels),
    each with a thin line down to its phase's start."""
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    places = place_markers(phases, ax.get_xlim(), pitch_data)
    rows = max([r for _, r in places] + [0]) + 1
    axes_y = ax.get_xaxis_transform()  # x in seconds, y from 0 (bottom) to 1 (top)
    for n, (p, (x, row)) in enumerate(zip(phases, places, strict=True), start=1):
        y = (row + 0.6) / (rows + 0.15)
        ax.plot([p.start_s, p.start_s, x], [0.0, 0.12 / rows, y], transform=axes_y,
                color="#555555", linewidth=0.6, zorder=1)
        ax.text(x, y, str(n), transform=axes_y, ha="center", va="center", fontsize=FONT_PT,
                gid=STEP_LABEL, zorder=2,
                bbox={"boxstyle": f"round,pad={MARKER_PAD}", "facecolor": phase_color(p),
                      "edgecolor": "#555555", "linewidth": 0.6})


def duration_text(seconds: float) -> str:
    """A phase's length as people read it: 40 ms, 8.2 s."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def key_line(n: int, p: Phase, chars: int, digits: int = 2) -> str:
    """One line of the key, the name shortened to fit `chars` characters;
    the number and the times are never cut. Numbers are right-aligned with
    figure spaces (as wide as a digit; a plain space is narrower)."""
    kind = "the fault, " if p.kind == "fault" else ""
    tail = f" ({kind}+{p.start_s:.1f} s, {duration_text(p.end_s - p.start_s)})"
    head = str(n).rjust(digits, "\u2007") + "  "
    room = max(8, chars - len(head) - len(tail))
    name = p.name if len(p.name) <= room else p.name[:room - 1] + "…"
    return head + name + tail


def key_columns(count: int) -> int:
    """Columns of the key: one for a short runbook, two so that a long one
    does not make the figure endless (three would cut most names short)."""
    return 1 if count <= 10 else 2


def key_height_in(count: int) -> float:
    """Height of the key (inches)."""
    return KEY_LINE_IN * math.ceil(count / key_columns(count)) + 0.1


def draw_key(ax: Axes, phases: Sequence[Phase]) -> None:
    """The key in `ax` (no axes drawn): one line per phase, column by column,
    each name shortened until its line fits its column (measured, not guessed)."""
    ax.set_axis_off()
    cols = key_columns(len(phases))
    rows = math.ceil(len(phases) / cols)
    room_px = ax.bbox.width / cols - FONT_PT * ax.figure.dpi / 72  # a letter of air
    digits = len(str(len(phases)))
    for i, p in enumerate(phases):
        col, row = divmod(i, rows)
        chars = int(room_px * 72 / ax.figure.dpi / (CHAR_EM * FONT_PT))
        text = ax.text(col / cols, 1 - (row + 0.5) / rows, key_line(i + 1, p, chars, digits),
                       transform=ax.transAxes, ha="left", va="center", fontsize=FONT_PT,
                       gid=STEP_LABEL, color="#aa2233" if p.kind == "fault" else "black")
        while chars > 20 and text.get_window_extent().width > room_px:
            chars -= 2
            text.set_text(key_line(i + 1, p, chars, digits))
