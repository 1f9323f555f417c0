"""Newport / New Focus 8742 Picomotor controller: the far end of its ASCII protocol (hardware.md section 2).

``Picomotor8742Controller`` answers as the controller does: a command line ``[n>][xx]MNEMONIC[nn]`` ends in
CR or LF (an empty line, as from ``\\n\\r``, is ignored), case does not matter, several commands may share a
line separated by ``;`` and their answers share one reply line (``"; "`` between them). Only queries (``?``)
are answered, with ``...\\r\\n``; a ``n>`` prefix naming this controller's address (``SA``, default 1) is
repeated in front of the answer, any other address gets no answer (nothing else is on the RS-485 chain).
Over TCP a connection is greeted with the telnet negotiation ``FF FB 01 FF FB 03``; telnet commands a client
sends back (``IAC DO/DONT/WILL/WONT x``) are dropped.

Errors go to a 10-deep queue (the oldest is lost when it overflows) read one at a time by ``TB?`` (``code,
MESSAGE``) or ``TE?`` (code): 6 COMMAND DOES NOT EXIST, 7 PARAMETER OUT OF RANGE, 9 AXIS NUMBER OUT OF RANGE,
and per axis (axis x 100 +) 8 MOTOR NOT CONNECTED, 10 MAXIMUM VELOCITY EXCEEDED, 11 MAXIMUM ACCELERATION
EXCEEDED, 14 MOTION IN PROGRESS (the per-axis codes beyond 8 are from memory of the manual's appendix).
A command in error changes nothing.

Motion: ``PR``/``PA`` move at the axis velocity (``VA``, steps/s; the acceleration ramp is not modelled, so a
move of n steps takes n / VA s of ``world.clock`` time); ``MV+``/``MV-`` run until ``ST`` or ``AB``; ``ST``
and ``AB`` stop at once (no deceleration run-out). A move sent to a moving axis is ignored with MOTION IN
PROGRESS. ``TP?`` is the step counter.

The actuators: each axis moves ``world.picomotor_nm[axis]`` (nm, the actuator tip's travel since power-up,
for the optics to use) by a step size that differs forward and backward (nominally ~30 nm, drawn per axis
from ``world.rng("picomotor-8742")``) and drifts a little (a random walk of ~0.2 % per move, kept within
+-30 % of its start: a few % over the few hundred moves of an alignment, so a step size measured a while ago
is close but not exact). The true step sizes are in ``world.ground_truth()["picomotor_8742"]`` and
``controller.step_nm``. Axes 1-4 all carry a 'Standard' motor unless ``motors`` says otherwise.

``Picomotor8742Session`` frames one client's byte stream, ``Picomotor8742Adapter`` runs a pymeasure driver
in-process (with the telnet greeting waiting to be read when ``telnet=True``), ``serve`` puts the controller
on a loopback TCP port.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from typing import Any

from tepl.sims.session_adapter import SessionAdapter
from tepl.sims.tcp import LoopbackServer, serve_controller

IDENTITY = "New_Focus 8742 v2.2 08/01/13 SN12345"
FIRMWARE = "8742 Version 2.2 08/01/13"
TELNET_PREAMBLE = b"\xff\xfb\x01\xff\xfb\x03"
IAC = 0xFF
ENCODING = "ascii"
MAX_LINE_CHARS = 64
AXES = (1, 2, 3, 4)
MAX_ERRORS = 10
MAX_VELOCITY = {2: 1750, 3: 2000}  # steps/s by motor type (tiny, standard)
MAX_ACCELERATION = 200000
MAX_STEPS = 2147483647
DEFAULT_VELOCITY = 2000
DEFAULT_ACCELERATION = 100000
NOMINAL_STEP_NM = 30.0
DRIFT_PER_MOVE = 0.002  # relative random walk of the step sizes per move (a few % over an alignment)
DRIFT_BOUND = 0.3  # the step sizes stay within +-30 % of where they started

GENERAL_ERRORS = {0: "NO ERROR DETECTED", 6: "COMMAND DOES NOT EXIST", 7: "PARAMETER OUT OF RANGE",
                  9: "AXIS NUMBER OUT OF RANGE"}
AXIS_ERRORS = {8: "MOTOR NOT CONNECTED", 10: "MAXIMUM VELOCITY EXCEEDED", 11: "MAXIMUM ACCELERATION EXCEEDED",
               14: "MOTION IN PROGRESS"}
NETWORK = {"IPMODE": "1", "IPADDR": "192.168.0.254", "GATEWAY": "192.168.0.1", "NETMASK": "255.255.255.0",
           "HOSTNAME": "8742-12345", "MACADDR": "00:00:00:00:00:00"}

_COMMAND = re.compile(r"^(?:(\d+)>)?(\d*)(\*?[A-Z]+)(.*)$")
_AXIS_COMMANDS = {"PR", "PA", "TP", "MD", "MV", "ST", "DH", "VA", "AC", "QM"}


class CommandError(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class _Axis:
    """One axis: counter, motion (start count and time, signed direction, steps to go) and settings."""

    def __init__(self, motor: int):
        self.motor = motor
        self.count = 0  # TP?
        self.target = 0  # PR? / PA? (the last move's target)
        self.velocity = DEFAULT_VELOCITY
        self.acceleration = DEFAULT_ACCELERATION
        self.moving = False
        self.start_count = 0
        self.start_s = 0.0
        self.direction = 0
        self.steps = math.inf  # steps of the present move (inf: jog)


class Picomotor8742Controller:
    """The 8742's state, shared by every connection; ``world`` gives it time and the actuators' travel."""

    def __init__(self, world: Any, motors: dict[int, int] | None = None):
        self.world = world
        motors = {axis: 3 for axis in AXES} | dict(motors or {})
        self.axes = {axis: _Axis(motors[axis]) for axis in AXES}
        self.errors: deque[int] = deque(maxlen=MAX_ERRORS)
        self.address = 1
        self.commands: list[str] = []  # every command received, for tests of what clients send
        self._rng = world.rng("picomotor-8742")
        forward = NOMINAL_STEP_NM * (1.0 + 0.1 * self._rng.standard_normal(len(AXES)))
        backward = forward * (1.0 - 0.05 - 0.15 * self._rng.random(len(AXES)))  # backward steps are shorter
        self.step_nm = {axis: {"forward": float(forward[i]), "backward": float(backward[i])}
                        for i, axis in enumerate(AXES)}
        self._start_nm = {axis: dict(sizes) for axis, sizes in self.step_nm.items()}
        self._lock = threading.RLock()
        for axis in AXES:
            world.picomotor_nm.setdefault(axis, 0.0)
        self._record_truth()

    def _record_truth(self) -> None:
        self.world.record_truth("picomotor_8742", {"step_nm": {str(a): dict(s) for a, s in self.step_nm.items()}})

    # ------------------------------------------------------------------ motion
    def _now(self) -> float:
        return self.world.clock.now()

    def _steps_done(self, ax: _Axis, now: float) -> int:
        return int(min(ax.steps, math.floor(ax.velocity * max(0.0, now - ax.start_s) + 1e-9)))

    def _advance(self, axis: int, stop: bool = False) -> None:
        """Bring the axis up to the clock: count, actuator travel, end of move (or stop it there)."""
        ax = self.axes[axis]
        if not ax.moving:
            return
        done = self._steps_done(ax, self._now())
        new_count = ax.start_count + ax.direction * done
        moved = new_count - ax.count
        if moved:
            size = self.step_nm[axis]["forward" if moved > 0 else "backward"]
            self.world.picomotor_nm[axis] += math.copysign(abs(moved) * size, moved)
            ax.count = new_count
        if stop or done >= ax.steps:
            ax.moving = False
            self._drift(axis)

    def _drift(self, axis: int) -> None:
        for way in ("forward", "backward"):
            start = self._start_nm[axis][way]
            size = self.step_nm[axis][way] * (1.0 + DRIFT_PER_MOVE * float(self._rng.standard_normal()))
            self.step_nm[axis][way] = min(max(size, start * (1 - DRIFT_BOUND)), start * (1 + DRIFT_BOUND))
        self._record_truth()

    def update(self) -> None:
        """Bring every axis up to the clock."""
        with self._lock:
            for axis in AXES:
                self._advance(axis)

    def _start(self, axis: int, steps: float) -> None:
        ax = self.axes[axis]
        ax.start_count, ax.start_s = ax.count, self._now()
        ax.direction, ax.steps = (1 if steps > 0 else -1), abs(steps)
        ax.moving = steps != 0
        if not ax.moving:
            self._drift(axis)

    # ------------------------------------------------------------------ commands
    def execute(self, line: str) -> str | None:
        """Run one command line (without its terminator); returns the reply line (no CR LF) or None."""
        with self._lock:
            self.update()
            answers: list[str] = []
            prefix = ""
            for part in line.split(";"):
                text = part.strip().upper()
                if not text:
                    continue
                self.commands.append(text)
                match = _COMMAND.match(text)
                if match and match.group(1) is not None:
                    if int(match.group(1)) != self.address:
                        return None  # nobody at that address on the chain
                    prefix = f"{self.address}>"
                try:
                    if not match:
                        raise CommandError(6)
                    answer = self._run(match.group(2), match.group(3), match.group(4).strip())
                except CommandError as err:
                    self._push(err.code)
                    continue
                if answer is not None:
                    answers.append(answer)
            return prefix + "; ".join(answers) if answers else None

    def _push(self, code: int) -> None:
        self.errors.append(code)

    @staticmethod
    def _int(arg: str, low: int, high: int) -> int:
        body = arg[1:] if arg[:1] in "+-" else arg
        if not body.isdigit() or not low <= int(arg) <= high:
            raise CommandError(7)
        return int(arg)

    def _run(self, axis_text: str, mnemonic: str, arg: str) -> str | None:
        query = arg == "?"
        if mnemonic not in _AXIS_COMMANDS:
            if axis_text:
                raise CommandError(6)
            return self._general(mnemonic, arg, query)
        axis = int(axis_text) if axis_text else None
        if axis is not None and axis not in AXES:
            raise CommandError(9)
        if mnemonic == "ST":
            for a in (AXES if axis is None else (axis,)):
                self._advance(a, stop=True)
            return None
        if mnemonic == "MD" and query:
            moving = any(self.axes[a].moving for a in (AXES if axis is None else (axis,)))
            return str(int(not moving))
        if axis is None:
            raise CommandError(9)
        ax = self.axes[axis]
        if query:
            values = {"PR": ax.target, "PA": ax.target, "TP": ax.count, "DH": ax.count, "VA": ax.velocity,
                      "AC": ax.acceleration, "QM": ax.motor}
            if mnemonic not in values:
                raise CommandError(6)
            return str(values[mnemonic])
        if mnemonic in ("PR", "PA", "MV"):
            if mnemonic == "MV":
                if arg not in ("+", "-"):
                    raise CommandError(7)
                steps = math.inf if arg == "+" else -math.inf
            else:
                value = self._int(arg, -MAX_STEPS, MAX_STEPS)
                steps = value if mnemonic == "PR" else value - ax.count
            if ax.motor == 0:
                raise CommandError(axis * 100 + 8)
            if ax.moving:
                raise CommandError(axis * 100 + 14)
            if mnemonic != "MV":
                ax.target = int(ax.count + steps)
            self._start(axis, steps)
            return None
        if mnemonic == "DH":
            if ax.moving:
                raise CommandError(axis * 100 + 14)
            ax.count = self._int(arg or "0", -MAX_STEPS, MAX_STEPS)
            return None
        if mnemonic == "VA":
            value = self._int(arg, 0, MAX_STEPS)
            if not 1 <= value <= MAX_VELOCITY.get(ax.motor, 2000):
                raise CommandError(axis * 100 + 10)
            ax.velocity = value
            return None
        if mnemonic == "AC":
            value = self._int(arg, 0, MAX_STEPS)
            if not 1 <= value <= MAX_ACCELERATION:
                raise CommandError(axis * 100 + 11)
            ax.acceleration = value
            return None
        if mnemonic == "QM":
            ax.motor = self._int(arg, 0, 3)
            return None
        raise CommandError(6)

    def _general(self, mnemonic: str, arg: str, query: bool) -> str | None:
        if mnemonic == "*IDN" and query:
            return IDENTITY
        if mnemonic == "VE" and query:
            return FIRMWARE
        if mnemonic in ("TB", "TE") and query:
            code = self.errors.popleft() if self.errors else 0
            if mnemonic == "TE":
                return str(code)
            message = GENERAL_ERRORS.get(code) or AXIS_ERRORS.get(code % 100, "UNKNOWN ERROR")
            return f"{code}, {message}"
        if mnemonic == "AB" and not arg:
            for axis in AXES:
                self._advance(axis, stop=True)
            return None
        if mnemonic == "SA":
            if query:
                return str(self.address)
            self.address = self._int(arg, 1, 31)
            return None
        if mnemonic == "SC":
            if query:
                return str(1 << self.address)
            self._int(arg or "0", 0, 2)
            return None
        if mnemonic == "SD" and query:
            return "1"
        if mnemonic in NETWORK and query:
            return NETWORK[mnemonic]
        if mnemonic in ("SM", "MC", "*RCL", "*RST", "ZZ") and not query:
            return None
        if mnemonic == "ZZ" and query:
            return "0x0"
        raise CommandError(6)


class Picomotor8742Session:
    """One client's byte stream: CR or LF ends a command, empty lines and telnet commands are dropped, an
    over-long line is cut. ``telnet``: greet with the negotiation bytes (the Ethernet port)."""

    def __init__(self, controller: Picomotor8742Controller, telnet: bool = True):
        self.controller = controller
        self.telnet = telnet
        self._line = bytearray()
        self._skip = 0  # bytes of a telnet command still to drop

    def greeting(self) -> bytes:
        return TELNET_PREAMBLE if self.telnet else b""

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in bytes(data):
            if self._skip:
                self._skip -= 1
                continue
            if byte == IAC:
                self._skip = 2
                continue
            if byte in (0x0D, 0x0A):
                text = bytes(self._line).decode(ENCODING, errors="replace")
                self._line.clear()
                if text.strip():
                    reply = self.controller.execute(text)
                    if reply is not None:
                        out += reply.encode(ENCODING) + b"\r\n"
            elif len(self._line) < MAX_LINE_CHARS:
                self._line.append(byte)
        return bytes(out)

    def close(self) -> None:
        self._line.clear()


class Picomotor8742Adapter(SessionAdapter):
    """A pymeasure adapter wired straight to a ``Picomotor8742Controller``: the driver runs in-process, no
    port. ``telnet=True``: the greeting is waiting to be read, as on the Ethernet port."""

    def __init__(self, controller: Picomotor8742Controller, telnet: bool = True, write_termination: str = "",
                 read_termination: str = "", **kwargs):
        session = Picomotor8742Session(controller, telnet)
        super().__init__(session, "New Focus 8742", ENCODING, write_termination, read_termination, **kwargs)
        self._pending += session.greeting()
        self.controller = controller


def serve(world: Any, port: int = 0, host: str = "127.0.0.1") -> LoopbackServer:
    """A loopback TCP server (bound, not yet started) for one ``Picomotor8742Controller`` shared by all
    clients, each greeted with the telnet negotiation; the controller is ``server.controller``. Port 0 picks
    a free port (``server.port``)."""
    return serve_controller(Picomotor8742Controller(world), Picomotor8742Session, port, host)
