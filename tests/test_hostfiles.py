"""Files of a host read through the engine's archive (lab.engine.hostfiles),
with a fake engine that tars a folder of this machine like the engine
tars a container's path: bounded, links followed, nothing run in a host."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lab.engine import hostfiles
from lab.model.errors import LabError

if TYPE_CHECKING:
    from conftest import FakeEngine


def www(root: Path) -> Path:
    (root / "var/www/html").mkdir(parents=True)
    (root / "var/www/html/index.html").write_text("<h1>foo</h1>\n")
    (root / "var/www/html/news.html").write_text("news\n")
    return root / "var/www"


def test_a_tree_is_digested_from_the_archive_like_find_and_md5sum(
        host_files: FakeEngine) -> None:
    folder = www(host_files.fs("web1"))
    os.link(folder / "html/index.html", folder / "html/same.html")
    (folder / "html/link.html").symlink_to("index.html")
    got = hostfiles.tree_digests("web1", "/var/www")
    md5 = hashlib.md5(b"<h1>foo</h1>\n").hexdigest()
    assert got == {"html/index.html": md5, "html/same.html": md5,
                   "html/news.html": hashlib.md5(b"news\n").hexdigest()}


def test_a_file_too_large_is_refused_from_the_stat_before_any_byte(
        host_files: FakeEngine) -> None:
    big = host_files.fs("web1") / "big"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(hostfiles.TooLarge, match="over 4096"):
        hostfiles.read_file("web1", "/big", limit=4096)
    assert host_files.sent == 0
    assert hostfiles.read_file("web1", "/big", limit=5000) == b"x" * 5000


def test_a_tree_is_read_no_further_than_its_caps(host_files: FakeEngine) -> None:
    folder = www(host_files.fs("web1"))
    (folder / "html/huge.bin").write_bytes(os.urandom(200_000))
    with pytest.raises(hostfiles.TooLarge, match="huge.bin"):
        hostfiles.tree_digests("web1", "/var/www", max_file=100_000)
    with pytest.raises(hostfiles.TooLarge):
        hostfiles.tree_digests("web1", "/var/www", max_tree=50_000)
    assert host_files.sent <= 50_000 + 4096 + 16_384  # one chunk past the cap at most, per read
    for n in range(5):
        (folder / f"f{n}").write_text("")
    with pytest.raises(hostfiles.TooLarge, match="entries"):
        hostfiles.tree_digests("web1", "/var/www", max_entries=4)


def test_exists_and_read_follow_a_link_to_its_end_and_say_none_for_nothing(
        host_files: FakeEngine) -> None:
    (host_files.fs("web1") / "tmp").mkdir()
    (host_files.fs("web1") / "tmp/real").write_text("token")
    (host_files.fs("web1") / "tmp/link").symlink_to("real")
    (host_files.fs("web1") / "tmp/dangling").symlink_to("nowhere")
    assert hostfiles.exists("web1", "/tmp/link") and hostfiles.exists("web1", "/tmp/real")
    assert hostfiles.read_file("web1", "/tmp/link") == b"token"
    assert not hostfiles.exists("web1", "/tmp/dangling")
    assert not hostfiles.exists("web1", "/tmp/none")
    assert hostfiles.read_file("web1", "/tmp/none") is None
    with pytest.raises(LabError, match="folder"):
        hostfiles.read_file("web1", "/tmp")
    with pytest.raises(LabError, match="no such folder"):
        hostfiles.tree_digests("web1", "/var/www")


def test_a_probe_is_written_through_the_engine_and_a_user_read_from_passwd(
        host_files: FakeEngine) -> None:
    (host_files.fs("web1") / "etc").mkdir()
    (host_files.fs("web1") / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\n"
                                            "syncer:x:1001:1002::/home/syncer:/bin/bash\n")
    (host_files.fs("web1") / "var").mkdir()
    hostfiles.put_file("web1", "/var/probe", b"token")
    assert (host_files.fs("web1") / "var/probe").read_bytes() == b"token"
    assert hostfiles.user_ids("web1", "syncer") == (1001, 1002)
    assert hostfiles.user_ids("web1", "nobody") is None


def test_a_run_s_files_come_out_whole_flat_and_bounded(
        host_files: FakeEngine, tmp_path: Path) -> None:
    """copy_out takes the regular files of one folder and nothing below or
    beside it (a link to /etc/shadow, a nested folder, a hidden part file)."""
    out = host_files.fs("loadgen") / "out"
    (out / "deep").mkdir(parents=True)
    (out / "visits.json").write_text("{}")
    (out / "deep/secret").write_text("no")
    (out / ".live.json.part").write_text("no")
    (out / "shadow").symlink_to("/etc/shadow")
    dest = tmp_path / "report"
    dest.mkdir()
    assert hostfiles.copy_out("loadgen", "/out", dest) == ["visits.json"]
    assert sorted(p.name for p in dest.iterdir()) == ["visits.json"]
    assert hostfiles.copy_out("gone", "/out", dest) == []
    (out / "huge.csv").write_bytes(os.urandom(100_000))
    with pytest.raises(hostfiles.TooLarge):
        hostfiles.copy_out("loadgen", "/out", dest, max_tree=50_000)


def test_a_folder_of_this_machine_is_packed_for_a_container(tmp_path: Path) -> None:
    (tmp_path / "sub/__pycache__").mkdir(parents=True)
    (tmp_path / "sub/__pycache__/x.pyc").write_bytes(b"x")
    (tmp_path / "sub/a.py").write_text("a")
    entries = {e.path: e for e in hostfiles.tree(tmp_path, "tests")}
    assert sorted(entries) == ["tests", "tests/sub", "tests/sub/a.py"]
    assert (entries["tests/sub"].data, entries["tests/sub/a.py"].data) == (None, b"a")
    packed = hostfiles.packed(entries.values())
    names = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(packed))}
    assert names["tests/sub"].isdir() and names["tests/sub/a.py"].mode == 0o644
