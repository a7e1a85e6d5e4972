"""The outage a balancer study judges: visits whose fate was known while
the web server was down, not those a quick restart rescued."""

from lab.load.balancestudy import OutageRun, Visit


def test_a_visit_still_waiting_when_the_server_started_is_not_part_of_the_outage() -> None:
    visits = [
        Visit(0.5, "10.1.1.12", 200, "web2", ended=0.51),
        Visit(2.0, "10.1.1.12", None, "TimeoutError", ended=4.0),
        Visit(2.5, "10.1.1.11", 200, "web1", ended=2.51),
        # sent before the start, answered after it: ARP was still resolving
        Visit(9.5, "10.1.1.12", 200, "web2", ended=10.3),
    ]
    run = OutageRun("web", visits, stop_began=1.0, down=1.5, heal_began=10.0, back=10.3)
    assert run.outage == visits[1:3]
    assert run.failed_share == 0.5
    assert run.failed == 1  # failures from the stop until the start, whatever their end
