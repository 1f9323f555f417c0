"""The laser role: the excitation source, its line, its pulses and its power.

A laser has a wavelength (nm), a repetition rate (Hz; 0 for a CW laser), and an output power (mW) that a
driver may or may not be able to set. Power requests are checked against the station's laser power limit
(``limits.max_laser_power_mW``) before any byte reaches the laser. ``open`` switches the emission on (a run
that excites opens the whole excitation path), ``make_safe`` switches it off; a laser whose emission cannot
be switched from here (a HeNe on its own supply) says so, and the excitation shutter (made safe in the same
group, ``safe_group`` "excitation") is what blocks it.
"""

from __future__ import annotations

import abc
from typing import Any

from tepl.limits import LimitError, Range
from tepl.roles.base import DeviceError, Instrument


class Laser(Instrument, abc.ABC):
    """An excitation laser. ``power_range_mW`` is the power the station accepts (its limit), ``None`` when the
    config states none (then a power request is refused: nothing checks it)."""

    safe_group = "excitation"

    def __init__(self, wavelength_nm: float, repetition_rate_hz: float = 0.0,
                 power_range_mW: Range | None = None):
        if not wavelength_nm > 0:
            raise ValueError(f"laser wavelength must be positive, got {wavelength_nm!r} nm")
        if not repetition_rate_hz >= 0:
            raise ValueError(f"laser repetition rate must be >= 0 (0 for CW), got {repetition_rate_hz!r} Hz")
        self.wavelength_nm = float(wavelength_nm)
        self.repetition_rate_hz = float(repetition_rate_hz)
        self.power_range_mW = power_range_mW

    # ---- what it is ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``"cw"`` or ``"pulsed"``."""
        return "pulsed" if self.repetition_rate_hz > 0 else "cw"

    @property
    def switchable(self) -> bool:
        """Whether the emission can be switched on and off from here."""
        return True

    @property
    def power_controllable(self) -> bool:
        """Whether the output power can be set from here."""
        return False

    # ---- driver hooks ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _do_set_emission(self, on: bool) -> None: ...

    @abc.abstractmethod
    def _do_emission(self) -> bool: ...

    @abc.abstractmethod
    def _do_power_mW(self) -> float: ...

    def _do_set_power_mW(self, power_mW: float) -> None:
        raise DeviceError(f"{type(self).__name__}: the output power cannot be set from here")

    # ---- interface -------------------------------------------------------------------------------
    def open(self) -> None:
        """Switch the emission on (the run does this for a procedure that excites)."""
        if self.switchable:
            self._do_set_emission(True)

    def shut(self) -> None:
        """Switch the emission off (nothing to do on a laser that cannot be switched from here)."""
        if self.switchable:
            self._do_set_emission(False)

    def is_open(self) -> bool:
        """Whether the laser emits."""
        return bool(self._do_emission())

    def power_mW(self) -> float:
        """Output power, mW (as set, or as stated for a laser whose power is not controlled)."""
        return float(self._do_power_mW())

    def set_power_mW(self, power_mW: float) -> float:
        """Set the output power after checking it against the station's laser power limit; returns it."""
        if not self.power_controllable:
            raise DeviceError(f"{type(self).__name__}: the output power cannot be set from here")
        if self.power_range_mW is None:
            raise LimitError("laser power: the station states no limits.max_laser_power_mW; refusing to set it")
        power_mW = self.power_range_mW.check(power_mW, "laser power")
        self._do_set_power_mW(power_mW)
        return power_mW

    # ---- lifecycle -------------------------------------------------------------------------------
    def make_safe(self) -> str:
        if not self.switchable:
            return "not switchable from here (the excitation shutter blocks it)"
        self._do_set_emission(False)
        if self._do_emission():
            raise DeviceError(f"{type(self).__name__}: still emitting after switching off")
        return "off"

    def status(self, name: str) -> dict[str, Any]:
        return {name: "on" if self.is_open() else "off", f"{name}_power_mW": self.power_mW()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return (name, f"{name}_power_mW")

    def settings(self) -> dict:
        out: dict[str, Any] = {"wavelength_nm": self.wavelength_nm, "mode": self.mode,
                               "repetition_rate_hz": self.repetition_rate_hz, "power_mW": self.power_mW(),
                               "emission": self.is_open(), "switchable": self.switchable,
                               "power_controllable": self.power_controllable}
        if self.power_range_mW is not None:
            out["power_range_mW"] = [self.power_range_mW.low, self.power_range_mW.high]
        return out


class FixedLaser(Laser):
    """A laser on its own supply (a HeNe, a diode with a knob): always on as far as this station knows, at the
    power the config states. The excitation shutter is what blocks it."""

    def __init__(self, wavelength_nm: float, repetition_rate_hz: float = 0.0, power_mW: float = 0.0,
                 power_range_mW: Range | None = None):
        super().__init__(wavelength_nm, repetition_rate_hz, power_range_mW)
        if power_range_mW is not None:
            power_range_mW.check(power_mW, "stated laser power")
        self._power_mW = float(power_mW)

    @property
    def switchable(self) -> bool:
        return False

    def _do_set_emission(self, on: bool) -> None:  # never called: not switchable
        raise DeviceError("FixedLaser: the emission cannot be switched from here")

    def _do_emission(self) -> bool:
        return True

    def _do_power_mW(self) -> float:
        return self._power_mW
