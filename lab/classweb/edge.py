"""What a request meets before the class server's routes: the security
headers on every answer, the body limit, and the proxy's word on whom the
request came from (believed only when told: ClassServer.behind_proxy)."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lab.classweb import access

HEADERS = {  # on every answer: nothing framed, sent elsewhere or loaded from elsewhere
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
# The teacher's replay page only: asciinema-player's terminal is WebAssembly,
# which 'self' alone may not compile ('wasm-unsafe-eval' allows no JS eval).
REPLAY = {**HEADERS, "Content-Security-Policy": HEADERS["Content-Security-Policy"]
          + "; script-src 'self' 'wasm-unsafe-eval'"}


def stamp(path: Path) -> tuple[int, int] | None:
    """The roster file as it stands (None: gone): a change is seen in a stat."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def forwarded(conn: HTTPConnection) -> tuple[str | None, str | None]:
    """The client's address and scheme as the proxy in front says it saw them:
    the last `for=` and `proto=` of Forwarded (RFC 7239), else the last entry of
    X-Forwarded-For and X-Forwarded-Proto. A proxy appends to these headers, so
    only their last word is its own; what comes before is the client's."""
    def last(name: str) -> str:
        joined = ",".join(conn.headers.getlist(name))
        return joined.rsplit(",", 1)[-1].strip()

    address = proto = None
    element = last("forwarded")
    for pair in element.split(";") if element else ():
        key, _, value = pair.partition("=")
        value = value.strip().strip('"')
        if key.strip().lower() == "for" and value:
            address = value[1:].split("]")[0] if value.startswith("[") else (
                value.split(":")[0] if value.count(":") == 1 else value)
        elif key.strip().lower() == "proto" and value:
            proto = value.lower()
    return (address or last("x-forwarded-for") or None,
            proto or last("x-forwarded-proto").lower() or None)


def bounded(app: ASGIApp, limit: int = access.MAX_BODY) -> ASGIApp:
    """`app` with request bodies of at most `limit` bytes: a longer one, said
    (Content-Length) or sent, is answered 413 before more of it is read. The
    body read here is handed on to `app` whole."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        said = dict(scope["headers"]).get(b"content-length", b"0")
        too_big = not said.isdigit() or int(said) > limit
        body, more = b"", not too_big
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went
            body += message.get("body", b"")
            more = message.get("more_body", False)
            too_big = len(body) > limit
            more = more and not too_big
        if too_big:
            await PlainTextResponse("Request body too large", status_code=413)(
                scope, receive, send)
            return
        handed = False

        async def replay() -> Message:
            nonlocal handed
            if handed:
                return await receive()
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return wrapped


def with_headers(app: ASGIApp) -> ASGIApp:
    """`app` with HEADERS on every HTTP answer (a plain ASGI wrapper: event
    streams and WebSockets pass through untouched)."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(
                    REPLAY if "/replay/" in scope["path"] else HEADERS)
            await send(message)

        await app(scope, receive, with_headers)

    return wrapped
