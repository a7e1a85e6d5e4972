"""README's "One student's share" table, written from the bounds' own
figures (lab.model.bounds) and each host's bound in compose/class.yml, so
that no bound in it is typed by hand (tests/test_generated_docs.py renders
it again and compares)."""

from __future__ import annotations

from typing import Any

from lab.model import bounds
from lab.model.config import REPO
from lab.model.topology import Role, topology

BEGIN = "<!-- class-share:begin (written by lab/classweb/share_doc.py; do not edit) -->"
END = "<!-- class-share:end -->"
CLASS_YML = REPO / "compose" / "class.yml"


def host_bounds() -> dict[str, dict[str, Any]]:
    """Each host's own bounds as compose/class.yml sets them: host ->
    {mem_limit, pids_limit} (YAML's `<<:` brings in the part all share)."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - a test dependency

    services = yaml.safe_load(CLASS_YML.read_text())["services"]
    return {name: {"mem_limit": s.get("mem_limit"), "pids_limit": s.get("pids_limit")}
            for name, s in services.items()}


def _mib(limit: str) -> int:
    number, unit = int(limit[:-1]), limit[-1].lower()
    return number * {"m": 1, "g": 1024}[unit]


def readme_block() -> str:
    """The table between its markers."""
    share, per_host, t = bounds.LabBounds(), host_bounds(), topology()
    memory = ", ".join(f"{role.value} {_mib(per_host[t.by_role(role)[0].name]['mem_limit'])}"
                       for role in (Role.DNS, Role.WEB, Role.DB)) + " MiB"
    pids = {per_host[h]["pids_limit"] for h in t.names}
    (host_pids,) = pids
    gib = bounds.RESERVE_MEMORY_MIB // 1024
    rows = [
        "| bound | a lab (its own control group) | each host | all labs together |",
        "|---|---|---|---|",
        f"| memory | {share.memory_mib} MiB (`FOOLAB_LAB_MEMORY_MIB`) | {memory} | "
        f"the machine less {gib} GiB |",
        f"| processes | {share.pids} (`FOOLAB_LAB_PIDS`) | {host_pids} | "
        f"`pid_max` less {bounds.RESERVE_PIDS} |",
        "| CPU | all cores but half of one (`FOOLAB_LAB_CPUS`), the same weight as every "
        "other lab | | |",
        "",
        f"A bound below what a lab needs to start and run an exercise "
        f"({bounds.MIN_LAB_MEMORY_MIB} MiB, {bounds.MIN_LAB_PIDS} processes) is one line "
        "before anything starts.",
    ]
    return "\n".join([BEGIN, *rows, END])


def readme_block_in(text: str) -> str | None:
    """The block in a README's text, its markers included (None if it has none)."""
    if BEGIN not in text or END not in text:
        return None
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
