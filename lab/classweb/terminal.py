"""A terminal in the page: a login shell on a terminal inside one of the
student's lab containers (never on this machine), carried over a WebSocket.

The browser sends JSON text frames: {"in": "keys"} or {"size": [cols, rows]};
the server sends the terminal's output as binary frames. The shell's socket
is read without a thread of its own (the event loop watches it), so 24 open
terminals cost 24 sockets, not 24 threads. When the page goes, the shell is
hung up (SIGHUP), as a closed terminal window would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from lab.classweb.casts import Recorder, json_object, on_loop
from lab.engine import client
from lab.engine.lab import Lab
from lab.model.errors import LabError

# A class lab's containers hold NET_ADMIN for their first command only (it
# sets the lab address, compose/lab-address, then drops it); a shell made by
# the engine would get it back, so it drops it as that command does.
SHELL = ("setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "bash", "-l")
ENV = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
CHUNK = 65536


async def bridge(ws: WebSocket, lab: Lab, host: str, recorder: Recorder,
                 on_input: Any = None) -> None:
    """Carry bytes between an accepted WebSocket and a shell on `host`,
    through the engine of the lab's node (its threads inherit the choice);
    the session recorded, and watched, through `recorder`."""
    with client.engine(lab.engine):
        await _bridge(ws, lab, host, on_input, recorder)


async def _bridge(ws: WebSocket, lab: Lab, host: str, on_input: Any,
                  recorder: Recorder) -> None:
    container = lab.topology.host(host).container
    try:
        exec_id, raw = await asyncio.to_thread(client.open_terminal, container, SHELL, ENV)
    except LabError as exc:
        await ws.send_bytes(f"\r\n[{host} has no terminal now: {exc}]\r\n".encode())
        await ws.close(code=1011)
        return
    sock: socket.socket = raw
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    async def keys(data: bytes) -> None:  # the student's or the teacher's
        await on_loop(loop, loop.sock_sendall(sock, data))

    def tell(doc: dict[str, Any]) -> None:  # the teacher watches, or types: from any loop
        asyncio.run_coroutine_threadsafe(ws.send_text(json.dumps({"watch": doc})), loop)

    live = recorder.open(lab.config.lab or "lab", host, keys, tell)

    async def out() -> None:
        while True:
            data = await loop.sock_recv(sock, CHUNK)
            if not data:
                break
            recorder.output(live, data)
            await ws.send_bytes(data)

    reader = asyncio.create_task(out())
    try:
        while not reader.done():
            receive = asyncio.ensure_future(ws.receive_text())
            done, _ = await asyncio.wait({receive, reader}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            message = json_object(receive.result())
            if "in" in message:
                recorder.typed(live, str(message["in"]))
                await keys(str(message["in"]).encode())
                if on_input:
                    on_input()
            elif "size" in message:
                cols, rows = (int(v) for v in message["size"][:2])
                if 0 < cols <= 1000 and 0 < rows <= 1000:
                    recorder.resized(live, cols, rows)
                    await asyncio.to_thread(client.resize_terminal, exec_id, rows, cols)
    except (WebSocketDisconnect, RuntimeError, OSError, LabError):
        pass  # the page went, or the shell's socket did
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        recorder.close(live)
        sock.close()
        await asyncio.to_thread(_hang_up, exec_id)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close()  # the page may have gone first


def _hang_up(exec_id: str) -> None:
    """SIGHUP to the shell, as a closed terminal window sends: the engine
    keeps the terminal open after its socket closes. The exec's pid is as
    this machine sees it (the engine runs here)."""
    with contextlib.suppress(LabError, ProcessLookupError, PermissionError):
        pid = client.terminal_pid(exec_id)
        if pid:
            os.kill(pid, signal.SIGHUP)
