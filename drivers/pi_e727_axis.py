"""One axis of the PI E-727 (``tepl.drivers.pi_e727.E727``) as a pymeasure channel: ``E727Axis`` reads like
the manual's command table for a single axis (``SVO``, ``MOV``, ``VCO``, ``VEL``, ``DCO``, ``POS?``, ``ONT?``,
``TMN?``, ``TMX?``, ``ATZ?``, ``CST?``), positions in µm, velocities in µm/s. Replies ``axis=value`` are
checked to name the axis asked about; one that does not puts the controller's link out of step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pymeasure.instruments import Channel
from pymeasure.instruments.validators import strict_discrete_set

from tepl.drivers.pi_gcs import finite_in_range, gcs_number, parse_flag, parse_float, split_axis_line
from tepl.roles import DeviceError

_FLAG = dict(validator=strict_discrete_set, values=(False, True), set_process=int, cast=str, maxsplit=0,
             get_process=parse_flag, check_set_errors=True)
_NUMBER = dict(set_process=gcs_number, cast=str, maxsplit=0, get_process=parse_float, check_set_errors=True)


def _axis_measurement(command: str, docs: str, parse: Callable[[str], object] = parse_float):
    return Channel.measurement(command, docs, cast=str, maxsplit=0, get_process=parse)


class E727Axis(Channel):
    """One controller axis, addressed by its GCS identifier; replies ``axis=value`` are checked and unwrapped."""

    def ask(self, command: str, query_delay: float | None = None) -> str:
        try:
            axis, value = split_axis_line(super().ask(command, query_delay))
        except DeviceError as exc:
            raise self.parent.out_of_step(str(exc)) from None
        if axis != str(self.id):
            raise self.parent.out_of_step(f"answered {command.format(ch=self.id)!r} for axis {axis!r}, "
                                          f"asked about axis {self.id!r}")
        return value

    servo_enabled = Channel.control(
        "SVO? {ch}", "SVO {ch} %d", "Control the closed-loop servo (bool).", **_FLAG)
    target_um = Channel.control(
        "MOV? {ch}", "MOV {ch} %s", "Control the commanded absolute target (float, µm); setting starts a move. "
        "Its range is the axis's TMN?/TMX? once ``E727.travel_range_um`` has read them.",
        validator=finite_in_range, values=(-math.inf, math.inf), dynamic=True, **_NUMBER)
    velocity_control_enabled = Channel.control(
        "VCO? {ch}", "VCO {ch} %d", "Control velocity control (bool): on, moves run at the VEL velocity.",
        **_FLAG)

    @property
    def velocity_um_s(self) -> float:
        """Control the closed-loop velocity (float, µm/s, > 0). Setting it switches velocity control on
        (``VCO {ch} 1``) first: with it off the controller ignores VEL."""
        return parse_float(self.ask("VEL? {ch}"))

    @velocity_um_s.setter
    def velocity_um_s(self, value: float) -> None:
        self.parent.set_velocity_um_s({str(self.id): value})

    drift_compensation_enabled = Channel.control(
        "DCO? {ch}", "DCO {ch} %d", "Control drift compensation (bool).", **_FLAG)
    position_um = _axis_measurement("POS? {ch}", "Get the sensor position (float, µm).")
    on_target = _axis_measurement("ONT? {ch}", "Get the on-target state (bool).", parse_flag)
    travel_min_um = _axis_measurement("TMN? {ch}", "Get the lowest commandable position (float, µm).")
    travel_max_um = _axis_measurement("TMX? {ch}", "Get the highest commandable position (float, µm).")
    autozero_done = _axis_measurement("ATZ? {ch}", "Get whether AutoZero succeeded (bool).", parse_flag)
    stage_type = _axis_measurement("CST? {ch}", "Get the connected stage type (str).", str)
