"""Newport / New Focus 8742 four-axis Picomotor controller (hardware.md section 2) and the open-loop
positioner on it.

``Picomotor8742`` (pymeasure) speaks the controller's ASCII protocol: a command is ``[xx]MNEMONIC[nn]``
ending in CR (``1PR100\\r``, ``2TP?\\r``), only queries (ending in ``?``) are answered, with one line ending in
CR LF. Over Ethernet the controller is a telnet server on port 23 that sends six negotiation bytes
``FF FB 01 FF FB 03`` (IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD) as soon as a client connects;
``telnet=True`` reads and checks them before the first command (USB sends nothing). The driver writes the CR
itself and reads replies byte by byte up to CR LF, so the bytes on the wire are the manual's whatever the
adapter's terminations. ``controller_address`` (1-31) prefixes every command with ``n>`` for a controller
daisy-chained over RS-485 behind the one connected; its replies carry the same prefix, which is checked.

Errors: the controller queues them (10 deep) and says nothing until asked with ``TB?`` (``108, MOTOR NOT
CONNECTED``; ``0, NO ERROR DETECTED``). Every command that sets or moves something is followed by ``TB?``
(``check_set_errors``), read until the queue is empty; a queued error raises ``DeviceError`` naming the
controller, its address, the command and the error.

The adapter is ``"TCPIP::host::23::SOCKET"`` (Ethernet; pass ``telnet=True``), a VISA USB resource, or a
pymeasure adapter (the simulator's). The class follows pymeasure's conventions and imports no role: the
``tepl.roles.OpenLoopPositioner`` on top is ``newport_8742_positioner.Picomotor8742Positioner``. Steps,
steps/s, steps/s^2 and s.
"""

from __future__ import annotations

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_range

from tepl.drivers.line_instrument import DeviceError, LineInstrument

TERMINATOR = b"\r"
REPLY_END = b"\r\n"
TELNET_PREAMBLE = b"\xff\xfb\x01\xff\xfb\x03"  # IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD
ENCODING = "ascii"
MAX_COMMAND_CHARS = 63  # the controller's input buffer takes lines shorter than 64 characters
MAX_REPLY_BYTES = 256
MAX_QUEUED_ERRORS = 10
AXES = (1, 2, 3, 4)
MAX_VELOCITY = 2000  # steps/s ('Standard' motor; 1750 for 'Tiny')
MAX_ACCELERATION = 200000  # steps/s^2
MAX_STEPS = 2147483647  # PR / PA take a signed 32-bit count
MOTOR_TYPES = {0: "none", 1: "unknown", 2: "tiny", 3: "standard"}


def parse_int(text: str) -> int:
    """A signed whole number in ASCII digits."""
    body = text.strip()
    digits = body[1:] if body[:1] in "+-" else body
    if not (digits.isascii() and digits.isdigit()):
        raise DeviceError(f"New Focus 8742 replied {text!r} where a whole number was expected")
    return int(body)


def parse_error(text: str) -> tuple[int, str]:
    """A ``TB?`` reply: ``(code, message)``; code 0 is no error."""
    code, sep, message = text.partition(",")
    if not sep:
        raise DeviceError(f"New Focus 8742 replied {text!r} to TB? where 'code, MESSAGE' was expected")
    return parse_int(code), message.strip()


_WHOLE = dict(cast=str, maxsplit=0, get_process=parse_int)


def _done(text: str) -> bool:
    if text.strip() not in ("0", "1"):
        raise DeviceError(f"New Focus 8742 replied {text!r} to MD? where 0 or 1 was expected")
    return text.strip() == "1"


def _whole_number(value, values):
    """``strict_range`` for step counts, velocities, accelerations: a whole number (not a bool) in range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return strict_range(value, values)


class Picomotor8742Axis(Channel):
    """One motor output (1-4); pymeasure-style properties (names as pymeasure's Newport ESP300 axes where
    they have one: ``position``, ``velocity``, ``acceleration``, ``motion_done``)."""

    position = Channel.measurement("{ch}TP?", "Get the step counter (int, steps; not a position).",
                                   **_WHOLE)
    target = Channel.measurement("{ch}PR?", "Get the target of the last relative move (int, steps).",
                                 **_WHOLE)
    motion_done = Channel.measurement("{ch}MD?", "Get whether the axis has stopped (bool).", cast=str, maxsplit=0,
                                      get_process=_done)
    velocity = Channel.control(
        "{ch}VA?", "{ch}VA%d", f"Control the velocity (int, 1-{MAX_VELOCITY} steps/s).", validator=_whole_number,
        values=(1, MAX_VELOCITY), check_set_errors=True, **_WHOLE)
    acceleration = Channel.control(
        "{ch}AC?", "{ch}AC%d", f"Control the acceleration (int, 1-{MAX_ACCELERATION} steps/s^2).",
        validator=_whole_number, values=(1, MAX_ACCELERATION), check_set_errors=True, **_WHOLE)
    motor_type = Channel.measurement(
        "{ch}QM?", "Get the motor type (str: none, unknown, tiny, standard).", cast=str, maxsplit=0,
        get_process=lambda text: _motor_type(parse_int(text)))


def _motor_type(code: int) -> str:
    if code not in MOTOR_TYPES:
        raise DeviceError(f"New Focus 8742 replied {code} to QM? where 0-3 was expected")
    return MOTOR_TYPES[code]


class Picomotor8742(LineInstrument):
    """New Focus 8742 Picomotor controller over any pymeasure adapter (see the module's docstring).

    ``write`` sends one command with its CR; ``read`` reads one reply line up to CR LF. Per-axis properties
    live on ``axis_1`` ... ``axis_4`` (``channels``); the methods below take the axis number (1-4) first."""

    channels = Instrument.MultiChannelCreator(Picomotor8742Axis, AXES, prefix="axis_")

    idn = Instrument.measurement("*IDN?", "Get the identification (str, ``New_Focus 8742 v2.2 08/01/13 "
                                 "SN12345``).", cast=str, maxsplit=0)
    firmware = Instrument.measurement("VE?", "Get the firmware version (str).", cast=str, maxsplit=0)

    def __init__(self, adapter, name: str = "New Focus 8742", address: str | None = None, telnet: bool = False,
                 controller_address: int | None = None, **kwargs):
        super().__init__(adapter, name, address, **kwargs)  # the driver writes the CR, reads up to CR LF
        if controller_address is not None and not 1 <= controller_address <= 31:
            raise ValueError(f"{name}: controller_address must be 1-31, got {controller_address!r}")
        self.prefix = "" if controller_address is None else f"{controller_address}>"
        if telnet:
            self.read_telnet_preamble()

    # ---- transport -------------------------------------------------------------------------------
    def read_telnet_preamble(self) -> None:
        """Read the six telnet negotiation bytes the controller sends on connect; anything else is an error."""
        try:
            got = self.read_bytes(len(TELNET_PREAMBLE))
        except Exception as exc:
            raise self._error(f"no telnet preamble on connect: {exc}") from exc
        if got != TELNET_PREAMBLE:
            raise self._error(f"expected the telnet preamble {TELNET_PREAMBLE!r} on connect, got {got!r}")

    def write(self, command: str, **kwargs) -> None:
        """Send one command (``1PR100``, ``TB?``) followed by CR, with the ``n>`` prefix if set."""
        if (not command or any(c in command for c in "\r\n;") or not command.isascii()
                or len(self.prefix + command) > MAX_COMMAND_CHARS):
            raise ValueError(f"{self.name}: {command!r} is not a single ASCII command")
        self.last_command = command
        self.write_bytes((self.prefix + command).encode(ENCODING) + TERMINATOR)

    def read(self, **kwargs) -> str:
        """One reply line to the last query, CR LF removed and the ``n>`` prefix checked and removed."""
        raw = self.read_until(REPLY_END, MAX_REPLY_BYTES)
        text = bytes(raw[: -len(REPLY_END)]).decode(ENCODING, errors="replace")
        if self.prefix:
            if not text.startswith(self.prefix):
                raise self._error(f"reply to {self.last_command!r} does not start with {self.prefix!r}: {text!r}")
            text = text[len(self.prefix):]
        return text

    def query(self, command: str) -> str:
        """A query (``1TP?``): sent, its reply line returned."""
        if not command.endswith("?"):
            raise ValueError(f"{self.name}: {command!r} is not a query (queries end with '?')")
        self.write(command)
        return self.read()

    def next_error(self) -> tuple[int, str]:
        """``TB?``: the oldest queued error ``(code, message)`` (popped), ``(0, 'NO ERROR DETECTED')`` if none.
        Codes 1-99 are the controller's, 100-199 axis 1, 200-299 axis 2 and so on."""
        return parse_error(self.query("TB?"))

    def check_errors(self) -> list[tuple[int, str]]:
        """Read ``TB?`` until the queue is empty; the errors found, oldest first."""
        found = []
        for _ in range(MAX_QUEUED_ERRORS + 1):
            code, message = self.next_error()
            if code == 0:
                return found
            found.append((code, message))
        raise self._error(f"the error queue did not empty after {len(found)} reads: {found}")

    def check_set_errors(self) -> list:
        """After a command: the error queue must be empty, else DeviceError naming the command."""
        command = self.last_command
        errors = self.check_errors()
        if errors:
            listed = "; ".join(f"{code}, {message}" for code, message in errors)
            raise self._error(f"{command!r} was followed by error(s): {listed}")
        return []

    # ---- axes ------------------------------------------------------------------------------------
    def _axis(self, axis: int) -> int:
        if isinstance(axis, bool) or axis not in AXES:
            raise ValueError(f"{self.name}: axis must be one of {AXES}, got {axis!r}")
        return axis

    def move_relative(self, axis: int, steps: int) -> None:
        """``xxPRnn``: start a move of ``steps`` (signed) from the present count."""
        if isinstance(steps, bool) or not isinstance(steps, int) or abs(steps) > MAX_STEPS:
            raise ValueError(f"{self.name}: steps must be a whole number within +-{MAX_STEPS}, got {steps!r}")
        self.command(f"{self._axis(axis)}PR{steps}")

    def position(self, axis: int) -> int:
        """``xxTP?``: the step counter (steps; not a position)."""
        return self.channels[self._axis(axis)].position

    def target(self, axis: int) -> int:
        """``xxPR?``: the target of the last relative move (steps)."""
        return self.channels[self._axis(axis)].target

    def motion_done(self, axis: int) -> bool:
        """``xxMD?``: True when the axis is not moving (the controller says 1)."""
        return self.channels[self._axis(axis)].motion_done

    def stop(self, axis: int | None = None) -> None:
        """``xxST`` (one axis) or ``ST`` (every moving axis): stop with deceleration."""
        self.command("ST" if axis is None else f"{self._axis(axis)}ST")

    def abort(self) -> None:
        """``AB``: stop every axis at once, without deceleration."""
        self.command("AB")

    def define_home(self, axis: int, count: int = 0) -> None:
        """``xxDHnn``: make the present step counter read ``count``."""
        self.command(f"{self._axis(axis)}DH{int(count)}")

    def velocity(self, axis: int) -> int:
        """``xxVA?``: the velocity (steps/s)."""
        return self.channels[self._axis(axis)].velocity

    def set_velocity(self, axis: int, steps_per_s: int) -> None:
        """``xxVAnn``: the velocity, 1-2000 steps/s."""
        try:
            self.channels[self._axis(axis)].velocity = steps_per_s
        except ValueError as exc:
            raise ValueError(f"{self.name}: velocity must be a whole 1-{MAX_VELOCITY} steps/s: {exc}") from None

    def acceleration(self, axis: int) -> int:
        """``xxAC?``: the acceleration (steps/s^2)."""
        return self.channels[self._axis(axis)].acceleration

    def set_acceleration(self, axis: int, steps_per_s2: int) -> None:
        """``xxACnn``: the acceleration, 1-200000 steps/s^2."""
        try:
            self.channels[self._axis(axis)].acceleration = steps_per_s2
        except ValueError as exc:
            raise ValueError(f"{self.name}: acceleration must be a whole 1-{MAX_ACCELERATION} steps/s^2: "
                             f"{exc}") from None

    def motor_type(self, axis: int) -> str:
        """``xxQM?``: ``none``, ``unknown``, ``tiny`` or ``standard``."""
        return self.channels[self._axis(axis)].motor_type
