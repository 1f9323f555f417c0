"""The RHK R9 remote interface's command protocol as the simulated R9 speaks it (``tepl.sims.rhk_r9``):
``R9Controller`` executes one command line on its shear-force loop (``rhk_r9_loop.ShearForceLoop``) and
returns the replies.

The R9 software takes one command per line, comma-separated fields, ``\\n``-terminated, and answers each
with text and no terminator: ``Done`` for a set-command, the value as text for a get, and for
``StartProcedure`` an acknowledgement (``Done``; ``Started`` then ``Done`` with ``procedure_ack``) and a
``Done`` when the procedure has finished. Anything it cannot do gets an ``Error: ...`` text. The words it
understands are its own copy (``WORDS``), any of which a test may rename.
"""

from __future__ import annotations

import math
from typing import Any

from tepl.sims.rhk_r9_loop import ShearForceLoop

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

WIRE_TIME_S = 5e-4  # one command on the wire and through the R9 software
AMPLITUDE_NOISE = 1e-3  # rms, fraction of the free amplitude
Z_NOISE_NM = 0.01  # rms noise on the z0-src readback
PHASE_SHIFT_DEG = 25.0  # tuning-fork phase change from free to full damping
PHASE_NOISE_DEG = 0.05
FREQUENCY_SHIFT_HZ = 4.0  # resonance shift from free to full damping


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


class R9Controller(ShearForceLoop):
    """The R9 software: its words and commands over its shear-force feedback loop (``ShearForceLoop``).

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
        self.check_parameters(free_amplitude_V, z_lower_m, z_upper_m)
        unknown = set(words or {}) - set(WORDS)
        if unknown:
            raise ValueError(f"simulated R9: unknown word keys {sorted(unknown)} (known: {', '.join(WORDS)})")
        self.w = {**WORDS, **(words or {})}
        self.procedure_ack = tuple(procedure_ack)
        if not self.procedure_ack:
            raise ValueError("simulated R9: a procedure is acknowledged with at least one reply")
        self._mode_of_word = {self.w[k]: k.capitalize() for k in ("unlimit", "freeze", "retract")}
        super().__init__(world, free_amplitude_V, z_lower_m, z_upper_m, coarse_step_nm)

    # ------------------------------------------------------------------ channels
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
        """Coarse step: acknowledge, step (``_coarse_step``: the base moves, PAN_STEP_S pass), report
        completion."""
        self._nargs(args, 1, "StartProcedure, " + ", ".join(args))
        name = self._procedure(args[0])
        self._coarse_step(-1.0 if name == self.w["step_in"] else 1.0)
        return [*self.procedure_ack, self.w["done"]]

    def query(self, line: str) -> str:
        """All replies to one command line, concatenated as they would appear on the wire."""
        return "".join(self.handle(line))
