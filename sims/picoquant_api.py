"""How a function of the simulated PicoQuant libraries is called: argument checks (ints, ranges) and the
``api`` decorator that takes the call's wire time, checks the device state, brings the unit's measurement up
to the present and answers argument errors and functions a model lacks with the library's return codes;
``reports`` builds the functions that only report values.

Faults (``unit.faults``, ``tepl.sims.faults.Faults``, all off by default; a fault names its call by the C
function, ``only={"CTCStatus"}``): ``interrupt`` raises KeyboardInterrupt in the call, ``delay_s`` makes
it take that much wall time, ``error_code`` is returned instead of running it, ``stall`` freezes the running
measurement (CTCStatus reports 0 for ever, ReadFiFo delivers nothing).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tepl.sims.c_args import ArgError, report_function, set_out, val
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
            if self.faults.any and (fault := self.faults.hit(fn.__name__)) is not None:
                answer = _faulty_call(fault, fn.__name__, args)
                if answer is not None:
                    return answer
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


def _faulty_call(fault: Any, name: str, args: tuple) -> int | None:
    """What a fault does to one call: its return code, or None when the call then runs as usual."""
    fault.interrupt_now()
    if fault.delay_s is not None:
        time.sleep(min(fault.delay_s, 60.0))
    if fault.error_code is not None:
        return int(fault.error_code)
    if fault.stall and name.endswith("CTCStatus"):
        set_out(args[1], 0, 2)  # the acquisition time never elapses
        return 0
    if fault.stall and name.endswith("ReadFiFo"):
        set_out(args[3], 0, 4)  # nothing arrives
        return 0
    return None


def reports(*values: Callable[[Any], Any]):
    """A library function ``(devidx, out_1, ..., out_n)`` that only reports: output i gets ``values[i](unit)``,
    text into a char buffer, a number through ``byref``."""
    return report_function(api(), values)
