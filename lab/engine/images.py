"""The lab's images: rebuilt only when their folder under images/ changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.engine import client


def context_digest(folder: Path) -> str:
    """A digest of an image's build context: rebuild only when it changed."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_digest_label(image: str) -> str | None:
    """The build-context digest an image was built from; None if the image is
    not there ("" if it carries no such label)."""
    data = client.inspect_image(image)
    if data is None:
        return None
    labels = (data.get("Config") or {}).get("Labels") or {}
    return str(labels.get("org.foolab.context", ""))
