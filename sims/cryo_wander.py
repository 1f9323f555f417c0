"""Spectral diffusion of one set of peaks of a cryogenic nanocrystal (paper 004, physics.md section 3): an
Ornstein-Uhlenbeck wander plus discrete spectral jumps to new levels drawn at Poisson times, tabulated on a
10 ms grid. Energies meV, times s.
"""

from __future__ import annotations

import math
import threading

import numpy as np

WANDER_STEP_S = 0.01  # grid of the tabulated offset


class SpectralWander:
    """Energy offset (meV) of one set vs time: Ornstein-Uhlenbeck diffusion plus jumps between levels,
    tabulated every WANDER_STEP_S from its own random stream and only ever appended to."""

    _CHUNK = 2048

    def __init__(self, rng: np.random.Generator, sd_meV: float, time_s: float, jump_rate_per_s: float,
                 jump_sd_meV: float):
        self._rng = rng
        self.sd_meV = float(sd_meV)
        self.time_s = float(time_s)
        self.jump_rate_per_s = float(jump_rate_per_s)
        self.jump_sd_meV = float(jump_sd_meV)
        self._ou = [float(rng.normal(0.0, self.sd_meV))]
        self._level = [float(rng.normal(0.0, self.jump_sd_meV))]
        self._values = np.array([self._ou[0] + self._level[0]])
        self._jumps: list[np.ndarray] = []  # grid indices at which a new jump level starts
        self._lock = threading.Lock()

    def _extend_to(self, t_s: float) -> None:
        need = int(math.ceil(max(t_s, 0.0) / WANDER_STEP_S)) + 2
        if self._values.size >= need:
            return
        with self._lock:
            while self._values.size < need:
                n = self._CHUNK
                a = math.exp(-WANDER_STEP_S / self.time_s)
                kicks = self._rng.standard_normal(n) * self.sd_meV * math.sqrt(1.0 - a * a)
                # exact AR(1): x_k = a^k x_0 + sum_j a^(k-j) kick_j, done as a scaled cumulative sum in blocks
                ou = np.empty(n)
                x = self._ou[-1]
                for start in range(0, n, 256):
                    block = kicks[start:start + 256]
                    powers = a ** np.arange(1, block.size + 1)
                    ou[start:start + block.size] = powers * (x + np.cumsum(block / powers))
                    x = ou[start + block.size - 1]
                jumps = self._rng.random(n) < self.jump_rate_per_s * WANDER_STEP_S
                levels = self._rng.normal(0.0, self.jump_sd_meV, n)
                index = np.maximum.accumulate(np.where(jumps, np.arange(n), -1))
                level = np.where(index >= 0, levels[np.clip(index, 0, None)], self._level[-1])
                self._jumps.append(self._values.size + np.flatnonzero(jumps))
                self._ou.append(float(ou[-1]))
                self._level.append(float(level[-1]))
                self._values = np.concatenate([self._values, ou + level])

    def offset_meV(self, t_s: np.ndarray) -> np.ndarray:
        """Offset (meV) at times ``t_s`` (s; linear between grid points, t < 0 counts as 0)."""
        t = np.clip(np.asarray(t_s, float), 0.0, None)
        self._extend_to(float(t.max()) if t.size else 0.0)
        pos = t / WANDER_STEP_S
        k = np.floor(pos).astype(np.int64)
        frac = pos - k
        v = self._values
        return v[k] + (v[k + 1] - v[k]) * frac

    def jump_times_s(self, until_s: float) -> np.ndarray:
        """Times (s, on the grid) at which the offset jumps to a new level, up to ``until_s``."""
        self._extend_to(until_s)
        index = np.concatenate(self._jumps) if self._jumps else np.zeros(0, np.int64)
        times = index * WANDER_STEP_S
        return times[times <= until_s]
