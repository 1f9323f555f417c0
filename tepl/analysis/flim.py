"""Maximum-likelihood fits of every pixel's decay of a FLIM cube at once (``fit_flim``): the summed decay is
fitted first (``tepl.analysis.lifetime.fit_decay``) and starts every pixel; pixels are fitted in blocks with
the batched Poisson solver of ``tepl.analysis.poisson_fit``, no Python loop over pixels.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.ndimage import convolve

from tepl import kernels
from tepl.analysis.decay_checks import check_counts, check_options, check_time, normalised_irf
from tepl.analysis.decay_model import DecayModel
from tepl.analysis.lifetime import fit_decay
from tepl.analysis.lifetime_results import FlimMaps, derived_with_errors, sort_components, soundness
from tepl.analysis.lifetime_starts import STARTS, linear_start
from tepl.analysis.poisson_fit import fit_poisson


def _fit_and_sort(model: DecayModel, y: np.ndarray, p: np.ndarray, free: np.ndarray, max_iter: int,
                  tolerance: float):
    """Linear start for the amplitudes, Poisson fit and lifetime ordering of a batch of decays.

    Returns (parameters, deviance, iterations, covariance, sound).
    """
    linear_start(model, p, y)
    dev, n_iter, converged, cov = fit_poisson(model, y, p, free, max_iter, tolerance)
    p, cov = sort_components(model, p, cov)
    return p, dev, n_iter, cov, soundness(model, p, converged, cov, free)



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
             block_size: int = 512, workers: int | None = None) -> FlimMaps:
    """Fit every pixel's decay of a FLIM cube (..., K) at once; returns per-pixel maps.

    The decay summed over all pixels is fitted first (:func:`fit_decay`); its lifetimes start every pixel.
    The IRF (Gaussian t0/sigma or measured-IRF shift) comes from that fit, or from one with one more
    component when the sum clearly needs it (pixels with different decays sum to more components than each
    has), and stays fixed for every pixel unless ``irf_per_pixel``. Pixels whose (binned) decay holds fewer than
    ``min_counts`` photons are not fitted and are NaN in every map.
    bin_factor: odd spatial binning for a 2-D image cube (y, x, K): each pixel is fitted on the sum of the
    bin_factor x bin_factor pixels centred on it (the maps keep the image shape). Other arguments as for
    :func:`fit_decay`. ``workers``: threads fitting blocks of ``block_size`` pixels at once (None: one per core;
    the results do not depend on it). With numba (``tepl.kernels``) and a Gaussian IRF the pixels are fitted by
    a compiled kernel, ``workers`` threads sharing the pixels; without it by the numpy batch, same results to
    rounding.
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
    if workers is not None and (int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be a positive whole number of threads, got {workers!r}")
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
        def fit_block(rows: np.ndarray):
            yb = binned[rows]
            p = np.tile(start, (rows.size, 1))
            p, dev, it, cov, good = _fit_and_sort(model, yb, p, free, max_iter, tolerance)
            retry = np.flatnonzero(~good)
            if retry.size:  # a pixel far from the summed decay: start again from every lifetime pattern
                pattern = np.array(STARTS[n], float) * global_fit.tau_intensity_weighted_ns
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
            values, err = derived_with_errors(model, p, cov, yb.sum(axis=1))
            return rows, p, dev, it, good, values, err

        compiled = kernels.ENABLED and model.gaussian
        if compiled:  # the compiled fit spreads the pixels of a block over threads and keeps no (n, P, K) arrays
            block_size = max(block_size, 8192)
        blocks = [idx_fit[i:i + block_size] for i in range(0, idx_fit.size, block_size)]
        n_workers = min(len(blocks), os.cpu_count() or 1) if workers is None else int(workers)
        if compiled:
            with kernels.workers_for(workers):
                results = [fit_block(rows) for rows in blocks]
        elif n_workers > 1:  # blocks are independent and numpy's array work releases the GIL
            with ThreadPoolExecutor(n_workers) as pool:
                results = list(pool.map(fit_block, blocks))
        else:
            results = [fit_block(rows) for rows in blocks]
        for rows, p, dev, it, good, values, err in results:
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
