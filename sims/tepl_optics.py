"""Tip-sample physics of the TEPL twin (paper 000): the pieces ``TeplSample`` combines.

Lengths are nm, energies eV, rates photons per second reaching the CCD. The gap ``d`` is the height of the
tip apex above the Au substrate plane. Every function is vectorised numpy.

Model summary (the figures of physics.md section 1 follow from it):

- near-field gain of a dot under the tip: ``peak_enhancement * exp(-(d - d_q) / purcell_length)`` (1e4 at
  the threshold gap ``d_q = 8.5 nm``, ~1e5 at d = 2 nm) times a quenching factor that is 1 above ``d_q`` and
  falls faster than the gain grows below it, so the observed intensity (about 1e4 x the dot's far-field
  intensity, ~1e6 photons/s) peaks at ``d_q``; lateral coupling is a Gaussian of FWHM 10 nm;
- strain of a pressed dot: ``kappa * indentation / height`` (percent), shift ``-45 meV`` per percent;
- gap plasmon of the tip over Au: a fixed Voigt line whose rate grows slowly as the gap closes;
- far field: each dot in the ~400 nm laser focus adds a weak unenhanced contribution.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import voigt_profile

HC_EV_NM = 1239.841984  # photon energy (eV) times wavelength (nm)
FOUR_LN2 = 4.0 * np.log(2.0)


@dataclass(frozen=True)
class TipSampleParams:
    """Parameters of the tip, the gap and the optics. Units in the names; rates in photons/s."""

    apex_radius_nm: float = 10.0
    cone_half_angle_deg: float = 20.0
    lateral_fwhm_nm: float = 10.0
    focus_fwhm_nm: float = 400.0
    quench_gap_nm: float = 8.5
    purcell_length_nm: float = 2.5  # e-folding length of the near-field gain
    quench_fall_length_nm: float = 4.0  # e-folding length of the net intensity fall below the threshold
    peak_enhancement: float = 1.0e4  # near-field / far-field intensity of a dot at the threshold gap
    far_field_rate: float = 400.0  # photons/s of a dot of orientation 1 in the focus centre, no tip
    strain_kappa_percent: float = 62.0 / 45.0 / 0.8  # d = 2 nm on a 10 nm dot gives 1.378 %
    shift_eV_per_percent: float = -0.045
    pressure_GPa_per_percent: float = 0.78 / 1.34
    poisson_ratio: float = 0.143
    plasmon_center_eV: float = 1.90
    plasmon_fwhm_eV: float = 0.235
    plasmon_lorentz_fwhm_eV: float = 0.18
    plasmon_rate_at_2nm: float = 1.5e5
    plasmon_block_fwhm_nm: float = 10.0  # a dot in the gap takes the plasmon's place (apex-sized footprint)
    plasmon_decay_nm: float = 40.0
    shear_decay_nm: float = 0.76  # amplitude 0.9 of free at 1.75 nm
    roughness_rms_nm: float = 0.3

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------- spectra
def voigt_sigma_gamma(fwhm_eV: float, lorentz_fwhm_eV: float) -> tuple[float, float]:
    """Gaussian sigma and Lorentzian half-width (eV) of a Voigt of total FWHM ``fwhm_eV``.

    Uses the Olivero-Longbothum relation ``f_V = 0.5346 f_L + sqrt(0.2166 f_L^2 + f_G^2)``.
    """
    if not 0.0 <= lorentz_fwhm_eV < fwhm_eV:
        raise ValueError(f"Lorentzian FWHM {lorentz_fwhm_eV} eV must lie in [0, total FWHM {fwhm_eV} eV)")
    gauss_sq = (fwhm_eV - 0.5346 * lorentz_fwhm_eV) ** 2 - 0.2166 * lorentz_fwhm_eV**2
    if gauss_sq <= 0.0:
        raise ValueError(f"Lorentzian FWHM {lorentz_fwhm_eV} eV is too large for total {fwhm_eV} eV")
    return float(np.sqrt(gauss_sq) / np.sqrt(8.0 * np.log(2.0))), 0.5 * lorentz_fwhm_eV


class LineTable:
    """Normalised Voigt lines (per eV), one per row, tabulated once on a shared uniform offset grid.

    ``density(offsets)`` evaluates every line at its own offsets (eV from its centre) by linear
    interpolation, in one vectorised step; beyond the table (+-``half_range_eV``) the density is 0.
    """

    def __init__(self, fwhm_eV: np.ndarray, lorentz_fwhm_eV: np.ndarray, half_range_eV: float = 2.0,
                 step_eV: float = 2.5e-4):
        self.fwhm_eV = np.atleast_1d(np.asarray(fwhm_eV, float))
        self.lorentz_fwhm_eV = np.atleast_1d(np.asarray(lorentz_fwhm_eV, float))
        self._start_eV = -float(half_range_eV)
        self._step_eV = float(step_eV)
        grid = np.arange(-half_range_eV, half_range_eV + step_eV / 2, step_eV)
        rows = [voigt_profile(grid, *voigt_sigma_gamma(f, fl))
                for f, fl in zip(self.fwhm_eV, self.lorentz_fwhm_eV, strict=True)]
        rows = np.array(rows).reshape(len(rows), grid.size)
        # one zero column past each end so out-of-range offsets read 0
        self._table = np.pad(rows, ((0, 0), (1, 1)))
        self._table.flags.writeable = False

    @property
    def table(self) -> np.ndarray:
        """The tabulated densities (1/eV), one row per line, with a zero column at each end (read-only)."""
        return self._table

    @property
    def start_eV(self) -> float:
        """Offset (eV) of the table's first column after the leading zero."""
        return self._start_eV

    @property
    def step_eV(self) -> float:
        """Offset step (eV) between the table's columns."""
        return self._step_eV

    def density(self, offset_eV: np.ndarray) -> np.ndarray:
        """Density (1/eV) of line i at ``offset_eV[i, :]`` (shape (n_lines, n_points))."""
        n_rows, n_cols = self._table.shape
        pos = np.asarray(offset_eV, float) - self._start_eV
        pos *= 1.0 / self._step_eV
        pos += 1.0
        np.clip(pos, 0.0, n_cols - 1.001, out=pos)
        lower = pos.astype(np.intp)
        frac = pos - lower
        lower += (np.arange(n_rows) * n_cols)[:, None]
        flat = self._table.ravel()
        below = flat.take(lower)
        above = flat.take(lower + 1)
        return below + (above - below) * frac


class PixelAxis:
    """Photon energy (eV) at each pixel centre and each pixel's width in energy (eV).

    Remembers the last wavelength axis it was given, since a scan asks for the same axis every pixel; the
    arrays it returns are read-only.
    """

    def __init__(self) -> None:
        self._last = (np.empty(0), np.empty(0), np.empty(0))  # axis, energies, widths (swapped whole)

    def __call__(self, wavelength_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wl = np.asarray(wavelength_nm, float)
        last_wl, last_energy, last_width = self._last
        if wl is last_wl or (wl.shape == last_wl.shape and np.array_equal(wl, last_wl)):
            return last_energy, last_width
        if wl.ndim != 1 or wl.size < 2:
            raise ValueError(f"wavelength_nm must be a 1-D axis of at least 2 pixels, got shape {wl.shape}")
        if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
            raise ValueError("wavelength_nm must be finite and positive")
        energy = HC_EV_NM / wl
        width = HC_EV_NM / wl**2 * np.abs(np.gradient(wl))
        for kept in (energy, width):  # read-only: a memory downstream keeps them without a copy
            kept.flags.writeable = False
        self._last = (wl if not wl.flags.writeable and wl.flags.owndata else wl.copy(), energy, width)
        return energy, width


# ---------------------------------------------------------------------------------------------- gap
def purcell_gain(gap_nm: np.ndarray | float, p: TipSampleParams) -> np.ndarray:
    """Near-field (Purcell and excitation) gain of a dot under the tip vs gap; ~1e5 at a 2 nm gap."""
    d = np.asarray(gap_nm, float)
    return p.peak_enhancement * np.exp(-(d - p.quench_gap_nm) / p.purcell_length_nm)


def near_field_enhancement(gap_nm: np.ndarray | float, p: TipSampleParams) -> np.ndarray:
    """Intensity of a dot under the tip relative to its far-field intensity: gain x quench, peak at d_q."""
    return purcell_gain(gap_nm, p) * quench_factor(gap_nm, p)


def quench_factor(gap_nm: np.ndarray | float, p: TipSampleParams) -> np.ndarray:
    """Non-radiative loss factor: 1 above the threshold gap, falling below it faster than the gain grows."""
    d = np.asarray(gap_nm, float)
    rate = 1.0 / p.purcell_length_nm + 1.0 / p.quench_fall_length_nm
    return np.exp(-np.maximum(p.quench_gap_nm - d, 0.0) * rate)


def plasmon_rate(gap_nm: np.ndarray | float, p: TipSampleParams) -> np.ndarray:
    """Total gap-plasmon emission (photons/s) of the tip over bare Au at the given gap."""
    d = np.maximum(np.asarray(gap_nm, float), 0.0)
    return p.plasmon_rate_at_2nm * np.exp(-(d - 2.0) / p.plasmon_decay_nm)


def lateral_coupling(distance_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
    """Gaussian weight (1 on axis) of a point ``distance_nm`` from the axis, for a spot of FWHM ``fwhm_nm``."""
    r = np.asarray(distance_nm, float)
    return np.exp(-FOUR_LN2 * (r / fwhm_nm) ** 2)


def shear_amplitude(distance_nm: np.ndarray, p: TipSampleParams) -> np.ndarray:
    """Tuning-fork amplitude over free amplitude vs apex-to-surface distance: 1 far, 0 at contact."""
    dist = np.asarray(distance_nm, float)
    return 1.0 - np.exp(-np.maximum(dist, 0.0) / p.shear_decay_nm)


# ---------------------------------------------------------------------------------------------- shapes
def apex_height_nm(lateral_nm: np.ndarray, p: TipSampleParams) -> np.ndarray:
    """Height of the tip surface above its apex at ``lateral_nm`` from the axis (sphere + tangent cone)."""
    u = np.abs(np.asarray(lateral_nm, float))
    radius = p.apex_radius_nm
    u_tangent, tan_alpha = tip_cone(radius, p.cone_half_angle_deg)
    sphere = radius - np.sqrt(np.maximum(radius**2 - np.minimum(u, u_tangent) ** 2, 0.0))
    cone = np.maximum(u - u_tangent, 0.0) / tan_alpha
    return sphere + cone


@functools.lru_cache(maxsize=8)
def tip_cone(radius_nm: float, cone_half_angle_deg: float) -> tuple[np.float64, np.float64]:
    """Where the apex sphere meets its tangent cone (nm from the axis), and the tangent of the cone's half angle."""
    alpha = np.deg2rad(cone_half_angle_deg)
    return radius_nm * np.cos(alpha), np.tan(alpha)


class RoughSurface:
    """Smooth seeded Au roughness: a sum of random plane waves scaled to ``rms_nm`` (nm)."""

    def __init__(self, rng: np.random.Generator, rms_nm: float, n_waves: int = 24,
                 wavelength_range_nm: tuple[float, float] = (15.0, 300.0)):
        lo, hi = wavelength_range_nm
        period_nm = np.exp(rng.uniform(np.log(lo), np.log(hi), n_waves))
        angle = rng.uniform(0.0, 2 * np.pi, n_waves)
        self.kx = 2 * np.pi / period_nm * np.cos(angle)
        self.ky = 2 * np.pi / period_nm * np.sin(angle)
        self.phase = rng.uniform(0.0, 2 * np.pi, n_waves)
        self.amplitude_nm = rms_nm * np.sqrt(2.0 / n_waves)

    def height_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        x = np.asarray(x_nm, float)[..., None]
        y = np.asarray(y_nm, float)[..., None]
        return self.amplitude_nm * np.cos(x * self.kx + y * self.ky + self.phase).sum(axis=-1)
