"""PI E-727.3 digital piezo controller (GCS 2.0) with a P-611.3 NanoCube, simulated: how a client reaches it.

``GCSAdapter`` runs a pymeasure driver in-process against a ``GCSController`` (``pi_e727_controller``),
``serve`` puts one controller on a loopback TCP port for any client (PI's own pipython included); both
frame the byte stream with ``GCSSession`` (``pi_e727_gcs``).
"""

from __future__ import annotations

from typing import Any

from pymeasure.adapters import Adapter

from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.pi_e727_gcs import ENCODING, GCSSession
from tepl.sims.tcp import LoopbackServer


class GCSAdapter(Adapter):
    """A pymeasure adapter wired straight to a ``GCSController``: the driver runs in-process, no socket.

    Writes append ``write_termination``; ``read`` returns one reply line without ``read_termination``
    (like a VISA read), ``read_bytes(n)`` exactly n bytes. Reading with nothing pending raises
    TimeoutError, as a real link would time out.
    """

    def __init__(self, controller: GCSController, write_termination: str = "\n",
                 read_termination: str = "\n", **kwargs):
        super().__init__(**kwargs)
        self.controller = controller
        self.connection = GCSSession(controller)
        self.write_termination = write_termination
        self.read_termination = read_termination
        self._pending = bytearray()
        self.closed = False

    def close(self) -> None:
        super().close()
        self.closed = True

    def _write(self, command: str, **kwargs) -> None:
        self._write_bytes((command + self.write_termination).encode(ENCODING))

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        if self.closed:
            raise ConnectionError("the link to the simulated E-727 is closed")
        self._pending += self.connection.feed(content)

    def _read(self, **kwargs) -> str:
        if not self.read_termination:
            return self._take(len(self._pending)).decode(ENCODING)
        term = self.read_termination.encode(ENCODING)
        end = self._pending.find(term)
        if end < 0:
            raise TimeoutError(f"no complete reply from the simulated E-727 (have {bytes(self._pending)!r})")
        return self._take(end + len(term))[: -len(term)].decode(ENCODING)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        if count < 0:
            count = len(self._pending)
            if break_on_termchar and self.read_termination:
                end = self._pending.find(self.read_termination.encode(ENCODING))
                count = count if end < 0 else end + len(self.read_termination)
        return self._take(count)

    def _take(self, count: int) -> bytes:
        if count > len(self._pending):
            raise TimeoutError(f"expected {count} bytes from the simulated E-727, have {len(self._pending)}")
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        return chunk

    def flush_read_buffer(self) -> None:
        self._pending.clear()


def serve(world: Any, port: int = 50000, host: str = "127.0.0.1") -> LoopbackServer:
    """A loopback TCP server (bound, not yet started) for one ``GCSController`` shared by all clients.

    Use ``serve(world, port).serve_forever()`` to block, or ``with serve(world, port) as server:`` to
    serve from a background thread. Port 0 picks a free port (``server.port``).
    """
    controller = GCSController(world)
    return LoopbackServer(lambda: GCSSession(controller), port=port, host=host)
