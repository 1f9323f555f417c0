"""Every kind of figure ``make demo`` writes, drawn from small runs of the same procedures on the twin: each is
non-blank, has every axis labelled with its unit, and draws a fit exactly as the file stores it (lines read
back from the matplotlib Figure objects, compared with the model computed from the stored parameters or
values)."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.plot_common import render, summary_figure
from tepl.plotting import figure_panels, open_run, plot_run
from tepl.procedures import run_procedure
from tepl.station import build_station

# a unit in parentheses, or a counted (dimensionless) quantity: counts, bins, a number
UNIT = re.compile(r"\(([^()]*[A-Za-zµσ%][^()]*)\)\s*$|counts|bins?$|number")


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """Small versions of the demo's runs (same procedures, stations and kinds of parameters)."""
    out = tmp_path_factory.mktemp("demo")
    paths = {}
    tepl_rig = build_station(None)
    for name, procedure, params in (
            ("calibrate", "calibrate", {}),
            ("raster", "raster", dict(size_x_um=0.06, size_y_um=0.06, pixel_um=0.01, exposure_s=0.05)),
            ("distance-sweep", "distance-sweep", dict(x_um=50.0, y_um=50.0, start_gap_nm=20.0, stop_gap_nm=12.0,
                                                     gap_step_nm=2.0, exposure_s=0.05)),
            ("pressure-ramp", "pressure-ramp", dict(x_um=50.0, y_um=50.0, start_gap_nm=12.0, min_gap_nm=4.0,
                                                   gap_step_nm=1.0, exposure_s=0.05))):
        paths[name] = out / f"{name}.h5"
        run_procedure(procedure, tepl_rig, paths[name], **params)
    tepl_rig.close()
    confocal = build_station(CONFIG_DIR / "confocal-sim.yaml")
    paths["confocal-raster"] = out / "confocal-raster.h5"
    run_procedure("confocal-raster", confocal, paths["confocal-raster"], size_x_um=4.0, size_y_um=4.0,
                  pixel_um=0.5, dwell_s=0.02, scans=2)
    confocal.close()
    hbt = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    for name, procedure, params in (
            ("qd-raster", "confocal-raster", dict(size_x_um=3.0, size_y_um=3.0, pixel_um=0.25, dwell_s=0.005)),
            ("g2", "g2", dict(acquisition_s=4.0)),
            ("time-trace", "time-trace", dict(acquisition_s=2.0))):
        paths[name] = out / f"{name}.h5"
        run_procedure(procedure, hbt, paths[name], **params)
    hbt.close()
    cryo = build_station(CONFIG_DIR / "cryo-sim.yaml")
    paths["kinetic-series"] = out / "kinetic-series.h5"
    run_procedure("kinetic-series", cryo, paths["kinetic-series"], exposure_s=0.5, frames=6)
    cryo.close()
    return paths


def _data_axes(fig) -> list:
    """The axes of ``fig`` that hold data (not colour bars), in its subfigures too."""
    return [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>" and ax.get_visible()]


def _has_data(ax) -> bool:
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), float)
        if y.size and np.isfinite(y).any() and not line.get_gid() == "axhline":
            return True
    for artist in [*ax.images, *ax.collections]:
        array = artist.get_array()
        if array is not None and np.ma.count(np.ma.masked_invalid(np.ma.asarray(array, float))) > 0:
            return True
        offsets = getattr(artist, "get_offsets", lambda: np.empty((0, 2)))()
        if len(offsets) and np.isfinite(np.asarray(offsets, float)).any():
            return True
    return bool(ax.patches)


def _labelled(label: str) -> bool:
    return bool(label.strip()) and bool(UNIT.search(label.strip()))


def check_figure(fig, name: str) -> None:
    axes = _data_axes(fig)
    assert axes, name
    assert any(_has_data(ax) for ax in axes), f"{name}: blank"
    for ax in axes:
        if not _has_data(ax):
            continue
        shares_x = [other for other in ax.get_shared_x_axes().get_siblings(ax) if other is not ax]
        shares_y = [other for other in ax.get_shared_y_axes().get_siblings(ax) if other is not ax]
        assert _labelled(ax.get_xlabel()) or any(_labelled(o.get_xlabel()) for o in shares_x), \
            f"{name}: x label {ax.get_xlabel()!r} without a unit"
        assert _labelled(ax.get_ylabel()) or any(_labelled(o.get_ylabel()) for o in shares_y), \
            f"{name}: y label {ax.get_ylabel()!r} without a unit"
    for cbar_ax in (ax for ax in fig.get_axes() if ax.get_label() == "<colorbar>"):
        assert _labelled(cbar_ax.get_ylabel() or cbar_ax.get_xlabel()), f"{name}: colour bar without a unit"
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    assert ".h5" not in title


def fit_artists(fig) -> list:
    found = []
    for ax in fig.get_axes():
        found += [a for a in [*ax.get_lines(), *ax.images] if str(a.get_gid() or "").startswith("fit:")]
    return found


def _attrs(path, name: str) -> dict:
    with h5py.File(path, "r") as f:
        return dict(f[f"entry/data/{name}"].attrs)


def check_fit(artist, path) -> None:
    """The artist draws the stored model: values the file stores, or the stored parameters' model."""
    name = artist.get_gid()[4:]
    with h5py.File(path, "r") as f:
        data = {k: f["entry/data"][k][()] for k in f["entry/data"]}
    if name == "g2":
        fit = {k[4:]: float(v) for k, v in _attrs(path, "g2").items() if k.startswith("fit_") and k != "fit_model"}
        lag = data["lag_ns"].astype(float)
        step = lag[1] - lag[0]
        # the stored model: normalization x (1 - C exp(-|t - t0|/tau)), IRF-convolved, averaged over each bin
        fine = np.linspace(-0.5, 0.5, 201)
        t = lag[:, None] + step * fine[None, :] - fit["t0_ns"]
        kernel_t = np.linspace(-6, 6, 241) * fit["irf_sigma_ns"]
        kernel = np.exp(-0.5 * (kernel_t / fit["irf_sigma_ns"]) ** 2)
        kernel /= kernel.sum()
        dip = (np.exp(-np.abs(t[..., None] - kernel_t) / fit["tau_ns"]) * kernel).sum(-1).mean(-1)
        expected = fit["normalization"] * (1 - fit["contrast"] * dip)
        np.testing.assert_array_equal(artist.get_xdata(), lag)
        np.testing.assert_allclose(artist.get_ydata(), expected, rtol=2e-3)
        assert abs(artist.get_ydata()[0] - fit["normalization"]) < 0.05 * fit["normalization"]
        assert f"N = {fit['normalization']:.3f}" in artist.get_label()
    elif name == "peak_energy_eV" and hasattr(artist, "get_array") and not hasattr(artist, "get_xdata"):
        drawn = np.ma.masked_invalid(np.ma.asarray(artist.get_array(), float))
        assert np.ma.count(drawn) > 0
        stored = data["peak_energy_eV"].astype(float)
        np.testing.assert_array_equal(drawn.compressed(), stored[~np.ma.getmaskarray(drawn)])
    elif name == "peak_energy_eV":
        stored = data["peak_energy_eV"].astype(float)
        x, y = np.asarray(artist.get_xdata(), float), np.asarray(artist.get_ydata(), float)
        if list(y) == [0.0, 1.0] and x[0] == x[1]:  # a vertical line at a stored peak energy
            y = x[:1]
        assert np.isin(y[np.isfinite(y)], stored).all() and np.isfinite(y).any()
        if "gap_nm" in data and y.size > 2:  # ramp: each marker at its step's gap or pressure
            pairs = {(a, b) for a, b in zip(data["gap_nm"], stored, strict=True)} | \
                    {(a, b) for a, b in zip(data.get("pressure_GPa", []), stored, strict=False)}
            assert all((a, b) in pairs for a, b in zip(x, y, strict=True))
    elif name == "on_threshold_counts":
        assert np.all(np.asarray(artist.get_ydata(), float) == _attrs(path, "counts")["on_threshold_counts"])
    else:
        raise AssertionError(f"no check for the fit {name}")


STORED_FITS = {"raster", "pressure-ramp", "g2", "time-trace"}


def test_every_demo_figure_is_labelled_non_blank_and_draws_the_stored_fit(demo_runs):
    for name, path in demo_runs.items():
        run = open_run(path)
        panels = figure_panels(run)
        figures = {kind: render(panel) for kind, panel in panels.items()}
        if len(panels) >= 2:
            figures["summary"] = summary_figure(panels, run)
        fits = 0
        for kind, fig in figures.items():
            check_figure(fig, f"{name} {kind}")
            for artist in fit_artists(fig):
                check_fit(artist, path)
                fits += 1
        if name in STORED_FITS:
            assert fits >= 2, f"{name}: the stored fit is not drawn"  # in its figure and in the summary


def test_plot_run_writes_the_same_figures_with_a_summary(demo_runs, tmp_path):
    for name, path in demo_runs.items():
        written = plot_run(path, tmp_path / name)
        kinds = sorted(p.stem[len(path.stem) + 1:] for p in written)
        panels = figure_panels(open_run(path))
        assert kinds == sorted([*panels, *(["summary"] if len(panels) >= 2 else [])]), name
        assert all(p.stat().st_size > 5_000 for p in written)


def test_maps_have_scale_bars_and_relative_axes(demo_runs):
    for name in ("raster", "confocal-raster"):
        run = open_run(demo_runs[name])
        for kind, panel in figure_panels(run).items():
            fig = render(panel)
            for ax in _data_axes(fig):
                if ax.images:
                    assert hasattr(ax, "scale_bar_length") and ax.scale_bar_length > 0, (name, kind)
                    assert ax.get_xlabel().startswith("x from")
                    low, high = ax.get_xlim()
                    assert low < 0 < high  # centred on the map


def test_cosmic_rays_removed_before_display_are_recorded(demo_runs, tmp_path):
    from tepl.plot_common import notes_of

    run = open_run(demo_runs["pressure-ramp"])
    for panel in figure_panels(run).values():
        fig = render(panel)
        assert any(re.fullmatch(r"\d+ cosmic-ray spikes? removed before display .*", n) for n in notes_of(fig))


def test_drift_ticks_are_whole_scans(demo_runs):
    fig = render(figure_panels(open_run(demo_runs["confocal-raster"]))["drift"])
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_ramp_energy_axis_is_zoomed_to_the_band(demo_runs):
    run = open_run(demo_runs["pressure-ramp"])
    fig = render(figure_panels(run)["contour"])
    low, high = fig.axes[0].get_ylim()
    energy = run.data["energy_eV"]
    assert high - low < 0.5 * (energy.max() - energy.min())
    peaks = run.data["peak_energy_eV"]
    assert low < np.nanmin(peaks) and np.nanmax(peaks) < high
