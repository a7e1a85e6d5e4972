"""The resolver study's pieces that need no Docker: its settings and their
one-line refusals, the visitor- and resolver-level figures, the short-TTL
zone edit, the resolver addresses, and the report written from data."""

from __future__ import annotations

import pytest

from lab.admin import resolvers, zone
from lab.load.settings import RunSettings
from lab.load.study import README_BEGIN, README_END, readme_block, render, write_readme
from lab.load.units import cycle_share, rotation, second_spread, share_ratio, unit_figures
from lab.model.config import REPO
from lab.model.errors import LabError, TopologyError
from lab.model.topology import RESOLVER_OCTETS, topology

# --- settings: bad input is refused before anything starts ------------------------------


@pytest.mark.parametrize("kwargs, says", [
    ({"cache": "none", "resolvers": 2}, "contradicts"),
    ({"cache": "resolver", "resolvers": 0}, "contradicts"),
    ({"cache": "resolver", "resolvers": 7}, "room for 1-6"),
    ({"cache": "resolver", "resolvers": 2, "population": "odd"}, "population 'odd'"),
    ({"cache": "resolver", "resolvers": 2, "order": "random"}, "resolver order"),
    ({"cache": "resolver", "resolvers": 2, "zone_ttl_s": 0}, "zone TTL"),
])
def test_bad_resolver_settings_are_one_line(kwargs, says):
    with pytest.raises(ValueError, match=says) as err:
        RunSettings(5, 10, **kwargs)
    assert "\n" not in str(err.value)


def test_resolver_runs_are_named_by_count_order_and_population():
    s = RunSettings(5, 10, "resolver", resolvers=3, order="fixed", population="skewed")
    assert s.label == "3 resolvers fixed skewed"
    assert s.slug == "3-resolvers-fixed-skewed"
    assert s.served_ttl_s == 86400  # the zone's own TTL (F2) unless the run sets one
    assert RunSettings(5, 10, "resolver", resolvers=1, zone_ttl_s=5).served_ttl_s == 5


# --- where the resolvers sit ---------------------------------------------------------------


def test_resolvers_sit_on_free_octets_and_no_further():
    topo = topology("10.1.2.0/24")
    taken = {int(h.address.rsplit(".", 1)[1]) for h in topology(balancer=True, mha=True).hosts}
    assert not set(RESOLVER_OCTETS) & (taken | {1, 20, 100})  # gateway, float, loadgen
    assert topo.resolver_address(1) == "10.1.2.41"
    with pytest.raises(TopologyError):
        topo.resolver_address(len(RESOLVER_OCTETS) + 1)
    with pytest.raises(LabError, match="room for 1-6"):
        resolvers.names(7)


def test_the_resolver_compose_file_has_one_service_per_address():
    text = (REPO / "compose" / "resolvers.yml").read_text()
    for i in range(1, len(RESOLVER_OCTETS) + 1):
        assert f"res{i}:" in text and f"RES{i}_ADDR" in text


# --- the short TTL ----------------------------------------------------------------------------


def test_a_short_ttl_is_a_ttl_line_first_and_keeps_the_records():
    original = (REPO / "images" / "dns" / "db.foo.com").read_text()
    short = resolvers.with_ttl(original, 5)
    assert short.splitlines()[0].startswith("$TTL 5 ")
    assert zone.www_of(short) == zone.www_of(original)
    assert zone.serial_of(short) == zone.serial_of(original)  # the caller bumps it
    again = resolvers.with_ttl(short, 7).splitlines()
    assert [line[:6] for line in again if line.startswith("$TTL")] == ["$TTL 7"]


# --- visitor- and resolver-level figures ------------------------------------------------------


def test_the_rotation_is_read_from_answers_even_with_neighbours_swapped():
    seq = list("3121323123123123")  # one pair swapped near the start
    assert rotation(seq) == ["3", "1", "2"]
    assert 0.7 < (cycle_share(seq) or 0) < 1.0
    assert cycle_share(list("123123123")) == 1.0
    assert cycle_share(list("1111")) == 0.0  # a cache that never moves
    assert cycle_share(["1"]) is None


def test_ratio_and_spread():
    assert share_ratio({"web1": 50, "web2": 25, "web3": 25}) == 2.0
    assert share_ratio({"web1": 50, "web2": 0}) is None
    timeline = [(0, {"web1": 9}), (5, {"web1": 2, "web2": 1, "web3": 1}),
                (6, {"web1": 3, "web2": 3, "web3": 3})]
    assert second_spread(timeline, ["web1", "web2", "web3"]) == pytest.approx(0.125)


def test_sessions_and_resolvers_are_counted_per_visitor():
    visits = {
        "resolvers": ["10.1.2.41", "10.1.2.42"],
        "visitors": [
            {"resolver": "10.1.2.41", "class": "Analyst", "requests": {"web1": 5},
             "session_requests": 0, "session_breaks": 0},
            {"resolver": "10.1.2.42", "class": "Reader", "requests": {"web2": 7},
             "session_requests": 3, "session_breaks": 1},
            {"resolver": "10.1.2.42", "class": "Reader", "requests": {"web2": 4},
             "session_requests": 2, "session_breaks": 0},
        ],
        "dns_sequence": ["10.1.2.11"] * 4,
    }
    u = unit_figures(visits, {"web1": 5, "web2": 11, "web3": 0}, [], {"res1": "web1"})
    assert (u.session_visitors, u.broken_sessions, u.broken_share) == (2, 1, 0.5)
    assert [(r.name, r.visitors, r.heavy_visitors, r.held_first) for r in u.resolvers] == [
        ("res1", 1, 1, "web1"), ("res2", 2, 0, "")]
    assert u.resolvers[1].requests == {"web1": 0, "web2": 11, "web3": 0}
    assert u.share_ratio is None and u.dns_cycle == 0.0


# --- the study's report and the README block ---------------------------------------------------


def _row(mode: str) -> dict[str, object]:
    return {"mode": mode, "title": mode, "visitors": 12, "seconds": 20, "ttl_s": 86400,
            "requests": 90, "failures": 0, "share": {"web1": 0.5, "web2": 0.25, "web3": 0.25},
            "cpu_share": {"web1": 0.6, "web2": 0.2, "web3": 0.2}, "share_ratio": 2.0,
            "second_spread": 0.3, "broken_sessions": 2, "session_visitors": 5,
            "dns_cycle": 0.8, "heavy_server": "web1", "heavy_request_share": 0.5,
            "heavy_cpu_share": 0.6, "chi_square_p": 0.5 if mode == "none" else None,
            "resolvers": [], "loadgen_cpu_percent": 5.0, "loadgen_bottleneck": False,
            "machine_busy_percent": 90}


def test_the_study_report_says_where_its_figures_come_from(tmp_path):
    rows = [_row("none"), _row("skewed")]
    text = render(rows, None, "2026-01-01 00:00 UTC", [])
    assert "`make load-report`" in text and "2026-01-01 00:00 UTC" in text
    assert "| skewed | 86400 s | 90 | 50 % | 25 % | 25 % | 2.00 |" in text
    assert "a request-level p-value does not apply" in text
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{README_BEGIN}\nold\n{README_END}\nafter\n")
    assert write_readme(readme, readme_block(rows, "2026-01-01 00:00 UTC"))
    out = readme.read_text()
    assert out.startswith("before\n") and out.endswith("after\n") and "old" not in out
    assert "| skewed |" in out


def test_the_readme_has_the_study_markers():
    text = (REPO / "README.md").read_text()
    assert README_BEGIN in text and README_END in text


# --- a run through a fault, from fixed data -------------------------------------------------


def _during(rows):
    from lab.load.during import DuringRun, Phase
    from lab.load.settings import RunSettings
    from lab.load.summary import RunData, summarize

    visits = {"rows": rows, "locust_stats": []}
    summary = summarize(RunData(RunSettings(3, 30), ("web1", "web2", "web3"), visits, None,
                                30.0, "t"))
    phases = (Phase("web2 stopped", "fault", 5.0, 10.0),
              Phase("web2 started, until healthy", "recovery", 10.0, 12.0))
    return DuringRun("web-down", summary, phases, tuple(tuple(r) for r in rows))


def test_a_fault_run_says_when_visitors_saw_errors_and_how_shares_moved(tmp_path):
    from lab.load.timeline import during_lines, shares_by_stretch, write_during_report

    run = _during([[1, "web1", "/light.php", "ok", 2], [1, "web2", "/light.php", "ok", 2],
                   [6, "web2", "/db.php", "fail", 1], [11, "web2", "/light.php", "fail", 1],
                   [8, "web1", "/light.php", "ok", 3], [20, "web2", "/light.php", "ok", 4]])
    assert run.error_window == (6, 11)
    assert run.failures("web2", "/db.php") == [(6, 1)]
    moved = shares_by_stretch(run)
    assert moved["before"]["web2"] == 0.5 and moved["after"]["web2"] == 1.0
    lines = during_lines(run)
    assert "Visitors saw errors from second 6 to second 11 of the run (6 s)." in lines
    files = write_during_report(run, tmp_path)
    assert {f.name for f in files} >= {"during.md", "during.json", "report.json"}


# --- the CLI refuses bad input in one line, before anything starts ------------------------


@pytest.mark.parametrize("argv, says", [
    (["--resolvers", "9"], "room for 1-6"),
    (["--resolvers", "2", "--cache", "none"], "contradicts"),
    (["--resolvers", "2", "--population", "odd"], "population 'odd'"),
    (["--resolvers", "2", "--resolver-order", "random"], "resolver order"),
    (["--during", "meteor"], "unknown --during"),
    (["--resolvers", "2", "--compare"], "a run of its own"),
])
def test_bad_load_options_are_one_line_and_start_nothing(argv, says, capsys, monkeypatch,
                                                         tmp_path):
    from lab.cli import main

    monkeypatch.setenv("FOOLAB_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("lab.engine.lab.Lab.require_up",
                        lambda self: pytest.fail("the lab was asked for"))
    assert main(["load", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err
