"""The decay model the lifetime fits use, with its derivatives: counts in TCSPC bin k (bin starts
``time_ns``, uniform width dt)::

    mu_k = y0 + sum_i A_i * S_i(k)

``S_i`` is the decay ``exp(-t / tau_i)`` after each laser pulse, convolved with the instrument response
(IRF) and averaged over the bin, so ``A_i`` is the amplitude in counts per bin at the pulse and ``y0`` a
flat background in counts per bin. With ``period_ns`` the excitation repeats every period and the tails of
all earlier pulses add up (a lifetime comparable to the period wraps around). The IRF is either

- a Gaussian of centre ``t0_ns`` and width ``sigma_ns``, both fitted (analytic: exponentially modified
  Gaussian, integrated over each bin), or
- a measured IRF histogram on the same bins (its dark floor removed, normalised to unit sum, each bin
  taken as uniform over its width), convolved by FFT, with an optional fitted shift ``shift_ns`` of the
  decay against it.

``decay_model`` evaluates it (simulations, plots); ``DecayModel`` is what ``tepl.analysis.lifetime`` fits.
The closed forms are in ``tepl.analysis.decay_kernels``, the checks of both's inputs in
``tepl.analysis.decay_checks``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from tepl.analysis.decay_checks import check_period, check_time, normalised_irf
from tepl.analysis.decay_kernels import decay_integrals, emg_antiderivative

_EXACT_SIGMAS = 8.0      # beyond this many IRF widths from a pulse the convolved decay is its asymptote


# ============================================================================================ model
class DecayModel:
    """Counts per bin and their Jacobian for a batch of parameter vectors.

    Parameter vector: ln(tau_1..n), IRF parameters (Gaussian: t0_ns, ln(sigma_ns); measured: shift_ns),
    y0, A_1..n.
    """

    def __init__(self, time_ns: np.ndarray, n_exp: int, period_ns: float | None, irf: np.ndarray | None):
        self.n_exp = n_exp
        self.period_ns = period_ns
        self.n_bins = time_ns.size
        self.dt = float(time_ns[1] - time_ns[0])
        self.edges = time_ns[0] + self.dt * np.arange(self.n_bins + 1)
        self.span = self.n_bins * self.dt
        self.gaussian = irf is None
        n = n_exp
        self.i_tau = np.arange(n)
        if self.gaussian:
            self.i_t0, self.i_sigma, self.i_shift = n, n + 1, None
            self.i_y0 = n + 2
        else:
            self.i_t0, self.i_sigma, self.i_shift = None, None, n
            self.i_y0 = n + 1
            k = self.n_bins
            self.fft_len = sp_fft.next_fast_len(2 * k)
            self.irf_hat = sp_fft.rfft(irf, n=self.fft_len)
            self.lag_points = self.dt * np.arange(-k, k + 1)  # lag of a decay bin start from an IRF bin start
            centre = float(np.sum(irf * (time_ns + 0.5 * self.dt)))
            self.irf_centroid_ns = centre
            self.irf_rms_ns = float(np.sqrt(np.sum(irf * (time_ns + 0.5 * self.dt - centre) ** 2)))
        self.i_amp = self.i_y0 + 1 + np.arange(n)
        self.n_par = self.i_y0 + 1 + n
        self.irf_index = [self.i_t0, self.i_sigma] if self.gaussian else [self.i_shift]

    # ---------------------------------------------------------------------------------------- bounds
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.full(self.n_par, -np.inf)
        hi = np.full(self.n_par, np.inf)
        lo[self.i_tau] = np.log(0.05 * self.dt)
        hi[self.i_tau] = np.log(100.0 * max(self.span, self.period_ns or 0.0))
        if self.gaussian:
            lo[self.i_t0], hi[self.i_t0] = self.edges[0] - 0.1 * self.span, self.edges[-1]
            lo[self.i_sigma], hi[self.i_sigma] = np.log(max(0.02 * self.dt, 1e-5)), np.log(0.25 * self.span)
        else:
            lo[self.i_shift], hi[self.i_shift] = -0.25 * self.span, 0.25 * self.span
        lo[self.i_y0] = 0.0
        lo[self.i_amp] = 0.0
        return lo, hi

    # ---------------------------------------------------------------------------------------- shapes
    def _pulse_range(self, t0, margin):
        """Per row, the first and last pulse (index n of the pulse at t0 - n T) within ``margin`` of the bins."""
        edges = self.edges
        if self.period_ns is None:
            zero = np.zeros(t0.shape)
            return zero, zero
        period = self.period_ns
        return (np.ceil((t0 - edges[-1] - margin) / period), np.floor((t0 - edges[0] + margin) / period))

    def _gaussian_shapes(self, tau, t0, sigma, jacobian):
        """Bin-averaged shapes S (n, N, K) and dS/dln(tau), dS/dt0, dS/dln(sigma) for the Gaussian IRF.

        Away from every pulse (beyond ``margin``) the convolved decay train is a pure exponential per bin;
        the special functions are evaluated only on a band of bins around each pulse in the window.
        """
        margin = _EXACT_SIGMAS * sigma + sigma**2 / tau.min(axis=1)
        n_lo, n_hi = self._pulse_range(t0, margin)
        band = int(np.ceil(2.0 * np.max(margin) / self.dt)) + 4
        period = self.period_ns
        if band >= self.n_bins // 2 or (period is not None and period < (band + 2) * self.dt):
            return self._gaussian_shapes_exact(tau, t0, sigma, n_lo, n_hi, margin, jacobian)
        dt = self.dt
        n, n_exp = tau.shape
        k = self.n_bins
        tau3, sig3 = tau[:, :, None], sigma[:, None, None]
        s2 = (sigma[:, None] / tau) ** 2                               # (n, N)
        inv_tau3 = 1.0 / tau3
        # every output has a spare last column that takes the band's bins falling outside the window
        shapes = np.empty((n, n_exp, k + 1))
        e_left = shapes[..., :k]
        shared_t0 = bool(np.all(t0 == t0[0]))                         # e.g. a FLIM cube with a global IRF
        r = self.edges[None, None, :-1] - (t0[:1] if shared_t0 else t0)[:, None, None]  # after pulse 0
        if period is not None:
            r = r - period * np.floor(r / period)                      # time since the latest pulse
        np.multiply(r, -inv_tau3, out=e_left)
        e_left += 0.5 * s2[:, :, None]
        np.minimum(e_left, 0.0, out=e_left)
        np.exp(e_left, out=e_left)
        x = dt / tau
        bin_factor = -np.expm1(-x) / x                                 # tau (1 - exp(-dt/tau)) / dt
        if period is None:
            e_left *= r >= 0.0
        else:
            bin_factor = bin_factor / -np.expm1(-period / tau)
        e_left *= bin_factor[:, :, None]                               # now the bin-averaged shape
        d_tau = d_t0 = d_sigma = None
        if jacobian:
            alpha = 1.0 - s2 - x / np.expm1(x)
            if period is not None:
                alpha += (period / tau) / np.expm1(period / tau)
            d_tau = np.empty_like(shapes)
            np.multiply(r, inv_tau3, out=d_tau[..., :k])
            d_tau[..., :k] += alpha[:, :, None]
            d_tau[..., :k] *= e_left
            d_t0 = np.empty_like(shapes)
            np.multiply(e_left, inv_tau3, out=d_t0[..., :k])
            d_sigma = np.empty_like(shapes)
            np.multiply(e_left, s2[:, :, None], out=d_sigma[..., :k])
        del r
        n_exact = int(max(np.max(n_hi - n_lo + 1, initial=0), 0))
        steps = np.arange(band)
        for j in range(n_exact):
            rows = np.flatnonzero(n_lo + j <= n_hi)
            every_row = rows.size == n
            pulse = t0[rows] - (n_lo[rows] + j) * (period or 0.0)
            start = np.floor((pulse - margin[rows] - self.edges[0]) / dt).astype(int) - 1
            idx = start[:, None] + steps                               # band edges (r, B), may pass the ends
            ub = (self.edges[0] + idx * dt - pulse[:, None])[:, None, :]
            tr, sr = tau3[rows], sig3[rows]
            f, e, ds, dtau = emg_antiderivative(ub, tr, sr, jacobian)
            if period is not None:
                # the other pulses, all more than `margin` away: their summed exponential tail
                v = ub + period
                s_over_tau = sr / tr
                e_other = np.exp(0.5 * s_over_tau**2 - v / tr) / -np.expm1(-period / tr)
                f = f - tr * e_other
                if jacobian:
                    e = e + e_other
                    ds = ds - s_over_tau * e_other
                    dtau = dtau - e_other * (1.0 - s_over_tau**2 + v / tr + (period / tr) / np.expm1(period / tr))
            bins = idx[:, :-1]
            bins = np.where((bins >= 0) & (bins < k), bins, k)
            bins = np.broadcast_to(bins[:, None, :], (rows.size, n_exp, band - 1))
            targets = [(shapes, np.diff(f, axis=-1) / dt)]
            if jacobian:
                targets += [(d_tau, np.diff(dtau, axis=-1) * (tr / dt)), (d_t0, -np.diff(e, axis=-1) / dt),
                            (d_sigma, np.diff(ds, axis=-1) * (sr / dt))]
            for full, part in targets:
                if every_row:
                    np.put_along_axis(full, bins, part, axis=-1)
                else:
                    sub = full[rows]
                    np.put_along_axis(sub, bins, part, axis=-1)
                    full[rows] = sub
        if not jacobian:
            return shapes[..., :k], None, None, None
        return shapes[..., :k], d_tau[..., :k], d_t0[..., :k], d_sigma[..., :k]

    def _gaussian_shapes_exact(self, tau, t0, sigma, n_lo, n_hi, margin, jacobian):
        """As _gaussian_shapes, with the special functions on every bin edge (IRF wide against the bins)."""
        n, n_exp = tau.shape
        edges = self.edges
        tau3, sig3 = tau[:, :, None], sigma[:, None, None]
        f = np.zeros((n, n_exp, edges.size))
        e = np.zeros_like(f) if jacobian else None
        ds = np.zeros_like(f) if jacobian else None
        dtau = np.zeros_like(f) if jacobian else None
        n_exact = int(max(np.max(n_hi - n_lo + 1, initial=0), 0))
        for j in range(n_exact):
            rows = np.flatnonzero(n_lo + j <= n_hi)
            pulse = t0[rows] - (n_lo[rows] + j) * (self.period_ns or 0.0)
            u = edges[None, None, :] - pulse[:, None, None]
            fj, ej, dsj, dtj = emg_antiderivative(u, tau3[rows], sig3[rows], jacobian)
            f[rows] += fj
            if jacobian:
                e[rows] += ej
                ds[rows] += dsj
                dtau[rows] += dtj
        if self.period_ns is not None:
            # every earlier pulse (more than `margin` before the first bin) adds its pure exponential tail
            period = self.period_ns
            v = (edges[None, :] - t0[:, None] + (n_hi[:, None] + 1.0) * period)[:, None, :]
            s_over_tau = sig3 / tau3
            e_tail = np.exp(0.5 * s_over_tau**2 - v / tau3) / -np.expm1(-period / tau3)
            f -= tau3 * e_tail
            if jacobian:
                e += e_tail
                ds -= s_over_tau * e_tail
                q_ratio = 1.0 / np.expm1(period / tau3)
                dtau -= e_tail * (1.0 - s_over_tau**2 + v / tau3 + (period / tau3) * q_ratio)
        inv_dt = 1.0 / self.dt
        shapes = np.diff(f, axis=-1) * inv_dt
        if not jacobian:
            return shapes, None, None, None
        d_ln_tau = np.diff(dtau, axis=-1) * (tau3 * inv_dt)
        d_t0 = -np.diff(e, axis=-1) * inv_dt
        d_ln_sigma = np.diff(ds, axis=-1) * (sig3 * inv_dt)
        return shapes, d_ln_tau, d_t0, d_ln_sigma

    def _convolve(self, lagged):
        """Linear convolution of lag-indexed arrays (..., 2K-1; lags -(K-1)..K-1) with the IRF -> (..., K)."""
        k = self.n_bins
        padded = np.zeros(lagged.shape[:-1] + (self.fft_len,))
        padded[..., :k] = lagged[..., k - 1:]
        padded[..., self.fft_len - (k - 1):] = lagged[..., :k - 1]
        spectrum = sp_fft.rfft(padded, axis=-1)
        spectrum *= self.irf_hat
        return sp_fft.irfft(spectrum, n=self.fft_len, axis=-1)[..., :k]

    def _measured_shapes(self, tau, shift, amplitude, jacobian):
        """Bin-averaged shapes S (n, N, K), dS/dln(tau) and d(sum_i A_i S_i)/dshift.

        Each IRF bin is taken as uniform over its width, so a decay bin sees the second difference of the
        decay's second antiderivative over lags -K..K.
        """
        tau3 = tau[:, :, None]
        t = self.lag_points[None, None, :] - shift[:, None, None]
        q, p, dq_dtau = decay_integrals(t, tau3, self.period_ns)
        inv_dt2 = 1.0 / (self.dt * self.dt)

        def second_difference(a):
            return a[..., 2:] - 2.0 * a[..., 1:-1] + a[..., :-2]

        shapes = self._convolve(second_difference(q) * inv_dt2)
        if not jacobian:
            return shapes, None, None
        d_ln_tau = self._convolve(second_difference(dq_dtau) * (tau3 * inv_dt2))
        d_shift = self._convolve(-np.einsum("nk,nkm->nm", amplitude, second_difference(p)) * inv_dt2)
        return shapes, d_ln_tau, d_shift

    def shapes(self, p: np.ndarray) -> np.ndarray:
        """Unit-amplitude component shapes (n, N, K) at parameters p (n, P)."""
        tau = np.exp(p[:, self.i_tau])
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            if self.gaussian:
                return self._gaussian_shapes(tau, p[:, self.i_t0], np.exp(p[:, self.i_sigma]), False)[0]
            return self._measured_shapes(tau, p[:, self.i_shift], p[:, self.i_amp], False)[0]

    def evaluate(self, p: np.ndarray, jacobian: bool):
        """Model counts (n, K) and, when asked, the Jacobian (n, P, K)."""
        amplitude = p[:, self.i_amp]
        y0 = p[:, self.i_y0]
        tau = np.exp(p[:, self.i_tau])
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            if self.gaussian:
                shapes, d_tau, d_t0, d_sigma = self._gaussian_shapes(
                    tau, p[:, self.i_t0], np.exp(p[:, self.i_sigma]), jacobian)
            else:
                shapes, d_tau, d_shift = self._measured_shapes(tau, p[:, self.i_shift], amplitude, jacobian)
        mu = np.einsum("nk,nkm->nm", amplitude, shapes) + y0[:, None]
        if not jacobian:
            return mu, None
        jac = np.empty((p.shape[0], self.n_par, self.n_bins))
        jac[:, self.i_tau] = d_tau * amplitude[:, :, None]
        if self.gaussian:
            jac[:, self.i_t0] = np.einsum("nk,nkm->nm", amplitude, d_t0)
            jac[:, self.i_sigma] = np.einsum("nk,nkm->nm", amplitude, d_sigma)
        else:
            jac[:, self.i_shift] = d_shift
        jac[:, self.i_y0] = 1.0
        jac[:, self.i_amp] = shapes
        return mu, jac



# ============================================================================================ public
def decay_model(time_ns: np.ndarray, tau_ns, amplitude, background=0.0, *, irf: np.ndarray | None = None,
                t0_ns: float = 0.0, sigma_ns: float = 0.05, shift_ns: float = 0.0,
                period_ns: float | None = None) -> np.ndarray:
    """Expected counts per bin of the fit model (for simulations and plots).

    time_ns: (K,) bin starts (ns, uniform). tau_ns, amplitude: (..., n_exp) lifetimes (ns) and amplitudes
    (counts per bin at the pulse), a batch of decays when they have leading axes; background: y0 (counts per
    bin), scalar or shaped like the batch. irf: measured IRF histogram on the same bins (then ``shift_ns``
    applies), else a Gaussian IRF of centre ``t0_ns`` and width ``sigma_ns``. period_ns: laser period (None:
    one pulse). Returns (..., K) counts per bin.
    """
    t = check_time(time_ns)
    tau = np.asarray(tau_ns, float)
    amp = np.asarray(amplitude, float)
    if tau.ndim == 0:
        tau, amp = tau[None], np.atleast_1d(amp)
    if tau.shape != amp.shape or not np.all(tau > 0) or not np.all(np.isfinite(amp)):
        raise ValueError(f"tau_ns shape {tau.shape} and amplitude shape {amp.shape} must match, with every "
                         f"tau_ns > 0 and finite amplitudes")
    batch = tau.shape[:-1]
    n_exp = tau.shape[-1]
    period = check_period(period_ns)
    h = None if irf is None else normalised_irf(irf, t.size)
    model = DecayModel(t, n_exp, period, h)
    p = np.zeros((int(np.prod(batch)), model.n_par))
    p[:, model.i_tau] = np.log(tau.reshape(-1, n_exp))
    if model.gaussian:
        if not sigma_ns > 0:
            raise ValueError(f"sigma_ns must be positive, got {sigma_ns!r}")
        p[:, model.i_t0] = t0_ns
        p[:, model.i_sigma] = np.log(sigma_ns)
    else:
        p[:, model.i_shift] = shift_ns
    p[:, model.i_y0] = np.broadcast_to(np.asarray(background, float), batch).reshape(-1)
    p[:, model.i_amp] = amp.reshape(-1, n_exp)
    return model.evaluate(p, jacobian=False)[0].reshape(batch + (t.size,))
