"""Files of a host read through the engine's archive (lab.engine.hostfiles),
with a fake engine that tars a folder of this machine like the engine
tars a container's path: bounded, links followed, nothing run in a host."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.engine import client, hostfiles
from lab.model.errors import LabError


class FakeEngine:
    """get_archive/put_archive over `root` (the container's /), counting the
    bytes it hands out."""

    def __init__(self, root: Path) -> None:
        self.root, self.sent, self.asked = root, 0, []

    def get_archive(self, container: str, path: str,
                    ) -> tuple[Iterator[bytes], dict[str, Any]] | None:
        self.asked.append(path)
        here = self.root / path.lstrip("/")
        if not here.is_symlink() and not here.exists():
            return None
        stat: dict[str, Any] = {"name": here.name, "size": here.lstat().st_size, "mode": 0,
                                "linkTarget": ""}
        if here.is_symlink():
            stat["mode"] |= 1 << 27
            stat["linkTarget"] = "/" + str(here.resolve().relative_to(self.root.resolve()))
        elif here.is_dir():
            stat["mode"] |= 1 << 31
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as tar:
            tar.add(here, arcname=here.name)
        data = packed.getvalue()

        def chunks() -> Iterator[bytes]:
            for at in range(0, len(data), 4096):
                self.sent += len(data[at:at + 4096])
                yield data[at:at + 4096]

        return chunks(), stat

    def put_archive(self, container: str, folder: str, data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(self.root / folder.lstrip("/"), filter="fully_trusted")


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(tmp_path)
    monkeypatch.setattr(client, "get_archive", fake.get_archive)
    monkeypatch.setattr(client, "put_archive", fake.put_archive)
    return fake


def www(root: Path) -> Path:
    (root / "var/www/html").mkdir(parents=True)
    (root / "var/www/html/index.html").write_text("<h1>foo</h1>\n")
    (root / "var/www/html/news.html").write_text("news\n")
    return root / "var/www"


def test_a_tree_is_digested_from_the_archive_like_find_and_md5sum(engine: FakeEngine) -> None:
    folder = www(engine.root)
    os.link(folder / "html/index.html", folder / "html/same.html")
    (folder / "html/link.html").symlink_to("index.html")
    got = hostfiles.tree_digests("web1", "/var/www")
    md5 = hashlib.md5(b"<h1>foo</h1>\n").hexdigest()
    assert got == {"html/index.html": md5, "html/same.html": md5,
                   "html/news.html": hashlib.md5(b"news\n").hexdigest()}


def test_a_file_too_large_is_refused_from_the_stat_before_any_byte(engine: FakeEngine) -> None:
    big = engine.root / "big"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(hostfiles.TooLarge, match="over 4096"):
        hostfiles.read_file("web3", "/big", limit=4096)
    assert engine.sent == 0
    assert hostfiles.read_file("web3", "/big", limit=5000) == b"x" * 5000


def test_a_tree_is_read_no_further_than_its_caps(engine: FakeEngine) -> None:
    folder = www(engine.root)
    (folder / "html/huge.bin").write_bytes(os.urandom(200_000))
    with pytest.raises(hostfiles.TooLarge, match="huge.bin"):
        hostfiles.tree_digests("web3", "/var/www", max_file=100_000)
    with pytest.raises(hostfiles.TooLarge):
        hostfiles.tree_digests("web3", "/var/www", max_tree=50_000)
    assert engine.sent <= 50_000 + 4096 + 16_384  # one chunk past the cap at most, per read
    for n in range(5):
        (folder / f"f{n}").write_text("")
    with pytest.raises(hostfiles.TooLarge, match="entries"):
        hostfiles.tree_digests("web3", "/var/www", max_entries=4)


def test_exists_and_read_follow_a_link_to_its_end_and_say_none_for_nothing(
        engine: FakeEngine) -> None:
    (engine.root / "tmp").mkdir()
    (engine.root / "tmp/real").write_text("token")
    (engine.root / "tmp/link").symlink_to("real")
    (engine.root / "tmp/dangling").symlink_to("nowhere")
    assert hostfiles.exists("web3", "/tmp/link") and hostfiles.exists("web3", "/tmp/real")
    assert hostfiles.read_file("web3", "/tmp/link") == b"token"
    assert not hostfiles.exists("web3", "/tmp/dangling")
    assert not hostfiles.exists("web3", "/tmp/none")
    assert hostfiles.read_file("web3", "/tmp/none") is None
    with pytest.raises(LabError, match="folder"):
        hostfiles.read_file("web3", "/tmp")
    with pytest.raises(LabError, match="no such folder"):
        hostfiles.tree_digests("web3", "/var/www")


def test_a_probe_is_written_through_the_engine_and_a_user_read_from_passwd(
        engine: FakeEngine) -> None:
    (engine.root / "etc").mkdir()
    (engine.root / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\n"
                                            "syncer:x:1001:1002::/home/syncer:/bin/bash\n")
    (engine.root / "var").mkdir()
    hostfiles.put_file("web1", "/var/probe", b"token")
    assert (engine.root / "var/probe").read_bytes() == b"token"
    assert hostfiles.user_ids("web1", "syncer") == (1001, 1002)
    assert hostfiles.user_ids("web1", "nobody") is None
