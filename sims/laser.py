"""The twin's excitation laser: switching it and setting its power changes the light the World's sample gets."""

from __future__ import annotations

from typing import Any

from tepl.limits import Range
from tepl.roles import DeviceError, Laser


class SimLaser(Laser):
    """A simulated laser whose emission and power the World's sample sees: off, no photons from the sample
    (only dark counts and the calibration lamp); at ``power_mW`` below the rated ``rated_power_mW`` the
    sample's emission scales linearly (``world.excitation_power_fraction``). Starts off."""

    def __init__(self, world: Any, wavelength_nm: float, repetition_rate_hz: float, rated_power_mW: float,
                 power_range_mW: Range | None = None):
        super().__init__(wavelength_nm, repetition_rate_hz, power_range_mW)
        if not rated_power_mW > 0:
            raise ValueError(f"rated laser power must be positive, got {rated_power_mW!r} mW")
        self.world = world
        self.rated_power_mW = float(rated_power_mW)
        self._power_mW = self.rated_power_mW
        world.laser_emitting = False

    @property
    def power_controllable(self) -> bool:
        return True

    def _do_set_emission(self, on: bool) -> None:
        self.world.laser_emitting = bool(on)

    def _do_emission(self) -> bool:
        return bool(self.world.laser_emitting)

    def _do_power_mW(self) -> float:
        return self._power_mW

    def _do_set_power_mW(self, power_mW: float) -> None:
        if power_mW > self.rated_power_mW:
            raise DeviceError(f"SimLaser: {power_mW:g} mW is above the laser's rated {self.rated_power_mW:g} mW")
        self._power_mW = float(power_mW)
        self.world.excitation_power_fraction = self._power_mW / self.rated_power_mW
