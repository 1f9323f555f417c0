"""Speed and accuracy of the batched peak fitter against scipy.optimize.curve_fit.

Makes N seeded synthetic PL spectra (1024 pixels of 0.52 nm centred at 700 nm, a pseudo-Voigt in energy
behind the 636 nm long-pass edge, a baseline of ~500 counts, Poisson noise), fits them all with one
``fit_peaks`` call and with one ``curve_fit`` call per spectrum, and prints fits per second, the speed
ratio and the median absolute centre error of both.

Run: ``python bench/bench_fit.py [--n 10000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.optimize import OptimizeWarning, curve_fit

from tepl import kernels
from tepl.analysis.peaks import HC_EV_NM, fit_peaks, pseudo_voigt

WINDOW_NM = (640.0, 800.0)
EDGE_NM = 636.0


def make_spectra(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Wavelength axis (nm), noisy spectra (n, 1024) in counts and the true parameters."""
    rng = np.random.default_rng(seed)
    wavelength_nm = 700.0 + 0.52 * (np.arange(1024) - 511.5)
    energy_eV = HC_EV_NM / wavelength_nm
    width_eV = HC_EV_NM / wavelength_nm**2 * np.abs(np.gradient(wavelength_nm))
    truth = {
        "center_eV": rng.uniform(1.84, 1.93, n),
        "fwhm_eV": rng.uniform(0.15, 0.24, n),
        "eta": rng.uniform(0.2, 0.8, n),
        "amplitude": rng.uniform(2e4, 2e5, n),
        "background": rng.uniform(450.0, 550.0, n),
    }
    density = pseudo_voigt(energy_eV, truth["center_eV"][:, None], truth["fwhm_eV"][:, None],
                           truth["eta"][:, None])
    edge = 0.5 * (1.0 + np.tanh(wavelength_nm - EDGE_NM))
    expected = truth["background"][:, None] + truth["amplitude"][:, None] * density * width_eV * edge
    return wavelength_nm, rng.poisson(expected).astype(float), truth


def fit_with_curve_fit(wavelength_nm: np.ndarray, spectra: np.ndarray) -> tuple[np.ndarray, int]:
    """Centre energies (eV) from one curve_fit call per spectrum (NaN where it fails) and failures."""
    keep = (wavelength_nm >= WINDOW_NM[0]) & (wavelength_nm <= WINDOW_NM[1])
    energy = HC_EV_NM / wavelength_nm[keep]
    width = (HC_EV_NM / wavelength_nm**2 * np.abs(np.gradient(wavelength_nm)))[keep]

    def model(e, center, fwhm, amplitude, background, eta):
        return background + amplitude * pseudo_voigt(e, center, fwhm, eta) * width

    centers = np.full(len(spectra), np.nan)
    failures = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for i, spectrum in enumerate(spectra[:, keep]):
            smooth = uniform_filter1d(spectrum, 7)
            peak = int(np.argmax(smooth))
            background = float(smooth.min())
            height = smooth[peak] - background
            p0 = [energy[peak], 0.2, height / (4.0 * width[peak]), background, 0.5]
            try:
                popt, _ = curve_fit(model, energy, spectrum, p0=p0, sigma=np.sqrt(np.maximum(spectrum, 1.0)))
                centers[i] = popt[0]
            except RuntimeError:
                failures += 1
    return centers, failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="number of spectra (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    wavelength_nm, spectra, truth = make_spectra(args.n, args.seed)
    print(f"{args.n} spectra of {spectra.shape[1]} pixels, fit window {WINDOW_NM[0]:g}-{WINDOW_NM[1]:g} nm")

    fit_peaks(wavelength_nm, spectra[:2], WINDOW_NM)  # loads (or compiles) the kernel: bench_compile.py times it
    start, cpu = time.perf_counter(), time.process_time()
    fit = fit_peaks(wavelength_nm, spectra, WINDOW_NM)
    batched_s, batched_cpu = time.perf_counter() - start, time.process_time() - cpu

    start, cpu = time.perf_counter(), time.process_time()
    cf_centers, cf_failures = fit_with_curve_fit(wavelength_nm, spectra)
    curve_fit_s, curve_fit_cpu = time.perf_counter() - start, time.process_time() - cpu

    batched_rate = args.n / batched_s
    curve_fit_rate = args.n / curve_fit_s
    batched_err_meV = 1e3 * np.nanmedian(np.abs(fit.center_eV - truth["center_eV"]))
    curve_fit_err_meV = 1e3 * np.nanmedian(np.abs(cf_centers - truth["center_eV"]))
    print(f"fit_peaks : {batched_rate:10.0f} fits/s ({batched_s:.2f} s), median |centre error| "
          f"{batched_err_meV:.3f} meV, failed {int((~fit.ok).sum())}")
    print(f"curve_fit : {curve_fit_rate:10.0f} fits/s ({curve_fit_s:.2f} s), median |centre error| "
          f"{curve_fit_err_meV:.3f} meV, failed {cf_failures}")
    print(f"speed ratio fit_peaks / curve_fit: {batched_rate / curve_fit_rate:.1f}x "
          f"({'compiled kernel on ' + str(kernels.workers()) + ' threads' if kernels.ENABLED else 'numpy batch'})")
    # CPU seconds of this process (all its threads): what the fits cost whatever else the machine runs
    print(f"CPU time per fit: fit_peaks {batched_cpu / args.n * 1e6:.1f} us, curve_fit "
          f"{curve_fit_cpu / args.n * 1e6:.1f} us, ratio {curve_fit_cpu / batched_cpu:.1f}x; wall / CPU time "
          f"{batched_s / batched_cpu:.2f} (fit_peaks), {curve_fit_s / curve_fit_cpu:.2f} (curve_fit); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
