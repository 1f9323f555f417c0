"""PI E-727.3 digital piezo controller (GCS 2.0) with a P-611.3 NanoCube, simulated: how a client reaches it.

``GCSAdapter`` runs a pymeasure driver in-process against a ``GCSController`` (``pi_e727_controller``),
``serve`` puts one controller on a loopback TCP port for any client (PI's own pipython included); both
frame the byte stream with ``GCSSession`` (``pi_e727_gcs``).
"""

from __future__ import annotations

from typing import Any

from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.pi_e727_gcs import ENCODING, GCSSession
from tepl.sims.session_adapter import SessionAdapter
from tepl.sims.tcp import LoopbackServer


class GCSAdapter(SessionAdapter):
    """A pymeasure adapter wired straight to a ``GCSController``: the driver runs in-process, no socket.
    Replies end in LF (``read`` returns one line without it, like a VISA read)."""

    def __init__(self, controller: GCSController, write_termination: str = "\n",
                 read_termination: str = "\n", **kwargs):
        super().__init__(GCSSession(controller), "E-727", ENCODING, write_termination, read_termination, **kwargs)
        self.controller = controller


def serve(world: Any, port: int = 50000, host: str = "127.0.0.1") -> LoopbackServer:
    """A loopback TCP server (bound, not yet started) for one ``GCSController`` shared by all clients.

    Use ``serve(world, port).serve_forever()`` to block, or ``with serve(world, port) as server:`` to
    serve from a background thread. Port 0 picks a free port (``server.port``).
    """
    controller = GCSController(world)
    return LoopbackServer(lambda: GCSSession(controller), port=port, host=host)
