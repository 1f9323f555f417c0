"""Small stand-in samples for simulator tests that must not depend on the TEPL sample model."""

from __future__ import annotations

import math

import numpy as np

from tepl.sims.sample import Sample


class BumpSample(Sample):
    """Flat substrate with one Gaussian bump; the tuning fork is damped over the last nanometre."""

    bump_xy_nm = (50_100.0, 50_000.0)
    bump_height_nm = 10.0
    bump_sigma_nm = 15.0
    decay_nm = 0.8

    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        r2 = (np.asarray(x_nm) - self.bump_xy_nm[0]) ** 2 + (np.asarray(y_nm) - self.bump_xy_nm[1]) ** 2
        return self.bump_height_nm * np.exp(-r2 / (2 * self.bump_sigma_nm**2))

    def shear_amplitude(self, distance_nm: np.ndarray) -> np.ndarray:
        return 1.0 - np.exp(-np.maximum(np.asarray(distance_nm, float), 0.0) / self.decay_nm)

    def distance_at(self, fraction: float) -> float:
        """Tip-surface distance (nm) where the amplitude is ``fraction`` of free: the loop's truth."""
        return -self.decay_nm * math.log(1.0 - fraction)

    def photon_rate(self, x_nm, y_nm, tip_z_nm, wavelength_nm, t0_s, exposure_s) -> np.ndarray:
        return np.zeros_like(np.asarray(wavelength_nm, float))

    def ground_truth(self) -> dict:
        return {"bump_xy_nm": list(self.bump_xy_nm), "bump_height_nm": self.bump_height_nm}


class BandSample(Sample):
    """A minimal sample: flat, one emission band at 700 nm that switches off at ``off_after_s``."""

    def __init__(self, rate_per_px_s: float = 2e3, off_after_s: float = float("inf")):
        self.rate, self.off_after_s = rate_per_px_s, off_after_s

    def topography_nm(self, x, y):
        return np.zeros_like(np.asarray(x, float))

    def shear_amplitude(self, d):  # fraction of the free amplitude vs gap (nm)
        return np.clip(np.asarray(d, float) / 5.0, 0.0, 1.0)

    def photon_rate(self, x_nm, y_nm, tip_z_nm, wavelength_nm, t0_s, dt_s):
        on = 1.0 if t0_s < self.off_after_s else 0.0
        return on * self.rate * np.exp(-0.5 * ((np.asarray(wavelength_nm) - 700.0) / 15.0) ** 2)

    def ground_truth(self):
        return {"band_nm": 700.0, "off_after_s": self.off_after_s}
