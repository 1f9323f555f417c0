"""Starting values of the lifetime fits: lifetime patterns around a mean delay, the IRF from the decay's rising
edge (or the measured IRF's shift against it), background and amplitudes by least squares and Poisson EM steps.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from tepl import kernels
from tepl.analysis.decay_model import DecayModel
from tepl.analysis.poisson_fit import MU_FLOOR

STARTS = {1: ((1.0,), (0.4,), (2.5,)),
           2: ((0.3, 1.5), (0.15, 1.0), (0.5, 3.0), (0.08, 2.0)),
           3: ((0.1, 0.5, 2.0), (0.05, 0.3, 1.5), (0.2, 1.0, 4.0), (0.03, 0.4, 3.0))}


def _rising_edge(time_ns: np.ndarray, dt: float, y: np.ndarray) -> tuple[float, float, float, float]:
    """(t_half_ns, rise_10_90_ns, baseline, smoothed peak) of a decay's (or IRF's) rising edge."""
    width = int(np.clip(100.0 / max(y.max(), 1.0), 1, max(1, y.size // 50)))
    smooth = uniform_filter1d(y, 2 * (width // 2) + 1, mode="nearest") if width > 1 else y
    peak = int(np.argmax(smooth))
    base = float(np.percentile(smooth, 10.0))
    top = float(smooth[peak])
    centres = time_ns + 0.5 * dt

    def crossing(level: float) -> float:
        below = np.flatnonzero(smooth[:peak + 1] < level)
        if below.size == 0:
            return float(centres[0])
        i = int(below[-1])
        a, b = smooth[i], smooth[i + 1]
        frac = (level - a) / (b - a) if b != a else 0.5
        return float(centres[i] + frac * dt)

    height = top - base
    t_half = crossing(base + 0.5 * height)
    rise = crossing(base + 0.9 * height) - crossing(base + 0.1 * height)
    return t_half, max(rise, 0.0), base, top


def linear_start(model: DecayModel, p: np.ndarray, y: np.ndarray) -> None:
    """Background and amplitudes for fixed lifetimes and IRF: weighted least squares, then Poisson EM steps.

    With numba a Gaussian-IRF model runs the compiled twin of ``tepl.kernels.flim`` (same results to rounding).
    """
    if kernels.ENABLED and model.gaussian:
        from tepl.kernels.flim import linear_start as linear_start_compiled

        pc = np.ascontiguousarray(p)
        linear_start_compiled(pc, np.ascontiguousarray(y, float), model.n_exp, model.edges, model.dt,
                              model.period_ns or -1.0)
        p[:] = pc
        return
    shapes = model.shapes(p)                                    # (n, N, K)
    basis = np.concatenate([np.ones_like(shapes[:, :1]), shapes], axis=1)   # (n, N+1, K)
    w = 1.0 / np.maximum(y, 1.0)
    normal = np.einsum("nik,nk,njk->nij", basis, w, basis)
    rhs = np.einsum("nik,nk,nk->ni", basis, w, y)
    normal += 1e-9 * np.einsum("nii->n", normal)[:, None, None] * np.eye(basis.shape[1])
    coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
    floor = 1e-3 * np.maximum(y.mean(axis=1), 1e-3)
    coef[:, 0] = np.maximum(coef[:, 0], floor)
    coef[:, 1:] = np.maximum(coef[:, 1:], 0.05 * np.maximum(coef[:, 1:].max(axis=1, keepdims=True), floor[:, None]))
    norm = basis.sum(axis=2)
    for _ in range(8):  # expectation-maximisation keeps everything positive and raises the likelihood
        mu = np.einsum("ni,nik->nk", coef, basis)
        coef *= np.einsum("nik,nk->ni", basis, y / np.maximum(mu, MU_FLOOR)) / np.maximum(norm, 1e-300)
        coef[:, 0] = np.maximum(coef[:, 0], floor)
    p[:, model.i_y0] = coef[:, 0]
    p[:, model.i_amp] = coef[:, 1:]


def single_starts(model: DecayModel, time_ns: np.ndarray, y: np.ndarray, irf: np.ndarray | None) -> np.ndarray:
    """Several start vectors (n_starts, P) for one decay: one per lifetime pattern of ``STARTS``."""
    dt = model.dt
    t_half, rise, base, _ = _rising_edge(time_ns, dt, y)
    centres = time_ns + 0.5 * dt
    if model.gaussian:
        t0 = t_half
        sigma = float(np.clip(rise / 2.563, 0.5 * dt, 0.05 * model.span))
        pulse = t0
    else:
        irf_half, _, _, _ = _rising_edge(time_ns, dt, irf * (100.0 / irf.max()))
        shift = t_half - irf_half
        pulse = model.irf_centroid_ns + shift
        sigma = max(model.irf_rms_ns, 0.5 * dt)
    after = centres >= pulse - 3.0 * sigma
    excess = np.clip(y - base, 0.0, None) * after
    tau_mean = float(np.sum((centres - pulse) * excess) / max(excess.sum(), 1e-300))
    tau_mean = float(np.clip(tau_mean, 2.0 * dt, 0.5 * model.span))
    factors = np.array(STARTS[model.n_exp], float)
    p = np.zeros((len(factors), model.n_par))
    p[:, model.i_tau] = np.log(tau_mean * factors)
    if model.gaussian:
        p[:, model.i_t0] = t0
        p[:, model.i_sigma] = np.log(sigma)
    else:
        p[:, model.i_shift] = shift
    lo, hi = model.bounds()
    p = np.clip(p, lo, hi)
    linear_start(model, p, np.broadcast_to(y, (len(p), y.size)))
    return p

