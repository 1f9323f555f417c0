"""The shutter role: a shutter or a switchable light source (open lets light through)."""

from __future__ import annotations

import abc
from typing import Any

from tepl.roles.base import DeviceError, Instrument


class Shutter(Instrument, abc.ABC):
    """A shutter (or a switchable light source, e.g. a calibration lamp): open lets light through."""

    safe_group = "shutter"

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def shut(self) -> None:
        """Block the light. Must be safe to call in any state, repeatedly."""

    @abc.abstractmethod
    def is_open(self) -> bool: ...

    def make_safe(self) -> str:
        self.shut()
        if self.is_open():
            raise DeviceError("still open after shutting")
        return "closed"

    def status(self, name: str) -> dict[str, Any]:
        return {name: "open" if self.is_open() else "closed"}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return (name,)

    def settings(self) -> dict:
        return {"open": self.is_open()}
