"""The article's facts that code and images share, each written once here.

Everything else (the runbooks, the probes, the Compose environment and so
the shell scripts in images/) reads these names. Tags F1-F22 refer to
docs/article-claims.md.
"""

from __future__ import annotations

# F1: the seven hosts are in lab/model/topology.py; here, what some of them
# are. Code outside lab/model/ reads these through the topology's roles
# (topology.master, .replica, .content_source, .primary_dns, ...).

# F2: the zone and the name visitors ask for.
ZONE = "foo.com"
WWW = f"www.{ZONE}"
ZONE_SERIAL = 2006032801
# F2: the zone has no $TTL, so BIND uses the SOA minimum as default TTL.
ZONE_DEFAULT_TTL_S = 86400
# F4: ns1 serves the zone, ns2 is its secondary (fed by transfer and NOTIFY).
PRIMARY_DNS = "ns1"
SECONDARY_DNS = "ns2"

# F10: every write goes to the master; web1 reads from it, web2/web3 from
# the replica.
MASTER = "db1"
REPLICA = "db2"
READS_FROM = {"web1": MASTER, "web2": REPLICA, "web3": REPLICA}
APP_DATABASE = "foo"  # the web application's database

# F11, F13: the replication account and how often the replica retries.
REPLICATION_USER = "copy"
CONNECT_RETRY_S = 15
# Databases that belong to the server itself, not to a user: every proof of
# "nothing lost" and every dump covers all the others.
SYSTEM_SCHEMAS = ("information_schema", "mysql", "performance_schema", "sys")

# F5-F8: content is edited on web1 only and pushed to the others.
CONTENT_SOURCE = "web1"
CONTENT_ROOT = "/var/www"
SYNC_USER = "syncer"


def change_master(master_address: str, copy_password: str) -> str:
    """F13 today: the article's master-* my.cnf lines as one statement.
    Passwords are hex (model.secrets), so plain quoting is safe."""
    return (f"CHANGE MASTER TO MASTER_HOST='{master_address}', "
            f"MASTER_USER='{REPLICATION_USER}', MASTER_PASSWORD='{copy_password}', "
            f"MASTER_CONNECT_RETRY={CONNECT_RETRY_S}, MASTER_USE_GTID=slave_pos")
