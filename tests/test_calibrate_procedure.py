"""calibrate: the lamp spectrum is kept even when no lines are found; apply=False leaves the station alone."""

import numpy as np
import pytest

from tepl.data.runfile import read_run
from tepl.procedures import run_procedure


def test_apply_false_keeps_the_installed_calibration(station, tmp_path):
    installed = station.spectrometer.spectrograph_wavelengths_nm() + 0.3
    station.spectrometer.set_calibration_nm(installed)
    r = read_run(run_procedure("calibrate", station, tmp_path / "cal.h5", apply=False))
    assert r.status == "complete"
    np.testing.assert_allclose(station.spectrometer.wavelengths_nm(), installed)
    true_nm = np.asarray(r.simulation["spectrograph"]["true_wavelength_nm"])
    assert np.sqrt(np.mean((r.data["wavelength_nm"] - true_nm) ** 2)) < 0.1


def test_no_lamp_light_fails_clearly_and_keeps_the_spectrum(station, tmp_path):
    station.lamp.open = lambda: None  # the lamp does not light
    path = tmp_path / "dark.h5"
    with pytest.raises(ValueError, match="Ar-Hg lines"):
        run_procedure("calibrate", station, path)
    r = read_run(path)
    assert r.status == "failed" and "Ar-Hg lines" in r.reason
    assert np.all(np.isfinite(r.data["spectra"]))
    np.testing.assert_allclose(r.data["wavelength_nm"], station.spectrometer.spectrograph_wavelengths_nm())
    assert not station.world.shutter_open and not station.world.lamp_on
