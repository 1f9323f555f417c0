"""Serve a protocol simulator on a loopback TCP port, so real clients can be pointed at it.

A simulator provides a *session factory*: a callable returning an object with
``feed(data: bytes) -> bytes`` (bytes received from the client in, bytes to send back out) and optionally
``greeting() -> bytes`` (sent once on connect) and ``write(sock, data)`` (sends the reply itself, e.g. in
several segments; default: one ``sendall``). Framing (LF lines, single control bytes, telnet
negotiation...) is the session's business, so one server fits every protocol.

The server bounds what a client can cost it: a client that sends more than ``max_line_bytes`` without a
line end (LF or CR) is disconnected (its session never buffers more), at most ``max_connections``
clients are served at once (one more is accepted and closed at once), and each connection reads at most
``RECV_BYTES`` at a time, so one client flooding its socket neither stalls the others nor grows memory.

``faults`` (``tepl.sims.faults.Faults``, all off by default) makes the served device misbehave, per chunk
received: ``stall`` sends no reply, ``delay_s`` sleeps that long (wall time) before replying, ``garble`` /
``nan_reply`` corrupt the reply, ``disconnect`` closes the connection.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tepl.sims.faults import Faults

MAX_LINE_BYTES = 64 * 1024  # bytes a client may send without a line end
MAX_CONNECTIONS = 8  # clients served at once
RECV_BYTES = 4096


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
        self.server.greeted.release()  # type: ignore[attr-defined]
        faults: Faults = self.server.faults  # type: ignore[attr-defined]
        max_line = self.server.max_line_bytes  # type: ignore[attr-defined]
        since_line_end = 0  # bytes received since the last LF or CR
        try:
            while True:
                try:
                    data = sock.recv(RECV_BYTES)
                except OSError:
                    return
                if not data:
                    return
                end = max(data.rfind(b"\n"), data.rfind(b"\r"))
                since_line_end = since_line_end + len(data) if end < 0 else len(data) - end - 1
                if since_line_end > max_line:
                    return  # a line longer than the limit: the client is cut off, nothing more is buffered
                fault = faults.hit(data.decode("latin-1")) if faults.any else None
                if fault is not None and fault.disconnect:
                    return
                reply = session.feed(data)
                if fault is not None:
                    if fault.stall:
                        continue
                    if fault.delay_s is not None:
                        time.sleep(min(fault.delay_s, 60.0))
                    reply = fault.corrupt(reply)
                if reply:
                    write = getattr(session, "write", None)
                    if write is not None:
                        write(sock, reply)
                    else:
                        sock.sendall(reply)
        finally:
            closing = getattr(session, "close", None)
            if closing is not None:
                closing()

    def finish(self) -> None:
        self.server.connections.discard(self.request)  # type: ignore[attr-defined]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    max_connections = MAX_CONNECTIONS
    max_line_bytes = MAX_LINE_BYTES

    def __init__(self, *args, **kwargs):
        self.active: set = set()  # accepted requests being served
        self.active_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def verify_request(self, request, client_address) -> bool:
        """Serve at most ``max_connections`` clients; one more is closed at once."""
        with self.active_lock:
            if len(self.active) >= self.max_connections:
                return False
            self.active.add(request)
            return True

    def shutdown_request(self, request) -> None:
        with self.active_lock:
            self.active.discard(request)
        super().shutdown_request(request)


class LoopbackServer:
    """A threaded TCP server on 127.0.0.1 (only loopback addresses are accepted).

    ``max_connections`` clients at once, ``max_line_bytes`` per line at most (see the module's docstring);
    ``faults`` is the switchboard of the served device."""

    def __init__(self, session_factory: Callable[[], Session], port: int = 0, host: str = "127.0.0.1",
                 max_connections: int = MAX_CONNECTIONS, max_line_bytes: int = MAX_LINE_BYTES):
        if not (host.startswith("127.") or host == "localhost"):
            raise ValueError(f"simulators serve on loopback only, not on {host!r}")
        if max_connections < 1 or max_line_bytes < 1:
            raise ValueError(f"max_connections ({max_connections}) and max_line_bytes ({max_line_bytes}) "
                             f"must be at least 1")
        self._server = _Server((host, port), _Handler)
        self._server.session_factory = session_factory  # type: ignore[attr-defined]
        self._server.connections = set()  # type: ignore[attr-defined]
        self._server.greeted = threading.Semaphore(0)  # type: ignore[attr-defined]  # one per client greeted
        self._server.max_connections = int(max_connections)
        self._server.max_line_bytes = int(max_line_bytes)
        self.faults = Faults()
        self._server.faults = self.faults  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def wait_greeted(self, timeout_s: float = 10.0) -> bool:
        """Wait until one more client has been accepted and sent its greeting (if any); False after
        ``timeout_s`` (wall-clock s)."""
        return self._server.greeted.acquire(timeout=timeout_s)  # type: ignore[attr-defined]

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


def serve_controller(controller: Any, session: Callable[[Any], Session], port: int = 0,
                     host: str = "127.0.0.1") -> LoopbackServer:
    """A server (bound, not yet started) whose clients each get ``session(controller)`` over one shared
    ``controller``, which stays reachable as ``server.controller``."""
    server = LoopbackServer(lambda: session(controller), port=port, host=host)
    server.controller = controller  # type: ignore[attr-defined]
    return server
