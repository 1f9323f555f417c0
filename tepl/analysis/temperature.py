"""Ensemble models of perovskite quantum-dot films against temperature and inter-dot spacing.

- PL peak energy: E(T) = E0 + A_TE T + A_EP (2 / (exp(hbar w / k_B T) - 1) + 1) (thermal expansion plus
  electron-phonon renormalisation with one average optical phonon of energy hbar w).
- PL linewidth: Gamma(T) = Gamma0 + gamma_LO / (exp(E_LO / k_B T) - 1) (inhomogeneous width plus Froehlich
  coupling to LO phonons).
- Coupling against spacer length: the red shift from monolayer to bilayer falls as exp(-d / decay_length)
  (resonant tunnelling through the linker, beta ~ exp(-2 d sqrt(2 m* V) / hbar)).

Fits are weighted least squares (scipy curve_fit) with starts from the data and physical bounds; errors
are 1-sigma from the covariance (scaled by the residual scatter unless absolute errors are given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import constants
from scipy.optimize import curve_fit

K_B_EV_PER_K = constants.k / constants.e
"""Boltzmann constant (eV/K)."""
_HBAR2_OVER_2ME_EV_NM2 = (constants.hbar**2 / (2.0 * constants.m_e)) / constants.e * 1e18
"""hbar^2 / (2 m_e) in eV nm^2 (0.0381)."""


@dataclass(frozen=True)
class ParameterFit:
    """Fitted parameters by name, their 1-sigma errors (0 for parameters held fixed), the residual rms and
    the fitted model at the data points."""

    values: dict[str, float]
    errors: dict[str, float]
    rms_residual: float
    fitted: np.ndarray

    def __getitem__(self, name: str) -> float:
        return self.values[name]


# ---------------------------------------------------------------------------------------------- models
def _bose(energy_eV, T_K):
    """Bose-Einstein occupation 1 / (exp(E / k_B T) - 1); 0 at T = 0."""
    T = np.asarray(T_K, float)
    with np.errstate(divide="ignore", over="ignore"):
        x = np.asarray(energy_eV, float) / (K_B_EV_PER_K * np.where(T > 0, T, np.nan))
        out = 1.0 / np.expm1(x)
    return np.where(T > 0, out, 0.0)


def peak_energy_eV(T_K, E0_eV: float, A_TE_eV_per_K: float, A_EP_eV: float, phonon_energy_meV: float):
    """PL peak energy (eV) at temperature T_K (K): E0 + A_TE T + A_EP (2 n(hbar w, T) + 1)."""
    T = np.asarray(T_K, float)
    return E0_eV + A_TE_eV_per_K * T + A_EP_eV * (2.0 * _bose(phonon_energy_meV * 1e-3, T) + 1.0)


def linewidth_meV(T_K, gamma0_meV: float, gamma_LO_meV: float, E_LO_meV: float):
    """PL linewidth (FWHM, meV) at temperature T_K (K): Gamma0 + gamma_LO n(E_LO, T)."""
    return gamma0_meV + gamma_LO_meV * _bose(E_LO_meV * 1e-3, T_K)


def spacer_shift_meV(spacer_nm, amplitude_meV: float, decay_length_nm: float):
    """Energy shift (meV) against inter-dot spacer length (nm): amplitude exp(-spacer / decay_length)."""
    return amplitude_meV * np.exp(-np.asarray(spacer_nm, float) / decay_length_nm)


# ---------------------------------------------------------------------------------------------- fitting
def _series(x, y, sigma, x_name: str, y_name: str, n_min: int):
    xa = np.asarray(x, float)
    ya = np.asarray(y, float)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"{x_name} and {y_name} must be 1-D arrays of one length, got {xa.shape} and {ya.shape}")
    if xa.size < n_min:
        raise ValueError(f"{xa.size} points are too few: at least {n_min} are needed")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError(f"{x_name} and {y_name} must be finite")
    s = None
    if sigma is not None:
        s = np.broadcast_to(np.asarray(sigma, float), ya.shape)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"sigma of {y_name} must be finite and positive")
    return xa, ya, s


def _run_fit(func, x, y, sigma, names, p0, lo, hi, fixed: dict[str, float]) -> ParameterFit:
    free = [n for n in names if n not in fixed]
    idx = {n: i for i, n in enumerate(free)}

    def model(xx, *p):
        args = [fixed[n] if n in fixed else p[idx[n]] for n in names]
        return func(xx, *args)

    start = [p0[n] for n in free]
    bounds = ([lo[n] for n in free], [hi[n] for n in free])
    start = list(np.clip(start, bounds[0], bounds[1]))
    popt, pcov = curve_fit(model, x, y, p0=start, sigma=sigma, absolute_sigma=sigma is not None,
                           bounds=bounds, maxfev=20000)
    perr = np.sqrt(np.maximum(np.diag(pcov), 0.0))
    values = {n: (fixed[n] if n in fixed else float(popt[idx[n]])) for n in names}
    errors = {n: (0.0 if n in fixed else float(perr[idx[n]])) for n in names}
    fitted = model(x, *popt)
    return ParameterFit(values, errors, float(np.sqrt(np.mean((y - fitted) ** 2))), fitted)


def fit_peak_energy(T_K, E_eV, sigma_eV=None, *, phonon_energy_meV: float | None = None) -> ParameterFit:
    """Fit :func:`peak_energy_eV` to peak energies (eV) against temperature (K).

    Parameters E0_eV, A_TE_eV_per_K, A_EP_eV, phonon_energy_meV (the last held fixed when given).
    sigma_eV: 1-sigma errors of E_eV (absolute) or None (errors from the scatter).
    """
    T, E, s = _series(T_K, E_eV, sigma_eV, "T_K", "E_eV", 4 if phonon_energy_meV is None else 3)
    if np.any(T <= 0):
        raise ValueError("T_K must be positive temperatures in K")
    names = ["E0_eV", "A_TE_eV_per_K", "A_EP_eV", "phonon_energy_meV"]
    hot = T >= np.median(T)
    slope = float(np.polyfit(T[hot], E[hot], 1)[0]) if hot.sum() >= 2 else 0.0
    cold = float(E[np.argmin(T)])
    # start: a 20 meV phonon; above ~150 K the curve is linear, slope A_TE + 2 A_EP k_B / hbar w
    p0 = {"E0_eV": cold + 0.03, "A_TE_eV_per_K": slope + 2.0 * 0.03 * K_B_EV_PER_K / 0.02, "A_EP_eV": -0.03,
          "phonon_energy_meV": 20.0}
    lo = {"E0_eV": E.min() - 1.0, "A_TE_eV_per_K": -1e-2, "A_EP_eV": -1.0, "phonon_energy_meV": 1.0}
    hi = {"E0_eV": E.max() + 1.0, "A_TE_eV_per_K": 1e-2, "A_EP_eV": 1.0, "phonon_energy_meV": 200.0}
    fixed = {} if phonon_energy_meV is None else {"phonon_energy_meV": float(phonon_energy_meV)}
    return _run_fit(peak_energy_eV, T, E, s, names, p0, lo, hi, fixed)


def fit_linewidth(T_K, fwhm_meV, sigma_meV=None, *, E_LO_meV: float | None = None) -> ParameterFit:
    """Fit :func:`linewidth_meV` to linewidths (FWHM, meV) against temperature (K).

    Parameters gamma0_meV, gamma_LO_meV, E_LO_meV (the last held fixed when given).
    sigma_meV: 1-sigma errors of fwhm_meV (absolute) or None (errors from the scatter).
    """
    T, G, s = _series(T_K, fwhm_meV, sigma_meV, "T_K", "fwhm_meV", 3 if E_LO_meV is None else 2)
    if np.any(T <= 0):
        raise ValueError("T_K must be positive temperatures in K")
    names = ["gamma0_meV", "gamma_LO_meV", "E_LO_meV"]
    e_lo = 25.0 if E_LO_meV is None else float(E_LO_meV)
    g0 = float(G[np.argmin(T)])
    n_hot = float(_bose(e_lo * 1e-3, T.max()))
    p0 = {"gamma0_meV": g0, "gamma_LO_meV": max((G.max() - g0) / max(n_hot, 1e-3), 1.0), "E_LO_meV": e_lo}
    lo = {"gamma0_meV": 0.0, "gamma_LO_meV": 0.0, "E_LO_meV": 1.0}
    hi = {"gamma0_meV": np.inf, "gamma_LO_meV": np.inf, "E_LO_meV": 200.0}
    fixed = {} if E_LO_meV is None else {"E_LO_meV": float(E_LO_meV)}
    return _run_fit(linewidth_meV, T, G, s, names, p0, lo, hi, fixed)


def fit_spacer_coupling(spacer_nm, shift_meV, sigma_meV=None, *, effective_mass_me: float | None = None
                        ) -> ParameterFit:
    """Fit the exponential fall of the coupling shift (meV) with spacer length (nm).

    Parameters amplitude_meV (shift extrapolated to zero spacing; its sign is the data's) and
    decay_length_nm. With ``effective_mass_me`` (carrier mass / m_e) the tunnel barrier height follows from
    1 / decay_length = 2 sqrt(2 m* V) / hbar and is added as ``barrier_eV`` (with its error).
    """
    d, shift, s = _series(spacer_nm, shift_meV, sigma_meV, "spacer_nm", "shift_meV", 2)
    if np.all(shift == 0):
        raise ValueError("shift_meV is zero everywhere: no coupling to fit")
    sign = 1.0 if np.sum(shift) >= 0 else -1.0
    mag = np.abs(shift)
    good = mag > 0
    if good.sum() >= 2 and np.ptp(d[good]) > 0:
        slope, intercept = np.polyfit(d[good], np.log(mag[good]), 1)
    else:
        slope, intercept = -1.0, float(np.log(mag.max()))
    decay0 = -1.0 / slope if slope < 0 else float(np.ptp(d) or 1.0)
    p0 = {"amplitude_meV": sign * float(np.exp(intercept)), "decay_length_nm": decay0}
    lo = {"amplitude_meV": -np.inf if sign < 0 else 0.0, "decay_length_nm": 1e-3}
    hi = {"amplitude_meV": 0.0 if sign < 0 else np.inf, "decay_length_nm": 1e3}
    result = _run_fit(spacer_shift_meV, d, shift, s, ["amplitude_meV", "decay_length_nm"], p0, lo, hi, {})
    if effective_mass_me is None:
        return result
    if not effective_mass_me > 0:
        raise ValueError(f"effective_mass_me must be positive, got {effective_mass_me!r}")
    # 1/L = 2 sqrt(2 m* V)/hbar  ->  V = hbar^2 / (8 m* L^2) = (hbar^2 / 2 m_e) / (4 m*/m_e L^2)
    length = result.values["decay_length_nm"]
    barrier = _HBAR2_OVER_2ME_EV_NM2 / (4.0 * effective_mass_me * length**2)
    values = dict(result.values, barrier_eV=barrier)
    errors = dict(result.errors, barrier_eV=2.0 * barrier * result.errors["decay_length_nm"] / length)
    return ParameterFit(values, errors, result.rms_residual, result.fitted)
