"""RHK R9 / R9+ remote interface (TCP port 12600): the transport and the command table.

Wire format (hardware.md §4.1): one command per line, comma-separated fields joined by ``", "``,
terminated by ``\\n``. Each reply is one chunk of text with no terminator: ``Done`` for a set-command, a
number as text for a get, and for ``StartProcedure`` two replies, an acknowledgement and a second one when
the procedure has finished. Refusals come back as text that is neither (``Error: ...``).

``R9`` is the command table; its transport is ``R9Socket`` (the rig) or any object with
``query(line) -> str`` (such as the simulator's in-process transport). The ``ZController`` role on top of it,
``R9ZController``, is in ``tepl.drivers.rhk_r9_zcontrol``.
"""

from __future__ import annotations

import math
import socket
import threading
from typing import Protocol

from tepl.roles import DeviceError

DEFAULT_PORT = 12600
DONE = "Done"  # reply to every accepted set-command and procedure acknowledgement
TIP_CONTROL_WORDS = ("Unlimit", "Freeze", "Retract")  # feedback on / hold Z / withdraw to the upper bound
Z_POSITION_PARAMETER = "Z Position"  # the R9's name for the frozen Z output (m); check on the rig
PAN_STEP_IN = "Pan Single Step In"
PAN_STEP_OUT = "Pan Single Step Out"
_RECV_BYTES = 4096


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

    ``timeout_s`` bounds the wait for a reply; ``procedure_timeout_s`` the wait for a procedure to finish.
    After a timeout or a broken connection the socket is closed and the next query reconnects, so a late
    reply never gets mistaken for the answer to a later command.
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
                raise DeviceError(f"cannot connect to the R9 at {self.host}:{self.port}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
        return self._sock

    def _recv(self, sock: socket.socket, line: str, timeout_s: float) -> str:
        sock.settimeout(timeout_s)
        try:
            data = sock.recv(_RECV_BYTES)
        except TimeoutError as exc:
            raise DeviceError(f"no reply from the R9 to {line!r} within {timeout_s:g} s") from exc
        if not data:
            raise DeviceError(f"the R9 closed the connection while answering {line!r}")
        return data.decode("utf-8", errors="replace")

    def query(self, line: str) -> str:
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        with self._lock:
            sock = self._socket()
            try:
                sock.sendall((line + "\n").encode("utf-8"))
                reply = self._recv(sock, line, self.timeout_s)
                if _command_word(line) == "StartProcedure" and reply == DONE:
                    reply += self._recv(sock, line, self.procedure_timeout_s)
            except DeviceError:
                self._close()
                raise
            except OSError as exc:
                self._close()
                raise DeviceError(f"R9 connection failed during {line!r}: {exc}") from exc
            return reply

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
    def _set(self, command: str) -> None:
        reply = self.transport.query(command)
        if reply != DONE:
            raise DeviceError(f"R9 refused {command!r}: replied {reply!r}")

    def _get(self, command: str) -> str:
        reply = self.transport.query(command)
        if not reply or reply.startswith("Error"):
            raise DeviceError(f"R9 refused {command!r}: replied {reply!r}")
        return reply

    def _get_float(self, command: str) -> float:
        reply = self._get(command)
        try:
            value = float(reply)
        except ValueError:
            raise DeviceError(f"R9 reply to {command!r} is not a number: {reply!r}") from None
        if not math.isfinite(value):
            raise DeviceError(f"R9 reply to {command!r} is not a finite number: {reply!r}")
        return value

    def _procedure(self, command: str) -> None:
        reply = self.transport.query(command)
        finished = reply[len(DONE):]
        if not reply.startswith(DONE) or not finished or finished.startswith("Error"):
            raise DeviceError(f"R9 procedure {command!r} did not complete: replied {reply!r}")

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
            raise DeviceError(f"R9 reply to {command!r} is not a tip-control word: {word!r}")
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
