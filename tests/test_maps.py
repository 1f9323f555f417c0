"""Maps from rasters: integrated intensity, spot finding with 2-D Gaussian fits, peak maps, line widths."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

from tepl.analysis.maps import PeakEnergyMaps, intensity_map, peak_energy_map
from tepl.analysis.spot_fit import Spot, line_profile_fwhm_nm
from tepl.analysis.spots import find_spots

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def spot_image(spots, pitch_nm, size_nm=(160.0, 200.0), background=50.0, seed=0, origin=(30000.0, 50000.0)):
    """Poisson image[y, x] of point-sampled Gaussian spots (x_nm, y_nm, amplitude, fwhm_nm)."""
    y_nm = origin[0] + np.arange(0.0, size_nm[0], pitch_nm)
    x_nm = origin[1] + np.arange(0.0, size_nm[1], pitch_nm)
    yy, xx = np.meshgrid(y_nm, x_nm, indexing="ij")
    expected = np.full(xx.shape, background)
    for x0, y0, amplitude, fwhm in spots:
        sigma = fwhm * FWHM_TO_SIGMA
        expected += amplitude * np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / sigma ** 2)
    return np.random.default_rng(seed).poisson(expected).astype(float), x_nm, y_nm


# Unequal amplitudes, off-grid positions, all at least 30 nm apart.
SPOTS = [(50041.3, 30038.2, 1000.0, 10.0), (50102.6, 30061.7, 600.0, 10.0),
         (50150.8, 30121.1, 400.0, 10.0), (50062.2, 30113.4, 300.0, 10.0)]


def nearest(spots: list[Spot], x_nm: float, y_nm: float) -> Spot:
    return min(spots, key=lambda s: np.hypot(s.x_nm - x_nm, s.y_nm - y_nm))


@pytest.mark.parametrize("pitch_nm", [5.0, 2.5])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_find_spots_positions_and_widths(pitch_nm, seed):
    image, x_nm, y_nm = spot_image(SPOTS, pitch_nm, seed=seed)
    spots = find_spots(image, x_nm, y_nm)
    assert len(spots) == len(SPOTS)
    assert [s.amplitude for s in spots] == sorted((s.amplitude for s in spots), reverse=True)
    for x0, y0, amplitude, fwhm in SPOTS:
        s = nearest(spots, x0, y0)
        tolerance_nm = 1.0 if amplitude >= 400 else 2.0
        assert np.hypot(s.x_nm - x0, s.y_nm - y0) < tolerance_nm
        assert abs(s.fwhm_nm - fwhm) < 0.1 * fwhm
        assert abs(s.amplitude - amplitude) < 0.2 * amplitude
        assert s.fit_ok
        assert 0 < s.x_err_nm < 1.0 and 0 < s.y_err_nm < 1.0 and 0 < s.fwhm_err_nm < 1.5
        assert abs(s.background - 50.0) < 10.0


def test_fit_uncertainties_match_scatter():
    """The reported position uncertainty agrees with the scatter over noise realisations."""
    truth = (50100.0 + 1.3, 30080.0 - 0.7, 300.0, 10.0)
    fits = [nearest(find_spots(*spot_image([truth], 5.0, seed=seed)), truth[0], truth[1])
            for seed in range(30)]
    scatter = np.std([f.x_nm for f in fits])
    reported = np.median([f.x_err_nm for f in fits])
    assert 0.5 < scatter / reported < 2.0


def test_no_spots_in_pure_noise():
    for seed in range(20):
        for background in (5.0, 100.0):
            image, x_nm, y_nm = spot_image([], 5.0, background=background, seed=100 + seed)
            assert find_spots(image, x_nm, y_nm) == []
            image, x_nm, y_nm = spot_image([], 2.5, background=background, seed=200 + seed)
            assert find_spots(image, x_nm, y_nm) == []


def test_single_pixel_spike_is_not_a_spot():
    image, x_nm, y_nm = spot_image(SPOTS[:1], 2.5, seed=4)
    image[40, 60] += 5000.0  # cosmic ray far from the spot
    spots = find_spots(image, x_nm, y_nm)
    assert len(spots) == 1
    assert np.hypot(spots[0].x_nm - SPOTS[0][0], spots[0].y_nm - SPOTS[0][1]) < 1.0


def test_close_spots_merge_below_min_separation_and_resolve_above():
    pair_close = [(50080.0, 30080.0, 600.0, 10.0), (50092.0, 30080.0, 500.0, 10.0)]  # 12 nm apart
    image, x_nm, y_nm = spot_image(pair_close, 2.5, seed=5)
    merged = find_spots(image, x_nm, y_nm, min_separation_nm=15.0)
    assert len(merged) == 1  # documented: one spot between the two, towards the brighter, broadened
    assert 50080.0 < merged[0].x_nm < 50092.0
    assert merged[0].fwhm_x_nm > 13.0 and abs(merged[0].fwhm_y_nm - 10.0) < 1.0
    resolved = find_spots(image, x_nm, y_nm, min_separation_nm=8.0)
    assert len(resolved) == 2
    for x0, y0, _, fwhm in pair_close:
        s = nearest(resolved, x0, y0)
        assert np.hypot(s.x_nm - x0, s.y_nm - y0) < 1.5
        assert abs(s.fwhm_nm - fwhm) < 0.15 * fwhm

    pair_apart = [(50080.0, 30080.0, 600.0, 10.0), (50099.0, 30080.0, 300.0, 10.0)]  # 19 nm apart
    image, x_nm, y_nm = spot_image(pair_apart, 5.0, seed=6)
    spots = find_spots(image, x_nm, y_nm, min_separation_nm=15.0)
    assert len(spots) == 2  # overlapping fit windows: fitted jointly
    for x0, y0, _, fwhm in pair_apart:
        s = nearest(spots, x0, y0)
        assert np.hypot(s.x_nm - x0, s.y_nm - y0) < 2.0
        assert abs(s.fwhm_nm - fwhm) < 0.1 * fwhm


def test_elliptical_spot_reports_both_axes():
    image, x_nm, y_nm = spot_image([], 2.5, seed=7)
    yy, xx = np.meshgrid(y_nm, x_nm, indexing="ij")
    sx, sy = 14.0 * FWHM_TO_SIGMA, 8.0 * FWHM_TO_SIGMA
    image += np.random.default_rng(8).poisson(
        800.0 * np.exp(-0.5 * (((xx - 50090.0) / sx) ** 2 + ((yy - 30070.0) / sy) ** 2)))
    (s,) = find_spots(image, x_nm, y_nm)
    assert abs(s.fwhm_x_nm - 14.0) < 1.0 and abs(s.fwhm_y_nm - 8.0) < 0.8
    assert abs(s.fwhm_nm - 11.0) < 0.8


def test_min_prominence_and_bad_input():
    image, x_nm, y_nm = spot_image(SPOTS, 5.0, seed=9)
    strong = find_spots(image, x_nm, y_nm, min_prominence=500.0)
    assert len(strong) == 1 and abs(strong[0].x_nm - SPOTS[0][0]) < 1.0
    with pytest.raises(ValueError, match="x_nm"):
        find_spots(image, x_nm[:-1], y_nm)
    with pytest.raises(ValueError, match="evenly spaced"):
        find_spots(image, np.sort(np.random.default_rng(0).uniform(0, 100, x_nm.size)), y_nm)
    with pytest.raises(ValueError, match="2-D"):
        find_spots(image[0], x_nm, y_nm)


def test_unmeasured_pixels_are_ignored():
    image, x_nm, y_nm = spot_image(SPOTS, 5.0, seed=10)
    image[-5:, :] = np.nan  # raster not finished
    spots = find_spots(image, x_nm, y_nm)
    assert len(spots) == len(SPOTS)
    s = nearest(spots, SPOTS[2][0], SPOTS[2][1])
    assert np.hypot(s.x_nm - SPOTS[2][0], s.y_nm - SPOTS[2][1]) < 2.0


# ------------------------------------------------------------------------------------------ intensity
@pytest.mark.parametrize("band_center_nm", [710.0, 652.0])  # mid-window, and a band at the window's edge
def test_intensity_map_integrates_band_above_sloped_background(band_center_nm):
    wavelength_nm = np.linspace(600.0, 850.0, 500)
    longpass = wavelength_nm > 636.0  # the emission filter cuts the blue side of the band
    band = np.exp(-0.5 * ((wavelength_nm - band_center_nm) / 12.0) ** 2) * longpass
    heights = np.array([[0.0, 50.0, 200.0], [400.0, 0.0, 1000.0]])
    background = 500.0 + 0.4 * (wavelength_nm - 600.0)
    expected_cube = background + heights[..., None] * band
    spectra = np.random.default_rng(11).poisson(expected_cube).astype(float)
    window = (wavelength_nm >= 640.0) & (wavelength_nm <= 800.0)
    truth = heights * band[window].sum()

    result = intensity_map(wavelength_nm, spectra, window_nm=(640.0, 800.0))

    assert result.shape == (2, 3)
    # Shot noise of the integral plus that of the background levels (medians of >= 80 pixels a side).
    n_window = int(window.sum())
    level_noise = n_window * 1.25 * np.sqrt(background.max() / 80)
    noise = np.sqrt(expected_cube[..., window].sum(axis=-1) + level_noise ** 2)
    assert np.all(np.abs(result - truth) < 4 * noise)
    assert np.all(np.abs(result - truth) < 0.1 * truth.max())
    # A descending axis (spectrum stored red to blue) gives the same numbers.
    np.testing.assert_allclose(intensity_map(wavelength_nm[::-1], spectra[..., ::-1]), result)


def test_intensity_map_without_pixels_outside_the_window():
    wavelength_nm = np.linspace(640.0, 800.0, 300)
    band = np.exp(-0.5 * ((wavelength_nm - 720.0) / 10.0) ** 2)
    spectra = 300.0 + 0.5 * (wavelength_nm - 640.0) + np.array([[0.0], [100.0]]) * band
    result = intensity_map(wavelength_nm, spectra)  # edges of the window give the background line
    np.testing.assert_allclose(result, [0.0, 100.0 * band.sum()], atol=1e-6 * band.sum())


def test_intensity_map_nan_and_errors():
    wavelength_nm = np.linspace(600.0, 850.0, 500)
    spectra = np.ones((2, 2, 500))
    spectra[1, 1, 10] = np.nan  # outside the window: ignored
    spectra[0, 1, 250] = np.nan  # inside: not measured
    result = intensity_map(wavelength_nm, spectra)
    assert np.isnan(result[0, 1]) and np.isfinite(result[1, 1]) and np.isfinite(result[0, 0])
    with pytest.raises(ValueError, match="window_nm"):
        intensity_map(wavelength_nm, spectra, window_nm=(900.0, 950.0))
    with pytest.raises(ValueError, match="wavelength_nm"):
        intensity_map(wavelength_nm[:-1], spectra)


# ----------------------------------------------------------------------------------------- line scans
def test_line_profile_fwhm():
    x_nm = np.arange(0.0, 130.0, 1.0)
    rng = np.random.default_rng(12)

    def peak(x0, amplitude, fwhm):
        return amplitude * np.exp(-0.5 * ((x_nm - x0) / (fwhm * FWHM_TO_SIGMA)) ** 2)

    profile = rng.poisson(50.0 + peak(40.0, 800.0, 10.0) + peak(95.0, 300.0, 16.0)).astype(float)
    assert abs(line_profile_fwhm_nm(x_nm, profile) - 10.0) < 0.5
    assert abs(line_profile_fwhm_nm(x_nm, profile, center_nm=90.0) - 16.0) < 1.6
    # Reversed scan direction: same answer.
    assert abs(line_profile_fwhm_nm(x_nm[::-1], profile[::-1]) - line_profile_fwhm_nm(x_nm, profile)) < 1e-9
    assert np.isnan(line_profile_fwhm_nm(x_nm, np.full(x_nm.size, 7.0)))
    with pytest.raises(ValueError, match="equal length"):
        line_profile_fwhm_nm(x_nm, profile[:-1])


# ----------------------------------------------------------------------------------------- peak maps
@dataclass
class _FakeFit:
    center_eV: np.ndarray
    fwhm_eV: np.ndarray
    amplitude: np.ndarray
    background: np.ndarray
    ok: np.ndarray


def fake_fit_peaks(monkeypatch, failed_index: int | None = None) -> list:
    """Replace tepl.analysis.peaks by a fake whose fit_peaks records its calls; centres are linspace(1.70,
    1.76) over the spectra it is given, amplitude 10 × centre, the fit of spectrum ``failed_index`` fails."""
    calls = []

    def fit_peaks(wavelength_nm, spectra, window_nm=(640.0, 800.0)):
        calls.append((wavelength_nm, spectra.copy(), window_nm))
        shape = spectra.shape[:-1]
        center = np.linspace(1.70, 1.76, int(np.prod(shape))).reshape(shape)
        ok = np.ones(shape, bool)
        if failed_index is not None:
            ok.reshape(-1)[failed_index] = False
        return _FakeFit(center, np.full(shape, 0.05), 10.0 * center, np.zeros(shape), ok)

    fake = types.ModuleType("tepl.analysis.peaks")
    fake.fit_peaks = fit_peaks
    monkeypatch.setitem(sys.modules, "tepl.analysis.peaks", fake)
    return calls


def test_peak_energy_map_masks_failed_fits(monkeypatch):
    calls = fake_fit_peaks(monkeypatch, failed_index=1)
    wavelength_nm = np.linspace(600.0, 850.0, 64)
    maps = peak_energy_map(wavelength_nm, np.zeros((2, 3, 64)))
    assert isinstance(maps, PeakEnergyMaps)
    assert len(calls) == 1 and calls[0][1].shape == (6, 64) and tuple(calls[0][2]) == (640.0, 800.0)
    assert maps.center_eV.shape == maps.amplitude.shape == (2, 3)
    assert np.isnan(maps.center_eV[0, 1]) and np.isnan(maps.amplitude[0, 1])
    assert np.isfinite(maps.center_eV).sum() == 5
    np.testing.assert_allclose(maps.amplitude[np.isfinite(maps.amplitude)],
                               10.0 * maps.center_eV[np.isfinite(maps.center_eV)])


def test_peak_energy_map_fits_only_the_filled_spectra(monkeypatch):
    """A stopped raster: the unfilled line (all NaN) and a spectrum with a NaN pixel give NaN, unfitted."""
    calls = fake_fit_peaks(monkeypatch)
    spectra = np.arange(3 * 4 * 64, dtype=float).reshape(3, 4, 64)
    spectra[2] = np.nan
    spectra[1, 3, 10] = np.nan
    maps = peak_energy_map(np.linspace(600.0, 850.0, 64), spectra)
    fitted = calls[0][1]
    assert fitted.shape == (7, 64) and np.all(np.isfinite(fitted))
    np.testing.assert_array_equal(fitted, spectra[:2].reshape(8, 64)[:7])
    filled = np.ones((3, 4), bool)
    filled[2] = False
    filled[1, 3] = False
    assert np.array_equal(np.isfinite(maps.center_eV), filled)
    assert np.array_equal(np.isfinite(maps.amplitude), filled)
    np.testing.assert_allclose(maps.center_eV[filled], np.linspace(1.70, 1.76, 7))


def test_peak_energy_map_of_unfilled_spectra_only(monkeypatch):
    calls = fake_fit_peaks(monkeypatch)
    maps = peak_energy_map(np.linspace(600.0, 850.0, 64), np.full((2, 5, 64), np.nan))
    assert calls == [] and maps.center_eV.shape == (2, 5)
    assert np.all(np.isnan(maps.center_eV)) and np.all(np.isnan(maps.amplitude))


def test_peak_energy_map_with_the_real_fitter():
    wavelength_nm = np.linspace(600.0, 850.0, 512)
    energy_eV = 1239.84198 / wavelength_nm
    centers_eV = np.array([[1.70, 1.72], [1.74, 1.76], [1.75, 1.75]])
    sigma_eV = 0.030 * FWHM_TO_SIGMA * 2.0
    expected = 500.0 + 2000.0 * np.exp(-0.5 * ((energy_eV - centers_eV[..., None]) / sigma_eV) ** 2)
    spectra = np.random.default_rng(13).poisson(expected).astype(float)
    spectra[2] = np.nan  # the last line of a stopped raster
    maps = peak_energy_map(wavelength_nm, spectra)
    assert np.all(np.abs(maps.center_eV[:2] - centers_eV[:2]) < 0.005)
    assert np.all(maps.amplitude[:2] > 0)
    assert np.all(np.isnan(maps.center_eV[2])) and np.all(np.isnan(maps.amplitude[2]))


def test_spots_of_a_simulated_tepl_raster():
    """A 150 nm raster of the simulated sample (World + Kymera axis): spots land on the true dots."""
    from tepl.sims.andor_shamrock_grating import grating_wavelengths_nm
    from tepl.sims.world import World

    wavelength_nm = grating_wavelengths_nm(700.0, 150.0, 328.0, 14.0, 0.0, 26.0, 1024)
    world = World(seed=2)
    world.shutter_open = True
    rng = world.rng("ccd")
    axis_nm = 50000.0 + np.arange(-75.0, 76.0, 5.0)
    spectra = np.empty((axis_nm.size, axis_nm.size, wavelength_nm.size))
    for iy, y in enumerate(axis_nm):
        for ix, x in enumerate(axis_nm):
            world.stage_um[:2] = (x / 1000.0, y / 1000.0)
            world.set_tip_z_nm(world.surface_nm() + 3.0)
            spectra[iy, ix] = rng.poisson(world.spectrum_photons(wavelength_nm, 0.1)) + 500.0
            world.clock.advance(0.12)
    truth = world.ground_truth()["sample"]

    spots = find_spots(intensity_map(wavelength_nm, spectra), axis_nm, axis_nm)

    assert len(spots) >= 3
    for s in spots:
        # a spot cut short by blinking has no Gaussian fit: its centroid is good to about half a pixel
        assert np.min(np.hypot(truth["x_nm"] - s.x_nm, truth["y_nm"] - s.y_nm)) < (2.5 if s.fit_ok else 3.5)
        assert 6.0 < s.fwhm_nm < 15.0
