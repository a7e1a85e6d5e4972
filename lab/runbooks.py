"""Runbooks: the article's procedures as ordered, named steps.

Each step is a real command on a real host (or a docker command on this
machine, "engine") followed by a check that reads the result through the
real clients. `execute` runs a runbook and returns what happened as data;
the CLI narrates it for a class (`foolab runbook NAME --narrate`), the
scenarios assert on it. Where the 2006 syntax no longer works, the step
carries the article's form and the modern one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab import checks
from lab.driver import Lab, LabError, quote, run
from lab.waiting import wait_for

Check = Callable[[Lab], str]  # returns what it saw; raises LabError when the check fails
ENGINE = "engine"  # steps run on this machine (docker commands), not in a host


@dataclass(frozen=True)
class Step:
    title: str
    where: str  # a host name, or ENGINE
    command: tuple[str, ...]  # empty: the step only checks
    check: Check | None = None
    article: str = ""  # how the 2006 article does it, where it differs
    modern: str = ""  # why it is done differently today
    stdout_to: Path | None = None  # save the command's output (a dump)
    stdin_from: Path | None = None  # feed a file to the command (a reload)
    timeout: float = 120


@dataclass(frozen=True)
class Runbook:
    name: str
    summary: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class StepResult:
    step: Step
    exit_code: int
    output: str
    checked: str  # what the check saw ("" when the step has none)
    ok: bool
    seconds: float


@dataclass
class RunbookResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)


def execute(lab: Lab, book: Runbook, on_step: Callable[[StepResult], None] | None = None,
            ) -> RunbookResult:
    """Run the steps in order; stop at the first command or check that fails."""
    result = RunbookResult(book.name)
    for step in book.steps:
        t0 = time.monotonic()
        code, output = _run_command(lab, step)
        checked, ok = "", code == 0
        if ok and step.check is not None:
            try:
                checked = step.check(lab)
            except LabError as exc:
                checked, ok = str(exc), False
        done = StepResult(step, code, output, checked, ok, time.monotonic() - t0)
        result.steps.append(done)
        if on_step:
            on_step(done)
        if not ok:
            break
    return result


def _run_command(lab: Lab, step: Step) -> tuple[int, str]:
    if not step.command:  # a step that only checks
        return 0, ""
    stdin = step.stdin_from.read_text() if step.stdin_from else None
    if step.where == ENGINE:
        out = run(step.command, timeout=step.timeout, input=stdin)
    else:
        out = lab.exec(step.where, step.command, timeout=step.timeout, input=stdin)
    text = out.stdout
    if step.stdout_to is not None and out.returncode == 0:
        step.stdout_to.parent.mkdir(parents=True, exist_ok=True)
        step.stdout_to.write_text(out.stdout)
        text = f"({len(out.stdout.splitlines())} lines written to {step.stdout_to})"
    return out.returncode, (text + out.stderr).strip()


# --- building blocks ---------------------------------------------------------------------


def sql(statement: str) -> tuple[str, ...]:
    """The mysql monitor on a database host, as root through the socket."""
    return ("mariadb", "-e", statement)


def docker(*args: str) -> tuple[str, ...]:
    return ("docker", *args)


def _password(lab: Lab, name: str) -> str:
    value = lab.secrets().get(name)
    if not value:
        raise LabError(f"{name} unknown", hint="is the lab up? (.lab/secrets.env)")
    return value


def _admin(lab: Lab) -> str:
    return _password(lab, "DB_ADMIN_PASSWORD")


def replica_running(replica: str, master: str | None = None, timeout: float = 60) -> Check:
    """Both replication threads Yes (F15), and caught up with the master."""

    def check(lab: Lab) -> str:
        address = lab.address_of(replica)

        def running() -> checks.ReplicaStatus | None:
            rs = checks.replica_status(address, _admin(lab))
            return rs if rs and rs.running and rs.seconds_behind == 0 else None

        rs = wait_for(f"replication on {replica}", running, timeout=timeout, every=0.25)
        seen = (f"Slave_IO_Running: {rs.io_running}, Slave_SQL_Running: {rs.sql_running}, "
                f"Seconds_Behind_Master: {rs.seconds_behind}, from {rs.master_host}")
        if master is not None:
            seen += "; " + consistent(master, replica)(lab)
        return seen

    return check


def consistent(master: str, replica: str, timeout: float = 30) -> Check:
    """Row counts and checksums of every table equal on both (after the
    replica has applied what it received)."""

    def check(lab: Lab) -> str:
        from lab.verdicts import consistency

        def same() -> str | None:
            v = consistency(
                master, checks.table_states(lab.address_of(master), _admin(lab)),
                replica, checks.table_states(lab.address_of(replica), _admin(lab)))
            return ", ".join(f"{t} {a.rows} rows" for t, (a, _) in v.tables.items()
                             if a) if v.equal else None

        v = wait_for(f"{replica} consistent with {master}", same, timeout=timeout, every=0.5)
        return f"{master} and {replica} equal: {v}"

    return check


def healthy(host: str, timeout: float = 60) -> Check:
    def check(lab: Lab) -> str:
        wait_for(f"{host} healthy", lambda: lab.states()[host].is_healthy, timeout, 0.25)
        return f"{host} healthy at {lab.address_of(host)}"

    return check


def stopped(*hosts: str) -> Check:
    def check(lab: Lab) -> str:
        states = lab.states()
        running = [h for h in hosts if states[h].status == "running"]
        if running:
            raise LabError(f"still running: {', '.join(running)}")
        return ", ".join(f"{h} {states[h].status}" for h in hosts)

    return check


def _apache_set(settings: dict[str, str]) -> tuple[str, ...]:
    """Edit a web server's per-server Apache settings as an administrator
    would (sed on conf-enabled/foolab-host.conf), then reload gracefully."""
    edits = " ".join(f"-e 's|^SetEnv {k} .*|SetEnv {k} \"{v}\"|'" for k, v in settings.items())
    return ("bash", "-c",
            f"sed -i {edits} /etc/apache2/conf-enabled/foolab-host.conf && apachectl -k graceful")


Where = tuple[str, str]  # a database host's name and the address to use for it


def web_uses(web: str, write: Where, read: Where) -> Check:
    """/db.php on `web` reports the given write and read addresses."""

    def check(lab: Lab) -> str:
        want = (write[1], read[1])

        def page() -> dict[str, str] | None:
            p = checks.fetch(lab.address_of(web), "/db.php", timeout=3).json()
            return p if (p.get("write_host"), p.get("read_host")) == want else None

        wait_for(f"{web} writing to {write[0]}, reading {read[0]}", page, timeout=15)
        return f"{web} writes to {write[0]} ({want[0]}), reads {read[0]} ({want[1]})"

    return check


def point_web(web: str, write: Where, read: Where) -> Step:
    """Point a web server's writes and reads at database hosts."""
    return Step(
        f"{web}: write to {write[0]}, read from {read[0]}", web,
        _apache_set({"DB_WRITE_HOST": write[1], "DB_READ_HOST": read[1]}),
        web_uses(web, write, read),
        modern="the settings live in /etc/apache2/conf-enabled/foolab-host.conf, "
               "outside the content that web1 pushes",
    )


def writes_through_web(timeout: float = 20) -> Check:
    """A numbered write through each web server is acknowledged."""

    def check(lab: Lab) -> str:
        seen = []
        for web in ("web1", "web2", "web3"):
            def write(w: str = web) -> dict[str, object] | None:
                r = checks.fetch(lab.address_of(w), "/db.php?write=1&writer=runbook", timeout=3)
                return r.json() if r.status == 200 else None
            page = wait_for(f"a write through {web}", write, timeout=timeout, every=0.5)
            seen.append(f"{web} wrote id {page['id']}")
        return ", ".join(seen)

    return check


def _change_master(lab: Lab, master_address: str) -> str:
    copy = _password(lab, "COPY_PASSWORD")
    return (f"CHANGE MASTER TO MASTER_HOST='{master_address}', MASTER_USER='copy', "
            f"MASTER_PASSWORD='{copy}', MASTER_CONNECT_RETRY=15, MASTER_USE_GTID=slave_pos")


def _volume(lab: Lab, host: str) -> str:
    return f"{lab.config.project}_{host}-data"


def _dump_path(lab: Lab, label: str) -> Path:
    folder = lab.config.state_dir.resolve() / "dumps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.sql"


DUMP = ("mariadb-dump", "--single-transaction", "--master-data=1", "--gtid",
        "--add-drop-database", "--databases", "foo")
LOAD_SILENTLY = ("mariadb", "--init-command=SET sql_log_bin=0")  # the reload is not replicated


# --- the runbooks ---------------------------------------------------------------------


def check_replication(lab: Lab, master: str = "db1", replica: str = "db2") -> Runbook:
    """F15/F16: SHOW MASTER STATUS, SHOW SLAVE STATUS, and the real test, a
    write on the master seen on the replica."""
    note = uuid.uuid4().hex

    def master_status(lab: Lab) -> str:
        ms = checks.master_status(lab.address_of(master), _admin(lab))
        if ms is None:
            raise LabError(f"{master} writes no binary log")
        return f"File: {ms.file}, Position: {ms.position}"

    def seen_on_replica(lab: Lab) -> str:
        t0 = time.monotonic()
        wait_for(f"the row on {replica}", lambda: checks.query(
            lab.address_of(replica), _admin(lab),
            f"SELECT id FROM foo.ledger WHERE note = '{note}'"), timeout=10, every=0.002)
        return f"on {replica} after {1000 * (time.monotonic() - t0):.1f} ms (or less)"

    return Runbook("check-replication", "Is replication working? (the article's checks)", (
        Step("show master status", master, sql(r"SHOW MASTER STATUS\G"), master_status),
        Step("show slave status", replica, sql(r"SHOW SLAVE STATUS\G"),
             replica_running(replica),
             article="Slave_IO_Running: Yes / Slave_MySQL_Running: Yes",
             modern="the field is called Slave_SQL_Running"),
        Step("write a row on the master", master,
             sql(f"INSERT INTO foo.ledger (writer, note) VALUES ('runbook', '{note}')")),
        Step("see it on the replica", replica,
             sql(f"SELECT id, created_at FROM foo.ledger WHERE note = '{note}'"),
             seen_on_replica),
    ))


def rebuild_replica(lab: Lab, master: str = "db1", replica: str = "db2",
                    online: bool = False) -> Runbook:
    """F18: after a serious replica error, reload the replica from a dump
    of the master. Offline, as the article does it (both stopped), or online
    (a consistent dump while the master keeps serving)."""
    dump = _dump_path(lab, f"{master}-for-{replica}")
    ids = {h: h.removeprefix("db") for h in (master, replica)}
    steps: tuple[Step, ...]
    if online:
        steps = (
            Step("stop replication on the replica", replica, sql("STOP SLAVE; RESET SLAVE"),
                 modern="RESET SLAVE keeps MASTER_HOST/USER/PASSWORD, forgets the position"),
            Step("dump the master database while it runs", master, DUMP, stdout_to=dump,
                 check=_dump_has_position(dump),
                 article="the article stops mysql on the master first",
                 modern="--single-transaction gives a consistent snapshot of InnoDB tables "
                        "without stopping the master; --master-data --gtid records the "
                        "position the replica must start from"),
            Step("reload the database on the replica", replica, LOAD_SILENTLY, stdin_from=dump),
            Step("start the replica", replica, sql("START SLAVE"),
                 replica_running(replica, master)),
        )
    else:
        def workdir(host: str) -> tuple[str, ...]:
            """A one-off container on a stopped host's data volume."""
            return ("docker", "run", "--rm", "--network", "none",
                    "-v", f"{_volume(lab, host)}:/var/lib/mysql", "-v", f"{dump.parent}:/dump",
                    "--entrypoint", "db-offline", "foolab/db:latest", host, ids[host])

        inside = f"/dump/{dump.name}"
        steps = (
            Step("stop mysql on the replica", ENGINE, docker("stop", "-t", "10",
                 lab.topology.host(replica).container), stopped(replica)),
            Step("stop mysql on the master", ENGINE, docker("stop", "-t", "10",
                 lab.topology.host(master).container), stopped(master, replica),
                 modern="in the lab, stopping mysql stops the whole host (its container); "
                        "the web servers' writes fail until the master is started again"),
            Step("dump the master database", ENGINE,
                 (*workdir(master), f"{quote(DUMP)} > {inside}"),
                 _dump_has_position(dump),
                 modern="a private mysqld on the stopped master's data files, with no "
                        "network (images/db/db-offline), makes the dump"),
            Step("reload the database on the replica", ENGINE,
                 (*workdir(replica),
                  f"mariadb -e 'STOP SLAVE; RESET SLAVE' && {quote(LOAD_SILENTLY)} < {inside}")),
            Step("start mysql on the master", ENGINE, docker(
                 "start", lab.topology.host(master).container), healthy(master)),
            Step("start mysql on the replica", ENGINE, docker(
                 "start", lab.topology.host(replica).container),
                 replica_running(replica, master)),
        )
    return Runbook("rebuild-replica" + ("-online" if online else ""),
                   "Reload the replica from a dump of the master (the article's recovery)",
                   steps)


def _dump_has_position(dump: Path) -> Check:
    def check(lab: Lab) -> str:
        if not dump.exists():
            raise LabError(f"no dump at {dump}")
        text = dump.read_text()
        pos = [line for line in text.splitlines() if "gtid_slave_pos" in line and "SET" in line]
        if not pos or "CREATE TABLE `ledger`" not in text:
            raise LabError(f"{dump.name} lacks the replication position or the tables")
        return f"{dump.name}: {len(text) // 1024} KiB, {pos[0].strip()}"

    return check


def promote_replica(lab: Lab, old: str = "db1", new: str = "db2",
                    take_address: bool = True) -> Runbook:
    """F19: the master is down for long; the replica becomes the master.
    Either it takes over the master's address (the article's way) or the
    web servers are pointed at it (the article's other half)."""
    state = lab.states()
    if state[old].status == "running":
        raise LabError(f"{old} is still running", hint=f"promote only while {old} is down: "
                       "two masters would take writes (split brain)")

    def applied_relay_log(lab: Lab) -> str:
        wait_for(f"{new} applied its relay log", lambda: _relay_applied(lab, new), timeout=60)
        return f"{new} applied everything it received from {old}"

    def is_master(lab: Lab) -> str:
        if checks.replica_status(lab.address_of(new), _admin(lab)) is not None:
            raise LabError(f"{new} still has replication settings")
        ms = checks.master_status(lab.address_of(new), _admin(lab))
        return f"{new} is a master: binary log {ms.file if ms else '?'}, no master.info"

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
        net, c = lab.config.project, lab.topology.host(new).container
        steps += [
            Step(f"give {new} the master's address {lab.topology.address(old)}", ENGINE,
                 ("sh", "-c", f"docker network disconnect {net} {c} && docker network connect "
                  f"--ip {lab.topology.address(old)} {net} {c}"),
                 healthy(new),
                 article="update its IP address",
                 modern="docker network connect --ip stands for editing the interface"),
        ]
        # web1 and the writes already use the master's address; the readers of
        # the replica's address must now read the new master.
        there = (new, lab.topology.address(old))
        steps += [point_web(w, there, there) for w in ("web2", "web3")]
    else:
        there = (new, lab.address_of(new))
        steps += [point_web(w, there, there) for w in ("web1", "web2", "web3")]
    steps.append(Step("writes through every web server", ENGINE, (), writes_through_web()))
    return Runbook("promote-replica", f"{new} takes over from {old}", tuple(steps))


def _relay_applied(lab: Lab, host: str) -> bool:
    rows = checks.query(lab.address_of(host), _admin(lab), "SHOW SLAVE STATUS")
    if not rows:
        return True
    r = rows[0]
    return bool(r["Relay_Master_Log_File"] == r["Master_Log_File"]
                and r["Exec_Master_Log_Pos"] == r["Read_Master_Log_Pos"])


def rejoin_old_master(lab: Lab, old: str = "db1", new: str = "db2") -> Runbook:
    """F19: the repaired old master comes back as a replica of the new one.
    Its data may hold writes the new master never got: it is reloaded from
    a dump of the new master and forgets its own binary log history."""
    dump = _dump_path(lab, f"{new}-for-{old}")
    old_c = lab.topology.host(old).container
    net = lab.config.project
    steps: list[Step] = []
    if lab.address_of(new) == lab.topology.address(old):
        # The new master holds the old one's address: the old one takes the replica's.
        steps.append(Step(f"give {old} the replica's address {lab.topology.address(new)}",
                          ENGINE, ("sh", "-c", f"docker network disconnect -f {net} {old_c}; "
                                   f"docker network connect --ip {lab.topology.address(new)} "
                                   f"{net} {old_c}")))
    steps += [
        Step(f"start the repaired {old}", ENGINE, docker("start", old_c), healthy(old)),
        Step(f"keep writes off {old}", old, sql("SET GLOBAL read_only = ON")),
        Step(f"dump the new master {new}", new, DUMP, stdout_to=dump,
             check=_dump_has_position(dump)),
        Step(f"forget {old}'s own history", old, sql("STOP SLAVE; RESET SLAVE ALL; RESET MASTER"),
             modern="its binary log may hold writes that never reached the new master"),
        Step(f"reload {old} from the dump", old, LOAD_SILENTLY, stdin_from=dump),
        Step(f"make {old} a replica of {new}", old,
             sql(f"{_change_master(lab, lab.address_of(new))}; START SLAVE"),
             replica_running(old, new),
             article="master-host, master-user, master-password, master-connect-retry "
                     "in /etc/my.cnf",
             modern="CHANGE MASTER TO ... MASTER_CONNECT_RETRY=15"),
    ]
    # The article: the web servers read from the slave again (web1 from the master).
    master = (new, lab.address_of(new))
    replica = (old, _address_after_rejoin(lab, old, new))
    steps += [point_web("web1", master, master)]
    steps += [point_web(w, master, replica) for w in ("web2", "web3")]
    return Runbook("rejoin-old-master", f"{old} comes back as a replica of {new}", tuple(steps))


def _address_after_rejoin(lab: Lab, old: str, new: str) -> str:
    """The old master keeps its address, unless the new master took it."""
    if lab.address_of(new) == lab.topology.address(old):
        return lab.topology.address(new)
    return lab.topology.address(old)


def switch_back(lab: Lab, original_master: str = "db1", original_replica: str = "db2",
                ) -> Runbook:
    """Return to the article's roles and addresses: db1 master at .21, db2
    its replica at .22, web1 reading db1 and web2/web3 reading db2."""
    m, r = original_master, original_replica
    net = lab.config.project
    mc, rc = lab.topology.host(m).container, lab.topology.host(r).container
    home = {h: (h, lab.topology.address(h)) for h in (m, r)}

    def caught_up(lab: Lab) -> str:
        pos = checks.query(lab.address_of(r), _admin(lab), "SELECT @@gtid_binlog_pos AS p")[0]["p"]
        got = checks.query(lab.address_of(m), _admin(lab),
                           f"SELECT MASTER_GTID_WAIT('{pos}', 30) AS w")[0]["w"]
        if got != 0:
            raise LabError(f"{m} did not reach {r}'s position {pos}")
        return f"{m} has everything up to {pos}"

    steps = [
        Step(f"stop writes on {r}", r, sql("SET GLOBAL read_only = ON"),
             modern="the web servers' account has no READ ONLY ADMIN privilege"),
        Step(f"let {m} catch up", m, sql("SHOW SLAVE STATUS\\G"), caught_up),
        Step(f"make {m} the master", m,
             sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")),
    ]
    if lab.address_of(m) != lab.topology.address(m):
        steps.append(Step("give both their own addresses back", ENGINE, ("sh", "-c", (
            f"docker network disconnect {net} {rc} && docker network disconnect {net} {mc} && "
            f"docker network connect --ip {lab.topology.address(m)} {net} {mc} && "
            f"docker network connect --ip {lab.topology.address(r)} {net} {rc}")),
            healthy(m)))
    # The web servers move to the master before the old one takes writes again.
    steps += [
        point_web("web1", home[m], home[m]),
        point_web("web2", home[m], home[r]),
        point_web("web3", home[m], home[r]),
        Step(f"make {r} a replica of {m}", r, sql(
            "SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos; "
            f"{_change_master(lab, lab.topology.address(m))}; "
            "START SLAVE; SET GLOBAL read_only = OFF"),
            replica_running(r, m),
            modern=f"{r} starts from its own binary log position, which {m} has applied"),
    ]
    return Runbook("switch-back", "Back to the article's roles: db1 master, db2 replica",
                   tuple(steps))


def semi_sync(lab: Lab, on: bool = True, master: str = "db1", replica: str = "db2") -> Runbook:
    """Turn MariaDB's semi-synchronous replication on (or off): the master
    acknowledges a commit only once the replica has received it, so a
    promoted replica has every acknowledged write."""
    flag = "ON" if on else "OFF"

    def clients(lab: Lab) -> str:
        want = "1" if on else "0"

        def seen() -> str | None:
            rows = checks.query(lab.address_of(master), _admin(lab),
                                "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'")
            return rows[0]["Value"] if rows and rows[0]["Value"] == want else None

        wait_for(f"semi-sync clients = {want} on {master}", seen, timeout=20)
        return f"Rpl_semi_sync_master_clients = {want}"

    return Runbook("semi-sync" if on else "semi-sync-off",
                   f"semi-synchronous replication {flag}", (
        Step(f"semi-sync on the master {flag}", master, sql(
            f"SET GLOBAL rpl_semi_sync_master_enabled = {flag}; "
            "SET GLOBAL rpl_semi_sync_master_timeout = 10000"),
            modern="built into MariaDB since 10.3; not in the 2006 article"),
        Step(f"semi-sync on the replica {flag}", replica, sql(
            f"SET GLOBAL rpl_semi_sync_slave_enabled = {flag}; "
            "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"), clients),
    ))


RUNBOOKS: dict[str, Callable[..., Runbook]] = {
    "semi-sync": semi_sync,
    "check-replication": check_replication,
    "rebuild-replica": rebuild_replica,
    "promote-replica": promote_replica,
    "rejoin-old-master": rejoin_old_master,
    "switch-back": switch_back,
}
