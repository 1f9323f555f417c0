"""A calibration lamp the operator places and switches by hand: the driver is a question to the operator."""

from __future__ import annotations

import sys
from collections.abc import Callable

from tepl.roles import DeviceError, Shutter


class ManualLamp(Shutter):
    """A lamp the operator places by hand: ``open`` asks the operator and waits for the answer.

    ``confirm(message) -> bool`` asks; the default reads a terminal and refuses when there is none.
    """

    def __init__(self, confirm: Callable[[str], bool] | None = None) -> None:
        self._on = False
        self._confirm = confirm or _confirm_at_terminal

    def open(self) -> None:
        if not self._confirm("place the Ar-Hg lamp in front of the spectrograph slit, switch it on"):
            raise DeviceError("the operator did not confirm the Ar-Hg lamp is on")
        self._on = True

    def shut(self) -> None:
        self._on = False

    def is_open(self) -> bool:
        return self._on


def _confirm_at_terminal(message: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise DeviceError(f"{message}: needs an operator at a terminal (no terminal here)")
    return input(f"{message}, then press Enter (n to cancel): ").strip().lower() not in ("n", "no")
