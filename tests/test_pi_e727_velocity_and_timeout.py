"""Two E-727 defects, judged on the simulated controller's own state (issue 11):

- ``VEL`` only takes effect with velocity control on (``VCO a 1``; PIPython's ``VCO`` docstring, the E-727
  manual's slew-rate limitation): the driver must switch it on, or a move runs at the servo's own rate.
- a wait on target that times out must stop the axes (#24 / ``STP``) before raising: nothing moves after.
"""

from __future__ import annotations

import types

import pytest

from tepl.drivers.pi_e727 import E727
from tepl.drivers.pi_e727_stage import E727Stage
from tepl.roles import DeviceError
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.world import World


@pytest.fixture
def world() -> World:
    return World(sample=types.SimpleNamespace())


@pytest.fixture
def controller(world) -> GCSController:
    return GCSController(world)


@pytest.fixture
def stage(controller, world) -> E727Stage:
    return E727Stage(E727(GCSAdapter(controller)), sleep=world.clock.advance, settle_timeout_s=0.2)


def test_controller_ignores_vel_until_velocity_control_is_on(controller, world):
    """The simulator as the controller: VEL is stored either way, but only VCO 1 makes moves use it."""
    for line in ("SVO 1 1", "VEL 1 10", "MOV 1 60"):
        controller.execute_line(line)
    assert controller.error_code == 0 and controller.axes["1"].velocity_um_s == 10.0
    world.clock.advance(0.1)
    assert controller.update()[0] == 60.0  # 10 µm at the servo's own rate: long arrived, not 1 µm along
    controller.execute_line("VCO 1 1")
    controller.execute_line("MOV 1 70")
    world.clock.advance(0.1)
    assert controller.update()[0] == pytest.approx(61.0, abs=0.05)  # now at 10 µm/s


def test_setting_a_velocity_switches_velocity_control_on(stage, controller, world):
    stage.instrument.set_velocity_um_s({"1": 20.0, "3": 40.0})
    assert [controller.axes[a].velocity_control for a in "123"] == [True, False, True]
    assert controller.axes["1"].velocity_um_s == 20.0 and controller.axes["3"].velocity_um_s == 40.0
    assert controller.error_code == 0
    t0 = world.clock.now()
    stage.move_and_wait_um(timeout_s=5.0, x=70.0)  # 20 µm at 20 µm/s: a second, not milliseconds
    assert world.clock.now() - t0 == pytest.approx(1.0, abs=0.05)
    assert stage.settings()["velocity_control"] == {"x": True, "y": False, "z": True}


def test_axis_velocity_property_switches_velocity_control_on(stage, controller):
    stage.instrument.axis_2.velocity_um_s = 55.0
    assert controller.axes["2"].velocity_control and controller.axes["2"].velocity_um_s == 55.0
    assert stage.instrument.axis_2.velocity_um_s == 55.0
    assert stage.instrument.axis_2.velocity_control_enabled is True


def test_a_timed_out_wait_leaves_nothing_moving(stage, controller, world):
    for line in ("VCO 1 1", "VEL 1 10"):  # slow axis 1 on the controller itself, whatever the driver does
        controller.execute_line(line)
    stage.move_to_um(x=90.0)  # 40 µm at 10 µm/s: 4 s, the wait gives up after 0.2 s
    with pytest.raises(DeviceError, match="not on target after 0.2 s"):
        stage.wait_on_target()
    now = world.clock.now()
    assert not any(axis.moving(now + 0.01) for axis in controller.axes.values())
    stopped = controller.update()[0]
    world.clock.advance(5.0)
    assert controller.update()[0] == stopped < 90.0
    assert controller.error_code == 0  # the stop's error 10 was read, nothing left for the next command
