"""Lake Shore's own Python package (PyPI ``lakeshore``, ``Model336``) drives our simulator served on a loopback
TCP port, as it would drive a 336 on its Ethernet port 7777: it connects (LF, drain, ``*IDN?``), and every
call appends ``;*ESR?`` and checks the register. Everything it reads back is compared with the simulator's own
state; the World's clock follows the wall clock, as with ``tepl serve``."""

from __future__ import annotations

import time

import pytest

from tepl.sims.lakeshore_336 import serve
from tepl.sims.world import World

lakeshore = pytest.importorskip("lakeshore")


@pytest.fixture
def served():
    server = serve(World(seed=1, real_time=True), 0).start()
    client = lakeshore.Model336(ip_address="127.0.0.1", tcp_port=server.port, timeout=2.0)
    try:
        yield client, server.controller
    finally:
        client.disconnect_tcp()
        server.stop()


def test_connects_and_reads_the_identity(served):
    client, sim = served
    assert client.model_number == "MODEL336"
    assert sim.identity.split(",")[2].startswith(client.serial_number)
    assert "*IDN?" in sim.commands


def test_kelvin_setpoint_range_and_pid_round_trip(served):
    client, sim = served
    assert client.get_kelvin_reading("A") == pytest.approx(sim.sensor_k, abs=1e-3)
    assert client.get_kelvin_reading("B") == pytest.approx(sim.reading_k(2), abs=1e-3)

    client.set_heater_output_mode(1, client.HeaterOutputMode.CLOSED_LOOP, client.InputChannel.CHANNEL_A, False)
    client.set_control_setpoint(1, 50.0)
    client.set_heater_pid(1, 40, 25, 5)
    client.set_heater_range(1, client.HeaterRange.MEDIUM)

    loop = sim.loops[1]
    assert (loop.mode, loop.input, loop.powerup) == (1, 1, 0)
    assert loop.setpoint_k == 50.0 and client.get_control_setpoint(1) == 50.0
    assert loop.heater_range == 2 and client.get_heater_range(1) == client.HeaterRange.MEDIUM
    assert (loop.p, loop.i, loop.d) == (40.0, 25.0, 5.0)
    assert client.get_heater_pid(1) == {"gain": 40.0, "integral": 25.0, "derivative": 5.0}
    assert "PID 1,40,25,5" in sim.commands and "*ESR?" in sim.commands

    client.set_heater_range(1, client.HeaterRange.HIGH)  # 50 W into 20 J/K: about 2.5 K/s at first
    start = client.get_kelvin_reading("A")
    time.sleep(1.0)
    assert 0.0 < client.get_heater_output(1) <= 100.0
    assert client.get_kelvin_reading("A") > start + 0.5  # the reading follows the heat in wall-clock time

    client.all_heaters_off()
    assert all(loop.heater_range == 0 for loop in sim.loops.values())
    assert client.get_heater_range(1) == client.HeaterRange.OFF


def test_a_refused_command_raises_in_the_vendor_client(served):
    client, sim = served
    with pytest.raises(lakeshore.InstrumentException):
        client.command("RANGE 1,7")
    assert sim.loops[1].heater_range == 0
