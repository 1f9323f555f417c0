"""Waiting on an instrument with two budgets: device time and wall-clock time.

Every wait in the drivers is a ``Wait``: the time it may take in *device time* (the sum of the sleeps;
``sleep`` is ``time.sleep`` on the rig and the World clock's ``advance`` on a simulated station, so a
simulated wait is as long as a real one) and a *wall-clock deadline* (``time.monotonic``). The second bound
is what ends a wait on a stalled simulated device: there each sleep advances simulated time at once, so a
device that never reports done would otherwise be polled forever in no simulated time at all, or, if its
calls are slow, in unbounded real time. A wait that runs out raises ``WaitTimeout`` (a ``DeviceError``)
naming the instrument, what it waited for and how long, after the caller's ``on_timeout`` (stop, abort)
has run. Nothing here catches ``KeyboardInterrupt``: Ctrl-C ends any wait at its next bytecode.

``poll`` is the common form (read until a condition holds). Times in s.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from tepl.roles import DeviceError

R = TypeVar("R")


class WaitTimeout(DeviceError):
    """A wait on ``instrument`` for ``what`` ran out: ``waited_s`` of device time, ``wall_s`` of wall time."""

    def __init__(self, message: str, instrument: str = "", what: str = "", waited_s: float = 0.0,
                 wall_s: float = 0.0):
        super().__init__(message)
        self.instrument, self.what, self.waited_s, self.wall_s = instrument, what, waited_s, wall_s


class Wait:
    """One bounded wait on ``instrument`` for ``what`` (both in words, for the error message).

    ``budget_s``: the longest the wait may take in device time (sum of ``pause`` durations, s).
    ``wall_s``: the longest it may take in wall-clock time (s, ``clock``); default ``budget_s``.
    Both must be finite and >= 0. ``sleep`` is the station's wait function. ``instrument`` and ``what`` may
    be functions giving the words, asked only when a message needs them (a wait that ends in time, the usual,
    does not spend the time to format them).
    """

    def __init__(self, instrument: str | Callable[[], str], what: str | Callable[[], str], budget_s: float,
                 sleep: Callable[[float], None], wall_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        wall_s = budget_s if wall_s is None else wall_s
        self._instrument, self._what = instrument, what
        for name, value in (("budget_s", budget_s), ("wall_s", wall_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{self.instrument}: the wait for {self.what} needs a finite {name} >= 0, got "
                                 f"{value!r} s")
        self.budget_s, self.wall_s = float(budget_s), float(wall_s)
        self.sleep, self.clock = sleep, clock
        self.waited_s = 0.0
        self._started = clock()
        self._excluded_s = 0.0

    @property
    def instrument(self) -> str:
        return self._instrument() if callable(self._instrument) else self._instrument

    @property
    def what(self) -> str:
        return self._what() if callable(self._what) else self._what

    @property
    def wall_elapsed_s(self) -> float:
        """Wall-clock time spent in this wait so far (s), without the time spent ``outside``."""
        return self.clock() - self._started - self._excluded_s

    @property
    def expired(self) -> bool:
        return self.waited_s >= self.budget_s or self.wall_elapsed_s >= self.wall_s

    def pause(self, interval_s: float) -> None:
        """Sleep ``interval_s`` (device time) and count it."""
        self.sleep(interval_s)
        self.waited_s += interval_s

    def count(self, waited_s: float) -> None:
        """Count ``waited_s`` of device time spent waiting elsewhere (inside a library's own timed wait)."""
        self.waited_s += waited_s

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Time spent in this block is not the device's (a generator handing a block to its consumer)."""
        start = self.clock()
        try:
            yield
        finally:
            self._excluded_s += self.clock() - start

    def error(self, detail: str = "") -> WaitTimeout:
        """The ``WaitTimeout`` for this wait, with ``detail`` (last reading, what was done) appended."""
        which = "wall-clock deadline" if self.waited_s < self.budget_s else "time budget"
        message = (f"{self.instrument}: waited for {self.what}; it did not finish within the {which} "
                   f"({self.waited_s:.3g} s of device time of {self.budget_s:.3g} s, "
                   f"{self.wall_elapsed_s:.3g} s of wall time of {self.wall_s:.3g} s)")
        return WaitTimeout(f"{message}; {detail}" if detail else message, self.instrument, self.what,
                           self.waited_s, self.wall_elapsed_s)

    def check(self, on_timeout: Callable[[], object] | None = None, detail: str = "") -> None:
        """Raise ``error(detail)`` once the wait has expired, after ``on_timeout()`` (stop the device)."""
        if self.expired:
            if on_timeout is not None:
                on_timeout()
            raise self.error(detail)


def poll(read: Callable[[], R], done: Callable[[R], bool], sleep: Callable[[float], None], interval_s: float,
         timeout_s: float, failure: Callable[[R], Exception], wall_timeout_s: float | None = None,
         clock: Callable[[], float] = time.monotonic) -> R:
    """Call ``read()`` until ``done(reading)``, sleeping ``interval_s`` between reads; return that reading.

    Once ``timeout_s`` of sleeps (device time) or ``wall_timeout_s`` of wall-clock time (default
    ``timeout_s``) have passed without it, raise ``failure(last reading)``."""
    wait = Wait("", "", timeout_s, sleep, wall_timeout_s, clock)
    while True:
        reading = read()
        if done(reading):
            return reading
        if wait.expired:
            raise failure(reading)
        wait.pause(interval_s)
