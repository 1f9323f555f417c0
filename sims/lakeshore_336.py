"""Lake Shore Model 336 temperature controller on a cryostat's sample stage: the far end of its ASCII
protocol, with the stage's thermal dynamics.

Protocol (hardware.md section 8): a line ends in LF (a CR before it is dropped; empty lines are ignored);
its items are separated by ``;`` and a leading ``:`` is stripped from each. Commands are silent; the
answers of the line's queries come back on one line joined by ``;`` and ending in CR LF. An unknown
mnemonic sets bit 32 (command error) of the event status register, a bad parameter of a command bit 16
(execution error) and a bad query bit 4 (query error); a bad query is not answered. ``*ESR?`` returns the
register and clears it. One controller (one state, one register) is shared by every connection.

Thermal model, integrated on the World's clock each time the controller is addressed (steps of at most
``ThermalModel.step_s``):

- the sample stage has a heat capacity ``C`` and is tied to the cold head at ``base_k`` (~4 K) by a copper
  link of conductance ``G`` up to ``link_knee_k``: the cooling power is ``G·(T − base_k)`` there, so with no
  heat the stage relaxes to base with the time constant ``C/G``; above the knee the link's conductance falls
  as ``G·(link_knee_k/T)**link_falloff``, as copper's conductivity does from its low-temperature maximum (about
  a third of it at room temperature), so the cooling power is the integral of the conductance from base;
- the heater outputs 1 and 2 deposit ``u/100 · P_max(range)`` on the stage, ``u`` the output in %
  (``HTR?``) and ``P_max`` the range's full power (off 0, low, medium, high: decades); a range heats only
  while the output's OUTMODE mode is 1 (closed-loop PID); the hottest a range can hold is where the cooling
  power reaches ``P_max`` (``base_k + P_max/G`` below the knee; the high range holds room temperature);
- each heater's PID runs on its OUTMODE input: ``u = P·(e + (I/100)·∫e dt + (D/100)·de/dt)`` with
  ``e = setpoint − reading`` in K, clamped to 0-100 %, the integral frozen while the output is saturated
  (no wind-up). With ``RAMP`` on, the setpoint the loop uses moves to ``SETP`` at the ramp rate;
- input A reads the stage through a sensor that lags it (first order, ``sensor_lag_s``); input B reads the
  cold head (base plus the heat it carries, ``head_k_per_W`` per W); C and D have no sensor (0 K,
  ``RDGST?`` 1 = invalid).

The stage's true temperature goes into ``world.sample_temperature_k`` whenever the stage is integrated (each
time the controller is addressed), so the World's sample follows the cryostat.

``LakeShore336Session`` frames one client's byte stream, ``LakeShore336Adapter`` runs a pymeasure driver
in-process, ``serve`` puts the controller on a TCP port.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from tepl.sims.session_adapter import SessionAdapter
from tepl.sims.tcp import LoopbackServer, serve_controller
from tepl.sims.world import Clock

IDENTITY = "LSCI,MODEL336,TEPL0001/TEPL0002,2.9"
ENCODING = "ascii"
MAX_LINE_CHARS = 256
INPUTS = ("A", "B", "C", "D")
OUTPUTS = (1, 2, 3, 4)
HEATERS = (1, 2)
ESR_QUERY, ESR_EXECUTION, ESR_COMMAND = 4, 16, 32


@dataclass
class ThermalModel:
    """The cryostat's sample stage. Powers in W, temperatures in K, times in s."""

    base_k: float = 4.0
    heat_capacity_J_per_K: float = 20.0
    conductance_W_per_K: float = 0.2
    range_max_W: tuple[float, float, float, float] = (0.0, 0.5, 5.0, 50.0)  # off, low, medium, high
    sensor_lag_s: float = 0.5
    head_k_per_W: float = 0.02
    link_knee_k: float = 30.0
    link_falloff: float = 0.5
    step_s: float = 0.05
    max_steps: int = 200_000  # per update; a longer gap is integrated in longer steps

    def __post_init__(self) -> None:
        if not (0.0 <= self.link_falloff < 1.0 and self.link_knee_k > self.base_k):
            raise ValueError(f"thermal model: link_falloff must lie in [0, 1) and link_knee_k above base_k, got "
                             f"{self.link_falloff} and {self.link_knee_k} K (base {self.base_k} K)")

    @property
    def time_constant_s(self) -> float:
        """The stage's relaxation time to base with no heat below the knee, ``C/G``."""
        return self.heat_capacity_J_per_K / self.conductance_W_per_K

    def cooling_W(self, stage_k: float) -> float:
        """Heat the link carries from the stage at ``stage_k`` to the cold head, W."""
        g, knee, a = self.conductance_W_per_K, self.link_knee_k, self.link_falloff
        if stage_k <= knee:
            return g * (stage_k - self.base_k)
        return g * ((knee - self.base_k) + knee**a * (stage_k ** (1.0 - a) - knee ** (1.0 - a)) / (1.0 - a))

    def hottest_k(self, heater_range: int) -> float:
        """The stage's temperature with the range's full power: where ``cooling_W`` equals ``P_max``."""
        g, knee, a = self.conductance_W_per_K, self.link_knee_k, self.link_falloff
        power = self.range_max_W[heater_range]
        if power <= self.cooling_W(knee):
            return self.base_k + power / g
        rest = power / g - (knee - self.base_k)
        return (knee ** (1.0 - a) + rest * (1.0 - a) / knee**a) ** (1.0 / (1.0 - a))


@dataclass
class Loop:
    """One output's settings and PID state."""

    setpoint_k: float = 0.0
    heater_range: int = 0
    mode: int = 1  # closed-loop PID
    input: int = 1  # 1-4 = A-D, 0 none
    powerup: int = 0
    p: float = 50.0
    i: float = 20.0
    d: float = 0.0
    ramp_on: int = 0
    ramp_k_per_min: float = 0.0
    target_k: float = 0.0  # the setpoint the loop uses (moves to setpoint_k when ramping)
    integral: float = 0.0
    last_error: float | None = None
    output_pct: float = 0.0

    @property
    def heating(self) -> bool:
        return self.mode == 1 and self.heater_range > 0


class LakeShore336Controller:
    """The 336's state and the stage it controls, shared by every connection. ``world`` gives the clock
    (its own real-time clock without one)."""

    def __init__(self, world: Any = None, model: ThermalModel | None = None, identity: str = IDENTITY):
        self.world = world
        self.clock = world.clock if world is not None else Clock(real_time=True)
        self.model = model or ThermalModel()
        self.identity = identity
        self.stage_k = self.model.base_k
        self.sensor_k = self.model.base_k
        self._tell_world()
        self.loops = {1: Loop(input=1), 2: Loop(input=2), 3: Loop(mode=0, input=0), 4: Loop(mode=0, input=0)}
        self.esr = 0
        self.commands: list[str] = []  # every item received, for tests of what clients send
        self._t_s = self.clock.now()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ thermal dynamics
    def reading_k(self, input: int) -> float:
        """What input 1-4 (A-D) reads now (0 for a missing sensor)."""
        if input == 1:
            return self.sensor_k
        if input == 2:
            return self.model.base_k + self.model.head_k_per_W * self.heater_power_W()
        return 0.0

    def heater_power_W(self) -> float:
        m = self.model
        return sum(loop.output_pct / 100.0 * m.range_max_W[loop.heater_range]
                   for n, loop in self.loops.items() if n in HEATERS and loop.heating)

    def update(self) -> None:
        """Integrate the stage up to the clock's now."""
        with self._lock:
            now = self.clock.now()
            gap = now - self._t_s
            self._t_s = now
            if gap <= 0:
                return
            m = self.model
            steps = max(1, min(m.max_steps, math.ceil(gap / m.step_s)))
            dt = gap / steps
            for _ in range(steps):
                self._step(dt)
            self._tell_world()

    def _tell_world(self) -> None:
        """The sample sits on the stage: its temperature is the stage's (not the lagging sensor's)."""
        if self.world is not None:
            self.world.sample_temperature_k = self.stage_k

    def _step(self, dt: float) -> None:
        m = self.model
        for n in HEATERS:
            loop = self.loops[n]
            if loop.ramp_on and loop.ramp_k_per_min > 0:
                move = loop.ramp_k_per_min / 60.0 * dt
                loop.target_k += max(-move, min(move, loop.setpoint_k - loop.target_k))
            else:
                loop.target_k = loop.setpoint_k
            if not loop.heating or loop.input not in (1, 2, 3, 4):
                loop.output_pct, loop.integral, loop.last_error = 0.0, 0.0, None
                continue
            error = loop.target_k - self.reading_k(loop.input)
            slope = 0.0 if loop.last_error is None else (error - loop.last_error) / dt
            loop.last_error = error
            trial = loop.integral + error * dt
            u = loop.p * (error + loop.i / 100.0 * trial + loop.d / 100.0 * slope)
            if 0.0 < u < 100.0 or (u >= 100.0 and error < 0) or (u <= 0.0 and error > 0):
                loop.integral = trial  # integrate only while it does not push further into saturation
            loop.output_pct = max(0.0, min(100.0, u))
        power = self.heater_power_W()
        self.stage_k += (power - m.cooling_W(self.stage_k)) / m.heat_capacity_J_per_K * dt
        self.sensor_k += (self.stage_k - self.sensor_k) * min(1.0, dt / m.sensor_lag_s)

    # ------------------------------------------------------------------ protocol
    def execute(self, line: str) -> bytes:
        """Run one line (without its terminator); returns its answer line with CR LF, or b"" if none."""
        with self._lock:
            self.update()
            answers: list[str] = []
            for item in line.split(";"):
                item = item.strip().lstrip(":").strip()
                if not item:
                    continue
                self.commands.append(item)
                answer = self._item(item)
                if answer is not None:
                    answers.append(answer)
        return (";".join(answers) + "\r\n").encode(ENCODING) if answers else b""

    def _item(self, item: str) -> str | None:
        mnemonic, _, args_text = item.partition(" ")
        mnemonic = mnemonic.upper()
        args = [a.strip() for a in args_text.split(",")] if args_text.strip() else []
        query = mnemonic.endswith("?")
        handler = QUERIES.get(mnemonic) if query else COMMANDS.get(mnemonic)
        if handler is None:
            self.esr |= ESR_COMMAND
            return None
        try:
            return handler(self, args)
        except (ValueError, IndexError, KeyError):
            self.esr |= ESR_QUERY if query else ESR_EXECUTION
            return None

    # ------------------------------------------------------------------ helpers for the handlers
    @staticmethod
    def _input_of(text: str) -> int:
        return INPUTS.index(text.strip().upper()) + 1

    @staticmethod
    def _output_of(text: str, allowed: tuple[int, ...] = OUTPUTS) -> int:
        value = int(text)
        if value not in allowed:
            raise ValueError(text)
        return value

    def _one(self, args: list[str]) -> str:
        if len(args) != 1:
            raise ValueError(args)
        return args[0]


def _number(text: str, low: float, high: float) -> float:
    value = float(text)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(text)
    return value


def _idn(c: LakeShore336Controller, args: list[str]) -> str:
    return c.identity


def _esr(c: LakeShore336Controller, args: list[str]) -> str:
    value, c.esr = c.esr, 0
    return str(value)


def _opc(c: LakeShore336Controller, args: list[str]) -> str:
    return "1"


def _cls(c: LakeShore336Controller, args: list[str]) -> None:
    c.esr = 0


def _krdg(c: LakeShore336Controller, args: list[str]) -> str:
    which = c._one(args)
    if which == "0":
        return ",".join(f"{c.reading_k(n):+.3f}" for n in (1, 2, 3, 4))
    return f"{c.reading_k(c._input_of(which)):+.3f}"


def _srdg(c: LakeShore336Controller, args: list[str]) -> str:
    # a silicon diode's voltage, roughly (1.6 V at 4 K falling to 0.5 V at 300 K); C, D: none
    n = c._input_of(c._one(args))
    t = c.reading_k(n)
    return f"{(1.65 - 0.0038 * t) if n in (1, 2) else 0.0:+.5f}"


def _rdgst(c: LakeShore336Controller, args: list[str]) -> str:
    return "0" if c._input_of(c._one(args)) in (1, 2) else "1"


def _setp_q(c: LakeShore336Controller, args: list[str]) -> str:
    return f"{c.loops[c._output_of(c._one(args))].setpoint_k:+.3f}"


def _setp(c: LakeShore336Controller, args: list[str]) -> None:
    if len(args) != 2:
        raise ValueError(args)
    output, value = c._output_of(args[0]), _number(args[1], 0.0, 1500.0)
    loop = c.loops[output]
    loop.setpoint_k = value
    if not loop.ramp_on or loop.ramp_k_per_min <= 0:
        loop.target_k = value  # with a ramp on, the loop's setpoint moves there from where it is


def _range_q(c: LakeShore336Controller, args: list[str]) -> str:
    return str(c.loops[c._output_of(c._one(args))].heater_range)


def _range(c: LakeShore336Controller, args: list[str]) -> None:
    if len(args) != 2:
        raise ValueError(args)
    output = c._output_of(args[0])
    value = int(args[1])
    if value not in range(4 if output in HEATERS else 2):
        raise ValueError(args)
    c.loops[output].heater_range = value


def _htr_q(c: LakeShore336Controller, args: list[str]) -> str:
    return f"{c.loops[c._output_of(c._one(args), HEATERS)].output_pct:+.1f}"


def _pid_q(c: LakeShore336Controller, args: list[str]) -> str:
    loop = c.loops[c._output_of(c._one(args), HEATERS)]
    return f"{loop.p:+.1f},{loop.i:+.1f},{loop.d:+.0f}"


def _pid(c: LakeShore336Controller, args: list[str]) -> None:
    if len(args) != 4:
        raise ValueError(args)
    output = c._output_of(args[0], HEATERS)
    p, i, d = _number(args[1], 0.1, 1000.0), _number(args[2], 0.1, 1000.0), _number(args[3], 0.0, 200.0)
    loop = c.loops[output]
    loop.p, loop.i, loop.d = p, i, d


def _outmode_q(c: LakeShore336Controller, args: list[str]) -> str:
    loop = c.loops[c._output_of(c._one(args))]
    return f"{loop.mode},{loop.input},{loop.powerup}"


def _outmode(c: LakeShore336Controller, args: list[str]) -> None:
    if len(args) != 4:
        raise ValueError(args)
    output, mode, channel, powerup = c._output_of(args[0]), int(args[1]), int(args[2]), int(args[3])
    if mode not in range(6) or channel not in range(5) or powerup not in (0, 1):
        raise ValueError(args)
    loop = c.loops[output]
    loop.mode, loop.input, loop.powerup = mode, channel, powerup


def _ramp_q(c: LakeShore336Controller, args: list[str]) -> str:
    loop = c.loops[c._output_of(c._one(args), HEATERS)]
    return f"{loop.ramp_on},{loop.ramp_k_per_min:+.1f}"


def _ramp(c: LakeShore336Controller, args: list[str]) -> None:
    if len(args) != 3:
        raise ValueError(args)
    output, on = c._output_of(args[0], HEATERS), int(args[1])
    rate = float(args[2])
    if on not in (0, 1) or not (rate == 0 or 0.1 <= rate <= 100.0):
        raise ValueError(args)
    loop = c.loops[output]
    loop.ramp_on, loop.ramp_k_per_min = on, rate
    if on and loop.input:
        loop.target_k = c.reading_k(loop.input)


def _rampst_q(c: LakeShore336Controller, args: list[str]) -> str:
    loop = c.loops[c._output_of(c._one(args), HEATERS)]
    return str(int(bool(loop.ramp_on) and abs(loop.target_k - loop.setpoint_k) > 1e-9))


QUERIES = {"*IDN?": _idn, "*ESR?": _esr, "*OPC?": _opc, "KRDG?": _krdg, "SRDG?": _srdg, "RDGST?": _rdgst,
           "SETP?": _setp_q, "RANGE?": _range_q, "HTR?": _htr_q, "PID?": _pid_q, "OUTMODE?": _outmode_q,
           "RAMP?": _ramp_q, "RAMPST?": _rampst_q}
COMMANDS = {"*CLS": _cls, "SETP": _setp, "RANGE": _range, "PID": _pid, "OUTMODE": _outmode, "RAMP": _ramp}


class LakeShore336Session:
    """One client's byte stream: LF ends a line (a CR before it is dropped), empty lines are ignored, an
    over-long line is dropped."""

    def __init__(self, controller: LakeShore336Controller):
        self.controller = controller
        self._line = bytearray()
        self._overlong = False

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in bytes(data):
            if byte == 0x0A:
                text = bytes(self._line).decode(ENCODING, errors="replace").rstrip("\r")
                self._line.clear()
                if not self._overlong and text.strip():
                    out += self.controller.execute(text)
                self._overlong = False
            elif len(self._line) < MAX_LINE_CHARS:
                self._line.append(byte)
            else:
                self._overlong = True
        return bytes(out)

    def close(self) -> None:
        self._line.clear()


class LakeShore336Adapter(SessionAdapter):
    """A pymeasure adapter wired straight to a ``LakeShore336Controller``: the driver runs in-process. No
    terminations by default: the driver writes its own LF and reads up to CR LF itself."""

    def __init__(self, controller: LakeShore336Controller, write_termination: str = "", read_termination: str = "",
                 **kwargs):
        super().__init__(LakeShore336Session(controller), "Lake Shore 336", ENCODING, write_termination,
                         read_termination, **kwargs)
        self.controller = controller


def serve(world: Any, port: int = 0, host: str = "127.0.0.1") -> LoopbackServer:
    """A TCP server (bound, not yet started) for one ``LakeShore336Controller`` shared by all clients; the
    controller is ``server.controller``. Port 0 picks a free port (``server.port``)."""
    return serve_controller(LakeShore336Controller(world), LakeShore336Session, port, host)
