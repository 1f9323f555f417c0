"""Lake Shore Model 335 / 336 temperature controller (hardware.md section 8) and the temperature-controller
role on it.

``LakeShore336`` (pymeasure) speaks the controller's ASCII protocol: a line ends in LF and every answer ends
in CR LF. The controller sends nothing back for a command and nothing for a bad query, so, as Lake Shore's
own client does, every line the driver sends carries ``;*ESR?`` after the item: the answer is the item's
value (queries) followed by ``;`` and the event status register, or just the register (commands). Reading
the register clears it; bit 32 (command error), 16 (execution error: a bad parameter) or 4 (query error)
raises ``DeviceError`` naming the controller, its address and the command, and so does a missing or
malformed answer. The driver writes the LF itself and reads up to CR LF itself, so the bytes on the wire
are the manual's whatever the adapter's terminations.

The adapter is a VISA resource string: ``"TCPIP::host::7777::SOCKET"`` (the 336's Ethernet port, or the
simulator), ``"ASRL/dev/ttyUSB0::INSTR"`` (the USB virtual COM port: 57600 baud, 7 data bits, odd parity,
1 stop bit, no flow control), or a pymeasure adapter. Inputs are ``A``-``D``; outputs 1-4 (1 and 2 are the
heater loops). Temperatures in K.

``LakeShore336Controller`` is the ``tepl.roles.TemperatureController`` on top: it checks ``*IDN?`` on
connect, puts its output in closed-loop PID on its input the first time it is asked to control, and waits
with ``tepl.drivers.polling.Wait``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pymeasure.instruments import Instrument
from pyvisa.constants import ControlFlow, Parity, StopBits

from tepl.drivers.line_instrument import LineInstrument
from tepl.drivers.polling import Wait
from tepl.limits import Range
from tepl.roles import HEATER_RANGES, DeviceError, TemperatureController

log = logging.getLogger(__name__)

WRITE_TERMINATOR = b"\n"
READ_TERMINATOR = b"\r\n"
ENCODING = "ascii"
MAX_REPLY_BYTES = 512
DEFAULT_TCP_PORT = 7777
ESR_QUERY = "*ESR?"
ESR_ERRORS = {32: "command error", 16: "execution error (bad parameter)", 4: "query error"}
INPUTS = ("A", "B", "C", "D")
OUTPUTS = (1, 2, 3, 4)
HEATER_OUTPUTS = (1, 2)
OUTPUT_MODES = {0: "off", 1: "closed loop PID", 2: "zone", 3: "open loop", 4: "monitor out", 5: "warm up"}
PID_LIMITS = {"P": (0.1, 1000.0), "I": (0.1, 1000.0), "D": (0.0, 200.0)}


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DeviceError(f"Lake Shore 336 replied {text!r} where {what} (a number) was expected") from None


def _int(text: str, what: str) -> int:
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise DeviceError(f"Lake Shore 336 replied {text!r} where {what} (a whole number) was expected")
    return int(text)


class LakeShore336(LineInstrument):
    """A Lake Shore 335 / 336 over any pymeasure adapter; every exchange checks the event status register."""

    def __init__(self, adapter, name: str = "Lake Shore 336", address: str | None = None, **kwargs):
        super().__init__(adapter, name, address, asrl={"baud_rate": 57600, "data_bits": 7, "stop_bits": StopBits.one,
                                                       "parity": Parity.odd, "flow_control": ControlFlow.none},
                         **kwargs)  # 57600 7O1; the driver writes the LF and reads up to CR LF itself

    # ---- transport -------------------------------------------------------------------------------

    def write(self, command: str, **kwargs) -> None:
        """Send one item followed by ``;*ESR?`` and LF."""
        if not command or any(c in command for c in "\r\n;") or not command.isascii():
            raise ValueError(f"{self.name}: {command!r} is not a single ASCII command")
        self.last_command = command
        self.write_bytes(f"{command};{ESR_QUERY}".encode(ENCODING) + WRITE_TERMINATOR)

    def read_line(self) -> str:
        """One answer up to CR LF (removed)."""
        raw = self.read_until(READ_TERMINATOR, MAX_REPLY_BYTES, hint="the controller does not answer a bad query")
        return bytes(raw[: -len(READ_TERMINATOR)]).decode(ENCODING, errors="replace")

    def read(self, **kwargs) -> str:
        """The answer to the last item with the register split off and checked: the value ("" for a
        command)."""
        line = self.read_line()
        value, sep, esr_text = line.rpartition(";")
        esr_text = esr_text.strip()
        if not (esr_text.isascii() and esr_text.isdigit()):
            raise self._error(f"{self.last_command!r} was answered {line!r}: no event status register at its end")
        esr = int(esr_text)
        errors = [text for bit, text in ESR_ERRORS.items() if esr & bit]
        if errors:
            raise self._error(f"{self.last_command!r} was refused: {', '.join(errors)} (*ESR? = {esr})")
        is_query = "?" in self.last_command
        if is_query and not sep:
            raise self._error(f"{self.last_command!r} was answered {line!r}: no value before the register")
        if not is_query and sep:
            raise self._error(f"{self.last_command!r} is a command but was answered {line!r}")
        return value

    def check_set_errors(self) -> list:
        self.read()
        return []

    def query(self, command: str) -> str:
        """A query (``KRDG? A``): sent with ``;*ESR?``, its value returned."""
        self.write(command)
        value = self.read()
        if not value:
            raise self._error(f"{command!r} was answered with an empty value")
        return value

    # ---- checks ----------------------------------------------------------------------------------
    def _input(self, input: str) -> str:
        if str(input).upper() not in INPUTS:
            raise ValueError(f"{self.name}: input {input!r} is not one of {INPUTS}")
        return str(input).upper()

    def _output(self, output: int, allowed: tuple[int, ...] = OUTPUTS) -> int:
        if output not in allowed:
            raise ValueError(f"{self.name}: output {output!r} is not one of {allowed}")
        return int(output)

    # ---- measurements and controls -----------------------------------------------------------------
    idn = Instrument.measurement("*IDN?", "Get the identification (str, ``LSCI,MODEL336,serial/option,fw``).",
                                 cast=str, maxsplit=0)

    def kelvin(self, input: str) -> float:
        """``KRDG? <in>``: the input's reading in K."""
        return _float(self.query(f"KRDG? {self._input(input)}"), "a temperature")

    def reading_status(self, input: str) -> int:
        """``RDGST? <in>``: 0 valid; 1 invalid, 16 T under, 32 T over, 64 units zero, 128 units over range."""
        return _int(self.query(f"RDGST? {self._input(input)}"), "a reading status")

    def setpoint(self, output: int) -> float:
        return _float(self.query(f"SETP? {self._output(output)}"), "a setpoint")

    def set_setpoint(self, output: int, kelvin: float) -> None:
        self.command(f"SETP {self._output(output)},{float(kelvin):.4f}")

    def heater_range(self, output: int) -> int:
        """``RANGE? <out>``: 0 off, 1 low, 2 medium, 3 high (outputs 3-4: 0 off, 1 on)."""
        return _int(self.query(f"RANGE? {self._output(output)}"), "a heater range")

    def set_heater_range(self, output: int, value: int) -> None:
        output = self._output(output)
        top = 3 if output in HEATER_OUTPUTS else 1
        if value not in range(top + 1):
            raise ValueError(f"{self.name}: range {value!r} of output {output} is not 0-{top}")
        self.command(f"RANGE {output},{int(value)}")

    def heater_output(self, output: int) -> float:
        """``HTR? <out>``: the heater output, % (outputs 1-2)."""
        return _float(self.query(f"HTR? {self._output(output, HEATER_OUTPUTS)}"), "a heater output")

    def _fields(self, command: str, names: str, parse, what: str) -> tuple:
        """The comma-separated answer to ``command``, one field per name in ``names``, each parsed."""
        text = self.query(command)
        parts = text.split(",")
        if len(parts) != names.count(",") + 1:
            raise self._error(f"{command} was answered {text!r}, not {names}")
        return tuple(parse(v, what) for v in parts)

    def pid(self, output: int) -> tuple[float, float, float]:
        p, i, d = self._fields(f"PID? {self._output(output, HEATER_OUTPUTS)}", "P,I,D", _float, "a PID term")
        return p, i, d

    def set_pid(self, output: int, p: float, i: float, d: float) -> None:
        for term, value in zip("PID", (p, i, d), strict=True):
            low, high = PID_LIMITS[term]
            if not low <= value <= high:
                raise ValueError(f"{self.name}: {term} = {value!r} is outside {low:g}-{high:g}")
        self.command(f"PID {self._output(output, HEATER_OUTPUTS)},{p:g},{i:g},{d:g}")

    def output_mode(self, output: int) -> tuple[int, int, int]:
        """``OUTMODE? <out>``: (mode, input 0-4 with 1 = A, powerup enable)."""
        mode, channel, powerup = self._fields(f"OUTMODE? {self._output(output)}", "mode,input,powerup", _int,
                                              "an output mode field")
        return mode, channel, powerup

    def set_output_mode(self, output: int, mode: int, input: str | None, powerup: bool = False) -> None:
        if mode not in OUTPUT_MODES:
            raise ValueError(f"{self.name}: output mode {mode!r} is not one of {tuple(OUTPUT_MODES)}")
        channel = 0 if input is None else INPUTS.index(self._input(input)) + 1
        self.command(f"OUTMODE {self._output(output)},{mode},{channel},{int(bool(powerup))}")

    def all_heaters_off(self) -> None:
        for output in OUTPUTS:
            self.command(f"RANGE {output},0")


class LakeShore336Controller(TemperatureController):
    """The temperature-controller role on a Lake Shore 335 / 336: ``output`` runs closed-loop PID on
    ``input``. ``sleep`` is how it waits between readings (``world.clock.advance`` on a simulated station)."""

    def __init__(self, controller: LakeShore336, setpoint_range_k: Range, input: str = "A", output: int = 1,
                 safe_heater: str = "off", sleep: Callable[[float], None] = time.sleep,
                 poll_interval_s: float = 1.0):
        super().__init__(setpoint_range_k, controller._input(input), controller._output(output, HEATER_OUTPUTS),
                         safe_heater, sleep, poll_interval_s)
        self.controller = controller
        self.identity = controller.idn
        fields = self.identity.split(",")
        if len(fields) < 4 or fields[0] != "LSCI" or fields[1] not in ("MODEL336", "MODEL335"):
            raise DeviceError(f"{self._where()}: *IDN? answered {self.identity!r}, not a Lake Shore 335 / 336")
        self._loop_checked = False

    def _where(self) -> str:
        return f"{self.controller.name} at {self.controller.address}"

    def _closed_loop(self, output: int) -> None:
        """Put the role's output in closed-loop PID on its input (once; other outputs are left alone)."""
        if output != self.output or self._loop_checked:
            return
        want = (1, INPUTS.index(self.input) + 1)
        if self.controller.output_mode(output)[:2] != want:
            self.controller.set_output_mode(output, 1, self.input)
        self._loop_checked = True

    def _do_temperature_k(self, input: str) -> float:
        return self.controller.kelvin(input)

    def _do_setpoint_k(self, output: int) -> float:
        return self.controller.setpoint(output)

    def _do_set_setpoint_k(self, output: int, kelvin: float) -> None:
        self._closed_loop(output)
        self.controller.set_setpoint(output, kelvin)

    def _do_heater_range(self, output: int) -> str:
        value = self.controller.heater_range(output)
        if value >= len(HEATER_RANGES):
            raise DeviceError(f"{self._where()}: RANGE? {output} answered {value}, not 0-3")
        return HEATER_RANGES[value]

    def _do_set_heater_range(self, output: int, name: str) -> None:
        self._closed_loop(output)
        self.controller.set_heater_range(output, HEATER_RANGES.index(name))

    def _do_heater_percent(self, output: int) -> float:
        return self.controller.heater_output(output)

    def _do_all_heaters_off(self) -> None:
        self.controller.all_heaters_off()

    def pid(self, output: int | None = None) -> tuple[float, float, float]:
        return self.controller.pid(self.output if output is None else output)

    def set_pid(self, p: float, i: float, d: float, output: int | None = None) -> None:
        self.controller.set_pid(self.output if output is None else output, p, i, d)

    def wait_stable(self, band_k: float, hold_s: float, timeout_s: float, input: str | None = None,
                    output: int | None = None, wall_timeout_s: float | None = None) -> float:
        if not (band_k > 0 and hold_s >= 0):
            raise ValueError(f"{self._where()}: band_k must be > 0 and hold_s >= 0, got {band_k!r}, {hold_s!r}")
        setpoint = self.setpoint_k(output)
        wait = Wait(self._where(), f"input {input or self.input} to hold {setpoint:g} ± {band_k:g} K for "
                    f"{hold_s:g} s", timeout_s, self._sleep, wall_timeout_s)
        inside_since: float | None = None
        while True:
            reading = self.temperature_k(input)
            if abs(reading - setpoint) <= band_k:
                inside_since = wait.waited_s if inside_since is None else inside_since
                if wait.waited_s - inside_since >= hold_s:
                    return reading
            else:
                inside_since = None
            wait.check(detail=f"last reading {reading:.4g} K")
            wait.pause(self.poll_interval_s)

    def settings(self) -> dict:
        p, i, d = self.pid()
        return {**super().settings(), "id": self.identity, "address": str(self.controller.address),
                "pid": {"P": p, "I": i, "D": d}}

    def disconnect(self) -> None:
        self.controller.adapter.close()
