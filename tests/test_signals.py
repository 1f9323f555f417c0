"""Every way the process is told to end during a press goes through the safe state first: SIGINT, SIGTERM
(what kill, systemd and docker send) and SIGHUP (the terminal closed). The file says aborted with the signal
named, the safe state it recorded is what the command line prints, and the exit code is 128 + signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tepl.data.runfile import read_run

SIGNALS = [(signal.SIGINT, "Ctrl-C (SIGINT)"), (signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")]


def _pressing(path) -> bool:
    """True once the ramp has written a step below its start gap (the tip is being pressed)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            direction = f["entry/data/direction"][()]
            return int(np.count_nonzero(direction == 1)) >= 3
    except Exception:  # not created yet, or mid-flush: look again
        return False


@pytest.mark.parametrize(("signum", "named"), SIGNALS, ids=[s.name for s, _ in SIGNALS])
def test_a_signal_during_a_press_ends_safe_and_says_so(tmp_path, signum, named):
    path = tmp_path / "ramp.h5"
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "run", "pressure-ramp", "--out", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not _pressing(path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the ramp ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 128 + signum, err
    run = read_run(path)
    assert run.status == "aborted" and named in run.reason, run.reason
    with h5py.File(path, "r") as f:
        recorded = {k[len("safe_state_"):]: str(v) for k, v in f["/entry"].attrs.items() if k.startswith("safe_state_")}
    assert recorded["zcontrol"] == "retracted" and recorded["shutter"] == "closed"
    for role, outcome in recorded.items():  # the command line says what the file records
        assert f"{role} {outcome}" in err, err
    assert "Traceback" not in err
