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
from tepl.plotting import plot_run
from tepl.plotting_gap import _ramp_reference_eV
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


def assert_pngs(paths, kinds: list[str], stem: str, h5_path=None, sparse: tuple[str, ...] = ()):
    """The figures are PNGs of the expected kinds; given the run file, each shows data: its pixel variance
    is above that of the same figure drawn without data (a blank canvas of the same layout) and it has
    clearly more coloured pixels than that blank (where only a colour bar is coloured). The ``sparse`` kinds
    (scattered markers on a white map) need only half a percent more coloured pixels than their blank."""
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
        factor, extra = (1.0, 0.005) if any(p.name == f"{stem}_{kind}.png" for kind in sparse) else (3.0, 0.002)
        assert coloured_fraction(pixels) > factor * coloured_fraction(blank) + extra, p.name


def test_a_blank_figure_fails_the_check(tmp_path):
    path = raster_file(tmp_path / "stopped.h5", filled_lines=0)  # stopped before its first line
    paths = plot_run(path, tmp_path)
    with pytest.raises(AssertionError):
        assert_pngs(paths, ["peak_energy", "intensity", "height", "spectrum", "summary"], "stopped", path)


def test_line_scan(tmp_path):
    path = line_scan_file(tmp_path / "line.h5")
    paths = plot_run(path, tmp_path / "fig")
    assert_pngs(paths, ["contour", "height", "summary"], "line", path)
    assert all(p.parent == tmp_path / "fig" for p in paths)


def test_distance_sweep(tmp_path):
    path = gap_file(tmp_path / "sweep.h5", "distance-sweep")
    assert_pngs(plot_run(path, tmp_path), ["spectra", "approach", "summary"], "sweep", path)


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
    kinds = ["peak_energy", "intensity", "height", "spectrum", "summary"]
    assert_pngs(plot_run(path, tmp_path), kinds, "partial", path)


def test_pressure_ramp(tmp_path):
    path = gap_file(tmp_path / "ramp.h5", "pressure-ramp")
    assert_pngs(plot_run(path, tmp_path), ["contour", "shift", "summary"], "ramp", path)


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
    assert_pngs(plot_run(path, tmp_path), ["contour", "shift", "summary"], "close", path)


# ---- the rig's procedures, from real runs on the twin ---------------------------------------------------------
TEMPERATURE_SERIES = {"x_um": 25.0, "start_k": 10.0, "stop_k": 250.0, "step_k": 40.0, "hold_s": 20.0,
                      "exposure_s": 10.0, "acquisition_s": 3.0, "tcspc_bin_ps": 400.0}


def _sim_station(replace: str):
    from tepl.config import CONFIG_DIR, parse_config
    from tepl.station import build_station

    text = (CONFIG_DIR / "sim.yaml").read_text().replace("tip_focus_offset_nm: [0, 0]", replace)
    return build_station(parse_config(text, "sim.yaml variant"))


@pytest.fixture(scope="module")
def rig_runs(tmp_path_factory):
    """One approach (from 20 µm), one alignment (apex 800, -500 nm off the focus) and one temperature series
    (film twin, 7 setpoints with decays), each run once on the twin."""
    from tepl.config import CONFIG_DIR
    from tepl.procedures import run_procedure
    from tepl.station import build_station

    folder = tmp_path_factory.mktemp("rig")
    runs = {}
    for name, replace, procedure in (("approach", "tip_focus_offset_nm: [0, 0]\n  tip_start_um: 20", "approach"),
                                     ("align", "tip_focus_offset_nm: [800, -500]", "align-tip")):
        station = _sim_station(replace)
        try:
            runs[name] = run_procedure(procedure, station, folder / f"{name}.h5")
        finally:
            station.close()
    station = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    try:
        runs["temperature"] = run_procedure("temperature-series", station, folder / "temperature.h5",
                                            **TEMPERATURE_SERIES)
    finally:
        station.close()
    return runs


def _line(fig, gid: str):
    """The one line of ``fig`` with ``gid``, as (x, y) arrays."""
    lines = [line for ax in fig.axes for line in ax.lines if line.get_gid() == gid]
    assert len(lines) == 1, (gid, [line.get_gid() for ax in fig.axes for line in ax.lines])
    return np.asarray(lines[0].get_xdata(), float), np.asarray(lines[0].get_ydata(), float)


def test_approach_figure_draws_amplitude_and_z_against_the_coarse_travel(rig_runs, tmp_path):
    from tepl.plotting_rig import approach_figures

    path = rig_runs["approach"]
    run = read_run(path)
    d = run.data
    done = np.isfinite(d["amplitude"])
    fig, title = approach_figures(run)["approach"]
    x, y = _line(fig, "amplitude")
    np.testing.assert_array_equal(x, d["coarse_travel_um"][done])
    np.testing.assert_array_equal(y, d["amplitude"][done])
    x, z = _line(fig, "z")
    np.testing.assert_array_equal(z, d["z_nm"][done])
    contact = done & (d["contact"] > 0)
    assert contact.any()
    np.testing.assert_array_equal(_line(fig, "contact amplitude")[0], d["coarse_travel_um"][contact])
    np.testing.assert_array_equal(_line(fig, "contact z")[1], d["z_nm"][contact])
    ranges = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "fine range"]
    assert len(ranges) == 1
    fine_nm = float(h5py.File(path, "r")["entry/data/steps"].attrs["fine_range_nm"])
    corners = ranges[0].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([corners.min(), corners.max()],
                               [np.min(d["retracted_z_nm"][done]) - fine_nm, np.max(d["retracted_z_nm"][done])])
    for ax in fig.axes:
        assert "(" in ax.get_ylabel() and ")" in ax.get_ylabel()
    assert "µm" in fig.axes[-1].get_xlabel()
    assert title.startswith("Coarse tip approach: contact after") and path.name not in title
    assert_pngs(plot_run(path, tmp_path), ["approach"], path.stem, path)


def _stored_fits(path) -> dict[tuple[int, int], list[dict[str, float]]]:
    """The fits the alignment stored, in order, by (axis index, direction)."""
    with h5py.File(path, "r") as f:
        d = f["entry/data"]
        out: dict[tuple[int, int], list[dict[str, float]]] = {}
        for i, axis in enumerate(d["fit_axis"][()]):
            if axis >= 0:
                out.setdefault((int(axis), int(d["fit_direction"][i])), []).append(
                    {k: float(d[f"fit_{k}"][i]) for k in ("center_steps", "fwhm_steps", "amplitude", "background")})
    return out


def test_align_figures_draw_the_stored_fits_and_the_optimum(rig_runs, tmp_path):
    from tepl.analysis.focus_scan import gaussian_on_background
    from tepl.plotting_rig import align_figures

    path = rig_runs["align"]
    run = read_run(path)
    figures = align_figures(run)
    with h5py.File(path, "r") as f:
        attrs = dict(f["entry/data"].attrs)
    n = int(attrs["probes"])
    phases = list(attrs["phase_names"])
    fits = _stored_fits(path)
    assert sum(len(v) for v in fits.values()) >= 4
    fine = figures["fine_scans"][0]
    for (axis_index, direction), stored in fits.items():
        axis, way = "xy"[axis_index], "forward" if direction > 0 else "backward"
        for k, fit in enumerate(stored, start=1):
            x, y = _line(fine, f"{axis} {way} fit {k}")
            np.testing.assert_allclose(y, gaussian_on_background(x, fit["center_steps"], fit["fwhm_steps"],
                                                                 fit["amplitude"], fit["background"]), rtol=1e-12)
            steps, _ = _line(fine, f"{axis} {way} scan {k}")
            assert x.min() == steps.min() and x.max() == steps.max()  # drawn over its scan
    # every fine-scan probe's signal is drawn, once
    fine_phase = np.isin(run.data["phase"][:n], [phases.index(p) for p in phases if " " in p])
    drawn = np.concatenate([line.get_ydata() for ax in fine.axes for line in ax.lines
                            if " scan " in (line.get_gid() or "")])
    np.testing.assert_array_equal(np.sort(drawn), np.sort(run.data["signal"][:n][fine_phase].astype(float)))
    legends = " ".join(ax.get_legend().get_title().get_text() for ax in fine.axes)
    for axis in "xy":
        for way in ("forward", "backward"):
            assert f"measured {way} step: {attrs[f'{axis}_{way}_step_nm']:.2f} nm" in legends
    probes = figures["probes"][0]
    optimum = [line for ax in probes.axes for line in ax.lines if line.get_gid() == "optimum"]
    assert len(optimum) == 2  # on the whole map and on the zoom
    for line in optimum:
        assert (line.get_xdata()[0], line.get_ydata()[0]) == (attrs["optimum_x_nm"], attrs["optimum_y_nm"])
    paths = [line for ax in probes.axes[:1] for line in ax.lines if line.get_gid() == "path"]
    np.testing.assert_array_equal(paths[0].get_xdata(), run.data["x_nm"][:n])
    np.testing.assert_array_equal(paths[0].get_ydata(), run.data["y_nm"][:n])
    assert_pngs(plot_run(path, tmp_path), ["probes", "fine_scans"], path.stem, path, sparse=("probes",))


def test_temperature_figures_draw_the_stored_fits(rig_runs, tmp_path):
    from tepl.analysis.temperature import linewidth_meV, peak_energy_eV
    from tepl.plotting_rig import stored_temperature_fit, temperature_figures

    path = rig_runs["temperature"]
    run = read_run(path)
    d = run.data
    t = d["temperature_k"].astype(float)
    figures = temperature_figures(run)
    fits, title = figures["fits"]
    for name, model, function in (("peak_energy_eV", "peak_energy_model_eV", peak_energy_eV),
                                  ("fwhm_meV", "fwhm_model_meV", linewidth_meV)):
        x, y = _line(fits, model)
        at_points = np.isin(x, t)
        assert at_points.sum() == t.size
        order = np.argsort(t)
        np.testing.assert_array_equal(y[at_points], d[model][order].astype(float))  # through the stored values
        params = stored_temperature_fit(run, name)
        np.testing.assert_allclose(y, function(x, **params), rtol=1e-6)  # the stored parameters in between
        with h5py.File(path, "r") as f:
            assert params == {k[4:]: float(v) for k, v in f["entry/data"][name].attrs.items()
                              if k.startswith("fit_") and not k.endswith("_err")
                              and k not in ("fit_status", "fit_model", "fit_points", "fit_rms_residual")}
        np.testing.assert_array_equal(_line(fits, name)[1], d[name].astype(float))
    assert np.isfinite(d["lifetime_ns"]).all()
    np.testing.assert_array_equal(_line(fits, "lifetime_ns")[1], d["lifetime_ns"].astype(float))
    assert all("(" in ax.get_ylabel() for ax in fits.axes)
    assert "vs temperature" in title and path.name not in title
    assert_pngs(plot_run(path, tmp_path), ["fits", "spectra", "decays"], path.stem, path)


def test_the_rig_figures_pass_the_demo_figure_check(rig_runs):
    """The approach, alignment and temperature-series figures (the first and last runs of ``make demo``) are
    non-blank, with units on every data axis and colour bar, like every other figure the demo writes."""
    from tepl.plotting_rig import align_figures, approach_figures, temperature_figures
    from tests.test_figures import check_figure

    for name, figures in (("approach", approach_figures), ("align", align_figures),
                          ("temperature", temperature_figures)):
        drawn = figures(read_run(rig_runs[name]))
        assert drawn, name
        for kind, (fig, title) in drawn.items():
            check_figure(fig, f"{name} {kind}")
            assert title and ".h5" not in title, (name, kind, title)


def test_a_ramp_step_that_lost_a_cosmic_ray_spike_is_fitted_again(tmp_path):
    """The run's live fits are shown, except at a step whose spectrum had a spike: the live fit saw it, the
    figure fits the spectrum the spike was removed from (and says so in its cosmic-ray note)."""
    from tepl.plot_spectra import cleaned
    from tepl.plotting_gap import _ramp_peaks
    from tepl.units import FIT_WINDOW_NM

    path = gap_file(tmp_path / "ramp.h5", "pressure-ramp")
    k, pixel = 16, int(np.searchsorted(WL_NM, 700.0))  # a releasing step; the peak's red flank
    with h5py.File(path, "r+") as f:
        spectra = f["entry/data/spectra"]
        truth = peak_energy_map(WL_NM, spectra[...], FIT_WINDOW_NM).center_eV
        hit = spectra[k]
        hit[pixel] += 3000.0
        spectra[k] = hit
        live = peak_energy_map(WL_NM, spectra[...], FIT_WINDOW_NM).center_eV  # what the run's own fit saw
        f["entry/data"].create_dataset("peak_energy_eV", data=live.astype(np.float32))
    assert abs(live[k] - truth[k]) > 0.003  # the spike pulls the live fit by several meV
    run = read_run(path)
    despiked, n_spikes = cleaned(run.data["spectra"])
    assert n_spikes == 1
    energies, _, stored = _ramp_peaks(run, despiked)
    assert stored and energies[k] == pytest.approx(truth[k], abs=2e-4)
    others = np.arange(energies.size) != k
    np.testing.assert_array_equal(energies[others], run.data["peak_energy_eV"][others].astype(float))


def test_the_rigs_procedures_have_no_panels_of_the_spectral_kind(tmp_path):
    """The approach, the alignment and temperature series are drawn by tepl.plotting_rig: asking for the
    spectral / photon panels of one is an error naming the run, not a spectrum figure of the wrong kind."""
    from tepl.plotting import figure_panels, open_run

    rec = recorder(tmp_path / "approach.h5", "approach")
    rec.close("complete")
    with pytest.raises(ValueError, match=r"approach\.h5: approach figures are drawn by tepl.plotting_rig"):
        figure_panels(open_run(tmp_path / "approach.h5"))
