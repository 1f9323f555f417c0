"""The run loop's guarantees (acceptance 4): safe state on abort, error and Ctrl-C; data kept; refusals
before anything moves. Every check reads the simulated World (ground truth) and the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from tepl.data.runfile import read_run
from tepl.procedures import RunControl, make_procedure, run
from tepl.roles import LimitError

SMALL = {"size_x_um": 0.04, "size_y_um": 0.04, "pixel_um": 0.005, "exposure_s": 0.05}  # 9 x 9 pixels


def _assert_safe(station):
    world = station.world
    assert station.zcontrol.state() == "retracted"
    assert world.tip_distance_nm() > 100.0, "tip not withdrawn"
    assert not world.shutter_open, "shutter left open"


def _at_line(n, action):
    def listener(event):
        if event.kind == "progress" and event.done == n:
            action()
    return listener


def _lines_filled(run_data):
    return int(np.all(np.isfinite(run_data.data["spectra"]), axis=(1, 2)).sum())


def test_complete_run_ends_safe_with_full_file(station, tmp_path):
    path = run(make_procedure("raster", **SMALL), station, tmp_path / "ok.h5")
    r = read_run(path)
    assert r.status == "complete"
    assert _lines_filled(r) == 9
    _assert_safe(station)


def test_abort_withdraws_tip_closes_shutter_keeps_lines(station, tmp_path):
    control = RunControl()
    path = tmp_path / "abort.h5"
    run(make_procedure("raster", **SMALL), station, path, control=control,
        listeners=[_at_line(3, control.abort)])
    r = read_run(path)
    assert r.status == "aborted" and "operator" in r.reason
    assert _lines_filled(r) == 3
    assert np.all(np.isnan(r.data["spectra"][4:]))
    _assert_safe(station)


def test_exception_inside_procedure(station, tmp_path):
    calls = {"n": 0}
    original = station.spectrometer.acquire

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9 * 2 + 4:
            raise RuntimeError("CCD readout failed (test)")
        return original(*args, **kwargs)

    station.spectrometer.acquire = failing
    path = tmp_path / "fail.h5"
    with pytest.raises(RuntimeError, match="CCD readout failed"):
        run(make_procedure("raster", **SMALL), station, path)
    r = read_run(path)
    assert r.status == "failed" and "CCD readout failed" in r.reason
    assert "RuntimeError" in r.error
    assert _lines_filled(r) == 2
    _assert_safe(station)


def test_ctrl_c_in_process(station, tmp_path):
    def interrupt():
        raise KeyboardInterrupt

    path = tmp_path / "sigint.h5"
    with pytest.raises(KeyboardInterrupt):
        run(make_procedure("raster", **SMALL), station, path, listeners=[_at_line(2, interrupt)])
    r = read_run(path)
    assert r.status == "aborted" and "Ctrl-C" in r.reason
    assert _lines_filled(r) == 2
    _assert_safe(station)


def test_real_sigint_in_process(station, tmp_path):
    """A real SIGINT (not an exception from a listener) becomes an abort at the next safe point."""
    path = tmp_path / "real_sigint.h5"
    with pytest.raises(KeyboardInterrupt):
        run(make_procedure("raster", **SMALL), station, path,
            listeners=[_at_line(2, lambda: os.kill(os.getpid(), signal.SIGINT))])
    r = read_run(path)
    assert r.status == "aborted" and "Ctrl-C" in r.reason
    assert _lines_filled(r) == 2
    _assert_safe(station)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_from_the_command_line(tmp_path):
    """A real SIGINT to `tepl run`: exit code 130, file aborted, safe state recorded by the process."""
    path = tmp_path / "cli_sigint.h5"
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tepl.cli", "run", "raster", "--out", str(path), "--set", "size_x_um=0.4",
         "--set", "size_y_um=0.4", "--set", "pixel_um=0.005"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60

    def first_line_recorded() -> bool:
        try:
            return path.exists() and _lines_filled(read_run(path)) >= 1
        except Exception:  # the writer is mid-flush: look again
            return False

    while not first_line_recorded() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    r = read_run(path)
    assert r.status == "aborted" and "Ctrl-C" in r.reason
    with h5py.File(path, "r") as f:
        assert f["/entry"].attrs["safe_state_zcontrol"] == "retracted"
        assert f["/entry"].attrs["safe_state_shutter"] == "closed"
    filled = _lines_filled(r)
    assert 0 < filled < r.data["spectra"].shape[0]


def test_stop_finishes_the_line_and_pause_resumes(station, tmp_path):
    control = RunControl()
    events = []

    def pause_then_resume():
        control.pause()
        threading.Timer(0.2, control.resume).start()

    listeners = [events.append, _at_line(1, pause_then_resume), _at_line(4, control.stop)]
    path = run(make_procedure("raster", **SMALL), station, tmp_path / "stop.h5", control=control,
               listeners=listeners)
    r = read_run(path)
    assert r.status == "complete" and "stopped by the operator" in r.reason
    assert _lines_filled(r) == 4
    kinds = [e.message for e in events if e.kind == "status"]
    assert "paused" in kinds and "resumed" in kinds
    _assert_safe(station)


def test_out_of_travel_raster_refused_before_anything_moves(station, tmp_path):
    before = station.world.stage_um.copy()
    path = tmp_path / "refused.h5"
    with pytest.raises(LimitError, match="scan corner x"):
        run(make_procedure("raster", center_x_um=99.99, size_x_um=0.5), station, path)
    assert not path.exists()
    np.testing.assert_array_equal(station.world.stage_um, before)


def test_too_deep_press_refused_before_pressing(tmp_path):
    from tepl.config import CONFIG_DIR, parse_config
    from tepl.station import build_station

    text = (CONFIG_DIR / "sim.yaml").read_text()
    station = build_station(parse_config(text.replace("max_press_depth_nm: 11", "max_press_depth_nm: 5"), "sim"))
    truth = station.world.ground_truth()["sample"]
    x_um, y_um = truth["x_nm"][0] / 1000.0, truth["y_nm"][0] / 1000.0
    station.world.lowest_tip_distance_nm = float("inf")
    with pytest.raises(LimitError, match=r"press depth .* \[0, 5\] nm \(limits.max_press_depth_nm\)"):
        run(make_procedure("pressure-ramp", x_um=x_um, y_um=y_um), station, tmp_path / "deep.h5")
    r = read_run(tmp_path / "deep.h5")
    assert r.status == "failed" and "max_press_depth_nm" in r.reason
    assert station.world.lowest_tip_distance_nm > 0.0, "the tip pressed before the refusal"
    _assert_safe(station)


def test_dry_run_reports_limits_and_time(station):
    report = make_procedure("raster", **SMALL).dry_run(station)
    assert "dry run, nothing moved" in report and "estimated time" in report
    assert "stage travel x [0, 100] µm (limits.stage_travel_um.x)" in report


def test_data_events_carry_what_the_file_records(station, tmp_path):
    events = []
    path = run(make_procedure("line-scan", length_um=0.02, pixel_um=0.005, exposure_s=0.05), station,
               tmp_path / "live.h5", listeners=[events.append])
    spectra = [e.data for e in events if e.kind == "data" and e.data["name"] == "spectra"]
    r = read_run(path)
    assert len(spectra) == r.data["spectra"].shape[0] == 5
    for item in spectra:
        np.testing.assert_allclose(r.data["spectra"][item["index"]], item["value"], rtol=1e-6)


def test_long_flyback_is_made_withdrawn(station, tmp_path):
    calls = []
    original = station.zcontrol.retract

    def counting_retract(*args, **kwargs):
        calls.append(station.world.stage_um[0])
        return original(*args, **kwargs)

    station.zcontrol.retract = counting_retract
    run(make_procedure("raster", order="raster", size_x_um=1.5, size_y_um=0.5, pixel_um=0.5,
                       exposure_s=0.05), station, tmp_path / "flyback.h5")
    # before the scan, before the second line's 1.5 µm flyback, and in the safe state at the end
    assert len(calls) == 3
    assert calls[1] == pytest.approx(50.75, abs=0.01)  # withdrawn at the end of line 1, before flying back


def test_live_fit_window_must_be_covered(station, tmp_path):
    station.spectrometer.set_center_wavelength_nm(400.0)
    with pytest.raises(LimitError, match="fit window|live peak fits"):
        run(make_procedure("raster", **SMALL), station, tmp_path / "uv.h5")
    assert not (tmp_path / "uv.h5").exists()
