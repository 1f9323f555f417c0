"""The ``tepl.roles.OpenLoopPositioner`` on a New Focus 8742 (``newport_8742.Picomotor8742``): the role
adaptation kept apart from the pymeasure instrument class."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from tepl.drivers.newport_8742 import AXES, Picomotor8742
from tepl.drivers.polling import poll
from tepl.roles import DeviceError, OpenLoopPositioner

log = logging.getLogger(__name__)

class Picomotor8742Positioner(OpenLoopPositioner):
    """The open-loop positioner on an 8742: ``axes`` maps names to controller axes 1-4.

    On connect it reads ``*IDN?`` (it must name a New_Focus 8742) and empties the error queue (errors left
    from before are logged, not raised). ``move_steps`` sends ``xxPRnn`` and checks the error queue (a move
    sent while the axis moves is refused by the controller as MOTION IN PROGRESS and raises here);
    ``stop`` sends ``ST`` to each configured axis; ``wait`` polls ``xxMD?`` every ``poll_interval_s``.
    ``sleep`` is how it waits between polls (``world.clock.advance`` on a simulated station). Times in s."""

    def __init__(self, controller: Picomotor8742, axes: Mapping[str, int], max_steps_per_move: int,
                 poll_interval_s: float = 0.01, stop_timeout_s: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__(axes, max_steps_per_move)
        for name, number in self.axis_numbers.items():
            if number not in AXES:
                raise ValueError(f"{controller.name} at {controller.address}: axis {name!r} is {number}, "
                                 f"the 8742 has axes {AXES}")
        if not poll_interval_s > 0 or not stop_timeout_s > 0:
            raise ValueError(f"{controller.name} at {controller.address}: poll_interval_s and stop_timeout_s must "
                             f"be positive, got {poll_interval_s!r} s and {stop_timeout_s!r} s")
        self.controller = controller
        self.poll_interval_s, self.stop_timeout_s, self._sleep = poll_interval_s, float(stop_timeout_s), sleep
        self.identity = controller.idn
        if not self.identity.startswith("New_Focus 8742"):
            raise DeviceError(f"{self._where()}: *IDN? answered {self.identity!r}, not a New_Focus 8742")
        stale = controller.check_errors()
        if stale:
            log.warning("%s: errors queued before connecting: %s", self._where(), stale)

    def _where(self) -> str:
        return f"{self.controller.name} at {self.controller.address}"

    def _do_move_steps(self, axis_number: int, steps: int) -> None:
        self.controller.move_relative(axis_number, steps)

    def _do_stop(self) -> None:
        for number in self.axis_numbers.values():
            self.controller.stop(number)

    def _do_is_moving(self) -> bool:
        return any(not self.controller.motion_done(number) for number in self.axis_numbers.values())

    def _poll_until_stopped(self, timeout_s: float, what: str) -> None:
        poll(self._do_is_moving, lambda moving: not moving, self._sleep, self.poll_interval_s, timeout_s,
             lambda moving: DeviceError(f"{self._where()}: axes still moving {timeout_s:g} s after {what}"))

    def _do_wait(self, timeout_s: float) -> None:
        try:
            self._poll_until_stopped(timeout_s, "waiting for the move")
        except DeviceError:
            self._do_stop()
            raise

    def _do_wait_stopped(self) -> None:
        self._poll_until_stopped(self.stop_timeout_s, "stop")

    def _do_steps_counter(self, axis_number: int) -> int:
        return self.controller.position(axis_number)

    def settings(self) -> dict[str, Any]:
        c = self.controller
        per_axis = {name: {"axis": number, "velocity_steps_per_s": c.velocity(number),
                           "acceleration_steps_per_s2": c.acceleration(number), "motor": c.motor_type(number)}
                    for name, number in self.axis_numbers.items()}
        return {**super().settings(), "id": self.identity, "address": str(c.address), "axes_detail": per_axis}

    def disconnect(self) -> None:
        self.controller.adapter.close()
