"""Exercises on the databases (F10, F18, F19): the replica stopped on a
conflicting row, the master dead under writes, the old master back, the
replica dead under the readers. Each breaks the lab in a seeded way; its
solution is the project's own runbook; its cheats are the shortcuts a
grader must catch."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from lab.drills import faults, runbooks
from lab.drills.common import point_web
from lab.drills.faults import Fault
from lab.drills.roles import restore_article_roles
from lab.drills.steps import Runbook
from lab.engine import client
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.exercises import goals, writer
from lab.exercises.definitions import DATA, REPAIR, SYMPTOM, Cheat, Exercise, Goal, Started
from lab.hosts.mariadb import admin_password
from lab.model.errors import LabError
from lab.model.topology import Role, image, topology
from lab.probes import mysql

# The article's roles, the same in every lab (only addresses differ): the
# exercises are declared with them before any lab exists.
_ROLES = topology()
MASTER, REPLICA = _ROLES.master, _ROLES.replica  # db1, db2
READERS = _ROLES.readers_of(REPLICA)  # web2, web3: the web servers that read the replica
NOTES = ("invoice", "parcel", "voucher", "refund", "receipt", "coupon")
KEPT_WHERE_TAKEN = "every acknowledged order kept once"
HOW_DEAD = ("kill", "stop")  # how a dead server went: SIGKILL or a clean stop
STRAY_GAP = 10**6  # old-master-back: db1's own orders, this far above the last id
CATCH_UP_S = 30  # db2 applying db1's last orders before db1 dies (it takes milliseconds)


def _sql(lab: Lab, host: str, statement: str) -> None:
    mysql.query(lab.address_of(host), admin_password(lab), statement)


def _runbook(factory: Callable[[Lab], Runbook]) -> Callable[[Lab, Started], None]:
    """An exercise's solution: one of the article's runbooks, built when it runs."""

    def solve(lab: Lab, _s: Started) -> None:
        runbooks.run(lab, factory(lab))

    return solve


def restore_roles(lab: Lab, _s: Started) -> None:
    """An exercise on the databases ends with the article's roles again."""
    restore_article_roles(lab)


# --- 1. replica-broken (F18) ----------------------------------------------------------------


def _conflict(lab: Lab, s: Started) -> None:
    m, r = lab.topology.master, lab.topology.replica
    row = int(mysql.query(lab.address_of(m), admin_password(lab),
                          "SELECT COALESCE(MAX(id), 0) AS n FROM foo.ledger")[0]["n"])
    row += s.params["offset"]
    note = s.params["note"]
    # A clerk typed two rows straight into the replica; the master's next
    # row takes the first one's id (the second is far out of its way).
    _sql(lab, r, f"INSERT INTO foo.ledger (id, writer, note) VALUES ({row}, 'clerk', "
                 f"'{note} typed on {r}'), ({row + 10**9}, 'clerk', '{note} on {r}')")
    _sql(lab, m, f"INSERT INTO foo.ledger (id, writer, note) VALUES ({row}, 'shop', "
                 f"'{note} {row}')")
    wait_for(f"{r}'s SQL thread stops", lambda: (
        (rs := mysql.replica_status(lab.address_of(r), admin_password(lab)))
        and rs.sql_running == "No"), timeout=30)
    s.baseline["row"] = row


def _skip_the_error(lab: Lab, _s: Started) -> None:
    r = lab.topology.replica
    _sql(lab, r, "STOP SLAVE")
    _sql(lab, r, "SET GLOBAL sql_slave_skip_counter = 1")
    _start_and_see_it_run(lab, r)


def _delete_on_replica_only(lab: Lab, s: Started) -> None:
    r = lab.topology.replica
    _sql(lab, r, "STOP SLAVE")
    _sql(lab, r, f"DELETE FROM foo.ledger WHERE id = {s.baseline['row']}")
    _start_and_see_it_run(lab, r)


def _start_and_see_it_run(lab: Lab, replica: str) -> None:
    """START SLAVE, then SHOW SLAVE STATUS until both threads run, as the
    student who took the shortcut would look (the IO thread is Connecting
    for a moment: graded then, the hidden symptom was not hidden yet)."""
    _sql(lab, replica, "START SLAVE")
    wait_for(f"{replica}'s replication running", lambda: (
        (rs := mysql.replica_status(lab.address_of(replica), admin_password(lab)))
        and rs.running), timeout=30, every=0.5)


def _choose_conflict(r: random.Random) -> dict[str, Any]:
    return {"offset": r.randint(20, 400), "note": r.choice(NOTES)}


REPLICA_BROKEN = Exercise(
    name="replica-broken", section="When the slave has a serious error (F18)",
    notice="web2 and web3 show numbers that stopped growing; web1's keep growing",
    choose=_choose_conflict,
    brief=lambda p: (
        "Since this morning, visitors on web2 and web3 see an order count that no longer "
        "changes, while web1 shows new orders. Every machine is up. Find out why and "
        "make db2 a faithful copy of db1 again, without losing an order."),
    goals=(
        Goal("replication runs", SYMPTOM, 2, "what does SHOW SLAVE STATUS on db2 say?",
             goals.replicates(REPLICA, MASTER)),
        Goal("databases identical", DATA, 2, "compare the tables of db1 and db2 "
             "(row counts, CHECKSUM TABLE), every database", goals.identical(MASTER, REPLICA)),
        Goal("every acknowledged order kept once", DATA, 2,
             "are all of the shop's orders on both servers, once?",
             goals.writes_kept(MASTER, REPLICA)),
    ),
    breaks=_conflict,
    solve=_runbook(lambda lab: runbooks.rebuild_replica(lab, online=True)),
    heal=restore_roles,
    cheats={"skip the error": Cheat(_skip_the_error, "databases identical"),
            "delete the row on the replica only": Cheat(_delete_on_replica_only,
                                                        "databases identical")},
    uses_writer=True,
)


# --- 2. master-dead (F19) ------------------------------------------------------------------


def kill_caught_up(lab: Lab, how: str) -> None:
    """db1 dies (`how`: kill or stop) once db2 has applied every order db1
    acknowledged. db1 first takes no more writes (read_only: the app's
    account cannot pass it; an order sent meanwhile fails and is not
    acknowledged), then db2 waits for db1's last transaction, then the
    fault. Asynchronous replication would otherwise lose an order
    acknowledged just before the kill (master-dead, seen once in CI before
    the wait), and without read_only one could still be taken between the
    read of db1's position and the kill: the grader would blame the
    student's repair for the exercise's own breakage."""
    pw, m, r = admin_password(lab), lab.topology.master, lab.topology.replica
    _sql(lab, m, "SET GLOBAL read_only = ON")
    pos = mysql.query(lab.address_of(m), pw, "SELECT @@gtid_binlog_pos AS p")[0]["p"]
    waited = mysql.query(lab.address_of(r), pw,
                         f"SELECT MASTER_GTID_WAIT('{pos}', {CATCH_UP_S}) AS w")[0]["w"]
    if int(str(waited)) != 0:
        raise LabError(f"{r} did not apply {m}'s last orders within {CATCH_UP_S} s",
                       f"{m} at GTID {pos}", f"`foolab status`: is {r} replicating?")
    faults.inject(lab, Fault(how, m))


def _kill_master(lab: Lab, s: Started) -> None:
    kill_caught_up(lab, s.params["variant"])
    _disk_lost(lab, lab.topology.master)


# A new, empty data directory, as on a machine whose disk was replaced.
NEW_DISK = ("sh", "-c", "rm -rf /var/lib/mysql/* && mariadb-install-db --user=mysql "
                        "--datadir=/var/lib/mysql --skip-test-db >/dev/null")


def _disk_lost(lab: Lab, host: str) -> None:
    """The dead master's disk died with it: started again, it is an empty
    server (db-setup makes the accounts and an empty schema). So a student
    who restarts it instead of promoting db2 has the site take orders on a
    server without the confirmed ones, and the data goal says so."""
    client.run_once(image(Role.DB), NEW_DISK,
                    {lab.topology.data_volume(host): "/var/lib/mysql"})


def _heal_master_dead(lab: Lab, s: Started) -> None:
    """db2 holds the only copy of the orders: make it the master first if
    the student did not (db1, empty or restarted, stopped for it), then the
    article's roles again (db1 reloaded from db2, roles switched back)."""
    m, r = lab.topology.master, lab.topology.replica
    if mysql.replica_status(lab.address_of(r), admin_password(lab)) is not None:
        if lab.states()[m].status == "running":
            client.stop(lab.topology.host(m).container)
        runbooks.run(lab, runbooks.promote_replica(lab))
    restore_article_roles(lab)


def _point(webs: tuple[str, ...] | None, db: str) -> Callable[[Lab, Started], None]:
    """Point web servers (None: all) at `db` for writes and reads."""

    def repair(lab: Lab, _s: Started) -> None:
        there = (db, lab.address_of(db))
        runbooks.run(lab, Runbook(f"point at {db}", "", tuple(
            point_web(w, there, there) for w in webs or lab.topology.webs)))

    return repair


def _start_again(host: str) -> Callable[[Lab, Started], None]:
    """Undo the fault and wait for the host, as a student restarting it would."""

    def repair(lab: Lab, _s: Started) -> None:
        faults.heal_all(lab)
        wait_for(f"{host} healthy", lambda: lab.ready(host), timeout=90)

    return repair


MASTER_DEAD = Exercise(
    name="master-dead", section="When the master is down for long (F19)",
    notice="no web server can save an order; pages still show",
    choose=lambda r: {"variant": r.choice(HOW_DEAD)}, variants=HOW_DEAD,
    brief=lambda p: (
        "The order form fails on every web server with a database error; reading pages "
        "still works on web2 and web3. db1 is dead and will not come back today. Make the "
        "site take orders again, without losing one that was confirmed."),
    goals=(
        Goal("orders accepted through every web server", SYMPTOM, 2,
             "what does /db.php?write=1 answer on each web server?",
             goals.writes_through_every_web),
        Goal("db2 is the master", REPAIR, 1, "can db2 take writes, and does it still "
             "follow a master?", goals.is_master(REPLICA)),
        Goal(KEPT_WHERE_TAKEN, DATA, 2,
             "are all confirmed orders on the server that now takes them?",
             goals.writes_kept_where_written()),
    ),
    breaks=_kill_master,
    solve=_runbook(runbooks.promote_replica),
    heal=_heal_master_dead,
    cheats={"point the web servers at the read-only replica": Cheat(
                _point(None, REPLICA), "orders accepted through every web server"),
            "start the dead master again": Cheat(_start_again(MASTER), KEPT_WHERE_TAKEN)},
    uses_writer=True,
)


# --- 3. old-master-back (F19) ---------------------------------------------------------------


def _old_master_back(lab: Lab, s: Started) -> None:
    old = lab.topology.master
    kill_caught_up(lab, "kill")
    runbooks.run(lab, runbooks.promote_replica(lab, take_address=False))
    # An order sent to web1 before it was pointed at db2 may still be
    # connecting to db1 (PHP waits 2 s; its SYN is sent again to db1's
    # address and MAC, which a restarted db1 has again): db1 back too soon
    # would take it and acknowledge it, then the reload
    # from db2 that repairs db1 drops it (CI, twice). db1 returns once the
    # order in flight has its answer: every later one goes to db2.
    writer.wait_in_flight(lab, s.writer)
    faults.heal_all(lab)  # db1 repaired: it starts as the master it was
    wait_for(f"{old} healthy", lambda: lab.ready(old), timeout=90)
    # The classic danger: orders the old master took that the new one never
    # saw. Numbered far above the new master's (as auto_increment_offset
    # would keep two masters apart): a row of the new master replicated
    # later never collides with them, so only the data goals tell.
    first = int(mysql.query(lab.address_of(old), admin_password(lab),
                            f"SELECT COALESCE(MAX(id), 0) + {STRAY_GAP} AS n "
                            "FROM foo.ledger")[0]["n"])
    for i in range(s.params["stray"]):
        _sql(lab, old, "INSERT INTO foo.ledger (id, writer, note) VALUES "
                       f"({first + i}, 'stray', 'taken by {old} alone {i}')")


def _just_change_master(lab: Lab, _s: Started) -> None:
    """Replicate from db2's position now, keeping what db1 has: db1 neither
    loses its stray rows nor gets what db2 took while db1 was away."""
    from lab.hosts.mariadb import change_master

    old, new = lab.topology.master, lab.topology.replica
    now = mysql.query(lab.address_of(new), admin_password(lab),
                      "SELECT @@gtid_binlog_pos AS p")[0]["p"]
    _sql(lab, old, "STOP SLAVE")
    _sql(lab, old, f"SET GLOBAL gtid_slave_pos = '{now}'")
    _sql(lab, old, change_master(lab, lab.address_of(new)))
    _sql(lab, old, "SET GLOBAL read_only = ON")
    _sql(lab, old, "START SLAVE")
    wait_for(f"{old} replicating", lambda: (r := mysql.replica_status(
        lab.address_of(old), admin_password(lab))) is not None and r.running, timeout=30)


OLD_MASTER_BACK = Exercise(
    name="old-master-back", section="The repaired old master comes back as the slave (F19)",
    notice="db1 answers again but takes no part in replication",
    choose=lambda r: {"stray": r.randint(2, 9)},
    brief=lambda p: (
        "db2 took over as master yesterday and the site runs on it. db1 is repaired and "
        "back on the network. Make db1 a faithful copy of db2 again, so it can take over "
        "next time."),
    goals=(
        Goal("db1 replicates from db2", SYMPTOM, 2, "what does SHOW SLAVE STATUS on db1 say?",
             goals.replicates(MASTER, REPLICA)),
        Goal("databases identical", DATA, 2, "did db1 keep anything db2 never had?",
             goals.identical(REPLICA, MASTER)),
        Goal("db1 is read-only", REPAIR, 1, "could the application write on db1 by mistake?",
             goals.read_only(MASTER)),
        Goal("every acknowledged order kept once", DATA, 1,
             "are all confirmed orders on both servers, once?",
             goals.writes_kept(REPLICA, MASTER)),
    ),
    breaks=_old_master_back,
    solve=_runbook(runbooks.rejoin_old_master),
    heal=restore_roles,
    cheats={"CHANGE MASTER from db2's position now, no reload": Cheat(
                _just_change_master, "databases identical")},
    uses_writer=True,
)


# --- 7. reads-from-dead-replica (F10) --------------------------------------------------------


READS_FROM_DEAD_REPLICA = Exercise(
    name="reads-from-dead-replica", section="Reads split between master and slave (F10)",
    notice="pages that list orders fail on web2 and web3; web1 works",
    choose=lambda r: {"variant": r.choice(HOW_DEAD)}, variants=HOW_DEAD,
    brief=lambda p: (
        "Pages that list orders fail on web2 and web3 with a database error; web1 is fine. "
        "db2 is broken and waits for spare parts. Make every web server show orders "
        "again."),
    goals=(
        Goal("reads succeed on web2 and web3", SYMPTOM, 2,
             "what does /db.php answer on web2 and web3?",
             goals.reads_succeed(READERS)),
        Goal("web2 and web3 read from the master", REPAIR, 2,
             "which database does each web server read now?",
             goals.reads_from(READERS, MASTER)),
    ),
    breaks=lambda lab, s: faults.inject(lab, Fault(s.params["variant"], REPLICA)),
    solve=_point(READERS, MASTER),
    heal=restore_roles,
    cheats={"only web2": Cheat(_point(READERS[:1], MASTER), "reads succeed on web2 and web3"),
            "start the broken replica again": Cheat(_start_again(REPLICA),
                                                    "web2 and web3 read from the master")},
)
