"""RHK R9 remote interface (TCP port 12600) with its shear-force Z PI controller, over the shared World: how a
client reaches it.

The R9 software takes one command per line, comma-separated fields, ``\\n``-terminated, and answers each
with text and no terminator (``rhk_r9_protocol``). ``R9InProcess`` is the driver's transport to an
in-process controller, ``serve`` puts one controller on a loopback TCP port for any client, ``R9Session``
frames one TCP client's byte stream; served, each reply may go out in two TCP segments with a pause between
(``serve(..., split_delay_s=...)``).

Modules: this one holds the transports; ``rhk_r9_protocol`` the words the R9 understands (``WORDS``) and
``R9Controller``, which executes one command line; ``rhk_r9_loop`` the shear-force loop, Z piezo and coarse
positioner it runs on (``ShearForceLoop``).
"""

from __future__ import annotations

import time
from typing import Any

from tepl.sims.faults import Faults
from tepl.sims.rhk_r9_protocol import DONE, R9Controller
from tepl.sims.tcp import LoopbackServer

__all__ = ["R9Controller", "R9InProcess", "R9Session", "serve"]

SPLIT_DELAY_S = 0.005  # pause between the two segments of a split reply (wall time, s)


class R9InProcess:
    """The driver's transport to an in-process ``R9Controller`` (what ``R9Socket`` is on the rig).

    ``faults`` (``tepl.sims.faults.Faults``, all off by default): ``stall`` loses the reply and the query
    raises TimeoutError (as R9Socket's read would), ``delay_s`` holds the reply back (TimeoutError now; it
    arrives ahead of the next reply unless ``reset`` drops the connection first, as R9Socket does after a
    timeout), ``garble`` / ``nan_reply`` corrupt it, ``disconnect`` raises ConnectionError, ``interrupt``
    KeyboardInterrupt, ``retract_ignored`` acknowledges ``Tip Control, Retract`` and leaves Z where it is."""

    def __init__(self, controller: Any):
        self.controller = controller
        self.connected = False  # as R9Socket: connected by the first query, released by close
        self.faults = Faults()
        self._late: list[str] = []

    def query(self, line: str) -> str:
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        self.connected = True
        fault = self.faults.hit(line) if self.faults.any else None
        if fault is None:
            late, self._late = "".join(self._late), []
            return late + "".join(self.controller.handle(line))
        fault.interrupt_now()
        if fault.disconnect:
            self.reset()
            raise ConnectionError("the simulated R9 dropped the connection (fault injected)")
        late, self._late = "".join(self._late), []
        reply = fault.corrupt("".join(self.controller.handle(line, fault.retract_ignored)).encode()).decode()
        if fault.stall:
            raise TimeoutError(f"no reply from the simulated R9 to {line!r} (fault injected: stall)")
        if fault.delay_s is not None:
            time.sleep(min(fault.delay_s, 60.0))
            self._late.append(reply)
            raise TimeoutError(f"the simulated R9's reply to {line!r} is late (fault injected: delay)")
        return late + reply

    def reset(self) -> None:
        """A new connection: replies still owed on the old one never arrive."""
        self._late.clear()

    def close(self) -> None:
        self.reset()
        self.connected = False


class R9Session:
    """One TCP client of the R9 remote interface (newline-framed; any chunking of the input).

    Each reply goes out as one segment, or with ``split_delay_s`` (s) in two segments with that pause
    between them (and after each reply), as a TCP peer may deliver them: replies carry no terminator, so only a
    client that reads until a reply is whole gets it right."""

    def __init__(self, controller: R9Controller, split_delay_s: float | None = None):
        if split_delay_s is not None and not 0 < split_delay_s < 1:
            raise ValueError(f"split_delay_s {split_delay_s!r} s must lie between 0 and 1 s")
        self.controller = controller
        self.split_delay_s = split_delay_s
        self._buffer = b""
        self._replies: list[bytes] = []

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out: list[str] = []
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            line = raw.decode("utf-8", errors="replace").strip()
            if line:
                out.extend(self.controller.handle(line))
        self._replies = [r.encode("utf-8") for r in out]
        return b"".join(self._replies)

    def write(self, sock: Any, data: bytes) -> None:
        """Send ``data`` (what ``feed`` returned, perhaps corrupted by a fault) to the client."""
        if self.split_delay_s is None or data != b"".join(self._replies):
            sock.sendall(data)
            return
        for reply in self._replies:
            half = max(len(reply) // 2, 1)
            sock.sendall(reply[:half])
            time.sleep(self.split_delay_s)
            if reply[half:]:
                sock.sendall(reply[half:])
                time.sleep(self.split_delay_s)


def serve(world: Any, port: int = 12600, controller: R9Controller | None = None,
          split_delay_s: float | None = None, procedure_ack: tuple[str, ...] | None = None,
          words: dict[str, str] | None = None) -> LoopbackServer:
    """A loopback server speaking the R9 remote interface (not yet started: use ``with`` or ``.start()``).

    Every connection shares ``controller`` (a new ``R9Controller(world, words=words,
    procedure_ack=procedure_ack)`` when omitted). ``split_delay_s``: send each reply in two segments with
    that pause (s) between them (``R9Session``).
    """
    if controller is None:
        controller = R9Controller(world, words=words, procedure_ack=procedure_ack or (DONE,))
    elif words is not None or procedure_ack is not None:
        raise ValueError("serve: give words and procedure_ack to the R9Controller, not beside one")
    return LoopbackServer(lambda: R9Session(controller, split_delay_s), port)
