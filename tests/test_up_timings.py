"""`foolab up --timings` (no Docker): each phase's seconds, a phase met
twice adds up, a phase that raised still counts, the whole comes last."""

from __future__ import annotations

import pytest

from lab.model.timings import WHOLE, Phases


def test_phases_add_up_in_the_order_they_began_and_the_whole_comes_last() -> None:
    phases = Phases()
    phases.add(WHOLE, 5.0)
    phases.add("image foolab/db: up to date", 0.25)
    phases.add("db1 running -> healthy", 3.0)
    phases.add("image foolab/db: up to date", 0.25)
    lines = phases.lines()
    assert [line.split("  ")[0].strip() for line in lines] == [
        "image foolab/db: up to date", "db1 running -> healthy", WHOLE]
    assert lines[0].endswith("0.50 s") and lines[-1].endswith("5.00 s")
    assert len({line.index(" s") for line in lines}) == 1  # aligned


def test_a_phase_that_raised_is_still_counted() -> None:
    phases = Phases()
    with pytest.raises(RuntimeError), phases.timed("compose up"):
        raise RuntimeError("compose failed")
    assert "compose up" in phases.took


def test_no_phase_no_lines() -> None:
    assert Phases().lines() == []
