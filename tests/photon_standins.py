"""A stand-in photon-counting World for TCSPC tests: known count rates and a known decay, nothing else.

``PhotonStandInWorld`` is a ``tepl.sims.world.World`` whose ``detected_photons`` emits, on every detector
channel, Poisson clicks at a known rate; each click follows a laser pulse (pulses at multiples of
``period_ps``, 2 MHz by default) after a mono-exponential delay of known lifetime. With ``period_ps = inf``
(a CW laser) the clicks are uniform in time. The truth is in ``world.laser.describe()`` /
``world.detection.describe()`` (hence in ``world.ground_truth()["world"]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tepl.sims.world import World
from tests.standins import BumpSample


@dataclass
class StandInLaser:
    """A pulsed laser: pulses at k * period_ps from clock zero (inf: CW)."""

    period_ps: float = 500_000.0  # 2 MHz

    @property
    def repetition_rate_hz(self) -> float:
        return 0.0 if math.isinf(self.period_ps) else 1e12 / self.period_ps

    def describe(self) -> dict:
        return {"period_ps": self.period_ps, "repetition_rate_hz": self.repetition_rate_hz}


@dataclass
class StandInDetection:
    """Detector channels with a click rate (/s) and a decay lifetime (ns) each."""

    rates_per_s: list[float] = field(default_factory=lambda: [80_000.0, 30_000.0])
    tau_ns: list[float] = field(default_factory=lambda: [2.0, 8.0])

    def describe(self) -> dict:
        return {"rates_per_s": list(self.rates_per_s), "tau_ns": list(self.tau_ns)}


class PhotonStandInWorld(World):
    """A World whose detectors see known rates and decays (seeded)."""

    def __init__(self, rates_per_s=(80_000.0, 30_000.0), tau_ns=(2.0, 8.0), period_ps: float = 500_000.0,
                 seed: int = 7):
        super().__init__(sample=BumpSample(), seed=seed)
        self.laser = StandInLaser(float(period_ps))
        self.detection = StandInDetection([float(r) for r in rates_per_s], [float(t) for t in tau_ns])
        self._standin_rng = self.rng("standin-photons")

    def set_rates(self, rates_per_s) -> None:
        """Change the click rates (e.g. a brighter spot) from now on."""
        self.detection.rates_per_s = [float(r) for r in rates_per_s]

    def detected_photons(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        if t1_s <= t0_s:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        rng = self._standin_rng
        t0_ps, t1_ps = t0_s * 1e12, t1_s * 1e12
        period = self.laser.period_ps
        times, channels = [], []
        for ch, (rate, tau_ns) in enumerate(zip(self.detection.rates_per_s, self.detection.tau_ns, strict=True)):
            n = int(rng.poisson(rate * (t1_s - t0_s)))
            if math.isinf(period):
                t = rng.uniform(t0_ps, t1_ps, n)
            else:
                k_lo, k_hi = math.ceil(t0_ps / period), math.ceil(t1_ps / period)
                if k_hi <= k_lo:
                    continue
                pulses = rng.integers(k_lo, k_hi, n)
                t = pulses * period + rng.exponential(tau_ns * 1000.0, n)
            times.append(np.floor(t).astype(np.int64))
            channels.append(np.full(n, ch, np.int8))
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        time_ps, channel = np.concatenate(times), np.concatenate(channels)
        order = np.argsort(time_ps, kind="stable")
        return time_ps[order], channel[order]
