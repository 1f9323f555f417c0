"""The cryostat's temperature controller as a station role: built from a shipped config's text plus a
``cryostat`` entry (in-process simulator, or over TCP), its place in the safe state and its lifecycle, its
config checks, and ``tepl serve lakeshore-336`` driven by Lake Shore's own package."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tepl.config import CONFIG_DIR, ConfigError, parse_config
from tepl.limits import LimitError
from tepl.roles import SAFE_ORDER, TemperatureController
from tepl.sims.lakeshore_336 import LakeShore336Controller as Sim
from tepl.station import build_station

ENTRY = """  cryostat:
    driver: lakeshore-336
    address: sim                 # in-process Lake Shore 336 simulator
    input: A
    output: 1
    setpoint_range_k: [3, 300]
"""


def with_cryostat(name: str = "sim.yaml", entry: str = ENTRY):
    text = (CONFIG_DIR / name).read_text()
    assert "\nlimits:" in text
    return parse_config(text.replace("\nlimits:", entry + "\nlimits:", 1), f"{name} + cryostat")


def sim_of(station) -> Sim:
    return station.cryostat.controller.adapter.controller


@pytest.fixture
def station():
    built = build_station(with_cryostat())
    yield built
    built.close()


def test_the_station_has_the_role(station):
    assert station.has_role("cryostat")
    cryo = station.cryostat
    assert isinstance(cryo, TemperatureController) and cryo.safe_rank == SAFE_ORDER["motion"]
    assert cryo.setpoint_range_k.name == "instruments.cryostat.setpoint_range_k"
    status = station.status()
    assert status["cryostat_k"] == pytest.approx(4.0) and status["cryostat_heater"] == "off"
    settings = station.settings()["cryostat"]
    assert settings["id"].startswith("LSCI,MODEL336") and settings["safe_heater"] == "off"
    with pytest.raises(LimitError, match="instruments.cryostat.setpoint_range_k"):
        cryo.set_setpoint_k(1, 2.0)


def test_a_temperature_series_on_the_station_clock(station):
    cryo = station.cryostat
    for kelvin, heater in ((10.0, "medium"), (60.0, "high")):
        cryo.set_setpoint_k(None, kelvin)
        cryo.set_heater_range(None, heater)
        assert cryo.wait_stable(0.05, 20.0, 600.0) == pytest.approx(kelvin, abs=0.05)
        assert sim_of(station).stage_k == pytest.approx(kelvin, abs=0.05)


def test_lifecycle_make_safe_idempotent_and_release():
    station = build_station(with_cryostat())
    cryo, sim = station.cryostat, sim_of(station)
    cryo.set_setpoint_k(None, 30.0)
    cryo.set_heater_range(None, "high")
    station.world.clock.advance(60.0)
    sim.update()  # the simulator integrates when addressed or asked
    assert sim.loops[1].heater_range == 3 and sim.heater_power_W() > 0
    assert cryo.make_safe() == "heater off" and cryo.make_safe() == "heater off"
    assert all(loop.heater_range == 0 for loop in sim.loops.values()) and sim.heater_power_W() == 0
    report = station.close()
    assert report["cryostat"] == "heater off"
    assert report["released"]["cryostat"] == "released"
    assert cryo.controller.adapter.closed
    assert station.close() == {}


def test_safe_heater_keep_leaves_the_loop_running():
    station = build_station(with_cryostat(entry=ENTRY + "    safe_heater: keep\n"))
    try:
        station.cryostat.set_setpoint_k(None, 20.0)
        station.cryostat.set_heater_range(None, "medium")
        assert station.safe_state()["cryostat"] == "heater left as configured"
        assert sim_of(station).loops[1].heater_range == 2
    finally:
        station.close()


@pytest.mark.parametrize(("entry", "message"), [
    ("driver: lakeshore-337\n    address: sim\n    setpoint_range_k: [3, 300]", "instruments.cryostat.driver"),
    ("driver: lakeshore-336\n    address: sim", "instruments.cryostat.setpoint_range_k"),
    ("driver: lakeshore-336\n    address: sim\n    setpoint_range_k: [3, 300]\n    input: E", "input"),
    ("driver: lakeshore-336\n    address: sim\n    setpoint_range_k: [3, 300]\n    safe_heater: on", "safe_heater"),
])
def test_bad_entries_are_refused_naming_the_key(entry, message):
    text = (CONFIG_DIR / "sim.yaml").read_text()
    with pytest.raises(ConfigError, match=message):
        parse_config(text.replace("\nlimits:", f"  cryostat:\n    {entry}\n\nlimits:", 1), "bad.yaml")


def test_an_inverted_setpoint_range_is_refused_when_built():
    config = with_cryostat(entry=ENTRY.replace("[3, 300]", "[300, 3]"))
    with pytest.raises(ConfigError, match="instruments.cryostat.setpoint_range_k"):
        build_station(config)


def test_a_tcp_address_reaches_a_served_controller():
    from tepl.sims.lakeshore_336 import serve
    from tepl.sims.world import World

    with serve(World(real_time=True), 0) as server:
        host, port = server.address
        config = with_cryostat(entry=ENTRY.replace("address: sim                 # in-process Lake Shore 336 "
                                                   "simulator", f"address: tcp://{host}:{port}"))
        station = build_station(config)
        try:
            station.cryostat.set_setpoint_k(None, 25.0)
            station.cryostat.set_heater_range(None, "low")
            assert server.controller.loops[1].setpoint_k == 25.0 and server.controller.loops[1].heater_range == 1
            assert server.controller.commands[:2] == ["*IDN?", "*ESR?"]
        finally:
            station.close()
        assert server.controller.loops[1].heater_range == 0


def test_tepl_serve_lakeshore_336_for_the_vendor_client():
    lakeshore = pytest.importorskip("lakeshore")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", "lakeshore-336", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert f"lakeshore-336 simulator on 127.0.0.1:{port}" in proc.stdout.readline()
        client = lakeshore.Model336(ip_address="127.0.0.1", tcp_port=port)
        try:
            assert client.get_kelvin_reading("A") == pytest.approx(4.0, abs=0.01)
            client.set_control_setpoint(1, 12.5)
            assert client.get_control_setpoint(1) == 12.5
        finally:
            client.disconnect_tcp()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
