"""Safety limits as typed, named values: the one place a value is checked against a limit.

A :class:`Range` is a closed interval with a unit and, when it comes from a station config, the config key
it came from (``limits.exposure_s``), so every refusal names the limit an operator can look up. The station
builds a :class:`StationLimits` from its config once; procedures, roles and plans check values through these
objects and never read the raw config mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class LimitError(ValueError):
    """A request outside a configured safety limit; raised before anything moves."""


@dataclass(frozen=True)
class Range:
    """A closed interval ``[low, high]`` in ``unit``; ``name`` is the config key it came from, if any."""

    low: float
    high: float
    unit: str = ""
    name: str = ""

    def check(self, value: float, what: str) -> float:
        """``value`` as a float, or LimitError naming ``what``, the value, the bounds and the limit's key."""
        value = float(value)
        if not math.isfinite(value) or value < self.low or value > self.high:
            where = f" ({self.name})" if self.name else ""
            raise LimitError(
                f"{what} = {value:g} {self.unit} is outside the allowed range "
                f"[{self.low:g}, {self.high:g}] {self.unit}{where}".replace("  ", " ")
            )
        return value

    def describe(self) -> str:
        """``[0, 100] µm``."""
        return f"[{self.low:g}, {self.high:g}] {self.unit}".rstrip()

    def intersect(self, low: float | None, high: float | None) -> tuple[float | None, float | None]:
        """The tighter of this range and ``[low, high]`` (None: unbounded on that side)."""
        return (self.low if low is None else max(low, self.low), self.high if high is None else min(high, self.high))


def ceiling(name: str, high: float, unit: str) -> Range:
    """A limit with only a maximum (``max_force_nN``): the range [0, high]."""
    return Range(0.0, float(high), unit, name)


@dataclass(frozen=True)
class Interlock:
    """A safety rule in force during a run (the way bluesky's suspenders are objects): its name, the limit it
    holds, a sentence for the operator, and what the plan checked against it before anything moved."""

    name: str
    limit: Range
    rule: str
    checked: str = ""

    def describe(self) -> str:
        key = f" ({self.limit.name})" if self.limit.name else ""
        text = f"{self.name} {self.limit.describe()}{key}: {self.rule}"
        return f"{text}; {self.checked}" if self.checked else text


_UNITS = {"tip_z_nm": "nm", "exposure_s": "s", "acquisition_s": "s"}
_CEILINGS = {"press_depth_nm": ("max_press_depth_nm", "nm"), "force_nN": ("max_force_nN", "nN"),
             "pressure_GPa": ("max_pressure_GPa", "GPa"), "count_rate_per_s": ("max_count_rate_per_s", "1/s"),
             "laser_power_mW": ("max_laser_power_mW", "mW")}


@dataclass(frozen=True)
class StationLimits:
    """Every limit a station config states, typed; ``None`` where the station has no such limit.

    ``travel_um`` maps stage axis -> Range (µm); ``tip_z_nm`` the tip apex height range; ``exposure_s`` the CCD
    exposure; ``acquisition_s`` a photon-counting time; ``press_depth_nm``, ``force_nN``, ``pressure_GPa`` and
    ``count_rate_per_s`` and ``laser_power_mW`` are ceilings [0, max]."""

    travel_um: Mapping[str, Range] = field(default_factory=dict)
    tip_z_nm: Range | None = None
    exposure_s: Range | None = None
    acquisition_s: Range | None = None
    press_depth_nm: Range | None = None
    force_nN: Range | None = None
    pressure_GPa: Range | None = None
    count_rate_per_s: Range | None = None
    laser_power_mW: Range | None = None

    @classmethod
    def from_config(cls, limits: Mapping[str, Any]) -> StationLimits:
        """From the ``limits`` section of a validated station config."""
        travel = {axis: Range(float(low), float(high), "µm", f"limits.stage_travel_um.{axis}")
                  for axis, (low, high) in limits.get("stage_travel_um", {}).items()}
        values: dict[str, Any] = {"travel_um": travel}
        for key, unit in _UNITS.items():
            if key in limits:
                low, high = limits[key]
                values[key] = Range(float(low), float(high), unit, f"limits.{key}")
        for attr, (key, unit) in _CEILINGS.items():
            if key in limits:
                values[attr] = ceiling(f"limits.{key}", limits[key], unit)
        return cls(**values)

    def require(self, attr: str) -> Range:
        """The limit ``attr`` (e.g. "exposure_s"), or LimitError when the station states none."""
        limit = getattr(self, attr)
        if limit is None:
            raise LimitError(f"this station states no {attr} limit")
        return limit
