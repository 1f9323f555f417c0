"""E727Stage after a move asks ONT? only once the settling time has passed: at zero latency a short step costs
MOV and its ERR? (one write) and one ONT?, and the stage is truly on target (the simulated controller's own
state) when the wait returns; a longer move is still polled until it settles; a wait with no move before it
asks at once."""

from __future__ import annotations

import types

import pytest

from tepl.drivers.pi_e727 import E727
from tepl.drivers.pi_e727_stage import E727Stage
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import SETTLE_S, GCSController
from tepl.sims.world import World


@pytest.fixture
def rig():
    world = World(sample=types.SimpleNamespace())
    controller = GCSController(world)
    instrument = E727(GCSAdapter(controller))
    sent: list[bytes] = []
    feed = instrument.adapter.connection.feed
    instrument.adapter.connection.feed = lambda data: sent.append(bytes(data)) or feed(data)
    return world, controller, instrument, sent


def _on_target(controller, world) -> bool:
    return all(axis.on_target(world.clock.now()) for axis in controller.axes.values())


def test_a_short_step_asks_on_target_once_and_is_settled(rig):
    world, controller, instrument, sent = rig
    stage = E727Stage(instrument, sleep=world.clock.advance)
    sent.clear()
    t0 = world.clock.now()
    stage.move_and_wait_um(x=50.002, y=50.0)
    assert sent == [b"MOV 1 50.002 2 50\nERR?\n", b"ONT? 1 2 3\n"]
    assert _on_target(controller, world) and world.stage_um[0] == pytest.approx(50.002)
    assert world.clock.now() - t0 >= SETTLE_S


def test_a_long_move_is_polled_until_it_settles(rig):
    world, controller, instrument, sent = rig
    stage = E727Stage(instrument, sleep=world.clock.advance)
    instrument.set_velocity_um_s({"1": 100.0})
    sent.clear()
    t0 = world.clock.now()
    stage.move_and_wait_um(x=51.0)  # 1 µm at 100 µm/s: 10 ms, then the servo settles
    assert sent.count(b"ONT? 1 2 3\n") > 1 and _on_target(controller, world)
    assert world.clock.now() - t0 >= 0.01 + SETTLE_S and world.stage_um[0] == pytest.approx(51.0)


def test_a_wait_without_a_move_asks_at_once(rig):
    world, controller, instrument, sent = rig
    stage = E727Stage(instrument, sleep=world.clock.advance)
    world.clock.advance(1.0)  # everything settled long ago
    sent.clear()
    t0 = world.clock.now()
    stage.wait_on_target()
    assert sent == [b"ONT? 1 2 3\n"] and world.clock.now() - t0 < SETTLE_S


def test_settle_s_zero_asks_at_once_and_a_settle_s_beyond_the_timeout_is_refused(rig):
    world, controller, instrument, sent = rig
    stage = E727Stage(instrument, sleep=world.clock.advance, settle_s=0.0)
    sent.clear()
    stage.move_and_wait_um(x=50.002)
    assert sent[:2] == [b"MOV 1 50.002\nERR?\n", b"ONT? 1 2 3\n"] and sent.count(b"ONT? 1 2 3\n") == 2
    with pytest.raises(ValueError, match="settle_s"):
        E727Stage(instrument, sleep=world.clock.advance, settle_timeout_s=1.0, settle_s=2.0)
