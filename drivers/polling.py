"""Waiting on an instrument: read it every ``interval_s`` until a condition holds or ``timeout_s`` has passed.

The time is counted as the sum of the sleeps (``sleep`` is ``time.sleep`` on the rig and the World clock's
``advance`` on a simulated station), so a simulated wait is as long as a real one. Times in s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def poll(read: Callable[[], R], done: Callable[[R], bool], sleep: Callable[[float], None], interval_s: float,
         timeout_s: float, failure: Callable[[R], Exception]) -> R:
    """Call ``read()`` until ``done(reading)``, sleeping ``interval_s`` between reads; return that reading.
    Once ``timeout_s`` of sleeps have passed without it, raise ``failure(last reading)``."""
    waited_s = 0.0
    while True:
        reading = read()
        if done(reading):
            return reading
        if waited_s >= timeout_s:
            raise failure(reading)
        sleep(interval_s)
        waited_s += interval_s
