"""Batched pseudo-Voigt peak fits of PL spectra, in energy space.

Every spectrum of a stack (a line scan, a hyperspectral cube, a distance sweep) is fitted at once: a
Levenberg-Marquardt iteration on stacked 5 x 5 normal equations solved with one batched
``np.linalg.solve``, with no Python loop over spectra.

Model, per CCD pixel i of photon energy E_i (eV) and energy width dE_i (eV, from the wavelength axis)::

    counts_i = background + amplitude * pV(E_i; center_eV, fwhm_eV, eta) * dE_i

``pV`` is the area-normalised pseudo-Voigt ``eta * Lorentzian + (1 - eta) * Gaussian`` (both of FWHM
``fwhm_eV``), so ``amplitude`` is the integrated counts of the peak and ``background`` a constant offset in
counts per pixel. Counts per pixel are fitted directly on the energy axis: multiplying the density by the
pixel's energy width plays the role of the lambda^2/hc Jacobian, and the CCD baseline stays a constant.

Only pixels inside ``window_nm`` are used. The default window (``tepl.units.FIT_WINDOW_NM``) starts at
640 nm, clear of the 636 nm long-pass edge, so a peak whose blue side is cut by the filter is fitted on its
undistorted part.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.ndimage import uniform_filter1d

from tepl import kernels
from tepl.units import FIT_WINDOW_NM, HC_EV_NM

PARAMETERS = ("center_eV", "fwhm_eV", "amplitude", "background", "eta")
_G0 = 2.0 * np.sqrt(np.log(2.0) / np.pi)  # Gaussian of unit FWHM: peak density
_K = 4.0 * np.log(2.0)
_N_PAR = 5


@dataclass(frozen=True)
class PeakFit:
    """Fit results, each an array shaped like ``spectra.shape[:-1]``.

    center_eV, fwhm_eV (eV); amplitude (integrated counts); background (counts per pixel); eta (Lorentzian
    fraction, 0..1); ``*_err`` their 1-sigma uncertainties from the covariance scaled by the reduced chi^2;
    height (counts per pixel at the centre, above the background) and height_err; chi2_red; n_iter
    (iterations used); ok (converged, finite, a real peak: height at least ``min_significance`` standard
    errors, centre and width off their bounds).
    """

    center_eV: np.ndarray
    fwhm_eV: np.ndarray
    amplitude: np.ndarray
    background: np.ndarray
    eta: np.ndarray
    center_eV_err: np.ndarray
    fwhm_eV_err: np.ndarray
    amplitude_err: np.ndarray
    background_err: np.ndarray
    eta_err: np.ndarray
    height: np.ndarray
    height_err: np.ndarray
    chi2_red: np.ndarray
    n_iter: np.ndarray
    ok: np.ndarray

    @property
    def center_nm(self) -> np.ndarray:
        """Peak centre as a vacuum wavelength (nm)."""
        return HC_EV_NM / self.center_eV

    def as_dict(self) -> dict[str, np.ndarray]:
        """Every field by name (e.g. to write into a file)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---------------------------------------------------------------------------------------------- model
def pseudo_voigt(energy_eV: np.ndarray, center_eV: np.ndarray, fwhm_eV: np.ndarray,
                 eta: np.ndarray) -> np.ndarray:
    """Area-normalised pseudo-Voigt density (1/eV); parameters broadcast against ``energy_eV``."""
    u = (np.asarray(energy_eV, float) - center_eV) / fwhm_eV
    lorentz = (2.0 / np.pi) / (fwhm_eV * (1.0 + 4.0 * u * u))
    gauss = _G0 / fwhm_eV * np.exp(-_K * u * u)
    return eta * lorentz + (1.0 - eta) * gauss


def _model(energy: np.ndarray, width: np.ndarray, p: np.ndarray, jacobian: bool):
    """Model counts (n, P) for parameters p (n, 5); with its Jacobian (n, 5, P) when asked.

    Written with in-place operations: this is where the fitter spends its time.
    """
    c, w, a, b, eta = (p[:, k:k + 1] for k in range(_N_PAR))
    inv_w = 1.0 / w
    u = energy - c
    u *= inv_w
    u2 = u * u
    gauss = np.multiply(u2, -_K)
    np.exp(gauss, out=gauss)
    gauss *= _G0 * inv_w
    inv_q = np.multiply(u2, 4.0)
    inv_q += 1.0
    np.reciprocal(inv_q, out=inv_q)
    lorentz = inv_q * ((2.0 / np.pi) * inv_w)
    diff = np.subtract(lorentz, gauss)
    shape = diff * eta
    shape += gauss
    shape *= width
    if not jacobian:
        shape *= a
        shape += b
        return shape, None
    n, n_pix = shape.shape
    jac = np.empty((n, _N_PAR, n_pix))
    jac[:, 2] = shape
    jac[:, 3] = 1.0
    scale = a * width
    np.multiply(diff, scale, out=jac[:, 4])
    shape *= a
    shape += b
    scale *= inv_w
    lorentz *= eta                  # eta L
    gauss *= 1.0 - eta              # (1-eta) G
    # d/dc: (8 eta L / q + 2K (1-eta) G) u / w
    t = lorentz * inv_q
    t *= 8.0
    t += (2.0 * _K) * gauss
    t *= u
    np.multiply(t, scale, out=jac[:, 0])
    # d/dw: (eta L (1 - 2/q) + (1-eta) G (2K u^2 - 1)) / w
    inv_q *= -2.0
    inv_q += 1.0
    inv_q *= lorentz
    u2 *= 2.0 * _K
    u2 -= 1.0
    u2 *= gauss
    u2 += inv_q
    np.multiply(u2, scale, out=jac[:, 1])
    return shape, jac


# ---------------------------------------------------------------------------------------------- input
def _checked_input(wavelength_nm, spectra, window_nm, sigma):
    wl = np.asarray(wavelength_nm, float)
    y = np.asarray(spectra, float)
    if wl.ndim != 1 or wl.size < 2:
        raise ValueError(f"wavelength_nm must be a 1-D pixel axis, got shape {wl.shape}")
    if y.ndim < 1 or y.shape[-1] != wl.size:
        raise ValueError(f"spectra shape {y.shape} does not end in the {wl.size} pixels of wavelength_nm")
    if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
        raise ValueError("wavelength_nm must be finite and positive")
    steps = np.diff(wl)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError("wavelength_nm must be strictly monotonic")
    if not np.isfinite(np.sum(y)):  # one pass; a sum of finite counts is finite (the count only on failure)
        bad = int(np.count_nonzero(~np.isfinite(y)))
        if bad:
            raise ValueError(f"spectra contain {bad} non-finite values (NaN or inf)")
    lo, hi = (wl.min(), wl.max()) if window_nm is None else (float(window_nm[0]), float(window_nm[1]))
    if not lo < hi:
        raise ValueError(f"window_nm must be (low, high) with low < high, got {window_nm}")
    keep = (wl >= lo) & (wl <= hi)
    if keep.sum() < 3 * _N_PAR:
        raise ValueError(f"window {lo:g}-{hi:g} nm holds {int(keep.sum())} pixels of the axis "
                         f"{wl.min():g}-{wl.max():g} nm; at least {3 * _N_PAR} are needed")
    sig = None
    if sigma is not None:
        sig = np.broadcast_to(np.asarray(sigma, float), y.shape)
        if not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError("sigma must be finite and positive")
    return wl, y, keep, sig


# ---------------------------------------------------------------------------------------------- guess
def _initial_guess(energy: np.ndarray, width: np.ndarray, y: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:
    """Start values from the smoothed spectrum: argmax, half-maximum crossings, minimum as background."""
    n, n_pix = y.shape
    left, right = np.roll(y, 1, axis=-1), np.roll(y, -1, axis=-1)
    left[:, 0], right[:, -1] = y[:, 0], y[:, -1]
    median3 = np.maximum(np.minimum(left, y), np.minimum(np.maximum(left, y), right))  # drops single spikes
    smooth = uniform_filter1d(median3, 7, axis=-1, mode="nearest")
    background = smooth.min(axis=-1)
    peak = smooth.argmax(axis=-1)
    rows = np.arange(n)
    height = np.maximum(smooth[rows, peak] - background, 1e-12)
    below = smooth < (background + 0.5 * height)[:, None]
    pix = np.arange(n_pix)[None, :]
    right_mask = below & (pix > peak[:, None])
    left_mask = below & (pix < peak[:, None])
    has_right = right_mask.any(axis=-1)
    has_left = left_mask.any(axis=-1)
    right = right_mask.argmax(axis=-1)
    left = n_pix - 1 - left_mask[:, ::-1].argmax(axis=-1)
    half_right = np.abs(energy[right] - energy[peak])
    half_left = np.abs(energy[peak] - energy[left])
    span = energy.max() - energy.min()
    half_right = np.where(has_right, half_right, np.where(has_left, half_left, 0.25 * span))
    half_left = np.where(has_left, half_left, half_right)
    fwhm = np.clip(half_left + half_right, lo[1], hi[1])
    eta = np.full(n, 0.5)
    peak_density = eta * 2.0 / (np.pi * fwhm) + (1.0 - eta) * _G0 / fwhm
    amplitude = height / (peak_density * width[peak])
    p = np.stack([energy[peak], fwhm, amplitude, background, eta], axis=-1)
    return np.clip(p, lo, hi)


# ---------------------------------------------------------------------------------------------- solve
def _scaled_solve(h: np.ndarray, g: np.ndarray, damping: np.ndarray) -> np.ndarray:
    """Solve (H + damping * diag(H)) x = g for every member of the batch (diagonal scaling first)."""
    d = np.sqrt(np.einsum("kii->ki", h))
    d = np.where(d > 0, d, 1.0)
    hs = h / (d[:, :, None] * d[:, None, :])
    hs[:, np.arange(_N_PAR), np.arange(_N_PAR)] += damping[:, None]
    gs = g / d
    try:
        xs = np.linalg.solve(hs, gs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        xs = (np.linalg.pinv(hs) @ gs[..., None])[..., 0]
    return xs / d


def _covariance(h: np.ndarray) -> np.ndarray:
    """Inverse of every normal matrix in the batch (NaN where it is singular)."""
    d = np.sqrt(np.einsum("kii->ki", h))
    d = np.where(d > 0, d, np.nan)
    hs = h / (d[:, :, None] * d[:, None, :])
    hs = np.nan_to_num(hs, nan=0.0)
    inv = np.full_like(hs, np.nan)
    good = np.linalg.cond(hs) < 1e12
    if good.any():
        inv[good] = np.linalg.inv(hs[good])
    return inv / (d[:, :, None] * d[:, None, :])


def _peak_height(energy: np.ndarray, width: np.ndarray, p: np.ndarray, cov: np.ndarray):
    """Peak height above background (counts per pixel at the centre) and its 1-sigma error."""
    c, w, a, _, eta = p.T
    order = np.argsort(energy)
    pixel_eV = np.interp(c, energy[order], width[order])
    density = (eta * (2.0 / np.pi) + (1.0 - eta) * _G0) / w
    height = a * pixel_eV * density
    grad = np.zeros_like(p)
    grad[:, 1] = -height / w
    grad[:, 2] = pixel_eV * density
    grad[:, 4] = a * pixel_eV * (2.0 / np.pi - _G0) / w
    variance = np.einsum("ki,kij,kj->k", grad, cov, grad)
    return height, np.sqrt(np.maximum(variance, 0.0))


def _weights(model: np.ndarray, sigma: np.ndarray | None, weighting: str) -> np.ndarray:
    if sigma is not None:
        return 1.0 / sigma**2
    if weighting == "poisson":
        return 1.0 / np.maximum(model, 1.0)
    return np.ones_like(model)


def _fit_block(energy, width, y, sigma, weighting, lo, hi, max_iter, tolerance, min_significance):
    """Levenberg-Marquardt on a block of spectra (n, P); returns parameters, errors, chi2_red, ..."""
    n, n_pix = y.shape
    dof = max(n_pix - _N_PAR, 1)
    if kernels.ENABLED:  # the compiled kernel does start values, iterations, errors and heights per spectrum
        from tepl.kernels.peaks import fit_pseudo_voigt

        use_sigma = sigma is not None
        p, err = np.empty((n, _N_PAR)), np.empty((n, _N_PAR))
        chi2_red, height, height_err = np.empty(n), np.empty(n), np.empty(n)
        n_iter, converged = np.zeros(n, int), np.zeros(n, bool)
        fit_pseudo_voigt(np.ascontiguousarray(energy), np.ascontiguousarray(width), np.ascontiguousarray(y),
                         np.ascontiguousarray(sigma, float) if use_sigma else np.ones((1, n_pix)), use_sigma,
                         weighting == "poisson", lo, hi, max_iter, tolerance, p, n_iter, converged, chi2_red, err,
                         height, height_err)
        return p, err, height, height_err, chi2_red, n_iter, _sound(p, err, height, height_err, converged, lo, hi,
                                                                    min_significance)
    p = _initial_guess(energy, width, y, lo, hi)
    damping = np.full(n, 1e-3)
    active = np.ones(n, bool)
    converged = np.zeros(n, bool)
    n_iter = np.zeros(n, int)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        pa, ya = p[idx], y[idx]
        sa = None if sigma is None else sigma[idx]
        model, jac = _model(energy, width, pa, jacobian=True)
        w = _weights(model, sa, weighting)
        chi2 = np.einsum("kp,kp->k", w, (ya - model) ** 2)
        jw = jac * w[:, None, :]
        h = np.matmul(jw, jac.transpose(0, 2, 1))
        g = np.matmul(jw, (ya - model)[..., None])[..., 0]
        # a parameter on a bound that the gradient pushes outward is held there for this step
        held = ((pa <= lo) & (g < 0)) | ((pa >= hi) & (g > 0))
        if held.any():
            free = ~held
            h = h * (free[:, :, None] & free[:, None, :])
            h[:, np.arange(_N_PAR), np.arange(_N_PAR)] += held
            g = np.where(held, 0.0, g)
        trial = np.clip(pa + _scaled_solve(h, g, damping[idx]), lo, hi)
        trial_model, _ = _model(energy, width, trial, jacobian=False)
        trial_chi2 = np.einsum("kp,kp->k", w, (ya - trial_model) ** 2)
        better = np.isfinite(trial_chi2) & (trial_chi2 <= chi2)
        p[idx[better]] = trial[better]
        damping[idx] = np.where(better, np.maximum(damping[idx] / 3.0, 1e-7), damping[idx] * 8.0)
        n_iter[idx] += 1
        noise_scale = np.maximum(chi2 / dof, 1e-300)
        done = np.abs(chi2 - trial_chi2) < tolerance * noise_scale
        stuck = damping[idx] > 1e10
        converged[idx[done | stuck]] = True
        active[idx[done | stuck]] = False

    model, jac = _model(energy, width, p, jacobian=True)
    w = _weights(model, sigma, weighting)
    chi2_red = np.einsum("kp,kp->k", w, (y - model) ** 2) / dof
    jw = jac * w[:, None, :]
    h = np.matmul(jw, jac.transpose(0, 2, 1))
    cov = _covariance(h) * chi2_red[:, None, None]
    err = np.sqrt(np.einsum("kii->ki", cov))
    height, height_err = _peak_height(energy, width, p, cov)
    return p, err, height, height_err, chi2_red, n_iter, _sound(p, err, height, height_err, converged, lo, hi,
                                                                min_significance)


def _sound(p, err, height, height_err, converged, lo, hi, min_significance):
    """Converged, finite, a real peak (height at least min_significance errors), centre and width off bounds."""
    span = hi[0] - lo[0]
    off_bounds = ((p[:, 0] - lo[0] > 1e-6 * span) & (hi[0] - p[:, 0] > 1e-6 * span)
                  & (p[:, 1] > lo[1] * 1.0001) & (p[:, 1] < hi[1] * 0.9999))
    ok = converged & np.all(np.isfinite(p), axis=-1) & np.all(np.isfinite(err), axis=-1)
    ok &= height > min_significance * height_err
    return ok & off_bounds


def _columns(index: np.ndarray):
    """The pixel columns as a slice when they are a run in either direction (a view, no copy), else the index."""
    if index.size > 1:
        step = int(index[1] - index[0])
        if abs(step) == 1 and np.all(np.diff(index) == step):
            stop = int(index[-1]) + step
            return slice(int(index[0]), None if stop < 0 else stop, step)
    return index


# ---------------------------------------------------------------------------------------------- public
def fit_peaks(wavelength_nm: np.ndarray, spectra: np.ndarray,
              window_nm: tuple[float, float] | None = FIT_WINDOW_NM, *, sigma: np.ndarray | None = None,
              weighting: str = "poisson", max_iter: int = 60, tolerance: float = 1e-3,
              min_significance: float = 5.0, block_size: int = 256, workers: int | None = None) -> PeakFit:
    """Fit one pseudo-Voigt peak on a constant background to every spectrum of ``spectra`` at once.

    wavelength_nm: (n_pixels,) pixel centres (nm), either order. spectra: (..., n_pixels) counts per
    pixel. window_nm: (low, high) wavelength range used for the fit (None: the whole axis).
    sigma: optional 1-sigma noise per pixel (broadcast against ``spectra``); otherwise ``weighting`` is
    ``"poisson"`` (variance = current model counts, iteratively reweighted, i.e. Poisson maximum
    likelihood; meant for raw, non-negative counts) or ``"none"`` (unweighted least squares, e.g. for
    background-subtracted data). Uncertainties are scaled by the reduced chi^2 either way.
    Iteration stops when chi^2 falls by less than ``tolerance`` times the reduced chi^2 (a small
    fraction of one standard deviation per parameter) or after ``max_iter`` iterations. A fit is ``ok``
    only if the peak's height exceeds ``min_significance`` times its error (a flat or dark spectrum
    gives ``ok`` False rather than a centre fitted to noise).
    With numba (``tepl.kernels``) the spectra are fitted by a compiled kernel on ``workers`` threads (None:
    every core); without it by the numpy batch, with the same results to rounding.
    """
    if weighting not in ("poisson", "none"):
        raise ValueError(f"weighting must be 'poisson' or 'none', got {weighting!r}")
    if max_iter < 1 or block_size < 1:
        raise ValueError("max_iter and block_size must be at least 1")
    wl, y, keep, sig = _checked_input(wavelength_nm, spectra, window_nm, sigma)
    batch_shape = y.shape[:-1]
    order = np.argsort(HC_EV_NM / wl[keep])  # fit pixels in ascending energy
    wl_fit = wl[keep][order]
    energy = HC_EV_NM / wl_fit
    full_width = HC_EV_NM / wl**2 * np.abs(np.gradient(wl))
    width = full_width[keep][order]
    columns = _columns(np.flatnonzero(keep)[order])
    flat = y.reshape(-1, wl.size)[:, columns]
    flat_sigma = None if sig is None else sig.reshape(-1, wl.size)[:, columns]

    span = energy[-1] - energy[0]
    lo = np.array([energy[0] - 0.25 * span, 2.0 * np.median(width), 0.0, -np.inf, 0.0])
    hi = np.array([energy[-1] + 0.25 * span, 2.0 * span, np.inf, np.inf, 1.0])

    n = flat.shape[0]
    params = np.empty((n, _N_PAR))
    errors = np.empty((n, _N_PAR))
    chi2_red = np.empty(n)
    height = np.empty(n)
    height_err = np.empty(n)
    n_iter = np.empty(n, int)
    ok = np.empty(n, bool)
    if kernels.ENABLED:
        block_size = max(block_size, 4096)  # the compiled fit keeps no (spectra, 5, pixels) arrays
    with kernels.workers_for(workers):
        for start in range(0, n, block_size):
            block = slice(start, min(start + block_size, n))
            s = None if flat_sigma is None else flat_sigma[block]
            (params[block], errors[block], height[block], height_err[block], chi2_red[block], n_iter[block],
             ok[block]) = _fit_block(
                energy, width, flat[block], s, weighting, lo, hi, max_iter, tolerance, min_significance)

    def shaped(a: np.ndarray) -> np.ndarray:
        return a.reshape(batch_shape)

    values = {name: shaped(params[:, k]) for k, name in enumerate(PARAMETERS)}
    errs = {f"{name}_err": shaped(errors[:, k]) for k, name in enumerate(PARAMETERS)}
    return PeakFit(**values, **errs, height=shaped(height), height_err=shaped(height_err),
                   chi2_red=shaped(chi2_red), n_iter=shaped(n_iter), ok=shaped(ok))


def fit_peak(wavelength_nm: np.ndarray, spectrum: np.ndarray,
             window_nm: tuple[float, float] | None = FIT_WINDOW_NM, **options) -> PeakFit:
    """Fit a single spectrum (n_pixels,); the fields of the result are 0-d arrays (use ``float()``)."""
    spectrum = np.asarray(spectrum, float)
    if spectrum.ndim != 1:
        raise ValueError(f"fit_peak takes one spectrum (1-D), got shape {spectrum.shape}; use fit_peaks")
    return fit_peaks(wavelength_nm, spectrum, window_nm, **options)
