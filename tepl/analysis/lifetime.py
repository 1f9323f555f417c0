"""Maximum-likelihood fits of single TCSPC fluorescence decays (``fit_decay``, ``fit_trpl``), on the model of
``tepl.analysis.decay_model`` (y0 + sum_i A_i exp(-t / tau_i) convolved with a Gaussian or measured IRF).

The fit minimises the Poisson deviance (``tepl.analysis.poisson_fit``) from several lifetime starts at once
(``tepl.analysis.lifetime_starts``) and keeps the best; lifetimes are fitted as ln(tau), amplitudes and
background are held non-negative. FLIM images are fitted by ``tepl.analysis.flim``.
"""

from __future__ import annotations

import numpy as np

from tepl.analysis.decay_checks import check_counts, check_options, check_time, normalised_irf
from tepl.analysis.decay_model import DecayModel
from tepl.analysis.lifetime_results import DecayFit, derived_with_errors, sort_components, soundness
from tepl.analysis.lifetime_starts import linear_start, single_starts
from tepl.analysis.poisson_fit import fit_poisson


def _decay_fit_from_row(model: DecayModel, p: np.ndarray, cov: np.ndarray, dev: float, n_iter: int,
                        ok: bool, y: np.ndarray) -> DecayFit:
    total = np.array([y.sum()])
    values, err = derived_with_errors(model, p[None], cov[None], total)
    n = model.n_exp
    v, e = values[0], err[0]
    dof = max(model.n_bins - model.n_par, 1)
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    if model.gaussian:
        t0, t0_err = p[model.i_t0], std[model.i_t0]
        sigma = float(np.exp(p[model.i_sigma]))
        sigma_err = sigma * std[model.i_sigma]
        shift = shift_err = np.nan
    else:
        shift, shift_err = p[model.i_shift], std[model.i_shift]
        t0, t0_err = model.irf_centroid_ns + shift, shift_err
        sigma, sigma_err = model.irf_rms_ns, np.nan
    mu = model.evaluate(p[None], jacobian=False)[0][0]
    return DecayFit(
        tau_ns=v[:n], tau_ns_err=e[:n], amplitude=p[model.i_amp].copy(), amplitude_fraction=v[n:2 * n],
        amplitude_fraction_err=e[n:2 * n], intensity_fraction=v[2 * n:3 * n], background=float(p[model.i_y0]),
        background_fraction=float(v[3 * n + 2]), background_fraction_err=float(e[3 * n + 2]),
        t0_ns=float(t0), t0_ns_err=float(t0_err), sigma_ns=float(sigma), sigma_ns_err=float(sigma_err),
        shift_ns=float(shift), shift_ns_err=float(shift_err),
        tau_amplitude_weighted_ns=float(v[3 * n]), tau_amplitude_weighted_ns_err=float(e[3 * n]),
        tau_intensity_weighted_ns=float(v[3 * n + 1]), tau_intensity_weighted_ns_err=float(e[3 * n + 1]),
        n_photons=float(total[0]), deviance=float(dev), reduced_deviance=float(dev / dof), n_iter=int(n_iter),
        ok=bool(ok), model=mu)


def fit_decay(time_ns: np.ndarray, counts: np.ndarray, n_exp: int = 2, irf: np.ndarray | None = None,
              period_ns: float | None = None, *, fit_irf_shift: bool = True, max_iter: int = 200,
              tolerance: float = 1e-4) -> DecayFit:
    """Maximum-likelihood fit of one TCSPC decay by ``y0 + sum_i A_i exp(-t/tau_i)`` convolved with the IRF.

    time_ns: (K,) bin starts (ns, uniform, strictly increasing). counts: (K,) raw counts per bin.
    n_exp: 1, 2 or 3 components. irf: measured IRF histogram on the same bins (baseline = its median bin,
    removed; normalised internally; its shift against the decay fitted unless ``fit_irf_shift`` is False),
    or None for a Gaussian IRF whose centre and width are fitted (started from the rising edge).
    period_ns: laser period (ns); the decay is then periodic and earlier pulses' tails add up.
    Several lifetime starts are fitted at once; the one of lowest deviance is returned. Iteration stops when
    a step lowers the deviance by less than ``tolerance``.
    """
    t = check_time(time_ns)
    y = check_counts(counts, t.size, "counts")
    if y.ndim != 1:
        raise ValueError(f"fit_decay takes one decay (1-D counts), got shape {y.shape}; use fit_flim")
    period = check_options(n_exp, period_ns)
    if y.sum() <= 0:
        raise ValueError("counts are all zero: nothing to fit")
    h = None if irf is None else normalised_irf(irf, t.size)
    model = DecayModel(t, n_exp, period, h)
    if model.n_par >= t.size:
        raise ValueError(f"{t.size} bins are too few for {model.n_par} parameters")
    p = single_starts(model, t, y, h)
    free = np.ones(model.n_par, bool)
    if not model.gaussian and not fit_irf_shift:
        free[model.i_shift] = False
        p[:, model.i_shift] = 0.0
        linear_start(model, p, np.broadcast_to(y, p.shape[:1] + y.shape))
    yy = np.broadcast_to(y, (p.shape[0], y.size)).copy()
    dev, n_iter, converged, cov = fit_poisson(model, yy, p, free, max_iter, tolerance)
    p, cov = sort_components(model, p, cov)
    ok = soundness(model, p, converged, cov, free)
    narrow = _irf_below_resolution(model, p, free) & ~ok
    if narrow.any():  # an IRF narrower than the bins resolve: held at the narrowest width and fitted again
        held = free.copy()
        held[model.i_sigma] = False
        rows = np.flatnonzero(narrow)
        p_h = p[rows]  # a copy: fitted in place
        dev_h, n_iter_h, conv_h, cov_h = fit_poisson(model, yy[rows], p_h, held, max_iter, tolerance)
        p_h, cov_h = sort_components(model, p_h, cov_h)
        better = soundness(model, p_h, conv_h, cov_h, held)
        keep = rows[better]
        p[keep], cov[keep], dev[keep], n_iter[keep] = p_h[better], cov_h[better], dev_h[better], n_iter_h[better]
        ok[keep] = True
    score = np.where(np.isfinite(dev), dev, np.inf) + np.where(ok, 0.0, 1e-6 * np.abs(dev) + 1e-3)
    best = int(np.argmin(score))
    return _decay_fit_from_row(model, p[best], cov[best], dev[best], n_iter[best], ok[best], y)


def _irf_below_resolution(model: DecayModel, p: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Per start: a fitted Gaussian IRF width at its lower bound (2 % of a bin: far narrower than the histogram
    resolves), so the width cannot be told and is only a nuisance parameter."""
    if not model.gaussian or not free[model.i_sigma]:
        return np.zeros(p.shape[0], bool)
    lo, hi = model.bounds()
    return p[:, model.i_sigma] <= lo[model.i_sigma] + 1e-6 * (hi[model.i_sigma] - lo[model.i_sigma])


def fit_trpl(time_ns: np.ndarray, counts: np.ndarray, n_exp: int = 3, irf: np.ndarray | None = None,
             period_ns: float | None = None, **options) -> DecayFit:
    """Transient-PL fit (tri-exponential by default); read ``tau_amplitude_weighted_ns`` for the mean lifetime.

    The amplitude-weighted mean sum(A_i tau_i) / sum(A_i) is the average lifetime of ensemble TrPL studies.
    Arguments as for :func:`fit_decay`.
    """
    return fit_decay(time_ns, counts, n_exp=n_exp, irf=irf, period_ns=period_ns, **options)
