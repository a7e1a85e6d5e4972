"""MariaDB on db1 and db2, as the lab's administrator uses it: the admin
account's password, read_only, semi-sync status, CHANGE MASTER (F13), a
dump and a reload of every user database, and the mark db-setup leaves
when a server's own set-up has ended."""

from __future__ import annotations

from lab.engine.lab import Lab
from lab.model import article
from lab.model.errors import LabError
from lab.probes import mysql

# The reload is not replicated: the mariadb monitor with the binary log off.
LOAD_SILENTLY = ("mariadb", "--init-command=SET sql_log_bin=0")


def password(lab: Lab, name: str) -> str:
    value = lab.secrets().get(name)
    if not value:
        raise LabError(f"{name} unknown", hint="is the lab up? (.lab/secrets.env)")
    return value


def admin_password(lab: Lab) -> str:
    return password(lab, "DB_ADMIN_PASSWORD")


def semi_sync_status(lab: Lab, master: str | None = None) -> str:
    """Rpl_semi_sync_master_status: ON while the master (default: the
    topology's) waits for the replica's acknowledgement, OFF when it commits
    alone."""
    rows = mysql.query(lab.address_of(master or lab.topology.master), admin_password(lab),
                       "SHOW STATUS LIKE 'Rpl_semi_sync_master_status'")
    return str(rows[0]["Value"]) if rows else ""


def read_only(lab: Lab, host: str) -> bool:
    """Whether the server refuses writes from accounts without READ ONLY
    ADMIN (the web application's): a replica's normal state."""
    rows = mysql.query(lab.address_of(host), admin_password(lab), "SELECT @@read_only AS ro")
    return bool(int(rows[0]["ro"]))


# db-setup (images/db) touches this when it has made the users and schema.
SETUP_DONE = "/run/mysqld/foolab-setup-done"


def change_master(lab: Lab, master_address: str) -> str:
    """F13: CHANGE MASTER TO the given address, with the lab's copy password."""
    return article.change_master(master_address, password(lab, "COPY_PASSWORD"))


def dump_command(lab: Lab, host: str) -> tuple[str, ...]:
    """mariadb-dump of every user database on `host` (replication carries
    them all, so a replica rebuilt from foo alone would silently miss the
    others), with the binary log position to start replicating from."""
    databases = mysql.user_databases(lab.address_of(host), admin_password(lab))
    return ("mariadb-dump", "--single-transaction", "--master-data=1", "--gtid",
            "--add-drop-database", "--databases", *databases)




def setup_done(lab: Lab, host: str) -> bool:
    """Whether the server's db-setup has ended (it creates the schema as
    root, which read_only does not stop)."""
    return lab.exec(host, ["test", "-e", SETUP_DONE], timeout=10).returncode == 0


def sql(lab: Lab, host: str, statement: str) -> list[dict[str, object]]:
    """One statement as the lab's admin account, over the network."""
    return mysql.query(lab.address_of(host), admin_password(lab), statement)
