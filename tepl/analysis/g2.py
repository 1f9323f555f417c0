"""Fit of antibunching (HBT) histograms: g2(t) = 1 - C exp(-|t - t0| / tau), convolved with the IRF.

Under CW excitation the normalised coincidence histogram of a single emitter dips at zero delay; the dip
recovers with the rise time tau (close to the exciton lifetime far below saturation) and its depth C < 1
accounts for uncorrelated background photons. The timing jitter of the two detectors blurs the dip with a
Gaussian of width ``irf_sigma_ns`` (given, or fitted). The model is averaged over each histogram bin and,
optionally, scaled by a normalisation factor (the plateau far from zero), so a histogram normalised
slightly off still fits.

Weighted least squares: with the raw coincidence counts, each bin's error is the Poisson error of the
counts the model expects there (iterated once), so empty or nearly empty bins are weighted correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.optimize import least_squares
from scipy.special import erfcx, ndtr

_SQRT2 = np.sqrt(2.0)
_SIGMA_FLOOR_NS = 1e-6


@dataclass(frozen=True)
class G2Fit:
    """Result of :func:`fit_g2`. Times in ns; ``*_err`` are 1-sigma errors.

    tau_ns: rise time; contrast: C (1 - C is g2(t0) without the IRF); t0_ns: centre of the dip;
    irf_sigma_ns: Gaussian IRF width (fitted when not given; its error is 0 when given, NaN when the fit
    put it on a bound, e.g. 0 for an IRF narrower than the bins resolve);
    normalization: plateau factor (1 when not fitted); g2_zero: normalised model at t0 including the IRF
    blur, as a measurement of this resolution shows it; chi2_red: reduced chi^2 (weighted); ok: converged
    with finite errors on tau, C and t0.
    """

    tau_ns: float
    tau_ns_err: float
    contrast: float
    contrast_err: float
    t0_ns: float
    t0_ns_err: float
    irf_sigma_ns: float
    irf_sigma_ns_err: float
    normalization: float
    normalization_err: float
    g2_zero: float
    chi2_red: float
    ok: bool

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---------------------------------------------------------------------------------------------- model
def _one_sided(u: np.ndarray, tau: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """E(u) = (exp(-u/tau) H(u)) convolved with a unit Gaussian of width sigma, and its antiderivative F(u)."""
    s_over_tau = sigma / tau
    x = u / sigma
    z = (s_over_tau - x) / _SQRT2
    positive = z > 0
    with np.errstate(over="ignore", under="ignore"):
        tail = np.where(positive, 0.0, np.exp(np.minimum(0.5 * s_over_tau**2 - u / tau, 0.0)))
        e = tail + np.where(positive, 0.5, -0.5) * np.exp(-0.5 * x * x) * erfcx(np.abs(z))
    return e, tau * (ndtr(x) - e)


def g2_model(lag_ns: np.ndarray, tau_ns: float, contrast: float, t0_ns: float = 0.0, irf_sigma_ns: float = 0.0,
             normalization: float = 1.0, bin_width_ns: float | None = None) -> np.ndarray:
    """Model g2 at delays ``lag_ns`` (ns): normalization * (1 - C exp(-|t - t0|/tau)) blurred by the IRF.

    irf_sigma_ns: Gaussian width of the combined detector jitter (0: none). bin_width_ns: when given, the
    model is averaged over bins of that width centred on ``lag_ns``; otherwise it is the value at lag_ns.
    """
    lag = np.asarray(lag_ns, float)
    if not tau_ns > 0:
        raise ValueError(f"tau_ns must be positive, got {tau_ns!r}")
    if irf_sigma_ns < 0:
        raise ValueError(f"irf_sigma_ns must be >= 0, got {irf_sigma_ns!r}")
    u = lag - t0_ns
    if bin_width_ns is not None and not bin_width_ns > 0:
        raise ValueError(f"bin_width_ns must be positive, got {bin_width_ns!r}")
    if irf_sigma_ns < _SIGMA_FLOOR_NS * tau_ns:   # no IRF: exp(-|u|/tau), antiderivative sign(u) tau (1 - e^-|u|/tau)
        if bin_width_ns is None:
            dip = np.exp(-np.abs(u) / tau_ns)
        else:
            def antiderivative(v):
                return np.sign(v) * tau_ns * -np.expm1(-np.abs(v) / tau_ns)
            half = 0.5 * bin_width_ns
            dip = (antiderivative(u + half) - antiderivative(u - half)) / bin_width_ns
        return normalization * (1.0 - contrast * dip)
    sigma = float(irf_sigma_ns)
    if bin_width_ns is None:
        dip = _one_sided(u, tau_ns, sigma)[0] + _one_sided(-u, tau_ns, sigma)[0]
    else:
        half = 0.5 * bin_width_ns
        # exp(-|u|/tau) blurred = E(u) + E(-u); its antiderivative is F(u) - F(-u)
        hi = _one_sided(u + half, tau_ns, sigma)[1] - _one_sided(-u - half, tau_ns, sigma)[1]
        lo = _one_sided(u - half, tau_ns, sigma)[1] - _one_sided(-u + half, tau_ns, sigma)[1]
        dip = (hi - lo) / bin_width_ns
    return normalization * (1.0 - contrast * dip)


# ---------------------------------------------------------------------------------------------- fit
def _check(lag_ns, g2, counts, irf_sigma_ns):
    lag = np.asarray(lag_ns, float)
    y = np.asarray(g2, float)
    if lag.ndim != 1 or lag.size < 8:
        raise ValueError(f"lag_ns must be a 1-D axis of at least 8 delays, got shape {lag.shape}")
    if y.shape != lag.shape:
        raise ValueError(f"g2 shape {y.shape} differs from lag_ns shape {lag.shape}")
    if not (np.all(np.isfinite(lag)) and np.all(np.isfinite(y))):
        raise ValueError("lag_ns and g2 must be finite")
    steps = np.diff(lag)
    if not np.all(steps > 0):
        raise ValueError("lag_ns must be strictly increasing")
    n = None
    if counts is not None:
        n = np.asarray(counts, float)
        if n.shape != lag.shape:
            raise ValueError(f"counts shape {n.shape} differs from lag_ns shape {lag.shape}")
        if not np.all(np.isfinite(n)) or np.any(n < 0):
            raise ValueError("counts must be finite, non-negative coincidence counts")
    if irf_sigma_ns is not None and not (np.isfinite(irf_sigma_ns) and irf_sigma_ns >= 0):
        raise ValueError(f"irf_sigma_ns must be >= 0 ns or None (fitted), got {irf_sigma_ns!r}")
    return lag, y, n, float(np.median(steps))


def _start(lag: np.ndarray, y: np.ndarray, span: float) -> tuple[float, float, float, float]:
    """(tau, C, t0, plateau) from the smoothed curve: its minimum and where the dip has half recovered."""
    plateau = float(np.median(y[np.abs(lag - np.median(lag)) > 0.25 * span])) if lag.size > 16 else float(y.max())
    if not plateau > 0:
        plateau = float(np.mean(np.abs(y))) or 1.0
    smooth = uniform_filter1d(y, 5, mode="nearest")
    i0 = int(np.argmin(smooth))
    depth = plateau - smooth[i0]
    contrast = float(np.clip(depth / plateau, 0.0, 1.0))
    t0 = float(lag[i0])
    half = smooth[i0] + 0.5 * depth
    right = np.flatnonzero((smooth >= half) & (lag > t0))
    left = np.flatnonzero((smooth >= half) & (lag < t0))
    widths = []
    if right.size:
        widths.append(lag[right[0]] - t0)
    if left.size:
        widths.append(t0 - lag[left[-1]])
    step = float(np.median(np.diff(lag)))
    tau = float(np.mean(widths)) / np.log(2.0) if widths else 0.1 * span
    return float(np.clip(tau, step, span)), contrast, t0, plateau


def fit_g2(lag_ns: np.ndarray, g2: np.ndarray, counts: np.ndarray | None = None,
           irf_sigma_ns: float | None = None, *, fit_normalization: bool = True) -> G2Fit:
    """Fit ``g2_model`` to a normalised coincidence histogram.

    lag_ns: bin centres (ns, increasing). g2: normalised histogram. counts: the raw coincidences behind g2
    (same shape): Poisson weights (else all bins weigh the same). irf_sigma_ns: the detectors' combined
    Gaussian jitter (ns), or None to fit it. fit_normalization: fit the plateau factor (else fixed at 1).
    """
    lag, y, n, step = _check(lag_ns, g2, counts, irf_sigma_ns)
    span = float(lag[-1] - lag[0])
    tau0, c0, t00, plateau0 = _start(lag, y, span)
    fit_sigma = irf_sigma_ns is None
    sigma0 = max(step, 1e-3) if fit_sigma else float(irf_sigma_ns)
    # parameters: tau, C, t0, [sigma], [normalization]
    p0 = [tau0, c0, t00]
    lo = [step, -1.0, lag[0]]
    hi = [2.0 * span, 1.0, lag[-1]]
    if fit_sigma:
        p0.append(sigma0)
        lo.append(0.0)
        hi.append(0.25 * span)
    if fit_normalization:
        p0.append(plateau0)
        lo.append(0.0)
        hi.append(np.inf)
    p0 = np.clip(p0, lo, hi)

    def unpack(p):
        tau, c, t0 = p[0], p[1], p[2]
        k = 3
        sigma = float(irf_sigma_ns) if not fit_sigma else p[k]
        k += fit_sigma
        norm = p[k] if fit_normalization else 1.0
        return tau, c, t0, sigma, norm

    def model(p):
        tau, c, t0, sigma, norm = unpack(p)
        return g2_model(lag, tau, c, t0, sigma, norm, bin_width_ns=step)

    if n is not None:
        scale = float(n.sum() / max(np.abs(y).sum(), 1e-300))   # coincidences per unit g2
        err = np.sqrt(np.maximum(n, 1.0)) / scale
    else:
        scale = None
        err = np.ones_like(y)
    result = None
    for _ in range(2 if n is not None else 1):
        result = least_squares(lambda p, e=err: (model(p) - y) / e, p0, bounds=(lo, hi), x_scale="jac",
                               method="trf")
        p0 = result.x
        if n is not None:   # Poisson errors of the counts the model expects (no bias from noisy weights)
            err = np.sqrt(np.maximum(model(result.x) * scale, 1.0)) / scale
    dof = max(lag.size - len(p0), 1)
    resid = (model(result.x) - y) / err
    chi2_red = float(resid @ resid / dof)
    # errors of the parameters off their bounds (one on a bound, e.g. an IRF width of 0, gets NaN)
    column = np.linalg.norm(result.jac, axis=0)
    free = np.flatnonzero((result.active_mask == 0) & (column > 1e-9 * column.max()))
    jac = result.jac[:, free]
    std = np.full(len(p0), np.nan)
    try:
        cov = np.linalg.inv(jac.T @ jac)
        if n is None:
            cov *= chi2_red
        std[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        pass
    tau, c, t0, sigma, norm = unpack(result.x)
    k = 3
    sigma_err = std[k] if fit_sigma else 0.0
    k += fit_sigma
    norm_err = std[k] if fit_normalization else 0.0
    g2_zero = float(g2_model(np.array([t0]), tau, c, t0, sigma)[0])
    ok = bool(result.success and np.all(np.isfinite(std[:3])))
    return G2Fit(tau_ns=float(tau), tau_ns_err=float(std[0]), contrast=float(c), contrast_err=float(std[1]),
                 t0_ns=float(t0), t0_ns_err=float(std[2]), irf_sigma_ns=float(sigma), irf_sigma_ns_err=float(sigma_err),
                 normalization=float(norm), normalization_err=float(norm_err), g2_zero=g2_zero, chi2_red=chi2_red,
                 ok=ok)
