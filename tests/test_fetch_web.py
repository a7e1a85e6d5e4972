"""scripts/fetch-web.py: the lock file's tarballs, checked before a byte is
written, laid out as npm would. The registry is faked (no network)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def fetcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_web", REPO / "scripts" / "fetch-web.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def web_folder(tmp_path: Path, integrity: str) -> Path:
    lock = {"packages": {"": {}, "node_modules/@xterm/xterm": {
        "version": "5.5.0", "integrity": integrity}}}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    return tmp_path


def test_a_scoped_package_s_tarball_is_where_the_registry_keeps_it():
    assert fetcher().tarball_url("@xterm/xterm", "5.5.0") == \
        "https://registry.npmjs.org/@xterm/xterm/-/xterm-5.5.0.tgz"


def test_the_lock_file_s_packages_are_laid_out_as_npm_does(tmp_path, monkeypatch):
    module = fetcher()
    data = tgz({"package/lib/xterm.js": b"js", "package/../../evil": b"x"})
    monkeypatch.setattr(module, "fetch", lambda url: data)
    web = web_folder(tmp_path, sri(data))
    module.main(web)
    assert (web / "node_modules/@xterm/xterm/lib/xterm.js").read_bytes() == b"js"
    lock = web / "package-lock.json"
    assert (web / "node_modules/.foolab-lock").read_bytes() == lock.read_bytes()
    assert not list(tmp_path.rglob("evil"))


def test_a_tarball_that_does_not_match_the_lock_file_writes_nothing(tmp_path, monkeypatch):
    module = fetcher()
    monkeypatch.setattr(module, "fetch", lambda url: tgz({"package/lib/xterm.js": b"changed"}))
    web = web_folder(tmp_path, sri(b"what the lock file pinned"))
    with pytest.raises(SystemExit, match="integrity"):
        module.main(web)
    assert not (web / "node_modules").exists()
