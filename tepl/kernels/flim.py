"""Compiled Poisson maximum-likelihood fit of TCSPC decays with a Gaussian IRF, decays in parallel.

The same model as ``tepl.analysis.decay_model.DecayModel`` (y0 + sum_i A_i S_i, S_i the decay exp(-t/tau_i)
after each pulse convolved with a Gaussian IRF and averaged over the bin; parameters ln(tau_1..n), t0_ns,
ln(sigma_ns), y0, A_1..n) and the same iterations as ``tepl.analysis.lifetime_starts.linear_start`` (weighted
least squares and Poisson EM steps for y0 and A) and ``tepl.analysis.poisson_fit.fit_poisson`` (Levenberg-
Marquardt on the Poisson deviance: same damping schedule, bounds, held parameters and stopping rule), run per
decay with the model, its Jacobian, the deviance and the normal equations in one pass over the bins; decays are
spread over threads (``prange``).

Results agree with the numpy path to rounding: the decay shapes come from ``tepl.kernels.decay_shapes``
(special functions written from ``math.erfc``), sums run in a different order, the band of bins evaluated
exactly around a pulse is sized per decay rather than per batch, and a singular step is rejected (damping
raised) rather than solved by pseudo-inverse.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.kernels import jit, prange
from tepl.kernels.decay_shapes import shapes
from tepl.kernels.linalg import solve

MU_FLOOR = 1e-12         # as tepl.analysis.poisson_fit


# ============================================================================================ one decay
@jit
def _evaluate(p, n_exp, edges, dt, period, mu, s, d_tau, d_t0, d_sig, tau, work, want_jac, jac_irf):
    """Model counts mu (K) at p; with ``want_jac`` the shapes' derivatives are kept for ``_jacobian``."""
    k = mu.size
    for i in range(n_exp):
        tau[i] = math.exp(p[i])
    shapes(tau, p[n_exp], math.exp(p[n_exp + 1]), edges, dt, period, s, d_tau, d_t0, d_sig, work, want_jac,
           jac_irf)
    y0 = p[n_exp + 2]
    # up to three components in registers (a missing one reads row 0 with amplitude 0)
    a0 = p[n_exp + 3]
    a1 = p[n_exp + 4] if n_exp > 1 else 0.0
    a2 = p[n_exp + 5] if n_exp > 2 else 0.0
    s0 = s[0]
    s1 = s[1] if n_exp > 1 else s[0]
    s2 = s[2] if n_exp > 2 else s[0]
    for m in range(k):
        mu[m] = ((a0 * s0[m] + a1 * s1[m]) + a2 * s2[m]) + y0


@jit
def _jacobian(p, n_exp, free_idx, s, d_tau, d_t0, d_sig, jac):
    """Rows of the Jacobian (len(free_idx), K) for the parameters free_idx, from the kept derivatives."""
    k = s.shape[1]
    for row in range(free_idx.size):
        a = free_idx[row]
        if a < n_exp:
            amp = p[n_exp + 3 + a]
            for m in range(k):
                jac[row, m] = d_tau[a, m] * amp
        elif a == n_exp or a == n_exp + 1:
            src = d_t0 if a == n_exp else d_sig
            for m in range(k):
                acc = 0.0
                for i in range(n_exp):
                    acc += p[n_exp + 3 + i] * src[i, m]
                jac[row, m] = acc
        elif a == n_exp + 2:
            for m in range(k):
                jac[row, m] = 1.0
        else:
            for m in range(k):
                jac[row, m] = s[a - n_exp - 3, m]


@jit
def _deviance(y, y_log_y, mu):
    total = 0.0
    for m in range(y.size):
        if y[m] != 0.0:
            total += mu[m] + y_log_y[m] - y[m] * math.log(max(mu[m], MU_FLOOR))
        else:
            total += mu[m] + y_log_y[m]
    return 2.0 * total


@jit
def _dot8(u, v, k):
    """sum(u[:k] * v[:k]) in eight running sums (independent chains: a fixed order, no reassociation needed)."""
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0
    k8 = k - k % 8
    for m in range(0, k8, 8):
        c0 += u[m] * v[m]
        c1 += u[m + 1] * v[m + 1]
        c2 += u[m + 2] * v[m + 2]
        c3 += u[m + 3] * v[m + 3]
        c4 += u[m + 4] * v[m + 4]
        c5 += u[m + 5] * v[m + 5]
        c6 += u[m + 6] * v[m + 6]
        c7 += u[m + 7] * v[m + 7]
    for m in range(k8, k):
        c0 += u[m] * v[m]
    return ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))


@jit
def _fisher(y, mu, jac, h, g, w, resid):
    """h = J diag(1/mu) J^T and g = J (y/mu - 1) over the rows of jac (``w``, ``resid``: K scratch)."""
    n_par, k = jac.shape
    for m in range(k):
        inv_mu = 1.0 / max(mu[m], MU_FLOOR)
        w[m] = inv_mu
        resid[m] = y[m] * inv_mu - 1.0
    for a in range(n_par):
        row = jac[a]
        g[a] = _dot8(row, resid, k)
        for b in range(a, n_par):
            total = _dot8w(row, w, jac[b], k)
            h[a, b] = total
            h[b, a] = total


@jit
def _dot8w(u, w, v, k):
    """sum(u[:k] * w[:k] * v[:k]) in eight running sums."""
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0
    k8 = k - k % 8
    for m in range(0, k8, 8):
        c0 += u[m] * w[m] * v[m]
        c1 += u[m + 1] * w[m + 1] * v[m + 1]
        c2 += u[m + 2] * w[m + 2] * v[m + 2]
        c3 += u[m + 3] * w[m + 3] * v[m + 3]
        c4 += u[m + 4] * w[m + 4] * v[m + 4]
        c5 += u[m + 5] * w[m + 5] * v[m + 5]
        c6 += u[m + 6] * w[m + 6] * v[m + 6]
        c7 += u[m + 7] * w[m + 7] * v[m + 7]
    for m in range(k8, k):
        c0 += u[m] * w[m] * v[m]
    return ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))


@jit
def _fisher_two(y, mu, s, d_tau, amp0, amp1, h, g):
    """_fisher for two components with the IRF held (rows ln tau_0, ln tau_1, y0, A_0, A_1: the FLIM case) in one
    pass over the bins with every sum in a register, the Jacobian never stored."""
    h00 = h01 = h02 = h03 = h04 = h11 = h12 = h13 = h14 = h22 = h23 = h24 = h33 = h34 = h44 = 0.0
    g0 = g1 = g2 = g3 = g4 = 0.0
    s0 = s[0]
    s1 = s[1]
    t0 = d_tau[0]
    t1 = d_tau[1]
    for m in range(y.size):
        w = 1.0 / max(mu[m], MU_FLOOR)
        r = y[m] * w - 1.0
        j0 = t0[m] * amp0
        j1 = t1[m] * amp1
        j3 = s0[m]
        j4 = s1[m]
        w0 = j0 * w
        w1 = j1 * w
        w3 = j3 * w
        w4 = j4 * w
        h00 += w0 * j0
        h01 += w0 * j1
        h02 += w0
        h03 += w0 * j3
        h04 += w0 * j4
        h11 += w1 * j1
        h12 += w1
        h13 += w1 * j3
        h14 += w1 * j4
        h22 += w
        h23 += w3
        h24 += w4
        h33 += w3 * j3
        h34 += w3 * j4
        h44 += w4 * j4
        g0 += j0 * r
        g1 += j1 * r
        g2 += r
        g3 += j3 * r
        g4 += j4 * r
    h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4] = h00, h01, h02, h03, h04
    h[1, 1], h[1, 2], h[1, 3], h[1, 4] = h11, h12, h13, h14
    h[2, 2], h[2, 3], h[2, 4] = h22, h23, h24
    h[3, 3], h[3, 4], h[4, 4] = h33, h34, h44
    for a in range(5):
        for b in range(a):
            h[a, b] = h[b, a]
    g[0], g[1], g[2], g[3], g[4] = g0, g1, g2, g3, g4


@jit
def _linear_start_one(p, y, n_exp, edges, dt, period, s, d_tau, d_t0, d_sig, tau, work):
    """Background and amplitudes for fixed lifetimes and IRF (as lifetime_starts.linear_start), into p."""
    k = y.size
    for i in range(n_exp):
        tau[i] = math.exp(p[i])
    shapes(tau, p[n_exp], math.exp(p[n_exp + 1]), edges, dt, period, s, d_tau, d_t0, d_sig, work, False,
           False)
    # up to three components in scalars (a missing one reads row 0 and is dropped): the passes stay in registers
    nb = n_exp + 1
    s1 = s[0]
    s2 = s[1] if n_exp > 1 else s[0]
    s3 = s[2] if n_exp > 2 else s[0]
    n00 = n01 = n02 = n03 = n11 = n12 = n13 = n22 = n23 = n33 = 0.0
    r0 = r1 = r2 = r3 = 0.0
    q0 = q1 = q2 = q3 = 0.0
    total_y = 0.0
    for m in range(k):
        ym = y[m]
        w = 1.0 / max(ym, 1.0)
        b1, b2, b3 = s1[m], s2[m], s3[m]
        q1 += b1
        q2 += b2
        q3 += b3
        wy = w * ym
        r0 += wy
        r1 += b1 * wy
        r2 += b2 * wy
        r3 += b3 * wy
        n00 += w
        n01 += w * b1
        n02 += w * b2
        n03 += w * b3
        n11 += b1 * w * b1
        n12 += b1 * w * b2
        n13 += b1 * w * b3
        n22 += b2 * w * b2
        n23 += b2 * w * b3
        n33 += b3 * w * b3
        total_y += ym
    q0 = float(k)
    full = np.array([[n00, n01, n02, n03], [n01, n11, n12, n13], [n02, n12, n22, n23], [n03, n13, n23, n33]])
    normal = full[:nb, :nb].copy()
    rhs = np.array([r0, r1, r2, r3])[:nb].copy()
    trace = 0.0
    for a in range(nb):
        trace += normal[a, a]
    for a in range(nb):
        normal[a, a] += 1e-9 * trace
    coef = np.zeros(4)
    if not solve(normal, rhs, coef[:nb]):
        return
    floor = 1e-3 * max(total_y / k, 1e-3)
    coef[0] = max(coef[0], floor)
    top = coef[1]
    for a in range(2, nb):
        top = max(top, coef[a])
    least = 0.05 * max(top, floor)
    for a in range(1, nb):
        coef[a] = max(coef[a], least)
    c0, c1, c2, c3 = coef[0], coef[1], coef[2], coef[3]   # missing components: 0
    for _ in range(8):  # expectation-maximisation keeps everything positive and raises the likelihood
        u0 = u1 = u2 = u3 = 0.0
        for m in range(k):
            ym = y[m]
            if ym == 0.0:
                continue
            b1, b2, b3 = s1[m], s2[m], s3[m]
            ratio = ym / max(c0 + c1 * b1 + c2 * b2 + c3 * b3, MU_FLOOR)
            u0 += ratio
            u1 += b1 * ratio
            u2 += b2 * ratio
            u3 += b3 * ratio
        c0 *= u0 / max(q0, 1e-300)
        c1 *= u1 / max(q1, 1e-300)
        if n_exp > 1:
            c2 *= u2 / max(q2, 1e-300)
        if n_exp > 2:
            c3 *= u3 / max(q3, 1e-300)
        c0 = max(c0, floor)
    coef[0], coef[1], coef[2], coef[3] = c0, c1, c2, c3
    p[n_exp + 2] = coef[0]
    for i in range(n_exp):
        p[n_exp + 3 + i] = coef[i + 1]


@jit
def _fit_one(p, y, n_exp, edges, dt, period, free, lo, hi, max_iter, tolerance, h_out):
    """LM on the Poisson deviance for one decay from p (updated in place): (deviance, iterations, converged);
    h_out receives the Fisher information at the result on the free parameters (zero elsewhere).

    The model of an accepted trial step is kept with its derivatives, so each iteration evaluates the model once.
    """
    k = y.size
    n_par = p.size
    n_free = 0
    for a in range(n_par):
        if free[a]:
            n_free += 1
    free_idx = np.empty(n_free, np.int64)
    n_free = 0
    for a in range(n_par):
        if free[a]:
            free_idx[n_free] = a
            n_free += 1
    jac_irf = free[n_exp] or free[n_exp + 1]
    two_fixed_irf = n_exp == 2 and n_free == 5 and not jac_irf
    s = np.empty((2, n_exp, k))
    d_tau = np.empty((2, n_exp, k))
    d_t0 = np.empty((2, n_exp, k))
    d_sig = np.empty((2, n_exp, k))
    mu = np.empty((2, k))
    work = np.empty((5, k + 1))
    tau = np.empty(n_exp)
    jac = np.empty((n_free, k))
    y_log_y = np.empty(k)
    w = np.empty(k)
    resid = np.empty(k)
    h = np.empty((n_free, n_free))
    hs = np.empty((n_free, n_free))
    g = np.empty(n_free)
    gs = np.empty(n_free)
    d = np.empty(n_free)
    x = np.empty(n_free)
    trial = np.empty(n_par)
    for a in range(n_par):
        p[a] = min(max(p[a], lo[a]), hi[a])
    for m in range(k):
        y_log_y[m] = (y[m] * math.log(y[m]) if y[m] != 0.0 else 0.0) - y[m]
    cur = 0
    _evaluate(p, n_exp, edges, dt, period, mu[cur], s[cur], d_tau[cur], d_t0[cur], d_sig[cur], tau, work, True,
              jac_irf)
    dev = _deviance(y, y_log_y, mu[cur])
    damping = 1e-3
    n_iter = 0
    converged = False
    for _ in range(max_iter):
        n_iter += 1
        if two_fixed_irf:
            _fisher_two(y, mu[cur], s[cur], d_tau[cur], p[n_exp + 3], p[n_exp + 4], h, g)
        else:
            _jacobian(p, n_exp, free_idx, s[cur], d_tau[cur], d_t0[cur], d_sig[cur], jac)
            _fisher(y, mu[cur], jac, h, g, w, resid)
        for row in range(n_free):  # a parameter on a bound that the gradient pushes outward is held there
            a = free_idx[row]
            if (p[a] <= lo[a] and g[row] < 0) or (p[a] >= hi[a] and g[row] > 0):
                for col in range(n_free):
                    h[row, col] = 0.0
                    h[col, row] = 0.0
                h[row, row] = 1.0
                g[row] = 0.0
        for row in range(n_free):
            dr = math.sqrt(h[row, row])
            d[row] = dr if dr > 0 else 1.0
        done = False
        nxt = 1 - cur
        for _try in range(6):  # raise the damping of a rejected step without recomputing the Jacobian
            for row in range(n_free):
                for col in range(n_free):
                    hs[row, col] = h[row, col] / (d[row] * d[col])
                hs[row, row] += damping
                gs[row] = g[row] / d[row]
            better = False
            trial_dev = np.nan
            if solve(hs, gs, x):
                for a in range(n_par):
                    trial[a] = p[a]
                for row in range(n_free):
                    a = free_idx[row]
                    v = p[a] + x[row] / d[row]
                    if v < lo[a]:
                        v = lo[a]
                    elif v > hi[a]:
                        v = hi[a]
                    trial[a] = v
                _evaluate(trial, n_exp, edges, dt, period, mu[nxt], s[nxt], d_tau[nxt], d_t0[nxt], d_sig[nxt],
                          tau, work, True, jac_irf)
                trial_dev = _deviance(y, y_log_y, mu[nxt])
                better = np.isfinite(trial_dev) and trial_dev <= dev
            if better:
                gain = dev - trial_dev
                for a in range(n_par):
                    p[a] = trial[a]
                dev = trial_dev
                cur = nxt
                damping = max(damping / 5.0, 1e-9)
                if gain < tolerance:
                    converged = True
                    done = True
                break
            damping *= 10.0
            if damping > 1e12:
                converged = True
                done = True
                break
        if done:
            break
    # the model and its derivatives kept for p: the Fisher information at the result (free parameters only,
    # all the covariance is asked on)
    if two_fixed_irf:
        _fisher_two(y, mu[cur], s[cur], d_tau[cur], p[n_exp + 3], p[n_exp + 4], h, g)
    else:
        _jacobian(p, n_exp, free_idx, s[cur], d_tau[cur], d_t0[cur], d_sig[cur], jac)
        _fisher(y, mu[cur], jac, h, g, w, resid)
    for a in range(n_par):
        for b in range(n_par):
            h_out[a, b] = 0.0
    for row in range(n_free):
        for col in range(n_free):
            h_out[free_idx[row], free_idx[col]] = h[row, col]
    return dev, n_iter, converged


# ============================================================================================ batches
@jit(parallel=True)
def linear_start(p, y, n_exp, edges, dt, period):
    """Background and amplitudes of every decay y[r] (K) for its lifetimes and IRF in p[r], decays in parallel."""
    k = y.shape[1]
    for r in prange(y.shape[0]):
        s = np.empty((n_exp, k))
        work = np.empty((5, k + 1))
        tau = np.empty(n_exp)
        _linear_start_one(p[r], y[r], n_exp, edges, dt, period, s, s, s, s, tau, work)


@jit(parallel=True)
def fit_poisson(p, y, n_exp, edges, dt, period, free, lo, hi, max_iter, tolerance, dev, n_iter, converged, h):
    """Fit every decay y[r] from p[r] (updated in place), decays in parallel threads; deviance, iterations,
    convergence and the Fisher information h[r] (P x P) at the result. period <= 0: a single pulse."""
    for r in prange(y.shape[0]):
        d, it, ok = _fit_one(p[r], y[r], n_exp, edges, dt, period, free, lo, hi, max_iter, tolerance, h[r])
        dev[r] = d
        n_iter[r] = it
        converged[r] = ok
