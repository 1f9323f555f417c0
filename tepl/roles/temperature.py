"""The temperature-controller role: a cryostat's sample-stage temperature, its setpoint and its heater.

Inputs are named as on the controller (``"A"``), outputs are control loops numbered from 1. Setpoints are
checked against the instrument's configured ``Range`` (``instruments.<role>.setpoint_range_k``) before any
byte reaches the controller. Heater ranges are ``off``, ``low``, ``medium``, ``high``.

The safe state is "heater off" (every heater output's range set to off) unless the config says
``safe_heater: keep``: then the controller is left as it is (a sample held cold by a running loop stays
cold). A cryostat stops nothing that moves, so it is made safe with the stages (``safe_group`` "motion").
Temperatures in K, times in s.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from typing import Any

from tepl.limits import Range
from tepl.roles.base import DeviceError, Instrument

HEATER_RANGES = ("off", "low", "medium", "high")
SAFE_HEATER = ("off", "keep")


class TemperatureController(Instrument, abc.ABC):
    """A temperature controller: read inputs, set a loop's setpoint and heater range, wait until stable."""

    safe_group = "motion"

    def __init__(self, setpoint_range_k: Range, input: str = "A", output: int = 1, safe_heater: str = "off",
                 sleep: Callable[[float], None] = time.sleep, poll_interval_s: float = 1.0):
        if safe_heater not in SAFE_HEATER:
            raise ValueError(f"safe_heater must be one of {SAFE_HEATER}, got {safe_heater!r}")
        if not poll_interval_s > 0:
            raise ValueError(f"poll_interval_s must be positive, got {poll_interval_s!r}")
        self.setpoint_range_k = setpoint_range_k
        self.input, self.output = input, int(output)
        self.safe_heater = safe_heater
        self._sleep = sleep
        self.poll_interval_s = float(poll_interval_s)

    # ---- driver hooks ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _do_temperature_k(self, input: str) -> float: ...

    @abc.abstractmethod
    def _do_setpoint_k(self, output: int) -> float: ...

    @abc.abstractmethod
    def _do_set_setpoint_k(self, output: int, kelvin: float) -> None: ...

    @abc.abstractmethod
    def _do_heater_range(self, output: int) -> str: ...

    @abc.abstractmethod
    def _do_set_heater_range(self, output: int, name: str) -> None: ...

    @abc.abstractmethod
    def _do_heater_percent(self, output: int) -> float: ...

    @abc.abstractmethod
    def _do_all_heaters_off(self) -> None: ...

    def _where(self) -> str:
        return type(self).__name__

    # ---- interface -------------------------------------------------------------------------------
    def temperature_k(self, input: str | None = None) -> float:
        """The reading of ``input`` (default: the configured control input), K."""
        value = float(self._do_temperature_k(self.input if input is None else input))
        if not math.isfinite(value):
            raise DeviceError(f"{self._where()}: input {input or self.input} read {value!r} K")
        return value

    def setpoint_k(self, output: int | None = None) -> float:
        return float(self._do_setpoint_k(self.output if output is None else int(output)))

    def set_setpoint_k(self, output: int | None, kelvin: float) -> float:
        """Set the loop's setpoint after checking it against ``setpoint_range_k``; returns it."""
        kelvin = self.setpoint_range_k.check(kelvin, "setpoint")
        self._do_set_setpoint_k(self.output if output is None else int(output), kelvin)
        return kelvin

    def heater_range(self, output: int | None = None) -> str:
        """``off``, ``low``, ``medium`` or ``high``."""
        return self._do_heater_range(self.output if output is None else int(output))

    def set_heater_range(self, output: int | None, name: str) -> None:
        if name not in HEATER_RANGES:
            raise ValueError(f"{self._where()}: heater range {name!r} is not one of {HEATER_RANGES}")
        self._do_set_heater_range(self.output if output is None else int(output), name)

    def heater_percent(self, output: int | None = None) -> float:
        return float(self._do_heater_percent(self.output if output is None else int(output)))

    @abc.abstractmethod
    def wait_stable(self, band_k: float, hold_s: float, timeout_s: float, input: str | None = None,
                    output: int | None = None, wall_timeout_s: float | None = None) -> float:
        """Wait until the reading of ``input`` stays within ``band_k`` of the loop's setpoint for ``hold_s``;
        returns the last reading. Bounded by ``timeout_s`` of device time (the station's sleep: the World's
        clock on a simulated station) and ``wall_timeout_s`` of wall time (default ``timeout_s``); a
        ``DeviceError`` past either."""

    # ---- lifecycle -------------------------------------------------------------------------------
    def make_safe(self) -> str:
        if self.safe_heater == "keep":
            return "heater left as configured"
        self._do_all_heaters_off()
        if self.heater_range() != "off":
            raise DeviceError(f"{self._where()}: heater range still {self.heater_range()!r} after switching off")
        return "heater off"

    def status(self, name: str) -> dict[str, Any]:
        return {f"{name}_k": self.temperature_k(), f"{name}_setpoint_k": self.setpoint_k(),
                f"{name}_heater": self.heater_range(), f"{name}_heater_percent": self.heater_percent()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return (f"{name}_k", f"{name}_setpoint_k", f"{name}_heater", f"{name}_heater_percent")

    def settings(self) -> dict:
        return {"input": self.input, "output": self.output, "temperature_k": self.temperature_k(),
                "setpoint_k": self.setpoint_k(), "heater_range": self.heater_range(),
                "setpoint_range_k": [self.setpoint_range_k.low, self.setpoint_range_k.high],
                "safe_heater": self.safe_heater}
