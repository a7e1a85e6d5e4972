"""F10 proven by data: web1 reads from the master, web2 and web3 from the
replica. A row that only db2 has (written there with the binary log off, so
it never replicates) is seen through web2's and web3's read page and not
through web1's; it is removed again the same way."""

from __future__ import annotations

import uuid

import pytest

from lab.probes import mysql, pages

pytestmark = pytest.mark.destructive  # db2 differs from db1 for a moment


def on_db2_only(address: str, admin_password: str, statement: str) -> None:
    """One statement on the replica, kept out of its binary log."""
    conn = mysql.connect(address, "admin", admin_password, "foo")
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(statement)
    finally:
        conn.close()


def test_each_web_server_reads_the_database_the_article_names(lab, admin_password,
                                                               prove_nothing_lost):
    note = f"db2-only-{uuid.uuid4().hex[:8]}"
    db2 = lab.address_of("db2")
    # The lab's admin may write on the read-only replica; sql_log_bin=0
    # keeps the row out of db2's own binary log.
    on_db2_only(db2, admin_password, f"INSERT INTO ledger (writer, note) VALUES ('f10', '{note}')")
    try:
        seen = {web: pages.fetch(lab.address_of(web), f"/db.php?note={note}").json()
                for web in lab.topology.webs}
        assert {web: page["note_rows"] for web, page in seen.items()} == {
            "web1": 0, "web2": 1, "web3": 1}, seen
        assert mysql.query(lab.address_of("db1"), admin_password,
                           f"SELECT id FROM foo.ledger WHERE note = '{note}'") == []
    finally:
        on_db2_only(db2, admin_password, f"DELETE FROM ledger WHERE note = '{note}'")
    prove_nothing_lost()


def test_the_replica_refuses_the_applications_writes(lab):
    """db2 runs read-only: the web application's account cannot write there
    (and break replication); only replication and the admin can."""
    password = lab.secrets()["APP_PASSWORD"]
    conn = mysql.connect(lab.address_of("db2"), "app", password, "foo")
    try:
        with conn.cursor() as cur, pytest.raises(Exception, match="read-only|READ ONLY|1290"):
            cur.execute("INSERT INTO ledger (writer, note) VALUES ('app', 'on the replica')")
    finally:
        conn.close()
