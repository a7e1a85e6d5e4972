"""The lab's images: rebuilt only when their folder under images/ changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.engine.process import run


def context_digest(folder: Path) -> str:
    """A digest of an image's build context: rebuild only when it changed."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_digest_label(image: str) -> str | None:
    out = run(
        ["docker", "image", "inspect", "--format", '{{index .Config.Labels "org.foolab.context"}}',
         image],
        timeout=20,
    )
    return out.stdout.strip() if out.returncode == 0 else None
