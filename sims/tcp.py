"""Serve a protocol simulator on a loopback TCP port, so real clients can be pointed at it.

A simulator provides a *session factory*: a callable returning an object with
``feed(data: bytes) -> bytes`` (bytes received from the client in, bytes to send back out) and optionally
``greeting() -> bytes`` (sent once on connect). Framing (LF lines, single control bytes, telnet
negotiation...) is the session's business, so one server fits every protocol.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Protocol


class Session(Protocol):
    def feed(self, data: bytes) -> bytes: ...


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        session = self.server.session_factory()  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        self.server.connections.add(sock)  # type: ignore[attr-defined]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        greeting = getattr(session, "greeting", None)
        if greeting is not None:
            data = greeting()
            if data:
                sock.sendall(data)
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            reply = session.feed(data)
            if reply:
                sock.sendall(reply)

    def finish(self) -> None:
        self.server.connections.discard(self.request)  # type: ignore[attr-defined]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class LoopbackServer:
    """A threaded TCP server on 127.0.0.1 (only loopback addresses are accepted)."""

    def __init__(self, session_factory: Callable[[], Session], port: int = 0, host: str = "127.0.0.1"):
        if not (host.startswith("127.") or host == "localhost"):
            raise ValueError(f"simulators serve on loopback only, not on {host!r}")
        self._server = _Server((host, port), _Handler)
        self._server.session_factory = session_factory  # type: ignore[attr-defined]
        self._server.connections = set()  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="tepl-sim-server",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop accepting, close every open client connection, release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        for sock in list(self._server.connections):  # type: ignore[attr-defined]
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
