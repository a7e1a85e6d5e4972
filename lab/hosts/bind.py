"""BIND on ns1 and ns2: the zone file, reload, transfer, NOTIFY, and the
zone's lines of named.conf.local (what the primary allows and tells).
dns-entrypoint writes named.conf.local from named.conf.primary or
named.conf.secondary with the other server's address; exercises break and
mend it here, the only place that edits it."""

from __future__ import annotations

from lab.engine.lab import Lab
from lab.engine.process import fill
from lab.model.article import ZONE
from lab.model.errors import LabError

LOCAL_CONF = "/etc/bind/named.conf.local"
ZONE_FILE = "/var/lib/bind/db.foo.com"  # on the primary (dns-entrypoint)
SECONDARY_COPY = "/var/cache/bind/db.foo.com"  # a secondary's transferred copy
TEMPLATE = {"primary": ("/etc/bind/named.conf.primary", "NS2_ADDR"),
            "secondary": ("/etc/bind/named.conf.secondary", "NS1_ADDR")}

# named-checkzone first: a zone BIND refuses never replaces the live one.
CHECK_NEW_ZONE = "cat > {} && named-checkzone {} {}"
INSTALL_ZONE = "chown bind:bind {} && chmod 644 {} && mv -f {} {} && rndc reload {}"
# BIND skips a file no newer than its last load: touch, then reload.
TOUCH_AND_RELOAD = "touch {} && rndc reload {}"
# The zone's options in named.conf.local, each a sed -E expression.
ALLOW_TRANSFER = r"s/allow-transfer \{{[^}}]*\}}/allow-transfer {{ {acl}; }}/"
NO_NOTIFY = r"s/notify yes;/notify no;/; s/also-notify \{[^}]*\};//"
EDIT_AND_RELOAD = "sed -i -E {} {} && rndc reload"
# The copy of a secondary made a primary of its own (a hand-made copy).
AS_PRIMARY = "s/type secondary;/type primary;/; /primaries/d"
# The first reload reads the new type, the second the copied file.
MAKE_PRIMARY = ("sed -i {} {} && cp /tmp/zone {} && chown bind:bind {} "
                "&& rndc reload && rndc reload")
FROM_TEMPLATE = "sed -e {} {} > {}.new && mv {}.new {} && rndc reload"


def install_zone(lab: Lab, ns: str, text: str) -> None:
    """`text` as the zone file of primary `ns`, if named-checkzone accepts
    it (else a LabError and the live file unchanged), then rndc reload."""
    tmp = f"{ZONE_FILE}.new"
    check = lab.exec(ns, ["bash", "-c", fill(CHECK_NEW_ZONE, tmp, ZONE, tmp)], input=text,
                     timeout=30)
    if check.returncode != 0:
        lab.exec(ns, ["rm", "-f", tmp])
        raise LabError("named-checkzone refused the new zone (the live file is unchanged)",
                       check.stdout + check.stderr)
    lab.run(ns, INSTALL_ZONE, tmp, tmp, tmp, ZONE_FILE, ZONE)


def reload_zone(lab: Lab, ns: str) -> None:
    lab.run(ns, TOUCH_AND_RELOAD, ZONE_FILE, ZONE)


def retransfer(lab: Lab, ns: str) -> None:
    """A secondary copies the whole zone now (AXFR), whatever the serial."""
    lab.run(ns, "rndc retransfer {}", ZONE)


def allow_transfer(lab: Lab, ns: str, acl: str) -> None:
    """The primary hands the zone to `acl` only (an address, none, any)."""
    lab.run(ns, EDIT_AND_RELOAD, ALLOW_TRANSFER.format(acl=acl), LOCAL_CONF)


def stop_notify(lab: Lab, ns: str) -> None:
    """The primary no longer tells the secondaries of a change."""
    lab.run(ns, EDIT_AND_RELOAD, NO_NOTIFY, LOCAL_CONF)


def write_conf(lab: Lab, ns: str, kind: str, peer_address: str) -> None:
    """named.conf.local as dns-entrypoint writes it (kind primary or
    secondary, naming the other server's address), then reload."""
    template, placeholder = TEMPLATE[kind]
    lab.run(ns, FROM_TEMPLATE, f"s/{placeholder}/{peer_address}/g", template, LOCAL_CONF,
            LOCAL_CONF, LOCAL_CONF)


def serve_copy_as_primary(lab: Lab, ns: str, text: str) -> None:
    """A secondary made a primary of a hand-made copy of the zone."""
    lab.exec(ns, ["bash", "-c", "cat > /tmp/zone"], input=text, timeout=30)
    lab.run(ns, MAKE_PRIMARY, AS_PRIMARY, LOCAL_CONF, SECONDARY_COPY, SECONDARY_COPY)
