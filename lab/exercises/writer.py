"""A writer inside the lab: a shell loop on web1 that writes one numbered
row a second through web1's own /db.php and logs each answer on web1. It
keeps writing after `foolab exercise start` returns (bounded in time), so
the grader can read from the lab itself which writes were acknowledged."""

from __future__ import annotations

from lab.engine.lab import Lab
from lab.model.article import WWW
from lab.model.errors import LabError

HOST = "web1"
LOG = "/var/log/foolab-writer-{tag}.log"
MAX_SECONDS = 3600  # an exercise lasts a lesson at most


def start(lab: Lab, tag: str, seconds: int = MAX_SECONDS) -> None:
    """Start the loop in the background (docker exec -d); one write a second."""
    log = LOG.format(tag=tag)
    loop = (
        f"end=$((SECONDS + {seconds})); seq=0; : > {log}; "
        f"while [ $SECONDS -lt $end ] && [ ! -e {log}.stop ]; do seq=$((seq + 1)); "
        "code=$(curl -s -o /dev/null -w '%{http_code}' -m 3 "
        f"-H 'Host: {WWW}' 'http://127.0.0.1/db.php?write=1&seq='$seq'&writer={tag}'); "
        f"echo \"$seq $code\" >> {log}; sleep 1; done"
    )
    out = lab.exec(HOST, ["bash", "-c", f"nohup bash -c {_q(loop)} >/dev/null 2>&1 &"],
                   timeout=20)
    if out.returncode != 0:
        raise LabError(f"could not start the writer on {HOST}", out.stderr)


def stop(lab: Lab, tag: str) -> None:
    """Ask the loop to end after its current write (it also ends by itself)."""
    lab.exec(HOST, ["touch", f"{LOG.format(tag=tag)}.stop"], timeout=20)


def history(lab: Lab, tag: str) -> tuple[list[int], list[int]]:
    """(acknowledged, attempted) sequence numbers, from the writer's log on
    web1: HTTP 200 is acknowledged; anything else may or may not be stored."""
    out = lab.exec(HOST, ["cat", LOG.format(tag=tag)], timeout=20)
    if out.returncode != 0:
        raise LabError(f"the writer's log on {HOST} is gone", out.stderr)
    acked, tried = [], []
    for line in out.stdout.splitlines():
        seq, _, code = line.partition(" ")
        if seq.isdigit():
            tried.append(int(seq))
            if code.strip() == "200":
                acked.append(int(seq))
    return acked, tried


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
