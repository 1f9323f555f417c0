"""The run loop's guarantees for the photon-counting procedures (issue acceptance 4): abort, exception,
count-rate limit, Ctrl-C and a killed process each leave the TCSPC measurement stopped, the shutter closed
and everything recorded so far readable. Truth comes from the simulated libraries and the World."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.data.tags import read_tags
from tepl.procedures import RunControl, make_procedure, run
from tepl.roles import LimitError
from tepl.station import build_station

RASTER = {"size_x_um": 2.0, "size_y_um": 2.0, "pixel_um": 0.5, "dwell_s": 0.01}  # 5 x 5 pixels


def measuring(station) -> bool:
    """Truth from the simulated library: a measurement is still taking data."""
    lib = station.tcspc.device.lib
    m = lib._meas
    return m is not None and m.running_at(station.world.clock.now())


def _at_progress(n, action):
    def listener(event):
        if event.kind == "progress" and event.done == n:
            action()
    return listener


@pytest.fixture
def confocal():
    st = build_station(CONFIG_DIR / "confocal-sim.yaml")
    yield st
    st.close()


@pytest.fixture
def hbt():
    st = build_station(CONFIG_DIR / "confocal-hbt-sim.yaml")
    yield st
    st.close()


def test_abort_mid_raster_stops_counting_and_keeps_lines(confocal, tmp_path):
    control = RunControl()
    path = tmp_path / "abort.h5"
    run(make_procedure("confocal-raster", scans=2, **RASTER), confocal, path, control=control,
        listeners=[_at_progress(3, control.abort)])
    r = read_run(path)
    assert r.status == "aborted" and "operator" in r.reason
    assert not measuring(confocal)
    assert r.data["counts"][0, :, :3].sum(axis=0).min() > 0  # three finished lines, every pixel counted
    assert r.data["counts"][0, :, 3:].sum() == 0 and r.data["counts"][1].sum() == 0
    with h5py.File(path, "r") as f:
        assert f["/entry"].attrs["safe_state_tcspc"] == "stopped"
        assert f["/entry"].attrs["safe_state_shutter"] == "closed"


def test_exception_in_g2_keeps_the_tags_of_finished_blocks(hbt, tmp_path):
    original = hbt.tcspc._do_iter

    def failing(mode, acquisition_s, block_s):
        for i, block in enumerate(original(mode, acquisition_s, block_s)):
            if i == 3:
                raise RuntimeError("FIFO read failed (test)")
            yield block

    hbt.tcspc._do_iter = failing
    path = tmp_path / "fail.h5"
    with pytest.raises(RuntimeError, match="FIFO read failed"):
        run(make_procedure("g2", acquisition_s=5.0, block_s=0.5), hbt, path)
    r = read_run(path)
    assert r.status == "failed" and "FIFO read failed" in r.reason
    assert not measuring(hbt)
    tags = read_tags(path)
    assert tags.n_photons == int(r.data["photons"].sum()) > 0  # three blocks of tags, all in the histogram
    assert tags.time_ps.max() < 2.0e12


def test_count_rate_limit_refuses_before_counting(hbt, tmp_path):
    hbt.tcspc.max_count_rate_per_s = 1.0e3  # the reference QD gives ~10^5 /s per SPAD
    path = tmp_path / "bright.h5"
    with pytest.raises(LimitError, match="max_count_rate_per_s"):
        run(make_procedure("time-trace", acquisition_s=5.0), hbt, path)
    r = read_run(path)
    assert r.status == "failed" and "max_count_rate_per_s" in r.reason
    assert read_tags(path).n_photons == 0
    assert not measuring(hbt)


def test_g2_histogram_is_independent_of_the_block_size(hbt, tmp_path):
    """Pairs across block edges are counted once: 50 ms blocks give the histogram of the tags as a whole."""
    from tepl.analysis.correlation import g2_from_tags

    path = run(make_procedure("g2", acquisition_s=2.0, block_s=0.05, window_ns=100.0), hbt, tmp_path / "g2.h5")
    r = read_run(path)
    tags = read_tags(path)
    _, _, counts = g2_from_tags(tags.time_ps, tags.channel, 500.0, 100_000.0, tags.duration_s)
    np.testing.assert_array_equal(counts, r.data["coincidences"])


def _cli(args, path):
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    return subprocess.Popen([sys.executable, "-m", "tepl.cli", "run", *args, "--out", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_for_tags(proc, path, n_min: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s

    def enough() -> bool:
        try:
            return path.exists() and read_tags(path, raw_records=False).n_photons >= n_min
        except Exception:  # the writer is mid-flush: look again
            return False

    while not enough() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()


def test_ctrl_c_from_the_command_line_during_g2(tmp_path):
    path = tmp_path / "g2.h5"
    proc = _cli(["g2", "--config", str(CONFIG_DIR / "confocal-hbt-sim.yaml"), "--set", "acquisition_s=3000",
                 "--set", "block_s=0.2"], path)
    _wait_for_tags(proc, path, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    r = read_run(path)
    assert r.status == "aborted" and "Ctrl-C" in r.reason
    with h5py.File(path, "r") as f:
        assert f["/entry"].attrs["safe_state_tcspc"] == "stopped"
    assert read_tags(path).n_photons == int(r.data["photons"].sum()) > 0


def test_killed_time_trace_leaves_its_flushed_tags_readable(tmp_path):
    path = tmp_path / "trace.h5"
    proc = _cli(["time-trace", "--config", str(CONFIG_DIR / "confocal-hbt-sim.yaml"), "--set",
                 "acquisition_s=3000", "--set", "block_s=0.2"], path)
    try:
        _wait_for_tags(proc, path, 50_000)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    r = read_run(path)
    assert r.status == "interrupted" and "is gone" in r.reason  # the writer was killed
    tags = read_tags(path)
    assert tags.n_photons >= 50_000
    assert np.all(np.diff(tags.time_ps) >= 0)
    # the bins written before the kill agree with the tags kept
    counts = np.asarray(r.data["counts"], np.int64)
    written = int(np.flatnonzero(counts)[-1]) if counts.any() else 0
    bin_ps = 0.01e12
    rebinned = np.bincount((tags.time_ps // bin_ps).astype(np.int64), minlength=written)[:written]
    np.testing.assert_array_equal(rebinned, counts[:written])
