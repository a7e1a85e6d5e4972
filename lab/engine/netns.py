"""Run this process's own clients inside a lab's network namespace.

The labs of a class all have 10.1.1.x, so this machine cannot route to one
of them; a thread that has entered the namespace of a lab's console
(compose/class.yml) talks to that lab's addresses as the host talks to the
single lab. Linux keeps the namespace per thread: threads and subprocesses
started inside inherit it, other threads keep theirs. Needs root
(CAP_SYS_ADMIN), like nsenter.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from lab.model.errors import LabError

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _here() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


_STARTED_IN = _here()  # the machine's namespace: where this process began
# ... kept open, so a command can be started there from any thread
_MACHINE_FD = os.open("/proc/thread-self/ns/net", os.O_RDONLY)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError("cannot enter the lab's network namespace", os.strerror(err),
                       "a class lab is reached from inside it: run foolab as root")


@contextmanager
def _entered(fd: int) -> Iterator[None]:
    """This thread in the namespace open as `fd`, then back where it was."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


@contextmanager
def inside(pid: int) -> Iterator[None]:
    """This thread in the network namespace of process `pid`, then back."""
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    except OSError as exc:
        raise LabError("cannot open the lab's network namespace", str(exc),
                       "is the lab up? run foolab as root") from None
    try:
        with _entered(target):
            yield
    finally:
        os.close(target)


@contextmanager
def machine() -> Iterator[None]:
    """This thread back in the namespace this process began in, then back
    where it was (a probe of the teacher's side, made from a lab host's)."""
    with _entered(_MACHINE_FD):
        yield


def in_other_namespace() -> bool:
    """True in a namespace other than the one this process began in (a lab's
    console, entered by `inside`): no packet sent from there can leave the
    machine."""
    return _here() != _STARTED_IN


def on_machine(argv: Sequence[str]) -> list[str]:
    """`argv` to start in the namespace this process began in, even from a
    thread inside a lab's (nsenter, by this process's own handle on it)."""
    if not in_other_namespace():
        return list(argv)
    return ["nsenter", f"--net=/proc/{os.getpid()}/fd/{_MACHINE_FD}", "--", *argv]
