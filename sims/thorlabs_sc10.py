"""Thorlabs SC10 shutter controller in the excitation path: the far end of its serial keyword protocol.

``SC10Controller`` answers as hardware.md section 7 describes: a command is a keyword ending in CR (a stray
LF is ignored); every reply is the echo + CR, then for queries and errors one line + CR, then the prompt
``> ``, all in one write; nothing is sent on connect. ``ens`` toggles the enable (``ens=1`` is an error);
an unknown keyword is answered ``Command error CMD_NOT_DEFINED`` and a bad argument
``Command error CMD_ARG_INVALID``, leaving the state unchanged. ``*idn?`` is answered like ``id?``
(micro-manager sends it). One state is shared by every connection.

Optics: in manual mode (1) the shutter is open while enabled (``closed?`` = 1 - ``ens?``). The timed modes
(2-5) are stored and reported but not run: in them the shutter stays closed. Tripping the interlock
(``trip_interlock``, the physical connector) closes the shutter and disables the output; ``ens`` cannot
enable it until the interlock is reset. The controller writes ``world.excitation_open`` on every change, so
the twin's sample is lit only while the shutter is open; it starts closed and disabled, as after power-up.

``SC10Session`` frames one client's byte stream, ``SC10Adapter`` runs a pymeasure driver in-process,
``serve`` puts the controller on a loopback TCP port.
"""

from __future__ import annotations

import threading
from typing import Any

from tepl.sims.session_adapter import SessionAdapter
from tepl.sims.tcp import LoopbackServer, serve_controller

IDENTITY = "THORLABS SC10 VERSION 1.07"
PROMPT = b"> "
NOT_DEFINED = "Command error CMD_NOT_DEFINED"
ARG_INVALID = "Command error CMD_ARG_INVALID"
MAX_LINE_CHARS = 64
ENCODING = "ascii"
HELP = ("id? ens ens? mode= mode? trig= trig? xto= xto? open= open? shut= shut? rep= rep? closed? "
        "interlock? baud= baud? save savp resp")

# settable keywords: (lowest, highest) accepted value
SETTINGS = {"mode": (1, 5), "trig": (0, 1), "xto": (0, 1), "open": (0, 999999), "shut": (0, 999999),
            "rep": (1, 99), "baud": (0, 1)}
DEFAULTS = {"mode": 1, "trig": 0, "xto": 0, "open": 10, "shut": 10, "rep": 1, "baud": 0}


class SC10Controller:
    """The SC10's state (enable, mode, times, interlock), shared by every connection."""

    def __init__(self, world: Any = None):
        self.world = world
        self.values = dict(DEFAULTS)
        self.saved = dict(DEFAULTS)  # EEPROM (savp / resp)
        self.enabled = False
        self.interlock = False
        self.commands: list[str] = []  # every line received, for tests of what clients send
        self._lock = threading.RLock()
        self._publish()

    # ------------------------------------------------------------------ optics
    @property
    def shutter_open(self) -> bool:
        """Manual mode: open while enabled; the timed modes are not run (closed)."""
        return self.enabled and self.values["mode"] == 1 and not self.interlock

    def _publish(self) -> None:
        if self.world is not None:
            self.world.excitation_open = self.shutter_open

    def trip_interlock(self, tripped: bool = True) -> None:
        """The interlock connector opens (True) or is restored (False); tripping closes the shutter."""
        with self._lock:
            self.interlock = bool(tripped)
            if self.interlock:
                self.enabled = False
            self._publish()

    # ------------------------------------------------------------------ commands
    def execute(self, line: str) -> bytes:
        """Run one command line (without its CR); returns the whole reply: echo, optional line, prompt."""
        with self._lock:
            self.commands.append(line)
            value = self._answer(line)
            self._publish()
        reply = line.encode(ENCODING, errors="replace") + b"\r"
        if value is not None:
            reply += value.encode(ENCODING) + b"\r"
        return reply + PROMPT

    def _answer(self, line: str) -> str | None:
        """The reply line of ``line`` (None for a command that has none)."""
        if line in ("id?", "*idn?"):
            return IDENTITY
        if line == "?":
            return HELP
        if line == "ens":
            if not self.interlock:
                self.enabled = not self.enabled
            return None
        if line == "ens?":
            return str(int(self.enabled))
        if line == "closed?":
            return str(int(not self.shutter_open))
        if line == "interlock?":
            return str(int(self.interlock))
        if line == "savp":
            self.saved = dict(self.values)
            return None
        if line == "resp":
            self.values = dict(self.saved)
            return None
        if line == "save":
            return None
        key, sep, arg = line.partition("=")
        if key.endswith("?") and key[:-1] in SETTINGS and not sep:
            return str(self.values[key[:-1]])
        if key in SETTINGS and sep:
            low, high = SETTINGS[key]
            if not (arg.isdigit() and len(arg) <= 6 and low <= int(arg) <= high):
                return ARG_INVALID
            self.values[key] = int(arg)
            return None
        return NOT_DEFINED


class SC10Session:
    """One client's byte stream: CR ends a command, LF is ignored, an over-long line is dropped."""

    def __init__(self, controller: SC10Controller):
        self.controller = controller
        self._line = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Bytes from the client in, every reply they complete out (one write per batch)."""
        out = bytearray()
        for byte in bytes(data):
            if byte == 0x0D:
                text = bytes(self._line).decode(ENCODING, errors="replace")
                self._line.clear()
                out += self.controller.execute(text)
            elif byte == 0x0A:
                continue
            elif len(self._line) < MAX_LINE_CHARS:
                self._line.append(byte)
        return bytes(out)

    def close(self) -> None:
        self._line.clear()


class SC10Adapter(SessionAdapter):
    """A pymeasure adapter wired straight to an ``SC10Controller``: the driver runs in-process, no port.
    No terminations by default: the SC10 driver writes its own CR and reads up to the prompt itself."""

    def __init__(self, controller: SC10Controller, write_termination: str = "", read_termination: str = "",
                 **kwargs):
        super().__init__(SC10Session(controller), "SC10", ENCODING, write_termination, read_termination, **kwargs)
        self.controller = controller


def serve(world: Any, port: int = 0, host: str = "127.0.0.1") -> LoopbackServer:
    """A loopback TCP server (bound, not yet started) for one ``SC10Controller`` shared by all clients; the
    controller is ``server.controller``. Port 0 picks a free port (``server.port``)."""
    return serve_controller(SC10Controller(world), SC10Session, port, host)
