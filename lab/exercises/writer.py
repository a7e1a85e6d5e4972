"""The exercise's writer: one numbered order a second through web1's
/db.php, sent from the teacher's side of the lab and logged there.

A student has root in every host of their lab, so nothing the grader
trusts may live in one: this loop runs as a process on this machine (for a
class lab, inside the lab's console namespace, which has no student shell),
and its log of answers is a file under the lab's state folder. It keeps
writing after `foolab exercise start` returns, bounded in time, ends when
asked, and ends by itself when the lab is gone (no packet to a lab address
that does not route to the lab).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab.engine import client, netns
from lab.engine.lab import Lab
from lab.engine.netns import inside
from lab.engine.waiting import wait_for
from lab.model.errors import LabError
from lab.probes import pages

MAX_SECONDS = 3600  # an exercise lasts a lesson at most
EVERY = 1.0  # seconds between two orders
# What the grader needs to call a data goal met: the writer was acknowledged
# this often before the lab broke (grader.start waits for it), so a lab where
# no order ever got through cannot pass "every acknowledged order kept".
MIN_ACKNOWLEDGED = 3


def folder(lab: Lab) -> Path:
    return lab.config.state_dir / "writer"


def log_path(lab: Lab, tag: str) -> Path:
    return folder(lab) / f"{tag}.log"


def writer_host(lab: Lab) -> str:
    """The web server the writer sends its orders to (the topology's role)."""
    return lab.topology.writer_host


def start(lab: Lab, tag: str, seconds: int = MAX_SECONDS) -> None:
    """Start the loop as a process of its own on this machine; it outlives
    the command that started it."""
    log = log_path(lab, tag)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    argv = [sys.executable, "-m", "lab.exercises.writer", "--log", str(log), "--tag", tag,
            "--address", lab.address_of(writer_host(lab)), "--seconds", str(seconds)]
    if lab.config.in_class:
        console = client.pid(lab.console)
        if console is None:
            raise LabError(f"lab {lab.config.lab}'s console is not running",
                           hint=f"`foolab --lab {lab.config.lab} up`")
        argv += ["--netns-pid", str(console)]
    # Started from this machine's namespace even when the caller's thread is
    # inside the lab's (`lab.network()`): the child enters the console's
    # namespace itself, and takes where it began for the machine's.
    proc = subprocess.Popen(netns.on_machine(argv), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(log.with_suffix(".err"), "w"),  # noqa: SIM115
                            start_new_session=True, cwd=Path(__file__).resolve().parents[2])
    log.with_suffix(".pid").write_text(str(proc.pid))


def wait_acknowledged(lab: Lab, tag: str, count: int = MIN_ACKNOWLEDGED,
                      timeout: float = 30) -> None:
    """Until the writer has `count` acknowledged orders (the healthy lab's
    baseline), or a one-line LabError."""
    wait_for(f"{count} orders acknowledged by the writer",
             lambda: len(history(lab, tag)[0]) >= count, timeout=timeout, every=0.25)


def stop(lab: Lab, tag: str, timeout: float = 10) -> None:
    """Ask the loop to end after its current order, and wait for it."""
    log = log_path(lab, tag)
    log.with_suffix(".stop").touch()
    pid_file = log.with_suffix(".pid")
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, 9)
    pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it
        if done:
            return False
    except ChildProcessError:
        pass  # started by another foolab command
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def history(lab: Lab, tag: str) -> tuple[list[int], list[int]]:
    """(acknowledged, attempted) sequence numbers, from the writer's log on
    the teacher's side: HTTP 200 is acknowledged; anything else may or may
    not be stored."""
    log = log_path(lab, tag)
    if not log.exists():
        raise LabError(f"the writer's log {log} is gone")
    return parse(log.read_text())


def parse(text: str) -> tuple[list[int], list[int]]:
    acked, tried = [], []
    for line in text.splitlines():
        seq, _, code = line.partition(" ")
        if seq.isdigit():
            tried.append(int(seq))
            if code.strip() == "200":
                acked.append(int(seq))
    return acked, tried


# --- the loop (its own process) ------------------------------------------------------


def _loop(log: Path, tag: str, address: str, seconds: float, console: int = 0) -> None:
    end, seq = time.monotonic() + seconds, 0
    stop_file = log.with_suffix(".stop")
    with log.open("a") as out:
        while time.monotonic() < end and not stop_file.exists():
            if console and not Path(f"/proc/{console}").exists():
                out.write(f"{seq + 1} gone\n")  # the class lab's console is gone
                return
            seq += 1
            t0 = time.monotonic()
            try:
                code = str(pages.fetch(address, f"/db.php?write=1&seq={seq}&writer={tag}",
                                       timeout=3).status)
            except LabError:  # the lab is gone: nothing more to send anywhere
                out.write(f"{seq} gone\n")
                return
            except OSError:
                code = "000"  # no answer: may or may not be stored
            out.write(f"{seq} {code}\n")
            out.flush()
            time.sleep(max(0.0, EVERY - (time.monotonic() - t0)))


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lab.exercises.writer")
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--seconds", type=float, default=MAX_SECONDS)
    p.add_argument("--netns-pid", type=int, default=0)
    a = p.parse_args(argv)
    if a.netns_pid:
        # The console's namespace: the lab's addresses, and no way out of it.
        with inside(a.netns_pid):
            _loop(a.log, a.tag, a.address, a.seconds, a.netns_pid)
    else:
        _loop(a.log, a.tag, a.address, a.seconds)


if __name__ == "__main__":
    main()
