"""The content push (F5-F8): web1's syncer runs sync-content (rsync over
SSH) to the hosts in its target list; on the receivers, the syncer key may
run only `rrsync /var/www`, reinstalled every minute by cron. The only
place that edits the key, the target list or the push script."""

from __future__ import annotations

import time

from lab.engine.lab import Lab
from lab.engine.process import fill
from lab.model.article import CONTENT_ROOT, SYNC_USER

AUTH = f"/home/{SYNC_USER}/.ssh/authorized_keys"  # on a receiver
PUBKEY = "/srv/syncer-pubkey/id_ed25519.pub"  # published by the sender (a volume)
SCRIPT = "/usr/local/bin/sync-content"  # on the sender
LOG = "/var/log/sync-content.log"  # on the sender; its lock keeps pushes apart
TARGETS = "/etc/foolab/sync-targets"  # on the sender: the receivers, one line
KEY_CRON = "/etc/cron.d/syncer-key"  # on a receiver: reinstalls the key
AS_SYNCER = ("runuser", "-u", SYNC_USER, "--")
SKIPPED = "previous run still busy, skipped"  # sync-content's line for a skipped run

# The cron entry removed too, or it would put the key back within a minute.
REMOVE_KEY = "rm -f {} && : > {}"
READ_ONLY_KEY = "rm -f {} && sed -i {} {}"
REINSTALL_KEY = ("install -m 644 /etc/foolab/syncer-key.cron {} && rm -f {} "
                 "&& /usr/local/sbin/install-syncer-key")
OWNED_KEY = "cat > {} && chown {}: {} && chmod 600 {}"


def push(lab: Lab, sender: str, timeout: float = 60) -> int:
    """sync-content as the syncer, now, as cron runs it; its exit code.
    The script skips its run while another holds its lock (cron's, every
    minute): then this waits for that one to end and pushes again, so the
    push asked for is the one that happens (seen: a page missing on web3).
    A skip is told by the count of skip lines in the log growing, not by
    the last line: cron's run writes its own lines after ours (seen: a
    heal that read cron's push to web3 as its own, made before the key
    was back). A skip that was cron's, not ours, costs one more push."""
    deadline = time.monotonic() + timeout
    while True:
        lab.exec(sender, [*AS_SYNCER, "flock", "-w", "30", LOG, "true"], timeout=40)
        before = _skips(lab, sender)
        code = lab.exec(sender, [*AS_SYNCER, SCRIPT], timeout=60).returncode
        if _skips(lab, sender) == before or time.monotonic() > deadline:
            return code


def _skips(lab: Lab, sender: str) -> int:
    """How many runs the log says were skipped (the script's own words)."""
    out = lab.exec(sender, ["grep", "-c", SKIPPED, LOG], timeout=20).stdout.strip()
    return int(out) if out.isdigit() else 0


def set_targets(lab: Lab, sender: str, receivers: list[str]) -> None:
    lab.run(sender, "echo {} > {}", " ".join(receivers), TARGETS)


def remove_key(lab: Lab, receiver: str) -> None:
    lab.run(receiver, REMOVE_KEY, KEY_CRON, AUTH)


def make_key_read_only(lab: Lab, receiver: str) -> None:
    """rrsync -ro: the key may only read the content folder, not write it."""
    lab.run(receiver, READ_ONLY_KEY, KEY_CRON,
            f"s|rrsync {CONTENT_ROOT}|rrsync -ro {CONTENT_ROOT}|", AUTH)


def reinstall_key(lab: Lab, receiver: str) -> None:
    """The key as install-syncer-key writes it, and its cron entry back."""
    lab.run(receiver, REINSTALL_KEY, KEY_CRON, AUTH)


def plain_key(lab: Lab, sender: str, receiver: str) -> None:
    """The sender's key on `receiver` with no restriction (the article's
    way), and the sender's push aimed at receiver:/var/www/ instead of "/"
    (the other receivers keep rrsync, where "/" is /var/www). The script
    is kept beside as .orig for restore_script."""
    pub = lab.run(sender, "cat {}", PUBKEY).strip()
    lab.exec(receiver, ["bash", "-c", fill(OWNED_KEY, AUTH, SYNC_USER, AUTH, AUTH)],
             input=pub + "\n")
    script = lab.run(sender, "cat {}", SCRIPT)
    aimed = script.replace('"$host:/"', f'"$host:$([ "$host" = {receiver} ] '
                                        f'&& echo {CONTENT_ROOT}/ || echo /)"')
    lab.run(sender, "cp {} {}", SCRIPT, f"{SCRIPT}.orig")
    lab.exec(sender, ["bash", "-c", fill("cat > {}", SCRIPT)], input=aimed)


def restore_script(lab: Lab, sender: str) -> None:
    lab.run(sender, "[ ! -e {} ] || mv {} {}", f"{SCRIPT}.orig", f"{SCRIPT}.orig", SCRIPT)
