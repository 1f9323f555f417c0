"""The console's live views and station table against the run's own rules and files: a g2 fit only where the run
fits, an ON/OFF threshold only where the blinking analysis finds two levels, the decay of the whole scan, decade
labels on a log axis, the point rows of runs whose writes name no point, the calibration's lamp lines, and the
garbage collector given back when the console closes mid-run."""

from __future__ import annotations

import gc
import math

import h5py
import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")


from tepl.data.runfile import read_run  # noqa: E402
from tepl.gui.console import Console  # noqa: E402
from tepl.gui.labels import shown_label  # noqa: E402
from tepl.gui.logaxis import labelled_mantissas, mantissa  # noqa: E402
from tepl.station import build_station  # noqa: E402
from tests.gui_helpers import console_on, start, station_fixture  # noqa: E402


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TEPL_CONFIG_DIR", str(tmp_path / "config"))


confocal_station = station_fixture("confocal-sim")


cryo_station = station_fixture("cryo-sim")


def _start(qtbot, console: Console, name: str, **values) -> None:
    start(qtbot, console, name, **values)
    assert console.is_running(), console.log_pane.toPlainText()


def _run(qtbot, console: Console, name: str, **values):
    _start(qtbot, console, name, **values)
    qtbot.waitUntil(lambda: not console.is_running(), timeout=30_000)
    run = read_run(console.run_path)
    assert run.status == "complete", console.log_pane.toPlainText()
    return run


def test_live_g2_fit_follows_the_runs_own_refusal(qtbot, confocal_station, tmp_path):
    """The pulsed confocal station's g2 holds too few coincidences: the run refuses a fit, so must the view, even
    where a fit of the curve alone would converge (a few stray coincidences make spikes a fit can follow)."""
    from tepl.analysis.g2 import fit_g2
    from tepl.procedures.counting import too_few_for_g2_fit

    console = console_on(qtbot, confocal_station, tmp_path)
    for _ in range(6):  # until the curve alone would give a fit (most runs): the case the rule must stop
        run = _run(qtbot, console, "g2", acquisition_s=5.0, block_s=0.5)
        d = run.data
        lag_ns, g2 = d["lag_ns"].astype(float), d["g2"].astype(float)
        finite = np.isfinite(g2)
        curve_fit = fit_g2(lag_ns[finite], g2[finite]) if finite.sum() >= 8 else None
        if curve_fit is not None and curve_fit.ok and 0.0 <= curve_fit.contrast <= 1.0:
            break
    else:
        pytest.fail("no run gave a curve a fit would follow")
    with h5py.File(console.run_path, "r") as f:
        fitted_by_run = "fit_tau_ns" in f["/entry/data/g2"].attrs
    assert too_few_for_g2_fit(d["photons"][0], d["photons"][1], d["coincidences"]) and not fitted_by_run
    np.testing.assert_array_equal(np.asarray(console.views.curve_data()[1], np.float32), d["g2"])  # drawn ...
    assert console.views.g2_fit() is None  # ... but not fitted
    assert console.views.fit_curve.yData is None or len(console.views.fit_curve.yData) == 0
    assert "τ" not in console.views.spectrum_plot.plotItem.titleLabel.text


def test_trace_threshold_only_where_the_analysis_finds_two_levels(qtbot, confocal_station, tmp_path):
    from tepl.analysis.blinking import on_fraction

    console = console_on(qtbot, confocal_station, tmp_path)
    run = _run(qtbot, console, "time-trace", acquisition_s=1.0, bin_s=0.01)
    counts = run.data["counts"].astype(float)
    views = console.views
    for n in (counts.size // 3, counts.size):  # part of the trace (as mid-run), then all of it
        views.reset(console.plan)
        views.on_data("counts", slice(0, n), counts[:n])
        views.redraw()
        truth = on_fraction(np.rint(counts[:n]))
        title = views.map_plot.plotItem.titleLabel.text
        assert (views.trace_threshold() is not None) == truth.blinks
        assert views.threshold_line.isVisible() == truth.blinks
        assert ("counts/bin" in title and "%" in title) == truth.blinks, title  # threshold and ON fraction
    assert not on_fraction(np.rint(counts)).blinks  # this spot does not blink: the case that was wrong


def _flim_run(qtbot, station, tmp_path):
    console = console_on(qtbot, station, tmp_path)
    run = _run(qtbot, console, "confocal-raster", size_x_um=1.0, size_y_um=1.0, pixel_um=0.25, dwell_s=0.005)
    return console, run


def test_decay_view_keeps_the_whole_scans_decay_after_the_end(qtbot, cryo_station, tmp_path):
    console, run = _flim_run(qtbot, cryo_station, tmp_path)
    panel = console.views.panel("flim_scan", "decay")
    t_ns, shown = panel.data()
    scan = run.data["flim_scan"].astype(float)  # [channel, y, x, bin]
    np.testing.assert_array_equal(t_ns, run.data["tcspc_time_ns"])
    np.testing.assert_array_equal(shown, scan.sum(axis=(1, 2)))
    assert shown.sum() > 0
    drawn = panel.curves[0].yData
    assert np.isfinite(drawn).sum() == (scan.sum(axis=(1, 2))[0] > 0).sum()


def test_decay_log_axis_labels_decades_only(qtbot, cryo_station, tmp_path):
    console, run = _flim_run(qtbot, cryo_station, tmp_path)
    panel = console.views.panel("flim_scan", "decay")
    vb = panel.plot.getPlotItem().getViewBox()
    vb.autoRange()
    axis = panel.plot.getAxis("left")
    low, high = vb.viewRange()[1]
    assert axis.range == pytest.approx([low, high])
    counts = panel.data()[1]  # what the panel draws (zero bins are not drawn on the log axis)
    assert counts.max() > 0
    assert math.log10(counts.max()) <= high and math.log10(counts[counts > 0].min()) >= low
    labelled = []
    for spacing, values in axis.tickValues(low, high, 400):
        for value, text in zip(values, axis.tickStrings(values, axis.scale, spacing), strict=True):
            if text:
                labelled.append(value)
    keep = labelled_mantissas(low, high)
    assert len(labelled) >= 2
    assert all(any(math.isclose(mantissa(v), k, rel_tol=1e-6) for k in keep) for v in labelled), labelled
    if math.floor(high) - math.ceil(low) >= 1:  # two decades or more in view: decades only
        assert all(math.isclose(v, round(v), abs_tol=1e-9) for v in labelled), labelled


def test_block_rows_of_a_g2_are_filled_from_its_progress(qtbot, confocal_station, tmp_path):
    console = console_on(qtbot, confocal_station, tmp_path)
    _run(qtbot, console, "g2", acquisition_s=1.0, block_s=0.25)
    with h5py.File(console.run_path, "r") as f:
        measured_s = float(f["/entry/tags"].attrs["duration_s"])
    values = console.run_state.values
    # the last block: it started where the measurement less its duration ends
    assert values["start_s"] + values["duration_s"] == pytest.approx(measured_s)
    for name in ("start_s", "duration_s"):
        assert console.run_state.table.item(console.run_state.rows[name], 1).text() != "-"


def test_calibrate_shows_the_lamp_lines_it_found(qtbot, tmp_path):
    st = build_station()
    try:
        console = console_on(qtbot, st, tmp_path)
        run = _run(qtbot, console, "calibrate", exposure_s=0.1, accumulations=1)
        d = run.data
        x, y = console.views.main_curve_data()
        np.testing.assert_array_equal(np.asarray(x, np.float32), d["line_pixel"])
        np.testing.assert_array_equal(np.asarray(y, np.float32), d["line_wavelength_nm"])
        assert x.size >= 3
        assert console.views.main_dock.isVisibleTo(console)
        plot = console.views.map_plot
        assert shown_label(plot.getAxis("bottom")) == "line pixel (px)"
        assert shown_label(plot.getAxis("left")) == "line wavelength (nm)"
        # the shot's exposure and accumulations, from the plan, once the run says the shot is done
        assert console.run_state.values["exposure_s"] == pytest.approx(0.1)
        assert console.run_state.values["accumulations"] == 1
    finally:
        st.close()


def test_closing_the_console_mid_run_gives_the_collector_back(qtbot, tmp_path):
    st = build_station()
    gc.unfreeze()
    try:
        window = console_on(qtbot, st, tmp_path)
        _start(qtbot, window, "raster", exposure_s=0.05)
        assert gc.get_freeze_count() > 0  # the run froze what was alive at its start
        window.close()
        assert not window.worker.is_running()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        st.close()
