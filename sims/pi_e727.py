"""PI E-727.3 digital piezo controller (GCS 2.0) with a P-611.3 NanoCube: the far end of the wire.

``GCSController`` parses GCS 2.0 bytes and answers in the controller's grammar: commands end with LF, the
single bytes 0x05 (#5), 0x07 (#7) and 0x18 (#24) stand alone, set-commands never reply, errors wait in a
register that ``ERR?`` reads and clears, multi-line replies end all lines but the last with space + LF.
Axes "1", "2", "3" are the world's stage x, y, z (µm, travel 0..100). A move runs at the axis velocity
(µm/s), then settles for ``SETTLE_S`` before ONT? says 1. Positions are evaluated at ``world.clock.now()``
on every command and written to ``world.stage_um``; in simulated time each command costs ``WIRE_TIME_S``.
``GCSSession`` frames one client's stream (``LoopbackServer``), ``GCSAdapter`` runs a pymeasure driver
in-process, ``serve`` puts the controller on a loopback port.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymeasure.adapters import Adapter

from tepl.sims.tcp import LoopbackServer

IDN = "(c)2015-2018 Physik Instrumente (PI) GmbH & Co. KG, E-727.3SDA, 0119004727, 14.11.01.05"
STAGE_TYPE = "P-611.3S"
AXES = ("1", "2", "3")  # stage x, y, z
TRAVEL_UM = (0.0, 100.0)
DEFAULT_VELOCITY_UM_S = 10000.0
MAX_VELOCITY_UM_S = 100000.0
SETTLE_S = 0.005
AUTOZERO_S = 0.2
WIRE_TIME_S = 0.0002
MAX_LINE_CHARS = 512
ENCODING = "cp1252"

# GCS error codes this controller raises.
E_PARAM_SYNTAX, E_UNKNOWN_COMMAND, E_COMMAND_TOO_LONG = 1, 2, 3
E_NO_SERVO, E_POS_OUT_OF_LIMITS, E_VEL_OUT_OF_LIMITS, E_STOPPED = 5, 7, 8, 10
E_INVALID_AXIS, E_PARAM_OUT_OF_RANGE, E_PARAM_COUNT = 15, 17, 24

HELP_LINES = (
    ("#5", "Request Motion Status"), ("#7", "Request Controller Ready Status"), ("#24", "Stop All Axes"),
    ("*IDN?", "Get Device Identification"), ("ATZ", "Set Automatic Zero Point Calibration"),
    ("ATZ?", "Get Automatic Zero Point Calibration"), ("CST?", "Get Assignment Of Stages To Axes"),
    ("CSV?", "Get Current Syntax Version"), ("DCO", "Set Drift Compensation Mode"),
    ("DCO?", "Get Drift Compensation Mode"), ("ERR?", "Get Error Number"), ("HLP?", "Get List Of Commands"),
    ("HLT", "Halt Motion Smoothly"), ("MOV", "Set Target Position"), ("MOV?", "Get Target Position"),
    ("MVR", "Set Target Relative To Current Target"), ("ONT?", "Get On Target State"),
    ("POS?", "Get Real Position"), ("SAI?", "Get List Of Current Axis Identifiers"), ("STP", "Stop All Axes"),
    ("SVO", "Set Servo Mode"), ("SVO?", "Get Servo Mode"), ("TMN?", "Get Minimum Commandable Position"),
    ("TMX?", "Get Maximum Commandable Position"), ("VEL", "Set Closed-Loop Velocity"),
    ("VEL?", "Get Closed-Loop Velocity"), ("VER?", "Get Versions Of Firmware And Drivers"),
)
HELP_HEADER, HELP_FOOTER = "The following commands are valid:", "end of help"
VERSION_LINES = ("FW_ARM: 14.11.01.05", "FW_FPGA: 01.05", "Firmware=14.11", "FW_STATUS:RELEASE")


class GCSCommandError(Exception):
    """A command the controller rejects; ``args[0]`` is the GCS error code it stores."""


@dataclass
class AxisState:
    """One closed-loop axis: a velocity-limited move from ``start_um`` (at ``t_start_s``) to ``target_um``."""

    name: str
    start_um: float
    target_um: float
    t_start_s: float = 0.0
    servo: bool = False
    velocity_um_s: float = DEFAULT_VELOCITY_UM_S
    drift_compensation: bool = False
    autozero_until_s: float = -math.inf  # a running AutoZero ends here; ATZ? is 1 once it has

    def position_um(self, t_s: float) -> float:
        distance = self.target_um - self.start_um
        travelled = self.velocity_um_s * max(0.0, t_s - self.t_start_s)
        if travelled >= abs(distance):
            return self.target_um
        return self.start_um + math.copysign(travelled, distance)

    def settled_at_s(self) -> float:
        return self.t_start_s + abs(self.target_um - self.start_um) / self.velocity_um_s + SETTLE_S

    def on_target(self, t_s: float) -> bool:
        return self.servo and t_s >= self.settled_at_s()

    def moving(self, t_s: float) -> bool:
        return self.servo and t_s < self.settled_at_s()

    def start_move(self, target_um: float, t_s: float) -> None:
        self.start_um, self.target_um, self.t_start_s = self.position_um(t_s), target_um, t_s

    def halt(self, t_s: float, settled: bool = False) -> None:
        here = self.position_um(t_s)
        self.start_um, self.target_um, self.t_start_s = here, here, t_s - (SETTLE_S if settled else 0.0)


class GCSController:
    """The E-727 state machine shared by every connection; ``handle`` runs its own private byte stream."""

    def __init__(self, world: Any, travel_um: tuple[float, float] = TRAVEL_UM):
        self.world = world
        self.travel_um = (float(travel_um[0]), float(travel_um[1]))
        now = world.clock.now()
        self.axes = {name: AxisState(name, float(p), float(p), now)
                     for name, p in zip(AXES, np.asarray(world.stage_um, float), strict=True)}
        self.error_code = 0
        self._lock = threading.RLock()
        self._stream = GCSSession(self)
        # Queries without arguments, each answering a list of lines.
        self._queries = {
            "*IDN?": lambda: [IDN], "CSV?": lambda: ["2.0"], "ERR?": self._take_error,
            "HLP?": lambda: [HELP_HEADER, *(f"{cmd} {text}" for cmd, text in HELP_LINES), HELP_FOOTER],
            "VER?": lambda: list(VERSION_LINES),
        }
        # Per-axis queries: "POS? [axis ...]" answers "axis=value" for each axis (all axes if none named).
        self._axis_queries = {
            "SVO?": lambda a, t: int(a.servo),
            "MOV?": lambda a, t: f"{a.target_um:.9e}",
            "POS?": lambda a, t: f"{a.position_um(t):.9e}",
            "ONT?": lambda a, t: int(a.on_target(t)),
            "TMN?": lambda a, t: f"{self.travel_um[0]:.9e}",
            "TMX?": lambda a, t: f"{self.travel_um[1]:.9e}",
            "VEL?": lambda a, t: f"{a.velocity_um_s:.9e}",
            "DCO?": lambda a, t: int(a.drift_compensation),
            "ATZ?": lambda a, t: int(t >= a.autozero_until_s),
            "CST?": lambda a, t: STAGE_TYPE,
        }
        self._commands = {
            "SVO": self._c_svo, "MOV": self._c_mov, "MVR": lambda a, t: self._c_mov(a, t, relative=True),
            "VEL": self._c_vel, "DCO": self._c_dco, "ATZ": self._c_atz, "STP": self._c_stp,
            "HLT": self._c_hlt,
        }

    # ------------------------------------------------------------------ byte level
    def handle(self, data: bytes) -> bytes:
        """Feed bytes from the controller's own stream; returns every reply byte they produce."""
        return self._stream.feed(data)

    def execute_line(self, line: str, too_long: bool = False) -> bytes:
        """Run one LF-terminated command (without its LF); returns its reply bytes (may be empty)."""
        with self._lock:
            now = self._tick()
            mnemonic, _, rest = line.strip(" \r").partition(" ")
            args = rest.split()
            if not mnemonic and not too_long:  # an empty line is no command
                return b""
            try:
                if too_long:
                    raise GCSCommandError(E_COMMAND_TOO_LONG)
                if mnemonic in self._axis_queries:
                    value = self._axis_queries[mnemonic]
                    reply = self._lines([f"{a.name}={value(a, now)}" for a in self._axes_arg(args)])
                elif mnemonic in self._queries:
                    self._no_args(args)
                    reply = self._lines(self._queries[mnemonic]())
                elif mnemonic == "SAI?":  # "SAI?" configured axes, "SAI? ALL" every axis: the same here
                    if args not in ([], ["ALL"]):
                        raise GCSCommandError(E_PARAM_SYNTAX)
                    reply = self._lines(list(self.axes))
                elif mnemonic in self._commands:
                    self._commands[mnemonic](args, now)
                    reply = ""
                else:
                    raise GCSCommandError(E_UNKNOWN_COMMAND)
            except GCSCommandError as exc:
                self.error_code = exc.args[0]
                reply = ""
            self.update(now)
            return reply.encode(ENCODING)

    def execute_single(self, byte: int) -> bytes:
        """Run a single-byte command (5, 7 or 24; any other is unknown); returns its reply bytes."""
        with self._lock:
            now = self._tick()
            reply = b""
            if byte == 5:
                mask = sum(1 << i for i, axis in enumerate(self.axes.values()) if axis.moving(now))
                reply = f"{mask:x}\n".encode(ENCODING)
            elif byte == 7:
                busy = any(now < axis.autozero_until_s for axis in self.axes.values())
                reply = b"\xb0\n" if busy else b"\xb1\n"
            elif byte == 24:
                self._halt(self.axes.values(), now)
            else:
                self.error_code = E_UNKNOWN_COMMAND
            self.update(now)
            return reply

    def update(self, now: float | None = None) -> np.ndarray:
        """Evaluate the axes at ``now`` (default: the world clock) and write them to ``world.stage_um``."""
        with self._lock:
            t = self.world.clock.now() if now is None else now
            positions = np.array([axis.position_um(t) for axis in self.axes.values()])
            with self.world.lock:
                self.world.stage_um = positions
            return positions.copy()

    def _tick(self) -> float:
        clock = self.world.clock
        if not clock.real_time:
            clock.advance(WIRE_TIME_S)
        return clock.now()

    # ------------------------------------------------------------------ argument parsing
    def _axes_arg(self, args: list[str]) -> list[AxisState]:
        if not args:
            return list(self.axes.values())
        if any(a not in self.axes for a in args):
            raise GCSCommandError(E_INVALID_AXIS)
        return [self.axes[a] for a in args]

    def _pairs(self, args: list[str]) -> list[tuple[AxisState, str]]:
        if not args or len(args) % 2:
            raise GCSCommandError(E_PARAM_COUNT)
        pairs = list(zip(args[0::2], args[1::2], strict=True))
        if any(a not in self.axes for a, _ in pairs):
            raise GCSCommandError(E_INVALID_AXIS)
        return [(self.axes[a], v) for a, v in pairs]

    @staticmethod
    def _float(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise GCSCommandError(E_PARAM_SYNTAX) from None
        if not math.isfinite(value):
            raise GCSCommandError(E_PARAM_SYNTAX)
        return value

    @staticmethod
    def _flag(text: str) -> bool:
        if text not in ("0", "1"):
            raise GCSCommandError(E_PARAM_OUT_OF_RANGE if text.lstrip("-").isdigit() else E_PARAM_SYNTAX)
        return text == "1"

    @staticmethod
    def _no_args(args: list[str]) -> None:
        if args:
            raise GCSCommandError(E_PARAM_COUNT)

    @staticmethod
    def _lines(lines: list[str]) -> str:
        return " \n".join(lines) + "\n"

    def _take_error(self) -> list[str]:
        code, self.error_code = self.error_code, 0
        return [str(code)]

    # ------------------------------------------------------------------ set-commands
    def _c_svo(self, args, now):
        for axis, flag in [(axis, self._flag(v)) for axis, v in self._pairs(args)]:
            if flag != axis.servo:  # the target becomes the present position (off: the piezo holds)
                axis.halt(now, settled=True)
                axis.servo = flag

    def _c_mov(self, args, now, relative: bool = False):
        """MOV (absolute) / MVR (relative to the commanded target): all axes move, or none."""
        moves = [(axis, self._float(v) + (axis.target_um if relative else 0.0))
                 for axis, v in self._pairs(args)]
        for axis, target in moves:
            if not axis.servo:
                raise GCSCommandError(E_NO_SERVO)
            if not self.travel_um[0] <= target <= self.travel_um[1]:
                raise GCSCommandError(E_POS_OUT_OF_LIMITS)
        for axis, target in moves:
            axis.start_move(target, now)

    def _c_vel(self, args, now):
        settings = [(axis, self._float(v)) for axis, v in self._pairs(args)]
        if any(not 0.0 < v <= MAX_VELOCITY_UM_S for _, v in settings):
            raise GCSCommandError(E_VEL_OUT_OF_LIMITS)
        for axis, velocity in settings:
            if axis.position_um(now) != axis.target_um:
                axis.start_move(axis.target_um, now)  # the rest of a running move goes at the new speed
            axis.velocity_um_s = velocity

    def _c_dco(self, args, now):
        for axis, flag in [(axis, self._flag(v)) for axis, v in self._pairs(args)]:
            axis.drift_compensation = flag

    def _c_atz(self, args, now):
        """ATZ [axis low_voltage|NaN ...]: zero-point calibration; the controller is busy meanwhile."""
        if args:
            axes = []
            for axis, low in self._pairs(args):
                if low.upper() != "NAN":
                    self._float(low)
                axes.append(axis)
        else:
            axes = list(self.axes.values())
        for axis in axes:
            axis.autozero_until_s = now + AUTOZERO_S

    def _halt(self, axes, now) -> None:
        """Stop where the axes are now; the controller then reports error 10."""
        for axis in axes:
            axis.halt(now)
        self.error_code = E_STOPPED

    def _c_stp(self, args, now):
        self._no_args(args)
        self._halt(self.axes.values(), now)

    def _c_hlt(self, args, now):
        self._halt(self._axes_arg(args), now)


class GCSSession:
    """One client's byte stream: splits it into LF-terminated commands and single-byte commands."""

    def __init__(self, controller: GCSController):
        self.controller = controller
        self._line = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> bytes:
        """Bytes from the client in, reply bytes out (replies are produced as each command completes)."""
        out = bytearray()
        for byte in bytes(data):
            if byte < 0x20 and byte not in (0x09, 0x0A, 0x0D):  # #5, #7, #24; other control bytes: error 2
                out += self.controller.execute_single(byte)
            elif byte == 0x0A:
                line, overflow = bytes(self._line), self._overflow
                self._line.clear()
                self._overflow = False
                text = line.decode(ENCODING, errors="replace")
                out += self.controller.execute_line(text, too_long=overflow)
            elif len(self._line) >= MAX_LINE_CHARS:
                self._overflow = True
            else:
                self._line.append(byte)
        return bytes(out)

    def close(self) -> None:
        self._line.clear()  # drop any partial command


class GCSAdapter(Adapter):
    """A pymeasure adapter wired straight to a ``GCSController``: the driver runs in-process, no socket.

    Writes append ``write_termination``; ``read`` returns one reply line without ``read_termination``
    (like a VISA read), ``read_bytes(n)`` exactly n bytes. Reading with nothing pending raises
    TimeoutError, as a real link would time out.
    """

    def __init__(self, controller: GCSController, write_termination: str = "\n",
                 read_termination: str = "\n", **kwargs):
        super().__init__(**kwargs)
        self.controller = controller
        self.connection = GCSSession(controller)
        self.write_termination = write_termination
        self.read_termination = read_termination
        self._pending = bytearray()
        self.closed = False

    def close(self) -> None:
        super().close()
        self.closed = True

    def _write(self, command: str, **kwargs) -> None:
        self._write_bytes((command + self.write_termination).encode(ENCODING))

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        if self.closed:
            raise ConnectionError("the link to the simulated E-727 is closed")
        self._pending += self.connection.feed(content)

    def _read(self, **kwargs) -> str:
        if not self.read_termination:
            return self._take(len(self._pending)).decode(ENCODING)
        term = self.read_termination.encode(ENCODING)
        end = self._pending.find(term)
        if end < 0:
            raise TimeoutError(f"no complete reply from the simulated E-727 (have {bytes(self._pending)!r})")
        return self._take(end + len(term))[: -len(term)].decode(ENCODING)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        if count < 0:
            count = len(self._pending)
            if break_on_termchar and self.read_termination:
                end = self._pending.find(self.read_termination.encode(ENCODING))
                count = count if end < 0 else end + len(self.read_termination)
        return self._take(count)

    def _take(self, count: int) -> bytes:
        if count > len(self._pending):
            raise TimeoutError(f"expected {count} bytes from the simulated E-727, have {len(self._pending)}")
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        return chunk

    def flush_read_buffer(self) -> None:
        self._pending.clear()


def serve(world: Any, port: int = 50000, host: str = "127.0.0.1") -> LoopbackServer:
    """A loopback TCP server (bound, not yet started) for one ``GCSController`` shared by all clients.

    Use ``serve(world, port).serve_forever()`` to block, or ``with serve(world, port) as server:`` to
    serve from a background thread. Port 0 picks a free port (``server.port``).
    """
    controller = GCSController(world)
    return LoopbackServer(lambda: GCSSession(controller), port=port, host=host)
