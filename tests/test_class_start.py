"""How wide `class up` starts labs, and what it says meanwhile (no Docker):
as many at once as the cores and the free memory allow; on a terminal one
line counting whole labs, in a log plain lines."""

from __future__ import annotations

import io

import pytest

from lab.cli.output import StartProgress
from lab.model import class_layout
from lab.model.class_layout import start_line, start_width

GIB = 1024


@pytest.mark.parametrize(("labs", "cores", "free_mib", "width"), [
    (24, 2, 20 * GIB, 4),  # this machine: the cores say 4
    (24, 16, 20 * GIB, 24),  # a big server: every lab at once
    (24, 16, 2 * GIB, 5),  # little memory: (2048 - 512) // 300
    (3, 8, 20 * GIB, 3),  # never wider than the class
    (24, 2, 600, 1),  # too little for even one: one at a time, not none
])
def test_the_start_width_comes_from_cores_and_memory(
        labs: int, cores: int, free_mib: int, width: int) -> None:
    assert start_width(labs, cores, free_mib) == width


def test_the_count_names_the_slowest_lab_and_host() -> None:
    assert start_line(0, 24, None) == "0 of 24 labs healthy"
    assert start_line(17, 24, ("s05 db1", 12.34)) == (
        "17 of 24 labs healthy (slowest so far: s05 db1, 12.3 s)")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


LINES = ["starting 24 labs, 4 at once (from the cores and free memory)",
         "[s01] web3  healthy after  4.0 s (10.1.1.13)",
         start_line(1, 24, ("s01 web3", 4.0)),
         "[s02] failed: docker compose up failed",
         start_line(1, 24, ("s01 web3", 4.0)),
         start_line(2, 24, ("s03 db1", 6.0))]


def test_on_a_terminal_one_line_counts_the_labs() -> None:
    out = Terminal()
    voice = StartProgress(out)
    for line in LINES:
        voice(line)
    voice.close()
    text = out.getvalue()
    assert "healthy after" not in text  # each host's line left out
    shown = text.split("\n")
    assert shown[0] == "foolab: " + LINES[0]
    # the count rewrites its own line; the failure gets a line of its own above it
    assert shown[1].endswith("foolab: " + LINES[2]) and "\r" in shown[1]
    assert shown[2] == "foolab: " + LINES[3]
    assert shown[3].rsplit("\r\x1b[K", 1)[-1] == "foolab: " + LINES[5]
    assert shown[4] == ""  # closed: what follows starts on its own line


def test_in_a_log_every_line_plain() -> None:
    out = io.StringIO()
    voice = StartProgress(out)
    for line in LINES:
        voice(line)
    voice.close()
    assert out.getvalue() == "".join(f"foolab: {line}\n" for line in LINES)
    assert "\r" not in out.getvalue()


def test_the_count_is_what_the_terminal_form_recognises() -> None:
    from lab.cli import output
    assert output.COUNT_LINE.match(start_line(3, 24, None))
    assert output.HOST_LINE.match("[s01] ns1   healthy after  2.1 s (10.1.1.2)")
    assert class_layout.STARTS_PER_CORE >= 1
