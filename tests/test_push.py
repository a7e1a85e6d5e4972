"""rsync.push: the push asked for is the one that happens, even when
cron's run holds the script's lock and writes its own lines after ours."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from lab.hosts import rsync


class _Sender:
    """web1 as push sees it: the script skips while cron's run holds the
    lock, and cron's run goes on writing its lines to the same log."""

    def __init__(self, cron_runs: int) -> None:
        self.log: list[str] = ["sync-content: /var/www/ -> web2"]
        self.cron_runs, self.pushes = cron_runs, 0

    def exec(self, host: str, argv: Sequence[str], *, timeout: float = 60,
             **_: object) -> subprocess.CompletedProcess[str]:
        out = ""
        if argv[-1] == rsync.SCRIPT:
            if self.cron_runs:  # cron took the lock between the wait and our run
                self.cron_runs -= 1
                self.log += [f"2026-12-07 10:00:00 {rsync.SKIPPED}",
                             "sync-content: /var/www/ -> web2", "sync-content: /var/www/ -> web3"]
            else:
                self.pushes += 1
                self.log += ["sync-content: /var/www/ -> web2", "sync-content: /var/www/ -> web3"]
        elif argv[0] == "grep":
            out = str(sum(rsync.SKIPPED in line for line in self.log))
        return subprocess.CompletedProcess(list(argv), 0, out, "")

    def run(self, host: str, template: str, *args: str) -> str:
        """The log's last line (what push read before; kept for its red check)."""
        return self.log[-1]


def test_a_run_skipped_under_crons_lock_is_pushed_again() -> None:
    """Seen red with the old test (the log's last line says "skipped"):
    cron's lines came after the skip, and no push of ours happened."""
    sender = _Sender(cron_runs=2)
    assert rsync.push(sender, "web1") == 0  # type: ignore[arg-type]
    assert sender.pushes == 1


def test_a_push_with_no_cron_about_runs_once() -> None:
    sender = _Sender(cron_runs=0)
    rsync.push(sender, "web1")  # type: ignore[arg-type]
    assert sender.pushes == 1
