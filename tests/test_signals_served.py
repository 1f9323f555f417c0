"""SIGTERM, SIGHUP and SIGINT sent to `tepl run pressure-ramp` while it presses, with the Z controller and
the stage served by `tepl serve rhk-r9` and `tepl serve pi-e727` (other processes, over TCP): the served
R9 reports the tip retracted afterwards and the file says aborted with the signal named."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tepl.config import CONFIG_DIR
from tepl.data.runfile import read_run
from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_socket import R9Socket

SIGNALS = [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"), (signal.SIGINT, "SIGINT")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(simulator: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", simulator, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "<simulator> simulator on 127.0.0.1:<port> (Ctrl-C stops)"
    assert "simulator on" in line, proc.stderr.read() if proc.poll() is not None else line
    return proc


@pytest.fixture
def served(tmp_path):
    r9_port, e727_port = _free_port(), _free_port()
    servers = [_serve("rhk-r9", r9_port), _serve("pi-e727", e727_port)]
    text = (CONFIG_DIR / "sim.yaml").read_text()
    text = text.replace("address: sim                 # in-process GCS 2.0 simulator",
                        f"address: tcp://127.0.0.1:{e727_port}", 1)
    text = text.replace("address: sim                 # in-process R9 remote-interface simulator",
                        f"address: tcp://127.0.0.1:{r9_port}", 1)
    assert text.count("tcp://127.0.0.1") == 2
    config = tmp_path / "served.yaml"
    config.write_text(text)
    yield config, r9_port
    for proc in servers:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def _pressing(path) -> bool:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(np.count_nonzero(f["entry/data/direction"][()] == 1)) >= 2
    except Exception:  # not there yet, or mid-flush
        return False


@pytest.mark.parametrize(("signum", "named"), SIGNALS, ids=[name for _, name in SIGNALS])
def test_a_signal_while_pressing_leaves_the_served_tip_retracted(served, tmp_path, signum, named):
    config, r9_port = served
    path = tmp_path / "ramp.h5"
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "run", "pressure-ramp", "--config", str(config),
                             "--out", str(path), "--set", "exposure_s=0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not _pressing(path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    r9 = R9(R9Socket("127.0.0.1", r9_port))
    assert r9.tip_control() == "Freeze"  # pressing: the loop is frozen with the tip below contact
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err.decode()[-2000:]
    assert r9.tip_control() == "Retract"  # the served controller itself says the tip is withdrawn
    r9.close()
    result = read_run(path)
    assert result.status == "aborted" and named in result.reason, result.reason
    with h5py.File(path, "r") as f:
        assert f["/entry"].attrs["safe_state_zcontrol"] == "retracted"
