"""Compiled TCSPC decay shapes with a Gaussian IRF: exp(-t/tau) after each laser pulse convolved with the IRF,
averaged over each bin, with derivatives in tau, t0 and sigma, for the Poisson fits of ``tepl.kernels.flim``.

The same model as ``tepl.analysis.decay_model.DecayModel`` and ``tepl.analysis.decay_kernels``; the special
functions (erfcx, the normal CDF) are written here from ``math.erfc``, so results agree with the numpy path to
rounding.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.kernels import jit

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_EXACT_SIGMAS = 8.0      # as tepl.analysis.decay_model: beyond this many IRF widths the decay is its asymptote


# ============================================================================================ special functions
@jit
def erfcx(z):
    """exp(z^2) erfc(z) for z >= 0 (relative error ~1e-15 up to z = 26, asymptotic series beyond)."""
    if z < 26.0:
        return math.exp(z * z) * math.erfc(z)
    w = 1.0 / (2.0 * z * z)
    # 1 - 1 w + 3 w^2 - 15 w^3 + 105 w^4 - 945 w^5 + 10395 w^6 (w < 7.4e-4: last term ~1e-15)
    s = 1.0 + w * (-1.0 + w * (3.0 + w * (-15.0 + w * (105.0 + w * (-945.0 + w * 10395.0)))))
    return s * _INV_SQRT_PI / z


@jit
def ndtr(x):
    """Standard normal cumulative distribution (as scipy.special.ndtr)."""
    a = x * _INV_SQRT2
    z = abs(a)
    if z < _INV_SQRT2:
        return 0.5 + 0.5 * math.erf(a)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if a > 0 else y


@jit
def _emg(u, tau, sigma, out):
    """EMG antiderivative at u (as tepl.analysis.decay_kernels.emg_antiderivative): out = F, E, dF/dsigma,
    dF/dtau."""
    s_over_tau = sigma / tau
    x = u / sigma
    gauss = math.exp(-0.5 * x * x)
    z = (s_over_tau - x) * _INV_SQRT2
    if z > 0:
        e = 0.5 * gauss * erfcx(abs(z))
    else:
        e = math.exp(min(0.5 * s_over_tau * s_over_tau - u / tau, 0.0)) - 0.5 * gauss * erfcx(abs(z))
    phi_cdf = ndtr(x)
    out[0] = tau * (phi_cdf - e)
    out[1] = e
    phi = _INV_SQRT_2PI * gauss
    out[2] = phi - s_over_tau * e
    out[3] = phi_cdf - e * (1.0 + u / tau - s_over_tau * s_over_tau) - s_over_tau * phi


# ============================================================================================ shapes
@jit
def _shapes_exact(tau, t0, sigma, edges, dt, period, n_lo, n_hi, s, d_tau, d_t0, d_sig, work, jac):
    """Shapes with the special functions on every bin edge (IRF wide against the bins or the period)."""
    n_exp, k = s.shape
    fe = np.empty(4)
    f = work[0]
    e = work[1]
    ds = work[2]
    dq = work[3]
    inv_dt = 1.0 / dt
    for i in range(n_exp):
        ti = tau[i]
        for m in range(k + 1):
            f[m] = 0.0
            e[m] = 0.0
            ds[m] = 0.0
            dq[m] = 0.0
        n_exact = int(n_hi - n_lo + 1)
        for j in range(n_exact):
            pulse = t0 - (n_lo + j) * (period if period > 0 else 0.0)
            for m in range(k + 1):
                _emg(edges[m] - pulse, ti, sigma, fe)
                f[m] += fe[0]
                e[m] += fe[1]
                ds[m] += fe[2]
                dq[m] += fe[3]
        if period > 0:
            s_over_tau = sigma / ti
            one_minus = -math.expm1(-period / ti)
            q_ratio = 1.0 / math.expm1(period / ti)
            for m in range(k + 1):
                v = edges[m] - t0 + (n_hi + 1.0) * period
                e_tail = math.exp(0.5 * s_over_tau * s_over_tau - v / ti) / one_minus
                f[m] -= ti * e_tail
                e[m] += e_tail
                ds[m] -= s_over_tau * e_tail
                dq[m] -= e_tail * (1.0 - s_over_tau * s_over_tau + v / ti + (period / ti) * q_ratio)
        for m in range(k):
            s[i, m] = (f[m + 1] - f[m]) * inv_dt
            if jac:
                d_tau[i, m] = (dq[m + 1] - dq[m]) * (ti * inv_dt)
                d_t0[i, m] = -(e[m + 1] - e[m]) * inv_dt
                d_sig[i, m] = (ds[m + 1] - ds[m]) * (sigma * inv_dt)


@jit
def shapes(tau, t0, sigma, edges, dt, period, s, d_tau, d_t0, d_sig, work, jac, jac_irf):
    """Bin-averaged unit-amplitude shapes s (N, K) of one decay and, with ``jac``, dS/dln(tau) and (with
    ``jac_irf``) dS/dt0 and dS/dln(sigma); period <= 0: a single pulse. ``work``: (5, >= K + 1) scratch."""
    n_exp, k = s.shape
    tau_min = tau[0]
    for i in range(n_exp):
        tau_min = min(tau_min, tau[i])
    margin = _EXACT_SIGMAS * sigma + sigma * sigma / tau_min
    if period > 0:
        n_lo = float(math.ceil((t0 - edges[k] - margin) / period))
        n_hi = float(math.floor((t0 - edges[0] + margin) / period))
    else:
        n_lo = 0.0
        n_hi = 0.0
    band = int(math.ceil(2.0 * margin / dt)) + 4
    if band >= k // 2 or (period > 0 and period < (band + 2) * dt):
        _shapes_exact(tau, t0, sigma, edges, dt, period, n_lo, n_hi, s, d_tau, d_t0, d_sig, work, jac)
        return
    fe = np.empty(4)
    r_bins = work[4]
    for m in range(k):  # time since the latest pulse at each bin start
        r = edges[m] - t0
        if period > 0 and (r < 0.0 or r >= period):
            r = r - period * math.floor(r / period)
        r_bins[m] = r
    for i in range(n_exp):
        ti = tau[i]
        inv_tau = 1.0 / ti
        s2 = (sigma / ti) ** 2
        x = dt / ti
        bin_factor = -math.expm1(-x) / x
        if period > 0:
            bin_factor = bin_factor / -math.expm1(-period / ti)
        alpha = 1.0 - s2 - x / math.expm1(x)
        if period > 0:
            alpha += (period / ti) / math.expm1(period / ti)
        half_s2 = 0.5 * s2
        s_over_tau = sigma / ti
        one_minus_q = -math.expm1(-period / ti) if period > 0 else 1.0
        wrap_term = (period / ti) / math.expm1(period / ti) if period > 0 else 0.0
        # exp(-r / tau) by one exponential per run of bins after a pulse and a product per bin (relative rounding
        # below 1e-13 over 10^4 bins); the numpy path takes one exponential per bin
        step = math.exp(-dt * inv_tau)
        fresh = True
        r_prev = 0.0
        v0 = 0.0
        for m in range(k):
            r = r_bins[m]
            if period <= 0 and r < 0.0:
                v0 = 0.0
                fresh = True
            elif fresh or r < r_prev:
                arg = -r * inv_tau + half_s2
                if arg >= 0.0:
                    v0 = 1.0
                    fresh = True
                else:
                    v0 = math.exp(arg)
                    fresh = False
            else:
                v0 *= step
            r_prev = r
            v = v0 * bin_factor
            s[i, m] = v
            if jac:
                d_tau[i, m] = (r * inv_tau + alpha) * v
                if jac_irf:
                    d_t0[i, m] = v * inv_tau
                    d_sig[i, m] = v * s2
        n_exact = int(max(n_hi - n_lo + 1, 0))
        f = work[0]
        e = work[1]
        ds = work[2]
        dq = work[3]
        for j in range(n_exact):
            pulse = t0 - (n_lo + j) * (period if period > 0 else 0.0)
            start = int(math.floor((pulse - margin - edges[0]) / dt)) - 1
            for b in range(band):
                ub = edges[0] + (start + b) * dt - pulse
                _emg(ub, ti, sigma, fe)
                fb, eb, dsb, dqb = fe[0], fe[1], fe[2], fe[3]
                if period > 0:
                    vv = ub + period
                    e_other = math.exp(half_s2 - vv / ti) / one_minus_q
                    fb = fb - ti * e_other
                    eb = eb + e_other
                    dsb = dsb - s_over_tau * e_other
                    dqb = dqb - e_other * (1.0 - s2 + vv / ti + wrap_term)
                f[b] = fb
                e[b] = eb
                ds[b] = dsb
                dq[b] = dqb
            for b in range(band - 1):
                m = start + b
                if m < 0 or m >= k:
                    continue
                s[i, m] = (f[b + 1] - f[b]) / dt
                if jac:
                    d_tau[i, m] = (dq[b + 1] - dq[b]) * (ti / dt)
                    if jac_irf:
                        d_t0[i, m] = -(e[b + 1] - e[b]) / dt
                        d_sig[i, m] = (ds[b + 1] - ds[b]) * (sigma / dt)
