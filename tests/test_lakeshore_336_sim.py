"""The Lake Shore 336 simulator: its grammar (hardware.md section 8 checklist) and its thermal model, driven
through our driver and role in-process on a World with a manual clock."""

from __future__ import annotations

import math

import pytest

from tepl.drivers.lakeshore_336 import LakeShore336
from tepl.drivers.lakeshore_336_controller import LakeShore336Controller
from tepl.limits import Range
from tepl.roles import DeviceError
from tepl.sims.lakeshore_336 import (
    LakeShore336Adapter,
    LakeShore336Session,
    ThermalModel,
)
from tepl.sims.lakeshore_336 import (
    LakeShore336Controller as Sim,
)
from tepl.sims.world import World


@pytest.fixture
def world():
    return World(seed=1)


def test_grammar_terminators_chaining_and_the_register(world):
    sim = Sim(world)
    s = LakeShore336Session(sim)
    assert s.feed(b"\n\r\n") == b""  # empty lines are ignored
    idn = s.feed(b"*IDN?\n").decode()
    assert idn.endswith("\r\n") and len(idn.split(",")) == 4 and "/" in idn.split(",")[2]
    assert s.feed(b"KRDG? A;:*ESR?\r\n") == b"+4.000;0\r\n"
    assert s.feed(b"SETP 1,25.5;RANGE 1,2\n") == b""  # commands are silent
    assert s.feed(b"SETP? 1;RANGE? 1;PID? 1;OUTMODE? 1\n") == b"+25.500;2;+50.0,+20.0,+0;1,1,0\r\n"
    assert s.feed(b"KRDG? 0\n") == b"+4.000,+4.000,+0.000,+0.000\r\n"
    assert s.feed(b"RDGST? A;RDGST? C\n") == b"0;1\r\n"
    assert s.feed(b"NOPE 1;*ESR?\n") == b"32\r\n"
    assert s.feed(b"*ESR?\n") == b"0\r\n"  # reading clears it
    assert s.feed(b"KRDG? E\n") == b""  # a bad query is not answered
    assert s.feed(b"RANGE 1,4;*ESR?\n") == b"20\r\n"  # query error 4 from before, then execution error 16
    assert s.feed(b"RANGE? 1\n") == b"2\r\n"  # the refused range changed nothing


def test_one_state_for_every_connection(world):
    sim = Sim(world)
    a, b = LakeShore336Session(sim), LakeShore336Session(sim)
    a.feed(b"SETP 2,77\n")
    assert b.feed(b"SETP? 2\n") == b"+77.000\r\n"


def _role(world, sim=None, **kwargs):
    sim = sim or Sim(world)
    role = LakeShore336Controller(LakeShore336(LakeShore336Adapter(sim), address="sim"),
                                  Range(1.0, 300.0, "K", "instruments.cryostat.setpoint_range_k"),
                                  sleep=world.clock.advance, **kwargs)
    return role, sim


def test_starts_at_base_and_stays_there_with_the_heater_off(world):
    role, sim = _role(world)
    world.clock.advance(600)
    assert role.temperature_k() == pytest.approx(sim.model.base_k)
    assert role.heater_range() == "off" and role.heater_percent() == 0.0


def test_settles_at_the_setpoint_within_the_time_the_model_gives(world):
    """Medium range (5 W) on the stage (C = 20 J/K, G = 0.2 W/K): full power drives it toward 29 K with the
    time constant C/G = 100 s, so 20 K is crossed after 100·ln(25/9) ≈ 102 s; the PID (P 50, I 20) then
    settles it within a few of its ~10 s periods. Stable (± 0.05 K for 30 s) well inside 4·C/G = 400 s."""
    role, sim = _role(world)
    m = sim.model
    crossing = m.time_constant_s * math.log((m.hottest_k(2) - m.base_k) / (m.hottest_k(2) - 20.0))
    assert crossing == pytest.approx(102.2, abs=0.5)
    t0 = world.clock.now()
    role.set_setpoint_k(None, 20.0)
    role.set_heater_range(None, "medium")
    assert role.wait_stable(0.05, 30.0, 4 * m.time_constant_s) == pytest.approx(20.0, abs=0.05)
    took = world.clock.now() - t0
    assert crossing < took < 4 * m.time_constant_s
    assert sim.stage_k == pytest.approx(20.0, abs=0.05)
    # held: the heater supplies what the link takes, G·(T − base) = 3.2 W, 64 % of the range's 5 W
    assert role.heater_percent() == pytest.approx(100 * m.conductance_W_per_K * 16.0 / 5.0, abs=1.0)


def test_a_range_too_weak_for_the_setpoint_stops_at_its_hottest(world):
    role, sim = _role(world)
    role.set_setpoint_k(None, 50.0)
    role.set_heater_range(None, "medium")
    world.clock.advance(10 * sim.model.time_constant_s)
    assert role.temperature_k() == pytest.approx(sim.model.hottest_k(2), abs=0.1)
    assert role.heater_percent() == 100.0
    role.set_heater_range(None, "high")
    assert role.wait_stable(0.05, 30.0, 600.0) == pytest.approx(50.0, abs=0.05)


def test_a_setpoint_below_base_is_never_reached(world):
    role, sim = _role(world)
    role.set_setpoint_k(None, 2.0)
    role.set_heater_range(None, "high")
    world.clock.advance(1000)
    assert role.temperature_k() == pytest.approx(sim.model.base_k) and role.heater_percent() == 0.0
    with pytest.raises(DeviceError, match="did not finish"):
        role.wait_stable(0.1, 10.0, 120.0)


def test_the_sensor_lags_the_stage(world):
    role, sim = _role(world)
    role.set_setpoint_k(None, 100.0)
    role.set_heater_range(None, "high")
    world.clock.advance(5.0)
    sim.update()
    assert sim.sensor_k < sim.stage_k  # heating: the sensor trails the stage
    assert sim.stage_k - sim.sensor_k == pytest.approx(sim.model.sensor_lag_s * (sim.stage_k - sim.model.base_k)
                                                       / 5.0, rel=0.5)


def test_heat_only_in_closed_loop_mode(world):
    role, sim = _role(world)
    role.set_setpoint_k(None, 30.0)
    role.controller.set_output_mode(1, 0, "A")  # output off: the range has no effect
    role.controller.set_heater_range(1, 3)
    world.clock.advance(100)
    assert role.temperature_k() == pytest.approx(sim.model.base_k) and role.heater_percent() == 0.0


def test_make_safe_switches_heaters_off_and_cools_to_base(world):
    role, sim = _role(world)
    role.set_setpoint_k(None, 40.0)
    role.set_heater_range(None, "high")
    world.clock.advance(200)
    assert role.make_safe() == "heater off" and role.make_safe() == "heater off"
    assert all(loop.heater_range == 0 for loop in sim.loops.values())
    world.clock.advance(10 * sim.model.time_constant_s)
    assert role.temperature_k() == pytest.approx(sim.model.base_k, abs=0.01)
    role.close()
    assert role.controller.adapter.closed


def test_ramp_moves_the_loop_setpoint_at_its_rate(world):
    sim = Sim(world, ThermalModel())
    s = LakeShore336Session(sim)
    s.feed(b"RAMP 1,1,6.0;SETP 1,10;RANGE 1,3\n")  # 6 K/min from the 4 K reading
    world.clock.advance(30.0)
    assert s.feed(b"RAMPST? 1\n") == b"1\r\n"
    assert sim.loops[1].target_k == pytest.approx(7.0, abs=0.01)
    world.clock.advance(60.0)
    assert s.feed(b"RAMPST? 1\n") == b"0\r\n"
