"""The operator console: form from the parameter specs, refusals, a live run, abort, and the worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox  # noqa: E402

from tepl.config import CONFIG_DIR  # noqa: E402
from tepl.data.runfile import read_run  # noqa: E402
from tepl.gui.console import FINAL_STATUSES, Console  # noqa: E402
from tepl.gui.labels import shown_label  # noqa: E402
from tepl.gui.worker import ProcedureWorker  # noqa: E402
from tepl.procedures import PROCEDURES, Procedure  # noqa: E402
from tepl.procedures.params import Parameter  # noqa: E402
from tepl.station import build_station  # noqa: E402
from tests.gui_helpers import station_fixture  # noqa: E402


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path, monkeypatch):
    """The console's per-user files (layout, presets, queue) go to a temporary folder."""
    monkeypatch.setenv("TEPL_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def sim_station():
    st = build_station()
    yield st
    st.close()


@pytest.fixture
def console(qtbot, sim_station, tmp_path):
    window = Console(sim_station, tmp_path / "runs")
    qtbot.addWidget(window)
    yield window
    window.close()


def _start(qtbot, console: Console, name: str, **values) -> dict:
    console.select_procedure(name)
    for key, value in values.items():
        editor = console.editor(name, key)
        if isinstance(editor, QComboBox):
            editor.setCurrentText(value)
        else:
            editor.setValue(value)
    qtbot.mouseClick(console.start_button, Qt.LeftButton)
    at_start = {"running": console.is_running(), "start_enabled": console.start_button.isEnabled(),
                "abort_enabled": console.abort_button.isEnabled()}
    # the worker plans the run (limits checked there) before anything moves: wait for the plan or the refusal
    qtbot.waitUntil(lambda: console.plan is not None or not console.is_running(), timeout=10_000)
    return at_start


def test_form_lists_every_parameter_with_bounds_units_and_doc(console, sim_station):
    for name, cls in PROCEDURES.items():
        assert set(console.values(name)) == {p.name for p in cls.parameters}
        for p in (p.on_station(sim_station.limits) for p in cls.parameters):
            editor = console.editor(name, p.name)
            assert p.doc in editor.toolTip()
            if p.kind is bool:
                assert isinstance(editor, QCheckBox) and editor.isChecked() == p.default
            elif p.choices:
                assert isinstance(editor, QComboBox)
                assert [editor.itemText(i) for i in range(editor.count())] == list(p.choices)
                assert editor.currentText() == p.default
            else:
                assert isinstance(editor, QSpinBox if p.kind is int else QDoubleSpinBox), (name, p.name)
                if p.low is not None:
                    assert editor.minimum() == p.low, (name, p.name)
                if p.high is not None:
                    assert editor.maximum() == p.high, (name, p.name)
                    editor.setValue(p.high * 10 + 1)  # a spin box holds its parameter inside its bounds
                    assert editor.value() == p.high
                editor.setValue(p.default)
                assert editor.value() == p.default
                assert editor.suffix().strip() == p.unit
        # the form's defaults make a valid procedure
        assert cls(**console.values(name)).params.values == cls().params.values


@pytest.mark.parametrize(
    ("name", "values", "words"),
    [
        ("pressure-ramp", {"min_gap_nm": 20.0}, ("min_gap_nm", "start_gap_nm")),  # ParameterError
        ("raster", {"center_x_um": 99.0, "size_x_um": 10.0}, ("scan corner x",)),  # LimitError: travel
    ],
)
def test_bad_value_is_refused_with_a_message_and_no_file(qtbot, console, sim_station, name, values, words):
    _start(qtbot, console, name, **values)
    log = console.log_pane.toPlainText()
    assert "refused" in log and all(word in log for word in words), log
    assert not console.is_running() and console.worker is None
    assert console.start_button.isEnabled()
    assert not (console.out_dir.exists() and any(console.out_dir.iterdir()))
    assert sim_station.world.tip_distance_nm() > 100  # nothing moved toward the sample


def test_the_form_holds_values_inside_the_stations_limits(console, sim_station):
    """The parameter allows exposures up to 3600 s; the station up to 120 s: the form offers the station's."""
    editor = console.editor("line-scan", "exposure_s")
    assert editor.maximum() == sim_station.limits.exposure_s.high == 120.0
    assert editor.minimum() == sim_station.limits.exposure_s.low == 0.001
    editor.setValue(500.0)
    assert console.values("line-scan")["exposure_s"] == 120.0


def test_dry_run_shows_the_checks_in_the_log(qtbot, console):
    console.select_procedure("line-scan")
    qtbot.mouseClick(console.dry_run_button, Qt.LeftButton)
    log = console.log_pane.toPlainText()
    assert "dry run, nothing moved" in log and "estimated time" in log
    assert not console.out_dir.exists()


def _record_threads(monkeypatch, station) -> list[threading.Thread]:
    """Wrap the instrument calls a scan makes so each records the thread it ran in."""
    threads: list[threading.Thread] = []
    for inst, method in ((station.stage, "move_and_wait_um"), (station.spectrometer, "acquire"),
                         (station.spectrometer, "wavelengths_nm"), (station.zcontrol, "engage")):
        original = getattr(inst, method)

        def wrapped(*args, _original=original, **kwargs):
            threads.append(threading.current_thread())
            return _original(*args, **kwargs)

        monkeypatch.setattr(inst, method, wrapped)
    return threads


def test_line_scan_from_start_button_completes_and_shows_the_last_spectrum(qtbot, console, sim_station,
                                                                           monkeypatch):
    threads = _record_threads(monkeypatch, sim_station)
    at_start = _start(qtbot, console, "line-scan", length_um=0.02, pixel_um=0.005, exposure_s=0.05)
    assert at_start == {"running": True, "start_enabled": False, "abort_enabled": True}
    qtbot.waitUntil(lambda: console.run_status in FINAL_STATUSES and not console.is_running(), timeout=10_000)
    assert console.run_status == "complete"
    assert console.run_path.parent == console.out_dir and console.run_path.name.startswith("line-scan-")
    assert str(console.run_path) in console.statusBar().currentMessage()
    assert "complete" in console.statusBar().currentMessage()
    run = read_run(console.run_path)
    assert run.status == "complete"
    spectra = run.data["spectra"]
    x, y = console.views.spectrum_data()
    np.testing.assert_array_equal(np.asarray(y, spectra.dtype), spectra[-1])
    np.testing.assert_allclose(x, run.data["wavelength_nm"], rtol=1e-6)
    np.testing.assert_allclose(console.views.integrated_counts(), spectra.astype(float).sum(axis=1), rtol=1e-5)
    # the spatio-spectral contour: position along the line (from its start) against wavelength, the file's counts
    contour = console.views.panel("spectra", "line")
    np.testing.assert_array_equal(contour.data().astype(spectra.dtype), spectra)
    np.testing.assert_array_equal(contour.map.image.image, spectra.astype(np.float32))
    x_um = run.data["x_um"]
    np.testing.assert_allclose(contour.map.y, x_um - x_um[0], atol=1e-9)
    np.testing.assert_allclose(contour.map.x, run.data["wavelength_nm"], rtol=1e-6)
    assert shown_label(contour.plot.getAxis("left")) == "position along the line (µm)"
    assert shown_label(contour.plot.getAxis("bottom")) == "wavelength (nm)"
    assert "spectra (" in contour.map.colorbar.axis.labelString() and contour.map.colorbar.isVisible()
    assert console.progress_bar.value() == console.progress_bar.maximum() == spectra.shape[0]
    assert console.start_button.isEnabled() and not console.abort_button.isEnabled()
    assert len(threads) >= 2 * spectra.shape[0]  # every pixel moved the stage and exposed the CCD
    assert threading.main_thread() not in threads  # the UI thread never drove an instrument


def test_pause_holds_the_run_resume_goes_on_stop_ends_after_the_line(qtbot, console, sim_station):
    _start(qtbot, console, "raster", pixel_um=0.005, exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(console.views.integrated_counts()).sum() >= 2, timeout=10_000)
    qtbot.mouseClick(console.pause_button, Qt.LeftButton)
    assert console.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: "run paused" in console.log_pane.toPlainText(), timeout=10_000)
    held = np.isfinite(console.views.integrated_counts()).sum()
    qtbot.wait(300)
    assert np.isfinite(console.views.integrated_counts()).sum() == held and console.is_running()
    qtbot.mouseClick(console.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: np.isfinite(console.views.integrated_counts()).sum() > held, timeout=10_000)
    qtbot.mouseClick(console.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not console.is_running(), timeout=15_000)
    assert console.run_status == "complete" and "stopped by the operator" in console.run_reason
    run = read_run(console.run_path)
    assert run.status == "complete" and "stopped by the operator" in run.reason
    lines = np.isfinite(run.data["spectra"][..., 0]).all(axis=1)
    assert 1 <= lines.sum() < lines.size  # ended after a whole line, before the last
    np.testing.assert_array_equal(np.isfinite(run.data["spectra"][..., 0]).any(axis=1), lines)
    assert sim_station.world.tip_distance_nm() > 100 and sim_station.world.shutter_open is False


def test_abort_during_a_raster_leaves_the_file_aborted_and_the_tip_retracted(qtbot, console, sim_station):
    _start(qtbot, console, "raster", size_x_um=0.15, size_y_um=0.15, pixel_um=0.005, exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(console.views.integrated_counts()).sum() >= 3, timeout=10_000)
    qtbot.mouseClick(console.abort_button, Qt.LeftButton)
    assert not console.pause_button.isEnabled() and not console.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not console.is_running(), timeout=10_000)
    assert console.run_status == "aborted"
    assert "aborted by the operator" in console.statusBar().currentMessage()
    run = read_run(console.run_path)
    assert run.status == "aborted" and run.reason == "aborted by the operator"
    measured = np.isfinite(run.data["spectra"][..., 0])
    assert 3 <= measured.sum() < measured.size
    image = console.views.integrated_counts()
    assert image.shape == measured.shape
    np.testing.assert_array_equal(np.isfinite(image), measured)  # the map shows exactly the pixels measured
    assert sim_station.world.tip_distance_nm() > 100
    assert sim_station.world.shutter_open is False


def test_closing_the_window_during_a_run_aborts_it_and_waits(qtbot, sim_station, tmp_path):
    window = Console(sim_station, tmp_path)
    qtbot.addWidget(window)
    _start(qtbot, window, "raster", exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(window.views.integrated_counts()).sum() >= 1, timeout=10_000)
    window.close()
    assert not window.worker.is_running()
    assert read_run(window.run_path).reason == "console closed during the run"
    assert sim_station.world.tip_distance_nm() > 100 and sim_station.world.shutter_open is False


class _Exploding(Procedure):
    name = "exploding"
    roles = ("stage",)
    parameters = (Parameter("after_moves", 1, "", 0, 10, kind=int),)

    def execute(self, ctx) -> None:
        ctx.log("moving once")
        raise RuntimeError("controller fell over")


def test_worker_turns_a_failing_run_into_a_signal(qtbot, sim_station, tmp_path):
    worker = ProcedureWorker(_Exploding(), sim_station, tmp_path / "boom.h5")
    seen: dict[str, list] = {"log": [], "failed": [], "status": []}
    worker.log.connect(seen["log"].append)
    worker.failed.connect(seen["failed"].append)
    worker.status.connect(lambda message, data: seen["status"].append((message, data)))
    with qtbot.waitSignal(worker.finished, timeout=10_000) as finished:
        worker.start()
    assert finished.args == ["failed"]
    qtbot.waitUntil(lambda: bool(seen["failed"]), timeout=2_000)
    assert seen["failed"] == ["RuntimeError: controller fell over"]
    assert seen["log"] == ["excitation open (excitation_shutter, laser)", "moving once"]
    assert seen["status"][-1][0] == "failed" and "controller fell over" in seen["status"][-1][1]["reason"]
    assert worker.wait(5)
    run = read_run(tmp_path / "boom.h5")
    assert run.status == "failed" and "controller fell over" in run.reason


# ---- photon-counting runs and kinetic series, live ------------------------------------------------------------
confocal_station = station_fixture("confocal-sim")


hbt_station = station_fixture("confocal-hbt-sim")


cryo_station = station_fixture("cryo-sim")


def _console_on(qtbot, station, tmp_path) -> Console:
    window = Console(station, tmp_path / "runs")
    qtbot.addWidget(window)
    return window


def _run_to_end(qtbot, console: Console, name: str, **values):
    _start(qtbot, console, name, **values)
    assert console.is_running(), console.log_pane.toPlainText()
    qtbot.waitUntil(lambda: not console.is_running(), timeout=20_000)
    assert console.run_status == "complete", console.log_pane.toPlainText()
    run = read_run(console.run_path)
    assert run.status == "complete"
    return run


def _image_rect(console: Console):
    return console.views.map_image.mapRectToParent(console.views.map_image.boundingRect())


def test_confocal_raster_shows_the_count_map_in_um(qtbot, confocal_station, tmp_path):
    console = _console_on(qtbot, confocal_station, tmp_path)
    run = _run_to_end(qtbot, console, "confocal-raster", size_x_um=1.0, size_y_um=1.0, pixel_um=0.5,
                      dwell_s=0.01)
    counts = run.data["counts"].astype(float)  # [scan, channel, y, x]
    x_um, y_um = run.data["x_um"], run.data["y_um"]
    assert counts.shape == (1, confocal_station.tcspc.n_channels, 3, 3) and counts.sum() > 0
    # the map: counts summed over the channels, placed in µm
    np.testing.assert_array_equal(console.views.map_data(), counts[0].sum(axis=0))
    np.testing.assert_array_equal(console.views.map_image.image, counts[0].sum(axis=0))
    rect = _image_rect(console)
    np.testing.assert_allclose([rect.left(), rect.right(), rect.top(), rect.bottom()],
                               [x_um[0] - 0.25, x_um[-1] + 0.25, y_um[0] - 0.25, y_um[-1] + 0.25])
    # the axes count from the scan's centre, which their labels state
    assert shown_label(console.views.map_plot.getAxis("bottom")) == f"stage x from {x_um.mean():.3f} (µm)"
    assert shown_label(console.views.map_plot.getAxis("left")) == f"stage y from {y_um.mean():.3f} (µm)"
    ticks = console.views.map_plot.getAxis("bottom").tickStrings([x_um[0], x_um[-1]], 1.0, 0.5)
    assert [float(t) for t in ticks] == pytest.approx([x_um[0] - x_um.mean(), x_um[-1] - x_um.mean()])
    # the curve view: the last line, summed over the channels, vs stage x
    x, y = console.views.curve_data()
    np.testing.assert_allclose(x, x_um)
    np.testing.assert_array_equal(y, counts[0, :, -1].sum(axis=0))
    # the channel chooser: one SPAD's image and line
    assert console.views.channel_box.count() == 1 + counts.shape[1] and "qd" in console.views.channel_box.itemText(1)
    console.views.channel_box.setCurrentIndex(2)
    console.views.redraw()
    np.testing.assert_array_equal(console.views.map_data(), counts[0, 1])
    np.testing.assert_array_equal(console.views.map_image.image, counts[0, 1])
    np.testing.assert_array_equal(console.views.curve_data()[1], counts[0, 1, -1])
    # a click on a pixel shows its decays (the FLIM scan's lines, as written to the file)
    decay = console.views.panel("flim_scan", "decay")
    console.views._on_map_click(float(x_um[2]), float(y_um[1]), Qt.NoModifier, False)
    assert decay.pixel == (1, 2)
    np.testing.assert_array_equal(decay.data()[1], run.data["flim_scan"][:, 1, 2].astype(float))
    # a write the view cannot place is logged, never raised into Qt
    console.views.on_data("counts", (0, slice(None), 99), np.ones((2, 3)))
    assert "not shown" in console.log_pane.toPlainText()


def test_confocal_raster_map_shows_the_scan_in_progress(qtbot, confocal_station, tmp_path, monkeypatch):
    console = _console_on(qtbot, confocal_station, tmp_path)
    t3, n_pixels = confocal_station.tcspc.t3, 4 * 4
    blocks: list[int] = []

    def t3_then_stop_in_scan_2(*args, **kwargs):  # worker thread: stop after the first line of scan 2
        blocks.append(1)
        if len(blocks) == n_pixels + 1:
            console.worker.control.stop()
        return t3(*args, **kwargs)

    monkeypatch.setattr(confocal_station.tcspc, "t3", t3_then_stop_in_scan_2)
    run = _run_to_end(qtbot, console, "confocal-raster", size_x_um=1.5, size_y_um=1.5, pixel_um=0.5,
                      dwell_s=0.01, scans=2)
    assert "stopped by the operator" in run.reason and len(blocks) == n_pixels + 4
    counts = run.data["counts"].astype(float)
    shown = console.views.map_data()
    np.testing.assert_array_equal(shown[0], counts[1, :, 0].sum(axis=0))  # scan 2's only line ...
    assert np.isnan(shown[1:]).all()  # ... and nothing left over from scan 1
    assert counts[0, :, 1:].sum() > 0
    assert "scan 2/2" in console.views.map_plot.plotItem.titleLabel.text


def test_confocal_raster_shows_each_pixel_as_it_is_measured(qtbot, confocal_station, tmp_path):
    from tepl.gui.views import LiveViews
    from tepl.procedures import make_procedure, run

    events = []
    procedure = make_procedure("confocal-raster", size_x_um=1.0, size_y_um=0.5, pixel_um=0.5, dwell_s=0.005)
    plan = procedure.plan(confocal_station)
    run(procedure, confocal_station, tmp_path / "c.h5", plan=plan,
        listeners=[lambda e: events.append(e) if e.kind in ("data", "live") and e.data["name"] == "counts" else None])
    counts = read_run(tmp_path / "c.h5").data["counts"].astype(float)  # [scan, channel, y, x]
    n_y, n_x = counts.shape[2:]
    # every pixel is told before its line is written, with the counts the file keeps for it
    kinds = [(e.kind, e.data["index"][2]) for e in events]
    assert kinds == [k for iy in range(n_y) for k in [("live", iy)] * n_x + [("data", iy)]]
    for event in events[:-1]:
        if event.kind == "live":
            scan, _, iy, ix = event.data["index"]
            np.testing.assert_array_equal(event.data["value"], counts[scan, :, iy, ix])
    # the map shows the first pixel of the second line at once, the rest of that line unscanned
    views = LiveViews()
    qtbot.addWidget(views)
    views.reset(plan, ["a", "b"][: counts.shape[1]])
    for event in events[: n_x + 2]:
        views.on_data(event.data["name"], event.data["index"], event.data["value"])
    views.redraw()
    shown = views.map_data()
    np.testing.assert_array_equal(shown[0], counts[0, :, 0].sum(axis=0))
    assert shown[1, 0] == counts[0, :, 1, 0].sum() and np.isnan(shown[1, 1:]).all()
    np.testing.assert_array_equal(views.map_image.image[1, :1], shown[1, :1])
    x, y = views.curve_data()  # the curve view: the line in progress
    assert y[0] == counts[0, :, 1, 0].sum() and np.isnan(y[1:]).all()


def test_a_procedure_needing_roles_the_station_lacks_is_refused_without_a_file(qtbot, confocal_station,
                                                                                tmp_path):
    console = _console_on(qtbot, confocal_station, tmp_path)
    _start(qtbot, console, "raster")
    for text in (console.log_pane.toPlainText(), console.statusBar().currentMessage()):
        assert "raster refused" in text and "zcontrol" in text and "confocal-sim lacks" in text, text
    assert not console.is_running() and console.worker is None and console.start_button.isEnabled()
    assert not (console.out_dir.exists() and any(console.out_dir.iterdir()))


def test_g2_curve_is_the_files_g2_vs_lag(qtbot, hbt_station, tmp_path):
    console = _console_on(qtbot, hbt_station, tmp_path)
    run = _run_to_end(qtbot, console, "g2", acquisition_s=0.5, block_s=0.1)
    x, y = console.views.curve_data()
    np.testing.assert_allclose(x, run.data["lag_ns"], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(y, run.data["g2"].dtype), run.data["g2"])
    assert np.isfinite(y).any()
    assert shown_label(console.views.spectrum_plot.getAxis("bottom")) == "lag (ns)"
    assert console.views.map_panel.isHidden()


def test_time_trace_curve_is_the_files_counts_vs_time(qtbot, hbt_station, tmp_path):
    console = _console_on(qtbot, hbt_station, tmp_path)
    run = _run_to_end(qtbot, console, "time-trace", acquisition_s=0.5, block_s=0.1)
    x, y = console.views.curve_data()
    assert x.size == run.data["counts"].size == 50
    np.testing.assert_allclose(x, run.data["time_s"], rtol=1e-12)
    np.testing.assert_array_equal(y, run.data["counts"])
    assert y.sum() > 0
    assert shown_label(console.views.spectrum_plot.getAxis("bottom")) == "time (s)"
    assert console.views.map_plot.plotItem.titleLabel.text.startswith("intensity histogram")  # beside the trace


def test_kinetic_series_shows_the_latest_spectrum_and_spectra_vs_frame(qtbot, cryo_station, tmp_path):
    console = _console_on(qtbot, cryo_station, tmp_path)
    run = _run_to_end(qtbot, console, "kinetic-series", frames=3, exposure_s=0.05)
    spectra, wl = run.data["spectra"], run.data["wavelength_nm"]
    x, y = console.views.curve_data()
    np.testing.assert_array_equal(np.asarray(y, spectra.dtype), spectra[-1])
    np.testing.assert_allclose(x, wl, rtol=1e-6)
    np.testing.assert_array_equal(console.views.map_data(), spectra)
    assert console.views.first_frame_shown == 0
    rect = _image_rect(console)
    np.testing.assert_allclose([rect.top(), rect.bottom()], [-0.5, 2.5])
    assert shown_label(console.views.map_plot.getAxis("left")) == "frame"
    assert shown_label(console.views.map.colorbar.axis).startswith("spectra (")  # each pixel's counts


def test_a_kinetic_series_after_a_confocal_scan_shows_no_pixel_of_that_scan(qtbot, cryo_station, tmp_path):
    """The map of a kinetic series is wavelength x frame: the scan before it leaves no outlined pixel (at
    stage coordinates, which stretched the wavelength axis down to 50) behind."""
    console = _console_on(qtbot, cryo_station, tmp_path)
    _run_to_end(qtbot, console, "confocal-raster", size_x_um=0.4, size_y_um=0.4, pixel_um=0.2, dwell_s=0.002)
    assert console.views.map.marker.isVisible()  # the scan's last pixel
    run = _run_to_end(qtbot, console, "kinetic-series", frames=2, exposure_s=0.05)
    console.views.redraw(final=True)
    assert not console.views.map.marker.isVisible()
    x_range = console.views.map_plot.getViewBox().childrenBounds()[0]
    assert x_range[0] >= run.data["wavelength_nm"].min() - 1.0


def test_a_long_kinetic_series_keeps_the_newest_frames_on_the_map(qtbot, cryo_station, tmp_path, monkeypatch):
    import tepl.gui.mainviews.frames as frames_module

    monkeypatch.setattr(frames_module, "MAX_FRAME_ROWS", 4)
    console = _console_on(qtbot, cryo_station, tmp_path)
    run = _run_to_end(qtbot, console, "kinetic-series", frames=10, exposure_s=0.01)
    shown = console.views.map_data()
    first = console.views.first_frame_shown
    assert 0 < first and shown.shape[0] <= 4 and first + shown.shape[0] == 10
    np.testing.assert_array_equal(shown, run.data["spectra"][first:])
    rect = _image_rect(console)
    np.testing.assert_allclose([rect.top(), rect.bottom()], [first - 0.5, 9.5])


# ---- the rig's procedures, live ------------------------------------------------------------------------------
def _sim_variant(replace: str):
    from tepl.config import parse_config

    text = (CONFIG_DIR / "sim.yaml").read_text().replace("tip_focus_offset_nm: [0, 0]", replace)
    return build_station(parse_config(text, "sim.yaml variant"))


@pytest.fixture(scope="module")
def film_station():
    st = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    yield st
    st.close()


def test_approach_shows_amplitude_and_z_against_the_coarse_travel(qtbot, tmp_path):
    station = _sim_variant("tip_focus_offset_nm: [0, 0]\n  tip_start_um: 20")
    try:
        console = _console_on(qtbot, station, tmp_path)
        run = _run_to_end(qtbot, console, "approach")
    finally:
        station.close()
    d = run.data
    done = np.isfinite(d["amplitude"])
    assert 3 <= done.sum() < done.size and d["contact"][done][-1] == 1
    views = console.views
    x, y = views.main_curve_data()  # against the measured coarse travel, not the look or a gap
    np.testing.assert_array_equal(np.asarray(x, np.float32), d["coarse_travel_um"][done])
    np.testing.assert_array_equal(np.asarray(y, np.float32), d["amplitude"][done])
    assert shown_label(views.map_plot.getAxis("bottom")) == "coarse travel (µm)"
    assert views.map_plot.plotItem.titleLabel.text == "tuning-fork amplitude vs coarse travel"
    z_view = views.panel("z_nm", "approach")
    x, z = z_view.data()
    np.testing.assert_array_equal(np.asarray(x, np.float32), d["coarse_travel_um"][done])
    np.testing.assert_array_equal(np.asarray(z, np.float32), d["z_nm"][done])
    np.testing.assert_array_equal(z_view.curve.yData, z)  # drawn
    assert shown_label(z_view.plot.getAxis("left")) == "z (nm)"
    assert views.spectrum_plot.isHidden()  # no spectrometer, no spectrum view


def test_align_tip_shows_the_signal_per_probe_and_the_latest_spectrum(qtbot, tmp_path):
    station = _sim_variant("tip_focus_offset_nm: [800, -500]")
    try:
        console = _console_on(qtbot, station, tmp_path)
        run = _run_to_end(qtbot, console, "align-tip")
    finally:
        station.close()
    d = run.data
    n = int(np.isfinite(d["signal"]).sum())
    assert n > 20
    x, y = console.views.main_curve_data()
    np.testing.assert_array_equal(x, d["probe"][:n])
    np.testing.assert_array_equal(np.asarray(y, np.float32), d["signal"][:n])
    assert shown_label(console.views.map_plot.getAxis("left")) == "signal (counts)"
    x, y = console.views.curve_data()
    np.testing.assert_array_equal(np.asarray(y, np.float32), d["spectra"][n - 1])  # the final probe's spectrum
    np.testing.assert_allclose(x, d["wavelength_nm"], rtol=1e-6)
    assert not console.views.panels


def _exponent_ticks(axis) -> list[str]:
    """The tick labels of ``axis`` over its range now written with an exponent (1.15e+06)."""
    strings = [text for spacing, values in axis.tickValues(*axis.range, 400)
               for text in axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)]
    assert strings
    return [text for text in strings if "e+" in text or "e-" in text]


def test_temperature_series_shows_peak_width_lifetime_and_decay_per_setpoint(qtbot, film_station, tmp_path):
    console = _console_on(qtbot, film_station, tmp_path)
    run = _run_to_end(qtbot, console, "temperature-series", x_um=25.0, start_k=10.0, stop_k=170.0, step_k=40.0,
                      hold_s=20.0, exposure_s=10.0, acquisition_s=3.0, tcspc_bin_ps=400.0)
    d = run.data
    views = console.views
    setpoints = d["setpoint_k"]
    assert setpoints.size == 5
    np.testing.assert_allclose(views.main_curve_data()[0], setpoints)
    np.testing.assert_allclose(views.integrated_counts(), d["spectra"].astype(float).sum(axis=1), rtol=1e-5)
    assert shown_label(views.map_plot.getAxis("bottom")) == "setpoint (K)"
    for name, label in (("peak_energy_eV", "peak energy (eV)"), ("fwhm_meV", "fwhm (meV)"),
                        ("lifetime_ns", "lifetime (ns)")):
        panel = views.panel(name, "line")
        x, y = panel.data()
        np.testing.assert_array_equal(x, setpoints)
        np.testing.assert_array_equal(np.asarray(y, np.float32), d[name])
        np.testing.assert_array_equal(panel.curve.yData, y)
        assert shown_label(panel.plot.getAxis("left")) == label
        assert shown_label(panel.plot.getAxis("bottom")) == "setpoint (K)"
    # the main view's integrated counts (over a million) read with an SI prefix, not as 1.15e+06
    left = views.map_plot.getAxis("left")
    top = float(views.integrated_counts().max())
    assert top > 1e6
    console.show()  # drawn: the axes take the range of what they show
    qtbot.waitUntil(lambda: left.labelUnitPrefix != "", timeout=5_000)
    assert shown_label(left) == "(Mcounts)" and 1.0 <= top * left.autoSIPrefixScale < 1000.0
    for plot in [views.map_plot] + [panel.plot for panel in views.panels]:
        for side in ("bottom", "left"):
            assert not _exponent_ticks(plot.getAxis(side)), (plot.plotItem.titleLabel.text, side)
    t_ns, latest = views.panel("decays", "decay").data()
    np.testing.assert_allclose(t_ns, d["tcspc_time_ns"])
    np.testing.assert_array_equal(latest, d["decays"][-1])
    assert latest.sum() > 1000
    np.testing.assert_array_equal(console.views.curve_data()[1].astype(np.float32), d["spectra"][-1])


# ---- the station status poller ------------------------------------------------------------------------------
def test_status_bar_shows_the_station_as_the_simulators_have_it(qtbot, sim_station, tmp_path):
    window = Console(sim_station, tmp_path, status_interval_s=0.02)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.last_status is not None, timeout=5_000)
    with window.station_lock:  # as a run would: the poller keeps off meanwhile
        sim_station.stage.move_and_wait_um(x=41.25, y=57.5)
    qtbot.waitUntil(lambda: window.last_status["stage_um"]["x"] == pytest.approx(41.25, abs=0.01), timeout=5_000)
    status = window.last_status
    truth = sim_station.world.stage_um
    assert [status["stage_um"][a] for a in "xyz"] == pytest.approx(list(truth), abs=0.01)
    assert status["tip"] == "retracted" and status["tip_z_nm"] > 1000.0
    cooler_c = sim_station.spectrometer.ccd.lib.cooler.temperature_c
    assert status["ccd_temperature_c"] == pytest.approx(cooler_c, abs=0.5) and status["ccd_status"] == "stabilized"
    assert status["shutter"] == "closed" and status["lamp"] == "closed"
    text = window.station_label.text()
    for words in ("x 41.250", "y 57.500", "µm", "tip retracted", f"CCD {status['ccd_temperature_c']:.1f} °C",
                  "shutter closed"):
        assert words in text, text


def test_the_poller_never_reads_the_station_while_a_run_holds_it(qtbot, sim_station, tmp_path, monkeypatch):
    import time

    import tepl.gui.worker as worker_module

    reads: list[tuple[float, float]] = []
    runs: list[tuple[float, float]] = []
    status = sim_station.status

    def timed_status():
        t0 = time.monotonic()
        try:
            return status()
        finally:
            reads.append((t0, time.monotonic()))

    def timed_run(*args, _run=worker_module.run, **kwargs):
        t0 = time.monotonic()
        try:
            return _run(*args, **kwargs)
        finally:
            runs.append((t0, time.monotonic()))

    monkeypatch.setattr(sim_station, "status", timed_status)
    monkeypatch.setattr(worker_module, "run", timed_run)
    window = Console(sim_station, tmp_path, status_interval_s=0.005)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: len(reads) >= 2, timeout=5_000)
    _start(qtbot, window, "line-scan", length_um=0.02, pixel_um=0.005, exposure_s=0.05)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=10_000)
    assert window.run_status == "complete"
    n_before = len(reads)
    qtbot.waitUntil(lambda: len(reads) > n_before, timeout=5_000)  # polls resume after the run
    (start, end), = runs
    assert window.poller.skipped > 0  # the poller wanted to read during the run
    assert not [r for r in reads if r[0] < end and r[1] > start], (runs, reads)


def test_a_failed_status_read_is_shown_as_unavailable(qtbot, tmp_path):
    from tepl.gui.status import describe_status

    st = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    live = st.status()
    sync, rates = st.tcspc.count_rates()
    assert live["sync_rate_per_s"] == pytest.approx(sync) and live["count_rates_per_s"] == pytest.approx(rates)
    text = describe_status(live, ["qd", "qd"])
    assert f"sync {sync:,.0f} /s" in text and f"qd {rates[0]:,.0f} /s" in text, text
    st.close()
    closed = st.status()
    assert "DEVICE_NOT_OPEN" in closed["count_rates_per_s"] and "closed" in closed["stage_um"]
    text = describe_status(closed)
    assert "stage unavailable" in text and "counts unavailable" in text, text


def test_procedures_the_station_cannot_run_are_listed_greyed_out(qtbot, confocal_station, tmp_path):
    console = _console_on(qtbot, confocal_station, tmp_path)
    box = console.procedure_box
    enabled = {box.itemText(i): box.model().item(i).isEnabled() for i in range(box.count())}
    for name, cls in PROCEDURES.items():
        assert enabled[name] == all(confocal_station.has_role(role) for role in cls.roles), name
    assert not enabled["raster"] and enabled["confocal-raster"] and enabled["kinetic-series"]
    assert "zcontrol" in box.itemData(box.findText("raster"), Qt.ToolTipRole)
    assert enabled[box.currentText()]  # the console opens on a procedure this station can run
