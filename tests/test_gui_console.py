"""The console's docks and controls against the twin: maps with their colour bars and cursor, the ramp, g2 and
trace views, live state with limits, click-to-go, region-to-scan, a queue of presets, the manual panel and its
abort, the data browser, the saved layout and the screenshot session."""

from __future__ import annotations

import json
import threading

import h5py
import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt5.QtCore import Qt  # noqa: E402

from tepl.analysis.strain import pressure_GPa_from_strain, strain_percent_from_shift  # noqa: E402
from tepl.config import CONFIG_DIR  # noqa: E402
from tepl.data.runfile import read_run  # noqa: E402
from tepl.gui.console import Console  # noqa: E402
from tepl.gui.labels import shown_label  # noqa: E402
from tepl.gui.logview import LogView  # noqa: E402
from tepl.gui.runstate import alarm  # noqa: E402
from tepl.limits import LimitError, Range  # noqa: E402
from tepl.procedures import make_procedure  # noqa: E402
from tepl.station import build_station  # noqa: E402
from tests.gui_helpers import console_on, start  # noqa: E402


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TEPL_CONFIG_DIR", str(tmp_path / "config"))


_console = console_on
_start = start


def _finish(qtbot, console: Console, timeout_ms: int = 30_000):
    qtbot.waitUntil(lambda: not console.is_running(), timeout=timeout_ms)
    return read_run(console.run_path)


def test_raster_maps_colour_bars_current_pixel_cursor_and_spectrum_on_click(qtbot, station, tmp_path,
                                                                             monkeypatch):
    console = _console(qtbot, station, tmp_path)
    acquire, acquired, held = station.spectrometer.acquire, [], threading.Event()

    def acquire_held_at_the_fourth(*args, **kwargs):  # worker thread: the run waits mid-way for the check
        acquired.append(1)
        if len(acquired) == 4:
            held.wait(10.0)
        return acquire(*args, **kwargs)

    monkeypatch.setattr(station.spectrometer, "acquire", acquire_held_at_the_fourth)
    _start(qtbot, console, "raster", size_x_um=0.03, size_y_um=0.02, pixel_um=0.005, exposure_s=0.05)
    # mid-run: the pixels not yet measured are NaN (grey behind a transparent image), never a dark value
    qtbot.waitUntil(lambda: 3 <= np.isfinite(console.views.map_data()).sum(), timeout=10_000)
    console.views.redraw()
    shown = console.views.map.values.copy()
    states_mid_run = dict(console.run_state.states)
    held.set()
    assert np.isnan(shown).any() and np.isfinite(shown).any()
    assert console.views.map.background.brush().color().getRgb()[:3] == (128, 128, 128)
    run = _finish(qtbot, console)
    d = run.data
    views = console.views
    # four maps side by side, each with its colour bar, from the plan's views
    maps = [views.panel(name, "map") for name in ("height_nm", "peak_energy_eV", "peak_fwhm_eV")]
    for panel in maps:
        np.testing.assert_array_equal(panel.data().astype(np.float32), d[panel.view.dataset])
        assert panel.map.colorbar.levels()[1] > panel.map.colorbar.levels()[0]
    np.testing.assert_allclose(views.map_data(), d["spectra"].astype(float).sum(axis=-1), rtol=1e-5)
    assert "integrated counts (" in views.map.colorbar.axis.labelString()
    fwhm_bar = maps[2].map.colorbar.axis  # the FWHM in eV (~0.1-0.3) reads in meV: no "(eV) (x0.001)"
    assert fwhm_bar.labelString().endswith("peak FWHM (meV)</span>") and fwhm_bar.autoSIPrefixScale == 1000.0
    height_bar = maps[0].map.colorbar.axis  # a unit with its prefix already: never "mnm"
    assert height_bar.labelString().endswith("height (nm) </span>") and height_bar.autoSIPrefixScale == 1.0
    console.resize(1600, 1000)  # four maps side by side: each colour bar whole in its plot, its label beside
    console.show()  # the tick labels (pyqtgraph's fixed 45 px put the label over them)
    qtbot.waitExposed(console)
    qtbot.wait(50)
    for image in [views.map] + [panel.map for panel in maps]:
        bar = image.colorbar
        assert bar.mapRectToScene(bar.boundingRect()).right() <= image.plot.viewport().width() + 0.5
        assert bar.axis.width() >= bar.axis.textWidth + bar.axis.label.boundingRect().height() * 0.8
    # the colour levels follow the data unless the operator dragged them
    lo, hi = views.map.colorbar.levels()
    assert np.nanmin(views.map_data()) <= hi and lo <= np.nanmax(views.map_data())
    # the pixel written last is outlined: the snake raster ends on the last line
    iy, ix = views.map.current
    assert iy == d["y_um"].size - 1 and np.isfinite(d["spectra"][iy, ix, 0])
    # the cursor readout: position and the value of the pixel under it
    x, y = float(d["x_um"][1]), float(d["y_um"][2])
    text = views.map.describe(x, y)
    assert f"x {x:.4f} µm" in text and f"{views.map_data()[2, 1]:.6g}" in text
    # a click shows the spectrum measured there
    views._on_map_click(x, y, Qt.NoModifier, False)
    np.testing.assert_array_equal(views.spectrum_curve.yData.astype(np.float32), d["spectra"][2, 1])
    assert "pixel (1, 2)" in views.spectrum_plot.plotItem.titleLabel.text
    # the live state showed the plan's point columns with their station limits
    travel = station.limits.travel_um["x"]
    assert console.run_state.limits["x_um"] == travel
    assert console.run_state.values["x_um"] == pytest.approx(d["x_um"][ix])
    # what the run reported beside the point: the tip height written per pixel, the tip's contact and the
    # excitation as the run's events state them (the file's log), and the safe state it ended in (the file's)
    assert console.run_state.values["height_nm"] == pytest.approx(float(d["height_nm"][iy, ix]))
    engaged = next(line for line in run.log if "engaged at" in line)
    contact_z = engaged.rsplit("contact z = ", 1)[1].split()[0]
    assert states_mid_run["tip"].startswith("in contact") and f"contact Z {contact_z} nm" in states_mid_run["tip"]
    opened = next(line for line in run.log if "excitation open" in line)
    assert states_mid_run["excitation"] == "open (" + opened.split("excitation open (", 1)[1]
    with h5py.File(run.path, "r") as f:
        safe = {k[len("safe_state_"):]: str(v) for k, v in f["entry"].attrs.items() if k.startswith("safe_state_")}
    assert safe and console.run_state.safe_state == safe and not console.run_state.states
    text = console.run_state.state_label.text()
    assert text.startswith("after the run: ") and all(f"{role} {what}" in text for role, what in safe.items())
    # the next raster reuses the maps' docks, emptied and on its own grid
    docks = list(views.panel_docks)
    _start(qtbot, console, "raster", size_x_um=0.01, size_y_um=0.015, pixel_um=0.005, exposure_s=0.02)
    assert views.panel_docks == docks
    second = _finish(qtbot, console)
    for panel in maps:
        assert panel.data().shape == second.data[panel.view.dataset].shape
        np.testing.assert_array_equal(panel.data().astype(np.float32), second.data[panel.view.dataset])
        np.testing.assert_array_equal(panel.map.x, second.data["x_um"])


def test_click_to_go_asks_moves_within_travel_and_refuses_beyond_it_as_the_cli(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    asked = []
    console.confirm = lambda text: asked.append(text) or False
    console.views.map_clicked.emit(40.0, 60.0, Qt.NoModifier, True)  # double-click, answered No
    assert asked and "x = 40.0000 µm" in asked[0]
    assert list(station.world.stage_um[:2]) == [50.0, 50.0]
    console.confirm = lambda text: True
    console.views.map_clicked.emit(40.0, 60.0, Qt.NoModifier, True)
    qtbot.waitUntil(lambda: not console.manual.busy, timeout=5_000)
    assert list(station.world.stage_um[:2]) == pytest.approx([40.0, 60.0], abs=0.01)
    with pytest.raises(LimitError) as cli:
        station.stage.move_to_um(x=150.0)
    assert console.click_to_go(150.0, 60.0)
    qtbot.waitUntil(lambda: not console.manual.busy, timeout=5_000)
    message, ok = console.manual.last_result
    assert not ok and str(cli.value) in message and str(cli.value) in console.log_view.shown_text()
    assert list(station.world.stage_um[:2]) == pytest.approx([40.0, 60.0], abs=0.01)
    # ctrl-click: a point of interest, queued for a distance sweep there
    console.views.map_clicked.emit(41.0, 61.0, Qt.ControlModifier, False)
    assert console.points_of_interest == [(41.0, 61.0)]
    assert console.queue_points("distance-sweep") == 1
    entry = console.queue.entries[-1]
    assert entry["procedure"] == "distance-sweep" and (entry["values"]["x_um"], entry["values"]["y_um"]) == (41.0, 61.0)


def test_region_drawn_on_the_map_is_scanned_next_and_refused_past_the_travel(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    console.region_button.setChecked(True)
    console.region.setPos([20.0, 30.0])
    console.region.setSize([0.04, 0.03])
    filled = console.use_region()
    assert "raster" in filled and "confocal-raster" in filled
    values = console.values("raster")
    assert values["center_x_um"] == pytest.approx(20.02) and values["center_y_um"] == pytest.approx(30.015)
    assert values["size_x_um"] == pytest.approx(0.04) and values["size_y_um"] == pytest.approx(0.03)
    # the scan of the region: its pixels inside the region, measured there on the twin's stage
    _start(qtbot, console, "raster", pixel_um=0.01, exposure_s=0.01)
    run = _finish(qtbot, console)
    assert run.status == "complete", console.log_view.shown_text()
    x_um, y_um = run.data["x_um"], run.data["y_um"]
    assert 20.0 <= x_um.min() and x_um.max() <= 20.04 and 30.0 <= y_um.min() and y_um.max() <= 30.03
    assert np.isfinite(run.data["spectra"]).all()
    assert x_um.min() - 0.001 <= station.world.stage_um[0] <= x_um.max() + 0.001  # the stage ended in the region
    assert y_um.min() - 0.001 <= station.world.stage_um[1] <= y_um.max() + 0.001
    # a region reaching past the stage's travel: refused before anything moves, in the CLI's words
    console.region.setPos([99.97, 30.0])
    console.region.setSize([0.06, 0.03])
    console.use_region()
    with pytest.raises(LimitError) as cli:
        make_procedure("raster", **console.values("raster")).plan(station)
    files = set((tmp_path / "runs").glob("*.h5"))
    _start(qtbot, console, "raster")
    qtbot.waitUntil(lambda: not console.is_running(), timeout=10_000)
    assert console.run_status == "refused" and str(cli.value) in console.log_view.shown_text()
    assert set((tmp_path / "runs").glob("*.h5")) == files


def test_a_queue_of_three_runs_with_presets_survives_a_restart_and_runs_in_order(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    console.select_procedure("line-scan")
    console.set_values("line-scan", {"length_um": 0.01, "pixel_um": 0.005, "exposure_s": 0.02})
    console.save_preset("short")
    console.set_values("line-scan", {"length_um": 0.02, "pixel_um": 0.005, "exposure_s": 0.03})
    console.save_preset("longer")
    console.queue.add_preset("short")
    console.queue.add_preset("longer")
    console.set_values("line-scan", {"length_um": 0.015, "exposure_s": 0.04})
    console.enqueue("line-scan")
    console.close()
    saved = json.loads((tmp_path / "settings" / "queue.json").read_text())
    assert [e.get("label") for e in saved] == ["short", "longer", ""]
    again = _console(qtbot, station, tmp_path)  # the queue and presets are back
    assert again.queue.list.count() == 3 and again.presets.names() == ["short", "longer"]
    assert again.run_queue()
    qtbot.waitUntil(lambda: not again.is_running() and not again.queue.entries and not again._queue_running,
                    timeout=60_000)
    files = sorted((tmp_path / "runs").glob("line-scan-*.h5"), key=lambda p: p.stat().st_mtime)
    runs = [read_run(p) for p in files]
    assert [r.status for r in runs] == ["complete"] * 3
    assert [r.parameters["exposure_s"][0] for r in runs] == pytest.approx([0.02, 0.03, 0.04])
    assert [r.data["spectra"].shape[0] for r in runs] == [3, 5, 4]
    assert "queue done" in again.log_view.shown_text()


def test_manual_panel_acts_through_the_roles_is_refused_during_a_run_and_aborts_it(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    manual = console.manual
    qtbot.mouseClick(manual.buttons["excitation shutter open"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not manual.busy, timeout=5_000)
    assert manual.last_result == ("excitation shutter open: done", True)
    assert station.excitation_shutter.is_open()
    qtbot.mouseClick(manual.buttons["excitation shutter close"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not manual.busy, timeout=5_000)
    assert not station.excitation_shutter.is_open()
    manual.laser_power.setValue(0.25)  # within limits.max_laser_power_mW
    qtbot.mouseClick(manual.buttons["laser power set"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not manual.busy, timeout=5_000)
    assert station.laser.power_mW() == pytest.approx(0.25)
    with pytest.raises(LimitError) as cli:
        station.laser.set_power_mW(7.0)
    manual.laser_power.setValue(7.0)
    qtbot.mouseClick(manual.buttons["laser power set"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not manual.busy, timeout=5_000)
    assert manual.last_result == (f"laser power 7 mW refused: {cli.value}", False)
    assert station.laser.power_mW() == pytest.approx(0.25)
    manual.jog_step.setValue(0.5)
    qtbot.mouseClick(manual.buttons["stage jog +x"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not manual.busy, timeout=5_000)
    assert station.world.stage_um[0] == pytest.approx(50.5, abs=0.01)
    _start(qtbot, console, "raster", size_x_um=0.15, size_y_um=0.15, pixel_um=0.005, exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(console.views.map_data()).sum() >= 2, timeout=10_000)
    qtbot.mouseClick(manual.buttons["stage go to"], Qt.LeftButton)
    assert manual.last_result == ("stage go to x 0.0000, y 0.0000 µm refused: a run holds the station", False)
    qtbot.mouseClick(manual.abort_button, Qt.LeftButton)
    run = _finish(qtbot, console)
    assert run.status == "aborted" and run.reason == "aborted from the manual panel"
    assert station.world.tip_distance_nm() > 100 and station.world.shutter_open is False
    assert console.run_state.remaining_label.text() == "run aborted"


def _brightest_dot_um(station) -> tuple[float, float]:
    truth = station.world.ground_truth()["sample"]
    i = int(np.argmax(truth["orientation"]))
    return truth["x_nm"][i] / 1000.0, truth["y_nm"][i] / 1000.0


def test_pressure_ramp_panel_draws_the_files_values_against_the_station_limits(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    x_um, y_um = _brightest_dot_um(station)
    _start(qtbot, console, "pressure-ramp", x_um=x_um, y_um=y_um, start_gap_nm=12.0, min_gap_nm=5.0,
           gap_step_nm=0.5, exposure_s=0.05)
    run = _finish(qtbot, console)
    assert run.status == "complete", console.log_view.shown_text()
    d = run.data
    panel = console.views.panel("peak_intensity", "ramp")
    shown = panel.data()
    for name in ("peak_intensity", "pressure_GPa", "force_nN"):
        np.testing.assert_array_equal(shown[name].astype(np.float32), d[name])
    np.testing.assert_array_equal(shown["contour"].astype(np.float32), d["spectra"])
    assert panel.limits["pressure_GPa"] == station.limits.pressure_GPa
    assert panel.limits["force_nN"] == station.limits.force_nN
    lines = [item for item in panel.limit_plots["force_nN"].getPlotItem().items if hasattr(item, "value")]
    assert [line.value() for line in lines] == [station.limits.force_nN.high]  # the limit drawn
    state = console.run_state
    assert state.values["force_nN"] == pytest.approx(float(d["force_nN"][np.isfinite(d["force_nN"])][-1]), rel=1e-6)
    assert state.limits["force_nN"] == station.limits.force_nN
    assert console.views.main_dock.isHidden()  # the ramp panel is the view; no counts-vs-step main view
    # the quench onset is marked where the twin's dot stops brightening (its quench gap), on the press
    quench_gap = float(station.world.ground_truth()["sample"]["quench_gap_nm"])
    step = panel.quench_step
    assert step is not None and d["direction"][step] == 1 and abs(d["gap_nm"][step] - quench_gap) <= 0.5
    assert panel.quench_mark.isVisible() and panel.quench_mark.value() == step
    # peak shift vs pressure: the file's peak energy from the unstrained start, in meV; where the tip presses,
    # the file's pressure is the strain model's pressure of that shift (the procedure's own conversion)
    pressure, shift_meV = panel.shift_curve.getData()
    np.testing.assert_array_equal(pressure.astype(np.float32), d["pressure_GPa"][np.isfinite(d["peak_energy_eV"])])
    pressing = pressure > 0
    assert pressing.sum() >= 3
    model = station.strain_model
    expected = pressure_GPa_from_strain(strain_percent_from_shift(shift_meV[pressing] / 1000.0, model), model)
    np.testing.assert_allclose(expected, pressure[pressing], rtol=1e-3)
    for side, label in (("left", "peak shift (meV)"), ("bottom", "pressure (GPa)")):
        text = panel.shift_plot.getAxis(side).labelString()
        assert label in text and "(x" not in text  # the unit as labelled, never scaled by pyqtgraph


def test_distance_sweep_draws_the_fitted_approach_curve_with_its_highest_point(qtbot, station, tmp_path):
    from tepl.procedures.spectral import live_fit

    console = _console(qtbot, station, tmp_path)
    x_um, y_um = _brightest_dot_um(station)
    _start(qtbot, console, "distance-sweep", x_um=x_um, y_um=y_um, start_gap_nm=20.0, stop_gap_nm=12.5,
           gap_step_nm=1.0, exposure_s=0.05)
    run = _finish(qtbot, console)
    assert run.status == "complete", console.log_view.shown_text()
    panel = console.views.panel("spectra", "approach")
    qtbot.waitUntil(lambda: not console.views.busy, timeout=30_000)  # the fits run off the UI thread
    console.views.redraw()
    fit = live_fit(run.data["wavelength_nm"], run.data["spectra"])  # the runs' own fit of the file's spectra
    shown = panel.data()
    np.testing.assert_allclose(shown["intensity"], np.where(fit.ok, fit.amplitude, np.nan), rtol=1e-9)
    np.testing.assert_allclose(shown["energy"], np.where(fit.ok, fit.center_eV, np.nan), rtol=1e-9)
    np.testing.assert_array_equal(panel.series.x.astype(np.float32), run.data["gap_nm"])
    # the sweep stays above the dot: the intensity grows to the closest gap, marked as the highest so far
    ok = np.isfinite(shown["intensity"])
    assert shown["intensity"][ok][-1] > 3 * shown["intensity"][ok][0]
    assert panel.threshold is None and panel.highest == pytest.approx(float(run.data["gap_nm"][-1]))
    assert panel.mark.isVisible() and "highest so far" in panel.mark.label.format
    assert shown_label(panel.plot.getAxis("bottom")) == "gap (nm)"
    assert console.views.main_dock.isHidden()  # the fitted curves are the main view


def test_alarm_levels_near_a_limit():
    travel = Range(0.0, 100.0, "µm", "limits.stage_travel_um.x")
    assert [alarm(v, travel) for v in (50.0, 97.0, 2.0, 101.0)] == ["ok", "near", "near", "outside"]
    exposure = Range(0.001, 120.0, "s", "limits.exposure_s")
    assert alarm(0.05, exposure) == "ok" and alarm(119.0, exposure) == "near"
    force = Range(0.0, 20.0, "nN", "limits.max_force_nN")
    assert [alarm(v, force) for v in (0.0, 18.0, 19.5, 21.0)] == ["ok", "ok", "near", "outside"]


def test_log_levels_and_filter(qtbot):
    log = LogView()
    qtbot.addWidget(log)
    log.add("raster started")
    log.add("raster refused: exposure", "warning")
    log.add("run failed: controller fell over", "error")
    assert log.shown_text().count("\n") == 2
    log.level_box.setCurrentText("warning")
    assert "started" not in log.shown_text() and "WARNING: raster refused" in log.shown_text()
    log.filter_edit.setText("controller")
    assert log.shown_text().endswith("ERROR: run failed: controller fell over") and "refused" not in log.shown_text()
    with pytest.raises(ValueError, match="log level"):
        log.add("x", "loud")


def test_log_keeps_the_newest_message_in_view_until_the_operator_scrolls_up(qtbot):
    log = LogView()
    qtbot.addWidget(log)
    log.resize(400, 120)
    log.show()
    bar = log.pane.verticalScrollBar()
    for i in range(60):
        log.add(f"line {i}")
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    bar.setValue(0)  # a re-layout (a run's views laid out) leaves the pane scrolled off the end
    log.add("run complete")
    assert bar.value() == bar.maximum()  # the newest message is in view
    bar.triggerAction(bar.SliderToMinimum)  # the operator scrolls up to read
    log.add("another message")
    assert bar.value() == 0
    bar.triggerAction(bar.SliderToMaximum)  # and back to the end: followed again
    log.add("the newest")
    assert bar.value() == bar.maximum()


def test_layout_is_saved_per_user_and_restored(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    console.views.moveDock(console.docks["log"], "top", console.docks["run"])
    saved = console.views.saveState()
    console.close()
    assert (tmp_path / "settings" / "layout.json").exists()
    again = _console(qtbot, station, tmp_path)
    assert _arrangement(again.views.saveState()) == _arrangement(saved)  # which dock is where (sizes aside)
    assert ["dock", "log"] in _arrangement(saved)[0][1][0][1]  # the log went to the column of the run form


def _arrangement(state):
    """A dock area's state without its sizes: nested [kind, contents] lists."""
    def strip(node):
        kind, contents = node[0], node[1]
        return [kind, contents] if kind == "dock" else [kind, [strip(c) for c in contents]]
    return [strip(json.loads(json.dumps(state["main"])))]


def test_data_browser_opens_a_past_run_with_its_plot_and_metadata(qtbot, station, tmp_path):
    console = _console(qtbot, station, tmp_path)
    _start(qtbot, console, "line-scan", length_um=0.02, pixel_um=0.005, exposure_s=0.02)
    run = _finish(qtbot, console)
    browser = console.browser
    assert browser.files.count() == 1 and browser.files.item(0).text() == console.run_path.name
    browser.files.setCurrentRow(0)
    assert browser.run is not None and "line-scan, complete" in browser.metadata.toPlainText()
    np.testing.assert_allclose(browser.curve.yData, run.data["spectra"].astype(float).sum(axis=-1), rtol=1e-6)
    np.testing.assert_allclose(browser.curve.xData, run.data["x_um"])
    (tmp_path / "runs" / "broken.h5").write_text("not hdf5")
    assert not browser.open(tmp_path / "runs" / "broken.h5")
    assert "cannot be read" in browser.metadata.toPlainText()


def test_g2_fit_and_trace_threshold_are_the_analysis_of_the_file(qtbot, tmp_path):
    from tepl.analysis.blinking import on_fraction
    from tepl.analysis.g2 import fit_g2

    st = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    try:
        console = _console(qtbot, st, tmp_path)
        _start(qtbot, console, "g2", acquisition_s=2.0, block_s=0.5)
        run = _finish(qtbot, console)
        fit = console.views.g2_fit()
        truth = fit_g2(run.data["lag_ns"].astype(float), run.data["g2"].astype(float))
        assert fit.tau_ns == pytest.approx(truth.tau_ns, rel=1e-3)
        assert fit.contrast == pytest.approx(truth.contrast, rel=1e-3, abs=1e-4)
        assert f"τ = {truth.tau_ns:.3g} ns" in console.views.spectrum_plot.plotItem.titleLabel.text
        assert np.isfinite(console.views.fit_curve.yData).all()
        _start(qtbot, console, "time-trace", acquisition_s=1.0, bin_s=0.01)
        run = _finish(qtbot, console)
        counts = run.data["counts"].astype(float)
        assert console.views.trace_threshold() == pytest.approx(on_fraction(np.rint(counts)).threshold)
        assert console.views.threshold_line.isVisible()
        assert console.views.hist_curve.yData.sum() == counts.size  # every bin in the histogram
    finally:
        st.close()


def test_screenshot_session_shows_data_in_every_view(qtbot, tmp_path):
    from tepl.gui.screenshots import empty_views, take_screenshots

    records = take_screenshots(tmp_path / "shots", configs=[CONFIG_DIR / "sim.yaml"],
                               procedures=("raster", "distance-sweep"), size=(1200, 800))
    assert [(r["procedure"], r["moment"]) for r in records] == [
        (p, m) for p in ("raster", "distance-sweep") for m in ("start", "mid", "end")]
    for record in records:
        assert (tmp_path / "shots" / record["path"].split("/")[-1]).stat().st_size > 10_000
        for view in record["views"]:
            assert view["x_label"] and view["y_label"], view
            if view["kind"] == "map":
                assert view["colour_bar"], view
    for record in (r for r in records if r["moment"] == "end"):
        assert record["status"] == "complete"
        assert all(v["values"] > 0 for v in record["views"]), record["views"]
        assert not empty_views(record)
    mid = next(r for r in records if r["procedure"] == "raster" and r["moment"] == "mid")
    assert mid["status"] == "running"
    # the sweep's "mid" picture is taken where its approach curve has fitted points (its far gaps have none)
    sweep = next(r for r in records if r["procedure"] == "distance-sweep" and r["moment"] == "mid")
    assert sweep["status"] == "running" and not empty_views(sweep)
    assert next(v for v in sweep["views"] if v["kind"] == "approach")["values"] >= 6  # 3+ points, 2 curves
    assert json.loads((tmp_path / "shots" / "index.json").read_text()) == records
