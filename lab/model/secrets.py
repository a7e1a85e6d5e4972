"""Per-lab passwords: generated at the first `up`, kept in .lab/ (mode 0600,
ignored by git), removed by `down` so the next lab gets new ones."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# LB_STATS_PASSWORD: the balancer's statistics page (user admin), when lb runs.
NAMES = ("DB_ADMIN_PASSWORD", "COPY_PASSWORD", "APP_PASSWORD", "LB_STATS_PASSWORD")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as Compose's --env-file reads them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write_private(path: Path, values: dict[str, str], header: str) -> None:
    """Write an env file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# {header}\n")
        for key, value in values.items():
            f.write(f"{key}={value}\n")
    os.chmod(path, 0o600)


def load_or_create(path: Path) -> dict[str, str]:
    """The lab's passwords, making any that are missing."""
    values = read_env_file(path) if path.exists() else {}
    missing = [n for n in NAMES if not values.get(n)]
    if missing:
        for name in missing:
            # Letters and digits only: safe in env files, SQL and shell.
            values[name] = secrets.token_hex(16)
        write_private(path, values, "per-lab passwords, made by foolab up; never commit")
    return values
