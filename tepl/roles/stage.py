"""The closed-loop XYZ stage role. Positions in micrometres."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from tepl.limits import LimitError, Range
from tepl.roles.base import Instrument


class Stage(Instrument, abc.ABC):
    """Closed-loop XYZ sample scanner. Positions in micrometres."""

    axes: tuple[str, ...] = ("x", "y", "z")

    def __init__(self, travel_um: Mapping[str, Range]):
        missing = set(self.axes) - set(travel_um)
        if missing:
            raise ValueError(f"stage travel limits missing for axes {sorted(missing)}")
        self.travel_um = dict(travel_um)

    def move_to_um(self, **targets_um: float) -> None:
        """Start an absolute move of the named axes (``x=10.0, y=12.5``); limits checked first."""
        checked = {}
        for axis, value in targets_um.items():
            if axis not in self.axes:
                raise LimitError(f"unknown stage axis {axis!r}; this stage has {list(self.axes)}")
            checked[axis] = self.travel_um[axis].check(value, f"stage {axis} target")
        if checked:
            self._do_move_to(checked)

    def move_and_wait_um(self, timeout_s: float | None = None, **targets_um: float) -> None:
        """Move and wait on target; ``timeout_s`` None uses the stage's configured settle timeout."""
        self.move_to_um(**targets_um)
        self.wait_on_target(timeout_s)

    @abc.abstractmethod
    def position_um(self) -> dict[str, float]:
        """Measured (sensor) position of every axis, µm."""

    @abc.abstractmethod
    def on_target(self) -> bool:
        """True when every axis has settled on its commanded target."""

    @abc.abstractmethod
    def wait_on_target(self, timeout_s: float | None = None) -> None:
        """Block until on target; raise DeviceError after ``timeout_s`` seconds (None: the configured one)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop all motion at once."""

    @abc.abstractmethod
    def _do_move_to(self, targets_um: dict[str, float]) -> None: ...

    def make_safe(self) -> str:
        self.stop()
        return "stopped"

    def status(self, name: str) -> dict[str, Any]:
        return {"stage_um": self.position_um()}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("stage_um",)

    def settings(self) -> dict:
        return {"travel_um": {a: [r.low, r.high] for a, r in self.travel_um.items()}}
