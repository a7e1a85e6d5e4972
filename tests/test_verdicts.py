from lab.drills.verdicts import consistency, content, ledger
from lab.probes.mysql import TableState


def test_ledger_finds_lost_and_duplicated_writes():
    v = ledger(attempted=range(1, 11), acknowledged=[1, 2, 3, 4, 5, 6, 7],
               stored=[1, 2, 3, 3, 5, 6, 7, 8])
    assert v.lost == [4]
    assert v.duplicated == [3]
    assert v.unacknowledged_found == [8]
    assert (v.attempted, v.acknowledged, v.found) == (10, 7, 7)
    assert not v.ok


def test_ledger_of_a_clean_run_is_ok():
    v = ledger(range(5), range(4), range(5))
    assert v.ok and v.unacknowledged_found == [4]


def test_consistency_compares_counts_and_checksums():
    same = {"ledger": TableState(3, 99), "visits": TableState(0, 0)}
    assert consistency("db1", same, "db2", dict(same)).equal
    other = {"ledger": TableState(3, 98)}
    v = consistency("db1", same, "db2", other)
    assert not v.equal and v.differing == ["ledger", "visits"]
    assert not consistency("db1", {}, "db2", {}).equal  # nothing compared proves nothing


def test_content_lists_missing_extra_and_changed_files():
    v = content("web1", {
        "web1": {"./a": "1", "./b": "2"},
        "web2": {"./a": "1", "./b": "2"},
        "web3": {"./a": "x", "./c": "3"},
    })
    assert v.differences == {"web2": [], "web3": ["./a", "./b", "./c"]}
    assert not v.equal


def test_ledger_tells_failed_from_indeterminate_writes():
    # 1-3 acknowledged, 4 failed before it was sent, 5-6 timed out.
    v = ledger(range(1, 7), [1, 2, 3], stored=[1, 2, 3, 5], failed=[4])
    assert v.ok and v.indeterminate == 2 and v.unacknowledged_found == [5]
    landed = ledger(range(1, 7), [1, 2, 3], stored=[1, 2, 3, 4], failed=[4])
    assert not landed.ok and landed.failed_found == [4]  # a "failed" write that happened
