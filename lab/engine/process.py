"""Local commands: the one place that quotes a command line, runs it with a
timeout, and finds the engine and Compose."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lab.engine import client
from lab.model.errors import LabError


def quote(argv: Sequence[str]) -> str:
    """The one place that quotes a command line sent into a container."""
    return shlex.join(argv)


def fill(template: str, *args: str) -> str:
    """A shell line from a template whose `{}` each take one argument,
    quoted: values never become shell syntax (Lab.run's door)."""
    if template.count("{}") != len(args):
        raise ValueError(f"{template!r} takes {template.count('{}')} arguments, "
                         f"given {len(args)}")
    return template.format(*(shlex.quote(a) for a in args))


def run(
    argv: Sequence[str], *, timeout: float | None = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a local command, capturing text output; never raises on exit code.
    A `docker` command talks to this block's engine (client.engine)."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input,
            env=client.command_env())
    except FileNotFoundError:
        raise LabError(f"{argv[0]} is not installed", hint="run `make lab-up` as root") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{quote(argv)}` did not finish within {timeout} s") from None


def run_logged(argv: Sequence[str], log: Path, what: str, timeout: float) -> None:
    """A long local command (an image build) with its output in `log`; a
    LabError with the log's last line if it fails."""
    with log.open("w") as f:
        try:
            proc = subprocess.run(list(argv), stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{what} took over {timeout:.0f} s", hint=f"see {log}") from None
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or [""]
        raise LabError(f"{what} failed", tail[0], f"full log in {log}")


def require_engine() -> None:
    """Docker CLI present (Compose, build and exec need it) and daemon
    answering, or a one-line LabError."""
    if shutil.which("docker") is None:
        raise LabError(
            "Docker is missing",
            hint="run `make lab-up` as root (it installs Debian's docker.io), or install Docker",
        )
    client.ping()  # the daemon, through the SDK: a one-line LabError if absent


_COMPOSE: list[str] = []  # found once per process: each look is a docker CLI run


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) if present, else v1 (`docker-compose`)."""
    if _COMPOSE:
        return list(_COMPOSE)
    if run(["docker", "compose", "version"], timeout=20).returncode == 0:
        _COMPOSE[:] = ["docker", "compose"]
        return list(_COMPOSE)
    if shutil.which("docker-compose"):
        _COMPOSE[:] = ["docker-compose"]
        return list(_COMPOSE)
    raise LabError(
        "Docker Compose is missing",
        hint="run `make lab-up` as root (scripts/install-engine.sh installs it)",
    )
