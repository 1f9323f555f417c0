"""Acceptance 3: the simulated TEPL station reproduces paper 000's figures when its own procedures run
and the project's own fits analyse the files. Truth comes from /entry/sample/simulation in each file."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.analysis.maps import intensity_map
from tepl.analysis.peaks import fit_peaks
from tepl.analysis.spots import find_spots, map_axes_nm
from tepl.data.runfile import read_run

WINDOW_NM = (640.0, 800.0)


def _fits(run):
    return fit_peaks(run.data["wavelength_nm"], run.data["spectra"], window_nm=WINDOW_NM)


@pytest.fixture(scope="module")
def ramp_dot(session_runs):
    run = read_run(session_runs["ramp_dot"])
    return run, _fits(run)


@pytest.fixture(scope="module")
def ramp_au(session_runs):
    run = read_run(session_runs["ramp_au"])
    return run, _fits(run)


UNSTRAINED_GAP_NM = 11.0  # above the ~10 nm dots: no strain, the reference plateau of a ramp


def test_ramp_on_dot_redshift_quench_and_reversibility(ramp_dot):
    run, fit = ramp_dot
    assert run.status == "complete"
    assert fit.ok.all()
    gap, direction = run.data["gap_nm"], run.data["direction"]
    bright = fit.amplitude >= 0.25 * np.max(fit.amplitude[gap >= UNSTRAINED_GAP_NM])  # not blinking off
    before = (direction > 0) & (gap >= UNSTRAINED_GAP_NM) & bright
    after = (direction < 0) & (gap >= UNSTRAINED_GAP_NM) & bright
    start_eV = fit.center_eV[before].mean()
    deepest = np.argmin(gap)
    shift_meV = (fit.center_eV[deepest] - start_eV) * 1000.0
    assert -67.0 <= shift_meV <= -57.0, shift_meV
    pressing = direction > 0
    gap_at_max = gap[pressing][np.argmax(fit.amplitude[pressing])]
    assert abs(gap_at_max - 8.5) <= 0.5, gap_at_max
    back_meV = (fit.center_eV[after].mean() - start_eV) * 1000.0
    assert abs(back_meV) < 3.0, back_meV
    assert direction[-1] == -1 and abs(gap[-1] - gap[0]) < 0.3
    assert np.nanmax(run.data["pressure_GPa"]) < 1.0
    # the live pressure estimate follows the paper's scale: ~0.78 GPa at ~60 meV
    assert 0.6 < run.data["pressure_GPa"][deepest] < 0.95


def test_dot_linewidth(ramp_dot):
    run, _ = ramp_dot
    _, all_steps = ramp_dot
    plateau = (run.data["direction"] > 0) & (run.data["gap_nm"] >= UNSTRAINED_GAP_NM)
    plateau &= all_steps.amplitude >= 0.25 * all_steps.amplitude[plateau].max()
    fit = fit_peaks(run.data["wavelength_nm"], run.data["spectra"][plateau].mean(axis=0), window_nm=WINDOW_NM)
    assert 150.0 <= float(fit.fwhm_eV) * 1000.0 <= 190.0


def test_bare_gold_gap_plasmon(ramp_au):
    run, fit = ramp_au
    assert run.status == "complete" and fit.ok.all()
    gap, pressing = run.data["gap_nm"], run.data["direction"] > 0
    slope_eV_per_nm, _ = np.polyfit(gap[pressing], fit.center_eV[pressing], 1, w=1 / fit.center_eV_err[pressing])
    shift_meV = slope_eV_per_nm * (gap[pressing].min() - gap[pressing].max()) * 1000.0
    assert abs(shift_meV) < 3.0, shift_meV
    mean = fit_peaks(run.data["wavelength_nm"], run.data["spectra"].mean(axis=0), window_nm=WINDOW_NM)
    assert 210.0 <= float(mean.fwhm_eV) * 1000.0 <= 260.0
    assert abs(float(mean.center_eV) - 1.90) < 0.02


def test_dot_far_brighter_than_gap_plasmon(ramp_dot, ramp_au):
    assert np.max(ramp_dot[1].amplitude) > 10 * np.max(ramp_au[1].amplitude)


def test_raster_finds_every_dot(session_runs):
    run = read_run(session_runs["raster"])
    assert run.status == "complete"
    x_nm, y_nm = map_axes_nm(run.data)
    spots = find_spots(intensity_map(run.data["wavelength_nm"], run.data["spectra"]), x_nm, y_nm)
    truth = run.simulation["sample"]
    # the sample drifts slowly under the tip: at the raster's start a dot sits at its true position minus
    # the drift so far, in stage coordinates (the drift during the raster itself is < 1 nm)
    world = run.simulation["world"]
    drift_x, drift_y = np.asarray(world["drift_nm_per_s"]) * float(world["clock_s"])
    true_x, true_y = truth["x_nm"] - drift_x, truth["y_nm"] - drift_y
    inside = (true_x >= x_nm.min()) & (true_x <= x_nm.max()) & (true_y >= y_nm.min()) & (true_y <= y_nm.max())
    assert inside.sum() >= 3
    found = np.array([[s.x_nm, s.y_nm] for s in spots])
    for tx, ty in zip(true_x[inside], true_y[inside], strict=True):
        d = np.hypot(found[:, 0] - tx, found[:, 1] - ty)
        assert d.min() <= 5.0, (tx, ty, d.min())
        spot = spots[int(np.argmin(d))]
        assert 7.0 <= spot.fwhm_nm <= 13.0, spot.fwhm_nm
    assert len(spots) == inside.sum(), "false spots"


def test_raster_height_shows_the_dots(session_runs):
    run = read_run(session_runs["raster"])
    height = run.data["height_nm"]
    assert np.ptp(height) > 7.0  # ~10 nm dots over flat gold


def test_calibration_recovers_true_wavelengths(session_runs):
    run = read_run(session_runs["calibrate"])
    true_nm = np.asarray(run.simulation["spectrograph"]["true_wavelength_nm"])
    rms = np.sqrt(np.mean((run.data["wavelength_nm"] - true_nm) ** 2))
    nominal_rms = np.sqrt(np.mean((run.data["nominal_wavelength_nm"] - true_nm) ** 2))
    assert rms < 0.1, rms
    assert nominal_rms > 0.2  # there was something to correct


def test_files_are_self_describing_nexus(session_runs):
    import h5py

    with h5py.File(session_runs["ramp_dot"], "r") as f:
        data = f["/entry/data"]
        assert f["/entry"].attrs["NX_class"] == "NXentry" and data.attrs["NX_class"] == "NXdata"
        assert data.attrs["signal"] == "spectra"
        assert list(data.attrs["axes"]) == ["step", "wavelength_nm"]
        assert data.attrs["gap_nm_indices"] == 0 and data.attrs["energy_eV_indices"] == 1
        assert data["gap_nm"].attrs["units"] == "nm" and data["pressure_GPa"].attrs["units"] == "GPa"
        assert f["/entry"].attrs["status"] == "complete"
        assert "x_nm" in f["/entry/sample/simulation/sample"]
        assert "stage" in f["/entry/instrument"] and "spectrometer" in f["/entry/instrument"]
    with h5py.File(session_runs["raster"], "r") as f:
        assert list(f["/entry/data"].attrs["axes"]) == ["y_um", "x_um", "wavelength_nm"]
        assert f["/entry/data/height_nm"].shape == f["/entry/data/spectra"].shape[:2]


def test_distance_sweep_grows_steeply_on_approach(session_runs):
    run = read_run(session_runs["sweep"])
    fit = _fits(run)
    gap = run.data["gap_nm"]
    far, near = np.argmax(gap), np.argmin(gap)
    assert fit.amplitude[near] > 20 * max(fit.amplitude[far], 1.0)
