"""plot_run writes the papers' kinds of figure for each procedure, from small synthetic run files."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.data.recorder import Recorder
from tepl.plotting import integrated_counts, plot_run

HC_EV_NM = 1239.84198
WL_NM = np.linspace(620.0, 780.0, 200)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def gaussian(center_eV: float, fwhm_eV: float, height: float) -> np.ndarray:
    energy = HC_EV_NM / WL_NM
    return height * np.exp(-4 * np.log(2) * ((energy - center_eV) / fwhm_eV) ** 2)


def spectrum(center_eV: float, height: float) -> np.ndarray:
    return 300.0 + gaussian(center_eV, 0.17, height)


def recorder(path, procedure: str) -> Recorder:
    rec = Recorder(path, procedure, {"exposure_s": {"value": 0.1, "unit": "s"}}, "station: test\n",
                   {"spectrometer": {"exposure_s": 0.1}}, "tepl test")
    rec.add_axis("wavelength_nm", WL_NM, "nm")
    rec.add_axis("energy_eV", HC_EV_NM / WL_NM, "eV", dim="wavelength_nm")
    return rec


def raster_file(path, filled_lines: int = 3):
    rec = recorder(path, "raster")
    x, y = 50_000 + np.arange(5) * 5.0, 50_000 + np.arange(3) * 5.0
    rec.add_axis("y_nm", y, "nm")
    rec.add_axis("x_nm", x, "nm")
    rec.add_dataset("spectra", (3, 5, WL_NM.size), ("y_nm", "x_nm", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (3, 5), ("y_nm", "x_nm"), "nm")
    for iy in range(filled_lines):
        for ix in range(5):
            rec.write("spectra", (iy, ix), spectrum(1.90 + 0.005 * ix, 1000.0 * (1 + iy)))
            rec.write("height_nm", (iy, ix), 10.0 * np.exp(-((ix - 2) ** 2 + (iy - 1) ** 2) / 2.0))
        rec.flush()
    rec.close("complete" if filled_lines == 3 else "stopped", reason=None if filled_lines == 3 else "stop")
    return path


def line_scan_file(path):
    rec = recorder(path, "line-scan")
    x = 50_000 - 65 + np.arange(14) * 10.0
    rec.add_axis("x_nm", x, "nm")
    rec.add_dataset("spectra", (x.size, WL_NM.size), ("x_nm", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (x.size,), ("x_nm",), "nm")
    for ix in range(x.size):
        rec.write("spectra", ix, spectrum(1.91, 2000.0 * np.exp(-((ix - 6) / 2.0) ** 2)))
        rec.write("height_nm", ix, 10.0 * np.exp(-((ix - 6) / 2.0) ** 2))
    rec.close("complete")
    return path


def gap_file(path, procedure: str):
    if procedure == "pressure-ramp":
        press = np.arange(14.0, 1.9, -1.0)
        gaps = np.concatenate([press, press[-2::-1]])
        direction = np.concatenate([np.ones(press.size), -np.ones(press.size - 1)])
    else:
        gaps, direction = np.arange(20.0, 0.9, -1.0), None
    rec = recorder(path, procedure)
    n = gaps.size
    rec.add_axis("step", np.arange(n), "")
    rec.add_dataset("spectra", (n, WL_NM.size), ("step", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("gap_nm", (n,), ("step",), "nm")
    if direction is not None:
        rec.add_dataset("direction", (n,), ("step",), "", dtype="i1", fill=0)
    for i, gap in enumerate(gaps):
        center = 1.91 - 0.062 * max(0.0, 10.0 - gap) / 8.0
        rec.write("spectra", i, spectrum(center, 5000.0 / (1.0 + gap)))
        rec.write("gap_nm", i, gap)
        if direction is not None:
            rec.write("direction", i, direction[i])
    rec.close("complete")
    return path


def calibrate_file(path):
    rec = recorder(path, "calibrate")
    lines = np.array([696.54, 706.72, 727.29, 738.40, 750.39, 763.51])
    counts = 300.0 + sum(5000.0 * np.exp(-0.5 * ((WL_NM - line) / 0.4) ** 2) for line in lines)
    rec.add_dataset("spectra", (WL_NM.size,), ("wavelength_nm",), "counts", signal=True)
    rec.write("spectra", slice(None), counts)
    rec.add_dataset("line_pixel", (lines.size,), ("line",), "px")
    rec.add_dataset("line_wavelength_nm", (lines.size,), ("line",), "nm")
    rec.write("line_wavelength_nm", slice(None), lines)
    rec.close("complete")
    return path


def import_file(path):
    rec = recorder(path, "import-sif")
    rec.add_dataset("spectra", (1, WL_NM.size), ("frame", "wavelength_nm"), "counts", signal=True)
    rec.write("spectra", 0, spectrum(1.91, 800.0))
    rec.close("complete")
    return path


def assert_pngs(paths, kinds: list[str], stem: str):
    assert sorted(p.name for p in paths) == sorted(f"{stem}_{kind}.png" for kind in kinds)
    for p in paths:
        content = p.read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 5_000, p


def test_line_scan(tmp_path):
    paths = plot_run(line_scan_file(tmp_path / "line.h5"), tmp_path / "fig")
    assert_pngs(paths, ["contour", "height"], "line")
    assert all(p.parent == tmp_path / "fig" for p in paths)


def test_distance_sweep(tmp_path):
    paths = plot_run(gap_file(tmp_path / "sweep.h5", "distance-sweep"), tmp_path)
    assert_pngs(paths, ["spectra", "approach"], "sweep")


def test_calibrate(tmp_path):
    assert_pngs(plot_run(calibrate_file(tmp_path / "cal.h5"), tmp_path), ["lamp"], "cal")


def test_import_sif_and_unknown_procedures_get_the_spectrum(tmp_path):
    assert_pngs(plot_run(import_file(tmp_path / "sif.h5"), tmp_path), ["spectrum"], "sif")
    rec = recorder(tmp_path / "trace.h5", "time-trace")
    rec.add_dataset("spectra", (20, WL_NM.size), ("time_s", "wavelength_nm"), "counts", signal=True)
    for i in range(20):
        rec.write("spectra", i, spectrum(1.9, 100.0 * i))
    rec.close("complete")
    assert_pngs(plot_run(tmp_path / "trace.h5", tmp_path), ["spectrum"], "trace")


def test_file_without_spectra_is_refused(tmp_path):
    Recorder(tmp_path / "empty.h5", "raster", {}, "", {}, "v").close("failed", error="no data")
    with pytest.raises(ValueError, match="empty.h5.*spectra"):
        plot_run(tmp_path / "empty.h5", tmp_path)


def test_integrated_counts_above_baseline():
    energy = HC_EV_NM / WL_NM
    inside = (WL_NM >= 640) & (WL_NM <= 800)
    peak = gaussian(1.75, 0.04, 1000.0)
    spectra = np.stack([300.0 + peak, 300.0 + 2.0 * peak, np.full(WL_NM.size, np.nan)])
    result = integrated_counts(WL_NM, spectra)
    expected = peak[inside].sum()
    assert energy[inside].min() < 1.75 - 3 * 0.04 and energy[inside].max() > 1.75 + 3 * 0.04
    np.testing.assert_allclose(result[:2], [expected, 2 * expected], rtol=1e-3)
    assert np.isnan(result[2])


def test_raster(tmp_path):
    paths = plot_run(raster_file(tmp_path / "partial.h5", filled_lines=2), tmp_path)  # a stopped run
    assert_pngs(paths, ["peak_energy", "intensity", "height"], "partial")


def test_pressure_ramp(tmp_path):
    paths = plot_run(gap_file(tmp_path / "ramp.h5", "pressure-ramp"), tmp_path)
    assert_pngs(paths, ["contour", "shift"], "ramp")
