"""Speed of the batched FLIM fitter against one scipy.optimize.minimize Poisson fit per pixel.

Makes a seeded 64 x 64 pixel x 1024 bin FLIM cube (bins over one 500 ns period of a 2 MHz laser, Gaussian
IRF of 0.15 ns, bi-exponential decays whose lifetimes vary over the image around paper 003's examples,
~3.5 % background, Poisson counts with ~10^4 photons per pixel), fits it with ``fit_flim`` and a subset of
pixels with ``scipy.optimize.minimize`` on the same Poisson deviance (IRF fixed at the truth, L-BFGS-B on
ln tau, y0 and A), and prints pixels per second of both, their ratio and the median lifetime errors.

Run: ``python bench/bench_flim_fit.py [--size 64] [--bins 1024] [--photons 1e4] [--subset 64] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import xlogy

from tepl import kernels
from tepl.analysis.decay_model import decay_model
from tepl.analysis.flim import fit_flim

PERIOD_NS = 500.0
T0_NS = 5.0
SIGMA_NS = 0.15


def make_cube(size: int, n_bins: int, photons: float, seed: int):
    """Time axis (ns), cube (size, size, n_bins) of counts and the true lifetimes (size, size, 2) in ns."""
    rng = np.random.default_rng(seed)
    time_ns = np.arange(n_bins) * (PERIOD_NS / n_bins)
    tau = np.stack([rng.uniform(1.5, 4.5, (size, size)), rng.uniform(6.0, 24.0, (size, size))], axis=-1)
    fraction = rng.uniform(0.4, 0.7, (size, size))
    amplitude = np.stack([fraction, 1.0 - fraction], axis=-1)
    shape = decay_model(time_ns, tau, amplitude, 0.0, t0_ns=T0_NS, sigma_ns=SIGMA_NS, period_ns=PERIOD_NS)
    signal = shape.sum(axis=-1, keepdims=True)
    y0 = 0.035 / 0.965 * signal / n_bins
    cube = (shape + y0) * (photons / (signal + y0 * n_bins))
    return time_ns, rng.poisson(cube).astype(float), tau


def fit_with_minimize(time_ns: np.ndarray, decays: np.ndarray, taus_start: np.ndarray) -> np.ndarray:
    """Lifetimes (n, 2) from one L-BFGS-B minimisation of the Poisson deviance per decay (IRF known)."""
    out = np.full((len(decays), 2), np.nan)
    def deviance(q, y):
        tau = np.exp(q[:2])
        mu = decay_model(time_ns, tau, q[3:], q[2], t0_ns=T0_NS, sigma_ns=SIGMA_NS, period_ns=PERIOD_NS)
        mu = np.maximum(mu, 1e-12)
        return 2.0 * np.sum(mu - y - xlogy(y, mu) + xlogy(y, y))

    for i, y in enumerate(decays):
        peak = y.max()
        q0 = np.array([np.log(taus_start[0]), np.log(taus_start[1]), max(np.median(y), 0.1), 0.5 * peak,
                       0.5 * peak])
        bounds = [(np.log(0.01), np.log(1e4))] * 2 + [(0.0, None)] * 3
        res = minimize(deviance, q0, args=(y,), method="L-BFGS-B", bounds=bounds)
        out[i] = np.sort(np.exp(res.x[:2]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--bins", type=int, default=1024, help="TCSPC bins per decay (default 1024)")
    parser.add_argument("--photons", type=float, default=1e4, help="photons per pixel (default 1e4)")
    parser.add_argument("--subset", type=int, default=64, help="pixels fitted with scipy (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)

    time_ns, cube, tau_true = make_cube(args.size, args.bins, args.photons, args.seed)
    n_pix = args.size**2
    print(f"cube {args.size} x {args.size} pixels x {args.bins} bins of {time_ns[1] * 1e3:.1f} ps, "
          f"median {np.median(cube.sum(-1)):.0f} photons/pixel, period {PERIOD_NS:g} ns")

    fit_flim(cube[:1, :2], time_ns, n_exp=2, period_ns=PERIOD_NS)  # loads (or compiles) the kernels
    start, cpu = time.perf_counter(), time.process_time()
    maps = fit_flim(cube, time_ns, n_exp=2, period_ns=PERIOD_NS)
    batched_s, batched_cpu = time.perf_counter() - start, time.process_time() - cpu
    batched_rate = n_pix / batched_s
    err = np.abs(np.moveaxis(maps.tau_ns, 0, -1) / tau_true - 1.0)
    print(f"fit_flim : {batched_rate:10.1f} pixels/s ({batched_s:.2f} s for {n_pix} pixels), ok "
          f"{maps.ok.mean() * 100:.1f} %, median |tau1 error| {np.nanmedian(err[..., 0]) * 100:.1f} %, "
          f"|tau2 error| {np.nanmedian(err[..., 1]) * 100:.1f} %")

    # CPU seconds of this process (all its threads): what the fit costs whatever else the machine runs
    print(f"fit_flim : {batched_cpu / n_pix * 1e6:.1f} us CPU time per pixel ({n_pix / batched_cpu:.0f} pixels per "
          f"CPU second; {'compiled kernel on ' + str(kernels.workers()) + ' threads' if kernels.ENABLED else 'numpy'}"
          f"), wall / CPU time {batched_s / batched_cpu:.2f}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")

    subset = min(args.subset, n_pix)
    flat = cube.reshape(-1, args.bins)[:subset]
    start = time.perf_counter()
    taus = fit_with_minimize(time_ns, flat, maps.global_fit.tau_ns)
    scipy_s = time.perf_counter() - start
    scipy_rate = subset / scipy_s
    err_s = np.abs(taus / tau_true.reshape(-1, 2)[:subset] - 1.0)
    err_b = err.reshape(-1, 2)[:subset]
    print(f"minimize : {scipy_rate:10.1f} pixels/s ({scipy_s:.2f} s for {subset} pixels), median |tau1 error| "
          f"{np.nanmedian(err_s[:, 0]) * 100:.1f} %, |tau2 error| {np.nanmedian(err_s[:, 1]) * 100:.1f} % "
          f"(fit_flim on the same pixels: {np.nanmedian(err_b[:, 0]) * 100:.1f} %, "
          f"{np.nanmedian(err_b[:, 1]) * 100:.1f} %)")
    print(f"speed ratio fit_flim / minimize: {batched_rate / scipy_rate:.1f}x")


if __name__ == "__main__":
    main()
