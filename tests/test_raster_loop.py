"""The raster loop's shortcuts keep what it records: simulator results remembered between pixels equal those
computed anew, a scan line's pixels held in memory reach the file on every ending but a kill, and the live fits
made on their own thread equal fits of the recorded spectra, also for lines an interrupted run left unfitted."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tepl.data.recorder import Recorder
from tepl.data.runfile import read_run
from tepl.procedures import RunControl, make_procedure, resume_procedure, run
from tepl.procedures.spectral import PEAK_MAPS, live_fit
from tepl.sims.andor import quantum_efficiency
from tepl.sims.tepl_memo import LastCall

RASTER = {"size_x_um": 0.05, "size_y_um": 0.05, "pixel_um": 0.01, "exposure_s": 0.01}  # 6 x 6 pixels
N = 6


def test_a_remembered_result_equals_one_computed_anew_and_follows_its_arguments():
    calls = []

    def qe(wl):
        calls.append(1)
        return quantum_efficiency(wl)

    memory = LastCall(qe)
    wl = np.linspace(600.0, 800.0, 1024)
    first = memory(wl)
    np.testing.assert_array_equal(first, quantum_efficiency(wl))
    assert memory(wl.copy()) is first and len(calls) == 1  # equal values: remembered
    with pytest.raises(ValueError):
        first[0] = 0.0  # read-only: no caller can change what the next one gets
    wl[0] = 500.0  # the caller's array changes: the memory does not follow it by reference
    np.testing.assert_array_equal(memory(wl), quantum_efficiency(wl))
    assert len(calls) == 2
    assert memory(wl) is memory(wl) and len(calls) == 2


def test_pixels_held_in_memory_are_in_the_file_after_a_flush_and_read_back_before(tmp_path):
    rec = Recorder(tmp_path / "run.h5", "raster", {"exposure_s": {"value": 0.5, "unit": "s"}}, "", {}, "tepl test")
    rec.add_dataset("spectra", (3, 4, 5), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (3, 4), ("y_um", "x_um"), "nm")
    for ix in range(4):
        rec.write("spectra", (0, ix), np.full(5, ix))
        rec.write("height_nm", (0, ix), 10.0 + ix)
    np.testing.assert_array_equal(rec.dataset("height_nm")[0], [10.0, 11.0, 12.0, 13.0])  # read back: written
    rec.write("height_nm", (1, 2), 5.0)
    rec.write("height_nm", (1, [3]), 6.0)  # a write not kept in memory: after the one that is, in order
    rec.write("height_nm", (1, slice(0, 2)), [1.0, 2.0])
    rec.flush()
    with h5py.File(tmp_path / "run.h5", "r", locking=False) as f:
        np.testing.assert_array_equal(f["entry/data/spectra"][0, :, 0], [0, 1, 2, 3])
        np.testing.assert_array_equal(f["entry/data/height_nm"][1], [1.0, 2.0, 5.0, 6.0])
        assert np.isnan(f["entry/data/height_nm"][2]).all()
    rec.write("height_nm", (2, 0), 7.0)  # held at close: written by it
    rec.close("aborted", reason="test")
    assert read_run(tmp_path / "run.h5").data["height_nm"][2, 0] == 7.0


def _abort_after_pixels(pixels: int, control: RunControl):
    seen = {"n": 0}

    def listen(event):
        if event.kind == "data" and event.data["name"] == "spectra":
            seen["n"] += 1
            if seen["n"] == pixels:
                control.abort("operator: interrupted for the test")
    return listen


def _steps_done(path) -> int:
    with h5py.File(path, "r", locking=False) as f:
        return int(f["entry"].attrs["steps_done"])


def _fits_of_recorded_spectra(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r", locking=False) as f:
        spectra, wl = f["entry/data/spectra"][()].astype(float), f["entry/data/wavelength_nm"][()]
    fits = [live_fit(wl, line) if np.isfinite(line).all() else None for line in spectra]  # complete lines
    nan = np.full(spectra.shape[1], np.nan)
    return {name: np.array([nan if fit is None else np.where(fit.ok, getattr(fit, attr), np.nan) for fit in fits],
                           np.float32)
            for name, attr in zip(PEAK_MAPS, ("center_eV", "amplitude", "fwhm_eV"), strict=True)}


def test_a_raster_aborted_mid_line_keeps_the_pixels_it_measured_and_the_fits_of_its_lines(station, tmp_path):
    path = tmp_path / "aborted.h5"
    control = RunControl()
    run(make_procedure("raster", **RASTER), station, path, control=control,
        listeners=[_abort_after_pixels(2 * N + 3, control)])  # aborted at the 4th pixel of line 3
    result = read_run(path)
    assert result.status == "aborted" and _steps_done(path) == 2
    height, spectra = result.data["height_nm"], result.data["spectra"]
    assert np.isfinite(height[:2]).all() and np.isfinite(spectra[:2]).all()
    assert np.isfinite(height[2, :3]).all() and np.isfinite(spectra[2, :3]).all()  # the line in progress
    assert np.isnan(height[2, 3:]).all() and np.isnan(height[3:]).all()
    expected = _fits_of_recorded_spectra(path)
    for name in PEAK_MAPS:  # the two complete lines are fitted, the one in progress is not
        np.testing.assert_array_equal(result.data[name][:2], expected[name][:2])
        assert np.isnan(result.data[name][2:]).all()


def _raster_with_a_dot_in_line_0(station) -> dict:
    """``RASTER`` moved so that its first line runs over the dot nearest the sample's centre: that line's peak
    fits hold a value whatever the noise of the other pixels does."""
    truth = station.world.ground_truth()["sample"]
    x_nm, y_nm = truth["x_nm"], truth["y_nm"]
    nearest = int(np.argmin(np.hypot(x_nm - 50000.0, y_nm - 50000.0)))
    return {**RASTER, "center_x_um": x_nm[nearest] / 1000.0,
            "center_y_um": y_nm[nearest] / 1000.0 + RASTER["size_y_um"] / 2}


def test_a_resumed_raster_fits_the_completed_lines_whose_fit_was_not_written(station, tmp_path):
    path = tmp_path / "resumed.h5"
    control = RunControl()
    raster = _raster_with_a_dot_in_line_0(station)
    run(make_procedure("raster", **raster), station, path, control=control,
        listeners=[_abort_after_pixels(2 * N + 3, control)])
    with h5py.File(path, "r+", locking=False) as f:  # as if killed after line 2 was done but before its fit
        for name in PEAK_MAPS:
            f["entry/data"][name][1] = np.nan
    resume_procedure(path, station)
    result = read_run(path)
    assert result.status == "complete" and _steps_done(path) == N
    assert np.isfinite(result.data[PEAK_MAPS[0]][0]).any()  # the dot in line 0: only line 1 lacked its fits
    assert any("peak fits of 1 completed line(s) written on resume" in line for line in result.log)
    expected = _fits_of_recorded_spectra(path)
    for name in PEAK_MAPS:
        np.testing.assert_array_equal(result.data[name], expected[name])
    assert np.isfinite(result.data["height_nm"]).all()
