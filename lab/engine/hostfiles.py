"""Files of a lab's hosts, read (and a grader's probe file written) through
the engine's archive API (`docker cp`: lab.engine.client.get_archive) and
unpacked here with tarfile. No program of the host runs: a student, root in
the host, who replaced test, cat, find or md5sum there changes nothing of
what is read.

Every read is bounded: a file over its cap, a tree over MAX_TREE bytes or
MAX_ENTRIES entries is a TooLarge error, known from the engine's stat or
the tar's headers before the bytes are read (a student can leave a 10 GB
file where a goal looks); a stream is never read past its cap.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.engine import client
from lab.model.errors import LabError

MAX_FILE = 16 * 2**20  # bytes of one file read or digested
MAX_TREE = 64 * 2**20  # bytes of a whole tree's archive (headers included)
MAX_ENTRIES = 20_000  # files, folders and links of a tree
_SLACK = 2**20  # a file's archive: its tar headers (long names, attributes) and padding
_SYMLINK = 1 << 27  # Go's os.ModeSymlink in the engine's stat of a path
_DIR = 1 << 31  # os.ModeDir
_HOPS = 8  # symbolic links followed to the end of a path
HINT = "a bound of lab.engine.hostfiles: the grader never reads it whole"


class TooLarge(LabError):
    """More to read than a bound allows: said, not read."""


class _Capped(io.RawIOBase):
    """The engine's chunks as a file that fails once more than `limit`
    bytes have come."""

    def __init__(self, chunks: Iterator[bytes], limit: int, what: str) -> None:
        super().__init__()
        self._chunks, self._limit, self._what = chunks, limit, what
        self._buf, self._at, self.seen = memoryview(b""), 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._buf):
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self.seen += len(chunk)
            if self.seen > self._limit:
                raise TooLarge(f"{self._what}: over {self._limit} bytes", hint=HINT)
            self._buf, self._at = memoryview(chunk), 0
        n = min(len(buffer), len(self._buf) - self._at)
        buffer[:n] = self._buf[self._at:self._at + n]
        self._at += n
        return n


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()  # the engine's response goes with the stream


def _resolved(container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any], str] | None:
    """The archive of what `path` names, its last symbolic link followed
    (the engine archives a link itself; its stat says where it leads);
    None when there is nothing there."""
    for _ in range(_HOPS):
        found = client.get_archive(container, path)
        if found is None:
            return None
        chunks, stat = found
        target = str(stat.get("linkTarget") or "")
        if not int(stat.get("mode") or 0) & _SYMLINK or not target or target == path:
            return chunks, stat, path
        _close(chunks)
        path = target
    raise LabError(f"{container}:{path}: more than {_HOPS} symbolic links")


def exists(container: str, path: str) -> bool:
    """Whether something is at `path` in the container (a link: where it
    leads), as `test -e` would say, without running anything there."""
    def look() -> bool:
        found = _resolved(container, path)
        if found is not None:
            _close(found[0])
        return found is not None

    return client.call(f"docker cp {container}:{path}", look)


def read_file(container: str, path: str, limit: int = MAX_FILE) -> bytes | None:
    """The bytes of a regular file in the container; None if there is
    nothing at `path`; TooLarge over `limit` bytes (never read)."""
    what = f"{container}:{path}"

    def read() -> bytes | None:
        found = _resolved(container, path)
        if found is None:
            return None
        chunks, stat, where = found
        try:
            if int(stat.get("mode") or 0) & _DIR:
                raise LabError(f"{what} is a folder, not a file")
            if int(stat.get("size") or 0) > limit:
                raise TooLarge(f"{what}: {stat.get('size')} bytes, over {limit}", hint=HINT)
            with tarfile.open(fileobj=_Capped(chunks, limit + _SLACK, what), mode="r|") as tar:
                for member in tar:
                    if not member.isreg():
                        break
                    if member.size > limit:
                        raise TooLarge(f"{what}: {member.size} bytes, over {limit}", hint=HINT)
                    data = tar.extractfile(member)
                    return data.read() if data is not None else b""
            raise LabError(f"{what} is not a regular file")
        finally:
            _close(chunks)

    return client.call(f"docker cp {what}", read)


def tree_digests(container: str, root: str, *, max_file: int = MAX_FILE,
                 max_tree: int = MAX_TREE, max_entries: int = MAX_ENTRIES) -> dict[str, str]:
    """md5 of every regular file under `root` in the container, by its path
    below `root` ("html/index.html"), like `find -type f | md5sum`: a hard
    link has its file's digest, symbolic links and folders none. A LabError
    if there is no `root`; TooLarge past any bound."""
    what = f"{container}:{root}"

    def digest() -> dict[str, str]:
        found = _resolved(container, root)
        if found is None:
            raise LabError(f"{what}: no such folder")
        chunks, _stat, _where = found
        digests: dict[str, str] = {}
        try:
            with tarfile.open(fileobj=_Capped(chunks, max_tree, what), mode="r|") as tar:
                for count, member in enumerate(tar, 1):
                    if count > max_entries:
                        raise TooLarge(f"{what}: over {max_entries} entries", hint=HINT)
                    path = _below(member.name)
                    if member.islnk() and _below(member.linkname) in digests:
                        digests[path] = digests[_below(member.linkname)]
                    elif member.isreg():
                        if member.size > max_file:
                            raise TooLarge(f"{what}/{path}: {member.size} bytes, over "
                                           f"{max_file}", hint=HINT)
                        digests[path] = _md5(tar.extractfile(member))
        finally:
            _close(chunks)
        return digests

    return client.call(f"docker cp {what}", digest)


def _below(name: str) -> str:
    """A member's path below the archived folder (the archive names it first)."""
    return name.split("/", 1)[1] if "/" in name else ""


def _md5(data: Any) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    while data is not None and (piece := data.read(2**20)):
        md5.update(piece)
    return md5.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One file (or, with `data` None, folder) of an archive put into a
    container: its path below the folder it is put in."""

    path: str
    data: bytes | None = None
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def packed(entries: Iterable[Entry]) -> bytes:
    """A tar of `entries`, for put_archive."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, time.time()
            if e.data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return out.getvalue()


def tree(folder: Path, below: str) -> list[Entry]:
    """The folders and regular files of `folder` here as entries under
    `below` (caches left out), readable by anyone."""
    found = sorted(f for f in folder.rglob("*") if "__pycache__" not in f.parts)
    return [Entry(below, mode=0o755), *(
        Entry(f"{below}/{f.relative_to(folder)}", None if f.is_dir() else f.read_bytes(),
              0o755 if f.is_dir() else 0o644) for f in found if f.is_dir() or f.is_file())]


def put_file(container: str, path: str, data: bytes, *, uid: int = 0, gid: int = 0,
             mode: int = 0o644) -> None:
    """Write a file into the container through the engine (a grader's probe:
    no program of the host writes it)."""
    tar = packed([Entry(posixpath.basename(path), data, mode, uid, gid)])
    client.put_archive(container, posixpath.dirname(path) or "/", tar)


def copy_out(container: str, folder: str, dest: Path, max_tree: int = MAX_TREE) -> list[str]:
    """The regular files directly in `folder` of the container written into
    `dest` here, each whole or not at all (a reader of `dest` never sees half
    a file); their names. Folders, links and anything below are left; the
    archive is bounded as a tree read (TooLarge)."""
    what = f"{container}:{folder}"

    def copy() -> list[str]:
        found = client.get_archive(container, folder)
        if found is None:
            return []
        chunks, _stat = found
        names: list[str] = []
        try:
            with tarfile.open(fileobj=_Capped(chunks, max_tree, what), mode="r|") as tar:
                for member in tar:
                    name = _below(member.name)
                    if not member.isreg() or not name or "/" in name or name.startswith("."):
                        continue
                    data = tar.extractfile(member)
                    part = dest / f".{name}.part"
                    part.write_bytes(data.read() if data is not None else b"")
                    os.replace(part, dest / name)
                    names.append(name)
        finally:
            _close(chunks)
        return names

    return client.call(f"docker cp {what} {dest}", copy)


def user_ids(container: str, user: str) -> tuple[int, int] | None:
    """A user's uid and gid from the container's /etc/passwd (read from
    outside); None if it has no such user."""
    text = (read_file(container, "/etc/passwd", limit=2**20) or b"").decode(errors="replace")
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == user and fields[2].isdigit() and fields[3].isdigit():
            return int(fields[2]), int(fields[3])
    return None
