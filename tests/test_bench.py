from pathlib import Path

import pytest

from lab.bench.results_doc import render_markdown, scenario_times
from lab.model.figures import Figure, percentile


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == 99
    with pytest.raises(ValueError):
        percentile([], 50)


def test_figure_reports_median_and_spread():
    f = Figure("lab-up warm", "s", [9.0, 7.0, 8.0])
    d = f.as_dict()
    assert (d["median"], d["min"], d["max"]) == (8.0, 7.0, 9.0)
    assert Figure("empty", "s").as_dict()["median"] is None


def test_markdown_is_written_from_the_results_only():
    results = {
        "when": "2026-11-26", "quick": True,
        "machine": {"cores": 2, "memory_mib": 24000, "kernel": "6", "docker_engine": "20.10"},
        "figures": [Figure("lab-up warm", "s", [7.5]).as_dict()],
        "memory_mib": {"db1": 51.0},
        "scenarios": {"test_hosts::test_x": 1.25}, "scenarios_source": "junit",
    }
    text = render_markdown(results, ["test_hosts"])
    assert "make bench QUICK=1" in text and "2 cores" in text
    assert "| lab-up warm | 7.50 | 7.50 | 7.50 | 1 | s |" in text
    assert "| db1 | 51.0 |" in text and "| test_hosts::test_x | 1.2" in text


def test_every_scenario_module_has_a_row_measured_or_not():
    from lab.bench.results_doc import scenario_modules, scenario_rows

    times = {"test_b::test_x[1]": 2.0, "test_b::test_y": 0.25, "test_gone::test_z": 1.0}
    assert scenario_rows(times, ["test_a", "test_b", "test_c"]) == [
        "| test_a | not measured yet |", "| test_b::test_x[1] | 2.0 |",
        "| test_b::test_y | 0.2 |", "| test_c | not measured yet |",
        "| test_gone::test_z | 1.0 |"]
    assert "test_load_resolvers" in scenario_modules()


def test_scenario_times_from_junit(tmp_path: Path):
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="scenarios.test_replication" name="test_a" time="12.5"/>'
        '<testcase classname="tests.test_bench" name="test_b" time="0.1"/>'
        '</testsuite></testsuites>')
    assert scenario_times(xml) == {"test_replication::test_a": 12.5}


def test_a_part_measured_again_replaces_its_figures_and_says_when():
    from lab.bench.results_doc import merge_part

    old = {"when": "then", "figures": [Figure("a", "s", [1.0]).as_dict(),
                                       Figure("b", "s", [2.0]).as_dict()]}
    new = merge_part(old, "writes", [Figure("b", "s", [5.0]), Figure("c", "n", [7.0])])
    assert [(f["name"], f["runs"]) for f in new["figures"]] == [
        ("a", [1.0]), ("b", [5.0]), ("c", [7.0])]
    assert "writes" in new["parts"] and new["when"] == "then"
    assert "measured again" in render_markdown(dict(new, quick=False, machine={
        "cores": 2, "memory_mib": 1, "docker_engine": "x", "kernel": "k"}), [])


def test_dashboard_figures_read_pushed_documents_and_cpu_ticks():
    import os
    import queue

    from lab.bench import dashboard_cost

    docs: queue.Queue = queue.Queue()
    docs.put((5.0, {"hosts": [{"name": "web3", "state": "running"}]}))
    docs.put((5.5, {"hosts": [{"name": "web3", "state": "paused"}]}))
    assert dashboard_cost._seen(docs, "web3", 5.0, want="paused") == 0.5
    assert dashboard_cost._cpu_ticks(os.getpid()) > 0


def test_a_part_measured_again_drops_the_rows_its_code_no_longer_names():
    from lab.bench.results_doc import SUPERSEDED, merge_part
    from lab.model.figures import Figure

    old = SUPERSEDED["failover"][0]
    results = {"figures": [{"name": old, "unit": "s", "runs": [1.0]},
                           {"name": "kept", "unit": "s", "runs": [2.0]}]}
    merged = merge_part(results, "failover", [Figure("new", "s", [3.0])])
    assert [f["name"] for f in merged["figures"]] == ["kept", "new"]
