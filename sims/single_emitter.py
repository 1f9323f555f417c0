"""Photon streams of one quantum emitter (a two-level system: one photon at most per excitation) for the
virtual microscope: antibunched under CW excitation, at most one photon per pulse under pulsed excitation.

Times are integer picoseconds from clock zero (``time_ps``, int64), interval bounds seconds, rates 1/s.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.sims.photons import PS_PER_S, Laser, pulse_jitter_ps, window_ps


class SingleEmitter:
    """Photon stream of one quantum emitter (two-level: excitation rate ``k_exc``, radiative rate ``k_rad``)
    whose photons are collected with probability ``collection``. Keeps the state needed for consecutive
    intervals to continue one history (the next photon already drawn, the last pulse used).

    CW: exact renewal process of the collected photons (``photons`` module docstring); g2(t) = 1 - exp(-|t|/tau) with
    tau = 1/(k_exc + k_rad). The first interval of a fresh stream starts 30 mean intervals before t0 so the
    stream is stationary at t0.

    Pulsed: pulse k excites with probability p = 1 - exp(-k_exc/f_rep) unless the emitter is still excited;
    the stationary probability pi of still being excited when a pulse arrives (survival q = exp(-k_rad·T)
    over one period, pi = p·q/(1 - q + p·q)) lowers the excitation probability to (1 - pi)·p, pulses being
    treated as independent otherwise; the photon leaves after Exp(1/k_rad). A photon that would leave after
    the next photon's pulse is dropped, so the stream never holds two photons from one excitation cycle.
    """

    def __init__(self) -> None:
        self._pending_ps = np.zeros(0, np.int64)  # photons drawn for a past call that fall after its end
        self._end_ps: int | None = None  # end of the last interval served
        self._last_pulse: int | None = None

    def reset(self) -> None:
        self.__init__()

    def photon_times_ps(self, k_exc_per_s: float, k_rad_per_s: float, collection: float, t0_s: float,
                        duration_s: float, laser: Laser, rng: np.random.Generator) -> np.ndarray:
        """Collected photon times (ps, int64, sorted) in [t0_s, t0_s + duration_s)."""
        a, b = window_ps(t0_s, duration_s)
        if k_exc_per_s < 0 or k_rad_per_s <= 0 or not 0.0 <= collection <= 1.0:
            raise ValueError(f"single emitter needs k_exc >= 0, k_rad > 0 and collection in [0, 1], got "
                             f"{k_exc_per_s} /s, {k_rad_per_s} /s, {collection}")
        continuing = self._end_ps is not None and self._end_ps == a
        if not continuing:
            self.reset()
        if b <= a:
            return np.zeros(0, np.int64)
        rate = collection * k_exc_per_s * k_rad_per_s / (k_exc_per_s + k_rad_per_s)
        if rate < 1e-2 or rate * (b - a) / PS_PER_S < 1e-6:  # dark (or far out of focus): nothing to draw
            self.reset()
            self._end_ps = b
            return np.zeros(0, np.int64)
        if laser.pulsed:
            times = self._pulsed(k_exc_per_s, k_rad_per_s, collection, a, b, laser, rng)
        else:
            times = self._cw(k_exc_per_s, k_rad_per_s, collection, a, b, rng)
        self._end_ps = b
        return times

    def _cw(self, k_exc: float, k_rad: float, collection: float, a: int, b: int,
            rng: np.random.Generator) -> np.ndarray:
        rate = collection * k_exc * k_rad / (k_exc + k_rad)  # collected photons/s
        mean_interval_ps = PS_PER_S / rate
        if self._pending_ps.size:
            start = int(self._pending_ps[0])
            pieces = [self._pending_ps[:1]]
        else:
            start = a - round(30 * mean_interval_ps)
            pieces = []
        last = start
        while last < b:
            n = int((b - last) / mean_interval_ps * 1.02 + 6 * math.sqrt((b - last) / mean_interval_ps) + 16)
            cycles = rng.geometric(collection, n).astype(float)
            gaps = rng.gamma(cycles, PS_PER_S / k_exc) + rng.gamma(cycles, PS_PER_S / k_rad)
            t = last + np.cumsum(np.rint(gaps).astype(np.int64))
            pieces.append(t)
            last = int(t[-1])
        times = np.concatenate(pieces)
        self._pending_ps = times[times >= b][:1]
        return times[(times >= a) & (times < b)]

    def _pulsed(self, k_exc: float, k_rad: float, collection: float, a: int, b: int, laser: Laser,
                rng: np.random.Generator) -> np.ndarray:
        period = laser.period_ps
        f_rep = laser.repetition_rate_hz
        p_exc = -math.expm1(-k_exc / f_rep)
        survive = math.exp(-k_rad * period / PS_PER_S)
        still_excited = p_exc * survive / (1.0 - survive + p_exc * survive)
        p_photon = (1.0 - still_excited) * p_exc * collection
        k0, k1 = laser.pulse_range(a / PS_PER_S, b / PS_PER_S)
        if self._last_pulse is not None:
            k_start = self._last_pulse + 1
        else:
            k_start = k0 - math.ceil((40 * PS_PER_S / k_rad + 5 * laser.pulse_fwhm_ps) / period)
        pieces = [self._pending_ps]
        if k1 > k_start and p_photon > 0:
            n_pulses = k1 - k_start
            mean_n = n_pulses * p_photon
            picked: list[np.ndarray] = []
            last = k_start - 1
            while last < k1 - 1:
                n = int(mean_n * 1.02 + 6 * math.sqrt(mean_n) + 16)
                k = last + np.cumsum(rng.geometric(p_photon, n).astype(np.int64))
                picked.append(k)
                last = int(k[-1])
            k = np.concatenate(picked)
            k = k[k < k1]
            pulse_ps = laser.pulse_times_ps(k)
            delay = pulse_jitter_ps(laser, rng, k.size) + rng.standard_exponential(k.size) * (PS_PER_S / k_rad)
            t = pulse_ps + np.rint(delay).astype(np.int64)
            if self._pending_ps.size and t.size:
                # a photon still on its way blocks pulses before it leaves
                keep = pulse_ps > self._pending_ps[-1]
                t, pulse_ps = t[keep], pulse_ps[keep]
            if t.size > 1:
                keep = np.ones(t.size, bool)
                keep[1:] = t[:-1] < pulse_ps[1:]
                t = t[keep]
            pieces.append(t)
        self._last_pulse = k1 - 1
        times = np.sort(np.concatenate(pieces))
        self._pending_ps = times[times >= b]
        return times[(times >= a) & (times < b)]


def two_level_rates(collected_rate_per_s: float, tau_ns: float, collection: float) -> tuple[float, float]:
    """Excitation and radiative rates (1/s) of a two-level emitter whose collected CW photon rate is
    ``collected_rate_per_s`` and whose g2 rise time is ``tau_ns`` = 1/(k_exc + k_rad) (k_exc < k_rad)."""
    total = 1e9 / tau_ns
    emitted = collected_rate_per_s / collection
    disc = total * total - 4.0 * emitted * total
    if disc < 0:
        raise ValueError(f"{collected_rate_per_s:.3g} photons/s at collection {collection} is beyond saturation "
                         f"of an emitter with g2 rise time {tau_ns} ns (at most {collection * total / 4:.3g} /s)")
    k_exc = 0.5 * (total - math.sqrt(disc))
    return k_exc, total - k_exc
