"""Instruments served over Pyro5 (tepl serve-instruments): a station whose stage and spectrometer are served by
a second process measures what a local station measures; the server keeps its own limits; a client killed
mid-ramp leaves the served instruments safe within the heartbeat timeout (truth: the served World)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from tepl.config import CONFIG_DIR, parse_config
from tepl.procedures import run_procedure
from tepl.remote.client import RemoteRole, served_ground_truth
from tepl.roles import LimitError, Spectrometer, Stage
from tepl.station import build_station

SIM = yaml.safe_load((CONFIG_DIR / "sim.yaml").read_text())
SPECTRAL = ("stage", "spectrometer", "shutter")  # the Kymera's shutter sits on the spectrometer's PC


@contextmanager
def served(tmp_path: Path, roles: tuple[str, ...], heartbeat_s: float = 2.0, simulation: dict | None = None,
           limits: dict | None = None):
    """A second process serving ``roles`` of sim.yaml on 127.0.0.1; yields (port, process)."""
    instruments = {k: dict(v) for k, v in SIM["instruments"].items() if k in roles}
    if (simulation or {}).get("real_time") and "spectrometer" in instruments:
        del instruments["spectrometer"]["target_temperature_c"]  # no minutes of cooling in wall-clock time
    pc = {**SIM, "simulation": {**SIM["simulation"], **(simulation or {})},
          "limits": {**SIM["limits"], **(limits or {})}, "instruments": instruments}
    path = tmp_path / "pc.yaml"
    path.write_text(yaml.safe_dump(pc))
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve-instruments", "--config", str(path),
                             "--port", "0", "--heartbeat-timeout-s", str(heartbeat_s)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"pyro://127\.0\.0\.1:(\d+)/", line)
        assert match, f"server did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield int(match.group(1)), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def remote_config(port: int, roles: tuple[str, ...], simulation: dict | None = None) -> str:
    data = {**SIM, "simulation": {**SIM["simulation"], **(simulation or {})},
            "instruments": {k: ({"address": f"pyro://127.0.0.1:{port}/{k}"} if k in roles else v)
                            for k, v in SIM["instruments"].items()}}
    return yaml.safe_dump(data)


def brightest_dot_um(station) -> tuple[float, float]:
    truth = station.world.ground_truth()["sample"]
    i = int(np.argmax(truth["orientation"]))
    return truth["x_nm"][i] / 1000.0, truth["y_nm"][i] / 1000.0


def test_served_stage_and_spectrometer_measure_what_a_local_station_measures(tmp_path):
    with served(tmp_path, SPECTRAL) as (port, _):
        remote = build_station(parse_config(remote_config(port, SPECTRAL), "remote.yaml"))
        local = build_station(parse_config((CONFIG_DIR / "sim.yaml").read_text(), "sim.yaml"))
        try:
            assert isinstance(remote.stage, RemoteRole) and isinstance(remote.stage, Stage)
            assert isinstance(remote.spectrometer, Spectrometer) and not isinstance(local.stage, RemoteRole)
            x_um, y_um = brightest_dot_um(local)
            runs = {"raster": dict(center_x_um=x_um, center_y_um=y_um, size_x_um=0.03, size_y_um=0.03,
                                   pixel_um=0.005),
                    "pressure-ramp": dict(x_um=x_um, y_um=y_um, gap_step_nm=1.0, exposure_s=0.5)}
            for name, values in runs.items():
                paths = [run_procedure(name, st, tmp_path / f"{where}-{name}.h5", **values)
                         for where, st in (("local", local), ("remote", remote))]
                with h5py.File(paths[0], "r") as a, h5py.File(paths[1], "r") as b:
                    assert sorted(a["entry/data"]) == sorted(b["entry/data"])
                    for key in a["entry/data"]:
                        np.testing.assert_array_equal(a["entry/data"][key][()], b["entry/data"][key][()],
                                                      err_msg=f"{name}: {key}")
                    spectra = a["entry/data/spectra"][()]
                    assert np.nanmax(spectra) - np.nanmedian(spectra) > 100, "no emission measured: a vacuous check"
            # the served World is the station's: the stage the server moved is where the station's twin says
            truth = served_ground_truth("127.0.0.1", port)
            np.testing.assert_array_equal(truth["state"]["stage_um"], remote.world.stage_um)
            assert truth["state"]["tip_z_nm"] == remote.world.tip_z_nm
        finally:
            remote.close()
            local.close()


def test_the_server_keeps_its_own_limits(tmp_path):
    with served(tmp_path, SPECTRAL, limits={"exposure_s": [0.001, 1.0]}) as (port, _):
        station = build_station(parse_config(remote_config(port, SPECTRAL), "remote.yaml"))  # allows 120 s
        try:
            with pytest.raises(LimitError, match=r"exposure = 5 s .*limits\.exposure_s"):
                station.spectrometer.acquire(5.0)
            with pytest.raises(LimitError, match="stage x target = 150"):
                station.stage.move_to_um(x=150.0)
            with pytest.raises(AttributeError, match="cannot be set"):
                station.stage.travel_um = {}
            with pytest.raises(AttributeError, match="not a method this server offers"):
                station.stage._call("_do_move_to", {"x": 150.0})
            with pytest.raises(AttributeError, match="not a method this server offers"):
                station.spectrometer._call("close")
            assert station.spectrometer.acquire(0.5).shape == (1024,)
        finally:
            station.close()


def test_a_client_killed_mid_ramp_leaves_the_served_instruments_safe(tmp_path):
    roles = ("excitation_shutter", "laser", "stage", "zcontrol", "spectrometer", "shutter")
    heartbeat_s = 1.0
    real_time = {"real_time": True}
    with served(tmp_path, roles, heartbeat_s, simulation=real_time) as (port, server):
        config = tmp_path / "remote.yaml"
        config.write_text(remote_config(port, roles, simulation=real_time))
        truth = served_ground_truth("127.0.0.1", port)["sample"]
        i = int(np.argmax(truth["orientation"]))
        client = subprocess.Popen(
            [sys.executable, "-m", "tepl.cli", "run", "pressure-ramp", "--config", str(config),
             "--out", str(tmp_path / "ramp.h5"), "--set", f"x_um={truth['x_nm'][i] / 1000}",
             "--set", f"y_um={truth['y_nm'][i] / 1000}", "--set", "exposure_s=0.3"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:  # mid-ramp: the tip pressed near the dot, the excitation open
                state = served_ground_truth("127.0.0.1", port)["state"]
                if state["excitation_open"] and state["tip_z_nm"] < 30.0:
                    break
                assert client.poll() is None, f"the ramp ended before it was killed: {client.stderr.read()}"
                assert time.monotonic() < deadline, "the ramp never pressed"
                time.sleep(0.05)
            os.kill(client.pid, signal.SIGKILL)
            killed = time.monotonic()
            client.wait(timeout=10)
            while True:
                state = served_ground_truth("127.0.0.1", port)["state"]
                if not state["excitation_open"] and state["tip_z_nm"] > 1000.0:
                    break
                assert time.monotonic() - killed < heartbeat_s + 1.0, f"still not safe: {state}"
                time.sleep(0.02)
            elapsed_s = time.monotonic() - killed
            assert elapsed_s > 0.5 * heartbeat_s, "made safe before the timeout: not by the heartbeat"
            assert not state["crashed"]
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    assert server.returncode == 0


def test_binding_beyond_loopback_needs_tls(tmp_path, capsys):
    from tepl.cli import main

    pc = tmp_path / "pc.yaml"
    pc.write_text(yaml.safe_dump({**SIM, "instruments": {"stage": SIM["instruments"]["stage"]}}))
    assert main(["serve-instruments", "--config", str(pc), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "binding '0.0.0.0' (not loopback) needs TLS" in capsys.readouterr().err


def test_a_served_address_must_name_host_port_and_role():
    from tepl.config import ConfigError

    text = remote_config(1, ()).replace("address: sim                 # in-process GCS", "x")
    data = yaml.safe_load(text)
    data["instruments"]["stage"] = {"address": "pyro://127.0.0.1/stage"}
    with pytest.raises(ConfigError, match="instruments.stage"):
        parse_config(yaml.safe_dump(data), "bad.yaml")
