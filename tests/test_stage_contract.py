"""E727Stage against the Stage contract: in-process (GCSAdapter) and over loopback TCP (pyvisa-py socket),
plus what is particular to it (travel checks against TMN?/TMX?, axis map, settle timeout)."""

from __future__ import annotations

import types

import pytest

from tepl.drivers.pi_e727 import E727
from tepl.drivers.pi_e727_stage import E727Stage
from tepl.drivers.pi_gcs import GCSError
from tepl.roles import DeviceError, LimitError, Range
from tepl.sims.pi_e727 import GCSAdapter, serve
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.world import World
from tests.contracts.roles import StageContract


def make_world() -> World:
    return World(sample=types.SimpleNamespace())


class TestE727StageInProcess(StageContract):
    @pytest.fixture
    def world(self):
        return make_world()

    @pytest.fixture
    def stage(self, world):
        return E727Stage(E727(GCSAdapter(GCSController(world))), sleep=world.clock.advance)


@pytest.fixture(scope="module")
def tcp_world():
    return make_world()


@pytest.fixture(scope="module")
def tcp_instrument(tcp_world):
    with serve(tcp_world, 0) as server:
        inst = E727(f"TCPIP::127.0.0.1::{server.port}::SOCKET", timeout=2000)
        yield inst
        inst.adapter.close()


class TestE727StageOverTCP(StageContract):
    @pytest.fixture
    def world(self, tcp_world):
        return tcp_world

    @pytest.fixture
    def stage(self, tcp_instrument, world):
        return E727Stage(tcp_instrument, sleep=world.clock.advance)


# ---------------------------------------------------------------------------------------- specifics
@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def controller(world):
    return GCSController(world)


@pytest.fixture
def instrument(controller):
    return E727(GCSAdapter(controller))


def test_init_switches_servos_on_and_takes_the_controller_travel(controller, instrument, world):
    stage = E727Stage(instrument, sleep=world.clock.advance)
    assert all(axis.servo for axis in controller.axes.values())
    assert stage.travel_um == {a: Range(0.0, 100.0, "µm") for a in "xyz"}


def test_narrower_configured_travel_is_kept(instrument, world):
    travel = {"x": Range(5.0, 95.0, "µm"), "y": Range(0.0, 100.0, "µm"), "z": Range(40.0, 60.0, "µm")}
    stage = E727Stage(instrument, travel_um=travel, sleep=world.clock.advance)
    with pytest.raises(LimitError, match="stage z target"):
        stage.move_to_um(z=61.0)


@pytest.mark.parametrize("axis,limits", [("y", (0.0, 120.0)), ("z", (-5.0, 50.0))])
def test_travel_beyond_the_controller_range_is_refused(instrument, world, axis, limits):
    travel = {a: Range(0.0, 100.0, "µm") for a in "xyz"}
    travel[axis] = Range(*limits, unit="µm")
    with pytest.raises(ValueError, match=f"stage axis {axis} .* exceeds the E-727 range"):
        E727Stage(instrument, travel_um=travel, sleep=world.clock.advance)


def test_axis_map_is_checked_against_the_controller(instrument, world):
    with pytest.raises(ValueError, match="stage axis z is mapped to E-727 axis '4'"):
        E727Stage(instrument, axis_map={"x": "1", "y": "2", "z": "4"}, sleep=world.clock.advance)
    with pytest.raises(ValueError, match="exactly the stage axes"):
        E727Stage(instrument, axis_map={"x": "1", "y": "2"}, sleep=world.clock.advance)


def test_swapped_axis_map_moves_the_mapped_axes(instrument, world):
    stage = E727Stage(instrument, axis_map={"x": "2", "y": "1", "z": "3"}, sleep=world.clock.advance)
    stage.move_and_wait_um(x=30.0, y=70.0)
    assert world.stage_um[0] == pytest.approx(70.0) and world.stage_um[1] == pytest.approx(30.0)
    assert stage.position_um() == pytest.approx({"x": 30.0, "y": 70.0, "z": 50.0})


def test_one_mov_per_move(instrument, controller, world):
    stage = E727Stage(instrument, sleep=world.clock.advance)
    sent = []
    feed = instrument.adapter.connection.feed
    instrument.adapter.connection.feed = lambda data: sent.append(bytes(data)) or feed(data)
    stage.move_to_um(x=12.5, y=60.0, z=50.0)
    assert sent == [b"MOV 1 12.5 2 60 3 50\nERR?\n"]


def test_wait_on_target_times_out_with_device_error(instrument, world):
    stage = E727Stage(instrument, sleep=world.clock.advance, settle_timeout_s=0.2)
    instrument.set_velocity_um_s({"1": 10.0})
    t0 = world.clock.now()
    stage.move_to_um(x=90.0)  # 40 µm at 10 µm/s: 4 s
    with pytest.raises(DeviceError, match="not on target after 0.2 s"):
        stage.wait_on_target()
    assert 0.2 <= world.clock.now() - t0 < 0.5
    stage.wait_on_target(timeout_s=10.0)  # stopped where the wait gave up: on target there
    assert 50.0 < world.stage_um[0] < 60.0


def test_controller_refusal_surfaces_as_gcs_error(instrument, controller, world):
    stage = E727Stage(instrument, sleep=world.clock.advance)
    controller.travel_um = (0.0, 50.0)  # the controller now refuses what the configured travel allows
    with pytest.raises(GCSError, match="error 7"):
        stage.move_to_um(x=80.0)


def test_settings_snapshot(instrument, world):
    stage = E727Stage(instrument, sleep=world.clock.advance)
    settings = stage.settings()
    assert "E-727" in settings["idn"]
    assert settings["servo"] == {"x": True, "y": True, "z": True}
    assert settings["velocity_um_s"] == {"x": 10000.0, "y": 10000.0, "z": 10000.0}
    assert settings["travel_um"]["x"] == [0.0, 100.0]
    assert settings["axis_map"] == {"x": "1", "y": "2", "z": "3"}
