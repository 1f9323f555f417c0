"""RHK R9 remote interface (TCP port 12600) with its shear-force Z PI controller, over the shared World.

The R9 software takes one command per line, comma-separated fields, ``\\n``-terminated, and answers each
with text and no terminator: ``Done`` for a set-command, the value as text for a get, and for
``StartProcedure`` an acknowledgement (``Done``; ``Started`` then ``Done`` with ``procedure_ack``) and a
``Done`` when the procedure has finished. Anything it cannot do gets an ``Error: ...`` text. The words it
understands are its own copy (``WORDS``), any of which a test may rename; served, each reply may go out in
two TCP segments with a pause between (``serve(..., split_delay_s=...)``).

State kept here: amplitude setpoint (V), PI gains, the tip-control mode (``Unlimit`` = feedback on,
``Freeze`` = hold, ``Retract`` = withdraw to the upper bound), the Z piezo output and the coarse
positioner's base height. The tip apex height above the substrate is ``coarse_base_nm + piezo_nm`` and
is written to ``world.tip_z_nm``. At power-up the retracted apex stands ``world.tip_start_nm`` above the
substrate (None: coarse base 0); each coarse step moves the base by ``coarse_step_nm`` times a factor drawn
uniformly within ``1 ± world.coarse_step_jitter``; the ground truth (``r9``) keeps the start height and the
true signed size of every step. The feedback is evaluated lazily at every command from the World clock:
Z relaxes (first order, time constant of a few ms) towards the height where the tuning-fork amplitude
equals the setpoint, clipped to the Z range, so it follows the topography as the stage moves.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tepl.sims.faults import Faults
from tepl.sims.tcp import LoopbackServer

# The words this R9 understands, written here on their own (not imported from the driver's table), so that a
# wrong word in the driver fails a test; tests/test_rhk_r9_vocabulary.py compares the two. Keys name roles.
WORDS: dict[str, str] = {
    "set_hw_sub": "SetHWSubParameter", "get_hw_sub": "GetHWSubParameter",
    "set_hw": "SetHWParameter", "get_hw": "GetHWParameter",
    "read_channel": "ReadChannelValue", "start_procedure": "StartProcedure", "stop_procedure": "StopProcedure",
    "controller": "Z PI Controller 1",
    "set_point": "Set Point", "value": "Value", "integral_gain": "Integral Gain",
    "proportional_gain": "Proportional Gain", "upper_bound": "Upper Bound", "lower_bound": "Lower Bound",
    "z_position": "Z Position",  # frozen Z output, m
    "tip_control": "Tip Control", "unlimit": "Unlimit", "freeze": "Freeze", "retract": "Retract",
    "z_channel": "z0-src", "amplitude_channel": "LIA 1 Amplitude", "phase_channel": "LIA 1 Phase",
    "step_in": "Pan Single Step In", "step_out": "Pan Single Step Out",
    "done": "Done", "started": "Started",
}
CONTROLLER_ALIASES = ("Z PI Controller",)  # hoopdev/RHK-interface writes the controller without its number
DONE = WORDS["done"]
TIP_CONTROL_WORDS = (WORDS["unlimit"], WORDS["freeze"], WORDS["retract"])
CONTROLLER_NAMES = (WORDS["controller"], *CONTROLLER_ALIASES)
Z_POSITION_PARAMETER = WORDS["z_position"]
PROCEDURES = (WORDS["step_in"], WORDS["step_out"])
SPLIT_DELAY_S = 0.005  # pause between the two segments of a split reply (wall time, s)

WIRE_TIME_S = 5e-4  # one command on the wire and through the R9 software
PAN_STEP_S = 0.01  # one stick-slip coarse step
LOOP_TAU_S = 3e-3  # feedback time constant at the default integral gain
RETRACT_TAU_S = 2e-3  # withdrawal time constant
DEFAULT_INTEGRAL_GAIN = 50.0
DEFAULT_PROPORTIONAL_GAIN = 0.5
AMPLITUDE_NOISE = 1e-3  # rms, fraction of the free amplitude
Z_NOISE_NM = 0.01  # rms noise on the z0-src readback
PHASE_SHIFT_DEG = 25.0  # tuning-fork phase change from free to full damping
PHASE_NOISE_DEG = 0.05
FREQUENCY_SHIFT_HZ = 4.0  # resonance shift from free to full damping
SEARCH_DISTANCE_NM = (-50.0, 1.0e4)  # where the setpoint distance is searched for


class R9Error(Exception):
    """A command the R9 refuses; its text becomes the ``Error: ...`` reply."""


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise R9Error(f"bad value '{text}' for {what} (expected a number)") from None
    if not math.isfinite(value):
        raise R9Error(f"bad value '{text}' for {what} (expected a finite number)")
    return value


class R9Controller:
    """The R9 software's state and its shear-force feedback loop.

    ``free_amplitude_V``: tuning-fork amplitude far from the surface, V. ``z_lower_m`` / ``z_upper_m``: Z
    piezo range, m (lower = fully extended towards the sample). ``coarse_step_nm``: height change of one
    ``Pan Single Step``. ``words``: replacements for some of ``WORDS`` (an R9 whose software names a
    parameter or channel differently). ``procedure_ack``: the replies acknowledging a ``StartProcedure``
    before the one reporting completion (``("Done",)``; ``("Started", "Done")`` for an R9 that acknowledges
    with two lines). The tip-control state (``tip_control``) keeps the logical mode names ``Unlimit``,
    ``Freeze``, ``Retract`` whatever the words. All sessions of a server share one controller.
    """

    def __init__(self, world: Any, free_amplitude_V: float = 0.1, z_lower_m: float = 0.0,
                 z_upper_m: float = 2.0e-6, coarse_step_nm: float = 80.0,
                 words: dict[str, str] | None = None, procedure_ack: tuple[str, ...] = (DONE,)):
        if not z_upper_m > z_lower_m:
            raise ValueError(f"Z range [{z_lower_m}, {z_upper_m}] m is empty")
        if not free_amplitude_V > 0:
            raise ValueError(f"free amplitude {free_amplitude_V} V must be positive")
        unknown = set(words or {}) - set(WORDS)
        if unknown:
            raise ValueError(f"simulated R9: unknown word keys {sorted(unknown)} (known: {', '.join(WORDS)})")
        self.w = {**WORDS, **(words or {})}
        self.procedure_ack = tuple(procedure_ack)
        if not self.procedure_ack:
            raise ValueError("simulated R9: a procedure is acknowledged with at least one reply")
        self._mode_of_word = {self.w[k]: k.capitalize() for k in ("unlimit", "freeze", "retract")}
        self.world = world
        self.free_amplitude_V = float(free_amplitude_V)
        self.z_lower_m, self.z_upper_m = float(z_lower_m), float(z_upper_m)
        self.z_lower_nm, self.z_upper_nm = self.z_lower_m * 1e9, self.z_upper_m * 1e9
        self.coarse_step_nm = float(coarse_step_nm)
        self.setpoint_V = 0.9 * self.free_amplitude_V
        self.integral_gain = DEFAULT_INTEGRAL_GAIN
        self.proportional_gain = DEFAULT_PROPORTIONAL_GAIN
        self.tip_control = "Retract"
        self.piezo_nm = self.z_upper_nm
        start_nm = world.tip_start_nm
        self.coarse_base_nm = 0.0 if start_nm is None else float(start_nm) - self.z_upper_nm
        self.coarse_step_jitter = float(world.coarse_step_jitter)
        if not 0.0 <= self.coarse_step_jitter < 1.0:
            raise ValueError(f"coarse step jitter {self.coarse_step_jitter} must lie in [0, 1)")
        self.coarse_steps_nm: list[float] = []  # true signed base moves, nm (negative: towards the sample)
        self.z_held = False  # an ignored Retract (fault): the Z output stays where it was
        self._rng = world.rng("r9")
        self._coarse_rng = world.rng("r9-coarse")
        self._distance_cache: dict[float, float] = {}
        self._t_last_s = world.clock.now()
        with world.lock:
            world.set_tip_z_nm(self.apex_nm)
        world.record_truth("r9", {
            "free_amplitude_V": self.free_amplitude_V,
            "z_range_m": [self.z_lower_m, self.z_upper_m],
            "coarse_step_nm": self.coarse_step_nm,
            "loop_tau_s": LOOP_TAU_S,
            "tip_start_nm": self.apex_nm,  # retracted apex height above the substrate plane at power-up
            "coarse_base_start_nm": self.coarse_base_nm,
            "coarse_step_jitter": self.coarse_step_jitter,
            "coarse_steps_nm": self.coarse_steps_nm,  # grows with every step
        })

    # ------------------------------------------------------------------ physics
    @property
    def apex_nm(self) -> float:
        """Tip apex height above the substrate plane, nm."""
        return self.coarse_base_nm + self.piezo_nm

    def _amplitude_at(self, distance_nm: float) -> float:
        return float(self.world.sample.shear_amplitude(np.array([distance_nm]))[0])

    def setpoint_distance_nm(self) -> float:
        """Tip-surface distance (nm) where the amplitude equals the setpoint; ±inf when out of reach."""
        fraction = self.setpoint_V / self.free_amplitude_V
        if fraction not in self._distance_cache:
            lo, hi = SEARCH_DISTANCE_NM
            if self._amplitude_at(hi) <= fraction:
                d = math.inf  # amplitude never drops to the setpoint: the loop withdraws
            elif self._amplitude_at(lo) >= fraction:
                d = -math.inf  # amplitude never rises to the setpoint: the loop pushes in
            else:
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    if self._amplitude_at(mid) < fraction:
                        lo = mid
                    else:
                        hi = mid
                d = hi
            self._distance_cache[fraction] = d
        return self._distance_cache[fraction]

    def _relax(self) -> None:
        """Advance the loop to the present World time and write the apex height to the World."""
        now = self.world.clock.now()
        dt = max(now - self._t_last_s, 0.0)
        self._t_last_s = now
        target = None
        tau = LOOP_TAU_S
        if self.tip_control == "Retract" and not self.z_held:
            target, tau = self.z_upper_nm, RETRACT_TAU_S
        elif self.tip_control == "Unlimit" and self.integral_gain > 0:
            tau = LOOP_TAU_S * DEFAULT_INTEGRAL_GAIN / self.integral_gain
            d = self.setpoint_distance_nm()
            if math.isinf(d):
                target = self.z_upper_nm if d > 0 else self.z_lower_nm
            else:
                target = self.world.surface_nm() + d - self.coarse_base_nm
                target = min(max(target, self.z_lower_nm), self.z_upper_nm)
        if target is not None and dt > 0:
            self.piezo_nm = target + (self.piezo_nm - target) * math.exp(-dt / tau)
        self.world.set_tip_z_nm(self.apex_nm)

    def _channel(self, name: str) -> float:
        if name == self.w["z_channel"]:
            return (self.piezo_nm + Z_NOISE_NM * self._rng.standard_normal()) * 1e-9
        damping = 1.0 - self.world.shear_amplitude()
        if name == self.w["amplitude_channel"]:
            fraction = 1.0 - damping + AMPLITUDE_NOISE * self._rng.standard_normal()
            return self.free_amplitude_V * fraction
        if name == self.w["phase_channel"]:
            return PHASE_SHIFT_DEG * damping + PHASE_NOISE_DEG * self._rng.standard_normal()
        if name == "Frequency Shift":
            return FREQUENCY_SHIFT_HZ * damping + 0.01 * self._rng.standard_normal()
        raise R9Error(f"unknown channel '{name}'")

    # ------------------------------------------------------------------ protocol
    def handle(self, line: str, retract_ignored: bool = False) -> list[str]:
        """Execute one command line (without its terminator); return the replies, in order.
        ``retract_ignored`` (a fault): a ``Tip Control, Retract`` is acknowledged but Z stays where it is."""
        self.world.clock.advance(WIRE_TIME_S)
        fields = [f.strip() for f in line.strip().split(",")]
        command, args = fields[0], fields[1:]
        try:
            w = self.w
            if command == w["start_procedure"]:
                return self._start_procedure(args)
            with self.world.lock:
                self._relax()
                if command == w["set_hw_sub"]:
                    return [self._set_sub(args)]
                if command == w["get_hw_sub"]:
                    return [self._get_sub(args)]
                if command == w["set_hw"]:
                    return [self._set_param(args, retract_ignored)]
                if command == w["get_hw"]:
                    return [self._get_param(args)]
                if command == w["read_channel"]:
                    self._nargs(args, 1, line)
                    return [repr(self._channel(args[0]))]
                if command == w["stop_procedure"]:
                    self._nargs(args, 1, line)
                    self._procedure(args[0])
                    return [w["done"]]
                raise R9Error(f"unknown command '{command}'")
        except R9Error as exc:
            return [f"Error: {exc}"]

    @staticmethod
    def _nargs(args: list[str], n: int, line: str) -> None:
        if len(args) != n:
            raise R9Error(f"expected {n} field(s) after the command in '{line.strip()}', got {len(args)}")

    def _controller(self, args: list[str]) -> list[str]:
        if not args or args[0] not in (self.w["controller"], *CONTROLLER_ALIASES):
            name = args[0] if args else ""
            raise R9Error(f"unknown controller '{name}'")
        return args[1:]

    def _procedure(self, name: str) -> str:
        if name not in (self.w["step_in"], self.w["step_out"]):
            raise R9Error(f"unknown procedure '{name}'")
        return name

    def _sub_key(self, rest: list[str], with_value: bool) -> tuple[str, str | None]:
        """Split ``Name[, Value][, <v>]`` into (name, value text)."""
        value = None
        if with_value:
            if not rest:
                raise R9Error("missing value")
            rest, value = rest[:-1], rest[-1]
        if not rest:
            raise R9Error("missing parameter name")
        w = self.w
        name, sub = rest[0], rest[1:]
        value_field = name in (w["set_point"], w["upper_bound"], w["lower_bound"], w["z_position"])
        expected = [w["value"]] if value_field else []
        known = value_field or name in (w["integral_gain"], w["proportional_gain"])
        if not known:
            raise R9Error(f"unknown parameter '{name}' of Z PI Controller")
        if sub != expected:
            form = ", ".join([name, *expected])
            raise R9Error(f"parameter '{name}' is addressed as '{form}'")
        return name, value

    def _set_sub(self, args: list[str]) -> str:
        name, text = self._sub_key(self._controller(args), with_value=True)
        value = _number(text, name)
        w = self.w
        if name == w["set_point"]:
            self.setpoint_V = value
        elif name == w["integral_gain"]:
            self.integral_gain = value
        elif name == w["proportional_gain"]:
            self.proportional_gain = value
        elif name == w["z_position"]:
            if self.tip_control != "Freeze":
                raise R9Error(f"{name} can only be set while {w['tip_control']} is {w['freeze']} "
                              f"(it is {self._word_of_mode()})")
            z_nm = value * 1e9
            if not self.z_lower_nm <= z_nm <= self.z_upper_nm:
                raise R9Error(f"{name} {value!r} m is outside the Z range "
                              f"[{self.z_lower_m!r}, {self.z_upper_m!r}] m")
            self.piezo_nm = z_nm
            self.world.set_tip_z_nm(self.apex_nm)
        else:
            raise R9Error(f"parameter '{name}' is read-only")
        return w["done"]

    def _get_sub(self, args: list[str]) -> str:
        name, _ = self._sub_key(self._controller(args), with_value=False)
        w = self.w
        value = {
            w["set_point"]: self.setpoint_V,
            w["integral_gain"]: self.integral_gain,
            w["proportional_gain"]: self.proportional_gain,
            w["upper_bound"]: self.z_upper_m,
            w["lower_bound"]: self.z_lower_m,
            w["z_position"]: self.piezo_nm * 1e-9,
        }[name]
        return repr(float(value))

    def _set_param(self, args: list[str], retract_ignored: bool = False) -> str:
        rest = self._controller(args)
        if len(rest) != 2 or rest[0] != self.w["tip_control"]:
            raise R9Error(f"unknown parameter '{', '.join(rest)}' of Z PI Controller")
        if rest[1] not in self._mode_of_word:
            raise R9Error(f"bad {rest[0]} '{rest[1]}' (expected one of {', '.join(self._mode_of_word)})")
        self.tip_control = self._mode_of_word[rest[1]]
        self.z_held = retract_ignored and self.tip_control == "Retract"
        return self.w["done"]

    def _word_of_mode(self) -> str:
        return self.w[self.tip_control.lower()]

    def _get_param(self, args: list[str]) -> str:
        rest = self._controller(args)
        if rest != [self.w["tip_control"]]:
            raise R9Error(f"unknown parameter '{', '.join(rest)}' of Z PI Controller")
        return self._word_of_mode()

    def _start_procedure(self, args: list[str]) -> list[str]:
        """Coarse step: acknowledge, move the base by one step, let PAN_STEP_S pass, report completion.

        The slip moves the apex by the full step before the loop can react, so a step towards a surface
        closer than one step hits it: an approach steps with the tip retracted, then extends the loop.
        """
        self._nargs(args, 1, "StartProcedure, " + ", ".join(args))
        name = self._procedure(args[0])
        sign = -1.0 if name == self.w["step_in"] else 1.0
        with self.world.lock:
            self._relax()
            moved_nm = sign * self._step_size_nm()
            self.coarse_base_nm += moved_nm  # the slip is faster than the loop
            self.coarse_steps_nm.append(moved_nm)
            self.world.set_tip_z_nm(self.apex_nm)
        self.world.clock.advance(PAN_STEP_S)
        with self.world.lock:
            self._relax()
        return [*self.procedure_ack, self.w["done"]]

    def _step_size_nm(self) -> float:
        """The size of the next coarse step, nm: the nominal size, or within ±jitter of it (uniform)."""
        if self.coarse_step_jitter == 0.0:
            return self.coarse_step_nm
        return self.coarse_step_nm * (1.0 + self.coarse_step_jitter * float(self._coarse_rng.uniform(-1.0, 1.0)))

    def query(self, line: str) -> str:
        """All replies to one command line, concatenated as they would appear on the wire."""
        return "".join(self.handle(line))


class R9InProcess:
    """The driver's transport to an in-process ``R9Controller`` (what ``R9Socket`` is on the rig).

    ``faults`` (``tepl.sims.faults.Faults``, all off by default): ``stall`` loses the reply and the query
    raises TimeoutError (as R9Socket's read would), ``delay_s`` holds the reply back (TimeoutError now; it
    arrives ahead of the next reply unless ``reset`` drops the connection first, as R9Socket does after a
    timeout), ``garble`` / ``nan_reply`` corrupt it, ``disconnect`` raises ConnectionError, ``interrupt``
    KeyboardInterrupt, ``retract_ignored`` acknowledges ``Tip Control, Retract`` and leaves Z where it is."""

    def __init__(self, controller: Any):
        self.controller = controller
        self.connected = False  # as R9Socket: connected by the first query, released by close
        self.faults = Faults()
        self._late: list[str] = []

    def query(self, line: str) -> str:
        if "\n" in line or "\r" in line:
            raise ValueError(f"an R9 command is one line, got {line!r}")
        self.connected = True
        fault = self.faults.hit(line) if self.faults.any else None
        if fault is None:
            late, self._late = "".join(self._late), []
            return late + "".join(self.controller.handle(line))
        fault.interrupt_now()
        if fault.disconnect:
            self.reset()
            raise ConnectionError("the simulated R9 dropped the connection (fault injected)")
        late, self._late = "".join(self._late), []
        reply = fault.corrupt("".join(self.controller.handle(line, fault.retract_ignored)).encode()).decode()
        if fault.stall:
            raise TimeoutError(f"no reply from the simulated R9 to {line!r} (fault injected: stall)")
        if fault.delay_s is not None:
            time.sleep(min(fault.delay_s, 60.0))
            self._late.append(reply)
            raise TimeoutError(f"the simulated R9's reply to {line!r} is late (fault injected: delay)")
        return late + reply

    def reset(self) -> None:
        """A new connection: replies still owed on the old one never arrive."""
        self._late.clear()

    def close(self) -> None:
        self.reset()
        self.connected = False


class R9Session:
    """One TCP client of the R9 remote interface (newline-framed; any chunking of the input).

    Each reply goes out as one segment, or with ``split_delay_s`` (s) in two segments with that pause
    between them (and after each reply), as a TCP peer may deliver them: replies carry no terminator, so only a
    client that reads until a reply is whole gets it right."""

    def __init__(self, controller: R9Controller, split_delay_s: float | None = None):
        if split_delay_s is not None and not 0 < split_delay_s < 1:
            raise ValueError(f"split_delay_s {split_delay_s!r} s must lie between 0 and 1 s")
        self.controller = controller
        self.split_delay_s = split_delay_s
        self._buffer = b""
        self._replies: list[bytes] = []

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out: list[str] = []
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            line = raw.decode("utf-8", errors="replace").strip()
            if line:
                out.extend(self.controller.handle(line))
        self._replies = [r.encode("utf-8") for r in out]
        return b"".join(self._replies)

    def write(self, sock: Any, data: bytes) -> None:
        """Send ``data`` (what ``feed`` returned, perhaps corrupted by a fault) to the client."""
        if self.split_delay_s is None or data != b"".join(self._replies):
            sock.sendall(data)
            return
        for reply in self._replies:
            half = max(len(reply) // 2, 1)
            sock.sendall(reply[:half])
            time.sleep(self.split_delay_s)
            if reply[half:]:
                sock.sendall(reply[half:])
                time.sleep(self.split_delay_s)


def serve(world: Any, port: int = 12600, controller: R9Controller | None = None,
          split_delay_s: float | None = None, procedure_ack: tuple[str, ...] | None = None,
          words: dict[str, str] | None = None) -> LoopbackServer:
    """A loopback server speaking the R9 remote interface (not yet started: use ``with`` or ``.start()``).

    Every connection shares ``controller`` (a new ``R9Controller(world, words=words,
    procedure_ack=procedure_ack)`` when omitted). ``split_delay_s``: send each reply in two segments with
    that pause (s) between them (``R9Session``).
    """
    if controller is None:
        controller = R9Controller(world, words=words, procedure_ack=procedure_ack or (DONE,))
    elif words is not None or procedure_ack is not None:
        raise ValueError("serve: give words and procedure_ack to the R9Controller, not beside one")
    return LoopbackServer(lambda: R9Session(controller, split_delay_s), port)
