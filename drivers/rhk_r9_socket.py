"""RHK R9 remote interface: the TCP transport (``R9Socket``, port 12600) and what any transport offers
(``R9Transport``).

Because nothing marks the end of an R9 reply (``tepl.drivers.rhk_r9_replies``), one ``recv`` is not one reply:
TCP may deliver a reply in several segments, or two replies in one. ``R9Socket`` therefore reads until the text
is a whole reply of the kind the command expects (``ReplyRule``); a number or an ``Error`` text counts as whole
once no byte has followed for ``reply_gap_s``. Bytes that arrived unasked (late replies of an earlier command)
are drained and logged before each command, so a server that acknowledges with two lines never shifts later
answers. A transport error (``OSError``: timeouts, refused or broken connections) becomes a ``DeviceError``
naming the R9's address and the command.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Protocol

from tepl.drivers.rhk_r9_replies import ReplyRule, default_rule
from tepl.roles import DeviceError

DEFAULT_PORT = 12600
REPLY_GAP_S = 0.02  # a number or an error text is whole once no byte followed for this long (s)
_RECV_BYTES = 4096
_MAX_STALE_BYTES = 1 << 16  # stale bytes drained before a command at most; beyond that the link is reset

log = logging.getLogger(__name__)


class R9Transport(Protocol):
    def query(self, line: str) -> str:
        """Send one command line (no terminator); return the whole reply text (both replies for a
        procedure)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...



class R9Socket:
    """Persistent TCP connection to the R9 remote interface; one exchange at a time (thread-safe).

    ``timeout_s`` bounds the wait for a whole reply; ``procedure_timeout_s`` the wait for a procedure to
    finish; ``reply_gap_s`` is how long a reply without a recognisable end (a number, an error text) waits
    for further segments (all s, wall-clock). After a timeout or a broken connection the socket is closed and
    the next exchange reconnects, so a late reply never gets mistaken for the answer to a later command;
    bytes that arrived unasked since the last reply are drained (and logged) before each command.
    """

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout_s: float = 5.0,
                 procedure_timeout_s: float = 60.0, reply_gap_s: float = REPLY_GAP_S):
        self.host, self.port = host, int(port)
        self.timeout_s = float(timeout_s)
        self.procedure_timeout_s = float(procedure_timeout_s)
        self.reply_gap_s = float(reply_gap_s)
        if not (self.timeout_s > 0 and self.procedure_timeout_s > 0 and 0 < self.reply_gap_s < self.timeout_s):
            raise ValueError(f"R9 at {self.address}: timeouts must be positive and the reply gap "
                             f"({reply_gap_s!r} s) shorter than the reply timeout ({timeout_s!r} s)")
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as exc:
                raise DeviceError(f"cannot connect to the R9 at {self.address}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
        return self._sock

    def connect(self) -> None:
        """Open the connection now (it is otherwise opened by the first exchange); DeviceError if refused."""
        with self._lock:
            self._socket()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _read(self, sock: socket.socket, line: str, rule: ReplyRule, timeout_s: float) -> str:
        """Read segments until they make a whole reply under ``rule`` (see the module docstring)."""
        data = bytearray()
        deadline = time.monotonic() + timeout_s
        state = "partial"
        while True:
            remaining = deadline - time.monotonic()
            wait = min(self.reply_gap_s, remaining) if state == "quiet" else remaining
            if wait <= 0 and state != "quiet":
                raise self._late(line, timeout_s, data)
            sock.settimeout(max(wait, 1e-4))
            try:
                chunk = sock.recv(_RECV_BYTES)
            except TimeoutError:
                if state == "quiet":
                    return data.decode("utf-8", errors="replace")
                raise self._late(line, timeout_s, data) from None
            if not chunk:
                raise DeviceError(f"the R9 at {self.address} closed the connection while answering {line!r}"
                                  + (f" (received {bytes(data)!r})" if data else ""))
            data += chunk
            state = rule.state(data.decode("utf-8", errors="replace"))
            if state == "complete":
                return data.decode("utf-8", errors="replace")

    def _late(self, line: str, timeout_s: float, data: bytearray) -> DeviceError:
        if not data:
            return DeviceError(f"no reply from the R9 at {self.address} to {line!r} within {timeout_s:g} s")
        return DeviceError(f"incomplete reply from the R9 at {self.address} to {line!r} within {timeout_s:g} s: "
                           f"received {bytes(data)!r}")

    def _drain(self, sock: socket.socket, line: str) -> socket.socket:
        """Discard what arrived unasked (a late reply); returns the socket to use (a new one if the R9 had
        closed this one)."""
        stale = bytearray()
        sock.setblocking(False)
        try:
            while len(stale) < _MAX_STALE_BYTES:
                try:
                    data = sock.recv(_RECV_BYTES)
                except (BlockingIOError, InterruptedError):
                    break
                if not data:  # closed by the R9 since the last reply: connect again
                    self._close()
                    return self._socket()
                stale += data
            else:
                self._close()  # a flood of unasked bytes: start on a new connection
                return self._socket()
        finally:
            if self._sock is sock:
                sock.settimeout(self.timeout_s)
        if stale:
            log.warning("R9 at %s: discarded %d stale bytes before %r: %r", self.address, len(stale), line,
                        bytes(stale[:80]))
        return sock

    def exchange(self, line: str, rule: ReplyRule) -> str:
        """Send one command line (no terminator); return its whole reply text as ``rule`` delimits it."""
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        timeout_s = self.procedure_timeout_s if rule.kind == "procedure" else self.timeout_s
        with self._lock:
            sock = self._socket()
            try:
                sock = self._drain(sock, line)
                sock.sendall((line + "\n").encode("utf-8"))
                return self._read(sock, line, rule, timeout_s)
            except DeviceError:
                self._close()
                raise
            except OSError as exc:
                self._close()
                raise DeviceError(f"R9 connection to {self.address} failed during {line!r}: {exc}") from exc

    def query(self, line: str) -> str:
        """``exchange`` with the reply rule of the default vocabulary's command verb."""
        return self.exchange(line, default_rule(line))

    def reset(self) -> None:
        """Drop the connection (the next query connects again): after a reply that did not fit."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()
