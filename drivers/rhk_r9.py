"""RHK R9 / R9+ remote interface (TCP port 12600): the transport and the command table.

Wire format (hardware.md §4.1): one command per line, comma-separated fields joined by ``", "``,
terminated by ``\\n``. Each reply is one chunk of text with no terminator: ``Done`` for a set-command, a
number as text for a get, and for ``StartProcedure`` two replies, an acknowledgement and a second one when
the procedure has finished. Refusals come back as text that is neither (``Error: ...``).

``R9`` is the command table; its transport is ``R9Socket`` (the rig) or any object with
``query(line) -> str`` (such as the simulator's in-process transport). A transport error (``OSError``:
timeouts, refused or broken connections) becomes a ``DeviceError`` naming the R9's address and the command;
a reply that does not fit its command (a number where ``Done`` was due, ``Done`` where a number was) is a
``DeviceError`` too, and the transport is reset (``reset()``, when it has one) so that the next command
starts on a clean link. The ``ZController`` role on top of it,
``R9ZController``, is in ``tepl.drivers.rhk_r9_zcontrol``.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from typing import Any, Protocol

from tepl.roles import DeviceError

DEFAULT_PORT = 12600
DONE = "Done"  # reply to every accepted set-command and procedure acknowledgement
TIP_CONTROL_WORDS = ("Unlimit", "Freeze", "Retract")  # feedback on / hold Z / withdraw to the upper bound
Z_POSITION_PARAMETER = "Z Position"  # the R9's name for the frozen Z output (m); check on the rig
PAN_STEP_IN = "Pan Single Step In"
PAN_STEP_OUT = "Pan Single Step Out"
_RECV_BYTES = 4096
_MAX_STALE_BYTES = 1 << 16  # stale bytes drained before a command at most; beyond that the link is reset

log = logging.getLogger(__name__)


class R9Transport(Protocol):
    def query(self, line: str) -> str:
        """Send one command line (no terminator); return the reply text (both replies for a procedure)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def _command_word(line: str) -> str:
    return line.split(",", 1)[0].strip()


class R9Socket:
    """Persistent TCP connection to the R9 remote interface; one query at a time (thread-safe).

    ``timeout_s`` bounds the wait for a reply; ``procedure_timeout_s`` the wait for a procedure to finish
    (both s, wall-clock). After a timeout or a broken connection the socket is closed and the next query
    reconnects, so a late reply never gets mistaken for the answer to a later command; bytes that arrived
    unasked since the last reply are drained (and logged) before each command for the same reason.
    """

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout_s: float = 5.0,
                 procedure_timeout_s: float = 60.0):
        self.host, self.port = host, int(port)
        self.timeout_s = float(timeout_s)
        self.procedure_timeout_s = float(procedure_timeout_s)
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

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _recv(self, sock: socket.socket, line: str, timeout_s: float) -> str:
        sock.settimeout(timeout_s)
        try:
            data = sock.recv(_RECV_BYTES)
        except TimeoutError as exc:
            raise DeviceError(f"no reply from the R9 at {self.address} to {line!r} within {timeout_s:g} s") \
                from exc
        if not data:
            raise DeviceError(f"the R9 at {self.address} closed the connection while answering {line!r}")
        return data.decode("utf-8", errors="replace")

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

    def query(self, line: str) -> str:
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        with self._lock:
            sock = self._socket()
            try:
                sock = self._drain(sock, line)
                sock.sendall((line + "\n").encode("utf-8"))
                reply = self._recv(sock, line, self.timeout_s)
                if _command_word(line) == "StartProcedure" and reply == DONE:
                    reply += self._recv(sock, line, self.procedure_timeout_s)
            except DeviceError:
                self._close()
                raise
            except OSError as exc:
                self._close()
                raise DeviceError(f"R9 connection to {self.address} failed during {line!r}: {exc}") from exc
            return reply

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


def finite(value: float, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


class R9:
    """The R9 commands this project uses, one method per command. Units: V, m, degrees.

    ``controller`` names the Z PI controller module; the channel names are the R9 signal list's.
    """

    def __init__(self, transport: R9Transport, controller: str = "Z PI Controller 1",
                 z_channel: str = "z0-src", amplitude_channel: str = "LIA 1 Amplitude",
                 phase_channel: str = "LIA 1 Phase"):
        self.transport = transport
        self.controller = controller
        self.z_channel = z_channel
        self.amplitude_channel = amplitude_channel
        self.phase_channel = phase_channel

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ plumbing
    @property
    def where(self) -> str:
        """``R9 at host:port`` (or the in-process transport's name), for error messages."""
        transport: Any = self.transport
        return f"R9 at {getattr(transport, 'address', None) or type(transport).__name__}"

    def _query(self, command: str) -> str:
        try:
            return self.transport.query(command)
        except OSError as exc:  # a transport that does not wrap its own errors (TimeoutError, ConnectionError)
            self._reset()
            raise DeviceError(f"{self.where}: {command!r} failed: {type(exc).__name__}: {exc}") from exc

    def _reset(self) -> None:
        reset = getattr(self.transport, "reset", None)
        if reset is not None:
            reset()

    def _mismatch(self, command: str, reply: str, expected: str) -> DeviceError:
        """A reply that is not an answer to ``command``: the link may be out of step, so it is reset."""
        self._reset()
        return DeviceError(f"{self.where}: reply to {command!r} is not {expected}: {reply!r}")

    def _set(self, command: str) -> None:
        reply = self._query(command)
        if reply.startswith("Error"):
            raise DeviceError(f"{self.where} refused {command!r}: replied {reply!r}")
        if reply != DONE:
            raise self._mismatch(command, reply, repr(DONE))

    def _get(self, command: str) -> str:
        reply = self._query(command)
        if not reply or reply.startswith("Error"):
            raise DeviceError(f"{self.where} refused {command!r}: replied {reply!r}")
        if reply.startswith(DONE):
            raise self._mismatch(command, reply, "a value")
        return reply

    def _get_float(self, command: str) -> float:
        reply = self._get(command)
        try:
            value = float(reply)
        except ValueError:
            raise self._mismatch(command, reply, "a number") from None
        if not math.isfinite(value):
            raise DeviceError(f"{self.where}: reply to {command!r} is not a finite number: {reply!r}")
        return value

    def _procedure(self, command: str) -> None:
        reply = self._query(command)
        finished = reply[len(DONE):]
        if not reply.startswith(DONE) or not finished or finished.startswith("Error"):
            if not reply.startswith(("Error", DONE)):
                self._reset()
            raise DeviceError(f"{self.where}: procedure {command!r} did not complete: replied {reply!r}")

    def _sub(self, verb: str, *fields: str) -> str:
        return ", ".join([verb, self.controller, *fields])

    # ------------------------------------------------------------------ Z PI controller
    def setpoint_V(self) -> float:
        """Amplitude setpoint of the Z loop, V."""
        return self._get_float(self._sub("GetHWSubParameter", "Set Point", "Value"))

    def set_setpoint_V(self, setpoint_V: float) -> None:
        v = finite(setpoint_V, "setpoint")
        self._set(self._sub("SetHWSubParameter", "Set Point", "Value", repr(v)))

    def integral_gain(self) -> float:
        return self._get_float(self._sub("GetHWSubParameter", "Integral Gain"))

    def set_integral_gain(self, gain: float) -> None:
        self._set(self._sub("SetHWSubParameter", "Integral Gain", repr(finite(gain, "integral gain"))))

    def proportional_gain(self) -> float:
        return self._get_float(self._sub("GetHWSubParameter", "Proportional Gain"))

    def set_proportional_gain(self, gain: float) -> None:
        self._set(self._sub("SetHWSubParameter", "Proportional Gain",
                            repr(finite(gain, "proportional gain"))))

    def z_bounds_m(self) -> tuple[float, float]:
        """(lower, upper) bound of the Z output, m; lower = fully extended towards the sample."""
        lower = self._get_float(self._sub("GetHWSubParameter", "Lower Bound", "Value"))
        upper = self._get_float(self._sub("GetHWSubParameter", "Upper Bound", "Value"))
        if not lower < upper:
            raise DeviceError(f"R9 Z bounds are not an interval: lower {lower!r} m, upper {upper!r} m")
        return lower, upper

    def tip_control(self) -> str:
        """``Unlimit`` (feedback on), ``Freeze`` (hold) or ``Retract`` (withdrawn)."""
        command = ", ".join(["GetHWParameter", self.controller, "Tip Control"])
        word = self._get(command).strip()
        if word not in TIP_CONTROL_WORDS:
            raise self._mismatch(command, word, "a tip-control word")
        return word

    def set_tip_control(self, word: str) -> None:
        if word not in TIP_CONTROL_WORDS:
            raise ValueError(f"tip control {word!r} is not one of {list(TIP_CONTROL_WORDS)}")
        self._set(", ".join(["SetHWParameter", self.controller, "Tip Control", word]))

    def set_z_position_m(self, z_m: float) -> None:
        """Place the Z output at ``z_m`` metres; the R9 accepts it only while frozen."""
        z = finite(z_m, "Z position")
        self._set(self._sub("SetHWSubParameter", Z_POSITION_PARAMETER, "Value", repr(z)))

    # ------------------------------------------------------------------ signals
    def read_channel(self, channel: str) -> float:
        return self._get_float(f"ReadChannelValue, {channel}")

    def z_m(self) -> float:
        """Z piezo output (the topography signal), m."""
        return self.read_channel(self.z_channel)

    def amplitude_V(self) -> float:
        """Tuning-fork amplitude from the lock-in, V."""
        return self.read_channel(self.amplitude_channel)

    def phase_deg(self) -> float:
        """Tuning-fork phase from the lock-in, degrees."""
        return self.read_channel(self.phase_channel)

    # ------------------------------------------------------------------ procedures
    def start_procedure(self, name: str) -> None:
        """Run an R9 procedure and return when it has finished."""
        self._procedure(f"StartProcedure, {name}")

    def stop_procedure(self, name: str) -> None:
        self._set(f"StopProcedure, {name}")

    def step_in(self) -> None:
        """One coarse step towards the sample."""
        self.start_procedure(PAN_STEP_IN)

    def step_out(self) -> None:
        """One coarse step away from the sample."""
        self.start_procedure(PAN_STEP_OUT)
