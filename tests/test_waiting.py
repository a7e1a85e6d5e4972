import pytest

from lab.engine.waiting import wait_for
from lab.model.errors import LabError


def test_returns_the_first_truthy_value():
    seen = iter([None, 0, ValueError("not yet"), "ready"])

    def probe():
        v = next(seen)
        if isinstance(v, Exception):
            raise v
        return v

    assert wait_for("thing", probe, timeout=5, every=0) == "ready"


def test_times_out_naming_what_and_the_last_observation():
    def probe():
        raise ValueError("lag 3 s")

    with pytest.raises(LabError, match=r"replica caught up: not within 0.05 s: .*lag 3 s"):
        wait_for("replica caught up", probe, timeout=0.05, every=0.01)
