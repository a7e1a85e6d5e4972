"""Unit tests never touch the machine's engine, network or firewall: a
command that would is refused here (a unit test once reconnected a real
lab's db2 at its fake address), and so is the Docker SDK's client
(lab.engine.client). Scenarios under scenarios/ do the real thing."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.engine import cgroups, client

TOUCHES_THE_MACHINE = ("docker", "nsenter", "iptables", "ip", "tc")


def _refusing(real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(argv: Any, *args: Any, **kwargs: Any) -> Any:
        words = argv.split() if isinstance(argv, str) else [str(a) for a in argv]
        if words[:2] in (["sh", "-c"], ["bash", "-c"]) and len(words) > 2:
            words = words[2].split()
        if words and words[0].rsplit("/", 1)[-1] in TOUCHES_THE_MACHINE:
            raise AssertionError(f"a unit test ran {' '.join(words)[:80]!r}; fake it")
        return real(argv, *args, **kwargs)
    return guarded


@pytest.fixture(autouse=True)
def no_real_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _refusing(subprocess.run))
    monkeypatch.setattr(subprocess, "Popen", _refusing(subprocess.Popen))
    monkeypatch.setattr(client, "client", _no_sdk)
    # a class lab's control groups as this machine's engine keeps them (the
    # driver is asked of the engine); their files read, never written here
    monkeypatch.setattr(cgroups, "driver", lambda: "cgroupfs")
    monkeypatch.setattr(cgroups, "ROOT", cgroups.ROOT / "foolab-unit-tests-none")


def _no_sdk() -> Any:
    raise AssertionError("a unit test asked the Docker SDK for the engine; fake it")


class FakeEngine:
    """The engine's archive API (get_archive, put_archive) over a folder of
    this machine per container (`fs(container)`: its /), tarring a path as
    the engine does; counts the bytes it hands out."""

    def __init__(self, root: Path) -> None:
        self.root, self.sent, self.asked = root, 0, []
        self.puts: list[tuple[str, str]] = []

    def fs(self, container: str) -> Path:
        """The container's / (made on first use)."""
        (self.root / container).mkdir(exist_ok=True)
        return self.root / container

    def get_archive(self, container: str, path: str,
                    ) -> tuple[Iterator[bytes], dict[str, Any]] | None:
        self.asked.append((container, path))
        top = self.fs(container)
        here = top / path.lstrip("/")
        if not here.is_symlink() and not here.exists():
            return None
        stat: dict[str, Any] = {"name": here.name, "size": here.lstat().st_size, "mode": 0,
                                "linkTarget": ""}
        if here.is_symlink():
            stat["mode"] |= 1 << 27
            stat["linkTarget"] = "/" + str(here.resolve().relative_to(top.resolve()))
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
            self.puts += [(container, f"{folder}/{m.name}") for m in tar.getmembers()]
            tar.extractall(self.fs(container) / folder.lstrip("/"), filter="fully_trusted")


@pytest.fixture
def host_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The engine's archive API faked over folders of this machine."""
    fake = FakeEngine(tmp_path)
    monkeypatch.setattr(client, "get_archive", fake.get_archive)
    monkeypatch.setattr(client, "put_archive", fake.put_archive)
    return fake
