"""pyLabLib's ``Picomotor8742`` (the real package, unchanged) drives the served 8742 simulator over TCP on a
free loopback port: connect (it discards the telnet greeting and asks ``*IDN?``), ``move_by``,
``get_position``, ``wait_move``, ``stop``, ``setup_velocity``, and the error queue through its own ``query``.
Every check is against the simulator's state."""

from __future__ import annotations

import time

import pytest
from pylablib.devices.Newport import picomotor

from tepl.sims.newport_8742 import IDENTITY, serve
from tepl.sims.world import World


@pytest.fixture
def served():
    world = World(real_time=True)  # pyLabLib waits in wall-clock time
    with serve(world, 0) as server:
        yield world, server.controller, server


class _GreetingFirst:
    """``time`` for pyLabLib's picomotor module. Having connected, pyLabLib sleeps 10 ms and discards what
    arrived (the telnet greeting); on a loaded machine the simulator's server thread can greet later than that,
    and the late greeting is then read as the reply to ``*IDN?`` (UnicodeDecodeError). The real controller
    greets at once: here that first sleep also waits until the server has sent the greeting."""

    def __init__(self, server):
        self.server, self.waited = server, False

    def sleep(self, seconds: float) -> None:
        if not self.waited:
            self.waited = True
            assert self.server.wait_greeted(10.0), "the served 8742 did not greet within 10 s"
        time.sleep(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def device(served, monkeypatch):
    host, port = served[2].address
    monkeypatch.setattr(picomotor, "time", _GreetingFirst(served[2]))
    dev = picomotor.Picomotor8742((host, port), timeout=2.0)
    yield dev
    dev.close()


def test_connects_and_identifies(device, served):
    _, controller, _ = served
    assert device.get_id() == IDENTITY
    assert controller.commands[0] == "*IDN?"


def test_move_by_get_position_and_wait_move(device, served):
    world, controller, _ = served
    device.move_by(1, 200)
    assert device.is_moving(1)
    device.wait_move(1)
    assert device.get_position(1) == controller.axes[1].count == 200
    assert not controller.axes[1].moving
    device.move_by(2, -50)
    device.wait_move()
    assert device.get_position() == [controller.axes[a].count for a in (1, 2, 3, 4)]
    assert world.picomotor_nm[1] == pytest.approx(200 * controller.step_nm[1]["forward"], rel=0.05)
    assert world.picomotor_nm[2] < 0


def test_setup_velocity_and_stop(device, served):
    _, controller, _ = served
    assert device.setup_velocity(3, speed=500, accel=20000) == (500, 20000)
    assert (controller.axes[3].velocity, controller.axes[3].acceleration) == (500, 20000)
    device.move_by(3, 100000)  # 200 s at 500 steps/s
    assert device.is_moving(3)
    device.stop()
    assert not device.is_moving(3) and not controller.axes[3].moving
    stopped_at = device.get_position(3)
    assert stopped_at == controller.axes[3].count
    assert 0 < stopped_at < 100000
    device.stop(immediate=True)  # AB
    assert device.get_velocity_parameters(3) == (500, 20000)


def test_the_error_queue_through_pylablib(device, served):
    _, controller, _ = served
    device.setup_velocity(1, speed=100)
    device.move_by(1, 1000)
    device.move_by(1, 5)  # refused: the axis is moving (pyLabLib reads no reply and does not notice)
    device.setup_velocity(2, speed=5000)  # beyond the Standard motor's 2000 steps/s
    assert list(controller.errors) == [114, 210]
    assert device.query("TB?") == "114, MOTION IN PROGRESS"
    assert device.query("TE?") == "210"
    assert device.query("TB?") == "0, NO ERROR DETECTED"
    device.stop(1)
    assert controller.axes[1].target == 1000
