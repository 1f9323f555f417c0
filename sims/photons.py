"""Photons of the virtual microscope: the exciting laser and vectorised photon-stream generators.

Times are integer picoseconds counted from clock zero (``time_ps``, int64); interval bounds are seconds of
simulated time. Wavelengths are nm (float32 on photons), energies eV, lifetimes ns, rates photons/s.

Three kinds of light source are built from these pieces:

- an **ensemble** (a film, a cluster of many dots): photons are a Poisson process. Under CW excitation
  their times are uniform; under pulsed excitation each photon belongs to a pulse ``k`` (uniform among the
  pulses, i.e. Poisson per pulse) and leaves at ``k·period + pulse jitter + emission delay``, the delay drawn
  from the multi-exponential ``Decay``;
- a **single emitter** (one quantum dot): at most one photon per excitation. Under CW excitation the
  collected photons form a renewal process: between two collected photons the emitter goes round the
  ground -> excited -> ground cycle G times, G ~ Geometric(collection efficiency), each cycle an
  Exp(k_exc) wait plus an Exp(k_rad) decay, so the interval is Gamma(G, 1/k_exc) + Gamma(G, 1/k_rad) and
  g2(t) = 1 - exp(-(k_exc + k_rad)|t|). Under pulsed excitation each pulse excites with probability
  1 - exp(-k_exc/f_rep) if the emitter has relaxed (see ``SingleEmitter``);
- an **uncorrelated background**: a Poisson process uniform in time (over the laser period too).

Blinking and switching states come from seeded ``TelegraphProcess`` histories; ``telegraph_states``
evaluates one at many times at once. This module holds the laser, decays and the ensemble and background
streams; ``single_emitter`` the single-emitter streams, ``emission_spectra`` the spectra (on CCD pixels and
photon wavelengths).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tepl.sims.tepl_blinking import TelegraphProcess

PS_PER_S = 1e12
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))  # 2.3548


# ---------------------------------------------------------------------------------------------- laser
@dataclass(frozen=True)
class Laser:
    """The excitation laser. ``repetition_rate_hz`` = 0 means CW; pulses sit at t = k·period_ps from clock
    zero and have a Gaussian temporal profile of ``pulse_fwhm_ps``."""

    wavelength_nm: float
    repetition_rate_hz: float  # 0 = CW
    pulse_fwhm_ps: float = 60.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.wavelength_nm) and self.wavelength_nm > 0):
            raise ValueError(f"laser wavelength_nm must be positive, got {self.wavelength_nm} nm")
        if not (math.isfinite(self.repetition_rate_hz) and self.repetition_rate_hz >= 0):
            raise ValueError(f"laser repetition_rate_hz must be >= 0 (0 = CW), got {self.repetition_rate_hz} Hz")
        if not (math.isfinite(self.pulse_fwhm_ps) and self.pulse_fwhm_ps >= 0):
            raise ValueError(f"laser pulse_fwhm_ps must be >= 0, got {self.pulse_fwhm_ps} ps")

    @property
    def pulsed(self) -> bool:
        return self.repetition_rate_hz > 0

    @property
    def period_ps(self) -> float:
        """Pulse period (ps); inf for a CW laser."""
        return PS_PER_S / self.repetition_rate_hz if self.pulsed else math.inf

    def pulse_range(self, t0_s: float, t1_s: float) -> tuple[int, int]:
        """Indices [k0, k1) of the pulses whose nominal time k·period lies in [t0_s, t1_s)."""
        period = self.period_ps
        return (math.ceil(t0_s * PS_PER_S / period - 1e-9), math.ceil(t1_s * PS_PER_S / period - 1e-9))

    def pulse_times_ps(self, k: np.ndarray) -> np.ndarray:
        """Nominal times (ps, int64) of pulses ``k``."""
        return np.rint(np.asarray(k, np.int64) * self.period_ps).astype(np.int64)

    def describe(self) -> dict:
        return {"wavelength_nm": float(self.wavelength_nm), "repetition_rate_hz": float(self.repetition_rate_hz),
                "pulse_fwhm_ps": float(self.pulse_fwhm_ps), "mode": "pulsed" if self.pulsed else "cw",
                "period_ps": float(self.period_ps)}


# ---------------------------------------------------------------------------------------------- decays
@dataclass(frozen=True)
class Decay:
    """Multi-exponential emission delay y(t) = sum_i A_i·exp(-t/tau_i). ``amplitude`` holds A_i (any scale);
    the share of photons in component i is A_i·tau_i / sum_j A_j·tau_j."""

    tau_ns: tuple[float, ...]
    amplitude: tuple[float, ...]

    def __post_init__(self) -> None:
        tau = np.asarray(self.tau_ns, float)
        amp = np.asarray(self.amplitude, float)
        if tau.ndim != 1 or tau.size == 0 or tau.shape != amp.shape:
            raise ValueError(f"Decay needs matching 1-D tau_ns and amplitude, got {self.tau_ns} / {self.amplitude}")
        if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
            raise ValueError(f"decay times tau_ns must be positive, got {self.tau_ns} ns")
        if np.any(amp < 0) or amp.sum() <= 0:
            raise ValueError(f"decay amplitudes must be >= 0 and not all zero, got {self.amplitude}")

    @classmethod
    def single(cls, tau_ns: float) -> Decay:
        return cls((float(tau_ns),), (1.0,))

    @classmethod
    def from_photon_shares(cls, tau_ns: np.ndarray, photon_share: np.ndarray) -> Decay:
        """A decay whose component i holds ``photon_share[i]`` of the photons."""
        tau = np.asarray(tau_ns, float)
        share = np.asarray(photon_share, float)
        return cls(tuple(tau.tolist()), tuple((share / tau).tolist()))

    @property
    def amplitude_fraction(self) -> np.ndarray:
        a = np.asarray(self.amplitude, float)
        return a / a.sum()

    @property
    def photon_share(self) -> np.ndarray:
        w = np.asarray(self.amplitude, float) * np.asarray(self.tau_ns, float)
        return w / w.sum()

    @property
    def mean_ns(self) -> float:
        """Mean emission delay (ns): sum_i share_i·tau_i."""
        return float(np.dot(self.photon_share, self.tau_ns))

    @property
    def longest_ns(self) -> float:
        return float(max(self.tau_ns))

    def sample_delay_ps(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` emission delays (ps, float64)."""
        tau_ps = np.asarray(self.tau_ns, float) * 1e3
        delay = rng.standard_exponential(n)
        if tau_ps.size == 1:
            return delay * tau_ps[0]
        component = np.searchsorted(np.cumsum(self.photon_share)[:-1], rng.random(n), side="right")
        return delay * tau_ps[component]

    def describe(self) -> dict:
        return {"tau_ns": np.asarray(self.tau_ns, float), "amplitude_fraction": self.amplitude_fraction,
                "photon_share": self.photon_share, "mean_ns": self.mean_ns}




# ---------------------------------------------------------------------------------------------- blinking
def telegraph_states(process: TelegraphProcess, t_s: np.ndarray) -> np.ndarray:
    """State (True = ON) of a telegraph process at every time in ``t_s`` (s); agrees with ``is_on``."""
    t = np.clip(np.asarray(t_s, float), 0.0, None)
    if t.size == 0:
        return np.zeros(t.shape, bool)
    switches = process.switch_times_s(float(t.max()))
    period = np.searchsorted(switches, t, side="right")
    return (period % 2 == 0) == process.starts_on


# ---------------------------------------------------------------------------------------------- streams
def pulse_jitter_ps(laser: Laser, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Gaussian timing offsets (ps) of the laser pulses (FWHM ``laser.pulse_fwhm_ps``; 0 without one)."""
    if laser.pulse_fwhm_ps <= 0:
        return np.zeros(n)
    return rng.standard_normal(n) * (laser.pulse_fwhm_ps / FWHM_PER_SIGMA)


def window_ps(t0_s: float, duration_s: float) -> tuple[int, int]:
    """[t0_s, t0_s + duration_s) as whole ps (a, b); ValueError unless finite with duration >= 0."""
    if not (math.isfinite(t0_s) and math.isfinite(duration_s)):
        raise ValueError(f"photon interval must be finite, got t0 {t0_s} s, duration {duration_s} s")
    if duration_s < 0:
        raise ValueError(f"photon interval duration must be >= 0, got {duration_s} s")
    return round(t0_s * PS_PER_S), round((t0_s + duration_s) * PS_PER_S)


def poisson_times_ps(rate_per_s: float, t0_s: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Times (ps, int64, unsorted) of a Poisson process of ``rate_per_s`` in [t0_s, t0_s + duration_s)."""
    a, b = window_ps(t0_s, duration_s)
    if rate_per_s <= 0 or b <= a:
        return np.zeros(0, np.int64)
    n = rng.poisson(rate_per_s * (b - a) / PS_PER_S)
    return rng.integers(a, b, n, dtype=np.int64)


def ensemble_times_ps(rate_per_s: float, decay: Decay, t0_s: float, duration_s: float, laser: Laser,
                      rng: np.random.Generator) -> np.ndarray:
    """Photon times (ps, int64, unsorted) in [t0_s, t0_s + duration_s) from an ensemble emitting
    ``rate_per_s`` on average: Poisson in time under CW; Poisson per pulse, delayed by ``decay``, when pulsed."""
    if not laser.pulsed:
        return poisson_times_ps(rate_per_s, t0_s, duration_s, rng)
    a, b = window_ps(t0_s, duration_s)
    if rate_per_s <= 0 or b <= a:
        return np.zeros(0, np.int64)
    period = laser.period_ps
    # pulses early enough that their tail (40 longest lifetimes) can still reach the window
    margin = math.ceil((40e3 * decay.longest_ns + 5 * laser.pulse_fwhm_ps) / period)
    k0, k1 = laser.pulse_range(t0_s, t0_s + duration_s)
    k0 -= margin
    if k1 <= k0:
        return np.zeros(0, np.int64)
    n = rng.poisson(rate_per_s * (k1 - k0) * period / PS_PER_S)
    k = rng.integers(k0, k1, n, dtype=np.int64)
    delay_ps = pulse_jitter_ps(laser, rng, n) + decay.sample_delay_ps(rng, n)
    t = laser.pulse_times_ps(k) + np.rint(delay_ps).astype(np.int64)
    return t[(t >= a) & (t < b)]
