"""Closed forms behind the decay model (``tepl.analysis.decay_model``): a decay ``exp(-t / tau)`` after a
pulse convolved with a Gaussian IRF (exponentially modified Gaussian), and the second antiderivative of a
(periodic) decay train, whose second differences give its convolution with a measured IRF histogram.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx, ndtr

_SQRT2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def emg_antiderivative(u, tau, sigma, jacobian: bool):
    """Antiderivative F(u) of (exp(-u/tau) H(u)) convolved with a unit Gaussian of width sigma.

    u: time after the pulse (ns). Returns F, E = dF/du (the convolved decay itself), dF/dsigma, dF/dtau
    (the last two None without ``jacobian``). Written with erfcx so nothing overflows for any u, tau, sigma.
    """
    s_over_tau = sigma / tau
    x = u / sigma
    gauss = np.exp(-0.5 * x * x)
    z = (s_over_tau - x) * (1.0 / _SQRT2)
    positive = z > 0
    tail = np.exp(np.minimum(0.5 * s_over_tau * s_over_tau - u / tau, 0.0))
    tail = np.where(positive, 0.0, tail)
    e = tail + np.where(positive, 0.5, -0.5) * gauss * erfcx(np.abs(z))
    phi_cdf = ndtr(x)
    f = tau * (phi_cdf - e)
    if not jacobian:
        return f, e, None, None
    phi = _INV_SQRT_2PI * gauss
    d_sigma = phi - s_over_tau * e
    d_tau = phi_cdf - e * (1.0 + u / tau - s_over_tau * s_over_tau) - s_over_tau * phi
    return f, e, d_sigma, d_tau


def decay_integrals(t, tau, period_ns: float | None):
    """Second antiderivative Q(t) of the (periodic) decay train with a pulse at t = 0, with dQ/dt and dQ/dtau.

    The decay train is exp(-t/tau) after every pulse (pulses at multiples of ``period_ns``, or one pulse at 0
    when it is None). Q(0) = 0 and Q'(0) = 0; second differences of Q give the bin-averaged convolution of
    the decay with an IRF bin that is uniform over its width.
    """
    if period_ns is None:
        tp = np.maximum(t, 0.0)
        decay = np.exp(-tp / tau)
        rise = -np.expm1(-tp / tau)                      # 1 - exp(-t/tau), exact for t << tau
        p = tau * rise
        q = tau * tp - tau * p
        dq_dtau = tp - 2.0 * p + tp * decay
        return q, p, dq_dtau
    period = period_ns
    k = np.floor(t / period)
    r = t - k * period
    decay = np.exp(-r / tau)
    rise = -np.expm1(-r / tau)
    one_minus_q = -np.expm1(-period / tau)
    q_ratio = 1.0 / np.expm1(period / tau)               # q / (1 - q), q = exp(-T/tau)
    # t = k T + r: Q = tau k^2 T / 2 + tau k r + k C + N(r) / (1 - q), N(r) = tau r - tau^2 (1 - exp(-r/tau)),
    # C = Q gained over one whole period; P = dQ/dt
    p = k * tau + tau * rise / one_minus_q
    n_r = tau * r - tau * tau * rise
    c_part = tau * period / one_minus_q - tau * tau - 0.5 * tau * period
    q = 0.5 * tau * k * k * period + tau * k * r + k * c_part + n_r / one_minus_q
    dn_dtau = r - 2.0 * tau * rise + r * decay
    dc_dtau = period / one_minus_q + (period**2 / tau) * q_ratio / one_minus_q - 2.0 * tau - 0.5 * period
    dq_dtau = (0.5 * k * k * period + k * r + k * dc_dtau
               + (dn_dtau + n_r * (period / tau**2) * q_ratio) / one_minus_q)
    return q, p, dq_dtau
