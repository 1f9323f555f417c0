"""An interrupted run (aborted, failed, or killed) goes on in its own file from the first step it had not
completed, on the same station; the finished file covers the same grid with no gaps and no duplicates."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.procedures import ParameterError, RunControl, make_procedure, resume_procedure, run
from tepl.station import build_station

RASTER = {"size_x_um": 0.05, "size_y_um": 0.05, "pixel_um": 0.01, "exposure_s": 0.01}  # 6 x 6 pixels


def _abort_at(done: int, control: RunControl):
    def listen(event):
        if event.kind == "progress" and event.done >= done:
            control.abort("operator: interrupted for the test")
    return listen


def _interrupted(name: str, params: dict, config, path, after_steps: int) -> None:
    station = build_station(config)
    control = RunControl()
    try:
        run(make_procedure(name, **params), station, path, control=control, listeners=[_abort_at(after_steps, control)])
    finally:
        station.close()
    assert read_run(path).status == "aborted"


def _resume(path, config) -> None:
    station = build_station(config)
    try:
        resume_procedure(path, station)
    finally:
        station.close()


def test_an_aborted_raster_resumes_from_its_first_incomplete_line(tmp_path):
    path = tmp_path / "raster.h5"
    _interrupted("raster", RASTER, None, path, after_steps=2)
    with h5py.File(path, "r") as f:
        assert f["entry"].attrs["steps_done"] == 2
        kept = f["entry/data/spectra"][:2].copy()
        assert np.isnan(f["entry/data/height_nm"][2:]).all()
    _resume(path, None)
    result = read_run(path)
    assert result.status == "complete"
    assert np.isfinite(result.data["height_nm"]).all() and np.isfinite(result.data["spectra"]).all()
    np.testing.assert_array_equal(result.data["spectra"][:2], kept)  # the lines measured before stay as they were
    with h5py.File(path, "r") as f:
        resumed = json.loads(f["entry"].attrs["resumed"])
        assert [r["steps_done"] for r in resumed] == [2] and resumed[0]["previous_status"] == "aborted"
        assert f["entry"].attrs["steps_done"] == 6
    assert any("resuming raster from step 3" in line for line in result.log)


def test_a_kinetic_series_resumes_with_its_frame_times_going_on(tmp_path):
    path = tmp_path / "kinetic.h5"
    params = {"exposure_s": 0.5, "frames": 6}
    _interrupted("kinetic-series", params, None, path, after_steps=3)
    _resume(path, None)
    result = read_run(path)
    assert result.status == "complete" and np.isfinite(result.data["spectra"]).all()
    times = result.data["time_s"]
    assert np.isfinite(times).all() and np.all(np.diff(times) > 0)


def test_a_confocal_raster_resumes_inside_its_second_scan(tmp_path):
    config = CONFIG_DIR / "confocal-sim.yaml"
    path = tmp_path / "flim.h5"
    params = {"size_x_um": 2.0, "size_y_um": 2.0, "pixel_um": 0.5, "dwell_s": 0.01, "scans": 2}
    _interrupted("confocal-raster", params, config, path, after_steps=7)  # scan 2, lines 1-2 of 5 done
    partial = read_run(path)
    assert partial.data["scans_summed"].max() == 1
    _resume(path, config)
    result = read_run(path)
    assert result.status == "complete"
    assert (result.data["counts"].sum(axis=(1, 3)) > 0).all()  # every line of every scan counted
    assert result.data["scans_summed"].max() == 2 and result.data["flim"].sum() > partial.data["flim"].sum()
    np.testing.assert_array_equal(result.data["counts"][0], partial.data["counts"][0])


def test_a_complete_run_or_a_procedure_without_steps_is_not_resumed(tmp_path, station):
    done = run(make_procedure("raster", **RASTER), station, tmp_path / "done.h5")
    with pytest.raises(ParameterError, match="complete; there is nothing to resume"):
        resume_procedure(done, station)
    hbt = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    try:
        g2 = tmp_path / "g2.h5"
        control = RunControl()
        run(make_procedure("g2", acquisition_s=1.0, block_s=0.2), hbt, g2, control=control,
            listeners=[_abort_at(1, control)])
        with pytest.raises(ValueError, match="g2 runs cannot be resumed"):
            resume_procedure(g2, hbt)
    finally:
        hbt.close()


def _cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    return subprocess.Popen([sys.executable, "-m", "tepl.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _written_by(path, pid: int) -> bool:
    """True once the process ``pid`` holds the file (created it, or reopened it to resume)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f["entry"].attrs.get("pid", -1)) == pid
    except Exception:  # not there yet, or mid-write
        return False


def test_a_raster_killed_ten_times_completes_after_tepl_resume(tmp_path):
    """SIGKILL at random moments, `tepl resume` after each: the file completes with the full grid."""
    path = tmp_path / "killed.h5"
    rng = random.Random(7)
    params = ["--set", "size_x_um=1.2", "--set", "size_y_um=1.2", "--set", "pixel_um=0.01", "--set",
              "exposure_s=0.01"]  # 121 x 121 pixels, about 4 s of scanning at 0.3 ms per pixel
    n = 121
    kills = 0
    proc = _cli("run", "raster", "--out", str(path), *params)
    for _ in range(10):
        deadline = time.monotonic() + 60
        while not _written_by(path, proc.pid) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.1, 0.6))
        if proc.poll() is not None:  # it finished before the kill
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += 1
        assert read_run(path).status == "interrupted"  # the file says its writer is gone
        proc = _cli("resume", str(path))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert kills >= 6, "the runs ended before they could be killed: lengthen the raster"
    result = read_run(path)
    assert result.status == "complete"
    assert result.data["spectra"].shape[:2] == (n, n) and result.data["x_um"].size == n
    assert np.isfinite(result.data["height_nm"]).all() and np.isfinite(result.data["spectra"]).all()
    with h5py.File(path, "r") as f:
        resumed = json.loads(f["entry"].attrs["resumed"])
        assert f["entry"].attrs["steps_done"] == n
    steps = [r["steps_done"] for r in resumed]
    assert len(resumed) == kills and steps == sorted(steps)  # each resume went on from where the last stopped
