"""The operator console: form from the parameter specs, refusals, a live run, abort, and the worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox  # noqa: E402

from tepl.data.runfile import read_run  # noqa: E402
from tepl.gui.console import FINAL_STATUSES, Console  # noqa: E402
from tepl.gui.worker import ProcedureWorker  # noqa: E402
from tepl.procedures import PROCEDURES, Procedure  # noqa: E402
from tepl.procedures.params import Parameter  # noqa: E402
from tepl.station import build_station  # noqa: E402


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


def _start(qtbot, console: Console, name: str, **values) -> None:
    console.select_procedure(name)
    for key, value in values.items():
        editor = console.editor(name, key)
        if isinstance(editor, QComboBox):
            editor.setCurrentText(value)
        else:
            editor.setValue(value)
    qtbot.mouseClick(console.start_button, Qt.LeftButton)


def test_form_lists_every_parameter_with_bounds_units_and_doc(console):
    for name, cls in PROCEDURES.items():
        assert set(console.values(name)) == {p.name for p in cls.parameters}
        for p in cls.parameters:
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
        ("raster", {"center_x_um": 99.0, "size_x_nm": 10_000.0}, ("scan corner x",)),  # LimitError: travel
        ("line-scan", {"exposure_s": 500.0}, ("exposure",)),  # LimitError: the station's exposure limit
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


def test_dry_run_shows_the_checks_in_the_log(qtbot, console):
    console.select_procedure("line-scan")
    qtbot.mouseClick(console.dry_run_button, Qt.LeftButton)
    log = console.log_pane.toPlainText()
    assert "dry run, stage and tip not moved" in log and "estimated time" in log
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
    _start(qtbot, console, "line-scan", length_nm=20.0, step_nm=5.0, exposure_s=0.05)
    assert console.is_running()
    assert not console.start_button.isEnabled() and console.abort_button.isEnabled()
    qtbot.waitUntil(lambda: console.run_status in FINAL_STATUSES and not console.is_running(), timeout=10_000)
    assert console.run_status == "complete"
    assert console.run_path.parent == console.out_dir and console.run_path.name.startswith("line-scan-")
    assert str(console.run_path) in console.statusBar().currentMessage()
    assert "complete" in console.statusBar().currentMessage()
    run = read_run(console.run_path)
    assert run.status == "complete"
    spectra = run.data["spectra"]
    x, y = console.spectrum_data()
    np.testing.assert_array_equal(np.asarray(y, spectra.dtype), spectra[-1])
    np.testing.assert_allclose(x, run.data["wavelength_nm"], rtol=1e-6)
    np.testing.assert_allclose(console.integrated_counts(), spectra.astype(float).sum(axis=1), rtol=1e-5)
    assert console.progress_bar.value() == console.progress_bar.maximum() == spectra.shape[0]
    assert console.start_button.isEnabled() and not console.abort_button.isEnabled()
    assert len(threads) >= 2 * spectra.shape[0]  # every pixel moved the stage and exposed the CCD
    assert threading.main_thread() not in threads  # the UI thread never drove an instrument


def test_pause_holds_the_run_resume_goes_on_stop_ends_after_the_line(qtbot, console, sim_station):
    _start(qtbot, console, "raster", step_nm=5.0, exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(console.integrated_counts()).sum() >= 2, timeout=10_000)
    qtbot.mouseClick(console.pause_button, Qt.LeftButton)
    assert console.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: "run paused" in console.log_pane.toPlainText(), timeout=10_000)
    held = np.isfinite(console.integrated_counts()).sum()
    qtbot.wait(300)
    assert np.isfinite(console.integrated_counts()).sum() == held and console.is_running()
    qtbot.mouseClick(console.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: np.isfinite(console.integrated_counts()).sum() > held, timeout=10_000)
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
    _start(qtbot, console, "raster", size_x_nm=150.0, size_y_nm=150.0, step_nm=5.0, exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(console.integrated_counts()).sum() >= 3, timeout=10_000)
    qtbot.mouseClick(console.abort_button, Qt.LeftButton)
    assert not console.pause_button.isEnabled() and not console.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not console.is_running(), timeout=10_000)
    assert console.run_status == "aborted"
    assert "aborted by the operator" in console.statusBar().currentMessage()
    run = read_run(console.run_path)
    assert run.status == "aborted" and run.reason == "aborted by the operator"
    measured = np.isfinite(run.data["spectra"][..., 0])
    assert 3 <= measured.sum() < measured.size
    image = console.integrated_counts()
    assert image.shape == measured.shape
    np.testing.assert_array_equal(np.isfinite(image), measured)  # the map shows exactly the pixels measured
    assert sim_station.world.tip_distance_nm() > 100
    assert sim_station.world.shutter_open is False


def test_closing_the_window_during_a_run_aborts_it_and_waits(qtbot, sim_station, tmp_path):
    window = Console(sim_station, tmp_path)
    qtbot.addWidget(window)
    _start(qtbot, window, "raster", exposure_s=0.05)
    qtbot.waitUntil(lambda: np.isfinite(window.integrated_counts()).sum() >= 1, timeout=10_000)
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
    assert seen["log"] == ["moving once"]
    assert seen["status"][-1][0] == "failed" and "controller fell over" in seen["status"][-1][1]["reason"]
    assert worker.wait(5)
    run = read_run(tmp_path / "boom.h5")
    assert run.status == "failed" and "controller fell over" in run.reason
