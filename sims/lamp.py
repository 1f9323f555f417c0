"""The twin's Ar-Hg calibration lamp in front of the spectrograph slit."""

from __future__ import annotations

from typing import Any

from tepl.roles import Shutter


class SimLamp(Shutter):
    """The simulated Ar-Hg calibration lamp (open = on): the World's spectrum gains its lines while on."""

    def __init__(self, world: Any):
        self.world = world

    def open(self) -> None:
        self.world.lamp_on = True

    def shut(self) -> None:
        self.world.lamp_on = False

    def is_open(self) -> bool:
        return bool(self.world.lamp_on)
