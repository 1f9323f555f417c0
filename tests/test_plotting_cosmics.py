"""Cosmic rays removed before display: the spikes the CCD simulator deposits (its own record of every hit is the
truth) are removed, and real lines, narrower than a pixel or fluctuating from frame to frame, are kept."""

from __future__ import annotations

import numpy as np

from tepl.plot_cosmics import remove_spikes
from tepl.sims.andor import FvbSensor

WL_NM = np.linspace(600.0, 800.0, 1024)


def series(seed: int, frames: int = 40, exposure_s: float = 20.0):
    """Frames of a broad band plus two lines narrower than two pixels (FWHM 0.35 nm, pixels 0.2 nm) whose
    intensity (0.5-1.5x) and position (0.03 nm rms) jitter, read by the simulated
    CCD (Poisson, read noise, cosmic rays); the simulator's list of cosmic-ray hits."""
    rng = np.random.default_rng(seed)
    sensor = FvbSensor(rng, WL_NM.size, 255, gain_e_per_count=4.0, baseline_counts=520.0)
    out = []
    for k in range(frames):
        band = 300.0 * np.exp(-0.5 * ((WL_NM - 690.0) / 25.0) ** 2)
        lines = sum(rng.uniform(0.5, 1.5) * 20000.0 * np.exp(-0.5 * ((WL_NM - c - rng.normal(0, 0.03)) / 0.15) ** 2)
                    for c in (650.0, 655.3))
        out.append(sensor.read(band + lines, WL_NM, exposure_s, -70.0, 4.0, exposure_index=k))
    return np.asarray(out, float), sensor.cosmic_ray_hits


def test_the_simulators_cosmic_rays_are_removed_and_nothing_else():
    found = missed = 0
    for seed in range(3):
        counts, hits = series(seed)
        cleaned, n = remove_spikes(counts)
        changed = {(int(k), int(c)) for k, c in np.argwhere(cleaned != counts)}
        truth = {(k, c) for k, c, _ in hits if 0 < c < WL_NM.size - 1}
        assert changed <= truth, sorted(changed - truth)  # nothing but cosmic rays is touched
        assert n == len(changed)
        found += len(changed)
        missed += len(truth - changed)
    assert found >= 60 and missed <= 0.05 * (found + missed), (found, missed)


def test_a_single_spectrum_keeps_its_sub_pixel_lines():
    counts, _ = series(7, frames=1, exposure_s=0.5)
    lines = (np.abs(WL_NM - 650.0) < 0.3) | (np.abs(WL_NM - 655.3) < 0.3)
    cleaned, n = remove_spikes(counts[0])
    np.testing.assert_array_equal(cleaned, counts[0])
    assert n is None and lines.any()
