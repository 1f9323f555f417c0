"""Compiled Levenberg-Marquardt fit of one pseudo-Voigt peak on a constant background, spectra in parallel.

The same iteration as the numpy batch of ``tepl.analysis.peaks._fit_block`` (same start, damping schedule,
bounds, held parameters, stopping rule), run per spectrum with the model, its Jacobian, the weights and the
5 x 5 normal equations fused into one pass over the pixels; spectra are spread over threads (``prange``).
Results agree with the numpy path to rounding (a different order of summation and a hand-written 5 x 5 solve).
"""

from __future__ import annotations

import math

import numpy as np

from tepl.kernels import jit, prange
from tepl.kernels.linalg import solve

_G0 = 2.0 * math.sqrt(math.log(2.0) / math.pi)
_K = 4.0 * math.log(2.0)
_TWO_PI = 2.0 / math.pi
_MAX_FLOAT = float(np.finfo(np.float64).max)
# fast-math without "reassoc": with reassociation the sums over pixels came out 1 ulp apart between a freshly
# compiled kernel and the same kernel loaded from numba's cache (66 of 8000 centres), so a fit in one process
# differed from the same fit in another (tepl analyze vs in memory, remote vs local); without it they are
# identical, at ~20 % of the fit rate (13.6 k vs 17 k fits/s, 1024-pixel spectra, 2 cores)
_FAST = {"nnan", "ninf", "nsz", "arcp", "afn", "contract"}


@jit(fastmath=_FAST)
def _profiles(energy, p, gauss_out, inv_q_out):
    """Per pixel at p: the Gaussian density and 1 / (1 + 4 u^2) (the Lorentzian's shape), kept for the passes."""
    c, wd = p[0], p[1]
    inv_w = 1.0 / wd
    for i in range(energy.size):
        u = (energy[i] - c) * inv_w
        u2 = u * u
        gauss_out[i] = math.exp(-_K * u2) * (_G0 * inv_w)
        inv_q_out[i] = 1.0 / (1.0 + 4.0 * u2)


@jit(fastmath=_FAST)
def _normal_equations(energy, width, y, sig, use_sigma, poisson, p, h, g, w_out, gauss_in, inv_q_in, cols):
    """chi^2 at p with weights from the model at p (kept in ``w_out``); fills H (5 x 5) and g (5).

    gauss_in, inv_q_in: the profiles at p (``_profiles``, or kept from the trial pass that reached p). A first
    pass without sums (it vectorises) fills the Jacobian columns and residuals ``cols`` (5, pixels); the sums follow."""
    c, wd, a, b, eta = p[0], p[1], p[2], p[3], p[4]
    inv_w = 1.0 / wd
    one_minus_eta = 1.0 - eta
    two_k = 2.0 * _K
    n_pix = energy.size
    c0, c1, c2, c4, cr = cols[0], cols[1], cols[2], cols[3], cols[4]
    for i in range(n_pix):
        u = (energy[i] - c) * inv_w
        u2 = u * u
        gauss = gauss_in[i]
        inv_q = inv_q_in[i]
        lorentz = inv_q * (_TWO_PI * inv_w)
        diff = lorentz - gauss
        shape = (diff * eta + gauss) * width[i]
        model = shape * a + b
        if use_sigma:
            wt = 1.0 / (sig[i] * sig[i])
        elif poisson:
            wt = 1.0 / max(model, 1.0)
        else:
            wt = 1.0
        w_out[i] = wt
        cr[i] = y[i] - model
        scale = a * width[i] * inv_w
        el = eta * lorentz
        gs = one_minus_eta * gauss
        c0[i] = (el * inv_q * 8.0 + two_k * gs) * u * scale
        c1[i] = (el * (1.0 - 2.0 * inv_q) + gs * (two_k * u2 - 1.0)) * scale
        c2[i] = shape
        c4[i] = diff * a * width[i]
    # scalar accumulators (registers, not memory)
    h00 = h01 = h02 = h03 = h04 = h11 = h12 = h13 = h14 = h22 = h23 = h24 = h33 = h34 = h44 = 0.0
    g0 = g1 = g2 = g3 = g4 = 0.0
    chi2 = 0.0
    for i in range(n_pix):
        wt = w_out[i]
        r = cr[i]
        j0, j1, j2, j4 = c0[i], c1[i], c2[i], c4[i]
        chi2 += wt * r * r
        jw0, jw1, jw2, jw4 = wt * j0, wt * j1, wt * j2, wt * j4
        h00 += jw0 * j0
        h01 += jw0 * j1
        h02 += jw0 * j2
        h03 += jw0
        h04 += jw0 * j4
        h11 += jw1 * j1
        h12 += jw1 * j2
        h13 += jw1
        h14 += jw1 * j4
        h22 += jw2 * j2
        h23 += jw2
        h24 += jw2 * j4
        h33 += wt
        h34 += jw4
        h44 += jw4 * j4
        g0 += jw0 * r
        g1 += jw1 * r
        g2 += jw2 * r
        g3 += wt * r
        g4 += jw4 * r
    h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4] = h00, h01, h02, h03, h04
    h[1, 1], h[1, 2], h[1, 3], h[1, 4] = h11, h12, h13, h14
    h[2, 2], h[2, 3], h[2, 4] = h22, h23, h24
    h[3, 3], h[3, 4], h[4, 4] = h33, h34, h44
    g[0], g[1], g[2], g[3], g[4] = g0, g1, g2, g3, g4
    for k in range(5):
        for m in range(k):
            h[k, m] = h[m, k]
    return chi2


@jit(fastmath=_FAST)
def _chi2(energy, width, y, w, p, gauss_out, inv_q_out):
    """chi^2 at p with the weights w; keeps the profiles at p for the next normal equations."""
    c, wd, a, b, eta = p[0], p[1], p[2], p[3], p[4]
    inv_w = 1.0 / wd
    chi2 = 0.0
    for i in range(energy.size):
        u = (energy[i] - c) * inv_w
        u2 = u * u
        gauss = math.exp(-_K * u2) * (_G0 * inv_w)
        inv_q = 1.0 / (1.0 + 4.0 * u2)
        gauss_out[i] = gauss
        inv_q_out[i] = inv_q
        lorentz = inv_q * (_TWO_PI * inv_w)
        r = y[i] - (((lorentz - gauss) * eta + gauss) * width[i] * a + b)
        chi2 += w[i] * r * r
    return chi2


@jit
def _fit_one(energy, width, y, sig, use_sigma, poisson, p, lo, hi, max_iter, tolerance, h_out):
    """LM on one spectrum from the start ``p`` (updated in place): (iterations, converged, chi^2); h_out gets the
    weighted normal matrix at the result.

    The profiles of an accepted trial are kept for the next normal equations, and after a rejected step the
    normal equations at the unchanged p are reused: one exponential pass per iteration."""
    n_pix = energy.size
    dof = max(n_pix - 5, 1)
    h = np.empty((5, 5))
    g = np.empty(5)
    g_raw = np.empty(5)
    hs = np.empty((5, 5))
    gs = np.empty(5)
    d = np.empty(5)
    x = np.empty(5)
    trial = np.empty(5)
    w = np.empty(n_pix)
    gauss = np.empty((2, n_pix))
    inv_q = np.empty((2, n_pix))
    cols = np.empty((5, n_pix))
    cur = 0
    _profiles(energy, p, gauss[cur], inv_q[cur])
    stale = True
    chi2 = 0.0
    damping = 1e-3
    n_iter = 0
    converged = False
    for _ in range(max_iter):
        if stale:
            chi2 = _normal_equations(energy, width, y, sig, use_sigma, poisson, p, h_out, g_raw, w, gauss[cur],
                                     inv_q[cur], cols)
            stale = False
        for k in range(5):
            g[k] = g_raw[k]
            for m in range(5):
                h[k, m] = h_out[k, m]
        for k in range(5):  # a parameter on a bound that the gradient pushes outward is held there
            if (p[k] <= lo[k] and g[k] < 0) or (p[k] >= hi[k] and g[k] > 0):
                for m in range(5):
                    h[k, m] = 0.0
                    h[m, k] = 0.0
                h[k, k] = 1.0
                g[k] = 0.0
        for k in range(5):
            d[k] = math.sqrt(h[k, k]) if h[k, k] > 0 else 1.0
        for k in range(5):
            for m in range(5):
                hs[k, m] = h[k, m] / (d[k] * d[m])
            hs[k, k] += damping
            gs[k] = g[k] / d[k]
        if not solve(hs, gs, x):
            x[:] = 0.0
        for k in range(5):
            trial[k] = min(max(p[k] + x[k] / d[k], lo[k]), hi[k])
        nxt = 1 - cur
        trial_chi2 = _chi2(energy, width, y, w, trial, gauss[nxt], inv_q[nxt])
        if np.isfinite(trial_chi2) and trial_chi2 <= chi2:
            p[:] = trial
            cur = nxt
            stale = True
            damping = max(damping / 3.0, 1e-7)
        else:
            damping *= 8.0
        n_iter += 1
        noise_scale = max(chi2 / dof, 1e-300)
        if abs(chi2 - trial_chi2) < tolerance * noise_scale or damping > 1e10:
            converged = True
            break
    if stale:
        chi2 = _normal_equations(energy, width, y, sig, use_sigma, poisson, p, h_out, g_raw, w, gauss[cur],
                                 inv_q[cur], cols)
    return n_iter, converged, chi2


@jit
def _initial_guess(energy, width, y, lo, hi, p, smooth):
    """Start values as tepl.analysis.peaks._initial_guess (same operations in the same order: identical starts):
    a 3-pixel median, a 7-pixel running mean (edges repeated, scipy's running sum), argmax, half-maximum
    crossings, minimum as background. ``smooth``: scratch of the spectrum's length."""
    n_pix = y.size
    size1 = 3
    total = 0.0
    for l in range(-size1, size1 + 1):
        total += _median3(y, min(max(l, 0), n_pix - 1))
    smooth[0] = total / 7.0
    for i in range(1, n_pix):
        total += _median3(y, min(i + size1, n_pix - 1)) - _median3(y, max(i - size1 - 1, 0))
        smooth[i] = total / 7.0
    background = smooth[0]
    peak = 0
    for i in range(n_pix):
        background = min(background, smooth[i])
        if smooth[i] > smooth[peak]:
            peak = i
    height = max(smooth[peak] - background, 1e-12)
    level = background + 0.5 * height
    right = -1
    for i in range(peak + 1, n_pix):
        if smooth[i] < level:
            right = i
            break
    left = -1
    for i in range(peak - 1, -1, -1):
        if smooth[i] < level:
            left = i
            break
    span = energy.max() - energy.min()
    half_right = abs(energy[right] - energy[peak]) if right >= 0 else 0.0
    half_left = abs(energy[peak] - energy[left]) if left >= 0 else 0.0
    if right < 0:
        half_right = half_left if left >= 0 else 0.25 * span
    if left < 0:
        half_left = half_right
    fwhm = min(max(half_left + half_right, lo[1]), hi[1])
    eta = 0.5
    peak_density = eta * 2.0 / (np.pi * fwhm) + (1.0 - eta) * _G0 / fwhm
    amplitude = height / (peak_density * width[peak])
    p[0], p[1], p[2], p[3], p[4] = energy[peak], fwhm, amplitude, background, eta
    for k in range(5):
        p[k] = min(max(p[k], lo[k]), hi[k])


@jit
def _median3(y, i):
    """Median of y[i-1], y[i], y[i+1] (the end pixels repeated): drops single-pixel spikes."""
    left = y[max(i - 1, 0)]
    right = y[min(i + 1, y.size - 1)]
    centre = y[i]
    return max(min(left, centre), min(max(left, centre), right))


@jit
def _errors(energy, width, p, h, chi2_red, err):
    """1-sigma errors (err, 5) from the normal matrix h scaled by chi2_red, and the peak height and its error
    (as tepl.analysis.peaks._covariance and _peak_height; NaN where the scaled matrix is singular)."""
    d = np.empty(5)
    hs = np.empty((5, 5))
    for k in range(5):
        dk = math.sqrt(h[k, k])
        d[k] = dk if dk > 0 else np.nan
    for k in range(5):
        for m in range(5):
            v = h[k, m] / (d[k] * d[m])
            if np.isnan(v):  # as np.nan_to_num(nan=0.0)
                v = 0.0
            elif np.isinf(v):
                v = _MAX_FLOAT if v > 0 else -_MAX_FLOAT
            hs[k, m] = v
    cov = np.full((5, 5), np.nan)
    if np.linalg.cond(hs) < 1e12:
        inv = np.linalg.inv(hs)
        for k in range(5):
            for m in range(5):
                cov[k, m] = inv[k, m] / (d[k] * d[m]) * chi2_red
    for k in range(5):
        err[k] = math.sqrt(cov[k, k])
    c, w, a, eta = p[0], p[1], p[2], p[4]
    pixel_eV = np.interp(c, energy, width)
    density = (eta * (2.0 / np.pi) + (1.0 - eta) * _G0) / w
    height = a * pixel_eV * density
    grad = np.zeros(5)
    grad[1] = -height / w
    grad[2] = pixel_eV * density
    grad[4] = a * pixel_eV * (2.0 / np.pi - _G0) / w
    variance = 0.0
    for k in range(5):
        for m in range(5):
            variance += grad[k] * cov[k, m] * grad[m]
    return height, math.sqrt(max(variance, 0.0))


@jit(parallel=True)
def fit_pseudo_voigt(energy, width, y, sigma, use_sigma, poisson, lo, hi, max_iter, tolerance, p, n_iter,
                     converged, chi2_red, err, height, height_err):
    """Fit every spectrum y[s] (pixels in ascending energy) from its own start values, spectra in parallel
    threads: parameters p[s], iterations, convergence, reduced chi^2, 1-sigma errors err[s] and the peak height
    with its error, as the numpy path of tepl.analysis.peaks.

    ``sigma`` is (n, pixels) when ``use_sigma`` (else any 2-D array, unused); ``poisson`` weights by the model."""
    dof = max(energy.size - 5, 1)
    for s in prange(y.shape[0]):
        sig = sigma[s] if use_sigma else sigma[0]
        scratch = np.empty(energy.size)
        _initial_guess(energy, width, y[s], lo, hi, p[s], scratch)
        h = np.empty((5, 5))
        it, ok, chi2 = _fit_one(energy, width, y[s], sig, use_sigma, poisson, p[s], lo, hi, max_iter, tolerance, h)
        n_iter[s] = it
        converged[s] = ok
        chi2_red[s] = chi2 / dof
        height[s], height_err[s] = _errors(energy, width, p[s], h, chi2 / dof, err[s])
