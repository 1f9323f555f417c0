"""The PI E-727.3 digital piezo controller with a P-611.3 NanoCube, simulated: the state every connection
shares (axes, servo, velocities, AutoZero, the error register) and the servo dynamics, answering the GCS 2.0
grammar of ``pi_e727_gcs``.

Axes "1", "2", "3" are the world's stage x, y, z (µm, travel 0..100). With velocity control on (``VCO a 1``)
a move runs at the axis velocity set by ``VEL`` (µm/s); with it off (the state at power-on here) the slew
rate is not limited and a move runs at the servo's own rate ``UNLIMITED_SLEW_UM_S``, whatever ``VEL`` says:
``VEL`` is accepted and stored (``VEL?`` reads it back) but has no effect until ``VCO`` switches velocity
control on (PIPython ``VCO``/``VEL`` docstrings, E-727 manual "Slew Rate Limitation"). Either way the axis
then settles for ``SETTLE_S`` before ONT? says 1. Positions are evaluated at ``world.clock.now()``
on every command and written to ``world.stage_um``; in simulated time each command costs ``WIRE_TIME_S``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.sims.pi_e727_gcs import (
    E_COMMAND_TOO_LONG,
    E_INVALID_AXIS,
    E_NO_SERVO,
    E_PARAM_COUNT,
    E_PARAM_SYNTAX,
    E_POS_OUT_OF_LIMITS,
    E_STOPPED,
    E_UNKNOWN_COMMAND,
    E_VEL_OUT_OF_LIMITS,
    ENCODING,
    HELP_FOOTER,
    HELP_HEADER,
    HELP_LINES,
    IDN,
    VERSION_LINES,
    GCSCommandError,
    GCSSession,
    encode_reply,
    no_args,
    parse_flag,
    parse_float,
    reply_lines,
)

STAGE_TYPE = "P-611.3S"
AXES = ("1", "2", "3")  # stage x, y, z
TRAVEL_UM = (0.0, 100.0)
DEFAULT_VELOCITY_UM_S = 10000.0
UNLIMITED_SLEW_UM_S = 10000.0  # how fast the servo itself takes a step when velocity control is off
MAX_VELOCITY_UM_S = 100000.0
SETTLE_S = 0.005
AUTOZERO_S = 0.2
WIRE_TIME_S = 0.0002


@dataclass
class AxisState:
    """One closed-loop axis: a velocity-limited move from ``start_um`` (at ``t_start_s``) to ``target_um``."""

    name: str
    start_um: float
    target_um: float
    t_start_s: float = 0.0
    servo: bool = False
    velocity_um_s: float = DEFAULT_VELOCITY_UM_S
    velocity_control: bool = False  # VCO: off, the commanded VEL is ignored
    drift_compensation: bool = False
    autozero_until_s: float = -math.inf  # a running AutoZero ends here; ATZ? is 1 once it has

    @property
    def rate_um_s(self) -> float:
        """How fast a move runs (µm/s): VEL with velocity control on, the servo's own rate with it off."""
        return self.velocity_um_s if self.velocity_control else UNLIMITED_SLEW_UM_S

    def position_um(self, t_s: float) -> float:
        distance = self.target_um - self.start_um
        if distance == 0.0:  # at rest on its target
            return self.target_um
        travelled = self.rate_um_s * max(0.0, t_s - self.t_start_s)
        if travelled >= abs(distance):
            return self.target_um
        return self.start_um + math.copysign(travelled, distance)

    def settled_at_s(self) -> float:
        return self.t_start_s + abs(self.target_um - self.start_um) / self.rate_um_s + SETTLE_S

    def on_target(self, t_s: float) -> bool:
        return self.servo and t_s >= self.settled_at_s()

    def moving(self, t_s: float) -> bool:
        return self.servo and t_s < self.settled_at_s()

    def rebase(self, t_s: float) -> None:
        """Anchor the move at ``t_s`` (before its rate changes): a running move goes on from where it is,
        an arrived one stays arrived (and settled when it was)."""
        if self.position_um(t_s) != self.target_um:
            self.start_move(self.target_um, t_s)
        else:
            self.start_um, self.t_start_s = self.target_um, min(t_s, self.settled_at_s() - SETTLE_S)

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
        self._published: np.ndarray | None = None  # the array _publish last gave the world
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
            "VCO?": lambda a, t: int(a.velocity_control),
            "DCO?": lambda a, t: int(a.drift_compensation),
            "ATZ?": lambda a, t: int(t >= a.autozero_until_s),
            "CST?": lambda a, t: STAGE_TYPE,
        }
        self._commands = {
            "SVO": self._c_svo, "MOV": self._c_mov, "MVR": lambda a, t: self._c_mov(a, t, relative=True),
            "VEL": self._c_vel, "VCO": self._c_vco, "DCO": self._c_dco, "ATZ": self._c_atz, "STP": self._c_stp,
            "HLT": self._c_hlt,
        }

    # ------------------------------------------------------------------ byte level
    def handle(self, data: bytes) -> bytes:
        """Feed bytes from the controller's own stream; returns every reply byte they produce."""
        return self._stream.feed(data)

    def execute_line(self, line: str, too_long: bool = False) -> bytes:
        """Run one LF-terminated command (without its LF); returns its reply bytes (may be empty)."""
        with self._lock:
            clock = self.world.clock  # what _tick does, inline: this runs three times per scan pixel
            if not clock.real_time:
                clock.advance(WIRE_TIME_S)
            now = clock.now()
            mnemonic, _, rest = line.strip(" \r").partition(" ")
            args = rest.split()
            if not mnemonic and not too_long:  # an empty line is no command
                return b""
            try:
                if too_long:
                    raise GCSCommandError(E_COMMAND_TOO_LONG)
                if (value := self._axis_queries.get(mnemonic)) is not None:
                    reply = reply_lines([f"{a.name}={value(a, now)}" for a in self._axes_arg(args)])
                elif (query := self._queries.get(mnemonic)) is not None:
                    no_args(args)
                    reply = reply_lines(query())
                elif mnemonic == "SAI?":  # "SAI?" configured axes, "SAI? ALL" every axis: the same here
                    if args not in ([], ["ALL"]):
                        raise GCSCommandError(E_PARAM_SYNTAX)
                    reply = reply_lines(list(self.axes))
                elif (command := self._commands.get(mnemonic)) is not None:
                    command(args, now)
                    reply = ""
                else:
                    raise GCSCommandError(E_UNKNOWN_COMMAND)
            except GCSCommandError as exc:
                self.error_code = exc.args[0]
                reply = ""
            self._publish(now)
            return reply.encode("ascii") if reply.isascii() else encode_reply(reply)

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
            return self._publish(self.world.clock.now() if now is None else now).copy()

    def _publish(self, t: float) -> np.ndarray:
        """The axes at ``t`` written to ``world.stage_um`` (the array written, which the world now holds)."""
        positions = [axis.position_um(t) for axis in self.axes.values()]
        held = self.world.stage_um
        if held is self._published and held.tolist() == positions:  # at rest: the world holds them already
            return held
        array = np.array(positions)
        with self.world.lock:
            self.world.stage_um = array
        self._published = array
        return array

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

    def _take_error(self) -> list[str]:
        code, self.error_code = self.error_code, 0
        return [str(code)]

    # ------------------------------------------------------------------ set-commands
    def _c_svo(self, args, now):
        for axis, flag in [(axis, parse_flag(v)) for axis, v in self._pairs(args)]:
            if flag != axis.servo:  # the target becomes the present position (off: the piezo holds)
                axis.halt(now, settled=True)
                axis.servo = flag

    def _c_mov(self, args, now, relative: bool = False):
        """MOV (absolute) / MVR (relative to the commanded target): all axes move, or none."""
        moves = [(axis, parse_float(v) + (axis.target_um if relative else 0.0))
                 for axis, v in self._pairs(args)]
        for axis, target in moves:
            if not axis.servo:
                raise GCSCommandError(E_NO_SERVO)
            if not self.travel_um[0] <= target <= self.travel_um[1]:
                raise GCSCommandError(E_POS_OUT_OF_LIMITS)
        for axis, target in moves:
            axis.start_move(target, now)

    def _c_vel(self, args, now):
        settings = [(axis, parse_float(v)) for axis, v in self._pairs(args)]
        if any(not 0.0 < v <= MAX_VELOCITY_UM_S for _, v in settings):
            raise GCSCommandError(E_VEL_OUT_OF_LIMITS)
        for axis, velocity in settings:
            axis.rebase(now)  # the rest of a running move goes at the new speed
            axis.velocity_um_s = velocity  # stored; without VCO on, moves ignore it

    def _c_vco(self, args, now):
        """VCO a 0|1 ...: velocity control (slew rate limited to VEL) off or on; a running move goes on at
        the new rate from where it is."""
        for axis, flag in [(axis, parse_flag(v)) for axis, v in self._pairs(args)]:
            axis.rebase(now)
            axis.velocity_control = flag

    def _c_dco(self, args, now):
        for axis, flag in [(axis, parse_flag(v)) for axis, v in self._pairs(args)]:
            axis.drift_compensation = flag

    def _c_atz(self, args, now):
        """ATZ [axis low_voltage|NaN ...]: zero-point calibration; the controller is busy meanwhile."""
        if args:
            axes = []
            for axis, low in self._pairs(args):
                if low.upper() != "NAN":
                    parse_float(low)
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
        no_args(args)
        self._halt(self.axes.values(), now)

    def _c_hlt(self, args, now):
        self._halt(self._axes_arg(args), now)
