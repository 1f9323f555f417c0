"""plot_run writes the papers' kinds of figure for each procedure, from small synthetic run files; every
figure shows its data (it is compared with the same figure drawn from the run with its data unfilled)."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from matplotlib import image

from tepl.analysis.maps import peak_energy_map
from tepl.analysis.ramp import summarize_ramp
from tepl.data.recorder import Recorder
from tepl.data.runfile import read_run
from tepl.plotting import _ramp_reference_eV, plot_run
from tepl.units import HC_EV_NM

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
    x, y = 50.0 + np.arange(5) * 0.005, 50.0 + np.arange(3) * 0.005
    rec.add_axis("y_um", y, "µm")
    rec.add_axis("x_um", x, "µm")
    rec.add_dataset("spectra", (3, 5, WL_NM.size), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (3, 5), ("y_um", "x_um"), "nm")
    for iy in range(filled_lines):
        for ix in range(5):
            rec.write("spectra", (iy, ix), spectrum(1.90 + 0.005 * ix, 1000.0 * (1 + iy)))
            rec.write("height_nm", (iy, ix), 10.0 * np.exp(-((ix - 2) ** 2 + (iy - 1) ** 2) / 2.0))
        rec.flush()
    rec.close("complete" if filled_lines == 3 else "stopped", reason=None if filled_lines == 3 else "stop")
    return path


def line_scan_file(path):
    rec = recorder(path, "line-scan")
    x = 50.0 - 0.065 + np.arange(14) * 0.01
    rec.add_axis("x_um", x, "µm")
    rec.add_dataset("spectra", (x.size, WL_NM.size), ("x_um", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (x.size,), ("x_um",), "nm")
    for ix in range(x.size):
        rec.write("spectra", ix, spectrum(1.91, 2000.0 * np.exp(-((ix - 6) / 2.0) ** 2)))
        rec.write("height_nm", ix, 10.0 * np.exp(-((ix - 6) / 2.0) ** 2))
    rec.close("complete")
    return path


def gap_file(path, procedure: str, first_step_eV: float | None = None, plateau: bool = True):
    """A distance sweep or a pressure ramp (14 -> 2 -> 14 nm, the peak red-shifting below 10 nm). With
    ``first_step_eV`` the ramp's first step is dim (a blink) and at that energy; without ``plateau`` every
    gap is below summarize_ramp's 11 nm unstrained threshold."""
    if procedure == "pressure-ramp":
        press = np.arange(14.0, 1.9, -1.0)
        gaps = np.concatenate([press, press[-2::-1]])
        direction = np.concatenate([np.ones(press.size), -np.ones(press.size - 1)])
    else:
        gaps, direction = np.arange(20.0, 0.9, -1.0), None
    gaps = gaps if plateau else gaps * 0.5
    rec = recorder(path, procedure)
    n = gaps.size
    rec.add_axis("step", np.arange(n), "")
    rec.add_dataset("spectra", (n, WL_NM.size), ("step", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("gap_nm", (n,), ("step",), "nm")
    if direction is not None:
        rec.add_dataset("direction", (n,), ("step",), "", dtype="i1", fill=0)
    for i, gap in enumerate(gaps):
        center = 1.91 - 0.062 * max(0.0, 10.0 - gap) / 8.0
        if i == 0 and first_step_eV is not None:
            rec.write("spectra", i, spectrum(first_step_eV, 1000.0 / (1.0 + gap)))
        else:
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


def unfilled_copy(path):
    """The run with its measurements (spectra, height, identified lines) unfilled, as a run stopped before
    its first point leaves them: the figures drawn from it have every axis, label and title but no data."""
    blank = path.with_name(f"{path.stem}_unfilled.h5")
    shutil.copy(path, blank)
    with h5py.File(blank, "r+") as f:
        for name, ds in f["entry/data"].items():
            if "dims" in ds.attrs and ds.dtype.kind == "f" and name != "gap_nm":
                ds[...] = np.nan
    return blank


def coloured_fraction(pixels: np.ndarray) -> float:
    """Fraction of pixels in colour (data drawn with a colour map or coloured lines; text and axes are grey)."""
    return float(np.mean(np.ptp(pixels, axis=-1) > 0.15))


def assert_pngs(paths, kinds: list[str], stem: str, h5_path=None):
    """The figures are PNGs of the expected kinds; given the run file, each shows data: its pixel variance
    is above that of the same figure drawn without data (a blank canvas of the same layout) and it has
    clearly more coloured pixels than that blank (where only a colour bar is coloured)."""
    assert sorted(p.name for p in paths) == sorted(f"{stem}_{kind}.png" for kind in kinds)
    for p in paths:
        content = p.read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 5_000, p
    if h5_path is None:
        return
    blank_dir = paths[0].parent / "unfilled"
    blanks = {p.name.replace("_unfilled_", "_"): p for p in plot_run(unfilled_copy(h5_path), blank_dir)}
    for p in paths:
        pixels, blank = image.imread(p)[..., :3], image.imread(blanks[p.name])[..., :3]
        assert pixels.shape == blank.shape, p
        assert pixels.var() > 1.05 * blank.var(), (p.name, pixels.var(), blank.var())
        assert coloured_fraction(pixels) > 3.0 * coloured_fraction(blank) + 0.002, p.name


def test_a_blank_figure_fails_the_check(tmp_path):
    path = raster_file(tmp_path / "stopped.h5", filled_lines=0)  # stopped before its first line
    paths = plot_run(path, tmp_path)
    with pytest.raises(AssertionError):
        assert_pngs(paths, ["peak_energy", "intensity", "height"], "stopped", path)


def test_line_scan(tmp_path):
    path = line_scan_file(tmp_path / "line.h5")
    paths = plot_run(path, tmp_path / "fig")
    assert_pngs(paths, ["contour", "height"], "line", path)
    assert all(p.parent == tmp_path / "fig" for p in paths)


def test_distance_sweep(tmp_path):
    path = gap_file(tmp_path / "sweep.h5", "distance-sweep")
    assert_pngs(plot_run(path, tmp_path), ["spectra", "approach"], "sweep", path)


def test_calibrate(tmp_path):
    path = calibrate_file(tmp_path / "cal.h5")
    assert_pngs(plot_run(path, tmp_path), ["lamp"], "cal", path)


def test_import_sif_and_unknown_procedures_get_the_spectrum(tmp_path):
    path = import_file(tmp_path / "sif.h5")
    assert_pngs(plot_run(path, tmp_path), ["spectrum"], "sif", path)
    rec = recorder(tmp_path / "trace.h5", "custom-series")
    rec.add_dataset("spectra", (20, WL_NM.size), ("time_s", "wavelength_nm"), "counts", signal=True)
    for i in range(20):
        rec.write("spectra", i, spectrum(1.9, 100.0 * i))
    rec.close("complete")
    assert_pngs(plot_run(tmp_path / "trace.h5", tmp_path), ["spectrum"], "trace", tmp_path / "trace.h5")


def test_file_without_spectra_is_refused(tmp_path):
    Recorder(tmp_path / "empty.h5", "raster", {}, "", {}, "v").close("failed", error="no data")
    with pytest.raises(ValueError, match="empty.h5.*spectra"):
        plot_run(tmp_path / "empty.h5", tmp_path)


def test_axis_outside_the_fit_window_is_refused_naming_the_file(tmp_path):
    rec = Recorder(tmp_path / "blue.h5", "raster", {}, "", {}, "tepl test")
    wl = np.linspace(400.0, 560.0, 200)
    rec.add_axis("wavelength_nm", wl, "nm")
    rec.add_dataset("spectra", (2, 2, wl.size), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
    rec.write("spectra", slice(None), np.full((2, 2, wl.size), 300.0))
    rec.close("complete")
    with pytest.raises(ValueError, match="blue.h5.*window"):
        plot_run(tmp_path / "blue.h5", tmp_path)


def test_raster(tmp_path):
    path = raster_file(tmp_path / "partial.h5", filled_lines=2)  # a stopped run
    assert_pngs(plot_run(path, tmp_path), ["peak_energy", "intensity", "height"], "partial", path)


def test_pressure_ramp(tmp_path):
    path = gap_file(tmp_path / "ramp.h5", "pressure-ramp")
    assert_pngs(plot_run(path, tmp_path), ["contour", "shift"], "ramp", path)


def ramp_reference(path) -> tuple[float, str, np.ndarray]:
    run = read_run(path)
    center_eV = peak_energy_map(run.data["wavelength_nm"], run.data["spectra"]).center_eV
    reference = _ramp_reference_eV(run, center_eV, run.data["gap_nm"], run.data["direction"].astype(float))
    return (*reference, center_eV)


def test_ramp_shift_is_from_the_unstrained_plateau(tmp_path):
    path = gap_file(tmp_path / "ramp.h5", "pressure-ramp", first_step_eV=1.95)  # a dim, off first step
    reference_eV, what, center_eV = ramp_reference(path)
    run = read_run(path)
    summary = summarize_ramp(run.data["wavelength_nm"], run.data["spectra"], run.data["gap_nm"],
                             run.data["direction"])
    assert what == "the unstrained plateau" and reference_eV == summary.reference_eV
    np.testing.assert_allclose(reference_eV, center_eV[1:4].mean(), rtol=1e-9)  # the bright 13-11 nm steps
    assert center_eV[0] - reference_eV > 0.02


def test_ramp_without_a_plateau_shifts_from_the_first_fitted_step(tmp_path):
    path = gap_file(tmp_path / "close.h5", "pressure-ramp", plateau=False)
    reference_eV, what, center_eV = ramp_reference(path)
    assert what == "the first fitted step" and reference_eV == center_eV[0]
    assert_pngs(plot_run(path, tmp_path), ["contour", "shift"], "close", path)
