"""Host checks of the seven machines, read like the article: every claim
F1-F16 of docs/article-claims.md that a running lab can show, through real clients."""

from __future__ import annotations

import time
import uuid

import dns.query
import dns.xfr
import dns.zone
import pytest

from lab.engine.waiting import wait_for
from lab.model.topology import Role
from lab.probes import mysql, named, pages

PACKAGES = {
    Role.DNS: ["bind9", "bind9-dnsutils"],
    Role.WEB: ["apache2", "libapache2-mod-php", "php-mysql", "rsync", "openssh-server", "cron"],
    Role.DB: ["mariadb-server"],
}
DAEMONS = {Role.DNS: ["named"], Role.WEB: ["apache2", "sshd", "cron"], Role.DB: ["mariadbd"]}
# named listens on each interface address; the others on all addresses.
PORTS = {Role.DNS: ["udp://{addr}:53", "tcp://{addr}:53"], Role.WEB: ["tcp://0.0.0.0:80",
         "tcp://0.0.0.0:22"], Role.DB: ["tcp://0.0.0.0:3306"]}
ALL = ["ns1", "ns2", "web1", "web2", "web3", "db1", "db2"]
WEBS = ["web1", "web2", "web3"]


# --- F1: seven machines, real Debian packages, real daemons ------------------------


@pytest.mark.parametrize("name", ALL)
def test_host_runs_the_debian_packages_of_its_role(name, topo, host):
    h = host(name)
    role = topo.host(name).role
    assert h.system_info.distribution == "debian"
    for pkg in PACKAGES[role]:
        assert h.package(pkg).is_installed, f"{pkg} on {name}"
    for daemon in DAEMONS[role]:
        assert h.process.filter(comm=daemon), f"{daemon} not running on {name}"
    for port in (p.format(addr=topo.address(name)) for p in PORTS[role]):
        assert h.socket(port).is_listening, f"{name} not listening on {port}"
    # (not necessarily eth0: a host reconnected by a runbook gets a new interface)
    addresses = [a for n in h.interface.names() for a in h.interface(n).addresses]
    assert topo.address(name) in addresses


# --- DNS: F2-F4 ---------------------------------------------------------------------


@pytest.mark.parametrize("ns", ["ns1", "ns2"])
def test_zone_is_the_articles(ns, topo):
    soa = named.soa(topo.address(ns))
    assert soa is not None, f"{ns} has no zone foo.com"
    assert (soa.mname, soa.rname) == ("ns1.foo.com.", "hostmaster.foo.com.")
    assert soa.serial == 2006032801
    assert (soa.refresh, soa.retry, soa.expire, soa.minimum) == (10800, 3600, 86400, 86400)
    ns_records = named.ask(topo.address(ns), "foo.com", "NS")
    assert sorted(ns_records.records) == ["ns1.foo.com.", "ns2.foo.com."]
    www = named.ask(topo.address(ns))
    assert www.authoritative and www.rcode == "NOERROR"
    assert sorted(www.records) == sorted(topo.address(w) for w in WEBS)
    # No $TTL in the zone: every record gets the SOA minimum, one day.
    assert www.ttl == soa.minimum == 86400


@pytest.mark.parametrize("ns", ["ns1", "ns2"])
def test_successive_answers_rotate(ns, topo):
    """F3: each answer leads with the next address (rrset-order cyclic)."""
    firsts = [named.ask(topo.address(ns)).records[0] for _ in range(6)]
    assert sorted(set(firsts)) == sorted(topo.address(w) for w in WEBS)
    assert all(a != b for a, b in zip(firsts, firsts[1:], strict=False))


def test_ns2_is_a_secondary_fed_by_transfer_from_ns1(topo, host):
    """F4: ns2 holds a copy made by AXFR from ns1; transfers go to ns2 only."""
    ns2 = host("ns2")
    assert ns2.file("/var/cache/bind/db.foo.com").contains("2006032801")
    assert ns2.file("/etc/bind/named.conf.local").contains("type secondary")
    assert host("ns1").file("/etc/bind/named.conf.local").contains(
        f"allow-transfer {{ {topo.address('ns2')}; }}")
    # The real dig on ns2 may transfer the zone; this machine may not.
    axfr = host("ns2").run(f"dig +short @{topo.address('ns1')} foo.com AXFR")
    assert "2006032801" in axfr.stdout
    with pytest.raises(dns.xfr.TransferError):
        dns.zone.from_xfr(dns.query.xfr(topo.address("ns1"), "foo.com", timeout=3))


def test_bind_config_says_rotate_and_no_recursion(host):
    opts = host("ns1").file("/etc/bind/named.conf.options")
    assert opts.contains("order cyclic") and opts.contains("recursion no")


# --- web servers: F5-F10 ---------------------------------------------------------------


@pytest.mark.parametrize("web", WEBS)
def test_every_page_names_its_server(web, topo):
    for page in ("/light.php", "/heavy.php", "/index.php", "/session.php"):
        resp = pages.fetch(topo.address(web), page)
        assert resp.status == 200, f"{page} on {web}: {resp.status}"
        assert resp.served_by == web


@pytest.mark.parametrize("web", WEBS)
def test_reads_from_its_database_and_writes_to_the_master(web, topo, lab, admin_password):
    """F10: writes go to db1; web1 reads db1, web2/web3 read db2."""
    page = pages.fetch(topo.address(web), "/db.php").json()
    assert page["read_host"] == topo.address(topo.read_server(web))
    assert page["write_host"] == topo.address("db1")
    seq = int(time.time() * 1000) % 10**9
    wrote = pages.fetch(topo.address(web), f"/db.php?write=1&seq={seq}&writer=test_hosts").json()
    rows = mysql.query(topo.address("db1"), admin_password,
                        f"SELECT served_by FROM foo.ledger WHERE id = {int(wrote['id'])}")
    assert rows == [{"served_by": web}]


@pytest.mark.parametrize("web", WEBS)
def test_a_session_counts_visits_on_one_server(web, topo):
    """F9, first half: file sessions work while the visitor stays put."""
    first = pages.fetch(topo.address(web), "/session.php")
    assert first.cookie and first.json()["visits"] == 1
    again = pages.fetch(topo.address(web), "/session.php", cookie=first.cookie)
    assert again.json()["visits"] == 2


@pytest.mark.parametrize("web", WEBS)
def test_syncer_owns_the_content(web, host):
    """F7: the syncer account exists on every web server with write access."""
    h = host(web)
    assert h.user("syncer").exists
    assert h.file("/var/www").user == "syncer"


def test_key_pair_made_on_web1_public_key_restricted_on_the_others(host):
    """F7: the key pair lives on web1 only; web2/web3 accept it for rsync only."""
    assert host("web1").file("/home/syncer/.ssh/id_ed25519").exists
    pub = host("web1").file("/home/syncer/.ssh/id_ed25519.pub").content_string.split()[1]
    for web in ("web2", "web3"):
        keys = host(web).file("/home/syncer/.ssh/authorized_keys")
        assert keys.contains(pub) and keys.contains("rrsync")
        assert not host(web).file("/home/syncer/.ssh/id_ed25519").exists
    # The key opens no shell on web2: rrsync refuses anything but rsync,
    # while rsync itself, over the same key, gets in.
    shell = host("web1").run("su syncer -c 'ssh -o BatchMode=yes web2 id'")
    assert shell.rc != 0 and "uid=" not in shell.stdout
    assert "rrsync" in shell.stderr and "does not run rsync" in shell.stderr, shell.stderr
    listing = host("web1").run("su syncer -c 'rsync --list-only -e \"ssh -o BatchMode=yes\" "
                               "web2:/'")
    assert listing.rc == 0 and " html" in listing.stdout, listing.stderr


def test_cron_runs_the_articles_rsync_line_every_minute(host):
    """F6: web1's cron pushes /var/www/ to web2 and web3 with --delete."""
    def commands(text: str) -> list[str]:  # comment lines say what the article did
        return [line.strip() for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]

    script = commands(host("web1").file("/usr/local/bin/sync-content").content_string)
    assert any(line.startswith('rsync -r -a -v -e "ssh -l syncer" --delete /var/www/ ')
               for line in script), script
    crontab = commands(host("web1").run("cat /etc/cron.d/*").stdout)
    assert "* * * * * syncer /usr/local/bin/sync-content" in crontab, crontab
    for web in ("web2", "web3"):
        assert not any("sync-content" in line for line in
                       commands(host(web).run("cat /etc/cron.d/* 2>/dev/null").stdout))


# --- databases: F11-F16 --------------------------------------------------------------


@pytest.mark.parametrize("db", ["db1", "db2"])
def test_replication_account_copy(db, topo, admin_password):
    """F11: `copy` may replicate, from the lab subnet only; on db2 too."""
    net, mask = topo.network.network_address, topo.network.netmask
    sql = f"SHOW GRANTS FOR 'copy'@'{net}/{mask}'"
    grants = mysql.query(topo.address(db), admin_password, sql)
    text = " ".join(next(iter(g.values())) for g in grants)
    # MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR (the old
    # name is still accepted in GRANT, SHOW GRANTS prints the new one).
    assert "REPLICATION SLAVE" in text and "BINLOG MONITOR" in text


def test_master_writes_a_binary_log(topo, admin_password, host):
    """F12, F15: log-bin and server-id 1; SHOW MASTER STATUS names the file."""
    db1 = topo.address("db1")
    status = mysql.master_status(db1, admin_password)
    assert status is not None and status.file.startswith("db1-bin.")
    assert host("db1").file(f"/var/lib/mysql/{status.file}").exists
    ids = mysql.query(db1, admin_password, "SELECT @@server_id AS id, @@log_bin AS log_bin")
    assert ids == [{"id": 1, "log_bin": 1}]


def test_replica_follows_the_master(topo, admin_password, host):
    """F13-F15: server-id 2, replicating from db1 as copy, retry 15 s,
    both threads running, master.info in the data directory."""
    db2 = topo.address("db2")
    rs = mysql.replica_status(db2, admin_password)
    assert rs is not None
    assert (rs.master_host, rs.master_user, rs.connect_retry) == (topo.address("db1"), "copy", 15)
    assert rs.io_running == "Yes" and rs.sql_running == "Yes", rs
    assert mysql.query(db2, admin_password, "SELECT @@server_id AS id") == [{"id": 2}]
    assert host("db2").file("/var/lib/mysql/master.info").exists


def test_a_row_written_on_db1_appears_on_db2(topo, admin_password, record_property):
    """F16: measure how long a write takes to reach the replica."""
    db1, db2 = topo.address("db1"), topo.address("db2")
    note = uuid.uuid4().hex
    mysql.query(db1, admin_password,
                 f"INSERT INTO foo.ledger (writer, note) VALUES ('test_hosts', '{note}')")
    t0 = time.monotonic()
    wait_for("row on db2", lambda: mysql.query(
        db2, admin_password, f"SELECT id FROM foo.ledger WHERE note = '{note}'"), timeout=10,
        every=0.005)
    record_property("replication_delay_ms", round((time.monotonic() - t0) * 1000, 1))
