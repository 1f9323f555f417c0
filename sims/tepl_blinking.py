"""Seeded on/off telegraph processes (blinking of single quantum dots).

Each emitter alternates ON and OFF periods of exponentially distributed length. The switching times are
drawn from the emitter's own random stream and only ever appended to, so the state at any time is a fixed
function of the seed: repeated or out-of-order queries agree.
"""

from __future__ import annotations

import bisect
import threading

import numpy as np

from tepl import kernels
from tepl.kernels import twin as twin_kernels


class TelegraphProcess:
    """One emitter's ON/OFF history; times in seconds of simulated time (t < 0 counts as t = 0)."""

    _CHUNK = 64

    def __init__(self, rng: np.random.Generator, mean_on_s: float, mean_off_s: float):
        if mean_on_s <= 0 or mean_off_s <= 0:
            raise ValueError(f"mean ON/OFF times must be positive, got {mean_on_s} s / {mean_off_s} s")
        self._rng = rng
        self.mean_on_s = float(mean_on_s)
        self.mean_off_s = float(mean_off_s)
        self.starts_on = bool(rng.random() < mean_on_s / (mean_on_s + mean_off_s))
        self._edges_s = [0.0]  # period boundaries: 0, t1, t2, ...
        self._on_time_s = [0.0]  # cumulative ON time at each boundary
        self._lock = threading.Lock()

    def _extend_to(self, t_s: float) -> None:
        if self._edges_s[-1] > t_s:
            return
        with self._lock:
            while self._edges_s[-1] <= t_s:
                n_done = len(self._edges_s) - 1
                period_on = (np.arange(n_done, n_done + self._CHUNK) % 2 == 0) == self.starts_on
                lengths = self._rng.exponential(np.where(period_on, self.mean_on_s, self.mean_off_s))
                edges = self._edges_s[-1] + np.cumsum(lengths)
                on_time = self._on_time_s[-1] + np.cumsum(np.where(period_on, lengths, 0.0))
                self._edges_s.extend(edges.tolist())
                self._on_time_s.extend(on_time.tolist())

    def _period(self, t_s: float) -> int:
        return bisect.bisect_right(self._edges_s, t_s) - 1

    def _period_on(self, period: int) -> bool:
        return (period % 2 == 0) == self.starts_on

    def on_time_s(self, t_s: float) -> float:
        """Total ON time between 0 and ``t_s``."""
        t = max(float(t_s), 0.0)
        self._extend_to(t)
        k = self._period(t)
        into = t - self._edges_s[k] if self._period_on(k) else 0.0
        return self._on_time_s[k] + into

    def is_on(self, t_s: float) -> bool:
        """State at time ``t_s``."""
        t = max(float(t_s), 0.0)
        self._extend_to(t)
        return self._period_on(self._period(t))

    def on_fraction(self, t0_s: float, dt_s: float) -> float:
        """Fraction of the interval [t0_s, t0_s + dt_s] spent ON (the state at t0_s when dt_s <= 0)."""
        t1 = max(float(t0_s), 0.0)
        t2 = max(float(t0_s) + float(dt_s), 0.0)
        if t2 <= t1:
            return 1.0 if self.is_on(t1) else 0.0
        self._extend_to(t2)
        edges = self._edges_s
        k = self._period(t2)
        if edges[k] <= t1:  # one period holds the whole interval (the usual case): one search, same sums
            on_k = self._on_time_s[k]
            if not self._period_on(k):
                return (on_k - on_k) / (t2 - t1)
            return ((on_k + (t2 - edges[k])) - (on_k + (t1 - edges[k]))) / (t2 - t1)
        return (self.on_time_s(t2) - self.on_time_s(t1)) / (t2 - t1)

    def period_at(self, t_s: float) -> tuple[float, float, float, bool]:
        """The period holding ``t_s`` (s, >= 0): its start and end (s), the ON time up to its start (s), and
        whether it is ON."""
        t = max(float(t_s), 0.0)
        self._extend_to(t)
        k = self._period(t)
        return self._edges_s[k], self._edges_s[k + 1], self._on_time_s[k], self._period_on(k)

    def switch_times_s(self, until_s: float) -> np.ndarray:
        """Times (s) at which the state changes, up to ``until_s``."""
        self._extend_to(until_s)
        edges = np.array(self._edges_s[1:])
        return edges[edges <= until_s]


class OnFractions:
    """Several emitters' ``on_fraction`` at once, for exposures one after the other.

    Blinking periods last seconds to minutes and a raster's exposures milliseconds: nearly every exposure lies
    inside the period of every emitter that held the last one. Those periods are remembered, and such an
    exposure's fractions come from them in one step, with the same sums as ``TelegraphProcess.on_fraction``
    (so the very same numbers); any other exposure asks each process.
    """

    def __init__(self, processes: list[TelegraphProcess]):
        self.processes = list(processes)
        # the remembered periods, swapped whole: start (s), ON time up to it (s), ON, latest start, earliest end
        self._periods = (np.zeros(0), np.zeros(0), np.zeros(0, np.bool_), np.inf, -np.inf)

    def __call__(self, t0_s: float, dt_s: float) -> np.ndarray:
        """Fraction of [t0_s, t0_s + dt_s] each emitter spends ON (a new array)."""
        t1 = max(float(t0_s), 0.0)
        t2 = max(float(t0_s) + float(dt_s), 0.0)
        start, on_k, on, latest_start, earliest_end = self._periods
        if t2 <= t1 or not (latest_start <= t1 and t2 < earliest_end):
            return self._ask_each(t0_s, dt_s, t2)
        out = np.empty(len(self.processes))
        if kernels.ENABLED:
            return twin_kernels.on_fractions(start, on_k, on, t1, t2, out)
        span = t2 - t1
        out[:] = (on_k - on_k) / span
        out[on] = ((on_k[on] + (t2 - start[on])) - (on_k[on] + (t1 - start[on]))) / span
        return out

    def _ask_each(self, t0_s: float, dt_s: float, t2_s: float) -> np.ndarray:
        fractions = np.array([b.on_fraction(t0_s, dt_s) for b in self.processes], float)
        periods = [b.period_at(t2_s) for b in self.processes]
        if periods:
            start, end, on_time, is_on = (np.array(column) for column in zip(*periods, strict=True))
            self._periods = (start.astype(float), on_time.astype(float), is_on.astype(np.bool_), float(start.max()),
                             float(end.min()))
        return fractions
