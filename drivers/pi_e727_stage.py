"""The closed-loop stage role on a PI E-727: servo on, travel checked against TMN?/TMX?, ONT? polling."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from tepl.drivers.pi_e727 import E727
from tepl.drivers.polling import poll
from tepl.roles import DeviceError, Range, Stage

log = logging.getLogger(__name__)


DEFAULT_AXIS_MAP = {"x": "1", "y": "2", "z": "3"}


class E727Stage(Stage):
    """Closed-loop XYZ stage on an E-727: servos on at start, one MOV per move, ONT? polled to settle.

    ``travel_um`` (per role axis, µm) defaults to the controller's TMN?/TMX? range and may only narrow it.
    ``sleep`` is how the stage waits between polls (``world.clock.advance`` on a simulated station).
    ``settle_s`` (s, default one poll interval): after a move the first ONT? is asked this long after the MOV
    was accepted. A closed-loop piezo step is on target only once the servo has held it there for its settling
    time (milliseconds on a P-611), so an ONT? sent at once would only cost a round trip.
    """

    def __init__(self, instrument: E727, axis_map: Mapping[str, str] | None = None,
                 travel_um: Mapping[str, Range] | None = None, sleep: Callable[[float], None] = time.sleep,
                 settle_timeout_s: float = 10.0, poll_interval_s: float = 0.005, settle_s: float | None = None):
        self.instrument = instrument
        self.axis_map = dict(DEFAULT_AXIS_MAP if axis_map is None else axis_map)
        if sorted(self.axis_map) != sorted(self.axes):
            raise ValueError(f"axis_map must map exactly the stage axes {list(self.axes)}, got {self.axis_map}")
        if not settle_timeout_s > 0 or not poll_interval_s > 0:
            raise ValueError("settle_timeout_s and poll_interval_s must be positive")
        self._sleep, self.settle_timeout_s, self.poll_interval_s = sleep, settle_timeout_s, poll_interval_s
        self.settle_s = poll_interval_s if settle_s is None else float(settle_s)
        if not 0 <= self.settle_s <= settle_timeout_s:
            raise ValueError(f"settle_s {settle_s!r} s must lie in [0, settle_timeout_s = {settle_timeout_s!r} s]")
        self._just_moved = False  # a MOV was accepted and no ONT? has been asked since
        stale = instrument.error_code  # ERR? clears what an earlier session left, so it is not blamed on us
        if stale:
            log.warning("E-727 reported error %s left from before this session; cleared", stale)
        controller_axes = instrument.axes()
        for role, axis in self.axis_map.items():
            if axis not in controller_axes:
                raise ValueError(f"stage axis {role} is mapped to E-727 axis {axis!r}, "
                                 f"but the controller has axes {controller_axes}")
        self._controller_axes = [self.axis_map[role] for role in self.axes]
        self.last_targets_um: dict[str, float] = {}
        instrument.set_servo({axis: True for axis in self._controller_axes})
        ranges = instrument.travel_range_um(self._controller_axes)
        self.controller_travel_um = {role: Range(*ranges[self.axis_map[role]], unit="µm") for role in self.axes}
        super().__init__(self._checked_travel(travel_um))

    def _checked_travel(self, travel_um: Mapping[str, Range] | None) -> dict[str, Range]:
        if travel_um is None:
            return dict(self.controller_travel_um)
        travel = {}
        for role, limits in travel_um.items():
            if role not in self.axis_map:
                raise ValueError(f"travel limits given for unknown stage axis {role!r}")
            limits = limits if isinstance(limits, Range) else Range(*limits, unit="µm")
            hw = self.controller_travel_um[role]
            if not hw.low <= limits.low <= limits.high <= hw.high:
                raise ValueError(
                    f"configured travel for stage axis {role} [{limits.low:g}, {limits.high:g}] µm exceeds "
                    f"the E-727 range of axis {self.axis_map[role]} [{hw.low:g}, {hw.high:g}] µm")
            travel[role] = limits
        return travel

    def _by_role(self, values: Mapping[str, object]) -> dict:
        return {role: values[self.axis_map[role]] for role in self.axes}

    def position_um(self) -> dict[str, float]:
        return self._by_role(self.instrument.positions_um(self._controller_axes))

    def on_target(self) -> bool:
        return all(self.instrument.on_target_states(self._controller_axes).values())

    def wait_on_target(self, timeout_s: float | None = None) -> None:
        """Poll ONT? every ``poll_interval_s`` until all axes settle (right after a move, from ``settle_s`` on);
        after ``timeout_s`` (s, default ``settle_timeout_s``) of device time or of wall-clock time, whichever
        comes first, stop every axis (#24, as ``STP``) so that nothing goes on moving, then raise DeviceError."""
        timeout_s = self.settle_timeout_s if timeout_s is None else float(timeout_s)
        paused_s = 0.0
        if self._just_moved:  # the axes cannot be on target before their settling time has passed
            self._just_moved = False
            paused_s = min(self.settle_s, timeout_s)
            self._sleep(paused_s)
        poll(self.on_target, bool, self._sleep, self.poll_interval_s, timeout_s - paused_s,
             lambda _: self._not_on_target(timeout_s))

    def _not_on_target(self, timeout_s: float) -> DeviceError:
        """Stop the axes first (the error is raised with them stopped), then say where they are."""
        where = f"{self.instrument.where}: stage not on target after {timeout_s:g} s (ONT?)"
        try:
            self.stop()
        except DeviceError as exc:
            return DeviceError(f"{where}; stopping the axes (#24) failed too, they may still move: {exc}")
        try:
            return DeviceError(f"{where}: stopped (#24) at {self.position_um()} µm on the way to "
                               f"{self.last_targets_um} µm")
        except DeviceError as exc:  # a controller that stopped answering: say so, not the position
            return DeviceError(f"{where}; stopped (#24); reading the position failed: {exc}")

    def stop(self) -> None:
        self.instrument.stop()

    def _do_move_to(self, targets_um: dict[str, float]) -> None:
        self.last_targets_um = dict(targets_um)  # role axis -> µm, for the message of a wait that times out
        self._just_moved = False
        self.instrument.move_um({self.axis_map[role]: value for role, value in targets_um.items()})
        self._just_moved = True

    def disconnect(self) -> None:
        """Close the connection to the E-727 (TCP socket or serial port); the servos stay on, holding position."""
        self.instrument.adapter.close()

    def settings(self) -> dict:
        inst, axes = self.instrument, self._controller_axes
        return {
            **super().settings(), "idn": inst.idn, "axis_map": dict(self.axis_map),
            "servo": self._by_role(inst.servo_states(axes)),
            "velocity_um_s": self._by_role(inst.velocities_um_s(axes)),
            "velocity_control": self._by_role(inst.velocity_control_states(axes)),
            "controller_travel_um": {r: [t.low, t.high] for r, t in self.controller_travel_um.items()},
            "settle_timeout_s": self.settle_timeout_s, "poll_interval_s": self.poll_interval_s,
        }
