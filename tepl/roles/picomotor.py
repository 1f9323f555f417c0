"""The open-loop positioner role: piezo inertia motors (picomotors) that move in steps and know no position.

A picomotor turns a fine screw by slip-stick: each step moves the actuator tip by *roughly* the same
distance, but the step size differs forward and backward, varies from actuator to actuator and drifts with
load, temperature and wear (nominally < 30 nm for a New Focus 9062 actuator). So the controller counts steps
and nothing more: ``steps_counter`` is the number of steps it has commanded (forward minus backward since
power-up or since its home was defined), not a position. Turning steps into nm is a calibration against
something that measures position (a camera, the tip-laser signal), valid only near where it was made.

Units: steps (whole numbers, signed: positive is forward) and seconds. Axes are named by the station's
config (``x``, ``y``, ``z``...) and mapped to the controller's axis numbers.

Each call is checked here before a byte reaches the device: an unknown axis, a step count that is not a
whole number, or a move larger than ``max_steps_per_move`` is refused (``ValueError``) and nothing moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tepl.roles.base import Instrument


class OpenLoopPositioner(Instrument):
    """Open-loop stepping axes (picomotors). ``axes`` maps the config's axis names to the controller's axis
    numbers (``{"x": 1, "y": 2}``); ``max_steps_per_move`` bounds the size of one ``move_steps`` call.

    The safe state is stopped (``safe_group`` "motion"): ``make_safe`` stops every axis and waits until the
    controller reports them done. Drivers fill in the ``_do_*`` hooks."""

    safe_group = "motion"

    def __init__(self, axes: Mapping[str, int], max_steps_per_move: int):
        if not axes:
            raise ValueError("an open-loop positioner needs at least one axis")
        if len(set(axes.values())) != len(axes):
            raise ValueError(f"two axis names share a controller axis: {dict(axes)}")
        if isinstance(max_steps_per_move, bool) or not isinstance(max_steps_per_move, int) or max_steps_per_move < 1:
            raise ValueError(f"max_steps_per_move must be a whole number >= 1, got {max_steps_per_move!r}")
        self.axis_numbers: dict[str, int] = {str(name): int(number) for name, number in axes.items()}
        self.max_steps_per_move = max_steps_per_move

    @property
    def axes(self) -> tuple[str, ...]:
        """The axis names, in config order."""
        return tuple(self.axis_numbers)

    def _number(self, axis: str) -> int:
        try:
            return self.axis_numbers[axis]
        except KeyError:
            raise ValueError(f"unknown axis {axis!r}; this positioner has {', '.join(self.axes)}") from None

    # ------------------------------------------------------------------ interface
    def move_steps(self, axis: str, steps: int) -> None:
        """Start a relative move of ``steps`` (signed whole number; positive is forward) on ``axis`` and return
        at once (``wait`` waits for it). Refused before anything moves when ``|steps|`` exceeds
        ``max_steps_per_move``. How far the actuator goes is ``steps`` times a step size that is not known
        exactly and differs between directions."""
        number = self._number(axis)
        if isinstance(steps, bool) or not isinstance(steps, int):
            raise ValueError(f"{axis}: steps must be a whole number, got {steps!r}")
        if abs(steps) > self.max_steps_per_move:
            raise ValueError(f"{axis}: {steps} steps exceed max_steps_per_move = {self.max_steps_per_move}")
        if steps:
            self._do_move_steps(number, steps)

    def stop(self) -> None:
        """Stop every axis (with the controller's deceleration)."""
        self._do_stop()

    def is_moving(self) -> bool:
        """Whether any axis is still moving."""
        return self._do_is_moving()

    def wait(self, timeout_s: float) -> None:
        """Block until no axis is moving; DeviceError after ``timeout_s`` s (the axes are stopped first)."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self._do_wait(float(timeout_s))

    def steps_counter(self, axis: str) -> int:
        """The controller's step count on ``axis`` (steps commanded and done, forward minus backward, since
        power-up or a defined home). A count of steps, not a position: equal counts need not mean the same
        place."""
        return self._do_steps_counter(self._number(axis))

    # ------------------------------------------------------------------ lifecycle
    def make_safe(self) -> str:
        self.stop()
        self._do_wait_stopped()
        return "stopped"

    def status(self, name: str) -> dict[str, Any]:
        return {f"{name}_steps": {axis: self.steps_counter(axis) for axis in self.axes},
                f"{name}_moving": self.is_moving()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return (f"{name}_steps", f"{name}_moving")

    def settings(self) -> dict:
        return {"axes": dict(self.axis_numbers), "max_steps_per_move": self.max_steps_per_move}

    # ------------------------------------------------------------------ driver hooks
    def _do_move_steps(self, axis_number: int, steps: int) -> None:
        raise NotImplementedError

    def _do_stop(self) -> None:
        raise NotImplementedError

    def _do_is_moving(self) -> bool:
        raise NotImplementedError

    def _do_wait(self, timeout_s: float) -> None:
        raise NotImplementedError

    def _do_wait_stopped(self) -> None:
        """Wait (briefly) until the axes report stopped after ``stop``."""
        raise NotImplementedError

    def _do_steps_counter(self, axis_number: int) -> int:
        raise NotImplementedError
