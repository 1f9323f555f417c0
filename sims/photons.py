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

Spectra are integrated over CCD pixels by CDF differences (pixel edges from ``np.gradient`` of the axis), so a
line narrower than a pixel keeps its photons. Blinking and switching states come from seeded
``TelegraphProcess`` histories; ``telegraph_states`` evaluates one at many times at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

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


# ---------------------------------------------------------------------------------------------- spectra
def pixel_edges_nm(wavelength_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper wavelength edges (nm) of pixels centred at ``wavelength_nm`` (pitch from np.gradient)."""
    wl = np.asarray(wavelength_nm, float)
    if wl.ndim != 1 or wl.size < 2:
        raise ValueError(f"wavelength_nm must be a 1-D axis of at least 2 pixels, got shape {wl.shape}")
    if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
        raise ValueError("wavelength_nm must be finite and positive")
    half = 0.5 * np.abs(np.gradient(wl))
    return wl - half, wl + half


def _pixel_cdf_difference(cdf, wavelength_nm: np.ndarray) -> np.ndarray:
    """cdf(upper edge) - cdf(lower edge) per pixel; ``cdf`` maps wavelengths (..., n) to (..., n). Evaluates
    the CDF once per shared edge when neighbouring pixels touch (a monotonic, smooth axis)."""
    low, high = pixel_edges_nm(wavelength_nm)
    if np.allclose(high[:-1], low[1:], rtol=0, atol=1e-9 * float(np.abs(high).max())):
        edges = np.append(low, high[-1])
        c = cdf(edges)
        return c[..., 1:] - c[..., :-1]
    if np.allclose(low[:-1], high[1:], rtol=0, atol=1e-9 * float(np.abs(high).max())):  # descending axis
        edges = np.append(high[0], low)
        c = cdf(edges)
        return c[..., :-1] - c[..., 1:]
    return cdf(high) - cdf(low)


class GaussianBands:
    """An emission spectrum: weighted Gaussian bands in wavelength. ``weight`` is normalised to sum 1."""

    def __init__(self, centre_nm: float | np.ndarray, fwhm_nm: float | np.ndarray,
                 weight: np.ndarray | tuple | None = None):
        self.centre_nm = np.atleast_1d(np.asarray(centre_nm, float))
        self.fwhm_nm = np.broadcast_to(np.asarray(fwhm_nm, float), self.centre_nm.shape).copy()
        w = np.ones_like(self.centre_nm) if weight is None else np.broadcast_to(
            np.asarray(weight, float), self.centre_nm.shape)
        if np.any(self.fwhm_nm <= 0) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"bands need positive FWHM and non-negative weights, got fwhm {fwhm_nm} nm, "
                             f"weights {weight}")
        self.weight = w / w.sum()
        self.sigma_nm = self.fwhm_nm / FWHM_PER_SIGMA

    def cdf(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """Fraction of photons below ``wavelength_nm``."""
        z = (np.asarray(wavelength_nm, float)[..., None] - self.centre_nm) / self.sigma_nm
        return ndtr(z) @ self.weight

    def fraction_between(self, low_nm: float, high_nm: float) -> float:
        """Fraction of photons with wavelength in [low_nm, high_nm)."""
        return float(self.cdf(np.array([high_nm]))[0] - self.cdf(np.array([low_nm]))[0])

    def pixel_fractions(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """Fraction of photons landing in each pixel (centres ``wavelength_nm``)."""
        return _pixel_cdf_difference(self.cdf, wavelength_nm)

    def sample_nm(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` photon wavelengths (nm, float32)."""
        if self.centre_nm.size == 1:
            band = np.zeros(n, np.intp)
        else:
            band = np.searchsorted(np.cumsum(self.weight)[:-1], rng.random(n, dtype=np.float32), side="right")
        centre = self.centre_nm.astype(np.float32)
        sigma = self.sigma_nm.astype(np.float32)
        return centre[band] + sigma[band] * rng.standard_normal(n, dtype=np.float32)

    def describe(self) -> dict:
        return {"centre_nm": self.centre_nm.copy(), "fwhm_nm": self.fwhm_nm.copy(), "weight": self.weight.copy()}


LORENTZ_CUT_FWHM = 50.0  # Lorentzian lines are truncated at +-50 FWHM so their total is finite and exact


def lorentzian_cdf(offset: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """CDF of a Lorentzian of ``fwhm`` truncated at +-LORENTZ_CUT_FWHM·fwhm, at ``offset`` from its centre."""
    cut = LORENTZ_CUT_FWHM * fwhm
    x = np.clip(offset, -cut, cut)
    lo = np.arctan(-2.0 * LORENTZ_CUT_FWHM)
    return (np.arctan(2.0 * x / fwhm) - lo) / (-2.0 * lo)


def lorentzian_pixel_fractions(centre_eV: np.ndarray, fwhm_eV: np.ndarray,
                               wavelength_nm: np.ndarray, hc_eV_nm: float) -> np.ndarray:
    """Fraction of each line's photons in each pixel: shape (n_lines, n_pixels). Lines are Lorentzians in
    photon energy (truncated at +-LORENTZ_CUT_FWHM·FWHM); pixel edges are converted to energies."""
    c = np.asarray(centre_eV, float)[:, None]
    g = np.asarray(fwhm_eV, float)[:, None]

    def below_wavelength(wl_nm: np.ndarray) -> np.ndarray:  # share of photons with wavelength < wl
        return 1.0 - lorentzian_cdf(hc_eV_nm / wl_nm[None, :] - c, g)

    return _pixel_cdf_difference(below_wavelength, wavelength_nm)


def lorentzian_lines_pixel_rate(centre_eV: np.ndarray, fwhm_eV: np.ndarray, rate: np.ndarray,
                                wavelength_nm: np.ndarray, hc_eV_nm: float) -> np.ndarray:
    """Sum over lines of ``rate`` x the line's share in each pixel: (n_pixels,). Same result as
    ``rate @ lorentzian_pixel_fractions(...)``, but each (truncated) line is evaluated only on the pixels it
    reaches when neighbouring pixels touch."""
    wl = np.asarray(wavelength_nm, float)
    c = np.asarray(centre_eV, float).ravel()
    g = np.asarray(fwhm_eV, float).ravel()
    r = np.asarray(rate, float).ravel()
    low, high = pixel_edges_nm(wl)
    scale = 1e-9 * float(np.abs(high).max())
    ascending = np.allclose(high[:-1], low[1:], rtol=0, atol=scale)
    if c.size == 0:
        return np.zeros(wl.shape)
    if not ascending:
        return r @ lorentzian_pixel_fractions(c, g, wl, hc_eV_nm)
    edges_nm = np.append(low, high[-1])
    reach_nm = hc_eV_nm / np.clip(c - LORENTZ_CUT_FWHM * g, 1e-9, None), hc_eV_nm / (c + LORENTZ_CUT_FWHM * g)
    first = np.clip(np.searchsorted(edges_nm, reach_nm[1]) - 1, 0, edges_nm.size - 1)
    last = np.clip(np.searchsorted(edges_nm, reach_nm[0]) + 1, 0, edges_nm.size - 1)
    width = int((last - first).max()) + 1
    index = np.minimum(first[:, None] + np.arange(width), edges_nm.size - 1)  # (n_lines, width) edge indices
    below = 1.0 - lorentzian_cdf(hc_eV_nm / edges_nm[index] - c[:, None], g[:, None])
    share = np.diff(below, axis=1) * r[:, None]  # pixel index[:, :-1]; repeated last edges give 0
    out = np.bincount(index[:, :-1].ravel(), weights=share.ravel(), minlength=edges_nm.size)
    # photons beyond the axis ends are not in any pixel; lines cut by the window edges keep only their part
    return out[: wl.size]


def sample_lorentzian(rng: np.random.Generator, centre: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """Values from truncated Lorentzians (same truncation as ``lorentzian_cdf``), one per element."""
    lo = np.arctan(-2.0 * LORENTZ_CUT_FWHM)
    u = rng.uniform(lo, -lo, np.shape(centre))
    return np.asarray(centre, float) + 0.5 * np.asarray(fwhm, float) * np.tan(u)


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
def _jitter_ps(laser: Laser, rng: np.random.Generator, n: int) -> np.ndarray:
    if laser.pulse_fwhm_ps <= 0:
        return np.zeros(n)
    return rng.standard_normal(n) * (laser.pulse_fwhm_ps / FWHM_PER_SIGMA)


def _window_ps(t0_s: float, duration_s: float) -> tuple[int, int]:
    if not (math.isfinite(t0_s) and math.isfinite(duration_s)):
        raise ValueError(f"photon interval must be finite, got t0 {t0_s} s, duration {duration_s} s")
    if duration_s < 0:
        raise ValueError(f"photon interval duration must be >= 0, got {duration_s} s")
    return round(t0_s * PS_PER_S), round((t0_s + duration_s) * PS_PER_S)


def poisson_times_ps(rate_per_s: float, t0_s: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Times (ps, int64, unsorted) of a Poisson process of ``rate_per_s`` in [t0_s, t0_s + duration_s)."""
    a, b = _window_ps(t0_s, duration_s)
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
    a, b = _window_ps(t0_s, duration_s)
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
    t = laser.pulse_times_ps(k) + np.rint(_jitter_ps(laser, rng, n) + decay.sample_delay_ps(rng, n)).astype(np.int64)
    return t[(t >= a) & (t < b)]


class SingleEmitter:
    """Photon stream of one quantum emitter (two-level: excitation rate ``k_exc``, radiative rate ``k_rad``)
    whose photons are collected with probability ``collection``. Keeps the state needed for consecutive
    intervals to continue one history (the next photon already drawn, the last pulse used).

    CW: exact renewal process of the collected photons (module docstring); g2(t) = 1 - exp(-|t|/tau) with
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
        a, b = _window_ps(t0_s, duration_s)
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
            delay = _jitter_ps(laser, rng, k.size) + rng.standard_exponential(k.size) * (PS_PER_S / k_rad)
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
