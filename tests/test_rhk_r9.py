"""RHK R9 remote interface: the driver's exact command lines and reply checks and the simulator's semantics
against the World (the same driver over loopback TCP: test_rhk_r9_tcp.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_zcontrol import R9ZController
from tepl.roles import DeviceError, LimitError, Range, SurfaceOutOfReach
from tepl.sims.rhk_r9 import R9Controller, R9InProcess, R9Session
from tepl.sims.world import World
from tests.standins import BumpSample

C = "Z PI Controller 1"


class Recorder:
    """A transport that records every line and answers from a script."""

    def __init__(self, *replies: str):
        self.lines: list[str] = []
        self.replies = list(replies)

    def query(self, line: str) -> str:
        self.lines.append(line)
        return self.replies.pop(0)


@pytest.fixture
def world() -> World:
    return World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0))


@pytest.fixture
def r9sim(world) -> R9Controller:
    return R9Controller(world)


def q(ctrl: R9Controller, line: str) -> str:
    return "".join(ctrl.handle(line))


def z_nm(ctrl: R9Controller) -> float:
    return float(q(ctrl, "ReadChannelValue, z0-src")) * 1e9


# ---------------------------------------------------------------------------------------- driver lines
@pytest.mark.parametrize("call, lines, replies, result", [
    (lambda r: r.set_setpoint_V(0.09), [f"SetHWSubParameter, {C}, Set Point, Value, 0.09"], ["Done"], None),
    (lambda r: r.setpoint_V(), [f"GetHWSubParameter, {C}, Set Point, Value"], ["0.09"], 0.09),
    (lambda r: r.set_integral_gain(12.5), [f"SetHWSubParameter, {C}, Integral Gain, 12.5"], ["Done"], None),
    (lambda r: r.integral_gain(), [f"GetHWSubParameter, {C}, Integral Gain"], ["12.5"], 12.5),
    (lambda r: r.set_proportional_gain(0.25), [f"SetHWSubParameter, {C}, Proportional Gain, 0.25"],
     ["Done"], None),
    (lambda r: r.proportional_gain(), [f"GetHWSubParameter, {C}, Proportional Gain"], ["0.25"], 0.25),
    (lambda r: r.z_bounds_m(),
     [f"GetHWSubParameter, {C}, Lower Bound, Value", f"GetHWSubParameter, {C}, Upper Bound, Value"],
     ["0.0", "2e-06"], (0.0, 2e-6)),
    (lambda r: r.set_tip_control("Unlimit"), [f"SetHWParameter, {C}, Tip Control, Unlimit"], ["Done"], None),
    (lambda r: r.set_tip_control("Freeze"), [f"SetHWParameter, {C}, Tip Control, Freeze"], ["Done"], None),
    (lambda r: r.set_tip_control("Retract"), [f"SetHWParameter, {C}, Tip Control, Retract"], ["Done"], None),
    (lambda r: r.tip_control(), [f"GetHWParameter, {C}, Tip Control"], ["Freeze"], "Freeze"),
    (lambda r: r.set_z_position_m(1.5e-6), [f"SetHWSubParameter, {C}, Z Position, Value, 1.5e-06"],
     ["Done"], None),
    (lambda r: r.z_m(), ["ReadChannelValue, z0-src"], ["1.2e-06"], 1.2e-6),
    (lambda r: r.amplitude_V(), ["ReadChannelValue, LIA 1 Amplitude"], ["0.0901"], 0.0901),
    (lambda r: r.phase_deg(), ["ReadChannelValue, LIA 1 Phase"], ["-3.5"], -3.5),
    (lambda r: r.step_in(), ["StartProcedure, Pan Single Step In"], ["DoneDone"], None),
    (lambda r: r.step_out(), ["StartProcedure, Pan Single Step Out"], ["DoneDone"], None),
    (lambda r: r.stop_procedure("Pan Single Step In"), ["StopProcedure, Pan Single Step In"], ["Done"], None),
])
def test_driver_sends_the_manual_lines(call, lines, replies, result):
    transport = Recorder(*replies)
    assert call(R9(transport)) == result
    assert transport.lines == lines


def test_driver_uses_configured_controller_and_channel_names():
    transport = Recorder("Done", "1e-09", "0.1", "2.0")
    r9 = R9(transport, controller="Z PI Controller", z_channel="Z", amplitude_channel="Amp",
            phase_channel="Phi")
    r9.set_setpoint_V(0.08)
    r9.z_m(), r9.amplitude_V(), r9.phase_deg()
    assert transport.lines == ["SetHWSubParameter, Z PI Controller, Set Point, Value, 0.08",
                               "ReadChannelValue, Z", "ReadChannelValue, Amp", "ReadChannelValue, Phi"]


@pytest.mark.parametrize("call, reply, message", [
    (lambda r: r.set_setpoint_V(0.09), "Error: unknown parameter 'Set Point'", "Set Point.*Error"),
    (lambda r: r.set_tip_control("Freeze"), "", "Tip Control, Freeze"),
    (lambda r: r.set_integral_gain(1.0), "0.5", "Integral Gain"),
    (lambda r: r.z_m(), "Error: unknown channel 'z0-src'", "ReadChannelValue, z0-src"),
    (lambda r: r.amplitude_V(), "n/a", "not a number"),
    (lambda r: r.tip_control(), "Engaged", "not a tip-control word"),
    (lambda r: r.step_in(), "Done", "Pan Single Step In.*did not complete"),
    (lambda r: r.step_out(), "Error: unknown procedure 'Pan Single Step Out'", "Pan Single Step Out"),
    (lambda r: r.step_in(), "DoneError: motor fault", "did not complete"),
])
def test_driver_turns_bad_replies_into_device_errors(call, reply, message):
    with pytest.raises(DeviceError, match=message):
        call(R9(Recorder(reply)))


def test_driver_rejects_reversed_bounds():
    with pytest.raises(DeviceError, match="bounds"):
        R9(Recorder("2e-06", "0.0")).z_bounds_m()


@pytest.mark.parametrize("call, message", [
    (lambda r: r.set_setpoint_V(float("nan")), "setpoint"),
    (lambda r: r.set_setpoint_V("0.1V"), "setpoint"),
    (lambda r: r.set_integral_gain(float("inf")), "integral gain"),
    (lambda r: r.set_z_position_m(None), "Z position"),
    (lambda r: r.set_tip_control("Engage"), "tip control"),
])
def test_driver_validates_before_sending(call, message):
    transport = Recorder()
    with pytest.raises(ValueError, match=message):
        call(R9(transport))
    assert transport.lines == []


# ---------------------------------------------------------------------------------------- simulator
def test_sets_reply_done_and_read_back(r9sim):
    assert q(r9sim, f"SetHWSubParameter, {C}, Set Point, Value, 0.085") == "Done"
    assert float(q(r9sim, f"GetHWSubParameter, {C}, Set Point, Value")) == 0.085
    assert q(r9sim, f"SetHWSubParameter, {C}, Integral Gain, 20") == "Done"
    assert float(q(r9sim, f"GetHWSubParameter, {C}, Integral Gain")) == 20.0
    assert q(r9sim, f"SetHWSubParameter, {C}, Proportional Gain, 0.3") == "Done"
    assert float(q(r9sim, f"GetHWSubParameter, {C}, Proportional Gain")) == 0.3
    assert float(q(r9sim, f"GetHWSubParameter, {C}, Upper Bound, Value")) == 2.0e-6
    assert float(q(r9sim, f"GetHWSubParameter, {C}, Lower Bound, Value")) == 0.0
    assert q(r9sim, f"GetHWParameter, {C}, Tip Control") == "Retract"
    assert q(r9sim, f"SetHWParameter, {C}, Tip Control, Freeze") == "Done"
    assert q(r9sim, f"GetHWParameter, {C}, Tip Control") == "Freeze"


@pytest.mark.parametrize("line, words", [
    ("Foo, 1", ["unknown command", "'Foo'"]),
    ("ReadChannelValue, LIA 9 Amplitude", ["unknown channel", "'LIA 9 Amplitude'"]),
    (f"SetHWSubParameter, {C}, Set Point, Value, lots", ["bad value", "'lots'"]),
    (f"SetHWSubParameter, {C}, Set Point, Value, nan", ["bad value", "'nan'"]),
    (f"SetHWSubParameter, {C}, Set Point, 0.1", ["Set Point, Value"]),
    (f"SetHWSubParameter, {C}, Dither, Value, 1", ["unknown parameter", "'Dither'"]),
    (f"SetHWSubParameter, {C}, Upper Bound, Value, 1e-6", ["read-only", "Upper Bound"]),
    (f"SetHWParameter, {C}, Tip Control, Engage", ["bad Tip Control", "'Engage'"]),
    ("SetHWParameter, Z PI Controller 7, Tip Control, Freeze", ["unknown controller", "'Z PI Controller 7'"]),
    (f"SetHWSubParameter, {C}, Z Position, Value, 1e-6", ["only be set while Tip Control is Freeze"]),
    ("StartProcedure, Coarse Dance", ["unknown procedure", "'Coarse Dance'"]),
])
def test_bad_commands_get_error_replies(r9sim, world, line, words):
    z_before = world.tip_z_nm
    reply = q(r9sim, line)
    assert reply.startswith("Error: ")
    for word in words:
        assert word in reply
    assert world.tip_z_nm == z_before and r9sim.coarse_base_nm == 0.0


def test_z_position_outside_range_refused_when_frozen(r9sim, world):
    q(r9sim, f"SetHWParameter, {C}, Tip Control, Freeze")
    assert "outside the Z range" in q(r9sim, f"SetHWSubParameter, {C}, Z Position, Value, 2.5e-6")
    assert q(r9sim, f"SetHWSubParameter, {C}, Z Position, Value, 1.25e-6") == "Done"
    assert world.tip_z_nm == pytest.approx(1250.0)
    assert z_nm(r9sim) == pytest.approx(1250.0, abs=0.1)


def test_every_command_advances_the_clock(r9sim, world):
    t0 = world.clock.now()
    q(r9sim, "ReadChannelValue, z0-src")
    assert world.clock.now() > t0


def engage(ctrl: R9Controller, world: World, fraction: float = 0.9) -> None:
    q(ctrl, f"SetHWSubParameter, {C}, Set Point, Value, {fraction * ctrl.free_amplitude_V!r}")
    q(ctrl, f"SetHWParameter, {C}, Tip Control, Unlimit")
    world.clock.advance(0.1)


def test_unlimit_holds_the_setpoint_distance(r9sim, world):
    free = float(q(r9sim, "ReadChannelValue, LIA 1 Amplitude"))
    assert free == pytest.approx(0.1, rel=0.01)
    engage(r9sim, world)
    assert z_nm(r9sim) == pytest.approx(world.tip_z_nm, abs=0.1)
    assert world.tip_distance_nm() == pytest.approx(world.sample.distance_at(0.9), abs=0.05)
    amps = [float(q(r9sim, "ReadChannelValue, LIA 1 Amplitude")) for _ in range(20)]
    assert np.mean(amps) == pytest.approx(0.09, abs=0.001)
    assert float(q(r9sim, "ReadChannelValue, LIA 1 Phase")) > 1.0  # damped fork: phase moved off free
    assert not world.crashed


def test_unlimit_tracks_a_bump(r9sim, world):
    engage(r9sim, world)
    z_flat, surface_flat = z_nm(r9sim), world.surface_nm()
    world.stage_um[0] = world.sample.bump_xy_nm[0] / 1000.0  # the top of the bump under the tip
    world.clock.advance(0.05)
    z_bump, surface_bump = z_nm(r9sim), world.surface_nm()
    assert surface_bump - surface_flat > 9.0
    assert z_bump - z_flat == pytest.approx(surface_bump - surface_flat, abs=0.3)
    assert world.tip_distance_nm() == pytest.approx(world.sample.distance_at(0.9), abs=0.3)


def test_freeze_holds_z_while_the_stage_moves(r9sim, world):
    engage(r9sim, world)
    q(r9sim, f"SetHWParameter, {C}, Tip Control, Freeze")
    z_before, distance_before = z_nm(r9sim), world.tip_distance_nm()
    world.stage_um[0] = world.sample.bump_xy_nm[0] / 1000.0
    world.clock.advance(0.05)
    assert z_nm(r9sim) == pytest.approx(z_before, abs=0.05)
    rise = world.surface_nm() - world.sample.topography_nm(np.array([50_000.0]), np.array([50_000.0]))[0]
    assert world.tip_distance_nm() == pytest.approx(distance_before - rise, abs=0.05)
    assert float(q(r9sim, "ReadChannelValue, LIA 1 Amplitude")) < 0.01  # pressed into the bump


def test_retract_goes_to_the_upper_bound(r9sim, world):
    engage(r9sim, world)
    assert q(r9sim, f"SetHWParameter, {C}, Tip Control, Retract") == "Done"
    world.clock.advance(0.05)
    assert z_nm(r9sim) == pytest.approx(2000.0, abs=0.1)
    assert world.tip_z_nm == pytest.approx(2000.0, abs=0.01)
    assert float(q(r9sim, "ReadChannelValue, LIA 1 Amplitude")) == pytest.approx(0.1, rel=0.01)


def test_setpoint_above_free_amplitude_withdraws(r9sim, world):
    engage(r9sim, world, fraction=1.2)
    assert world.tip_z_nm == pytest.approx(2000.0, abs=0.01)


def test_zero_integral_gain_does_not_move_z(r9sim, world):
    q(r9sim, f"SetHWSubParameter, {C}, Integral Gain, 0")
    engage(r9sim, world)
    assert world.tip_z_nm == pytest.approx(2000.0, abs=0.01)


def test_coarse_steps_move_the_apex_by_one_step(world):
    ctrl = R9Controller(world, coarse_step_nm=50.0)
    q(ctrl, f"SetHWParameter, {C}, Tip Control, Freeze")
    t0 = world.clock.now()
    assert q(ctrl, "StartProcedure, Pan Single Step In") == "DoneDone"
    assert world.clock.now() - t0 > 0.005  # a step takes time
    assert world.tip_z_nm == pytest.approx(1950.0)
    assert z_nm(ctrl) == pytest.approx(2000.0, abs=0.1)
    q(ctrl, "StartProcedure, Pan Single Step Out")
    q(ctrl, "StartProcedure, Pan Single Step Out")
    assert world.tip_z_nm == pytest.approx(2050.0)
    assert q(ctrl, "StopProcedure, Pan Single Step Out") == "Done"


def test_stepping_in_onto_the_substrate_crashes(r9sim, world):
    q(r9sim, f"SetHWParameter, {C}, Tip Control, Freeze")
    q(r9sim, f"SetHWSubParameter, {C}, Z Position, Value, 3e-8")
    assert not world.crashed
    q(r9sim, "StartProcedure, Pan Single Step In")
    assert world.crashed


def test_session_frames_lines_across_chunks(r9sim):
    session = R9Session(r9sim)
    assert session.feed(b"GetHWParameter, Z PI Con") == b""
    reply = session.feed(b"troller 1, Tip Control\nReadChannelValue, z0-src\nStartProcedure, Pan Single")
    assert reply.startswith(b"Retract")
    assert float(reply[len(b"Retract"):]) == pytest.approx(2.0e-6, abs=1e-10)
    assert session.feed(b" Step Out\r\n") == b"DoneDone"
    assert r9sim.coarse_base_nm == 80.0


# ---------------------------------------------------------------------------------------- Z controller
@pytest.fixture
def zc(world, r9sim) -> R9ZController:
    return R9ZController(R9(R9InProcess(r9sim)), Range(0.0, 2000.0, "nm"), sleep=world.clock.advance)


def test_engage_out_of_reach_asks_for_coarse_steps(zc, r9sim, world):
    zc.coarse_step(-1)
    assert r9sim.coarse_base_nm == 80.0 and world.tip_z_nm == pytest.approx(2080.0, abs=0.1)
    with pytest.raises(DeviceError, match="surface not reached.*step the coarse positioner in"):
        zc.engage()
    assert world.tip_z_nm == pytest.approx(80.0, abs=0.1)  # fully extended, still above the surface
    zc.retract()
    zc.coarse_step(1)
    z = zc.engage()
    assert z == pytest.approx(world.tip_z_nm, abs=0.1)
    assert world.tip_distance_nm() == pytest.approx(world.sample.distance_at(0.9), abs=0.05)
    assert not world.crashed


def test_engage_fraction_and_steps_are_checked(zc, r9sim):
    with pytest.raises(LimitError, match="setpoint fraction"):
        zc.engage(1.2)
    with pytest.raises(LimitError, match="coarse steps"):
        zc.coarse_step(1.5)
    assert r9sim.tip_control == "Retract" and r9sim.coarse_base_nm == 0.0


def test_amplitude_is_a_fraction_of_the_measured_free_amplitude(zc, world):
    assert zc.amplitude() == pytest.approx(1.0, abs=0.01)
    zc.engage(0.8)
    assert zc.amplitude() == pytest.approx(0.8, abs=0.01)
    assert world.tip_distance_nm() == pytest.approx(world.sample.distance_at(0.8), abs=0.05)
    settings = zc.settings()
    assert settings["setpoint_V"] == pytest.approx(0.8 * settings["free_amplitude_V"])
    assert settings["z_bounds_m"] == [0.0, 2.0e-6]
    assert settings["channels"] == {"z": "z0-src", "amplitude": "LIA 1 Amplitude", "phase": "LIA 1 Phase"}
    assert zc.state() == "engaged"
    zc.retract()
    assert zc.state() == "retracted"


def test_coarse_steps_only_retracted_and_they_drop_the_z_reference(zc, r9sim, world):
    zc.engage(0.9)
    with pytest.raises(LimitError, match="retracted"):
        zc.coarse_step(1)
    assert not world.crashed
    zc.retract()
    zc.coarse_step(2)  # towards the sample, retracted: the apex now stands 2 steps lower than the Z channel says
    zc.engage(0.9)
    zc.freeze()
    with pytest.raises(LimitError, match="reference"):
        zc.set_z_nm(zc.z_nm() + 5.0)
    # re-reference with the true apex height (the truth here; on the rig: engaging on bare substrate)
    assert not zc.z_referenced
    zc.set_z_reference_nm(world.tip_z_nm)
    assert zc.z_referenced and abs(zc.z_nm() - world.tip_z_nm) < 0.2
    assert zc.contact_z_nm == pytest.approx(zc.z_nm(), abs=0.2)  # the contact point moved with the frame
    zc.set_z_nm(world.tip_z_nm + 5.0)
    assert abs(zc.z_nm() - world.tip_z_nm) < 0.2


def test_engaging_out_of_reach_says_which_bound_pinned_z(zc, world):
    zc.coarse_step(-1)  # the fully extended tip stops 80 nm short of the surface
    with pytest.raises(SurfaceOutOfReach) as caught:
        zc.engage()
    assert caught.value.bound == "lower" and caught.value.z_nm == pytest.approx(zc.z_bounds_nm()[0], abs=0.5)
    assert not world.crashed
