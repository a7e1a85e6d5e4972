"""Break it and recover it: the cookie conundrum (F9).

A PHP session lives in a file on the server that started it. A visitor
whom round-robin DNS sends to another server arrives with a cookie that
server has never heard of, and the visit count starts over. The article's
fix: one session directory shared by all web servers (lab.admin.sessions, the
`php-sessions` volume). The lab is switched back to local files at the end.
"""

from __future__ import annotations

import pytest

from lab.admin import sessions
from lab.probes import pages

WEBS = ["web1", "web2", "web3"]


def visit(topo, web: str, cookie: str | None = None) -> pages.WebResponse:
    resp = pages.fetch(topo.address(web), "/session.php", cookie=cookie)
    assert resp.status == 200 and resp.served_by == web
    return resp


def test_a_session_started_on_web1_is_unknown_on_the_others(topo, prove_nothing_lost):
    first = visit(topo, "web1")
    page = first.json()
    assert page["save_path"] == sessions.LOCAL_DIR  # local files: the article's problem
    assert first.cookie and first.cookie.startswith("PHPSESSID=") and page["visits"] == 1
    assert visit(topo, "web1", first.cookie).json()["visits"] == 2  # web1 knows it
    for web in ("web2", "web3"):
        other = visit(topo, web, first.cookie).json()
        assert other["visits"] == 1, f"{web} knew the session: {other}"
    assert visit(topo, "web1", first.cookie).json()["visits"] == 3  # still only on web1
    prove_nothing_lost()


@pytest.fixture
def shared_sessions(lab):
    """All three web servers on the shared session directory; back to their
    local files afterwards, whatever happens."""
    try:
        yield sessions.use_shared_sessions(lab, True)
    finally:
        back = sessions.use_shared_sessions(lab, False)
        assert set(back.servers.values()) == {sessions.LOCAL_DIR}


@pytest.mark.destructive
def test_a_shared_session_directory_keeps_counting_across_servers(topo, shared_sessions,
                                                                   prove_nothing_lost):
    assert shared_sessions.servers == {web: sessions.SHARED_DIR for web in WEBS}
    first = visit(topo, "web1")
    assert first.cookie and first.json()["visits"] == 1
    session_id = first.json()["session_id"]
    for visits, web in enumerate(["web2", "web3", "web1", "web3", "web2"], start=2):
        page = visit(topo, web, first.cookie).json()
        assert page["save_path"] == sessions.SHARED_DIR
        assert (page["session_id"], page["visits"]) == (session_id, visits), web
    prove_nothing_lost()
