"""One dataclass for every setting, from flags and the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.model import article, class_layout, cluster, secrets
from lab.model.errors import TopologyError
from lab.model.topology import DEFAULT_SUBNET, Topology, image_tag, topology

REPO = Path(__file__).resolve().parents[2]
LB_CONFIG_NAME = "haproxy.cfg"  # lb's configuration, in the lab's state folder
HA_METHODS = ("mha", "keepalived")  # optional automatic failover (compose/<name>.yml)
_PROJECT = re.compile(r"foolab[a-z0-9]{0,8}")  # bridge names are at most 15 characters


@dataclass(frozen=True)
class LabConfig:
    """Where the lab's files are and how it is laid out.

    Environment: FOOLAB_SUBNET (default 10.1.1.0/24), FOOLAB_STATE_DIR
    (default .lab/ in the checkout: the per-lab secrets and env file),
    FOOLAB_HEALTH_TIMEOUT (seconds to wait for seven healthy hosts),
    FOOLAB_PROJECT (default foolab: a second lab on the same machine needs
    another name starting with "foolab", another subnet and state dir),
    FOOLAB_BALANCER=1 (the optional eighth host lb, HAProxy; compose/balancer.yml).
    FOOLAB_LAB=NAME (or --lab NAME): one lab of a class (lab.model.class_layout),
    with its own project foolabNAME and state folder .lab/class/NAME/.
    mha / keepalived: automatic failover (compose/mha.yml, compose/keepalived.yml),
    added to a running lab by lab.admin.mha / lab.admin.keepalived.
    """

    subnet: str = DEFAULT_SUBNET
    state_dir: Path = field(default_factory=lambda: REPO / ".lab")
    compose_file: Path = REPO / "compose" / "lab.yml"
    project: str = "foolab"
    health_timeout: float = 180.0
    balancer: bool = False
    balancer_file: Path = REPO / "compose" / "balancer.yml"
    mha: bool = False
    keepalived: bool = False
    lab: str = ""  # a class lab's name ("" = the single lab)
    wire_subnet: str = ""  # a class lab's Docker subnet (lab.model.class_layout)
    class_root: Path = field(default_factory=lambda: REPO / ".lab" / "class")

    @property
    def topology(self) -> Topology:
        if not _PROJECT.fullmatch(self.project):
            raise TopologyError(
                f"bad project name {self.project!r}: foolab followed by up to 8 lowercase "
                "letters or digits (it names the containers and the bridge)"
            )
        return topology(self.subnet, self.project, balancer=self.balancer, mha=self.mha)

    @property
    def bridge(self) -> str:
        """The Linux bridge of the lab network: foolab0, or foolab-s03 for a
        class lab (the host's class rules match the common prefix)."""
        return f"{class_layout.BRIDGE_PREFIX}{self.lab}" if self.lab else f"{self.project}0"

    @property
    def in_class(self) -> bool:
        """A class lab: addresses set inside the containers, reached from
        inside its network namespace (compose/class.yml)."""
        return bool(self.lab)

    def for_lab(self, name: str) -> LabConfig:
        """This configuration for the class lab `name`: its project, state
        folder and, once it has been up, its recorded subnets."""
        class_layout.check_name(name, self.project)
        folder = self.class_root / name
        record = class_layout.LabRecord.load(folder) or class_layout.LabRecord(name, self.subnet)
        return replace(self, lab=name, project=f"foolab{name}", state_dir=folder,
                       subnet=record.subnet, wire_subnet=record.wire)

    @property
    def compose_files(self) -> tuple[Path, ...]:
        """The seven hosts, then each optional host the lab asked for."""
        extra = [self.balancer_file] if self.balancer else []
        extra += [REPO / "compose" / f"{m}.yml" for m in HA_METHODS if getattr(self, m)]
        if self.in_class:
            extra.insert(0, REPO / "compose" / "class.yml")
        return (self.compose_file, *extra)

    @property
    def per_lab_files(self) -> tuple[Path, ...]:
        """Files made for one lab and forgotten by `down` (new secrets next
        time; a class lab on a node: its place too)."""
        return (self.env_file, self.secrets_file, self.lb_dir / LB_CONFIG_NAME,
                *(self.ha_marker(m) for m in HA_METHODS),
                self.state_dir / cluster.PLACEMENT_NAME)

    def ha_marker(self, method: str) -> Path:
        """A file that marks a lab running MHA or keepalived (until `down`)."""
        return self.state_dir / "ha" / method

    def remembered(self) -> LabConfig:
        """This configuration with the optional hosts a running lab was brought
        up with: its balancer configuration marks a lab that runs lb."""
        if not self.balancer and (self.lb_dir / LB_CONFIG_NAME).exists():
            return replace(self, balancer=True).remembered()
        for m in HA_METHODS:
            if not getattr(self, m) and self.ha_marker(m).exists():
                return replace(self, **{m: True}).remembered()  # type: ignore[arg-type]
        return self

    @property
    def env_file(self) -> Path:
        return self.state_dir / "lab.env"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.env"

    @property
    def load_marker(self) -> Path:
        """Present while `foolab load` runs: where its per-second tally is
        (JSON {"live": PATH}); the dashboard reads requests/s from there."""
        return self.state_dir / "load-run.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def lb_dir(self) -> Path:
        """The balancer's configuration folder, mounted read-only on lb. Its
        haproxy.cfg also marks a lab that runs the balancer."""
        return self.state_dir / "lb"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **flags: object) -> LabConfig:
        """Defaults, then FOOLAB_* variables, then explicit flags (None = not given)."""
        env = os.environ if environ is None else environ
        cfg = cls()
        if env.get("FOOLAB_SUBNET"):
            cfg = replace(cfg, subnet=env["FOOLAB_SUBNET"])
        if env.get("FOOLAB_STATE_DIR"):
            root = Path(env["FOOLAB_STATE_DIR"])
            cfg = replace(cfg, state_dir=root, class_root=root / "class")
        if env.get("FOOLAB_PROJECT"):
            cfg = replace(cfg, project=env["FOOLAB_PROJECT"])
        if env.get("FOOLAB_HEALTH_TIMEOUT"):
            cfg = replace(cfg, health_timeout=float(env["FOOLAB_HEALTH_TIMEOUT"]))
        if env.get("FOOLAB_BALANCER", "") not in ("", "0"):
            cfg = replace(cfg, balancer=True)
        given = {k: v for k, v in flags.items() if v is not None}
        name = str(given.pop("lab", None) or env.get("FOOLAB_LAB", ""))
        cfg = replace(cfg, **given)  # type: ignore[arg-type]
        return cfg.for_lab(name) if name else cfg


def compose_env(config: LabConfig) -> dict[str, str]:
    """Addresses, names and passwords the compose files interpolate (the
    per-lab passwords are made on first use: lab.model.secrets)."""
    topo = config.topology
    values = {f"{h.name.upper()}_ADDR": h.address for h in topo.hosts}
    values.update({f"{web.upper()}_READS_ADDR": topo.address(topo.read_server(web))
                   for web in topo.webs})
    values.update(REPLICATION_USER=article.REPLICATION_USER,
                  CONNECT_RETRY=str(article.CONNECT_RETRY_S),
                  APP_DATABASE=article.APP_DATABASE)
    wire = config.wire_subnet or topo.subnet  # the same, but in a class
    addresses = {f"{h.name.upper()}_ADDR": h.address for h in topo.hosts}
    addresses.update(LB_ADDR=topo.lb_address, MHA_ADDR=topo.mha_address,
                     DB_FLOAT_ADDR=topo.float_address)
    values.update({k.replace("_ADDR", "_WIRE"): class_layout.same_octet(a, wire)
                   for k, a in addresses.items()})
    console = f"0.0.0.{class_layout.CONSOLE_OCTET}"
    values.update(
        CONSOLE_ADDR=class_layout.same_octet(console, topo.subnet),
        CONSOLE_WIRE=class_layout.same_octet(console, wire),
        LAB_WIRE_SUBNET=wire,
        LAB_WIRE_GATEWAY=class_layout.same_octet("0.0.0.1", wire),
        LAB_NAME=config.lab,
        LAB_SUBNET=topo.subnet,
        LAB_GATEWAY=topo.gateway,
        LAB_NET=str(topo.network.network_address),
        LAB_MASK=str(topo.network.netmask),
        LAB_PROJECT=config.project,
        LAB_BRIDGE=config.bridge,
        LAB_IMAGE_TAG=image_tag(),
        LB_ADDR=topo.lb_address,
        DB_FLOAT_ADDR=topo.float_address,
        MHA_ADDR=topo.mha_address,
        LB_CONF_DIR=str(config.lb_dir.resolve()),
    )
    values.update(secrets.load_or_create(config.secrets_file))
    return values
