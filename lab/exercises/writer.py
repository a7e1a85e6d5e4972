"""The exercise's writer: one numbered order a second through web1's
/db.php, sent from the teacher's side of the lab and logged there.

A student has root in every host of their lab, so nothing the grader
trusts may live in one: this loop runs as a process on this machine (for a
class lab, inside the lab's console namespace, which has no student shell),
and its log of answers is a file under the lab's state folder. Each order
carries a mark (lab.drills.verdicts.mark) under a key made here for the
exercise and kept next to the log: a student can neither tell the orders
from any visitor's by a tag in the URL nor type in one the grader would
count. It keeps writing after `foolab exercise start` returns, bounded in
time, ends when asked, and ends by itself when the lab is gone (no packet
to a lab address that does not route to the lab).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab.drills import verdicts
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


def key_path(lab: Lab, tag: str) -> Path:
    return folder(lab) / f"{tag}.key"


def make_key(lab: Lab, tag: str) -> Path:
    """A new secret key for the exercise's marks, readable by this user
    only (0600 from its creation, never a moment wider), refused if one is
    there: a key is made once per exercise."""
    path = key_path(lab, tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path


def read_key(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise LabError(f"the writer's key {path} is unreadable", str(exc)) from None


def exercise_key(lab: Lab, tag: str) -> bytes:
    """The exercise's key, from the teacher's side: what the grader checks
    the marks with."""
    return read_key(key_path(lab, tag))


def order(key: bytes, tag: str, seq: int) -> str:
    """The path of order `seq`: what any visitor's order looks like, with a
    mark as its note and no writer tag (db.php stores writer '')."""
    return f"/db.php?write=1&seq={seq}&note={verdicts.mark(key, tag, seq)}"


def probe(lab: Lab, tag: str) -> str:
    """A path for one of the grader's own test orders: shaped like the
    writer's, a number it may well have sent, marked under tag + PROBE so
    the data goal sets it aside (and a student cannot tell it from an order
    of the writer's by its form)."""
    tried = history(lab, tag)[1]
    seq = secrets.randbelow(max(tried, default=0) + 1) + 1
    return order(exercise_key(lab, tag), tag + verdicts.PROBE, seq)


def writer_host(lab: Lab) -> str:
    """The web server the writer sends its orders to (the topology's role)."""
    return lab.topology.writer_host


def start(lab: Lab, tag: str, seconds: int = MAX_SECONDS) -> None:
    """Start the loop as a process of its own on this machine; it outlives
    the command that started it."""
    log = log_path(lab, tag)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    key_file = make_key(lab, tag)  # by path: argv is readable by every user of this machine
    argv = [sys.executable, "-m", "lab.exercises.writer", "--log", str(log), "--tag", tag,
            "--address", lab.address_of(writer_host(lab)), "--seconds", str(seconds),
            "--key-file", str(key_file)]
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


def wait_in_flight(lab: Lab, tag: str, timeout: float = 3 * EVERY + 5) -> None:
    """Until the order the writer may be sending now has its answer (the
    next line of its log): every order it sends after that was sent after
    this call. An order has 3 s (its timeout), then the writer sends the
    next within EVERY."""
    sent = max(history(lab, tag)[1], default=0)
    wait_for(f"the writer's order {sent + 1} answered or timed out",
             lambda: max(history(lab, tag)[1], default=0) > sent, timeout=timeout, every=0.1)


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


def _loop(log: Path, tag: str, key: bytes, address: str, seconds: float,
          console: int = 0) -> None:
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
                code = str(pages.fetch(address, order(key, tag, seq), timeout=3).status)
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
    p.add_argument("--key-file", type=Path, required=True)
    a = p.parse_args(argv)
    key = read_key(a.key_file)  # read here, before any namespace is entered
    if a.netns_pid:
        # The console's namespace: the lab's addresses, and no way out of it.
        with inside(a.netns_pid):
            _loop(a.log, a.tag, key, a.address, a.seconds, a.netns_pid)
    else:
        _loop(a.log, a.tag, key, a.address, a.seconds)


if __name__ == "__main__":
    main()
