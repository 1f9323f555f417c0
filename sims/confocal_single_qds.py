"""Single CdSe/CdZnS quantum dots on glass for the confocal rig of paper 003 (kind "single-qd" in
``confocal_sample``): antibunched two-level emitters that blink.

Each dot is excited at k_exc·g_exc(r) and collected with efficiency collection·g_col(r) (``confocal_spot``),
relaxes radiatively at k_rad, and switches ON/OFF with exponential dwell times (a telegraph process of its
own seeded stream). While ON under CW excitation it gives collection·k_exc·k_rad/(k_exc + k_rad) photons/s
and a g2 rise time 1/(k_exc + k_rad); under pulsed excitation at most one photon per pulse, delayed by
Exp(1/k_rad). Lengths nm, rates photons/s (k in 1/s), times s (photon times ps), wavelengths nm.
"""

from __future__ import annotations

import numpy as np

from tepl.sims.confocal_spot import gaussian_weight, spot_fwhm_nm
from tepl.sims.emission_spectra import GaussianBands
from tepl.sims.photons import Laser, telegraph_states
from tepl.sims.single_emitter import SingleEmitter
from tepl.sims.tepl_blinking import TelegraphProcess


class SingleQds:
    """Single blinking two-level quantum dots (module docstring). Rates are for the focus on the dot."""

    def __init__(self, x_nm, y_nm, k_exc_per_s, k_rad_per_s, collection: float, center_nm, fwhm_nm,
                 mean_on_s, mean_off_s, blink_rngs: list[np.random.Generator]):
        self.x_nm = np.asarray(x_nm, float)
        self.y_nm = np.asarray(y_nm, float)
        self.k_exc_per_s = np.asarray(k_exc_per_s, float)
        self.k_rad_per_s = np.asarray(k_rad_per_s, float)
        self.collection = float(collection)
        self.center_nm = np.asarray(center_nm, float)
        self.fwhm_nm = np.asarray(fwhm_nm, float)
        self.mean_on_s = np.asarray(mean_on_s, float)
        self.mean_off_s = np.asarray(mean_off_s, float)
        self.blink = [TelegraphProcess(r, on, off) for r, on, off in zip(blink_rngs, self.mean_on_s,
                                                                          self.mean_off_s, strict=True)]
        self.spectra = [GaussianBands(c, f) for c, f in zip(self.center_nm, self.fwhm_nm, strict=True)]
        self._streams = [SingleEmitter() for _ in range(self.n)]

    @property
    def n(self) -> int:
        return int(self.x_nm.size)

    @property
    def tau_g2_ns(self) -> np.ndarray:
        return 1e9 / (self.k_exc_per_s + self.k_rad_per_s)

    @property
    def on_rate_per_s(self) -> np.ndarray:
        """Collected photons/s of each dot while ON, focus on the dot (CW)."""
        k_e, k_r = self.k_exc_per_s, self.k_rad_per_s
        return self.collection * k_e * k_r / (k_e + k_r)

    def _local(self, x_nm, y_nm, excitation_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """Excitation rates and collection efficiencies of every dot, focus at (x, y): shape (..., n)."""
        exc, col = spot_fwhm_nm(excitation_nm)
        r = np.hypot(np.asarray(x_nm, float)[..., None] - self.x_nm, np.asarray(y_nm, float)[..., None] - self.y_nm)
        return self.k_exc_per_s * gaussian_weight(r, exc), self.collection * gaussian_weight(r, col)

    def on_fraction(self, t0_s: float, dt_s: float) -> np.ndarray:
        return np.array([b.on_fraction(t0_s, dt_s) for b in self.blink])

    def rates_each(self, x_nm, y_nm, excitation_nm: float, t0_s: float | None = None, dt_s: float = 0.0):
        """Collected photons/s of each dot (ON, or averaged over [t0, t0 + dt] when t0 is given)."""
        k_e, eta = self._local(x_nm, y_nm, excitation_nm)
        k_r = self.k_rad_per_s
        rate = eta * k_e * k_r / (k_e + k_r)
        if t0_s is not None:
            rate = rate * self.on_fraction(t0_s, dt_s)
        return rate

    def rate(self, x_nm, y_nm, excitation_nm: float, t0_s: float | None = None, dt_s: float = 0.0):
        return self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s).sum(axis=-1)

    def band_rate(self, x_nm, y_nm, excitation_nm: float, low_nm: float, high_nm: float,
                  t0_s: float | None = None, dt_s: float = 0.0) -> np.ndarray:
        frac = np.array([s.fraction_between(low_nm, high_nm) for s in self.spectra])
        return (self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s) * frac).sum(axis=-1)

    def pixel_rate(self, x_nm: float, y_nm: float, excitation_nm: float, wavelength_nm: np.ndarray,
                   t0_s: float, dt_s: float) -> np.ndarray:
        rates = self.rates_each(x_nm, y_nm, excitation_nm, t0_s, dt_s)
        out = np.zeros(np.shape(wavelength_nm))
        for rate, spectrum in zip(rates, self.spectra, strict=True):
            if rate > 0:
                out += rate * spectrum.pixel_fractions(wavelength_nm)
        return out

    def photons(self, x_nm: float, y_nm: float, t0_s: float, duration_s: float, laser: Laser,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k_e, eta = self._local(x_nm, y_nm, laser.wavelength_nm)
        times, wavelengths = [], []
        for i in range(self.n):
            t = self._streams[i].photon_times_ps(float(k_e[i]), float(self.k_rad_per_s[i]), float(eta[i]),
                                                 t0_s, duration_s, laser, rng)
            if t.size:
                t = t[telegraph_states(self.blink[i], t * 1e-12)]
            times.append(t)
            wavelengths.append(self.spectra[i].sample_nm(rng, t.size))
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(times), np.concatenate(wavelengths)

    def truth(self, until_s: float) -> dict:
        return {"x_nm": self.x_nm.copy(), "y_nm": self.y_nm.copy(), "tau_g2_ns": self.tau_g2_ns,
                "k_exc_per_s": self.k_exc_per_s.copy(), "k_rad_per_s": self.k_rad_per_s.copy(),
                "lifetime_ns": 1e9 / self.k_rad_per_s, "collection": self.collection,
                "on_rate_per_s": self.on_rate_per_s, "center_nm": self.center_nm.copy(),
                "fwhm_nm": self.fwhm_nm.copy(), "mean_on_s": self.mean_on_s.copy(),
                "mean_off_s": self.mean_off_s.copy(),
                "on_fraction_expected": self.mean_on_s / (self.mean_on_s + self.mean_off_s),
                "starts_on": np.array([b.starts_on for b in self.blink]),
                "switch_times_s": {str(i): b.switch_times_s(until_s) for i, b in enumerate(self.blink)}}
