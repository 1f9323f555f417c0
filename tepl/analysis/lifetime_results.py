"""What the lifetime fits return (``DecayFit``, ``FlimMaps``) and what is derived from fitted parameters:
component order by lifetime, amplitude and intensity fractions, weighted mean lifetimes and background
fraction with their propagated errors, and whether a fit is sound.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from tepl.analysis.decay_model import DecayModel


@dataclass(frozen=True)
class DecayFit:
    """Fit of one decay. Per-component arrays have shape (n_exp,), sorted by lifetime ascending.

    tau_ns, tau_ns_err: lifetimes (ns) and 1-sigma errors. amplitude: A_i (counts per bin at the pulse).
    amplitude_fraction: A_i / sum(A); intensity_fraction: A_i tau_i / sum(A tau) (share of decay photons).
    background: y0 (counts per bin); background_fraction: y0 * n_bins / total counts.
    t0_ns: pulse time (Gaussian IRF: its fitted centre; measured IRF: IRF centroid + shift_ns).
    sigma_ns: Gaussian IRF width (fitted) or the rms width of the measured IRF (not fitted).
    shift_ns: fitted shift of the decay against the measured IRF (NaN for the Gaussian model).
    tau_amplitude_weighted_ns = sum(A tau) / sum(A); tau_intensity_weighted_ns = sum(A tau^2) / sum(A tau).
    deviance: Poisson deviance; reduced_deviance: deviance / (n_bins - n_parameters), ~1 for a good model.
    model: fitted counts per bin. ok: converged, finite, every amplitude positive, no lifetime on a bound.
    """

    tau_ns: np.ndarray
    tau_ns_err: np.ndarray
    amplitude: np.ndarray
    amplitude_fraction: np.ndarray
    amplitude_fraction_err: np.ndarray
    intensity_fraction: np.ndarray
    background: float
    background_fraction: float
    background_fraction_err: float
    t0_ns: float
    t0_ns_err: float
    sigma_ns: float
    sigma_ns_err: float
    shift_ns: float
    shift_ns_err: float
    tau_amplitude_weighted_ns: float
    tau_amplitude_weighted_ns_err: float
    tau_intensity_weighted_ns: float
    tau_intensity_weighted_ns_err: float
    n_photons: float
    deviance: float
    reduced_deviance: float
    n_iter: int
    ok: bool
    model: np.ndarray

    def as_dict(self) -> dict:
        """Every field by name (e.g. to write into a file)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class FlimMaps:
    """Per-pixel FLIM results. Maps have the cube's pixel shape; per-component maps lead with the component.

    tau_ns[i], tau_ns_err[i], amplitude_fraction[i], intensity_fraction[i]: component i (lifetime order).
    background_fraction, tau_amplitude_weighted_ns, tau_intensity_weighted_ns, reduced_deviance: as in
    DecayFit. photons: counts of the pixel's own decay. fitted: the (binned) decay reached ``min_counts``
    and was fitted; every other map is NaN where it is False. ok: fitted and the fit is sound.
    t0_ns / shift_ns / sigma_ns: IRF parameters per pixel (fitted per pixel only with ``irf_per_pixel``,
    otherwise the summed decay's values everywhere). global_fit: the fit of the decay summed over all
    fitted pixels, which gives every pixel its start (None when no pixel is fitted).
    """

    tau_ns: np.ndarray
    tau_ns_err: np.ndarray
    amplitude_fraction: np.ndarray
    intensity_fraction: np.ndarray
    background_fraction: np.ndarray
    tau_amplitude_weighted_ns: np.ndarray
    tau_amplitude_weighted_ns_err: np.ndarray
    tau_intensity_weighted_ns: np.ndarray
    t0_ns: np.ndarray
    shift_ns: np.ndarray
    sigma_ns: np.ndarray
    reduced_deviance: np.ndarray
    photons: np.ndarray
    n_iter: np.ndarray
    fitted: np.ndarray
    ok: np.ndarray
    global_fit: DecayFit | None

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}



def _derived(model: DecayModel, p: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Derived quantities (n, 3N + 3): tau, amplitude fraction, intensity fraction, tau_amp, tau_int, bg frac."""
    tau = np.exp(p[:, model.i_tau])
    a = p[:, model.i_amp]
    with np.errstate(divide="ignore", invalid="ignore"):
        a_sum = a.sum(axis=1, keepdims=True)
        at = a * tau
        at_sum = at.sum(axis=1, keepdims=True)
        out = [tau, a / a_sum, at / at_sum, at_sum / a_sum, (at * tau).sum(axis=1, keepdims=True) / at_sum,
               (p[:, model.i_y0] * model.n_bins / total)[:, None]]
    return np.concatenate(out, axis=1)


def derived_with_errors(model: DecayModel, p: np.ndarray, cov: np.ndarray, total: np.ndarray):
    """Derived quantities and their 1-sigma errors by linear propagation (central differences)."""
    values = _derived(model, p, total)
    scale = np.ones(model.n_par)
    grad = np.zeros(values.shape + (model.n_par,))
    a_scale = np.maximum(np.abs(p[:, model.i_amp]).mean(axis=1), 1e-12)
    for k in range(model.n_par):
        if k in model.i_amp or k == model.i_y0:
            h = 1e-6 * np.maximum(np.abs(p[:, k]), a_scale)
        else:
            h = 1e-6 * np.maximum(np.abs(p[:, k]), scale[k])
        up, down = p.copy(), p.copy()
        up[:, k] += h
        down[:, k] -= h
        grad[:, :, k] = (_derived(model, up, total) - _derived(model, down, total)) / (2.0 * h[:, None])
    with np.errstate(invalid="ignore"):
        var = np.einsum("nqi,nij,nqj->nq", grad, cov, grad)
        err = np.sqrt(np.where(var >= 0, var, np.nan))
    return values, err



def sort_components(model: DecayModel, p: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder components by lifetime (ascending) in parameters and covariance."""
    order = np.argsort(p[:, model.i_tau], axis=1)
    perm = np.broadcast_to(np.arange(model.n_par), p.shape).copy()
    perm[:, model.i_tau] = model.i_tau[order]
    perm[:, model.i_amp] = model.i_amp[order]
    p_sorted = np.take_along_axis(p, perm, axis=1)
    cov_sorted = np.take_along_axis(np.take_along_axis(cov, perm[:, :, None], axis=1), perm[:, None, :], axis=2)
    return p_sorted, cov_sorted


def soundness(model: DecayModel, p: np.ndarray, converged: np.ndarray, cov: np.ndarray,
               free: np.ndarray) -> np.ndarray:
    """A fit is sound when it converged with finite errors, no lifetime or IRF parameter sits on a bound,
    every component carries at least 1e-4 of the amplitude and none is so long (over 20 periods or
    histogram spans) that it is only a second background."""
    lo, hi = model.bounds()
    shaping = np.array([i for i in [*model.i_tau, *model.irf_index] if free[i]], int)  # not y0, A
    width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)[shaping]
    inside = (p[:, shaping] > lo[shaping] + 1e-6 * width) & (p[:, shaping] < hi[shaping] - 1e-6 * width)
    off_bounds = np.all(inside, axis=1)
    off_bounds &= np.all(p[:, model.i_tau] < np.log(20.0 * max(model.span, model.period_ns or 0.0)), axis=1)
    amp = p[:, model.i_amp]
    positive = np.all(amp > 1e-4 * np.maximum(amp.sum(axis=1, keepdims=True), 1e-300), axis=1)
    var = np.einsum("kii->ki", cov)[:, free]
    return converged & off_bounds & positive & np.all(np.isfinite(p), axis=1) & np.all(np.isfinite(var), axis=1)

