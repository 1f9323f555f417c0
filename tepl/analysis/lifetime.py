"""Maximum-likelihood fits of TCSPC fluorescence decays and FLIM images.

Model of the counts in TCSPC bin k (bin starts ``time_ns``, uniform width dt)::

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

The fit minimises the Poisson deviance ``2 sum(mu - y - y ln(mu / y))`` (maximum likelihood for counts)
by Levenberg-Marquardt steps on the Fisher information, for every decay of a batch at once: a FLIM cube is
fitted in blocks of pixels with stacked normal equations and one batched ``np.linalg.solve`` per step, no
Python loop over pixels. Lifetimes are fitted as ln(tau), amplitudes and background are held non-negative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import fft as sp_fft
from scipy.ndimage import convolve, uniform_filter1d
from scipy.special import erfcx, ndtr, xlogy

_SQRT2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_EXACT_SIGMAS = 8.0      # beyond this many IRF widths from a pulse the convolved decay is its asymptote
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


@dataclass(frozen=True)
class LifetimeDistribution:
    """Intensity-weighted lifetime histograms (densities in 1/ns, unit area) and weighted medians (ns).

    ``*_above`` are the pixels whose split value is >= the threshold, ``*_below`` the others (NaN / empty
    arrays when no split was asked for). n_pixels*: finite-lifetime pixels with positive weight used.
    """

    bin_edges_ns: np.ndarray
    density: np.ndarray
    median_ns: float
    n_pixels: int
    density_above: np.ndarray
    median_above_ns: float
    n_pixels_above: int
    density_below: np.ndarray
    median_below_ns: float
    n_pixels_below: int

    @property
    def bin_centers_ns(self) -> np.ndarray:
        return 0.5 * (self.bin_edges_ns[1:] + self.bin_edges_ns[:-1])


# ============================================================================================ kernels
def _emg_antiderivative(u, tau, sigma, jacobian: bool):
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


def _decay_integrals(t, tau, period_ns: float | None):
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


# ============================================================================================ model
class _DecayModel:
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
            f, e, ds, dtau = _emg_antiderivative(ub, tr, sr, jacobian)
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
            fj, ej, dsj, dtj = _emg_antiderivative(u, tau3[rows], sig3[rows], jacobian)
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
        q, p, dq_dtau = _decay_integrals(t, tau3, self.period_ns)
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


def _fit_poisson(model: _DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
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
def _derived(model: _DecayModel, p: np.ndarray, total: np.ndarray) -> np.ndarray:
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


def _derived_with_errors(model: _DecayModel, p: np.ndarray, cov: np.ndarray, total: np.ndarray):
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


def _fit_and_sort(model: _DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
                  tolerance: float):
    """Linear start for the amplitudes, Poisson fit and lifetime ordering of a batch of decays.

    Returns (parameters, deviance, iterations, covariance, sound).
    """
    _linear_start(model, p, y)
    dev, n_iter, converged, cov = _fit_poisson(model, y, p, free, max_iter, tolerance)
    p, cov = _sort_components(model, p, cov)
    return p, dev, n_iter, cov, _soundness(model, p, converged, cov, free)


def _sort_components(model: _DecayModel, p: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder components by lifetime (ascending) in parameters and covariance."""
    order = np.argsort(p[:, model.i_tau], axis=1)
    perm = np.broadcast_to(np.arange(model.n_par), p.shape).copy()
    perm[:, model.i_tau] = model.i_tau[order]
    perm[:, model.i_amp] = model.i_amp[order]
    p_sorted = np.take_along_axis(p, perm, axis=1)
    cov_sorted = np.take_along_axis(np.take_along_axis(cov, perm[:, :, None], axis=1), perm[:, None, :], axis=2)
    return p_sorted, cov_sorted


def _soundness(model: _DecayModel, p: np.ndarray, converged: np.ndarray, cov: np.ndarray,
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


# ============================================================================================ input
def _check_time(time_ns) -> np.ndarray:
    t = np.asarray(time_ns, float)
    if t.ndim != 1 or t.size < 8:
        raise ValueError(f"time_ns must be a 1-D axis of at least 8 TCSPC bins, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("time_ns contains non-finite values")
    steps = np.diff(t)
    if not np.all(steps > 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(f"time_ns must be strictly increasing; bin {bad + 1} ({t[bad + 1]:g} ns) does not "
                         f"follow bin {bad} ({t[bad]:g} ns)")
    dt = (t[-1] - t[0]) / (t.size - 1)
    if np.max(np.abs(steps - dt)) > 1e-3 * dt:
        raise ValueError(f"time_ns must be uniformly spaced TCSPC bins; steps range from {steps.min():g} to "
                         f"{steps.max():g} ns")
    return t


def _check_counts(counts, n_bins: int, name: str) -> np.ndarray:
    y = np.asarray(counts, float)
    if y.ndim < 1 or y.shape[-1] != n_bins:
        raise ValueError(f"{name} shape {y.shape} does not end in the {n_bins} bins of time_ns")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    if np.any(y < 0):
        raise ValueError(f"{name} contains negative counts (minimum {y.min():g}); decays must be raw counts")
    return y


def _check_options(n_exp: int, period_ns: float | None) -> float | None:
    if n_exp not in (1, 2, 3):
        raise ValueError(f"n_exp must be 1, 2 or 3 exponential components, got {n_exp!r}")
    return _check_period(period_ns)


def _check_period(period_ns: float | None) -> float | None:
    if period_ns is None:
        return None
    period = float(period_ns)
    if not np.isfinite(period) or period <= 0:
        raise ValueError(f"period_ns must be a positive laser period in ns, got {period_ns!r}")
    return period


def _normalised_irf(irf, n_bins: int) -> np.ndarray:
    h = np.asarray(irf, float)
    if h.shape != (n_bins,):
        raise ValueError(f"irf must be a histogram on the {n_bins} bins of time_ns, got shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError("irf must hold finite, non-negative counts")
    # dark floor: the mean of the bins away from the response (where a smoothed IRF stays within 1 % of the
    # peak height above its median); those bins are set to zero, the floor is subtracted from the others
    smooth = uniform_filter1d(h, 2 * max(2, n_bins // 200) + 1, mode="nearest")
    level = float(np.median(smooth))
    outside = smooth <= level + 0.01 * (smooth.max() - level)
    floor = float(h[outside].mean()) if outside.sum() >= max(8, n_bins // 10) else 0.0
    h = np.where(outside & (floor > 0), 0.0, np.clip(h - floor, 0.0, None))
    total = h.sum()
    if total <= 0:
        raise ValueError("irf has no counts above its dark floor")
    return h / total


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


def _linear_start(model: _DecayModel, p: np.ndarray, y: np.ndarray) -> None:
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


def _single_starts(model: _DecayModel, time_ns: np.ndarray, y: np.ndarray, irf: np.ndarray | None) -> np.ndarray:
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
    t = _check_time(time_ns)
    tau = np.asarray(tau_ns, float)
    amp = np.asarray(amplitude, float)
    if tau.ndim == 0:
        tau, amp = tau[None], np.atleast_1d(amp)
    if tau.shape != amp.shape or not np.all(tau > 0) or not np.all(np.isfinite(amp)):
        raise ValueError(f"tau_ns shape {tau.shape} and amplitude shape {amp.shape} must match, with every "
                         f"tau_ns > 0 and finite amplitudes")
    batch = tau.shape[:-1]
    n_exp = tau.shape[-1]
    period = _check_period(period_ns)
    h = None if irf is None else _normalised_irf(irf, t.size)
    model = _DecayModel(t, n_exp, period, h)
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


def _decay_fit_from_row(model: _DecayModel, p: np.ndarray, cov: np.ndarray, dev: float, n_iter: int,
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
    t = _check_time(time_ns)
    y = _check_counts(counts, t.size, "counts")
    if y.ndim != 1:
        raise ValueError(f"fit_decay takes one decay (1-D counts), got shape {y.shape}; use fit_flim")
    period = _check_options(n_exp, period_ns)
    if y.sum() <= 0:
        raise ValueError("counts are all zero: nothing to fit")
    h = None if irf is None else _normalised_irf(irf, t.size)
    model = _DecayModel(t, n_exp, period, h)
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
    t = _check_time(time_ns)
    y_all = _check_counts(cube, t.size, "cube")
    period = _check_options(n_exp, period_ns)
    if not np.isfinite(min_counts) or min_counts < 0:
        raise ValueError(f"min_counts must be a non-negative photon count, got {min_counts!r}")
    if int(bin_factor) != bin_factor or bin_factor < 1 or bin_factor % 2 == 0:
        raise ValueError(f"bin_factor must be an odd positive integer (1 = no binning), got {bin_factor!r}")
    if bin_factor > 1 and y_all.ndim != 3:
        raise ValueError(f"bin_factor > 1 needs an image cube (y, x, bins), got shape {y_all.shape}")
    pixel_shape = y_all.shape[:-1]
    h = None if irf is None else _normalised_irf(irf, t.size)
    model = _DecayModel(t, n_exp, period, h)
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


# ============================================================================================ distributions
def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median of a weighted sample: the value where the cumulative weight first reaches half the total."""
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    i = int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))
    return float(values[order][min(i, values.size - 1)])


def lifetime_distribution(tau_ns_map: np.ndarray, intensity_map: np.ndarray, split_map: np.ndarray | None = None,
                          threshold: float | None = None, bins_ns: int | np.ndarray = 100) -> LifetimeDistribution:
    """Intensity-weighted lifetime histograms of a lifetime map, optionally split by a second map.

    tau_ns_map: lifetimes (ns; NaN = not fitted). intensity_map: weights (e.g. photon counts), same shape.
    split_map, threshold: pixels with ``split_map >= threshold`` (e.g. QD-channel counts/s >= 250) form the
    "above" set, the rest the "below" set. bins_ns: number of bins over the weighted 0.5-99.5 % range of
    the lifetimes, or explicit bin edges (ns).
    """
    tau = np.asarray(tau_ns_map, float)
    weight = np.asarray(intensity_map, float)
    if tau.shape != weight.shape:
        raise ValueError(f"intensity_map shape {weight.shape} differs from tau_ns_map shape {tau.shape}")
    if split_map is not None:
        split = np.asarray(split_map, float)
        if split.shape != tau.shape:
            raise ValueError(f"split_map shape {split.shape} differs from tau_ns_map shape {tau.shape}")
        if threshold is None or not np.isfinite(threshold):
            raise ValueError("a split_map needs a finite threshold (same unit as split_map)")
    elif threshold is not None:
        raise ValueError("threshold given without split_map")
    use = np.isfinite(tau) & np.isfinite(weight) & (weight > 0)
    if not use.any():
        raise ValueError("no pixel has a finite lifetime and a positive intensity")
    values, w = tau[use], weight[use]
    if np.ndim(bins_ns) == 0:
        n_bins = int(bins_ns)
        if n_bins < 1:
            raise ValueError(f"bins_ns must be a positive number of bins or bin edges, got {bins_ns!r}")
        order = np.argsort(values)
        cumulative = np.cumsum(w[order]) / w.sum()
        lo = values[order][min(int(np.searchsorted(cumulative, 0.005)), values.size - 1)]
        hi = values[order][min(int(np.searchsorted(cumulative, 0.995)), values.size - 1)]
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
    else:
        edges = np.asarray(bins_ns, float)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError("bins_ns edges must be a strictly increasing 1-D array")

    def density(mask: np.ndarray) -> tuple[np.ndarray, float, int]:
        sel_v, sel_w = tau[mask & use], weight[mask & use]
        if sel_v.size == 0:
            return np.zeros(edges.size - 1), float("nan"), 0
        hist, _ = np.histogram(sel_v, bins=edges, weights=sel_w)
        total = hist.sum()
        dens = hist / (total * np.diff(edges)) if total > 0 else hist
        return dens, _weighted_median(sel_v, sel_w), int(sel_v.size)

    everything = np.ones(tau.shape, bool)
    dens_all, med_all, n_all = density(everything)
    if split_map is None:
        empty = np.zeros(edges.size - 1)
        return LifetimeDistribution(edges, dens_all, med_all, n_all, empty, float("nan"), 0, empty.copy(),
                                    float("nan"), 0)
    above = np.asarray(split_map, float) >= threshold
    dens_a, med_a, n_a = density(above)
    dens_b, med_b, n_b = density(~above)
    return LifetimeDistribution(edges, dens_all, med_all, n_all, dens_a, med_a, n_a, dens_b, med_b, n_b)
