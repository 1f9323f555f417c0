"""How a function of the simulated PicoQuant libraries is called: argument checks (ints, ranges) and the
``api`` decorator that takes the call's wire time, checks the device state, brings the unit's measurement up
to the present and answers argument errors and functions a model lacks with the library's return codes;
``reports`` builds the functions that only report values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tepl.sims.c_args import ArgError, report_function, val
from tepl.sims.picoquant_spec import ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED_FUNCTION


def int_arg(arg: Any, position: int) -> int:
    """An int argument (Python int or ctypes integer); anything else is the library's invalid argument."""
    value = val(arg)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgError(position)
    return int(value)


def in_range(value: int, low: int, high: int, position: int) -> int:
    if not low <= value <= high:
        raise ArgError(position)
    return value


class Unsupported(Exception):
    """The function does not exist on this model (TH260Lib answers TH260_ERROR_UNSUPPORTED_FUNCTION)."""


def api(needs: str = "init"):
    """Simulated library function: takes the call's wire time, checks the device state (``needs`` is
    "none", "open" or "init"), brings the measurement up to the present, maps argument errors to codes."""

    def wrap(fn):
        @functools.wraps(fn)
        def call(self, *args):
            with self._lock:
                self.world.clock.advance(self.model.wire_time_s)
                if needs != "none":
                    code = self._device_state(args[0] if args else None, needs)
                    if code:
                        return code
                    self._catch_up()
                try:
                    return fn(self, *args)
                except ArgError:
                    return ERROR_INVALID_ARGUMENT
                except Unsupported:
                    return ERROR_UNSUPPORTED_FUNCTION

        return call

    return wrap


def reports(*values: Callable[[Any], Any]):
    """A library function ``(devidx, out_1, ..., out_n)`` that only reports: output i gets ``values[i](unit)``,
    text into a char buffer, a number through ``byref``."""
    return report_function(api(), values)
