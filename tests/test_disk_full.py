"""A full disk ends a run as failed with the reason, the station safe and what was flushed kept; a run
whose file cannot fit is refused before anything; never a crash."""

from __future__ import annotations

import errno
import subprocess
import sys

import numpy as np
import pytest

from tepl.data import recorder as recorder_module
from tepl.data import storage
from tepl.data.runfile import read_run
from tepl.procedures import make_procedure, run

RASTER = {"size_x_um": 0.05, "size_y_um": 0.05, "pixel_um": 0.01, "exposure_s": 0.01}  # 6 x 6 pixels


def test_a_disk_that_fills_during_a_run_ends_it_as_failed_with_the_reason(station, tmp_path, monkeypatch):
    original = recorder_module.Recorder.flush.__wrapped__
    flushes = {"n": 0}

    def filling(self):
        flushes["n"] += 1
        if flushes["n"] > 4:  # the layout and two lines fit; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self)

    monkeypatch.setattr(recorder_module.Recorder, "flush", storage.guard_storage(filling))
    path = tmp_path / "full.h5"
    with pytest.raises(storage.StorageError, match=r"full.h5: writing the run file failed \(No space left"):
        run(make_procedure("raster", **RASTER), station, path)
    assert station.zcontrol.state() == "retracted" and not station.world.shutter_open
    result = read_run(path)
    assert result.status == "failed" and "No space left on device" in result.reason
    assert np.isfinite(result.data["height_nm"][:2]).all()  # the lines flushed before are kept


WRITER = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))
from tepl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_file_larger_than_the_process_may_write_is_refused_without_a_crash(tmp_path):
    out = tmp_path / "big.h5"
    proc = subprocess.run([sys.executable, "-c", WRITER, "run", "raster", "--out", str(out), "--set",
                           "size_x_um=0.5", "--set", "size_y_um=0.5", "--set", "pixel_um=0.01"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "raster refused: the run file needs up to" in proc.stderr and "free" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
