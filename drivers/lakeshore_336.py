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

The class follows pymeasure's conventions and imports no role: the ``tepl.roles.TemperatureController`` on
top is ``lakeshore_336_controller.LakeShore336Controller``.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range
from pyvisa.constants import ControlFlow, Parity, StopBits

from tepl.drivers.line_instrument import DeviceError, LineInstrument

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
LOOP_RANGES = {"off": 0, "low": 1, "medium": 2, "high": 3}  # RANGE of outputs 1-2
SWITCHED_RANGES = {"off": 0, "on": 1}  # RANGE of outputs 3-4


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DeviceError(f"Lake Shore 336 replied {text!r} where {what} (a number) was expected") from None


def _int(text: str, what: str) -> int:
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise DeviceError(f"Lake Shore 336 replied {text!r} where {what} (a whole number) was expected")
    return int(text)


def _number(what: str):
    return dict(cast=str, maxsplit=0, get_process=lambda text: _float(text, what))


class LakeShore336Input(Channel):
    """One sensor input (``A``-``D``), named as in pymeasure's ``LakeShoreTemperatureChannel``."""

    kelvin = Channel.measurement("KRDG? {ch}", "Get the reading in kelvin (float, K).", **_number("a temperature"))
    reading_status = Channel.measurement(
        "RDGST? {ch}", "Get the reading status (int: 0 valid; 1 invalid, 16 T under, 32 T over, 64 units zero, "
        "128 units over range).", cast=str, maxsplit=0, get_process=lambda text: _int(text, "a reading status"))


class LakeShore336Output(Channel):
    """A control loop output (1, 2), named as in pymeasure's ``LakeShoreHeaterChannel``."""

    output = Channel.measurement("HTR? {ch}", "Get the heater output (float, % of the range's full power).",
                                 **_number("a heater output"))
    setpoint = Channel.control(
        "SETP? {ch}", "SETP {ch},%.4f", "Control the setpoint (float, in the control input's units: K here).",
        validator=strict_range, values=(0.0, math.inf), check_set_errors=True, **_number("a setpoint"))
    range = Channel.control(
        "RANGE? {ch}", "RANGE {ch},%d", "Control the heater range (str: off, low, medium, high).",
        validator=strict_discrete_set, values=LOOP_RANGES, map_values=True, cast=int, check_set_errors=True)


class LakeShore336SwitchedOutput(LakeShore336Output):
    """An output without a loop heater (3, 4 on a 336): its range is only off or on."""

    range = Channel.control(
        "RANGE? {ch}", "RANGE {ch},%d", "Control the output (str: off, on).",
        validator=strict_discrete_set, values=SWITCHED_RANGES, map_values=True, cast=int, check_set_errors=True)


class LakeShore336(LineInstrument):
    """A Lake Shore 335 / 336 over any pymeasure adapter; every exchange checks the event status register.

    pymeasure's names: ``input_A`` ... ``input_D`` (``kelvin``), ``output_1`` ... ``output_4`` (``output``,
    ``setpoint``, ``range``); the methods below take the input or output as an argument."""

    input_A = Instrument.ChannelCreator(LakeShore336Input, "A")
    input_B = Instrument.ChannelCreator(LakeShore336Input, "B")
    input_C = Instrument.ChannelCreator(LakeShore336Input, "C")
    input_D = Instrument.ChannelCreator(LakeShore336Input, "D")
    output_1 = Instrument.ChannelCreator(LakeShore336Output, 1)
    output_2 = Instrument.ChannelCreator(LakeShore336Output, 2)
    output_3 = Instrument.ChannelCreator(LakeShore336SwitchedOutput, 3)
    output_4 = Instrument.ChannelCreator(LakeShore336SwitchedOutput, 4)

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

    def _in(self, input: str) -> LakeShore336Input:
        return getattr(self, f"input_{self._input(input)}")

    def _out(self, output: int, allowed: tuple[int, ...] = OUTPUTS) -> LakeShore336Output:
        return getattr(self, f"output_{self._output(output, allowed)}")

    def kelvin(self, input: str) -> float:
        """``KRDG? <in>``: the input's reading in K."""
        return self._in(input).kelvin

    def reading_status(self, input: str) -> int:
        """``RDGST? <in>``: 0 valid; 1 invalid, 16 T under, 32 T over, 64 units zero, 128 units over range."""
        return self._in(input).reading_status

    def setpoint(self, output: int) -> float:
        """``SETP? <out>``: the setpoint (K)."""
        return self._out(output).setpoint

    def set_setpoint(self, output: int, kelvin: float) -> None:
        """``SETP <out>,<K>``: a finite, non-negative setpoint (K)."""
        if not math.isfinite(kelvin):
            raise ValueError(f"{self.name}: setpoint {kelvin!r} K of output {output} is not a finite number")
        self._out(output).setpoint = float(kelvin)

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
        return self._out(output, HEATER_OUTPUTS).output

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
