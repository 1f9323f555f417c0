"""Sub-pixel drift between scans: known fractional shifts of analytic scenes, then shifting back."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.analysis.drift import align_stack, image_shift, shift_image

N = 64


def scene(dy: float, dx: float, seed: int = 0, fwhm_px: float = 4.0, photons: float = 300.0,
          noise: bool = True) -> np.ndarray:
    """Confocal-like image: Gaussian emitters (some crossing the edges) on a background, with its
    content moved by (dy, dx) pixels, evaluated analytically (no interpolation) and Poisson-sampled."""
    rng = np.random.default_rng(seed)
    ys, xs = rng.uniform(-5, N + 5, 25), rng.uniform(-5, N + 5, 25)
    amplitude = rng.uniform(0.3, 1.0, 25) * photons
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    sigma = fwhm_px / (2 * np.sqrt(2 * np.log(2)))
    expected = 20.0 + sum(a * np.exp(-0.5 * ((yy - dy - y) ** 2 + (xx - dx - x) ** 2) / sigma ** 2)
                          for y, x, a in zip(ys, xs, amplitude, strict=True))
    if not noise:
        return expected
    noise_rng = np.random.default_rng([seed, int(1000 * (dy + 50)), int(1000 * (dx + 50))])
    return noise_rng.poisson(expected).astype(float)


SHIFTS = [(0.3, -0.45), (1.7, 2.25), (-3.6, 0.1), (5.5, -4.2), (0.0, 0.0)]


@pytest.mark.parametrize("dy, dx", SHIFTS)
@pytest.mark.parametrize("seed", [1, 2])
def test_image_shift_recovers_fractional_shift(dy, dx, seed):
    reference = scene(0.0, 0.0, seed)
    moved = scene(dy, dx, seed)
    found = image_shift(reference, moved, upsample=10)
    assert abs(found[0] - dy) < 0.1 and abs(found[1] - dx) < 0.1
    back = image_shift(moved, reference, upsample=10)
    assert abs(back[0] + dy) < 0.1 and abs(back[1] + dx) < 0.1


def test_image_shift_broad_features_and_upsampling():
    reference = scene(0.0, 0.0, seed=3, fwhm_px=7.0)
    moved = scene(2.37, -1.62, seed=3, fwhm_px=7.0)
    dy, dx = image_shift(reference, moved, upsample=20)
    assert abs(dy - 2.37) < 0.1 and abs(dx + 1.62) < 0.1
    dy1, dx1 = image_shift(reference, moved, upsample=1)  # integer grid + parabola: coarser
    assert abs(dy1 - 2.37) < 0.3 and abs(dx1 + 1.62) < 0.3


def test_image_shift_ignores_unmeasured_pixels():
    reference = scene(0.0, 0.0, seed=4)
    moved = scene(1.25, -0.75, seed=4)
    moved[-3:, :] = np.nan  # scan interrupted
    dy, dx = image_shift(reference, moved)
    assert abs(dy - 1.25) < 0.1 and abs(dx + 0.75) < 0.1


def test_image_shift_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        image_shift(np.ones((16, 16)), np.ones((16, 17)))
    with pytest.raises(ValueError, match="upsample"):
        image_shift(np.ones((16, 16)), np.ones((16, 16)), upsample=0)
    with pytest.raises(ValueError, match="2-D"):
        image_shift(np.ones(16), np.ones(16))


def test_shift_image_matches_analytic_scene():
    reference = scene(0.0, 0.0, seed=5, noise=False)
    truth = scene(1.4, -2.3, seed=5, noise=False)
    shifted = shift_image(reference, 1.4, -2.3)
    interior = np.s_[3:-3, 3:-3]
    assert np.nanmax(np.abs(shifted[interior] - truth[interior])) < 0.03 * truth.max()
    # Rows and columns with no source are filled, the rest is not.
    assert np.all(np.isnan(shifted[:1, :])) and np.all(np.isnan(shifted[:, -2:]))
    assert np.all(np.isfinite(shifted[2:, :-3]))
    assert np.all(shift_image(reference, 0.6, 0.0, fill_value=0.0)[0] == 0.0)


def test_shift_then_measure_round_trip():
    reference = scene(0.0, 0.0, seed=6)
    for dy, dx in [(0.35, 0.8), (-2.6, 1.15)]:
        dy_found, dx_found = image_shift(reference, shift_image(reference, dy, dx))
        assert abs(dy_found - dy) < 0.1 and abs(dx_found - dx) < 0.1


def test_align_stack_sums_drifting_scans():
    drifts = [(0.0, 0.0), (0.6, -0.4), (1.3, -0.9), (1.9, -1.3)]
    stack = np.array([scene(dy, dx, seed=7) for dy, dx in drifts])
    aligned, shifts = align_stack(stack)
    np.testing.assert_allclose(shifts, drifts, atol=0.1)
    truth = scene(0.0, 0.0, seed=7, noise=False)
    interior = np.s_[4:-4, 4:-4]
    total = np.sum(aligned, axis=0)[interior]
    naive = np.sum(stack, axis=0)[interior]
    error = np.abs(total - 4 * truth[interior]).mean()
    assert error < 0.5 * np.abs(naive - 4 * truth[interior]).mean()
