"""8742 driver against the exact bytes of hardware.md section 2: a command is the text + CR, only queries are
answered (one line + CR LF), errors wait in the controller's queue until ``TB?``. The driver writes its own
CR and frames on CR LF, so these pairs are the bytes on the wire."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from tepl.drivers.newport_8742 import TELNET_PREAMBLE, Picomotor8742
from tepl.drivers.newport_8742_positioner import Picomotor8742Positioner
from tepl.roles import SAFE_ORDER, DeviceError, OpenLoopPositioner

IDN = "New_Focus 8742 v2.2 08/01/13 SN12345"
NO_ERROR = "0, NO ERROR DETECTED"


def q(command: str, reply: str) -> tuple[bytes, bytes]:
    return command.encode() + b"\r", reply.encode() + b"\r\n"


def c(command: str) -> tuple[bytes, None]:
    return command.encode() + b"\r", None


def ok(command: str) -> list:
    """A command and the error check after it."""
    return [c(command), q("TB?", NO_ERROR)]


CONNECT = [q("*IDN?", IDN), q("TB?", NO_ERROR)]


class Sleeps:
    def __init__(self):
        self.total_s = 0.0

    def __call__(self, dt_s: float) -> None:
        self.total_s += dt_s


# ---------------------------------------------------------------------------------------- the controller
def test_telnet_preamble_is_read_and_checked_before_the_first_command():
    with expected_protocol(Picomotor8742, [(None, TELNET_PREAMBLE), q("*IDN?", IDN)], telnet=True) as inst:
        assert inst.idn == IDN


def test_a_wrong_telnet_preamble_is_a_device_error():
    with pytest.raises(DeviceError, match="telnet preamble"):
        with expected_protocol(Picomotor8742, [(None, b"\xff\xfb\x01abc")], telnet=True, address="tcp://h:23"):
            pass


def test_queries_and_their_replies():
    pairs = [q("1TP?", "-1234"), q("2MD?", "0"), q("2MD?", "1"), q("3VA?", "2000"), q("3AC?", "100000"),
             q("4QM?", "3"), q("1PR?", "100"), q("VE?", "8742 Version 2.2 08/01/13")]
    with expected_protocol(Picomotor8742, pairs) as inst:
        assert inst.position(1) == -1234
        assert inst.motion_done(2) is False
        assert inst.motion_done(2) is True
        assert inst.velocity(3) == 2000
        assert inst.acceleration(3) == 100000
        assert inst.motor_type(4) == "standard"
        assert inst.target(1) == 100
        assert inst.firmware == "8742 Version 2.2 08/01/13"


def test_commands_are_followed_by_the_error_check():
    pairs = (ok("1PR100") + ok("2PR-50") + ok("3VA1000") + ok("3AC5000") + ok("1ST") + ok("ST") + ok("AB")
             + ok("4DH0"))
    with expected_protocol(Picomotor8742, pairs) as inst:
        inst.move_relative(1, 100)
        inst.move_relative(2, -50)
        inst.set_velocity(3, 1000)
        inst.set_acceleration(3, 5000)
        inst.stop(1)
        inst.stop()
        inst.abort()
        inst.define_home(4)


def test_the_daisy_chain_prefix_is_sent_and_checked():
    pairs = [q("2>1TP?", "2>17"), c("2>1PR5"), q("2>TB?", "2>" + NO_ERROR), q("2>1MD?", "3>1")]
    with expected_protocol(Picomotor8742, pairs, controller_address=2) as inst:
        assert inst.position(1) == 17
        inst.move_relative(1, 5)
        with pytest.raises(DeviceError, match="does not start with '2>'"):
            inst.motion_done(1)


@pytest.mark.parametrize(("call", "args"), [("move_relative", (5, 1)), ("move_relative", (0, 1)),
                                            ("move_relative", (1, 1.5)), ("set_velocity", (1, 2001)),
                                            ("set_velocity", (1, 0)), ("set_acceleration", (1, 200001)),
                                            ("position", (True,))])
def test_bad_arguments_are_refused_before_sending(call, args):
    with expected_protocol(Picomotor8742, []) as inst:
        with pytest.raises(ValueError):
            getattr(inst, call)(*args)


def test_commands_with_line_breaks_or_separators_are_refused():
    with expected_protocol(Picomotor8742, []) as inst:
        for bad in ("1PR1\r", "1PR1;2PR1", "", "1PR\u00e9", "1PR" + "1" * 70):
            with pytest.raises(ValueError, match="single ASCII command"):
                inst.write(bad)


# ---------------------------------------------------------------------------------------- errors
def test_a_queued_error_raises_naming_controller_address_and_command():
    pairs = [c("1PR100"), q("TB?", "114, MOTION IN PROGRESS"), q("TB?", NO_ERROR)]
    with expected_protocol(Picomotor8742, pairs, address="TCPIP::192.168.0.254::23::SOCKET") as inst:
        with pytest.raises(DeviceError) as info:
            inst.move_relative(1, 100)
    text = str(info.value)
    assert "New Focus 8742" in text and "TCPIP::192.168.0.254::23::SOCKET" in text
    assert "'1PR100'" in text and "114, MOTION IN PROGRESS" in text


def test_check_errors_drains_the_queue_oldest_first():
    pairs = [q("TB?", "6, COMMAND DOES NOT EXIST"), q("TB?", "108, MOTOR NOT CONNECTED"), q("TB?", NO_ERROR)]
    with expected_protocol(Picomotor8742, pairs) as inst:
        assert inst.check_errors() == [(6, "COMMAND DOES NOT EXIST"), (108, "MOTOR NOT CONNECTED")]


def test_malformed_replies_are_device_errors():
    pairs = [q("1TP?", "abc"), q("TB?", "no comma"), q("1MD?", "2"), (b"1TP?\r", b"12\r")]
    with expected_protocol(Picomotor8742, pairs) as inst:
        with pytest.raises(DeviceError, match="whole number"):
            inst.position(1)
        with pytest.raises(DeviceError, match="'code, MESSAGE'"):
            inst.next_error()
        with pytest.raises(DeviceError, match="0 or 1"):
            inst.motion_done(1)
        with pytest.raises(DeviceError, match="no complete reply to '1TP\\?'"):
            inst.position(1)


# ---------------------------------------------------------------------------------------- the positioner role
def positioner(inst, **kwargs) -> Picomotor8742Positioner:
    kwargs.setdefault("sleep", Sleeps())
    return Picomotor8742Positioner(inst, {"x": 1, "y": 2}, max_steps_per_move=500, **kwargs)


def test_role_connects_reading_identity_and_emptying_the_error_queue():
    pairs = [q("*IDN?", IDN), q("TB?", "108, MOTOR NOT CONNECTED"), q("TB?", NO_ERROR)]
    with expected_protocol(Picomotor8742, pairs) as inst:
        role = positioner(inst)
        assert isinstance(role, OpenLoopPositioner)
        assert role.safe_group == "motion" and role.safe_rank == SAFE_ORDER["motion"]
        assert role.axes == ("x", "y")


def test_role_refuses_a_controller_that_is_not_an_8742():
    with expected_protocol(Picomotor8742, [q("*IDN?", "New_Focus 8752 v1.0")]) as inst:
        with pytest.raises(DeviceError, match="not a New_Focus 8742"):
            positioner(inst)


def test_move_steps_sends_pr_on_the_mapped_axis_and_wait_polls_md():
    pairs = CONNECT + ok("2PR-300") + [q("1MD?", "1"), q("2MD?", "0"), q("1MD?", "1"), q("2MD?", "1"),
                                      q("2TP?", "-300")]
    with expected_protocol(Picomotor8742, pairs) as inst:
        sleeps = Sleeps()
        role = positioner(inst, sleep=sleeps, poll_interval_s=0.01)
        role.move_steps("y", -300)
        role.wait(timeout_s=1.0)
        assert sleeps.total_s == pytest.approx(0.01)
        assert role.steps_counter("y") == -300


@pytest.mark.parametrize(("axis", "steps", "match"), [("x", 501, "max_steps_per_move"), ("x", -501, "max_steps"),
                                                      ("w", 1, "unknown axis"), ("x", 1.0, "whole number"),
                                                      ("x", True, "whole number")])
def test_move_steps_is_refused_before_anything_is_sent(axis, steps, match):
    with expected_protocol(Picomotor8742, CONNECT) as inst:
        role = positioner(inst)
        with pytest.raises(ValueError, match=match):
            role.move_steps(axis, steps)


def test_make_safe_stops_every_axis_and_waits_and_is_idempotent():
    pairs = (CONNECT + ok("1ST") + ok("2ST") + [q("1MD?", "0"), q("1MD?", "1"), q("2MD?", "1")]
             + ok("1ST") + ok("2ST") + [q("1MD?", "1"), q("2MD?", "1")])
    with expected_protocol(Picomotor8742, pairs) as inst:
        role = positioner(inst)
        assert role.make_safe() == "stopped"
        assert role.make_safe() == "stopped"


def test_a_wait_that_runs_out_stops_the_axes_and_names_the_controller():
    pairs = CONNECT + [q("1MD?", "0")] * 6 + ok("1ST") + ok("2ST")
    with expected_protocol(Picomotor8742, pairs, address="ASRL3::INSTR") as inst:
        role = positioner(inst, poll_interval_s=0.01)
        with pytest.raises(DeviceError, match="New Focus 8742 at ASRL3::INSTR: axes still moving"):
            role.wait(timeout_s=0.05)


def test_status_and_settings():
    pairs = CONNECT + [q("1TP?", "10"), q("2TP?", "-4"), q("1MD?", "1"), q("2MD?", "1"),
                       q("1VA?", "2000"), q("1AC?", "100000"), q("1QM?", "3"),
                       q("2VA?", "1750"), q("2AC?", "100000"), q("2QM?", "2")]
    with expected_protocol(Picomotor8742, pairs, address="sim") as inst:
        role = positioner(inst)
        assert role.status("picomotors") == {"picomotors_steps": {"x": 10, "y": -4}, "picomotors_moving": False}
        assert role.status_keys("picomotors") == ("picomotors_steps", "picomotors_moving")
        assert role.settings() == {
            "axes": {"x": 1, "y": 2}, "max_steps_per_move": 500, "id": IDN, "address": "sim",
            "axes_detail": {"x": {"axis": 1, "velocity_steps_per_s": 2000, "acceleration_steps_per_s2": 100000,
                                  "motor": "standard"},
                            "y": {"axis": 2, "velocity_steps_per_s": 1750, "acceleration_steps_per_s2": 100000,
                                  "motor": "tiny"}}}


def test_bad_role_settings_are_refused():
    with expected_protocol(Picomotor8742, []) as inst:
        with pytest.raises(ValueError, match="the 8742 has axes"):
            Picomotor8742Positioner(inst, {"x": 5}, max_steps_per_move=10)
        with pytest.raises(ValueError, match="max_steps_per_move"):
            Picomotor8742Positioner(inst, {"x": 1}, max_steps_per_move=0)
        with pytest.raises(ValueError, match="share a controller axis"):
            Picomotor8742Positioner(inst, {"x": 1, "y": 1}, max_steps_per_move=10)
