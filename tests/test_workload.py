from lab.drills.workload import FAILED, INDETERMINATE, OK, outcome_of


def test_a_write_never_sent_failed_and_one_unanswered_is_indeterminate():
    assert outcome_of("") == OK
    assert outcome_of("connect: (2003, \"Can't connect to MySQL server\")") == FAILED
    assert outcome_of("ConnectionRefusedError: [Errno 111] Connection refused") == FAILED
    assert outcome_of("HTTP 503: {\"error\":\"Connection timed out\"}") == FAILED
    assert outcome_of("(2013, 'Lost connection to MySQL server during query')") == INDETERMINATE
    assert outcome_of("TimeoutError: timed out") == INDETERMINATE
    assert outcome_of('HTTP 503: {"error":"MySQL server has gone away"}') == INDETERMINATE
