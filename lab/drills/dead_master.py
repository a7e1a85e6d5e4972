"""The article's procedures for a dead master (F19): promote the replica,
bring the repaired old master back as its replica, switch the roles back."""

from __future__ import annotations

from lab.drills.common import (
    answering,
    dump_has_position,
    dump_path,
    fenced,
    healthy,
    point_web,
    refuses_writes,
    replica_running,
    stopped,
    writes_through_web,
)
from lab.drills.steps import ENGINE, Runbook, Step, docker, sql
from lab.engine import addressing, client, network
from lab.engine.lab import Lab
from lab.engine.waiting import wait_for
from lab.hosts.mariadb import LOAD_SILENTLY, admin_password, change_master, dump_command, read_only
from lab.model.errors import LabError
from lab.probes import mysql


def reconnect(lab: Lab, host: str, address: str, force: bool = False) -> str:
    """The shell line of a runbook step that gives `host` the lab address
    `address` (network.reconnect_script). In a class lab the running
    container's process is read now: the runbook runs right after it is
    made, and a host it starts later adds its address itself."""
    pid = client.pid(lab.topology.host(host).container) if lab.config.in_class else None
    return network.reconnect_script(lab.config, host, address, force=force, pid=pid)


def promote_replica(lab: Lab, old: str | None = None, new: str | None = None,
                    take_address: bool = True) -> Runbook:
    """F19: the master is down for long; the replica becomes the master
    (default: the topology's). Either it takes over the master's address
    (the article's way) or the web servers are pointed at it (the article's
    other half)."""
    old, new = old or lab.topology.master, new or lab.topology.replica
    state = lab.states()
    if state[old].status == "running":
        raise LabError(f"{old} is still running", hint=f"promote only while {old} is down: "
                       "two masters would take writes (split brain)")

    def applied_relay_log(lab: Lab) -> str:
        wait_for(f"{new} applied its relay log", lambda: _relay_applied(lab, new), timeout=60)
        return f"{new} applied everything it received from {old}"

    def is_master(lab: Lab) -> str:
        if mysql.replica_status(lab.address_of(new), admin_password(lab)) is not None:
            raise LabError(f"{new} still has replication settings")
        ms = mysql.master_status(lab.address_of(new), admin_password(lab))
        if read_only(lab, new):
            raise LabError(f"{new} is still read-only: the web servers could not write")
        return (f"{new} is a master: binary log {ms.file if ms else '?'}, no master.info, "
                "read_only OFF")

    steps = [
        Step(f"the old master {old} is down", ENGINE, docker(
             "inspect", "-f", "{{.State.Status}}", lab.topology.host(old).container),
             stopped(old)),
        Step(f"stop reading from {old}", new, sql("STOP SLAVE IO_THREAD"), applied_relay_log,
             modern="let the SQL thread apply what the IO thread already received"),
        Step(f"make {new} the master", new,
             sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF"), is_master,
             article="remove the master-* lines from /etc/my.cnf and restart mysql",
             modern="RESET SLAVE ALL forgets master.info; log-bin is already on "
                    "(60-foolab.cnf), so no restart is needed"),
    ]
    if take_address:
        steps += [
            Step(f"give {new} the master's address {lab.topology.address(old)}", ENGINE,
                 ("sh", "-c", reconnect(lab, new, lab.topology.address(old))),
                 healthy(new),
                 article="update its IP address",
                 modern="docker network connect --ip stands for editing the interface"),
        ]
        # The readers of the replica's address must now read the new master;
        # web1 is pointed too, in case someone moved it off the master's address.
        there = (new, lab.topology.address(old))
        steps += [point_web(w, there, there) for w in lab.topology.webs]
    else:
        there = (new, lab.address_of(new))
        steps += [point_web(w, there, there) for w in lab.topology.webs]
    steps.append(Step("writes through every web server", ENGINE, (), writes_through_web()))
    return Runbook("promote-replica", f"{new} takes over from {old}", tuple(steps))


def _relay_applied(lab: Lab, host: str) -> bool:
    rows = mysql.query(lab.address_of(host), admin_password(lab), "SHOW SLAVE STATUS")
    if not rows:
        return True
    r = rows[0]
    return bool(r["Relay_Master_Log_File"] == r["Master_Log_File"]
                and r["Exec_Master_Log_Pos"] == r["Read_Master_Log_Pos"])


def rejoin_old_master(lab: Lab, old: str | None = None, new: str | None = None) -> Runbook:
    """F19: the repaired old master (default: the topology's master) comes
    back as a replica of the new one (default: its replica). Its data may
    hold writes the new master never got: it is reloaded from a dump of the
    new master and forgets its own binary log history."""
    old, new = old or lab.topology.master, new or lab.topology.replica
    dump = dump_path(lab, f"{new}-for-{old}")
    old_c = lab.topology.host(old).container
    steps: list[Step] = []
    if lab.address_of(new) == lab.topology.address(old):
        # The new master holds the old one's address: the old one takes the replica's.
        steps.append(Step(f"give {old} the replica's address {lab.topology.address(new)}",
                          ENGINE, ("sh", "-c", reconnect(lab, old, lab.topology.address(new),
                                                         force=True))))
    master = (new, lab.address_of(new))
    steps += [
        Step(f"start the repaired {old}", ENGINE, addressing.start_command(lab.config, old_c),
             answering(old)),
        # The fence: every web server on the new master, and old read-only,
        # both checked, before the dump's DROP and CREATE run on it.
        *(point_web(w, master, master) for w in lab.topology.webs),
        Step(f"keep writes off {old}", old, sql("SET GLOBAL read_only = ON"), fenced(old),
             modern="only the administrator's reload may write on it now"),
        Step(f"dump the new master {new}", new, dump_command(lab, new), stdout_to=dump,
             check=dump_has_position(dump)),
        Step(f"forget {old}'s own history", old, sql("STOP SLAVE; RESET SLAVE ALL; RESET MASTER"),
             modern="its binary log may hold writes that never reached the new master"),
        Step(f"reload {old} from the dump", old, LOAD_SILENTLY, stdin_from=dump),
        Step(f"make {old} a replica of {new}", old,
             sql(f"{change_master(lab, lab.address_of(new))}; START SLAVE"),
             replica_running(old, new),
             article="master-host, master-user, master-password, master-connect-retry "
                     "in /etc/my.cnf",
             modern="CHANGE MASTER TO ... MASTER_CONNECT_RETRY=15"),
    ]
    # The article: web2 and web3 read from the slave again (web1 from the master).
    replica = (old, _address_after_rejoin(lab, old, new))
    t = lab.topology
    steps += [point_web(w, master, replica) for w in t.readers_of(t.replica)]
    return Runbook("rejoin-old-master", f"{old} comes back as a replica of {new}", tuple(steps))


def _address_after_rejoin(lab: Lab, old: str, new: str) -> str:
    """The old master keeps its address, unless the new master took it."""
    if lab.address_of(new) == lab.topology.address(old):
        return lab.topology.address(new)
    return lab.topology.address(old)


def switch_back(lab: Lab, original_master: str | None = None,
                original_replica: str | None = None) -> Runbook:
    """Return to the article's roles and addresses: db1 master at .21, db2
    its replica at .22, web1 reading db1 and web2/web3 reading db2 (the
    topology's master and replica, unless told otherwise)."""
    t = lab.topology
    m, r = original_master or t.master, original_replica or t.replica
    reads = {t.master: m, t.replica: r}  # web1 reads the master, web2/web3 the replica
    net = lab.config.project
    rc = lab.topology.host(r).container
    home = {h: (h, lab.topology.address(h)) for h in (m, r)}

    def caught_up(lab: Lab) -> str:
        pos = mysql.query(lab.address_of(r), admin_password(lab),
                          "SELECT @@gtid_binlog_pos AS p")[0]["p"]
        got = mysql.query(lab.address_of(m), admin_password(lab),
                           f"SELECT MASTER_GTID_WAIT('{pos}', 30) AS w")[0]["w"]
        if got != 0:
            raise LabError(f"{m} did not reach {r}'s position {pos}")
        return f"{m} has everything up to {pos}"

    steps = [
        Step(f"stop writes on {r}", r, sql("SET GLOBAL read_only = ON"), refuses_writes(r),
             modern="the web servers' account has no READ ONLY ADMIN privilege"),
        Step(f"let {m} catch up", m, sql("SHOW SLAVE STATUS\\G"), caught_up),
        Step(f"make {m} the master", m,
             sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")),
    ]
    if lab.address_of(m) != lab.topology.address(m):
        steps.append(Step("give both their own addresses back", ENGINE, ("sh", "-c", (
            f"docker network disconnect {net} {rc} && "
            f"{reconnect(lab, m, lab.topology.address(m))} && "
            f"{reconnect(lab, r, lab.topology.address(r))}")),
            healthy(m)))
    # The web servers move to the master before the old one takes writes again.
    steps += [
        *(point_web(w, home[m], home[reads[t.read_server(w)]]) for w in t.webs),
        Step(f"make {r} a replica of {m}", r, sql(
            "SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos; "
            f"{change_master(lab, lab.topology.address(m))}; "
            "START SLAVE; SET GLOBAL read_only = ON"),
            replica_running(r, m),
            modern=f"{r} starts from its own binary log position, which {m} has applied"),
    ]
    return Runbook("switch-back", f"Back to the article's roles: {m} master, {r} replica",
                   tuple(steps))
