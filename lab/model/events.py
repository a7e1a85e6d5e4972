"""The lab's event record: what was done to it and when, as JSON lines in
the lab's state folder (.lab/events.jsonl).

Faults write here when injected and healed (lab.drills.faults), runbooks
when they start, at each step and when they end (lab.drills.steps), from
whichever process does it: the CLI, a scenario, the dashboard's buttons.
The dashboard reads it for its timeline. Plain data and a file; appending
one short line is atomic enough for several writers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = "events.jsonl"
KEEP = 2000  # lines kept when the file is trimmed
_TRIM_AT = 512 * 1024  # bytes

# The kinds of event.
FAULT_INJECTED = "fault-injected"
FAULT_HEALED = "fault-healed"
RUNBOOK_STARTED = "runbook-started"
RUNBOOK_STEP = "runbook-step"
RUNBOOK_DONE = "runbook-done"
EXERCISE_STARTED = "exercise-started"
EXERCISE_GRADED = "exercise-graded"
EXERCISE_STOPPED = "exercise-stopped"
NOTE = "note"  # anything else worth a line (a failed button press, ...)


@dataclass(frozen=True)
class Event:
    t: float  # seconds since the epoch
    kind: str
    text: str
    host: str = ""
    ok: bool | None = None  # runbook steps and ends: did it succeed
    key: str = ""  # pairs a fault's injection with its healing

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A fault's time in the lab: from injection to healing (None: still on)."""

    key: str
    host: str
    text: str
    start: float
    end: float | None


def path(state_dir: Path) -> Path:
    return state_dir / FILE


def record(state_dir: Path, kind: str, text: str, host: str = "", ok: bool | None = None,
           key: str = "", t: float | None = None) -> Event:
    """Append one event; trim the file to its last KEEP lines when it grows big."""
    event = Event(time.time() if t is None else t, kind, text, host, ok, key)
    file = path(state_dir)
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a") as f:
        f.write(json.dumps(event.as_dict()) + "\n")
    if file.stat().st_size > _TRIM_AT:
        lines = file.read_text().splitlines()[-KEEP:]
        tmp = file.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(file)
    return event


def read(state_dir: Path, limit: int = 500) -> list[Event]:
    """The last `limit` events, oldest first; lines that do not parse are skipped."""
    file = path(state_dir)
    if not file.exists():
        return []
    found: list[Event] = []
    for line in file.read_text().splitlines()[-limit:]:
        try:
            d = json.loads(line)
            found.append(Event(float(d["t"]), str(d["kind"]), str(d["text"]),
                               str(d.get("host", "")), d.get("ok"), str(d.get("key", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def intervals(events: Iterable[Event]) -> list[Interval]:
    """Each fault's interval: an injection up to the healing with the same
    key (or still open). A healing with no injection in view starts nothing."""
    open_: dict[str, Event] = {}
    done: list[Interval] = []
    for e in events:
        if e.kind == FAULT_INJECTED:
            open_[e.key] = e
        elif e.kind == FAULT_HEALED and e.key in open_:
            s = open_.pop(e.key)
            done.append(Interval(s.key, s.host, s.text, s.t, e.t))
    done += [Interval(s.key, s.host, s.text, s.t, None) for s in open_.values()]
    return sorted(done, key=lambda i: i.start)
