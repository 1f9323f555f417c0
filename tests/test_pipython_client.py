"""Acceptance: PI's own PyPI client (PIPython, pure-socket gateway) drives the E-727 simulator on loopback.

The world runs in real time here, as it does behind ``tepl serve pi-e727``.
"""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from pipython import GCSDevice, GCSError, pitools
from pipython.pidevice.interfaces.pisocket import PISocket

from tepl.sims.pi_e727 import serve
from tepl.sims.world import World


@pytest.fixture(scope="module")
def world():
    return World(sample=types.SimpleNamespace(), real_time=True)


@pytest.fixture(scope="module")
def port(world):
    with serve(world, 0) as server:
        yield server.port


def connect(port: int) -> GCSDevice:
    return GCSDevice(gateway=PISocket("127.0.0.1", port))


@pytest.fixture
def dev(port):
    device = connect(port)
    yield device
    del device  # GCSDevice closes its socket when collected (closing it twice raises inside PIPython)
    gc.collect()


def test_identifies_as_a_gcs2_e727(dev):
    assert dev.qIDN().split(",")[1].strip().startswith("E-727")
    assert dev.devname.startswith("E-727")
    assert dev.qCSV() == 2.0
    assert dev.axes == ["1", "2", "3"]
    assert dev.allaxes == ["1", "2", "3"]
    assert dev.HasIsControllerReady() and dev.HasqONT() and dev.HasStopAll()


def test_pitools_startup_closes_the_loops(dev):
    dev.SVO({"1": False, "2": False, "3": False})
    pitools.startup(dev)
    assert dev.qSVO() == {"1": True, "2": True, "3": True}
    assert dev.qCST("1") == {"1": "P-611.3S"}


def test_servo_move_wait_and_read_back(dev, world):
    dev.SVO({"1": True, "2": True, "3": True})
    assert all(dev.qSVO().values())
    dev.MOV({"1": 10.0, "2": 20.5})
    pitools.waitontarget(dev, ["1", "2"], timeout=5)  # raises if the axes never report on target
    assert all(dev.qONT(["1", "2"]).values())
    pos = dev.qPOS()
    assert list(pos) == ["1", "2", "3"]
    assert pos["1"] == pytest.approx(10.0, abs=1e-6) and pos["2"] == pytest.approx(20.5, abs=1e-6)
    assert dev.qMOV("1") == {"1": 10.0}
    np.testing.assert_allclose(world.stage_um[:2], [10.0, 20.5], atol=1e-6)
    assert dev.IsMoving() == {"1": False, "2": False, "3": False}
    assert dev.IsControllerReady()


def test_move_beyond_travel_raises_gcs_error_7(dev, world):
    dev.SVO("1", True)
    before = dev.qMOV("1")["1"]
    with pytest.raises(GCSError) as err:
        dev.MOV("1", 150.0)
    assert err.value.val == 7
    assert dev.qMOV("1")["1"] == before
    assert dev.qTMN("1")["1"] == 0.0 and dev.qTMX("1")["1"] == 100.0


def test_move_with_servo_off_raises_5_and_stop_is_swallowed(dev):
    dev.SVO("2", False)
    with pytest.raises(GCSError) as err:
        dev.MVR("2", 1.0)
    assert err.value.val == 5
    dev.StopAll(noraise=True)
    assert dev.qERR() == 0


def test_cli_serve_accepts_pipython(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", "pi-e727", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20.0
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
                assert time.monotonic() < deadline, "tepl serve pi-e727 did not open its port"
                time.sleep(0.1)
        device = connect(port)
        assert device.qIDN().split(",")[1].strip().startswith("E-727")
        device.SVO("3", True)
        device.MOV("3", 42.0)
        pitools.waitontarget(device, "3", timeout=2)
        assert device.qPOS("3")["3"] == pytest.approx(42.0, abs=1e-6)
        del device
        gc.collect()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
