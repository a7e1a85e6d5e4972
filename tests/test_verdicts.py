from lab.drills.verdicts import PROBE, claims_an_order, consistency, content, ledger, mark, orders
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


# --- the exercises' marked orders: only the teacher's side can make one ------------------------

KEY, TAG = bytes(range(32)), "ex0badc0de"


def marked(*seqs: int) -> list[tuple[int | None, str]]:
    """The writer's rows for these numbers, as the database holds them."""
    return [(s, mark(KEY, TAG, s)) for s in seqs]


def test_a_mark_verifies_only_under_its_key_tag_and_number():
    m = mark(KEY, TAG, 7)
    assert claims_an_order(m) and m == mark(KEY, TAG, 7)
    assert m not in {mark(KEY, TAG, 8), mark(KEY, "ex00000000", 7), mark(bytes(32), TAG, 7)}
    assert not claims_an_order("typed on db2") and not claims_an_order(m[:-1])


def test_the_honest_history_passes():
    # 1-5 acknowledged, 6 timed out and landed, 7 timed out and did not
    # (Jepsen: an indeterminate order may or may not be there); other
    # visitors' rows, whatever their number, count for nothing.
    v = orders(KEY, TAG, range(1, 8), range(1, 6),
               [*marked(1, 2, 3, 4, 5, 6), (3, ""), (None, "typed on db2"), (9, "x" * 64)])
    assert v.ok and v.problems() == "" and not v.forged and not v.unsent
    assert v.ledger.indeterminate == 2 and v.ledger.unacknowledged_found == [6]


def test_a_forged_mark_fails():
    # Order 3 acknowledged, deleted, and typed in again by hand with a note
    # copied from order 2 (it does not verify for 3), or made up.
    for note in (mark(KEY, TAG, 2), "0" * 64, mark(KEY, TAG, 3).upper()):
        v = orders(KEY, TAG, range(1, 5), range(1, 5), [*marked(1, 2, 4), (3, note)])
        assert not v.ok and v.forged == [3] and v.ledger.lost == [3], note
        assert "does not verify" in v.problems() and "lost [3]" in v.problems()


def test_an_earlier_exercises_orders_count_for_nothing():
    # The same lab ran another writer exercise before: its orders, marked
    # under another key with the same numbers, stay in the ledger.
    earlier = [(s, mark(bytes(32), "ex11111111", s)) for s in (1, 2, 3, 4)]
    v = orders(KEY, TAG, range(1, 4), range(1, 4), [*earlier, *marked(1, 2, 3)])
    assert v.ok and v.ledger.duplicated == [] and v.problems() == ""


def test_tampered_a_hand_inserted_order_with_a_missing_number_fails():
    """Gold test, tampered: the student types in order 3 the writer saw
    acknowledged and is gone. Without a mark it is a visitor's row and 3 is
    lost; with a mark-shaped note it is a forgery; either way, no pass."""
    plain = orders(KEY, TAG, range(1, 5), range(1, 5), [*marked(1, 2, 4), (3, "order 3")])
    assert not plain.ok and plain.ledger.lost == [3] and "lost [3]" in plain.problems()
    shaped = orders(KEY, TAG, range(1, 5), range(1, 5), [*marked(1, 2, 4), (3, "ab" * 32)])
    assert not shaped.ok and shaped.forged == [3] and shaped.ledger.lost == [3]


def test_an_acknowledged_then_deleted_order_fails():
    v = orders(KEY, TAG, range(1, 6), range(1, 6), marked(1, 2, 4, 5))
    assert not v.ok and v.ledger.lost == [3] and not v.forged


def test_an_order_never_sent_fails_and_a_duplicate_fails():
    # 4 passed over by the writer (its log goes 3, 5), yet found with its mark
    unsent = orders(KEY, TAG, (1, 2, 3, 5), (1, 2, 3, 5), marked(1, 2, 3, 4, 5))
    assert not unsent.ok and unsent.unsent == [4] and "never sent" in unsent.problems()
    in_flight = orders(KEY, TAG, range(1, 4), range(1, 4), marked(1, 2, 3, 4))
    assert in_flight.ok  # sent after the grader read the log
    twice = orders(KEY, TAG, range(1, 4), range(1, 4), marked(1, 2, 2, 3))
    assert not twice.ok and twice.ledger.duplicated == [2]


def test_the_graders_own_test_orders_are_set_aside():
    probe = (2, mark(KEY, TAG + PROBE, 2))  # the grader's test order number 2
    v = orders(KEY, TAG, range(1, 4), range(1, 4), [*marked(1, 2, 3), probe])
    assert v.ok and v.probes == 1 and v.ledger.duplicated == []
