"""RHK R9 / R9+ remote interface (TCP port 12600) and the shear-force Z controller role on top of it.

Wire format (hardware.md §4.1): one command per line, comma-separated fields joined by ``", "``,
terminated by ``\\n``. Each reply is one chunk of text with no terminator: ``Done`` for a set-command, a
number as text for a get, and for ``StartProcedure`` two replies, an acknowledgement and a second one when
the procedure has finished. Refusals come back as text that is neither (``Error: ...``).

``R9`` is the command table; ``R9Socket`` (the rig) or any object with ``query(line) -> str`` (such as the
simulator's in-process transport) is its
transports, both ``query(line) -> str``. ``R9ZController`` is the ``ZController`` role: Z in nm from the
``z0-src`` channel, amplitude as a fraction of the free amplitude measured while retracted.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from tepl.roles import DeviceError, LimitError, Range, ZController

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


def _finite(value: float, what: str) -> float:
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
            return float(reply)
        except ValueError:
            raise DeviceError(f"R9 reply to {command!r} is not a number: {reply!r}") from None

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
        v = _finite(setpoint_V, "setpoint")
        self._set(self._sub("SetHWSubParameter", "Set Point", "Value", repr(v)))

    def integral_gain(self) -> float:
        return self._get_float(self._sub("GetHWSubParameter", "Integral Gain"))

    def set_integral_gain(self, gain: float) -> None:
        self._set(self._sub("SetHWSubParameter", "Integral Gain", repr(_finite(gain, "integral gain"))))

    def proportional_gain(self) -> float:
        return self._get_float(self._sub("GetHWSubParameter", "Proportional Gain"))

    def set_proportional_gain(self, gain: float) -> None:
        self._set(self._sub("SetHWSubParameter", "Proportional Gain",
                            repr(_finite(gain, "proportional gain"))))

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
        z = _finite(z_m, "Z position")
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


_STATE_OF_WORD = {"Unlimit": "engaged", "Freeze": "frozen", "Retract": "retracted"}


class R9ZController(ZController):
    """Shear-force Z controller on an R9: engage at a fraction of the free amplitude, freeze, place, retract.

    ``z_nm`` is the ``z0-src`` channel in nm. The free amplitude is measured at every ``retract``
    (and before the first ``engage`` if no retract happened yet). ``sleep`` waits between Z reads
    (``world.clock.advance`` on a simulated station); Z counts as settled when two reads ``settle_s``
    apart differ by less than ``settle_tolerance_nm``.
    """

    def __init__(self, r9: R9, z_range_nm: Range, setpoint_fraction: float = 0.9,
                 sleep: Callable[[float], None] = time.sleep, settle_s: float = 0.05,
                 settle_tolerance_nm: float = 0.1, bound_margin_nm: float = 0.5,
                 free_amplitude_reads: int = 5):
        super().__init__(z_range_nm)
        self.r9 = r9
        self.setpoint_fraction = self._check_fraction(setpoint_fraction)
        self.sleep = sleep
        self.settle_s = float(settle_s)
        self.settle_tolerance_nm = float(settle_tolerance_nm)
        self.bound_margin_nm = float(bound_margin_nm)
        self.free_amplitude_reads = int(free_amplitude_reads)
        self.free_amplitude_V: float | None = None
        self.z_offset_nm = 0.0  # apex height above the substrate reference minus the Z piezo reading
        self._z_referenced = True

    @staticmethod
    def _check_fraction(fraction: float) -> float:
        fraction = float(fraction)
        if not 0.0 < fraction < 1.0:
            raise LimitError(f"setpoint fraction = {fraction:g} must lie between 0 and 1 "
                             f"(of the free amplitude)")
        return fraction

    def _bounds_nm(self) -> tuple[float, float]:
        """The Z piezo's range in the frame of ``z_nm``."""
        lower_m, upper_m = self.r9.z_bounds_m()
        return lower_m * 1e9 + self.z_offset_nm, upper_m * 1e9 + self.z_offset_nm

    def _wait_settled(self, timeout_s: float, what: str) -> float:
        """Poll Z until two reads agree; return z_nm."""
        tries = max(3, math.ceil(timeout_s / max(self.settle_s, 1e-6)))
        previous = self.z_nm()
        for _ in range(tries):
            self.sleep(self.settle_s)
            z = self.z_nm()
            if abs(z - previous) < self.settle_tolerance_nm:
                return z
            previous = z
        raise DeviceError(f"Z did not settle within {timeout_s:g} s after {what} (last Z {previous:.2f} nm)")

    def _measure_free_amplitude(self) -> float:
        reads = [self.r9.amplitude_V() for _ in range(max(self.free_amplitude_reads, 1))]
        free = sum(reads) / len(reads)
        if not free > 0:
            raise DeviceError(f"free tuning-fork amplitude is {free!r} V while retracted; check the dither")
        self.free_amplitude_V = free
        return free

    # ------------------------------------------------------------------ role
    def engage(self, setpoint_fraction: float | None = None, timeout_s: float = 5.0) -> float:
        if setpoint_fraction is None:
            setpoint_fraction = self.setpoint_fraction
        fraction = self._check_fraction(setpoint_fraction)
        if self.free_amplitude_V is None:
            self.retract()
        lower_nm, upper_nm = self._bounds_nm()
        self.r9.set_setpoint_V(fraction * self.free_amplitude_V)
        self.r9.set_tip_control("Unlimit")
        z = self._wait_settled(timeout_s, "engaging")
        if z - lower_nm < self.bound_margin_nm:
            raise DeviceError(f"surface not reached within the Z range; step the coarse positioner in "
                              f"(Z pinned at the lower bound {lower_nm:.1f} nm)")
        if upper_nm - z < self.bound_margin_nm:
            raise DeviceError(f"Z pinned at the upper bound {upper_nm:.1f} nm: the surface is closer than "
                              f"the Z range allows or the setpoint is above the free amplitude; step the "
                              f"coarse positioner out")
        return z

    def freeze(self) -> None:
        self.r9.set_tip_control("Freeze")

    def retract(self, timeout_s: float = 5.0) -> None:
        self.r9.set_tip_control("Retract")
        self._wait_settled(timeout_s, "retracting")
        self._measure_free_amplitude()

    def state(self) -> str:
        return _STATE_OF_WORD[self.r9.tip_control()]

    def z_nm(self) -> float:
        return self.r9.z_m() * 1e9 + self.z_offset_nm

    def set_z_reference_nm(self, apex_z_nm: float) -> None:
        """Declare the apex height (nm above the substrate reference) at the present Z, e.g. the shear-force
        contact distance after engaging on bare substrate; needed again after coarse steps."""
        self.z_offset_nm = _finite(apex_z_nm, "apex z") - self.r9.z_m() * 1e9
        self._z_referenced = True

    def amplitude(self) -> float:
        if self.free_amplitude_V is None:
            if self.state() != "retracted":
                raise DeviceError("free tuning-fork amplitude not measured yet: retract once first")
            self._measure_free_amplitude()
        return self.r9.amplitude_V() / self.free_amplitude_V

    def phase_deg(self) -> float:
        return self.r9.phase_deg()

    def _do_set_z(self, z_nm: float) -> None:
        if not self._z_referenced:
            raise LimitError("tip z lost its reference in the last coarse steps: engage on bare substrate and "
                             "call set_z_reference_nm first")
        self.r9.set_z_position_m((z_nm - self.z_offset_nm) * 1e-9)

    def coarse_step(self, steps: int) -> None:
        """Coarse steps (positive towards the sample), only with the tip retracted: a step of tens of nm with
        the tip engaged or frozen near the surface would crash it. The apex then stands at a new height that
        the Z channel does not see, so ``set_z_nm`` is refused until ``set_z_reference_nm`` is called."""
        if isinstance(steps, bool) or int(steps) != steps:
            raise LimitError(f"coarse steps = {steps!r} must be a whole number")
        if int(steps) != 0 and self.state() != "retracted":
            raise LimitError(f"coarse steps only with the tip retracted (it is {self.state()}): retract first")
        if int(steps) != 0:
            self._z_referenced = False
        for _ in range(abs(int(steps))):
            if steps > 0:
                self.r9.step_in()
            else:
                self.r9.step_out()

    def disconnect(self) -> None:
        """Close the connection to the R9 (after the station's retract)."""
        self.r9.close()

    def settings(self) -> dict:
        lower_m, upper_m = self.r9.z_bounds_m()
        return {
            **super().settings(),
            "controller": self.r9.controller,
            "setpoint_fraction": self.setpoint_fraction,
            "setpoint_V": self.r9.setpoint_V(),
            "free_amplitude_V": self.free_amplitude_V,
            "integral_gain": self.r9.integral_gain(),
            "proportional_gain": self.r9.proportional_gain(),
            "z_bounds_m": [lower_m, upper_m],
            "channels": {"z": self.r9.z_channel, "amplitude": self.r9.amplitude_channel,
                         "phase": self.r9.phase_channel},
            "tip_control": self.r9.tip_control(),
        }
