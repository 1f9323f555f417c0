"""Thorlabs SC10 shutter controller (serial ASCII, hardware.md section 7) and the excitation shutter on it.

``SC10`` (pymeasure) speaks the controller's keyword protocol: a command is a lower-case keyword ending in
CR (``ens?\\r``, ``mode=1\\r``); every reply is the echo of the command + CR, then (queries and errors only)
one value line + CR, then the prompt ``> `` with no terminator. The driver writes the CR itself and reads
the reply byte by byte up to that prompt, so the bytes on the wire are exactly the manual's whatever the
adapter's terminations; the echo and the prompt are checked on every reply, and an error line
(``Command error CMD_NOT_DEFINED`` / ``CMD_ARG_INVALID``) raises ``DeviceError`` naming the controller, its
address, the command and the reply.

The adapter is a VISA resource string (``"ASRL/dev/ttyUSB0::INSTR"``, ``"ASRL3::INSTR"``: 9600 baud 8N1, no
flow control; ``"TCPIP::host::port::SOCKET"`` for a serial server or the simulator) or a pymeasure adapter.
Times in ms on the wire, s in the role.

``SC10Shutter`` is the ``tepl.roles.ExcitationShutter`` on top: manual mode on connect, ``ens`` toggles so
open and shut read ``ens?`` first, the state is read from ``closed?``, and opening is refused while the
interlock is tripped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range
from pyvisa.constants import ControlFlow, Parity, StopBits

from tepl.drivers.line_instrument import LineInstrument
from tepl.drivers.polling import poll
from tepl.roles import DeviceError, ExcitationShutter

log = logging.getLogger(__name__)

TERMINATOR = b"\r"
PROMPT = b"> "
ENCODING = "ascii"
MAX_REPLY_BYTES = 256  # the longest reply is the command list of "?"; a real one never nears this
ERROR_MARKERS = ("Command error", "CMD_NOT_DEFINED", "CMD_ARG_INVALID")
MODES = {1: "manual", 2: "auto", 3: "single", 4: "repeat", 5: "external gate"}
MAX_TIME_MS = 999999  # open / shut times: at most 6 digits


def parse_flag(text: str) -> bool:
    """An SC10 flag: exactly ``0`` or ``1``."""
    if text.strip() not in ("0", "1"):
        raise DeviceError(f"Thorlabs SC10 replied {text!r} where 0 or 1 was expected")
    return text.strip() == "1"


def parse_int(text: str) -> int:
    """A whole number written in ASCII digits (``"²"`` is a digit to ``str.isdigit``, not to ``int``)."""
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise DeviceError(f"Thorlabs SC10 replied {text!r} where a whole number was expected")
    return int(text)


_INT = dict(cast=str, maxsplit=0, get_process=parse_int, check_set_errors=True)


class SC10(LineInstrument):
    """Thorlabs SC10 shutter controller over its serial keyword protocol (any pymeasure adapter).

    ``write`` sends one keyword with its CR; ``read`` reads that keyword's whole reply, checks echo and prompt
    and returns the value line (empty for a command). Setting a property reads the reply of the set-command
    (echo and prompt, or an error line) through ``check_set_errors``.
    """

    idn = Instrument.measurement("id?", "Get the model and firmware (str, ``THORLABS SC10 VERSION 1.07``).",
                                     cast=str, maxsplit=0)
    enabled = Instrument.measurement(
        "ens?", "Get whether the output is enabled (bool; in manual mode enabled means open). Set it with "
        "``toggle_enable`` (``ens`` toggles, it takes no argument).", cast=str, maxsplit=0,
        get_process=parse_flag)
    closed = Instrument.measurement("closed?", "Get whether the shutter is closed (bool).", cast=str, maxsplit=0,
                                    get_process=parse_flag)
    interlock_tripped = Instrument.measurement(
        "interlock?", "Get whether the interlock is tripped (bool; the shutter cannot open then).", cast=str,
        maxsplit=0, get_process=parse_flag)
    mode = Instrument.control(
        "mode?", "mode=%d", "Control the operating mode (int): 1 manual, 2 auto, 3 single, 4 repeat, "
        "5 external gate.", validator=strict_discrete_set, values=tuple(MODES), **_INT)
    trigger = Instrument.control(
        "trig?", "trig=%d", "Control the trigger (int): 0 internal, 1 external.", validator=strict_discrete_set,
        values=(0, 1), **_INT)
    out_trigger = Instrument.control(
        "xto?", "xto=%d", "Control what the trigger output follows (int): 0 the shutter, 1 the controller.",
        validator=strict_discrete_set, values=(0, 1), **_INT)
    open_time_ms = Instrument.control(
        "open?", "open=%d", "Control the open time of the timed modes (int, ms, 0-999999).",
        validator=strict_range, values=(0, MAX_TIME_MS), set_process=round, **_INT)
    shut_time_ms = Instrument.control(
        "shut?", "shut=%d", "Control the shut time of the timed modes (int, ms, 0-999999).",
        validator=strict_range, values=(0, MAX_TIME_MS), set_process=round, **_INT)
    repeat_count = Instrument.control(
        "rep?", "rep=%d", "Control the repeat count of repeat mode (int, 1-99).", validator=strict_range,
        values=(1, 99), set_process=round, **_INT)

    def __init__(self, adapter, name: str = "Thorlabs SC10", address: str | None = None, **kwargs):
        super().__init__(adapter, name, address, asrl={"baud_rate": 9600, "data_bits": 8, "stop_bits": StopBits.one,
                                                       "parity": Parity.none, "flow_control": ControlFlow.none},
                         **kwargs)  # 9600 8N1; replies framed on the prompt

    # ---- transport -------------------------------------------------------------------------------

    def write(self, command: str, **kwargs) -> None:
        """Send one keyword (``ens?``, ``mode=1``) followed by CR."""
        if not command or any(c in command for c in "\r\n") or not command.isascii():
            raise ValueError(f"{self.name}: {command!r} is not a single ASCII keyword")
        self.last_command = command
        self.write_bytes(command.encode(ENCODING) + TERMINATOR)

    def read_frame(self) -> list[str]:
        """One reply up to and including the prompt ``> ``; returns its lines (echo first), CRs removed."""
        raw = self.read_until(TERMINATOR + PROMPT, MAX_REPLY_BYTES)
        text = bytes(raw[: -len(PROMPT)]).decode(ENCODING, errors="replace")
        return text.split("\r")[:-1]  # the text ends with CR

    def read(self, **kwargs) -> str:
        """The reply to the last command: echo checked, error lines raised; the value line or ""."""
        lines = self.read_frame()
        if not lines or lines[0] != self.last_command:
            raise self._error(f"sent {self.last_command!r} but the echo was {lines[0] if lines else ''!r} "
                              f"(reply lines {lines})")
        if len(lines) > 2:
            raise self._error(f"reply to {self.last_command!r} has {len(lines) - 1} lines: {lines[1:]}")
        value = lines[1] if len(lines) == 2 else ""
        if any(marker in value for marker in ERROR_MARKERS):
            raise self._error(f"{self.last_command!r} was answered {value!r}")
        return value

    def check_set_errors(self) -> list:
        """Read the reply of a set-command: echo and prompt, no value line (an error line raises)."""
        value = self.read()
        if value:
            raise self._error(f"{self.last_command!r} was answered {value!r} where only the prompt was expected")
        return []

    def query(self, command: str) -> str:
        """A query (``closed?``): sent, the value line returned; it must not be empty."""
        self.write(command)
        value = self.read()
        if not value:
            raise self._error(f"{command!r} was answered with no value line")
        return value

    # ---- actions ---------------------------------------------------------------------------------
    def toggle_enable(self) -> None:
        """``ens``: toggle the enable (in manual mode: open a closed shutter, close an open one)."""
        self.command("ens")

    def set_enabled(self, enabled: bool) -> bool:
        """Read ``ens?`` and send ``ens`` only if the state differs. Returns whether it was toggled."""
        if self.enabled == bool(enabled):
            return False
        self.toggle_enable()
        return True


class SC10Shutter(ExcitationShutter):
    """The excitation shutter on an SC10 in manual mode: enabled = open.

    On connect it reads ``id?`` and sets ``mode=1``. ``open`` refuses while ``interlock?`` is 1, then enables
    and waits (polling ``closed?`` every ``poll_interval_s``, up to ``open_timeout_s``) until the shutter
    reports open; ``shut`` disables and waits until it reports closed. ``sleep`` is how it waits between polls
    (``world.clock.advance`` on a simulated station). Times in s.
    """

    def __init__(self, controller: SC10, open_timeout_s: float = 1.0, poll_interval_s: float = 0.01,
                 sleep: Callable[[float], None] = time.sleep):
        if not open_timeout_s > 0 or not poll_interval_s > 0:
            raise ValueError(f"{controller.name} at {controller.address}: open_timeout_s and poll_interval_s "
                             f"must be positive, got {open_timeout_s!r} s and {poll_interval_s!r} s")
        self.controller = controller
        self.open_timeout_s, self.poll_interval_s, self._sleep = float(open_timeout_s), poll_interval_s, sleep
        self.identity = controller.idn
        if not self.identity.upper().startswith("THORLABS SC10"):
            raise DeviceError(f"{controller.name} at {controller.address}: id? answered {self.identity!r}, "
                              f"not a Thorlabs SC10")
        controller.mode = 1

    def _where(self) -> str:
        return f"{self.controller.name} at {self.controller.address}"

    def _wait_closed(self, closed: bool) -> None:
        poll(lambda: self.controller.closed, lambda c: c == closed, self._sleep, self.poll_interval_s,
             self.open_timeout_s, lambda c: DeviceError(
                 f"{self._where()}: shutter still reports closed? = {int(c)} {self.open_timeout_s:g} s after "
                 f"{'shutting' if closed else 'opening'}"))

    def open(self) -> None:
        """Let the excitation through. DeviceError while the interlock is tripped (nothing is sent then)."""
        if self.controller.interlock_tripped:
            raise DeviceError(f"{self._where()}: interlock tripped (interlock? = 1); refusing to open the "
                              f"excitation shutter")
        self.controller.set_enabled(True)
        self._wait_closed(False)

    def shut(self) -> None:
        """Block the excitation; safe in any state, repeatedly."""
        self.controller.set_enabled(False)
        self._wait_closed(True)

    def is_open(self) -> bool:
        return not self.controller.closed

    def settings(self) -> dict[str, Any]:
        c = self.controller
        mode = c.mode
        return {"id": self.identity, "address": str(c.address), "mode": mode, "mode_name": MODES.get(mode, "?"),
                "open_time_ms": c.open_time_ms, "shut_time_ms": c.shut_time_ms, "open": self.is_open(),
                "interlock_tripped": c.interlock_tripped, "open_timeout_s": self.open_timeout_s}

    def disconnect(self) -> None:
        self.controller.adapter.close()
