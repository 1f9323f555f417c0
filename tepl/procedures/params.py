"""Procedure parameters: values with units and bounds, checked once before anything moves."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A procedure parameter is unknown, malformed or out of bounds; raised before anything moves."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a procedure.

    ``kind`` is float, int, str or bool; ``low``/``high`` bound numbers (inclusive); ``choices`` restricts
    strings. ``unit`` is printed by ``tepl list`` and stored in every run file. ``limit`` names the station
    limit (``StationLimits`` attribute, e.g. "exposure_s") the value must also respect: the bounds shown for a
    station are the tighter of the two (``on_station``).
    """

    name: str
    default: Any
    unit: str = ""
    low: float | None = None
    high: float | None = None
    kind: type = float
    choices: tuple[str, ...] | None = None
    doc: str = ""
    limit: str | None = None

    def on_station(self, limits: Any) -> Parameter:
        """This parameter with its bounds tightened to the station's limit, where the station is stricter."""
        station_range = getattr(limits, self.limit, None) if self.limit else None
        if station_range is None:
            return self
        low, high = station_range.intersect(self.low, self.high)
        return replace(self, low=low, high=high)

    def coerce(self, value: Any) -> Any:
        """Convert (strings from the command line included) and check bounds."""
        try:
            if self.kind in (int, float) and isinstance(value, bool | np.bool_):
                raise TypeError(value)  # True is not a number of µm
            if self.kind is bool:
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = lowered in ("1", "true", "yes", "on")
                value = bool(value)
            elif self.kind is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(value)
            elif self.kind is float:
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: float(10**400), int(inf)
            raise ParameterError(
                f"parameter {self.name}: {value!r} is not a valid {self.kind.__name__}"
                + (f" ({self.unit})" if self.unit else "")
            ) from None
        if self.kind in (int, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ParameterError(f"parameter {self.name}: {value} is not a finite number")
            if self.low is not None and value < self.low or self.high is not None and value > self.high:
                raise ParameterError(
                    f"parameter {self.name} = {value if self.kind is int else format(value, 'g')}"
                    f"{' ' + self.unit if self.unit else ''} is outside its bounds "
                    f"[{self.low if self.low is not None else '-inf'}, "
                    f"{self.high if self.high is not None else 'inf'}] {self.unit}".rstrip()
                )
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"parameter {self.name}: {value!r} is not one of {list(self.choices)}")
        return value

    def describe(self) -> str:
        bounds = ""
        if self.choices:
            bounds = " one of " + "|".join(self.choices)
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            bounds = f" in [{lo}, {hi}]"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} = {self.default!r}{unit}{bounds}" + (f"  ({self.doc})" if self.doc else "")


@dataclass
class ParameterSet:
    """Resolved parameter values of one procedure instance."""

    specs: tuple[Parameter, ...]
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def resolve(cls, specs: tuple[Parameter, ...], given: dict[str, Any]) -> ParameterSet:
        by_name = {p.name: p for p in specs}
        unknown = sorted(set(given) - set(by_name))
        if unknown:
            raise ParameterError(
                f"unknown parameter {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
            )
        values = {p.name: p.coerce(given.get(p.name, p.default)) for p in specs}
        return cls(specs=specs, values=values)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def as_record(self) -> dict[str, dict]:
        """``{name: {"value": v, "unit": u}}`` for the run file."""
        return {p.name: {"value": self.values[p.name], "unit": p.unit} for p in self.specs}


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["pixel_um=0.005", "order=snake"]`` → ``{"pixel_um": "0.005", "order": "snake"}``."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ParameterError(f"--set expects name=value, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out
