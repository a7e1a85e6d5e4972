"""One dataclass for every setting, from flags and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.topology import DEFAULT_SUBNET, Topology, topology

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LabConfig:
    """Where the lab's files are and how it is laid out.

    Environment: FOOLAB_SUBNET (default 10.1.1.0/24), FOOLAB_STATE_DIR
    (default .lab/ in the checkout: the per-lab secrets and env file),
    FOOLAB_HEALTH_TIMEOUT (seconds to wait for seven healthy hosts).
    """

    subnet: str = DEFAULT_SUBNET
    state_dir: Path = field(default_factory=lambda: REPO / ".lab")
    compose_file: Path = REPO / "compose" / "lab.yml"
    project: str = "foolab"
    health_timeout: float = 180.0

    @property
    def topology(self) -> Topology:
        return topology(self.subnet)

    @property
    def env_file(self) -> Path:
        return self.state_dir / "lab.env"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.env"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **flags: object) -> LabConfig:
        """Defaults, then FOOLAB_* variables, then explicit flags (None = not given)."""
        env = os.environ if environ is None else environ
        cfg = cls()
        if env.get("FOOLAB_SUBNET"):
            cfg = replace(cfg, subnet=env["FOOLAB_SUBNET"])
        if env.get("FOOLAB_STATE_DIR"):
            cfg = replace(cfg, state_dir=Path(env["FOOLAB_STATE_DIR"]))
        if env.get("FOOLAB_HEALTH_TIMEOUT"):
            cfg = replace(cfg, health_timeout=float(env["FOOLAB_HEALTH_TIMEOUT"]))
        given = {k: v for k, v in flags.items() if v is not None}
        return replace(cfg, **given)  # type: ignore[arg-type]
