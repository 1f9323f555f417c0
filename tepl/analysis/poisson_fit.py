"""Levenberg-Marquardt on the Poisson deviance ``2 sum(mu - y - y ln(mu / y))`` (maximum likelihood for
counts) for a batch of decays at once: stacked normal equations on the Fisher information and one batched
``np.linalg.solve`` per step, no Python loop over the batch; parameters held inside the model's bounds.
The covariance of the result is the inverse Fisher information on the free parameters.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from tepl import kernels
from tepl.analysis.decay_model import DecayModel

MU_FLOOR = 1e-12        # counts per bin: floor of the model inside logarithms and weights


def _deviance(y: np.ndarray, y_log_y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Poisson deviance per row; ``y_log_y`` = xlogy(y, y) - y precomputed."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = mu + y_log_y - xlogy(y, np.maximum(mu, MU_FLOOR))
    return 2.0 * terms.sum(axis=-1)


def _scaled_solve(h: np.ndarray, g: np.ndarray, damping: np.ndarray) -> np.ndarray:
    """Solve (H + damping diag(H)) x = g for every member of the batch, with diagonal scaling."""
    n_par = h.shape[-1]
    d = np.sqrt(np.einsum("kii->ki", h))
    d = np.where(d > 0, d, 1.0)
    hs = h / (d[:, :, None] * d[:, None, :])
    hs[:, np.arange(n_par), np.arange(n_par)] += damping[:, None]
    try:
        xs = np.linalg.solve(hs, (g / d)[..., None])[..., 0]
    except np.linalg.LinAlgError:
        xs = (np.linalg.pinv(hs) @ (g / d)[..., None])[..., 0]
    return xs / d


def _covariance(h: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Inverse Fisher information on the free parameters (zero rows/columns for fixed ones, NaN if singular)."""
    n_par = h.shape[-1]
    idx = np.flatnonzero(free)
    sub = h[:, idx[:, None], idx[None, :]]
    d = np.sqrt(np.einsum("kii->ki", sub))
    good = np.all(d > 0, axis=-1) & np.all(np.isfinite(sub), axis=(1, 2))
    d = np.where(d > 0, d, 1.0)
    scaled = np.nan_to_num(sub / (d[:, :, None] * d[:, None, :]))
    good &= np.linalg.cond(scaled) < 1e13
    inv = np.full_like(scaled, np.nan)
    if good.any():
        inv[good] = np.linalg.inv(scaled[good])
    cov = np.zeros((h.shape[0], n_par, n_par))
    cov[:, idx[:, None], idx[None, :]] = inv / (d[:, :, None] * d[:, None, :])
    return cov


def fit_poisson(model: DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
                 tolerance: float):
    """Levenberg-Marquardt on the Poisson deviance for a batch (n, K) of decays; updates p in place.

    Returns (deviance, n_iter, converged, covariance). With numba (``tepl.kernels``) a Gaussian-IRF model is
    fitted by the compiled kernel of ``tepl.kernels.flim``, decays in parallel, with the same results to rounding.
    """
    n = y.shape[0]
    lo, hi = model.bounds()
    if kernels.ENABLED and model.gaussian:
        from tepl.kernels.flim import fit_poisson as fit_compiled

        p[:] = np.clip(p, lo, hi)
        dev, n_iter = np.empty(n), np.zeros(n, np.int64)
        converged, h = np.zeros(n, bool), np.empty((n, model.n_par, model.n_par))
        pc = np.ascontiguousarray(p)
        fit_compiled(pc, np.ascontiguousarray(y, float), model.n_exp, model.edges, model.dt,
                     model.period_ns or -1.0, np.asarray(free, bool), lo, hi, int(max_iter), float(tolerance),
                     dev, n_iter, converged, h)
        p[:] = pc
        return dev, n_iter, converged, _covariance(h, free)
    p[:] = np.clip(p, lo, hi)
    y_log_y = xlogy(y, y) - y
    damping = np.full(n, 1e-3)
    active = np.ones(n, bool)
    converged = np.zeros(n, bool)
    n_iter = np.zeros(n, int)
    mu, _ = model.evaluate(p, jacobian=False)
    dev = _deviance(y, y_log_y, mu)
    fixed = ~free
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        n_iter[idx] += 1
        pa, ya = p[idx], y[idx]
        mu, jac = model.evaluate(pa, jacobian=True)
        inv_mu = 1.0 / np.maximum(mu, MU_FLOOR)
        jw = jac * inv_mu[:, None, :]
        h = np.matmul(jw, jac.transpose(0, 2, 1))
        g = np.einsum("npk,nk->np", jac, ya * inv_mu - 1.0)
        held = fixed[None, :] | ((pa <= lo) & (g < 0)) | ((pa >= hi) & (g > 0))
        keep = ~held
        h = h * (keep[:, :, None] & keep[:, None, :])
        diag = np.einsum("kii->ki", h)
        diag += held
        g = np.where(held, 0.0, g)
        pending = np.arange(idx.size)
        for _try in range(6):  # raise the damping of a rejected step without recomputing the Jacobian
            rows = idx[pending]
            step = _scaled_solve(h[pending], g[pending], damping[rows])
            trial = np.clip(pa[pending] + step, lo, hi)
            trial_mu, _ = model.evaluate(trial, jacobian=False)
            trial_dev = _deviance(ya[pending], y_log_y[rows], trial_mu)
            better = np.isfinite(trial_dev) & (trial_dev <= dev[rows])
            good_rows = rows[better]
            gain = dev[good_rows] - trial_dev[better]
            p[good_rows] = trial[better]
            dev[good_rows] = trial_dev[better]
            damping[good_rows] = np.maximum(damping[good_rows] / 5.0, 1e-9)
            finished = good_rows[gain < tolerance]
            converged[finished] = True
            active[finished] = False
            bad_rows = rows[~better]
            damping[bad_rows] *= 10.0
            stuck = bad_rows[damping[bad_rows] > 1e12]
            converged[stuck] = True
            active[stuck] = False
            pending = pending[~better & (damping[rows] <= 1e12)]
            if pending.size == 0:
                break
    mu, jac = model.evaluate(p, jacobian=True)
    inv_mu = 1.0 / np.maximum(mu, MU_FLOOR)
    h = np.matmul(jac * inv_mu[:, None, :], jac.transpose(0, 2, 1))
    return dev, n_iter, converged, _covariance(h, free)

