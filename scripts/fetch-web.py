#!/usr/bin/env python3
"""The front-end packages of web/package-lock.json, fetched from the npm
registry as `npm ci` would lay them out, with Python's standard library only.

Why not npm: on a fresh Debian 12 `apt-get install npm` brings nodejs and
about 300 node-* packages (the longest install of a fresh machine) to unpack
seven tarballs that have no install scripts. Each tarball is checked against
the lock file's `integrity` (SHA-512) before anything is written; a package
with an install script, or a lock file without integrity, is refused.

    fetch-web.py WEB_DIR     (node_modules/ written there, then .foolab-lock)
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL = 16 << 20  # the largest here is about 1 MiB


def tarball_url(name: str, version: str) -> str:
    """The registry's address of a package's tarball (the lock file leaves
    `resolved` out: omit-lockfile-registry-resolved)."""
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - https registry
        data: bytes = resp.read(MAX_TARBALL + 1)
    if len(data) > MAX_TARBALL:
        raise SystemExit(f"foolab: error: {url} is over {MAX_TARBALL} bytes")
    return data


def verify(data: bytes, integrity: str, what: str) -> None:
    algo, _, want = integrity.partition("-")
    if algo != "sha512" or base64.b64decode(want) != hashlib.sha512(data).digest():
        raise SystemExit(f"foolab: error: {what}: the tarball does not match the lock "
                         "file's integrity; nothing was installed")


def unpack(data: bytes, dest: Path) -> None:
    """The tarball's package/ folder into dest: regular files and folders
    only, none outside it."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or ".." in parts or parts[0] in ("/", ""):
                continue
            target = dest.joinpath(*parts[1:])
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
                target.chmod(0o644)


def main(web: Path) -> None:
    lock = json.loads((web / "package-lock.json").read_text())
    wanted = {path: meta for path, meta in lock["packages"].items() if path}
    for path, meta in wanted.items():
        if not meta.get("integrity") or meta.get("hasInstallScript"):
            raise SystemExit(f"foolab: error: {path}: no integrity in the lock file, or an "
                             "install script: use `npm ci` in web/")

    def one(item: tuple[str, dict[str, str]]) -> tuple[str, bytes]:
        path, meta = item
        name = meta.get("name") or path.rsplit("node_modules/", 1)[-1]
        data = fetch(tarball_url(name, meta["version"]))
        verify(data, meta["integrity"], f"{name}@{meta['version']}")
        return path, data

    with ThreadPoolExecutor(max_workers=8) as pool:
        tarballs = dict(pool.map(one, wanted.items()))
    staging = web / "node_modules.partial"
    shutil.rmtree(staging, ignore_errors=True)
    for path, data in tarballs.items():
        unpack(data, staging / PurePosixPath(path).relative_to("node_modules"))
    shutil.copyfile(web / "package-lock.json", staging / ".foolab-lock")
    shutil.rmtree(web / "node_modules", ignore_errors=True)
    staging.rename(web / "node_modules")  # all of it or nothing


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "web"))
