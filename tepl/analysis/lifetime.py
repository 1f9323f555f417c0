"""Maximum-likelihood fits of TCSPC fluorescence decays and FLIM images, on the model of
``tepl.analysis.decay_model`` (y0 + sum_i A_i exp(-t / tau_i) convolved with a Gaussian or measured IRF).

The fit minimises the Poisson deviance ``2 sum(mu - y - y ln(mu / y))`` (maximum likelihood for counts)
by Levenberg-Marquardt steps on the Fisher information, for every decay of a batch at once: a FLIM cube is
fitted in blocks of pixels with stacked normal equations and one batched ``np.linalg.solve`` per step, no
Python loop over pixels. Lifetimes are fitted as ln(tau), amplitudes and background are held non-negative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.ndimage import convolve, uniform_filter1d
from scipy.special import xlogy

from tepl.analysis.decay_checks import check_counts, check_options, check_time, normalised_irf
from tepl.analysis.decay_model import DecayModel

_MU_FLOOR = 1e-12        # counts per bin: floor of the model inside logarithms and weights
_STARTS = {1: ((1.0,), (0.4,), (2.5,)),
           2: ((0.3, 1.5), (0.15, 1.0), (0.5, 3.0), (0.08, 2.0)),
           3: ((0.1, 0.5, 2.0), (0.05, 0.3, 1.5), (0.2, 1.0, 4.0), (0.03, 0.4, 3.0))}


# ============================================================================================ results
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


# ============================================================================================ solver
def _deviance(y: np.ndarray, y_log_y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Poisson deviance per row; ``y_log_y`` = xlogy(y, y) - y precomputed."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = mu + y_log_y - xlogy(y, np.maximum(mu, _MU_FLOOR))
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


def _fit_poisson(model: DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
                 tolerance: float):
    """Levenberg-Marquardt on the Poisson deviance for a batch (n, K) of decays; updates p in place.

    Returns (deviance, n_iter, converged, covariance).
    """
    n = y.shape[0]
    lo, hi = model.bounds()
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
        inv_mu = 1.0 / np.maximum(mu, _MU_FLOOR)
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
    inv_mu = 1.0 / np.maximum(mu, _MU_FLOOR)
    h = np.matmul(jac * inv_mu[:, None, :], jac.transpose(0, 2, 1))
    return dev, n_iter, converged, _covariance(h, free)


# ============================================================================================ derived
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


def _derived_with_errors(model: DecayModel, p: np.ndarray, cov: np.ndarray, total: np.ndarray):
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


def _fit_and_sort(model: DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
                  tolerance: float):
    """Linear start for the amplitudes, Poisson fit and lifetime ordering of a batch of decays.

    Returns (parameters, deviance, iterations, covariance, sound).
    """
    _linear_start(model, p, y)
    dev, n_iter, converged, cov = _fit_poisson(model, y, p, free, max_iter, tolerance)
    p, cov = _sort_components(model, p, cov)
    return p, dev, n_iter, cov, _soundness(model, p, converged, cov, free)


def _sort_components(model: DecayModel, p: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder components by lifetime (ascending) in parameters and covariance."""
    order = np.argsort(p[:, model.i_tau], axis=1)
    perm = np.broadcast_to(np.arange(model.n_par), p.shape).copy()
    perm[:, model.i_tau] = model.i_tau[order]
    perm[:, model.i_amp] = model.i_amp[order]
    p_sorted = np.take_along_axis(p, perm, axis=1)
    cov_sorted = np.take_along_axis(np.take_along_axis(cov, perm[:, :, None], axis=1), perm[:, None, :], axis=2)
    return p_sorted, cov_sorted


def _soundness(model: DecayModel, p: np.ndarray, converged: np.ndarray, cov: np.ndarray,
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


# ============================================================================================ starts
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


def _linear_start(model: DecayModel, p: np.ndarray, y: np.ndarray) -> None:
    """Background and amplitudes for fixed lifetimes and IRF: weighted least squares, then Poisson EM steps."""
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
        coef *= np.einsum("nik,nk->ni", basis, y / np.maximum(mu, _MU_FLOOR)) / np.maximum(norm, 1e-300)
        coef[:, 0] = np.maximum(coef[:, 0], floor)
    p[:, model.i_y0] = coef[:, 0]
    p[:, model.i_amp] = coef[:, 1:]


def _single_starts(model: DecayModel, time_ns: np.ndarray, y: np.ndarray, irf: np.ndarray | None) -> np.ndarray:
    """Several start vectors (n_starts, P) for one decay: one per lifetime pattern of ``_STARTS``."""
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
    factors = np.array(_STARTS[model.n_exp], float)
    p = np.zeros((len(factors), model.n_par))
    p[:, model.i_tau] = np.log(tau_mean * factors)
    if model.gaussian:
        p[:, model.i_t0] = t0
        p[:, model.i_sigma] = np.log(sigma)
    else:
        p[:, model.i_shift] = shift
    lo, hi = model.bounds()
    p = np.clip(p, lo, hi)
    _linear_start(model, p, np.broadcast_to(y, (len(p), y.size)))
    return p


# ============================================================================================ public
def _decay_fit_from_row(model: DecayModel, p: np.ndarray, cov: np.ndarray, dev: float, n_iter: int,
                        ok: bool, y: np.ndarray) -> DecayFit:
    total = np.array([y.sum()])
    values, err = _derived_with_errors(model, p[None], cov[None], total)
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
    p = _single_starts(model, t, y, h)
    free = np.ones(model.n_par, bool)
    if not model.gaussian and not fit_irf_shift:
        free[model.i_shift] = False
        p[:, model.i_shift] = 0.0
        _linear_start(model, p, np.broadcast_to(y, p.shape[:1] + y.shape))
    yy = np.broadcast_to(y, (p.shape[0], y.size)).copy()
    dev, n_iter, converged, cov = _fit_poisson(model, yy, p, free, max_iter, tolerance)
    p, cov = _sort_components(model, p, cov)
    ok = _soundness(model, p, converged, cov, free)
    score = np.where(np.isfinite(dev), dev, np.inf) + np.where(ok, 0.0, 1e-6 * np.abs(dev) + 1e-3)
    best = int(np.argmin(score))
    return _decay_fit_from_row(model, p[best], cov[best], dev[best], n_iter[best], ok[best], y)


def fit_trpl(time_ns: np.ndarray, counts: np.ndarray, n_exp: int = 3, irf: np.ndarray | None = None,
             period_ns: float | None = None, **options) -> DecayFit:
    """Transient-PL fit (tri-exponential by default); read ``tau_amplitude_weighted_ns`` for the mean lifetime.

    The amplitude-weighted mean sum(A_i tau_i) / sum(A_i) is the average lifetime of ensemble TrPL studies.
    Arguments as for :func:`fit_decay`.
    """
    return fit_decay(time_ns, counts, n_exp=n_exp, irf=irf, period_ns=period_ns, **options)


def _spatial_sum(cube: np.ndarray, bin_factor: int) -> np.ndarray:
    """Sum of each pixel's decay over the bin_factor x bin_factor square centred on it (edges: what exists)."""
    if bin_factor == 1:
        return cube
    return convolve(cube, np.ones((bin_factor, bin_factor, 1)), mode="constant", cval=0.0)


# deviance drop (a likelihood-ratio test of two more parameters far beyond chance) above which the summed
# decay of a FLIM cube is taken to hold pixels with different decays
IRF_EXTRA_COMPONENT_DEVIANCE = 50.0


def fit_flim(cube: np.ndarray, time_ns: np.ndarray, n_exp: int = 2, irf: np.ndarray | None = None,
             period_ns: float | None = None, min_counts: float = 200.0, bin_factor: int = 1, *,
             irf_per_pixel: bool = False, max_iter: int = 60, tolerance: float = 1e-3,
             block_size: int = 512) -> FlimMaps:
    """Fit every pixel's decay of a FLIM cube (..., K) at once; returns per-pixel maps.

    The decay summed over all pixels is fitted first (:func:`fit_decay`); its lifetimes start every pixel.
    The IRF (Gaussian t0/sigma or measured-IRF shift) comes from that fit, or from one with one more
    component when the sum clearly needs it (pixels with different decays sum to more components than each
    has), and stays fixed for every pixel unless ``irf_per_pixel``. Pixels whose (binned) decay holds fewer than
    ``min_counts`` photons are not fitted and are NaN in every map.
    bin_factor: odd spatial binning for a 2-D image cube (y, x, K): each pixel is fitted on the sum of the
    bin_factor x bin_factor pixels centred on it (the maps keep the image shape). Other arguments as for
    :func:`fit_decay`.
    """
    t = check_time(time_ns)
    y_all = check_counts(cube, t.size, "cube")
    period = check_options(n_exp, period_ns)
    if not np.isfinite(min_counts) or min_counts < 0:
        raise ValueError(f"min_counts must be a non-negative photon count, got {min_counts!r}")
    if int(bin_factor) != bin_factor or bin_factor < 1 or bin_factor % 2 == 0:
        raise ValueError(f"bin_factor must be an odd positive integer (1 = no binning), got {bin_factor!r}")
    if bin_factor > 1 and y_all.ndim != 3:
        raise ValueError(f"bin_factor > 1 needs an image cube (y, x, bins), got shape {y_all.shape}")
    pixel_shape = y_all.shape[:-1]
    h = None if irf is None else normalised_irf(irf, t.size)
    model = DecayModel(t, n_exp, period, h)
    binned = _spatial_sum(y_all, int(bin_factor)).reshape(-1, t.size)
    photons = y_all.reshape(-1, t.size).sum(axis=1)
    fitted = binned.sum(axis=1) >= max(min_counts, 1e-300)
    n_pix, n = photons.size, n_exp

    maps = {name: np.full(n_pix, np.nan) for name in (
        "background_fraction", "tau_amplitude_weighted_ns", "tau_amplitude_weighted_ns_err",
        "tau_intensity_weighted_ns", "t0_ns", "shift_ns", "sigma_ns", "reduced_deviance")}
    comp = {name: np.full((n, n_pix), np.nan) for name in (
        "tau_ns", "tau_ns_err", "amplitude_fraction", "intensity_fraction")}
    n_iter = np.zeros(n_pix, int)
    ok = np.zeros(n_pix, bool)
    global_fit = None
    idx_fit = np.flatnonzero(fitted)
    if idx_fit.size:
        summed = binned[idx_fit].sum(axis=0)
        global_fit = fit_decay(t, summed, n_exp, irf, period)
        irf_fit = global_fit
        if not irf_per_pixel and n_exp < 3:
            # pixels with different decays sum to more components than each has, and an n_exp fit of the sum
            # bends the IRF to absorb them: take the IRF from an n_exp + 1 fit when the sum clearly needs it
            wider = fit_decay(t, summed, n_exp + 1, irf, period)
            if global_fit.deviance - wider.deviance > IRF_EXTRA_COMPONENT_DEVIANCE:
                irf_fit = wider
        start = np.zeros(model.n_par)
        start[model.i_tau] = np.log(global_fit.tau_ns)
        if model.gaussian:
            start[model.i_t0] = irf_fit.t0_ns
            start[model.i_sigma] = np.log(irf_fit.sigma_ns)
        else:
            start[model.i_shift] = irf_fit.shift_ns
        start[model.i_y0] = global_fit.background / idx_fit.size
        start[model.i_amp] = global_fit.amplitude / idx_fit.size
        free = np.ones(model.n_par, bool)
        if not irf_per_pixel:
            free[model.irf_index] = False
        dof = max(t.size - int(free.sum()), 1)
        for lo_i in range(0, idx_fit.size, block_size):
            rows = idx_fit[lo_i:lo_i + block_size]
            yb = binned[rows]
            p = np.tile(start, (rows.size, 1))
            p, dev, it, cov, good = _fit_and_sort(model, yb, p, free, max_iter, tolerance)
            retry = np.flatnonzero(~good)
            if retry.size:  # a pixel far from the summed decay: start again from every lifetime pattern
                pattern = np.array(_STARTS[n], float) * global_fit.tau_intensity_weighted_ns
                p_r = np.repeat(p[retry], len(pattern), axis=0)
                p_r[:, model.i_tau] = np.log(np.tile(pattern, (retry.size, 1)))
                y_r = np.repeat(yb[retry], len(pattern), axis=0)
                p_r, dev_r, it_r, cov_r, good_r = _fit_and_sort(model, y_r, p_r, free, max_iter, tolerance)
                score = (dev_r + np.where(good_r, 0.0, 1e9)).reshape(retry.size, len(pattern))
                best = np.arange(retry.size) * len(pattern) + np.argmin(score, axis=1)
                better = good_r[best] | (dev_r[best] < dev[retry])
                take, src = retry[better], best[better]
                p[take], dev[take], cov[take], good[take] = p_r[src], dev_r[src], cov_r[src], good_r[src]
                it[retry] += it_r.reshape(retry.size, len(pattern)).max(axis=1)
            values, err = _derived_with_errors(model, p, cov, yb.sum(axis=1))
            comp["tau_ns"][:, rows] = values[:, :n].T
            comp["tau_ns_err"][:, rows] = err[:, :n].T
            comp["amplitude_fraction"][:, rows] = values[:, n:2 * n].T
            comp["intensity_fraction"][:, rows] = values[:, 2 * n:3 * n].T
            maps["tau_amplitude_weighted_ns"][rows] = values[:, 3 * n]
            maps["tau_amplitude_weighted_ns_err"][rows] = err[:, 3 * n]
            maps["tau_intensity_weighted_ns"][rows] = values[:, 3 * n + 1]
            maps["background_fraction"][rows] = values[:, 3 * n + 2]
            maps["reduced_deviance"][rows] = dev / dof
            if model.gaussian:
                maps["t0_ns"][rows] = p[:, model.i_t0]
                maps["sigma_ns"][rows] = np.exp(p[:, model.i_sigma])
            else:
                maps["shift_ns"][rows] = p[:, model.i_shift]
                maps["t0_ns"][rows] = model.irf_centroid_ns + p[:, model.i_shift]
                maps["sigma_ns"][rows] = model.irf_rms_ns
            n_iter[rows] = it
            ok[rows] = good

    def shaped(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[:-1] + pixel_shape)

    return FlimMaps(**{k: shaped(v) for k, v in comp.items()}, **{k: shaped(v) for k, v in maps.items()},
                    photons=shaped(photons), n_iter=shaped(n_iter), fitted=shaped(fitted), ok=shaped(ok),
                    global_fit=global_fit)
