"""The startup bench keeps each kind of start's phases apart (no Docker):
fresh, cold and warm each get their own "KIND: PHASE" rows."""

from __future__ import annotations

from typing import Any

import pytest

from lab.bench import startup
from lab.model.figures import Figure
from lab.model.timings import WHOLE, Phases


class FakeLab:
    def __init__(self, build_s: float) -> None:
        self.build_s = build_s
        self.phases = Phases()

    def is_up(self) -> bool:
        return False

    def up(self) -> dict[str, float]:
        self.phases = Phases({"image foolab/web: built": self.build_s, WHOLE: self.build_s + 3})
        return {"web1": 1.0}


def test_fresh_cold_and_warm_phases_stay_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup.client, "remove_images", lambda *_a: None)
    phases: dict[str, Figure] = {}
    kinds: list[tuple[Any, bool, bool]] = [(FakeLab(27.0), True, True),
                                           (FakeLab(20.0), True, False),
                                           (FakeLab(0.0), False, False)]
    for lab, cold, fresh in kinds:
        startup.lab_up_times(lab, 1, cold=cold, fresh=fresh,  # type: ignore[arg-type]
                             progress=lambda _m: None, phases=phases)
    assert {k: f.runs for k, f in phases.items()} == {
        "lab-up fresh: image foolab/web: built": [27.0],
        "lab-up cold: image foolab/web: built": [20.0],
        "lab-up warm: image foolab/web: built": [0.0]}
